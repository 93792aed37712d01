/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Our frontend (vh_dev) against our backend (vh_server running in its own thread) over a real
 * unix socket: negotiate, memory, one ring, echo requests, stop with the ring base read back,
 * a second session after the first one is destroyed.
 */
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>

#include <vhost/frontend.h>
#include <vhost/proto.h>

#include "backend_fake.h"

struct session {
	struct vh_server *s;
	struct echo_dev dev;
	struct vh_test_log slog;
	pthread_t thread;
	char dir[32];
	char path[64];
	char url[80];
	bool suspend; /* cfg.suspend_inflight */
};

static void print_log(void *opaque, enum vh_log_level level, const char *msg)
{
	(void)opaque;
	fprintf(stderr, "[%d] %s\n", level, msg);
}

static void *server_main(void *arg)
{
	return (void *)(intptr_t)vh_server_run(arg);
}

static void session_start(struct session *ss)
{
	struct vh_server_config cfg;

	if (!ss->dir[0]) {
		snprintf(ss->dir, sizeof(ss->dir), "/tmp/vh-be-fe-XXXXXX");
		assert_non_null(mkdtemp(ss->dir));
	} else {
		assert_int_equal(mkdir(ss->dir, 0700), 0); /* the same path again */
	}
	snprintf(ss->path, sizeof(ss->path), "%s/sock", ss->dir);
	snprintf(ss->url, sizeof(ss->url), "unix:%s", ss->path);
	vh_server_config_init(&cfg);
	cfg.name = "echo";
	cfg.socket_path = ss->path;
	cfg.ops = &echo_ops;
	cfg.opaque = &ss->dev;
	cfg.num_queues = 1;
	cfg.suspend_inflight = ss->suspend;
	cfg.log = vh_test_sink(&ss->slog);
	if (getenv("VH_TEST_VERBOSE"))
		cfg.log = (struct vh_log_sink){ .fn = print_log, .max_level = VH_LOG_DEBUG };
	assert_int_equal(vh_server_create(&cfg, &ss->s), 0);
	assert_int_equal(pthread_create(&ss->thread, NULL, server_main, ss->s), 0);
}

static void session_stop(struct session *ss)
{
	void *ret;

	vh_server_stop(ss->s);
	assert_int_equal(pthread_join(ss->thread, &ret), 0);
	assert_int_equal((intptr_t)ret, 0);
	vh_server_destroy(&ss->s);
	rmdir(ss->dir);
}

static bool wait_fd(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t v;

	if (poll(&p, 1, ms) != 1)
		return false;
	return read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v);
}

/* IOTLB misses the back-end sent and the frontend answered (test_frontend_echo_iommu). */
static unsigned iotlb_misses;

/* vIOMMU of the test: IOVA = GPA, mapped read-write over the whole of guest memory. */
static int identity_translate(void *opaque, uint64_t iova, int perm, uint64_t *uva, uint64_t *size)
{
	struct fe *f = opaque;

	(void)perm;
	iotlb_misses++;
	if (iova >= FE_MEM_SIZE)
		return -EFAULT;
	*uva = (uint64_t)(uintptr_t)(f->mem + iova);
	*size = FE_MEM_SIZE - iova;
	return VH_DEV_ACCESS_RW;
}

/* Waits for the call eventfd, answering the back-end's IOTLB misses meanwhile. */
static bool wait_call(struct vh_dev *dev, int ms)
{
	struct pollfd p[2] = { { .fd = vh_dev_vring_call_fd(dev, 0), .events = POLLIN },
			       { .fd = vh_dev_event_fd(dev), .events = POLLIN } };
	uint64_t v;

	for (int waited = 0; waited < ms; waited += 10) {
		if (poll(p, 2, 10) < 0)
			return false;
		if (p[1].revents & POLLIN)
			assert_true(vh_dev_dispatch(dev) >= 0);
		if (p[0].revents & POLLIN)
			return read(p[0].fd, &v, sizeof(v)) == (ssize_t)sizeof(v);
	}
	return false;
}

