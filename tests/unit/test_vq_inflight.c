// SPDX-License-Identifier: BSD-3-Clause
/* vq/inflight.c: the shared inflight region across a backend restart (split rings). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <vhost/mem.h>
#include <vhost/vq.h>

#include "vq/vq_internal.h"
#include "unit_helpers.h"

#define GPA_BASE 0x10000ull
#define MEM_SIZE 0x40000u
#define NUM	 8

/* vhost-user.rst QueueRegionSplit / DescStateSplit, as the frontend would look at them. */
struct region_desc {
	uint8_t inflight;
	uint8_t padding[5];
	uint16_t next;
	uint64_t counter;
};

struct region {
	uint64_t features;
	uint16_t version;
	uint16_t desc_num;
	uint16_t last_batch_head;
	uint16_t used_idx;
	struct region_desc desc[NUM];
};

struct env {
	uint8_t *mem;
	struct vh_memmap *map;
	struct vh_vq_driver *drv;
	struct vh_vq_ring_addrs ra;
	struct vh_vq *vq;
	struct iovec iov[4];
	struct vh_vq_elem elem;
	struct region *rg;
	struct vh_test_log log;
};

static struct vh_vq *new_backend(struct env *e, bool packed)
{
	struct vh_vq_config vc = { .num = NUM, .packed = packed, .name = "infl" };
	struct vh_vq *vq;

	vc.log = vh_test_sink(&e->log);
	assert_int_equal(vh_vq_create(&vc, &vq), 0);
	assert_int_equal(vh_vq_set_addrs(vq, &e->ra.host), 0);
	vh_vq_set_memmap(vq, e->map);
	assert_int_equal(vh_vq_set_base(vq, 0), 0);
	return vq;
}

static void env_init(struct env *e)
{
	struct vh_mem_region r = { .gpa = GPA_BASE, .size = MEM_SIZE, .fd = -1 };
	struct vh_vq_driver_config dc = {
		.num = NUM, .gpa = GPA_BASE, .size = MEM_SIZE, .ring_gpa = GPA_BASE
	};
	struct vh_vq_buf b = { GPA_BASE + 0x8000, 32 };
	struct vh_vq_driver_req req = { &b, 0, 1, NULL, false };
	uintptr_t i;

	memset(e, 0, sizeof(*e));
	e->mem = aligned_alloc(4096, MEM_SIZE);
	assert_non_null(e->mem);
	memset(e->mem, 0, MEM_SIZE);
	r.host = e->mem;
	r.uva = (uintptr_t)e->mem;
	assert_int_equal(vh_memmap_create(NULL, &e->map), 0);
	assert_int_equal(vh_memmap_add(e->map, &r), 0);
	dc.host = e->mem;
	assert_int_equal(vh_vq_driver_create(&dc, &e->drv), 0);
	vh_vq_driver_ring_addrs(e->drv, &e->ra);
	/* Four single-buffer chains: heads 0, 1, 2, 3. */
	for (i = 1; i <= 4; i++) {
		req.token = (void *)i;
		assert_int_equal(vh_vq_driver_add(e->drv, &req), 0);
	}
	vh_vq_driver_publish(e->drv);
	e->rg = aligned_alloc(64, vh_vq_inflight_size(NUM, false));
	assert_non_null(e->rg);
	assert_int_equal(vh_vq_inflight_size(NUM, false), 192); /* 16 + 8 * 16 rounded to 64 */
	memset(e->rg, 0, vh_vq_inflight_size(NUM, false));
	e->vq = new_backend(e, false);
	e->elem.iov = e->iov;
	e->elem.max_iov = 4;
}

static void env_fini(struct env *e)
{
	vh_vq_destroy(&e->vq);
	vh_vq_driver_destroy(&e->drv);
	vh_memmap_destroy(&e->map);
	free(e->rg);
	free(e->mem);
}

static void pop_expect(struct env *e, uint16_t head)
{
	assert_int_equal(vh_vq_pop(e->vq, &e->elem), 1);
	assert_int_equal(e->elem.id, head);
}

