// SPDX-License-Identifier: BSD-3-Clause
/*
 * vhctl net probe / net bench: a vhost-user-net (or vhost-vdpa net) backend driven by the vh_net
 * userspace driver. The bench expects the backend to send every frame back (vh-net --loopback,
 * dpdk-testpmd --forward-mode=macswap): "ping" keeps one frame in flight and measures its round
 * trip, "flood" keeps a window of frames in flight and measures the echoed frames per second.
 * Every frame carries a sequence number and its send time, so latency is measured per frame.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_ids.h>

#include <vhost/frontend.h>
#include <vhost/net.h>
#include <vhost/proto.h>

#include "hist.h"
#include "vhctl.h"

#define NB_ETHERTYPE 0x88b5u /* IEEE 802 local experimental */
#define NB_MAGIC     0x76686374u
#define NB_MAX_SIZES 8
#define NB_FCS	     4u	 /* counted in the frame sizes (RFC 2544), not carried by virtio */
#define NB_HDR	     34u /* 14 Ethernet + magic 4 + seq 8 + send time 8 */
#define NB_BURST     32u
#define NB_FRAME_MAX 9216u

enum nb_mode {
	NB_PING = 1,
	NB_FLOOD = 2,
};

struct nb_opts {
	char path[512];
	unsigned modes;
	unsigned sizes[NB_MAX_SIZES];
	unsigned nsizes;
	unsigned runtime;
	unsigned window;
	unsigned qsize;
	unsigned pairs; /* 0: every pair the backend offers */
	bool packed;
	bool json;
	bool quiet;
	bool verbose;
};

struct nb_result {
	const char *mode;
	unsigned size;
	uint64_t sent, received, lost, other;
	double secs;
	struct hist lat;
};

struct nb {
	const struct nb_opts *o;
	struct vh_net *net;
	struct vh_net_info info;
	unsigned offered_pairs;
	uint8_t frame[NB_FRAME_MAX];
	uint8_t rx[NB_FRAME_MAX];
	uint64_t seq;
	struct vh_net_pkt txp[NB_BURST], rxp[NB_BURST];
	uint8_t txbuf[NB_BURST][NB_FRAME_MAX], rxbuf[NB_BURST][NB_FRAME_MAX];
};

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t get_be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Our test frame: to the device's MAC, ethertype NB_ETHERTYPE, magic, sequence, send time. */
static void build_frame(struct nb *b, uint8_t *f)
{
	static const uint8_t src[6] = { 0x02, 0x76, 0x68, 0x63, 0x74, 0x6c };

	if (b->info.features & (1ull << VIRTIO_NET_F_MAC))
		memcpy(f, b->info.mac, 6);
	else
		memset(f, 0xff, 6);
	memcpy(f + 6, src, 6);
	put_be(f + 12, NB_ETHERTYPE, 2);
	put_be(f + 14, NB_MAGIC, 4);
	put_be(f + 18, b->seq, 8);
	put_be(f + 26, vhctl_now_ns(), 8);
}

static int send_one(struct nb *b, unsigned size)
{
	build_frame(b, b->frame);
	return vh_net_send(b->net, b->frame, size - NB_FCS, NULL);
}

/* *@t0 the send time of our frame @f of @len bytes; false: not one of ours. */
static bool ours(const struct nb_result *r, const uint8_t *f, uint32_t len, uint64_t *t0)
{
	if (len != r->size - NB_FCS || len < NB_HDR || get_be(f + 12, 2) != NB_ETHERTYPE ||
	    get_be(f + 14, 4) != NB_MAGIC)
		return false;
	*t0 = get_be(f + 26, 8);
	return true;
}

/* 1: one of our frames came back (*@t0 its send time); 0: nothing ready; -1: another frame. */
static int recv_one(struct nb *b, struct nb_result *r, uint64_t *t0)
{
	struct vh_net_rx_info ri;
	int n = vh_net_recv(b->net, b->rx, sizeof(b->rx), &ri);

	if (n <= 0)
		return n < 0 ? n : 0;
	if (ri.len != r->size - NB_FCS || ri.len < NB_HDR ||
	    get_be(b->rx + 12, 2) != NB_ETHERTYPE || get_be(b->rx + 14, 4) != NB_MAGIC) {
		r->other++;
		return -1;
	}
	*t0 = get_be(b->rx + 26, 8);
	r->received++;
	return 1;
}