static void run_device_opt(struct session *ss, struct fe *f, unsigned nreq, bool iommu)
{
	struct vh_dev_config dc = {
		.path = ss->url,
		.features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_EVENT_IDX) |
			    (1ull << VIRTIO_RING_F_INDIRECT_DESC),
		.num_queues = 1,
		.timeout_ms = 2000,
		.name = "fe",
		.iotlb_translate = iommu ? identity_translate : NULL,
		.opaque = f,
	};
	struct vh_dev_mem_region r = {
		.gpa = 0, .size = FE_MEM_SIZE, .host = f->mem, .fd = f->memfd, .fd_offset = 0
	};
	struct vh_dev *dev;
	struct vh_dev_vring vr;
	uint32_t base = 0;
	uint64_t one = 1;

	if (iommu)
		dc.features |= 1ull << VIRTIO_F_IOMMU_PLATFORM;
	assert_int_equal(vh_dev_create(&dc, &dev), 0);
	assert_true(vh_dev_features(dev) & (1ull << VIRTIO_F_VERSION_1));
	if (iommu)
		assert_true(vh_dev_features(dev) & (1ull << VIRTIO_F_IOMMU_PLATFORM));
	assert_int_equal(vh_dev_ack_features(dev, vh_dev_features(dev)), 0);
	assert_int_equal(vh_dev_mem_begin(dev), 0);
	assert_int_equal(vh_dev_mem_add(dev, &r), 0);
	assert_int_equal(vh_dev_mem_commit(dev), 0);
	vr = (struct vh_dev_vring){ .index = 0,
				    .num = FE_NUM,
				    .desc_gpa = f->ra.desc_gpa,
				    .avail_gpa = f->ra.driver_gpa,
				    .used_gpa = f->ra.device_gpa,
				    .base = 0,
				    .kick_fd = -1,
				    .call_fd = -1 };
	assert_int_equal(vh_dev_vring_setup(dev, &vr), 0);
	assert_int_equal(vh_dev_start(dev), 0);
	for (unsigned i = 0; i < nreq; i++) {
		char text[32], tok;
		void *token = NULL;
		uint32_t len = 0;
		struct vh_vq_buf bufs[2] = { { FE_OUT_GPA, 0 }, { FE_IN_GPA, 128 } };
		struct vh_vq_driver_req req = {
			.bufs = bufs, .out_num = 1, .in_num = 1, .token = &tok
		};

		snprintf(text, sizeof(text), "request %u", i);
		bufs[0].len = (uint32_t)strlen(text);
		memcpy(f->mem + FE_OUT_GPA, text, strlen(text));
		assert_int_equal(vh_vq_driver_add(f->drv, &req), 0);
		vh_vq_driver_set_notification(f->drv, true);
		if (vh_vq_driver_kick_needed(f->drv))
			assert_int_equal(write(vh_dev_vring_kick_fd(dev, 0), &one, 8), 8);
		if (!(iommu ? wait_call(dev, 2000) : wait_fd(vh_dev_vring_call_fd(dev, 0), 2000)))
			fail_msg(
			    "no call for request %u: device popped %d, pending %d, used_event %u "
			    "used idx %u",
			    i, ss->dev.pops, vh_dev_vring_pending(dev, 0),
			    ((struct vring_avail *)f->ra.host.driver)->ring[FE_NUM],
			    ((struct vring_used *)f->ra.host.device)->idx);
		assert_int_equal(vh_vq_driver_get_used(f->drv, &token, &len), 1);
		assert_ptr_equal(token, &tok);
		assert_int_equal(len, strlen(text));
		assert_memory_equal(f->mem + FE_IN_GPA, text, strlen(text));
	}
	assert_int_equal(vh_dev_stop(dev, &base, 1), 0);
	assert_int_equal(base, nreq);
	vh_dev_destroy(&dev);
}

static void run_device(struct session *ss, struct fe *f, unsigned nreq)
{
	run_device_opt(ss, f, nreq, false);
}

