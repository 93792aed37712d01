/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A front-end that could truncate guest memory under the back-end (tests/loopback/backend_fake.h,
 * in process). A region past the end of its fd is refused (vh_memmap_add(), always). With
 * cfg.require_sealed_memory an fd that is not sealed against shrinking is refused too, with one
 * log line and a REPLY_ACK of 1; a sealed one is served, and the front-end can no longer shrink
 * it (the SIGBUS that would kill the back-end cannot happen).
 */
#include <fcntl.h>

#include "../loopback/backend_fake.h"

/* Guest RAM in a memfd that allows sealing; @seals added (0: none). */
static void sealed_ram(struct fe *f, int seals)
{
	f->memfd = memfd_create("guest", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(f->memfd >= 0);
	assert_int_equal(ftruncate(f->memfd, FE_MEM_SIZE), 0);
	if (seals)
		assert_int_equal(fcntl(f->memfd, F_ADD_SEALS, seals), 0);
	f->mem = mmap(NULL, FE_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
	assert_true(f->mem != MAP_FAILED);
}

static int64_t add_mem_reg(struct fe *f)
{
	struct vh_msg m;

	vh_msg_init(&m, VH_USER_ADD_MEM_REG, 0, sizeof(struct vh_user_mem_reg));
	m.payload.mem_reg.region = (struct vh_user_mem_region){ .guest_phys_addr = 0,
								.memory_size = FE_MEM_SIZE,
								.userspace_addr = FE_UVA_BASE };
	m.fds[0] = f->memfd;
	m.nfds = 1;
	return fe_ack(f, &m);
}

static void setup(struct fe *f, bool require, int seals)
{
	f->require_sealed_memory = require;
	fe_server(f, VH_SERVER_DATAPATH_EVENT);
	fe_connect(f);
	sealed_ram(f, seals);
	fe_negotiate(f, 0);
}

/* Unsealed memory with the requirement: both ways of adding it are refused, clearly. */
static void test_unsealed_refused(void **state)
{
	static const int seals[] = { 0, F_SEAL_GROW, F_SEAL_SEAL };

	(void)state;
	for (unsigned i = 0; i < sizeof(seals) / sizeof(seals[0]); i++) {
		struct fe f = { 0 };

		setup(&f, true, seals[i]);
		assert_int_equal(fe_mem_table(&f), 1);
		assert_non_null(strstr(f.log.last, "VHOST_USER_SET_MEM_TABLE: memory fd not sealed "
						   "against shrinking (F_SEAL_SHRINK): Invalid "
						   "argument"));
		assert_int_equal(vh_server_num_conns(f.s), 1);
		f.log.last[0] = '\0';
		if (f.proto & (1ull << VH_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS)) {
			assert_int_equal(add_mem_reg(&f), 1);
			assert_non_null(strstr(f.log.last, "VHOST_USER_ADD_MEM_REG: memory fd not "
							   "sealed against shrinking"));
		}
		fe_teardown(&f);
	}
}

/* Sealed memory is served, and the front-end cannot shrink it any more. */
static void test_sealed_served(void **state)
{
	struct fe f = { 0 };

	(void)state;
	setup(&f, true, F_SEAL_SHRINK);
	assert_int_equal(fe_mem_table(&f), 0);
	fe_ring(&f, 0, 0);
	fe_echo_once(&f, 0, "sealed");
	assert_int_equal(ftruncate(f.memfd, FE_MEM_SIZE / 2), -1);
	assert_int_equal(errno, EPERM);
	fe_echo_once(&f, 1, "still there");
	fe_teardown(&f);
}

/* Without the requirement unsealed memory is served as before; past its fd's end it is not. */
static void test_default(void **state)
{
	struct fe f = { 0 };

	(void)state;
	setup(&f, false, 0);
	assert_int_equal(ftruncate(f.memfd, FE_MEM_SIZE / 2), 0);
	assert_int_equal(fe_mem_table(&f), 1);
	assert_non_null(strstr(f.log.last, "bad memory region"));
	assert_int_equal(ftruncate(f.memfd, FE_MEM_SIZE), 0);
	assert_int_equal(fe_mem_table(&f), 0);
	fe_ring(&f, 0, 0);
	fe_echo_once(&f, 0, "unsealed");
	fe_teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unsealed_refused),
		cmocka_unit_test(test_sealed_served),
		cmocka_unit_test(test_default),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
