// SPDX-License-Identifier: BSD-3-Clause
/*
 * vq/: round trips between the driver side and the device side of split and packed rings,
 * wrap-around, indirect tables, event suppression decisions, base save/restore, dirty logging.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <vhost/log.h>
#include <vhost/mem.h>
#include <vhost/vq.h>

#include "vq/vq_internal.h"
#include "unit_helpers.h"

#define GPA_BASE  0x100000ull
#define MEM_SIZE  (1u << 20)
#define RING_GPA  GPA_BASE
#define IND_GPA	  (GPA_BASE + 0x40000)
#define BUF_GPA	  (GPA_BASE + 0x80000)
#define IND_MAX	  8
#define LOG_BYTES 64 /* 512 pages = 2 MiB of guest */

struct env {
	uint8_t *mem;
	struct vh_memmap *map;
	struct vh_vq *vq;
	struct vh_vq_driver *drv;
	struct vh_vq_ring_addrs ra;
	struct iovec iov[16];
	struct vh_vq_elem elem;
	struct vh_test_log log;
};

static void env_init(struct env *e, unsigned num, bool packed, bool event_idx)
{
	struct vh_mem_region r = { .gpa = GPA_BASE, .size = MEM_SIZE, .fd = -1 };
	struct vh_vq_driver_config dc = {
		.num = num,
		.packed = packed,
		.event_idx = event_idx,
		.indirect_max = IND_MAX,
		.size = MEM_SIZE,
		.gpa = GPA_BASE,
		.ring_gpa = RING_GPA,
		.indirect_gpa = IND_GPA,
	};
	struct vh_vq_config vc = { .num = num,
				   .packed = packed,
				   .event_idx = event_idx,
				   .indirect = true,
				   .name = "test vq" };

	memset(e, 0, sizeof(*e));
	e->mem = aligned_alloc(4096, MEM_SIZE);
	assert_non_null(e->mem);
	memset(e->mem, 0, MEM_SIZE);
	r.host = e->mem;
	r.uva = (uintptr_t)e->mem;
	assert_int_equal(vh_memmap_create(NULL, &e->map), 0);
	assert_int_equal(vh_memmap_add(e->map, &r), 0);
	dc.host = e->mem;
	dc.log = vh_test_sink(&e->log);
	vc.log = vh_test_sink(&e->log);
	assert_int_equal(vh_vq_driver_create(&dc, &e->drv), 0);
	vh_vq_driver_ring_addrs(e->drv, &e->ra);
	assert_int_equal(vh_vq_create(&vc, &e->vq), 0);
	assert_int_equal(vh_vq_set_addrs(e->vq, &e->ra.host), 0);
	vh_vq_set_memmap(e->vq, e->map);
	e->elem.iov = e->iov;
	e->elem.max_iov = 16;
}

static void env_fini(struct env *e)
{
	vh_vq_destroy(&e->vq);
	vh_vq_driver_destroy(&e->drv);
	vh_memmap_destroy(&e->map);
	free(e->mem);
	assert_null(e->vq);
}

static void *host_of(struct env *e, uint64_t gpa)
{
	return e->mem + (gpa - GPA_BASE);
}

static void test_layout(void **state)
{
	struct vh_vq_layout l;

	(void)state;
	assert_int_equal(vh_vq_layout(256, false, &l), 0);
	assert_int_equal(l.desc_off, 0);
	assert_int_equal(l.driver_off, 4096);
	assert_int_equal(l.device_off, 4672); /* 4096 + 6 + 512 rounded up to 64 */
	assert_int_equal(l.size, 6784);	      /* 4672 + 6 + 2048 rounded up to 64 */
	assert_int_equal(l.desc_size, 4096);
	assert_int_equal(l.driver_size, 518);
	assert_int_equal(l.device_size, 2054);
	assert_int_equal(vh_vq_layout(256, true, &l), 0);
	assert_int_equal(l.driver_off, 4096);
	assert_int_equal(l.device_off, 4160);
	assert_int_equal(l.size, 4224);
	assert_int_equal(vh_vq_layout(3, true, &l), 0);
	assert_int_equal(vh_vq_layout(3, false, &l), -EINVAL);
	assert_int_equal(vh_vq_layout(0, false, &l), -EINVAL);
	assert_int_equal(vh_vq_layout(65536, false, &l), -EINVAL);
}

