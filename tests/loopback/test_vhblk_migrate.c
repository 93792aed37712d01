// SPDX-License-Identifier: BSD-3-Clause
/*
 * Live migration of a busy vh-blk between back-end processes through our front-end (vh_dev +
 * DEVICE_STATE): four switches, each to a freshly spawned vh-blk on the same image. Each round
 * a first batch of writes completes on the source; a second batch is in flight at the switch:
 * kicked an instant before the stop (whatever the source popped it completes while stopping -
 * vh-blk drains - and the rest is taken by the destination from the ring base), and in the last
 * round not kicked at all (--poll-us 0: the source never saw it, the destination must take all
 * of it). The middle back-ends write with --aio threads, so the stop usually finds requests
 * still in their workers (the test prints how many a source completed while stopping). The
 * source is stopped, its state moved
 * into the destination (vh_dev_state_transfer) before the destination's rings start, the source
 * daemon is terminated. Every request completes exactly once with status OK (0 lost, 0
 * duplicated), the image holds every block's last pattern, and reads through the last
 * back-end return it. A destination serving another disk, a truncated state and garbage are
 * refused by vh-blk (CHECK_DEVICE_STATE fails, vh_dev_state_load() -EIO).
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
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include <vhost/frontend.h>
#include <vhost/proto.h>
#include <vhost/vq.h>

#include "unit_helpers.h"

#define MEM_SIZE   (2u << 20)
#define RING_GPA   0x10000ull
#define HDR_GPA	   0x20000ull /* request i: header at + i * 16 */
#define STATUS_GPA 0x30000ull /* request i: status byte at + i */
#define DATA_GPA   0x40000ull /* request i: 4 KiB at + i * 4096 */
#define NUM	   256u
#define BLOCK	   4096u
#define IMG_SIZE   (1u << 20)
#define NBLOCKS	   (IMG_SIZE / BLOCK)
#define KICKED	   32u /* per round: completed by the source before the switch */
#define PARKED	   16u /* per round: in flight at the switch */
#define PER_ROUND  (KICKED + PARKED)
#define ROUNDS	   4u
#define SERIAL	   "vh-blk-migrate"

struct req {
	unsigned slot;
	unsigned block;
	unsigned done; /* completions seen: must end at exactly 1 */
	uint8_t fill;
};

struct t {
	char dir[64], img[96], sock[ROUNDS + 2][96];
	pid_t pid[ROUNDS + 2];
	int memfd;
	uint8_t *mem;
	struct vh_vq_driver *drv;
	struct vh_dev *dev; /* the front-end of the current back-end */
	unsigned cur;	    /* index of the current back-end */
	uint64_t features;
	struct req reqs[ROUNDS * PER_ROUND];
	uint8_t last[NBLOCKS]; /* fill byte last written to each block, 0: original */
	unsigned drained;      /* requests the sources completed while stopping */
};

static struct t T;

static void spawn(struct t *t, unsigned i, const char *backing)
{
	char bin[256], path[sizeof(t->sock[0])];
	/* Back-ends 1 and 2 write on --aio threads: slower, so the stop finds requests in
	 * their workers; the others use io_uring (the last source must not pop on its own). */
	const char *aio = i == 1 || i == 2 ? "threads" : "io_uring";
	const char *argv[] = { bin,	"--socket-path", t->sock[i], "--blk-file",
			       backing, "--serial",	 SERIAL,     "--poll-us",
			       "0",	"--aio",	 aio,	     NULL };

	vh_test_build_path(bin, sizeof(bin), "devices/vh-blk/vh-blk");
	snprintf(path, sizeof(path), "%.60s/sock%u", t->dir, i);
	memcpy(t->sock[i], path, sizeof(path));
	t->pid[i] = vh_test_spawn_daemon(argv, t->sock[i]);
}

/* A front-end on back-end @i, memory and ring set up from @base; started unless @start false. */
static struct vh_dev *connect_dev(struct t *t, unsigned i, uint32_t base, bool start)
{
	char url[128];
	struct vh_dev_config dc = {
		.path = url,
		.features = ~0ull & ~(1ull << VIRTIO_F_RING_PACKED) &
			    ~(1ull << VIRTIO_F_ACCESS_PLATFORM) &
			    ~(1ull << VIRTIO_RING_F_EVENT_IDX),
		.num_queues = 1,
		.timeout_ms = 3000,
		.name = "vhblk-migrate",
	};
	struct vh_dev_mem_region r = {
		.gpa = 0, .size = MEM_SIZE, .host = t->mem, .fd = t->memfd, .page_size = 4096
	};
	struct vh_dev_vring vr = {
		.index = 0, .num = NUM, .base = base, .kick_fd = -1, .call_fd = -1
	};
	struct vh_vq_ring_addrs ra;
	struct vh_dev *dev;

