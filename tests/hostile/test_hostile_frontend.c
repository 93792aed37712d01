/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vh_dev against a hostile back-end, played by the scripted fake back-end of
 * tests/loopback/frontend_fake.h: every reply of the handshake broken in every way (wrong size,
 * wrong request, no REPLY flag, fds where none are expected, too many fds, never sent, hang-up),
 * huge or lying config replies, inflight regions with bogus sizes or fds, and back-end channel
 * (BACKEND_REQ) messages with bad payloads. Each must give -EPROTO / -ETIMEDOUT / -ECONNRESET
 * within vh_dev's timeout (never a hang), one log line, and leave no fd behind (every fd the
 * back-end sent is closed).
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/virtio_config.h>

#include <vhost/frontend.h>

#include "frontend_fake.h"
#include "unit_helpers.h"

#include "frontend_env.h"

#define TIMEOUT_MS 300
#define PF_ALL                                                                             \
	(PF(REPLY_ACK) | PF(MQ) | PF(CONFIGURE_MEM_SLOTS) | PF(BACKEND_REQ) | PF(CONFIG) | \
	 PF(INFLIGHT_SHMFD))

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- broken replies in the handshake ------------------------------------------------------ */

enum bad {
	B_SHORT,   /* payload shorter than the request's reply */
	B_LONG,	   /* payload longer */
	B_REQUEST, /* the reply names another request */
	B_NOREPLY, /* REPLY flag missing */
	B_FD,	   /* an fd with a reply that has none */
	B_MANYFDS, /* 9 fds */
	B_NEVER,   /* no reply at all */
	B_CLOSE,   /* hang-up instead of the reply */
	B_COUNT,
};

static const char *const bad_name[B_COUNT] = { "short", "long",	   "request", "noreply",
					       "fd",	"manyfds", "never",   "close" };

/* Make step @s answer with a broken u64 reply (or none). @fd is the fd B_FD sends. */
static void break_reply(struct fake_step *s, enum bad b, int fd)
{
	uint32_t req = s->expect.hdr.request;

	s->kind = R_MSG;
	vh_msg_init(&s->reply, req, VH_USER_FLAG_REPLY, sizeof(uint64_t));
	s->reply.payload.u64 = 1;
	switch (b) {
	case B_SHORT:
		s->reply.hdr.size = 4;
		break;
	case B_LONG:
		s->reply.hdr.size = 64;
		break;
	case B_REQUEST:
		s->reply.hdr.request =
		    req == VH_USER_GET_FEATURES ? VH_USER_GET_QUEUE_NUM : VH_USER_GET_FEATURES;
		break;
	case B_NOREPLY:
		s->reply.hdr.flags &= ~VH_USER_FLAG_REPLY;
		break;
	case B_FD:
		s->reply.fds[0] = fd;
		s->reply.nfds = 1;
		break;
	case B_MANYFDS:
		s->kind = R_TOO_MANY_FDS;
		break;
	case B_NEVER:
		s->kind = R_RAW; /* zero bytes */
		s->raw_len = 0;
		break;
	case B_CLOSE:
	case B_COUNT:
		s->kind = R_CLOSE;
		break;
	}
}

static bool allowed(int err)
{
	return err == -EPROTO || err == -ETIMEDOUT || err == -ECONNRESET;
}

/* Step @at of the full handshake gets broken reply @b: create fails cleanly, in time. */
static void one_handshake_case(unsigned at, enum bad b)
{
	struct env e;
	int64_t t0, dt;
	int fd = eventfd(0, EFD_CLOEXEC), err;

	assert_true(fd >= 0);
	env_init(&e, "hs");
	script_handshake_full(&e, F_V1 | F_PF, PF_ALL, PF_ALL, 2, 8);
	break_reply(&e.f.steps[at], b, fd);
	e.f.n = at + 1; /* nothing after the broken step */
	assert_int_equal(fake_start(&e.f), 0);
	e.timeout_ms = TIMEOUT_MS;
	t0 = now_ms();
	err = env_create(&e, PF_ALL);
	dt = now_ms() - t0;
	if (!allowed(err) || e.dev)
		fail_msg("step %u (%s) %s: create gave %d", at,
			 vh_proto_request_name(e.f.steps[at].expect.hdr.request), bad_name[b], err);
	if (dt > TIMEOUT_MS + 1000)
		fail_msg("step %u %s: create took %lld ms", at, bad_name[b], (long long)dt);
	assert_true(e.log.count >= 1);
	fake_finish(&e.f);
	close(fd);
	/* The fds the back-end sent were closed; so was everything the device opened. */
	assert_int_equal(vh_test_count_fds(), e.fds - 1);
	env_cleanup(&e);
}

