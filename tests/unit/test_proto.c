/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-user wire protocol: pinned numbers and sizes, names, and every request's
 * payload size and fd count rule. Payloads are handed to the validators in heap
 * buffers of exactly the claimed size so ASan catches any read past it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <linux/virtio_ids.h>

#include <vhost/proto.h>

#include "unit_helpers.h"

/* ---- helpers ---------------------------------------------------------------------------- */

/* Validate @size bytes copied from @src (zeros if NULL) into a buffer of exactly @size. */
static int validate_sized(bool backend, uint32_t req, uint32_t flags, const void *src, size_t size,
			  unsigned nfds)
{
	struct vh_user_hdr h;
	uint8_t *buf = NULL;
	int ret;

	vh_proto_hdr_init(&h, req, flags, (uint32_t)size);
	if (size) {
		buf = calloc(1, size);
		assert_non_null(buf);
		if (src)
			memcpy(buf, src, size);
	}
	ret = vh_proto_validate(backend, &h, buf, size, nfds);
	free(buf);
	return ret;
}

static int reply_sized(bool backend, const struct vh_user_hdr *sent, const void *src, size_t size,
		       unsigned nfds)
{
	struct vh_user_hdr h;
	uint8_t *buf = NULL;
	int ret;

	vh_proto_hdr_init(&h, sent->request, VH_USER_FLAG_REPLY, (uint32_t)size);
	if (size) {
		buf = calloc(1, size);
		assert_non_null(buf);
		if (src)
			memcpy(buf, src, size);
	}
	if (backend)
		ret = vh_proto_validate_backend_reply(sent, &h, buf, size, nfds);
	else
		ret = vh_proto_validate_reply(sent, &h, buf, size, nfds);
	free(buf);
	return ret;
}

/* ---- pinned numbers --------------------------------------------------------------------- */

struct num_name {
	uint32_t value;
	uint32_t expected;
	const char *name;
};

#define NN(prefix, n, num)         \
	{                          \
		prefix##n, num, #n \
	}

static const struct num_name requests[] = {
	NN(VH_USER_, GET_FEATURES, 1),
	NN(VH_USER_, SET_FEATURES, 2),
	NN(VH_USER_, SET_OWNER, 3),
	NN(VH_USER_, RESET_OWNER, 4),
	NN(VH_USER_, SET_MEM_TABLE, 5),
	NN(VH_USER_, SET_LOG_BASE, 6),
	NN(VH_USER_, SET_LOG_FD, 7),
	NN(VH_USER_, SET_VRING_NUM, 8),
	NN(VH_USER_, SET_VRING_ADDR, 9),
	NN(VH_USER_, SET_VRING_BASE, 10),
	NN(VH_USER_, GET_VRING_BASE, 11),
	NN(VH_USER_, SET_VRING_KICK, 12),
	NN(VH_USER_, SET_VRING_CALL, 13),
	NN(VH_USER_, SET_VRING_ERR, 14),
	NN(VH_USER_, GET_PROTOCOL_FEATURES, 15),
	NN(VH_USER_, SET_PROTOCOL_FEATURES, 16),
	NN(VH_USER_, GET_QUEUE_NUM, 17),
	NN(VH_USER_, SET_VRING_ENABLE, 18),
	NN(VH_USER_, SEND_RARP, 19),
	NN(VH_USER_, NET_SET_MTU, 20),
	NN(VH_USER_, SET_BACKEND_REQ_FD, 21),
	NN(VH_USER_, IOTLB_MSG, 22),
	NN(VH_USER_, SET_VRING_ENDIAN, 23),
	NN(VH_USER_, GET_CONFIG, 24),
	NN(VH_USER_, SET_CONFIG, 25),
	NN(VH_USER_, CREATE_CRYPTO_SESSION, 26),
	NN(VH_USER_, CLOSE_CRYPTO_SESSION, 27),
	NN(VH_USER_, POSTCOPY_ADVISE, 28),
	NN(VH_USER_, POSTCOPY_LISTEN, 29),
	NN(VH_USER_, POSTCOPY_END, 30),
	NN(VH_USER_, GET_INFLIGHT_FD, 31),
	NN(VH_USER_, SET_INFLIGHT_FD, 32),
	NN(VH_USER_, GPU_SET_SOCKET, 33),
	NN(VH_USER_, RESET_DEVICE, 34),
	NN(VH_USER_, VRING_KICK, 35),
	NN(VH_USER_, GET_MAX_MEM_SLOTS, 36),
	NN(VH_USER_, ADD_MEM_REG, 37),
	NN(VH_USER_, REM_MEM_REG, 38),
	NN(VH_USER_, SET_STATUS, 39),
	NN(VH_USER_, GET_STATUS, 40),
	NN(VH_USER_, GET_SHARED_OBJECT, 41),
	NN(VH_USER_, SET_DEVICE_STATE_FD, 42),
	NN(VH_USER_, CHECK_DEVICE_STATE, 43),
	NN(VH_USER_, GET_SHMEM_CONFIG, 44),
};

static const struct num_name backend_requests[] = {
	NN(VH_USER_BACKEND_, IOTLB_MSG, 1),
	NN(VH_USER_BACKEND_, CONFIG_CHANGE_MSG, 2),
	NN(VH_USER_BACKEND_, VRING_HOST_NOTIFIER_MSG, 3),
	NN(VH_USER_BACKEND_, VRING_CALL, 4),
	NN(VH_USER_BACKEND_, VRING_ERR, 5),
	NN(VH_USER_BACKEND_, SHARED_OBJECT_ADD, 6),
	NN(VH_USER_BACKEND_, SHARED_OBJECT_REMOVE, 7),
	NN(VH_USER_BACKEND_, SHARED_OBJECT_LOOKUP, 8),
	NN(VH_USER_BACKEND_, SHMEM_MAP, 9),
	NN(VH_USER_BACKEND_, SHMEM_UNMAP, 10),
};

