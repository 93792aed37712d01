// SPDX-License-Identifier: BSD-3-Clause
/*
 * vh_net datapath: frames copied into transmit buffers and out of receive buffers, one frame at a
 * time (vh_net_send/vh_net_recv, queue pair 0) or a burst at a time on any pair
 * (vh_net_tx_burst/vh_net_rx_burst: one used-ring pass, one index update and at most one kick
 * per burst); waiting on the call eventfds.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_net.h>

#include <vhost/frontend.h>

#include "driver/net_internal.h"
#include "util/util.h"

static void publish(struct vh_net *n, struct net_ring *r)
{
	if (vh_vq_driver_kick_needed(r->vq))
		net_kick(n, r);
}

static struct net_pair *pair(struct vh_net *n, unsigned qp)
{
	return qp < n->cfg.queue_pairs ? &n->pairs[qp] : NULL;
}

/* ---- transmit -------------------------------------------------------------------------------- */

/* A receive buffer sent as it is (vh_net_tx_burst_zc) was transmitted: back to the receive ring. */
static int tx_done_zc(struct vh_net *n, struct net_pair *pr, uintptr_t tok)
{
	unsigned slot = (unsigned)(tok & ~(uintptr_t)NET_TOK_RX) - 1;

	if (vh_unlikely(slot >= n->cfg.queue_size || pr->rx_state[slot] != NET_RX_TX))
		return net_fail(n, "tx", "completion of a receive buffer not in flight");
	pr->rx_state[slot] = NET_RX_RING;
	pr->tx_zc--;
	if (vh_unlikely(net_rx_add(&pr->q[VH_NET_RX], slot) < 0))
		return net_fail(n, "rx", "cannot give a receive buffer back");
	return 0;
}

/* Every completed transmission off the used ring in one pass. */
static int tx_reap(struct vh_net *n, struct net_pair *pr)
{
	struct vh_vq_driver *vq = pr->q[VH_NET_TX].vq;
	unsigned num = n->cfg.queue_size;
	int reaped = 0, r;
	bool rx_back = false;
	uint32_t len;
	void *tok;

	for (;;) {
		r = vh_vq_driver_get_used(vq, &tok, &len);
		if (vh_unlikely(r < 0))
			return net_fail(n, "tx", "transmit ring broken");
		if (r == 0)
			break;
		if (vh_unlikely((uintptr_t)tok & NET_TOK_RX)) {
			if (tx_done_zc(n, pr, (uintptr_t)tok) < 0)
				return -EPROTO;
			rx_back = true;
			reaped++;
			continue;
		}
		/* The ring only hands back tokens we added; the free stack cannot overflow. */
		if (vh_unlikely(pr->tx_nfree >= num))
			return net_fail(n, "tx", "more completions than transmissions");
		pr->tx_free[pr->tx_nfree++] = (uint16_t)((uintptr_t)tok - 1);
		reaped++;
	}
	if (rx_back)
		publish(n, &pr->q[VH_NET_RX]);
	n->st.tx_completed += (uint64_t)reaped;
	return reaped;
}

int vh_net_tx_reap_qp(struct vh_net *n, unsigned qp)
{
	struct net_pair *pr = pair(n, qp);

	if (!pr)
		return -EINVAL;
	if (n->broken)
		return -EPROTO;
	return tx_reap(n, pr);
}

int vh_net_tx_reap(struct vh_net *n)
{
	return vh_net_tx_reap_qp(n, 0);
}

unsigned vh_net_tx_inflight_qp(const struct vh_net *n, unsigned qp)
{
	return qp < n->cfg.queue_pairs
		   ? n->cfg.queue_size - n->pairs[qp].tx_nfree + n->pairs[qp].tx_zc
		   : 0;
}

unsigned vh_net_tx_inflight(const struct vh_net *n)
{
	return vh_net_tx_inflight_qp(n, 0);
}

/*
 * virtio 1.2 §5.1.6.2.1: NEEDS_CSUM only with VIRTIO_NET_F_CSUM and with csum_start/csum_offset
 * inside the frame; a gso_type only with its HOST_* feature, together with NEEDS_CSUM and a
 * gso_size; the ECN bit only with HOST_ECN; DATA_VALID and RSC_INFO never.
 */
