// SPDX-License-Identifier: BSD-3-Clause
/*
 * driver/: vh_blk's synchronous helpers (chunking at size_max, bounce buffer, discard split at
 * max_discard_sectors, get-id) and the buffer pool, on a hand-assembled struct vh_blk whose queue 0
 * is served by the in-process RAM-disk device on a second thread (no vh_dev, no socket).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "driver/blk_priv.h"
#include "unit_helpers.h"

#define MEM_SIZE  (4u << 20)
#define BOUNCE	  (1u << 20)
#define POOL	  (1u << 20)
#define DISK_SECT 8192u /* 4 MiB */

struct env {
	struct vh_blk b;
	struct blkq q;
	struct blk_ramdev rd;
	uint8_t *disk;
	pthread_t th;
	atomic_bool stop;
	atomic_uint served;
	struct vh_test_log log;
};

static void *device(void *arg)
{
	struct env *e = arg;

	while (!atomic_load(&e->stop)) {
		int n = blk_ramdev_process(&e->rd, 16);

		if (n < 0)
			break;
		atomic_fetch_add(&e->served, (unsigned)n);
	}
	return NULL;
}

static struct env *env_new(uint32_t size_max, uint32_t max_discard)
{
	struct env *e = calloc(1, sizeof(*e));
	uint8_t *mem = aligned_alloc(4096, MEM_SIZE);
	struct blkq_config qc = {
		.num = 64,
		.depth = 16,
		.poll = true,
		.indirect_max = 8,
		.features = (1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_BLK_F_DISCARD),
		.capacity = DISK_SECT,
		.kick_fd = -1,
		.call_fd = -1,
	};
	struct blk_ramdev_config rc = { .num = 64, .indirect = true, .sectors = DISK_SECT };

	assert_non_null(e);
	assert_non_null(mem);
	memset(mem, 0, MEM_SIZE);
	e->disk = calloc(DISK_SECT, 512);
	assert_non_null(e->disk);
	qc.log = vh_test_sink(&e->log);
	qc.mem = (struct blkq_mem){ .host = mem, .gpa = 0, .size = MEM_SIZE };
	assert_int_equal(blkq_init(&e->q, &qc), 0);
	rc.mem = qc.mem;
	rc.driver = e->q.vq;
	rc.disk = e->disk;
	assert_int_equal(blk_ramdev_init(&e->rd, &rc), 0);
	e->b.cfg.log = qc.log;
	snprintf(e->b.name, sizeof(e->b.name), "test");
	e->b.mem = mem;
	e->b.mem_fd = -1;
	e->b.bounce_off = MEM_SIZE - BOUNCE - POOL;
	e->b.pool_off = MEM_SIZE - POOL;
	e->b.pool_pages = POOL / 4096;
	e->b.pool_map = calloc(POOL / 4096, sizeof(uint32_t));
	vh_mutex_init(&e->b.pool_lock);
	e->b.info = (struct vh_blk_info){ .capacity = DISK_SECT,
					  .size_bytes = DISK_SECT * 512ull,
					  .size_max = size_max,
					  .max_discard_sectors = max_discard,
					  .discard = true,
					  .flush = true,
					  .mem_size = MEM_SIZE };
	e->b.q = &e->q;
	e->b.nq = 1;
	assert_int_equal(pthread_create(&e->th, NULL, device, e), 0);
	return e;
}

static void env_free(struct env *e)
{
	atomic_store(&e->stop, true);
	pthread_join(e->th, NULL);
	blk_ramdev_fini(&e->rd);
	blkq_fini(&e->q);
	free(e->b.mem);
	free(e->b.pool_map);
	vh_mutex_destroy(&e->b.pool_lock);
	free(e->disk);
	free(e);
}

/* A buffer outside guest memory goes through the bounce buffer in size_max pieces. */
static void test_bounce_and_chunks(void **state)
{
	struct env *e = env_new(8192, 0);
	size_t len = 3 * 8192 + 1024, i;
	uint8_t *src = malloc(len), *dst = malloc(len);

	(void)state;
	for (i = 0; i < len; i++)
		src[i] = (uint8_t)(i * 13 + 5);
	assert_int_equal(vh_blk_write(&e->b, 4096, src, len), 0);
	assert_int_equal(atomic_load(&e->served), 4); /* 8k, 8k, 8k, 1k */
	assert_memory_equal(e->disk + 4096, src, len);
	assert_int_equal(e->disk[4095], 0);
	assert_int_equal(e->disk[4096 + len], 0);
	memset(dst, 0, len);
	assert_int_equal(vh_blk_read(&e->b, 4096, dst, len), 0);
	assert_memory_equal(dst, src, len);
	/* Unaligned offset or length, empty, past the end. */
	assert_int_equal(vh_blk_read(&e->b, 100, dst, 512), -EINVAL);
	assert_int_equal(vh_blk_read(&e->b, 0, dst, 100), -EINVAL);
	assert_int_equal(vh_blk_read(&e->b, 0, dst, 0), -EINVAL);
	assert_int_equal(vh_blk_read(&e->b, DISK_SECT * 512ull, dst, 512), -EINVAL);
	free(src);
	free(dst);
	env_free(e);
}

