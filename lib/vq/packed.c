// SPDX-License-Identifier: BSD-3-Clause
/*
 * Packed virtqueue (virtio 1.2 §2.8): device side (pop, push, notification decisions) and driver
 * side (add, kick decision, reap). Availability is carried by the AVAIL/USED flag bits compared
 * against each side's wrap counter, so there is no index to publish.
 */
#include <string.h>

#include "vq/vq_internal.h"

/* virtio 1.2 §2.8.1: available when AVAIL == wrap counter and USED != it. */
static inline bool desc_is_avail(uint16_t flags, bool wrap)
{
	return (bool)(flags & VH_VQ_PACKED_AVAIL) == wrap &&
	       (bool)(flags & VH_VQ_PACKED_USED) != wrap;
}

/* virtio 1.2 §2.8.1: used when AVAIL == USED == the driver's used wrap counter. */
static inline bool desc_is_used(uint16_t flags, bool wrap)
{
	return (bool)(flags & VH_VQ_PACKED_AVAIL) == wrap &&
	       (bool)(flags & VH_VQ_PACKED_USED) == wrap;
}

static inline uint16_t load_flags_acquire(const struct vring_packed_desc *p)
{
	return le16toh(__atomic_load_n(&p->flags, __ATOMIC_ACQUIRE));
}

static inline void read_pdesc(const struct vring_packed_desc *p, struct vring_packed_desc *d)
{
	d->addr = le64toh(VQ_READ_ONCE(p->addr));
	d->len = le32toh(VQ_READ_ONCE(p->len));
	d->id = le16toh(VQ_READ_ONCE(p->id));
	d->flags = le16toh(VQ_READ_ONCE(p->flags));
}

static inline uint16_t wrap_bit(bool wrap)
{
	return (uint16_t)((unsigned)wrap << VH_VQ_WRAP_SHIFT);
}

/*
 * An indirect table (virtio 1.2 §2.8.7): every one of its len / 16 entries is a buffer, in order;
 * entries may not be indirect themselves.
 */
int vq_packed_indirect(struct vh_vq *vq, struct vh_vq_elem *elem,
		       const struct vring_packed_desc *ind)
{
	const struct vring_packed_desc *table;
	struct vring_packed_desc d, raw;
	unsigned i, n;
	int err;

	if (!vq->indirect)
		return vq_fail(vq, "indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC");
	if (ind->flags & VRING_DESC_F_NEXT)
		return vq_fail(vq, "indirect descriptor with NEXT");
	table = vq_map_indirect(vq, ind->addr, ind->len, &err);
	if (!table && err)
		return err;
	n = ind->len / 16;
	for (i = 0; i < n; i++) {
		if (table) {
			read_pdesc(&table[i], &d);
		} else {
			err = vq_read_indirect(vq, ind->addr, i, &raw);
			if (err < 0)
				return err;
			read_pdesc(&raw, &d);
		}
		if (d.flags & VRING_DESC_F_INDIRECT)
			return vq_fail(vq, "nested indirect table");
		err = vq_map_desc(vq, elem, d.addr, d.len, d.flags & VRING_DESC_F_WRITE);
		if (err < 0)
			return err;
	}
	return 0;
}

/* Walk the chain at last_avail_idx; its head is known to be available. */
static int packed_walk(struct vh_vq *vq, struct vh_vq_elem *elem)
{
	const struct vring_packed_desc *ring = vq->desc;
	uint16_t slot = vq->last_avail_idx;
	bool wrap = vq->avail_wrap;
	struct vring_packed_desc d;
	unsigned count = 0;
	int err;

	for (;;) {
		read_pdesc(&ring[slot], &d);
		/* §2.8.6: the driver marks every descriptor of the chain with its wrap counter. */
		if (count && vh_unlikely(!desc_is_avail(d.flags, wrap)))
			return vq_fail(vq,
				       "chained descriptor not available (wrap counter mismatch)");
		count++;
		if (d.flags & VRING_DESC_F_INDIRECT)
			err = vq_packed_indirect(vq, elem, &d);
		else
			err = vq_map_desc(vq, elem, d.addr, d.len, d.flags & VRING_DESC_F_WRITE);
		if (vh_unlikely(err < 0))
			return err;
		if (!(d.flags & VRING_DESC_F_NEXT) || (d.flags & VRING_DESC_F_INDIRECT))
			break;
		if (vh_unlikely(count >= vq->num))
			return vq_fail(vq, "descriptor chain longer than the ring");
		if (++slot == vq->num) {
			slot = 0;
			wrap = !wrap;
		}
	}
	/* §2.8.6: the buffer id travels in the last descriptor of the chain. */
	if (vh_unlikely(d.id >= vq->num))
		return vq_fail(vq, "buffer id out of range");
	elem->id = d.id;
	elem->ndesc = (uint16_t)count;
	return 0;
}

