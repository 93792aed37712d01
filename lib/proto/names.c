/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Names of vhost-user requests, protocol features, virtio device types and virtio feature bits
 * (device-independent and per device type); the vhost-user ones are generated from the same
 * X-macro tables as the enums in <vhost/proto.h>.
 */
#include <string.h>

#include <linux/vhost_types.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_console.h>
#include <linux/virtio_gpu.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_scsi.h>

#include <vhost/proto.h>

#include "util/util.h"

#define VH_NAME_REQ_(name, num)	  [VH_USER_##name] = "VHOST_USER_" #name,
#define VH_NAME_BREQ_(name, num)  [VH_USER_BACKEND_##name] = "VHOST_USER_BACKEND_" #name,
#define VH_NAME_PFEAT_(name, num) [VH_USER_PROTOCOL_F_##name] = "VHOST_USER_PROTOCOL_F_" #name,

static const char *const vh_request_names[] = { VH_USER_REQUESTS(VH_NAME_REQ_) };
static const char *const vh_backend_request_names[] = { VH_USER_BACKEND_REQUESTS(VH_NAME_BREQ_) };
static const char *const vh_protocol_feature_names[] = { VH_USER_PROTOCOL_FEATURES(
    VH_NAME_PFEAT_) };

_Static_assert(VH_ARRAY_SIZE(vh_request_names) == VH_USER_REQUEST_MAX, "one name per request");
_Static_assert(VH_ARRAY_SIZE(vh_backend_request_names) == VH_USER_BACKEND_REQUEST_MAX,
	       "one name per back-end request");
_Static_assert(VH_ARRAY_SIZE(vh_protocol_feature_names) == VH_USER_PROTOCOL_F_MAX,
	       "one name per protocol feature");

/*
 * Device-independent feature bits (virtio 1.2 §6 "Reserved Feature Bits") plus the
 * vhost ones. The numbers come from the system headers; bits a given kernel header
 * does not define yet are left out rather than re-declared.
 */
#define VH_VIRTIO_FEATURES(X)          \
	X(VIRTIO_F_NOTIFY_ON_EMPTY)    \
	X(VHOST_F_LOG_ALL)             \
	X(VIRTIO_F_ANY_LAYOUT)         \
	X(VIRTIO_RING_F_INDIRECT_DESC) \
	X(VIRTIO_RING_F_EVENT_IDX)     \
	X(VIRTIO_F_VERSION_1)          \
	X(VIRTIO_F_ACCESS_PLATFORM)    \
	X(VIRTIO_F_RING_PACKED)        \
	X(VIRTIO_F_IN_ORDER)           \
	X(VIRTIO_F_ORDER_PLATFORM)     \
	X(VIRTIO_F_SR_IOV)             \
	X(VIRTIO_F_RING_RESET)

#define VH_NAME_VFEAT_(name) [name] = #name,

static const char *const vh_virtio_feature_names[64] = {
	[VH_USER_F_PROTOCOL_FEATURES] = "VHOST_USER_F_PROTOCOL_FEATURES",
	VH_VIRTIO_FEATURES(VH_NAME_VFEAT_)
#ifdef VIRTIO_F_NOTIFICATION_DATA
	    [VIRTIO_F_NOTIFICATION_DATA] = "VIRTIO_F_NOTIFICATION_DATA",
#endif
#ifdef VIRTIO_F_NOTIF_CONFIG_DATA
	[VIRTIO_F_NOTIF_CONFIG_DATA] = "VIRTIO_F_NOTIF_CONFIG_DATA",
#endif
#ifdef VIRTIO_F_ADMIN_VQ
	[VIRTIO_F_ADMIN_VQ] = "VIRTIO_F_ADMIN_VQ",
#endif
};

const char *vh_proto_request_name(uint32_t request)
{
	if (request < VH_ARRAY_SIZE(vh_request_names) && vh_request_names[request])
		return vh_request_names[request];
	return "VHOST_USER_UNKNOWN";
}

const char *vh_proto_backend_request_name(uint32_t request)
{
	if (request < VH_ARRAY_SIZE(vh_backend_request_names) && vh_backend_request_names[request])
		return vh_backend_request_names[request];
	return "VHOST_USER_BACKEND_UNKNOWN";
}

const char *vh_proto_feature_name(unsigned bit)
{
	if (bit < VH_ARRAY_SIZE(vh_protocol_feature_names) && vh_protocol_feature_names[bit])
		return vh_protocol_feature_names[bit];
	return "VHOST_USER_PROTOCOL_F_UNKNOWN";
}

const char *vh_proto_virtio_feature_name(unsigned bit)
{
	if (bit < VH_ARRAY_SIZE(vh_virtio_feature_names))
		return vh_virtio_feature_names[bit];
	return NULL;
}

