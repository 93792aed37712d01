/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A scripted fake front-end for the backend tests: plays QEMU over a real socketpair (vh_sock_*),
 * owns guest memory in a memfd and drives the guest side of a ring with vq/'s driver API. The
 * server runs in the same thread: every step pumps vh_server_dispatch() until the answer is there.
 * An "echo" test device copies each chain's readable bytes into its writable bytes.
 *
 * With fe_connect_path() the same front-end talks to a back-end in another process (the real
 * vh-blk / vh-net daemons, tests/hostile/): f->s is NULL and every step waits on the socket
 * (FE_REMOTE_WAIT_MS) instead of pumping a server.
 */
#ifndef BACKEND_FAKE_H
#define BACKEND_FAKE_H

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include <vhost/backend.h>
#include <vhost/proto.h>
#include <vhost/sock.h>
#include <vhost/vq.h>

#include "unit_helpers.h"

#define FE_MEM_SIZE	  (1u << 20)
#define FE_UVA_BASE	  0x7f0000000000ull /* the front-end's "virtual address" of gpa 0 */
#define FE_IOVA_BASE	  0x100000000ull    /* where the vIOMMU puts gpa 0 */
#define FE_RING_GPA	  0x10000ull
#define FE_OUT_GPA	  0x20000ull
#define FE_IN_GPA	  0x21000ull
#define FE_NUM		  256
#define FE_NUM_QUEUES	  2
#define FE_REMOTE_WAIT_MS 2000

/* ---- the test device ------------------------------------------------------------------------ */

struct echo_dev {
	int pops; /* chains popped */
	int hold; /* > 0: keep this many chains without pushing (in flight) */
	int held;
	int starts, stops, opens, closes, resets;
	int suspends; /* queue_stop calls with vh_queue_suspending() */
	struct vh_vq_elem elems[8];
	struct iovec iovs[8][16];
	uint8_t config[16];
	struct vh_conn *conn; /* the last connection opened */
};

static inline size_t iov_copy(struct vh_vq_elem *e)
{
	size_t done = 0, oi = 0, ooff = 0;

	for (unsigned w = e->out_num; w < e->out_num + e->in_num; w++) {
		size_t woff = 0;

		while (woff < e->iov[w].iov_len && oi < e->out_num) {
			size_t n = e->iov[oi].iov_len - ooff;

			if (n > e->iov[w].iov_len - woff)
				n = e->iov[w].iov_len - woff;
			memcpy((uint8_t *)e->iov[w].iov_base + woff,
			       (uint8_t *)e->iov[oi].iov_base + ooff, n);
			woff += n;
			ooff += n;
			done += n;
			if (ooff == e->iov[oi].iov_len) {
				oi++;
				ooff = 0;
			}
		}
	}
	return done;
}

static inline int echo_kick(void *inst, struct vh_queue *q)
{
	struct echo_dev *d = inst;
	struct iovec iov[16];
	struct vh_vq_elem e = { .iov = iov, .max_iov = 16 };
	int r;

	for (;;) {
		if (d->held < d->hold) {
			struct vh_vq_elem *h = &d->elems[d->held];

			*h = (struct vh_vq_elem){ .iov = d->iovs[d->held], .max_iov = 16 };
			r = vh_queue_pop(q, h);
			if (r != 1)
				return r < 0 ? r : 0;
			d->held++;
			d->pops++;
			continue;
		}
		r = vh_queue_pop(q, &e);
		if (r != 1)
			return r < 0 ? r : 0;
		d->pops++;
		r = vh_queue_push(q, &e, (uint32_t)iov_copy(&e));
		if (r < 0)
			return r;
	}
}

static inline int echo_start(void *inst, struct vh_queue *q)
{
	(void)q;
	((struct echo_dev *)inst)->starts++;
	return 0;
}

static inline void echo_stop(void *inst, struct vh_queue *q)
{
	((struct echo_dev *)inst)->stops++;
	if (vh_queue_suspending(q))
		((struct echo_dev *)inst)->suspends++;
}

