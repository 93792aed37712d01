// SPDX-License-Identifier: BSD-3-Clause
/*
 * Frontend memory table: the regions shown to the device, built the way the seed's
 * vhost_region_add_section()/vhost_commit() do it. Sections arrive in guest-address order;
 * vhost-user ones are widened to their backing page size (a backend mmap()s whole pages, and
 * hugetlbfs refuses anything else), so neighbours can end up overlapping: that is fine when both
 * come from the same mapping (merged), and refused otherwise. The committed table is diffed
 * against the previous one for ADD_MEM_REG / REM_MEM_REG (CONFIGURE_MEM_SLOTS).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <vhost/mem.h>

#include "util/util.h"

struct vh_memtable_vec {
	struct vh_memtable_region *r;
	unsigned n, cap;
};

struct vh_memtable {
	char *name;
	unsigned max_regions;
	uint32_t flags;
	struct vh_log_sink log;
	struct vh_memtable_vec cur, tmp, added, removed;
	struct vh_memtable_vec prev; /* the table before the last commit (vh_memtable_revert()) */
	bool can_revert;
	int tmp_err; /* first error of the open batch */
};

static int vec_push(struct vh_memtable_vec *v, const struct vh_memtable_region *r)
{
	if (v->n == v->cap) {
		unsigned cap = v->cap ? v->cap * 2 : 16;
		struct vh_memtable_region *p = realloc(v->r, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		v->r = p;
		v->cap = cap;
	}
	v->r[v->n++] = *r;
	return 0;
}

int vh_memtable_create(const struct vh_memtable_config *cfg, struct vh_memtable **out)
{
	struct vh_memtable *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->name = strdup(cfg && cfg->name ? cfg->name : "memtable");
	if (!t->name) {
		free(t);
		return -ENOMEM;
	}
	if (cfg) {
		t->flags = cfg->flags;
		t->log = cfg->log;
		t->max_regions = cfg->max_regions;
	}
	if (!t->max_regions)
		t->max_regions = VH_MEM_MAX_REGIONS;
	*out = t;
	return 0;
}

void vh_memtable_destroy(struct vh_memtable **pt)
{
	struct vh_memtable *t = pt ? *pt : NULL;

	if (!t)
		return;
	free(t->cur.r);
	free(t->tmp.r);
	free(t->added.r);
	free(t->removed.r);
	free(t->prev.r);
	free(t->name);
	free(t);
	*pt = NULL;
}

void vh_memtable_set_max_regions(struct vh_memtable *t, unsigned max)
{
	t->max_regions = max ? max : VH_MEM_MAX_REGIONS;
}

void vh_memtable_begin(struct vh_memtable *t)
{
	t->tmp.n = 0;
	t->tmp_err = 0;
}

static int refuse(struct vh_memtable *t, const struct vh_memtable_region *r, int err,
		  const char *what)
{
	vh_logf(&t->log, VH_LOG_ERR, t->name,
		"add region gpa 0x%" PRIx64 " size 0x%" PRIx64 ": %s: %s", r->gpa, r->size, what,
		strerror(-err));
	if (!t->tmp_err)
		t->tmp_err = err;
	return err;
}

/* Widen @r to whole pages of its backing (vhost-user). */
static int align_region(struct vh_memtable *t, struct vh_memtable_region *r)
{
	uint64_t pg = r->page_size, head = r->host & (pg - 1), end;

	if (head) {
		if (r->gpa < head || (r->fd >= 0 && r->fd_offset < head))
			return refuse(t, r, -EINVAL, "cannot round down to the page size");
		r->host -= head;
		r->gpa -= head;
		r->size += head;
		if (r->fd >= 0)
			r->fd_offset -= head;
	}
	if (r->size & (pg - 1)) {
		if (vh_add_overflows(r->size, pg - (r->size & (pg - 1)), &r->size) ||
		    vh_add_overflows(r->gpa, r->size - 1, &end) ||
		    vh_add_overflows(r->host, r->size - 1, &end))
			return refuse(t, r, -EOVERFLOW, "rounding to the page size wraps");
	}
	return 0;
}

static int check_region(struct vh_memtable *t, const struct vh_memtable_region *r)
{
	uint64_t end;

	if (r->size == 0)
		return refuse(t, r, -EINVAL, "empty region");
	if (!vh_is_pow2(r->page_size))
		return refuse(t, r, -EINVAL, "page size is not a power of two");
	if (vh_add_overflows(r->gpa, r->size - 1, &end) ||
	    vh_add_overflows(r->host, r->size - 1, &end) ||
	    (r->fd >= 0 && vh_add_overflows(r->fd_offset, r->size - 1, &end)))
		return refuse(t, r, -EOVERFLOW, "range wraps");
	return 0;
}

/* Same backing mapping at the same relative position: merging loses nothing. */
static bool coherent(const struct vh_memtable_region *prev, const struct vh_memtable_region *r)
{
	uint64_t off = r->gpa - prev->gpa;

	return prev->fd == r->fd && prev->host + off == r->host &&
	       prev->page_size == r->page_size && prev->flags == r->flags &&
	       (r->fd < 0 || prev->fd_offset + off == r->fd_offset);
}

int vh_memtable_add_region(struct vh_memtable *t, const struct vh_memtable_region *in)
{
	struct vh_memtable_region r = *in, *prev;
	uint64_t prev_last, last;
	int err;

	if (r.flags & VH_MEMTABLE_DEVICE_INVISIBLE)
		return 0;
	if ((r.flags & VH_MEMTABLE_READONLY) && (t->flags & VH_MEMTABLE_DROP_READONLY))
		return 0;
	if (!r.page_size)
		r.page_size = 4096;
	err = check_region(t, &r);
	if (!err && (t->flags & VH_MEMTABLE_ALIGN_PAGES))
		err = align_region(t, &r);
	if (err < 0)
		return err;
	if (!t->tmp.n)
		return vec_push(&t->tmp, &r);
	prev = &t->tmp.r[t->tmp.n - 1];
	prev_last = prev->gpa + prev->size - 1;
	if (r.gpa > prev_last && r.gpa - prev_last > 1)
		return vec_push(&t->tmp, &r); /* a hole in between: a new region */
	if (r.gpa < prev->gpa)
		return refuse(t, &r, -EINVAL, "out of order with the previous region");
	if (coherent(prev, &r)) {
		last = r.gpa + r.size - 1;
		prev->size = VH_MAX(prev_last, last) - prev->gpa + 1;
		return 0;
	}
	if (r.gpa != prev_last + 1)
		return refuse(t, &r, -EINVAL,
			      "overlapping but not coherent with the previous region");
	return vec_push(&t->tmp, &r);
}

static bool region_eq(const struct vh_memtable_region *a, const struct vh_memtable_region *b)
{
	return a->gpa == b->gpa && a->size == b->size && a->host == b->host && a->fd == b->fd &&
	       a->fd_offset == b->fd_offset && a->page_size == b->page_size && a->flags == b->flags;
}

/* Both tables are sorted by gpa and non-overlapping: one merge walk finds the difference. */
static int diff(struct vh_memtable *t, const struct vh_memtable_vec *old,
		const struct vh_memtable_vec *new)
{
	unsigned i = 0, j = 0;
	int err = 0;

	t->added.n = 0;
	t->removed.n = 0;
	while (!err && (i < old->n || j < new->n)) {
		if (i < old->n && j < new->n &&region_eq(&old->r[i], &new->r[j])) {
			i++;
			j++;
		} else if (j == new->n || (i < old->n && old->r[i].gpa <= new->r[j].gpa)) {
			err = vec_push(&t->removed, &old->r[i++]);
		} else {
			err = vec_push(&t->added, &new->r[j++]);
		}
	}
	return err;
}

int vh_memtable_commit(struct vh_memtable *t, struct vh_memtable_diff *out)
{
	struct vh_memtable_vec swap;
	int err = t->tmp_err;

	if (err < 0)
		return err; /* already logged where it was found */
	if (t->tmp.n > t->max_regions) {
		vh_logf(&t->log, VH_LOG_ERR, t->name,
			"commit memory table: %u regions, the backend has %u slots: %s", t->tmp.n,
			t->max_regions, strerror(ENOSPC));
		return -ENOSPC;
	}
	err = diff(t, &t->cur, &t->tmp);
	if (err < 0)
		return err;
	/* prev <- cur <- tmp; the old prev's buffer holds the next batch. */
	swap = t->prev;
	t->prev = t->cur;
	t->cur = t->tmp;
	t->tmp = swap;
	t->tmp.n = 0;
	t->can_revert = true;
	if (out) {
		out->n_added = t->added.n;
		out->n_removed = t->removed.n;
		out->changed = t->added.n || t->removed.n;
	}
	return 0;
}

int vh_memtable_revert(struct vh_memtable *t)
{
	struct vh_memtable_vec swap;

	if (!t->can_revert)
		return -EINVAL;
	swap = t->cur;
	t->cur = t->prev;
	t->prev = swap;
	swap = t->added;
	t->added = t->removed;
	t->removed = swap;
	t->can_revert = false;
	return 0;
}

unsigned vh_memtable_count(const struct vh_memtable *t)
{
	return t->cur.n;
}

const struct vh_memtable_region *vh_memtable_region(const struct vh_memtable *t, unsigned i)
{
	return i < t->cur.n ? &t->cur.r[i] : NULL;
}

const struct vh_memtable_region *vh_memtable_added(const struct vh_memtable *t, unsigned i)
{
	return i < t->added.n ? &t->added.r[i] : NULL;
}

const struct vh_memtable_region *vh_memtable_removed(const struct vh_memtable *t, unsigned i)
{
	return i < t->removed.n ? &t->removed.r[i] : NULL;
}

bool vh_memtable_has_free_slot(const struct vh_memtable *t)
{
	return t->cur.n < t->max_regions;
}

uint64_t vh_memtable_end(const struct vh_memtable *t)
{
	uint64_t end = 0;

	/* The last region ends highest (sorted, non-overlapping); saturate at the top. */
	if (t->cur.n) {
		const struct vh_memtable_region *r = &t->cur.r[t->cur.n - 1];

		if (vh_add_overflows(r->gpa, r->size, &end))
			end = UINT64_MAX;
	}
	return end;
}

uint64_t vh_memtable_lookup_host(const struct vh_memtable *t, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < t->cur.n; i++) {
		const struct vh_memtable_region *r = &t->cur.r[i];
		uint64_t off = gpa - r->gpa;

		if (off < r->size && VH_MAX(len, 1) <= r->size - off)
			return r->host + off;
	}
	return 0;
}
