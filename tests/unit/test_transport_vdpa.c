// SPDX-License-Identifier: BSD-3-Clause
/*
 * frontend/transport_vdpa.c against a fake kernel (fake_ioctl.h): the open sequence and the
 * virtio status bytes, IOTLB batches with their exact message bytes instead of a memory table,
 * IOVA ring addresses, config space, and the queries older kernels lack (ENOTTY).
 */
#include "fake_ioctl.h"

/* ---- vhost-vdpa --------------------------------------------------------------------------- */

static void test_vdpa_create_sequence(void **state)
{
	static const unsigned long want[] = {
		VHOST_SET_OWNER,	  VHOST_GET_BACKEND_FEATURES, VHOST_SET_BACKEND_FEATURES,
		VHOST_VDPA_GET_DEVICE_ID, VHOST_VDPA_GET_CONFIG_SIZE, VHOST_VDPA_GET_VQS_COUNT,
		VHOST_VDPA_GET_GROUP_NUM, VHOST_VDPA_GET_AS_NUM,      VHOST_VDPA_GET_IOVA_RANGE,
		VHOST_VDPA_GET_VRING_NUM, VHOST_VDPA_SET_CONFIG_CALL, VHOST_VDPA_SET_STATUS,
		VHOST_VDPA_GET_STATUS,	  VHOST_VDPA_SET_STATUS,      VHOST_VDPA_GET_STATUS,
		VHOST_GET_FEATURES,
	};
	struct env *e = *state;
	struct vh_dev_ioctl_info info;
	uint64_t v;
	uint32_t group = 9;
	int i;

	fk_init(&e->f);
	e->f.k.backend = (1ull << VHOST_BACKEND_F_IOTLB_MSG_V2) |
			 (1ull << VHOST_BACKEND_F_IOTLB_BATCH) |
			 (1ull << VHOST_BACKEND_F_IOTLB_ASID);
	e->f.k.status = VIRTIO_CONFIG_S_DRIVER_OK; /* left over by a previous user: reset first */
	env_create(e, "/dev/vhost-vdpa-0");
	fk_expect_ioctls(&e->f, 0, want, VH_ARRAY_SIZE(want));
	memcpy(&v, e->f.calls[fk_find(&e->f, 0, VHOST_SET_BACKEND_FEATURES)].buf, 8);
	assert_int_equal(v, (1ull << VHOST_BACKEND_F_IOTLB_MSG_V2) |
				(1ull << VHOST_BACKEND_F_IOTLB_BATCH) |
				(1ull << VHOST_BACKEND_F_IOTLB_ASID));
	i = fk_find(&e->f, 0, VHOST_VDPA_SET_STATUS);
	assert_int_equal(e->f.calls[i].len, 1);
	assert_int_equal(e->f.calls[i].buf[0], 0);
	i = fk_find(&e->f, i + 1, VHOST_VDPA_SET_STATUS);
	assert_int_equal(e->f.calls[i].buf[0],
			 VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	assert_int_equal(vh_dev_ioctl_info(e->dev, &info), 0);
	assert_true(info.vdpa);
	assert_int_equal(info.device_id, VIRTIO_ID_NET);
	assert_int_equal(info.config_size, 12);
	assert_int_equal(info.vqs_count, 3);
	assert_int_equal(info.vring_num_max, 256);
	assert_int_equal(info.iova_last, UINT64_MAX);
	assert_int_equal(vh_dev_max_queues(e->dev), 3);
	assert_int_equal(vh_dev_vring_group(e->dev, 1, &group), 0);
	assert_int_equal(e->f.calls[e->f.ncalls - 1].req, VHOST_VDPA_GET_VRING_GROUP);
	assert_int_equal(group, 0);
	env_destroy(e);
}

/* Older kernels: no VQS_COUNT / GROUP_NUM / AS_NUM / GET_VRING_GROUP (ENOTTY): tolerated. */
static void test_vdpa_old_kernel(void **state)
{
	struct env *e = *state;
	struct vh_dev_ioctl_info info;
	uint32_t group;

	fk_init(&e->f);
	fk_fail(&e->f, VHOST_VDPA_GET_VQS_COUNT, ENOTTY);
	fk_fail(&e->f, VHOST_VDPA_GET_GROUP_NUM, ENOTTY);
	fk_fail(&e->f, VHOST_VDPA_GET_AS_NUM, ENOTTY);
	fk_fail(&e->f, VHOST_VDPA_GET_VRING_GROUP, ENOTTY);
	fk_fail(&e->f, VHOST_VDPA_GET_IOVA_RANGE, ENOTTY);
	fk_fail(&e->f, VHOST_VDPA_SET_CONFIG_CALL, ENOTTY);
	e->f.k.iova_last = 0xfff; /* not asked: must not be used */
	env_create(e, "/dev/vhost-vdpa-3");
	assert_int_equal(vh_dev_ioctl_info(e->dev, &info), 0);
	assert_int_equal(info.vqs_count, 0);
	assert_int_equal(info.group_num, 0);
	assert_int_equal(info.iova_first, 0);
	assert_int_equal(info.iova_last, UINT64_MAX);
	assert_int_equal(vh_dev_max_queues(e->dev), 2);
	assert_int_equal(vh_dev_vring_group(e->dev, 0, &group), -EOPNOTSUPP);
	/* No VHOST_VDPA_SET_CONFIG_CALL: no event fd, nothing to dispatch. */
	assert_int_equal(vh_dev_event_fd(e->dev), -1);
	assert_int_equal(vh_dev_dispatch(e->dev), 0);
	env_destroy(e);
}

static void env_vdpa(struct env *e)
{
	fk_init(&e->f);
	e->f.k.backend =
	    (1ull << VHOST_BACKEND_F_IOTLB_MSG_V2) | (1ull << VHOST_BACKEND_F_IOTLB_BATCH);
	env_create(e, "/dev/vhost-vdpa-0");
}

static void test_vdpa_mem_batch(void **state)
{
	struct env *e = *state;
	uintptr_t ram;
	unsigned before;

	env_vdpa(e);
	ram = (uintptr_t)e->ram;
	env_mem(e, 2);
	before = e->f.ncalls;
	assert_int_equal(vh_dev_mem_commit(e->dev), 0);
	/* No memory table ioctl: IOTLB messages, iova = GPA, uaddr = host address. */
	assert_int_equal(e->f.ncalls - before, 4);
	expect_iotlb(&e->f.calls[before], VHOST_IOTLB_BATCH_BEGIN, 0, 0, 0, 0);
	expect_iotlb(&e->f.calls[before + 1], VHOST_IOTLB_UPDATE, 0, 0x10000, ram, VHOST_ACCESS_RW);
	expect_iotlb(&e->f.calls[before + 2], VHOST_IOTLB_UPDATE, 1 << 20, 0x10000, ram + 0x20000,
		     VHOST_ACCESS_RW);
	expect_iotlb(&e->f.calls[before + 3], VHOST_IOTLB_BATCH_END, 0, 0, 0, 0);

	/* Replace the second region by one at 2 MiB: invalidate before update (no EEXIST). */
	assert_int_equal(vh_dev_mem_begin(e->dev), 0);
	{
		struct vh_dev_mem_region r0 = {
			.gpa = 0, .size = 0x10000, .host = e->ram, .fd = -1
		};
		struct vh_dev_mem_region r2 = {
			.gpa = 2 << 20, .size = 0x8000, .host = e->ram + 0x40000, .fd = -1
		};

		assert_int_equal(vh_dev_mem_add(e->dev, &r0), 0);
		assert_int_equal(vh_dev_mem_add(e->dev, &r2), 0);
	}
	before = e->f.ncalls;
	assert_int_equal(vh_dev_mem_commit(e->dev), 0);
	assert_int_equal(e->f.ncalls - before, 4);
	expect_iotlb(&e->f.calls[before], VHOST_IOTLB_BATCH_BEGIN, 0, 0, 0, 0);
	expect_iotlb(&e->f.calls[before + 1], VHOST_IOTLB_INVALIDATE, 1 << 20, 0x10000, 0, 0);
	expect_iotlb(&e->f.calls[before + 2], VHOST_IOTLB_UPDATE, 2 << 20, 0x8000, ram + 0x40000,
		     VHOST_ACCESS_RW);
	expect_iotlb(&e->f.calls[before + 3], VHOST_IOTLB_BATCH_END, 0, 0, 0, 0);
	env_destroy(e);
}

/* Without IOTLB_BATCH: the updates alone, no begin/end. */
static void test_vdpa_mem_nobatch(void **state)
{
	struct env *e = *state;
	unsigned before;

	fk_init(&e->f);
	e->f.k.backend = 1ull << VHOST_BACKEND_F_IOTLB_MSG_V2;
	env_create(e, "/dev/vhost-vdpa-0");
	env_mem(e, 1);
	before = e->f.ncalls;
	assert_int_equal(vh_dev_mem_commit(e->dev), 0);
	assert_int_equal(e->f.ncalls - before, 1);
	expect_iotlb(&e->f.calls[before], VHOST_IOTLB_UPDATE, 0, 0x10000, (uintptr_t)e->ram,
		     VHOST_ACCESS_RW);
	env_destroy(e);
}

/* Guest RAM outside the device's IOVA range: refused before the kernel's EINVAL, batch closed. */
static void test_vdpa_iova_range(void **state)
{
	struct env *e = *state;
	unsigned before;

	fk_init(&e->f);
	e->f.k.backend =
	    (1ull << VHOST_BACKEND_F_IOTLB_MSG_V2) | (1ull << VHOST_BACKEND_F_IOTLB_BATCH);
	e->f.k.iova_last = 0xfffff;
	env_create(e, "/dev/vhost-vdpa-0");
	env_mem(e, 2);
	before = e->f.ncalls;
	assert_int_equal(vh_dev_mem_commit(e->dev), -ERANGE);
	assert_non_null(strstr(e->log.last, "iova range"));
	assert_int_equal(e->f.ncalls - before, 3);
	expect_iotlb(&e->f.calls[before + 1], VHOST_IOTLB_UPDATE, 0, 0x10000, (uintptr_t)e->ram,
		     VHOST_ACCESS_RW);
	expect_iotlb(&e->f.calls[before + 2], VHOST_IOTLB_BATCH_END, 0, 0, 0, 0);
	env_destroy(e);
}

#define ST_INIT (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER)
#define ST_FOK	(ST_INIT | VIRTIO_CONFIG_S_FEATURES_OK)
#define ST_RUN	(ST_FOK | VIRTIO_CONFIG_S_DRIVER_OK)

/* Ack: SET_FEATURES, then FEATURES_OK (the kernel refuses SET_FEATURES after it). */
static void vdpa_ack(struct env *e, uint64_t feat)
{
	unsigned before = e->f.ncalls;
	uint8_t st[8];
	int i;

	assert_int_equal(vh_dev_ack_features(e->dev, feat), 0);
	i = fk_find(&e->f, before, VHOST_SET_FEATURES);
	assert_true(i >= 0);
	assert_int_equal(memcmp(e->f.calls[i].buf, &feat, 8), 0);
	assert_int_equal(status_writes(&e->f, before, st, 8), 1);
	assert_int_equal(st[0], ST_FOK);
	assert_true(fk_find(&e->f, before, VHOST_VDPA_SET_STATUS) > i);
	/* Acking the same again sends nothing. */
	before = e->f.ncalls;
	assert_int_equal(vh_dev_ack_features(e->dev, feat), 0);
	assert_int_equal(fk_count(&e->f, before, VHOST_SET_FEATURES), 0);
}

/* Start: IOVA ring addresses, rings enabled, then DRIVER_OK. */
static void vdpa_start(struct env *e)
{
	unsigned before = e->f.ncalls;
	struct vhost_vring_state s;
	struct vhost_vring_addr a;
	uint8_t st[8];
	int en;

	assert_int_equal(vh_dev_start(e->dev), 0);
	memcpy(&a, e->f.calls[fk_find(&e->f, before, VHOST_SET_VRING_ADDR)].buf, sizeof(a));
	assert_int_equal(a.desc_user_addr, 0x1000);
	assert_int_equal(a.avail_user_addr, 0x2000);
	assert_int_equal(a.used_user_addr, 0x3000);
	en = fk_find(&e->f, before, VHOST_VDPA_SET_VRING_ENABLE);
	memcpy(&s, e->f.calls[en].buf, sizeof(s));
	assert_int_equal(s.index, 0);
	assert_int_equal(s.num, 1);
	assert_true(en > fk_find(&e->f, before, VHOST_SET_VRING_KICK));
	assert_true(fk_find(&e->f, before, VHOST_VDPA_SET_STATUS) > en);
	assert_int_equal(status_writes(&e->f, before, st, 8), 1);
	assert_int_equal(st[0], ST_RUN);
}

/* Stop: disable, read the base, reset, back to ACKNOWLEDGE | DRIVER, map the table again. */
static void vdpa_stop(struct env *e)
{
	unsigned before = e->f.ncalls, n;
	struct vhost_vring_state s;
	uint32_t bases[1];
	uint8_t st[8];
	int en;

	assert_int_equal(vh_dev_stop(e->dev, bases, 1), 0);
	assert_int_equal(bases[0], 77);
	en = fk_find(&e->f, before, VHOST_VDPA_SET_VRING_ENABLE);
	memcpy(&s, e->f.calls[en].buf, sizeof(s));
	assert_int_equal(s.num, 0);
	assert_true(fk_find(&e->f, before, VHOST_GET_VRING_BASE) > en);
	assert_true(fk_find(&e->f, before, VHOST_VDPA_SET_STATUS) >
		    fk_find(&e->f, before, VHOST_GET_VRING_BASE));
	assert_int_equal(status_writes(&e->f, before, st, 8), 2);
	assert_int_equal(st[0], 0);
	assert_int_equal(st[1], ST_INIT);
	n = e->f.ncalls;
	expect_iotlb(&e->f.calls[n - 4], VHOST_IOTLB_BATCH_BEGIN, 0, 0, 0, 0);
	expect_iotlb(&e->f.calls[n - 3], VHOST_IOTLB_INVALIDATE, 0, UINT64_MAX, 0, 0);
	expect_iotlb(&e->f.calls[n - 2], VHOST_IOTLB_UPDATE, 0, 0x10000, (uintptr_t)e->ram,
		     VHOST_ACCESS_RW);
	expect_iotlb(&e->f.calls[n - 1], VHOST_IOTLB_BATCH_END, 0, 0, 0, 0);
}

static void test_vdpa_status_start_stop(void **state)
{
	struct env *e = *state;
	uint8_t st[8];
	unsigned before;

	env_vdpa(e);
	vdpa_ack(e, (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_ACCESS_PLATFORM));
	env_mem(e, 1);
	assert_int_equal(vh_dev_mem_commit(e->dev), 0);
	env_ring(e, 0);
	vdpa_start(e);
	vdpa_stop(e);
	/* Restart after the reset: features and FEATURES_OK again, then DRIVER_OK. */
	before = e->f.ncalls;
	assert_int_equal(vh_dev_start(e->dev), 0);
	assert_int_equal(fk_count(&e->f, before, VHOST_SET_FEATURES), 1);
	assert_int_equal(status_writes(&e->f, before, st, 8), 2);
	assert_int_equal(st[0], ST_FOK);
	assert_int_equal(st[1], ST_RUN);
	assert_int_equal(vh_dev_stop(e->dev, NULL, 0), 0);
	env_destroy(e);
}

/* VHOST_BACKEND_F_SUSPEND: the device is suspended once before the ring bases are read. */
static void test_vdpa_suspend(void **state)
{
	static const unsigned long stop[] = {
		VHOST_VDPA_SET_VRING_ENABLE, VHOST_VDPA_SUSPEND,    VHOST_GET_VRING_BASE,
		VHOST_VDPA_SET_VRING_ENABLE, VHOST_GET_VRING_BASE,  VHOST_VDPA_SET_STATUS,
		VHOST_VDPA_GET_STATUS,	     VHOST_VDPA_SET_STATUS, VHOST_VDPA_GET_STATUS,
	};
	struct env *e = *state;
	unsigned before;
	uint64_t v;

	fk_init(&e->f);
	e->f.k.backend = (1ull << VHOST_BACKEND_F_IOTLB_MSG_V2) | (1ull << VHOST_BACKEND_F_SUSPEND);
	env_create(e, "/dev/vhost-vdpa-0");
	memcpy(&v, e->f.calls[fk_find(&e->f, 0, VHOST_SET_BACKEND_FEATURES)].buf, 8);
	assert_int_equal(v, e->f.k.backend);
	assert_int_equal(vh_dev_ack_features(e->dev, 1ull << VIRTIO_F_VERSION_1), 0);
	env_mem(e, 1);
	assert_int_equal(vh_dev_mem_commit(e->dev), 0);
	env_ring(e, 0);
	env_ring(e, 1);
	for (int round = 0; round < 2; round++) {
		assert_int_equal(vh_dev_start(e->dev), 0);
		before = e->f.ncalls;
		assert_int_equal(vh_dev_stop(e->dev, NULL, 0), 0);
		fk_expect_ioctls(&e->f, before, stop, VH_ARRAY_SIZE(stop));
		assert_int_equal(e->f.calls[fk_find(&e->f, before, VHOST_VDPA_SUSPEND)].len, 0);
	}
	env_destroy(e);
}

/* Reconnect reopens the device; when that fails every call reports it, none crashes. */
static void test_vdpa_reopen_fails(void **state)
{
	struct env *e = *state;
	uint8_t buf[4];
	unsigned n;

	env_vdpa(e);
	assert_int_equal(vh_dev_ack_features(e->dev, 1ull << VIRTIO_F_VERSION_1), 0);
	env_mem(e, 1);
	assert_int_equal(vh_dev_mem_commit(e->dev), 0);
	e->f.open_err = ENODEV;
	assert_int_equal(vh_dev_reconnect(e->dev), -ENODEV);
	n = e->f.ncalls;
	assert_true(vh_dev_reset(e->dev) < 0);
	assert_true(vh_dev_get_config(e->dev, 0, buf, sizeof(buf)) < 0);
	assert_true(vh_dev_ack_features(e->dev, 1ull << VIRTIO_F_VERSION_1) < 0);
	env_mem(e, 1);
	assert_true(vh_dev_mem_commit(e->dev) < 0);
	assert_int_equal(vh_dev_event_fd(e->dev), -1);
	assert_int_equal(e->f.ncalls, n); /* nothing reached the (closed) device */
	vh_dev_destroy(&e->dev);
	free(e->ram);
}

static void config_changed(void *opaque)
{
	((struct env *)opaque)->log.count += 1000;
}

/* Config-change interrupts: our eventfd handed over with SET_CONFIG_CALL is the event fd. */
static void test_vdpa_config_call(void **state)
{
	struct env *e = *state;
	struct vh_dev_config cfg = env_cfg(e, "/dev/vhost-vdpa-1");
	uint64_t one = 1;
	int fd, i, nfds = vh_test_count_fds();

	fk_init(&e->f);
	cfg.config_changed = config_changed;
	assert_int_equal(vh_dev_create_sys(&cfg, &e->f.sys, &e->dev), 0);
	i = fk_find(&e->f, 0, VHOST_VDPA_SET_CONFIG_CALL);
	assert_true(i >= 0);
	assert_int_equal(e->f.calls[i].len, sizeof(int));
	memcpy(&fd, e->f.calls[i].buf, sizeof(fd));
	assert_true(fd >= 0);
	assert_int_equal(vh_dev_event_fd(e->dev), fd);
	assert_int_equal(vh_dev_dispatch(e->dev), 0);
	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(vh_dev_dispatch(e->dev), 1);
	assert_int_equal(e->log.count, 1000);
	assert_int_equal(vh_dev_dispatch(e->dev), 0);
	e->ram = NULL;
	env_destroy(e);
	assert_int_equal(vh_test_count_fds(), nfds); /* the eventfd is closed with the device */
}

/* A device that clears FEATURES_OK refuses the features (virtio 1.2 §3.1.1 step 6): -EIO. */
static void test_vdpa_features_refused(void **state)
{
	struct env *e = *state;

	env_vdpa(e);
	e->f.k.refuse = VIRTIO_CONFIG_S_FEATURES_OK;
	assert_int_equal(vh_dev_ack_features(e->dev, 1ull << VIRTIO_F_VERSION_1), -EIO);
	assert_non_null(strstr(e->log.last, "refused status"));
	/* SET_FEATURES itself failing: the kernel's error, logged with the request name. */
	e->f.k.refuse = 0;
	fk_fail(&e->f, VHOST_SET_FEATURES, EINVAL);
	assert_int_equal(vh_dev_ack_features(e->dev, 1ull << VIRTIO_F_VERSION_1), -EINVAL);
	assert_non_null(strstr(e->log.last, "VHOST_SET_FEATURES"));
	env_destroy(e);
}

static void test_vdpa_config(void **state)
{
	struct env *e = *state;
	struct vhost_vdpa_config c;
	uint8_t buf[4], in[2] = { 0x11, 0x22 };
	int i;

	env_vdpa(e);
	assert_int_equal(vh_dev_get_config(e->dev, 2, buf, sizeof(buf)), 0);
	i = fk_find(&e->f, 0, VHOST_VDPA_GET_CONFIG);
	memcpy(&c, e->f.calls[i].buf, sizeof(c));
	assert_int_equal(c.off, 2);
	assert_int_equal(c.len, 4);
	assert_int_equal(buf[0], 0xa2);
	assert_int_equal(buf[3], 0xa5);
	assert_int_equal(vh_dev_set_config(e->dev, 6, in, sizeof(in)), 0);
	i = fk_find(&e->f, 0, VHOST_VDPA_SET_CONFIG);
	assert_int_equal(e->f.calls[i].len, sizeof(c) + 2);
	memcpy(&c, e->f.calls[i].buf, sizeof(c));
	assert_int_equal(c.off, 6);
	assert_int_equal(c.len, 2);
	assert_memory_equal(e->f.calls[i].buf + sizeof(c), in, 2);
	fk_fail(&e->f, VHOST_VDPA_GET_CONFIG, E2BIG);
	assert_int_equal(vh_dev_get_config(e->dev, 10, buf, sizeof(buf)), -E2BIG);
	env_destroy(e);
}

/* The kernel-only requests refuse a vhost-vdpa device without an ioctl. */
static void test_wrong_transport(void **state)
{
	struct env *e = *state;
	unsigned before;

	env_vdpa(e);
	before = e->f.ncalls;
	assert_int_equal(vh_kernel_net_set_backend(e->dev, 0, -1), -EINVAL);
	assert_int_equal(vh_kernel_vsock_set_guest_cid(e->dev, 5), -EINVAL);
	assert_int_equal(vh_kernel_vsock_set_running(e->dev, true), -EINVAL);
	assert_int_equal(e->f.ncalls, before);
	env_destroy(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_vdpa_create_sequence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vdpa_old_kernel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vdpa_mem_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vdpa_mem_nobatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vdpa_iova_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vdpa_status_start_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vdpa_features_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vdpa_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vdpa_config_call, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vdpa_suspend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vdpa_reopen_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_transport, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
