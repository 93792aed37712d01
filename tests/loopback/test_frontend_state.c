// SPDX-License-Identifier: BSD-3-Clause
/*
 * vh_dev DEVICE_STATE (vhost-user.rst "Migrating back-end state") against a scripted fake
 * backend: the exact SET_DEVICE_STATE_FD / CHECK_DEVICE_STATE bytes for SAVE and LOAD, the
 * state bytes through the pipe, a backend that answers with its own channel fd, and hostile
 * replies: an error together with an fd, an fd the NOFD bit denies, a refused transfer, a
 * failed check, a backend that never closes its end. Nothing the device opened stays open.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/virtio_config.h>

#include <vhost/frontend.h>

#include "frontend_fake.h"
#include "unit_helpers.h"

#include "frontend_env.h"

static const char state_bytes[] = "vh-blk state v1: 0123456789abcdef";
#define STATE_LEN (sizeof(state_bytes) - 1)

/* What the fake backend read from the LOAD channel. */
static char loaded[256];
static ssize_t loaded_len;

/* SAVE: the backend writes its state into the channel and closes it (EOF). */
static void hook_write_state(void *opaque, const struct vh_msg *m)
{
	struct fake *f = opaque;

	(void)m;
	if (write(f->kept[0], state_bytes, STATE_LEN) != (ssize_t)STATE_LEN)
		snprintf(f->fail, sizeof(f->fail), "write state: %s", strerror(errno));
	close(f->kept[0]);
	f->kept[0] = -1;
}

/* LOAD: at CHECK_DEVICE_STATE the front-end has closed its end; read to EOF. */
static void hook_read_state(void *opaque, const struct vh_msg *m)
{
	struct fake *f = opaque;
	ssize_t n;

	(void)m;
	loaded_len = 0;
	while ((n = read(f->kept[0], loaded + loaded_len, sizeof(loaded) - (size_t)loaded_len)) > 0)
		loaded_len += n;
	if (n < 0)
		loaded_len = -1;
}

/* The handshake with DEVICE_STATE offered and acked. */
static void script_state_handshake(struct env *e)
{
	script_handshake_full(e, F_V1 | F_PF, PF(DEVICE_STATE), PF(DEVICE_STATE), 0, 0);
}

static struct fake_step *expect_set_fd(struct env *e, uint32_t direction, uint64_t reply)
{
	struct vh_user_device_state ds = { .direction = direction,
					   .phase = VH_USER_TRANSFER_STATE_PHASE_STOPPED };
	struct fake_step *s;

	/* Always answered: no NEED_REPLY flag (vhost-user.rst: the reply is the u64 result). */
	s = fake_expect(&e->f, VH_USER_SET_DEVICE_STATE_FD, 0, &ds, 8, 1);
	s->keep = 0;
	s->kind = R_MSG;
	vh_msg_init(&s->reply, VH_USER_SET_DEVICE_STATE_FD, VH_USER_FLAG_REPLY, 8);
	s->reply.payload.u64 = reply;
	return s;
}

static struct fake_step *expect_dstate_check(struct env *e, uint64_t result)
{
	return fake_get_u64(&e->f, VH_USER_CHECK_DEVICE_STATE, result);
}

static int state_memfd(const void *bytes, size_t len)
{
	int fd = memfd_create("state", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, len), (ssize_t)len);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static void expect_fd_holds(int fd, const void *bytes, size_t len)
{
	char buf[256];

	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), (ssize_t)len);
	assert_memory_equal(buf, bytes, len);
}

static void test_save(void **state)
{
	struct fake_step *s;
	struct env e;
	int fd;

	(void)state;
	env_init(&e, "save");
	script_state_handshake(&e);
	s = expect_set_fd(&e, VH_USER_TRANSFER_STATE_DIRECTION_SAVE,
			  VH_USER_DEVICE_STATE_REPLY_NOFD_MASK);
	s->hook = hook_write_state;
	s->hook_opaque = &e.f;
	expect_dstate_check(&e, 0);
	assert_int_equal(fake_start(&e.f), 0);

	assert_int_equal(env_create(&e, 0), 0);
	assert_true(vh_dev_protocol_features(e.dev) & PF(DEVICE_STATE));
	fd = memfd_create("saved", MFD_CLOEXEC);
	assert_int_equal(vh_dev_state_save(e.dev, -1), -EINVAL);
	assert_int_equal(vh_dev_state_save(e.dev, fd), 0);
	expect_fd_holds(fd, state_bytes, STATE_LEN);
	close(fd);
	env_finish(&e);
}

