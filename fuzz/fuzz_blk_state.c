// SPDX-License-Identifier: BSD-3-Clause
/*
 * vh-blk's device state parser (devices/vh-blk/state.c, compiled into this harness): the bytes a
 * front-end sends with SET_DEVICE_STATE_FD direction LOAD are untrusted.
 *
 * Input: byte 0 bit 0 clear: the rest is the state as it is. Set: the rest patches a state
 * vhblk_state_save() wrote for this disk (byte 1: how many bytes to keep, as a fraction of 255
 * of its length plus up to 16 more; then bytes XORed into it from the start), so the fuzzer
 * starts from a valid state and reaches every check behind the header.
 * Checks: no crash, no sanitizer report; a state that loads has exactly the saved length.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vh_blk.h"

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
	d->size = 64 << 10;
	d->opt.serial = "fuzz-serial";
	d->opt.num_queues = 2;
	d->opt.queue_size = 128;
	d->opt.logical_block_size = 512;
	vhblk_config_init(d);
	return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vhblk *d = disk();
	size_t saved_len = 0, len;
	void *saved = NULL;
	uint8_t *buf;

	if (size < 2)
		return 0;
	if (vhblk_state_save(d, NULL, &saved, &saved_len) < 0)
		abort();
	if (data[0] & 1) {
		len = saved_len * data[1] / 255 + (data[1] & 15);
		buf = calloc(1, len + 1);
		if (!buf)
			abort();
		memcpy(buf, saved, len < saved_len ? len : saved_len);
		for (size_t i = 2; i < size && i - 2 < len; i++)
			buf[i - 2] ^= data[i];
	} else {
		len = size - 1;
		buf = malloc(len + 1);
		if (!buf)
			abort();
		memcpy(buf, data + 1, len);
	}
	if (vhblk_state_load(d, NULL, buf, len) == 0 && len != saved_len)
		abort();
	free(buf);
	free(saved);
	return 0;
}
