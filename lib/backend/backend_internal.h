/* SPDX-License-Identifier: BSD-3-Clause */
/* Private to backend/: server, connection and queue state shared by its files. */
#ifndef VH_BACKEND_INTERNAL_H
#define VH_BACKEND_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/vhost_types.h>

#include <vhost/backend.h>
#include <vhost/log.h>
#include <vhost/mem.h>
#include <vhost/proto.h>
#include <vhost/sock.h>
#include <vhost/vq.h>

#include "util/util.h"

/* What an epoll registration stands for (epoll_event.data.ptr points at a struct vh_watch). */
enum vh_watch_kind {
	VH_WATCH_LISTEN,
	VH_WATCH_STOP,
	VH_WATCH_CONN,
	VH_WATCH_KICK,
	VH_WATCH_WAKE,
	VH_WATCH_USER,
	VH_WATCH_TIMER,
	VH_WATCH_CHAN,	     /* the back-end channel's socket (ptr: conn) */
	VH_WATCH_CHAN_TIMER, /* its timerfd (ptr: conn) */
};

struct vh_watch {
	enum vh_watch_kind kind;
	int fd;	   /* -1 when not registered */
	void *ptr; /* server, conn or queue */
	bool dead; /* USER: unwatched during this dispatch, freed at its end */
	vh_server_watch_fn fn;
	void *opaque;
	struct vh_watch *next; /* USER list */
};

/* Chains one queue_kick may pop before the dispatch thread serves other fds. */
#define VH_QUEUE_BUDGET 256

struct vh_queue {
	struct vh_conn *conn;
	unsigned index;
	struct vh_vq *vq; /* exists from the first start until GET_VRING_BASE / reset */
	unsigned num;
	struct vhost_vring_addr addr;
	struct vh_vq_addrs host; /* translated ring areas while mapped */
	bool addr_set;
	uint32_t base;
	int kick_fd;
	int call_fd;
	int err_fd;
	bool kick_set; /* SET_VRING_KICK seen: the ring is started (vhost-user.rst "Ring states") */
	bool enabled;
	bool live;	    /* queue_start ran and queue_stop did not */
	bool paused;	    /* live before vh_conn_pause(): restart at vh_conn_resume() */
	bool broken;	    /* queue_kick failed, or the ring saw garbage */
	bool err_signalled; /* the error eventfd was written for this breakage */
	bool suspending;    /* queue_stop of a GET_VRING_BASE with GET_VRING_BASE_INFLIGHT */
	bool iotlb_wait;    /* an IOTLB miss is outstanding: retry on update */
	bool pending_start; /* ring addresses missed in the IOTLB: start on update */
	struct vh_watch kick_w;
	struct vh_watch wake_w;
	int wake_fd;
	void *opaque;
	unsigned budget;      /* pops left in this queue_kick (fairness); UINT_MAX outside it */
	bool budget_hit;      /* queue_kick stopped on the budget: run again soon */
	unsigned popped;      /* chains popped in this queue_kick (event-mode poll window) */
	uint64_t poll_ns;     /* event mode: adaptive poll window now, 0..poll_max_ns */
	uint64_t poll_max_ns; /* its ceiling (cfg.event_poll_us, vh_queue_set_poll_max_us()) */
	uint64_t poll_slept;  /* CLOCK_MONOTONIC ns the ring last went back to epoll; 0: never */
	unsigned worker;      /* poll mode: index of the worker thread */
	void *infl; /* this queue's part of the inflight region, while vq/ tracks into it */
};

/*
 * Replies the front-end has not taken yet. The dispatch thread never waits for a peer's socket:
 * a reply that does not fit is queued and sent on EPOLLOUT; while the queue is full no further
 * request is read (each request has at most one reply), so it never grows past this.
 */
#define VH_CONN_TXQ_MAX 16

/*
 * Back-end channel (SET_BACKEND_REQ_FD, chan.c). The dispatch thread and the poll workers send
 * on it without ever waiting: what the socket does not take is queued (at most
 * VH_CHAN_QUEUE_MAX messages) and sent on EPOLLOUT by the dispatch thread. A message sent with
 * a reply callback (NEED_REPLY) is answered asynchronously: the dispatch thread reads the
 * front-end's REPLY_ACK and calls the callback. A front-end that lets the queue fill, does not
 * take the oldest message or does not answer within msg_timeout_ms loses the channel (one log
 * line); the connection itself keeps working.
 */
