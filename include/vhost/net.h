/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvhost driver/: vh_net, a userspace virtio-net driver (virtio 1.2 §5.1) on top of a vhost
 * backend: the kernel's vhost-net (with a tap as its backend), a vhost-user net backend, or a
 * vDPA net device.
 *
 * The process "plays the guest": vh_net_create() puts, per queue pair, one receive queue (ring
 * 2N) and one transmit queue (ring 2N + 1), a transmit buffer per TX descriptor and a receive
 * buffer per RX descriptor into one memfd ("guest memory" at guest address 0), hands it to the
 * backend through struct vh_dev, negotiates the features, keeps the receive rings filled and, for
 * /dev/vhost-net, attaches the caller's tap to both rings (VHOST_NET_SET_BACKEND).
 *
 * Every frame carries a struct virtio_net_hdr_mrg_rxbuf (12 bytes: VIRTIO_F_VERSION_1 is required,
 * virtio 1.2 §5.1.6). Frames are copied into the transmit buffers and out of the receive
 * buffer(s), gathering the buffers of a mergeable frame (VIRTIO_NET_F_MRG_RXBUF); the buffers are
 * the driver's and are recycled, nothing is allocated per frame.
 *
 * Two APIs over the same rings: vh_net_send()/vh_net_recv() move one frame on queue pair 0;
 * vh_net_tx_burst()/vh_net_rx_burst() move up to a burst of frames on any pair with one kick
 * decision and one used-ring pass per burst (as rte_eth_tx_burst/rte_eth_rx_burst), and carry
 * the offload requests and results of the virtio-net header (struct vh_net_pkt).
 *
 * Threads: a vh_net is not locked. Per queue pair, one thread at a time may call the transmit
 * side (vh_net_send, vh_net_tx_burst, vh_net_tx_reap) and one thread at a time the receive side
 * (vh_net_recv, vh_net_rx_burst); different pairs may run in different threads. vh_net_wait
 * touches both sides of pair 0 and the device (IOTLB misses) and must not run concurrently with
 * either. vh_net_create/destroy and the vh_dev calls on vh_net_dev() need every side idle.
 */
#ifndef VHOST_NET_H
#define VHOST_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_net.h>

#include <vhost/common.h>

struct vh_net;
struct vh_dev;

/* Ring numbers (virtio 1.2 §5.1.2: receiveq1 = 0, transmitq1 = 1; pair N: 2N and 2N + 1). */
#define VH_NET_RX 0u
#define VH_NET_TX 1u

/* Queue pairs a vh_net drives at most (struct vh_net_config.queue_pairs). */
#define VH_NET_MAX_PAIRS 16u

/* Header length on every ring: VIRTIO_F_VERSION_1 always carries num_buffers (§5.1.6). */
#define VH_NET_HDR_LEN ((uint32_t)sizeof(struct virtio_net_hdr_mrg_rxbuf))

/* struct vh_net_config.flags */
#define VH_NET_NO_MRG_RXBUF (1u << 0) /* do not negotiate VIRTIO_NET_F_MRG_RXBUF */
#define VH_NET_PACKED	    (1u << 1) /* require VIRTIO_F_RING_PACKED (-ENOTSUP if not offered) */
#define VH_NET_NO_EVENT_IDX (1u << 2) /* do not negotiate VIRTIO_RING_F_EVENT_IDX */
/*
 * Negotiate VIRTIO_F_ACCESS_PLATFORM (-ENOTSUP if not offered): ring and buffer addresses are I/O
 * virtual addresses; the backend's IOTLB misses are answered from vh_net_wait() (or the caller's
 * own vh_dev_dispatch() on vh_dev_event_fd()) with the identity map IOVA = guest address.
 */
#define VH_NET_IOMMU (1u << 3)
/*
 * Transmit headers as given, without the checks of virtio 1.2 §5.1.6.2.1 (offload requests the
 * negotiated features allow): for testing how a device treats a driver that breaks them.
 */
#define VH_NET_TX_UNCHECKED (1u << 4)