/* vhost-user.rst "Protocol features"; 21 is GPA_ADDRESSES, 22 SHMEM (not rust-vmm's old 21). */
static const struct num_name protocol_features[] = {
	NN(VH_USER_PROTOCOL_F_, MQ, 0),
	NN(VH_USER_PROTOCOL_F_, LOG_SHMFD, 1),
	NN(VH_USER_PROTOCOL_F_, RARP, 2),
	NN(VH_USER_PROTOCOL_F_, REPLY_ACK, 3),
	NN(VH_USER_PROTOCOL_F_, NET_MTU, 4),
	NN(VH_USER_PROTOCOL_F_, BACKEND_REQ, 5),
	NN(VH_USER_PROTOCOL_F_, CROSS_ENDIAN, 6),
	NN(VH_USER_PROTOCOL_F_, CRYPTO_SESSION, 7),
	NN(VH_USER_PROTOCOL_F_, PAGEFAULT, 8),
	NN(VH_USER_PROTOCOL_F_, CONFIG, 9),
	NN(VH_USER_PROTOCOL_F_, BACKEND_SEND_FD, 10),
	NN(VH_USER_PROTOCOL_F_, HOST_NOTIFIER, 11),
	NN(VH_USER_PROTOCOL_F_, INFLIGHT_SHMFD, 12),
	NN(VH_USER_PROTOCOL_F_, RESET_DEVICE, 13),
	NN(VH_USER_PROTOCOL_F_, INBAND_NOTIFICATIONS, 14),
	NN(VH_USER_PROTOCOL_F_, CONFIGURE_MEM_SLOTS, 15),
	NN(VH_USER_PROTOCOL_F_, STATUS, 16),
	NN(VH_USER_PROTOCOL_F_, XEN_MMAP, 17),
	NN(VH_USER_PROTOCOL_F_, SHARED_OBJECT, 18),
	NN(VH_USER_PROTOCOL_F_, DEVICE_STATE, 19),
	NN(VH_USER_PROTOCOL_F_, GET_VRING_BASE_INFLIGHT, 20),
	NN(VH_USER_PROTOCOL_F_, GPA_ADDRESSES, 21),
	NN(VH_USER_PROTOCOL_F_, SHMEM, 22),
};

static void check_names(const struct num_name *t, size_t n, const char *prefix,
			const char *(*fn)(uint32_t))
{
	char want[96];

	for (size_t i = 0; i < n; i++) {
		assert_int_equal(t[i].value, t[i].expected);
		snprintf(want, sizeof(want), "%s%s", prefix, t[i].name);
		assert_string_equal(fn(t[i].expected), want);
	}
}

static const char *feature_name_u32(uint32_t bit)
{
	return vh_proto_feature_name(bit);
}

static void test_request_numbers(void **state)
{
	(void)state;
	check_names(requests, sizeof(requests) / sizeof(requests[0]), "VHOST_USER_",
		    vh_proto_request_name);
	assert_int_equal(sizeof(requests) / sizeof(requests[0]), 44);
	assert_int_equal(VH_USER_REQUEST_MAX, 45);
	assert_string_equal(vh_proto_request_name(0), "VHOST_USER_UNKNOWN");
	assert_string_equal(vh_proto_request_name(45), "VHOST_USER_UNKNOWN");
	assert_string_equal(vh_proto_request_name(UINT32_MAX), "VHOST_USER_UNKNOWN");
}

static void test_backend_request_numbers(void **state)
{
	(void)state;
	check_names(backend_requests, sizeof(backend_requests) / sizeof(backend_requests[0]),
		    "VHOST_USER_BACKEND_", vh_proto_backend_request_name);
	assert_int_equal(VH_USER_BACKEND_REQUEST_MAX, 11);
	assert_string_equal(vh_proto_backend_request_name(0), "VHOST_USER_BACKEND_UNKNOWN");
	assert_string_equal(vh_proto_backend_request_name(11), "VHOST_USER_BACKEND_UNKNOWN");
}

static void test_protocol_feature_bits(void **state)
{
	(void)state;
	check_names(protocol_features, sizeof(protocol_features) / sizeof(protocol_features[0]),
		    "VHOST_USER_PROTOCOL_F_", feature_name_u32);
	assert_int_equal(VH_USER_PROTOCOL_F_MAX, 23);
	assert_int_equal(VH_USER_PROTOCOL_F_ALL_MASK, 0x7fffffull);
	assert_string_equal(vh_proto_feature_name(23), "VHOST_USER_PROTOCOL_F_UNKNOWN");
	assert_string_equal(vh_proto_feature_name(64), "VHOST_USER_PROTOCOL_F_UNKNOWN");
}

static void test_virtio_feature_names(void **state)
{
	(void)state;
	assert_int_equal(VH_USER_F_PROTOCOL_FEATURES, 30);
	assert_string_equal(vh_proto_virtio_feature_name(30), "VHOST_USER_F_PROTOCOL_FEATURES");
	assert_string_equal(vh_proto_virtio_feature_name(32), "VIRTIO_F_VERSION_1");
	assert_string_equal(vh_proto_virtio_feature_name(26), "VHOST_F_LOG_ALL");
	assert_string_equal(vh_proto_virtio_feature_name(28), "VIRTIO_RING_F_INDIRECT_DESC");
	assert_string_equal(vh_proto_virtio_feature_name(29), "VIRTIO_RING_F_EVENT_IDX");
	assert_string_equal(vh_proto_virtio_feature_name(33), "VIRTIO_F_ACCESS_PLATFORM");
	assert_string_equal(vh_proto_virtio_feature_name(34), "VIRTIO_F_RING_PACKED");
	assert_string_equal(vh_proto_virtio_feature_name(35), "VIRTIO_F_IN_ORDER");
	assert_null(vh_proto_virtio_feature_name(0)); /* device-specific */
	assert_null(vh_proto_virtio_feature_name(63));
	assert_null(vh_proto_virtio_feature_name(64));
	assert_null(vh_proto_virtio_feature_name(UINT32_MAX));
}