/*
 * vh_vq_driver_add_one(): one descriptor per chain, the exact descriptor the device sees, the
 * ring filled to the last slot and refilled after completions (free list and wrap reused).
 */
static void add_one_variant(bool packed)
{
	struct env e;
	uint32_t len;
	void *tok;
	unsigned i, round;

	env_init(&e, 4, packed, false);
	assert_int_equal(vh_vq_driver_add_one(e.drv, BUF_GPA, 64, false, NULL), -EINVAL);
	assert_int_equal(vh_vq_driver_add_one(e.drv, GPA_BASE - 1, 64, false, (void *)1), -EFAULT);
	assert_int_equal(vh_vq_driver_add_one(e.drv, GPA_BASE + MEM_SIZE - 8, 9, true, (void *)1),
			 -EFAULT);
	assert_int_equal(vh_vq_driver_add_one(e.drv, UINT64_MAX - 4, 64, true, (void *)1), -EFAULT);
	assert_int_equal(vh_vq_driver_num_free(e.drv), 4);
	for (round = 0; round < 3; round++) {
		for (i = 0; i < 4; i++)
			assert_int_equal(vh_vq_driver_add_one(e.drv, BUF_GPA + 0x100 * i, 16 + i,
							      i & 1, (void *)(uintptr_t)(i + 1)),
					 0);
		assert_int_equal(vh_vq_driver_add_one(e.drv, BUF_GPA, 1, false, (void *)9),
				 -ENOSPC);
		vh_vq_driver_publish(e.drv);
		for (i = 0; i < 4; i++) {
			assert_int_equal(vh_vq_pop(e.vq, &e.elem), 1);
			assert_int_equal(e.elem.ndesc, 1);
			assert_int_equal(e.elem.out_num + e.elem.in_num, 1);
			assert_int_equal(e.elem.in_num, i & 1);
			assert_ptr_equal(e.iov[0].iov_base, host_of(&e, BUF_GPA + 0x100 * i));
			assert_int_equal(e.iov[0].iov_len, 16 + i);
			assert_int_equal(vh_vq_push(e.vq, &e.elem, i & 1 ? 3 : 0), 0);
		}
		assert_int_equal(vh_vq_pop(e.vq, &e.elem), 0);
		vh_vq_flush(e.vq);
		for (i = 0; i < 4; i++) {
			assert_int_equal(vh_vq_driver_get_used(e.drv, &tok, &len), 1);
			assert_ptr_equal(tok, (void *)(uintptr_t)(i + 1));
			assert_int_equal(len, i & 1 ? 3 : 0);
		}
		assert_int_equal(vh_vq_driver_get_used(e.drv, &tok, &len), 0);
		assert_int_equal(vh_vq_driver_num_free(e.drv), 4);
	}
	env_fini(&e);
}

static void test_add_one(void **state)
{
	(void)state;
	add_one_variant(false);
	add_one_variant(true);
}

