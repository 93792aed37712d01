/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * backend/vring.c: per-ring requests (SET_VRING_*, GET_VRING_BASE), the ring life cycle
 * (vhost-user.rst "Ring states": started by SET_VRING_KICK, stopped by GET_VRING_BASE, enabled by
 * SET_VRING_ENABLE), the event-driven datapath and the vh_queue_* calls devices make.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <linux/vhost.h>

#include "backend/backend_internal.h"

static bool has_feature(const struct vh_conn *c, unsigned bit)
{
	return c->features & (1ull << bit);
}

static bool is_poll(const struct vh_conn *c)
{
	return c->s->cfg.datapath == VH_SERVER_DATAPATH_POLL;
}

/* vhost-user.rst "IOMMU support": ask the front-end for the translation that just missed. */
static void send_iotlb_miss(struct vh_conn *c)
{
	struct vh_msg m;
	uint64_t iova;
	bool repeat;
	int perm;

	if (!vh_iotlb_last_miss(c->iotlb, &iova, &perm))
		return;
	/* Every retry before the update misses again: one message per address is enough. */
	vh_mutex_lock(&c->backend_lock);
	repeat = c->miss_sent && c->miss_iova == iova;
	c->miss_sent = true;
	c->miss_iova = iova;
	vh_mutex_unlock(&c->backend_lock);
	if (repeat)
		return;
	vh_msg_init(&m, VH_USER_BACKEND_IOTLB_MSG, 0, sizeof(struct vhost_iotlb_msg));
	m.payload.iotlb.iova = iova;
	m.payload.iotlb.size = 1;
	m.payload.iotlb.perm = (uint8_t)(((perm & VH_MEM_READ) ? VHOST_ACCESS_RO : 0) |
					 ((perm & VH_MEM_WRITE) ? VHOST_ACCESS_WO : 0));
	m.payload.iotlb.type = VHOST_IOTLB_MISS;
	vh_conn_send_backend(c, &m);
}

/*
 * Ring addresses are front-end virtual addresses, IOVAs with VIRTIO_F_ACCESS_PLATFORM, or guest
 * physical addresses with GPA_ADDRESSES (vhost-user.rst "Memory access"; the IOMMU wins).
 */
static int ring_xlate(struct vh_queue *q, uint64_t addr, uint64_t len, int perm, void **out)
{
	struct vh_conn *c = q->conn;
	uint64_t uva = addr, first = 0;

	if (!has_feature(c, VIRTIO_F_ACCESS_PLATFORM) &&
	    (c->proto_features & (1ull << VH_USER_PROTOCOL_F_GPA_ADDRESSES))) {
		*out = vh_memmap_gpa_to_host(c->mem, addr, len);
		return *out ? 0 : -EFAULT;
	}

	if (has_feature(c, VIRTIO_F_ACCESS_PLATFORM)) {
		uint64_t done = 0, u;

		while (done < len) {
			int64_t n = vh_iotlb_lookup(c->iotlb, addr + done, len - done, perm, &u);

			if (n == -EAGAIN)
				return -EAGAIN;
			if (n <= 0)
				return -EFAULT;
			if (done == 0)
				first = u;
			else if (u != first + done)
				return -EFAULT; /* contiguous in IOVA, not behind it */
			done += (uint64_t)n;
		}
		uva = first;
	}
	*out = vh_memmap_uva_to_host(c->mem, uva, len);
	return *out ? 0 : -EFAULT;
}

static void ring_sizes(const struct vh_queue *q, uint64_t sz[3])
{
	uint64_t num = q->num ? q->num : 1;

	sz[0] = 16 * num;
	if (has_feature(q->conn, VIRTIO_F_RING_PACKED)) {
		sz[1] = sz[2] = 4;
	} else {
		sz[1] = 6 + 2 * num; /* flags, idx, ring[num], used_event */
		sz[2] = 6 + 8 * num; /* flags, idx, ring[num], avail_event */
	}
}

