// SPDX-License-Identifier: BSD-3-Clause
/*
 * Device-side ring: creation, addresses, base, dirty log and the layout-independent parts of
 * pop/push (descriptor mapping, indirect tables, broken state).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vq/vq_internal.h"

static void packed_log_gpa(struct vh_vq *vq);

static size_t align_up(size_t x, size_t a)
{
	return (x + a - 1) & ~(a - 1);
}

int vh_vq_layout(unsigned num, bool packed, struct vh_vq_layout *out)
{
	if (num == 0 || num > VH_VQ_MAX_NUM || (!packed && !vh_is_pow2(num)))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->desc_size = 16u * num;
	out->driver_size = packed ? 4 : 6u + 2u * num;
	out->device_size = packed ? 4 : 6u + 8u * num;
	if (packed) {
		/* virtio 1.2 §2.8.10: descriptors 16-aligned, both event areas 4-aligned. */
		out->driver_off = align_up(16u * num, VH_VQ_CACHELINE);
		out->device_off = out->driver_off + VH_VQ_CACHELINE;
		out->size = out->device_off + VH_VQ_CACHELINE;
		return 0;
	}
	/* virtio 1.2 §2.7: avail = 6 + 2 * num bytes, used = 6 + 8 * num bytes. */
	out->driver_off = 16u * num;
	out->device_off = align_up(out->driver_off + 6u + 2u * num, VH_VQ_CACHELINE);
	out->size = align_up(out->device_off + 6u + 8u * num, VH_VQ_CACHELINE);
	return 0;
}

int vh_vq_create(const struct vh_vq_config *cfg, struct vh_vq **out)
{
	struct vh_vq_layout l;
	struct vh_vq *vq;

	*out = NULL;
	if (vh_vq_layout(cfg->num, cfg->packed, &l) < 0)
		return -EINVAL;
	if (posix_memalign((void **)&vq, VH_VQ_CACHELINE, sizeof(*vq)))
		return -ENOMEM;
	memset(vq, 0, sizeof(*vq));
	vq->num = (uint16_t)cfg->num;
	vq->mask = (uint16_t)(cfg->num - 1);
	vq->packed = cfg->packed;
	vq->event_idx = cfg->event_idx;
	vq->indirect = cfg->indirect;
	vq->in_order = cfg->in_order;
	vq->log = cfg->log;
	vq->notify_enabled = true;
	vq->avail_wrap = true;
	vq->used_wrap = true;
	snprintf(vq->name, sizeof(vq->name), "%s", cfg->name ? cfg->name : "vq");
	*out = vq;
	return 0;
}

void vh_vq_destroy(struct vh_vq **vq)
{
	if (!vq || !*vq)
		return;
	vq_inflight_free(*vq);
	free(*vq);
	*vq = NULL;
}

int vh_vq_set_addrs(struct vh_vq *vq, const struct vh_vq_addrs *a)
{
	uintptr_t d = (uintptr_t)a->desc, drv = (uintptr_t)a->driver, dev = (uintptr_t)a->device;
	uintptr_t drv_align = vq->packed ? 4 : 2;

	if (!d || !drv || !dev || (d & 15) || (drv & (drv_align - 1)) || (dev & 3)) {
		vh_logf(&vq->log, VH_LOG_ERR, vq->name,
			"SET_VRING_ADDR: misaligned or null ring: %s", strerror(EINVAL));
		return -EINVAL;
	}
	vq->desc = a->desc;
	vq->published = false;
	vq->driver = a->driver;
	vq->device = a->device;
	packed_log_gpa(vq);
	return 0;
}

void vh_vq_set_memmap(struct vh_vq *vq, const struct vh_memmap *m)
{
	vq->mem = m;
	packed_log_gpa(vq);
}

int vh_vq_set_base(struct vh_vq *vq, uint32_t base)
{
	uint16_t idx = (uint16_t)(base & 0xffff);

	if (vq->packed) {
		idx &= 0x7fff;
		if (idx >= vq->num || base > 0xffff)
			return -EINVAL;
		vq->avail_wrap = base >> VH_VQ_WRAP_SHIFT;
		vq->used_wrap = vq->avail_wrap;
	} else if (base > 0xffff) {
		return -EINVAL;
	}
	vq->last_avail_idx = idx;
	vq->shadow_avail_idx = idx;
	vq->used_idx = idx;
	vq->signalled_used = idx;
	vq->signalled_used_valid = false;
	vq->inflight = 0;
	vq->push_pending = false;
	vq->published = false;
	vq->broken = false;
	return 0;
}

