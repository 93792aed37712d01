// SPDX-License-Identifier: BSD-3-Clause
/*
 * vh_blk: a userspace virtio-blk driver (virtio 1.2 §5.2) on a struct vh_dev. This file does the
 * device setup (guest memory, features, config space, rings) and the buffer pool; blk_queue.c the
 * per-request path; blk_sync.c the synchronous helpers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>

#include <vhost/frontend.h>
#include <vhost/proto.h>

#include "driver/blk_priv.h"
#include "util/util.h"

#define BLK_PAGE	  4096u
#define BLK_DEFAULT_QSIZE 256u
#define BLK_DEFAULT_POOL  (4u << 20)
#define BLK_BOUNCE	  (1u << 20)
#define BLK_USER_ALIGN	  (2ull << 20)
/* VHOST_USER_F_PROTOCOL_FEATURES: the frontend needs to see it accepted. */
#define BLK_F_PROTOCOL_FEATURES 30

/* Device bits this driver implements (virtio 1.2 §5.2.3). */
#define BLK_DEVICE_FEATURES                                                 \
	((1ull << VIRTIO_BLK_F_SIZE_MAX) | (1ull << VIRTIO_BLK_F_SEG_MAX) | \
	 (1ull << VIRTIO_BLK_F_GEOMETRY) | (1ull << VIRTIO_BLK_F_RO) |      \
	 (1ull << VIRTIO_BLK_F_BLK_SIZE) | (1ull << VIRTIO_BLK_F_FLUSH) |   \
	 (1ull << VIRTIO_BLK_F_TOPOLOGY) | (1ull << VIRTIO_BLK_F_MQ) |      \
	 (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES))

const char *vh_blk_feature_name(unsigned bit)
{
	const char *n = bit < 24 ? vh_proto_device_feature_name(VIRTIO_ID_BLOCK, bit) : NULL;

	/* The table lives in lib/proto/names.c; generic bits are not "device feature bits". */
	return n == vh_proto_virtio_feature_name(bit) ? NULL : n;
}

const char *vh_blk_op_name(enum vh_blk_op op)
{
	static const char *const names[] = {
		[VH_BLK_OP_READ] = "read",
		[VH_BLK_OP_WRITE] = "write",
		[VH_BLK_OP_FLUSH] = "flush",
		[VH_BLK_OP_DISCARD] = "discard",
		[VH_BLK_OP_WRITE_ZEROES] = "write-zeroes",
		[VH_BLK_OP_GET_ID] = "get-id",
	};

	return (unsigned)op < VH_ARRAY_SIZE(names) ? names[op] : "unknown";
}

static bool has(uint64_t features, unsigned bit)
{
	return features & (1ull << bit);
}

/*
 * Config space (virtio 1.2 §5.2.4). Older backends expose a shorter struct (QEMU 7.2's has no
 * secure-erase fields and refuses reads past its end), so try the longest prefix we use first.
 */
static int read_config(struct vh_blk *b, struct virtio_blk_config *c)
{
	static const uint32_t lens[] = {
		offsetof(struct virtio_blk_config, max_secure_erase_sectors),
		offsetof(struct virtio_blk_config, max_discard_sectors),
		offsetof(struct virtio_blk_config, blk_size) + sizeof(uint32_t),
	};
	unsigned i;
	int err = -EINVAL;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < VH_ARRAY_SIZE(lens); i++) {
		err = vh_dev_get_config(b->dev, 0, c, lens[i]);
		if (err >= 0)
			return 0;
	}
	vh_logf(&b->cfg.log, VH_LOG_ERR, b->name, "GET_CONFIG: cannot read config space: %s",
		strerror(-err));
	return err;
}

