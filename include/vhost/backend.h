/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvhost backend/: the vhost-user back-end library (QEMU docs/interop/vhost-user.rst).
 *
 * A device author fills a const struct vh_device_ops and a struct vh_server_config, creates a
 * struct vh_server and runs it. The library does the protocol (features, memory table, rings,
 * dirty log, inflight tracking, IOTLB, config space, status, reconnect); the device only sees
 * its queues: a queue callback pops descriptor chains as iovecs of guest memory with
 * vh_queue_pop() and returns them with vh_queue_push(). Dirty logging of written bytes and used
 * entries, inflight bookkeeping, IOTLB misses and the call eventfd are handled underneath, so a
 * device cannot forget them.
 *
 * Objects:
 *   struct vh_server - a listening socket (or an inherited fd) and the connections it accepted.
 *   struct vh_conn   - one front-end connection = one device instance. A new connection after
 *                      the previous one closed is a reconnect; with cfg.max_connections > 1
 *                      several instances run at once, fully isolated from each other.
 *   struct vh_queue  - one virtqueue of a connection (the device's view of a ring).
 *
 * Threads and contexts (docs/architecture.md):
 *   - The "dispatch thread" is whichever thread calls vh_server_dispatch() or vh_server_run()
 *     (one at a time). All control messages, connection setup/teardown and every
 *     vh_device_ops callback except queue_kick run there.
 *   - VH_SERVER_DATAPATH_EVENT: queue_kick also runs on the dispatch thread, when the ring's
 *     kick eventfd (or vh_queue_wake()) fires.
 *   - VH_SERVER_DATAPATH_POLL: queue_kick runs on a worker thread that busy-polls its rings.
 *     Before a control message touches memory or rings the workers are parked (they finish the
 *     queue_kick in progress and wait); they resume afterwards.
 *   A queue's "context" is the thread that runs its queue_kick. vh_queue_pop/push/notify may be
 *   called only from that context (inside queue_kick, queue_start, queue_stop, or - event mode
 *   only - any other callback this server runs on the dispatch thread).
 *
 * The core never blocks and never polls on its own: vh_server_fd() is one epoll fd that becomes
 * readable when anything needs attention, vh_server_dispatch() handles what is ready and returns.
 * vh_server_run() is a small loop around both for daemons.
 */
#ifndef VHOST_BACKEND_H
#define VHOST_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <vhost/common.h>
#include <vhost/vq.h>

struct vh_server;
struct vh_conn;
struct vh_queue;

/* Queues per connection (ring index must be below this; SET_VRING_* check it). */
#define VH_SERVER_MAX_QUEUES 64

/* Memory slots offered with GET_MAX_MEM_SLOTS (CONFIGURE_MEM_SLOTS). */
#define VH_SERVER_MAX_MEM_SLOTS 509

/**
 * vh_server_library_features() - virtio / vhost feature bits the library implements itself and
 * offers in GET_FEATURES, ORed with the device's cfg.features: VIRTIO_F_VERSION_1,
 * VIRTIO_F_RING_PACKED, VIRTIO_RING_F_INDIRECT_DESC, VIRTIO_RING_F_EVENT_IDX,
 * VIRTIO_F_IOMMU_PLATFORM, VHOST_F_LOG_ALL, VHOST_USER_F_PROTOCOL_FEATURES.
 *
 * Return: the feature mask (a constant). Errors: none. Thread: any.
 */
VH_API uint64_t vh_server_library_features(void);

/**
 * vh_server_library_protocol_features() - protocol features offered by default
 * (GET_PROTOCOL_FEATURES): MQ, LOG_SHMFD, REPLY_ACK, BACKEND_REQ, CONFIG, BACKEND_SEND_FD,
 * INFLIGHT_SHMFD, RESET_DEVICE, CONFIGURE_MEM_SLOTS, STATUS, GPA_ADDRESSES (plus
 * GET_VRING_BASE_INFLIGHT, INBAND_NOTIFICATIONS, HOST_NOTIFIER and SHMEM when the config asks
 * for them, DEVICE_STATE when the device has the state_save and state_load hooks). A device
 * removes bits with cfg.protocol_features_clear.
 *
 * Return: the protocol feature mask (a constant). Errors: none. Thread: any.
 */
VH_API uint64_t vh_server_library_protocol_features(void);

/** enum vh_server_datapath - who runs queue_kick. */
enum vh_server_datapath {
	VH_SERVER_DATAPATH_EVENT = 0, /* dispatch thread, on kick eventfd */
	VH_SERVER_DATAPATH_POLL,      /* worker threads busy-poll the rings */
};

/**
 * struct vh_device_ops - what a device implements. Every pointer except queue_kick may be NULL.
 *
 * @inst is the instance opaque: cfg.opaque, unless conn_open replaced it for this connection.
 * Return values: 0 (or a size) on success, -errno on failure; a failure is reported to the
 * front-end (error reply / REPLY_ACK 1) and logged once by the library.
 */
struct vh_device_ops {
	/*
	 * conn_open - a front-end connected (dispatch thread). *@inst starts as cfg.opaque; set
	 * it to per-instance state if the device keeps any. Return < 0 to refuse the connection.
	 */
	int (*conn_open)(void *dev_opaque, struct vh_conn *conn, void **inst);
	/*
	 * conn_close - the connection is gone (hang-up, protocol error, server destroy). Every
	 * queue was stopped (queue_stop ran) before this. Dispatch thread.
	 */
	void (*conn_close)(void *inst, struct vh_conn *conn);

	/*
	 * features_set - SET_FEATURES accepted @features (device and library bits). Called again
	 * when the front-end re-negotiates. Return < 0 to refuse (e.g. a combination the device
	 * cannot do). Dispatch thread, all queues stopped or parked.
	 */
	int (*features_set)(void *inst, struct vh_conn *conn, uint64_t features);

	/*
	 * get_config - GET_CONFIG: fill @buf with @len bytes of the device config space at
	 * @offset. The library already checked offset + len <= cfg.config_size. Dispatch thread.
	 */
	int (*get_config)(void *inst, struct vh_conn *conn, uint32_t offset, void *buf,
			  uint32_t len);
	/*
	 * set_config - SET_CONFIG (flags: VH_USER_CONFIG_FLAG_*). NULL: SET_CONFIG fails with
	 * -EPERM (the config space is read-only). Dispatch thread.
	 */
	int (*set_config)(void *inst, struct vh_conn *conn, uint32_t offset, const void *buf,
			  uint32_t len, uint32_t flags);

	/*
	 * queue_start - @q became live: addresses, base, kick fd set and (with
	 * VHOST_USER_F_PROTOCOL_FEATURES) enabled. Set up per-queue state (vh_queue_set_opaque()).
	 * Return < 0 to keep the ring stopped. The queue's context (before its first queue_kick).
	 */
	int (*queue_start)(void *inst, struct vh_queue *q);
	/*
	 * queue_kick - the ring may have buffers (kick, wake, IOTLB update, or every poll loop
	 * iteration in poll mode). Loop on vh_queue_pop() until it returns 0, handle each chain,
	 * vh_queue_push() it now or later. The library flushes the used ring and signals the call
	 * eventfd once after queue_kick returns. Return < 0 (-EPROTO: the guest sent garbage) to
	 * mark the ring broken: it is not kicked again until the front-end resets it. REQUIRED.
	 */
	int (*queue_kick)(void *inst, struct vh_queue *q);
	/*
	 * queue_stop - @q stops (GET_VRING_BASE, SET_VRING_ENABLE 0, reset, disconnect), or
	 * pauses while memory or its addresses change (SET_MEM_TABLE, REM_MEM_REG, SET_VRING_ADDR,
	 * SET_FEATURES: queue_start follows with the ring position kept). Finish
	 * or cancel outstanding chains and vh_queue_push() what completed before returning (it may
	 * wait for the device's own I/O briefly); chains not pushed by then are abandoned (with
	 * INFLIGHT_SHMFD they stay recorded and are resubmitted at the next start). After it
	 * returns the device must not touch @q's iovecs. The queue's context (poll mode: the
	 * dispatch thread with the worker parked).
	 */
	void (*queue_stop)(void *inst, struct vh_queue *q);
	/*
	 * (vh_queue_suspending() tells queue_stop that GET_VRING_BASE_INFLIGHT was negotiated and
	 * this is a GET_VRING_BASE: push nothing more; chains still outstanding stay in the inflight
	 * region and are resubmitted by the next start, here or in another back-end process.)
	 */

	/*
	 * reset - RESET_OWNER or RESET_DEVICE: return the device to its initial state. Queues
	 * are already stopped and forgotten. (SET_STATUS is only recorded for GET_STATUS: QEMU
	 * sends SET_STATUS 0 before GET_VRING_BASE, so it must not reset the rings.) Dispatch
	 * thread.
	 */
	void (*reset)(void *inst, struct vh_conn *conn);

	/*
	 * Device state for migration (vhost-user.rst "Migrating back-end state"): with both
	 * hooks set the library offers DEVICE_STATE and runs SET_DEVICE_STATE_FD /
	 * CHECK_DEVICE_STATE; the pipe I/O is done by the library in the event loop, the device
	 * only turns its state into bytes and back. Both run on the dispatch thread with every
	 * ring of @conn stopped (GET_VRING_BASE'd or never kicked).
	 *
	 * state_save - direction SAVE: put the instance's state into a malloc()ed buffer
	 * (*@buf, *@len <= VH_SERVER_MAX_DEVICE_STATE); the library free()s it once sent.
	 * Return < 0 to fail the request (the front-end sees the error in the reply).
	 */
	int (*state_save)(void *inst, struct vh_conn *conn, void **buf, size_t *len);
	/*
	 * state_load - direction LOAD: the front-end sent the whole state (@len bytes, at most
	 * VH_SERVER_MAX_DEVICE_STATE) and closed its end. Check it (it is untrusted: version,
	 * lengths, values) and apply it; return -EINVAL for a state that does not fit this device
	 * (CHECK_DEVICE_STATE then reports the failure) and leave the device as it was.
	 */
	int (*state_load)(void *inst, struct vh_conn *conn, const void *buf, size_t len);
};

/* Largest device state a back-end accepts (LOAD) or sends (SAVE). */
#define VH_SERVER_MAX_DEVICE_STATE (16u << 20)

/** struct vh_server_config - copied at vh_server_create() (strings too). */
struct vh_server_config {
	const char *name; /* for log lines ("vh-blk"); NULL: "vhost-user" */

	/*
	 * Where front-ends come from; exactly one of:
	 *   socket_path: listen here (a stale socket file is replaced, see vh_sock_listen());
	 *   listen_fd >= 0: an inherited listening socket (--fd); the server owns it from now on.
	 * Both unset (NULL and -1): no listener; connections are added with vh_server_add_conn().
	 * (0 is a valid fd: set listen_fd = -1 when not used.)
	 */
	const char *socket_path;
	int listen_fd;
	unsigned max_connections; /* concurrent instances; 0 or 1: one at a time */

	/* The device. */
	const struct vh_device_ops *ops;
	void *opaque;			  /* device opaque: passed to conn_open, default inst */
	uint64_t features;		  /* device feature bits, ORed with the library's */
	uint64_t protocol_features_clear; /* protocol feature bits not to offer */
	/*
	 * The device can suspend a ring instead of draining it (queue_stop with
	 * vh_queue_suspending() true leaves outstanding chains unpushed): offer
	 * GET_VRING_BASE_INFLIGHT (with INFLIGHT_SHMFD).
	 */
	bool suspend_inflight;
	/*
	 * Offer INBAND_NOTIFICATIONS: VRING_KICK messages wake the ring; a ring whose call / err
	 * eventfd the front-end left out is signalled with BACKEND_VRING_CALL / _ERR on the
	 * back-end channel. Off by default: a front-end that acks every bit it knows (QEMU masks
	 * with all bits up to its maximum) but never handles the in-band messages stays safe.
	 */
	bool inband_notifications;
	/*
	 * SHMEM: the device's VIRTIO Shared Memory Regions, sizes in bytes indexed by shmid (0: id
	 * unused; otherwise whole pages), @shmem_count entries (<= VH_USER_SHMEM_MAX_REGIONS),
	 * copied at create. Any non-zero size offers SHMEM: GET_SHMEM_CONFIG reports them and
	 * vh_conn_shmem_map() / _unmap() map fd ranges into them on the front-end's side.
	 */
	const uint64_t *shmem_sizes;
	unsigned shmem_count;
	/* Offer HOST_NOTIFIER: the device hands notify pages over (vh_queue_set_host_notifier()). */
	bool host_notifiers;
	/*
	 * Refuse guest memory (SET_MEM_TABLE, ADD_MEM_REG) whose fd is not sealed against
	 * shrinking (F_SEAL_SHRINK, e.g. QEMU's memory-backend-memfd with seal=on): a front-end
	 * that truncates an unsealed file under a mapped region makes the back-end's next access
	 * to it raise SIGBUS, which kills the process. Off by default: file-backed guest memory
	 * (memory-backend-file, hugetlbfs files) cannot be sealed. A region past the fd's size is
	 * refused either way.
	 */
	bool require_sealed_memory;
	unsigned num_queues;	 /* 1..VH_SERVER_MAX_QUEUES (GET_QUEUE_NUM) */
	unsigned max_queue_size; /* 0: VH_VQ_MAX_NUM; SET_VRING_NUM above is refused */
	uint32_t config_size;	 /* bytes of device config space (GET/SET_CONFIG) */

	/* Datapath. */
	enum vh_server_datapath datapath;
	unsigned poll_threads; /* POLL: 0 = one per queue group, else see poll_group */
	/*
	 * POLL: queues i .. i + poll_group - 1 (i a multiple of poll_group) share one worker, so
	 * a device may move chains between them (a net device's receive / transmit pair): queue i
	 * runs on thread (i / poll_group) % N. 0 or 1: every queue alone (thread i % N).
	 */
	unsigned poll_group;
	/*
	 * EVENT: ceiling (microseconds) of each queue's adaptive poll window. After a kick that
	 * found work the dispatch thread keeps polling the ring (driver notifications off) for up
	 * to the window of no new work before sleeping again. The window grows while polling
	 * finds work cheaply (a busy ring: little idle time per request) and shrinks when it
	 * does not, down to 0 (plain sleep/wake) on a request-response or idle ring; see
	 * docs/architecture.md. Saves the driver's kick and our wake-up per batch on a busy ring.
	 * Per queue: vh_queue_set_poll_max_us(). 0: never poll.
	 */
	unsigned event_poll_us;

	/*
	 * A front-end that sent part of a message must send the rest within this many ms, or
	 * its connection is closed (0: VH_SOCK_MSG_TIMEOUT_MS). Messages are received
	 * incrementally, so a stalled front-end never holds the dispatch thread meanwhile.
	 */
	unsigned msg_timeout_ms;

	struct vh_log_sink log;
};

/**
 * vh_server_config_init() - fill @cfg with defaults: listen_fd -1, one connection at a time,
 * event datapath, everything else zero.
 * @cfg: the config to fill.
 * Thread: any.
 */
VH_API void vh_server_config_init(struct vh_server_config *cfg);

/**
 * vh_server_create() - create a server and start listening.
 * @cfg: configuration (copied).
 * @out: receives the server.
 *
 * Return: 0; -EINVAL bad config (no ops or queue_kick, num_queues 0 or too big, both
 * socket_path and listen_fd set, max_queue_size not a power of two or above VH_VQ_MAX_NUM,
 * config_size above VH_USER_MAX_CONFIG_SIZE); -errno from
 * vh_sock_listen(), epoll_create1(), eventfd(), timerfd_create(); -ENOMEM.
 * Thread: any.
 */
VH_API int vh_server_create(const struct vh_server_config *cfg, struct vh_server **out);

/**
 * vh_server_destroy() - close every connection (queue_stop, conn_close for each), stop the
 * workers, close the listener (and unlink cfg.socket_path), free; sets *@s to NULL.
 * @s: the server (NULL or *s NULL: no-op).
 * Thread: the dispatch thread, with vh_server_run() returned.
 */
VH_API void vh_server_destroy(struct vh_server **s);

/**
 * vh_server_add_conn() - serve an already-connected socket (socketpair, a front-end that
 * connected to us some other way, tests). The server owns @fd from now on, also on failure.
 * @s: the server.
 * @fd: a connected unix stream socket.
 *
 * Return: 0; -EBUSY max_connections reached (@fd is closed); -errno from conn_open or epoll.
 * Thread: the dispatch thread.
 */
VH_API int vh_server_add_conn(struct vh_server *s, int fd);

/**
 * vh_server_fd() - one fd (an epoll fd) that is readable when the server has work: a listener
 * connection, a message, a kick, a wake, a stop request. Put it in your own event loop and call
 * vh_server_dispatch() when it is readable.
 * @s: the server.
 * Return: the fd (owned by the server). Thread: any.
 */
VH_API int vh_server_fd(const struct vh_server *s);

/**
 * vh_server_dispatch() - handle everything that is ready now, without blocking.
 * @s: the server.
 *
 * Accepts connections, handles control messages (a connection that sends a bad message gets an
 * error reply or is closed; the server and other connections are not affected), runs queue_kick
 * for kicked rings (event mode).
 *
 * Return: number of events handled (>= 0; a vh_server_stop() request counts as one and sets
 * vh_server_stopped()); -errno only for failures of the server itself (epoll_wait).
 * Thread: the dispatch thread (one at a time).
 */
VH_API int vh_server_dispatch(struct vh_server *s);

/**
 * vh_server_run() - loop: wait on vh_server_fd() and vh_server_dispatch() until
 * vh_server_stop() is called.
 * @s: the server.
 * Return: 0 after a stop; -errno if waiting or dispatching failed. Thread: the dispatch thread.
 */
VH_API int vh_server_run(struct vh_server *s);

/**
 * vh_server_stop() - make vh_server_run() return (writes an eventfd).
 * @s: the server.
 * Thread: any; async-signal-safe (may be called from a signal handler).
 */
VH_API void vh_server_stop(struct vh_server *s);

/**
 * vh_server_stopped() - whether vh_server_stop() was called since the last vh_server_run()
 * started.
 * @s: the server.
 * Return: true when stopped. Errors: none. Thread: the dispatch thread.
 */
VH_API bool vh_server_stopped(const struct vh_server *s);

/**
 * vh_server_num_conns() - connections currently served.
 * @s: the server.
 * Return: the count. Errors: none. Thread: the dispatch thread.
 */
VH_API unsigned vh_server_num_conns(const struct vh_server *s);

/**
 * vh_server_config_changed() - tell every connected front-end that the config space changed
 * (VHOST_USER_BACKEND_CONFIG_CHANGE_MSG on the back-end channel; connections without
 * BACKEND_REQ and CONFIG negotiated are skipped).
 * @s: the server.
 * Return: number of front-ends notified (>= 0), or the first -errno of a failed send.
 * Thread: the dispatch thread.
 */
VH_API int vh_server_config_changed(struct vh_server *s);

/** Callback for vh_server_watch(); @events are EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP bits. */
typedef void (*vh_server_watch_fn)(void *opaque, int fd, uint32_t events);

/**
 * vh_server_watch() - have the dispatch loop watch a device fd too (e.g. an eventfd its I/O
 * threads signal on completion); @fn runs on the dispatch thread.
 * @s: the server. @fd: the fd (not owned). @events: EPOLLIN etc. @fn, @opaque: callback.
 * Return: 0; -EEXIST already watched; -errno from epoll_ctl; -ENOMEM. Thread: dispatch thread.
 */
VH_API int vh_server_watch(struct vh_server *s, int fd, uint32_t events, vh_server_watch_fn fn,
			   void *opaque);

/**
 * vh_server_unwatch() - stop watching @fd (before closing it).
 * @s: the server. @fd: a fd given to vh_server_watch().
 * Return: 0, -ENOENT. Thread: dispatch thread.
 */
VH_API int vh_server_unwatch(struct vh_server *s, int fd);

/* ---- connections ---------------------------------------------------------------------------- */

/**
 * vh_conn_server() - the server the connection belongs to.
 * @c: the connection (as passed to a device callback).
 * Return: the server, never NULL. Errors: none.
 * Thread: the dispatch thread or the context of one of the connection's queues.
 */
VH_API struct vh_server *vh_conn_server(const struct vh_conn *c);

/**
 * vh_conn_features() - negotiated virtio features.
 * @c: the connection.
 * Return: the features, 0 before SET_FEATURES. Errors: none.
 * Thread: the dispatch thread or the context of one of the connection's queues (the value only
 * changes while the rings are stopped).
 */
VH_API uint64_t vh_conn_features(const struct vh_conn *c);

/**
 * vh_conn_protocol_features() - negotiated protocol features.
 * @c: the connection.
 * Return: the features, 0 before SET_PROTOCOL_FEATURES. Errors: none.
 * Thread: the dispatch thread or the context of one of the connection's queues.
 */
VH_API uint64_t vh_conn_protocol_features(const struct vh_conn *c);

/**
 * vh_conn_queue() - queue @index of the connection.
 * @c: the connection. @index: ring index.
 * Return: the queue, or NULL when @index >= num_queues. Errors: none.
 * Thread: the dispatch thread or the context of one of the connection's queues.
 */
VH_API struct vh_queue *vh_conn_queue(const struct vh_conn *c, unsigned index);

/**
 * vh_conn_opaque() - the device instance of the connection.
 * @c: the connection.
 * Return: what conn_open stored, else cfg.opaque. Errors: none.
 * Thread: the dispatch thread or the context of one of the connection's queues.
 */
VH_API void *vh_conn_opaque(const struct vh_conn *c);

/**
 * struct vh_shmem_mapping - an fd range to map into a VIRTIO Shared Memory Region.
 * @shmid: region id (cfg.shmem_sizes index). @fd: what to map (not taken; -1 for an unmap).
 * @fd_offset: where in @fd. @shm_offset: where in the region. @len: bytes. Offsets and @len
 * are whole pages. @writable: map read-write (else read-only).
 */
struct vh_shmem_mapping {
	unsigned shmid;
	int fd;
	uint64_t fd_offset;
	uint64_t shm_offset;
	uint64_t len;
	bool writable;
};

/**
 * typedef vh_conn_done_fn - the front-end answered a back-end request: @result 0 done, or
 * -errno refused (our front-end sends its errno; others give -EIO), or -ETIMEDOUT /
 * -ECONNRESET / -EPROTO when the back-end channel went away first. Runs on the dispatch thread.
 */
typedef void (*vh_conn_done_fn)(void *opaque, int result);

/**
 * vh_conn_shmem_map() - ask the front-end to map @m->fd into region @m->shmid
 * (VHOST_USER_BACKEND_SHMEM_MAP with the fd). Never waits: the message is queued on the
 * back-end channel and @done runs (dispatch thread) when the front-end answers, so the device
 * lets the driver use the range only then. The front-end refuses overlapping mappings;
 * vhost-user.rst drops every mapping at device reset.
 * @c: the connection. @m: the range (@m->fd is duplicated, stays the caller's).
 * @done: NULL (fire and forget), or the answer (needs REPLY_ACK). @opaque: for @done.
 *
 * Return: 0 sent (then @done runs exactly once); -EOPNOTSUPP SHMEM, BACKEND_REQ or
 * BACKEND_SEND_FD (or, with @done, REPLY_ACK) not negotiated; -EINVAL unknown region, not whole
 * pages, outside the region, offsets that wrap; -EBADF no fd; -ENOTCONN no back-end channel;
 * -ENOBUFS the channel is full. Thread: any.
 */
VH_API int vh_conn_shmem_map(struct vh_conn *c, const struct vh_shmem_mapping *m,
			     vh_conn_done_fn done, void *opaque);

/**
 * vh_conn_shmem_unmap() - ask the front-end to unmap [@m->shm_offset, + @m->len) of region
 * @m->shmid (VHOST_USER_BACKEND_SHMEM_UNMAP): exactly one earlier vh_conn_shmem_map() range
 * (@m->fd, @m->fd_offset and @m->writable are not used).
 * @c: the connection. @m: the range. @done, @opaque: as for vh_conn_shmem_map().
 * Return: as vh_conn_shmem_map(). Thread: any.
 */
VH_API int vh_conn_shmem_unmap(struct vh_conn *c, const struct vh_shmem_mapping *m,
			       vh_conn_done_fn done, void *opaque);

/* ---- queues (the device's side of a ring) --------------------------------------------------- */

/**
 * vh_queue_pop() - take the next chain: a resubmitted inflight chain first (after a reconnect
 * with INFLIGHT_SHMFD), then the available ring.
 * @q: the queue.
 * @elem: elem->iov and elem->max_iov set by the caller, the rest is filled in (see struct
 *        vh_vq_elem: readable iovecs first, then writable). The iovecs point into guest memory
 *        and stay valid until the chain is pushed or the queue stops.
 *
 * An IOTLB miss sends VHOST_USER_BACKEND_IOTLB_MSG (VHOST_IOTLB_MISS) and returns 0: queue_kick
 * runs again when the update arrives.
 *
 * Return: 1 popped; 0 nothing (now); -ENOBUFS @max_iov too small (nothing consumed); -EPROTO
 * the ring is broken (the guest put garbage in it; logged once, sticky until the front-end
 * resets the ring); -ESHUTDOWN the queue is stopped.
 * Thread: the queue's context. No syscall (except on an IOTLB miss), no allocation.
 */
VH_API int vh_queue_pop(struct vh_queue *q, struct vh_vq_elem *elem);

/**
 * vh_queue_push() - return a popped chain with @written bytes written into its writable part.
 * The bytes and the used entry are marked in the dirty log when logging is on, the inflight
 * entry is cleared. The driver sees it after the next flush: at the end of queue_kick or at
 * vh_queue_notify().
 * @q: the queue. @elem: from vh_queue_pop() on this queue. @written: bytes written.
 * Return: 0; -EPROTO ring broken; -EINVAL more pushes than pops; -ESHUTDOWN queue stopped.
 * Thread: the queue's context. No syscall, no allocation.
 */
VH_API int vh_queue_push(struct vh_queue *q, const struct vh_vq_elem *elem, uint32_t written);

/**
 * vh_queue_suspending() - whether the running queue_stop is a suspend (GET_VRING_BASE with
 * GET_VRING_BASE_INFLIGHT negotiated, cfg.suspend_inflight set): outstanding chains must not be
 * pushed; the device lets go of them (after its own I/O on their buffers finished) and they
 * stay recorded in the inflight region for the next start.
 * @q: the queue.
 * Return: true while suspending. Errors: none. Thread: the queue's context (inside queue_stop).
 */
VH_API bool vh_queue_suspending(const struct vh_queue *q);

/**
 * vh_queue_notify() - publish the pushed chains now and signal the call eventfd if the driver
 * wants it (done automatically after queue_kick; use it for chains pushed elsewhere).
 * @q: the queue.
 * Return: 1 signalled, 0 not needed, -errno from the eventfd write. Thread: the queue's context.
 */
VH_API int vh_queue_notify(struct vh_queue *q);

/**
 * vh_queue_wake() - ask for queue_kick to run again on the queue's context (e.g. an I/O thread
 * finished requests the device now wants to push).
 * @q: the queue.
 * Return: 0, or -ESHUTDOWN when the queue is stopped. Thread: any; async-signal-safe.
 */
VH_API int vh_queue_wake(struct vh_queue *q);

/**
 * vh_queue_set_host_notifier() - hand the front-end ring @q's notify page
 * (VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG, cfg.host_notifiers): one host page of @fd at
 * @offset. A driver then writes the 16-bit ring index there instead of kicking the eventfd, so
 * the device polls the page (e.g. a memfd it mapped itself, or a hardware doorbell) on top of
 * its kick. @fd -1 takes the page back. Never waits (queued on the back-end channel).
 * @q: the queue. @fd: the fd (not taken) or -1. @offset: page aligned. @size: the page size.
 * Return: 0 sent; -EOPNOTSUPP HOST_NOTIFIER, BACKEND_REQ or BACKEND_SEND_FD not negotiated;
 * -EINVAL @size not one page or @offset unaligned; -errno from the send.
 * Thread: any (sends on the back-end channel are serialised).
 */
VH_API int vh_queue_set_host_notifier(struct vh_queue *q, int fd, uint64_t offset, uint64_t size);

/**
 * vh_queue_index() - ring index within the connection.
 * @q: the queue.
 * Return: the index. Errors: none. Thread: any that may use @q.
 */
VH_API unsigned vh_queue_index(const struct vh_queue *q);

/**
 * vh_queue_size() - ring size (SET_VRING_NUM).
 * @q: the queue.
 * Return: the number of descriptors. Errors: none. Thread: the queue's context.
 */
VH_API unsigned vh_queue_size(const struct vh_queue *q);

/**
 * vh_queue_base() - where a stopped ring stands: the base GET_VRING_BASE returned, or the one
 * SET_VRING_BASE set for the next start (split: the next avail index; packed: the index with
 * the wrap counter in bit 15). For a started ring, the base it started from.
 * @q: the queue.
 * Return: the base. Errors: none. Thread: the dispatch thread (e.g. in state_save/state_load).
 */
VH_API uint32_t vh_queue_base(const struct vh_queue *q);

/**
 * vh_queue_conn() - the connection of the queue.
 * @q: the queue.
 * Return: the connection, never NULL. Errors: none. Thread: any that may use @q.
 */
VH_API struct vh_conn *vh_queue_conn(const struct vh_queue *q);

/**
 * vh_queue_set_opaque() - attach device state to the queue (e.g. in queue_start).
 * @q: the queue. @opaque: device pointer, not owned.
 * Thread: the queue's context or the dispatch thread in queue_start/queue_stop.
 */
VH_API void vh_queue_set_opaque(struct vh_queue *q, void *opaque);

/**
 * vh_queue_opaque() - what vh_queue_set_opaque() stored.
 * @q: the queue.
 * Return: the pointer (NULL at start). Errors: none. Thread: the queue's context or the
 * dispatch thread.
 */
VH_API void *vh_queue_opaque(const struct vh_queue *q);

/**
 * vh_queue_set_poll_max_us() - set the ceiling of this queue's adaptive event-mode poll window
 * (default: vh_server_config.event_poll_us, applied at each ring start).
 * @q: the queue. @us: microseconds; 0: this queue never polls (plain sleep/wake per kick).
 * Errors: none. No effect in the poll datapath. Thread: queue_start (after the default was
 * applied) or the queue's context.
 */
VH_API void vh_queue_set_poll_max_us(struct vh_queue *q, unsigned us);

/**
 * vh_queue_poll_window_ns() - the queue's adaptive poll window now.
 * @q: the queue.
 * Return: nanoseconds of no new work the dispatch thread polls the ring for after a kick that
 * found work, between 0 (no polling) and the ceiling. Errors: none. Thread: the queue's context.
 */
VH_API uint64_t vh_queue_poll_window_ns(const struct vh_queue *q);

#endif
