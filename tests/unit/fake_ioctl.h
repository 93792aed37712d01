/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared by test_transport_ioctl.c and test_transport_vdpa.c: a fake kernel behind the ioctl
 * transports' struct vh_ioctl_sys. It records every open/close/ioctl/read/write with the exact
 * argument bytes, answers the GET requests from its fields, keeps a vdpa status byte, returns
 * queued IOTLB messages on read, and fails the requests listed with fk_fail().
 */
#ifndef VH_TEST_FAKE_IOCTL_H
#define VH_TEST_FAKE_IOCTL_H

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>

#include <vhost/frontend.h>
#include <vhost/kernel.h>

#include "frontend/dev_internal.h"
#include "frontend/ioctl.h"
#include "../common/vh_fake_kernel.h"
#include "unit_helpers.h"

#define FK_DEV_FD   VH_FAKE_DEV_FD
#define FK_SYSFS_FD VH_FAKE_SYSFS_FD
#define FK_SYSFS    "/sys/module/vhost/parameters/max_mem_regions"

enum fk_op {
	FK_OPEN,
	FK_CLOSE,
	FK_IOCTL,
	FK_READ,
	FK_WRITE
};

struct fk_call {
	enum fk_op op;
	int fd;
	unsigned long req;
	size_t len;
	uint8_t buf[128];
};

struct fk_err {
	unsigned long req;
	int err;
};

struct fake {
	struct vh_ioctl_sys sys;
	struct vh_fake_kernel k; /* what the kernel answers */
	struct fk_call calls[256];
	unsigned ncalls;
	struct fk_err errs[8];
	unsigned nerrs;
	const char *max_regions;      /* sysfs content; NULL: the file does not exist */
	int open_err;		      /* the device path fails to open with this errno */
	unsigned nwrites, fail_write; /* the write numbered fail_write (1-based) fails */
	int fail_write_err;
	/* A model of the kernel's side of the writes (errno to fail one, 0 to take it), or NULL. */
	int (*on_write)(struct fake *f, const void *buf, size_t len);
	void *model;
	/* messages the device fd returns, then EAGAIN */
	uint8_t rd[4][80];
	size_t rdlen[4];
	unsigned nrd, rdpos;
};

static inline void fk_record(struct fake *f, enum fk_op op, int fd, unsigned long req,
			     const void *p, size_t len)
{
	struct fk_call *c = &f->calls[f->ncalls++];

	assert_true(f->ncalls <= 256);
	c->op = op;
	c->fd = fd;
	c->req = req;
	c->len = len;
	if (p)
		memcpy(c->buf, p, len < sizeof(c->buf) ? len : sizeof(c->buf));
}

static inline int fk_open(void *ctx, const char *path, int flags)
{
	struct fake *f = ctx;

	fk_record(f, FK_OPEN, -1, 0, path, strlen(path) + 1);
	if (strcmp(path, FK_SYSFS) == 0)
		return f->max_regions ? FK_SYSFS_FD : -ENOENT;
	assert_int_equal(flags, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	return f->open_err ? -f->open_err : FK_DEV_FD;
}

static inline int fk_close(void *ctx, int fd)
{
	fk_record(ctx, FK_CLOSE, fd, 0, NULL, 0);
	return 0;
}

static inline size_t fk_arg_len(unsigned long req, const void *arg)
{
	size_t len = _IOC_SIZE(req);

	if (req == VHOST_SET_MEM_TABLE)
		len += ((const struct vhost_memory *)arg)->nregions *
		       sizeof(struct vhost_memory_region);
	if (req == VHOST_VDPA_SET_CONFIG)
		len += ((const struct vhost_vdpa_config *)arg)->len;
	return len;
}

static inline int fk_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	struct fake *f = ctx;

	assert_int_equal(fd, FK_DEV_FD);
	fk_record(f, FK_IOCTL, fd, req, arg, arg ? fk_arg_len(req, arg) : 0);
	for (unsigned i = 0; i < f->nerrs; i++)
		if (f->errs[i].req == req)
			return -f->errs[i].err;
	vh_fake_kernel_answer(&f->k, req, arg);
	return 0;
}

static inline ssize_t fk_read(void *ctx, int fd, void *buf, size_t len)
{
	struct fake *f = ctx;
	size_t n;

	if (fd == FK_SYSFS_FD) {
		n = strlen(f->max_regions);
		memcpy(buf, f->max_regions, n < len ? n : len);
		return (ssize_t)(n < len ? n : len);
	}
	fk_record(f, FK_READ, fd, 0, NULL, len);
	if (f->rdpos == f->nrd)
		return -EAGAIN;
	n = f->rdlen[f->rdpos] < len ? f->rdlen[f->rdpos] : len;
	memcpy(buf, f->rd[f->rdpos++], n);
	return (ssize_t)n;
}

static inline ssize_t fk_write(void *ctx, int fd, const void *buf, size_t len)
{
	struct fake *f = ctx;

	assert_int_equal(fd, FK_DEV_FD);
	fk_record(ctx, FK_WRITE, fd, 0, buf, len);
	if (++f->nwrites == f->fail_write)
		return -f->fail_write_err;
	if (f->on_write) {
		int err = f->on_write(f, buf, len);

		if (err)
			return -err;
	}
	return (ssize_t)len;
}

