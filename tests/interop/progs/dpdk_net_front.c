// SPDX-License-Identifier: BSD-3-Clause
/*
 * dpdk_net_front: libvhost's userspace virtio-net driver (vh_net on a vhost-user vh_dev) against
 * a vhost-user net backend such as DPDK's vhost PMD in dpdk-testpmd (test_dpdk_vhost_net.sh,
 * bench/net_dpdk_bench.sh).
 *
 *   dpdk_net_front check PATH [--packed] [--no-mrg] [--frames N] [--fwd macswap|io]
 *       print the features offered and negotiated by name, send N frames (60..1514 bytes, each
 *       naming its sequence number, every payload byte derived from it), receive each back
 *       exactly once and compare it byte for byte with what was sent, after the forwarding
 *       mode's change (macswap: destination and source MAC exchanged; io: unchanged).
 *   dpdk_net_front flood PATH [--seconds S] [--size B] [--packed] [--no-mrg]
 *       transmit B-byte frames as fast as possible for S seconds (bursts of 32,
 *       vh_net_tx_burst); print "tx_pps N".
 *   dpdk_net_front sink PATH [--seconds S] [--packed] [--no-mrg]
 *       receive for S seconds (vh_net_rx_burst); print "rx_pps N".
 *   dpdk_net_front pingpong PATH [--seconds S] [--size B] [--window W] [--packed] [--no-mrg]
 *                  [--zc] [--cpu N]
 *       the counterpart of dpdk-testpmd --forward-mode=macswap --tx-first against an echoing
 *       backend: send W frames (default 32, one burst), then send every frame that comes back
 *       again with its MAC addresses exchanged; count for S seconds after a one-second warm-up;
 *       print "rx_pps N" (frames received per second: the rate of each direction). --zc
 *       exchanges the MACs in the receive buffer and sends the frame on from there
 *       (vh_net_rx_burst_zc / vh_net_tx_burst_zc), as testpmd's macswap does with its mbufs.
 *
 * --cpu N pins the process to CPU N (as testpmd's -l pins its lcores).
 *
 * PATH is "unix:/path/to.sock" (the backend listens). Exit 0 pass, 1 fail, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/virtio_config.h>

#include <vhost/frontend.h>
#include <vhost/net.h>
#include <vhost/proto.h>

#define MAX_FRAME 1514u
#define ETH_ALEN_ 6u
#define ETH_P_VH  0x88b5 /* IEEE 802 local experimental ethertype */
#define WINDOW	  64u	 /* frames in flight in check mode */
#define BURST	  32u	 /* frames per vh_net_tx_burst / rx_burst in flood, sink, pingpong */
#define BENCH_MAX 1518u	 /* largest --size */

struct opts {
	const char *cmd;
	const char *path;
	bool packed;
	bool no_mrg;
	unsigned frames;
	bool macswap;
	double seconds;
	unsigned size;
	unsigned window;
	unsigned rx_buf;
	bool zc;
	int cpu;
};

static const uint8_t src_mac[ETH_ALEN_] = { 0x02, 0x76, 0x68, 0x00, 0x00, 0x01 };
static const uint8_t dst_mac[ETH_ALEN_] = { 0x02, 0x76, 0x68, 0x00, 0x00, 0x02 };

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

static const char *feature_name(unsigned bit)
{
	/* Bit 6 (legacy VIRTIO_NET_F_GSO) has no constant in <linux/virtio_net.h> any more. */
	if (bit == 6)
		return "VIRTIO_NET_F_GSO";
	return bit < 24 ? vh_net_feature_name(bit) : vh_proto_virtio_feature_name(bit);
}

static void print_bits(const char *what, uint64_t bits, const char *(*name)(unsigned))
{
	unsigned b;

	printf("%s 0x%016llx:", what, (unsigned long long)bits);
	for (b = 0; b < 64; b++) {
		const char *n;

		if (!(bits & (1ull << b)))
			continue;
		n = name(b);
		if (n)
			printf(" %s", n);
		else
			printf(" bit%u", b);
	}
	printf("\n");
}