static int tx_hdr_check(const struct vh_net *n, const struct virtio_net_hdr *h, uint32_t len)
{
	uint8_t gso = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	unsigned need = 0;

	if (h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return -EINVAL;
	if (h->flags) {
		need |= NET_TXO_CSUM;
		if ((uint32_t)le16toh(h->csum_start) + le16toh(h->csum_offset) + 2 > len)
			return -EINVAL;
	}
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_NONE:
		if (h->gso_type)
			return -EINVAL; /* ECN without segmentation */
		break;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		need |= NET_TXO_TSO4;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		need |= NET_TXO_TSO6;
		break;
	case VIRTIO_NET_HDR_GSO_UDP:
		need |= NET_TXO_UFO;
		break;
	default:
		return -EINVAL;
	}
	if (gso != VIRTIO_NET_HDR_GSO_NONE && (!h->flags || !h->gso_size))
		return -EINVAL;
	if (h->gso_type & VIRTIO_NET_HDR_GSO_ECN)
		need |= NET_TXO_ECN;
	return need & ~(unsigned)n->tx_hdr_ok ? -EINVAL : 0;
}

/* The offload request of a frame about to be sent (VH_NET_TX_UNCHECKED: the caller vouches). */
static int tx_hdr_ok(const struct vh_net *n, const struct vh_net_pkt *pkt)
{
	if (vh_likely(!(pkt->hdr.flags | pkt->hdr.gso_type)) ||
	    (n->cfg.flags & VH_NET_TX_UNCHECKED))
		return 0;
	return tx_hdr_check(n, &pkt->hdr, pkt->len);
}

/* Copy one frame into a free transmit buffer and add it to the ring (not yet published). */
static int tx_one(struct vh_net *n, struct net_pair *pr, const struct vh_net_pkt *pkt)
{
	struct net_ring *r = &pr->q[VH_NET_TX];
	struct virtio_net_hdr_mrg_rxbuf *h;
	unsigned slot;
	int err;

	if (vh_unlikely(!pr->tx_nfree))
		return -ENOSPC;
	if (vh_unlikely(pkt->len == 0 || pkt->len > r->buf_size - VH_NET_HDR_LEN))
		return -EMSGSIZE;
	err = tx_hdr_ok(n, pkt);
	if (vh_unlikely(err < 0))
		return err;
	slot = pr->tx_free[--pr->tx_nfree];
	h = (struct virtio_net_hdr_mrg_rxbuf *)(r->buf + (uint64_t)slot * r->buf_size);
	h->hdr = pkt->hdr;
	/* virtio 1.2 §5.1.6.2: the driver MUST set num_buffers to zero on transmit. */
	h->num_buffers = 0;
	memcpy(h + 1, pkt->data, pkt->len);
	/* One descriptor: header and frame together (VERSION_1 implies ANY_LAYOUT, §5.1.6.6). */
	err = vh_vq_driver_add_one(r->vq, r->buf_gpa + (uint64_t)slot * r->buf_size,
				   VH_NET_HDR_LEN + pkt->len, false, (void *)(uintptr_t)(slot + 1));
	if (vh_unlikely(err < 0)) {
		pr->tx_free[pr->tx_nfree++] = (uint16_t)slot;
		return err;
	}
	n->st.tx_bytes += pkt->len;
	return 0;
}

/*
 * Send a received buffer as it is: the header goes into the 12 bytes before the frame (where the
 * device's was), the descriptor covers both; the buffer returns to the receive ring when the
 * transmission completes (tx_done_zc).
 */
static int tx_one_zc(struct vh_net *n, struct net_pair *pr, const struct vh_net_pkt *pkt)
{
	struct net_ring *rx = &pr->q[VH_NET_RX];
	unsigned slot = pkt->buf - 1;
	struct virtio_net_hdr_mrg_rxbuf *h;
	uint8_t *base, *d = pkt->data;
	int err;

	if (vh_unlikely(slot >= n->cfg.queue_size || pr->rx_state[slot] != NET_RX_CALLER))
		return -EINVAL;
	base = rx->buf + (uint64_t)slot * rx->buf_size;
	if (vh_unlikely(d < base + VH_NET_HDR_LEN || d > base + rx->buf_size || !pkt->len ||
			pkt->len > (uint64_t)(base + rx->buf_size - d)))
		return -EMSGSIZE;
	err = tx_hdr_ok(n, pkt);
	if (vh_unlikely(err < 0))
		return err;
	h = (struct virtio_net_hdr_mrg_rxbuf *)(d - VH_NET_HDR_LEN);
	h->hdr = pkt->hdr;
	h->num_buffers = 0;
	err = vh_vq_driver_add_one(
	    pr->q[VH_NET_TX].vq, rx->buf_gpa + (uint64_t)((uint8_t *)h - rx->buf),
	    VH_NET_HDR_LEN + pkt->len, false, (void *)(uintptr_t)(NET_TOK_RX | (slot + 1)));
	if (vh_unlikely(err < 0))
		return err;
	pr->rx_state[slot] = NET_RX_TX;
	pr->tx_zc++;
	n->st.tx_bytes += pkt->len;
	return 0;
}

