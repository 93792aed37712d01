// SPDX-License-Identifier: BSD-3-Clause
/*
 * frontend/transport_ioctl.c, transport_kernel.c, kernel_devices.c (vhost-kernel) against a fake
 * kernel (fake_ioctl.h): the exact request numbers, argument structs and IOTLB message bytes the
 * kernel would see, and the kernel's errors (EFAULT, ENOTTY, EOPNOTSUPP, short reads).
 */
#include "fake_ioctl.h"

/* ---- vhost-kernel ------------------------------------------------------------------------- */

static void test_pick_transport(void **state)
{
	(void)state;
	assert_ptr_equal(vh_ioctl_transport_for("/dev/vhost-vdpa-0"), &vh_transport_vdpa);
	assert_ptr_equal(vh_ioctl_transport_for("/dev/vhost-vdpa-12"), &vh_transport_vdpa);
	assert_ptr_equal(vh_ioctl_transport_for("/dev/vhost-net"), &vh_transport_kernel);
	assert_ptr_equal(vh_ioctl_transport_for("/dev/vhost-vsock"), &vh_transport_kernel);
	assert_ptr_equal(vh_ioctl_transport_for("/dev/null"), &vh_transport_kernel);
	assert_null(vh_ioctl_transport_for("/tmp"));
	assert_null(vh_ioctl_transport_for("/nonexistent/sock"));
	assert_null(vh_ioctl_transport_for("tcp:1.2.3.4"));
}

static void test_kernel_create_sequence(void **state)
{
	static const unsigned long want[] = { VHOST_SET_OWNER, VHOST_GET_BACKEND_FEATURES,
					      VHOST_SET_BACKEND_FEATURES, VHOST_GET_FEATURES };
	struct env *e = *state;
	struct vh_dev_ioctl_info info;
	uint64_t v;

	fk_init(&e->f);
	e->f.k.backend =
	    (1ull << VHOST_BACKEND_F_IOTLB_MSG_V2) | (1ull << VHOST_BACKEND_F_IOTLB_ASID);
	e->f.max_regions = "3\n";
	env_create(e, "/dev/vhost-net");
	assert_int_equal(e->f.calls[0].op, FK_OPEN);
	assert_string_equal((const char *)e->f.calls[0].buf, "/dev/vhost-net");
	fk_expect_ioctls(&e->f, 0, want, 4);
	/* SET_OWNER takes no argument; only the backend features we implement are acked. */
	assert_int_equal(e->f.calls[fk_find(&e->f, 0, VHOST_SET_OWNER)].len, 0);
	memcpy(&v, e->f.calls[fk_find(&e->f, 0, VHOST_SET_BACKEND_FEATURES)].buf, 8);
	assert_int_equal(v, 1ull << VHOST_BACKEND_F_IOTLB_MSG_V2);
	assert_int_equal(vh_dev_backend_features(e->dev), e->f.k.features);
	assert_int_equal(vh_dev_max_queues(e->dev), 2);
	assert_int_equal(vh_dev_max_mem_slots(e->dev), 3);
	assert_int_equal(vh_dev_ioctl_info(e->dev, &info), 0);
	assert_int_equal(info.device_id, VIRTIO_ID_NET);
	assert_int_equal(info.max_mem_regions, 3);
	assert_int_equal(info.backend_features, e->f.k.backend);
	assert_int_equal(info.backend_features_acked, 1ull << VHOST_BACKEND_F_IOTLB_MSG_V2);
	assert_false(info.vdpa);
	assert_int_equal(vh_dev_event_fd(e->dev), FK_DEV_FD);
	env_destroy(e);
}

/* vhost-scsi has no backend features ioctl: ENOTTY, and v1 IOTLB messages from then on. */
static void test_kernel_no_backend_features(void **state)
{
	struct env *e = *state;
	struct vh_dev_ioctl_info info;

	fk_init(&e->f);
	fk_fail(&e->f, VHOST_GET_BACKEND_FEATURES, ENOTTY);
	e->f.max_regions = NULL; /* no sysfs parameter: the kernel's default 64 */
	env_create(e, "/dev/vhost-scsi");
	assert_int_equal(fk_count(&e->f, 0, VHOST_SET_BACKEND_FEATURES), 0);
	assert_int_equal(vh_dev_max_mem_slots(e->dev), 64);
	assert_int_equal(vh_dev_ioctl_info(e->dev, &info), 0);
	assert_int_equal(info.device_id, VIRTIO_ID_SCSI);
	assert_int_equal(info.backend_features_acked, 0);
	env_destroy(e);
}

