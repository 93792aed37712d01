/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Whole vhost-user messages over a unix stream socket with SCM_RIGHTS fds.
 *
 * Every recvmsg/sendmsg runs with MSG_DONTWAIT and waits in poll() instead, so a
 * stalled peer can never block us past a deadline, whatever O_NONBLOCK says.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <vhost/sock.h>

#include "util/util.h"

/*
 * Room for twice the allowed fds: a peer that sends 9..16 gets its extras closed and
 * -EPROTO; beyond that the kernel truncates (MSG_CTRUNC) and we close what arrived.
 */
#define VH_SOCK_FD_ROOM (2 * VH_USER_MAX_FDS)

union vh_cmsg_buf {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(int) * VH_SOCK_FD_ROOM)];
};

struct vh_recv_state {
	int sock;
	int timeout_ms;
	bool started;	  /* at least one byte of this message has arrived */
	bool fd_error;	  /* too many fds or truncated control data: -EPROTO at the end */
	int64_t deadline; /* CLOCK_MONOTONIC ms; -1 = none */
	struct vh_msg *m;
};

static int64_t vh_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until @sock has @events or @deadline (ms, -1 = never) passes. */
static int vh_sock_wait(int sock, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = sock, .events = events };
	int64_t left;
	int ret;

	for (;;) {
		left = -1;
		if (deadline >= 0) {
			left = deadline - vh_now_ms();
			if (left <= 0)
				return -ETIMEDOUT;
		}
		ret = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (ret > 0)
			return 0;
		if (ret == 0)
			continue; /* the deadline check above decides */
		if (errno != EINTR)
			return -errno;
	}
}

void vh_msg_close_fds(struct vh_msg *m)
{
	unsigned i;

	if (!m)
		return;
	for (i = 0; i < VH_USER_MAX_FDS; i++) {
		if (i < m->nfds && m->fds[i] >= 0)
			close(m->fds[i]);
		m->fds[i] = -1;
	}
	m->nfds = 0;
}

void vh_msg_init(struct vh_msg *m, uint32_t request, uint32_t flags, uint32_t size)
{
	memset(m, 0, sizeof(*m));
	vh_proto_hdr_init(&m->hdr, request, flags, size);
	for (unsigned i = 0; i < VH_USER_MAX_FDS; i++)
		m->fds[i] = -1;
}

/* Keep up to VH_USER_MAX_FDS received fds in the message; close the rest. */
static void vh_recv_take_fds(struct vh_recv_state *st, struct msghdr *mh)
{
	struct vh_msg *m = st->m;
	struct cmsghdr *c;
	size_t i, n;
	int fd;

	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (m->nfds < VH_USER_MAX_FDS) {
				m->fds[m->nfds++] = fd;
			} else {
				close(fd);
				st->fd_error = true;
			}
		}
	}
	if (mh->msg_flags & MSG_CTRUNC)
		st->fd_error = true;
}

/* Deadline for the next wait; -EAGAIN when a non-blocking caller has nothing pending. */
static int vh_recv_deadline(struct vh_recv_state *st, int64_t *deadline)
{
	if (st->timeout_ms > 0 || st->started) {
		*deadline = st->deadline;
		return 0;
	}
	if (st->timeout_ms == 0)
		return -EAGAIN;
	*deadline = -1;
	return 0;
}

