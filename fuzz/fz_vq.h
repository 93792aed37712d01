/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * For the device-side ring harnesses (fuzz_vq.c, fuzz_inflight.c): pop every chain a fuzzed ring
 * offers and check that each iovec lies inside one mapped guest region.
 */
#ifndef VH_FUZZ_VQ_H
#define VH_FUZZ_VQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <vhost/mem.h>
#include <vhost/vq.h>

#define FZ_VQ_MAX_IOV 64u

static inline void fz_vq_check_iov(const struct vh_mem_region *regions, unsigned nregions,
				   const struct iovec *iov, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uintptr_t b = (uintptr_t)iov[i].iov_base, e = b + iov[i].iov_len;
		bool ok = false;

		for (unsigned k = 0; k < nregions && !ok; k++) {
			uintptr_t rb = (uintptr_t)regions[k].host, re = rb + regions[k].size;

			ok = iov[i].iov_len && b >= rb && e <= re && e > b;
		}
		if (!ok)
			__builtin_trap();
	}
}

/*
 * Pop (resubmissions first) until empty or error; complete the i-th popped chain when bit i % 8
 * of @complete_mask is set (the others stay in flight); flush after every second pop and at the
 * end.
 */
static inline void fz_vq_drain(struct vh_vq *vq, const struct vh_mem_region *regions,
			       unsigned nregions, unsigned complete_mask)
{
	struct iovec iov[FZ_VQ_MAX_IOV];
	struct vh_vq_elem elem = { .iov = iov, .max_iov = FZ_VQ_MAX_IOV };

	for (unsigned i = 0; i < 2 * vh_vq_num(vq) + 2; i++) {
		int r = vh_vq_pop(vq, &elem);

		if (r <= 0)
			break;
		if (elem.out_num + elem.in_num > FZ_VQ_MAX_IOV)
			__builtin_trap();
		fz_vq_check_iov(regions, nregions, iov, elem.out_num + elem.in_num);
		if (complete_mask & (1u << (i % 8)))
			vh_vq_push(vq, &elem, (uint32_t)elem.in_len);
		if (i & 1)
			vh_vq_flush(vq);
	}
	vh_vq_flush(vq);
	(void)vh_vq_needs_notify(vq);
}

#endif