static inline int echo_open(void *dev, struct vh_conn *c, void **inst)
{
	(void)inst;
	((struct echo_dev *)dev)->opens++;
	((struct echo_dev *)dev)->held = 0;
	((struct echo_dev *)dev)->conn = c;
	return 0;
}

static inline void echo_close(void *inst, struct vh_conn *c)
{
	(void)c;
	((struct echo_dev *)inst)->closes++;
}

static inline int echo_get_config(void *inst, struct vh_conn *c, uint32_t off, void *buf,
				  uint32_t len)
{
	(void)c;
	memcpy(buf, ((struct echo_dev *)inst)->config + off, len);
	return 0;
}

static inline void echo_reset(void *inst, struct vh_conn *c)
{
	(void)c;
	((struct echo_dev *)inst)->resets++;
}

static const struct vh_device_ops echo_ops __attribute__((unused)) = {
	.conn_open = echo_open,
	.conn_close = echo_close,
	.get_config = echo_get_config,
	.queue_start = echo_start,
	.queue_kick = echo_kick,
	.queue_stop = echo_stop,
	.reset = echo_reset,
};

/* ---- the fake front-end --------------------------------------------------------------------- */

struct fe {
	struct vh_server *s;
	struct echo_dev dev;
	struct vh_test_log log;
	int sock;    /* our end of the connection */
	int backend; /* our end of the back-end channel (-1 when not set up) */
	int memfd;
	uint8_t *mem;
	int kick, call;
	uint64_t features;
	uint64_t proto;
	struct vh_vq_driver *drv;
	struct vh_vq_ring_addrs ra;
	uint64_t addr_base; /* what ring and buffer addresses are relative to (0 or FE_IOVA_BASE) */
	bool packed;	    /* driver lays out a packed ring */
	bool event_idx;
	unsigned max_connections; /* fe_server(): 0 keeps the server's default */
	unsigned msg_timeout_ms;  /* fe_server(): 0 keeps the server's default */
	bool gpa_addresses; /* ack GPA_ADDRESSES: ring addresses are guest physical addresses */
	const uint64_t *shmem_sizes; /* server: cfg.shmem_sizes / shmem_count / host_notifiers */
	unsigned shmem_count;
	bool host_notifiers;
	bool require_sealed_memory; /* fe_server(): cfg.require_sealed_memory */
};

static inline void fe_server(struct fe *f, enum vh_server_datapath dp)
{
	struct vh_server_config cfg;

	vh_server_config_init(&cfg);
	cfg.name = "echo";
	cfg.ops = &echo_ops;
	cfg.opaque = &f->dev;
	cfg.num_queues = FE_NUM_QUEUES;
	cfg.max_queue_size = 1024;
	cfg.config_size = sizeof(f->dev.config);
	cfg.datapath = dp;
	cfg.log = vh_test_sink(&f->log);
	if (f->max_connections)
		cfg.max_connections = f->max_connections;
	cfg.msg_timeout_ms = f->msg_timeout_ms;
	cfg.shmem_sizes = f->shmem_sizes;
	cfg.shmem_count = f->shmem_count;
	cfg.host_notifiers = f->host_notifiers;
	cfg.require_sealed_memory = f->require_sealed_memory;
	assert_int_equal(vh_server_create(&cfg, &f->s), 0);
}

static inline void fe_connect(struct fe *f)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->sock = sv[0];
	assert_int_equal(vh_server_add_conn(f->s, sv[1]), 0);
	f->backend = -1;
}

/* A back-end in another process listening on @path. */
static inline int fe_connect_path(struct fe *f, const char *path)
{
	f->backend = -1;
	return vh_sock_connect(path, &f->sock);
}

static inline void fe_pump(struct fe *f)
{
	for (int i = 0; i < 4; i++)
		vh_server_dispatch(f->s);
}

