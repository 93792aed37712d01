// SPDX-License-Identifier: BSD-3-Clause
/*
 * frontend/vdpa_iommu.c against the fake kernel (fake_ioctl.h): a vIOMMU in front of vhost-vdpa
 * (IOVA != GPA) and virtqueue groups in other address spaces. Every IOTLB message is checked
 * byte for byte (struct vhost_msg_v2 with its asid), with the range, overlap and permission
 * refusals that must send nothing, the roll-back of a batch the kernel refused half of, and the
 * replay of maps and group ASIDs after a device reset.
 */
#include "fake_ioctl.h"

#define IOVA 0x40000000ull /* the vIOMMU's address of guest RAM at GPA 0 */

#define BE_ALL                                                                            \
	((1ull << VHOST_BACKEND_F_IOTLB_MSG_V2) | (1ull << VHOST_BACKEND_F_IOTLB_BATCH) | \
	 (1ull << VHOST_BACKEND_F_IOTLB_ASID))
#define FEAT_IOMMU ((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_ACCESS_PLATFORM))

struct msg {
	uint32_t asid;
	uint8_t type;
	uint64_t iova, size, uaddr;
	uint8_t perm;
};

/* The @nth write from call @from on must be exactly @w as struct vhost_msg_v2. */
static void expect_msg(const struct fake *f, unsigned from, unsigned nth, const struct msg *w)
{
	struct vhost_msg_v2 want;
	unsigned k = 0, i;

	for (i = from; i < f->ncalls; i++)
		if (f->calls[i].op == FK_WRITE && k++ == nth)
			break;
	assert_true(i < f->ncalls);
	memset(&want, 0, sizeof(want));
	want.type = VHOST_IOTLB_MSG_V2;
	want.asid = w->asid;
	want.iotlb.iova = w->iova;
	want.iotlb.size = w->size;
	want.iotlb.uaddr = w->uaddr;
	want.iotlb.perm = w->perm;
	want.iotlb.type = w->type;
	assert_int_equal(f->calls[i].len, sizeof(want));
	assert_memory_equal(f->calls[i].buf, &want, sizeof(want));
}

static unsigned writes(const struct fake *f, unsigned from)
{
	unsigned n = 0;

	for (unsigned i = from; i < f->ncalls; i++)
		n += f->calls[i].op == FK_WRITE;
	return n;
}

static struct msg m_begin(uint32_t asid)
{
	return (struct msg){ .asid = asid, .type = VHOST_IOTLB_BATCH_BEGIN };
}

static struct msg m_end(uint32_t asid)
{
	return (struct msg){ .asid = asid, .type = VHOST_IOTLB_BATCH_END };
}

static struct msg m_inval(uint32_t asid, uint64_t iova, uint64_t size)
{
	return (
	    struct msg){ .asid = asid, .type = VHOST_IOTLB_INVALIDATE, .iova = iova, .size = size };
}

/* Every IOVA: [0, 2^64 - 1). */
static struct msg m_inval_all(uint32_t asid)
{
	return m_inval(asid, 0, UINT64_MAX);
}

static struct msg m_upd(uint32_t asid, uint64_t iova, uint64_t size, uint64_t uaddr, uint8_t perm)
{
	return (struct msg){ .asid = asid,
			     .type = VHOST_IOTLB_UPDATE,
			     .iova = iova,
			     .size = size,
			     .uaddr = uaddr,
			     .perm = perm };
}

static void expect(const struct fake *f, unsigned from, const struct msg *w, unsigned n)
{
	assert_int_equal(writes(f, from), n);
	for (unsigned i = 0; i < n; i++)
		expect_msg(f, from, i, &w[i]);
}

/* A vdpa device with guest RAM (gpa 0, 64 KiB) mapped iova = GPA, features acked. */
static void env_open(struct env *e, uint64_t backend, uint32_t groups, uint32_t ases)
{
	fk_init(&e->f);
	e->f.k.backend = backend;
	e->f.k.groups = groups;
	e->f.k.ases = ases;
	env_create(e, "/dev/vhost-vdpa-0");
	assert_int_equal(vh_dev_ack_features(e->dev, FEAT_IOMMU), 0);
	env_mem(e, 1);
	assert_int_equal(vh_dev_mem_commit(e->dev), 0);
}

