/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvhost: the vhost-user wire protocol (QEMU docs/interop/vhost-user.rst).
 *
 * Message numbers, protocol feature bits, the payload structs with their exact
 * wire sizes, names for logging, and one validator per direction that checks
 * a received message's flags, payload size and file descriptor count before
 * any handler looks at it. No I/O happens here (see <vhost/sock.h>).
 *
 * All numbers on the wire are in host byte order (vhost-user.rst "Message
 * Specification"): both peers run on the same host.
 */
#ifndef VHOST_PROTO_H
#define VHOST_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/vhost_types.h>

#include <vhost/common.h>

/* ---- header ------------------------------------------------------------------------------- */

/** struct vh_user_hdr - the 12-byte header in front of every vhost-user message. */
struct vh_user_hdr {
	uint32_t request; /* enum vh_user_request or enum vh_user_backend_request */
	uint32_t flags;	  /* VH_USER_VERSION | VH_USER_FLAG_* */
	uint32_t size;	  /* payload bytes that follow the header */
};

#define VH_USER_HDR_SIZE 12u

/* Header flags: version in bits 0-1, reply in bit 2, need_reply in bit 3; the rest reserved. */
#define VH_USER_VERSION		0x1u
#define VH_USER_VERSION_MASK	0x3u
#define VH_USER_FLAG_REPLY	(1u << 2)
#define VH_USER_FLAG_NEED_REPLY (1u << 3)
#define VH_USER_FLAGS_KNOWN_MASK \
	(VH_USER_VERSION_MASK | VH_USER_FLAG_REPLY | VH_USER_FLAG_NEED_REPLY)

/* SET_VRING_KICK/CALL/ERR and BACKEND_VRING_HOST_NOTIFIER_MSG u64: ring index and "no fd". */
#define VH_USER_VRING_IDX_MASK	0xffull
#define VH_USER_VRING_NOFD_MASK (1ull << 8)

/* The virtio feature bit (a reserved legacy bit) that announces protocol feature negotiation. */
#define VH_USER_F_PROTOCOL_FEATURES 30

/* Limits. */
#define VH_USER_MAX_FDS		  8u   /* fds per message: SET_MEM_TABLE's region count */
#define VH_USER_MEM_MAX_REGIONS	  8u   /* regions in one SET_MEM_TABLE */
#define VH_USER_MAX_CONFIG_SIZE	  256u /* virtio config space bytes in GET/SET_CONFIG */
#define VH_USER_SHMEM_MAX_REGIONS 256u /* VIRTIO Shared Memory Regions: shmid is a u8 */
#define VH_USER_UUID_LEN	  16u
#define VH_USER_LOG_PAGE	  0x1000u /* one dirty-log bit covers this many bytes */
/*
 * Largest payload accepted from a peer. The biggest fixed message is GET/SET_CONFIG
 * (12 + 256); CREATE_CRYPTO_SESSION carries keys and reaches about 1.1 KiB in QEMU.
 * Anything larger is refused with -EMSGSIZE.
 */
#define VH_USER_MAX_PAYLOAD 4096u

/* ---- requests (one X-macro table each: the enum and the names come from it) ----------------- */

/* Front-end -> back-end requests: X(name, number). */
#define VH_USER_REQUESTS(X)          \
	X(GET_FEATURES, 1)           \
	X(SET_FEATURES, 2)           \
	X(SET_OWNER, 3)              \
	X(RESET_OWNER, 4)            \
	X(SET_MEM_TABLE, 5)          \
	X(SET_LOG_BASE, 6)           \
	X(SET_LOG_FD, 7)             \
	X(SET_VRING_NUM, 8)          \
	X(SET_VRING_ADDR, 9)         \
	X(SET_VRING_BASE, 10)        \
	X(GET_VRING_BASE, 11)        \
	X(SET_VRING_KICK, 12)        \
	X(SET_VRING_CALL, 13)        \
	X(SET_VRING_ERR, 14)         \
	X(GET_PROTOCOL_FEATURES, 15) \
	X(SET_PROTOCOL_FEATURES, 16) \
	X(GET_QUEUE_NUM, 17)         \
	X(SET_VRING_ENABLE, 18)      \
	X(SEND_RARP, 19)             \
	X(NET_SET_MTU, 20)           \
	X(SET_BACKEND_REQ_FD, 21)    \
	X(IOTLB_MSG, 22)             \
	X(SET_VRING_ENDIAN, 23)      \
	X(GET_CONFIG, 24)            \
	X(SET_CONFIG, 25)            \
	X(CREATE_CRYPTO_SESSION, 26) \
	X(CLOSE_CRYPTO_SESSION, 27)  \
	X(POSTCOPY_ADVISE, 28)       \
	X(POSTCOPY_LISTEN, 29)       \
	X(POSTCOPY_END, 30)          \
	X(GET_INFLIGHT_FD, 31)       \
	X(SET_INFLIGHT_FD, 32)       \
	X(GPU_SET_SOCKET, 33)        \
	X(RESET_DEVICE, 34)          \
	X(VRING_KICK, 35)            \
	X(GET_MAX_MEM_SLOTS, 36)     \
	X(ADD_MEM_REG, 37)           \
	X(REM_MEM_REG, 38)           \
	X(SET_STATUS, 39)            \
	X(GET_STATUS, 40)            \
	X(GET_SHARED_OBJECT, 41)     \
	X(SET_DEVICE_STATE_FD, 42)   \
	X(CHECK_DEVICE_STATE, 43)    \
	X(GET_SHMEM_CONFIG, 44)

/* Back-end -> front-end requests on the back-end channel (SET_BACKEND_REQ_FD). */
#define VH_USER_BACKEND_REQUESTS(X)   \
	X(IOTLB_MSG, 1)               \
	X(CONFIG_CHANGE_MSG, 2)       \
	X(VRING_HOST_NOTIFIER_MSG, 3) \
	X(VRING_CALL, 4)              \
	X(VRING_ERR, 5)               \
	X(SHARED_OBJECT_ADD, 6)       \
	X(SHARED_OBJECT_REMOVE, 7)    \
	X(SHARED_OBJECT_LOOKUP, 8)    \
	X(SHMEM_MAP, 9)               \
	X(SHMEM_UNMAP, 10)

/*
 * Protocol feature bits (GET/SET_PROTOCOL_FEATURES). Numbers follow vhost-user.rst; note that
 * bit 21 is GPA_ADDRESSES and bit 22 is SHMEM (rust-vmm vhost <= 0.16 put SHMEM on bit 21).
 */
#define VH_USER_PROTOCOL_FEATURES(X)   \
	X(MQ, 0)                       \
	X(LOG_SHMFD, 1)                \
	X(RARP, 2)                     \
	X(REPLY_ACK, 3)                \
	X(NET_MTU, 4)                  \
	X(BACKEND_REQ, 5)              \
	X(CROSS_ENDIAN, 6)             \
	X(CRYPTO_SESSION, 7)           \
	X(PAGEFAULT, 8)                \
	X(CONFIG, 9)                   \
	X(BACKEND_SEND_FD, 10)         \
	X(HOST_NOTIFIER, 11)           \
	X(INFLIGHT_SHMFD, 12)          \
	X(RESET_DEVICE, 13)            \
	X(INBAND_NOTIFICATIONS, 14)    \
	X(CONFIGURE_MEM_SLOTS, 15)     \
	X(STATUS, 16)                  \
	X(XEN_MMAP, 17)                \
	X(SHARED_OBJECT, 18)           \
	X(DEVICE_STATE, 19)            \
	X(GET_VRING_BASE_INFLIGHT, 20) \
	X(GPA_ADDRESSES, 21)           \
	X(SHMEM, 22)

#define VH_PROTO_ENUM_REQ_(name, num)	VH_USER_##name = num,
#define VH_PROTO_ENUM_BREQ_(name, num)	VH_USER_BACKEND_##name = num,
#define VH_PROTO_ENUM_PFEAT_(name, num) VH_USER_PROTOCOL_F_##name = num,

/** enum vh_user_request - front-end requests; VH_USER_REQUEST_MAX is one past the last. */
enum vh_user_request {
	VH_USER_NONE = 0,
	VH_USER_REQUESTS(VH_PROTO_ENUM_REQ_) VH_USER_REQUEST_MAX
};

/** enum vh_user_backend_request - back-end requests; VH_USER_BACKEND_REQUEST_MAX is one past. */
enum vh_user_backend_request {
	VH_USER_BACKEND_NONE = 0,
	VH_USER_BACKEND_REQUESTS(VH_PROTO_ENUM_BREQ_) VH_USER_BACKEND_REQUEST_MAX
};

/** enum vh_user_protocol_feature - bit numbers; VH_USER_PROTOCOL_F_MAX is one past the last. */
enum vh_user_protocol_feature {
	VH_USER_PROTOCOL_FEATURES(VH_PROTO_ENUM_PFEAT_) VH_USER_PROTOCOL_F_MAX
};

/* Every protocol feature this header knows, as a mask. */
#define VH_USER_PROTOCOL_F_ALL_MASK ((1ull << VH_USER_PROTOCOL_F_MAX) - 1)

/* ---- payloads (exact wire layouts; sizes are pinned by _Static_assert below) ----------------- */

/*
 * Payloads that <linux/vhost_types.h> already defines are used as they are:
 *   struct vhost_vring_state  (8 bytes: index, num)       SET_VRING_NUM/BASE/ENABLE/ENDIAN,
 *                                                           GET_VRING_BASE, VRING_KICK,
 *                                                           BACKEND_VRING_CALL/ERR
 *   struct vhost_vring_addr   (40 bytes)                   SET_VRING_ADDR
 *   struct vhost_iotlb_msg    (32 bytes: iova, size, uaddr, perm u8, type u8, 6 padding)
 *                                                           IOTLB_MSG, BACKEND_IOTLB_MSG
 */

/** struct vh_user_mem_region - one guest memory region (32 bytes). */
struct vh_user_mem_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset; /* where the region starts in the fd passed with it */
};

