/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vh-net --loopback (devices/vh-net, spawned) against hand-built chains (our frontend vh_dev and
 * the driver side of vq/, split rings): what a guest may get wrong. Each bad chain must be
 * completed without being delivered, and the good frame after it must come back intact:
 *   receive buffers: device-readable (virtio 1.2 §5.1.6.3), shorter than the header
 *   (§5.1.6.3.1): returned with used length 0, the next buffer takes the frame;
 *   transmit chains: with a device-writable part (§5.1.6.2), shorter than the header, a header
 *   and no frame, NEEDS_CSUM that was not offered: completed with used length 0, not echoed;
 *   a header split over two descriptors and the frame over three: echoed byte for byte.
 * Offloads (virtio 1.2 §5.1.6.2, §5.1.6.4; loopback echoes the header): NEEDS_CSUM and TSO4
 * headers come back byte for byte; without GUEST_CSUM the checksum is completed in software
 * and the TSO frame dropped; GUEST_TSO4 without GUEST_CSUM is refused at SET_FEATURES.
 * Control queue (§5.1.6.5, exact command bytes and ack byte): RX modes, MAC table, MAC address,
 * VLAN filter, announce ack, MQ pairs; the receive filter applied to echoed frames.
 * Poll mode (--poll: the pair on one worker, the control queue on another) and the event-mode
 * poll window (--poll-us) run some of the same tests.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include <vhost/frontend.h>
#include <vhost/vq.h>

#include "unit_helpers.h"

#define MEM_SIZE    (1u << 20)
#define NUM	    64u
#define RX	    0u
#define TX	    1u
#define RING_GPA(q) (0x10000ull + (q)*0x6000ull)
#define TXBUF_GPA   0x40000ull
#define RXBUF_GPA   0x80000ull
#define CTRL_GPA    0xe0000ull
#define HDR	    12u
#define NO_REPLY    (-1000)
#define MAX_RINGS   5u
#define BIT(f)	    (1ull << (f))

/* How vh-net is started and what the test's driver accepts. */
struct params {
	const char *args[4]; /* extra vh-net arguments */
	uint64_t clear;	     /* features not acked */
	unsigned rings;	     /* rings set up: the pairs and the control queue */
};

struct t {
	char dir[64], sock[96];
	pid_t pid;
	int memfd;
	uint8_t *mem;
	struct vh_dev *dev;
	struct vh_vq_driver *drv[MAX_RINGS];
	unsigned rings;
	uint64_t rx_next; /* next free receive buffer address */
	int ack_err;	  /* vh_dev_ack_features() */
};

static const struct params plain = { { "--no-offloads" }, 0, 2 };

static void spawn(struct t *t, const struct params *pr)
{
	char bin[256];
	const char *argv[16] = { bin, "--socket-path", t->sock, "--queue-size", "256" };
	unsigned n = 5;

	if (!pr->args[0] || strcmp(pr->args[0], "--tap"))
		argv[n++] = "--loopback";
	for (unsigned i = 0; i < 4 && pr->args[i]; i++)
		argv[n++] = pr->args[i];
	vh_test_build_path(bin, sizeof(bin), "devices/vh-net/vh-net");
	t->pid = vh_test_spawn_daemon(argv, t->sock);
}

static void ring_setup(struct t *t, unsigned q)
{
	struct vh_vq_driver_config vc = { .num = NUM,
					  .host = t->mem,
					  .gpa = 0,
					  .size = MEM_SIZE,
					  .ring_gpa = RING_GPA(q),
					  .name = "vhnet-bad driver" };
	struct vh_dev_vring vr = { .index = q, .num = NUM, .kick_fd = -1, .call_fd = -1 };

	vh_test_dev_ring(t->dev, &vc, &vr, &t->drv[q]);
}

static int setup(void **state)
{
	const struct params *pr = *state ? *state : &plain;
	struct t *t = calloc(1, sizeof(*t));
	char url[128];
	struct vh_dev_config dc = {
		.path = url,
		.features = ~0ull & ~(1ull << VIRTIO_F_RING_PACKED) &
			    ~(1ull << VIRTIO_F_ACCESS_PLATFORM) &
			    ~(1ull << VIRTIO_RING_F_EVENT_IDX) & ~pr->clear,
		.num_queues = pr->rings,
		.timeout_ms = 3000,
		.name = "vhnet-bad",
	};

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/vh-net-bad-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->sock, sizeof(t->sock), "%s/sock", t->dir);
	spawn(t, pr);
	snprintf(url, sizeof(url), "unix:%s", t->sock);
	t->mem = vh_test_guest_ram(MEM_SIZE, &t->memfd);
	assert_int_equal(vh_dev_create(&dc, &t->dev), 0);
	t->rings = pr->rings;
	*state = t;
	t->ack_err = vh_dev_ack_features(t->dev, vh_dev_features(t->dev));
	if (t->ack_err)
		return 0;
	vh_test_dev_mem(t->dev, t->mem, t->memfd, MEM_SIZE);
	for (unsigned q = 0; q < t->rings; q++)
		ring_setup(t, q);
	assert_int_equal(vh_dev_start(t->dev), 0);
	t->rx_next = RXBUF_GPA;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	vh_dev_destroy(&t->dev);
	for (unsigned q = 0; q < MAX_RINGS; q++)
		vh_vq_driver_destroy(&t->drv[q]);
	munmap(t->mem, MEM_SIZE);
	close(t->memfd);
	vh_test_stop_daemon(t->pid, t->sock);
	rmdir(t->dir);
	free(t);
	return 0;
}