/* One chain: two readable buffers, one writable; the device echoes the sum of the bytes. */
static void round_trip(bool packed, bool indirect)
{
	struct vh_vq_buf bufs[3] = { { BUF_GPA, 5 },
				     { BUF_GPA + 0x1000, 3 },
				     { BUF_GPA + 0x2000, 64 } };
	struct vh_vq_driver_req req = { bufs, 2, 1, (void *)0x1234, indirect };
	struct env e;
	uint32_t len = 0;
	void *tok = NULL;

	env_init(&e, 8, packed, false);
	memcpy(host_of(&e, BUF_GPA), "hello", 5);
	memcpy(host_of(&e, BUF_GPA + 0x1000), "abc", 3);
	assert_int_equal(vh_vq_driver_add(e.drv, &req), 0);
	assert_int_equal(vh_vq_driver_num_free(e.drv), indirect ? 7 : 5);
	assert_true(vh_vq_driver_kick_needed(e.drv));
	assert_int_equal(vh_vq_pop(e.vq, &e.elem), 1);
	assert_int_equal(e.elem.out_num, 2);
	assert_int_equal(e.elem.in_num, 1);
	assert_int_equal(e.elem.out_len, 8);
	assert_int_equal(e.elem.in_len, 64);
	assert_int_equal(e.elem.ndesc, packed && !indirect ? 3 : (packed ? 1 : (indirect ? 1 : 3)));
	assert_ptr_equal(e.iov[0].iov_base, host_of(&e, BUF_GPA));
	assert_int_equal(e.iov[0].iov_len, 5);
	assert_memory_equal(e.iov[1].iov_base, "abc", 3);
	assert_ptr_equal(e.iov[2].iov_base, host_of(&e, BUF_GPA + 0x2000));
	assert_int_equal(e.iov[2].iov_len, 64);
	memcpy(e.iov[2].iov_base, "written!", 8);
	assert_int_equal(vh_vq_pop(e.vq, &e.elem), 0);
	assert_int_equal(vh_vq_push(e.vq, &e.elem, 8), 0);
	vh_vq_flush(e.vq);
	assert_true(vh_vq_needs_notify(e.vq));
	assert_int_equal(vh_vq_driver_get_used(e.drv, &tok, &len), 1);
	assert_ptr_equal(tok, (void *)0x1234);
	assert_int_equal(len, 8);
	assert_memory_equal(host_of(&e, BUF_GPA + 0x2000), "written!", 8);
	assert_int_equal(vh_vq_driver_get_used(e.drv, &tok, &len), 0);
	assert_int_equal(vh_vq_driver_num_free(e.drv), 8);
	/* Pushing more than was popped is a caller bug, not a guest one. */
	assert_int_equal(vh_vq_push(e.vq, &e.elem, 8), -EINVAL);
	assert_false(vh_vq_is_broken(e.vq));
	env_fini(&e);
}

/*
 * A flush with nothing pushed since the last one leaves the split used idx alone (the driver
 * polls that cache line; an idle device must not keep writing it). Watched through a value the
 * device never writes: a store of any kind would replace it.
 */
static void add_pop_push_flush(struct env *e, const struct vh_vq_driver_req *req)
{
	assert_int_equal(vh_vq_driver_add(e->drv, req), 0);
	vh_vq_driver_publish(e->drv);
	assert_int_equal(vh_vq_pop(e->vq, &e->elem), 1);
	assert_int_equal(vh_vq_push(e->vq, &e->elem, 4), 0);
	vh_vq_flush(e->vq);
}

static void test_flush_idle_split(void **state)
{
	struct vh_vq_buf b = { BUF_GPA, 64 };
	struct vh_vq_driver_req req = { &b, 0, 1, (void *)0x1, false };
	struct vring_used *used;
	struct env e;

	(void)state;
	env_init(&e, 8, false, false);
	used = e.ra.host.device;
	add_pop_push_flush(&e, &req);
	assert_int_equal(le16toh(used->idx), 1);
	used->idx = htole16(0x5a5a);
	vh_vq_flush(e.vq);
	vh_vq_flush(e.vq);
	assert_int_equal(le16toh(used->idx), 0x5a5a);
	/* The next push publishes again. */
	used->idx = htole16(1);
	add_pop_push_flush(&e, &req);
	assert_int_equal(le16toh(used->idx), 2);
	/* A new base publishes at the next flush even without a push. */
	assert_int_equal(vh_vq_set_base(e.vq, 2), 0);
	used->idx = htole16(0x5a5a);
	vh_vq_flush(e.vq);
	assert_int_equal(le16toh(used->idx), 2);
	env_fini(&e);
}

static void test_round_trip_split(void **state)
{
	(void)state;
	round_trip(false, false);
	round_trip(false, true);
}

static void test_round_trip_packed(void **state)
{
	(void)state;
	round_trip(true, false);
	round_trip(true, true);
}

