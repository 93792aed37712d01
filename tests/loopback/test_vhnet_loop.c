/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vh-net --loopback (devices/vh-net, the real daemon, spawned) driven by our userspace virtio-net
 * driver (vh_net) over its unix socket: every frame sent comes back byte for byte with the
 * source and destination MAC swapped (virtio 1.2 §5.1.6), split and packed rings, with and
 * without VIRTIO_NET_F_MRG_RXBUF. Checked: the config space (MAC, MTU, link status), frames of
 * 14..9014 bytes and how many receive buffers they took, a burst larger than both rings with
 * nobody receiving (the device waits for receive buffers: nothing is lost, order is kept),
 * frames the device must drop (offload flags it did not offer, shorter than an Ethernet header,
 * larger than one receive buffer without MRG_RXBUF) without disturbing the next one. The daemon
 * must exit 0 on SIGTERM and remove its socket.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include <vhost/net.h>

#include "unit_helpers.h"

#define QSIZE	   64u
#define RX_BUF	   2048u
#define TX_BUF	   9216u
#define MTU	   9000u
#define MAX_FRAME  (MTU + 14u)
#define ETHERTYPE0 0x88 /* 0x88b5: IEEE local experimental */
#define ETHERTYPE1 0xb5

static const uint8_t dev_mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
static const uint8_t peer_mac[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee };

struct t {
	char dir[64], sock[96];
	pid_t pid;
	bool packed, no_mrg;
	struct vh_net *net;
	uint8_t buf[MAX_FRAME + 64];
};

static void spawn(struct t *t)
{
	char bin[256];
	const char *argv[16];
	unsigned n = 0;

	vh_test_build_path(bin, sizeof(bin), "devices/vh-net/vh-net");
	argv[n++] = bin;
	argv[n++] = "--socket-path";
	argv[n++] = t->sock;
	argv[n++] = "--loopback";
	argv[n++] = "--mac";
	argv[n++] = "02:11:22:33:44:55";
	argv[n++] = "--mtu";
	argv[n++] = "9000";
	argv[n++] = "--queue-size";
	argv[n++] = "256";
	if (t->no_mrg)
		argv[n++] = "--no-mrg-rxbuf";
	argv[n] = NULL;
	t->pid = vh_test_spawn_daemon(argv, t->sock);
}

