/* SPDX-License-Identifier: BSD-3-Clause */
/* Private to mem/ and log/: one mapped region of the backend map and the lookups. */
#ifndef VH_MEM_MEMMAP_H
#define VH_MEM_MEMMAP_H

#include <stddef.h>
#include <stdint.h>

#include <vhost/log.h>
#include <vhost/mem.h>

struct vh_memmap_slot {
	uint64_t gpa;
	uint64_t size;
	uint64_t uva;
	uint64_t mmap_offset;
	uint8_t *host;	/* address of gpa */
	void *map_base; /* our mmap (NULL when the caller mapped it) */
	size_t map_len;
	int fd;
	unsigned refs; /* identical ADD_MEM_REGs received (vh_memmap_add()) */
	uint64_t dev;  /* the backing file (fd >= 0): st_dev, st_ino */
	uint64_t ino;
};

/* Hints live in their own allocation so const readers can update them without casts. */
struct vh_memmap_hint {
	unsigned gpa;
	unsigned uva;
};

struct vh_memmap {
	struct vh_log_sink log;
	struct vh_iotlb *iotlb;
	struct vh_memmap_hint *hint;
	unsigned n;
	struct vh_memmap_slot slots[VH_MEM_MAX_REGIONS]; /* sorted by gpa */
	uint16_t by_uva[VH_MEM_MAX_REGIONS];		 /* slot indices sorted by uva */
	uint16_t by_host[VH_MEM_MAX_REGIONS];		 /* slot indices sorted by host */
};

/* The slot of the last gpa hit if it contains @addr, else NULL (the translation fast path). */
static inline const struct vh_memmap_slot *vh_memmap_hint_gpa(const struct vh_memmap *m,
							      uint64_t addr)
{
	unsigned h = __atomic_load_n(&m->hint->gpa, __ATOMIC_RELAXED);

	if (__builtin_expect(h < m->n, 1) && addr - m->slots[h].gpa < m->slots[h].size)
		return &m->slots[h];
	return NULL;
}

static inline struct vh_iotlb *vh_memmap_iotlb(const struct vh_memmap *m)
{
	return m->iotlb;
}

/* The slot containing @addr (by gpa, uva or host address), or NULL. Readers only. */
const struct vh_memmap_slot *vh_memmap_find_gpa(const struct vh_memmap *m, uint64_t addr);
const struct vh_memmap_slot *vh_memmap_find_uva(const struct vh_memmap *m, uint64_t addr);
const struct vh_memmap_slot *vh_memmap_find_host(const struct vh_memmap *m, uintptr_t addr);

#endif
