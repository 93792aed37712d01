/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * backend/dispatch.c: the front-end request table and the handlers that are not about one ring
 * (features, owner, memory, log, config, status, IOTLB, back-end channel, reset).
 *
 * Every message goes through vh_proto_validate() (flags, payload size, fd count) before its
 * handler runs; a handler then only checks values. Runs on the dispatch thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/vhost.h>

#include "backend/backend_internal.h"

/* Handler flags. */
#define VH_H_REPLY (1u << 0) /* the request always has a reply: the handler fills @reply */

/* A handler's return: < 0 error, 0 done. -EPROTO closes the connection. */
typedef int (*vh_handler_fn)(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply);

struct vh_handler {
	vh_handler_fn fn;
	unsigned flags;
};

static void reply_u64(struct vh_msg *reply, uint32_t req, uint64_t v)
{
	vh_msg_init(reply, req, VH_USER_FLAG_REPLY, sizeof(uint64_t));
	reply->payload.u64 = v;
}

static uint64_t offered_features(const struct vh_conn *c)
{
	return vh_server_library_features() | c->s->cfg.features;
}

static uint64_t offered_protocol_features(const struct vh_conn *c)
{
	uint64_t pf = vh_server_library_protocol_features();

	/* vhost-user.rst: GET_VRING_BASE_INFLIGHT only with INFLIGHT_SHMFD, and the device has
	 * to be able to suspend its rings. */
	if (c->s->cfg.suspend_inflight)
		pf |= 1ull << VH_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT;
	if (c->s->cfg.inband_notifications)
		pf |= 1ull << VH_USER_PROTOCOL_F_INBAND_NOTIFICATIONS;
	pf |= vh_postcopy_offer(c->s);
	if (c->s->cfg.ops->state_save && c->s->cfg.ops->state_load)
		pf |= 1ull << VH_USER_PROTOCOL_F_DEVICE_STATE;
	pf |= vh_areas_protocol_features(c->s);
	pf &= ~c->s->cfg.protocol_features_clear;
	if (!(pf & (1ull << VH_USER_PROTOCOL_F_INFLIGHT_SHMFD)))
		pf &= ~(1ull << VH_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT);
	return pf;
}

static int h_get_features(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply)
{
	reply_u64(reply, m->hdr.request, offered_features(c));
	return 0;
}

static int h_set_features(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply)
{
	uint64_t f = m->payload.u64, old = c->features;
	bool iommu;
	int err = 0;

	(void)reply;
	if (f & ~offered_features(c))
		return vh_conn_fail(c, m->hdr.request, "feature bits not offered", -EINVAL);
	if (c->s->cfg.ops->features_set) {
		err = c->s->cfg.ops->features_set(c->inst, c, f);
		if (err < 0)
			return vh_conn_fail(c, m->hdr.request, "device refused features", err);
	}
	iommu = f & (1ull << VIRTIO_F_ACCESS_PLATFORM);
	vh_conn_pause(c);
	c->features = f;
	c->features_acked = true;
	if ((old ^ f) & (1ull << VIRTIO_F_ACCESS_PLATFORM))
		vh_memmap_set_iotlb(c->mem, iommu ? c->iotlb : NULL);
	/* VHOST_F_LOG_ALL toggles at run time when migration starts or is cancelled. */
	vh_conn_attach_log(c);
	vh_conn_resume(c);
	return 0;
}

static int h_get_protocol_features(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply)
{
	reply_u64(reply, m->hdr.request, offered_protocol_features(c));
	return 0;
}

static int h_set_protocol_features(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply)
{
	(void)reply;
	if (m->payload.u64 & ~offered_protocol_features(c))
		return vh_conn_fail(c, m->hdr.request, "protocol feature bits not offered",
				    -EINVAL);
	c->proto_features = m->payload.u64;
	return 0;
}

static int h_set_owner(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply)
{
	(void)c;
	(void)m;
	(void)reply;
	return 0;
}

/* RESET_OWNER / RESET_DEVICE: rings stopped and forgotten, features renegotiated. */
static int h_reset(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply)
{
	(void)m;
	(void)reply;
	for (unsigned i = 0; i < c->num_queues; i++)
		vh_queue_stop_live(&c->q[i]);
	vh_conn_pause(c);
	for (unsigned i = 0; i < c->num_queues; i++)
		vh_queue_reset(&c->q[i]);
	c->features = 0;
	c->features_acked = false;
	c->status = 0;
	vh_memmap_set_iotlb(c->mem, NULL);
	vh_conn_resume(c);
	if (c->s->cfg.ops->reset)
		c->s->cfg.ops->reset(c->inst, c);
	return 0;
}

