/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Names of vhost-user requests, protocol features and generic virtio feature bits,
 * generated from the same X-macro tables as the enums in <vhost/proto.h>.
 */
#include <linux/vhost_types.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

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
