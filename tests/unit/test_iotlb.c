/* SPDX-License-Identifier: BSD-3-Clause */
/* IOTLB cache and IOVA translation through it: hit, miss, invalidate, permissions, bounds. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <vhost/mem.h>

#include "unit_helpers.h"

#define UVA_A 0x7f0000000000ull
#define UVA_B 0x7f0000100000ull

struct fixture {
	uint8_t *a, *b; /* host memory behind uva A and B, 64 KiB each */
	struct vh_memmap *m;
	struct vh_iotlb *tlb;
	struct vh_test_log log;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct vh_log_sink sink = vh_test_sink(&f->log);
	struct vh_mem_region r = { .size = 0x10000, .fd = -1 };

	f->a = calloc(1, 0x10000);
	f->b = calloc(1, 0x10000);
	assert_int_equal(vh_memmap_create(&sink, &f->m), 0);
	r.gpa = 0x0;
	r.uva = UVA_A;
	r.host = f->a;
	assert_int_equal(vh_memmap_add(f->m, &r), 0);
	r.gpa = 0x10000;
	r.uva = UVA_B;
	r.host = f->b;
	assert_int_equal(vh_memmap_add(f->m, &r), 0);
	assert_int_equal(vh_iotlb_create(&sink, 0, &f->tlb), 0);
	vh_memmap_set_iotlb(f->m, f->tlb);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vh_memmap_destroy(&f->m);
	vh_iotlb_destroy(&f->tlb);
	assert_null(f->tlb);
	free(f->a);
	free(f->b);
	free(f);
	return 0;
}

static void assert_no_miss(struct vh_iotlb *tlb)
{
	uint64_t iova;
	int perm;

	assert_int_equal(vh_iotlb_last_miss(tlb, &iova, &perm), 0);
}

static void assert_miss(struct vh_iotlb *tlb, uint64_t want_iova, int want_perm)
{
	uint64_t iova = 0;
	int perm = 0;

	assert_int_equal(vh_iotlb_last_miss(tlb, &iova, &perm), 1);
	assert_int_equal(iova, want_iova);
	assert_int_equal(perm, want_perm);
	/* Taken once. */
	assert_no_miss(tlb);
}

static void test_hit(void **state)
{
	struct fixture *f = *state;
	struct iovec iov[4];

	assert_int_equal(vh_iotlb_update(f->tlb, 0x100000, 0x2000, UVA_A + 0x1000, VH_MEM_RW), 0);
	assert_int_equal(vh_mem_translate(f->m, 0x100800, 0x100, VH_MEM_WRITE, iov, 4), 1);
	assert_ptr_equal(iov[0].iov_base, f->a + 0x1800);
	assert_int_equal(iov[0].iov_len, 0x100);
	/* IOVA is not GPA any more: GPA 0x0 is not mapped in the IOTLB. */
	assert_int_equal(vh_mem_translate(f->m, 0x0, 1, VH_MEM_READ, iov, 4), -EAGAIN);
	assert_miss(f->tlb, 0x0, VH_MEM_READ);
	vh_memmap_set_iotlb(f->m, NULL);
	assert_int_equal(vh_mem_translate(f->m, 0x0, 1, VH_MEM_READ, iov, 4), 1);
	assert_ptr_equal(iov[0].iov_base, f->a);
}

