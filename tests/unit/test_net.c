// SPDX-License-Identifier: BSD-3-Clause
/*
 * driver/: vh_net over split and packed rings against an in-process device (the device side of
 * the one ring implementation): exact header and frame bytes on transmit, receive with and
 * without mergeable buffers, the receive ring kept full, a full transmit ring, and every bad
 * thing a device can hand back (short used length, num_buffers 0 or too large).
 */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include <vhost/mem.h>
#include <vhost/net.h>
#include <vhost/vq.h>

#include "driver/net_internal.h"
#include "util/util.h"
#include "unit_helpers.h"

#define GPA 0x100000ull
#define NUM 8u

struct env {
	uint8_t *mem;
	uint64_t size;
	struct vh_net *net;
	struct vh_memmap *mm;
	struct vh_vq *vq[4]; /* rings of up to two queue pairs */
	unsigned nrings;
	struct iovec iov[16];
	struct vh_test_log log;
	bool packed;
};

static uint64_t features_of(bool packed, bool mrg, bool event_idx)
{
	uint64_t f = 1ull << VIRTIO_F_VERSION_1;

	if (packed)
		f |= 1ull << VIRTIO_F_RING_PACKED;
	if (mrg)
		f |= 1ull << VIRTIO_NET_F_MRG_RXBUF;
	if (event_idx)
		f |= 1ull << VIRTIO_RING_F_EVENT_IDX;
	/* Checksum offload: tx_bytes_variant() sends a NEEDS_CSUM header. */
	f |= 1ull << VIRTIO_NET_F_CSUM;
	return f;
}

static void dev_init(struct env *e, unsigned q, bool event_idx)
{
	struct vh_vq_config vc = { .num = NUM, .packed = e->packed, .event_idx = event_idx };
	uint64_t desc, drv, devarea;

	assert_int_equal(vh_vq_create(&vc, &e->vq[q]), 0);
	assert_int_equal(vh_net_queue_gpa(e->net, q, &desc, &drv, &devarea), 0);
	struct vh_vq_addrs a = {
		.desc = e->mem + (desc - GPA),
		.driver = e->mem + (drv - GPA),
		.device = e->mem + (devarea - GPA),
	};
	assert_int_equal(vh_vq_set_addrs(e->vq[q], &a), 0);
	assert_int_equal(vh_vq_set_base(e->vq[q], e->packed ? 1u << 15 : 0), 0);
	vh_vq_set_memmap(e->vq[q], e->mm);
}

static struct env *env_new_full(uint64_t features, uint32_t rx_buf, unsigned pairs)
{
	struct env *e = calloc(1, sizeof(*e));
	struct vh_net_config cfg = {
		.queue_size = NUM, .rx_buf_size = rx_buf, .tap_fd = -1, .queue_pairs = pairs
	};
	bool packed = features & (1ull << VIRTIO_F_RING_PACKED);
	bool event_idx = features & (1ull << VIRTIO_RING_F_EVENT_IDX);
	struct net_layout l;
	struct net_local_mem m;
	struct vh_mem_region r;
	unsigned q;

	assert_non_null(e);
	e->packed = packed;
	e->nrings = 2 * pairs;
	cfg.log = vh_test_sink(&e->log);
	assert_int_equal(net_layout(NUM, packed, rx_buf ? rx_buf : 2048, 2048, &l), 0);
	e->size = l.size * pairs;
	e->mem = aligned_alloc(4096, e->size);
	assert_non_null(e->mem);
	memset(e->mem, 0xee, e->size);
	m = (struct net_local_mem){ .host = e->mem, .gpa = GPA, .size = e->size };
	assert_int_equal(net_local_create(&cfg, features, &m, &e->net), 0);
	r = (struct vh_mem_region){
		.gpa = GPA, .size = e->size, .uva = (uintptr_t)e->mem, .fd = -1, .host = e->mem
	};
	assert_int_equal(vh_memmap_create(NULL, &e->mm), 0);
	assert_int_equal(vh_memmap_add(e->mm, &r), 0);
	for (q = 0; q < e->nrings; q++)
		dev_init(e, q, event_idx);
	return e;
}

static struct env *env_new_cfg(bool packed, bool mrg, bool event_idx, uint32_t rx_buf)
{
	return env_new_full(features_of(packed, mrg, event_idx), rx_buf, 1);
}

static struct env *env_new(bool packed, bool mrg)
{
	return env_new_cfg(packed, mrg, false, 0);
}

static void env_free(struct env *e)
{
	vh_net_destroy(&e->net);
	assert_null(e->net);
	for (unsigned q = 0; q < VH_ARRAY_SIZE(e->vq); q++)
		vh_vq_destroy(&e->vq[q]);
	vh_memmap_destroy(&e->mm);
	free(e->mem);
	free(e);
}

static int dev_pop(struct env *e, unsigned q, struct vh_vq_elem *el)
{
	memset(el, 0, sizeof(*el));
	el->iov = e->iov;
	el->max_iov = VH_ARRAY_SIZE(e->iov);
	return vh_vq_pop(e->vq[q], el);
}

static void dev_push(struct env *e, unsigned q, const struct vh_vq_elem *el, uint32_t written)
{
	assert_int_equal(vh_vq_push(e->vq[q], el, written), 0);
	vh_vq_flush(e->vq[q]);
}

static void fill(uint8_t *p, size_t len, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 8));
}

/* ---- transmit ---- */

