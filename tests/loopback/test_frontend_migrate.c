// SPDX-License-Identifier: BSD-3-Clause
/*
 * vh_dev against a scripted fake backend: dirty logging (the fake's pages come back from
 * vh_dev_log_sync exactly once, the log grows before and shrinks after a table update),
 * IOTLB misses and config-change notifications on the backend channel, config space, the
 * inflight region and reconnect to a new backend that checks the restored sequence.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/virtio_config.h>

#include <vhost/frontend.h>

#include "frontend_fake.h"
#include "unit_helpers.h"

#include "frontend_env.h"

/* ---- dirty log ---------------------------------------------------------------------------- */

static void expect_log_base(struct env *e, uint64_t size, int keep)
{
	struct vh_user_log l = { .mmap_size = size, .mmap_offset = 0 };
	struct fake_step *s = fake_expect(&e->f, VH_USER_SET_LOG_BASE, 0, &l, sizeof(l), 1);

	s->keep = keep;
	s->kind = R_MSG;
	vh_msg_init(&s->reply, VH_USER_SET_LOG_BASE, VH_USER_FLAG_REPLY, 8);
}

static uint8_t *map_log(struct env *e, int keep, size_t size)
{
	uint8_t *p;

	assert_true(e->f.kept[keep] >= 0);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, e->f.kept[keep], 0);
	assert_true(p != MAP_FAILED);
	return p;
}

static void mem_two(struct env *e, bool second)
{
	struct vh_dev_mem_region r = {
		.size = MEM_SIZE, .host = e->mem, .fd = e->memfd, .page_size = 4096
	};

	assert_int_equal(vh_dev_mem_begin(e->dev), 0);
	assert_int_equal(vh_dev_mem_add(e->dev, &r), 0);
	r.gpa = 0x40000; /* pages 64..79: the log needs two words */
	if (second)
		assert_int_equal(vh_dev_mem_add(e->dev, &r), 0);
	assert_int_equal(vh_dev_mem_commit(e->dev), 0);
}

/* SET_MEM_TABLE of mem_two(e, true): the memfd shown at gpa 0 and again at 0x40000. */
static void expect_mem_two(struct env *e)
{
	struct vh_user_mem_table t = { .nregions = 2 };

	for (unsigned i = 0; i < 2; i++) {
		t.regions[i].guest_phys_addr = i ? 0x40000 : 0;
		t.regions[i].memory_size = MEM_SIZE;
		t.regions[i].userspace_addr = (uint64_t)(uintptr_t)e->mem;
	}
	fake_expect(&e->f, VH_USER_SET_MEM_TABLE, NR, &t, 8 + 2 * 32, 2);
}

/* Start a device and its log (one running ring): base, LOG_ALL, the used ring logged. */
static void script_log_started(struct env *e)
{
	uint64_t pf = PF(REPLY_ACK) | PF(LOG_SHMFD);

	script_handshake_full(e, F_V1 | F_PF | F_LOG, pf, pf, 0, 0);
	fake_expect_u64(&e->f, VH_USER_SET_FEATURES, NR, F_V1 | F_PF);
	script_mem(e, NR);
	script_ring_start(e, NR, 0, 0, false);
	fake_expect_state(&e->f, VH_USER_SET_VRING_ENABLE, NR, 0, 1);
	expect_log_base(e, 8, 2);
	fake_expect_u64(&e->f, VH_USER_SET_FEATURES, NR, F_V1 | F_PF | F_LOG);
	script_ring_addr(e, NR, 0, true);
}

static void script_log(struct env *e)
{
	script_log_started(e);
	/* bigger table: the log grows first. */
	expect_log_base(e, 16, 3);
	expect_mem_two(e);
	/* smaller table: the log shrinks after. */
	script_mem(e, NR);
	expect_log_base(e, 8, 4);
	/* log stop. */
	fake_expect_u64(&e->f, VH_USER_SET_FEATURES, NR, F_V1 | F_PF);
	script_ring_addr(e, NR, 0, false);
	script_ring_stop(e, NR, 0, 0, true);
}

