/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * backend/inflight.c: inflight I/O tracking (vhost-user.rst "Inflight I/O tracking",
 * INFLIGHT_SHMFD). The back-end allocates a shared region (GET_INFLIGHT_FD), the front-end keeps
 * its fd across a back-end restart and hands it back (SET_INFLIGHT_FD); every popped chain is
 * recorded there until its used entry is published, so a new back-end resubmits exactly the
 * chains that were in flight.
 *
 * The layout and the tracking live in vq/ (vh_vq_inflight_size(), vh_vq_set_inflight(), split
 * and packed); this file creates, maps, checks and hands out the region.
 */
#include <fcntl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/virtio_config.h>

#include "backend/backend_internal.h"

#define VH_INFLIGHT_VERSION 1

void vh_inflight_drop(struct vh_conn *c)
{
	for (unsigned i = 0; i < c->num_queues; i++)
		vh_inflight_queue_stop(&c->q[i]);
	if (c->infl.base)
		munmap(c->infl.base, c->infl.size);
	if (c->infl.fd >= 0)
		close(c->infl.fd);
	memset(&c->infl, 0, sizeof(c->infl));
	c->infl.fd = -1;
}

static bool any_live(const struct vh_conn *c)
{
	for (unsigned i = 0; i < c->num_queues; i++)
		if (c->q[i].live || c->q[i].vq)
			return true;
	return false;
}

static int check_geometry(struct vh_conn *c, uint32_t req, const struct vh_user_inflight *in)
{
	if (in->num_queues == 0 || in->num_queues > c->num_queues)
		return vh_conn_fail(c, req, "inflight queue count out of range", -EINVAL);
	if (in->queue_size == 0 || in->queue_size > VH_VQ_MAX_NUM)
		return vh_conn_fail(c, req, "inflight queue size out of range", -EINVAL);
	if (any_live(c))
		return vh_conn_fail(c, req, "rings are running", -EBUSY);
	return 0;
}

int vh_inflight_get(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply)
{
	const struct vh_user_inflight *in = &m->payload.inflight;
	bool packed = c->features & (1ull << VIRTIO_F_RING_PACKED);
	uint64_t per, size;
	void *base;
	int fd, err;

	/* Failure: mmap_size 0 and no fd (vhost-user.rst allows an empty reply region). */
	vh_msg_init(reply, m->hdr.request, VH_USER_FLAG_REPLY, sizeof(struct vh_user_inflight));
	err = check_geometry(c, m->hdr.request, in);
	if (err < 0)
		return err;
	per = vh_vq_inflight_size(in->queue_size, packed);
	if (!per)
		return vh_conn_fail(c, m->hdr.request, "inflight queue size invalid for the ring",
				    -EINVAL);
	size = per * in->num_queues;
	fd = memfd_create("vhost-inflight", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return vh_conn_fail(c, m->hdr.request, "memfd_create", -errno);
	if (ftruncate(fd, (off_t)size) < 0) {
		err = -errno;
		close(fd);
		return vh_conn_fail(c, m->hdr.request, "ftruncate", err);
	}
	/* The size is fixed from now on: neither side may resize it under the other. */
	fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
	base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED) {
		err = -errno;
		close(fd);
		return vh_conn_fail(c, m->hdr.request, "mmap", err);
	}
	vh_inflight_drop(c);
	c->infl = (struct vh_inflight){ .fd = fd,
					.base = base,
					.size = size,
					.num_queues = in->num_queues,
					.queue_size = in->queue_size,
					.queue_region = per,
					.packed = packed };
	reply->payload.inflight = (struct vh_user_inflight){ .mmap_size = size,
							     .mmap_offset = 0,
							     .num_queues = in->num_queues,
							     .queue_size = in->queue_size };
	reply->fds[0] = fd; /* still ours: vh_sock_send() does not close it */
	reply->nfds = 1;
	return 0;
}

