// SPDX-License-Identifier: BSD-3-Clause
/*
 * An in-process virtio-blk device over a RAM disk, on the device side of the one ring
 * implementation. Not exported: the unit tests and the driver benchmark use it to run struct blkq
 * without a socket. @disk NULL makes it a null device (reads and writes complete untouched).
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include <linux/virtio_blk.h>

#include <vhost/mem.h>

#include "driver/blk_internal.h"
#include "util/util.h"

int blk_ramdev_init(struct blk_ramdev *rd, const struct blk_ramdev_config *cfg)
{
	struct vh_vq_config vc = {
		.num = cfg->num,
		.packed = cfg->packed,
		.event_idx = cfg->event_idx,
		.indirect = cfg->indirect,
		.name = "ramdev",
	};
	struct vh_mem_region r = {
		.gpa = cfg->mem.gpa,
		.size = cfg->mem.size,
		.uva = (uintptr_t)cfg->mem.host,
		.fd = -1,
		.host = cfg->mem.host,
	};
	struct vh_vq_ring_addrs a;
	int err;

	memset(rd, 0, sizeof(*rd));
	rd->force_status = -1;
	rd->disk = cfg->disk;
	rd->sectors = cfg->sectors;
	err = vh_memmap_create(NULL, &rd->mm);
	if (err < 0)
		return err;
	err = vh_memmap_add(rd->mm, &r);
	if (err >= 0 && cfg->mem.size2) {
		r = (struct vh_mem_region){
			.gpa = cfg->mem.gpa2,
			.size = cfg->mem.size2,
			.uva = (uintptr_t)cfg->mem.host2,
			.fd = -1,
			.host = cfg->mem.host2,
		};
		err = vh_memmap_add(rd->mm, &r);
	}
	if (err >= 0)
		err = vh_vq_create(&vc, &rd->vq);
	if (err < 0) {
		blk_ramdev_fini(rd);
		return err;
	}
	vh_vq_driver_ring_addrs(cfg->driver, &a);
	err = vh_vq_set_addrs(rd->vq, &a.host);
	if (err >= 0)
		err = vh_vq_set_base(rd->vq, cfg->packed ? 1u << 15 : 0);
	if (err < 0) {
		blk_ramdev_fini(rd);
		return err;
	}
	vh_vq_set_memmap(rd->vq, rd->mm);
	/* The device polls: ask the driver not to kick (virtio 1.2 §2.7.10). */
	vh_vq_set_notification(rd->vq, false);
	return 0;
}

void blk_ramdev_fini(struct blk_ramdev *rd)
{
	vh_vq_destroy(&rd->vq);
	vh_memmap_destroy(&rd->mm);
}

/* Copy between a flat buffer and @n iovecs starting @skip bytes in; returns bytes copied. */
static uint64_t iov_copy(const struct iovec *iov, unsigned n, uint64_t skip, void *buf,
			 uint64_t len, bool to_iov)
{
	uint64_t done = 0;
	unsigned i;

	for (i = 0; i < n && done < len; i++) {
		uint64_t l = iov[i].iov_len, c;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		c = VH_MIN(l - skip, len - done);
		if (to_iov)
			memcpy((uint8_t *)iov[i].iov_base + skip, (uint8_t *)buf + done, c);
		else
			memcpy((uint8_t *)buf + done, (uint8_t *)iov[i].iov_base + skip, c);
		done += c;
		skip = 0;
	}
	return done;
}

static uint8_t do_rw(struct blk_ramdev *rd, const struct vh_vq_elem *e, uint64_t sector, bool write,
		     uint64_t *written)
{
	uint64_t len = write ? e->out_len - sizeof(struct virtio_blk_outhdr) : e->in_len - 1;
	uint64_t off = sector * VH_BLK_SECTOR_SIZE;

	if (len % VH_BLK_SECTOR_SIZE || sector > rd->sectors ||
	    len / VH_BLK_SECTOR_SIZE > rd->sectors - sector)
		return VIRTIO_BLK_S_IOERR;
	if (!rd->disk) {
		*written = write ? 0 : len;
		return VIRTIO_BLK_S_OK;
	}
	if (write) {
		iov_copy(e->iov, e->out_num, sizeof(struct virtio_blk_outhdr), rd->disk + off, len,
			 false);
	} else {
		iov_copy(e->iov + e->out_num, e->in_num, 0, rd->disk + off, len, true);
		*written = len;
	}
	return VIRTIO_BLK_S_OK;
}

static uint8_t do_segment(struct blk_ramdev *rd, const struct vh_vq_elem *e, uint32_t type)
{
	struct virtio_blk_discard_write_zeroes seg;
	uint64_t sector, n;

	if (iov_copy(e->iov, e->out_num, sizeof(struct virtio_blk_outhdr), &seg, sizeof(seg),
		     false) != sizeof(seg))
		return VIRTIO_BLK_S_IOERR;
	sector = le64toh(seg.sector);
	n = le32toh(seg.num_sectors);
	if (sector > rd->sectors || n > rd->sectors - sector)
		return VIRTIO_BLK_S_IOERR;
	rd->last_seg_flags = le32toh(seg.flags);
	if (rd->disk)
		memset(rd->disk + sector * VH_BLK_SECTOR_SIZE, 0, n * VH_BLK_SECTOR_SIZE);
	(void)type;
	return VIRTIO_BLK_S_OK;
}

/* Execute one chain; returns the status byte to write and the data bytes written. */
static uint8_t execute(struct blk_ramdev *rd, const struct vh_vq_elem *e, uint64_t *written)
{
	struct virtio_blk_outhdr h;
	uint32_t type;

	if (iov_copy(e->iov, e->out_num, 0, &h, sizeof(h), false) != sizeof(h))
		return VIRTIO_BLK_S_IOERR;
	type = le32toh(h.type);
	rd->last_type = type;
	switch (type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		return do_rw(rd, e, le64toh(h.sector), type == VIRTIO_BLK_T_OUT, written);
	case VIRTIO_BLK_T_FLUSH:
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return do_segment(rd, e, type);
	case VIRTIO_BLK_T_GET_ID:
		if (e->in_len < VIRTIO_BLK_ID_BYTES + 1)
			return VIRTIO_BLK_S_IOERR;
		iov_copy(e->iov + e->out_num, e->in_num, 0, (void *)"ramdev-serial-0123456789",
			 VIRTIO_BLK_ID_BYTES, true);
		*written = VIRTIO_BLK_ID_BYTES;
		return VIRTIO_BLK_S_OK;
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

int blk_ramdev_process(struct blk_ramdev *rd, unsigned max)
{
	struct vh_vq_elem e = { .iov = rd->iov, .max_iov = VH_ARRAY_SIZE(rd->iov) };
	unsigned n = 0;
	int r = 0;

	while (n < max) {
		uint64_t written = 0;
		uint8_t st;

		r = vh_vq_pop(rd->vq, &e);
		if (r <= 0)
			break;
		if (e.in_num == 0) {
			st = VIRTIO_BLK_S_IOERR; /* no room for a status: still return the chain */
		} else {
			st = rd->force_status >= 0 ? (uint8_t)rd->force_status
						   : execute(rd, &e, &written);
			iov_copy(e.iov + e.out_num, e.in_num, e.in_len - 1, &st, 1, true);
		}
		r = vh_vq_push(rd->vq, &e, (uint32_t)(written + 1));
		if (r < 0)
			break;
		n++;
	}
	if (n)
		vh_vq_flush(rd->vq);
	return r < 0 ? r : (int)n;
}
