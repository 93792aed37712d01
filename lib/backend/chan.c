/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * backend/chan.c: the back-end channel (vhost-user.rst "Back-end communication",
 * SET_BACKEND_REQ_FD). Back-end requests go out without ever blocking the thread that sends
 * them: what the socket does not take is queued and sent by the dispatch thread on EPOLLOUT;
 * replies (REPLY_ACK) are read on EPOLLIN and handed to the sender's callback. The socket is
 * registered edge-triggered for both directions once, so a poll worker that queues a message
 * never touches the epoll set: the socket was full when it queued, and its draining is an edge.
 *
 * A front-end that does not read the channel costs at most VH_CHAN_QUEUE_MAX messages and
 * msg_timeout_ms: then the channel is shut down (one log line), its waiters get an error, and
 * later sends fail quietly with -ENOTCONN until the front-end sends a new SET_BACKEND_REQ_FD.
 * The connection and every other connection keep being served.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "backend/backend_internal.h"

/* Replies completed under the lock, delivered after it is dropped. */
struct vh_chan_done {
	struct vh_chan_wait w;
	int result;
	struct vh_msg *reply;
};

struct vh_chan_batch {
	struct vh_chan_done d[VH_CHAN_QUEUE_MAX];
	unsigned n;
};

void vh_chan_init(struct vh_conn *c) VH_NO_THREAD_SAFETY_ANALYSIS
{
	c->chan.w = (struct vh_watch){ .kind = VH_WATCH_CHAN, .fd = -1, .ptr = c };
	c->chan.timer_w = (struct vh_watch){ .kind = VH_WATCH_CHAN_TIMER, .fd = -1, .ptr = c };
	c->chan.timer_fd = -1;
	vh_msg_rx_init(&c->chan.rx_state);
}

static bool chan_outstanding(const struct vh_conn *c) VH_REQUIRES(&c->backend_lock)
{
	return c->chan.q_len || c->chan.w_len;
}

/* (Re)start the clock for the oldest outstanding message, or stop it when none is left. */
static void chan_arm(struct vh_conn *c) VH_REQUIRES(&c->backend_lock)
{
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };
	unsigned ms = c->s->cfg.msg_timeout_ms;

	if (c->chan.timer_fd < 0)
		return;
	if (chan_outstanding(c)) {
		its.it_value.tv_sec = ms / 1000;
		its.it_value.tv_nsec = (long)(ms % 1000) * 1000000 + 1;
	}
	timerfd_settime(c->chan.timer_fd, 0, &its, NULL);
}

static void chan_fail_waiters(struct vh_conn *c, int err, struct vh_chan_batch *b)
    VH_REQUIRES(&c->backend_lock)
{
	struct vh_chan *ch = &c->chan;

	for (; ch->w_len; ch->w_len--, ch->w_head = (ch->w_head + 1) % VH_CHAN_QUEUE_MAX)
		b->d[b->n++] = (struct vh_chan_done){ .w = ch->wait[ch->w_head], .result = err };
}

static void chan_drop_queue(struct vh_conn *c) VH_REQUIRES(&c->backend_lock)
{
	struct vh_chan *ch = &c->chan;

	for (; ch->q_len; ch->q_len--, ch->q_head = (ch->q_head + 1) % VH_CHAN_QUEUE_MAX)
		vh_conn_msg_free(ch->q[ch->q_head]);
	ch->q_off = 0;
}

/*
 * Give up on the channel (any thread): log why, drop the queue, and shut the socket down so
 * the front-end sees it end and the dispatch thread gets an EPOLLHUP edge to close it.
 */
static void chan_break(struct vh_conn *c, uint32_t req, const char *what, int err)
    VH_REQUIRES(&c->backend_lock)
{
	if (c->chan.broken)
		return;
	vh_logf(&c->s->cfg.log, VH_LOG_ERR, c->name, "%s: back-end channel: %s: %s",
		vh_proto_backend_request_name(req), what, strerror(-err));
	c->chan.broken = true;
	c->chan.err = err;
	chan_drop_queue(c);
	if (c->backend_fd >= 0)
		shutdown(c->backend_fd, SHUT_RDWR);
}

