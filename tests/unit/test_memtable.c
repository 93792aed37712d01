/* SPDX-License-Identifier: BSD-3-Clause */
/* Frontend memory table: merge, page alignment, overlap refusal, filtering, diff, slot limit. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <vhost/mem.h>

#include "unit_helpers.h"

#define HOST  0x7f0000000000ull
#define HUGE2 0x200000ull

static struct vh_test_log tlog;

static struct vh_memtable *make(uint32_t flags, unsigned max)
{
	struct vh_memtable_config cfg = { .name = "dev0", .max_regions = max, .flags = flags };
	struct vh_memtable *t = NULL;

	memset(&tlog, 0, sizeof(tlog));
	cfg.log = vh_test_sink(&tlog);
	assert_int_equal(vh_memtable_create(&cfg, &t), 0);
	return t;
}

static struct vh_memtable_region reg(uint64_t gpa, uint64_t size, uint64_t host, int fd,
				     uint64_t off)
{
	return (struct vh_memtable_region){
		.gpa = gpa, .size = size, .host = host, .fd = fd, .fd_offset = off
	};
}

static void add_ok(struct vh_memtable *t, struct vh_memtable_region r)
{
	assert_int_equal(vh_memtable_add_region(t, &r), 0);
}

static void assert_region(const struct vh_memtable_region *r, uint64_t gpa, uint64_t size,
			  uint64_t host, int fd, uint64_t off)
{
	assert_non_null(r);
	assert_int_equal(r->gpa, gpa);
	assert_int_equal(r->size, size);
	assert_int_equal(r->host, host);
	assert_int_equal(r->fd, fd);
	assert_int_equal(r->fd_offset, off);
}

static void test_merge_adjacent_same_fd(void **state)
{
	struct vh_memtable *t = make(0, 0);
	struct vh_memtable_diff d;

	vh_memtable_begin(t);
	add_ok(t, reg(0x0, 0x1000, HOST, 5, 0x0));
	add_ok(t, reg(0x1000, 0x3000, HOST + 0x1000, 5, 0x1000));
	add_ok(t, reg(0x4000, 0x1000, HOST + 0x4000, 5, 0x4000));
	assert_int_equal(vh_memtable_commit(t, &d), 0);
	assert_int_equal(vh_memtable_count(t), 1);
	assert_region(vh_memtable_region(t, 0), 0x0, 0x5000, HOST, 5, 0x0);
	assert_true(d.changed);
	assert_int_equal(d.n_added, 1);
	assert_int_equal(d.n_removed, 0);
	assert_int_equal(vh_memtable_end(t), 0x5000);
	vh_memtable_destroy(&t);
	assert_null(t);
}

static void test_no_merge(void **state)
{
	struct vh_memtable *t = make(0, 0);

	vh_memtable_begin(t);
	add_ok(t, reg(0x0, 0x1000, HOST, 5, 0x0));
	/* Host not contiguous. */
	add_ok(t, reg(0x1000, 0x1000, HOST + 0x10000, 5, 0x1000));
	/* Host contiguous with the previous one but the fd offset is not. */
	add_ok(t, reg(0x2000, 0x1000, HOST + 0x11000, 5, 0x9000));
	/* Everything contiguous but another fd. */
	add_ok(t, reg(0x3000, 0x1000, HOST + 0x12000, 6, 0xa000));
	/* A hole in the GPA space. */
	add_ok(t, reg(0x5000, 0x1000, HOST + 0x13000, 6, 0xb000));
	assert_int_equal(vh_memtable_commit(t, NULL), 0);
	assert_int_equal(vh_memtable_count(t), 5);
	assert_region(vh_memtable_region(t, 1), 0x1000, 0x1000, HOST + 0x10000, 5, 0x1000);
	assert_region(vh_memtable_region(t, 4), 0x5000, 0x1000, HOST + 0x13000, 6, 0xb000);
	assert_null(vh_memtable_region(t, 5));
	assert_int_equal(vh_memtable_lookup_host(t, 0x2010, 0x10), HOST + 0x11010);
	assert_int_equal(vh_memtable_lookup_host(t, 0x2ff0, 0x20), 0);
	assert_int_equal(vh_memtable_lookup_host(t, 0x4000, 1), 0);
	vh_memtable_destroy(&t);
}

