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
#include <sys/uio.h>

#include <linux/virtio_net.h>

#include <vhost/backend.h>

#define VHNET_NAME "vh-net"
/* virtio 1.2 §5.1.6: with VIRTIO_F_VERSION_1 (or MRG_RXBUF) every buffer starts with this. */
#define VHNET_HDR_LEN ((uint32_t)sizeof(struct virtio_net_hdr_mrg_rxbuf))
/* Ethernet header (14) + one VLAN tag (4), as the guest's receive buffers assume. */
#define VHNET_ETH_OVERHEAD 18u
#define VHNET_ETH_MIN	   14u
#define VHNET_MAX_MTU	   65535u
/* Receive buffers held at once (mergeable: enough for one maximum frame) and iovecs each. */
#define VHNET_RX_HELD 64u
#define VHNET_RX_IOV  32u
/* Transmit chain iovecs: a ring of 32768 entries can still not exceed writev's UIO_MAXIOV. */
#define VHNET_TX_IOV 1024u
/* Frames moved per tap wake-up before other fds get their turn. */
#define VHNET_RX_BUDGET 256u

#define VHNET_MIN(a, b) ((a) < (b) ? (a) : (b))

/* Queue pairs: the rings of a connection are limited to VH_SERVER_MAX_QUEUES. */
#define VHNET_MAX_PAIRS (VH_SERVER_MAX_QUEUES / 2)

/** struct vhnet_options - the command line. */
struct vhnet_options {
	const char *socket_path;
	int listen_fd;
	const char *tap;
	bool loopback;
	uint8_t mac[6];
	unsigned mtu;
	unsigned queue_pairs;
	unsigned queue_size;
	bool no_mrg;
	bool verbose;
};

/** struct vhnet_stats - counters, printed at exit. */
struct vhnet_stats {
	uint64_t tx_frames, tx_bytes, tx_dropped, tx_bad;
	uint64_t rx_frames, rx_bytes, rx_dropped, rx_bad_bufs, rx_paused;
};

/** struct vhnet_pair - one receive / transmit queue pair of the connection. */
struct vhnet_pair {
	struct vhnet *dev;
	int tap_fd; /* this pair's tap queue; -1 in loopback mode */
	struct vh_queue *rxq, *txq;
	/* receive buffers popped, not yet used: a FIFO of slots, each with its own iovecs */
	struct vh_vq_elem held[VHNET_RX_HELD];
	struct iovec held_iov[VHNET_RX_HELD][VHNET_RX_IOV];
	unsigned head, nheld;
	bool watched;	/* the tap is in the dispatch loop */
	bool rx_broken; /* the receive ring or the tap failed: no reads until the next start */
	struct iovec rx_iov[VHNET_TX_IOV]; /* one frame's receive iovecs (readv / copy) */
	/* the transmit chain being handled; loopback: pending while receive buffers lack */
	struct vh_vq_elem tx;
	struct iovec tx_iov[VHNET_TX_IOV];
	uint64_t tx_len; /* frame bytes after the header */
	bool tx_pending;
	uint64_t tx_frames, rx_frames; /* this pair's share of vhnet_stats */
};

/** struct vhnet - the device. */
struct vhnet {
	struct vhnet_options opt;
	struct vh_log_sink log;
	struct vh_server *srv;
	unsigned frame_max;		 /* header + largest frame the tap may hand us */
	uint64_t features;		 /* offered device bits */
	bool mrg;			 /* VIRTIO_NET_F_MRG_RXBUF negotiated */
	struct virtio_net_config config; /* little endian, as the driver reads it */
	struct vhnet_stats st;
	uint8_t *bounce;	  /* loopback: frame_max bytes, one frame on its way back */
	struct vhnet_pair *pairs; /* opt.queue_pairs of them */
};

/* main.c */
void vhnet_log(const struct vhnet *d, enum vh_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* options.c */
int vhnet_parse_options(int argc, char **argv, struct vhnet_options *o);

/* tap.c */
int vhnet_tap_open(struct vhnet *d);
void vhnet_tap_close(struct vhnet *d);

/* datapath.c */
extern const struct vh_device_ops vhnet_ops;
int vhnet_config_init(struct vhnet *d);
void vhnet_pairs_free(struct vhnet *d);

/* iov.c */
size_t vhnet_iov_copy_out(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len);
size_t vhnet_iov_copy_in(const struct iovec *iov, unsigned n, size_t off, const void *buf,
			 size_t len);

#endif
