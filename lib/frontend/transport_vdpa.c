// SPDX-License-Identifier: BSD-3-Clause
/*
 * vhost-vdpa transport (/dev/vhost-vdpa-N): what differs from vhost-kernel.
 *
 * - Guest memory is not a table: each region is an IOTLB mapping iova = GPA -> uaddr = this
 *   process's address, written as VHOST_IOTLB_UPDATE / VHOST_IOTLB_INVALIDATE messages on the
 *   device fd, framed by VHOST_IOTLB_BATCH_BEGIN/END when VHOST_BACKEND_F_IOTLB_BATCH is
 *   negotiated. Ring addresses are IOVAs (GPAs).
 * - The device has a virtio status (virtio 1.2 §3.1.1 driver initialisation): reset, then
 *   ACKNOWLEDGE | DRIVER at open, FEATURES_OK after VHOST_SET_FEATURES (the kernel refuses
 *   SET_FEATURES once FEATURES_OK is set), DRIVER_OK at start, reset again at stop.
 * - Config space through VHOST_VDPA_GET/SET_CONFIG, rings enabled with SET_VRING_ENABLE.
 * - With a vIOMMU in front (vdpa_iommu.c) the caller's IOVA maps replace the GPA ones.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/virtio_config.h>

#include "frontend/dev_internal.h"
#include "frontend/ioctl.h"
#include "frontend/vdpa.h"

#define VH_VDPA_STATUS_INIT (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER)

static int vh_vdpa_open(struct vh_dev *dev)
{
	int err = vh_ioctl_open(dev, VH_IOCTL_VDPA);

	if (err < 0)
		return err;
	dev->max_queues = dev->cfg.num_queues;
	/* No region table: the IOTLB takes as many mappings as the caller has regions. */
	dev->max_mem_slots = VH_MEM_MAX_REGIONS;
	return 0;
}

static int vh_vdpa_get_status(struct vh_dev *dev, uint8_t *s)
{
	return VH_IOCTL(dev, VHOST_VDPA_GET_STATUS, s);
}

static int vh_vdpa_reset(struct vh_dev *dev)
{
	uint8_t s = 0;

	if (dev->ioctl)
		dev->ioctl->suspended = false;
	return VH_IOCTL(dev, VHOST_VDPA_SET_STATUS, &s);
}

/*
 * A running device may still move its rings while we read their bases: with
 * VHOST_BACKEND_F_SUSPEND, suspend it once before the first read. Without it the base is read
 * anyway (vdpa_sim and most parents report the last available index they processed).
 */
static int vh_vdpa_get_vring_base(struct vh_dev *dev, struct vhost_vring_state *s)
{
	int err;

	if (vh_ioctl_has_backend(dev, VHOST_BACKEND_F_SUSPEND) && !dev->ioctl->suspended) {
		err = VH_IOCTL(dev, VHOST_VDPA_SUSPEND, NULL);
		if (err < 0)
			return err;
		dev->ioctl->suspended = true;
	}
	return vh_ioctl_get_vring_base(dev, s);
}

/* OR @bits into the status and check that the device kept them (it may refuse FEATURES_OK). */
static int vh_vdpa_add_status(struct vh_dev *dev, uint8_t bits)
{
	uint8_t s;
	int err = vh_vdpa_get_status(dev, &s);

	if (err < 0 || (s & bits) == bits)
		return err;
	s |= bits;
	err = VH_IOCTL(dev, VHOST_VDPA_SET_STATUS, &s);
	if (!err)
		err = vh_vdpa_get_status(dev, &s);
	if (!err && (s & bits) != bits) {
		err = -EIO;
		vh_dev_err(dev, "VHOST_VDPA_SET_STATUS", err,
			   "device refused status 0x%x (has 0x%x)", bits, s);
	}
	return err;
}

/* A 32-bit query the device may not offer (ENOTTY on older kernels): 0 then. */
static int vh_vdpa_query(struct vh_dev *dev, unsigned long req, const char *name, uint32_t *v)
{
	int err = vh_ioctl_try(dev, req, v);

	if (err == -ENOTTY || err == -EOPNOTSUPP) {
		*v = 0;
		return 0;
	}
	if (err < 0)
		vh_dev_err(dev, name, err, "ioctl failed");
	return err;
}

