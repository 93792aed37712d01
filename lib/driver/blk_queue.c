// SPDX-License-Identifier: BSD-3-Clause
/*
 * One virtio-blk request queue (virtio 1.2 §5.2.6): request slots preallocated in guest memory,
 * chains built on the driver side of the one ring implementation (vq/), completions reaped from
 * its used ring. Nothing here allocates or makes a system call per request except the kick.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_blk.h>

#include "driver/blk_internal.h"
#include "util/util.h"

#define BLKQ_ALIGN 64u

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

int blkq_layout(unsigned num, bool packed, unsigned indirect_max, unsigned depth,
		struct blkq_layout *out)
{
	struct vh_vq_layout l;
	int err = vh_vq_layout(num, packed, &l);

	if (err < 0)
		return err;
	if (depth == 0 || depth > num || depth > UINT16_MAX)
		return -EINVAL;
	out->ring_off = 0;
	out->indirect_off = align_up(l.size, BLKQ_ALIGN);
	out->hdr_off = align_up(out->indirect_off + 16ull * indirect_max * num, BLKQ_ALIGN);
	out->size = align_up(out->hdr_off + sizeof(struct blkq_hdr) * depth, BLKQ_ALIGN);
	return 0;
}

static int setup_vq(struct blkq *q, const struct blkq_config *cfg, const struct blkq_layout *l)
{
	struct vh_vq_driver_config vc = {
		.num = cfg->num,
		.packed = cfg->packed,
		.event_idx = cfg->event_idx,
		.indirect_max = cfg->indirect_max,
		.name = q->name,
		.log = cfg->log,
		.host = cfg->mem.host,
		.gpa = cfg->mem.gpa,
		/*
		 * The ring checks buffer addresses against [gpa, gpa + size): cover the caller's
		 * region too. It reaches memory through @host only for its ring and indirect
		 * tables, which lie in the first region.
		 */
		.size =
		    cfg->mem.size2 ? cfg->mem.gpa2 + cfg->mem.size2 - cfg->mem.gpa : cfg->mem.size,
		.ring_gpa = cfg->base_gpa + l->ring_off,
		.indirect_gpa = cfg->base_gpa + l->indirect_off,
	};

	return vh_vq_driver_create(&vc, &q->vq);
}

int blkq_init(struct blkq *q, const struct blkq_config *cfg)
{
	struct blkq_layout l;
	uint64_t hdr_gpa;
	unsigned i;
	int err;

	memset(q, 0, sizeof(*q));
	q->kick_fd = -1;
	q->call_fd = -1;
	q->wait_ep = -1;
	q->wait_ep_fd = -1;
	err = blkq_layout(cfg->num, cfg->packed, cfg->indirect_max, cfg->depth, &l);
	if (err < 0)
		return err;
	if (cfg->base_gpa < cfg->mem.gpa || (cfg->base_gpa & (BLKQ_ALIGN - 1)) ||
	    cfg->base_gpa - cfg->mem.gpa > cfg->mem.size ||
	    l.size > cfg->mem.size - (cfg->base_gpa - cfg->mem.gpa))
		return -EINVAL;
	if (cfg->mem.size2 &&
	    (!cfg->mem.host2 || cfg->mem.gpa2 - cfg->mem.gpa < cfg->mem.size ||
	     cfg->mem.gpa2 < cfg->mem.gpa || cfg->mem.gpa2 + cfg->mem.size2 < cfg->mem.gpa2))
		return -EINVAL;
	snprintf(q->name, sizeof(q->name), "%s q%u", cfg->name ? cfg->name : "vh_blk", cfg->index);
	err = setup_vq(q, cfg, &l);
	if (err < 0)
		return err;
	q->slots = calloc(cfg->depth, sizeof(*q->slots));
	q->free = calloc(cfg->depth, sizeof(*q->free));
	if (!q->slots || !q->free) {
		blkq_fini(q);
		return -ENOMEM;
	}
	hdr_gpa = cfg->base_gpa + l.hdr_off;
	for (i = 0; i < cfg->depth; i++) {
		q->slots[i].hdr_gpa = hdr_gpa + i * sizeof(struct blkq_hdr);
		q->slots[i].hdr =
		    (struct blkq_hdr *)(cfg->mem.host + (q->slots[i].hdr_gpa - cfg->mem.gpa));
		memset(q->slots[i].hdr, 0, sizeof(struct blkq_hdr));
		/* Lowest slot on top of the stack: consecutive requests reuse warm lines. */
		q->free[i] = (uint16_t)(cfg->depth - 1 - i);
	}
	q->nfree = cfg->depth;
	q->depth = cfg->depth;
	q->kick_fd = cfg->kick_fd;
	q->call_fd = cfg->call_fd;
	q->poll = cfg->poll;
	q->read_only = cfg->read_only;
	q->indirect_max = cfg->indirect_max;
	q->seg_max =
	    cfg->seg_max && cfg->seg_max < VH_BLK_MAX_SEGS ? cfg->seg_max : VH_BLK_MAX_SEGS;
	q->features = cfg->features;
	q->capacity = cfg->capacity;
	q->mem = cfg->mem;
	q->index = cfg->index;
	q->log = cfg->log;
	/* Polling: virtio 1.2 §2.7.7 lets the driver suppress used buffer notifications. */
	vh_vq_driver_set_notification(q->vq, !q->poll);
	return 0;
}