static void test_log(void **state)
{
	uint64_t bm[2];
	uint8_t *l1, *l2, *l3;
	struct env e;
	char why[128];

	env_init(&e, "log");
	script_log(&e);
	assert_int_equal(fake_start(&e.f), 0);
	assert_int_equal(env_create(&e, 0), 0);
	assert_int_equal(vh_dev_migration_blocker(e.dev, why, sizeof(why)), 0);
	assert_int_equal(vh_dev_log_sync(e.dev, bm, 64), -EINVAL); /* no log yet */
	assert_int_equal(vh_dev_ack_features(e.dev, F_V1), 0);
	env_mem(&e);
	env_ring(&e, 0, 0);
	assert_int_equal(vh_dev_start(e.dev), 0);
	assert_int_equal(vh_dev_log_start(e.dev), 0);
	assert_int_equal(vh_dev_log_start(e.dev), 0); /* already on: nothing sent */

	/* The log is sealed: the backend cannot shrink it under us. */
	assert_true(fcntl(e.f.kept[2], F_GET_SEALS) & F_SEAL_SHRINK);
	l1 = map_log(&e, 2, 8);
	l1[0] = 1 << 3; /* page 3 */
	l1[1] = 1 << 1; /* page 9 */
	memset(bm, 0, sizeof(bm));
	assert_int_equal(vh_dev_log_sync(e.dev, bm, 64), 2);
	assert_int_equal(bm[0], (1ull << 3) | (1ull << 9));
	memset(bm, 0, sizeof(bm));
	assert_int_equal(vh_dev_log_sync(e.dev, bm, 64), 0); /* exactly once */
	assert_int_equal(bm[0], 0);

	/* Page 12 dirtied in the old log just before the switch still comes back, once. */
	l1[1] = 1 << 4;
	mem_two(&e, true);
	l2 = map_log(&e, 3, 16);
	l2[8] = 1 << 6; /* page 70 */
	memset(bm, 0, sizeof(bm));
	assert_int_equal(vh_dev_log_sync(e.dev, bm, 128), 2);
	assert_int_equal(bm[0], 1ull << 12);
	assert_int_equal(bm[1], 1ull << 6);
	mem_two(&e, false);

	assert_int_equal(vh_dev_log_stop(e.dev), 0);
	/* A final sync after stop collects the backend's last writes. */
	l3 = map_log(&e, 4, 8);
	l3[0] = 1 << 5;
	memset(bm, 0, sizeof(bm));
	assert_int_equal(vh_dev_log_sync(e.dev, bm, 64), 1);
	assert_int_equal(bm[0], 1ull << 5);
	assert_int_equal(vh_dev_stop(e.dev, NULL, 0), 0);
	munmap(l1, 8);
	munmap(l2, 16);
	munmap(l3, 8);
	env_finish(&e);
}

static void start_logging(struct env *e)
{
	assert_int_equal(vh_dev_ack_features(e->dev, F_V1), 0);
	env_mem(e);
	env_ring(e, 0, 0);
	assert_int_equal(vh_dev_start(e->dev), 0);
	assert_int_equal(vh_dev_log_start(e->dev), 0);
}

/* Two devices in one process: each has its own log, a page dirtied in one is not in the other. */
static void test_two_devices_two_logs(void **state)
{
	struct env a, b;
	uint64_t bm;
	uint8_t *la;

	env_init(&a, "loga");
	env_init(&b, "logb");
	a.no_fd_check = b.no_fd_check = true;
	script_log_started(&a);
	script_log_started(&b);
	assert_int_equal(fake_start(&a.f), 0);
	assert_int_equal(fake_start(&b.f), 0);
	assert_int_equal(env_create(&a, 0), 0);
	assert_int_equal(env_create(&b, 0), 0);
	start_logging(&a);
	start_logging(&b);
	la = map_log(&a, 2, 8);
	la[0] = 1 << 2;
	bm = 0;
	assert_int_equal(vh_dev_log_sync(b.dev, &bm, 64), 0);
	assert_int_equal(vh_dev_log_sync(a.dev, &bm, 64), 1);
	assert_int_equal(bm, 1ull << 2);
	munmap(la, 8);
	env_finish(&a);
	env_finish(&b);
}