static void tx_bytes_variant(bool packed, bool event_idx)
{
	struct env *e = env_new_cfg(packed, true, event_idx, 0);
	struct virtio_net_hdr h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				    .gso_type = VIRTIO_NET_HDR_GSO_NONE,
				    .hdr_len = htole16(14),
				    .csum_start = htole16(34),
				    .csum_offset = htole16(6) };
	uint8_t frame[1514], want_hdr[12] = { 0 };
	struct vh_net_stats st;
	struct vh_vq_elem el;
	unsigned round;

	memcpy(want_hdr, &h, sizeof(h));
	for (round = 0; round < 3 * NUM; round++) {
		size_t len = 60 + round * 50;

		fill(frame, len, round);
		assert_int_equal(vh_net_send(e->net, frame, len, round ? &h : NULL), 0);
		assert_int_equal(vh_net_tx_inflight(e->net), 1);
		assert_int_equal(dev_pop(e, VH_NET_TX, &el), 1);
		/* One device-readable descriptor: 12-byte header then the frame. */
		assert_int_equal(el.out_num, 1);
		assert_int_equal(el.in_num, 0);
		assert_int_equal(el.out_len, VH_NET_HDR_LEN + len);
		if (round)
			assert_memory_equal(el.iov[0].iov_base, want_hdr, 12);
		else
			assert_memory_equal(el.iov[0].iov_base, (uint8_t[12]){ 0 }, 12);
		assert_memory_equal((uint8_t *)el.iov[0].iov_base + 12, frame, len);
		dev_push(e, VH_NET_TX, &el, 0);
		assert_int_equal(dev_pop(e, VH_NET_TX, &el), 0);
		assert_int_equal(vh_net_tx_reap(e->net), 1);
		assert_int_equal(vh_net_tx_inflight(e->net), 0);
	}
	vh_net_get_stats(e->net, &st);
	assert_int_equal(st.tx_frames, 3 * NUM);
	assert_int_equal(st.tx_completed, 3 * NUM);
	env_free(e);
}

static void test_tx_bytes(void **state)
{
	(void)state;
	tx_bytes_variant(false, false);
	tx_bytes_variant(false, true);
	tx_bytes_variant(true, false);
	tx_bytes_variant(true, true);
}

static void test_tx_ring_full(void **state)
{
	struct env *e = env_new(false, true);
	uint8_t frame[64] = { 1, 2, 3 };
	struct vh_vq_elem el;
	unsigned i;

	(void)state;
	for (i = 0; i < NUM; i++)
		assert_int_equal(vh_net_send(e->net, frame, sizeof(frame), NULL), 0);
	assert_int_equal(vh_net_tx_inflight(e->net), NUM);
	assert_int_equal(vh_net_send(e->net, frame, sizeof(frame), NULL), -EAGAIN);
	assert_int_equal(vh_net_wait(e->net, VH_NET_WAIT_TX, 0), 0);
	/* Completing one frees one: send reaps by itself. */
	assert_int_equal(dev_pop(e, VH_NET_TX, &el), 1);
	dev_push(e, VH_NET_TX, &el, 0);
	assert_int_equal(vh_net_send(e->net, frame, sizeof(frame), NULL), 0);
	assert_int_equal(vh_net_send(e->net, frame, sizeof(frame), NULL), -EAGAIN);
	for (i = 0; i < NUM; i++) {
		assert_int_equal(dev_pop(e, VH_NET_TX, &el), 1);
		dev_push(e, VH_NET_TX, &el, 0);
	}
	assert_int_equal(dev_pop(e, VH_NET_TX, &el), 0);
	assert_int_equal(vh_net_wait(e->net, VH_NET_WAIT_TX, 0), 1);
	assert_int_equal(vh_net_tx_inflight(e->net), 0);
	env_free(e);
}

static void test_tx_sizes(void **state)
{
	struct env *e = env_new(false, true);
	static uint8_t frame[4096];
	struct vh_vq_elem el;

	(void)state;
	assert_int_equal(vh_net_send(e->net, frame, 0, NULL), -EMSGSIZE);
	assert_int_equal(vh_net_send(e->net, frame, 2048 - 12 + 1, NULL), -EMSGSIZE);
	assert_int_equal(vh_net_tx_inflight(e->net), 0);
	assert_int_equal(vh_net_send(e->net, frame, 2048 - 12, NULL), 0);
	assert_int_equal(dev_pop(e, VH_NET_TX, &el), 1);
	assert_int_equal(el.out_len, 2048);
	dev_push(e, VH_NET_TX, &el, 0);
	env_free(e);
}

/* ---- receive ---- */

/*
 * Device: pop receive buffers and write a header (num_buffers = @nb_field) and @frame across them;
 * push all, flush after the first @push_max (the rest stay unflushed for the caller).
 */
static unsigned dev_rx_ring(struct env *e, unsigned q, const uint8_t *frame, size_t len,
			    uint16_t nb_field, unsigned push_max)
{
	struct vh_vq_elem els[NUM];
	uint32_t written[NUM];
	size_t done = 0;
	unsigned n = 0, k;

	while (done < len || n == 0) {
		struct vh_vq_elem *el = &els[n];
		struct iovec *iov = calloc(4, sizeof(*iov));
		size_t room, skip = n == 0 ? 12 : 0, c;

		assert_non_null(iov);
		memset(el, 0, sizeof(*el));
		el->iov = iov;
		el->max_iov = 4;
		assert_int_equal(vh_vq_pop(e->vq[q], el), 1);
		assert_int_equal(el->out_num, 0);
		assert_int_equal(el->in_num, 1);
		room = el->in_len - skip;
		c = VH_MIN(room, len - done);
		if (n == 0) {
			struct virtio_net_hdr_mrg_rxbuf h = { .num_buffers = htole16(nb_field) };

			h.hdr.flags = VIRTIO_NET_HDR_F_DATA_VALID;
			memcpy(iov[0].iov_base, &h, sizeof(h));
		}
		memcpy((uint8_t *)iov[0].iov_base + skip, frame + done, c);
		done += c;
		written[n] = (uint32_t)(skip + c);
		n++;
	}
	for (k = 0; k < n && k < push_max; k++)
		assert_int_equal(vh_vq_push(e->vq[q], &els[k], written[k]), 0);
	vh_vq_flush(e->vq[q]);
	for (k = push_max; k < n; k++)
		assert_int_equal(vh_vq_push(e->vq[q], &els[k], written[k]), 0);
	/* The rest are pushed but not flushed: the caller flushes when it wants them seen. */
	for (k = 0; k < n; k++)
		free(els[k].iov);
	return n;
}

