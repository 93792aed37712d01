/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Postcopy end to end: our frontend (vh_dev) plays the migration destination's VMM, our
 * backend (vh_server and an echo device, in its own thread) runs the ring. Guest memory is a
 * memfd in which the pages holding the requests' buffers have "not arrived yet": their content
 * exists only in a private "source" copy. The frontend advises, listens and sends the table;
 * a fault thread reads the backend's userfaultfd, turns each fault address into a guest
 * address (vh_dev_postcopy_fault_gpa) and places the source's page with UFFDIO_COPY at the
 * backend's address (vh_dev_postcopy_backend_addr). Every request must echo the bytes the
 * source held, every buffer page must have faulted exactly once, and after POSTCOPY_END the
 * memory is no longer registered.
 */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <linux/userfaultfd.h>

#include <vhost/frontend.h>
#include <vhost/proto.h>

#include "backend_fake.h"
#include "mem/userfault.h"

#define NREQ	   8
#define PAGE	   4096u
#define OUT_GPA	   0x40000ull /* request i reads the page OUT_GPA + i * PAGE ... */
#define IN_GPA	   0x80000ull /* ... and writes the page IN_GPA + i * PAGE */
#define IN_BYTES   256u
#define ARRAY_N(a) (sizeof(a) / sizeof((a)[0]))

struct pc_loop {
	struct vh_server *s;
	struct echo_dev dev;
	struct vh_test_log slog;
	pthread_t server, faults;
	char dir[32], path[64], url[80];
	struct vh_dev *vd;
	int uffd;
	uint8_t *source; /* what the migration source has: all of guest memory */
	volatile bool stop;
	unsigned nfaults, nwakes;
	uint64_t fault_gpa[64];
	char err[128];
};

static void *server_main(void *arg)
{
	return (void *)(intptr_t)vh_server_run(arg);
}

static void resolve(struct pc_loop *l, uint64_t addr)
{
	uint64_t gpa, dst;
	struct uffdio_copy c = { .len = PAGE };
	struct uffdio_range wake = { .len = PAGE };

	if (vh_dev_postcopy_fault_gpa(l->vd, addr & ~(uint64_t)(PAGE - 1), &gpa) < 0 ||
	    vh_dev_postcopy_backend_addr(l->vd, gpa, &dst) < 0) {
		snprintf(l->err, sizeof(l->err), "fault at 0x%llx outside guest memory",
			 (unsigned long long)addr);
		return;
	}
	if (l->nfaults < ARRAY_N(l->fault_gpa))
		l->fault_gpa[l->nfaults] = gpa;
	l->nfaults++;
	c.dst = dst;
	c.src = (uintptr_t)(l->source + gpa);
	if (ioctl(l->uffd, UFFDIO_COPY, &c) == 0)
		return;
	/* Placed meanwhile (another fault on the same page): wake whoever waits on it. */
	wake.start = dst;
	if (errno != EEXIST || ioctl(l->uffd, UFFDIO_WAKE, &wake) < 0)
		snprintf(l->err, sizeof(l->err), "UFFDIO_COPY gpa 0x%llx: %s",
			 (unsigned long long)gpa, strerror(errno));
	l->nwakes++;
}

/* The VMM's fault thread (QEMU's postcopy fault thread does the same with a request to the
 * source in between). */
static void *fault_main(void *arg)
{
	struct pc_loop *l = arg;
	struct pollfd p = { .fd = l->uffd, .events = POLLIN };
	struct uffd_msg msg;

	while (!l->stop) {
		if (poll(&p, 1, 20) != 1)
			continue;
		if (read(l->uffd, &msg, sizeof(msg)) != (ssize_t)sizeof(msg))
			continue;
		if (msg.event == UFFD_EVENT_PAGEFAULT)
			resolve(l, msg.arg.pagefault.address);
	}
	return NULL;
}

static void server_start(struct pc_loop *l)
{
	struct vh_server_config cfg;

	snprintf(l->dir, sizeof(l->dir), "/tmp/vh-pc-XXXXXX");
	assert_non_null(mkdtemp(l->dir));
	snprintf(l->path, sizeof(l->path), "%s/sock", l->dir);
	snprintf(l->url, sizeof(l->url), "unix:%s", l->path);
	vh_server_config_init(&cfg);
	cfg.name = "echo";
	cfg.socket_path = l->path;
	cfg.ops = &echo_ops;
	cfg.opaque = &l->dev;
	cfg.num_queues = 1;
	cfg.log = vh_test_sink(&l->slog);
	assert_int_equal(vh_server_create(&cfg, &l->s), 0);
	assert_int_equal(pthread_create(&l->server, NULL, server_main, l->s), 0);
}

static bool wait_fd(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t v;

	return poll(&p, 1, ms) == 1 && read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v);
}