/* ... and the vIOMMU on: the table's GPA maps go, nothing else is sent. */
static void env_iommu(struct env *e, uint64_t backend, uint32_t groups, uint32_t ases)
{
	unsigned before;

	env_open(e, backend, groups, ases);
	before = e->f.ncalls;
	assert_int_equal(vh_vdpa_set_iommu(e->dev, true), 0);
	expect(&e->f, before, (struct msg[]){ m_inval_all(0) }, 1);
	assert_int_equal(e->f.ncalls - before, 1);
}

static void ring_at(struct env *e, unsigned index, uint64_t base)
{
	struct vh_dev_vring vr = {
		.index = index,
		.num = 256,
		.desc_gpa = base,
		.avail_gpa = base + 0x1000,
		.used_gpa = base + 0x2000,
		.kick_fd = -1,
		.call_fd = -1,
	};

	assert_int_equal(vh_dev_vring_setup(e->dev, &vr), 0);
}

/* Map by GPA (looked up in the table) and by host address; rings at IOVAs; commits map nothing. */
static void test_iommu_map_bytes(void **state)
{
	struct env *e = *state;
	uintptr_t ram;
	struct vhost_vring_addr a;
	unsigned before;

	env_iommu(e, BE_ALL, 1, 1);
	ram = (uintptr_t)e->ram;
	before = e->f.ncalls;
	assert_int_equal(
	    vh_vdpa_map(e->dev,
			(struct vh_vdpa_map[]){
			    { .iova = IOVA, .size = 0x8000, .gpa = 0, .perm = VH_DEV_ACCESS_RW },
			    { .iova = IOVA + 0x100000,
			      .size = 0x1000,
			      .host = e->ram + 0x9000,
			      .perm = VH_DEV_ACCESS_RO },
			},
			2),
	    0);
	expect(&e->f, before,
	       (struct msg[]){ m_begin(0), m_upd(0, IOVA, 0x8000, ram, VHOST_ACCESS_RW),
			       m_upd(0, IOVA + 0x100000, 0x1000, ram + 0x9000, VHOST_ACCESS_RO),
			       m_end(0) },
	       4);
	/* A new memory table (a region added) is kept for lookups but not mapped. */
	before = e->f.ncalls;
	env_mem(e, 2);
	assert_int_equal(vh_dev_mem_commit(e->dev), 0);
	assert_int_equal(e->f.ncalls, before);
	/* Rings at IOVAs: SET_VRING_ADDR carries them as they are. */
	ring_at(e, 0, IOVA + 0x1000);
	before = e->f.ncalls;
	assert_int_equal(vh_dev_start(e->dev), 0);
	memcpy(&a, e->f.calls[fk_find(&e->f, before, VHOST_SET_VRING_ADDR)].buf, sizeof(a));
	assert_int_equal(a.desc_user_addr, IOVA + 0x1000);
	assert_int_equal(a.avail_user_addr, IOVA + 0x2000);
	assert_int_equal(a.used_user_addr, IOVA + 0x3000);
	assert_int_equal(writes(&e->f, before), 0);
	assert_int_equal(vh_dev_stop(e->dev, NULL, 0), 0);
	env_destroy(e);
}

/* Without IOTLB_BATCH: the updates alone. */
static void test_iommu_nobatch(void **state)
{
	struct env *e = *state;
	unsigned before;

	env_iommu(e, 1ull << VHOST_BACKEND_F_IOTLB_MSG_V2, 1, 1);
	before = e->f.ncalls;
	assert_int_equal(vh_vdpa_map(e->dev,
				     &(struct vh_vdpa_map){ .iova = IOVA,
							    .size = 0x1000,
							    .host = e->ram,
							    .perm = VH_DEV_ACCESS_WO },
				     1),
			 0);
	expect(&e->f, before,
	       (struct msg[]){ m_upd(0, IOVA, 0x1000, (uintptr_t)e->ram, VHOST_ACCESS_WO) }, 1);
	env_destroy(e);
}

