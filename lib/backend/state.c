// SPDX-License-Identifier: BSD-3-Clause
/*
 * backend/state.c: DEVICE_STATE (vhost-user.rst "Migrating back-end state",
 * SET_DEVICE_STATE_FD and CHECK_DEVICE_STATE).
 *
 * The device turns its state into bytes and back (vh_device_ops.state_save / state_load, on the
 * dispatch thread, rings stopped); the library moves the bytes over the front-end's pipe. The
 * pipe end is made non-blocking and watched in the server's epoll set, so a front-end that
 * reads or writes slowly (or never) holds nothing but its own connection. We always use the
 * front-end's channel (reply bit 8, "no fd"): a pipe of our own would be no more efficient.
 *
 * Runs on the dispatch thread only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "backend/backend_internal.h"

#define VH_STATE_LOAD_CHUNK 4096u

static bool rings_stopped(const struct vh_conn *c)
{
	for (unsigned i = 0; i < c->num_queues; i++)
		if (c->q[i].live || c->q[i].kick_set)
			return false;
	return true;
}

/* End the running transfer (if any) with @result; the channel is closed (EOF for a reader). */
static void state_end(struct vh_conn *c, int result)
{
	struct vh_state_xfer *x = &c->dstate;

	if (!x->active)
		return;
	vh_server_unwatch(c->s, x->fd);
	close(x->fd);
	free(x->buf);
	x->buf = NULL;
	x->fd = -1;
	x->active = false;
	x->result = result;
}

/* LOAD reached EOF: hand the bytes to the device, if it may still take them. */
static int state_apply(struct vh_conn *c)
{
	struct vh_state_xfer *x = &c->dstate;
	int err;

	if (!rings_stopped(c))
		return vh_conn_fail(c, VH_USER_SET_DEVICE_STATE_FD,
				    "rings started before the state was loaded", -EBUSY);
	err = c->s->cfg.ops->state_load(c->inst, c, x->buf, x->len);
	if (err < 0)
		return vh_conn_fail(c, VH_USER_SET_DEVICE_STATE_FD, "device refused the state",
				    err);
	vh_logf(&c->s->cfg.log, VH_LOG_INFO, c->name, "device state loaded (%zu bytes)", x->len);
	return 0;
}

/* Read what the pipe has. 1: EOF seen, 0: more to come, < 0: failed. */
static int state_pump_load(struct vh_conn *c)
{
	struct vh_state_xfer *x = &c->dstate;
	ssize_t n;

	for (;;) {
		if (x->len == x->cap) {
			size_t cap = x->cap ? x->cap * 2 : VH_STATE_LOAD_CHUNK;
			uint8_t *b;

			/* One byte past the limit tells "too big" from "exactly the limit". */
			cap = VH_MIN(cap, (size_t)VH_SERVER_MAX_DEVICE_STATE + 1);
			if (x->len == cap)
				return vh_conn_fail(c, VH_USER_SET_DEVICE_STATE_FD,
						    "state larger than VH_SERVER_MAX_DEVICE_STATE",
						    -EFBIG);
			b = realloc(x->buf, cap);
			if (!b)
				return vh_conn_fail(c, VH_USER_SET_DEVICE_STATE_FD, "state buffer",
						    -ENOMEM);
			x->buf = b;
			x->cap = cap;
		}
		n = read(x->fd, x->buf + x->len, x->cap - x->len);
		if (n == 0)
			return 1;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return vh_conn_fail(c, VH_USER_SET_DEVICE_STATE_FD, "read the state",
					    -errno);
		}
		x->len += (size_t)n;
	}
}

/* Write what the pipe takes. 1: all sent, 0: more to send, < 0: failed. */
static int state_pump_save(struct vh_conn *c)
{
	struct vh_state_xfer *x = &c->dstate;
	ssize_t n;

	while (x->off < x->len) {
		n = vh_write_nosigpipe(x->fd, x->buf + x->off, x->len - x->off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return vh_conn_fail(c, VH_USER_SET_DEVICE_STATE_FD, "write the state",
					    -errno);
		}
		x->off += (size_t)n;
	}
	return 1;
}

/* Move bytes; ends the transfer when it finished or failed. True while it still runs. */
static bool state_pump(struct vh_conn *c)
{
	struct vh_state_xfer *x = &c->dstate;
	int err = x->load ? state_pump_load(c) : state_pump_save(c);

	if (err == 0)
		return true;
	if (err > 0)
		err = x->load ? state_apply(c) : 0;
	if (err == 0 && !x->load)
		vh_logf(&c->s->cfg.log, VH_LOG_INFO, c->name, "device state saved (%zu bytes)",
			x->len);
	state_end(c, err);
	return false;
}

static void state_event(void *opaque, int fd, uint32_t events)
{
	struct vh_conn *c = opaque;

	(void)fd;
	(void)events;
	if (!c->dead && c->dstate.active)
		state_pump(c);
}

