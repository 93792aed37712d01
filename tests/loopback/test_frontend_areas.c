// SPDX-License-Identifier: BSD-3-Clause
/*
 * vh_dev's GPA_ADDRESSES, SHMEM and HOST_NOTIFIER against a scripted fake backend: the exact
 * bytes it sends (guest addresses in the memory table and SET_VRING_ADDR when GPA_ADDRESSES was
 * asked for, GET_SHMEM_CONFIG after the back-end channel), and what it does with what a hostile
 * back-end sends on that channel: every BACKEND_SHMEM_MAP / _UNMAP and
 * BACKEND_VRING_HOST_NOTIFIER_MSG with a bad region id, offset, length, overflow or flag is
 * refused with its errno in the REPLY_ACK, nothing is mapped, nothing leaks and the device
 * keeps working; good ones land where the VMM (or the library's reservation) sees them.
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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/virtio_config.h>

#include <vhost/frontend.h>

#include "frontend_fake.h"
#include "unit_helpers.h"

#include "frontend_env.h"

#define PAGE 4096ull

/* GPA_ADDRESSES, asked for: user addresses on the wire are guest physical addresses. */
static void test_gpa_addresses(void **state)
{
	uint64_t pf = PF(REPLY_ACK) | PF(GPA_ADDRESSES);
	struct env e;

	(void)state;
	env_init(&e, "gpa");
	e.gpa_addresses = true; /* region userspace_addr 0 and ring addresses DESC_GPA... */
	script_handshake_full(&e, F_V1 | F_PF, pf, pf, 0, 0);
	fake_expect_u64(&e.f, VH_USER_SET_FEATURES, NR, F_V1 | F_PF);
	script_mem(&e, NR);
	script_ring_start(&e, NR, 0, 0, false);
	fake_expect_state(&e.f, VH_USER_SET_VRING_ENABLE, NR, 0, 1);
	script_ring_stop(&e, NR, 0, 0, true);
	assert_int_equal(fake_start(&e.f), 0);
	assert_int_equal(env_create(&e, pf), 0);
	assert_int_equal(vh_dev_protocol_features(e.dev), pf);
	assert_int_equal(vh_dev_ack_features(e.dev, F_V1), 0);
	env_mem(&e);
	env_ring(&e, 0, 0);
	assert_int_equal(vh_dev_start(e.dev), 0);
	assert_int_equal(vh_dev_stop(e.dev, NULL, 0), 0);
	env_finish(&e);
}

/* Offered but not asked for: not acked (rust-vmm <= 0.16 means SHMEM by bit 21). */
static void test_gpa_addresses_opt_in(void **state)
{
	uint64_t pf = PF(REPLY_ACK) | PF(GPA_ADDRESSES);
	struct env e;

	(void)state;
	env_init(&e, "gpa-default");
	script_handshake_full(&e, F_V1 | F_PF, pf, PF(REPLY_ACK), 0, 0);
	assert_int_equal(fake_start(&e.f), 0);
	assert_int_equal(env_create(&e, 0), 0);
	assert_int_equal(vh_dev_backend_protocol_features(e.dev), pf);
	assert_int_equal(vh_dev_protocol_features(e.dev), PF(REPLY_ACK));
	env_finish(&e);
}

#define PF_AREAS (PF(REPLY_ACK) | PF(BACKEND_REQ) | PF(BACKEND_SEND_FD))

static void script_handshake_shmem(struct env *e, uint64_t pf,
				   const struct vh_user_shmem_config *sc)
{
	struct fake_step *s;

	fake_get_u64(&e->f, VH_USER_GET_FEATURES, F_V1 | F_PF);
	fake_get_u64(&e->f, VH_USER_GET_PROTOCOL_FEATURES, pf);
	fake_expect_u64(&e->f, VH_USER_SET_PROTOCOL_FEATURES, 0, pf);
	s = fake_expect(&e->f, VH_USER_SET_BACKEND_REQ_FD, NR, NULL, 0, 1);
	s->keep = 0;
	s = fake_expect(&e->f, VH_USER_GET_SHMEM_CONFIG, 0, NULL, 0, 0);
	s->kind = R_MSG;
	vh_msg_init(&s->reply, VH_USER_GET_SHMEM_CONFIG, VH_USER_FLAG_REPLY, sizeof(*sc));
	s->reply.payload.shmem_config = *sc;
}