/* Where the device can map: updates outside fail (EINVAL), so say why before the kernel does. */
static int vh_vdpa_iova_range(struct vh_dev *dev)
{
	struct vhost_vdpa_iova_range r = { 0 };
	int err = vh_ioctl_try(dev, VHOST_VDPA_GET_IOVA_RANGE, &r);

	if (err == -ENOTTY || err == -EOPNOTSUPP) {
		r.first = 0;
		r.last = UINT64_MAX;
	} else if (err < 0) {
		vh_dev_err(dev, "VHOST_VDPA_GET_IOVA_RANGE", err, "ioctl failed");
		return err;
	}
	dev->ioctl->iova_first = r.first;
	dev->ioctl->iova_last = r.last;
	return 0;
}

static int vh_vdpa_discover(struct vh_dev *dev)
{
	struct vh_ioctl *io = dev->ioctl;
	uint16_t num = 0;
	int err;

	err = VH_IOCTL(dev, VHOST_VDPA_GET_DEVICE_ID, &io->device_id);
	if (!err)
		err = vh_vdpa_query(dev, VHOST_VDPA_GET_CONFIG_SIZE, "VHOST_VDPA_GET_CONFIG_SIZE",
				    &io->config_size);
	if (!err)
		err = vh_vdpa_query(dev, VHOST_VDPA_GET_VQS_COUNT, "VHOST_VDPA_GET_VQS_COUNT",
				    &io->vqs_count);
	if (!err)
		err = vh_vdpa_query(dev, VHOST_VDPA_GET_GROUP_NUM, "VHOST_VDPA_GET_GROUP_NUM",
				    &io->group_num);
	if (!err)
		err =
		    vh_vdpa_query(dev, VHOST_VDPA_GET_AS_NUM, "VHOST_VDPA_GET_AS_NUM", &io->as_num);
	if (!err)
		err = vh_vdpa_iova_range(dev);
	if (err < 0)
		return err;
	err = vh_ioctl_try(dev, VHOST_VDPA_GET_VRING_NUM, &num);
	if (err < 0 && err != -ENOTTY && err != -EOPNOTSUPP) {
		vh_dev_err(dev, "VHOST_VDPA_GET_VRING_NUM", err, "ioctl failed");
		return err;
	}
	io->vring_num_max = err < 0 ? 0 : num;
	if (io->vqs_count)
		dev->max_queues = VH_MIN(io->vqs_count, (uint32_t)VH_DEV_MAX_QUEUES);
	return 0;
}

/*
 * Config-change interrupts arrive on an eventfd of ours (VHOST_VDPA_SET_CONFIG_CALL); it becomes
 * vh_dev_event_fd(). Kernels without the ioctl (ENOTTY) just never report a change.
 */
static int vh_vdpa_config_call(struct vh_dev *dev)
{
	struct vh_ioctl *io = dev->ioctl;
	int fd = io->config_fd, err;

	if (fd < 0)
		fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0) {
		err = -errno;
		vh_dev_err(dev, "VHOST_VDPA_SET_CONFIG_CALL", err, "eventfd");
		return err;
	}
	io->config_fd = fd;
	err = vh_ioctl_try(dev, VHOST_VDPA_SET_CONFIG_CALL, &fd);
	if (err == -ENOTTY || err == -EOPNOTSUPP) {
		close(io->config_fd);
		io->config_fd = -1;
		return 0;
	}
	if (err < 0)
		vh_dev_err(dev, "VHOST_VDPA_SET_CONFIG_CALL", err, "ioctl failed");
	return err;
}

static int vh_vdpa_event_fd(const struct vh_dev *dev)
{
	return dev->ioctl ? dev->ioctl->config_fd : -1;
}

/* The device signalled a config change: tell the caller once per batch of signals. */
static int vh_vdpa_dispatch(struct vh_dev *dev)
{
	uint64_t n;

	if (!dev->ioctl || dev->ioctl->config_fd < 0)
		return 0;
	if (read(dev->ioctl->config_fd, &n, sizeof(n)) != sizeof(n))
		return errno == EAGAIN ? 0 : -errno;
	if (dev->cfg.config_changed)
		dev->cfg.config_changed(dev->cfg.opaque);
	return 1;
}

