// SPDX-License-Identifier: BSD-3-Clause
/*
 * Back-end DEVICE_STATE (vhost-user.rst "Migrating back-end state") from a scripted front-end,
 * the server in the same thread: the offer follows the device's hooks; SAVE and LOAD move the
 * device's exact bytes; a state larger than the pipe moves while the dispatch thread keeps
 * answering other requests (were it blocked on the pipe, this single-threaded test would hang);
 * the replies' exact u64 for a bad direction, a bad phase, running rings, a front-end that did
 * not negotiate DEVICE_STATE; a missing fd closes the connection; garbage the device refuses,
 * CHECK before the end of the transfer, a front-end that closes the SAVE pipe early (no
 * SIGPIPE) and an oversized LOAD all fail CHECK_DEVICE_STATE; fds and memory do not leak.
 */
#include <fcntl.h>
#include <signal.h>

#include "backend_fake.h"

#define BIG_STATE (300u * 1024u) /* more than a pipe holds (64 KiB) */

struct state_dev {
	struct echo_dev echo; /* first: the echo callbacks take the same pointer */
	size_t save_len;
	uint8_t *loaded;
	size_t loaded_len;
	int saves, loads;
};

static uint8_t state_byte(size_t i)
{
	return (uint8_t)(i * 13 + (i >> 8) + 1);
}

static int sd_save(void *inst, struct vh_conn *c, void **buf, size_t *len)
{
	struct state_dev *d = inst;
	uint8_t *b = malloc(d->save_len);

	(void)c;
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < d->save_len; i++)
		b[i] = state_byte(i);
	d->saves++;
	*buf = b;
	*len = d->save_len;
	return 0;
}

/* Accepts a state that starts with 'S', refuses anything else. */
static int sd_load(void *inst, struct vh_conn *c, const void *buf, size_t len)
{
	struct state_dev *d = inst;

	(void)c;
	if (!len || ((const uint8_t *)buf)[0] != 'S')
		return -EINVAL;
	free(d->loaded);
	d->loaded = malloc(len);
	assert_non_null(d->loaded);
	memcpy(d->loaded, buf, len);
	d->loaded_len = len;
	d->loads++;
	return 0;
}

static const struct vh_device_ops state_ops = {
	.conn_open = echo_open,
	.conn_close = echo_close,
	.queue_start = echo_start,
	.queue_kick = echo_kick,
	.queue_stop = echo_stop,
	.state_save = sd_save,
	.state_load = sd_load,
};

struct t {
	struct fe f;
	struct state_dev d;
	int fds;
};

static void t_setup(struct t *t, bool negotiate_state)
{
	struct vh_server_config cfg;
	struct vh_msg m, reply;

	memset(t, 0, sizeof(*t));
	t->fds = vh_test_count_fds();
	t->d.save_len = 16;
	vh_server_config_init(&cfg);
	cfg.name = "state";
	cfg.ops = &state_ops;
	cfg.opaque = &t->d;
	cfg.num_queues = FE_NUM_QUEUES;
	cfg.log = vh_test_sink(&t->f.log);
	assert_int_equal(vh_server_create(&cfg, &t->f.s), 0);
	fe_connect(&t->f);
	fe_memory(&t->f);
	fe_negotiate(&t->f, 0);
	assert_true(t->f.proto & (1ull << VH_USER_PROTOCOL_F_DEVICE_STATE));
	if (!negotiate_state) {
		vh_msg_init(&m, VH_USER_SET_PROTOCOL_FEATURES, 0, 8);
		m.payload.u64 = t->f.proto & ~(1ull << VH_USER_PROTOCOL_F_DEVICE_STATE);
		assert_int_equal(fe_xfer(&t->f, &m, &reply), 0);
	}
	assert_int_equal(fe_mem_table(&t->f), 0);
}

static void t_teardown(struct t *t)
{
	fe_teardown(&t->f);
	free(t->d.loaded);
	assert_int_equal(vh_test_count_fds(), t->fds);
}

