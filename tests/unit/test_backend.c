/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * backend/: configuration checks and the dispatch rules (validation before handlers, replies
 * and REPLY_ACK, unknown requests), over a socketpair inside this process.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include <vhost/backend.h>
#include <vhost/proto.h>
#include <vhost/sock.h>

#include "unit_helpers.h"

static int nop_kick(void *inst, struct vh_queue *q)
{
	(void)inst;
	(void)q;
	return 0;
}

static const struct vh_device_ops nop_ops = { .queue_kick = nop_kick };

struct env {
	struct vh_server *s;
	struct vh_test_log log;
	int sock;
	unsigned reply_nfds; /* fds that came with the last reply (closed by xfer) */
};

static void env_init(struct env *e, uint64_t proto_clear)
{
	struct vh_server_config cfg;
	int sv[2];

	vh_server_config_init(&cfg);
	cfg.name = "unit";
	cfg.ops = &nop_ops;
	cfg.num_queues = 2;
	cfg.features = 1ull << 0; /* a device-type bit */
	cfg.protocol_features_clear = proto_clear;
	cfg.log = vh_test_sink(&e->log);
	assert_int_equal(vh_server_create(&cfg, &e->s), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	e->sock = sv[0];
	assert_int_equal(vh_server_add_conn(e->s, sv[1]), 0);
}

static void env_fini(struct env *e)
{
	vh_server_destroy(&e->s);
	close(e->sock);
}

/* Send @m, pump; 0 with *reply filled, -EAGAIN no reply, -ECONNRESET closed. */
static int xfer(struct env *e, const struct vh_msg *m, struct vh_msg *reply)
{
	int r;

	assert_int_equal(vh_sock_send(e->sock, m), 0);
	for (int i = 0; i < 8; i++)
		vh_server_dispatch(e->s);
	r = vh_sock_recv(e->sock, reply, 0);
	e->reply_nfds = r == 0 ? reply->nfds : 0;
	if (r == 0)
		vh_msg_close_fds(reply);
	return r;
}

static void test_config_checks(void **state)
{
	struct vh_server_config cfg;
	struct vh_server *s = NULL;
	struct vh_device_ops no_kick = { 0 };
	int fds = vh_test_count_fds(), sv[2];

	(void)state;
	vh_server_config_init(&cfg);
	assert_int_equal(cfg.listen_fd, -1);
	cfg.num_queues = 1;
	assert_int_equal(vh_server_create(&cfg, &s), -EINVAL); /* no ops */
	cfg.ops = &no_kick;
	assert_int_equal(vh_server_create(&cfg, &s), -EINVAL); /* no queue_kick */
	cfg.ops = &nop_ops;
	cfg.num_queues = 0;
	assert_int_equal(vh_server_create(&cfg, &s), -EINVAL);
	cfg.num_queues = VH_SERVER_MAX_QUEUES + 1;
	assert_int_equal(vh_server_create(&cfg, &s), -EINVAL);
	cfg.num_queues = 1;
	cfg.max_queue_size = 100;
	assert_int_equal(vh_server_create(&cfg, &s), -EINVAL);
	cfg.max_queue_size = 0;
	cfg.config_size = VH_USER_MAX_CONFIG_SIZE + 1;
	assert_int_equal(vh_server_create(&cfg, &s), -EINVAL);
	cfg.config_size = 0;
	/* An inherited fd is owned by the server even when create fails. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	close(sv[1]);
	cfg.listen_fd = sv[0];
	cfg.socket_path = "/nonexistent/x";
	assert_int_equal(vh_server_create(&cfg, &s), -EINVAL);
	assert_null(s);
	assert_int_equal(vh_test_count_fds(), fds);
	cfg.socket_path = NULL;
	cfg.listen_fd = -1;
	assert_int_equal(vh_server_create(&cfg, &s), 0);
	vh_server_destroy(&s);
	assert_null(s);
	vh_server_destroy(&s);
	assert_int_equal(vh_test_count_fds(), fds);
}

static void test_features_offered(void **state)
{
	struct env e = { 0 };
	struct vh_msg m, reply;
	uint64_t lib = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_PACKED) |
		       (1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << VIRTIO_RING_F_EVENT_IDX) |
		       (1ull << VIRTIO_F_ACCESS_PLATFORM) | (1ull << VHOST_F_LOG_ALL) |
		       (1ull << VH_USER_F_PROTOCOL_FEATURES);

	(void)state;
	assert_int_equal(vh_server_library_features(), lib);
	assert_int_equal(vh_server_library_protocol_features(), 0x21b62bull);
	env_init(&e, 1ull << VH_USER_PROTOCOL_F_STATUS);
	vh_msg_init(&m, VH_USER_GET_FEATURES, 0, 0);
	assert_int_equal(xfer(&e, &m, &reply), 0);
	assert_int_equal(reply.hdr.flags, VH_USER_VERSION | VH_USER_FLAG_REPLY);
	assert_int_equal(reply.hdr.size, 8);
	assert_int_equal(reply.payload.u64, lib | 1);
	vh_msg_init(&m, VH_USER_GET_PROTOCOL_FEATURES, 0, 0);
	assert_int_equal(xfer(&e, &m, &reply), 0);
	/* PAGEFAULT (postcopy) only where userfaultfd works: loopback_backend_postcopy. */
	assert_int_equal(reply.payload.u64 & ~(1ull << VH_USER_PROTOCOL_F_PAGEFAULT),
			 0x21b62bull & ~(1ull << VH_USER_PROTOCOL_F_STATUS));
	/* Asking for a feature that was not offered is refused. */
	vh_msg_init(&m, VH_USER_SET_PROTOCOL_FEATURES, VH_USER_FLAG_NEED_REPLY, 8);
	m.payload.u64 = 1ull << VH_USER_PROTOCOL_F_STATUS;
	assert_int_equal(xfer(&e, &m, &reply), 0);
	assert_int_equal(reply.payload.u64, 1);
	env_fini(&e);
}

static void test_reply_ack(void **state)
{
	struct env e = { 0 };
	struct vh_msg m, reply;

	(void)state;
	env_init(&e, 0);
	/* No NEED_REPLY, no reply. */
	vh_msg_init(&m, VH_USER_SET_OWNER, 0, 0);
	assert_int_equal(xfer(&e, &m, &reply), -EAGAIN);
	/* NEED_REPLY: an ack, u64 0, same request, reply flag. */
	vh_msg_init(&m, VH_USER_SET_OWNER, VH_USER_FLAG_NEED_REPLY, 0);
	assert_int_equal(xfer(&e, &m, &reply), 0);
	assert_int_equal(reply.hdr.request, VH_USER_SET_OWNER);
	assert_int_equal(reply.hdr.flags, VH_USER_VERSION | VH_USER_FLAG_REPLY);
	assert_int_equal(reply.hdr.size, 8);
	assert_int_equal(reply.payload.u64, 0);
	/* A request with its own reply answers with it, not with an ack. */
	vh_msg_init(&m, VH_USER_GET_QUEUE_NUM, VH_USER_FLAG_NEED_REPLY, 0);
	assert_int_equal(xfer(&e, &m, &reply), 0);
	assert_int_equal(reply.payload.u64, 2);
	/* Failure: non-zero ack, connection kept, logged with the request name. */
	vh_msg_init(&m, VH_USER_SET_VRING_ENABLE, VH_USER_FLAG_NEED_REPLY, 8);
	m.payload.state.index = 0;
	m.payload.state.num = 2;
	assert_int_equal(xfer(&e, &m, &reply), 0);
	assert_int_equal(reply.payload.u64, 1);
	assert_string_equal(
	    e.log.last,
	    "unit: VHOST_USER_SET_VRING_ENABLE: enable is not 0 or 1: Invalid argument");
	/* Unknown request without NEED_REPLY: ignored. With it: refused. */
	vh_msg_init(&m, 99, 0, 0);
	assert_int_equal(xfer(&e, &m, &reply), -EAGAIN);
	vh_msg_init(&m, 99, VH_USER_FLAG_NEED_REPLY, 0);
	assert_int_equal(xfer(&e, &m, &reply), 0);
	assert_int_equal(reply.payload.u64, 1);
	assert_int_equal(vh_server_num_conns(e.s), 1);
	env_fini(&e);
}

/* A known request we do not implement that always has a reply cannot be left unanswered. */
static void test_unsupported_with_reply_closes(void **state)
{
	struct env e = { 0 };
	struct vh_msg m, reply;

	(void)state;
	env_init(&e, 0);
	vh_msg_init(&m, VH_USER_GET_SHARED_OBJECT, 0, sizeof(struct vh_user_shared_object));
	assert_int_equal(xfer(&e, &m, &reply), -ECONNRESET);
	assert_int_equal(vh_server_num_conns(e.s), 0);
	env_fini(&e);
}

/* Every request number with an empty payload: a reply, silence or a close; never a crash. */
static void test_every_request_empty(void **state)
{
	int fds = vh_test_count_fds();

	(void)state;
	for (uint32_t req = 0; req < VH_USER_REQUEST_MAX + 2; req++) {
		for (int flags = 0; flags < 2; flags++) {
			struct env e = { 0 };
			struct vh_msg m, reply;
			int r;

			env_init(&e, 0);
			vh_msg_init(&m, req, flags ? VH_USER_FLAG_NEED_REPLY : 0, 0);
			r = xfer(&e, &m, &reply);
			assert_true(r == 0 || r == -EAGAIN || r == -ECONNRESET);
			if (r == 0)
				assert_int_equal(reply.hdr.request, req);
			env_fini(&e);
		}
	}
	assert_int_equal(vh_test_count_fds(), fds);
}

static void test_bad_header(void **state)
{
	struct env e = { 0 };
	struct vh_msg m, reply;

	(void)state;
	env_init(&e, 0);
	vh_msg_init(&m, VH_USER_GET_FEATURES, 0, 0);
	m.hdr.flags = 2; /* version 2 */
	assert_int_equal(xfer(&e, &m, &reply), -ECONNRESET);
	assert_true(strstr(e.log.last, "malformed message") != NULL);
	env_fini(&e);
}

/* --fd: an inherited listening socket is served like socket_path. */
static void test_inherited_listen_fd(void **state)
{
	struct vh_server_config cfg;
	struct vh_server *s;
	struct vh_msg m, reply;
	char dir[] = "/tmp/vh-unit-XXXXXX", path[64];
	int lfd, sock, fds = vh_test_count_fds();

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s", dir);
	assert_int_equal(vh_sock_listen(path, &lfd), 0);
	vh_server_config_init(&cfg);
	cfg.ops = &nop_ops;
	cfg.num_queues = 3;
	cfg.listen_fd = lfd;
	assert_int_equal(vh_server_create(&cfg, &s), 0);
	assert_int_equal(vh_sock_connect(path, &sock), 0);
	vh_msg_init(&m, VH_USER_GET_QUEUE_NUM, 0, 0);
	assert_int_equal(vh_sock_send(sock, &m), 0);
	for (int i = 0; i < 8; i++)
		vh_server_dispatch(s);
	assert_int_equal(vh_sock_recv(sock, &reply, 1000), 0);
	assert_int_equal(reply.payload.u64, 3);
	assert_int_equal(vh_server_num_conns(s), 1);
	close(sock);
	vh_server_destroy(&s);
	unlink(path);
	rmdir(dir);
	assert_int_equal(vh_test_count_fds(), fds);
}

static void on_watch(void *opaque, int fd, uint32_t events)
{
	uint64_t v;

	assert_int_equal(read(fd, &v, sizeof(v)), sizeof(v));
	*(int *)opaque += (int)v + (events & EPOLLIN ? 100 : 0);
}

static void test_watch(void **state)
{
	struct env e = { 0 };
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), hits = 0;
	uint64_t two = 2;

	(void)state;
	env_init(&e, 0);
	assert_int_equal(vh_server_watch(e.s, efd, EPOLLIN, on_watch, &hits), 0);
	assert_int_equal(vh_server_watch(e.s, efd, EPOLLIN, on_watch, &hits), -EEXIST);
	assert_int_equal(write(efd, &two, sizeof(two)), sizeof(two));
	assert_int_equal(vh_server_dispatch(e.s), 1);
	assert_int_equal(hits, 102);
	assert_int_equal(vh_server_unwatch(e.s, efd), 0);
	assert_int_equal(vh_server_unwatch(e.s, efd), -ENOENT);
	assert_int_equal(write(efd, &two, sizeof(two)), sizeof(two));
	vh_server_dispatch(e.s);
	assert_int_equal(hits, 102);
	/* Stop is just an event: dispatch sees it and reports it. */
	vh_server_stop(e.s);
	vh_server_dispatch(e.s);
	assert_true(vh_server_stopped(e.s));
	close(efd);
	env_fini(&e);
}

