// SPDX-License-Identifier: BSD-3-Clause
/*
 * Single-core virtio-net loop: the vh_net driver and a device built on the vq/ ring in one thread,
 * one loop, no eventfds (bench/net_bench's low-noise row; the counterpart of dpdk-testpmd
 * forwarding between its own vhost PMD and virtio-user ports on one lcore).
 *
 *   net_loop_bench [-t SECONDS | -n FRAMES] [-s BYTES] [-b BURST] [--packed] [--no-mrg] [--zc]
 *
 * Each round: vh_net_tx_burst() of BURST frames; the device pops every transmit chain and a
 * receive buffer for it, copies header and frame across (as vh-net --loopback does), pushes both
 * and flushes once per round; vh_net_rx_burst() takes the frames back. A frame thus crosses the
 * transmit ring one way and the receive ring the other: the rate printed is per direction, as
 * testpmd's per-port Rx-pps is. --zc forwards instead, as testpmd's io forwarding does: one
 * vh_net_tx_burst() of BURST frames to start, then each round vh_net_rx_burst_zc() lends the
 * frames the device looped back and vh_net_tx_burst_zc() sends them on from their receive
 * buffers (the device's copy is the only one, as the DPDK virtio PMD hands mbufs over). -n runs a fixed number of frames (for callgrind: instructions
 * per frame are the difference of two runs divided by the difference of their frame counts).
 *
 * Output: "net_loop split|packed SIZE BURST: FRAMES frames SECONDS s MPPS Mpps, CPU s CPU
 * MPPS Mpps/CPU-s" (the second rate per second of this thread's CPU time: what a shared,
 * noisy machine leaves comparable).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include <vhost/mem.h>
#include <vhost/net.h>
#include <vhost/vq.h>

#include "driver/net_internal.h"

#define GPA	  0x40000000ull
#define QSIZE	  256u
#define MAX_BURST 256u
#define MAX_FRAME 1518u
#define MAX_IOV	  8u

struct loop {
	struct vh_net *net;
	struct vh_memmap *mm;
	struct vh_vq *vq[2];
	uint8_t *mem;
	uint64_t size;
	struct iovec tx_iov[MAX_IOV], rx_iov[MAX_IOV];
	uint64_t dropped;
};

static double clock_s(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

static int dev_ring(struct loop *l, unsigned q, bool packed)
{
	struct vh_vq_config vc = { .num = QSIZE, .packed = packed, .name = "net_loop device" };
	uint64_t desc, drv, dev;
	struct vh_vq_addrs a;
	int err = vh_vq_create(&vc, &l->vq[q]);

	if (err < 0)
		return err;
	vh_net_queue_gpa(l->net, q, &desc, &drv, &dev);
	a = (struct vh_vq_addrs){ .desc = vh_memmap_gpa_to_host(l->mm, desc, 1),
				  .driver = vh_memmap_gpa_to_host(l->mm, drv, 1),
				  .device = vh_memmap_gpa_to_host(l->mm, dev, 1) };
	err = vh_vq_set_addrs(l->vq[q], &a);
	if (!err)
		err = vh_vq_set_base(l->vq[q], packed ? 1u << 15 : 0);
	vh_vq_set_memmap(l->vq[q], l->mm);
	return err;
}

static int loop_setup(struct loop *l, bool packed, bool mrg)
{
	uint64_t f = 1ull << VIRTIO_F_VERSION_1;
	struct vh_net_config cfg = { .queue_size = QSIZE, .tap_fd = -1, .name = "net_loop" };
	struct net_layout lay;
	struct net_local_mem m;
	struct vh_mem_region r;
	int err;

	f |= packed ? 1ull << VIRTIO_F_RING_PACKED : 0;
	f |= mrg ? 1ull << VIRTIO_NET_F_MRG_RXBUF : 0;
	if (net_layout(QSIZE, packed, 2048, 2048, &lay) < 0)
		return -EINVAL;
	l->size = lay.size;
	l->mem = aligned_alloc(4096, l->size);
	if (!l->mem)
		return -ENOMEM;
	memset(l->mem, 0, l->size);
	m = (struct net_local_mem){ .host = l->mem, .gpa = GPA, .size = l->size };
	err = net_local_create(&cfg, f, &m, &l->net);
	if (err < 0)
		return err;
	r = (struct vh_mem_region){
		.gpa = GPA, .size = l->size, .uva = (uintptr_t)l->mem, .fd = -1, .host = l->mem
	};
	err = vh_memmap_create(NULL, &l->mm);
	if (!err)
		err = vh_memmap_add(l->mm, &r);
	if (!err)
		err = dev_ring(l, VH_NET_RX, packed);
	if (!err)
		err = dev_ring(l, VH_NET_TX, packed);
	return err;
}

static void loop_teardown(struct loop *l)
{
	vh_net_destroy(&l->net);
	vh_vq_destroy(&l->vq[0]);
	vh_vq_destroy(&l->vq[1]);
	vh_memmap_destroy(&l->mm);
	free(l->mem);
}

/* Copy @len bytes from one iovec list into another (both long enough). */
static void iov_to_iov(const struct iovec *src, const struct iovec *dst, uint64_t len)
{
	size_t so = 0, doff = 0;

	while (len) {
		size_t c = src->iov_len - so;

		if (c > dst->iov_len - doff)
			c = dst->iov_len - doff;
		if (c > len)
			c = len;
		memcpy((uint8_t *)dst->iov_base + doff, (const uint8_t *)src->iov_base + so, c);
		len -= c;
		so += c;
		doff += c;
		if (so == src->iov_len) {
			src++;
			so = 0;
		}
		if (doff == dst->iov_len) {
			dst++;
			doff = 0;
		}
	}
}

