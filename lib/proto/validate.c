/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Message validators: one table of designated initialisers per direction gives each
 * request's payload size rule, fd count rule and reply layout (vhost-user.rst
 * "Front-end message types" / "Back-end message types"). Everything is checked
 * against the bytes actually received; nothing past @size is ever read.
 */
#include <errno.h>
#include <string.h>

#include <vhost/proto.h>

#include "util/util.h"

enum vh_size_kind {
	VH_SIZE_UNSET = 0,	  /* no rule: unknown request / no specific reply layout */
	VH_SIZE_EXACT,		  /* size == min */
	VH_SIZE_RANGE,		  /* min <= size <= max */
	VH_SIZE_ZERO_OR_EXACT,	  /* size == 0 or size == min */
	VH_SIZE_MEM_TABLE,	  /* 8 + nregions * 32, nregions <= 8 */
	VH_SIZE_MEM_TABLE_OR_U64, /* either of the two (SET_MEM_TABLE reply) */
	VH_SIZE_U64_OR_EXACT,	  /* size == 8 or size == min (ADD_MEM_REG reply) */
	VH_SIZE_CONFIG,		  /* 12 + config.size, config.size <= 256 */
	VH_SIZE_CONFIG_OR_ZERO,	  /* VH_SIZE_CONFIG, or 0: a back-end's failed GET_CONFIG */
};

enum vh_fd_kind {
	VH_FDS_NONE = 0,  /* no fds */
	VH_FDS_EXACT,	  /* exactly n */
	VH_FDS_UP_TO,	  /* 0..n */
	VH_FDS_NOFD_BIT,  /* u64 at offset 0: bit 8 set -> 0 fds, clear -> 1 fd */
	VH_FDS_MEM_TABLE, /* one per region: nfds == nregions */
};

struct vh_msg_rule {
	uint8_t size_kind; /* enum vh_size_kind */
	uint8_t fd_kind;   /* enum vh_fd_kind */
	uint8_t nfds;
	uint16_t min;
	uint16_t max;
};

struct vh_request_rule {
	struct vh_msg_rule req;
	struct vh_msg_rule reply; /* UNSET: only the REPLY_ACK u64, and only with NEED_REPLY */
	bool always_reply;	  /* the reply is part of the request, NEED_REPLY or not */
};

#define VH_RULE_EXACT(n)                                           \
	{                                                          \
		.size_kind = VH_SIZE_EXACT, .min = (n), .max = (n) \
	}
#define VH_RULE_EXACT_FDS(n, fdk, f)                                                              \
	{                                                                                         \
		.size_kind = VH_SIZE_EXACT, .min = (n), .max = (n), .fd_kind = (fdk), .nfds = (f) \
	}
#define VH_RULE_NONE   VH_RULE_EXACT(0)
#define VH_RULE_U64    VH_RULE_EXACT(8)

#define VH_STATE_SIZE  ((uint16_t)sizeof(struct vhost_vring_state))
#define VH_ADDR_SIZE   ((uint16_t)sizeof(struct vhost_vring_addr))
#define VH_IOTLB_SIZE  ((uint16_t)sizeof(struct vhost_iotlb_msg))
#define VH_MEMREG_SIZE ((uint16_t)sizeof(struct vh_user_mem_reg))
#define VH_LOG_SIZE    ((uint16_t)sizeof(struct vh_user_log))
#define VH_AREA_SIZE   ((uint16_t)sizeof(struct vh_user_vring_area))
#define VH_INFL_SIZE   ((uint16_t)sizeof(struct vh_user_inflight))
#define VH_DSTATE_SIZE ((uint16_t)sizeof(struct vh_user_device_state))
#define VH_OBJ_SIZE    ((uint16_t)sizeof(struct vh_user_shared_object))
#define VH_SHMAP_SIZE  ((uint16_t)sizeof(struct vh_user_shmem_map))
#define VH_SHCFG_SIZE  ((uint16_t)sizeof(struct vh_user_shmem_config))

static const struct vh_msg_rule vh_rule_ack = VH_RULE_U64;