/*
 * SET_OWNER and backend features, what the device is, then a clean ACKNOWLEDGE | DRIVER. After
 * a reopen (vh_dev_reconnect) the vIOMMU's maps and group ASIDs go to the new fd.
 */
static int vh_vdpa_set_owner(struct vh_dev *dev)
{
	int err = vh_ioctl_set_owner(dev);

	if (!err)
		err = vh_vdpa_discover(dev);
	if (!err)
		err = vh_vdpa_config_call(dev);
	if (!err)
		err = vh_vdpa_reset(dev);
	if (!err)
		err = vh_vdpa_add_status(dev, VH_VDPA_STATUS_INIT);
	if (!err)
		err = vh_vdpa_iommu_replay(dev, true);
	return err;
}

/* SET_FEATURES then FEATURES_OK (virtio 1.2 §3.1.1 steps 4-6), unless the device has them. */
static int vh_vdpa_negotiate(struct vh_dev *dev)
{
	uint8_t s;
	int err = vh_vdpa_get_status(dev, &s);

	if (err < 0 || (s & VIRTIO_CONFIG_S_FEATURES_OK))
		return err;
	err = vh_vdpa_add_status(dev, VH_VDPA_STATUS_INIT);
	if (!err)
		err = VH_IOCTL(dev, VHOST_SET_FEATURES, &dev->ioctl->wire_features);
	if (!err)
		err = vh_vdpa_add_status(dev, VIRTIO_CONFIG_S_FEATURES_OK);
	return err;
}

static int vh_vdpa_set_features(struct vh_dev *dev, uint64_t features)
{
	struct vh_ioctl *io = dev->ioctl;
	uint8_t s;
	int err;

	/* Behind an IOMMU the driver uses IOVAs: that is what ACCESS_PLATFORM tells the device. */
	if (vh_vdpa_iommu_on(dev) && !(features & (1ull << VIRTIO_F_ACCESS_PLATFORM))) {
		vh_dev_err(dev, "VHOST_SET_FEATURES", -EINVAL,
			   "vIOMMU mode needs VIRTIO_F_ACCESS_PLATFORM");
		return -EINVAL;
	}
	err = vh_vdpa_get_status(dev, &s);
	if (err < 0)
		return err;
	if ((s & VIRTIO_CONFIG_S_FEATURES_OK) && features == io->wire_features)
		return 0;
	if (s & VIRTIO_CONFIG_S_DRIVER_OK) {
		vh_dev_err(dev, "VHOST_SET_FEATURES", -EBUSY, "device is running");
		return -EBUSY;
	}
	/* Features are fixed once FEATURES_OK is set: a different set needs a reset first. */
	if (s & VIRTIO_CONFIG_S_FEATURES_OK)
		err = vh_vdpa_reset(dev);
	io->wire_features = features;
	return err < 0 ? err : vh_vdpa_negotiate(dev);
}

/* Start: the core asks for ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK. */
static int vh_vdpa_set_status(struct vh_dev *dev, uint8_t status)
{
	int err = 0;

	if (!status)
		return vh_vdpa_reset(dev);
	if (status & VIRTIO_CONFIG_S_FEATURES_OK)
		err = vh_vdpa_negotiate(dev); /* again after a stop reset the device */
	return err < 0 ? err : vh_vdpa_add_status(dev, status);
}

/* ---- memory: IOTLB mappings ---------------------------------------------------------------- */

int vh_vdpa_check_range(struct vh_dev *dev, const char *req, uint64_t iova, uint64_t size)
{
	const struct vh_ioctl *io = dev->ioctl;
	uint64_t last;

	if (!size || vh_add_overflows(iova, size - 1, &last)) {
		vh_dev_err(dev, req, -EINVAL, "iova 0x%" PRIx64 "+0x%" PRIx64 ": %s", iova, size,
			   size ? "range wraps" : "empty range");
		return -EINVAL;
	}
	if (iova < io->iova_first || last > io->iova_last) {
		vh_dev_err(dev, req, -ERANGE,
			   "iova 0x%" PRIx64 "+0x%" PRIx64
			   " outside the device's iova range 0x%" PRIx64 "-0x%" PRIx64,
			   iova, size, io->iova_first, io->iova_last);
		return -ERANGE;
	}
	return 0;
}