/* One back-end request with NEED_REPLY (and @fd): dispatch until the REPLY_ACK comes; its u64. */
static uint64_t chan_request(struct env *e, struct vh_msg *m, int fd)
{
	struct vh_msg r;

	if (fd >= 0) {
		m->fds[0] = fd;
		m->nfds = 1;
	}
	m->hdr.flags |= VH_USER_FLAG_NEED_REPLY;
	assert_int_equal(vh_sock_send(e->f.kept[0], m), 0);
	for (int i = 0; i < 500; i++) {
		assert_true(vh_dev_dispatch(e->dev) >= 0);
		if (vh_sock_recv(e->f.kept[0], &r, 5) == 0) {
			assert_int_equal(r.hdr.request, m->hdr.request);
			assert_int_equal(r.hdr.flags, VH_USER_VERSION | VH_USER_FLAG_REPLY);
			assert_int_equal(r.hdr.size, 8);
			return r.payload.u64;
		}
	}
	fail_msg("no reply to back-end request %u", m->hdr.request);
	return ~0ull;
}

static uint64_t shmem_request(struct env *e, uint32_t req, uint8_t shmid, int fd, uint64_t fd_off,
			      uint64_t off, uint64_t len, uint64_t flags)
{
	struct vh_msg m;

	vh_msg_init(&m, req, 0, sizeof(struct vh_user_shmem_map));
	m.payload.shmem_map = (struct vh_user_shmem_map){
		.shmid = shmid, .fd_offset = fd_off, .shm_offset = off, .len = len, .flags = flags
	};
	return chan_request(e, &m, fd);
}

#define MAP(e, id, fd, fo, off, len, fl) \
	shmem_request(e, VH_USER_BACKEND_SHMEM_MAP, id, fd, fo, off, len, fl)
#define UNMAP(e, id, off, len) shmem_request(e, VH_USER_BACKEND_SHMEM_UNMAP, id, -1, 0, off, len, 0)

static const struct vh_user_shmem_config shm_cfg = {
	.nregions = 2, .memory_sizes = { [1] = 4 * PAGE, [3] = 2 * PAGE }
};

