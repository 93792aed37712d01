/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The backend library against a scripted fake front-end (backend_fake.h): negotiation, memory,
 * a ring served by an echo device, the dirty log, every bad-input case (error reply or closed
 * connection, no fd leak, the next connection still served), GET_INFLIGHT_FD repeated, IOTLB
 * miss and retry, and the poll-mode datapath.
 */
#include "backend_fake.h"

static void test_echo(void **state)
{
	struct fe f = { 0 };
	struct vh_msg m, reply;

	(void)state;
	f.dev.config[3] = 0xab;
	fe_server(&f, VH_SERVER_DATAPATH_EVENT);
	fe_connect(&f);
	assert_int_equal(f.dev.opens, 1);
	fe_memory(&f);
	fe_negotiate(&f, 0);
	assert_int_equal(fe_get_u64(&f, VH_USER_GET_QUEUE_NUM), FE_NUM_QUEUES);
	assert_int_equal(fe_get_u64(&f, VH_USER_GET_MAX_MEM_SLOTS), 509);
	assert_int_equal(fe_mem_table(&f), 0);
	fe_ring(&f, 0, 0);
	assert_int_equal(f.dev.starts, 1);
	fe_echo_once(&f, 0, "hello");
	fe_echo_once(&f, 1, "second request");

	/* GET_CONFIG: the device's bytes at the offset asked for. */
	vh_msg_init(&m, VH_USER_GET_CONFIG, 0, VH_USER_CONFIG_HDR_SIZE + 4);
	m.payload.config.offset = 2;
	m.payload.config.size = 4;
	assert_int_equal(fe_xfer(&f, &m, &reply), 0);
	assert_int_equal(reply.hdr.size, VH_USER_CONFIG_HDR_SIZE + 4);
	assert_int_equal(reply.payload.config.region[1], 0xab);

	assert_int_equal(fe_u64(&f, VH_USER_SET_STATUS, 0xf), 0);
	assert_int_equal(fe_get_u64(&f, VH_USER_GET_STATUS), 0xf);

	/* GET_VRING_BASE stops the ring and returns the next avail index. */
	vh_msg_init(&m, VH_USER_GET_VRING_BASE, 0, sizeof(struct vhost_vring_state));
	m.payload.state.index = 0;
	assert_int_equal(fe_xfer(&f, &m, &reply), 0);
	assert_int_equal(reply.payload.state.num, 2);
	assert_int_equal(f.dev.stops, 1);
	fe_teardown(&f);
	assert_int_equal(f.dev.closes, 1);
}

static bool bit(const uint8_t *log, uint64_t gpa)
{
	uint64_t page = gpa / 4096;

	return log[page / 8] & (1u << (page % 8));
}

static void test_dirty_log(void **state)
{
	struct fe f = { 0 };
	struct vh_msg m, reply;
	uint8_t *log;
	int lfd;

	(void)state;
	fe_server(&f, VH_SERVER_DATAPATH_EVENT);
	fe_connect(&f);
	fe_memory(&f);
	fe_negotiate(&f, 1ull << VHOST_F_LOG_ALL);
	assert_int_equal(fe_mem_table(&f), 0);
	lfd = memfd_create("log", MFD_CLOEXEC);
	assert_int_equal(ftruncate(lfd, 4096), 0);
	log = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, lfd, 0);
	vh_msg_init(&m, VH_USER_SET_LOG_BASE, 0, sizeof(struct vh_user_log));
	m.payload.log.mmap_size = 4096;
	m.fds[0] = lfd;
	m.nfds = 1;
	assert_int_equal(fe_xfer(&f, &m, &reply), 0);
	assert_int_equal(reply.hdr.size, 8);
	assert_int_equal(reply.payload.u64, 0);
	fe_ring(&f, 0, 1u << VHOST_VRING_F_LOG);
	memset(log, 0, 4096);
	fe_echo_once(&f, 0, "dirty me");
	assert_true(bit(log, FE_IN_GPA));	      /* the page the device wrote */
	assert_true(bit(log, f.ra.device_gpa));	      /* the used ring */
	assert_false(bit(log, FE_OUT_GPA));	      /* only read */
	assert_false(bit(log, f.ra.desc_gpa + 8192)); /* untouched */
	munmap(log, 4096);
	close(lfd);
	fe_teardown(&f);
}

