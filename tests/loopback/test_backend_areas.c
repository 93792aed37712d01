/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The backend library's GPA_ADDRESSES, SHMEM and HOST_NOTIFIER against a scripted front-end
 * (backend_fake.h), byte for byte: ring addresses taken as guest physical addresses (and a
 * front-end virtual address refused then), the GET_SHMEM_CONFIG reply, the BACKEND_SHMEM_MAP /
 * _UNMAP and BACKEND_VRING_HOST_NOTIFIER_MSG requests on the back-end channel with their fds,
 * the front-end's refusal coming back as its errno, and bad requests refused before they go out.
 */
#include "backend_fake.h"

#define PFB(x) (1ull << VH_USER_PROTOCOL_F_##x)

/* An event-mode server, connected, guest memory, features negotiated. */
static void fe_start(struct fe *f)
{
	fe_server(f, VH_SERVER_DATAPATH_EVENT);
	fe_connect(f);
	fe_memory(f);
	fe_negotiate(f, 0);
}

/*
 * GPA_ADDRESSES acked: SET_VRING_ADDR carries guest physical addresses while the memory table's
 * user addresses stay FE_UVA_BASE-based, so only a GPA lookup finds the ring; the front-end
 * virtual address of the same ring is refused.
 */
static void test_gpa_addresses(void **state)
{
	struct fe f = { .gpa_addresses = true };
	struct vh_msg m;

	(void)state;
	fe_start(&f);
	assert_true(f.proto & PFB(GPA_ADDRESSES));
	assert_int_equal(fe_mem_table(&f), 0);
	fe_ring(&f, 0, 0);
	assert_int_equal(f.dev.starts, 1);
	fe_echo_once(&f, 0, "guest physical");
	fe_echo_once(&f, 1, "again");

	vh_msg_init(&m, VH_USER_SET_VRING_ADDR, 0, sizeof(struct vhost_vring_addr));
	m.payload.addr = (struct vhost_vring_addr){ .index = 1,
						    .desc_user_addr = FE_UVA_BASE + FE_RING_GPA,
						    .avail_user_addr = FE_UVA_BASE + FE_RING_GPA,
						    .used_user_addr = FE_UVA_BASE + FE_RING_GPA };
	assert_int_equal(fe_ack(&f, &m), 1);
	fe_teardown(&f);
}

static const uint64_t shm_sizes[4] = { 0, 0x4000, 0, 0x2000 };

/* GET_SHMEM_CONFIG: 8 + 256 * 8 bytes, nregions 2, the sizes at their shmid. */
static void test_shmem_config(void **state)
{
	struct fe f = { .shmem_sizes = shm_sizes, .shmem_count = 4 };
	struct vh_msg m, reply;

	(void)state;
	fe_start(&f);
	assert_true(f.proto & PFB(SHMEM));
	assert_false(f.proto & PFB(HOST_NOTIFIER));
	vh_msg_init(&m, VH_USER_GET_SHMEM_CONFIG, 0, 0);
	assert_int_equal(fe_xfer(&f, &m, &reply), 0);
	assert_int_equal(reply.hdr.request, VH_USER_GET_SHMEM_CONFIG);
	assert_int_equal(reply.hdr.flags, VH_USER_VERSION | VH_USER_FLAG_REPLY);
	assert_int_equal(reply.hdr.size, 2056);
	assert_int_equal(reply.nfds, 0);
	{
		uint8_t want[2056] = { 2 }; /* nregions 2, padding 0 */

		want[8 + 8 + 1] = 0x40;	 /* shmid 1: 0x4000 */
		want[8 + 24 + 1] = 0x20; /* shmid 3: 0x2000 */
		assert_memory_equal(reply.payload.raw, want, sizeof(want));
	}
	fe_teardown(&f);
}

/* A config the library refuses: a size that is not whole pages, too many regions. */
static void test_shmem_bad_config(void **state)
{
	static const uint64_t odd[2] = { 0x1000, 0x1800 };
	struct vh_server_config cfg;
	struct vh_server *s = NULL;

	(void)state;
	vh_server_config_init(&cfg);
	cfg.ops = &echo_ops;
	cfg.num_queues = 1;
	cfg.shmem_sizes = odd;
	cfg.shmem_count = 2;
	assert_int_equal(vh_server_create(&cfg, &s), -EINVAL);
	cfg.shmem_count = 257;
	assert_int_equal(vh_server_create(&cfg, &s), -EINVAL);
	assert_null(s);
}

