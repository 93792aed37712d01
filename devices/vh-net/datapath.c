/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vh-net datapath (virtio 1.2 §5.1): the transmit queue's chains go to the tap with writev
 * straight from guest memory (or, --loopback, back into the receive queue with the MAC addresses
 * swapped); frames from the tap are read with readv straight into the guest's receive buffers.
 *
 * Receive buffers are popped before a frame is read ("held"), enough of them for the largest
 * frame with VIRTIO_NET_F_MRG_RXBUF, one without. When the ring has too few, the tap leaves the
 * dispatch loop (the kernel queues, and eventually drops, what arrives meanwhile) and comes back
 * at the next kick of the receive queue: no frame is read that has nowhere to go.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <linux/virtio_config.h>

#include "vhnet.h"

static struct vh_vq_elem *held_at(struct vhnet_pair *p, unsigned i)
{
	return &p->held[(p->head + i) % VHNET_RX_HELD];
}

static void held_drop_first(struct vhnet_pair *p)
{
	p->head = (p->head + 1) % VHNET_RX_HELD;
	p->nheld--;
}

static int rx_pop_error(struct vhnet_pair *p, int r)
{
	if (r == 0 || r == -ESHUTDOWN)
		return 0;
	if (r == -ENOBUFS)
		vhnet_log(p->dev, VH_LOG_ERR, "rx: chain of more than %u buffers: %s", VHNET_RX_IOV,
			  strerror(ENOBUFS));
	/* -EPROTO was logged by the library. */
	p->rx_broken = true;
	return -EPROTO;
}

/* Pop one more receive buffer into the held FIFO. Return: 1 popped, 0 none now, -EPROTO. */
static int rx_pop_one(struct vhnet_pair *p)
{
	unsigned slot = (p->head + p->nheld) % VHNET_RX_HELD;
	struct vh_vq_elem *el = &p->held[slot];
	int r;

	for (;;) {
		*el = (struct vh_vq_elem){ .iov = p->held_iov[slot], .max_iov = VHNET_RX_IOV };
		r = vh_queue_pop(p->rxq, el);
		if (r <= 0)
			return rx_pop_error(p, r);
		/* virtio 1.2 §5.1.6.3: receive buffers are device-writable; §5.1.6.3.1: each one
		 * is at least a header long (and the first one holds it). */
		if (!el->out_num && el->in_len >= VHNET_HDR_LEN) {
			p->nheld++;
			return 1;
		}
		if (!p->st.rx_bad_bufs++)
			vhnet_log(p->dev, VH_LOG_WARN,
				  "rx: buffer %u: %u readable part(s), %llu writable bytes: "
				  "returned unused",
				  el->id, el->out_num, (unsigned long long)el->in_len);
		r = vh_queue_push(p->rxq, el, 0);
		if (r < 0)
			return rx_pop_error(p, r);
	}
}

/*
 * Hold receive buffers for @need bytes (header included): one buffer without MRG_RXBUF, else
 * until their room covers @need or VHNET_RX_HELD are held. Return: 1 enough; 0 the ring has
 * too few now; -EPROTO.
 */
static int rx_reserve(struct vhnet_pair *p, uint64_t need)
{
	uint64_t room = 0;
	unsigned i;
	int r;

	if (!p->rxq || p->rx_broken)
		return 0;
	if (!p->dev->mrg)
		return p->nheld ? 1 : rx_pop_one(p);
	for (i = 0; i < p->nheld; i++)
		room += held_at(p, i)->in_len;
	while (room < need && p->nheld < VHNET_RX_HELD) {
		r = rx_pop_one(p);
		if (r <= 0)
			return r;
		room += held_at(p, p->nheld - 1)->in_len;
	}
	return 1;
}

/* The frame area of the held buffers (the first one's header skipped) as one iovec list. */
static unsigned rx_frame_iov(struct vhnet_pair *p, struct iovec *out, unsigned max, uint64_t *room)
{
	unsigned nbuf = p->dev->mrg ? p->nheld : VHNET_MIN(p->nheld, 1u);
	size_t skip = VHNET_HDR_LEN;
	unsigned i, j, n = 0;

	*room = 0;
	for (i = 0; i < nbuf; i++) {
		const struct vh_vq_elem *el = held_at(p, i);

		for (j = 0; j < el->in_num && n < max; j++) {
			struct iovec v = el->iov[j];
			size_t s = VHNET_MIN(skip, v.iov_len);

			v.iov_base = (uint8_t *)v.iov_base + s;
			v.iov_len -= s;
			skip -= s;
			if (!v.iov_len)
				continue;
			out[n++] = v;
			*room += v.iov_len;
		}
	}
	return n;
}