/* Fresh region; three chains popped, one completed and flushed, one pushed but not flushed. */
static void run_until_crash(struct env *e, struct vh_vq_elem *h0)
{
	assert_int_equal(vh_vq_set_inflight(e->vq, e->rg, vh_vq_inflight_size(NUM, false)), 0);
	assert_int_equal(e->rg->version, 1);
	assert_int_equal(e->rg->desc_num, NUM);
	pop_expect(e, 0);
	*h0 = e->elem;
	pop_expect(e, 1);
	assert_int_equal(vh_vq_push(e->vq, &e->elem, 0), 0);
	vh_vq_flush(e->vq);
	pop_expect(e, 2);
	assert_int_equal(e->rg->desc[0].inflight, 1);
	assert_int_equal(e->rg->desc[1].inflight, 0);
	assert_int_equal(e->rg->desc[2].inflight, 1);
	assert_int_equal(e->rg->desc[3].inflight, 0);
	assert_int_equal(e->rg->desc[0].counter, 0);
	assert_int_equal(e->rg->desc[2].counter, 2);
	assert_int_equal(e->rg->used_idx, 1);
}

static void test_inflight_resubmit(void **state)
{
	struct vh_vq_elem h0;
	struct env e;

	(void)state;
	env_init(&e);
	run_until_crash(&e, &h0);
	/* Head 0 completes but its used idx is never published: still in flight. */
	assert_int_equal(vh_vq_push(e.vq, &h0, 0), 0);
	assert_int_equal(e.rg->last_batch_head, 0);
	vh_vq_destroy(&e.vq);

	e.vq = new_backend(&e, false);
	assert_int_equal(vh_vq_set_inflight(e.vq, e.rg, vh_vq_inflight_size(NUM, false)), 2);
	assert_int_equal(vh_vq_get_base(e.vq), 3); /* used idx 1 + 2 in flight */
	pop_expect(&e, 0);			   /* resubmitted in pop order */
	pop_expect(&e, 2);
	pop_expect(&e, 3); /* then the ring continues */
	assert_int_equal(vh_vq_pop(e.vq, &e.elem), 0);
	assert_int_equal(e.rg->desc[3].counter, 3);
	env_fini(&e);
}

static void test_inflight_repair_batch(void **state)
{
	struct vring_used *used;
	struct vh_vq_elem h0;
	struct env e;

	(void)state;
	env_init(&e);
	used = e.ra.host.device;
	run_until_crash(&e, &h0);
	/* Heads 2 then 0 complete; used idx reaches 3 but the flags are never cleared. */
	assert_int_equal(vh_vq_push(e.vq, &e.elem, 0), 0);
	assert_int_equal(vh_vq_push(e.vq, &h0, 0), 0);
	assert_int_equal(e.rg->last_batch_head, 0);
	assert_int_equal(e.rg->desc[0].next, 2);
	__atomic_store_n(&used->idx, 3, __ATOMIC_RELEASE);
	vh_vq_destroy(&e.vq);

	e.vq = new_backend(&e, false);
	assert_int_equal(vh_vq_set_inflight(e.vq, e.rg, vh_vq_inflight_size(NUM, false)), 0);
	assert_int_equal(e.rg->desc[0].inflight, 0);
	assert_int_equal(e.rg->desc[2].inflight, 0);
	assert_int_equal(e.rg->used_idx, 3);
	assert_int_equal(vh_vq_get_base(e.vq), 3);
	pop_expect(&e, 3);
	env_fini(&e);
}