/* Send @m; if a reply is expected, pump until it arrives. Returns 0, or -ECONNRESET if closed. */
static inline int fe_xfer(struct fe *f, struct vh_msg *m, struct vh_msg *reply)
{
	bool want = vh_proto_reply_expected(false, &m->hdr);
	int r;

	r = vh_sock_send(f->sock, m);
	if (r < 0)
		return r;
	if (!f->s)
		return want ? vh_sock_recv(f->sock, reply, FE_REMOTE_WAIT_MS) : 0;
	for (int i = 0; i < 200; i++) {
		vh_server_dispatch(f->s);
		r = vh_sock_recv(f->sock, reply, 0);
		if (r == -EAGAIN && !want && i > 2)
			return 0;
		if (r != -EAGAIN)
			return r;
	}
	return -ETIMEDOUT;
}

/* A request with REPLY_ACK: returns the ack value (0 ok), or -errno when the connection closed. */
static inline int64_t fe_ack(struct fe *f, struct vh_msg *m)
{
	struct vh_msg reply;
	int r;

	m->hdr.flags |= VH_USER_FLAG_NEED_REPLY;
	r = fe_xfer(f, m, &reply);
	if (r < 0)
		return r;
	assert_int_equal(vh_proto_validate_reply(&m->hdr, &reply.hdr, reply.payload.raw,
						 reply.hdr.size, reply.nfds),
			 0);
	vh_msg_close_fds(&reply);
	return (int64_t)reply.payload.u64;
}

static inline uint64_t fe_get_u64(struct fe *f, uint32_t req)
{
	struct vh_msg m, reply;

	vh_msg_init(&m, req, 0, 0);
	assert_int_equal(fe_xfer(f, &m, &reply), 0);
	assert_int_equal(reply.hdr.request, req);
	assert_int_equal(reply.hdr.size, 8);
	return reply.payload.u64;
}

static inline int64_t fe_u64(struct fe *f, uint32_t req, uint64_t v)
{
	struct vh_msg m;

	vh_msg_init(&m, req, 0, 8);
	m.payload.u64 = v;
	return fe_ack(f, &m);
}

static inline int64_t fe_state(struct fe *f, uint32_t req, unsigned index, unsigned num)
{
	struct vh_msg m;

	vh_msg_init(&m, req, 0, sizeof(struct vhost_vring_state));
	m.payload.state.index = index;
	m.payload.state.num = num;
	return fe_ack(f, &m);
}

static inline int64_t fe_ring_fd(struct fe *f, uint32_t req, unsigned index, int fd)
{
	struct vh_msg m;

	vh_msg_init(&m, req, 0, 8);
	m.payload.u64 = index | (fd < 0 ? VH_USER_VRING_NOFD_MASK : 0);
	if (fd >= 0) {
		m.fds[0] = fd;
		m.nfds = 1;
	}
	return fe_ack(f, &m);
}

static inline void fe_memory(struct fe *f)
{
	f->mem = vh_test_guest_ram(FE_MEM_SIZE, &f->memfd);
}

static inline int64_t fe_mem_table(struct fe *f)
{
	struct vh_msg m;

	vh_msg_init(&m, VH_USER_SET_MEM_TABLE, 0, VH_USER_MEM_TABLE_HDR_SIZE + 32);
	m.payload.mem.nregions = 1;
	m.payload.mem.regions[0] = (struct vh_user_mem_region){ .guest_phys_addr = 0,
								.memory_size = FE_MEM_SIZE,
								.userspace_addr = FE_UVA_BASE,
								.mmap_offset = 0 };
	m.fds[0] = f->memfd;
	m.nfds = 1;
	return fe_ack(f, &m);
}