/* Front-end -> back-end. */
static const struct vh_request_rule vh_request_rules[VH_USER_REQUEST_MAX] = {
	[VH_USER_GET_FEATURES] = { VH_RULE_NONE, VH_RULE_U64, true },
	[VH_USER_SET_FEATURES] = { .req = VH_RULE_U64 },
	[VH_USER_SET_OWNER] = { .req = VH_RULE_NONE },
	[VH_USER_RESET_OWNER] = { .req = VH_RULE_NONE },
	/* A postcopy back-end answers with its own table (vhost-user.rst "Migration"). */
	[VH_USER_SET_MEM_TABLE] = { { .size_kind = VH_SIZE_MEM_TABLE, .fd_kind = VH_FDS_MEM_TABLE },
				    { .size_kind = VH_SIZE_MEM_TABLE_OR_U64 },
				    false },
	/* The reply is empty in DPDK and a u64 in libvhost-user: both are in use. */
	[VH_USER_SET_LOG_BASE] = { VH_RULE_EXACT_FDS(VH_LOG_SIZE, VH_FDS_EXACT, 1),
				   { .size_kind = VH_SIZE_ZERO_OR_EXACT, .min = 8 },
				   true },
	[VH_USER_SET_LOG_FD] = { .req = VH_RULE_EXACT_FDS(0, VH_FDS_EXACT, 1) },
	[VH_USER_SET_VRING_NUM] = { .req = VH_RULE_EXACT(VH_STATE_SIZE) },
	[VH_USER_SET_VRING_ADDR] = { .req = VH_RULE_EXACT(VH_ADDR_SIZE) },
	[VH_USER_SET_VRING_BASE] = { .req = VH_RULE_EXACT(VH_STATE_SIZE) },
	[VH_USER_GET_VRING_BASE] = { VH_RULE_EXACT(VH_STATE_SIZE), VH_RULE_EXACT(VH_STATE_SIZE),
				     true },
	[VH_USER_SET_VRING_KICK] = { .req = VH_RULE_EXACT_FDS(8, VH_FDS_NOFD_BIT, 1) },
	[VH_USER_SET_VRING_CALL] = { .req = VH_RULE_EXACT_FDS(8, VH_FDS_NOFD_BIT, 1) },
	[VH_USER_SET_VRING_ERR] = { .req = VH_RULE_EXACT_FDS(8, VH_FDS_NOFD_BIT, 1) },
	[VH_USER_GET_PROTOCOL_FEATURES] = { VH_RULE_NONE, VH_RULE_U64, true },
	[VH_USER_SET_PROTOCOL_FEATURES] = { .req = VH_RULE_U64 },
	[VH_USER_GET_QUEUE_NUM] = { VH_RULE_NONE, VH_RULE_U64, true },
	[VH_USER_SET_VRING_ENABLE] = { .req = VH_RULE_EXACT(VH_STATE_SIZE) },
	[VH_USER_SEND_RARP] = { .req = VH_RULE_U64 },
	[VH_USER_NET_SET_MTU] = { .req = VH_RULE_U64 },
	[VH_USER_SET_BACKEND_REQ_FD] = { .req = VH_RULE_EXACT_FDS(0, VH_FDS_EXACT, 1) },
	[VH_USER_IOTLB_MSG] = { .req = VH_RULE_EXACT(VH_IOTLB_SIZE) },
	[VH_USER_SET_VRING_ENDIAN] = { .req = VH_RULE_EXACT(VH_STATE_SIZE) },
	/* libvhost-user (qemu-storage-daemon) answers a GET_CONFIG it cannot serve with no payload. */
	[VH_USER_GET_CONFIG] = { { .size_kind = VH_SIZE_CONFIG },
				 { .size_kind = VH_SIZE_CONFIG_OR_ZERO },
				 true },
	[VH_USER_SET_CONFIG] = { .req = { .size_kind = VH_SIZE_CONFIG } },
	[VH_USER_CREATE_CRYPTO_SESSION] = { { .size_kind = VH_SIZE_RANGE,
					      .min = VH_USER_CRYPTO_SESSION_MIN_SIZE,
					      .max = VH_USER_MAX_PAYLOAD },
					    { .size_kind = VH_SIZE_RANGE,
					      .min = VH_USER_CRYPTO_SESSION_MIN_SIZE,
					      .max = VH_USER_MAX_PAYLOAD },
					    true },
	[VH_USER_CLOSE_CRYPTO_SESSION] = { .req = VH_RULE_U64 },
	/* The reply carries the userfaultfd and no payload; no fd is a back-end that failed. */
	[VH_USER_POSTCOPY_ADVISE] = { VH_RULE_NONE, VH_RULE_EXACT_FDS(0, VH_FDS_UP_TO, 1), true },
	[VH_USER_POSTCOPY_LISTEN] = { .req = VH_RULE_NONE },
	[VH_USER_POSTCOPY_END] = { VH_RULE_NONE, VH_RULE_U64, true },
	/* The back-end sends no fd when it has no inflight area (mmap_size 0). */
	[VH_USER_GET_INFLIGHT_FD] = { VH_RULE_EXACT(VH_INFL_SIZE),
				      VH_RULE_EXACT_FDS(VH_INFL_SIZE, VH_FDS_UP_TO, 1), true },
	[VH_USER_SET_INFLIGHT_FD] = { .req = VH_RULE_EXACT_FDS(VH_INFL_SIZE, VH_FDS_EXACT, 1) },
	[VH_USER_GPU_SET_SOCKET] = { .req = VH_RULE_EXACT_FDS(0, VH_FDS_EXACT, 1) },
	[VH_USER_RESET_DEVICE] = { .req = VH_RULE_NONE },
	[VH_USER_VRING_KICK] = { .req = VH_RULE_EXACT(VH_STATE_SIZE) },
	[VH_USER_GET_MAX_MEM_SLOTS] = { VH_RULE_NONE, VH_RULE_U64, true },
	/* As SET_MEM_TABLE: a postcopy back-end answers with the region at its own address. */
	[VH_USER_ADD_MEM_REG] = { VH_RULE_EXACT_FDS(VH_MEMREG_SIZE, VH_FDS_EXACT, 1),
				  { .size_kind = VH_SIZE_U64_OR_EXACT, .min = VH_MEMREG_SIZE },
				  false },
	/* vhost-user.rst: no fd SHOULD be sent, but the back-end MAY accept (and close) one. */
	[VH_USER_REM_MEM_REG] = { .req = VH_RULE_EXACT_FDS(VH_MEMREG_SIZE, VH_FDS_UP_TO, 1) },
	[VH_USER_SET_STATUS] = { .req = VH_RULE_U64 },
	[VH_USER_GET_STATUS] = { VH_RULE_NONE, VH_RULE_U64, true },
	/* Reply: the dmabuf fd, absent on failure; payload empty or a u64 result. */
	[VH_USER_GET_SHARED_OBJECT] = { VH_RULE_EXACT(VH_OBJ_SIZE),
					{ .size_kind = VH_SIZE_ZERO_OR_EXACT,
					  .min = 8,
					  .fd_kind = VH_FDS_UP_TO,
					  .nfds = 1 },
					true },
	/* Reply u64: bits 0-7 result, bit 8 set when no fd comes back. */
	[VH_USER_SET_DEVICE_STATE_FD] = { VH_RULE_EXACT_FDS(VH_DSTATE_SIZE, VH_FDS_EXACT, 1),
					  VH_RULE_EXACT_FDS(8, VH_FDS_NOFD_BIT, 1), true },
	[VH_USER_CHECK_DEVICE_STATE] = { VH_RULE_NONE, VH_RULE_U64, true },
	[VH_USER_GET_SHMEM_CONFIG] = { VH_RULE_NONE, VH_RULE_EXACT(VH_SHCFG_SIZE), true },
};