#define VH_CHAN_QUEUE_MAX 64

/*
 * A reply to a back-end request: @result 0 (REPLY_ACK 0), -EIO (non-zero ack), or -ETIMEDOUT /
 * -ECONNRESET / -EPROTO when the channel went away first (@reply NULL). @reply's fds are closed
 * after the call unless the callback takes them (sets the slot to -1). Runs on the dispatch
 * thread, with no backend lock held.
 */
typedef void (*vh_chan_reply_fn)(struct vh_conn *c, void *opaque, int result, struct vh_msg *reply);

struct vh_chan_wait {
	struct vh_user_hdr sent;
	vh_chan_reply_fn done;
	void *opaque;
};

struct vh_chan {
	struct vh_watch w;	 /* the socket, EPOLLET (workers never touch the epoll set) */
	struct vh_watch timer_w; /* timerfd: the oldest queued message or awaited reply is late */
	int timer_fd;
	bool broken;			     /* given up: sends fail quietly until the next fd */
	int err;			     /* why (what its waiters get) */
	struct vh_msg *q[VH_CHAN_QUEUE_MAX]; /* not sent yet (own their fds), oldest first */
	unsigned q_head, q_len;
	size_t q_off;				     /* bytes of q[q_head] already sent */
	struct vh_chan_wait wait[VH_CHAN_QUEUE_MAX]; /* replies owed, oldest first */
	unsigned w_head, w_len;
	struct vh_msg *rx;
	struct vh_msg_rx rx_state;
};

struct vh_inflight {
	int fd; /* -1: none */
	void *base;
	uint64_t size;
	uint16_t num_queues;
	uint16_t queue_size;
	uint64_t queue_region; /* bytes per queue */
	bool packed;
};

/* Postcopy live migration (PAGEFAULT): ADVISE -> LISTEN -> END, on the dispatch thread. */
enum vh_postcopy_state {
	VH_POSTCOPY_NONE = 0,
	VH_POSTCOPY_ADVISED,   /* uffd exists (handed to the front-end), nothing registered */
	VH_POSTCOPY_LISTENING, /* every mapped region is registered; table changes reply */
};

struct vh_postcopy {
	enum vh_postcopy_state state;
	int uffd;	     /* valid unless state is NONE */
	bool ack_pending;    /* a table reply went out; the front-end's ack has not come yet */
	bool resume_pending; /* rings paused by that table restart at the ack */
};

/*
 * DEVICE_STATE transfer (state.c): the channel fd is non-blocking and watched by the server's
 * epoll set (vh_server_watch()); the dispatch thread moves the bytes as the pipe allows.
 */
struct vh_state_xfer {
	bool active; /* a transfer runs: fd, buf valid */
	bool begun;  /* SET_DEVICE_STATE_FD accepted since the connection opened */
	bool load;
	int fd;
	uint8_t *buf;
	size_t len; /* SAVE: bytes to send; LOAD: bytes received */
	size_t off; /* SAVE: bytes sent */
	size_t cap; /* LOAD: allocated */
	int result; /* of the last transfer: 0 or -errno (CHECK_DEVICE_STATE) */
};

