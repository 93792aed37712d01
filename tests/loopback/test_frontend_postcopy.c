// SPDX-License-Identifier: BSD-3-Clause
/*
 * Postcopy on vh_dev (the VMM side of PAGEFAULT) against the scripted fake backend: the exact
 * bytes of POSTCOPY_ADVISE / LISTEN / END, of a memory table and an ADD_MEM_REG while listening
 * (sent without NEED_REPLY, answered with the backend's addresses, acked with a u64 0), the
 * translation between fault addresses and guest addresses, and the refusals: out of order,
 * not negotiated, a backend without a userfaultfd, an answer that does not match the table.
 * Real faults resolved through a real backend: loopback_postcopy_loop.
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
#include <unistd.h>

#include <cmocka.h>

#include <linux/virtio_config.h>

#include <vhost/frontend.h>

#include "frontend_fake.h"
#include "unit_helpers.h"

#include "frontend_env.h"

#define BACKEND_BASE 0x7fab00000000ull /* the fake backend's "mapping" of gpa 0 */
#define PC_PF	     (PF(REPLY_ACK) | PF(PAGEFAULT))

/* ADVISE, answered with an fd (@fd >= 0) or without one. */
static void script_advise(struct env *e, int fd)
{
	struct fake_step *s = fake_expect(&e->f, VH_USER_POSTCOPY_ADVISE, 0, NULL, 0, 0);

	s->kind = R_MSG;
	vh_msg_init(&s->reply, VH_USER_POSTCOPY_ADVISE, VH_USER_FLAG_REPLY, 0);
	if (fd >= 0) {
		s->reply.fds[0] = fd;
		s->reply.nfds = 1;
	}
}

/* The postcopy SET_MEM_TABLE: no NEED_REPLY; the answer puts gpa 0 at @backend. */
static void script_table(struct env *e, uint64_t answer_gpa, uint64_t backend)
{
	struct vh_user_mem_table t = { .nregions = 1 };
	struct fake_step *s;

	t.regions[0] = (struct vh_user_mem_region){ .guest_phys_addr = 0,
						    .memory_size = MEM_SIZE,
						    .userspace_addr = (uint64_t)(uintptr_t)e->mem };
	s = fake_expect(&e->f, VH_USER_SET_MEM_TABLE, 0, &t, 8 + 32, 1);
	s->kind = R_MSG;
	vh_msg_init(&s->reply, VH_USER_SET_MEM_TABLE, VH_USER_FLAG_REPLY, 8 + 32);
	t.regions[0].guest_phys_addr = answer_gpa;
	t.regions[0].userspace_addr = backend;
	memcpy(&s->reply.payload.mem, &t, 8 + 32);
}

static void script_end(struct env *e, uint64_t status)
{
	struct fake_step *s = fake_expect(&e->f, VH_USER_POSTCOPY_END, 0, NULL, 0, 0);

	s->kind = R_MSG;
	vh_msg_init(&s->reply, VH_USER_POSTCOPY_END, VH_USER_FLAG_REPLY, 8);
	s->reply.payload.u64 = status;
}

