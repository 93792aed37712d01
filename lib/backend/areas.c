/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * backend/areas.c: memory a device shares with the front-end beyond guest RAM
 * (vhost-user.rst): VIRTIO Shared Memory Regions (SHMEM: the device declares their sizes in
 * cfg.shmem_sizes, GET_SHMEM_CONFIG reports them, vh_conn_shmem_map() / _unmap() ask the
 * front-end to map an fd range into one with BACKEND_SHMEM_MAP / _UNMAP) and host notifier pages
 * (HOST_NOTIFIER: vh_queue_set_host_notifier() hands the front-end a page the driver writes the
 * ring index to). Requests are checked here before they go out, and again by the front-end.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend_internal.h"

static bool conn_has(const struct vh_conn *c, unsigned pf)
{
	return c->proto_features & (1ull << pf);
}

static uint64_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (uint64_t)p : 4096u;
}

int vh_areas_config(struct vh_server *s)
{
	const struct vh_server_config *cfg = &s->cfg;

	if (!cfg->shmem_count) {
		s->cfg.shmem_sizes = NULL;
		return 0;
	}
	if (cfg->shmem_count > VH_USER_SHMEM_MAX_REGIONS || !cfg->shmem_sizes)
		return -EINVAL;
	for (unsigned i = 0; i < cfg->shmem_count; i++)
		if (cfg->shmem_sizes[i] % page_size())
			return -EINVAL; /* vhost-user.rst: whole pages of mmap(2) */
	s->shmem_sizes = calloc(cfg->shmem_count, sizeof(*s->shmem_sizes));
	if (!s->shmem_sizes)
		return -ENOMEM;
	memcpy(s->shmem_sizes, cfg->shmem_sizes, cfg->shmem_count * sizeof(*s->shmem_sizes));
	s->cfg.shmem_sizes = s->shmem_sizes;
	return 0;
}

uint64_t vh_areas_protocol_features(const struct vh_server *s)
{
	uint64_t pf = 0;

	for (unsigned i = 0; i < s->cfg.shmem_count; i++)
		if (s->cfg.shmem_sizes[i])
			pf = 1ull << VH_USER_PROTOCOL_F_SHMEM;
	if (s->cfg.host_notifiers)
		pf |= 1ull << VH_USER_PROTOCOL_F_HOST_NOTIFIER;
	return pf;
}

int vh_areas_get_shmem_config(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply)
{
	struct vh_user_shmem_config *sc = &reply->payload.shmem_config;
	const struct vh_server_config *cfg = &c->s->cfg;

	vh_msg_init(reply, m->hdr.request, VH_USER_FLAG_REPLY, sizeof(*sc));
	/* vhost-user.rst: indexed by shmid; nregions counts the regions in use. */
	for (unsigned i = 0; i < cfg->shmem_count; i++) {
		sc->memory_sizes[i] = cfg->shmem_sizes[i];
		sc->nregions += cfg->shmem_sizes[i] != 0;
	}
	return 0;
}

/* The device's callback for a back-end request, carried through chan.c's reply. */
struct areas_wait {
	vh_conn_done_fn done;
	void *opaque;
};

static void areas_reply(struct vh_conn *c, void *opaque, int result, struct vh_msg *reply)
{
	struct areas_wait w = *(struct areas_wait *)opaque;

	free(opaque);
	/* REPLY_ACK: our front-end puts the errno in the u64; others just say "non-zero". */
	if (result == -EIO && reply && reply->payload.u64 < 4096)
		result = -(int)reply->payload.u64;
	if (result < 0)
		vh_logf(&c->s->cfg.log, VH_LOG_WARN, c->name, "%s: front-end refused: %s",
			vh_proto_backend_request_name(reply ? reply->hdr.request : 0),
			strerror(-result));
	w.done(w.opaque, result);
}

/* Never waits (chan.c queues what the socket does not take); @done runs with the answer. */
static int areas_request(struct vh_conn *c, struct vh_msg *m, vh_conn_done_fn done, void *opaque)
{
	struct areas_wait *w;
	int err;

	if (!done)
		return vh_chan_send(c, m, NULL, NULL);
	if (!conn_has(c, VH_USER_PROTOCOL_F_REPLY_ACK))
		return -EOPNOTSUPP;
	w = malloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	*w = (struct areas_wait){ done, opaque };
	err = vh_chan_send(c, m, areas_reply, w);
	if (err < 0)
		free(w);
	return err;
}

