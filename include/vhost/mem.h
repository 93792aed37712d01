/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvhost mem/: guest memory tables.
 *
 * Frontend side: struct vh_memtable builds the table sent with SET_MEM_TABLE or
 * ADD_MEM_REG/REM_MEM_REG (merge neighbours, align to the backing page size, filter, diff).
 * Backend side: struct vh_memmap maps the regions received from the frontend and translates
 * guest addresses (GPA, frontend virtual addresses, or IOVA through struct vh_iotlb) into host
 * pointers with full-range checks.
 */
#ifndef VHOST_MEM_H
#define VHOST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <vhost/common.h>

/* Access wanted by a translation (IOTLB permissions use the same bits). */
#define VH_MEM_READ  (1 << 0)
#define VH_MEM_WRITE (1 << 1)
#define VH_MEM_RW    (VH_MEM_READ | VH_MEM_WRITE)

/* Upper bound of regions one backend map holds (libvhost-user's VHOST_USER_MAX_RAM_SLOTS). */
#define VH_MEM_MAX_REGIONS 509

/* ------------------------------------------------------------------------------------------ */
/* Backend side: the mapped table.                                                             */
/* ------------------------------------------------------------------------------------------ */

/** struct vh_mem_region - one region as the frontend describes it. */
struct vh_mem_region {
	uint64_t gpa;	      /* guest physical address of the start */
	uint64_t size;	      /* bytes, > 0 */
	uint64_t uva;	      /* frontend's virtual address (vhost-user ring addresses use it) */
	uint64_t mmap_offset; /* offset of gpa inside fd */
	int fd;		      /* backing fd, or -1 when host is already mapped */
	void *host;	      /* in: already-mapped address of gpa when fd == -1 */
};

struct vh_memmap;
struct vh_iotlb;

/**
 * vh_memmap_create() - create an empty backend memory map.
 * @log: log sink (copied; NULL: stderr).
 * @out: receives the map.
 *
 * Return: 0, or -ENOMEM. Thread: any.
 */
VH_API int vh_memmap_create(const struct vh_log_sink *log, struct vh_memmap **out);

/**
 * vh_memmap_destroy() - unmap every region and free the map; sets *@m to NULL.
 * @m: the map (NULL or *m NULL: no-op). An attached IOTLB is not freed.
 * Thread: exclusive (no translation running).
 */
VH_API void vh_memmap_destroy(struct vh_memmap **m);

/**
 * vh_memmap_add() - map one region (ADD_MEM_REG, or one entry of SET_MEM_TABLE).
 * @m: the map.
 * @r: the region. When r->fd >= 0 it is mmap()ed MAP_SHARED read/write at r->mmap_offset,
 *     rounded to the fd's page size (hugetlbfs: the huge page size); the fd is NOT closed (the
 *     caller owns it). When r->fd < 0, r->host must point at r->size mapped bytes.
 *
 * A region identical to one already mapped (same gpa, size, uva, mmap_offset and backing file,
 * or host address) is not mapped again but counted: vhost-user.rst allows a front-end with
 * several vhost devices on one connection (QEMU's vhost-user-net, one per queue pair) to send
 * it once per device; vh_memmap_remove() unmaps it at the last matching removal.
 *
 * Return: 0; -EINVAL size 0, GPA or UVA overlap with a mapped region (a conflicting overlap,
 * including the same addresses with another size, offset or file), fd smaller than the range;
 * -EOVERFLOW gpa/uva/mmap_offset + size wraps; -ENOSPC already VH_MEM_MAX_REGIONS regions;
 * -errno from fstat/mmap.
 * Thread: exclusive (no translation may run concurrently: quiesce the rings first).
 */
VH_API int vh_memmap_add(struct vh_memmap *m, const struct vh_mem_region *r);

/**
 * vh_memmap_remove() - unmap the region that starts at @gpa and has @size bytes (REM_MEM_REG);
 * a region added N times (see vh_memmap_add()) stays mapped until the Nth removal.
 * @m: the map. @gpa: region start. @size: region bytes.
 * Return: 0, or -ENOENT when no region matches exactly. Thread: exclusive.
 */
VH_API int vh_memmap_remove(struct vh_memmap *m, uint64_t gpa, uint64_t size);

/**
 * vh_memmap_clear() - unmap every region (SET_MEM_TABLE replaces the table).
 * @m: the map.
 * Thread: exclusive.
 */
VH_API void vh_memmap_clear(struct vh_memmap *m);

/**
 * vh_memmap_count() - number of mapped regions.
 * @m: the map.
 * Return: the count. Errors: none. Thread: any reader.
 */
VH_API unsigned vh_memmap_count(const struct vh_memmap *m);