static void test_postcopy_messages(void **state)
{
	struct vh_dev_postcopy_region r;
	struct env e;
	int ev, uffd = -1, ev2 = -1;
	uint64_t a;

	(void)state;
	env_init(&e, "pc");
	ev = eventfd(0, EFD_CLOEXEC);
	script_handshake_full(&e, F_V1 | F_PF, PC_PF, PC_PF, 0, 0);
	script_advise(&e, ev);
	fake_expect(&e.f, VH_USER_POSTCOPY_LISTEN, NR, NULL, 0, 0);
	script_table(&e, 0, BACKEND_BASE);
	fake_expect_u64(&e.f, VH_USER_SET_MEM_TABLE, 0, 0); /* the ack */
	script_end(&e, 0);
	assert_int_equal(fake_start(&e.f), 0);
	assert_int_equal(env_create(&e, PC_PF), 0);
	assert_int_equal(vh_dev_protocol_features(e.dev), PC_PF);

	/* Out of order: refused here, nothing sent. */
	assert_int_equal(vh_dev_postcopy_listen(e.dev), -EINVAL);
	assert_int_equal(vh_dev_postcopy_end(e.dev), -EINVAL);
	assert_string_equal(e.log.last, "fake: VHOST_USER_POSTCOPY_END: not listening: Invalid "
					"argument");

	assert_int_equal(vh_dev_postcopy_advise(e.dev, &uffd), 0);
	assert_true(uffd >= 0 && uffd != ev);
	assert_int_equal(vh_dev_postcopy_advise(e.dev, &ev2), -EBUSY);
	assert_int_equal(vh_dev_postcopy_listen(e.dev), 0);
	assert_int_equal(vh_dev_postcopy_listen(e.dev), -EBUSY);
	assert_int_equal(vh_dev_postcopy_region(e.dev, 0, &r), -ENOENT);

	env_mem(&e);
	assert_int_equal(vh_dev_postcopy_region(e.dev, 0, &r), 0);
	assert_int_equal(r.gpa, 0);
	assert_int_equal(r.size, MEM_SIZE);
	assert_int_equal(r.backend_addr, BACKEND_BASE);
	assert_int_equal(vh_dev_postcopy_region(e.dev, 1, &r), -ENOENT);
	assert_int_equal(vh_dev_postcopy_fault_gpa(e.dev, BACKEND_BASE + 0x1234, &a), 0);
	assert_int_equal(a, 0x1234);
	assert_int_equal(vh_dev_postcopy_fault_gpa(e.dev, BACKEND_BASE + MEM_SIZE, &a), -EFAULT);
	assert_int_equal(vh_dev_postcopy_fault_gpa(e.dev, BACKEND_BASE - 1, &a), -EFAULT);
	assert_int_equal(vh_dev_postcopy_backend_addr(e.dev, MEM_SIZE - 1, &a), 0);
	assert_int_equal(a, BACKEND_BASE + MEM_SIZE - 1);
	assert_int_equal(vh_dev_postcopy_backend_addr(e.dev, MEM_SIZE, &a), -EFAULT);

	assert_int_equal(vh_dev_postcopy_end(e.dev), 0);
	assert_int_equal(vh_dev_postcopy_region(e.dev, 0, &r), -ENOENT);
	assert_int_equal(vh_dev_postcopy_end(e.dev), -EINVAL);
	close(uffd);
	close(ev);
	env_finish(&e);
}

/* CONFIGURE_MEM_SLOTS: each ADD_MEM_REG answered with the region and acked; REM forgets it. */
static void test_postcopy_mem_slots(void **state)
{
	uint64_t pf = PC_PF | PF(CONFIGURE_MEM_SLOTS), a;
	struct vh_user_mem_reg reg = { 0 };
	struct vh_dev_mem_region m = { .gpa = 0x8000, .size = 0x4000, .fd_offset = 0x8000 };
	struct fake_step *s;
	struct env e;
	int ev, uffd = -1;

	(void)state;
	env_init(&e, "pcslots");
	ev = eventfd(0, EFD_CLOEXEC);
	script_handshake_full(&e, F_V1 | F_PF, pf, pf, 0, 8);
	script_advise(&e, ev);
	fake_expect(&e.f, VH_USER_POSTCOPY_LISTEN, NR, NULL, 0, 0);
	reg.region =
	    (struct vh_user_mem_region){ .guest_phys_addr = 0x8000,
					 .memory_size = 0x4000,
					 .userspace_addr = (uint64_t)(uintptr_t)e.mem + 0x8000,
					 .mmap_offset = 0x8000 };
	s = fake_expect(&e.f, VH_USER_ADD_MEM_REG, 0, &reg, sizeof(reg), 1);
	s->kind = R_MSG;
	vh_msg_init(&s->reply, VH_USER_ADD_MEM_REG, VH_USER_FLAG_REPLY, sizeof(reg));
	s->reply.payload.mem_reg = reg;
	s->reply.payload.mem_reg.region.userspace_addr = BACKEND_BASE;
	fake_expect_u64(&e.f, VH_USER_ADD_MEM_REG, 0, 0);
	/* Removing goes out as usual, REPLY_ACK included. */
	fake_expect(&e.f, VH_USER_REM_MEM_REG, NR, &reg, sizeof(reg), 0);
	assert_int_equal(fake_start(&e.f), 0);
	assert_int_equal(env_create(&e, pf), 0);
	assert_int_equal(vh_dev_postcopy_advise(e.dev, &uffd), 0);
	assert_int_equal(vh_dev_postcopy_listen(e.dev), 0);

	m.host = e.mem + 0x8000;
	m.fd = e.memfd;
	assert_int_equal(vh_dev_mem_begin(e.dev), 0);
	assert_int_equal(vh_dev_mem_add(e.dev, &m), 0);
	assert_int_equal(vh_dev_mem_commit(e.dev), 0);
	assert_string_equal(e.f.fail, "");
	assert_int_equal(vh_dev_postcopy_fault_gpa(e.dev, BACKEND_BASE + 0x10, &a), 0);
	assert_int_equal(a, 0x8010);
	assert_int_equal(vh_dev_mem_begin(e.dev), 0);
	assert_int_equal(vh_dev_mem_commit(e.dev), 0);
	assert_int_equal(vh_dev_postcopy_fault_gpa(e.dev, BACKEND_BASE + 0x10, &a), -EFAULT);
	close(uffd);
	close(ev);
	env_finish(&e);
}

