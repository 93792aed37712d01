// SPDX-License-Identifier: BSD-3-Clause
/*
 * Inflight I/O tracking on resubmission (vq/inflight.c, vq/inflight_packed.c): a restarted
 * backend is handed an inflight region (vhost-user.rst "Inflight I/O tracking") whose every
 * byte the frontend controls, next to a ring whose every byte the guest controls, and the
 * frontend keeps writing to the shared region while the backend resubmits and completes.
 *
 * Input: byte 0: packed (bit 0), INDIRECT_DESC (bit 1), EVENT_IDX (bit 2); byte 1: ring size
 * (split 2^(n % 6), packed 1 + n % 32); byte 2: which chains are completed (bit i: the i-th
 * popped, cyclic); bytes 3-4: a region offset the frontend scribbles on between the two
 * backend lives, byte 5 what it writes. Then the inflight region (vh_vq_inflight_size()
 * bytes), then guest RAM from GPA 0 (the ring at GPA 0).
 * Checks: every popped iovec lies in guest RAM; no crash, no sanitizer report.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vhost/mem.h>
#include <vhost/vq.h>

#include "fz_vq.h"

#define MEM_BYTES 0x4000u
#define INFL_MAX  4096u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_env {
	struct vh_memmap *map;
	struct vh_mem_region region;
	_Alignas(64) uint8_t infl[INFL_MAX];
};

static struct fz_env *env_get(void)
{
	static struct fz_env *env;
	struct vh_log_sink quiet = { .fn = NULL, .max_level = VH_LOG_ERR };
	struct vh_mem_region r = { .gpa = 0, .size = MEM_BYTES, .uva = 0x7f0000000000ull };
	int fd;

	if (env)
		return env;
	env = aligned_alloc(64, sizeof(*env));
	if (!env)
		abort();
	memset(env, 0, sizeof(*env));
	fd = memfd_create("fuzz_inflight", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, MEM_BYTES) < 0 || vh_memmap_create(&quiet, &env->map) < 0)
		abort();
	r.fd = fd;
	if (vh_memmap_add(env->map, &r) < 0 || vh_memmap_get(env->map, 0, &env->region) < 0)
		abort();
	close(fd);
	return env;
}

static struct vh_vq *make_vq(struct fz_env *env, const struct vh_vq_config *cfg)
{
	struct vh_vq_layout l;
	struct vh_vq_addrs a;
	struct vh_vq *vq;
	uint8_t *ring = env->region.host;

	if (vh_vq_layout(cfg->num, cfg->packed, &l) < 0)
		abort();
	a.desc = ring + l.desc_off;
	a.driver = ring + l.driver_off;
	a.device = ring + l.device_off;
	if (vh_vq_create(cfg, &vq) < 0 || vh_vq_set_addrs(vq, &a) < 0)
		abort();
	vh_vq_set_memmap(vq, env->map);
	return vq;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_env *env = env_get();
	struct vh_vq_config cfg = { .log = { .fn = NULL, .max_level = VH_LOG_ERR } };
	size_t isz, n;
	unsigned off, mask;
	uint8_t scribble;
	struct vh_vq *vq;

	if (size < 6)
		return 0;
	cfg.packed = data[0] & 1;
	cfg.indirect = data[0] & 2;
	cfg.event_idx = data[0] & 4;
	cfg.num = cfg.packed ? 1u + data[1] % 32 : 1u << (data[1] % 6);
	isz = vh_vq_inflight_size(cfg.num, cfg.packed);
	if (!isz || isz > INFL_MAX)
		__builtin_trap();
	mask = data[2];
	off = (unsigned)(data[3] | data[4] << 8) % isz;
	scribble = data[5];
	data += 6;
	size -= 6;
	n = size < isz ? size : isz;
	memset(env->infl, 0, sizeof(env->infl));
	memcpy(env->infl, data, n);
	data += n;
	size -= n;
	memset(env->region.host, 0, MEM_BYTES);
	memcpy(env->region.host, data, size < MEM_BYTES ? size : MEM_BYTES);

	/* First life: the region as the frontend handed it over (corrupt or not). */
	vq = make_vq(env, &cfg);
	if (vh_vq_set_inflight(vq, env->infl, isz) >= 0)
		fz_vq_drain(vq, &env->region, 1, mask);
	vh_vq_destroy(&vq);
	/* The frontend scribbles on the shared region; the next backend resubmits from it. */
	env->infl[off] ^= scribble;
	vq = make_vq(env, &cfg);
	if (vh_vq_set_inflight(vq, env->infl, isz) >= 0) {
		env->infl[(off * 7 + 3) % isz] ^= scribble;
		fz_vq_drain(vq, &env->region, 1, ~0u);
	}
	vh_vq_destroy(&vq);
	return 0;
}
