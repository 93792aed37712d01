// SPDX-License-Identifier: BSD-3-Clause
/*
 * vh_dev against a backend that answers every request correctly most of the time and with a
 * mutated reply otherwise (a flipped byte in the header or payload, a truncated or padded
 * reply, stray fds, silence, a hang-up). Seeded, so a failure replays. The whole lifecycle is
 * run each time; every call must return 0 or one of the errors a broken peer may cause, and
 * nothing may crash or leak (fds counted, ASan in the sanitizer build).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/virtio_config.h>

#include <vhost/frontend.h>
#include <vhost/proto.h>
#include <vhost/sock.h>

#include "unit_helpers.h"

#define MEM_SIZE 0x10000ull
#define ROUNDS	 300

struct responder {
	char path[108];
	int listen_fd;
	uint64_t rng;
	int memfd; /* handed out as the inflight fd */
	pthread_t th;
};

static uint32_t rnd(struct responder *r)
{
	/* xorshift64*: reproducible per seed. */
	r->rng ^= r->rng >> 12;
	r->rng ^= r->rng << 25;
	r->rng ^= r->rng >> 27;
	return (uint32_t)((r->rng * 2685821657736338717ull) >> 32);
}

/* The well-formed answer to @m, or false when the request has none. */
static bool good_reply(struct responder *r, const struct vh_msg *m, struct vh_msg *out)
{
	uint64_t pf = (1ull << VH_USER_PROTOCOL_F_MQ) | (1ull << VH_USER_PROTOCOL_F_REPLY_ACK) |
		      (1ull << VH_USER_PROTOCOL_F_LOG_SHMFD) | (1ull << VH_USER_PROTOCOL_F_CONFIG) |
		      (1ull << VH_USER_PROTOCOL_F_INFLIGHT_SHMFD) |
		      (1ull << VH_USER_PROTOCOL_F_STATUS);

	vh_msg_init(out, m->hdr.request, VH_USER_FLAG_REPLY, 8);
	switch (m->hdr.request) {
	case VH_USER_GET_FEATURES:
		out->payload.u64 = (1ull << VIRTIO_F_VERSION_1) | (1ull << VHOST_F_LOG_ALL) |
				   (1ull << VH_USER_F_PROTOCOL_FEATURES);
		return true;
	case VH_USER_GET_PROTOCOL_FEATURES:
		out->payload.u64 = pf;
		return true;
	case VH_USER_GET_QUEUE_NUM:
		out->payload.u64 = 2;
		return true;
	case VH_USER_GET_VRING_BASE:
		out->hdr.size = sizeof(struct vhost_vring_state);
		out->payload.state = m->payload.state;
		return true;
	case VH_USER_GET_CONFIG:
		out->hdr.size = m->hdr.size;
		out->payload.config = m->payload.config;
		return true;
	case VH_USER_GET_INFLIGHT_FD:
		out->hdr.size = sizeof(struct vh_user_inflight);
		out->payload.inflight = m->payload.inflight;
		out->payload.inflight.mmap_size = 4096;
		out->fds[0] = r->memfd;
		out->nfds = 1;
		return true;
	case VH_USER_SET_LOG_BASE:
		return true;
	default:
		return (m->hdr.flags & VH_USER_FLAG_NEED_REPLY) != 0;
	}
}

/* Break @out one way or another; false: send nothing at all. */
static bool mutate(struct responder *r, struct vh_msg *out)
{
	uint8_t *hdr = (uint8_t *)&out->hdr;

	switch (rnd(r) % 8) {
	case 0:
		hdr[rnd(r) % VH_USER_HDR_SIZE] ^= (uint8_t)(1u << (rnd(r) % 8));
		out->hdr.size %= 300; /* keep the send legal: garbage, not a huge write */
		return true;
	case 1:
		out->payload.raw[rnd(r) % 16] ^= (uint8_t)(1 + rnd(r) % 255);
		return true;
	case 2:
		out->hdr.size = rnd(r) % 40;
		return true;
	case 3:
		out->fds[out->nfds] = STDIN_FILENO;
		out->nfds++;
		return true;
	case 4:
		out->hdr.request = rnd(r) % 50;
		return true;
	case 5:
		out->hdr.flags = rnd(r) % 16;
		return true;
	case 6:
		out->payload.u64 = rnd(r);
		return true;
	default:
		return false;
	}
}

static void *responder_thread(void *arg)
{
	struct responder *r = arg;
	struct pollfd p = { .fd = r->listen_fd, .events = POLLIN };
	struct vh_msg m, out;
	int conn;

	if (poll(&p, 1, 2000) != 1 || vh_sock_accept(r->listen_fd, &conn) < 0)
		return NULL;
	while (vh_sock_recv(conn, &m, 2000) == 0) {
		bool reply = good_reply(r, &m, &out);

		vh_msg_close_fds(&m);
		if (reply && rnd(r) % 16 == 0) {
			if (rnd(r) % 10 == 0)
				break; /* hang up */
			reply = mutate(r, &out);
		}
		if (reply && vh_sock_send(conn, &out) < 0)
			break;
	}
	close(conn);
	return NULL;
}

