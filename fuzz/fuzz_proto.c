/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz the vhost-user validators with arbitrary headers, payloads and fd counts.
 *
 * Input: byte 0 selects the mode (bit 0: back-end channel, bit 1: validate as a reply),
 * byte 1 is the fd count (0..15), then a 12-byte header (in reply mode first the 12-byte
 * header of the request that was "sent"), then the payload. The payload is copied into a
 * buffer of exactly its size so ASan reports any read past it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vhost/proto.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_result(int ret)
{
	/* The documented results only; anything else is a bug. */
	if (ret != 0 && ret != -EPROTO && ret != -EMSGSIZE && ret != -EOPNOTSUPP)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vh_user_hdr sent, hdr;
	bool backend, reply;
	unsigned nfds;
	uint8_t *payload = NULL;
	size_t len;
	int ret;

	if (size < 2 + sizeof(hdr))
		return 0;
	backend = data[0] & 1;
	reply = data[0] & 2;
	nfds = data[1] & 15;
	data += 2;
	size -= 2;
	if (reply) {
		if (size < 2 * sizeof(hdr))
			return 0;
		memcpy(&sent, data, sizeof(sent));
		data += sizeof(sent);
		size -= sizeof(sent);
	}
	memcpy(&hdr, data, sizeof(hdr));
	data += sizeof(hdr);
	len = size - sizeof(hdr);
	if (len) {
		payload = malloc(len);
		if (!payload)
			return 0;
		memcpy(payload, data, len);
	}
	if (reply) {
		ret = backend ? vh_proto_validate_backend_reply(&sent, &hdr, payload, len, nfds)
			      : vh_proto_validate_reply(&sent, &hdr, payload, len, nfds);
		if (ret == -EOPNOTSUPP)
			abort(); /* replies never say "unknown" */
		(void)vh_proto_reply_expected(backend, &sent);
	} else {
		ret = vh_proto_validate(backend, &hdr, payload, len, nfds);
		(void)vh_proto_reply_expected(backend, &hdr);
	}
	check_result(ret);
	/* Accepted messages obey the hard limits whatever the request. */
	if (ret == 0 && (len > VH_USER_MAX_PAYLOAD || nfds > VH_USER_MAX_FDS || hdr.size != len))
		abort();
	if (strlen(vh_proto_request_name(hdr.request)) == 0 ||
	    strlen(vh_proto_backend_request_name(hdr.request)) == 0 ||
	    strlen(vh_proto_feature_name(hdr.flags)) == 0)
		abort();
	(void)vh_proto_virtio_feature_name(hdr.size);
	free(payload);
	return 0;
}