static void test_device_feature_names(void **state)
{
	(void)state;
	/* The bug vhctl probe had: net bits 3 and 5 read as virtio-blk ones. */
	assert_string_equal(vh_proto_device_feature_name(VIRTIO_ID_NET, 3), "VIRTIO_NET_F_MTU");
	assert_string_equal(vh_proto_device_feature_name(VIRTIO_ID_NET, 5), "VIRTIO_NET_F_MAC");
	assert_string_equal(vh_proto_device_feature_name(VIRTIO_ID_NET, 15),
			    "VIRTIO_NET_F_MRG_RXBUF");
	assert_string_equal(vh_proto_device_feature_name(VIRTIO_ID_NET, 22), "VIRTIO_NET_F_MQ");
	assert_string_equal(vh_proto_device_feature_name(VIRTIO_ID_NET, 63),
			    "VIRTIO_NET_F_SPEED_DUPLEX");
	assert_string_equal(vh_proto_device_feature_name(VIRTIO_ID_NET, 27),
			    "VHOST_NET_F_VIRTIO_NET_HDR");
	assert_null(vh_proto_device_feature_name(VIRTIO_ID_NET, 4));
	assert_string_equal(vh_proto_device_feature_name(VIRTIO_ID_BLOCK, 5), "VIRTIO_BLK_F_RO");
	assert_string_equal(vh_proto_device_feature_name(VIRTIO_ID_BLOCK, 9), "VIRTIO_BLK_F_FLUSH");
	assert_string_equal(vh_proto_device_feature_name(VIRTIO_ID_BLOCK, 17),
			    "VIRTIO_BLK_F_ZONED");
	assert_null(vh_proto_device_feature_name(VIRTIO_ID_BLOCK, 3));
	assert_string_equal(vh_proto_device_feature_name(VIRTIO_ID_SCSI, 1),
			    "VIRTIO_SCSI_F_HOTPLUG");
	assert_string_equal(vh_proto_device_feature_name(VIRTIO_ID_VSOCK, 1),
			    "VIRTIO_VSOCK_F_SEQPACKET");
	assert_string_equal(vh_proto_device_feature_name(VIRTIO_ID_FS, 0),
			    "VIRTIO_FS_F_NOTIFICATION");
	assert_string_equal(vh_proto_device_feature_name(VIRTIO_ID_CONSOLE, 1),
			    "VIRTIO_CONSOLE_F_MULTIPORT");
	assert_string_equal(vh_proto_device_feature_name(VIRTIO_ID_GPU, 0), "VIRTIO_GPU_F_VIRGL");
	/* Generic bits are the same for every type, including unknown ones. */
	assert_string_equal(vh_proto_device_feature_name(VIRTIO_ID_NET, 32), "VIRTIO_F_VERSION_1");
	assert_string_equal(vh_proto_device_feature_name(VIRTIO_ID_INPUT, 29),
			    "VIRTIO_RING_F_EVENT_IDX");
	assert_string_equal(vh_proto_device_feature_name(0, 30), "VHOST_USER_F_PROTOCOL_FEATURES");
	assert_null(vh_proto_device_feature_name(VIRTIO_ID_INPUT, 0));
	assert_null(vh_proto_device_feature_name(0, 5));
	assert_null(vh_proto_device_feature_name(UINT32_MAX, 5));
	assert_null(vh_proto_device_feature_name(VIRTIO_ID_NET, 64));
	assert_null(vh_proto_device_feature_name(VIRTIO_ID_BLOCK, UINT32_MAX));
}

static void test_device_names(void **state)
{
	(void)state;
	assert_string_equal(vh_proto_device_name(VIRTIO_ID_NET), "net");
	assert_string_equal(vh_proto_device_name(VIRTIO_ID_BLOCK), "blk");
	assert_string_equal(vh_proto_device_name(VIRTIO_ID_SCSI), "scsi");
	assert_string_equal(vh_proto_device_name(VIRTIO_ID_VSOCK), "vsock");
	assert_string_equal(vh_proto_device_name(VIRTIO_ID_FS), "fs");
	assert_string_equal(vh_proto_device_name(VIRTIO_ID_INPUT), "input");
	assert_string_equal(vh_proto_device_name(VIRTIO_ID_GPIO), "gpio");
	assert_null(vh_proto_device_name(0));
	assert_null(vh_proto_device_name(14));
	assert_null(vh_proto_device_name(UINT32_MAX));
	assert_int_equal(vh_proto_device_id("net"), VIRTIO_ID_NET);
	assert_int_equal(vh_proto_device_id("blk"), VIRTIO_ID_BLOCK);
	assert_int_equal(vh_proto_device_id("vsock"), VIRTIO_ID_VSOCK);
	assert_int_equal(vh_proto_device_id("block"), 0);
	assert_int_equal(vh_proto_device_id(""), 0);
	assert_int_equal(vh_proto_device_id(NULL), 0);
}

/* ---- wire layout ------------------------------------------------------------------------ */

static void test_struct_sizes(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct vh_user_hdr), 12);
	assert_int_equal(sizeof(struct vhost_vring_state), 8);
	assert_int_equal(sizeof(struct vhost_vring_addr), 40);
	assert_int_equal(sizeof(struct vhost_iotlb_msg), 32);
	assert_int_equal(offsetof(struct vhost_iotlb_msg, perm), 24);
	assert_int_equal(offsetof(struct vhost_iotlb_msg, type), 25);
	assert_int_equal(sizeof(struct vh_user_mem_region), 32);
	assert_int_equal(offsetof(struct vh_user_mem_region, mmap_offset), 24);
	assert_int_equal(offsetof(struct vh_user_mem_table, regions), 8);
	assert_int_equal(sizeof(struct vh_user_mem_table), 8 + 8 * 32);
	assert_int_equal(sizeof(struct vh_user_mem_reg), 40);
	assert_int_equal(offsetof(struct vh_user_mem_reg, region), 8);
	assert_int_equal(sizeof(struct vh_user_log), 16);
	assert_int_equal(offsetof(struct vh_user_config, region), 12);
	assert_int_equal(sizeof(struct vh_user_config), 12 + 256);
	assert_int_equal(sizeof(struct vh_user_vring_area), 24);
	assert_int_equal(sizeof(struct vh_user_inflight), 24);
	assert_int_equal(offsetof(struct vh_user_inflight, num_queues), 16);
	assert_int_equal(offsetof(struct vh_user_inflight, queue_size), 18);
	assert_int_equal(sizeof(struct vh_user_device_state), 8);
	assert_int_equal(sizeof(struct vh_user_shared_object), 16);
	assert_int_equal(sizeof(struct vh_user_shmem_map), 40);
	assert_int_equal(offsetof(struct vh_user_shmem_map, fd_offset), 8);
	assert_int_equal(offsetof(struct vh_user_shmem_map, flags), 32);
	assert_int_equal(sizeof(struct vh_user_shmem_config), 2056);
	assert_int_equal(sizeof(union vh_user_payload), VH_USER_MAX_PAYLOAD);
}

static void test_header_bytes(void **state)
{
	/* SET_MEM_TABLE, version 1 | need_reply, 40 payload bytes; host (little-endian) order. */
	static const uint8_t want[12] = { 5, 0, 0, 0, 0x09, 0, 0, 0, 40, 0, 0, 0 };
	struct vh_user_hdr h;
	uint16_t probe = 1;

	(void)state;
	if (*(uint8_t *)&probe != 1)
		skip();
	assert_int_equal(VH_USER_VERSION, 0x1);
	assert_int_equal(VH_USER_VERSION_MASK, 0x3);
	assert_int_equal(VH_USER_FLAG_REPLY, 0x4);
	assert_int_equal(VH_USER_FLAG_NEED_REPLY, 0x8);
	assert_int_equal(VH_USER_VRING_IDX_MASK, 0xff);
	assert_int_equal(VH_USER_VRING_NOFD_MASK, 0x100);
	vh_proto_hdr_init(&h, VH_USER_SET_MEM_TABLE, VH_USER_FLAG_NEED_REPLY, 40);
	assert_memory_equal(&h, want, sizeof(want));
}