static void fill_info(struct vh_blk *b, const struct virtio_blk_config *c)
{
	struct vh_blk_info *in = &b->info;
	uint64_t f = in->features;

	in->capacity = le64toh(c->capacity);
	in->size_bytes = in->capacity * VH_BLK_SECTOR_SIZE;
	in->blk_size = has(f, VIRTIO_BLK_F_BLK_SIZE) ? le32toh(c->blk_size) : VH_BLK_SECTOR_SIZE;
	in->size_max = has(f, VIRTIO_BLK_F_SIZE_MAX) ? le32toh(c->size_max) : 0;
	in->seg_max = has(f, VIRTIO_BLK_F_SEG_MAX) ? le32toh(c->seg_max) : 0;
	in->device_queues = has(f, VIRTIO_BLK_F_MQ) ? le16toh(c->num_queues) : 1;
	if (in->device_queues == 0)
		in->device_queues = 1;
	in->read_only = has(f, VIRTIO_BLK_F_RO) || (b->cfg.flags & VH_BLK_READ_ONLY);
	in->flush = has(f, VIRTIO_BLK_F_FLUSH);
	in->discard = has(f, VIRTIO_BLK_F_DISCARD);
	in->write_zeroes = has(f, VIRTIO_BLK_F_WRITE_ZEROES);
	if (has(f, VIRTIO_BLK_F_TOPOLOGY)) {
		in->physical_block_exp = c->physical_block_exp;
		in->alignment_offset = c->alignment_offset;
		in->min_io_size = le16toh(c->min_io_size);
		in->opt_io_size = le32toh(c->opt_io_size);
	}
	if (in->discard) {
		in->max_discard_sectors = le32toh(c->max_discard_sectors);
		in->max_discard_seg = le32toh(c->max_discard_seg);
		in->discard_sector_alignment = le32toh(c->discard_sector_alignment);
	}
	if (in->write_zeroes) {
		in->max_write_zeroes_sectors = le32toh(c->max_write_zeroes_sectors);
		in->max_write_zeroes_seg = le32toh(c->max_write_zeroes_seg);
		in->write_zeroes_may_unmap = c->write_zeroes_may_unmap;
	}
}

/* Feature negotiation: what the backend offers, filtered by what we and the caller want. */
static int negotiate(struct vh_blk *b)
{
	uint64_t f = vh_dev_features(b->dev);
	unsigned fl = b->cfg.flags;

	if (!has(f, VIRTIO_F_VERSION_1)) {
		vh_logf(&b->cfg.log, VH_LOG_ERR, b->name,
			"SET_FEATURES: device does not offer VIRTIO_F_VERSION_1: %s",
			strerror(ENOTSUP));
		return -ENOTSUP;
	}
	if ((fl & VH_BLK_PACKED) && !has(f, VIRTIO_F_RING_PACKED)) {
		vh_logf(&b->cfg.log, VH_LOG_ERR, b->name,
			"SET_FEATURES: packed ring requested, device does not offer "
			"VIRTIO_F_RING_PACKED: %s",
			strerror(ENOTSUP));
		return -ENOTSUP;
	}
	if (!(fl & VH_BLK_PACKED))
		f &= ~(1ull << VIRTIO_F_RING_PACKED);
	if (fl & VH_BLK_NO_INDIRECT)
		f &= ~(1ull << VIRTIO_RING_F_INDIRECT_DESC);
	if (fl & VH_BLK_NO_EVENT_IDX)
		f &= ~(1ull << VIRTIO_RING_F_EVENT_IDX);
	/* Logging is switched on by vh_dev_log_start(), not negotiated up front. */
	f &= ~(1ull << VHOST_F_LOG_ALL);
	b->info.features = f;
	b->info.packed = has(f, VIRTIO_F_RING_PACKED);
	b->info.event_idx = has(f, VIRTIO_RING_F_EVENT_IDX);
	b->info.indirect = has(f, VIRTIO_RING_F_INDIRECT_DESC);
	return vh_dev_ack_features(b->dev, f);
}

static int check_config(const struct vh_blk_config *cfg, struct vh_blk_config *c)
{
	*c = *cfg;
	if (!c->path)
		return -EINVAL;
	c->num_queues = c->num_queues ? c->num_queues : 1;
	c->queue_size = c->queue_size ? c->queue_size : BLK_DEFAULT_QSIZE;
	c->pool_size = c->pool_size ? c->pool_size : BLK_DEFAULT_POOL;
	c->features = c->features ? c->features & BLK_DEVICE_FEATURES : BLK_DEVICE_FEATURES;
	if (c->num_queues > VH_DEV_MAX_QUEUES || !vh_is_pow2(c->queue_size) ||
	    c->queue_size > VH_VQ_MAX_NUM || c->queue_depth > c->queue_size ||
	    c->pool_size > (1ull << 40))
		return -EINVAL;
	c->pool_size = (c->pool_size + BLK_PAGE - 1) & ~(uint64_t)(BLK_PAGE - 1);
	if (c->user_mem.size &&
	    (!c->user_mem.host || c->user_mem.fd < 0 || ((uintptr_t)c->user_mem.host % BLK_PAGE) ||
	     (c->user_mem.size % BLK_PAGE) || (c->user_mem.fd_offset % BLK_PAGE) ||
	     c->user_mem.size > (1ull << 46)))
		return -EINVAL;
	return 0;
}

