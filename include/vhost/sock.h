/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvhost: whole vhost-user messages over a unix stream socket, with file
 * descriptors passed as SCM_RIGHTS ancillary data.
 *
 * This layer moves bytes and fds; it enforces only the limits that keep the
 * receiver safe (VH_USER_MAX_PAYLOAD, VH_USER_MAX_FDS). Whether a message is
 * well formed is vh_proto_validate()'s job, called by the dispatchers.
 *
 * Errors from vh_sock_recv() other than -EAGAIN (nothing pending) leave the byte
 * stream at an unknown position: the connection is dead and must be closed.
 */
#ifndef VHOST_SOCK_H
#define VHOST_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vhost/common.h>
#include <vhost/proto.h>

/*
 * Once the first byte of a message has arrived, the rest must follow within this
 * many milliseconds (when the caller's own timeout is -1 or 0). A peer that stalls
 * mid-message gets -ETIMEDOUT instead of hanging the receiver. Also bounds how long
 * vh_sock_send() waits for a non-blocking socket to drain.
 */
#define VH_SOCK_MSG_TIMEOUT_MS 5000

/**
 * struct vh_msg - one vhost-user message and the fds that travel with it.
 * @hdr: the header; hdr.size is the number of valid bytes in @payload.
 * @payload: the payload in any of its layouts.
 * @fds: received or to-be-sent fds; entries [0, nfds) are valid, the rest are -1 after recv.
 * @nfds: number of fds.
 *
 * After a successful vh_sock_recv() the caller owns @fds: close them with vh_msg_close_fds()
 * or take one by copying it and setting the slot to -1. vh_sock_send() never closes @fds.
 */
struct vh_msg {
	struct vh_user_hdr hdr;
	union vh_user_payload payload;
	int fds[VH_USER_MAX_FDS];
	unsigned nfds;
};

/**
 * vh_msg_init() - reset @m to an empty message: header set, payload zeroed, no fds.
 * @m: message to fill.
 * @request: request number.
 * @flags: extra header flags (0, VH_USER_FLAG_NEED_REPLY, VH_USER_FLAG_REPLY); the version
 *         bits are added.
 * @size: payload size (the caller fills @m->payload).
 *
 * Thread: any (touches only @m).
 */
VH_API void vh_msg_init(struct vh_msg *m, uint32_t request, uint32_t flags, uint32_t size);

/**
 * vh_msg_close_fds() - close every fd in @m that is >= 0, set the slots to -1, nfds to 0.
 * @m: message (may be NULL).
 *
 * Thread: any (touches only @m).
 */
VH_API void vh_msg_close_fds(struct vh_msg *m);

/**
 * vh_sock_send() - send a whole message: header, hdr.size payload bytes, and @m->fds.
 * @sock: connected unix stream socket (blocking or non-blocking).
 * @m: message; @m->nfds fds go with the first byte.
 *
 * Short writes and EINTR are retried; on a non-blocking socket the call waits for
 * POLLOUT for up to VH_SOCK_MSG_TIMEOUT_MS. Uses MSG_NOSIGNAL: no SIGPIPE. Does not close
 * or take ownership of @m->fds.
 *
 * Return: 0 on success; -EINVAL if hdr.size > VH_USER_MAX_PAYLOAD or nfds > VH_USER_MAX_FDS;
 * -EBADF if an fd slot in [0, nfds) is negative; -ECONNRESET if the peer is gone (EPIPE,
 * ECONNRESET); -ETIMEDOUT if the socket did not drain in time; other -errno from sendmsg.
 * After a failure part of the message may have been sent: close the connection.
 * Thread: any, but one sender per socket at a time (the caller serialises).
 */
VH_API int vh_sock_send(int sock, const struct vh_msg *m);

/**
 * vh_sock_send_step() - send what the socket takes now of a message, without ever waiting.
 * @sock: connected unix stream socket (blocking or non-blocking; MSG_DONTWAIT is used).
 * @m: message; @m->nfds fds go with its first byte. Keep passing the same one (and keep its
 *     fds open) until the call returns 0.
 * @off: bytes of @m already sent; 0 for a new message. Advanced by what this call sent.
 *
 * For a sender that must not block on a peer that does not read (the back-end's replies): on
 * -EAGAIN wait for POLLOUT (EPOLLOUT) and call again; apply your own deadline. Uses
 * MSG_NOSIGNAL. Does not close or take ownership of @m->fds.
 *
 * Return: 0 the whole message is sent; -EAGAIN the socket is full (@off says how far it got);
 * -EINVAL / -EBADF as vh_sock_send() (checked when @off is 0); -ECONNRESET the peer is gone;
 * other -errno from sendmsg. Thread: any, one sender per socket at a time.
 */
VH_API int vh_sock_send_step(int sock, const struct vh_msg *m, size_t *off);