/**
 * struct vh_user_mem_table - SET_MEM_TABLE payload: 8 + nregions * 32 bytes on the wire
 * (only the used regions are sent), one fd per region, in order.
 */
struct vh_user_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vh_user_mem_region regions[VH_USER_MEM_MAX_REGIONS];
};

#define VH_USER_MEM_TABLE_HDR_SIZE 8u

/** struct vh_user_mem_reg - ADD_MEM_REG / REM_MEM_REG payload (40 bytes). */
struct vh_user_mem_reg {
	uint64_t padding;
	struct vh_user_mem_region region;
};

/** struct vh_user_log - SET_LOG_BASE payload (16 bytes), with the log memfd. */
struct vh_user_log {
	uint64_t mmap_size;
	uint64_t mmap_offset;
};

/* GET_CONFIG / SET_CONFIG flags. */
#define VH_USER_CONFIG_FLAG_WRITABLE  0u /* front-end writes a writable field */
#define VH_USER_CONFIG_FLAG_MIGRATION 1u /* front-end restores config during live migration */

/** struct vh_user_config - GET/SET_CONFIG payload: 12 + size bytes on the wire. */
struct vh_user_config {
	uint32_t offset;
	uint32_t size; /* <= VH_USER_MAX_CONFIG_SIZE */
	uint32_t flags;
	uint8_t region[VH_USER_MAX_CONFIG_SIZE];
};

