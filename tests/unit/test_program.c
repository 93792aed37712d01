/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * program/: the backend program conventions (include/vhost/program.h). Checked: the device
 * option table reaches parse_option with the right ids and arguments, usage errors and their
 * exit status, --print-capabilities prints the exact JSON, socket activation (LISTEN_FDS /
 * LISTEN_PID) serves on fd 3 and consumes the variables, sd_notify datagrams (path and abstract
 * NOTIFY_SOCKET) carry exactly "READY=1", and SIGTERM makes vh_program_run() return 0 after
 * READY=1 / STOPPING=1.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include <vhost/program.h>
#include <vhost/sock.h>

#include "unit_helpers.h"

enum {
	OPT_SIZE = 7,
	OPT_FLAG = 9,
	OPT_RING = 11,
};

struct dev {
	unsigned size, ring;
	bool flag;
	int calls;
	bool require_flag;
};

static int parse_option(void *opaque, struct vh_program *p, int id, const char *arg)
{
	struct dev *d = opaque;

	d->calls++;
	switch (id) {
	case OPT_SIZE:
		return vh_program_parse_uint(p, arg, 1, 100, &d->size);
	case OPT_RING:
		return vh_program_parse_pow2(p, arg, 2, 1024, &d->ring);
	case OPT_FLAG:
		assert_null(arg);
		d->flag = true;
		return 0;
	default:
		fail_msg("unexpected id %d", id);
		return -EINVAL;
	}
}

static int check_options(void *opaque, struct vh_program *p)
{
	struct dev *d = opaque;

	return d->require_flag && !d->flag ? vh_program_option_error(p, "--flag is required") : 0;
}

static const struct vh_program_option opts[] = {
	{ "size", "N", "a number", OPT_SIZE },
	{ "flag", NULL, "a flag", OPT_FLAG },
	{ "ring", "N", "a power of two", OPT_RING },
	{ NULL, NULL, NULL, 0 },
};

static const char *const features[] = { "read-only", "blk-file", NULL };

static struct vh_program_config make_cfg(struct dev *d)
{
	struct vh_program_config c = {
		.name = "vh-test",
		.synopsis = "[--size N] [--flag]",
		.type = "block",
		.features = features,
		.options = opts,
		.parse_option = parse_option,
		.check_options = check_options,
		.opaque = d,
	};

	memset(d, 0, sizeof(*d));
	return c;
}

/* Runs vh_program_create() on a NULL-terminated argument list. */
static int create(const struct vh_program_config *c, struct vh_program **p, ...)
{
	char *argv[16];
	int argc = 0;
	va_list ap;

	argv[argc++] = (char *)"vh-test";
	va_start(ap, p);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	return vh_program_create(c, argc, argv, p);
}

static void test_options(void **state)
{
	struct dev d;
	struct vh_program_config c = make_cfg(&d);
	struct vh_program *p = NULL;
	struct vh_server_config sc;
	int fds = vh_test_count_fds();

	(void)state;
	assert_int_equal(create(&c, &p, "--socket-path", "/tmp/x.sock", "--size", "0x10", "--flag",
				"--verbose", "--ring", "512", "--inband-notifications", NULL),
			 0);
	assert_non_null(p);
	assert_int_equal(d.size, 16);
	assert_true(d.flag);
	assert_int_equal(d.ring, 512);
	assert_int_equal(d.calls, 3);
	assert_true(vh_program_verbose(p));
	assert_string_equal(vh_program_listen_desc(p), "/tmp/x.sock");
	assert_int_equal(vh_program_log_sink(p).max_level, VH_LOG_DEBUG);
	vh_program_server_config(p, &sc);
	assert_string_equal(sc.name, "vh-test");
	assert_string_equal(sc.socket_path, "/tmp/x.sock");
	assert_int_equal(sc.listen_fd, -1);
	assert_true(sc.inband_notifications);
	assert_false(sc.require_sealed_memory);
	vh_program_destroy(&p);
	assert_null(p);
	assert_int_equal(
	    create(&c, &p, "--socket-path", "/tmp/x.sock", "--require-sealed-memory", NULL), 0);
	vh_program_server_config(p, &sc);
	assert_true(sc.require_sealed_memory);
	vh_program_destroy(&p);
	vh_program_destroy(&p);
	assert_int_equal(vh_test_count_fds(), fds);

	/* --fd N, and "--opt=value" spelling. */
	c = make_cfg(&d);
	assert_int_equal(create(&c, &p, "--fd=0", NULL), 0);
	assert_string_equal(vh_program_listen_desc(p), "fd 0");
	assert_int_equal(vh_program_log_sink(p).max_level, VH_LOG_INFO);
	vh_program_server_config(p, &sc);
	assert_null(sc.socket_path);
	assert_int_equal(sc.listen_fd, 0);
	assert_false(sc.inband_notifications); /* off unless asked for */
	vh_program_destroy(&p);
}

