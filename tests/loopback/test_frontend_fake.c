// SPDX-License-Identifier: BSD-3-Clause
/*
 * vh_dev over vhost-user against a scripted fake backend: the exact messages and payload bytes
 * of create / ack / memory / rings / start / stop, with and without protocol features, and the
 * error paths (wrong reply request, short and long replies, bad flags, hang-up, too many fds):
 * each must give -EPROTO or -ECONNRESET, a sticky broken state, no crash and no fd leak.
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
#include <unistd.h>

#include <cmocka.h>

#include <linux/virtio_config.h>

#include <vhost/frontend.h>

#include "frontend_fake.h"
#include "unit_helpers.h"

#include "frontend_env.h"

/* ---- lifecycle without protocol features -------------------------------------------------- */

static void test_plain_lifecycle(void **state)
{
	struct env e;
	uint32_t bases[2] = { 0, 0 };
	uint64_t v;

	env_init(&e, "plain");
	script_handshake_plain(&e.f, F_V1 | F_LOG);
	fake_expect_u64(&e.f, VH_USER_SET_FEATURES, 0, F_V1);
	script_mem(&e, 0);
	script_ring_start(&e, 0, 0, 7, false);
	script_ring_stop(&e, 0, 0, 42, false);
	assert_int_equal(fake_start(&e.f), 0);

	assert_int_equal(env_create(&e, 0), 0);
	assert_int_equal(vh_dev_backend_features(e.dev), F_V1 | F_LOG);
	assert_int_equal(vh_dev_features(e.dev), F_V1);
	assert_int_equal(vh_dev_protocol_features(e.dev), 0);
	assert_int_equal(vh_dev_max_mem_slots(e.dev), 8);
	/* Misuse: unoffered bits, start before anything is set up. */
	assert_int_equal(vh_dev_ack_features(e.dev, F_V1 | F_LOG), -EINVAL);
	assert_int_equal(vh_dev_start(e.dev), -EINVAL);
	assert_int_equal(vh_dev_ack_features(e.dev, F_V1), 0);
	env_mem(&e);
	env_ring(&e, 0, 7);
	assert_int_equal(vh_dev_vring_kick_fd(e.dev, 0), e.kick);
	assert_int_equal(vh_dev_vring_call_fd(e.dev, 0), e.call);
	assert_int_equal(vh_dev_start(e.dev), 0);
	/* Started rings are kicked once: requests already queued get looked at. */
	assert_int_equal(read(e.kick, &v, 8), 8);
	assert_int_equal(v, 1);
	assert_int_equal(vh_dev_start(e.dev), -EBUSY);
	assert_int_equal(vh_dev_ack_features(e.dev, F_V1), -EBUSY);
	assert_int_equal(vh_dev_set_busyloop_timeout(e.dev, 0, 50), -EOPNOTSUPP);
	assert_int_equal(vh_dev_get_config(e.dev, 0, bases, 4), -EOPNOTSUPP);
	/* A table that would unmap the running ring is refused before anything is sent. */
	{
		struct vh_dev_mem_region hi = { .gpa = 0x8000,
						.size = 0x8000,
						.host = e.mem + 0x8000,
						.fd = e.memfd,
						.fd_offset = 0x8000 };

		assert_int_equal(vh_dev_mem_begin(e.dev), 0);
		assert_int_equal(vh_dev_mem_add(e.dev, &hi), 0);
		assert_int_equal(vh_dev_mem_commit(e.dev), -EINVAL);
		assert_non_null(strstr(e.log.last, "ring 0 would be unmapped"));
	}
	assert_int_equal(vh_dev_stop(e.dev, bases, 2), 0);
	assert_int_equal(bases[0], 42);
	assert_int_equal(vh_dev_stop(e.dev, bases, 2), -EINVAL);
	env_finish(&e);
}

/* ---- lifecycle with protocol features and REPLY_ACK -------------------------------------- */

static void test_full_lifecycle(void **state)
{
	uint64_t pf = PF(MQ) | PF(REPLY_ACK) | PF(STATUS) | PF(LOG_SHMFD);
	struct env e;
	uint32_t bases[2] = { 0, 0 };

	env_init(&e, "full");
	/* The offer includes bits this library does not implement: they are not acked. */
	script_handshake_full(&e, F_V1 | F_PF, pf | PF(CRYPTO_SESSION) | PF(SHMEM), pf, 2, 0);
	fake_expect_u64(&e.f, VH_USER_SET_FEATURES, NR, F_V1 | F_PF);
	script_mem(&e, NR);
	script_ring_start(&e, NR, 0, 0, false);
	script_ring_start(&e, NR, 1, 0, false);
	fake_expect_state(&e.f, VH_USER_SET_VRING_ENABLE, NR, 0, 1);
	fake_expect_state(&e.f, VH_USER_SET_VRING_ENABLE, NR, 1, 1);
	fake_expect_u64(&e.f, VH_USER_SET_STATUS, NR, 0xf);
	script_ring_stop(&e, NR, 0, 3, true);
	script_ring_stop(&e, NR, 1, 4, true);
	assert_int_equal(fake_start(&e.f), 0);

	assert_int_equal(env_create(&e, 0), 0);
	assert_int_equal(vh_dev_protocol_features(e.dev), pf);
	assert_int_equal(vh_dev_max_queues(e.dev), 2);
	assert_int_equal(vh_dev_features(e.dev), F_V1);
	assert_int_equal(vh_dev_ack_features(e.dev, F_V1), 0);
	env_mem(&e);
	env_ring(&e, 0, 0);
	env_ring(&e, 1, 0);
	assert_int_equal(vh_dev_start(e.dev), 0);
	assert_int_equal(vh_dev_stop(e.dev, bases, 2), 0);
	assert_int_equal(bases[0], 3);
	assert_int_equal(bases[1], 4);
	env_finish(&e);
}

