// SPDX-License-Identifier: BSD-3-Clause
/*
 * Ring microbenchmark and loopback demo.
 *
 *   ring_bench [-t SECONDS]     table: layout batch threads Mreq/s (polling, no eventfds)
 *   ring_bench --demo SECONDS   event-driven loopback: driver and device threads over a shared
 *                               memfd, kick and call eventfds, EVENT_IDX on; prints req/s
 *
 * Each request is one 64-byte device-readable buffer. The driver side adds, the device side pops
 * and pushes, the driver side reaps: the whole ring round trip through the public API. The guest
 * memory is a memfd mapped twice (once per side), as between a VMM and a vhost-user backend.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <vhost/mem.h>
#include <vhost/vq.h>

#define MEM_SIZE  (4u << 20)
#define GPA_BASE  0x40000000ull
#define RING_NUM  256
#define BUF_SIZE  64
#define BUF_OFF	  (1u << 20)
#define MAX_BATCH 32

struct bench {
	/* driver side */
	struct vh_vq_driver *drv;
	uint8_t *drv_mem;
	/* device side */
	struct vh_vq *vq;
	struct vh_memmap *map;
	int memfd;
	/* run */
	unsigned batch;
	bool packed;
	bool event_idx;
	int kick_fd;
	int call_fd;
	double seconds;
	/* written by one thread, read by the other: own cache lines */
	_Alignas(64) int stop;
	_Alignas(64) uint64_t done;
	_Alignas(64) uint64_t served;
	uint64_t kicks;
	uint64_t calls;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench_setup(struct bench *b, bool packed, unsigned batch, bool event_idx)
{
	struct vh_vq_driver_config dc = { .num = RING_NUM,
					  .packed = packed,
					  .event_idx = event_idx,
					  .gpa = GPA_BASE,
					  .size = MEM_SIZE,
					  .ring_gpa = GPA_BASE,
					  .name = "bench driver" };
	struct vh_vq_config vc = {
		.num = RING_NUM, .packed = packed, .event_idx = event_idx, .name = "bench vq"
	};
	struct vh_mem_region r = { .gpa = GPA_BASE, .size = MEM_SIZE };
	struct vh_vq_ring_addrs ra;
	struct vh_vq_addrs dev;
	int err;

	memset(b, 0, sizeof(*b));
	b->memfd = -1;
	b->packed = packed;
	b->batch = batch;
	b->event_idx = event_idx;
	b->kick_fd = b->call_fd = -1;
	b->memfd = memfd_create("ring_bench", MFD_CLOEXEC);
	if (b->memfd < 0 || ftruncate(b->memfd, MEM_SIZE) < 0)
		return -errno;
	b->drv_mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, b->memfd, 0);
	if (b->drv_mem == MAP_FAILED)
		return -errno;
	dc.host = b->drv_mem;
	err = vh_vq_driver_create(&dc, &b->drv);
	if (err < 0)
		return err;
	/* The device maps the same memfd on its own, as a vhost-user backend would. */
	r.fd = b->memfd;
	r.uva = (uintptr_t)b->drv_mem;
	err = vh_memmap_create(NULL, &b->map);
	if (!err)
		err = vh_memmap_add(b->map, &r);
	if (!err)
		err = vh_vq_create(&vc, &b->vq);
	if (err < 0)
		return err;
	vh_vq_driver_ring_addrs(b->drv, &ra);
	dev.desc = vh_memmap_gpa_to_host(b->map, ra.desc_gpa, 1);
	dev.driver = vh_memmap_gpa_to_host(b->map, ra.driver_gpa, 1);
	dev.device = vh_memmap_gpa_to_host(b->map, ra.device_gpa, 1);
	vh_vq_set_memmap(b->vq, b->map);
	return vh_vq_set_addrs(b->vq, &dev);
}

