// SPDX-License-Identifier: BSD-3-Clause
/*
 * vq/: every way a guest (or a device, for the driver side) can break a ring. Descriptors are
 * written by hand; the memory table has two GPA-adjacent regions that are not adjacent in host
 * memory, followed by a hole.
 */
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

#define A_GPA	 0x100000ull
#define A_SIZE	 0x100000ull
#define B_GPA	 (A_GPA + A_SIZE) /* adjacent in GPA, elsewhere in host memory */
#define B_SIZE	 0x10000ull
#define HOLE_GPA (B_GPA + B_SIZE)
#define RING_GPA A_GPA
#define IND_GPA	 (A_GPA + 0x10000)
#define BUF_GPA	 (A_GPA + 0x20000)
#define NUM	 8

struct bad {
	uint8_t *a, *b, *ring;
	struct vh_memmap *map;
	struct vh_vq *vq;
	struct vh_vq_layout l;
	struct iovec iov[8];
	struct vh_vq_elem elem;
	struct vh_test_log log;
	uint16_t avail; /* split: avail idx; packed: next slot */
	bool wrap;	/* packed: driver wrap counter */
	bool packed;
};

static void bad_init(struct bad *t, bool packed, bool indirect)
{
	struct vh_mem_region ra = { .gpa = A_GPA, .size = A_SIZE, .fd = -1 };
	struct vh_mem_region rb = { .gpa = B_GPA, .size = B_SIZE, .fd = -1 };
	struct vh_vq_config vc = {
		.num = NUM, .packed = packed, .indirect = indirect, .name = "bad"
	};
	struct vh_vq_addrs addrs;

	memset(t, 0, sizeof(*t));
	t->packed = packed;
	t->wrap = true;
	t->a = aligned_alloc(4096, A_SIZE);
	t->b = aligned_alloc(4096, B_SIZE);
	assert_non_null(t->a);
	assert_non_null(t->b);
	memset(t->a, 0, A_SIZE);
	memset(t->b, 0, B_SIZE);
	ra.host = t->a;
	ra.uva = (uintptr_t)t->a;
	rb.host = t->b;
	rb.uva = (uintptr_t)t->b;
	assert_int_equal(vh_memmap_create(NULL, &t->map), 0);
	assert_int_equal(vh_memmap_add(t->map, &ra), 0);
	assert_int_equal(vh_memmap_add(t->map, &rb), 0);
	assert_int_equal(vh_vq_layout(NUM, packed, &t->l), 0);
	t->ring = t->a + (RING_GPA - A_GPA);
	addrs.desc = t->ring + t->l.desc_off;
	addrs.driver = t->ring + t->l.driver_off;
	addrs.device = t->ring + t->l.device_off;
	vc.log = vh_test_sink(&t->log);
	assert_int_equal(vh_vq_create(&vc, &t->vq), 0);
	assert_int_equal(vh_vq_set_addrs(t->vq, &addrs), 0);
	vh_vq_set_memmap(t->vq, t->map);
	t->elem.iov = t->iov;
	t->elem.max_iov = 8;
}

static void bad_fini(struct bad *t)
{
	vh_vq_destroy(&t->vq);
	vh_memmap_destroy(&t->map);
	free(t->a);
	free(t->b);
}

