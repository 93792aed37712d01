// SPDX-License-Identifier: BSD-3-Clause
/*
 * vh_dev memory table: the caller's batch goes through the mem/ table builder (merge, page
 * alignment for vhost-user, filtering, slot limit); the result is sent whole or as the
 * difference (CONFIGURE_MEM_SLOTS). While the device logs dirty pages, the log grows before
 * the backend sees a bigger table and shrinks after it saw a smaller one (the seed's
 * vhost_commit).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/dev_internal.h"

int vh_dev_mem_init(struct vh_dev *dev)
{
	struct vh_memtable_config mc = {
		.name = dev->name,
		.max_regions = dev->max_mem_slots,
		/* The seed shows guest RAM only, not ROM; vhost-user regions are whole pages. */
		.flags = VH_MEMTABLE_DROP_READONLY |
			 (dev->ops->caps & VH_TP_CAP_MEM_FD ? VH_MEMTABLE_ALIGN_PAGES : 0),
		.log = dev->cfg.log,
	};

	return vh_memtable_create(&mc, &dev->mem);
}

uint64_t vh_dev_gpa_to_uva(const struct vh_dev *dev, uint64_t gpa, uint64_t len)
{
	return vh_memtable_lookup_host(dev->mem, gpa, len);
}

int vh_dev_mem_begin(struct vh_dev *dev)
{
	vh_memtable_begin(dev->mem);
	dev->nbatch = 0;
	dev->batch_nofd = false;
	dev->mem_open = true;
	return 0;
}

static int vh_dev_batch_push(struct vh_dev *dev, const struct vh_dev_mem_region *r)
{
	if (dev->nbatch == dev->batch_cap) {
		unsigned cap = dev->batch_cap ? dev->batch_cap * 2 : 16;
		struct vh_dev_mem_region *p = realloc(dev->batch, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		dev->batch = p;
		dev->batch_cap = cap;
	}
	dev->batch[dev->nbatch++] = *r;
	return 0;
}

int vh_dev_mem_add(struct vh_dev *dev, const struct vh_dev_mem_region *r)
{
	struct vh_memtable_region mr;
	int err;

	if (!dev->mem_open || !r)
		return -EINVAL;
	if (r->fd < 0 && !(r->flags & VH_DEV_MEM_INVISIBLE) &&
	    (dev->ops->caps & VH_TP_CAP_MEM_FD)) {
		vh_dev_err(dev, "mem add", -EINVAL, "gpa 0x%" PRIx64 ": vhost-user needs an fd",
			   r->gpa);
		return -EINVAL;
	}
	mr = (struct vh_memtable_region){
		.gpa = r->gpa,
		.size = r->size,
		.host = (uint64_t)(uintptr_t)r->host,
		.fd = r->fd,
		.fd_offset = r->fd_offset,
		.page_size = r->page_size,
		.flags = (r->flags & VH_DEV_MEM_READONLY ? VH_MEMTABLE_READONLY : 0) |
			 (r->flags & VH_DEV_MEM_INVISIBLE ? VH_MEMTABLE_DEVICE_INVISIBLE : 0),
	};
	err = vh_memtable_add_region(dev->mem, &mr);
	if (!err && !(r->flags & (VH_DEV_MEM_INVISIBLE | VH_DEV_MEM_READONLY)))
		err = vh_dev_batch_push(dev, r);
	if (!err && r->fd < 0 && !(r->flags & VH_DEV_MEM_INVISIBLE))
		dev->batch_nofd = true;
	return err;
}

/* [gpa, gpa + len) inside one visible region of the open batch. */
static bool vh_dev_batch_covers(const struct vh_dev *dev, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < dev->nbatch; i++) {
		const struct vh_dev_mem_region *r = &dev->batch[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa))
			return true;
	}
	return false;
}

/* A running ring must stay mapped (the seed's vhost_verify_ring_mappings). */
static int vh_dev_check_rings(struct vh_dev *dev)
{
	for (unsigned i = 0; i < dev->nrings && !vh_dev_has_iommu(dev); i++) {
		const struct vh_dev_vring *vr = &dev->rings[i].vr;

		if (!dev->rings[i].running)
			continue;
		if (!vh_dev_batch_covers(dev, vr->desc_gpa, 16ull * vr->num) ||
		    !vh_dev_batch_covers(dev, vr->used_gpa, vh_dev_used_size(vr))) {
			vh_dev_err(dev, "mem commit", -EINVAL, "ring %u would be unmapped", i);
			return -EINVAL;
		}
	}
	return 0;
}

int vh_dev_mem_send(struct vh_dev *dev, bool fresh)
{
	bool logging = dev->log_enabled && dev->started;
	int err = 0;

	if (logging)
		err = vh_dev_log_prepare_mem(dev);
	if (!err)
		err = dev->ops->set_mem_table(dev, dev->mem, fresh);
	/*
	 * A refusal leaves the backend with the table it had (the transport undid a partial
	 * sequence, or broke the device when it could not): sent stays sent. A broken device gets
	 * the whole table again from vh_dev_reconnect().
	 */
	if (!err)
		dev->mem_sent = true;
	else if (fresh || dev->broken)
		dev->mem_sent = false;
	if (!err && logging)
		vh_dev_log_finish_mem(dev);
	return err;
}

int vh_dev_mem_commit(struct vh_dev *dev)
{
	struct vh_memtable_diff diff;
	bool old_nofd = dev->mem_nofd;
	int err;

	if (!dev->mem_open)
		return -EINVAL;
	dev->mem_open = false;
	err = vh_dev_check_rings(dev);
	if (!err)
		err = vh_memtable_commit(dev->mem, &diff);
	if (err < 0)
		return err;
	dev->mem_nofd = dev->batch_nofd;
	err = vh_dev_usable(dev);
	if (err < 0) {
		dev->mem_sent = false; /* vh_dev_reconnect() sends it */
		return err;
	}
	if (dev->mem_sent && !diff.changed)
		return 0;
	err = vh_dev_mem_send(dev, !dev->mem_sent);
	if (err < 0) {
		/* Refused or lost: the caller's table is the old one, as the backend's is. */
		vh_memtable_revert(dev->mem);
		dev->mem_nofd = old_nofd;
	}
	return err;
}