static void test_load(void **state)
{
	struct fake_step *s;
	struct env e;
	int fd;

	(void)state;
	env_init(&e, "load");
	script_state_handshake(&e);
	expect_set_fd(&e, VH_USER_TRANSFER_STATE_DIRECTION_LOAD,
		      VH_USER_DEVICE_STATE_REPLY_NOFD_MASK);
	s = expect_dstate_check(&e, 0);
	s->hook = hook_read_state;
	s->hook_opaque = &e.f;
	assert_int_equal(fake_start(&e.f), 0);

	assert_int_equal(env_create(&e, 0), 0);
	fd = state_memfd(state_bytes, STATE_LEN);
	assert_int_equal(vh_dev_state_load(e.dev, fd), 0);
	assert_int_equal(loaded_len, (ssize_t)STATE_LEN);
	assert_memory_equal(loaded, state_bytes, STATE_LEN);
	close(fd);
	env_finish(&e);
}

/* vhost-user.rst: a reply without bit 8 carries the backend's channel; the front-end uses it. */
static void test_save_backend_channel(void **state)
{
	struct fake_step *s;
	struct env e;
	int p[2], fd;

	(void)state;
	env_init(&e, "bechan");
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(write(p[1], state_bytes, STATE_LEN), (ssize_t)STATE_LEN);
	close(p[1]);
	script_state_handshake(&e);
	s = expect_set_fd(&e, VH_USER_TRANSFER_STATE_DIRECTION_SAVE, 0);
	s->reply.fds[0] = p[0];
	s->reply.nfds = 1;
	expect_dstate_check(&e, 0);
	assert_int_equal(fake_start(&e.f), 0);

	assert_int_equal(env_create(&e, 0), 0);
	fd = memfd_create("saved", MFD_CLOEXEC);
	/* Our own pipe's write end went to the fake (kept[0], never written): had we read our
	 * end instead of the backend's, this would time out. */
	assert_int_equal(vh_dev_state_save(e.dev, fd), 0);
	expect_fd_holds(fd, state_bytes, STATE_LEN);
	close(fd);
	close(p[0]);
	env_finish(&e);
}

/* Errors the backend reports: refused transfer, failed check. The link stays usable. */
static void test_backend_errors(void **state)
{
	struct fake_step *s;
	struct env e;
	int fd;

	(void)state;
	env_init(&e, "errors");
	script_state_handshake(&e);
	s = expect_set_fd(&e, VH_USER_TRANSFER_STATE_DIRECTION_LOAD,
			  22 | VH_USER_DEVICE_STATE_REPLY_NOFD_MASK);
	s->keep = -1;
	expect_set_fd(&e, VH_USER_TRANSFER_STATE_DIRECTION_LOAD,
		      VH_USER_DEVICE_STATE_REPLY_NOFD_MASK);
	s = expect_dstate_check(&e, 22); /* the backend refused the bytes */
	s->hook = hook_read_state;
	s->hook_opaque = &e.f;
	assert_int_equal(fake_start(&e.f), 0);

	assert_int_equal(env_create(&e, 0), 0);
	fd = state_memfd("garbage", 7);
	assert_int_equal(vh_dev_state_load(e.dev, fd), -EIO);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(vh_dev_state_load(e.dev, fd), -EIO);
	assert_int_equal(loaded_len, 7);
	assert_non_null(strstr(e.log.last, "CHECK_DEVICE_STATE"));
	close(fd);
	env_finish(&e);
}