/* Dispatch thread: forget the socket; its waiters get @err. */
static void chan_release(struct vh_conn *c, int err, struct vh_chan_batch *b)
    VH_REQUIRES(&c->backend_lock)
{
	struct vh_chan *ch = &c->chan;

	chan_drop_queue(c);
	chan_fail_waiters(c, err, b);
	if (ch->rx)
		vh_msg_rx_discard(&ch->rx_state, ch->rx);
	free(ch->rx);
	ch->rx = NULL;
	vh_server_epoll_del(c->s, &ch->w);
	vh_server_epoll_del(c->s, &ch->timer_w);
	if (c->backend_fd >= 0)
		close(c->backend_fd);
	c->backend_fd = -1;
	if (ch->timer_fd >= 0)
		close(ch->timer_fd);
	ch->timer_fd = -1;
}

static void chan_deliver(struct vh_conn *c, struct vh_chan_batch *b) VH_EXCLUDES(&c->backend_lock)
{
	for (unsigned i = 0; i < b->n; i++) {
		struct vh_chan_done *d = &b->d[i];

		d->w.done(c, d->w.opaque, d->result, d->reply);
		if (d->reply)
			vh_conn_msg_free(d->reply);
	}
	b->n = 0;
}

void vh_chan_close(struct vh_conn *c)
{
	struct vh_chan_batch b = { .n = 0 };

	vh_mutex_lock(&c->backend_lock);
	chan_release(c, -ECONNRESET, &b);
	c->chan.broken = false;
	vh_mutex_unlock(&c->backend_lock);
	chan_deliver(c, &b);
}