/*
 * More than 65536 + num requests through a small ring: free-running indices and wrap counters
 * must wrap, chains of 1..3 descriptors (some indirect) must wrap across the ring end.
 */
static void wrap_run(unsigned num, bool packed)
{
	const unsigned total = 65536 + 3 * num + 7;
	unsigned added = 0, reaped = 0, popped = 0;
	struct vh_vq_buf bufs[3];
	struct env e;

	env_init(&e, num, packed, true);
	while (reaped < total) {
		/* Driver: fill what fits. */
		while (added < total) {
			unsigned n = 1 + added % 3, i;
			struct vh_vq_driver_req req = { bufs, n - 1, 1,
							(void *)(uintptr_t)(added + 1),
							added % 5 == 0 };

			for (i = 0; i < n; i++) {
				bufs[i].gpa = BUF_GPA + 64ull * ((added * 3 + i) % 1024);
				bufs[i].len = 16 + i;
			}
			if (vh_vq_driver_add(e.drv, &req) == -ENOSPC)
				break;
			added++;
		}
		vh_vq_driver_publish(e.drv);
		/* Device: pop everything, answer with the request number as length. */
		while (vh_vq_pop(e.vq, &e.elem) == 1) {
			assert_int_equal(e.elem.out_num + e.elem.in_num, 1 + popped % 3);
			assert_int_equal(e.elem.in_num, 1);
			assert_ptr_equal(e.iov[0].iov_base,
					 host_of(&e, BUF_GPA + 64ull * ((popped * 3) % 1024)));
			assert_int_equal(vh_vq_push(e.vq, &e.elem, popped % 17), 0);
			popped++;
		}
		assert_false(vh_vq_is_broken(e.vq));
		vh_vq_flush(e.vq);
		/* Driver: reap in order. */
		for (;;) {
			void *tok;
			uint32_t len;
			int r = vh_vq_driver_get_used(e.drv, &tok, &len);

			assert_true(r >= 0);
			if (r == 0)
				break;
			assert_int_equal((uintptr_t)tok, reaped + 1);
			assert_int_equal(len, reaped % 17);
			reaped++;
		}
		assert_int_equal(reaped, popped);
	}
	assert_int_equal(vh_vq_driver_num_free(e.drv), num);
	if (!packed) {
		assert_int_equal(vh_vq_get_base(e.vq), total & 0xffff);
		assert_int_equal(le16toh(((struct vring_used *)e.ra.host.device)->idx),
				 total & 0xffff);
	} else {
		assert_int_equal(vh_vq_get_base(e.vq) & 0x7fff, e.drv->avail_idx);
		assert_int_equal(vh_vq_get_base(e.vq) >> 15, e.drv->avail_wrap);
	}
	env_fini(&e);
}

static void test_wrap_split(void **state)
{
	(void)state;
	wrap_run(4, false);
	wrap_run(8, false);
	wrap_run(256, false);
}

static void test_wrap_packed(void **state)
{
	(void)state;
	wrap_run(4, true);
	wrap_run(8, true);
	wrap_run(5, true); /* packed rings need not be a power of two */
	wrap_run(256, true);
}

static void add_one(struct env *e, uintptr_t tok)
{
	struct vh_vq_buf b = { BUF_GPA, 16 };
	struct vh_vq_driver_req req = { &b, 0, 1, (void *)tok, false };

	assert_int_equal(vh_vq_driver_add(e->drv, &req), 0);
}

static void serve_one(struct env *e)
{
	assert_int_equal(vh_vq_pop(e->vq, &e->elem), 1);
	assert_int_equal(vh_vq_push(e->vq, &e->elem, 1), 0);
	vh_vq_flush(e->vq);
}

static void reap_all(struct env *e)
{
	void *tok;
	uint32_t len;

	while (vh_vq_driver_get_used(e->drv, &tok, &len) == 1)
		;
}

