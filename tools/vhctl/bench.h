/* SPDX-License-Identifier: BSD-3-Clause */
/* vhctl blk bench: options (bench.c) and the workers (bench_run.c). */
#ifndef VHCTL_BENCH_H
#define VHCTL_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#include <vhost/blk.h>

#include "vhctl.h"

#define BENCH_MAX_QUEUES 64

enum bench_rw {
	BENCH_READ,
	BENCH_WRITE,
	BENCH_RANDREAD,
	BENCH_RANDWRITE,
	BENCH_RANDRW
};

struct bench_opts {
	char path[512];
	enum bench_rw rw;
	const char *rw_name;
	uint32_t bs;
	unsigned iodepth;
	unsigned queues;
	unsigned runtime;
	unsigned mixread;
	unsigned qsize;
	uint64_t size;
	uint64_t blocks; /* size / bs */
	uint64_t seed;
	bool packed;
	bool poll;
	bool verify;
	bool no_fill;
	bool user_mem; /* buffers in our own memfd (struct vh_blk_user_mem), not the pool */
	uint8_t *umem; /* its mapping */
	uint64_t umem_size;
	int umem_fd;
	bool quiet;
	bool verbose;
	bool json;
	struct vhctl_json *j; /* --json: the open document the report adds to; NULL: text */
	const char *plot;     /* --plot FILE.svg */
};

/* One second of the timed phase. */
struct bench_sample {
	double t;	   /* seconds since the start of the timed phase */
	double iops;	   /* requests completed in the second, per second */
	double mib_s;	   /* MiB/s */
	double lat_avg_us; /* mean latency of the requests completed in the second */
};

/* bench_plot.c: IOPS and latency over time as an SVG file; 0 or -errno (message printed). */
int bench_plot(const char *file, const struct bench_opts *o, const struct bench_sample *s,
	       unsigned n);

/* Runs the phases and prints the table; returns the exit code. */
int bench_run(struct vh_blk *blk, const struct bench_opts *o);

#endif