static int queue_translate(struct vh_queue *q, struct vh_vq_addrs *a)
{
	uint64_t sz[3];
	int err;

	ring_sizes(q, sz);
	err = ring_xlate(q, q->addr.desc_user_addr, sz[0], VH_MEM_READ, &a->desc);
	if (err == 0)
		err = ring_xlate(q, q->addr.avail_user_addr, sz[1], VH_MEM_READ, &a->driver);
	if (err == 0)
		err = ring_xlate(q, q->addr.used_user_addr, sz[2], VH_MEM_RW, &a->device);
	return err;
}

static void attach_queue_log(struct vh_queue *q)
{
	struct vh_conn *c = q->conn;

	if (!q->vq)
		return;
	if (c->dlog && has_feature(c, VHOST_F_LOG_ALL))
		vh_vq_set_log(q->vq, c->dlog, q->addr.log_guest_addr);
	else
		vh_vq_set_log(q->vq, NULL, 0);
}

void vh_conn_attach_log(struct vh_conn *c)
{
	for (unsigned i = 0; i < c->num_queues; i++)
		attach_queue_log(&c->q[i]);
}

static int create_vq(struct vh_queue *q)
{
	struct vh_conn *c = q->conn;
	char name[sizeof(c->name) + 16];
	struct vh_vq_config vc = {
		.num = q->num,
		.packed = has_feature(c, VIRTIO_F_RING_PACKED),
		.event_idx = has_feature(c, VIRTIO_RING_F_EVENT_IDX),
		.indirect = has_feature(c, VIRTIO_RING_F_INDIRECT_DESC),
		.in_order = has_feature(c, VIRTIO_F_IN_ORDER),
		.name = name,
		.log = c->s->cfg.log,
	};
	int err;

	snprintf(name, sizeof(name), "%s vq %u", c->name, q->index);
	err = vh_vq_create(&vc, &q->vq);
	if (err < 0)
		return err;
	err = vh_vq_set_base(q->vq, q->base);
	if (err < 0)
		vh_vq_destroy(&q->vq);
	return err;
}

/* (Re)point a ring at the current memory table. -EAGAIN: waiting for an IOTLB update. */
static int queue_map(struct vh_queue *q)
{
	struct vh_vq_addrs a;
	int err;

	err = queue_translate(q, &a);
	if (err == -EAGAIN) {
		q->pending_start = true;
		send_iotlb_miss(q->conn);
		return err;
	}
	/* The map first: vh_vq_set_addrs() looks the packed ring's log address up in it. */
	if (err == 0) {
		vh_vq_set_memmap(q->vq, q->conn->mem);
		err = vh_vq_set_addrs(q->vq, &a);
	}
	if (err == 0)
		q->host = a;
	if (err < 0)
		return vh_conn_fail(q->conn, VH_USER_SET_VRING_ADDR,
				    "ring addresses are not in guest memory", -EFAULT);
	attach_queue_log(q);
	return 0;
}

/*
 * The kick eventfd is watched edge-triggered and never read: every write(2) by the driver (or
 * KVM's ioeventfd) wakes the epoll set again, so no kick is lost, and the dispatch thread saves
 * a read(2) per kick. The counter is left to grow, as the kernel's vhost does with its kick
 * eventfds (2^64 - 2 kicks before a write would block).
 */
static void queue_watch_kick(struct vh_queue *q, int fd)
{
	vh_server_epoll_add(q->conn->s, &q->kick_w, fd, EPOLLIN | EPOLLET);
}

static void queue_go(struct vh_queue *q)
{
	struct vh_conn *c = q->conn;

	if (is_poll(c)) {
		vh_vq_set_notification(q->vq, false);
		vh_poll_attach(q);
		return;
	}
	if (q->kick_fd >= 0 && q->kick_w.fd < 0)
		queue_watch_kick(q, q->kick_fd);
	if (q->wake_w.fd < 0)
		vh_server_epoll_add(c->s, &q->wake_w, q->wake_fd, EPOLLIN);
	/* Buffers may have been added before the kick fd existed: look once. */
	vh_queue_wake(q);
}