#define VH_USER_CONFIG_HDR_SIZE 12u

/** struct vh_user_vring_area - BACKEND_VRING_HOST_NOTIFIER_MSG payload (24 bytes). */
struct vh_user_vring_area {
	uint64_t u64; /* ring index in bits 0-7, VH_USER_VRING_NOFD_MASK */
	uint64_t size;
	uint64_t offset;
};

/** struct vh_user_inflight - GET/SET_INFLIGHT_FD payload (24 bytes, 4 trailing padding). */
struct vh_user_inflight {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
	uint32_t padding;
};

/* SET_DEVICE_STATE_FD direction and phase. */
#define VH_USER_TRANSFER_STATE_DIRECTION_SAVE 0u
#define VH_USER_TRANSFER_STATE_DIRECTION_LOAD 1u
#define VH_USER_TRANSFER_STATE_PHASE_STOPPED  0u
/* SET_DEVICE_STATE_FD reply u64: bits 0-7 error code, bit 8 "no fd returned". */
#define VH_USER_DEVICE_STATE_REPLY_ERR_MASK  0xffull
#define VH_USER_DEVICE_STATE_REPLY_NOFD_MASK (1ull << 8)

/** struct vh_user_device_state - SET_DEVICE_STATE_FD payload (8 bytes), with the pipe fd. */
struct vh_user_device_state {
	uint32_t direction;
	uint32_t phase;
};

