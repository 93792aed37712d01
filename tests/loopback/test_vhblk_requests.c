/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vh-blk (devices/vh-blk, the real daemon, spawned) driven request by request by our frontend
 * (vh_dev) and the driver side of vq/: every virtio-blk request type, the status and used
 * length the device returns, and the bytes in the image file afterwards (virtio 1.2 §5.2.6).
 * Bad requests: out of range, sector overflow, data not a multiple of 512, short header,
 * header split over descriptors, status inside the data descriptor, reserved flags, unmap on
 * discard, writes to a read-only disk, a chain without a status byte (ring broken). Each I/O
 * engine (io_uring, threads, sync) and the memory backing run the same list. A batch found by
 * one kick is signalled while it is served, not once at its end. The daemon must exit 0 on
 * SIGTERM and remove its socket.
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
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include <vhost/frontend.h>
#include <vhost/vq.h>

#include "unit_helpers.h"

#define MEM_SIZE   (1u << 20)
#define RING_GPA   0x10000ull
#define HDR_GPA	   0x20000ull
#define SEG_GPA	   0x21000ull
#define DATA_GPA   0x30000ull
#define STATUS_GPA 0x50000ull
#define NUM	   64
#define IMG_SIZE   (1u << 20)
#define SECTORS	   (IMG_SIZE / 512)
#define SERIAL	   "vh-blk-loopback-id"
#define NO_REPLY   VH_TEST_NO_REPLY

struct t {
	char dir[64], sock[96], img[96];
	pid_t pid;
	bool memory; /* --blk-file memory:1M: check bytes by reading them back */
	bool packed; /* packed virtqueue (virtio 1.2 §2.8) */
	bool shm;    /* image in /dev/shm (tmpfs: small requests are copied inline) */
	int memfd;
	uint8_t *mem;
	struct vh_dev *dev;
	struct vh_vq_driver *drv;
	uint64_t features;
};

static uint8_t img_byte(uint64_t off)
{
	return (uint8_t)(off * 7 + (off >> 9) + 3);
}

static void make_image(struct t *t)
{
	uint8_t *buf = malloc(IMG_SIZE);
	int fd;

	assert_non_null(buf);
	for (uint64_t i = 0; i < IMG_SIZE; i++)
		buf[i] = img_byte(i);
	fd = open(t->img, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, IMG_SIZE), IMG_SIZE);
	close(fd);
	free(buf);
}

static void spawn(struct t *t, const char *const *extra)
{
	char bin[256];
	const char *argv[24];
	unsigned n = 0;

	vh_test_build_path(bin, sizeof(bin), "devices/vh-blk/vh-blk");
	argv[n++] = bin;
	argv[n++] = "--socket-path";
	argv[n++] = t->sock;
	argv[n++] = "--blk-file";
	argv[n++] = t->memory ? "memory:1M" : t->img;
	argv[n++] = "--serial";
	argv[n++] = SERIAL;
	argv[n++] = "--queue-size";
	argv[n++] = "256";
	for (; extra && *extra; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	t->pid = vh_test_spawn_daemon(argv, t->sock);
}

static void connect_dev(struct t *t)
{
	char url[128];
	struct vh_dev_config dc = {
		.path = url,
		.features = ~0ull & ~(1ull << VIRTIO_F_RING_PACKED) &
			    ~(1ull << VIRTIO_F_ACCESS_PLATFORM) &
			    ~(1ull << VIRTIO_RING_F_EVENT_IDX),
		.num_queues = 1,
		.timeout_ms = 3000,
		.name = "vhblk-test",
	};
	struct vh_vq_driver_config vc = { .num = NUM,
					  .host = NULL,
					  .gpa = 0,
					  .size = MEM_SIZE,
					  .ring_gpa = RING_GPA,
					  .name = "vhblk-test driver" };
	struct vh_dev_vring vr = { .index = 0, .num = NUM, .kick_fd = -1, .call_fd = -1 };

	snprintf(url, sizeof(url), "unix:%s", t->sock);
	if (t->packed) {
		dc.features |= 1ull << VIRTIO_F_RING_PACKED;
		vc.packed = true;
		vr.packed = true;
		vr.base =
		    1u << 15; /* vhost-user.rst: bit 15 is the avail wrap counter, 1 at start */
	}
	t->mem = vh_test_guest_ram(MEM_SIZE, &t->memfd);
	vc.host = t->mem;
	assert_int_equal(vh_dev_create(&dc, &t->dev), 0);
	t->features = vh_dev_features(t->dev);
	assert_int_equal(!!(t->features & (1ull << VIRTIO_F_RING_PACKED)), t->packed);
	assert_int_equal(vh_dev_ack_features(t->dev, t->features), 0);
	vh_test_dev_mem(t->dev, t->mem, t->memfd, MEM_SIZE);
	vh_test_dev_ring(t->dev, &vc, &vr, &t->drv);
	assert_int_equal(vh_dev_start(t->dev), 0);
}

static void setup(struct t *t, bool memory, const char *const *extra)
{
	bool packed = t->packed, shm = t->shm;

	memset(t, 0, sizeof(*t));
	t->memory = memory;
	t->packed = packed;
	snprintf(t->dir, sizeof(t->dir), "%s/vh-blk-lb-XXXXXX", shm ? "/dev/shm" : "/tmp");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->sock, sizeof(t->sock), "%s/sock", t->dir);
	snprintf(t->img, sizeof(t->img), "%s/img", t->dir);
	make_image(t);
	spawn(t, extra);
	connect_dev(t);
}

