// SPDX-License-Identifier: BSD-3-Clause
/*
 * vh-blk device state for migration (vhost-user DEVICE_STATE: vh_device_ops.state_save /
 * state_load, see docs/vh-blk.md).
 *
 * vh-blk drains its rings when they stop (queue_stop waits for the engine and pushes every
 * request it fetched), so no request is in flight in a stopped device: the state is what the
 * destination must agree with to serve the same disk to the same driver without it noticing -
 * the config space the driver read, the disk's size, block size, read-only flag and serial
 * (GET_ID), the virtio features the driver negotiated - and each ring's position, which the
 * destination compares with the base its front-end sets. A destination that would serve a
 * different disk refuses the state (CHECK_DEVICE_STATE fails) instead of surprising the guest.
 *
 * Layout (native byte order: a stopped device migrates between hosts of one architecture):
 *   struct vhblk_state_hdr, then config_len bytes of config space, then num_queues
 *   struct vhblk_state_queue. total_len covers all of it; every length is checked on load.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vh_blk.h"

#define VHBLK_STATE_MAGIC   0x53424856u /* "VHBS" */
#define VHBLK_STATE_VERSION 1u
#define VHBLK_STATE_RO	    (1u << 0)

struct vhblk_state_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t hdr_len;    /* sizeof(struct vhblk_state_hdr) */
	uint32_t total_len;  /* the whole state */
	uint32_t config_len; /* sizeof(struct virtio_blk_config) */
	uint64_t features;   /* negotiated by the driver */
	uint64_t size;	     /* disk bytes */
	uint32_t flags;	     /* VHBLK_STATE_RO */
	uint32_t num_queues;
	uint32_t logical_block_size;
	uint32_t reserved;
	char serial[VIRTIO_BLK_ID_BYTES];
};

struct vhblk_state_queue {
	uint32_t base;	   /* vh_queue_base() when the state was saved */
	uint32_t inflight; /* requests in flight: always 0 (vh-blk drains) */
};

_Static_assert(sizeof(struct vhblk_state_hdr) == 72, "state header layout");

static size_t state_len(unsigned nq)
{
	return sizeof(struct vhblk_state_hdr) + sizeof(struct virtio_blk_config) +
	       (size_t)nq * sizeof(struct vhblk_state_queue);
}

static void state_fill_hdr(const struct vhblk *d, struct vh_conn *conn, struct vhblk_state_hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->magic = VHBLK_STATE_MAGIC;
	h->version = VHBLK_STATE_VERSION;
	h->hdr_len = sizeof(*h);
	h->total_len = (uint32_t)state_len(d->opt.num_queues);
	h->config_len = sizeof(d->config);
	h->features = conn ? vh_conn_features(conn) : 0;
	h->size = d->size;
	h->flags = d->opt.read_only ? VHBLK_STATE_RO : 0;
	h->num_queues = d->opt.num_queues;
	h->logical_block_size = d->opt.logical_block_size;
	memcpy(h->serial, d->opt.serial, VHBLK_MIN(strlen(d->opt.serial), sizeof(h->serial)));
}

int vhblk_state_save(void *inst, struct vh_conn *conn, void **buf, size_t *len)
{
	struct vhblk *d = inst;
	size_t n = state_len(d->opt.num_queues);
	struct vhblk_state_queue *sq;
	uint8_t *p = calloc(1, n);

	if (!p)
		return -ENOMEM;
	state_fill_hdr(d, conn, (struct vhblk_state_hdr *)p);
	memcpy(p + sizeof(struct vhblk_state_hdr), &d->config, sizeof(d->config));
	sq = (struct vhblk_state_queue *)(p + sizeof(struct vhblk_state_hdr) + sizeof(d->config));
	for (unsigned i = 0; i < d->opt.num_queues; i++) {
		struct vh_queue *q = conn ? vh_conn_queue(conn, i) : NULL;

		sq[i].base = q ? vh_queue_base(q) : 0;
		sq[i].inflight = 0;
	}
	*buf = p;
	*len = n;
	vhblk_log(d, VH_LOG_INFO, "state saved: %u queue(s), %zu bytes", d->opt.num_queues, n);
	return 0;
}

