/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * backend/server.c: the listener, the epoll set, connections coming and going, and the
 * dispatch loop. Everything here runs on the dispatch thread except vh_server_stop() and
 * vh_queue_wake(), which only write eventfds.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <linux/vhost.h>

#include "backend/backend_internal.h"

#define VH_SERVER_EVENTS_BATCH 32

uint64_t vh_server_library_features(void)
{
	return (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_PACKED) |
	       (1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << VIRTIO_RING_F_EVENT_IDX) |
	       (1ull << VIRTIO_F_ACCESS_PLATFORM) | (1ull << VHOST_F_LOG_ALL) |
	       (1ull << VH_USER_F_PROTOCOL_FEATURES);
}

uint64_t vh_server_library_protocol_features(void)
{
	return (1ull << VH_USER_PROTOCOL_F_MQ) | (1ull << VH_USER_PROTOCOL_F_LOG_SHMFD) |
	       (1ull << VH_USER_PROTOCOL_F_REPLY_ACK) | (1ull << VH_USER_PROTOCOL_F_BACKEND_REQ) |
	       (1ull << VH_USER_PROTOCOL_F_CONFIG) | (1ull << VH_USER_PROTOCOL_F_BACKEND_SEND_FD) |
	       (1ull << VH_USER_PROTOCOL_F_INFLIGHT_SHMFD) |
	       (1ull << VH_USER_PROTOCOL_F_RESET_DEVICE) |
	       (1ull << VH_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |
	       (1ull << VH_USER_PROTOCOL_F_STATUS) | (1ull << VH_USER_PROTOCOL_F_GPA_ADDRESSES);
}

void vh_server_config_init(struct vh_server_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->listen_fd = -1;
	cfg->max_connections = 1;
	cfg->datapath = VH_SERVER_DATAPATH_EVENT;
}

int vh_server_epoll_add(struct vh_server *s, struct vh_watch *w, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	w->fd = fd;
	return 0;
}

void vh_server_epoll_del(struct vh_server *s, struct vh_watch *w)
{
	if (w->fd < 0)
		return;
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->fd = -1;
}

static int check_config(const struct vh_server_config *cfg)
{
	if (!cfg->ops || !cfg->ops->queue_kick)
		return -EINVAL;
	if (cfg->num_queues == 0 || cfg->num_queues > VH_SERVER_MAX_QUEUES)
		return -EINVAL;
	if (cfg->socket_path && cfg->listen_fd >= 0)
		return -EINVAL;
	if (cfg->max_queue_size > VH_VQ_MAX_NUM ||
	    (cfg->max_queue_size && !vh_is_pow2(cfg->max_queue_size)))
		return -EINVAL;
	if (cfg->config_size > VH_USER_MAX_CONFIG_SIZE)
		return -EINVAL;
	if (cfg->datapath != VH_SERVER_DATAPATH_EVENT && cfg->datapath != VH_SERVER_DATAPATH_POLL)
		return -EINVAL;
	return 0;
}

static int server_setup_fds(struct vh_server *s)
{
	int err, fd = -1;

	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0)
		return -errno;
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->stop_fd < 0)
		return -errno;
	s->stop_w = (struct vh_watch){ .kind = VH_WATCH_STOP, .fd = -1, .ptr = s };
	err = vh_server_epoll_add(s, &s->stop_w, s->stop_fd, EPOLLIN);
	if (err < 0)
		return err;
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (s->timer_fd < 0)
		return -errno;
	s->timer_w = (struct vh_watch){ .kind = VH_WATCH_TIMER, .fd = -1, .ptr = s };
	err = vh_server_epoll_add(s, &s->timer_w, s->timer_fd, EPOLLIN);
	if (err < 0)
		return err;
	if (s->socket_path) {
		err = vh_sock_listen(s->socket_path, &fd);
		if (err < 0) {
			vh_logf(&s->cfg.log, VH_LOG_ERR, s->name, "listen: %s: %s", s->socket_path,
				strerror(-err));
			return err;
		}
	} else if (s->cfg.listen_fd >= 0) {
		fd = s->cfg.listen_fd;
		s->cfg.listen_fd = -1;
	}
	s->listen_w = (struct vh_watch){ .kind = VH_WATCH_LISTEN, .fd = -1, .ptr = s };
	if (fd >= 0) {
		err = vh_server_epoll_add(s, &s->listen_w, fd, EPOLLIN);
		if (err < 0) {
			close(fd);
			return err;
		}
	}
	return 0;
}

