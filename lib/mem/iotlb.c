// SPDX-License-Identifier: BSD-3-Clause
/*
 * IOTLB cache (vhost-user.rst "IOMMU support"): iova -> uva entries with permissions, kept
 * sorted and non-overlapping. Updates and invalidations arrive on the control thread while ring
 * threads look up, so the table is behind a rwlock; the last miss is kept for the caller that
 * sends VHOST_IOTLB_MISS.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <vhost/mem.h>

#include "util/util.h"

struct vh_iotlb_entry {
	uint64_t iova;
	uint64_t size;
	uint64_t uva;
	int perm;
};

struct vh_iotlb {
	struct vh_log_sink log;
	/* lock and miss_lock are never held together: no order between them. */
	struct vh_rwlock lock;
	unsigned n VH_GUARDED_BY(lock);
	unsigned max;
	struct vh_iotlb_entry *e VH_PT_GUARDED_BY(lock); /* max + 1 slots: a punch may split one */
	struct vh_mutex miss_lock;
	bool miss_pending VH_GUARDED_BY(miss_lock);
	uint64_t miss_iova VH_GUARDED_BY(miss_lock);
	int miss_perm VH_GUARDED_BY(miss_lock);
};

int vh_iotlb_create(const struct vh_log_sink *log, unsigned max_entries, struct vh_iotlb **out)
{
	struct vh_iotlb *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->max = max_entries ? max_entries : VH_IOTLB_DEFAULT_ENTRIES;
	t->e = calloc((size_t)t->max + 1, sizeof(t->e[0]));
	if (!t->e) {
		free(t);
		return -ENOMEM;
	}
	if (log)
		t->log = *log;
	vh_rwlock_init(&t->lock);
	vh_mutex_init(&t->miss_lock);
	*out = t;
	return 0;
}

void vh_iotlb_destroy(struct vh_iotlb **pt)
{
	struct vh_iotlb *t = pt ? *pt : NULL;

	if (!t)
		return;
	vh_rwlock_destroy(&t->lock);
	vh_mutex_destroy(&t->miss_lock);
	free(t->e);
	free(t);
	*pt = NULL;
}

unsigned vh_iotlb_count(struct vh_iotlb *t)
{
	unsigned n;

	vh_rwlock_rdlock(&t->lock);
	n = t->n;
	vh_rwlock_rdunlock(&t->lock);
	return n;
}

