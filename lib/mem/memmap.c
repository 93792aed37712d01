// SPDX-License-Identifier: BSD-3-Clause
/*
 * Backend memory map: regions received from the frontend, mapped and indexed so that a
 * descriptor's guest address is translated with a last-hit hint and a binary search, never a
 * scan of all VH_MEM_MAX_REGIONS regions.
 *
 * Concurrency: translations are pure readers of the sorted arrays. The only thing they write is
 * the hint (an index, relaxed atomics, validated before use, so any stale or racing value is
 * harmless). add/remove/clear need the rings quiesced (DESIGN.md: control messages that touch
 * memory quiesce the workers first).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include <vhost/mem.h>

#include "mem/memmap.h"
#include "util/util.h"

int vh_memmap_create(const struct vh_log_sink *log, struct vh_memmap **out)
{
	struct vh_memmap *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->hint = aligned_alloc(64, 64);
	if (!m->hint) {
		free(m);
		return -ENOMEM;
	}
	memset(m->hint, 0, 64);
	if (log)
		m->log = *log;
	*out = m;
	return 0;
}

static void unmap_slot(struct vh_memmap_slot *s)
{
	if (s->map_base)
		munmap(s->map_base, s->map_len);
	s->map_base = NULL;
}

void vh_memmap_clear(struct vh_memmap *m)
{
	for (unsigned i = 0; i < m->n; i++)
		unmap_slot(&m->slots[i]);
	m->n = 0;
}

void vh_memmap_destroy(struct vh_memmap **pm)
{
	struct vh_memmap *m = pm ? *pm : NULL;

	if (!m)
		return;
	vh_memmap_clear(m);
	free(m->hint);
	free(m);
	*pm = NULL;
}

unsigned vh_memmap_count(const struct vh_memmap *m)
{
	return m->n;
}

int vh_memmap_get(const struct vh_memmap *m, unsigned i, struct vh_mem_region *r)
{
	const struct vh_memmap_slot *s;

	if (i >= m->n)
		return -ENOENT;
	s = &m->slots[i];
	*r = (struct vh_mem_region){ .gpa = s->gpa,
				     .size = s->size,
				     .uva = s->uva,
				     .mmap_offset = s->mmap_offset,
				     .fd = s->fd,
				     .host = s->host };
	return 0;
}

void vh_memmap_set_iotlb(struct vh_memmap *m, struct vh_iotlb *iotlb)
{
	m->iotlb = iotlb;
}

/* Page size of the file behind @fd: the huge page size on hugetlbfs, else the base page. */
static uint64_t fd_page_size(int fd)
{
	struct statfs fs;
	long pg = sysconf(_SC_PAGESIZE);

	if (fstatfs(fd, &fs) == 0 && (unsigned long)fs.f_type == HUGETLBFS_MAGIC &&
	    fs.f_bsize > 0 && vh_is_pow2((uint64_t)fs.f_bsize))
		return (uint64_t)fs.f_bsize;
	return pg > 0 ? (uint64_t)pg : 4096;
}

static int map_fd(struct vh_memmap *m, const struct vh_mem_region *r, struct vh_memmap_slot *s)
{
	struct stat st;
	uint64_t pg, start, delta, len, end;
	void *p;

	if (fstat(r->fd, &st) < 0) {
		int err = -errno;

		vh_logf(&m->log, VH_LOG_ERR, "memmap", "add region 0x%" PRIx64 ": fstat: %s",
			r->gpa, strerror(-err));
		return err;
	}
	end = r->mmap_offset + r->size; /* overflow checked by the caller */
	/* Mapping past EOF would turn a guest access into SIGBUS for the whole backend. */
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < end) {
		vh_logf(&m->log, VH_LOG_ERR, "memmap",
			"add region 0x%" PRIx64 ": fd has %lld bytes, region ends at 0x%" PRIx64
			": %s",
			r->gpa, (long long)st.st_size, end, strerror(EINVAL));
		return -EINVAL;
	}
	pg = fd_page_size(r->fd);
	start = r->mmap_offset & ~(pg - 1);
	delta = r->mmap_offset - start;
	if (vh_add_overflows(r->size, delta + pg - 1, &len) || len > SIZE_MAX)
		return -EOVERFLOW;
	len &= ~(pg - 1);
	p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, r->fd,
		 (off_t)start);
	if (p == MAP_FAILED) {
		int err = -errno;

		vh_logf(&m->log, VH_LOG_ERR, "memmap", "add region 0x%" PRIx64 ": mmap: %s", r->gpa,
			strerror(-err));
		return err;
	}
	s->map_base = p;
	s->map_len = (size_t)len;
	s->host = (uint8_t *)p + delta;
	s->dev = (uint64_t)st.st_dev;
	s->ino = (uint64_t)st.st_ino;
	return 0;
}

/*
 * Index of the last slot whose gpa is <= @addr, or -1. Branchless (the comparison feeds a
 * conditional move): descriptors of one chain land in unrelated regions, so a branchy search
 * mispredicts at almost every step.
 */