/* Up to @cnt frames onto the ring, one publish; the ring full ends the burst early (no error). */
static int tx_burst(struct vh_net *n, struct net_pair *pr, struct vh_net_pkt *pkts, unsigned cnt,
		    bool zc)
{
	unsigned i;
	int err = 0;

	/* Reap only when the burst may not fit: fewer used-ring reads. */
	if (pr->tx_nfree < cnt || (pr->tx_zc && vh_vq_driver_num_free(pr->q[VH_NET_TX].vq) < cnt)) {
		err = tx_reap(n, pr);
		if (err < 0)
			return err;
	}
	for (i = 0; i < cnt; i++) {
		if (zc && pkts[i].buf) {
			err = tx_one_zc(n, pr, &pkts[i]);
			if (vh_likely(err == 0))
				pkts[i].buf = 0;
		} else {
			err = tx_one(n, pr, &pkts[i]);
		}
		if (vh_unlikely(err < 0))
			break;
	}
	if (i) {
		publish(n, &pr->q[VH_NET_TX]);
		n->st.tx_frames += i;
		return (int)i;
	}
	return err == -ENOSPC ? 0 : err;
}

int vh_net_tx_burst(struct vh_net *n, unsigned qp, const struct vh_net_pkt *pkts, unsigned cnt)
{
	struct net_pair *pr = pair(n, qp);

	if (vh_unlikely(!pr))
		return -EINVAL;
	if (vh_unlikely(n->broken))
		return -EPROTO;
	/* Not zero-copy: nothing in @pkts is written. */
	return tx_burst(n, pr, (struct vh_net_pkt *)(uintptr_t)pkts, cnt, false);
}

int vh_net_tx_burst_zc(struct vh_net *n, unsigned qp, struct vh_net_pkt *pkts, unsigned cnt)
{
	struct net_pair *pr = pair(n, qp);

	if (vh_unlikely(!pr))
		return -EINVAL;
	if (vh_unlikely(n->broken))
		return -EPROTO;
	return tx_burst(n, pr, pkts, cnt, true);
}

int vh_net_send(struct vh_net *n, const void *frame, size_t len, const struct virtio_net_hdr *hdr)
{
	struct vh_net_pkt p = { .data = (void *)(uintptr_t)frame, .len = (uint32_t)len };
	int r;

	if (len > UINT32_MAX)
		return -EMSGSIZE;
	if (hdr)
		p.hdr = *hdr;
	r = vh_net_tx_burst(n, 0, &p, 1);
	return r < 0 ? r : r ? 0 : -EAGAIN;
}

/* ---- receive --------------------------------------------------------------------------------- */

/* Take one used receive buffer into the pending frame; 1 taken, 0 none, -EPROTO. */
static int rx_take(struct vh_net *n, struct net_pair *pr)
{
	struct net_ring *r = &pr->q[VH_NET_RX];
	uint32_t len;
	void *tok;
	int got = vh_vq_driver_get_used(r->vq, &tok, &len);

	if (vh_unlikely(got < 0))
		return net_fail(n, "rx", "receive ring broken");
	if (got == 0)
		return 0;
	if (vh_unlikely(len > r->buf_size))
		return net_fail(n, "rx", "used length larger than the buffer");
	pr->rx_pend[pr->rx_pend_n] = (uint16_t)((uintptr_t)tok - 1);
	pr->rx_pend_len[pr->rx_pend_n] = len;
	pr->rx_pend_n++;
	return 1;
}

static uint8_t *rx_buf(struct net_pair *pr, unsigned k)
{
	struct net_ring *r = &pr->q[VH_NET_RX];

	return r->buf + (uint64_t)pr->rx_pend[k] * r->buf_size;
}