/* ---- request size rules ----------------------------------------------------------------- */

struct size_rule {
	uint32_t req;
	uint32_t size;
	unsigned nfds;	   /* fewest fds allowed with an all-zero payload */
	unsigned max_nfds; /* most fds allowed */
};

static const struct size_rule frontend_fixed[] = {
	{ VH_USER_GET_FEATURES, 0, 0, 0 },
	{ VH_USER_SET_FEATURES, 8, 0, 0 },
	{ VH_USER_SET_OWNER, 0, 0, 0 },
	{ VH_USER_RESET_OWNER, 0, 0, 0 },
	{ VH_USER_SET_LOG_BASE, 16, 1, 1 },
	{ VH_USER_SET_LOG_FD, 0, 1, 1 },
	{ VH_USER_SET_VRING_NUM, 8, 0, 0 },
	{ VH_USER_SET_VRING_ADDR, 40, 0, 0 },
	{ VH_USER_SET_VRING_BASE, 8, 0, 0 },
	{ VH_USER_GET_VRING_BASE, 8, 0, 0 },
	{ VH_USER_SET_VRING_KICK, 8, 1, 1 },
	{ VH_USER_SET_VRING_CALL, 8, 1, 1 },
	{ VH_USER_SET_VRING_ERR, 8, 1, 1 },
	{ VH_USER_GET_PROTOCOL_FEATURES, 0, 0, 0 },
	{ VH_USER_SET_PROTOCOL_FEATURES, 8, 0, 0 },
	{ VH_USER_GET_QUEUE_NUM, 0, 0, 0 },
	{ VH_USER_SET_VRING_ENABLE, 8, 0, 0 },
	{ VH_USER_SEND_RARP, 8, 0, 0 },
	{ VH_USER_NET_SET_MTU, 8, 0, 0 },
	{ VH_USER_SET_BACKEND_REQ_FD, 0, 1, 1 },
	{ VH_USER_IOTLB_MSG, 32, 0, 0 },
	{ VH_USER_SET_VRING_ENDIAN, 8, 0, 0 },
	{ VH_USER_CLOSE_CRYPTO_SESSION, 8, 0, 0 },
	{ VH_USER_POSTCOPY_ADVISE, 0, 0, 0 },
	{ VH_USER_POSTCOPY_LISTEN, 0, 0, 0 },
	{ VH_USER_POSTCOPY_END, 0, 0, 0 },
	{ VH_USER_GET_INFLIGHT_FD, 24, 0, 0 },
	{ VH_USER_SET_INFLIGHT_FD, 24, 1, 1 },
	{ VH_USER_GPU_SET_SOCKET, 0, 1, 1 },
	{ VH_USER_RESET_DEVICE, 0, 0, 0 },
	{ VH_USER_VRING_KICK, 8, 0, 0 },
	{ VH_USER_GET_MAX_MEM_SLOTS, 0, 0, 0 },
	{ VH_USER_ADD_MEM_REG, 40, 1, 1 },
	{ VH_USER_REM_MEM_REG, 40, 0, 1 },
	{ VH_USER_SET_STATUS, 8, 0, 0 },
	{ VH_USER_GET_STATUS, 0, 0, 0 },
	{ VH_USER_GET_SHARED_OBJECT, 16, 0, 0 },
	{ VH_USER_SET_DEVICE_STATE_FD, 8, 1, 1 },
	{ VH_USER_CHECK_DEVICE_STATE, 0, 0, 0 },
	{ VH_USER_GET_SHMEM_CONFIG, 0, 0, 0 },
};

/* Tested on their own below. */
static const uint32_t frontend_variable[] = { VH_USER_SET_MEM_TABLE, VH_USER_GET_CONFIG,
					      VH_USER_SET_CONFIG, VH_USER_CREATE_CRYPTO_SESSION };

static const struct size_rule backend_fixed[] = {
	{ VH_USER_BACKEND_IOTLB_MSG, 32, 0, 0 },
	{ VH_USER_BACKEND_CONFIG_CHANGE_MSG, 0, 0, 0 },
	{ VH_USER_BACKEND_VRING_HOST_NOTIFIER_MSG, 24, 1, 1 },
	{ VH_USER_BACKEND_VRING_CALL, 8, 0, 0 },
	{ VH_USER_BACKEND_VRING_ERR, 8, 0, 0 },
	{ VH_USER_BACKEND_SHARED_OBJECT_ADD, 16, 0, 0 },
	{ VH_USER_BACKEND_SHARED_OBJECT_REMOVE, 16, 0, 0 },
	{ VH_USER_BACKEND_SHARED_OBJECT_LOOKUP, 16, 0, 0 },
	{ VH_USER_BACKEND_SHMEM_MAP, 40, 1, 1 },
	{ VH_USER_BACKEND_SHMEM_UNMAP, 40, 0, 0 },
};

static void check_fixed(bool backend, const struct size_rule *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t req = t[i].req, sz = t[i].size;
		unsigned fds = t[i].nfds;
		unsigned max_fds = t[i].max_nfds;

		print_message("request %u size %u\n", req, sz);
		assert_int_equal(validate_sized(backend, req, 0, NULL, sz, fds), 0);
		assert_int_equal(
		    validate_sized(backend, req, VH_USER_FLAG_NEED_REPLY, NULL, sz, fds), 0);
		if (sz > 0) {
			assert_int_equal(validate_sized(backend, req, 0, NULL, sz - 1, fds),
					 -EPROTO);
			assert_int_equal(validate_sized(backend, req, 0, NULL, 0, fds), -EPROTO);
		} else {
			assert_int_equal(validate_sized(backend, req, 0, NULL, 8, fds), -EPROTO);
		}
		assert_int_equal(validate_sized(backend, req, 0, NULL, sz + 1, fds), -EPROTO);
		assert_int_equal(validate_sized(backend, req, 0, NULL, VH_USER_MAX_PAYLOAD, fds),
				 -EPROTO);
		assert_int_equal(
		    validate_sized(backend, req, 0, NULL, VH_USER_MAX_PAYLOAD + 1, fds), -EMSGSIZE);
		/* One fd too many is always wrong; one too few is wrong where one is required. */
		assert_int_equal(validate_sized(backend, req, 0, NULL, sz, max_fds), 0);
		assert_int_equal(validate_sized(backend, req, 0, NULL, sz, max_fds + 1), -EPROTO);
		if (fds)
			assert_int_equal(validate_sized(backend, req, 0, NULL, sz, fds - 1),
					 -EPROTO);
		assert_int_equal(validate_sized(backend, req, 0, NULL, sz, VH_USER_MAX_FDS + 1),
				 -EPROTO);
	}
}