/* SET_DEVICE_STATE_FD with @fd (-1: none); returns the reply u64, or -errno (closed). */
static int64_t set_state_fd(struct t *t, uint32_t direction, uint32_t phase, int fd)
{
	struct vh_msg m, reply;
	int err;

	vh_msg_init(&m, VH_USER_SET_DEVICE_STATE_FD, 0, sizeof(struct vh_user_device_state));
	m.payload.device_state.direction = direction;
	m.payload.device_state.phase = phase;
	if (fd >= 0) {
		m.fds[0] = fd;
		m.nfds = 1;
	}
	err = fe_xfer(&t->f, &m, &reply);
	if (err < 0)
		return err;
	/* Exact reply: request 42, version 1 + REPLY, 8 bytes, no fd (we keep the caller's). */
	assert_int_equal(reply.hdr.request, VH_USER_SET_DEVICE_STATE_FD);
	assert_int_equal(reply.hdr.flags, 0x5);
	assert_int_equal(reply.hdr.size, 8);
	assert_int_equal(reply.nfds, 0);
	return (int64_t)reply.payload.u64;
}

static uint64_t check_state(struct t *t)
{
	return fe_get_u64(&t->f, VH_USER_CHECK_DEVICE_STATE);
}

static const uint64_t NOFD = VH_USER_DEVICE_STATE_REPLY_NOFD_MASK;

static void test_offer(void **state)
{
	struct fe f;

	(void)state;
	memset(&f, 0, sizeof(f));
	fe_server(&f, VH_SERVER_DATAPATH_EVENT); /* echo_ops: no state hooks */
	fe_connect(&f);
	assert_false(fe_get_u64(&f, VH_USER_GET_PROTOCOL_FEATURES) &
		     (1ull << VH_USER_PROTOCOL_F_DEVICE_STATE));
	fe_teardown(&f);
}

/* Read @fd (non-blocking) to EOF, pumping the server; @probe: ask GET_FEATURES mid-way. */
static size_t drain_pipe(struct t *t, int fd, uint8_t *out, size_t cap, bool probe)
{
	size_t got = 0;
	ssize_t n;

	for (int i = 0; i < 100000; i++) {
		n = read(fd, out + got, cap - got);
		if (n == 0)
			return got;
		if (n > 0) {
			got += (size_t)n;
			if (probe && got >= 65536) {
				/* The transfer is half-way: the dispatch thread still answers. */
				assert_true(fe_get_u64(&t->f, VH_USER_GET_FEATURES) &
					    (1ull << VIRTIO_F_VERSION_1));
				probe = false;
			}
			continue;
		}
		assert_int_equal(errno, EAGAIN);
		vh_server_dispatch(t->f.s);
	}
	fail_msg("no EOF on the state pipe");
	return got;
}

static void save_and_check(struct t *t, size_t len, bool probe)
{
	uint8_t *got = malloc(len + 1);
	int p[2];

	t->d.save_len = len;
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	assert_int_equal(set_state_fd(t, VH_USER_TRANSFER_STATE_DIRECTION_SAVE,
				      VH_USER_TRANSFER_STATE_PHASE_STOPPED, p[1]),
			 NOFD);
	close(p[1]);
	assert_int_equal(drain_pipe(t, p[0], got, len + 1, probe), len);
	for (size_t i = 0; i < len; i++)
		if (got[i] != state_byte(i))
			fail_msg("state byte %zu: %u", i, got[i]);
	close(p[0]);
	assert_int_equal(check_state(t), 0);
	free(got);
}

static void test_save(void **state)
{
	struct t t;

	(void)state;
	t_setup(&t, true);
	save_and_check(&t, 16, false);
	save_and_check(&t, BIG_STATE, true);
	assert_int_equal(t.d.saves, 2);
	t_teardown(&t);
}

/* Write @len bytes of @buf into the non-blocking @fd, pumping the server when it is full. */
static void feed_pipe(struct t *t, int fd, const uint8_t *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;

	for (int i = 0; off < len && i < 1000000; i++) {
		n = write(fd, buf + off, len - off);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		assert_int_equal(errno, EAGAIN);
		vh_server_dispatch(t->f.s);
	}
	assert_int_equal(off, len);
}

