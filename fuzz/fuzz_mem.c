/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for mem/: a backend map built from fuzzed region descriptions (all backed
 * by one memfd), optionally an IOTLB in front of it, then fuzzed (addr, len) translations.
 * Oracle: every iovec returned lies inside one mapped region, the pieces add up to len, and in
 * GPA mode each piece is exactly what vh_memmap_gpa_to_host() says for its guest address.
 *
 * Input: [flags:1] [nregions:1] nregions * [gpa:8 size:4 uva_page:2 offset:4]
 *        (iotlb mode: [nentries:1] nentries * [iova:8 size:4 uva_page:2 perm:1])
 *        then pairs [addr:8 len:4 perm:1] until the input ends.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vhost/mem.h>

#define FD_SIZE	 (1u << 20)
#define UVA_BASE 0x7f0000000000ull
#define MAX_IOV	 8

struct input {
	const uint8_t *p;
	size_t left;
};

static uint64_t take(struct input *in, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n && in->left; i++, in->left--)
		v |= (uint64_t)*in->p++ << (8 * i);
	return v;
}

static int backing_fd(void)
{
	static int fd = -1; /* one memfd for the whole run: the harness, not the library */

	if (fd < 0) {
		fd = memfd_create("fuzz-mem", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, FD_SIZE) < 0)
			abort();
	}
	return fd;
}

static void add_regions(struct vh_memmap *m, struct input *in)
{
	unsigned n = (unsigned)take(in, 1) % 16;

	for (unsigned i = 0; i < n && in->left; i++) {
		struct vh_mem_region r = { .fd = backing_fd() };

		r.gpa = take(in, 8);
		r.size = take(in, 4) % (FD_SIZE + 1);
		r.uva = UVA_BASE + (take(in, 2) << 12);
		r.mmap_offset = take(in, 4) % FD_SIZE;
		(void)vh_memmap_add(m, &r);
	}
}

static void add_iotlb(struct vh_iotlb *t, struct input *in)
{
	unsigned n = (unsigned)take(in, 1) % 16;

	for (unsigned i = 0; i < n && in->left; i++) {
		uint64_t iova = take(in, 8), size = take(in, 4);
		uint64_t uva = UVA_BASE + (take(in, 2) << 12);
		int perm = (int)take(in, 1);

		if (perm & 0x80)
			(void)vh_iotlb_invalidate(t, iova, size);
		else
			(void)vh_iotlb_update(t, iova, size, uva, perm & VH_MEM_RW);
	}
}

/* The piece must sit inside a single mapped region. */
static void check_inside(const struct vh_memmap *m, const struct iovec *v)
{
	unsigned n = vh_memmap_count(m);

	for (unsigned i = 0; i < n; i++) {
		struct vh_mem_region r;
		uintptr_t b, h;

		if (vh_memmap_get(m, i, &r) < 0)
			abort();
		b = (uintptr_t)v->iov_base;
		h = (uintptr_t)r.host;
		if (b >= h && b - h < r.size && v->iov_len <= r.size - (b - h))
			return;
	}
	abort();
}

static void check(const struct vh_memmap *m, bool iotlb, uint64_t addr, uint64_t len,
		  const struct iovec *iov, int n)
{
	uint64_t total = 0;

	if (n < 0) {
		if (n != -EFAULT && n != -ENOBUFS && n != -EAGAIN && n != -EACCES)
			abort();
		return;
	}
	for (int i = 0; i < n; i++) {
		if (iov[i].iov_len == 0)
			abort();
		check_inside(m, &iov[i]);
		if (!iotlb &&
		    vh_memmap_gpa_to_host(m, addr + total, iov[i].iov_len) != iov[i].iov_base)
			abort();
		total += iov[i].iov_len;
	}
	if (total != len)
		abort();
}

static void quiet(void *opaque, enum vh_log_level level, const char *msg)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct vh_memmap *m = NULL;
	struct vh_iotlb *t = NULL;
	bool iotlb = take(&in, 1) & 1;

	if (vh_memmap_create(&(struct vh_log_sink){ .fn = NULL }, &m) < 0)
		return 0;
	add_regions(m, &in);
	if (iotlb && vh_iotlb_create(&(struct vh_log_sink){ .fn = quiet }, 8, &t) == 0) {
		add_iotlb(t, &in);
		vh_memmap_set_iotlb(m, t);
	}
	while (in.left) {
		struct iovec iov[MAX_IOV];
		uint64_t addr = take(&in, 8), len = take(&in, 4);
		int perm = (int)take(&in, 1) & VH_MEM_RW;
		int n = vh_mem_translate(m, addr, len, perm ? perm : VH_MEM_READ, iov, MAX_IOV);

		check(m, t != NULL, addr, len, iov, n);
		if (n > 0) /* touch every byte the translation hands out */
			for (int i = 0; i < n; i++)
				((volatile uint8_t *)iov[i].iov_base)[iov[i].iov_len - 1] ^= 0;
	}
	vh_memmap_destroy(&m);
	vh_iotlb_destroy(&t);
	return 0;
}