static void test_frontend_fixed_sizes(void **state)
{
	(void)state;
	check_fixed(false, frontend_fixed, sizeof(frontend_fixed) / sizeof(frontend_fixed[0]));
}

static void test_backend_fixed_sizes(void **state)
{
	(void)state;
	check_fixed(true, backend_fixed, sizeof(backend_fixed) / sizeof(backend_fixed[0]));
}

/* Every request number is covered by one of the tables above: a new one needs a test. */
static void test_every_request_has_a_rule(void **state)
{
	bool seen[VH_USER_REQUEST_MAX] = { false };

	(void)state;
	for (size_t i = 0; i < sizeof(frontend_fixed) / sizeof(frontend_fixed[0]); i++)
		seen[frontend_fixed[i].req] = true;
	for (size_t i = 0; i < sizeof(frontend_variable) / sizeof(frontend_variable[0]); i++)
		seen[frontend_variable[i]] = true;
	for (uint32_t r = 1; r < VH_USER_REQUEST_MAX; r++) {
		print_message("request %u\n", r);
		assert_true(seen[r]);
	}
	assert_int_equal(sizeof(backend_fixed) / sizeof(backend_fixed[0]),
			 VH_USER_BACKEND_REQUEST_MAX - 1);
}

static void test_mem_table(void **state)
{
	/* Room past the table so that "size + 1" reads defined bytes. */
	union {
		struct vh_user_mem_table t;
		uint8_t raw[512];
	} u;
	struct vh_user_mem_table *t = &u.t;

	(void)state;
	memset(&u, 0, sizeof(u));
	for (uint32_t n = 0; n <= VH_USER_MEM_MAX_REGIONS; n++) {
		size_t sz = 8 + n * 32;

		t->nregions = n;
		assert_int_equal(validate_sized(false, VH_USER_SET_MEM_TABLE, 0, t, sz, n), 0);
		assert_int_equal(validate_sized(false, VH_USER_SET_MEM_TABLE, 0, t, sz, n + 1),
				 -EPROTO);
		if (n) {
			assert_int_equal(
			    validate_sized(false, VH_USER_SET_MEM_TABLE, 0, t, sz, n - 1), -EPROTO);
			assert_int_equal(
			    validate_sized(false, VH_USER_SET_MEM_TABLE, 0, t, sz - 32, n),
			    -EPROTO);
		}
		assert_int_equal(validate_sized(false, VH_USER_SET_MEM_TABLE, 0, t, sz - 1, n),
				 -EPROTO);
		assert_int_equal(validate_sized(false, VH_USER_SET_MEM_TABLE, 0, t, sz + 1, n),
				 -EPROTO);
		/* The old "always send all 8 slots" layout is not what the spec says. */
		if (n < 8)
			assert_int_equal(
			    validate_sized(false, VH_USER_SET_MEM_TABLE, 0, t, sizeof(*t), n),
			    -EPROTO);
	}
	/* Nine regions would need nine fds: never allowed. */
	{
		uint8_t big[8 + 9 * 32] = { 9 };

		assert_int_equal(
		    validate_sized(false, VH_USER_SET_MEM_TABLE, 0, big, sizeof(big), 8), -EPROTO);
	}
	/* A huge count must not wrap the size computation. */
	t->nregions = 0x08000000u; /* 8 + n * 32 == 8 in 32-bit arithmetic */
	assert_int_equal(validate_sized(false, VH_USER_SET_MEM_TABLE, 0, t, 8, 0), -EPROTO);
	t->nregions = UINT32_MAX;
	assert_int_equal(validate_sized(false, VH_USER_SET_MEM_TABLE, 0, t, 8, 0), -EPROTO);
	/* Too short to even hold the count. */
	for (size_t sz = 0; sz < 8; sz++)
		assert_int_equal(validate_sized(false, VH_USER_SET_MEM_TABLE, 0, t, sz, 0),
				 -EPROTO);
}

static void test_config(void **state)
{
	static const uint32_t reqs[] = { VH_USER_GET_CONFIG, VH_USER_SET_CONFIG };
	union {
		struct vh_user_config c;
		uint8_t raw[512];
	} u;
	struct vh_user_config *c = &u.c;

	(void)state;
	memset(&u, 0, sizeof(u));
	for (size_t i = 0; i < 2; i++) {
		for (uint32_t n = 0; n <= VH_USER_MAX_CONFIG_SIZE; n += 4) {
			c->size = n;
			assert_int_equal(validate_sized(false, reqs[i], 0, c, 12 + n, 0), 0);
			assert_int_equal(validate_sized(false, reqs[i], 0, c, 12 + n + 1, 0),
					 -EPROTO);
			assert_int_equal(validate_sized(false, reqs[i], 0, c, 12 + n, 1), -EPROTO);
			if (n)
				assert_int_equal(
				    validate_sized(false, reqs[i], 0, c, 12 + n - 1, 0), -EPROTO);
		}
		c->size = VH_USER_MAX_CONFIG_SIZE + 1;
		{
			uint8_t big[12 + 257];

			memset(big, 0, sizeof(big));
			memcpy(big, c, 12);
			assert_int_equal(validate_sized(false, reqs[i], 0, big, sizeof(big), 0),
					 -EPROTO);
		}
		c->size = UINT32_MAX;
		assert_int_equal(validate_sized(false, reqs[i], 0, c, 12, 0), -EPROTO);
		for (size_t sz = 0; sz < 12; sz++)
			assert_int_equal(validate_sized(false, reqs[i], 0, NULL, sz, 0), -EPROTO);
	}
}