/* A refused ack leaves the one before it standing: a reconnect replays that, not the refused bits. */
static void test_kernel_features_refused(void **state)
{
	const uint64_t v1 = 1ull << VIRTIO_F_VERSION_1, mrg = 1ull << 15;
	struct env *e = *state;
	unsigned before;
	uint64_t v;
	int set;

	fk_init(&e->f);
	env_create(e, "/dev/vhost-net");
	assert_int_equal(vh_dev_ack_features(e->dev, v1), 0);
	fk_fail(&e->f, VHOST_SET_FEATURES, EINVAL);
	assert_int_equal(vh_dev_ack_features(e->dev, v1 | mrg), -EINVAL);
	e->f.nerrs = 0;
	before = e->f.ncalls;
	assert_int_equal(vh_dev_reconnect(e->dev), 0);
	set = fk_find(&e->f, before, VHOST_SET_FEATURES);
	assert_true(set >= 0);
	memcpy(&v, e->f.calls[set].buf, 8);
	assert_int_equal(v, v1);
	env_destroy(e);
}

static void test_kernel_set_owner_fails(void **state)
{
	struct env *e = *state;
	struct vh_dev_config cfg = env_cfg(e, "/dev/vhost-vsock");
	struct vh_dev *dev = NULL;

	fk_init(&e->f);
	fk_fail(&e->f, VHOST_SET_OWNER, EBUSY);
	assert_int_equal(vh_dev_create_sys(&cfg, &e->f.sys, &dev), -EBUSY);
	assert_null(dev);
	assert_non_null(strstr(e->log.last, "VHOST_SET_OWNER"));
	assert_int_equal(e->f.calls[e->f.ncalls - 1].op, FK_CLOSE);
	assert_int_equal(e->f.calls[e->f.ncalls - 1].fd, FK_DEV_FD);
}

static void test_kernel_mem_table(void **state)
{
	struct env *e = *state;
	struct vhost_memory_region r[2];
	struct vhost_memory hdr;
	int i;

	fk_init(&e->f);
	env_create(e, "/dev/vhost-net");
	env_mem(e, 2);
	assert_int_equal(vh_dev_mem_commit(e->dev), 0);
	i = fk_find(&e->f, 0, VHOST_SET_MEM_TABLE);
	assert_true(i >= 0);
	assert_int_equal(e->f.calls[i].len, sizeof(hdr) + sizeof(r));
	memcpy(&hdr, e->f.calls[i].buf, sizeof(hdr));
	memcpy(r, e->f.calls[i].buf + sizeof(hdr), sizeof(r));
	assert_int_equal(hdr.nregions, 2);
	assert_int_equal(hdr.padding, 0);
	assert_int_equal(r[0].guest_phys_addr, 0);
	assert_int_equal(r[0].memory_size, 0x10000);
	assert_int_equal(r[0].userspace_addr, (uintptr_t)e->ram);
	assert_int_equal(r[0].flags_padding, 0);
	assert_int_equal(r[1].guest_phys_addr, 1 << 20);
	assert_int_equal(r[1].memory_size, 0x10000);
	assert_int_equal(r[1].userspace_addr, (uintptr_t)(e->ram + 0x20000));

	/* The kernel cannot read the table (EFAULT): the commit fails with its error, logged. */
	fk_fail(&e->f, VHOST_SET_MEM_TABLE, EFAULT);
	env_mem(e, 1);
	assert_int_equal(vh_dev_mem_commit(e->dev), -EFAULT);
	assert_non_null(strstr(e->log.last, "VHOST_SET_MEM_TABLE"));
	assert_non_null(strstr(e->log.last, strerror(EFAULT)));
	env_destroy(e);
}

static void test_kernel_region_limit(void **state)
{
	struct env *e = *state;
	unsigned before;

	fk_init(&e->f);
	e->f.max_regions = "2";
	env_create(e, "/dev/vhost-net");
	env_mem(e, 3);
	before = e->f.ncalls;
	assert_int_equal(vh_dev_mem_commit(e->dev), -ENOSPC);
	assert_int_equal(fk_count(&e->f, before, VHOST_SET_MEM_TABLE), 0);
	env_mem(e, 2);
	assert_int_equal(vh_dev_mem_commit(e->dev), 0);
	assert_int_equal(fk_count(&e->f, before, VHOST_SET_MEM_TABLE), 1);
	env_destroy(e);
}