/**
 * vh_memmap_get() - copy region @i (in GPA order) into @r (r->host is the mapped address).
 * @m: the map.
 * Return: 0, or -ENOENT when @i >= count. Thread: any reader.
 */
VH_API int vh_memmap_get(const struct vh_memmap *m, unsigned i, struct vh_mem_region *r);

/**
 * vh_memmap_set_iotlb() - translate through @iotlb (VIRTIO_F_IOMMU_PLATFORM negotiated).
 * @m: the map.
 * @iotlb: the cache (not owned; NULL detaches). While attached, vh_mem_translate() takes IOVAs:
 *         iova -> uva (IOTLB) -> host (regions by uva).
 * Thread: exclusive.
 */
VH_API void vh_memmap_set_iotlb(struct vh_memmap *m, struct vh_iotlb *iotlb);

/**
 * vh_mem_translate() - guest address range to host iovecs.
 * @m: the map.
 * @addr: guest physical address, or IOVA when an IOTLB is attached.
 * @len: bytes; 0 returns 0 without looking at @addr.
 * @perm: VH_MEM_READ and/or VH_MEM_WRITE (checked against IOTLB permissions; GPA regions are
 *        always read/write).
 * @iov: receives the pieces, in order; a range that straddles regions is split.
 * @max_iov: room in @iov.
 *
 * Every byte of [addr, addr + len) must lie inside a region (CVE-2018-1059).
 *
 * Return: number of iovecs used; -EFAULT hole, out of range or addr + len wraps; -ENOBUFS more
 * than @max_iov pieces; -EAGAIN IOTLB miss (recorded, see vh_iotlb_last_miss()); -EACCES IOTLB
 * entry lacks @perm.
 * Thread: any number of concurrent readers; never concurrently with add/remove/clear.
 */
VH_API int vh_mem_translate(const struct vh_memmap *m, uint64_t addr, uint64_t len, int perm,
			    struct iovec *iov, unsigned max_iov);

/**
 * vh_memmap_gpa_to_host() - host pointer for [@gpa, @gpa + @len) when it lies inside ONE region.
 * @m: the map.
 * Return: the pointer, or NULL (hole, straddle, wrap). @len 0 is treated as 1. Thread: reader.
 */
VH_API void *vh_memmap_gpa_to_host(const struct vh_memmap *m, uint64_t gpa, uint64_t len);

/**
 * vh_memmap_uva_to_host() - same for a frontend virtual address (vhost-user ring addresses).
 * @m: the map. @uva: frontend virtual address. @len: bytes (0 is treated as 1).
 * Return: the pointer, or NULL. Thread: reader.
 */
VH_API void *vh_memmap_uva_to_host(const struct vh_memmap *m, uint64_t uva, uint64_t len);

/**
 * vh_memmap_host_to_gpa() - guest physical address of the mapped byte at @host.
 * @m: the map.
 * Return: 0 and *@gpa, or -EFAULT when @host is not inside a mapped region. Thread: reader.
 */
VH_API int vh_memmap_host_to_gpa(const struct vh_memmap *m, const void *host, uint64_t *gpa);

/* ------------------------------------------------------------------------------------------ */
/* Backend side: IOTLB (VHOST_IOTLB_UPDATE / INVALIDATE / MISS).                              */
/* ------------------------------------------------------------------------------------------ */

/* Default bound on cached IOTLB entries. */
#define VH_IOTLB_DEFAULT_ENTRIES 2048

/**
 * vh_iotlb_create() - create an empty IOTLB cache.
 * @log: log sink (copied; NULL: stderr).
 * @max_entries: bound on entries (0: VH_IOTLB_DEFAULT_ENTRIES). When full, an update evicts the
 *               entry with the lowest IOVA that does not overlap the new one.
 * @out: receives the cache.
 * Return: 0, -ENOMEM. Thread: any.
 */
VH_API int vh_iotlb_create(const struct vh_log_sink *log, unsigned max_entries,
			   struct vh_iotlb **out);

/**
 * vh_iotlb_destroy() - free the cache; sets *@iotlb to NULL.
 * @iotlb: the cache (NULL or *iotlb NULL: no-op).
 * Thread: any, once no lookup can run (detach it from the map and quiesce the rings first).
 */
VH_API void vh_iotlb_destroy(struct vh_iotlb **iotlb);

/**
 * vh_iotlb_update() - cache iova -> uva for @size bytes with @perm (VHOST_IOTLB_UPDATE).
 * Overlapping older entries are trimmed (the new mapping wins). A pending miss that the update
 * covers is cleared.
 * @iotlb: the cache. @iova: start. @size: bytes. @uva: frontend virtual address of @iova.
 * @perm: VH_MEM_READ and/or VH_MEM_WRITE.
 * Return: 0; -EINVAL size 0 or perm 0; -EOVERFLOW iova/uva + size wraps; -ENOMEM.
 * Thread: any (internally locked against lookups).
 */
