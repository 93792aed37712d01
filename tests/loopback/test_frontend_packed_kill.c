// SPDX-License-Identifier: BSD-3-Clause
/*
 * Packed-ring reconnect, end to end: vh_dev drives a packed ring against our backend running in
 * a child process; the device completes chains in reverse pop order with a pause between them,
 * so chains are always in flight, and the child is SIGKILLed three times mid-I/O. After each
 * kill a new backend process comes up on the same path, vh_dev_reconnect() hands the inflight
 * region back and restarts the ring from it. Every request must complete exactly once with
 * the bytes the device writes for it.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/virtio_config.h>

#include <vhost/backend.h>
#include <vhost/frontend.h>
#include <vhost/vq.h>

#include "unit_helpers.h"

#define MEM_SIZE (1u << 20)
#define RING_GPA 0x1000ull
#define BUF_GPA	 0x10000ull
#define QSIZE	 16u /* request buffer slots */
#define RING_NUM 13u /* packed: any size; 2 slots a request, so kills land at odd positions */
#define NREQ	 600u
#define NKILL	 3

/* ---- the backend process: out = 8-byte sequence number, in = its complement --------------- */

static int slow_kick(void *inst, struct vh_queue *q)
{
	struct iovec iov[QSIZE][2];
	struct vh_vq_elem e[QSIZE];
	unsigned n = 0;
	int r = 1;

	(void)inst;
	while (n < QSIZE) {
		e[n] = (struct vh_vq_elem){ .iov = iov[n], .max_iov = 2 };
		r = vh_queue_pop(q, &e[n]);
		if (r != 1)
			break;
		n++;
	}
	/* Newest first, with a pause: used order differs from avail order, and a kill finds
	 * chains popped but not yet used. */
	while (n--) {
		uint64_t seq = 0;
		uint32_t len = 0;

		if (e[n].out_num == 1 && e[n].in_num == 1 && iov[n][0].iov_len == 8 &&
		    iov[n][1].iov_len == 8) {
			memcpy(&seq, iov[n][0].iov_base, 8);
			seq = ~seq;
			memcpy(iov[n][1].iov_base, &seq, 8);
			len = 8;
		}
		usleep(150);
		if (vh_queue_push(q, &e[n], len) < 0)
			return -EPROTO;
	}
	return r < 0 ? r : 0;
}

static const struct vh_device_ops slow_ops = { .queue_kick = slow_kick };

static void print_log(void *opaque, enum vh_log_level level, const char *msg)
{
	(void)opaque;
	fprintf(stderr, "[%d] %s\n", level, msg);
}

/* The backends' warnings, collected in a file the test reads at the end. */
static int warn_fd = -1;

static void warn_log(void *opaque, enum vh_log_level level, const char *msg)
{
	(void)opaque;
	if (level <= VH_LOG_WARN)
		dprintf(warn_fd, "%s\n", msg);
}

/* The running backend, killed by the teardown when an assertion fails first. */
static pid_t backend_pid = -1;

static int kill_backend(void **state)
{
	(void)state;
	if (backend_pid > 0) {
		kill(backend_pid, SIGKILL);
		waitpid(backend_pid, NULL, 0);
	}
	backend_pid = -1;
	return 0;
}

static pid_t spawn_backend(const char *path)
{
	struct vh_server_config cfg;
	struct vh_server *s;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid) {
		backend_pid = pid;
		return pid;
	}
	unlink(path);
	vh_server_config_init(&cfg);
	cfg.name = "slow";
	cfg.socket_path = path;
	cfg.ops = &slow_ops;
	cfg.num_queues = 1;
	cfg.log = (struct vh_log_sink){ .fn = warn_log, .max_level = VH_LOG_WARN };
	if (getenv("VH_TEST_VERBOSE"))
		cfg.log = (struct vh_log_sink){ .fn = print_log, .max_level = VH_LOG_DEBUG };
	if (vh_server_create(&cfg, &s) < 0)
		_exit(2);
	vh_server_run(s);
	_exit(0);
}

/* ---- the driver side ------------------------------------------------------------------------ */

struct drv {
	int memfd;
	uint8_t *mem;
	struct vh_vq_driver *vq;
	struct vh_dev *dev;
	struct vh_test_log log;
	unsigned done[NREQ];
	uint16_t free_slot[QSIZE];
	unsigned nfree;
	unsigned slot_of[NREQ];
};

static void drv_setup(struct drv *d, const char *path)
{
	struct vh_vq_driver_config qc = {
		.num = RING_NUM, .packed = true, .size = MEM_SIZE, .ring_gpa = RING_GPA
	};
	const uint64_t feat = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_PACKED);
	char p[160];
	struct vh_dev_config dc = {
		.path = p, .features = feat, .num_queues = 1, .timeout_ms = 2000, .name = "dev"
	};
	/* virtio 1.2 §2.8.1: both wrap counters start at 1. */
	struct vh_dev_vring vr = {
		.num = RING_NUM, .packed = true, .base = 1u << 15, .kick_fd = -1, .call_fd = -1
	};
	int err = -1;

	dc.log = vh_test_sink(&d->log);
	d->mem = vh_test_guest_ram(MEM_SIZE, &d->memfd);
	qc.host = d->mem;
	for (unsigned i = 0; i < QSIZE; i++)
		d->free_slot[d->nfree++] = (uint16_t)i;

	snprintf(p, sizeof(p), "unix:%s", path);
	for (int i = 0; i < 200 && err < 0; i++) {
		err = vh_dev_create(&dc, &d->dev);
		if (err < 0)
			usleep(10000);
	}
	assert_int_equal(err, 0);
	assert_int_equal(vh_dev_ack_features(d->dev, feat), 0);
	vh_test_dev_mem(d->dev, d->mem, d->memfd, MEM_SIZE);
	vh_test_dev_ring(d->dev, &qc, &vr, &d->vq);
	assert_int_equal(vh_dev_start(d->dev), 0);
}