/*
 * Hand the guest a frame of @len bytes already in the held buffers' frame area: header @h
 * goes in front, the buffers it filled are pushed (virtio 1.2 §5.1.6.4: num_buffers says how
 * many; 1 without MRG_RXBUF). The caller checked that @len fits. Return: 0, -EPROTO.
 */
static int rx_commit(struct vhnet_pair *p, uint64_t len, const struct virtio_net_hdr *h)
{
	struct virtio_net_hdr_mrg_rxbuf hdr = { .hdr = *h };
	uint32_t written[VHNET_RX_HELD];
	uint64_t left = len;
	unsigned k = 0, i;
	int r;

	do {
		const struct vh_vq_elem *el = held_at(p, k);
		uint64_t room = el->in_len - (k ? 0 : VHNET_HDR_LEN);
		uint64_t take = VHNET_MIN(room, left);

		written[k] = (uint32_t)(take + (k ? 0 : VHNET_HDR_LEN));
		left -= take;
		k++;
	} while (left && k < p->nheld);
	hdr.num_buffers = htole16((uint16_t)k);
	vhnet_iov_copy_in(held_at(p, 0)->iov, held_at(p, 0)->in_num, 0, &hdr, sizeof(hdr));
	for (i = 0; i < k; i++) {
		r = vh_queue_push(p->rxq, held_at(p, 0), written[i]);
		held_drop_first(p);
		if (r < 0) {
			p->rx_broken = true;
			return -EPROTO;
		}
	}
	p->st.rx_frames++;
	p->rx_frames++;
	p->st.rx_bytes += len;
	return 0;
}

/* Return every held buffer unused (the ring stops). */
static void rx_release(struct vhnet_pair *p)
{
	while (p->nheld) {
		vh_queue_push(p->rxq, held_at(p, 0), 0);
		held_drop_first(p);
	}
	p->head = 0;
}

static void on_tap(void *opaque, int fd, uint32_t events);

static void rx_set_watch(struct vhnet_pair *p, bool on)
{
	struct vhnet *d = p->dev;
	int r;

	/* Poll mode: the receive queue's queue_kick reads the tap on every round. */
	if (p->tap_fd < 0 || p->watched == on || d->opt.poll)
		return;
	if (on) {
		r = vh_server_watch(d->srv, p->tap_fd, EPOLLIN, on_tap, p);
		if (r) {
			vhnet_log(d, VH_LOG_ERR, "tap: watch: %s", strerror(-r));
			return;
		}
	} else {
		vh_server_unwatch(d->srv, p->tap_fd);
	}
	p->watched = on;
}

enum rx_stop {
	RX_TAP_EMPTY,
	RX_NO_BUFFERS,
	RX_BUDGET,
	RX_FAILED
};

/* One frame from the tap into the held buffers. */
static enum rx_stop rx_tap_one(struct vhnet_pair *p)
{
	struct vhnet *d = p->dev;
	struct virtio_net_hdr_mrg_rxbuf hdr;
	struct virtio_net_hdr out;
	uint8_t eth[16];
	uint64_t room;
	unsigned n;
	ssize_t got;
	int r;