static void progress(const struct nb *b, const struct nb_result *r, unsigned sec, uint64_t prev)
{
	if (!vhctl_progress_wanted(b->o->quiet))
		return;
	fprintf(stderr, "\r[%s %u B %3us/%us] %10" PRIu64 " frames/s   ", r->mode, r->size, sec,
		b->o->runtime, r->received - prev);
}

/* One frame in flight at a time; a frame not back within a second counts as lost. */
static int run_ping(struct nb *b, struct nb_result *r)
{
	uint64_t start = vhctl_now_ns(), end = start + b->o->runtime * 1000000000ull, next = start;
	uint64_t prev = 0, t0;
	unsigned sec = 0;

	while (vhctl_now_ns() < end) {
		uint64_t deadline;
		int got = 0, err;

		b->seq++;
		err = send_one(b, r->size);
		if (err < 0)
			return err;
		r->sent++;
		deadline = vhctl_now_ns() + 1000000000ull;
		while (!got && vhctl_now_ns() < deadline) {
			int w = recv_one(b, r, &t0);

			if (w == 1) {
				hist_add(&r->lat, vhctl_now_ns() - t0);
				got = 1;
			} else if (w == 0 && (w = vh_net_wait(b->net, VH_NET_WAIT_RX, 100)) < 0) {
				return w;
			}
		}
		if (!got && r->received == 0)
			return -ETIMEDOUT;
		vh_net_tx_reap(b->net);
		if (vhctl_now_ns() >= next + 1000000000ull) {
			next += 1000000000ull;
			progress(b, r, ++sec, prev);
			prev = r->received;
		}
	}
	r->secs = (double)(vhctl_now_ns() - start) / 1e9;
	return 0;
}

/* Queue pair @qp: fill its window with one burst, take what came back with another. */
static int flood_pair(struct nb *b, struct nb_result *r, unsigned qp, uint64_t *inflight, bool send)
{
	unsigned n = 0;
	uint64_t t0, now;
	int k, moved = 0;

	while (send && n < NB_BURST && inflight[qp] + n < b->o->window) {
		b->seq++;
		build_frame(b, b->txbuf[n]);
		b->txp[n] = (struct vh_net_pkt){ .data = b->txbuf[n], .len = r->size - NB_FCS };
		n++;
	}
	k = n ? vh_net_tx_burst(b->net, qp, b->txp, n) : 0;
	if (k < 0)
		return k;
	r->sent += (unsigned)k;
	inflight[qp] += (unsigned)k;
	moved += k;
	for (unsigned i = 0; i < NB_BURST; i++)
		b->rxp[i] = (struct vh_net_pkt){ .data = b->rxbuf[i], .cap = NB_FRAME_MAX };
	k = vh_net_rx_burst(b->net, qp, b->rxp, NB_BURST);
	if (k < 0)
		return k;
	now = vhctl_now_ns();
	for (int i = 0; i < k; i++) {
		if (!ours(r, b->rxp[i].data, b->rxp[i].len, &t0)) {
			r->other++;
			continue;
		}
		r->received++;
		hist_add(&r->lat, now - t0);
		/* The echo may come back on another pair: credit the first open window. */
		for (unsigned p = 0; p < b->info.queue_pairs; p++) {
			unsigned q = (qp + p) % b->info.queue_pairs;

			if (inflight[q]) {
				inflight[q]--;
				break;
			}
		}
	}
	return moved + k;
}

/*
 * Nothing moved. One pair: sleep in vh_net_wait() (it arms the notifications). Several: vh_net_wait
 * covers pair 0 only, so poll the rings again (busy: two busy threads on a small machine skew
 * the figures), draining whatever call eventfds fired.
 */