/* A reply with an fd that must not come: the device breaks, nothing more is sent. */
static void hostile_fd_reply(const char *tag, uint64_t reply, const char *want_log)
{
	struct fake_step *s;
	struct env e;
	int fd, p[2];

	env_init(&e, tag);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	script_state_handshake(&e);
	s = expect_set_fd(&e, VH_USER_TRANSFER_STATE_DIRECTION_SAVE, reply);
	s->reply.fds[0] = p[0];
	s->reply.nfds = 1;
	assert_int_equal(fake_start(&e.f), 0);

	assert_int_equal(env_create(&e, 0), 0);
	fd = memfd_create("saved", MFD_CLOEXEC);
	assert_int_equal(vh_dev_state_save(e.dev, fd), -EPROTO);
	assert_non_null(strstr(e.log.last, want_log));
	assert_int_equal(vh_dev_state_save(e.dev, fd), -EPROTO);
	close(fd);
	close(p[0]);
	close(p[1]);
	env_finish(&e);
}

/* vhost-user.rst: "The back-end must not both indicate an error and return a file descriptor." */
static void test_error_with_fd(void **state)
{
	(void)state;
	hostile_fd_reply("errfd", 5, "returned an fd with error 5");
}

/* Bit 8 says "no fd" but one came: the reply breaks the protocol. */
static void test_nofd_bit_with_fd(void **state)
{
	(void)state;
	hostile_fd_reply("nofdfd", VH_USER_DEVICE_STATE_REPLY_NOFD_MASK, "invalid reply");
}

/* A backend that keeps its end open: the device timeout ends the wait, the check still runs. */
static void test_backend_stalls(void **state)
{
	struct env e;
	int fd;

	(void)state;
	env_init(&e, "stall");
	e.timeout_ms = 200;
	script_state_handshake(&e);
	expect_set_fd(&e, VH_USER_TRANSFER_STATE_DIRECTION_SAVE,
		      VH_USER_DEVICE_STATE_REPLY_NOFD_MASK);
	expect_dstate_check(&e, 71);
	assert_int_equal(fake_start(&e.f), 0);

	assert_int_equal(env_create(&e, 0), 0);
	fd = memfd_create("saved", MFD_CLOEXEC);
	assert_int_equal(vh_dev_state_save(e.dev, fd), -ETIMEDOUT);
	close(fd);
	env_finish(&e);
}

/* A backend that closes the LOAD channel early: EPIPE, not SIGPIPE. */
static void test_backend_closes_early(void **state)
{
	struct fake_step *s;
	struct env e;
	char *big;
	int fd;

	(void)state;
	signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill the test */
	env_init(&e, "early");
	script_state_handshake(&e);
	s = expect_set_fd(&e, VH_USER_TRANSFER_STATE_DIRECTION_LOAD,
			  VH_USER_DEVICE_STATE_REPLY_NOFD_MASK);
	s->keep = -1; /* the fake closes the read end at once */
	expect_dstate_check(&e, 32);
	assert_int_equal(fake_start(&e.f), 0);

	assert_int_equal(env_create(&e, 0), 0);
	big = calloc(1, 1 << 20);
	fd = state_memfd(big, 1 << 20);
	assert_int_equal(vh_dev_state_load(e.dev, fd), -EPIPE);
	free(big);
	close(fd);
	env_finish(&e);
}

/* Without DEVICE_STATE, or while started: refused before anything is sent. */
static void test_misuse(void **state)
{
	struct env e;
	int fd;

	(void)state;
	env_init(&e, "misuse");
	script_handshake_full(&e, F_V1 | F_PF, PF(DEVICE_STATE), 0, 0, 0);
	assert_int_equal(fake_start(&e.f), 0);

	/* The caller asked for no DEVICE_STATE: none negotiated. */
	assert_int_equal(env_create(&e, PF(REPLY_ACK)), 0);
	fd = memfd_create("saved", MFD_CLOEXEC);
	assert_int_equal(vh_dev_state_save(e.dev, fd), -EOPNOTSUPP);
	assert_int_equal(vh_dev_state_load(e.dev, fd), -EOPNOTSUPP);
	assert_int_equal(vh_dev_state_transfer(e.dev, e.dev), -EINVAL);
	close(fd);
	env_finish(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_save),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_save_backend_channel),
		cmocka_unit_test(test_backend_errors),
		cmocka_unit_test(test_error_with_fd),
		cmocka_unit_test(test_nofd_bit_with_fd),
		cmocka_unit_test(test_backend_stalls),
		cmocka_unit_test(test_backend_closes_early),
		cmocka_unit_test(test_misuse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