void blkq_fini(struct blkq *q)
{
	vh_vq_driver_destroy(&q->vq);
	if (q->wait_ep >= 0)
		close(q->wait_ep);
	q->wait_ep = -1;
	q->wait_ep_fd = -1;
	free(q->slots);
	free(q->free);
	q->slots = NULL;
	q->free = NULL;
	q->nfree = 0;
	q->depth = 0;
}

/* Guest address of [p, p + len), or UINT64_MAX when it is not all guest memory. */
static uint64_t to_gpa(const struct blkq *q, const void *p, uint64_t len)
{
	uint64_t off = (uint64_t)((uintptr_t)p - (uintptr_t)q->mem.host);

	if ((uintptr_t)p >= (uintptr_t)q->mem.host && off < q->mem.size && len <= q->mem.size - off)
		return q->mem.gpa + off;
	off = (uint64_t)((uintptr_t)p - (uintptr_t)q->mem.host2);
	if (q->mem.size2 && (uintptr_t)p >= (uintptr_t)q->mem.host2 && off < q->mem.size2 &&
	    len <= q->mem.size2 - off)
		return q->mem.gpa2 + off;
	return UINT64_MAX;
}

static bool has_feature(const struct blkq *q, unsigned bit)
{
	return q->features & (1ull << bit);
}

/* [offset, offset + len) is whole sectors inside the disk. */
static int check_range(const struct blkq *q, uint64_t offset, uint64_t len)
{
	uint64_t end;

	if ((offset | len) & (VH_BLK_SECTOR_SIZE - 1) || vh_add_overflows(offset, len, &end) ||
	    end / VH_BLK_SECTOR_SIZE > q->capacity)
		return -EINVAL;
	return 0;
}

/* Data buffers of a read/write into @bufs; returns how many, or -errno. */
static int data_bufs(const struct blkq *q, const struct vh_blk_io *io, struct vh_vq_buf *bufs)
{
	uint64_t total = 0;
	unsigned i;

	if (io->iovcnt == 0) {
		bufs[0].gpa = to_gpa(q, io->buf, io->len);
		bufs[0].len = io->len;
		if (io->len == 0)
			return -EINVAL;
		if (bufs[0].gpa == UINT64_MAX)
			return -EFAULT;
		return check_range(q, io->offset, io->len) < 0 ? -EINVAL : 1;
	}
	if (io->iovcnt > q->seg_max || !io->iov)
		return -EINVAL;
	for (i = 0; i < io->iovcnt; i++) {
		if (io->iov[i].iov_len == 0 || io->iov[i].iov_len > UINT32_MAX)
			return -EINVAL;
		bufs[i].gpa = to_gpa(q, io->iov[i].iov_base, io->iov[i].iov_len);
		bufs[i].len = (uint32_t)io->iov[i].iov_len;
		if (bufs[i].gpa == UINT64_MAX)
			return -EFAULT;
		total += io->iov[i].iov_len;
	}
	return check_range(q, io->offset, total) < 0 ? -EINVAL : (int)io->iovcnt;
}