/* virtio 1.2 §2.7.10: exact used_event / avail_event values and the decisions around them. */
static void test_event_idx_split(void **state)
{
	struct env e;
	uint16_t *used_event, *avail_event;

	(void)state;
	env_init(&e, 8, false, true);
	used_event = &((struct vring_avail *)e.ra.host.driver)->ring[8];
	avail_event = (uint16_t *)((uint8_t *)e.ra.host.device + 4 + 8 * 8);

	/* Device asks for kicks: avail_event = last_avail_idx = 0. */
	assert_int_equal(vh_vq_set_notification(e.vq, true), 0);
	assert_int_equal(*avail_event, 0);
	add_one(&e, 1);
	assert_true(vh_vq_driver_kick_needed(e.drv)); /* 0 in [0, 1) */
	add_one(&e, 2);
	assert_false(vh_vq_driver_kick_needed(e.drv)); /* 0 not in [1, 2) */
	assert_false(vh_vq_driver_kick_needed(e.drv)); /* nothing new */

	/* First completion always notifies (no previous decision). */
	serve_one(&e);
	assert_true(vh_vq_needs_notify(e.vq));
	/* used_event is still 0: the 2nd completion (used 1 -> 2) is not asked for. */
	serve_one(&e);
	assert_false(vh_vq_needs_notify(e.vq));
	/* The pop on the empty ring re-armed avail_event at 2. */
	assert_int_equal(vh_vq_pop(e.vq, &e.elem), 0);
	assert_int_equal(*avail_event, 2);
	reap_all(&e);
	/* Driver asks for the next completion: used_event = 2. */
	assert_int_equal(vh_vq_driver_set_notification(e.drv, true), 0);
	assert_int_equal(*used_event, 2);
	add_one(&e, 3);
	assert_true(vh_vq_driver_kick_needed(e.drv)); /* 2 in [2, 3) */
	add_one(&e, 4);
	add_one(&e, 5);
	assert_false(vh_vq_driver_kick_needed(e.drv));
	serve_one(&e);
	assert_true(vh_vq_needs_notify(e.vq)); /* used 2 -> 3, event 2 */
	serve_one(&e);
	serve_one(&e);
	assert_false(vh_vq_needs_notify(e.vq)); /* used 3 -> 5, event 2 */
	/* Event exactly at the last entry of a batch: used 5 -> 7 with event 6 notifies. */
	*used_event = 6;
	add_one(&e, 6);
	add_one(&e, 7);
	vh_vq_driver_publish(e.drv);
	serve_one(&e);
	serve_one(&e);
	assert_true(vh_vq_needs_notify(e.vq));
	/* Device polling: avail_event stays where it was, kicks stop. */
	assert_int_equal(vh_vq_set_notification(e.vq, false), 0);
	reap_all(&e);
	*avail_event = 7;
	add_one(&e, 8);
	assert_true(vh_vq_driver_kick_needed(e.drv)); /* 7 in [7, 8) */
	add_one(&e, 9);
	assert_false(vh_vq_driver_kick_needed(e.drv));
	/* Enabling with buffers pending reports them. */
	assert_int_equal(vh_vq_set_notification(e.vq, true), 1);
	env_fini(&e);
}

static void test_flags_split(void **state)
{
	struct env e;
	struct vring_used *used;
	struct vring_avail *avail;

	(void)state;
	env_init(&e, 8, false, false);
	used = e.ra.host.device;
	avail = e.ra.host.driver;
	assert_int_equal(vh_vq_set_notification(e.vq, false), 0);
	assert_int_equal(used->flags, VRING_USED_F_NO_NOTIFY);
	add_one(&e, 1);
	assert_false(vh_vq_driver_kick_needed(e.drv));
	assert_int_equal(vh_vq_set_notification(e.vq, true), 1);
	assert_int_equal(used->flags, 0);
	add_one(&e, 2);
	assert_true(vh_vq_driver_kick_needed(e.drv));
	assert_int_equal(vh_vq_driver_set_notification(e.drv, false), 0);
	assert_int_equal(avail->flags, VRING_AVAIL_F_NO_INTERRUPT);
	serve_one(&e);
	assert_false(vh_vq_needs_notify(e.vq));
	assert_int_equal(vh_vq_driver_set_notification(e.drv, true), 1);
	serve_one(&e);
	assert_true(vh_vq_needs_notify(e.vq));
	assert_false(vh_vq_needs_notify(e.vq)); /* nothing pushed since */
	env_fini(&e);
}

