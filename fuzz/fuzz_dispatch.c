/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness: a message stream from an untrusted front-end into the back-end dispatcher.
 *
 * Input: records of [1 byte: fd kind][12 byte header][up to hdr.size payload bytes]. Each record
 * is written to one end of a socketpair with 0-2 fds attached (a 1 MiB memfd for memory tables,
 * logs and inflight regions, or an eventfd for kick/call), the server dispatches, replies are
 * drained (fds in them closed). The last record may be short: the server then sees a truncated
 * message and a hang-up. Checks: no crash, no sanitizer report, and each input leaves exactly
 * the fds it found (a leak is reported with its /proc/self/fd target before the abort).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vhost/backend.h>
#include <vhost/proto.h>

#include "../tests/common/vh_sendmsg.h"
#include "fz_fds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_dev {
	uint8_t config[32];
};

static int fz_kick(void *inst, struct vh_queue *q)
{
	struct iovec iov[8];
	struct vh_vq_elem e = { .iov = iov, .max_iov = 8 };
	int r;

	(void)inst;
	while ((r = vh_queue_pop(q, &e)) == 1) {
		/* Touch every byte the guest offered, then write what is writable. */
		uint32_t w = 0;

		for (unsigned i = 0; i < e.out_num + e.in_num; i++) {
			volatile uint8_t *p = e.iov[i].iov_base;

			if (e.iov[i].iov_len)
				(void)p[e.iov[i].iov_len - 1];
			if (i >= e.out_num) {
				memset(e.iov[i].iov_base, 0x5a, e.iov[i].iov_len);
				w += (uint32_t)e.iov[i].iov_len;
			}
		}
		if (vh_queue_push(q, &e, w) < 0)
			break;
	}
	return r < 0 && r != -ESHUTDOWN ? r : 0;
}

static int fz_get_config(void *inst, struct vh_conn *c, uint32_t off, void *buf, uint32_t len)
{
	(void)c;
	memcpy(buf, ((struct fz_dev *)inst)->config + off, len);
	return 0;
}

static int fz_set_config(void *inst, struct vh_conn *c, uint32_t off, const void *buf, uint32_t len,
			 uint32_t flags)
{
	(void)c;
	(void)flags;
	memcpy(((struct fz_dev *)inst)->config + off, buf, len);
	return 0;
}

static const struct vh_device_ops fz_ops = {
	.queue_kick = fz_kick,
	.get_config = fz_get_config,
	.set_config = fz_set_config,
};

static void quiet(void *opaque, enum vh_log_level level, const char *msg)
{
	(void)opaque;
	(void)level;
	(void)msg;
}

static void drain(int sock)
{
	uint8_t buf[8192];
	union {
		char buf[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} ctl;

	for (;;) {
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = ctl.buf,
				     .msg_controllen = sizeof(ctl.buf) };
		ssize_t n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n <= 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				close(fd);
			}
		}
	}
}

/* Send one record; the fds are dup'ed by the kernel, ours stay open. */
static void send_record(int sock, const uint8_t *p, size_t len, const int *fds, unsigned nfds)
{
	struct iovec iov = { (void *)p, len };

	(void)vh_test_sendmsg_flags(sock, &iov, 1, fds, nfds, MSG_DONTWAIT);
}

static void pump(struct vh_server *s, int sock)
{
	for (int i = 0; i < 4; i++) {
		vh_server_dispatch(s);
		drain(sock);
	}
}

static void run(struct vh_server *s, int sock, const uint8_t *data, size_t size, int mem, int ev)
{
	while (size > 0 && vh_server_num_conns(s)) {
		uint8_t kind = data[0];
		struct vh_user_hdr hdr;
		size_t len;
		int fds[2] = { mem, ev };
		unsigned nfds = kind % 4 == 3 ? 2 : kind % 4 == 0 ? 0 : 1;

		if (kind % 4 == 2)
			fds[0] = ev;
		data++;
		size--;
		if (size < sizeof(hdr)) {
			send_record(sock, data, size, fds, 0);
			break;
		}
		memcpy(&hdr, data, sizeof(hdr));
		if (hdr.size > size - sizeof(hdr)) {
			/* Truncated: hang up right behind it so the server sees the short message. */
			send_record(sock, data, size, fds, nfds);
			break;
		}
		len = sizeof(hdr) + hdr.size;
		send_record(sock, data, len, fds, nfds);
		data += len;
		size -= len;
		pump(s, sock);
	}
	shutdown(sock, SHUT_WR);
	for (int i = 0; i < 16 && vh_server_num_conns(s); i++)
		pump(s, sock);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Per input, not static: nothing may carry over from one input to the next. */
	struct fz_dev dev = { { 0 } };
	struct fz_fds *before = malloc(sizeof(*before));
	struct vh_server_config cfg;
	struct vh_server *s;
	int sv[2], mem, ev;

	if (!before)
		abort();
	fz_fds_list(before);
	vh_server_config_init(&cfg);
	cfg.name = "fuzz";
	/* Postcopy would leave guest pages to a front-end that never fills them: a hang. */
	cfg.protocol_features_clear = 1ull << VH_USER_PROTOCOL_F_PAGEFAULT;
	cfg.ops = &fz_ops;
	cfg.opaque = &dev;
	cfg.num_queues = 2;
	cfg.max_queue_size = 256;
	cfg.config_size = sizeof(dev.config);
	cfg.log = (struct vh_log_sink){ .fn = quiet };
	if (vh_server_create(&cfg, &s) < 0)
		abort();
	mem = memfd_create("fuzz-mem", MFD_CLOEXEC);
	ev = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (mem < 0 || ev < 0 || ftruncate(mem, 1 << 20) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	/* A stream socket: replies must not fill the buffer while we keep sending. */
	if (vh_server_add_conn(s, sv[1]) == 0)
		run(s, sv[0], data, size, mem, ev);
	vh_server_destroy(&s);
	close(sv[0]);
	close(mem);
	close(ev);
	fz_fds_check("fuzz_dispatch", before);
	free(before);
	return 0;
}
