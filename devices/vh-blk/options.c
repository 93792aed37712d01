/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vh-blk command line: the device options of vhost-user.rst "vhost-user-blk" (--blk-file,
 * --read-only) and ours. The program conventions (--socket-path, --fd, --print-capabilities,
 * --verbose, --help) are the library's (include/vhost/program.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vh_blk.h"

enum {
	OPT_BLK_FILE,
	OPT_READ_ONLY,
	OPT_NUM_QUEUES,
	OPT_QUEUE_SIZE,
	OPT_LBS,
	OPT_AIO,
	OPT_AIO_THREADS,
	OPT_DIRECT,
	OPT_POLL,
	OPT_POLL_THREADS,
	OPT_POLL_US,
	OPT_SERIAL,
	OPT_HOST_NOTIFIER,
};

#define STR_(x) #x
#define STR(x)	STR_(x)

static const struct vh_program_option vhblk_opts[] = {
	{ "blk-file", "BACKING",
	  "FILE (raw image or block device), null:SIZE (reads\n"
	  "return the buffer untouched, writes are dropped) or\n"
	  "memory:SIZE (RAM disk); SIZE takes K, M, G, T",
	  OPT_BLK_FILE },
	{ "read-only", NULL, "offer VIRTIO_BLK_F_RO, refuse writes", OPT_READ_ONLY },
	{ "num-queues", "N", "request queues (default 1, max " STR(VH_SERVER_MAX_QUEUES) ")",
	  OPT_NUM_QUEUES },
	{ "queue-size", "N", "largest ring the front-end may set (power of two,\ndefault 1024)",
	  OPT_QUEUE_SIZE },
	{ "logical-block-size", "N", "512 or 4096 (default 512)", OPT_LBS },
	{ "aio", "ENGINE", "io_uring, threads or sync: file I/O engine\n(default io_uring)",
	  OPT_AIO },
	{ "aio-threads", "N", "workers for --aio=threads (default 4)", OPT_AIO_THREADS },
	{ "direct", NULL, "open the file with O_DIRECT", OPT_DIRECT },
	{ "poll", NULL, "poll-mode datapath (a busy thread per queue)", OPT_POLL },
	{ "poll-threads", "N", "poll threads (default: one per queue)", OPT_POLL_THREADS },
	{ "poll-us", "N",
	  "event mode: ceiling of each queue's adaptive poll\n"
	  "window, in us of no work before sleeping; the window\n"
	  "grows on a busy ring, shrinks to 0 on a quiet one\n"
	  "(default 200, 0 = never poll)",
	  OPT_POLL_US },
	{ "serial", "STR", "GET_ID serial (default \"vh-blk\", 20 bytes max)", OPT_SERIAL },
	{ "host-notifier", NULL,
	  "offer HOST_NOTIFIER: a notify page per queue that a\nthread polls (QEMU: page-per-vq=on)",
	  OPT_HOST_NOTIFIER },
	{ NULL, NULL, NULL, 0 },
};

/* vhost-user.rst "vhost-user-blk": the features a front-end may pass on the command line. */
static const char *const vhblk_features[] = { "read-only", "blk-file", NULL };

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

static int parse_aio(struct vh_program *p, const char *s, enum vhblk_aio *out)
{
	if (!strcmp(s, "io_uring"))
		*out = VHBLK_AIO_IO_URING;
	else if (!strcmp(s, "threads"))
		*out = VHBLK_AIO_THREADS;
	else if (!strcmp(s, "sync"))
		*out = VHBLK_AIO_SYNC;
	else
		return vh_program_option_error(p, "'%s': expected io_uring, threads or sync", s);
#ifndef VHBLK_HAVE_URING
	if (*out == VHBLK_AIO_IO_URING)
		return vh_program_option_error(p, "io_uring: built without liburing");
#endif
	return 0;
}

static int parse_one(void *opaque, struct vh_program *p, int id, const char *arg)
{
	struct vhblk_options *o = opaque;

	switch (id) {
	case OPT_BLK_FILE:
		o->blk_file = arg;
		return 0;
	case OPT_READ_ONLY:
		o->read_only = true;
		return 0;
	case OPT_NUM_QUEUES:
		return vh_program_parse_uint(p, arg, 1, VH_SERVER_MAX_QUEUES, &o->num_queues);
	case OPT_QUEUE_SIZE:
		return vh_program_parse_pow2(p, arg, 2, 32768, &o->queue_size);
	case OPT_LBS:
		if (vh_program_parse_uint(p, arg, 512, 4096, &o->logical_block_size))
			return -EINVAL;
		if (o->logical_block_size != 512 && o->logical_block_size != 4096)
			return vh_program_option_error(p, "512 or 4096");
		return 0;
	case OPT_AIO:
		return parse_aio(p, arg, &o->aio);
	case OPT_AIO_THREADS:
		return vh_program_parse_uint(p, arg, 1, 64, &o->aio_threads);
	case OPT_POLL:
		o->poll = true;
		return 0;
	case OPT_POLL_THREADS:
		return vh_program_parse_uint(p, arg, 1, VH_SERVER_MAX_QUEUES, &o->poll_threads);
	case OPT_POLL_US:
		return vh_program_parse_uint(p, arg, 0, 1000000, &o->poll_us);
	case OPT_SERIAL:
		o->serial = arg;
		return 0;
	case OPT_HOST_NOTIFIER:
		o->host_notifier = true;
		return 0;
	case OPT_DIRECT:
		o->direct = true;
		return 0;
	default:
		return -EINVAL;
	}
}

static int check_options(void *opaque, struct vh_program *p)
{
	const struct vhblk_options *o = opaque;

	if (!o->blk_file)
		return vh_program_option_error(p, "--blk-file is required");
	if (strlen(o->serial) > VIRTIO_BLK_ID_BYTES)
		return vh_program_option_error(p, "--serial: at most %d bytes",
					       VIRTIO_BLK_ID_BYTES);
	return 0;
}

void vhblk_options_init(struct vhblk_options *o, struct vh_program_config *pc)
{
	memset(o, 0, sizeof(*o));
	o->num_queues = 1;
	o->aio_threads = 4;
	o->poll_us = 200;
	o->logical_block_size = 512;
#ifdef VHBLK_HAVE_URING
	o->aio = VHBLK_AIO_IO_URING;
#else
	o->aio = VHBLK_AIO_THREADS;
#endif
	o->serial = VHBLK_NAME;

	*pc = (struct vh_program_config){
		.name = VHBLK_NAME,
		.synopsis = "--blk-file BACKING [options]",
		.description = "vhost-user-blk back-end (QEMU: -chardev socket,id=c,path=PATH\n"
			       "  -device vhost-user-blk-pci,chardev=c; guest RAM must be shared, "
			       "e.g. memfd).",
		.type = "block",
		.features = vhblk_features,
		.options = vhblk_opts,
		.parse_option = parse_one,
		.check_options = check_options,
		.opaque = o,
	};
}
