/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The backend library over a real listening socket (vh_server_run() in its own thread, stop from
 * a signal handler, reconnect through the path), several instances at once, memory slots,
 * RESET_DEVICE, config change notification and packed rings with EVENT_IDX.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>

#include "backend_fake.h"

/* ---- a real socket, the run loop in a thread, stop from a signal handler -------------------- */

static struct vh_server *signal_target; /* test-only: the handler needs to find the server */

static void on_sigusr1(int sig)
{
	(void)sig;
	vh_server_stop(signal_target);
}

static void *run_thread(void *arg)
{
	return (void *)(intptr_t)vh_server_run(arg);
}

static uint64_t blocking_get(int sock, uint32_t req)
{
	struct vh_msg m, reply;

	vh_msg_init(&m, req, 0, 0);
	assert_int_equal(vh_sock_send(sock, &m), 0);
	assert_int_equal(vh_sock_recv(sock, &reply, 2000), 0);
	assert_int_equal(reply.hdr.request, req);
	return reply.payload.u64;
}

static void test_socket_run_reconnect(void **state)
{
	struct fe f = { 0 };
	struct vh_server_config cfg;
	char dir[] = "/tmp/vh-backend-XXXXXX", path[64];
	struct sigaction sa = { .sa_handler = on_sigusr1 };
	pthread_t t;
	void *ret;
	struct stat st;
	int fds_before, sock;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sock", dir);
	fds_before = vh_test_count_fds();
	vh_server_config_init(&cfg);
	cfg.name = "echo";
	cfg.socket_path = path;
	cfg.ops = &echo_ops;
	cfg.opaque = &f.dev;
	cfg.num_queues = FE_NUM_QUEUES;
	cfg.log = vh_test_sink(&f.log);
	assert_int_equal(vh_server_create(&cfg, &f.s), 0);
	signal_target = f.s;
	sigaction(SIGUSR1, &sa, NULL);
	assert_int_equal(pthread_create(&t, NULL, run_thread, f.s), 0);

	/* First front-end, then a reconnect after it hangs up. */
	for (int round = 0; round < 3; round++) {
		assert_int_equal(vh_sock_connect(path, &sock), 0);
		assert_int_equal(blocking_get(sock, VH_USER_GET_QUEUE_NUM), FE_NUM_QUEUES);
		assert_true(blocking_get(sock, VH_USER_GET_FEATURES) &
			    (1ull << VIRTIO_F_VERSION_1));
		close(sock);
	}
	/* A second front-end while one is served waits in the backlog until the first leaves. */
	{
		int a, b;
		struct pollfd p;

		assert_int_equal(vh_sock_connect(path, &a), 0);
		assert_int_equal(blocking_get(a, VH_USER_GET_QUEUE_NUM), FE_NUM_QUEUES);
		assert_int_equal(vh_sock_connect(path, &b), 0);
		struct vh_msg m;

		vh_msg_init(&m, VH_USER_GET_QUEUE_NUM, 0, 0);
		assert_int_equal(vh_sock_send(b, &m), 0);
		p = (struct pollfd){ .fd = b, .events = POLLIN };
		assert_int_equal(poll(&p, 1, 100), 0); /* not served yet */
		close(a);
		assert_int_equal(vh_sock_recv(b, &m, 2000), 0);
		assert_int_equal(m.payload.u64, FE_NUM_QUEUES);
		close(b);
	}
	assert_int_equal(f.dev.opens, 5);

	pthread_kill(t, SIGUSR1);
	assert_int_equal(pthread_join(t, &ret), 0);
	assert_int_equal((intptr_t)ret, 0);
	vh_server_destroy(&f.s);
	assert_int_equal(f.dev.closes, 5);
	assert_int_equal(stat(path, &st), -1); /* socket file removed */
	rmdir(dir);
	assert_int_equal(vh_test_count_fds(), fds_before);
	signal(SIGUSR1, SIG_DFL);
}

/* ---- two instances at once: one breaking does not touch the other --------------------------- */