static void add(struct t *t, unsigned q, const struct vh_vq_buf *bufs, unsigned out, unsigned in,
		uintptr_t token)
{
	struct vh_vq_driver_req req = {
		.bufs = bufs, .out_num = out, .in_num = in, .token = (void *)token
	};
	uint64_t one = 1;

	assert_int_equal(vh_vq_driver_add(t->drv[q], &req), 0);
	vh_vq_driver_publish(t->drv[q]);
	assert_int_equal(write(vh_dev_vring_kick_fd(t->dev, q), &one, 8), 8);
}

/* The next completion on ring @q within 2 s: its token and used length (NO_REPLY: none). */
static int64_t used(struct t *t, unsigned q, uintptr_t *token)
{
	struct pollfd p = { .fd = vh_dev_vring_call_fd(t->dev, q), .events = POLLIN };
	uint64_t v;
	void *tok;
	uint32_t len;

	for (int waited = 0; waited <= 2000; waited += 10) {
		if (vh_vq_driver_get_used(t->drv[q], &tok, &len) == 1) {
			*token = (uintptr_t)tok;
			return len;
		}
		if (poll(&p, 1, 10) == 1)
			assert_int_equal(read(p.fd, &v, 8), 8);
	}
	return NO_REPLY;
}

/* A receive buffer of @len writable bytes. */
static void post_rx(struct t *t, uint32_t len, uintptr_t token)
{
	struct vh_vq_buf b = { .gpa = t->rx_next, .len = len };

	memset(t->mem + b.gpa, 0xee, len);
	t->rx_next += 0x1000;
	add(t, RX, &b, 0, 1, token);
}

/* Frame @seq (60 bytes) at @gpa, header (zero) in front. */
static void put_frame(struct t *t, uint64_t gpa, uint8_t seq)
{
	uint8_t *p = t->mem + gpa;

	memset(p, 0, HDR);
	for (unsigned i = 0; i < 60; i++)
		p[HDR + i] = (uint8_t)(i < 6 ? 0x02 : i < 12 ? 0x04 : seq + i);
	p[HDR + 5] = 1;
	p[HDR + 11] = 2;
}