static unsigned dev_rx(struct env *e, const uint8_t *frame, size_t len, uint16_t nb_field,
		       unsigned push_max)
{
	return dev_rx_ring(e, VH_NET_RX, frame, len, nb_field, push_max);
}

static void rx_single_variant(bool packed, bool event_idx)
{
	struct env *e = env_new_cfg(packed, false, event_idx, 0);
	uint8_t frame[1514], out[2048];
	struct vh_net_rx_info info;
	struct vh_vq_elem el;
	unsigned round, popped;

	for (round = 0; round < 3 * NUM; round++) {
		size_t len = 60 + round * 41;

		assert_int_equal(vh_net_recv(e->net, out, sizeof(out), &info), 0);
		assert_int_equal(vh_net_wait(e->net, VH_NET_WAIT_RX, 0), 0);
		fill(frame, len, round);
		/* Without MRG_RXBUF Linux leaves num_buffers unwritten: garbage must not matter. */
		assert_int_equal(dev_rx(e, frame, len, 0xeeee, 1), 1);
		assert_int_equal(vh_net_wait(e->net, VH_NET_WAIT_RX, 0), 1);
		memset(out, 0, sizeof(out));
		assert_int_equal(vh_net_recv(e->net, out, sizeof(out), &info), 1);
		assert_int_equal(info.len, len);
		assert_memory_equal(out, frame, len);
		assert_int_equal(info.nbufs, 1);
		assert_int_equal(le16toh(info.hdr.num_buffers), 1);
		assert_int_equal(info.hdr.hdr.flags, VIRTIO_NET_HDR_F_DATA_VALID);
		assert_int_equal(info.buf_len[0], 12 + len);
		assert_true(info.buf_gpa[0] >= GPA && info.buf_gpa[0] < GPA + e->size);
	}
	/* The receive ring is full again: the device finds NUM buffers and no more. */
	for (popped = 0; dev_pop(e, VH_NET_RX, &el) == 1; popped++)
		;
	assert_int_equal(popped, NUM);
	env_free(e);
}

static void test_rx_single(void **state)
{
	(void)state;
	rx_single_variant(false, false);
	rx_single_variant(false, true);
	rx_single_variant(true, false);
	rx_single_variant(true, true);
}

static void rx_merge_variant(bool packed)
{
	struct env *e = env_new_cfg(packed, true, true, 256);
	uint8_t frame[1100], out[1100];
	struct vh_net_rx_info info;
	struct vh_net_stats st;
	unsigned round;

	for (round = 0; round < 4; round++) {
		/* 244 bytes in the first buffer, 256 in each further one: 1100 bytes take 5. */
		fill(frame, sizeof(frame), round);
		assert_int_equal(dev_rx(e, frame, sizeof(frame), 5, 5), 5);
		memset(out, 0, sizeof(out));
		assert_int_equal(vh_net_recv(e->net, out, sizeof(out), &info), 1);
		assert_memory_equal(out, frame, sizeof(frame));
		assert_int_equal(info.len, sizeof(frame));
		assert_int_equal(info.nbufs, 5);
		assert_int_equal(le16toh(info.hdr.num_buffers), 5);
		assert_int_equal(info.buf_len[0], 256);
		assert_int_equal(info.buf_len[1], 256);
		assert_int_equal(info.buf_len[4], 1100 - 244 - 3 * 256);
		assert_int_equal(info.buf_gpa[1] - GPA < e->size, 1);
		assert_int_equal(vh_net_recv(e->net, out, sizeof(out), &info), 0);
	}
	vh_net_get_stats(e->net, &st);
	assert_int_equal(st.rx_frames, 4);
	assert_int_equal(st.rx_merged, 4);
	assert_int_equal(st.rx_bytes, 4400);
	env_free(e);
}

static void test_rx_merge(void **state)
{
	(void)state;
	rx_merge_variant(false);
	rx_merge_variant(true);
}

/* The buffers of a frame seen one flush at a time: recv waits for the rest. */
static void test_rx_merge_partial(void **state)
{
	struct env *e = env_new_cfg(false, true, false, 256);
	uint8_t frame[600], out[600];
	struct vh_net_rx_info info;

	(void)state;
	fill(frame, sizeof(frame), 9);
	assert_int_equal(dev_rx(e, frame, sizeof(frame), 3, 2), 3);
	assert_int_equal(vh_net_recv(e->net, out, sizeof(out), &info), 0);
	assert_int_equal(vh_net_wait(e->net, VH_NET_WAIT_RX, 0), 0);
	vh_vq_flush(e->vq[VH_NET_RX]);
	assert_int_equal(vh_net_wait(e->net, VH_NET_WAIT_RX, 0), 1);
	assert_int_equal(vh_net_recv(e->net, out, sizeof(out), &info), 1);
	assert_memory_equal(out, frame, sizeof(frame));
	assert_int_equal(info.nbufs, 3);
	env_free(e);
}

