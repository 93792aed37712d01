/* SPDX-License-Identifier: BSD-3-Clause */
/* Dirty log: backend marking (exact bits), frontend buffer (seals, sync once, resize, runs). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include <vhost/log.h>
#include <vhost/mem.h>

#include "unit_helpers.h"

#define PG VH_LOG_PAGE_SIZE

static void test_mark_exact_bits(void **state)
{
	uint8_t bits[16] = { 0 }, want[16] = { 0 };
	struct vh_dirty_log *l = NULL;

	assert_int_equal(vh_dirty_log_wrap(bits, sizeof(bits), &l), 0);
	assert_int_equal(vh_dirty_log_size(l), 16);
	/* Two bytes straddling a page boundary dirty both pages. */
	vh_dirty_log_mark(l, PG - 1, 2);
	want[0] = 0x03;
	assert_memory_equal(bits, want, sizeof(bits));
	/* One byte, one page. */
	vh_dirty_log_mark(l, 5 * PG + 100, 1);
	want[0] |= 1 << 5;
	assert_memory_equal(bits, want, sizeof(bits));
	/* Pages 7..17: the tail of byte 0, all of byte 1, the head of byte 2. */
	vh_dirty_log_mark(l, 7 * PG, 11 * PG);
	want[0] |= 0x80;
	want[1] = 0xff;
	want[2] = 0x03;
	assert_memory_equal(bits, want, sizeof(bits));
	/* Exactly one page, page aligned: does not touch the next one. */
	vh_dirty_log_mark(l, 40 * PG, PG);
	want[5] = 0x01;
	assert_memory_equal(bits, want, sizeof(bits));
	/* len 0 marks nothing; a NULL log is a no-op. */
	vh_dirty_log_mark(l, 60 * PG, 0);
	vh_dirty_log_mark(NULL, 0, PG);
	assert_memory_equal(bits, want, sizeof(bits));
	assert_int_equal(vh_dirty_log_dropped(l), 0);
	vh_dirty_log_unmap(&l);
	assert_null(l);
}

static void test_mark_beyond(void **state)
{
	uint8_t bits[16] = { 0 }, want[16] = { 0 };
	struct vh_dirty_log *l = NULL;

	assert_int_equal(vh_dirty_log_wrap(bits, sizeof(bits), &l), 0);
	/* Pages 127..129 of a 128-page log: the last page is marked, two are dropped. */
	vh_dirty_log_mark(l, 127 * PG, 3 * PG);
	want[15] = 0x80;
	assert_memory_equal(bits, want, sizeof(bits));
	assert_int_equal(vh_dirty_log_dropped(l), 2);
	vh_dirty_log_mark(l, 1ull << 40, 1);
	assert_int_equal(vh_dirty_log_dropped(l), 3);
	/* A range that wraps u64 is clamped, not wrapped to page 0. */
	vh_dirty_log_mark(l, UINT64_MAX - 10, 100);
	assert_int_equal(vh_dirty_log_dropped(l), 4);
	assert_memory_equal(bits, want, sizeof(bits));
	vh_dirty_log_unmap(&l);
	assert_int_equal(vh_dirty_log_wrap(NULL, 16, &l), -EINVAL);
	assert_int_equal(vh_dirty_log_wrap(bits, 0, &l), -EINVAL);
}

static void test_map_from_fd(void **state)
{
	int fds = vh_test_count_fds();
	int fd = memfd_create("log", MFD_CLOEXEC);
	struct vh_dirty_log *l = NULL;
	uint8_t b = 0;

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 0x2000), 0);
	assert_int_equal(vh_dirty_log_map(fd, 0, 0, &l), -EINVAL);
	assert_int_equal(vh_dirty_log_map(fd, 0x1000, 0x1001, &l), -EINVAL); /* past EOF */
	assert_int_equal(vh_dirty_log_map(fd, UINT64_MAX, 2, &l), -EOVERFLOW);
	assert_int_equal(vh_dirty_log_map(-1, 16, 0, &l), -EINVAL);
	/* An offset that is not page aligned. */
	assert_int_equal(vh_dirty_log_map(fd, 64, 0x1010, &l), 0);
	vh_dirty_log_mark(l, 9 * PG, 1);
	assert_int_equal(pread(fd, &b, 1, 0x1011), 1);
	assert_int_equal(b, 0x02);
	assert_int_equal(pread(fd, &b, 1, 0x1010), 1);
	assert_int_equal(b, 0x00);
	vh_dirty_log_unmap(&l);
	close(fd);
	assert_int_equal(vh_test_count_fds(), fds);
}

