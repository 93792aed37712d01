/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Whole messages over socketpair(): fds 0..8 round trip, too many fds, truncated
 * control data, short writes, hang-ups mid-message, oversize payloads, stalls, and
 * the listen/connect helpers. Every test checks that no fd leaked.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <vhost/sock.h>

#include "unit_helpers.h"

struct fixture {
	int sv[2]; /* sv[0]: the receiver under test, sv[1]: the peer */
	int fds_before;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->fds_before = vh_test_count_fds();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->sv) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->sv[0] >= 0)
		close(f->sv[0]);
	if (f->sv[1] >= 0)
		close(f->sv[1]);
	/* Nothing the test received or created may still be open. */
	assert_int_equal(vh_test_count_fds(), f->fds_before);
	free(f);
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Write raw bytes, optionally with fds, in one sendmsg (bypassing vh_sock_send's checks). */
static void raw_send(int sock, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	assert_int_equal(vh_test_sendmsg(sock, &iov, 1, fds, nfds), (ssize_t)len);
}

static void make_eventfds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		fds[i] = eventfd(0, EFD_CLOEXEC);
		assert_true(fds[i] >= 0);
	}
}

static void close_all(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
}

static bool same_file(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_ino == sb.st_ino &&
	       sa.st_dev == sb.st_dev;
}

/* A SET_MEM_TABLE with @n regions and recognisable region bytes. */
static void fill_mem_table(struct vh_msg *m, unsigned n)
{
	vh_msg_init(m, VH_USER_SET_MEM_TABLE, 0, 8 + 32 * n);
	m->payload.mem.nregions = n;
	for (unsigned i = 0; i < n; i++) {
		m->payload.mem.regions[i].guest_phys_addr = 0x100000ull * i;
		m->payload.mem.regions[i].memory_size = 0x100000;
		m->payload.mem.regions[i].userspace_addr = 0x7f0000000000ull + i;
		m->payload.mem.regions[i].mmap_offset = i;
	}
}

/* ---- round trips ------------------------------------------------------------------------ */

static void test_round_trip_0_to_8_fds(void **state)
{
	struct fixture *f = *state;
	struct vh_msg out, in;
	int fds[VH_USER_MAX_FDS];

	for (unsigned n = 0; n <= VH_USER_MAX_FDS; n++) {
		fill_mem_table(&out, n);
		make_eventfds(fds, n);
		memcpy(out.fds, fds, sizeof(int) * n);
		out.nfds = n;
		assert_int_equal(vh_sock_send(f->sv[1], &out), 0);
		memset(&in, 0xa5, sizeof(in));
		assert_int_equal(vh_sock_recv(f->sv[0], &in, 1000), 0);
		assert_memory_equal(&in.hdr, &out.hdr, sizeof(in.hdr));
		assert_int_equal(in.hdr.size, 8 + 32 * n);
		assert_memory_equal(in.payload.raw, out.payload.raw, in.hdr.size);
		assert_int_equal(in.nfds, n);
		for (unsigned i = 0; i < n; i++) {
			assert_true(in.fds[i] >= 0);
			assert_true(in.fds[i] != fds[i]);
			assert_true(same_file(in.fds[i], fds[i]));
			assert_true(fcntl(in.fds[i], F_GETFD) & FD_CLOEXEC);
		}
		for (unsigned i = n; i < VH_USER_MAX_FDS; i++)
			assert_int_equal(in.fds[i], -1);
		/* And the validator agrees the received message is what was sent. */
		assert_int_equal(
		    vh_proto_validate(false, &in.hdr, in.payload.raw, in.hdr.size, in.nfds), 0);
		vh_msg_close_fds(&in);
		assert_int_equal(in.nfds, 0);
		close_all(fds, n);
	}
}