/*
 * INBAND_NOTIFICATIONS (asked for): the ring's eventfds stay with the frontend (SET_VRING_CALL /
 * ERR / KICK carry the NOFD bit and no fd), kicks are VRING_KICK {index, 0} with NEED_REPLY,
 * and a BACKEND_VRING_CALL on the back-end channel lands in the ring's call eventfd.
 */
static void test_inband_notifications(void **state)
{
	uint64_t pf = PF(REPLY_ACK) | PF(BACKEND_REQ) | PF(INBAND_NOTIFICATIONS);
	uint64_t nofd = VH_USER_VRING_NOFD_MASK, v;
	struct vh_msg call;
	struct env e;

	env_init(&e, "inband");
	script_handshake_full(&e, F_V1 | F_PF, pf, pf, 0, 0);
	fake_expect_u64(&e.f, VH_USER_SET_FEATURES, NR, F_V1 | F_PF);
	script_mem(&e, NR);
	fake_expect_state(&e.f, VH_USER_SET_VRING_NUM, NR, 0, RING_NUM);
	fake_expect_state(&e.f, VH_USER_SET_VRING_BASE, NR, 0, 0);
	script_ring_addr(&e, NR, 0, false);
	fake_expect(&e.f, VH_USER_SET_VRING_CALL, NR, &nofd, 8, 0);
	fake_expect(&e.f, VH_USER_SET_VRING_ERR, NR, &nofd, 8, 0);
	fake_expect(&e.f, VH_USER_SET_VRING_KICK, NR, &nofd, 8, 0);
	fake_expect_state(&e.f, VH_USER_SET_VRING_ENABLE, NR, 0, 1);
	fake_expect_state(&e.f, VH_USER_VRING_KICK, NR, 0, 0); /* the kick after start */
	fake_expect_state(&e.f, VH_USER_VRING_KICK, NR, 0, 0); /* vh_dev_vring_kick() */
	script_ring_stop(&e, NR, 0, 0, true);
	assert_int_equal(fake_start(&e.f), 0);

	/* Not in the default set: asked for explicitly (it needs BACKEND_REQ and REPLY_ACK). */
	assert_int_equal(env_create(&e, pf), 0);
	assert_int_equal(vh_dev_protocol_features(e.dev), pf);
	assert_int_equal(vh_dev_ack_features(e.dev, F_V1), 0);
	env_mem(&e);
	env_ring(&e, 0, 0);
	assert_int_equal(vh_dev_start(e.dev), 0);
	assert_int_equal(vh_dev_vring_kick(e.dev, 0), 0);
	assert_int_equal(vh_dev_vring_kick(e.dev, 1), -EINVAL);

	vh_msg_init(&call, VH_USER_BACKEND_VRING_CALL, 0, sizeof(struct vhost_vring_state));
	call.payload.state.index = 0;
	assert_int_equal(vh_sock_send(e.f.kept[0], &call), 0);
	while (read(e.call, &v, 8) != 8) {
		assert_true(vh_dev_dispatch(e.dev) >= 0);
		usleep(1000);
	}
	/* A call for a ring that does not exist is refused (REPLY_ACK non-zero), nothing broken. */
	call.hdr.flags |= VH_USER_FLAG_NEED_REPLY;
	call.payload.state.index = 7;
	assert_int_equal(vh_sock_send(e.f.kept[0], &call), 0);
	for (int i = 0; i < 200; i++) {
		assert_true(vh_dev_dispatch(e.dev) >= 0);
		if (vh_sock_recv(e.f.kept[0], &call, 10) == 0)
			break;
	}
	assert_int_equal(call.hdr.flags, VH_USER_VERSION | VH_USER_FLAG_REPLY);
	assert_true(call.payload.u64 != 0);
	assert_int_equal(vh_dev_stop(e.dev, NULL, 0), 0);
	env_finish(&e);
}