static void flood_idle(struct nb *b)
{
	struct pollfd pfd[2 * VH_NET_MAX_PAIRS];
	unsigned n = 0;
	uint64_t v;

	if (b->info.queue_pairs == 1) {
		vh_net_wait(b->net, VH_NET_WAIT_RX | VH_NET_WAIT_TX, 100);
		return;
	}
	for (unsigned q = 0; q < 2 * b->info.queue_pairs; q++) {
		int fd = vh_net_call_fd(b->net, q);

		if (fd >= 0)
			pfd[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
	}
	if (poll(pfd, n, 0) <= 0)
		return;
	for (unsigned i = 0; i < n; i++)
		if (pfd[i].revents & POLLIN)
			(void)!read(pfd[i].fd, &v, sizeof(v));
}

/*
 * Up to --window frames in flight on every queue pair; take what came back; sleep when no
 * pair can move. After --runtime, stop sending and wait up to 0.5 s for the rest.
 */
static int run_flood(struct nb *b, struct nb_result *r)
{
	uint64_t start = vhctl_now_ns(), end = start + b->o->runtime * 1000000000ull, next = start;
	uint64_t prev = 0, now, drain_end = 0, inflight[VH_NET_MAX_PAIRS] = { 0 };
	unsigned sec = 0;

	for (;;) {
		int moved = 0, w;

		now = vhctl_now_ns();
		if (!drain_end && now >= end)
			drain_end = now + 500000000ull;
		if (drain_end && (now >= drain_end || r->received >= r->sent))
			break;
		for (unsigned qp = 0; qp < b->info.queue_pairs; qp++) {
			w = flood_pair(b, r, qp, inflight, !drain_end);
			if (w < 0)
				return w;
			moved += w;
		}
		if (!moved)
			flood_idle(b);
		if (sec < b->o->runtime && now >= next + 1000000000ull) {
			next += 1000000000ull;
			progress(b, r, ++sec, prev);
			prev = r->received;
		}
	}
	r->secs = (double)((drain_end ? drain_end - 500000000ull : now) - start) / 1e9;
	return 0;
}

static void print_result(struct vhctl_json *j, const struct nb_result *r)
{
	double pps = r->secs > 0 ? (double)r->received / r->secs : 0;
	double avg = r->lat.count ? (double)r->lat.sum / (double)r->lat.count / 1000.0 : 0;

	if (!j) {
		printf("%-6s %6u %12" PRIu64 " %12" PRIu64 " %8" PRIu64 " %12.0f %9.1f %9.1f %9.1f "
		       "%9.1f %9.1f %9.1f\n",
		       r->mode, r->size, r->sent, r->received, r->sent - r->received, pps,
		       pps * r->size * 8 / 1e6, avg, (double)hist_pct(&r->lat, 50) / 1000.0,
		       (double)hist_pct(&r->lat, 99) / 1000.0,
		       (double)hist_pct(&r->lat, 99.9) / 1000.0, (double)r->lat.max / 1000.0);
		return;
	}
	vhctl_json_begin(j, NULL);
	vhctl_json_str(j, "mode", r->mode);
	vhctl_json_u64(j, "frame_bytes", r->size);
	vhctl_json_u64(j, "sent", r->sent);
	vhctl_json_u64(j, "received", r->received);
	vhctl_json_u64(j, "lost", r->sent - r->received);
	vhctl_json_u64(j, "other_frames", r->other);
	vhctl_json_double(j, "seconds", r->secs);
	vhctl_json_double(j, "pps", pps);
	vhctl_json_double(j, "mbit_per_s", pps * r->size * 8 / 1e6);
	hist_json(j, "latency_us", &r->lat);
	vhctl_json_end(j);
}

static const char net_help[] =
    "usage: vhctl net probe SOCKET [--packed] [--json] [--verbose]\n"
    "         open the device with the vh_net driver: offered and negotiated features, MAC,\n"
    "         MTU, link status, queue pairs, ring, and whether a frame comes back\n"
    "       vhctl net bench SOCKET [OPTIONS]\n"
    "         frames echoed by the backend (vh-net --loopback, testpmd macswap): pps, Mbit/s\n"
    "         and round-trip latency (avg, p50, p99, p99.9, max) per test\n"
    "  --mode MODE      ping (one frame in flight), flood (--window in flight), both (default)\n"
    "  --sizes LIST     frame sizes with FCS, as RFC 2544 counts them, 64..9018\n"
    "                   (default 64,1518; 64 sends 60 bytes)\n"
    "  --runtime SECS   per test (default 2)\n"
    "  --window N       flood: frames in flight per queue pair (default: half the ring)\n"
    "  --queue-pairs N  flood over N queue pairs, or 'all' the backend offers (default 1;\n"
    "                   ping always uses pair 0)\n"
    "  --qsize N        ring size (default 256)\n"
    "  --packed         packed virtqueues (fails if the backend cannot)\n"
    "  --json           one JSON document on stdout\n"
    "  --quiet          no progress line (there is none unless stderr is a terminal)\n"
    "Flood sends and receives in bursts of 32 (vh_net_tx_burst / vh_net_rx_burst).\n";

static int parse_sizes(struct nb_opts *o, const char *arg)
{
	char *copy = strdup(arg), *save = NULL, *t;
	int rc = 0;

	o->nsizes = 0;
	for (t = strtok_r(copy, ",", &save); t && rc == 0; t = strtok_r(NULL, ",", &save)) {
		uint64_t v;

		if (vhctl_parse_size("--sizes", t, &v) < 0 || v < 64 || v > 9018 ||
		    o->nsizes == NB_MAX_SIZES) {
			vhctl_err("net bench: --sizes: up to %u sizes in 64..9018", NB_MAX_SIZES);
			rc = -1;
		} else {
			o->sizes[o->nsizes++] = (unsigned)v;
		}
	}
	free(copy);
	return rc == 0 && o->nsizes ? 0 : -1;
}

static int parse_num(const char *opt, const char *s, uint64_t min, uint64_t max, unsigned *out)
{
	uint64_t v;

	if (vhctl_parse_size(opt, s, &v) < 0)
		return -1;
	if (v < min || v > max) {
		vhctl_err("net: %s must be in %llu..%llu", opt, (unsigned long long)min,
			  (unsigned long long)max);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

static int parse_opt(struct nb_opts *o, int c, const char *arg)
{
	switch (c) {
	case 'm':
		o->modes = !strcmp(arg, "ping")	   ? NB_PING
			   : !strcmp(arg, "flood") ? NB_FLOOD
			   : !strcmp(arg, "both")  ? NB_PING | NB_FLOOD
						   : 0;
		if (!o->modes)
			vhctl_err("net bench: --mode: ping, flood or both, not '%s'", arg);
		return o->modes ? 0 : -1;
	case 's':
		return parse_sizes(o, arg);
	case 't':
		return parse_num("--runtime", arg, 1, 86400, &o->runtime);
	case 'w':
		return parse_num("--window", arg, 1, 32768, &o->window);
	case 'Q':
		return parse_num("--qsize", arg, 2, 32768, &o->qsize);
	case 'q':
		if (!strcmp(arg, "all")) {
			o->pairs = 0;
			return 0;
		}
		return parse_num("--queue-pairs", arg, 1, VH_NET_MAX_PAIRS, &o->pairs);
	default:
		return -1;
	}
}

static int parse(struct nb_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "sizes", required_argument, NULL, 's' },
		{ "runtime", required_argument, NULL, 't' },
		{ "window", required_argument, NULL, 'w' },
		{ "qsize", required_argument, NULL, 'Q' },
		{ "queue-pairs", required_argument, NULL, 'q' },
		{ "packed", no_argument, NULL, 'P' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'z' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct nb_opts){ .modes = NB_PING | NB_FLOOD,
			       .sizes = { 64, 1518 },
			       .nsizes = 2,
			       .runtime = 2,
			       .qsize = 256,
			       .pairs = 1 };
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(net_help, stdout);
			return 0;
		}
		if (c == '?')
			return VHCTL_EXIT_USAGE;
		o->packed |= c == 'P';
		o->json |= c == 'j';
		o->quiet |= c == 'z';
		o->verbose |= c == 'v';
		if (strchr("Pjzv", c))
			continue;
		if (parse_opt(o, c, optarg) < 0)
			return VHCTL_EXIT_USAGE;
	}
	if (optind + 1 != argc) {
		vhctl_err("net: expected exactly one SOCKET (see vhctl net --help)");
		return VHCTL_EXIT_USAGE;
	}
	if ((o->qsize & (o->qsize - 1)) != 0) {
		vhctl_err("net: --qsize must be a power of two");
		return VHCTL_EXIT_USAGE;
	}
	if (!o->window)
		o->window = o->qsize / 2;
	vhctl_backend_path(argv[optind], o->path, sizeof(o->path));
	return -1;
}

