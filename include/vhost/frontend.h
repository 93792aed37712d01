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
 * @shmem_map: vhost-user SHMEM: the backend asked (BACKEND_SHMEM_MAP) to map @req->len bytes of
 *             @req->fd at @req->fd_offset into VIRTIO Shared Memory Region @req->shmid at
 *             @req->shm_offset. Called from vh_dev_dispatch after the library checked the
 *             request (region exists, whole pages, inside the region, no overlap); @req->fd is
 *             valid during the call only (dup it to keep it). Return 0 or -errno (the backend
 *             gets the errno). NULL: the library reserves each region itself (PROT_NONE, see
 *             vh_dev_shmem_region()) and maps the fd there.
 * @shmem_unmap: the backend unmapped a range @shmem_map mapped (@req->fd is -1). NULL: nothing to
 *               do. Unused without @shmem_map.
 * @host_notifier: vhost-user HOST_NOTIFIER: ring @index got a notifier page or lost it
 *                 (vh_dev_vring_host_notifier() tells which); called from vh_dev_dispatch.
 */
struct vh_dev_shmem_req;
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
	int (*shmem_map)(void *opaque, const struct vh_dev_shmem_req *req);
	int (*shmem_unmap)(void *opaque, const struct vh_dev_shmem_req *req);
	void (*host_notifier)(void *opaque, unsigned index);
};

/** struct vh_dev_shmem_req - a BACKEND_SHMEM_MAP / _UNMAP request, checked (cfg.shmem_map). */
struct vh_dev_shmem_req {
	unsigned shmid;
	int fd; /* -1 for an unmap */
	uint64_t fd_offset;
	uint64_t shm_offset;
	uint64_t len;
	bool writable;
};

/**
 * struct vh_dev_host_notifier - a ring's notify page from the backend (HOST_NOTIFIER).
 * @fd, @offset, @size: what the backend sent (one host page of @fd; @fd owned by the device).
 * @addr: where the library mapped it; vh_dev_vring_kick() writes the 16-bit ring index there
 *        (virtio 1.2 §4.1.5.2) instead of signalling the kick eventfd. A VMM may instead map
 *        @fd itself into the guest's notify area so the guest's writes reach the backend
 *        directly (the page is what the backend polls).
 */