/*
 * A front-end that could not read the base back from a crashed back-end (GET_VRING_BASE failed)
 * may send a SET_VRING_BASE from a stale cache; taken as is, the device would write used entries
 * the driver has already consumed and the ring falls out of step. Start from the used index in
 * guest memory instead (split rings; vq/ leaves packed rings and rings whose inflight region has
 * chains to resubmit alone). Chains in flight at the crash are taken again.
 */
static void queue_resync(struct vh_queue *q)
{
	struct vh_conn *c = q->conn;
	uint16_t old, now;

	if (vh_vq_sync_used_idx(q->vq, &old, &now) != 1)
		return;
	vh_logf(&c->s->cfg.log, VH_LOG_WARN, c->name,
		"vq %u: SET_VRING_BASE %u disagrees with used idx %u in guest memory: resyncing",
		q->index, old, now);
	q->base = now;
}

int vh_queue_try_start(struct vh_queue *q)
{
	struct vh_conn *c = q->conn;
	int err;

	if (q->live || q->paused || !q->kick_set || !q->enabled || !q->addr_set || !q->num ||
	    q->broken || c->dead)
		return 0;
	q->pending_start = false;
	if (!q->vq) {
		err = create_vq(q);
		if (err < 0)
			return vh_conn_fail(c, VH_USER_SET_VRING_KICK, "cannot set up the ring",
					    err);
	}
	err = queue_map(q);
	if (err == -EAGAIN)
		return 0;
	if (err == 0)
		err = vh_inflight_queue_start(q);
	if (err < 0) {
		q->broken = true;
		return err;
	}
	queue_resync(q);
	q->live = true;
	q->poll_max_ns = (uint64_t)c->s->cfg.event_poll_us * 1000u;
	q->poll_ns = 0;
	q->poll_slept = 0;
	if (c->s->cfg.ops->queue_start) {
		err = c->s->cfg.ops->queue_start(c->inst, q);
		if (err < 0) {
			q->live = false;
			return vh_conn_fail(c, VH_USER_SET_VRING_KICK, "device queue_start", err);
		}
	}
	vh_logf(&c->s->cfg.log, VH_LOG_DEBUG, c->name, "vq %u: started (num %u, base %u)", q->index,
		q->num, q->base);
	queue_go(q);
	return 0;
}

static void queue_unwatch(struct vh_queue *q)
{
	vh_server_epoll_del(q->conn->s, &q->kick_w);
	vh_server_epoll_del(q->conn->s, &q->wake_w);
	if (is_poll(q->conn))
		vh_poll_detach(q);
}

static void device_stop(struct vh_queue *q)
{
	struct vh_conn *c = q->conn;

	if (c->s->cfg.ops->queue_stop)
		c->s->cfg.ops->queue_stop(c->inst, q);
	vh_queue_notify(q);
}

void vh_queue_stop_live(struct vh_queue *q)
{
	if (!q->live)
		return;
	if (q->poll_max_ns && !is_poll(q->conn))
		vh_logf(&q->conn->s->cfg.log, VH_LOG_DEBUG, q->conn->name,
			"vq %u: stopping, poll window %llu of %llu ns", q->index,
			(unsigned long long)q->poll_ns, (unsigned long long)q->poll_max_ns);
	queue_unwatch(q);
	if (!q->paused)
		device_stop(q);
	q->live = false;
	q->paused = false;
}

void vh_queue_reset(struct vh_queue *q)
{
	vh_queue_stop_live(q);
	vh_inflight_queue_stop(q);
	vh_vq_destroy(&q->vq);
	if (q->kick_fd >= 0)
		close(q->kick_fd);
	if (q->call_fd >= 0)
		close(q->call_fd);
	if (q->err_fd >= 0)
		close(q->err_fd);
	q->kick_fd = q->call_fd = q->err_fd = -1;
	q->kick_set = q->enabled = q->addr_set = false;
	q->broken = q->err_signalled = q->iotlb_wait = q->pending_start = false;
	q->num = 0;
	q->base = 0;
	memset(&q->addr, 0, sizeof(q->addr));
}

/*
 * Quiesce the datapath before memory or ring addresses change: workers parked, the device told
 * to let go of its iovecs (queue_stop). vh_conn_resume() re-maps the rings and restarts them.
 */