static void drv_submit(struct drv *d, unsigned seq)
{
	unsigned slot = d->free_slot[--d->nfree];
	uint64_t gpa = BUF_GPA + slot * 64ull, v = seq;
	struct vh_vq_buf bufs[2] = { { gpa, 8 }, { gpa + 32, 8 } };
	struct vh_vq_driver_req req = {
		.bufs = bufs, .out_num = 1, .in_num = 1, .token = (void *)(uintptr_t)(seq + 1)
	};

	memcpy(d->mem + gpa, &v, 8);
	memset(d->mem + gpa + 32, 0, 8);
	d->slot_of[seq] = slot;
	assert_int_equal(vh_vq_driver_add(d->vq, &req), 0);
}

/* Reap every completion; each must be a request in flight, completed for the first time. */
static unsigned drv_reap(struct drv *d)
{
	unsigned n = 0;
	void *token;
	uint32_t len;
	int r;

	while ((r = vh_vq_driver_get_used(d->vq, &token, &len)) == 1) {
		unsigned seq = (unsigned)((uintptr_t)token - 1);
		uint64_t v;

		assert_true(seq < NREQ);
		assert_int_equal(d->done[seq], 0);
		d->done[seq]++;
		assert_int_equal(len, 8);
		memcpy(&v, d->mem + BUF_GPA + d->slot_of[seq] * 64ull + 32, 8);
		assert_true(v == ~(uint64_t)seq);
		d->free_slot[d->nfree++] = (uint16_t)d->slot_of[seq];
		n++;
	}
	assert_int_equal(r, 0);
	return n;
}

/* Kill the backend mid-I/O, wait for the frontend to notice, bring up a new one, reconnect. */
static void kill_and_reconnect(struct drv *d, pid_t *pid, const char *path, unsigned *done,
			       unsigned *lost)
{
	unsigned submitted = *done + (QSIZE - d->nfree);
	int err = -1, status;

	assert_int_equal(kill(*pid, SIGKILL), 0);
	assert_int_equal(waitpid(*pid, &status, 0), *pid);
	backend_pid = -1;
	/* What the dead backend completed; the rest is in flight (popped or not yet). */
	*done += drv_reap(d);
	*lost += submitted - *done;
	for (int i = 0; i < 200 && vh_dev_dispatch(d->dev) >= 0; i++)
		usleep(5000);
	assert_int_equal(vh_dev_dispatch(d->dev), -ECONNRESET);
	*pid = spawn_backend(path);
	for (int i = 0; i < 300 && err < 0; i++) {
		err = vh_dev_reconnect(d->dev);
		if (err < 0)
			usleep(10000);
	}
	assert_int_equal(err, 0);
}

static void test_packed_kill(void **state)
{
	const unsigned kill_at[NKILL] = { 100, 280, 450 };
	char path[108];
	struct drv *d = calloc(1, sizeof(*d));
	unsigned submitted = 0, done = 0, kills = 0, in_flight_at_kill = 0;
	uint64_t one = 1, v;
	pid_t pid;

	char warnings[4096] = "";

	(void)state;
	assert_non_null(d);
	warn_fd = memfd_create("warnings", MFD_CLOEXEC);
	assert_true(warn_fd >= 0);
	snprintf(path, sizeof(path), "/tmp/vhfe-pkill-%d.sock", (int)getpid());
	pid = spawn_backend(path);
	drv_setup(d, path);
	for (int rounds = 0; done < NREQ && rounds < 100000; rounds++) {
		struct pollfd p = { .fd = vh_dev_vring_call_fd(d->dev, 0), .events = POLLIN };

		while (submitted < NREQ && d->nfree && vh_vq_driver_num_free(d->vq) >= 2)
			drv_submit(d, submitted++);
		assert_int_equal(write(vh_dev_vring_kick_fd(d->dev, 0), &one, 8), 8);
		if (poll(&p, 1, 20) == 1)
			assert_int_equal(read(p.fd, &v, 8), 8);
		done += drv_reap(d);
		if (getenv("VH_TEST_VERBOSE") && rounds % 50 == 0)
			fprintf(stderr, "round %d: submitted %u done %u kills %u\n", rounds,
				submitted, done, kills);
		if (kills < NKILL && done >= kill_at[kills]) {
			/* A full ring, kicked: the device pops it all and dies half-way through. */
			while (submitted < NREQ && d->nfree && vh_vq_driver_num_free(d->vq) >= 2)
				drv_submit(d, submitted++);
			assert_int_equal(write(vh_dev_vring_kick_fd(d->dev, 0), &one, 8), 8);
			usleep(400);
			kill_and_reconnect(d, &pid, path, &done, &in_flight_at_kill);
			kills++;
		}
	}
	assert_int_equal(done, NREQ);
	assert_int_equal(kills, NKILL);
	assert_true(in_flight_at_kill > 0);
	for (unsigned i = 0; i < NREQ; i++)
		assert_int_equal(d->done[i], 1);
	/* Each restart began where the inflight region says (the backend checks SET_VRING_BASE). */
	assert_true(pread(warn_fd, warnings, sizeof(warnings) - 1, 0) >= 0);
	assert_null(strstr(warnings, "disagrees"));
	printf("%u requests, %u backend kills, %u requests in flight at the kills\n", NREQ, kills,
	       in_flight_at_kill);

	vh_dev_destroy(&d->dev);
	kill_backend(NULL);
	unlink(path);
	close(warn_fd);
	vh_vq_driver_destroy(&d->vq);
	munmap(d->mem, MEM_SIZE);
	close(d->memfd);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_packed_kill, kill_backend),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