/* The receive buffer @token (at @gpa) holds frame @seq with MACs swapped, num_buffers 1. */
static void check_rx(struct t *t, uint64_t gpa, uint8_t seq)
{
	const uint8_t *p = t->mem + gpa;
	struct virtio_net_hdr_mrg_rxbuf h;

	memcpy(&h, p, sizeof(h));
	assert_int_equal(h.hdr.flags, 0);
	assert_int_equal(h.hdr.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	assert_int_equal(h.num_buffers, 1);
	for (unsigned i = 0; i < 60; i++) {
		uint8_t want = (uint8_t)(i < 6 ? 0x04 : i < 12 ? 0x02 : seq + i);

		if (i == 5)
			want = 2;
		if (i == 11)
			want = 1;
		assert_int_equal(p[HDR + i], want);
	}
}

/* Send good frame @seq from one descriptor; expect it on the receive buffer @rx_token. */
static void good_frame(struct t *t, uint8_t seq, uintptr_t rx_token, uint64_t rx_gpa)
{
	struct vh_vq_buf b = { .gpa = TXBUF_GPA + 0x1000, .len = HDR + 60 };
	uintptr_t tok;

	put_frame(t, b.gpa, seq);
	add(t, TX, &b, 1, 0, 100 + seq);
	assert_int_equal(used(t, TX, &tok), 0);
	assert_int_equal(tok, 100 + seq);
	assert_int_equal(used(t, RX, &tok), HDR + 60);
	assert_int_equal(tok, rx_token);
	check_rx(t, rx_gpa, seq);
}

static void test_bad_rx_buffers(void **state)
{
	struct t *t = *state;
	struct vh_vq_buf ro = { .gpa = RXBUF_GPA + 0x20000, .len = 2048 };
	struct vh_vq_buf tx = { .gpa = TXBUF_GPA, .len = HDR + 60 };
	uint64_t good;
	uintptr_t tok;

	/* Device-readable receive buffer, then one shorter than the header, then a good one. */
	add(t, RX, &ro, 1, 0, 1);
	post_rx(t, HDR - 1, 2);
	good = t->rx_next;
	post_rx(t, 2048, 3);
	put_frame(t, tx.gpa, 1);
	add(t, TX, &tx, 1, 0, 4);
	assert_int_equal(used(t, TX, &tok), 0);
	assert_int_equal(tok, 4);
	/* The bad ones come back unused, in the order they were taken, the frame in the good one. */
	assert_int_equal(used(t, RX, &tok), 0);
	assert_int_equal(tok, 1);
	assert_int_equal(used(t, RX, &tok), 0);
	assert_int_equal(tok, 2);
	assert_int_equal(used(t, RX, &tok), HDR + 60);
	assert_int_equal(tok, 3);
	check_rx(t, good, 1);
	/* The ring still works. */
	good = t->rx_next;
	post_rx(t, 2048, 5);
	good_frame(t, 2, 5, good);
	assert_int_equal(used(t, RX, &tok), NO_REPLY);
}

static void test_bad_tx_chains(void **state)
{
	struct t *t = *state;
	const uint64_t g = TXBUF_GPA;
	struct vh_vq_buf writable[2] = { { g, HDR + 60 }, { g + 0x800, 64 } };
	struct vh_vq_buf short_hdr = { g + 0x2000, HDR - 2 };
	struct vh_vq_buf hdr_only = { g + 0x3000, HDR };
	struct vh_vq_buf csum = { g + 0x4000, HDR + 60 };
	struct virtio_net_hdr_mrg_rxbuf h = { .hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM };
	uint64_t good = t->rx_next;
	uintptr_t tok;

	post_rx(t, 2048, 10);
	put_frame(t, g, 20);
	add(t, TX, writable, 1, 1, 20);
	memset(t->mem + short_hdr.gpa, 0, short_hdr.len);
	add(t, TX, &short_hdr, 1, 0, 21);
	memset(t->mem + hdr_only.gpa, 0, hdr_only.len);
	add(t, TX, &hdr_only, 1, 0, 22);
	put_frame(t, csum.gpa, 23);
	memcpy(t->mem + csum.gpa, &h, sizeof(h));
	add(t, TX, &csum, 1, 0, 23);
	for (uintptr_t want = 20; want <= 23; want++) {
		assert_int_equal(used(t, TX, &tok), 0);
		assert_int_equal(tok, want);
	}
	/* None of them reached the receive queue: the next frame takes the buffer. */
	good_frame(t, 24, 10, good);
}

static void test_split_header(void **state)
{
	struct t *t = *state;
	const uint64_t g = TXBUF_GPA + 0x8000;
	/* The header in two pieces, the frame in three (one starting mid-MAC). */
	struct vh_vq_buf b[5] = {
		{ g, 5 }, { g + 5, 7 }, { g + 12, 3 }, { g + 15, 40 }, { g + 55, 17 }
	};
	uint64_t good = t->rx_next;
	uintptr_t tok;

	post_rx(t, 2048, 30);
	put_frame(t, g, 31);
	add(t, TX, b, 5, 0, 31);
	assert_int_equal(used(t, TX, &tok), 0);
	assert_int_equal(tok, 31);
	assert_int_equal(used(t, RX, &tok), HDR + 60);
	assert_int_equal(tok, 30);
	check_rx(t, good, 31);
}

/* ---- offloads ------------------------------------------------------------------------------- */

#define GUEST_RX_OFFLOADS                                              \
	(BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_TSO4) | \
	 BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_GUEST_ECN) |  \
	 BIT(VIRTIO_NET_F_GUEST_UFO) | BIT(54) | BIT(55))

static const struct params offl = { { NULL }, 0, 2 };
static const struct params offl_nocsum = { { NULL }, GUEST_RX_OFFLOADS, 2 };
static const struct params offl_bad = { { NULL }, BIT(VIRTIO_NET_F_GUEST_CSUM), 2 };

/* Frame @seq of @len bytes at @gpa after header @h (12 bytes as the driver writes them). */
static void put_hdr_frame(struct t *t, uint64_t gpa, const uint8_t h[HDR], uint8_t seq,
			  unsigned len)
{
	uint8_t *p = t->mem + gpa;

	memcpy(p, h, HDR);
	for (unsigned i = 0; i < len; i++)
		p[HDR + i] = (uint8_t)(i < 6 ? 0x02 : i < 12 ? 0x04 : seq + i);
}

/* The echoed frame: MACs exchanged, the rest as sent except bytes @skip and @skip + 1. */
static void check_echo(struct t *t, uint64_t gpa, uint8_t seq, unsigned len, unsigned skip)
{
	const uint8_t *p = t->mem + gpa + HDR;

	for (unsigned i = 0; i < len; i++) {
		uint8_t want = (uint8_t)(i < 6 ? 0x04 : i < 12 ? 0x02 : seq + i);

		if (i != skip && i != skip + 1)
			assert_int_equal(p[i], want);
	}
}