/* QEMU starts migration on a running ring: log base, LOG_ALL, ring address with the log flag. */
static void test_dirty_log_at_run_time(void **state)
{
	struct fe f = { 0 };
	struct vh_msg m, reply;
	uint8_t *log;
	int lfd, starts;

	(void)state;
	fe_server(&f, VH_SERVER_DATAPATH_EVENT);
	fe_connect(&f);
	fe_memory(&f);
	fe_negotiate(&f, 0);
	assert_int_equal(fe_mem_table(&f), 0);
	fe_ring(&f, 0, 0);
	fe_echo_once(&f, 0, "before");
	lfd = memfd_create("log", MFD_CLOEXEC);
	assert_int_equal(ftruncate(lfd, 4096), 0);
	log = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, lfd, 0);
	vh_msg_init(&m, VH_USER_SET_LOG_BASE, 0, sizeof(struct vh_user_log));
	m.payload.log.mmap_size = 4096;
	m.fds[0] = lfd;
	m.nfds = 1;
	assert_int_equal(fe_xfer(&f, &m, &reply), 0);
	assert_int_equal(reply.payload.u64, 0);
	/* Not logging yet: LOG_ALL is off. */
	fe_echo_once(&f, 1, "not logged");
	assert_false(bit(log, FE_IN_GPA));
	starts = f.dev.starts;
	assert_int_equal(fe_u64(&f, VH_USER_SET_FEATURES, f.features | (1ull << VHOST_F_LOG_ALL)),
			 0);
	assert_int_equal(fe_vring_addr(&f, 0, 1u << VHOST_VRING_F_LOG), 0);
	assert_true(f.dev.starts > starts); /* paused and resumed, position kept */
	fe_echo_once(&f, 2, "logged");
	assert_true(bit(log, FE_IN_GPA));
	assert_true(bit(log, f.ra.device_gpa));
	/* Migration cancelled. */
	assert_int_equal(fe_u64(&f, VH_USER_SET_FEATURES, f.features), 0);
	memset(log, 0, 4096);
	fe_echo_once(&f, 3, "off again");
	assert_false(bit(log, FE_IN_GPA));
	assert_false(bit(log, f.ra.device_gpa));
	munmap(log, 4096);
	close(lfd);
	fe_teardown(&f);
}

/* ---- bad input ------------------------------------------------------------------------------ */

enum bad_expect {
	BAD_NACK,  /* REPLY_ACK non-zero, connection stays */
	BAD_CLOSE, /* connection closed */
};

struct bad_case {
	const char *name;
	bool setup; /* negotiate and set memory first */
	enum bad_expect expect;
	void (*build)(struct fe *f, struct vh_msg *m);
};

static void bad_size(struct fe *f, struct vh_msg *m)
{
	(void)f;
	vh_msg_init(m, VH_USER_SET_FEATURES, VH_USER_FLAG_NEED_REPLY, 4);
}

static void bad_mem_no_fd(struct fe *f, struct vh_msg *m)
{
	(void)f;
	vh_msg_init(m, VH_USER_SET_MEM_TABLE, VH_USER_FLAG_NEED_REPLY,
		    VH_USER_MEM_TABLE_HDR_SIZE + 32);
	m->payload.mem.nregions = 1;
	m->payload.mem.regions[0].memory_size = 4096;
}

static void bad_extra_fd(struct fe *f, struct vh_msg *m)
{
	vh_msg_init(m, VH_USER_SET_VRING_NUM, VH_USER_FLAG_NEED_REPLY, 8);
	m->payload.state.num = 64;
	m->fds[0] = f->memfd;
	m->nfds = 1;
}

static void bad_index(struct fe *f, struct vh_msg *m)
{
	(void)f;
	vh_msg_init(m, VH_USER_SET_VRING_NUM, VH_USER_FLAG_NEED_REPLY, 8);
	m->payload.state.index = FE_NUM_QUEUES;
	m->payload.state.num = 64;
}

static void bad_index_64k(struct fe *f, struct vh_msg *m)
{
	bad_index(f, m);
	m->payload.state.index = 65536;
}

static void bad_kick_index(struct fe *f, struct vh_msg *m)
{
	(void)f;
	vh_msg_init(m, VH_USER_SET_VRING_KICK, VH_USER_FLAG_NEED_REPLY, 8);
	m->payload.u64 = 200 | VH_USER_VRING_NOFD_MASK;
}