/**
 * struct vh_net_config - how to open the device (copied at create).
 * @path: backend, as struct vh_dev_config.path ("/dev/vhost-net", "unix:/run/net.sock",
 *        "/dev/vhost-vdpa-0").
 * @tap_fd: /dev/vhost-net only: the tap (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR) the kernel reads
 *          and writes; its vnet header size is set to VH_NET_HDR_LEN. Not owned; keep it open
 *          until vh_net_destroy(). -1 for other backends.
 * @queue_size: ring size, power of two (0: 256).
 * @rx_buf_size: bytes of one receive buffer, header included (0: 2048). Without
 *               VIRTIO_NET_F_MRG_RXBUF one buffer must hold a whole frame.
 * @tx_buf_size: bytes of one transmit buffer; the largest frame vh_net_send() accepts is this
 *               minus VH_NET_HDR_LEN (0: 2048).
 * @flags: VH_NET_*.
 * @features: virtio-net device bits the caller is willing to use (0: VIRTIO_NET_F_MAC |
 *            VIRTIO_NET_F_MTU | VIRTIO_NET_F_STATUS): those, and the offloads VIRTIO_NET_F_CSUM,
 *            HOST_TSO4/6, HOST_ECN, HOST_UFO (the device checksums / segments what the driver
 *            sends) and GUEST_CSUM, GUEST_TSO4/6, GUEST_ECN, GUEST_UFO (the device may hand over
 *            frames with partial checksums / larger than the MTU). Offloads whose prerequisite
 *            (virtio 1.2 §5.1.3.1: HOST_* needs CSUM, GUEST_* needs GUEST_CSUM) is not
 *            negotiated are dropped. MRG_RXBUF follows @flags; MQ follows @queue_pairs.
 * @timeout_ms: backend reply timeout (0: 5000).
 * @name: for log lines (NULL: "vh_net").
 * @log: log sink.
 * @queue_pairs: queue pairs to drive (0: 1; at most VH_NET_MAX_PAIRS). More than one needs a
 *               backend with that many rings (vhost-user GET_QUEUE_NUM, vDPA), -ENOTSUP
 *               otherwise; VIRTIO_NET_F_MQ is acknowledged when offered. The control queue is
 *               the frontend's in the vhost model (the backend never sees it), so every pair is
 *               used at once.
 */
struct vh_net_config {
	const char *path;
	int tap_fd;
	unsigned queue_size;
	uint32_t rx_buf_size;
	uint32_t tx_buf_size;
	unsigned flags;
	uint64_t features;
	int timeout_ms;
	const char *name;
	struct vh_log_sink log;
	unsigned queue_pairs;
};

/** struct vh_net_info - what was negotiated (fields of bits not negotiated are 0). */
struct vh_net_info {
	uint64_t features;	  /* negotiated virtio feature bits */
	uint64_t device_features; /* what the backend offered (raw) */
	bool mrg_rxbuf;
	bool event_idx;
	bool packed;
	bool iommu;
	uint8_t mac[6];	 /* VIRTIO_NET_F_MAC */
	uint16_t mtu;	 /* VIRTIO_NET_F_MTU */
	uint16_t status; /* VIRTIO_NET_F_STATUS: VIRTIO_NET_S_LINK_UP ... */
	unsigned queue_size;
	uint32_t rx_buf_size;
	uint32_t tx_buf_size;
	uint64_t mem_size; /* guest memory bytes, from guest physical address 0 */
	unsigned queue_pairs;
};

/**
 * struct vh_net_pkt - one frame of a burst (vh_net_tx_burst(), vh_net_rx_burst()).
 * @data: transmit: the Ethernet frame; receive: where its copy goes.
 * @len: transmit: frame bytes (1 .. tx_buf_size - VH_NET_HDR_LEN); receive: set to the frame's
 *       bytes (more than @cap: the copy was truncated).
 * @cap: receive: bytes at @data. Unused on transmit.
 * @nbufs: receive: receive buffers the frame took (1 without MRG_RXBUF).
 * @hdr: transmit: the offload request, virtio 1.2 §5.1.6.2 (all zero: none;
 *       VIRTIO_NET_HDR_F_NEEDS_CSUM with csum_start/csum_offset needs VIRTIO_NET_F_CSUM, a
 *       gso_type needs the matching HOST_* feature, NEEDS_CSUM and a gso_size); receive: the
 *       device's header (NEEDS_CSUM / DATA_VALID, gso_type and gso_size with GUEST_* offloads).
 * @buf: zero-copy: the receive buffer vh_net_rx_burst_zc() lent (0: none, @data is the
 *       caller's); vh_net_tx_burst_zc() and vh_net_rx_free() take it back and set it to 0.
 */
struct vh_net_pkt {
	void *data;
	uint32_t len;
	uint32_t cap;
	uint16_t nbufs;
	struct virtio_net_hdr hdr;
	uint32_t buf;
};