static int h_get_queue_num(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply)
{
	reply_u64(reply, m->hdr.request, c->num_queues);
	return 0;
}

static int h_get_max_mem_slots(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply)
{
	(void)c;
	reply_u64(reply, m->hdr.request, VH_SERVER_MAX_MEM_SLOTS);
	return 0;
}

/* Rings keep their vq; only their host addresses move. Run with the datapath paused. */
static void swap_memmap(struct vh_conn *c, struct vh_memmap *new_map)
{
	struct vh_memmap *old = c->mem;

	c->mem = new_map;
	/*
	 * Every vq still holds the old map: live rings until vh_conn_resume() re-maps them, and
	 * stopped ones (SET_VRING_ENABLE 0, a failed resume) until their next start. None may
	 * keep it past the free below (a packed ring looks its log address up in it).
	 */
	for (unsigned i = 0; i < c->num_queues; i++)
		if (c->q[i].vq)
			vh_vq_set_memmap(c->q[i].vq, new_map);
	vh_memmap_set_iotlb(old, NULL);
	vh_memmap_set_iotlb(new_map,
			    (c->features & (1ull << VIRTIO_F_ACCESS_PLATFORM)) ? c->iotlb : NULL);
	vh_memmap_destroy(&old);
}

/* cfg.require_sealed_memory: the front-end cannot shrink the file under our mapping. */
static int check_sealed(struct vh_conn *c, uint32_t req, int fd)
{
	int seals;

	if (!c->s->cfg.require_sealed_memory)
		return 0;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals >= 0 && (seals & F_SEAL_SHRINK))
		return 0;
	return vh_conn_fail(c, req, "memory fd not sealed against shrinking (F_SEAL_SHRINK)",
			    -EINVAL);
}

static int h_set_mem_table(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply)
{
	const struct vh_user_mem_table *t = &m->payload.mem;
	struct vh_memmap *map;
	int err;

	(void)reply;
	err = vh_memmap_create(&c->s->cfg.log, &map);
	if (err < 0)
		return vh_conn_fail(c, m->hdr.request, "memory map", err);
	for (unsigned i = 0; i < t->nregions; i++) {
		const struct vh_user_mem_region *u = &t->regions[i];
		struct vh_mem_region r = { .gpa = u->guest_phys_addr,
					   .size = u->memory_size,
					   .uva = u->userspace_addr,
					   .mmap_offset = u->mmap_offset,
					   .fd = m->fds[i] };

		err = check_sealed(c, m->hdr.request, r.fd);
		if (err < 0) {
			vh_memmap_destroy(&map);
			return err;
		}
		err = vh_memmap_add(map, &r);
		if (err < 0) {
			vh_memmap_destroy(&map);
			return vh_conn_fail(c, m->hdr.request, "bad memory region", err);
		}
	}
	/* Postcopy: registered, and answered with our addresses (postcopy.c). */
	err = vh_postcopy_mem_table(c, map, m, reply);
	if (err < 0) {
		vh_memmap_destroy(&map);
		return err;
	}
	/* vhost-user.rst: the old table stays valid until the rings stop using it. */
	vh_conn_pause(c);
	swap_memmap(c, map);
	/* Postcopy: guest memory is off limits until the front-end acks our addresses. */
	if (err == VH_HANDLER_REPLY)
		c->pc.resume_pending = true;
	else
		vh_conn_resume(c);
	return err;
}

static int h_add_mem_reg(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply)
{
	const struct vh_user_mem_region *u = &m->payload.mem_reg.region;
	struct vh_mem_region r = { .gpa = u->guest_phys_addr,
				   .size = u->memory_size,
				   .uva = u->userspace_addr,
				   .mmap_offset = u->mmap_offset,
				   .fd = m->fds[0] };
	int err;

	(void)reply;
	err = check_sealed(c, m->hdr.request, r.fd);
	if (err < 0)
		return err;
	vh_poll_park(c->s);
	err = vh_memmap_add(c->mem, &r);
	vh_poll_resume(c->s);
	if (err < 0)
		return vh_conn_fail(c, m->hdr.request, "bad memory region", err);
	/* Postcopy: rings start at the front-end's ack of our address (postcopy.c). */
	err = vh_postcopy_add_region(c, m, reply);
	if (err != 0)
		return err;
	/* A ring whose addresses were not mapped yet may start now. */
	for (unsigned i = 0; i < c->num_queues; i++)
		vh_queue_try_start(&c->q[i]);
	return 0;
}

