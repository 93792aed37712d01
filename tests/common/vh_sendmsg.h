/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared by the tests (tests/unit/unit_helpers.h) and the fuzz harnesses (fuzz/), so no cmocka:
 * one raw sendmsg() with fds as SCM_RIGHTS, bypassing vh_sock_send()'s checks so a test or a
 * harness can send what a broken peer would (any byte count, any number of fds).
 */
#ifndef VH_TEST_SENDMSG_H
#define VH_TEST_SENDMSG_H

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define VH_TEST_SENDMSG_MAX_FDS 64

/*
 * One sendmsg() of @iov (@iovcnt entries) with @nfds fds as SCM_RIGHTS, plus @flags
 * (MSG_NOSIGNAL always). The fds are duplicated by the kernel: the caller keeps its own.
 * Returns sendmsg()'s result; -1 with errno EINVAL for more than VH_TEST_SENDMSG_MAX_FDS fds.
 */
static inline ssize_t vh_test_sendmsg_flags(int sock, const struct iovec *iov, unsigned iovcnt,
					    const int *fds, unsigned nfds, int flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VH_TEST_SENDMSG_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = iovcnt };
	struct cmsghdr *c;

	if (nfds > VH_TEST_SENDMSG_MAX_FDS) {
		errno = EINVAL;
		return -1;
	}
	if (nfds) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	return sendmsg(sock, &mh, flags | MSG_NOSIGNAL);
}

static inline ssize_t vh_test_sendmsg(int sock, const struct iovec *iov, unsigned iovcnt,
				      const int *fds, unsigned nfds)
{
	return vh_test_sendmsg_flags(sock, iov, iovcnt, fds, nfds, 0);
}

#endif