static int open_net(const struct opts *o, struct vh_net **net)
{
	struct vh_net_config c = {
		.path = o->path,
		.tap_fd = -1,
		/* Small receive buffers make large frames span several of them (MRG_RXBUF). */
		.rx_buf_size = o->rx_buf   ? o->rx_buf
			       : o->no_mrg ? 2048
					   : 512,
		.flags = (o->packed ? VH_NET_PACKED : 0) | (o->no_mrg ? VH_NET_NO_MRG_RXBUF : 0),
		.name = "dpdk_net_front",
	};
	struct vh_net_info info;
	int err;

	err = vh_net_create(&c, net);
	if (err < 0) {
		fprintf(stderr, "vh_net_create %s: %s\n", o->path, strerror(-err));
		return err;
	}
	vh_net_get_info(*net, &info);
	print_bits("offered", info.device_features, feature_name);
	print_bits("negotiated", info.features, feature_name);
	print_bits("protocol", vh_dev_protocol_features(vh_net_dev(*net)), vh_proto_feature_name);
	printf("ring %s, mrg_rxbuf %s, event_idx %s, queue_size %u, rx_buf %u\n",
	       info.packed ? "packed" : "split", info.mrg_rxbuf ? "on" : "off",
	       info.event_idx ? "on" : "off", info.queue_size, info.rx_buf_size);
	if (o->packed != info.packed || o->no_mrg == info.mrg_rxbuf) {
		fprintf(stderr, "negotiated ring/mrg_rxbuf differ from what was asked\n");
		vh_net_destroy(net);
		return -EPROTO;
	}
	return 0;
}

/* ---- check ----------------------------------------------------------------------------------- */

static unsigned frame_len(unsigned seq)
{
	return 60u + (seq * 37u) % (MAX_FRAME - 60u + 1u);
}

/* Frame @seq: dst, src, ethertype, 4-byte sequence number, then bytes derived from @seq. */
static void frame_make(unsigned seq, uint8_t *f)
{
	unsigned len = frame_len(seq), i;

	memcpy(f, dst_mac, ETH_ALEN_);
	memcpy(f + 6, src_mac, ETH_ALEN_);
	f[12] = ETH_P_VH >> 8;
	f[13] = ETH_P_VH & 0xff;
	memcpy(f + 14, &seq, sizeof(seq));
	for (i = 18; i < len; i++)
		f[i] = (uint8_t)(seq * 7u + i * 13u + (i >> 8));
}

struct check {
	const struct opts *o;
	struct vh_net *net;
	uint8_t *seen;
	unsigned sent, received, merged_frames, max_bufs, out_of_order;
	unsigned next_expected;
};

/* What the forwarding mode should have made of frame @seq. */
static void frame_expect(const struct check *c, unsigned seq, uint8_t *f)
{
	frame_make(seq, f);
	if (c->o->macswap) {
		memcpy(f, src_mac, ETH_ALEN_);
		memcpy(f + 6, dst_mac, ETH_ALEN_);
	}
}

static int check_one(struct check *c, const uint8_t *buf, const struct vh_net_rx_info *ri)
{
	uint8_t want[MAX_FRAME];
	unsigned seq;

	if (ri->len < 18 || ri->len > MAX_FRAME) {
		fprintf(stderr, "received a %u-byte frame\n", ri->len);
		return -1;
	}
	memcpy(&seq, buf + 14, sizeof(seq));
	if (seq >= c->o->frames || c->seen[seq]) {
		fprintf(stderr, "frame with sequence %u: %s\n", seq,
			seq >= c->o->frames ? "never sent" : "received twice");
		return -1;
	}
	frame_expect(c, seq, want);
	if (ri->len != frame_len(seq) || memcmp(buf, want, ri->len) != 0) {
		fprintf(stderr, "frame %u: %u bytes, want %u; contents differ\n", seq, ri->len,
			frame_len(seq));
		return -1;
	}
	/* virtio 1.2 §5.1.6.4: num_buffers is the number of buffers the frame took. */
	if (ri->hdr.num_buffers != ri->nbufs || ri->hdr.hdr.flags != 0) {
		fprintf(stderr, "frame %u: num_buffers %u for %u buffers, flags 0x%x\n", seq,
			ri->hdr.num_buffers, ri->nbufs, ri->hdr.hdr.flags);
		return -1;
	}
	c->seen[seq] = 1;
	c->out_of_order += seq != c->next_expected;
	c->next_expected = seq + 1;
	c->merged_frames += ri->nbufs > 1;
	if (ri->nbufs > c->max_bufs)
		c->max_bufs = ri->nbufs;
	c->received++;
	return 0;
}