static void test_rx_truncated(void **state)
{
	struct env *e = env_new(false, true);
	uint8_t frame[1500], out[100];
	struct vh_net_rx_info info;
	struct vh_net_stats st;

	(void)state;
	fill(frame, sizeof(frame), 3);
	memset(out, 0, sizeof(out));
	dev_rx(e, frame, sizeof(frame), 1, 1);
	assert_int_equal(vh_net_recv(e->net, out, sizeof(out), &info), 1);
	assert_int_equal(info.len, sizeof(frame));
	assert_memory_equal(out, frame, sizeof(out));
	/* NULL info is allowed. */
	dev_rx(e, frame, 10, 1, 1);
	assert_int_equal(vh_net_recv(e->net, out, sizeof(out), NULL), 1);
	assert_memory_equal(out, frame, 10);
	vh_net_get_stats(e->net, &st);
	assert_int_equal(st.rx_truncated, 1);
	env_free(e);
}

/* A used length shorter than the header breaks the queue, for good. */
static void test_rx_short(void **state)
{
	struct env *e = env_new(false, true);
	uint8_t out[64], frame[64] = { 0 };
	struct vh_vq_elem el;

	(void)state;
	assert_int_equal(dev_pop(e, VH_NET_RX, &el), 1);
	dev_push(e, VH_NET_RX, &el, 11);
	assert_int_equal(vh_net_recv(e->net, out, sizeof(out), NULL), -EPROTO);
	assert_int_equal(e->log.count, 1);
	assert_non_null(strstr(e->log.last, "shorter than the virtio-net header"));
	assert_int_equal(vh_net_recv(e->net, out, sizeof(out), NULL), -EPROTO);
	assert_int_equal(vh_net_send(e->net, frame, sizeof(frame), NULL), -EPROTO);
	assert_int_equal(vh_net_wait(e->net, VH_NET_WAIT_RX, 0), -EPROTO);
	assert_int_equal(e->log.count, 1);
	env_free(e);
}

static void bad_num_buffers(uint16_t nb)
{
	struct env *e = env_new(false, true);
	uint8_t out[64], frame[64] = { 0 };

	dev_rx(e, frame, sizeof(frame), nb, 1);
	assert_int_equal(vh_net_recv(e->net, out, sizeof(out), NULL), -EPROTO);
	assert_non_null(strstr(e->log.last, "num_buffers"));
	env_free(e);
}

static void test_rx_bad_num_buffers(void **state)
{
	(void)state;
	bad_num_buffers(0);
	bad_num_buffers(NUM + 1);
	bad_num_buffers(0xffff);
}

static struct vring_used *used_ring(struct env *e, unsigned q)
{
	uint64_t desc, drv, dev;

	assert_int_equal(vh_net_queue_gpa(e->net, q, &desc, &drv, &dev), 0);
	return (struct vring_used *)(e->mem + (dev - GPA));
}

/* A used length beyond the buffer (a device scribbling on the used ring) breaks the queue. */
static void test_rx_len_beyond_buffer(void **state)
{
	struct env *e = env_new(false, true);
	struct vring_used *u = used_ring(e, VH_NET_RX);
	uint8_t out[64];
	struct vh_vq_elem el;

	(void)state;
	assert_int_equal(dev_pop(e, VH_NET_RX, &el), 1);
	dev_push(e, VH_NET_RX, &el, 100);
	assert_int_equal(le32toh(u->ring[0].len), 100);
	u->ring[0].len = htole32(2048 + 1);
	assert_int_equal(vh_net_recv(e->net, out, sizeof(out), NULL), -EPROTO);
	assert_non_null(strstr(e->log.last, "larger than the buffer"));
	env_free(e);
}

/* A transmit completion nobody sent (unknown id) breaks the transmit side. */
static void test_tx_bogus_completion(void **state)
{
	struct env *e = env_new(false, true);
	struct vring_used *u = used_ring(e, VH_NET_TX);
	uint8_t frame[64] = { 0 };

	(void)state;
	u->ring[0].id = htole32(NUM + 3);
	u->ring[0].len = 0;
	__atomic_store_n(&u->idx, htole16(1), __ATOMIC_RELEASE);
	assert_int_equal(vh_net_tx_reap(e->net), -EPROTO);
	assert_non_null(strstr(e->log.last, "transmit ring broken"));
	assert_int_equal(vh_net_send(e->net, frame, sizeof(frame), NULL), -EPROTO);
	assert_int_equal(vh_net_wait(e->net, VH_NET_WAIT_TX, 0), -EPROTO);
	env_free(e);
}

/* ---- configuration ---- */

static void test_config_errors(void **state)
{
	static uint8_t mem[1 << 20] __attribute__((aligned(4096)));
	struct net_local_mem m = { .host = mem, .gpa = 0, .size = sizeof(mem) };
	struct vh_net_config c = { .tap_fd = -1, .queue_size = 3 };
	uint64_t f = features_of(false, true, false);
	struct vh_net *n = (struct vh_net *)&c;
	struct vh_test_log lg = { 0 };

	(void)state;
	assert_int_equal(net_local_create(&c, f, &m, &n), -EINVAL);
	assert_null(n);
	c.queue_size = 0;
	c.rx_buf_size = 12; /* no room for any payload */
	assert_int_equal(net_local_create(&c, f, &m, &n), -EINVAL);
	c.rx_buf_size = 2044; /* not a multiple of 8 */
	assert_int_equal(net_local_create(&c, f, &m, &n), -EINVAL);
	c.rx_buf_size = 0;
	c.tx_buf_size = (1u << 20) + 8;
	assert_int_equal(net_local_create(&c, f, &m, &n), -EINVAL);
	c.tx_buf_size = 0;
	m.size = 4096; /* default 256 x 2 KiB buffers do not fit */
	assert_int_equal(net_local_create(&c, f, &m, &n), -EINVAL);
	m.size = sizeof(mem);
	m.host = mem + 8; /* misaligned ring */
	assert_int_equal(net_local_create(&c, f, &m, &n), -EINVAL);
	m.host = mem;
	c.queue_size = 16;
	assert_int_equal(net_local_create(&c, f, &m, &n), 0);
	vh_net_destroy(&n);
	vh_net_destroy(&n); /* NULL: no-op */

	/* vh_net_create: no path; vhost-net without a tap, refused before the device is opened. */
	c = (struct vh_net_config){ .tap_fd = -1 };
	assert_int_equal(vh_net_create(&c, &n), -EINVAL);
	c.path = "/dev/vhost-net";
	c.log = vh_test_sink(&lg);
	assert_int_equal(vh_net_create(&c, &n), -EINVAL);
	assert_null(n);
	assert_non_null(strstr(lg.last, "needs a tap fd"));
	/* A tap for anything but vhost-net is a mistake too. */
	c.path = "unix:/nonexistent/vhost-net";
	c.tap_fd = 0;
	assert_int_equal(vh_net_create(&c, &n), -EINVAL);
	assert_non_null(strstr(lg.last, "only for /dev/vhost-net"));
	assert_int_equal(lg.count, 2);
}

