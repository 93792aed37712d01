// SPDX-License-Identifier: BSD-3-Clause
/*
 * vhost-kernel transport (/dev/vhost-net, /dev/vhost-vsock, /dev/vhost-scsi): what differs from
 * vhost-vdpa. Guest memory is a VHOST_SET_MEM_TABLE of (gpa, size, this process's address)
 * regions, limited by the vhost module's max_mem_regions parameter; the dirty log is plain
 * process memory handed over with VHOST_SET_LOG_BASE. The device-specific requests
 * (VHOST_NET_SET_BACKEND, VHOST_VSOCK_*) are in kernel_devices.c, not in this table.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ids.h>

#include "frontend/dev_internal.h"
#include "frontend/ioctl.h"

#define VH_KERNEL_MAX_REGIONS_PARAM "/sys/module/vhost/parameters/max_mem_regions"
#define VH_KERNEL_DEFAULT_REGIONS   64 /* drivers/vhost/vhost.c max_mem_regions default */

static enum vh_ioctl_kind vh_kernel_kind(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	if (strcmp(base, "vhost-net") == 0)
		return VH_IOCTL_NET;
	if (strcmp(base, "vhost-vsock") == 0)
		return VH_IOCTL_VSOCK;
	if (strcmp(base, "vhost-scsi") == 0)
		return VH_IOCTL_SCSI;
	return VH_IOCTL_OTHER;
}

/* The vhost module's region limit; the default when the parameter cannot be read. */
static unsigned vh_kernel_max_regions(const struct vh_dev *dev)
{
	const struct vh_ioctl_sys *sys = dev->sys ? dev->sys : &vh_ioctl_sys_default;
	char buf[32] = { 0 };
	unsigned long v;
	ssize_t n;
	char *end;
	int fd;

	fd = sys->open(sys->ctx, VH_KERNEL_MAX_REGIONS_PARAM, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return VH_KERNEL_DEFAULT_REGIONS;
	n = sys->read(sys->ctx, fd, buf, sizeof(buf) - 1);
	sys->close(sys->ctx, fd);
	if (n <= 0)
		return VH_KERNEL_DEFAULT_REGIONS;
	buf[n] = '\0';
	errno = 0;
	v = strtoul(buf, &end, 10);
	if (errno || end == buf || !v)
		return VH_KERNEL_DEFAULT_REGIONS;
	return (unsigned)VH_MIN(v, (unsigned long)VH_MEM_MAX_REGIONS);
}

static int vh_kernel_open(struct vh_dev *dev)
{
	enum vh_ioctl_kind kind = vh_kernel_kind(dev->path);
	int err = vh_ioctl_open(dev, kind);

	if (err < 0)
		return err;
	/* vhost-net and vhost-vsock drive an RX and a TX ring per fd. */
	dev->max_queues = kind == VH_IOCTL_NET || kind == VH_IOCTL_VSOCK ? 2 : dev->cfg.num_queues;
	dev->ioctl->device_id = kind == VH_IOCTL_NET	 ? VIRTIO_ID_NET
				: kind == VH_IOCTL_VSOCK ? VIRTIO_ID_VSOCK
				: kind == VH_IOCTL_SCSI	 ? VIRTIO_ID_SCSI
							 : 0;
	dev->max_mem_slots = vh_kernel_max_regions(dev);
	return 0;
}

/* The whole table every time: the kernel swaps it in atomically (RCU), rings keep running. */
static int vh_kernel_set_mem_table(struct vh_dev *dev, const struct vh_memtable *t, bool fresh)
{
	unsigned n = vh_memtable_count(t);
	struct vhost_memory *m;
	int err;

	(void)fresh;
	if (n > dev->max_mem_slots) {
		vh_dev_err(dev, "VHOST_SET_MEM_TABLE", -E2BIG, "%u regions, the kernel takes %u", n,
			   dev->max_mem_slots);
		return -E2BIG;
	}
	m = calloc(1, sizeof(*m) + (size_t)n * sizeof(m->regions[0]));
	if (!m)
		return -ENOMEM;
	m->nregions = n;
	for (unsigned i = 0; i < n; i++) {
		const struct vh_memtable_region *r = vh_memtable_region(t, i);

		m->regions[i].guest_phys_addr = r->gpa;
		m->regions[i].memory_size = r->size;
		m->regions[i].userspace_addr = r->host;
	}
	err = VH_IOCTL(dev, VHOST_SET_MEM_TABLE, m);
	free(m);
	return err;
}

/* The log is this process's memory: the kernel writes the bits through our mm. */
static int vh_kernel_set_log_base(struct vh_dev *dev, struct vh_log_buf *log)
{
	uint64_t base = (uint64_t)(uintptr_t)vh_log_buf_addr(log);

	if (!base)
		return -EINVAL;
	return VH_IOCTL(dev, VHOST_SET_LOG_BASE, &base);
}

const struct vh_transport_ops vh_transport_kernel = {
	.name = "vhost-kernel",
	.caps = VH_TP_CAP_RING_UVA,
	.open = vh_kernel_open,
	.close = vh_ioctl_close,
	.set_owner = vh_ioctl_set_owner,
	.get_features = vh_ioctl_get_features,
	.set_features = vh_ioctl_set_features,
	.set_mem_table = vh_kernel_set_mem_table,
	.set_vring_num = vh_ioctl_set_vring_num,
	.set_vring_base = vh_ioctl_set_vring_base,
	.get_vring_base = vh_ioctl_get_vring_base,
	.set_vring_addr = vh_ioctl_set_vring_addr,
	.set_vring_kick = vh_ioctl_set_vring_kick,
	.set_vring_call = vh_ioctl_set_vring_call,
	.set_vring_err = vh_ioctl_set_vring_err,
	.set_log_base = vh_kernel_set_log_base,
	.send_iotlb_msg = vh_ioctl_send_iotlb_msg,
	.set_busyloop_timeout = vh_ioctl_set_busyloop_timeout,
	.get_busyloop_timeout = vh_ioctl_get_busyloop_timeout,
	.event_fd = vh_ioctl_event_fd,
	.dispatch = vh_ioctl_dispatch,
};
