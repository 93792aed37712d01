/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vh-net: a vhost-user-net back-end daemon on the public libvhost backend API
 * (include/vhost/backend.h). Private header shared by the daemon's files.
 *
 * Objects:
 *   struct vhnet      - the device: options, the tap (or loopback), the config space, counters.
 *   struct vhnet_pair - receive queue (ring 2i) and transmit queue (ring 2i + 1) i of the
 *                       connection and its tap queue (IFF_MULTI_QUEUE with several pairs),
 *                       with the receive buffers popped and not yet used ("held")
 *                       and, in loopback mode, a transmitted chain waiting for receive buffers.
 *
 * Threads: everything runs on the dispatch thread (event datapath): queue_kick of both rings
 * and the tap watch. That is what lets the tap callback pop and push the receive ring
 * (backend.h: "event mode only - any other callback this server runs on the dispatch thread").
 */
#ifndef VHNET_H
#define VHNET_H

#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/uio.h>

#include <linux/virtio_net.h>

#include <vhost/backend.h>
#include <vhost/program.h>

#define VHNET_NAME "vh-net"

/* UDP segmentation offload (virtio 1.2 §5.1.3, Linux 6.2 uapi): older system headers lack it. */
#ifndef VIRTIO_NET_F_GUEST_USO4
#define VIRTIO_NET_F_GUEST_USO4 54
#define VIRTIO_NET_F_GUEST_USO6 55
#define VIRTIO_NET_F_HOST_USO	56
#endif
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif
/* virtio 1.2 §5.1.6: with VIRTIO_F_VERSION_1 (or MRG_RXBUF) every buffer starts with this. */
#define VHNET_HDR_LEN ((uint32_t)sizeof(struct virtio_net_hdr_mrg_rxbuf))
/* Ethernet header (14) + one VLAN tag (4), as the guest's receive buffers assume. */
#define VHNET_ETH_OVERHEAD 18u
#define VHNET_ETH_MIN	   14u
#define VHNET_MAX_MTU	   65535u
/* A GSO frame (TSO / UFO / USO) on either side: 64 KiB of IP packet plus Ethernet and VLAN. */
#define VHNET_GSO_MAX (VHNET_ETH_OVERHEAD + 65535u)
/* Receive buffers held at once (mergeable: enough for one maximum frame) and iovecs each. */
#define VHNET_RX_HELD 64u
#define VHNET_RX_IOV  32u
/* Transmit chain iovecs: a ring of 32768 entries can still not exceed writev's UIO_MAXIOV. */
#define VHNET_TX_IOV 1024u
/* Frames moved per tap wake-up before other fds get their turn. */
#define VHNET_RX_BUDGET 256u

#define VHNET_MIN(a, b) ((a) < (b) ? (a) : (b))

/* Queue pairs: the rings of a connection are limited to VH_SERVER_MAX_QUEUES. */
#define VHNET_MAX_PAIRS	    (VH_SERVER_MAX_QUEUES / 2)
#define VHNET_MAX_PAIRS_NUM 32 /* the same, for --help text */
_Static_assert(VHNET_MAX_PAIRS == VHNET_MAX_PAIRS_NUM, "--help text");

/** struct vhnet_options - the command line. */
struct vhnet_options {
	const char *tap;
	bool loopback;
	uint8_t mac[6];
	unsigned mtu;
	unsigned queue_pairs;
	unsigned queue_size;
	bool no_mrg;
	bool no_offloads;
	bool no_ctrl;
	bool poll;
	unsigned poll_threads;
	unsigned poll_us; /* event mode poll window (vh_server_config.event_poll_us) */
};

/**
 * struct vhnet_stats - counters, printed at exit. Each pair counts its frames in its own (one
 * writer per pair, also in poll mode), the control queue its commands in the device's; the exit
 * line sums them.
 */
struct vhnet_stats {
	uint64_t tx_frames, tx_bytes, tx_dropped, tx_bad;
	uint64_t rx_frames, rx_bytes, rx_dropped, rx_bad_bufs, rx_paused, rx_filtered;
	uint64_t ctrl_ok, ctrl_err;
	uint64_t tx_gso, rx_gso; /* frames with a gso_type (segmentation offload in use) */
};

/* VIRTIO_NET_F_CTRL_RX MAC table entries (unicast + multicast); more: "accept all" of a kind. */
#define VHNET_MAC_TABLE 64u

/*
 * struct vhnet_filter - the receive filter the control queue sets (virtio 1.2 §5.1.6.5.1,
 * §5.1.6.5.2, §5.1.6.5.3). The control queue writes d->filter under d->filter_lock and bumps
 * d->filter_gen; each pair copies it into its own (p->filter) when the generation changed, so
 * the receive path reads a private copy without a lock, in event and in poll mode.
 */
struct vhnet_filter {
	bool promisc, allmulti, alluni, nomulti, nouni, nobcast;
	bool uni_overflow, multi_overflow;
	bool vlan_on; /* VIRTIO_NET_F_CTRL_VLAN negotiated: tagged frames need their VID */
	uint8_t mac[6];
	unsigned n_uni, n_multi;
	uint8_t table[VHNET_MAC_TABLE][6]; /* n_uni unicast, then n_multi multicast */
	uint32_t vlans[4096 / 32];
};

