/* SPDX-License-Identifier: BSD-3-Clause */
/* Backend memory map: mapping, translation across region boundaries, slots, reverse lookups. */
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

#include <vhost/mem.h>

#include "unit_helpers.h"

#define FD_SIZE 0x10000

struct fixture {
	int fd;
	uint8_t *view; /* our own mapping of the whole memfd, to check what translation points at */
	struct vh_memmap *m;
	struct vh_test_log log;
	int fds_before;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct vh_log_sink sink;

	assert_non_null(f);
	f->fds_before = vh_test_count_fds();
	f->fd = memfd_create("test-mem", MFD_CLOEXEC);
	assert_true(f->fd >= 0);
	assert_int_equal(ftruncate(f->fd, FD_SIZE), 0);
	f->view = mmap(NULL, FD_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, 0);
	assert_true(f->view != MAP_FAILED);
	for (unsigned i = 0; i < FD_SIZE; i++)
		f->view[i] = (uint8_t)(i * 7 + (i >> 8));
	sink = vh_test_sink(&f->log);
	assert_int_equal(vh_memmap_create(&sink, &f->m), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vh_memmap_destroy(&f->m);
	assert_null(f->m);
	/* The map never closes the caller's fd. */
	assert_int_equal(fcntl(f->fd, F_GETFD) >= 0, 1);
	munmap(f->view, FD_SIZE);
	close(f->fd);
	assert_int_equal(vh_test_count_fds(), f->fds_before);
	free(f);
	return 0;
}

static void add(struct fixture *f, uint64_t gpa, uint64_t size, uint64_t uva, uint64_t off)
{
	struct vh_mem_region r = {
		.gpa = gpa, .size = size, .uva = uva, .mmap_offset = off, .fd = f->fd
	};

	assert_int_equal(vh_memmap_add(f->m, &r), 0);
}

/* Two regions adjacent in GPA, far apart in the fd: A=[0,0x4000)@0, B=[0x4000,0x8000)@0x8000. */
static void add_ab(struct fixture *f)
{
	add(f, 0x0, 0x4000, 0x7f0000000000, 0x0);
	add(f, 0x4000, 0x4000, 0x7f0000100000, 0x8000);
	assert_int_equal(vh_memmap_count(f->m), 2);
}

static void test_translate_inside(void **state)
{
	struct fixture *f = *state;
	struct iovec iov[4];

	add_ab(f);
	assert_int_equal(vh_mem_translate(f->m, 0x100, 0x200, VH_MEM_READ, iov, 4), 1);
	assert_int_equal(iov[0].iov_len, 0x200);
	assert_memory_equal(iov[0].iov_base, f->view + 0x100, 0x200);
	assert_int_equal(vh_mem_translate(f->m, 0x4010, 0x10, VH_MEM_WRITE, iov, 4), 1);
	assert_int_equal(iov[0].iov_len, 0x10);
	assert_memory_equal(iov[0].iov_base, f->view + 0x8010, 0x10);
	/* Writes through the translation land in the fd: the mapping is MAP_SHARED. */
	memset(iov[0].iov_base, 0xab, 0x10);
	assert_int_equal(f->view[0x8010], 0xab);
	assert_int_equal(f->view[0x801f], 0xab);
}

static void test_translate_straddle(void **state)
{
	struct fixture *f = *state;
	struct iovec iov[4];

	add_ab(f);
	assert_int_equal(vh_mem_translate(f->m, 0x3ff0, 0x20, VH_MEM_READ, iov, 4), 2);
	assert_int_equal(iov[0].iov_len, 0x10);
	assert_memory_equal(iov[0].iov_base, f->view + 0x3ff0, 0x10);
	assert_int_equal(iov[1].iov_len, 0x10);
	assert_memory_equal(iov[1].iov_base, f->view + 0x8000, 0x10);
	/* Not enough room for the second piece. */
	assert_int_equal(vh_mem_translate(f->m, 0x3ff0, 0x20, VH_MEM_READ, iov, 1), -ENOBUFS);
	/* Straddling the end of the last region is a fault, not a read past the mapping. */
	assert_int_equal(vh_mem_translate(f->m, 0x7ff0, 0x20, VH_MEM_READ, iov, 4), -EFAULT);
	assert_null(vh_memmap_gpa_to_host(f->m, 0x3ff0, 0x20));
	assert_ptr_equal(vh_memmap_gpa_to_host(f->m, 0x3ff0, 0x10),
			 (uint8_t *)vh_memmap_gpa_to_host(f->m, 0, 1) + 0x3ff0);
}

static void test_translate_hole(void **state)
{
	struct fixture *f = *state;
	struct iovec iov[4];

	add(f, 0x0, 0x1000, 0x10000, 0x0);
	add(f, 0x2000, 0x1000, 0x20000, 0x1000);
	assert_int_equal(vh_mem_translate(f->m, 0xff0, 0x20, VH_MEM_READ, iov, 4), -EFAULT);
	assert_int_equal(vh_mem_translate(f->m, 0x1000, 1, VH_MEM_READ, iov, 4), -EFAULT);
	assert_int_equal(vh_mem_translate(f->m, 0x1fff, 2, VH_MEM_READ, iov, 4), -EFAULT);
	assert_int_equal(vh_mem_translate(f->m, 0x0, 0x3000, VH_MEM_READ, iov, 4), -EFAULT);
	assert_int_equal(vh_mem_translate(f->m, 0x10000000, 1, VH_MEM_READ, iov, 4), -EFAULT);
	assert_int_equal(vh_mem_translate(f->m, 0x2000, 0x1000, VH_MEM_READ, iov, 4), 1);
	assert_memory_equal(iov[0].iov_base, f->view + 0x1000, 0x1000);
}

static void test_translate_edges(void **state)
{
	struct fixture *f = *state;
	struct iovec iov[4];

	add(f, 0x0, 0x1000, 0x10000, 0x0);
	/* len 0 uses no iovec, whatever the address. */
	assert_int_equal(vh_mem_translate(f->m, 0xdead0000, 0, VH_MEM_READ, iov, 4), 0);
	/* Exactly the last byte; one past it. */
	assert_int_equal(vh_mem_translate(f->m, 0xfff, 1, VH_MEM_READ, iov, 4), 1);
	assert_ptr_equal(iov[0].iov_base, (uint8_t *)vh_memmap_gpa_to_host(f->m, 0, 1) + 0xfff);
	assert_int_equal(vh_mem_translate(f->m, 0xfff, 2, VH_MEM_READ, iov, 4), -EFAULT);
	assert_int_equal(vh_mem_translate(f->m, 0x0, 0x1000, VH_MEM_READ, iov, 4), 1);
	assert_int_equal(iov[0].iov_len, 0x1000);
	assert_int_equal(vh_mem_translate(f->m, 0x0, 0x1001, VH_MEM_READ, iov, 4), -EFAULT);
	assert_non_null(vh_memmap_gpa_to_host(f->m, 0x0, 0x1000));
	assert_null(vh_memmap_gpa_to_host(f->m, 0x0, 0x1001));
	assert_null(vh_memmap_gpa_to_host(f->m, 0x1000, 0));
	/* u64 wrap-around: addr + len overflows. */
	assert_int_equal(vh_mem_translate(f->m, 0x10, UINT64_MAX, VH_MEM_READ, iov, 4), -EFAULT);
	assert_int_equal(vh_mem_translate(f->m, UINT64_MAX, 2, VH_MEM_READ, iov, 4), -EFAULT);
	assert_null(vh_memmap_gpa_to_host(f->m, 0x10, UINT64_MAX));
}

static void test_top_of_address_space(void **state)
{
	struct fixture *f = *state;
	struct iovec iov[4];

	/* A region ending at 2^64 exactly: legal, and the last byte translates. */
	add(f, UINT64_MAX - 0xfff, 0x1000, 0x10000, 0x2000);
	assert_int_equal(vh_mem_translate(f->m, UINT64_MAX, 1, VH_MEM_READ, iov, 4), 1);
	assert_ptr_equal(iov[0].iov_base,
			 (uint8_t *)vh_memmap_gpa_to_host(f->m, UINT64_MAX - 0xfff, 1) + 0xfff);
	assert_int_equal(vh_mem_translate(f->m, UINT64_MAX - 0xfff, 0x1000, VH_MEM_READ, iov, 4),
			 1);
	assert_int_equal(vh_mem_translate(f->m, UINT64_MAX, 2, VH_MEM_READ, iov, 4), -EFAULT);
}

/*
 * vhost-user.rst: QEMU's vhost-user-net drives each queue pair as a vhost device of its own on
 * one connection and each sends ADD_MEM_REG for the same RAM. The identical region again is
 * counted, not refused and not mapped twice; anything that differs still conflicts; it stays
 * mapped until the last REM_MEM_REG.
 */
static void test_add_identical(void **state)
{
	struct fixture *f = *state;
	struct vh_mem_region r = {
		.gpa = 0x4000, .size = 0x4000, .uva = 0x7f0000100000, .mmap_offset = 0x8000
	};
	struct vh_mem_region got;
	int fd2;

	add_ab(f);
	assert_int_equal(vh_memmap_get(f->m, 1, &got), 0);
	/* Pair 1 sends B again, on a new fd for the same file (as SCM_RIGHTS delivers it). */
	fd2 = dup(f->fd);
	assert_true(fd2 >= 0);
	r.fd = fd2;
	assert_int_equal(vh_memmap_add(f->m, &r), 0);
	close(fd2);
	assert_int_equal(vh_memmap_count(f->m), 2);
	assert_int_equal(vh_memmap_get(f->m, 1, &r), 0);
	assert_ptr_equal(r.host, got.host); /* not mapped a second time */
	/* Same addresses, another offset, size or file: a conflicting overlap. */
	r = (struct vh_mem_region){ .gpa = 0x4000,
				    .size = 0x4000,
				    .uva = 0x7f0000100000,
				    .mmap_offset = 0xc000,
				    .fd = f->fd };
	assert_int_equal(vh_memmap_add(f->m, &r), -EINVAL);
	r.mmap_offset = 0x8000;
	r.size = 0x2000;
	assert_int_equal(vh_memmap_add(f->m, &r), -EINVAL);
	r.size = 0x4000;
	r.fd = memfd_create("other", MFD_CLOEXEC);
	assert_true(r.fd >= 0);
	assert_int_equal(ftruncate(r.fd, FD_SIZE), 0);
	assert_int_equal(vh_memmap_add(f->m, &r), -EINVAL);
	close(r.fd);
	/* The first REM_MEM_REG keeps it (the other pair still uses it), the second unmaps it. */
	assert_int_equal(vh_memmap_remove(f->m, 0x4000, 0x4000), 0);
	assert_int_equal(vh_memmap_count(f->m), 2);
	assert_non_null(vh_memmap_gpa_to_host(f->m, 0x4000, 0x10));
	assert_int_equal(vh_memmap_remove(f->m, 0x4000, 0x4000), 0);
	assert_int_equal(vh_memmap_count(f->m), 1);
	assert_null(vh_memmap_gpa_to_host(f->m, 0x4000, 0x10));
	assert_int_equal(vh_memmap_remove(f->m, 0x4000, 0x4000), -ENOENT);
}

static void test_add_refused(void **state)
{
	struct fixture *f = *state;
	struct vh_mem_region r = { .gpa = 0x1000, .size = 0x1000, .uva = 0x90000, .fd = f->fd };

	add_ab(f);
	/* GPA overlap (inside A), overlap across A/B, exact duplicate of B. */
	assert_int_equal(vh_memmap_add(f->m, &r), -EINVAL);
	assert_string_equal(f->log.last,
			    "memmap: add region gpa 0x1000 size 0x1000 uva 0x90000: "
			    "guest addresses overlap a mapped region: Invalid argument");
	r.gpa = 0x3800;
	assert_int_equal(vh_memmap_add(f->m, &r), -EINVAL);
	r.gpa = 0x7fff;
	assert_int_equal(vh_memmap_add(f->m, &r), -EINVAL);
	/* UVA overlap with A although GPA is free. */
	r.gpa = 0x100000;
	r.uva = 0x7f0000000ff0;
	assert_int_equal(vh_memmap_add(f->m, &r), -EINVAL);
	/* Empty. */
	r.uva = 0x90000;
	r.size = 0;
	assert_int_equal(vh_memmap_add(f->m, &r), -EINVAL);
	/* Wrapping gpa, uva, fd offset. */
	r.size = 0x2000;
	r.gpa = UINT64_MAX - 0xfff;
	assert_int_equal(vh_memmap_add(f->m, &r), -EOVERFLOW);
	r.gpa = 0x100000;
	r.uva = UINT64_MAX - 0xfff;
	assert_int_equal(vh_memmap_add(f->m, &r), -EOVERFLOW);
	r.uva = 0x90000;
	r.mmap_offset = UINT64_MAX - 0xfff;
	assert_int_equal(vh_memmap_add(f->m, &r), -EOVERFLOW);
	/* Past the end of the fd: mapping it would SIGBUS on access. */
	r.mmap_offset = FD_SIZE - 0x1000;
	assert_int_equal(vh_memmap_add(f->m, &r), -EINVAL);
	/* Bad fd. */
	r.mmap_offset = 0;
	r.fd = 1000;
	assert_int_equal(vh_memmap_add(f->m, &r), -EBADF);
	assert_int_equal(vh_memmap_count(f->m), 2);
	assert_true(f->log.count >= 9);
	/* A mapping that is not page aligned in the fd still lands on the right byte. */
	r.fd = f->fd;
	r.mmap_offset = 0x1234;
	r.size = 0x100;
	assert_int_equal(vh_memmap_add(f->m, &r), 0);
	assert_memory_equal(vh_memmap_gpa_to_host(f->m, 0x100000, 0x100), f->view + 0x1234, 0x100);
}

static void test_remove_readd(void **state)
{
	struct fixture *f = *state;
	struct iovec iov[2];
	struct vh_mem_region got;

	add_ab(f);
	assert_int_equal(vh_memmap_remove(f->m, 0x0, 0x1000), -ENOENT);
	assert_int_equal(vh_memmap_remove(f->m, 0x1000, 0x4000), -ENOENT);
	assert_int_equal(vh_memmap_remove(f->m, 0x0, 0x4000), 0);
	assert_int_equal(vh_memmap_count(f->m), 1);
	assert_int_equal(vh_mem_translate(f->m, 0x10, 1, VH_MEM_READ, iov, 2), -EFAULT);
	assert_int_equal(vh_memmap_get(f->m, 0, &got), 0);
	assert_int_equal(got.gpa, 0x4000);
	assert_int_equal(vh_memmap_get(f->m, 1, &got), -ENOENT);
	/* Re-add A at another fd offset: translations follow. */
	add(f, 0x0, 0x4000, 0x7f0000000000, 0xc000);
	assert_int_equal(vh_mem_translate(f->m, 0x10, 1, VH_MEM_READ, iov, 2), 1);
	assert_int_equal(*(uint8_t *)iov[0].iov_base, f->view[0xc010]);
	assert_int_equal(vh_memmap_get(f->m, 0, &got), 0);
	assert_int_equal(got.gpa, 0x0);
	assert_int_equal(got.mmap_offset, 0xc000);
	vh_memmap_clear(f->m);
	assert_int_equal(vh_memmap_count(f->m), 0);
	assert_int_equal(vh_mem_translate(f->m, 0x4010, 1, VH_MEM_READ, iov, 2), -EFAULT);
}

static void test_slot_limit(void **state)
{
	struct fixture *f = *state;
	uint8_t *buf = calloc(VH_MEM_MAX_REGIONS + 1, 16);
	struct vh_mem_region r = { .size = 16, .fd = -1 };
	struct iovec iov[1];

	assert_non_null(buf);
	/* Insert in a scrambled order so the sorted index is exercised. */
	for (unsigned k = 0; k < VH_MEM_MAX_REGIONS; k++) {
		unsigned i = (k * 263) % VH_MEM_MAX_REGIONS;

		r.gpa = (uint64_t)i * 0x1000;
		r.uva = 0x100000000ull - (uint64_t)i * 0x100;
		r.host = buf + (size_t)i * 16;
		assert_int_equal(vh_memmap_add(f->m, &r), 0);
	}
	assert_int_equal(vh_memmap_count(f->m), VH_MEM_MAX_REGIONS);
	r.gpa = 0x10000000;
	r.uva = 0x200000000ull;
	r.host = buf + VH_MEM_MAX_REGIONS * 16;
	assert_int_equal(vh_memmap_add(f->m, &r), -ENOSPC);
	for (unsigned i = 0; i < VH_MEM_MAX_REGIONS; i++) {
		uint64_t gpa = 0;

		assert_int_equal(vh_mem_translate(f->m, i * 0x1000 + 3, 13, VH_MEM_READ, iov, 1),
				 1);
		assert_ptr_equal(iov[0].iov_base, buf + i * 16 + 3);
		assert_int_equal(vh_mem_translate(f->m, i * 0x1000 + 3, 14, VH_MEM_READ, iov, 1),
				 -EFAULT);
		assert_ptr_equal(vh_memmap_uva_to_host(f->m, 0x100000000ull - i * 0x100 + 5, 11),
				 buf + i * 16 + 5);
		assert_int_equal(vh_memmap_host_to_gpa(f->m, buf + i * 16 + 15, &gpa), 0);
		assert_int_equal(gpa, i * 0x1000 + 15);
	}
	vh_memmap_clear(f->m);
	free(buf);
}

static void test_uva_and_reverse(void **state)
{
	struct fixture *f = *state;
	uint8_t *a, *b;
	uint64_t gpa = 0;

	add_ab(f);
	a = vh_memmap_uva_to_host(f->m, 0x7f0000000000, 0x4000);
	b = vh_memmap_uva_to_host(f->m, 0x7f0000100010, 0x10);
	assert_ptr_equal(a, vh_memmap_gpa_to_host(f->m, 0, 1));
	assert_ptr_equal(b, vh_memmap_gpa_to_host(f->m, 0x4010, 1));
	assert_null(vh_memmap_uva_to_host(f->m, 0x7f0000000000, 0x4001));
	assert_null(vh_memmap_uva_to_host(f->m, 0x7f0000004000, 1));
	assert_null(vh_memmap_uva_to_host(f->m, 0x1000, 1));
	assert_int_equal(vh_memmap_host_to_gpa(f->m, a + 0x3fff, &gpa), 0);
	assert_int_equal(gpa, 0x3fff);
	assert_int_equal(vh_memmap_host_to_gpa(f->m, b, &gpa), 0);
	assert_int_equal(gpa, 0x4010);
	assert_int_equal(vh_memmap_host_to_gpa(f->m, &gpa, &gpa), -EFAULT);
}

struct reader {
	struct fixture *f;
	uint64_t gpa;
	const uint8_t *want;
	int bad;
};

static void *reader_thread(void *arg)
{
	struct reader *r = arg;
	struct iovec iov[2];

	for (int i = 0; i < 200000; i++) {
		if (vh_mem_translate(r->f->m, r->gpa, 8, VH_MEM_READ, iov, 2) != 1 ||
		    iov[0].iov_base != r->want)
			r->bad++;
	}
	return NULL;
}

/* Two ring threads hitting different regions fight over the hint: results stay exact. */
static void test_concurrent_readers(void **state)
{
	struct fixture *f = *state;
	struct reader r[2];
	pthread_t t[2];

	add_ab(f);
	r[0] = (struct reader){ f, 0x10, vh_memmap_gpa_to_host(f->m, 0x10, 1), 0 };
	r[1] = (struct reader){ f, 0x4010, vh_memmap_gpa_to_host(f->m, 0x4010, 1), 0 };
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, reader_thread, &r[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(r[0].bad, 0);
	assert_int_equal(r[1].bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_translate_inside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_identical, setup, teardown),
		cmocka_unit_test_setup_teardown(test_translate_straddle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_translate_hole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_translate_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_top_of_address_space, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_readd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slot_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uva_and_reverse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_readers, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
