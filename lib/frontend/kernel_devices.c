// SPDX-License-Identifier: BSD-3-Clause
/*
 * Per-device requests of the kernel vhost devices (<linux/vhost.h>): vhost-net's backend socket
 * per ring, vhost-vsock's guest cid and running switch, legacy cross-endian rings; and what the
 * ioctl transports learnt at create (include/vhost/kernel.h). These are not generic vhost
 * operations, so they stay out of the transport table.
 */
#include <errno.h>
#include <string.h>

#include "frontend/dev_internal.h"
#include "frontend/ioctl.h"

#include <vhost/kernel.h>

static bool vh_is_kernel(const struct vh_dev *dev)
{
	return dev && dev->ops == &vh_transport_kernel;
}

static bool vh_is_ioctl(const struct vh_dev *dev)
{
	return dev && (dev->ops == &vh_transport_kernel || dev->ops == &vh_transport_vdpa);
}

int vh_kernel_net_set_backend(struct vh_dev *dev, unsigned index, int fd)
{
	struct vhost_vring_file f = { .index = index, .fd = fd };

	if (!vh_is_kernel(dev) || index >= VH_DEV_MAX_QUEUES || fd < -1)
		return -EINVAL;
	/* The kernel checks the ring's addresses when a backend is attached: start first. */
	if (fd >= 0 && !dev->rings[index].running) {
		vh_dev_err(dev, "VHOST_NET_SET_BACKEND", -EINVAL, "ring %u is not started", index);
		return -EINVAL;
	}
	return VH_IOCTL(dev, VHOST_NET_SET_BACKEND, &f);
}

int vh_kernel_net_stop(struct vh_dev *dev, uint32_t *bases, unsigned nbases)
{
	int err = 0, e;

	if (!vh_is_kernel(dev))
		return -EINVAL;
	/* Detach first: GET_VRING_BASE is only final once the worker no longer runs the ring. */
	for (unsigned i = 0; i < dev->nrings; i++) {
		if (!dev->rings[i].running)
			continue;
		e = vh_kernel_net_set_backend(dev, i, -1);
		if (!err)
			err = e;
	}
	e = vh_dev_stop(dev, bases, nbases);
	return err ? err : e;
}

int vh_kernel_vsock_set_guest_cid(struct vh_dev *dev, uint64_t cid)
{
	/* Context ids 0-2 are the hypervisor, local and host (vsock(7)); U32_MAX is "any". */
	if (!vh_is_kernel(dev) || cid <= 2 || cid >= UINT32_MAX)
		return -EINVAL;
	return VH_IOCTL(dev, VHOST_VSOCK_SET_GUEST_CID, &cid);
}

int vh_kernel_vsock_set_running(struct vh_dev *dev, bool running)
{
	int start = running ? 1 : 0;

	if (!vh_is_kernel(dev))
		return -EINVAL;
	return VH_IOCTL(dev, VHOST_VSOCK_SET_RUNNING, &start);
}

int vh_kernel_vsock_stop(struct vh_dev *dev, uint32_t *bases, unsigned nbases)
{
	int err, e;

	if (!vh_is_kernel(dev))
		return -EINVAL;
	err = vh_kernel_vsock_set_running(dev, false);
	e = vh_dev_stop(dev, bases, nbases);
	return err ? err : e;
}

int vh_dev_set_vring_endian(struct vh_dev *dev, unsigned index, bool big_endian)
{
	struct vhost_vring_state s = {
		.index = index,
		.num = big_endian ? VHOST_VRING_BIG_ENDIAN : VHOST_VRING_LITTLE_ENDIAN,
	};
	int err;

	if (!vh_is_ioctl(dev))
		return dev ? -EOPNOTSUPP : -EINVAL;
	if (index >= dev->cfg.num_queues)
		return -EINVAL;
	err = vh_ioctl_try(dev, VHOST_SET_VRING_ENDIAN, &s);
	/* No CONFIG_VHOST_CROSS_ENDIAN_LEGACY: the kernel uses the native (little) order. */
	if (err == -ENOTTY || err == -EOPNOTSUPP)
		return big_endian ? -EOPNOTSUPP : 0;
	if (err < 0)
		vh_dev_err(dev, "VHOST_SET_VRING_ENDIAN", err, "ring %u", index);
	return err;
}

int vh_dev_get_busyloop_timeout(struct vh_dev *dev, unsigned index, unsigned *usec)
{
	struct vhost_vring_state s = { .index = index };
	int err;

	if (!dev || !usec || index >= dev->cfg.num_queues)
		return -EINVAL;
	if (!dev->ops->get_busyloop_timeout)
		return -EOPNOTSUPP; /* vhost-user has no such request */
	err = dev->ops->get_busyloop_timeout(dev, &s);
	if (!err)
		*usec = s.num;
	return err;
}

int vh_dev_ioctl_info(const struct vh_dev *dev, struct vh_dev_ioctl_info *info)
{
	const struct vh_ioctl *io;

	if (!dev || !info)
		return -EINVAL;
	if (!vh_is_ioctl(dev))
		return -EOPNOTSUPP;
	io = dev->ioctl;
	if (!io)
		return -ENOTCONN;
	*info = (struct vh_dev_ioctl_info){
		.backend_features = io->backend_offered,
		.backend_features_acked = io->backend_acked,
		.device_id = io->device_id,
		.config_size = io->config_size,
		.vring_num_max = io->vring_num_max,
		.vqs_count = io->vqs_count,
		.group_num = io->group_num,
		.as_num = io->as_num,
		.max_mem_regions = dev->max_mem_slots,
		.iova_first = io->iova_first,
		.iova_last = io->kind == VH_IOCTL_VDPA ? io->iova_last : UINT64_MAX,
		.vdpa = io->kind == VH_IOCTL_VDPA,
	};
	return 0;
}

int vh_dev_vring_group(struct vh_dev *dev, unsigned index, uint32_t *group)
{
	struct vhost_vring_state s = { .index = index };
	int err;

	if (!dev || !group)
		return -EINVAL;
	if (dev->ops != &vh_transport_vdpa)
		return -EOPNOTSUPP;
	err = vh_ioctl_try(dev, VHOST_VDPA_GET_VRING_GROUP, &s);
	/* ENOTTY: older kernel; EOPNOTSUPP: the parent driver has no virtqueue groups. */
	if (err == -ENOTTY || err == -EOPNOTSUPP)
		return -EOPNOTSUPP;
	if (err < 0) {
		vh_dev_err(dev, "VHOST_VDPA_GET_VRING_GROUP", err, "ring %u", index);
		return err;
	}
	*group = s.num;
	return 0;
}
