// SPDX-License-Identifier: BSD-3-Clause
/*
 * vh_dev against our own backend (vh_server) over a real socket: an "add one" echo device, a
 * driver-side ring in a memfd, requests round-tripped through kick and call eventfds, config
 * space, dirty logging of exactly the pages the backend wrote, and a backend restart that
 * vh_dev_reconnect() survives with the ring position intact.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <endian.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/virtio_config.h>

#include <vhost/backend.h>
#include <vhost/frontend.h>
#include <vhost/proto.h>
#include <vhost/vq.h>

#include "unit_helpers.h"

#define MEM_SIZE (1u << 20)
#define RING_GPA 0x1000ull
#define OUT_GPA	 0x10000ull
#define IN_GPA	 0x20000ull
#define MSG_LEN	 64u
#define QSIZE	 16u

/* ---- the device: writes each readable byte + 1 into the writable part ----------------------- */

static int echo_kick(void *inst, struct vh_queue *q)
{
	struct iovec iov[8];
	struct vh_vq_elem e = { .iov = iov, .max_iov = 8 };
	int r;

	while ((r = vh_queue_pop(q, &e)) == 1) {
		uint32_t n = 0;

		if (e.out_num == 1 && e.in_num == 1) {
			const uint8_t *src = iov[0].iov_base;
			uint8_t *dst = iov[1].iov_base;

			n = (uint32_t)(iov[0].iov_len < iov[1].iov_len ? iov[0].iov_len
								       : iov[1].iov_len);
			for (uint32_t i = 0; i < n; i++)
				dst[i] = (uint8_t)(src[i] + 1);
		}
		if (vh_queue_push(q, &e, n) < 0)
			return -EPROTO;
		e = (struct vh_vq_elem){ .iov = iov, .max_iov = 8 };
	}
	return r < 0 ? r : 0;
}

static int echo_get_config(void *inst, struct vh_conn *c, uint32_t off, void *buf, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = (uint8_t)(0xc0 + off + i);
	return 0;
}

struct srv {
	struct vh_server *s;
	pthread_t th;
	char path[108];
	struct vh_test_log log;
	const uint64_t *shmem_sizes; /* cfg.shmem_sizes / shmem_count / host_notifiers */
	unsigned shmem_count;
	bool host_notifiers;
	struct vh_conn *conn; /* the last front-end connected */
};

static int echo_open(void *dev, struct vh_conn *c, void **inst)
{
	(void)inst;
	((struct srv *)dev)->conn = c;
	return 0;
}

static const struct vh_device_ops echo_ops = {
	.conn_open = echo_open,
	.queue_kick = echo_kick,
	.get_config = echo_get_config,
};

static void *srv_thread(void *arg)
{
	vh_server_run(((struct srv *)arg)->s);
	return NULL;
}

static void srv_start(struct srv *v)
{
	struct vh_server_config cfg;

	vh_server_config_init(&cfg);
	cfg.name = "echo";
	cfg.socket_path = v->path;
	cfg.ops = &echo_ops;
	cfg.num_queues = 1;
	cfg.config_size = 16;
	cfg.inband_notifications = true;
	cfg.opaque = v;
	cfg.shmem_sizes = v->shmem_sizes;
	cfg.shmem_count = v->shmem_count;
	cfg.host_notifiers = v->host_notifiers;
	cfg.log = vh_test_sink(&v->log);
	assert_int_equal(vh_server_create(&cfg, &v->s), 0);
	assert_int_equal(pthread_create(&v->th, NULL, srv_thread, v), 0);
}

static void srv_stop(struct srv *v)
{
	vh_server_stop(v->s);
	pthread_join(v->th, NULL);
	vh_server_destroy(&v->s);
}

/* ---- the driver side ------------------------------------------------------------------------ */

struct drv {
	int memfd;
	uint8_t *mem;
	struct vh_vq_driver *vq;
	struct vh_dev *dev;
	struct vh_test_log log;
	uint64_t protocol_features; /* cfg.protocol_features (0: the default set) */
};