static void teardown(struct t *t)
{
	vh_dev_destroy(&t->dev);
	vh_vq_driver_destroy(&t->drv);
	munmap(t->mem, MEM_SIZE);
	close(t->memfd);
	/* Backend program conventions: SIGTERM is a clean exit that removes the socket. */
	vh_test_stop_daemon(t->pid, t->sock);
	unlink(t->img);
	rmdir(t->dir);
}

/* Submit one chain; return the used length, or NO_REPLY when nothing came back in @ms. */
static int64_t xfer_ms(struct t *t, const struct vh_vq_buf *bufs, unsigned out, unsigned in, int ms)
{
	struct vh_vq_driver_req req = { .bufs = bufs, .out_num = out, .in_num = in, .token = t };

	return vh_test_vq_xfer(t->dev, 0, t->drv, &req, ms);
}

static int64_t xfer(struct t *t, const struct vh_vq_buf *bufs, unsigned out, unsigned in)
{
	return xfer_ms(t, bufs, out, in, 3000);
}

static void put_hdr(struct t *t, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = { .type = type, .ioprio = 0, .sector = sector };

	memcpy(t->mem + HDR_GPA, &h, sizeof(h));
	t->mem[STATUS_GPA] = 0xee;
}

/* One request with header, optional data (@in: device-writable) and a separate status byte. */
static int64_t req(struct t *t, uint32_t type, uint64_t sector, uint32_t len, bool in)
{
	struct vh_vq_buf b[3] = { { HDR_GPA, 16 }, { DATA_GPA, len }, { STATUS_GPA, 1 } };
	struct vh_vq_buf nodata[2] = { { HDR_GPA, 16 }, { STATUS_GPA, 1 } };

	put_hdr(t, type, sector);
	if (!len)
		return xfer(t, nodata, 1, 1);
	return in ? xfer(t, b, 1, 2) : xfer(t, b, 2, 1);
}

/* Disk bytes [off, off + len) through the backing: the image file, or a read request. */
static void disk_read(struct t *t, uint64_t off, uint8_t *out, uint32_t len)
{
	if (!t->memory) {
		int fd = open(t->img, O_RDONLY | O_CLOEXEC);

		assert_true(fd >= 0);
		assert_int_equal(pread(fd, out, len, (off_t)off), len);
		close(fd);
		return;
	}
	assert_int_equal(req(t, VIRTIO_BLK_T_IN, off / 512, len, true), len + 1);
	assert_int_equal(t->mem[STATUS_GPA], VIRTIO_BLK_S_OK);
	memcpy(out, t->mem + DATA_GPA, len);
}

static void expect_disk(struct t *t, uint64_t off, uint32_t len, const uint8_t *want)
{
	uint8_t buf[8192];

	assert_true(len <= sizeof(buf));
	disk_read(t, off, buf, len);
	assert_memory_equal(buf, want, len);
}

