/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A front-end that misbehaves on the back-end channel (SET_BACKEND_REQ_FD) against the backend
 * library, in process (tests/loopback/backend_fake.h): it never reads the channel, never
 * answers a NEED_REPLY request, answers with garbage, or talks when nobody asked. The back-end
 * must never wait for it: every send returns at once, the queue bound is hit with one log line,
 * the channel (only) is given up, the connection and a second front-end keep being served, the
 * waiters of NEED_REPLY requests hear why, and no fd or memory is left behind (ASan).
 */
#include <time.h>

#include "../loopback/backend_fake.h"
#include "backend/backend_internal.h"

#define TIMEOUT_MS 300

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The only connection of @s (the one fe_connect() added). */
static struct vh_conn *only_conn(struct vh_server *s)
{
	assert_non_null(s->conns);
	return s->conns;
}

struct waiter {
	int calls;
	int result;
	uint64_t ack;
};

static void on_reply(struct vh_conn *c, void *opaque, int result, struct vh_msg *reply)
{
	struct waiter *w = opaque;

	(void)c;
	w->calls++;
	w->result = result;
	w->ack = reply ? reply->payload.u64 : UINT64_MAX;
}

static void setup(struct fe *f, unsigned max_conns)
{
	f->max_connections = max_conns;
	f->msg_timeout_ms = TIMEOUT_MS;
	fe_server(f, VH_SERVER_DATAPATH_EVENT);
	fe_connect(f);
	fe_negotiate(f, 0);
}

/* Pump the server until @cond holds or @ms passed. */
#define PUMP_UNTIL(f, cond, ms)                                                                \
	do {                                                                                   \
		for (int64_t end_ = now_ms() + (ms); !(cond) && now_ms() < end_; usleep(1000)) \
			vh_server_dispatch((f)->s);                                            \
	} while (0)

