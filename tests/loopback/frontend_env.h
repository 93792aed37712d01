/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared by the vh_dev fake-backend tests: guest memory (a memfd), one ring layout, the device
 * under test, and the scripted message sequences of the handshake, the memory table and the
 * ring start/stop, built from the same numbers the test passes to vh_dev.
 */
#ifndef VH_TEST_FRONTEND_ENV_H
#define VH_TEST_FRONTEND_ENV_H

#include <linux/vhost_types.h>

#define ENV_UNUSED	   __attribute__((unused))

#define VH_ARRAY_SIZE_T(a) (sizeof(a) / sizeof((a)[0]))
#define PF(x)		   (1ull << VH_USER_PROTOCOL_F_##x)
#define F_PF		   (1ull << VH_USER_F_PROTOCOL_FEATURES)
#define F_LOG		   (1ull << VHOST_F_LOG_ALL)
#define F_V1		   (1ull << VIRTIO_F_VERSION_1)
#define F_IOMMU		   (1ull << VIRTIO_F_ACCESS_PLATFORM)
#define NR		   VH_USER_FLAG_NEED_REPLY

#define MEM_SIZE	   0x10000ull /* 16 pages of guest RAM at gpa 0 */
#define RING_NUM	   8
#define DESC_GPA	   0x1000ull
#define AVAIL_GPA	   0x2000ull
#define USED_GPA	   0x3000ull
#define RING_STRIDE	   0x4000ull /* ring i lives at i * RING_STRIDE + *_GPA */

struct env {
	struct fake f;
	int memfd;
	uint8_t *mem;
	struct vh_dev *dev;
	struct vh_test_log log;
	int kick, call;
	int timeout_ms;
	bool server;
	int fds;	    /* open fds after env_init(), checked by env_finish() */
	bool no_fd_check;   /* several envs interleaved */
	bool gpa_addresses; /* scripts: GPA_ADDRESSES acked, user addresses are guest addresses */
	uint64_t features, protocol_features;
	int (*translate)(void *opaque, uint64_t iova, int perm, uint64_t *uva, uint64_t *size);
	void (*config_changed)(void *opaque);
	void *opaque;
	int (*shmem_map)(void *opaque, const struct vh_dev_shmem_req *req);
	int (*shmem_unmap)(void *opaque, const struct vh_dev_shmem_req *req);
	void (*host_notifier)(void *opaque, unsigned index);
};

static ENV_UNUSED void env_init(struct env *e, const char *tag)
{
	memset(e, 0, sizeof(*e));
	fake_init(&e->f, tag);
	e->mem = vh_test_guest_ram(MEM_SIZE, &e->memfd);
	e->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	e->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	e->timeout_ms = 2000;
	e->features = ~0ull;
	e->fds = vh_test_count_fds();
}

static ENV_UNUSED int env_create(struct env *e, uint64_t protocol_features)
{
	char path[160];
	struct vh_dev_config cfg = {
		.path = path,
		.server = e->server,
		.features = e->features,
		.protocol_features = protocol_features,
		.num_queues = 2,
		.timeout_ms = e->timeout_ms,
		.name = "fake",
		.log = vh_test_sink(&e->log),
		.iotlb_translate = e->translate,
		.config_changed = e->config_changed,
		.opaque = e->opaque,
		.shmem_map = e->shmem_map,
		.shmem_unmap = e->shmem_unmap,
		.host_notifier = e->host_notifier,
	};

	snprintf(path, sizeof(path), "unix:%s", e->f.path);
	return vh_dev_create(&cfg, &e->dev);
}

static ENV_UNUSED void env_cleanup(struct env *e)
{
	vh_dev_destroy(&e->dev);
	assert_null(e->dev);
	munmap(e->mem, MEM_SIZE);
	close(e->memfd);
	close(e->kick);
	close(e->call);
}

/* Destroy the device, check the fake ran its whole script and saw the hang-up. */
static ENV_UNUSED void env_finish(struct env *e)
{
	vh_dev_destroy(&e->dev);
	assert_string_equal(fake_finish(&e->f), "");
	/* Nothing the device opened (eventfds, sockets, logs, inflight maps) stays open. */
	if (!e->no_fd_check)
		assert_int_equal(vh_test_count_fds(), e->fds);
	env_cleanup(e);
}

static ENV_UNUSED void env_mem(struct env *e)
{
	vh_test_dev_mem(e->dev, e->mem, e->memfd, MEM_SIZE);
}

static ENV_UNUSED void env_ring(struct env *e, unsigned idx, uint32_t base)
{
	struct vh_dev_vring vr = {
		.index = idx,
		.num = RING_NUM,
		.desc_gpa = DESC_GPA + idx * RING_STRIDE,
		.avail_gpa = AVAIL_GPA + idx * RING_STRIDE,
		.used_gpa = USED_GPA + idx * RING_STRIDE,
		.base = base,
		.kick_fd = e->kick,
		.call_fd = e->call,
	};

	assert_int_equal(vh_dev_vring_setup(e->dev, &vr), 0);
}

