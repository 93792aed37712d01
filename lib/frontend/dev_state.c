// SPDX-License-Identifier: BSD-3-Clause
/*
 * vh_dev: the backend's device state for migration (vhost-user DEVICE_STATE, vhost-user.rst
 * "Migrating back-end state"). The state travels over a pipe we create (or the backend's own
 * channel when its reply carries one) between the backend and the caller's fd: SAVE reads the
 * pipe to its EOF, LOAD writes it and closes it; CHECK_DEVICE_STATE then asks whether the
 * backend processed it. Each wait is bounded by the device timeout, and a backend that closes
 * its end early cannot SIGPIPE the caller.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include "frontend/dev_internal.h"

#define VH_DEV_STATE_CHUNK 16384

static const char vh_state_req[] = "VHOST_USER_SET_DEVICE_STATE_FD";

/* Wait until @fd is ready for @events (a stalled peer gets the device timeout). */
static int state_wait(struct vh_dev *dev, int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n;

	do
		n = poll(&p, 1, dev->timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == 0 ? -ETIMEDOUT : 0;
}

static int state_write_all(struct vh_dev *dev, int fd, const char *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;
	int err;

	while (off < len) {
		err = state_wait(dev, fd, POLLOUT);
		if (err < 0)
			return err;
		n = vh_write_nosigpipe(fd, buf + off, len - off);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	return 0;
}

/* Copy @from into @to until @from's EOF; @what names the failing side in the log line. */
static int state_copy(struct vh_dev *dev, int from, int to, const char *what)
{
	char buf[VH_DEV_STATE_CHUNK];
	uint64_t total = 0;
	ssize_t n;
	int err;

	for (;;) {
		err = state_wait(dev, from, POLLIN);
		if (err < 0)
			break;
		n = read(from, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : 0;
			break;
		}
		/* A backend that never stops sending must not fill the caller's disk. */
		total += (uint64_t)n;
		if (total > VH_DEV_MAX_DEVICE_STATE) {
			err = -EFBIG;
			break;
		}
		err = state_write_all(dev, to, buf, (size_t)n);
		if (err < 0)
			break;
	}
	if (err < 0)
		vh_dev_err(dev, vh_state_req, err, "%s", what);
	return err;
}

static int state_precheck(struct vh_dev *dev, int fd)
{
	int err;

	if (!dev || fd < 0)
		return -EINVAL;
	err = vh_dev_usable(dev);
	if (err < 0)
		return err;
	if (!dev->ops->set_device_state_fd || !dev->ops->check_device_state)
		return -EOPNOTSUPP;
	if (!(dev->protocol_features & (1ull << VH_USER_PROTOCOL_F_DEVICE_STATE)))
		return -EOPNOTSUPP;
	/* vhost-user.rst: the only phase is "stopped": no ring may run. */
	return dev->started ? -EBUSY : 0;
}

/*
 * Open the channel: the backend gets one end of a new pipe (@give: 1 the write end, for SAVE;
 * 0 the read end, for LOAD); the end we keep, or the backend's own fd, goes to *@chan.
 */
static int state_open(struct vh_dev *dev, uint32_t direction, int give, int *chan)
{
	int p[2], bfd, err, fl;

	if (pipe2(p, O_CLOEXEC) < 0) {
		err = -errno;
		vh_dev_err(dev, vh_state_req, err, "pipe");
		return err;
	}
	err = dev->ops->set_device_state_fd(dev, direction, p[give], &bfd);
	close(p[give]);
	if (err < 0 || bfd >= 0)
		close(p[!give]);
	if (err < 0)
		return err;
	*chan = bfd >= 0 ? bfd : p[!give];
	/* Non-blocking: a backend that stops reading mid-way cannot hold us past the timeout. */
	fl = fcntl(*chan, F_GETFL);
	if (fl < 0 || fcntl(*chan, F_SETFL, fl | O_NONBLOCK) < 0) {
		err = -errno;
		close(*chan);
		vh_dev_err(dev, vh_state_req, err, "channel flags");
	}
	return err;
}

/* The channel is closed (EOF for the backend when loading): ask how it went. */
static int state_finish(struct vh_dev *dev, int chan, int err)
{
	int check;

	close(chan);
	/* Asked also after a failed copy: the backend ends its side of the transfer either way. */
	check = vh_dev_usable(dev) == 0 ? dev->ops->check_device_state(dev) : vh_dev_usable(dev);
	return err < 0 ? err : check;
}

/* One transfer: open the channel, move the bytes between it and @fd, close it, check. */
static int state_run(struct vh_dev *dev, int fd, bool load)
{
	int chan = -1, err = state_precheck(dev, fd);

	if (err < 0)
		return err;
	err = state_open(dev,
			 load ? VH_USER_TRANSFER_STATE_DIRECTION_LOAD
			      : VH_USER_TRANSFER_STATE_DIRECTION_SAVE,
			 load ? 0 : 1, &chan);
	if (err < 0)
		return err;
	if (load)
		err = state_copy(dev, fd, chan, "load: caller fd -> backend");
	else
		err = state_copy(dev, chan, fd, "save: backend -> caller fd");
	return state_finish(dev, chan, err);
}

int vh_dev_state_save(struct vh_dev *dev, int fd)
{
	return state_run(dev, fd, false);
}

int vh_dev_state_load(struct vh_dev *dev, int fd)
{
	return state_run(dev, fd, true);
}

int vh_dev_state_transfer(struct vh_dev *src, struct vh_dev *dst)
{
	int fd, err;

	if (!src || !dst || src == dst)
		return -EINVAL;
	fd = memfd_create("vhost-device-state", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = vh_dev_state_save(src, fd);
	if (err == 0 && lseek(fd, 0, SEEK_SET) < 0)
		err = -errno;
	if (err == 0)
		err = vh_dev_state_load(dst, fd);
	close(fd);
	return err;
}
