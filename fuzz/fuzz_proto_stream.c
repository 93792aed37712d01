/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz the receive path: the input is written as a byte stream into one end of a
 * socketpair (byte 0 = number of fds, 0..15, attached to the first chunk; byte 1 splits
 * the rest into two writes), the writer hangs up, and the other end is drained with
 * vh_sock_recv() + vh_proto_validate() until the stream ends. Every fd received is
 * closed; the process fd count must come back to where it started.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vhost/proto.h>
#include <vhost/sock.h>

#include "../tests/common/vh_sendmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

static void send_chunk(int sock, const uint8_t *buf, size_t len, unsigned nfds)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	int fds[16];

	if (!len)
		return;
	for (unsigned i = 0; i < nfds; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (vh_test_sendmsg(sock, &iov, 1, fds, nfds) != (ssize_t)len)
		abort();
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vh_msg m;
	int sv[2], before, ret;
	unsigned nfds;
	size_t split;

	/* Whatever is written must fit in the socket buffer: the writer never blocks. */
	if (size < 2 || size > 64 * 1024)
		return 0;
	before = count_fds();
	nfds = data[0] & 15;
	split = data[1];
	data += 2;
	size -= 2;
	if (split > size)
		split = size;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	send_chunk(sv[1], data, split, nfds);
	send_chunk(sv[1], data + split, size - split, split ? 0 : nfds);
	close(sv[1]);
	for (;;) {
		ret = vh_sock_recv(sv[0], &m, 0);
		if (ret < 0) {
			if (m.nfds != 0)
				abort();
			break;
		}
		if (m.nfds > VH_USER_MAX_FDS || m.hdr.size > VH_USER_MAX_PAYLOAD)
			abort();
		(void)vh_proto_validate(m.hdr.request & 1, &m.hdr, m.payload.raw, m.hdr.size,
					m.nfds);
		vh_msg_close_fds(&m);
	}
	/* The stream ends with the writer's hang-up, never with a wait. */
	if (ret != -ECONNRESET && ret != -EMSGSIZE && ret != -EPROTO)
		abort();
	close(sv[0]);
	if (count_fds() != before)
		abort();
	return 0;
}