static ENV_UNUSED void script_handshake_plain(struct fake *f, uint64_t features)
{
	fake_get_u64(f, VH_USER_GET_FEATURES, features);
	fake_expect(f, VH_USER_SET_OWNER, 0, NULL, 0, 0);
	fake_get_u64(f, VH_USER_GET_FEATURES, features);
}

/* The seed's vhost_user_backend_init + vhost_dev_init order. */
static ENV_UNUSED void script_handshake_full(struct env *e, uint64_t features, uint64_t offer,
					     uint64_t acked, unsigned queues, unsigned slots)
{
	uint32_t nr = acked & PF(REPLY_ACK) ? NR : 0;
	struct fake_step *s;

	fake_get_u64(&e->f, VH_USER_GET_FEATURES, features);
	fake_get_u64(&e->f, VH_USER_GET_PROTOCOL_FEATURES, offer);
	fake_expect_u64(&e->f, VH_USER_SET_PROTOCOL_FEATURES, 0, acked);
	if (acked & PF(MQ))
		fake_get_u64(&e->f, VH_USER_GET_QUEUE_NUM, queues);
	if (acked & PF(CONFIGURE_MEM_SLOTS))
		fake_get_u64(&e->f, VH_USER_GET_MAX_MEM_SLOTS, slots);
	if (acked & PF(BACKEND_REQ)) {
		s = fake_expect(&e->f, VH_USER_SET_BACKEND_REQ_FD, nr, NULL, 0, 1);
		s->keep = 0;
	}
	fake_expect(&e->f, VH_USER_SET_OWNER, nr, NULL, 0, 0);
	fake_get_u64(&e->f, VH_USER_GET_FEATURES, features);
}

static ENV_UNUSED void script_mem(struct env *e, uint32_t nr)
{
	struct vh_user_mem_table t = { .nregions = 1 };

	t.regions[0].guest_phys_addr = 0;
	t.regions[0].memory_size = MEM_SIZE;
	t.regions[0].userspace_addr = e->gpa_addresses ? 0 : (uint64_t)(uintptr_t)e->mem;
	t.regions[0].mmap_offset = 0;
	fake_expect(&e->f, VH_USER_SET_MEM_TABLE, nr, &t, 8 + 32, 1);
}

static ENV_UNUSED void script_ring_addr(struct env *e, uint32_t nr, unsigned idx, bool log)
{
	uint64_t off = idx * RING_STRIDE;
	uint64_t host = e->gpa_addresses ? 0 : (uint64_t)(uintptr_t)e->mem;
	struct vhost_vring_addr a = {
		.index = idx,
		.flags = log ? 1u << VHOST_VRING_F_LOG : 0,
		.desc_user_addr = host + DESC_GPA + off,
		.used_user_addr = host + USED_GPA + off,
		.avail_user_addr = host + AVAIL_GPA + off,
		.log_guest_addr = USED_GPA + off,
	};

	fake_expect(&e->f, VH_USER_SET_VRING_ADDR, nr, &a, sizeof(a), 0);
}

/* NUM, BASE, ADDR, CALL, ERR, KICK (the seed's vhost_virtqueue_start, call before the kick). */
static ENV_UNUSED void script_ring_start(struct env *e, uint32_t nr, unsigned idx, uint32_t base,
					 bool log)
{
	uint64_t u = idx;

	fake_expect_state(&e->f, VH_USER_SET_VRING_NUM, nr, idx, RING_NUM);
	fake_expect_state(&e->f, VH_USER_SET_VRING_BASE, nr, idx, base);
	script_ring_addr(e, nr, idx, log);
	fake_expect(&e->f, VH_USER_SET_VRING_CALL, nr, &u, 8, 1);
	fake_expect(&e->f, VH_USER_SET_VRING_ERR, nr, &u, 8, 1);
	fake_expect(&e->f, VH_USER_SET_VRING_KICK, nr, &u, 8, 1);
}

static ENV_UNUSED void script_ring_stop(struct env *e, uint32_t nr, unsigned idx, uint32_t base,
					bool enable)
{
	struct fake_step *s;

	if (enable)
		fake_expect_state(&e->f, VH_USER_SET_VRING_ENABLE, nr, idx, 0);
	s = fake_expect_state(&e->f, VH_USER_GET_VRING_BASE, 0, idx, 0);
	s->kind = R_MSG;
	vh_msg_init(&s->reply, VH_USER_GET_VRING_BASE, VH_USER_FLAG_REPLY,
		    sizeof(struct vhost_vring_state));
	s->reply.payload.state.index = idx;
	s->reply.payload.state.num = base;
}

#endif