/* PAGEFAULT is opt-in: not asked for, not negotiated, ADVISE refused before anything is sent. */
static void test_postcopy_not_negotiated(void **state)
{
	struct env e;
	int uffd = -1;

	(void)state;
	env_init(&e, "pcno");
	script_handshake_full(&e, F_V1 | F_PF, PC_PF, PF(REPLY_ACK), 0, 0);
	assert_int_equal(fake_start(&e.f), 0);
	assert_int_equal(env_create(&e, 0), 0);
	assert_int_equal(vh_dev_postcopy_advise(e.dev, &uffd), -EOPNOTSUPP);
	assert_int_equal(uffd, -1);
	assert_string_equal(e.log.last, "fake: VHOST_USER_POSTCOPY_ADVISE: PAGEFAULT not "
					"negotiated: Operation not supported");
	env_finish(&e);
}

/* A backend that cannot open a userfaultfd answers without one: -EIO, the device carries on. */
static void test_postcopy_no_uffd(void **state)
{
	struct env e;
	int uffd = -1;

	(void)state;
	env_init(&e, "pcnofd");
	script_handshake_full(&e, F_V1 | F_PF, PC_PF, PC_PF, 0, 0);
	script_advise(&e, -1);
	script_mem(&e, NR);
	assert_int_equal(fake_start(&e.f), 0);
	assert_int_equal(env_create(&e, PC_PF), 0);
	assert_int_equal(vh_dev_postcopy_advise(e.dev, &uffd), -EIO);
	assert_int_equal(uffd, -1);
	env_mem(&e);
	env_finish(&e);
}

/* An answer for another region than the one sent: -EPROTO, broken, no ack sent. */
static void test_postcopy_bad_answer(void **state)
{
	struct env e;
	int ev, uffd = -1;

	(void)state;
	env_init(&e, "pcbad");
	ev = eventfd(0, EFD_CLOEXEC);
	script_handshake_full(&e, F_V1 | F_PF, PC_PF, PC_PF, 0, 0);
	script_advise(&e, ev);
	fake_expect(&e.f, VH_USER_POSTCOPY_LISTEN, NR, NULL, 0, 0);
	script_table(&e, 0x1000, BACKEND_BASE);
	assert_int_equal(fake_start(&e.f), 0);
	assert_int_equal(env_create(&e, PC_PF), 0);
	assert_int_equal(vh_dev_postcopy_advise(e.dev, &uffd), 0);
	assert_int_equal(vh_dev_postcopy_listen(e.dev), 0);
	assert_int_equal(vh_dev_mem_begin(e.dev), 0);
	{
		struct vh_dev_mem_region r = {
			.gpa = 0, .size = MEM_SIZE, .host = e.mem, .fd = e.memfd, .page_size = 4096
		};

		assert_int_equal(vh_dev_mem_add(e.dev, &r), 0);
	}
	assert_int_equal(vh_dev_mem_commit(e.dev), -EPROTO);
	assert_int_equal(vh_dev_postcopy_end(e.dev), -EPROTO);
	close(uffd);
	close(ev);
	env_finish(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_postcopy_messages),
		cmocka_unit_test(test_postcopy_mem_slots),
		cmocka_unit_test(test_postcopy_not_negotiated),
		cmocka_unit_test(test_postcopy_no_uffd),
		cmocka_unit_test(test_postcopy_bad_answer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
