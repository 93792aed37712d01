// SPDX-License-Identifier: BSD-3-Clause
/*
 * Split virtqueue (virtio 1.2 §2.7): device side (pop, push, flush, notification decisions) and
 * driver side (add, publish, kick decision, reap).
 */
#include <string.h>

#include "vq/vq_internal.h"

/* virtio 1.2 §2.7.10: avail_event follows the used ring's num entries. */
static inline uint16_t *split_avail_event(void *used, uint16_t num)
{
	return (uint16_t *)((uint8_t *)used + offsetof(struct vring_used, ring) +
			    sizeof(struct vring_used_elem) * num);
}

static inline uint16_t *avail_event(struct vh_vq *vq)
{
	return split_avail_event(vq->device, vq->num);
}

static inline uint16_t *used_event(struct vring_avail *avail, uint16_t num)
{
	return &avail->ring[num];
}

/* One descriptor, read once: the guest may rewrite the table while we walk it. */
static inline void read_desc(const struct vring_desc *p, struct vring_desc *d)
{
	d->addr = le64toh(VQ_READ_ONCE(p->addr));
	d->len = le32toh(VQ_READ_ONCE(p->len));
	d->flags = le16toh(VQ_READ_ONCE(p->flags));
	d->next = le16toh(VQ_READ_ONCE(p->next));
}

struct split_table {
	const struct vring_desc *host; /* NULL: read through @gpa (straddling indirect table) */
	uint64_t gpa;
	unsigned max;
	bool indirect;
};

static int table_read(struct vh_vq *vq, const struct split_table *t, unsigned i,
		      struct vring_desc *d)
{
	struct vring_desc raw;
	int err;

	if (vh_likely(t->host != NULL)) {
		read_desc(&t->host[i], d);
		return 0;
	}
	err = vq_read_indirect(vq, t->gpa, i, &raw);
	if (err < 0)
		return err;
	read_desc(&raw, d);
	return 0;
}

/* Switch @t to the indirect table named by @d (virtio 1.2 §2.7.5.3). */
static int enter_indirect(struct vh_vq *vq, struct split_table *t, const struct vring_desc *d)
{
	int err;

	if (!vq->indirect)
		return vq_fail(vq, "indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC");
	/* §2.7.5.3.1: no nested tables; INDIRECT together with NEXT is forbidden. */
	if (t->indirect)
		return vq_fail(vq, "nested indirect table");
	if (d->flags & VRING_DESC_F_NEXT)
		return vq_fail(vq, "indirect descriptor with NEXT");
	t->host = vq_map_indirect(vq, d->addr, d->len, &err);
	if (!t->host && err)
		return err;
	t->gpa = d->addr;
	t->max = d->len / 16;
	t->indirect = true;
	return 0;
}

/*
 * Walk the chain starting at @head. Descriptors are counted against the table that holds them
 * (the ring size, or the indirect table's length), which refuses loops and over-long chains.
 */
static __attribute__((noinline)) int split_walk_chain(struct vh_vq *vq, struct vh_vq_elem *elem,
						      uint16_t head)
{
	struct split_table t = { .host = vq->desc, .max = vq->num };
	unsigned i = head, count = 0, ring_count = 0;
	struct vring_desc d;
	int err;

	for (;;) {
		if (vh_unlikely(i >= t.max))
			return vq_fail(vq, "descriptor index out of range");
		if (vh_unlikely(++count > t.max))
			return vq_fail(vq, "descriptor chain longer than its table (loop)");
		err = table_read(vq, &t, i, &d);
		if (err < 0)
			return err;
		if (!t.indirect)
			ring_count++;
		if (d.flags & VRING_DESC_F_INDIRECT) {
			err = enter_indirect(vq, &t, &d);
			if (err < 0)
				return err;
			i = 0;
			count = 0;
			continue;
		}
		err = vq_map_desc(vq, elem, d.addr, d.len, d.flags & VRING_DESC_F_WRITE);
		if (vh_unlikely(err < 0))
			return err;
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		i = d.next;
	}
	elem->ndesc = (uint16_t)ring_count;
	return 0;
}