static bool allowed(int err)
{
	return err == 0 || err == -EPROTO || err == -ECONNRESET || err == -ETIMEDOUT ||
	       err == -EIO || err == -EINVAL || err == -EOPNOTSUPP || err == -ENOTCONN ||
	       err == -ENOENT || err == -EPIPE;
}

#define TRY(call)                                                         \
	do {                                                              \
		int err_ = (call);                                        \
		if (!allowed(err_))                                       \
			fail_msg("seed %u: %s -> %d", seed, #call, err_); \
	} while (0)

struct stats {
	unsigned created, started, stopped;
};

static void lifecycle(struct vh_dev *dev, int memfd, uint8_t *mem, unsigned seed, struct stats *st)
{
	int err;

	struct vh_dev_mem_region mr = { .size = MEM_SIZE, .host = mem, .fd = memfd };
	struct vh_dev_vring vr = { .num = 8,
				   .desc_gpa = 0x1000,
				   .avail_gpa = 0x2000,
				   .used_gpa = 0x3000,
				   .kick_fd = -1,
				   .call_fd = -1 };
	uint64_t bm[1];
	uint32_t bases[1];
	uint8_t cfg[8];
	size_t sz;

	TRY(vh_dev_ack_features(dev, vh_dev_features(dev)));
	TRY(vh_dev_mem_begin(dev));
	TRY(vh_dev_mem_add(dev, &mr));
	TRY(vh_dev_mem_commit(dev));
	TRY(vh_dev_vring_setup(dev, &vr));
	err = vh_dev_start(dev);
	TRY(err);
	st->started += err == 0;
	TRY(vh_dev_vring_mask(dev, 0, true));
	TRY(vh_dev_vring_mask(dev, 0, false));
	TRY(vh_dev_log_start(dev));
	TRY(vh_dev_log_sync(dev, bm, 64));
	TRY(vh_dev_log_stop(dev));
	TRY(vh_dev_get_config(dev, 0, cfg, sizeof(cfg)));
	TRY(vh_dev_dispatch(dev));
	err = vh_dev_stop(dev, bases, 1);
	TRY(err);
	st->stopped += err == 0;
	TRY(vh_dev_inflight_size(dev, &sz));
}

static void one_round(unsigned seed, int memfd, uint8_t *mem, struct stats *st)
{
	struct responder r = { .listen_fd = -1,
			       .rng = 0x9e3779b97f4a7c15ull * (seed + 1),
			       .memfd = memfd };
	struct vh_test_log log = { 0 };
	char path[160];
	struct vh_dev_config cfg = {
		.path = path,
		.features = ~0ull,
		.num_queues = 1,
		.timeout_ms = 50,
		.name = "garbage",
		.log = vh_test_sink(&log),
	};
	struct vh_dev *dev = NULL;
	int err;

	snprintf(r.path, sizeof(r.path), "/tmp/vhfe-garbage-%d.sock", (int)getpid());
	snprintf(path, sizeof(path), "unix:%s", r.path);
	assert_int_equal(vh_sock_listen(r.path, &r.listen_fd), 0);
	assert_int_equal(pthread_create(&r.th, NULL, responder_thread, &r), 0);
	err = vh_dev_create(&cfg, &dev);
	if (!allowed(err))
		fail_msg("seed %u: create -> %d", seed, err);
	st->created += err == 0;
	if (!err)
		lifecycle(dev, memfd, mem, seed, st);
	vh_dev_destroy(&dev);
	pthread_join(r.th, NULL);
	close(r.listen_fd);
	unlink(r.path);
}

static void test_garbage_replies(void **state)
{
	struct stats st = { 0 };
	int memfd, fds;
	uint8_t *mem = vh_test_guest_ram(MEM_SIZE, &memfd);

	fds = vh_test_count_fds();
	for (unsigned seed = 0; seed < ROUNDS; seed++) {
		one_round(seed, memfd, mem, &st);
		assert_int_equal(vh_test_count_fds(), fds);
	}
	/* The mix must reach every stage often enough to mean something. */
	printf("%u rounds: %u created, %u started, %u stopped cleanly\n", ROUNDS, st.created,
	       st.started, st.stopped);
	assert_true(st.created > ROUNDS / 4 && st.started > ROUNDS / 20 && st.stopped > 0);
	munmap(mem, MEM_SIZE);
	close(memfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_garbage_replies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