/* SAVE: the device's bytes, ready to send. */
static int state_take_save(struct vh_conn *c)
{
	struct vh_state_xfer *x = &c->dstate;
	void *buf = NULL;
	size_t len = 0;
	int err;

	err = c->s->cfg.ops->state_save(c->inst, c, &buf, &len);
	if (err < 0) {
		free(buf);
		return vh_conn_fail(c, VH_USER_SET_DEVICE_STATE_FD, "device state_save", err);
	}
	if (len > VH_SERVER_MAX_DEVICE_STATE || (len && !buf)) {
		free(buf);
		return vh_conn_fail(c, VH_USER_SET_DEVICE_STATE_FD,
				    "device state_save returned a bad buffer", -EINVAL);
	}
	x->buf = buf;
	x->len = len;
	return 0;
}

static int state_check_request(struct vh_conn *c, const struct vh_user_device_state *p)
{
	const struct vh_device_ops *ops = c->s->cfg.ops;

	if (!(c->proto_features & (1ull << VH_USER_PROTOCOL_F_DEVICE_STATE)) || !ops->state_save ||
	    !ops->state_load)
		return vh_conn_fail(c, VH_USER_SET_DEVICE_STATE_FD, "DEVICE_STATE not negotiated",
				    -EOPNOTSUPP);
	if (p->direction != VH_USER_TRANSFER_STATE_DIRECTION_SAVE &&
	    p->direction != VH_USER_TRANSFER_STATE_DIRECTION_LOAD)
		return vh_conn_fail(c, VH_USER_SET_DEVICE_STATE_FD, "unknown transfer direction",
				    -EINVAL);
	if (p->phase != VH_USER_TRANSFER_STATE_PHASE_STOPPED)
		return vh_conn_fail(c, VH_USER_SET_DEVICE_STATE_FD, "unsupported migration phase",
				    -EINVAL);
	if (!rings_stopped(c))
		return vh_conn_fail(c, VH_USER_SET_DEVICE_STATE_FD, "rings are not stopped",
				    -EBUSY);
	return 0;
}

static int state_start(struct vh_conn *c, struct vh_msg *m)
{
	struct vh_state_xfer *x = &c->dstate;
	int fl, err;

	x->fd = m->fds[0];
	m->fds[0] = -1;
	x->active = true;
	x->begun = true;
	x->result = -EINPROGRESS;
	fl = fcntl(x->fd, F_GETFL);
	if (fl < 0 || fcntl(x->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		err = -errno;
		goto fail;
	}
	err = vh_server_watch(c->s, x->fd, x->load ? EPOLLIN : EPOLLOUT, state_event, c);
	if (err < 0)
		goto fail;
	/* A small SAVE state fits the pipe: done (and the channel closed) before the reply. */
	if (!x->load)
		state_pump(c);
	return 0;
fail:
	/* Not watched yet: unwatching an fd we never added is a harmless -ENOENT. */
	state_end(c, err);
	return vh_conn_fail(c, VH_USER_SET_DEVICE_STATE_FD, "transfer channel", err);
}

/* The reply's low byte carries the error (non-zero), bit 8 says no fd comes back. */
static uint64_t state_reply_code(int err)
{
	uint64_t code = err < 0 ? (uint64_t)-err & VH_USER_DEVICE_STATE_REPLY_ERR_MASK : 0;

	if (err < 0 && !code)
		code = 1;
	return code | VH_USER_DEVICE_STATE_REPLY_NOFD_MASK;
}

int vh_state_set_fd(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply)
{
	const struct vh_user_device_state *p = &m->payload.device_state;
	struct vh_state_xfer *x = &c->dstate;
	int err;

	vh_msg_init(reply, m->hdr.request, VH_USER_FLAG_REPLY, sizeof(uint64_t));
	if (x->active) {
		vh_logf(&c->s->cfg.log, VH_LOG_WARN, c->name,
			"%s: a new transfer replaces the unfinished one",
			vh_proto_request_name(m->hdr.request));
		state_end(c, -ECANCELED);
	}
	err = state_check_request(c, p);
	if (err == 0) {
		free(x->buf);
		*x = (struct vh_state_xfer){
			.fd = -1, .load = p->direction == VH_USER_TRANSFER_STATE_DIRECTION_LOAD
		};
		if (!x->load)
			err = state_take_save(c);
	}
	if (err == 0)
		err = state_start(c, m);
	if (err < 0) {
		/* A refused transfer is a failed one: CHECK_DEVICE_STATE must not say 0. */
		x->begun = true;
		x->result = err;
	}
	reply->payload.u64 = state_reply_code(err);
	return err;
}

int vh_state_check(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply)
{
	struct vh_state_xfer *x = &c->dstate;

	/*
	 * vhost-user.rst: the front-end asks after it saw the channel closed (SAVE: EOF) or
	 * closed its own end (LOAD). What is still in the pipe is read now; a channel still open
	 * after that is a front-end that asked too early.
	 */
	if (x->active && state_pump(c)) {
		vh_conn_fail(c, m->hdr.request, "transfer channel still open", -EPROTO);
		state_end(c, -EPROTO);
	}
	if (!x->begun) {
		vh_conn_fail(c, m->hdr.request, "no state transfer to check", -ENOENT);
		x->result = -ENOENT;
	}
	vh_msg_init(reply, m->hdr.request, VH_USER_FLAG_REPLY, sizeof(uint64_t));
	reply->payload.u64 = x->result < 0 ? (uint64_t)-x->result : 0;
	return 0;
}

void vh_state_drop(struct vh_conn *c)
{
	state_end(c, -ECANCELED);
	free(c->dstate.buf);
	c->dstate.buf = NULL;
}