static void setup(struct t *t, bool packed, bool no_mrg)
{
	char path[128];
	struct vh_net_config c = {
		.path = path,
		.tap_fd = -1,
		.queue_size = QSIZE,
		.rx_buf_size = RX_BUF,
		.tx_buf_size = TX_BUF,
		/* Unchecked headers: check_drops() sends what a broken driver would. */
		.flags = (packed ? VH_NET_PACKED : 0) | (no_mrg ? VH_NET_NO_MRG_RXBUF : 0) |
			 VH_NET_TX_UNCHECKED,
		.timeout_ms = 3000,
		.name = "vhnet-loop",
	};

	memset(t, 0, sizeof(*t));
	t->packed = packed;
	t->no_mrg = no_mrg;
	snprintf(t->dir, sizeof(t->dir), "/tmp/vh-net-lb-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->sock, sizeof(t->sock), "%s/sock", t->dir);
	spawn(t);
	snprintf(path, sizeof(path), "unix:%s", t->sock);
	assert_int_equal(vh_net_create(&c, &t->net), 0);
}

static void teardown(struct t *t)
{
	vh_net_destroy(&t->net);
	/* Backend program conventions: SIGTERM is a clean exit that removes the socket. */
	vh_test_stop_daemon(t->pid, t->sock);
	rmdir(t->dir);
}

/* Frame @seq of @len bytes (>= 14): to the device's MAC from the peer's, then a pattern. */
static void make_frame(uint8_t *f, size_t len, uint32_t seq)
{
	memcpy(f, dev_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	f[12] = ETHERTYPE0;
	f[13] = ETHERTYPE1;
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(seq * 31 + i * 7 + (i >> 8));
	if (len >= 18)
		memcpy(f + 14, &seq, 4);
}

/* The frame as it must come back: MACs exchanged, everything else untouched. */
static void check_echo(const uint8_t *got, size_t len, uint32_t seq)
{
	uint8_t want[MAX_FRAME];

	make_frame(want, len, seq);
	assert_memory_equal(got, peer_mac, 6);
	assert_memory_equal(got + 6, dev_mac, 6);
	assert_memory_equal(got + 12, want + 12, len - 12);
}

/* Receive one frame within @ms; 1 got it, 0 nothing came. */
static int recv_ms(struct t *t, struct vh_net_rx_info *info, int ms)
{
	int r = vh_net_recv(t->net, t->buf, sizeof(t->buf), info);

	if (r)
		return r;
	r = vh_net_wait(t->net, VH_NET_WAIT_RX, ms);
	assert_true(r >= 0);
	return r ? vh_net_recv(t->net, t->buf, sizeof(t->buf), info) : 0;
}

static void send_frame(struct t *t, size_t len, uint32_t seq, const struct virtio_net_hdr *hdr)
{
	uint8_t f[MAX_FRAME];

	make_frame(f, len, seq);
	assert_int_equal(vh_net_send(t->net, f, len, hdr), 0);
}

static void expect_echo(struct t *t, size_t len, uint32_t seq, unsigned nbufs)
{
	struct vh_net_rx_info info;

	assert_int_equal(recv_ms(t, &info, 3000), 1);
	assert_int_equal(info.len, len);
	check_echo(t->buf, len, seq);
	assert_int_equal(info.nbufs, nbufs);
	assert_int_equal(info.hdr.num_buffers, nbufs);
	assert_int_equal(info.hdr.hdr.flags, 0);
	assert_int_equal(info.hdr.hdr.gso_type, VIRTIO_NET_HDR_GSO_NONE);
}

static void check_config(struct t *t)
{
	struct vh_net_info info;

	vh_net_get_info(t->net, &info);
	assert_memory_equal(info.mac, dev_mac, 6);
	assert_int_equal(info.mtu, MTU);
	assert_int_equal(info.status, VIRTIO_NET_S_LINK_UP);
	assert_int_equal(info.mrg_rxbuf, !t->no_mrg);
	assert_int_equal(info.packed, t->packed);
	assert_true(info.features & (1ull << VIRTIO_NET_F_MAC));
	assert_true(info.features & (1ull << VIRTIO_NET_F_MTU));
	assert_true(info.features & (1ull << VIRTIO_NET_F_STATUS));
}

static void check_sizes(struct t *t)
{
	/* Header + frame per receive buffer of RX_BUF bytes. */
	static const size_t sizes[] = { 14, 60, 1514, RX_BUF - 12, RX_BUF - 11, 4096, MAX_FRAME };
	uint32_t seq = 100;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++, seq++) {
		size_t len = sizes[i];
		unsigned nbufs = (unsigned)((len + 12 + RX_BUF - 1) / RX_BUF);

		send_frame(t, len, seq, NULL);
		if (t->no_mrg && nbufs > 1)
			continue; /* dropped: the next frame must come back instead */
		expect_echo(t, len, seq, nbufs);
	}
}

/* More frames than both rings hold, nobody receiving for a while: all come back, in order. */
static void check_burst(struct t *t)
{
	const uint32_t total = 5 * QSIZE, base = 1000;
	uint32_t sent = 0, got = 0;
	struct vh_net_rx_info info;
	uint8_t f[128];

	while (got < total) {
		while (sent < total) {
			make_frame(f, 60 + sent % 64, base + sent);
			int r = vh_net_send(t->net, f, 60 + sent % 64, NULL);

			if (r == -EAGAIN)
				break;
			assert_int_equal(r, 0);
			sent++;
		}
		/*
		 * The ring was full. The device echoes a frame into RX before it completes the TX
		 * chain, so everything can have come back while the TX ring still holds completions
		 * not yet published: wait for them instead of receiving.
		 */
		if (sent == got) {
			assert_int_equal(vh_net_wait(t->net, VH_NET_WAIT_TX, 3000), 1);
			assert_true(vh_net_tx_reap(t->net) >= 0);
			continue;
		}
		assert_int_equal(recv_ms(t, &info, 3000), 1);
		assert_int_equal(info.len, 60 + got % 64);
		check_echo(t->buf, info.len, base + got);
		got++;
	}
	assert_int_equal(recv_ms(t, &info, 200), 0);
}

static void check_drops(struct t *t)
{
	struct virtio_net_hdr csum = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				       .csum_start = 14,
				       .csum_offset = 16 };
	struct virtio_net_hdr gso = { .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 1000 };
	struct vh_net_rx_info info;
	uint8_t f[16];

	/* No CSUM / HOST_TSO4 was offered: such frames are dropped (virtio 1.2 §5.1.6.2.1). */
	send_frame(t, 100, 7, &csum);
	send_frame(t, 100, 8, &gso);
	/* Shorter than an Ethernet header. */
	make_frame(f, 14, 9);
	assert_int_equal(vh_net_send(t->net, f, 13, NULL), 0);
	send_frame(t, 100, 10, NULL);
	expect_echo(t, 100, 10, 1);
	assert_int_equal(recv_ms(t, &info, 200), 0);
}

static void run(bool packed, bool no_mrg)
{
	struct t *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	setup(t, packed, no_mrg);
	check_config(t);
	check_sizes(t);
	check_burst(t);
	check_drops(t);
	teardown(t);
	free(t);
}

static void test_split_mrg(void **state)
{
	(void)state;
	run(false, false);
}

static void test_split_nomrg(void **state)
{
	(void)state;
	run(false, true);
}

static void test_packed_mrg(void **state)
{
	(void)state;
	run(true, false);
}

static void test_packed_nomrg(void **state)
{
	(void)state;
	run(true, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_mrg),
		cmocka_unit_test(test_split_nomrg),
		cmocka_unit_test(test_packed_mrg),
		cmocka_unit_test(test_packed_nomrg),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