/* ---- bursts ---- */

/* A kick eventfd on ring @q of pair 0 (net_local_create() has none): kicks become countable. */
static int kick_fd_on(struct env *e, unsigned q)
{
	int fd = eventfd(0, EFD_NONBLOCK);

	assert_true(fd >= 0);
	e->net->pairs[0].q[q].kick_fd = fd;
	return fd;
}

static uint64_t kicks_seen(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static void tx_burst_variant(bool packed)
{
	struct env *e = env_new_cfg(packed, true, false, 0);
	static uint8_t frames[NUM + 3][256];
	struct vh_net_pkt p[NUM + 3];
	struct vh_net_stats st;
	struct vh_vq_elem el;
	int kfd = kick_fd_on(e, VH_NET_TX);
	unsigned i;

	memset(p, 0, sizeof(p));
	for (i = 0; i < NUM + 3; i++) {
		fill(frames[i], sizeof(frames[i]), i);
		p[i] = (struct vh_net_pkt){ .data = frames[i], .len = 60 + i };
	}
	/* Five frames: one kick, five descriptors in order. */
	assert_int_equal(vh_net_tx_burst(e->net, 0, p, 5), 5);
	assert_int_equal(kicks_seen(kfd), 1);
	if (!packed) {
		struct vring_avail *avail;
		struct vring_desc *desc;
		uint64_t dg, ag, ug;

		assert_int_equal(vh_net_queue_gpa(e->net, VH_NET_TX, &dg, &ag, &ug), 0);
		avail = (void *)(e->mem + (ag - GPA));
		desc = (void *)(e->mem + (dg - GPA));
		assert_int_equal(le16toh(avail->idx), 5);
		for (i = 0; i < 5; i++) {
			uint16_t head = le16toh(avail->ring[i]);

			assert_int_equal(le32toh(desc[head].len), 12 + 60 + i);
			assert_int_equal(le16toh(desc[head].flags), 0);
		}
	}
	for (i = 0; i < 5; i++) {
		assert_int_equal(dev_pop(e, VH_NET_TX, &el), 1);
		assert_int_equal(el.out_num, 1);
		assert_int_equal(el.out_len, 12 + 60 + i);
		assert_memory_equal(el.iov[0].iov_base, (uint8_t[12]){ 0 }, 12);
		assert_memory_equal((uint8_t *)el.iov[0].iov_base + 12, frames[i], 60 + i);
		dev_push(e, VH_NET_TX, &el, 0);
	}
	assert_int_equal(dev_pop(e, VH_NET_TX, &el), 0);
	/* The device asks for no kicks (§2.7.10): a burst adds buffers silently. */
	assert_int_equal(vh_vq_set_notification(e->vq[VH_NET_TX], false), 0);
	/* More than the ring holds: the completed five are reaped, NUM go, the rest wait. */
	assert_int_equal(vh_net_tx_burst(e->net, 0, p, NUM + 3), NUM);
	assert_int_equal(kicks_seen(kfd), 0);
	assert_int_equal(vh_net_tx_inflight(e->net), NUM);
	assert_int_equal(vh_net_tx_burst(e->net, 0, p + NUM, 3), 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(dev_pop(e, VH_NET_TX, &el), 1);
		assert_memory_equal((uint8_t *)el.iov[0].iov_base + 12, frames[i], 60 + i);
		dev_push(e, VH_NET_TX, &el, 0);
	}
	assert_int_equal(vh_net_tx_burst(e->net, 0, p + NUM, 3), 2);
	vh_net_get_stats(e->net, &st);
	assert_int_equal(st.tx_frames, 5 + NUM + 2);
	assert_int_equal(st.tx_completed, 7);
	assert_int_equal(vh_net_tx_burst(e->net, 1, p, 1), -EINVAL);
	close(kfd);
	env_free(e);
}

static void test_tx_burst(void **state)
{
	(void)state;
	tx_burst_variant(false);
	tx_burst_variant(true);
}

/* virtio 1.2 §5.1.6.2.1: what a header may ask for depends on the negotiated offloads. */
static void test_tx_offload_checks(void **state)
{
	uint64_t base = 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_NET_F_MRG_RXBUF;
	struct env *plain = env_new_full(base, 0, 1);
	struct env *tso =
	    env_new_full(base | 1ull << VIRTIO_NET_F_CSUM | 1ull << VIRTIO_NET_F_HOST_TSO4, 0, 1);
	struct virtio_net_hdr csum = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				       .csum_start = htole16(34),
				       .csum_offset = htole16(16) };
	struct virtio_net_hdr gso = csum, h;
	static uint8_t frame[1500];
	struct vh_net_pkt p[2] = { { .data = frame, .len = 100 }, { .data = frame, .len = 100 } };
	struct vh_vq_elem el;

	(void)state;
	gso.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	gso.gso_size = htole16(1448);
	gso.hdr_len = htole16(54);
	/* Nothing negotiated: no checksum request, no segmentation. */
	p[0].hdr = csum;
	assert_int_equal(vh_net_tx_burst(plain->net, 0, p, 1), -EINVAL);
	p[0].hdr = gso;
	assert_int_equal(vh_net_tx_burst(plain->net, 0, p, 1), -EINVAL);
	/* A valid frame followed by an invalid one: one goes, the count says where it stopped. */
	p[0].hdr = (struct virtio_net_hdr){ 0 };
	p[1].hdr = csum;
	assert_int_equal(vh_net_tx_burst(plain->net, 0, p, 2), 1);
	assert_int_equal(vh_net_tx_inflight(plain->net), 1);

	/* CSUM + HOST_TSO4: both go, the header reaches the device byte for byte. */
	p[0].hdr = csum;
	p[1].hdr = gso;
	assert_int_equal(vh_net_tx_burst(tso->net, 0, p, 2), 2);
	assert_int_equal(dev_pop(tso, VH_NET_TX, &el), 1);
	memcpy(&h, el.iov[0].iov_base, sizeof(h));
	assert_memory_equal(&h, &csum, sizeof(h));
	assert_int_equal(dev_pop(tso, VH_NET_TX, &el), 1);
	memcpy(&h, el.iov[0].iov_base, sizeof(h));
	assert_memory_equal(&h, &gso, sizeof(h));
	/* num_buffers is always 0 on transmit (§5.1.6.2). */
	assert_memory_equal((uint8_t *)el.iov[0].iov_base + 10, (uint8_t[2]){ 0 }, 2);
	/* Still refused with TSO4: TCPV6 and UFO, ECN, DATA_VALID, GSO without NEEDS_CSUM or
	 * gso_size, a checksum offset beyond the frame. */
	h = gso;
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	p[0].hdr = h;
	assert_int_equal(vh_net_tx_burst(tso->net, 0, p, 1), -EINVAL);
	h.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	p[0].hdr = h;
	assert_int_equal(vh_net_tx_burst(tso->net, 0, p, 1), -EINVAL);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
	p[0].hdr = h;
	assert_int_equal(vh_net_tx_burst(tso->net, 0, p, 1), -EINVAL);
	h = csum;
	h.flags |= VIRTIO_NET_HDR_F_DATA_VALID;
	p[0].hdr = h;
	assert_int_equal(vh_net_tx_burst(tso->net, 0, p, 1), -EINVAL);
	h = gso;
	h.flags = 0;
	p[0].hdr = h;
	assert_int_equal(vh_net_tx_burst(tso->net, 0, p, 1), -EINVAL);
	h = gso;
	h.gso_size = 0;
	p[0].hdr = h;
	assert_int_equal(vh_net_tx_burst(tso->net, 0, p, 1), -EINVAL);
	h = csum;
	h.csum_offset = htole16(100 - 34 - 1);
	p[0].hdr = h;
	assert_int_equal(vh_net_tx_burst(tso->net, 0, p, 1), -EINVAL);
	p[0].hdr = csum;
	p[0].len = 0;
	assert_int_equal(vh_net_tx_burst(tso->net, 0, p, 1), -EMSGSIZE);
	assert_int_equal(vh_net_tx_inflight(tso->net), 2);
	env_free(plain);
	env_free(tso);
}