void vh_conn_pause(struct vh_conn *c)
{
	vh_poll_park(c->s);
	for (unsigned i = 0; i < c->num_queues; i++) {
		struct vh_queue *q = &c->q[i];

		if (q->live && !q->paused) {
			device_stop(q);
			q->paused = true;
		}
	}
}

void vh_conn_resume(struct vh_conn *c)
{
	for (unsigned i = 0; i < c->num_queues; i++) {
		struct vh_queue *q = &c->q[i];
		int err;

		if (!q->paused)
			continue;
		q->paused = false;
		err = queue_map(q);
		if (err == 0 && c->s->cfg.ops->queue_start)
			err = c->s->cfg.ops->queue_start(c->inst, q);
		if (err < 0) {
			/* queue_stop already ran */
			queue_unwatch(q);
			q->live = false;
			if (err != -EAGAIN)
				q->broken = true;
			continue;
		}
		if (!is_poll(c))
			vh_queue_wake(q);
	}
	vh_poll_resume(c->s);
}

void vh_conn_iotlb_updated(struct vh_conn *c)
{
	vh_mutex_lock(&c->backend_lock);
	c->miss_sent = false;
	vh_mutex_unlock(&c->backend_lock);
	for (unsigned i = 0; i < c->num_queues; i++) {
		struct vh_queue *q = &c->q[i];

		if (q->pending_start)
			vh_queue_try_start(q);
		if (q->iotlb_wait && q->live) {
			q->iotlb_wait = false;
			vh_queue_wake(q);
		}
	}
}

/* ---- requests ------------------------------------------------------------------------------ */

static int set_vring_num(struct vh_queue *q, struct vh_msg *m)
{
	struct vh_conn *c = q->conn;
	unsigned num = m->payload.state.num;

	if (q->kick_set)
		return vh_conn_fail(c, m->hdr.request, "ring is started", -EBUSY);
	if (num == 0 || num > c->s->cfg.max_queue_size)
		return vh_conn_fail(c, m->hdr.request, "ring size out of range", -EINVAL);
	/* virtio 1.2 §2.7: split ring sizes are powers of two; packed ones need not be. */
	if (!has_feature(c, VIRTIO_F_RING_PACKED) && !vh_is_pow2(num))
		return vh_conn_fail(c, m->hdr.request, "split ring size not a power of two",
				    -EINVAL);
	q->num = num;
	return 0;
}

static int set_vring_addr(struct vh_queue *q, struct vh_msg *m)
{
	struct vh_conn *c = q->conn;
	const struct vhost_vring_addr *a = &m->payload.addr;
	struct vh_vq_addrs host;
	struct vhost_vring_addr old = q->addr;
	bool was_set = q->addr_set;
	int err;

	if (a->flags & ~(1u << VHOST_VRING_F_LOG))
		return vh_conn_fail(c, m->hdr.request, "unknown ring address flags", -EINVAL);
	vh_conn_pause(c);
	q->addr = *a;
	q->addr_set = true;
	/* Checked now when possible; with an IOMMU the IOVAs are resolved at start. */
	if (!has_feature(c, VIRTIO_F_ACCESS_PLATFORM)) {
		err = queue_translate(q, &host);
		if (err < 0) {
			q->addr = old;
			q->addr_set = was_set;
			vh_conn_resume(c);
			return vh_conn_fail(c, m->hdr.request,
					    "ring addresses are not in guest memory", err);
		}
	}
	vh_conn_resume(c);
	return vh_queue_try_start(q);
}

static int set_vring_base(struct vh_queue *q, struct vh_msg *m)
{
	struct vh_conn *c = q->conn;
	uint32_t base = m->payload.state.num;

	if (q->live)
		return vh_conn_fail(c, m->hdr.request, "ring is running", -EBUSY);
	/* QEMU (virtio_queue_packed_get_last_avail_idx) puts the packed ring's used index and
	 * wrap counter in bits 16..31; the used position restarts from the avail one. */
	if (has_feature(c, VIRTIO_F_RING_PACKED))
		base &= 0xffff;
	if (base > 0xffff)
		return vh_conn_fail(c, m->hdr.request, "ring base out of range", -EINVAL);
	q->base = base;
	if (q->vq && vh_vq_set_base(q->vq, base) < 0)
		return vh_conn_fail(c, m->hdr.request, "ring base out of range", -EINVAL);
	q->broken = false;
	q->err_signalled = false;
	return 0;
}