static int vh_recv_once(struct vh_recv_state *st, void *buf, size_t len, size_t *got)
{
	union vh_cmsg_buf cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	mh.msg_control = cbuf.buf;
	mh.msg_controllen = sizeof(cbuf.buf);
	n = recvmsg(st->sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	/* Take fds before looking at the length: a 0-byte read never carries any, but be safe. */
	vh_recv_take_fds(st, &mh);
	if (n == 0)
		return -ECONNRESET;
	*got = (size_t)n;
	return 0;
}

/* Read exactly @len bytes (collecting fds) within the state's deadline rules. */
static int vh_recv_full(struct vh_recv_state *st, void *buf, size_t len)
{
	size_t done = 0, got = 0;
	int64_t deadline;
	int ret;

	while (done < len) {
		ret = vh_recv_once(st, (char *)buf + done, len - done, &got);
		if (ret == 0) {
			if (!st->started && st->timeout_ms <= 0)
				st->deadline = vh_now_ms() + VH_SOCK_MSG_TIMEOUT_MS;
			st->started = true;
			done += got;
			continue;
		}
		if (ret == -EINTR)
			continue;
		if (ret != -EAGAIN)
			return ret == -EPIPE ? -ECONNRESET : ret;
		ret = vh_recv_deadline(st, &deadline);
		if (ret < 0)
			return ret;
		ret = vh_sock_wait(st->sock, POLLIN, deadline);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int vh_sock_recv(int sock, struct vh_msg *m, int timeout_ms)
{
	struct vh_recv_state st = {
		.sock = sock,
		.timeout_ms = timeout_ms,
		.deadline = timeout_ms > 0 ? vh_now_ms() + timeout_ms : -1,
		.m = m,
	};
	int ret;

	m->nfds = 0;
	for (unsigned i = 0; i < VH_USER_MAX_FDS; i++)
		m->fds[i] = -1;
	memset(&m->hdr, 0, sizeof(m->hdr));

	ret = vh_recv_full(&st, &m->hdr, sizeof(m->hdr));
	if (ret < 0)
		goto fail;
	if (m->hdr.size > VH_USER_MAX_PAYLOAD) {
		/* Not drained: a peer that sends this much is not speaking vhost-user. */
		ret = -EMSGSIZE;
		goto fail;
	}
	ret = vh_recv_full(&st, m->payload.raw, m->hdr.size);
	if (ret < 0)
		goto fail;
	if (st.fd_error) {
		/* The whole message was consumed, so the stream is still aligned. */
		ret = -EPROTO;
		goto fail;
	}
	return 0;
fail:
	vh_msg_close_fds(m);
	return ret;
}

void vh_msg_rx_init(struct vh_msg_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
}

bool vh_msg_rx_started(const struct vh_msg_rx *rx)
{
	return rx->got > 0;
}

void vh_msg_rx_discard(struct vh_msg_rx *rx, struct vh_msg *m)
{
	/* Fds only ever arrive with bytes: got == 0 means @m holds none of ours. */
	if (rx->got > 0)
		vh_msg_close_fds(m);
	vh_msg_rx_init(rx);
}

/* Where the next bytes of the message go; 0 when it is complete. */
static size_t vh_recv_step_room(const struct vh_msg_rx *rx, struct vh_msg *m, void **buf)
{
	const size_t hlen = sizeof(m->hdr);

	if (rx->got < hlen) {
		*buf = (char *)&m->hdr + rx->got;
		return hlen - rx->got;
	}
	*buf = m->payload.raw + (rx->got - hlen);
	return m->hdr.size - (rx->got - hlen);
}

int vh_sock_recv_step(int sock, struct vh_msg_rx *rx, struct vh_msg *m)
{
	struct vh_recv_state st = { .sock = sock, .deadline = -1, .m = m };
	size_t room, got = 0;
	void *buf;
	int ret;

	if (rx->got == 0) {
		m->nfds = 0;
		for (unsigned i = 0; i < VH_USER_MAX_FDS; i++)
			m->fds[i] = -1;
		memset(&m->hdr, 0, sizeof(m->hdr));
		rx->fd_error = false;
	}
	for (;;) {
		if (rx->got >= sizeof(m->hdr) && m->hdr.size > VH_USER_MAX_PAYLOAD) {
			ret = -EMSGSIZE; /* not drained, as in vh_sock_recv() */
			goto fail;
		}
		room = vh_recv_step_room(rx, m, &buf);
		if (room == 0)
			break;
		st.fd_error = rx->fd_error;
		ret = vh_recv_once(&st, buf, room, &got);
		rx->fd_error = st.fd_error;
		if (ret == -EINTR)
			continue;
		if (ret == -EAGAIN)
			return -EAGAIN;
		if (ret < 0) {
			ret = ret == -EPIPE ? -ECONNRESET : ret;
			goto fail;
		}
		rx->got += got;
	}
	if (rx->fd_error) {
		/* The whole message was consumed, so the stream is still aligned. */
		ret = -EPROTO;
		goto fail;
	}
	vh_msg_rx_init(rx);
	return 0;
fail:
	vh_msg_close_fds(m);
	vh_msg_rx_init(rx);
	return ret;
}

/* One sendmsg of the bytes from @off on; the fds ride with the first byte only. */
static ssize_t vh_send_once(int sock, const struct vh_msg *m, size_t off)
{
	union vh_cmsg_buf cbuf;
	struct iovec iov[2];
	struct msghdr mh = { .msg_iov = iov };
	struct cmsghdr *c;
	size_t hlen = sizeof(m->hdr);

	if (off < hlen) {
		iov[0] = (struct iovec){ .iov_base = (char *)&m->hdr + off, .iov_len = hlen - off };
		iov[1] =
		    (struct iovec){ .iov_base = (void *)m->payload.raw, .iov_len = m->hdr.size };
		mh.msg_iovlen = m->hdr.size ? 2 : 1;
	} else {
		iov[0] = (struct iovec){ .iov_base = (char *)m->payload.raw + (off - hlen),
					 .iov_len = m->hdr.size - (off - hlen) };
		mh.msg_iovlen = 1;
	}
	if (off == 0 && m->nfds) {
		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * m->nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * m->nfds);
		memcpy(CMSG_DATA(c), m->fds, sizeof(int) * m->nfds);
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static int vh_send_check(const struct vh_msg *m)
{
	if (!m || m->hdr.size > VH_USER_MAX_PAYLOAD || m->nfds > VH_USER_MAX_FDS)
		return -EINVAL;
	for (unsigned i = 0; i < m->nfds; i++) {
		if (m->fds[i] < 0)
			return -EBADF;
	}
	return 0;
}

int vh_sock_send_step(int sock, const struct vh_msg *m, size_t *off)
{
	size_t total;
	ssize_t n;
	int ret;

	if (*off == 0) {
		ret = vh_send_check(m);
		if (ret < 0)
			return ret;
	}
	total = sizeof(m->hdr) + m->hdr.size;
	while (*off < total) {
		n = vh_send_once(sock, m, *off);
		if (n >= 0) {
			*off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EPIPE || errno == ECONNRESET)
			return -ECONNRESET;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -EAGAIN;
		return -errno;
	}
	return 0;
}

int vh_sock_send(int sock, const struct vh_msg *m)
{
	int64_t deadline = -1;
	size_t off = 0;
	int ret;

	for (;;) {
		ret = vh_sock_send_step(sock, m, &off);
		if (ret != -EAGAIN)
			return ret;
		if (deadline < 0)
			deadline = vh_now_ms() + VH_SOCK_MSG_TIMEOUT_MS;
		ret = vh_sock_wait(sock, POLLOUT, deadline);
		if (ret < 0)
			return ret;
	}
}

static int vh_sock_addr(const char *path, struct sockaddr_un *sa)
{
	size_t len;

	if (!path || !*path)
		return -EINVAL;
	len = strlen(path);
	if (len >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, len + 1);
	return 0;
}

/* Whether some socket in this network namespace is bound to @path (/proc/net/unix). */
/* Whether the /proc/net/unix line @line[0..end) ends with the column " @path". */
static bool vh_sock_line_ends_with(const char *line, size_t end, const char *path, size_t plen)
{
	return end > plen && line[end - plen - 1] == ' ' &&
	       memcmp(line + end - plen, path, plen) == 0;
}

/*
 * Whether a /proc/net/unix line names @path itself or the private name vh_sock_listen() binds
 * before renaming it to @path ("<path>.<pid>.tmp"): the kernel keeps showing the bound name.
 */
static bool vh_sock_line_names(const char *line, size_t llen, const char *path, size_t plen)
{
	size_t e;

	if (llen > 4 && memcmp(line + llen - 4, ".tmp", 4) == 0) {
		for (e = llen - 4; e > 0 && line[e - 1] >= '0' && line[e - 1] <= '9'; e--)
			;
		if (e < llen - 4 && e > 0 && line[e - 1] == '.' &&
		    vh_sock_line_ends_with(line, e - 1, path, plen))
			return true;
	}
	return vh_sock_line_ends_with(line, llen, path, plen);
}

/* Whether some socket in this network namespace is bound to @path (/proc/net/unix). */
static bool vh_sock_path_bound(const char *path)
{
	char line[512];
	size_t plen = strlen(path);
	bool found = false;
	FILE *f;

	f = fopen("/proc/net/unix", "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = vh_sock_line_names(line, strcspn(line, "\n"), path, plen);
	fclose(f);
	return found;
}

/*
 * A socket file nobody is bound to (a crashed server's leftover) may be replaced.
 * /proc/net/unix answers without touching a live server; the connect probe (which a
 * live server would see as an empty connection) only runs when /proc says unbound.
 */
static bool vh_sock_is_stale(const struct sockaddr_un *sa)
{
	struct stat st;
	bool stale;
	int fd;

	if (lstat(sa->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return false;
	if (vh_sock_path_bound(sa->sun_path))
		return false;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return false;
	stale = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 && errno == ECONNREFUSED;
	close(fd);
	return stale;
}

/*
 * Binds and listens on @tmp, then moves it to @sa: the socket file appears only once it accepts
 * connections, so whoever waits for the file (a test, libvirt, QEMU with reconnect=1) never sees
 * ECONNREFUSED from a socket that is bound but not listening yet.
 */
static int vh_sock_bind_listen(int fd, const struct sockaddr_un *sa, const struct sockaddr_un *tmp)
{
	bool in_place = strcmp(sa->sun_path, tmp->sun_path) == 0;

	if (in_place)
		unlink(sa->sun_path); /* the caller found it stale */
	else
		unlink(tmp->sun_path); /* a crashed earlier run of this pid */
	if (bind(fd, (const struct sockaddr *)tmp, sizeof(*tmp)) < 0)
		return -errno;
	if (listen(fd, SOMAXCONN) < 0 || (!in_place && rename(tmp->sun_path, sa->sun_path) < 0)) {
		int ret = -errno;

		unlink(tmp->sun_path);
		return ret;
	}
	return 0;
}

int vh_sock_listen(const char *path, int *out_fd)
{
	struct sockaddr_un sa, tmp;
	struct stat st;
	int fd, ret;

	ret = vh_sock_addr(path, &sa);
	if (ret < 0)
		return ret;
	/* Only a leftover socket nobody serves may be replaced; never a live one or a file. */
	if (lstat(sa.sun_path, &st) == 0 && !vh_sock_is_stale(&sa))
		return -EADDRINUSE;
	tmp = sa;
	ret = snprintf(tmp.sun_path, sizeof(tmp.sun_path), "%s.%d.tmp", path, (int)getpid());
	if (ret < 0 || (size_t)ret >= sizeof(tmp.sun_path))
		tmp = sa; /* no room for a private name: bind in place */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = vh_sock_bind_listen(fd, &sa, &tmp);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	*out_fd = fd;
	return 0;
}

int vh_sock_accept(int listen_fd, int *out_fd)
{
	int fd;

	do {
		fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -errno;
	*out_fd = fd;
	return 0;
}

/* connect() was interrupted: it completes in the background; wait and collect its result. */
static int vh_connect_finish(int fd)
{
	socklen_t len = sizeof(int);
	int ret, err = 0;

	ret = vh_sock_wait(fd, POLLOUT, -1);
	if (ret < 0)
		return ret;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return -err;
}

int vh_sock_connect(const char *path, int *out_fd)
{
	struct sockaddr_un sa;
	int fd, ret;

	ret = vh_sock_addr(path, &sa);
	if (ret < 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		if (ret == -EINTR)
			ret = vh_connect_finish(fd);
		if (ret < 0) {
			close(fd);
			return ret;
		}
	}
	*out_fd = fd;
	return 0;
}