/* virtio 1.2 §2.8.10: packed event suppression structures, with wrap counters. */
static void test_event_idx_packed(void **state)
{
	struct vring_packed_desc_event *drv_ev, *dev_ev;
	struct env e;
	unsigned i;

	(void)state;
	env_init(&e, 4, true, true);
	drv_ev = e.ra.host.driver;
	dev_ev = e.ra.host.device;
	assert_int_equal(vh_vq_set_notification(e.vq, true), 0);
	assert_int_equal(dev_ev->flags, VRING_PACKED_EVENT_FLAG_DESC);
	assert_int_equal(dev_ev->off_wrap, 0 | (1u << 15));
	add_one(&e, 1);
	assert_true(vh_vq_driver_kick_needed(e.drv));
	add_one(&e, 2);
	assert_false(vh_vq_driver_kick_needed(e.drv));
	serve_one(&e);
	assert_true(vh_vq_needs_notify(e.vq)); /* first decision */
	/* The driver disables interrupts: no notify. */
	assert_int_equal(vh_vq_driver_set_notification(e.drv, false), 0);
	assert_int_equal(drv_ev->flags, VRING_PACKED_EVENT_FLAG_DISABLE);
	serve_one(&e);
	assert_false(vh_vq_needs_notify(e.vq));
	reap_all(&e);
	/* Driver wants the completion at slot 2, wrap 1. */
	assert_int_equal(vh_vq_driver_set_notification(e.drv, true), 0);
	assert_int_equal(drv_ev->off_wrap, 2 | (1u << 15));
	assert_int_equal(drv_ev->flags, VRING_PACKED_EVENT_FLAG_DESC);
	for (i = 0; i < 3; i++)
		add_one(&e, 3 + i); /* slots 2, 3, 0 (wraps) */
	vh_vq_driver_publish(e.drv);
	serve_one(&e);
	assert_true(vh_vq_needs_notify(e.vq)); /* used 2 -> 3 covers slot 2 */
	serve_one(&e);
	serve_one(&e);
	assert_false(vh_vq_needs_notify(e.vq)); /* 3 -> 1 (wrapped), event 2/wrap 1 is behind */
	/* Event at slot 0 of the new lap (wrap 0) lies inside 3 -> 1. */
	assert_true(vq_packed_need_event(0, 1, false, 3, 4));
	assert_false(vq_packed_need_event(1, 1, false, 3, 4));
	assert_true(vq_packed_need_event(3 | (1u << 15), 1, false, 3, 4));
	assert_false(vq_packed_need_event(2 | (1u << 15), 1, false, 3, 4));
	/* Device polling: flags DISABLE, driver does not kick. */
	assert_int_equal(vh_vq_set_notification(e.vq, false), 0);
	assert_int_equal(dev_ev->flags, VRING_PACKED_EVENT_FLAG_DISABLE);
	reap_all(&e);
	add_one(&e, 9);
	assert_false(vh_vq_driver_kick_needed(e.drv));
	assert_int_equal(vh_vq_set_notification(e.vq, true), 1);
	env_fini(&e);
}

static void test_need_event(void **state)
{
	(void)state;
	assert_true(vq_need_event(0, 1, 0));
	assert_false(vq_need_event(1, 1, 0));
	assert_true(vq_need_event(65535, 0, 65535)); /* across the u16 wrap */
	assert_false(vq_need_event(65534, 0, 65535));
	assert_true(vq_need_event(4, 5, 0));
	assert_false(vq_need_event(5, 5, 0));
}

