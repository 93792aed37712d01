/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvhost vq/: the one virtqueue implementation (virtio 1.2 §2.7 split, §2.8 packed).
 *
 * Device side (struct vh_vq): the backend library and the devices pop descriptor chains into
 * iovecs (every address translated through a struct vh_memmap and bounds-checked), push used
 * buffers, flush them with one release store and decide whether to notify the driver.
 *
 * Driver side (struct vh_vq_driver): "plays the guest" for the userspace drivers, tests and the
 * benchmarks: lays out a ring in a guest region, adds buffer chains, decides whether to kick and
 * reaps completions.
 *
 * Threads: a ring is single-producer/single-consumer per side. One thread at a time may call the
 * device functions of a struct vh_vq and one thread at a time the functions of a
 * struct vh_vq_driver; the two sides may run concurrently in different threads or processes.
 */
#ifndef VHOST_VQ_H
#define VHOST_VQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <vhost/common.h>

struct vh_memmap;
struct vh_dirty_log;
struct vh_vq;
struct vh_vq_driver;

/* Largest ring (virtio 1.2 §2.7: Queue Size max 32768; packed rings use the same bound). */
#define VH_VQ_MAX_NUM 32768

/** struct vh_vq_layout - where the three areas of a ring lie, relative to its start. */
struct vh_vq_layout {
	size_t desc_off;   /* descriptor table (16-byte aligned) */
	size_t driver_off; /* split: available ring; packed: driver event suppression */
	size_t device_off; /* split: used ring; packed: device event suppression */
	size_t size;	   /* total bytes (a multiple of 64) */
	/* Bytes of each area, for translating SET_VRING_ADDR addresses with their full length. */
	size_t desc_size;   /* 16 * num */
	size_t driver_size; /* split: 6 + 2 * num (with used_event); packed: 4 */
	size_t device_size; /* split: 6 + 8 * num (with avail_event); packed: 4 */
};

/**
 * vh_vq_layout() - compute a ring layout (virtio 1.2 §2.7 / §2.8 alignment rules).
 * @num: ring size: 1..VH_VQ_MAX_NUM, a power of two for split rings.
 * @packed: packed layout.
 * @out: receives the offsets. The device area starts on its own 64-byte cache line so that the
 *       driver's and the device's writes never share a line.
 *
 * Return: 0, or -EINVAL for a bad @num. Thread: any.
 */
VH_API int vh_vq_layout(unsigned num, bool packed, struct vh_vq_layout *out);

/* ------------------------------------------------------------------------------------------ */
/* Device side                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/** struct vh_vq_config - device-side ring parameters (copied at create). */
struct vh_vq_config {
	unsigned num;	  /* ring size (see vh_vq_layout()) */
	bool packed;	  /* VIRTIO_F_RING_PACKED */
	bool event_idx;	  /* VIRTIO_RING_F_EVENT_IDX */
	bool indirect;	  /* VIRTIO_RING_F_INDIRECT_DESC */
	bool in_order;	  /* VIRTIO_F_IN_ORDER (accepted; buffers are used in pop order anyway) */
	const char *name; /* for log lines ("vh-blk vq 0"); copied; NULL: "vq" */
	struct vh_log_sink log;
};

/** struct vh_vq_addrs - host addresses of the three ring areas (already translated). */
struct vh_vq_addrs {
	void *desc;   /* descriptor table: 16-byte aligned */
	void *driver; /* split: avail ring (2-byte aligned); packed: driver event area (4) */
	void *device; /* split: used ring (4-byte aligned); packed: device event area (4) */
};

/**
 * struct vh_vq_elem - one popped chain.
 * @iov: caller-provided array; device-readable pieces first (@out_num), then device-writable
 *       (@in_num). Must stay valid until vh_vq_push() (the dirty log reads it).
 * @max_iov: room in @iov.
 * @id: split: head descriptor index; packed: buffer id.
 * @ndesc: ring slots the chain took (packed: the used descriptor advances by this much).
 * @out_num: readable iovecs. @in_num: writable iovecs.
 * @out_len: readable bytes. @in_len: writable bytes (push's @written is clamped to this).
 */