static void bad_get_base_index(struct fe *f, struct vh_msg *m)
{
	(void)f;
	vh_msg_init(m, VH_USER_GET_VRING_BASE, 0, 8);
	m->payload.state.index = 7;
}

static void bad_num_pow2(struct fe *f, struct vh_msg *m)
{
	bad_index(f, m);
	m->payload.state.index = 0;
	m->payload.state.num = 100;
}

static void bad_num_big(struct fe *f, struct vh_msg *m)
{
	bad_num_pow2(f, m);
	m->payload.state.num = 4096; /* above max_queue_size */
}

static void bad_log_overflow(struct fe *f, struct vh_msg *m)
{
	vh_msg_init(m, VH_USER_SET_LOG_BASE, 0, sizeof(struct vh_user_log));
	m->payload.log.mmap_size = UINT64_MAX - 100;
	m->payload.log.mmap_offset = 4096;
	m->fds[0] = f->memfd;
	m->nfds = 1;
}

static void bad_mem_overlap(struct fe *f, struct vh_msg *m)
{
	vh_msg_init(m, VH_USER_SET_MEM_TABLE, VH_USER_FLAG_NEED_REPLY,
		    VH_USER_MEM_TABLE_HDR_SIZE + 64);
	m->payload.mem.nregions = 2;
	m->payload.mem.regions[0] = (struct vh_user_mem_region){ 0, 0x40000, FE_UVA_BASE, 0 };
	m->payload.mem.regions[1] =
	    (struct vh_user_mem_region){ 0x20000, 0x40000, FE_UVA_BASE + 0x80000, 0x80000 };
	m->fds[0] = f->memfd;
	m->fds[1] = f->memfd;
	m->nfds = 2;
}

static void bad_ring_outside(struct fe *f, struct vh_msg *m)
{
	(void)f;
	vh_msg_init(m, VH_USER_SET_VRING_ADDR, VH_USER_FLAG_NEED_REPLY,
		    sizeof(struct vhost_vring_addr));
	m->payload.addr.desc_user_addr = FE_UVA_BASE + FE_MEM_SIZE - 8; /* runs off the end */
	m->payload.addr.avail_user_addr = FE_UVA_BASE + 0x1000;
	m->payload.addr.used_user_addr = FE_UVA_BASE + 0x2000;
}

static void bad_unknown(struct fe *f, struct vh_msg *m)
{
	(void)f;
	vh_msg_init(m, 200, VH_USER_FLAG_NEED_REPLY, 0);
}

static void bad_reply_flag(struct fe *f, struct vh_msg *m)
{
	(void)f;
	vh_msg_init(m, VH_USER_SET_OWNER, VH_USER_FLAG_REPLY, 0);
}

static void bad_mem_fd_short(struct fe *f, struct vh_msg *m)
{
	vh_msg_init(m, VH_USER_ADD_MEM_REG, VH_USER_FLAG_NEED_REPLY,
		    sizeof(struct vh_user_mem_reg));
	m->payload.mem_reg.region =
	    (struct vh_user_mem_region){ 0x100000, 0x100000, FE_UVA_BASE + 0x100000, 0x100000 };
	m->fds[0] = f->memfd; /* 1 MiB: the region runs past its end */
	m->nfds = 1;
}

static void bad_config_range(struct fe *f, struct vh_msg *m)
{
	(void)f;
	vh_msg_init(m, VH_USER_SET_CONFIG, VH_USER_FLAG_NEED_REPLY, VH_USER_CONFIG_HDR_SIZE + 8);
	m->payload.config.offset = 12;
	m->payload.config.size = 8;
}

static void bad_features(struct fe *f, struct vh_msg *m)
{
	(void)f;
	vh_msg_init(m, VH_USER_SET_FEATURES, VH_USER_FLAG_NEED_REPLY, 8);
	m->payload.u64 = 1ull << 63;
}