/* Every refusal is logged and sends nothing. */
static void test_iommu_refusals(void **state)
{
	struct env *e = *state;
	struct vh_vdpa_map m = { .iova = IOVA, .size = 0x1000, .host = NULL, .perm = 3 };
	unsigned before;

	fk_init(&e->f);
	e->f.k.backend = BE_ALL;
	e->f.k.iova_last = 0x7fffffffull; /* a parent that maps 2 GiB */
	env_create(e, "/dev/vhost-vdpa-0");
	env_mem(e, 1);
	assert_int_equal(vh_dev_mem_commit(e->dev), 0);
	/* Not acked: the driver does not use an IOMMU. Asid 0 holds the table's maps. */
	assert_int_equal(vh_vdpa_set_iommu(e->dev, true), -EINVAL);
	assert_non_null(strstr(e->log.last, "VIRTIO_F_ACCESS_PLATFORM"));
	assert_int_equal(vh_vdpa_map(e->dev, &m, 1), -EINVAL);
	assert_non_null(strstr(e->log.last, "vh_vdpa_set_iommu"));
	assert_int_equal(vh_dev_ack_features(e->dev, FEAT_IOMMU), 0);
	assert_int_equal(vh_vdpa_set_iommu(e->dev, true), 0);
	/* Feature sets without ACCESS_PLATFORM are refused while the vIOMMU is on. */
	assert_int_equal(vh_dev_ack_features(e->dev, 1ull << VIRTIO_F_VERSION_1), -EINVAL);
	assert_non_null(strstr(e->log.last, "vIOMMU mode needs VIRTIO_F_ACCESS_PLATFORM"));
	assert_int_equal(vh_dev_ack_features(e->dev, FEAT_IOMMU), 0);
	before = e->f.ncalls;
	/* Outside the device's IOVA range: the range is named. */
	m.iova = 0x7ffff000;
	m.size = 0x2000;
	assert_int_equal(vh_vdpa_map(e->dev, &m, 1), -ERANGE);
	assert_non_null(strstr(e->log.last, "outside the device's iova range 0x0-0x7fffffff"));
	m = (struct vh_vdpa_map){ .iova = ~0ull - 0xfff, .size = 0x2000, .perm = 3 };
	assert_int_equal(vh_vdpa_map(e->dev, &m, 1), -EINVAL); /* wraps */
	m = (struct vh_vdpa_map){ .iova = IOVA, .size = 0, .perm = 3 };
	assert_int_equal(vh_vdpa_map(e->dev, &m, 1), -EINVAL);
	m = (struct vh_vdpa_map){ .iova = IOVA, .size = 0x1000, .perm = 0 };
	assert_int_equal(vh_vdpa_map(e->dev, &m, 1), -EINVAL);
	assert_non_null(strstr(e->log.last, "bad permission"));
	/* GPA not in the table (and one straddling its end). */
	m = (struct vh_vdpa_map){ .iova = IOVA, .size = 0x1000, .gpa = 0x200000, .perm = 3 };
	assert_int_equal(vh_vdpa_map(e->dev, &m, 1), -EFAULT);
	m.gpa = 0xf000;
	m.size = 0x2000;
	assert_int_equal(vh_vdpa_map(e->dev, &m, 1), -EFAULT);
	assert_non_null(strstr(e->log.last, "not in the memory table"));
	/* Address spaces the device does not have; asid > 0 would need more than 1. */
	m = (struct vh_vdpa_map){ .asid = 1, .iova = IOVA, .size = 0x1000, .gpa = 0, .perm = 3 };
	assert_int_equal(vh_vdpa_map(e->dev, &m, 1), -EINVAL);
	assert_non_null(strstr(e->log.last, "1 address spaces"));
	/* Overlaps inside one call: the good first entry is not sent either. */
	assert_int_equal(
	    vh_vdpa_map(e->dev,
			(struct vh_vdpa_map[]){
			    { .iova = IOVA, .size = 0x2000, .gpa = 0, .perm = 3 },
			    { .iova = IOVA + 0x1000, .size = 0x1000, .gpa = 0, .perm = 3 },
			},
			2),
	    -EEXIST);
	assert_int_equal(writes(&e->f, before), 0);
	/* ... and with an earlier call. */
	m = (struct vh_vdpa_map){ .iova = IOVA, .size = 0x2000, .gpa = 0, .perm = 3 };
	assert_int_equal(vh_vdpa_map(e->dev, &m, 1), 0);
	before = e->f.ncalls;
	m.iova = IOVA + 0x1fff;
	assert_int_equal(vh_vdpa_map(e->dev, &m, 1), -EEXIST);
	assert_non_null(strstr(e->log.last, "overlaps a mapping"));
	assert_int_equal(writes(&e->f, before), 0);
	/* Not while running; not on a vhost-kernel device. */
	ring_at(e, 0, IOVA);
	assert_int_equal(vh_dev_start(e->dev), 0);
	assert_int_equal(vh_vdpa_set_iommu(e->dev, false), -EBUSY);
	assert_int_equal(vh_vdpa_set_group_asid(e->dev, 0, 0), -EBUSY);
	assert_int_equal(vh_dev_stop(e->dev, NULL, 0), 0);
	env_destroy(e);

	fk_init(&e->f);
	env_create(e, "/dev/vhost-net");
	assert_int_equal(vh_vdpa_set_iommu(e->dev, true), -EOPNOTSUPP);
	assert_int_equal(vh_vdpa_map(e->dev, &m, 1), -EOPNOTSUPP);
	assert_int_equal(vh_vdpa_unmap(e->dev, 0, IOVA, 0x1000), -EOPNOTSUPP);
	assert_int_equal(vh_vdpa_set_group_asid(e->dev, 0, 0), -EOPNOTSUPP);
	env_destroy(e);
}