static void test_inflight_bad(void **state)
{
	struct vh_vq *packed;
	struct env e;

	(void)state;
	env_init(&e);
	assert_int_equal(vh_vq_set_inflight(e.vq, e.rg, 100), -EINVAL);
	e.rg->version = 7;
	assert_int_equal(vh_vq_set_inflight(e.vq, e.rg, 192), -EPROTO);
	assert_int_equal(e.log.count, 1);
	e.rg->version = 1;
	e.rg->desc_num = NUM * 2;
	assert_int_equal(vh_vq_set_inflight(e.vq, e.rg, 192), -EPROTO);
	e.rg->desc_num = NUM;
	e.rg->desc[5].inflight = 9;
	assert_int_equal(vh_vq_set_inflight(e.vq, e.rg, 192), -EPROTO);
	/* Not tracking after a refusal: pops leave the region alone. */
	e.rg->desc[5].inflight = 0;
	pop_expect(&e, 0);
	assert_int_equal(e.rg->desc[0].inflight, 0);
	assert_int_equal(vh_vq_set_inflight(e.vq, NULL, 0), 0);
	packed = new_backend(&e, true);
	assert_int_equal(vh_vq_inflight_size(NUM, true), 320); /* 32 + 8 * 32 rounded to 64 */
	assert_int_equal(vh_vq_set_inflight(packed, e.rg, 192), -EINVAL);
	vh_vq_destroy(&packed);
	env_fini(&e);
}

/* ---- packed ---- */

struct penv {
	uint8_t *mem;
	struct vh_memmap *map;
	struct vh_vq_driver *drv;
	struct vh_vq_ring_addrs ra;
	struct vh_vq *vq;
	struct iovec iov[4];
	struct vh_vq_elem elem;
	void *rg;
	struct vh_test_log log;
};

#define PBUF(i) (GPA_BASE + 0x8000 + 0x100 * (i))

/* Chains: id 0 (1 desc, slot 0), id 1 (2 descs, slots 1-2), id 2 (slot 3), id 3 (slot 4). */
static void penv_init(struct penv *p)
{
	struct vh_mem_region r = { .gpa = GPA_BASE, .size = MEM_SIZE, .fd = -1 };
	struct vh_vq_driver_config dc = {
		.num = NUM, .packed = true, .gpa = GPA_BASE, .size = MEM_SIZE, .ring_gpa = GPA_BASE
	};
	struct vh_vq_config vc = { .num = NUM, .packed = true, .name = "infl packed" };
	struct vh_vq_buf b[2];
	struct vh_vq_driver_req req = { b, 0, 1, NULL, false };
	uintptr_t i;

	memset(p, 0, sizeof(*p));
	p->mem = aligned_alloc(4096, MEM_SIZE);
	assert_non_null(p->mem);
	memset(p->mem, 0, MEM_SIZE);
	r.host = p->mem;
	r.uva = (uintptr_t)p->mem;
	assert_int_equal(vh_memmap_create(NULL, &p->map), 0);
	assert_int_equal(vh_memmap_add(p->map, &r), 0);
	dc.host = p->mem;
	assert_int_equal(vh_vq_driver_create(&dc, &p->drv), 0);
	vh_vq_driver_ring_addrs(p->drv, &p->ra);
	for (i = 0; i < 4; i++) {
		b[0].gpa = PBUF(i);
		b[0].len = 16;
		b[1].gpa = PBUF(i) + 0x80;
		b[1].len = 8;
		req.out_num = i == 1;
		req.token = (void *)(i + 1);
		assert_int_equal(vh_vq_driver_add(p->drv, &req), 0);
	}
	p->rg = aligned_alloc(64, 320);
	assert_non_null(p->rg);
	memset(p->rg, 0, 320);
	vc.log = vh_test_sink(&p->log);
	assert_int_equal(vh_vq_create(&vc, &p->vq), 0);
	assert_int_equal(vh_vq_set_addrs(p->vq, &p->ra.host), 0);
	vh_vq_set_memmap(p->vq, p->map);
	assert_int_equal(vh_vq_set_inflight(p->vq, p->rg, 320), 0);
	p->elem.iov = p->iov;
	p->elem.max_iov = 4;
}