int vh_chan_attach(struct vh_conn *c, int fd)
{
	struct vh_chan *ch = &c->chan;
	struct vh_chan_batch b = { .n = 0 };
	int err = 0, tfd;

	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	vh_mutex_lock(&c->backend_lock);
	/* A new channel replaces the old one: what was owed on it never comes. */
	chan_release(c, -ECONNRESET, &b);
	ch->broken = false;
	ch->rx = malloc(sizeof(*ch->rx));
	if (tfd < 0 || !ch->rx) {
		err = tfd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	vh_msg_init(ch->rx, 0, 0, 0);
	vh_msg_rx_init(&ch->rx_state);
	err = vh_server_epoll_add(c->s, &ch->timer_w, tfd, EPOLLIN);
	if (err < 0)
		goto out;
	ch->timer_fd = tfd;
	tfd = -1;
	err = vh_server_epoll_add(c->s, &ch->w, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
	if (err < 0)
		goto out;
	c->backend_fd = fd;
	fd = -1;
out:
	if (err < 0)
		chan_release(c, err, &b);
	vh_mutex_unlock(&c->backend_lock);
	if (tfd >= 0)
		close(tfd);
	if (fd >= 0)
		close(fd);
	chan_deliver(c, &b);
	if (err < 0)
		return vh_conn_fail(c, VH_USER_SET_BACKEND_REQ_FD,
				    "cannot watch the back-end channel", err);
	return 0;
}

/* Send queued messages in order until the socket is full. */
static int chan_flush(struct vh_conn *c) VH_REQUIRES(&c->backend_lock)
{
	struct vh_chan *ch = &c->chan;
	struct vh_msg *m;
	int err;

	while (ch->q_len) {
		m = ch->q[ch->q_head];
		err = vh_sock_send_step(c->backend_fd, m, &ch->q_off);
		if (err == -EAGAIN)
			return 0;
		if (err < 0) {
			chan_break(c, m->hdr.request, "cannot send", err);
			return err;
		}
		vh_conn_msg_free(m);
		ch->q_head = (ch->q_head + 1) % VH_CHAN_QUEUE_MAX;
		ch->q_len--;
		ch->q_off = 0;
		chan_arm(c); /* the front-end took one: the next gets a fresh deadline */
	}
	return 0;
}

static int chan_enqueue(struct vh_conn *c, const struct vh_msg *m, size_t off)
    VH_REQUIRES(&c->backend_lock)
{
	struct vh_chan *ch = &c->chan;
	struct vh_msg *q;

	if (ch->q_len >= VH_CHAN_QUEUE_MAX) {
		chan_break(c, m->hdr.request, "the front-end does not read it (queue full)",
			   -ENOBUFS);
		return -ENOBUFS;
	}
	q = vh_conn_msg_copy(m);
	if (!q)
		return -errno;
	ch->q[(ch->q_head + ch->q_len) % VH_CHAN_QUEUE_MAX] = q;
	if (ch->q_len++ == 0)
		ch->q_off = off;
	return 0;
}

static int chan_send_locked(struct vh_conn *c, struct vh_msg *m, vh_chan_reply_fn done,
			    void *opaque) VH_REQUIRES(&c->backend_lock)
{
	struct vh_chan *ch = &c->chan;
	bool was_idle = !chan_outstanding(c);
	size_t off = 0;
	int err = 0;

	if (c->backend_fd < 0 || ch->broken)
		return -ENOTCONN;
	if (done && ch->w_len >= VH_CHAN_QUEUE_MAX) {
		chan_break(c, m->hdr.request, "the front-end does not answer (too many owed)",
			   -ENOBUFS);
		return -ENOBUFS;
	}
	if (ch->q_len == 0)
		err = vh_sock_send_step(c->backend_fd, m, &off);
	if (ch->q_len || err == -EAGAIN)
		err = chan_enqueue(c, m, off);
	else if (err < 0)
		chan_break(c, m->hdr.request, "cannot send", err);
	if (err < 0)
		return err;
	if (done)
		ch->wait[(ch->w_head + ch->w_len++) % VH_CHAN_QUEUE_MAX] =
		    (struct vh_chan_wait){ .sent = m->hdr, .done = done, .opaque = opaque };
	if (was_idle && chan_outstanding(c))
		chan_arm(c);
	return 0;
}

int vh_chan_send(struct vh_conn *c, struct vh_msg *m, vh_chan_reply_fn done, void *opaque)
{
	const uint64_t ack = 1ull << VH_USER_PROTOCOL_F_REPLY_ACK;
	bool quiet;
	int err;

	if (done && !(c->proto_features & ack))
		return -EOPNOTSUPP;
	if (done)
		m->hdr.flags |= VH_USER_FLAG_NEED_REPLY;
	else
		m->hdr.flags &= ~VH_USER_FLAG_NEED_REPLY;
	vh_mutex_lock(&c->backend_lock);
	quiet = c->chan.broken;
	err = chan_send_locked(c, m, done, opaque);
	quiet = quiet || c->chan.broken; /* chan_break() logged it */
	vh_mutex_unlock(&c->backend_lock);
	if (err < 0 && !quiet)
		vh_logf(&c->s->cfg.log, VH_LOG_ERR, c->name, "%s: cannot send: %s",
			vh_proto_backend_request_name(m->hdr.request), strerror(-err));
	return err;
}

int vh_conn_send_backend(struct vh_conn *c, struct vh_msg *m)
{
	return vh_chan_send(c, m, NULL, NULL);
}

/* A whole message arrived on the channel: it must be the reply the oldest waiter owes. */
static int chan_reply(struct vh_conn *c, struct vh_chan_batch *b) VH_REQUIRES(&c->backend_lock)
{
	struct vh_chan *ch = &c->chan;
	struct vh_msg *m = ch->rx;
	struct vh_chan_wait *w;
	int err;

	if (ch->w_len == 0) {
		vh_msg_close_fds(m);
		chan_break(c, m->hdr.request, "message from the front-end that answers nothing",
			   -EPROTO);
		return -EPROTO;
	}
	w = &ch->wait[ch->w_head];
	err = vh_proto_validate_backend_reply(&w->sent, &m->hdr, m->payload.raw, m->hdr.size,
					      m->nfds);
	if (err < 0) {
		vh_msg_close_fds(m);
		chan_break(c, w->sent.request, "malformed reply", err);
		return err;
	}
	/* The reply buffer goes to the waiter; a fresh one takes the next message. */
	ch->rx = malloc(sizeof(*ch->rx));
	if (!ch->rx) {
		ch->rx = m;
		vh_msg_close_fds(m);
		chan_break(c, w->sent.request, "reply", -ENOMEM);
		return -ENOMEM;
	}
	vh_msg_init(ch->rx, 0, 0, 0);
	b->d[b->n++] =
	    (struct vh_chan_done){ .w = *w, .result = m->payload.u64 ? -EIO : 0, .reply = m };
	ch->w_head = (ch->w_head + 1) % VH_CHAN_QUEUE_MAX;
	ch->w_len--;
	chan_arm(c);
	return 0;
}

/* Edge-triggered: both directions are run until the socket says EAGAIN. */
static void chan_io(struct vh_conn *c, uint32_t events, struct vh_chan_batch *b)
    VH_REQUIRES(&c->backend_lock)
{
	struct vh_chan *ch = &c->chan;
	int err;

	if (chan_flush(c) < 0)
		return;
	/* A reply per waiter at most, so the batch holds every delivery of this call. */
	while (b->n < VH_CHAN_QUEUE_MAX) {
		err = vh_sock_recv_step(c->backend_fd, &ch->rx_state, ch->rx);
		if (err == -EAGAIN)
			break;
		if (err == -ECONNRESET) {
			chan_break(c, VH_USER_BACKEND_NONE, "front-end closed it", err);
			return;
		}
		if (err < 0) {
			chan_break(c, ch->rx->hdr.request, "receive failed", err);
			return;
		}
		if (chan_reply(c, b) < 0)
			return;
	}
	if (events & (EPOLLHUP | EPOLLERR))
		chan_break(c, VH_USER_BACKEND_NONE, "front-end closed it", -ECONNRESET);
}

void vh_chan_event(struct vh_conn *c, uint32_t events)
{
	struct vh_chan_batch b = { .n = 0 };

	vh_mutex_lock(&c->backend_lock);
	if (c->backend_fd >= 0 && !c->chan.broken)
		chan_io(c, events, &b);
	/* Broken here or by a worker (its shutdown() is what woke us): let it go. */
	if (c->backend_fd >= 0 && c->chan.broken)
		chan_release(c, c->chan.err, &b);
	vh_mutex_unlock(&c->backend_lock);
	chan_deliver(c, &b);
}

void vh_chan_timer(struct vh_conn *c)
{
	struct vh_chan_batch b = { .n = 0 };
	struct vh_chan *ch = &c->chan;
	uint64_t v;

	vh_mutex_lock(&c->backend_lock);
	/* A stale event (re-armed or replaced since) reads nothing. */
	if (ch->timer_fd >= 0 && read(ch->timer_fd, &v, sizeof(v)) == sizeof(v) &&
	    chan_outstanding(c)) {
		uint32_t req =
		    ch->q_len ? ch->q[ch->q_head]->hdr.request : ch->wait[ch->w_head].sent.request;

		chan_break(c, req,
			   ch->q_len ? "the front-end does not read it"
				     : "the front-end does not answer",
			   -ETIMEDOUT);
		chan_release(c, -ETIMEDOUT, &b);
	}
	vh_mutex_unlock(&c->backend_lock);
	chan_deliver(c, &b);
}