/** struct vh_user_shared_object - SHARED_OBJECT_* and GET_SHARED_OBJECT payload (16 bytes). */
struct vh_user_shared_object {
	uint8_t uuid[VH_USER_UUID_LEN];
};

/* BACKEND_SHMEM_MAP flags: bit 0 set maps read-write, clear read-only; the rest reserved. */
#define VH_USER_SHMEM_MAP_RW (1ull << 0)

/** struct vh_user_shmem_map - BACKEND_SHMEM_MAP / _UNMAP payload (40 bytes). */
struct vh_user_shmem_map {
	uint8_t shmid; /* VIRTIO Shared Memory Region id */
	uint8_t padding[7];
	uint64_t fd_offset;
	uint64_t shm_offset; /* offset inside the shared memory region */
	uint64_t len;
	uint64_t flags; /* VH_USER_SHMEM_MAP_* */
};

/**
 * struct vh_user_shmem_config - GET_SHMEM_CONFIG reply (8 + 256 * 8 = 2056 bytes): the array
 * index is the shmid, a size of 0 an unused shmid; nregions counts the non-zero sizes.
 */
struct vh_user_shmem_config {
	uint32_t nregions;
	uint32_t padding;
	uint64_t memory_sizes[VH_USER_SHMEM_MAX_REGIONS]; /* indexed by shmid */
};

/*
 * CREATE_CRYPTO_SESSION carries QEMU's VhostUserCryptoSession (op code, session
 * parameters and keys); its layout follows QEMU's cryptodev structs, so this layer
 * only bounds its size: at least the leading u64 op code, at most VH_USER_MAX_PAYLOAD.
 */
#define VH_USER_CRYPTO_SESSION_MIN_SIZE 8u

/**
 * union vh_user_payload - every payload layout, plus the raw bytes (VH_USER_MAX_PAYLOAD).
 * Only the first hdr.size bytes are meaningful.
 */
union vh_user_payload {
	uint64_t u64;
	struct vhost_vring_state state;
	struct vhost_vring_addr addr;
	struct vhost_iotlb_msg iotlb;
	struct vh_user_mem_table mem;
	struct vh_user_mem_reg mem_reg;
	struct vh_user_log log;
	struct vh_user_config config;
	struct vh_user_vring_area area;
	struct vh_user_inflight inflight;
	struct vh_user_device_state device_state;
	struct vh_user_shared_object object;
	struct vh_user_shmem_map shmem_map;
	struct vh_user_shmem_config shmem_config;
	uint8_t raw[VH_USER_MAX_PAYLOAD];
};

_Static_assert(sizeof(struct vh_user_hdr) == VH_USER_HDR_SIZE, "vhost-user header is 12 bytes");
_Static_assert(sizeof(struct vhost_vring_state) == 8, "vring state is 8 bytes");
_Static_assert(sizeof(struct vhost_vring_addr) == 40, "vring addr is 40 bytes");
_Static_assert(sizeof(struct vhost_iotlb_msg) == 32, "iotlb msg is 32 bytes");
_Static_assert(sizeof(struct vh_user_mem_region) == 32, "memory region is 32 bytes");
_Static_assert(sizeof(struct vh_user_mem_table) == 8 + 8 * 32, "memory table is 8 + 8*32");
_Static_assert(sizeof(struct vh_user_mem_reg) == 40, "single memory region is 40 bytes");
_Static_assert(sizeof(struct vh_user_log) == 16, "log is 16 bytes");
_Static_assert(sizeof(struct vh_user_config) == 12 + 256, "config is 12 + 256 bytes");
_Static_assert(sizeof(struct vh_user_vring_area) == 24, "vring area is 24 bytes");
_Static_assert(sizeof(struct vh_user_inflight) == 24, "inflight is 24 bytes");
_Static_assert(sizeof(struct vh_user_device_state) == 8, "device state transfer is 8 bytes");
_Static_assert(sizeof(struct vh_user_shared_object) == 16, "shared object uuid is 16 bytes");
_Static_assert(sizeof(struct vh_user_shmem_map) == 40, "shmem map is 40 bytes");
_Static_assert(sizeof(struct vh_user_shmem_config) == 8 + 256 * 8,
	       "shmem config is 8 + 256*8 bytes");