/* Start: NUM, BASE, ADDR (this process's addresses), CALL, ERR, KICK, each for ring 0. */
static void expect_ring_start(struct env *e, unsigned before)
{
	static const unsigned long start[] = { VHOST_SET_VRING_NUM,  VHOST_SET_VRING_BASE,
					       VHOST_SET_VRING_ADDR, VHOST_SET_VRING_CALL,
					       VHOST_SET_VRING_ERR,  VHOST_SET_VRING_KICK };
	struct vhost_vring_state s;
	struct vhost_vring_addr a;
	struct vhost_vring_file fl;
	int i = fk_find(&e->f, before, VHOST_SET_VRING_NUM);

	fk_expect_ioctls(&e->f, before, start, 6);
	memcpy(&s, e->f.calls[i].buf, sizeof(s));
	assert_int_equal(s.index, 0);
	assert_int_equal(s.num, 256);
	memcpy(&s, e->f.calls[i + 1].buf, sizeof(s));
	assert_int_equal(s.num, 5);
	memcpy(&a, e->f.calls[i + 2].buf, sizeof(a));
	assert_int_equal(a.index, 0);
	assert_int_equal(a.flags, 0);
	assert_int_equal(a.desc_user_addr, (uintptr_t)e->ram + 0x1000);
	assert_int_equal(a.avail_user_addr, (uintptr_t)e->ram + 0x2000);
	assert_int_equal(a.used_user_addr, (uintptr_t)e->ram + 0x3000);
	assert_int_equal(a.log_guest_addr, 0x3000);
	memcpy(&fl, e->f.calls[i + 3].buf, sizeof(fl));
	assert_int_equal(fl.fd, vh_dev_vring_call_fd(e->dev, 0));
	memcpy(&fl, e->f.calls[i + 4].buf, sizeof(fl));
	assert_int_equal(fl.fd, vh_dev_vring_err_fd(e->dev, 0));
	assert_true(fl.fd >= 0);
	memcpy(&fl, e->f.calls[i + 5].buf, sizeof(fl));
	assert_int_equal(fl.fd, vh_dev_vring_kick_fd(e->dev, 0));
}

/* vhost-net: rings first, then VHOST_NET_SET_BACKEND; stop = backend -1, then GET_VRING_BASE. */
static void test_kernel_net_start_stop(void **state)
{
	static const unsigned long stop[] = { VHOST_NET_SET_BACKEND, VHOST_GET_VRING_BASE };
	struct env *e = *state;
	struct vhost_vring_file fl;
	uint32_t bases[2] = { 0 };
	uint64_t feat;
	unsigned before;

	fk_init(&e->f);
	env_create(e, "/dev/vhost-net");
	assert_int_equal(vh_dev_ack_features(e->dev, 1ull << VIRTIO_F_VERSION_1), 0);
	memcpy(&feat, e->f.calls[fk_find(&e->f, 0, VHOST_SET_FEATURES)].buf, 8);
	assert_int_equal(feat, 1ull << VIRTIO_F_VERSION_1);
	env_mem(e, 1);
	assert_int_equal(vh_dev_mem_commit(e->dev), 0);
	env_ring(e, 0);
	/* A backend before the ring runs: the kernel would fail it (EFAULT); caught here. */
	assert_int_equal(vh_kernel_net_set_backend(e->dev, 0, 7), -EINVAL);
	before = e->f.ncalls;
	assert_int_equal(vh_dev_start(e->dev), 0);
	expect_ring_start(e, before);

	before = e->f.ncalls;
	assert_int_equal(vh_kernel_net_set_backend(e->dev, 0, 7), 0);
	assert_int_equal(e->f.calls[before].req, VHOST_NET_SET_BACKEND);
	memcpy(&fl, e->f.calls[before].buf, sizeof(fl));
	assert_int_equal(fl.index, 0);
	assert_int_equal(fl.fd, 7);

	before = e->f.ncalls;
	assert_int_equal(vh_kernel_net_stop(e->dev, bases, 2), 0);
	fk_expect_ioctls(&e->f, before, stop, 2);
	memcpy(&fl, e->f.calls[before].buf, sizeof(fl));
	assert_int_equal(fl.fd, -1);
	assert_int_equal(bases[0], 77);
	env_destroy(e);
}