VH_API int vh_iotlb_update(struct vh_iotlb *iotlb, uint64_t iova, uint64_t size, uint64_t uva,
			   int perm);

/**
 * vh_iotlb_invalidate() - drop every mapping of [iova, iova + size) (VHOST_IOTLB_INVALIDATE);
 * entries partly inside are trimmed or split. size 0 or a wrapping range invalidates to the end.
 * @iotlb: the cache. @iova: start. @size: bytes.
 * Return: 0, -ENOMEM (split needed room). Thread: any.
 */
VH_API int vh_iotlb_invalidate(struct vh_iotlb *iotlb, uint64_t iova, uint64_t size);

/**
 * vh_iotlb_lookup() - translate the start of [iova, iova + len).
 * @iotlb: the cache. @iova: address. @len: bytes wanted (> 0). @perm: access needed.
 * @uva: receives the frontend virtual address of @iova.
 * Return: bytes mapped contiguously from @iova (<= @len, > 0); -EAGAIN miss (recorded as the
 * last miss); -EACCES entry lacks @perm. Thread: any.
 */
VH_API int64_t vh_iotlb_lookup(struct vh_iotlb *iotlb, uint64_t iova, uint64_t len, int perm,
			       uint64_t *uva);

/**
 * vh_iotlb_last_miss() - take the last recorded miss, for a VHOST_IOTLB_MISS message.
 * @iotlb: the cache. @iova: receives the address that missed. @perm: receives the access.
 * Return: 1 and *@iova / *@perm (then forgotten), or 0 when none is pending. Thread: any.
 */
VH_API int vh_iotlb_last_miss(struct vh_iotlb *iotlb, uint64_t *iova, int *perm);

/**
 * vh_iotlb_count() - number of cached entries.
 * @iotlb: the cache.
 * Return: the count. Errors: none. Thread: any (takes the read lock).
 */
VH_API unsigned vh_iotlb_count(struct vh_iotlb *iotlb);

/* ------------------------------------------------------------------------------------------ */
/* Frontend side: building the table.                                                          */
/* ------------------------------------------------------------------------------------------ */

/* struct vh_memtable_region.flags */
#define VH_MEMTABLE_READONLY	     (1u << 0) /* ROM: dropped when the table is DROP_READONLY */
#define VH_MEMTABLE_DEVICE_INVISIBLE (1u << 1) /* never shown to the device (e.g. VGA dirty log) */

/** struct vh_memtable_region - one section of guest RAM as the VMM sees it. */
struct vh_memtable_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t host;	    /* host (userspace) address of gpa */
	int fd;		    /* backing fd, or -1 (kernel vhost needs none) */
	uint64_t fd_offset; /* offset of host inside fd */
	uint64_t page_size; /* backing page size (0: 4096) */
	uint32_t flags;	    /* VH_MEMTABLE_* */
};

/* struct vh_memtable_config.flags */
#define VH_MEMTABLE_ALIGN_PAGES	  (1u << 0) /* vhost-user: round regions to their page size */
#define VH_MEMTABLE_DROP_READONLY (1u << 1) /* filter VH_MEMTABLE_READONLY regions */

/** struct vh_memtable_config - copied at create. */
struct vh_memtable_config {
	const char *name;     /* for log lines ("vhost-user /tmp/sock"); copied */
	unsigned max_regions; /* slot limit of the backend (0: VH_MEM_MAX_REGIONS) */
	uint32_t flags;	      /* VH_MEMTABLE_ALIGN_PAGES | VH_MEMTABLE_DROP_READONLY */
	struct vh_log_sink log;
};

/** struct vh_memtable_diff - what changed at the last commit (indices into the tables). */
struct vh_memtable_diff {
	unsigned n_added;   /* regions of the new table not in the old one */
	unsigned n_removed; /* regions of the old table not in the new one */
	bool changed;	    /* n_added || n_removed */
};

struct vh_memtable;

/**
 * vh_memtable_create() - create an empty table.
 * @cfg: configuration (copied). @out: receives the table.
 * Return: 0, -ENOMEM. Thread: any; a table is used by one thread at a time.
 */
VH_API int vh_memtable_create(const struct vh_memtable_config *cfg, struct vh_memtable **out);

/**
 * vh_memtable_destroy() - free the table (region fds are not closed); sets *@t to NULL.
 * @t: the table (NULL or *t NULL: no-op).
 * Thread: the thread that owns @t (one at a time).
 */