/*
 * Device types (virtio 1.2 §5 "Device Types", numbers from <linux/virtio_ids.h>): the short
 * names QEMU and the backend program conventions use ("vhost-user-blk" is type "blk").
 */
static const char *const vh_device_names[] = {
	[VIRTIO_ID_NET] = "net",	 [VIRTIO_ID_BLOCK] = "blk",
	[VIRTIO_ID_CONSOLE] = "console", [VIRTIO_ID_RNG] = "rng",
	[VIRTIO_ID_BALLOON] = "balloon", [VIRTIO_ID_SCSI] = "scsi",
	[VIRTIO_ID_9P] = "9p",		 [VIRTIO_ID_GPU] = "gpu",
	[VIRTIO_ID_INPUT] = "input",	 [VIRTIO_ID_VSOCK] = "vsock",
	[VIRTIO_ID_CRYPTO] = "crypto",	 [VIRTIO_ID_IOMMU] = "iommu",
	[VIRTIO_ID_MEM] = "mem",	 [VIRTIO_ID_SOUND] = "sound",
	[VIRTIO_ID_FS] = "fs",		 [VIRTIO_ID_PMEM] = "pmem",
	[VIRTIO_ID_RPMB] = "rpmb",	 [VIRTIO_ID_SCMI] = "scmi",
	[VIRTIO_ID_I2C_ADAPTER] = "i2c", [VIRTIO_ID_CAN] = "can",
	[VIRTIO_ID_GPIO] = "gpio",
};

#define VH_NAME_DFEAT_(name) [name] = #name,

/*
 * Device-specific feature bits (bits 0-23, and the net bits above 40). Numbers come from the
 * system headers; a few bits of the virtio 1.2/1.3 spec that <linux/virtio_*.h> of Debian 12
 * does not define are given by number with their spec section.
 */
#define VH_NET_FEATURES(X)                  \
	X(VIRTIO_NET_F_CSUM)                \
	X(VIRTIO_NET_F_GUEST_CSUM)          \
	X(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) \
	X(VIRTIO_NET_F_MTU)                 \
	X(VIRTIO_NET_F_MAC)                 \
	X(VIRTIO_NET_F_GSO)                 \
	X(VIRTIO_NET_F_GUEST_TSO4)          \
	X(VIRTIO_NET_F_GUEST_TSO6)          \
	X(VIRTIO_NET_F_GUEST_ECN)           \
	X(VIRTIO_NET_F_GUEST_UFO)           \
	X(VIRTIO_NET_F_HOST_TSO4)           \
	X(VIRTIO_NET_F_HOST_TSO6)           \
	X(VIRTIO_NET_F_HOST_ECN)            \
	X(VIRTIO_NET_F_HOST_UFO)            \
	X(VIRTIO_NET_F_MRG_RXBUF)           \
	X(VIRTIO_NET_F_STATUS)              \
	X(VIRTIO_NET_F_CTRL_VQ)             \
	X(VIRTIO_NET_F_CTRL_RX)             \
	X(VIRTIO_NET_F_CTRL_VLAN)           \
	X(VIRTIO_NET_F_CTRL_RX_EXTRA)       \
	X(VIRTIO_NET_F_GUEST_ANNOUNCE)      \
	X(VIRTIO_NET_F_MQ)                  \
	X(VIRTIO_NET_F_CTRL_MAC_ADDR)       \
	X(VIRTIO_NET_F_NOTF_COAL)           \
	X(VIRTIO_NET_F_HASH_REPORT)         \
	X(VIRTIO_NET_F_RSS)                 \
	X(VIRTIO_NET_F_RSC_EXT)             \
	X(VIRTIO_NET_F_STANDBY)             \
	X(VIRTIO_NET_F_SPEED_DUPLEX)

static const char *const vh_net_feature_names[64] = {
	VH_NET_FEATURES(VH_NAME_DFEAT_)
	    /* vhost-net (<linux/vhost_types.h>): the device takes the virtio-net header itself. */
	    [VHOST_NET_F_VIRTIO_NET_HDR] = "VHOST_NET_F_VIRTIO_NET_HDR",
	/* virtio 1.3 §5.1.3 */
	[52] = "VIRTIO_NET_F_VQ_NOTF_COAL",
	[54] = "VIRTIO_NET_F_GUEST_USO4",
	[55] = "VIRTIO_NET_F_GUEST_USO6",
	[56] = "VIRTIO_NET_F_HOST_USO",
	[59] = "VIRTIO_NET_F_GUEST_HDRLEN",
};