static const struct bad_case bad_cases[] = {
	{ "payload size", false, BAD_CLOSE, bad_size },
	{ "mem table without fd", false, BAD_CLOSE, bad_mem_no_fd },
	{ "fd on SET_VRING_NUM", false, BAD_CLOSE, bad_extra_fd },
	{ "ring index = queue count", true, BAD_NACK, bad_index },
	{ "ring index 65536", true, BAD_NACK, bad_index_64k },
	{ "kick ring index 200", true, BAD_NACK, bad_kick_index },
	{ "GET_VRING_BASE index", true, BAD_CLOSE, bad_get_base_index },
	{ "split num not pow2", true, BAD_NACK, bad_num_pow2 },
	{ "num above max", true, BAD_NACK, bad_num_big },
	{ "log size overflow", true, BAD_NACK, bad_log_overflow },
	{ "overlapping regions", true, BAD_NACK, bad_mem_overlap },
	{ "ring outside memory", true, BAD_NACK, bad_ring_outside },
	{ "unknown request", true, BAD_NACK, bad_unknown },
	{ "reply flag on request", true, BAD_CLOSE, bad_reply_flag },
	{ "region past fd end", true, BAD_NACK, bad_mem_fd_short },
	{ "config range", true, BAD_NACK, bad_config_range },
	{ "features not offered", true, BAD_NACK, bad_features },
};

static void run_bad_case(struct fe *f, const struct bad_case *bc)
{
	struct vh_msg m, reply;
	int before = vh_test_count_fds(), r;

	fe_connect(f);
	if (bc->setup) {
		fe_negotiate(f, 0);
		assert_int_equal(fe_mem_table(f), 0);
	}
	bc->build(f, &m);
	r = fe_xfer(f, &m, &reply);
	if (bc->expect == BAD_CLOSE) {
		if (r == 0) /* no reply expected: probe */
			r = fe_xfer(f, &m, &reply);
		if (r != -ECONNRESET)
			fail_msg("%s: connection not closed (%d)", bc->name, r);
	} else {
		if (r != 0)
			fail_msg("%s: no reply (%d)", bc->name, r);
		if (reply.hdr.size != 8 || reply.payload.u64 == 0)
			fail_msg("%s: not refused", bc->name);
		/* still serving */
		assert_int_equal(fe_get_u64(f, VH_USER_GET_QUEUE_NUM), FE_NUM_QUEUES);
	}
	fe_disconnect(f);
	if (vh_test_count_fds() != before)
		fail_msg("%s: fd leak: %d -> %d", bc->name, before, vh_test_count_fds());
}

static void test_bad_input(void **state)
{
	struct fe f = { 0 };

	(void)state;
	fe_server(&f, VH_SERVER_DATAPATH_EVENT);
	fe_memory(&f);
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		int errs = f.log.count;

		run_bad_case(&f, &bad_cases[i]);
		if (f.log.count == errs)
			fail_msg("%s: nothing logged", bad_cases[i].name);
	}
	/* And a good connection afterwards is served normally. */
	fe_connect(&f);
	fe_negotiate(&f, 0);
	assert_int_equal(fe_mem_table(&f), 0);
	fe_ring(&f, 0, 0);
	fe_echo_once(&f, 0, "still alive");
	fe_teardown(&f);
}

static void test_inflight_no_leak(void **state)
{
	struct fe f = { 0 };
	struct vh_msg m, reply;
	int before;

	(void)state;
	fe_server(&f, VH_SERVER_DATAPATH_EVENT);
	fe_connect(&f);
	fe_negotiate(&f, 0);
	before = vh_test_count_fds();
	for (int i = 0; i < 10000; i++) {
		vh_msg_init(&m, VH_USER_GET_INFLIGHT_FD, 0, sizeof(struct vh_user_inflight));
		m.payload.inflight.num_queues = FE_NUM_QUEUES;
		m.payload.inflight.queue_size = FE_NUM;
		assert_int_equal(fe_xfer(&f, &m, &reply), 0);
		assert_int_equal(reply.nfds, 1);
		/* split: (16 + 16 * 256) rounded to 64, per queue */
		assert_int_equal(reply.payload.inflight.mmap_size, 2 * 4160);
		vh_msg_close_fds(&reply);
	}
	/* The back-end keeps exactly one region (the last one). */
	assert_int_equal(vh_test_count_fds(), before + 1);
	fe_teardown(&f);
}

static void test_poll_mode(void **state)
{
	struct fe f = { 0 };

	(void)state;
	fe_server(&f, VH_SERVER_DATAPATH_POLL);
	fe_connect(&f);
	fe_memory(&f);
	fe_negotiate(&f, 0);
	assert_int_equal(fe_mem_table(&f), 0);
	fe_ring(&f, 0, 0);
	fe_echo_once(&f, 0, "polled");
	/* Memory replaced under a running worker: it is parked, then resumes. */
	assert_int_equal(fe_mem_table(&f), 0);
	fe_echo_once(&f, 1, "after new table");
	fe_teardown(&f);
}

