/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vh-blk: vhost-user-blk back-end program (QEMU docs/interop/vhost-user.rst "Backend program
 * conventions"). Runs in the foreground, logs to stderr, exits 0 on SIGTERM / SIGINT after
 * removing its socket. See docs/vh-blk.md.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "vh_blk.h"
#include "../common/daemon.h"

void vhblk_log(const struct vhblk *d, enum vh_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vhd_vlog(&d->log, VHBLK_NAME, level, fmt, ap);
	va_end(ap);
}

static void on_signal(void *opaque, int fd, uint32_t events)
{
	struct vhblk *d = opaque;
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		vhblk_log(d, VH_LOG_INFO, "signal %u: exiting", si.ssi_signo);
	vh_server_stop(d->srv);
}

static int server_start(struct vhblk *d)
{
	struct vh_server_config cfg;
	int err;

	vh_server_config_init(&cfg);
	cfg.name = VHBLK_NAME;
	cfg.socket_path = d->opt.socket_path;
	cfg.listen_fd = d->opt.listen_fd;
	cfg.ops = &vhblk_ops;
	cfg.opaque = d;
	cfg.features = d->features;
	cfg.num_queues = d->opt.num_queues;
	cfg.max_queue_size = d->opt.queue_size;
	cfg.config_size = sizeof(d->config);
	cfg.datapath = d->opt.poll ? VH_SERVER_DATAPATH_POLL : VH_SERVER_DATAPATH_EVENT;
	cfg.poll_threads = d->opt.poll_threads;
	cfg.event_poll_us = d->opt.poll_us;
	cfg.log = d->log;
	err = vh_server_create(&cfg, &d->srv);
	if (err)
		vhblk_log(d, VH_LOG_ERR, "cannot serve on %s: %s",
			  d->opt.socket_path ? d->opt.socket_path : "--fd", strerror(-err));
	return err;
}

static const char *aio_name(const struct vhblk *d)
{
	static const char *const names[] = { "io_uring", "threads", "sync" };

	return d->kind == VHBLK_BACKING_FILE ? names[d->opt.aio] : "inline";
}

static int run(struct vhblk *d, int sfd)
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
	err = server_start(d);
	if (err)
		return err;
	err = vh_server_watch(d->srv, sfd, EPOLLIN, on_signal, d);
	if (err) {
		vhblk_log(d, VH_LOG_ERR, "watch signalfd: %s", strerror(-err));
		return err;
	}
	vhblk_log(d, VH_LOG_INFO,
		  "serving %s (%llu bytes, %u-byte blocks%s) on %s: %u queue(s), %s datapath, "
		  "aio %s",
		  d->opt.blk_file, (unsigned long long)d->size, d->opt.logical_block_size,
		  d->opt.read_only ? ", read-only" : "",
		  d->opt.socket_path ? d->opt.socket_path : "inherited fd", d->opt.num_queues,
		  d->opt.poll ? "poll" : "event", aio_name(d));
	err = vh_server_run(d->srv);
	if (err)
		vhblk_log(d, VH_LOG_ERR, "server loop: %s", strerror(-err));
	vh_server_unwatch(d->srv, sfd);
	return err;
}

int main(int argc, char **argv)
{
	struct vhblk d;
	int sfd, err;

	memset(&d, 0, sizeof(d));
	d.fd = -1;
	err = vhblk_parse_options(argc, argv, &d.opt);
	if (err)
		return err > 0 ? 0 : 2;
	vhd_log_init(&d.log, d.opt.verbose);
	sfd = vhd_signalfd();
	if (sfd < 0) {
		vhblk_log(&d, VH_LOG_ERR, "signalfd: %s", strerror(-sfd));
		return 1;
	}
	err = run(&d, sfd);
	/* Closes every connection (queue_stop drains the I/O) and unlinks the socket. */
	vh_server_destroy(&d.srv);
	vhblk_pool_stop(&d);
	vhblk_backing_close(&d);
	close(sfd);
	/* The failure was logged where it happened. */
	return err ? 1 : 0;
}
