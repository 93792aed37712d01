/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * For the device harnesses (fuzz_blk.c, fuzz_net.c): a minimal scripted vhost-user front-end on
 * a socketpair to a vh_server in the same thread. It sets up one memfd of guest RAM (one region
 * at GPA 0), negotiates, and starts rings whose descriptors, driver areas and buffers the fuzz
 * input wrote into that RAM; a kick is an eventfd write followed by dispatch rounds. Setup
 * failures are harness bugs (abort); the device's answers to bad rings are what is fuzzed.
 */
#ifndef VH_FUZZ_FRONTEND_H
#define VH_FUZZ_FRONTEND_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include <vhost/backend.h>
#include <vhost/proto.h>
#include <vhost/sock.h>
#include <vhost/vq.h>

#define FZ_UVA_BASE   0x7f0000000000ull
#define FZ_MAX_QUEUES 3

struct fz_fe {
	struct vh_server *s;
	int sock;
	int memfd;
	uint8_t *mem;
	size_t mem_size;
	int kick[FZ_MAX_QUEUES], call[FZ_MAX_QUEUES];
};

/* The log sink of the server under test: errors are expected, printing them is not. */
static inline void fz_quiet(void *opaque, enum vh_log_level level, const char *msg)
{
	(void)opaque;
	(void)level;
	(void)msg;
}

/* Send @m and pump the server until the reply (or, without one, a few rounds). 0 or -errno. */
static inline int fz_xfer(struct fz_fe *f, struct vh_msg *m, uint64_t *u64)
{
	bool want = vh_proto_reply_expected(false, &m->hdr);
	struct vh_msg reply;
	int r = vh_sock_send(f->sock, m);

	if (r < 0)
		return r;
	for (int i = 0; i < 64; i++) {
		vh_server_dispatch(f->s);
		r = vh_sock_recv(f->sock, &reply, 0);
		if (r == -EAGAIN && !want && i > 1)
			return 0;
		if (r == -EAGAIN)
			continue;
		if (r < 0)
			return r;
		vh_msg_close_fds(&reply);
		if (u64)
			*u64 = reply.payload.u64;
		return reply.hdr.size == 8 && m->hdr.flags & VH_USER_FLAG_NEED_REPLY &&
			       reply.payload.u64
			   ? -EIO
			   : 0;
	}
	return -ETIMEDOUT;
}

static inline int fz_u64(struct fz_fe *f, uint32_t req, uint64_t v)
{
	struct vh_msg m;

	vh_msg_init(&m, req, VH_USER_FLAG_NEED_REPLY, 8);
	m.payload.u64 = v;
	return fz_xfer(f, &m, NULL);
}

static inline uint64_t fz_get_u64(struct fz_fe *f, uint32_t req)
{
	struct vh_msg m;
	uint64_t v = 0;

	vh_msg_init(&m, req, 0, 0);
	if (fz_xfer(f, &m, &v) < 0)
		abort();
	return v;
}

static inline int fz_state(struct fz_fe *f, uint32_t req, unsigned index, unsigned num)
{
	struct vh_msg m;

	vh_msg_init(&m, req, VH_USER_FLAG_NEED_REPLY, sizeof(struct vhost_vring_state));
	m.payload.state.index = index;
	m.payload.state.num = num;
	return fz_xfer(f, &m, NULL);
}

static inline int fz_ring_fd(struct fz_fe *f, uint32_t req, unsigned index, int fd)
{
	struct vh_msg m;

	vh_msg_init(&m, req, VH_USER_FLAG_NEED_REPLY, 8);
	m.payload.u64 = index;
	m.fds[0] = fd;
	m.nfds = 1;
	return fz_xfer(f, &m, NULL);
}

/*
 * The rings both device harnesses take from input bytes 0 and 1: bit 0 packed, bit 1
 * INDIRECT_DESC, bit 2 EVENT_IDX, bits 5-7 the size 2^n; byte 1 SET_VRING_BASE's low bits
 * (packed: bit 7 the wrap counter). features: what to ack, the ring bits as chosen and every
 * other bit the device offers except those in @device_bits (the caller decides those).
 */
struct fz_rings {
	bool packed;
	unsigned num;
	unsigned base;
	uint64_t features;
};

static inline void fz_rings_choose(const uint8_t *data, uint64_t device_bits, struct fz_rings *r)
{
	r->packed = data[0] & 1;
	r->num = 1u << (data[0] >> 5);
	r->base =
	    r->packed ? (data[1] & 0x7fu) % r->num | (data[1] & 0x80u ? 0x8000u : 0) : data[1];
	r->features = ~(1ull << VIRTIO_F_RING_PACKED | 1ull << VIRTIO_RING_F_INDIRECT_DESC |
			1ull << VIRTIO_RING_F_EVENT_IDX | device_bits);
	if (r->packed)
		r->features |= 1ull << VIRTIO_F_RING_PACKED;
	if (data[0] & 2)
		r->features |= 1ull << VIRTIO_RING_F_INDIRECT_DESC;
	if (data[0] & 4)
		r->features |= 1ull << VIRTIO_RING_F_EVENT_IDX;
}

/*
 * Server (from @scfg, its log silenced), connection, guest RAM, features (@features: what to
 * ack of the offer), memory table.
 */