static void reap(struct fe *f, void *want_a, void *want_b)
{
	void *token;
	uint32_t len;
	int seen = 0;

	for (int i = 0; i < 2; i++) {
		assert_int_equal(vh_vq_driver_get_used(f->drv, &token, &len), 1);
		assert_int_equal(len, 3);
		if (token == want_a)
			seen |= 1;
		else if (token == want_b)
			seen |= 2;
	}
	assert_int_equal(seen, 3);
	assert_int_equal(vh_vq_driver_get_used(f->drv, &token, &len), 0);
}

static int64_t fe_set_inflight(struct fe *f, const struct vh_user_inflight *in, int fd)
{
	struct vh_msg m;

	vh_msg_init(&m, VH_USER_SET_INFLIGHT_FD, 0, sizeof(*in));
	m.payload.inflight = *in;
	m.fds[0] = fd;
	m.nfds = 1;
	return fe_ack(f, &m);
}

/*
 * Two chains in flight when the front-end's connection drops (the back-end "restarts"); the
 * inflight fd survives in the front-end. After the reconnect exactly those two are resubmitted,
 * once, and the ring carries on.
 */
static void reconnect_inflight(bool packed)
{
	struct fe f = { 0 };
	uint64_t feat = packed ? 1ull << VIRTIO_F_RING_PACKED : 0;
	unsigned wrap = packed ? 1u << 15 : 0;
	struct vh_msg m, reply;
	struct vh_user_inflight in;
	char t0, t1, t2;
	void *token;
	uint32_t len;
	int ifd, pops;

	f.packed = packed;
	fe_server(&f, VH_SERVER_DATAPATH_EVENT);
	fe_connect(&f);
	fe_memory(&f);
	fe_negotiate(&f, feat);
	vh_msg_init(&m, VH_USER_GET_INFLIGHT_FD, 0, sizeof(struct vh_user_inflight));
	m.payload.inflight.num_queues = FE_NUM_QUEUES;
	m.payload.inflight.queue_size = FE_NUM;
	assert_int_equal(fe_xfer(&f, &m, &reply), 0);
	assert_int_equal(reply.nfds, 1);
	ifd = reply.fds[0];
	in = reply.payload.inflight;
	assert_int_equal(fe_set_inflight(&f, &in, ifd), 0);
	assert_int_equal(fe_mem_table(&f), 0);
	fe_ring(&f, wrap, 0);

	f.dev.hold = 2;
	fe_submit(&f, 0, "one", &t0);
	fe_submit(&f, 1, "two", &t1);
	fe_pump(&f);
	assert_int_equal(f.dev.held, 2);
	f.dev.hold = 0;
	fe_submit(&f, 2, "333", &t2); /* completes: used idx 1, two chains in flight */
	assert_true(fe_wait_call(&f, 2000));
	assert_int_equal(vh_vq_driver_get_used(f.drv, &token, &len), 1);
	assert_ptr_equal(token, &t2);
	fe_disconnect(&f);
	assert_int_equal(f.dev.closes, 1);

	/* QEMU restores the base from the used index when GET_VRING_BASE could not run. */
	fe_connect(&f);
	fe_negotiate(&f, feat);
	assert_int_equal(fe_set_inflight(&f, &in, ifd), 0);
	assert_int_equal(fe_mem_table(&f), 0);
	pops = f.dev.pops;
	fe_ring(&f, 1 | wrap, 0);
	assert_true(fe_wait_call(&f, 2000));
	assert_int_equal(f.dev.pops, pops + 2);
	assert_memory_equal(f.mem + FE_IN_GPA, "one", 3);
	assert_memory_equal(f.mem + FE_IN_GPA + 256, "two", 3);
	reap(&f, &t0, &t1);
	/* The ring goes on from the right avail index. */
	fe_echo_once(&f, 3, "after");
	assert_int_equal(f.dev.pops, pops + 3);
	close(ifd);
	fe_teardown(&f);
}

static void test_reconnect_inflight(void **state)
{
	(void)state;
	reconnect_inflight(false);
}

static void test_reconnect_inflight_packed(void **state)
{
	(void)state;
	reconnect_inflight(true);
}