static void test_crypto_session(void **state)
{
	(void)state;
	assert_int_equal(validate_sized(false, VH_USER_CREATE_CRYPTO_SESSION, 0, NULL, 8, 0), 0);
	assert_int_equal(validate_sized(false, VH_USER_CREATE_CRYPTO_SESSION, 0, NULL, 1100, 0), 0);
	assert_int_equal(
	    validate_sized(false, VH_USER_CREATE_CRYPTO_SESSION, 0, NULL, VH_USER_MAX_PAYLOAD, 0),
	    0);
	assert_int_equal(validate_sized(false, VH_USER_CREATE_CRYPTO_SESSION, 0, NULL, 7, 0),
			 -EPROTO);
	assert_int_equal(validate_sized(false, VH_USER_CREATE_CRYPTO_SESSION, 0, NULL, 0, 0),
			 -EPROTO);
	assert_int_equal(validate_sized(false, VH_USER_CREATE_CRYPTO_SESSION, 0, NULL, 8, 1),
			 -EPROTO);
	assert_int_equal(validate_sized(false, VH_USER_CREATE_CRYPTO_SESSION, 0, NULL,
					VH_USER_MAX_PAYLOAD + 1, 0),
			 -EMSGSIZE);
}

/* ---- fd rules --------------------------------------------------------------------------- */

static void test_vring_fd_nofd_bit(void **state)
{
	static const uint32_t reqs[] = { VH_USER_SET_VRING_KICK, VH_USER_SET_VRING_CALL,
					 VH_USER_SET_VRING_ERR };
	uint64_t u;

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		u = 3; /* ring 3, fd attached */
		assert_int_equal(validate_sized(false, reqs[i], 0, &u, 8, 1), 0);
		assert_int_equal(validate_sized(false, reqs[i], 0, &u, 8, 0), -EPROTO);
		assert_int_equal(validate_sized(false, reqs[i], 0, &u, 8, 2), -EPROTO);
		u = 3 | VH_USER_VRING_NOFD_MASK; /* ring 3, polling / no fd */
		assert_int_equal(validate_sized(false, reqs[i], 0, &u, 8, 0), 0);
		assert_int_equal(validate_sized(false, reqs[i], 0, &u, 8, 1), -EPROTO);
		u = 0xff | VH_USER_VRING_NOFD_MASK;
		assert_int_equal(validate_sized(false, reqs[i], 0, &u, 8, 0), 0);
	}
	/* The back-end's host notifier uses the same bit in its u64. */
	{
		struct vh_user_vring_area a = { .u64 = 1, .size = 4096, .offset = 0 };

		assert_int_equal(validate_sized(true, VH_USER_BACKEND_VRING_HOST_NOTIFIER_MSG, 0,
						&a, sizeof(a), 1),
				 0);
		assert_int_equal(validate_sized(true, VH_USER_BACKEND_VRING_HOST_NOTIFIER_MSG, 0,
						&a, sizeof(a), 0),
				 -EPROTO);
		a.u64 = 1 | VH_USER_VRING_NOFD_MASK;
		assert_int_equal(validate_sized(true, VH_USER_BACKEND_VRING_HOST_NOTIFIER_MSG, 0,
						&a, sizeof(a), 0),
				 0);
		assert_int_equal(validate_sized(true, VH_USER_BACKEND_VRING_HOST_NOTIFIER_MSG, 0,
						&a, sizeof(a), 1),
				 -EPROTO);
	}
}

static void test_fd_counts(void **state)
{
	(void)state;
	/* REM_MEM_REG: no fd SHOULD be sent, one MAY be accepted. */
	assert_int_equal(validate_sized(false, VH_USER_REM_MEM_REG, 0, NULL, 40, 0), 0);
	assert_int_equal(validate_sized(false, VH_USER_REM_MEM_REG, 0, NULL, 40, 1), 0);
	assert_int_equal(validate_sized(false, VH_USER_REM_MEM_REG, 0, NULL, 40, 2), -EPROTO);
	assert_int_equal(validate_sized(false, VH_USER_ADD_MEM_REG, 0, NULL, 40, 0), -EPROTO);
	assert_int_equal(validate_sized(false, VH_USER_SET_FEATURES, 0, NULL, 8, 1), -EPROTO);
	assert_int_equal(validate_sized(true, VH_USER_BACKEND_SHMEM_MAP, 0, NULL, 40, 0), -EPROTO);
	assert_int_equal(validate_sized(true, VH_USER_BACKEND_SHMEM_UNMAP, 0, NULL, 40, 1),
			 -EPROTO);
}

/* ---- header checks ---------------------------------------------------------------------- */

static void test_header_flags(void **state)
{
	struct vh_user_hdr h;
	uint64_t u = 0;

	(void)state;
	vh_proto_hdr_init(&h, VH_USER_SET_FEATURES, 0, 8);
	assert_int_equal(vh_proto_validate(false, &h, &u, 8, 0), 0);
	h.flags = 0; /* version 0 */
	assert_int_equal(vh_proto_validate(false, &h, &u, 8, 0), -EPROTO);
	h.flags = 2;
	assert_int_equal(vh_proto_validate(false, &h, &u, 8, 0), -EPROTO);
	h.flags = 3;
	assert_int_equal(vh_proto_validate(false, &h, &u, 8, 0), -EPROTO);
	h.flags = VH_USER_VERSION | VH_USER_FLAG_REPLY; /* a reply is not a request */
	assert_int_equal(vh_proto_validate(false, &h, &u, 8, 0), -EPROTO);
	h.flags = VH_USER_VERSION | (1u << 4); /* reserved */
	assert_int_equal(vh_proto_validate(false, &h, &u, 8, 0), -EPROTO);
	h.flags = VH_USER_VERSION | (1u << 31);
	assert_int_equal(vh_proto_validate(false, &h, &u, 8, 0), -EPROTO);
	h.flags = VH_USER_VERSION | VH_USER_FLAG_NEED_REPLY;
	assert_int_equal(vh_proto_validate(false, &h, &u, 8, 0), 0);
	/* hdr.size must match the bytes received. */
	h.size = 4;
	assert_int_equal(vh_proto_validate(false, &h, &u, 8, 0), -EPROTO);
	h.size = UINT32_MAX;
	assert_int_equal(vh_proto_validate(false, &h, &u, 8, 0), -EMSGSIZE);
	h.size = 8;
	assert_int_equal(vh_proto_validate(false, &h, NULL, 8, 0), -EINVAL);
	assert_int_equal(vh_proto_validate(false, NULL, &u, 8, 0), -EINVAL);
}

