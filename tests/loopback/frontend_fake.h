/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A scripted fake vhost-user backend for the vh_dev tests: a thread on the other end of a unix
 * socket that expects an EXACT sequence of messages (header, payload bytes, fd count) and
 * answers each one as the script says, including with broken replies. Included by the
 * tests/loopback/test_frontend_*.c programs (each is its own executable).
 */
#ifndef VH_TEST_FRONTEND_FAKE_H
#define VH_TEST_FRONTEND_FAKE_H

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vhost/proto.h>
#include <vhost/sock.h>

#include "../common/vh_sendmsg.h"

#define FAKE_UNUSED    __attribute__((unused))
#define FAKE_MAX_STEPS 96
#define FAKE_KEEP      16
#define FAKE_WAIT_MS   3000

enum fake_reply {
	R_AUTO = 0,	/* REPLY_ACK u64 0 if NEED_REPLY was set, else nothing */
	R_MSG,		/* send step->reply as it is (REPLY flag added by the script) */
	R_RAW,		/* write step->raw bytes as they are (broken replies) */
	R_CLOSE,	/* hang up */
	R_REACCEPT,	/* hang up and accept the next connection (reconnect) */
	R_TOO_MANY_FDS, /* a u64 reply with 9 fds */
};

struct fake_step {
	struct vh_msg expect; /* header, payload (hdr.size bytes) and nfds expected */
	bool any_payload;     /* only the size is checked */
	enum fake_reply kind;
	struct vh_msg reply;
	uint8_t raw[64];
	size_t raw_len;
	int keep; /* >= 0: keep the received fds[0] in fake->kept[keep] */
	void (*hook)(void *opaque, const struct vh_msg *m);
	void *hook_opaque;
};

struct fake {
	char path[108];
	int listen_fd;
	int conn;
	struct fake_step steps[FAKE_MAX_STEPS];
	unsigned n, pos;
	char fail[512];
	int kept[FAKE_KEEP];
	pthread_t th;
	bool running;
	bool client; /* connect to the frontend (its server mode) instead of listening */
};

static FAKE_UNUSED void fake_init(struct fake *f, const char *tag)
{
	static unsigned seq;

	memset(f, 0, sizeof(*f));
	snprintf(f->path, sizeof(f->path), "/tmp/vhfe-%d-%s-%u.sock", (int)getpid(), tag, seq++);
	f->listen_fd = f->conn = -1;
	for (unsigned i = 0; i < FAKE_KEEP; i++)
		f->kept[i] = -1;
}

static FAKE_UNUSED struct fake_step *fake_expect(struct fake *f, uint32_t req, uint32_t flags,
						 const void *payload, uint32_t size, unsigned nfds)
{
	struct fake_step *s = &f->steps[f->n++];

	vh_msg_init(&s->expect, req, flags, size);
	if (payload)
		memcpy(&s->expect.payload, payload, size);
	else
		s->any_payload = size != 0;
	s->expect.nfds = nfds;
	s->keep = -1;
	return s;
}

static FAKE_UNUSED struct fake_step *fake_expect_u64(struct fake *f, uint32_t req, uint32_t flags,
						     uint64_t v)
{
	return fake_expect(f, req, flags, &v, sizeof(v), 0);
}

static FAKE_UNUSED struct fake_step *fake_expect_state(struct fake *f, uint32_t req, uint32_t flags,
						       unsigned idx, unsigned num)
{
	struct vhost_vring_state st = { .index = idx, .num = num };

	return fake_expect(f, req, flags, &st, sizeof(st), 0);
}

/* A GET_* request answered with a u64. */
static FAKE_UNUSED struct fake_step *fake_get_u64(struct fake *f, uint32_t req, uint64_t v)
{
	struct fake_step *s = fake_expect(f, req, 0, NULL, 0, 0);

	s->kind = R_MSG;
	vh_msg_init(&s->reply, req, VH_USER_FLAG_REPLY, sizeof(v));
	s->reply.payload.u64 = v;
	return s;
}

static FAKE_UNUSED void fake_reply_raw(struct fake_step *s, const void *bytes, size_t len)
{
	s->kind = R_RAW;
	memcpy(s->raw, bytes, len);
	s->raw_len = len;
}

static int fake_check(struct fake *f, const struct fake_step *s, const struct vh_msg *m)
{
	const struct vh_msg *e = &s->expect;

	if (m->hdr.request != e->hdr.request || m->hdr.flags != e->hdr.flags ||
	    m->hdr.size != e->hdr.size || m->nfds != e->nfds) {
		snprintf(f->fail, sizeof(f->fail),
			 "step %u: got %s flags 0x%x size %u nfds %u, want %s flags 0x%x size %u "
			 "nfds %u",
			 f->pos, vh_proto_request_name(m->hdr.request), m->hdr.flags, m->hdr.size,
			 m->nfds, vh_proto_request_name(e->hdr.request), e->hdr.flags, e->hdr.size,
			 e->nfds);
		return -1;
	}
	if (!s->any_payload && memcmp(&m->payload, &e->payload, e->hdr.size)) {
		snprintf(f->fail, sizeof(f->fail), "step %u: %s payload bytes differ", f->pos,
			 vh_proto_request_name(e->hdr.request));
		return -1;
	}
	return 0;
}