	snprintf(url, sizeof(url), "unix:%s", t->sock[i]);
	assert_int_equal(vh_dev_create(&dc, &dev), 0);
	assert_true(vh_dev_protocol_features(dev) & (1ull << VH_USER_PROTOCOL_F_DEVICE_STATE));
	if (!t->features)
		t->features = vh_dev_features(dev);
	assert_int_equal(vh_dev_ack_features(dev, t->features), 0);
	assert_int_equal(vh_dev_mem_begin(dev), 0);
	assert_int_equal(vh_dev_mem_add(dev, &r), 0);
	assert_int_equal(vh_dev_mem_commit(dev), 0);
	vh_vq_driver_ring_addrs(t->drv, &ra);
	vr.desc_gpa = ra.desc_gpa;
	vr.avail_gpa = ra.driver_gpa;
	vr.used_gpa = ra.device_gpa;
	assert_int_equal(vh_dev_vring_setup(dev, &vr), 0);
	if (start)
		assert_int_equal(vh_dev_start(dev), 0);
	return dev;
}

static void add_write(struct t *t, struct req *rq)
{
	struct virtio_blk_outhdr h = { .type = VIRTIO_BLK_T_OUT,
				       .sector = (uint64_t)rq->block * (BLOCK / 512) };
	struct vh_vq_buf b[3] = {
		{ HDR_GPA + rq->slot * 16, 16 },
		{ DATA_GPA + rq->slot * BLOCK, BLOCK },
		{ STATUS_GPA + rq->slot, 1 },
	};
	struct vh_vq_driver_req dr = { .bufs = b, .out_num = 2, .in_num = 1, .token = rq };

	memcpy(t->mem + HDR_GPA + rq->slot * 16, &h, sizeof(h));
	memset(t->mem + DATA_GPA + rq->slot * BLOCK, rq->fill, BLOCK);
	t->mem[STATUS_GPA + rq->slot] = 0xee;
	assert_int_equal(vh_vq_driver_add(t->drv, &dr), 0);
}

static void kick(struct t *t)
{
	uint64_t one = 1;

	assert_int_equal(write(vh_dev_vring_kick_fd(t->dev, 0), &one, 8), 8);
}

/* Reap until @want more completions arrived; each request completes exactly once, OK. */
static void reap(struct t *t, unsigned want)
{
	struct pollfd p = { .fd = vh_dev_vring_call_fd(t->dev, 0), .events = POLLIN };
	unsigned got = 0;
	uint32_t len;
	void *tok;
	uint64_t v;

	for (int waited = 0; got < want && waited < 5000;) {
		if (vh_vq_driver_get_used(t->drv, &tok, &len) == 1) {
			struct req *rq = tok;

			rq->done++;
			assert_int_equal(rq->done, 1); /* 0 duplicated */
			assert_int_equal(len, 1);
			assert_int_equal(t->mem[STATUS_GPA + rq->slot], VIRTIO_BLK_S_OK);
			t->last[rq->block] = rq->fill;
			got++;
			continue;
		}
		if (poll(&p, 1, 10) == 1)
			assert_int_equal(read(p.fd, &v, 8), 8);
		else
			waited += 10;
	}
	assert_int_equal(got, want); /* 0 lost */
}

/* Stop the current back-end with requests in flight, move it to back-end @next. */
static unsigned switch_backend(struct t *t, unsigned next)
{
	struct vh_vq_ring_addrs ra;
	struct vh_dev *dst;
	uint32_t base = 0;
	uint16_t used;

	vh_vq_driver_ring_addrs(t->drv, &ra);
	memcpy(&used, t->mem + ra.device_gpa + 2, 2); /* used idx (virtio 1.2 §2.7.8) */
	assert_int_equal(vh_dev_stop(t->dev, &base, 1), 0);
	/* vh-blk drains: what it had popped but not completed is completed by the stop. */
	t->drained += (uint16_t)(base - used);
	spawn(t, next, t->img);
	dst = connect_dev(t, next, base, false);
	assert_int_equal(vh_dev_state_transfer(t->dev, dst), 0);
	assert_int_equal(vh_dev_start(dst), 0);
	vh_dev_destroy(&t->dev);
	vh_test_stop_daemon(t->pid[t->cur], t->sock[t->cur]);
	t->pid[t->cur] = 0;
	t->dev = dst;
	t->cur = next;
	return base;
}