/* Unmap: whole maps only (the kernel drops every map it touches), one INVALIDATE. */
static void test_iommu_unmap(void **state)
{
	struct env *e = *state;
	unsigned before;

	env_iommu(e, BE_ALL, 1, 1);
	assert_int_equal(
	    vh_vdpa_map(e->dev,
			(struct vh_vdpa_map[]){
			    { .iova = IOVA, .size = 0x1000, .gpa = 0, .perm = 3 },
			    { .iova = IOVA + 0x1000, .size = 0x1000, .gpa = 0x1000, .perm = 3 },
			    { .iova = IOVA + 0x4000, .size = 0x4000, .gpa = 0x4000, .perm = 1 },
			},
			3),
	    0);
	before = e->f.ncalls;
	assert_int_equal(vh_vdpa_unmap(e->dev, 0, IOVA + 0x5000, 0x1000), -EINVAL);
	assert_non_null(strstr(e->log.last, "cuts the mapping"));
	assert_int_equal(vh_vdpa_unmap(e->dev, 0, IOVA, 0), -EINVAL);
	/* Nothing mapped there: nothing to tell the kernel. */
	assert_int_equal(vh_vdpa_unmap(e->dev, 0, IOVA + 0x2000, 0x2000), 0);
	assert_int_equal(writes(&e->f, before), 0);
	/* Two whole maps in one range. */
	assert_int_equal(vh_vdpa_unmap(e->dev, 0, IOVA, 0x4000), 0);
	expect(&e->f, before, (struct msg[]){ m_inval(0, IOVA, 0x4000) }, 1);
	/* They are gone: mapping there again works; vh_dev_iotlb_invalidate unmaps too. */
	before = e->f.ncalls;
	assert_int_equal(
	    vh_vdpa_map(e->dev,
			&(struct vh_vdpa_map){ .iova = IOVA, .size = 0x2000, .gpa = 0, .perm = 3 },
			1),
	    0);
	assert_int_equal(vh_dev_iotlb_invalidate(e->dev, IOVA + 0x4000, 0x4000), 0);
	expect(&e->f, before,
	       (struct msg[]){ m_begin(0), m_upd(0, IOVA, 0x2000, (uintptr_t)e->ram, 3), m_end(0),
			       m_inval(0, IOVA + 0x4000, 0x4000) },
	       4);
	assert_int_equal(vh_dev_iotlb_invalidate(e->dev, IOVA + 0x1000, 0x1000), -EINVAL);
	env_destroy(e);
}

/* The kernel refuses the second update: the first is taken back, nothing is kept. */
static void test_iommu_rollback(void **state)
{
	struct env *e = *state;
	uintptr_t ram;
	unsigned before;
	struct vh_vdpa_map two[] = {
		{ .iova = IOVA, .size = 0x1000, .gpa = 0, .perm = 3 },
		{ .iova = IOVA + 0x1000, .size = 0x1000, .gpa = 0x1000, .perm = 3 },
	};

	env_iommu(e, BE_ALL, 1, 1);
	ram = (uintptr_t)e->ram;
	before = e->f.ncalls;
	e->f.fail_write = e->f.nwrites + 3; /* BEGIN, UPDATE, UPDATE <- ENOMEM */
	e->f.fail_write_err = ENOMEM;
	assert_int_equal(vh_vdpa_map(e->dev, two, 2), -ENOMEM);
	expect(&e->f, before,
	       (struct msg[]){ m_begin(0), m_upd(0, IOVA, 0x1000, ram, 3),
			       m_upd(0, IOVA + 0x1000, 0x1000, ram + 0x1000, 3), m_end(0),
			       m_inval(0, IOVA, 0x1000) },
	       5);
	before = e->f.ncalls;
	assert_int_equal(vh_vdpa_map(e->dev, two, 2), 0);
	assert_int_equal(writes(&e->f, before), 4);
	env_destroy(e);
}