static void test_exact_wire_bytes(void **state)
{
	struct fixture *f = *state;
	struct vh_msg out;
	uint8_t got[20];
	static const uint8_t want[20] = { 2, 0, 0,    0,    1,	  0,	0,    0,    8,	  0,
					  0, 0, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08 };
	uint16_t probe = 1;

	if (*(uint8_t *)&probe != 1)
		skip();
	vh_msg_init(&out, VH_USER_SET_FEATURES, 0, 8);
	out.payload.u64 = 0x0807060504030201ull;
	assert_int_equal(vh_sock_send(f->sv[1], &out), 0);
	assert_int_equal(recv(f->sv[0], got, sizeof(got), MSG_WAITALL), (ssize_t)sizeof(got));
	assert_memory_equal(got, want, sizeof(want));
	/* Nothing more than header + hdr.size was written. */
	assert_int_equal(recv(f->sv[0], got, 1, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
}

static void test_zero_payload(void **state)
{
	struct fixture *f = *state;
	struct vh_msg out, in;

	vh_msg_init(&out, VH_USER_GET_FEATURES, VH_USER_FLAG_NEED_REPLY, 0);
	assert_int_equal(vh_sock_send(f->sv[1], &out), 0);
	assert_int_equal(vh_sock_recv(f->sv[0], &in, -1), 0);
	assert_int_equal(in.hdr.request, VH_USER_GET_FEATURES);
	assert_int_equal(in.hdr.flags, VH_USER_VERSION | VH_USER_FLAG_NEED_REPLY);
	assert_int_equal(in.hdr.size, 0);
	assert_int_equal(in.nfds, 0);
}

/* ---- fd limits -------------------------------------------------------------------------- */

static void check_too_many_fds(struct fixture *f, unsigned n)
{
	struct vh_msg out, in;
	int fds[64];

	fill_mem_table(&out, 8);
	make_eventfds(fds, n);
	raw_send(f->sv[1], &out, sizeof(out.hdr), fds, n);
	raw_send(f->sv[1], out.payload.raw, out.hdr.size, NULL, 0);
	close_all(fds, n);
	assert_int_equal(vh_sock_recv(f->sv[0], &in, 1000), -EPROTO);
	assert_int_equal(in.nfds, 0);
	for (unsigned i = 0; i < VH_USER_MAX_FDS; i++)
		assert_int_equal(in.fds[i], -1);
	/* Every received copy was closed: only the socketpair is left. */
	assert_int_equal(vh_test_count_fds(), f->fds_before + 2);
	/* The whole message was consumed: the next one arrives intact. */
	fill_mem_table(&out, 1);
	make_eventfds(fds, 1);
	out.fds[0] = fds[0];
	out.nfds = 1;
	assert_int_equal(vh_sock_send(f->sv[1], &out), 0);
	close(fds[0]);
	assert_int_equal(vh_sock_recv(f->sv[0], &in, 1000), 0);
	assert_int_equal(in.hdr.request, VH_USER_SET_MEM_TABLE);
	assert_int_equal(in.nfds, 1);
	vh_msg_close_fds(&in);
}

static void test_nine_fds(void **state)
{
	check_too_many_fds(*state, VH_USER_MAX_FDS + 1);
}

static void test_ctrunc(void **state)
{
	/* More than the receive buffer's room: the kernel sets MSG_CTRUNC. */
	check_too_many_fds(*state, 40);
}

static void test_fds_on_later_chunk(void **state)
{
	struct fixture *f = *state;
	struct vh_msg out, in;
	int fd;

	/* A sender that attaches its fd to the payload rather than the header still works. */
	vh_msg_init(&out, VH_USER_SET_VRING_KICK, 0, 8);
	out.payload.u64 = 1;
	make_eventfds(&fd, 1);
	raw_send(f->sv[1], &out.hdr, sizeof(out.hdr), NULL, 0);
	raw_send(f->sv[1], out.payload.raw, 8, &fd, 1);
	assert_int_equal(vh_sock_recv(f->sv[0], &in, 1000), 0);
	assert_int_equal(in.nfds, 1);
	assert_true(same_file(in.fds[0], fd));
	vh_msg_close_fds(&in);
	close(fd);
}

/* ---- short writes ----------------------------------------------------------------------- */

struct trickle {
	int sock;
	int fd; /* sent with the first piece */
	struct vh_msg msg;
};

static void *trickle_thread(void *arg)
{
	struct trickle *t = arg;
	const uint8_t *h = (const uint8_t *)&t->msg.hdr;
	struct iovec iov = { .iov_base = (void *)h, .iov_len = 5 };

	/* Header in three pieces, the fd with the first; then the payload in two. */
	if (vh_test_sendmsg(t->sock, &iov, 1, &t->fd, 1) != 5)
		return (void *)1;
	sleep_ms(20);
	if (write(t->sock, h + 5, 4) != 4)
		return (void *)1;
	sleep_ms(20);
	if (write(t->sock, h + 9, 3) != 3)
		return (void *)1;
	sleep_ms(20);
	if (write(t->sock, t->msg.payload.raw, 10) != 10)
		return (void *)1;
	sleep_ms(20);
	if (write(t->sock, t->msg.payload.raw + 10, t->msg.hdr.size - 10) !=
	    (ssize_t)(t->msg.hdr.size - 10))
		return (void *)1;
	return NULL;
}

static void test_short_writes(void **state)
{
	struct fixture *f = *state;
	struct trickle t = { .sock = f->sv[1] };
	struct vh_msg in;
	pthread_t th;
	void *res;

	vh_msg_init(&t.msg, VH_USER_SET_VRING_ADDR, 0, 40);
	for (unsigned i = 0; i < 40; i++)
		t.msg.payload.raw[i] = (uint8_t)(i * 7 + 1);
	make_eventfds(&t.fd, 1);
	assert_int_equal(pthread_create(&th, NULL, trickle_thread, &t), 0);
	assert_int_equal(vh_sock_recv(f->sv[0], &in, -1), 0);
	assert_int_equal(pthread_join(th, &res), 0);
	assert_null(res);
	assert_memory_equal(&in.hdr, &t.msg.hdr, sizeof(in.hdr));
	assert_memory_equal(in.payload.raw, t.msg.payload.raw, 40);
	assert_int_equal(in.nfds, 1);
	assert_true(same_file(in.fds[0], t.fd));
	vh_msg_close_fds(&in);
	close(t.fd);
}

struct sender {
	int sock;
	unsigned count;
	int fd;
	int ret;
};

static void *sender_thread(void *arg)
{
	struct sender *s = arg;
	struct vh_msg m;

	for (unsigned i = 0; i < s->count; i++) {
		vh_msg_init(&m, VH_USER_CREATE_CRYPTO_SESSION, 0, VH_USER_MAX_PAYLOAD);
		memset(m.payload.raw, (int)(i & 0xff), VH_USER_MAX_PAYLOAD);
		if (i % 10 == 0) {
			m.fds[0] = s->fd;
			m.nfds = 1;
		}
		s->ret = vh_sock_send(s->sock, &m);
		if (s->ret < 0)
			return NULL;
	}
	return NULL;
}

/* Full payloads through a minimal send buffer: the sender must handle partial sends. */
static void test_partial_sends(void **state)
{
	struct fixture *f = *state;
	struct sender s = { .sock = f->sv[1], .count = 64 };
	int small = 1, fl;
	struct vh_msg in;
	pthread_t th;

	assert_int_equal(setsockopt(f->sv[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	fl = fcntl(f->sv[1], F_GETFL);
	assert_int_equal(fcntl(f->sv[1], F_SETFL, fl | O_NONBLOCK), 0);
	make_eventfds(&s.fd, 1);
	assert_int_equal(pthread_create(&th, NULL, sender_thread, &s), 0);
	for (unsigned i = 0; i < s.count; i++) {
		if (i % 8 == 0)
			sleep_ms(1); /* let the sender hit a full buffer */
		assert_int_equal(vh_sock_recv(f->sv[0], &in, 5000), 0);
		assert_int_equal(in.hdr.size, VH_USER_MAX_PAYLOAD);
		assert_int_equal(in.payload.raw[0], i & 0xff);
		assert_int_equal(in.payload.raw[VH_USER_MAX_PAYLOAD - 1], i & 0xff);
		assert_int_equal(in.nfds, i % 10 == 0 ? 1u : 0u);
		vh_msg_close_fds(&in);
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(s.ret, 0);
	close(s.fd);
}

/* ---- hang-ups, oversize, stalls --------------------------------------------------------- */

static void test_peer_closes_before_message(void **state)
{
	struct fixture *f = *state;
	struct vh_msg in;

	close(f->sv[1]);
	f->sv[1] = -1;
	assert_int_equal(vh_sock_recv(f->sv[0], &in, -1), -ECONNRESET);
	assert_int_equal(vh_sock_recv(f->sv[0], &in, 0), -ECONNRESET);
}

static void test_peer_closes_mid_header(void **state)
{
	struct fixture *f = *state;
	struct vh_msg in;
	int fd;

	make_eventfds(&fd, 1);
	raw_send(f->sv[1], "\x05\x00\x00\x00\x01", 5, &fd, 1);
	close(fd);
	close(f->sv[1]);
	f->sv[1] = -1;
	assert_int_equal(vh_sock_recv(f->sv[0], &in, -1), -ECONNRESET);
	assert_int_equal(in.nfds, 0); /* the fd that came with the partial header is closed */
}

static void test_peer_closes_mid_payload(void **state)
{
	struct fixture *f = *state;
	struct vh_msg out, in;
	int fd;

	fill_mem_table(&out, 1);
	make_eventfds(&fd, 1);
	raw_send(f->sv[1], &out.hdr, sizeof(out.hdr), &fd, 1);
	raw_send(f->sv[1], out.payload.raw, 10, NULL, 0);
	close(fd);
	close(f->sv[1]);
	f->sv[1] = -1;
	assert_int_equal(vh_sock_recv(f->sv[0], &in, 1000), -ECONNRESET);
	assert_int_equal(in.nfds, 0);
	/* The header was read and is kept for the caller's log line. */
	assert_int_equal(in.hdr.request, VH_USER_SET_MEM_TABLE);
}

static void test_oversize_payload(void **state)
{
	struct fixture *f = *state;
	struct vh_user_hdr h;
	struct vh_msg out, in;
	int fd;

	vh_proto_hdr_init(&h, VH_USER_SET_CONFIG, 0, VH_USER_MAX_PAYLOAD + 1);
	make_eventfds(&fd, 1);
	raw_send(f->sv[1], &h, sizeof(h), &fd, 1);
	close(fd);
	assert_int_equal(vh_sock_recv(f->sv[0], &in, 1000), -EMSGSIZE);
	assert_int_equal(in.nfds, 0);
	assert_int_equal(in.hdr.size, VH_USER_MAX_PAYLOAD + 1);
	/* The sender refuses to produce one. */
	vh_msg_init(&out, VH_USER_SET_CONFIG, 0, 0);
	out.hdr.size = VH_USER_MAX_PAYLOAD + 1;
	assert_int_equal(vh_sock_send(f->sv[1], &out), -EINVAL);
	vh_proto_hdr_init(&h, VH_USER_SET_CONFIG, 0, UINT32_MAX);
	raw_send(f->sv[1], &h, sizeof(h), NULL, 0);
	assert_int_equal(vh_sock_recv(f->sv[0], &in, 1000), -EMSGSIZE);
}

static void test_nonblocking_empty(void **state)
{
	struct fixture *f = *state;
	struct vh_msg out, in;
	int64_t t0 = now_ms();

	assert_int_equal(vh_sock_recv(f->sv[0], &in, 0), -EAGAIN);
	assert_true(now_ms() - t0 < 50);
	assert_int_equal(vh_sock_recv(f->sv[0], &in, 30), -ETIMEDOUT);
	assert_true(now_ms() - t0 >= 30);
	/* A complete pending message is returned by the single attempt. */
	vh_msg_init(&out, VH_USER_SET_OWNER, 0, 0);
	assert_int_equal(vh_sock_send(f->sv[1], &out), 0);
	assert_int_equal(vh_sock_recv(f->sv[0], &in, 0), 0);
	assert_int_equal(in.hdr.request, VH_USER_SET_OWNER);
}

static void test_stall_mid_header(void **state)
{
	struct fixture *f = *state;
	struct vh_msg in;
	int64_t t0, dt;
	int fd;

	make_eventfds(&fd, 1);
	raw_send(f->sv[1], "\x0c\x00\x00\x00\x01\x00", 6, &fd, 1);
	close(fd);
	t0 = now_ms();
	assert_int_equal(vh_sock_recv(f->sv[0], &in, 100), -ETIMEDOUT);
	dt = now_ms() - t0;
	assert_true(dt >= 100);
	assert_true(dt < 2000);
	assert_int_equal(in.nfds, 0);
}

static void test_stall_mid_payload(void **state)
{
	struct fixture *f = *state;
	struct vh_msg out, in;
	int64_t t0, dt;

	vh_msg_init(&out, VH_USER_SET_VRING_ADDR, 0, 40);
	raw_send(f->sv[1], &out, sizeof(out.hdr), NULL, 0);
	raw_send(f->sv[1], out.payload.raw, 39, NULL, 0);
	t0 = now_ms();
	assert_int_equal(vh_sock_recv(f->sv[0], &in, 80), -ETIMEDOUT);
	dt = now_ms() - t0;
	assert_true(dt >= 80);
	assert_true(dt < 2000);
}

/* ---- incremental receive (vh_sock_recv_step) ------------------------------------------- */

static void test_step_whole_message(void **state)
{
	struct fixture *f = *state;
	struct vh_msg out, in;
	struct vh_msg_rx rx;
	int fds[2];

	vh_msg_rx_init(&rx);
	assert_false(vh_msg_rx_started(&rx));
	fill_mem_table(&out, 2);
	make_eventfds(fds, 2);
	memcpy(out.fds, fds, sizeof(fds));
	out.nfds = 2;
	assert_int_equal(vh_sock_send(f->sv[1], &out), 0);
	memset(&in, 0xa5, sizeof(in));
	assert_int_equal(vh_sock_recv_step(f->sv[0], &rx, &in), 0);
	assert_false(vh_msg_rx_started(&rx));
	assert_memory_equal(&in.hdr, &out.hdr, sizeof(in.hdr));
	assert_memory_equal(in.payload.raw, out.payload.raw, out.hdr.size);
	assert_int_equal(in.nfds, 2);
	assert_true(same_file(in.fds[0], fds[0]));
	assert_true(same_file(in.fds[1], fds[1]));
	for (unsigned i = 2; i < VH_USER_MAX_FDS; i++)
		assert_int_equal(in.fds[i], -1);
	/* Between messages discard must not close what the caller now owns. */
	vh_msg_rx_discard(&rx, &in);
	assert_true(fcntl(in.fds[0], F_GETFD) >= 0);
	vh_msg_close_fds(&in);
	close_all(fds, 2);
	/* Nothing pending: no wait, and no message started. */
	assert_int_equal(vh_sock_recv_step(f->sv[0], &rx, &in), -EAGAIN);
	assert_false(vh_msg_rx_started(&rx));
}

static void test_step_byte_by_byte(void **state)
{
	struct fixture *f = *state;
	uint8_t wire[sizeof(struct vh_user_hdr) + 8 + 32 * 2];
	struct vh_msg out, in;
	struct vh_msg_rx rx;
	int fds[2];

	fill_mem_table(&out, 2);
	assert_int_equal(sizeof(out.hdr) + out.hdr.size, sizeof(wire));
	memcpy(wire, &out.hdr, sizeof(out.hdr));
	memcpy(wire + sizeof(out.hdr), out.payload.raw, out.hdr.size);
	make_eventfds(fds, 2);
	vh_msg_rx_init(&rx);
	for (size_t i = 0; i < sizeof(wire); i++) {
		/* One fd inside the header, one inside the payload. */
		unsigned nfds = i == 3 || i == 20;

		raw_send(f->sv[1], wire + i, 1, &fds[i == 20], nfds);
		if (i + 1 < sizeof(wire)) {
			assert_int_equal(vh_sock_recv_step(f->sv[0], &rx, &in), -EAGAIN);
			assert_true(vh_msg_rx_started(&rx));
		}
	}
	assert_int_equal(vh_sock_recv_step(f->sv[0], &rx, &in), 0);
	assert_false(vh_msg_rx_started(&rx));
	assert_memory_equal(&in.hdr, &out.hdr, sizeof(in.hdr));
	assert_memory_equal(in.payload.raw, out.payload.raw, out.hdr.size);
	assert_int_equal(in.nfds, 2);
	assert_true(same_file(in.fds[0], fds[0]));
	assert_true(same_file(in.fds[1], fds[1]));
	vh_msg_close_fds(&in);
	close_all(fds, 2);
}

static void test_step_back_to_back(void **state)
{
	struct fixture *f = *state;
	struct vh_msg out, in;
	struct vh_msg_rx rx;
	int fds[2];

	/* Two messages queued, each with its fd: the first read stops at its boundary. */
	make_eventfds(fds, 2);
	for (unsigned i = 0; i < 2; i++) {
		vh_msg_init(&out, VH_USER_SET_VRING_CALL, 0, 8);
		out.payload.u64 = i;
		out.fds[0] = fds[i];
		out.nfds = 1;
		assert_int_equal(vh_sock_send(f->sv[1], &out), 0);
	}
	vh_msg_rx_init(&rx);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(vh_sock_recv_step(f->sv[0], &rx, &in), 0);
		assert_int_equal(in.payload.u64, i);
		assert_int_equal(in.nfds, 1);
		assert_true(same_file(in.fds[0], fds[i]));
		vh_msg_close_fds(&in);
	}
	assert_int_equal(vh_sock_recv_step(f->sv[0], &rx, &in), -EAGAIN);
	close_all(fds, 2);
}

static void test_step_hangup_mid_payload(void **state)
{
	struct fixture *f = *state;
	struct vh_msg out, in;
	struct vh_msg_rx rx;
	int fd;

	fill_mem_table(&out, 1);
	make_eventfds(&fd, 1);
	raw_send(f->sv[1], &out.hdr, sizeof(out.hdr), &fd, 1);
	raw_send(f->sv[1], out.payload.raw, 10, NULL, 0);
	close(fd);
	vh_msg_rx_init(&rx);
	assert_int_equal(vh_sock_recv_step(f->sv[0], &rx, &in), -EAGAIN);
	assert_true(vh_msg_rx_started(&rx));
	assert_int_equal(in.nfds, 1);
	close(f->sv[1]);
	f->sv[1] = -1;
	assert_int_equal(vh_sock_recv_step(f->sv[0], &rx, &in), -ECONNRESET);
	assert_int_equal(in.nfds, 0);
	assert_int_equal(in.fds[0], -1);
	assert_int_equal(in.hdr.request, VH_USER_SET_MEM_TABLE);
	assert_false(vh_msg_rx_started(&rx));
	/* Only the receiver's socket is left (teardown checks the rest). */
	assert_int_equal(vh_test_count_fds(), f->fds_before + 1);
}

static void test_step_discard_partial(void **state)
{
	struct fixture *f = *state;
	struct vh_msg in;
	struct vh_msg_rx rx;
	int fd;

	make_eventfds(&fd, 1);
	raw_send(f->sv[1], "\x05\x00\x00\x00\x01", 5, &fd, 1);
	close(fd);
	vh_msg_rx_init(&rx);
	assert_int_equal(vh_sock_recv_step(f->sv[0], &rx, &in), -EAGAIN);
	assert_int_equal(in.nfds, 1);
	assert_int_equal(vh_test_count_fds(), f->fds_before + 3);
	vh_msg_rx_discard(&rx, &in);
	assert_false(vh_msg_rx_started(&rx));
	assert_int_equal(in.nfds, 0);
	assert_int_equal(vh_test_count_fds(), f->fds_before + 2);
}

static void test_step_bad_messages(void **state)
{
	struct fixture *f = *state;
	struct vh_user_hdr h;
	struct vh_msg out, in;
	struct vh_msg_rx rx;
	int fds[VH_USER_MAX_FDS + 1];

	/* Too many fds: the message is consumed, -EPROTO, every copy closed. */
	fill_mem_table(&out, 8);
	make_eventfds(fds, VH_USER_MAX_FDS + 1);
	raw_send(f->sv[1], &out, sizeof(out.hdr), fds, VH_USER_MAX_FDS + 1);
	raw_send(f->sv[1], out.payload.raw, out.hdr.size, NULL, 0);
	close_all(fds, VH_USER_MAX_FDS + 1);
	vh_msg_rx_init(&rx);
	assert_int_equal(vh_sock_recv_step(f->sv[0], &rx, &in), -EPROTO);
	assert_int_equal(in.nfds, 0);
	assert_false(vh_msg_rx_started(&rx));
	assert_int_equal(vh_test_count_fds(), f->fds_before + 2);
	/* The next message is intact. */
	vh_msg_init(&out, VH_USER_SET_OWNER, 0, 0);
	assert_int_equal(vh_sock_send(f->sv[1], &out), 0);
	assert_int_equal(vh_sock_recv_step(f->sv[0], &rx, &in), 0);
	assert_int_equal(in.hdr.request, VH_USER_SET_OWNER);
	/* Oversize payload: refused as soon as the header is in, its fd closed. */
	vh_proto_hdr_init(&h, VH_USER_SET_CONFIG, 0, VH_USER_MAX_PAYLOAD + 1);
	make_eventfds(fds, 1);
	raw_send(f->sv[1], &h, sizeof(h), fds, 1);
	close(fds[0]);
	assert_int_equal(vh_sock_recv_step(f->sv[0], &rx, &in), -EMSGSIZE);
	assert_int_equal(in.nfds, 0);
	assert_int_equal(in.hdr.size, VH_USER_MAX_PAYLOAD + 1);
	assert_int_equal(vh_test_count_fds(), f->fds_before + 2);
}

/* ---- send-side errors ------------------------------------------------------------------- */

static void test_send_errors(void **state)
{
	struct fixture *f = *state;
	struct vh_msg out;

	vh_msg_init(&out, VH_USER_SET_FEATURES, 0, 8);
	out.nfds = VH_USER_MAX_FDS + 1;
	assert_int_equal(vh_sock_send(f->sv[1], &out), -EINVAL);
	out.nfds = 1;
	out.fds[0] = -1;
	assert_int_equal(vh_sock_send(f->sv[1], &out), -EBADF);
	assert_int_equal(vh_sock_send(f->sv[1], NULL), -EINVAL);
	out.nfds = 0;
	/* Peer gone: an error, not SIGPIPE (which would kill this test). */
	close(f->sv[0]);
	f->sv[0] = -1;
	assert_int_equal(vh_sock_send(f->sv[1], &out), -ECONNRESET);
}

static void test_msg_close_fds(void **state)
{
	struct fixture *f = *state;
	struct vh_msg m;
	int fds[3];

	vh_msg_init(&m, VH_USER_SET_MEM_TABLE, 0, 0);
	for (unsigned i = 0; i < VH_USER_MAX_FDS; i++)
		assert_int_equal(m.fds[i], -1);
	make_eventfds(fds, 3);
	memcpy(m.fds, fds, sizeof(fds));
	m.fds[1] = -1; /* a slot the caller already took */
	m.nfds = 3;
	vh_msg_close_fds(&m);
	assert_int_equal(m.nfds, 0);
	assert_int_equal(m.fds[0], -1);
	assert_int_equal(fcntl(fds[0], F_GETFD), -1);
	assert_int_equal(fcntl(fds[2], F_GETFD), -1);
	close(fds[1]);
	vh_msg_close_fds(NULL);
	assert_int_equal(vh_test_count_fds(), f->fds_before + 2);
}

/* ---- listen / connect ------------------------------------------------------------------- */

static void test_listen_connect(void **state)
{
	struct fixture *f = *state;
	char dir[] = "/tmp/vh-sock-XXXXXX", path[128], longp[200];
	int lfd, lfd2, cfd, afd, reg;
	struct vh_msg out, in;

	(void)f;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s", dir);
	assert_int_equal(vh_sock_connect(path, &cfd), -ENOENT);
	assert_int_equal(vh_sock_listen(path, &lfd), 0);
	assert_true(fcntl(lfd, F_GETFD) & FD_CLOEXEC);
	/* The file appears only once it listens: bound privately, then renamed into place. */
	snprintf(longp, sizeof(longp), "%s.%d.tmp", path, (int)getpid());
	assert_int_equal(access(longp, F_OK), -1);
	assert_int_equal(access(path, F_OK), 0);
	/* Someone is listening: do not steal the path. */
	assert_int_equal(vh_sock_listen(path, &lfd2), -EADDRINUSE);
	/* ... and the check left no stray connection in the live server's backlog. */
	assert_int_equal(fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK), 0);
	assert_int_equal(vh_sock_accept(lfd, &afd), -EAGAIN);
	assert_int_equal(fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) & ~O_NONBLOCK), 0);
	assert_int_equal(vh_sock_connect(path, &cfd), 0);
	assert_true(fcntl(cfd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(vh_sock_accept(lfd, &afd), 0);
	assert_true(fcntl(afd, F_GETFD) & FD_CLOEXEC);
	vh_msg_init(&out, VH_USER_GET_FEATURES, 0, 0);
	assert_int_equal(vh_sock_send(cfd, &out), 0);
	assert_int_equal(vh_sock_recv(afd, &in, 1000), 0);
	assert_int_equal(in.hdr.request, VH_USER_GET_FEATURES);
	close(afd);
	close(cfd);
	/* A dead server's socket file is replaced. */
	close(lfd);
	assert_int_equal(vh_sock_listen(path, &lfd), 0);
	close(lfd);
	unlink(path);
	/* A regular file is never removed. */
	reg = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(reg >= 0);
	close(reg);
	assert_int_equal(vh_sock_listen(path, &lfd), -EADDRINUSE);
	assert_int_equal(access(path, F_OK), 0);
	unlink(path);
	rmdir(dir);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = 0;
	assert_int_equal(vh_sock_listen(longp, &lfd), -ENAMETOOLONG);
	assert_int_equal(vh_sock_connect(longp, &cfd), -ENAMETOOLONG);
	assert_int_equal(vh_sock_listen("", &lfd), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip_0_to_8_fds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exact_wire_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_payload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nine_fds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctrunc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fds_on_later_chunk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_sends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_closes_before_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_closes_mid_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_closes_mid_payload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_payload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nonblocking_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stall_mid_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stall_mid_payload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_step_whole_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_step_byte_by_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_step_back_to_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_step_hangup_mid_payload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_step_discard_partial, setup, teardown),
		cmocka_unit_test_setup_teardown(test_step_bad_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msg_close_fds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen_connect, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