/* The device: every transmitted frame into a receive buffer (header included, num_buffers 1). */
static int device_round(struct loop *l)
{
	struct vh_vq_elem tx = { .iov = l->tx_iov, .max_iov = MAX_IOV };
	struct vh_vq_elem rx = { .iov = l->rx_iov, .max_iov = MAX_IOV };
	int r;

	for (;;) {
		r = vh_vq_pop(l->vq[VH_NET_TX], &tx);
		if (r <= 0)
			break;
		r = vh_vq_pop(l->vq[VH_NET_RX], &rx);
		if (r < 0)
			return r;
		if (r == 1 && rx.in_len >= tx.out_len) {
			iov_to_iov(tx.iov, rx.iov, tx.out_len);
			/* virtio 1.2 §5.1.6.4: the device sets num_buffers (1: one buffer). */
			((struct virtio_net_hdr_mrg_rxbuf *)rx.iov[0].iov_base)->num_buffers = 1;
			r = vh_vq_push(l->vq[VH_NET_RX], &rx, (uint32_t)tx.out_len);
		} else {
			l->dropped++;
			if (r == 1)
				r = vh_vq_push(l->vq[VH_NET_RX], &rx, 0);
		}
		if (r < 0)
			return r;
		r = vh_vq_push(l->vq[VH_NET_TX], &tx, 0);
		if (r < 0)
			return r;
	}
	vh_vq_flush(l->vq[VH_NET_TX]);
	vh_vq_flush(l->vq[VH_NET_RX]);
	return r;
}

struct opts {
	double seconds;
	uint64_t frames;
	unsigned size;
	unsigned burst;
	bool packed;
	bool mrg;
	bool zc;
};

/* --zc: what came back goes out again from its receive buffer; returns frames received. */
static int zc_round(struct loop *l, struct vh_net_pkt *p, unsigned burst)
{
	int r = vh_net_rx_burst_zc(l->net, 0, p, burst), s;

	if (r <= 0)
		return r;
	for (unsigned i = 0; i < (unsigned)r; i++)
		p[i].hdr = (struct virtio_net_hdr){ 0 };
	s = vh_net_tx_burst_zc(l->net, 0, p, (unsigned)r);
	if (s < 0)
		return s;
	/* The transmit ring is as large as the receive ring: nothing is left over. */
	if (s < r && vh_net_rx_free(l->net, 0, p + s, (unsigned)(r - s)) < 0)
		return -EPROTO;
	return r;
}