/* Buffers of one received frame whose guest addresses vh_net_recv() reports (dirty-log checks). */
#define VH_NET_RX_INFO_BUFS 8u

/**
 * struct vh_net_rx_info - what came with a received frame.
 * @hdr: the frame's virtio-net header (num_buffers as the device wrote it; 1 without MRG_RXBUF).
 * @len: frame bytes after the header (more than the caller's buffer: the copy was truncated).
 * @nbufs: receive buffers the frame took.
 * @buf_gpa, @buf_len: guest address and used length of the first VH_NET_RX_INFO_BUFS of them.
 */
struct vh_net_rx_info {
	struct virtio_net_hdr_mrg_rxbuf hdr;
	uint32_t len;
	unsigned nbufs;
	uint64_t buf_gpa[VH_NET_RX_INFO_BUFS];
	uint32_t buf_len[VH_NET_RX_INFO_BUFS];
};

/** struct vh_net_stats - counters since create. */
struct vh_net_stats {
	uint64_t tx_frames;
	uint64_t tx_bytes; /* frame bytes, headers excluded */
	uint64_t tx_completed;
	uint64_t rx_frames;
	uint64_t rx_bytes;
	uint64_t rx_merged;    /* frames that took more than one buffer */
	uint64_t rx_truncated; /* frames longer than the caller's buffer */
	uint64_t kicks;
	uint64_t iotlb_misses; /* answered by the identity map (VH_NET_IOMMU) */
};

/* vh_net_wait() @what */
#define VH_NET_WAIT_RX (1u << 0) /* a received frame is ready for vh_net_recv() */
#define VH_NET_WAIT_TX (1u << 1) /* every transmitted frame has been completed */

/**
 * vh_net_create() - open a virtio-net backend, set up guest memory and both rings, start them.
 * @cfg: configuration (copied).
 * @out: receives the driver.
 *
 * Return: 0; -EINVAL bad configuration (queue size, buffer sizes, missing tap for
 * /dev/vhost-net); -ENOTSUP the backend lacks VIRTIO_F_VERSION_1, or a feature @flags require;
 * -ENOMEM; -errno from the backend. Thread: any.
 */
VH_API int vh_net_create(const struct vh_net_config *cfg, struct vh_net **out);

/**
 * vh_net_destroy() - detach the tap, stop the device, free everything; sets *@net to NULL.
 * @net: the driver (NULL or *net NULL: no-op).
 * Thread: any, with no other call on the driver running.
 */
VH_API void vh_net_destroy(struct vh_net **net);

/**
 * vh_net_get_info() - copy the negotiated parameters into @info.
 * @net: the driver. @info: receives the parameters.
 * Thread: any.
 */
VH_API void vh_net_get_info(const struct vh_net *net, struct vh_net_info *info);

/**
 * vh_net_get_stats() - copy the counters into @st.
 * @net: the driver. @st: receives the counters.
 * Thread: any (values read while the other sides run may be torn).
 */
VH_API void vh_net_get_stats(const struct vh_net *net, struct vh_net_stats *st);

/**
 * vh_net_dev() - the underlying device (dirty log, busyloop timeout, ...).
 * @net: the driver.
 * Return: the device, owned by @net. Errors: none. Thread: any.
 */
VH_API struct vh_dev *vh_net_dev(struct vh_net *net);

/**
 * vh_net_send() - copy one frame with its header into a transmit buffer and kick the device.
 * @net: the driver.
 * @frame: the Ethernet frame (destination MAC first). @len: its bytes (1 .. tx_buf_size - 12).
 * @hdr: the header to send (NULL: all zero, no offloads; num_buffers is always sent as 0, §5.1.6.2).
 *
 * Completed transmissions are reaped first, so a caller that only sends never runs dry.
 * Return: 0; -EAGAIN every transmit buffer is in flight; -EMSGSIZE @len too large or 0;
 * -EPROTO the device corrupted the ring. Thread: the transmit side.
 */
VH_API int vh_net_send(struct vh_net *net, const void *frame, size_t len,
		       const struct virtio_net_hdr *hdr);

/**
 * vh_net_tx_reap() - take completed transmissions off the used ring without blocking.
 * @net: the driver.
 * Return: number reaped; -EPROTO. Thread: the transmit side.
 */
VH_API int vh_net_tx_reap(struct vh_net *net);