int vq_split_walk(struct vh_vq *vq, struct vh_vq_elem *elem, uint16_t head)
{
	const struct vring_desc *p = &((const struct vring_desc *)vq->desc)[head];
	uint16_t flags = le16toh(VQ_READ_ONCE(p->flags));

	elem->out_num = 0;
	elem->in_num = 0;
	elem->out_len = 0;
	elem->in_len = 0;
	elem->id = head;
	/* A chain of one direct descriptor (what network drivers send): no table walk. The flags
	 * are read once; a descriptor rewritten meanwhile is the driver's bug, not ours. */
	if (vh_likely(!(flags & (VRING_DESC_F_NEXT | VRING_DESC_F_INDIRECT)))) {
		int err = vq_map_desc(vq, elem, le64toh(VQ_READ_ONCE(p->addr)),
				      le32toh(VQ_READ_ONCE(p->len)), flags & VRING_DESC_F_WRITE);

		elem->ndesc = 1;
		return err;
	}
	return split_walk_chain(vq, elem, head);
}

/* virtio 1.2 §2.7.13.3: the avail idx is read with acquire before the ring entries it covers. */
static int refresh_avail(struct vh_vq *vq)
{
	struct vring_avail *avail = vq->driver;
	uint16_t idx = le16toh(__atomic_load_n(&avail->idx, __ATOMIC_ACQUIRE));

	if (vh_unlikely((uint16_t)(idx - vq->last_avail_idx) > vq->num))
		return vq_fail(vq, "avail idx moved more than the ring size");
	vq->shadow_avail_idx = idx;
	return idx != vq->last_avail_idx;
}

/*
 * The ring looks empty. With notifications enabled, publish avail_event so the driver kicks for
 * the next buffer, then look again: a buffer added between the two reads would otherwise sleep
 * until the next kick (virtio 1.2 §2.7.10).
 */
static int split_empty(struct vh_vq *vq)
{
	if (!vq->notify_enabled || !vq->event_idx)
		return 0;
	VQ_WRITE_ONCE(*avail_event(vq), htole16(vq->last_avail_idx));
	vq_log_event(vq);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return refresh_avail(vq);
}

int vq_split_pop(struct vh_vq *vq, struct vh_vq_elem *elem)
{
	struct vring_avail *avail = vq->driver;
	uint16_t head;
	int err;

	if (vq->last_avail_idx == vq->shadow_avail_idx) {
		err = refresh_avail(vq);
		if (err == 0)
			err = split_empty(vq);
		if (err <= 0)
			return err;
	}
	head = le16toh(VQ_READ_ONCE(avail->ring[vq->last_avail_idx & vq->mask]));
	if (vh_unlikely(head >= vq->num))
		return vq_fail(vq, "avail ring head index out of range");
	err = vq_split_walk(vq, elem, head);
	if (vh_unlikely(err < 0))
		return err;
	if (vh_unlikely(vq->infl != NULL))
		vq_inflight_pop(vq, head);
	vq->last_avail_idx++;
	vq->inflight++;
	return 1;
}

void vq_split_push(struct vh_vq *vq, const struct vh_vq_elem *elem, uint32_t written)
{
	struct vring_used *used = vq->device;
	uint16_t slot = vq->used_idx & vq->mask;

	VQ_WRITE_ONCE(used->ring[slot].id, htole32(elem->id));
	VQ_WRITE_ONCE(used->ring[slot].len, htole32(written));
	vq->used_idx++;
	vq->published = false;
	if (vh_unlikely(vq->infl != NULL))
		vq_inflight_push(vq, elem->id);
	if (vh_unlikely(vq->dlog != NULL)) {
		vh_dirty_log_mark(vq->dlog,
				  vq->used_gpa + offsetof(struct vring_used, ring) +
				      sizeof(struct vring_used_elem) * slot,
				  sizeof(struct vring_used_elem));
		vq_log_written(vq, elem, written);
	}
}

void vq_split_flush(struct vh_vq *vq)
{
	struct vring_used *used = vq->device;

	/*
	 * Nothing pushed since the last store: leave the idx alone. The driver polls that cache
	 * line; storing the same value again would take it away from the driver's core on every
	 * idle polling round.
	 */
	if (vq->published)
		return;
	vq->published = true;
	/* virtio 1.2 §2.7.13.3 (device side, §2.7.8): entries before the idx that covers them. */
	__atomic_store_n(&used->idx, htole16(vq->used_idx), __ATOMIC_RELEASE);
	if (vh_unlikely(vq->infl != NULL))
		vq_inflight_flush(vq);
	if (vh_unlikely(vq->dlog != NULL))
		vh_dirty_log_mark(vq->dlog, vq->used_gpa + offsetof(struct vring_used, idx),
				  sizeof(used->idx));
}