struct vh_conn {
	struct vh_server *s;
	struct vh_conn *next;
	struct vh_watch w;
	int fd;
	unsigned id;
	bool dead;
	char name[80];
	void *inst;
	uint64_t features;
	uint64_t proto_features;
	bool features_acked;
	uint8_t status;
	struct vh_memmap *mem;
	struct vh_iotlb *iotlb;
	uint64_t miss_iova VH_GUARDED_BY(backend_lock); /* last IOTLB miss reported ... */
	bool miss_sent VH_GUARDED_BY(backend_lock);	/* ... and no update since: do not repeat */
	struct vh_dirty_log *dlog;
	int log_fd; /* SET_LOG_FD eventfd */
	int backend_fd VH_GUARDED_BY(backend_lock);
	struct vh_chan chan VH_GUARDED_BY(backend_lock);
	/*
	 * backend_lock serialises sends on backend_fd (workers report IOTLB misses and in-band
	 * calls), guards the channel's queues and miss_iova/miss_sent. backend_fd is written only
	 * by the dispatch thread, under the lock, so the dispatch thread may read it without.
	 */
	struct vh_mutex backend_lock;
	struct vh_inflight infl;
	struct vh_state_xfer dstate;
	unsigned num_queues;
	struct vh_msg *rx;	   /* receive buffer (may hold a partial message) */
	struct vh_msg_rx rx_state; /* how much of *rx has arrived */
	int64_t rx_deadline;	   /* CLOCK_MONOTONIC ms the partial *rx must complete by; -1 */
	struct vh_msg *tx;	   /* reply buffer */
	struct vh_msg *txq[VH_CONN_TXQ_MAX]; /* queued replies (own their fds), oldest first */
	unsigned txq_head, txq_len;
	size_t tx_off;	     /* bytes of txq[txq_head] already sent */
	int64_t tx_deadline; /* CLOCK_MONOTONIC ms the front-end must take the head reply by; -1 */
	uint32_t events;     /* what c->fd is registered for in the epoll set */
	struct vh_postcopy pc;
	struct vh_queue q[];
};

struct vh_worker {
	struct vh_server *s;
	pthread_t thread;
	bool running;
	bool parked VH_GUARDED_BY(s->lock);
	/* Changed by the dispatch thread only while this worker is parked (vh_poll_park()). */
	unsigned nq;
	struct vh_queue **qs;
	unsigned cap;
};

struct vh_server {
	struct vh_server_config cfg;
	char name[64];
	char *socket_path;
	int epfd;
	struct vh_watch listen_w;
	struct vh_watch stop_w;
	int stop_fd;
	struct vh_watch timer_w; /* timerfd: the earliest rx/tx_deadline of any connection */
	int timer_fd;
	bool stop;
	unsigned nconns;
	unsigned next_id;
	struct vh_conn *conns;
	struct vh_conn *zombies; /* closed during this dispatch; freed at its end */
	struct vh_watch *user_watches;
	bool dispatching;
	int postcopy_probe; /* userfaultfd: 0 not probed yet, 1 usable, -errno not usable */
	/* poll mode */
	/* lock guards pause (writes; workers poll it atomically), exit_workers, workers[].parked. */
	struct vh_mutex lock;
	struct vh_cond cond_park;
	struct vh_cond cond_resume;
	unsigned pause VH_GUARDED_BY(lock);
	bool exit_workers VH_GUARDED_BY(lock);
	unsigned nworkers;
	struct vh_worker *workers;
	uint64_t *shmem_sizes; /* copy of cfg.shmem_sizes (areas.c) */
};

/* Errors: "<conn>: <REQUEST>: <what>: <strerror>"; returns @err. */
int vh_conn_fail(struct vh_conn *c, uint32_t req, const char *what, int err);

/* server.c */
int vh_server_epoll_add(struct vh_server *s, struct vh_watch *w, int fd, uint32_t events);
void vh_server_epoll_del(struct vh_server *s, struct vh_watch *w);
void vh_conn_close(struct vh_conn *c);
int64_t vh_server_now_ms(void);
void vh_server_rearm_timer(struct vh_server *s);

/* dispatch.c */
void vh_conn_readable(struct vh_conn *c);
void vh_conn_writable(struct vh_conn *c);
void vh_conn_drop_replies(struct vh_conn *c);
int vh_conn_handle(struct vh_conn *c, struct vh_msg *m);

/* vring.c */
int vh_ring_handler(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply);
void vh_queue_reset(struct vh_queue *q);
int vh_queue_try_start(struct vh_queue *q);
void vh_queue_stop_live(struct vh_queue *q);
/* Worker (poll) or dispatch thread; calls into the device, so no backend lock may be held. */
void vh_queue_run(struct vh_queue *q) VH_EXCLUDES(&q->conn->s->lock);
void vh_conn_pause(struct vh_conn *c);
void vh_conn_resume(struct vh_conn *c);
void vh_conn_iotlb_updated(struct vh_conn *c) VH_EXCLUDES(&c->backend_lock);
void vh_conn_attach_log(struct vh_conn *c);