static void test_two_instances(void **state)
{
	struct fe a = { 0 }, b = { 0 };
	struct vh_server_config cfg;
	struct vh_msg m, reply;
	int sv[2];

	(void)state;
	vh_server_config_init(&cfg);
	cfg.name = "echo";
	cfg.ops = &echo_ops;
	cfg.opaque = &a.dev;
	cfg.num_queues = FE_NUM_QUEUES;
	cfg.max_connections = 2;
	cfg.log = vh_test_sink(&a.log);
	assert_int_equal(vh_server_create(&cfg, &a.s), 0);
	b.s = a.s;
	fe_connect(&a);
	fe_connect(&b);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(vh_server_add_conn(a.s, sv[1]), -EBUSY);
	close(sv[0]);

	fe_memory(&a);
	fe_memory(&b);
	fe_negotiate(&a, 0);
	fe_negotiate(&b, 0);
	assert_int_equal(fe_mem_table(&a), 0);
	assert_int_equal(fe_mem_table(&b), 0);
	fe_ring(&a, 0, 0);
	fe_ring(&b, 0, 0);
	fe_echo_once(&a, 0, "from a");
	fe_echo_once(&b, 0, "from b");

	/* a sends garbage: closed; b carries on. */
	vh_msg_init(&m, VH_USER_SET_VRING_NUM, VH_USER_FLAG_NEED_REPLY, 3);
	assert_int_equal(fe_xfer(&a, &m, &reply), -ECONNRESET);
	assert_int_equal(vh_server_num_conns(a.s), 1);
	assert_true(strstr(a.log.last, "VHOST_USER_SET_VRING_NUM") != NULL);
	fe_echo_once(&b, 1, "b still here");
	close(a.sock);
	a.sock = -1;
	if (a.backend >= 0)
		close(a.backend);
	a.backend = -1;
	fe_disconnect(&b);
	b.s = NULL;
	fe_teardown(&b);
	fe_teardown(&a);
}

/* ---- memory slots, reset, config ------------------------------------------------------------ */

static int64_t mem_reg(struct fe *f, uint32_t req, uint64_t gpa, uint64_t size)
{
	struct vh_msg m;

	vh_msg_init(&m, req, 0, sizeof(struct vh_user_mem_reg));
	m.payload.mem_reg.region = (struct vh_user_mem_region){ .guest_phys_addr = gpa,
								.memory_size = size,
								.userspace_addr = FE_UVA_BASE + gpa,
								.mmap_offset = gpa };
	if (req == VH_USER_ADD_MEM_REG) {
		m.fds[0] = f->memfd;
		m.nfds = 1;
	}
	return fe_ack(f, &m);
}

static void test_mem_slots(void **state)
{
	struct fe f = { 0 };

	(void)state;
	fe_server(&f, VH_SERVER_DATAPATH_EVENT);
	fe_connect(&f);
	fe_memory(&f);
	fe_negotiate(&f, 0);
	assert_true(f.proto & (1ull << VH_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS));
	assert_int_equal(mem_reg(&f, VH_USER_ADD_MEM_REG, 0, 0x80000), 0);
	assert_int_equal(mem_reg(&f, VH_USER_ADD_MEM_REG, 0x80000, 0x80000), 0);
	assert_int_equal(mem_reg(&f, VH_USER_ADD_MEM_REG, 0x40000, 0x1000), 1); /* overlap */
	fe_ring(&f, 0, 0);
	fe_echo_once(&f, 0, "two slots");
	/* Removing a region the ring does not use: the ring is paused and resumed. */
	assert_int_equal(mem_reg(&f, VH_USER_REM_MEM_REG, 0x80000, 0x80000), 0);
	assert_int_equal(f.dev.starts, 2);
	assert_int_equal(mem_reg(&f, VH_USER_REM_MEM_REG, 0x80000, 0x80000), 1); /* gone */
	fe_echo_once(&f, 1, "one slot");
	/* A whole new table replaces the slots. */
	assert_int_equal(fe_mem_table(&f), 0);
	fe_echo_once(&f, 2, "table");
	fe_teardown(&f);
}

/*
 * QEMU 7.2's vhost-user-net with queues=2 and CONFIGURE_MEM_SLOTS: each queue pair is a vhost
 * device of its own on the one connection, and each sends the guest RAM with ADD_MEM_REG. The
 * exact sequence: pair 0 adds both regions and starts its ring, pair 1 adds the same two
 * (vhost-user.rst: an identical region is not an error), later both remove one of them. A
 * conflicting region is still refused.
 */