static int open_pairs(struct nb *b, unsigned pairs)
{
	unsigned max = 64;
	uint32_t buf;
	struct vh_net_config c = {
		.path = b->o->path,
		.tap_fd = -1,
		.queue_size = b->o->qsize,
		.flags = b->o->packed ? VH_NET_PACKED : 0,
		.name = "vh_net",
		.log = vhctl_log_sink(b->o->verbose),
		.queue_pairs = pairs,
	};
	int err;

	/* The driver's warnings (no config space, ...) are debug lines unless --verbose. */
	if (!b->o->verbose)
		c.log.max_level = VH_LOG_ERR;
	for (unsigned i = 0; i < b->o->nsizes; i++)
		max = b->o->sizes[i] > max ? b->o->sizes[i] : max;
	buf = (max + VH_NET_HDR_LEN + 2047) & ~2047u;
	c.tx_buf_size = buf;
	c.rx_buf_size = buf; /* a whole frame per buffer with or without MRG_RXBUF */
	err = vh_net_create(&c, &b->net);
	if (err < 0) {
		vhctl_err("net: %s: cannot open the virtio-net device with %u queue pair(s): %s",
			  b->o->path, pairs, strerror(-err));
		return err;
	}
	vh_net_get_info(b->net, &b->info);
	b->offered_pairs = vh_dev_max_queues(vh_net_dev(b->net)) / 2;
	if (!b->offered_pairs)
		b->offered_pairs = 1;
	return 0;
}