/* Back-end -> front-end, on the back-end channel. */
static const struct vh_request_rule vh_backend_rules[VH_USER_BACKEND_REQUEST_MAX] = {
	[VH_USER_BACKEND_IOTLB_MSG] = { .req = VH_RULE_EXACT(VH_IOTLB_SIZE) },
	[VH_USER_BACKEND_CONFIG_CHANGE_MSG] = { .req = VH_RULE_NONE },
	[VH_USER_BACKEND_VRING_HOST_NOTIFIER_MSG] = { .req = VH_RULE_EXACT_FDS(
							  VH_AREA_SIZE, VH_FDS_NOFD_BIT, 1) },
	[VH_USER_BACKEND_VRING_CALL] = { .req = VH_RULE_EXACT(VH_STATE_SIZE) },
	[VH_USER_BACKEND_VRING_ERR] = { .req = VH_RULE_EXACT(VH_STATE_SIZE) },
	[VH_USER_BACKEND_SHARED_OBJECT_ADD] = { .req = VH_RULE_EXACT(VH_OBJ_SIZE) },
	[VH_USER_BACKEND_SHARED_OBJECT_REMOVE] = { .req = VH_RULE_EXACT(VH_OBJ_SIZE) },
	/* Reply: u64 result and, on success, the object's fd. */
	[VH_USER_BACKEND_SHARED_OBJECT_LOOKUP] = { VH_RULE_EXACT(VH_OBJ_SIZE),
						   VH_RULE_EXACT_FDS(8, VH_FDS_UP_TO, 1), true },
	[VH_USER_BACKEND_SHMEM_MAP] = { .req = VH_RULE_EXACT_FDS(VH_SHMAP_SIZE, VH_FDS_EXACT, 1) },
	[VH_USER_BACKEND_SHMEM_UNMAP] = { .req = VH_RULE_EXACT(VH_SHMAP_SIZE) },
};