static void expect_original(struct t *t, uint64_t off, uint32_t len)
{
	uint8_t want[8192];

	for (uint32_t i = 0; i < len; i++)
		want[i] = t->memory ? 0 : img_byte(off + i);
	expect_disk(t, off, len, want);
}

static void check_rw(struct t *t)
{
	uint8_t want[2048];

	/* Read: data lands in the writable part, used length = data + status. */
	memset(t->mem + DATA_GPA, 0xaa, 4096);
	assert_int_equal(req(t, VIRTIO_BLK_T_IN, 3, 1024, true), 1025);
	assert_int_equal(t->mem[STATUS_GPA], VIRTIO_BLK_S_OK);
	for (unsigned i = 0; i < 1024; i++)
		want[i] = t->memory ? 0 : img_byte(3 * 512 + i);
	assert_memory_equal(t->mem + DATA_GPA, want, 1024);
	assert_int_equal(t->mem[DATA_GPA + 1024], 0xaa);

	/* Write two sectors at 5; the neighbours stay as they were. */
	for (unsigned i = 0; i < 1024; i++)
		t->mem[DATA_GPA + i] = (uint8_t)(0x5a ^ i);
	assert_int_equal(req(t, VIRTIO_BLK_T_OUT, 5, 1024, false), 1);
	assert_int_equal(t->mem[STATUS_GPA], VIRTIO_BLK_S_OK);
	for (unsigned i = 0; i < 1024; i++)
		want[i] = (uint8_t)(0x5a ^ i);
	expect_disk(t, 5 * 512, 1024, want);
	expect_original(t, 4 * 512, 512);
	expect_original(t, 7 * 512, 512);

	/* A 128 KiB read (io_uring: handed to an io-wq worker, IOSQE_ASYNC), every byte. */
	memset(t->mem + DATA_GPA, 0xaa, STATUS_GPA - DATA_GPA);
	assert_int_equal(req(t, VIRTIO_BLK_T_IN, 8, STATUS_GPA - DATA_GPA, true),
			 STATUS_GPA - DATA_GPA + 1);
	assert_int_equal(t->mem[STATUS_GPA], VIRTIO_BLK_S_OK);
	for (unsigned i = 0; i < STATUS_GPA - DATA_GPA; i++)
		if (t->mem[DATA_GPA + i] != (t->memory ? 0 : img_byte(8 * 512 + i)))
			fail_msg("128k read: byte %u is 0x%02x", i, t->mem[DATA_GPA + i]);

	/* The last sector is readable and writable. */
	assert_int_equal(req(t, VIRTIO_BLK_T_IN, SECTORS - 1, 512, true), 513);
	assert_int_equal(t->mem[STATUS_GPA], VIRTIO_BLK_S_OK);
	assert_int_equal(req(t, VIRTIO_BLK_T_FLUSH, 0, 0, false), 1);
	assert_int_equal(t->mem[STATUS_GPA], VIRTIO_BLK_S_OK);
}