static int run(struct loop *l, const struct opts *o)
{
	static uint8_t frame[MAX_FRAME], out[MAX_BURST][2048];
	struct vh_net_pkt tx[MAX_BURST], rx[MAX_BURST];
	uint64_t done = 0, rounds = 0;
	double t0 = now_s(), t = t0, c0 = clock_s(CLOCK_THREAD_CPUTIME_ID), c;
	unsigned i;
	int r;

	memset(frame, 0x5a, sizeof(frame));
	memset(tx, 0, sizeof(tx));
	memset(rx, 0, sizeof(rx));
	for (i = 0; i < o->burst; i++) {
		tx[i] = (struct vh_net_pkt){ .data = frame, .len = o->size };
		rx[i] = (struct vh_net_pkt){ .data = out[i], .cap = sizeof(out[i]) };
	}
	for (;;) {
		if (o->frames ? done >= o->frames
			      : (rounds & 63) == 0 && (t = now_s()) - t0 >= o->seconds)
			break;
		if (o->zc && rounds) {
			r = device_round(l);
			if (r < 0)
				return r;
			r = zc_round(l, rx, o->burst);
			if (r < 0)
				return r;
			rounds++;
			done += (unsigned)r;
			continue;
		}
		rounds++;
		r = vh_net_tx_burst(l->net, 0, tx, o->burst);
		if (r < 0)
			return r;
		if (o->zc)
			continue;
		r = device_round(l);
		if (r < 0)
			return r;
		r = vh_net_rx_burst(l->net, 0, rx, o->burst);
		if (r < 0)
			return r;
		done += (unsigned)r;
	}
	t = now_s();
	c = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
	printf("net_loop %s%s %u %u: %" PRIu64
	       " frames %.3f s %.2f Mpps, %.3f s CPU %.2f Mpps/CPU-s "
	       "(dropped %" PRIu64 ")\n",
	       o->packed ? "packed" : "split", o->zc ? " zc" : "", o->size, o->burst, done, t - t0,
	       (double)done / (t - t0) / 1e6, c, c > 0 ? (double)done / c / 1e6 : 0.0, l->dropped);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = { { "packed", no_argument, NULL, 'p' },
					    { "no-mrg", no_argument, NULL, 'm' },
					    { "zc", no_argument, NULL, 'z' },
					    { NULL, 0, NULL, 0 } };
	struct opts o = { .seconds = 2, .size = 64, .burst = 32, .mrg = true };
	struct loop l;
	int c, err;

	while ((c = getopt_long(argc, argv, "t:n:s:b:", lo, NULL)) != -1) {
		switch (c) {
		case 't':
			o.seconds = atof(optarg);
			break;
		case 'n':
			o.frames = strtoull(optarg, NULL, 0);
			break;
		case 's':
			o.size = (unsigned)atoi(optarg);
			break;
		case 'b':
			o.burst = (unsigned)atoi(optarg);
			break;
		case 'p':
			o.packed = true;
			break;
		case 'm':
			o.mrg = false;
			break;
		case 'z':
			o.zc = true;
			break;
		default:
			fprintf(
			    stderr,
			    "usage: %s [-t SECONDS | -n FRAMES] [-s BYTES] [-b BURST] [--packed] "
			    "[--no-mrg] [--zc]\n",
			    argv[0]);
			return 2;
		}
	}
	if (o.size < 14 || o.size > MAX_FRAME || !o.burst || o.burst > MAX_BURST) {
		fprintf(stderr, "size 14..%u, burst 1..%u\n", MAX_FRAME, MAX_BURST);
		return 2;
	}
	memset(&l, 0, sizeof(l));
	err = loop_setup(&l, o.packed, o.mrg);
	if (!err)
		err = run(&l, &o);
	loop_teardown(&l);
	if (err < 0) {
		fprintf(stderr, "net_loop_bench: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}