static void expect_miss(struct fe *f, uint64_t iova)
{
	struct vh_msg bm;

	assert_int_equal(vh_sock_recv(f->backend, &bm, 2000), 0);
	assert_int_equal(bm.hdr.request, VH_USER_BACKEND_IOTLB_MSG);
	assert_int_equal(vh_proto_validate(true, &bm.hdr, bm.payload.raw, bm.hdr.size, bm.nfds), 0);
	assert_int_equal(bm.payload.iotlb.type, VHOST_IOTLB_MISS);
	assert_int_equal(bm.payload.iotlb.iova, iova);
}

/* vIOMMU: ring and buffer addresses are IOVAs; each miss is reported, the update retries. */
static void test_iotlb_miss(void **state)
{
	struct fe f = { 0 };
	struct pollfd p;
	char tok;
	void *token;
	uint32_t len;

	(void)state;
	f.addr_base = FE_IOVA_BASE;
	fe_server(&f, VH_SERVER_DATAPATH_EVENT);
	fe_connect(&f);
	fe_memory(&f);
	fe_negotiate(&f, 1ull << VIRTIO_F_ACCESS_PLATFORM);
	assert_int_equal(fe_mem_table(&f), 0);
	fe_ring(&f, 0, 0);
	assert_int_equal(f.dev.starts, 0);
	expect_miss(&f, f.ra.desc_gpa);
	assert_int_equal(fe_iotlb_update(&f, FE_RING_GPA, 0x10000), 0);
	assert_int_equal(f.dev.starts, 1);

	fe_submit(&f, 0, "via iommu", &tok);
	assert_false(fe_wait_call(&f, 20));
	expect_miss(&f, FE_IOVA_BASE + FE_OUT_GPA);
	assert_int_equal(fe_iotlb_update(&f, FE_OUT_GPA, 0x10000), 0);
	assert_true(fe_wait_call(&f, 2000));
	assert_int_equal(vh_vq_driver_get_used(f.drv, &token, &len), 1);
	assert_int_equal(len, 9);
	assert_memory_equal(f.mem + FE_IN_GPA, "via iommu", 9);
	/* No further miss was sent. */
	p = (struct pollfd){ .fd = f.backend, .events = POLLIN };
	if (poll(&p, 1, 0) != 0) {
		struct vh_msg bm;

		vh_sock_recv(f.backend, &bm, 0);
		fail_msg("extra back-end message %u iova %#llx", bm.hdr.request,
			 (unsigned long long)bm.payload.iotlb.iova);
	}
	fe_teardown(&f);
}

/* The guest puts garbage in the ring: that ring breaks (error eventfd), the connection lives. */
static void test_guest_garbage(void **state)
{
	struct fe f = { 0 };
	struct vring_avail *avail;
	uint64_t one = 1, v;
	int err_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), errs;

	(void)state;
	fe_server(&f, VH_SERVER_DATAPATH_EVENT);
	fe_connect(&f);
	fe_memory(&f);
	fe_negotiate(&f, 0);
	assert_int_equal(fe_mem_table(&f), 0);
	fe_ring(&f, 0, 0);
	assert_int_equal(fe_ring_fd(&f, VH_USER_SET_VRING_ERR, 0, err_fd), 0);
	fe_echo_once(&f, 0, "fine");
	avail = f.ra.host.driver;
	avail->ring[1] = 9999; /* head index beyond the ring */
	__atomic_store_n(&avail->idx, 2, __ATOMIC_RELEASE);
	errs = f.log.count;
	assert_int_equal(write(f.kick, &one, sizeof(one)), sizeof(one));
	fe_pump(&f);
	assert_int_equal(read(err_fd, &v, sizeof(v)), sizeof(v));
	assert_int_equal(f.log.count, errs + 1); /* logged once */
	assert_true(strstr(f.log.last, "out of range") != NULL);
	/* More kicks: not processed again, not logged again. */
	assert_int_equal(write(f.kick, &one, sizeof(one)), sizeof(one));
	fe_pump(&f);
	assert_int_equal(f.log.count, errs + 1);
	assert_int_equal(fe_get_u64(&f, VH_USER_GET_QUEUE_NUM), FE_NUM_QUEUES);
	close(err_fd);
	fe_teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo),
		cmocka_unit_test(test_dirty_log),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_inflight_no_leak),
		cmocka_unit_test(test_poll_mode),
		cmocka_unit_test(test_reconnect_inflight),
		cmocka_unit_test(test_iotlb_miss),
		cmocka_unit_test(test_reconnect_inflight_packed),
		cmocka_unit_test(test_guest_garbage),
		cmocka_unit_test(test_dirty_log_at_run_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