static void check_bounds(struct t *t)
{
	struct stat st;

	/* §5.2.6.2: a request beyond the capacity fails and touches nothing. */
	memset(t->mem + DATA_GPA, 0xaa, 1024);
	assert_int_equal(req(t, VIRTIO_BLK_T_IN, SECTORS - 1, 1024, true), 1);
	assert_int_equal(t->mem[STATUS_GPA], VIRTIO_BLK_S_IOERR);
	assert_int_equal(t->mem[DATA_GPA], 0xaa);
	memset(t->mem + DATA_GPA, 0x11, 1024);
	assert_int_equal(req(t, VIRTIO_BLK_T_OUT, SECTORS - 1, 1024, false), 1);
	assert_int_equal(t->mem[STATUS_GPA], VIRTIO_BLK_S_IOERR);
	assert_int_equal(req(t, VIRTIO_BLK_T_OUT, SECTORS, 512, false), 1);
	assert_int_equal(t->mem[STATUS_GPA], VIRTIO_BLK_S_IOERR);
	/* sector * 512 overflows 64 bits */
	assert_int_equal(req(t, VIRTIO_BLK_T_OUT, 0xffffffffffffff00ull, 512, false), 1);
	assert_int_equal(t->mem[STATUS_GPA], VIRTIO_BLK_S_IOERR);
	assert_int_equal(req(t, VIRTIO_BLK_T_IN, 1ull << 55, 512, true), 1);
	assert_int_equal(t->mem[STATUS_GPA], VIRTIO_BLK_S_IOERR);
	expect_original(t, (SECTORS - 1) * 512ull, 512);
	if (!t->memory) {
		assert_int_equal(stat(t->img, &st), 0);
		assert_int_equal(st.st_size, IMG_SIZE);
	}
	/* §5.2.6.1: data of IN / OUT is a multiple of 512 bytes. */
	assert_int_equal(req(t, VIRTIO_BLK_T_IN, 0, 100, true), 1);
	assert_int_equal(t->mem[STATUS_GPA], VIRTIO_BLK_S_IOERR);
	assert_int_equal(req(t, VIRTIO_BLK_T_OUT, 0, 700, false), 1);
	assert_int_equal(t->mem[STATUS_GPA], VIRTIO_BLK_S_IOERR);
	expect_original(t, 0, 1024);
}

static void check_layouts(struct t *t)
{
	struct vh_vq_buf split[4] = {
		{ HDR_GPA, 8 }, { HDR_GPA + 8, 8 }, { DATA_GPA, 512 }, { STATUS_GPA, 1 }
	};
	struct vh_vq_buf shorthdr[2] = { { HDR_GPA, 8 }, { STATUS_GPA, 1 } };
	struct vh_vq_buf joined[2] = { { HDR_GPA, 16 }, { DATA_GPA, 513 } };
	uint8_t want[512];

	for (unsigned i = 0; i < 512; i++)
		want[i] = t->memory ? 0 : img_byte(9 * 512 + i);
	/* The header may be split over descriptors (§2.7.4: no framing assumptions). */
	put_hdr(t, VIRTIO_BLK_T_IN, 9);
	assert_int_equal(xfer(t, split, 2, 2), 513);
	assert_int_equal(t->mem[STATUS_GPA], VIRTIO_BLK_S_OK);
	assert_memory_equal(t->mem + DATA_GPA, want, 512);
	/* A header shorter than struct virtio_blk_outhdr is an error, not a crash. */
	put_hdr(t, VIRTIO_BLK_T_IN, 0);
	assert_int_equal(xfer(t, shorthdr, 1, 1), 1);
	assert_int_equal(t->mem[STATUS_GPA], VIRTIO_BLK_S_IOERR);
	/* The status byte is the last writable byte, here in the data descriptor. */
	put_hdr(t, VIRTIO_BLK_T_IN, 9);
	t->mem[DATA_GPA + 512] = 0xee;
	assert_int_equal(xfer(t, joined, 1, 1), 513);
	assert_memory_equal(t->mem + DATA_GPA, want, 512);
	assert_int_equal(t->mem[DATA_GPA + 512], VIRTIO_BLK_S_OK);
}