/* After the first buffer of a frame: how many buffers it spans (virtio 1.2 §5.1.6.4). */
static int rx_count(struct vh_net *n, struct net_pair *pr)
{
	const struct virtio_net_hdr_mrg_rxbuf *h = (const void *)rx_buf(pr, 0);
	unsigned want = 1;

	if (vh_unlikely(pr->rx_pend_len[0] < VH_NET_HDR_LEN))
		return net_fail(n, "rx", "used length shorter than the virtio-net header");
	/*
	 * Without MRG_RXBUF the frame is one buffer whatever num_buffers says: Linux's vhost-net
	 * leaves the field unwritten then (the tap fills only a 10-byte virtio_net_hdr).
	 */
	if (n->info.mrg_rxbuf)
		want = le16toh(h->num_buffers);
	if (vh_unlikely(want == 0 || want > n->cfg.queue_size))
		return net_fail(n, "rx", "bad num_buffers in the virtio-net header");
	pr->rx_pend_want = want;
	return 0;
}

/* Every buffer of the next frame taken? 1 yes, 0 not yet, -EPROTO. */
static int rx_gather(struct vh_net *n, struct net_pair *pr)
{
	int r;

	if (pr->rx_pend_n == 0) {
		r = rx_take(n, pr);
		if (r <= 0)
			return r;
		r = rx_count(n, pr);
		if (r < 0)
			return r;
	}
	/* The device publishes all buffers of a frame together; tolerate seeing them in pieces. */
	while (pr->rx_pend_n < pr->rx_pend_want) {
		r = rx_take(n, pr);
		if (r <= 0)
			return r;
	}
	return 1;
}

/* Copy the complete pending frame into @p (data, len, nbufs, hdr). */
static void rx_copy(struct vh_net *n, struct net_pair *pr, struct vh_net_pkt *p)
{
	uint8_t *dst = p->data;
	uint32_t done = 0, total = 0, blen, skip = VH_NET_HDR_LEN, c;
	unsigned k;

	/* A zero-copy burst left @data inside a receive buffer: never copy into the rings' memory. */
	if (vh_unlikely(p->cap && vh_net_gpa(n, p->data) != UINT64_MAX))
		p->cap = 0;
	p->buf = 0;

	memcpy(&p->hdr, rx_buf(pr, 0), sizeof(p->hdr));
	p->nbufs = (uint16_t)pr->rx_pend_n;
	for (k = 0; k < pr->rx_pend_n; k++) {
		blen = pr->rx_pend_len[k] - skip;
		if (done < p->cap) {
			c = VH_MIN(blen, p->cap - done);
			memcpy(dst + done, rx_buf(pr, k) + skip, c);
			done += c;
		}
		total += blen;
		skip = 0;
	}
	p->len = total;
	n->st.rx_frames++;
	n->st.rx_bytes += total;
	n->st.rx_merged += pr->rx_pend_n > 1;
	n->st.rx_truncated += total > p->cap;
}

/* The pending frame's buffers back on the ring (published by the caller). */
static int rx_recycle(struct vh_net *n, struct net_pair *pr)
{
	unsigned k;

	for (k = 0; k < pr->rx_pend_n; k++)
		if (vh_unlikely(net_rx_add(&pr->q[VH_NET_RX], pr->rx_pend[k]) < 0))
			return net_fail(n, "rx", "cannot give a receive buffer back");
	pr->rx_pend_n = 0;
	pr->rx_pend_want = 0;
	return 0;
}

/* Counters of a burst's single-buffer frames, added to vh_net_stats once per burst. */
struct rx_tally {
	uint64_t frames, bytes, truncated;
};

/*
 * The common case: the next used buffer holds a whole frame (num_buffers 1, or no MRG_RXBUF).
 * Copy it into @p and give the buffer back at once, or (@zc) lend it: @p points into it.
 * Return: 1 done; 0 nothing used; 2 the first buffer of a larger frame, now pending for
 * rx_gather(); -EPROTO.
 */
