// SPDX-License-Identifier: BSD-3-Clause
/*
 * vhost-user areas the back-end hands to the front-end (vhost-user.rst "Back-end message
 * types"): VIRTIO Shared Memory Regions (SHMEM: GET_SHMEM_CONFIG at connect, then
 * BACKEND_SHMEM_MAP / _UNMAP of an fd range into a region) and host notifier pages
 * (HOST_NOTIFIER: BACKEND_VRING_HOST_NOTIFIER_MSG, one page per ring the driver writes the ring
 * index to instead of kicking the eventfd). Everything the back-end sends is checked here before
 * anything is mapped: region ids, page alignment, offset + length within the region (no
 * overflow), no overlapping mapping, the notifier page inside its fd. The state lives for one
 * connection: a reconnect drops every mapping and notifier and fetches the configuration again.
 * Also the GPA_ADDRESSES helper that turns this process's addresses into guest addresses.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vhost/proto.h>
#include <vhost/sock.h>

#include "frontend/dev_internal.h"
#include "frontend/user.h"

/* Mappings one connection may hold in all its regions together. */
#define VH_USER_SHMEM_MAX_MAPPINGS 4096u

struct vh_user_mapping {
	uint8_t shmid;
	uint64_t offset;
	uint64_t len;
};

struct vh_user_notifier {
	int fd; /* -1: none */
	uint64_t offset;
	uint64_t size;
	void *addr;
};

struct vh_user_areas {
	uint64_t sizes[VH_USER_SHMEM_MAX_REGIONS]; /* GET_SHMEM_CONFIG, by shmid */
	unsigned nshm;				   /* highest used shmid + 1 */
	void *base[VH_USER_SHMEM_MAX_REGIONS];	   /* our reservation (no shmem_map callback) */
	struct vh_user_mapping *maps;
	unsigned nmaps, cap;
	struct vh_user_notifier nt[VH_DEV_MAX_QUEUES];
};

static bool vh_user_has(const struct vh_dev *dev, unsigned pf)
{
	return dev->protocol_features & (1ull << pf);
}

static uint64_t vh_page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (uint64_t)p : 4096u;
}

static struct vh_user_areas *vh_areas(struct vh_dev *dev)
{
	if (!dev->areas) {
		dev->areas = calloc(1, sizeof(*dev->areas));
		if (!dev->areas)
			return NULL;
		for (unsigned i = 0; i < VH_DEV_MAX_QUEUES; i++)
			dev->areas->nt[i].fd = -1;
	}
	return dev->areas;
}

static void vh_notifier_drop(struct vh_user_notifier *n)
{
	if (n->addr)
		munmap(n->addr, n->size);
	if (n->fd >= 0)
		close(n->fd);
	*n = (struct vh_user_notifier){ .fd = -1 };
}

void vh_user_areas_free(struct vh_dev *dev)
{
	struct vh_user_areas *a = dev->areas;

	if (!a)
		return;
	for (unsigned i = 0; i < VH_DEV_MAX_QUEUES; i++)
		vh_notifier_drop(&a->nt[i]);
	for (unsigned i = 0; i < a->nshm; i++)
		if (a->base[i])
			munmap(a->base[i], a->sizes[i]);
	free(a->maps);
	free(a);
	dev->areas = NULL;
}

int vh_dev_uva_to_gpa(const struct vh_dev *dev, uint64_t uva, uint64_t len, uint64_t *gpa)
{
	for (unsigned i = 0; i < vh_memtable_count(dev->mem); i++) {
		const struct vh_memtable_region *r = vh_memtable_region(dev->mem, i);

		if (uva >= r->host && uva - r->host < r->size && len <= r->size - (uva - r->host)) {
			*gpa = r->gpa + (uva - r->host);
			return 0;
		}
	}
	return -EFAULT;
}

/* ---- VIRTIO Shared Memory Regions ----------------------------------------------------------- */

#define VH_SHMEM_CFG_REQ "VHOST_USER_GET_SHMEM_CONFIG"

/*
 * vhost-user.rst GET_SHMEM_CONFIG: the array index is the shmid; nregions counts the used ones;
 * every size is a multiple of the page size. Anything else is a broken back-end.
 */
