// SPDX-License-Identifier: BSD-3-Clause
/*
 * Backend side of the dirty log: mark the pages a device wrote. Bits are set with an atomic OR
 * per byte: the frontend takes words out with an atomic exchange at the same time, and several
 * ring threads mark concurrently. Bytes (not words) because the log's start inside the fd
 * (mmap_offset) need not be 8-byte aligned.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vhost/log.h>
#include <vhost/mem.h>

#include "mem/memmap.h"
#include "util/util.h"

struct vh_dirty_log {
	uint8_t *bits;
	uint64_t size;	/* bytes */
	void *map_base; /* NULL when wrapped */
	size_t map_len;
	uint64_t dropped; /* atomic */
};

int vh_dirty_log_wrap(void *base, uint64_t size, struct vh_dirty_log **out)
{
	struct vh_dirty_log *l;

	if (!base || size == 0)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->bits = base;
	l->size = size;
	*out = l;
	return 0;
}

int vh_dirty_log_map(int fd, uint64_t size, uint64_t offset, struct vh_dirty_log **out)
{
	long pgl = sysconf(_SC_PAGESIZE);
	uint64_t pg = pgl > 0 ? (uint64_t)pgl : 4096, start, delta, end, len;
	struct stat st;
	void *p;
	int err;

	if (size == 0 || fd < 0)
		return -EINVAL;
	if (vh_add_overflows(offset, size, &end))
		return -EOVERFLOW;
	if (fstat(fd, &st) < 0)
		return -errno;
	/* A log shorter than announced would SIGBUS the backend on the first mark. */
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < end)
		return -EINVAL;
	start = offset & ~(pg - 1);
	delta = offset - start;
	if (vh_add_overflows(size, delta + pg - 1, &len) || len > SIZE_MAX)
		return -EOVERFLOW;
	len &= ~(pg - 1);
	p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)start);
	if (p == MAP_FAILED)
		return -errno;
	err = vh_dirty_log_wrap((uint8_t *)p + delta, size, out);
	if (err < 0) {
		munmap(p, (size_t)len);
		return err;
	}
	(*out)->map_base = p;
	(*out)->map_len = (size_t)len;
	return 0;
}

void vh_dirty_log_unmap(struct vh_dirty_log **pl)
{
	struct vh_dirty_log *l = pl ? *pl : NULL;

	if (!l)
		return;
	if (l->map_base)
		munmap(l->map_base, l->map_len);
	free(l);
	*pl = NULL;
}

uint64_t vh_dirty_log_size(const struct vh_dirty_log *l)
{
	return l->size;
}

uint64_t vh_dirty_log_dropped(const struct vh_dirty_log *l)
{
	return __atomic_load_n(&l->dropped, __ATOMIC_RELAXED);
}

static void set_bits(uint8_t *byte, unsigned first, unsigned last)
{
	uint8_t mask = (uint8_t)((0xffu << first) & (0xffu >> (7 - last)));

	if ((__atomic_load_n(byte, __ATOMIC_RELAXED) & mask) != mask)
		__atomic_fetch_or(byte, mask, __ATOMIC_RELEASE);
}

void vh_dirty_log_mark(struct vh_dirty_log *l, uint64_t gpa, uint64_t len)
{
	uint64_t first, last, npages = l ? l->size * 8 : 0, end;

	if (!l || len == 0)
		return;
	if (vh_add_overflows(gpa, len - 1, &end))
		end = UINT64_MAX;
	first = gpa / VH_LOG_PAGE_SIZE;
	last = end / VH_LOG_PAGE_SIZE;
	if (last >= npages) {
		uint64_t beyond = last - VH_MAX(first, npages) + 1;

		__atomic_fetch_add(&l->dropped, beyond, __ATOMIC_RELAXED);
		if (first >= npages)
			return;
		last = npages - 1;
	}
	if (first / 8 == last / 8) {
		set_bits(&l->bits[first / 8], first % 8, last % 8);
		return;
	}
	set_bits(&l->bits[first / 8], first % 8, 7);
	for (uint64_t b = first / 8 + 1; b < last / 8; b++)
		set_bits(&l->bits[b], 0, 7);
	set_bits(&l->bits[last / 8], 0, last % 8);
}

void vh_dirty_log_mark_iov(struct vh_dirty_log *l, const struct vh_memmap *m,
			   const struct iovec *iov, unsigned n, uint64_t written)
{
	if (!l)
		return;
	for (unsigned i = 0; i < n && written; i++) {
		uint64_t len = VH_MIN(written, (uint64_t)iov[i].iov_len);
		const struct vh_memmap_slot *s;
		uintptr_t host = (uintptr_t)iov[i].iov_base;

		written -= len;
		/* An iovec from vh_mem_translate() lies inside one region; walk anyway. */
		while (len) {
			uint64_t off, chunk;

			s = vh_memmap_find_host(m, host);
			if (!s) {
				uint64_t pages = (len + VH_LOG_PAGE_SIZE - 1) / VH_LOG_PAGE_SIZE;

				__atomic_fetch_add(&l->dropped, pages, __ATOMIC_RELAXED);
				break;
			}
			off = host - (uintptr_t)s->host;
			chunk = VH_MIN(len, s->size - off);
			vh_dirty_log_mark(l, s->gpa + off, chunk);
			host += chunk;
			len -= chunk;
		}
	}
}