/* LOAD @len bytes starting with @first; returns CHECK_DEVICE_STATE's result. */
static uint64_t load(struct t *t, size_t len, uint8_t first)
{
	uint8_t *buf = malloc(len);
	uint64_t r;
	int p[2];

	for (size_t i = 0; i < len; i++)
		buf[i] = state_byte(i);
	if (len)
		buf[0] = first;
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	assert_int_equal(set_state_fd(t, VH_USER_TRANSFER_STATE_DIRECTION_LOAD,
				      VH_USER_TRANSFER_STATE_PHASE_STOPPED, p[0]),
			 NOFD);
	close(p[0]);
	feed_pipe(t, p[1], buf, len);
	close(p[1]);
	r = check_state(t);
	if (r == 0) {
		assert_int_equal(t->d.loaded_len, len);
		assert_memory_equal(t->d.loaded, buf, len);
	}
	free(buf);
	return r;
}

static void test_load(void **state)
{
	struct t t;

	(void)state;
	t_setup(&t, true);
	assert_int_equal(load(&t, 16, 'S'), 0);
	assert_int_equal(load(&t, BIG_STATE, 'S'), 0);
	assert_int_equal(t.d.loads, 2);
	/* Garbage the device refuses: CHECK says EINVAL, the connection carries on. */
	assert_int_equal(load(&t, 100, 'X'), EINVAL);
	assert_non_null(strstr(t.f.log.last, "device refused the state"));
	assert_int_equal(load(&t, 0, 'X'), EINVAL);
	assert_int_equal(t.d.loads, 2);
	assert_int_equal(load(&t, 5, 'S'), 0);
	t_teardown(&t);
}

static void test_bad_requests(void **state)
{
	struct vh_msg m, reply;
	struct t t;
	int p[2];

	(void)state;
	t_setup(&t, true);
	/* CHECK with no transfer: an error, not 0. */
	assert_int_equal(check_state(&t), ENOENT);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(set_state_fd(&t, 2, VH_USER_TRANSFER_STATE_PHASE_STOPPED, p[1]),
			 EINVAL | NOFD);
	assert_non_null(strstr(t.f.log.last, "unknown transfer direction"));
	assert_int_equal(set_state_fd(&t, VH_USER_TRANSFER_STATE_DIRECTION_SAVE, 1, p[1]),
			 EINVAL | NOFD);
	assert_non_null(strstr(t.f.log.last, "unsupported migration phase"));
	assert_int_equal(check_state(&t), EINVAL);
	/* Ring 1 kicked: not stopped. */
	fe_ring_index(&t.f, 1, 0, 0);
	assert_int_equal(set_state_fd(&t, VH_USER_TRANSFER_STATE_DIRECTION_SAVE,
				      VH_USER_TRANSFER_STATE_PHASE_STOPPED, p[1]),
			 EBUSY | NOFD);
	assert_non_null(strstr(t.f.log.last, "rings are not stopped"));
	/* Stopped again (GET_VRING_BASE): allowed. */
	vh_msg_init(&m, VH_USER_GET_VRING_BASE, 0, sizeof(struct vhost_vring_state));
	m.payload.state.index = 1;
	assert_int_equal(fe_xfer(&t.f, &m, &reply), 0);
	assert_int_equal(reply.payload.state.index, 1);
	assert_int_equal(set_state_fd(&t, VH_USER_TRANSFER_STATE_DIRECTION_SAVE,
				      VH_USER_TRANSFER_STATE_PHASE_STOPPED, p[1]),
			 NOFD);
	assert_int_equal(check_state(&t), 0);
	close(p[0]);
	close(p[1]);
	/* No fd: malformed; the connection is closed, nothing leaks. */
	assert_true(set_state_fd(&t, VH_USER_TRANSFER_STATE_DIRECTION_LOAD,
				 VH_USER_TRANSFER_STATE_PHASE_STOPPED, -1) < 0);
	assert_non_null(strstr(t.f.log.last, "malformed message"));
	close(t.f.sock);
	t.f.sock = -1;
	close(t.f.backend);
	t.f.backend = -1;
	t_teardown(&t);
}

