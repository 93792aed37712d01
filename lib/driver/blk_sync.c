// SPDX-License-Identifier: BSD-3-Clause
/* vh_blk I/O entry points: the asynchronous queue calls and the synchronous helpers on queue 0. */
#include <errno.h>
#include <string.h>

#include "driver/blk_priv.h"
#include "util/util.h"

#define BLK_SYNC_CHUNK	    (1u << 20) /* = the bounce buffer */
#define BLK_SYNC_TIMEOUT_MS 30000

int vh_blk_submit(struct vh_blk *b, unsigned queue, const struct vh_blk_io *ios, unsigned n)
{
	if (vh_unlikely(queue >= b->nq || (n && !ios)))
		return -EINVAL;
	if (n == 0)
		return 0;
	return blkq_submit(&b->q[queue], ios, n);
}

int vh_blk_reap(struct vh_blk *b, unsigned queue, struct vh_blk_completion *out, unsigned max)
{
	if (vh_unlikely(queue >= b->nq || (max && !out)))
		return -EINVAL;
	return blkq_reap(&b->q[queue], out, max);
}

int vh_blk_wait(struct vh_blk *b, unsigned queue, int timeout_ms)
{
	if (queue >= b->nq)
		return -EINVAL;
	return blkq_wait(&b->q[queue], timeout_ms);
}

unsigned vh_blk_inflight(const struct vh_blk *b, unsigned queue)
{
	return queue < b->nq ? blkq_inflight(&b->q[queue]) : 0;
}

int vh_blk_call_fd(const struct vh_blk *b, unsigned queue)
{
	return queue < b->nq ? b->q[queue].call_fd : -1;
}

/* One request on queue 0, waited for. */
static int sync_io(struct vh_blk *b, const struct vh_blk_io *io)
{
	struct blkq *q = &b->q[0];
	struct vh_blk_completion c;
	int timeout = b->cfg.timeout_ms > 0 ? b->cfg.timeout_ms : BLK_SYNC_TIMEOUT_MS;
	int r;

	if (blkq_inflight(q))
		return -EBUSY;
	r = blkq_submit(q, io, 1);
	if (r < 0)
		return r;
	for (;;) {
		r = blkq_wait(q, timeout);
		if (r < 0)
			return r;
		if (r == 0) {
			vh_logf(&b->cfg.log, VH_LOG_ERR, b->name,
				"%s: no completion within %d ms: %s", vh_blk_op_name(io->op),
				timeout, strerror(ETIMEDOUT));
			return -ETIMEDOUT;
		}
		r = blkq_reap(q, &c, 1);
		if (r < 0)
			return r;
		if (r == 1)
			return c.status;
	}
}

static size_t chunk_limit(const struct vh_blk *b)
{
	size_t n = BLK_SYNC_CHUNK;

	if (b->info.size_max >= VH_BLK_SECTOR_SIZE && b->info.size_max < n)
		n = b->info.size_max & ~(size_t)(VH_BLK_SECTOR_SIZE - 1);
	return n;
}

/* Read or write [offset, offset + len) in chunks, directly or through the bounce buffer. */
static int sync_rw(struct vh_blk *b, enum vh_blk_op op, uint64_t offset, void *buf, size_t len)
{
	uint64_t gpa = len ? vh_blk_gpa(b, buf) : UINT64_MAX;
	/* Direct when the whole buffer is one piece of guest memory. */
	bool direct = gpa != UINT64_MAX && vh_blk_gpa(b, (uint8_t *)buf + len - 1) == gpa + len - 1;
	uint8_t *bounce = b->mem + b->bounce_off;
	size_t done = 0, max = chunk_limit(b);
	int err;

	if (b->nq == 0 || len == 0 || (len | offset) % VH_BLK_SECTOR_SIZE)
		return -EINVAL;
	while (done < len) {
		size_t n = VH_MIN(len - done, max);
		struct vh_blk_io io = {
			.op = op,
			.offset = offset + done,
			.buf = direct ? (uint8_t *)buf + done : bounce,
			.len = (uint32_t)n,
		};

		if (!direct && op == VH_BLK_OP_WRITE)
			memcpy(bounce, (uint8_t *)buf + done, n);
		err = sync_io(b, &io);
		if (err < 0)
			return err;
		if (!direct && op == VH_BLK_OP_READ)
			memcpy((uint8_t *)buf + done, bounce, n);
		done += n;
	}
	return 0;
}