/*
 * One request through the first back-end, then a pause: the ring start's own wake-up and our
 * kick may reach it as two events, and a late second one would pop the first round's parked
 * batch before the switch (the test then counts it as the source's).
 */
static void settle(struct t *t)
{
	struct req rd = { .slot = 0 };
	struct virtio_blk_outhdr h = { .type = VIRTIO_BLK_T_IN };
	struct vh_vq_buf bufs[3] = { { HDR_GPA, 16 }, { DATA_GPA, BLOCK }, { STATUS_GPA, 1 } };
	struct vh_vq_driver_req dr = { .bufs = bufs, .out_num = 1, .in_num = 2, .token = &rd };

	memcpy(t->mem + HDR_GPA, &h, sizeof(h));
	assert_int_equal(vh_test_vq_xfer(t->dev, 0, t->drv, &dr, 3000), BLOCK + 1);
	usleep(50 * 1000);
}

static void make_image(struct t *t)
{
	int fd = open(t->img, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, IMG_SIZE), 0);
	close(fd);
}

static int setup(void **state)
{
	struct t *t = &T;
	struct vh_vq_driver_config vc = {
		.num = NUM, .gpa = 0, .size = MEM_SIZE, .ring_gpa = RING_GPA, .name = "migrate"
	};

	(void)state;
	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/vh-blk-mig-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->img, sizeof(t->img), "%.60s/img", t->dir);
	make_image(t);
	t->mem = vh_test_guest_ram(MEM_SIZE, &t->memfd);
	vc.host = t->mem;
	assert_int_equal(vh_vq_driver_create(&vc, &t->drv), 0);
	spawn(t, 0, t->img);
	t->dev = connect_dev(t, 0, 0, true);
	settle(t);
	return 0;
}

static int teardown(void **state)
{
	struct t *t = &T;

	(void)state;
	vh_dev_destroy(&t->dev);
	vh_vq_driver_destroy(&t->drv);
	for (unsigned i = 0; i < ROUNDS + 2; i++)
		if (t->pid[i] > 0)
			vh_test_stop_daemon(t->pid[i], t->sock[i]);
	munmap(t->mem, MEM_SIZE);
	close(t->memfd);
	unlink(t->img);
	rmdir(t->dir);
	return 0;
}

static void verify_image(struct t *t)
{
	uint8_t *img = malloc(IMG_SIZE);
	int fd = open(t->img, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, img, IMG_SIZE, 0), IMG_SIZE);
	close(fd);
	for (unsigned b = 0; b < NBLOCKS; b++)
		for (unsigned i = 0; i < BLOCK; i++)
			if (img[b * BLOCK + i] != t->last[b])
				fail_msg("block %u byte %u: %u, want %u", b, i, img[b * BLOCK + i],
					 t->last[b]);
	free(img);
}

/* Read every written block through the current back-end. */
static void verify_reads(struct t *t)
{
	struct req rd = { .slot = 0 };

	for (unsigned b = 0; b < NBLOCKS; b++) {
		struct virtio_blk_outhdr h = { .type = VIRTIO_BLK_T_IN,
					       .sector = (uint64_t)b * (BLOCK / 512) };
		struct vh_vq_buf bufs[3] = { { HDR_GPA, 16 },
					     { DATA_GPA, BLOCK },
					     { STATUS_GPA, 1 } };
		struct vh_vq_driver_req dr = {
			.bufs = bufs, .out_num = 1, .in_num = 2, .token = &rd
		};
		uint8_t want[BLOCK];

		if (!t->last[b])
			continue;
		memcpy(t->mem + HDR_GPA, &h, sizeof(h));
		memset(t->mem + DATA_GPA, 0x55, BLOCK);
		assert_int_equal(vh_test_vq_xfer(t->dev, 0, t->drv, &dr, 3000), BLOCK + 1);
		assert_int_equal(t->mem[STATUS_GPA], VIRTIO_BLK_S_OK);
		memset(want, t->last[b], BLOCK);
		assert_memory_equal(t->mem + DATA_GPA, want, BLOCK);
	}
}