static void test_handshake_replies(void **state)
{
	unsigned steps = 0;

	(void)state;
	for (unsigned at = 0; at < 8; at++) {
		struct env e;
		uint32_t req;

		/* Which requests of the script have a reply (GET_*) or an ack (NEED_REPLY). */
		env_init(&e, "probe");
		script_handshake_full(&e, F_V1 | F_PF, PF_ALL, PF_ALL, 2, 8);
		req = e.f.steps[at].expect.hdr.request;
		if (at >= e.f.n || (e.f.steps[at].kind != R_MSG &&
				    !(e.f.steps[at].expect.hdr.flags & VH_USER_FLAG_NEED_REPLY))) {
			env_cleanup(&e);
			continue;
		}
		env_cleanup(&e);
		for (enum bad b = 0; b < B_COUNT; b++)
			one_handshake_case(at, b);
		printf("  %-32s every broken reply: clean error\n", vh_proto_request_name(req));
		steps++;
	}
	assert_true(steps >= 6);
}

/* ---- config ------------------------------------------------------------------------------- */

static void config_case(const char *what, void (*mutate)(struct vh_msg *r))
{
	struct env e;
	struct fake_step *s;
	uint8_t buf[16];
	int64_t t0;
	int err;

	env_init(&e, "cfg");
	script_handshake_full(&e, F_V1 | F_PF, PF_ALL, PF_ALL, 2, 8);
	s = fake_expect(&e.f, VH_USER_GET_CONFIG, 0, NULL, VH_USER_CONFIG_HDR_SIZE + 16, 0);
	s->kind = R_MSG;
	vh_msg_init(&s->reply, VH_USER_GET_CONFIG, VH_USER_FLAG_REPLY,
		    VH_USER_CONFIG_HDR_SIZE + 16);
	s->reply.payload.config.size = 16;
	mutate(&s->reply);
	assert_int_equal(fake_start(&e.f), 0);
	e.timeout_ms = TIMEOUT_MS;
	assert_int_equal(env_create(&e, PF_ALL), 0);
	t0 = now_ms();
	err = vh_dev_get_config(e.dev, 0, buf, sizeof(buf));
	if (!allowed(err))
		fail_msg("config %s: vh_dev_get_config gave %d", what, err);
	assert_true(now_ms() - t0 < TIMEOUT_MS + 1000);
	/* Broken is sticky: nothing more is sent. */
	assert_int_equal(vh_dev_get_config(e.dev, 0, buf, sizeof(buf)), -EPROTO);
	printf("  GET_CONFIG %-22s %d: %s\n", what, err, e.log.last);
	env_finish(&e);
}

static void cfg_huge_size(struct vh_msg *r)
{
	r->payload.config.size = 0xffffffffu;
}

static void cfg_max_payload(struct vh_msg *r)
{
	r->hdr.size = VH_USER_MAX_PAYLOAD;
	r->payload.config.size = VH_USER_MAX_PAYLOAD - VH_USER_CONFIG_HDR_SIZE;
}

static void cfg_short(struct vh_msg *r)
{
	r->hdr.size = VH_USER_CONFIG_HDR_SIZE + 4;
}

static void cfg_offset(struct vh_msg *r)
{
	r->payload.config.offset = 0x7fffffff;
}

static void cfg_bigger(struct vh_msg *r)
{
	r->hdr.size = VH_USER_CONFIG_HDR_SIZE + 200;
	r->payload.config.size = 200;
}