/* The peer's end of the channel reads end-of-file (after what was sent before). */
static bool chan_closed(int sock)
{
	char buf[4096];
	ssize_t n;

	while ((n = recv(sock, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		;
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

/*
 * The front-end never reads the channel: config-change notifications fill the socket, then the
 * queue; the next one breaks the channel with one log line. Nothing blocked; the connection
 * and a second front-end are served; the channel's fds are gone.
 */
static void test_never_read(void **state)
{
	struct fe f = { 0 }, g = { 0 };
	int fds0, sent = 0, err = 0;
	int64_t t0, took;
	struct vh_conn *c;

	(void)state;
	fds0 = vh_test_count_fds();
	setup(&f, 2);
	c = only_conn(f.s);
	t0 = now_ms();
	for (int i = 0; i < 100000 && err >= 0; i++) {
		err = vh_server_config_changed(f.s);
		sent += err > 0;
	}
	took = now_ms() - t0;
	assert_int_equal(err, -ENOBUFS);
	/* More than the queue: the socket took some, then the queue filled. */
	assert_true(sent > VH_CHAN_QUEUE_MAX);
	assert_true(took < 1000);
	assert_non_null(strstr(f.log.last, "VHOST_USER_BACKEND_CONFIG_CHANGE_MSG: back-end "
					   "channel: the front-end does not read it (queue full)"));
	print_message("%d notifications sent or queued in %lld ms; then: %s\n", sent,
		      (long long)took, f.log.last);
	/* Later sends fail quietly: one log line, not one per notification. */
	err = f.log.count;
	assert_int_equal(vh_conn_send_backend(c, &(struct vh_msg){ .hdr = { .request = 2 } }),
			 -ENOTCONN);
	assert_int_equal(f.log.count, err);

	/* The dispatch thread lets the channel go; the front-end sees it end. */
	PUMP_UNTIL(&f, c->backend_fd < 0, 1000);
	assert_int_equal(c->backend_fd, -1);
	assert_true(chan_closed(f.backend));
	assert_int_equal(vh_server_config_changed(f.s), 0);

	/* The connection is served, and so is a new one. */
	assert_true(fe_get_u64(&f, VH_USER_GET_FEATURES) & (1ull << VH_USER_F_PROTOCOL_FEATURES));
	g.s = f.s;
	fe_connect(&g);
	t0 = now_ms();
	assert_true(fe_get_u64(&g, VH_USER_GET_FEATURES) & (1ull << VH_USER_F_PROTOCOL_FEATURES));
	assert_true(now_ms() - t0 < 1000);

	/* A new SET_BACKEND_REQ_FD gives the connection a working channel again. */
	close(f.backend);
	fe_negotiate(&f, 0);
	assert_int_equal(vh_server_config_changed(f.s), 1);
	{
		struct vh_msg m;

		assert_int_equal(vh_sock_recv(f.backend, &m, 1000), 0);
		assert_int_equal(m.hdr.request, VH_USER_BACKEND_CONFIG_CHANGE_MSG);
	}
	g.s = NULL;
	close(g.sock);
	fe_teardown(&f);
	assert_int_equal(vh_test_count_fds(), fds0);
}

static void send_need_reply(struct fe *f, struct waiter *w)
{
	struct vh_msg m;

	vh_msg_init(&m, VH_USER_BACKEND_CONFIG_CHANGE_MSG, 0, 0);
	assert_int_equal(vh_chan_send(only_conn(f->s), &m, on_reply, w), 0);
}

static void answer(struct fe *f, uint64_t ack)
{
	struct vh_msg m, r;

	assert_int_equal(vh_sock_recv(f->backend, &m, 1000), 0);
	assert_int_equal(m.hdr.request, VH_USER_BACKEND_CONFIG_CHANGE_MSG);
	assert_true(m.hdr.flags & VH_USER_FLAG_NEED_REPLY);
	vh_msg_init(&r, m.hdr.request, VH_USER_FLAG_REPLY, 8);
	r.payload.u64 = ack;
	assert_int_equal(vh_sock_send(f->backend, &r), 0);
}

/* NEED_REPLY requests are answered asynchronously: the callback gets each ack, in order. */
static void test_reply_ack(void **state)
{
	struct waiter w[3] = { 0 };
	struct fe f = { 0 };

	(void)state;
	setup(&f, 1);
	for (int i = 0; i < 3; i++)
		send_need_reply(&f, &w[i]);
	answer(&f, 0);
	answer(&f, 1);
	PUMP_UNTIL(&f, w[1].calls, 1000);
	assert_int_equal(w[0].calls, 1);
	assert_int_equal(w[0].result, 0);
	assert_int_equal(w[0].ack, 0);
	assert_int_equal(w[1].calls, 1);
	assert_int_equal(w[1].result, -EIO);
	assert_int_equal(w[1].ack, 1);
	assert_int_equal(w[2].calls, 0);
	/* The connection goes away with a reply owed: its waiter hears it, once. */
	fe_teardown(&f);
	assert_int_equal(w[2].calls, 1);
	assert_int_equal(w[2].result, -ECONNRESET);
	assert_int_equal(w[0].calls + w[1].calls, 2);
}

/* Without REPLY_ACK no NEED_REPLY request goes out. */
static void test_no_reply_ack(void **state)
{
	struct waiter w = { 0 };
	struct fe f = { 0 };
	struct vh_msg m;

	(void)state;
	setup(&f, 1);
	only_conn(f.s)->proto_features &= ~(1ull << VH_USER_PROTOCOL_F_REPLY_ACK);
	vh_msg_init(&m, VH_USER_BACKEND_CONFIG_CHANGE_MSG, 0, 0);
	assert_int_equal(vh_chan_send(only_conn(f.s), &m, on_reply, &w), -EOPNOTSUPP);
	fe_teardown(&f);
	assert_int_equal(w.calls, 0);
}

/* A reply never comes: after msg_timeout_ms the waiter gets -ETIMEDOUT, the channel goes. */
static void test_no_answer(void **state)
{
	struct waiter w = { 0 };
	struct fe f = { 0 };
	int64_t t0;

	(void)state;
	setup(&f, 1);
	send_need_reply(&f, &w);
	t0 = now_ms();
	PUMP_UNTIL(&f, w.calls, 5 * TIMEOUT_MS);
	assert_int_equal(w.calls, 1);
	assert_int_equal(w.result, -ETIMEDOUT);
	assert_true(now_ms() - t0 >= TIMEOUT_MS - 10);
	assert_non_null(strstr(f.log.last, "back-end channel: the front-end does not answer"));
	assert_int_equal(only_conn(f.s)->backend_fd, -1);
	assert_true(fe_get_u64(&f, VH_USER_GET_FEATURES));
	fe_teardown(&f);
	assert_int_equal(w.calls, 1);
}

/* Garbage on the channel: a wrong reply, or a message when no reply is owed. */
static void test_bad_replies(void **state)
{
	static const struct {
		uint32_t request, flags, size;
		bool owed;
		const char *expect;
	} cases[] = {
		{ VH_USER_BACKEND_IOTLB_MSG, VH_USER_FLAG_REPLY, 8, true, "malformed reply" },
		{ VH_USER_BACKEND_CONFIG_CHANGE_MSG, VH_USER_FLAG_REPLY, 4, true,
		  "malformed reply" },
		{ VH_USER_BACKEND_CONFIG_CHANGE_MSG, 0, 8, true, "malformed reply" },
		{ VH_USER_BACKEND_CONFIG_CHANGE_MSG, VH_USER_FLAG_REPLY, 8, false,
		  "answers nothing" },
	};

	(void)state;
	for (unsigned i = 0; i < VH_ARRAY_SIZE(cases); i++) {
		struct waiter w = { 0 };
		struct fe f = { 0 };
		struct vh_msg m;
		int fds0 = vh_test_count_fds();

		setup(&f, 1);
		if (cases[i].owed) {
			send_need_reply(&f, &w);
			assert_int_equal(vh_sock_recv(f.backend, &m, 1000), 0);
		}
		vh_msg_init(&m, cases[i].request, cases[i].flags, cases[i].size);
		m.payload.u64 = 0;
		assert_int_equal(vh_sock_send(f.backend, &m), 0);
		PUMP_UNTIL(&f, only_conn(f.s)->backend_fd < 0, 1000);
		assert_int_equal(only_conn(f.s)->backend_fd, -1);
		assert_non_null(strstr(f.log.last, cases[i].expect));
		assert_int_equal(w.calls, cases[i].owed ? 1 : 0);
		if (cases[i].owed)
			assert_int_equal(w.result, -EPROTO);
		assert_true(chan_closed(f.backend));
		assert_true(fe_get_u64(&f, VH_USER_GET_FEATURES));
		fe_teardown(&f);
		assert_int_equal(vh_test_count_fds(), fds0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_never_read),   cmocka_unit_test(test_reply_ack),
		cmocka_unit_test(test_no_reply_ack), cmocka_unit_test(test_no_answer),
		cmocka_unit_test(test_bad_replies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