/* A pool buffer is used in place (no bounce), in 1 MiB pieces when size_max is unset. */
static void test_direct(void **state)
{
	struct env *e = env_new(0, 0);
	uint8_t *buf = vh_blk_buf_alloc(&e->b, 2 << 19);

	(void)state;
	assert_non_null(buf);
	memset(buf, 0x77, 1 << 20);
	assert_int_equal(vh_blk_write(&e->b, 0, buf, 1 << 20), 0);
	assert_int_equal(atomic_load(&e->served), 1);
	assert_int_equal(e->disk[(1 << 20) - 1], 0x77);
	/* The bounce buffer was not touched. */
	assert_int_equal(e->b.mem[e->b.bounce_off], 0);
	vh_blk_buf_free(&e->b, buf);
	env_free(e);
}

static void test_discard_flush_id(void **state)
{
	struct env *e = env_new(0, 16);
	char id[VIRTIO_BLK_ID_BYTES + 1];

	(void)state;
	memset(e->disk, 0xcc, 64 * 512);
	assert_int_equal(vh_blk_discard(&e->b, 512, 40 * 512), 0);
	assert_int_equal(atomic_load(&e->served), 3); /* 16 + 16 + 8 sectors */
	assert_int_equal(e->disk[511], 0xcc);
	assert_int_equal(e->disk[512], 0);
	assert_int_equal(e->disk[41 * 512 - 1], 0);
	assert_int_equal(e->disk[41 * 512], 0xcc);
	assert_int_equal(vh_blk_discard(&e->b, 0, 0), -EINVAL);
	assert_int_equal(vh_blk_flush(&e->b), 0);
	assert_int_equal(vh_blk_get_id(&e->b, id, sizeof(id)), 0);
	assert_string_equal(id, "ramdev-serial-012345");
	assert_int_equal(vh_blk_get_id(&e->b, id, VIRTIO_BLK_ID_BYTES), -EINVAL);
	/* Write zeroes was not negotiated. */
	assert_int_equal(vh_blk_write_zeroes(&e->b, 0, 512, false), -EOPNOTSUPP);
	env_free(e);
}

static void test_busy(void **state)
{
	struct env *e = env_new(0, 0);
	uint8_t *buf = vh_blk_buf_alloc(&e->b, 4096);
	struct vh_blk_io io = { .op = VH_BLK_OP_READ, .buf = buf, .len = 4096, .cookie = buf };
	struct vh_blk_completion c;

	(void)state;
	atomic_store(&e->stop, true); /* device paused: the request stays in flight */
	pthread_join(e->th, NULL);
	assert_int_equal(vh_blk_submit(&e->b, 0, &io, 1), 1);
	assert_int_equal(vh_blk_inflight(&e->b, 0), 1);
	assert_int_equal(vh_blk_read(&e->b, 0, buf, 4096), -EBUSY);
	assert_int_equal(vh_blk_submit(&e->b, 1, &io, 1), -EINVAL);
	assert_int_equal(vh_blk_wait(&e->b, 0, 0), 0);
	assert_int_equal(blk_ramdev_process(&e->rd, 4), 1);
	assert_int_equal(vh_blk_wait(&e->b, 0, 1000), 1);
	assert_int_equal(vh_blk_reap(&e->b, 0, &c, 1), 1);
	assert_ptr_equal(c.cookie, buf);
	assert_int_equal(c.status, 0);
	atomic_store(&e->stop, false);
	assert_int_equal(pthread_create(&e->th, NULL, device, e), 0);
	env_free(e);
}

static void test_pool(void **state)
{
	struct env *e = env_new(0, 0);
	uint8_t *a, *b, *c, *big;

	(void)state;
	assert_null(vh_blk_buf_alloc(&e->b, 0));
	assert_null(vh_blk_buf_alloc(&e->b, POOL + 1));
	a = vh_blk_buf_alloc(&e->b, 1);
	b = vh_blk_buf_alloc(&e->b, 4097);
	c = vh_blk_buf_alloc(&e->b, 4096);
	assert_ptr_equal(a, e->b.mem + e->b.pool_off);
	assert_ptr_equal(b, a + 4096);
	assert_ptr_equal(c, a + 3 * 4096);
	assert_int_equal(vh_blk_gpa(&e->b, b), e->b.pool_off + 4096);
	assert_int_equal(vh_blk_gpa(&e->b, (uint8_t *)e->b.mem + MEM_SIZE), UINT64_MAX);
	/* The pool is full once the rest is taken. */
	big = vh_blk_buf_alloc(&e->b, POOL - 4 * 4096);
	assert_non_null(big);
	assert_null(vh_blk_buf_alloc(&e->b, 4096));
	/* Freed runs are reused first fit; bad frees are logged and change nothing. */
	vh_blk_buf_free(&e->b, b);
	assert_ptr_equal(vh_blk_buf_alloc(&e->b, 4096), b);
	assert_ptr_equal(vh_blk_buf_alloc(&e->b, 4096), b + 4096);
	e->log.count = 0;
	vh_blk_buf_free(&e->b, a + 100);    /* not page aligned */
	vh_blk_buf_free(&e->b, big + 4096); /* inside a run */
	vh_blk_buf_free(&e->b, e->disk);    /* not the pool */
	assert_int_equal(e->log.count, 3);
	assert_null(vh_blk_buf_alloc(&e->b, 4096));
	vh_blk_buf_free(&e->b, c);
	vh_blk_buf_free(&e->b, c); /* double free */
	assert_int_equal(e->log.count, 4);
	assert_ptr_equal(vh_blk_buf_alloc(&e->b, 4096), c);
	vh_blk_buf_free(&e->b, NULL);
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounce_and_chunks),
		cmocka_unit_test(test_direct),
		cmocka_unit_test(test_discard_flush_id),
		cmocka_unit_test(test_busy),
		cmocka_unit_test(test_pool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