int vh_inflight_set(struct vh_conn *c, struct vh_msg *m)
{
	const struct vh_user_inflight *in = &m->payload.inflight;
	bool packed = c->features & (1ull << VIRTIO_F_RING_PACKED);
	uint64_t per, end;
	struct stat st;
	void *base;
	int err;

	err = check_geometry(c, m->hdr.request, in);
	if (err < 0)
		return err;
	per = vh_vq_inflight_size(in->queue_size, packed);
	if (!per)
		return vh_conn_fail(c, m->hdr.request, "inflight queue size invalid for the ring",
				    -EINVAL);
	/* The region may come from another back-end implementation: it must at least hold ours. */
	if (in->mmap_size / in->num_queues < per || in->mmap_size / in->num_queues > UINT32_MAX)
		return vh_conn_fail(c, m->hdr.request, "inflight region too small", -EINVAL);
	per = in->mmap_size / in->num_queues;
	if (vh_add_overflows(in->mmap_offset, in->mmap_size, &end) || end > INT64_MAX)
		return vh_conn_fail(c, m->hdr.request, "inflight region wraps", -EOVERFLOW);
	if (fstat(m->fds[0], &st) < 0)
		return vh_conn_fail(c, m->hdr.request, "fstat", -errno);
	if ((uint64_t)st.st_size < end)
		return vh_conn_fail(c, m->hdr.request, "inflight fd smaller than the region",
				    -EINVAL);
	base = mmap(NULL, in->mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fds[0],
		    (off_t)in->mmap_offset);
	if (base == MAP_FAILED)
		return vh_conn_fail(c, m->hdr.request, "mmap", -errno);
	vh_inflight_drop(c);
	c->infl = (struct vh_inflight){ .fd = m->fds[0],
					.base = base,
					.size = in->mmap_size,
					.num_queues = in->num_queues,
					.queue_size = in->queue_size,
					.queue_region = per,
					.packed = packed };
	m->fds[0] = -1;
	return 0;
}

void vh_inflight_queue_stop(struct vh_queue *q)
{
	if (q->vq && q->infl)
		vh_vq_set_inflight(q->vq, NULL, 0);
	q->infl = NULL;
}

/*
 * Hand the ring its part of the region. vq/ does the tracking and, for a region that was in use
 * before (the back-end restarted), the repair and resubmission (vhost-user.rst "When
 * reconnecting").
 */
int vh_inflight_queue_start(struct vh_queue *q)
{
	struct vh_conn *c = q->conn;
	void *r;
	int n;

	vh_inflight_queue_stop(q);
	if (!c->infl.base || q->index >= c->infl.num_queues)
		return 0;
	if (q->num > c->infl.queue_size) {
		vh_logf(&c->s->cfg.log, VH_LOG_WARN, c->name,
			"vq %u: inflight region smaller than the ring: not tracked", q->index);
		return 0;
	}
	r = (uint8_t *)c->infl.base + q->index * c->infl.queue_region;
	n = vh_vq_set_inflight(q->vq, r, c->infl.queue_region);
	if (n == -ENOTSUP || n == -EOPNOTSUPP) {
		vh_logf(&c->s->cfg.log, VH_LOG_WARN, c->name,
			"vq %u: inflight tracking not available for this ring layout", q->index);
		return 0;
	}
	if (n < 0)
		return vh_conn_fail(c, VH_USER_SET_INFLIGHT_FD, "inflight region", n);
	/* Packed: the region decides where the ring resumes; a front-end that sent something else
	 * restarted from a stale base (the region wins; the front-end's view is off). */
	if ((c->features & (1ull << VIRTIO_F_RING_PACKED)) &&
	    vh_vq_get_base(q->vq) != (q->base & 0xffff))
		vh_logf(&c->s->cfg.log, VH_LOG_WARN, c->name,
			"vq %u: SET_VRING_BASE 0x%x disagrees with the inflight region (0x%x): "
			"resuming from the region",
			q->index, q->base & 0xffff, vh_vq_get_base(q->vq));
	q->infl = r;
	if (n > 0)
		vh_logf(&c->s->cfg.log, VH_LOG_INFO, c->name, "vq %u: resubmitting %d requests",
			q->index, n);
	return 0;
}