static void test_mark_iov(void **state)
{
	uint8_t *a = calloc(1, 0x4000), *b = calloc(1, 0x4000), bits[8] = { 0 }, junk[16];
	struct vh_mem_region r = { .size = 0x4000, .fd = -1 };
	struct vh_memmap *m = NULL;
	struct vh_dirty_log *l = NULL;
	struct iovec iov[4];

	assert_int_equal(vh_memmap_create(NULL, &m), 0);
	r.gpa = 0x0;
	r.uva = 0x10000;
	r.host = a;
	assert_int_equal(vh_memmap_add(m, &r), 0);
	r.gpa = 0x4000;
	r.uva = 0x20000;
	r.host = b;
	assert_int_equal(vh_memmap_add(m, &r), 0);
	assert_int_equal(vh_dirty_log_wrap(bits, sizeof(bits), &l), 0);
	assert_int_equal(vh_mem_translate(m, 0x3ff0, 0x2000, VH_MEM_WRITE, iov, 4), 2);
	/* The device wrote 0x1010 bytes: pages 3 (tail of A) and 4 (head of B). */
	vh_dirty_log_mark_iov(l, m, iov, 2, 0x1010);
	assert_int_equal(bits[0], 0x18);
	/* One more byte reaches page 5. */
	vh_dirty_log_mark_iov(l, m, iov, 2, 0x1011);
	assert_int_equal(bits[0], 0x38);
	/* Nothing written, nothing marked. */
	memset(bits, 0, sizeof(bits));
	vh_dirty_log_mark_iov(l, m, iov, 2, 0);
	assert_int_equal(bits[0], 0);
	/* A host buffer outside the map is counted, not marked. */
	iov[0].iov_base = junk;
	iov[0].iov_len = sizeof(junk);
	vh_dirty_log_mark_iov(l, m, iov, 1, sizeof(junk));
	assert_int_equal(vh_dirty_log_dropped(l), 1);
	assert_int_equal(bits[0], 0);
	vh_dirty_log_mark_iov(NULL, m, iov, 1, sizeof(junk));
	vh_dirty_log_unmap(&l);
	vh_memmap_destroy(&m);
	free(a);
	free(b);
}

static void test_bytes_for(void **state)
{
	struct vh_memtable_config cfg = { .name = "t" };
	struct vh_memtable_region reg = {
		.gpa = 0x0, .size = 0x100000, .host = 0x7f0000000000, .fd = -1
	};
	struct vh_log_range rings[2] = { { 0x200000, 0x10 }, { 0x900000000, 0 } };
	struct vh_memtable *t = NULL;

	assert_int_equal(vh_log_bytes_for(NULL, NULL, 0), 0);
	assert_int_equal(vh_memtable_create(&cfg, &t), 0);
	vh_memtable_begin(t);
	assert_int_equal(vh_memtable_add_region(t, &reg), 0);
	assert_int_equal(vh_memtable_commit(t, NULL), 0);
	/* 256 pages: 32 bytes. */
	assert_int_equal(vh_log_bytes_for(t, NULL, 0), 32);
	/* A used ring above RAM: 513 pages -> 9 words. A ring of size 0 is not logged. */
	assert_int_equal(vh_log_bytes_for(t, rings, 2), 72);
	/* 64 GiB: 2 MiB. */
	reg.size = 64ull << 30;
	vh_memtable_begin(t);
	assert_int_equal(vh_memtable_add_region(t, &reg), 0);
	assert_int_equal(vh_memtable_commit(t, NULL), 0);
	assert_int_equal(vh_log_bytes_for(t, NULL, 0), 2 << 20);
	vh_memtable_destroy(&t);
}

static struct vh_log_buf *make_buf(uint64_t bytes, uint32_t flags)
{
	struct vh_log_buf_config cfg = { .name = "vhost-log-test", .flags = flags };
	struct vh_log_buf *l = NULL;

	assert_int_equal(vh_log_buf_create(&cfg, bytes, &l), 0);
	return l;
}