static int check_send(struct check *c)
{
	uint8_t f[MAX_FRAME];
	int err;

	while (c->sent < c->o->frames && c->sent - c->received < WINDOW) {
		frame_make(c->sent, f);
		err = vh_net_send(c->net, f, frame_len(c->sent), NULL);
		if (err == -EAGAIN)
			break;
		if (err < 0) {
			fprintf(stderr, "vh_net_send %u: %s\n", c->sent, strerror(-err));
			return err;
		}
		c->sent++;
	}
	return 0;
}

static int check_recv(struct check *c)
{
	uint8_t buf[MAX_FRAME + 64];
	struct vh_net_rx_info ri;
	int r;

	while ((r = vh_net_recv(c->net, buf, sizeof(buf), &ri)) == 1) {
		if (check_one(c, buf, &ri) < 0)
			return -1;
	}
	if (r < 0)
		fprintf(stderr, "vh_net_recv: %s\n", strerror(-r));
	return r;
}

static int run_check(const struct opts *o)
{
	struct check c = { .o = o };
	double deadline = now_s() + 20;
	int err;

	c.seen = calloc(o->frames, 1);
	if (!c.seen || open_net(o, &c.net) < 0) {
		free(c.seen);
		return 1;
	}
	err = 0;
	while (err >= 0 && c.received < o->frames) {
		if (now_s() > deadline) {
			fprintf(stderr, "timeout: sent %u, received %u\n", c.sent, c.received);
			err = -ETIMEDOUT;
			break;
		}
		err = check_send(&c);
		if (err >= 0)
			err = vh_net_wait(c.net, VH_NET_WAIT_RX, 100);
		if (err >= 0)
			err = check_recv(&c);
	}
	if (err >= 0) {
		struct vh_net_stats st;

		vh_net_get_stats(c.net, &st);
		printf("check: %u frames sent, %u received back byte for byte (%s), %u merged "
		       "(max %u buffers), %u out of order, kicks %llu\n",
		       c.sent, c.received, o->macswap ? "MACs swapped" : "unchanged",
		       c.merged_frames, c.max_bufs, c.out_of_order, (unsigned long long)st.kicks);
		/* With 512-byte receive buffers a 1514-byte frame must have been merged. */
		if (!o->no_mrg && c.max_bufs < 3) {
			fprintf(stderr, "mrg_rxbuf on, yet no frame took 3+ buffers\n");
			err = -EPROTO;
		}
	}
	vh_net_destroy(&c.net);
	free(c.seen);
	return err < 0 ? 1 : 0;
}

/* ---- flood / sink ---------------------------------------------------------------------------- */

/* Kicks per frame sent: EVENT_IDX / NO_NOTIFY keep them far below one. */
static void print_kicks(struct vh_net *net)
{
	struct vh_net_stats st;

	vh_net_get_stats(net, &st);
	printf("kicks %llu for %llu frames sent, %llu received\n", (unsigned long long)st.kicks,
	       (unsigned long long)st.tx_frames, (unsigned long long)st.rx_frames);
}