static int vh_shmem_config_check(struct vh_dev *dev, const struct vh_user_shmem_config *c)
{
	uint64_t page = vh_page_size();
	unsigned used = 0;

	for (unsigned i = 0; i < VH_USER_SHMEM_MAX_REGIONS; i++) {
		if (c->memory_sizes[i] % page) {
			vh_dev_err(dev, VH_SHMEM_CFG_REQ, -EPROTO,
				   "region %u: size 0x%" PRIx64 " not a multiple of the page size",
				   i, c->memory_sizes[i]);
			return -EPROTO;
		}
		used += c->memory_sizes[i] != 0;
	}
	if (c->nregions != used) {
		vh_dev_err(dev, VH_SHMEM_CFG_REQ, -EPROTO, "nregions %u but %u sizes are set",
			   c->nregions, used);
		return -EPROTO;
	}
	return 0;
}

/* Reserve each region (inaccessible until mapped) when the VMM did not ask to do it itself. */
static int vh_shmem_reserve(struct vh_dev *dev, struct vh_user_areas *a)
{
	for (unsigned i = 0; i < a->nshm; i++) {
		void *p;

		if (!a->sizes[i] || dev->cfg.shmem_map)
			continue;
		p = mmap(NULL, a->sizes[i], PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			 -1, 0);
		if (p == MAP_FAILED) {
			int err = -errno;

			vh_dev_err(dev, VH_SHMEM_CFG_REQ, err,
				   "reserve region %u (%" PRIu64 " bytes)", i, a->sizes[i]);
			return err;
		}
		a->base[i] = p;
	}
	return 0;
}

int vh_user_shmem_fetch(struct vh_dev *dev)
{
	struct vh_user_areas *a;
	struct vh_msg m, r;
	int err;

	if (!vh_user_has(dev, VH_USER_PROTOCOL_F_SHMEM))
		return 0;
	vh_msg_init(&m, VH_USER_GET_SHMEM_CONFIG, 0, 0);
	err = vh_user_exchange(dev, &m, &r);
	if (err < 0)
		return err;
	err = vh_shmem_config_check(dev, &r.payload.shmem_config);
	if (err < 0)
		return vh_dev_set_broken(dev, err);
	a = vh_areas(dev);
	if (!a)
		return -ENOMEM;
	for (unsigned i = 0; i < VH_USER_SHMEM_MAX_REGIONS; i++) {
		a->sizes[i] = r.payload.shmem_config.memory_sizes[i];
		if (a->sizes[i])
			a->nshm = i + 1;
	}
	return vh_shmem_reserve(dev, a);
}

static struct vh_user_mapping *vh_shmem_find(struct vh_user_areas *a, uint8_t shmid, uint64_t off,
					     uint64_t len, bool exact)
{
	for (unsigned i = 0; i < a->nmaps; i++) {
		struct vh_user_mapping *p = &a->maps[i];

		if (p->shmid != shmid)
			continue;
		if (exact ? p->offset == off && p->len == len
			  : off < p->offset + p->len && p->offset < off + len)
			return p;
	}
	return NULL;
}

/* What every SHMEM_MAP / _UNMAP must satisfy; @map: the fd range is checked too. */
static int vh_shmem_check(struct vh_dev *dev, const char *req, const struct vh_user_shmem_map *s,
			  bool map)
{
	struct vh_user_areas *a = dev->areas;
	uint64_t page = vh_page_size(), size;

	if (!vh_user_has(dev, VH_USER_PROTOCOL_F_SHMEM) || !a) {
		vh_dev_err(dev, req, -EINVAL, "SHMEM not negotiated");
		return -EINVAL;
	}
	size = a->sizes[s->shmid];
	if (!size) {
		vh_dev_err(dev, req, -EINVAL, "shmid %u names no region", s->shmid);
		return -EINVAL;
	}
	if (s->flags & ~VH_USER_SHMEM_MAP_RW) {
		vh_dev_err(dev, req, -EINVAL, "unknown flags 0x%" PRIx64, s->flags);
		return -EINVAL;
	}
	if (!s->len || s->len % page || s->shm_offset % page || (map && s->fd_offset % page)) {
		vh_dev_err(dev, req, -EINVAL,
			   "len 0x%" PRIx64 " or offsets 0x%" PRIx64 "/0x%" PRIx64
			   " not whole pages",
			   s->len, s->shm_offset, s->fd_offset);
		return -EINVAL;
	}
	/* Written so that no sum can wrap: a hostile offset near 2^64 stays out of range. */
	if (s->shm_offset > size || s->len > size - s->shm_offset ||
	    (map && s->fd_offset > (uint64_t)INT64_MAX - s->len)) {
		vh_dev_err(dev, req, -EINVAL,
			   "shmid %u: 0x%" PRIx64 " bytes at 0x%" PRIx64
			   " do not fit its 0x%" PRIx64 " bytes",
			   s->shmid, s->len, s->shm_offset, size);
		return -EINVAL;
	}
	return 0;
}