/* --queue-pairs all: open with one pair to learn how many the backend has, then with those. */
static int open_net(struct nb *b)
{
	unsigned want = b->o->pairs;
	int err = open_pairs(b, want ? want : 1);

	if (err < 0 || want || b->offered_pairs == 1)
		return err;
	vh_net_destroy(&b->net);
	want = b->offered_pairs < VH_NET_MAX_PAIRS ? b->offered_pairs : VH_NET_MAX_PAIRS;
	return open_pairs(b, want);
}

static const char *net_bit_name(unsigned bit, const void *ctx)
{
	(void)ctx;
	return vh_proto_device_feature_name(VIRTIO_ID_NET, bit);
}

static void print_bits(struct vhctl_json *j, const char *key, uint64_t v)
{
	vhctl_print_bits(j, key, v, net_bit_name, NULL, true);
}

static void print_device(struct nb *b, struct vhctl_json *j)
{
	const struct vh_net_info *i = &b->info;
	unsigned pairs = b->offered_pairs;
	char mac[18];

	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", i->mac[0], i->mac[1], i->mac[2],
		 i->mac[3], i->mac[4], i->mac[5]);
	if (j) {
		vhctl_json_str(j, "backend", b->o->path);
		print_bits(j, "offered", i->device_features);
		print_bits(j, "negotiated", i->features);
		vhctl_json_str(j, "mac", i->features & (1ull << VIRTIO_NET_F_MAC) ? mac : NULL);
		vhctl_json_u64(j, "mtu", i->mtu);
		vhctl_json_bool(j, "link_up",
				!(i->features & (1ull << VIRTIO_NET_F_STATUS)) ||
				    (i->status & VIRTIO_NET_S_LINK_UP));
		vhctl_json_u64(j, "queue_pairs_offered", pairs);
		vhctl_json_u64(j, "queue_pairs_used", i->queue_pairs);
		vhctl_json_str(j, "ring", i->packed ? "packed" : "split");
		vhctl_json_u64(j, "queue_size", i->queue_size);
		vhctl_json_bool(j, "mrg_rxbuf", i->mrg_rxbuf);
		vhctl_json_bool(j, "event_idx", i->event_idx);
		return;
	}
	printf("backend: %s\n", b->o->path);
	print_bits(NULL, "offered", i->device_features);
	print_bits(NULL, "negotiated", i->features);
	printf("mac: %s\nmtu: %u\nlink: %s\nqueue pairs: %u offered, %u used\n",
	       i->features & (1ull << VIRTIO_NET_F_MAC) ? mac : "(none offered)", i->mtu,
	       !(i->features & (1ull << VIRTIO_NET_F_STATUS)) ? "up (no VIRTIO_NET_F_STATUS)"
	       : i->status & VIRTIO_NET_S_LINK_UP	      ? "up"
							      : "down",
	       pairs, i->queue_pairs);
	printf("ring: %s, size %u, buffers rx %u tx %u bytes%s%s\n", i->packed ? "packed" : "split",
	       i->queue_size, i->rx_buf_size, i->tx_buf_size, i->mrg_rxbuf ? ", mrg_rxbuf" : "",
	       i->event_idx ? ", event_idx" : "");
}