/* GET_INFLIGHT_FD sizes each queue per the spec's layout for the negotiated ring format. */
static void test_inflight_sizes(void **state)
{
	struct env e = { 0 };
	struct vh_msg m, reply;

	(void)state;
	env_init(&e, 0);
	vh_msg_init(&m, VH_USER_SET_FEATURES, 0, 8);
	m.payload.u64 = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_PACKED);
	assert_int_equal(xfer(&e, &m, &reply), -EAGAIN);
	vh_msg_init(&m, VH_USER_GET_INFLIGHT_FD, 0, sizeof(struct vh_user_inflight));
	m.payload.inflight.num_queues = 2;
	m.payload.inflight.queue_size = 256;
	assert_int_equal(xfer(&e, &m, &reply), 0);
	/* QueueRegionPacked 32 + 256 * DescStatePacked 32, rounded to 64, per queue. */
	assert_int_equal(reply.payload.inflight.mmap_size, 2 * 8256);
	assert_int_equal(reply.payload.inflight.num_queues, 2);
	assert_int_equal(reply.payload.inflight.queue_size, 256);
	assert_int_equal(e.reply_nfds, 1);
	/* More queues than the device has: refused with an empty region and no fd. */
	m.payload.inflight.num_queues = 3;
	assert_int_equal(xfer(&e, &m, &reply), 0);
	assert_int_equal(reply.payload.inflight.mmap_size, 0);
	assert_int_equal(e.reply_nfds, 0);
	env_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_checks),
		cmocka_unit_test(test_features_offered),
		cmocka_unit_test(test_reply_ack),
		cmocka_unit_test(test_unsupported_with_reply_closes),
		cmocka_unit_test(test_every_request_empty),
		cmocka_unit_test(test_bad_header),
		cmocka_unit_test(test_inherited_listen_fd),
		cmocka_unit_test(test_watch),
		cmocka_unit_test(test_inflight_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
