/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vh-blk: a vhost-user-blk back-end daemon on the public libvhost backend API
 * (include/vhost/backend.h). Private header shared by the daemon's files.
 *
 * Objects:
 *   struct vhblk       - the device: options, the backing (file, block device, null, memory),
 *                        the config space, the I/O thread pool (--aio=threads).
 *   struct vhblk_queue - one started virtqueue: a pool of queue-size requests (no allocation
 *                        per request), and its I/O engine state (one io_uring per queue).
 *   struct vhblk_req   - one virtio-blk request (virtio 1.2 §5.2.6): the popped chain, the
 *                        parsed header, the data iovecs and where the status byte goes.
 *
 * Threads: a queue's requests are parsed, submitted, completed and pushed on the queue's
 * context (backend.h). --aio=threads workers only run the pread/pwrite and hand the request
 * back under the queue's lock (vhblk_queue.lock), then wake the queue.
 */
#ifndef VH_BLK_H
#define VH_BLK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_blk.h>

#include <vhost/backend.h>
#include <vhost/program.h>

#ifdef VHBLK_HAVE_URING
#include <liburing.h>
#endif

#define VHBLK_NAME "vh-blk"
/* Segments per request offered in seg_max (virtio 1.2 §5.2.4); a chain may use two iovecs per
 * descriptor where a buffer straddles two memory regions, plus header and status. */
#define VHBLK_SEG_MAX 126u
#define VHBLK_MAX_IOV (2 * (VHBLK_SEG_MAX + 2))
/* Largest data segment (size_max) and discard / write zeroes limits. */
#define VHBLK_SIZE_MAX		 (1u << 20)
#define VHBLK_MAX_DWZ_SEG	 16u
#define VHBLK_MAX_DWZ_SECTORS	 (1u << 22)
#define VHBLK_DEFAULT_QUEUE_SIZE 1024u
#define VHBLK_POLL_IDLE_KICKS	 16u
/* A kick signals what it completed after its VHBLK_NOTIFY_FIRST-th request and every
 * VHBLK_NOTIFY_EVERY-th, before it pops more (req.c, notify_early()). */
#define VHBLK_NOTIFY_FIRST 4u
#define VHBLK_NOTIFY_EVERY 16u
/* Buffered reads from this size on run on io-wq workers in parallel (aio.c uring_submit()). */
#define VHBLK_ASYNC_READ_MIN (64u << 10)
/* Poll mode: longest sleep on the completion queue while such reads run (aio.c). */
#define VHBLK_POLL_ASYNC_WAIT_US 100u

#define VHBLK_MIN(a, b)		 ((a) < (b) ? (a) : (b))
#define vhblk_likely(x)		 __builtin_expect(!!(x), 1)
#define vhblk_unlikely(x)	 __builtin_expect(!!(x), 0)

enum vhblk_backing_kind {
	VHBLK_BACKING_FILE = 0,
	VHBLK_BACKING_NULL,
	VHBLK_BACKING_MEMORY,
};

enum vhblk_aio {
	VHBLK_AIO_IO_URING = 0,
	VHBLK_AIO_THREADS,
	VHBLK_AIO_SYNC,
};

/** struct vhblk_options - the command line. */
struct vhblk_options {
	const char *blk_file; /* FILE, null:SIZE or memory:SIZE */
	bool read_only;
	bool direct; /* O_DIRECT */
	unsigned num_queues;
	unsigned queue_size;
	unsigned logical_block_size;
	enum vhblk_aio aio;
	unsigned aio_threads;
	bool poll;
	unsigned poll_threads;
	unsigned poll_us; /* event mode poll window ceiling (vh_server_config.event_poll_us) */
	const char *serial;
	bool host_notifier; /* --host-notifier: a notify page per queue (notifier.c) */
};

struct vhblk_queue;

/** struct vhblk_req - one request of a queue's pool. */
struct vhblk_req {
	struct vh_vq_elem elem; /* elem.iov = iov */
	struct vhblk_queue *vq;
	struct vhblk_req *next; /* free list / thread pool job list / completed list */
	uint8_t *status;	/* last writable byte of the chain */
	uint32_t type;
	uint64_t offset; /* bytes */
	uint64_t len;	 /* data bytes */
	unsigned ndata;
	int64_t res;	    /* engine result: bytes or -errno */
	bool async;	    /* io_uring: submitted with IOSQE_ASYNC (runs on an io-wq worker) */
	struct iovec *data; /* the data part of iov (a copy: push still needs iov intact) */
	struct iovec *iov;
};

