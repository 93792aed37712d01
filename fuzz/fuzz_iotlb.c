// SPDX-License-Identifier: BSD-3-Clause
/*
 * The IOTLB messages a vhost-kernel or vhost-vdpa device hands the frontend on its fd
 * (lib/frontend/transport_ioctl.c: struct vhost_msg_v2, or struct vhost_msg without
 * VHOST_BACKEND_F_IOTLB_MSG_V2), read through a fake kernel (struct vh_ioctl_sys) whose reads
 * return the fuzz input: misses, invalidations, access failures, unknown types, short and long
 * reads, read errors.
 *
 * Input: byte 0: vdpa (bit 0) or /dev/vhost-net, IOTLB_MSG_V2 offered (bit 1), IOTLB_BATCH
 * offered (bit 2). Then reads: [length byte][that many bytes] each (length 255: the read fails
 * with EIO); after the last one reads return EAGAIN.
 * Checks: every message the frontend writes back is a whole UPDATE or INVALIDATE in the acked
 * format for an IOVA the translate callback mapped, with permissions within read/write; a
 * device marked broken stays broken; no crash, no sanitizer report.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>

#include <vhost/frontend.h>

#include "frontend/dev_internal.h"
#include "../tests/common/vh_fake_kernel.h"
#include "frontend/ioctl.h"

#define MAP_END 0x100000ull /* the translate callback maps IOVA [0, MAP_END) */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_kernel {
	const uint8_t *in;
	size_t left;
	struct vh_fake_kernel k;
};

static int fk_open(void *ctx, const char *path, int flags)
{
	(void)ctx;
	(void)flags;
	return vh_fake_kernel_open_fd(path);
}

static int fk_close(void *ctx, int fd)
{
	(void)ctx;
	(void)fd;
	return 0;
}

static int fk_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	(void)fd;
	vh_fake_kernel_answer(&((struct fz_kernel *)ctx)->k, req, arg);
	return 0;
}

static ssize_t fk_read(void *ctx, int fd, void *buf, size_t len)
{
	struct fz_kernel *k = ctx;
	size_t n;

	if (fd == VH_FAKE_SYSFS_FD) {
		n = len < 3 ? len : 3;
		memcpy(buf, "64\n", n);
		return (ssize_t)n;
	}
	if (!k->left)
		return -EAGAIN;
	n = k->in[0];
	k->in++;
	k->left--;
	if (n == 255)
		return -EIO;
	n = n < k->left ? n : k->left;
	/* A read returns at most what was asked for; the rest of the record is lost, as the
	 * kernel drops what does not fit. */
	memcpy(buf, k->in, n < len ? n : len);
	k->in += n;
	k->left -= n;
	return (ssize_t)(n < len ? n : len);
}

/* What the frontend writes to the device fd must be a sane, whole message. */
static ssize_t fk_write(void *ctx, int fd, const void *buf, size_t len)
{
	struct fz_kernel *k = ctx;
	struct vhost_msg_v2 v2;
	struct vhost_msg v1;
	struct vhost_iotlb_msg m;

	if (fd != VH_FAKE_DEV_FD)
		__builtin_trap();
	/* the frontend writes what it acked (VHOST_SET_BACKEND_FEATURES) */
	if (k->k.backend_acked & (1ull << VHOST_BACKEND_F_IOTLB_MSG_V2)) {
		if (len != sizeof(v2))
			__builtin_trap();
		memcpy(&v2, buf, sizeof(v2));
		if (v2.type != VHOST_IOTLB_MSG_V2)
			__builtin_trap();
		m = v2.iotlb;
	} else {
		if (len != sizeof(v1))
			__builtin_trap();
		memcpy(&v1, buf, sizeof(v1));
		if (v1.type != VHOST_IOTLB_MSG)
			__builtin_trap();
		m = v1.iotlb;
	}
	if (m.type == VHOST_IOTLB_UPDATE &&
	    (m.iova >= MAP_END || !m.size || !m.perm || (m.perm & ~VHOST_ACCESS_RW)))
		__builtin_trap();
	if (m.type != VHOST_IOTLB_UPDATE && m.type != VHOST_IOTLB_INVALIDATE &&
	    m.type != VHOST_IOTLB_BATCH_BEGIN && m.type != VHOST_IOTLB_BATCH_END)
		__builtin_trap();
	return (ssize_t)len;
}

static void quiet(void *opaque, enum vh_log_level level, const char *msg)
{
	(void)opaque;
	(void)level;
	if (getenv("FUZZ_IOTLB_LOG"))
		fprintf(stderr, "%s\n", msg);
}

static int translate(void *opaque, uint64_t iova, int perm, uint64_t *uva, uint64_t *size)
{
	(void)opaque;
	(void)perm;
	if (iova >= MAP_END)
		return -EFAULT;
	*uva = 0x7f0000000000ull + (iova & ~0xfffull);
	*size = 0x1000;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_kernel k = { 0 };
	struct vh_ioctl_sys sys = { fk_open, fk_close, fk_ioctl, fk_read, fk_write, &k };
	struct vh_dev_config cfg = { 0 };
	struct vh_dev *dev = NULL;
	int r = 0;

	if (size < 1)
		return 0;
	k.in = data + 1;
	k.left = size - 1;
	k.k = (struct vh_fake_kernel){
		.features = 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_ACCESS_PLATFORM,
		.device_id = VIRTIO_ID_NET,
		.config_size = 12,
		.vqs = 2,
		.groups = 1,
		.ases = 1,
		.iova_last = UINT64_MAX,
	};
	if (data[0] & 2)
		k.k.backend |= 1ull << VHOST_BACKEND_F_IOTLB_MSG_V2;
	if (data[0] & 4)
		k.k.backend |= 1ull << VHOST_BACKEND_F_IOTLB_BATCH;
	cfg.path = data[0] & 1 ? "/dev/vhost-vdpa-0" : "/dev/vhost-net";
	cfg.name = "fuzz";
	cfg.num_queues = 2;
	cfg.features = 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_ACCESS_PLATFORM;
	cfg.iotlb_translate = translate;
	cfg.log = (struct vh_log_sink){ .fn = quiet, .max_level = VH_LOG_DEBUG };
	if (vh_dev_create_sys(&cfg, &sys, &dev) < 0)
		return 0;
	if (vh_dev_ack_features(dev, 1ull << VIRTIO_F_VERSION_1 |
					 1ull << VIRTIO_F_ACCESS_PLATFORM) == 0) {
		for (int i = 0; i < 8 && k.left; i++) {
			r = vh_dev_dispatch(dev);
			if (r == -EPROTO)
				break;
		}
		/* -EPROTO is sticky: the device stays broken for every later call. */
		if (r == -EPROTO &&
		    (vh_dev_dispatch(dev) != -EPROTO || vh_dev_iotlb_invalidate(dev, 0, 4096) >= 0))
			__builtin_trap();
		(void)vh_dev_iotlb_invalidate(dev, 0x1000, 0x1000);
	}
	vh_dev_destroy(&dev);
	return 0;
}