static void test_kernel_log_base(void **state)
{
	struct env *e = *state;
	uint64_t base, feat;
	struct vhost_vring_addr a;
	unsigned before;
	int i;

	fk_init(&e->f);
	env_create(e, "/dev/vhost-net");
	assert_int_equal(vh_dev_ack_features(e->dev, 1ull << VIRTIO_F_VERSION_1), 0);
	env_mem(e, 1);
	assert_int_equal(vh_dev_mem_commit(e->dev), 0);
	env_ring(e, 0);
	assert_int_equal(vh_dev_start(e->dev), 0);
	before = e->f.ncalls;
	assert_int_equal(vh_dev_log_start(e->dev), 0);
	i = fk_find(&e->f, before, VHOST_SET_LOG_BASE);
	assert_true(i >= 0);
	memcpy(&base, e->f.calls[i].buf, 8);
	assert_int_equal(base, (uintptr_t)vh_log_buf_addr(e->dev->logbuf));
	assert_true(base != 0);
	i = fk_find(&e->f, i, VHOST_SET_FEATURES);
	memcpy(&feat, e->f.calls[i].buf, 8);
	assert_int_equal(feat, (1ull << VIRTIO_F_VERSION_1) | (1ull << VHOST_F_LOG_ALL));
	i = fk_find(&e->f, i, VHOST_SET_VRING_ADDR);
	memcpy(&a, e->f.calls[i].buf, sizeof(a));
	assert_int_equal(a.flags, 1u << VHOST_VRING_F_LOG);
	assert_int_equal(vh_dev_stop(e->dev, NULL, 0), 0);
	env_destroy(e);
}

static void test_kernel_cross_endian(void **state)
{
	struct env *e = *state;
	struct vhost_vring_state s;
	unsigned before;

	fk_init(&e->f);
	env_create(e, "/dev/vhost-net");
	before = e->f.ncalls;
	assert_int_equal(vh_dev_set_vring_endian(e->dev, 1, true), 0);
	assert_int_equal(e->f.calls[before].req, VHOST_SET_VRING_ENDIAN);
	memcpy(&s, e->f.calls[before].buf, sizeof(s));
	assert_int_equal(s.index, 1);
	assert_int_equal(s.num, VHOST_VRING_BIG_ENDIAN);
	/* No CONFIG_VHOST_CROSS_ENDIAN_LEGACY: little-endian is native anyway, big is not possible. */
	fk_fail(&e->f, VHOST_SET_VRING_ENDIAN, ENOTTY);
	assert_int_equal(vh_dev_set_vring_endian(e->dev, 0, false), 0);
	assert_int_equal(vh_dev_set_vring_endian(e->dev, 0, true), -EOPNOTSUPP);
	assert_int_equal(vh_dev_set_vring_endian(e->dev, 2, false), -EINVAL);
	env_destroy(e);
}

static void test_kernel_busyloop(void **state)
{
	struct env *e = *state;
	struct vhost_vring_state s;
	unsigned before, usec = 0;

	fk_init(&e->f);
	env_create(e, "/dev/vhost-net");
	before = e->f.ncalls;
	assert_int_equal(vh_dev_set_busyloop_timeout(e->dev, 1, 300), 0);
	assert_int_equal(e->f.calls[before].req, VHOST_SET_VRING_BUSYLOOP_TIMEOUT);
	memcpy(&s, e->f.calls[before].buf, sizeof(s));
	assert_int_equal(s.index, 1);
	assert_int_equal(s.num, 300);
	assert_int_equal(vh_dev_get_busyloop_timeout(e->dev, 1, &usec), 0);
	assert_int_equal(e->f.calls[before + 1].req, VHOST_GET_VRING_BUSYLOOP_TIMEOUT);
	assert_int_equal(usec, 50);
	assert_int_equal(vh_dev_get_busyloop_timeout(e->dev, 2, &usec), -EINVAL);
	fk_fail(&e->f, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, ENOTTY);
	fk_fail(&e->f, VHOST_GET_VRING_BUSYLOOP_TIMEOUT, EOPNOTSUPP);
	assert_int_equal(vh_dev_set_busyloop_timeout(e->dev, 0, 10), -EOPNOTSUPP);
	assert_int_equal(vh_dev_get_busyloop_timeout(e->dev, 0, &usec), -EOPNOTSUPP);
	env_destroy(e);
}

