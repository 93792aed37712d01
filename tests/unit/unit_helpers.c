/* SPDX-License-Identifier: BSD-3-Clause */
#include <dirent.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <vhost/frontend.h>
#include <vhost/vq.h>

#include "unit_helpers.h"

void vh_test_log_fn(void *opaque, enum vh_log_level level, const char *msg)
{
	struct vh_test_log *log = opaque;

	(void)level;
	snprintf(log->last, sizeof(log->last), "%s", msg);
	log->count++;
}

struct vh_log_sink vh_test_sink(struct vh_test_log *log)
{
	struct vh_log_sink s = { .fn = vh_test_log_fn, .opaque = log, .max_level = VH_LOG_DEBUG };

	return s;
}

int vh_test_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

void vh_test_build_path(char *buf, size_t size, const char *rel)
{
	const char *build = getenv("LIBVHOST_BUILD");

	if (!build)
		fail_msg("LIBVHOST_BUILD is not set (run through meson test)");
	snprintf(buf, size, "%s/%s", build, rel);
}

pid_t vh_test_spawn_daemon(const char *const *argv, const char *sock)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		/* A failed assertion skips teardown(): the daemon must not outlive the test. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		struct stat st;
		int status;

		if (stat(sock, &st) == 0 && S_ISSOCK(st.st_mode))
			return pid;
		if (waitpid(pid, &status, WNOHANG) == pid)
			fail_msg("%s exited before listening (status %d)", argv[0], status);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fail_msg("%s did not create %s", argv[0], sock);
	return -1;
}

void vh_test_stop_daemon(pid_t pid, const char *sock)
{
	int status = -1;
	struct stat st;

	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_not_equal(stat(sock, &st), 0);
}

long long vh_test_vq_xfer(struct vh_dev *dev, unsigned index, struct vh_vq_driver *drv,
			  const struct vh_vq_driver_req *req, int ms)
{
	struct pollfd p = { .fd = vh_dev_vring_call_fd(dev, index), .events = POLLIN };
	uint64_t one = 1, v;
	void *token;
	uint32_t len;

	assert_int_equal(vh_vq_driver_add(drv, req), 0);
	vh_vq_driver_publish(drv);
	assert_int_equal(write(vh_dev_vring_kick_fd(dev, index), &one, 8), 8);
	for (int waited = 0; waited <= ms; waited += 10) {
		if (vh_vq_driver_get_used(drv, &token, &len) == 1) {
			assert_ptr_equal(token, req->token);
			return len;
		}
		if (poll(&p, 1, 10) == 1)
			assert_int_equal(read(p.fd, &v, 8), 8);
	}
	return VH_TEST_NO_REPLY;
}

void *vh_test_guest_ram(size_t size, int *fd)
{
	void *m;

	*fd = memfd_create("guest", MFD_CLOEXEC);
	assert_true(*fd >= 0);
	assert_int_equal(ftruncate(*fd, (off_t)size), 0);
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	assert_true(m != MAP_FAILED);
	return m;
}

void vh_test_dev_mem(struct vh_dev *dev, void *host, int fd, uint64_t size)
{
	struct vh_dev_mem_region r = { .size = size, .host = host, .fd = fd, .page_size = 4096 };

	assert_int_equal(vh_dev_mem_begin(dev), 0);
	assert_int_equal(vh_dev_mem_add(dev, &r), 0);
	assert_int_equal(vh_dev_mem_commit(dev), 0);
}

void vh_test_dev_ring(struct vh_dev *dev, const struct vh_vq_driver_config *qc,
		      const struct vh_dev_vring *ring, struct vh_vq_driver **drv)
{
	struct vh_dev_vring vr = *ring;
	struct vh_vq_ring_addrs a;

	assert_int_equal(vh_vq_driver_create(qc, drv), 0);
	vh_vq_driver_ring_addrs(*drv, &a);
	vr.desc_gpa = a.desc_gpa;
	vr.avail_gpa = a.driver_gpa;
	vr.used_gpa = a.device_gpa;
	assert_int_equal(vh_dev_vring_setup(dev, &vr), 0);
}