int vh_vdpa_iotlb_op(struct vh_dev *dev, uint32_t asid, uint8_t type)
{
	struct vhost_iotlb_msg m = { .type = type };

	if (type == VHOST_IOTLB_INVALIDATE)
		m.size = UINT64_MAX; /* every IOVA: [0, 2^64 - 1) */
	return vh_ioctl_send_iotlb_asid(dev, asid, &m);
}

/* The memory table's own mappings (iova = GPA) live in address space 0. */
static int vh_vdpa_iotlb(struct vh_dev *dev, uint8_t type, const struct vh_memtable_region *r)
{
	struct vhost_iotlb_msg m = { .type = type };
	int err;

	if (!r)
		return vh_vdpa_iotlb_op(dev, 0, type);
	m.iova = r->gpa;
	m.size = r->size;
	if (type == VHOST_IOTLB_UPDATE) {
		err = vh_vdpa_check_range(dev, "VHOST_IOTLB_UPDATE", r->gpa, r->size);
		if (err < 0)
			return err;
		m.uaddr = r->host;
		m.perm = r->flags & VH_MEMTABLE_READONLY ? VHOST_ACCESS_RO : VHOST_ACCESS_RW;
	}
	return vh_ioctl_send_iotlb_msg(dev, &m);
}

static int vh_vdpa_map_body(struct vh_dev *dev, const struct vh_memtable *t, bool fresh)
{
	const struct vh_memtable_region *r;
	int err = 0;

	if (fresh && dev->ioctl->mapped)
		err = vh_vdpa_iotlb(dev, VHOST_IOTLB_INVALIDATE, NULL);
	/* Invalidate first: the kernel refuses an update that overlaps a mapping (EEXIST). */
	for (unsigned i = 0; !err && !fresh && (r = vh_memtable_removed(t, i)); i++)
		err = vh_vdpa_iotlb(dev, VHOST_IOTLB_INVALIDATE, r);
	for (unsigned i = 0;
	     !err && (r = fresh ? vh_memtable_region(t, i) : vh_memtable_added(t, i)); i++) {
		err = vh_vdpa_iotlb(dev, VHOST_IOTLB_UPDATE, r);
		if (!err)
			dev->ioctl->mapped = true;
	}
	return err;
}

static int vh_vdpa_set_mem_table(struct vh_dev *dev, const struct vh_memtable *t, bool fresh)
{
	bool batch = vh_ioctl_has_backend(dev, VHOST_BACKEND_F_IOTLB_BATCH);
	int err = vh_dev_usable(dev), e;

	if (err < 0)
		return err; /* closed (a failed reconnect): no state to map into */
	if (vh_vdpa_iommu_on(dev))
		return 0; /* the vIOMMU's maps are the address space; the table serves lookups */
	if (batch)
		err = vh_vdpa_iotlb(dev, VHOST_IOTLB_BATCH_BEGIN, NULL);
	if (!err)
		err = vh_vdpa_map_body(dev, t, fresh);
	/* Close an open batch even after a failed update: the device applies what it got. */
	if (batch) {
		e = vh_vdpa_iotlb(dev, VHOST_IOTLB_BATCH_END, NULL);
		if (!err)
			err = e;
	}
	return err;
}

/* Stop: reset (the rings' bases were read already), back to ACKNOWLEDGE | DRIVER, remap. */
static int vh_vdpa_stop_device(struct vh_dev *dev)
{
	int err = vh_vdpa_reset(dev);

	if (!err)
		err = vh_vdpa_add_status(dev, VH_VDPA_STATUS_INIT);
	/* Without IOTLB_PERSIST a reset may drop the device's maps: map the table again. */
	if (!err && dev->mem_sent && vh_memtable_count(dev->mem))
		err = vh_vdpa_set_mem_table(dev, dev->mem, true);
	if (!err)
		err = vh_vdpa_iommu_replay(dev, false);
	return err;
}

