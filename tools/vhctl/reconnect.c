// SPDX-License-Identifier: BSD-3-Clause
/*
 * vhctl blk reconnect-test (hidden, for tests/interop/test_qsd_blk.sh): write and read back
 * stamped blocks in a loop while the backend is killed and restarted; every time a request does
 * not complete and the device reports the backend gone, vh_blk_reconnect() is retried until the
 * new backend answers. At the end every block written is read back and checked.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vhost/frontend.h>

#include "vhctl.h"

#define RT_BS		 (64u << 10)
#define RT_SEED		 9u
#define RT_RECONNECT_SEC 30

struct rt {
	struct vh_blk *blk;
	uint8_t *wbuf, *rbuf;
	unsigned reconnects;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void stamp(uint8_t *buf, uint64_t block)
{
	uint64_t *w = (uint64_t *)buf;
	size_t i;

	for (i = 0; i < RT_BS / 8; i++)
		w[i] = (block * RT_BS + i * 8) ^ ((uint64_t)RT_SEED << 56);
}

/* The backend went away: retry the reconnect until a new one answers. */
static int reconnect(struct rt *t)
{
	uint64_t deadline = now_ms() + RT_RECONNECT_SEC * 1000;
	int err;

	fprintf(stderr, "vhctl: reconnect-test: backend gone, reconnecting\n");
	do {
		usleep(100 * 1000);
		err = vh_blk_reconnect(t->blk);
	} while (err < 0 && now_ms() < deadline);
	if (err < 0) {
		vhctl_err("reconnect-test: no backend within %d s: %s", RT_RECONNECT_SEC,
			  strerror(-err));
		return err;
	}
	t->reconnects++;
	fprintf(stderr, "vhctl: reconnect-test: reconnected (%u)\n", t->reconnects);
	return 0;
}

/* One request, surviving backend restarts (a request in flight is resubmitted by the ring). */
static int io_robust(struct rt *t, enum vh_blk_op op, uint64_t block, uint8_t *buf)
{
	struct vh_blk_io io = {
		.op = op, .offset = block * RT_BS, .buf = buf, .len = RT_BS, .cookie = buf
	};
	struct vh_blk_completion c;
	uint64_t deadline = now_ms() + 2 * RT_RECONNECT_SEC * 1000;
	int r = vh_blk_submit(t->blk, 0, &io, 1);

	if (r < 0)
		return r;
	for (;;) {
		if (now_ms() > deadline)
			return -ETIMEDOUT;
		r = vh_blk_wait(t->blk, 0, 200);
		if (r < 0)
			return r;
		if (r > 0 && vh_blk_reap(t->blk, 0, &c, 1) == 1)
			return c.status;
		r = vh_dev_dispatch(vh_blk_dev(t->blk));
		if (r < 0 && reconnect(t) < 0)
			return -ENOTCONN;
	}
}

static int check_block(struct rt *t, uint64_t block)
{
	int err = io_robust(t, VH_BLK_OP_READ, block, t->rbuf);

	if (err < 0) {
		vhctl_err("reconnect-test: read block %" PRIu64 ": %s", block, strerror(-err));
		return -1;
	}
	stamp(t->wbuf, block);
	if (memcmp(t->wbuf, t->rbuf, RT_BS)) {
		vhctl_err("reconnect-test: block %" PRIu64 " (offset %" PRIu64 ") has wrong data",
			  block, block * RT_BS);
		return -1;
	}
	return 0;
}

static int run(struct rt *t, unsigned runtime, uint64_t nblocks)
{
	uint64_t end = now_ms() + runtime * 1000ull, i, n, written = 0;
	int err;

	for (i = 0; now_ms() < end; i++) {
		uint64_t block = i % nblocks;

		stamp(t->wbuf, block);
		err = io_robust(t, VH_BLK_OP_WRITE, block, t->wbuf);
		if (err < 0) {
			vhctl_err("reconnect-test: write block %" PRIu64 ": %s", block,
				  strerror(-err));
			return VHCTL_EXIT_FAIL;
		}
		if (check_block(t, block) < 0)
			return VHCTL_EXIT_FAIL;
		written = i + 1 < nblocks ? i + 1 : nblocks;
	}
	n = i;
	for (i = 0; i < written; i++)
		if (check_block(t, i) < 0)
			return VHCTL_EXIT_FAIL;
	printf("reconnect-test: reconnects: %u, iterations: %" PRIu64 ", blocks verified: %" PRIu64
	       "\n",
	       t->reconnects, n, written);
	return 0;
}

int vhctl_blk_reconnect_test(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "runtime", required_argument, NULL, 't' },
		{ "size", required_argument, NULL, 's' },
		{ "packed", no_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t runtime = 5, size = 8 << 20;
	char path[512];
	struct vh_blk_config cfg = { .pool_size = 2 * RT_BS, .timeout_ms = 2000, .name = "vh_blk" };
	struct rt t = { 0 };
	int c, rc, err;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'P') {
			cfg.flags |= VH_BLK_PACKED;
			continue;
		}
		if ((c != 't' && c != 's') ||
		    vhctl_parse_size(c == 't' ? "--runtime" : "--size", optarg,
				     c == 't' ? &runtime : &size) < 0)
			return VHCTL_EXIT_USAGE;
	}
	if (optind + 1 != argc || size < RT_BS) {
		vhctl_err(
		    "blk reconnect-test: SOCKET [--runtime SECS] [--size BYTES >= 64k] [--packed]");
		return VHCTL_EXIT_USAGE;
	}
	vhctl_backend_path(argv[optind], path, sizeof(path));
	cfg.path = path;
	cfg.log = vhctl_log_sink(false);
	err = vh_blk_create(&cfg, &t.blk);
	if (err < 0) {
		vhctl_err("%s: cannot open the virtio-blk device: %s", path, strerror(-err));
		return VHCTL_EXIT_FAIL;
	}
	t.wbuf = vh_blk_buf_alloc(t.blk, RT_BS);
	t.rbuf = vh_blk_buf_alloc(t.blk, RT_BS);
	rc = t.wbuf && t.rbuf ? run(&t, (unsigned)runtime, size / RT_BS) : VHCTL_EXIT_FAIL;
	vh_blk_destroy(&t.blk);
	return rc;
}