/* Three frames, one of them across two buffers: one burst takes all, refills, one kick. */
static void rx_burst_variant(bool packed)
{
	struct env *e = env_new_full(features_of(packed, true, false), 256, 1);
	uint8_t f[3][400], out[3][512];
	struct vh_net_stats st;
	struct vh_net_pkt p[8];
	struct vh_vq_elem el;
	int kfd = kick_fd_on(e, VH_NET_RX);
	size_t len[3] = { 60, 400, 100 };
	unsigned i, popped;

	memset(p, 0, sizeof(p));
	for (i = 0; i < 3; i++) {
		fill(f[i], len[i], 40 + i);
		p[i].data = out[i];
		p[i].cap = sizeof(out[i]);
	}
	/* The third frame lands in a 30-byte buffer: truncated, its length still reported. */
	p[2].cap = 30;
	memset(out[2], 0xab, sizeof(out[2]));
	assert_int_equal(vh_net_rx_burst(e->net, 0, p, 8), 0);
	assert_int_equal(dev_rx(e, f[0], len[0], 1, 1), 1);
	assert_int_equal(dev_rx(e, f[1], len[1], 2, 2), 2);
	assert_int_equal(dev_rx(e, f[2], len[2], 1, 1), 1);
	assert_int_equal(vh_net_rx_burst(e->net, 0, p, 8), 3);
	assert_int_equal(kicks_seen(kfd), 1);
	for (i = 0; i < 3; i++) {
		assert_int_equal(p[i].len, len[i]);
		assert_memory_equal(out[i], f[i], i == 2 ? 30 : len[i]);
		assert_int_equal(p[i].hdr.flags, VIRTIO_NET_HDR_F_DATA_VALID);
	}
	assert_int_equal(out[2][30], 0xab);
	vh_net_get_stats(e->net, &st);
	assert_int_equal(st.rx_frames, 3);
	assert_int_equal(st.rx_bytes, 60 + 400 + 100);
	assert_int_equal(st.rx_merged, 1);
	assert_int_equal(st.rx_truncated, 1);
	assert_int_equal(p[0].nbufs, 1);
	assert_int_equal(p[1].nbufs, 2);
	assert_int_equal(p[2].nbufs, 1);
	if (!packed) {
		struct vring_avail *avail;
		uint64_t dg, ag, ug;

		assert_int_equal(vh_net_queue_gpa(e->net, VH_NET_RX, &dg, &ag, &ug), 0);
		avail = (void *)(e->mem + (ag - GPA));
		/* NUM at create, then the four buffers given back. */
		assert_int_equal(le16toh(avail->idx), NUM + 4);
	}
	/* The ring is full again: the device finds NUM buffers and no more. */
	for (popped = 0; dev_pop(e, VH_NET_RX, &el) == 1; popped++)
		;
	assert_int_equal(popped, NUM);
	close(kfd);
	env_free(e);
}

