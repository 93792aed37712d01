// SPDX-License-Identifier: BSD-3-Clause
/*
 * driver/: the virtio-blk request queue (struct blkq) against the in-process RAM-disk device over
 * split and packed rings, with and without indirect descriptors: exact header bytes, chain shape,
 * data on the disk, status mapping, queue-full and every bad-input case.
 */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>

#include <vhost/blk.h>

#include "driver/blk_internal.h"
#include "util/util.h"
#include "unit_helpers.h"

#define GPA	  0x200000ull
#define MEM_SIZE  (1u << 20)
#define BUF_OFF	  0x80000u /* data buffers live here in guest memory */
#define DISK_SECT 2048u	   /* 1 MiB disk */
#define NUM	  16u
#define ALL_FEATURES                                                     \
	((1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_BLK_F_DISCARD) | \
	 (1ull << VIRTIO_BLK_F_WRITE_ZEROES))

struct env {
	uint8_t *mem;
	uint8_t *disk;
	struct blkq q;
	struct blk_ramdev rd;
	struct vh_test_log log;
	unsigned depth;
};

struct variant {
	bool packed;
	bool indirect;
	bool event_idx;
};

static struct env *env_new(const struct variant *v, uint64_t features, bool read_only,
			   unsigned depth)
{
	struct env *e = calloc(1, sizeof(*e));
	struct blkq_config qc = {
		.num = NUM,
		.depth = depth,
		.packed = v->packed,
		.event_idx = v->event_idx,
		.poll = true,
		.indirect_max = v->indirect ? 6 : 0,
		.base_gpa = GPA,
		.features = features,
		.capacity = DISK_SECT,
		.seg_max = 4,
		.read_only = read_only,
		.kick_fd = -1,
		.call_fd = -1,
		.name = "test",
	};
	struct blk_ramdev_config rc = {
		.num = NUM,
		.packed = v->packed,
		.event_idx = v->event_idx,
		.indirect = true,
		.sectors = DISK_SECT,
	};

	assert_non_null(e);
	e->mem = aligned_alloc(4096, MEM_SIZE);
	e->disk = calloc(DISK_SECT, VH_BLK_SECTOR_SIZE);
	assert_non_null(e->mem);
	assert_non_null(e->disk);
	memset(e->mem, 0xee, MEM_SIZE);
	qc.log = vh_test_sink(&e->log);
	qc.mem = (struct blkq_mem){ .host = e->mem, .gpa = GPA, .size = MEM_SIZE };
	assert_int_equal(blkq_init(&e->q, &qc), 0);
	rc.mem = qc.mem;
	rc.driver = e->q.vq;
	rc.disk = e->disk;
	assert_int_equal(blk_ramdev_init(&e->rd, &rc), 0);
	e->depth = depth;
	return e;
}

static void env_free(struct env *e)
{
	blk_ramdev_fini(&e->rd);
	blkq_fini(&e->q);
	free(e->mem);
	free(e->disk);
	free(e);
}

static void *gbuf(struct env *e, unsigned off)
{
	return e->mem + BUF_OFF + off;
}

/* Submit one request, let the device run it, reap it; returns the completion status. */
static int run_one(struct env *e, const struct vh_blk_io *io)
{
	struct vh_blk_completion c[2];

	assert_int_equal(blkq_submit(&e->q, io, 1), 1);
	assert_int_equal(blkq_inflight(&e->q), 1);
	assert_int_equal(blk_ramdev_process(&e->rd, 8), 1);
	assert_int_equal(blkq_wait(&e->q, 0), 1);
	assert_int_equal(blkq_reap(&e->q, c, 2), 1);
	assert_ptr_equal(c[0].cookie, io->cookie);
	assert_int_equal(blkq_inflight(&e->q), 0);
	return c[0].status;
}

static const struct variant variants[] = {
	{ .packed = false, .indirect = false, .event_idx = false },
	{ .packed = false, .indirect = true, .event_idx = true },
	{ .packed = true, .indirect = false, .event_idx = false },
	{ .packed = true, .indirect = true, .event_idx = true },
};