_Static_assert(VH_ARRAY_SIZE(vh_request_rules) == VH_USER_REQUEST_MAX, "one rule per request");
_Static_assert(VH_ARRAY_SIZE(vh_backend_rules) == VH_USER_BACKEND_REQUEST_MAX,
	       "one rule per back-end request");
_Static_assert(VH_USER_MAX_PAYLOAD <= UINT16_MAX, "rule sizes are 16 bit");

/* Rule for a known request, NULL otherwise. */
static const struct vh_request_rule *vh_rule_lookup(bool backend_channel, uint32_t request)
{
	const struct vh_request_rule *r;

	if (backend_channel) {
		if (request >= VH_ARRAY_SIZE(vh_backend_rules))
			return NULL;
		r = &vh_backend_rules[request];
	} else {
		if (request >= VH_ARRAY_SIZE(vh_request_rules))
			return NULL;
		r = &vh_request_rules[request];
	}
	return r->req.size_kind == VH_SIZE_UNSET ? NULL : r;
}

static uint32_t vh_load_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t vh_load_u64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* SET_MEM_TABLE: "num regions" then exactly that many 32-byte regions, at most 8. */
static bool vh_mem_table_size_ok(const uint8_t *p, size_t size)
{
	uint32_t n;

	if (size < VH_USER_MEM_TABLE_HDR_SIZE)
		return false;
	n = vh_load_u32(p);
	if (n > VH_USER_MEM_MAX_REGIONS)
		return false;
	return size == VH_USER_MEM_TABLE_HDR_SIZE + (size_t)n * sizeof(struct vh_user_mem_region);
}

/* GET/SET_CONFIG: 12-byte header then config.size bytes, at most 256. */
static bool vh_config_size_ok(const uint8_t *p, size_t size)
{
	uint32_t n;

	if (size < VH_USER_CONFIG_HDR_SIZE)
		return false;
	n = vh_load_u32(p + offsetof(struct vh_user_config, size));
	if (n > VH_USER_MAX_CONFIG_SIZE)
		return false;
	return size == VH_USER_CONFIG_HDR_SIZE + (size_t)n;
}

static bool vh_size_ok(const struct vh_msg_rule *r, const uint8_t *p, size_t size)
{
	switch (r->size_kind) {
	case VH_SIZE_EXACT:
		return size == r->min;
	case VH_SIZE_RANGE:
		return size >= r->min && size <= r->max;
	case VH_SIZE_ZERO_OR_EXACT:
		return size == 0 || size == r->min;
	case VH_SIZE_MEM_TABLE:
		return vh_mem_table_size_ok(p, size);
	case VH_SIZE_MEM_TABLE_OR_U64:
		return size == sizeof(uint64_t) || vh_mem_table_size_ok(p, size);
	case VH_SIZE_U64_OR_EXACT:
		return size == sizeof(uint64_t) || size == r->min;
	case VH_SIZE_CONFIG:
		return vh_config_size_ok(p, size);
	case VH_SIZE_CONFIG_OR_ZERO:
		return size == 0 || vh_config_size_ok(p, size);
	default:
		return false;
	}
}

/* Runs after vh_size_ok(), which guarantees the fields read here are inside @size. */
static bool vh_fds_ok(const struct vh_msg_rule *r, const uint8_t *p, size_t size, unsigned nfds)
{
	switch (r->fd_kind) {
	case VH_FDS_NONE:
		return nfds == 0;
	case VH_FDS_EXACT:
		return nfds == r->nfds;
	case VH_FDS_UP_TO:
		return nfds <= r->nfds;
	case VH_FDS_NOFD_BIT:
		/* vhost-user.rst SET_VRING_KICK: bit 8 is the invalid FD flag. */
		if (size < sizeof(uint64_t))
			return false;
		return nfds == ((vh_load_u64(p) & VH_USER_VRING_NOFD_MASK) ? 0u : 1u);
	case VH_FDS_MEM_TABLE:
		if (size < VH_USER_MEM_TABLE_HDR_SIZE)
			return false;
		return nfds == vh_load_u32(p);
	default:
		return false;
	}
}

