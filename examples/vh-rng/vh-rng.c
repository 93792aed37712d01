/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vh-rng: a vhost-user-rng back-end (virtio 1.2 §5.4 entropy device) in one file - an example of
 * a complete device on the public API: include/vhost/program.h does the command line, the
 * socket, the log, the signals and the ready notification; include/vhost/backend.h does the
 * protocol and the ring. The device fills every buffer the driver offers with getrandom() bytes.
 *
 *   vh-rng --socket-path /tmp/rng.sock &
 *   qemu-system-x86_64 -object memory-backend-memfd,id=mem,size=1G,share=on \
 *       -numa node,memdev=mem -chardev socket,id=c,path=/tmp/rng.sock \
 *       -device vhost-user-rng-pci,chardev=c ...
 *
 * Everything runs on the dispatch thread (event datapath): one queue, "requestq" (§5.4.2).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/uio.h>

#include <vhost/backend.h>
#include <vhost/program.h>

#define RNG_NAME    "vh-rng"
#define RNG_MAX_IOV 64

enum {
	OPT_MAX_BYTES
};

struct rng {
	unsigned max_bytes; /* largest fill per request */
	struct vh_program *prog;
	uint64_t requests, bytes;
};

/* Fills the writable iovecs (up to max_bytes); returns the bytes written or -errno. */
static int64_t fill(const struct rng *r, const struct vh_vq_elem *e)
{
	uint64_t done = 0;
	unsigned i;

	for (i = e->out_num; i < e->out_num + e->in_num && done < r->max_bytes; i++) {
		size_t want = e->iov[i].iov_len;
		ssize_t n;

		if (want > r->max_bytes - done)
			want = r->max_bytes - done;
		n = getrandom(e->iov[i].iov_base, want, 0);
		if (n < 0)
			return -errno;
		done += (uint64_t)n;
		if ((size_t)n < want)
			break;
	}
	return (int64_t)done;
}

static int rng_kick(void *inst, struct vh_queue *q)
{
	struct rng *r = inst;
	struct iovec iov[RNG_MAX_IOV];
	struct vh_vq_elem e = { .iov = iov, .max_iov = RNG_MAX_IOV };
	int64_t n;
	int err;

	while ((err = vh_queue_pop(q, &e)) == 1) {
		/* §5.4.6.1: the driver MUST NOT place driver-readable buffers into the queue. */
		if (e.out_num) {
			vh_program_log(r->prog, VH_LOG_ERR, "requestq: driver-readable buffer");
			return -EPROTO;
		}
		n = fill(r, &e);
		if (n < 0) {
			vh_program_log(r->prog, VH_LOG_ERR, "getrandom: %s", strerror((int)-n));
			n = 0;
		}
		err = vh_queue_push(q, &e, (uint32_t)n);
		if (err)
			return err;
		r->requests++;
		r->bytes += (uint64_t)n;
		e.max_iov = RNG_MAX_IOV;
	}
	return err;
}

static const struct vh_device_ops rng_ops = { .queue_kick = rng_kick };

static const struct vh_program_option rng_opts[] = {
	{ "max-bytes", "N", "bytes per request at most (default 65536)", OPT_MAX_BYTES },
	{ NULL, NULL, NULL, 0 },
};

static int rng_option(void *opaque, struct vh_program *p, int id, const char *arg)
{
	struct rng *r = opaque;

	return vh_program_parse_uint(p, arg, 1, 1u << 24, &r->max_bytes);
}

int main(int argc, char **argv)
{
	struct rng r = { .max_bytes = 65536 };
	struct vh_program_config pc = {
		.name = RNG_NAME,
		.synopsis = "[options]",
		.description =
		    "vhost-user-rng back-end example (QEMU: -device vhost-user-rng-pci).",
		.type = "rng",
		.options = rng_opts,
		.parse_option = rng_option,
		.opaque = &r,
	};
	struct vh_server_config cfg;
	struct vh_server *srv = NULL;
	int err;

	err = vh_program_create(&pc, argc, argv, &r.prog);
	if (err)
		return vh_program_exit_status(err);
	vh_program_server_config(r.prog, &cfg);
	cfg.ops = &rng_ops;
	cfg.opaque = &r;
	cfg.num_queues = 1;
	err = vh_program_server_create(r.prog, &cfg, &srv);
	if (!err) {
		vh_program_log(r.prog, VH_LOG_INFO, "serving entropy on %s",
			       vh_program_listen_desc(r.prog));
		err = vh_program_run(r.prog, srv);
	}
	vh_server_destroy(&srv);
	if (!err)
		vh_program_log(r.prog, VH_LOG_INFO, "%llu requests, %llu bytes",
			       (unsigned long long)r.requests, (unsigned long long)r.bytes);
	vh_program_destroy(&r.prog);
	return err ? 1 : 0;
}