static void bench_teardown(struct bench *b)
{
	vh_vq_destroy(&b->vq);
	vh_memmap_destroy(&b->map);
	vh_vq_driver_destroy(&b->drv);
	if (b->drv_mem && b->drv_mem != MAP_FAILED)
		munmap(b->drv_mem, MEM_SIZE);
	if (b->memfd >= 0)
		close(b->memfd);
	if (b->kick_fd >= 0)
		close(b->kick_fd);
	if (b->call_fd >= 0)
		close(b->call_fd);
}

/* Driver: add up to @max requests; returns how many went in. */
static unsigned drv_add(struct bench *b, unsigned max, uint64_t *seq)
{
	unsigned n;

	for (n = 0; n < max; n++) {
		struct vh_vq_buf buf = { GPA_BASE + BUF_OFF + BUF_SIZE * (*seq % 4096), BUF_SIZE };
		struct vh_vq_driver_req req = { &buf, 1, 0, (void *)(uintptr_t)(*seq + 1), false };

		if (vh_vq_driver_add(b->drv, &req) < 0)
			break;
		(*seq)++;
	}
	return n;
}

static unsigned drv_reap(struct bench *b)
{
	unsigned n = 0;
	void *tok;
	uint32_t len;

	while (vh_vq_driver_get_used(b->drv, &tok, &len) == 1)
		n++;
	return n;
}

/* Device: serve up to @max requests, one flush for the batch. */
static unsigned dev_serve(struct bench *b, unsigned max)
{
	struct iovec iov[4];
	struct vh_vq_elem e = { .iov = iov, .max_iov = 4 };
	unsigned n;

	for (n = 0; n < max; n++) {
		if (vh_vq_pop(b->vq, &e) != 1)
			break;
		vh_vq_push(b->vq, &e, 0);
	}
	if (n)
		vh_vq_flush(b->vq);
	return n;
}