	r = rx_reserve(p, d->rx_max);
	if (r <= 0)
		return r ? RX_FAILED : RX_NO_BUFFERS;
	/* The kernel's header goes to a local copy: the guest gets one this device vouches for. */
	p->rx_iov[0] = (struct iovec){ .iov_base = &hdr, .iov_len = sizeof(hdr) };
	n = rx_frame_iov(p, p->rx_iov + 1, VHNET_TX_IOV - 1, &room);
	got = readv(p->tap_fd, p->rx_iov, (int)n + 1);
	if (got < 0) {
		/* EBADFD: the queue was detached (VQ_PAIRS_SET, possibly from another worker). */
		if (errno == EAGAIN || errno == EINTR || errno == EBADFD)
			return RX_TAP_EMPTY;
		vhnet_log(d, VH_LOG_ERR, "tap: read: %s", strerror(errno));
		return RX_FAILED;
	}
	/* The tap reports the whole frame's length even when the buffers cut it short. */
	if ((size_t)got < VHNET_HDR_LEN + VHNET_ETH_MIN || (uint64_t)got - VHNET_HDR_LEN > room) {
		p->st.rx_dropped++;
		return RX_BUDGET;
	}
	/* The control queue's receive filter; a frame it refuses leaves the buffers held. */
	if (!p->filter_all || p->filter_gen != __atomic_load_n(&d->filter_gen, __ATOMIC_RELAXED)) {
		size_t l = vhnet_iov_copy_out(p->rx_iov + 1, n, 0, eth, sizeof(eth));

		if (!vhnet_rx_accept(p, eth, VHNET_MIN(l, (size_t)got - VHNET_HDR_LEN))) {
			p->st.rx_filtered++;
			return RX_BUDGET;
		}
	}
	/* The tap's offload header, as far as the driver accepted offloads (offload.c). */
	vhnet_rx_hdr(d, &hdr.hdr, &out);
	p->st.rx_gso += out.gso_type != VIRTIO_NET_HDR_GSO_NONE;
	return rx_commit(p, (uint64_t)got - VHNET_HDR_LEN, &out) ? RX_FAILED : RX_BUDGET;
}

/* Frames from the tap into receive buffers until the tap is empty, buffers run out or the
 * budget is spent; the tap stays in the dispatch loop only while frames have somewhere to go. */
static void rx_from_tap(struct vhnet_pair *p)
{
	enum rx_stop why = RX_BUDGET;
	unsigned i;

	for (i = 0; i < VHNET_RX_BUDGET && why == RX_BUDGET; i++)
		why = rx_tap_one(p);
	/* Counted once per pause (poll mode comes here every round while the ring is short). */
	if (why == RX_NO_BUFFERS && !p->starved)
		p->st.rx_paused++;
	p->starved = why == RX_NO_BUFFERS;
	if (why == RX_FAILED)
		p->rx_broken = true;
	rx_set_watch(p, why == RX_TAP_EMPTY || why == RX_BUDGET);
	if (p->rxq)
		vh_queue_notify(p->rxq);
}

static void on_tap(void *opaque, int fd, uint32_t events)
{
	struct vhnet_pair *p = opaque;

	(void)fd;
	(void)events;
	/* A detached tap queue polls as an error: leave it alone until it is attached again. */
	if (p->rxq && !p->rx_broken && !p->tap_detached)
		rx_from_tap(p);
	else
		rx_set_watch(p, false);
}

/*
 * The pair's tap queue was attached or detached (tap.c): watch it again (and read what waits) or
 * stop. Poll mode: nothing to do, the receive queue's own kick reads (or finds EBADFD).
 */
void vhnet_rx_tap_changed(struct vhnet_pair *p)
{
	if (p->dev->opt.poll)
		return;
	if (p->tap_detached || !p->rxq || p->rx_broken)
		rx_set_watch(p, false);
	else
		rx_from_tap(p);
}

/* ---- transmit ------------------------------------------------------------------------------ */

/* Check a transmitted chain; Return: the frame's bytes after the header, 0 to drop it. */
static uint64_t tx_check(struct vhnet_pair *p, const struct vh_vq_elem *el)
{
	struct vhnet *d = p->dev;
	struct virtio_net_hdr_mrg_rxbuf hdr;
	const char *why = "writable parts, too short or too long";

	/* virtio 1.2 §5.1.6.2: a transmit buffer is device-readable, the header first. */
	if (el->in_num || el->out_len < VHNET_HDR_LEN + VHNET_ETH_MIN || el->out_len > d->tx_max)
		goto bad;
	if (el->iov[0].iov_len >= sizeof(hdr))
		memcpy(&hdr, el->iov[0].iov_base, sizeof(hdr));
	else
		vhnet_iov_copy_out(el->iov, el->out_num, 0, &hdr, sizeof(hdr));
	p->tx_hdr = hdr.hdr;
	/* §5.1.6.2.1: NEEDS_CSUM only with VIRTIO_NET_F_CSUM, a GSO type only with its HOST_*
	 * bit (offload.c); the tap takes the header as it is. */
	why = vhnet_tx_hdr_check(d, &hdr.hdr, el->out_len - VHNET_HDR_LEN);
	if (!why) {
		p->st.tx_gso += hdr.hdr.gso_type != VIRTIO_NET_HDR_GSO_NONE;
		return el->out_len - VHNET_HDR_LEN;
	}
bad:
	if (!p->st.tx_bad++)
		vhnet_log(d, VH_LOG_WARN,
			  "tx: chain %u: %u readable bytes, %u writable part(s): %s: dropped",
			  el->id, (unsigned)el->out_len, el->in_num, why);
	return 0;
}