static int open_dev(struct vh_blk *b)
{
	uint64_t want = b->cfg.features | (1ull << VIRTIO_F_VERSION_1) |
			(1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << VIRTIO_RING_F_EVENT_IDX) |
			(1ull << VIRTIO_F_RING_PACKED) | (1ull << BLK_F_PROTOCOL_FEATURES) |
			(1ull << VHOST_F_LOG_ALL);
	struct vh_dev_config dc = {
		.path = b->cfg.path,
		.features = want,
		.num_queues = b->cfg.num_queues,
		.timeout_ms = b->cfg.timeout_ms,
		.name = b->name,
		.log = b->cfg.log,
	};

	return vh_dev_create(&dc, &b->dev);
}

/* Queue geometry once the features are known; sizes guest memory. */
static int plan_queues(struct vh_blk *b)
{
	struct vh_blk_info *in = &b->info;
	unsigned segs =
	    in->seg_max && in->seg_max < VH_BLK_MAX_SEGS ? in->seg_max : VH_BLK_MAX_SEGS;
	struct blkq_layout l;
	uint64_t off;
	int err;

	if (b->cfg.num_queues > in->device_queues) {
		vh_logf(&b->cfg.log, VH_LOG_ERR, b->name,
			"SET_VRING_NUM: %u queues requested, device offers %u: %s",
			b->cfg.num_queues, in->device_queues, strerror(EINVAL));
		return -EINVAL;
	}
	in->num_queues = b->cfg.num_queues;
	in->queue_size = b->cfg.queue_size;
	b->indirect_max = in->indirect ? VH_MIN(segs + 2, 2 * in->queue_size) : 0;
	in->queue_depth = b->cfg.queue_depth;
	if (!in->queue_depth)
		in->queue_depth = in->indirect ? in->queue_size : VH_MAX(in->queue_size / 3, 1u);
	err = blkq_layout(in->queue_size, in->packed, b->indirect_max, in->queue_depth, &l);
	if (err < 0)
		return err;
	b->queue_bytes = l.size;
	off = l.size * in->num_queues;
	b->bounce_off = (off + BLK_PAGE - 1) & ~(uint64_t)(BLK_PAGE - 1);
	b->pool_off = b->bounce_off + BLK_BOUNCE;
	in->mem_size = b->pool_off + b->cfg.pool_size;
	/* The caller's region sits above ours, 2 MiB aligned like a VMM's next RAM slot. */
	if (b->cfg.user_mem.size)
		in->user_mem_gpa = (in->mem_size + BLK_USER_ALIGN - 1) & ~(BLK_USER_ALIGN - 1);
	return 0;
}

static int map_memory(struct vh_blk *b)
{
	struct vh_dev_mem_region r;
	int err;

	b->mem_fd = memfd_create("vh_blk", MFD_CLOEXEC);
	if (b->mem_fd < 0)
		return -errno;
	if (ftruncate(b->mem_fd, (off_t)b->info.mem_size) < 0)
		return -errno;
	b->mem = mmap(NULL, b->info.mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, b->mem_fd, 0);
	if (b->mem == MAP_FAILED) {
		b->mem = NULL;
		return -errno;
	}
	b->pool_pages = b->cfg.pool_size / BLK_PAGE;
	b->pool_map = calloc(b->pool_pages, sizeof(*b->pool_map));
	if (!b->pool_map)
		return -ENOMEM;
	r = (struct vh_dev_mem_region){
		.gpa = 0,
		.size = b->info.mem_size,
		.host = b->mem,
		.fd = b->mem_fd,
		.page_size = BLK_PAGE,
	};
	err = vh_dev_mem_begin(b->dev);
	if (err >= 0)
		err = vh_dev_mem_add(b->dev, &r);
	if (err >= 0 && b->cfg.user_mem.size) {
		r = (struct vh_dev_mem_region){
			.gpa = b->info.user_mem_gpa,
			.size = b->cfg.user_mem.size,
			.host = b->cfg.user_mem.host,
			.fd = b->cfg.user_mem.fd,
			.fd_offset = b->cfg.user_mem.fd_offset,
			.page_size = BLK_PAGE,
		};
		err = vh_dev_mem_add(b->dev, &r);
	}
	if (err >= 0)
		err = vh_dev_mem_commit(b->dev);
	return err;
}