static int h_rem_mem_reg(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply)
{
	const struct vh_user_mem_region *u = &m->payload.mem_reg.region;
	int err;

	(void)reply;
	vh_conn_pause(c);
	err = vh_memmap_remove(c->mem, u->guest_phys_addr, u->memory_size);
	vh_conn_resume(c);
	if (err < 0)
		return vh_conn_fail(c, m->hdr.request, "no such memory region", err);
	return 0;
}

static int h_set_log_base(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply)
{
	struct vh_dirty_log *log, *old;
	int err;

	reply_u64(reply, m->hdr.request, 1);
	err =
	    vh_dirty_log_map(m->fds[0], m->payload.log.mmap_size, m->payload.log.mmap_offset, &log);
	if (err < 0)
		return vh_conn_fail(c, m->hdr.request, "cannot map the log", err);
	vh_poll_park(c->s);
	old = c->dlog;
	c->dlog = log;
	vh_conn_attach_log(c);
	vh_poll_resume(c->s);
	vh_dirty_log_unmap(&old);
	reply->payload.u64 = 0;
	return 0;
}

static int h_take_fd(int *slot, struct vh_msg *m)
{
	if (*slot >= 0)
		close(*slot);
	*slot = m->fds[0];
	m->fds[0] = -1;
	return 0;
}

static int h_set_log_fd(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply)
{
	(void)reply;
	return h_take_fd(&c->log_fd, m);
}

static int h_set_backend_req_fd(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply)
{
	int fd = m->fds[0];

	(void)reply;
	m->fds[0] = -1;
	return vh_chan_attach(c, fd);
}

static int config_range(struct vh_conn *c, const struct vh_msg *m)
{
	const struct vh_user_config *cf = &m->payload.config;

	if ((uint64_t)cf->offset + cf->size > c->s->cfg.config_size)
		return vh_conn_fail(c, m->hdr.request, "config range beyond the config space",
				    -EINVAL);
	return 0;
}

static int h_get_config(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply)
{
	const struct vh_user_config *cf = &m->payload.config;
	const struct vh_device_ops *ops = c->s->cfg.ops;
	int err;

	/* On failure the reply carries no payload (libvhost-user does the same). */
	vh_msg_init(reply, m->hdr.request, VH_USER_FLAG_REPLY, 0);
	err = config_range(c, m);
	if (err < 0)
		return err;
	if (!ops->get_config)
		return vh_conn_fail(c, m->hdr.request, "device has no config space", -ENOTSUP);
	reply->payload.config.offset = cf->offset;
	reply->payload.config.size = cf->size;
	reply->payload.config.flags = cf->flags;
	err = ops->get_config(c->inst, c, cf->offset, reply->payload.config.region, cf->size);
	if (err < 0)
		return vh_conn_fail(c, m->hdr.request, "device get_config", err);
	reply->hdr.size = VH_USER_CONFIG_HDR_SIZE + cf->size;
	return 0;
}

static int h_set_config(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply)
{
	const struct vh_user_config *cf = &m->payload.config;
	const struct vh_device_ops *ops = c->s->cfg.ops;
	int err;

	(void)reply;
	err = config_range(c, m);
	if (err < 0)
		return err;
	if (!ops->set_config)
		return vh_conn_fail(c, m->hdr.request, "config space is read-only", -EPERM);
	err = ops->set_config(c->inst, c, cf->offset, cf->region, cf->size, cf->flags);
	if (err < 0)
		return vh_conn_fail(c, m->hdr.request, "device set_config", err);
	return 0;
}

static int h_set_status(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply)
{
	(void)reply;
	if (m->payload.u64 > 0xff)
		return vh_conn_fail(c, m->hdr.request, "status is not a byte", -EINVAL);
	c->status = (uint8_t)m->payload.u64;
	return 0;
}

static int h_get_status(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply)
{
	reply_u64(reply, m->hdr.request, c->status);
	return 0;
}

