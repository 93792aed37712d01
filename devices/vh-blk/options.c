/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vh-blk command line: QEMU docs/interop/vhost-user.rst "Backend program conventions" (--socket-path,
 * --fd, --print-capabilities; "vhost-user-blk": --blk-file, --read-only) plus the device options.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vh_blk.h"
#include "../common/daemon.h"

enum {
	OPT_SOCKET_PATH = 256,
	OPT_FD,
	OPT_PRINT_CAPS,
	OPT_BLK_FILE,
	OPT_READ_ONLY,
	OPT_NUM_QUEUES,
	OPT_QUEUE_SIZE,
	OPT_LBS,
	OPT_AIO,
	OPT_AIO_THREADS,
	OPT_POLL,
	OPT_POLL_THREADS,
	OPT_POLL_US,
	OPT_SERIAL,
	OPT_DIRECT,
	OPT_VERBOSE,
	OPT_HELP,
};

static const struct option vhblk_long_opts[] = {
	{ "socket-path", required_argument, NULL, OPT_SOCKET_PATH },
	{ "fd", required_argument, NULL, OPT_FD },
	{ "print-capabilities", no_argument, NULL, OPT_PRINT_CAPS },
	{ "blk-file", required_argument, NULL, OPT_BLK_FILE },
	{ "read-only", no_argument, NULL, OPT_READ_ONLY },
	{ "num-queues", required_argument, NULL, OPT_NUM_QUEUES },
	{ "queue-size", required_argument, NULL, OPT_QUEUE_SIZE },
	{ "logical-block-size", required_argument, NULL, OPT_LBS },
	{ "aio", required_argument, NULL, OPT_AIO },
	{ "aio-threads", required_argument, NULL, OPT_AIO_THREADS },
	{ "poll", no_argument, NULL, OPT_POLL },
	{ "poll-threads", required_argument, NULL, OPT_POLL_THREADS },
	{ "poll-us", required_argument, NULL, OPT_POLL_US },
	{ "serial", required_argument, NULL, OPT_SERIAL },
	{ "direct", no_argument, NULL, OPT_DIRECT },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

void vhblk_usage(const char *argv0)
{
	printf("Usage: %s (--socket-path PATH | --fd FD) --blk-file BACKING [options]\n"
	       "\n"
	       "vhost-user-blk back-end (QEMU: -chardev socket,id=c,path=PATH\n"
	       "  -device vhost-user-blk-pci,chardev=c; guest RAM must be shared, e.g. memfd).\n"
	       "\n"
	       "  --socket-path PATH        listen on this unix socket (removed at exit)\n"
	       "  --fd FD                   serve on an inherited listening socket\n"
	       "  --blk-file BACKING        FILE (raw image or block device), null:SIZE (reads\n"
	       "                            return the buffer untouched, writes are dropped) or\n"
	       "                            memory:SIZE (RAM disk); SIZE takes K, M, G, T\n"
	       "  --read-only               offer VIRTIO_BLK_F_RO, refuse writes\n"
	       "  --num-queues N            request queues (default 1, max %u)\n"
	       "  --queue-size N            largest ring the front-end may set (power of two,\n"
	       "                            default %u)\n"
	       "  --logical-block-size N    512 or 4096 (default 512)\n"
	       "  --aio io_uring|threads|sync  file I/O engine (default io_uring)\n"
	       "  --aio-threads N           workers for --aio=threads (default 4)\n"
	       "  --direct                  open the file with O_DIRECT\n"
	       "  --poll                    poll-mode datapath (a busy thread per queue)\n"
	       "  --poll-threads N          poll threads (default: one per queue)\n"
	       "  --poll-us N               event mode: ceiling of each queue's adaptive poll\n"
	       "                            window, in us of no work before sleeping; the window\n"
	       "                            grows on a busy ring, shrinks to 0 on a quiet one\n"
	       "                            (default 200, 0 = never poll)\n"
	       "  --serial STR              GET_ID serial (default \"vh-blk\", 20 bytes max)\n"
	       "  --print-capabilities      print the capabilities JSON and exit\n"
	       "  --verbose                 debug log lines\n"
	       "  --help                    this text\n"
	       "\n"
	       "SIGTERM / SIGINT: clean exit (status 0), the socket is removed.\n",
	       argv0, VH_SERVER_MAX_QUEUES, VHBLK_DEFAULT_QUEUE_SIZE);
}

void vhblk_print_capabilities(void)
{
	/* vhost-user.rst "vhost-user-blk": the features a front-end may pass on the command line. */
	printf("{\n  \"type\": \"block\",\n  \"features\": [\n    \"read-only\",\n"
	       "    \"blk-file\"\n  ]\n}\n");
}

/* "1G", "512M", "4096": bytes. */
int vhblk_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	v = strtoull(s, &end, 0);
	if (errno)
		return -errno;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	case 't':
	case 'T':
		shift = 40;
		break;
	case '\0':
		break;
	default:
		return -EINVAL;
	}
	if (*end && end[1])
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_uint(const char *name, const char *s, unsigned min, unsigned max, unsigned *out)
{
	return vhd_parse_uint(VHBLK_NAME, name, s, min, max, out);
}