static void test_kernel_vsock(void **state)
{
	struct env *e = *state;
	uint64_t cid;
	int run;
	unsigned before;

	fk_init(&e->f);
	env_create(e, "/dev/vhost-vsock");
	assert_int_equal(vh_kernel_vsock_set_guest_cid(e->dev, 2), -EINVAL);
	before = e->f.ncalls;
	assert_int_equal(vh_kernel_vsock_set_guest_cid(e->dev, 42), 0);
	assert_int_equal(e->f.calls[before].req, VHOST_VSOCK_SET_GUEST_CID);
	memcpy(&cid, e->f.calls[before].buf, 8);
	assert_int_equal(cid, 42);
	assert_int_equal(vh_dev_ack_features(e->dev, 1ull << VIRTIO_F_VERSION_1), 0);
	env_mem(e, 1);
	assert_int_equal(vh_dev_mem_commit(e->dev), 0);
	env_ring(e, 0);
	env_ring(e, 1);
	assert_int_equal(vh_dev_start(e->dev), 0);
	before = e->f.ncalls;
	assert_int_equal(vh_kernel_vsock_set_running(e->dev, true), 0);
	assert_int_equal(e->f.calls[before].req, VHOST_VSOCK_SET_RUNNING);
	memcpy(&run, e->f.calls[before].buf, sizeof(run));
	assert_int_equal(run, 1);
	before = e->f.ncalls;
	assert_int_equal(vh_kernel_vsock_stop(e->dev, NULL, 0), 0);
	{
		static const unsigned long stop[] = { VHOST_VSOCK_SET_RUNNING, VHOST_GET_VRING_BASE,
						      VHOST_GET_VRING_BASE };

		fk_expect_ioctls(&e->f, before, stop, 3);
	}
	memcpy(&run, e->f.calls[before].buf, sizeof(run));
	assert_int_equal(run, 0);
	env_destroy(e);
}

/* ---- IOTLB on the device fd --------------------------------------------------------------- */

static int translate(void *opaque, uint64_t iova, int perm, uint64_t *uva, uint64_t *size)
{
	(void)opaque;
	if (iova >= 0x100000)
		return -EFAULT;
	assert_int_equal(perm, VHOST_ACCESS_RW);
	*uva = 0x7f0000000000ull + iova;
	*size = 0x1000;
	return 0;
}

static void env_iommu(struct env *e, const char *path, uint64_t backend)
{
	struct vh_dev_config cfg = env_cfg(e, path);

	fk_init(&e->f);
	e->f.k.backend = backend;
	cfg.iotlb_translate = translate;
	assert_int_equal(vh_dev_create_sys(&cfg, &e->f.sys, &e->dev), 0);
	assert_int_equal(vh_dev_ack_features(e->dev, (1ull << VIRTIO_F_VERSION_1) |
							 (1ull << VIRTIO_F_ACCESS_PLATFORM)),
			 0);
	e->ram = NULL;
}

static void test_iotlb_miss_v2(void **state)
{
	struct env *e = *state;
	struct vhost_msg_v2 miss = { .type = VHOST_IOTLB_MSG_V2 }, want = { 0 };
	unsigned before;

	env_iommu(e, "/dev/vhost-net", 1ull << VHOST_BACKEND_F_IOTLB_MSG_V2);
	miss.iotlb = (struct vhost_iotlb_msg){ .iova = 0x5000,
					       .perm = VHOST_ACCESS_RW,
					       .type = VHOST_IOTLB_MISS };
	queue_msg(&e->f, &miss, sizeof(miss));
	before = e->f.ncalls;
	assert_int_equal(vh_dev_dispatch(e->dev), 1);
	/* read (the miss), write (the update), read (EAGAIN: nothing more) */
	assert_int_equal(e->f.ncalls - before, 3);
	assert_int_equal(e->f.calls[before].op, FK_READ);
	assert_int_equal(e->f.calls[before].len, sizeof(struct vhost_msg_v2));
	assert_int_equal(e->f.calls[before + 1].op, FK_WRITE);
	/* Field by field: a struct assignment may copy garbage into the padding we compare. */
	memset(&want, 0, sizeof(want));
	want.type = VHOST_IOTLB_MSG_V2;
	want.iotlb.iova = 0x5000;
	want.iotlb.size = 0x1000;
	want.iotlb.uaddr = 0x7f0000005000ull;
	want.iotlb.perm = VHOST_ACCESS_RW;
	want.iotlb.type = VHOST_IOTLB_UPDATE;
	assert_int_equal(e->f.calls[before + 1].len, sizeof(want));
	assert_memory_equal(e->f.calls[before + 1].buf, &want, sizeof(want));
	assert_int_equal(e->f.calls[before + 2].op, FK_READ);

	/* Invalidation from the caller. */
	before = e->f.ncalls;
	assert_int_equal(vh_dev_iotlb_invalidate(e->dev, 0x5000, 0x1000), 0);
	memset(&want, 0, sizeof(want));
	want.type = VHOST_IOTLB_MSG_V2;
	want.iotlb.iova = 0x5000;
	want.iotlb.size = 0x1000;
	want.iotlb.type = VHOST_IOTLB_INVALIDATE;
	assert_int_equal(e->f.calls[before].op, FK_WRITE);
	assert_memory_equal(e->f.calls[before].buf, &want, sizeof(want));
	env_destroy(e);
}