int vh_server_create(const struct vh_server_config *cfg, struct vh_server **out)
{
	struct vh_server *s;
	int err;

	*out = NULL;
	err = check_config(cfg);
	if (err < 0) {
		if (cfg->listen_fd >= 0)
			close(cfg->listen_fd);
		return err;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	s->epfd = -1;
	s->stop_fd = -1;
	s->timer_fd = -1;
	s->listen_w.fd = -1;
	snprintf(s->name, sizeof(s->name), "%s", cfg->name ? cfg->name : "vhost-user");
	s->cfg.name = s->name;
	if (!s->cfg.max_connections)
		s->cfg.max_connections = 1;
	if (!s->cfg.max_queue_size)
		s->cfg.max_queue_size = VH_VQ_MAX_NUM;
	if (!s->cfg.msg_timeout_ms)
		s->cfg.msg_timeout_ms = VH_SOCK_MSG_TIMEOUT_MS;
	vh_mutex_init(&s->lock);
	vh_cond_init(&s->cond_park);
	vh_cond_init(&s->cond_resume);
	if (cfg->socket_path) {
		s->socket_path = strdup(cfg->socket_path);
		if (!s->socket_path) {
			vh_server_destroy(&s);
			return -ENOMEM;
		}
	}
	s->cfg.socket_path = s->socket_path;
	err = vh_areas_config(s);
	if (err == 0)
		err = server_setup_fds(s);
	if (err == 0 && s->cfg.datapath == VH_SERVER_DATAPATH_POLL)
		err = vh_poll_start(s);
	if (err < 0) {
		vh_server_destroy(&s);
		return err;
	}
	*out = s;
	return 0;
}

static void free_conn(struct vh_conn *c)
{
	vh_mutex_destroy(&c->backend_lock);
	free(c->rx);
	free(c->tx);
	free(c);
}

static void reap_zombies(struct vh_server *s)
{
	struct vh_watch **pw = &s->user_watches, *w;

	while (s->zombies) {
		struct vh_conn *c = s->zombies;

		s->zombies = c->next;
		free_conn(c);
	}
	while ((w = *pw)) {
		if (w->dead) {
			*pw = w->next;
			free(w);
		} else {
			pw = &w->next;
		}
	}
}

void vh_server_destroy(struct vh_server **ps)
{
	struct vh_server *s = ps ? *ps : NULL;

	if (!s)
		return;
	while (s->conns)
		vh_conn_close(s->conns);
	vh_poll_stop(s);
	for (struct vh_watch *w = s->user_watches; w; w = w->next)
		w->dead = true;
	reap_zombies(s);
	if (s->listen_w.fd >= 0) {
		close(s->listen_w.fd);
		if (s->socket_path)
			unlink(s->socket_path);
	}
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	if (s->epfd >= 0)
		close(s->epfd);
	vh_cond_destroy(&s->cond_park);
	vh_cond_destroy(&s->cond_resume);
	vh_mutex_destroy(&s->lock);
	free(s->socket_path);
	free(s->shmem_sizes);
	free(s);
	*ps = NULL;
}

/* Stop accepting while max_connections are served; the backlog keeps the next front-end. */
static void update_listen(struct vh_server *s)
{
	struct epoll_event ev = { .events = 0, .data.ptr = &s->listen_w };

	if (s->listen_w.fd < 0)
		return;
	if (s->nconns < s->cfg.max_connections)
		ev.events = EPOLLIN;
	epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->listen_w.fd, &ev);
}

static struct vh_conn *alloc_conn(struct vh_server *s, int fd)
{
	struct vh_conn *c;
	unsigned nq = s->cfg.num_queues;