/*
 * GET_VRING_BASE / SET_VRING_ENABLE 0 with GET_VRING_BASE_INFLIGHT: the device suspends rather
 * than drains (vh_queue_suspending()); the chains it leaves stay in the inflight region and the
 * next start (re-enable, or a new back-end) resubmits them.
 */
static void queue_stop_suspend(struct vh_queue *q)
{
	q->suspending =
	    (q->conn->proto_features & (1ull << VH_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT)) != 0;
	vh_queue_stop_live(q);
	q->suspending = false;
}

/* vhost-user.rst: GET_VRING_BASE stops the ring and returns where it stands. */
static int get_vring_base(struct vh_queue *q, struct vh_msg *m, struct vh_msg *reply)
{
	uint32_t base = q->base;

	/* GET_VRING_BASE_INFLIGHT: suspend, not drain; the base counts the suspended chains as
	 * taken (the inflight region gives them back at the next start). */
	queue_stop_suspend(q);
	if (q->vq)
		base = vh_vq_get_base(q->vq);
	vh_inflight_queue_stop(q);
	vh_vq_destroy(&q->vq);
	if (q->kick_fd >= 0)
		close(q->kick_fd);
	q->kick_fd = -1;
	q->kick_set = false;
	q->pending_start = q->iotlb_wait = false;
	q->base = base;
	vh_msg_init(reply, m->hdr.request, VH_USER_FLAG_REPLY, sizeof(struct vhost_vring_state));
	reply->payload.state.index = q->index;
	reply->payload.state.num = base;
	return 0;
}

static int take_ring_fd(struct vh_msg *m)
{
	int fd;

	if (m->payload.u64 & VH_USER_VRING_NOFD_MASK)
		return -1;
	fd = m->fds[0];
	m->fds[0] = -1;
	return fd;
}

static int set_vring_kick(struct vh_queue *q, struct vh_msg *m)
{
	struct vh_conn *c = q->conn;
	int fd = take_ring_fd(m);

	if (q->kick_w.fd >= 0)
		vh_server_epoll_del(c->s, &q->kick_w);
	if (q->kick_fd >= 0)
		close(q->kick_fd);
	q->kick_fd = fd;
	if (q->live) {
		if (!is_poll(c) && fd >= 0)
			queue_watch_kick(q, fd);
		return 0;
	}
	q->kick_set = true;
	/* vhost-user.rst: without VHOST_USER_F_PROTOCOL_FEATURES a started ring is enabled. */
	if (!has_feature(c, VH_USER_F_PROTOCOL_FEATURES))
		q->enabled = true;
	return vh_queue_try_start(q);
}

static int set_vring_call(struct vh_queue *q, struct vh_msg *m)
{
	int fd = take_ring_fd(m);

	vh_poll_park(q->conn->s);
	if (q->call_fd >= 0)
		close(q->call_fd);
	q->call_fd = fd;
	vh_poll_resume(q->conn->s);
	return 0;
}

static int set_vring_err(struct vh_queue *q, struct vh_msg *m)
{
	if (q->err_fd >= 0)
		close(q->err_fd);
	q->err_fd = take_ring_fd(m);
	return 0;
}

static int set_vring_enable(struct vh_queue *q, struct vh_msg *m)
{
	uint32_t on = m->payload.state.num;

	if (on > 1)
		return vh_conn_fail(q->conn, m->hdr.request, "enable is not 0 or 1", -EINVAL);
	q->enabled = on;
	if (!on) {
		queue_stop_suspend(q); /* QEMU disables the ring before GET_VRING_BASE */
		return 0;
	}
	return vh_queue_try_start(q);
}