/* Features, protocol features, owner, back-end channel. */
static inline void fe_negotiate(struct fe *f, uint64_t extra)
{
	uint64_t feat = fe_get_u64(f, VH_USER_GET_FEATURES);
	int sv[2];
	struct vh_msg m, reply;

	assert_true(feat & (1ull << VH_USER_F_PROTOCOL_FEATURES));
	f->features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VH_USER_F_PROTOCOL_FEATURES) | extra;
	f->proto = fe_get_u64(f, VH_USER_GET_PROTOCOL_FEATURES);
	assert_true(f->proto & (1ull << VH_USER_PROTOCOL_F_REPLY_ACK));
	if (!f->gpa_addresses)
		f->proto &= ~(1ull << VH_USER_PROTOCOL_F_GPA_ADDRESSES);
	vh_msg_init(&m, VH_USER_SET_PROTOCOL_FEATURES, 0, 8);
	m.payload.u64 = f->proto;
	assert_int_equal(fe_xfer(f, &m, &reply), 0);
	assert_int_equal(fe_u64(f, VH_USER_SET_FEATURES, f->features), 0);
	vh_msg_init(&m, VH_USER_SET_OWNER, 0, 0);
	assert_int_equal(fe_ack(f, &m), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	vh_msg_init(&m, VH_USER_SET_BACKEND_REQ_FD, 0, 0);
	m.fds[0] = sv[1];
	m.nfds = 1;
	assert_int_equal(fe_ack(f, &m), 0);
	close(sv[1]);
	f->backend = sv[0];
}

/* vIOMMU: IOVA FE_IOVA_BASE + @gpa .. + @size maps guest RAM at @gpa (REPLY_ACK value). */
static inline int64_t fe_iotlb_update(struct fe *f, uint64_t gpa, uint64_t size)
{
	struct vh_msg m;

	vh_msg_init(&m, VH_USER_IOTLB_MSG, 0, sizeof(struct vhost_iotlb_msg));
	m.payload.iotlb.iova = FE_IOVA_BASE + gpa;
	m.payload.iotlb.size = size;
	m.payload.iotlb.uaddr = FE_UVA_BASE + gpa;
	m.payload.iotlb.perm = VHOST_ACCESS_RW;
	m.payload.iotlb.type = VHOST_IOTLB_UPDATE;
	return fe_ack(f, &m);
}