/* Refuse, with one log line saying why. */
static int state_refuse(const struct vhblk *d, const char *why)
{
	vhblk_log(d, VH_LOG_ERR, "state load: %s: %s", why, strerror(EINVAL));
	return -EINVAL;
}

/* The header says this state is of a vh-blk we understand, and its lengths add up. */
static int state_check_format(const struct vhblk *d, const struct vhblk_state_hdr *h, size_t len)
{
	if (h->magic != VHBLK_STATE_MAGIC)
		return state_refuse(d, "not a vh-blk state");
	if (h->version != VHBLK_STATE_VERSION)
		return state_refuse(d, "unsupported state version");
	if (h->hdr_len != sizeof(*h) || h->config_len != sizeof(struct virtio_blk_config))
		return state_refuse(d, "header or config length differs");
	if (h->num_queues == 0 || h->num_queues > VH_SERVER_MAX_QUEUES)
		return state_refuse(d, "queue count out of range");
	if (h->total_len != len || len != state_len(h->num_queues))
		return state_refuse(d, "state length does not add up");
	return 0;
}

/* The state describes the disk and device this vh-blk serves. */
static int state_check_device(const struct vhblk *d, struct vh_conn *conn,
			      const struct vhblk_state_hdr *h, const uint8_t *config)
{
	struct vhblk_state_hdr mine;
	uint64_t offered = vh_server_library_features() | d->features;

	state_fill_hdr(d, conn, &mine);
	if (h->size != mine.size || h->logical_block_size != mine.logical_block_size)
		return state_refuse(d, "disk size or block size differs");
	if (h->flags != mine.flags)
		return state_refuse(d, "read-only flag differs");
	if (h->num_queues != mine.num_queues)
		return state_refuse(d, "number of queues differs");
	if (memcmp(h->serial, mine.serial, sizeof(h->serial)))
		return state_refuse(d, "serial differs");
	if (h->features & ~offered)
		return state_refuse(d, "driver features this vh-blk does not offer");
	if (memcmp(config, &d->config, sizeof(d->config)))
		return state_refuse(d, "config space differs");
	return 0;
}

int vhblk_state_load(void *inst, struct vh_conn *conn, const void *buf, size_t len)
{
	struct vhblk *d = inst;
	const uint8_t *p = buf;
	const struct vhblk_state_queue *sq;
	struct vhblk_state_hdr h;
	int err;

	if (len < sizeof(h))
		return state_refuse(d, "truncated header");
	memcpy(&h, p, sizeof(h));
	err = state_check_format(d, &h, len);
	if (err == 0)
		err = state_check_device(d, conn, &h, p + sizeof(h));
	if (err < 0)
		return err;
	sq = (const void *)(p + sizeof(h) + sizeof(d->config));
	for (unsigned i = 0; i < h.num_queues; i++) {
		if (sq[i].inflight)
			return state_refuse(d, "requests in flight (this vh-blk drains)");
		if (sq[i].base > 0xffff)
			return state_refuse(d, "ring base out of range");
	}
	/* Applied only now that all of it checked out. */
	for (unsigned i = 0; i < h.num_queues; i++)
		d->state_base[i] = sq[i].base;
	d->state_check = (h.num_queues >= 64 ? ~0ull : (1ull << h.num_queues) - 1);
	vhblk_log(d, VH_LOG_INFO, "state loaded: %u queue(s)", h.num_queues);
	return 0;
}

void vhblk_state_queue_start(struct vhblk *d, struct vh_queue *q)
{
	unsigned i = vh_queue_index(q);

	if (i >= 64 || !(d->state_check & (1ull << i)))
		return;
	d->state_check &= ~(1ull << i);
	/* The front-end's SET_VRING_BASE wins; a mismatch means it lost the source's position. */
	if (vh_queue_base(q) != d->state_base[i])
		vhblk_log(d, VH_LOG_WARN, "vq %u: starts at %u, the migrated state says %u", i,
			  vh_queue_base(q), d->state_base[i]);
}