struct vh_dev_host_notifier {
	int fd;
	uint64_t offset;
	uint64_t size;
	void *addr;
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
/**
 * vh_dev_destroy() - close everything the device owns (no messages sent); sets *@dev to NULL.
 * @dev: the device (NULL or *dev NULL: no-op).
 * Thread: the thread that owns the device.
 */
VH_API void vh_dev_destroy(struct vh_dev **dev);

/* Feature negotiation. */

/**
 * vh_dev_features() - features the backend offers, masked with cfg->features.
 * @dev: the device.
 * Return: the feature bits. Errors: none. Thread: the thread that owns @dev (one at a time).
 */
VH_API uint64_t vh_dev_features(const struct vh_dev *dev);

/**
 * vh_dev_backend_features() - the backend's raw GET_FEATURES offer.
 * @dev: the device.
 * Return: the feature bits. Errors: none. Thread: the thread that owns @dev (one at a time).
 */
VH_API uint64_t vh_dev_backend_features(const struct vh_dev *dev);

/**
 * vh_dev_protocol_features() - negotiated vhost-user protocol features (0 for vhost-kernel).
 * @dev: the device.
 * Return: the protocol feature bits. Errors: none. Thread: the thread that owns @dev (one at a time).
 */
VH_API uint64_t vh_dev_protocol_features(const struct vh_dev *dev);

/**
 * vh_dev_backend_protocol_features() - the backend's raw GET_PROTOCOL_FEATURES offer
 * (0 for vhost-kernel/-vdpa and backends without VHOST_USER_F_PROTOCOL_FEATURES).
 * @dev: the device.
 * Return: the protocol feature bits. Errors: none. Thread: the thread that owns @dev.
 */
VH_API uint64_t vh_dev_backend_protocol_features(const struct vh_dev *dev);

/**
 * vh_dev_ack_features() - SET_FEATURES with @features (a subset of vh_dev_features()).
 * VHOST_USER_F_PROTOCOL_FEATURES and VHOST_F_LOG_ALL are managed by the library.
 * @dev: the device. @features: the driver's choice.
 * A refused ack leaves the previous one in force (the backend keeps it too); after a lost
 * connection the new ack stands and vh_dev_reconnect() sends it.
 * Return: 0; -EINVAL bits not offered; -EBUSY started; -EIO refused; -EPROTO/-ECONNRESET.
 * Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_ack_features(struct vh_dev *dev, uint64_t features);

/**
 * vh_dev_max_queues() - rings the backend supports (GET_QUEUE_NUM with MQ, else the
 * transport's limit).
 * @dev: the device.
 * Return: the count. Errors: none. Thread: the thread that owns @dev (one at a time).
 */
VH_API unsigned vh_dev_max_queues(const struct vh_dev *dev);

/**
 * vh_dev_max_mem_slots() - memory regions the backend accepts (GET_MAX_MEM_SLOTS with
 * CONFIGURE_MEM_SLOTS, else the transport's limit).
 * @dev: the device.
 * Return: the count. Errors: none. Thread: the thread that owns @dev (one at a time).
 */
VH_API unsigned vh_dev_max_mem_slots(const struct vh_dev *dev);

/* Memory table: a batch replaces the whole table; only the difference is sent when it can be. */

/**
 * vh_dev_mem_begin() - start a new memory table batch (discards an uncommitted one).
 * @dev: the device.
 * Return: 0. Errors: none. Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_mem_begin(struct vh_dev *dev);

/**
 * vh_dev_mem_add() - add one region to the open batch (nothing is sent).
 * @dev: the device. @r: the region (copied; its fd must stay open while in the table).
 * Return: 0; -EINVAL no open batch, bad region, or vhost-user without an fd; -ENOMEM.
 * Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_mem_add(struct vh_dev *dev, const struct vh_dev_mem_region *r);

/**
 * vh_dev_mem_commit() - make the batch the table and tell the backend (whole table, or
 * REM/ADD_MEM_REG of the difference with CONFIGURE_MEM_SLOTS; nothing if unchanged). Region fds
 * must stay open while they are in the table (a reconnect sends them again).
 * Return: 0; -EINVAL no batch, a refused region, or a running ring would be unmapped (nothing
 * sent); -ENOSPC more regions than the backend's slots; -EIO/-EPROTO/-ECONNRESET.
 * @dev: the device.
 * Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_mem_commit(struct vh_dev *dev);

/* Rings. */
/**
 * vh_dev_vring_setup() - record ring @vr->index for the next start (nothing is sent).
 * Return: 0; -EINVAL index >= num_queues, bad size (split: power of 2), packed without
 * VIRTIO_F_RING_PACKED acked, split base > 0xffff; -EBUSY while started; -errno from eventfd.
 * @dev: the device. @vr: the ring (copied; kick_fd/call_fd -1: the device makes eventfds).
 * Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_vring_setup(struct vh_dev *dev, const struct vh_dev_vring *vr);

/**
 * vh_dev_vring_kick_fd() - the eventfd the driver writes to kick ring @index.
 * @dev: the device. @index: ring index.
 * Return: the fd (owned by @dev); -EINVAL bad index. Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_vring_kick_fd(const struct vh_dev *dev, unsigned index);

/**
 * vh_dev_vring_call_fd() - the eventfd the backend signals for ring @index.
 * @dev: the device. @index: ring index.
 * Return: the fd (owned by @dev); -EINVAL bad index. Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_vring_call_fd(const struct vh_dev *dev, unsigned index);

/**
 * vh_dev_start() - hand every set-up ring to the backend and kick each once (requests may
 * already be queued).
 * @dev: the device.
 * Return: 0; -EBUSY already started; -EINVAL no ring set up, features not acked, a memory batch
 * still open or no memory table; -EIO/-EPROTO/-ECONNRESET from the backend.
 * Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_start(struct vh_dev *dev);

/**
 * vh_dev_stop() - stop every ring (GET_VRING_BASE).
 * @dev: the device. @bases: NULL, or receives each ring's next index, indexed by ring.
 * @nbases: entries in @bases.
 * Return: 0; -EINVAL not started; -EPROTO/-ECONNRESET (the rings are stopped anyway).
 * Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_stop(struct vh_dev *dev, uint32_t *bases, unsigned nbases);

/**
 * vh_dev_vring_mask() - notifier masking: while masked, the backend's call goes to a private
 * eventfd; unmasking restores the ring's call fd.
 * @dev: the device. @index: ring index. @masked: mask or unmask.
 * Return: 0; -EINVAL bad index; -errno from eventfd or the backend. Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_vring_mask(struct vh_dev *dev, unsigned index, bool masked);

/**
 * vh_dev_vring_kick() - tell the backend that ring @index has new buffers: a VRING_KICK
 * message when INBAND_NOTIFICATIONS was negotiated (asked for in cfg->protocol_features; the
 * backend then has no kick eventfd), else a write to the kick eventfd. With in-band
 * notifications the backend's calls and errors arrive on the back-end channel too:
 * vh_dev_dispatch() writes them into the call / err eventfds, so those are watched as usual.
 * @dev: the device. @index: ring index.
 * Return: 0; -EINVAL bad or unset ring; -errno from the write or the backend.
 * Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_vring_kick(struct vh_dev *dev, unsigned index);

/**
 * vh_dev_vring_err_fd() - the eventfd the backend signals when ring @index fails
 * (SET_VRING_ERR, sent at each start; the library's own eventfd unless the caller set one).
 * Watch it in the event loop; vh_dev_vring_error() reads and clears it.
 * @dev: the device. @index: ring index.
 * Return: the fd (owned by @dev unless the caller set it); -EINVAL bad or unset ring.
 * Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_vring_err_fd(const struct vh_dev *dev, unsigned index);

/**
 * vh_dev_vring_set_err_fd() - use the caller's eventfd @fd for ring @index's errors (the VMM's
 * own, e.g. wired to a virtio "device needs reset"); -1 goes back to a library eventfd. Sent
 * at once (SET_VRING_ERR) if the ring is running, else at the next start.
 * @dev: the device. @index: ring index (set up). @fd: eventfd (stays the caller's) or -1.
 * Return: 0; -EINVAL bad or unset ring; -errno from eventfd or the backend (old fd kept).
 * Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_vring_set_err_fd(struct vh_dev *dev, unsigned index, int fd);

/**
 * vh_dev_vring_error() - whether the backend reported ring @index failed since the last call
 * (its err eventfd was signalled); clears it without blocking.
 * @dev: the device. @index: ring index.
 * Return: 1 reported, 0 not; -EINVAL bad ring; -errno reading the eventfd.
 * Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_vring_error(struct vh_dev *dev, unsigned index);

/**
 * vh_dev_vring_pending() - whether a call arrived while ring @index was masked; clears it.
 * @dev: the device. @index: ring index.
 * Return: 1 pending, 0 not; -EINVAL bad index; -errno reading the eventfd. Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_vring_pending(struct vh_dev *dev, unsigned index);

/**
 * vh_dev_vring_host_notifier() - the notify page the backend handed over for ring @index
 * (vhost-user HOST_NOTIFIER; BACKEND_VRING_HOST_NOTIFIER_MSG checked: one host page inside
 * its fd). A message without an fd removes it. The fd stays the device's.
 * @dev: the device. @index: ring index. @out: receives fd, offset, size and mapping.
 * Return: 0; -ENOENT the ring has no notifier; -EINVAL bad index or NULL @out.
 * Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_vring_host_notifier(const struct vh_dev *dev, unsigned index,
				      struct vh_dev_host_notifier *out);

/**
 * vh_dev_shmem_count() - VIRTIO Shared Memory Region ids in use (GET_SHMEM_CONFIG with
 * vhost-user SHMEM): the highest shmid with a non-zero size, plus one.
 * @dev: the device.
 * Return: the count (0: no regions). Errors: none. Thread: the thread that owns @dev.
 */
VH_API unsigned vh_dev_shmem_count(const struct vh_dev *dev);

/**
 * vh_dev_shmem_region() - size of shared memory region @shmid and, when the library reserved
 * it (cfg.shmem_map NULL), where: the backend's mappings appear inside it, the rest is
 * inaccessible. Valid until the connection closes (a reconnect fetches the layout again).
 * @dev: the device. @shmid: region id. @size: receives the size. @addr: NULL, or receives the
 * reservation (NULL when the VMM maps regions itself).
 * Return: 0; -ENOENT no such region; -EINVAL NULL @size. Thread: the thread that owns @dev.
 */
VH_API int vh_dev_shmem_region(const struct vh_dev *dev, unsigned shmid, uint64_t *size,
			       void **addr);

/* Dirty logging for live migration. */

/**
 * vh_dev_log_start() - allocate the dirty log, send it (SET_LOG_BASE) and set VHOST_F_LOG_ALL.
 * @dev: the device.
 * Return: 0; -EOPNOTSUPP vh_dev_migration_blocker() says no (logged); -ENOMEM; -errno from the
 * backend (the log is dropped again). Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_log_start(struct vh_dev *dev);

/**
 * vh_dev_log_stop() - clear VHOST_F_LOG_ALL and free the log.
 * @dev: the device.
 * Return: 0 or -errno from the backend (the log is freed anyway). Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_log_stop(struct vh_dev *dev);

/**
 * vh_dev_log_sync() - OR every page dirtied since the last sync into @bitmap (bit n = page n
 * of 4 KiB), clearing the log.
 * @dev: the device. @bitmap: the caller's bitmap. @nbits: bits in @bitmap.
 * Return: pages newly marked (capped at INT32_MAX); -EINVAL NULL @bitmap or logging off.
 * Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_log_sync(struct vh_dev *dev, uint64_t *bitmap, uint64_t nbits);

/**
 * vh_dev_migration_blocker() - whether the device can be live-migrated.
 * @dev: the device. @why: receives the reason when blocked (may be NULL when @len is 0).
 * @len: size of @why.
 * Return: 0 migratable; 1 blocked, with the reason in @why; -EINVAL NULL @why with @len > 0.
 * Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_migration_blocker(const struct vh_dev *dev, char *why, size_t len);

/**
 * vh_dev_iotlb_invalidate() - the caller unmapped [@iova, @iova + @size): tell the backend
 * (VHOST_IOTLB_INVALIDATE).
 * @dev: the device. @iova: start. @size: bytes.
 * Return: 0; -EINVAL VIRTIO_F_ACCESS_PLATFORM not negotiated; -errno from the transport.
 * Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_iotlb_invalidate(struct vh_dev *dev, uint64_t iova, uint64_t size);

/* Config space. */

/**
 * vh_dev_get_config() - read @len bytes of the device config space at @offset (GET_CONFIG).
 * @dev: the device. @offset: byte offset. @buf: receives the bytes. @len: bytes.
 * Return: 0; -EINVAL bad range; -EOPNOTSUPP no CONFIG protocol feature; -errno from the
 * backend. Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_get_config(struct vh_dev *dev, uint32_t offset, void *buf, uint32_t len);

/**
 * vh_dev_set_config() - write @len bytes of the device config space at @offset (SET_CONFIG).
 * @dev: the device. @offset: byte offset. @buf: the bytes. @len: bytes.
 * Return: 0; -EINVAL bad range; -EOPNOTSUPP no CONFIG protocol feature; -errno from the
 * backend. Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_set_config(struct vh_dev *dev, uint32_t offset, const void *buf, uint32_t len);

/* Inflight region (vhost-user INFLIGHT_SHMFD) for reconnect and migration. */

/**
 * vh_dev_inflight_size() - bytes vh_dev_inflight_save() needs.
 * @dev: the device. @size: receives the size (0: no inflight region).
 * Return: 0; -EINVAL NULL @size. Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_inflight_size(const struct vh_dev *dev, size_t *size);

/**
 * vh_dev_inflight_save() - copy the inflight region (with a header) into @buf.
 * @dev: the device. @buf: destination. @len: its size (>= vh_dev_inflight_size()).
 * Return: 0; -ENOENT no inflight region; -EINVAL @len too small. Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_inflight_save(const struct vh_dev *dev, void *buf, size_t len);

/**
 * vh_dev_inflight_load() - restore a region saved by vh_dev_inflight_save() (migration
 * target), before vh_dev_start().
 * @dev: the device. @buf: the saved bytes (validated). @len: their size.
 * Return: 0; -EBUSY started; -EINVAL bad header or size; -errno from memfd/mmap or the backend.
 * Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_inflight_load(struct vh_dev *dev, const void *buf, size_t len);

/*
 * Back-end device state for migration (vhost-user DEVICE_STATE, vhost-user.rst "Migrating
 * back-end state"): with the device stopped (vh_dev_stop() on the source; before vh_dev_start()
 * on the destination) the backend's internal state is saved into, or loaded from, any fd the
 * caller has (a file, a socket to the destination host, a pipe). The bytes are the backend's
 * own format; the frontend moves them and asks the backend whether they were processed
 * (CHECK_DEVICE_STATE). Ring bases, memory and inflight are transferred as before.
 */

/* Largest device state vh_dev_state_save() / _load() move (more: -EFBIG). */
#define VH_DEV_MAX_DEVICE_STATE (1ull << 30)

/**
 * vh_dev_state_save() - read the stopped backend's state to its end and write it to @fd
 * (SET_DEVICE_STATE_FD direction SAVE, then CHECK_DEVICE_STATE).
 * @dev: the device (stopped). @fd: where the bytes go (written from its current position).
 * Return: 0; -EINVAL bad @fd; -EBUSY started; -EOPNOTSUPP DEVICE_STATE not negotiated (not
 * vhost-user, or the backend does not offer it); -EIO the backend refused or failed the
 * transfer; -ETIMEDOUT the backend stalled longer than the device timeout; -EPROTO /
 * -ECONNRESET (device broken); -EFBIG more than VH_DEV_MAX_DEVICE_STATE bytes; -errno writing @fd.
 * Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_state_save(struct vh_dev *dev, int fd);

/**
 * vh_dev_state_load() - send the state read from @fd (to its EOF) to the backend
 * (SET_DEVICE_STATE_FD direction LOAD, then CHECK_DEVICE_STATE), before vh_dev_start().
 * @dev: the device (not started). @fd: the saved bytes (read from its current position).
 * Return: 0; -EIO the backend refused the state (wrong device, bad version, garbage); else as
 * vh_dev_state_save(). Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_state_load(struct vh_dev *dev, int fd);

/**
 * vh_dev_state_transfer() - vh_dev_state_save() of @src into a memfd, then
 * vh_dev_state_load() of it into @dst (both devices in this process: a backend upgrade or a
 * local migration).
 * @src: stopped source device. @dst: destination device, not started.
 * Return: 0; -EINVAL NULL or the same device; -errno from memfd_create or either side.
 * Thread: the thread that owns both devices.
 */
VH_API int vh_dev_state_transfer(struct vh_dev *src, struct vh_dev *dst);

/**
 * vh_dev_set_busyloop_timeout() - VHOST_SET_VRING_BUSYLOOP_TIMEOUT (vhost-kernel).
 * @dev: the device. @index: ring index. @usec: timeout in microseconds (0: off).
 * Return: 0; -EINVAL bad index; -EOPNOTSUPP vhost-user; -errno from the ioctl. Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_set_busyloop_timeout(struct vh_dev *dev, unsigned index, unsigned usec);

/**
 * vh_dev_get_busyloop_timeout() - VHOST_GET_VRING_BUSYLOOP_TIMEOUT into *@usec.
 * (More for vhost-kernel/-vdpa devices: <vhost/kernel.h>.)
 * @dev: the device. @index: ring index. @usec: receives the timeout in microseconds.
 * Return: 0; -EOPNOTSUPP vhost-user, or a kernel without busy polling; -EINVAL bad index/NULL.
 * Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_get_busyloop_timeout(struct vh_dev *dev, unsigned index, unsigned *usec);

/*
 * Event loop integration: vh_dev_event_fd() is the fd to watch for backend-initiated messages
 * (IOTLB misses, config changes, the backend hanging up). vhost-user: the back-end channel when
 * BACKEND_REQ was negotiated, else the socket itself (readable only when the backend hung up or
 * broke the protocol). vh_dev_dispatch() handles what is pending without blocking.
 */

/**
 * vh_dev_event_fd() - the fd to watch for backend-initiated messages (see above).
 * @dev: the device.
 * Return: the fd (owned by @dev), or -1 if none. Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_event_fd(const struct vh_dev *dev);

/**
 * vh_dev_dispatch() - handle pending backend requests without blocking.
 * @dev: the device.
 * Return: the number of backend requests handled (>= 0); -ECONNRESET the backend is gone (then
 * vh_dev_reconnect()); -EPROTO it broke the protocol. Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_dispatch(struct vh_dev *dev);

/**
 * vh_dev_reconnect() - vhost-user: reconnect after the backend went away (vh_dev_dispatch() or a
 * request returned -ECONNRESET): re-negotiate, re-send memory, rings, bases and inflight state,
 * restart if started.
 * @dev: the device.
 * Return: 0; -EOPNOTSUPP the transport cannot reopen; -errno from connecting or restoring
 * (-ECONNREFUSED/-ETIMEDOUT: nobody there yet; the device stays broken, try again).
 * Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_reconnect(struct vh_dev *dev);

/**
 * vh_dev_reset() - device reset (vhost-user RESET_DEVICE when negotiated) while stopped; drops
 * the inflight region.
 * @dev: the device.
 * Return: 0; -EBUSY while started; -EOPNOTSUPP the backend cannot reset; -errno from the
 * backend. Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_reset(struct vh_dev *dev);

/* ---- postcopy live migration (vhost-user PAGEFAULT) ----------------------------------------- */

/**
 * struct vh_dev_postcopy_region - where the backend mapped one guest memory region.
 * @gpa: guest physical address of the region.
 * @size: bytes.
 * @backend_addr: the backend's virtual address of @gpa. Faults read from the backend's
 *                userfaultfd, and the UFFDIO_COPY / ZEROPAGE / WAKE that resolve them, are in
 *                this address space, not the VMM's.
 */
struct vh_dev_postcopy_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t backend_addr;
};