static int h_iotlb_msg(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply)
{
	const struct vhost_iotlb_msg *t = &m->payload.iotlb;
	int err, perm = 0;

	(void)reply;
	switch (t->type) {
	case VHOST_IOTLB_UPDATE:
		if (t->perm & VHOST_ACCESS_RO)
			perm |= VH_MEM_READ;
		if (t->perm & VHOST_ACCESS_WO)
			perm |= VH_MEM_WRITE;
		err = vh_iotlb_update(c->iotlb, t->iova, t->size, t->uaddr, perm);
		if (err < 0)
			return vh_conn_fail(c, m->hdr.request, "bad IOTLB update", err);
		vh_conn_iotlb_updated(c);
		return 0;
	case VHOST_IOTLB_INVALIDATE:
		vh_poll_park(c->s);
		err = vh_iotlb_invalidate(c->iotlb, t->iova, t->size);
		vh_poll_resume(c->s);
		if (err < 0)
			return vh_conn_fail(c, m->hdr.request, "IOTLB invalidate", err);
		return 0;
	default:
		return vh_conn_fail(c, m->hdr.request, "unknown IOTLB message type", -EINVAL);
	}
}

static const struct vh_handler vh_handlers[VH_USER_REQUEST_MAX] = {
	[VH_USER_GET_FEATURES] = { h_get_features, VH_H_REPLY },
	[VH_USER_SET_FEATURES] = { h_set_features, 0 },
	[VH_USER_SET_OWNER] = { h_set_owner, 0 },
	[VH_USER_RESET_OWNER] = { h_reset, 0 },
	[VH_USER_SET_MEM_TABLE] = { h_set_mem_table, 0 },
	[VH_USER_SET_LOG_BASE] = { h_set_log_base, VH_H_REPLY },
	[VH_USER_SET_LOG_FD] = { h_set_log_fd, 0 },
	[VH_USER_SET_VRING_NUM] = { vh_ring_handler, 0 },
	[VH_USER_SET_VRING_ADDR] = { vh_ring_handler, 0 },
	[VH_USER_SET_VRING_BASE] = { vh_ring_handler, 0 },
	[VH_USER_GET_VRING_BASE] = { vh_ring_handler, VH_H_REPLY },
	[VH_USER_SET_VRING_KICK] = { vh_ring_handler, 0 },
	[VH_USER_SET_VRING_CALL] = { vh_ring_handler, 0 },
	[VH_USER_SET_VRING_ERR] = { vh_ring_handler, 0 },
	[VH_USER_GET_PROTOCOL_FEATURES] = { h_get_protocol_features, VH_H_REPLY },
	[VH_USER_SET_PROTOCOL_FEATURES] = { h_set_protocol_features, 0 },
	[VH_USER_GET_QUEUE_NUM] = { h_get_queue_num, VH_H_REPLY },
	[VH_USER_SET_VRING_ENABLE] = { vh_ring_handler, 0 },
	[VH_USER_SET_BACKEND_REQ_FD] = { h_set_backend_req_fd, 0 },
	[VH_USER_IOTLB_MSG] = { h_iotlb_msg, 0 },
	[VH_USER_GET_CONFIG] = { h_get_config, VH_H_REPLY },
	[VH_USER_SET_CONFIG] = { h_set_config, 0 },
	[VH_USER_POSTCOPY_ADVISE] = { vh_postcopy_advise, VH_H_REPLY },
	[VH_USER_POSTCOPY_LISTEN] = { vh_postcopy_listen, 0 },
	[VH_USER_POSTCOPY_END] = { vh_postcopy_end, VH_H_REPLY },
	[VH_USER_GET_INFLIGHT_FD] = { vh_inflight_get, VH_H_REPLY },
	[VH_USER_SET_INFLIGHT_FD] = { vh_ring_handler, 0 },
	[VH_USER_RESET_DEVICE] = { h_reset, 0 },
	[VH_USER_GET_MAX_MEM_SLOTS] = { h_get_max_mem_slots, VH_H_REPLY },
	[VH_USER_ADD_MEM_REG] = { h_add_mem_reg, 0 },
	[VH_USER_REM_MEM_REG] = { h_rem_mem_reg, 0 },
	[VH_USER_SET_STATUS] = { h_set_status, 0 },
	[VH_USER_GET_STATUS] = { h_get_status, VH_H_REPLY },
	[VH_USER_VRING_KICK] = { vh_ring_handler, 0 },
	[VH_USER_SET_DEVICE_STATE_FD] = { vh_state_set_fd, VH_H_REPLY },
	[VH_USER_CHECK_DEVICE_STATE] = { vh_state_check, VH_H_REPLY },
	[VH_USER_GET_SHMEM_CONFIG] = { vh_areas_get_shmem_config, VH_H_REPLY },
};