static void test_huge_page_alignment(void **state)
{
	struct vh_memtable *t = make(VH_MEMTABLE_ALIGN_PAGES, 0);
	struct vh_memtable_region r;

	vh_memtable_begin(t);
	/* 512 KiB at 1 MiB inside a 2 MiB page: widened to the whole page. */
	r = reg(0x100000, 0x80000, HOST + 0x100000, 7, 0x100000);
	r.page_size = HUGE2;
	add_ok(t, r);
	/* The next section of the same mapping, after the first huge page: rounded, merged. */
	r = reg(0x200000, 0x100000, HOST + 0x200000, 7, 0x200000);
	r.page_size = HUGE2;
	add_ok(t, r);
	assert_int_equal(vh_memtable_commit(t, NULL), 0);
	assert_int_equal(vh_memtable_count(t), 1);
	assert_region(vh_memtable_region(t, 0), 0x0, 0x400000, HOST, 7, 0x0);
	assert_int_equal(vh_memtable_region(t, 0)->page_size, HUGE2);

	/* 4 KiB backing: only the odd bytes are widened. */
	vh_memtable_begin(t);
	add_ok(t, reg(0x10100, 0x100, HOST + 0x100, 3, 0x100));
	assert_int_equal(vh_memtable_commit(t, NULL), 0);
	assert_region(vh_memtable_region(t, 0), 0x10000, 0x1000, HOST, 3, 0x0);
	vh_memtable_destroy(&t);

	/* Kernel tables are not aligned. */
	t = make(0, 0);
	vh_memtable_begin(t);
	r = reg(0x100000, 0x80000, HOST + 0x100000, -1, 0);
	r.page_size = HUGE2;
	add_ok(t, r);
	assert_int_equal(vh_memtable_commit(t, NULL), 0);
	assert_region(vh_memtable_region(t, 0), 0x100000, 0x80000, HOST + 0x100000, -1, 0);
	vh_memtable_destroy(&t);
}

static void test_overlap_refused(void **state)
{
	struct vh_memtable *t = make(VH_MEMTABLE_ALIGN_PAGES, 0);
	struct vh_memtable_region r;
	struct vh_memtable_diff d;

	vh_memtable_begin(t);
	add_ok(t, reg(0x0, 0x1000, HOST, 5, 0));
	assert_int_equal(vh_memtable_commit(t, &d), 0);

	/* Rounding makes two sections of different files share a huge page: incoherent. */
	vh_memtable_begin(t);
	r = reg(0x0, 0x100000, HOST, 5, 0);
	r.page_size = HUGE2;
	add_ok(t, r);
	r = reg(0x100000, 0x100000, HOST + 0x10000000 + 0x100000, 6, 0x100000);
	r.page_size = HUGE2;
	assert_int_equal(vh_memtable_add_region(t, &r), -EINVAL);
	assert_non_null(strstr(tlog.last, "dev0: add region gpa 0x"));
	/* The batch is poisoned; the committed table is untouched. */
	assert_int_equal(vh_memtable_commit(t, &d), -EINVAL);
	assert_int_equal(vh_memtable_count(t), 1);
	assert_region(vh_memtable_region(t, 0), 0x0, 0x1000, HOST, 5, 0);
	vh_memtable_destroy(&t);

	t = make(0, 0);
	/* Overlap without rounding, different backing. */
	vh_memtable_begin(t);
	add_ok(t, reg(0x0, 0x2000, HOST, 5, 0));
	r = reg(0x1000, 0x2000, HOST + 0x100000, 6, 0);
	assert_int_equal(vh_memtable_add_region(t, &r), -EINVAL);
	assert_non_null(strstr(tlog.last, "overlapping but not coherent"));
	/* Out of order. */
	vh_memtable_begin(t);
	add_ok(t, reg(0x4000, 0x1000, HOST, 5, 0));
	r = reg(0x1000, 0x1000, HOST + 0x100000, 6, 0);
	assert_int_equal(vh_memtable_add_region(t, &r), -EINVAL);
	/* Bad inputs. */
	vh_memtable_begin(t);
	r = reg(0x0, 0, HOST, 5, 0);
	assert_int_equal(vh_memtable_add_region(t, &r), -EINVAL);
	r = reg(0x0, 0x1000, HOST, 5, 0);
	r.page_size = 3000;
	assert_int_equal(vh_memtable_add_region(t, &r), -EINVAL);
	r = reg(UINT64_MAX - 0xff, 0x1000, HOST, 5, 0);
	assert_int_equal(vh_memtable_add_region(t, &r), -EOVERFLOW);
	r = reg(0, 0x1000, UINT64_MAX - 0xff, 5, 0);
	assert_int_equal(vh_memtable_add_region(t, &r), -EOVERFLOW);
	/* begin() clears the poison. */
	vh_memtable_begin(t);
	add_ok(t, reg(0x0, 0x1000, HOST, 5, 0));
	assert_int_equal(vh_memtable_commit(t, NULL), 0);
	vh_memtable_destroy(&t);
}