static int rx_fast(struct vh_net *n, struct net_pair *pr, struct vh_net_pkt *p, struct rx_tally *t,
		   bool zc)
{
	struct net_ring *r = &pr->q[VH_NET_RX];
	const struct virtio_net_hdr_mrg_rxbuf *h;
	uint32_t len, flen;
	unsigned i;
	void *tok;
	int got = vh_vq_driver_get_used(r->vq, &tok, &len);

	if (got <= 0)
		return got < 0 ? net_fail(n, "rx", "receive ring broken") : 0;
	i = (unsigned)((uintptr_t)tok - 1);
	if (vh_unlikely(len > r->buf_size))
		return net_fail(n, "rx", "used length larger than the buffer");
	h = (const void *)(r->buf + (uint64_t)i * r->buf_size);
	if (vh_unlikely(len < VH_NET_HDR_LEN ||
			(n->info.mrg_rxbuf && h->num_buffers != htole16(1)))) {
		pr->rx_pend[0] = (uint16_t)i;
		pr->rx_pend_len[0] = len;
		pr->rx_pend_n = 1;
		return rx_count(n, pr) < 0 ? -EPROTO : 2;
	}
	flen = len - VH_NET_HDR_LEN;
	memcpy(&p->hdr, h, sizeof(p->hdr));
	p->len = flen;
	p->nbufs = 1;
	t->frames++;
	t->bytes += flen;
	if (zc) {
		p->data = (uint8_t *)(uintptr_t)(h + 1);
		p->cap = r->buf_size - VH_NET_HDR_LEN;
		p->buf = i + 1;
		pr->rx_state[i] = NET_RX_CALLER;
		return 1;
	}
	memcpy(p->data, h + 1, VH_MIN(flen, p->cap));
	p->buf = 0;
	t->truncated += flen > p->cap;
	if (vh_unlikely(net_rx_add(r, i) < 0))
		return net_fail(n, "rx", "cannot give a receive buffer back");
	return 1;
}

static int rx_burst(struct vh_net *n, struct net_pair *pr, struct vh_net_pkt *pkts, unsigned cnt,
		    bool zc)
{
	struct rx_tally t = { 0 };
	unsigned i, lent = 0;
	int r = 0;

	for (i = 0; i < cnt; i++) {
		if (pr->rx_pend_n == 0) {
			r = rx_fast(n, pr, &pkts[i], &t, zc);
			if (r == 1) {
				lent += zc;
				continue;
			}
			if (r <= 0)
				break;
		}
		r = rx_gather(n, pr);
		if (r <= 0)
			break;
		rx_copy(n, pr, &pkts[i]);
		r = rx_recycle(n, pr);
		if (r < 0)
			break;
	}
	n->st.rx_frames += t.frames;
	n->st.rx_bytes += t.bytes;
	n->st.rx_truncated += t.truncated;
	if (i > lent)
		publish(n, &pr->q[VH_NET_RX]);
	return r < 0 ? r : (int)i;
}

int vh_net_rx_burst(struct vh_net *n, unsigned qp, struct vh_net_pkt *pkts, unsigned cnt)
{
	struct net_pair *pr = pair(n, qp);

	if (vh_unlikely(!pr))
		return -EINVAL;
	if (vh_unlikely(n->broken))
		return -EPROTO;
	return rx_burst(n, pr, pkts, cnt, false);
}

int vh_net_rx_burst_zc(struct vh_net *n, unsigned qp, struct vh_net_pkt *pkts, unsigned cnt)
{
	struct net_pair *pr = pair(n, qp);
	int r;

	if (vh_unlikely(!pr))
		return -EINVAL;
	if (vh_unlikely(n->broken))
		return -EPROTO;
	/* Received buffers sent on come back when their transmission completes: look for those
	 * (one used-ring pass) once the device holds fewer than half of the receive buffers. */
	if (pr->tx_zc && vh_vq_driver_num_free(pr->q[VH_NET_RX].vq) > n->cfg.queue_size / 2) {
		r = tx_reap(n, pr);
		if (r < 0)
			return r;
	}
	return rx_burst(n, pr, pkts, cnt, true);
}

int vh_net_rx_free(struct vh_net *n, unsigned qp, struct vh_net_pkt *pkts, unsigned cnt)
{
	struct net_pair *pr = pair(n, qp);
	unsigned i, k = 0, slot;
	int r = 0;

	if (vh_unlikely(!pr))
		return -EINVAL;
	if (vh_unlikely(n->broken))
		return -EPROTO;
	for (i = 0; i < cnt; i++) {
		if (!pkts[i].buf)
			continue;
		slot = pkts[i].buf - 1;
		if (vh_unlikely(slot >= n->cfg.queue_size || pr->rx_state[slot] != NET_RX_CALLER)) {
			r = -EINVAL;
			break;
		}
		if (vh_unlikely(net_rx_add(&pr->q[VH_NET_RX], slot) < 0)) {
			r = net_fail(n, "rx", "cannot give a receive buffer back");
			break;
		}
		pr->rx_state[slot] = NET_RX_RING;
		pkts[i].buf = 0;
		k++;
	}
	if (k)
		publish(n, &pr->q[VH_NET_RX]);
	return r < 0 ? r : (int)k;
}

