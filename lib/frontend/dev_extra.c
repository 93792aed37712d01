// SPDX-License-Identifier: BSD-3-Clause
/*
 * vh_dev: config space, inflight region, IOTLB invalidation, the backend event fd, and
 * reconnect (a restarted vhost-user backend gets the saved state back without the caller
 * rebuilding anything).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "frontend/dev_internal.h"

static int vh_dev_config_check(struct vh_dev *dev, uint32_t offset, const void *buf, uint32_t len)
{
	uint64_t end = (uint64_t)offset + len;

	if (!buf || !len || end > VH_USER_MAX_CONFIG_SIZE)
		return -EINVAL;
	return vh_dev_usable(dev);
}

int vh_dev_get_config(struct vh_dev *dev, uint32_t offset, void *buf, uint32_t len)
{
	int err = vh_dev_config_check(dev, offset, buf, len);

	if (err < 0)
		return err;
	if (!dev->ops->get_config)
		return -EOPNOTSUPP;
	return dev->ops->get_config(dev, offset, buf, len);
}

int vh_dev_set_config(struct vh_dev *dev, uint32_t offset, const void *buf, uint32_t len)
{
	int err = vh_dev_config_check(dev, offset, buf, len);

	if (err < 0)
		return err;
	if (!dev->ops->set_config)
		return -EOPNOTSUPP;
	return dev->ops->set_config(dev, offset, buf, len);
}

int vh_dev_set_busyloop_timeout(struct vh_dev *dev, unsigned index, unsigned usec)
{
	struct vhost_vring_state s = { .index = index, .num = usec };

	if (index >= dev->cfg.num_queues)
		return -EINVAL;
	if (!dev->ops->set_busyloop_timeout)
		return -EOPNOTSUPP; /* a vhost-kernel ioctl; vhost-user has no such request */
	return dev->ops->set_busyloop_timeout(dev, &s);
}

int vh_dev_event_fd(const struct vh_dev *dev)
{
	return dev->ops->event_fd ? dev->ops->event_fd(dev) : -1;
}

int vh_dev_dispatch(struct vh_dev *dev)
{
	int err = vh_dev_usable(dev);

	if (err < 0)
		return err;
	return dev->ops->dispatch ? dev->ops->dispatch(dev) : 0;
}

int vh_dev_iotlb_update(struct vh_dev *dev, const char *req, uint64_t iova, int perm)
{
	struct vhost_iotlb_msg up = { 0 };
	uint64_t uva = 0, size = 0;
	int err;

	if (!dev->cfg.iotlb_translate) {
		vh_dev_err(dev, req, -ENOTSUP, "no translate callback");
		return -ENOTSUP;
	}
	/*
	 * <linux/vhost_types.h>: a miss names the access that faulted, VHOST_ACCESS_RO, _WO or
	 * _RW. Anything else would go back to the device as the permission of the update.
	 */
	if (perm < VHOST_ACCESS_RO || perm > VHOST_ACCESS_RW) {
		vh_dev_err(dev, req, -EINVAL, "iova 0x%" PRIx64 ": bad access %d", iova, perm);
		return -EINVAL;
	}
	err = dev->cfg.iotlb_translate(dev->cfg.opaque, iova, perm, &uva, &size);
	/* A positive return is the mapping's permission; it must cover the access that missed. */
	if (err > 0 && ((err & ~VHOST_ACCESS_RW) || (err & perm) != perm))
		err = -EACCES;
	if (err < 0 || !size) {
		err = err < 0 ? err : -EFAULT;
		vh_dev_err(dev, req, err, "translate iova 0x%" PRIx64 " perm %d", iova, perm);
		return err;
	}
	up.iova = iova;
	up.size = size;
	up.uaddr = uva;
	up.perm = (uint8_t)(err > 0 ? err : perm);
	up.type = VHOST_IOTLB_UPDATE;
	return dev->ops->send_iotlb_msg(dev, &up);
}

int vh_dev_iotlb_invalidate(struct vh_dev *dev, uint64_t iova, uint64_t size)
{
	struct vhost_iotlb_msg m = { .iova = iova, .size = size, .type = VHOST_IOTLB_INVALIDATE };

	if (!vh_dev_has_iommu(dev))
		return -EINVAL;
	return dev->ops->send_iotlb_msg(dev, &m);
}

int vh_dev_reset(struct vh_dev *dev)
{
	int err;

	if (dev->started)
		return -EBUSY;
	if (!dev->ops->reset_device)
		return -EOPNOTSUPP;
	err = dev->ops->reset_device(dev);
	if (err < 0)
		return err;
	/* A reset device starts over: no inflight requests, rings from their setup base. */
	vh_dev_inflight_free(dev);
	return 0;
}

/* ---- inflight region ---------------------------------------------------------------------- */

