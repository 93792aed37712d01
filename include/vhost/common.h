/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvhost: things every public header shares (export macro, log callback).
 */
#ifndef VHOST_COMMON_H
#define VHOST_COMMON_H

#include <stdarg.h>
#include <stdint.h>

#define VH_API __attribute__((visibility("default")))

enum vh_log_level {
	VH_LOG_ERR = 0,
	VH_LOG_WARN,
	VH_LOG_INFO,
	VH_LOG_DEBUG,
};

/*
 * Log callback. @msg has no trailing newline and reads
 * "<object>: <REQUEST>: <what went wrong>: <strerror>".
 * Called from whichever thread detected the condition.
 */
typedef void (*vh_log_fn)(void *opaque, enum vh_log_level level, const char *msg);

/** struct vh_log_sink - where an object sends its log lines (copied at create). */
struct vh_log_sink {
	vh_log_fn fn; /* NULL: lines at VH_LOG_WARN and above go to stderr */
	void *opaque;
	enum vh_log_level max_level;
};

#endif