/**
 * vh_net_tx_inflight() - frames sent and not yet completed by the device.
 * @net: the driver.
 * Return: the count. Errors: none. Thread: the transmit side.
 */
VH_API unsigned vh_net_tx_inflight(const struct vh_net *net);

/**
 * vh_net_recv() - take one received frame, copy it out, give its buffers back to the device.
 * @net: the driver.
 * @buf, @len: where the frame (without header) goes; a longer frame is truncated (@info->len
 *             says how long it was).
 * @info: receives the header and buffer details (may be NULL).
 *
 * virtio 1.2 §5.1.6.4: with MRG_RXBUF the first buffer's header says how many used buffers the
 * frame spans. A device that reports fewer bytes than a header, num_buffers 0 or more buffers
 * than the ring holds breaks the queue (-EPROTO, sticky).
 *
 * Return: 1 a frame was received; 0 none ready; -EPROTO. Thread: the receive side.
 */
VH_API int vh_net_recv(struct vh_net *net, void *buf, size_t len, struct vh_net_rx_info *info);

/**
 * vh_net_tx_burst() - copy up to @n frames into transmit buffers of queue pair @qp, then make
 * them available with one index update and at most one kick (none when the device suppresses
 * notifications, virtio 1.2 §2.7.10).
 * @net: the driver. @qp: queue pair (0 .. queue_pairs - 1).
 * @pkts: the frames with their offload requests (@pkts[i].hdr). @n: how many.
 *
 * Completed transmissions are reaped first (one pass over the used ring). Sending stops at the
 * first frame that does not fit (every buffer in flight) or is invalid.
 * Return: frames queued (0 .. @n; fewer: the ring is full or @pkts[return] is invalid); when
 * @pkts[0] itself is invalid: -EMSGSIZE bad length, -EINVAL an offload request the negotiated
 * features do not allow (§5.1.6.2.1) or a bad @qp; -EPROTO the device corrupted the ring.
 * Thread: the transmit side of @qp.
 */
VH_API int vh_net_tx_burst(struct vh_net *net, unsigned qp, const struct vh_net_pkt *pkts,
			   unsigned n);

/**
 * vh_net_rx_burst() - take up to @n received frames of queue pair @qp, copy them out, give their
 * buffers back with one index update and at most one kick.
 * @net: the driver. @qp: queue pair.
 * @pkts: @data/@cap say where each frame goes; @len, @nbufs and @hdr are filled in. @n: how many.
 *
 * The checks of vh_net_recv() apply (-EPROTO, sticky).
 * Return: frames received (0 .. @n); -EINVAL bad @qp; -EPROTO. Thread: the receive side of @qp.
 */
VH_API int vh_net_rx_burst(struct vh_net *net, unsigned qp, struct vh_net_pkt *pkts, unsigned n);

/**
 * vh_net_rx_burst_zc() - vh_net_rx_burst() without the copy: take up to @n received frames of
 * queue pair @qp and lend their receive buffers (as rte_eth_rx_burst hands out mbufs).
 * @net: the driver. @qp: queue pair.
 * @pkts: per frame, @data is set to the frame inside its receive buffer, @cap to the bytes from
 *        there to the buffer's end, @len, @nbufs (1) and @hdr as vh_net_rx_burst() sets them,
 *        and @buf to the buffer's handle. A frame that spans several buffers (MRG_RXBUF) is
 *        copied into @data/@cap as vh_net_rx_burst() does, with @buf 0 (so @data/@cap should
 *        name the caller's memory on entry; a @data inside the rings' memory gets no copy, only
 *        @len). @n: how many.
 *
 * A lent buffer stays the caller's (its frame may be changed in place) until vh_net_rx_free()
 * gives it back, or vh_net_tx_burst_zc() transmits it as it is (it returns to the receive ring
 * when the device has sent it). The device gets no other buffer meanwhile: a caller that keeps
 * many starves the ring.
 * Return: frames received (0 .. @n); -EINVAL bad @qp; -EPROTO. Thread: both sides of @qp (a
 * buffer sent on comes back through the transmit ring's completions).
 */
VH_API int vh_net_rx_burst_zc(struct vh_net *net, unsigned qp, struct vh_net_pkt *pkts, unsigned n);

/**
 * vh_net_rx_free() - give the receive buffers lent by vh_net_rx_burst_zc() back to the device
 * (one index update, at most one kick).
 * @net: the driver. @qp: the queue pair that lent them.
 * @pkts: the frames; those with @buf 0 are skipped, the others get @buf 0. @n: how many.
 * Return: buffers given back; -EINVAL a @buf that is not lent (the ones before it were given
 * back); -EPROTO. Thread: the receive side of @qp.
 */
