/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/signalfd.h>

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

void vhd_log_init(struct vh_log_sink *sink, bool verbose)
{
	sink->max_level = verbose ? VH_LOG_DEBUG : VH_LOG_INFO;
	sink->fn = vhd_log_stderr;
	sink->opaque = sink;
}

int vhd_signalfd(void)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	return fd < 0 ? -errno : fd;
}
