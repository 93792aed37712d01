/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared by the static guest programs of tests/interop/guest-progs/: failure reporting, the
 * feature probe lines the test scripts grep (and the report quotes), a log sink, byte compare.
 * Header-only: each program is one translation unit built with `cc -static` against libvhost.a.
 */
#ifndef VH_GUEST_COMMON_H
#define VH_GUEST_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/vhost.h>

#include <vhost/common.h>

static const char *gp_prog = "guest";

/* Report a failed step and end the program (the guest's /init turns exit 1 into FAIL). */
__attribute__((format(printf, 1, 2), noreturn)) static inline void gp_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: FAIL: ", gp_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stdout);
	exit(1);
}

/* Check a libvhost return value (>= 0 or -errno). */
static inline int gp_check(int rc, const char *what)
{
	if (rc < 0)
		gp_die("%s: %s", what, strerror(-rc));
	return rc;
}

__attribute__((format(printf, 1, 2))) static inline void gp_log(const char *fmt, ...)
{
	va_list ap;

	printf("%s: ", gp_prog);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static inline void gp_log_fn(void *opaque, enum vh_log_level level, const char *msg)
{
	(void)opaque;
	printf("%s: libvhost[%d]: %s\n", gp_prog, (int)level, msg);
	fflush(stdout);
}

static inline struct vh_log_sink gp_sink(void)
{
	return (struct vh_log_sink){ .fn = gp_log_fn, .max_level = VH_LOG_INFO };
}

/* Compare two byte strings; on a difference print where and die. */
static inline void gp_expect_bytes(const void *got, size_t got_len, const void *want,
				   size_t want_len, const char *what)
{
	const uint8_t *g = got, *w = want;
	size_t i;

	if (got_len != want_len)
		gp_die("%s: %zu bytes, expected %zu", what, got_len, want_len);
	for (i = 0; i < want_len; i++)
		if (g[i] != w[i])
			gp_die("%s: byte %zu is 0x%02x, expected 0x%02x", what, i, g[i], w[i]);
}

/*
 * Print what the kernel device offers, straight from the ioctls (independent of libvhost):
 * "<prog>: probe <path>: features 0x... backend_features 0x..." (the report quotes these lines).
 */
static inline void gp_probe(const char *path)
{
	uint64_t f = 0, bf = 0;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	int brc;

	if (fd < 0)
		gp_die("open %s: %s", path, strerror(errno));
	if (ioctl(fd, VHOST_SET_OWNER) < 0 || ioctl(fd, VHOST_GET_FEATURES, &f) < 0)
		gp_die("%s: VHOST_SET_OWNER/GET_FEATURES: %s", path, strerror(errno));
	brc = ioctl(fd, VHOST_GET_BACKEND_FEATURES, &bf);
	gp_log("probe %s: features 0x%016llx backend_features %s0x%016llx", path,
	       (unsigned long long)f, brc < 0 ? "(none) " : "", (unsigned long long)bf);
	close(fd);
}

static inline void gp_fill(uint8_t *p, size_t len, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 8));
}

#endif
