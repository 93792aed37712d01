// SPDX-License-Identifier: BSD-3-Clause
/*
 * Driver side of a ring ("playing the guest"): the ring lives in a guest region the caller
 * shares with the device; this file holds what both layouts share.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vq/vq_internal.h"

int vq_drv_fail(struct vh_vq_driver *d, const char *what)
{
	if (!d->broken)
		vh_logf(&d->log, VH_LOG_ERR, d->name, "get_used: %s: %s", what, strerror(EPROTO));
	d->broken = true;
	return -EPROTO;
}

/* [gpa, gpa + len) inside the region; returns the offset or UINT64_MAX. */
static uint64_t region_off(const struct vh_vq_driver *d, uint64_t gpa, uint64_t len)
{
	uint64_t end;

	if (gpa < d->gpa || vh_add_overflows(gpa, len, &end) || end > d->gpa + d->size)
		return UINT64_MAX;
	return gpa - d->gpa;
}

void *vq_drv_indirect_table(struct vh_vq_driver *d, unsigned slot, uint64_t *gpa)
{
	uint64_t off = 16ull * d->indirect_max * slot;

	*gpa = d->indirect_gpa + off;
	return d->host + (d->indirect_gpa - d->gpa) + off;
}

static int check_config(const struct vh_vq_driver_config *cfg, struct vh_vq_layout *l)
{
	uint64_t end;

	if (vh_vq_layout(cfg->num, cfg->packed, l) < 0 || !cfg->host)
		return -EINVAL;
	if (vh_add_overflows(cfg->gpa, cfg->size, &end))
		return -EINVAL;
	if ((cfg->ring_gpa & (VH_VQ_CACHELINE - 1)) || cfg->ring_gpa < cfg->gpa ||
	    cfg->ring_gpa - cfg->gpa > cfg->size ||
	    l->size > cfg->size - (cfg->ring_gpa - cfg->gpa))
		return -EINVAL;
	if (cfg->indirect_max) {
		uint64_t bytes = 16ull * cfg->indirect_max * cfg->num;

		if (cfg->indirect_max > cfg->num * 2u || (cfg->indirect_gpa & 15) ||
		    cfg->indirect_gpa < cfg->gpa || cfg->indirect_gpa - cfg->gpa > cfg->size ||
		    bytes > cfg->size - (cfg->indirect_gpa - cfg->gpa))
			return -EINVAL;
	}
	return 0;
}

int vh_vq_driver_create(const struct vh_vq_driver_config *cfg, struct vh_vq_driver **out)
{
	struct vh_vq_driver *d;
	struct vh_vq_layout l;
	uint8_t *ring;

	*out = NULL;
	if (check_config(cfg, &l) < 0)
		return -EINVAL;
	if (posix_memalign((void **)&d, VH_VQ_CACHELINE, sizeof(*d)))
		return -ENOMEM;
	memset(d, 0, sizeof(*d));
	d->slots = calloc(cfg->num, sizeof(*d->slots));
	d->next_free = calloc(cfg->num, sizeof(*d->next_free));
	if (!d->slots || !d->next_free) {
		vh_vq_driver_destroy(&d);
		return -ENOMEM;
	}
	d->num = (uint16_t)cfg->num;
	d->mask = (uint16_t)(cfg->num - 1);
	d->packed = cfg->packed;
	d->event_idx = cfg->event_idx;
	d->indirect_max = cfg->indirect_max;
	d->host = cfg->host;
	d->gpa = cfg->gpa;
	d->size = cfg->size;
	d->ring_gpa = cfg->ring_gpa;
	d->indirect_gpa = cfg->indirect_gpa;
	d->layout = l;
	d->log = cfg->log;
	snprintf(d->name, sizeof(d->name), "%s", cfg->name ? cfg->name : "vq driver");
	ring = d->host + (cfg->ring_gpa - cfg->gpa);
	memset(ring, 0, l.size);
	d->desc = ring + l.desc_off;
	d->driver = ring + l.driver_off;
	d->device = ring + l.device_off;
	if (d->packed)
		vq_packed_drv_init(d);
	else
		vq_split_drv_init(d);
	*out = d;
	return 0;
}