/* Transmit @h + frame @seq (@len bytes); expect it on a fresh 4 KiB buffer with header @want. */
static void echo_hdr(struct t *t, const uint8_t h[HDR], uint8_t seq, unsigned len,
		     const uint8_t want[HDR])
{
	struct vh_vq_buf b = { .gpa = TXBUF_GPA + 0x8000, .len = HDR + len };
	uint64_t rx = t->rx_next;
	uintptr_t tok;

	post_rx(t, 4096, 200 + seq);
	put_hdr_frame(t, b.gpa, h, seq, len);
	add(t, TX, &b, 1, 0, 300 + seq);
	assert_int_equal(used(t, TX, &tok), 0);
	assert_int_equal(tok, 300 + seq);
	assert_int_equal(used(t, RX, &tok), HDR + len);
	assert_int_equal(tok, 200 + seq);
	assert_memory_equal(t->mem + rx, want, HDR);
	check_echo(t, rx, seq, len, len);
}

/* Transmit @h + frame @seq: completed, never delivered (the next good frame takes the buffer). */
static void tx_dropped(struct t *t, const uint8_t h[HDR], uint8_t seq, unsigned len)
{
	struct vh_vq_buf b = { .gpa = TXBUF_GPA + 0x8000, .len = HDR + len };
	uint64_t rx = t->rx_next;
	uintptr_t tok;

	post_rx(t, 4096, 400 + seq);
	put_hdr_frame(t, b.gpa, h, seq, len);
	add(t, TX, &b, 1, 0, 500 + seq);
	assert_int_equal(used(t, TX, &tok), 0);
	assert_int_equal(tok, 500 + seq);
	good_frame(t, (uint8_t)(seq + 1), 400 + seq, rx);
}

/* NEEDS_CSUM, csum_start 34, csum_offset 16 (TCP over IPv4). */
static const uint8_t hdr_csum[HDR] = { 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
				       0x22, 0x00, 0x10, 0x00, 0x00, 0x00 };
/* The same with TSO4: hdr_len 54, gso_size 1448. */
static const uint8_t hdr_tso4[HDR] = { 0x01, 0x01, 0x36, 0x00, 0xa8, 0x05,
				       0x22, 0x00, 0x10, 0x00, 0x00, 0x00 };

static void test_offload_echo(void **state)
{
	struct t *t = *state;
	/* Back as sent, num_buffers 1 (virtio 1.2 §5.1.6.4). */
	static const uint8_t want_csum[HDR] = { 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
						0x22, 0x00, 0x10, 0x00, 0x01, 0x00 };
	static const uint8_t want_tso4[HDR] = { 0x01, 0x01, 0x36, 0x00, 0xa8, 0x05,
						0x22, 0x00, 0x10, 0x00, 0x01, 0x00 };
	static const uint8_t plain_hdr[HDR] = { 0 };
	uint64_t f = vh_dev_features(t->dev);

	assert_int_equal(t->ack_err, 0);
	assert_true(f & BIT(VIRTIO_NET_F_CSUM));
	assert_true(f & BIT(VIRTIO_NET_F_GUEST_TSO4));
	echo_hdr(t, hdr_csum, 1, 60, want_csum);
	echo_hdr(t, hdr_tso4, 2, 3000, want_tso4);
	/* Longer than the MTU without a GSO type: dropped. */
	tx_dropped(t, plain_hdr, 3, 3000);
}

/*
 * NEEDS_CSUM at csum_start 34, csum_offset 6 (UDP) in a @len-byte frame; the field holds a
 * pseudo-header sum. The driver cannot take a partial checksum: a plain header comes back, the
 * sum filled in (frames longer than vh-net's 64-byte peek take the whole-frame path).
 */
static void sw_csum_len(struct t *t, unsigned len, uint8_t seq, uintptr_t id)
{
	static const uint8_t h[HDR] = { 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
					0x22, 0x00, 0x06, 0x00, 0x00, 0x00 };
	static const uint8_t zero_hdr1[HDR] = { [10] = 0x01 };
	struct vh_vq_buf b = { .gpa = TXBUF_GPA + 0x8000, .len = HDR + len };
	uint64_t rx = t->rx_next;
	const uint8_t *got = t->mem + rx + HDR;
	uint32_t sum = 0;
	uintptr_t tok;

	post_rx(t, 4096, id);
	put_hdr_frame(t, b.gpa, h, seq, len);
	t->mem[b.gpa + HDR + 40] = 0x12;
	t->mem[b.gpa + HDR + 41] = 0x34;
	add(t, TX, &b, 1, 0, id + 1);
	assert_int_equal(used(t, TX, &tok), 0);
	assert_int_equal(used(t, RX, &tok), HDR + len);
	assert_int_equal(tok, id);
	assert_memory_equal(t->mem + rx, zero_hdr1, HDR);
	check_echo(t, rx, seq, len, 40);
	for (unsigned i = 34; i < len; i += 2)
		sum +=
		    i == 40 ? 0x1234u : (unsigned)(uint8_t)(seq + i) << 8 | (uint8_t)(seq + i + 1);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	assert_int_equal(got[40] << 8 | got[41], ~sum & 0xffff);
}

