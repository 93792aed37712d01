/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared by the ioctl transport tests (tests/unit/fake_ioctl.h) and the IOTLB fuzz harness
 * (fuzz/fuzz_iotlb.c), so no cmocka: what a fake vhost / vhost-vdpa kernel answers to the
 * ioctls of lib/frontend/transport_ioctl.c through struct vh_ioctl_sys. The GET requests read
 * the fields, the vdpa status byte is kept, and the backend features the frontend acks are
 * remembered. Recording calls and failing requests is the caller's business.
 */
#ifndef VH_TEST_FAKE_KERNEL_H
#define VH_TEST_FAKE_KERNEL_H

#include <stdint.h>
#include <string.h>

#include <linux/vhost.h>

#define VH_FAKE_DEV_FD	 100
#define VH_FAKE_SYSFS_FD 101

struct vh_fake_kernel {
	uint64_t features;
	uint64_t backend;	/* offered by VHOST_GET_BACKEND_FEATURES */
	uint64_t backend_acked; /* the last VHOST_SET_BACKEND_FEATURES */
	uint8_t status;
	uint8_t refuse; /* status bits the device clears (a device refusing FEATURES_OK) */
	uint32_t device_id, config_size, vqs;
	uint32_t groups, ases; /* VHOST_VDPA_GET_GROUP_NUM / GET_AS_NUM answers */
	uint16_t base;
	uint64_t iova_last;
};

/* The fd an open() of @path gets: the sysfs limit file, or the device. */
static inline int vh_fake_kernel_open_fd(const char *path)
{
	return strncmp(path, "/sys/", 5) == 0 ? VH_FAKE_SYSFS_FD : VH_FAKE_DEV_FD;
}

static inline void vh_fake_kernel_answer(struct vh_fake_kernel *k, unsigned long req, void *arg)
{
	struct vhost_vdpa_config *c = arg;

	switch (req) {
	case VHOST_GET_FEATURES:
		*(uint64_t *)arg = k->features;
		break;
	case VHOST_GET_BACKEND_FEATURES:
		*(uint64_t *)arg = k->backend;
		break;
	case VHOST_SET_BACKEND_FEATURES:
		k->backend_acked = *(uint64_t *)arg;
		break;
	case VHOST_VDPA_GET_STATUS:
		*(uint8_t *)arg = k->status;
		break;
	case VHOST_VDPA_SET_STATUS:
		k->status = *(uint8_t *)arg & (uint8_t)~k->refuse;
		break;
	case VHOST_VDPA_GET_DEVICE_ID:
		*(uint32_t *)arg = k->device_id;
		break;
	case VHOST_VDPA_GET_CONFIG_SIZE:
		*(uint32_t *)arg = k->config_size;
		break;
	case VHOST_VDPA_GET_VQS_COUNT:
		*(uint32_t *)arg = k->vqs;
		break;
	case VHOST_VDPA_GET_GROUP_NUM:
		*(uint32_t *)arg = k->groups;
		break;
	case VHOST_VDPA_GET_AS_NUM:
		*(uint32_t *)arg = k->ases;
		break;
	case VHOST_VDPA_GET_VRING_NUM:
		*(uint16_t *)arg = 256;
		break;
	case VHOST_GET_VRING_BASE:
		((struct vhost_vring_state *)arg)->num = k->base;
		break;
	case VHOST_VDPA_GET_IOVA_RANGE:
		((struct vhost_vdpa_iova_range *)arg)->first = 0;
		((struct vhost_vdpa_iova_range *)arg)->last = k->iova_last;
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

#endif