static void test_config_replies(void **state)
{
	(void)state;
	config_case("size 0xffffffff", cfg_huge_size);
	config_case("4096-byte payload", cfg_max_payload);
	config_case("short payload", cfg_short);
	config_case("other offset", cfg_offset);
	config_case("more than asked", cfg_bigger);
}

/* ---- inflight ----------------------------------------------------------------------------- */

/* GET_INFLIGHT_FD at start answered with @size bytes over an fd of @file bytes (or @nfds). */
static void inflight_case(const char *what, uint64_t size, uint64_t offset, off_t file,
			  unsigned nfds)
{
	struct vh_user_inflight ask = { .num_queues = 2, .queue_size = RING_NUM };
	uint64_t pf = PF(REPLY_ACK) | PF(INFLIGHT_SHMFD);
	int fd = memfd_create("inflight", MFD_CLOEXEC);
	struct fake_step *s;
	struct env e;
	int err;

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, file), 0);
	env_init(&e, "infl");
	script_handshake_full(&e, F_V1 | F_PF, pf, pf, 0, 0);
	fake_expect_u64(&e.f, VH_USER_SET_FEATURES, NR, F_V1 | F_PF);
	script_mem(&e, NR);
	s = fake_expect(&e.f, VH_USER_GET_INFLIGHT_FD, 0, &ask, sizeof(ask), 0);
	if (nfds > VH_USER_MAX_FDS) {
		s->kind = R_TOO_MANY_FDS;
	} else {
		s->kind = R_MSG;
		vh_msg_init(&s->reply, VH_USER_GET_INFLIGHT_FD, VH_USER_FLAG_REPLY, sizeof(ask));
		s->reply.payload.inflight = ask;
		s->reply.payload.inflight.mmap_size = size;
		s->reply.payload.inflight.mmap_offset = offset;
		for (unsigned i = 0; i < nfds; i++)
			s->reply.fds[i] = fd;
		s->reply.nfds = nfds;
	}
	assert_int_equal(fake_start(&e.f), 0);
	e.timeout_ms = TIMEOUT_MS;
	assert_int_equal(env_create(&e, 0), 0);
	assert_int_equal(vh_dev_ack_features(e.dev, F_V1), 0);
	env_mem(&e);
	env_ring(&e, 0, 0);
	err = vh_dev_start(e.dev);
	if (!allowed(err))
		fail_msg("inflight %s: vh_dev_start gave %d", what, err);
	printf("  GET_INFLIGHT_FD %-28s %d: %s\n", what, err, e.log.last);
	fake_finish(&e.f);
	vh_dev_destroy(&e.dev);
	close(fd);
	assert_int_equal(vh_test_count_fds(), e.fds - 1);
	env_cleanup(&e);
}

static void test_inflight_replies(void **state)
{
	(void)state;
	inflight_case("size past the fd", 1ull << 40, 0, 4096, 1);
	inflight_case("offset past the fd", 4096, 1ull << 62, 4096, 1);
	inflight_case("size + offset wrap", ~0ull - 100, 4096, 8192, 1);
	inflight_case("no fd", 4096, 0, 4096, 0);
	inflight_case("two fds", 4096, 0, 4096, 2);
	inflight_case("nine fds", 4096, 0, 4096, 9);
}

/* ---- back-end channel --------------------------------------------------------------------- */