static void check_misc(struct t *t)
{
	char want[VIRTIO_BLK_ID_BYTES] = SERIAL;

	memset(t->mem + DATA_GPA, 0xaa, 64);
	assert_int_equal(req(t, VIRTIO_BLK_T_GET_ID, 0, VIRTIO_BLK_ID_BYTES, true),
			 VIRTIO_BLK_ID_BYTES + 1);
	assert_int_equal(t->mem[STATUS_GPA], VIRTIO_BLK_S_OK);
	assert_memory_equal(t->mem + DATA_GPA, want, VIRTIO_BLK_ID_BYTES);
	assert_int_equal(t->mem[DATA_GPA + VIRTIO_BLK_ID_BYTES], 0xaa);
	/* Unknown and legacy SCSI types: UNSUPP. */
	assert_int_equal(req(t, VIRTIO_BLK_T_SCSI_CMD, 0, 0, false), 1);
	assert_int_equal(t->mem[STATUS_GPA], VIRTIO_BLK_S_UNSUPP);
	memset(t->mem + DATA_GPA, 0xaa, 64);
	assert_int_equal(req(t, 99, 0, 512, true), 1);
	assert_int_equal(t->mem[STATUS_GPA], VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(t->mem[DATA_GPA], 0xaa);
}

static int64_t dwz(struct t *t, uint32_t type, uint64_t sector, uint32_t nsec, uint32_t flags)
{
	struct virtio_blk_discard_write_zeroes s = { .sector = sector,
						     .num_sectors = nsec,
						     .flags = flags };
	struct vh_vq_buf b[3] = { { HDR_GPA, 16 }, { SEG_GPA, sizeof(s) }, { STATUS_GPA, 1 } };

	put_hdr(t, type, 0);
	memcpy(t->mem + SEG_GPA, &s, sizeof(s));
	return xfer(t, b, 2, 1);
}

/* Write zeroes with @n segments of 2 sectors at 300, 310, ... */
static int64_t wz_segments(struct t *t, unsigned n)
{
	struct virtio_blk_discard_write_zeroes s[32];
	struct vh_vq_buf b[3] = { { HDR_GPA, 16 },
				  { SEG_GPA, n * sizeof(s[0]) },
				  { STATUS_GPA, 1 } };

	assert_true(n <= 32);
	for (unsigned i = 0; i < n; i++)
		s[i] = (struct virtio_blk_discard_write_zeroes){ .sector = 300 + 10 * i,
								 .num_sectors = 2 };
	put_hdr(t, VIRTIO_BLK_T_WRITE_ZEROES, 0);
	memcpy(t->mem + SEG_GPA, s, n * sizeof(s[0]));
	return xfer(t, b, 2, 1);
}

static void check_segments(struct t *t)
{
	uint8_t zero[1024] = { 0 };

	/* max_write_zeroes_seg is 16: 17 segments fail as a whole and change nothing. */
	assert_int_equal(wz_segments(t, 17), 1);
	assert_int_equal(t->mem[STATUS_GPA], VIRTIO_BLK_S_IOERR);
	for (unsigned i = 0; i < 17; i++)
		expect_original(t, (300 + 10 * i) * 512ull, 1024);
	assert_int_equal(wz_segments(t, 3), 1);
	assert_int_equal(t->mem[STATUS_GPA], VIRTIO_BLK_S_OK);
	for (unsigned i = 0; i < 3; i++) {
		expect_disk(t, (300 + 10 * i) * 512ull, 1024, zero);
		expect_original(t, (302 + 10 * i) * 512ull, 512);
	}
	expect_original(t, 330 * 512ull, 1024);
}

static void check_discard_zeroes(struct t *t)
{
	uint8_t zero[4096] = { 0 };

	assert_true(t->features & (1ull << VIRTIO_BLK_F_WRITE_ZEROES));
	assert_true(t->features & (1ull << VIRTIO_BLK_F_DISCARD));
	/* Write zeroes (with and without unmap) leaves zeroes and nothing else changes. */
	assert_int_equal(dwz(t, VIRTIO_BLK_T_WRITE_ZEROES, 16, 4, 0), 1);
	assert_int_equal(t->mem[STATUS_GPA], VIRTIO_BLK_S_OK);
	expect_disk(t, 16 * 512, 2048, zero);
	expect_original(t, 15 * 512, 512);
	expect_original(t, 20 * 512, 512);
	assert_int_equal(
	    dwz(t, VIRTIO_BLK_T_WRITE_ZEROES, 64, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP), 1);
	assert_int_equal(t->mem[STATUS_GPA], VIRTIO_BLK_S_OK);
	expect_disk(t, 64 * 512, 4096, zero);
	expect_original(t, 72 * 512, 512);
	/* §5.2.6.2: unmap on a discard and reserved flag bits are UNSUPP; out of range IOERR. */
	assert_int_equal(dwz(t, VIRTIO_BLK_T_DISCARD, 100, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP),
			 1);
	assert_int_equal(t->mem[STATUS_GPA], VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(dwz(t, VIRTIO_BLK_T_WRITE_ZEROES, 100, 8, 2), 1);
	assert_int_equal(t->mem[STATUS_GPA], VIRTIO_BLK_S_UNSUPP);
	expect_original(t, 100 * 512, 4096);
	assert_int_equal(dwz(t, VIRTIO_BLK_T_WRITE_ZEROES, SECTORS - 4, 8, 0), 1);
	assert_int_equal(t->mem[STATUS_GPA], VIRTIO_BLK_S_IOERR);
	expect_original(t, (SECTORS - 4) * 512ull, 2048);
	assert_int_equal(dwz(t, VIRTIO_BLK_T_DISCARD, 200, 8, 0), 1);
	assert_int_equal(t->mem[STATUS_GPA], VIRTIO_BLK_S_OK);
}

static void run_all_in(bool memory, bool packed, bool shm, const char *const *extra)
{
	struct t t = { .packed = packed, .shm = shm };

	setup(&t, memory, extra);
	check_rw(&t);
	check_bounds(&t);
	check_layouts(&t);
	check_misc(&t);
	check_discard_zeroes(&t);
	check_segments(&t);
	teardown(&t);
}

static void run_all(bool memory, bool packed, const char *const *extra)
{
	run_all_in(memory, packed, false, extra);
}

static void test_io_uring(void **state)
{
	static const char *const extra[] = { "--aio", "io_uring", NULL };

	(void)state;
	run_all(false, false, extra);
}

/* tmpfs backing: below 64 KiB inline, the 128 KiB read through io_uring (IOSQE_ASYNC). */
static void test_shm(void **state)
{
	static const char *const extra[] = { "--aio", "io_uring", NULL };

	(void)state;
	run_all_in(false, false, true, extra);
}

static void test_threads(void **state)
{
	static const char *const extra[] = { "--aio", "threads", "--aio-threads", "2", NULL };

	(void)state;
	run_all(false, false, extra);
}

static void test_sync(void **state)
{
	static const char *const extra[] = { "--aio", "sync", NULL };

	(void)state;
	run_all(false, false, extra);
}

static void test_poll(void **state)
{
	static const char *const extra[] = { "--poll", NULL };

	(void)state;
	run_all(false, false, extra);
}

static void test_packed(void **state)
{
	static const char *const extra[] = { "--aio", "io_uring", NULL };

	(void)state;
	run_all(false, true, extra);
}

static void test_memory(void **state)
{
	(void)state;
	run_all(true, false, NULL);
}

static void test_read_only(void **state)
{
	static const char *const extra[] = { "--read-only", NULL };
	struct t t = { 0 };

	(void)state;
	setup(&t, false, extra);
	assert_true(t.features & (1ull << VIRTIO_BLK_F_RO));
	assert_false(t.features & (1ull << VIRTIO_BLK_F_WRITE_ZEROES));
	memset(t.mem + DATA_GPA, 0x77, 512);
	assert_int_equal(req(&t, VIRTIO_BLK_T_OUT, 2, 512, false), 1);
	assert_int_equal(t.mem[STATUS_GPA], VIRTIO_BLK_S_IOERR);
	assert_int_equal(dwz(&t, VIRTIO_BLK_T_WRITE_ZEROES, 2, 1, 0), 1);
	assert_int_equal(t.mem[STATUS_GPA], VIRTIO_BLK_S_IOERR);
	expect_original(&t, 0, 4096);
	assert_int_equal(req(&t, VIRTIO_BLK_T_IN, 2, 512, true), 513);
	assert_int_equal(t.mem[STATUS_GPA], VIRTIO_BLK_S_OK);
	teardown(&t);
}

/*
 * One kick with 16 reads available (3 descriptors each, the ring has 64): vh-blk signals after
 * the 4th completion and after the 16th while it works through the batch (req.c, notify_early()),
 * so a sleeping driver starts waking while the rest is served. Without VIRTIO_RING_F_EVENT_IDX and
 * with interrupts on, each of those is one write to the call eventfd, and nothing is signalled
 * twice: the counter reads 2 (it read 1 before, one signal after the whole batch).
 */
#define BATCH 16u

static void check_signals_during_batch(struct t *t)
{
	struct pollfd p = { .fd = vh_dev_vring_call_fd(t->dev, 0), .events = POLLIN };
	uint64_t one = 1, v = 0;
	unsigned done = 0;
	void *token;
	uint32_t len;

	while (poll(&p, 1, 0) == 1)
		assert_int_equal(read(p.fd, &v, 8), 8);
	for (unsigned i = 0; i < BATCH; i++) {
		struct virtio_blk_outhdr h = { .type = VIRTIO_BLK_T_IN, .sector = i };
		struct vh_vq_buf b[3] = { { HDR_GPA + 16 * i, 16 },
					  { DATA_GPA + 512 * i, 512 },
					  { STATUS_GPA + i, 1 } };
		struct vh_vq_driver_req r = { .bufs = b, .out_num = 1, .in_num = 2, .token = t };

		memcpy(t->mem + HDR_GPA + 16 * i, &h, sizeof(h));
		t->mem[STATUS_GPA + i] = 0xee;
		assert_int_equal(vh_vq_driver_add(t->drv, &r), 0);
	}
	vh_vq_driver_publish(t->drv);
	assert_int_equal(write(vh_dev_vring_kick_fd(t->dev, 0), &one, 8), 8);
	for (int waited = 0; done < BATCH && waited < 3000; waited++) {
		while (done < BATCH && vh_vq_driver_get_used(t->drv, &token, &len) == 1) {
			assert_int_equal(len, 513);
			done++;
		}
		if (done < BATCH)
			usleep(1000);
	}
	assert_int_equal(done, BATCH);
	for (unsigned i = 0; i < BATCH; i++)
		assert_int_equal(t->mem[STATUS_GPA + i], VIRTIO_BLK_S_OK);
	usleep(50 * 1000); /* a late extra signal would land meanwhile */
	assert_int_equal(poll(&p, 1, 0), 1);
	assert_int_equal(read(p.fd, &v, 8), 8);
	assert_int_equal(v, 2);
}

static void test_signals_during_batch(void **state)
{
	static const char *const uring[] = { "--aio", "io_uring", NULL };
	struct t t = { 0 };

	(void)state;
	setup(&t, true, NULL);
	check_signals_during_batch(&t);
	teardown(&t);
	setup(&t, false, uring);
	check_signals_during_batch(&t);
	teardown(&t);
}

static void test_config(void **state)
{
	static const char *const extra[] = { "--logical-block-size", "4096", "--num-queues", "3",
					     NULL };
	struct virtio_blk_config c;
	struct t t = { 0 };

	(void)state;
	setup(&t, false, extra);
	assert_int_equal(vh_dev_get_config(t.dev, 0, &c, sizeof(c)), 0);
	assert_int_equal(c.capacity, SECTORS);
	assert_int_equal(c.blk_size, 4096);
	assert_int_equal(c.num_queues, 3);
	assert_int_equal(c.seg_max, 126);
	assert_int_equal(c.discard_sector_alignment, 8);
	assert_int_equal(c.write_zeroes_may_unmap, 1);
	assert_true(t.features & (1ull << VIRTIO_BLK_F_MQ));
	assert_true(t.features & (1ull << VIRTIO_BLK_F_BLK_SIZE));
	assert_true(t.features & (1ull << VIRTIO_BLK_F_FLUSH));
	assert_int_equal(vh_dev_max_queues(t.dev), 3);
	teardown(&t);
}

static void test_no_status_breaks_ring(void **state)
{
	struct vh_vq_buf only_out[2] = { { HDR_GPA, 16 }, { DATA_GPA, 512 } };
	struct t t = { 0 };

	(void)state;
	setup(&t, false, NULL);
	check_rw(&t);
	/* Nowhere to put a status: the device gives up on the ring, it does not guess. */
	put_hdr(&t, VIRTIO_BLK_T_OUT, 0);
	memset(t.mem + DATA_GPA, 0x33, 512);
	assert_int_equal(xfer_ms(&t, only_out, 2, 0, 300), NO_REPLY);
	expect_original(&t, 0, 512);
	assert_int_equal(req(&t, VIRTIO_BLK_T_IN, 0, 512, true) == NO_REPLY ? 1 : 0, 1);
	teardown(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_io_uring),
		cmocka_unit_test(test_shm),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_sync),
		cmocka_unit_test(test_poll),
		cmocka_unit_test(test_packed),
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_read_only),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_no_status_breaks_ring),
		cmocka_unit_test(test_signals_during_batch),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
