/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "daemon.h"

static const char *const level_names[] = { "error", "warning", "info", "debug" };

void vhd_log_stderr(void *opaque, enum vh_log_level level, const char *msg)
{
	const struct vh_log_sink *sink = opaque;

	if (level > sink->max_level)
		return;
	fprintf(stderr, "%s: %s\n", level_names[level], msg);
}

void vhd_vlog(const struct vh_log_sink *sink, const char *prog, enum vh_log_level level,
	      const char *fmt, va_list ap)
{
	char buf[512];
	int n;

	if (level > sink->max_level)
		return;
	n = snprintf(buf, sizeof(buf), "%s: ", prog);
	if (n < 0 || (size_t)n >= sizeof(buf))
		n = 0;
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	sink->fn(sink->opaque, level, buf);
}

int vhd_parse_uint(const char *prog, const char *name, const char *s, unsigned min, unsigned max,
		   unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || !*s || v < min || v > max) {
		fprintf(stderr, "%s: --%s: '%s' is not a number in %u..%u\n", prog, name, s, min,
			max);
		return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}