struct answer {
	int calls, result;
};

static void answered(void *opaque, int result)
{
	struct answer *a = opaque;

	a->calls++;
	a->result = result;
}

/* The front-end's side: take the request from the channel, answer @v, pump until @a has it. */
static void take_and_answer(struct fe *f, struct vh_msg *m, uint64_t v, struct answer *a)
{
	struct vh_msg r;
	int calls = a->calls;

	for (int i = 0; i < 100 && vh_sock_recv(f->backend, m, 10) == -EAGAIN; i++)
		fe_pump(f);
	assert_true(m->hdr.request != 0);
	vh_msg_init(&r, m->hdr.request, VH_USER_FLAG_REPLY, 8);
	r.payload.u64 = v;
	assert_int_equal(vh_sock_send(f->backend, &r), 0);
	for (int i = 0; i < 200 && a->calls == calls; i++) {
		fe_pump(f);
		usleep(500);
	}
	assert_int_equal(a->calls, calls + 1);
}

static void test_shmem_map_bytes(void **state)
{
	struct fe f = { .shmem_sizes = shm_sizes, .shmem_count = 4 };
	struct vh_shmem_mapping mp = { .shmid = 1,
				       .fd_offset = 0x1000,
				       .shm_offset = 0x2000,
				       .len = 0x2000,
				       .writable = true };
	static const uint8_t want[40] = { 1, 0, 0, 0,	 0, 0, 0, 0, 0, 0x10, 0, 0,    0, 0,
					  0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0,    0, 0x20, 0, 0,
					  0, 0, 0, 0,	 1, 0, 0, 0, 0, 0,    0, 0 };
	struct answer a = { 0 };
	struct vh_conn *c;
	struct vh_msg m;

	(void)state;
	fe_start(&f);
	c = f.dev.conn;
	mp.fd = f.memfd;

	/* Queued, not waited for: the answer comes to the callback. */
	assert_int_equal(vh_conn_shmem_map(c, &mp, answered, &a), 0);
	take_and_answer(&f, &m, 0, &a);
	assert_int_equal(m.hdr.request, VH_USER_BACKEND_SHMEM_MAP);
	assert_int_equal(m.hdr.flags, VH_USER_VERSION | VH_USER_FLAG_NEED_REPLY);
	assert_int_equal(m.hdr.size, 40);
	assert_memory_equal(m.payload.raw, want, 40);
	assert_int_equal(m.nfds, 1);
	vh_msg_close_fds(&m);
	assert_int_equal(a.result, 0);

	/* The front-end's refusal (its errno in the REPLY_ACK) is what the callback gets. */
	assert_int_equal(vh_conn_shmem_map(c, &mp, answered, &a), 0);
	take_and_answer(&f, &m, EBUSY, &a);
	vh_msg_close_fds(&m);
	assert_int_equal(a.result, -EBUSY);

	/* UNMAP: the same layout with fd_offset 0 and flags 0, no fd. */
	assert_int_equal(vh_conn_shmem_unmap(c, &mp, answered, &a), 0);
	take_and_answer(&f, &m, 0, &a);
	assert_int_equal(m.hdr.request, VH_USER_BACKEND_SHMEM_UNMAP);
	assert_int_equal(m.hdr.size, 40);
	assert_int_equal(m.nfds, 0);
	assert_int_equal(m.payload.shmem_map.shmid, 1);
	assert_int_equal(m.payload.shmem_map.fd_offset, 0);
	assert_int_equal(m.payload.shmem_map.shm_offset, 0x2000);
	assert_int_equal(m.payload.shmem_map.len, 0x2000);
	assert_int_equal(m.payload.shmem_map.flags, 0);
	assert_int_equal(a.result, 0);

	/* Fire and forget: no NEED_REPLY. */
	assert_int_equal(vh_conn_shmem_map(c, &mp, NULL, NULL), 0);
	assert_int_equal(vh_sock_recv(f.backend, &m, 1000), 0);
	assert_int_equal(m.hdr.flags, VH_USER_VERSION);
	vh_msg_close_fds(&m);

	/* Refused before anything is sent: nothing reaches the channel, no callback. */
	mp.shmid = 2; /* unused id */
	assert_int_equal(vh_conn_shmem_map(c, &mp, answered, &a), -EINVAL);
	mp.shmid = 200; /* beyond the declared ids */
	assert_int_equal(vh_conn_shmem_map(c, &mp, answered, &a), -EINVAL);
	mp.shmid = 1;
	mp.shm_offset = 0xfffffffffffff000ull; /* offset + len wraps */
	assert_int_equal(vh_conn_shmem_map(c, &mp, answered, &a), -EINVAL);
	assert_int_equal(vh_conn_shmem_unmap(c, &mp, answered, &a), -EINVAL);
	mp.shm_offset = 0x3000; /* runs past the region's end */
	assert_int_equal(vh_conn_shmem_map(c, &mp, answered, &a), -EINVAL);
	mp.shm_offset = 0;
	mp.len = 0x800; /* not a page */
	assert_int_equal(vh_conn_shmem_map(c, &mp, answered, &a), -EINVAL);
	mp.len = 0x1000;
	mp.fd_offset = 0x7ffffffffffff000ull; /* fd range wraps off_t */
	assert_int_equal(vh_conn_shmem_map(c, &mp, answered, &a), -EINVAL);
	mp.fd_offset = 0;
	mp.fd = -1;
	assert_int_equal(vh_conn_shmem_map(c, &mp, answered, &a), -EBADF);
	fe_pump(&f);
	assert_int_equal(vh_sock_recv(f.backend, &m, 0), -EAGAIN);
	assert_int_equal(a.calls, 3);
	fe_teardown(&f);
}

