// SPDX-License-Identifier: BSD-3-Clause
/*
 * vhctl probe, kernel devices: what the vhost-kernel (/dev/vhost-net, -vsock, -scsi) and
 * vhost-vdpa (/dev/vhost-vdpa-N) transports learnt at open: the device, its backend features,
 * the vdpa queries and the config space (virtio-blk fields for a vdpa block device, raw bytes
 * for others; vhost-kernel devices have none).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <linux/vhost_types.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>

#include <vhost/frontend.h>
#include <vhost/kernel.h>

#include "vhctl.h"

#define PROBE_RAW_MAX 256 /* config bytes the frontend reads in one request */

static const char *device_name(uint32_t id)
{
	switch (id) {
	case VIRTIO_ID_NET:
		return "net";
	case VIRTIO_ID_BLOCK:
		return "block";
	case VIRTIO_ID_SCSI:
		return "scsi";
	case VIRTIO_ID_VSOCK:
		return "vsock";
	case VIRTIO_ID_FS:
		return "fs";
	default:
		return "unknown";
	}
}

static const char *backend_name(unsigned bit)
{
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

static void print_backend_bits(bool json, uint64_t v)
{
	bool first = true;

	if (json)
		printf("  \"backend_features\": \"0x%016llx\",\n  \"backend_features_names\": [",
		       (unsigned long long)v);
	else
		printf("backend features: 0x%016llx\n", (unsigned long long)v);
	for (unsigned bit = 0; bit < 64; bit++) {
		const char *n = backend_name(bit);
		char buf[16];

		if (!(v & (1ull << bit)))
			continue;
		if (!n) {
			snprintf(buf, sizeof(buf), "bit %u", bit);
			n = buf;
		}
		if (json)
			printf("%s\"%s\"", first ? "" : ", ", n);
		else
			printf("  %2u %s\n", bit, n);
		first = false;
	}
	if (json)
		printf("],\n");
}

/* vdpa block: the same prefixes the vhost-user probe tries (older devices have less). */
static void read_blk_config(struct vh_dev *dev, const struct vh_dev_ioctl_info *ii,
			    struct virtio_blk_config *cfg, uint32_t *len)
{
	static const uint32_t lens[] = {
		offsetof(struct virtio_blk_config, max_secure_erase_sectors),
		offsetof(struct virtio_blk_config, max_discard_sectors),
		offsetof(struct virtio_blk_config, blk_size) + 4,
	};

	for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		if (ii->config_size && lens[i] > ii->config_size)
			continue;
		memset(cfg, 0, sizeof(*cfg));
		if (vh_dev_get_config(dev, 0, cfg, lens[i]) >= 0) {
			*len = lens[i];
			return;
		}
	}
}

static void print_raw_config(struct vh_dev *dev, const struct vh_dev_ioctl_info *ii, bool json)
{
	uint8_t buf[PROBE_RAW_MAX];
	uint32_t n = ii->config_size < PROBE_RAW_MAX ? ii->config_size : PROBE_RAW_MAX;

	if (!n || vh_dev_get_config(dev, 0, buf, n) < 0)
		n = 0;
	if (json) {
		printf("  \"config_hex\": \"");
		for (uint32_t i = 0; i < n; i++)
			printf("%02x", buf[i]);
		printf("\",\n");
		return;
	}
	if (!n) {
		printf("config: %s\n", ii->vdpa ? "not readable" : "none (vhost-kernel device)");
		return;
	}
	printf("config (%s, %u bytes):", device_name(ii->device_id), n);
	for (uint32_t i = 0; i < n; i++)
		printf("%s%02x", i % 16 ? " " : "\n  ", buf[i]);
	printf("\n");
}

static void print_vdpa(const struct vh_dev_ioctl_info *ii, bool json)
{
	if (json) {
		printf("  \"config_size\": %u,\n  \"vqs_count\": %u,\n  \"vring_num_max\": %u,\n"
		       "  \"group_num\": %u,\n  \"as_num\": %u,\n  \"iova_first\": \"0x%llx\",\n"
		       "  \"iova_last\": \"0x%llx\",\n",
		       ii->config_size, ii->vqs_count, ii->vring_num_max, ii->group_num, ii->as_num,
		       (unsigned long long)ii->iova_first, (unsigned long long)ii->iova_last);
		return;
	}
	printf("vdpa: config %u bytes, %u virtqueues, ring size <= %u, %u groups, %u address "
	       "spaces, iova 0x%llx-0x%llx\n",
	       ii->config_size, ii->vqs_count, ii->vring_num_max, ii->group_num, ii->as_num,
	       (unsigned long long)ii->iova_first, (unsigned long long)ii->iova_last);
}

bool vhctl_probe_ioctl(struct vh_dev *dev, bool json, struct virtio_blk_config *cfg,
		       uint32_t *cfg_len)
{
	struct vh_dev_ioctl_info ii;

	if (vh_dev_ioctl_info(dev, &ii) < 0)
		return false;
	if (json)
		printf("  \"transport\": \"%s\",\n  \"device_id\": %u,\n  \"device\": \"%s\",\n",
		       ii.vdpa ? "vhost-vdpa" : "vhost-kernel", ii.device_id,
		       device_name(ii.device_id));
	else
		printf("transport: %s\ndevice: %s (virtio id %u)\n",
		       ii.vdpa ? "vhost-vdpa" : "vhost-kernel", device_name(ii.device_id),
		       ii.device_id);
	print_backend_bits(json, ii.backend_features);
	if (json)
		printf("  \"backend_features_acked\": \"0x%016llx\",\n  \"max_mem_regions\": %u,\n",
		       (unsigned long long)ii.backend_features_acked, ii.max_mem_regions);
	else
		printf("backend features acked: 0x%016llx\nmax mem regions: %u\n",
		       (unsigned long long)ii.backend_features_acked, ii.max_mem_regions);
	if (ii.vdpa)
		print_vdpa(&ii, json);
	if (ii.vdpa && ii.device_id == VIRTIO_ID_BLOCK)
		read_blk_config(dev, &ii, cfg, cfg_len);
	if (!*cfg_len) /* the blk report prints a block config; the rest as bytes */
		print_raw_config(dev, &ii, json);
	return true;
}