static void test_unknown_requests(void **state)
{
	(void)state;
	assert_int_equal(validate_sized(false, 0, 0, NULL, 0, 0), -EOPNOTSUPP);
	assert_int_equal(validate_sized(false, 45, 0, NULL, 8, 0), -EOPNOTSUPP);
	assert_int_equal(validate_sized(false, UINT32_MAX, 0, NULL, 0, 0), -EOPNOTSUPP);
	assert_int_equal(validate_sized(true, 0, 0, NULL, 0, 0), -EOPNOTSUPP);
	assert_int_equal(validate_sized(true, 11, 0, NULL, 0, 0), -EOPNOTSUPP);
	/* Unknown but malformed is still malformed. */
	assert_int_equal(validate_sized(false, 45, 0, NULL, VH_USER_MAX_PAYLOAD + 1, 0), -EMSGSIZE);
	assert_int_equal(validate_sized(false, 45, 0, NULL, 0, VH_USER_MAX_FDS + 1), -EPROTO);
	/* Back-end numbers mean something else on the front-end channel and vice versa. */
	assert_int_equal(validate_sized(true, VH_USER_GET_CONFIG, 0, NULL, 0, 0), -EOPNOTSUPP);
}

/* ---- replies ---------------------------------------------------------------------------- */

static void test_reply_basic(void **state)
{
	struct vh_user_hdr sent, h;
	uint64_t u = 0x1234;

	(void)state;
	vh_proto_hdr_init(&sent, VH_USER_GET_FEATURES, 0, 0);
	assert_int_equal(reply_sized(false, &sent, &u, 8, 0), 0);
	assert_int_equal(reply_sized(false, &sent, &u, 4, 0), -EPROTO);
	assert_int_equal(reply_sized(false, &sent, &u, 0, 0), -EPROTO);
	assert_int_equal(reply_sized(false, &sent, NULL, 9, 0), -EPROTO);
	assert_int_equal(reply_sized(false, &sent, &u, 8, 1), -EPROTO);
	assert_int_equal(reply_sized(false, &sent, NULL, VH_USER_MAX_PAYLOAD + 1, 0), -EMSGSIZE);

	/* Flags: exactly version 1 | reply. */
	vh_proto_hdr_init(&h, VH_USER_GET_FEATURES, 0, 8);
	assert_int_equal(vh_proto_validate_reply(&sent, &h, &u, 8, 0), -EPROTO);
	h.flags = VH_USER_VERSION | VH_USER_FLAG_REPLY | VH_USER_FLAG_NEED_REPLY;
	assert_int_equal(vh_proto_validate_reply(&sent, &h, &u, 8, 0), -EPROTO);
	h.flags = VH_USER_FLAG_REPLY | 2;
	assert_int_equal(vh_proto_validate_reply(&sent, &h, &u, 8, 0), -EPROTO);
	/* Answer to another request. */
	vh_proto_hdr_init(&h, VH_USER_GET_PROTOCOL_FEATURES, VH_USER_FLAG_REPLY, 8);
	assert_int_equal(vh_proto_validate_reply(&sent, &h, &u, 8, 0), -EPROTO);
	/* hdr.size disagrees with what arrived. */
	vh_proto_hdr_init(&h, VH_USER_GET_FEATURES, VH_USER_FLAG_REPLY, 16);
	assert_int_equal(vh_proto_validate_reply(&sent, &h, &u, 8, 0), -EPROTO);
}

static void test_reply_ack(void **state)
{
	struct vh_user_hdr sent;
	uint64_t u = 0;

	(void)state;
	/* SET_FEATURES has no reply of its own: only with NEED_REPLY, then a u64. */
	vh_proto_hdr_init(&sent, VH_USER_SET_FEATURES, 0, 8);
	assert_int_equal(reply_sized(false, &sent, &u, 8, 0), -EPROTO);
	sent.flags |= VH_USER_FLAG_NEED_REPLY;
	assert_int_equal(reply_sized(false, &sent, &u, 8, 0), 0);
	assert_int_equal(reply_sized(false, &sent, &u, 0, 0), -EPROTO);
	assert_int_equal(reply_sized(false, &sent, &u, 4, 0), -EPROTO);
	assert_int_equal(reply_sized(false, &sent, &u, 8, 1), -EPROTO);
	/* SET_MEM_TABLE: the ack, or a postcopy back-end's table. */
	vh_proto_hdr_init(&sent, VH_USER_SET_MEM_TABLE, VH_USER_FLAG_NEED_REPLY, 8 + 32);
	assert_int_equal(reply_sized(false, &sent, &u, 8, 0), 0);
	{
		struct vh_user_mem_table t = { .nregions = 2 };

		assert_int_equal(reply_sized(false, &sent, &t, 8 + 64, 0), 0);
		assert_int_equal(reply_sized(false, &sent, &t, 8 + 32, 0), -EPROTO);
		assert_int_equal(reply_sized(false, &sent, &t, 8 + 64, 2), -EPROTO);
	}
	{
		/* No fds travel with the reply, so only the count limit stops 9 regions. */
		uint8_t nine[8 + 9 * 32] = { 9 };

		assert_int_equal(reply_sized(false, &sent, nine, sizeof(nine), 0), -EPROTO);
	}
	/* GET_CONFIG: the asked bytes, or nothing (a back-end's refusal, as libvhost-user does). */
	{
		struct vh_user_config c = { .offset = 0, .size = 8 };

		vh_proto_hdr_init(&sent, VH_USER_GET_CONFIG, 0, 12 + 8);
		assert_int_equal(reply_sized(false, &sent, &c, 12 + 8, 0), 0);
		assert_int_equal(reply_sized(false, &sent, NULL, 0, 0), 0);
		assert_int_equal(reply_sized(false, &sent, &c, 12 + 4, 0), -EPROTO);
		assert_int_equal(reply_sized(false, &sent, &c, 4, 0), -EPROTO);
	}
	/* Back-end channel: IOTLB_MSG answered only when asked. */
	vh_proto_hdr_init(&sent, VH_USER_BACKEND_IOTLB_MSG, 0, 32);
	assert_int_equal(reply_sized(true, &sent, &u, 8, 0), -EPROTO);
	sent.flags |= VH_USER_FLAG_NEED_REPLY;
	assert_int_equal(reply_sized(true, &sent, &u, 8, 0), 0);
	assert_int_equal(reply_sized(true, &sent, &u, 8, 1), -EPROTO);
}