int vh_blk_read(struct vh_blk *b, uint64_t offset, void *buf, size_t len)
{
	return sync_rw(b, VH_BLK_OP_READ, offset, buf, len);
}

int vh_blk_write(struct vh_blk *b, uint64_t offset, const void *buf, size_t len)
{
	return sync_rw(b, VH_BLK_OP_WRITE, offset, (void *)(uintptr_t)buf, len);
}

int vh_blk_flush(struct vh_blk *b)
{
	struct vh_blk_io io = { .op = VH_BLK_OP_FLUSH };

	return sync_io(b, &io);
}

/* Discard / write zeroes, split at the device's per-request sector limit. */
static int sync_range(struct vh_blk *b, struct vh_blk_io *io, uint64_t len, uint32_t max_sectors)
{
	uint64_t max = max_sectors ? (uint64_t)max_sectors * VH_BLK_SECTOR_SIZE : 1ull << 30;
	uint64_t end = io->offset + len;
	int err;

	if (max > (1ull << 30))
		max = 1ull << 30;
	while (io->offset < end) {
		io->len = (uint32_t)VH_MIN(end - io->offset, max);
		err = sync_io(b, io);
		if (err < 0)
			return err;
		io->offset += io->len;
	}
	return 0;
}

int vh_blk_discard(struct vh_blk *b, uint64_t offset, uint64_t len)
{
	struct vh_blk_io io = { .op = VH_BLK_OP_DISCARD, .offset = offset };

	if (len == 0)
		return -EINVAL;
	return sync_range(b, &io, len, b->info.max_discard_sectors);
}

int vh_blk_write_zeroes(struct vh_blk *b, uint64_t offset, uint64_t len, bool unmap)
{
	struct vh_blk_io io = {
		.op = VH_BLK_OP_WRITE_ZEROES,
		.offset = offset,
		.flags = unmap ? VH_BLK_IO_UNMAP : 0,
	};

	if (len == 0)
		return -EINVAL;
	return sync_range(b, &io, len, b->info.max_write_zeroes_sectors);
}

int vh_blk_get_id(struct vh_blk *b, char *id, size_t len)
{
	uint8_t *bounce = b->mem + b->bounce_off;
	struct vh_blk_io io = { .op = VH_BLK_OP_GET_ID, .buf = bounce, .len = VIRTIO_BLK_ID_BYTES };
	size_t n;
	int err;

	if (len < VIRTIO_BLK_ID_BYTES + 1)
		return -EINVAL;
	memset(bounce, 0, VIRTIO_BLK_ID_BYTES);
	err = sync_io(b, &io);
	if (err < 0)
		return err;
	/* virtio 1.2 §5.2.6.1: the string is NUL-terminated only when shorter than 20 bytes. */
	n = strnlen((const char *)bounce, VIRTIO_BLK_ID_BYTES);
	memcpy(id, bounce, n);
	id[n] = '\0';
	return 0;
}

int vh_blk_reconnect(struct vh_blk *b)
{
	unsigned i;
	int err = vh_dev_reconnect(b->dev);

	if (err < 0)
		return err;
	for (i = 0; i < b->nq; i++) {
		blk_refresh_fds(b, i);
		/*
		 * A restarted backend resumes each ring from the restored base but only looks at the
		 * avail ring when kicked: requests made available before the crash would wait for the
		 * next submission. A spurious kick is always allowed (virtio 1.2 §2.7.13.3).
		 */
		if (blkq_inflight(&b->q[i]))
			blkq_kick(&b->q[i]);
	}
	return 0;
}