static inline void fk_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->sys = (struct vh_ioctl_sys){ fk_open, fk_close, fk_ioctl, fk_read, fk_write, f };
	f->k.features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VHOST_F_LOG_ALL) |
			(1ull << VIRTIO_F_ACCESS_PLATFORM) | (1ull << 15);
	f->k.backend = 1ull << VHOST_BACKEND_F_IOTLB_MSG_V2;
	f->max_regions = "64\n";
	f->k.device_id = VIRTIO_ID_NET;
	f->k.config_size = 12;
	f->k.vqs = 3;
	f->k.base = 77;
	f->k.iova_last = UINT64_MAX;
	f->k.groups = 1;
	f->k.ases = 1;
}

static inline void fk_fail(struct fake *f, unsigned long req, int err)
{
	f->errs[f->nerrs++] = (struct fk_err){ req, err };
}

/* Index of the @nth (0-based) ioctl @req at or after call @from, or -1. */
static inline int fk_find(const struct fake *f, unsigned from, unsigned long req)
{
	for (unsigned i = from; i < f->ncalls; i++)
		if (f->calls[i].op == FK_IOCTL && f->calls[i].req == req)
			return (int)i;
	return -1;
}

static inline unsigned fk_count(const struct fake *f, unsigned from, unsigned long req)
{
	unsigned n = 0;

	for (unsigned i = from; i < f->ncalls; i++)
		n += f->calls[i].op == FK_IOCTL && f->calls[i].req == req;
	return n;
}

/* The ioctl requests from call @from on, in order, must be exactly @reqs. */
static inline void fk_expect_ioctls(const struct fake *f, unsigned from, const unsigned long *reqs,
				    unsigned n)
{
	unsigned k = 0;

	for (unsigned i = from; i < f->ncalls; i++) {
		if (f->calls[i].op != FK_IOCTL)
			continue;
		assert_true(k < n);
		assert_int_equal(f->calls[i].req, reqs[k]);
		k++;
	}
	assert_int_equal(k, n);
}

struct env {
	struct fake f;
	struct vh_test_log log;
	struct vh_dev *dev;
	uint8_t *ram;
};

static inline struct vh_dev_config env_cfg(struct env *e, const char *path)
{
	struct vh_dev_config cfg = {
		.path = path,
		.num_queues = 2,
		.features = ~0ull,
		.name = "kdev",
		.log = vh_test_sink(&e->log),
		.opaque = e,
	};

	return cfg;
}

static inline void env_create(struct env *e, const char *path)
{
	struct vh_dev_config cfg = env_cfg(e, path);

	assert_int_equal(vh_dev_create_sys(&cfg, &e->f.sys, &e->dev), 0);
	e->ram = aligned_alloc(4096, 1 << 20);
	assert_non_null(e->ram);
}

static inline void env_destroy(struct env *e)
{
	vh_dev_destroy(&e->dev);
	free(e->ram);
	assert_int_equal(e->f.calls[e->f.ncalls - 1].op, FK_CLOSE);
}

/* Two separate pieces of guest RAM: gpa 0 and gpa 1 MiB, both backed by e->ram halves. */
static inline void env_mem(struct env *e, unsigned n)
{
	assert_int_equal(vh_dev_mem_begin(e->dev), 0);
	for (unsigned i = 0; i < n; i++) {
		struct vh_dev_mem_region r = {
			.gpa = (uint64_t)i << 20,
			.size = 0x10000,
			.host = e->ram + i * 0x20000,
			.fd = -1,
		};

		assert_int_equal(vh_dev_mem_add(e->dev, &r), 0);
	}
}

static inline void env_ring(struct env *e, unsigned index)
{
	struct vh_dev_vring vr = {
		.index = index,
		.num = 256,
		.desc_gpa = 0x1000 + index * 0x4000,
		.avail_gpa = 0x2000 + index * 0x4000,
		.used_gpa = 0x3000 + index * 0x4000,
		.base = 5,
		.kick_fd = -1,
		.call_fd = -1,
	};

	assert_int_equal(vh_dev_vring_setup(e->dev, &vr), 0);
}

static inline void queue_msg(struct fake *f, const void *p, size_t len)
{
	memcpy(f->rd[f->nrd], p, len);
	f->rdlen[f->nrd++] = len;
}

static inline void expect_iotlb(const struct fk_call *c, uint8_t type, uint64_t iova, uint64_t size,
				uint64_t uaddr, uint8_t perm)
{
	struct vhost_msg_v2 want;

	memset(&want, 0, sizeof(want));
	want.type = VHOST_IOTLB_MSG_V2;
	/* Field by field: a struct assignment may copy garbage into the padding we compare. */
	want.iotlb.iova = iova;
	want.iotlb.size = size;
	want.iotlb.uaddr = uaddr;
	want.iotlb.perm = perm;
	want.iotlb.type = type;
	assert_int_equal(c->op, FK_WRITE);
	assert_int_equal(c->len, sizeof(want));
	assert_memory_equal(c->buf, &want, sizeof(want));
}

/* Status bytes written with VHOST_VDPA_SET_STATUS from call @from on. */
static inline unsigned status_writes(const struct fake *f, unsigned from, uint8_t *out,
				     unsigned max)
{
	unsigned n = 0;

	for (unsigned i = from; i < f->ncalls && n < max; i++)
		if (f->calls[i].op == FK_IOCTL && f->calls[i].req == VHOST_VDPA_SET_STATUS)
			out[n++] = f->calls[i].buf[0];
	return n;
}

static inline int setup(void **state)
{
	*state = calloc(1, sizeof(struct env));
	return *state ? 0 : -1;
}

static inline int teardown(void **state)
{
	free(*state);
	return 0;
}

#endif