struct vh_vq_elem {
	struct iovec *iov;
	unsigned max_iov;
	uint16_t id;
	uint16_t ndesc;
	unsigned out_num;
	unsigned in_num;
	uint64_t out_len;
	uint64_t in_len;
};

/**
 * vh_vq_create() - create a device-side ring (no addresses yet).
 * @cfg: parameters (copied).
 * @out: receives the ring.
 * Return: 0; -EINVAL bad num; -ENOMEM. Thread: any.
 */
VH_API int vh_vq_create(const struct vh_vq_config *cfg, struct vh_vq **out);

/**
 * vh_vq_destroy() - free the ring (not the ring memory); sets *@vq to NULL.
 * @vq: the ring (NULL or *vq NULL: no-op).
 * Thread: ring owner, ring stopped.
 */
VH_API void vh_vq_destroy(struct vh_vq **vq);

/**
 * vh_vq_set_addrs() - set the host addresses of the ring areas (SET_VRING_ADDR, translated).
 * @vq: the ring. @a: addresses (copied).
 * Return: 0, or -EINVAL when an address is NULL or misaligned (virtio 1.2 §2.7 table:
 * desc 16, avail 2, used 4; §2.8.10 events 4). Thread: ring owner, ring stopped.
 */
VH_API int vh_vq_set_addrs(struct vh_vq *vq, const struct vh_vq_addrs *a);

/**
 * vh_vq_set_memmap() - the memory table descriptor addresses are translated through.
 * @vq: the ring. @m: the map (not owned; NULL: every pop fails with -EFAULT -> -EPROTO).
 * Thread: ring owner, ring quiesced.
 */
VH_API void vh_vq_set_memmap(struct vh_vq *vq, const struct vh_memmap *m);

/**
 * vh_vq_set_base() - restore the ring position (SET_VRING_BASE).
 * @vq: the ring.
 * @base: split: last_avail_idx (used index restarts from it too); packed: last_avail_idx in bits
 *        0..14 and the avail wrap counter in bit 15 (vhost-user.rst).
 * Return: 0, or -EINVAL (packed index >= num). Clears the broken state. Thread: ring owner.
 */
VH_API int vh_vq_set_base(struct vh_vq *vq, uint32_t base);

/**
 * vh_vq_get_base() - the ring position in vh_vq_set_base()'s encoding (GET_VRING_BASE).
 * @vq: the ring.
 * Return: the position. Errors: none. Thread: ring owner.
 */
VH_API uint32_t vh_vq_get_base(const struct vh_vq *vq);

/**
 * vh_vq_set_used_idx() - restore the used position separately (split: used idx; packed: index |
 * wrap << 15), for a backend that resumes with buffers in flight (inflight tracking).
 * @vq: the ring. @used: the used position.
 * Return: 0, -EINVAL (packed index >= num). Thread: ring owner.
 */
VH_API int vh_vq_set_used_idx(struct vh_vq *vq, uint32_t used);

/**
 * vh_vq_sync_used_idx() - bring a split ring's position into step with the used index in guest
 * memory, at ring start, when the front-end's base may be stale.
 * @vq: the ring, addresses set and vh_vq_set_base() done.
 * @old_idx: receives the used position before the call (the base the front-end gave).
 * @new_idx: receives the used index read from guest memory.
 *
 * A front-end that lost the previous back-end (it crashed, GET_VRING_BASE never answered) may
 * send a SET_VRING_BASE that lags what the device already published. virtio 1.2 §2.7.8: only the
 * device writes used->idx, so it is the last position the driver saw completed; chains taken
 * after it were lost with the old back-end and are taken again (their buffers are still the
 * driver's). When the two differ, the used and avail positions are both set to used->idx. Not
 * done (return 0) for packed rings (they have no used index in memory: the base is taken as
 * given), while an inflight region has chains to resubmit (that region says exactly which
 * chains were in flight and keeps priority), or with chains popped and not yet pushed.
 *
 * Return: 1 resynchronised; 0 already in step or not applicable (*@old_idx == *@new_idx);
 * -EINVAL no ring addresses. Thread: ring owner, ring stopped.
 */
VH_API int vh_vq_sync_used_idx(struct vh_vq *vq, uint16_t *old_idx, uint16_t *new_idx);

