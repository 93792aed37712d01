/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vh-blk backings: a raw image file or block device, null:SIZE, memory:SIZE; the config space
 * (virtio 1.2 §5.2.4) and the synchronous I/O paths (--aio=sync, memory, discard, write zeroes).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "vh_blk.h"

static int open_file(struct vhblk *d, const char *path)
{
	int flags = (d->opt.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct statfs sfs;
	struct stat st;
	uint64_t size;

	if (d->opt.direct)
		flags |= O_DIRECT;
	/* Reading the image is no access anyone wants recorded: no atime update per request
	 * (O_NOATIME needs the owner or CAP_FOWNER; without it, open as usual). */
	d->fd = open(path, flags | O_NOATIME);
	if (d->fd < 0 && errno == EPERM)
		d->fd = open(path, flags);
	if (d->fd < 0) {
		int err = -errno;

		vhblk_log(d, VH_LOG_ERR, "open %s: %s", path, strerror(-err));
		return err;
	}
	if (fstat(d->fd, &st) < 0 ||
	    (S_ISBLK(st.st_mode) && ioctl(d->fd, BLKGETSIZE64, &size) < 0)) {
		int err = -errno;

		vhblk_log(d, VH_LOG_ERR, "%s: size: %s", path, strerror(-err));
		return err;
	}
	/*
	 * tmpfs cannot read without blocking (RWF_NOWAIT: EOPNOTSUPP), so io_uring hands every
	 * read to an io-wq worker: a thread switch and a completion eventfd round trip for a 4k
	 * memcpy. It never waits for a disk either, so small requests are copied inline.
	 */
	d->in_memory = !d->opt.direct && fstatfs(d->fd, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC;
	if (S_ISBLK(st.st_mode)) {
		d->is_blkdev = true;
	} else if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else {
		vhblk_log(d, VH_LOG_ERR, "%s: not a regular file or block device", path);
		return -EINVAL;
	}
	d->size = size;
	return 0;
}

int vhblk_backing_open(struct vhblk *d)
{
	const char *f = d->opt.blk_file;
	int err;

	d->fd = -1;
	if (!strncmp(f, "null:", 5) || !strncmp(f, "memory:", 7)) {
		bool null = f[0] == 'n';

		d->kind = null ? VHBLK_BACKING_NULL : VHBLK_BACKING_MEMORY;
		err = vhblk_parse_size(strchr(f, ':') + 1, &d->size);
		if (err) {
			vhblk_log(d, VH_LOG_ERR, "--blk-file %s: bad size", f);
			return -EINVAL;
		}
		if (!null) {
			void *p = mmap(NULL, d->size ? d->size : 1, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

			if (p == MAP_FAILED) {
				err = -errno;
				vhblk_log(d, VH_LOG_ERR, "memory backing: %s", strerror(-err));
				return err;
			}
			d->mem = p;
		}
	} else {
		d->kind = VHBLK_BACKING_FILE;
		err = open_file(d, f);
		if (err)
			return err;
	}
	/* The capacity counts whole logical blocks: a partial tail block is not exposed. */
	d->size -= d->size % d->opt.logical_block_size;
	/* Aligned for O_DIRECT writes. */
	d->zeroes = aligned_alloc(4096, VHBLK_SIZE_MAX);
	if (!d->zeroes) {
		vhblk_log(d, VH_LOG_ERR, "zero buffer: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	memset(d->zeroes, 0, VHBLK_SIZE_MAX);
	return 0;
}

void vhblk_backing_close(struct vhblk *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	if (d->mem)
		munmap(d->mem, d->size ? d->size : 1);
	d->mem = NULL;
	free(d->zeroes);
	d->zeroes = NULL;
}

void vhblk_config_init(struct vhblk *d)
{
	struct virtio_blk_config *c = &d->config;
	uint32_t lbs = d->opt.logical_block_size;

	memset(c, 0, sizeof(*c));
	d->features = (1ull << VIRTIO_BLK_F_SIZE_MAX) | (1ull << VIRTIO_BLK_F_SEG_MAX) |
		      (1ull << VIRTIO_BLK_F_BLK_SIZE) | (1ull << VIRTIO_BLK_F_FLUSH) |
		      (1ull << VIRTIO_BLK_F_TOPOLOGY) | (1ull << VIRTIO_BLK_F_MQ);
	if (d->opt.read_only)
		d->features |= 1ull << VIRTIO_BLK_F_RO;
	else
		d->features |= (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES);
	/* virtio 1.2 §5.2.4: fields are little endian; capacity is in 512-byte sectors always. */
	c->capacity = htole64(d->size >> 9);
	c->size_max = htole32(VHBLK_SIZE_MAX);
	c->seg_max = htole32(VHBLK_SEG_MAX);
	c->blk_size = htole32(lbs);
	c->physical_block_exp = 0;
	c->min_io_size = htole16(1);
	c->num_queues = htole16((uint16_t)d->opt.num_queues);
	c->max_discard_sectors = htole32(VHBLK_MAX_DWZ_SECTORS);
	c->max_discard_seg = htole32(VHBLK_MAX_DWZ_SEG);
	c->discard_sector_alignment = htole32(lbs >> 9);
	c->max_write_zeroes_sectors = htole32(VHBLK_MAX_DWZ_SECTORS);
	c->max_write_zeroes_seg = htole32(VHBLK_MAX_DWZ_SEG);
	c->write_zeroes_may_unmap = 1;
}

static void iov_copy_mem(struct vhblk_req *r, uint8_t *mem, bool to_guest)
{
	for (unsigned i = 0; i < r->ndata; i++) {
		if (to_guest)
			memcpy(r->data[i].iov_base, mem, r->data[i].iov_len);
		else
			memcpy(mem, r->data[i].iov_base, r->data[i].iov_len);
		mem += r->data[i].iov_len;
	}
}

/*
 * IN or OUT on the calling thread. The range was bounds-checked by the caller.
 * Return: 0 or -errno (a short transfer is -EIO).
 */
int vhblk_rw_sync(struct vhblk_req *r)
{
	struct vhblk *d = r->vq->dev;
	bool in = r->type == VIRTIO_BLK_T_IN;
	uint64_t done = 0;
	struct iovec *iov = r->data;
	unsigned n = r->ndata;
	ssize_t got;

	if (d->kind == VHBLK_BACKING_NULL)
		return 0;
	if (d->kind == VHBLK_BACKING_MEMORY) {
		iov_copy_mem(r, d->mem + r->offset, in);
		return 0;
	}
	while (done < r->len) {
		int flags = (!in && !r->vq->writeback) ? RWF_DSYNC : 0;

		if (in)
			got = preadv2(d->fd, iov, (int)n, (off_t)(r->offset + done), 0);
		else
			got = pwritev2(d->fd, iov, (int)n, (off_t)(r->offset + done), flags);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			return -EIO;
		done += (uint64_t)got;
		/* Short transfer: continue after what was done, on a fresh iovec window. */
		while (n && (uint64_t)got >= iov->iov_len) {
			got -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n && got) {
			iov->iov_base = (uint8_t *)iov->iov_base + got;
			iov->iov_len -= (size_t)got;
		}
	}
	return 0;
}

int vhblk_flush_sync(struct vhblk *d)
{
	if (d->kind != VHBLK_BACKING_FILE)
		return 0;
	return fdatasync(d->fd) < 0 ? -errno : 0;
}

static int write_zeroes_slow(struct vhblk *d, uint64_t off, uint64_t len)
{
	while (len) {
		size_t n = len < VHBLK_SIZE_MAX ? (size_t)len : VHBLK_SIZE_MAX;
		ssize_t got = pwrite(d->fd, d->zeroes, n, (off_t)off);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return got < 0 ? -errno : -EIO;
		off += (uint64_t)got;
		len -= (uint64_t)got;
	}
	return 0;
}

/*
 * DISCARD (@discard) or WRITE_ZEROES (@unmap: VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) of a checked
 * range. Discard is advisory: a backing that cannot punch holes ignores it. Write zeroes must
 * leave zeroes whatever the file system supports (virtio 1.2 §5.2.6.2).
 */
int vhblk_zero_or_discard(struct vhblk *d, uint64_t off, uint64_t len, bool discard, bool unmap)
{
	int mode;

	if (d->kind == VHBLK_BACKING_NULL)
		return 0;
	if (d->kind == VHBLK_BACKING_MEMORY) {
		memset(d->mem + off, 0, len);
		if (unmap || discard)
			madvise(d->mem + off, len, MADV_DONTNEED);
		return 0;
	}
	if (d->is_blkdev) {
		uint64_t range[2] = { off, len };

		/* Advisory: a device without discard support ignores it. */
		if (discard) {
			(void)ioctl(d->fd, BLKDISCARD, range);
			return 0;
		}
		if (ioctl(d->fd, BLKZEROOUT, range) == 0)
			return 0;
		return write_zeroes_slow(d, off, len);
	}
	/* PUNCH_HOLE reads back as zeroes, so it serves discard and write zeroes with unmap. */
	mode =
	    (discard || unmap) ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE : FALLOC_FL_ZERO_RANGE;
	if (fallocate(d->fd, mode, (off_t)off, (off_t)len) == 0)
		return 0;
	if (discard)
		return 0;
	if (mode != FALLOC_FL_ZERO_RANGE &&
	    fallocate(d->fd, FALLOC_FL_ZERO_RANGE, (off_t)off, (off_t)len) == 0)
		return 0;
	return write_zeroes_slow(d, off, len);
}