/* Discard / write zeroes: one segment (virtio 1.2 §5.2.6 struct virtio_blk_discard_write_zeroes). */
static int fill_segment(const struct blkq *q, const struct vh_blk_io *io, struct blkq_hdr *h,
			uint32_t type)
{
	uint64_t sectors = io->len / VH_BLK_SECTOR_SIZE;

	if (io->len == 0 || check_range(q, io->offset, io->len) < 0)
		return -EINVAL;
	if (type == VIRTIO_BLK_T_WRITE_ZEROES && (io->flags & ~VH_BLK_IO_UNMAP))
		return -EINVAL;
	h->seg.sector = htole64(io->offset / VH_BLK_SECTOR_SIZE);
	h->seg.num_sectors = htole32((uint32_t)sectors);
	h->seg.flags = htole32(type == VIRTIO_BLK_T_WRITE_ZEROES && (io->flags & VH_BLK_IO_UNMAP)
				   ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP
				   : 0);
	return 0;
}

/* Discard / write zeroes: the segment travels as a second readable buffer from the header slot. */
static int chain_segment(struct blkq *q, const struct vh_blk_io *io, struct blkq_slot *s,
			 struct vh_vq_buf *bufs, uint32_t *type)
{
	bool discard = io->op == VH_BLK_OP_DISCARD;
	int err;

	*type = discard ? VIRTIO_BLK_T_DISCARD : VIRTIO_BLK_T_WRITE_ZEROES;
	if (!has_feature(q, discard ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES))
		return -EOPNOTSUPP;
	if (q->read_only)
		return -EROFS;
	err = fill_segment(q, io, s->hdr, *type);
	if (err < 0)
		return err;
	bufs[1].gpa = s->hdr_gpa + offsetof(struct blkq_hdr, seg);
	bufs[1].len = sizeof(s->hdr->seg);
	return 1;
}

/*
 * The buffers between the out header and the status byte; returns how many (the first @*out of
 * them device-readable) or -errno.
 */
static int chain_body(struct blkq *q, const struct vh_blk_io *io, struct blkq_slot *s,
		      struct vh_vq_buf *bufs, uint32_t *type, unsigned *out)
{
	int n;

	switch (io->op) {
	case VH_BLK_OP_READ:
	case VH_BLK_OP_WRITE:
		if (io->op == VH_BLK_OP_WRITE && q->read_only)
			return -EROFS;
		n = data_bufs(q, io, bufs + 1);
		*type = io->op == VH_BLK_OP_READ ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT;
		*out = *type == VIRTIO_BLK_T_OUT && n > 0 ? (unsigned)n : 0;
		return n;
	case VH_BLK_OP_FLUSH:
		*type = VIRTIO_BLK_T_FLUSH;
		return has_feature(q, VIRTIO_BLK_F_FLUSH) ? 0 : -EOPNOTSUPP;
	case VH_BLK_OP_DISCARD:
	case VH_BLK_OP_WRITE_ZEROES:
		*out = 1;
		return chain_segment(q, io, s, bufs, type);
	case VH_BLK_OP_GET_ID:
		*type = VIRTIO_BLK_T_GET_ID;
		if (io->len < VIRTIO_BLK_ID_BYTES)
			return -EINVAL;
		bufs[1].gpa = to_gpa(q, io->buf, VIRTIO_BLK_ID_BYTES);
		bufs[1].len = VIRTIO_BLK_ID_BYTES;
		return bufs[1].gpa == UINT64_MAX ? -EFAULT : 1;
	default:
		return -EINVAL;
	}
}