static void sdesc(struct bad *t, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		  uint16_t next)
{
	struct vring_desc *d = (struct vring_desc *)(t->ring + t->l.desc_off) + i;

	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

static void savail(struct bad *t, uint16_t head)
{
	struct vring_avail *av = (struct vring_avail *)(t->ring + t->l.driver_off);

	av->ring[t->avail % NUM] = head;
	av->idx = ++t->avail;
}

/* Packed descriptor at @slot, marked available for wrap counter @wrap. */
static void pdesc(struct bad *t, unsigned slot, uint64_t addr, uint32_t len, uint16_t id,
		  uint16_t flags, bool wrap)
{
	struct vring_packed_desc *d = (struct vring_packed_desc *)(t->ring + t->l.desc_off) + slot;

	d->addr = addr;
	d->len = len;
	d->id = id;
	d->flags = flags | (wrap ? VH_VQ_PACKED_AVAIL : VH_VQ_PACKED_USED);
}

/* A table in guest memory at @gpa: for split and packed the 16-byte layouts share addr/len. */
static void table_desc(struct bad *t, uint64_t gpa, unsigned i, uint64_t addr, uint32_t len,
		       uint16_t flags, uint16_t next)
{
	struct vring_desc d = { addr, len, flags, next };

	if (t->packed) {
		struct vring_packed_desc p = { addr, len, 0, flags };

		memcpy(&d, &p, 16);
	}
	/* Byte-wise so a table may straddle the A/B boundary. */
	for (unsigned k = 0; k < 16; k++) {
		uint64_t g = gpa + 16ull * i + k;
		uint8_t *h = g >= B_GPA ? t->b + (g - B_GPA) : t->a + (g - A_GPA);

		*h = ((uint8_t *)&d)[k];
	}
}

static void expect_broken(struct bad *t, const char *what)
{
	assert_int_equal(vh_vq_pop(t->vq, &t->elem), -EPROTO);
	assert_true(vh_vq_is_broken(t->vq));
	/* Sticky and logged exactly once. */
	assert_int_equal(vh_vq_pop(t->vq, &t->elem), -EPROTO);
	assert_int_equal(vh_vq_push(t->vq, &t->elem, 0), -EPROTO);
	assert_int_equal(t->log.count, 1);
	assert_non_null(strstr(t->log.last, what));
	assert_non_null(strstr(t->log.last, "bad: pop: "));
}

/* Split: one chain of a single descriptor at head 0 with (addr, len, flags). */
static void split_single(uint64_t addr, uint32_t len, const char *what)
{
	struct bad t;

	bad_init(&t, false, true);
	sdesc(&t, 0, addr, len, 0, 0);
	savail(&t, 0);
	expect_broken(&t, what);
	bad_fini(&t);
}

static void test_split_addresses(void **state)
{
	(void)state;
	split_single(0x50000, 16, "outside guest memory");	      /* below every region */
	split_single(HOLE_GPA - 0x10, 0x20, "outside guest memory");  /* B end into the hole */
	split_single(A_GPA, 0xffffffff, "outside guest memory");      /* huge len */
	split_single(UINT64_MAX - 0xf, 0x20, "outside guest memory"); /* addr + len wraps */
	split_single(HOLE_GPA + 0x1000, 1, "outside guest memory");   /* in the hole */
}

static void test_split_straddle_ok(void **state)
{
	struct bad t;

	(void)state;
	bad_init(&t, false, true);
	/* A buffer across the A/B boundary is fine: two iovecs, one per region. */
	sdesc(&t, 0, B_GPA - 0x10, 0x20, VRING_DESC_F_WRITE, 0);
	savail(&t, 0);
	assert_int_equal(vh_vq_pop(t.vq, &t.elem), 1);
	assert_int_equal(t.elem.in_num, 2);
	assert_ptr_equal(t.iov[0].iov_base, t.a + A_SIZE - 0x10);
	assert_int_equal(t.iov[0].iov_len, 0x10);
	assert_ptr_equal(t.iov[1].iov_base, t.b);
	assert_int_equal(t.iov[1].iov_len, 0x10);
	/* An indirect table straddling the boundary is read descriptor by descriptor. */
	table_desc(&t, B_GPA - 0x10, 1, BUF_GPA + 0x100, 9, VRING_DESC_F_WRITE, 0);
	table_desc(&t, B_GPA - 0x10, 0, BUF_GPA, 7, VRING_DESC_F_NEXT, 1);
	sdesc(&t, 1, B_GPA - 0x10, 32, VRING_DESC_F_INDIRECT, 0);
	savail(&t, 1);
	assert_int_equal(vh_vq_pop(t.vq, &t.elem), 1);
	assert_int_equal(t.elem.id, 1);
	assert_int_equal(t.elem.out_num, 1);
	assert_int_equal(t.elem.in_num, 1);
	assert_ptr_equal(t.iov[0].iov_base, t.a + (BUF_GPA - A_GPA));
	assert_int_equal(t.iov[0].iov_len, 7);
	assert_int_equal(t.iov[1].iov_len, 9);
	bad_fini(&t);
}

/* The spec asks no alignment of an indirect table: an unaligned one is read by copying. */
static void test_split_indirect_unaligned(void **state)
{
	struct bad t;

	(void)state;
	bad_init(&t, false, true);
	table_desc(&t, IND_GPA + 4, 0, BUF_GPA, 7, VRING_DESC_F_NEXT, 1);
	table_desc(&t, IND_GPA + 4, 1, BUF_GPA + 0x100, 9, VRING_DESC_F_WRITE, 0);
	sdesc(&t, 0, IND_GPA + 4, 32, VRING_DESC_F_INDIRECT, 0);
	savail(&t, 0);
	assert_int_equal(vh_vq_pop(t.vq, &t.elem), 1);
	assert_int_equal(t.elem.out_num, 1);
	assert_int_equal(t.elem.in_num, 1);
	assert_int_equal(t.elem.out_len, 7);
	assert_int_equal(t.elem.in_len, 9);
	assert_ptr_equal(t.iov[1].iov_base, t.a + (BUF_GPA + 0x100 - A_GPA));
	bad_fini(&t);
}

/*
 * fuzz_vq finding (a timeout): an indirect table of len 0xfffffff0 straddling two regions was
 * accepted as 2^28 entries read one by one, and a loop of zero-length entries inside its
 * mapped part kept pop busy for minutes. A table of more than 65536 entries breaks the ring,
 * split and packed, wherever it lies.
 */
static void test_indirect_table_too_long(void **state)
{
	struct bad t;

	(void)state;
	bad_init(&t, false, true);
	table_desc(&t, B_GPA - 0x10, 0, BUF_GPA, 0, VRING_DESC_F_NEXT, 1);
	table_desc(&t, B_GPA - 0x10, 1, BUF_GPA, 0, VRING_DESC_F_NEXT, 0);
	sdesc(&t, 0, B_GPA - 0x10, 0xfffffff0u, VRING_DESC_F_INDIRECT, 0);
	savail(&t, 0);
	expect_broken(&t, "indirect table longer than 65536 descriptors");
	bad_fini(&t);

	bad_init(&t, false, true);
	sdesc(&t, 0, A_GPA, 16 * 65537, VRING_DESC_F_INDIRECT, 0);
	savail(&t, 0);
	expect_broken(&t, "indirect table longer than 65536 descriptors");
	bad_fini(&t);

	bad_init(&t, true, true);
	pdesc(&t, 0, B_GPA - 0x10, 0xfffffff0u, 0, VRING_DESC_F_INDIRECT, true);
	expect_broken(&t, "indirect table longer than 65536 descriptors");
	bad_fini(&t);
}

static void test_split_loop(void **state)
{
	struct bad t;

	(void)state;
	bad_init(&t, false, true);
	sdesc(&t, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 1);
	sdesc(&t, 1, BUF_GPA, 8, VRING_DESC_F_NEXT, 0);
	savail(&t, 0);
	expect_broken(&t, "longer than its table");
	/* SET_VRING_BASE clears the broken state. */
	assert_int_equal(vh_vq_set_base(t.vq, 0), 0);
	assert_false(vh_vq_is_broken(t.vq));
	bad_fini(&t);
}

static void test_split_chain_of_num(void **state)
{
	struct bad t;
	unsigned i;

	(void)state;
	bad_init(&t, false, true);
	/* Exactly num descriptors is the longest legal chain. */
	for (i = 0; i < NUM; i++)
		sdesc(&t, i, BUF_GPA + i, 1, i + 1 < NUM ? VRING_DESC_F_NEXT : 0,
		      (uint16_t)(i + 1));
	savail(&t, 0);
	assert_int_equal(vh_vq_pop(t.vq, &t.elem), 1);
	assert_int_equal(t.elem.out_num, NUM);
	assert_int_equal(t.elem.ndesc, NUM);
	bad_fini(&t);
	bad_init(&t, false, true);
	for (i = 0; i < NUM; i++)
		sdesc(&t, i, BUF_GPA, 1, VRING_DESC_F_NEXT, (uint16_t)((i + 1) % NUM));
	savail(&t, 3);
	expect_broken(&t, "longer than its table");
	bad_fini(&t);
}

static void test_split_indices(void **state)
{
	struct bad t;
	struct vring_avail *av;

	(void)state;
	bad_init(&t, false, true);
	sdesc(&t, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, NUM);
	savail(&t, 0);
	expect_broken(&t, "descriptor index out of range");
	bad_fini(&t);

	bad_init(&t, false, true);
	savail(&t, NUM);
	expect_broken(&t, "head index out of range");
	bad_fini(&t);

	bad_init(&t, false, true);
	av = (struct vring_avail *)(t.ring + t.l.driver_off);
	av->idx = NUM + 1;
	expect_broken(&t, "avail idx moved more than the ring size");
	bad_fini(&t);
}

static void test_split_order(void **state)
{
	struct bad t;

	(void)state;
	bad_init(&t, false, true);
	sdesc(&t, 0, BUF_GPA, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	sdesc(&t, 1, BUF_GPA, 8, 0, 0);
	savail(&t, 0);
	expect_broken(&t, "readable descriptor after a writable one");
	bad_fini(&t);
}

static void test_split_indirect(void **state)
{
	struct bad t;

	(void)state;
	bad_init(&t, false, true);
	sdesc(&t, 0, IND_GPA, 20, VRING_DESC_F_INDIRECT, 0);
	savail(&t, 0);
	expect_broken(&t, "not a multiple of 16");
	bad_fini(&t);

	bad_init(&t, false, true);
	table_desc(&t, IND_GPA, 0, IND_GPA + 0x100, 16, VRING_DESC_F_INDIRECT, 0);
	sdesc(&t, 0, IND_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	savail(&t, 0);
	expect_broken(&t, "nested indirect");
	bad_fini(&t);

	bad_init(&t, false, true);
	table_desc(&t, IND_GPA, 0, BUF_GPA, 16, 0, 0);
	sdesc(&t, 0, IND_GPA, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	savail(&t, 0);
	expect_broken(&t, "indirect descriptor with NEXT");
	bad_fini(&t);

	bad_init(&t, false, false);
	table_desc(&t, IND_GPA, 0, BUF_GPA, 16, 0, 0);
	sdesc(&t, 0, IND_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	savail(&t, 0);
	expect_broken(&t, "without VIRTIO_RING_F_INDIRECT_DESC");
	bad_fini(&t);

	bad_init(&t, false, true);
	/* A loop inside the table is bounded by the table's own length (2). */
	table_desc(&t, IND_GPA, 0, BUF_GPA, 16, VRING_DESC_F_NEXT, 1);
	table_desc(&t, IND_GPA, 1, BUF_GPA, 16, VRING_DESC_F_NEXT, 0);
	sdesc(&t, 0, IND_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	savail(&t, 0);
	expect_broken(&t, "longer than its table");
	bad_fini(&t);

	bad_init(&t, false, true);
	sdesc(&t, 0, HOLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	savail(&t, 0);
	expect_broken(&t, "indirect table outside guest memory");
	bad_fini(&t);
}

static void test_split_nobufs_and_zero_len(void **state)
{
	struct bad t;

	(void)state;
	bad_init(&t, false, true);
	sdesc(&t, 0, BUF_GPA, 0, VRING_DESC_F_NEXT, 1);
	sdesc(&t, 1, BUF_GPA, 8, VRING_DESC_F_NEXT, 2);
	sdesc(&t, 2, BUF_GPA + 8, 8, VRING_DESC_F_NEXT, 3);
	sdesc(&t, 3, BUF_GPA + 16, 0, VRING_DESC_F_WRITE, 0);
	savail(&t, 0);
	t.elem.max_iov = 1;
	assert_int_equal(vh_vq_pop(t.vq, &t.elem), -ENOBUFS);
	assert_false(vh_vq_is_broken(t.vq));
	assert_int_equal(vh_vq_get_base(t.vq), 0); /* nothing consumed */
	t.elem.max_iov = 8;
	assert_int_equal(vh_vq_pop(t.vq, &t.elem), 1);
	/* Zero-length descriptors take no iovec. */
	assert_int_equal(t.elem.out_num, 2);
	assert_int_equal(t.elem.in_num, 0);
	assert_int_equal(t.elem.out_len, 16);
	assert_int_equal(vh_vq_get_base(t.vq), 1);
	bad_fini(&t);
}

static void test_split_iotlb_miss(void **state)
{
	struct vh_iotlb *iotlb;
	struct bad t;

	(void)state;
	bad_init(&t, false, true);
	assert_int_equal(vh_iotlb_create(NULL, 0, &iotlb), 0);
	vh_memmap_set_iotlb(t.map, iotlb);
	sdesc(&t, 0, 0x50000000, 64, 0, 0);
	savail(&t, 0);
	assert_int_equal(vh_vq_pop(t.vq, &t.elem), -EAGAIN);
	assert_false(vh_vq_is_broken(t.vq));
	assert_int_equal(vh_vq_get_base(t.vq), 0);
	assert_int_equal(
	    vh_iotlb_update(iotlb, 0x50000000, 0x1000, (uintptr_t)t.a + 0x20000, VH_MEM_READ), 0);
	assert_int_equal(vh_vq_pop(t.vq, &t.elem), 1);
	assert_ptr_equal(t.iov[0].iov_base, t.a + 0x20000);
	vh_memmap_set_iotlb(t.map, NULL);
	vh_iotlb_destroy(&iotlb);
	bad_fini(&t);
}

static void test_packed_bad(void **state)
{
	struct bad t;
	unsigned i;

	(void)state;
	/* Head marked for the other wrap counter: simply not available. */
	bad_init(&t, true, true);
	pdesc(&t, 0, BUF_GPA, 8, 0, 0, false);
	assert_int_equal(vh_vq_pop(t.vq, &t.elem), 0);
	assert_false(vh_vq_is_broken(t.vq));
	/* A chained descriptor with the wrong wrap counter breaks the ring. */
	pdesc(&t, 1, BUF_GPA, 8, 0, 0, false);
	pdesc(&t, 0, BUF_GPA, 8, 0, VRING_DESC_F_NEXT, true);
	expect_broken(&t, "wrap counter mismatch");
	bad_fini(&t);

	bad_init(&t, true, true);
	pdesc(&t, 0, BUF_GPA, 8, NUM, 0, true);
	expect_broken(&t, "buffer id out of range");
	bad_fini(&t);

	bad_init(&t, true, true);
	for (i = 0; i < NUM; i++)
		pdesc(&t, i, BUF_GPA, 8, 0, VRING_DESC_F_NEXT, true);
	expect_broken(&t, "longer than the ring");
	bad_fini(&t);

	bad_init(&t, true, true);
	table_desc(&t, IND_GPA, 0, IND_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	pdesc(&t, 0, IND_GPA, 16, 0, VRING_DESC_F_INDIRECT, true);
	expect_broken(&t, "nested indirect");
	bad_fini(&t);

	bad_init(&t, true, true);
	pdesc(&t, 0, IND_GPA, 24, 0, VRING_DESC_F_INDIRECT, true);
	expect_broken(&t, "not a multiple of 16");
	bad_fini(&t);

	bad_init(&t, true, true);
	pdesc(&t, 0, BUF_GPA, 8, 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, true);
	pdesc(&t, 1, BUF_GPA, 8, 0, 0, true);
	expect_broken(&t, "readable descriptor after a writable one");
	bad_fini(&t);
}

static void test_packed_wrapping_chain(void **state)
{
	struct bad t;

	(void)state;
	bad_init(&t, true, true);
	/* Start at slot 6 with wrap 1: the chain runs 6, 7 (wrap 1) then 0 (wrap 0). */
	assert_int_equal(vh_vq_set_base(t.vq, 6 | (1u << 15)), 0);
	pdesc(&t, 6, BUF_GPA, 1, 5, VRING_DESC_F_NEXT, true);
	pdesc(&t, 7, BUF_GPA + 1, 2, 5, VRING_DESC_F_NEXT, true);
	pdesc(&t, 0, BUF_GPA + 3, 4, 5, VRING_DESC_F_WRITE, false);
	assert_int_equal(vh_vq_pop(t.vq, &t.elem), 1);
	assert_int_equal(t.elem.id, 5);
	assert_int_equal(t.elem.ndesc, 3);
	assert_int_equal(t.elem.out_len, 3);
	assert_int_equal(t.elem.in_len, 4);
	assert_int_equal(vh_vq_get_base(t.vq), 1); /* slot 1, wrap 0 */
	assert_int_equal(vh_vq_push(t.vq, &t.elem, 4), 0);
	/* The used descriptor goes to slot 6 with AVAIL == USED == 1; id and len as pushed. */
	{
		struct vring_packed_desc *d = (struct vring_packed_desc *)(t.ring + t.l.desc_off);

		assert_int_equal(d[6].id, 5);
		assert_int_equal(d[6].len, 4);
		assert_int_equal(d[6].flags & (VH_VQ_PACKED_AVAIL | VH_VQ_PACKED_USED),
				 VH_VQ_PACKED_AVAIL | VH_VQ_PACKED_USED);
	}
	bad_fini(&t);
}

/* The driver side distrusts the device the same way. */
static void test_driver_bad(void **state)
{
	uint8_t *mem = aligned_alloc(4096, 0x20000);
	struct vh_vq_driver_config dc = {
		.num = NUM, .gpa = 0x1000, .size = 0x20000, .ring_gpa = 0x1000
	};
	struct vh_vq_buf b = { 0x8000, 16 };
	struct vh_vq_driver_req req = { &b, 1, 0, (void *)1, false };
	struct vh_vq_ring_addrs ra;
	struct vh_vq_driver *d;
	struct vh_test_log log = { 0 };
	void *tok;
	uint32_t len;

	(void)state;
	dc.host = mem;
	dc.log = vh_test_sink(&log);
	for (int packed = 0; packed < 2; packed++) {
		dc.packed = packed;
		assert_int_equal(vh_vq_driver_create(&dc, &d), 0);
		vh_vq_driver_ring_addrs(d, &ra);
		assert_int_equal(vh_vq_driver_add(d, &req), 0);
		vh_vq_driver_publish(d);
		if (packed) {
			struct vring_packed_desc *pd = ra.host.desc;

			pd[0].id = NUM; /* used, but with an id out of range */
			pd[0].flags = VH_VQ_PACKED_AVAIL | VH_VQ_PACKED_USED;
		} else {
			struct vring_used *u = ra.host.device;

			u->idx = 2; /* only one buffer was made available */
		}
		assert_int_equal(vh_vq_driver_get_used(d, &tok, &len), -EPROTO);
		assert_int_equal(vh_vq_driver_get_used(d, &tok, &len), -EPROTO);
		vh_vq_driver_destroy(&d);
	}
	assert_int_equal(log.count, 2);
	/* Bad requests and configurations. */
	dc.packed = false;
	assert_int_equal(vh_vq_driver_create(&dc, &d), 0);
	b.gpa = 0x30000;
	assert_int_equal(vh_vq_driver_add(d, &req), -EFAULT);
	b.gpa = 0x8000;
	req.token = NULL;
	assert_int_equal(vh_vq_driver_add(d, &req), -EINVAL);
	req.token = (void *)1;
	req.indirect = true; /* indirect_max is 0 */
	assert_int_equal(vh_vq_driver_add(d, &req), -EINVAL);
	vh_vq_driver_destroy(&d);
	dc.ring_gpa = 0x1010;
	assert_int_equal(vh_vq_driver_create(&dc, &d), -EINVAL);
	free(mem);
}

static void test_config_bad(void **state)
{
	struct vh_vq_config vc = { .num = 6 }; /* split rings are a power of two */
	struct vh_vq_addrs a;
	struct vh_vq *vq;
	struct bad t;

	(void)state;
	assert_int_equal(vh_vq_create(&vc, &vq), -EINVAL);
	assert_null(vq);
	vc.num = 0;
	assert_int_equal(vh_vq_create(&vc, &vq), -EINVAL);
	bad_init(&t, false, true);
	a.desc = t.ring + 8; /* descriptor table must be 16-aligned */
	a.driver = t.ring + t.l.driver_off;
	a.device = t.ring + t.l.device_off;
	assert_int_equal(vh_vq_set_addrs(t.vq, &a), -EINVAL);
	a.desc = t.ring;
	a.driver = t.ring + t.l.driver_off + 1; /* avail ring: 2 */
	assert_int_equal(vh_vq_set_addrs(t.vq, &a), -EINVAL);
	a.driver = t.ring + t.l.driver_off;
	a.device = t.ring + t.l.device_off + 2; /* used ring: 4 */
	assert_int_equal(vh_vq_set_addrs(t.vq, &a), -EINVAL);
	a.device = NULL;
	assert_int_equal(vh_vq_set_addrs(t.vq, &a), -EINVAL);
	bad_fini(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_addresses),
		cmocka_unit_test(test_split_straddle_ok),
		cmocka_unit_test(test_indirect_table_too_long),
		cmocka_unit_test(test_split_indirect_unaligned),
		cmocka_unit_test(test_split_loop),
		cmocka_unit_test(test_split_chain_of_num),
		cmocka_unit_test(test_split_indices),
		cmocka_unit_test(test_split_order),
		cmocka_unit_test(test_split_indirect),
		cmocka_unit_test(test_split_nobufs_and_zero_len),
		cmocka_unit_test(test_split_iotlb_miss),
		cmocka_unit_test(test_packed_bad),
		cmocka_unit_test(test_packed_wrapping_chain),
		cmocka_unit_test(test_driver_bad),
		cmocka_unit_test(test_config_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