static void drv_setup(struct drv *d, const char *path)
{
	struct vh_vq_driver_config qc = {
		.num = QSIZE, .host = NULL, .gpa = 0, .size = MEM_SIZE, .ring_gpa = RING_GPA
	};
	char p[160];
	struct vh_dev_config dc = {
		.path = p,
		.features = 1ull << VIRTIO_F_VERSION_1,
		.num_queues = 1,
		.timeout_ms = 2000,
		.name = "dev",
		.log = vh_test_sink(&d->log),
		.protocol_features = d->protocol_features,
	};
	struct vh_dev_vring vr = { .num = QSIZE, .kick_fd = -1, .call_fd = -1 };

	d->mem = vh_test_guest_ram(MEM_SIZE, &d->memfd);
	qc.host = d->mem;
	snprintf(p, sizeof(p), "unix:%s", path);
	assert_int_equal(vh_dev_create(&dc, &d->dev), 0);
	assert_int_equal(vh_dev_ack_features(d->dev, 1ull << VIRTIO_F_VERSION_1), 0);
	vh_test_dev_mem(d->dev, d->mem, d->memfd, MEM_SIZE);
	vh_test_dev_ring(d->dev, &qc, &vr, &d->vq);
	assert_int_equal(vh_dev_start(d->dev), 0);
}

/* One request through the ring: kick, wait for the call, reap, check the bytes. */
static void drv_request(struct drv *d, uint8_t seed)
{
	struct vh_vq_buf bufs[2] = { { OUT_GPA, MSG_LEN }, { IN_GPA, MSG_LEN } };
	struct vh_vq_driver_req req = { .bufs = bufs, .out_num = 1, .in_num = 1, .token = d };
	struct pollfd p[2] = { { .fd = vh_dev_vring_call_fd(d->dev, 0), .events = POLLIN },
			       { .fd = vh_dev_event_fd(d->dev), .events = POLLIN } };
	uint64_t v = 1;
	void *token = NULL;
	uint32_t len = 0;
	bool called = false;
	int r;

	for (unsigned i = 0; i < MSG_LEN; i++)
		d->mem[OUT_GPA + i] = (uint8_t)(seed + i);
	memset(d->mem + IN_GPA, 0, MSG_LEN);
	assert_int_equal(vh_vq_driver_add(d->vq, &req), 0);
	vh_vq_driver_publish(d->vq);
	assert_int_equal(vh_dev_vring_kick(d->dev, 0), 0);
	/* The call eventfd fires (in band: vh_dev_dispatch() forwards BACKEND_VRING_CALL). */
	for (int tries = 0; tries < 200 && !called; tries++) {
		assert_true(poll(p, 2, 10) >= 0);
		if (p[1].revents & POLLIN)
			assert_true(vh_dev_dispatch(d->dev) >= 0);
		if (poll(p, 1, 0) == 1) {
			assert_int_equal(read(p[0].fd, &v, 8), 8);
			called = true;
		}
	}
	assert_true(called);
	r = vh_vq_driver_get_used(d->vq, &token, &len);
	assert_int_equal(r, 1);
	assert_ptr_equal(token, d);
	assert_int_equal(len, MSG_LEN);
	for (unsigned i = 0; i < MSG_LEN; i++)
		assert_int_equal(d->mem[IN_GPA + i], (uint8_t)(seed + i + 1));
}

