/* SPDX-License-Identifier: BSD-3-Clause */
/* vhctl: shared helpers of the subcommands (public libvhost headers only). */
#ifndef VHCTL_H
#define VHCTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

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

/* json.c: a streaming JSON writer for --json (one document per run, on stdout). */
#define VHCTL_JSON_DEPTH 16
struct vhctl_json {
	FILE *f;
	unsigned depth;
	unsigned count[VHCTL_JSON_DEPTH]; /* members written at each open level */
};
/* @key NULL inside arrays. begin/end: objects; begin_array/end_array: arrays. */
void vhctl_json_begin(struct vhctl_json *j, const char *key);
void vhctl_json_end(struct vhctl_json *j);
void vhctl_json_begin_array(struct vhctl_json *j, const char *key);
void vhctl_json_end_array(struct vhctl_json *j);
void vhctl_json_str(struct vhctl_json *j, const char *key, const char *v); /* NULL: null */
void vhctl_json_u64(struct vhctl_json *j, const char *key, uint64_t v);
void vhctl_json_hex(struct vhctl_json *j, const char *key, uint64_t v); /* "0x%016llx" */
void vhctl_json_double(struct vhctl_json *j, const char *key, double v);
void vhctl_json_bool(struct vhctl_json *j, const char *key, bool v);
void vhctl_json_string(FILE *f, const char *s); /* a quoted, escaped string */

/*
 * Set bits of @v by name (@name returns NULL: "bit N"): a JSON array @key, or text lines
 * "  NN NAME" (@one_line: "KEY: NAME NAME ...").
 */
void vhctl_print_bits(struct vhctl_json *j, const char *key, uint64_t v,
		      const char *(*name)(unsigned bit, const void *ctx), const void *ctx,
		      bool one_line);

/*
 * Progress lines of long runs go to stderr only when it is a terminal (a pipe or a log file
 * stays quiet) and --quiet was not given.
 */
bool vhctl_progress_wanted(bool quiet);

/*
 * devtype.c: the virtio device type (VIRTIO_ID_*) a vhost-user backend's feature bits point
 * to, or 0 when they fit several types or none; *@why says what decided (a static string).
 */
uint32_t vhctl_guess_device(uint64_t features, uint64_t protocol_features, const char **why);

int vhctl_probe(int argc, char **argv);
struct vh_dev;
struct vh_dev_ioctl_info;
/* probe_ioctl.c: the vhost-kernel / vhost-vdpa part of the probe report (@j NULL: text). */
void vhctl_probe_ioctl(const struct vh_dev_ioctl_info *ii, struct vhctl_json *j);
/* The config space as raw bytes, ii->config_size of them (none for vhost-kernel). */
void vhctl_probe_raw_config(struct vh_dev *dev, const struct vh_dev_ioctl_info *ii,
			    struct vhctl_json *j);
/* argv[0] is "net": net probe, net bench (netbench.c). */
int vhctl_net(int argc, char **argv);
int vhctl_blk_bench(int argc, char **argv);
int vhctl_blk_rw(int argc, char **argv, bool write);
int vhctl_blk_logtest(int argc, char **argv);
/* argv[0] is info, id, flush, discard or zeroes. */
int vhctl_blk_cmd(int argc, char **argv);
int vhctl_blk_reconnect_test(int argc, char **argv);

#endif