static void test_reply_layouts(void **state)
{
	struct vh_user_hdr sent;
	struct vh_user_config c = { .size = 16 };
	uint64_t u = 0;

	(void)state;
	vh_proto_hdr_init(&sent, VH_USER_GET_VRING_BASE, 0, 8);
	assert_int_equal(reply_sized(false, &sent, NULL, 8, 0), 0);
	assert_int_equal(reply_sized(false, &sent, NULL, 16, 0), -EPROTO);

	vh_proto_hdr_init(&sent, VH_USER_GET_CONFIG, 0, 12 + 16);
	assert_int_equal(reply_sized(false, &sent, &c, 12 + 16, 0), 0);
	assert_int_equal(reply_sized(false, &sent, &c, 12 + 15, 0), -EPROTO);

	vh_proto_hdr_init(&sent, VH_USER_GET_INFLIGHT_FD, 0, 24);
	assert_int_equal(reply_sized(false, &sent, NULL, 24, 1), 0);
	assert_int_equal(reply_sized(false, &sent, NULL, 24, 0), 0);
	assert_int_equal(reply_sized(false, &sent, NULL, 24, 2), -EPROTO);
	assert_int_equal(reply_sized(false, &sent, NULL, 8, 1), -EPROTO);

	vh_proto_hdr_init(&sent, VH_USER_SET_LOG_BASE, 0, 16);
	assert_int_equal(reply_sized(false, &sent, NULL, 0, 0), 0);
	assert_int_equal(reply_sized(false, &sent, NULL, 8, 0), 0);
	assert_int_equal(reply_sized(false, &sent, NULL, 16, 0), -EPROTO);

	/* ADD_MEM_REG: the REPLY_ACK u64, or (postcopy) the region back at the back-end's address. */
	vh_proto_hdr_init(&sent, VH_USER_ADD_MEM_REG, 0, 40);
	assert_int_equal(reply_sized(false, &sent, NULL, 40, 0), 0);
	assert_int_equal(reply_sized(false, &sent, NULL, 8, 0), 0);
	assert_int_equal(reply_sized(false, &sent, NULL, 32, 0), -EPROTO);
	assert_int_equal(reply_sized(false, &sent, NULL, 40, 1), -EPROTO);

	/* No fd: a back-end that could not open its userfaultfd (the caller reports it). */
	vh_proto_hdr_init(&sent, VH_USER_POSTCOPY_ADVISE, 0, 0);
	assert_int_equal(reply_sized(false, &sent, NULL, 0, 1), 0);
	assert_int_equal(reply_sized(false, &sent, NULL, 0, 0), 0);
	assert_int_equal(reply_sized(false, &sent, NULL, 0, 2), -EPROTO);
	assert_int_equal(reply_sized(false, &sent, NULL, 8, 1), -EPROTO);

	vh_proto_hdr_init(&sent, VH_USER_SET_DEVICE_STATE_FD, 0, 8);
	assert_int_equal(reply_sized(false, &sent, &u, 8, 1), 0);
	assert_int_equal(reply_sized(false, &sent, &u, 8, 0), -EPROTO);
	u = VH_USER_DEVICE_STATE_REPLY_NOFD_MASK;
	assert_int_equal(reply_sized(false, &sent, &u, 8, 0), 0);
	assert_int_equal(reply_sized(false, &sent, &u, 8, 1), -EPROTO);

	vh_proto_hdr_init(&sent, VH_USER_GET_SHMEM_CONFIG, 0, 0);
	assert_int_equal(reply_sized(false, &sent, NULL, 2056, 0), 0);
	assert_int_equal(reply_sized(false, &sent, NULL, 2055, 0), -EPROTO);
	assert_int_equal(reply_sized(false, &sent, NULL, 72, 0), -EPROTO); /* the 8-region draft */

	vh_proto_hdr_init(&sent, VH_USER_BACKEND_SHARED_OBJECT_LOOKUP, 0, 16);
	assert_int_equal(reply_sized(true, &sent, NULL, 8, 1), 0);
	assert_int_equal(reply_sized(true, &sent, NULL, 8, 0), 0);
	assert_int_equal(reply_sized(true, &sent, NULL, 8, 2), -EPROTO);
	assert_int_equal(reply_sized(true, &sent, NULL, 0, 1), -EPROTO);
}

static void test_reply_expected(void **state)
{
	struct vh_user_hdr h;

	(void)state;
	vh_proto_hdr_init(&h, VH_USER_GET_FEATURES, 0, 0);
	assert_true(vh_proto_reply_expected(false, &h));
	vh_proto_hdr_init(&h, VH_USER_GET_VRING_BASE, 0, 8);
	assert_true(vh_proto_reply_expected(false, &h));
	vh_proto_hdr_init(&h, VH_USER_SET_FEATURES, 0, 8);
	assert_false(vh_proto_reply_expected(false, &h));
	h.flags |= VH_USER_FLAG_NEED_REPLY;
	assert_true(vh_proto_reply_expected(false, &h));
	vh_proto_hdr_init(&h, VH_USER_SET_MEM_TABLE, 0, 8);
	assert_false(vh_proto_reply_expected(false, &h));
	vh_proto_hdr_init(&h, VH_USER_BACKEND_SHARED_OBJECT_LOOKUP, 0, 16);
	assert_true(vh_proto_reply_expected(true, &h));
	vh_proto_hdr_init(&h, VH_USER_BACKEND_IOTLB_MSG, 0, 32);
	assert_false(vh_proto_reply_expected(true, &h));
	vh_proto_hdr_init(&h, 99, 0, 0);
	assert_false(vh_proto_reply_expected(false, &h));
	h.flags |= VH_USER_FLAG_NEED_REPLY;
	assert_true(vh_proto_reply_expected(false, &h));
	assert_false(vh_proto_reply_expected(false, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_numbers),
		cmocka_unit_test(test_backend_request_numbers),
		cmocka_unit_test(test_protocol_feature_bits),
		cmocka_unit_test(test_virtio_feature_names),
		cmocka_unit_test(test_device_feature_names),
		cmocka_unit_test(test_device_names),
		cmocka_unit_test(test_struct_sizes),
		cmocka_unit_test(test_header_bytes),
		cmocka_unit_test(test_frontend_fixed_sizes),
		cmocka_unit_test(test_backend_fixed_sizes),
		cmocka_unit_test(test_every_request_has_a_rule),
		cmocka_unit_test(test_mem_table),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_crypto_session),
		cmocka_unit_test(test_vring_fd_nofd_bit),
		cmocka_unit_test(test_fd_counts),
		cmocka_unit_test(test_header_flags),
		cmocka_unit_test(test_unknown_requests),
		cmocka_unit_test(test_reply_basic),
		cmocka_unit_test(test_reply_ack),
		cmocka_unit_test(test_reply_layouts),
		cmocka_unit_test(test_reply_expected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
