// SPDX-License-Identifier: BSD-3-Clause
/*
 * The ioctl implementation shared by the vhost-kernel (/dev/vhost-net, -vsock, -scsi) and
 * vhost-vdpa (/dev/vhost-vdpa-N) transports: <linux/vhost.h> requests on the device fd, and
 * IOTLB messages read from and written to the same fd (struct vhost_msg_v2 once
 * VHOST_BACKEND_F_IOTLB_MSG_V2 is negotiated, else struct vhost_msg).
 *
 * The kernel checks ownership first: VHOST_SET_OWNER binds the device to this process's mm and
 * every other generic request fails with EPERM before it. Ring addresses, the memory table and
 * the log base are this process's virtual addresses (vhost-kernel) or IOVAs (vhost-vdpa).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/dev_internal.h"
#include "frontend/ioctl.h"

/* ---- the real system calls ---------------------------------------------------------------- */

static int sys_open(void *ctx, const char *path, int flags)
{
	int fd = open(path, flags);

	(void)ctx;
	return fd < 0 ? -errno : fd;
}

static int sys_close(void *ctx, int fd)
{
	(void)ctx;
	return close(fd) < 0 ? -errno : 0;
}

static int sys_ioctl(void *ctx, int fd, unsigned long request, void *arg)
{
	int r;

	(void)ctx;
	do {
		r = ioctl(fd, request, arg);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

static ssize_t sys_read(void *ctx, int fd, void *buf, size_t len)
{
	ssize_t n;

	(void)ctx;
	do {
		n = read(fd, buf, len);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

static ssize_t sys_write(void *ctx, int fd, const void *buf, size_t len)
{
	ssize_t n;

	(void)ctx;
	do {
		n = write(fd, buf, len);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

const struct vh_ioctl_sys vh_ioctl_sys_default = {
	.open = sys_open,
	.close = sys_close,
	.ioctl = sys_ioctl,
	.read = sys_read,
	.write = sys_write,
};

static const struct vh_ioctl_sys *vh_sys(const struct vh_dev *dev)
{
	return dev->sys ? dev->sys : &vh_ioctl_sys_default;
}

/* ---- helpers ------------------------------------------------------------------------------ */

int vh_ioctl_try(struct vh_dev *dev, unsigned long request, void *arg)
{
	const struct vh_ioctl_sys *sys = vh_sys(dev);
	int err = vh_dev_usable(dev);

	if (err < 0)
		return err;
	err = sys->ioctl(sys->ctx, dev->fd, request, arg);
	return err < 0 ? err : 0;
}

int vh_ioctl_call(struct vh_dev *dev, unsigned long request, const char *name, void *arg)
{
	int err = vh_ioctl_try(dev, request, arg);

	if (err < 0)
		vh_dev_err(dev, name, err, "ioctl failed");
	return err;
}

bool vh_ioctl_has_backend(const struct vh_dev *dev, unsigned bit)
{
	return dev->ioctl && (dev->ioctl->backend_acked & (1ull << bit));
}

int vh_ioctl_open(struct vh_dev *dev, enum vh_ioctl_kind kind)
{
	const struct vh_ioctl_sys *sys = vh_sys(dev);
	int fd;

	dev->ioctl = calloc(1, sizeof(*dev->ioctl));
	if (!dev->ioctl)
		return -ENOMEM;
	dev->ioctl->kind = kind;
	dev->ioctl->config_fd = -1;
	/* Non-blocking: vh_dev_dispatch reads IOTLB misses and must never wait for one. */
	fd = sys->open(sys->ctx, dev->path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		vh_dev_err(dev, "open", fd, "%s", dev->path);
		free(dev->ioctl);
		dev->ioctl = NULL;
		return fd;
	}
	dev->fd = fd;
	dev->protocol_features = 0;
	return 0;
}

void vh_ioctl_close(struct vh_dev *dev)
{
	const struct vh_ioctl_sys *sys = vh_sys(dev);

	/* Closing the fd makes the kernel stop every ring and drop the device's mappings. */
	if (dev->fd >= 0)
		sys->close(sys->ctx, dev->fd);
	dev->fd = -1;
	if (dev->ioctl && dev->ioctl->config_fd >= 0)
		close(dev->ioctl->config_fd);
	free(dev->ioctl);
	dev->ioctl = NULL;
}

/*
 * VHOST_SET_OWNER, then the backend features: only what this library implements is acked
 * (VH_IOCTL_BACKEND_WANTED: the v2 message format, batching, vdpa suspend and ASIDs). vhost-scsi has no
 * backend features ioctl (ENOTTY): it keeps the v1 message format.
 */
int vh_ioctl_set_owner(struct vh_dev *dev)
{
	struct vh_ioctl *io = dev->ioctl;
	uint64_t offered = 0, acked;
	int err;

	err = VH_IOCTL(dev, VHOST_SET_OWNER, NULL);
	if (err < 0)
		return err;
	err = vh_ioctl_try(dev, VHOST_GET_BACKEND_FEATURES, &offered);
	if (err == -ENOTTY || err == -EOPNOTSUPP) {
		offered = 0;
	} else if (err < 0) {
		vh_dev_err(dev, "VHOST_GET_BACKEND_FEATURES", err, "ioctl failed");
		return err;
	}
	io->backend_offered = offered;
	io->backend_acked = 0;
	acked = offered & (io->kind == VH_IOCTL_VDPA ? VH_IOCTL_BACKEND_WANTED_VDPA
						     : VH_IOCTL_BACKEND_WANTED);
	if (!acked)
		return 0;
	err = VH_IOCTL(dev, VHOST_SET_BACKEND_FEATURES, &acked);
	if (err < 0)
		return err;
	io->backend_acked = acked;
	return 0;
}

/* ---- generic operations ------------------------------------------------------------------- */

int vh_ioctl_get_features(struct vh_dev *dev, uint64_t *features)
{
	return VH_IOCTL(dev, VHOST_GET_FEATURES, features);
}

int vh_ioctl_set_features(struct vh_dev *dev, uint64_t features)
{
	return VH_IOCTL(dev, VHOST_SET_FEATURES, &features);
}

/* The kernel takes the argument structs by pointer and does not write the SET ones. */
int vh_ioctl_set_vring_num(struct vh_dev *dev, const struct vhost_vring_state *s)
{
	struct vhost_vring_state a = *s;

	return VH_IOCTL(dev, VHOST_SET_VRING_NUM, &a);
}

int vh_ioctl_set_vring_base(struct vh_dev *dev, const struct vhost_vring_state *s)
{
	struct vhost_vring_state a = *s;

	return VH_IOCTL(dev, VHOST_SET_VRING_BASE, &a);
}

int vh_ioctl_get_vring_base(struct vh_dev *dev, struct vhost_vring_state *s)
{
	return VH_IOCTL(dev, VHOST_GET_VRING_BASE, s);
}

int vh_ioctl_set_vring_addr(struct vh_dev *dev, const struct vhost_vring_addr *a)
{
	struct vhost_vring_addr c = *a;

	return VH_IOCTL(dev, VHOST_SET_VRING_ADDR, &c);
}

int vh_ioctl_set_vring_kick(struct vh_dev *dev, const struct vhost_vring_file *f)
{
	struct vhost_vring_file c = *f;

	return VH_IOCTL(dev, VHOST_SET_VRING_KICK, &c);
}

int vh_ioctl_set_vring_call(struct vh_dev *dev, const struct vhost_vring_file *f)
{
	struct vhost_vring_file c = *f;

	return VH_IOCTL(dev, VHOST_SET_VRING_CALL, &c);
}

int vh_ioctl_set_vring_err(struct vh_dev *dev, const struct vhost_vring_file *f)
{
	struct vhost_vring_file c = *f;

	return VH_IOCTL(dev, VHOST_SET_VRING_ERR, &c);
}

/* Kernels without busy polling (or a device that refuses it) answer ENOTTY/EOPNOTSUPP. */
int vh_ioctl_set_busyloop_timeout(struct vh_dev *dev, const struct vhost_vring_state *s)
{
	struct vhost_vring_state a = *s;
	int err = vh_ioctl_try(dev, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &a);

	if (err == -ENOTTY || err == -EOPNOTSUPP)
		return -EOPNOTSUPP;
	if (err < 0)
		vh_dev_err(dev, "VHOST_SET_VRING_BUSYLOOP_TIMEOUT", err, "ring %u", s->index);
	return err;
}

int vh_ioctl_get_busyloop_timeout(struct vh_dev *dev, struct vhost_vring_state *s)
{
	int err = vh_ioctl_try(dev, VHOST_GET_VRING_BUSYLOOP_TIMEOUT, s);

	if (err == -ENOTTY || err == -EOPNOTSUPP)
		return -EOPNOTSUPP;
	if (err < 0)
		vh_dev_err(dev, "VHOST_GET_VRING_BUSYLOOP_TIMEOUT", err, "ring %u", s->index);
	return err;
}

/* ---- IOTLB messages on the device fd ------------------------------------------------------ */

union vh_ioctl_msg {
	struct vhost_msg v1;
	struct vhost_msg_v2 v2;
};

/* The format the kernel uses follows the acked backend features (per ring in the kernel). */
/* Field by field into zeroed memory: the padding the kernel sees is 0, not our stack. */
static void vh_ioctl_msg_copy(struct vhost_iotlb_msg *d, const struct vhost_iotlb_msg *m)
{
	d->iova = m->iova;
	d->size = m->size;
	d->uaddr = m->uaddr;
	d->perm = m->perm;
	d->type = m->type;
}

static size_t vh_ioctl_msg_pack(const struct vh_dev *dev, union vh_ioctl_msg *u, uint32_t asid,
				const struct vhost_iotlb_msg *m)
{
	memset(u, 0, sizeof(*u));
	if (vh_ioctl_has_backend(dev, VHOST_BACKEND_F_IOTLB_MSG_V2)) {
		u->v2.type = VHOST_IOTLB_MSG_V2;
		u->v2.asid = asid;
		vh_ioctl_msg_copy(&u->v2.iotlb, m);
		return sizeof(u->v2);
	}
	u->v1.type = VHOST_IOTLB_MSG;
	vh_ioctl_msg_copy(&u->v1.iotlb, m);
	return sizeof(u->v1);
}

int vh_ioctl_send_iotlb_msg(struct vh_dev *dev, const struct vhost_iotlb_msg *m)
{
	return vh_ioctl_send_iotlb_asid(dev, 0, m);
}

int vh_ioctl_send_iotlb_asid(struct vh_dev *dev, uint32_t asid, const struct vhost_iotlb_msg *m)
{
	const struct vh_ioctl_sys *sys = vh_sys(dev);
	union vh_ioctl_msg u;
	size_t len = vh_ioctl_msg_pack(dev, &u, asid, m);
	ssize_t n;
	int err = vh_dev_usable(dev);

	if (err < 0)
		return err;
	n = sys->write(sys->ctx, dev->fd, &u, len);
	if (n >= 0 && (size_t)n != len)
		n = -EIO; /* the kernel consumes a whole message or fails it */
	if (n < 0) {
		vh_dev_err(dev, "VHOST_IOTLB_MSG", (int)n,
			   "type %u asid %u iova 0x%" PRIx64 " size 0x%" PRIx64, m->type, asid,
			   (uint64_t)m->iova, (uint64_t)m->size);
		return (int)n;
	}
	return 0;
}

int vh_ioctl_parse_msg(const void *buf, size_t len, bool v2, struct vhost_iotlb_msg *out)
{
	union vh_ioctl_msg u;
	size_t want = v2 ? sizeof(u.v2) : sizeof(u.v1);

	if (!buf || len != want)
		return -EPROTO;
	memcpy(&u, buf, want);
	if (v2 ? u.v2.type != VHOST_IOTLB_MSG_V2 : u.v1.type != VHOST_IOTLB_MSG)
		return -EPROTO;
	*out = v2 ? u.v2.iotlb : u.v1.iotlb;
	return 0;
}

/* One message from the device fd: 0, -EAGAIN when none is pending, -EPROTO, -errno. */
static int vh_ioctl_read_msg(struct vh_dev *dev, struct vhost_iotlb_msg *out)
{
	const struct vh_ioctl_sys *sys = vh_sys(dev);
	bool v2 = vh_ioctl_has_backend(dev, VHOST_BACKEND_F_IOTLB_MSG_V2);
	size_t want = v2 ? sizeof(struct vhost_msg_v2) : sizeof(struct vhost_msg);
	union vh_ioctl_msg u;
	ssize_t n;

	memset(&u, 0, sizeof(u));
	n = sys->read(sys->ctx, dev->fd, &u, want);
	if (n == -EAGAIN || n == -EWOULDBLOCK)
		return -EAGAIN;
	if (n < 0) {
		vh_dev_err(dev, "VHOST_IOTLB_MSG", (int)n, "read");
		return (int)n;
	}
	if (vh_ioctl_parse_msg(&u, (size_t)n, v2, out) < 0) {
		if ((size_t)n != want)
			vh_dev_err(dev, "VHOST_IOTLB_MSG", -EPROTO,
				   "short message (%zd of %zu bytes)", n, want);
		else
			vh_dev_err(dev, "VHOST_IOTLB_MSG", -EPROTO, "message type %u",
				   v2 ? u.v2.type : (unsigned)u.v1.type);
		return vh_dev_set_broken(dev, -EPROTO);
	}
	return 0;
}

/* A ring touched an IOVA the kernel's IOTLB does not hold: translate it and send the update. */
static int vh_ioctl_answer_miss(struct vh_dev *dev, const struct vhost_iotlb_msg *miss)
{
	return vh_dev_iotlb_update(dev, "VHOST_IOTLB_MISS", miss->iova, miss->perm);
}

int vh_ioctl_dispatch(struct vh_dev *dev)
{
	struct vhost_iotlb_msg m = { 0 };
	int err, first = 0, handled = 0;

	for (;;) {
		err = vh_ioctl_read_msg(dev, &m);
		if (err == -EAGAIN)
			return first < 0 ? first : handled;
		if (err < 0)
			return err;
		if (m.type != VHOST_IOTLB_MISS) {
			/* e.g. VHOST_IOTLB_ACCESS_FAIL: the kernel already failed the access. */
			vh_logf(&dev->cfg.log, VH_LOG_WARN, dev->name,
				"VHOST_IOTLB_MSG: ignored type %u iova 0x%" PRIx64, m.type,
				(uint64_t)m.iova);
			continue;
		}
		/* A miss we cannot answer fails that access only; keep serving the others. */
		err = vh_ioctl_answer_miss(dev, &m);
		if (err < 0 && !first)
			first = err;
		handled += err == 0;
		if (dev->broken)
			return dev->broken;
	}
}

int vh_ioctl_event_fd(const struct vh_dev *dev)
{
	return dev->fd;
}

/* ---- which transport a path names ---------------------------------------------------------- */

const struct vh_transport_ops *vh_ioctl_transport_for(const char *path)
{
	const char *base = strrchr(path, '/');
	struct stat st;

	base = base ? base + 1 : path;
	if (strncmp(path, "/dev/", 5) != 0 && (stat(path, &st) < 0 || !S_ISCHR(st.st_mode)))
		return NULL;
	if (strncmp(base, "vhost-vdpa-", 11) == 0)
		return &vh_transport_vdpa;
	return &vh_transport_kernel;
}
