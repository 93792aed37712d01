/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The adaptive event-mode poll window (docs/architecture.md "Event datapath") against the scripted
 * fake front-end of backend_fake.h. The "guest" runs inside the device's queue_kick (same thread,
 * so it is deterministic): after the device served the ring it adds the next batch and kicks only
 * when the ring asks for it (vh_vq_driver_kick_needed()), as a real driver does. Under that
 * steady load the window must grow to the queue's ceiling, never beyond; once the load stops and
 * the ring is only kicked now and then it must shrink to its floor (0: no polling), and stay there.
 * Asserted on vh_queue_poll_window_ns(), not on timing.
 */
#include "backend_fake.h"

#define PW_BATCH 64 /* chains the guest adds per queue_kick while feeding */

struct pw {
	struct fe f;
	struct vh_queue *q;
	unsigned ceiling_us; /* vh_queue_set_poll_max_us() in queue_start (0: keep the default) */
	unsigned feed;	     /* batches the guest still adds */
	unsigned slot;
	unsigned inflight;
	unsigned kicks_written;
	unsigned served;
	uint64_t max_window;
};

/* The guest: reap completions, then add one batch; kick if the device wants to hear of it. */
static void guest_step(struct pw *p)
{
	void *token;
	uint32_t len;
	uint64_t one = 1;

	while (vh_vq_driver_get_used(p->f.drv, &token, &len) == 1)
		p->inflight--;
	if (!p->feed)
		return;
	p->feed--;
	for (unsigned i = 0; i < PW_BATCH; i++) {
		unsigned slot = p->slot++ % 4;
		struct vh_vq_buf bufs[2] = {
			{ .gpa = FE_OUT_GPA + slot * 256, .len = 16 },
			{ .gpa = FE_IN_GPA + slot * 256, .len = 16 },
		};
		struct vh_vq_driver_req req = {
			.bufs = bufs, .out_num = 1, .in_num = 1, .token = p
		};

		assert_int_equal(vh_vq_driver_add(p->f.drv, &req), 0);
		p->inflight++;
	}
	if (vh_vq_driver_kick_needed(p->f.drv)) {
		assert_int_equal(write(p->f.kick, &one, sizeof(one)), (ssize_t)sizeof(one));
		p->kicks_written++;
	}
}

static int pw_kick(void *inst, struct vh_queue *q)
{
	struct pw *p = inst;
	struct iovec iov[4];
	struct vh_vq_elem e = { .iov = iov, .max_iov = 4 };
	uint64_t w = vh_queue_poll_window_ns(q);
	int r;

	if (w > p->max_window)
		p->max_window = w;
	while ((r = vh_queue_pop(q, &e)) == 1) {
		p->served++;
		r = vh_queue_push(q, &e, (uint32_t)iov_copy(&e));
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	/* Publish what was pushed, so the guest can reap it now (a real guest runs meanwhile). */
	vh_queue_notify(q);
	guest_step(p);
	return 0;
}

static int pw_start(void *inst, struct vh_queue *q)
{
	struct pw *p = inst;

	p->q = q;
	if (p->ceiling_us)
		vh_queue_set_poll_max_us(q, p->ceiling_us);
	return 0;
}

static void pw_stop(void *inst, struct vh_queue *q)
{
	(void)q;
	((struct pw *)inst)->q = NULL;
}

static const struct vh_device_ops pw_ops = {
	.queue_start = pw_start,
	.queue_kick = pw_kick,
	.queue_stop = pw_stop,
};

static void pw_setup(struct pw *p, unsigned event_poll_us, unsigned ceiling_us)
{
	struct vh_server_config cfg;

	vh_server_config_init(&cfg);
	cfg.name = "pollwin";
	cfg.ops = &pw_ops;
	cfg.opaque = p;
	cfg.num_queues = 1;
	cfg.event_poll_us = event_poll_us;
	cfg.log = vh_test_sink(&p->f.log);
	p->ceiling_us = ceiling_us;
	assert_int_equal(vh_server_create(&cfg, &p->f.s), 0);
	fe_connect(&p->f);
	fe_memory(&p->f);
	fe_negotiate(&p->f, 0);
	assert_int_equal(fe_mem_table(&p->f), 0);
	fe_ring(&p->f, 0, 0);
	assert_non_null(p->q);
	assert_int_equal(vh_queue_poll_window_ns(p->q), 0);
}

/* Feed @batches batches from one kick and pump until the guest got every chain back. */
static void steady_load(struct pw *p, unsigned batches)
{
	uint64_t one = 1;

	p->feed = batches;
	guest_step(p);
	assert_int_equal(write(p->f.kick, &one, sizeof(one)), (ssize_t)sizeof(one));
	for (int i = 0; i < 20000 && (p->feed || p->inflight); i++) {
		vh_server_dispatch(p->f.s);
		guest_step(p);
	}
	assert_int_equal(p->feed, 0);
	assert_int_equal(p->inflight, 0);
}

/* One batch, one kick, served; then the ring sits idle for 2 ms. */
static void lone_kick(struct pw *p)
{
	uint64_t one = 1;
	unsigned served = p->served;

	p->feed = 1;
	guest_step(p);
	assert_int_equal(write(p->f.kick, &one, sizeof(one)), (ssize_t)sizeof(one));
	for (int i = 0; i < 2000 && p->served < served + PW_BATCH; i++)
		vh_server_dispatch(p->f.s);
	assert_int_equal(p->served, served + PW_BATCH);
	guest_step(p);
	usleep(2000);
}

static void test_grows_to_ceiling_then_shrinks_to_floor(void **state)
{
	struct pw p = { 0 };
	uint64_t prev;

	(void)state;
	/* The server's default is 500 us; this queue's own ceiling is 100 us. */
	pw_setup(&p, 500, 100);
	steady_load(&p, 200);
	assert_int_equal(p.served, 200 * PW_BATCH);
	/* Busy ring: the window opened and grew to exactly the queue's ceiling. */
	assert_int_equal(p.max_window, 100000);
	/* And the guest hardly had to kick: the window saw its batches with notifications off. */
	assert_true(p.kicks_written < 100);

	/* Idle ring kicked now and then: each kick finds one batch after 2 ms of sleep, each
	 * window runs out empty. The window only shrinks, and reaches 0 within a few kicks. */
	prev = vh_queue_poll_window_ns(p.q);
	for (int i = 0; i < 12; i++) {
		lone_kick(&p);
		assert_true(vh_queue_poll_window_ns(p.q) <= prev);
		prev = vh_queue_poll_window_ns(p.q);
	}
	assert_int_equal(vh_queue_poll_window_ns(p.q), 0);

	/* Load again: it grows again. */
	p.max_window = 0;
	steady_load(&p, 100);
	assert_int_equal(p.max_window, 100000);
	fe_teardown(&p.f);
}

static void test_default_ceiling(void **state)
{
	struct pw p = { 0 };

	(void)state;
	pw_setup(&p, 50, 0);
	steady_load(&p, 200);
	assert_int_equal(p.max_window, 50000);
	fe_teardown(&p.f);
}

static void test_ceiling_zero_never_polls(void **state)
{
	struct pw p = { 0 };

	(void)state;
	pw_setup(&p, 0, 0);
	steady_load(&p, 50);
	assert_int_equal(p.max_window, 0);
	/* Without a window every batch needed its own kick. */
	assert_true(p.kicks_written >= 50);
	fe_teardown(&p.f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grows_to_ceiling_then_shrinks_to_floor),
		cmocka_unit_test(test_default_ceiling),
		cmocka_unit_test(test_ceiling_zero_never_polls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
