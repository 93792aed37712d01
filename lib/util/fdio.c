// SPDX-License-Identifier: BSD-3-Clause
/*
 * util/fdio.c: writes to a pipe whose reader may be gone (the DEVICE_STATE transfer channel
 * of both sides) without SIGPIPE killing a process that did not ignore it.
 */
#include <errno.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

ssize_t vh_write_nosigpipe(int fd, const void *buf, size_t len)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t pipe_set, old, now;
	bool was_pending;
	ssize_t n;
	int saved;

	/*
	 * Blocked, a SIGPIPE the write raises stays pending for this thread; take it back
	 * unless one was pending before (that one is the caller's).
	 */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	sigpending(&now);
	was_pending = sigismember(&now, SIGPIPE);
	n = write(fd, buf, len);
	saved = errno;
	if (n < 0 && saved == EPIPE && !was_pending)
		sigtimedwait(&pipe_set, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return n;
}
