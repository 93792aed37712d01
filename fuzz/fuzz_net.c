// SPDX-License-Identifier: BSD-3-Clause
/*
 * vh-net's datapath and control queue (devices/vh-net minus main.c, compiled into this harness)
 * in loopback mode behind a real vh_server connection: transmitted virtio-net headers (offload
 * requests included: loopback offers every offload) and frames (virtio 1.2 §5.1.6.2) echoed
 * into receive buffers, mergeable (§5.1.6.3: num_buffers over several chains) or not, and
 * control commands (§5.1.6.5), all from rings the guest got wrong.
 *
 * Input: byte 0 selects the rings (bit 0 packed, bit 1 INDIRECT_DESC, bit 2 EVENT_IDX), bit 3
 * acks MRG_RXBUF, bit 4 stops the receive ring while a frame may wait for buffers, bits 5-7 the
 * ring size (2^n); byte 1 is SET_VRING_BASE's low bits for every ring (packed: bit 7 the wrap
 * counter). The rest is guest RAM from GPA 0: the receive ring (ring 0) at GPA 0, the control
 * queue (ring 2) at 0x800, the transmit ring (ring 1) at 0x1000, headers, frames, commands and
 * receive buffers anywhere in the 64 KiB.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fz_frontend.h"
#include "vhnet.h"

#define GUEST_SIZE 0x10000u
#define TX_RING	   0x1000u
#define CTRL_RING  0x800u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* main.c is not linked in: its log function, silenced. */
void vhnet_log(const struct vhnet *d, enum vh_log_level level, const char *fmt, ...)
{
	(void)d;
	(void)level;
	(void)fmt;
}

static struct vhnet *loopback(void)
{
	static struct vhnet *d;
	static const uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };

	if (d)
		return d;
	d = calloc(1, sizeof(*d));
	if (!d)
		abort();
	d->opt.loopback = true;
	d->opt.mtu = 1500;
	d->opt.queue_pairs = 1;
	d->opt.queue_size = 128;
	memcpy(d->opt.mac, mac, sizeof(mac));
	/* As main.c sets up --loopback (the pairs' bounce buffers come with it). */
	if (vhnet_config_init(d) < 0)
		abort();
	return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vhnet *d = loopback();
	struct vh_server_config cfg;
	struct fz_fe f;
	struct fz_rings rg;
	int r;

	if (size < 2)
		return 0;
	fz_rings_choose(data, 1ull << VIRTIO_NET_F_MRG_RXBUF, &rg);
	if (data[0] & 8)
		rg.features |= 1ull << VIRTIO_NET_F_MRG_RXBUF;
	vh_server_config_init(&cfg);
	cfg.name = VHNET_NAME;
	/* Postcopy would leave guest pages to a front-end that never fills them: a hang. */
	cfg.protocol_features_clear = 1ull << VH_USER_PROTOCOL_F_PAGEFAULT;
	cfg.ops = &vhnet_ops;
	cfg.opaque = d;
	cfg.features = d->features;
	cfg.num_queues = 3; /* receive, transmit, control (ctrl.c) */
	cfg.max_queue_size = d->opt.queue_size;
	cfg.config_size = sizeof(d->config);
	fz_fe_open(&f, &cfg, GUEST_SIZE, rg.features);
	memcpy(f.mem, data + 2, size - 2 < GUEST_SIZE ? size - 2 : GUEST_SIZE);
	r = fz_fe_ring(&f, 1, rg.num, rg.packed, TX_RING, rg.base);
	if (!r)
		r = fz_fe_ring(&f, 2, rg.num, rg.packed, CTRL_RING, rg.base);
	if (!r)
		r = fz_fe_ring(&f, 0, rg.num, rg.packed, 0, rg.base);
	if (!r) {
		fz_fe_kick(&f, 1);
		fz_fe_kick(&f, 0);
		if (data[0] & 16) {
			/* Receive ring gone while a frame may wait for buffers, then back. */
			fz_fe_stop(&f, 0);
			fz_fe_kick(&f, 1);
			(void)fz_fe_ring(&f, 0, rg.num, rg.packed, 0, rg.base);
		}
		fz_fe_kick(&f, 1);
		fz_fe_kick(&f, 2);
		fz_fe_stop(&f, 2);
		fz_fe_stop(&f, 1);
		fz_fe_stop(&f, 0);
	}
	fz_fe_close(&f);
	return 0;
}
