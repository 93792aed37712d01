// SPDX-License-Identifier: BSD-3-Clause
/*
 * vhost-vdpa behind a vIOMMU (IOVA != GPA) and virtqueue groups in other address spaces.
 *
 * The VMM's IOMMU maps become VHOST_IOTLB_UPDATE / VHOST_IOTLB_INVALIDATE messages
 * (<linux/vhost_types.h> struct vhost_msg_v2, whose asid field the kernel reads once
 * VHOST_BACKEND_F_IOTLB_ASID is acked). What the kernel does with them decides the rules here:
 * - an update overlapping a mapping of the same address space fails (EEXIST): checked first;
 * - an invalidation removes every mapping it touches, whole: a range cutting one is refused;
 * - a batch (BATCH_BEGIN .. BATCH_END) belongs to one address space: one batch per asid run;
 * - a device reset without VHOST_BACKEND_F_IOTLB_PERSIST may drop the parent's maps, and the
 *   group -> ASID choice: both are sent again after every reset (vh_vdpa_iommu_replay).
 * So the library keeps the maps it sent (struct vh_vdpa_iommu) as the truth to replay.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <vhost/kernel.h>

#include "frontend/dev_internal.h"
#include "frontend/ioctl.h"
#include "frontend/vdpa.h"

/* A bound on the kept maps (a vIOMMU maps pages or huge ranges, not millions of pieces). */
#define VH_VDPA_MAX_MAPS 65536u

struct vh_vdpa_ent {
	uint32_t asid;
	uint64_t iova;
	uint64_t last; /* inclusive */
	uint64_t uva;
	uint8_t perm;
};

struct vh_vdpa_iommu {
	bool on;
	struct vh_vdpa_ent *e;
	unsigned n, cap;
	/* Groups the caller moved (sent again after each reset); asid per group. */
	uint32_t ngroups;
	uint32_t *group_asid;
	bool *group_set;
};

static bool vh_is_vdpa(const struct vh_dev *dev)
{
	return dev && dev->ops == &vh_transport_vdpa;
}

static struct vh_vdpa_iommu *vh_vdpa_iommu_get(struct vh_dev *dev)
{
	if (!dev->vdpa_iommu)
		dev->vdpa_iommu = calloc(1, sizeof(*dev->vdpa_iommu));
	return dev->vdpa_iommu;
}

void vh_vdpa_iommu_free(struct vh_dev *dev)
{
	struct vh_vdpa_iommu *m = dev->vdpa_iommu;

	if (!m)
		return;
	free(m->e);
	free(m->group_asid);
	free(m->group_set);
	free(m);
	dev->vdpa_iommu = NULL;
}

bool vh_vdpa_iommu_on(const struct vh_dev *dev)
{
	return dev->vdpa_iommu && dev->vdpa_iommu->on;
}

/* Group and IOMMU changes: on a stopped vhost-vdpa device only. */
static int vh_vdpa_stopped(const struct vh_dev *dev)
{
	if (!vh_is_vdpa(dev))
		return -EOPNOTSUPP;
	if (dev->started)
		return -EBUSY;
	return vh_dev_usable(dev);
}

/* Address spaces the device has: 1 when the kernel cannot say (no VHOST_VDPA_GET_AS_NUM). */
static uint32_t vh_vdpa_as_num(const struct vh_dev *dev)
{
	return dev->ioctl->as_num ? dev->ioctl->as_num : 1;
}

static int vh_vdpa_check_asid(struct vh_dev *dev, const char *req, uint32_t asid)
{
	if (asid && !vh_ioctl_has_backend(dev, VHOST_BACKEND_F_IOTLB_ASID)) {
		vh_dev_err(dev, req, -EOPNOTSUPP, "asid %u: no VHOST_BACKEND_F_IOTLB_ASID", asid);
		return -EOPNOTSUPP;
	}
	if (asid >= vh_vdpa_as_num(dev)) {
		vh_dev_err(dev, req, -EINVAL, "asid %u: the device has %u address spaces", asid,
			   vh_vdpa_as_num(dev));
		return -EINVAL;
	}
	return 0;
}