/* Logging switched on while stopped: the log is sized to the table at start. */
static void test_log_while_stopped(void **state)
{
	uint64_t pf = PF(REPLY_ACK) | PF(LOG_SHMFD);
	struct env e;

	env_init(&e, "logstopped");
	script_handshake_full(&e, F_V1 | F_PF | F_LOG, pf, pf, 0, 0);
	fake_expect_u64(&e.f, VH_USER_SET_FEATURES, NR, F_V1 | F_PF);
	fake_expect_u64(&e.f, VH_USER_SET_FEATURES, NR, F_V1 | F_PF | F_LOG);
	expect_mem_two(&e);
	expect_log_base(&e, 16, 2);
	script_ring_start(&e, NR, 0, 0, true);
	fake_expect_state(&e.f, VH_USER_SET_VRING_ENABLE, NR, 0, 1);
	script_ring_stop(&e, NR, 0, 0, true);
	assert_int_equal(fake_start(&e.f), 0);

	assert_int_equal(env_create(&e, 0), 0);
	assert_int_equal(vh_dev_ack_features(e.dev, F_V1), 0);
	assert_int_equal(vh_dev_log_start(e.dev), 0);
	mem_two(&e, true);
	env_ring(&e, 0, 0);
	assert_int_equal(vh_dev_start(e.dev), 0);
	assert_int_equal(vh_dev_stop(e.dev, NULL, 0), 0);
	env_finish(&e);
}

static void test_log_blocked(void **state)
{
	struct env e;
	char why[128];

	env_init(&e, "noshmfd");
	script_handshake_full(&e, F_V1 | F_PF | F_LOG, PF(MQ), PF(MQ), 1, 0);
	assert_int_equal(fake_start(&e.f), 0);
	assert_int_equal(env_create(&e, 0), 0);
	assert_int_equal(vh_dev_migration_blocker(e.dev, why, sizeof(why)), 1);
	assert_non_null(strstr(why, "LOG_SHMFD"));
	assert_int_equal(vh_dev_log_start(e.dev), -EOPNOTSUPP);
	env_finish(&e);

	env_init(&e, "nologall");
	script_handshake_plain(&e.f, F_V1);
	assert_int_equal(fake_start(&e.f), 0);
	assert_int_equal(env_create(&e, 0), 0);
	assert_int_equal(vh_dev_migration_blocker(e.dev, why, sizeof(why)), 1);
	assert_non_null(strstr(why, "VHOST_F_LOG_ALL"));
	assert_int_equal(vh_dev_log_start(e.dev), -EOPNOTSUPP);
	env_finish(&e);
}

/* ---- backend channel: IOTLB and config change --------------------------------------------- */

struct chan_ctx {
	int translated;
	int changed;
};

static int translate(void *opaque, uint64_t iova, int perm, uint64_t *uva, uint64_t *size)
{
	struct chan_ctx *c = opaque;

	c->translated++;
	if (iova != 0x5000 || perm != VH_DEV_ACCESS_RW)
		return -EFAULT;
	*uva = 0xabc000;
	*size = 0x1000;
	return 0;
}

static void config_changed(void *opaque)
{
	((struct chan_ctx *)opaque)->changed++;
}

static void send_backend(struct env *e, uint32_t req, uint32_t flags, const void *p, uint32_t n)
{
	struct vh_msg m;

	vh_msg_init(&m, req, flags, n);
	if (p)
		memcpy(&m.payload, p, n);
	assert_int_equal(vh_sock_send(e->f.kept[0], &m), 0);
}

static uint64_t backend_reply(struct env *e, uint32_t req)
{
	struct vh_msg r;

	assert_int_equal(vh_sock_recv(e->f.kept[0], &r, 1000), 0);
	assert_int_equal(r.hdr.request, req);
	assert_int_equal(r.hdr.flags, VH_USER_VERSION | VH_USER_FLAG_REPLY);
	assert_int_equal(r.hdr.size, 8);
	return r.payload.u64;
}

/* Expected IOTLB payloads with their padding zeroed, as the library sends them. */
static void iotlb_msg(struct vhost_iotlb_msg *m, uint64_t iova, uint64_t size, uint64_t uaddr,
		      unsigned perm_type)
{
	memset(m, 0, sizeof(*m));
	m->iova = iova;
	m->size = size;
	m->uaddr = uaddr;
	m->perm = (uint8_t)(perm_type & 0xff);
	m->type = (uint8_t)(perm_type >> 8);
}

#define PT(perm, type) ((perm) | (type) << 8)