static void test_base(void **state)
{
	struct env e;
	int i;

	(void)state;
	env_init(&e, 4, true, false);
	for (i = 0; i < 5; i++) {
		add_one(&e, 1);
		serve_one(&e);
		reap_all(&e);
	}
	/* 5 single-descriptor chains in a ring of 4: slot 1, wrap counter flipped to 0. */
	assert_int_equal(vh_vq_get_base(e.vq), 1);
	assert_int_equal(vh_vq_set_base(e.vq, 3 | (1u << 15)), 0);
	assert_int_equal(vh_vq_get_base(e.vq), 3 | (1u << 15));
	assert_int_equal(vh_vq_set_base(e.vq, 4), -EINVAL);
	assert_int_equal(vh_vq_set_base(e.vq, 1), 0);
	env_fini(&e);
	env_init(&e, 8, false, false);
	assert_int_equal(vh_vq_set_base(e.vq, 65530), 0);
	assert_int_equal(vh_vq_get_base(e.vq), 65530);
	assert_int_equal(vh_vq_set_base(e.vq, 70000), -EINVAL);
	env_fini(&e);
}

static bool page_dirty(const uint8_t *bits, uint64_t gpa)
{
	uint64_t page = gpa / VH_LOG_PAGE_SIZE;

	return bits[page / 8] & (1u << (page % 8));
}

/* The written bytes of the buffer and the used ring are logged; nothing else is. */
static void dirty_run(bool packed)
{
	struct vh_vq_buf bufs[2] = { { BUF_GPA, 16 }, { BUF_GPA + 0x3ff0, 0x3000 } };
	struct vh_vq_driver_req req = { bufs, 1, 1, (void *)1, false };
	uint8_t bits[LOG_BYTES] = { 0 };
	struct vh_dirty_log *log;
	struct env e;
	uint64_t used_gpa;
	unsigned i, ndirty = 0;

	/* Packed 256: descriptors fill page RING_GPA, the event areas sit on the next page. */
	env_init(&e, packed ? 256 : 8, packed, false);
	used_gpa = packed ? e.ra.desc_gpa : e.ra.device_gpa;
	assert_int_equal(vh_dirty_log_wrap(bits, sizeof(bits), &log), 0);
	/* Packed: given the device area (vhost-user's log_guest_addr), the ring still finds the
	 * descriptor ring where used descriptors go. */
	vh_vq_set_log(e.vq, log, packed ? e.ra.device_gpa : used_gpa);
	assert_int_equal(vh_vq_driver_add(e.drv, &req), 0);
	vh_vq_driver_publish(e.drv);
	assert_int_equal(vh_vq_pop(e.vq, &e.elem), 1);
	/* 0x20 bytes from BUF_GPA + 0x3ff0: pages BUF+0x3000 and BUF+0x4000, not +0x5000. */
	assert_int_equal(vh_vq_push(e.vq, &e.elem, 0x20), 0);
	vh_vq_flush(e.vq);
	assert_false(page_dirty(bits, BUF_GPA));
	assert_true(page_dirty(bits, BUF_GPA + 0x3000));
	assert_true(page_dirty(bits, BUF_GPA + 0x4000));
	assert_false(page_dirty(bits, BUF_GPA + 0x5000));
	assert_true(page_dirty(bits, used_gpa));
	if (!packed)
		assert_true(page_dirty(bits, used_gpa + 4 + 8 * 8 - 1));
	/* Exactly three pages: the ring page (desc, avail and used share it at num 8) and two. */
	for (i = 0; i < sizeof(bits); i++)
		ndirty += __builtin_popcount(bits[i]);
	assert_int_equal(ndirty, 3);
	vh_dirty_log_unmap(&log);
	env_fini(&e);
}

static void test_dirty_log(void **state)
{
	(void)state;
	dirty_run(false);
	dirty_run(true);
}

/* Writing avail_event / the device event area (notification control) is logged as well. */
static void test_dirty_log_event(void **state)
{
	uint8_t bits[LOG_BYTES];
	struct vh_dirty_log *log;
	struct env e;

	(void)state;
	for (int packed = 0; packed < 2; packed++) {
		uint64_t area;

		memset(bits, 0, sizeof(bits));
		env_init(&e, 256, packed, true);
		area = e.ra.device_gpa;
		assert_int_equal(vh_dirty_log_wrap(bits, sizeof(bits), &log), 0);
		vh_vq_set_log(e.vq, log, e.ra.device_gpa);
		assert_false(page_dirty(bits, area));
		assert_int_equal(vh_vq_set_notification(e.vq, true), 0);
		assert_true(page_dirty(bits, area));
		/* ... and the page of the last avail_event byte (split: after 256 used entries). */
		if (!packed)
			assert_true(page_dirty(bits, area + 4 + 8 * 256));
		assert_false(page_dirty(bits, e.ra.desc_gpa));
		vh_dirty_log_unmap(&log);
		env_fini(&e);
	}
}