static void test_not_negotiated(void **state)
{
	struct t t;
	int p[2];

	(void)state;
	t_setup(&t, false);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(set_state_fd(&t, VH_USER_TRANSFER_STATE_DIRECTION_SAVE,
				      VH_USER_TRANSFER_STATE_PHASE_STOPPED, p[1]),
			 EOPNOTSUPP | NOFD);
	assert_int_equal(t.d.saves, 0);
	close(p[0]);
	close(p[1]);
	t_teardown(&t);
}

/* Front-end misbehaviour in the middle of a transfer. */
static void test_broken_transfers(void **state)
{
	uint8_t chunk[4096];
	struct t t;
	int p[2];

	(void)state;
	signal(SIGPIPE, SIG_DFL); /* the back-end must not be killed by its own write */
	t_setup(&t, true);

	/* SAVE, front-end closes the read end after 4 KiB: EPIPE. */
	t.d.save_len = BIG_STATE;
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	assert_int_equal(set_state_fd(&t, VH_USER_TRANSFER_STATE_DIRECTION_SAVE,
				      VH_USER_TRANSFER_STATE_PHASE_STOPPED, p[1]),
			 NOFD);
	close(p[1]);
	assert_int_equal(read(p[0], chunk, sizeof(chunk)), (ssize_t)sizeof(chunk));
	close(p[0]);
	fe_pump(&t.f);
	assert_int_equal(check_state(&t), EPIPE);

	/* LOAD, CHECK while the front-end still holds its end open: EPROTO. */
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	assert_int_equal(set_state_fd(&t, VH_USER_TRANSFER_STATE_DIRECTION_LOAD,
				      VH_USER_TRANSFER_STATE_PHASE_STOPPED, p[0]),
			 NOFD);
	close(p[0]);
	assert_int_equal(write(p[1], "S12", 3), 3);
	assert_int_equal(check_state(&t), EPROTO);
	assert_non_null(strstr(t.f.log.last, "transfer channel still open"));
	/* The back-end closed its end: our writes fail now. */
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(write(p[1], "x", 1), -1);
	assert_int_equal(errno, EPIPE);
	signal(SIGPIPE, SIG_DFL);
	close(p[1]);
	assert_int_equal(t.d.loads, 0);

	/* LOAD past VH_SERVER_MAX_DEVICE_STATE: refused, the pipe closed. */
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	assert_int_equal(set_state_fd(&t, VH_USER_TRANSFER_STATE_DIRECTION_LOAD,
				      VH_USER_TRANSFER_STATE_PHASE_STOPPED, p[0]),
			 NOFD);
	close(p[0]);
	memset(chunk, 'S', sizeof(chunk));
	signal(SIGPIPE, SIG_IGN);
	for (size_t sent = 0; sent <= VH_SERVER_MAX_DEVICE_STATE;) {
		ssize_t n = write(p[1], chunk, sizeof(chunk));

		if (n < 0 && errno == EPIPE)
			break;
		if (n < 0) {
			assert_int_equal(errno, EAGAIN);
			vh_server_dispatch(t.f.s);
			continue;
		}
		sent += (size_t)n;
	}
	signal(SIGPIPE, SIG_DFL);
	close(p[1]);
	assert_int_equal(check_state(&t), EFBIG);
	assert_int_equal(t.d.loads, 0);

	/* A new transfer replaces an unfinished one; a hang-up mid-transfer drops it. */
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	assert_int_equal(set_state_fd(&t, VH_USER_TRANSFER_STATE_DIRECTION_LOAD,
				      VH_USER_TRANSFER_STATE_PHASE_STOPPED, p[0]),
			 NOFD);
	assert_int_equal(set_state_fd(&t, VH_USER_TRANSFER_STATE_DIRECTION_LOAD,
				      VH_USER_TRANSFER_STATE_PHASE_STOPPED, p[0]),
			 NOFD);
	assert_non_null(strstr(t.f.log.last, "replaces the unfinished one"));
	close(p[0]);
	close(p[1]);
	t_teardown(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offer),	       cmocka_unit_test(test_save),
		cmocka_unit_test(test_load),	       cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_not_negotiated), cmocka_unit_test(test_broken_transfers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