static void test_rx_burst(void **state)
{
	(void)state;
	rx_burst_variant(false);
	rx_burst_variant(true);
}

/* A used length shorter than the header breaks the queue on the burst path too. */
static void test_rx_burst_short(void **state)
{
	struct env *e = env_new(false, true);
	uint8_t out[64];
	struct vh_net_pkt p = { .data = out, .cap = sizeof(out) };
	struct vh_vq_elem el;

	(void)state;
	assert_int_equal(dev_pop(e, VH_NET_RX, &el), 1);
	dev_push(e, VH_NET_RX, &el, 5);
	assert_int_equal(vh_net_rx_burst(e->net, 0, &p, 1), -EPROTO);
	assert_int_equal(vh_net_rx_burst(e->net, 0, &p, 1), -EPROTO);
	assert_int_equal(vh_net_tx_burst(e->net, 0, &p, 1), -EPROTO);
	assert_non_null(strstr(e->log.last, "shorter than the virtio-net header"));
	env_free(e);
}

/*
 * Zero copy: a received frame is lent in place, changed there and sent on from the same buffer
 * (header rewritten in front of it); the buffer returns to the receive ring when the device
 * completes the transmission. Another is given back with vh_net_rx_free(); a frame across two
 * buffers is copied into the caller's memory instead.
 */
static void zc_variant(bool packed)
{
	struct env *e = env_new_full(features_of(packed, true, false), 256, 1);
	uint8_t f[400], out[512], *rx_base;
	struct vh_net_pkt p[4];
	struct vh_vq_elem el;
	struct virtio_net_hdr_mrg_rxbuf h;
	unsigned popped;

	memset(p, 0, sizeof(p));
	fill(f, sizeof(f), 9);
	assert_int_equal(vh_net_rx_burst_zc(e->net, 0, p, 4), 0);
	assert_int_equal(dev_rx(e, f, 100, 1, 1), 1);
	assert_int_equal(vh_net_rx_burst_zc(e->net, 0, p, 4), 1);
	assert_int_not_equal(p[0].buf, 0);
	assert_int_equal(p[0].len, 100);
	assert_int_equal(p[0].nbufs, 1);
	assert_int_equal(p[0].cap, 256 - 12);
	assert_int_equal(p[0].hdr.flags, VIRTIO_NET_HDR_F_DATA_VALID);
	/* In the driver's receive buffer, right behind the device's header. */
	assert_true((uint8_t *)p[0].data > e->mem && (uint8_t *)p[0].data < e->mem + e->size);
	assert_memory_equal(p[0].data, f, 100);
	rx_base = (uint8_t *)p[0].data - 12;

	/* Sent on from where it is: the header in the 12 bytes in front, num_buffers 0. */
	((uint8_t *)p[0].data)[0] ^= 0xff;
	p[0].hdr = (struct virtio_net_hdr){ 0 };
	assert_int_equal(vh_net_tx_burst_zc(e->net, 0, p, 1), 1);
	assert_int_equal(p[0].buf, 0);
	assert_int_equal(vh_net_tx_inflight(e->net), 1);
	assert_int_equal(dev_pop(e, VH_NET_TX, &el), 1);
	assert_int_equal(el.out_num, 1);
	assert_int_equal(el.in_num, 0);
	assert_ptr_equal(el.iov[0].iov_base, rx_base);
	assert_int_equal(el.out_len, 112);
	memcpy(&h, rx_base, sizeof(h));
	assert_int_equal(h.hdr.flags, 0);
	assert_int_equal(h.num_buffers, 0);
	assert_int_equal(rx_base[12], f[0] ^ 0xff);
	assert_memory_equal(rx_base + 13, f + 1, 99);
	/* Completed: the buffer is back on the receive ring after the reap. */
	dev_push(e, VH_NET_TX, &el, 0);
	assert_int_equal(vh_net_tx_reap(e->net), 1);
	assert_int_equal(vh_net_tx_inflight(e->net), 0);

	/* Given back unsent; a handle that is not lent is refused. */
	assert_int_equal(dev_rx(e, f, 60, 1, 1), 1);
	assert_int_equal(vh_net_rx_burst_zc(e->net, 0, p, 4), 1);
	p[1] = p[0];
	/* The header must fit in front of the frame, the frame inside the buffer. */
	p[1].data = (uint8_t *)p[0].data - 8;
	assert_int_equal(vh_net_tx_burst_zc(e->net, 0, p + 1, 1), -EMSGSIZE);
	p[1].data = p[0].data;
	p[1].len = 256 - 12 + 1;
	assert_int_equal(vh_net_tx_burst_zc(e->net, 0, p + 1, 1), -EMSGSIZE);
	p[1].buf = p[0].buf % NUM + 1;
	p[1].len = 60;
	assert_int_equal(vh_net_tx_burst_zc(e->net, 0, p + 1, 1), -EINVAL);
	assert_int_equal(vh_net_rx_free(e->net, 0, p + 1, 1), -EINVAL);
	assert_int_equal(vh_net_rx_free(e->net, 0, p, 1), 1);
	assert_int_equal(p[0].buf, 0);
	assert_int_equal(vh_net_rx_free(e->net, 0, p, 1), 0);
	assert_int_equal(vh_net_tx_inflight(e->net), 0);

	/* A frame across two buffers is copied into the caller's memory, nothing lent. */
	assert_int_equal(dev_rx(e, f, 400, 2, 2), 2);
	p[0] = (struct vh_net_pkt){ .data = out, .cap = sizeof(out) };
	assert_int_equal(vh_net_rx_burst_zc(e->net, 0, p, 4), 1);
	assert_int_equal(p[0].buf, 0);
	assert_ptr_equal(p[0].data, out);
	assert_int_equal(p[0].len, 400);
	assert_int_equal(p[0].nbufs, 2);
	assert_memory_equal(out, f, 400);

	/* Every buffer is back: the device finds NUM and no more. */
	for (popped = 0; dev_pop(e, VH_NET_RX, &el) == 1; popped++)
		;
	assert_int_equal(popped, NUM);
	env_free(e);

	/* Sent on and not yet completed: the receive ring lacks the buffer. */
	e = env_new_full(features_of(packed, true, false), 256, 1);
	memset(p, 0, sizeof(p));
	assert_int_equal(dev_rx(e, f, 100, 1, 1), 1);
	assert_int_equal(vh_net_rx_burst_zc(e->net, 0, p, 4), 1);
	/* The device's DATA_VALID is not a request a driver may send (§5.1.6.2.1). */
	assert_int_equal(vh_net_tx_burst_zc(e->net, 0, p, 1), -EINVAL);
	p[0].hdr = (struct virtio_net_hdr){ 0 };
	assert_int_equal(vh_net_tx_burst_zc(e->net, 0, p, 1), 1);
	for (popped = 0; dev_pop(e, VH_NET_RX, &el) == 1; popped++)
		;
	assert_int_equal(popped, NUM - 1);
	env_free(e);
}