#define VH_BLK_FEATURES(X)           \
	X(VIRTIO_BLK_F_BARRIER)      \
	X(VIRTIO_BLK_F_SIZE_MAX)     \
	X(VIRTIO_BLK_F_SEG_MAX)      \
	X(VIRTIO_BLK_F_GEOMETRY)     \
	X(VIRTIO_BLK_F_RO)           \
	X(VIRTIO_BLK_F_BLK_SIZE)     \
	X(VIRTIO_BLK_F_SCSI)         \
	X(VIRTIO_BLK_F_FLUSH)        \
	X(VIRTIO_BLK_F_TOPOLOGY)     \
	X(VIRTIO_BLK_F_CONFIG_WCE)   \
	X(VIRTIO_BLK_F_MQ)           \
	X(VIRTIO_BLK_F_DISCARD)      \
	X(VIRTIO_BLK_F_WRITE_ZEROES) \
	X(VIRTIO_BLK_F_SECURE_ERASE)

static const char *const vh_blk_feature_names[24] = {
	VH_BLK_FEATURES(VH_NAME_DFEAT_)
	    /* virtio 1.2 §5.2.3 */
	    [15] = "VIRTIO_BLK_F_LIFETIME",
	[17] = "VIRTIO_BLK_F_ZONED",
};

static const char *const vh_console_feature_names[24] = {
	VH_NAME_DFEAT_(VIRTIO_CONSOLE_F_SIZE) VH_NAME_DFEAT_(VIRTIO_CONSOLE_F_MULTIPORT)
	    VH_NAME_DFEAT_(VIRTIO_CONSOLE_F_EMERG_WRITE)
};

static const char *const vh_scsi_feature_names[24] = { VH_NAME_DFEAT_(
    VIRTIO_SCSI_F_INOUT) VH_NAME_DFEAT_(VIRTIO_SCSI_F_HOTPLUG) VH_NAME_DFEAT_(VIRTIO_SCSI_F_CHANGE)
							   VH_NAME_DFEAT_(VIRTIO_SCSI_F_T10_PI) };

static const char *const vh_gpu_feature_names[24] = {
	VH_NAME_DFEAT_(VIRTIO_GPU_F_VIRGL) VH_NAME_DFEAT_(VIRTIO_GPU_F_EDID)
	    VH_NAME_DFEAT_(VIRTIO_GPU_F_RESOURCE_UUID) VH_NAME_DFEAT_(VIRTIO_GPU_F_RESOURCE_BLOB)
		VH_NAME_DFEAT_(VIRTIO_GPU_F_CONTEXT_INIT)
};

/* virtio 1.2 §5.10.3: only SEQPACKET is in <linux/virtio_vsock.h>. */
static const char *const vh_vsock_feature_names[24] = {
	[0] = "VIRTIO_VSOCK_F_STREAM",
	[1] = "VIRTIO_VSOCK_F_SEQPACKET",
};

/* virtio 1.2 §5.11.3 */
static const char *const vh_fs_feature_names[24] = {
	[0] = "VIRTIO_FS_F_NOTIFICATION",
};

struct vh_device_features {
	const char *const *names;
	unsigned n;
};

static struct vh_device_features vh_device_features(uint32_t device_id)
{
#define VH_DEV_FEATS_(t) ((struct vh_device_features){ t, VH_ARRAY_SIZE(t) })
	switch (device_id) {
	case VIRTIO_ID_NET:
		return VH_DEV_FEATS_(vh_net_feature_names);
	case VIRTIO_ID_BLOCK:
		return VH_DEV_FEATS_(vh_blk_feature_names);
	case VIRTIO_ID_CONSOLE:
		return VH_DEV_FEATS_(vh_console_feature_names);
	case VIRTIO_ID_SCSI:
		return VH_DEV_FEATS_(vh_scsi_feature_names);
	case VIRTIO_ID_GPU:
		return VH_DEV_FEATS_(vh_gpu_feature_names);
	case VIRTIO_ID_VSOCK:
		return VH_DEV_FEATS_(vh_vsock_feature_names);
	case VIRTIO_ID_FS:
		return VH_DEV_FEATS_(vh_fs_feature_names);
	default:
		return (struct vh_device_features){ NULL, 0 };
	}
#undef VH_DEV_FEATS_
}

const char *vh_proto_device_name(uint32_t device_id)
{
	if (device_id < VH_ARRAY_SIZE(vh_device_names))
		return vh_device_names[device_id];
	return NULL;
}

uint32_t vh_proto_device_id(const char *name)
{
	if (!name)
		return 0;
	for (uint32_t id = 1; id < VH_ARRAY_SIZE(vh_device_names); id++)
		if (vh_device_names[id] && !strcmp(vh_device_names[id], name))
			return id;
	return 0;
}

const char *vh_proto_device_feature_name(uint32_t device_id, unsigned bit)
{
	struct vh_device_features f = vh_device_features(device_id);

	if (bit < f.n && f.names[bit])
		return f.names[bit];
	return vh_proto_virtio_feature_name(bit);
}