/* The library's own reservation: mappings show the backend's bytes; hostile requests refused. */
static void test_shmem_reserved(void **state)
{
	uint64_t pf = PF_AREAS | PF(SHMEM), size = 0;
	uint8_t *base = NULL;
	char buf[8];
	struct env e;
	int fd;

	(void)state;
	env_init(&e, "shmem");
	fd = memfd_create("shm", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4 * PAGE), 0);
	assert_int_equal(pwrite(fd, "shmem!", 6, PAGE), 6);
	script_handshake_shmem(&e, pf, &shm_cfg);
	fake_expect(&e.f, VH_USER_SET_OWNER, NR, NULL, 0, 0);
	fake_get_u64(&e.f, VH_USER_GET_FEATURES, F_V1 | F_PF);
	assert_int_equal(fake_start(&e.f), 0);
	assert_int_equal(env_create(&e, 0), 0);
	assert_int_equal(vh_dev_protocol_features(e.dev), pf);
	assert_int_equal(vh_dev_shmem_count(e.dev), 4);
	assert_int_equal(vh_dev_shmem_region(e.dev, 1, &size, (void **)&base), 0);
	assert_int_equal(size, 4 * PAGE);
	assert_non_null(base);
	assert_int_equal(vh_dev_shmem_region(e.dev, 2, &size, NULL), -ENOENT);
	assert_int_equal(vh_dev_shmem_region(e.dev, 300, &size, NULL), -ENOENT);

	/* fd pages 0-1 at region offset 2 pages, read-write: the bytes show through. */
	assert_int_equal(MAP(&e, 1, fd, 0, 2 * PAGE, 2 * PAGE, VH_USER_SHMEM_MAP_RW), 0);
	assert_memory_equal(base + 3 * PAGE, "shmem!", 6);
	base[2 * PAGE] = 'w';
	assert_int_equal(pread(fd, buf, 1, 0), 1);
	assert_int_equal(buf[0], 'w');

	/* Hostile or wrong requests: the errno comes back, nothing changes. */
	assert_int_equal(MAP(&e, 1, fd, 0, 3 * PAGE, PAGE, 0), EBUSY); /* overlaps */
	assert_int_equal(MAP(&e, 2, fd, 0, 0, PAGE, 0), EINVAL);       /* unused shmid */
	assert_int_equal(MAP(&e, 255, fd, 0, 0, PAGE, 0), EINVAL);     /* no such shmid */
	assert_int_equal(MAP(&e, 1, fd, 0, ~0ull - PAGE + 1, 2 * PAGE, 0), EINVAL); /* wraps */
	assert_int_equal(MAP(&e, 1, fd, 0, 3 * PAGE, 2 * PAGE, 0), EINVAL);	/* past the end */
	assert_int_equal(MAP(&e, 3, fd, 0, 0, 3 * PAGE, 0), EINVAL);		/* bigger region */
	assert_int_equal(MAP(&e, 1, fd, 0, 0, 0, 0), EINVAL);			/* empty */
	assert_int_equal(MAP(&e, 1, fd, 0, 0, 100, 0), EINVAL);			/* not a page */
	assert_int_equal(MAP(&e, 1, fd, 16, 0, PAGE, 0), EINVAL);		/* fd offset */
	assert_int_equal(MAP(&e, 1, fd, ~0ull - PAGE + 1, 0, PAGE, 0), EINVAL); /* fd wraps */
	assert_int_equal(MAP(&e, 1, fd, 0, 0, PAGE, 2), EINVAL);		/* unknown flag */
	assert_int_equal(UNMAP(&e, 1, 2 * PAGE, PAGE), EINVAL);			/* half of one */
	assert_int_equal(UNMAP(&e, 3, 0, PAGE), EINVAL);			/* never mapped */
	assert_memory_equal(base + 3 * PAGE, "shmem!", 6);

	/* Read-only elsewhere, then unmap both; the range can be mapped again. */
	assert_int_equal(MAP(&e, 1, fd, PAGE, 0, PAGE, 0), 0);
	assert_memory_equal(base, "shmem!", 6);
	assert_int_equal(UNMAP(&e, 1, 0, PAGE), 0);
	assert_int_equal(UNMAP(&e, 1, 2 * PAGE, 2 * PAGE), 0);
	assert_int_equal(UNMAP(&e, 1, 2 * PAGE, 2 * PAGE), EINVAL); /* twice */
	assert_int_equal(MAP(&e, 1, fd, 0, PAGE, 3 * PAGE, VH_USER_SHMEM_MAP_RW), 0);
	assert_int_equal(vh_dev_dispatch(e.dev), 0);
	close(fd);
	env_finish(&e);
}

struct shm_vmm {
	int maps, unmaps, ret;
	struct vh_dev_shmem_req last;
	int notified[4];
};

static int vmm_map(void *opaque, const struct vh_dev_shmem_req *req)
{
	struct shm_vmm *v = opaque;

	v->maps++;
	v->last = *req;
	return v->ret;
}

static int vmm_unmap(void *opaque, const struct vh_dev_shmem_req *req)
{
	struct shm_vmm *v = opaque;

	v->unmaps++;
	v->last = *req;
	return 0;
}

