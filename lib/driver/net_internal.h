/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to driver/: struct vh_net, and a way to build one over caller memory without a vh_dev
 * (no kicks, no call fds) so the unit tests can serve its rings with an in-process device.
 */
#ifndef VH_NET_INTERNAL_H
#define VH_NET_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <vhost/net.h>
#include <vhost/vq.h>

/*
 * Guest memory (offsets from its start):
 *   [rx ring][tx ring] (64-aligned) | tx buffers: num * tx_buf_size | rx buffers: num * rx_buf_size
 */
struct net_layout {
	uint64_t ring_off[2];
	uint64_t buf_off[2];
	uint64_t size; /* multiple of 4096 */
};

struct net_ring {
	struct vh_vq_driver *vq;
	int kick_fd; /* -1: never kick (in-process device) */
	int call_fd; /* -1: none */
	uint64_t buf_off;
	uint32_t buf_size;
};

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
	struct net_layout layout;
	struct net_ring q[2]; /* VH_NET_RX, VH_NET_TX */
	uint16_t *tx_free;    /* stack of free transmit buffer numbers */
	unsigned tx_nfree;
	/* Buffers of a mergeable frame seen so far (the device may publish them one by one). */
	uint16_t *rx_pend;
	uint32_t *rx_pend_len;
	unsigned rx_pend_n;
	unsigned rx_pend_want;
	bool broken;
	bool backend_set;
};

/* Memory for net_local_create(): @size bytes at @host, seen by the device at @gpa. */
struct net_local_mem {
	void *host;
	uint64_t gpa;
	uint64_t size;
};

int net_layout(unsigned num, bool packed, uint32_t rx_buf, uint32_t tx_buf, struct net_layout *l);

/*
 * A vh_net over @mem (at least net_layout().size bytes) with @features already negotiated (only
 * VIRTIO_NET_F_MRG_RXBUF, EVENT_IDX and RING_PACKED matter). The receive ring is filled.
 */
int net_local_create(const struct vh_net_config *cfg, uint64_t features,
		     const struct net_local_mem *mem, struct vh_net **out);

#endif