_Static_assert(sizeof(union vh_user_payload) == VH_USER_MAX_PAYLOAD, "raw covers every payload");

/* ---- names -------------------------------------------------------------------------------- */

/**
 * vh_proto_request_name() - spec name of a front-end request, for logs.
 * @request: request number from the header.
 *
 * Return: "VHOST_USER_SET_MEM_TABLE" style static string; "VHOST_USER_UNKNOWN" when the
 * number is not a known request. Never NULL. Thread: any.
 */
VH_API const char *vh_proto_request_name(uint32_t request);

/**
 * vh_proto_backend_request_name() - spec name of a back-end channel request.
 * @request: request number from the header.
 *
 * Return: "VHOST_USER_BACKEND_IOTLB_MSG" style static string; "VHOST_USER_BACKEND_UNKNOWN"
 * when unknown. Never NULL. Thread: any.
 */
VH_API const char *vh_proto_backend_request_name(uint32_t request);

/**
 * vh_proto_feature_name() - spec name of a vhost-user protocol feature bit.
 * @bit: bit number (0..63).
 *
 * Return: "VHOST_USER_PROTOCOL_F_REPLY_ACK" style static string; "VHOST_USER_PROTOCOL_F_UNKNOWN"
 * when unknown. Never NULL. Thread: any.
 */
VH_API const char *vh_proto_feature_name(unsigned bit);

/**
 * vh_proto_virtio_feature_name() - name of a device-independent virtio / vhost feature bit.
 * @bit: bit number (0..63) of the GET/SET_FEATURES u64.
 *
 * Covers the transport bits of <linux/virtio_config.h> and <linux/virtio_ring.h>,
 * VHOST_F_LOG_ALL and VHOST_USER_F_PROTOCOL_FEATURES; device-type bits (below 24) give NULL.
 *
 * Return: "VIRTIO_F_VERSION_1" style static string, or NULL when the bit has no generic name.
 * Thread: any.
 */
VH_API const char *vh_proto_virtio_feature_name(unsigned bit);

/**
 * vh_proto_device_feature_name() - name of a virtio feature bit of a given device type.
 * @device_id: virtio device type (VIRTIO_ID_NET, VIRTIO_ID_BLOCK, ... of <linux/virtio_ids.h>);
 *             0 or a type without a table: device-independent names only.
 * @bit: bit number (0..63) of the GET/SET_FEATURES u64.
 *
 * Device-specific bits (0-23, and net's bits above 40; bit 27 of net is vhost-net's
 * VHOST_NET_F_VIRTIO_NET_HDR) are named from the type's table (net, blk, console, scsi, gpu,
 * vsock, fs); the rest as vh_proto_virtio_feature_name() does.
 *
 * Return: "VIRTIO_NET_F_MRG_RXBUF" style static string, or NULL when the bit has no name for
 * that type. Thread: any.
 */
VH_API const char *vh_proto_device_feature_name(uint32_t device_id, unsigned bit);

/**
 * vh_proto_device_name() - short name of a virtio device type ("net", "blk", "scsi", "fs", ...).
 * @device_id: virtio device type (<linux/virtio_ids.h>).
 * Return: a static string, or NULL for 0 and unknown types. Thread: any.
 */
VH_API const char *vh_proto_device_name(uint32_t device_id);

/**
 * vh_proto_device_id() - the device type a vh_proto_device_name() string names.
 * @name: "net", "blk", ... (NULL allowed).
 * Return: the virtio device id, 0 when the name is unknown. Thread: any.
 */
VH_API uint32_t vh_proto_device_id(const char *name);

/* ---- validators --------------------------------------------------------------------------- */