static void pin(unsigned cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu % (unsigned)sysconf(_SC_NPROCESSORS_ONLN), &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static double run_one_thread(struct bench *b)
{
	double t0 = now(), t;
	uint64_t seq = 0, done = 0;

	vh_vq_set_notification(b->vq, false);
	vh_vq_driver_set_notification(b->drv, false);
	do {
		for (int i = 0; i < 1024; i++) {
			drv_add(b, b->batch, &seq);
			vh_vq_driver_publish(b->drv);
			dev_serve(b, b->batch);
			done += drv_reap(b);
		}
		t = now();
	} while (t - t0 < b->seconds);
	return (double)done / (t - t0);
}

static void *device_poll_thread(void *arg)
{
	struct bench *b = arg;
	uint64_t served = 0;

	pin(1);
	while (!__atomic_load_n(&b->stop, __ATOMIC_RELAXED)) {
		unsigned n = dev_serve(b, b->batch);

		/* Idle polling backs off a little so it does not steal the lines being written. */
		if (!n)
			__builtin_ia32_pause();
		served += n;
	}
	b->served = served;
	return NULL;
}

static double run_two_threads(struct bench *b)
{
	uint64_t seq = 0, done = 0;
	pthread_t th;
	double t0, t;

	vh_vq_set_notification(b->vq, false);
	vh_vq_driver_set_notification(b->drv, false);
	pin(0);
	if (pthread_create(&th, NULL, device_poll_thread, b))
		return -1;
	t0 = now();
	do {
		for (int i = 0; i < 4096; i++) {
			unsigned got = drv_reap(b);

			done += got;
			if (vh_vq_driver_num_free(b->drv) >= b->batch) {
				drv_add(b, b->batch, &seq);
				vh_vq_driver_publish(b->drv);
			} else if (!got) {
				__builtin_ia32_pause();
			}
		}
		t = now();
	} while (t - t0 < b->seconds);
	__atomic_store_n(&b->stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	return (double)done / (t - t0);
}

static int bench_table(double seconds)
{
	static const unsigned batches[] = { 1, 32 };

	printf("%-8s %5s %7s %9s\n", "layout", "batch", "threads", "Mreq/s");
	for (int packed = 0; packed < 2; packed++) {
		for (unsigned bi = 0; bi < 2; bi++) {
			for (int threads = 1; threads <= 2; threads++) {
				struct bench b;
				double rate;
				int err = bench_setup(&b, packed, batches[bi], false);

				if (err < 0) {
					fprintf(stderr, "ring_bench: setup: %s\n", strerror(-err));
					bench_teardown(&b);
					return 1;
				}
				b.seconds = seconds;
				rate = threads == 1 ? run_one_thread(&b) : run_two_threads(&b);
				printf("%-8s %5u %7d %9.2f\n", packed ? "packed" : "split",
				       batches[bi], threads, rate / 1e6);
				fflush(stdout);
				bench_teardown(&b);
			}
		}
	}
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Event-driven loopback demo                                                                   */
/* ------------------------------------------------------------------------------------------ */

static void efd_signal(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		perror("eventfd write");
}

/* Wait for @fd (100 ms at most, so the stop flag is seen), then drain it. */
static void efd_wait(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t v;

	if (poll(&p, 1, 100) == 1 && read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		perror("eventfd read");
}

static void *device_event_thread(void *arg)
{
	struct bench *b = arg;
	uint64_t served = 0, calls = 0;

	pin(1);
	while (!__atomic_load_n(&b->stop, __ATOMIC_RELAXED)) {
		unsigned n = dev_serve(b, MAX_BATCH);

		served += n;
		if (n && vh_vq_needs_notify(b->vq)) {
			efd_signal(b->call_fd);
			calls++;
		}
		/* Empty: pop re-armed avail_event and looked again, so sleeping is safe. */
		if (!n)
			efd_wait(b->kick_fd);
	}
	b->served = served;
	b->calls = calls;
	return NULL;
}

static int run_demo(double seconds)
{
	struct bench b;
	uint64_t seq = 0, done = 0, last_done = 0, kicks = 0;
	double t0, t, last;
	pthread_t th;
	int err = bench_setup(&b, false, MAX_BATCH, true);

	if (err < 0)
		goto out;
	b.kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	b.call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b.kick_fd < 0 || b.call_fd < 0) {
		err = -errno;
		goto out;
	}
	printf(
	    "loopback demo: split ring of %u, EVENT_IDX, kick/call eventfds, 2 threads, %.0f s\n",
	    RING_NUM, seconds);
	pin(0);
	if (pthread_create(&th, NULL, device_event_thread, &b)) {
		err = -EAGAIN;
		goto out;
	}
	t0 = last = now();
	do {
		unsigned got = drv_reap(&b);

		done += got;
		drv_add(&b, MAX_BATCH, &seq);
		if (vh_vq_driver_kick_needed(b.drv)) {
			efd_signal(b.kick_fd);
			kicks++;
		}
		/* Nothing came back: arm used_event, look again, then sleep on the call fd. */
		if (!got && vh_vq_driver_set_notification(b.drv, true) == 0)
			efd_wait(b.call_fd);
		t = now();
		if (t - last >= 1.0) {
			printf("  %6.2f Mreq/s\n", (double)(done - last_done) / (t - last) / 1e6);
			fflush(stdout);
			last = t;
			last_done = done;
		}
	} while (t - t0 < seconds);
	__atomic_store_n(&b.stop, 1, __ATOMIC_RELAXED);
	efd_signal(b.kick_fd);
	pthread_join(th, NULL);
	printf("loopback demo: %" PRIu64 " requests in %.2f s = %.2f Mreq/s (%" PRIu64
	       " kicks, %" PRIu64 " calls)\n",
	       done, t - t0, (double)done / (t - t0) / 1e6, kicks, b.calls);
	if (done == 0 || vh_vq_is_broken(b.vq))
		err = -EIO;
out:
	if (err < 0)
		fprintf(stderr, "ring_bench: demo: %s\n", strerror(-err));
	bench_teardown(&b);
	return err < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	double seconds = 1.0;

	if (argc == 3 && !strcmp(argv[1], "--demo"))
		return run_demo(atof(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "-t"))
		seconds = atof(argv[2]);
	else if (argc != 1) {
		fprintf(stderr, "usage: %s [-t SECONDS] | --demo SECONDS\n", argv[0]);
		return 2;
	}
	return bench_table(seconds);
}
