// SPDX-License-Identifier: BSD-3-Clause
/*
 * Inflight I/O tracking (QEMU docs/interop/vhost-user.rst, "Inflight I/O tracking"), split rings.
 *
 * The frontend keeps a shared region across backend restarts. For each head the backend records
 * "in flight" plus a pop counter when it takes a chain, links the chains of an unflushed batch
 * through .next, and clears the flags once the used idx that covers them is published. A
 * restarted backend repairs a batch that was published but not yet cleared and resubmits the
 * remaining in-flight heads in pop order.
 */
#include <stdlib.h>
#include <string.h>

#include "vq/vq_internal.h"

/* vhost-user.rst: DescStateSplit. */
struct vh_inflight_split_desc {
	uint8_t inflight;
	uint8_t padding[5];
	uint16_t next;
	uint64_t counter;
};

/* vhost-user.rst: QueueRegionSplit. */
struct vh_inflight_split {
	uint64_t features;
	uint16_t version;
	uint16_t desc_num;
	uint16_t last_batch_head;
	uint16_t used_idx;
	struct vh_inflight_split_desc desc[];
};

_Static_assert(sizeof(struct vh_inflight_split_desc) == 16, "DescStateSplit is 16 bytes");
_Static_assert(sizeof(struct vh_inflight_split) == 16, "QueueRegionSplit header is 16 bytes");

#define INFLIGHT_VERSION 1

size_t vh_vq_inflight_size(unsigned num, bool packed)
{
	size_t bytes;

	if (num == 0 || num > VH_VQ_MAX_NUM || (!packed && !vh_is_pow2(num)))
		return 0;
	if (packed)
		bytes = vq_inflight_packed_size(num);
	else
		bytes =
		    sizeof(struct vh_inflight_split) + num * sizeof(struct vh_inflight_split_desc);
	return (bytes + VH_VQ_CACHELINE - 1) & ~(size_t)(VH_VQ_CACHELINE - 1);
}

void vq_inflight_pop(struct vh_vq *vq, uint16_t head)
{
	struct vh_inflight_split_desc *d = &vq->infl->desc[head];

	d->counter = vq->infl_counter++;
	/* The counter is in place before the flag that makes the entry count. */
	__atomic_store_n(&d->inflight, 1, __ATOMIC_RELEASE);
}

void vq_inflight_push(struct vh_vq *vq, uint16_t head)
{
	vq->infl->desc[head].next = vq->infl_batch;
	vq->infl_batch = head;
	__atomic_store_n(&vq->infl->last_batch_head, head, __ATOMIC_RELEASE);
}

/* After the used idx store: the batch is complete, forget it. */
void vq_inflight_flush(struct vh_vq *vq)
{
	uint16_t h = vq->infl_batch;
	unsigned n = 0;

	while (h < vq->num && n++ < vq->num) {
		__atomic_store_n(&vq->infl->desc[h].inflight, 0, __ATOMIC_RELEASE);
		h = vq->infl->desc[h].next;
	}
	vq->infl_batch = vq->num;
	__atomic_store_n(&vq->infl->used_idx, vq->used_idx, __ATOMIC_RELEASE);
}

/* vh_vq_sync_used_idx() moved the ring: a split region follows (nothing is in flight then). */
void vq_inflight_set_used(struct vh_vq *vq, uint16_t used)
{
	if (vq->infl)
		__atomic_store_n(&vq->infl->used_idx, used, __ATOMIC_RELEASE);
}

void vq_inflight_free(struct vh_vq *vq)
{
	free(vq->resubmit);
	free(vq->infl_entry);
	vq->resubmit = NULL;
	vq->infl_entry = NULL;
	vq->resubmit_n = 0;
	vq->infl = NULL;
	vq->infl_p = NULL;
}

int vq_inflight_resubmit(struct vh_vq *vq, struct vh_vq_elem *elem)
{
	uint16_t head = vq->resubmit[vq->resubmit_pos];
	int err = vq->packed ? vq_inflight_packed_resubmit(vq, elem, head)
			     : vq_split_walk(vq, elem, head);

	if (err < 0)
		return err;
	vq->resubmit_pos++;
	vq->resubmit_n--;
	vq->inflight++;
	return 1;
}

