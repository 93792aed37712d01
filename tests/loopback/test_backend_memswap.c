/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SET_MEM_TABLE replaces the connection's memory map and frees the old one. Every ring's vq
 * must point at the new map before that: a packed ring looks its log address up in the map
 * (at ring start, at SET_VRING_ADDR, when logging is attached). Found by fuzz/fuzz_dispatch
 * (heap-use-after-free in vh_memmap_host_to_gpa() from vh_vq_set_addrs() during the resume
 * after SET_MEM_TABLE); run under ASan (build with -Db_sanitize=address) to see it.
 */
#include "backend_fake.h"

static void start_packed(struct fe *f)
{
	f->packed = true;
	fe_server(f, VH_SERVER_DATAPATH_EVENT);
	fe_connect(f);
	fe_memory(f);
	fe_negotiate(f, 1ull << VIRTIO_F_RING_PACKED);
	assert_int_equal(fe_mem_table(f), 0);
	fe_ring(f, 1u << 15, 0); /* packed: avail wrap counter 1 */
	fe_echo_once(f, 0, "before");
}

/* A live packed ring is paused, re-mapped into the new table and resumed. */
static void test_mem_table_live_packed(void **state)
{
	struct fe f = { 0 };
	int fds = vh_test_count_fds();

	(void)state;
	start_packed(&f);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(fe_mem_table(&f), 0);
		fe_echo_once(&f, 1 + (unsigned)i, "after a new table");
	}
	assert_int_equal(f.dev.stops, 3);  /* paused for each table ... */
	assert_int_equal(f.dev.starts, 4); /* ... and resumed */
	fe_teardown(&f);
	assert_int_equal(vh_test_count_fds(), fds);
}

/* A stopped packed ring keeps its vq across the table change; logging is attached later. */
static void test_mem_table_stopped_packed(void **state)
{
	struct fe f = { 0 };
	int fds = vh_test_count_fds();
	int logfd;
	struct vh_msg m;

	(void)state;
	start_packed(&f);
	assert_int_equal(fe_state(&f, VH_USER_SET_VRING_ENABLE, 0, 0), 0);
	assert_int_equal(fe_mem_table(&f), 0);
	/* SET_LOG_BASE + LOG_ALL attach the log to every vq: a lookup in the vq's map. */
	logfd = memfd_create("log", MFD_CLOEXEC);
	assert_true(logfd >= 0);
	assert_int_equal(ftruncate(logfd, 4096), 0);
	vh_msg_init(&m, VH_USER_SET_LOG_BASE, 0, sizeof(struct vh_user_log));
	m.payload.log.mmap_size = 4096;
	m.fds[0] = logfd;
	m.nfds = 1;
	assert_int_equal(fe_ack(&f, &m), 0);
	close(logfd);
	f.features |= 1ull << VHOST_F_LOG_ALL;
	assert_int_equal(fe_u64(&f, VH_USER_SET_FEATURES, f.features), 0);
	/* The ring restarts in the new table and still works. */
	assert_int_equal(fe_state(&f, VH_USER_SET_VRING_ENABLE, 0, 1), 0);
	fe_echo_once(&f, 1, "restarted");
	fe_teardown(&f);
	assert_int_equal(vh_test_count_fds(), fds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mem_table_live_packed),
		cmocka_unit_test(test_mem_table_stopped_packed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
