// SPDX-License-Identifier: BSD-3-Clause
/*
 * dpdk_net_echo: a minimal vhost-user net device built on libvhost's backend library (vh_server),
 * for DPDK's virtio-user frontend (test_dpdk_virtio_user.sh). Every frame the driver transmits
 * (ring 1) is checked, its destination and source MAC are exchanged and it is written into the
 * next receive buffer (ring 0) with a virtio_net_hdr_mrg_rxbuf, num_buffers 1.
 *
 *   dpdk_net_echo SOCKET [--seconds S] [--no-mrg] [--poll] [--txonly PEER_MAC]
 *
 * --poll: VH_SERVER_DATAPATH_POLL with one worker thread for both rings (the transmit ring's
 * queue_kick fills receive buffers, so both must share one context); default: event mode.
 * --txonly: every frame must be one of dpdk-testpmd's txonly frames sent to PEER_MAC (IPv4 with a
 * valid header checksum, UDP 9 -> 9, lengths consistent); anything else counts as bad.
 * Runs until SIGTERM / SIGINT or S seconds, then prints
 * "echo: N echoed, D dropped, B bad, first src MAC" and exits 1 if B > 0.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include <vhost/backend.h>
#include <vhost/net.h>
#include <vhost/proto.h>

#define RXQ	  0u
#define TXQ	  1u
#define MAX_FRAME 9000u
#define MAX_IOV	  64u
/* Frames held while the receive ring is not running yet (the driver may enable its transmit
 * ring first and transmit at once, as testpmd --tx-first does): delivered, in order, when it runs. */
#define HELD_MAX   64u
#define HELD_FRAME 2048u

struct echo {
	bool no_mrg;
	bool poll;
	bool txonly;
	uint8_t peer[6];
	double seconds;
	const char *sock;
	uint64_t echoed, dropped, bad;
	uint8_t first_src[6];
	unsigned held_head, nheld;
	uint32_t held_len[HELD_MAX];
	uint8_t held[HELD_MAX][HELD_FRAME];
};

static const char *feature_name(unsigned bit)
{
	/* Bit 6 (legacy VIRTIO_NET_F_GSO) has no constant in <linux/virtio_net.h> any more. */
	if (bit == 6)
		return "VIRTIO_NET_F_GSO";
	return bit < 24 ? vh_net_feature_name(bit) : vh_proto_virtio_feature_name(bit);
}

static void print_features(const char *what, uint64_t f)
{
	unsigned b;

	printf("%s 0x%016llx:", what, (unsigned long long)f);
	for (b = 0; b < 64; b++) {
		if (f & (1ull << b))
			printf(" %s", feature_name(b) ? feature_name(b) : "?");
	}
	printf("\n");
}

static int echo_features_set(void *inst, struct vh_conn *conn, uint64_t features)
{
	print_features("negotiated", features);
	printf("protocol 0x%llx\n", (unsigned long long)vh_conn_protocol_features(conn));
	/* A 12-byte header on both rings is what this device writes (virtio 1.2 §5.1.6). */
	return features & (1ull << VIRTIO_F_VERSION_1) ? 0 : -ENOTSUP;
}

