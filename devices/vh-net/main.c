/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vh-net: vhost-user-net back-end program (QEMU docs/interop/vhost-user.rst "Backend program
 * conventions"). Runs in the foreground, logs to stderr, exits 0 on SIGTERM / SIGINT after
 * removing its socket. See docs/vh-net.md.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vhost/proto.h>

#include "vhnet.h"

void vhnet_log(const struct vhnet *d, enum vh_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vh_program_vlog(d->prog, level, fmt, ap);
	va_end(ap);
}

static int server_start(struct vhnet *d)
{
	struct vh_server_config cfg;

	vh_program_server_config(d->prog, &cfg);
	cfg.ops = &vhnet_ops;
	cfg.opaque = d;
	cfg.features = d->features;
	/* The pairs, then the control queue (ctrl.c). */
	cfg.num_queues = 2 * d->opt.queue_pairs + !d->opt.no_ctrl;
	/*
	 * QEMU drives each queue pair of a vhost-user netdev as a vhost device of its own on the
	 * one connection, and each sends the whole guest RAM: with CONFIGURE_MEM_SLOTS that is
	 * the same ADD_MEM_REG once per pair, which the library counts (vh_memmap_add()).
	 */
	cfg.max_queue_size = d->opt.queue_size;
	cfg.config_size = sizeof(d->config);
	/*
	 * Event mode: the tap callback pops the receive ring, which only the event datapath allows
	 * (backend.h). Poll mode: the receive queue's queue_kick reads the tap instead, and both
	 * rings of a pair share a worker (loopback moves frames between them).
	 */
	cfg.datapath = d->opt.poll ? VH_SERVER_DATAPATH_POLL : VH_SERVER_DATAPATH_EVENT;
	cfg.poll_group = 2;
	cfg.poll_threads = d->opt.poll_threads ? d->opt.poll_threads : d->opt.queue_pairs;
	cfg.event_poll_us = d->opt.poll_us;
	return vh_program_server_create(d->prog, &cfg, &d->srv);
}

static int run(struct vhnet *d)
{
	int err;

	err = vhnet_config_init(d);
	if (err)
		return err;
	if (d->opt.tap) {
		err = vhnet_tap_open(d);
		if (err)
			return err;
	}
	err = server_start(d);
	if (err)
		return err;
	vhnet_log(d, VH_LOG_INFO,
		  "serving %s%s on %s: %u queue pair(s), mac %02x:%02x:%02x:%02x:%02x:%02x, mtu "
		  "%u, mergeable rx buffers %s, %s datapath",
		  d->opt.tap ? "tap " : "loopback", d->opt.tap ? d->opt.tap : "",
		  vh_program_listen_desc(d->prog), d->opt.queue_pairs, d->opt.mac[0], d->opt.mac[1],
		  d->opt.mac[2], d->opt.mac[3], d->opt.mac[4], d->opt.mac[5], d->opt.mtu,
		  d->opt.no_mrg ? "off" : "offered", d->opt.poll ? "poll" : "event");
	return vh_program_run(d->prog, d->srv);
}

/* The device's counters (control queue) plus every pair's. */
static void stats_sum(const struct vhnet *d, struct vhnet_stats *s)
{
	const uint64_t *p;
	uint64_t *t = (uint64_t *)s;
	unsigned i, k;

	*s = d->st;
	for (i = 0; i < d->opt.queue_pairs; i++) {
		p = (const uint64_t *)&d->pairs[i].st;
		for (k = 0; k < sizeof(*s) / sizeof(uint64_t); k++)
			t[k] += p[k];
	}
}

static void log_stats(const struct vhnet *d)
{
	struct vhnet_stats sum, *s = &sum;
	unsigned i;

	stats_sum(d, s);

	vhnet_log(
	    d, VH_LOG_INFO,
	    "tx %llu frames %llu bytes (%llu dropped, %llu bad, %llu gso); rx %llu frames %llu "
	    "bytes (%llu gso, %llu dropped, %llu filtered, %llu bad buffers, %llu pauses for "
	    "buffers); ctrl %llu ok, %llu failed",
	    (unsigned long long)s->tx_frames, (unsigned long long)s->tx_bytes,
	    (unsigned long long)s->tx_dropped, (unsigned long long)s->tx_bad,
	    (unsigned long long)s->tx_gso, (unsigned long long)s->rx_frames,
	    (unsigned long long)s->rx_bytes, (unsigned long long)s->rx_gso,
	    (unsigned long long)s->rx_dropped, (unsigned long long)s->rx_filtered,
	    (unsigned long long)s->rx_bad_bufs, (unsigned long long)s->rx_paused,
	    (unsigned long long)s->ctrl_ok, (unsigned long long)s->ctrl_err);
	for (i = 0; d->opt.queue_pairs > 1 && i < d->opt.queue_pairs; i++)
		vhnet_log(d, VH_LOG_INFO, "pair %u: tx %llu frames, rx %llu frames", i,
			  (unsigned long long)d->pairs[i].tx_frames,
			  (unsigned long long)d->pairs[i].rx_frames);
}

int main(int argc, char **argv)
{
	struct vh_program_config pc;
	struct vhnet d;
	int err;

	memset(&d, 0, sizeof(d));
	vhnet_options_init(&d.opt, &pc);
	/* Before the poll workers start: they inherit the blocked SIGTERM / SIGINT. */
	err = vh_program_create(&pc, argc, argv, &d.prog);
	if (err)
		return vh_program_exit_status(err);
	err = run(&d);
	/* Closes the connection (queue_stop returns held buffers) and unlinks the socket. */
	vh_server_destroy(&d.srv);
	if (!err)
		log_stats(&d);
	vhnet_tap_close(&d);
	vhnet_pairs_free(&d);
	vh_program_destroy(&d.prog);
	/* The failure was logged where it happened. */
	return err ? 1 : 0;
}