/**
 * vh_dev_postcopy_advise() - POSTCOPY_ADVISE: an incoming migration may switch to postcopy. The
 * backend opens a userfaultfd and hands it over: the VMM watches it beside its own, reads
 * struct uffd_msg fault events (addresses in the backend's space: vh_dev_postcopy_fault_gpa())
 * and resolves each one when the page has arrived, with UFFDIO_COPY (or ZEROPAGE) on this fd,
 * or UFFDIO_WAKE when the page was placed through the VMM's own mapping.
 * Needs PAGEFAULT, asked for in cfg->protocol_features (opt-in).
 * @dev: the device. @uffd: receives the fd; the caller owns it (close it after
 *       vh_dev_postcopy_end()).
 * Return: 0; -EOPNOTSUPP PAGEFAULT not negotiated or not vhost-user; -EBUSY already advised;
 * -EIO the backend sent no fd (it could not open one); -EPROTO/-ECONNRESET.
 * Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_postcopy_advise(struct vh_dev *dev, int *uffd);

/**
 * vh_dev_postcopy_listen() - POSTCOPY_LISTEN: the switch to postcopy happened; the backend
 * registers guest memory with the userfaultfd. From now on every memory table sent (at
 * vh_dev_start(), vh_dev_mem_commit()) is answered with the backend's address of each region
 * (vh_dev_postcopy_region()), and acked by the library before it returns: faults must be
 * served by then, from another thread than the one that sends the table.
 * @dev: the device.
 * Return: 0; -EINVAL not advised; -EBUSY already listening; -EIO refused; -EPROTO/-ECONNRESET.
 * Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_postcopy_listen(struct vh_dev *dev);

/**
 * vh_dev_postcopy_end() - POSTCOPY_END: every page has arrived; the backend unregisters guest
 * memory and closes its userfaultfd. The regions are forgotten.
 * @dev: the device.
 * Return: 0; -EINVAL not listening; -EIO the backend reported a failure (the state is dropped
 * anyway); -EPROTO/-ECONNRESET. Thread: the thread that owns @dev (one at a time).
 */