/* Without IOTLB_MSG_V2 both directions use struct vhost_msg; a failed translation is skipped. */
static void test_iotlb_miss_v1(void **state)
{
	struct env *e = *state;
	struct vhost_msg miss = { .type = VHOST_IOTLB_MSG }, want;
	unsigned before;

	env_iommu(e, "/dev/vhost-vsock", 0);
	miss.iotlb = (struct vhost_iotlb_msg){ .iova = 0x200000,
					       .perm = VHOST_ACCESS_RW,
					       .type = VHOST_IOTLB_MISS };
	queue_msg(&e->f, &miss, sizeof(miss));
	miss.iotlb.iova = 0x3000;
	queue_msg(&e->f, &miss, sizeof(miss));
	before = e->f.ncalls;
	assert_int_equal(vh_dev_dispatch(e->dev), -EFAULT);
	assert_non_null(strstr(e->log.last, "VHOST_IOTLB_MISS"));
	/* read (untranslatable miss), read (miss), write (update), read (EAGAIN) */
	assert_int_equal(e->f.ncalls - before, 4);
	assert_int_equal(e->f.calls[before + 2].op, FK_WRITE);
	memset(&want, 0, sizeof(want));
	want.type = VHOST_IOTLB_MSG;
	want.iotlb.iova = 0x3000;
	want.iotlb.size = 0x1000;
	want.iotlb.uaddr = 0x7f0000003000ull;
	want.iotlb.perm = VHOST_ACCESS_RW;
	want.iotlb.type = VHOST_IOTLB_UPDATE;
	assert_int_equal(e->f.calls[before + 2].len, sizeof(want));
	assert_memory_equal(e->f.calls[before + 2].buf, &want, sizeof(want));
	/* Not broken: the next dispatch finds nothing. */
	assert_int_equal(vh_dev_dispatch(e->dev), 0);
	env_destroy(e);
}

/*
 * fuzz_iotlb finding: a miss whose permission is no access (0) or has bits beyond read/write
 * was translated and its permission sent back as the update's. It fails that miss only (the
 * message itself is well formed): -EINVAL, no write to the device, the next miss is served.
 */
static void test_iotlb_miss_bad_perm(void **state)
{
	struct env *e = *state;
	struct vhost_msg_v2 miss = { .type = VHOST_IOTLB_MSG_V2 };
	unsigned before;

	env_iommu(e, "/dev/vhost-net", 1ull << VHOST_BACKEND_F_IOTLB_MSG_V2);
	miss.iotlb =
	    (struct vhost_iotlb_msg){ .iova = 0x5000, .perm = 0, .type = VHOST_IOTLB_MISS };
	queue_msg(&e->f, &miss, sizeof(miss));
	miss.iotlb.perm = 0xf4;
	queue_msg(&e->f, &miss, sizeof(miss));
	miss.iotlb.perm = VHOST_ACCESS_RW;
	miss.iotlb.iova = 0x6000;
	queue_msg(&e->f, &miss, sizeof(miss));
	before = e->f.ncalls;
	assert_int_equal(vh_dev_dispatch(e->dev), -EINVAL);
	assert_non_null(strstr(e->log.last, "bad access"));
	/* read, read (both refused), read (the good miss), write (its update), read (EAGAIN) */
	assert_int_equal(e->f.ncalls - before, 5);
	assert_int_equal(e->f.calls[before + 2].op, FK_READ);
	assert_int_equal(e->f.calls[before + 3].op, FK_WRITE);
	memcpy(&miss, e->f.calls[before + 3].buf, sizeof(miss));
	assert_int_equal(miss.iotlb.iova, 0x6000);
	assert_int_equal(miss.iotlb.perm, VHOST_ACCESS_RW);
	assert_int_equal(miss.iotlb.type, VHOST_IOTLB_UPDATE);
	/* Not broken. */
	assert_int_equal(vh_dev_dispatch(e->dev), 0);
	env_destroy(e);
}