static void penv_restart(struct penv *p, int expect)
{
	struct vh_vq_config vc = { .num = NUM, .packed = true, .name = "infl packed" };
	uint32_t fe_base = 0;

	/* What a frontend reads from the region (read only, before the repair) ... */
	assert_int_equal(vh_vq_inflight_packed_base(p->rg, 320, NUM, &fe_base), 0);
	vh_vq_destroy(&p->vq);
	vc.log = vh_test_sink(&p->log);
	assert_int_equal(vh_vq_create(&vc, &p->vq), 0);
	assert_int_equal(vh_vq_set_addrs(p->vq, &p->ra.host), 0);
	vh_vq_set_memmap(p->vq, p->map);
	assert_int_equal(vh_vq_set_inflight(p->vq, p->rg, 320), expect);
	/* ... is where the restarted backend resumes. */
	assert_int_equal(vh_vq_get_base(p->vq), fe_base);
}

/* The region's bytes (vhost-user.rst QueueRegionPacked) -> the base a frontend restarts from. */
static void test_inflight_packed_base(void **state)
{
	uint8_t rg[32 + 8 * 32] = { 0 };
	uint32_t base = 0;

	(void)state;
	assert_int_equal(vh_vq_inflight_packed_base(rg, sizeof(rg), 8, &base), -ENOENT);
	assert_int_equal(vh_vq_inflight_packed_base(rg, sizeof(rg) - 1, 8, &base), -EINVAL);
	rg[8] = 1;  /* version */
	rg[10] = 8; /* desc_num */
	rg[18] = 6; /* old_used_idx: used slot 6 ... */
	rg[16] = 7; /* (used_idx ahead: a push cut short; only old_* counts) */
	rg[21] = 1; /* ... old_used_wrap_counter 1 */
	/* desc[2]: in flight, 2 slots; desc[5]: in flight, 1 slot. */
	rg[32 + 2 * 32] = 1;
	rg[32 + 2 * 32 + 6] = 2;
	rg[32 + 5 * 32] = 1;
	rg[32 + 5 * 32 + 6] = 1;
	assert_int_equal(vh_vq_inflight_packed_base(rg, sizeof(rg), 8, &base), 0);
	assert_int_equal(base, 1); /* 6 + 3 = 9: slot 1 of the next lap, wrap 0 */
	rg[32 + 5 * 32] = 0;
	assert_int_equal(vh_vq_inflight_packed_base(rg, sizeof(rg), 8, &base), 0);
	assert_int_equal(base, 0); /* 6 + 2 = 8: slot 0, wrap flips */
	rg[21] = 0;
	assert_int_equal(vh_vq_inflight_packed_base(rg, sizeof(rg), 8, &base), 0);
	assert_int_equal(base, 1u << 15);
	rg[32 + 5 * 32] = 2; /* not a flag */
	assert_int_equal(vh_vq_inflight_packed_base(rg, sizeof(rg), 8, &base), -EPROTO);
	rg[32 + 5 * 32] = 0;
	rg[10] = 16; /* another ring size */
	assert_int_equal(vh_vq_inflight_packed_base(rg, sizeof(rg), 8, &base), -EPROTO);
}

static void penv_fini(struct penv *p)
{
	vh_vq_destroy(&p->vq);
	vh_vq_driver_destroy(&p->drv);
	vh_memmap_destroy(&p->map);
	free(p->rg);
	free(p->mem);
}

static void ppop(struct penv *p, uint16_t id)
{
	assert_int_equal(vh_vq_pop(p->vq, &p->elem), 1);
	assert_int_equal(p->elem.id, id);
	/* The writable buffer is PBUF(id), or PBUF(id) + 0x80 after chain 1's readable one. */
	assert_int_equal(p->elem.in_num, 1);
	assert_int_equal(p->elem.out_num, id == 1);
	assert_ptr_equal(p->iov[p->elem.out_num].iov_base,
			 p->mem + (PBUF(id) + (id == 1 ? 0x80 : 0) - GPA_BASE));
}

