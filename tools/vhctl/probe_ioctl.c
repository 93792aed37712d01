// SPDX-License-Identifier: BSD-3-Clause
/*
 * vhctl probe, kernel devices: what the vhost-kernel (/dev/vhost-net, -vsock, -scsi) and
 * vhost-vdpa (/dev/vhost-vdpa-N) transports learnt at open: its backend features, the vdpa
 * queries, and the config space as raw bytes for types probe.c does not decode (vhost-kernel
 * devices have none).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <linux/vhost_types.h>

#include <vhost/frontend.h>
#include <vhost/kernel.h>
#include <vhost/proto.h>

#include "vhctl.h"

#define PROBE_RAW_MAX 256 /* config bytes the frontend reads in one request */

static const char *backend_name(unsigned bit, const void *ctx)
{
	(void)ctx;
	switch (bit) {
	case VHOST_BACKEND_F_IOTLB_MSG_V2:
		return "IOTLB_MSG_V2";
	case VHOST_BACKEND_F_IOTLB_BATCH:
		return "IOTLB_BATCH";
	case VHOST_BACKEND_F_IOTLB_ASID:
		return "IOTLB_ASID";
	case VHOST_BACKEND_F_SUSPEND:
		return "SUSPEND";
	case 5:
		return "RESUME";
	case 6:
		return "ENABLE_AFTER_DRIVER_OK";
	case 7:
		return "DESC_ASID";
	case 8:
		return "IOTLB_PERSIST";
	default:
		return NULL;
	}
}

static void print_backend_bits(struct vhctl_json *j, uint64_t v)
{
	if (j)
		vhctl_json_hex(j, "backend_features", v);
	else
		printf("backend features: 0x%016llx\n", (unsigned long long)v);
	vhctl_print_bits(j, "backend_features_names", v, backend_name, NULL, false);
}

void vhctl_probe_raw_config(struct vh_dev *dev, const struct vh_dev_ioctl_info *ii,
			    struct vhctl_json *j)
{
	uint8_t buf[PROBE_RAW_MAX];
	uint32_t n = ii->config_size < PROBE_RAW_MAX ? ii->config_size : PROBE_RAW_MAX;
	const char *type = vh_proto_device_name(ii->device_id);

	if (!n || vh_dev_get_config(dev, 0, buf, n) < 0)
		n = 0;
	if (j) {
		char hex[2 * PROBE_RAW_MAX + 1];

		for (uint32_t i = 0; i < n; i++)
			snprintf(hex + 2 * i, 3, "%02x", buf[i]);
		hex[2 * n] = '\0';
		vhctl_json_u64(j, "config_bytes", n);
		vhctl_json_str(j, "config_hex", hex);
		return;
	}
	if (!n) {
		printf("config: %s\n", ii->vdpa ? "not readable" : "none (vhost-kernel device)");
		return;
	}
	printf("config (%s, %u bytes, not decoded):", type ? type : "unknown type", n);
	for (uint32_t i = 0; i < n; i++)
		printf("%s%02x", i % 16 ? " " : "\n  ", buf[i]);
	printf("\n");
}

static void print_vdpa(const struct vh_dev_ioctl_info *ii, struct vhctl_json *j)
{
	if (j) {
		vhctl_json_u64(j, "config_size", ii->config_size);
		vhctl_json_u64(j, "vqs_count", ii->vqs_count);
		vhctl_json_u64(j, "vring_num_max", ii->vring_num_max);
		vhctl_json_u64(j, "group_num", ii->group_num);
		vhctl_json_u64(j, "as_num", ii->as_num);
		vhctl_json_hex(j, "iova_first", ii->iova_first);
		vhctl_json_hex(j, "iova_last", ii->iova_last);
		return;
	}
	printf("vdpa: config %u bytes, %u virtqueues, ring size <= %u, %u groups, %u address "
	       "spaces, iova 0x%llx-0x%llx\n",
	       ii->config_size, ii->vqs_count, ii->vring_num_max, ii->group_num, ii->as_num,
	       (unsigned long long)ii->iova_first, (unsigned long long)ii->iova_last);
}

void vhctl_probe_ioctl(const struct vh_dev_ioctl_info *ii, struct vhctl_json *j)
{
	if (j)
		vhctl_json_str(j, "transport", ii->vdpa ? "vhost-vdpa" : "vhost-kernel");
	else
		printf("transport: %s\n", ii->vdpa ? "vhost-vdpa" : "vhost-kernel");
	print_backend_bits(j, ii->backend_features);
	if (j) {
		vhctl_json_hex(j, "backend_features_acked", ii->backend_features_acked);
		vhctl_json_u64(j, "max_mem_regions", ii->max_mem_regions);
	} else {
		printf("backend features acked: 0x%016llx\nmax mem regions: %u\n",
		       (unsigned long long)ii->backend_features_acked, ii->max_mem_regions);
	}
	if (ii->vdpa)
		print_vdpa(ii, j);
}
