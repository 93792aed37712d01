/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vh-blk: vhost-user-blk back-end program (QEMU docs/interop/vhost-user.rst "Backend program
 * conventions"). Runs in the foreground, logs to stderr, exits 0 on SIGTERM / SIGINT after
 * removing its socket. See docs/vh-blk.md.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vh_blk.h"

void vhblk_log(const struct vhblk *d, enum vh_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vh_program_vlog(d->prog, level, fmt, ap);
	va_end(ap);
}

static int server_start(struct vhblk *d)
{
	struct vh_server_config cfg;

	vh_program_server_config(d->prog, &cfg);
	cfg.ops = &vhblk_ops;
	cfg.opaque = d;
	cfg.features = d->features;
	cfg.num_queues = d->opt.num_queues;
	cfg.max_queue_size = d->opt.queue_size;
	cfg.config_size = sizeof(d->config);
	cfg.datapath = d->opt.poll ? VH_SERVER_DATAPATH_POLL : VH_SERVER_DATAPATH_EVENT;
	cfg.poll_threads = d->opt.poll_threads;
	cfg.event_poll_us = d->opt.poll_us;
	cfg.host_notifiers = d->opt.host_notifier;
	return vh_program_server_create(d->prog, &cfg, &d->srv);
}

static const char *aio_name(const struct vhblk *d)
{
	static const char *const names[] = { "io_uring", "threads", "sync" };

	return d->kind == VHBLK_BACKING_FILE ? names[d->opt.aio] : "inline";
}

static int run(struct vhblk *d)
{
	int err;

	err = vhblk_backing_open(d);
	if (err)
		return err;
	vhblk_config_init(d);
	err = vhblk_pool_start(d);
	if (err) {
		vhblk_log(d, VH_LOG_ERR, "I/O threads: %s", strerror(-err));
		return err;
	}
	err = vhblk_bell_start(d);
	if (err)
		return err;
	err = server_start(d);
	if (err)
		return err;
	vhblk_log(d, VH_LOG_INFO,
		  "serving %s (%llu bytes, %u-byte blocks%s) on %s: %u queue(s), %s datapath, "
		  "aio %s",
		  d->opt.blk_file, (unsigned long long)d->size, d->opt.logical_block_size,
		  d->opt.read_only ? ", read-only" : "", vh_program_listen_desc(d->prog),
		  d->opt.num_queues, d->opt.poll ? "poll" : "event", aio_name(d));
	return vh_program_run(d->prog, d->srv);
}

int main(int argc, char **argv)
{
	struct vh_program_config pc;
	struct vhblk d;
	int err;

	memset(&d, 0, sizeof(d));
	d.fd = -1;
	vhblk_options_init(&d.opt, &pc);
	/* Before the I/O threads start: they inherit the blocked SIGTERM / SIGINT. */
	err = vh_program_create(&pc, argc, argv, &d.prog);
	if (err)
		return vh_program_exit_status(err);
	err = run(&d);
	/* Closes every connection (queue_stop drains the I/O) and unlinks the socket. */
	vh_server_destroy(&d.srv);
	vhblk_bell_stop(&d);
	vhblk_pool_stop(&d);
	vhblk_backing_close(&d);
	vh_program_destroy(&d.prog);
	/* The failure was logged where it happened. */
	return err ? 1 : 0;
}