static void test_inflight_packed_resubmit(void **state)
{
	struct vh_vq_elem c2;
	struct penv p;
	void *tok;
	uint32_t len;

	(void)state;
	penv_init(&p);
	ppop(&p, 0);
	ppop(&p, 1);
	c2 = p.elem;
	ppop(&p, 2);
	/* Chain 1 completes: its used descriptor overwrites ring slot 0 (chain 0's). */
	assert_int_equal(vh_vq_push(p.vq, &c2, 8), 0);
	penv_restart(&p, 2);
	/* used slot 2 + chains 0 and 2 (one slot each) in flight: next avail slot 4, wrap 1. */
	assert_int_equal(vh_vq_get_base(p.vq), 4 | (1u << 15));
	ppop(&p, 0); /* rebuilt from the region's copy: slot 0 holds a used descriptor now */
	ppop(&p, 2);
	ppop(&p, 3);
	assert_int_equal(vh_vq_pop(p.vq, &p.elem), 0);
	assert_int_equal(vh_vq_push(p.vq, &p.elem, 1), 0); /* chain 3 -> used slot 2 */
	assert_int_equal(vh_vq_driver_get_used(p.drv, &tok, &len), 1);
	assert_ptr_equal(tok, (void *)2);
	assert_int_equal(len, 8);
	assert_int_equal(vh_vq_driver_get_used(p.drv, &tok, &len), 1);
	assert_ptr_equal(tok, (void *)4);
	assert_int_equal(vh_vq_driver_get_used(p.drv, &tok, &len), 0);
	penv_fini(&p);
}

static void test_inflight_packed_interrupted_push(void **state)
{
	struct vring_packed_desc *ring;
	struct penv p;

	(void)state;
	/* Cut short before the used descriptor was written: rolled back, chain 0 resubmitted. */
	penv_init(&p);
	ppop(&p, 0);
	ppop(&p, 1);
	vq_inflight_packed_push(p.vq, 0);
	penv_restart(&p, 2);
	assert_int_equal(vh_vq_get_base(p.vq), 3 | (1u << 15));
	ppop(&p, 0);
	ppop(&p, 1);
	ppop(&p, 2);
	penv_fini(&p);

	/* Cut short after the used descriptor was written: finished, only chain 1 is left. */
	penv_init(&p);
	ring = p.ra.host.desc;
	ppop(&p, 0);
	ppop(&p, 1);
	vq_inflight_packed_push(p.vq, 0);
	ring[0].id = 0;
	ring[0].flags = VH_VQ_PACKED_AVAIL | VH_VQ_PACKED_USED;
	penv_restart(&p, 1);
	assert_int_equal(vh_vq_get_base(p.vq), 3 | (1u << 15));
	ppop(&p, 1);
	ppop(&p, 2);
	penv_fini(&p);
}

/*
 * fuzz_inflight finding (a SEGV): the front-end rewrote an in-flight chain's length in the
 * shared region after the restarted back-end had checked it, to 0xffff with a zero-length
 * descriptor that links to itself. The resubmission popped it as a 65535-descriptor chain and
 * its push moved the used index off the ring: the next push wrote outside it. The length is
 * checked again when the chain is resubmitted: the ring breaks, nothing is written.
 */
static void test_inflight_packed_length_rewritten(void **state)
{
	uint8_t *d0;
	struct penv p;

	(void)state;
	penv_init(&p);
	ppop(&p, 0);
	ppop(&p, 1);
	penv_restart(&p, 2);
	/* QueueRegionPacked: 32-byte header, then DescStatePacked[] (next +2, num +6, len +24). */
	d0 = (uint8_t *)p.rg + 32;
	memcpy(d0 + 2, &(uint16_t){ 0 }, 2);
	memcpy(d0 + 6, &(uint16_t){ 0xffff }, 2);
	memcpy(d0 + 24, &(uint32_t){ 0 }, 4);
	assert_true(vh_vq_pop(p.vq, &p.elem) < 0);
	assert_non_null(strstr(p.log.last, "inflight region chain length out of range"));
	assert_true(vh_vq_is_broken(p.vq));
	penv_fini(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inflight_resubmit),
		cmocka_unit_test(test_inflight_repair_batch),
		cmocka_unit_test(test_inflight_bad),
		cmocka_unit_test(test_inflight_packed_resubmit),
		cmocka_unit_test(test_inflight_packed_interrupted_push),
		cmocka_unit_test(test_inflight_packed_base),
		cmocka_unit_test(test_inflight_packed_length_rewritten),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