/* Pop the next transmit chain into p->tx. Return: 1, 0 none, -EPROTO. */
static int tx_pop(struct vhnet_pair *p)
{
	int r;

	p->tx = (struct vh_vq_elem){ .iov = p->tx_iov, .max_iov = VHNET_TX_IOV };
	r = vh_queue_pop(p->txq, &p->tx);
	if (r == -ESHUTDOWN)
		return 0;
	if (r == -ENOBUFS) {
		vhnet_log(p->dev, VH_LOG_ERR, "tx: chain of more than %u buffers: %s", VHNET_TX_IOV,
			  strerror(ENOBUFS));
		return -EPROTO;
	}
	return r;
}

static void tx_to_tap(struct vhnet_pair *p, const struct vh_vq_elem *el, uint64_t len)
{
	/* The guest's header and frame go to the kernel as they are, from guest memory. */
	ssize_t n = writev(p->tap_fd, el->iov, (int)el->out_num);
	struct vhnet *d = p->dev;

	if (n < 0) {
		if (!p->st.tx_dropped++)
			vhnet_log(d, VH_LOG_WARN, "tap: write: %s (frame dropped)",
				  strerror(errno));
		return;
	}
	p->st.tx_frames++;
	p->st.tx_bytes += len;
	p->tx_frames++;
}

static int tx_kick_tap(struct vhnet_pair *p)
{
	uint64_t len;
	int r;

	for (;;) {
		r = tx_pop(p);
		if (r <= 0)
			return r;
		len = tx_check(p, &p->tx);
		if (len)
			tx_to_tap(p, &p->tx, len);
		r = vh_queue_push(p->txq, &p->tx, 0);
		if (r < 0)
			return r == -ESHUTDOWN ? 0 : r;
	}
}

/* ---- loopback ------------------------------------------------------------------------------ */

/* Bytes of a looped frame read into a local buffer: the MACs and an 802.1Q tag for the filter. */
#define VHNET_LOOP_PEEK 64u

/* Exchange the frame's destination and source MAC; the transmission is done. */
static void loop_swap(struct vhnet_pair *p, uint8_t *f)
{
	uint8_t mac[6];

	memcpy(mac, f, 6);
	memcpy(f, f + 6, 6);
	memcpy(f + 6, mac, 6);
	p->st.tx_frames++;
	p->st.tx_bytes += p->tx_len;
	p->tx_frames++;
}

/*
 * p->tx back into the held receive buffers with the MAC addresses swapped. The header and the
 * first VHNET_LOOP_PEEK bytes go through a local buffer (the MAC swap, the receive filter); the
 * rest is copied once, guest transmit buffer to guest receive buffer. A checksum the device must
 * fill in (NEEDS_CSUM without GUEST_CSUM) needs the whole frame: p->bounce then (one per pair:
 * in poll mode pairs run on different workers).
 */
