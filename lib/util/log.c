/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdarg.h>

#include "util/util.h"

void vh_logf(const struct vh_log_sink *sink, enum vh_log_level level, const char *name,
	     const char *fmt, ...)
{
	char msg[512];
	int n = 0;
	va_list ap;

	if (sink && sink->fn && level > sink->max_level)
		return;
	if ((!sink || !sink->fn) && level > VH_LOG_WARN)
		return;
	if (name)
		n = snprintf(msg, sizeof(msg), "%s: ", name);
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	if (sink && sink->fn)
		sink->fn(sink->opaque, level, msg);
	else
		fprintf(stderr, "%s\n", msg);
}