static void test_zc(void **state)
{
	(void)state;
	zc_variant(false);
	zc_variant(true);
}

/* Two queue pairs: pair 1 is rings 2 and 3 and shares nothing with pair 0. */
static void test_mq(void **state)
{
	struct env *e = env_new_full(features_of(false, true, false), 0, 2);
	uint8_t f[100], out[2048];
	struct vh_net_pkt p = { .data = f, .len = sizeof(f) };
	struct vh_net_pkt r = { .data = out, .cap = sizeof(out) };
	struct vh_net_info info;
	struct vh_vq_elem el;
	uint64_t d0, a0, u0, d1, a1, u1;

	(void)state;
	vh_net_get_info(e->net, &info);
	assert_int_equal(info.queue_pairs, 2);
	assert_int_equal(vh_net_queue_gpa(e->net, 3, &d1, &a1, &u1), 0);
	assert_int_equal(vh_net_queue_gpa(e->net, 1, &d0, &a0, &u0), 0);
	assert_true(d1 != d0);
	assert_int_equal(vh_net_queue_gpa(e->net, 4, &d1, &a1, &u1), -EINVAL);
	fill(f, sizeof(f), 77);
	assert_int_equal(vh_net_tx_burst(e->net, 1, &p, 1), 1);
	assert_int_equal(dev_pop(e, 1, &el), 0);
	assert_int_equal(dev_pop(e, 3, &el), 1);
	assert_memory_equal((uint8_t *)el.iov[0].iov_base + 12, f, sizeof(f));
	/* The buffer is pair 1's: inside guest memory, past pair 0's. */
	assert_true(vh_net_gpa(e->net, el.iov[0].iov_base) >= GPA + e->size / 2);
	dev_push(e, 3, &el, 0);
	assert_int_equal(vh_net_tx_inflight_qp(e->net, 1), 1);
	assert_int_equal(vh_net_tx_reap_qp(e->net, 1), 1);
	assert_int_equal(vh_net_tx_inflight_qp(e->net, 1), 0);
	assert_int_equal(vh_net_tx_reap_qp(e->net, 2), -EINVAL);

	assert_int_equal(dev_rx_ring(e, 2, f, sizeof(f), 1, 1), 1);
	assert_int_equal(vh_net_rx_burst(e->net, 0, &r, 1), 0);
	assert_int_equal(vh_net_rx_burst(e->net, 1, &r, 1), 1);
	assert_int_equal(r.len, sizeof(f));
	assert_memory_equal(out, f, sizeof(f));
	assert_int_equal(vh_net_rx_burst(e->net, 2, &r, 1), -EINVAL);
	env_free(e);
}

static void test_feature_names(void **state)
{
	(void)state;
	assert_string_equal(vh_net_feature_name(VIRTIO_NET_F_MRG_RXBUF), "VIRTIO_NET_F_MRG_RXBUF");
	assert_string_equal(vh_net_feature_name(VIRTIO_NET_F_MAC), "VIRTIO_NET_F_MAC");
	assert_string_equal(vh_net_feature_name(27), "VHOST_NET_F_VIRTIO_NET_HDR");
	assert_null(vh_net_feature_name(4));
	assert_null(vh_net_feature_name(1000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tx_bytes),
		cmocka_unit_test(test_tx_ring_full),
		cmocka_unit_test(test_tx_sizes),
		cmocka_unit_test(test_rx_single),
		cmocka_unit_test(test_rx_merge),
		cmocka_unit_test(test_rx_merge_partial),
		cmocka_unit_test(test_rx_truncated),
		cmocka_unit_test(test_rx_short),
		cmocka_unit_test(test_rx_bad_num_buffers),
		cmocka_unit_test(test_rx_len_beyond_buffer),
		cmocka_unit_test(test_tx_bogus_completion),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_feature_names),
		cmocka_unit_test(test_tx_burst),
		cmocka_unit_test(test_tx_offload_checks),
		cmocka_unit_test(test_rx_burst),
		cmocka_unit_test(test_rx_burst_short),
		cmocka_unit_test(test_mq),
		cmocka_unit_test(test_zc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