static void test_iotlb_and_config_change(void **state)
{
	uint64_t pf = PF(REPLY_ACK) | PF(BACKEND_REQ);
	struct vhost_iotlb_msg miss, up, inval;
	struct chan_ctx ctx = { 0 };
	struct env e;

	iotlb_msg(&miss, 0x5000, 0, 0, PT(VHOST_ACCESS_RW, VHOST_IOTLB_MISS));
	iotlb_msg(&up, 0x5000, 0x1000, 0xabc000, PT(VHOST_ACCESS_RW, VHOST_IOTLB_UPDATE));
	iotlb_msg(&inval, 0x8000, 0x2000, 0, PT(0, VHOST_IOTLB_INVALIDATE));

	env_init(&e, "iotlb");
	e.translate = translate;
	e.config_changed = config_changed;
	e.opaque = &ctx;
	script_handshake_full(&e, F_V1 | F_PF | F_IOMMU, pf, pf, 0, 0);
	fake_expect_u64(&e.f, VH_USER_SET_FEATURES, NR, F_V1 | F_PF | F_IOMMU);
	fake_expect(&e.f, VH_USER_IOTLB_MSG, NR, &up, sizeof(up), 0);
	fake_expect(&e.f, VH_USER_IOTLB_MSG, NR, &inval, sizeof(inval), 0);
	assert_int_equal(fake_start(&e.f), 0);

	assert_int_equal(env_create(&e, 0), 0);
	assert_int_equal(vh_dev_iotlb_invalidate(e.dev, 0, 1), -EINVAL); /* no IOMMU acked */
	assert_int_equal(vh_dev_ack_features(e.dev, F_V1 | F_IOMMU), 0);
	assert_true(vh_dev_event_fd(e.dev) >= 0);
	assert_int_equal(vh_dev_dispatch(e.dev), 0); /* nothing pending */

	/* A miss: translated, answered with an update on the main channel, then acked. */
	send_backend(&e, VH_USER_BACKEND_IOTLB_MSG, NR, &miss, sizeof(miss));
	assert_int_equal(vh_dev_dispatch(e.dev), 1);
	assert_int_equal(backend_reply(&e, VH_USER_BACKEND_IOTLB_MSG), 0);
	assert_int_equal(ctx.translated, 1);

	/* A miss the caller cannot translate: no update, a failed ack. */
	miss.iova = 0x9000;
	send_backend(&e, VH_USER_BACKEND_IOTLB_MSG, NR, &miss, sizeof(miss));
	assert_int_equal(vh_dev_dispatch(e.dev), 1);
	assert_int_not_equal(backend_reply(&e, VH_USER_BACKEND_IOTLB_MSG), 0);

	/* Config change: the callback runs; two at once are both handled. */
	send_backend(&e, VH_USER_BACKEND_CONFIG_CHANGE_MSG, 0, NULL, 0);
	send_backend(&e, VH_USER_BACKEND_CONFIG_CHANGE_MSG, 0, NULL, 0);
	assert_int_equal(vh_dev_dispatch(e.dev), 2);
	assert_int_equal(ctx.changed, 2);

	assert_int_equal(vh_dev_iotlb_invalidate(e.dev, 0x8000, 0x2000), 0);

	/* A malformed backend message (reply flag on a request) breaks the device. */
	send_backend(&e, VH_USER_BACKEND_CONFIG_CHANGE_MSG, VH_USER_FLAG_REPLY, NULL, 0);
	assert_int_equal(vh_dev_dispatch(e.dev), -EPROTO);
	assert_int_equal(vh_dev_dispatch(e.dev), -EPROTO);
	env_finish(&e);
}

static int translate_all(void *opaque, uint64_t iova, int perm, uint64_t *uva, uint64_t *size)
{
	*uva = 0x700000000000ull + iova;
	*size = 0x1000;
	return 0;
}

/*
 * With the IOMMU the ring addresses are IOVAs (the driver's addresses), no table is needed,
 * and each used ring is mapped right after start (an IOTLB update nobody asked for yet).
 */