/**
 * vh_vq_set_log() - log used-ring writes and written buffer bytes into @log.
 * @vq: the ring. @log: the dirty log (not owned; NULL stops logging).
 * @used_gpa: guest address of the split used ring (vhost-user log_guest_addr). Packed rings
 *            write used descriptors into the descriptor ring; its guest address is looked up in
 *            the memory table from the ring's host address (@used_gpa is the fallback).
 * Thread: ring owner.
 */
VH_API void vh_vq_set_log(struct vh_vq *vq, struct vh_dirty_log *log, uint64_t used_gpa);

/**
 * vh_vq_pop() - take the next available chain.
 * @vq: the ring. @elem: iov/max_iov set by the caller; the rest is filled in.
 *
 * virtio 1.2 §2.7.5/§2.8.6: readable descriptors come before writable ones. Chains longer than
 * the ring, loops, nested indirect tables, indirect tables whose length is not a multiple of 16,
 * INDIRECT together with NEXT, and addresses outside the memory table break the ring.
 * Zero-length descriptors are skipped.
 *
 * Return: 1 popped; 0 nothing available (when notifications are enabled the driver is also asked
 * to kick on the next buffer, then the ring is checked once more); -EAGAIN IOTLB miss (nothing
 * consumed; retry after the update); -ENOBUFS @max_iov too small (nothing consumed); -EPROTO the
 * ring is broken (sticky; logged once). Thread: ring owner. No syscall, no allocation.
 */
VH_API int vh_vq_pop(struct vh_vq *vq, struct vh_vq_elem *elem);

/**
 * vh_vq_push() - return a popped chain to the driver (not yet visible: see vh_vq_flush()).
 * @vq: the ring. @elem: the chain from vh_vq_pop() (its iovecs still valid).
 * @written: bytes written into the writable part (clamped to elem->in_len); with a dirty log
 *           attached those bytes and the used entry are marked dirty.
 * Return: 0; -EPROTO broken; -EINVAL more pushes than pops. Thread: ring owner.
 */
VH_API int vh_vq_push(struct vh_vq *vq, const struct vh_vq_elem *elem, uint32_t written);

/**
 * vh_vq_flush() - publish every pushed entry (split: used idx with a release store, virtio 1.2
 * §2.7.13.3; packed entries are already published by their flags).
 * @vq: the ring.
 * Thread: ring owner.
 */
VH_API void vh_vq_flush(struct vh_vq *vq);

/**
 * vh_vq_needs_notify() - after vh_vq_flush(): must the driver be notified (call eventfd)?
 * EVENT_IDX: virtio 1.2 §2.7.10 vring_need_event on used_event, §2.8.10 packed driver event
 * suppression; otherwise VRING_AVAIL_F_NO_INTERRUPT / the packed flags.
 * @vq: the ring.
 * Return: true to notify. Thread: ring owner.
 */
VH_API bool vh_vq_needs_notify(struct vh_vq *vq);

/**
 * vh_vq_set_notification() - ask the driver to kick (enable) or not (disable, polling).
 * Split: VRING_USED_F_NO_NOTIFY or avail_event; packed: device event suppression.
 * @vq: the ring. @enable: true to ask for kicks.
 * Return: on enable, 1 when buffers became available meanwhile (process them before sleeping),
 * else 0; -EPROTO broken. Thread: ring owner.
 */
VH_API int vh_vq_set_notification(struct vh_vq *vq, bool enable);

/**
 * vh_vq_inflight_size() - bytes of one queue's inflight region (vhost-user.rst "Inflight I/O
 * tracking": QueueRegionSplit + num DescStateSplit, or QueueRegionPacked + num DescStatePacked,
 * rounded up to 64).
 * @num: ring size. @packed: packed ring layout.
 * Return: the size, or 0 for a bad @num. Thread: any.
 */
VH_API size_t vh_vq_inflight_size(unsigned num, bool packed);