/*
 * Build the chain of @io for slot @s into @req/@bufs: out header, readable data or segment, then
 * writable data and the status byte last (virtio 1.2 §2.7.4.2: device-readable before
 * device-writable; §5.2.6 the status byte is the final writable byte).
 */
static int build_chain(struct blkq *q, const struct vh_blk_io *io, struct blkq_slot *s,
		       struct vh_vq_buf *bufs, struct vh_vq_driver_req *req)
{
	struct blkq_hdr *h = s->hdr;
	unsigned out = 0;
	uint32_t type = 0;
	int n = chain_body(q, io, s, bufs, &type, &out);

	if (n < 0)
		return n;
	bufs[0].gpa = s->hdr_gpa;
	bufs[0].len = sizeof(h->out);
	h->out.type = htole32(type);
	h->out.ioprio = 0;
	/* virtio 1.2 §5.2.6: sector is only meaningful for reads and writes. */
	h->out.sector = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_OUT
			    ? htole64(io->offset / VH_BLK_SECTOR_SIZE)
			    : 0;
	h->status = BLKQ_STATUS_NONE;
	bufs[n + 1].gpa = s->hdr_gpa + offsetof(struct blkq_hdr, status);
	bufs[n + 1].len = 1;
	req->bufs = bufs;
	req->out_num = 1 + out;
	req->in_num = (unsigned)n + 1 - out;
	req->token = s;
	req->indirect = q->indirect_max && (unsigned)n + 2 <= q->indirect_max;
	return 0;
}

static void kick(struct blkq *q)
{
	uint64_t one = 1;

	if (vh_vq_driver_kick_needed(q->vq) && q->kick_fd >= 0) {
		/* An eventfd write only fails on overflow, which a kick cannot reach. */
		if (write(q->kick_fd, &one, sizeof(one)) < 0)
			vh_logf(&q->log, VH_LOG_WARN, q->name, "kick: write: %s", strerror(errno));
	}
}

void blkq_kick(struct blkq *q)
{
	uint64_t one = 1;

	if (q->kick_fd >= 0 && write(q->kick_fd, &one, sizeof(one)) < 0)
		vh_logf(&q->log, VH_LOG_WARN, q->name, "kick: write: %s", strerror(errno));
}

int blkq_submit(struct blkq *q, const struct vh_blk_io *ios, unsigned n)
{
	struct vh_vq_buf bufs[VH_BLK_MAX_SEGS + 2];
	struct vh_vq_driver_req req;
	unsigned i;
	int err = 0;

	for (i = 0; i < n; i++) {
		struct blkq_slot *s;

		if (vh_unlikely(q->nfree == 0)) {
			err = -EAGAIN;
			break;
		}
		s = &q->slots[q->free[q->nfree - 1]];
		err = build_chain(q, &ios[i], s, bufs, &req);
		if (vh_unlikely(err < 0))
			break;
		err = vh_vq_driver_add(q->vq, &req);
		if (vh_unlikely(err < 0)) {
			/* Out of descriptors is a full queue; anything else is our bug or a bad buf. */
			if (err == -ENOSPC)
				err = -EAGAIN;
			break;
		}
		s->cookie = ios[i].cookie;
		q->nfree--;
	}
	if (i > 0)
		kick(q);
	return i > 0 ? (int)i : err;
}

static int status_of(const struct blkq_slot *s)
{
	switch (__atomic_load_n(&s->hdr->status, __ATOMIC_RELAXED)) {
	case VIRTIO_BLK_S_OK:
		return 0;
	case VIRTIO_BLK_S_IOERR:
		return -EIO;
	case VIRTIO_BLK_S_UNSUPP:
		return -EOPNOTSUPP;
	default:
		return -EPROTO;
	}
}

static void complete(struct blkq *q, struct blkq_slot *s, uint32_t len, struct vh_blk_completion *c)
{
	c->cookie = s->cookie;
	c->status = status_of(s);
	c->len = len;
	s->cookie = NULL;
	q->free[q->nfree++] = (uint16_t)(s - q->slots);
}