static int vh_check_body(const struct vh_msg_rule *r, const struct vh_user_hdr *hdr,
			 const void *payload, size_t size, unsigned nfds)
{
	if (size > VH_USER_MAX_PAYLOAD || hdr->size > VH_USER_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (hdr->size != size)
		return -EPROTO;
	if (size && !payload)
		return -EINVAL;
	if (nfds > VH_USER_MAX_FDS)
		return -EPROTO;
	if (!r)
		return 0;
	if (!vh_size_ok(r, payload, size) || !vh_fds_ok(r, payload, size, nfds))
		return -EPROTO;
	return 0;
}

int vh_proto_validate(bool backend_channel, const struct vh_user_hdr *hdr, const void *payload,
		      size_t size, unsigned nfds)
{
	const struct vh_request_rule *rule;
	int ret;

	if (!hdr)
		return -EINVAL;
	if ((hdr->flags & ~VH_USER_FLAGS_KNOWN_MASK) ||
	    (hdr->flags & VH_USER_VERSION_MASK) != VH_USER_VERSION ||
	    (hdr->flags & VH_USER_FLAG_REPLY))
		return -EPROTO;
	rule = vh_rule_lookup(backend_channel, hdr->request);
	ret = vh_check_body(rule ? &rule->req : NULL, hdr, payload, size, nfds);
	if (ret < 0)
		return ret;
	return rule ? 0 : -EOPNOTSUPP;
}

/* The rule a reply to @sent must follow, or NULL when no reply was asked for. */
static const struct vh_msg_rule *vh_reply_rule(bool backend_channel, const struct vh_user_hdr *sent)
{
	const struct vh_request_rule *rule = vh_rule_lookup(backend_channel, sent->request);

	if (rule && rule->reply.size_kind != VH_SIZE_UNSET)
		return &rule->reply;
	if (sent->flags & VH_USER_FLAG_NEED_REPLY)
		return &vh_rule_ack;
	return NULL;
}

static int vh_check_reply(const struct vh_msg_rule *r, const struct vh_user_hdr *sent,
			  const struct vh_user_hdr *hdr, size_t size)
{
	/* QEMU vhost_user_read_header(): a reply carries exactly version 1 and the reply bit. */
	if (hdr->request != sent->request || hdr->flags != (VH_USER_VERSION | VH_USER_FLAG_REPLY))
		return -EPROTO;
	if (size > VH_USER_MAX_PAYLOAD || hdr->size > VH_USER_MAX_PAYLOAD)
		return -EMSGSIZE;
	/* An answer to something that asked for none is a protocol violation. */
	return r ? 0 : -EPROTO;
}

int vh_proto_validate_reply(const struct vh_user_hdr *sent, const struct vh_user_hdr *hdr,
			    const void *payload, size_t size, unsigned nfds)
{
	const struct vh_msg_rule *r;
	int ret;

	if (!sent || !hdr)
		return -EINVAL;
	r = vh_reply_rule(false, sent);
	ret = vh_check_reply(r, sent, hdr, size);
	if (ret < 0)
		return ret;
	return vh_check_body(r, hdr, payload, size, nfds);
}

int vh_proto_validate_backend_reply(const struct vh_user_hdr *sent, const struct vh_user_hdr *hdr,
				    const void *payload, size_t size, unsigned nfds)
{
	const struct vh_msg_rule *r;
	int ret;

	if (!sent || !hdr)
		return -EINVAL;
	r = vh_reply_rule(true, sent);
	ret = vh_check_reply(r, sent, hdr, size);
	if (ret < 0)
		return ret;
	return vh_check_body(r, hdr, payload, size, nfds);
}

bool vh_proto_reply_expected(bool backend_channel, const struct vh_user_hdr *hdr)
{
	const struct vh_request_rule *rule;

	if (!hdr)
		return false;
	if (hdr->flags & VH_USER_FLAG_NEED_REPLY)
		return true;
	rule = vh_rule_lookup(backend_channel, hdr->request);
	return rule && rule->always_reply;
}
