// SPDX-License-Identifier: BSD-3-Clause
/*
 * vh-blk's request code (devices/vh-blk/req.c and backing.c, compiled into this harness) on a
 * memory backing, behind a real vh_server connection: virtio-blk headers, data, discard and
 * write-zeroes segments and status bytes (virtio 1.2 §5.2.6) in rings the guest got wrong.
 *
 * Input: byte 0 selects the ring (bit 0 packed, bit 1 INDIRECT_DESC, bit 2 EVENT_IDX), a
 * read-only disk (bit 3), whether the ring is stopped between two kicks (bit 4) and the ring
 * size (bits 5-7: 2^n); byte 1 is SET_VRING_BASE's low bits (packed: bit 7 the wrap counter).
 * The rest is guest RAM from GPA 0: the ring sits at GPA 0, buffers anywhere in the 64 KiB.
 * Checks: no crash, no sanitizer report; the disk outside [0, size) is never written (a guard
 * page behind the memory backing faults).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <linux/virtio_blk.h>

#include "fz_frontend.h"
#include "vh_blk.h"

#define GUEST_SIZE 0x10000u
#define DISK_SIZE  "64K"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* main.c is not linked in: its log function, silenced. */
void vhblk_log(const struct vhblk *d, enum vh_log_level level, const char *fmt, ...)
{
	(void)d;
	(void)level;
	(void)fmt;
}

static struct vhblk *disk(void)
{
	static struct vhblk *d;

	if (d)
		return d;
	d = calloc(1, sizeof(*d));
	if (!d)
		abort();
	d->opt.blk_file = "memory:" DISK_SIZE;
	d->opt.serial = "fuzz-serial-0123456789";
	d->opt.num_queues = 1;
	d->opt.queue_size = 128;
	d->opt.logical_block_size = 512;
	d->opt.aio = VHBLK_AIO_SYNC;
	if (vhblk_backing_open(d) < 0)
		abort();
	/* A guard page behind the disk, where one is free: a write past the end faults. */
	(void)mmap(d->mem + d->size, 4096, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vhblk *d = disk();
	struct vh_server_config cfg;
	struct fz_fe f;
	struct fz_rings rg;

	if (size < 2)
		return 0;
	fz_rings_choose(data, 0, &rg);
	d->opt.read_only = data[0] & 8;
	vhblk_config_init(d);
	vh_server_config_init(&cfg);
	cfg.name = VHBLK_NAME;
	/* Postcopy would leave guest pages to a front-end that never fills them: a hang. */
	cfg.protocol_features_clear = 1ull << VH_USER_PROTOCOL_F_PAGEFAULT;
	cfg.ops = &vhblk_ops;
	cfg.opaque = d;
	cfg.features = d->features;
	cfg.num_queues = 1;
	cfg.max_queue_size = d->opt.queue_size;
	cfg.config_size = sizeof(d->config);
	fz_fe_open(&f, &cfg, GUEST_SIZE, rg.features);
	memcpy(f.mem, data + 2, size - 2 < GUEST_SIZE ? size - 2 : GUEST_SIZE);
	if (fz_fe_ring(&f, 0, rg.num, rg.packed, 0, rg.base) == 0) {
		fz_fe_kick(&f, 0);
		if (data[0] & 16) {
			/* Stop and restart from where the device stopped: the same ring again. */
			fz_fe_stop(&f, 0);
			(void)fz_fe_ring(&f, 0, rg.num, rg.packed, 0, rg.base);
		}
		fz_fe_kick(&f, 0);
	}
	fz_fe_close(&f);
	return 0;
}