static void fake_send_many_fds(struct fake *f, const struct vh_msg *m)
{
	struct vh_user_hdr h;
	uint64_t v = 0;
	struct iovec iov[2] = { { &h, sizeof(h) }, { &v, sizeof(v) } };
	int fds[9];

	vh_proto_hdr_init(&h, m->hdr.request, VH_USER_FLAG_REPLY, sizeof(v));
	for (int i = 0; i < 9; i++)
		fds[i] = dup(f->conn);
	if (vh_test_sendmsg(f->conn, iov, 2, fds, 9) < 0)
		snprintf(f->fail, sizeof(f->fail), "sendmsg 9 fds: %s", strerror(errno));
	for (int i = 0; i < 9; i++)
		close(fds[i]);
}

/* Server-mode frontend: it listens inside vh_dev_create(); retry until it does. */
static int fake_connect(struct fake *f)
{
	for (int i = 0; i < FAKE_WAIT_MS / 10; i++) {
		if (vh_sock_connect(f->path, &f->conn) == 0)
			return 0;
		usleep(10 * 1000);
	}
	snprintf(f->fail, sizeof(f->fail), "could not connect to the frontend");
	return -1;
}

static int fake_accept(struct fake *f)
{
	struct pollfd p = { .fd = f->listen_fd, .events = POLLIN };

	if (f->client)
		return fake_connect(f);

	if (poll(&p, 1, FAKE_WAIT_MS) != 1 || vh_sock_accept(f->listen_fd, &f->conn) < 0) {
		snprintf(f->fail, sizeof(f->fail), "step %u: no frontend connected", f->pos);
		return -1;
	}
	return 0;
}

static void fake_hangup(struct fake *f)
{
	if (f->conn >= 0)
		close(f->conn);
	f->conn = -1;
}

/* Answer one step; -1 ends the script. */
static int fake_answer(struct fake *f, struct fake_step *s, const struct vh_msg *m)
{
	struct vh_msg ack;

	switch (s->kind) {
	case R_AUTO:
		if (!(m->hdr.flags & VH_USER_FLAG_NEED_REPLY))
			return 0;
		vh_msg_init(&ack, m->hdr.request, VH_USER_FLAG_REPLY, sizeof(uint64_t));
		return vh_sock_send(f->conn, &ack) < 0 ? -1 : 0;
	case R_MSG:
		return vh_sock_send(f->conn, &s->reply) < 0 ? -1 : 0;
	case R_RAW:
		return write(f->conn, s->raw, s->raw_len) == (ssize_t)s->raw_len ? 0 : -1;
	case R_TOO_MANY_FDS:
		fake_send_many_fds(f, m);
		return 0;
	case R_CLOSE:
		fake_hangup(f);
		return -1;
	case R_REACCEPT:
		fake_hangup(f);
		return fake_accept(f);
	}
	return -1;
}

static void *fake_thread(void *arg)
{
	struct fake *f = arg;
	struct vh_msg m;
	int err;

	if (fake_accept(f) < 0)
		return NULL;
	for (; f->pos < f->n; f->pos++) {
		struct fake_step *s = &f->steps[f->pos];

		err = vh_sock_recv(f->conn, &m, FAKE_WAIT_MS);
		if (err < 0) {
			snprintf(f->fail, sizeof(f->fail), "step %u (%s): recv: %s", f->pos,
				 vh_proto_request_name(s->expect.hdr.request), strerror(-err));
			break;
		}
		if (fake_check(f, s, &m) < 0) {
			vh_msg_close_fds(&m);
			break;
		}
		if (s->keep >= 0 && m.nfds) {
			f->kept[s->keep] = m.fds[0];
			m.fds[0] = -1;
		}
		vh_msg_close_fds(&m);
		if (s->hook)
			s->hook(s->hook_opaque, &m);
		if (fake_answer(f, s, &m) < 0) {
			f->pos++;
			break;
		}
	}
	/* After the script the frontend may only hang up. */
	if (f->conn >= 0 && !f->fail[0]) {
		err = vh_sock_recv(f->conn, &m, FAKE_WAIT_MS);
		if (err == 0) {
			snprintf(f->fail, sizeof(f->fail), "unexpected %s after the script",
				 vh_proto_request_name(m.hdr.request));
			vh_msg_close_fds(&m);
		} else if (err != -ECONNRESET) {
			snprintf(f->fail, sizeof(f->fail), "no hang-up after the script: %s",
				 strerror(-err));
		}
	}
	fake_hangup(f);
	return NULL;
}

static FAKE_UNUSED int fake_start(struct fake *f)
{
	if (!f->client && vh_sock_listen(f->path, &f->listen_fd) < 0)
		return -1;
	if (pthread_create(&f->th, NULL, fake_thread, f) != 0)
		return -1;
	f->running = true;
	return 0;
}

/* Join the thread, close everything; returns the failure text ("" when the script ran fully). */
static FAKE_UNUSED const char *fake_finish(struct fake *f)
{
	if (f->running)
		pthread_join(f->th, NULL);
	f->running = false;
	if (f->listen_fd >= 0)
		close(f->listen_fd);
	f->listen_fd = -1;
	if (!f->client)
		unlink(f->path);
	for (unsigned i = 0; i < FAKE_KEEP; i++) {
		if (f->kept[i] >= 0)
			close(f->kept[i]);
		f->kept[i] = -1;
	}
	if (!f->fail[0] && f->pos != f->n)
		snprintf(f->fail, sizeof(f->fail), "script stopped at step %u of %u", f->pos, f->n);
	return f->fail;
}

#endif