static void test_split_across_entries_and_regions(void **state)
{
	struct fixture *f = *state;
	struct iovec iov[4];

	/* Two contiguous IOVA pages backed by the two regions: one buffer, two iovecs. */
	assert_int_equal(vh_iotlb_update(f->tlb, 0x1000, 0x1000, UVA_B + 0x3000, VH_MEM_RW), 0);
	assert_int_equal(vh_iotlb_update(f->tlb, 0x2000, 0x1000, UVA_A + 0x5000, VH_MEM_RW), 0);
	assert_int_equal(vh_mem_translate(f->m, 0x1ff0, 0x20, VH_MEM_READ, iov, 4), 2);
	assert_ptr_equal(iov[0].iov_base, f->b + 0x3ff0);
	assert_int_equal(iov[0].iov_len, 0x10);
	assert_ptr_equal(iov[1].iov_base, f->a + 0x5000);
	assert_int_equal(iov[1].iov_len, 0x10);
	assert_int_equal(vh_mem_translate(f->m, 0x1ff0, 0x20, VH_MEM_READ, iov, 1), -ENOBUFS);
	/* One IOTLB entry whose uva range straddles the end of region A into a hole. */
	assert_int_equal(vh_iotlb_update(f->tlb, 0x8000, 0x2000, UVA_A + 0xf000, VH_MEM_RW), 0);
	assert_int_equal(vh_mem_translate(f->m, 0x8000, 0x1000, VH_MEM_READ, iov, 4), 1);
	assert_int_equal(vh_mem_translate(f->m, 0x8000, 0x1001, VH_MEM_READ, iov, 4), -EFAULT);
	assert_no_miss(f->tlb);
}

static void test_miss_partial(void **state)
{
	struct fixture *f = *state;
	struct iovec iov[4];

	assert_int_equal(vh_iotlb_update(f->tlb, 0x1000, 0x2000, UVA_A, VH_MEM_RW), 0);
	/* The head hits, the tail misses: the miss names the first missing IOVA. */
	assert_int_equal(vh_mem_translate(f->m, 0x2ff0, 0x20, VH_MEM_WRITE, iov, 4), -EAGAIN);
	assert_miss(f->tlb, 0x3000, VH_MEM_WRITE);
	/* The frontend answers with an update that covers it: the pending miss is gone. */
	assert_int_equal(vh_mem_translate(f->m, 0x3000, 0x10, VH_MEM_READ, iov, 4), -EAGAIN);
	assert_int_equal(vh_iotlb_update(f->tlb, 0x3000, 0x1000, UVA_B, VH_MEM_RW), 0);
	assert_no_miss(f->tlb);
	assert_int_equal(vh_mem_translate(f->m, 0x2ff0, 0x20, VH_MEM_WRITE, iov, 4), 2);
	assert_ptr_equal(iov[1].iov_base, f->b);
	/* An update elsewhere leaves a pending miss alone. */
	assert_int_equal(vh_mem_translate(f->m, 0x9000, 0x10, VH_MEM_READ, iov, 4), -EAGAIN);
	assert_int_equal(vh_iotlb_update(f->tlb, 0x5000, 0x1000, UVA_B, VH_MEM_RW), 0);
	assert_miss(f->tlb, 0x9000, VH_MEM_READ);
}

static void test_perm_denied(void **state)
{
	struct fixture *f = *state;
	struct iovec iov[4];
	uint64_t uva;

	assert_int_equal(vh_iotlb_update(f->tlb, 0x1000, 0x1000, UVA_A, VH_MEM_READ), 0);
	assert_int_equal(vh_iotlb_update(f->tlb, 0x2000, 0x1000, UVA_A + 0x1000, VH_MEM_WRITE), 0);
	assert_int_equal(vh_mem_translate(f->m, 0x1000, 0x10, VH_MEM_READ, iov, 4), 1);
	assert_int_equal(vh_mem_translate(f->m, 0x1000, 0x10, VH_MEM_WRITE, iov, 4), -EACCES);
	assert_int_equal(vh_mem_translate(f->m, 0x2000, 0x10, VH_MEM_READ, iov, 4), -EACCES);
	assert_int_equal(vh_mem_translate(f->m, 0x2000, 0x10, VH_MEM_WRITE, iov, 4), 1);
	assert_int_equal(vh_iotlb_lookup(f->tlb, 0x1ff0, 0x20, VH_MEM_RW, &uva), -EACCES);
	assert_no_miss(f->tlb);
}