/* INBAND_NOTIFICATIONS: the in-band version of a kick eventfd write (state.num reserved, 0). */
static int vring_kick(struct vh_queue *q, struct vh_msg *m)
{
	struct vh_conn *c = q->conn;

	if (!(c->proto_features & (1ull << VH_USER_PROTOCOL_F_INBAND_NOTIFICATIONS)))
		return vh_conn_fail(c, m->hdr.request, "INBAND_NOTIFICATIONS not negotiated",
				    -EPROTO);
	if (m->payload.state.num)
		return vh_conn_fail(c, m->hdr.request, "reserved num is not 0", -EINVAL);
	if (q->live)
		vh_queue_wake(q);
	return 0;
}

static int ring_index(struct vh_conn *c, struct vh_msg *m, unsigned *idx)
{
	uint64_t v;

	switch (m->hdr.request) {
	case VH_USER_SET_VRING_KICK:
	case VH_USER_SET_VRING_CALL:
	case VH_USER_SET_VRING_ERR:
		v = m->payload.u64;
		if (v & ~(VH_USER_VRING_IDX_MASK | VH_USER_VRING_NOFD_MASK))
			return vh_conn_fail(c, m->hdr.request, "reserved bits set", -EINVAL);
		v &= VH_USER_VRING_IDX_MASK;
		break;
	case VH_USER_SET_VRING_ADDR:
		v = m->payload.addr.index;
		break;
	default:
		v = m->payload.state.index;
		break;
	}
	if (v >= c->num_queues)
		return vh_conn_fail(c, m->hdr.request, "ring index out of range", -EINVAL);
	*idx = (unsigned)v;
	return 0;
}

int vh_ring_handler(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply)
{
	unsigned idx = 0;
	struct vh_queue *q;
	int err;

	if (m->hdr.request == VH_USER_SET_INFLIGHT_FD)
		return vh_inflight_set(c, m);
	err = ring_index(c, m, &idx);
	if (err < 0)
		/* GET_VRING_BASE has no failure reply: the front-end would wait forever. */
		return m->hdr.request == VH_USER_GET_VRING_BASE ? -EPROTO : err;
	q = &c->q[idx];
	switch (m->hdr.request) {
	case VH_USER_SET_VRING_NUM:
		return set_vring_num(q, m);
	case VH_USER_SET_VRING_ADDR:
		return set_vring_addr(q, m);
	case VH_USER_SET_VRING_BASE:
		return set_vring_base(q, m);
	case VH_USER_GET_VRING_BASE:
		return get_vring_base(q, m, reply);
	case VH_USER_SET_VRING_KICK:
		return set_vring_kick(q, m);
	case VH_USER_SET_VRING_CALL:
		return set_vring_call(q, m);
	case VH_USER_SET_VRING_ERR:
		return set_vring_err(q, m);
	case VH_USER_SET_VRING_ENABLE:
		return set_vring_enable(q, m);
	case VH_USER_VRING_KICK:
		return vring_kick(q, m);
	default:
		return -EOPNOTSUPP;
	}
}

/* ---- datapath ------------------------------------------------------------------------------ */

/*
 * INBAND_NOTIFICATIONS: a ring whose call / err fd the front-end left out (NOFD) is signalled
 * with BACKEND_VRING_CALL / _ERR on the back-end channel. Sent without NEED_REPLY although
 * vhost-user.rst suggests REPLY_ACK: a ring context waiting for the front-end's ack while the
 * front-end waits for a reply on the main channel from the dispatch thread would deadlock.
 */
static int queue_signal_inband(struct vh_queue *q, uint32_t req)
{
	struct vh_msg m;

	if (!(q->conn->proto_features & (1ull << VH_USER_PROTOCOL_F_INBAND_NOTIFICATIONS)))
		return 0;
	vh_msg_init(&m, req, 0, sizeof(struct vhost_vring_state));
	m.payload.state.index = q->index;
	m.payload.state.num = 0;
	return vh_conn_send_backend(q->conn, &m) < 0 ? -EIO : 1;
}