static void test_offload_sw_csum(void **state)
{
	struct t *t = *state;

	assert_int_equal(t->ack_err, 0);
	assert_false(vh_dev_features(t->dev) & BIT(VIRTIO_NET_F_GUEST_CSUM));
	sw_csum_len(t, 60, 7, 1);
	sw_csum_len(t, 300, 9, 3);
	/* A TSO frame it cannot take on receive is dropped (loopback does not segment). */
	tx_dropped(t, hdr_tso4, 8, 3000);
}

static void test_offload_refused(void **state)
{
	struct t *t = *state;

	/* virtio 1.2 §5.1.3.1: GUEST_TSO4 needs GUEST_CSUM; vh-net refuses SET_FEATURES. */
	assert_true(vh_dev_features(t->dev) & BIT(VIRTIO_NET_F_GUEST_TSO4));
	assert_true(t->ack_err < 0);
}

/* ---- control queue ------------------------------------------------------------------------- */

static const struct params ctrl1 = { { "--no-offloads" }, 0, 3 };
static const struct params ctrl_mq = { { "--no-offloads", "--queue-pairs", "2" }, 0, 5 };
/* Poll mode: the pair on one worker, the control queue on the other (filter across threads). */
static const struct params ctrl_poll = { { "--no-offloads", "--poll", "--poll-threads", "2" },
					 0,
					 3 };
static const struct params offl_poll = { { "--poll" }, 0, 2 };
static const struct params plain_poll_us = { { "--no-offloads", "--poll-us", "100" }, 0, 2 };

static const uint8_t our_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t other_mac[6] = { 0x04, 0x04, 0x04, 0x04, 0x04, 0x02 };
static const uint8_t mcast_mac[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb };
static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* Command @cmd (@len bytes: class, command, data) on the control queue; returns the ack byte. */
static uint8_t ctrl(struct t *t, const uint8_t *cmd, uint32_t len)
{
	static uintptr_t token = 1000;
	unsigned q = t->rings - 1;
	struct vh_vq_buf b[2] = { { CTRL_GPA, len }, { CTRL_GPA + 0x4000, 1 } };
	uintptr_t tok;

	memcpy(t->mem + CTRL_GPA, cmd, len);
	t->mem[CTRL_GPA + 0x4000] = 0xee;
	add(t, q, b, 1, 1, ++token);
	assert_int_equal(used(t, q, &tok), 1);
	assert_int_equal(tok, token);
	return t->mem[CTRL_GPA + 0x4000];
}

#define CTRL_CMD(t, ...) \
	ctrl(t, (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ }))

/* Transmit a 60-byte frame from @src (tagged with @vid if >= 0); it echoes back to @src. */
static void tx_from(struct t *t, const uint8_t src[6], int vid, uint8_t seq)
{
	struct vh_vq_buf b = { .gpa = TXBUF_GPA + 0xa000, .len = HDR + 60 };
	uint8_t *p = t->mem + b.gpa;
	uintptr_t tok;

	put_frame(t, b.gpa, seq);
	memcpy(p + HDR + 6, src, 6);
	if (vid >= 0) {
		p[HDR + 12] = 0x81;
		p[HDR + 13] = 0x00;
		p[HDR + 14] = (uint8_t)(vid >> 8);
		p[HDR + 15] = (uint8_t)vid;
	}
	add(t, TX, &b, 1, 0, 600 + seq);
	assert_int_equal(used(t, TX, &tok), 0);
	assert_int_equal(tok, 600 + seq);
}

/* The next receive completion is buffer @token at @gpa holding the echo of frame @seq. */
static void rx_got(struct t *t, uintptr_t token, uint64_t gpa, const uint8_t src[6], uint8_t seq)
{
	uintptr_t tok;

	assert_int_equal(used(t, RX, &tok), HDR + 60);
	assert_int_equal(tok, token);
	assert_memory_equal(t->mem + gpa + HDR, src, 6);
	assert_int_equal(t->mem[gpa + HDR + 59], (uint8_t)(seq + 59));
}

/* A frame from @src (VLAN @vid, -1 untagged) comes back. */
static void passes(struct t *t, const uint8_t src[6], int vid, uint8_t seq)
{
	uint64_t gpa = t->rx_next;

	post_rx(t, 2048, 700 + seq);
	tx_from(t, src, vid, seq);
	rx_got(t, 700 + seq, gpa, src, seq);
}

