// SPDX-License-Identifier: BSD-3-Clause
/*
 * Chain walker over a fuzzed ring. Input: byte 0 selects split/packed, INDIRECT_DESC and
 * EVENT_IDX; byte 1 the ring size and the starting position; the rest is copied to guest
 * address 0 onwards: descriptor table, avail ring / event areas, indirect tables, buffers.
 *
 * Guest memory is a memfd mapped by the memory table: region A [0, 0x4000) and region B
 * [0x4000, 0x5000) are GPA-adjacent but separately mapped (tables straddling the boundary take
 * the slow path), then a hole, then region C [0x8000, 0x9000). Every popped iovec must lie inside
 * one mapped region; push and the dirty log run on everything popped.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vhost/log.h>
#include <vhost/mem.h>
#include <vhost/vq.h>

#include "fz_vq.h"

#define MEM_BYTES 0x9000

struct fuzz_env {
	struct vh_memmap *map;
	struct vh_dirty_log *log;
	uint8_t log_bits[64];
	struct vh_mem_region regions[3];
	_Alignas(64) uint8_t infl[2048]; /* inflight region: >= vh_vq_inflight_size(32, packed) */
	int fd;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_env *env_get(void)
{
	static struct fuzz_env *env;
	static const uint64_t gpa[3] = { 0, 0x4000, 0x8000 }, len[3] = { 0x4000, 0x1000, 0x1000 };
	struct vh_log_sink quiet = { .fn = NULL, .max_level = VH_LOG_ERR };
	unsigned i;

	if (env)
		return env;
	env = aligned_alloc(64, sizeof(*env));
	if (!env)
		abort();
	memset(env, 0, sizeof(*env));
	env->fd = memfd_create("fuzz_vq", MFD_CLOEXEC);
	if (env->fd < 0 || ftruncate(env->fd, MEM_BYTES) < 0)
		abort();
	if (vh_memmap_create(&quiet, &env->map) < 0)
		abort();
	for (i = 0; i < 3; i++) {
		struct vh_mem_region r = { .gpa = gpa[i],
					   .size = len[i],
					   .uva = 0x7f0000000000ull + gpa[i],
					   .mmap_offset = gpa[i],
					   .fd = env->fd };

		if (vh_memmap_add(env->map, &r) < 0 ||
		    vh_memmap_get(env->map, i, &env->regions[i]) < 0)
			abort();
	}
	if (vh_dirty_log_wrap(env->log_bits, sizeof(env->log_bits), &env->log) < 0)
		abort();
	return env;
}

/* Guest bytes: copy @data to GPA 0 onwards, through each region's own mapping. */
static void fill_guest(const struct fuzz_env *env, const uint8_t *data, size_t size)
{
	unsigned k;

	for (k = 0; k < 3; k++) {
		const struct vh_mem_region *r = &env->regions[k];
		size_t n = size > r->gpa ? size - r->gpa : 0;

		if (n > r->size)
			n = r->size;

		memset(r->host, 0, r->size);
		if (n)
			memcpy(r->host, data + r->gpa, n);
	}
}

static struct vh_vq *make_vq(struct fuzz_env *env, const struct vh_vq_config *cfg,
			     const uint8_t *data)
{
	struct vh_vq_layout l;
	struct vh_vq_addrs a;
	struct vh_vq *vq;
	uint8_t *ring = env->regions[0].host;

	if (vh_vq_layout(cfg->num, cfg->packed, &l) < 0)
		abort();
	a.desc = ring + l.desc_off;
	a.driver = ring + l.driver_off;
	a.device = ring + l.device_off;
	if (vh_vq_create(cfg, &vq) < 0 || vh_vq_set_addrs(vq, &a) < 0)
		abort();
	vh_vq_set_memmap(vq, env->map);
	vh_vq_set_log(vq, env->log, cfg->packed ? l.desc_off : l.device_off);
	if (cfg->packed && (data[0] & 8))
		vh_vq_set_base(vq, (data[1] >> 5) % cfg->num | (data[0] & 16 ? 0x8000u : 0));
	vh_vq_set_notification(vq, data[0] & 32);
	return vq;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_env *env = env_get();
	struct vh_vq_config cfg = { .log = { .fn = NULL, .max_level = VH_LOG_ERR } };
	struct vh_vq *vq;

	if (size < 2)
		return 0;
	cfg.packed = data[0] & 1;
	cfg.indirect = data[0] & 2;
	cfg.event_idx = data[0] & 4;
	cfg.num = cfg.packed ? 1u + (data[1] & 31) : 1u << (data[1] % 6);
	fill_guest(env, data + 2, size - 2);
	vq = make_vq(env, &cfg, data);
	if (data[0] & 128) {
		/* Inflight region contents from the input (region C): a corrupt region after restart. */
		memcpy(env->infl, env->regions[2].host, sizeof(env->infl));
		(void)vh_vq_set_inflight(vq, env->infl, sizeof(env->infl));
		fz_vq_drain(vq, env->regions, 3, ~0u);
	} else if (data[0] & 64) {
		/* Track, leave some chains in flight, restart and resubmit them. */
		memset(env->infl, 0, sizeof(env->infl));
		if (vh_vq_set_inflight(vq, env->infl, sizeof(env->infl)) < 0)
			__builtin_trap();
		fz_vq_drain(vq, env->regions, 3, ~(unsigned)data[1]);
		vh_vq_destroy(&vq);
		vq = make_vq(env, &cfg, data);
		(void)vh_vq_set_inflight(vq, env->infl, sizeof(env->infl));
		fz_vq_drain(vq, env->regions, 3, ~0u);
	} else {
		fz_vq_drain(vq, env->regions, 3, ~0u);
	}
	vh_vq_destroy(&vq);
	return 0;
}
