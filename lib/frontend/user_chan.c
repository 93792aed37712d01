// SPDX-License-Identifier: BSD-3-Clause
/*
 * vhost-user back-end channel (SET_BACKEND_REQ_FD, vhost-user.rst "Back-end communication"):
 * the back-end asks, the front-end answers. IOTLB misses are translated by the caller's
 * callback and answered with an IOTLB update on the main channel; config changes call the
 * caller back. A request with NEED_REPLY gets a REPLY_ACK u64 (0: done).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vhost/proto.h>
#include <vhost/sock.h>

#include "frontend/dev_internal.h"
#include "frontend/user.h"

#define VH_CHAN_REQ "VHOST_USER_SET_BACKEND_REQ_FD"

int vh_user_chan_open(struct vh_dev *dev)
{
	struct vh_msg m;
	int sv[2], err;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		err = -errno;
		vh_dev_err(dev, VH_CHAN_REQ, err, "socketpair");
		return err;
	}
	vh_msg_init(&m, VH_USER_SET_BACKEND_REQ_FD, 0, 0);
	m.fds[0] = sv[1];
	m.nfds = 1;
	err = vh_user_exchange(dev, &m, NULL);
	close(sv[1]); /* the back-end has its own copy now */
	if (err < 0) {
		close(sv[0]);
		return err;
	}
	dev->chan_fd = sv[0];
	return 0;
}

static int vh_chan_iotlb(struct vh_dev *dev, const struct vhost_iotlb_msg *miss)
{
	if (miss->type != VHOST_IOTLB_MISS) {
		vh_dev_err(dev, "VHOST_USER_BACKEND_IOTLB_MSG", -EINVAL, "type %u is not a miss",
			   miss->type);
		return -EINVAL;
	}
	return vh_dev_iotlb_update(dev, "VHOST_USER_BACKEND_IOTLB_MSG", miss->iova, miss->perm);
}

/* INBAND_NOTIFICATIONS: the back-end's call / error, forwarded to the ring's eventfd. */
static int vh_chan_inband(struct vh_dev *dev, const struct vh_msg *m)
{
	const char *req = vh_proto_backend_request_name(m->hdr.request);
	unsigned idx = m->payload.state.index;

	if (!(dev->protocol_features & (1ull << VH_USER_PROTOCOL_F_INBAND_NOTIFICATIONS))) {
		vh_dev_err(dev, req, -EPROTO, "INBAND_NOTIFICATIONS not negotiated");
		return -EPROTO;
	}
	if (vh_dev_ring_signal(dev, idx, m->hdr.request == VH_USER_BACKEND_VRING_ERR) < 0) {
		vh_dev_err(dev, req, -EINVAL, "ring %u not set up", idx);
		return -EINVAL;
	}
	return 0;
}

static int vh_chan_handle(struct vh_dev *dev, struct vh_msg *m)
{
	switch (m->hdr.request) {
	case VH_USER_BACKEND_IOTLB_MSG:
		return vh_chan_iotlb(dev, &m->payload.iotlb);
	case VH_USER_BACKEND_CONFIG_CHANGE_MSG:
		if (dev->cfg.config_changed)
			dev->cfg.config_changed(dev->cfg.opaque);
		return 0;
	case VH_USER_BACKEND_VRING_CALL:
	case VH_USER_BACKEND_VRING_ERR:
		return vh_chan_inband(dev, m);
	case VH_USER_BACKEND_SHMEM_MAP:
	case VH_USER_BACKEND_SHMEM_UNMAP:
		return vh_user_chan_shmem(dev, m);
	case VH_USER_BACKEND_VRING_HOST_NOTIFIER_MSG:
		return vh_user_chan_host_notifier(dev, m);
	default:
		return -EOPNOTSUPP;
	}
}

static int vh_chan_reply(struct vh_dev *dev, const struct vh_msg *m, int result)
{
	struct vh_msg r;
	int err;

	vh_msg_init(&r, m->hdr.request, VH_USER_FLAG_REPLY, sizeof(uint64_t));
	r.payload.u64 = result < 0 ? (uint64_t)-result : 0;
	err = vh_sock_send(dev->chan_fd, &r);
	if (err < 0)
		vh_dev_err(dev, vh_proto_backend_request_name(m->hdr.request), err, "send reply");
	return err;
}

/* Handle one back-end request; 0, -EAGAIN when none is pending, or a sticky error. */
static int vh_chan_one(struct vh_dev *dev)
{
	struct pollfd pfd = { .fd = dev->chan_fd, .events = POLLIN };
	struct vh_msg m;
	const char *req;
	int err, res;

	/*
	 * Nothing pending: -EAGAIN at once. Something pending: the rest of the message within the
	 * device's timeout, not VH_SOCK_MSG_TIMEOUT_MS, so a back-end that stops mid-message holds
	 * the caller's loop no longer than any other request does.
	 */
	if (poll(&pfd, 1, 0) == 0)
		return -EAGAIN;
	err = vh_sock_recv(dev->chan_fd, &m, dev->timeout_ms);
	if (err == -EMSGSIZE)
		err = -EPROTO;
	req = err < 0 ? "backend channel" : vh_proto_backend_request_name(m.hdr.request);
	if (err < 0) {
		vh_dev_err(dev, req, err, "receive");
		return vh_dev_set_broken(dev, err);
	}
	err = vh_proto_validate(true, &m.hdr, &m.payload, m.hdr.size, m.nfds);
	if (err < 0 && err != -EOPNOTSUPP) {
		vh_dev_err(dev, req, -EPROTO,
			   "invalid message (flags 0x%" PRIx32 " size %" PRIu32 ", %u fds)",
			   m.hdr.flags, m.hdr.size, m.nfds);
		vh_msg_close_fds(&m);
		return vh_dev_set_broken(dev, -EPROTO);
	}
	res = err < 0 ? err : vh_chan_handle(dev, &m);
	if (res == -EOPNOTSUPP)
		vh_dev_err(dev, req, res, "request %" PRIu32 " not handled", m.hdr.request);
	vh_msg_close_fds(&m);
	if (m.hdr.flags & VH_USER_FLAG_NEED_REPLY) {
		err = vh_chan_reply(dev, &m, res);
		if (err < 0)
			return vh_dev_set_broken(dev, err);
	}
	/* A failure of the main channel while answering is sticky; others were answered. */
	return dev->broken;
}

int vh_user_dispatch(struct vh_dev *dev)
{
	int err, n = 0;

	if (dev->chan_fd < 0)
		return 0;
	/* Bounded: a back-end that floods the channel cannot keep the caller here forever. */
	for (; n < 64; n++) {
		err = vh_chan_one(dev);
		if (err == -EAGAIN)
			break;
		if (err < 0)
			return err;
	}
	return n;
}
