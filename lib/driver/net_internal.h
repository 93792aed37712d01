/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to driver/: struct vh_net, and a way to build one over caller memory without a vh_dev
 * (no kicks, no call fds) so the unit tests and the single-core bench can serve its rings with an
 * in-process device.
 */
#ifndef VH_NET_INTERNAL_H
#define VH_NET_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <vhost/net.h>
#include <vhost/vq.h>

/*
 * Guest memory of one queue pair (offsets from the pair's start; pair p starts at p * size):
 *   [rx ring][tx ring] (64-aligned) | tx buffers: num * tx_buf_size | rx buffers: num * rx_buf_size
 */
struct net_layout {
	uint64_t ring_off[2];
	uint64_t buf_off[2];
	uint64_t size; /* multiple of 4096 */
};

struct net_ring {
	struct vh_vq_driver *vq;
	int kick_fd;  /* -1: never kick (in-process device) */
	int call_fd;  /* -1: none */
	uint8_t *buf; /* host address of buffer 0 */
	uint64_t buf_gpa;
	uint32_t buf_size;
};

/* One receive queue and one transmit queue (virtio 1.2 §5.1.2: rings 2N and 2N + 1). */
struct net_pair {
	struct net_ring q[2]; /* VH_NET_RX, VH_NET_TX */
	uint16_t *tx_free;    /* stack of free transmit buffer numbers */
	unsigned tx_nfree;
	/* Buffers of a mergeable frame seen so far (the device may publish them one by one). */
	uint16_t *rx_pend;
	uint32_t *rx_pend_len;
	unsigned rx_pend_n;
	unsigned rx_pend_want;
	/* Zero-copy (vh_net_rx_burst_zc): where each receive buffer is (NET_RX_*), and how many
	 * received buffers the transmit ring holds (vh_net_tx_burst_zc). */
	uint8_t *rx_state;
	unsigned tx_zc;
};

/* net_pair.rx_state: the device's (on the ring), the caller's, or on the transmit ring. */
#define NET_RX_RING   0
#define NET_RX_CALLER 1
#define NET_RX_TX     2

/* Transmit ring tokens: buffer number + 1, NET_TOK_RX set for a receive buffer sent as it is. */
#define NET_TOK_RX (1u << 20)

struct vh_net {
	struct vh_net_config cfg;
	char name[64];
	struct vh_dev *dev;
	struct vh_net_info info;
	struct vh_net_stats st;
	uint8_t *mem;
	uint64_t mem_gpa; /* guest address of mem[0] */
	int mem_fd;
	bool own_mem;
	bool broken;
	bool backend_set;
	uint16_t tx_hdr_ok; /* VH_NET_TXO_*: offload requests the negotiated features allow */
	struct net_layout layout;
	struct net_pair *pairs; /* cfg.queue_pairs of them */
};

/* vh_net.tx_hdr_ok */
#define NET_TXO_CSUM (1u << 0)
#define NET_TXO_TSO4 (1u << 1)
#define NET_TXO_TSO6 (1u << 2)
#define NET_TXO_UFO  (1u << 3)
#define NET_TXO_ECN  (1u << 4)

/* Memory for net_local_create(): @size bytes at @host, seen by the device at @gpa. */
struct net_local_mem {
	void *host;
	uint64_t gpa;
	uint64_t size;
};

int net_layout(unsigned num, bool packed, uint32_t rx_buf, uint32_t tx_buf, struct net_layout *l);

/*
 * A vh_net over @mem (at least cfg->queue_pairs (0: 1) times net_layout().size bytes) with
 * @features already negotiated (VIRTIO_NET_F_MRG_RXBUF, EVENT_IDX, RING_PACKED and the offload
 * bits matter). The receive rings are filled.
 */
int net_local_create(const struct vh_net_config *cfg, uint64_t features,
		     const struct net_local_mem *mem, struct vh_net **out);

/* net.c for net_io.c */
int net_fail(struct vh_net *n, const char *req, const char *what);
void net_kick(struct vh_net *n, struct net_ring *r);

/* Give receive buffer @i back to the device (visible at the next publish). */
static inline int net_rx_add(struct net_ring *r, unsigned i)
{
	return vh_vq_driver_add_one(r->vq, r->buf_gpa + (uint64_t)i * r->buf_size, r->buf_size,
				    true, (void *)(uintptr_t)(i + 1));
}

#endif
