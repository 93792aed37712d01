// SPDX-License-Identifier: BSD-3-Clause
/*
 * frontend/transport_ioctl.c, transport_kernel.c, transport_vdpa.c, kernel_devices.c against a
 * fake kernel: every open/ioctl/read/write goes through a recording struct vh_ioctl_sys, so the
 * tests assert the exact request numbers, argument structs and IOTLB message bytes the kernel
 * would see, and inject the kernel's errors (EFAULT, ENOTTY, EOPNOTSUPP, short reads).
 */
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
#include "unit_helpers.h"

#define FK_DEV_FD   100
#define FK_SYSFS_FD 101
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
	struct fk_call calls[256];
	unsigned ncalls;
	struct fk_err errs[8];
	unsigned nerrs;
	uint64_t features;
	uint64_t backend;
	const char *max_regions; /* sysfs content; NULL: the file does not exist */
	uint8_t status;
	uint8_t refuse; /* status bits the device clears (a device refusing FEATURES_OK) */
	uint32_t device_id, config_size, vqs;
	uint16_t base;
	uint64_t iova_last;
	/* messages the device fd returns, then EAGAIN */
	uint8_t rd[4][80];
	size_t rdlen[4];
	unsigned nrd, rdpos;
};

static void fk_record(struct fake *f, enum fk_op op, int fd, unsigned long req, const void *p,
		      size_t len)
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

static int fk_open(void *ctx, const char *path, int flags)
{
	struct fake *f = ctx;

	fk_record(f, FK_OPEN, -1, 0, path, strlen(path) + 1);
	if (strcmp(path, FK_SYSFS) == 0)
		return f->max_regions ? FK_SYSFS_FD : -ENOENT;
	assert_int_equal(flags, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	return FK_DEV_FD;
}

static int fk_close(void *ctx, int fd)
{
	fk_record(ctx, FK_CLOSE, fd, 0, NULL, 0);
	return 0;
}

static size_t fk_arg_len(unsigned long req, const void *arg)
{
	size_t len = _IOC_SIZE(req);

	if (req == VHOST_SET_MEM_TABLE)
		len += ((const struct vhost_memory *)arg)->nregions *
		       sizeof(struct vhost_memory_region);
	if (req == VHOST_VDPA_SET_CONFIG)
		len += ((const struct vhost_vdpa_config *)arg)->len;
	return len;
}

static void fk_answer(struct fake *f, unsigned long req, void *arg)
{
	struct vhost_vdpa_config *c = arg;

	switch (req) {
	case VHOST_GET_FEATURES:
		*(uint64_t *)arg = f->features;
		break;
	case VHOST_GET_BACKEND_FEATURES:
		*(uint64_t *)arg = f->backend;
		break;
	case VHOST_VDPA_GET_STATUS:
		*(uint8_t *)arg = f->status;
		break;
	case VHOST_VDPA_SET_STATUS:
		f->status = *(uint8_t *)arg & (uint8_t)~f->refuse;
		break;
	case VHOST_VDPA_GET_DEVICE_ID:
		*(uint32_t *)arg = f->device_id;
		break;
	case VHOST_VDPA_GET_CONFIG_SIZE:
		*(uint32_t *)arg = f->config_size;
		break;
	case VHOST_VDPA_GET_VQS_COUNT:
		*(uint32_t *)arg = f->vqs;
		break;
	case VHOST_VDPA_GET_GROUP_NUM:
	case VHOST_VDPA_GET_AS_NUM:
		*(uint32_t *)arg = 1;
		break;
	case VHOST_VDPA_GET_VRING_NUM:
		*(uint16_t *)arg = 256;
		break;
	case VHOST_GET_VRING_BASE:
		((struct vhost_vring_state *)arg)->num = f->base;
		break;
	case VHOST_VDPA_GET_IOVA_RANGE:
		((struct vhost_vdpa_iova_range *)arg)->first = 0;
		((struct vhost_vdpa_iova_range *)arg)->last = f->iova_last;
		break;
	case VHOST_GET_VRING_BUSYLOOP_TIMEOUT:
		((struct vhost_vring_state *)arg)->num = 50;
		break;
	case VHOST_VDPA_GET_CONFIG:
		for (uint32_t i = 0; i < c->len; i++)
			c->buf[i] = (uint8_t)(0xa0 + c->off + i);
		break;
	default:
		break;
	}
}

static int fk_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	struct fake *f = ctx;

	assert_int_equal(fd, FK_DEV_FD);
	fk_record(f, FK_IOCTL, fd, req, arg, arg ? fk_arg_len(req, arg) : 0);
	for (unsigned i = 0; i < f->nerrs; i++)
		if (f->errs[i].req == req)
			return -f->errs[i].err;
	fk_answer(f, req, arg);
	return 0;
}

static ssize_t fk_read(void *ctx, int fd, void *buf, size_t len)
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

static ssize_t fk_write(void *ctx, int fd, const void *buf, size_t len)
{
	assert_int_equal(fd, FK_DEV_FD);
	fk_record(ctx, FK_WRITE, fd, 0, buf, len);
	return (ssize_t)len;
}

static void fk_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->sys = (struct vh_ioctl_sys){ fk_open, fk_close, fk_ioctl, fk_read, fk_write, f };
	f->features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VHOST_F_LOG_ALL) |
		      (1ull << VIRTIO_F_ACCESS_PLATFORM) | (1ull << 15);
	f->backend = 1ull << VHOST_BACKEND_F_IOTLB_MSG_V2;
	f->max_regions = "64\n";
	f->device_id = VIRTIO_ID_NET;
	f->config_size = 12;
	f->vqs = 3;
	f->base = 77;
	f->iova_last = UINT64_MAX;
}

static void fk_fail(struct fake *f, unsigned long req, int err)
{
	f->errs[f->nerrs++] = (struct fk_err){ req, err };
}

/* Index of the @nth (0-based) ioctl @req at or after call @from, or -1. */
static int fk_find(const struct fake *f, unsigned from, unsigned long req)
{
	for (unsigned i = from; i < f->ncalls; i++)
		if (f->calls[i].op == FK_IOCTL && f->calls[i].req == req)
			return (int)i;
	return -1;
}