static uint16_t ip_csum(const uint8_t *p, unsigned len)
{
	uint32_t s = 0;
	unsigned i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* dpdk-testpmd's txonly frame: Ethernet to the peer, IPv4 (20 bytes), UDP 9 -> 9. */
static bool txonly_ok(const struct echo *e, const uint8_t *f, unsigned len)
{
	const uint8_t *ip = f + 14, *udp = f + 34;

	if (len < 42 || memcmp(f, e->peer, 6) != 0 || f[12] != 0x08 || f[13] != 0x00)
		return false;
	if (ip[0] != 0x45 || ip[9] != 17 || ip_csum(ip, 20) != 0)
		return false;
	if ((unsigned)(ip[2] << 8 | ip[3]) != len - 14 ||
	    (unsigned)(udp[4] << 8 | udp[5]) != len - 34)
		return false;
	return udp[0] == 0 && udp[1] == 9 && udp[2] == 0 && udp[3] == 9;
}

static size_t gather(const struct vh_vq_elem *el, uint8_t *buf, size_t max)
{
	size_t n = 0;
	unsigned i;

	for (i = 0; i < el->out_num && n < max; i++) {
		size_t c = el->iov[i].iov_len < max - n ? el->iov[i].iov_len : max - n;

		memcpy(buf + n, el->iov[i].iov_base, c);
		n += c;
	}
	return n;
}

static size_t scatter(const struct vh_vq_elem *el, const uint8_t *buf, size_t len)
{
	size_t n = 0;
	unsigned i;

	for (i = el->out_num; i < el->out_num + el->in_num && n < len; i++) {
		size_t c = el->iov[i].iov_len < len - n ? el->iov[i].iov_len : len - n;

		memcpy(el->iov[i].iov_base, buf + n, c);
		n += c;
	}
	return n;
}

/*
 * Put @len bytes (header included) into the next receive buffer; 0 if none is available,
 * -ESHUTDOWN if the receive ring is not running.
 */
static int deliver(struct echo *e, struct vh_queue *rxq, const uint8_t *buf, size_t len)
{
	struct iovec iov[MAX_IOV];
	struct vh_vq_elem el = { .iov = iov, .max_iov = MAX_IOV };
	int r;

	if (!rxq)
		return -ESHUTDOWN;
	r = vh_queue_pop(rxq, &el);
	if (r <= 0)
		return r;
	if (el.in_len < len) {
		/* One buffer must hold the frame: this device never merges. */
		vh_queue_push(rxq, &el, 0);
		return 0;
	}
	scatter(&el, buf, len);
	r = vh_queue_push(rxq, &el, (uint32_t)len);
	return r < 0 ? r : 1;
}

static int echo_one(struct echo *e, struct vh_queue *rxq, const struct vh_vq_elem *el)
{
	uint8_t buf[VH_NET_HDR_LEN + MAX_FRAME], mac[6];
	struct virtio_net_hdr_mrg_rxbuf hdr = { .num_buffers = 1 };
	uint8_t *f = buf + VH_NET_HDR_LEN;
	size_t n = gather(el, buf, sizeof(buf));
	unsigned len;
	int r;

	if (n < VH_NET_HDR_LEN + 14) {
		e->bad++;
		return 0;
	}
	len = (unsigned)(n - VH_NET_HDR_LEN);
	if (!e->echoed && !e->dropped)
		memcpy(e->first_src, f + 6, 6);
	if (e->txonly && !txonly_ok(e, f, len)) {
		e->bad++;
		return 0;
	}
	memcpy(mac, f, 6);
	memcpy(f, f + 6, 6);
	memcpy(f + 6, mac, 6);
	memcpy(buf, &hdr, sizeof(hdr));
	r = e->nheld ? -ESHUTDOWN : deliver(e, rxq, buf, n);
	if (r == -ESHUTDOWN) {
		if (e->nheld < HELD_MAX && n <= HELD_FRAME) {
			unsigned slot = (e->held_head + e->nheld++) % HELD_MAX;

			memcpy(e->held[slot], buf, n);
			e->held_len[slot] = (uint32_t)n;
			return 0;
		}
		r = 0;
	}
	if (r < 0)
		return r;
	if (r)
		e->echoed++;
	else
		e->dropped++;
	return 0;
}

static int echo_queue_kick(void *inst, struct vh_queue *q)
{
	struct echo *e = inst;
	struct vh_queue *rxq;
	struct iovec iov[MAX_IOV];
	struct vh_vq_elem el;
	int r;

	rxq = vh_conn_queue(vh_queue_conn(q), RXQ);
	while (e->nheld) {
		r = deliver(e, rxq, e->held[e->held_head], e->held_len[e->held_head]);
		if (r <= 0)
			break;
		e->echoed++;
		e->held_head = (e->held_head + 1) % HELD_MAX;
		e->nheld--;
	}
	if (vh_queue_index(q) != TXQ) {
		if (rxq)
			vh_queue_notify(rxq);
		return 0; /* receive buffers are taken when a frame arrives */
	}
	for (;;) {
		el = (struct vh_vq_elem){ .iov = iov, .max_iov = MAX_IOV };
		r = vh_queue_pop(q, &el);
		if (r <= 0)
			break;
		r = echo_one(e, rxq, &el);
		if (r < 0)
			break;
		r = vh_queue_push(q, &el, 0);
		if (r < 0)
			break;
	}
	if (rxq)
		vh_queue_notify(rxq);
	return r == -ESHUTDOWN ? 0 : r;
}

static const struct vh_device_ops echo_ops = {
	.features_set = echo_features_set,
	.queue_kick = echo_queue_kick,
};

static int parse(int argc, char **argv, struct echo *e)
{
	static const struct option lo[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "no-mrg", no_argument, NULL, 'm' },
		{ "poll", no_argument, NULL, 'p' },
		{ "txonly", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned m[6];
	int c, i;

	e->seconds = 60;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 's') {
			e->seconds = strtod(optarg, NULL);
		} else if (c == 'm') {
			e->no_mrg = true;
		} else if (c == 'p') {
			e->poll = true;
		} else if (c == 't' && sscanf(optarg, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2],
					      &m[3], &m[4], &m[5]) == 6) {
			e->txonly = true;
			for (i = 0; i < 6; i++)
				e->peer[i] = (uint8_t)m[i];
		} else {
			return -1;
		}
	}
	if (argc - optind != 1)
		return -1;
	e->sock = argv[optind];
	return 0;
}

