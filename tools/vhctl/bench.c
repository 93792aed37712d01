// SPDX-License-Identifier: BSD-3-Clause
/*
 * vhctl blk bench: one thread per queue keeps --iodepth requests in flight for --runtime seconds
 * and records every latency in a preallocated log-linear histogram. --verify stamps every
 * 512-byte sector written with (sector number, seed) and checks every sector read against it.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "vhctl.h"

static const char bench_help[] =
    "usage: vhctl blk bench SOCKET [OPTIONS]\n"
    "  --rw MODE        read|write|randread|randwrite|randrw (default randread)\n"
    "  --bs SIZE        request size, a multiple of 512 (default 4k)\n"
    "  --iodepth N      requests in flight per queue (default 32)\n"
    "  --queues N       queues, one thread each (default 1)\n"
    "  --runtime SECS   timed phase (default 10)\n"
    "  --size BYTES     disk area used, from offset 0 (default: the whole disk)\n"
    "  --rwmixread PCT  randrw: percentage of reads (default 50)\n"
    "  --qsize N        ring size (default: enough for --iodepth)\n"
    "  --packed         packed virtqueues (fails if the backend cannot)\n"
    "  --poll           poll the used ring instead of waiting for the call eventfd\n"
    "  --verify         fill the area with a stamped pattern, check every read during the\n"
    "                   run and read the whole area back at the end; exit 1 on a mismatch\n"
    "  --no-fill        with --verify: skip the fill, the area already holds the pattern of\n"
    "                   --seed from an earlier run\n"
    "  --seed N         pattern seed (default 1)\n"
    "  --json           one JSON document on stdout: settings, device, per-op results with\n"
    "                   latency avg/p50/p99/p99.9/max, verify, per-second samples\n"
    "  --plot FILE.svg  draw IOPS and mean latency per second into an SVG file\n"
    "  --quiet          no progress line (there is none unless stderr is a terminal)\n";

static int parse_rw(const char *s, struct bench_opts *o)
{
	static const char *const names[] = { "read", "write", "randread", "randwrite", "randrw" };
	unsigned i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			o->rw = (enum bench_rw)i;
			o->rw_name = names[i];
			return 0;
		}
	}
	vhctl_err("blk bench: --rw: unknown mode '%s' (read|write|randread|randwrite|randrw)", s);
	return -1;
}

static int parse_uint(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	if (vhctl_parse_size(opt, s, out) < 0)
		return -1;
	if (*out < min || *out > max) {
		vhctl_err("blk bench: %s must be in %llu..%llu", opt, (unsigned long long)min,
			  (unsigned long long)max);
		return -1;
	}
	return 0;
}

static int parse_opt(struct bench_opts *o, int c, const char *arg)
{
	uint64_t v;

	switch (c) {
	case 'r':
		return parse_rw(arg, o);
	case 'b':
		if (parse_uint("--bs", arg, 512, 1u << 20, &v) < 0)
			return -1;
		if (v % 512) {
			vhctl_err("blk bench: --bs must be a multiple of 512");
			return -1;
		}
		o->bs = (uint32_t)v;
		return 0;
	case 'd':
		if (parse_uint("--iodepth", arg, 1, 4096, &v) < 0)
			return -1;
		o->iodepth = (unsigned)v;
		return 0;
	case 'q':
		if (parse_uint("--queues", arg, 1, BENCH_MAX_QUEUES, &v) < 0)
			return -1;
		o->queues = (unsigned)v;
		return 0;
	case 't':
		if (parse_uint("--runtime", arg, 0, 86400, &v) < 0)
			return -1;
		o->runtime = (unsigned)v;
		return 0;
	case 's':
		return vhctl_parse_size("--size", arg, &o->size);
	case 'm':
		if (parse_uint("--rwmixread", arg, 0, 100, &v) < 0)
			return -1;
		o->mixread = (unsigned)v;
		return 0;
	case 'Q':
		if (parse_uint("--qsize", arg, 2, 32768, &v) < 0)
			return -1;
		o->qsize = (unsigned)v;
		return 0;
	case 'S':
		return parse_uint("--seed", arg, 0, UINT64_MAX, &o->seed);
	case 'G':
		o->plot = arg;
		return 0;
	default:
		return -1;
	}
}

static int parse(struct bench_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rw", required_argument, NULL, 'r' },
		{ "bs", required_argument, NULL, 'b' },
		{ "iodepth", required_argument, NULL, 'd' },
		{ "queues", required_argument, NULL, 'q' },
		{ "runtime", required_argument, NULL, 't' },
		{ "size", required_argument, NULL, 's' },
		{ "rwmixread", required_argument, NULL, 'm' },
		{ "qsize", required_argument, NULL, 'Q' },
		{ "seed", required_argument, NULL, 'S' },
		{ "packed", no_argument, NULL, 'P' },
		{ "poll", no_argument, NULL, 'p' },
		{ "verify", no_argument, NULL, 'V' },
		{ "no-fill", no_argument, NULL, 'F' },
		{ "user-mem", no_argument, NULL, 'U' },
		{ "quiet", no_argument, NULL, 'z' },
		{ "json", no_argument, NULL, 'j' },
		{ "plot", required_argument, NULL, 'G' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct bench_opts){ .rw = BENCH_RANDREAD,
				  .rw_name = "randread",
				  .bs = 4096,
				  .iodepth = 32,
				  .queues = 1,
				  .runtime = 10,
				  .mixread = 50,
				  .seed = 1,
				  .umem_fd = -1 };
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(bench_help, stdout);
			return 0;
		}
		if (c == '?')
			return VHCTL_EXIT_USAGE;
		if (c == 'j') {
			o->json = true;
			continue;
		}
		if (c == 'P' || c == 'p' || c == 'V' || c == 'z' || c == 'v' || c == 'F' ||
		    c == 'U') {
			o->user_mem |= c == 'U';
			o->no_fill |= c == 'F';
			o->packed |= c == 'P';
			o->poll |= c == 'p';
			o->verify |= c == 'V';
			o->quiet |= c == 'z';
			o->verbose |= c == 'v';
			continue;
		}
		if (parse_opt(o, c, optarg) < 0)
			return VHCTL_EXIT_USAGE;
	}
	if (optind + 1 != argc) {
		vhctl_err("blk bench: expected exactly one SOCKET (see vhctl blk bench --help)");
		return VHCTL_EXIT_USAGE;
	}
	vhctl_backend_path(argv[optind], o->path, sizeof(o->path));
	return -1;
}

static unsigned ring_size_for(const struct bench_opts *o)
{
	unsigned n = 64;

	if (o->qsize)
		return o->qsize;
	/* Without indirect descriptors a request takes three; the library picks what it can. */
	while (n < o->iodepth * 3 && n < 32768)
		n <<= 1;
	return n;
}