int blkq_reap(struct blkq *q, struct vh_blk_completion *out, unsigned max)
{
	unsigned n = 0;
	void *tok;
	uint32_t len;
	int r;

	if (q->stash && max > 0) {
		complete(q, q->stash, q->stash_len, &out[n++]);
		q->stash = NULL;
	}
	while (n < max) {
		r = vh_vq_driver_get_used(q->vq, &tok, &len);
		if (r == 0) {
			/*
			 * Completions come by eventfd: re-arm (EVENT_IDX: used_event = the next
			 * one, virtio 1.2 §2.7.10) so the device signals again, and look once more
			 * for what it published before it could see the new used_event.
			 */
			if (q->poll || n == 0 || vh_vq_driver_set_notification(q->vq, true) != 1)
				break;
			continue;
		}
		if (vh_unlikely(r < 0))
			return n > 0 ? (int)n : r;
		complete(q, tok, len, &out[n++]);
	}
	return (int)n;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

static int wait_poll(struct blkq *q, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? INT64_MAX : now_ms() + timeout_ms;
	unsigned spins = 0;
	void *tok;
	int r;

	for (;;) {
		r = vh_vq_driver_get_used(q->vq, &tok, &q->stash_len);
		if (r != 0) {
			if (r > 0)
				q->stash = tok;
			return r;
		}
		if ((++spins & 1023) == 0 && now_ms() >= deadline)
			return 0;
		cpu_relax();
	}
}

/*
 * The call eventfd in an epoll set of its own, edge-triggered and never read: every signal of
 * the device is an edge (an eventfd write wakes its waiters whatever the count), so a wait is one
 * epoll_wait() instead of poll() + read(). System calls are most of what a wake-up costs (on a
 * VM several microseconds each), and a ring at iodepth 32 waits once per batch. Returns the
 * epoll fd, or -1 when it cannot be had (then poll() + read()).
 */
static int wait_set(struct blkq *q)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET };

	if (q->wait_ep >= 0 && q->wait_ep_fd == q->call_fd)
		return q->wait_ep;
	if (q->wait_ep < 0) {
		q->wait_ep = epoll_create1(EPOLL_CLOEXEC);
		if (q->wait_ep < 0)
			return -1;
	} else if (q->wait_ep_fd >= 0) {
		/* A reconnect closed the old fd (which left the set) or kept it: either way. */
		(void)epoll_ctl(q->wait_ep, EPOLL_CTL_DEL, q->wait_ep_fd, NULL);
	}
	q->wait_ep_fd = -1;
	if (epoll_ctl(q->wait_ep, EPOLL_CTL_ADD, q->call_fd, &ev) < 0)
		return -1;
	q->wait_ep_fd = q->call_fd;
	return q->wait_ep;
}

/* One sleep on the call eventfd: > 0 signalled, 0 timeout, -errno. */
static int wait_call(struct blkq *q, int timeout_ms)
{
	struct pollfd pfd = { .fd = q->call_fd, .events = POLLIN };
	struct epoll_event ev;
	int ep = wait_set(q), r;
	uint64_t cnt;

	if (ep >= 0) {
		r = epoll_wait(ep, &ev, 1, timeout_ms);
		return r < 0 ? (errno == EINTR ? 0 : -errno) : r;
	}
	r = poll(&pfd, 1, timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	if (r > 0 && read(q->call_fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		return -errno;
	return r;
}

int blkq_wait(struct blkq *q, int timeout_ms)
{
	int r;

	if (q->stash)
		return 1;
	if (q->poll || q->call_fd < 0)
		return wait_poll(q, timeout_ms);
	for (;;) {
		/* Re-arm (EVENT_IDX: used_event = next completion) and re-check before sleeping. */
		r = vh_vq_driver_set_notification(q->vq, true);
		if (r != 0)
			return r;
		r = wait_call(q, timeout_ms);
		if (r <= 0)
			return r;
		/* Spurious or early calls loop back to the re-check above. */
		if (timeout_ms == 0)
			return vh_vq_driver_set_notification(q->vq, true);
	}
}
