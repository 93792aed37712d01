/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A front-end that stops halfway through a message must not hold the back-end's dispatch
 * thread: the other connection is served meanwhile, the stalled message is handled when its
 * rest arrives, and a connection that stays stalled is closed after cfg.msg_timeout_ms (or at
 * once when its peer hangs up) with every fd that came with the partial message closed.
 * A front-end that does not read its replies must not hold it either: replies queue (bounded),
 * the other connection is served, the replies go out in order once it reads, and a peer that
 * never reads is dropped after cfg.msg_timeout_ms.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <vhost/backend.h>
#include <vhost/proto.h>
#include <vhost/sock.h>

#include "unit_helpers.h"

#define STALL_TIMEOUT_MS 300
#define DEV_FEATURES	 (1ull << 5)

struct stall {
	struct vh_test_log log;
	struct vh_server *s;
	int a, b; /* front-end ends of connection A (stalls) and B (well behaved) */
	int fds_before;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int dev_kick(void *inst, struct vh_queue *q)
{
	(void)inst;
	(void)q;
	return 0;
}

static const struct vh_device_ops dev_ops = { .queue_kick = dev_kick };

static int setup(void **state)
{
	struct stall *t = calloc(1, sizeof(*t));
	struct vh_server_config cfg;
	int sv[2];

	if (!t)
		return -1;
	t->fds_before = vh_test_count_fds();
	vh_server_config_init(&cfg);
	cfg.name = "stall";
	cfg.ops = &dev_ops;
	cfg.num_queues = 1;
	cfg.features = DEV_FEATURES;
	cfg.max_connections = 2;
	cfg.msg_timeout_ms = STALL_TIMEOUT_MS;
	cfg.log = vh_test_sink(&t->log);
	if (vh_server_create(&cfg, &t->s) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			return -1;
		/* A few replies fill the server's end: the reply queue is what is tested. */
		if (setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &(int){ 1 }, sizeof(int)) < 0)
			return -1;
		if (vh_server_add_conn(t->s, sv[1]) < 0)
			return -1;
		*(i == 0 ? &t->a : &t->b) = sv[0];
	}
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct stall *t = *state;

	vh_server_destroy(&t->s);
	if (t->a >= 0)
		close(t->a);
	close(t->b);
	/* The partial message's fds and the server's timerfd are all gone. */
	assert_int_equal(vh_test_count_fds(), t->fds_before);
	free(t);
	return 0;
}

/* Dispatch whatever becomes ready within @ms (the server fd is polled, nothing else). */
static void pump(struct vh_server *s, int ms)
{
	struct pollfd p = { .fd = vh_server_fd(s), .events = POLLIN };
	int64_t end = now_ms() + ms;

	for (int64_t left = ms; left >= 0; left = end - now_ms()) {
		if (poll(&p, 1, (int)left) > 0)
			assert_true(vh_server_dispatch(s) >= 0);
	}
}

static void raw_send(int sock, const void *buf, size_t len, int fd)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	assert_int_equal(vh_test_sendmsg(sock, &iov, 1, &fd, fd >= 0), (ssize_t)len);
}

static bool readable(int sock)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static void expect_features(int sock)
{
	struct vh_msg r;

	assert_true(readable(sock));
	assert_int_equal(vh_sock_recv(sock, &r, 1000), 0);
	assert_int_equal(r.hdr.request, VH_USER_GET_FEATURES);
	assert_int_equal(r.hdr.flags, VH_USER_VERSION | VH_USER_FLAG_REPLY);
	assert_int_equal(r.hdr.size, 8);
	assert_int_equal(r.payload.u64, vh_server_library_features() | DEV_FEATURES);
	assert_int_equal(r.nfds, 0);
}

static void send_get_features(int sock)
{
	struct vh_msg m;

	vh_msg_init(&m, VH_USER_GET_FEATURES, 0, 0);
	assert_int_equal(vh_sock_send(sock, &m), 0);
}

/* A's half message leaves the server free for B; A's message is handled once it completes. */
static void test_other_conn_served(void **state)
{
	struct stall *t = *state;
	struct vh_msg m;
	int64_t t0;
	int ev = eventfd(0, EFD_CLOEXEC);

	assert_true(ev >= 0);
	/* SET_VRING_CALL with NEED_REPLY: header + 3 payload bytes (and the fd) now, 5 later. */
	vh_msg_init(&m, VH_USER_SET_VRING_CALL, VH_USER_FLAG_NEED_REPLY, 8);
	m.payload.u64 = 0;
	raw_send(t->a, &m.hdr, sizeof(m.hdr), ev);
	raw_send(t->a, m.payload.raw, 3, -1);
	close(ev);
	send_get_features(t->b);
	t0 = now_ms();
	pump(t->s, 50);
	/* Served within the pump, not after the 5 s the blocking receive used to wait. */
	assert_true(now_ms() - t0 < 1000);
	expect_features(t->b);
	assert_false(readable(t->a));
	assert_int_equal(vh_server_num_conns(t->s), 2);

	raw_send(t->a, m.payload.raw + 3, 5, -1);
	pump(t->s, 50);
	assert_true(readable(t->a));
	assert_int_equal(vh_sock_recv(t->a, &m, 1000), 0);
	assert_int_equal(m.hdr.request, VH_USER_SET_VRING_CALL);
	assert_int_equal(m.payload.u64, 0); /* REPLY_ACK success: the fd arrived with it */
	/* Completed in time: no timeout closes A later, and A is served normally. */
	pump(t->s, STALL_TIMEOUT_MS + 100);
	assert_int_equal(vh_server_num_conns(t->s), 2);
	send_get_features(t->a);
	pump(t->s, 20);
	expect_features(t->a);
}