static void test_invalidate(void **state)
{
	struct fixture *f = *state;
	uint64_t uva = 0;

	assert_int_equal(vh_iotlb_update(f->tlb, 0x10000, 0x10000, UVA_A, VH_MEM_RW), 0);
	/* Punch a hole in the middle: the entry splits in two. */
	assert_int_equal(vh_iotlb_invalidate(f->tlb, 0x14000, 0x1000), 0);
	assert_int_equal(vh_iotlb_count(f->tlb), 2);
	assert_int_equal(vh_iotlb_lookup(f->tlb, 0x13ff0, 0x100, VH_MEM_READ, &uva), 0x10);
	assert_int_equal(uva, UVA_A + 0x3ff0);
	assert_int_equal(vh_iotlb_lookup(f->tlb, 0x14800, 1, VH_MEM_READ, &uva), -EAGAIN);
	assert_miss(f->tlb, 0x14800, VH_MEM_READ);
	assert_int_equal(vh_iotlb_lookup(f->tlb, 0x15000, 0x100000, VH_MEM_READ, &uva), 0xb000);
	assert_int_equal(uva, UVA_A + 0x5000);
	/* Trim both ends across the two pieces. */
	assert_int_equal(vh_iotlb_invalidate(f->tlb, 0x13000, 0x3000), 0);
	assert_int_equal(vh_iotlb_lookup(f->tlb, 0x12fff, 2, VH_MEM_READ, &uva), 1);
	assert_int_equal(vh_iotlb_lookup(f->tlb, 0x16000, 1, VH_MEM_READ, &uva), 1);
	assert_int_equal(uva, UVA_A + 0x6000);
	assert_int_equal(vh_iotlb_lookup(f->tlb, 0x15fff, 1, VH_MEM_READ, &uva), -EAGAIN);
	/* size 0: everything from iova on. */
	assert_int_equal(vh_iotlb_invalidate(f->tlb, 0x0, 0), 0);
	assert_int_equal(vh_iotlb_count(f->tlb), 0);
	assert_int_equal(vh_iotlb_lookup(f->tlb, 0x10000, 1, VH_MEM_READ, &uva), -EAGAIN);
}

static void test_overlapping_update(void **state)
{
	struct fixture *f = *state;
	uint64_t uva = 0;

	assert_int_equal(vh_iotlb_update(f->tlb, 0x0, 0x4000, UVA_A, VH_MEM_RW), 0);
	assert_int_equal(vh_iotlb_update(f->tlb, 0x1000, 0x1000, UVA_B, VH_MEM_READ), 0);
	assert_int_equal(vh_iotlb_count(f->tlb), 3);
	assert_int_equal(vh_iotlb_lookup(f->tlb, 0x0, 0x10000, VH_MEM_READ, &uva), 0x1000);
	assert_int_equal(uva, UVA_A);
	assert_int_equal(vh_iotlb_lookup(f->tlb, 0x1800, 0x10000, VH_MEM_READ, &uva), 0x800);
	assert_int_equal(uva, UVA_B + 0x800);
	assert_int_equal(vh_iotlb_lookup(f->tlb, 0x2000, 0x10000, VH_MEM_WRITE, &uva), 0x2000);
	assert_int_equal(uva, UVA_A + 0x2000);
	/* An update covering several entries replaces them all. */
	assert_int_equal(vh_iotlb_update(f->tlb, 0x0, 0x8000, UVA_B, VH_MEM_RW), 0);
	assert_int_equal(vh_iotlb_count(f->tlb), 1);
	assert_int_equal(vh_iotlb_lookup(f->tlb, 0x3000, 0x10, VH_MEM_WRITE, &uva), 0x10);
	assert_int_equal(uva, UVA_B + 0x3000);
}