/* Index of the first kept map of @asid overlapping [iova, last], or -1. */
static int vh_vdpa_find(const struct vh_vdpa_iommu *m, uint32_t asid, uint64_t iova, uint64_t last)
{
	for (unsigned i = 0; i < m->n; i++)
		if (m->e[i].asid == asid && m->e[i].iova <= last && iova <= m->e[i].last)
			return (int)i;
	return -1;
}

/* ---- map ---------------------------------------------------------------------------------- */

/* Check one requested map and resolve its host address; nothing is sent. */
static int vh_vdpa_map_check(struct vh_dev *dev, const struct vh_vdpa_map *r,
			     struct vh_vdpa_ent *out)
{
	static const char req[] = "VHOST_IOTLB_UPDATE";
	int err = vh_vdpa_check_asid(dev, req, r->asid);

	if (!err && r->asid == 0 && !vh_vdpa_iommu_on(dev)) {
		vh_dev_err(dev, req, -EINVAL,
			   "asid 0 holds the memory table's maps: vh_vdpa_set_iommu() first");
		err = -EINVAL;
	}
	if (!err && (r->perm < VH_DEV_ACCESS_RO || r->perm > VH_DEV_ACCESS_RW)) {
		vh_dev_err(dev, req, -EINVAL, "iova 0x%" PRIx64 ": bad permission %d", r->iova,
			   r->perm);
		err = -EINVAL;
	}
	if (!err)
		err = vh_vdpa_check_range(dev, req, r->iova, r->size);
	if (err < 0)
		return err;
	*out = (struct vh_vdpa_ent){ .asid = r->asid,
				     .iova = r->iova,
				     .last = r->iova + (r->size - 1),
				     .uva = (uint64_t)(uintptr_t)r->host,
				     .perm = (uint8_t)r->perm };
	if (!r->host) {
		out->uva = vh_dev_gpa_to_uva(dev, r->gpa, r->size);
		if (!out->uva) {
			vh_dev_err(dev, req, -EFAULT,
				   "gpa 0x%" PRIx64 "+0x%" PRIx64 " is not in the memory table",
				   r->gpa, r->size);
			return -EFAULT;
		}
	}
	return 0;
}

