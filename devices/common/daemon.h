/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the device daemons (vh-blk, vh-net) share of the vhost-user "Backend program conventions":
 * log lines on stderr and option parsing. Not part of the library: the daemons use the public
 * headers only, and this is compiled into each program.
 */
#ifndef VH_DEVICES_DAEMON_H
#define VH_DEVICES_DAEMON_H

#include <stdarg.h>
#include <stdbool.h>

#include <vhost/common.h>

/* A vh_log_sink fn: "<level>: <msg>" on stderr; @opaque is the struct vh_log_sink itself. */
void vhd_log_stderr(void *opaque, enum vh_log_level level, const char *msg);

/* Formats "<prog>: <fmt...>" and hands it to @sink when @level passes its max_level. */
void vhd_vlog(const struct vh_log_sink *sink, const char *prog, enum vh_log_level level,
	      const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

/* A stderr sink at VH_LOG_INFO, or VH_LOG_DEBUG with --verbose. */
void vhd_log_init(struct vh_log_sink *sink, bool verbose);

/*
 * Blocks SIGTERM and SIGINT (call before any thread starts, so every thread inherits the mask),
 * ignores SIGPIPE, and returns a non-blocking signalfd that alone sees them: the handler-free way
 * to call vh_server_stop(). Returns the fd or -errno.
 */
int vhd_signalfd(void);

/* --@name @s: an unsigned in @min..@max (0x and 0 prefixes allowed); -EINVAL with a message. */
int vhd_parse_uint(const char *prog, const char *name, const char *s, unsigned min, unsigned max,
		   unsigned *out);

#endif