bool vq_split_needs_notify(struct vh_vq *vq)
{
	struct vring_avail *avail = vq->driver;
	uint16_t old = vq->signalled_used, new_idx = vq->used_idx;
	bool valid = vq->signalled_used_valid;

	/* The used idx store must be visible before we read the driver's suppression state. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(le16toh(VQ_READ_ONCE(avail->flags)) & VRING_AVAIL_F_NO_INTERRUPT);
	vq->signalled_used = new_idx;
	vq->signalled_used_valid = true;
	if (!valid)
		return true;
	return vq_need_event(le16toh(VQ_READ_ONCE(*used_event(avail, vq->num))), new_idx, old);
}

int vq_split_set_notification(struct vh_vq *vq, bool enable)
{
	struct vring_used *used = vq->device;
	uint16_t flags = le16toh(VQ_READ_ONCE(used->flags));

	if (vq->event_idx) {
		/* virtio 1.2 §2.7.10: with EVENT_IDX the flag is unused; avail_event says when. */
		if (!enable)
			return 0;
		VQ_WRITE_ONCE(*avail_event(vq), htole16(vq->last_avail_idx));
		vq_log_event(vq);
	} else {
		flags = enable ? flags & ~VRING_USED_F_NO_NOTIFY : flags | VRING_USED_F_NO_NOTIFY;
		VQ_WRITE_ONCE(used->flags, htole16(flags));
		vq_log_event(vq);
		if (!enable)
			return 0;
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return refresh_avail(vq);
}

/* ------------------------------------------------------------------------------------------ */
/* Driver side                                                                                  */
/* ------------------------------------------------------------------------------------------ */

void vq_split_drv_init(struct vh_vq_driver *d)
{
	unsigned i;

	for (i = 0; i < d->num; i++)
		d->next_free[i] = (uint16_t)(i + 1);
	d->free_head = 0;
	d->num_free = d->num;
}

static void write_desc(struct vring_desc *p, uint64_t addr, uint32_t len, uint16_t flags,
		       uint16_t next)
{
	p->addr = htole64(addr);
	p->len = htole32(len);
	p->flags = htole16(flags);
	p->next = htole16(next);
}

static int split_add_indirect(struct vh_vq_driver *d, const struct vh_vq_driver_req *req,
			      uint16_t head)
{
	unsigned n = req->out_num + req->in_num, i;
	struct vring_desc *table;
	uint64_t gpa;

	table = vq_drv_indirect_table(d, head, &gpa);
	for (i = 0; i < n; i++) {
		uint16_t flags = i + 1 < n ? VRING_DESC_F_NEXT : 0;

		if (i >= req->out_num)
			flags |= VRING_DESC_F_WRITE;
		write_desc(&table[i], req->bufs[i].gpa, req->bufs[i].len, flags, (uint16_t)(i + 1));
	}
	write_desc(&((struct vring_desc *)d->desc)[head], gpa, 16u * n, VRING_DESC_F_INDIRECT, 0);
	return 1;
}

int vq_split_drv_add(struct vh_vq_driver *d, const struct vh_vq_driver_req *req)
{
	struct vring_avail *avail = d->driver;
	struct vring_desc *desc = d->desc;
	unsigned n = req->out_num + req->in_num, need = req->indirect ? 1 : n, i;
	uint16_t head = d->free_head, cur = head, last = head;

	if (need > d->num_free)
		return -ENOSPC;
	if (req->indirect) {
		split_add_indirect(d, req, head);
		cur = d->next_free[head];
	} else {
		for (i = 0; i < n; i++) {
			uint16_t flags = i + 1 < n ? VRING_DESC_F_NEXT : 0;

			if (i >= req->out_num)
				flags |= VRING_DESC_F_WRITE;
			last = cur;
			write_desc(&desc[cur], req->bufs[i].gpa, req->bufs[i].len, flags,
				   d->next_free[cur]);
			cur = d->next_free[cur];
		}
	}
	d->free_head = cur;
	d->num_free = (uint16_t)(d->num_free - need);
	d->slots[head].token = req->token;
	d->slots[head].ndesc = (uint16_t)need;
	d->slots[head].last = last;
	VQ_WRITE_ONCE(avail->ring[d->avail_idx & d->mask], htole16(head));
	d->avail_idx++;
	return 0;
}