/* The VMM's callbacks see only checked requests; their errno goes back to the backend. */
static void test_shmem_callback(void **state)
{
	uint64_t pf = PF_AREAS | PF(SHMEM), size;
	struct shm_vmm v = { 0 };
	void *addr = &v;
	struct env e;

	(void)state;
	env_init(&e, "shmem-cb");
	e.shmem_map = vmm_map;
	e.shmem_unmap = vmm_unmap;
	e.opaque = &v;
	script_handshake_shmem(&e, pf, &shm_cfg);
	fake_expect(&e.f, VH_USER_SET_OWNER, NR, NULL, 0, 0);
	fake_get_u64(&e.f, VH_USER_GET_FEATURES, F_V1 | F_PF);
	assert_int_equal(fake_start(&e.f), 0);
	assert_int_equal(env_create(&e, 0), 0);
	assert_int_equal(vh_dev_shmem_region(e.dev, 3, &size, &addr), 0);
	assert_int_equal(size, 2 * PAGE);
	assert_null(addr); /* the VMM maps regions itself */
	assert_int_equal(MAP(&e, 3, e.memfd, PAGE, PAGE, PAGE, VH_USER_SHMEM_MAP_RW), 0);
	assert_int_equal(v.maps, 1);
	assert_int_equal(v.last.shmid, 3);
	assert_true(v.last.fd >= 0);
	assert_int_equal(v.last.fd_offset, PAGE);
	assert_int_equal(v.last.shm_offset, PAGE);
	assert_int_equal(v.last.len, PAGE);
	assert_true(v.last.writable);
	assert_int_equal(MAP(&e, 3, e.memfd, 0, 2 * PAGE, PAGE, 0), EINVAL);
	v.ret = -ENOSPC;
	assert_int_equal(MAP(&e, 3, e.memfd, 0, 0, PAGE, 0), ENOSPC);
	assert_int_equal(v.maps, 2);
	assert_int_equal(UNMAP(&e, 3, 0, PAGE), EINVAL); /* the refused map was not recorded */
	assert_int_equal(UNMAP(&e, 3, PAGE, PAGE), 0);
	assert_int_equal(v.unmaps, 1);
	assert_int_equal(v.last.fd, -1);
	env_finish(&e);
}

/* A GET_SHMEM_CONFIG that breaks the rules fails the create: -EPROTO, nothing left open. */
static void test_shmem_bad_config(void **state)
{
	struct vh_user_shmem_config bad[2] = {
		{ .nregions = 1, .memory_sizes = { PAGE, PAGE } },	 /* count does not match */
		{ .nregions = 1, .memory_sizes = { [7] = PAGE + 512 } }, /* not whole pages */
	};

	(void)state;
	for (unsigned i = 0; i < 2; i++) {
		struct env e;

		env_init(&e, "shmem-bad");
		script_handshake_shmem(&e, PF_AREAS | PF(SHMEM), &bad[i]);
		assert_int_equal(fake_start(&e.f), 0);
		assert_int_equal(env_create(&e, 0), -EPROTO);
		assert_null(e.dev);
		env_finish(&e);
	}
}

static void notifier_cb(void *opaque, unsigned index)
{
	((struct shm_vmm *)opaque)->notified[index & 3]++;
}

static uint64_t notifier_request(struct env *e, uint64_t u64, uint64_t size, uint64_t off, int fd)
{
	struct vh_msg m;

	vh_msg_init(&m, VH_USER_BACKEND_VRING_HOST_NOTIFIER_MSG, 0,
		    sizeof(struct vh_user_vring_area));
	m.payload.area = (struct vh_user_vring_area){ .u64 = u64, .size = size, .offset = off };
	return chan_request(e, &m, fd);
}

/*
 * HOST_NOTIFIER: the page is mapped, handed to the VMM, and kicks write the ring index into it
 * instead of the eventfd; bad pages are refused; "no fd" takes it back and kicks go back to
 * the eventfd.
 */