int vh_net_recv(struct vh_net *n, void *buf, size_t len, struct vh_net_rx_info *info)
{
	struct net_pair *pr = &n->pairs[0];
	struct vh_net_pkt p = { .data = buf, .cap = (uint32_t)VH_MIN(len, (size_t)UINT32_MAX) };
	unsigned k;
	int r;

	if (n->broken)
		return -EPROTO;
	r = rx_gather(n, pr);
	if (r <= 0)
		return r;
	rx_copy(n, pr, &p);
	if (info) {
		memset(info, 0, sizeof(*info));
		memcpy(&info->hdr, rx_buf(pr, 0), sizeof(info->hdr));
		if (!n->info.mrg_rxbuf)
			info->hdr.num_buffers = htole16(1);
		info->nbufs = p.nbufs;
		info->len = p.len;
		for (k = 0; k < pr->rx_pend_n && k < VH_NET_RX_INFO_BUFS; k++) {
			info->buf_gpa[k] = vh_net_gpa(n, rx_buf(pr, k));
			info->buf_len[k] = pr->rx_pend_len[k];
		}
	}
	r = rx_recycle(n, pr);
	if (r < 0)
		return r;
	publish(n, &pr->q[VH_NET_RX]);
	return 1;
}

/* ---- waiting --------------------------------------------------------------------------------- */

static int ready(struct vh_net *n, unsigned what)
{
	struct net_pair *pr = &n->pairs[0];
	int r;

	if (n->broken)
		return -EPROTO;
	if (what & VH_NET_WAIT_TX) {
		r = tx_reap(n, pr);
		if (r < 0)
			return r;
		if (vh_net_tx_inflight(n) == 0)
			return 1;
		/* Ask for a call on the next completion; 1: some arrived meanwhile, look again. */
		if (vh_vq_driver_set_notification(pr->q[VH_NET_TX].vq, true) == 1) {
			r = tx_reap(n, pr);
			if (r < 0)
				return r;
			if (vh_net_tx_inflight(n) == 0)
				return 1;
		}
	}
	if (what & VH_NET_WAIT_RX) {
		/*
		 * Part of a mergeable frame already taken: more used buffers are its rest. Ready is
		 * approximate then (the rest may still be incomplete); vh_net_recv() returns 0.
		 */
		if (vh_vq_driver_set_notification(pr->q[VH_NET_RX].vq, true) == 1)
			return 1;
	}
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One poll() over the call eventfds and the device's event fd. */
static int wait_once(struct vh_net *n, unsigned what, int timeout_ms)
{
	struct net_pair *pr = &n->pairs[0];
	struct pollfd p[3];
	unsigned np = 0, k;
	uint64_t v;
	int ev = n->dev ? vh_dev_event_fd(n->dev) : -1, r;

	if ((what & VH_NET_WAIT_RX) && pr->q[VH_NET_RX].call_fd >= 0)
		p[np++] = (struct pollfd){ .fd = pr->q[VH_NET_RX].call_fd, .events = POLLIN };
	if ((what & VH_NET_WAIT_TX) && pr->q[VH_NET_TX].call_fd >= 0)
		p[np++] = (struct pollfd){ .fd = pr->q[VH_NET_TX].call_fd, .events = POLLIN };
	if (ev >= 0)
		p[np++] = (struct pollfd){ .fd = ev, .events = POLLIN };
	if (np == 0)
		return 0;
	r = poll(p, np, timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	for (k = 0; k < np; k++) {
		if (!(p[k].revents & (POLLIN | POLLERR | POLLHUP)))
			continue;
		if (p[k].fd == ev) {
			r = vh_dev_dispatch(n->dev);
			if (r < 0)
				return r;
		} else if (read(p[k].fd, &v, sizeof(v)) < 0 && errno != EAGAIN) {
			return -errno;
		}
	}
	return 0;
}

int vh_net_wait(struct vh_net *n, unsigned what, int timeout_ms)
{
	struct net_pair *pr = &n->pairs[0];
	int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
	int r, left;

	for (;;) {
		r = ready(n, what);
		if (r != 0)
			return r;
		if (timeout_ms == 0)
			return 0;
		left = -1;
		if (timeout_ms > 0) {
			int64_t d = deadline - now_ms();

			if (d <= 0)
				return 0;
			left = (int)d;
		}
		if (pr->q[VH_NET_RX].call_fd < 0 && pr->q[VH_NET_TX].call_fd < 0 && !n->dev)
			return 0; /* nothing to sleep on (in-process device) */
		r = wait_once(n, what, left);
		if (r < 0)
			return r;
	}
}