/* A REPLY_ACK with a non-zero status is a refusal: -EIO, the device stays usable. */
static void test_ack_failure_unwinds(void **state)
{
	uint64_t pf = PF(REPLY_ACK);
	struct env e;
	struct fake_step *s;

	env_init(&e, "ackfail");
	script_handshake_full(&e, F_V1 | F_PF, pf, pf, 0, 0);
	fake_expect_u64(&e.f, VH_USER_SET_FEATURES, NR, F_V1 | F_PF);
	script_mem(&e, NR);
	script_ring_start(&e, NR, 0, 0, false);
	s = fake_expect_state(&e.f, VH_USER_SET_VRING_ENABLE, NR, 0, 1);
	s->kind = R_MSG;
	vh_msg_init(&s->reply, VH_USER_SET_VRING_ENABLE, VH_USER_FLAG_REPLY, 8);
	s->reply.payload.u64 = 1;
	/* Unwind of the started ring: disable and read its base back. */
	script_ring_stop(&e, NR, 0, 0, true);
	assert_int_equal(fake_start(&e.f), 0);

	assert_int_equal(env_create(&e, 0), 0);
	assert_int_equal(vh_dev_ack_features(e.dev, F_V1), 0);
	env_mem(&e);
	env_ring(&e, 0, 0);
	assert_int_equal(vh_dev_start(e.dev), -EIO);
	assert_string_equal(e.log.last,
			    "fake: VHOST_USER_SET_VRING_ENABLE: backend failed the request (status "
			    "0x1): Input/output error");
	assert_int_equal(vh_dev_stop(e.dev, NULL, 0), -EINVAL);
	env_finish(&e);
}

/* ---- broken replies during create --------------------------------------------------------- */

struct bad_case {
	const char *tag;
	int want;
	void (*script)(struct fake_step *s);
};

static void bad_wrong_request(struct fake_step *s)
{
	s->reply.hdr.request = VH_USER_GET_PROTOCOL_FEATURES;
}

static void bad_short(struct fake_step *s)
{
	s->reply.hdr.size = 4;
}

static void bad_no_reply_flag(struct fake_step *s)
{
	s->reply.hdr.flags = VH_USER_VERSION;
}

static void bad_version(struct fake_step *s)
{
	s->reply.hdr.flags = 2 | VH_USER_FLAG_REPLY;
}

static void bad_need_reply(struct fake_step *s)
{
	s->reply.hdr.flags |= VH_USER_FLAG_NEED_REPLY;
}

static void bad_long(struct fake_step *s)
{
	/* The header says 8 bytes; 16 follow. The extra bytes are caught after the reply. */
	struct vh_user_hdr h;
	uint8_t b[VH_USER_HDR_SIZE + 16] = { 0 };

	vh_proto_hdr_init(&h, VH_USER_GET_FEATURES, VH_USER_FLAG_REPLY, 8);
	memcpy(b, &h, sizeof(h));
	fake_reply_raw(s, b, sizeof(b));
}

static void bad_close(struct fake_step *s)
{
	s->kind = R_CLOSE;
}

static void bad_many_fds(struct fake_step *s)
{
	s->kind = R_TOO_MANY_FDS;
}

static void bad_unexpected_fd(struct fake_step *s)
{
	s->reply.fds[0] = STDIN_FILENO;
	s->reply.nfds = 1;
}

static void bad_truncated(struct fake_step *s)
{
	/* Header promises 8 bytes, 4 come, then silence: the timeout fires. */
	struct vh_user_hdr h;
	uint8_t b[VH_USER_HDR_SIZE + 4] = { 0 };

	vh_proto_hdr_init(&h, VH_USER_GET_FEATURES, VH_USER_FLAG_REPLY, 8);
	memcpy(b, &h, sizeof(h));
	fake_reply_raw(s, b, sizeof(b));
}

static const struct bad_case bad_cases[] = {
	{ "wrongreq", -EPROTO, bad_wrong_request },    { "short", -EPROTO, bad_short },
	{ "noreplyflag", -EPROTO, bad_no_reply_flag }, { "version", -EPROTO, bad_version },
	{ "needreply", -EPROTO, bad_need_reply },      { "long", -EPROTO, bad_long },
	{ "close", -ECONNRESET, bad_close },	       { "manyfds", -EPROTO, bad_many_fds },
	{ "fd", -EPROTO, bad_unexpected_fd },	       { "truncated", -ETIMEDOUT, bad_truncated },
};

