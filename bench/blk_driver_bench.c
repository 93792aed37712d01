// SPDX-License-Identifier: BSD-3-Clause
/*
 * The userspace virtio-blk driver's per-request cost: the request queue of vh_blk (driver/) on a
 * ring whose device side (vq/) runs in the same process and completes every 4 KiB read at once
 * (a null device: no data copy). No socket, no eventfd: the device polls, the driver polls.
 *
 *   blk_driver_bench [--seconds S] [--threads]
 *
 * Single-thread mode runs driver and device alternately on one core, timing each side per batch;
 * "driver ns/req" is the submit + reap cost alone. --threads puts the device on a second thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "driver/blk_internal.h"

#define MEM_SIZE (8u << 20)
#define BUF_OFF	 (4u << 20)
#define BS	 4096u
#define NUM	 256u

struct variant {
	const char *name;
	bool packed;
	bool indirect;
	bool event_idx;
	unsigned batch;
};

struct env {
	uint8_t *mem;
	struct blkq q;
	struct blk_ramdev rd;
	struct vh_blk_io *ios;
	struct vh_blk_completion *comps;
	unsigned batch;
	atomic_bool stop;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int env_init(struct env *e, const struct variant *v)
{
	struct blkq_config qc = {
		.num = NUM,
		.depth = v->batch,
		.packed = v->packed,
		.event_idx = v->event_idx,
		.poll = true,
		.indirect_max = v->indirect ? 4 : 0,
		.base_gpa = 0,
		.features = 1ull << VIRTIO_BLK_F_FLUSH,
		.capacity = 1ull << 30,
		.kick_fd = -1,
		.call_fd = -1,
		.name = "bench",
	};
	struct blk_ramdev_config rc = {
		.num = NUM,
		.packed = v->packed,
		.event_idx = v->event_idx,
		.indirect = true,
		.sectors = 1ull << 30,
	};
	unsigned i;
	int err;

	memset(e, 0, sizeof(*e));
	e->mem = aligned_alloc(1u << 21, MEM_SIZE);
	e->ios = calloc(v->batch, sizeof(*e->ios));
	e->comps = calloc(v->batch, sizeof(*e->comps));
	if (!e->mem || !e->ios || !e->comps)
		return -ENOMEM;
	memset(e->mem, 0, MEM_SIZE);
	qc.mem = (struct blkq_mem){ .host = e->mem, .gpa = 0, .size = MEM_SIZE };
	err = blkq_init(&e->q, &qc);
	if (err < 0)
		return err;
	rc.mem = qc.mem;
	rc.driver = e->q.vq;
	err = blk_ramdev_init(&e->rd, &rc);
	if (err < 0)
		return err;
	e->batch = v->batch;
	for (i = 0; i < v->batch; i++)
		e->ios[i] = (struct vh_blk_io){ .op = VH_BLK_OP_READ,
						.offset = (uint64_t)i * BS * 7,
						.buf = e->mem + BUF_OFF + i * BS,
						.len = BS,
						.cookie = &e->ios[i] };
	return 0;
}

static void env_fini(struct env *e)
{
	blk_ramdev_fini(&e->rd);
	blkq_fini(&e->q);
	free(e->mem);
	free(e->ios);
	free(e->comps);
}

/* Submit a batch, let the device complete it, reap it. Returns requests completed or -1. */
static long one_round(struct env *e, uint64_t *drv_ns)
{
	uint64_t t0 = now_ns(), t1, t2;
	int n = blkq_submit(&e->q, e->ios, e->batch), got = 0, r;

	if (n != (int)e->batch)
		return -1;
	t1 = now_ns();
	if (blk_ramdev_process(&e->rd, e->batch) != n)
		return -1;
	t2 = now_ns();
	while (got < n) {
		r = blkq_reap(&e->q, e->comps, e->batch);
		if (r < 0 || (r > 0 && e->comps[0].status))
			return -1;
		got += r;
	}
	*drv_ns += (t1 - t0) + (now_ns() - t2);
	return got;
}