static void test_migrate_busy(void **state)
{
	struct t *t = &T;
	unsigned by_dst = 0;

	(void)state;
	for (unsigned r = 0; r < ROUNDS; r++) {
		bool last = r == ROUNDS - 1;
		/* Avail entries taken before this round: settle()'s read, earlier rounds. */
		uint32_t base, before = 1 + r * PER_ROUND;

		for (unsigned i = 0; i < PER_ROUND; i++) {
			struct req *rq = &t->reqs[r * PER_ROUND + i];

			/* Rounds overwrite half of the previous round's blocks. */
			*rq = (struct req){ .slot = i,
					    .block = (r * PER_ROUND / 2 + i) % NBLOCKS,
					    .fill = (uint8_t)(1 + r * PER_ROUND + i) };
			add_write(t, rq);
			if (i == KICKED - 1) {
				/* The first batch goes through the source completely. */
				vh_vq_driver_publish(t->drv);
				kick(t);
				reap(t, KICKED);
			}
		}
		/*
		 * The second batch is in flight at the switch: kicked an instant before the stop
		 * (the source has popped some, all or none of it: those it popped it completes
		 * while stopping, the rest is the destination's), or in the last round never
		 * kicked at all (the destination must take all of it from the ring base).
		 */
		vh_vq_driver_publish(t->drv);
		if (!last)
			kick(t);
		base = switch_backend(t, r + 1);
		assert_true(base >= before + KICKED);
		assert_true(base <= before + PER_ROUND);
		if (last)
			assert_int_equal(base, before + KICKED);
		by_dst += before + PER_ROUND - base;
		reap(t, PARKED);
	}
	for (unsigned i = 0; i < ROUNDS * PER_ROUND; i++)
		assert_int_equal(t->reqs[i].done, 1);
	{
		uint32_t len;
		void *tok;

		assert_int_equal(vh_vq_driver_get_used(t->drv, &tok, &len), 0); /* nothing extra */
	}
	print_message("%u of %u requests in flight at the switches completed by a destination, "
		      "%u by a source while it stopped\n",
		      by_dst, ROUNDS * PARKED, t->drained);
	verify_image(t);
	verify_reads(t);
}

/* A state that does not fit: another disk, truncated, garbage. Refused, the link carries on. */
static void test_state_refused(void **state)
{
	struct t *t = &T;
	struct vh_dev *other;
	char buf[4096];
	uint32_t base = 0;
	int fd, part;
	ssize_t len;

	(void)state;
	assert_int_equal(vh_dev_stop(t->dev, &base, 1), 0);
	fd = memfd_create("state", MFD_CLOEXEC);
	assert_int_equal(vh_dev_state_save(t->dev, fd), 0);
	len = pread(fd, buf, sizeof(buf), 0);
	/* Layout (devices/vh-blk/state.c): "VHBS", version 1, 72-byte header, total length,
	 * the config space's length, ..., one {base, inflight} per queue at the end. */
	assert_true(len > 72);
	assert_memory_equal(buf, "VHBS", 4);
	assert_int_equal(*(uint16_t *)(buf + 4), 1);
	assert_int_equal(*(uint16_t *)(buf + 6), 72);
	assert_int_equal(*(uint32_t *)(buf + 8), (uint32_t)len);
	assert_int_equal(*(uint32_t *)(buf + 12), sizeof(struct virtio_blk_config));
	assert_int_equal(len, 72 + sizeof(struct virtio_blk_config) + 8);
	assert_int_equal(*(uint32_t *)(buf + len - 8), base); /* the ring's position */
	assert_int_equal(*(uint32_t *)(buf + len - 4), 0);    /* drained: nothing in flight */

	spawn(t, ROUNDS + 1, "memory:2M"); /* another disk */
	other = connect_dev(t, ROUNDS + 1, base, false);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(vh_dev_state_load(other, fd), -EIO);
	/* Truncated: the first half of a good state. */
	part = memfd_create("part", MFD_CLOEXEC);
	assert_int_equal(write(part, buf, (size_t)len / 2), len / 2);
	assert_int_equal(lseek(part, 0, SEEK_SET), 0);
	assert_int_equal(vh_dev_state_load(t->dev, part), -EIO);
	/* A version this vh-blk does not know. */
	buf[4] = 2;
	assert_int_equal(pwrite(part, buf, (size_t)len, 0), len);
	assert_int_equal(lseek(part, 0, SEEK_SET), 0);
	assert_int_equal(vh_dev_state_load(t->dev, part), -EIO);
	buf[4] = 1;
	/* Garbage of the right length. */
	memset(buf + 8, 0xa5, (size_t)len - 8);
	assert_int_equal(pwrite(part, buf, (size_t)len, 0), len);
	assert_int_equal(lseek(part, 0, SEEK_SET), 0);
	assert_int_equal(vh_dev_state_load(t->dev, part), -EIO);
	/* The good state still loads into the device it came from, which then serves. */
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(vh_dev_state_load(t->dev, fd), 0);
	assert_int_equal(vh_dev_start(t->dev), 0);
	verify_reads(t);
	close(part);
	close(fd);
	vh_dev_destroy(&other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migrate_busy),
		cmocka_unit_test(test_state_refused),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