static int run_flood(const struct opts *o)
{
	static uint8_t f[BENCH_MAX];
	struct vh_net_pkt p[BURST];
	struct vh_net *net;
	uint64_t n = 0, again = 0;
	double t0, t;
	unsigned i;
	int r = 0;

	if (o->size < 60 || o->size > BENCH_MAX || open_net(o, &net) < 0)
		return 1;
	frame_make(0, f);
	for (i = 0; i < BURST; i++)
		p[i] = (struct vh_net_pkt){ .data = f, .len = o->size };
	t0 = now_s();
	t = t0;
	while (t - t0 < o->seconds) {
		for (i = 0; i < 64; i++) {
			r = vh_net_tx_burst(net, 0, p, BURST);
			if (r < 0)
				break;
			n += (unsigned)r;
			again += r < (int)BURST;
		}
		if (r < 0) {
			fprintf(stderr, "vh_net_tx_burst: %s\n", strerror(-r));
			break;
		}
		t = now_s();
	}
	printf("tx_frames %llu seconds %.3f ring_full %llu\n", (unsigned long long)n, t - t0,
	       (unsigned long long)again);
	printf("tx_pps %.0f\n", (double)n / (t - t0));
	print_kicks(net);
	vh_net_destroy(&net);
	return r < 0 ? 1 : 0;
}

static int run_sink(const struct opts *o)
{
	static uint8_t buf[BURST][BENCH_MAX + 64];
	struct vh_net_pkt p[BURST];
	struct vh_net *net;
	uint64_t n = 0;
	double t0 = 0, t = 0, end;
	unsigned i;
	int r = 0;

	if (open_net(o, &net) < 0)
		return 1;
	memset(p, 0, sizeof(p));
	for (i = 0; i < BURST; i++)
		p[i] = (struct vh_net_pkt){ .data = buf[i], .cap = sizeof(buf[i]) };
	end = now_s() + o->seconds + 10;
	/* Count from the first frame: the sender may start later. */
	while ((t = now_s()) < end && (!t0 || t - t0 < o->seconds)) {
		r = vh_net_rx_burst(net, 0, p, BURST);
		if (r < 0)
			break;
		if (r > 0 && !t0)
			t0 = t;
		n += (uint64_t)r;
	}
	if (r < 0)
		fprintf(stderr, "vh_net_rx_burst: %s\n", strerror(-r));
	printf("rx_frames %llu seconds %.3f\n", (unsigned long long)n, t0 ? t - t0 : 0.0);
	printf("rx_pps %.0f\n", t0 && t > t0 ? (double)n / (t - t0) : 0.0);
	print_kicks(net);
	vh_net_destroy(&net);
	return r < 0 || !n ? 1 : 0;
}

/* Frames that came back go out again with the MAC addresses exchanged (testpmd macswap);
 * @zc: in place, from their receive buffers. */
static int pingpong_round(struct vh_net *net, struct vh_net_pkt *p, uint64_t *n, bool zc)
{
	uint8_t mac[ETH_ALEN_];
	int r = zc ? vh_net_rx_burst_zc(net, 0, p, BURST) : vh_net_rx_burst(net, 0, p, BURST), i, s;

	if (r <= 0)
		return r;
	for (i = 0; i < r; i++) {
		uint8_t *f = p[i].data;

		memcpy(mac, f, ETH_ALEN_);
		memcpy(f, f + ETH_ALEN_, ETH_ALEN_);
		memcpy(f + ETH_ALEN_, mac, ETH_ALEN_);
		p[i].hdr = (struct virtio_net_hdr){ 0 };
	}
	*n += (uint64_t)r;
	/* The ring has room for every frame in flight: a short send is the device's doing. */
	for (i = 0; i < r; i += s) {
		s = zc ? vh_net_tx_burst_zc(net, 0, p + i, (unsigned)(r - i))
		       : vh_net_tx_burst(net, 0, p + i, (unsigned)(r - i));
		if (s < 0)
			return s;
	}
	return r;
}