static void test_iommu_ring_addrs(void **state)
{
	struct vhost_iotlb_msg up;
	struct vhost_vring_addr a = { .index = 0,
				      .desc_user_addr = DESC_GPA,
				      .used_user_addr = USED_GPA,
				      .avail_user_addr = AVAIL_GPA,
				      .log_guest_addr = USED_GPA };
	uint64_t u = 0;
	struct env e;

	iotlb_msg(&up, USED_GPA, 0x1000, 0x700000000000ull + USED_GPA,
		  PT(VHOST_ACCESS_RW, VHOST_IOTLB_UPDATE));
	env_init(&e, "iommuring");
	script_handshake_plain(&e.f, F_V1 | F_IOMMU);
	fake_expect_u64(&e.f, VH_USER_SET_FEATURES, 0, F_V1 | F_IOMMU);
	fake_expect_state(&e.f, VH_USER_SET_VRING_NUM, 0, 0, RING_NUM);
	fake_expect_state(&e.f, VH_USER_SET_VRING_BASE, 0, 0, 0);
	fake_expect(&e.f, VH_USER_SET_VRING_ADDR, 0, &a, sizeof(a), 0);
	fake_expect(&e.f, VH_USER_SET_VRING_CALL, 0, &u, 8, 1);
	fake_expect(&e.f, VH_USER_SET_VRING_ERR, 0, &u, 8, 1);
	fake_expect(&e.f, VH_USER_SET_VRING_KICK, 0, &u, 8, 1);
	fake_expect(&e.f, VH_USER_IOTLB_MSG, 0, &up, sizeof(up), 0);
	script_ring_stop(&e, 0, 0, 0, false);
	assert_int_equal(fake_start(&e.f), 0);
	e.translate = translate_all;
	assert_int_equal(env_create(&e, 0), 0);
	assert_int_equal(vh_dev_ack_features(e.dev, F_V1 | F_IOMMU), 0);
	env_ring(&e, 0, 0);
	assert_int_equal(vh_dev_start(e.dev), 0);
	assert_int_equal(vh_dev_stop(e.dev, NULL, 0), 0);
	env_finish(&e);
}

/* ---- config space ------------------------------------------------------------------------- */