/**
 * vh_proto_validate() - check a received request before any handler looks at it.
 * @backend_channel: false for a front-end request (the back-end validates it), true for a
 *                   back-end request on the back-end channel (the front-end validates it).
 * @hdr: the received header.
 * @payload: the received payload bytes; only [0, @size) is read. May be NULL if @size is 0.
 * @size: number of payload bytes actually received.
 * @nfds: number of file descriptors received with the message.
 *
 * Checks: version 1, reply flag clear, no reserved flag bits, @size == hdr->size, the request's
 * payload size rule (exact, none, range, or a variable layout such as SET_MEM_TABLE's
 * 8 + nregions * 32 with nregions <= 8 and GET/SET_CONFIG's 12 + config.size) and its fd count
 * rule (none, exactly N, SET_MEM_TABLE one per region, SET_VRING_KICK/CALL/ERR one unless the
 * VH_USER_VRING_NOFD_MASK bit is set, ...).
 *
 * Return: 0 if the message is well formed; -EOPNOTSUPP for a request number this library does
 * not know (the connection may carry on and reply with a failure); -EMSGSIZE if @size or
 * hdr->size exceeds VH_USER_MAX_PAYLOAD; -EPROTO for any other violation (the peer is broken).
 * Pure function, no logging. Thread: any.
 */
VH_API int vh_proto_validate(bool backend_channel, const struct vh_user_hdr *hdr,
			     const void *payload, size_t size, unsigned nfds);

/**
 * vh_proto_validate_reply() - check a reply the front-end received from the back-end.
 * @sent: the header of the request the front-end sent (request and NEED_REPLY flag matter).
 * @hdr: the received reply header.
 * @payload: reply payload bytes; only [0, @size) is read.
 * @size: number of payload bytes actually received.
 * @nfds: number of file descriptors received with the reply.
 *
 * Checks: same request number, flags exactly VH_USER_VERSION | VH_USER_FLAG_REPLY, @size ==
 * hdr->size, and the reply rule: the request's own reply payload (GET_FEATURES u64,
 * GET_VRING_BASE vring state, GET_CONFIG 12 + size, GET_INFLIGHT_FD inflight + 1 fd, ...) or,
 * for a request without one that was sent with VH_USER_FLAG_NEED_REPLY, the REPLY_ACK u64.
 *
 * Return: 0, -EMSGSIZE (over VH_USER_MAX_PAYLOAD), -EPROTO (wrong reply, or no reply was
 * expected at all). Pure function. Thread: any.
 */
VH_API int vh_proto_validate_reply(const struct vh_user_hdr *sent, const struct vh_user_hdr *hdr,
				   const void *payload, size_t size, unsigned nfds);

/**
 * vh_proto_validate_backend_reply() - check a reply the back-end received on the back-end
 * channel (from the front-end, answering a VH_USER_BACKEND_* request).
 * @sent: header of the back-end request that was sent.
 * @hdr, @payload, @size, @nfds: as for vh_proto_validate_reply().
 *
 * The replies are the REPLY_ACK u64 (when NEED_REPLY was set) and SHARED_OBJECT_LOOKUP's u64
 * with an optional fd.
 *
 * Return: 0, -EMSGSIZE, -EPROTO. Pure function. Thread: any.
 */
VH_API int vh_proto_validate_backend_reply(const struct vh_user_hdr *sent,
					   const struct vh_user_hdr *hdr, const void *payload,
					   size_t size, unsigned nfds);

/**
 * vh_proto_reply_expected() - whether the receiver of a request must answer it.
 * @backend_channel: false for front-end requests, true for back-end channel requests.
 * @hdr: the request header (its request number and VH_USER_FLAG_NEED_REPLY).
 *
 * True for requests that always have a reply (GET_FEATURES, GET_VRING_BASE, SET_LOG_BASE,
 * GET_INFLIGHT_FD, ..., BACKEND_SHARED_OBJECT_LOOKUP) and for any request sent with
 * VH_USER_FLAG_NEED_REPLY (REPLY_ACK). Unknown requests: true only with NEED_REPLY.
 *
 * Return: true if a reply must be sent. Thread: any.
 */
VH_API bool vh_proto_reply_expected(bool backend_channel, const struct vh_user_hdr *hdr);

/**
 * vh_proto_hdr_init() - fill a request header: version 1, the given flags, the payload size.
 * @hdr: header to fill.
 * @request: request number.
 * @flags: extra flags (0, VH_USER_FLAG_NEED_REPLY or VH_USER_FLAG_REPLY).
 * @size: payload size in bytes.
 */
static inline void vh_proto_hdr_init(struct vh_user_hdr *hdr, uint32_t request, uint32_t flags,
				     uint32_t size)
{
	hdr->request = request;
	hdr->flags = VH_USER_VERSION | flags;
	hdr->size = size;
}

#endif