/*
 * The previous backend published used idx for its last batch but died before clearing the
 * batch's flags: the used ring already holds those chains, so they are not in flight.
 */
static void repair_last_batch(struct vh_vq *vq, uint16_t used_idx)
{
	struct vh_inflight_split *r = vq->infl;
	uint16_t n = (uint16_t)(used_idx - r->used_idx), h = r->last_batch_head, i;

	for (i = 0; i < n && h < vq->num; i++) {
		r->desc[h].inflight = 0;
		h = r->desc[h].next;
	}
	r->used_idx = used_idx;
}

static int cmp_counter(const void *a, const void *b, void *arg)
{
	const struct vh_inflight_split *r = arg;
	uint64_t ca = r->desc[*(const uint16_t *)a].counter,
		 cb = r->desc[*(const uint16_t *)b].counter;

	return ca < cb ? -1 : ca > cb;
}

static int build_resubmit(struct vh_vq *vq)
{
	struct vh_inflight_split *r = vq->infl;
	uint64_t max_counter = 0;
	unsigned i, n = 0;

	vq->resubmit = calloc(vq->num, sizeof(*vq->resubmit));
	if (!vq->resubmit)
		return -ENOMEM;
	for (i = 0; i < vq->num; i++) {
		if (r->desc[i].inflight > 1)
			return -EPROTO;
		if (!r->desc[i].inflight)
			continue;
		vq->resubmit[n++] = (uint16_t)i;
		max_counter = VH_MAX(max_counter, r->desc[i].counter + 1);
	}
	qsort_r(vq->resubmit, n, sizeof(*vq->resubmit), cmp_counter, r);
	vq->resubmit_n = (uint16_t)n;
	vq->resubmit_pos = 0;
	vq->infl_counter = max_counter;
	return (int)n;
}

static int split_set_inflight(struct vh_vq *vq, struct vh_inflight_split *r)
{
	uint16_t used_idx;
	int n;

	vq->infl = r;
	vq->infl_batch = vq->num;
	vq->infl_counter = 0;
	if (r->version == 0) {
		/* Fresh region (vhost-user.rst: zeroed by the frontend): start tracking. */
		memset(r, 0, vh_vq_inflight_size(vq->num, false));
		r->version = INFLIGHT_VERSION;
		r->desc_num = vq->num;
		r->used_idx = vq->used_idx;
		return 0;
	}
	if (r->version != INFLIGHT_VERSION || r->desc_num != vq->num)
		return -EPROTO;
	used_idx =
	    le16toh(__atomic_load_n(&((struct vring_used *)vq->device)->idx, __ATOMIC_ACQUIRE));
	if (r->used_idx != used_idx)
		repair_last_batch(vq, used_idx);
	n = build_resubmit(vq);
	if (n < 0)
		return n;
	/* Every chain taken before the restart is either used or in flight. */
	vq->used_idx = used_idx;
	vq->last_avail_idx = (uint16_t)(used_idx + n);
	return n;
}

int vh_vq_set_inflight(struct vh_vq *vq, void *region, size_t size)
{
	int n;

	vq_inflight_free(vq);
	if (!region)
		return 0;
	if (!vq->desc || size < vh_vq_inflight_size(vq->num, vq->packed) || ((uintptr_t)region & 7))
		return -EINVAL;
	vq->infl_batch = vq->num;
	vq->infl_counter = 0;
	n = vq->packed ? vq_inflight_packed_set(vq, region) : split_set_inflight(vq, region);
	if (n == -EPROTO)
		vh_logf(&vq->log, VH_LOG_ERR, vq->name,
			"SET_INFLIGHT_FD: inflight region is corrupt: %s", strerror(EPROTO));
	if (n < 0) {
		vq_inflight_free(vq);
		return n;
	}
	vq->shadow_avail_idx = vq->last_avail_idx;
	vq->signalled_used = vq->used_idx;
	vq->signalled_used_valid = false;
	return n;
}