/* Two groups, two address spaces: the control group moves to asid 1, batches per asid. */
static void test_asid_routing(void **state)
{
	struct env *e = *state;
	struct vhost_vring_state s;
	struct vh_dev_ioctl_info info;
	uintptr_t ram;
	unsigned before;
	int i;

	env_iommu(e, BE_ALL, 2, 2);
	ram = (uintptr_t)e->ram;
	assert_int_equal(vh_dev_ioctl_info(e->dev, &info), 0);
	assert_int_equal(info.group_num, 2);
	assert_int_equal(info.as_num, 2);
	before = e->f.ncalls;
	assert_int_equal(vh_vdpa_set_group_asid(e->dev, 1, 1), 0);
	i = fk_find(&e->f, before, VHOST_VDPA_SET_GROUP_ASID);
	assert_true(i >= 0);
	memcpy(&s, e->f.calls[i].buf, sizeof(s));
	assert_int_equal(e->f.calls[i].len, sizeof(s));
	assert_int_equal(s.index, 1);
	assert_int_equal(s.num, 1);
	assert_int_equal(vh_vdpa_set_group_asid(e->dev, 2, 1), -EINVAL);
	assert_non_null(strstr(e->log.last, "has 2 groups"));
	assert_int_equal(vh_vdpa_set_group_asid(e->dev, 1, 2), -EINVAL);
	assert_int_equal(fk_count(&e->f, before, VHOST_VDPA_SET_GROUP_ASID), 1);
	/* The same IOVA in both spaces is no overlap; one batch per asid run. */
	before = e->f.ncalls;
	assert_int_equal(
	    vh_vdpa_map(e->dev,
			(struct vh_vdpa_map[]){
			    { .asid = 0, .iova = IOVA, .size = 0x1000, .gpa = 0, .perm = 3 },
			    { .asid = 1, .iova = IOVA, .size = 0x1000, .gpa = 0x2000, .perm = 3 },
			    { .asid = 1,
			      .iova = 0x1000,
			      .size = 0x1000,
			      .host = e->ram + 0x3000,
			      .perm = 1 },
			},
			3),
	    0);
	expect(&e->f, before,
	       (struct msg[]){ m_begin(0), m_upd(0, IOVA, 0x1000, ram, 3), m_end(0), m_begin(1),
			       m_upd(1, IOVA, 0x1000, ram + 0x2000, 3),
			       m_upd(1, 0x1000, 0x1000, ram + 0x3000, 1), m_end(1) },
	       7);
	before = e->f.ncalls;
	assert_int_equal(vh_vdpa_unmap(e->dev, 1, 0x1000, 0x1000), 0);
	expect(&e->f, before, (struct msg[]){ m_inval(1, 0x1000, 0x1000) }, 1);

	/* A reset (stop) may drop both: group ASIDs first, then each space's maps again. */
	ring_at(e, 0, IOVA);
	assert_int_equal(vh_dev_start(e->dev), 0);
	before = e->f.ncalls;
	assert_int_equal(vh_dev_stop(e->dev, NULL, 0), 0);
	i = fk_find(&e->f, before, VHOST_VDPA_SET_GROUP_ASID);
	assert_true(i > fk_find(&e->f, before, VHOST_VDPA_SET_STATUS));
	memcpy(&s, e->f.calls[i].buf, sizeof(s));
	assert_int_equal(s.index, 1);
	assert_int_equal(s.num, 1);
	expect(&e->f, before,
	       (struct msg[]){ m_begin(0), m_inval_all(0), m_upd(0, IOVA, 0x1000, ram, 3), m_end(0),
			       m_begin(1), m_inval_all(1), m_upd(1, IOVA, 0x1000, ram + 0x2000, 3),
			       m_end(1) },
	       8);
	for (unsigned k = before; k < (unsigned)i; k++)
		assert_true(e->f.calls[k].op != FK_WRITE); /* the group first, then its maps */
	env_destroy(e);
}