static void test_iotlb_short_read(void **state)
{
	struct env *e = *state;
	struct vhost_msg_v2 miss = { .type = VHOST_IOTLB_MSG_V2 };

	env_iommu(e, "/dev/vhost-net", 1ull << VHOST_BACKEND_F_IOTLB_MSG_V2);
	queue_msg(&e->f, &miss, sizeof(miss) - 1);
	assert_int_equal(vh_dev_dispatch(e->dev), -EPROTO);
	assert_non_null(strstr(e->log.last, "short message"));
	/* Sticky: the device stays broken. */
	assert_int_equal(vh_dev_dispatch(e->dev), -EPROTO);
	assert_int_equal(vh_dev_iotlb_invalidate(e->dev, 0, 4096), -EPROTO);
	env_destroy(e);
}

/* The message validator on its own: exact size and the header type of the negotiated format. */
static void test_iotlb_parse(void **state)
{
	struct vhost_msg_v2 v2 = { .type = VHOST_IOTLB_MSG_V2 };
	struct vhost_msg v1 = { .type = VHOST_IOTLB_MSG };
	struct vhost_iotlb_msg m = { 0 };
	uint8_t big[sizeof(v2) + 8] = { 0 };

	(void)state;
	v2.iotlb = (struct vhost_iotlb_msg){ .iova = 0x1234, .perm = VHOST_ACCESS_WO, .type = 1 };
	v1.iotlb = v2.iotlb;
	assert_int_equal(vh_ioctl_parse_msg(&v2, sizeof(v2), true, &m), 0);
	assert_int_equal(m.iova, 0x1234);
	assert_int_equal(m.perm, VHOST_ACCESS_WO);
	assert_int_equal(m.type, 1);
	assert_int_equal(vh_ioctl_parse_msg(&v1, sizeof(v1), false, &m), 0);
	assert_int_equal(m.iova, 0x1234);
	assert_int_equal(vh_ioctl_parse_msg(&v2, sizeof(v2), false, &m), -EPROTO);
	assert_int_equal(vh_ioctl_parse_msg(&v1, sizeof(v1), true, &m), -EPROTO);
	assert_int_equal(vh_ioctl_parse_msg(&v2, sizeof(v2) - 1, true, &m), -EPROTO);
	assert_int_equal(vh_ioctl_parse_msg(&v2, 0, true, &m), -EPROTO);
	assert_int_equal(vh_ioctl_parse_msg(NULL, sizeof(v2), true, &m), -EPROTO);
	memcpy(big, &v2, sizeof(v2));
	assert_int_equal(vh_ioctl_parse_msg(big, sizeof(big), true, &m), -EPROTO);
	v2.type = 0;
	assert_int_equal(vh_ioctl_parse_msg(&v2, sizeof(v2), true, &m), -EPROTO);
}

static void test_iotlb_bad_type(void **state)
{
	struct env *e = *state;
	struct vhost_msg m = { .type = VHOST_IOTLB_MSG_V2 };

	/* v1 negotiated, the device sends a v2 header: a protocol violation. */
	env_iommu(e, "/dev/vhost-net", 0);
	queue_msg(&e->f, &m, sizeof(m));
	assert_int_equal(vh_dev_dispatch(e->dev), -EPROTO);
	env_destroy(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pick_transport),
		cmocka_unit_test_setup_teardown(test_kernel_create_sequence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_no_backend_features, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_features_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_set_owner_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_mem_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_region_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_net_start_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_log_base, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_cross_endian, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_busyloop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_vsock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iotlb_miss_v2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iotlb_miss_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iotlb_miss_bad_perm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iotlb_short_read, setup, teardown),
		cmocka_unit_test(test_iotlb_parse),
		cmocka_unit_test_setup_teardown(test_iotlb_bad_type, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