/* --user-mem: a memfd of our own for every slot's buffer. */
static int map_user_mem(struct bench_opts *o)
{
	o->umem_size = (uint64_t)o->queues * o->iodepth * ((o->bs + 4095) & ~4095u);
	o->umem_fd = memfd_create("vhctl-bench", MFD_CLOEXEC);
	if (o->umem_fd < 0 || ftruncate(o->umem_fd, (off_t)o->umem_size) < 0) {
		vhctl_err("blk bench: memfd: %s", strerror(errno));
		return -errno;
	}
	o->umem = mmap(NULL, o->umem_size, PROT_READ | PROT_WRITE, MAP_SHARED, o->umem_fd, 0);
	if (o->umem == MAP_FAILED) {
		o->umem = NULL;
		vhctl_err("blk bench: mmap: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static int open_device(struct bench_opts *o, struct vh_blk **blk, struct vh_blk_info *info)
{
	struct vh_blk_config c = {
		.path = o->path,
		.num_queues = o->queues,
		.queue_size = ring_size_for(o),
		.queue_depth = o->iodepth,
		.pool_size = (uint64_t)o->queues * o->iodepth * ((o->bs + 4095) & ~4095u) + 65536,
		.flags = (o->packed ? VH_BLK_PACKED : 0) | (o->poll ? VH_BLK_POLL : 0),
		.name = "vh_blk",
		.log = vhctl_log_sink(o->verbose),
	};
	int err;

	if (o->user_mem) {
		if (map_user_mem(o) < 0)
			return -ENOMEM;
		c.user_mem = (struct vh_blk_user_mem){ .host = o->umem,
						       .size = o->umem_size,
						       .fd = o->umem_fd };
		c.pool_size = 0;
	}
	if (c.queue_depth > c.queue_size) {
		vhctl_err("blk bench: --iodepth %u exceeds --qsize %u", o->iodepth, c.queue_size);
		return -EINVAL;
	}
	err = vh_blk_create(&c, blk);
	if (err < 0) {
		vhctl_err("blk bench: %s: cannot open the virtio-blk device: %s", o->path,
			  strerror(-err));
		return err;
	}
	vh_blk_get_info(*blk, info);
	return 0;
}

static int check_geometry(struct bench_opts *o, const struct vh_blk_info *info)
{
	if (!o->size || o->size > info->size_bytes)
		o->size = info->size_bytes;
	o->blocks = o->size / o->bs;
	if (o->blocks < o->queues) {
		vhctl_err(
		    "blk bench: the area (%llu bytes) holds fewer than one --bs block per queue",
		    (unsigned long long)o->size);
		return -1;
	}
	if (info->read_only && o->rw != BENCH_READ && o->rw != BENCH_RANDREAD) {
		vhctl_err("blk bench: the device is read-only");
		return -1;
	}
	if (info->read_only && o->verify) {
		vhctl_err("blk bench: --verify writes a pattern; the device is read-only");
		return -1;
	}
	return 0;
}

static void print_header(const struct bench_opts *o, const struct vh_blk_info *info)
{
	struct vhctl_json *j = o->j;

	if (j) {
		vhctl_json_str(j, "backend", o->path);
		vhctl_json_str(j, "rw", o->rw_name);
		vhctl_json_u64(j, "bs", o->bs);
		vhctl_json_u64(j, "iodepth", o->iodepth);
		vhctl_json_u64(j, "queues", o->queues);
		vhctl_json_u64(j, "runtime_s", o->runtime);
		vhctl_json_u64(j, "area_bytes", o->size);
		vhctl_json_begin(j, "device");
		vhctl_json_u64(j, "capacity_bytes", info->size_bytes);
		vhctl_json_u64(j, "blk_size", info->blk_size);
		vhctl_json_u64(j, "queues_offered", info->device_queues);
		vhctl_json_str(j, "ring", info->packed ? "packed" : "split");
		vhctl_json_u64(j, "queue_size", info->queue_size);
		vhctl_json_u64(j, "queue_depth", info->queue_depth);
		vhctl_json_bool(j, "indirect", info->indirect);
		vhctl_json_bool(j, "event_idx", info->event_idx);
		vhctl_json_bool(j, "poll", o->poll);
		vhctl_json_end(j);
		return;
	}
	printf("vhctl blk bench: %s bs=%u iodepth=%u queues=%u runtime=%us area=%llu MiB\n",
	       o->rw_name, o->bs, o->iodepth, o->queues, o->runtime,
	       (unsigned long long)(o->size >> 20));
	printf("device: %llu MiB, blk_size %u, %u queue(s) offered; ring %s, size %u, depth %u, "
	       "%s, %s%s\n",
	       (unsigned long long)(info->size_bytes >> 20), info->blk_size, info->device_queues,
	       info->packed ? "packed" : "split", info->queue_size, info->queue_depth,
	       info->indirect ? "indirect" : "direct", o->poll ? "polling" : "call eventfd",
	       info->event_idx ? ", event_idx" : "");
	fflush(stdout);
}

int vhctl_blk_bench(int argc, char **argv)
{
	struct bench_opts o;
	struct vh_blk *blk = NULL;
	struct vh_blk_info info;
	int rc = parse(&o, argc, argv);

	if (rc >= 0)
		return rc;
	if (open_device(&o, &blk, &info) < 0) {
		if (o.umem)
			munmap(o.umem, o.umem_size);
		if (o.umem_fd >= 0)
			close(o.umem_fd);
		return VHCTL_EXIT_FAIL;
	}
	rc = VHCTL_EXIT_FAIL;
	if (check_geometry(&o, &info) == 0) {
		struct vhctl_json jw = { .f = stdout };

		if (o.json) {
			o.j = &jw;
			vhctl_json_begin(o.j, NULL);
		}
		print_header(&o, &info);
		rc = bench_run(blk, &o);
		if (o.j)
			vhctl_json_end(o.j);
	}
	vh_blk_destroy(&blk);
	if (o.umem)
		munmap(o.umem, o.umem_size);
	if (o.umem_fd >= 0)
		close(o.umem_fd);
	return rc;
}
