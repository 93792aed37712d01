/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * examples/vh-rng (spawned) driven by our frontend (vh_dev) and the driver side of vq/: the
 * example device must behave as a vhost-user-rng back-end (virtio 1.2 §5.4): every writable
 * buffer comes back filled with random bytes up to --max-bytes, the bytes past the used length
 * are untouched, a driver-readable buffer breaks the ring (§5.4.6.1), and the program
 * conventions hold (socket created, SIGTERM exits 0 and removes it).
 */
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
#include <unistd.h>

#include <cmocka.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include <vhost/frontend.h>
#include <vhost/vq.h>

#include "unit_helpers.h"

#define MEM_SIZE (1u << 20)
#define RING_GPA 0x10000ull
#define BUF_GPA	 0x20000ull
#define NUM	 16
#define NO_REPLY VH_TEST_NO_REPLY

struct t {
	char dir[64], sock[96];
	pid_t pid;
	int memfd;
	uint8_t *mem;
	struct vh_dev *dev;
	struct vh_vq_driver *drv;
};

static void connect_dev(struct t *t)
{
	char url[128];
	struct vh_dev_config dc = {
		.path = url,
		.features = 1ull << VIRTIO_F_VERSION_1,
		.num_queues = 1,
		.timeout_ms = 3000,
		.name = "rng-test",
	};
	struct vh_vq_driver_config vc = {
		.num = NUM, .gpa = 0, .size = MEM_SIZE, .ring_gpa = RING_GPA, .name = "rng driver"
	};
	struct vh_dev_vring vr = { .index = 0, .num = NUM, .kick_fd = -1, .call_fd = -1 };

	snprintf(url, sizeof(url), "unix:%s", t->sock);
	t->mem = vh_test_guest_ram(MEM_SIZE, &t->memfd);
	vc.host = t->mem;
	assert_int_equal(vh_dev_create(&dc, &t->dev), 0);
	assert_int_equal(vh_dev_ack_features(t->dev, vh_dev_features(t->dev)), 0);
	vh_test_dev_mem(t->dev, t->mem, t->memfd, MEM_SIZE);
	vh_test_dev_ring(t->dev, &vc, &vr, &t->drv);
	assert_int_equal(vh_dev_start(t->dev), 0);
}

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	char bin[256];
	const char *argv[] = { bin, "--socket-path", NULL, "--max-bytes", "1024", NULL };

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/vh-rng-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->sock, sizeof(t->sock), "%s/sock", t->dir);
	argv[2] = t->sock;
	vh_test_build_path(bin, sizeof(bin), "examples/vh-rng/vh-rng");
	t->pid = vh_test_spawn_daemon(argv, t->sock);
	connect_dev(t);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	vh_dev_destroy(&t->dev);
	vh_vq_driver_destroy(&t->drv);
	munmap(t->mem, MEM_SIZE);
	close(t->memfd);
	vh_test_stop_daemon(t->pid, t->sock);
	rmdir(t->dir);
	free(t);
	return 0;
}

static int64_t xfer_ms(struct t *t, const struct vh_vq_buf *bufs, unsigned out, unsigned in, int ms)
{
	struct vh_vq_driver_req req = { .bufs = bufs, .out_num = out, .in_num = in, .token = t };

	return vh_test_vq_xfer(t->dev, 0, t->drv, &req, ms);
}

static int64_t xfer(struct t *t, const struct vh_vq_buf *bufs, unsigned out, unsigned in)
{
	return xfer_ms(t, bufs, out, in, 3000);
}

/* Bytes in [off, off + len) that are zero: random data has about len / 256. */
static unsigned zeroes(const uint8_t *m, size_t len)
{
	unsigned n = 0;

	for (size_t i = 0; i < len; i++)
		n += !m[i];
	return n;
}

static void test_fill(void **state)
{
	struct t *t = *state;
	struct vh_vq_buf two[2] = { { BUF_GPA, 100 }, { BUF_GPA + 0x1000, 400 } };
	struct vh_vq_buf big = { BUF_GPA + 0x2000, 4096 };
	uint8_t first[500];

	/* Two writable buffers: both filled, the used length is their sum. */
	assert_int_equal(xfer(t, two, 0, 2), 500);
	assert_true(zeroes(t->mem + BUF_GPA, 100) < 10);
	assert_true(zeroes(t->mem + BUF_GPA + 0x1000, 400) < 20);
	assert_int_equal(zeroes(t->mem + BUF_GPA + 100, 0x1000 - 100), 0x1000 - 100);
	memcpy(first, t->mem + BUF_GPA, 100);
	memcpy(first + 100, t->mem + BUF_GPA + 0x1000, 400);

	/* Again: different bytes. */
	assert_int_equal(xfer(t, two, 0, 2), 500);
	assert_memory_not_equal(first, t->mem + BUF_GPA, 100);

	/* --max-bytes 1024: a 4096-byte buffer gets 1024 bytes, the rest is not touched. */
	assert_int_equal(xfer(t, &big, 0, 1), 1024);
	assert_true(zeroes(t->mem + BUF_GPA + 0x2000, 1024) < 30);
	assert_int_equal(zeroes(t->mem + BUF_GPA + 0x2000 + 1024, 3072), 3072);
}

static void test_readable_buffer_breaks_ring(void **state)
{
	struct t *t = *state;
	struct vh_vq_buf bufs[2] = { { BUF_GPA, 16 }, { BUF_GPA + 0x1000, 16 } };
	struct vh_vq_buf w = { BUF_GPA + 0x1000, 16 };

	/* virtio 1.2 §5.4.6.1: no driver-readable buffers. The ring stops; the daemon serves on. */
	assert_int_equal(xfer_ms(t, bufs, 1, 1, 300), NO_REPLY);
	assert_int_equal(xfer_ms(t, &w, 0, 1, 300), NO_REPLY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readable_buffer_breaks_ring, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
