// SPDX-License-Identifier: BSD-3-Clause
/*
 * vhost-user transport: the DEVICE_STATE requests (vhost-user.rst "Migrating back-end state",
 * SET_DEVICE_STATE_FD and CHECK_DEVICE_STATE). The bytes themselves go over the pipe; see
 * dev_state.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <unistd.h>

#include <vhost/proto.h>
#include <vhost/sock.h>

#include "frontend/dev_internal.h"
#include "frontend/user.h"

static int vu_state_negotiated(struct vh_dev *dev)
{
	if (!(dev->protocol_features & (1ull << VH_USER_PROTOCOL_F_DEVICE_STATE)))
		return -EOPNOTSUPP;
	return 0;
}

int vh_user_set_device_state_fd(struct vh_dev *dev, uint32_t direction, int fd, int *backend_fd)
{
	const char *req = "VHOST_USER_SET_DEVICE_STATE_FD";
	struct vh_msg m, r;
	uint64_t code;
	int err = vu_state_negotiated(dev);

	*backend_fd = -1;
	if (err < 0)
		return err;
	vh_msg_init(&m, VH_USER_SET_DEVICE_STATE_FD, 0, sizeof(struct vh_user_device_state));
	m.payload.device_state.direction = direction;
	m.payload.device_state.phase = VH_USER_TRANSFER_STATE_PHASE_STOPPED;
	m.fds[0] = fd;
	m.nfds = 1;
	err = vh_user_exchange(dev, &m, &r);
	if (err < 0)
		return err;
	/* The validator matched bit 8 with the fd count; the error byte is ours to check. */
	code = r.payload.u64 & VH_USER_DEVICE_STATE_REPLY_ERR_MASK;
	if (code && r.nfds) {
		vh_msg_close_fds(&r);
		vh_dev_err(dev, req, -EPROTO, "backend returned an fd with error %" PRIu64, code);
		return vh_dev_set_broken(dev, -EPROTO);
	}
	if (code) {
		vh_dev_err(dev, req, -EIO, "backend refused the transfer (error %" PRIu64 ")",
			   code);
		return -EIO;
	}
	if (r.nfds) {
		*backend_fd = r.fds[0];
		r.fds[0] = -1;
	}
	return 0;
}

int vh_user_check_device_state(struct vh_dev *dev)
{
	struct vh_msg m, r;
	int err = vu_state_negotiated(dev);

	if (err < 0)
		return err;
	vh_msg_init(&m, VH_USER_CHECK_DEVICE_STATE, 0, 0);
	err = vh_user_exchange(dev, &m, &r);
	if (err < 0)
		return err;
	if (r.payload.u64) {
		vh_dev_err(dev, "VHOST_USER_CHECK_DEVICE_STATE", -EIO,
			   "backend failed the state transfer (result %" PRIu64 ")", r.payload.u64);
		return -EIO;
	}
	return 0;
}