static int vh_shmem_record(struct vh_user_areas *a, const struct vh_user_shmem_map *s)
{
	if (a->nmaps == a->cap) {
		unsigned cap = a->cap ? a->cap * 2 : 16;
		struct vh_user_mapping *p;

		if (cap > VH_USER_SHMEM_MAX_MAPPINGS)
			return -ENOSPC;
		p = realloc(a->maps, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		a->maps = p;
		a->cap = cap;
	}
	a->maps[a->nmaps++] = (struct vh_user_mapping){ s->shmid, s->shm_offset, s->len };
	return 0;
}

/* Our own reservation: the fd range replaces the placeholder, or the placeholder comes back. */
static int vh_shmem_mmap(struct vh_user_areas *a, const struct vh_user_shmem_map *s, int fd)
{
	uint8_t *at = (uint8_t *)a->base[s->shmid] + s->shm_offset;
	int prot = PROT_READ | ((s->flags & VH_USER_SHMEM_MAP_RW) ? PROT_WRITE : 0);
	void *p = MAP_FAILED;
	int err = 0;

	if (fd >= 0) {
		p = mmap(at, s->len, prot, MAP_SHARED | MAP_FIXED, fd, (off_t)s->fd_offset);
		if (p != MAP_FAILED)
			return 0;
		err = -errno;
	}
	p = mmap(at, s->len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1,
		 0);
	if (p == MAP_FAILED && !err)
		err = -errno;
	return err;
}

static int vh_shmem_apply(struct vh_dev *dev, const struct vh_user_shmem_map *s, int fd)
{
	struct vh_dev_shmem_req q = { .shmid = s->shmid,
				      .fd = fd,
				      .fd_offset = s->fd_offset,
				      .shm_offset = s->shm_offset,
				      .len = s->len,
				      .writable = (s->flags & VH_USER_SHMEM_MAP_RW) != 0 };

	if (fd >= 0)
		return dev->cfg.shmem_map ? dev->cfg.shmem_map(dev->cfg.opaque, &q)
					  : vh_shmem_mmap(dev->areas, s, fd);
	return dev->cfg.shmem_map
		   ? (dev->cfg.shmem_unmap ? dev->cfg.shmem_unmap(dev->cfg.opaque, &q) : 0)
		   : vh_shmem_mmap(dev->areas, s, -1);
}

int vh_user_chan_shmem(struct vh_dev *dev, const struct vh_msg *m)
{
	const char *req = vh_proto_backend_request_name(m->hdr.request);
	const struct vh_user_shmem_map *s = &m->payload.shmem_map;
	bool map = m->hdr.request == VH_USER_BACKEND_SHMEM_MAP;
	struct vh_user_mapping *found;
	struct vh_user_areas *a;
	int err = vh_shmem_check(dev, req, s, map);

	if (err < 0)
		return err;
	a = dev->areas;
	if (map && !vh_user_has(dev, VH_USER_PROTOCOL_F_BACKEND_SEND_FD)) {
		vh_dev_err(dev, req, -EINVAL, "BACKEND_SEND_FD not negotiated");
		return -EINVAL;
	}
	found = vh_shmem_find(a, s->shmid, s->shm_offset, s->len, !map);
	if (map && found) {
		vh_dev_err(dev, req, -EBUSY, "shmid %u: 0x%" PRIx64 " overlaps a mapping", s->shmid,
			   s->shm_offset);
		return -EBUSY;
	}
	if (!map && !found) {
		vh_dev_err(dev, req, -EINVAL, "shmid %u: no mapping of 0x%" PRIx64 " at 0x%" PRIx64,
			   s->shmid, s->len, s->shm_offset);
		return -EINVAL;
	}
	if (map && a->nmaps >= VH_USER_SHMEM_MAX_MAPPINGS) {
		vh_dev_err(dev, req, -ENOSPC, "%u mappings already", a->nmaps);
		return -ENOSPC;
	}
	err = vh_shmem_apply(dev, s, map ? m->fds[0] : -1);
	if (err < 0) {
		vh_dev_err(dev, req, err, "shmid %u: 0x%" PRIx64 " bytes at 0x%" PRIx64, s->shmid,
			   s->len, s->shm_offset);
		return err;
	}
	if (!map) {
		*found = a->maps[--a->nmaps];
		return 0;
	}
	err = vh_shmem_record(a, s);
	if (err < 0)
		vh_shmem_apply(dev, s, -1);
	return err;
}

int vh_dev_shmem_region(const struct vh_dev *dev, unsigned shmid, uint64_t *size, void **addr)
{
	const struct vh_user_areas *a = dev->areas;

	if (!size)
		return -EINVAL;
	if (!a || shmid >= a->nshm || !a->sizes[shmid])
		return -ENOENT;
	*size = a->sizes[shmid];
	if (addr)
		*addr = a->base[shmid];
	return 0;
}

unsigned vh_dev_shmem_count(const struct vh_dev *dev)
{
	return dev->areas ? dev->areas->nshm : 0;
}

/* ---- host notifiers ------------------------------------------------------------------------- */

/*
 * vhost-user.rst BACKEND_VRING_HOST_NOTIFIER_MSG: the page at (fd, offset, size) is the ring's
 * notify area, or (no fd) the ring has none any more. QEMU takes exactly one host page; so do we.
 */
int vh_user_chan_host_notifier(struct vh_dev *dev, struct vh_msg *m)
{
	const char *req = vh_proto_backend_request_name(m->hdr.request);
	const struct vh_user_vring_area *v = &m->payload.area;
	unsigned idx = (unsigned)(v->u64 & VH_USER_VRING_IDX_MASK);
	struct vh_user_areas *a;
	struct vh_user_notifier *n;
	struct stat st;
	void *p;

	if (!vh_user_has(dev, VH_USER_PROTOCOL_F_HOST_NOTIFIER)) {
		vh_dev_err(dev, req, -EINVAL, "HOST_NOTIFIER not negotiated");
		return -EINVAL;
	}
	if (v->u64 & ~(VH_USER_VRING_IDX_MASK | VH_USER_VRING_NOFD_MASK) ||
	    idx >= dev->cfg.num_queues) {
		vh_dev_err(dev, req, -EINVAL, "bad ring 0x%" PRIx64, v->u64);
		return -EINVAL;
	}
	a = vh_areas(dev);
	if (!a)
		return -ENOMEM;
	n = &a->nt[idx];
	if (v->u64 & VH_USER_VRING_NOFD_MASK) {
		vh_notifier_drop(n);
	} else {
		/* A mapping past the end of a file would SIGBUS at the first kick. */
		if (v->size != vh_page_size() || v->offset % vh_page_size() ||
		    v->offset > (uint64_t)INT64_MAX - v->size || fstat(m->fds[0], &st) < 0 ||
		    (S_ISREG(st.st_mode) && v->offset + v->size > (uint64_t)st.st_size)) {
			vh_dev_err(dev, req, -EINVAL,
				   "ring %u: 0x%" PRIx64 " bytes at 0x%" PRIx64
				   " is not one page of the fd",
				   idx, (uint64_t)v->size, (uint64_t)v->offset);
			return -EINVAL;
		}
		p = mmap(NULL, v->size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fds[0],
			 (off_t)v->offset);
		if (p == MAP_FAILED) {
			int err = -errno;

			vh_dev_err(dev, req, err, "ring %u: mmap", idx);
			return err;
		}
		vh_notifier_drop(n);
		*n = (struct vh_user_notifier){
			.fd = m->fds[0], .offset = v->offset, .size = v->size, .addr = p
		};
		m->fds[0] = -1;
	}
	if (dev->cfg.host_notifier)
		dev->cfg.host_notifier(dev->cfg.opaque, idx);
	return 0;
}

int vh_user_notifier_kick(struct vh_dev *dev, unsigned index)
{
	struct vh_user_notifier *n;

	if (!dev->areas || index >= VH_DEV_MAX_QUEUES)
		return 0;
	n = &dev->areas->nt[index];
	if (!n->addr)
		return 0;
	/* virtio 1.2 §4.1.5.2: the driver writes the queue index to the queue's notify address. */
	__atomic_store_n((uint16_t *)n->addr, (uint16_t)index, __ATOMIC_RELEASE);
	return 1;
}

int vh_dev_vring_host_notifier(const struct vh_dev *dev, unsigned index,
			       struct vh_dev_host_notifier *out)
{
	const struct vh_user_notifier *n;

	if (!out || index >= VH_DEV_MAX_QUEUES)
		return -EINVAL;
	if (!dev->areas || dev->areas->nt[index].fd < 0)
		return -ENOENT;
	n = &dev->areas->nt[index];
	*out = (struct vh_dev_host_notifier){
		.fd = n->fd, .offset = n->offset, .size = n->size, .addr = n->addr
	};
	return 0;
}
