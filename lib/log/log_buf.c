// SPDX-License-Identifier: BSD-3-Clause
/*
 * Frontend side of the dirty log: the buffer the peer writes into, its resizing and the sync
 * that collects it. One object per device (no process-wide log, unlike the seed's static
 * vhost_log: two devices on different transports must not share a log by accident).
 *
 * Resizing keeps the previous buffer mapped until the caller says the peer switched to the new
 * one (vh_log_buf_drop_old()): until the peer has processed SET_LOG_BASE it still writes the old
 * buffer, and sync keeps collecting both, so no dirty page is lost in the switch.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vhost/log.h>
#include <vhost/mem.h>

#include "util/util.h"

struct vh_log_mem {
	uint64_t *words;
	size_t nwords;
	int fd;
};

struct vh_log_buf {
	char *name;
	uint32_t flags;
	struct vh_log_sink log;
	struct vh_log_mem cur, old;
};

uint64_t vh_log_bytes_for(const struct vh_memtable *t, const struct vh_log_range *rings, unsigned n)
{
	uint64_t end = t ? vh_memtable_end(t) : 0, pages, e;

	for (unsigned i = 0; i < n; i++) {
		if (!rings[i].size)
			continue;
		if (vh_add_overflows(rings[i].gpa, rings[i].size, &e))
			e = UINT64_MAX;
		end = VH_MAX(end, e);
	}
	/* Pages needed: ceil(end / page); bytes: ceil(pages / 64) words of 8 bytes. */
	pages = end / VH_LOG_PAGE_SIZE + !!(end % VH_LOG_PAGE_SIZE);
	return (pages / 64 + !!(pages % 64)) * 8;
}

static void mem_free(struct vh_log_mem *m)
{
	if (m->words)
		munmap(m->words, m->nwords * 8);
	if (m->fd >= 0)
		close(m->fd);
	m->words = NULL;
	m->nwords = 0;
	m->fd = -1;
}

