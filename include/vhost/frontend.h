/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvhost frontend: struct vh_dev, the device layer that hands virtqueues to a vhost backend
 * (vhost-user socket, /dev/vhost-net & friends, /dev/vhost-vdpa-N).
 *
 * Lifecycle: vh_dev_create (connect, SET_OWNER, feature and protocol-feature discovery)
 *   -> vh_dev_ack_features -> vh_dev_mem_begin/add/commit -> vh_dev_vring_setup (each ring)
 *   -> vh_dev_start -> ... -> vh_dev_stop (ring bases read back) -> vh_dev_destroy.
 * Misuse (wrong order) returns -EBUSY or -EINVAL. A peer that breaks the protocol makes the device
 * broken (-EPROTO from then on) until vh_dev_reconnect succeeds.
 *
 * Threads: a vh_dev is not internally locked; call it from one thread at a time (the VMM's main loop).
 */
#ifndef VHOST_FRONTEND_H
#define VHOST_FRONTEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vhost/common.h>

struct vh_dev;

#define VH_DEV_MAX_QUEUES 64

/* IOTLB permissions, as in <linux/vhost_types.h> VHOST_ACCESS_*. */
#define VH_DEV_ACCESS_RO 1
#define VH_DEV_ACCESS_WO 2
#define VH_DEV_ACCESS_RW 3

/**
 * struct vh_dev_config - how to reach the backend and what the caller supports (copied at create).
 * @path: "unix:/path/to.sock" (vhost-user), "/dev/vhost-net", "/dev/vhost-vsock", "/dev/vhost-scsi",
 *        "/dev/vhost-vdpa-N".
 * @server: vhost-user only: listen on the path and wait (up to @timeout_ms) for the backend to connect.
 * @features: virtio/vhost feature bits the caller (the "guest" side) supports; the device offers the
 *            intersection with what the backend offers (the seed's vhost_get_features filter).
 * @protocol_features: vhost-user protocol features to accept; 0 means every one the library implements.
 * @num_queues: rings the caller intends to use.
 * @timeout_ms: bound on every wait for a backend reply; 0 means 5000.
 * @iotlb_translate: VIRTIO_F_IOMMU_PLATFORM: answers the backend's IOTLB misses. Fill @uva (the
 *                   caller's virtual address of @iova) and @size (bytes mapped from @iova); return 0 or
 *                   -errno (the miss is then answered with nothing and the backend fails the access).
 *                   @perm is the access that missed (VH_DEV_ACCESS_*); the entry gets that permission
 *                   when the callback returns 0, or the mapping's own permission when it returns a
 *                   positive VH_DEV_ACCESS_* covering @perm (return VH_DEV_ACCESS_RW for a read/write
 *                   mapping, or a later access of the other kind to the same range fails in the
 *                   kernel without a new miss).
 * @config_changed: called from vh_dev_dispatch when the backend reports a config-space change.
 */
struct vh_dev_config {
	const char *path;
	bool server;
	uint64_t features;
	uint64_t protocol_features;
	unsigned num_queues;
	int timeout_ms;
	const char *name;
	struct vh_log_sink log;
	int (*iotlb_translate)(void *opaque, uint64_t iova, int perm, uint64_t *uva,
			       uint64_t *size);
	void (*config_changed)(void *opaque);
	void *opaque;
};

/**
 * struct vh_dev_mem_region - one piece of guest RAM as the caller maps it.
 * @gpa: guest physical address; @size: bytes; @host: where the caller mapped it.
 * @fd: the memfd/hugetlbfs fd backing it (-1 only for vhost-kernel/vdpa); @fd_offset: offset of @host in @fd.
 * @page_size: backing page size (0 = 4096); vhost-user regions are rounded to it.
 * @flags: VH_DEV_MEM_READONLY, VH_DEV_MEM_INVISIBLE (never shown to the device).
 */
struct vh_dev_mem_region {
	uint64_t gpa;
	uint64_t size;
	void *host;
	int fd;
	uint64_t fd_offset;
	uint64_t page_size;
	unsigned flags;
};
#define VH_DEV_MEM_READONLY  (1u << 0)
#define VH_DEV_MEM_INVISIBLE (1u << 1)

/**
 * struct vh_dev_vring - one ring as the driver ("guest") laid it out.
 * @desc_gpa, @avail_gpa, @used_gpa: guest-physical addresses of the three areas (for packed rings:
 *   descriptor ring, driver event area, device event area); they must lie in the memory table.
 * @base: next avail index (split) or last_avail_idx | wrap << 15 (packed) to start from.
 * @kick_fd: eventfd the driver signals (owned by the caller; -1: the library creates one).
 * @call_fd: eventfd the backend signals (owned by the caller; -1: the library creates one).
 */
struct vh_dev_vring {
	unsigned index;
	uint16_t num;
	bool packed;
	uint64_t desc_gpa;
	uint64_t avail_gpa;
	uint64_t used_gpa;
	uint32_t base;
	int kick_fd;
	int call_fd;
};

/**
 * vh_dev_create() - reach the backend and learn what it offers.
 * @cfg: configuration (copied, strings too).
 * @out: receives the device.
 *
 * vhost-user: connect (or, with @cfg->server, listen and wait up to the timeout for the backend),
 * GET_FEATURES, protocol-feature negotiation, GET_QUEUE_NUM, GET_MAX_MEM_SLOTS,
 * SET_BACKEND_REQ_FD, SET_OWNER, GET_FEATURES (docs/frontend.md has every sequence).
 *
 * Return: 0; -EINVAL bad @cfg; -EOPNOTSUPP unknown transport; -ENOENT/-ECONNREFUSED nobody
 * listening; -ETIMEDOUT no backend / no reply in time; -EPROTO the backend broke the protocol;
 * -ECONNRESET it hung up; -ENOMEM. Nothing is left open on failure.
 * Thread: any; the device is then used by one thread at a time.
 */
VH_API int vh_dev_create(const struct vh_dev_config *cfg, struct vh_dev **out);
/** vh_dev_destroy() - close everything the device owns (no messages sent); *@dev = NULL. */
VH_API void vh_dev_destroy(struct vh_dev **dev);

/* Feature negotiation. */
VH_API uint64_t vh_dev_features(const struct vh_dev *dev);	    /* offered & cfg->features */
VH_API uint64_t vh_dev_backend_features(const struct vh_dev *dev);  /* raw offer */
VH_API uint64_t vh_dev_protocol_features(const struct vh_dev *dev); /* negotiated */
/**
 * vh_dev_ack_features() - SET_FEATURES with @features (a subset of vh_dev_features()).
 * VHOST_USER_F_PROTOCOL_FEATURES and VHOST_F_LOG_ALL are managed by the library.
 * Return: 0; -EINVAL bits not offered; -EBUSY started; -EIO refused; -EPROTO/-ECONNRESET.
 */
VH_API int vh_dev_ack_features(struct vh_dev *dev, uint64_t features);
VH_API unsigned vh_dev_max_queues(const struct vh_dev *dev);
VH_API unsigned vh_dev_max_mem_slots(const struct vh_dev *dev);

/* Memory table: a batch replaces the whole table; only the difference is sent when it can be. */
VH_API int vh_dev_mem_begin(struct vh_dev *dev);
VH_API int vh_dev_mem_add(struct vh_dev *dev, const struct vh_dev_mem_region *r);
/**
 * vh_dev_mem_commit() - make the batch the table and tell the backend (whole table, or
 * REM/ADD_MEM_REG of the difference with CONFIGURE_MEM_SLOTS; nothing if unchanged). Region fds
 * must stay open while they are in the table (a reconnect sends them again).
 * Return: 0; -EINVAL no batch, a refused region, or a running ring would be unmapped (nothing
 * sent); -ENOSPC more regions than the backend's slots; -EIO/-EPROTO/-ECONNRESET.
 */
VH_API int vh_dev_mem_commit(struct vh_dev *dev);

/* Rings. */
/**
 * vh_dev_vring_setup() - record ring @vr->index for the next start (nothing is sent).
 * Return: 0; -EINVAL index >= num_queues, bad size (split: power of 2), packed without
 * VIRTIO_F_RING_PACKED acked, split base > 0xffff; -EBUSY while started; -errno from eventfd.
 */
VH_API int vh_dev_vring_setup(struct vh_dev *dev, const struct vh_dev_vring *vr);
VH_API int vh_dev_vring_kick_fd(const struct vh_dev *dev, unsigned index);
VH_API int vh_dev_vring_call_fd(const struct vh_dev *dev, unsigned index);
/* Hands every set-up ring to the backend and kicks each once (requests may already be queued). */
VH_API int vh_dev_start(struct vh_dev *dev);
/* Stops every ring; @bases (may be NULL) receives each ring's next index, indexed by ring. */
VH_API int vh_dev_stop(struct vh_dev *dev, uint32_t *bases, unsigned nbases);

/* Notifier masking: while masked, the backend's call goes to a private eventfd. */
VH_API int vh_dev_vring_mask(struct vh_dev *dev, unsigned index, bool masked);
/* 1 if a call arrived while masked (and clears it), 0 if not, -errno. */
VH_API int vh_dev_vring_pending(struct vh_dev *dev, unsigned index);

/* Dirty logging for live migration. */
VH_API int vh_dev_log_start(struct vh_dev *dev);
VH_API int vh_dev_log_stop(struct vh_dev *dev);
/* ORs every page dirtied since the last sync into @bitmap (bit n = page n of 4 KiB), clearing the log. */
VH_API int vh_dev_log_sync(struct vh_dev *dev, uint64_t *bitmap, uint64_t nbits);
/* 0: migratable; 1: blocked, with the reason in @why; -errno. */
VH_API int vh_dev_migration_blocker(const struct vh_dev *dev, char *why, size_t len);

/* IOTLB: the caller unmapped [iova, iova + size). */
VH_API int vh_dev_iotlb_invalidate(struct vh_dev *dev, uint64_t iova, uint64_t size);

/* Config space. */
VH_API int vh_dev_get_config(struct vh_dev *dev, uint32_t offset, void *buf, uint32_t len);
VH_API int vh_dev_set_config(struct vh_dev *dev, uint32_t offset, const void *buf, uint32_t len);

/* Inflight region (vhost-user INFLIGHT_SHMFD) for reconnect and migration. */
VH_API int vh_dev_inflight_size(const struct vh_dev *dev, size_t *size);
VH_API int vh_dev_inflight_save(const struct vh_dev *dev, void *buf, size_t len);
VH_API int vh_dev_inflight_load(struct vh_dev *dev, const void *buf, size_t len);

/* Busyloop timeout (vhost-kernel), in microseconds. */
VH_API int vh_dev_set_busyloop_timeout(struct vh_dev *dev, unsigned index, unsigned usec);
/*
 * VHOST_GET_VRING_BUSYLOOP_TIMEOUT into *@usec. -EOPNOTSUPP: vhost-user, or a kernel without
 * busy polling; -EINVAL bad index/NULL. (More for vhost-kernel/-vdpa devices: <vhost/kernel.h>.)
 */
VH_API int vh_dev_get_busyloop_timeout(struct vh_dev *dev, unsigned index, unsigned *usec);

/*
 * Event loop integration: the fd to watch for backend-initiated messages (IOTLB misses, config changes,
 * the backend hanging up); -1 if none. vh_dev_dispatch handles what is pending without blocking.
 * vhost-user: the back-end channel when BACKEND_REQ was negotiated, else the socket itself (readable
 * only when the backend hung up or broke the protocol). vh_dev_dispatch returns the number of
 * backend requests handled, -ECONNRESET when the backend is gone (then vh_dev_reconnect), -EPROTO.
 */
VH_API int vh_dev_event_fd(const struct vh_dev *dev);
VH_API int vh_dev_dispatch(struct vh_dev *dev);

/*
 * vhost-user: reconnect after the backend went away (vh_dev_dispatch or a request returned
 * -ECONNRESET): re-negotiate, re-send memory, rings, bases and inflight state, restart if started.
 */
VH_API int vh_dev_reconnect(struct vh_dev *dev);

/*
 * Device reset (vhost-user RESET_DEVICE when negotiated) while stopped; drops the inflight
 * region. -EBUSY while started, -EOPNOTSUPP when the backend cannot reset.
 */
VH_API int vh_dev_reset(struct vh_dev *dev);

#endif
