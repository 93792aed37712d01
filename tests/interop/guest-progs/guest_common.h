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
 * Requests newer than the build host's <linux/vhost.h> (6.4+: one worker thread per ring), by
 * their number, to see whether the guest kernel answers them. The argument is one unsigned int
 * (struct vhost_worker_state) or two (struct vhost_vring_worker).
 */
#define GP_VHOST_NEW_WORKER	  _IOR(VHOST_VIRTIO, 0x8, unsigned int)
#define GP_VHOST_FREE_WORKER	  _IOW(VHOST_VIRTIO, 0x9, unsigned int)
#define GP_VHOST_GET_VRING_WORKER _IOWR(VHOST_VIRTIO, 0x16, unsigned int[2])

/* Append " NAME=ok|ENOTTY|<errno>" for one request to @line. */
static inline void gp_try(char *line, size_t len, int fd, unsigned long req, const char *name,
			  void *arg)
{
	size_t used = strlen(line);
	int rc = ioctl(fd, req, arg);

	snprintf(line + used, len - used, " %s=%s", name,
		 rc >= 0	   ? "ok"
		 : errno == ENOTTY ? "ENOTTY"
				   : strerror(errno));
}

/* Which optional requests the device answers (the report quotes these lines). */
static inline void gp_probe_ioctls(int fd, const char *path)
{
	struct vhost_vring_state vs = { .index = 0 };
	struct vhost_vdpa_iova_range range;
	unsigned int u = 0, w[2] = { 0, 0 };
	uint8_t status;
	char line[1024] = "";

	gp_try(line, sizeof(line), fd, VHOST_GET_VRING_BUSYLOOP_TIMEOUT,
	       "GET_VRING_BUSYLOOP_TIMEOUT", &vs);
	gp_try(line, sizeof(line), fd, VHOST_GET_VRING_ENDIAN, "GET_VRING_ENDIAN", &vs);
	gp_try(line, sizeof(line), fd, GP_VHOST_NEW_WORKER, "NEW_WORKER", &u);
	if (strstr(line, "NEW_WORKER=ok"))
		gp_try(line, sizeof(line), fd, GP_VHOST_FREE_WORKER, "FREE_WORKER", &u);
	gp_try(line, sizeof(line), fd, GP_VHOST_GET_VRING_WORKER, "GET_VRING_WORKER", w);
	gp_log("probe %s: ioctls:%s", path, line);
	if (!strstr(path, "vdpa"))
		return;
	line[0] = '\0';
	gp_try(line, sizeof(line), fd, VHOST_VDPA_GET_DEVICE_ID, "GET_DEVICE_ID", &u);
	gp_try(line, sizeof(line), fd, VHOST_VDPA_GET_STATUS, "GET_STATUS", &status);
	gp_try(line, sizeof(line), fd, VHOST_VDPA_GET_CONFIG_SIZE, "GET_CONFIG_SIZE", &u);
	gp_try(line, sizeof(line), fd, VHOST_VDPA_GET_VRING_NUM, "GET_VRING_NUM", &vs);
	gp_try(line, sizeof(line), fd, VHOST_VDPA_GET_VQS_COUNT, "GET_VQS_COUNT", &u);
	gp_try(line, sizeof(line), fd, VHOST_VDPA_GET_GROUP_NUM, "GET_GROUP_NUM", &u);
	gp_try(line, sizeof(line), fd, VHOST_VDPA_GET_AS_NUM, "GET_AS_NUM", &u);
	gp_try(line, sizeof(line), fd, VHOST_VDPA_GET_IOVA_RANGE, "GET_IOVA_RANGE", &range);
	vs.index = 0;
	gp_try(line, sizeof(line), fd, VHOST_VDPA_GET_VRING_GROUP, "GET_VRING_GROUP", &vs);
	gp_log("probe %s: vdpa ioctls:%s", path, line);
}

/*
 * Print what the kernel device offers, straight from the ioctls (independent of libvhost):
 * "<prog>: probe <path>: features 0x... backend_features 0x..." and the optional requests it
 * answers (the report quotes these lines).
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
	gp_probe_ioctls(fd, path);
	close(fd);
}

static inline void gp_fill(uint8_t *p, size_t len, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 8));
}

#endif
