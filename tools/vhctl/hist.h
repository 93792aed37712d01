/* SPDX-License-Identifier: BSD-3-Clause */
/* vhctl benches: a latency histogram (nanoseconds) and the clock. */
#ifndef VHCTL_HIST_H
#define VHCTL_HIST_H

#include <stdint.h>

/* Log-linear: exact below 32 ns, then 16 buckets per power of two (< 6.25% error). */
#define HIST_BUCKETS 1024

struct hist {
	uint64_t b[HIST_BUCKETS];
	uint64_t count, sum, max;
};

void hist_add(struct hist *h, uint64_t v);
void hist_merge(struct hist *to, const struct hist *from);
/* The value below which @pct percent of the samples lie (bucket middle, capped at max). */
uint64_t hist_pct(const struct hist *h, double pct);
struct vhctl_json;
/* An object @key with avg, p50, p99, p99_9, max in microseconds. */
void hist_json(struct vhctl_json *j, const char *key, const struct hist *h);
/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t vhctl_now_ns(void);

#endif