/* A stays stalled: its connection is closed after the timeout, its fd closed, B unaffected. */
static void test_stalled_conn_times_out(void **state)
{
	struct stall *t = *state;
	struct vh_msg m;
	int64_t t0, dt;
	char c;
	int ev, nfds = vh_test_count_fds();

	ev = eventfd(0, EFD_CLOEXEC);
	assert_true(ev >= 0);
	vh_msg_init(&m, VH_USER_SET_VRING_KICK, 0, 8);
	raw_send(t->a, &m.hdr, 7, ev); /* half a header, with the fd */
	close(ev);
	t0 = now_ms();
	pump(t->s, 20);
	assert_int_equal(vh_server_num_conns(t->s), 2);
	/* The partial message's eventfd is held by the server meanwhile ... */
	assert_int_equal(vh_test_count_fds(), nfds + 1);
	while (vh_server_num_conns(t->s) == 2 && now_ms() - t0 < 5000) {
		send_get_features(t->b);
		pump(t->s, 20);
		expect_features(t->b);
	}
	dt = now_ms() - t0;
	assert_int_equal(vh_server_num_conns(t->s), 1);
	assert_true(dt >= STALL_TIMEOUT_MS);
	assert_true(dt < STALL_TIMEOUT_MS + 1000);
	assert_non_null(strstr(t->log.last, "stalled in the middle of a message"));
	/* ... and closed with the connection (so are A's server end and its ring's wake fd). */
	assert_int_equal(vh_test_count_fds(), nfds - 2);
	/* A sees the hang-up. */
	assert_int_equal(recv(t->a, &c, 1, MSG_DONTWAIT), 0);
	send_get_features(t->b);
	pump(t->s, 20);
	expect_features(t->b);
}

/* A hangs up in the middle of a message: closed at once, not after the timeout. */
static void test_stalled_conn_hangs_up(void **state)
{
	struct stall *t = *state;
	struct vh_msg m;
	int64_t t0;
	int ev = eventfd(0, EFD_CLOEXEC);

	assert_true(ev >= 0);
	vh_msg_init(&m, VH_USER_SET_VRING_CALL, 0, 8);
	raw_send(t->a, &m.hdr, sizeof(m.hdr), ev);
	close(ev);
	pump(t->s, 20);
	assert_int_equal(vh_server_num_conns(t->s), 2);
	t0 = now_ms();
	close(t->a);
	t->a = -1;
	pump(t->s, 20);
	assert_int_equal(vh_server_num_conns(t->s), 1);
	assert_true(now_ms() - t0 < STALL_TIMEOUT_MS);
	/* The timer armed for A must not fire into B. */
	pump(t->s, STALL_TIMEOUT_MS + 100);
	assert_int_equal(vh_server_num_conns(t->s), 1);
	send_get_features(t->b);
	pump(t->s, 20);
	expect_features(t->b);
}

#define FLOOD 400

/* @n GET_FEATURES requests in one write: more replies than the socket and the queue hold. */
static void flood(int sock, unsigned n)
{
	struct vh_msg m;
	uint8_t *buf = malloc(n * sizeof(m.hdr));

	assert_non_null(buf);
	vh_msg_init(&m, VH_USER_GET_FEATURES, 0, 0);
	for (unsigned i = 0; i < n; i++)
		memcpy(buf + i * sizeof(m.hdr), &m.hdr, sizeof(m.hdr));
	raw_send(sock, buf, n * sizeof(m.hdr), -1);
	free(buf);
}

/* A sends and does not read: B is served at once, then A gets every reply in order. */
static void test_reader_stalls(void **state)
{
	struct stall *t = *state;
	unsigned got = 0;
	int64_t t0;

	flood(t->a, FLOOD);
	pump(t->s, 50);
	assert_int_equal(vh_server_num_conns(t->s), 2);
	send_get_features(t->b);
	t0 = now_ms();
	pump(t->s, 50);
	/* The old blocking send held the thread for 5 s per reply that did not fit. */
	assert_true(now_ms() - t0 < 1000);
	expect_features(t->b);

	t0 = now_ms();
	while (got < FLOOD && now_ms() - t0 < 5000) {
		pump(t->s, 1);
		while (got < FLOOD && readable(t->a)) {
			expect_features(t->a);
			got++;
		}
	}
	assert_int_equal(got, FLOOD);
	pump(t->s, 20);
	assert_false(readable(t->a)); /* exactly one reply per request */
	assert_int_equal(vh_server_num_conns(t->s), 2);
	/* Drained before the timeout: no drop later. */
	pump(t->s, STALL_TIMEOUT_MS + 100);
	assert_int_equal(vh_server_num_conns(t->s), 2);
}

/* A never reads: dropped after the message timeout with a clear error; B served throughout. */
static void test_reader_never_reads(void **state)
{
	struct stall *t = *state;
	int64_t t0, dt;
	int nfds = vh_test_count_fds();

	flood(t->a, FLOOD);
	t0 = now_ms();
	while (vh_server_num_conns(t->s) == 2 && now_ms() - t0 < 5000) {
		int64_t t1 = now_ms();

		send_get_features(t->b);
		pump(t->s, 20);
		assert_true(now_ms() - t1 < 1000);
		expect_features(t->b);
	}
	dt = now_ms() - t0;
	assert_int_equal(vh_server_num_conns(t->s), 1);
	assert_true(dt >= STALL_TIMEOUT_MS);
	assert_true(dt < STALL_TIMEOUT_MS + 1000);
	assert_non_null(strstr(t->log.last, "GET_FEATURES: front-end does not read its replies"));
	/* A's server end and its ring's wake fd are closed; no queued reply leaks anything. */
	assert_int_equal(vh_test_count_fds(), nfds - 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_other_conn_served, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stalled_conn_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stalled_conn_hangs_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_stalls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_never_reads, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