/* Without VHOST_BACKEND_F_IOTLB_ASID the asid field is not read: only asid 0 is allowed. */
static void test_asid_needs_feature(void **state)
{
	struct env *e = *state;
	unsigned before;

	env_iommu(e, (1ull << VHOST_BACKEND_F_IOTLB_MSG_V2) | (1ull << VHOST_BACKEND_F_IOTLB_BATCH),
		  2, 2);
	before = e->f.ncalls;
	assert_int_equal(vh_vdpa_set_group_asid(e->dev, 1, 1), -EOPNOTSUPP);
	assert_non_null(strstr(e->log.last, "VHOST_BACKEND_F_IOTLB_ASID"));
	assert_int_equal(
	    vh_vdpa_map(
		e->dev,
		&(struct vh_vdpa_map){ .asid = 1, .iova = 0, .size = 0x1000, .gpa = 0, .perm = 3 },
		1),
	    -EOPNOTSUPP);
	assert_int_equal(e->f.ncalls, before);
	env_destroy(e);
}

/* A device that cannot move groups (VDUSE before ASID support answers EOPNOTSUPP). */
static void test_asid_refused_by_device(void **state)
{
	struct env *e = *state;

	env_open(e, BE_ALL, 2, 2);
	fk_fail(&e->f, VHOST_VDPA_SET_GROUP_ASID, EOPNOTSUPP);
	assert_int_equal(vh_vdpa_set_group_asid(e->dev, 1, 1), -EOPNOTSUPP);
	assert_non_null(strstr(e->log.last, "group 1 asid 1"));
	env_destroy(e);
}

/*
 * The shadow-control-queue layout: no vIOMMU (asid 0 = the table, iova = GPA), the control group
 * in asid 1 with the VMM's maps. Leaving vIOMMU mode maps the table again.
 */
static void test_asid_without_iommu(void **state)
{
	struct env *e = *state;
	uintptr_t ram;
	unsigned before;

	env_open(e, BE_ALL, 2, 2);
	ram = (uintptr_t)e->ram;
	assert_int_equal(vh_vdpa_set_group_asid(e->dev, 1, 1), 0);
	before = e->f.ncalls;
	assert_int_equal(
	    vh_vdpa_map(
		e->dev,
		&(struct vh_vdpa_map){
		    .asid = 1, .iova = 0x1000, .size = 0x1000, .host = e->ram + 0x8000, .perm = 3 },
		1),
	    0);
	expect(&e->f, before,
	       (struct msg[]){ m_begin(1), m_upd(1, 0x1000, 0x1000, ram + 0x8000, 3), m_end(1) },
	       3);
	/* Stop: the table in asid 0 as before, then asid 1's map. */
	ring_at(e, 0, 0x1000);
	assert_int_equal(vh_dev_start(e->dev), 0);
	before = e->f.ncalls;
	assert_int_equal(vh_dev_stop(e->dev, NULL, 0), 0);
	expect(&e->f, before,
	       (struct msg[]){ m_begin(0), m_inval_all(0), m_upd(0, 0, 0x10000, ram, 3), m_end(0),
			       m_begin(1), m_inval_all(1),
			       m_upd(1, 0x1000, 0x1000, ram + 0x8000, 3), m_end(1) },
	       8);
	/* vIOMMU on and off again: asid 0 goes from the table to the VMM's maps and back. */
	assert_int_equal(vh_vdpa_set_iommu(e->dev, true), 0);
	assert_int_equal(
	    vh_vdpa_map(e->dev,
			&(struct vh_vdpa_map){ .iova = IOVA, .size = 0x1000, .gpa = 0, .perm = 3 },
			1),
	    0);
	before = e->f.ncalls;
	assert_int_equal(vh_vdpa_set_iommu(e->dev, false), 0);
	expect(&e->f, before,
	       (struct msg[]){ m_inval_all(0), m_begin(0), m_upd(0, 0, 0x10000, ram, 3), m_end(0) },
	       4);
	env_destroy(e);
}

/* vh_dev_reconnect reopens the device: the new fd gets the group ASIDs and the maps, not the table. */
static void test_iommu_reopen(void **state)
{
	struct env *e = *state;
	uintptr_t ram;
	unsigned before;

	env_iommu(e, BE_ALL, 2, 2);
	ram = (uintptr_t)e->ram;
	assert_int_equal(vh_vdpa_set_group_asid(e->dev, 1, 1), 0);
	assert_int_equal(
	    vh_vdpa_map(e->dev,
			(struct vh_vdpa_map[]){
			    { .iova = IOVA, .size = 0x1000, .gpa = 0, .perm = 3 },
			    { .asid = 1, .iova = 0x2000, .size = 0x1000, .gpa = 0x3000, .perm = 1 },
			},
			2),
	    0);
	before = e->f.ncalls;
	assert_int_equal(vh_dev_reconnect(e->dev), 0);
	assert_int_equal(e->f.calls[before].op, FK_CLOSE);
	assert_true(fk_find(&e->f, before, VHOST_VDPA_SET_GROUP_ASID) >
		    fk_find(&e->f, before, VHOST_VDPA_GET_AS_NUM));
	/* A new fd has an empty IOTLB: no invalidation, and no GPA maps of the table. */
	expect(&e->f, before,
	       (struct msg[]){ m_begin(0), m_upd(0, IOVA, 0x1000, ram, 3), m_end(0), m_begin(1),
			       m_upd(1, 0x2000, 0x1000, ram + 0x3000, 1), m_end(1) },
	       6);
	env_destroy(e);
}

