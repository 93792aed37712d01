// SPDX-License-Identifier: BSD-3-Clause
/*
 * The driver side of vq/ (the ring of vh_blk / vh_net and the test drivers) against a hostile
 * device: the device's half of the ring (packed: used descriptors written over the ring, their
 * ids, lengths and wrap bits; split: the used ring and its idx; both: the device event area)
 * comes from the input, interleaved with the driver's own adds and reaps.
 *
 * Input: byte 0 selects packed (bit 0), EVENT_IDX (bit 1), indirect tables (bit 2) and the
 * ring size (bits 3-5: 2^n); then commands, one byte each plus arguments:
 *   0: add a chain (next byte: out/in counts, indirect), 1: the device writes 8 bytes at a
 *   ring offset (next: offset byte, 8 bytes), 2: reap until empty or error, 3: notification
 *   on/off and kick_needed (next byte).
 * Checks: every token reaped was added and not reaped before; the free count never exceeds the
 * ring size; a broken ring stays broken; no crash, no sanitizer report.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vhost/vq.h>

#define REGION	 0x8000u
#define RING_GPA 0x1000u
#define IND_GPA	 0x4000u
#define BUF_GPA	 0x6000u
#define MAX_TOK	 4096u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_drv {
	struct vh_vq_driver *d;
	uint8_t *ring; /* host address of RING_GPA */
	size_t ring_size;
	bool in_flight[MAX_TOK + 1];
	unsigned next_tok;
	bool broken;
};

static void add(struct fz_drv *z, uint8_t arg, bool indirect)
{
	struct vh_vq_buf bufs[8];
	struct vh_vq_driver_req req = { .bufs = bufs };
	unsigned n;

	if (z->next_tok == MAX_TOK)
		return;
	req.out_num = arg & 3;
	req.in_num = (arg >> 2) & 3;
	req.indirect = indirect && (arg & 16);
	n = req.out_num + req.in_num;
	for (unsigned i = 0; i < n; i++)
		bufs[i] = (struct vh_vq_buf){ .gpa = BUF_GPA + 64 * i, .len = 64 };
	req.token = (void *)(uintptr_t)(z->next_tok + 1);
	if (vh_vq_driver_add(z->d, &req) == 0) {
		z->in_flight[z->next_tok + 1] = true;
		z->next_tok++;
	}
	vh_vq_driver_publish(z->d);
}

static void reap(struct fz_drv *z, unsigned num)
{
	for (unsigned i = 0; i <= 2 * num; i++) {
		void *token = NULL;
		uint32_t len;
		int r = vh_vq_driver_get_used(z->d, &token, &len);
		uintptr_t t = (uintptr_t)token;

		if (r < 0) {
			z->broken = true;
			return;
		}
		if (z->broken)
			__builtin_trap(); /* a broken ring handed out a buffer */
		if (r == 0)
			return;
		if (t == 0 || t > MAX_TOK || !z->in_flight[t])
			__builtin_trap(); /* a token never added, or reaped twice */
		z->in_flight[t] = false;
		if (vh_vq_driver_num_free(z->d) > num)
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *mem;
	struct fz_drv *z;
	struct vh_vq_driver_config cfg = { .name = "fuzz", .gpa = 0, .size = REGION };
	struct vh_vq_layout l;
	size_t i = 1;

	if (size < 1)
		return 0;
	if (!mem && !(mem = aligned_alloc(4096, REGION)))
		abort();
	memset(mem, 0, REGION);
	cfg.host = mem;
	cfg.packed = data[0] & 1;
	cfg.event_idx = data[0] & 2;
	cfg.num = 1u << ((data[0] >> 3) & 7);
	if (cfg.num > 128)
		cfg.num = 128;
	cfg.ring_gpa = RING_GPA;
	if (data[0] & 4) {
		cfg.indirect_max = cfg.num * 2 < 4 ? cfg.num * 2 : 4;
		cfg.indirect_gpa = IND_GPA;
	}
	if (vh_vq_layout(cfg.num, cfg.packed, &l) < 0)
		return 0;
	z = calloc(1, sizeof(*z));
	if (!z)
		abort();
	if (vh_vq_driver_create(&cfg, &z->d) < 0)
		__builtin_trap();
	z->ring = mem + RING_GPA;
	z->ring_size = l.size;
	while (i < size) {
		uint8_t op = data[i++];

		switch (op % 4) {
		case 0:
			if (i < size)
				add(z, data[i++], cfg.indirect_max);
			break;
		case 1:
			/* The device writes anywhere in the ring (aligned to 2 bytes). */
			if (i + 9 <= size) {
				size_t off = (size_t)data[i] * 8 % z->ring_size;
				size_t n = z->ring_size - off < 8 ? z->ring_size - off : 8;

				memcpy(z->ring + off, data + i + 1, n);
				i += 9;
			}
			break;
		case 2:
			reap(z, cfg.num);
			break;
		default:
			if (i < size) {
				(void)vh_vq_driver_set_notification(z->d, data[i] & 1);
				(void)vh_vq_driver_kick_needed(z->d);
				i++;
			}
		}
	}
	reap(z, cfg.num);
	vh_vq_driver_destroy(&z->d);
	free(z);
	return 0;
}