static int parse_aio(const char *s, enum vhblk_aio *out)
{
	if (!strcmp(s, "io_uring"))
		*out = VHBLK_AIO_IO_URING;
	else if (!strcmp(s, "threads"))
		*out = VHBLK_AIO_THREADS;
	else if (!strcmp(s, "sync"))
		*out = VHBLK_AIO_SYNC;
	else {
		fprintf(stderr, VHBLK_NAME ": --aio: '%s': expected io_uring, threads or sync\n",
			s);
		return -EINVAL;
	}
#ifndef VHBLK_HAVE_URING
	if (*out == VHBLK_AIO_IO_URING) {
		fprintf(stderr, VHBLK_NAME ": --aio=io_uring: built without liburing\n");
		return -ENOTSUP;
	}
#endif
	return 0;
}

static int parse_one(int c, const char *arg, struct vhblk_options *o)
{
	unsigned v;
	int err = 0;

	switch (c) {
	case OPT_SOCKET_PATH:
		o->socket_path = arg;
		break;
	case OPT_FD:
		err = parse_uint("fd", arg, 0, INT_MAX, &v);
		o->listen_fd = (int)v;
		break;
	case OPT_BLK_FILE:
		o->blk_file = arg;
		break;
	case OPT_READ_ONLY:
		o->read_only = true;
		break;
	case OPT_NUM_QUEUES:
		err = parse_uint("num-queues", arg, 1, VH_SERVER_MAX_QUEUES, &o->num_queues);
		break;
	case OPT_QUEUE_SIZE:
		err = parse_uint("queue-size", arg, 2, 32768, &o->queue_size);
		if (!err && (o->queue_size & (o->queue_size - 1))) {
			fprintf(stderr, VHBLK_NAME ": --queue-size: %u is not a power of two\n",
				o->queue_size);
			err = -EINVAL;
		}
		break;
	case OPT_LBS:
		err = parse_uint("logical-block-size", arg, 512, 4096, &o->logical_block_size);
		if (!err && o->logical_block_size != 512 && o->logical_block_size != 4096) {
			fprintf(stderr, VHBLK_NAME ": --logical-block-size: 512 or 4096\n");
			err = -EINVAL;
		}
		break;
	case OPT_AIO:
		err = parse_aio(arg, &o->aio);
		break;
	case OPT_AIO_THREADS:
		err = parse_uint("aio-threads", arg, 1, 64, &o->aio_threads);
		break;
	case OPT_POLL:
		o->poll = true;
		break;
	case OPT_POLL_THREADS:
		err = parse_uint("poll-threads", arg, 1, VH_SERVER_MAX_QUEUES, &o->poll_threads);
		break;
	case OPT_POLL_US:
		err = parse_uint("poll-us", arg, 0, 1000000, &o->poll_us);
		break;
	case OPT_SERIAL:
		o->serial = arg;
		break;
	case OPT_DIRECT:
		o->direct = true;
		break;
	case OPT_VERBOSE:
		o->verbose = true;
		break;
	default:
		err = -EINVAL;
	}
	return err;
}

/*
 * Return: 0 run the daemon; 1 done (--help, --print-capabilities printed); -EINVAL bad usage
 * (already reported on stderr).
 */
int vhblk_parse_options(int argc, char **argv, struct vhblk_options *o)
{
	int c, err;

	memset(o, 0, sizeof(*o));
	o->listen_fd = -1;
	o->num_queues = 1;
	o->aio_threads = 4;
	o->poll_us = 200;
	o->logical_block_size = 512;
#ifdef VHBLK_HAVE_URING
	o->aio = VHBLK_AIO_IO_URING;
#else
	o->aio = VHBLK_AIO_THREADS;
#endif
	o->aio_threads = 4;
	o->serial = VHBLK_NAME;
	while ((c = getopt_long(argc, argv, "", vhblk_long_opts, NULL)) != -1) {
		if (c == OPT_HELP) {
			vhblk_usage(argv[0]);
			return 1;
		}
		if (c == OPT_PRINT_CAPS) {
			vhblk_print_capabilities();
			return 1;
		}
		if (c == '?')
			return -EINVAL;
		err = parse_one(c, optarg, o);
		if (err)
			return -EINVAL;
	}
	if (optind < argc) {
		fprintf(stderr, VHBLK_NAME ": unexpected argument '%s' (see --help)\n",
			argv[optind]);
		return -EINVAL;
	}
	if (!o->socket_path == (o->listen_fd < 0)) {
		fprintf(stderr, VHBLK_NAME ": exactly one of --socket-path and --fd is required\n");
		return -EINVAL;
	}
	if (!o->blk_file) {
		fprintf(stderr, VHBLK_NAME ": --blk-file is required\n");
		return -EINVAL;
	}
	if (strlen(o->serial) > VIRTIO_BLK_ID_BYTES) {
		fprintf(stderr, VHBLK_NAME ": --serial: at most %d bytes\n", VIRTIO_BLK_ID_BYTES);
		return -EINVAL;
	}
	return 0;
}