/**
 * vh_sock_recv() - receive one whole message and its fds.
 * @sock: connected unix stream socket (blocking or non-blocking).
 * @m: filled on success (hdr, hdr.size payload bytes, fds with O_CLOEXEC, nfds).
 * @timeout_ms: -1 waits for a message without limit; 0 makes a single non-blocking attempt;
 *              > 0 is a deadline for the whole message.
 *
 * The header and payload are read fully across short reads and EINTR. Once a message has
 * started, the rest must arrive by the deadline (@timeout_ms > 0) or within
 * VH_SOCK_MSG_TIMEOUT_MS (@timeout_ms <= 0). Fds may arrive with any part of the message.
 * On every error all fds received so far are closed and @m->nfds is 0; @m->hdr holds the
 * header if it was read (useful for logging the request name).
 *
 * Return: 0 on success; -EAGAIN if @timeout_ms is 0 and nothing is pending; -ETIMEDOUT if no
 * message started within @timeout_ms > 0 or the peer stalled mid-message; -ECONNRESET if the
 * peer hung up (0-byte read before or inside a message, ECONNRESET); -EMSGSIZE if hdr.size
 * exceeds VH_USER_MAX_PAYLOAD (the payload is not drained: the connection is dead);
 * -EPROTO if more than VH_USER_MAX_FDS fds came or the control data was truncated
 * (MSG_CTRUNC); other -errno from poll/recvmsg. Thread: one receiver per socket at a time.
 */
VH_API int vh_sock_recv(int sock, struct vh_msg *m, int timeout_ms);

/**
 * struct vh_msg_rx - where an incremental receive (vh_sock_recv_step()) stands in the current
 * message. Set up with vh_msg_rx_init(); the fields are private to sock/.
 * @got: bytes of the current message (header, then payload) received so far; 0 between messages.
 * @fd_error: too many fds or truncated control data seen in this message (-EPROTO at its end).
 */
struct vh_msg_rx {
	size_t got;
	bool fd_error;
};

/**
 * vh_msg_rx_init() - start @rx at a message boundary.
 * @rx: state to reset (its message's fds are not touched: see vh_msg_rx_discard()).
 * Thread: any (touches only @rx).
 */
VH_API void vh_msg_rx_init(struct vh_msg_rx *rx);

/**
 * vh_msg_rx_started() - whether part of a message has arrived and the rest has not.
 * @rx: the receive state.
 *
 * Return: true while vh_sock_recv_step() holds a partial message (the caller applies its own
 * deadline to it). Thread: the receiver.
 */
VH_API bool vh_msg_rx_started(const struct vh_msg_rx *rx);

/**
 * vh_msg_rx_discard() - drop a partial message (e.g. the connection is being closed): close
 * the fds that came with it and reset @rx. No-op between messages, so it never closes fds the
 * caller took with a complete message.
 * @rx: the receive state.
 * @m: the message vh_sock_recv_step() was filling.
 * Thread: the receiver.
 */
VH_API void vh_msg_rx_discard(struct vh_msg_rx *rx, struct vh_msg *m);

/**
 * vh_sock_recv_step() - receive what has arrived of a message, without ever waiting.
 * @sock: connected unix stream socket (blocking or non-blocking; MSG_DONTWAIT is used).
 * @rx: receive state kept by the caller between calls (vh_msg_rx_init() first).
 * @m: the message being filled; keep passing the same one until it is complete.
 *
 * Reads the bytes (and fds) that are pending, never past the end of the current message, and
 * keeps a partial header, payload and fds in @rx / @m, so one peer that stalls mid-message
 * cannot hold the caller (who waits for POLLIN and calls again). Unlike vh_sock_recv() there is
 * no deadline: use vh_msg_rx_started() to time a stalled peer out, vh_msg_rx_discard() to drop it.
 *
 * Return: 0 a whole message is in @m (the caller owns its fds, @rx is at the next message);
 * -EAGAIN not complete yet (nothing or part of a message pending; state kept); -ECONNRESET the
 * peer hung up (before or inside a message); -EMSGSIZE hdr.size exceeds VH_USER_MAX_PAYLOAD;
 * -EPROTO more than VH_USER_MAX_FDS fds or truncated control data (the message was consumed);
 * other -errno from recvmsg. On every error but -EAGAIN the fds received for the message are
 * closed, @m->nfds is 0, @m->hdr holds what was read of the header, and @rx is reset.
 * Thread: one receiver per socket at a time.
 */
VH_API int vh_sock_recv_step(int sock, struct vh_msg_rx *rx, struct vh_msg *m);

/**
 * vh_sock_listen() - create a listening unix stream socket bound to @path.
 * @path: filesystem path (no abstract sockets).
 * @out_fd: the listening socket (SOCK_CLOEXEC, blocking) on success.
 *
 * A stale socket file at @path (nobody accepts on it) is removed and the bind retried;
 * a live one gives -EADDRINUSE; a path that is not a socket is never removed.
 *
 * Return: 0, -ENAMETOOLONG (path does not fit sun_path), -EADDRINUSE, other -errno.
 * Thread: any.
 */
VH_API int vh_sock_listen(const char *path, int *out_fd);

/**
 * vh_sock_accept() - accept one connection on a listening socket.
 * @listen_fd: socket from vh_sock_listen().
 * @out_fd: the connection (SOCK_CLOEXEC, blocking) on success.
 *
 * Return: 0, or -errno from accept4 (-EAGAIN if @listen_fd is non-blocking and no peer waits).
 * Thread: any.
 */
VH_API int vh_sock_accept(int listen_fd, int *out_fd);

/**
 * vh_sock_connect() - connect a unix stream socket to @path.
 * @path: filesystem path.
 * @out_fd: the connected socket (SOCK_CLOEXEC, blocking) on success.
 *
 * Return: 0, -ENAMETOOLONG, -ENOENT / -ECONNREFUSED (nobody listening), other -errno.
 * Thread: any.
 */
VH_API int vh_sock_connect(const char *path, int *out_fd);

#endif