static void test_host_notifier(void **state)
{
	uint64_t pf = PF_AREAS | PF(HOST_NOTIFIER), v64;
	struct vh_dev_host_notifier n;
	struct shm_vmm v = { 0 };
	volatile uint16_t *page;
	struct env e;
	int fd;

	(void)state;
	env_init(&e, "notifier");
	fd = memfd_create("doorbell", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 2 * PAGE), 0);
	page = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(page != MAP_FAILED);
	page[PAGE / 2] = 0xffff;
	e.host_notifier = notifier_cb;
	e.opaque = &v;
	script_handshake_full(&e, F_V1 | F_PF, pf, pf, 0, 0);
	fake_expect_u64(&e.f, VH_USER_SET_FEATURES, NR, F_V1 | F_PF);
	script_mem(&e, NR);
	script_ring_start(&e, NR, 0, 0, false);
	fake_expect_state(&e.f, VH_USER_SET_VRING_ENABLE, NR, 0, 1);
	script_ring_stop(&e, NR, 0, 0, true);
	assert_int_equal(fake_start(&e.f), 0);
	assert_int_equal(env_create(&e, 0), 0);
	assert_int_equal(vh_dev_protocol_features(e.dev), pf);
	assert_int_equal(vh_dev_ack_features(e.dev, F_V1), 0);
	env_mem(&e);
	env_ring(&e, 0, 0);
	assert_int_equal(vh_dev_start(e.dev), 0);
	assert_int_equal(read(e.kick, &v64, 8), 8); /* the kick after start */
	assert_int_equal(vh_dev_vring_host_notifier(e.dev, 0, &n), -ENOENT);

	assert_int_equal(notifier_request(&e, 0, PAGE, PAGE, fd), 0);
	assert_int_equal(v.notified[0], 1);
	assert_int_equal(vh_dev_vring_host_notifier(e.dev, 0, &n), 0);
	assert_true(n.fd >= 0 && n.fd != fd);
	assert_int_equal(n.offset, PAGE);
	assert_int_equal(n.size, PAGE);
	assert_non_null(n.addr);
	assert_int_equal(vh_dev_vring_kick(e.dev, 0), 0);
	assert_int_equal(page[PAGE / 2], 0);	     /* ring 0's index, written through the page */
	assert_int_equal(read(e.kick, &v64, 8), -1); /* not the eventfd */

	/* Refused, and ring 0 keeps its page. */
	assert_int_equal(notifier_request(&e, 2, PAGE, 0, fd), EINVAL);	    /* ring >= num_queues */
	assert_int_equal(notifier_request(&e, 0, 2 * PAGE, 0, fd), EINVAL); /* not one page */
	assert_int_equal(notifier_request(&e, 0, PAGE, 16, fd), EINVAL);    /* unaligned */
	assert_int_equal(notifier_request(&e, 0, PAGE, 2 * PAGE, fd), EINVAL); /* past the fd */
	assert_int_equal(notifier_request(&e, 0, PAGE, ~0ull - PAGE + 1, fd), EINVAL); /* wraps */
	assert_int_equal(notifier_request(&e, 1ull << 9, PAGE, 0, fd), EINVAL); /* reserved bit */
	assert_int_equal(v.notified[0], 1);
	assert_int_equal(vh_dev_vring_host_notifier(e.dev, 0, &n), 0);

	/* No fd: gone; kicks use the eventfd again. */
	assert_int_equal(notifier_request(&e, VH_USER_VRING_NOFD_MASK, 0, 0, -1), 0);
	assert_int_equal(v.notified[0], 2);
	assert_int_equal(vh_dev_vring_host_notifier(e.dev, 0, &n), -ENOENT);
	assert_int_equal(vh_dev_vring_kick(e.dev, 0), 0);
	assert_int_equal(read(e.kick, &v64, 8), 8);
	assert_int_equal(vh_dev_stop(e.dev, NULL, 0), 0);
	munmap((void *)page, 2 * PAGE);
	close(fd);
	env_finish(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gpa_addresses),
		cmocka_unit_test(test_gpa_addresses_opt_in),
		cmocka_unit_test(test_shmem_reserved),
		cmocka_unit_test(test_shmem_callback),
		cmocka_unit_test(test_shmem_bad_config),
		cmocka_unit_test(test_host_notifier),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