uint32_t vh_vq_get_base(const struct vh_vq *vq)
{
	if (vq->packed)
		return vq->last_avail_idx | ((uint32_t)vq->avail_wrap << VH_VQ_WRAP_SHIFT);
	return vq->last_avail_idx;
}

int vh_vq_set_used_idx(struct vh_vq *vq, uint32_t used)
{
	if (vq->packed) {
		if ((used & 0x7fff) >= vq->num || used > 0xffff)
			return -EINVAL;
		vq->used_wrap = used >> VH_VQ_WRAP_SHIFT;
		used &= 0x7fff;
	} else if (used > 0xffff) {
		return -EINVAL;
	}
	vq->used_idx = (uint16_t)used;
	vq->signalled_used = (uint16_t)used;
	vq->signalled_used_valid = false;
	vq->inflight = vq->packed ? vq->num : (uint16_t)(vq->last_avail_idx - used);
	return 0;
}

int vh_vq_sync_used_idx(struct vh_vq *vq, uint16_t *old_idx, uint16_t *new_idx)
{
	const struct vring_used *u = vq->device;
	uint16_t used;

	if (!vq->desc)
		return -EINVAL;
	*old_idx = *new_idx = vq->used_idx;
	if (vq->packed || vq->resubmit_n || vq->inflight)
		return 0;
	/* Pairs with the release store that published it (virtio 1.2 §2.7.13.3). */
	used = le16toh(__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE));
	*new_idx = used;
	if (used == vq->used_idx)
		return 0;
	vq->used_idx = used;
	vq->last_avail_idx = used;
	vq->shadow_avail_idx = used;
	vq->signalled_used = used;
	vq->signalled_used_valid = false;
	vq->push_pending = false;
	vq->published = false;
	/* A fresh inflight region recorded the old position: nothing is in flight in it yet. */
	vq_inflight_set_used(vq, used);
	return 1;
}

/*
 * Packed rings write used descriptors into the descriptor ring (virtio 1.2 §2.8.5), which is
 * not what vhost-user's log_guest_addr names: find the ring's guest address ourselves.
 */
static void packed_log_gpa(struct vh_vq *vq)
{
	uint64_t gpa;

	if (!vq->packed || !vq->mem || !vq->desc)
		return;
	if (vh_memmap_host_to_gpa(vq->mem, vq->desc, &gpa) == 0)
		vq->used_gpa = gpa;
	if (vh_memmap_host_to_gpa(vq->mem, vq->device, &gpa) == 0)
		vq->event_gpa = gpa;
}

void vh_vq_set_log(struct vh_vq *vq, struct vh_dirty_log *log, uint64_t used_gpa)
{
	vq->dlog = log;
	vq->used_gpa = used_gpa;
	packed_log_gpa(vq);
}

bool vh_vq_is_broken(const struct vh_vq *vq)
{
	return vq->broken;
}

unsigned vh_vq_num(const struct vh_vq *vq)
{
	return vq->num;
}

/* A guest protocol violation: log once, then -EPROTO forever (until SET_VRING_BASE). */
int vq_fail(struct vh_vq *vq, const char *what)
{
	if (!vq->broken)
		vh_logf(&vq->log, VH_LOG_ERR, vq->name, "pop: %s: %s", what, strerror(EPROTO));
	vq->broken = true;
	return -EPROTO;
}

/*
 * Host address of an indirect table, or NULL with *err: -EAGAIN (IOTLB miss), -EPROTO (outside
 * memory), or 0 when the table is mapped but not contiguous in host memory (it straddles two
 * regions); the caller then reads it descriptor by descriptor with vq_read_indirect().
 */