static int mem_alloc(struct vh_log_buf *l, uint64_t bytes, struct vh_log_mem *m)
{
	const char *what = "mmap";
	size_t len;
	void *p;
	int flags = MAP_SHARED;

	m->fd = -1;
	if (bytes == 0 || bytes > SIZE_MAX - 7)
		return -EINVAL;
	len = (size_t)((bytes + 7) & ~(uint64_t)7);
	if (!(l->flags & VH_LOG_BUF_KERNEL)) {
		/* Sealed so the peer can trust the size it maps (and we can trust it too). */
		m->fd = memfd_create(l->name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (m->fd < 0)
			what = "memfd_create";
		else if (ftruncate(m->fd, (off_t)len) < 0)
			what = "ftruncate";
		else if (fcntl(m->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
			what = "seal";
		else
			what = "mmap";
		if (strcmp(what, "mmap") != 0)
			goto fail;
	} else {
		flags = MAP_PRIVATE | MAP_ANONYMOUS;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, m->fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	m->words = p;
	m->nwords = len / 8;
	return 0;
fail : {
	int err = -errno;

	vh_logf(&l->log, VH_LOG_ERR, l->name, "allocate dirty log of %zu bytes: %s: %s", len, what,
		strerror(-err));
	mem_free(m);
	return err;
}
}

int vh_log_buf_create(const struct vh_log_buf_config *cfg, uint64_t bytes, struct vh_log_buf **out)
{
	struct vh_log_buf *l = calloc(1, sizeof(*l));
	int err;

	if (!l)
		return -ENOMEM;
	l->cur.fd = l->old.fd = -1;
	l->name = strdup(cfg && cfg->name ? cfg->name : "vhost-log");
	if (!l->name) {
		free(l);
		return -ENOMEM;
	}
	if (cfg) {
		l->flags = cfg->flags;
		l->log = cfg->log;
	}
	err = mem_alloc(l, bytes, &l->cur);
	if (err < 0) {
		free(l->name);
		free(l);
		return err;
	}
	*out = l;
	return 0;
}

void vh_log_buf_destroy(struct vh_log_buf **pl)
{
	struct vh_log_buf *l = pl ? *pl : NULL;

	if (!l)
		return;
	mem_free(&l->cur);
	mem_free(&l->old);
	free(l->name);
	free(l);
	*pl = NULL;
}

int vh_log_buf_fd(const struct vh_log_buf *l)
{
	return l->cur.fd;
}

void *vh_log_buf_addr(const struct vh_log_buf *l)
{
	return l->cur.words;
}

uint64_t vh_log_buf_size(const struct vh_log_buf *l)
{
	return (uint64_t)l->cur.nwords * 8;
}

/* Take word @i of @m: zero words are skipped without a locked instruction. */
static inline uint64_t take(struct vh_log_mem *m, size_t i)
{
	if (i >= m->nwords || !__atomic_load_n(&m->words[i], __ATOMIC_RELAXED))
		return 0;
	return __atomic_exchange_n(&m->words[i], 0, __ATOMIC_ACQUIRE);
}

/* Fold the old buffer's bits into the new one, as far as the new one reaches. */
static void fold_old(struct vh_log_buf *l)
{
	size_t n = VH_MIN(l->old.nwords, l->cur.nwords);

	for (size_t i = 0; i < n; i++) {
		uint64_t v = take(&l->old, i);

		if (v)
			__atomic_fetch_or(&l->cur.words[i], v, __ATOMIC_RELEASE);
	}
}

void vh_log_buf_drop_old(struct vh_log_buf *l)
{
	if (!l->old.words)
		return;
	fold_old(l);
	mem_free(&l->old);
}

int vh_log_buf_resize(struct vh_log_buf *l, uint64_t bytes)
{
	struct vh_log_mem m;
	int err;

	if (bytes && ((bytes + 7) & ~(uint64_t)7) == (uint64_t)l->cur.nwords * 8)
		return 0;
	err = mem_alloc(l, bytes, &m);
	if (err < 0)
		return err;
	/* A resize before the previous switch completed: the oldest buffer is folded now. */
	vh_log_buf_drop_old(l);
	l->old = l->cur;
	l->cur = m;
	fold_old(l);
	return 0;
}

/* The log is a little-endian bit array of bytes; on big-endian hosts words need a swap. */
static inline uint64_t le(uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return __builtin_bswap64(v);
#else
	return v;
#endif
}

/* Take 8 words (one cache line) into @bitmap; the caller saw at least one of them set. */
static inline int64_t take_line(uint64_t *w, uint64_t *bitmap)
{
	int64_t count = 0;

	/*
	 * No per-word test: at sparse densities about half the words of a dirty line are zero
	 * and a branch on each mispredicts; an unconditional exchange costs the same as the
	 * mispredict and bounds the worst case (every word dirty).
	 */
	for (unsigned k = 0; k < 8; k++) {
		uint64_t v = le(__atomic_exchange_n(&w[k], 0, __ATOMIC_ACQUIRE));

		bitmap[k] |= v;
		count += __builtin_popcountll(v);
	}
	return count;
}

static int64_t sync_words(struct vh_log_buf *l, uint64_t *bitmap, size_t full)
{
	int64_t count = 0;
	size_t n = VH_MIN(full, l->cur.nwords), i = 0;
	uint64_t *w = l->cur.words;

	/* Hot loop: plain loads skip clean cache lines without a locked instruction. */
	for (; i + 8 <= n; i += 8) {
		uint64_t any = 0;

		for (unsigned k = 0; k < 8; k++)
			any |= __atomic_load_n(&w[i + k], __ATOMIC_RELAXED);
		if (vh_likely(!any))
			continue;
		count += take_line(&w[i], &bitmap[i]);
	}
	for (; i < n; i++) {
		uint64_t v = le(take(&l->cur, i));

		bitmap[i] |= v;
		count += __builtin_popcountll(v);
	}
	n = VH_MIN(full, l->old.nwords);
	for (i = 0; i < n; i++) {
		uint64_t v = le(take(&l->old, i));

		bitmap[i] |= v;
		count += __builtin_popcountll(v);
	}
	return count;
}

/* Bits [0, rem) of word @i only: the rest stays in the log for a wider bitmap. */
static int64_t sync_partial(struct vh_log_mem *m, size_t i, unsigned rem, uint64_t *dst)
{
	uint64_t mask = le((1ull << rem) - 1), v;

	if (i >= m->nwords)
		return 0;
	v = le(__atomic_fetch_and(&m->words[i], ~mask, __ATOMIC_ACQUIRE) & mask);
	*dst |= v;
	return __builtin_popcountll(v);
}

int64_t vh_log_buf_sync(struct vh_log_buf *l, uint64_t *bitmap, size_t bits)
{
	size_t full = bits / 64;
	unsigned rem = bits % 64;
	int64_t count = sync_words(l, bitmap, full);

	if (rem) {
		count += sync_partial(&l->cur, full, rem, &bitmap[full]);
		count += sync_partial(&l->old, full, rem, &bitmap[full]);
	}
	return count;
}

struct vh_log_run {
	vh_log_run_fn fn;
	void *opaque;
	uint64_t first, n;
};

static void run_add(struct vh_log_run *r, uint64_t page)
{
	if (r->n && r->first + r->n == page) {
		r->n++;
		return;
	}
	if (r->n)
		r->fn(r->opaque, r->first, r->n);
	r->first = page;
	r->n = 1;
}

int64_t vh_log_buf_sync_cb(struct vh_log_buf *l, vh_log_run_fn fn, void *opaque)
{
	struct vh_log_run run = { .fn = fn, .opaque = opaque };
	size_t n = VH_MAX(l->cur.nwords, l->old.nwords);
	int64_t count = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t v = le(take(&l->cur, i) | take(&l->old, i));

		count += __builtin_popcountll(v);
		while (v) {
			unsigned bit = (unsigned)__builtin_ctzll(v);

			run_add(&run, (uint64_t)i * 64 + bit);
			v &= v - 1;
		}
	}
	if (run.n)
		fn(opaque, run.first, run.n);
	return count;
}
