/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to driver/: one virtio-blk request queue over a driver-side ring, independent of how
 * the ring reaches the device (vh_dev in blk.c; an in-process device in the tests and the bench).
 */
#ifndef VH_BLK_INTERNAL_H
#define VH_BLK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_blk.h>

#include <vhost/blk.h>
#include <vhost/vq.h>

/*
 * Per-request header in guest memory: what the device reads (out header, discard/write-zeroes
 * segment) and the status byte it writes. 64 bytes so neighbouring slots never share a line.
 */
struct blkq_hdr {
	struct virtio_blk_outhdr out;
	struct virtio_blk_discard_write_zeroes seg;
	uint8_t status;
	uint8_t pad[31];
};
_Static_assert(sizeof(struct blkq_hdr) == 64, "blkq_hdr is one cache line");

/* Status the driver writes before submitting: a device that completes without writing one is
 * caught (virtio 1.2 §5.2.6: status is the last byte the device writes). */
#define BLKQ_STATUS_NONE 0xffu

/*
 * Guest memory as the queue sees it: the driver's mapping at guest address @gpa (rings, headers,
 * pool) and optionally the caller's region at @gpa2, above it (@size2 0: none).
 */
struct blkq_mem {
	uint8_t *host;
	uint64_t gpa;
	uint64_t size;
	uint8_t *host2;
	uint64_t gpa2;
	uint64_t size2;
};

/* Where a queue's pieces go inside guest memory (offsets from the queue's base). */
struct blkq_layout {
	uint64_t ring_off;
	uint64_t indirect_off;
	uint64_t hdr_off;
	uint64_t size; /* multiple of 64 */
};

struct blkq_config {
	unsigned index;
	unsigned num;
	unsigned depth;
	bool packed;
	bool event_idx;
	bool poll;
	unsigned indirect_max; /* 0: none */
	struct blkq_mem mem;
	uint64_t base_gpa; /* where the queue's blkq_layout starts (64-byte aligned) */
	uint64_t features; /* negotiated */
	uint64_t capacity; /* sectors */
	uint32_t seg_max;  /* 0: VH_BLK_MAX_SEGS */
	bool read_only;
	int kick_fd; /* -1: never kick (in-process device that polls) */
	int call_fd; /* -1: none */
	const char *name;
	struct vh_log_sink log;
};

struct blkq_slot {
	void *cookie;
	struct blkq_hdr *hdr;
	uint64_t hdr_gpa;
};

struct blkq {
	struct vh_vq_driver *vq;
	struct blkq_slot *slots;
	uint16_t *free; /* stack of free slot numbers */
	unsigned nfree;
	unsigned depth;
	int kick_fd;
	int call_fd;
	bool poll;
	bool read_only;
	unsigned indirect_max;
	uint32_t seg_max;
	uint64_t features;
	uint64_t capacity;
	struct blkq_mem mem;
	/* blkq_wait(): epoll set holding @call_fd edge-triggered (-1: not created yet), and
	 * which call fd it holds (a reconnect may bring another one). */
	int wait_ep;
	int wait_ep_fd;
	/* A completion taken off the ring by blkq_wait() in polling mode, handed out by reap. */
	struct blkq_slot *stash;
	uint32_t stash_len;
	unsigned index;
	struct vh_log_sink log;
	char name[48];
};

/* Bytes a queue needs in guest memory (ring, indirect tables, headers). */
int blkq_layout(unsigned num, bool packed, unsigned indirect_max, unsigned depth,
		struct blkq_layout *out);

int blkq_init(struct blkq *q, const struct blkq_config *cfg);
void blkq_fini(struct blkq *q);
int blkq_submit(struct blkq *q, const struct vh_blk_io *ios, unsigned n);
int blkq_reap(struct blkq *q, struct vh_blk_completion *out, unsigned max);
int blkq_wait(struct blkq *q, int timeout_ms);
/* Notify the device unconditionally (after a reconnect). */
void blkq_kick(struct blkq *q);
static inline unsigned blkq_inflight(const struct blkq *q)
{
	return q->depth - q->nfree;
}

/* In-process RAM-disk device (blk_ramdev.c) for the unit tests and the driver benchmark. */
struct vh_memmap;
struct vh_vq;

struct blk_ramdev_config {
	unsigned num;
	bool packed;
	bool event_idx;
	bool indirect;
	struct blkq_mem mem;
	const struct vh_vq_driver *driver; /* the ring to serve */
	uint8_t *disk;			   /* NULL: null device */
	uint64_t sectors;
};

struct blk_ramdev {
	struct vh_vq *vq;
	struct vh_memmap *mm;
	uint8_t *disk;
	uint64_t sectors;
	int force_status;	 /* >= 0: answer every request with this status (set after init) */
	uint32_t last_type;	 /* VIRTIO_BLK_T_* of the last request */
	uint32_t last_seg_flags; /* flags of the last discard/write-zeroes segment */
	struct iovec iov[VH_BLK_MAX_SEGS + 8];
};

int blk_ramdev_init(struct blk_ramdev *rd, const struct blk_ramdev_config *cfg);
void blk_ramdev_fini(struct blk_ramdev *rd);
/* Serve up to @max requests; returns how many, or -errno (-EPROTO: the ring is broken). */
int blk_ramdev_process(struct blk_ramdev *rd, unsigned max);

#endif