/**
 * vh_vq_inflight_packed_base() - where a packed ring stands according to its inflight region
 * (read only; for a frontend whose backend died before GET_VRING_BASE could answer).
 * @region: the queue's part of the inflight area (QueueRegionPacked + num DescStatePacked).
 * @size: bytes at @region. @num: ring size. @base: receives last_avail_idx | wrap << 15, the
 * position after the last completed chain and every chain still in flight (the same position a
 * backend restarting on the region resumes from, vh_vq_set_inflight()).
 * Return: 0; -ENOENT the region was never used (version 0); -EINVAL bad @size/@num;
 * -EPROTO the region is inconsistent. Thread: any (nobody may write the region meanwhile).
 */
VH_API int vh_vq_inflight_packed_base(const void *region, size_t size, unsigned num,
				      uint32_t *base);

/**
 * vh_vq_set_inflight() - track in-flight chains in @region (this queue's part of the
 * SET_INFLIGHT_FD area); pop, push and flush then keep it current.
 * @vq: the ring, addresses set (and vh_vq_set_base() done).
 * @region: vh_vq_inflight_size() bytes, 8-aligned, shared with the frontend; NULL stops tracking.
 * @size: bytes available at @region.
 *
 * A region whose version is 0 is fresh: it is initialised. Otherwise the backend restarted: an
 * interrupted update is finished or rolled back (split: a last batch published but not cleared;
 * packed: a push cut short), the ring position is set after the used and in-flight chains
 * (split: used idx + in-flight count; packed: the region's used slot + the in-flight chains'
 * descriptors), and the in-flight chains are returned first by vh_vq_pop(), in the order they
 * were popped (by counter). Packed chains are rebuilt from the region's descriptor copies.
 *
 * Return: number of chains to resubmit (0 for a fresh region); -EINVAL bad size or alignment or
 * no ring addresses; -EPROTO corrupt region (logged); -ENOMEM.
 * Thread: ring owner, ring stopped.
 */
VH_API int vh_vq_set_inflight(struct vh_vq *vq, void *region, size_t size);

/**
 * vh_vq_is_broken() - whether the ring saw a protocol violation (sticky until vh_vq_set_base()).
 * @vq: the ring.
 * Return: true when broken. Errors: none. Thread: ring owner.
 */
VH_API bool vh_vq_is_broken(const struct vh_vq *vq);

/**
 * vh_vq_num() - ring size.
 * @vq: the ring.
 * Return: the number of descriptors. Errors: none. Thread: any.
 */
VH_API unsigned vh_vq_num(const struct vh_vq *vq);

/* ------------------------------------------------------------------------------------------ */
/* Driver side                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/** struct vh_vq_driver_config - driver-side ring over a guest region (copied at create). */
struct vh_vq_driver_config {
	unsigned num;
	bool packed;
	bool event_idx;
	unsigned indirect_max; /* descriptors per indirect table; 0: no indirect */
	const char *name;
	struct vh_log_sink log;
	void *host;	       /* guest region: host address of @gpa */
	uint64_t gpa;	       /* guest address the device sees for @host */
	uint64_t size;	       /* region bytes */
	uint64_t ring_gpa;     /* ring start (vh_vq_layout() size bytes, 64-byte aligned) */
	uint64_t indirect_gpa; /* num * indirect_max * 16 bytes for indirect tables (16-aligned) */
};

/** struct vh_vq_ring_addrs - where the driver put its ring (hand these to the device). */
struct vh_vq_ring_addrs {
	struct vh_vq_addrs host; /* host addresses */
	uint64_t desc_gpa;
	uint64_t driver_gpa;
	uint64_t device_gpa;
};

/** struct vh_vq_buf - one buffer in guest addresses. */
struct vh_vq_buf {
	uint64_t gpa;
	uint32_t len;
};

/**
 * struct vh_vq_driver_req - a chain to add.
 * @bufs: @out_num device-readable buffers followed by @in_num device-writable ones.
 * @token: returned by vh_vq_driver_get_used() (must not be NULL).
 * @indirect: put the chain in an indirect table (needs indirect_max >= out_num + in_num).
 */
struct vh_vq_driver_req {
	const struct vh_vq_buf *bufs;
	unsigned out_num;
	unsigned in_num;
	void *token;
	bool indirect;
};