static void roundtrip_variant(const struct variant *v)
{
	struct env *e = env_new(v, ALL_FEATURES, false, 4);
	uint8_t *w = gbuf(e, 0), *r = gbuf(e, 8192);
	struct vh_blk_io io = {
		.op = VH_BLK_OP_WRITE, .offset = 3 * 512, .buf = w, .len = 4096, .cookie = w
	};
	unsigned i;

	for (i = 0; i < 4096; i++)
		w[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(run_one(e, &io), 0);
	/* The bytes landed on the disk at sector 3 and nowhere else. */
	assert_memory_equal(e->disk + 3 * 512, w, 4096);
	assert_int_equal(e->disk[3 * 512 - 1], 0);
	assert_int_equal(e->disk[3 * 512 + 4096], 0);
	assert_int_equal(e->rd.last_type, VIRTIO_BLK_T_OUT);

	io = (struct vh_blk_io){
		.op = VH_BLK_OP_READ, .offset = 3 * 512, .buf = r, .len = 4096, .cookie = r
	};
	memset(r, 0, 4096);
	assert_int_equal(run_one(e, &io), 0);
	assert_memory_equal(r, w, 4096);
	assert_int_equal(e->rd.last_type, VIRTIO_BLK_T_IN);
	env_free(e);
}

static void test_roundtrip(void **state)
{
	unsigned i;

	(void)state;
	for (i = 0; i < VH_ARRAY_SIZE(variants); i++)
		roundtrip_variant(&variants[i]);
}

/* The out header in guest memory has the exact virtio 1.2 §5.2.6 bytes; status is preset. */
static void test_header_bytes(void **state)
{
	struct variant v = { 0 };
	struct env *e = env_new(&v, ALL_FEATURES, false, 4);
	struct vh_blk_io io = { .op = VH_BLK_OP_READ,
				.offset = 0x12345ull * 512,
				.buf = gbuf(e, 0),
				.len = 512,
				.cookie = e };
	struct blkq_slot *s = &e->q.slots[0];
	struct vring_desc *d = (struct vring_desc *)(e->mem + (e->q.slots[0].hdr_gpa - GPA));
	struct vring_avail *avail;
	struct vh_vq_ring_addrs a;

	(void)state;
	e->q.capacity = 1ull << 40;
	assert_int_equal(blkq_submit(&e->q, &io, 1), 1);
	assert_int_equal(le32toh(s->hdr->out.type), VIRTIO_BLK_T_IN);
	assert_int_equal(le32toh(s->hdr->out.ioprio), 0);
	assert_int_equal(le64toh(s->hdr->out.sector), 0x12345);
	assert_int_equal(s->hdr->status, BLKQ_STATUS_NONE);
	/* Split ring, no indirect: three descriptors, header (R), data (W), status (W). */
	vh_vq_driver_ring_addrs(e->q.vq, &a);
	d = a.host.desc;
	avail = a.host.driver;
	assert_int_equal(le16toh(avail->idx), 1);
	assert_int_equal(le16toh(avail->ring[0]), 0);
	assert_int_equal(le64toh(d[0].addr), s->hdr_gpa);
	assert_int_equal(le32toh(d[0].len), 16);
	assert_int_equal(le16toh(d[0].flags), VRING_DESC_F_NEXT);
	assert_int_equal(le64toh(d[le16toh(d[0].next)].addr), GPA + BUF_OFF);
	assert_int_equal(le16toh(d[le16toh(d[0].next)].flags),
			 VRING_DESC_F_NEXT | VRING_DESC_F_WRITE);
	d = &d[le16toh(d[le16toh(d[0].next)].next)];
	assert_int_equal(le64toh(d->addr), s->hdr_gpa + offsetof(struct blkq_hdr, status));
	assert_int_equal(le32toh(d->len), 1);
	assert_int_equal(le16toh(d->flags), VRING_DESC_F_WRITE);
	env_free(e);
}

static void test_queue_full(void **state)
{
	struct variant v = { .indirect = true };
	struct env *e = env_new(&v, ALL_FEATURES, false, 3);
	struct vh_blk_io ios[5];
	struct vh_blk_completion c[8];
	unsigned i;

	(void)state;
	for (i = 0; i < 5; i++)
		ios[i] = (struct vh_blk_io){ .op = VH_BLK_OP_READ,
					     .offset = i * 512,
					     .buf = gbuf(e, i * 512),
					     .len = 512,
					     .cookie = &ios[i] };
	/* Depth 3: a batch of 5 takes 3, then the queue is full. */
	assert_int_equal(blkq_submit(&e->q, ios, 5), 3);
	assert_int_equal(blkq_submit(&e->q, ios + 3, 2), -EAGAIN);
	assert_int_equal(blk_ramdev_process(&e->rd, 8), 3);
	assert_int_equal(blkq_reap(&e->q, c, 8), 3);
	for (i = 0; i < 3; i++) {
		assert_ptr_equal(c[i].cookie, &ios[i]);
		assert_int_equal(c[i].status, 0);
		assert_int_equal(c[i].len, 513);
	}
	assert_int_equal(blkq_submit(&e->q, ios + 3, 2), 2);
	assert_int_equal(blk_ramdev_process(&e->rd, 8), 2);
	assert_int_equal(blkq_reap(&e->q, c, 1), 1);
	assert_int_equal(blkq_reap(&e->q, c + 1, 8), 1);
	assert_int_equal(blkq_reap(&e->q, c, 8), 0);
	env_free(e);
}

/* Without indirect descriptors a ring of 16 holds 5 three-descriptor chains. */
static void test_out_of_descriptors(void **state)
{
	struct variant v = { 0 };
	struct env *e = env_new(&v, ALL_FEATURES, false, 16);
	struct vh_blk_io io = { .op = VH_BLK_OP_READ, .buf = gbuf(e, 0), .len = 512, .cookie = e };
	unsigned i;

	(void)state;
	for (i = 0; i < 5; i++)
		assert_int_equal(blkq_submit(&e->q, &io, 1), 1);
	assert_int_equal(blkq_submit(&e->q, &io, 1), -EAGAIN);
	assert_int_equal(blkq_inflight(&e->q), 5);
	env_free(e);
}

static void test_bad_input(void **state)
{
	struct variant v = { 0 };
	struct env *e = env_new(&v, 0, false, 4);
	struct env *ro = env_new(&v, ALL_FEATURES, true, 4);
	uint8_t outside[512];
	struct iovec iov[5];
	struct vh_blk_io io = { .op = VH_BLK_OP_READ, .buf = gbuf(e, 0), .len = 512, .cookie = e };
	unsigned i;

	(void)state;
	io.offset = 100; /* not a sector */
	assert_int_equal(blkq_submit(&e->q, &io, 1), -EINVAL);
	io.offset = 0;
	io.len = 100;
	assert_int_equal(blkq_submit(&e->q, &io, 1), -EINVAL);
	io.len = 0;
	assert_int_equal(blkq_submit(&e->q, &io, 1), -EINVAL);
	io.len = 1024;
	io.offset = (DISK_SECT - 1) * 512ull; /* runs past the end */
	assert_int_equal(blkq_submit(&e->q, &io, 1), -EINVAL);
	io.offset = UINT64_MAX - 511; /* wraps */
	assert_int_equal(blkq_submit(&e->q, &io, 1), -EINVAL);
	io.offset = 0;
	io.buf = outside;
	io.len = 512;
	assert_int_equal(blkq_submit(&e->q, &io, 1), -EFAULT);
	io.buf = e->mem + MEM_SIZE - 256; /* straddles the end of guest memory */
	assert_int_equal(blkq_submit(&e->q, &io, 1), -EFAULT);
	io.buf = gbuf(e, 0);
	io.op = (enum vh_blk_op)99;
	assert_int_equal(blkq_submit(&e->q, &io, 1), -EINVAL);
	io.op = VH_BLK_OP_FLUSH;
	assert_int_equal(blkq_submit(&e->q, &io, 1), -EOPNOTSUPP);
	io.op = VH_BLK_OP_DISCARD;
	assert_int_equal(blkq_submit(&e->q, &io, 1), -EOPNOTSUPP);
	io.op = VH_BLK_OP_WRITE_ZEROES;
	assert_int_equal(blkq_submit(&e->q, &io, 1), -EOPNOTSUPP);
	io.op = VH_BLK_OP_GET_ID;
	io.len = VIRTIO_BLK_ID_BYTES - 1;
	assert_int_equal(blkq_submit(&e->q, &io, 1), -EINVAL);
	/* More segments than seg_max (4), an empty segment. */
	for (i = 0; i < 5; i++)
		iov[i] = (struct iovec){ .iov_base = gbuf(e, i * 512), .iov_len = 512 };
	io = (struct vh_blk_io){ .op = VH_BLK_OP_READ, .iov = iov, .iovcnt = 5, .cookie = e };
	assert_int_equal(blkq_submit(&e->q, &io, 1), -EINVAL);
	iov[1].iov_len = 0;
	io.iovcnt = 2;
	assert_int_equal(blkq_submit(&e->q, &io, 1), -EINVAL);
	/* Read-only: writes, discard and write zeroes are refused locally. */
	io = (struct vh_blk_io){
		.op = VH_BLK_OP_WRITE, .buf = gbuf(ro, 0), .len = 512, .cookie = e
	};
	assert_int_equal(blkq_submit(&ro->q, &io, 1), -EROFS);
	io.op = VH_BLK_OP_DISCARD;
	assert_int_equal(blkq_submit(&ro->q, &io, 1), -EROFS);
	io.op = VH_BLK_OP_READ;
	assert_int_equal(run_one(ro, &io), 0);
	/* Nothing was consumed by the failures. */
	assert_int_equal(blkq_inflight(&e->q), 0);
	assert_int_equal(e->q.nfree, 4);
	/* A bad request after a good one: the batch stops there, the good one went out. */
	{
		struct vh_blk_io two[2] = {
			{ .op = VH_BLK_OP_READ, .buf = gbuf(e, 0), .len = 512, .cookie = e },
			{ .op = VH_BLK_OP_READ, .buf = outside, .len = 512, .cookie = e },
		};
		assert_int_equal(blkq_submit(&e->q, two, 2), 1);
		assert_int_equal(blkq_inflight(&e->q), 1);
	}
	env_free(e);
	env_free(ro);
}

static void test_status_mapping(void **state)
{
	static const struct {
		int dev;
		int want;
	} cases[] = {
		{ VIRTIO_BLK_S_OK, 0 },
		{ VIRTIO_BLK_S_IOERR, -EIO },
		{ VIRTIO_BLK_S_UNSUPP, -EOPNOTSUPP },
		{ 3, -EPROTO },
		{ BLKQ_STATUS_NONE, -EPROTO },
	};
	struct variant v = { .packed = true };
	struct env *e = env_new(&v, ALL_FEATURES, false, 4);
	struct vh_blk_io io = { .op = VH_BLK_OP_READ, .buf = gbuf(e, 0), .len = 512, .cookie = e };
	unsigned i;

	(void)state;
	for (i = 0; i < VH_ARRAY_SIZE(cases); i++) {
		e->rd.force_status = cases[i].dev;
		assert_int_equal(run_one(e, &io), cases[i].want);
	}
	env_free(e);
}

static void test_flush_discard_zeroes_id(void **state)
{
	struct variant v = { .indirect = true };
	struct env *e = env_new(&v, ALL_FEATURES, false, 4);
	struct vh_blk_io io = { .op = VH_BLK_OP_FLUSH, .cookie = e };
	char *id = gbuf(e, 0);

	(void)state;
	memset(e->disk, 0xab, 64 * 512);
	assert_int_equal(run_one(e, &io), 0);
	assert_int_equal(e->rd.last_type, VIRTIO_BLK_T_FLUSH);

	io = (struct vh_blk_io){
		.op = VH_BLK_OP_DISCARD, .offset = 8 * 512, .len = 4 * 512, .cookie = e
	};
	assert_int_equal(run_one(e, &io), 0);
	assert_int_equal(e->rd.last_type, VIRTIO_BLK_T_DISCARD);
	assert_int_equal(e->rd.last_seg_flags, 0);
	assert_int_equal(e->disk[8 * 512 - 1], 0xab);
	assert_int_equal(e->disk[8 * 512], 0);
	assert_int_equal(e->disk[12 * 512 - 1], 0);
	assert_int_equal(e->disk[12 * 512], 0xab);
	assert_int_equal(le64toh(e->q.slots[e->q.free[e->q.nfree - 1]].hdr->seg.sector), 8);
	assert_int_equal(le32toh(e->q.slots[e->q.free[e->q.nfree - 1]].hdr->seg.num_sectors), 4);

	io = (struct vh_blk_io){ .op = VH_BLK_OP_WRITE_ZEROES,
				 .offset = 20 * 512,
				 .len = 512,
				 .flags = VH_BLK_IO_UNMAP,
				 .cookie = e };
	assert_int_equal(run_one(e, &io), 0);
	assert_int_equal(e->rd.last_type, VIRTIO_BLK_T_WRITE_ZEROES);
	assert_int_equal(e->rd.last_seg_flags, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	assert_int_equal(e->disk[20 * 512], 0);
	assert_int_equal(e->disk[21 * 512], 0xab);
	io.flags = 0x80; /* unknown flag */
	assert_int_equal(blkq_submit(&e->q, &io, 1), -EINVAL);

	io = (struct vh_blk_io){ .op = VH_BLK_OP_GET_ID, .buf = id, .len = 32, .cookie = e };
	memset(id, 0, 32);
	assert_int_equal(run_one(e, &io), 0);
	assert_memory_equal(id, "ramdev-serial-012345", VIRTIO_BLK_ID_BYTES);
	assert_int_equal(id[VIRTIO_BLK_ID_BYTES], 0); /* exactly 20 bytes offered */
	env_free(e);
}

static void test_scatter_gather(void **state)
{
	struct variant v = { .packed = true, .indirect = true };
	struct env *e = env_new(&v, ALL_FEATURES, false, 4);
	struct iovec iov[3] = {
		{ .iov_base = gbuf(e, 0x3000), .iov_len = 512 },
		{ .iov_base = gbuf(e, 0x1000), .iov_len = 1024 },
		{ .iov_base = gbuf(e, 0x5000), .iov_len = 512 },
	};
	struct vh_blk_io io = {
		.op = VH_BLK_OP_WRITE, .offset = 512, .iov = iov, .iovcnt = 3, .cookie = e
	};

	(void)state;
	memset(iov[0].iov_base, 1, 512);
	memset(iov[1].iov_base, 2, 1024);
	memset(iov[2].iov_base, 3, 512);
	assert_int_equal(run_one(e, &io), 0);
	assert_int_equal(e->disk[512], 1);
	assert_int_equal(e->disk[1023], 1);
	assert_int_equal(e->disk[1024], 2);
	assert_int_equal(e->disk[2047], 2);
	assert_int_equal(e->disk[2048], 3);
	assert_int_equal(e->disk[2559], 3);
	assert_int_equal(e->disk[2560], 0);
	env_free(e);
}

/* Many requests through a small ring: wrap-around of both layouts keeps cookies and data. */
static void test_wraparound(void **state)
{
	unsigned vi, i;

	(void)state;
	for (vi = 0; vi < VH_ARRAY_SIZE(variants); vi++) {
		struct env *e = env_new(&variants[vi], ALL_FEATURES, false, 4);
		struct vh_blk_completion c[4];

		for (i = 0; i < 200; i++) {
			uint8_t *b = gbuf(e, (i % 4) * 512);
			struct vh_blk_io io = { .op = VH_BLK_OP_WRITE,
						.offset = (i % DISK_SECT) * 512ull,
						.buf = b,
						.len = 512,
						.cookie = (void *)(uintptr_t)(i + 1) };

			memset(b, (int)(i & 0xff), 512);
			assert_int_equal(blkq_submit(&e->q, &io, 1), 1);
			if (i % 3 == 2) {
				int n;

				assert_int_equal(blk_ramdev_process(&e->rd, 8), 3);
				n = blkq_reap(&e->q, c, 4);
				assert_int_equal(n, 3);
				assert_ptr_equal(c[0].cookie, (void *)(uintptr_t)(i - 1));
				assert_ptr_equal(c[2].cookie, (void *)(uintptr_t)(i + 1));
			}
		}
		assert_int_equal(blk_ramdev_process(&e->rd, 8), 2);
		assert_int_equal(blkq_reap(&e->q, c, 4), 2);
		for (i = 0; i < 200; i++)
			assert_int_equal(e->disk[i * 512 + 17], i & 0xff);
		env_free(e);
	}
}

/*
 * Completions by eventfd with EVENT_IDX: every reap re-arms used_event at the next completion
 * (virtio 1.2 §2.7.10), or a caller sleeping on the call fd would never be woken again.
 */
static void test_event_idx_rearm(void **state)
{
	struct variant v = { .event_idx = true };
	struct env *e = env_new(&v, ALL_FEATURES, false, 4);
	struct vh_blk_io io = { .op = VH_BLK_OP_READ, .buf = gbuf(e, 0), .len = 512, .cookie = e };
	struct vh_blk_completion c[4];
	struct vh_vq_ring_addrs a;
	struct vring_avail *avail;
	unsigned i;

	(void)state;
	e->q.poll = false; /* as if created for the call eventfd (no fd: nothing to read) */
	vh_vq_driver_ring_addrs(e->q.vq, &a);
	avail = a.host.driver;
	for (i = 1; i <= 3; i++) {
		assert_int_equal(blkq_submit(&e->q, &io, 1), 1);
		assert_int_equal(blk_ramdev_process(&e->rd, 4), 1);
		assert_int_equal(blkq_reap(&e->q, c, 4), 1);
		assert_int_equal(le16toh(avail->ring[NUM]), i); /* used_event */
	}
	env_free(e);
}

/* A second guest region (the caller's memory) above the driver's: buffers in it work directly. */
static void test_second_region(void **state)
{
	uint8_t *mem = aligned_alloc(4096, MEM_SIZE), *mem2 = aligned_alloc(4096, 65536);
	uint8_t *disk = calloc(DISK_SECT, 512);
	struct blkq_config qc = {
		.num = NUM,
		.depth = 4,
		.poll = true,
		.base_gpa = GPA,
		.capacity = DISK_SECT,
		.kick_fd = -1,
		.call_fd = -1,
		.mem = { .host = mem,
			 .gpa = GPA,
			 .size = MEM_SIZE,
			 .host2 = mem2,
			 .gpa2 = 0x40000000,
			 .size2 = 65536 },
	};
	struct blk_ramdev_config rc = { .num = NUM, .sectors = DISK_SECT, .disk = disk };
	struct vh_blk_io io = { .op = VH_BLK_OP_WRITE,
				.offset = 512,
				.buf = mem2 + 4096,
				.len = 1024,
				.cookie = mem2 };
	struct vh_vq_ring_addrs a;
	struct vring_desc *d;
	struct vh_blk_completion c;
	struct blkq q;
	struct blk_ramdev rd;

	(void)state;
	memset(mem2, 0x3c, 65536);
	assert_int_equal(blkq_init(&q, &qc), 0);
	rc.mem = qc.mem;
	rc.driver = q.vq;
	assert_int_equal(blk_ramdev_init(&rd, &rc), 0);
	assert_int_equal(blkq_submit(&q, &io, 1), 1);
	vh_vq_driver_ring_addrs(q.vq, &a);
	d = a.host.desc;
	assert_int_equal(le64toh(d[le16toh(d[0].next)].addr), 0x40000000 + 4096);
	assert_int_equal(blk_ramdev_process(&rd, 4), 1);
	assert_int_equal(blkq_reap(&q, &c, 1), 1);
	assert_int_equal(c.status, 0);
	assert_int_equal(disk[511], 0);
	assert_int_equal(disk[512], 0x3c);
	assert_int_equal(disk[1535], 0x3c);
	assert_int_equal(disk[1536], 0);
	/* Straddling the end of the second region, or in neither. */
	io.buf = mem2 + 65536 - 512;
	assert_int_equal(blkq_submit(&q, &io, 1), -EFAULT);
	io.buf = disk;
	assert_int_equal(blkq_submit(&q, &io, 1), -EFAULT);
	blk_ramdev_fini(&rd);
	blkq_fini(&q);
	/* The second region may not overlap the first. */
	qc.mem.gpa2 = GPA + MEM_SIZE - 4096;
	assert_int_equal(blkq_init(&q, &qc), -EINVAL);
	free(mem);
	free(mem2);
	free(disk);
}

static void test_layout_errors(void **state)
{
	struct blkq_layout l;

	(void)state;
	assert_int_equal(blkq_layout(16, false, 0, 17, &l), -EINVAL);
	assert_int_equal(blkq_layout(16, false, 0, 0, &l), -EINVAL);
	assert_int_equal(blkq_layout(12, false, 0, 4, &l), -EINVAL);
	assert_int_equal(blkq_layout(16, false, 4, 16, &l), 0);
	assert_int_equal(l.size % 64, 0);
	assert_true(l.hdr_off >= l.indirect_off + 16 * 4 * 16);
	assert_int_equal(l.size, l.hdr_off + 64 * 16);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(vh_blk_feature_name(VIRTIO_BLK_F_FLUSH), "VIRTIO_BLK_F_FLUSH");
	assert_string_equal(vh_blk_feature_name(VIRTIO_BLK_F_MQ), "VIRTIO_BLK_F_MQ");
	assert_null(vh_blk_feature_name(3));
	assert_null(vh_blk_feature_name(40));
	assert_string_equal(vh_blk_op_name(VH_BLK_OP_WRITE_ZEROES), "write-zeroes");
	assert_string_equal(vh_blk_op_name((enum vh_blk_op)42), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_header_bytes),
		cmocka_unit_test(test_queue_full),
		cmocka_unit_test(test_out_of_descriptors),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_status_mapping),
		cmocka_unit_test(test_flush_discard_zeroes_id),
		cmocka_unit_test(test_scatter_gather),
		cmocka_unit_test(test_wraparound),
		cmocka_unit_test(test_event_idx_rearm),
		cmocka_unit_test(test_second_region),
		cmocka_unit_test(test_layout_errors),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