/* Frame @seq from @no_src is filtered: frame @seq + 1 from @yes_src takes the buffer. */
static void filtered(struct t *t, const uint8_t no_src[6], int no_vid, const uint8_t yes_src[6],
		     int yes_vid, uint8_t seq)
{
	uint64_t gpa = t->rx_next;

	post_rx(t, 2048, 700 + seq);
	tx_from(t, no_src, no_vid, seq);
	tx_from(t, yes_src, yes_vid, (uint8_t)(seq + 1));
	rx_got(t, 700 + seq, gpa, yes_src, (uint8_t)(seq + 1));
}

static void test_ctrl_rx_filter(void **state)
{
	struct t *t = *state;
	uint8_t mac[6];

	assert_int_equal(t->ack_err, 0);
	assert_true(vh_dev_features(t->dev) & BIT(VIRTIO_NET_F_CTRL_VQ));
	/* Promiscuous until told otherwise: anything comes back. */
	passes(t, other_mac, -1, 0);
	passes(t, mcast_mac, 3000, 1);
	/* VIRTIO_NET_CTRL_RX_PROMISC off: only our MAC (and broadcast). */
	assert_int_equal(CTRL_CMD(t, 0x00, 0x00, 0x00), 0x00);
	filtered(t, other_mac, -1, our_mac, -1, 2);
	/* VIRTIO_NET_CTRL_MAC_TABLE_SET: one unicast entry, no multicast ones. */
	assert_int_equal(CTRL_CMD(t, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04, 0x04, 0x04, 0x04,
				  0x04, 0x02, 0x00, 0x00, 0x00, 0x00),
			 0x00);
	filtered(t, mcast_mac, -1, other_mac, -1, 4);
	/* VIRTIO_NET_CTRL_RX_ALLMULTI on, then NOBCAST on. */
	assert_int_equal(CTRL_CMD(t, 0x00, 0x01, 0x01), 0x00);
	assert_int_equal(CTRL_CMD(t, 0x00, 0x05, 0x01), 0x00);
	filtered(t, bcast_mac, -1, mcast_mac, -1, 6);
	/* NOUNI on: unicast stops, even ours. */
	assert_int_equal(CTRL_CMD(t, 0x00, 0x04, 0x01), 0x00);
	filtered(t, our_mac, -1, mcast_mac, -1, 8);
	/* VIRTIO_NET_ERR: no data, too much data, unknown class, MQ not negotiated, a MAC table
	 * whose count does not match its bytes. */
	assert_int_equal(CTRL_CMD(t, 0x00, 0x00), 0x01);
	assert_int_equal(CTRL_CMD(t, 0x00, 0x00, 0x01, 0x01), 0x01);
	assert_int_equal(CTRL_CMD(t, 0x09, 0x00), 0x01);
	assert_int_equal(CTRL_CMD(t, 0x04, 0x00, 0x01, 0x00), 0x01);
	assert_int_equal(CTRL_CMD(t, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x04, 0x04, 0x04, 0x04,
				  0x04, 0x02, 0x00, 0x00, 0x00, 0x00),
			 0x01);
	/* VIRTIO_NET_CTRL_ANNOUNCE_ACK; VIRTIO_NET_CTRL_MAC_ADDR_SET shows in the config space. */
	assert_int_equal(CTRL_CMD(t, 0x03, 0x00), 0x00);
	assert_int_equal(CTRL_CMD(t, 0x01, 0x01, 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc), 0x00);
	assert_int_equal(vh_dev_get_config(t->dev, 0, mac, 6), 0);
	assert_memory_equal(mac, ((const uint8_t[]){ 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc }), 6);
	/* NOUNI off: the new address is ours, the old one is not any more. */
	assert_int_equal(CTRL_CMD(t, 0x00, 0x04, 0x00), 0x00);
	filtered(t, our_mac, -1, mac, -1, 10);
}

static void test_ctrl_vlan(void **state)
{
	struct t *t = *state;

	assert_int_equal(t->ack_err, 0);
	assert_int_equal(CTRL_CMD(t, 0x00, 0x00, 0x00), 0x00);
	/* VIRTIO_NET_CTRL_VLAN_ADD 5 and 0x7ff: tagged frames need their VID in the table. */
	assert_int_equal(CTRL_CMD(t, 0x02, 0x00, 0xff, 0x07), 0x00);
	filtered(t, our_mac, 5, our_mac, 0x7ff, 0);
	assert_int_equal(CTRL_CMD(t, 0x02, 0x00, 0x05, 0x00), 0x00);
	/* VID 5 taken now; the MAC filter still applies to tagged frames. */
	filtered(t, other_mac, 5, our_mac, 5, 2);
	/* VIRTIO_NET_CTRL_VLAN_DEL 0x7ff; VID 4096 does not exist; untagged frames pass. */
	assert_int_equal(CTRL_CMD(t, 0x02, 0x01, 0xff, 0x07), 0x00);
	assert_int_equal(CTRL_CMD(t, 0x02, 0x00, 0x00, 0x10), 0x01);
	filtered(t, our_mac, 0x7ff, our_mac, -1, 4);
}