/* Like split_empty(): ask for a kick at the next slot, then look once more. */
static bool packed_empty_recheck(struct vh_vq *vq)
{
	struct vring_packed_desc_event *ev = vq->device;
	const struct vring_packed_desc *ring = vq->desc;

	if (!vq->notify_enabled || !vq->event_idx)
		return false;
	VQ_WRITE_ONCE(ev->off_wrap, htole16(vq->last_avail_idx | wrap_bit(vq->avail_wrap)));
	VQ_WRITE_ONCE(ev->flags, htole16(VRING_PACKED_EVENT_FLAG_DESC));
	vq_log_event(vq);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return desc_is_avail(load_flags_acquire(&ring[vq->last_avail_idx]), vq->avail_wrap);
}

/* A chain of one direct descriptor (what network drivers send), its flags already read. */
static int packed_one(struct vh_vq *vq, struct vh_vq_elem *elem, uint16_t flags)
{
	const struct vring_packed_desc *p =
	    &((const struct vring_packed_desc *)vq->desc)[vq->last_avail_idx];
	uint16_t id = le16toh(VQ_READ_ONCE(p->id));
	int err;

	err = vq_map_desc(vq, elem, le64toh(VQ_READ_ONCE(p->addr)), le32toh(VQ_READ_ONCE(p->len)),
			  flags & VRING_DESC_F_WRITE);
	if (vh_unlikely(err < 0))
		return err;
	if (vh_unlikely(id >= vq->num))
		return vq_fail(vq, "buffer id out of range");
	elem->id = id;
	elem->ndesc = 1;
	return 0;
}

int vq_packed_pop(struct vh_vq *vq, struct vh_vq_elem *elem)
{
	const struct vring_packed_desc *ring = vq->desc;
	uint16_t flags;
	unsigned next;
	int err;

	/* virtio 1.2 §2.8.21: the flags are read with acquire before the rest of the chain. */
	flags = load_flags_acquire(&ring[vq->last_avail_idx]);
	if (!desc_is_avail(flags, vq->avail_wrap)) {
		if (!packed_empty_recheck(vq))
			return 0;
		flags = load_flags_acquire(&ring[vq->last_avail_idx]);
	}
	elem->out_num = 0;
	elem->in_num = 0;
	elem->out_len = 0;
	elem->in_len = 0;
	if (vh_likely(!(flags & (VRING_DESC_F_NEXT | VRING_DESC_F_INDIRECT))))
		err = packed_one(vq, elem, flags);
	else
		err = packed_walk(vq, elem);
	if (vh_unlikely(err < 0))
		return err;
	if (vh_unlikely(vq->infl_p != NULL))
		vq_inflight_packed_pop(vq, elem);
	next = vq->last_avail_idx + elem->ndesc;
	if (next >= vq->num) {
		next -= vq->num;
		vq->avail_wrap = !vq->avail_wrap;
	}
	vq->last_avail_idx = (uint16_t)next;
	vq->inflight++;
	return 1;
}

void vq_packed_push(struct vh_vq *vq, const struct vh_vq_elem *elem, uint32_t written)
{
	struct vring_packed_desc *p = &((struct vring_packed_desc *)vq->desc)[vq->used_idx];
	uint16_t flags = vq->used_wrap ? VH_VQ_PACKED_AVAIL | VH_VQ_PACKED_USED : 0;
	unsigned next;

	if (vh_unlikely(vq->infl_p != NULL))
		vq_inflight_packed_push(vq, elem->id);
	VQ_WRITE_ONCE(p->id, htole16(elem->id));
	VQ_WRITE_ONCE(p->len, htole32(written));
	if (written)
		flags |= VRING_DESC_F_WRITE;
	/* virtio 1.2 §2.8.21: id and len before the flags that make the descriptor used. */
	__atomic_store_n(&p->flags, htole16(flags), __ATOMIC_RELEASE);
	if (vh_unlikely(vq->infl_p != NULL))
		vq_inflight_packed_pushed(vq, elem->id);
	if (vh_unlikely(vq->dlog != NULL)) {
		vh_dirty_log_mark(vq->dlog, vq->used_gpa + 16ull * vq->used_idx, 16);
		vq_log_written(vq, elem, written);
	}
	next = vq->used_idx + elem->ndesc;
	if (next >= vq->num) {
		next -= vq->num;
		vq->used_wrap = !vq->used_wrap;
	}
	vq->used_idx = (uint16_t)next;
}