static void test_config(void **state)
{
	struct vh_user_config get = { .offset = 4, .size = 8 }, set = { .offset = 0, .size = 4 };
	uint8_t buf[8], want[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct fake_step *s;
	struct env e;

	env_init(&e, "config");
	script_handshake_full(&e, F_V1 | F_PF, PF(CONFIG), PF(CONFIG), 0, 0);
	s = fake_expect(&e.f, VH_USER_GET_CONFIG, 0, &get, 12 + 8, 0);
	s->kind = R_MSG;
	vh_msg_init(&s->reply, VH_USER_GET_CONFIG, VH_USER_FLAG_REPLY, 12 + 8);
	s->reply.payload.config = get;
	memcpy(s->reply.payload.config.region, want, 8);
	memcpy(set.region, "abcd", 4);
	fake_expect(&e.f, VH_USER_SET_CONFIG, 0, &set, 12 + 4, 0);
	/* libvhost-user refuses a read it cannot serve with an empty reply: an error, not a break. */
	s = fake_expect(&e.f, VH_USER_GET_CONFIG, 0, &get, 12 + 8, 0);
	s->kind = R_MSG;
	vh_msg_init(&s->reply, VH_USER_GET_CONFIG, VH_USER_FLAG_REPLY, 0);
	/* A reply with fewer bytes than asked for. */
	s = fake_expect(&e.f, VH_USER_GET_CONFIG, 0, &get, 12 + 8, 0);
	s->kind = R_MSG;
	vh_msg_init(&s->reply, VH_USER_GET_CONFIG, VH_USER_FLAG_REPLY, 12 + 4);
	s->reply.payload.config.offset = 4;
	s->reply.payload.config.size = 4;
	assert_int_equal(fake_start(&e.f), 0);

	assert_int_equal(env_create(&e, 0), 0);
	assert_int_equal(vh_dev_get_config(e.dev, 250, buf, 8), -EINVAL); /* past 256 */
	assert_int_equal(vh_dev_get_config(e.dev, 4, buf, 8), 0);
	assert_memory_equal(buf, want, 8);
	assert_int_equal(vh_dev_set_config(e.dev, 0, "abcd", 4), 0);
	assert_int_equal(vh_dev_get_config(e.dev, 4, buf, 8), -EIO);
	assert_int_equal(vh_dev_get_config(e.dev, 4, buf, 8), -EPROTO);
	env_finish(&e);
}

/* ---- inflight and reconnect --------------------------------------------------------------- */

static void script_inflight_set(struct env *e)
{
	struct vh_user_inflight in = { .mmap_size = 4096, .num_queues = 2, .queue_size = RING_NUM };

	fake_expect(&e->f, VH_USER_SET_INFLIGHT_FD, NR, &in, sizeof(in), 1);
}

static void script_reconnect(struct env *e, int infl_fd)
{
	uint64_t pf = PF(REPLY_ACK) | PF(INFLIGHT_SHMFD);
	struct vh_user_inflight ask = { .num_queues = 2, .queue_size = RING_NUM };
	struct fake_step *s;
	uint64_t u = 0;

	script_handshake_full(e, F_V1 | F_PF, pf, pf, 0, 0);
	fake_expect_u64(&e->f, VH_USER_SET_FEATURES, NR, F_V1 | F_PF);
	script_mem(e, NR);
	s = fake_expect(&e->f, VH_USER_GET_INFLIGHT_FD, 0, &ask, sizeof(ask), 0);
	s->kind = R_MSG;
	vh_msg_init(&s->reply, VH_USER_GET_INFLIGHT_FD, VH_USER_FLAG_REPLY, sizeof(ask));
	s->reply.payload.inflight = ask;
	s->reply.payload.inflight.mmap_size = 4096;
	s->reply.fds[0] = infl_fd;
	s->reply.nfds = 1;
	script_inflight_set(e);
	script_ring_start(e, NR, 0, 0, false);
	fake_expect_state(&e->f, VH_USER_SET_VRING_ENABLE, NR, 0, 1);
	/* Masking: the backend dies instead of answering, and a new one connects. */
	s = fake_expect(&e->f, VH_USER_SET_VRING_CALL, NR, &u, 8, 1);
	s->kind = R_REACCEPT;
	/* The restored sequence: same handshake, table, inflight region, ring from used idx 5. */
	script_handshake_full(e, F_V1 | F_PF, pf, pf, 0, 0);
	fake_expect_u64(&e->f, VH_USER_SET_FEATURES, NR, F_V1 | F_PF);
	script_mem(e, NR);
	script_inflight_set(e);
	script_ring_start(e, NR, 0, 5, false);
	fake_expect_state(&e->f, VH_USER_SET_VRING_ENABLE, NR, 0, 1);
	script_ring_stop(e, NR, 0, 6, true);
}

static void test_reconnect_inflight(void **state)
{
	int infl_fd = memfd_create("inflight", MFD_CLOEXEC);
	uint8_t *infl, *save;
	uint32_t base = 0;
	struct env e;
	size_t size;

	assert_true(infl_fd >= 0);
	assert_int_equal(ftruncate(infl_fd, 4096), 0);
	infl = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, infl_fd, 0);
	assert_true(infl != MAP_FAILED);
	env_init(&e, "reconnect");
	script_reconnect(&e, infl_fd);
	assert_int_equal(fake_start(&e.f), 0);

	assert_int_equal(env_create(&e, 0), 0);
	assert_int_equal(vh_dev_inflight_size(e.dev, &size), 0);
	assert_int_equal(size, 0);
	assert_int_equal(vh_dev_ack_features(e.dev, F_V1), 0);
	env_mem(&e);
	env_ring(&e, 0, 0);
	assert_int_equal(vh_dev_start(e.dev), 0);
	memset(infl, 0x5a, 4096); /* the backend's inflight bookkeeping */
	*(uint16_t *)(e.mem + USED_GPA + 2) = 5;
	assert_int_equal(vh_dev_vring_mask(e.dev, 0, true), -ECONNRESET);
	assert_int_equal(vh_dev_get_config(e.dev, 0, &base, 4), -ECONNRESET);
	assert_int_equal(vh_dev_reconnect(e.dev), 0);

	/* Inflight state survives for migration: save, then load it back while stopped. */
	assert_int_equal(vh_dev_inflight_size(e.dev, &size), 0);
	assert_true(size > 4096);
	save = malloc(size);
	assert_int_equal(vh_dev_inflight_save(e.dev, save, size - 1), -EINVAL);
	assert_int_equal(vh_dev_inflight_save(e.dev, save, size), 0);
	assert_int_equal(save[size - 1], 0x5a);
	assert_int_equal(vh_dev_inflight_load(e.dev, save, size), -EBUSY);
	assert_int_equal(vh_dev_stop(e.dev, &base, 1), 0);
	assert_int_equal(base, 6);
	save[size - 1] = 0;
	assert_int_equal(vh_dev_inflight_load(e.dev, save, size - 1), -EINVAL);
	assert_int_equal(vh_dev_inflight_load(e.dev, save, size), 0);
	memset(save, 0, size);
	assert_int_equal(vh_dev_inflight_save(e.dev, save, size), 0);
	assert_int_equal(save[size - 2], 0x5a);
	assert_int_equal(save[size - 1], 0);
	free(save);
	env_finish(&e);
	munmap(infl, 4096);
	close(infl_fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log),
		cmocka_unit_test(test_log_while_stopped),
		cmocka_unit_test(test_two_devices_two_logs),
		cmocka_unit_test(test_log_blocked),
		cmocka_unit_test(test_iotlb_and_config_change),
		cmocka_unit_test(test_iommu_ring_addrs),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_reconnect_inflight),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