static inline void fe_driver(struct fe *f)
{
	struct vh_vq_driver_config dc = {
		.num = FE_NUM,
		.host = f->mem,
		.gpa = f->addr_base,
		.size = FE_MEM_SIZE,
		.ring_gpa = f->addr_base + FE_RING_GPA,
		.name = "fake driver",
		.packed = f->packed,
		.event_idx = f->event_idx,
	};

	if (f->drv)
		return;
	assert_int_equal(vh_vq_driver_create(&dc, &f->drv), 0);
	vh_vq_driver_ring_addrs(f->drv, &f->ra);
	f->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	f->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

static inline uint64_t fe_ring_addr(struct fe *f, uint64_t a)
{
	/* Without an IOMMU or GPA_ADDRESSES ring addresses are front-end virtual addresses. */
	return f->addr_base || f->gpa_addresses ? a : FE_UVA_BASE + a;
}

static inline int64_t fe_vring_addr(struct fe *f, unsigned index, uint32_t flags)
{
	struct vh_msg m;

	vh_msg_init(&m, VH_USER_SET_VRING_ADDR, 0, sizeof(struct vhost_vring_addr));
	m.payload.addr = (struct vhost_vring_addr){
		.index = index,
		.flags = flags,
		.desc_user_addr = fe_ring_addr(f, f->ra.desc_gpa),
		.avail_user_addr = fe_ring_addr(f, f->ra.driver_gpa),
		.used_user_addr = fe_ring_addr(f, f->ra.device_gpa),
		.log_guest_addr = f->ra.device_gpa - f->addr_base,
	};
	return fe_ack(f, &m);
}

/* Ring @q on the driver's ring memory: num, base, addr, kick, call, enable. */
static inline void fe_ring_index(struct fe *f, unsigned q, unsigned base, uint32_t addr_flags)
{
	fe_driver(f);
	assert_int_equal(fe_state(f, VH_USER_SET_VRING_NUM, q, FE_NUM), 0);
	assert_int_equal(fe_state(f, VH_USER_SET_VRING_BASE, q, base), 0);
	assert_int_equal(fe_vring_addr(f, q, addr_flags), 0);
	assert_int_equal(fe_ring_fd(f, VH_USER_SET_VRING_KICK, q, f->kick), 0);
	assert_int_equal(fe_ring_fd(f, VH_USER_SET_VRING_CALL, q, f->call), 0);
	assert_int_equal(fe_state(f, VH_USER_SET_VRING_ENABLE, q, 1), 0);
}

/* Ring 0: num, base, addr, kick, call, enable. */
static inline void fe_ring(struct fe *f, unsigned base, uint32_t addr_flags)
{
	fe_ring_index(f, 0, base, addr_flags);
}

/* Add one out+in chain whose out buffer holds @text; kick. */
static inline void fe_submit(struct fe *f, unsigned slot, const char *text, void *token)
{
	struct vh_vq_buf bufs[2] = {
		{ .gpa = f->addr_base + FE_OUT_GPA + slot * 256, .len = (uint32_t)strlen(text) },
		{ .gpa = f->addr_base + FE_IN_GPA + slot * 256, .len = 128 },
	};
	struct vh_vq_driver_req req = { .bufs = bufs, .out_num = 1, .in_num = 1, .token = token };
	uint64_t one = 1;

	memcpy(f->mem + FE_OUT_GPA + slot * 256, text, strlen(text));
	memset(f->mem + FE_IN_GPA + slot * 256, 0, 128);
	assert_int_equal(vh_vq_driver_add(f->drv, &req), 0);
	vh_vq_driver_publish(f->drv);
	assert_int_equal(write(f->kick, &one, sizeof(one)), (ssize_t)sizeof(one));
}

/* Pump until the call eventfd fires (true) or give up (false). */
static inline bool fe_wait_call(struct fe *f, int ms)
{
	struct pollfd p = { .fd = f->call, .events = POLLIN };
	uint64_t v;

	if (!f->s)
		return poll(&p, 1, ms) == 1 && read(f->call, &v, sizeof(v)) == (ssize_t)sizeof(v);
	for (int i = 0; i < ms; i++) {
		vh_server_dispatch(f->s);
		if (read(f->call, &v, sizeof(v)) == (ssize_t)sizeof(v))
			return true;
		if (i > 4)
			usleep(1000);
	}
	return false;
}

/* Submit @text in slot @slot, wait for the call, check the echo came back in the in buffer. */
static inline void fe_echo_once(struct fe *f, unsigned slot, const char *text)
{
	void *token = NULL;
	uint32_t len = 0;
	char tok;

	fe_submit(f, slot, text, &tok);
	assert_true(fe_wait_call(f, 2000));
	assert_int_equal(vh_vq_driver_get_used(f->drv, &token, &len), 1);
	assert_ptr_equal(token, &tok);
	assert_int_equal(len, strlen(text));
	assert_memory_equal(f->mem + FE_IN_GPA + slot * 256, text, strlen(text));
}

static inline void fe_disconnect(struct fe *f)
{
	close(f->sock);
	f->sock = -1;
	if (f->backend >= 0)
		close(f->backend);
	f->backend = -1;
	if (!f->s)
		return;
	for (int i = 0; i < 50 && vh_server_num_conns(f->s); i++)
		vh_server_dispatch(f->s);
	assert_int_equal(vh_server_num_conns(f->s), 0);
}

static inline void fe_teardown(struct fe *f)
{
	if (f->sock >= 0)
		fe_disconnect(f);
	vh_server_destroy(&f->s);
	vh_vq_driver_destroy(&f->drv);
	if (f->mem)
		munmap(f->mem, FE_MEM_SIZE);
	if (f->memfd > 0)
		close(f->memfd);
	if (f->kick > 0)
		close(f->kick);
	if (f->call > 0)
		close(f->call);
}

#endif