VH_API int vh_net_rx_free(struct vh_net *net, unsigned qp, struct vh_net_pkt *pkts, unsigned n);

/**
 * vh_net_tx_burst_zc() - vh_net_tx_burst() that sends lent receive buffers as they are.
 * @net: the driver. @qp: the queue pair whose vh_net_rx_burst_zc() lent them.
 * @pkts: the frames. One with @buf set goes out from its receive buffer without a copy: @data
 *        (moved or not) must leave VH_NET_HDR_LEN bytes of the buffer in front of it for the
 *        header, and @data + @len must stay inside the buffer (-EMSGSIZE); @buf is set to 0
 *        once it is queued (the buffer returns to the receive ring when its transmission
 *        completes). One with @buf 0 is copied as vh_net_tx_burst() copies it. @n: how many.
 *
 * Return: as vh_net_tx_burst(); frames not queued keep their @buf (vh_net_rx_free() them, or
 * send them again); -EINVAL also for a @buf that is not lent. Thread: both sides of @qp.
 */
VH_API int vh_net_tx_burst_zc(struct vh_net *net, unsigned qp, struct vh_net_pkt *pkts, unsigned n);

/**
 * vh_net_tx_reap_qp() - vh_net_tx_reap() for queue pair @qp.
 * @net: the driver. @qp: queue pair.
 * Return: number reaped; -EINVAL bad @qp; -EPROTO. Thread: the transmit side of @qp.
 */
VH_API int vh_net_tx_reap_qp(struct vh_net *net, unsigned qp);

/**
 * vh_net_tx_inflight_qp() - frames sent on queue pair @qp and not yet completed.
 * @net: the driver. @qp: queue pair.
 * Return: the count (0 for a bad @qp). Thread: the transmit side of @qp.
 */
VH_API unsigned vh_net_tx_inflight_qp(const struct vh_net *net, unsigned qp);

/**
 * vh_net_wait() - block until what @what asks for is ready or @timeout_ms passes, answering the
 * backend's IOTLB misses and other messages (vh_dev_dispatch()) meanwhile.
 * @net: the driver.
 * @what: VH_NET_WAIT_RX and/or VH_NET_WAIT_TX (either one satisfies the wait).
 * @timeout_ms: -1 forever, 0 just check.
 * Return: 1 ready; 0 timeout; -EPROTO; -errno from poll() or the device. Thread: both sides idle.
 */
VH_API int vh_net_wait(struct vh_net *net, unsigned what, int timeout_ms);

/**
 * vh_net_call_fd() - eventfd the device signals for ring @queue (VH_NET_RX / VH_NET_TX, or
 * 2N / 2N + 1 for pair N), for the caller's event loop (read 8 bytes, then vh_net_recv() /
 * vh_net_rx_burst() / vh_net_tx_reap()).
 * @net: the driver. @queue: the ring.
 * Return: the fd (owned by @net), -1 if none or a bad @queue. Thread: any.
 */
VH_API int vh_net_call_fd(const struct vh_net *net, unsigned queue);

/**
 * vh_net_gpa() - guest address of @host inside guest memory.
 * @net: the driver. @host: a pointer into the driver's guest memory.
 * Return: the address, or UINT64_MAX when @host is not guest memory. Thread: any.
 */
VH_API uint64_t vh_net_gpa(const struct vh_net *net, const void *host);

/**
 * vh_net_queue_gpa() - guest addresses of @queue's descriptor, driver and device areas (the
 * device area is what the backend writes: the split used ring).
 * @net: the driver. @queue: the ring (VH_NET_RX, VH_NET_TX, 2N / 2N + 1 for pair N).
 * @desc: receives the descriptor area GPA. @driver: the driver area. @device: the device area.
 * Return: 0, -EINVAL bad queue. Thread: any.
 */
VH_API int vh_net_queue_gpa(const struct vh_net *net, unsigned queue, uint64_t *desc,
			    uint64_t *driver, uint64_t *device);

/**
 * vh_net_feature_name() - "VIRTIO_NET_F_MRG_RXBUF" style name of a device feature bit.
 * @bit: the bit.
 * Return: a static string, or NULL for unknown bits. Thread: any.
 */
VH_API const char *vh_net_feature_name(unsigned bit);

#endif