void vh_vq_driver_destroy(struct vh_vq_driver **d)
{
	if (!d || !*d)
		return;
	free((*d)->slots);
	free((*d)->next_free);
	free(*d);
	*d = NULL;
}

void vh_vq_driver_ring_addrs(const struct vh_vq_driver *d, struct vh_vq_ring_addrs *out)
{
	out->host.desc = d->desc;
	out->host.driver = d->driver;
	out->host.device = d->device;
	out->desc_gpa = d->ring_gpa + d->layout.desc_off;
	out->driver_gpa = d->ring_gpa + d->layout.driver_off;
	out->device_gpa = d->ring_gpa + d->layout.device_off;
}

int vq_drv_check_buf(const struct vh_vq_driver *d, const struct vh_vq_buf *b)
{
	return region_off(d, b->gpa, b->len) == UINT64_MAX ? -EFAULT : 0;
}

static int check_req(const struct vh_vq_driver *d, const struct vh_vq_driver_req *req)
{
	unsigned n = req->out_num + req->in_num, i;

	if (n == 0 || n > VH_VQ_MAX_NUM || !req->token || !req->bufs)
		return -EINVAL;
	if (req->indirect && n > d->indirect_max)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (vq_drv_check_buf(d, &req->bufs[i]) < 0)
			return -EFAULT;
	return 0;
}

int vh_vq_driver_add(struct vh_vq_driver *d, const struct vh_vq_driver_req *req)
{
	int err = check_req(d, req);

	if (vh_unlikely(err < 0))
		return err;
	if (d->packed)
		return vq_packed_drv_add(d, req);
	return vq_split_drv_add(d, req);
}

int vh_vq_driver_add_one(struct vh_vq_driver *d, uint64_t gpa, uint32_t len, bool write,
			 void *token)
{
	uint16_t flags = write ? VRING_DESC_F_WRITE : 0;

	/* The region check of check_req(), for one buffer: no wrap, inside [gpa, gpa + size). */
	if (vh_unlikely(!token || gpa - d->gpa >= d->size || len > d->size - (gpa - d->gpa)))
		return token ? -EFAULT : -EINVAL;
	if (d->packed)
		return vq_packed_drv_add_one(d, gpa, len, flags, token);
	return vq_split_drv_add_one(d, gpa, len, flags, token);
}

void vh_vq_driver_publish(struct vh_vq_driver *d)
{
	if (!d->packed)
		vq_split_drv_publish(d);
}

bool vh_vq_driver_kick_needed(struct vh_vq_driver *d)
{
	if (d->packed)
		return vq_packed_drv_kick_needed(d);
	return vq_split_drv_kick_needed(d);
}

int vh_vq_driver_get_used(struct vh_vq_driver *d, void **token, uint32_t *len)
{
	if (vh_unlikely(d->broken))
		return -EPROTO;
	if (d->packed)
		return vq_packed_drv_get_used(d, token, len);
	return vq_split_drv_get_used(d, token, len);
}

int vh_vq_driver_set_notification(struct vh_vq_driver *d, bool enable)
{
	if (d->packed)
		return vq_packed_drv_set_notification(d, enable);
	return vq_split_drv_set_notification(d, enable);
}

unsigned vh_vq_driver_num_free(const struct vh_vq_driver *d)
{
	return d->num_free;
}

uint64_t vh_vq_driver_gpa(const struct vh_vq_driver *d, const void *host)
{
	uintptr_t h = (uintptr_t)host, base = (uintptr_t)d->host;

	if (h < base || h - base >= d->size)
		return UINT64_MAX;
	return d->gpa + (h - base);
}