bool vq_packed_needs_notify(struct vh_vq *vq)
{
	struct vring_packed_desc_event *ev = vq->driver;
	uint16_t old = vq->signalled_used, new_idx = vq->used_idx, flags;
	bool valid = vq->signalled_used_valid;

	/* The used flags must be visible before we read the driver's suppression state. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq->signalled_used = new_idx;
	vq->signalled_used_valid = true;
	flags = le16toh(VQ_READ_ONCE(ev->flags));
	if (flags == VRING_PACKED_EVENT_FLAG_DISABLE)
		return false;
	if (flags != VRING_PACKED_EVENT_FLAG_DESC || !vq->event_idx || !valid)
		return true;
	return vq_packed_need_event(le16toh(VQ_READ_ONCE(ev->off_wrap)), new_idx, vq->used_wrap,
				    old, vq->num);
}

int vq_packed_set_notification(struct vh_vq *vq, bool enable)
{
	struct vring_packed_desc_event *ev = vq->device;
	const struct vring_packed_desc *ring = vq->desc;

	if (!enable) {
		VQ_WRITE_ONCE(ev->flags, htole16(VRING_PACKED_EVENT_FLAG_DISABLE));
		vq_log_event(vq);
		return 0;
	}
	if (vq->event_idx) {
		VQ_WRITE_ONCE(ev->off_wrap, htole16(vq->last_avail_idx | wrap_bit(vq->avail_wrap)));
		VQ_WRITE_ONCE(ev->flags, htole16(VRING_PACKED_EVENT_FLAG_DESC));
	} else {
		VQ_WRITE_ONCE(ev->flags, htole16(VRING_PACKED_EVENT_FLAG_ENABLE));
	}
	vq_log_event(vq);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return desc_is_avail(load_flags_acquire(&ring[vq->last_avail_idx]), vq->avail_wrap);
}

/* ------------------------------------------------------------------------------------------ */
/* Driver side                                                                                  */
/* ------------------------------------------------------------------------------------------ */

void vq_packed_drv_init(struct vh_vq_driver *d)
{
	unsigned i;

	/* Buffer ids are a stack: next_free[0 .. free_head) are free. */
	for (i = 0; i < d->num; i++)
		d->next_free[i] = (uint16_t)(d->num - 1 - i);
	d->free_head = d->num;
	d->num_free = d->num;
	d->avail_wrap = true;
	d->used_wrap = true;
	d->kicked_wrap = true;
}

static void write_pdesc(struct vring_packed_desc *p, const struct vring_packed_desc *d)
{
	p->addr = htole64(d->addr);
	p->len = htole32(d->len);
	p->id = htole16(d->id);
}

/* Fill the buffer's indirect table; return the ring descriptor that points at it. */
static struct vring_packed_desc packed_drv_indirect(struct vh_vq_driver *d,
						    const struct vh_vq_driver_req *req, uint16_t id)
{
	unsigned n = req->out_num + req->in_num, i;
	struct vring_packed_desc *table, r;
	uint64_t gpa;

	table = vq_drv_indirect_table(d, id, &gpa);
	for (i = 0; i < n; i++) {
		table[i].addr = htole64(req->bufs[i].gpa);
		table[i].len = htole32(req->bufs[i].len);
		table[i].id = 0;
		table[i].flags = htole16(i >= req->out_num ? VRING_DESC_F_WRITE : 0);
	}
	r.addr = gpa;
	r.len = 16u * n;
	r.id = id;
	r.flags = VRING_DESC_F_INDIRECT;
	return r;
}

int vq_packed_drv_add(struct vh_vq_driver *d, const struct vh_vq_driver_req *req)
{
	struct vring_packed_desc *ring = d->desc, x;
	unsigned n = req->out_num + req->in_num, need = req->indirect ? 1 : n, i;
	uint16_t slot = d->avail_idx, head = slot, head_flags = 0, id;
	bool wrap = d->avail_wrap;

	if (need > d->num_free || d->free_head == 0)
		return -ENOSPC;
	id = d->next_free[--d->free_head];
	for (i = 0; i < need; i++) {
		uint16_t flags = wrap ? VH_VQ_PACKED_AVAIL : VH_VQ_PACKED_USED;

		if (req->indirect) {
			x = packed_drv_indirect(d, req, id);
		} else {
			x.addr = req->bufs[i].gpa;
			x.len = req->bufs[i].len;
			x.id = id;
			x.flags = (uint16_t)((i + 1 < n ? VRING_DESC_F_NEXT : 0) |
					     (i >= req->out_num ? VRING_DESC_F_WRITE : 0));
		}
		flags |= x.flags;
		write_pdesc(&ring[slot], &x);
		if (i == 0)
			head_flags = flags;
		else
			VQ_WRITE_ONCE(ring[slot].flags, htole16(flags));
		if (++slot == d->num) {
			slot = 0;
			wrap = !wrap;
		}
	}
	d->slots[id].token = req->token;
	d->slots[id].ndesc = (uint16_t)need;
	d->avail_idx = slot;
	d->avail_wrap = wrap;
	d->num_free = (uint16_t)(d->num_free - need);
	/* virtio 1.2 §2.8.21: the head's flags last, with release: they publish the chain. */
	__atomic_store_n(&ring[head].flags, htole16(head_flags), __ATOMIC_RELEASE);
	return 0;
}

int vq_packed_drv_add_one(struct vh_vq_driver *d, uint64_t gpa, uint32_t len, uint16_t flags,
			  void *token)
{
	struct vring_packed_desc *ring = d->desc;
	uint16_t slot = d->avail_idx, id;
	struct vring_packed_desc x;

	if (vh_unlikely(d->num_free == 0 || d->free_head == 0))
		return -ENOSPC;
	id = d->next_free[--d->free_head];
	x = (struct vring_packed_desc){ .addr = gpa, .len = len, .id = id };
	write_pdesc(&ring[slot], &x);
	flags |= d->avail_wrap ? VH_VQ_PACKED_AVAIL : VH_VQ_PACKED_USED;
	d->slots[id].token = token;
	d->slots[id].ndesc = 1;
	if (++d->avail_idx == d->num) {
		d->avail_idx = 0;
		d->avail_wrap = !d->avail_wrap;
	}
	d->num_free--;
	/* virtio 1.2 §2.8.21: the flags last, with release: they publish the descriptor. */
	__atomic_store_n(&ring[slot].flags, htole16(flags), __ATOMIC_RELEASE);
	return 0;
}

bool vq_packed_drv_kick_needed(struct vh_vq_driver *d)
{
	struct vring_packed_desc_event *ev = d->device;
	uint16_t old = d->kicked_avail, new_idx = d->avail_idx, flags;
	bool old_wrap = d->kicked_wrap;

	/* The descriptor flags must be visible before we read the device's suppression state. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	d->kicked_avail = new_idx;
	d->kicked_wrap = d->avail_wrap;
	if (old == new_idx && old_wrap == d->avail_wrap)
		return false;
	flags = le16toh(VQ_READ_ONCE(ev->flags));
	if (flags == VRING_PACKED_EVENT_FLAG_DISABLE)
		return false;
	if (flags != VRING_PACKED_EVENT_FLAG_DESC || !d->event_idx)
		return true;
	return vq_packed_need_event(le16toh(VQ_READ_ONCE(ev->off_wrap)), new_idx, d->avail_wrap,
				    old, d->num);
}

int vq_packed_drv_get_used(struct vh_vq_driver *d, void **token, uint32_t *len)
{
	struct vring_packed_desc *p = &((struct vring_packed_desc *)d->desc)[d->last_used];
	struct vh_vq_drv_slot *s;
	unsigned next;
	uint16_t id;

	if (!desc_is_used(load_flags_acquire(p), d->used_wrap))
		return 0;
	id = le16toh(VQ_READ_ONCE(p->id));
	if (id >= d->num || !d->slots[id].token)
		return vq_drv_fail(d, "used buffer id out of range or not in flight");
	s = &d->slots[id];
	*len = le32toh(VQ_READ_ONCE(p->len));
	*token = s->token;
	s->token = NULL;
	next = d->last_used + s->ndesc;
	if (next >= d->num) {
		next -= d->num;
		d->used_wrap = !d->used_wrap;
	}
	d->last_used = (uint16_t)next;
	d->num_free = (uint16_t)(d->num_free + s->ndesc);
	d->next_free[d->free_head++] = id;
	return 1;
}

int vq_packed_drv_set_notification(struct vh_vq_driver *d, bool enable)
{
	struct vring_packed_desc_event *ev = d->driver;
	const struct vring_packed_desc *ring = d->desc;

	if (!enable) {
		VQ_WRITE_ONCE(ev->flags, htole16(VRING_PACKED_EVENT_FLAG_DISABLE));
		return 0;
	}
	if (d->event_idx) {
		VQ_WRITE_ONCE(ev->off_wrap, htole16(d->last_used | wrap_bit(d->used_wrap)));
		VQ_WRITE_ONCE(ev->flags, htole16(VRING_PACKED_EVENT_FLAG_DESC));
	} else {
		VQ_WRITE_ONCE(ev->flags, htole16(VRING_PACKED_EVENT_FLAG_ENABLE));
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return desc_is_used(load_flags_acquire(&ring[d->last_used]), d->used_wrap);
}