/* Index of the last entry with iova <= @addr, or -1. */
static int search(const struct vh_iotlb *t, uint64_t addr) VH_REQUIRES_SHARED(&t->lock)
{
	int lo = 0, hi = (int)t->n - 1, best = -1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;

		if (t->e[mid].iova <= addr) {
			best = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return best;
}

static void remove_at(struct vh_iotlb *t, unsigned i) VH_REQUIRES(&t->lock)
{
	memmove(&t->e[i], &t->e[i + 1], (t->n - i - 1) * sizeof(t->e[0]));
	t->n--;
}

static void insert_at(struct vh_iotlb *t, unsigned i, const struct vh_iotlb_entry *e)
    VH_REQUIRES(&t->lock)
{
	memmove(&t->e[i + 1], &t->e[i], (t->n - i) * sizeof(t->e[0]));
	t->e[i] = *e;
	t->n++;
}

/* Drop [start, last] (inclusive, no wrap) from every entry; locked by the caller. */
static void punch(struct vh_iotlb *t, uint64_t start, uint64_t last) VH_REQUIRES(&t->lock)
{
	int i = search(t, start);
	unsigned j = i < 0 ? 0 : (unsigned)i;

	while (j < t->n && t->e[j].iova <= last) {
		struct vh_iotlb_entry *e = &t->e[j];
		uint64_t e_last = e->iova + e->size - 1;

		if (e_last < start) {
			j++;
			continue;
		}
		if (e->iova < start && e_last > last) {
			/* Split: keep the head here, insert the tail after it. */
			struct vh_iotlb_entry tail = { .iova = last + 1,
						       .size = e_last - last,
						       .uva = e->uva + (last + 1 - e->iova),
						       .perm = e->perm };

			e->size = start - e->iova;
			insert_at(t, j + 1, &tail);
			return;
		}
		if (e->iova < start) {
			e->size = start - e->iova;
			j++;
		} else if (e_last > last) {
			e->uva += last + 1 - e->iova;
			e->size = e_last - last;
			e->iova = last + 1;
			return;
		} else {
			remove_at(t, j);
		}
	}
}

int vh_iotlb_update(struct vh_iotlb *t, uint64_t iova, uint64_t size, uint64_t uva, int perm)
{
	struct vh_iotlb_entry e = {
		.iova = iova, .size = size, .uva = uva, .perm = perm & VH_MEM_RW
	};
	uint64_t last, tmp;

	if (size == 0 || e.perm == 0) {
		vh_logf(&t->log, VH_LOG_ERR, "iotlb", "update iova 0x%" PRIx64 ": %s", iova,
			size ? "no access permission" : "empty range");
		return -EINVAL;
	}
	if (vh_add_overflows(iova, size - 1, &last) || vh_add_overflows(uva, size - 1, &tmp)) {
		vh_logf(&t->log, VH_LOG_ERR, "iotlb", "update iova 0x%" PRIx64 ": %s", iova,
			"range wraps");
		return -EOVERFLOW;
	}
	vh_rwlock_wrlock(&t->lock);
	punch(t, iova, last);
	/* Bounded cache: evict the lowest entries; a later miss brings them back. */
	while (t->n >= t->max)
		remove_at(t, 0);
	insert_at(t, (unsigned)(search(t, iova) + 1), &e);
	vh_rwlock_wrunlock(&t->lock);

	vh_mutex_lock(&t->miss_lock);
	if (t->miss_pending && t->miss_iova - iova <= size - 1 && (t->miss_perm & ~e.perm) == 0)
		t->miss_pending = false;
	vh_mutex_unlock(&t->miss_lock);
	return 0;
}

int vh_iotlb_invalidate(struct vh_iotlb *t, uint64_t iova, uint64_t size)
{
	uint64_t last;

	if (size == 0 || vh_add_overflows(iova, size - 1, &last))
		last = UINT64_MAX;
	vh_rwlock_wrlock(&t->lock);
	punch(t, iova, last);
	while (t->n > t->max)
		remove_at(t, 0);
	vh_rwlock_wrunlock(&t->lock);
	return 0;
}

static void record_miss(struct vh_iotlb *t, uint64_t iova, int perm) VH_EXCLUDES(&t->lock)
{
	vh_mutex_lock(&t->miss_lock);
	t->miss_pending = true;
	t->miss_iova = iova;
	t->miss_perm = perm;
	vh_mutex_unlock(&t->miss_lock);
}

int64_t vh_iotlb_lookup(struct vh_iotlb *t, uint64_t iova, uint64_t len, int perm, uint64_t *uva)
{
	const struct vh_iotlb_entry *e;
	int64_t got = -EAGAIN;
	int i;

	if (len == 0)
		return -EINVAL;
	vh_rwlock_rdlock(&t->lock);
	i = search(t, iova);
	if (i >= 0 && iova - t->e[i].iova < t->e[i].size) {
		e = &t->e[i];
		if ((perm & ~e->perm & VH_MEM_RW) != 0) {
			got = -EACCES;
		} else {
			uint64_t off = iova - e->iova;

			*uva = e->uva + off;
			got = (int64_t)VH_MIN(VH_MIN(len, e->size - off), (uint64_t)INT64_MAX);
		}
	}
	vh_rwlock_rdunlock(&t->lock);
	if (got == -EAGAIN)
		record_miss(t, iova, perm);
	return got;
}

int vh_iotlb_last_miss(struct vh_iotlb *t, uint64_t *iova, int *perm)
{
	int ret = 0;

	vh_mutex_lock(&t->miss_lock);
	if (t->miss_pending) {
		*iova = t->miss_iova;
		*perm = t->miss_perm;
		t->miss_pending = false;
		ret = 1;
	}
	vh_mutex_unlock(&t->miss_lock);
	return ret;
}
