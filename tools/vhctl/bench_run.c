// SPDX-License-Identifier: BSD-3-Clause
/* vhctl blk bench: the per-queue workers, the latency histogram, the verify pattern. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "hist.h"
#include "vhctl.h"

#define STALL_MS 30000

enum phase {
	PH_FILL,
	PH_RUN,
	PH_CHECK
};

/* Between the main thread and the workers. */
struct shared {
	atomic_bool stop;   /* end the timed phase */
	atomic_bool go;	    /* every queue filled its area: start the timed phase */
	atomic_uint filled; /* workers done with the fill phase (or failed) */
	atomic_bool failed; /* some worker failed: the others skip the final check */
};

struct slot {
	uint8_t *buf;
	uint64_t t0;
	uint64_t block;
	bool write;
};

struct worker {
	pthread_t th;
	struct vh_blk *blk;
	const struct bench_opts *o;
	unsigned q;
	struct slot *slots;
	struct vh_blk_io *batch;
	struct vh_blk_completion *comps;
	uint64_t rng;
	uint64_t first, nblocks, cursor; /* this queue's partition, sequential position */
	enum phase phase;
	struct shared *sh;
	_Atomic uint64_t live_ops, live_bytes, live_lat; /* live_lat: sum of latencies, ns */
	struct hist hist[2];				 /* 0 read, 1 write: the timed phase only */
	uint64_t checked;				 /* sectors verified */
	int err;
	char msg[256];
};

/* ---- pattern: every 512-byte sector names itself and the seed ------------------------------ */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void stamp(uint8_t *buf, uint64_t lba, unsigned sectors, uint64_t seed)
{
	unsigned s, i;

	for (s = 0; s < sectors; s++) {
		uint64_t *w = (uint64_t *)(buf + s * 512u), x = mix64((lba + s) ^ (seed << 40));

		w[0] = lba + s;
		w[1] = seed;
		for (i = 2; i < 64; i++)
			w[i] = x + i;
	}
}

/* 0, or fills @w->msg with the first mismatch and returns -1. */
static int check(struct worker *w, const uint8_t *buf, uint64_t lba, unsigned sectors)
{
	unsigned s, i;

	for (s = 0; s < sectors; s++) {
		const uint64_t *p = (const uint64_t *)(buf + s * 512u);
		uint64_t x = mix64((lba + s) ^ (w->o->seed << 40));

		for (i = 0; i < 64; i++) {
			uint64_t want = i == 0 ? lba + s : i == 1 ? w->o->seed : x + i;

			if (p[i] == want)
				continue;
			snprintf(w->msg, sizeof(w->msg),
				 "verify: MISMATCH at byte offset %" PRIu64 " (sector %" PRIu64
				 ", queue %u): expected 0x%016" PRIx64 ", got 0x%016" PRIx64
				 " (the sector names sector %" PRIu64 ", seed %" PRIu64 ")",
				 (lba + s) * 512 + i * 8, lba + s, w->q, want, p[i], p[0], p[1]);
			return -1;
		}
	}
	w->checked += sectors;
	return 0;
}

/* ---- the worker loop ------------------------------------------------------------------------ */

static uint64_t rng_next(struct worker *w)
{
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 0x2545f4914f6cdd1dull;
}

static void prep(struct worker *w, struct slot *s, struct vh_blk_io *io)
{
	const struct bench_opts *o = w->o;
	enum bench_rw rw = w->phase == PH_FILL	  ? BENCH_WRITE
			   : w->phase == PH_CHECK ? BENCH_READ
						  : o->rw;
	unsigned sectors = o->bs / 512;

	if (rw == BENCH_READ || rw == BENCH_WRITE) {
		s->block = w->first + w->cursor;
		w->cursor = w->cursor + 1 == w->nblocks ? 0 : w->cursor + 1;
	} else {
		s->block = rng_next(w) % o->blocks;
	}
	s->write = rw == BENCH_WRITE || rw == BENCH_RANDWRITE ||
		   (rw == BENCH_RANDRW && rng_next(w) % 100 >= o->mixread);
	if (s->write && o->verify)
		stamp(s->buf, s->block * sectors, sectors, o->seed);
	*io = (struct vh_blk_io){
		.op = s->write ? VH_BLK_OP_WRITE : VH_BLK_OP_READ,
		.offset = s->block * o->bs,
		.buf = s->buf,
		.len = o->bs,
		.cookie = s,
	};
	s->t0 = vhctl_now_ns();
}

static int fail(struct worker *w, const char *what, int err)
{
	if (!w->msg[0])
		snprintf(w->msg, sizeof(w->msg), "queue %u: %s: %s", w->q, what, strerror(-err));
	__atomic_store_n(&w->err, err ? err : -EIO, __ATOMIC_RELAXED);
	atomic_store(&w->sh->failed, true);
	return -1;
}