static int loop_one(struct vhnet_pair *p)
{
	struct vhnet *d = p->dev;
	uint8_t head[VHNET_HDR_LEN + VHNET_LOOP_PEEK], *f = head + VHNET_HDR_LEN;
	uint64_t room, peek = VHNET_MIN(p->tx_len, (uint64_t)VHNET_LOOP_PEEK);
	struct virtio_net_hdr hdr;
	bool whole;
	unsigned n;

	n = rx_frame_iov(p, p->rx_iov, VHNET_TX_IOV, &room);
	if (p->tx_len > room) {
		/* Without MRG_RXBUF one buffer must hold the frame (§5.1.6.3.1). */
		p->st.rx_dropped++;
		return 0;
	}
	/* The header tx_check() checked, not a second read of guest memory. */
	hdr = p->tx_hdr;
	vhnet_iov_copy_out(p->tx.iov, p->tx.out_num, VHNET_HDR_LEN, f, peek);
	whole = (hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
		!(d->acked & (1ull << VIRTIO_NET_F_GUEST_CSUM)) && p->tx_len > peek;
	if (whole) {
		f = p->bounce + VHNET_HDR_LEN;
		vhnet_iov_copy_out(p->tx.iov, p->tx.out_num, VHNET_HDR_LEN, f, p->tx_len);
	}
	loop_swap(p, f);
	/* The header comes back as sent (offload.c), unless the receive side cannot take it. */
	if (vhnet_loop_hdr(d, &hdr, f, whole ? p->tx_len : peek)) {
		p->st.rx_dropped++;
		return 0;
	}
	if (!vhnet_rx_accept(p, f, whole ? p->tx_len : peek)) {
		p->st.rx_filtered++;
		return 0;
	}
	if (whole) {
		vhnet_iov_copy_in(p->rx_iov, n, 0, f, p->tx_len);
	} else {
		vhnet_iov_copy_in(p->rx_iov, n, 0, f, peek);
		if (p->tx_len > peek)
			vhnet_iov_copy(p->rx_iov, n, peek, p->tx.iov, p->tx.out_num,
				       VHNET_HDR_LEN + peek, p->tx_len - peek);
	}
	return rx_commit(p, p->tx_len, &hdr);
}

/*
 * The common frame, in one piece: the transmit chain is one descriptor (header and frame
 * together) with a plain header (no checksum or segmentation request), the first held receive
 * buffer is one descriptor with room for it, and the receive filter takes everything. Then header
 * and frame are copied across in one go, the MACs swapped in place and num_buffers set: what
 * loop_one() does through a local copy, with a third of the instructions. Return: true handled.
 */
static bool loop_fast(struct vhnet_pair *p)
{
	const struct vh_vq_elem *rx = held_at(p, 0);
	uint64_t len = p->tx.out_len;
	uint8_t *f;

	if (p->tx.out_num != 1 || rx->in_num != 1 || rx->in_len < len || !p->filter_all ||
	    p->filter_gen != __atomic_load_n(&p->dev->filter_gen, __ATOMIC_RELAXED) ||
	    (p->tx_hdr.flags | p->tx_hdr.gso_type))
		return false;
	f = rx->iov[0].iov_base;
	memcpy(f, p->tx.iov[0].iov_base, len);
	/* The header as tx_check() read it (the guest may have changed its own since). */
	memcpy(f, &p->tx_hdr, sizeof(p->tx_hdr));
	((struct virtio_net_hdr_mrg_rxbuf *)f)->num_buffers = htole16(1);
	f += VHNET_HDR_LEN;
	loop_swap(p, f);
	if (vh_queue_push(p->rxq, rx, (uint32_t)len) < 0)
		p->rx_broken = true;
	held_drop_first(p);
	p->st.rx_frames++;
	p->rx_frames++;
	p->st.rx_bytes += p->tx_len;
	return true;
}

/* Echo transmitted frames while receive buffers last; a frame without room waits (pending) for
 * the next receive kick. Runs from either queue's kick. */
static int loop_pump(struct vhnet_pair *p)
{
	int r = 0;

	while (p->txq) {
		if (!p->tx_pending) {
			r = tx_pop(p);
			if (r <= 0)
				break;
			p->tx_len = tx_check(p, &p->tx);
			p->tx_pending = true;
		}
		if (p->tx_len && !p->rx_broken) {
			r = rx_reserve(p, VHNET_HDR_LEN + p->tx_len);
			if (!r)
				break;
			/* A broken receive ring loses the frame, not the transmit ring. */
			if (r > 0 && !loop_fast(p))
				loop_one(p);
		}
		p->tx_pending = false;
		r = vh_queue_push(p->txq, &p->tx, 0);
		if (r < 0)
			break;
	}
	if (p->rxq)
		vh_queue_notify(p->rxq);
	if (p->txq)
		vh_queue_notify(p->txq);
	return r == -ESHUTDOWN ? 0 : r;
}

/* ---- device ops ---------------------------------------------------------------------------- */

static int vhnet_features_set(void *inst, struct vh_conn *conn, uint64_t features)
{
	struct vhnet *d = inst;
	int err;

	(void)conn;
	/* virtio 1.2 §5.1.6: the 12-byte header needs VERSION_1 or MRG_RXBUF; the legacy
	 * 10-byte one is not supported. */
	if (!(features & (1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_NET_F_MRG_RXBUF))) {
		vhnet_log(d, VH_LOG_ERR,
			  "SET_FEATURES: 0x%llx: neither VERSION_1 nor MRG_RXBUF: %s",
			  (unsigned long long)features, strerror(ENOTSUP));
		return -ENOTSUP;
	}
	err = vhnet_offload_check(d, features);
	if (err)
		return err;
	d->acked = features;
	d->mrg = features & (1ull << VIRTIO_NET_F_MRG_RXBUF);
	/* GSO frames are up to 64 KiB in the direction whose offload was accepted. */
	d->tx_max = d->frame_max;
	if (features & (1ull << VIRTIO_NET_F_CSUM))
		d->tx_max = VHNET_HDR_LEN + VHNET_GSO_MAX;
	d->rx_max = d->frame_max;
	if (vhnet_tap_offload_flags(features) & ~1u)
		d->rx_max = VHNET_HDR_LEN + VHNET_GSO_MAX;
	err = vhnet_tap_set_offload(d, vhnet_tap_offload_flags(features));
	if (err)
		return err;
	/* virtio 1.2 §5.1.2: the control queue follows the last pair in use (2 without MQ). */
	d->ctrl_index = ~0u;
	if (features & (1ull << VIRTIO_NET_F_CTRL_VQ))
		d->ctrl_index = (features & (1ull << VIRTIO_NET_F_MQ)) ? 2 * d->opt.queue_pairs : 2;
	vhnet_filter_reset(d, features);
	vhnet_log(d, VH_LOG_DEBUG, "features 0x%llx, mergeable rx buffers %s, tap offloads 0x%x",
		  (unsigned long long)features, d->mrg ? "on" : "off",
		  vhnet_tap_offload_flags(features));
	return 0;
}

static int vhnet_get_config(void *inst, struct vh_conn *conn, uint32_t offset, void *buf,
			    uint32_t len)
{
	struct vhnet *d = inst;

	(void)conn;
	/* The control queue may change the MAC (CTRL_MAC_ADDR_SET) or the announce bit. */
	pthread_mutex_lock(&d->filter_lock);
	memcpy(buf, (const uint8_t *)&d->config + offset, len);
	pthread_mutex_unlock(&d->filter_lock);
	return 0;
}

/*
 * The library checked the index against cfg.num_queues (2 * queue_pairs, + 1 for the control
 * queue). NULL: the control queue, or a ring past it that the negotiated features do not use.
 */
static struct vhnet_pair *pair_of(struct vhnet *d, const struct vh_queue *q)
{
	unsigned i = vh_queue_index(q);

	if (i >= d->ctrl_index || i / 2 >= d->opt.queue_pairs)
		return NULL;
	return &d->pairs[i / 2];
}

static int vhnet_queue_start(void *inst, struct vh_queue *q)
{
	struct vhnet *d = inst;
	struct vhnet_pair *p = pair_of(d, q);

	if (!p)
		return 0;
	/* virtio 1.2 §5.1.2: receiveq N is ring 2N, transmitq N is ring 2N + 1. */
	if (vh_queue_index(q) % 2 == 0) {
		p->rxq = q;
		p->head = 0;
		p->nheld = 0;
		p->rx_broken = false;
		rx_set_watch(p, true);
	} else {
		p->txq = q;
		p->tx_pending = false;
	}
	return 0;
}

static int vhnet_queue_kick(void *inst, struct vh_queue *q)
{
	struct vhnet *d = inst;
	struct vhnet_pair *p = pair_of(d, q);
	int r = 0;

	if (!p)
		return vh_queue_index(q) == d->ctrl_index ? vhnet_ctrl_kick(d, q) : 0;
	if (d->opt.loopback)
		r = loop_pump(p);
	else if (q == p->txq)
		r = tx_kick_tap(p);
	else if (q == p->rxq && !p->rx_broken)
		rx_from_tap(p);
	/* The receive ring was found broken (logged where found): stop kicking it. */
	if (!r && q == p->rxq && p->rx_broken)
		r = -EPROTO;
	return r;
}

static void vhnet_queue_stop(void *inst, struct vh_queue *q)
{
	struct vhnet *d = inst;
	struct vhnet_pair *p = pair_of(d, q);

	if (!p)
		return;
	if (q == p->rxq) {
		rx_set_watch(p, false);
		rx_release(p);
		p->rxq = NULL;
	} else if (q == p->txq) {
		/* A loopback frame still waiting for receive buffers is dropped. */
		if (p->tx_pending)
			vh_queue_push(q, &p->tx, 0);
		p->tx_pending = false;
		p->txq = NULL;
	}
}

const struct vh_device_ops vhnet_ops = {
	.features_set = vhnet_features_set,
	.get_config = vhnet_get_config,
	.queue_start = vhnet_queue_start,
	.queue_kick = vhnet_queue_kick,
	.queue_stop = vhnet_queue_stop,
};

int vhnet_config_init(struct vhnet *d)
{
	unsigned i;

	memcpy(d->config.mac, d->opt.mac, sizeof(d->config.mac));
	d->config.status = htole16(VIRTIO_NET_S_LINK_UP);
	d->config.max_virtqueue_pairs = htole16((uint16_t)d->opt.queue_pairs);
	d->config.mtu = htole16((uint16_t)d->opt.mtu);
	d->features =
	    1ull << VIRTIO_NET_F_MAC | 1ull << VIRTIO_NET_F_STATUS | 1ull << VIRTIO_NET_F_MTU;
	if (!d->opt.no_mrg)
		d->features |= 1ull << VIRTIO_NET_F_MRG_RXBUF;
	/* ctrl.c. QEMU keeps the control queue for itself (it never acks these bits to a
	 * vhost-user back-end) and enables pairs with SET_VRING_ENABLE. */
	if (!d->opt.no_ctrl)
		d->features |= 1ull << VIRTIO_NET_F_CTRL_VQ | 1ull << VIRTIO_NET_F_CTRL_RX |
			       1ull << VIRTIO_NET_F_CTRL_RX_EXTRA | 1ull << VIRTIO_NET_F_CTRL_VLAN |
			       1ull << VIRTIO_NET_F_GUEST_ANNOUNCE |
			       1ull << VIRTIO_NET_F_CTRL_MAC_ADDR;
	/* virtio 1.2 §5.1.3.1: MQ requires CTRL_VQ (ours, or the front-end's as QEMU does). */
	if (d->opt.queue_pairs > 1)
		d->features |= 1ull << VIRTIO_NET_F_MQ;
	/* Loopback: every offload (offload.c); a tap: what it supports, added by tap_open. */
	if (d->opt.loopback)
		d->features |= vhnet_offload_features(d);
	d->frame_max = VHNET_HDR_LEN + VHNET_ETH_OVERHEAD + d->opt.mtu;
	d->rx_max = d->tx_max = d->frame_max;
	d->ctrl_index = ~0u;
	d->active_pairs = d->opt.queue_pairs;
	pthread_mutex_init(&d->filter_lock, NULL);
	d->pairs = calloc(d->opt.queue_pairs, sizeof(*d->pairs));
	if (!d->pairs)
		return -ENOMEM;
	for (i = 0; i < d->opt.queue_pairs; i++) {
		d->pairs[i].dev = d;
		d->pairs[i].tap_fd = -1;
		if (d->opt.loopback) {
			d->pairs[i].bounce = malloc(VHNET_HDR_LEN + VHNET_GSO_MAX);
			if (!d->pairs[i].bounce)
				return -ENOMEM;
		}
	}
	return 0;
}

void vhnet_pairs_free(struct vhnet *d)
{
	unsigned i;

	for (i = 0; d->pairs && i < d->opt.queue_pairs; i++)
		free(d->pairs[i].bounce);
	free(d->pairs);
	d->pairs = NULL;
}