static int run_single(const struct variant *v, double seconds)
{
	struct env e;
	uint64_t start, end, reqs = 0, drv = 0, rounds = 0;

	if (env_init(&e, v) < 0) {
		fprintf(stderr, "blk_driver_bench: setup failed\n");
		return -1;
	}
	start = now_ns();
	end = start + (uint64_t)(seconds * 1e9);
	do {
		long n = one_round(&e, &drv);

		if (n < 0) {
			fprintf(stderr, "blk_driver_bench: %s: round failed\n", v->name);
			env_fini(&e);
			return -1;
		}
		reqs += (uint64_t)n;
	} while ((++rounds & 63) || now_ns() < end);
	end = now_ns();
	printf("%-26s %6u %12.2f %10.1f %12.1f\n", v->name, v->batch,
	       (double)reqs * 1e3 / (double)(end - start), (double)(end - start) / (double)reqs,
	       (double)drv / (double)reqs);
	env_fini(&e);
	return 0;
}

static void *device_thread(void *arg)
{
	struct env *e = arg;

	while (!atomic_load_explicit(&e->stop, memory_order_relaxed))
		if (blk_ramdev_process(&e->rd, 64) < 0)
			break;
	return NULL;
}

/* Driver keeps the queue full; the device completes from its own thread. */
static int run_threads(const struct variant *v, double seconds)
{
	struct env e;
	pthread_t th;
	uint64_t start, end, reqs = 0;
	unsigned i;

	if (env_init(&e, v) < 0 || pthread_create(&th, NULL, device_thread, &e))
		return -1;
	start = now_ns();
	end = start + (uint64_t)(seconds * 1e9);
	if (blkq_submit(&e.q, e.ios, e.batch) != (int)e.batch)
		goto fail;
	while (now_ns() < end) {
		for (i = 0; i < 256; i++) {
			int r = blkq_reap(&e.q, e.comps, e.batch), k, n = 0;

			if (r < 0)
				goto fail;
			for (k = 0; k < r; k++)
				e.ios[n++].cookie = e.comps[k].cookie;
			if (r > 0 && blkq_submit(&e.q, e.ios, (unsigned)r) != r)
				goto fail;
			reqs += (uint64_t)r;
		}
	}
	end = now_ns();
	atomic_store(&e.stop, true);
	pthread_join(th, NULL);
	printf("%-26s %6u %12.2f %10.1f %12s\n", v->name, v->batch,
	       (double)reqs * 1e3 / (double)(end - start), (double)(end - start) / (double)reqs,
	       "-");
	env_fini(&e);
	return 0;
fail:
	atomic_store(&e.stop, true);
	pthread_join(th, NULL);
	env_fini(&e);
	fprintf(stderr, "blk_driver_bench: %s: failed\n", v->name);
	return -1;
}

int main(int argc, char **argv)
{
	static const struct variant variants[] = {
		{ "split", false, false, false, 32 },
		{ "split event_idx", false, false, true, 32 },
		{ "split indirect", false, true, false, 32 },
		{ "packed", true, false, false, 32 },
		{ "packed indirect", true, true, false, 32 },
		{ "split batch=1", false, false, false, 1 },
		{ "packed batch=1", true, false, false, 1 },
	};
	double seconds = 0.5;
	bool threads = false;
	unsigned i;
	int rc = 0;

	for (i = 1; i < (unsigned)argc; i++) {
		if (!strcmp(argv[i], "--threads"))
			threads = true;
		else if (!strcmp(argv[i], "--seconds") && i + 1 < (unsigned)argc)
			seconds = atof(argv[++i]);
		else {
			fprintf(stderr, "usage: blk_driver_bench [--seconds S] [--threads]\n");
			return 2;
		}
	}
	printf("vh_blk request path, 4 KiB reads, in-process null device (%s)\n",
	       threads ? "device on a second thread" : "one core: driver and device alternate");
	printf("%-26s %6s %12s %10s %12s\n", "ring", "batch", "Mreq/s", "ns/req", "driver ns/req");
	for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++)
		if ((threads ? run_threads : run_single)(&variants[i], seconds) < 0)
			rc = 1;
	return rc;
}