/* chan.c */
void vh_chan_init(struct vh_conn *c);
int vh_chan_attach(struct vh_conn *c, int fd) VH_EXCLUDES(&c->backend_lock);
void vh_chan_close(struct vh_conn *c) VH_EXCLUDES(&c->backend_lock);
void vh_chan_event(struct vh_conn *c, uint32_t events) VH_EXCLUDES(&c->backend_lock);
void vh_chan_timer(struct vh_conn *c) VH_EXCLUDES(&c->backend_lock);
/*
 * Send @m on the back-end channel without waiting (any thread). @done NULL: fire and forget.
 * @done set: the message goes with NEED_REPLY (REPLY_ACK must be negotiated, else -EOPNOTSUPP)
 * and @done runs later on the dispatch thread, exactly once, if this returns 0. @m's fds stay
 * the caller's. Returns 0, -ENOTCONN (no channel), -ENOBUFS (queue full: channel closed), or
 * another -errno; every failure but -ENOTCONN after a logged breakage is logged.
 */
int vh_chan_send(struct vh_conn *c, struct vh_msg *m, vh_chan_reply_fn done, void *opaque)
    VH_EXCLUDES(&c->backend_lock);
int vh_conn_send_backend(struct vh_conn *c, struct vh_msg *m) VH_EXCLUDES(&c->backend_lock);

/* dispatch.c: a copy of @m that owns duplicates of its fds; NULL + errno on failure */
struct vh_msg *vh_conn_msg_copy(const struct vh_msg *m);
void vh_conn_msg_free(struct vh_msg *m);

/* inflight.c */
int vh_inflight_get(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply);
int vh_inflight_set(struct vh_conn *c, struct vh_msg *m);
void vh_inflight_drop(struct vh_conn *c);
int vh_inflight_queue_start(struct vh_queue *q);
void vh_inflight_queue_stop(struct vh_queue *q);

/*
 * A handler's return: its @reply goes out although the request normally has none (postcopy
 * SET_MEM_TABLE / ADD_MEM_REG answer with the back-end's addresses).
 */
#define VH_HANDLER_REPLY 1

/* postcopy.c */
uint64_t vh_postcopy_offer(struct vh_server *s);
int vh_postcopy_advise(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply);
int vh_postcopy_listen(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply);
int vh_postcopy_end(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply);
/* While listening: register @map's regions, fill @reply with their addresses (SET_MEM_TABLE).
 * 0 when not listening, VH_HANDLER_REPLY, or -errno (logged). */
int vh_postcopy_mem_table(struct vh_conn *c, struct vh_memmap *map, const struct vh_msg *m,
			  struct vh_msg *reply);
/* Same for the region ADD_MEM_REG just added to c->mem. */
int vh_postcopy_add_region(struct vh_conn *c, const struct vh_msg *m, struct vh_msg *reply);
/* True (message consumed) when @m is the front-end's ack of a postcopy table reply. */
bool vh_postcopy_take_ack(struct vh_conn *c, struct vh_msg *m);
void vh_postcopy_drop(struct vh_conn *c);
/* state.c */
int vh_state_set_fd(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply);
int vh_state_check(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply);
void vh_state_drop(struct vh_conn *c);

/* areas.c: SHMEM regions and host notifiers (copy/check the config, offer, GET_SHMEM_CONFIG). */
int vh_areas_config(struct vh_server *s);
uint64_t vh_areas_protocol_features(const struct vh_server *s);
int vh_areas_get_shmem_config(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply);

/* poll.c */
int vh_poll_start(struct vh_server *s);
void vh_poll_stop(struct vh_server *s) VH_EXCLUDES(&s->lock);
void vh_poll_park(struct vh_server *s) VH_EXCLUDES(&s->lock);
void vh_poll_resume(struct vh_server *s) VH_EXCLUDES(&s->lock);
void vh_poll_attach(struct vh_queue *q);
void vh_poll_detach(struct vh_queue *q);

#endif
