/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vh_log_buf_sync() on the dirty log of a 64 GiB guest (2 MiB bitmap) at several dirty
 * densities, next to a per-bit loop in the style of QEMU's vhost_dev_sync_region() (exchange each
 * word, then one call per set bit). Prints the median of several runs.
 *
 *   log_sync_bench [runs]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vhost/log.h>

#define GUEST_BYTES (64ull << 30)
#define PAGES	    (GUEST_BYTES / VH_LOG_PAGE_SIZE)
#define WORDS	    (PAGES / 64)
#define MAX_RUNS    64

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* xorshift64: reproducible dirty pattern without libc rand() state. */
static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void fill(uint64_t *log, unsigned density)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull;

	if (density == 0 || density == 100) {
		memset(log, density ? 0xff : 0, WORDS * 8);
		return;
	}
	for (uint64_t i = 0; i < WORDS; i++) {
		uint64_t v = 0;

		for (unsigned b = 0; b < 64; b++)
			if (next_rand(&seed) % 100 < density)
				v |= 1ull << b;
		log[i] = v;
	}
}

/* What the seed does per dirty page: one call that marks one page (atomically). */
static __attribute__((noinline)) void set_page_dirty(uint64_t *bitmap, uint64_t page)
{
	__atomic_fetch_or(&bitmap[page / 64], 1ull << (page % 64), __ATOMIC_RELAXED);
}

static uint64_t naive_sync(uint64_t *log, uint64_t *bitmap)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < WORDS; i++) {
		uint64_t v;

		if (!log[i])
			continue;
		v = __atomic_exchange_n(&log[i], 0, __ATOMIC_SEQ_CST);
		while (v) {
			int bit = __builtin_ctzll(v);

			set_page_dirty(bitmap, i * 64 + (uint64_t)bit);
			v &= ~(1ull << bit);
			n++;
		}
	}
	return n;
}

static double median(double *t, int n)
{
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	return t[n / 2];
}

int main(int argc, char **argv)
{
	static const unsigned densities[] = { 0, 1, 10, 50, 100 };
	struct vh_log_buf_config cfg = { .name = "log-sync-bench" };
	int runs = argc > 1 ? atoi(argv[1]) : 9;
	uint64_t *bitmap = calloc(WORDS, 8), *log;
	struct vh_log_buf *buf = NULL;
	double t_lib[MAX_RUNS], t_naive[MAX_RUNS];
	int worst_ok = 1;

	if (runs < 1 || runs > MAX_RUNS)
		runs = 9;
	if (!bitmap || vh_log_buf_create(&cfg, WORDS * 8, &buf) < 0) {
		fprintf(stderr, "log_sync_bench: cannot allocate the log\n");
		return 1;
	}
	log = vh_log_buf_addr(buf);
	printf("guest 64 GiB, log %llu KiB, %d runs (median)\n",
	       (unsigned long long)WORDS * 8 / 1024, runs);
	printf("%-8s %12s %12s %12s\n", "density", "time_ms", "naive_ms", "pages");
	for (size_t d = 0; d < sizeof(densities) / sizeof(densities[0]); d++) {
		int64_t pages = 0;

		for (int r = 0; r < runs; r++) {
			double t0;

			fill(log, densities[d]);
			memset(bitmap, 0, WORDS * 8);
			t0 = now_ms();
			pages = vh_log_buf_sync(buf, bitmap, PAGES);
			t_lib[r] = now_ms() - t0;

			fill(log, densities[d]);
			memset(bitmap, 0, WORDS * 8);
			t0 = now_ms();
			naive_sync(log, bitmap);
			t_naive[r] = now_ms() - t0;
		}
		double ml = median(t_lib, runs), mn = median(t_naive, runs);

		worst_ok &= ml <= 1.0;
		printf("%6u%%  %12.3f %12.3f %12lld\n", densities[d], ml, mn, (long long)pages);
	}
	printf("target <= 1 ms at every density: %s\n", worst_ok ? "met" : "NOT met");
	vh_log_buf_destroy(&buf);
	free(bitmap);
	return 0;
}