static void test_usage_errors(void **state)
{
	struct dev d;
	struct vh_program_config c = make_cfg(&d);
	struct vh_program *p = (struct vh_program *)&d;

	(void)state;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	assert_int_equal(create(&c, &p, NULL), -EINVAL); /* no listener */
	assert_null(p);
	assert_int_equal(create(&c, &p, "--socket-path", "a", "--fd", "3", NULL), -EINVAL);
	assert_int_equal(create(&c, &p, "--socket-path", "a", "--bogus", NULL), -EINVAL);
	assert_int_equal(create(&c, &p, "--socket-path", "a", "extra", NULL), -EINVAL);
	assert_int_equal(create(&c, &p, "--socket-path", "a", "--size", "101", NULL), -EINVAL);
	assert_int_equal(create(&c, &p, "--socket-path", "a", "--size", "-1", NULL), -EINVAL);
	assert_int_equal(create(&c, &p, "--socket-path", "a", "--size", "", NULL), -EINVAL);
	assert_int_equal(create(&c, &p, "--socket-path", "a", "--size", NULL), -EINVAL);
	assert_int_equal(create(&c, &p, "--fd", "x", NULL), -EINVAL);
	assert_int_equal(create(&c, &p, "--fd", "3", "--ring", "100", NULL), -EINVAL);
	assert_int_equal(create(&c, &p, "--fd", "3", "--ring", "2048", NULL), -EINVAL);
	d.require_flag = true;
	assert_int_equal(create(&c, &p, "--socket-path", "a", NULL), -EINVAL);
	assert_null(p);
	assert_int_equal(vh_program_exit_status(-EINVAL), 2);
	assert_int_equal(vh_program_exit_status(1), 0);
	assert_int_equal(vh_program_exit_status(-ENOMEM), 1);
}

/* Runs create() with stdout redirected into a file; returns what was printed. */
static char *capture_stdout(const struct vh_program_config *c, const char *arg, int *ret)
{
	static char buf[4096];
	struct vh_program *p = NULL;
	int fd = memfd_create("out", 0), saved = dup(1);
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	fflush(stdout);
	assert_int_equal(dup2(fd, 1), 1);
	*ret = create(c, &p, arg, NULL);
	fflush(stdout);
	assert_int_equal(dup2(saved, 1), 1);
	close(saved);
	assert_null(p);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
	return buf;
}

static void test_capabilities_and_help(void **state)
{
	struct dev d;
	struct vh_program_config c = make_cfg(&d);
	const char *out;
	int ret;

	(void)state;
	/* vhost-user.rst "Backend program conventions": the JSON QEMU / libvirt read. */
	out = capture_stdout(&c, "--print-capabilities", &ret);
	assert_int_equal(ret, 1);
	assert_string_equal(out, "{\n  \"type\": \"block\",\n  \"features\": [\n"
				 "    \"read-only\",\n    \"blk-file\"\n  ]\n}\n");
	c.features = NULL;
	c.type = "net";
	out = capture_stdout(&c, "--print-capabilities", &ret);
	assert_string_equal(out, "{\n  \"type\": \"net\",\n  \"features\": [\n  ]\n}\n");

	out = capture_stdout(&c, "--help", &ret);
	assert_int_equal(ret, 1);
	assert_non_null(strstr(out, "Usage: vh-test (--socket-path PATH | --fd FD) [--size N]"));
	assert_non_null(strstr(out, "\n  --size N                  a number\n"));
	assert_non_null(strstr(out, "\n  --flag                    a flag\n"));
	assert_non_null(strstr(out, "--print-capabilities"));
	assert_int_equal(d.calls, 0);
}

/* A datagram socket bound at @path (a file, or "@name" abstract) to receive notifications. */
static int notify_listener(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	assert_int_equal(bind(fd, (struct sockaddr *)&sa,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)),
			 0);
	return fd;
}

static void expect_datagram(int fd, const char *want)
{
	char buf[64];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	assert_int_equal(n, (ssize_t)strlen(want));
	assert_memory_equal(buf, want, strlen(want));
}