#define STRESS_REQS 100000u

struct stress {
	struct env *e;
	unsigned served;
};

/* Device thread: copy the 8-byte request number from the readable to the writable buffer. */
static void *stress_device(void *arg)
{
	struct stress *s = arg;
	struct iovec iov[4];
	struct vh_vq_elem el = { .iov = iov, .max_iov = 4 };

	while (s->served < STRESS_REQS) {
		int r = vh_vq_pop(s->e->vq, &el);

		if (r < 0)
			break;
		if (r == 0) {
			vh_vq_flush(s->e->vq);
			sched_yield(); /* the machine may have fewer free cores than threads */
			continue;
		}
		if (el.out_num == 1 && el.in_num == 1 && iov[0].iov_len == 8 && iov[1].iov_len == 8)
			memcpy(iov[1].iov_base, iov[0].iov_base, 8);
		vh_vq_push(s->e->vq, &el, 8);
		s->served++;
	}
	vh_vq_flush(s->e->vq);
	return NULL;
}

/* Driver and device in two threads, polling: catches missing barriers and index races. */
static void stress_run(bool packed)
{
	struct stress s = { 0 };
	uint64_t added = 0, reaped = 0;
	struct env e;
	pthread_t th;

	env_init(&e, 16, packed, true);
	s.e = &e;
	assert_int_equal(vh_vq_set_notification(e.vq, false), 0);
	assert_int_equal(pthread_create(&th, NULL, stress_device, &s), 0);
	while (reaped < STRESS_REQS) {
		void *tok;
		uint32_t len;
		int r;

		while (added < STRESS_REQS) {
			uint64_t slot = added % 1024;
			struct vh_vq_buf b[2] = { { BUF_GPA + 16 * slot, 8 },
						  { BUF_GPA + 0x10000 + 16 * slot, 8 } };
			struct vh_vq_driver_req req = { b, 1, 1, (void *)(uintptr_t)(added + 1),
							added % 7 == 0 };

			memcpy(host_of(&e, b[0].gpa), &added, 8);
			if (vh_vq_driver_add(e.drv, &req) < 0)
				break;
			added++;
		}
		vh_vq_driver_publish(e.drv);
		r = vh_vq_driver_get_used(e.drv, &tok, &len);
		assert_true(r >= 0);
		if (r == 1) {
			uint64_t got;

			assert_int_equal((uintptr_t)tok, reaped + 1);
			assert_int_equal(len, 8);
			memcpy(&got, host_of(&e, BUF_GPA + 0x10000 + 16 * (reaped % 1024)), 8);
			assert_int_equal(got, reaped);
			reaped++;
		} else {
			sched_yield();
		}
	}
	pthread_join(th, NULL);
	assert_int_equal(s.served, STRESS_REQS);
	assert_false(vh_vq_is_broken(e.vq));
	env_fini(&e);
}

static void test_threads(void **state)
{
	(void)state;
	stress_run(false);
	stress_run(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_round_trip_split),
		cmocka_unit_test(test_flush_idle_split),
		cmocka_unit_test(test_round_trip_packed),
		cmocka_unit_test(test_wrap_split),
		cmocka_unit_test(test_wrap_packed),
		cmocka_unit_test(test_event_idx_split),
		cmocka_unit_test(test_flags_split),
		cmocka_unit_test(test_event_idx_packed),
		cmocka_unit_test(test_need_event),
		cmocka_unit_test(test_base),
		cmocka_unit_test(test_dirty_log),
		cmocka_unit_test(test_dirty_log_event),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_add_one),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
