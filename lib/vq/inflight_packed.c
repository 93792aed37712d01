// SPDX-License-Identifier: BSD-3-Clause
/*
 * Inflight I/O tracking for packed rings (vhost-user.rst, QueueRegionPacked / DescStatePacked).
 *
 * Used descriptors overwrite the ring, so the region keeps a copy of every descriptor of an
 * in-flight chain. The copies live in a free list of num entries: a pop takes ndesc entries from
 * free_head (the head entry records num, last, counter and the in-flight flag), a push returns
 * them and advances the region's used position. The old_* fields are the state after the last
 * completed push; a restarted backend uses them to finish or roll back an interrupted one.
 */
#include <stdlib.h>
#include <string.h>

#include "vq/vq_internal.h"

struct vh_inflight_packed_desc {
	uint8_t inflight;
	uint8_t padding;
	uint16_t next;
	uint16_t last;
	uint16_t num;
	uint64_t counter;
	uint16_t id;
	uint16_t flags;
	uint32_t len;
	uint64_t addr;
};

struct vh_inflight_packed {
	uint64_t features;
	uint16_t version;
	uint16_t desc_num;
	uint16_t free_head;
	uint16_t old_free_head;
	uint16_t used_idx;
	uint16_t old_used_idx;
	uint8_t used_wrap_counter;
	uint8_t old_used_wrap_counter;
	uint8_t padding[7];
	struct vh_inflight_packed_desc desc[];
};

_Static_assert(sizeof(struct vh_inflight_packed_desc) == 32, "DescStatePacked is 32 bytes");
_Static_assert(sizeof(struct vh_inflight_packed) == 32, "QueueRegionPacked header is 32 bytes");

size_t vq_inflight_packed_size(unsigned num)
{
	return sizeof(struct vh_inflight_packed) + num * sizeof(struct vh_inflight_packed_desc);
}

void vq_inflight_packed_pop(struct vh_vq *vq, const struct vh_vq_elem *elem)
{
	const struct vring_packed_desc *ring = vq->desc;
	struct vh_inflight_packed *r = vq->infl_p;
	uint16_t h = r->free_head, cur = h, last = h, slot = vq->last_avail_idx;
	unsigned k;

	for (k = 0; k < elem->ndesc && cur < vq->num; k++) {
		struct vh_inflight_packed_desc *e = &r->desc[cur];

		e->addr = le64toh(VQ_READ_ONCE(ring[slot].addr));
		e->len = le32toh(VQ_READ_ONCE(ring[slot].len));
		e->id = le16toh(VQ_READ_ONCE(ring[slot].id));
		e->flags = le16toh(VQ_READ_ONCE(ring[slot].flags));
		last = cur;
		cur = e->next;
		if (++slot == vq->num)
			slot = 0;
	}
	if (h >= vq->num)
		return;
	r->desc[h].num = elem->ndesc;
	r->desc[h].last = last;
	r->desc[h].counter = vq->infl_counter++;
	vq->infl_entry[elem->id] = h;
	/* Copies first, then the flag; the free list moves last (a restart repairs the gap). */
	__atomic_store_n(&r->desc[h].inflight, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&r->free_head, cur, __ATOMIC_RELEASE);
	r->old_free_head = cur;
}

/* Before the used descriptor is written: give the entries back, advance the used position. */
void vq_inflight_packed_push(struct vh_vq *vq, uint16_t id)
{
	struct vh_inflight_packed *r = vq->infl_p;
	uint16_t h = vq->infl_entry[id];
	unsigned used;

	if (h >= vq->num || !r->desc[h].inflight || r->desc[h].last >= vq->num)
		return;
	r->desc[r->desc[h].last].next = r->free_head;
	r->free_head = h;
	used = r->used_idx + r->desc[h].num;
	if (used >= vq->num) {
		used -= vq->num;
		r->used_wrap_counter = !r->used_wrap_counter;
	}
	__atomic_store_n(&r->used_idx, (uint16_t)used, __ATOMIC_RELEASE);
}

