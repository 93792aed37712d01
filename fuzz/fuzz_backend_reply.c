// SPDX-License-Identifier: BSD-3-Clause
/*
 * A hostile vhost-user backend against vh_dev (lib/frontend): a responder thread on the other end
 * of the unix socket answers each request the frontend sends with the correct reply changed by
 * the fuzz input (payload bytes, header fields, fds attached where none are expected, a hang-up),
 * and writes fuzz-chosen back-end requests (VH_USER_BACKEND_*) onto the back-end channel the
 * frontend opens. The main thread runs a whole device lifecycle: create (features, protocol
 * features, queue count, memory slots, back-end channel), ack, memory table, ring, start (the
 * inflight region), mask, dirty log, config space, dispatch of the back-end channel, stop.
 *
 * Input: for each request that expects a reply, one record: op byte, then
 *   op % 4 == 0: 8 bytes XORed into the first 8 payload bytes of the correct reply,
 *   op % 4 == 1: 12 bytes XORed into its header (a size beyond the message limit hangs up),
 *   op % 4 == 2: the correct reply with (op >> 2) % 4 + 1 extra memfds attached,
 *   op % 4 == 3: hang up.
 * All-zero records are a correct backend. On SET_BACKEND_REQ_FD one record: a count byte
 * (% 4), then per back-end request: request, flags, size bytes and size payload bytes. When the
 * input runs out the responder hangs up.
 * Checks: no crash, no sanitizer report, no hang (every wait is bounded), and each input leaves
 * exactly the fds it found (fds the backend pushed on the frontend are closed).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/vhost_types.h>
#include <linux/virtio_config.h>

#include <vhost/frontend.h>
#include <vhost/proto.h>
#include <vhost/sock.h>

#include "fz_fds.h"

#define MEM_SIZE 0x10000ull /* guest RAM: rings at 16 KiB and 32 KiB */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_backend {
	const uint8_t *start; /* for FUZZ_TRACE: where each record begins */
	int listen_fd;
	int memfd; /* what the backend hands out (inflight region, stray fds) */
	const uint8_t *in;
	size_t left;
};

static bool take(struct fz_backend *b, void *out, size_t n)
{
	if (b->left < n)
		return false;
	memcpy(out, b->in, n);
	b->in += n;
	b->left -= n;
	return true;
}

/* The correct reply to @m (the frontend sent a request that expects one). */
static void good_reply(const struct fz_backend *b, const struct vh_msg *m, struct vh_msg *out)
{
	vh_msg_init(out, m->hdr.request, VH_USER_FLAG_REPLY, 8);
	switch (m->hdr.request) {
	case VH_USER_GET_FEATURES:
		out->payload.u64 = 1ull << VIRTIO_F_VERSION_1 | 1ull << VHOST_F_LOG_ALL |
				   1ull << VH_USER_F_PROTOCOL_FEATURES |
				   1ull << VIRTIO_F_ACCESS_PLATFORM |
				   1ull << VIRTIO_RING_F_EVENT_IDX;
		break;
	case VH_USER_GET_PROTOCOL_FEATURES:
		out->payload.u64 = VH_USER_PROTOCOL_F_ALL_MASK;
		break;
	case VH_USER_GET_QUEUE_NUM:
		out->payload.u64 = 2;
		break;
	case VH_USER_GET_MAX_MEM_SLOTS:
		out->payload.u64 = 8;
		break;
	case VH_USER_GET_VRING_BASE:
		out->hdr.size = sizeof(struct vhost_vring_state);
		out->payload.state = m->payload.state;
		break;
	case VH_USER_GET_CONFIG:
		out->hdr.size = m->hdr.size;
		out->payload.config = m->payload.config;
		break;
	case VH_USER_GET_SHMEM_CONFIG: /* one 16 KiB region at shmid 1 for SHMEM_MAP to aim at */
		out->hdr.size = sizeof(struct vh_user_shmem_config);
		out->payload.shmem_config.nregions = 1;
		out->payload.shmem_config.memory_sizes[1] = 0x4000;
		break;
	case VH_USER_GET_INFLIGHT_FD:
		out->hdr.size = sizeof(struct vh_user_inflight);
		out->payload.inflight = m->payload.inflight;
		out->payload.inflight.mmap_size = 4096;
		out->fds[0] = b->memfd;
		out->nfds = 1;
		break;
	default:
		out->payload.u64 = 0; /* REPLY_ACK: success */
	}
}