static inline void fz_fe_open(struct fz_fe *f, const struct vh_server_config *scfg, size_t mem_size,
			      uint64_t features)
{
	struct vh_server_config c = *scfg, *cfg = &c;
	struct vh_msg m;
	uint64_t offered;
	int sv[2];

	c.log = (struct vh_log_sink){ .fn = fz_quiet };
	memset(f, 0, sizeof(*f));
	f->mem_size = mem_size;
	f->memfd = memfd_create("fuzz-guest", MFD_CLOEXEC);
	if (f->memfd < 0 || ftruncate(f->memfd, (off_t)mem_size) < 0)
		abort();
	f->mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
	if (f->mem == MAP_FAILED || vh_server_create(cfg, &f->s) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	f->sock = sv[0];
	if (vh_server_add_conn(f->s, sv[1]) < 0)
		abort();
	for (unsigned i = 0; i < FZ_MAX_QUEUES; i++) {
		f->kick[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		f->call[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (f->kick[i] < 0 || f->call[i] < 0)
			abort();
	}
	offered = fz_get_u64(f, VH_USER_GET_FEATURES);
	(void)fz_get_u64(f, VH_USER_GET_PROTOCOL_FEATURES);
	vh_msg_init(&m, VH_USER_SET_PROTOCOL_FEATURES, 0, 8);
	m.payload.u64 = 1ull << VH_USER_PROTOCOL_F_REPLY_ACK;
	if (fz_xfer(f, &m, NULL) < 0)
		abort();
	/* No vIOMMU: ring and buffer addresses are front-end virtual addresses (no IOTLB). */
	features &= offered & ~(1ull << VIRTIO_F_ACCESS_PLATFORM);
	features |= 1ull << VIRTIO_F_VERSION_1 | 1ull << VH_USER_F_PROTOCOL_FEATURES;
	vh_msg_init(&m, VH_USER_SET_OWNER, VH_USER_FLAG_NEED_REPLY, 0);
	if (fz_u64(f, VH_USER_SET_FEATURES, features) < 0 || fz_xfer(f, &m, NULL) < 0)
		abort();
	vh_msg_init(&m, VH_USER_SET_MEM_TABLE, VH_USER_FLAG_NEED_REPLY,
		    VH_USER_MEM_TABLE_HDR_SIZE + sizeof(struct vh_user_mem_region));
	m.payload.mem.nregions = 1;
	m.payload.mem.regions[0] = (struct vh_user_mem_region){ .guest_phys_addr = 0,
								.memory_size = mem_size,
								.userspace_addr = FZ_UVA_BASE };
	m.fds[0] = f->memfd;
	m.nfds = 1;
	if (fz_xfer(f, &m, NULL) < 0)
		abort();
}

/*
 * Ring @index: @num entries at @ring_gpa (vh_vq_layout() offsets), @base as SET_VRING_BASE
 * carries it (packed: bit 15 is the wrap counter). Returns 0 or the server's refusal (a ring
 * the fuzz input made impossible, e.g. a size the device does not take).
 */
static inline int fz_fe_ring(struct fz_fe *f, unsigned index, unsigned num, bool packed,
			     uint64_t ring_gpa, unsigned base)
{
	struct vh_vq_layout l;
	struct vh_msg m;
	int r;

	if (vh_vq_layout(num, packed, &l) < 0)
		return -EINVAL;
	r = fz_state(f, VH_USER_SET_VRING_NUM, index, num);
	if (!r)
		r = fz_state(f, VH_USER_SET_VRING_BASE, index, base);
	if (r)
		return r;
	vh_msg_init(&m, VH_USER_SET_VRING_ADDR, VH_USER_FLAG_NEED_REPLY,
		    sizeof(struct vhost_vring_addr));
	m.payload.addr = (struct vhost_vring_addr){
		.index = index,
		.desc_user_addr = FZ_UVA_BASE + ring_gpa + l.desc_off,
		.avail_user_addr = FZ_UVA_BASE + ring_gpa + l.driver_off,
		.used_user_addr = FZ_UVA_BASE + ring_gpa + l.device_off,
	};
	r = fz_xfer(f, &m, NULL);
	if (!r)
		r = fz_ring_fd(f, VH_USER_SET_VRING_KICK, index, f->kick[index]);
	if (!r)
		r = fz_ring_fd(f, VH_USER_SET_VRING_CALL, index, f->call[index]);
	if (!r)
		r = fz_state(f, VH_USER_SET_VRING_ENABLE, index, 1);
	return r;
}

/* Kick ring @index and let the server run its datapath. */
static inline void fz_fe_kick(struct fz_fe *f, unsigned index)
{
	uint64_t one = 1;

	if (write(f->kick[index], &one, sizeof(one)) != (ssize_t)sizeof(one))
		abort();
	for (int i = 0; i < 4; i++)
		vh_server_dispatch(f->s);
}

/* Stop ring @index (GET_VRING_BASE): the device must give back whatever it still holds. */
static inline void fz_fe_stop(struct fz_fe *f, unsigned index)
{
	struct vh_msg m;

	vh_msg_init(&m, VH_USER_GET_VRING_BASE, 0, sizeof(struct vhost_vring_state));
	m.payload.state.index = index;
	(void)fz_xfer(f, &m, NULL);
}

static inline void fz_fe_close(struct fz_fe *f)
{
	close(f->sock);
	for (int i = 0; i < 16 && vh_server_num_conns(f->s); i++)
		vh_server_dispatch(f->s);
	vh_server_destroy(&f->s);
	for (unsigned i = 0; i < FZ_MAX_QUEUES; i++) {
		close(f->kick[i]);
		close(f->call[i]);
	}
	munmap(f->mem, f->mem_size);
	close(f->memfd);
}

#endif