static int submit(struct worker *w, unsigned n)
{
	int r;

	if (n == 0)
		return 0;
	r = vh_blk_submit(w->blk, w->q, w->batch, n);
	if (r < 0)
		return fail(w, "submit", r);
	if ((unsigned)r != n)
		return fail(w, "submit: queue full below --iodepth", -EAGAIN);
	return 0;
}

static void bump(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

/* One completion: account, verify, decide whether to issue another. Returns 0 or -1. */
static int complete(struct worker *w, const struct vh_blk_completion *c, uint64_t t)
{
	struct slot *s = c->cookie;
	const struct bench_opts *o = w->o;

	if (c->status < 0) {
		snprintf(w->msg, sizeof(w->msg), "queue %u: %s at offset %" PRIu64 ": %s", w->q,
			 s->write ? "write" : "read", s->block * o->bs, strerror(-c->status));
		return fail(w, "I/O", c->status);
	}
	if (o->verify && !s->write && check(w, s->buf, s->block * (o->bs / 512), o->bs / 512))
		return fail(w, "verify", -EILSEQ);
	if (w->phase == PH_RUN) {
		hist_add(&w->hist[s->write], t - s->t0);
		/* Single writer: a relaxed load and store, no locked instruction. */
		bump(&w->live_ops, 1);
		bump(&w->live_bytes, o->bs);
		bump(&w->live_lat, t - s->t0);
	}
	return 0;
}

static int wait_more(struct worker *w, uint64_t *last_progress)
{
	int r;

	if (!w->o->poll) {
		r = vh_blk_wait(w->blk, w->q, 1000);
		if (r < 0)
			return fail(w, "wait", r);
	}
	if (vhctl_now_ns() - *last_progress > STALL_MS * 1000000ull)
		return fail(w, "no completion for 30 s", -ETIMEDOUT);
	return 0;
}

/* Keep the queue full until @limit requests were issued (0: until *stop). */
static int run_phase(struct worker *w, enum phase ph, uint64_t limit)
{
	unsigned depth = w->o->iodepth, n = 0, i;
	uint64_t issued = 0, last = vhctl_now_ns();
	bool more = true;

	w->phase = ph;
	w->cursor = 0;
	for (i = 0; i < depth && (!limit || issued < limit); i++, issued++)
		prep(w, &w->slots[i], &w->batch[n++]);
	if (submit(w, n) < 0)
		return -1;
	while (vh_blk_inflight(w->blk, w->q) > 0) {
		int r = vh_blk_reap(w->blk, w->q, w->comps, depth);
		uint64_t t;

		if (r < 0)
			return fail(w, "reap", r);
		if (r == 0) {
			if (wait_more(w, &last) < 0)
				return -1;
			continue;
		}
		t = last = vhctl_now_ns();
		more = limit ? issued < limit
			     : !atomic_load_explicit(&w->sh->stop, memory_order_relaxed);
		for (n = 0, i = 0; i < (unsigned)r; i++) {
			if (complete(w, &w->comps[i], t) < 0)
				return -1;
			if (more && (!limit || issued < limit)) {
				prep(w, w->comps[i].cookie, &w->batch[n++]);
				issued++;
			}
		}
		if (submit(w, n) < 0)
			return -1;
	}
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int r = 0;

	if (w->o->verify && !w->o->no_fill)
		r = run_phase(w, PH_FILL, w->nblocks);
	atomic_fetch_add(&w->sh->filled, 1);
	if (r < 0)
		return NULL;
	while (!atomic_load(&w->sh->go))
		usleep(200);
	/* --runtime 0 skips the timed phase; the final check still runs. */
	if (!atomic_load(&w->sh->stop) && run_phase(w, PH_RUN, 0) < 0)
		return NULL;
	if (w->o->verify && !atomic_load(&w->sh->failed))
		run_phase(w, PH_CHECK, w->nblocks);
	return NULL;
}

/* ---- setup, progress, report ---------------------------------------------------------------- */

static int worker_init(struct worker *w, struct vh_blk *blk, const struct bench_opts *o, unsigned q)
{
	unsigned i;

	w->blk = blk;
	w->o = o;
	w->q = q;
	w->rng = mix64(o->seed * 0x9e3779b97f4a7c15ull + q + 1) | 1;
	w->first = o->blocks * q / o->queues;
	w->nblocks = o->blocks * (q + 1) / o->queues - w->first;
	w->slots = calloc(o->iodepth, sizeof(*w->slots));
	w->batch = calloc(o->iodepth, sizeof(*w->batch));
	w->comps = calloc(o->iodepth, sizeof(*w->comps));
	if (!w->slots || !w->batch || !w->comps)
		return -ENOMEM;
	for (i = 0; i < o->iodepth; i++) {
		if (o->umem)
			w->slots[i].buf =
			    o->umem + ((uint64_t)q * o->iodepth + i) * ((o->bs + 4095) & ~4095u);
		else
			w->slots[i].buf = vh_blk_buf_alloc(blk, o->bs);
		if (!w->slots[i].buf)
			return -ENOMEM;
		memset(w->slots[i].buf, 0, o->bs);
	}
	return 0;
}

static void worker_fini(struct worker *w)
{
	unsigned i;

	for (i = 0; w->slots && !w->o->umem && i < w->o->iodepth; i++)
		vh_blk_buf_free(w->blk, w->slots[i].buf);
	free(w->slots);
	free(w->batch);
	free(w->comps);
}

static bool any_error(const struct worker *ws, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (__atomic_load_n(&ws[i].err, __ATOMIC_RELAXED))
			return true;
	return false;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Sums of the workers' live counters. */
struct live {
	uint64_t ops, bytes, lat, t;
};

static struct live live_now(struct worker *ws, unsigned n)
{
	struct live l = { .t = vhctl_now_ns() };

	for (unsigned i = 0; i < n; i++) {
		l.ops += atomic_load_explicit(&ws[i].live_ops, memory_order_relaxed);
		l.bytes += atomic_load_explicit(&ws[i].live_bytes, memory_order_relaxed);
		l.lat += atomic_load_explicit(&ws[i].live_lat, memory_order_relaxed);
	}
	return l;
}

/*
 * The timed phase as the main thread sees it: a sample every second (for --json and --plot)
 * and, on a terminal, a progress line.
 */
static double timed_phase(struct worker *ws, const struct bench_opts *o, struct shared *sh,
			  struct bench_sample *samples, unsigned *nsamples)
{
	bool progress = vhctl_progress_wanted(o->quiet);
	uint64_t start;
	struct live prev;
	unsigned sec = 0;

	while (atomic_load(&sh->filled) < o->queues)
		sleep_ms(10);
	if (o->verify && !o->no_fill && !any_error(ws, o->queues))
		fprintf(stderr, "vhctl: verify: area filled with the pattern (seed %" PRIu64 ")\n",
			o->seed);
	start = vhctl_now_ns();
	prev = (struct live){ .t = start };
	atomic_store(&sh->go, true);
	while (sec < o->runtime && !any_error(ws, o->queues)) {
		struct live l;
		struct bench_sample *sm = &samples[sec];
		double dt;

		sleep_ms(1000);
		sec++;
		l = live_now(ws, o->queues);
		dt = (double)(l.t - prev.t) / 1e9;
		*sm = (struct bench_sample){
			.t = (double)(l.t - start) / 1e9,
			.iops = (double)(l.ops - prev.ops) / dt,
			.mib_s = (double)(l.bytes - prev.bytes) / dt / 1048576.0,
			.lat_avg_us = l.ops > prev.ops ? (double)(l.lat - prev.lat) /
							     (double)(l.ops - prev.ops) / 1000.0
						       : 0,
		};
		*nsamples = sec;
		if (progress)
			fprintf(stderr, "\r[%4us/%us] %10.0f IOPS %9.2f MiB/s %9.1f us   ", sec,
				o->runtime, sm->iops, sm->mib_s, sm->lat_avg_us);
		prev = l;
	}
	atomic_store(&sh->stop, true);
	if (progress)
		fputc('\n', stderr);
	return (double)(vhctl_now_ns() - start) / 1e9;
}

static void print_row(struct vhctl_json *j, const char *name, const struct hist *h, double secs,
		      uint32_t bs)
{
	if (!h->count)
		return;
	if (j) {
		vhctl_json_begin(j, NULL);
		vhctl_json_str(j, "op", name);
		vhctl_json_u64(j, "requests", h->count);
		vhctl_json_double(j, "iops", (double)h->count / secs);
		vhctl_json_double(j, "mib_s", (double)h->count * bs / secs / 1048576.0);
		hist_json(j, "latency_us", h);
		vhctl_json_end(j);
		return;
	}
	printf("%-6s %12" PRIu64 " %12.0f %10.2f %9.1f %9.1f %9.1f %9.1f %9.1f\n", name, h->count,
	       (double)h->count / secs, (double)h->count * bs / secs / 1048576.0,
	       (double)h->sum / (double)h->count / 1000.0, (double)hist_pct(h, 50) / 1000.0,
	       (double)hist_pct(h, 99) / 1000.0, (double)hist_pct(h, 99.9) / 1000.0,
	       (double)h->max / 1000.0);
}

static void report_samples(struct vhctl_json *j, const struct bench_sample *s, unsigned n)
{
	vhctl_json_begin_array(j, "samples");
	for (unsigned i = 0; i < n; i++) {
		vhctl_json_begin(j, NULL);
		vhctl_json_double(j, "t", s[i].t);
		vhctl_json_double(j, "iops", s[i].iops);
		vhctl_json_double(j, "mib_s", s[i].mib_s);
		vhctl_json_double(j, "lat_avg_us", s[i].lat_avg_us);
		vhctl_json_end(j);
	}
	vhctl_json_end_array(j);
}

static int report(struct worker *ws, const struct bench_opts *o, double secs)
{
	struct hist *all = calloc(3, sizeof(*all));
	uint64_t checked = 0;
	unsigned i;
	int rc = 0;

	if (!all)
		return VHCTL_EXIT_FAIL;
	for (i = 0; i < o->queues; i++) {
		hist_merge(&all[0], &ws[i].hist[0]);
		hist_merge(&all[1], &ws[i].hist[1]);
		checked += ws[i].checked;
		if (ws[i].err) {
			vhctl_err("%s", ws[i].msg);
			rc = VHCTL_EXIT_FAIL;
		}
	}
	hist_merge(&all[2], &all[0]);
	hist_merge(&all[2], &all[1]);
	if (o->j) {
		vhctl_json_double(o->j, "seconds", secs);
		vhctl_json_begin_array(o->j, "results");
	} else {
		printf("%-6s %12s %12s %10s %9s %9s %9s %9s %9s\n", "op", "requests", "IOPS",
		       "MiB/s", "avg(us)", "p50(us)", "p99(us)", "p99.9", "max(us)");
	}
	print_row(o->j, "read", &all[0], secs, o->bs);
	print_row(o->j, "write", &all[1], secs, o->bs);
	if (all[0].count && all[1].count)
		print_row(o->j, "total", &all[2], secs, o->bs);
	if (o->j) {
		vhctl_json_end_array(o->j);
		if (o->verify) {
			vhctl_json_begin(o->j, "verify");
			vhctl_json_bool(o->j, "ok", rc == 0);
			vhctl_json_u64(o->j, "sectors_checked", checked);
			vhctl_json_u64(o->j, "seed", o->seed);
			vhctl_json_end(o->j);
		}
	} else if (o->verify && rc == 0)
		printf("verify: ok: %" PRIu64 " sectors checked (%" PRIu64
		       " MiB), pattern seed %" PRIu64 "\n",
		       checked, checked >> 11, o->seed);
	else if (o->verify)
		printf("verify: FAILED\n");
	free(all);
	return rc;
}

int bench_run(struct vh_blk *blk, const struct bench_opts *o)
{
	struct worker *ws = calloc(o->queues, sizeof(*ws));
	struct bench_sample *samples = calloc(o->runtime + 1, sizeof(*samples));
	struct shared sh;
	unsigned i, started = 0, nsamples = 0;
	double secs = 0;
	int rc = VHCTL_EXIT_FAIL;

	if (!ws || !samples) {
		free(ws);
		free(samples);
		return rc;
	}
	atomic_init(&sh.stop, false);
	atomic_init(&sh.go, false);
	atomic_init(&sh.filled, 0);
	atomic_init(&sh.failed, false);
	for (i = 0; i < o->queues; i++) {
		ws[i].sh = &sh;
		if (worker_init(&ws[i], blk, o, i) < 0) {
			vhctl_err("blk bench: out of memory for %u x %u buffers", o->queues,
				  o->iodepth);
			goto out;
		}
	}
	for (i = 0; i < o->queues; i++, started++)
		if (pthread_create(&ws[i].th, NULL, worker_main, &ws[i]))
			break;
	if (started == o->queues)
		secs = timed_phase(ws, o, &sh, samples, &nsamples);
	atomic_store(&sh.stop, true);
	atomic_store(&sh.go, true);
	for (i = 0; i < started; i++)
		pthread_join(ws[i].th, NULL);
	if (started == o->queues) {
		rc = report(ws, o, secs > 0 ? secs : 1);
		if (o->j)
			report_samples(o->j, samples, nsamples);
		if (o->plot && bench_plot(o->plot, o, samples, nsamples) < 0)
			rc = VHCTL_EXIT_FAIL;
	} else
		vhctl_err("blk bench: cannot start threads");
out:
	for (i = 0; i < o->queues; i++)
		if (ws[i].o)
			worker_fini(&ws[i]);
	free(ws);
	free(samples);
	return rc;
}