static void test_bad_replies_at_create(void **state)
{
	for (unsigned i = 0; i < VH_ARRAY_SIZE_T(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct fake_step *s;
		struct env e;
		int fds;

		env_init(&e, c->tag);
		fds = vh_test_count_fds();
		s = fake_get_u64(&e.f, VH_USER_GET_FEATURES, F_V1);
		c->script(s);
		assert_int_equal(fake_start(&e.f), 0);
		e.timeout_ms = 300;
		assert_int_equal(env_create(&e, 0), c->want);
		assert_null(e.dev);
		assert_int_equal(e.log.count, 1); /* one line, where it was detected */
		assert_non_null(strstr(e.log.last, "fake: VHOST_USER_GET_FEATURES: "));
		assert_string_equal(fake_finish(&e.f), "");
		assert_int_equal(vh_test_count_fds(), fds);
		env_cleanup(&e);
	}
}

/* A broken reply after create: -EPROTO now and from then on, without talking again. */
static void test_sticky_broken(void **state)
{
	struct env e;
	struct fake_step *s;
	uint32_t bases[1];

	env_init(&e, "sticky");
	script_handshake_plain(&e.f, F_V1);
	fake_expect_u64(&e.f, VH_USER_SET_FEATURES, 0, F_V1);
	script_mem(&e, 0);
	script_ring_start(&e, 0, 0, 0, false);
	s = fake_expect_state(&e.f, VH_USER_GET_VRING_BASE, 0, 0, 0);
	s->kind = R_MSG;
	vh_msg_init(&s->reply, VH_USER_GET_VRING_BASE, VH_USER_FLAG_REPLY, 4); /* too short */
	assert_int_equal(fake_start(&e.f), 0);

	assert_int_equal(env_create(&e, 0), 0);
	assert_int_equal(vh_dev_ack_features(e.dev, F_V1), 0);
	env_mem(&e);
	env_ring(&e, 0, 0);
	assert_int_equal(vh_dev_start(e.dev), 0);
	/* The used index in guest memory stands in for the base the backend did not give. */
	*(uint16_t *)(e.mem + USED_GPA + 2) = 9;
	assert_int_equal(vh_dev_stop(e.dev, bases, 1), -EPROTO);
	assert_int_equal(bases[0], 9);
	assert_int_equal(vh_dev_start(e.dev), -EPROTO);
	assert_int_equal(vh_dev_ack_features(e.dev, F_V1), -EPROTO);
	assert_int_equal(vh_dev_dispatch(e.dev), -EPROTO);
	env_finish(&e);
}

/* A backend that hangs up mid-start: -ECONNRESET, the started rings are forgotten. */
static void test_close_midway(void **state)
{
	uint64_t pf = PF(REPLY_ACK);
	struct env e;
	struct fake_step *s;

	env_init(&e, "midway");
	script_handshake_full(&e, F_V1 | F_PF, pf, pf, 0, 0);
	fake_expect_u64(&e.f, VH_USER_SET_FEATURES, NR, F_V1 | F_PF);
	script_mem(&e, NR);
	fake_expect_state(&e.f, VH_USER_SET_VRING_NUM, NR, 0, 8);
	s = fake_expect_state(&e.f, VH_USER_SET_VRING_BASE, NR, 0, 0);
	s->kind = R_CLOSE;
	assert_int_equal(fake_start(&e.f), 0);

	assert_int_equal(env_create(&e, 0), 0);
	assert_int_equal(vh_dev_ack_features(e.dev, F_V1), 0);
	env_mem(&e);
	env_ring(&e, 0, 0);
	assert_int_equal(vh_dev_start(e.dev), -ECONNRESET);
	assert_non_null(strstr(e.log.last, "fake: VHOST_USER_SET_VRING_BASE: receive reply: "));
	assert_int_equal(vh_dev_stop(e.dev, NULL, 0), -EINVAL);
	assert_int_equal(vh_dev_get_config(e.dev, 0, &s, 4), -ECONNRESET);
	assert_int_equal(vh_dev_dispatch(e.dev), -ECONNRESET);
	env_finish(&e);
}

/* ---- notifier masking --------------------------------------------------------------------- */

static void test_mask_pending(void **state)
{
	struct env e;
	struct fake_step *s;
	uint64_t v = 1;

	env_init(&e, "mask");
	/* REPLY_ACK: the fake has the private fd when vh_dev_vring_mask() returns. */
	script_handshake_full(&e, F_V1 | F_PF, PF(REPLY_ACK), PF(REPLY_ACK), 0, 0);
	fake_expect_u64(&e.f, VH_USER_SET_FEATURES, NR, F_V1 | F_PF);
	script_mem(&e, NR);
	script_ring_start(&e, NR, 0, 0, false);
	fake_expect_state(&e.f, VH_USER_SET_VRING_ENABLE, NR, 0, 1);
	s = fake_expect_u64(&e.f, VH_USER_SET_VRING_CALL, NR, 0);
	s->expect.nfds = 1;
	s->keep = 1; /* the private fd */
	s = fake_expect_u64(&e.f, VH_USER_SET_VRING_CALL, NR, 0);
	s->expect.nfds = 1;
	script_ring_stop(&e, NR, 0, 0, true);
	assert_int_equal(fake_start(&e.f), 0);

	assert_int_equal(env_create(&e, 0), 0);
	assert_int_equal(vh_dev_ack_features(e.dev, F_V1), 0);
	env_mem(&e);
	env_ring(&e, 0, 0);
	assert_int_equal(vh_dev_start(e.dev), 0);
	assert_int_equal(vh_dev_vring_pending(e.dev, 0), 0);
	assert_int_equal(vh_dev_vring_mask(e.dev, 0, true), 0);
	assert_int_equal(vh_dev_vring_mask(e.dev, 0, true), 0); /* no second message */
	/* The backend calls while masked: nothing reaches the caller's fd, pending says 1 once. */
	assert_int_equal(write(e.f.kept[1], &v, 8), 8);
	assert_int_equal(read(e.call, &v, 8), -1);
	assert_int_equal(vh_dev_vring_pending(e.dev, 0), 1);
	assert_int_equal(vh_dev_vring_pending(e.dev, 0), 0);
	/* Called again while masked, then unmasked: the call is forwarded, not lost. */
	assert_int_equal(write(e.f.kept[1], &v, 8), 8);
	assert_int_equal(vh_dev_vring_mask(e.dev, 0, false), 0);
	assert_int_equal(read(e.call, &v, 8), 8);
	assert_int_equal(v, 1);
	assert_int_equal(vh_dev_vring_pending(e.dev, 0), 0);
	assert_int_equal(vh_dev_vring_mask(e.dev, 5, true), -EINVAL);
	assert_int_equal(vh_dev_stop(e.dev, NULL, 0), 0);
	env_finish(&e);
}

/* ---- memory slots ------------------------------------------------------------------------- */

static void expect_mem_reg(struct env *e, uint32_t req, uint64_t gpa, uint64_t size)
{
	struct vh_user_mem_reg r = { 0 };

	r.region.guest_phys_addr = gpa;
	r.region.memory_size = size;
	r.region.userspace_addr = (uint64_t)(uintptr_t)e->mem + gpa;
	r.region.mmap_offset = gpa;
	fake_expect(&e->f, req, NR, &r, sizeof(r), req == VH_USER_ADD_MEM_REG);
}

static void mem_regions(struct env *e, const uint64_t (*r)[2], unsigned n)
{
	assert_int_equal(vh_dev_mem_begin(e->dev), 0);
	for (unsigned i = 0; i < n; i++) {
		struct vh_dev_mem_region m = {
			.gpa = r[i][0],
			.size = r[i][1],
			.host = e->mem + r[i][0],
			.fd = e->memfd,
			.fd_offset = r[i][0],
		};
		assert_int_equal(vh_dev_mem_add(e->dev, &m), 0);
	}
}

static void test_mem_slots(void **state)
{
	uint64_t pf = PF(REPLY_ACK) | PF(CONFIGURE_MEM_SLOTS);
	const uint64_t two[][2] = { { 0, 0x4000 }, { 0x8000, 0x4000 } };
	const uint64_t moved[][2] = { { 0, 0x4000 }, { 0xc000, 0x2000 } };
	const uint64_t five[][2] = { { 0, 0x1000 },
				     { 0x2000, 0x1000 },
				     { 0x4000, 0x1000 },
				     { 0x6000, 0x1000 },
				     { 0x8000, 0x1000 } };
	struct env e;

	env_init(&e, "slots");
	script_handshake_full(&e, F_V1 | F_PF, pf, pf, 0, 4);
	expect_mem_reg(&e, VH_USER_ADD_MEM_REG, 0, 0x4000);
	expect_mem_reg(&e, VH_USER_ADD_MEM_REG, 0x8000, 0x4000);
	expect_mem_reg(&e, VH_USER_REM_MEM_REG, 0x8000, 0x4000);
	expect_mem_reg(&e, VH_USER_ADD_MEM_REG, 0xc000, 0x2000);
	assert_int_equal(fake_start(&e.f), 0);

	assert_int_equal(env_create(&e, 0), 0);
	assert_int_equal(vh_dev_max_mem_slots(e.dev), 4);
	mem_regions(&e, two, 2);
	assert_int_equal(vh_dev_mem_commit(e.dev), 0);
	assert_string_equal(e.f.fail, "");
	/* Unchanged: nothing sent. */
	mem_regions(&e, two, 2);
	assert_int_equal(vh_dev_mem_commit(e.dev), 0);
	mem_regions(&e, moved, 2);
	assert_int_equal(vh_dev_mem_commit(e.dev), 0);
	/* Over the backend's slot limit: refused before anything is sent. */
	mem_regions(&e, five, 5);
	assert_int_equal(vh_dev_mem_commit(e.dev), -ENOSPC);
	assert_int_equal(vh_dev_mem_commit(e.dev), -EINVAL);
	env_finish(&e);
}

/* The backend's REPLY_ACK refusal (u64 1) of the step. */
static void nak(struct fake_step *s, uint32_t req)
{
	s->kind = R_MSG;
	vh_msg_init(&s->reply, req, VH_USER_FLAG_REPLY, sizeof(uint64_t));
	s->reply.payload.u64 = 1;
}

/*
 * A table update the backend refuses half-way (NAK on the second ADD_MEM_REG): what it applied
 * is taken back, newest first, and the frontend keeps the old table, so the next commits diff
 * against what the backend really holds. Then the backend drops the connection in the middle of
 * a sequence: the frontend keeps the old table and the reconnect sends exactly that one.
 */
static void test_mem_rollback(void **state)
{
	uint64_t pf = PF(REPLY_ACK) | PF(CONFIGURE_MEM_SLOTS);
	const uint64_t two[][2] = { { 0, 0x4000 }, { 0x8000, 0x4000 } };
	const uint64_t three[][2] = { { 0, 0x4000 }, { 0xc000, 0x1000 }, { 0xe000, 0x1000 } };
	const uint64_t moved[][2] = { { 0, 0x4000 }, { 0xc000, 0x2000 } };
	const uint64_t last[][2] = { { 0, 0x4000 }, { 0xf000, 0x1000 } };
	struct env e;

	env_init(&e, "rollback");
	script_handshake_full(&e, F_V1 | F_PF, pf, pf, 0, 4);
	expect_mem_reg(&e, VH_USER_ADD_MEM_REG, 0, 0x4000);
	expect_mem_reg(&e, VH_USER_ADD_MEM_REG, 0x8000, 0x4000);
	/* two -> three: REM 0x8000, ADD 0xc000, ADD 0xe000 refused; undo ADD 0xc000, REM 0x8000. */
	expect_mem_reg(&e, VH_USER_REM_MEM_REG, 0x8000, 0x4000);
	expect_mem_reg(&e, VH_USER_ADD_MEM_REG, 0xc000, 0x1000);
	expect_mem_reg(&e, VH_USER_ADD_MEM_REG, 0xe000, 0x1000);
	nak(&e.f.steps[e.f.n - 1], VH_USER_ADD_MEM_REG);
	expect_mem_reg(&e, VH_USER_REM_MEM_REG, 0xc000, 0x1000);
	expect_mem_reg(&e, VH_USER_ADD_MEM_REG, 0x8000, 0x4000);
	/* two -> moved, diffed against two (the backend's table), not against three. */
	expect_mem_reg(&e, VH_USER_REM_MEM_REG, 0x8000, 0x4000);
	expect_mem_reg(&e, VH_USER_ADD_MEM_REG, 0xc000, 0x2000);
	/* moved -> three: the backend hangs up at the second ADD_MEM_REG. */
	expect_mem_reg(&e, VH_USER_REM_MEM_REG, 0xc000, 0x2000);
	expect_mem_reg(&e, VH_USER_ADD_MEM_REG, 0xc000, 0x1000);
	expect_mem_reg(&e, VH_USER_ADD_MEM_REG, 0xe000, 0x1000);
	e.f.steps[e.f.n - 1].kind = R_REACCEPT;
	/* The new connection gets the table the frontend kept: moved. */
	script_handshake_full(&e, F_V1 | F_PF, pf, pf, 0, 4);
	expect_mem_reg(&e, VH_USER_ADD_MEM_REG, 0, 0x4000);
	expect_mem_reg(&e, VH_USER_ADD_MEM_REG, 0xc000, 0x2000);
	/* An undo that fails too leaves the device broken (the backend's table is unknown). */
	expect_mem_reg(&e, VH_USER_REM_MEM_REG, 0xc000, 0x2000);
	expect_mem_reg(&e, VH_USER_ADD_MEM_REG, 0xf000, 0x1000);
	nak(&e.f.steps[e.f.n - 1], VH_USER_ADD_MEM_REG);
	expect_mem_reg(&e, VH_USER_ADD_MEM_REG, 0xc000, 0x2000);
	nak(&e.f.steps[e.f.n - 1], VH_USER_ADD_MEM_REG);
	assert_int_equal(fake_start(&e.f), 0);

	assert_int_equal(env_create(&e, 0), 0);
	mem_regions(&e, two, 2);
	assert_int_equal(vh_dev_mem_commit(e.dev), 0);
	mem_regions(&e, three, 3);
	assert_int_equal(vh_dev_mem_commit(e.dev), -EIO);
	assert_string_equal(e.f.fail, "");
	mem_regions(&e, two, 2);
	assert_int_equal(vh_dev_mem_commit(e.dev), 0); /* unchanged: nothing sent */
	mem_regions(&e, moved, 2);
	assert_int_equal(vh_dev_mem_commit(e.dev), 0);
	mem_regions(&e, three, 3);
	assert_int_equal(vh_dev_mem_commit(e.dev), -ECONNRESET);
	assert_int_equal(vh_dev_reconnect(e.dev), 0);
	assert_string_equal(e.f.fail, "");

	mem_regions(&e, last, 2);
	assert_int_equal(vh_dev_mem_commit(e.dev), -EIO);
	mem_regions(&e, moved, 2);
	assert_int_equal(vh_dev_mem_commit(e.dev), -EPROTO);
	env_finish(&e);
}

/* A whole SET_MEM_TABLE refused: the backend kept its table, so does the frontend. */
static void test_mem_table_refused(void **state)
{
	const uint64_t small[][2] = { { 0, 0x4000 } };
	struct env e;

	env_init(&e, "memnak");
	script_handshake_full(&e, F_V1 | F_PF, PF(REPLY_ACK), PF(REPLY_ACK), 0, 0);
	script_mem(&e, NR);
	fake_expect(&e.f, VH_USER_SET_MEM_TABLE, NR, NULL, 8 + 32, 1);
	nak(&e.f.steps[e.f.n - 1], VH_USER_SET_MEM_TABLE);
	assert_int_equal(fake_start(&e.f), 0);
	assert_int_equal(env_create(&e, 0), 0);
	env_mem(&e);
	mem_regions(&e, small, 1);
	assert_int_equal(vh_dev_mem_commit(e.dev), -EIO);
	env_mem(&e); /* the table the backend has: nothing sent */
	env_finish(&e);
}

/* Regions without an fd cannot be shown to a vhost-user backend. */
static void test_mem_needs_fd(void **state)
{
	struct env e;
	struct vh_dev_mem_region m = { .gpa = 0, .size = 0x1000, .fd = -1 };

	env_init(&e, "nofd");
	script_handshake_plain(&e.f, F_V1);
	assert_int_equal(fake_start(&e.f), 0);
	assert_int_equal(env_create(&e, 0), 0);
	m.host = e.mem;
	assert_int_equal(vh_dev_mem_add(e.dev, &m), -EINVAL); /* no batch open */
	assert_int_equal(vh_dev_mem_begin(e.dev), 0);
	assert_int_equal(vh_dev_mem_add(e.dev, &m), -EINVAL);
	env_finish(&e);
}

/* Packed ring: any size, base = last_avail_idx | wrap << 15, 4-byte event areas. */
static void test_packed_ring(void **state)
{
	uint64_t f = F_V1 | (1ull << VIRTIO_F_RING_PACKED);
	struct vh_dev_vring vr = {
		.index = 0,
		.num = 6,
		.packed = true,
		.desc_gpa = DESC_GPA,
		.avail_gpa = MEM_SIZE - 8,
		.used_gpa = MEM_SIZE - 4,
		.base = (1u << 15) | 3,
		.kick_fd = -1,
		.call_fd = -1,
	};
	uint64_t host, u = 0;
	struct vhost_vring_addr a;
	struct env e;

	env_init(&e, "packed");
	host = (uint64_t)(uintptr_t)e.mem;
	a = (struct vhost_vring_addr){ .desc_user_addr = host + DESC_GPA,
				       .avail_user_addr = host + MEM_SIZE - 8,
				       .used_user_addr = host + MEM_SIZE - 4,
				       .log_guest_addr = MEM_SIZE - 4 };
	script_handshake_plain(&e.f, f);
	fake_expect_u64(&e.f, VH_USER_SET_FEATURES, 0, f);
	script_mem(&e, 0);
	fake_expect_state(&e.f, VH_USER_SET_VRING_NUM, 0, 0, 6);
	fake_expect_state(&e.f, VH_USER_SET_VRING_BASE, 0, 0, (1u << 15) | 3);
	fake_expect(&e.f, VH_USER_SET_VRING_ADDR, 0, &a, sizeof(a), 0);
	fake_expect(&e.f, VH_USER_SET_VRING_CALL, 0, &u, 8, 1);
	fake_expect(&e.f, VH_USER_SET_VRING_ERR, 0, &u, 8, 1);
	fake_expect(&e.f, VH_USER_SET_VRING_KICK, 0, &u, 8, 1);
	script_ring_stop(&e, 0, 0, 5, false);
	assert_int_equal(fake_start(&e.f), 0);

	assert_int_equal(env_create(&e, 0), 0);
	/* Packed before RING_PACKED is acked, a split ring of a size that is not a power of 2. */
	assert_int_equal(vh_dev_vring_setup(e.dev, &vr), -EINVAL);
	assert_int_equal(vh_dev_ack_features(e.dev, f), 0);
	vr.packed = false;
	assert_int_equal(vh_dev_vring_setup(e.dev, &vr), -EINVAL);
	vr.packed = true;
	assert_int_equal(vh_dev_vring_setup(e.dev, &vr), 0);
	/* The library made the eventfds. */
	assert_true(vh_dev_vring_kick_fd(e.dev, 0) >= 0);
	assert_true(vh_dev_vring_call_fd(e.dev, 0) >= 0);
	assert_int_equal(vh_dev_vring_kick_fd(e.dev, 1), -EINVAL);
	/* Set up again with the library's own fd handed back: it must stay open. */
	vr.kick_fd = vh_dev_vring_kick_fd(e.dev, 0);
	assert_int_equal(vh_dev_vring_setup(e.dev, &vr), 0);
	assert_true(fcntl(vr.kick_fd, F_GETFD) >= 0);
	assert_int_equal(vh_dev_vring_kick_fd(e.dev, 0), vr.kick_fd);
	env_mem(&e);
	assert_int_equal(vh_dev_start(e.dev), 0);
	assert_int_equal(vh_dev_vring_setup(e.dev, &vr), -EBUSY);
	assert_int_equal(vh_dev_stop(e.dev, NULL, 0), 0);
	env_finish(&e);
}

/* RESET_DEVICE only when negotiated and stopped. */
static void test_reset(void **state)
{
	uint64_t pf = PF(REPLY_ACK) | PF(RESET_DEVICE);
	struct env e;

	env_init(&e, "reset");
	script_handshake_full(&e, F_V1 | F_PF, pf, pf, 0, 0);
	fake_expect(&e.f, VH_USER_RESET_DEVICE, NR, NULL, 0, 0);
	assert_int_equal(fake_start(&e.f), 0);
	assert_int_equal(env_create(&e, 0), 0);
	assert_int_equal(vh_dev_reset(e.dev), 0);
	env_finish(&e);

	env_init(&e, "noreset");
	script_handshake_plain(&e.f, F_V1);
	assert_int_equal(fake_start(&e.f), 0);
	assert_int_equal(env_create(&e, 0), 0);
	assert_int_equal(vh_dev_reset(e.dev), -EOPNOTSUPP);
	env_finish(&e);
}

/* Server mode: the frontend listens, the backend connects; a reconnect accepts again. */
static void test_server_mode(void **state)
{
	struct env e;
	struct fake_step *s;
	struct stat st;

	env_init(&e, "server");
	e.f.client = true;
	e.server = true;
	script_handshake_plain(&e.f, F_V1);
	s = fake_expect_u64(&e.f, VH_USER_SET_FEATURES, 0, F_V1);
	s->kind = R_REACCEPT;
	script_handshake_plain(&e.f, F_V1);
	fake_expect_u64(&e.f, VH_USER_SET_FEATURES, 0, F_V1);
	assert_int_equal(fake_start(&e.f), 0);
	assert_int_equal(env_create(&e, 0), 0);
	assert_int_equal(vh_dev_ack_features(e.dev, F_V1), 0);
	/* The hang-up shows at the next request (no reply was due). */
	assert_int_equal(vh_dev_get_config(e.dev, 0, &s, 4), -EOPNOTSUPP);
	/* Without a backend channel the event fd is the socket: its EOF is the hang-up. */
	assert_true(vh_dev_event_fd(e.dev) >= 0);
	while (vh_dev_dispatch(e.dev) == 0)
		usleep(1000);
	assert_int_equal(vh_dev_dispatch(e.dev), -ECONNRESET);
	assert_int_equal(vh_dev_reconnect(e.dev), 0);
	assert_int_equal(stat(e.f.path, &st), 0);
	env_finish(&e);
	/* The listening socket is removed with the device. */
	assert_int_equal(stat(e.f.path, &st), -1);
}

/* A "reply" to a request that has none: seen by the next dispatch, the device is broken. */
static void test_unsolicited(void **state)
{
	struct env e;
	struct fake_step *s;

	env_init(&e, "unsolicited");
	script_handshake_plain(&e.f, F_V1);
	s = fake_expect_u64(&e.f, VH_USER_SET_FEATURES, 0, F_V1);
	s->kind = R_MSG;
	vh_msg_init(&s->reply, VH_USER_SET_FEATURES, VH_USER_FLAG_REPLY, 8);
	assert_int_equal(fake_start(&e.f), 0);
	assert_int_equal(env_create(&e, 0), 0);
	assert_int_equal(vh_dev_ack_features(e.dev, F_V1), 0);
	while (vh_dev_dispatch(e.dev) == 0)
		usleep(1000);
	assert_int_equal(vh_dev_dispatch(e.dev), -EPROTO);
	assert_non_null(strstr(e.log.last, "fake: dispatch: unexpected bytes from the backend"));
	env_finish(&e);
}

/* Server mode with nobody connecting: a bounded wait, nothing left behind. */
static void test_server_timeout(void **state)
{
	struct env e;
	struct stat st;
	int fds;

	env_init(&e, "srvtimeout");
	e.server = true;
	e.timeout_ms = 100;
	fds = vh_test_count_fds();
	assert_int_equal(env_create(&e, 0), -ETIMEDOUT);
	assert_null(e.dev);
	assert_int_equal(vh_test_count_fds(), fds);
	assert_int_equal(stat(e.f.path, &st), -1);
	assert_non_null(strstr(e.log.last, "fake: accept: no backend connected to "));
	env_cleanup(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_lifecycle),
		cmocka_unit_test(test_full_lifecycle),
		cmocka_unit_test(test_ack_failure_unwinds),
		cmocka_unit_test(test_bad_replies_at_create),
		cmocka_unit_test(test_sticky_broken),
		cmocka_unit_test(test_close_midway),
		cmocka_unit_test(test_mask_pending),
		cmocka_unit_test(test_inband_notifications),
		cmocka_unit_test(test_mem_slots),
		cmocka_unit_test(test_mem_rollback),
		cmocka_unit_test(test_mem_table_refused),
		cmocka_unit_test(test_mem_needs_fd),
		cmocka_unit_test(test_server_mode),
		cmocka_unit_test(test_server_timeout),
		cmocka_unit_test(test_unsolicited),
		cmocka_unit_test(test_packed_ring),
		cmocka_unit_test(test_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
