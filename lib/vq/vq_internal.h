/* SPDX-License-Identifier: BSD-3-Clause */
/* Private to vq/: ring state of both sides and the layout-specific entry points. */
#ifndef VH_VQ_INTERNAL_H
#define VH_VQ_INTERNAL_H

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_ring.h>

#include <vhost/log.h>
#include <vhost/mem.h>
#include <vhost/vq.h>

#include "util/util.h"

#define VH_VQ_CACHELINE 64
/*
 * Descriptors in one indirect table at most. A table may hold more than the ring (drivers build
 * such tables for long scatter lists), but its walk must stay bounded: a loop or a run of
 * zero-length entries in a table of len 4 GiB would otherwise take 2^28 steps per pop.
 */
#define VH_VQ_INDIRECT_MAX 65536u

/* Packed descriptor flag bits (virtio 1.2 §2.8.1); the header defines them as shifts. */
#define VH_VQ_PACKED_AVAIL ((uint16_t)(1u << VRING_PACKED_DESC_F_AVAIL))
#define VH_VQ_PACKED_USED  ((uint16_t)(1u << VRING_PACKED_DESC_F_USED))
#define VH_VQ_WRAP_SHIFT   VRING_PACKED_EVENT_F_WRAP_CTR

/*
 * Device-side ring. The first cache line holds everything pop/push touch per request; the
 * configuration the fast path reads only on errors sits after it.
 */
struct vh_vq {
	/* --- hot: device thread only --- */
	void *desc;   /* struct vring_desc[] or struct vring_packed_desc[] */
	void *driver; /* struct vring_avail or struct vring_packed_desc_event */
	void *device; /* struct vring_used or struct vring_packed_desc_event */
	const struct vh_memmap *mem;
	struct vh_dirty_log *dlog;
	uint16_t num;
	uint16_t mask;		   /* split: num - 1 */
	uint16_t last_avail_idx;   /* split: free-running; packed: slot */
	uint16_t shadow_avail_idx; /* split: last avail idx read from the driver */
	uint16_t used_idx;	   /* split: free-running shadow; packed: slot */
	uint16_t signalled_used;   /* used position at the last notify decision */
	uint16_t inflight;	   /* popped, not yet pushed */
	bool avail_wrap;	   /* packed */
	bool used_wrap;		   /* packed */
	bool packed;
	bool event_idx;
	bool indirect;
	bool broken;
	bool notify_enabled;
	bool signalled_used_valid;
	bool push_pending; /* pushed since the last notify decision */
	bool published;	   /* split: used idx published since the last push */
	/* --- cold --- */
	bool in_order;
	uint64_t used_gpa;
	uint64_t event_gpa; /* packed: device event area, for logging our writes to it */
	/* Inflight tracking (inflight.c); NULL when not negotiated. */
	struct vh_inflight_split *infl;
	struct vh_inflight_packed *infl_p;
	uint16_t *infl_entry; /* packed: region entry holding each buffer id */
	uint64_t infl_counter;
	uint16_t infl_batch; /* head of the pushed-but-unflushed list, num: empty */
	uint16_t resubmit_n; /* chains left to resubmit after a reconnect */
	uint16_t resubmit_pos;
	uint16_t *resubmit; /* heads in pop order */
	char name[64];
	struct vh_log_sink log;
};

/* Driver-side per-chain state (indexed by split head / packed buffer id). */
struct vh_vq_drv_slot {
	void *token;
	uint16_t ndesc; /* ring descriptors the chain holds */
	uint16_t last;	/* split: last descriptor of the chain (free-list splice) */
};

struct vh_vq_driver {
	/* --- hot --- */
	void *desc;
	void *driver;
	void *device;
	struct vh_vq_drv_slot *slots;
	uint16_t *next_free; /* split: private free list; packed: buffer id stack */
	uint16_t num;
	uint16_t mask;
	uint16_t free_head;    /* split: first free descriptor; packed: id stack depth */
	uint16_t num_free;     /* split: free descriptors; packed: free ring slots */
	uint16_t avail_idx;    /* split: free-running shadow; packed: next slot */
	uint16_t kicked_avail; /* avail position at the last kick decision */
	uint16_t last_used;    /* split: free-running; packed: slot */
	uint16_t shadow_used;  /* split: last used idx read */
	bool avail_wrap;       /* packed */
	bool used_wrap;	       /* packed */
	bool kicked_wrap;      /* packed: wrap of kicked_avail */
	bool packed;
	bool event_idx;
	bool broken;
	/* --- cold --- */
	unsigned indirect_max;
	uint8_t *host; /* guest region */
	uint64_t gpa;
	uint64_t size;
	uint64_t ring_gpa;
	uint64_t indirect_gpa;
	struct vh_vq_layout layout;
	char name[64];
	struct vh_log_sink log;
};

/* Guest ring fields are read once into locals: the guest may change them under us. */
#define VQ_READ_ONCE(x)	    __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define VQ_WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

static inline bool vq_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	/* virtio 1.2 §2.7.10: notify when event lies in [old, new). */
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

/*
 * Packed event suppression (virtio 1.2 §2.8.10): @off_wrap names a slot and its wrap counter;
 * @new_idx/@new_wrap is where the producer stands now, @old where it stood at the last decision.
 * Positions are brought into one linear window ending at @new_idx before vq_need_event().
 */