VH_API void vh_memtable_destroy(struct vh_memtable **t);

/**
 * vh_memtable_set_max_regions() - change the slot limit (e.g. after GET_MAX_MEM_SLOTS).
 * @t: the table. @max: new limit (0: VH_MEM_MAX_REGIONS). Takes effect at the next commit.
 * Thread: the thread that owns @t (one at a time).
 */
VH_API void vh_memtable_set_max_regions(struct vh_memtable *t, unsigned max);

/**
 * vh_memtable_begin() - start a new batch (drops an uncommitted one).
 * @t: the table.
 * Thread: the thread that owns @t (one at a time).
 */
VH_API void vh_memtable_begin(struct vh_memtable *t);

/**
 * vh_memtable_add_region() - add one section to the batch; sections come in GPA order.
 * Aligned (ALIGN_PAGES) and merged with the previous one when both are backed by the same
 * mapping (same fd, contiguous gpa, host and fd offset).
 * @t: the table. @r: the section (copied).
 * Return: 0; 0 also when the region is filtered out; -EINVAL size 0, page size not a power of
 * two, out of order or overlapping but incoherent with the previous region (the batch is then
 * poisoned: commit fails); -EOVERFLOW ranges wrap; -ENOMEM.
 * Thread: the thread that owns @t (one at a time).
 */
VH_API int vh_memtable_add_region(struct vh_memtable *t, const struct vh_memtable_region *r);

/**
 * vh_memtable_commit() - make the batch the current table and diff it against the previous.
 * @t: the table.
 * @out: receives the diff (may be NULL); vh_memtable_added()/removed() list the regions.
 * Return: 0; -EINVAL the batch had a refused region; -ENOSPC more regions than the slot limit
 * (the previous table stays current in both cases).
 * Thread: the thread that owns @t (one at a time).
 */
VH_API int vh_memtable_commit(struct vh_memtable *t, struct vh_memtable_diff *out);

/**
 * vh_memtable_revert() - undo the last commit (the backend refused the new table): the table
 * before it is current again, and vh_memtable_added()/removed() list the change back to it.
 * @t: the table.
 * Return: 0; -EINVAL nothing to undo (no commit, or already reverted). Thread: table owner.
 */
VH_API int vh_memtable_revert(struct vh_memtable *t);

/**
 * vh_memtable_count() - regions in the committed table.
 * @t: the table.
 * Return: the count. Errors: none. Thread: the thread that owns @t (one at a time).
 */
VH_API unsigned vh_memtable_count(const struct vh_memtable *t);

/**
 * vh_memtable_region() - region @i (GPA order) of the committed table.
 * @t: the table. @i: index.
 * Return: the region (valid until the next commit), or NULL when @i >= count.
 * Thread: the thread that owns @t (one at a time).
 */
VH_API const struct vh_memtable_region *vh_memtable_region(const struct vh_memtable *t, unsigned i);

/**
 * vh_memtable_added() - @i-th region added by the last commit.
 * @t: the table. @i: index (< diff.n_added).
 * Return: the region, or NULL when out of range. Thread: the thread that owns @t (one at a time).
 */
VH_API const struct vh_memtable_region *vh_memtable_added(const struct vh_memtable *t, unsigned i);

/**
 * vh_memtable_removed() - @i-th region removed by the last commit.
 * @t: the table. @i: index (< diff.n_removed).
 * Return: the region, or NULL when out of range. Thread: the thread that owns @t (one at a time).
 */
VH_API const struct vh_memtable_region *vh_memtable_removed(const struct vh_memtable *t,
							    unsigned i);

/**
 * vh_memtable_has_free_slot() - whether the committed table leaves at least one slot free.
 * @t: the table.
 * Return: true when a slot is free. Errors: none. Thread: the thread that owns @t (one at a time).
 */
VH_API bool vh_memtable_has_free_slot(const struct vh_memtable *t);

/**
 * vh_memtable_end() - highest gpa + size of the committed table, for log sizing.
 * @t: the table.
 * Return: the end address (0 when empty). Errors: none. Thread: the thread that owns @t (one at a time).
 */
VH_API uint64_t vh_memtable_end(const struct vh_memtable *t);

/**
 * vh_memtable_lookup_host() - host address of [@gpa, @gpa + @len) when inside one committed
 * region (ring verification).
 * @t: the table. @gpa: guest physical address. @len: bytes.
 * Return: the address, or 0 when the range is not inside one region. Thread: the thread that owns @t (one at a time).
 */
VH_API uint64_t vh_memtable_lookup_host(const struct vh_memtable *t, uint64_t gpa, uint64_t len);

#endif