static void test_bounded_and_bad(void **state)
{
	struct fixture *f = *state;
	struct vh_iotlb *small = NULL;
	uint64_t uva = 0;

	assert_int_equal(vh_iotlb_create(NULL, 4, &small), 0);
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(vh_iotlb_update(small, i * 0x1000, 0x1000, UVA_A, VH_MEM_RW), 0);
	assert_int_equal(vh_iotlb_count(small), 4);
	assert_int_equal(vh_iotlb_lookup(small, 0x0, 1, VH_MEM_READ, &uva), -EAGAIN);
	assert_int_equal(vh_iotlb_lookup(small, 0x1000, 1, VH_MEM_READ, &uva), -EAGAIN);
	assert_int_equal(vh_iotlb_lookup(small, 0x5000, 1, VH_MEM_READ, &uva), 1);
	/* Splitting a full cache still stays within the bound. */
	assert_int_equal(vh_iotlb_update(small, 0x10000, 0x3000, UVA_A, VH_MEM_RW), 0);
	assert_int_equal(vh_iotlb_invalidate(small, 0x11000, 0x1000), 0);
	assert_true(vh_iotlb_count(small) <= 4);
	assert_int_equal(vh_iotlb_lookup(small, 0x12000, 1, VH_MEM_READ, &uva), 1);
	vh_iotlb_destroy(&small);

	assert_int_equal(vh_iotlb_update(f->tlb, 0x0, 0, UVA_A, VH_MEM_RW), -EINVAL);
	assert_int_equal(vh_iotlb_update(f->tlb, 0x0, 0x1000, UVA_A, 0), -EINVAL);
	assert_int_equal(vh_iotlb_update(f->tlb, UINT64_MAX, 2, UVA_A, VH_MEM_RW), -EOVERFLOW);
	assert_int_equal(vh_iotlb_update(f->tlb, 0x0, 0x1000, UINT64_MAX - 1, VH_MEM_RW),
			 -EOVERFLOW);
	assert_int_equal(vh_iotlb_count(f->tlb), 0);
	assert_int_equal(f->log.count, 4);
	/* The very top of the IOVA space is fine. */
	assert_int_equal(vh_iotlb_update(f->tlb, UINT64_MAX - 0xfff, 0x1000, UVA_A, VH_MEM_RW), 0);
	assert_int_equal(vh_iotlb_lookup(f->tlb, UINT64_MAX, 1, VH_MEM_READ, &uva), 1);
	assert_int_equal(uva, UVA_A + 0xfff);
	assert_int_equal(vh_iotlb_lookup(f->tlb, UINT64_MAX, 0, VH_MEM_READ, &uva), -EINVAL);
}

struct churn {
	struct fixture *f;
	int stop;
	int bad;
};

static void *churn_thread(void *arg)
{
	struct churn *c = arg;

	while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED)) {
		vh_iotlb_invalidate(c->f->tlb, 0x1000, 0x1000);
		vh_iotlb_update(c->f->tlb, 0x1000, 0x1000, UVA_A + 0x2000, VH_MEM_RW);
	}
	return NULL;
}

/* A ring thread translating while the control thread updates and invalidates: every answer is
 * either a miss or the right address, never a torn entry. */
static void test_concurrent_update(void **state)
{
	struct fixture *f = *state;
	struct churn c = { .f = f };
	struct iovec iov[2];
	pthread_t t;
	int hits = 0, misses = 0;

	assert_int_equal(pthread_create(&t, NULL, churn_thread, &c), 0);
	for (int i = 0; i < 200000; i++) {
		int n = vh_mem_translate(f->m, 0x1800, 0x10, VH_MEM_READ, iov, 2);

		if (n == -EAGAIN)
			misses++;
		else if (n == 1 && iov[0].iov_base == f->a + 0x2800 && iov[0].iov_len == 0x10)
			hits++;
		else
			c.bad++;
	}
	__atomic_store_n(&c.stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	assert_int_equal(c.bad, 0);
	assert_int_equal(hits + misses, 200000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_across_entries_and_regions, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_miss_partial, setup, teardown),
		cmocka_unit_test_setup_teardown(test_perm_denied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalidate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlapping_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounded_and_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_update, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