/* A control round trip (GET_CONFIG), for the record. */
static void print_round_trip(struct drv *d)
{
	struct timespec t0, t1;
	uint8_t cfg[16];

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(vh_dev_get_config(d->dev, 0, cfg, 16), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("GET_CONFIG round trip: %.1f us\n",
	       ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 1000 / 1e3);
}

static void test_against_server(void **state)
{
	struct srv v = { 0 };
	struct drv d = { 0 };
	uint64_t bm[MEM_SIZE / 4096 / 64];
	uint8_t cfg[16];
	uint32_t base = 0;

	snprintf(v.path, sizeof(v.path), "/tmp/vhfe-srv-%d.sock", (int)getpid());
	srv_start(&v);
	drv_setup(&d, v.path);
	drv_request(&d, 10);

	assert_int_equal(vh_dev_get_config(d.dev, 2, cfg, 8), 0);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(cfg[i], 0xc2 + i);

	print_round_trip(&d);

	/* Logging: the page the device wrote and the used ring's page, not the page it read. */
	assert_int_equal(vh_dev_migration_blocker(d.dev, NULL, 0), 0);
	assert_int_equal(vh_dev_log_start(d.dev), 0);
	memset(bm, 0, sizeof(bm));
	vh_dev_log_sync(d.dev, bm, MEM_SIZE / 4096);
	memset(bm, 0, sizeof(bm));
	drv_request(&d, 20);
	assert_true(vh_dev_log_sync(d.dev, bm, MEM_SIZE / 4096) >= 2);
	assert_true(bm[(IN_GPA / 4096) / 64] & (1ull << ((IN_GPA / 4096) % 64)));
	assert_false(bm[(OUT_GPA / 4096) / 64] & (1ull << ((OUT_GPA / 4096) % 64)));
	assert_int_equal(vh_dev_log_stop(d.dev), 0);

	/* The backend restarts: the device notices, reconnects, the ring goes on. */
	srv_stop(&v);
	for (int i = 0; i < 200 && vh_dev_dispatch(d.dev) >= 0; i++)
		usleep(5000);
	assert_int_equal(vh_dev_dispatch(d.dev), -ECONNRESET);
	srv_start(&v);
	assert_int_equal(vh_dev_reconnect(d.dev), 0);
	drv_request(&d, 30);

	assert_int_equal(vh_dev_stop(d.dev, &base, 1), 0);
	assert_int_equal(base, 3);
	vh_dev_destroy(&d.dev);
	srv_stop(&v);
	vh_vq_driver_destroy(&d.vq);
	munmap(d.mem, MEM_SIZE);
	close(d.memfd);
}

/*
 * SET_VRING_ERR: the guest breaks the ring (a descriptor outside guest memory); the backend
 * signals the ring's error eventfd, which the VMM set while the ring ran.
 */
static void vring_err(uint64_t protocol_features)
{
	struct srv v = { 0 };
	struct drv d = { .protocol_features = protocol_features };
	struct vh_vq_buf bufs[2] = { { OUT_GPA, MSG_LEN }, { IN_GPA, MSG_LEN } };
	struct vh_vq_driver_req req = { .bufs = bufs, .out_num = 1, .in_num = 1, .token = &d };
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t bad = htole64(0x7ff000000000ull);

	snprintf(v.path, sizeof(v.path), "/tmp/vhfe-err-%d.sock", (int)getpid());
	srv_start(&v);
	drv_setup(&d, v.path);
	assert_true(vh_dev_vring_err_fd(d.dev, 0) >= 0);
	assert_int_equal(vh_dev_vring_err_fd(d.dev, 1), -EINVAL);
	drv_request(&d, 1);
	assert_int_equal(vh_dev_vring_error(d.dev, 0), 0);
	/* The VMM's own eventfd, handed over while the ring runs. */
	assert_int_equal(vh_dev_vring_set_err_fd(d.dev, 0, efd), 0);
	assert_int_equal(vh_dev_vring_err_fd(d.dev, 0), efd);

	assert_int_equal(vh_vq_driver_add(d.vq, &req), 0);
	for (unsigned i = 0; i < QSIZE; i++)
		memcpy(d.mem + RING_GPA + 16 * i, &bad, sizeof(bad)); /* desc[i].addr */
	vh_vq_driver_publish(d.vq);
	assert_int_equal(vh_dev_vring_kick(d.dev, 0), 0);
	for (int i = 0; i < 200 && poll(&p, 1, 10) == 0; i++)
		assert_true(vh_dev_dispatch(d.dev) >= 0); /* in band: the error is a message */
	assert_int_equal(poll(&p, 1, 0), 1);
	assert_int_equal(vh_dev_vring_error(d.dev, 0), 1);
	assert_int_equal(vh_dev_vring_error(d.dev, 0), 0);
	assert_true(v.log.count > 0); /* the backend logged the broken ring */

	vh_dev_destroy(&d.dev);
	srv_stop(&v);
	close(efd);
	vh_vq_driver_destroy(&d.vq);
	munmap(d.mem, MEM_SIZE);
	close(d.memfd);
}

static void test_vring_err(void **state)
{
	(void)state;
	vring_err(0);
}

/*
 * INBAND_NOTIFICATIONS, asked for: kicks are VRING_KICK messages, calls and the ring error come
 * back as BACKEND_VRING_CALL / _ERR and land in the same eventfds through vh_dev_dispatch().
 */
static void test_inband(void **state)
{
	const uint64_t inband = 1ull << VH_USER_PROTOCOL_F_INBAND_NOTIFICATIONS;
	struct srv v = { 0 };
	struct drv d = { .protocol_features = VH_USER_PROTOCOL_F_ALL_MASK };

	(void)state;
	snprintf(v.path, sizeof(v.path), "/tmp/vhfe-inband-%d.sock", (int)getpid());
	srv_start(&v);
	drv_setup(&d, v.path);
	assert_true(vh_dev_protocol_features(d.dev) & inband);
	for (unsigned i = 0; i < 3 * QSIZE; i++)
		drv_request(&d, (uint8_t)i);
	vh_dev_destroy(&d.dev);
	srv_stop(&v);
	vh_vq_driver_destroy(&d.vq);
	munmap(d.mem, MEM_SIZE);
	close(d.memfd);

	/* Not asked for: not negotiated (the default set leaves it out). */
	srv_start(&v);
	d = (struct drv){ 0 };
	drv_setup(&d, v.path);
	assert_false(vh_dev_protocol_features(d.dev) & inband);
	vh_dev_destroy(&d.dev);
	srv_stop(&v);
	vh_vq_driver_destroy(&d.vq);
	munmap(d.mem, MEM_SIZE);
	close(d.memfd);

	vring_err(VH_USER_PROTOCOL_F_ALL_MASK);
}

#define PFS(x) (1ull << VH_USER_PROTOCOL_F_##x)

struct shm_call {
	struct srv *v;
	struct vh_shmem_mapping m;
	bool unmap;
	int ret;
	int done; /* set by the server thread */
};

static void shm_done(void *opaque, int result)
{
	struct shm_call *c = opaque;

	c->ret = result;
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
}

/* The device asks (never waits); the VMM's loop (vh_dev_dispatch) answers; the callback runs. */
static int shm_call(struct drv *d, struct shm_call *c)
{
	int err;

	c->done = 0;
	err = c->unmap ? vh_conn_shmem_unmap(c->v->conn, &c->m, shm_done, c)
		       : vh_conn_shmem_map(c->v->conn, &c->m, shm_done, c);
	assert_int_equal(err, 0);
	for (int i = 0; i < 2000 && !__atomic_load_n(&c->done, __ATOMIC_ACQUIRE); i++) {
		assert_true(vh_dev_dispatch(d->dev) >= 0);
		usleep(1000);
	}
	assert_true(c->done);
	return c->ret;
}

/* The device side of a notifier page: poll it, wake the ring when the driver wrote to it. */
struct bell_poll {
	volatile uint16_t *page;
	struct vh_queue *q;
	volatile bool stop;
	int rings;
};

static void *bell_thread(void *arg)
{
	struct bell_poll *b = arg;

	while (!b->stop) {
		if (__atomic_load_n(b->page, __ATOMIC_ACQUIRE) != 0xffff) {
			b->page[0] = 0xffff;
			b->rings++;
			vh_queue_wake(b->q);
		}
		usleep(100);
	}
	return NULL;
}

/*
 * GPA_ADDRESSES, SHMEM and HOST_NOTIFIER between our frontend and our backend: requests go
 * through rings given by guest address; a device thread maps a memfd range into a shared memory
 * region the frontend reserved, the bytes show there, an overlapping map comes back -EBUSY; a
 * notifier page handed over for ring 0 receives the driver's kick (the ring index), and the
 * device, polling its page, serves the request.
 */
static void test_areas(void **state)
{
	static const uint64_t sizes[3] = { 0, 0, 16 * 4096 };
	const uint64_t want = PFS(GPA_ADDRESSES) | PFS(SHMEM) | PFS(HOST_NOTIFIER);
	struct srv v = { .shmem_sizes = sizes, .shmem_count = 3, .host_notifiers = true };
	struct drv d = { .protocol_features =
			     VH_USER_PROTOCOL_F_ALL_MASK & ~PFS(INBAND_NOTIFICATIONS) };
	struct shm_call c = { .v = &v };
	struct bell_poll bp = { 0 };
	struct vh_dev_host_notifier n;
	pthread_t th;
	int shm = memfd_create("device-shm", MFD_CLOEXEC);
	int bell = memfd_create("doorbell", MFD_CLOEXEC);
	volatile uint16_t *page;
	uint8_t *region = NULL;
	uint64_t size = 0;

	(void)state;
	assert_int_equal(ftruncate(shm, 8 * 4096), 0);
	assert_int_equal(pwrite(shm, "from the device", 15, 4096), 15);
	assert_int_equal(ftruncate(bell, 4096), 0);
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, bell, 0);
	assert_true(page != MAP_FAILED);
	page[0] = 0xffff;
	snprintf(v.path, sizeof(v.path), "/tmp/vhfe-areas-%d.sock", (int)getpid());
	srv_start(&v);
	drv_setup(&d, v.path);
	assert_int_equal(vh_dev_protocol_features(d.dev) & want, want);
	drv_request(&d, 7); /* ring addresses were guest physical addresses */

	assert_int_equal(vh_dev_shmem_count(d.dev), 3);
	assert_int_equal(vh_dev_shmem_region(d.dev, 2, &size, (void **)&region), 0);
	assert_int_equal(size, 16 * 4096);
	c.m = (struct vh_shmem_mapping){
		.shmid = 2, .fd = shm, .fd_offset = 0, .shm_offset = 4 * 4096, .len = 2 * 4096
	};
	assert_int_equal(shm_call(&d, &c), 0);
	assert_memory_equal(region + 5 * 4096, "from the device", 15);
	c.m.shm_offset = 5 * 4096;
	assert_int_equal(shm_call(&d, &c), -EBUSY);
	c.unmap = true;
	c.m.shm_offset = 4 * 4096;
	assert_int_equal(shm_call(&d, &c), 0);
	assert_int_equal(shm_call(&d, &c), -EINVAL); /* nothing mapped there any more */

	assert_int_equal(vh_queue_set_host_notifier(vh_conn_queue(v.conn, 0), bell, 0, 4096), 0);
	for (int i = 0; i < 200 && vh_dev_vring_host_notifier(d.dev, 0, &n) < 0; i++) {
		assert_true(vh_dev_dispatch(d.dev) >= 0);
		usleep(1000);
	}
	assert_int_equal(vh_dev_vring_host_notifier(d.dev, 0, &n), 0);
	assert_int_equal(n.size, 4096);
	assert_int_equal(vh_dev_vring_kick(d.dev, 0), 0);
	assert_int_equal(page[0], 0); /* ring 0's index */
	/* The device polls its page: a kick found there wakes the ring (not the eventfd). */
	bp.page = page;
	bp.q = vh_conn_queue(v.conn, 0);
	page[0] = 0xffff;
	assert_int_equal(pthread_create(&th, NULL, bell_thread, &bp), 0);
	drv_request(&d, 9);
	drv_request(&d, 10);
	bp.stop = true;
	pthread_join(th, NULL);
	assert_true(bp.rings >= 2);

	vh_dev_destroy(&d.dev);
	srv_stop(&v);
	vh_vq_driver_destroy(&d.vq);
	munmap(d.mem, MEM_SIZE);
	close(d.memfd);
	munmap((void *)page, 4096);
	close(shm);
	close(bell);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_server),
		cmocka_unit_test(test_vring_err),
		cmocka_unit_test(test_inband),
		cmocka_unit_test(test_areas),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