/* vhost-user.rst SET_VRING_ERR: the back-end signals the error eventfd when a ring fails. */
static void queue_broken(struct vh_queue *q)
{
	static const uint64_t one = 1;
	bool first = !q->err_signalled;

	q->broken = true;
	q->err_signalled = true;
	if (first && q->err_fd < 0)
		queue_signal_inband(q, VH_USER_BACKEND_VRING_ERR);
	if (first && q->err_fd >= 0 && write(q->err_fd, &one, sizeof(one)) < 0) {
		/* nothing more to do: the ring stays broken either way */
	}
}

/* One queue_kick with the fairness budget; false when the ring broke. */
static bool queue_run_once(struct vh_queue *q)
{
	struct vh_conn *c = q->conn;
	int err;

	q->budget = VH_QUEUE_BUDGET;
	q->budget_hit = false;
	q->popped = 0;
	err = c->s->cfg.ops->queue_kick(c->inst, q);
	q->budget = UINT_MAX;
	if (err < 0 || q->broken) {
		/* A ring the guest broke was logged by vq/ already. */
		if (!q->broken)
			vh_logf(&c->s->cfg.log, VH_LOG_ERR, c->name, "vq %u: queue_kick: %s",
				q->index, strerror(-err));
		queue_broken(q);
	}
	vh_queue_notify(q);
	return !q->broken;
}