static int run_pingpong(const struct opts *o)
{
	static uint8_t buf[BURST][BENCH_MAX + 64];
	struct vh_net_pkt p[BURST];
	struct vh_net *net;
	uint64_t n = 0, n0 = 0;
	double t0, t, t1 = 0, c1 = 0;
	unsigned i, sent = 0;
	int r = 0;

	if (o->size < 60 || o->size > BENCH_MAX || !o->window || o->window > 256 ||
	    open_net(o, &net) < 0)
		return 1;
	frame_make(0, buf[0]);
	for (i = 0; i < BURST; i++) {
		memcpy(buf[i], buf[0], o->size);
		p[i] = (struct vh_net_pkt){ .data = buf[i], .len = o->size, .cap = sizeof(buf[i]) };
	}
	while (sent < o->window && r >= 0) {
		r = vh_net_tx_burst(net, 0, p, o->window - sent < BURST ? o->window - sent : BURST);
		sent += r > 0 ? (unsigned)r : 0;
	}
	t0 = now_s();
	t = t0;
	while (r >= 0 && t - t0 < o->seconds + 1) {
		for (i = 0; i < 64 && r >= 0; i++)
			r = pingpong_round(net, p, &n, o->zc);
		t = now_s();
		if (!t1 && t - t0 >= 1) {
			t1 = t;
			n0 = n;
			c1 = clock_s(CLOCK_THREAD_CPUTIME_ID);
		}
	}
	if (r < 0)
		fprintf(stderr, "pingpong: %s\n", strerror(-r));
	/* CPU time over wall time: below 1, something else had this CPU part of the time. */
	printf("rx_frames %llu seconds %.3f cpu %.3f\n", (unsigned long long)(n - n0),
	       t1 ? t - t1 : 0.0, t1 ? clock_s(CLOCK_THREAD_CPUTIME_ID) - c1 : 0.0);
	printf("rx_pps %.0f\n", t1 && t > t1 ? (double)(n - n0) / (t - t1) : 0.0);
	print_kicks(net);
	vh_net_destroy(&net);
	return r < 0 || n == n0 ? 1 : 0;
}

/* ---- main ------------------------------------------------------------------------------------ */

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "packed", no_argument, NULL, 'p' },
		{ "no-mrg", no_argument, NULL, 'm' },
		{ "frames", required_argument, NULL, 'n' },
		{ "fwd", required_argument, NULL, 'f' },
		{ "seconds", required_argument, NULL, 's' },
		{ "size", required_argument, NULL, 'b' },
		{ "window", required_argument, NULL, 'w' },
		{ "rx-buf", required_argument, NULL, 'r' },
		{ "zc", no_argument, NULL, 'z' },
		{ "cpu", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){ .frames = 1000,
			    .macswap = true,
			    .seconds = 5,
			    .size = 64,
			    .window = BURST,
			    .cpu = -1 };
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'p':
			o->packed = true;
			break;
		case 'm':
			o->no_mrg = true;
			break;
		case 'n':
			o->frames = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'f':
			o->macswap = strcmp(optarg, "io") != 0;
			break;
		case 's':
			o->seconds = strtod(optarg, NULL);
			break;
		case 'b':
			o->size = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'w':
			o->window = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'r':
			o->rx_buf = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'z':
			o->zc = true;
			break;
		case 'c':
			o->cpu = (int)strtol(optarg, NULL, 0);
			break;
		default:
			return -1;
		}
	}
	if (argc - optind != 2 || !o->frames)
		return -1;
	o->cmd = argv[optind];
	o->path = argv[optind + 1];
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (parse(argc, argv, &o) < 0) {
		fprintf(stderr,
			"usage: %s check|flood|sink|pingpong unix:PATH [--packed] [--no-mrg] "
			"[--frames N] [--fwd macswap|io] [--seconds S] [--size B] [--window W] "
			"[--rx-buf B] [--zc] [--cpu N]\n",
			argv[0]);
		return 2;
	}
	if (o.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(o.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0) {
			fprintf(stderr, "--cpu %d: %s\n", o.cpu, strerror(errno));
			return 2;
		}
	}
	if (strcmp(o.cmd, "check") == 0)
		return run_check(&o);
	if (strcmp(o.cmd, "flood") == 0)
		return run_flood(&o);
	if (strcmp(o.cmd, "sink") == 0)
		return run_sink(&o);
	if (strcmp(o.cmd, "pingpong") == 0)
		return run_pingpong(&o);
	fprintf(stderr, "unknown command %s\n", o.cmd);
	return 2;
}