	c = calloc(1, sizeof(*c) + nq * sizeof(struct vh_queue));
	if (!c)
		return NULL;
	c->rx = malloc(sizeof(*c->rx));
	c->tx = malloc(sizeof(*c->tx));
	if (!c->rx || !c->tx) {
		free(c->rx);
		free(c->tx);
		free(c);
		return NULL;
	}
	vh_mutex_init(&c->backend_lock);
	c->s = s;
	c->fd = fd;
	c->id = s->next_id++;
	c->inst = s->cfg.opaque;
	vh_msg_init(c->rx, 0, 0, 0);
	vh_msg_rx_init(&c->rx_state);
	c->rx_deadline = -1;
	c->tx_deadline = -1;
	c->events = EPOLLIN;
	c->log_fd = -1;
	c->backend_fd = -1;
	vh_chan_init(c);
	c->infl.fd = -1;
	c->num_queues = nq;
	c->w = (struct vh_watch){ .kind = VH_WATCH_CONN, .fd = -1, .ptr = c };
	if (s->cfg.max_connections > 1)
		snprintf(c->name, sizeof(c->name), "%s#%u", s->name, c->id);
	else
		snprintf(c->name, sizeof(c->name), "%s", s->name);
	for (unsigned i = 0; i < nq; i++) {
		struct vh_queue *q = &c->q[i];

		q->conn = c;
		q->index = i;
		q->kick_fd = q->call_fd = q->err_fd = q->wake_fd = -1;
		q->kick_w = (struct vh_watch){ .kind = VH_WATCH_KICK, .fd = -1, .ptr = q };
		q->wake_w = (struct vh_watch){ .kind = VH_WATCH_WAKE, .fd = -1, .ptr = q };
		q->worker = s->nworkers ? (i / VH_MAX(s->cfg.poll_group, 1u)) % s->nworkers : 0;
		q->budget = UINT_MAX;
	}
	return c;
}

static int conn_setup(struct vh_conn *c)
{
	struct vh_server *s = c->s;
	int err;

	err = vh_memmap_create(&s->cfg.log, &c->mem);
	if (err == 0)
		err = vh_iotlb_create(&s->cfg.log, 0, &c->iotlb);
	for (unsigned i = 0; err == 0 && i < c->num_queues; i++) {
		struct vh_queue *q = &c->q[i];

		q->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (q->wake_fd < 0)
			err = -errno;
	}
	if (err == 0)
		err = vh_server_epoll_add(s, &c->w, c->fd, EPOLLIN);
	return err;
}

int vh_server_add_conn(struct vh_server *s, int fd)
{
	struct vh_conn *c;
	int err;

	if (s->nconns >= s->cfg.max_connections) {
		close(fd);
		return -EBUSY;
	}
	c = alloc_conn(s, fd);
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->next = s->conns;
	s->conns = c;
	s->nconns++;
	err = conn_setup(c);
	if (err == 0 && s->cfg.ops->conn_open)
		err = s->cfg.ops->conn_open(s->cfg.opaque, c, &c->inst);
	if (err < 0) {
		vh_logf(&s->cfg.log, VH_LOG_ERR, c->name, "connection setup: %s", strerror(-err));
		/* conn_close pairs with a successful conn_open only */
		c->dead = true;
		vh_conn_close(c);
		return err;
	}
	vh_logf(&s->cfg.log, VH_LOG_INFO, c->name, "front-end connected");
	update_listen(s);
	return 0;
}

/* Drop everything the front-end gave this connection; the server keeps serving the others. */
void vh_conn_close(struct vh_conn *c)
{
	struct vh_server *s = c->s;
	struct vh_conn **pc;
	bool opened = !c->dead;

	c->dead = true;
	for (unsigned i = 0; i < c->num_queues; i++)
		vh_queue_stop_live(&c->q[i]);
	/* Back-end requests still owed a reply fail before the device instance goes. */
	vh_chan_close(c);
	if (opened && s->cfg.ops->conn_close)
		s->cfg.ops->conn_close(c->inst, c);
	for (unsigned i = 0; i < c->num_queues; i++) {
		struct vh_queue *q = &c->q[i];

		vh_queue_reset(q);
		vh_server_epoll_del(s, &q->wake_w);
		if (q->wake_fd >= 0)
			close(q->wake_fd);
		q->wake_fd = -1;
	}
	vh_server_epoll_del(s, &c->w);
	close(c->fd);
	/* A message cut short by the hang-up or timeout: its fds are ours to close. */
	vh_msg_rx_discard(&c->rx_state, c->rx);
	vh_conn_drop_replies(c);
	vh_inflight_drop(c);
	vh_postcopy_drop(c);
	vh_state_drop(c);
	vh_dirty_log_unmap(&c->dlog);
	vh_memmap_destroy(&c->mem);
	vh_iotlb_destroy(&c->iotlb);
	if (c->log_fd >= 0)
		close(c->log_fd);
	for (pc = &s->conns; *pc; pc = &(*pc)->next) {
		if (*pc == c) {
			*pc = c->next;
			break;
		}
	}
	s->nconns--;
	if (c->rx_deadline >= 0) {
		c->rx_deadline = -1;
		vh_server_rearm_timer(s);
	}
	/* A later event of this dispatch batch may still name the connection: free it after. */
	c->next = s->zombies;
	s->zombies = c;
	if (!s->dispatching)
		reap_zombies(s);
	update_listen(s);
}