VH_API int vh_dev_postcopy_end(struct vh_dev *dev);

/**
 * vh_dev_postcopy_region() - region @i (in no particular order) as the backend
 * mapped it, after vh_dev_postcopy_listen() and a table sent.
 * @dev: the device. @i: index from 0. @r: receives the region.
 * Return: 0; -ENOENT no region @i. Thread: any, while the owner does not send a table.
 */
VH_API int vh_dev_postcopy_region(const struct vh_dev *dev, unsigned i,
				  struct vh_dev_postcopy_region *r);

/**
 * vh_dev_postcopy_fault_gpa() - the guest physical address of a fault address read from the
 * backend's userfaultfd (struct uffd_msg arg.pagefault.address).
 * @dev: the device. @addr: backend virtual address. @gpa: receives the guest address.
 * Return: 0; -EFAULT @addr is in no region the backend reported.
 * Thread: any, while the owner does not send a table (a fault-handling thread).
 */
VH_API int vh_dev_postcopy_fault_gpa(const struct vh_dev *dev, uint64_t addr, uint64_t *gpa);

/**
 * vh_dev_postcopy_backend_addr() - the backend's virtual address of guest address @gpa: the
 * destination of UFFDIO_COPY / ZEROPAGE / WAKE on the backend's userfaultfd.
 * @dev: the device. @gpa: guest physical address. @addr: receives the backend address.
 * Return: 0; -EFAULT @gpa is in no region the backend reported.
 * Thread: any, while the owner does not send a table.
 */
VH_API int vh_dev_postcopy_backend_addr(const struct vh_dev *dev, uint64_t gpa, uint64_t *addr);

#endif