const void *vq_map_indirect(struct vh_vq *vq, uint64_t gpa, uint32_t len, int *err)
{
	struct iovec iov;
	int n;

	/* virtio 1.2 §2.7.5.3.1: the table holds len / 16 descriptors. */
	if (len == 0 || (len & 15)) {
		*err = vq_fail(vq, "indirect table length not a multiple of 16");
		return NULL;
	}
	if (len / 16 > VH_VQ_INDIRECT_MAX) {
		*err = vq_fail(vq, "indirect table longer than 65536 descriptors");
		return NULL;
	}
	n = vh_mem_translate(vq->mem, gpa, len, VH_MEM_READ, &iov, 1);
	/* The spec asks no alignment of the table: an odd one is copied out like a straddler. */
	if (n == 1 && ((uintptr_t)iov.iov_base & 7)) {
		*err = 0;
		return NULL;
	}
	if (n == 1) {
		*err = 0;
		return iov.iov_base;
	}
	if (n == -ENOBUFS) {
		*err = 0;
		return NULL;
	}
	*err = n == -EAGAIN ? -EAGAIN : vq_fail(vq, "indirect table outside guest memory");
	return NULL;
}

/* Slow path: copy descriptor @i of a table that straddles host mappings. */
int vq_read_indirect(struct vh_vq *vq, uint64_t gpa, unsigned i, void *desc16)
{
	struct iovec iov[2];
	uint8_t *p = desc16;
	int n, k;

	n = vh_mem_translate(vq->mem, gpa + 16ull * i, 16, VH_MEM_READ, iov, 2);
	if (n < 0)
		return n == -EAGAIN ? -EAGAIN : vq_fail(vq, "indirect table outside guest memory");
	for (k = 0; k < n; k++) {
		memcpy(p, iov[k].iov_base, iov[k].iov_len);
		p += iov[k].iov_len;
	}
	return 0;
}

/* Our writes to the suppression fields (used flags/avail_event, device event area) too. */
void vq_log_event(struct vh_vq *vq)
{
	if (vh_likely(vq->dlog == NULL))
		return;
	if (vq->packed) {
		if (vq->event_gpa)
			vh_dirty_log_mark(vq->dlog, vq->event_gpa,
					  sizeof(struct vring_packed_desc_event));
		return;
	}
	vh_dirty_log_mark(vq->dlog, vq->used_gpa, offsetof(struct vring_used, idx));
	vh_dirty_log_mark(vq->dlog,
			  vq->used_gpa + offsetof(struct vring_used, ring) +
			      sizeof(struct vring_used_elem) * vq->num,
			  sizeof(uint16_t));
}

/* The bytes a device wrote into guest memory are dirty (DESIGN.md: a device cannot forget). */
void vq_log_written(struct vh_vq *vq, const struct vh_vq_elem *elem, uint32_t written)
{
	if (written && elem->in_num)
		vh_dirty_log_mark_iov(vq->dlog, vq->mem, elem->iov + elem->out_num, elem->in_num,
				      written);
}

int vh_vq_pop(struct vh_vq *vq, struct vh_vq_elem *elem)
{
	if (vh_unlikely(vq->broken))
		return -EPROTO;
	if (vh_unlikely(!vq->desc))
		return 0;
	if (vh_unlikely(vq->resubmit_n != 0))
		return vq_inflight_resubmit(vq, elem);
	if (vq->packed)
		return vq_packed_pop(vq, elem);
	return vq_split_pop(vq, elem);
}

int vh_vq_push(struct vh_vq *vq, const struct vh_vq_elem *elem, uint32_t written)
{
	if (vh_unlikely(vq->broken))
		return -EPROTO;
	if (vh_unlikely(!vq->inflight || elem->id >= vq->num))
		return -EINVAL;
	if (written > elem->in_len)
		written = (uint32_t)elem->in_len;
	vq->inflight--;
	vq->push_pending = true;
	if (vq->packed)
		vq_packed_push(vq, elem, written);
	else
		vq_split_push(vq, elem, written);
	return 0;
}

void vh_vq_flush(struct vh_vq *vq)
{
	if (!vq->packed && vq->desc)
		vq_split_flush(vq);
}

bool vh_vq_needs_notify(struct vh_vq *vq)
{
	if (vh_unlikely(!vq->desc) || !vq->push_pending)
		return false;
	vq->push_pending = false;
	if (vq->packed)
		return vq_packed_needs_notify(vq);
	return vq_split_needs_notify(vq);
}

int vh_vq_set_notification(struct vh_vq *vq, bool enable)
{
	if (vq->broken)
		return -EPROTO;
	vq->notify_enabled = enable;
	if (!vq->desc)
		return 0;
	if (vq->packed)
		return vq_packed_set_notification(vq, enable);
	return vq_split_set_notification(vq, enable);
}