/* VIRTIO_F_IOMMU_PLATFORM: every ring and buffer address is an IOVA the back-end must ask for. */
static void test_frontend_echo_iommu(void **state)
{
	struct session ss = { 0 };
	struct fe f = { 0 };

	(void)state;
	session_start(&ss);
	f.event_idx = true;
	fe_memory(&f);
	fe_driver(&f);
	iotlb_misses = 0;
	run_device_opt(&ss, &f, 10, true);
	assert_true(iotlb_misses > 0);
	assert_int_equal(ss.dev.starts, 1);
	session_stop(&ss);
	f.sock = -1;
	fe_teardown(&f);
}

static void test_frontend_echo(void **state)
{
	struct session ss = { 0 };
	struct fe f = { 0 };

	(void)state;
	session_start(&ss);
	f.event_idx = true; /* negotiated below */
	fe_memory(&f);
	fe_driver(&f);
	run_device(&ss, &f, 10);
	assert_int_equal(ss.dev.starts, 1);
	assert_int_equal(ss.dev.stops, 1);
	session_stop(&ss);
	assert_int_equal(ss.dev.closes, 1);
	f.sock = -1;
	fe_teardown(&f);
}

/*
 * A frontend on @ss with one ring whose device holds the two requests it was given ("aaa" and
 * "bbb", tokens &t[0] and &t[1]): both are in flight when this returns.
 */
static struct vh_dev *start_two_held(struct session *ss, struct fe *f, struct vh_dev_config *dc,
				     char *t)
{
	struct vh_dev_mem_region r = { .size = FE_MEM_SIZE, .host = f->mem, .fd = f->memfd };
	struct vh_dev_vring vr = { .num = FE_NUM,
				   .desc_gpa = f->ra.desc_gpa,
				   .avail_gpa = f->ra.driver_gpa,
				   .used_gpa = f->ra.device_gpa,
				   .kick_fd = -1,
				   .call_fd = -1 };
	struct vh_dev *dev;
	uint64_t one = 1;

	dc->path = ss->url;
	assert_int_equal(vh_dev_create(dc, &dev), 0);
	assert_int_equal(vh_dev_ack_features(dev, vh_dev_features(dev)), 0);
	assert_int_equal(vh_dev_mem_begin(dev), 0);
	assert_int_equal(vh_dev_mem_add(dev, &r), 0);
	assert_int_equal(vh_dev_mem_commit(dev), 0);
	assert_int_equal(vh_dev_vring_setup(dev, &vr), 0);
	ss->dev.hold = 2;
	assert_int_equal(vh_dev_start(dev), 0);
	for (unsigned i = 0; i < 2; i++) {
		struct vh_vq_buf bufs[2] = { { FE_OUT_GPA + i * 256, 3 },
					     { FE_IN_GPA + i * 256, 64 } };
		struct vh_vq_driver_req req = {
			.bufs = bufs, .out_num = 1, .in_num = 1, .token = &t[i]
		};

		memcpy(f->mem + FE_OUT_GPA + i * 256, i ? "bbb" : "aaa", 3);
		assert_int_equal(vh_vq_driver_add(f->drv, &req), 0);
	}
	vh_vq_driver_publish(f->drv);
	assert_int_equal(write(vh_dev_vring_kick_fd(dev, 0), &one, 8), 8);
	for (int i = 0; i < 200 && __atomic_load_n(&ss->dev.held, __ATOMIC_ACQUIRE) < 2; i++)
		usleep(5000);
	assert_int_equal(ss->dev.held, 2);
	return dev;
}

/* Both held requests completed, once each, with their bytes echoed. */
static void check_two_done(struct vh_dev *dev, struct fe *f, const char *t)
{
	void *token;
	uint32_t len;
	int seen = 0;

	assert_true(wait_fd(vh_dev_vring_call_fd(dev, 0), 2000));
	for (int i = 0; i < 2; i++) {
		assert_int_equal(vh_vq_driver_get_used(f->drv, &token, &len), 1);
		assert_int_equal(len, 3);
		seen |= token == &t[0] ? 1 : token == &t[1] ? 2 : 4;
	}
	assert_int_equal(seen, 3);
	assert_int_equal(vh_vq_driver_get_used(f->drv, &token, &len), 0);
	assert_memory_equal(f->mem + FE_IN_GPA, "aaa", 3);
	assert_memory_equal(f->mem + FE_IN_GPA + 256, "bbb", 3);
}

