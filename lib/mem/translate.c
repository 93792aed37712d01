// SPDX-License-Identifier: BSD-3-Clause
/*
 * Guest address ranges to host iovecs. Every byte of the range is checked to lie inside a
 * mapped region; a range crossing a region end continues in the next region or fails, it is
 * never read past the end of a mapping (CVE-2018-1059 was exactly that straddling case).
 */
#include <errno.h>

#include <vhost/mem.h>

#include "mem/memmap.h"
#include "util/util.h"

struct vh_iov_out {
	struct iovec *iov;
	unsigned max;
	unsigned n;
};

static int push_iov(struct vh_iov_out *o, void *base, uint64_t len)
{
	if (o->n == o->max)
		return -ENOBUFS;
	o->iov[o->n].iov_base = base;
	o->iov[o->n].iov_len = (size_t)len;
	o->n++;
	return 0;
}

/* [addr, addr + len) by gpa (by_uva false) or uva; len > 0 and the range does not wrap. */
static int map_range(const struct vh_memmap *m, bool by_uva, uint64_t addr, uint64_t len,
		     struct vh_iov_out *o)
{
	while (len) {
		const struct vh_memmap_slot *s =
		    by_uva ? vh_memmap_find_uva(m, addr) : vh_memmap_find_gpa(m, addr);
		uint64_t off, chunk;
		int err;

		if (!s)
			return -EFAULT;
		off = addr - (by_uva ? s->uva : s->gpa);
		chunk = VH_MIN(len, s->size - off);
		err = push_iov(o, s->host + off, chunk);
		if (err < 0)
			return err;
		addr += chunk;
		len -= chunk;
	}
	return 0;
}

static int map_iova(const struct vh_memmap *m, struct vh_iotlb *iotlb, uint64_t iova, uint64_t len,
		    int perm, struct vh_iov_out *o)
{
	while (len) {
		uint64_t uva, end;
		int64_t got = vh_iotlb_lookup(iotlb, iova, len, perm, &uva);
		int err;

		if (got < 0)
			return (int)got;
		/* The IOTLB entry came from the frontend: its uva range must not wrap either. */
		if (vh_add_overflows(uva, (uint64_t)got - 1, &end))
			return -EFAULT;
		err = map_range(m, true, uva, (uint64_t)got, o);
		if (err < 0)
			return err;
		iova += (uint64_t)got;
		len -= (uint64_t)got;
	}
	return 0;
}

/* Every other case: through the IOTLB, or across regions, or no region at all. */
static __attribute__((noinline)) int translate_slow(const struct vh_memmap *m, uint64_t addr,
						    uint64_t len, int perm, struct vh_iov_out *o)
{
	struct vh_iotlb *iotlb = vh_memmap_iotlb(m);
	int err;

	if (iotlb)
		err = map_iova(m, iotlb, addr, len, perm, o);
	else
		err = map_range(m, false, addr, len, o);
	return err < 0 ? err : (int)o->n;
}

int vh_mem_translate(const struct vh_memmap *m, uint64_t addr, uint64_t len, int perm,
		     struct iovec *iov, unsigned max_iov)
{
	struct vh_iov_out o = { .iov = iov, .max = max_iov };
	const struct vh_memmap_slot *s;
	uint64_t last;

	if (len == 0)
		return 0;
	if (vh_add_overflows(addr, len - 1, &last))
		return -EFAULT;
	/* The common case first: no IOTLB, the whole range inside the last region hit. */
	if (vh_likely(!vh_memmap_iotlb(m) && max_iov)) {
		s = vh_memmap_hint_gpa(m, addr);
		if (vh_likely(s && len <= s->size - (addr - s->gpa))) {
			iov[0].iov_base = s->host + (addr - s->gpa);
			iov[0].iov_len = (size_t)len;
			return 1;
		}
	}
	return translate_slow(m, addr, len, perm, &o);
}
