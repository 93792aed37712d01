/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvhost log/: the dirty log used for live migration (vhost-user.rst "Migration"): one bit per
 * VH_LOG_PAGE_SIZE page of guest physical memory, bit (page % 8) of byte (page / 8), set by the
 * backend (or the kernel) for every page it writes, collected by the frontend.
 *
 * Backend side: struct vh_dirty_log maps the log received with SET_LOG_BASE and marks pages.
 * Frontend side: struct vh_log_buf owns the log (a sealed memfd for vhost-user, or plain process
 * memory for vhost-kernel's VHOST_SET_LOG_BASE), resizes it and syncs it into the caller's bitmap.
 */
#ifndef VHOST_LOG_H
#define VHOST_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <vhost/common.h>

/* One bit per 4 KiB page of guest physical memory, vhost-user.rst "Migration". */
#define VH_LOG_PAGE_SIZE 4096

struct vh_memmap;
struct vh_memtable;

/* ------------------------------------------------------------------------------------------ */
/* Backend side: marking.                                                                      */
/* ------------------------------------------------------------------------------------------ */

struct vh_dirty_log;

/**
 * vh_dirty_log_map() - map the log received with SET_LOG_BASE.
 * @fd: the log fd (not closed; the caller owns it).
 * @size: mmap_size of the message: log bytes (covers size * 8 pages).
 * @offset: mmap_offset of the message: where the log starts in @fd.
 * @out: receives the log.
 * Return: 0; -EINVAL size 0 or the fd is smaller than offset + size; -EOVERFLOW offset + size
 * wraps; -errno from fstat/mmap; -ENOMEM. Thread: any.
 */
VH_API int vh_dirty_log_map(int fd, uint64_t size, uint64_t offset, struct vh_dirty_log **out);

/**
 * vh_dirty_log_wrap() - use @size bytes at @base as the log (tests, in-process peers).
 * @base: the log memory (not owned). @size: log bytes. @out: receives the log.
 * Return: 0, -EINVAL NULL @base or size 0, -ENOMEM. Thread: any.
 */
VH_API int vh_dirty_log_wrap(void *base, uint64_t size, struct vh_dirty_log **out);

/**
 * vh_dirty_log_unmap() - unmap and free; sets *@log to NULL.
 * @log: the log (NULL or *log NULL: no-op).
 * Thread: any, once no thread marks the log any more (the backend parks its workers first).
 */
VH_API void vh_dirty_log_unmap(struct vh_dirty_log **log);

/**
 * vh_dirty_log_mark() - mark every page touched by [@gpa, @gpa + @len) dirty.
 * @log: the log (NULL: no-op, so callers need not test whether logging is on).
 * @gpa: guest physical address of the first byte written. @len: bytes written.
 * Atomic OR per byte, so concurrent ring threads and the frontend's sync never lose a bit.
 * Pages beyond the log are ignored and counted (vh_dirty_log_dropped()). @len 0 marks nothing.
 * Thread: any, concurrently.
 */
VH_API void vh_dirty_log_mark(struct vh_dirty_log *log, uint64_t gpa, uint64_t len);

/**
 * vh_dirty_log_mark_iov() - mark the guest pages behind the first @written bytes of @iov.
 * @log: the log (NULL: no-op). @m: the map that produced the host iovecs.
 * @iov, @n: host iovecs from vh_mem_translate(). @written: bytes the device wrote.
 * An iovec whose host address is not mapped counts as dropped. Thread: any, concurrently.
 */
VH_API void vh_dirty_log_mark_iov(struct vh_dirty_log *log, const struct vh_memmap *m,
				  const struct iovec *iov, unsigned n, uint64_t written);

/**
 * vh_dirty_log_size() - log bytes.
 * @log: the log.
 * Return: the size in bytes. Errors: none. Thread: any.
 */
VH_API uint64_t vh_dirty_log_size(const struct vh_dirty_log *log);

/**
 * vh_dirty_log_dropped() - pages that could not be marked (beyond the log, unmapped).
 * @log: the log.
 * Return: the count (read atomically). Errors: none. Thread: any, concurrently with markers.
 */
VH_API uint64_t vh_dirty_log_dropped(const struct vh_dirty_log *log);

/* ------------------------------------------------------------------------------------------ */
/* Frontend side: the log buffer.                                                              */
/* ------------------------------------------------------------------------------------------ */

/* struct vh_log_buf_config.flags */
#define VH_LOG_BUF_KERNEL (1u << 0) /* plain process memory, no fd (vhost-kernel) */

struct vh_log_buf_config {
	const char *name; /* memfd name and log lines (copied; NULL: "vhost-log") */
	uint32_t flags;	  /* VH_LOG_BUF_* */
	struct vh_log_sink log;
};

/** struct vh_log_range - a guest physical range the log must cover (a used ring). */
struct vh_log_range {
	uint64_t gpa;
	uint64_t size;
};

struct vh_log_buf;

/**
 * vh_log_bytes_for() - log bytes needed for @t's committed regions and @rings (the seed's
 * vhost_get_log_size), rounded up to whole 64-bit words. 0 when nothing needs logging.
 * @t: may be NULL. @rings: used rings (entries with size 0 are skipped); may be NULL if @n is 0.
 * @n: entries in @rings.
 * Return: the byte count (0: nothing to log). Errors: none. Thread: any.
 */
VH_API uint64_t vh_log_bytes_for(const struct vh_memtable *t, const struct vh_log_range *rings,
				 unsigned n);

/**
 * vh_log_buf_create() - allocate a zeroed log of @bytes (rounded up to 8).
 * @cfg: configuration (copied; NULL: defaults). @bytes: log size. @out: receives the buffer.
 * vhost-user: a memfd sealed with F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL once sized.
 * Return: 0; -EINVAL bytes 0; -errno from memfd_create/ftruncate/fcntl/mmap; -ENOMEM.
 * Thread: any; a buffer is synced/resized by one thread at a time.
 */
VH_API int vh_log_buf_create(const struct vh_log_buf_config *cfg, uint64_t bytes,
			     struct vh_log_buf **out);

/**
 * vh_log_buf_destroy() - unmap both logs, close the memfd, free; sets *@log to NULL.
 * @log: the buffer (NULL or *log NULL: no-op).
 * Thread: the syncing thread, once the peer no longer writes the log.
 */
VH_API void vh_log_buf_destroy(struct vh_log_buf **log);

/**
 * vh_log_buf_resize() - switch to a new log of @bytes and move the old bits into it.
 * @log: the log. @bytes: new size (rounded up to 8).
 *
 * The old log stays mapped: until the peer has processed SET_LOG_BASE with the new fd it still
 * writes there, and every sync keeps collecting both logs, so nothing is lost in the switch.
 * Call vh_log_buf_drop_old() once the peer acknowledged the new base. When shrinking (after a
 * table update, like the seed), sync before vh_log_buf_drop_old(): bits of the old log beyond
 * the new size are only reported by a sync that runs while the old log is held.
 * Return: 0 (also when the rounded size is unchanged: nothing done); -errno as create (the
 * current log is kept). Thread: the syncing thread.
 */
VH_API int vh_log_buf_resize(struct vh_log_buf *log, uint64_t bytes);

/**
 * vh_log_buf_drop_old() - fold the remaining bits of the previous log in and unmap it.
 * @log: the buffer (no previous log: no-op).
 * Thread: the syncing thread.
 */
VH_API void vh_log_buf_drop_old(struct vh_log_buf *log);

/**
 * vh_log_buf_fd() - the memfd to send with SET_LOG_BASE.
 * @log: the buffer.
 * Return: the fd (owned by @log), -1 for VH_LOG_BUF_KERNEL. Thread: the syncing thread.
 */
VH_API int vh_log_buf_fd(const struct vh_log_buf *log);

/**
 * vh_log_buf_addr() - the log's address in this process (VHOST_SET_LOG_BASE's log_base).
 * @log: the buffer.
 * Return: the address (changes on vh_log_buf_resize()). Thread: the syncing thread.
 */
VH_API void *vh_log_buf_addr(const struct vh_log_buf *log);

/**
 * vh_log_buf_size() - log bytes (SET_LOG_BASE mmap_size; covers size * 8 pages).
 * @log: the buffer.
 * Return: the size. Errors: none. Thread: the syncing thread.
 */
VH_API uint64_t vh_log_buf_size(const struct vh_log_buf *log);

/**
 * vh_log_buf_sync() - hand every dirty page to the caller exactly once.
 * @log: the log.
 * @bitmap: caller bitmap, one bit per page (bit p % 64 of word p / 64); dirty bits are ORed in.
 * @bits: pages covered by @bitmap; log bits beyond it stay in the log.
 * Each 64-bit log word is taken with an atomic exchange (zero words skipped without one), so
 * a bit the peer sets concurrently lands either in this sync or in the next.
 * Return: number of dirty pages collected (>= 0). Thread: one syncer at a time.
 */
VH_API int64_t vh_log_buf_sync(struct vh_log_buf *log, uint64_t *bitmap, size_t bits);

/** Called with runs of dirty pages [first_page, first_page + npages). */
typedef void (*vh_log_run_fn)(void *opaque, uint64_t first_page, uint64_t npages);

/**
 * vh_log_buf_sync_cb() - like vh_log_buf_sync() but reports maximal runs of dirty pages.
 * @log: the buffer. @fn: called for each run, on the calling thread. @opaque: passed to @fn.
 * Return: number of dirty pages collected (>= 0). Thread: one syncer at a time.
 */
VH_API int64_t vh_log_buf_sync_cb(struct vh_log_buf *log, vh_log_run_fn fn, void *opaque);

#endif