static uint64_t queue_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Adaptive event-mode poll window, per queue. After a kick that found work the dispatch thread
 * may stay on the ring (notifications off) for up to q->poll_ns of no new work. Polling replaces
 * a kick and a wake-up per batch by idle spinning, so it is worth it only while the ring is busy:
 * each time work turns up, the idle time it took (spinning in the window, or asleep in epoll since
 * the last window) is compared with the requests it brought. Up to VH_QUEUE_POLL_IDLE_PER_REQ_NS
 * idle per request, the window doubles (at least to VH_QUEUE_POLL_MIN_NS, at least to that idle
 * time, at most to the queue's ceiling); above it, and whenever a window runs out empty, it
 * halves, and below VH_QUEUE_POLL_MIN_NS it is 0: no polling at all. So a ring at iodepth 32 polls
 * with the whole window, while a request-response ring at iodepth 1, or an idle ring kicked now
 * and then, goes back to plain sleep/wake after a few kicks and never spins the ceiling again.
 */
#define VH_QUEUE_POLL_IDLE_PER_REQ_NS 1000u
#define VH_QUEUE_POLL_MIN_NS	      2000u

static void queue_poll_adapt(struct vh_queue *q, uint64_t idle_ns, unsigned found)
{
	uint64_t w;

	if (found && idle_ns <= (uint64_t)found * VH_QUEUE_POLL_IDLE_PER_REQ_NS) {
		w = q->poll_ns * 2;
		if (w < VH_QUEUE_POLL_MIN_NS)
			w = VH_QUEUE_POLL_MIN_NS;
		if (w < idle_ns)
			w = idle_ns;
		q->poll_ns = w < q->poll_max_ns ? w : q->poll_max_ns;
	} else {
		q->poll_ns /= 2;
		if (q->poll_ns < VH_QUEUE_POLL_MIN_NS)
			q->poll_ns = 0;
	}
}

/*
 * The poll window itself: while the driver keeps adding buffers, stay on the ring with its
 * notifications off instead of sleeping in epoll; give up after q->poll_ns without work, or when
 * the budget says other fds are waiting. Notifications go back on before we sleep, and the last
 * queue_kick pops once more after re-arming (vq/ re-checks an empty ring), so no kick is lost.
 */
static void queue_poll_window(struct vh_queue *q, uint64_t now)
{
	uint64_t last = now; /* when work last turned up */
	/* A ring that never runs dry still yields to the other fds now and then. */
	uint64_t hard = now + 16 * q->poll_max_ns;

	vh_vq_set_notification(q->vq, false);
	while (q->live && !q->paused && !q->budget_hit && q->poll_ns) {
		uint64_t t;

		if (now - last >= q->poll_ns) {
			queue_poll_adapt(q, now - last, 0);
			break;
		}
		if (now >= hard) {
			q->budget_hit = true; /* vh_queue_run() wakes the ring again */
			break;
		}
		if (!queue_run_once(q))
			return;
		t = queue_now_ns();
		if (q->popped) {
			queue_poll_adapt(q, now - last, q->popped);
			last = t;
		} else {
			vh_cpu_relax();
		}
		now = t;
	}
	if (q->vq && !q->broken)
		vh_vq_set_notification(q->vq, true);
	if (q->live && !q->paused && !q->budget_hit)
		queue_run_once(q);
}

/* Event mode with a poll ceiling: adapt to the time the ring slept, then maybe poll. */
static void queue_run_adaptive(struct vh_queue *q)
{
	uint64_t start = queue_now_ns(), now;

	if (!queue_run_once(q))
		return;
	if (!q->popped)
		return; /* a spurious kick says nothing about the load */
	now = queue_now_ns();
	if (q->poll_slept)
		queue_poll_adapt(q, start - q->poll_slept, q->popped);
	if (q->poll_ns && !q->budget_hit) {
		queue_poll_window(q, now);
		now = queue_now_ns();
	}
	q->poll_slept = now;
}

void vh_queue_run(struct vh_queue *q)
{
	struct vh_conn *c = q->conn;

	if (!q->live || q->paused || q->broken)
		return;
	if (!is_poll(c) && q->poll_max_ns)
		queue_run_adaptive(q);
	else
		queue_run_once(q);
	/* A guest that keeps the ring full must not starve the other fds: come back later. */
	if (q->budget_hit && !is_poll(c))
		vh_queue_wake(q);
}

void vh_queue_set_poll_max_us(struct vh_queue *q, unsigned us)
{
	q->poll_max_ns = (uint64_t)us * 1000u;
	if (q->poll_ns > q->poll_max_ns)
		q->poll_ns = q->poll_max_ns;
}

uint64_t vh_queue_poll_window_ns(const struct vh_queue *q)
{
	return q->poll_ns;
}

int vh_queue_pop(struct vh_queue *q, struct vh_vq_elem *elem)
{
	int r;

	if (vh_unlikely(!q->live || q->paused))
		return -ESHUTDOWN;
	if (vh_unlikely(q->budget == 0)) {
		q->budget_hit = true;
		return 0;
	}
	q->budget--;
	r = vh_vq_pop(q->vq, elem);
	if (vh_likely(r == 1)) {
		q->popped++;
		return 1;
	}
	if (r == -EAGAIN) {
		q->iotlb_wait = true;
		send_iotlb_miss(q->conn);
		return 0;
	}
	if (r == -EPROTO)
		q->broken = true;
	return r;
}

int vh_queue_push(struct vh_queue *q, const struct vh_vq_elem *elem, uint32_t written)
{
	if (vh_unlikely(!q->vq))
		return -ESHUTDOWN;
	return vh_vq_push(q->vq, elem, written);
}

bool vh_queue_suspending(const struct vh_queue *q)
{
	return q->suspending;
}

int vh_queue_notify(struct vh_queue *q)
{
	static const uint64_t one = 1;

	if (!q->vq)
		return 0;
	vh_vq_flush(q->vq);
	if (!vh_vq_needs_notify(q->vq))
		return 0;
	if (q->call_fd < 0)
		return queue_signal_inband(q, VH_USER_BACKEND_VRING_CALL);
	if (write(q->call_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 1;
}

int vh_queue_wake(struct vh_queue *q)
{
	uint64_t one = 1;

	if (!q->live || q->wake_fd < 0)
		return -ESHUTDOWN;
	if (write(q->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

uint32_t vh_queue_base(const struct vh_queue *q)
{
	return q->base;
}

unsigned vh_queue_index(const struct vh_queue *q)
{
	return q->index;
}

unsigned vh_queue_size(const struct vh_queue *q)
{
	return q->num;
}

struct vh_conn *vh_queue_conn(const struct vh_queue *q)
{
	return q->conn;
}

void vh_queue_set_opaque(struct vh_queue *q, void *opaque)
{
	q->opaque = opaque;
}

void *vh_queue_opaque(const struct vh_queue *q)
{
	return q->opaque;
}
