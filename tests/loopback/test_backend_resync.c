/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ring start after a back-end crash (backend/vring.c queue_resync(), vq/ vh_vq_sync_used_idx()):
 * the front-end sends a stale SET_VRING_BASE; without an inflight region the split ring starts
 * from used->idx in guest memory, with one warning; with an inflight region that has chains to
 * resubmit, the region decides and no resync happens. Packed rings are left as given.
 */
#include <stdio.h>

#include "backend_fake.h"

#define RESYNC_LOG_SIZE 8192

/* Every log line of the server, not only the last (the ring start logs after the warning). */
struct resync_log {
	char text[RESYNC_LOG_SIZE];
	size_t len;
	int warnings;
};

static void resync_log_fn(void *opaque, enum vh_log_level level, const char *msg)
{
	struct resync_log *l = opaque;
	int n;

	if (level == VH_LOG_WARN)
		l->warnings++;
	n = snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s\n", msg);
	if (n > 0)
		l->len =
		    l->len + (size_t)n < sizeof(l->text) ? l->len + (size_t)n : sizeof(l->text) - 1;
}

static void resync_server(struct fe *f, struct resync_log *l)
{
	struct vh_server_config cfg;

	vh_server_config_init(&cfg);
	cfg.name = "echo";
	cfg.ops = &echo_ops;
	cfg.opaque = &f->dev;
	cfg.num_queues = FE_NUM_QUEUES;
	cfg.max_queue_size = 1024;
	cfg.datapath = VH_SERVER_DATAPATH_EVENT;
	cfg.log =
	    (struct vh_log_sink){ .fn = resync_log_fn, .opaque = l, .max_level = VH_LOG_DEBUG };
	assert_int_equal(vh_server_create(&cfg, &f->s), 0);
}

static uint16_t guest_used_idx(struct fe *f)
{
	const struct vring_used *u = (const void *)(f->mem + f->ra.device_gpa);

	return le16toh(__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE));
}

static void echo_once(struct fe *f, unsigned slot, const char *text)
{
	void *token = NULL;
	uint32_t len = 0;

	fe_echo_once(f, slot, text);
	assert_int_equal(vh_vq_driver_get_used(f->drv, &token, &len), 0);
}
/* A first back-end completes 7 chains: avail idx 7, used idx 7 in guest memory. */
static void first_life(struct fe *f)
{
	char text[16];

	for (unsigned i = 0; i < 7; i++) {
		snprintf(text, sizeof(text), "req %u", i);
		echo_once(f, i, text);
	}
	assert_int_equal(guest_used_idx(f), 7);
}

/* QEMU 7.2 after a crash: the cached base (3) lags what the dead back-end published (7). */
static void test_resync_split(void **state)
{
	struct fe f = { 0 };
	struct resync_log l = { 0 };
	struct vh_msg m, reply;

	(void)state;
	resync_server(&f, &l);
	fe_connect(&f);
	fe_memory(&f);
	fe_negotiate(&f, 0);
	assert_int_equal(fe_mem_table(&f), 0);
	fe_ring(&f, 0, 0);
	first_life(&f);
	assert_int_equal(l.warnings, 0);
	fe_disconnect(&f);

	fe_connect(&f);
	fe_negotiate(&f, 0);
	assert_int_equal(fe_mem_table(&f), 0);
	fe_ring(&f, 3, 0);
	/* The next chain is avail[7]; its completion is used[7], making used idx 8. */
	echo_once(&f, 7, "after the restart");
	assert_int_equal(guest_used_idx(&f), 8);
	assert_int_equal(f.dev.pops, 8);
	assert_int_equal(l.warnings, 1);
	assert_non_null(strstr(l.text, "echo: vq 0: SET_VRING_BASE 3 disagrees with used idx 7 "
				       "in guest memory: resyncing\n"));
	/* GET_VRING_BASE reports the resynchronised position. */
	vh_msg_init(&m, VH_USER_GET_VRING_BASE, 0, sizeof(struct vhost_vring_state));
	m.payload.state.index = 0;
	assert_int_equal(fe_xfer(&f, &m, &reply), 0);
	assert_int_equal(reply.hdr.request, VH_USER_GET_VRING_BASE);
	assert_int_equal(reply.payload.state.num, 8);
	assert_int_equal(l.warnings, 1);
	fe_teardown(&f);
}