_Static_assert(VH_ARRAY_SIZE(vh_handlers) == VH_USER_REQUEST_MAX,
	       "one dispatch entry per front-end request number");

/* Read requests only while a reply fits; wait for EPOLLOUT while replies are queued. */
static void conn_watch_events(struct vh_conn *c)
{
	uint32_t ev = (c->txq_len < VH_CONN_TXQ_MAX ? EPOLLIN : 0) | (c->txq_len ? EPOLLOUT : 0);
	struct epoll_event e = { .events = ev, .data.ptr = &c->w };

	if (ev == c->events || c->w.fd < 0)
		return;
	if (epoll_ctl(c->s->epfd, EPOLL_CTL_MOD, c->fd, &e) == 0)
		c->events = ev;
}

static void set_tx_deadline(struct vh_conn *c, int64_t deadline)
{
	if (c->tx_deadline == deadline)
		return;
	c->tx_deadline = deadline;
	vh_server_rearm_timer(c->s);
}

void vh_conn_msg_free(struct vh_msg *q)
{
	vh_msg_close_fds(q);
	free(q);
}

/* A queued message keeps its own fds: their owner may close them before it goes out. */
struct vh_msg *vh_conn_msg_copy(const struct vh_msg *m)
{
	struct vh_msg *q = malloc(sizeof(*q));

	if (!q)
		return NULL;
	*q = *m;
	for (unsigned i = 0; i < m->nfds; i++) {
		q->fds[i] = fcntl(m->fds[i], F_DUPFD_CLOEXEC, 0);
		if (q->fds[i] < 0) {
			int err = errno;

			q->nfds = i;
			vh_conn_msg_free(q);
			errno = err;
			return NULL;
		}
	}
	return q;
}

void vh_conn_drop_replies(struct vh_conn *c)
{
	for (; c->txq_len; c->txq_len--, c->txq_head = (c->txq_head + 1) % VH_CONN_TXQ_MAX)
		vh_conn_msg_free(c->txq[c->txq_head]);
	c->tx_off = 0;
	if (c->tx_deadline >= 0)
		set_tx_deadline(c, -1);
}

/* Keep a copy of @reply and its fds. */
static int reply_enqueue(struct vh_conn *c, const struct vh_msg *reply, size_t off)
{
	struct vh_msg *q;

	if (c->txq_len >= VH_CONN_TXQ_MAX)
		return -ENOBUFS;
	q = vh_conn_msg_copy(reply);
	if (!q)
		return -errno;
	c->txq[(c->txq_head + c->txq_len) % VH_CONN_TXQ_MAX] = q;
	if (c->txq_len++ == 0) {
		c->tx_off = off;
		set_tx_deadline(c, vh_server_now_ms() + c->s->cfg.msg_timeout_ms);
	}
	conn_watch_events(c);
	return 0;
}

/* Never waits: what the socket does not take now goes out from vh_conn_writable(). */
static int send_reply(struct vh_conn *c, struct vh_msg *reply, uint32_t req)
{
	size_t off = 0;
	int err = 0;

	if (c->txq_len == 0)
		err = vh_sock_send_step(c->fd, reply, &off);
	if (c->txq_len || err == -EAGAIN)
		err = reply_enqueue(c, reply, off);
	if (err < 0)
		return vh_conn_fail(c, req, "cannot send the reply", err);
	return 0;
}

/* EPOLLOUT: send queued replies in order; each one taken gives the next a fresh deadline. */
void vh_conn_writable(struct vh_conn *c)
{
	struct vh_msg *q;
	int err;

	while (c->txq_len) {
		q = c->txq[c->txq_head];
		err = vh_sock_send_step(c->fd, q, &c->tx_off);
		if (err == -EAGAIN)
			break;
		if (err < 0) {
			vh_conn_fail(c, q->hdr.request, "cannot send the reply", err);
			vh_conn_close(c);
			return;
		}
		vh_conn_msg_free(q);
		c->txq_head = (c->txq_head + 1) % VH_CONN_TXQ_MAX;
		c->txq_len--;
		c->tx_off = 0;
		set_tx_deadline(c, c->txq_len ? vh_server_now_ms() + c->s->cfg.msg_timeout_ms : -1);
	}
	conn_watch_events(c);
}