static int search_gpa(const struct vh_memmap *m, uint64_t addr)
{
	const struct vh_memmap_slot *base = m->slots;
	unsigned n = m->n;

	if (!n)
		return -1;
	while (n > 1) {
		unsigned half = n / 2;

		base = base[half].gpa <= addr ? base + half : base;
		n -= half;
	}
	return base->gpa <= addr ? (int)(base - m->slots) : -1;
}

/* Same over the uva index: position in by_uva of the last slot with uva <= @addr, or -1. */
static int search_uva(const struct vh_memmap *m, uint64_t addr)
{
	const uint16_t *base = m->by_uva;
	unsigned n = m->n;

	if (!n)
		return -1;
	while (n > 1) {
		unsigned half = n / 2;

		base = m->slots[base[half]].uva <= addr ? base + half : base;
		n -= half;
	}
	return m->slots[*base].uva <= addr ? (int)(base - m->by_uva) : -1;
}

static int search_host(const struct vh_memmap *m, uintptr_t addr)
{
	const uint16_t *base = m->by_host;
	unsigned n = m->n;

	if (!n)
		return -1;
	while (n > 1) {
		unsigned half = n / 2;

		base = (uintptr_t)m->slots[base[half]].host <= addr ? base + half : base;
		n -= half;
	}
	return (uintptr_t)m->slots[*base].host <= addr ? (int)(base - m->by_host) : -1;
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	/* Both ranges are non-empty and do not wrap (checked on entry). */
	return a <= b + (blen - 1) && b <= a + (alen - 1);
}

/* Why @r cannot be added, or NULL; *@err receives the errno. */
static const char *check_region(struct vh_memmap *m, const struct vh_mem_region *r, int *err)
{
	uint64_t end;
	int i;

	*err = -EINVAL;
	if (r->size == 0)
		return "empty region";
	if (r->fd < 0 && !r->host)
		return "no fd and no host address";
	*err = -EOVERFLOW;
	if (vh_add_overflows(r->gpa, r->size - 1, &end) ||
	    vh_add_overflows(r->uva, r->size - 1, &end) ||
	    (r->fd >= 0 && vh_add_overflows(r->mmap_offset, r->size, &end)) ||
	    (r->fd < 0 && vh_add_overflows((uintptr_t)r->host, r->size - 1, &end)))
		return "range wraps";
	*err = -ENOSPC;
	if (m->n >= VH_MEM_MAX_REGIONS)
		return "all memory slots are used";
	*err = -EINVAL;
	i = search_gpa(m, r->gpa + r->size - 1);
	if (i >= 0 && ranges_overlap(m->slots[i].gpa, m->slots[i].size, r->gpa, r->size))
		return "guest addresses overlap a mapped region";
	i = search_uva(m, r->uva + r->size - 1);
	if (i >= 0) {
		const struct vh_memmap_slot *s = &m->slots[m->by_uva[i]];

		if (ranges_overlap(s->uva, s->size, r->uva, r->size))
			return "frontend addresses overlap a mapped region";
	}
	*err = 0;
	return NULL;
}

static int cmp_uva(const void *a, const void *b, void *arg)
{
	const struct vh_memmap *m = arg;
	uint64_t x = m->slots[*(const uint16_t *)a].uva, y = m->slots[*(const uint16_t *)b].uva;

	return x < y ? -1 : x > y;
}

static int cmp_host(const void *a, const void *b, void *arg)
{
	const struct vh_memmap *m = arg;
	uintptr_t x = (uintptr_t)m->slots[*(const uint16_t *)a].host;
	uintptr_t y = (uintptr_t)m->slots[*(const uint16_t *)b].host;

	return x < y ? -1 : x > y;
}

static void reindex(struct vh_memmap *m)
{
	for (unsigned i = 0; i < m->n; i++) {
		m->by_uva[i] = (uint16_t)i;
		m->by_host[i] = (uint16_t)i;
	}
	qsort_r(m->by_uva, m->n, sizeof(m->by_uva[0]), cmp_uva, m);
	qsort_r(m->by_host, m->n, sizeof(m->by_host[0]), cmp_host, m);
	__atomic_store_n(&m->hint->gpa, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&m->hint->uva, 0, __ATOMIC_RELAXED);
}

/*
 * The slot that maps exactly @r (same guest and front-end addresses, size, offset and backing
 * file, or host address), or NULL. fstat only when the addresses already agree.
 */
static struct vh_memmap_slot *find_same(struct vh_memmap *m, const struct vh_mem_region *r)
{
	int i = search_gpa(m, r->gpa);
	struct vh_memmap_slot *s;
	struct stat st;

	if (i < 0)
		return NULL;
	s = &m->slots[i];
	if (s->gpa != r->gpa || s->size != r->size || s->uva != r->uva ||
	    s->mmap_offset != r->mmap_offset)
		return NULL;
	if (r->fd < 0)
		return !s->map_base && s->host == r->host ? s : NULL;
	if (!s->map_base || fstat(r->fd, &st) < 0 || (uint64_t)st.st_dev != s->dev ||
	    (uint64_t)st.st_ino != s->ino)
		return NULL;
	return s;
}