static unsigned fk_count(const struct fake *f, unsigned from, unsigned long req)
{
	unsigned n = 0;

	for (unsigned i = from; i < f->ncalls; i++)
		n += f->calls[i].op == FK_IOCTL && f->calls[i].req == req;
	return n;
}

/* The ioctl requests from call @from on, in order, must be exactly @reqs. */
static void fk_expect_ioctls(const struct fake *f, unsigned from, const unsigned long *reqs,
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

static struct vh_dev_config env_cfg(struct env *e, const char *path)
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

static void env_create(struct env *e, const char *path)
{
	struct vh_dev_config cfg = env_cfg(e, path);

	assert_int_equal(vh_dev_create_sys(&cfg, &e->f.sys, &e->dev), 0);
	e->ram = aligned_alloc(4096, 1 << 20);
	assert_non_null(e->ram);
}

static void env_destroy(struct env *e)
{
	vh_dev_destroy(&e->dev);
	free(e->ram);
	assert_int_equal(e->f.calls[e->f.ncalls - 1].op, FK_CLOSE);
}

/* Two separate pieces of guest RAM: gpa 0 and gpa 1 MiB, both backed by e->ram halves. */
static void env_mem(struct env *e, unsigned n)
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

static void env_ring(struct env *e, unsigned index)
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

/* ---- vhost-kernel ------------------------------------------------------------------------- */

static void test_pick_transport(void **state)
{
	(void)state;
	assert_ptr_equal(vh_ioctl_transport_for("/dev/vhost-vdpa-0"), &vh_transport_vdpa);
	assert_ptr_equal(vh_ioctl_transport_for("/dev/vhost-vdpa-12"), &vh_transport_vdpa);
	assert_ptr_equal(vh_ioctl_transport_for("/dev/vhost-net"), &vh_transport_kernel);
	assert_ptr_equal(vh_ioctl_transport_for("/dev/vhost-vsock"), &vh_transport_kernel);
	assert_ptr_equal(vh_ioctl_transport_for("/dev/null"), &vh_transport_kernel);
	assert_null(vh_ioctl_transport_for("/tmp"));
	assert_null(vh_ioctl_transport_for("/nonexistent/sock"));
	assert_null(vh_ioctl_transport_for("tcp:1.2.3.4"));
}

static void test_kernel_create_sequence(void **state)
{
	static const unsigned long want[] = { VHOST_SET_OWNER, VHOST_GET_BACKEND_FEATURES,
					      VHOST_SET_BACKEND_FEATURES, VHOST_GET_FEATURES };
	struct env *e = *state;
	struct vh_dev_ioctl_info info;
	uint64_t v;

	fk_init(&e->f);
	e->f.backend = (1ull << VHOST_BACKEND_F_IOTLB_MSG_V2) | (1ull << VHOST_BACKEND_F_SUSPEND);
	e->f.max_regions = "3\n";
	env_create(e, "/dev/vhost-net");
	assert_int_equal(e->f.calls[0].op, FK_OPEN);
	assert_string_equal((const char *)e->f.calls[0].buf, "/dev/vhost-net");
	fk_expect_ioctls(&e->f, 0, want, 4);
	/* SET_OWNER takes no argument; only the backend features we implement are acked. */
	assert_int_equal(e->f.calls[fk_find(&e->f, 0, VHOST_SET_OWNER)].len, 0);
	memcpy(&v, e->f.calls[fk_find(&e->f, 0, VHOST_SET_BACKEND_FEATURES)].buf, 8);
	assert_int_equal(v, 1ull << VHOST_BACKEND_F_IOTLB_MSG_V2);
	assert_int_equal(vh_dev_backend_features(e->dev), e->f.features);
	assert_int_equal(vh_dev_max_queues(e->dev), 2);
	assert_int_equal(vh_dev_max_mem_slots(e->dev), 3);
	assert_int_equal(vh_dev_ioctl_info(e->dev, &info), 0);
	assert_int_equal(info.device_id, VIRTIO_ID_NET);
	assert_int_equal(info.max_mem_regions, 3);
	assert_int_equal(info.backend_features, e->f.backend);
	assert_int_equal(info.backend_features_acked, 1ull << VHOST_BACKEND_F_IOTLB_MSG_V2);
	assert_false(info.vdpa);
	assert_int_equal(vh_dev_event_fd(e->dev), FK_DEV_FD);
	env_destroy(e);
}

/* vhost-scsi has no backend features ioctl: ENOTTY, and v1 IOTLB messages from then on. */
static void test_kernel_no_backend_features(void **state)
{
	struct env *e = *state;
	struct vh_dev_ioctl_info info;

	fk_init(&e->f);
	fk_fail(&e->f, VHOST_GET_BACKEND_FEATURES, ENOTTY);
	e->f.max_regions = NULL; /* no sysfs parameter: the kernel's default 64 */
	env_create(e, "/dev/vhost-scsi");
	assert_int_equal(fk_count(&e->f, 0, VHOST_SET_BACKEND_FEATURES), 0);
	assert_int_equal(vh_dev_max_mem_slots(e->dev), 64);
	assert_int_equal(vh_dev_ioctl_info(e->dev, &info), 0);
	assert_int_equal(info.device_id, VIRTIO_ID_SCSI);
	assert_int_equal(info.backend_features_acked, 0);
	env_destroy(e);
}

static void test_kernel_set_owner_fails(void **state)
{
	struct env *e = *state;
	struct vh_dev_config cfg = env_cfg(e, "/dev/vhost-vsock");
	struct vh_dev *dev = NULL;

	fk_init(&e->f);
	fk_fail(&e->f, VHOST_SET_OWNER, EBUSY);
	assert_int_equal(vh_dev_create_sys(&cfg, &e->f.sys, &dev), -EBUSY);
	assert_null(dev);
	assert_non_null(strstr(e->log.last, "VHOST_SET_OWNER"));
	assert_int_equal(e->f.calls[e->f.ncalls - 1].op, FK_CLOSE);
	assert_int_equal(e->f.calls[e->f.ncalls - 1].fd, FK_DEV_FD);
}

static void test_kernel_mem_table(void **state)
{
	struct env *e = *state;
	struct vhost_memory_region r[2];
	struct vhost_memory hdr;
	int i;

	fk_init(&e->f);
	env_create(e, "/dev/vhost-net");
	env_mem(e, 2);
	assert_int_equal(vh_dev_mem_commit(e->dev), 0);
	i = fk_find(&e->f, 0, VHOST_SET_MEM_TABLE);
	assert_true(i >= 0);
	assert_int_equal(e->f.calls[i].len, sizeof(hdr) + sizeof(r));
	memcpy(&hdr, e->f.calls[i].buf, sizeof(hdr));
	memcpy(r, e->f.calls[i].buf + sizeof(hdr), sizeof(r));
	assert_int_equal(hdr.nregions, 2);
	assert_int_equal(hdr.padding, 0);
	assert_int_equal(r[0].guest_phys_addr, 0);
	assert_int_equal(r[0].memory_size, 0x10000);
	assert_int_equal(r[0].userspace_addr, (uintptr_t)e->ram);
	assert_int_equal(r[0].flags_padding, 0);
	assert_int_equal(r[1].guest_phys_addr, 1 << 20);
	assert_int_equal(r[1].memory_size, 0x10000);
	assert_int_equal(r[1].userspace_addr, (uintptr_t)(e->ram + 0x20000));

	/* The kernel cannot read the table (EFAULT): the commit fails with its error, logged. */
	fk_fail(&e->f, VHOST_SET_MEM_TABLE, EFAULT);
	env_mem(e, 1);
	assert_int_equal(vh_dev_mem_commit(e->dev), -EFAULT);
	assert_non_null(strstr(e->log.last, "VHOST_SET_MEM_TABLE"));
	assert_non_null(strstr(e->log.last, strerror(EFAULT)));
	env_destroy(e);
}

static void test_kernel_region_limit(void **state)
{
	struct env *e = *state;
	unsigned before;

	fk_init(&e->f);
	e->f.max_regions = "2";
	env_create(e, "/dev/vhost-net");
	env_mem(e, 3);
	before = e->f.ncalls;
	assert_int_equal(vh_dev_mem_commit(e->dev), -ENOSPC);
	assert_int_equal(fk_count(&e->f, before, VHOST_SET_MEM_TABLE), 0);
	env_mem(e, 2);
	assert_int_equal(vh_dev_mem_commit(e->dev), 0);
	assert_int_equal(fk_count(&e->f, before, VHOST_SET_MEM_TABLE), 1);
	env_destroy(e);
}

/* Start: NUM, BASE, ADDR (this process's addresses), CALL, KICK; vhost-net backend; stop. */
static void test_kernel_net_start_stop(void **state)
{
	static const unsigned long start[] = { VHOST_SET_VRING_NUM, VHOST_SET_VRING_BASE,
					       VHOST_SET_VRING_ADDR, VHOST_SET_VRING_CALL,
					       VHOST_SET_VRING_KICK };
	struct env *e = *state;
	struct vhost_vring_state s;
	struct vhost_vring_addr a;
	struct vhost_vring_file fl;
	uint32_t bases[2] = { 0 };
	uint64_t feat;
	unsigned before;
	int i;

	fk_init(&e->f);
	env_create(e, "/dev/vhost-net");
	assert_int_equal(vh_dev_ack_features(e->dev, 1ull << VIRTIO_F_VERSION_1), 0);
	i = fk_find(&e->f, 0, VHOST_SET_FEATURES);
	memcpy(&feat, e->f.calls[i].buf, 8);
	assert_int_equal(feat, 1ull << VIRTIO_F_VERSION_1);
	env_mem(e, 1);
	assert_int_equal(vh_dev_mem_commit(e->dev), 0);
	env_ring(e, 0);
	/* A backend before the ring runs: the kernel would fail it (EFAULT); caught here. */
	assert_int_equal(vh_kernel_net_set_backend(e->dev, 0, 7), -EINVAL);
	before = e->f.ncalls;
	assert_int_equal(vh_dev_start(e->dev), 0);
	fk_expect_ioctls(&e->f, before, start, 5);
	i = fk_find(&e->f, before, VHOST_SET_VRING_NUM);
	memcpy(&s, e->f.calls[i].buf, sizeof(s));
	assert_int_equal(s.index, 0);
	assert_int_equal(s.num, 256);
	memcpy(&s, e->f.calls[i + 1].buf, sizeof(s));
	assert_int_equal(s.num, 5);
	memcpy(&a, e->f.calls[i + 2].buf, sizeof(a));
	assert_int_equal(a.index, 0);
	assert_int_equal(a.flags, 0);
	assert_int_equal(a.desc_user_addr, (uintptr_t)e->ram + 0x1000);
	assert_int_equal(a.avail_user_addr, (uintptr_t)e->ram + 0x2000);
	assert_int_equal(a.used_user_addr, (uintptr_t)e->ram + 0x3000);
	assert_int_equal(a.log_guest_addr, 0x3000);
	memcpy(&fl, e->f.calls[i + 3].buf, sizeof(fl));
	assert_int_equal(fl.fd, vh_dev_vring_call_fd(e->dev, 0));
	memcpy(&fl, e->f.calls[i + 4].buf, sizeof(fl));
	assert_int_equal(fl.fd, vh_dev_vring_kick_fd(e->dev, 0));

	before = e->f.ncalls;
	assert_int_equal(vh_kernel_net_set_backend(e->dev, 0, 7), 0);
	assert_int_equal(e->f.calls[before].req, VHOST_NET_SET_BACKEND);
	memcpy(&fl, e->f.calls[before].buf, sizeof(fl));
	assert_int_equal(fl.index, 0);
	assert_int_equal(fl.fd, 7);

	/* Stop: detach (fd -1), then GET_VRING_BASE reads where the ring got to. */
	before = e->f.ncalls;
	assert_int_equal(vh_kernel_net_stop(e->dev, bases, 2), 0);
	{
		static const unsigned long stop[] = { VHOST_NET_SET_BACKEND, VHOST_GET_VRING_BASE };

		fk_expect_ioctls(&e->f, before, stop, 2);
	}
	memcpy(&fl, e->f.calls[before].buf, sizeof(fl));
	assert_int_equal(fl.fd, -1);
	assert_int_equal(bases[0], 77);
	env_destroy(e);
}

static void test_kernel_log_base(void **state)
{
	struct env *e = *state;
	uint64_t base, feat;
	struct vhost_vring_addr a;
	unsigned before;
	int i;

	fk_init(&e->f);
	env_create(e, "/dev/vhost-net");
	assert_int_equal(vh_dev_ack_features(e->dev, 1ull << VIRTIO_F_VERSION_1), 0);
	env_mem(e, 1);
	assert_int_equal(vh_dev_mem_commit(e->dev), 0);
	env_ring(e, 0);
	assert_int_equal(vh_dev_start(e->dev), 0);
	before = e->f.ncalls;
	assert_int_equal(vh_dev_log_start(e->dev), 0);
	i = fk_find(&e->f, before, VHOST_SET_LOG_BASE);
	assert_true(i >= 0);
	memcpy(&base, e->f.calls[i].buf, 8);
	assert_int_equal(base, (uintptr_t)vh_log_buf_addr(e->dev->logbuf));
	assert_true(base != 0);
	i = fk_find(&e->f, i, VHOST_SET_FEATURES);
	memcpy(&feat, e->f.calls[i].buf, 8);
	assert_int_equal(feat, (1ull << VIRTIO_F_VERSION_1) | (1ull << VHOST_F_LOG_ALL));
	i = fk_find(&e->f, i, VHOST_SET_VRING_ADDR);
	memcpy(&a, e->f.calls[i].buf, sizeof(a));
	assert_int_equal(a.flags, 1u << VHOST_VRING_F_LOG);
	assert_int_equal(vh_dev_stop(e->dev, NULL, 0), 0);
	env_destroy(e);
}

static void test_kernel_cross_endian(void **state)
{
	struct env *e = *state;
	struct vhost_vring_state s;
	unsigned before;

	fk_init(&e->f);
	env_create(e, "/dev/vhost-net");
	before = e->f.ncalls;
	assert_int_equal(vh_dev_set_vring_endian(e->dev, 1, true), 0);
	assert_int_equal(e->f.calls[before].req, VHOST_SET_VRING_ENDIAN);
	memcpy(&s, e->f.calls[before].buf, sizeof(s));
	assert_int_equal(s.index, 1);
	assert_int_equal(s.num, VHOST_VRING_BIG_ENDIAN);
	/* No CONFIG_VHOST_CROSS_ENDIAN_LEGACY: little-endian is native anyway, big is not possible. */
	fk_fail(&e->f, VHOST_SET_VRING_ENDIAN, ENOTTY);
	assert_int_equal(vh_dev_set_vring_endian(e->dev, 0, false), 0);
	assert_int_equal(vh_dev_set_vring_endian(e->dev, 0, true), -EOPNOTSUPP);
	assert_int_equal(vh_dev_set_vring_endian(e->dev, 2, false), -EINVAL);
	env_destroy(e);
}

static void test_kernel_busyloop(void **state)
{
	struct env *e = *state;
	struct vhost_vring_state s;
	unsigned before, usec = 0;

	fk_init(&e->f);
	env_create(e, "/dev/vhost-net");
	before = e->f.ncalls;
	assert_int_equal(vh_dev_set_busyloop_timeout(e->dev, 1, 300), 0);
	assert_int_equal(e->f.calls[before].req, VHOST_SET_VRING_BUSYLOOP_TIMEOUT);
	memcpy(&s, e->f.calls[before].buf, sizeof(s));
	assert_int_equal(s.index, 1);
	assert_int_equal(s.num, 300);
	assert_int_equal(vh_dev_get_busyloop_timeout(e->dev, 1, &usec), 0);
	assert_int_equal(e->f.calls[before + 1].req, VHOST_GET_VRING_BUSYLOOP_TIMEOUT);
	assert_int_equal(usec, 50);
	assert_int_equal(vh_dev_get_busyloop_timeout(e->dev, 2, &usec), -EINVAL);
	fk_fail(&e->f, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, ENOTTY);
	fk_fail(&e->f, VHOST_GET_VRING_BUSYLOOP_TIMEOUT, EOPNOTSUPP);
	assert_int_equal(vh_dev_set_busyloop_timeout(e->dev, 0, 10), -EOPNOTSUPP);
	assert_int_equal(vh_dev_get_busyloop_timeout(e->dev, 0, &usec), -EOPNOTSUPP);
	env_destroy(e);
}

static void test_kernel_vsock(void **state)
{
	struct env *e = *state;
	uint64_t cid;
	int run;
	unsigned before;

	fk_init(&e->f);
	env_create(e, "/dev/vhost-vsock");
	assert_int_equal(vh_kernel_vsock_set_guest_cid(e->dev, 2), -EINVAL);
	before = e->f.ncalls;
	assert_int_equal(vh_kernel_vsock_set_guest_cid(e->dev, 42), 0);
	assert_int_equal(e->f.calls[before].req, VHOST_VSOCK_SET_GUEST_CID);
	memcpy(&cid, e->f.calls[before].buf, 8);
	assert_int_equal(cid, 42);
	assert_int_equal(vh_dev_ack_features(e->dev, 1ull << VIRTIO_F_VERSION_1), 0);
	env_mem(e, 1);
	assert_int_equal(vh_dev_mem_commit(e->dev), 0);
	env_ring(e, 0);
	env_ring(e, 1);
	assert_int_equal(vh_dev_start(e->dev), 0);
	before = e->f.ncalls;
	assert_int_equal(vh_kernel_vsock_set_running(e->dev, true), 0);
	assert_int_equal(e->f.calls[before].req, VHOST_VSOCK_SET_RUNNING);
	memcpy(&run, e->f.calls[before].buf, sizeof(run));
	assert_int_equal(run, 1);
	before = e->f.ncalls;
	assert_int_equal(vh_kernel_vsock_stop(e->dev, NULL, 0), 0);
	{
		static const unsigned long stop[] = { VHOST_VSOCK_SET_RUNNING, VHOST_GET_VRING_BASE,
						      VHOST_GET_VRING_BASE };

		fk_expect_ioctls(&e->f, before, stop, 3);
	}
	memcpy(&run, e->f.calls[before].buf, sizeof(run));
	assert_int_equal(run, 0);
	env_destroy(e);
}

/* ---- IOTLB on the device fd --------------------------------------------------------------- */

static int translate(void *opaque, uint64_t iova, int perm, uint64_t *uva, uint64_t *size)
{
	(void)opaque;
	if (iova >= 0x100000)
		return -EFAULT;
	assert_int_equal(perm, VHOST_ACCESS_RW);
	*uva = 0x7f0000000000ull + iova;
	*size = 0x1000;
	return 0;
}

static void env_iommu(struct env *e, const char *path, uint64_t backend)
{
	struct vh_dev_config cfg = env_cfg(e, path);

	fk_init(&e->f);
	e->f.backend = backend;
	cfg.iotlb_translate = translate;
	assert_int_equal(vh_dev_create_sys(&cfg, &e->f.sys, &e->dev), 0);
	assert_int_equal(vh_dev_ack_features(e->dev, (1ull << VIRTIO_F_VERSION_1) |
							 (1ull << VIRTIO_F_ACCESS_PLATFORM)),
			 0);
	e->ram = NULL;
}

static void queue_msg(struct fake *f, const void *p, size_t len)
{
	memcpy(f->rd[f->nrd], p, len);
	f->rdlen[f->nrd++] = len;
}

static void test_iotlb_miss_v2(void **state)
{
	struct env *e = *state;
	struct vhost_msg_v2 miss = { .type = VHOST_IOTLB_MSG_V2 }, want = { 0 };
	unsigned before;

	env_iommu(e, "/dev/vhost-net", 1ull << VHOST_BACKEND_F_IOTLB_MSG_V2);
	miss.iotlb = (struct vhost_iotlb_msg){ .iova = 0x5000,
					       .perm = VHOST_ACCESS_RW,
					       .type = VHOST_IOTLB_MISS };
	queue_msg(&e->f, &miss, sizeof(miss));
	before = e->f.ncalls;
	assert_int_equal(vh_dev_dispatch(e->dev), 1);
	/* read (the miss), write (the update), read (EAGAIN: nothing more) */
	assert_int_equal(e->f.ncalls - before, 3);
	assert_int_equal(e->f.calls[before].op, FK_READ);
	assert_int_equal(e->f.calls[before].len, sizeof(struct vhost_msg_v2));
	assert_int_equal(e->f.calls[before + 1].op, FK_WRITE);
	want.type = VHOST_IOTLB_MSG_V2;
	want.iotlb = (struct vhost_iotlb_msg){ .iova = 0x5000,
					       .size = 0x1000,
					       .uaddr = 0x7f0000005000ull,
					       .perm = VHOST_ACCESS_RW,
					       .type = VHOST_IOTLB_UPDATE };
	assert_int_equal(e->f.calls[before + 1].len, sizeof(want));
	assert_memory_equal(e->f.calls[before + 1].buf, &want, sizeof(want));
	assert_int_equal(e->f.calls[before + 2].op, FK_READ);

	/* Invalidation from the caller. */
	before = e->f.ncalls;
	assert_int_equal(vh_dev_iotlb_invalidate(e->dev, 0x5000, 0x1000), 0);
	memset(&want, 0, sizeof(want));
	want.type = VHOST_IOTLB_MSG_V2;
	want.iotlb = (struct vhost_iotlb_msg){ .iova = 0x5000,
					       .size = 0x1000,
					       .type = VHOST_IOTLB_INVALIDATE };
	assert_int_equal(e->f.calls[before].op, FK_WRITE);
	assert_memory_equal(e->f.calls[before].buf, &want, sizeof(want));
	env_destroy(e);
}

/* Without IOTLB_MSG_V2 both directions use struct vhost_msg; a failed translation is skipped. */
static void test_iotlb_miss_v1(void **state)
{
	struct env *e = *state;
	struct vhost_msg miss = { .type = VHOST_IOTLB_MSG }, want;
	unsigned before;

	env_iommu(e, "/dev/vhost-vsock", 0);
	miss.iotlb = (struct vhost_iotlb_msg){ .iova = 0x200000,
					       .perm = VHOST_ACCESS_RW,
					       .type = VHOST_IOTLB_MISS };
	queue_msg(&e->f, &miss, sizeof(miss));
	miss.iotlb.iova = 0x3000;
	queue_msg(&e->f, &miss, sizeof(miss));
	before = e->f.ncalls;
	assert_int_equal(vh_dev_dispatch(e->dev), -EFAULT);
	assert_non_null(strstr(e->log.last, "VHOST_IOTLB_MISS"));
	/* read (untranslatable miss), read (miss), write (update), read (EAGAIN) */
	assert_int_equal(e->f.ncalls - before, 4);
	assert_int_equal(e->f.calls[before + 2].op, FK_WRITE);
	memset(&want, 0, sizeof(want));
	want.type = VHOST_IOTLB_MSG;
	want.iotlb = (struct vhost_iotlb_msg){ .iova = 0x3000,
					       .size = 0x1000,
					       .uaddr = 0x7f0000003000ull,
					       .perm = VHOST_ACCESS_RW,
					       .type = VHOST_IOTLB_UPDATE };
	assert_int_equal(e->f.calls[before + 2].len, sizeof(want));
	assert_memory_equal(e->f.calls[before + 2].buf, &want, sizeof(want));
	/* Not broken: the next dispatch finds nothing. */
	assert_int_equal(vh_dev_dispatch(e->dev), 0);
	env_destroy(e);
}

static void test_iotlb_short_read(void **state)
{
	struct env *e = *state;
	struct vhost_msg_v2 miss = { .type = VHOST_IOTLB_MSG_V2 };

	env_iommu(e, "/dev/vhost-net", 1ull << VHOST_BACKEND_F_IOTLB_MSG_V2);
	queue_msg(&e->f, &miss, sizeof(miss) - 1);
	assert_int_equal(vh_dev_dispatch(e->dev), -EPROTO);
	assert_non_null(strstr(e->log.last, "short message"));
	/* Sticky: the device stays broken. */
	assert_int_equal(vh_dev_dispatch(e->dev), -EPROTO);
	assert_int_equal(vh_dev_iotlb_invalidate(e->dev, 0, 4096), -EPROTO);
	env_destroy(e);
}

static void test_iotlb_bad_type(void **state)
{
	struct env *e = *state;
	struct vhost_msg m = { .type = VHOST_IOTLB_MSG_V2 };

	/* v1 negotiated, the device sends a v2 header: a protocol violation. */
	env_iommu(e, "/dev/vhost-net", 0);
	queue_msg(&e->f, &m, sizeof(m));
	assert_int_equal(vh_dev_dispatch(e->dev), -EPROTO);
	env_destroy(e);
}

/* ---- vhost-vdpa --------------------------------------------------------------------------- */

static void test_vdpa_create_sequence(void **state)
{
	static const unsigned long want[] = {
		VHOST_SET_OWNER,	  VHOST_GET_BACKEND_FEATURES, VHOST_SET_BACKEND_FEATURES,
		VHOST_VDPA_GET_DEVICE_ID, VHOST_VDPA_GET_CONFIG_SIZE, VHOST_VDPA_GET_VQS_COUNT,
		VHOST_VDPA_GET_GROUP_NUM, VHOST_VDPA_GET_AS_NUM,      VHOST_VDPA_GET_IOVA_RANGE,
		VHOST_VDPA_GET_VRING_NUM, VHOST_VDPA_SET_STATUS,      VHOST_VDPA_GET_STATUS,
		VHOST_VDPA_SET_STATUS,	  VHOST_VDPA_GET_STATUS,      VHOST_GET_FEATURES,
	};
	struct env *e = *state;
	struct vh_dev_ioctl_info info;
	uint64_t v;
	uint32_t group = 9;
	int i;

	fk_init(&e->f);
	e->f.backend = (1ull << VHOST_BACKEND_F_IOTLB_MSG_V2) |
		       (1ull << VHOST_BACKEND_F_IOTLB_BATCH) | (1ull << VHOST_BACKEND_F_IOTLB_ASID);
	e->f.status = VIRTIO_CONFIG_S_DRIVER_OK; /* left over by a previous user: reset first */
	env_create(e, "/dev/vhost-vdpa-0");
	fk_expect_ioctls(&e->f, 0, want, VH_ARRAY_SIZE(want));
	memcpy(&v, e->f.calls[fk_find(&e->f, 0, VHOST_SET_BACKEND_FEATURES)].buf, 8);
	assert_int_equal(v, (1ull << VHOST_BACKEND_F_IOTLB_MSG_V2) |
				(1ull << VHOST_BACKEND_F_IOTLB_BATCH));
	i = fk_find(&e->f, 0, VHOST_VDPA_SET_STATUS);
	assert_int_equal(e->f.calls[i].len, 1);
	assert_int_equal(e->f.calls[i].buf[0], 0);
	i = fk_find(&e->f, i + 1, VHOST_VDPA_SET_STATUS);
	assert_int_equal(e->f.calls[i].buf[0],
			 VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	assert_int_equal(vh_dev_ioctl_info(e->dev, &info), 0);
	assert_true(info.vdpa);
	assert_int_equal(info.device_id, VIRTIO_ID_NET);
	assert_int_equal(info.config_size, 12);
	assert_int_equal(info.vqs_count, 3);
	assert_int_equal(info.vring_num_max, 256);
	assert_int_equal(info.iova_last, UINT64_MAX);
	assert_int_equal(vh_dev_max_queues(e->dev), 3);
	assert_int_equal(vh_dev_vring_group(e->dev, 1, &group), 0);
	assert_int_equal(e->f.calls[e->f.ncalls - 1].req, VHOST_VDPA_GET_VRING_GROUP);
	assert_int_equal(group, 0);
	assert_int_equal(vh_dev_event_fd(e->dev), -1);
	env_destroy(e);
}

/* Older kernels: no VQS_COUNT / GROUP_NUM / AS_NUM / GET_VRING_GROUP (ENOTTY): tolerated. */
static void test_vdpa_old_kernel(void **state)
{
	struct env *e = *state;
	struct vh_dev_ioctl_info info;
	uint32_t group;

	fk_init(&e->f);
	fk_fail(&e->f, VHOST_VDPA_GET_VQS_COUNT, ENOTTY);
	fk_fail(&e->f, VHOST_VDPA_GET_GROUP_NUM, ENOTTY);
	fk_fail(&e->f, VHOST_VDPA_GET_AS_NUM, ENOTTY);
	fk_fail(&e->f, VHOST_VDPA_GET_VRING_GROUP, ENOTTY);
	fk_fail(&e->f, VHOST_VDPA_GET_IOVA_RANGE, ENOTTY);
	e->f.iova_last = 0xfff; /* not asked: must not be used */
	env_create(e, "/dev/vhost-vdpa-3");
	assert_int_equal(vh_dev_ioctl_info(e->dev, &info), 0);
	assert_int_equal(info.vqs_count, 0);
	assert_int_equal(info.group_num, 0);
	assert_int_equal(info.iova_first, 0);
	assert_int_equal(info.iova_last, UINT64_MAX);
	assert_int_equal(vh_dev_max_queues(e->dev), 2);
	assert_int_equal(vh_dev_vring_group(e->dev, 0, &group), -EOPNOTSUPP);
	env_destroy(e);
}

static void expect_iotlb(const struct fk_call *c, uint8_t type, uint64_t iova, uint64_t size,
			 uint64_t uaddr, uint8_t perm)
{
	struct vhost_msg_v2 want;

	memset(&want, 0, sizeof(want));
	want.type = VHOST_IOTLB_MSG_V2;
	want.iotlb = (struct vhost_iotlb_msg){
		.iova = iova, .size = size, .uaddr = uaddr, .perm = perm, .type = type
	};
	assert_int_equal(c->op, FK_WRITE);
	assert_int_equal(c->len, sizeof(want));
	assert_memory_equal(c->buf, &want, sizeof(want));
}

static void env_vdpa(struct env *e)
{
	fk_init(&e->f);
	e->f.backend =
	    (1ull << VHOST_BACKEND_F_IOTLB_MSG_V2) | (1ull << VHOST_BACKEND_F_IOTLB_BATCH);
	env_create(e, "/dev/vhost-vdpa-0");
}

static void test_vdpa_mem_batch(void **state)
{
	struct env *e = *state;
	uintptr_t ram;
	unsigned before;

	env_vdpa(e);
	ram = (uintptr_t)e->ram;
	env_mem(e, 2);
	before = e->f.ncalls;
	assert_int_equal(vh_dev_mem_commit(e->dev), 0);
	/* No memory table ioctl: IOTLB messages, iova = GPA, uaddr = host address. */
	assert_int_equal(e->f.ncalls - before, 4);
	expect_iotlb(&e->f.calls[before], VHOST_IOTLB_BATCH_BEGIN, 0, 0, 0, 0);
	expect_iotlb(&e->f.calls[before + 1], VHOST_IOTLB_UPDATE, 0, 0x10000, ram, VHOST_ACCESS_RW);
	expect_iotlb(&e->f.calls[before + 2], VHOST_IOTLB_UPDATE, 1 << 20, 0x10000, ram + 0x20000,
		     VHOST_ACCESS_RW);
	expect_iotlb(&e->f.calls[before + 3], VHOST_IOTLB_BATCH_END, 0, 0, 0, 0);

	/* Replace the second region by one at 2 MiB: invalidate before update (no EEXIST). */
	assert_int_equal(vh_dev_mem_begin(e->dev), 0);
	{
		struct vh_dev_mem_region r0 = {
			.gpa = 0, .size = 0x10000, .host = e->ram, .fd = -1
		};
		struct vh_dev_mem_region r2 = {
			.gpa = 2 << 20, .size = 0x8000, .host = e->ram + 0x40000, .fd = -1
		};

		assert_int_equal(vh_dev_mem_add(e->dev, &r0), 0);
		assert_int_equal(vh_dev_mem_add(e->dev, &r2), 0);
	}
	before = e->f.ncalls;
	assert_int_equal(vh_dev_mem_commit(e->dev), 0);
	assert_int_equal(e->f.ncalls - before, 4);
	expect_iotlb(&e->f.calls[before], VHOST_IOTLB_BATCH_BEGIN, 0, 0, 0, 0);
	expect_iotlb(&e->f.calls[before + 1], VHOST_IOTLB_INVALIDATE, 1 << 20, 0x10000, 0, 0);
	expect_iotlb(&e->f.calls[before + 2], VHOST_IOTLB_UPDATE, 2 << 20, 0x8000, ram + 0x40000,
		     VHOST_ACCESS_RW);
	expect_iotlb(&e->f.calls[before + 3], VHOST_IOTLB_BATCH_END, 0, 0, 0, 0);
	env_destroy(e);
}

/* Without IOTLB_BATCH: the updates alone, no begin/end. */
static void test_vdpa_mem_nobatch(void **state)
{
	struct env *e = *state;
	unsigned before;

	fk_init(&e->f);
	e->f.backend = 1ull << VHOST_BACKEND_F_IOTLB_MSG_V2;
	env_create(e, "/dev/vhost-vdpa-0");
	env_mem(e, 1);
	before = e->f.ncalls;
	assert_int_equal(vh_dev_mem_commit(e->dev), 0);
	assert_int_equal(e->f.ncalls - before, 1);
	expect_iotlb(&e->f.calls[before], VHOST_IOTLB_UPDATE, 0, 0x10000, (uintptr_t)e->ram,
		     VHOST_ACCESS_RW);
	env_destroy(e);
}

/* Guest RAM outside the device's IOVA range: refused before the kernel's EINVAL, batch closed. */
static void test_vdpa_iova_range(void **state)
{
	struct env *e = *state;
	unsigned before;

	fk_init(&e->f);
	e->f.backend =
	    (1ull << VHOST_BACKEND_F_IOTLB_MSG_V2) | (1ull << VHOST_BACKEND_F_IOTLB_BATCH);
	e->f.iova_last = 0xfffff;
	env_create(e, "/dev/vhost-vdpa-0");
	env_mem(e, 2);
	before = e->f.ncalls;
	assert_int_equal(vh_dev_mem_commit(e->dev), -ERANGE);
	assert_non_null(strstr(e->log.last, "iova range"));
	assert_int_equal(e->f.ncalls - before, 3);
	expect_iotlb(&e->f.calls[before + 1], VHOST_IOTLB_UPDATE, 0, 0x10000, (uintptr_t)e->ram,
		     VHOST_ACCESS_RW);
	expect_iotlb(&e->f.calls[before + 2], VHOST_IOTLB_BATCH_END, 0, 0, 0, 0);
	env_destroy(e);
}

/* Status bytes written with VHOST_VDPA_SET_STATUS from call @from on. */
static unsigned status_writes(const struct fake *f, unsigned from, uint8_t *out, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = from; i < f->ncalls && n < max; i++)
		if (f->calls[i].op == FK_IOCTL && f->calls[i].req == VHOST_VDPA_SET_STATUS)
			out[n++] = f->calls[i].buf[0];
	return n;
}

static void test_vdpa_status_start_stop(void **state)
{
	struct env *e = *state;
	struct vhost_vring_state s;
	uint64_t feat = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_ACCESS_PLATFORM);
	struct vhost_vring_addr a;
	uint8_t st[8];
	uint32_t bases[1];
	unsigned before;
	int i, en;

	env_vdpa(e);
	before = e->f.ncalls;
	assert_int_equal(vh_dev_ack_features(e->dev, feat), 0);
	i = fk_find(&e->f, before, VHOST_SET_FEATURES);
	assert_true(i >= 0);
	assert_int_equal(memcmp(e->f.calls[i].buf, &feat, 8), 0);
	assert_int_equal(status_writes(&e->f, before, st, 8), 1);
	assert_int_equal(st[0], VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
				    VIRTIO_CONFIG_S_FEATURES_OK);
	/* FEATURES_OK only after SET_FEATURES (the kernel refuses SET_FEATURES after it). */
	assert_true(fk_find(&e->f, before, VHOST_VDPA_SET_STATUS) > i);
	/* Acking the same again sends nothing. */
	before = e->f.ncalls;
	assert_int_equal(vh_dev_ack_features(e->dev, feat), 0);
	assert_int_equal(fk_count(&e->f, before, VHOST_SET_FEATURES), 0);

	env_mem(e, 1);
	assert_int_equal(vh_dev_mem_commit(e->dev), 0);
	env_ring(e, 0);
	before = e->f.ncalls;
	assert_int_equal(vh_dev_start(e->dev), 0);
	/* Ring addresses are IOVAs (= GPAs), not this process's addresses. */
	i = fk_find(&e->f, before, VHOST_SET_VRING_ADDR);
	memcpy(&a, e->f.calls[i].buf, sizeof(a));
	assert_int_equal(a.desc_user_addr, 0x1000);
	assert_int_equal(a.avail_user_addr, 0x2000);
	assert_int_equal(a.used_user_addr, 0x3000);
	en = fk_find(&e->f, before, VHOST_VDPA_SET_VRING_ENABLE);
	memcpy(&s, e->f.calls[en].buf, sizeof(s));
	assert_int_equal(s.index, 0);
	assert_int_equal(s.num, 1);
	assert_true(en > fk_find(&e->f, before, VHOST_SET_VRING_KICK));
	assert_true(fk_find(&e->f, before, VHOST_VDPA_SET_STATUS) > en);
	assert_int_equal(status_writes(&e->f, before, st, 8), 1);
	assert_int_equal(st[0], VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
				    VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);

	/* Stop: disable, read the base, reset, back to ACKNOWLEDGE | DRIVER, remap. */
	before = e->f.ncalls;
	assert_int_equal(vh_dev_stop(e->dev, bases, 1), 0);
	assert_int_equal(bases[0], 77);
	en = fk_find(&e->f, before, VHOST_VDPA_SET_VRING_ENABLE);
	memcpy(&s, e->f.calls[en].buf, sizeof(s));
	assert_int_equal(s.num, 0);
	assert_true(fk_find(&e->f, before, VHOST_GET_VRING_BASE) > en);
	assert_true(fk_find(&e->f, before, VHOST_VDPA_SET_STATUS) >
		    fk_find(&e->f, before, VHOST_GET_VRING_BASE));
	assert_int_equal(status_writes(&e->f, before, st, 8), 2);
	assert_int_equal(st[0], 0);
	assert_int_equal(st[1], VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	expect_iotlb(&e->f.calls[e->f.ncalls - 4], VHOST_IOTLB_BATCH_BEGIN, 0, 0, 0, 0);
	expect_iotlb(&e->f.calls[e->f.ncalls - 3], VHOST_IOTLB_INVALIDATE, 0, UINT64_MAX, 0, 0);
	expect_iotlb(&e->f.calls[e->f.ncalls - 2], VHOST_IOTLB_UPDATE, 0, 0x10000,
		     (uintptr_t)e->ram, VHOST_ACCESS_RW);
	expect_iotlb(&e->f.calls[e->f.ncalls - 1], VHOST_IOTLB_BATCH_END, 0, 0, 0, 0);

	/* Restart after the reset: features and FEATURES_OK again, then DRIVER_OK. */
	before = e->f.ncalls;
	assert_int_equal(vh_dev_start(e->dev), 0);
	assert_int_equal(fk_count(&e->f, before, VHOST_SET_FEATURES), 1);
	assert_int_equal(status_writes(&e->f, before, st, 8), 2);
	assert_int_equal(st[0], VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
				    VIRTIO_CONFIG_S_FEATURES_OK);
	assert_int_equal(st[1], VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
				    VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	assert_int_equal(vh_dev_stop(e->dev, NULL, 0), 0);
	env_destroy(e);
}

/* A device that clears FEATURES_OK refuses the features (virtio 1.2 §3.1.1 step 6): -EIO. */
static void test_vdpa_features_refused(void **state)
{
	struct env *e = *state;

	env_vdpa(e);
	e->f.refuse = VIRTIO_CONFIG_S_FEATURES_OK;
	assert_int_equal(vh_dev_ack_features(e->dev, 1ull << VIRTIO_F_VERSION_1), -EIO);
	assert_non_null(strstr(e->log.last, "refused status"));
	/* SET_FEATURES itself failing: the kernel's error, logged with the request name. */
	e->f.refuse = 0;
	fk_fail(&e->f, VHOST_SET_FEATURES, EINVAL);
	assert_int_equal(vh_dev_ack_features(e->dev, 1ull << VIRTIO_F_VERSION_1), -EINVAL);
	assert_non_null(strstr(e->log.last, "VHOST_SET_FEATURES"));
	env_destroy(e);
}

static void test_vdpa_config(void **state)
{
	struct env *e = *state;
	struct vhost_vdpa_config c;
	uint8_t buf[4], in[2] = { 0x11, 0x22 };
	int i;

	env_vdpa(e);
	assert_int_equal(vh_dev_get_config(e->dev, 2, buf, sizeof(buf)), 0);
	i = fk_find(&e->f, 0, VHOST_VDPA_GET_CONFIG);
	memcpy(&c, e->f.calls[i].buf, sizeof(c));
	assert_int_equal(c.off, 2);
	assert_int_equal(c.len, 4);
	assert_int_equal(buf[0], 0xa2);
	assert_int_equal(buf[3], 0xa5);
	assert_int_equal(vh_dev_set_config(e->dev, 6, in, sizeof(in)), 0);
	i = fk_find(&e->f, 0, VHOST_VDPA_SET_CONFIG);
	assert_int_equal(e->f.calls[i].len, sizeof(c) + 2);
	memcpy(&c, e->f.calls[i].buf, sizeof(c));
	assert_int_equal(c.off, 6);
	assert_int_equal(c.len, 2);
	assert_memory_equal(e->f.calls[i].buf + sizeof(c), in, 2);
	fk_fail(&e->f, VHOST_VDPA_GET_CONFIG, E2BIG);
	assert_int_equal(vh_dev_get_config(e->dev, 10, buf, sizeof(buf)), -E2BIG);
	env_destroy(e);
}

/* The kernel-only requests refuse a vhost-vdpa device without an ioctl. */
static void test_wrong_transport(void **state)
{
	struct env *e = *state;
	unsigned before;

	env_vdpa(e);
	before = e->f.ncalls;
	assert_int_equal(vh_kernel_net_set_backend(e->dev, 0, -1), -EINVAL);
	assert_int_equal(vh_kernel_vsock_set_guest_cid(e->dev, 5), -EINVAL);
	assert_int_equal(vh_kernel_vsock_set_running(e->dev, true), -EINVAL);
	assert_int_equal(e->f.ncalls, before);
	env_destroy(e);
}

static int setup(void **state)
{
	*state = calloc(1, sizeof(struct env));
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pick_transport),
		cmocka_unit_test_setup_teardown(test_kernel_create_sequence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_no_backend_features, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_set_owner_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_mem_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_region_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_net_start_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_log_base, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_cross_endian, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_busyloop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_vsock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iotlb_miss_v2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iotlb_miss_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iotlb_short_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iotlb_bad_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vdpa_create_sequence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vdpa_old_kernel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vdpa_mem_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vdpa_mem_nobatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vdpa_iova_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vdpa_status_start_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vdpa_features_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vdpa_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_transport, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