static int serve(struct echo *e, struct vh_server *srv, int sfd)
{
	struct timespec t0, t;
	struct pollfd p[2] = { { .fd = vh_server_fd(srv), .events = POLLIN },
			       { .fd = sfd, .events = POLLIN } };
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 >
		    e->seconds)
			return 0;
		r = poll(p, 2, 100);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (p[1].revents)
			return 0;
		if (p[0].revents) {
			r = vh_server_dispatch(srv);
			if (r < 0)
				return r;
		}
	}
}

int main(int argc, char **argv)
{
	static struct echo e;
	struct vh_server_config cfg;
	struct vh_server *srv = NULL;
	sigset_t mask;
	int sfd, err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (parse(argc, argv, &e) < 0) {
		fprintf(stderr,
			"usage: %s SOCKET [--seconds S] [--no-mrg] [--poll] [--txonly PEER_MAC]\n",
			argv[0]);
		return 2;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	vh_server_config_init(&cfg);
	cfg.name = "dpdk_net_echo";
	cfg.socket_path = e.sock;
	cfg.ops = &echo_ops;
	cfg.opaque = &e;
	cfg.features = e.no_mrg ? 0 : 1ull << VIRTIO_NET_F_MRG_RXBUF;
	cfg.num_queues = 2;
	if (e.poll) {
		cfg.datapath = VH_SERVER_DATAPATH_POLL;
		cfg.poll_threads = 1;
	}
	err = sfd < 0 ? -errno : vh_server_create(&cfg, &srv);
	if (err >= 0) {
		print_features("offered", cfg.features | vh_server_library_features());
		printf("listening on %s\n", e.sock);
		err = serve(&e, srv, sfd);
	}
	vh_server_destroy(&srv);
	printf("echo: %llu echoed, %llu dropped, %llu bad, first src "
	       "%02x:%02x:%02x:%02x:%02x:%02x\n",
	       (unsigned long long)e.echoed, (unsigned long long)e.dropped,
	       (unsigned long long)e.bad, e.first_src[0], e.first_src[1], e.first_src[2],
	       e.first_src[3], e.first_src[4], e.first_src[5]);
	if (err < 0)
		fprintf(stderr, "dpdk_net_echo: %s\n", strerror(-err));
	return err < 0 || e.bad ? 1 : 0;
}