/* Back-end requests onto the channel the frontend just handed over. */
static void backend_requests(struct fz_backend *b, int chan)
{
	uint8_t n = 0, h[3];

	if (getenv("FUZZ_TRACE"))
		fprintf(stderr, "input offset %zu: back-end requests\n",
			(size_t)(b->in - b->start));
	if (!take(b, &n, 1))
		return;
	for (unsigned i = 0; i < n % 4u; i++) {
		struct vh_msg m;

		if (!take(b, h, sizeof(h)))
			return;
		vh_msg_init(&m, h[0] % (VH_USER_BACKEND_REQUEST_MAX + 1u), h[1] & ~3u, 0);
		m.hdr.flags ^= h[1] & 3u; /* the version bits: 0 keeps them right */
		m.hdr.size = h[2];
		if (b->left < m.hdr.size)
			m.hdr.size = (uint32_t)b->left;
		take(b, m.payload.raw, m.hdr.size);
		/* The fd these carry, so that their handlers (not only the validator) run. */
		if (m.hdr.request == VH_USER_BACKEND_SHMEM_MAP ||
		    (m.hdr.request == VH_USER_BACKEND_VRING_HOST_NOTIFIER_MSG &&
		     !(m.payload.u64 & VH_USER_VRING_NOFD_MASK))) {
			m.fds[0] = b->memfd;
			m.nfds = 1;
		}
		if (vh_sock_send(chan, &m) < 0)
			return;
	}
}

/* Answer one request; false: hang up. */
static bool answer(struct fz_backend *b, int conn, const struct vh_msg *m)
{
	uint8_t op, x[12];
	struct vh_msg out;

	if (!vh_proto_reply_expected(false, &m->hdr))
		return true;
	if (getenv("FUZZ_TRACE"))
		fprintf(stderr, "input offset %zu: reply to %s\n", (size_t)(b->in - b->start),
			vh_proto_request_name(m->hdr.request));
	if (!take(b, &op, 1))
		return false;
	good_reply(b, m, &out);
	switch (op % 4) {
	case 0:
		if (!take(b, x, 8))
			return false;
		for (unsigned i = 0; i < 8; i++)
			out.payload.raw[i] ^= x[i];
		break;
	case 1:
		if (!take(b, x, 12))
			return false;
		for (unsigned i = 0; i < 12; i++)
			((uint8_t *)&out.hdr)[i] ^= x[i];
		if (out.hdr.size > VH_USER_MAX_PAYLOAD)
			return false;
		break;
	case 2:
		for (unsigned i = 0; i <= (op >> 2) % 4u && out.nfds < VH_USER_MAX_FDS; i++)
			out.fds[out.nfds++] = b->memfd;
		break;
	default:
		return false;
	}
	return vh_sock_send(conn, &out) == 0;
}

static void *responder(void *arg)
{
	struct fz_backend *b = arg;
	struct pollfd p = { .fd = b->listen_fd, .events = POLLIN };
	int conn, chan = -1;
	struct vh_msg m;

	if (poll(&p, 1, 2000) != 1 || vh_sock_accept(b->listen_fd, &conn) < 0)
		return NULL;
	while (vh_sock_recv(conn, &m, 2000) == 0) {
		bool ok;

		if (m.hdr.request == VH_USER_SET_BACKEND_REQ_FD && m.nfds == 1 && chan < 0) {
			chan = m.fds[0];
			m.nfds = 0;
			backend_requests(b, chan);
		}
		ok = answer(b, conn, &m);
		vh_msg_close_fds(&m);
		if (!ok)
			break;
	}
	close(conn);
	if (chan >= 0)
		close(chan);
	return NULL;
}

static int translate(void *opaque, uint64_t iova, int perm, uint64_t *uva, uint64_t *size)
{
	(void)opaque;
	(void)perm;
	if (iova >= MEM_SIZE)
		return -EFAULT;
	*uva = iova;
	*size = MEM_SIZE - iova;
	return 0;
}