/** struct vhblk_queue - per started virtqueue. */
struct vhblk_queue {
	struct vhblk *dev;
	struct vh_queue *q;
	struct vh_server *srv;
	bool writeback; /* VIRTIO_BLK_F_FLUSH negotiated; else every write is written through */
	bool event;	/* event datapath: completions come through a watched fd */
	unsigned nreq;
	struct vhblk_req *reqs;
	struct iovec *iovs;
	struct vhblk_req *free;
	unsigned inflight; /* requests handed to the engine and not completed */
	bool broken_logged;
	bool stalled;	     /* every request slot busy: kick again after a completion */
	unsigned idle_kicks; /* poll mode: kicks in a row that found nothing */
#ifdef VHBLK_HAVE_URING
	struct io_uring ring;
	bool ring_ok;
	int ring_efd;
	unsigned queued;	 /* SQEs prepared since the last io_uring_submit */
	unsigned async_inflight; /* of inflight: the IOSQE_ASYNC ones */
#endif
	/* --aio=threads: completed requests, under lock */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct vhblk_req *done;
	unsigned ndone;
};

/** struct vhblk_pool - --aio=threads worker pool (shared by every queue). */
struct vhblk_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct vhblk_req *head, *tail;
	bool exit;
	unsigned nthreads;
	pthread_t *threads;
};

/** struct vhblk - the device. */
struct vhblk {
	struct vhblk_options opt;
	struct vh_program *prog; /* command line, log, signals (include/vhost/program.h) */
	struct vh_server *srv;
	enum vhblk_backing_kind kind;
	int fd; /* FILE backing */
	bool is_blkdev;
	bool in_memory; /* the file lives in tmpfs (RAM): small requests are copied inline */
	uint8_t *mem;	/* MEMORY backing */
	uint64_t size;	/* bytes, a multiple of the logical block size */
	uint64_t features;
	struct virtio_blk_config config; /* little endian, as the driver reads it */
	struct vhblk_pool pool;
	uint8_t *zeroes; /* VHBLK_SIZE_MAX zero bytes for write zeroes without fallocate */
	/* Migrated state (state.c): ring positions to compare at each ring's next start. */
	uint32_t state_base[VH_SERVER_MAX_QUEUES];
	uint64_t state_check;	 /* bit i: queue i not started since the state was loaded */
	struct vhblk_bell *bell; /* --host-notifier pages and their poller (notifier.c) */
};

/* main.c (fuzz/ provides its own) */
void vhblk_log(const struct vhblk *d, enum vh_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* options.c */
void vhblk_options_init(struct vhblk_options *o, struct vh_program_config *pc);
int vhblk_parse_size(const char *s, uint64_t *out);

/* backing.c */
int vhblk_backing_open(struct vhblk *d);
void vhblk_backing_close(struct vhblk *d);
void vhblk_config_init(struct vhblk *d);
int vhblk_rw_sync(struct vhblk_req *r);
int vhblk_flush_sync(struct vhblk *d);
int vhblk_zero_or_discard(struct vhblk *d, uint64_t off, uint64_t len, bool discard, bool unmap);

/* notifier.c: --host-notifier (vhost-user HOST_NOTIFIER) */
struct vhblk_bell;
int vhblk_bell_start(struct vhblk *d);
void vhblk_bell_stop(struct vhblk *d);
void vhblk_bell_queue_start(struct vhblk *d, struct vh_queue *q);
void vhblk_bell_queue_stop(struct vhblk *d, struct vh_queue *q);

/* req.c */
extern const struct vh_device_ops vhblk_ops;
void vhblk_complete(struct vhblk_req *r, uint8_t status, uint32_t written);
void vhblk_complete_io(struct vhblk_req *r);

/* state.c: DEVICE_STATE (migration between vh-blk processes) */
int vhblk_state_save(void *inst, struct vh_conn *conn, void **buf, size_t *len);
int vhblk_state_load(void *inst, struct vh_conn *conn, const void *buf, size_t len);
void vhblk_state_queue_start(struct vhblk *d, struct vh_queue *q);

/* aio.c */
int vhblk_aio_queue_init(struct vhblk_queue *vq);
void vhblk_aio_queue_fini(struct vhblk_queue *vq);
/* Hand @r (IN, OUT or FLUSH) to the engine; 0 queued, <0: complete it with IOERR now. */
int vhblk_aio_submit(struct vhblk_queue *vq, struct vhblk_req *r);
void vhblk_aio_flush_submits(struct vhblk_queue *vq);
/* Complete what the engine finished; returns the number completed. */
unsigned vhblk_aio_reap(struct vhblk_queue *vq);
/*
 * Poll mode, a kick that found nothing: while reads run on io-wq workers (CPU-bound copies),
 * sleep until one completes (at most VHBLK_POLL_ASYNC_WAIT_US) instead of spinning against them.
 * Returns true when it slept.
 */
bool vhblk_aio_idle(struct vhblk_queue *vq);
/* Wait until every request of @vq handed to the engine completed, and complete them. */
void vhblk_aio_drain(struct vhblk_queue *vq);
int vhblk_pool_start(struct vhblk *d);
void vhblk_pool_stop(struct vhblk *d);

#endif