static int vh_vdpa_reset_device(struct vh_dev *dev)
{
	return vh_vdpa_stop_device(dev);
}

static int vh_vdpa_set_vring_enable(struct vh_dev *dev, unsigned index, bool enable)
{
	struct vhost_vring_state s = { .index = index, .num = enable };

	return VH_IOCTL(dev, VHOST_VDPA_SET_VRING_ENABLE, &s);
}

/* ---- config space ------------------------------------------------------------------------- */

static struct vhost_vdpa_config *vh_vdpa_config_alloc(uint32_t offset, uint32_t len)
{
	struct vhost_vdpa_config *c = calloc(1, sizeof(*c) + len);

	if (c) {
		c->off = offset;
		c->len = len;
	}
	return c;
}

static int vh_vdpa_get_config(struct vh_dev *dev, uint32_t offset, void *buf, uint32_t len)
{
	struct vhost_vdpa_config *c = vh_vdpa_config_alloc(offset, len);
	int err;

	if (!c)
		return -ENOMEM;
	err = VH_IOCTL(dev, VHOST_VDPA_GET_CONFIG, c);
	if (!err)
		memcpy(buf, c->buf, len);
	free(c);
	return err;
}

static int vh_vdpa_set_config(struct vh_dev *dev, uint32_t offset, const void *buf, uint32_t len)
{
	struct vhost_vdpa_config *c = vh_vdpa_config_alloc(offset, len);
	int err;

	if (!c)
		return -ENOMEM;
	memcpy(c->buf, buf, len);
	err = VH_IOCTL(dev, VHOST_VDPA_SET_CONFIG, c);
	free(c);
	return err;
}

/* Generic IOTLB requests (vh_dev_iotlb_invalidate, prefill): the vIOMMU's maps when it is on. */
static int vh_vdpa_send_iotlb_msg(struct vh_dev *dev, const struct vhost_iotlb_msg *m)
{
	if (vh_vdpa_iommu_on(dev))
		return vh_vdpa_iommu_msg(dev, m);
	return vh_ioctl_send_iotlb_msg(dev, m);
}

/* vhost-vdpa has no dirty log (VHOST_SET_LOG_BASE is ENOTTY there). */
static int vh_vdpa_set_log_base(struct vh_dev *dev, struct vh_log_buf *log)
{
	(void)log;
	vh_dev_err(dev, "VHOST_SET_LOG_BASE", -EOPNOTSUPP, "vhost-vdpa has no dirty log");
	return -EOPNOTSUPP;
}

const struct vh_transport_ops vh_transport_vdpa = {
	.name = "vhost-vdpa",
	.caps = 0, /* ring addresses are IOVAs, no log fd, no memory fds */
	.open = vh_vdpa_open,
	.close = vh_ioctl_close,
	.set_owner = vh_vdpa_set_owner,
	.get_features = vh_ioctl_get_features,
	.set_features = vh_vdpa_set_features,
	.set_mem_table = vh_vdpa_set_mem_table,
	.set_vring_num = vh_ioctl_set_vring_num,
	.set_vring_base = vh_ioctl_set_vring_base,
	.get_vring_base = vh_vdpa_get_vring_base,
	.set_vring_addr = vh_ioctl_set_vring_addr,
	.set_vring_kick = vh_ioctl_set_vring_kick,
	.set_vring_call = vh_ioctl_set_vring_call,
	.set_vring_err = vh_ioctl_set_vring_err,
	.set_log_base = vh_vdpa_set_log_base,
	.send_iotlb_msg = vh_vdpa_send_iotlb_msg,
	.set_vring_enable = vh_vdpa_set_vring_enable,
	.set_status = vh_vdpa_set_status,
	.reset_device = vh_vdpa_reset_device,
	.stop_device = vh_vdpa_stop_device,
	.get_config = vh_vdpa_get_config,
	.set_config = vh_vdpa_set_config,
	.set_busyloop_timeout = vh_ioctl_set_busyloop_timeout,
	.get_busyloop_timeout = vh_ioctl_get_busyloop_timeout,
	.event_fd = vh_vdpa_event_fd,
	.dispatch = vh_vdpa_dispatch,
};