/*
 * The back-end "crashes" with two requests in flight (server destroyed), a new one comes up on the
 * same path, the frontend reconnects and hands the inflight region back: both requests complete,
 * exactly once, and the ring carries on.
 */
static void test_frontend_reconnect_inflight(void **state)
{
	struct session ss = { 0 }, ss2 = { 0 };
	struct fe f = { 0 };
	struct vh_dev_config dc = { .features = 1ull << VIRTIO_F_VERSION_1,
				    .num_queues = 1,
				    .timeout_ms = 2000,
				    .name = "fe" };
	struct vh_dev *dev;
	char t[2];

	(void)state;
	session_start(&ss);
	fe_memory(&f);
	fe_driver(&f);
	dev = start_two_held(&ss, &f, &dc, t);
	session_stop(&ss); /* the back-end dies with both in flight */

	snprintf(ss2.dir, sizeof(ss2.dir), "%s", ss.dir);
	session_start(&ss2);
	assert_string_equal(ss2.url, ss.url);
	assert_int_equal(vh_dev_reconnect(dev), 0);
	check_two_done(dev, &f, t);
	assert_int_equal(ss2.dev.pops, 2);
	vh_dev_destroy(&dev);
	session_stop(&ss2);
	f.sock = -1;
	fe_teardown(&f);
}

/*
 * GET_VRING_BASE_INFLIGHT (asked for by the frontend, offered by a device that can suspend): a
 * stop with two requests in flight suspends them instead of draining them; GET_VRING_BASE counts
 * them as taken, and the next start resubmits them from the inflight region, exactly once.
 */
static void test_frontend_suspend_inflight(void **state)
{
	const uint64_t bit = 1ull << VH_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT;
	struct session ss = { .suspend = true };
	struct fe f = { 0 };
	struct vh_dev_config dc = {
		.features = 1ull << VIRTIO_F_VERSION_1,
		.protocol_features = bit | (1ull << VH_USER_PROTOCOL_F_INFLIGHT_SHMFD) |
				     (1ull << VH_USER_PROTOCOL_F_REPLY_ACK),
		.num_queues = 1,
		.timeout_ms = 2000,
		.name = "fe",
	};
	struct vh_dev *dev;
	char t[2];
	void *token;
	uint32_t len, base = 0;

	(void)state;
	session_start(&ss);
	fe_memory(&f);
	fe_driver(&f);
	dev = start_two_held(&ss, &f, &dc, t);
	assert_true(vh_dev_protocol_features(dev) & bit);
	assert_int_equal(vh_dev_stop(dev, &base, 1), 0);
	assert_int_equal(base, 2);
	assert_int_equal(ss.dev.suspends, 1);
	assert_int_equal(vh_vq_driver_get_used(f.drv, &token, &len), 0); /* not drained */

	ss.dev.hold = 0;
	assert_int_equal(vh_dev_start(dev), 0);
	check_two_done(dev, &f, t);
	assert_int_equal(ss.dev.pops, 4); /* 2 suspended + the same 2 resubmitted */
	vh_dev_destroy(&dev);
	session_stop(&ss);

	/* A device that cannot suspend does not offer it: not negotiated. */
	ss = (struct session){ 0 };
	session_start(&ss);
	dc.path = ss.url;
	assert_int_equal(vh_dev_create(&dc, &dev), 0);
	assert_false(vh_dev_protocol_features(dev) & bit);
	vh_dev_destroy(&dev);
	session_stop(&ss);
	f.sock = -1;
	fe_teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frontend_echo),
		cmocka_unit_test(test_frontend_echo_iommu),
		cmocka_unit_test(test_frontend_reconnect_inflight),
		cmocka_unit_test(test_frontend_suspend_inflight),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