/* Append @n checked maps to the kept ones, refusing overlaps with them or each other. */
static int vh_vdpa_map_reserve(struct vh_dev *dev, struct vh_vdpa_iommu *m,
			       const struct vh_vdpa_ent *e, unsigned n)
{
	unsigned cap = m->cap;
	struct vh_vdpa_ent *p;

	for (unsigned i = 0; i < n; i++) {
		int j = vh_vdpa_find(m, e[i].asid, e[i].iova, e[i].last);

		for (unsigned k = 0; k < i && j < 0; k++)
			if (e[k].asid == e[i].asid && e[k].iova <= e[i].last &&
			    e[i].iova <= e[k].last)
				j = (int)k;
		if (j >= 0) {
			vh_dev_err(dev, "VHOST_IOTLB_UPDATE", -EEXIST,
				   "asid %u iova 0x%" PRIx64 "-0x%" PRIx64 " overlaps a mapping",
				   e[i].asid, e[i].iova, e[i].last);
			return -EEXIST;
		}
	}
	if (n > VH_VDPA_MAX_MAPS - m->n) {
		vh_dev_err(dev, "VHOST_IOTLB_UPDATE", -ENOSPC, "more than %u mappings",
			   VH_VDPA_MAX_MAPS);
		return -ENOSPC;
	}
	while (cap < m->n + n)
		cap = cap ? cap * 2 : 64;
	if (cap != m->cap) {
		p = realloc(m->e, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		m->e = p;
		m->cap = cap;
	}
	memcpy(&m->e[m->n], e, n * sizeof(*e));
	return 0;
}

static int vh_vdpa_update(struct vh_dev *dev, const struct vh_vdpa_ent *e)
{
	struct vhost_iotlb_msg m = { .type = VHOST_IOTLB_UPDATE,
				     .iova = e->iova,
				     .size = e->last - e->iova + 1,
				     .uaddr = e->uva,
				     .perm = e->perm };

	return vh_ioctl_send_iotlb_asid(dev, e->asid, &m);
}

static int vh_vdpa_invalidate(struct vh_dev *dev, uint32_t asid, uint64_t iova, uint64_t size)
{
	struct vhost_iotlb_msg m = { .type = VHOST_IOTLB_INVALIDATE, .iova = iova, .size = size };

	return vh_ioctl_send_iotlb_asid(dev, asid, &m);
}

/*
 * Send @n maps (all of one address space) as one batch when the device batches. Return the
 * maps the kernel took in *@done and 0 or the first error; an open batch is always closed.
 */
static int vh_vdpa_send_run(struct vh_dev *dev, const struct vh_vdpa_ent *e, unsigned n,
			    unsigned *done)
{
	bool batch = vh_ioctl_has_backend(dev, VHOST_BACKEND_F_IOTLB_BATCH);
	int err = 0, end;

	*done = 0;
	if (batch)
		err = vh_vdpa_iotlb_op(dev, e->asid, VHOST_IOTLB_BATCH_BEGIN);
	for (unsigned i = 0; !err && i < n; i++) {
		err = vh_vdpa_update(dev, &e[i]);
		*done += !err;
	}
	if (batch) {
		end = vh_vdpa_iotlb_op(dev, e->asid, VHOST_IOTLB_BATCH_END);
		if (!err)
			err = end;
	}
	return err;
}

/*
 * Take back the first @n maps of this call (the kernel refused a later one). One the kernel will
 * not remove either stays kept (moved to the front of @e; the send logged it), so that what the
 * library replays and checks overlaps against is what the kernel holds. Return how many stay.
 */
static unsigned vh_vdpa_map_undo(struct vh_dev *dev, struct vh_vdpa_ent *e, unsigned n)
{
	unsigned kept = 0;

	for (unsigned i = 0; i < n; i++)
		if (vh_vdpa_invalidate(dev, e[i].asid, e[i].iova, e[i].last - e[i].iova + 1) < 0)
			e[kept++] = e[i];
	return kept;
}

static int vh_vdpa_map_ents(struct vh_dev *dev, struct vh_vdpa_iommu *m, unsigned n)
{
	struct vh_vdpa_ent *e = &m->e[m->n];
	unsigned sent = 0, run, done;
	int err = 0;

	while (!err && sent < n) {
		for (run = 1; sent + run < n && e[sent + run].asid == e[sent].asid; run++)
			;
		err = vh_vdpa_send_run(dev, &e[sent], run, &done);
		sent += done;
	}
	if (err < 0) {
		m->n += vh_vdpa_map_undo(dev, e, sent);
		return err;
	}
	m->n += n;
	return 0;
}

int vh_vdpa_map(struct vh_dev *dev, const struct vh_vdpa_map *maps, unsigned n)
{
	struct vh_vdpa_iommu *m;
	struct vh_vdpa_ent *e;
	int err;

	if (!vh_is_vdpa(dev))
		return -EOPNOTSUPP;
	if (!maps || !n)
		return -EINVAL;
	err = vh_dev_usable(dev);
	if (err < 0)
		return err;
	m = vh_vdpa_iommu_get(dev);
	e = calloc(n, sizeof(*e));
	if (!m || !e) {
		free(e);
		return -ENOMEM;
	}
	for (unsigned i = 0; !err && i < n; i++)
		err = vh_vdpa_map_check(dev, &maps[i], &e[i]);
	if (!err)
		err = vh_vdpa_map_reserve(dev, m, e, n);
	free(e);
	return err < 0 ? err : vh_vdpa_map_ents(dev, m, n);
}

/* ---- unmap -------------------------------------------------------------------------------- */

int vh_vdpa_unmap(struct vh_dev *dev, uint32_t asid, uint64_t iova, uint64_t size)
{
	static const char req[] = "VHOST_IOTLB_INVALIDATE";
	struct vh_vdpa_iommu *m;
	uint64_t last;
	unsigned k = 0;
	int err;

	if (!vh_is_vdpa(dev))
		return -EOPNOTSUPP;
	if (!size || vh_add_overflows(iova, size - 1, &last)) {
		vh_dev_err(dev, req, -EINVAL, "iova 0x%" PRIx64 "+0x%" PRIx64 ": %s", iova, size,
			   size ? "range wraps" : "empty range");
		return -EINVAL;
	}
	err = vh_dev_usable(dev);
	m = dev->vdpa_iommu;
	if (err < 0 || !m || vh_vdpa_find(m, asid, iova, last) < 0)
		return err; /* nothing mapped there: the kernel has nothing to remove either */
	for (unsigned i = 0; i < m->n; i++) {
		const struct vh_vdpa_ent *e = &m->e[i];

		if (e->asid == asid && e->iova <= last && iova <= e->last &&
		    (e->iova < iova || e->last > last)) {
			vh_dev_err(dev, req, -EINVAL,
				   "asid %u iova 0x%" PRIx64 "-0x%" PRIx64
				   " cuts the mapping 0x%" PRIx64 "-0x%" PRIx64,
				   asid, iova, last, e->iova, e->last);
			return -EINVAL;
		}
	}
	err = vh_vdpa_invalidate(dev, asid, iova, size);
	if (err < 0)
		return err;
	for (unsigned i = 0; i < m->n; i++)
		if (!(m->e[i].asid == asid && m->e[i].iova >= iova && m->e[i].last <= last))
			m->e[k++] = m->e[i];
	m->n = k;
	return 0;
}

/* Generic requests in vIOMMU mode: the prefill's update is a map of asid 0, an invalidation an
 * unmap of the maps inside it. */
int vh_vdpa_iommu_msg(struct vh_dev *dev, const struct vhost_iotlb_msg *m)
{
	struct vh_vdpa_map r = { .iova = m->iova,
				 .size = m->size,
				 .host = (void *)(uintptr_t)m->uaddr,
				 .perm = m->perm };

	if (m->type == VHOST_IOTLB_INVALIDATE)
		return vh_vdpa_unmap(dev, 0, m->iova, m->size);
	if (m->type == VHOST_IOTLB_UPDATE && m->uaddr)
		return vh_vdpa_map(dev, &r, 1);
	vh_dev_err(dev, "VHOST_IOTLB_MSG", -EINVAL, "type %u in vIOMMU mode", m->type);
	return -EINVAL;
}

/* ---- vIOMMU mode -------------------------------------------------------------------------- */

/* Drop every asid 0 map (the kernel's and ours): leaving vIOMMU mode. */
static int vh_vdpa_drop_asid0(struct vh_dev *dev, struct vh_vdpa_iommu *m)
{
	unsigned k = 0;
	int err;

	if (vh_vdpa_find(m, 0, 0, UINT64_MAX) < 0)
		return 0;
	err = vh_vdpa_iotlb_op(dev, 0, VHOST_IOTLB_INVALIDATE);
	if (err < 0)
		return err;
	for (unsigned i = 0; i < m->n; i++)
		if (m->e[i].asid)
			m->e[k++] = m->e[i];
	m->n = k;
	return 0;
}

int vh_vdpa_set_iommu(struct vh_dev *dev, bool on)
{
	struct vh_vdpa_iommu *m;
	int err;

	err = vh_vdpa_stopped(dev);
	if (err < 0)
		return err;
	if (on && !(dev->features_acked && vh_dev_has_iommu(dev))) {
		vh_dev_err(dev, "vIOMMU", -EINVAL, "VIRTIO_F_ACCESS_PLATFORM is not acked");
		return -EINVAL;
	}
	m = vh_vdpa_iommu_get(dev);
	if (!m)
		return -ENOMEM;
	if (on == m->on)
		return 0;
	if (on) {
		/* The table's GPA maps would collide with the vIOMMU's IOVAs: remove them. */
		if (dev->ioctl->mapped)
			err = vh_vdpa_iotlb_op(dev, 0, VHOST_IOTLB_INVALIDATE);
		if (err < 0)
			return err;
		dev->ioctl->mapped = false;
		m->on = true;
		return 0;
	}
	err = vh_vdpa_drop_asid0(dev, m);
	if (err < 0)
		return err;
	m->on = false;
	/* Back to iova = GPA: map the committed table again. */
	if (dev->mem_sent && vh_memtable_count(dev->mem))
		err = dev->ops->set_mem_table(dev, dev->mem, true);
	return err;
}

/* ---- virtqueue groups and address spaces -------------------------------------------------- */

static int vh_vdpa_send_group_asid(struct vh_dev *dev, uint32_t group, uint32_t asid)
{
	struct vhost_vring_state s = { .index = group, .num = asid };
	int err = vh_ioctl_try(dev, VHOST_VDPA_SET_GROUP_ASID, &s);

	if (err == -ENOTTY)
		err = -EOPNOTSUPP;
	if (err < 0)
		vh_dev_err(dev, "VHOST_VDPA_SET_GROUP_ASID", err, "group %u asid %u", group, asid);
	return err;
}

static int vh_vdpa_groups_alloc(struct vh_vdpa_iommu *m, uint32_t ngroups)
{
	if (m->group_asid)
		return 0;
	m->group_asid = calloc(ngroups, sizeof(*m->group_asid));
	m->group_set = calloc(ngroups, sizeof(*m->group_set));
	if (!m->group_asid || !m->group_set) {
		free(m->group_asid);
		free(m->group_set);
		m->group_asid = NULL;
		m->group_set = NULL;
		return -ENOMEM;
	}
	m->ngroups = ngroups;
	return 0;
}

int vh_vdpa_set_group_asid(struct vh_dev *dev, uint32_t group, uint32_t asid)
{
	static const char req[] = "VHOST_VDPA_SET_GROUP_ASID";
	struct vh_vdpa_iommu *m;
	uint32_t ngroups;
	int err;

	err = vh_vdpa_stopped(dev);
	if (err < 0)
		return err;
	if (!vh_ioctl_has_backend(dev, VHOST_BACKEND_F_IOTLB_ASID)) {
		vh_dev_err(dev, req, -EOPNOTSUPP, "no VHOST_BACKEND_F_IOTLB_ASID");
		return -EOPNOTSUPP;
	}
	ngroups = dev->ioctl->group_num ? dev->ioctl->group_num : 1;
	if (group >= ngroups) {
		vh_dev_err(dev, req, -EINVAL, "group %u: the device has %u groups", group, ngroups);
		return -EINVAL;
	}
	err = vh_vdpa_check_asid(dev, req, asid);
	m = err < 0 ? NULL : vh_vdpa_iommu_get(dev);
	if (!err && (!m || vh_vdpa_groups_alloc(m, ngroups) < 0))
		err = -ENOMEM;
	if (!err)
		err = vh_vdpa_send_group_asid(dev, group, asid);
	if (err < 0)
		return err;
	m->group_asid[group] = asid;
	m->group_set[group] = true;
	return 0;
}

/* ---- after a reset ------------------------------------------------------------------------ */

/*
 * Every map of @asid again, after an invalidation of the whole space (no EEXIST), unless the fd
 * is new (@fresh: nothing mapped, and the kernel has no such address space to invalidate yet).
 */
static int vh_vdpa_replay_asid(struct vh_dev *dev, const struct vh_vdpa_iommu *m, uint32_t asid,
			       bool fresh)
{
	bool batch = vh_ioctl_has_backend(dev, VHOST_BACKEND_F_IOTLB_BATCH);
	int err = 0, end;

	if (batch)
		err = vh_vdpa_iotlb_op(dev, asid, VHOST_IOTLB_BATCH_BEGIN);
	if (!err && !fresh)
		err = vh_vdpa_iotlb_op(dev, asid, VHOST_IOTLB_INVALIDATE);
	for (unsigned i = 0; !err && i < m->n; i++)
		if (m->e[i].asid == asid)
			err = vh_vdpa_update(dev, &m->e[i]);
	if (batch) {
		end = vh_vdpa_iotlb_op(dev, asid, VHOST_IOTLB_BATCH_END);
		if (!err)
			err = end;
	}
	return err;
}

int vh_vdpa_iommu_replay(struct vh_dev *dev, bool fresh)
{
	const struct vh_vdpa_iommu *m = dev->vdpa_iommu;
	int err = 0;

	if (!m)
		return 0;
	for (uint32_t g = 0; !err && g < m->ngroups; g++)
		if (m->group_set[g])
			err = vh_vdpa_send_group_asid(dev, g, m->group_asid[g]);
	for (uint32_t asid = 0; !err && asid < vh_vdpa_as_num(dev); asid++)
		if (vh_vdpa_find(m, asid, 0, UINT64_MAX) >= 0)
			err = vh_vdpa_replay_asid(dev, m, asid, fresh);
	return err;
}
