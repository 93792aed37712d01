/* SPDX-License-Identifier: BSD-3-Clause */
/* Private helpers shared by every layer: logging, branch hints, small math. */
#ifndef VH_UTIL_H
#define VH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vhost/common.h>

#define vh_likely(x)	 __builtin_expect(!!(x), 1)
#define vh_unlikely(x)	 __builtin_expect(!!(x), 0)

#define VH_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define VH_MIN(a, b)	 ((a) < (b) ? (a) : (b))
#define VH_MAX(a, b)	 ((a) > (b) ? (a) : (b))

/* Overflow-checked a + b <= limit style helpers. */
static inline bool vh_add_overflows(uint64_t a, uint64_t b, uint64_t *sum)
{
	return __builtin_add_overflow(a, b, sum);
}

static inline bool vh_is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

/*
 * vh_logf - format one log line and hand it to @sink (or stderr).
 * @name: the object ("vhost-user /tmp/sock", "vq 0"); may be NULL.
 */
void vh_logf(const struct vh_log_sink *sink, enum vh_log_level level, const char *name,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