static int setup_queue(struct vh_blk *b, unsigned i)
{
	struct blkq_config qc = {
		.index = i,
		.num = b->info.queue_size,
		.depth = b->info.queue_depth,
		.packed = b->info.packed,
		.event_idx = b->info.event_idx,
		.poll = b->cfg.flags & VH_BLK_POLL,
		.indirect_max = b->indirect_max,
		.mem = { .host = b->mem,
			 .gpa = 0,
			 .size = b->info.mem_size,
			 .host2 = b->cfg.user_mem.host,
			 .gpa2 = b->info.user_mem_gpa,
			 .size2 = b->cfg.user_mem.size },
		.base_gpa = b->queue_bytes * i,
		.features = b->info.features,
		.capacity = b->info.capacity,
		.seg_max = b->info.seg_max,
		.read_only = b->info.read_only,
		.kick_fd = -1,
		.call_fd = -1,
		.name = b->name,
		.log = b->cfg.log,
	};
	struct vh_vq_ring_addrs a;
	struct vh_dev_vring vr;
	struct blkq *q = &b->q[i];
	int err = blkq_init(q, &qc);

	if (err < 0)
		return err;
	vh_vq_driver_ring_addrs(q->vq, &a);
	vr = (struct vh_dev_vring){
		.index = i,
		.num = (uint16_t)b->info.queue_size,
		.packed = b->info.packed,
		.desc_gpa = a.desc_gpa,
		.avail_gpa = a.driver_gpa,
		.used_gpa = a.device_gpa,
		.base = b->info.packed ? 1u << 15 : 0, /* packed: wrap counters start at 1 */
		.kick_fd = -1,
		.call_fd = -1,
	};
	err = vh_dev_vring_setup(b->dev, &vr);
	if (err < 0)
		return err;
	blk_refresh_fds(b, i);
	return 0;
}

void blk_refresh_fds(struct vh_blk *b, unsigned i)
{
	b->q[i].kick_fd = vh_dev_vring_kick_fd(b->dev, i);
	b->q[i].call_fd = (b->cfg.flags & VH_BLK_POLL) ? -1 : vh_dev_vring_call_fd(b->dev, i);
}

static int setup(struct vh_blk *b)
{
	struct virtio_blk_config c;
	unsigned i;
	int err;

	err = open_dev(b);
	if (err < 0)
		return err;
	err = negotiate(b);
	if (err < 0)
		return err;
	err = read_config(b, &c);
	if (err < 0)
		return err;
	fill_info(b, &c);
	err = plan_queues(b);
	if (err < 0)
		return err;
	err = map_memory(b);
	if (err < 0)
		return err;
	b->q = calloc(b->info.num_queues, sizeof(*b->q));
	if (!b->q)
		return -ENOMEM;
	for (i = 0; i < b->info.num_queues; i++) {
		err = setup_queue(b, i);
		if (err < 0)
			return err;
		b->nq = i + 1;
	}
	return vh_dev_start(b->dev);
}

int vh_blk_create(const struct vh_blk_config *cfg, struct vh_blk **out)
{
	struct vh_blk *b;
	int err;

	*out = NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->mem_fd = -1;
	vh_mutex_init(&b->pool_lock);
	err = check_config(cfg, &b->cfg);
	if (err < 0) {
		free(b);
		return err;
	}
	snprintf(b->name, sizeof(b->name), "%s", cfg->name ? cfg->name : "vh_blk");
	b->cfg.name = b->name;
	err = setup(b);
	b->cfg.path = NULL; /* only needed to open; the caller's string may go away */
	if (err < 0) {
		vh_blk_destroy(&b);
		return err;
	}
	*out = b;
	return 0;
}