/* ---- the library's maps and the kernel's never differ -------------------------------------- */

struct kmap {
	uint32_t asid;
	uint64_t iova, last, uva;
	uint8_t perm;
};

/* vhost_vdpa's IOTLB as the kernel keeps it, one per asid (drivers/vhost/vdpa.c semantics). */
struct kmodel {
	struct kmap m[256];
	unsigned n;
	bool in_batch;
	uint32_t batch_asid;
	unsigned eexist, bad_batch; /* what a correct library never causes */
	uint32_t rng;
	bool fail_updates; /* inject ENOMEM into some updates and invalidations */
	bool injected;	   /* ... and one was injected in this call */
};

static uint32_t rnd(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static bool kmap_overlaps(const struct kmap *a, uint32_t asid, uint64_t iova, uint64_t last)
{
	return a->asid == asid && a->iova <= last && iova <= a->last;
}

static int kmodel_write(struct fake *f, const void *buf, size_t len)
{
	struct kmodel *k = f->model;
	struct vhost_msg_v2 m;
	uint64_t last;
	unsigned j = 0;

	assert_int_equal(len, sizeof(m));
	memcpy(&m, buf, sizeof(m));
	assert_int_equal(m.type, VHOST_IOTLB_MSG_V2);
	last = m.iotlb.iova + m.iotlb.size - 1;
	switch (m.iotlb.type) {
	case VHOST_IOTLB_BATCH_BEGIN:
		k->in_batch = true;
		k->batch_asid = m.asid;
		return 0;
	case VHOST_IOTLB_BATCH_END:
		k->bad_batch += !k->in_batch || k->batch_asid != m.asid;
		k->in_batch = false;
		return 0;
	case VHOST_IOTLB_UPDATE:
		k->bad_batch += k->in_batch && k->batch_asid != m.asid;
		if (k->fail_updates && rnd(&k->rng) % 5 == 0) {
			k->injected = true;
			return ENOMEM;
		}
		for (unsigned i = 0; i < k->n; i++)
			if (kmap_overlaps(&k->m[i], m.asid, m.iotlb.iova, last)) {
				k->eexist++;
				return EEXIST;
			}
		assert_true(k->n < VH_ARRAY_SIZE(k->m));
		k->m[k->n++] =
		    (struct kmap){ m.asid, m.iotlb.iova, last, m.iotlb.uaddr, m.iotlb.perm };
		return 0;
	case VHOST_IOTLB_INVALIDATE:
		if (k->fail_updates && rnd(&k->rng) % 4 == 0) {
			k->injected = true;
			return ENOMEM;
		}
		/* Every map the range touches goes, whole. */
		for (unsigned i = 0; i < k->n; i++)
			if (!kmap_overlaps(&k->m[i], m.asid, m.iotlb.iova, last))
				k->m[j++] = k->m[i];
		k->n = j;
		return 0;
	default:
		fail();
	}
	return 0;
}

/* Field by field: the padding of the structs is not compared. */
static bool kmap_in(const struct kmap *m, unsigned n, const struct kmap *x)
{
	for (unsigned i = 0; i < n; i++)
		if (m[i].asid == x->asid && m[i].iova == x->iova && m[i].last == x->last &&
		    m[i].uva == x->uva && m[i].perm == x->perm)
			return true;
	return false;
}

/* The reference: what the caller was told is mapped. */
struct ref {
	struct kmap m[256];
	unsigned n;
};

static void expect_same(const struct kmodel *k, const struct ref *r)
{
	assert_int_equal(k->n, r->n);
	for (unsigned i = 0; i < r->n; i++)
		assert_true(kmap_in(k->m, k->n, &r->m[i]));
	assert_int_equal(k->eexist, 0);
	assert_int_equal(k->bad_batch, 0);
}

/* 1-3 random maps: apply to the reference when the library says they were made. */
static void random_map(struct env *e, struct kmodel *k, struct ref *r)
{
	struct vh_vdpa_map mp[3];
	struct kmap km[3];
	unsigned n = 1 + rnd(&k->rng) % 3;
	bool valid = true;
	int rc;

	for (unsigned i = 0; i < n; i++) {
		uint64_t pages = 1 + rnd(&k->rng) % 4, off = (rnd(&k->rng) % 128) * 4096;

		mp[i] = (struct vh_vdpa_map){ .asid = rnd(&k->rng) % 2,
					      .iova = (rnd(&k->rng) % 64) * 4096,
					      .size = pages * 4096,
					      .host = e->ram + off,
					      .perm = (int)(rnd(&k->rng) % 4) };
		km[i] = (struct kmap){ mp[i].asid, mp[i].iova, mp[i].iova + mp[i].size - 1,
				       (uintptr_t)mp[i].host, (uint8_t)mp[i].perm };
		valid = valid && mp[i].perm;
		for (unsigned j = 0; j < r->n; j++)
			valid =
			    valid && !kmap_overlaps(&r->m[j], km[i].asid, km[i].iova, km[i].last);
		for (unsigned j = 0; j < i; j++)
			valid = valid && !kmap_overlaps(&km[j], km[i].asid, km[i].iova, km[i].last);
	}
	k->injected = false;
	rc = vh_vdpa_map(e->dev, mp, n);
	assert_int_equal(rc == 0, valid && !k->injected);
	/* Made, or refused half way and not all taken back: the kernel holds them. */
	for (unsigned i = 0; i < n; i++)
		if (rc == 0 || kmap_in(k->m, k->n, &km[i]))
			r->m[r->n++] = km[i];
}

static void random_unmap(struct env *e, struct kmodel *k, struct ref *r)
{
	uint32_t asid = rnd(&k->rng) % 2;
	uint64_t iova = (rnd(&k->rng) % 64) * 4096,
		 last = iova + (1 + rnd(&k->rng) % 16) * 4096 - 1;
	bool cut = false;
	unsigned j = 0;
	int rc;

	for (unsigned i = 0; i < r->n; i++)
		cut = cut || (kmap_overlaps(&r->m[i], asid, iova, last) &&
			      (r->m[i].iova < iova || r->m[i].last > last));
	k->injected = false;
	rc = vh_vdpa_unmap(e->dev, asid, iova, last - iova + 1);
	assert_int_equal(rc, cut ? -EINVAL : k->injected ? -ENOMEM : 0);
	if (rc < 0)
		return;
	for (unsigned i = 0; i < r->n; i++)
		if (!kmap_overlaps(&r->m[i], asid, iova, last))
			r->m[j++] = r->m[i];
	r->n = j;
}

/*
 * Seeded random maps, unmaps and stop/start cycles (each a reset and a replay), with the kernel
 * refusing some updates: after every step the kernel's IOTLB is exactly what the caller was told,
 * no update ever overlaps (EEXIST) and no batch mixes address spaces.
 */
static void test_iommu_model(void **state)
{
	struct env *e = *state;
	static struct kmodel k;
	static struct ref r;

	env_iommu(e, BE_ALL, 2, 2);
	memset(&k, 0, sizeof(k));
	memset(&r, 0, sizeof(r));
	k.rng = 0x9e3779b9;
	e->f.model = &k;
	e->f.on_write = kmodel_write;
	ring_at(e, 0, 1ull << 32);
	for (unsigned step = 0; step < 3000; step++) {
		unsigned op = rnd(&k.rng) % 16;

		k.fail_updates = step % 3 == 0;
		if (op < 9) {
			random_map(e, &k, &r);
		} else if (op < 15) {
			random_unmap(e, &k, &r);
		} else {
			k.fail_updates = false; /* a replay the kernel refuses breaks the device */
			assert_int_equal(vh_dev_start(e->dev), 0);
			assert_int_equal(vh_dev_stop(e->dev, NULL, 0), 0);
		}
		expect_same(&k, &r);
		e->f.ncalls = 0; /* the call log is not needed here */
	}
	assert_true(r.n > 0);
	env_destroy(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_iommu_map_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iommu_nobatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iommu_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iommu_unmap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iommu_rollback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_asid_routing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_asid_needs_feature, setup, teardown),
		cmocka_unit_test_setup_teardown(test_asid_refused_by_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_asid_without_iommu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iommu_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iommu_model, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