int vh_memmap_add(struct vh_memmap *m, const struct vh_mem_region *r)
{
	struct vh_memmap_slot s = { 0 }, *same;
	int pos, err;
	const char *why;

	/*
	 * vhost-user.rst: a front-end with several vhost devices on one connection (QEMU's
	 * vhost-user-net, one per queue pair) sends each ADD_MEM_REG once per device. The same
	 * region again is not an error: it is counted, and unmapped at its last REM_MEM_REG.
	 */
	same = r->size ? find_same(m, r) : NULL;
	if (same) {
		same->refs++;
		return 0;
	}
	why = check_region(m, r, &err);
	if (why) {
		vh_logf(&m->log, VH_LOG_ERR, "memmap",
			"add region gpa 0x%" PRIx64 " size 0x%" PRIx64 " uva 0x%" PRIx64 ": %s: %s",
			r->gpa, r->size, r->uva, why, strerror(-err));
		return err;
	}
	s.gpa = r->gpa;
	s.size = r->size;
	s.uva = r->uva;
	s.mmap_offset = r->mmap_offset;
	s.fd = r->fd;
	if (r->fd >= 0) {
		err = map_fd(m, r, &s);
		if (err < 0)
			return err;
	} else {
		s.host = r->host;
	}
	s.refs = 1;
	pos = search_gpa(m, r->gpa) + 1;
	memmove(&m->slots[pos + 1], &m->slots[pos], (m->n - (unsigned)pos) * sizeof(s));
	m->slots[pos] = s;
	m->n++;
	reindex(m);
	return 0;
}

int vh_memmap_remove(struct vh_memmap *m, uint64_t gpa, uint64_t size)
{
	int i = search_gpa(m, gpa);

	if (i < 0 || m->slots[i].gpa != gpa || m->slots[i].size != size) {
		vh_logf(&m->log, VH_LOG_ERR, "memmap",
			"remove region gpa 0x%" PRIx64 " size 0x%" PRIx64 ": no such region: %s",
			gpa, size, strerror(ENOENT));
		return -ENOENT;
	}
	if (--m->slots[i].refs)
		return 0;
	unmap_slot(&m->slots[i]);
	memmove(&m->slots[i], &m->slots[i + 1], (m->n - (unsigned)i - 1) * sizeof(m->slots[0]));
	m->n--;
	reindex(m);
	return 0;
}

const struct vh_memmap_slot *vh_memmap_find_gpa(const struct vh_memmap *m, uint64_t addr)
{
	const struct vh_memmap_slot *s = vh_memmap_hint_gpa(m, addr);
	int i;

	if (vh_likely(s != NULL))
		return s;
	i = search_gpa(m, addr);
	if (i < 0 || addr - m->slots[i].gpa >= m->slots[i].size)
		return NULL;
	__atomic_store_n(&m->hint->gpa, (unsigned)i, __ATOMIC_RELAXED);
	return &m->slots[i];
}

const struct vh_memmap_slot *vh_memmap_find_uva(const struct vh_memmap *m, uint64_t addr)
{
	unsigned h = __atomic_load_n(&m->hint->uva, __ATOMIC_RELAXED);
	const struct vh_memmap_slot *s;
	int i;

	if (vh_likely(h < m->n)) {
		s = &m->slots[h];
		if (addr - s->uva < s->size)
			return s;
	}
	i = search_uva(m, addr);
	if (i < 0)
		return NULL;
	s = &m->slots[m->by_uva[i]];
	if (addr - s->uva >= s->size)
		return NULL;
	__atomic_store_n(&m->hint->uva, m->by_uva[i], __ATOMIC_RELAXED);
	return s;
}

const struct vh_memmap_slot *vh_memmap_find_host(const struct vh_memmap *m, uintptr_t addr)
{
	const struct vh_memmap_slot *s;
	int i = search_host(m, addr);

	if (i < 0)
		return NULL;
	s = &m->slots[m->by_host[i]];
	if (addr - (uintptr_t)s->host >= s->size)
		return NULL;
	return s;
}

void *vh_memmap_gpa_to_host(const struct vh_memmap *m, uint64_t gpa, uint64_t len)
{
	const struct vh_memmap_slot *s = vh_memmap_find_gpa(m, gpa);
	uint64_t off;

	if (!s)
		return NULL;
	off = gpa - s->gpa;
	/* off < size, so size - off cannot underflow: no addition that could wrap. */
	if (VH_MAX(len, 1) > s->size - off)
		return NULL;
	return s->host + off;
}

void *vh_memmap_uva_to_host(const struct vh_memmap *m, uint64_t uva, uint64_t len)
{
	const struct vh_memmap_slot *s = vh_memmap_find_uva(m, uva);
	uint64_t off;

	if (!s)
		return NULL;
	off = uva - s->uva;
	if (VH_MAX(len, 1) > s->size - off)
		return NULL;
	return s->host + off;
}

int vh_memmap_host_to_gpa(const struct vh_memmap *m, const void *host, uint64_t *gpa)
{
	const struct vh_memmap_slot *s = vh_memmap_find_host(m, (uintptr_t)host);

	if (!s)
		return -EFAULT;
	*gpa = s->gpa + (uint64_t)((const uint8_t *)host - s->host);
	return 0;
}