static void test_ctrl_mq(void **state)
{
	struct t *t = *state;
	uint64_t gpa;

	assert_int_equal(t->ack_err, 0);
	assert_true(vh_dev_features(t->dev) & BIT(VIRTIO_NET_F_MQ));
	/* VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET: 1 .. max_virtqueue_pairs (2). */
	assert_int_equal(CTRL_CMD(t, 0x04, 0x00, 0x02, 0x00), 0x00);
	assert_int_equal(CTRL_CMD(t, 0x04, 0x00, 0x03, 0x00), 0x01);
	assert_int_equal(CTRL_CMD(t, 0x04, 0x00, 0x00, 0x00), 0x01);
	assert_int_equal(CTRL_CMD(t, 0x04, 0x00, 0x01, 0x00), 0x00);
	/* Pair 0 still echoes. */
	gpa = t->rx_next;
	post_rx(t, 2048, 900);
	good_frame(t, 1, 900, gpa);
}

/* ---- a real tap --------------------------------------------------------------------------- */

/*
 * vh-net --tap in a network namespace of the test's own (root only): the host stack sends a UDP
 * datagram to the guest's MAC (a static neighbour entry, IPv6 off: nothing else arrives). With
 * GUEST_CSUM the tap hands over the partial checksum and vh-net passes the kernel's header on
 * byte for byte; without offloads the header is zero and the checksum complete.
 */
static const struct params tap_offl = { { "--tap", "vhbad0" }, 0, 2 };
static const struct params tap_plain = { { "--tap", "vhbad0", "--no-offloads" }, 0, 2 };
static bool in_netns;

static void tap_udp(struct t *t, const uint8_t want_hdr[HDR])
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	uint8_t payload[100];
	uint64_t rx = t->rx_next;
	const uint8_t *f = t->mem + rx + HDR;
	uintptr_t tok;
	int fd;

	assert_int_equal(system("ip link set vhbad0 up && ip addr add 10.98.0.1/24 dev vhbad0 && "
				"ip neigh add 10.98.0.2 lladdr 52:54:00:12:34:56 dev vhbad0"),
			 0);
	/* With receive GSO negotiated vh-net holds buffers for a 64 KiB frame before it reads. */
	for (uintptr_t i = 1; i <= 20; i++)
		post_rx(t, 4096, i);
	inet_pton(AF_INET, "10.98.0.2", &to.sin_addr);
	for (unsigned i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(
	    sendto(fd, payload, sizeof(payload), 0, (struct sockaddr *)&to, sizeof(to)),
	    sizeof(payload));
	close(fd);
	assert_int_equal(used(t, RX, &tok), HDR + 14 + 20 + 8 + sizeof(payload));
	assert_int_equal(tok, 1);
	assert_memory_equal(t->mem + rx, want_hdr, HDR);
	assert_memory_equal(f, ((const uint8_t[]){ 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 }), 6);
	assert_int_equal(f[12] << 8 | f[13], 0x0800);
	assert_int_equal(f[23], 17); /* UDP */
	assert_memory_equal(f + 42, payload, sizeof(payload));
	if (!want_hdr[0]) {
		/* Complete: the UDP checksum over the pseudo header and the datagram is 0xffff. */
		uint32_t sum = 0x0a62 + 0x0001 + 0x0a62 + 0x0002 + 17 + 8 + sizeof(payload);

		for (unsigned i = 34; i < 42 + sizeof(payload); i += 2)
			sum += (uint32_t)f[i] << 8 | f[i + 1];
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		assert_int_equal(sum, 0xffff);
	}
}

static void test_tap_csum(void **state)
{
	/* NEEDS_CSUM, csum_start 34 (Ethernet + IPv4), csum_offset 6 (UDP), num_buffers 1. */
	static const uint8_t want[HDR] = { 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
					   0x22, 0x00, 0x06, 0x00, 0x01, 0x00 };

	if (!in_netns)
		skip();
	assert_true(vh_dev_features(((struct t *)*state)->dev) & BIT(VIRTIO_NET_F_GUEST_CSUM));
	tap_udp(*state, want);
}

static void test_tap_plain(void **state)
{
	static const uint8_t want[HDR] = { [10] = 0x01 };

	if (!in_netns)
		skip();
	assert_false(vh_dev_features(((struct t *)*state)->dev) & BIT(VIRTIO_NET_F_GUEST_CSUM));
	tap_udp(*state, want);
}

static const struct params tap_mq = { { "--tap", "vhbad0", "--queue-pairs", "2" }, 0, 5 };