void vh_blk_destroy(struct vh_blk **bp)
{
	struct vh_blk *b = bp ? *bp : NULL;
	unsigned i;

	if (!b)
		return;
	if (b->dev)
		vh_dev_stop(b->dev, NULL, 0);
	vh_dev_destroy(&b->dev);
	for (i = 0; i < b->nq; i++)
		blkq_fini(&b->q[i]);
	free(b->q);
	if (b->mem)
		munmap(b->mem, b->info.mem_size);
	if (b->mem_fd >= 0)
		close(b->mem_fd);
	free(b->pool_map);
	vh_mutex_destroy(&b->pool_lock);
	free(b);
	*bp = NULL;
}

void vh_blk_get_info(const struct vh_blk *b, struct vh_blk_info *info)
{
	*info = b->info;
}

struct vh_dev *vh_blk_dev(struct vh_blk *b)
{
	return b->dev;
}

uint64_t vh_blk_gpa(const struct vh_blk *b, const void *host)
{
	uintptr_t h = (uintptr_t)host, base = (uintptr_t)b->mem;
	uintptr_t ubase = (uintptr_t)b->cfg.user_mem.host;

	if (h >= base && h - base < b->info.mem_size)
		return h - base;
	if (b->cfg.user_mem.size && h >= ubase && h - ubase < b->cfg.user_mem.size)
		return b->info.user_mem_gpa + (h - ubase);
	return UINT64_MAX;
}

int vh_blk_queue_gpa(const struct vh_blk *b, unsigned queue, uint64_t *desc, uint64_t *driver,
		     uint64_t *device)
{
	struct vh_vq_ring_addrs a;

	if (queue >= b->nq)
		return -EINVAL;
	vh_vq_driver_ring_addrs(b->q[queue].vq, &a);
	*desc = a.desc_gpa;
	*driver = a.driver_gpa;
	*device = a.device_gpa;
	return 0;
}

/*
 * Buffer pool: one byte per 4 KiB page: 0 free, else the run length marker (first page holds the
 * run's page count so free needs no size). First fit; only at setup time, not per request.
 */
void *vh_blk_buf_alloc(struct vh_blk *b, size_t size)
{
	uint64_t pages = (size + BLK_PAGE - 1) / BLK_PAGE, i, run = 0;
	void *p = NULL;

	if (size == 0 || pages > b->pool_pages)
		return NULL;
	vh_mutex_lock(&b->pool_lock);
	for (i = 0; i < b->pool_pages; i++) {
		run = b->pool_map[i] ? 0 : run + 1;
		if (run == pages) {
			uint64_t first = i + 1 - pages, j;

			for (j = first; j <= i; j++)
				b->pool_map[j] = UINT32_MAX;
			b->pool_map[first] = (uint32_t)pages;
			p = b->mem + b->pool_off + first * BLK_PAGE;
			break;
		}
	}
	vh_mutex_unlock(&b->pool_lock);
	return p;
}

void vh_blk_buf_free(struct vh_blk *b, void *buf)
{
	uintptr_t base = (uintptr_t)(b->mem + b->pool_off), h = (uintptr_t)buf;
	uint64_t first, j, n;

	if (!buf)
		return;
	if (h < base || (h - base) % BLK_PAGE || (h - base) / BLK_PAGE >= b->pool_pages) {
		vh_logf(&b->cfg.log, VH_LOG_ERR, b->name, "buf_free: %p is not a pool buffer: %s",
			buf, strerror(EINVAL));
		return;
	}
	first = (h - base) / BLK_PAGE;
	vh_mutex_lock(&b->pool_lock);
	n = b->pool_map[first];
	if (n == 0 || n == UINT32_MAX || first + n > b->pool_pages)
		n = 0; /* double free or interior pointer: leave the map alone */
	for (j = first; j < first + n; j++)
		b->pool_map[j] = 0;
	vh_mutex_unlock(&b->pool_lock);
	if (n == 0)
		vh_logf(&b->cfg.log, VH_LOG_ERR, b->name, "buf_free: %p is not allocated: %s", buf,
			strerror(EINVAL));
}