void vh_dev_inflight_free(struct vh_dev *dev)
{
	if (dev->inflight_addr)
		munmap(dev->inflight_addr, dev->inflight_size);
	if (dev->inflight_fd >= 0)
		close(dev->inflight_fd);
	dev->inflight_addr = NULL;
	dev->inflight_fd = -1;
	dev->inflight_size = 0;
}

/* Before the rings start: get a region from the backend once, then hand it back each start. */
int vh_dev_inflight_apply(struct vh_dev *dev)
{
	int err;

	if (!dev->ops->get_inflight || !dev->ops->set_inflight)
		return -EOPNOTSUPP;
	if (!dev->inflight_addr) {
		err = dev->ops->get_inflight(dev);
		if (err < 0)
			return err;
		if (!dev->inflight_addr)
			return 0;
	}
	return dev->ops->set_inflight(dev);
}

int vh_dev_inflight_size(const struct vh_dev *dev, size_t *size)
{
	if (!size)
		return -EINVAL;
	*size = dev->inflight_addr ? sizeof(struct vh_dev_inflight_hdr) + dev->inflight_size : 0;
	return 0;
}

int vh_dev_inflight_save(const struct vh_dev *dev, void *buf, size_t len)
{
	struct vh_dev_inflight_hdr h = {
		.magic = VH_DEV_INFLIGHT_MAGIC,
		.mmap_size = dev->inflight_size,
		.num_queues = dev->inflight_nq,
		.queue_size = dev->inflight_qs,
	};

	if (!dev->inflight_addr)
		return -ENOENT;
	if (!buf || len < sizeof(h) + dev->inflight_size)
		return -EINVAL;
	memcpy(buf, &h, sizeof(h));
	memcpy((char *)buf + sizeof(h), dev->inflight_addr, dev->inflight_size);
	return 0;
}

int vh_dev_inflight_load(struct vh_dev *dev, const void *buf, size_t len)
{
	struct vh_dev_inflight_hdr h;
	void *addr;
	int fd, err;

	if (dev->started)
		return -EBUSY;
	if (!buf || len < sizeof(h))
		return -EINVAL;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != VH_DEV_INFLIGHT_MAGIC || !h.mmap_size || len - sizeof(h) != h.mmap_size)
		return -EINVAL;
	fd = memfd_create("vhost-inflight", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)h.mmap_size) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	addr = mmap(NULL, h.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (addr == MAP_FAILED) {
		err = -errno;
		close(fd);
		return err;
	}
	memcpy(addr, (const char *)buf + sizeof(h), h.mmap_size);
	vh_dev_inflight_free(dev);
	dev->inflight_fd = fd;
	dev->inflight_addr = addr;
	dev->inflight_size = h.mmap_size;
	dev->inflight_offset = 0;
	dev->inflight_nq = h.num_queues;
	dev->inflight_qs = h.queue_size;
	return 0;
}

/* ---- reconnect ---------------------------------------------------------------------------- */

static int vh_dev_restore(struct vh_dev *dev)
{
	uint64_t features, missing;
	int err;

	err = dev->ops->set_owner(dev);
	if (!err)
		err = dev->ops->get_features(dev, &features);
	if (err < 0)
		return err;
	missing = dev->acked_features & ~features;
	if (dev->features_acked && missing) {
		vh_dev_err(dev, "reconnect", -EPROTO, "new backend lacks acked features 0x%" PRIx64,
			   missing);
		return -EPROTO;
	}
	dev->backend_features = features;
	vh_memtable_set_max_regions(dev->mem, dev->max_mem_slots);
	if (dev->features_acked)
		err = dev->ops->set_features(
		    dev, vh_dev_wire_features(dev->acked_features, dev->log_enabled));
	if (!err && vh_memtable_count(dev->mem))
		err = vh_dev_mem_send(dev, true);
	if (!err && dev->started)
		err = vh_dev_start_rings(dev);
	return err;
}

int vh_dev_reconnect(struct vh_dev *dev)
{
	int err;

	if (!dev->ops->open)
		return -EOPNOTSUPP;
	/* Rings that were running when the backend died restart where the used ring got to. */
	for (unsigned i = 0; i < dev->nrings; i++) {
		if (dev->rings[i].running) {
			struct vhost_vring_state s = { .index = i };

			dev->rings[i].running = false;
			if (!vh_dev_usable(dev) && !dev->ops->get_vring_base(dev, &s))
				dev->rings[i].vr.base = s.num;
			else
				vh_dev_rebase_from_used(dev, i);
		}
	}
	dev->ops->close(dev);
	dev->broken = 0;
	dev->mem_sent = false;
	err = dev->ops->open(dev);
	if (!err) {
		err = vh_dev_restore(dev);
		if (err < 0)
			dev->ops->close(dev);
	}
	if (err < 0)
		dev->broken =
		    -ECONNRESET; /* logged where it failed; try vh_dev_reconnect() again */
	return err;
}