/* After the used descriptor is visible: the chain is done, commit the old_* state. */
void vq_inflight_packed_pushed(struct vh_vq *vq, uint16_t id)
{
	struct vh_inflight_packed *r = vq->infl_p;
	uint16_t h = vq->infl_entry[id];

	if (h >= vq->num)
		return;
	__atomic_store_n(&r->desc[h].inflight, 0, __ATOMIC_RELEASE);
	r->old_free_head = r->free_head;
	r->old_used_idx = r->used_idx;
	__atomic_store_n(&r->old_used_wrap_counter, r->used_wrap_counter, __ATOMIC_RELEASE);
	vq->infl_entry[id] = vq->num;
}

/* A push or pop was cut short by the crash: finish it or roll it back. */
static void packed_repair(struct vh_vq *vq, struct vh_inflight_packed *r)
{
	const struct vring_packed_desc *ring = vq->desc;

	if (r->used_idx != r->old_used_idx || r->used_wrap_counter != r->old_used_wrap_counter) {
		uint16_t f = le16toh(ring[r->old_used_idx % vq->num].flags);
		bool w = r->old_used_wrap_counter;
		bool written =
		    (bool)(f & VH_VQ_PACKED_AVAIL) == w && (bool)(f & VH_VQ_PACKED_USED) == w;

		if (written && r->free_head < vq->num) {
			r->desc[r->free_head].inflight = 0;
			r->old_used_idx = r->used_idx;
			r->old_used_wrap_counter = r->used_wrap_counter;
		} else {
			r->used_idx = r->old_used_idx;
			r->used_wrap_counter = r->old_used_wrap_counter;
		}
	}
	/* Popped (flag set) but free_head not moved yet: skip the chain's entries. */
	if (r->free_head < vq->num && r->desc[r->free_head].inflight &&
	    r->desc[r->free_head].last < vq->num)
		r->free_head = r->desc[r->desc[r->free_head].last].next;
	r->old_free_head = r->free_head;
}

static int cmp_counter(const void *a, const void *b, void *arg)
{
	const struct vh_inflight_packed *r = arg;
	uint64_t ca = r->desc[*(const uint16_t *)a].counter;
	uint64_t cb = r->desc[*(const uint16_t *)b].counter;

	return ca < cb ? -1 : ca > cb;
}

/* Collect in-flight heads in pop order; returns their count or -EPROTO. */
static int packed_collect(struct vh_vq *vq, struct vh_inflight_packed *r, unsigned *slots)
{
	uint64_t max_counter = 0;
	unsigned i, n = 0;

	*slots = 0;
	for (i = 0; i < vq->num; i++) {
		const struct vh_inflight_packed_desc *e = &r->desc[i];

		if (e->inflight > 1 || e->next > vq->num)
			return -EPROTO;
		if (!e->inflight)
			continue;
		if (e->num == 0 || e->last >= vq->num)
			return -EPROTO;
		*slots += e->num;
		vq->resubmit[n++] = (uint16_t)i;
		max_counter = VH_MAX(max_counter, e->counter + 1);
	}
	if (*slots > vq->num || r->used_idx >= vq->num)
		return -EPROTO;
	qsort_r(vq->resubmit, n, sizeof(*vq->resubmit), cmp_counter, r);
	vq->infl_counter = max_counter;
	return (int)n;
}