/* One 64-byte frame: does it come back, and how fast. */
static int net_probe(struct nb *b, struct vhctl_json *j)
{
	struct nb_result r = { .mode = "ping", .size = 64 };
	int err;

	print_device(b, j);
	err = send_one(b, 64);
	if (!err) {
		r.sent = 1;
		for (int tries = 0; tries < 10 && !r.received && err >= 0; tries++) {
			uint64_t t0;

			if (recv_one(b, &r, &t0) == 1)
				hist_add(&r.lat, vhctl_now_ns() - t0);
			else
				err = vh_net_wait(b->net, VH_NET_WAIT_RX, 100);
		}
	}
	if (j)
		vhctl_json_bool(j, "echo", r.received);
	if (j && r.received)
		vhctl_json_double(j, "echo_rtt_us", (double)r.lat.max / 1000.0);
	if (!j && r.received)
		printf("echo: a 64-byte frame came back in %.1f us\n", (double)r.lat.max / 1000.0);
	else if (!j)
		printf("echo: no frame came back within 1 s (not a loopback backend)\n");
	return err < 0 ? err : 0;
}

static int net_bench(struct nb *b, struct vhctl_json *j)
{
	int err = 0;

	if (j) {
		vhctl_json_u64(j, "runtime_s", b->o->runtime);
		vhctl_json_u64(j, "window", b->o->window);
		vhctl_json_begin_array(j, "results");
	} else {
		printf("%-6s %6s %12s %12s %8s %12s %9s %9s %9s %9s %9s %9s\n", "test", "bytes",
		       "sent", "received", "lost", "frames/s", "Mbit/s", "avg(us)", "p50(us)",
		       "p99(us)", "p99.9", "max(us)");
		fflush(stdout);
	}
	for (unsigned s = 0; s < b->o->nsizes && !err; s++) {
		for (unsigned m = NB_PING; m <= NB_FLOOD && !err; m <<= 1) {
			struct nb_result *r = calloc(1, sizeof(*r));

			if (!r)
				return -ENOMEM;
			if (b->o->modes & m) {
				r->mode = m == NB_PING ? "ping" : "flood";
				r->size = b->o->sizes[s];
				err = m == NB_PING ? run_ping(b, r) : run_flood(b, r);
				if (vhctl_progress_wanted(b->o->quiet))
					fputc('\n', stderr);
				if (!err)
					print_result(j, r);
				fflush(stdout);
			}
			free(r);
		}
	}
	if (j)
		vhctl_json_end_array(j);
	if (err == -ETIMEDOUT)
		vhctl_err("net bench: no frame came back within 1 s: the backend must echo "
			  "(vh-net --loopback, testpmd --forward-mode=macswap)");
	else if (err < 0)
		vhctl_err("net bench: %s", strerror(-err));
	return err;
}

int vhctl_net(int argc, char **argv)
{
	struct nb_opts o;
	struct nb *b;
	struct vhctl_json jw = { .f = stdout }, *j = NULL;
	bool bench;
	int rc;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		fputs(net_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? VHCTL_EXIT_USAGE : 0;
	}
	if (strcmp(argv[1], "probe") && strcmp(argv[1], "bench")) {
		vhctl_err("net: unknown subcommand '%s' (probe, bench)", argv[1]);
		return VHCTL_EXIT_USAGE;
	}
	bench = !strcmp(argv[1], "bench");
	rc = parse(&o, argc - 1, argv + 1);
	if (rc >= 0)
		return rc;
	b = calloc(1, sizeof(*b));
	if (!b)
		return VHCTL_EXIT_FAIL;
	b->o = &o;
	if (open_net(b) < 0) {
		free(b);
		return VHCTL_EXIT_FAIL;
	}
	if (o.json) {
		j = &jw;
		vhctl_json_begin(j, NULL);
	}
	if (bench && !j)
		printf("vhctl net bench: %s, runtime %us per test, window %u\n", o.path, o.runtime,
		       o.window);
	if (bench && j)
		print_device(b, j);
	rc = bench ? net_bench(b, j) : net_probe(b, j);
	if (j)
		vhctl_json_end(j);
	vh_net_destroy(&b->net);
	free(b);
	return rc < 0 ? VHCTL_EXIT_FAIL : 0;
}