/**
 * vh_vq_driver_create() - lay out an empty ring (zeroed) in the guest region.
 * @cfg: configuration (copied). @out: receives the driver ring.
 * Return: 0; -EINVAL bad num, ring or indirect area outside the region or misaligned; -ENOMEM.
 * Thread: any.
 */
VH_API int vh_vq_driver_create(const struct vh_vq_driver_config *cfg, struct vh_vq_driver **out);

/**
 * vh_vq_driver_destroy() - free the driver state (the ring memory is the caller's); sets *@d
 * to NULL.
 * @d: the driver ring (NULL or *d NULL: no-op).
 * Thread: driver owner.
 */
VH_API void vh_vq_driver_destroy(struct vh_vq_driver **d);

/**
 * vh_vq_driver_ring_addrs() - host and guest addresses of the ring areas.
 * @d: the driver ring. @out: receives the addresses.
 * Thread: any.
 */
VH_API void vh_vq_driver_ring_addrs(const struct vh_vq_driver *d, struct vh_vq_ring_addrs *out);

/**
 * vh_vq_driver_add() - add one chain (split: visible after vh_vq_driver_publish() or
 * vh_vq_driver_kick_needed(); packed: visible at once).
 * @d: the driver ring. @req: the chain (buffers copied into descriptors).
 * Return: 0; -ENOSPC not enough free descriptors; -EINVAL empty chain, NULL token, bad indirect;
 * -EFAULT a buffer outside the region. Thread: driver owner.
 */
VH_API int vh_vq_driver_add(struct vh_vq_driver *d, const struct vh_vq_driver_req *req);

/**
 * vh_vq_driver_add_one() - vh_vq_driver_add() for a chain of one buffer (a network driver's
 * common case), without building a request.
 * @d: the driver ring. @gpa, @len: the buffer. @write: device-writable (else device-readable).
 * @token: returned by vh_vq_driver_get_used() (must not be NULL).
 * Return: as vh_vq_driver_add(). Thread: driver owner.
 */
VH_API int vh_vq_driver_add_one(struct vh_vq_driver *d, uint64_t gpa, uint32_t len, bool write,
				void *token);

/**
 * vh_vq_driver_publish() - make added split chains visible (avail idx, release store).
 * @d: the driver ring.
 * Thread: driver owner.
 */
VH_API void vh_vq_driver_publish(struct vh_vq_driver *d);

/**
 * vh_vq_driver_kick_needed() - publish, then decide whether to notify the device
 * (virtio 1.2 §2.7.10 avail_event / VRING_USED_F_NO_NOTIFY; §2.8.10 device event suppression).
 * @d: the driver ring.
 * Return: true to kick. Thread: driver owner.
 */
VH_API bool vh_vq_driver_kick_needed(struct vh_vq_driver *d);

/**
 * vh_vq_driver_get_used() - reap one completion.
 * @d: the driver. @token: receives the chain's token. @len: receives the written length.
 * Return: 1 reaped; 0 none; -EPROTO the device returned an unknown id or moved the used index too
 * far (sticky). Thread: driver owner.
 */
VH_API int vh_vq_driver_get_used(struct vh_vq_driver *d, void **token, uint32_t *len);

/**
 * vh_vq_driver_set_notification() - ask the device to notify on completions (enable) or not.
 * With EVENT_IDX, enable sets used_event / the packed event to the next completion.
 * @d: the driver ring. @enable: true to ask for notifications.
 * Return: on enable, 1 when completions are already pending (reap before sleeping), else 0.
 * Thread: driver owner.
 */
VH_API int vh_vq_driver_set_notification(struct vh_vq_driver *d, bool enable);

/**
 * vh_vq_driver_num_free() - free descriptors (split) / ring slots (packed).
 * @d: the driver ring.
 * Return: the count. Errors: none. Thread: driver owner.
 */
VH_API unsigned vh_vq_driver_num_free(const struct vh_vq_driver *d);

/**
 * vh_vq_driver_gpa() - guest address of @host inside the region.
 * @d: the driver ring. @host: a pointer into the region.
 * Return: the address, or UINT64_MAX when @host is outside the region. Thread: any.
 */
VH_API uint64_t vh_vq_driver_gpa(const struct vh_vq_driver *d, const void *host);

#endif