static int shmem_check(struct vh_conn *c, const struct vh_shmem_mapping *mp, bool map)
{
	const struct vh_server_config *cfg = &c->s->cfg;
	uint64_t page = page_size(), size;

	if (!conn_has(c, VH_USER_PROTOCOL_F_SHMEM) ||
	    !conn_has(c, VH_USER_PROTOCOL_F_BACKEND_REQ) ||
	    (map && !conn_has(c, VH_USER_PROTOCOL_F_BACKEND_SEND_FD)))
		return -EOPNOTSUPP;
	if (mp->shmid >= cfg->shmem_count || !cfg->shmem_sizes[mp->shmid])
		return -EINVAL;
	size = cfg->shmem_sizes[mp->shmid];
	if (!mp->len || mp->len % page || mp->shm_offset % page || (map && mp->fd_offset % page))
		return -EINVAL;
	/* Written so that no sum can wrap. */
	if (mp->shm_offset > size || mp->len > size - mp->shm_offset ||
	    (map && mp->fd_offset > (uint64_t)INT64_MAX - mp->len))
		return -EINVAL;
	if (map && mp->fd < 0)
		return -EBADF;
	return 0;
}

static int shmem_send(struct vh_conn *c, const struct vh_shmem_mapping *mp, bool map,
		      vh_conn_done_fn done, void *opaque)
{
	uint32_t req = map ? VH_USER_BACKEND_SHMEM_MAP : VH_USER_BACKEND_SHMEM_UNMAP;
	struct vh_user_shmem_map *p;
	struct vh_msg m;
	int err = shmem_check(c, mp, map);

	if (err < 0) {
		vh_logf(&c->s->cfg.log, VH_LOG_ERR, c->name, "%s: shmid %u: %s",
			vh_proto_backend_request_name(req), mp->shmid, strerror(-err));
		return err;
	}
	vh_msg_init(&m, req, 0, sizeof(*p));
	p = &m.payload.shmem_map;
	p->shmid = (uint8_t)mp->shmid;
	p->fd_offset = map ? mp->fd_offset : 0;
	p->shm_offset = mp->shm_offset;
	p->len = mp->len;
	p->flags = map && mp->writable ? VH_USER_SHMEM_MAP_RW : 0;
	if (map) {
		m.fds[0] = mp->fd;
		m.nfds = 1;
	}
	return areas_request(c, &m, done, opaque);
}

int vh_conn_shmem_map(struct vh_conn *c, const struct vh_shmem_mapping *mp, vh_conn_done_fn done,
		      void *opaque)
{
	return shmem_send(c, mp, true, done, opaque);
}

int vh_conn_shmem_unmap(struct vh_conn *c, const struct vh_shmem_mapping *mp, vh_conn_done_fn done,
			void *opaque)
{
	return shmem_send(c, mp, false, done, opaque);
}

int vh_queue_set_host_notifier(struct vh_queue *q, int fd, uint64_t offset, uint64_t size)
{
	struct vh_conn *c = q->conn;
	struct vh_msg m;

	if (!conn_has(c, VH_USER_PROTOCOL_F_HOST_NOTIFIER) ||
	    !conn_has(c, VH_USER_PROTOCOL_F_BACKEND_REQ) ||
	    (fd >= 0 && !conn_has(c, VH_USER_PROTOCOL_F_BACKEND_SEND_FD)))
		return -EOPNOTSUPP;
	if (fd >= 0 && (size != page_size() || offset % page_size()))
		return -EINVAL;
	vh_msg_init(&m, VH_USER_BACKEND_VRING_HOST_NOTIFIER_MSG, 0,
		    sizeof(struct vh_user_vring_area));
	m.payload.area.u64 = q->index;
	if (fd < 0) {
		m.payload.area.u64 |= VH_USER_VRING_NOFD_MASK;
	} else {
		m.payload.area.size = size;
		m.payload.area.offset = offset;
		m.fds[0] = fd;
		m.nfds = 1;
	}
	return areas_request(c, &m, NULL, NULL);
}