static void chan_send(int sock, const struct vh_user_hdr *h, const void *payload, size_t len,
		      unsigned nfds)
{
	struct iovec iov[2] = { { (void *)h, sizeof(*h) }, { (void *)payload, len } };
	int fds[16];

	for (unsigned i = 0; i < nfds; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	assert_true(vh_test_sendmsg(sock, iov, len ? 2 : 1, fds, nfds) >= 0);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
}

struct chan_case {
	const char *what;
	uint32_t request, flags, size; /* header as sent */
	size_t sent;		       /* payload bytes actually written */
	unsigned nfds;
	bool sticky; /* the device must be broken (-EPROTO) afterwards */
};

static const struct chan_case chan_cases[] = {
	{ "IOTLB miss, 4-byte payload", VH_USER_BACKEND_IOTLB_MSG, 0, 4, 4, 0, true },
	{ "IOTLB miss, not a miss", VH_USER_BACKEND_IOTLB_MSG, VH_USER_FLAG_NEED_REPLY,
	  sizeof(struct vhost_iotlb_msg), sizeof(struct vhost_iotlb_msg), 0, false },
	{ "config change with a payload", VH_USER_BACKEND_CONFIG_CHANGE_MSG, 0, 64, 64, 0, true },
	{ "config change with 3 fds", VH_USER_BACKEND_CONFIG_CHANGE_MSG, 0, 0, 0, 3, true },
	{ "16 fds", VH_USER_BACKEND_CONFIG_CHANGE_MSG, 0, 0, 0, 16, true },
	{ "unknown request, need reply", 77, VH_USER_FLAG_NEED_REPLY, 8, 8, 0, false },
	{ "a reply flag on a request", VH_USER_BACKEND_CONFIG_CHANGE_MSG, VH_USER_FLAG_REPLY, 0, 0,
	  0, true },
	{ "huge size", VH_USER_BACKEND_IOTLB_MSG, 0, 0xfffffff0u, 16, 0, true },
	{ "stops mid-message", VH_USER_BACKEND_IOTLB_MSG, 0, sizeof(struct vhost_iotlb_msg), 8, 0,
	  true },
};

static void chan_case(const struct chan_case *c)
{
	uint8_t payload[128] = { 0 };
	struct vh_user_hdr h;
	struct env e;
	int64_t t0;
	int err = 0, n = 0;

	env_init(&e, "chan");
	script_handshake_full(&e, F_V1 | F_PF, PF_ALL, PF_ALL, 2, 8);
	assert_int_equal(fake_start(&e.f), 0);
	e.timeout_ms = TIMEOUT_MS;
	assert_int_equal(env_create(&e, PF_ALL), 0);
	assert_true(e.f.kept[0] >= 0); /* the back-end's end of the channel */
	vh_proto_hdr_init(&h, c->request, c->flags, c->size);
	chan_send(e.f.kept[0], &h, payload, c->sent, c->nfds);
	t0 = now_ms();
	/* The VMM's loop: dispatch until the device reports the outcome. */
	while (now_ms() - t0 < TIMEOUT_MS + 1000) {
		int64_t t1 = now_ms();

		err = vh_dev_dispatch(e.dev);
		/* One dispatch never waits longer than the device's timeout. */
		if (now_ms() - t1 > TIMEOUT_MS + 200)
			fail_msg("channel %s: dispatch held the caller %lld ms", c->what,
				 (long long)(now_ms() - t1));
		if (err < 0 || (!c->sticky && ++n > 20))
			break;
		usleep(1000);
	}
	if (c->sticky) {
		if (err != -EPROTO && err != -ETIMEDOUT)
			fail_msg("channel %s: dispatch gave %d", c->what, err);
		assert_true(vh_dev_dispatch(e.dev) < 0); /* sticky */
	} else {
		assert_true(err >= 0);
	}
	if (c->flags & VH_USER_FLAG_NEED_REPLY) {
		struct vh_msg r;

		assert_int_equal(vh_sock_recv(e.f.kept[0], &r, 1000), 0);
		assert_int_equal(r.hdr.request, c->request);
		assert_true(r.payload.u64 != 0); /* refused */
	}
	printf("  channel %-32s %d: %s\n", c->what, err, e.log.last);
	env_finish(&e);
}

static void test_backend_channel(void **state)
{
	(void)state;
	for (unsigned i = 0; i < VH_ARRAY_SIZE_T(chan_cases); i++)
		chan_case(&chan_cases[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_replies),
		cmocka_unit_test(test_config_replies),
		cmocka_unit_test(test_inflight_replies),
		cmocka_unit_test(test_backend_channel),
	};

	setvbuf(stdout, NULL, _IONBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