static void test_mem_slots_per_pair(void **state)
{
	struct fe f = { 0 };

	(void)state;
	fe_server(&f, VH_SERVER_DATAPATH_EVENT);
	fe_connect(&f);
	fe_memory(&f);
	fe_negotiate(&f, 0);
	/* pair 0 */
	assert_int_equal(mem_reg(&f, VH_USER_ADD_MEM_REG, 0, 0x80000), 0);
	assert_int_equal(mem_reg(&f, VH_USER_ADD_MEM_REG, 0x80000, 0x80000), 0);
	fe_ring(&f, 0, 0);
	fe_echo_once(&f, 0, "pair 0");
	/* pair 1: the same regions, acked with 0 */
	assert_int_equal(mem_reg(&f, VH_USER_ADD_MEM_REG, 0, 0x80000), 0);
	assert_int_equal(mem_reg(&f, VH_USER_ADD_MEM_REG, 0x80000, 0x80000), 0);
	fe_echo_once(&f, 1, "pair 1 added");
	/* Overlapping but not identical: refused, the connection carries on. */
	assert_int_equal(mem_reg(&f, VH_USER_ADD_MEM_REG, 0, 0x40000), 1);
	fe_echo_once(&f, 2, "after the conflict");
	/* Both pairs remove the second region: still mapped after the first, gone after both. */
	assert_int_equal(mem_reg(&f, VH_USER_REM_MEM_REG, 0x80000, 0x80000), 0);
	assert_int_equal(mem_reg(&f, VH_USER_REM_MEM_REG, 0x80000, 0x80000), 0);
	assert_int_equal(mem_reg(&f, VH_USER_REM_MEM_REG, 0x80000, 0x80000), 1);
	fe_echo_once(&f, 3, "one region");
	fe_teardown(&f);
}

static void test_reset_and_config(void **state)
{
	struct fe f = { 0 };
	struct vh_msg m, reply;

	(void)state;
	fe_server(&f, VH_SERVER_DATAPATH_EVENT);
	fe_connect(&f);
	fe_memory(&f);
	fe_negotiate(&f, 0);
	assert_int_equal(fe_mem_table(&f), 0);
	fe_ring(&f, 0, 0);
	fe_echo_once(&f, 0, "before reset");

	/* The config space is read-only for this device. */
	vh_msg_init(&m, VH_USER_SET_CONFIG, 0, VH_USER_CONFIG_HDR_SIZE + 2);
	m.payload.config.size = 2;
	assert_int_equal(fe_ack(&f, &m), 1);
	assert_true(strstr(f.log.last, "read-only") != NULL);

	/* Config change notification on the back-end channel. */
	assert_int_equal(vh_server_config_changed(f.s), 1);
	assert_int_equal(vh_sock_recv(f.backend, &reply, 2000), 0);
	assert_int_equal(reply.hdr.request, VH_USER_BACKEND_CONFIG_CHANGE_MSG);

	vh_msg_init(&m, VH_USER_RESET_DEVICE, 0, 0);
	assert_int_equal(fe_ack(&f, &m), 0);
	assert_int_equal(f.dev.resets, 1);
	assert_int_equal(f.dev.stops, 1);
	/* Features are renegotiated and the ring set up again from scratch. */
	assert_int_equal(fe_u64(&f, VH_USER_SET_FEATURES, f.features), 0);
	vh_vq_driver_destroy(&f.drv);
	close(f.kick);
	close(f.call);
	fe_ring(&f, 0, 0);
	fe_echo_once(&f, 0, "after reset");
	fe_teardown(&f);
}

static void test_packed_event_idx(void **state)
{
	struct fe f = { 0 };

	(void)state;
	f.packed = true;
	f.event_idx = true;
	fe_server(&f, VH_SERVER_DATAPATH_EVENT);
	fe_connect(&f);
	fe_memory(&f);
	fe_negotiate(&f, (1ull << VIRTIO_F_RING_PACKED) | (1ull << VIRTIO_RING_F_EVENT_IDX));
	assert_int_equal(fe_mem_table(&f), 0);
	/* vhost-user.rst: packed base is last_avail_idx | avail wrap counter << 15; starts at 1. */
	fe_ring(&f, 1u << 15, 0);
	for (unsigned i = 0; i < 3 * FE_NUM; i++) {
		char text[16];

		snprintf(text, sizeof(text), "p%u", i);
		fe_echo_once(&f, i % 3, text);
	}
	fe_teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socket_run_reconnect),
		cmocka_unit_test(test_two_instances),
		cmocka_unit_test(test_mem_slots),
		cmocka_unit_test(test_mem_slots_per_pair),
		cmocka_unit_test(test_reset_and_config),
		cmocka_unit_test(test_packed_event_idx),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