/** struct vhnet_pair - one receive / transmit queue pair of the connection. */
struct vhnet_pair {
	struct vhnet *dev;
	int tap_fd;	   /* this pair's tap queue; -1 in loopback mode */
	bool tap_detached; /* TUNSETQUEUE IFF_DETACH_QUEUE: beyond VQ_PAIRS_SET */
	struct vh_queue *rxq, *txq;
	/* receive buffers popped, not yet used: a FIFO of slots, each with its own iovecs */
	struct vh_vq_elem held[VHNET_RX_HELD];
	struct iovec held_iov[VHNET_RX_HELD][VHNET_RX_IOV];
	unsigned head, nheld;
	bool watched;	/* the tap is in the dispatch loop */
	bool starved;	/* the last tap read found too few receive buffers */
	bool rx_broken; /* the receive ring or the tap failed: no reads until the next start */
	struct iovec rx_iov[VHNET_TX_IOV]; /* one frame's receive iovecs (readv / copy) */
	/* the transmit chain being handled; loopback: pending while receive buffers lack */
	struct vh_vq_elem tx;
	struct iovec tx_iov[VHNET_TX_IOV];
	uint64_t tx_len; /* frame bytes after the header */
	/* its header as tx_check() read and checked it: what the loopback uses (a second read of
	 * guest memory could see other offsets than the ones checked) */
	struct virtio_net_hdr tx_hdr;
	bool tx_pending;
	uint64_t tx_frames, rx_frames; /* kept with st for the per-pair exit line */
	struct vhnet_stats st;
	struct vhnet_filter filter; /* private copy of dev->filter */
	unsigned filter_gen;
	bool filter_all; /* the copy accepts everything: skip the per-frame check */
	uint8_t *bounce; /* loopback: one whole frame on its way back (software checksum) */
};

/** struct vhnet - the device. */
struct vhnet {
	struct vhnet_options opt;
	struct vh_program *prog; /* command line, log, signals (include/vhost/program.h) */
	struct vh_server *srv;
	unsigned frame_max;	     /* header + largest frame the tap may hand us */
	uint64_t features;	     /* offered device bits */
	uint64_t acked;		     /* negotiated bits (SET_FEATURES) */
	bool mrg;		     /* VIRTIO_NET_F_MRG_RXBUF negotiated */
	uint32_t tap_offloads;	     /* TUN_F_* the tap accepts (probed at open) */
	uint64_t rx_max, tx_max;     /* header + largest frame per direction (GSO) */
	unsigned ctrl_index;	     /* control queue ring (2 or 2 * pairs), or ~0u */
	unsigned active_pairs;	     /* VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET */
	pthread_mutex_t filter_lock; /* guards filter and config.mac / config.status */
	struct vhnet_filter filter;
	unsigned filter_gen;		 /* atomic: bumped under filter_lock after each change */
	struct virtio_net_config config; /* little endian, as the driver reads it */
	struct vhnet_stats st;
	struct vhnet_pair *pairs; /* opt.queue_pairs of them */
};

/* main.c (fuzz/ provides its own) */
void vhnet_log(const struct vhnet *d, enum vh_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* options.c */
void vhnet_options_init(struct vhnet_options *o, struct vh_program_config *pc);

/* tap.c */
int vhnet_tap_open(struct vhnet *d);
void vhnet_tap_close(struct vhnet *d);

/* datapath.c */
extern const struct vh_device_ops vhnet_ops;
void vhnet_rx_tap_changed(struct vhnet_pair *p);
int vhnet_config_init(struct vhnet *d);
void vhnet_pairs_free(struct vhnet *d);

/* offload.c */
uint64_t vhnet_offload_features(const struct vhnet *d);
int vhnet_offload_check(const struct vhnet *d, uint64_t features);
uint32_t vhnet_tap_offload_flags(uint64_t features);
const char *vhnet_tx_hdr_check(const struct vhnet *d, const struct virtio_net_hdr *h, uint64_t len);
void vhnet_rx_hdr(const struct vhnet *d, const struct virtio_net_hdr *in,
		  struct virtio_net_hdr *out);
int vhnet_loop_hdr(const struct vhnet *d, struct virtio_net_hdr *h, uint8_t *frame, uint64_t len);

/* tap.c */
int vhnet_tap_set_offload(struct vhnet *d, uint32_t flags);
int vhnet_tap_set_queues(struct vhnet *d, unsigned active);

/* ctrl.c */
void vhnet_filter_reset(struct vhnet *d, uint64_t features);
bool vhnet_rx_accept(struct vhnet_pair *p, const uint8_t *frame, size_t len);
int vhnet_ctrl_kick(struct vhnet *d, struct vh_queue *q);

/* iov.c */
size_t vhnet_iov_copy_out(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len);
size_t vhnet_iov_copy_in(const struct iovec *iov, unsigned n, size_t off, const void *buf,
			 size_t len);
size_t vhnet_iov_copy(const struct iovec *dst, unsigned dn, size_t doff, const struct iovec *src,
		      unsigned sn, size_t soff, size_t len);

#endif