static void test_filtering(void **state)
{
	struct vh_memtable *t = make(VH_MEMTABLE_DROP_READONLY, 0);
	struct vh_memtable_region r;

	vh_memtable_begin(t);
	add_ok(t, reg(0x0, 0x1000, HOST, 5, 0));
	r = reg(0x1000, 0x1000, HOST + 0x1000, 5, 0x1000);
	r.flags = VH_MEMTABLE_READONLY;
	add_ok(t, r);
	r = reg(0x2000, 0x1000, HOST + 0x2000, 5, 0x2000);
	r.flags = VH_MEMTABLE_DEVICE_INVISIBLE;
	add_ok(t, r);
	add_ok(t, reg(0x3000, 0x1000, HOST + 0x3000, 5, 0x3000));
	assert_int_equal(vh_memtable_commit(t, NULL), 0);
	assert_int_equal(vh_memtable_count(t), 2);
	assert_region(vh_memtable_region(t, 0), 0x0, 0x1000, HOST, 5, 0);
	assert_region(vh_memtable_region(t, 1), 0x3000, 0x1000, HOST + 0x3000, 5, 0x3000);
	vh_memtable_destroy(&t);

	/* Not dropping read-only: kept, but not merged with a writable neighbour. */
	t = make(0, 0);
	vh_memtable_begin(t);
	add_ok(t, reg(0x0, 0x1000, HOST, 5, 0));
	r = reg(0x1000, 0x1000, HOST + 0x1000, 5, 0x1000);
	r.flags = VH_MEMTABLE_READONLY;
	add_ok(t, r);
	r = reg(0x2000, 0x1000, HOST + 0x2000, 5, 0x2000);
	r.flags = VH_MEMTABLE_DEVICE_INVISIBLE;
	add_ok(t, r);
	assert_int_equal(vh_memtable_commit(t, NULL), 0);
	assert_int_equal(vh_memtable_count(t), 2);
	assert_int_equal(vh_memtable_region(t, 1)->flags, VH_MEMTABLE_READONLY);
	vh_memtable_destroy(&t);
}

static void test_diff(void **state)
{
	struct vh_memtable *t = make(0, 0);
	struct vh_memtable_diff d;

	vh_memtable_begin(t);
	add_ok(t, reg(0x0, 0x1000, HOST, 5, 0));
	add_ok(t, reg(0x10000, 0x1000, HOST + 0x10000, 6, 0));
	add_ok(t, reg(0x20000, 0x1000, HOST + 0x20000, 7, 0));
	assert_int_equal(vh_memtable_commit(t, &d), 0);
	assert_int_equal(d.n_added, 3);
	assert_int_equal(d.n_removed, 0);

	/* Same again: nothing to send. */
	vh_memtable_begin(t);
	add_ok(t, reg(0x0, 0x1000, HOST, 5, 0));
	add_ok(t, reg(0x10000, 0x1000, HOST + 0x10000, 6, 0));
	add_ok(t, reg(0x20000, 0x1000, HOST + 0x20000, 7, 0));
	assert_int_equal(vh_memtable_commit(t, &d), 0);
	assert_false(d.changed);
	assert_int_equal(d.n_added + d.n_removed, 0);

	/* Region 2 grows (remove + add), region 3 goes, region 4 appears before it. */
	vh_memtable_begin(t);
	add_ok(t, reg(0x0, 0x1000, HOST, 5, 0));
	add_ok(t, reg(0x10000, 0x2000, HOST + 0x10000, 6, 0));
	add_ok(t, reg(0x18000, 0x1000, HOST + 0x18000, 8, 0));
	assert_int_equal(vh_memtable_commit(t, &d), 0);
	assert_true(d.changed);
	assert_int_equal(d.n_removed, 2);
	assert_int_equal(d.n_added, 2);
	assert_region(vh_memtable_removed(t, 0), 0x10000, 0x1000, HOST + 0x10000, 6, 0);
	assert_region(vh_memtable_removed(t, 1), 0x20000, 0x1000, HOST + 0x20000, 7, 0);
	assert_region(vh_memtable_added(t, 0), 0x10000, 0x2000, HOST + 0x10000, 6, 0);
	assert_region(vh_memtable_added(t, 1), 0x18000, 0x1000, HOST + 0x18000, 8, 0);
	assert_null(vh_memtable_added(t, 2));
	assert_null(vh_memtable_removed(t, 2));

	/* Everything goes. */
	vh_memtable_begin(t);
	assert_int_equal(vh_memtable_commit(t, &d), 0);
	assert_int_equal(d.n_removed, 3);
	assert_int_equal(d.n_added, 0);
	assert_int_equal(vh_memtable_count(t), 0);
	assert_int_equal(vh_memtable_end(t), 0);
	vh_memtable_destroy(&t);
}

