/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Postcopy on the back-end (vhost-user.rst "Migration", PAGEFAULT) against the scripted fake
 * front-end of backend_fake.h: the exact replies to POSTCOPY_ADVISE / LISTEN / END, the
 * SET_MEM_TABLE and ADD_MEM_REG replies carrying the back-end's own addresses, the front-end's
 * ack, the out-of-order requests refused without losing the connection, and proof that the
 * regions really are registered with the userfaultfd handed out (UFFDIO_COPY through it lands
 * in guest memory). Faults themselves are resolved in loopback_frontend_postcopy.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/ioctl.h>

#include <linux/userfaultfd.h>

#include "backend_fake.h"
#include "mem/userfault.h"

#define PAGEFAULT (1ull << VH_USER_PROTOCOL_F_PAGEFAULT)

static bool uffd_works(void)
{
	uint64_t features;

	return vh_uffd_probe(&features) == 0;
}

static bool is_userfaultfd(int fd)
{
	char link[64], target[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return strcmp(target, "anon_inode:[userfaultfd]") == 0;
}

/* A request without NEED_REPLY whose own reply is due (ADVISE, END): the whole reply. */
static void request(struct fe *f, uint32_t req, struct vh_msg *reply)
{
	struct vh_msg m;

	vh_msg_init(&m, req, 0, 0);
	assert_int_equal(fe_xfer(f, &m, reply), 0);
	assert_int_equal(reply->hdr.request, req);
	assert_int_equal(reply->hdr.flags, VH_USER_VERSION | VH_USER_FLAG_REPLY);
}

static int64_t listen_ack(struct fe *f)
{
	struct vh_msg m;

	vh_msg_init(&m, VH_USER_POSTCOPY_LISTEN, 0, 0);
	return fe_ack(f, &m);
}

/* POSTCOPY_END: the u64 status (0 success). */
static uint64_t end_status(struct fe *f)
{
	struct vh_msg reply;

	request(f, VH_USER_POSTCOPY_END, &reply);
	assert_int_equal(reply.hdr.size, 8);
	assert_int_equal(reply.nfds, 0);
	return reply.payload.u64;
}

/* POSTCOPY_ADVISE: the userfaultfd, or -1 when the reply has none. */
static int advise(struct fe *f)
{
	struct vh_msg reply;

	request(f, VH_USER_POSTCOPY_ADVISE, &reply);
	assert_int_equal(reply.hdr.size, 0);
	return reply.nfds == 1 ? reply.fds[0] : -1;
}

/* Copy one page holding @byte to the back-end's address @dst through its userfaultfd. */
static int uffd_copy(int uffd, uint64_t dst, uint8_t byte)
{
	static uint8_t page[4096] __attribute__((aligned(4096)));
	struct uffdio_copy c = { .dst = dst, .src = (uintptr_t)page, .len = sizeof(page) };

	memset(page, byte, sizeof(page));
	return ioctl(uffd, UFFDIO_COPY, &c) == 0 ? 0 : -errno;
}

static void ack_table(struct fe *f, uint32_t req)
{
	struct vh_msg m, reply;

	/* QEMU's ack: the request of its last table message, a u64 0, no NEED_REPLY, no fd. */
	vh_msg_init(&m, req, 0, 8);
	assert_int_equal(fe_xfer(f, &m, &reply), 0);
	assert_int_equal(vh_sock_recv(f->sock, &reply, 0), -EAGAIN);
}

/* ADVISE, LISTEN, SET_MEM_TABLE with the postcopy reply, ack, I/O, END; the refusals between. */
static void test_postcopy_mem_table(void **state)
{
	struct fe f = { 0 };
	struct vh_msg m, reply;
	int fds = vh_test_count_fds(), uffd;
	uint64_t base;

	(void)state;
	if (!uffd_works()) {
		print_message("userfaultfd unavailable: only the refusals are checked\n");
		return;
	}
	fe_server(&f, VH_SERVER_DATAPATH_EVENT);
	fe_connect(&f);
	fe_memory(&f);
	fe_negotiate(&f, 0);
	assert_true(f.proto & PAGEFAULT);

	/* Out of order: refused, logged, the connection stays. */
	assert_int_equal(listen_ack(&f), 1);
	assert_string_equal(f.log.last, "echo: VHOST_USER_POSTCOPY_LISTEN: no POSTCOPY_ADVISE "
					"before: Invalid argument");
	assert_int_equal(end_status(&f), 1);
	assert_string_equal(f.log.last, "echo: VHOST_USER_POSTCOPY_END: no POSTCOPY_LISTEN "
					"before: Invalid argument");

	/* ADVISE: a userfaultfd, no payload. Twice: no fd (the front-end sees the failure). */
	uffd = advise(&f);
	assert_true(uffd >= 0);
	assert_true(is_userfaultfd(uffd));
	assert_int_equal(advise(&f), -1);
	assert_string_equal(f.log.last, "echo: VHOST_USER_POSTCOPY_ADVISE: postcopy already "
					"advised: Device or resource busy");
	assert_int_equal(end_status(&f), 1);

	/* Precopy: a table is applied as usual (REPLY_ACK), nothing registered yet. */
	assert_int_equal(fe_mem_table(&f), 0);
	assert_int_equal(listen_ack(&f), 0);
	assert_int_equal(listen_ack(&f), 1);

	/* Postcopy: the same table back with the back-end's address of each region. */
	vh_msg_init(&m, VH_USER_SET_MEM_TABLE, 0, VH_USER_MEM_TABLE_HDR_SIZE + 32);
	m.payload.mem.nregions = 1;
	m.payload.mem.regions[0] = (struct vh_user_mem_region){ .guest_phys_addr = 0,
								.memory_size = FE_MEM_SIZE,
								.userspace_addr = FE_UVA_BASE };
	m.fds[0] = f.memfd;
	m.nfds = 1;
	assert_int_equal(fe_xfer(&f, &m, &reply), 0);
	assert_int_equal(reply.hdr.request, VH_USER_SET_MEM_TABLE);
	assert_int_equal(reply.hdr.flags, VH_USER_VERSION | VH_USER_FLAG_REPLY);
	assert_int_equal(reply.hdr.size, 8 + 32);
	assert_int_equal(reply.nfds, 0);
	assert_int_equal(reply.payload.mem.nregions, 1);
	assert_int_equal(reply.payload.mem.padding, 0);
	assert_int_equal(reply.payload.mem.regions[0].guest_phys_addr, 0);
	assert_int_equal(reply.payload.mem.regions[0].memory_size, FE_MEM_SIZE);
	assert_int_equal(reply.payload.mem.regions[0].mmap_offset, 0);
	base = reply.payload.mem.regions[0].userspace_addr;
	assert_true(base != 0 && base != FE_UVA_BASE && base % 4096 == 0);
	ack_table(&f, VH_USER_SET_MEM_TABLE);

	/* Registered: a page placed at the back-end's address is guest memory at that gpa. */
	assert_int_equal(uffd_copy(uffd, base + 0x30000, 0x5a), 0);
	assert_int_equal(f.mem[0x30000], 0x5a);
	assert_int_equal(f.mem[0x30fff], 0x5a);
	/* A page that is there already is not copied over. */
	f.mem[0x31000] = 1;
	assert_int_equal(uffd_copy(uffd, base + 0x31000, 0x5a), -EEXIST);
	assert_int_equal(f.mem[0x31000], 1);

	/* The ack was not taken for an empty table: the ring still runs on guest memory. */
	fe_ring(&f, 0, 0);
	fe_echo_once(&f, 0, "postcopy");

	assert_int_equal(end_status(&f), 0);
	/* Unregistered: the fd no longer reaches guest memory. */
	assert_int_equal(uffd_copy(uffd, base + 0x32000, 0x5a), -ENOENT);
	assert_int_equal(listen_ack(&f), 1);
	fe_echo_once(&f, 1, "after END");
	close(uffd);
	fe_teardown(&f);
	assert_int_equal(vh_test_count_fds(), fds);
}

/* CONFIGURE_MEM_SLOTS: ADD_MEM_REG answered with the region at our address, QEMU's acks. */
static void test_postcopy_add_mem_reg(void **state)
{
	struct fe f = { 0 };
	struct vh_msg m, reply;
	int fds = vh_test_count_fds(), uffd;
	uint64_t base;

	(void)state;
	if (!uffd_works())
		return;
	fe_server(&f, VH_SERVER_DATAPATH_EVENT);
	fe_connect(&f);
	fe_memory(&f);
	fe_negotiate(&f, 0);
	uffd = advise(&f);
	assert_true(uffd >= 0);
	assert_int_equal(listen_ack(&f), 0);

	vh_msg_init(&m, VH_USER_ADD_MEM_REG, 0, sizeof(struct vh_user_mem_reg));
	m.payload.mem_reg.region = (struct vh_user_mem_region){ .guest_phys_addr = 0x100000,
								.memory_size = 0x80000,
								.userspace_addr = FE_UVA_BASE,
								.mmap_offset = 0x40000 };
	m.fds[0] = f.memfd;
	m.nfds = 1;
	assert_int_equal(fe_xfer(&f, &m, &reply), 0);
	assert_int_equal(reply.hdr.request, VH_USER_ADD_MEM_REG);
	assert_int_equal(reply.hdr.flags, VH_USER_VERSION | VH_USER_FLAG_REPLY);
	assert_int_equal(reply.hdr.size, 40);
	assert_int_equal(reply.nfds, 0);
	assert_int_equal(reply.payload.mem_reg.padding, 0);
	assert_int_equal(reply.payload.mem_reg.region.guest_phys_addr, 0x100000);
	assert_int_equal(reply.payload.mem_reg.region.memory_size, 0x80000);
	assert_int_equal(reply.payload.mem_reg.region.mmap_offset, 0x40000);
	base = reply.payload.mem_reg.region.userspace_addr;
	assert_true(base != 0 && base != FE_UVA_BASE);
	ack_table(&f, VH_USER_ADD_MEM_REG);
	/* gpa 0x101000 is offset 0x41000 of the memfd. */
	assert_int_equal(uffd_copy(uffd, base + 0x1000, 0xc3), 0);
	assert_int_equal(f.mem[0x41000], 0xc3);

	assert_string_equal(f.log.last, "echo: postcopy table acked");
	/* A table that did not change: QEMU sends no region, then its ack with request 0. */
	f.log.last[0] = '\0';
	ack_table(&f, VH_USER_NONE);
	assert_string_equal(f.log.last, "echo: postcopy table acked");
	/* The region is there to remove (no NEED_REPLY in postcopy, but we ask for one here). */
	vh_msg_init(&m, VH_USER_REM_MEM_REG, 0, sizeof(struct vh_user_mem_reg));
	m.payload.mem_reg.region =
	    (struct vh_user_mem_region){ .guest_phys_addr = 0x100000, .memory_size = 0x80000 };
	assert_int_equal(fe_ack(&f, &m), 0);
	assert_int_equal(end_status(&f), 0);
	close(uffd);
	fe_teardown(&f);
	assert_int_equal(vh_test_count_fds(), fds);
}

/* PAGEFAULT not negotiated: ADVISE answers without an fd, LISTEN and END are refused. */
static void test_postcopy_not_negotiated(void **state)
{
	struct fe f = { 0 };
	struct vh_msg m, reply;
	int fds = vh_test_count_fds();

	(void)state;
	fe_server(&f, VH_SERVER_DATAPATH_EVENT);
	fe_connect(&f);
	fe_memory(&f);
	fe_negotiate(&f, 0);
	assert_int_equal(!!(f.proto & PAGEFAULT), uffd_works());
	vh_msg_init(&m, VH_USER_SET_PROTOCOL_FEATURES, 0, 8);
	m.payload.u64 = f.proto & ~PAGEFAULT;
	assert_int_equal(fe_xfer(&f, &m, &reply), 0);
	assert_int_equal(advise(&f), -1);
	assert_string_equal(f.log.last, "echo: VHOST_USER_POSTCOPY_ADVISE: PAGEFAULT not "
					"negotiated: Invalid argument");
	assert_int_equal(listen_ack(&f), 1);
	assert_int_equal(end_status(&f), 1);
	/* A bare u64 SET_MEM_TABLE with no table reply pending is an empty table, not an ack. */
	assert_int_equal(fe_mem_table(&f), 0);
	assert_int_equal(vh_server_num_conns(f.s), 1);
	fe_teardown(&f);
	assert_int_equal(vh_test_count_fds(), fds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_postcopy_mem_table),
		cmocka_unit_test(test_postcopy_add_mem_reg),
		cmocka_unit_test(test_postcopy_not_negotiated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