/* Without SHMEM negotiated the calls say so and send nothing. */
static void test_shmem_not_negotiated(void **state)
{
	struct fe f = { 0 };
	struct vh_shmem_mapping mp = { .shmid = 1, .fd = 0, .len = 0x1000 };
	struct vh_msg m;

	(void)state;
	fe_start(&f);
	assert_false(f.proto & PFB(SHMEM));
	assert_int_equal(vh_conn_shmem_map(f.dev.conn, &mp, NULL, NULL), -EOPNOTSUPP);
	assert_int_equal(vh_queue_set_host_notifier(vh_conn_queue(f.dev.conn, 0), 0, 0, 4096),
			 -EOPNOTSUPP);
	assert_int_equal(vh_sock_recv(f.backend, &m, 0), -EAGAIN);
	fe_teardown(&f);
}

static void test_host_notifier_bytes(void **state)
{
	struct fe f = { .host_notifiers = true };
	struct vh_queue *q;
	struct vh_msg m;
	int page = (int)sysconf(_SC_PAGESIZE);

	(void)state;
	fe_start(&f);
	assert_true(f.proto & PFB(HOST_NOTIFIER));
	q = vh_conn_queue(f.dev.conn, 1);
	assert_int_equal(vh_queue_set_host_notifier(q, f.memfd, (uint64_t)page, (uint64_t)page), 0);
	assert_int_equal(vh_sock_recv(f.backend, &m, 1000), 0);
	assert_int_equal(m.hdr.request, VH_USER_BACKEND_VRING_HOST_NOTIFIER_MSG);
	assert_int_equal(m.hdr.flags, VH_USER_VERSION);
	assert_int_equal(m.hdr.size, 24);
	assert_int_equal(m.payload.area.u64, 1);
	assert_int_equal(m.payload.area.size, page);
	assert_int_equal(m.payload.area.offset, page);
	assert_int_equal(m.nfds, 1);
	vh_msg_close_fds(&m);
	/* Taken back: the "no fd" bit, no fd, size and offset 0. */
	assert_int_equal(vh_queue_set_host_notifier(q, -1, 0, 0), 0);
	assert_int_equal(vh_sock_recv(f.backend, &m, 1000), 0);
	assert_int_equal(m.payload.area.u64, VH_USER_VRING_NOFD_MASK | 1);
	assert_int_equal(m.payload.area.size, 0);
	assert_int_equal(m.nfds, 0);
	/* Not one page, or not page aligned: refused here. */
	assert_int_equal(vh_queue_set_host_notifier(q, f.memfd, 0, 2ull * page), -EINVAL);
	assert_int_equal(vh_queue_set_host_notifier(q, f.memfd, 16, (uint64_t)page), -EINVAL);
	assert_int_equal(vh_sock_recv(f.backend, &m, 0), -EAGAIN);
	fe_teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gpa_addresses),
		cmocka_unit_test(test_shmem_config),
		cmocka_unit_test(test_shmem_bad_config),
		cmocka_unit_test(test_shmem_map_bytes),
		cmocka_unit_test(test_shmem_not_negotiated),
		cmocka_unit_test(test_host_notifier_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