static void quiet(void *opaque, enum vh_log_level level, const char *msg)
{
	(void)opaque;
	(void)level;
	(void)msg;
}

/* Two rings of 16 entries, each in its own 16 KiB of guest RAM; eventfds made by the library. */
static void rings(struct vh_dev *dev)
{
	for (unsigned q = 0; q < 2; q++) {
		uint64_t at = 0x4000ull * (q + 1);
		struct vh_dev_vring vr = { .index = q,
					   .num = 16,
					   .desc_gpa = at,
					   .avail_gpa = at + 0x1000,
					   .used_gpa = at + 0x2000,
					   .kick_fd = -1,
					   .call_fd = -1 };

		(void)vh_dev_vring_setup(dev, &vr);
	}
}

/* Inflight region out and back in (what a migration does with it). */
static void inflight_roundtrip(struct vh_dev *dev)
{
	uint8_t buf[8192];
	size_t sz = 0;

	if (vh_dev_inflight_size(dev, &sz) == 0 && sz <= sizeof(buf) &&
	    vh_dev_inflight_save(dev, buf, sz) == 0)
		(void)vh_dev_inflight_load(dev, buf, sz);
}

/* Every call may fail (the backend is hostile); each must return, and nothing may leak. */
static void lifecycle(struct vh_dev *dev, int memfd, uint8_t *mem)
{
	struct vh_dev_mem_region ram = { .size = MEM_SIZE, .host = mem, .fd = memfd };
	uint8_t config[24] = { 1, 2, 3 };
	uint64_t dirty[2];
	uint32_t bases[2];
	char why[128];

	(void)vh_dev_ack_features(dev, vh_dev_features(dev));
	if (vh_dev_mem_begin(dev) == 0 && vh_dev_mem_add(dev, &ram) == 0)
		(void)vh_dev_mem_commit(dev);
	rings(dev);
	(void)vh_dev_start(dev);
	(void)vh_dev_vring_mask(dev, 1, true);
	(void)vh_dev_vring_pending(dev, 1);
	(void)vh_dev_vring_mask(dev, 1, false);
	(void)vh_dev_get_config(dev, 4, config, sizeof(config));
	(void)vh_dev_set_config(dev, 0, config, 8);
	(void)vh_dev_dispatch(dev);
	(void)vh_dev_migration_blocker(dev, why, sizeof(why));
	if (vh_dev_log_start(dev) == 0) {
		(void)vh_dev_log_sync(dev, dirty, 128);
		(void)vh_dev_log_stop(dev);
	}
	(void)vh_dev_stop(dev, bases, 2);
	inflight_roundtrip(dev);
	(void)vh_dev_reset(dev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[108];
	static int memfd = -1, listen_fd = -1;
	static uint8_t *mem;
	struct fz_backend b = { .start = data, .in = data, .left = size };
	struct vh_dev_config cfg = {
		.path = path,
		.features = ~0ull,
		.num_queues = 2,
		.timeout_ms = 1000,
		.name = "fuzz",
		.log = { .fn = quiet },
		.iotlb_translate = translate,
	};
	struct fz_fds *before = malloc(sizeof(*before));
	struct vh_dev *dev = NULL;
	pthread_t th;

	if (!before)
		abort();
	if (memfd < 0) {
		char sock[100];

		memfd = memfd_create("fuzz-guest", MFD_CLOEXEC);
		if (memfd < 0 || ftruncate(memfd, MEM_SIZE) < 0)
			abort();
		mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
		snprintf(sock, sizeof(sock), "/tmp/fuzz-backend-reply-%d.sock", (int)getpid());
		snprintf(path, sizeof(path), "unix:%s", sock);
		if (mem == MAP_FAILED || vh_sock_listen(sock, &listen_fd) < 0)
			abort();
	}
	fz_fds_list(before);
	b.listen_fd = listen_fd;
	b.memfd = memfd;
	if (pthread_create(&th, NULL, responder, &b))
		abort();
	if (vh_dev_create(&cfg, &dev) == 0)
		lifecycle(dev, memfd, mem);
	vh_dev_destroy(&dev);
	pthread_join(th, NULL);
	fz_fds_check("fuzz_backend_reply", before);
	free(before);
	return 0;
}