/*
 * Handle one received message. Return 0 to keep the connection, < 0 to close it (the error has
 * been logged). Takes the message's fds (closes what the handler did not keep).
 */
int vh_conn_handle(struct vh_conn *c, struct vh_msg *m)
{
	uint32_t req = m->hdr.request;
	const struct vh_handler *h = NULL;
	bool want = vh_proto_reply_expected(false, &m->hdr);
	int err;

	/* Postcopy: the ack of our table reply is not a request (postcopy.c). */
	if (vh_postcopy_take_ack(c, m))
		return 0;
	err = vh_proto_validate(false, &m->hdr, m->payload.raw, m->hdr.size, m->nfds);
	if (err == 0 && req < VH_USER_REQUEST_MAX)
		h = &vh_handlers[req];
	if (err == -EOPNOTSUPP || (err == 0 && !h->fn)) {
		vh_msg_close_fds(m);
		vh_conn_fail(c, req, "request not supported", -EOPNOTSUPP);
		/* A reply we cannot produce would leave the front-end waiting forever. */
		if (!(m->hdr.flags & VH_USER_FLAG_NEED_REPLY) && want)
			return -EPROTO;
		if (!want)
			return 0;
		reply_u64(c->tx, req, 1);
		return send_reply(c, c->tx, req);
	}
	if (err < 0) {
		vh_msg_close_fds(m);
		return vh_conn_fail(c, req, "malformed message", err);
	}
	vh_logf(&c->s->cfg.log, VH_LOG_DEBUG, c->name, "%s", vh_proto_request_name(req));
	vh_msg_init(c->tx, req, VH_USER_FLAG_REPLY, 0);
	err = h->fn(c, m, c->tx);
	vh_msg_close_fds(m);
	if (err == -EPROTO)
		return err;
	if ((h->flags & VH_H_REPLY) || err == VH_HANDLER_REPLY)
		return send_reply(c, c->tx, req);
	if (m->hdr.flags & VH_USER_FLAG_NEED_REPLY) {
		/* vhost-user.rst REPLY_ACK: zero on success, non-zero on failure. */
		reply_u64(c->tx, req, err < 0 ? 1 : 0);
		return send_reply(c, c->tx, req);
	}
	return 0;
}

/*
 * A message started but is not complete: give the front-end until the deadline for the rest
 * (the server's timerfd closes the connection then); meanwhile other fds are served.
 */
static void rx_partial(struct vh_conn *c)
{
	if (!vh_msg_rx_started(&c->rx_state) || c->rx_deadline >= 0)
		return;
	c->rx_deadline = vh_server_now_ms() + c->s->cfg.msg_timeout_ms;
	vh_server_rearm_timer(c->s);
}

static void rx_complete(struct vh_conn *c)
{
	if (c->rx_deadline < 0)
		return;
	c->rx_deadline = -1;
	vh_server_rearm_timer(c->s);
}

void vh_conn_readable(struct vh_conn *c)
{
	int err;

	/*
	 * A bounded batch keeps one busy front-end from starving the others; a full reply queue
	 * (a front-end that does not read) stops it until EPOLLOUT drains the queue.
	 */
	for (int i = 0; i < 16 && !c->dead && c->txq_len < VH_CONN_TXQ_MAX; i++) {
		/* Never waits: a partial message stays in c->rx until the socket is readable. */
		err = vh_sock_recv_step(c->fd, &c->rx_state, c->rx);
		if (err == -EAGAIN) {
			rx_partial(c);
			return;
		}
		if (err == -ECONNRESET) {
			vh_logf(&c->s->cfg.log, VH_LOG_INFO, c->name, "front-end disconnected");
			vh_conn_close(c);
			return;
		}
		if (err < 0) {
			vh_conn_fail(c, c->rx->hdr.request, "receive failed", err);
			vh_conn_close(c);
			return;
		}
		rx_complete(c);
		err = vh_conn_handle(c, c->rx);
		if (err < 0) {
			vh_conn_close(c);
			return;
		}
	}
}