static void test_buf_sealed(void **state)
{
	int fds = vh_test_count_fds();
	struct vh_log_buf *l = make_buf(20, 0);
	struct vh_log_buf_config cfg = { 0 };
	struct vh_log_buf *bad = NULL;
	int fd = vh_log_buf_fd(l);

	assert_true(fd >= 0);
	assert_int_equal(vh_log_buf_size(l), 24);
	assert_int_equal(fcntl(fd, F_GET_SEALS), F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	assert_int_equal(ftruncate(fd, 4096), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
	assert_int_equal(lseek(fd, 0, SEEK_END), 24);
	assert_int_equal(vh_log_buf_create(&cfg, 0, &bad), -EINVAL);
	vh_log_buf_destroy(&l);
	assert_null(l);
	assert_int_equal(vh_test_count_fds(), fds);
}

static void test_buf_sync_once(void **state)
{
	struct vh_log_buf *l = make_buf(32, 0);
	struct vh_dirty_log *peer = NULL;
	uint64_t bm[4] = { 0 }, zero[4] = { 0 };

	assert_int_equal(vh_dirty_log_map(vh_log_buf_fd(l), vh_log_buf_size(l), 0, &peer), 0);
	vh_dirty_log_mark(peer, 0, 1);
	vh_dirty_log_mark(peer, 63 * PG, 2 * PG);
	vh_dirty_log_mark(peer, 255 * PG, 1);
	assert_int_equal(vh_log_buf_sync(l, bm, 256), 4);
	assert_int_equal(bm[0], 1ull | 1ull << 63);
	assert_int_equal(bm[1], 1);
	assert_int_equal(bm[2], 0);
	assert_int_equal(bm[3], 1ull << 63);
	/* Exactly once: the second sync finds nothing. */
	memset(bm, 0, sizeof(bm));
	assert_int_equal(vh_log_buf_sync(l, bm, 256), 0);
	assert_memory_equal(bm, zero, sizeof(bm));
	/* Sync ORs into the caller's bitmap, it never clears caller bits. */
	bm[2] = 0xf0;
	vh_dirty_log_mark(peer, 128 * PG, 1);
	assert_int_equal(vh_log_buf_sync(l, bm, 256), 1);
	assert_int_equal(bm[2], 0xf1);
	/* A bitmap shorter than the log: bits beyond it stay for later. */
	memset(bm, 0, sizeof(bm));
	vh_dirty_log_mark(peer, 65 * PG, 1);
	vh_dirty_log_mark(peer, 75 * PG, 1);
	assert_int_equal(vh_log_buf_sync(l, bm, 70), 1);
	assert_int_equal(bm[1], 1ull << 1);
	assert_int_equal(vh_log_buf_sync(l, bm, 256), 1);
	assert_int_equal(bm[1], 1ull << 1 | 1ull << 11);
	vh_dirty_log_unmap(&peer);
	vh_log_buf_destroy(&l);
}

/* A log of many cache lines (the skip-clean-lines path) against a reference bitmap. */
static void test_buf_sync_large(void **state)
{
	enum {
		WORDS = 130,
		PAGES = WORDS * 64
	};
	struct vh_log_buf *l = make_buf(WORDS * 8, 0);
	struct vh_dirty_log *peer = NULL;
	uint64_t *bm = calloc(WORDS, 8), *want = calloc(WORDS, 8), seed = 12345;
	int64_t n = 0;

	assert_int_equal(vh_dirty_log_map(vh_log_buf_fd(l), WORDS * 8, 0, &peer), 0);
	for (int i = 0; i < 300; i++) {
		uint64_t page;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		page = (seed >> 33) % PAGES;
		if (!(want[page / 64] & (1ull << (page % 64))))
			n++;
		want[page / 64] |= 1ull << (page % 64);
		vh_dirty_log_mark(peer, page * PG, 1);
	}
	/* The last page of the log, in the tail words after the last full line. */
	vh_dirty_log_mark(peer, (uint64_t)(PAGES - 1) * PG, 1);
	n += !(want[WORDS - 1] >> 63);
	want[WORDS - 1] |= 1ull << 63;
	assert_int_equal(vh_log_buf_sync(l, bm, PAGES), n);
	assert_memory_equal(bm, want, WORDS * 8);
	memset(bm, 0, WORDS * 8);
	assert_int_equal(vh_log_buf_sync(l, bm, PAGES), 0);
	memset(want, 0, WORDS * 8);
	assert_memory_equal(bm, want, WORDS * 8);
	vh_dirty_log_unmap(&peer);
	vh_log_buf_destroy(&l);
	free(bm);
	free(want);
}

struct marker {
	struct vh_dirty_log *peer;
	int done;
};

static void *marker_thread(void *arg)
{
	struct marker *mk = arg;

	/* Every page of a 64-word log once, interleaved so neighbours race in one word. */
	for (uint64_t k = 0; k < 2; k++)
		for (uint64_t p = k; p < 64 * 64; p += 2)
			vh_dirty_log_mark(mk->peer, p * PG, 1);
	__atomic_store_n(&mk->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Syncing while the peer marks: each page is handed over exactly once, none is lost. */
static void test_buf_sync_concurrent(void **state)
{
	struct vh_log_buf *l = make_buf(64 * 8, 0);
	struct marker mk = { 0 };
	uint64_t bm[64] = { 0 }, all[64];
	int64_t total = 0;
	pthread_t t;

	memset(all, 0xff, sizeof(all));
	assert_int_equal(vh_dirty_log_map(vh_log_buf_fd(l), 64 * 8, 0, &mk.peer), 0);
	assert_int_equal(pthread_create(&t, NULL, marker_thread, &mk), 0);
	while (!__atomic_load_n(&mk.done, __ATOMIC_ACQUIRE))
		total += vh_log_buf_sync(l, bm, 64 * 64);
	pthread_join(t, NULL);
	total += vh_log_buf_sync(l, bm, 64 * 64);
	assert_int_equal(total, 64 * 64);
	assert_memory_equal(bm, all, sizeof(bm));
	vh_dirty_log_unmap(&mk.peer);
	vh_log_buf_destroy(&l);
}

struct runs {
	uint64_t first[8], n[8];
	unsigned count;
};

static void record_run(void *opaque, uint64_t first, uint64_t npages)
{
	struct runs *r = opaque;

	assert_true(r->count < 8);
	r->first[r->count] = first;
	r->n[r->count++] = npages;
}

static void test_buf_sync_runs(void **state)
{
	struct vh_log_buf *l = make_buf(64, 0);
	struct vh_dirty_log *peer = NULL;
	struct runs r = { 0 };

	assert_int_equal(vh_dirty_log_map(vh_log_buf_fd(l), 64, 0, &peer), 0);
	vh_dirty_log_mark(peer, 3 * PG, 3 * PG);
	vh_dirty_log_mark(peer, 62 * PG, 70 * PG); /* pages 62..131 cross two words */
	vh_dirty_log_mark(peer, 200 * PG, 1);
	vh_dirty_log_mark(peer, 511 * PG, 1);
	assert_int_equal(vh_log_buf_sync_cb(l, record_run, &r), 3 + 70 + 1 + 1);
	assert_int_equal(r.count, 4);
	assert_int_equal(r.first[0], 3);
	assert_int_equal(r.n[0], 3);
	assert_int_equal(r.first[1], 62);
	assert_int_equal(r.n[1], 70);
	assert_int_equal(r.first[2], 200);
	assert_int_equal(r.n[2], 1);
	assert_int_equal(r.first[3], 511);
	assert_int_equal(r.n[3], 1);
	memset(&r, 0, sizeof(r));
	assert_int_equal(vh_log_buf_sync_cb(l, record_run, &r), 0);
	assert_int_equal(r.count, 0);
	vh_dirty_log_unmap(&peer);
	vh_log_buf_destroy(&l);
}

static void test_buf_resize(void **state)
{
	int fds = vh_test_count_fds();
	struct vh_log_buf *l = make_buf(8, 0);
	struct vh_dirty_log *old_peer = NULL, *new_peer = NULL;
	uint64_t bm[4] = { 0 };
	int old_fd = vh_log_buf_fd(l);

	assert_int_equal(vh_dirty_log_map(old_fd, 8, 0, &old_peer), 0);
	vh_dirty_log_mark(old_peer, 10 * PG, 1);
	/* Same size: nothing to do. */
	assert_int_equal(vh_log_buf_resize(l, 8), 0);
	assert_int_equal(vh_log_buf_fd(l), old_fd);
	assert_int_equal(vh_log_buf_resize(l, 32), 0);
	assert_int_not_equal(vh_log_buf_fd(l), old_fd);
	assert_int_equal(vh_log_buf_size(l), 32);
	assert_int_equal(fcntl(vh_log_buf_fd(l), F_GET_SEALS),
			 F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	/* The peer has not switched yet and keeps writing the old log: nothing is lost. */
	vh_dirty_log_mark(old_peer, 11 * PG, 1);
	assert_int_equal(vh_log_buf_sync(l, bm, 256), 2);
	assert_int_equal(bm[0], 3ull << 10);
	vh_dirty_log_mark(old_peer, 12 * PG, 1);
	assert_int_equal(vh_dirty_log_map(vh_log_buf_fd(l), 32, 0, &new_peer), 0);
	vh_dirty_log_mark(new_peer, 200 * PG, 1);
	vh_log_buf_drop_old(l);
	vh_dirty_log_unmap(&old_peer);
	memset(bm, 0, sizeof(bm));
	assert_int_equal(vh_log_buf_sync(l, bm, 256), 2);
	assert_int_equal(bm[0], 1ull << 12);
	assert_int_equal(bm[3], 1ull << 8);
	vh_dirty_log_unmap(&new_peer);
	vh_log_buf_destroy(&l);
	assert_int_equal(vh_test_count_fds(), fds);
}

/* Shrinking: a page beyond the new size is still reported while the old log is held. */
static void test_buf_shrink(void **state)
{
	struct vh_log_buf *l = make_buf(32, 0);
	struct vh_dirty_log *peer = NULL;
	uint64_t bm[4] = { 0 };

	assert_int_equal(vh_dirty_log_map(vh_log_buf_fd(l), 32, 0, &peer), 0);
	vh_dirty_log_mark(peer, 200 * PG, 1);
	vh_dirty_log_mark(peer, 2 * PG, 1);
	assert_int_equal(vh_log_buf_resize(l, 8), 0);
	assert_int_equal(vh_log_buf_size(l), 8);
	assert_int_equal(vh_log_buf_sync(l, bm, 256), 2);
	assert_int_equal(bm[0], 1ull << 2);
	assert_int_equal(bm[3], 1ull << 8);
	vh_log_buf_drop_old(l);
	vh_dirty_log_unmap(&peer);
	memset(bm, 0, sizeof(bm));
	assert_int_equal(vh_log_buf_sync(l, bm, 256), 0);
	assert_int_equal(vh_log_buf_resize(l, 0), -EINVAL);
	assert_int_equal(vh_log_buf_size(l), 8);
	vh_log_buf_destroy(&l);
}

static void test_buf_kernel(void **state)
{
	struct vh_log_buf *l = make_buf(16, VH_LOG_BUF_KERNEL);
	struct vh_dirty_log *peer = NULL;
	uint64_t bm[2] = { 0 };

	assert_int_equal(vh_log_buf_fd(l), -1);
	assert_non_null(vh_log_buf_addr(l));
	assert_int_equal(vh_dirty_log_wrap(vh_log_buf_addr(l), 16, &peer), 0);
	vh_dirty_log_mark(peer, 70 * PG, 1);
	assert_int_equal(vh_log_buf_sync(l, bm, 128), 1);
	assert_int_equal(bm[1], 1ull << 6);
	vh_dirty_log_unmap(&peer);
	assert_int_equal(vh_log_buf_resize(l, 64), 0);
	assert_int_equal(vh_log_buf_fd(l), -1);
	vh_log_buf_destroy(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mark_exact_bits),	    cmocka_unit_test(test_mark_beyond),
		cmocka_unit_test(test_map_from_fd),	    cmocka_unit_test(test_mark_iov),
		cmocka_unit_test(test_bytes_for),	    cmocka_unit_test(test_buf_sealed),
		cmocka_unit_test(test_buf_sync_once),	    cmocka_unit_test(test_buf_sync_large),
		cmocka_unit_test(test_buf_sync_concurrent), cmocka_unit_test(test_buf_sync_runs),
		cmocka_unit_test(test_buf_resize),	    cmocka_unit_test(test_buf_shrink),
		cmocka_unit_test(test_buf_kernel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
