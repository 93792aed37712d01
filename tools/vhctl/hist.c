// SPDX-License-Identifier: BSD-3-Clause
/* vhctl benches: the latency histogram shared by blk bench and net bench. */
#include <time.h>

#include "hist.h"
#include "vhctl.h"

uint64_t vhctl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static unsigned hist_index(uint64_t v)
{
	unsigned e;

	if (v < 32)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);
	return 32 + (e - 5) * 16 + (unsigned)((v >> (e - 4)) & 15);
}

static uint64_t hist_value(unsigned i)
{
	unsigned e, sub;

	if (i < 32)
		return i;
	e = (i - 32) / 16 + 5;
	sub = (i - 32) % 16;
	/* Middle of the bucket. */
	return ((16ull + sub) << (e - 4)) + (1ull << (e - 4)) / 2;
}

void hist_add(struct hist *h, uint64_t v)
{
	h->b[hist_index(v)]++;
	h->count++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

void hist_merge(struct hist *to, const struct hist *from)
{
	unsigned i;

	for (i = 0; i < HIST_BUCKETS; i++)
		to->b[i] += from->b[i];
	to->count += from->count;
	to->sum += from->sum;
	if (from->max > to->max)
		to->max = from->max;
}

uint64_t hist_pct(const struct hist *h, double pct)
{
	uint64_t want = (uint64_t)((double)h->count * pct / 100.0 + 0.5), seen = 0;
	unsigned i;

	if (want == 0)
		want = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want)
			return hist_value(i) < h->max ? hist_value(i) : h->max;
	}
	return h->max;
}

void hist_json(struct vhctl_json *j, const char *key, const struct hist *h)
{
	vhctl_json_begin(j, key);
	vhctl_json_double(j, "avg", h->count ? (double)h->sum / (double)h->count / 1000.0 : 0);
	vhctl_json_double(j, "p50", (double)hist_pct(h, 50) / 1000.0);
	vhctl_json_double(j, "p99", (double)hist_pct(h, 99) / 1000.0);
	vhctl_json_double(j, "p99_9", (double)hist_pct(h, 99.9) / 1000.0);
	vhctl_json_double(j, "max", (double)h->max / 1000.0);
	vhctl_json_end(j);
}