static void request(struct pc_loop *l, struct fe *f, unsigned i)
{
	struct vh_vq_buf bufs[2] = { { OUT_GPA + i * PAGE, 0 }, { IN_GPA + i * PAGE, IN_BYTES } };
	struct vh_vq_driver_req req = { .bufs = bufs, .out_num = 1, .in_num = 1 };
	char *text = (char *)l->source + OUT_GPA + i * PAGE;
	void *token = NULL;
	uint32_t len = 0;
	uint64_t one = 1;

	/* The guest wrote its request on the source; the destination has not got the page. */
	snprintf(text, 64, "request %u written before the switch", i);
	bufs[0].len = (uint32_t)strlen(text);
	req.token = text;
	assert_int_equal(vh_vq_driver_add(f->drv, &req), 0);
	vh_vq_driver_publish(f->drv);
	assert_int_equal(write(vh_dev_vring_kick_fd(l->vd, 0), &one, 8), 8);
	if (!wait_fd(vh_dev_vring_call_fd(l->vd, 0), 3000))
		fail_msg("request %u: no call (%u faults, %s; backend: %s)", i, l->nfaults, l->err,
			 l->slog.last);
	assert_int_equal(vh_vq_driver_get_used(f->drv, &token, &len), 1);
	assert_ptr_equal(token, text);
	assert_int_equal(len, strlen(text));
	/* The echo of what the source held, over what the source held after it. */
	assert_memory_equal(f->mem + IN_GPA + i * PAGE, text, len);
	assert_int_equal(f->mem[IN_GPA + i * PAGE + len], 0xee);
	assert_memory_equal(f->mem + OUT_GPA + i * PAGE, text, len);
}

static void test_postcopy_loop(void **state)
{
	struct pc_loop l = { .uffd = -1 };
	struct fe f = { 0 };
	struct vh_dev_config dc = {
		.features = 1ull << VIRTIO_F_VERSION_1,
		.protocol_features =
		    (1ull << VH_USER_PROTOCOL_F_REPLY_ACK) | (1ull << VH_USER_PROTOCOL_F_PAGEFAULT),
		.num_queues = 1,
		.timeout_ms = 3000,
		.name = "fe",
	};
	struct vh_dev_mem_region r = { .gpa = 0, .size = FE_MEM_SIZE, .fd_offset = 0 };
	struct vh_dev_vring vr;
	uint64_t features, addr;
	uint32_t base = 0;
	void *ret;

	(void)state;
	if (vh_uffd_probe(&features) < 0) {
		/* CI runs as root, where userfaultfd works: this is for unprivileged runs. */
		print_message("SKIP: userfaultfd on shared memory unavailable\n");
		skip();
	}
	server_start(&l);
	fe_memory(&f);
	fe_driver(&f); /* the rings: on pages the destination already has */
	l.source =
	    mmap(NULL, FE_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(l.source != MAP_FAILED);
	/* Never read f.mem here: a read of a shmem hole allocates the page (it "arrives"). */
	for (unsigned i = 0; i < NREQ; i++)
		memset(l.source + IN_GPA + i * PAGE, 0xee, PAGE);

	dc.path = l.url;
	assert_int_equal(vh_dev_create(&dc, &l.vd), 0);
	assert_true(vh_dev_protocol_features(l.vd) & (1ull << VH_USER_PROTOCOL_F_PAGEFAULT));
	assert_int_equal(vh_dev_ack_features(l.vd, vh_dev_features(l.vd)), 0);
	assert_int_equal(vh_dev_postcopy_advise(l.vd, &l.uffd), 0);
	assert_int_equal(pthread_create(&l.faults, NULL, fault_main, &l), 0);
	assert_int_equal(vh_dev_postcopy_listen(l.vd), 0);

	r.host = f.mem;
	r.fd = f.memfd;
	assert_int_equal(vh_dev_mem_begin(l.vd), 0);
	assert_int_equal(vh_dev_mem_add(l.vd, &r), 0);
	assert_int_equal(vh_dev_mem_commit(l.vd), 0);
	assert_int_equal(vh_dev_postcopy_backend_addr(l.vd, 0, &addr), 0);
	assert_true(addr != (uintptr_t)f.mem);

	vr = (struct vh_dev_vring){ .index = 0,
				    .num = FE_NUM,
				    .desc_gpa = f.ra.desc_gpa,
				    .avail_gpa = f.ra.driver_gpa,
				    .used_gpa = f.ra.device_gpa,
				    .kick_fd = -1,
				    .call_fd = -1 };
	assert_int_equal(vh_dev_vring_setup(l.vd, &vr), 0);
	assert_int_equal(vh_dev_start(l.vd), 0);
	for (unsigned i = 0; i < NREQ; i++)
		request(&l, &f, i);
	assert_string_equal(l.err, "");
	/* Two pages per request arrived on demand, each once; nothing else was missing. */
	assert_int_equal(l.nfaults, 2 * NREQ);
	for (unsigned i = 0; i < NREQ; i++) {
		assert_int_equal(l.fault_gpa[2 * i], OUT_GPA + i * PAGE);
		assert_int_equal(l.fault_gpa[2 * i + 1], IN_GPA + i * PAGE);
	}

	assert_int_equal(vh_dev_postcopy_end(l.vd), 0);
	{
		struct uffdio_copy c = { .dst = addr + 0xf0000,
					 .src = (uintptr_t)l.source,
					 .len = PAGE };

		/* Unregistered: the backend's fd reaches guest memory no more. */
		assert_int_equal(ioctl(l.uffd, UFFDIO_COPY, &c), -1);
		assert_int_equal(errno, ENOENT);
	}
	assert_int_equal(vh_dev_stop(l.vd, &base, 1), 0);
	assert_int_equal(base, NREQ);
	vh_dev_destroy(&l.vd);
	l.stop = true;
	pthread_join(l.faults, NULL);
	close(l.uffd);
	vh_server_stop(l.s);
	assert_int_equal(pthread_join(l.server, &ret), 0);
	assert_int_equal((intptr_t)ret, 0);
	vh_server_destroy(&l.s);
	rmdir(l.dir);
	munmap(l.source, FE_MEM_SIZE);
	f.sock = -1;
	fe_teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_postcopy_loop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
