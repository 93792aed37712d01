/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvhost driver/: vh_blk, a userspace virtio-blk driver on top of a vhost backend.
 *
 * The process "plays the guest": vh_blk_create() puts the rings, one request slot per in-flight
 * request (struct virtio_blk_outhdr, discard segment and status byte) and a buffer pool into one
 * memfd ("guest memory"), hands it to the backend through struct vh_dev (vhost-user socket,
 * vhost-vdpa) and negotiates the virtio-blk features (virtio 1.2 §5.2).
 *
 * I/O buffers must lie in guest memory: take them from the pool with vh_blk_buf_alloc(), or hand
 * the driver a memfd-backed region of your own (struct vh_blk_user_mem). The synchronous helpers (vh_blk_read() ...) accept any buffer and bounce through the pool.
 *
 * Asynchronous use: vh_blk_submit() a batch of struct vh_blk_io on a queue (one kick per batch),
 * vh_blk_reap() completions (struct vh_blk_completion with the caller's cookie and a status).
 * Completions are found either by polling the used ring (VH_BLK_POLL: the backend is asked not to
 * signal) or by waiting on vh_blk_call_fd() in the caller's event loop (vh_blk_wait() does it).
 *
 * Threads: each queue is single-threaded: one thread at a time may submit, reap and wait on a
 * given queue; different queues may be driven from different threads concurrently.
 * vh_blk_create/destroy/reconnect and the dirty-log calls need every queue idle (no thread in
 * the queue functions). vh_blk_buf_alloc/free are thread-safe.
 * No allocation and no system call other than the kick/call eventfd happens per request.
 */
#ifndef VHOST_BLK_H
#define VHOST_BLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_blk.h>

#include <vhost/common.h>

struct vh_blk;
struct vh_dev;

/* virtio-blk always counts in 512-byte sectors (virtio 1.2 §5.2.6), whatever blk_size says. */
#define VH_BLK_SECTOR_SIZE 512u
/* Most data segments in one request (further bounded by the device's seg_max). */
#define VH_BLK_MAX_SEGS 64u

/* struct vh_blk_config.flags */
#define VH_BLK_PACKED	    (1u << 0) /* require VIRTIO_F_RING_PACKED (-ENOTSUP if not offered) */
#define VH_BLK_POLL	    (1u << 1) /* completions by polling: ask the device not to signal */
#define VH_BLK_NO_INDIRECT  (1u << 2) /* never use indirect descriptors */
#define VH_BLK_NO_EVENT_IDX (1u << 3) /* do not negotiate VIRTIO_RING_F_EVENT_IDX */
#define VH_BLK_READ_ONLY    (1u << 4) /* refuse writes locally even if the device allows them */

/**
 * struct vh_blk_user_mem - caller memory shared with the device, so I/O buffers may live in it
 * (besides the pool). vhost-user shares memory by file descriptor: it must be a memfd or hugetlbfs
 * mapping (MAP_SHARED).
 * @host: where the caller mapped it (4 KiB aligned). @size: bytes (multiple of 4 KiB; 0: none).
 * @fd: the backing fd (stays the caller's; must outlive the driver). @fd_offset: offset of @host.
 */
struct vh_blk_user_mem {
	void *host;
	uint64_t size;
	int fd;
	uint64_t fd_offset;
};

/**
 * struct vh_blk_config - how to open the device (copied at create).
 * @path: backend, as struct vh_dev_config.path ("unix:/run/blk.sock", "/dev/vhost-vdpa-0").
 * @num_queues: queues to use (0: 1); more than the device offers is -EINVAL.
 * @queue_size: ring size, power of two (0: 256).
 * @queue_depth: most requests in flight per queue (0: @queue_size with indirect descriptors,
 *               else @queue_size / 3, the descriptors a one-segment request needs).
 * @pool_size: bytes of buffer pool in guest memory (0: 4 MiB); rounded up to 4 KiB.
 * @flags: VH_BLK_*.
 * @features: virtio-blk feature bits the caller is willing to use (0: every bit this driver
 *            implements). Transport bits are chosen by @flags.
 * @timeout_ms: backend reply timeout (0: 5000).
 * @name: for log lines (NULL: "vh_blk").
 * @log: log sink.
 * @user_mem: optional caller memory for I/O buffers (see struct vh_blk_user_mem).
 */
struct vh_blk_config {
	const char *path;
	unsigned num_queues;
	unsigned queue_size;
	unsigned queue_depth;
	uint64_t pool_size;
	unsigned flags;
	uint64_t features;
	int timeout_ms;
	const char *name;
	struct vh_log_sink log;
	struct vh_blk_user_mem user_mem;
};

/**
 * struct vh_blk_info - what was negotiated and what the device reported (virtio 1.2 §5.2.4).
 * Fields of features that were not negotiated are 0.
 */
struct vh_blk_info {
	uint64_t features;	/* negotiated virtio feature bits */
	uint64_t capacity;	/* 512-byte sectors */
	uint64_t size_bytes;	/* capacity * 512 */
	uint32_t blk_size;	/* logical block size (512 when not offered) */
	uint32_t size_max;	/* largest segment; 0: no limit */
	uint32_t seg_max;	/* most data segments per request; 0: no limit */
	unsigned device_queues; /* queues the device offers */
	unsigned num_queues;	/* queues in use */
	unsigned queue_size;
	unsigned queue_depth;
	bool packed;
	bool event_idx;
	bool indirect;
	bool read_only;
	bool flush;
	bool discard;
	bool write_zeroes;
	uint8_t physical_block_exp; /* TOPOLOGY */
	uint8_t alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	bool write_zeroes_may_unmap;
	uint64_t mem_size;     /* guest memory bytes, from guest physical address 0 */
	uint64_t user_mem_gpa; /* guest address of struct vh_blk_config.user_mem (0: none) */
};

enum vh_blk_op {
	VH_BLK_OP_READ = 0,	/* VIRTIO_BLK_T_IN */
	VH_BLK_OP_WRITE,	/* VIRTIO_BLK_T_OUT */
	VH_BLK_OP_FLUSH,	/* VIRTIO_BLK_T_FLUSH */
	VH_BLK_OP_DISCARD,	/* VIRTIO_BLK_T_DISCARD (one segment) */
	VH_BLK_OP_WRITE_ZEROES, /* VIRTIO_BLK_T_WRITE_ZEROES (one segment) */
	VH_BLK_OP_GET_ID,	/* VIRTIO_BLK_T_GET_ID: VIRTIO_BLK_ID_BYTES into @buf */
};

/* struct vh_blk_io.flags */
#define VH_BLK_IO_UNMAP (1u << 0) /* write zeroes: the device may deallocate */

/**
 * struct vh_blk_io - one request.
 * @op: what to do.
 * @offset: byte offset on the disk, a multiple of 512 (read, write, discard, write zeroes).
 * @buf, @len: the data buffer in guest memory when @iovcnt is 0 (read, write: @len a multiple of
 *             512; get-id: at least VIRTIO_BLK_ID_BYTES). Discard / write zeroes: @len is the
 *             byte count of the range and @buf is unused. Flush: both unused.
 * @iov, @iovcnt: scatter-gather list in guest memory (read, write) instead of @buf/@len.
 * @flags: VH_BLK_IO_*.
 * @cookie: handed back in the completion.
 */
struct vh_blk_io {
	enum vh_blk_op op;
	uint64_t offset;
	void *buf;
	uint32_t len;
	const struct iovec *iov;
	unsigned iovcnt;
	unsigned flags;
	void *cookie;
};

/**
 * struct vh_blk_completion - one finished request.
 * @cookie: the request's cookie.
 * @status: 0 (VIRTIO_BLK_S_OK), -EIO (VIRTIO_BLK_S_IOERR), -EOPNOTSUPP (VIRTIO_BLK_S_UNSUPP) or
 *          -EPROTO (the device wrote no valid status).
 * @len: bytes the device reports having written into the request (data + status byte).
 */
struct vh_blk_completion {
	void *cookie;
	int status;
	uint32_t len;
};

/**
 * vh_blk_create() - connect to a virtio-blk backend and start its queues.
 * @cfg: configuration (copied).
 * @out: receives the driver.
 *
 * Return: 0; -EINVAL bad configuration or more queues than offered; -ENOTSUP the device lacks
 * VIRTIO_F_VERSION_1, or VH_BLK_PACKED and no packed rings; -ENOMEM; -errno from the backend
 * (-ECONNREFUSED, -ETIMEDOUT, -EPROTO ...). Thread: any.
 */
VH_API int vh_blk_create(const struct vh_blk_config *cfg, struct vh_blk **out);

/**
 * vh_blk_destroy() - stop the device, free everything; sets *@blk to NULL.
 * @blk: the driver (NULL or *blk NULL: no-op).
 * Thread: any, with no other call on the driver running.
 */
VH_API void vh_blk_destroy(struct vh_blk **blk);

/**
 * vh_blk_get_info() - copy the negotiated parameters into @info.
 * @blk: the driver. @info: receives the parameters.
 * Thread: any.
 */
VH_API void vh_blk_get_info(const struct vh_blk *blk, struct vh_blk_info *info);

/**
 * vh_blk_gpa() - guest physical address of @host inside guest memory (the backend sees
 * [0, struct vh_blk_info.mem_size)).
 * @blk: the driver. @host: a pointer into the driver's memory or cfg.user_mem.
 * Return: the address; UINT64_MAX when @host is not guest memory. Thread: any.
 */
VH_API uint64_t vh_blk_gpa(const struct vh_blk *blk, const void *host);

/**
 * vh_blk_queue_gpa() - guest addresses of @queue's descriptor, driver and device areas (the
 * device area is what the backend writes: the used ring / packed descriptors are in desc).
 * @blk: the driver. @queue: queue index.
 * @desc: receives the descriptor area GPA. @driver: the driver area. @device: the device area.
 * Return: 0, -EINVAL bad queue. Thread: any.
 */
VH_API int vh_blk_queue_gpa(const struct vh_blk *blk, unsigned queue, uint64_t *desc,
			    uint64_t *driver, uint64_t *device);

/**
 * vh_blk_dev() - the underlying device (dirty logging, migration queries).
 * @blk: the driver.
 * Return: the device, owned by @blk. Errors: none. Thread: any.
 */
VH_API struct vh_dev *vh_blk_dev(struct vh_blk *blk);

/**
 * vh_blk_buf_alloc() - take @size bytes (rounded up to 4 KiB, 4 KiB aligned) from the pool.
 * @blk: the driver. @size: bytes wanted (> 0).
 * Return: the buffer (guest memory), or NULL when the pool has no such run. Thread-safe.
 */
VH_API void *vh_blk_buf_alloc(struct vh_blk *blk, size_t size);

/**
 * vh_blk_buf_free() - give a buffer from vh_blk_buf_alloc() back.
 * @blk: the driver. @buf: the buffer (NULL: no-op).
 * Errors: a pointer that is not an allocated pool buffer is logged and ignored.
 * Thread: any (the pool has its own lock).
 */
VH_API void vh_blk_buf_free(struct vh_blk *blk, void *buf);

/**
 * vh_blk_submit() - add requests to @queue and kick the device once for the batch.
 * @blk: the driver. @queue: 0..num_queues-1. @ios: @n requests.
 *
 * Return: the number of requests submitted (< @n when the queue filled up: the rest were not
 * touched); -EAGAIN the queue is full before the first one; -EINVAL (first request malformed:
 * offset or length not a multiple of 512, beyond the capacity, too many segments), -EFAULT (a
 * buffer outside guest memory), -EROFS (write to a read-only device), -EOPNOTSUPP (operation not
 * negotiated). A backend that went away is noticed by vh_dev_dispatch() on vh_dev_event_fd()
 * (requests stay in flight; see vh_blk_reconnect()).
 * A malformed request after the first stops the batch there and is reported by the return value.
 * Thread: the queue's thread.
 */
VH_API int vh_blk_submit(struct vh_blk *blk, unsigned queue, const struct vh_blk_io *ios,
			 unsigned n);

/**
 * vh_blk_reap() - collect up to @max finished requests of @queue without blocking.
 * @blk: the driver. @queue: queue index. @out: receives up to @max completions.
 * With the call eventfd, a reap that returns fewer than @max also re-arms the device's
 * notification, so call it until it does before sleeping on vh_blk_call_fd().
 * Return: number of completions stored in @out (0: none); -EPROTO the device corrupted the ring.
 * Thread: the queue's thread.
 */
VH_API int vh_blk_reap(struct vh_blk *blk, unsigned queue, struct vh_blk_completion *out,
		       unsigned max);

/**
 * vh_blk_wait() - block until @queue has a completion to reap or @timeout_ms passes.
 * Polling queues spin on the used ring; others sleep on the call eventfd (and re-check the ring
 * after enabling notifications so no completion is missed): one epoll_wait() per sleep, the
 * eventfd watched edge-triggered and not read (a caller that also polls vh_blk_call_fd() may
 * see it readable once more than needed; reading it then is harmless).
 * @blk: the driver. @queue: queue index.
 * @timeout_ms: -1 forever, 0 just check.
 * Return: 1 completions ready; 0 timeout; -EPROTO; -errno from poll(). Thread: queue's thread.
 */
VH_API int vh_blk_wait(struct vh_blk *blk, unsigned queue, int timeout_ms);

/**
 * vh_blk_inflight() - requests submitted on @queue and not yet reaped.
 * @blk: the driver. @queue: queue index.
 * Return: the count (0 for a bad index). Errors: none. Thread: the queue's thread.
 */
VH_API unsigned vh_blk_inflight(const struct vh_blk *blk, unsigned queue);

/**
 * vh_blk_call_fd() - eventfd the device signals on completions of @queue, for the caller's
 * event loop (readable: read 8 bytes, then vh_blk_reap()).
 * @blk: the driver. @queue: queue index.
 * Return: the fd (owned by @blk); -1 for polling queues or a bad index. Thread: any.
 */
VH_API int vh_blk_call_fd(const struct vh_blk *blk, unsigned queue);

/*
 * Synchronous helpers on queue 0 (which must have nothing else in flight: -EBUSY). @buf may be any
 * memory; it is bounced through the pool when it is not guest memory. Large transfers are split.
 * Each blocks until the device answers. Return: 0 or the negative status/errno as for
 * vh_blk_submit() and struct vh_blk_completion; -EBUSY queue 0 busy; -ETIMEDOUT when the device
 * does not answer within the configured timeout. Thread: the thread that owns queue 0.
 */

/**
 * vh_blk_read() - read @len bytes at @offset into @buf.
 * @blk: the driver. @offset: byte offset (multiple of 512). @buf: destination. @len: bytes
 * (multiple of 512).
 * Return: 0 or -errno (see above). Thread: queue 0's thread.
 */
VH_API int vh_blk_read(struct vh_blk *blk, uint64_t offset, void *buf, size_t len);

/**
 * vh_blk_write() - write @len bytes from @buf at @offset.
 * @blk: the driver. @offset: byte offset (multiple of 512). @buf: source. @len: bytes
 * (multiple of 512).
 * Return: 0, -EROFS read-only device, or -errno (see above). Thread: queue 0's thread.
 */
VH_API int vh_blk_write(struct vh_blk *blk, uint64_t offset, const void *buf, size_t len);

/**
 * vh_blk_flush() - VIRTIO_BLK_T_FLUSH and wait for it.
 * @blk: the driver.
 * Return: 0; -EOPNOTSUPP VIRTIO_BLK_F_FLUSH not negotiated; -errno (see above).
 * Thread: queue 0's thread.
 */
VH_API int vh_blk_flush(struct vh_blk *blk);

/**
 * vh_blk_discard() - VIRTIO_BLK_T_DISCARD of [@offset, @offset + @len).
 * @blk: the driver. @offset: byte offset. @len: bytes (both multiples of 512).
 * Return: 0; -EOPNOTSUPP VIRTIO_BLK_F_DISCARD not negotiated; -errno (see above).
 * Thread: queue 0's thread.
 */
VH_API int vh_blk_discard(struct vh_blk *blk, uint64_t offset, uint64_t len);

/**
 * vh_blk_write_zeroes() - VIRTIO_BLK_T_WRITE_ZEROES of [@offset, @offset + @len).
 * @blk: the driver. @offset: byte offset. @len: bytes (both multiples of 512).
 * @unmap: set VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP (the device may deallocate).
 * Return: 0; -EOPNOTSUPP VIRTIO_BLK_F_WRITE_ZEROES not negotiated; -errno (see above).
 * Thread: queue 0's thread.
 */
VH_API int vh_blk_write_zeroes(struct vh_blk *blk, uint64_t offset, uint64_t len, bool unmap);

/**
 * vh_blk_get_id() - VIRTIO_BLK_T_GET_ID: the device's serial string.
 * @blk: the driver. @id: VIRTIO_BLK_ID_BYTES + 1 bytes, NUL-terminated on return. @len: size of
 * @id.
 * Return: 0, -EINVAL @len too small, or -errno (see above). Thread: queue 0's thread.
 */
VH_API int vh_blk_get_id(struct vh_blk *blk, char *id, size_t len);

/**
 * vh_blk_reconnect() - after the backend restarted: re-negotiate and restore the rings
 * (vh_dev_reconnect()); requests in flight are resubmitted by the backend from its inflight
 * region when it supports INFLIGHT_SHMFD. Thread: every queue idle.
 * @blk: the driver.
 * Return: 0 or -errno.
 */
VH_API int vh_blk_reconnect(struct vh_blk *blk);

/**
 * vh_blk_op_name() - "read", "write", ... for logs.
 * @op: the operation.
 * Return: a static string ("unknown" for values outside enum vh_blk_op). Thread: any.
 */
VH_API const char *vh_blk_op_name(enum vh_blk_op op);

/**
 * vh_blk_feature_name() - "VIRTIO_BLK_F_FLUSH" style name of a device feature bit.
 * @bit: the bit (< 24).
 * Return: a static string, or NULL for unknown bits. Thread: any.
 */
VH_API const char *vh_blk_feature_name(unsigned bit);

#endif
