/* SPDX-License-Identifier: BSD-3-Clause */
/* Private to driver/: struct vh_blk, shared by blk.c (setup) and blk_sync.c (I/O entry points). */
#ifndef VH_BLK_PRIV_H
#define VH_BLK_PRIV_H

#include <stdint.h>

#include <vhost/blk.h>
#include <vhost/frontend.h>

#include "driver/blk_internal.h"
#include "util/util.h"

/*
 * Guest memory (one memfd at guest address 0):
 *   [queue 0: ring | indirect tables | request headers] ... [queue n-1] | bounce | pool
 */
struct vh_blk {
	struct vh_blk_config cfg;
	char name[64];
	struct vh_dev *dev;
	struct vh_blk_info info;
	struct blkq *q;
	unsigned nq;
	unsigned indirect_max;
	uint64_t queue_bytes;
	int mem_fd;
	uint8_t *mem;
	uint64_t bounce_off;
	uint64_t pool_off;
	uint64_t pool_pages;
	/* vh_blk_buf_alloc()/free() may run on any thread; the pool map is the only shared state. */
	uint32_t *pool_map VH_PT_GUARDED_BY(pool_lock);
	struct vh_mutex pool_lock;
};

void blk_refresh_fds(struct vh_blk *b, unsigned i);

#endif