int vq_inflight_packed_set(struct vh_vq *vq, void *region)
{
	struct vh_inflight_packed *r = region;
	unsigned i, slots, avail;
	int n;

	vq->infl_entry = malloc(vq->num * sizeof(*vq->infl_entry));
	vq->resubmit = calloc(vq->num, sizeof(*vq->resubmit));
	if (!vq->infl_entry || !vq->resubmit)
		return -ENOMEM;
	for (i = 0; i < vq->num; i++)
		vq->infl_entry[i] = vq->num;
	vq->infl_p = r;
	vq->infl_counter = 0;
	if (r->version == 0) {
		memset(r, 0, vq_inflight_packed_size(vq->num));
		r->version = 1;
		r->desc_num = vq->num;
		for (i = 0; i < vq->num; i++)
			r->desc[i].next = (uint16_t)(i + 1);
		r->used_idx = r->old_used_idx = vq->used_idx;
		r->used_wrap_counter = r->old_used_wrap_counter = vq->used_wrap;
		return 0;
	}
	if (r->version != 1 || r->desc_num != vq->num)
		return -EPROTO;
	packed_repair(vq, r);
	n = packed_collect(vq, r, &slots);
	if (n < 0)
		return n;
	/* Every slot taken before the restart is either used or held by an in-flight chain. */
	vq->used_idx = r->used_idx;
	vq->used_wrap = r->used_wrap_counter;
	avail = r->used_idx + slots;
	vq->avail_wrap = vq->used_wrap ^ (avail >= vq->num);
	vq->last_avail_idx = (uint16_t)(avail % vq->num);
	vq->resubmit_n = (uint16_t)n;
	vq->resubmit_pos = 0;
	return n;
}

/*
 * The restart position without repairing anything: the last committed used slot (old_*) plus
 * the slots of every flagged chain. A push cut short still has its chain flagged and the old_*
 * state, a pop cut short has its chain flagged: packed_repair() + packed_collect() reach the same
 * sum either way.
 */
int vh_vq_inflight_packed_base(const void *region, size_t size, unsigned num, uint32_t *base)
{
	const struct vh_inflight_packed *r = region;
	unsigned slots = 0, avail;

	if (!region || !base || !num || num > VH_VQ_MAX_NUM || size < vq_inflight_packed_size(num))
		return -EINVAL;
	if (r->version == 0)
		return -ENOENT;
	if (r->version != 1 || r->desc_num != num || r->old_used_idx >= num ||
	    r->old_used_wrap_counter > 1)
		return -EPROTO;
	for (unsigned i = 0; i < num; i++) {
		const struct vh_inflight_packed_desc *e = &r->desc[i];

		if (e->inflight > 1)
			return -EPROTO;
		if (e->inflight)
			slots += e->num;
	}
	if (slots > num)
		return -EPROTO;
	avail = r->old_used_idx + slots;
	*base = (avail % num) |
		((uint32_t)(r->old_used_wrap_counter ^ (avail >= num)) << VH_VQ_WRAP_SHIFT);
	return 0;
}

/* Rebuild an in-flight chain from the region's copies (the ring slots are gone). */
int vq_inflight_packed_resubmit(struct vh_vq *vq, struct vh_vq_elem *elem, uint16_t h)
{
	struct vh_inflight_packed *r = vq->infl_p;
	uint16_t cur = h, id = 0;
	/*
	 * The front-end may have rewritten the region since vq_inflight_packed_set() checked it:
	 * read the length once and check it again. It becomes elem->ndesc, the slots the push
	 * advances the used index by, so more than the ring would move it off the ring.
	 */
	unsigned k, n = __atomic_load_n(&r->desc[h].num, __ATOMIC_RELAXED);
	int err;

	if (n == 0 || n > vq->num)
		return vq_fail(vq, "inflight region chain length out of range");
	elem->out_num = elem->in_num = 0;
	elem->out_len = elem->in_len = 0;
	for (k = 0; k < n; k++) {
		const struct vh_inflight_packed_desc *e;
		struct vring_packed_desc d;

		if (cur >= vq->num)
			return vq_fail(vq, "inflight region chain out of range");
		e = &r->desc[cur];
		d.addr = e->addr;
		d.len = e->len;
		d.flags = e->flags;
		d.id = id = e->id;
		if (d.flags & VRING_DESC_F_INDIRECT)
			err = vq_packed_indirect(vq, elem, &d);
		else
			err = vq_map_desc(vq, elem, d.addr, d.len, d.flags & VRING_DESC_F_WRITE);
		if (err < 0)
			return err;
		cur = e->next;
	}
	if (id >= vq->num)
		return vq_fail(vq, "buffer id out of range");
	elem->id = id;
	elem->ndesc = (uint16_t)n;
	vq->infl_entry[id] = h;
	return 1;
}