/* Attached queues of the tap: tun sets the real number of tx queues to it. */
static int tap_queues(void)
{
	FILE *p = popen("ls /sys/class/net/vhbad0/queues | grep -c tx-", "r");
	int n = -1;

	assert_non_null(p);
	assert_int_equal(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

/* VQ_PAIRS_SET on a multi-queue tap: the queues of unused pairs are detached, then attached. */
static void test_tap_mq_pairs(void **state)
{
	struct t *t = *state;

	if (!in_netns)
		skip();
	assert_true(vh_dev_features(t->dev) & BIT(VIRTIO_NET_F_MQ));
	/* Our control queue: multiqueue off until VQ_PAIRS_SET (virtio 1.2 §5.1.6.5.5). */
	assert_int_equal(tap_queues(), 1);
	assert_int_equal(CTRL_CMD(t, 0x04, 0x00, 0x02, 0x00), 0x00);
	assert_int_equal(tap_queues(), 2);
	assert_int_equal(CTRL_CMD(t, 0x04, 0x00, 0x01, 0x00), 0x00);
	assert_int_equal(tap_queues(), 1);
	/* Pair 0 still receives what the host sends. */
	assert_int_equal(CTRL_CMD(t, 0x04, 0x00, 0x02, 0x00), 0x00);
	assert_int_equal(CTRL_CMD(t, 0x04, 0x00, 0x01, 0x00), 0x00);
	tap_udp(t, (const uint8_t[HDR]){ 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x22, 0x00, 0x06, 0x00,
					 0x01, 0x00 });
}

static int tap_setup(void **state)
{
	if (!in_netns) {
		*state = NULL;
		return 0;
	}
	return setup(state);
}

static int tap_teardown(void **state)
{
	int r = *state ? teardown(state) : 0;

	/* vh-net created the tap, which goes with it; wait until it is gone. */
	for (int i = 0; in_netns && i < 100 && system("ip link show vhbad0 >/dev/null 2>&1") == 0;
	     i++)
		usleep(20000);
	return r;
}

/* IPv6 off for interfaces made from now on in this namespace (none: a kernel without IPv6). */
static int ipv6_off(void)
{
	int fd = open("/proc/sys/net/ipv6/conf/default/disable_ipv6", O_WRONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	r = write(fd, "1\n", 2) == 2 ? 0 : -errno;
	close(fd);
	return r;
}

int main(void)
{
	/*
	 * The tap tests: root, a network namespace of our own with IPv6 off (no stray frames), and
	 * a private mount namespace with its own /sys, as `ip netns exec` does (the tap's sysfs
	 * entries show its attached queues).
	 */
	in_netns = geteuid() == 0 && access("/dev/net/tun", R_OK | W_OK) == 0 &&
		   unshare(CLONE_NEWNET | CLONE_NEWNS) == 0 &&
		   mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
		   umount2("/sys", MNT_DETACH) == 0 &&
		   mount("sysfs", "/sys", "sysfs", 0, NULL) == 0 && ipv6_off() == 0 &&
		   system("ip link set lo up") == 0;
	if (!in_netns)
		fprintf(stderr, "tap tests skipped: needs root, /dev/net/tun and ip (iproute2)\n");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_rx_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_tx_chains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_header, setup, teardown),
		cmocka_unit_test_prestate_setup_teardown(test_offload_echo, setup, teardown,
							 (void *)&offl),
		cmocka_unit_test_prestate_setup_teardown(test_offload_sw_csum, setup, teardown,
							 (void *)&offl_nocsum),
		cmocka_unit_test_prestate_setup_teardown(test_offload_refused, setup, teardown,
							 (void *)&offl_bad),
		cmocka_unit_test_prestate_setup_teardown(test_ctrl_rx_filter, setup, teardown,
							 (void *)&ctrl1),
		cmocka_unit_test_prestate_setup_teardown(test_ctrl_vlan, setup, teardown,
							 (void *)&ctrl1),
		cmocka_unit_test_prestate_setup_teardown(test_ctrl_mq, setup, teardown,
							 (void *)&ctrl_mq),
		cmocka_unit_test_prestate_setup_teardown(test_ctrl_rx_filter, setup, teardown,
							 (void *)&ctrl_poll),
		cmocka_unit_test_prestate_setup_teardown(test_offload_echo, setup, teardown,
							 (void *)&offl_poll),
		cmocka_unit_test_prestate_setup_teardown(test_bad_rx_buffers, setup, teardown,
							 (void *)&plain_poll_us),
		cmocka_unit_test_prestate_setup_teardown(test_tap_csum, tap_setup, tap_teardown,
							 (void *)&tap_offl),
		cmocka_unit_test_prestate_setup_teardown(test_tap_plain, tap_setup, tap_teardown,
							 (void *)&tap_plain),
		cmocka_unit_test_prestate_setup_teardown(test_tap_mq_pairs, tap_setup, tap_teardown,
							 (void *)&tap_mq),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
