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
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

#define MEM_SIZE    (1u << 20)
#define NUM	    64u
#define RX	    0u
#define TX	    1u
#define RING_GPA(q) (0x10000ull + (q)*0x8000ull)
#define TXBUF_GPA   0x40000ull
#define RXBUF_GPA   0x80000ull
#define HDR	    12u
#define NO_REPLY    (-1000)

struct t {
	char dir[64], sock[96];
	pid_t pid;
	int memfd;
	uint8_t *mem;
	struct vh_dev *dev;
	struct vh_vq_driver *drv[2];
	uint64_t rx_next; /* next free receive buffer address */
};

static void spawn(struct t *t)
{
	const char *build = getenv("LIBVHOST_BUILD");
	char bin[256];

	assert_non_null(build);
	snprintf(bin, sizeof(bin), "%s/devices/vh-net/vh-net", build);
	t->pid = fork();
	assert_true(t->pid >= 0);
	if (t->pid == 0) {
		/* A failed assertion skips teardown(): the daemon must not outlive the test. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(bin, bin, "--socket-path", t->sock, "--loopback", "--queue-size", "256",
		      (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		struct stat st;
		int status;

		if (stat(t->sock, &st) == 0 && S_ISSOCK(st.st_mode))
			return;
		if (waitpid(t->pid, &status, WNOHANG) == t->pid)
			fail_msg("vh-net exited before listening (status %d)", status);
		usleep(10000);
	}
	fail_msg("vh-net did not create %s", t->sock);
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
	struct vh_vq_ring_addrs ra;

	assert_int_equal(vh_vq_driver_create(&vc, &t->drv[q]), 0);
	vh_vq_driver_ring_addrs(t->drv[q], &ra);
	vr.desc_gpa = ra.desc_gpa;
	vr.avail_gpa = ra.driver_gpa;
	vr.used_gpa = ra.device_gpa;
	assert_int_equal(vh_dev_vring_setup(t->dev, &vr), 0);
}

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	char url[128];
	struct vh_dev_config dc = {
		.path = url,
		.features = ~0ull & ~(1ull << VIRTIO_F_RING_PACKED) &
			    ~(1ull << VIRTIO_F_ACCESS_PLATFORM) &
			    ~(1ull << VIRTIO_RING_F_EVENT_IDX),
		.num_queues = 2,
		.timeout_ms = 3000,
		.name = "vhnet-bad",
	};
	struct vh_dev_mem_region r = { .gpa = 0, .size = MEM_SIZE, .fd_offset = 0 };

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/vh-net-bad-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->sock, sizeof(t->sock), "%s/sock", t->dir);
	spawn(t);
	snprintf(url, sizeof(url), "unix:%s", t->sock);
	t->memfd = memfd_create("guest", MFD_CLOEXEC);
	assert_true(t->memfd >= 0);
	assert_int_equal(ftruncate(t->memfd, MEM_SIZE), 0);
	t->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, t->memfd, 0);
	assert_true(t->mem != MAP_FAILED);
	r.host = t->mem;
	r.fd = t->memfd;
	assert_int_equal(vh_dev_create(&dc, &t->dev), 0);
	assert_int_equal(vh_dev_ack_features(t->dev, vh_dev_features(t->dev)), 0);
	assert_int_equal(vh_dev_mem_begin(t->dev), 0);
	assert_int_equal(vh_dev_mem_add(t->dev, &r), 0);
	assert_int_equal(vh_dev_mem_commit(t->dev), 0);
	ring_setup(t, RX);
	ring_setup(t, TX);
	assert_int_equal(vh_dev_start(t->dev), 0);
	t->rx_next = RXBUF_GPA;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;
	int status = -1;

	vh_dev_destroy(&t->dev);
	vh_vq_driver_destroy(&t->drv[RX]);
	vh_vq_driver_destroy(&t->drv[TX]);
	munmap(t->mem, MEM_SIZE);
	close(t->memfd);
	assert_int_equal(kill(t->pid, SIGTERM), 0);
	assert_int_equal(waitpid(t->pid, &status, 0), t->pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_rx_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_tx_chains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_header, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