/* The backend refused the new table: revert makes the old one current, the diff goes back. */
static void test_revert(void **state)
{
	struct vh_memtable *t = make(0, 0);
	struct vh_memtable_diff d;

	assert_int_equal(vh_memtable_revert(t), -EINVAL); /* nothing committed yet */
	vh_memtable_begin(t);
	add_ok(t, reg(0x0, 0x1000, HOST, 5, 0));
	add_ok(t, reg(0x10000, 0x1000, HOST + 0x10000, 6, 0));
	assert_int_equal(vh_memtable_commit(t, &d), 0);
	vh_memtable_begin(t);
	add_ok(t, reg(0x0, 0x1000, HOST, 5, 0));
	add_ok(t, reg(0x30000, 0x1000, HOST + 0x30000, 9, 0));
	assert_int_equal(vh_memtable_commit(t, &d), 0);
	assert_int_equal(vh_memtable_revert(t), 0);
	assert_int_equal(vh_memtable_count(t), 2);
	assert_region(vh_memtable_region(t, 1), 0x10000, 0x1000, HOST + 0x10000, 6, 0);
	assert_region(vh_memtable_added(t, 0), 0x10000, 0x1000, HOST + 0x10000, 6, 0);
	assert_region(vh_memtable_removed(t, 0), 0x30000, 0x1000, HOST + 0x30000, 9, 0);
	assert_null(vh_memtable_added(t, 1));
	assert_int_equal(vh_memtable_end(t), 0x11000);
	assert_int_equal(vh_memtable_revert(t), -EINVAL); /* one level only */
	/* The next batch is diffed against the reverted table. */
	vh_memtable_begin(t);
	add_ok(t, reg(0x0, 0x1000, HOST, 5, 0));
	add_ok(t, reg(0x10000, 0x1000, HOST + 0x10000, 6, 0));
	assert_int_equal(vh_memtable_commit(t, &d), 0);
	assert_false(d.changed);
	vh_memtable_destroy(&t);
}

static void add_three(struct vh_memtable *t)
{
	vh_memtable_begin(t);
	add_ok(t, reg(0x0, 0x1000, HOST, 5, 0));
	add_ok(t, reg(0x2000, 0x1000, HOST + 0x2000, 5, 0x2000));
	add_ok(t, reg(0x4000, 0x1000, HOST + 0x4000, 5, 0x4000));
}

static void test_slot_limit(void **state)
{
	struct vh_memtable *t = make(0, 2);

	vh_memtable_begin(t);
	add_ok(t, reg(0x0, 0x1000, HOST, 5, 0));
	assert_int_equal(vh_memtable_commit(t, NULL), 0);
	assert_true(vh_memtable_has_free_slot(t));
	add_three(t);
	assert_int_equal(vh_memtable_commit(t, NULL), -ENOSPC);
	assert_non_null(strstr(tlog.last, "3 regions, the backend has 2 slots"));
	assert_int_equal(vh_memtable_count(t), 1);
	add_three(t);
	vh_memtable_set_max_regions(t, 3);
	assert_int_equal(vh_memtable_commit(t, NULL), 0);
	assert_int_equal(vh_memtable_count(t), 3);
	assert_false(vh_memtable_has_free_slot(t));
	/* Merged neighbours need a single slot. */
	vh_memtable_set_max_regions(t, 1);
	vh_memtable_begin(t);
	add_ok(t, reg(0x0, 0x1000, HOST, 5, 0));
	add_ok(t, reg(0x1000, 0x1000, HOST + 0x1000, 5, 0x1000));
	assert_int_equal(vh_memtable_commit(t, NULL), 0);
	assert_false(vh_memtable_has_free_slot(t));
	vh_memtable_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_adjacent_same_fd),
		cmocka_unit_test(test_no_merge),
		cmocka_unit_test(test_huge_page_alignment),
		cmocka_unit_test(test_overlap_refused),
		cmocka_unit_test(test_filtering),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_revert),
		cmocka_unit_test(test_slot_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