/* A base that agrees with used->idx (the ordinary reconnect) starts quietly. */
static void test_resync_agreeing_base(void **state)
{
	struct fe f = { 0 };
	struct resync_log l = { 0 };

	(void)state;
	resync_server(&f, &l);
	fe_connect(&f);
	fe_memory(&f);
	fe_negotiate(&f, 0);
	assert_int_equal(fe_mem_table(&f), 0);
	fe_ring(&f, 0, 0);
	first_life(&f);
	fe_disconnect(&f);
	fe_connect(&f);
	fe_negotiate(&f, 0);
	assert_int_equal(fe_mem_table(&f), 0);
	fe_ring(&f, 7, 0);
	echo_once(&f, 7, "same place");
	assert_int_equal(guest_used_idx(&f), 8);
	assert_int_equal(l.warnings, 0);
	assert_null(strstr(l.text, "resyncing"));
	fe_teardown(&f);
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

static int fe_get_inflight(struct fe *f, struct vh_user_inflight *in)
{
	struct vh_msg m, reply;

	vh_msg_init(&m, VH_USER_GET_INFLIGHT_FD, 0, sizeof(struct vh_user_inflight));
	m.payload.inflight.num_queues = FE_NUM_QUEUES;
	m.payload.inflight.queue_size = FE_NUM;
	assert_int_equal(fe_xfer(f, &m, &reply), 0);
	assert_int_equal(reply.nfds, 1);
	*in = reply.payload.inflight;
	return reply.fds[0];
}

/*
 * With INFLIGHT_SHMFD the region keeps priority: two chains in flight at the crash (avail 9,
 * used 7), a stale base 3. The region resubmits exactly those two and the ring goes on from
 * avail 9: a resync to used->idx would take avail[7] and avail[8] a second time.
 */
static void test_no_resync_with_inflight(void **state)
{
	struct fe f = { 0 };
	struct resync_log l = { 0 };
	struct vh_user_inflight in;
	char t7, t8;
	void *token;
	uint32_t len;
	int ifd, pops, seen = 0;

	(void)state;
	resync_server(&f, &l);
	fe_connect(&f);
	fe_memory(&f);
	fe_negotiate(&f, 0);
	ifd = fe_get_inflight(&f, &in);
	assert_int_equal(fe_set_inflight(&f, &in, ifd), 0);
	assert_int_equal(fe_mem_table(&f), 0);
	fe_ring(&f, 0, 0);
	first_life(&f);
	f.dev.hold = 2;
	fe_submit(&f, 7, "held 7", &t7);
	fe_submit(&f, 8, "held 8", &t8);
	fe_pump(&f);
	assert_int_equal(f.dev.held, 2);
	assert_int_equal(guest_used_idx(&f), 7);
	fe_disconnect(&f);

	f.dev.hold = 0;
	fe_connect(&f);
	fe_negotiate(&f, 0);
	assert_int_equal(fe_set_inflight(&f, &in, ifd), 0);
	assert_int_equal(fe_mem_table(&f), 0);
	pops = f.dev.pops;
	fe_ring(&f, 3, 0);
	assert_true(fe_wait_call(&f, 2000));
	assert_int_equal(f.dev.pops, pops + 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(vh_vq_driver_get_used(f.drv, &token, &len), 1);
		assert_int_equal(len, 6);
		seen |= token == &t7 ? 1 : token == &t8 ? 2 : 4;
	}
	assert_int_equal(seen, 3);
	assert_int_equal(vh_vq_driver_get_used(f.drv, &token, &len), 0);
	assert_int_equal(guest_used_idx(&f), 9);
	echo_once(&f, 9, "next");
	assert_int_equal(f.dev.pops, pops + 3);
	assert_int_equal(guest_used_idx(&f), 10);
	assert_null(strstr(l.text, "resyncing"));
	close(ifd);
	fe_teardown(&f);
}

/* vq/ directly: packed rings have no used index in memory and keep the base they were given. */
static void test_sync_used_idx_vq(void **state)
{
	struct vh_vq_config vc = { .num = 8, .name = "t" };
	_Alignas(64) static uint8_t ring[4096];
	struct vring_used *used;
	struct vh_vq_addrs a;
	struct vh_vq *vq;
	uint16_t o = 1, n = 1;

	(void)state;
	memset(ring, 0, sizeof(ring));
	a = (struct vh_vq_addrs){ .desc = ring, .driver = ring + 1024, .device = ring + 2048 };
	used = a.device;

	assert_int_equal(vh_vq_create(&vc, &vq), 0);
	assert_int_equal(vh_vq_sync_used_idx(vq, &o, &n), -EINVAL);
	assert_int_equal(vh_vq_set_addrs(vq, &a), 0);
	assert_int_equal(vh_vq_set_base(vq, 3), 0);
	used->idx = htole16(0xfffe); /* free-running: any 16-bit value */
	assert_int_equal(vh_vq_sync_used_idx(vq, &o, &n), 1);
	assert_int_equal(o, 3);
	assert_int_equal(n, 0xfffe);
	assert_int_equal(vh_vq_get_base(vq), 0xfffe);
	assert_int_equal(vh_vq_sync_used_idx(vq, &o, &n), 0);
	assert_int_equal(o, 0xfffe);
	assert_int_equal(n, 0xfffe);
	vh_vq_destroy(&vq);

	vc.packed = true;
	memset(ring, 0, sizeof(ring));
	assert_int_equal(vh_vq_create(&vc, &vq), 0);
	assert_int_equal(vh_vq_set_addrs(vq, &a), 0);
	assert_int_equal(vh_vq_set_base(vq, 3 | 1u << 15), 0);
	memset(ring + 2048, 0x55, 4);
	assert_int_equal(vh_vq_sync_used_idx(vq, &o, &n), 0);
	assert_int_equal(o, n);
	assert_int_equal(vh_vq_get_base(vq), 3 | 1u << 15);
	vh_vq_destroy(&vq);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resync_split),
		cmocka_unit_test(test_resync_agreeing_base),
		cmocka_unit_test(test_no_resync_with_inflight),
		cmocka_unit_test(test_sync_used_idx_vq),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