static inline bool vq_packed_need_event(uint16_t off_wrap, uint16_t new_idx, bool new_wrap,
					uint16_t old, uint16_t num)
{
	uint16_t off = off_wrap & (uint16_t) ~(1u << VH_VQ_WRAP_SHIFT);

	if (new_idx <= old)
		old = (uint16_t)(old - num);
	if ((bool)(off_wrap >> VH_VQ_WRAP_SHIFT) != new_wrap)
		off = (uint16_t)(off - num);
	return vq_need_event(off, new_idx, old);
}

/* vq.c */
int vq_fail(struct vh_vq *vq, const char *what);

/*
 * Translate one descriptor into iovecs (inline: once per descriptor on every pop). virtio 1.2
 * §2.7.4.2 / §2.8: device-readable descriptors must all come before device-writable ones.
 */
static inline int vq_map_desc(struct vh_vq *vq, struct vh_vq_elem *elem, uint64_t addr,
			      uint32_t len, bool write)
{
	unsigned used = elem->out_num + elem->in_num;
	int n;

	if (vh_unlikely(!write && elem->in_num))
		return vq_fail(vq, "readable descriptor after a writable one");
	if (len == 0)
		return 0;
	if (vh_unlikely(used >= elem->max_iov))
		return -ENOBUFS;
	n = vh_mem_translate(vq->mem, addr, len, write ? VH_MEM_WRITE : VH_MEM_READ,
			     elem->iov + used, elem->max_iov - used);
	if (vh_unlikely(n < 0)) {
		if (n == -ENOBUFS || n == -EAGAIN)
			return n;
		return vq_fail(vq, "descriptor address outside guest memory");
	}
	if (write) {
		elem->in_num += (unsigned)n;
		elem->in_len += len;
	} else {
		elem->out_num += (unsigned)n;
		elem->out_len += len;
	}
	return 0;
}

int vq_read_indirect(struct vh_vq *vq, uint64_t gpa, unsigned i, void *desc16);
const void *vq_map_indirect(struct vh_vq *vq, uint64_t gpa, uint32_t len, int *err);
void vq_log_written(struct vh_vq *vq, const struct vh_vq_elem *elem, uint32_t written);
void vq_log_event(struct vh_vq *vq);

/* split.c */
int vq_split_walk(struct vh_vq *vq, struct vh_vq_elem *elem, uint16_t head);
int vq_split_pop(struct vh_vq *vq, struct vh_vq_elem *elem);
void vq_split_push(struct vh_vq *vq, const struct vh_vq_elem *elem, uint32_t written);
void vq_split_flush(struct vh_vq *vq);
bool vq_split_needs_notify(struct vh_vq *vq);
int vq_split_set_notification(struct vh_vq *vq, bool enable);
void vq_split_drv_init(struct vh_vq_driver *d);
int vq_split_drv_add(struct vh_vq_driver *d, const struct vh_vq_driver_req *req);
int vq_split_drv_add_one(struct vh_vq_driver *d, uint64_t gpa, uint32_t len, uint16_t flags,
			 void *token);
void vq_split_drv_publish(struct vh_vq_driver *d);
bool vq_split_drv_kick_needed(struct vh_vq_driver *d);
int vq_split_drv_get_used(struct vh_vq_driver *d, void **token, uint32_t *len);
int vq_split_drv_set_notification(struct vh_vq_driver *d, bool enable);

/* packed.c */
int vq_packed_indirect(struct vh_vq *vq, struct vh_vq_elem *elem,
		       const struct vring_packed_desc *ind);
int vq_packed_pop(struct vh_vq *vq, struct vh_vq_elem *elem);
void vq_packed_push(struct vh_vq *vq, const struct vh_vq_elem *elem, uint32_t written);
bool vq_packed_needs_notify(struct vh_vq *vq);
int vq_packed_set_notification(struct vh_vq *vq, bool enable);
void vq_packed_drv_init(struct vh_vq_driver *d);
int vq_packed_drv_add(struct vh_vq_driver *d, const struct vh_vq_driver_req *req);
int vq_packed_drv_add_one(struct vh_vq_driver *d, uint64_t gpa, uint32_t len, uint16_t flags,
			  void *token);
bool vq_packed_drv_kick_needed(struct vh_vq_driver *d);
int vq_packed_drv_get_used(struct vh_vq_driver *d, void **token, uint32_t *len);
int vq_packed_drv_set_notification(struct vh_vq_driver *d, bool enable);

/* inflight.c */
void vq_inflight_pop(struct vh_vq *vq, uint16_t head);
void vq_inflight_push(struct vh_vq *vq, uint16_t head);
void vq_inflight_flush(struct vh_vq *vq);
int vq_inflight_resubmit(struct vh_vq *vq, struct vh_vq_elem *elem);
void vq_inflight_set_used(struct vh_vq *vq, uint16_t used);
void vq_inflight_packed_pop(struct vh_vq *vq, const struct vh_vq_elem *elem);
void vq_inflight_packed_push(struct vh_vq *vq, uint16_t id);
void vq_inflight_packed_pushed(struct vh_vq *vq, uint16_t id);
size_t vq_inflight_packed_size(unsigned num);
int vq_inflight_packed_set(struct vh_vq *vq, void *region);
int vq_inflight_packed_resubmit(struct vh_vq *vq, struct vh_vq_elem *elem, uint16_t h);
void vq_inflight_free(struct vh_vq *vq);

/* driver.c */
int vq_drv_fail(struct vh_vq_driver *d, const char *what);
int vq_drv_check_buf(const struct vh_vq_driver *d, const struct vh_vq_buf *b);
void *vq_drv_indirect_table(struct vh_vq_driver *d, unsigned slot, uint64_t *gpa);

#endif
