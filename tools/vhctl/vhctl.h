/* SPDX-License-Identifier: BSD-3-Clause */
/* vhctl: shared helpers of the subcommands (public libvhost headers only). */
#ifndef VHCTL_H
#define VHCTL_H

#include <stdbool.h>
#include <stdint.h>

#include <vhost/blk.h>

/* Exit codes: 0 success, 1 failure (I/O error, verify mismatch, backend error), 2 usage. */
#define VHCTL_EXIT_FAIL	 1
#define VHCTL_EXIT_USAGE 2

/* "4096", "4k", "1M", "2G" (binary units). Returns 0, or -1 with a message on stderr. */
int vhctl_parse_size(const char *opt, const char *s, uint64_t *out);
/* Prints "vhctl: ..." on stderr. */
void vhctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "/path" or "unix:/path" -> "unix:/path" (static buffer per call site is the caller's). */
void vhctl_backend_path(const char *arg, char *out, size_t len);
/* The log sink every vhctl object uses (errors and warnings on stderr, prefixed "vhctl: "). */
struct vh_log_sink vhctl_log_sink(bool verbose);

int vhctl_probe(int argc, char **argv);
struct vh_dev;
struct virtio_blk_config;
/*
 * probe_ioctl.c: the vhost-kernel / vhost-vdpa part of the probe report; false (nothing
 * printed) for vhost-user. A vdpa block device's config is read into @cfg / @cfg_len.
 */
bool vhctl_probe_ioctl(struct vh_dev *dev, bool json, struct virtio_blk_config *cfg,
		       uint32_t *cfg_len);
int vhctl_blk_bench(int argc, char **argv);
int vhctl_blk_rw(int argc, char **argv, bool write);
int vhctl_blk_logtest(int argc, char **argv);
/* argv[0] is info, id, flush, discard or zeroes. */
int vhctl_blk_cmd(int argc, char **argv);
int vhctl_blk_reconnect_test(int argc, char **argv);

#endif