int64_t vh_server_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t earlier(int64_t a, int64_t b)
{
	return a < 0 || (b >= 0 && b < a) ? b : a;
}

/*
 * Point the timerfd at the earliest deadline of a partial message or of a queued reply
 * (disarm when none).
 */
void vh_server_rearm_timer(struct vh_server *s)
{
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };
	int64_t first = -1;

	for (struct vh_conn *c = s->conns; c; c = c->next)
		first = earlier(first, earlier(c->rx_deadline, c->tx_deadline));
	if (first >= 0) {
		its.it_value.tv_sec = first / 1000;
		its.it_value.tv_nsec = (first % 1000) * 1000000;
		if (first == 0)
			its.it_value.tv_nsec = 1; /* all zero would disarm */
	}
	timerfd_settime(s->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/*
 * Close the connections whose front-end stopped halfway through a message, or stopped taking
 * its replies, for too long.
 */
static void expire_stalled(struct vh_server *s)
{
	int64_t now = vh_server_now_ms();
	struct vh_conn *c, *next;
	uint64_t v;

	if (read(s->timer_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	for (c = s->conns; c; c = next) {
		next = c->next;
		if (c->tx_deadline >= 0 && c->tx_deadline <= now) {
			vh_conn_fail(c, c->txq[c->txq_head]->hdr.request,
				     "front-end does not read its replies", -ETIMEDOUT);
			vh_conn_close(c);
			continue;
		}
		if (c->rx_deadline < 0 || c->rx_deadline > now)
			continue;
		vh_conn_fail(c, c->rx->hdr.request, "front-end stalled in the middle of a message",
			     -ETIMEDOUT);
		c->rx_deadline = -1;
		vh_conn_close(c);
	}
	vh_server_rearm_timer(s);
}

static void handle_listen(struct vh_server *s)
{
	int fd, err;

	if (s->nconns >= s->cfg.max_connections)
		return;
	err = vh_sock_accept(s->listen_w.fd, &fd);
	if (err < 0) {
		if (err != -EAGAIN && err != -EINTR)
			vh_logf(&s->cfg.log, VH_LOG_ERR, s->name, "accept: %s", strerror(-err));
		return;
	}
	vh_server_add_conn(s, fd);
}

static void handle_event(struct vh_server *s, struct vh_watch *w, uint32_t events)
{
	struct vh_conn *c;
	uint64_t v;

	switch (w->kind) {
	case VH_WATCH_LISTEN:
		handle_listen(s);
		break;
	case VH_WATCH_STOP:
		if (read(s->stop_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			break;
		s->stop = true;
		break;
	case VH_WATCH_CONN:
		c = w->ptr;
		/* A hang-up while replies wait shows as EPOLLHUP/ERR: the send reports it. */
		if (!c->dead && c->txq_len && (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)))
			vh_conn_writable(c);
		if (!c->dead && (c->events & EPOLLIN) && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
			vh_conn_readable(c);
		break;
	case VH_WATCH_WAKE:
		/* Drain the eventfd; a stale event for a replaced fd only costs an EAGAIN. */
		if (w->fd >= 0 && read(w->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			break;
		/* fall through */
	case VH_WATCH_KICK:
		/* Edge-triggered (vh_queue_watch_kick()): nothing to drain. */
		if (!((struct vh_queue *)w->ptr)->conn->dead)
			vh_queue_run(w->ptr);
		break;
	case VH_WATCH_USER:
		if (!w->dead)
			w->fn(w->opaque, w->fd, events);
		break;
	case VH_WATCH_TIMER:
		expire_stalled(s);
		break;
	case VH_WATCH_CHAN:
		c = w->ptr;
		if (!c->dead)
			vh_chan_event(c, events);
		break;
	case VH_WATCH_CHAN_TIMER:
		c = w->ptr;
		if (!c->dead)
			vh_chan_timer(c);
		break;
	}
}

/* One epoll_wait (up to @timeout_ms; 0: do not block) and the handlers of what it returned. */
static int server_dispatch(struct vh_server *s, int timeout_ms)
{
	struct epoll_event ev[VH_SERVER_EVENTS_BATCH];
	int n;

	n = epoll_wait(s->epfd, ev, VH_SERVER_EVENTS_BATCH, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	s->dispatching = true;
	for (int i = 0; i < n; i++)
		handle_event(s, ev[i].data.ptr, ev[i].events);
	s->dispatching = false;
	reap_zombies(s);
	return n;
}

int vh_server_dispatch(struct vh_server *s)
{
	return server_dispatch(s, 0);
}

int vh_server_run(struct vh_server *s)
{
	int err;

	s->stop = false;
	/* Sleep in epoll_wait itself: one system call per wake-up, not a poll() before it. */
	while (!s->stop) {
		err = server_dispatch(s, -1);
		if (err < 0)
			return err;
	}
	return 0;
}

void vh_server_stop(struct vh_server *s)
{
	uint64_t one = 1;
	ssize_t r;

	/* Only write(2): async-signal-safe. The flag is set by the loop when it reads the fd. */
	r = write(s->stop_fd, &one, sizeof(one));
	(void)r;
}

bool vh_server_stopped(const struct vh_server *s)
{
	return s->stop;
}

int vh_server_fd(const struct vh_server *s)
{
	return s->epfd;
}

unsigned vh_server_num_conns(const struct vh_server *s)
{
	return s->nconns;
}

int vh_server_watch(struct vh_server *s, int fd, uint32_t events, vh_server_watch_fn fn,
		    void *opaque)
{
	struct vh_watch *w;
	int err;

	if (!fn || fd < 0)
		return -EINVAL;
	for (w = s->user_watches; w; w = w->next)
		if (!w->dead && w->fd == fd)
			return -EEXIST;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	*w = (struct vh_watch){ .kind = VH_WATCH_USER, .fd = -1, .fn = fn, .opaque = opaque };
	err = vh_server_epoll_add(s, w, fd, events);
	if (err < 0) {
		free(w);
		return err;
	}
	w->next = s->user_watches;
	s->user_watches = w;
	return 0;
}

int vh_server_unwatch(struct vh_server *s, int fd)
{
	for (struct vh_watch *w = s->user_watches; w; w = w->next) {
		if (!w->dead && w->fd == fd) {
			vh_server_epoll_del(s, w);
			w->dead = true;
			if (!s->dispatching)
				reap_zombies(s);
			return 0;
		}
	}
	return -ENOENT;
}

int vh_server_config_changed(struct vh_server *s)
{
	const uint64_t need =
	    (1ull << VH_USER_PROTOCOL_F_BACKEND_REQ) | (1ull << VH_USER_PROTOCOL_F_CONFIG);
	struct vh_msg m;
	int n = 0, err;

	for (struct vh_conn *c = s->conns; c; c = c->next) {
		if ((c->proto_features & need) != need || c->backend_fd < 0)
			continue;
		vh_msg_init(&m, VH_USER_BACKEND_CONFIG_CHANGE_MSG, 0, 0);
		err = vh_conn_send_backend(c, &m);
		if (err < 0)
			return err;
		n++;
	}
	return n;
}

struct vh_server *vh_conn_server(const struct vh_conn *c)
{
	return c->s;
}

uint64_t vh_conn_features(const struct vh_conn *c)
{
	return c->features;
}

uint64_t vh_conn_protocol_features(const struct vh_conn *c)
{
	return c->proto_features;
}

struct vh_queue *vh_conn_queue(const struct vh_conn *c, unsigned index)
{
	if (index >= c->num_queues)
		return NULL;
	return (struct vh_queue *)&c->q[index];
}

void *vh_conn_opaque(const struct vh_conn *c)
{
	return c->inst;
}

int vh_conn_fail(struct vh_conn *c, uint32_t req, const char *what, int err)
{
	vh_logf(&c->s->cfg.log, VH_LOG_ERR, c->name, "%s: %s: %s", vh_proto_request_name(req), what,
		strerror(err < 0 ? -err : err));
	return err;
}