static void test_notify(void **state)
{
	char dir[] = "/tmp/vh-notify-XXXXXX", path[64], abstract[64];
	int fd;

	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(vh_program_notify("READY=1"), 0);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/notify", dir);
	fd = notify_listener(path);
	setenv("NOTIFY_SOCKET", path, 1);
	assert_int_equal(vh_program_notify("READY=1"), 1);
	expect_datagram(fd, "READY=1");
	close(fd);
	unlink(path);
	/* The listener is gone: the error is returned, not hidden. */
	assert_int_equal(vh_program_notify("READY=1"), -ENOENT);

	snprintf(abstract, sizeof(abstract), "@vh-test-notify-%d", (int)getpid());
	fd = notify_listener(abstract);
	setenv("NOTIFY_SOCKET", abstract, 1);
	assert_int_equal(vh_program_notify("READY=1"), 1);
	expect_datagram(fd, "READY=1");
	close(fd);

	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_int_equal(vh_program_notify("READY=1"), -EINVAL);
	unsetenv("NOTIFY_SOCKET");
	rmdir(dir);
}

static int kick(void *inst, struct vh_queue *q)
{
	return 0;
}

static const struct vh_device_ops ops = { .queue_kick = kick };

/*
 * systemd socket activation: the listening socket is fd 3, LISTEN_PID is us. The program picks
 * it without --fd, the server accepts on it, SIGTERM ends vh_program_run() with 0.
 */
static void test_socket_activation_and_sigterm(void **state)
{
	char dir[] = "/tmp/vh-activ-XXXXXX", sock[64], notify[64], pid[16];
	struct dev d;
	struct vh_program_config c = make_cfg(&d);
	struct vh_program *p = NULL;
	struct vh_server_config sc;
	struct vh_server *srv = NULL;
	int lfd, saved3, cfd, nfd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/sock", dir);
	snprintf(notify, sizeof(notify), "%s/notify", dir);
	saved3 = fcntl(3, F_DUPFD_CLOEXEC, 10); /* whatever fd 3 is now (may be none) */
	close(3);
	assert_int_equal(vh_sock_listen(sock, &lfd), 0);
	if (lfd != 3) {
		assert_int_equal(dup2(lfd, 3), 3);
		close(lfd);
	}

	/* Another process's variables (inherited by accident) are not ours. */
	setenv("LISTEN_PID", "1", 1);
	setenv("LISTEN_FDS", "1", 1);
	assert_int_equal(create(&c, &p, NULL), -EINVAL);
	assert_null(getenv("LISTEN_FDS"));

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_FDNAMES", "vh-test.socket", 1);
	assert_int_equal(create(&c, &p, NULL), 0);
	assert_null(getenv("LISTEN_PID"));
	assert_null(getenv("LISTEN_FDS"));
	assert_null(getenv("LISTEN_FDNAMES"));
	assert_string_equal(vh_program_listen_desc(p), "fd 3");
	assert_int_equal(fcntl(3, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);

	vh_program_server_config(p, &sc);
	sc.ops = &ops;
	sc.num_queues = 1;
	assert_int_equal(vh_program_server_create(p, &sc, &srv), 0);
	assert_int_equal(vh_sock_connect(sock, &cfd), 0);
	assert_true(vh_server_dispatch(srv) >= 1);
	assert_int_equal(vh_server_num_conns(srv), 1);

	nfd = notify_listener(notify);
	setenv("NOTIFY_SOCKET", notify, 1);
	/* SIGTERM is blocked since vh_program_create(): it waits in the signalfd. */
	assert_int_equal(kill(getpid(), SIGTERM), 0);
	assert_int_equal(vh_program_run(p, srv), 0);
	expect_datagram(nfd, "READY=1");
	expect_datagram(nfd, "STOPPING=1");
	unsetenv("NOTIFY_SOCKET");
	close(nfd);
	close(cfd);
	vh_server_destroy(&srv);
	vh_program_destroy(&p);
	/* The server owned fd 3 and closed it. */
	assert_int_equal(fcntl(3, F_GETFD), -1);
	if (saved3 >= 0) {
		dup2(saved3, 3);
		close(saved3);
	}
	unlink(notify);
	unlink(sock);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_capabilities_and_help),
		cmocka_unit_test(test_notify),
		cmocka_unit_test(test_socket_activation_and_sigterm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