int vq_split_drv_add_one(struct vh_vq_driver *d, uint64_t gpa, uint32_t len, uint16_t flags,
			 void *token)
{
	struct vring_avail *avail = d->driver;
	uint16_t head = d->free_head;

	if (vh_unlikely(d->num_free == 0))
		return -ENOSPC;
	/* No NEXT flag: the next field is not read (virtio 1.2 §2.7.5). */
	write_desc(&((struct vring_desc *)d->desc)[head], gpa, len, flags, 0);
	d->free_head = d->next_free[head];
	d->num_free--;
	d->slots[head] = (struct vh_vq_drv_slot){ .token = token, .ndesc = 1, .last = head };
	VQ_WRITE_ONCE(avail->ring[d->avail_idx & d->mask], htole16(head));
	d->avail_idx++;
	return 0;
}

void vq_split_drv_publish(struct vh_vq_driver *d)
{
	struct vring_avail *avail = d->driver;

	/* virtio 1.2 §2.7.13.2: ring entries and descriptors before the idx that covers them. */
	__atomic_store_n(&avail->idx, htole16(d->avail_idx), __ATOMIC_RELEASE);
}

bool vq_split_drv_kick_needed(struct vh_vq_driver *d)
{
	struct vring_used *used = d->device;
	uint16_t old = d->kicked_avail, new_idx = d->avail_idx;

	vq_split_drv_publish(d);
	/* The idx store must be visible before we read the device's suppression state. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	d->kicked_avail = new_idx;
	if (old == new_idx)
		return false;
	if (d->event_idx)
		return vq_need_event(le16toh(VQ_READ_ONCE(*split_avail_event(used, d->num))),
				     new_idx, old);
	return !(le16toh(VQ_READ_ONCE(used->flags)) & VRING_USED_F_NO_NOTIFY);
}

int vq_split_drv_get_used(struct vh_vq_driver *d, void **token, uint32_t *len)
{
	struct vring_used *used = d->device;
	struct vh_vq_drv_slot *s;
	uint32_t id;

	if (d->last_used == d->shadow_used) {
		uint16_t idx = le16toh(__atomic_load_n(&used->idx, __ATOMIC_ACQUIRE));

		if ((uint16_t)(idx - d->last_used) > (uint16_t)(d->avail_idx - d->last_used))
			return vq_drv_fail(d, "used idx moved past the buffers made available");
		d->shadow_used = idx;
		if (idx == d->last_used)
			return 0;
	}
	id = le32toh(VQ_READ_ONCE(used->ring[d->last_used & d->mask].id));
	if (id >= d->num || !d->slots[id].token)
		return vq_drv_fail(d, "used id out of range or not in flight");
	s = &d->slots[id];
	*len = le32toh(VQ_READ_ONCE(used->ring[d->last_used & d->mask].len));
	*token = s->token;
	s->token = NULL;
	d->next_free[s->last] = d->free_head;
	d->free_head = (uint16_t)id;
	d->num_free = (uint16_t)(d->num_free + s->ndesc);
	d->last_used++;
	return 1;
}

int vq_split_drv_set_notification(struct vh_vq_driver *d, bool enable)
{
	struct vring_avail *avail = d->driver;
	uint16_t flags = le16toh(VQ_READ_ONCE(avail->flags));

	if (d->event_idx) {
		if (!enable)
			return 0;
		VQ_WRITE_ONCE(*used_event(avail, d->num), htole16(d->last_used));
	} else {
		flags = enable ? flags & ~VRING_AVAIL_F_NO_INTERRUPT
			       : flags | VRING_AVAIL_F_NO_INTERRUPT;
		VQ_WRITE_ONCE(avail->flags, htole16(flags));
		if (!enable)
			return 0;
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return le16toh(__atomic_load_n(&((struct vring_used *)d->device)->idx, __ATOMIC_ACQUIRE)) !=
	       d->last_used;
}
