/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vh-net control queue (VIRTIO_NET_F_CTRL_VQ, virtio 1.2 §5.1.6.5) and the receive filter it
 * sets. A command is struct virtio_net_ctrl_hdr { u8 class; u8 cmd; } and its data,
 * device-readable, then one device-writable ack byte (VIRTIO_NET_OK / VIRTIO_NET_ERR).
 *
 * QEMU's virtio-net runs the control queue itself and never hands it to a vhost-user back-end;
 * this one serves front-ends that do (our vh_net driver, any front-end without its own).
 *
 * Threads: the control queue's context writes d->filter (under d->filter_lock) and bumps
 * d->filter_gen; each receive context copies the filter when the generation moved.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "vhnet.h"

#define BIT(f) (1ull << (f))
/* Largest command accepted: a MAC table of 2 x 1024 entries. */
#define VHNET_CTRL_MAX (2u + 2u * (4u + 6u * 1024u))
#define VHNET_CTRL_IOV 64u

/* A new filter for @features (reset, SET_FEATURES). Caller holds filter_lock. */
static void filter_init(struct vhnet *d, uint64_t features)
{
	struct vhnet_filter *f = &d->filter;

	memset(f, 0, sizeof(*f));
	/* Everything passes until the driver says otherwise (what QEMU's virtio-net does too). */
	f->promisc = true;
	memcpy(f->mac, d->config.mac, sizeof(f->mac));
	f->vlan_on = features & BIT(VIRTIO_NET_F_CTRL_VLAN);
	/*
	 * virtio 1.2 §5.1.6.5.5: multiqueue is off until VQ_PAIRS_SET - when the control queue is
	 * ours. A front-end that keeps the control queue (QEMU) enables pairs with
	 * SET_VRING_ENABLE instead, so all of them are in use.
	 */
	d->active_pairs = (features & BIT(VIRTIO_NET_F_CTRL_VQ)) ? 1 : d->opt.queue_pairs;
}

static void filter_publish(struct vhnet *d)
{
	__atomic_add_fetch(&d->filter_gen, 1, __ATOMIC_RELEASE);
}

void vhnet_filter_reset(struct vhnet *d, uint64_t features)
{
	pthread_mutex_lock(&d->filter_lock);
	/* A new driver starts from --mac again (CTRL_MAC_ADDR_SET lasts until the next reset). */
	memcpy(d->config.mac, d->opt.mac, sizeof(d->config.mac));
	filter_init(d, features);
	d->config.status &= htole16((uint16_t)~VIRTIO_NET_S_ANNOUNCE);
	filter_publish(d);
	pthread_mutex_unlock(&d->filter_lock);
	vhnet_tap_set_queues(d, d->active_pairs);
}

static bool mac_in(const uint8_t (*t)[6], unsigned n, const uint8_t *mac)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (!memcmp(t[i], mac, 6))
			return true;
	return false;
}

/* virtio 1.2 §5.1.6.5.1-3: does the filter let a frame to this destination through? */
static bool filter_match(const struct vhnet_filter *f, const uint8_t *frame, size_t len)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	/* An 802.1Q tag (TPID 0x8100): its VID must be in the VLAN table. */
	if (f->vlan_on && len >= 16 && frame[12] == 0x81 && frame[13] == 0x00) {
		unsigned vid = ((unsigned)frame[14] << 8 | frame[15]) & 0xfffu;

		if (!(f->vlans[vid / 32] & (1u << (vid % 32))))
			return false;
	}
	if (frame[0] & 1) {
		if (!memcmp(frame, bcast, 6))
			return !f->nobcast;
		if (f->nomulti)
			return false;
		if (f->allmulti || f->multi_overflow)
			return true;
		return mac_in(f->table + f->n_uni, f->n_multi, frame);
	}
	if (f->nouni)
		return false;
	if (f->alluni || f->uni_overflow || !memcmp(frame, f->mac, 6))
		return true;
	return mac_in(f->table, f->n_uni, frame);
}

bool vhnet_rx_accept(struct vhnet_pair *p, const uint8_t *frame, size_t len)
{
	struct vhnet *d = p->dev;
	unsigned gen = __atomic_load_n(&d->filter_gen, __ATOMIC_ACQUIRE);

	if (gen != p->filter_gen) {
		pthread_mutex_lock(&d->filter_lock);
		p->filter = d->filter;
		p->filter_gen = d->filter_gen;
		pthread_mutex_unlock(&d->filter_lock);
		/* Promiscuous mode takes everything, VLAN tags included (as QEMU does). */
		p->filter_all = p->filter.promisc;
	}
	if (p->filter_all || len < VHNET_ETH_MIN)
		return p->filter_all;
	return filter_match(&p->filter, frame, len);
}

/* ---- commands ------------------------------------------------------------------------------ */

struct ctrl_cmd {
	uint8_t cls, cmd;
	const uint8_t *data;
	size_t len;
};

static int cmd_rx(struct vhnet *d, const struct ctrl_cmd *c)
{
	struct vhnet_filter *f = &d->filter;
	bool *flag[] = {
		&f->promisc, &f->allmulti, &f->alluni, &f->nomulti, &f->nouni, &f->nobcast
	};

	/* §5.1.6.5.1: PROMISC and ALLMULTI with CTRL_RX, the others with CTRL_RX_EXTRA. */
	if (!(d->acked & BIT(VIRTIO_NET_F_CTRL_RX)) || c->cmd > VIRTIO_NET_CTRL_RX_NOBCAST ||
	    (c->cmd > VIRTIO_NET_CTRL_RX_ALLMULTI && !(d->acked & BIT(VIRTIO_NET_F_CTRL_RX_EXTRA))))
		return -ENOTSUP;
	if (c->len != 1)
		return -EINVAL;
	*flag[c->cmd] = c->data[0] != 0;
	return 0;
}

/* §5.1.6.5.2: le32 entries, entries x 6 bytes unicast; the same for multicast. */
static int cmd_mac_table(struct vhnet *d, const struct ctrl_cmd *c)
{
	struct vhnet_filter *f = &d->filter;
	uint32_t nu, nm;
	size_t off;

	if (c->len < 8)
		return -EINVAL;
	memcpy(&nu, c->data, 4);
	nu = le32toh(nu);
	if (nu > (c->len - 8) / 6)
		return -EINVAL;
	off = 4 + (size_t)nu * 6;
	memcpy(&nm, c->data + off, 4);
	nm = le32toh(nm);
	if (c->len != off + 4 + (size_t)nm * 6)
		return -EINVAL;
	f->uni_overflow = nu > VHNET_MAC_TABLE;
	f->n_uni = f->uni_overflow ? 0 : nu;
	memcpy(f->table, c->data + 4, (size_t)f->n_uni * 6);
	f->multi_overflow = nm > VHNET_MAC_TABLE - f->n_uni;
	f->n_multi = f->multi_overflow ? 0 : nm;
	memcpy(f->table + f->n_uni, c->data + off + 4, (size_t)f->n_multi * 6);
	return 0;
}

static int cmd_mac(struct vhnet *d, const struct ctrl_cmd *c)
{
	if (c->cmd == VIRTIO_NET_CTRL_MAC_TABLE_SET && (d->acked & BIT(VIRTIO_NET_F_CTRL_RX)))
		return cmd_mac_table(d, c);
	if (c->cmd != VIRTIO_NET_CTRL_MAC_ADDR_SET || !(d->acked & BIT(VIRTIO_NET_F_CTRL_MAC_ADDR)))
		return -ENOTSUP;
	/* §5.1.6.5.2: the new address also shows in the config space. */
	if (c->len != 6)
		return -EINVAL;
	memcpy(d->filter.mac, c->data, 6);
	memcpy(d->config.mac, c->data, 6);
	return 0;
}

static int cmd_vlan(struct vhnet *d, const struct ctrl_cmd *c)
{
	uint16_t vid;

	if (!(d->acked & BIT(VIRTIO_NET_F_CTRL_VLAN)) || c->cmd > VIRTIO_NET_CTRL_VLAN_DEL)
		return -ENOTSUP;
	if (c->len != 2)
		return -EINVAL;
	memcpy(&vid, c->data, 2);
	vid = le16toh(vid);
	if (vid >= 4096)
		return -EINVAL;
	if (c->cmd == VIRTIO_NET_CTRL_VLAN_ADD)
		d->filter.vlans[vid / 32] |= 1u << (vid % 32);
	else
		d->filter.vlans[vid / 32] &= ~(1u << (vid % 32));
	return 0;
}

static int cmd_announce(struct vhnet *d, const struct ctrl_cmd *c)
{
	if (!(d->acked & BIT(VIRTIO_NET_F_GUEST_ANNOUNCE)) ||
	    c->cmd != VIRTIO_NET_CTRL_ANNOUNCE_ACK)
		return -ENOTSUP;
	/* §5.1.6.5.4: the ack clears VIRTIO_NET_S_ANNOUNCE. */
	d->config.status &= htole16((uint16_t)~VIRTIO_NET_S_ANNOUNCE);
	return 0;
}

static int cmd_mq(struct vhnet *d, const struct ctrl_cmd *c)
{
	uint16_t n;

	if (!(d->acked & BIT(VIRTIO_NET_F_MQ)) || c->cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET)
		return -ENOTSUP;
	if (c->len != 2)
		return -EINVAL;
	memcpy(&n, c->data, 2);
	n = le16toh(n);
	/* §5.1.6.5.5: 1 .. max_virtqueue_pairs. */
	if (n < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || n > d->opt.queue_pairs)
		return -EINVAL;
	d->active_pairs = n;
	return 0;
}

/* Run one command under filter_lock. Return: 0 (VIRTIO_NET_OK) or -errno (VIRTIO_NET_ERR). */
static int ctrl_run(struct vhnet *d, const struct ctrl_cmd *c)
{
	switch (c->cls) {
	case VIRTIO_NET_CTRL_RX:
		return cmd_rx(d, c);
	case VIRTIO_NET_CTRL_MAC:
		return cmd_mac(d, c);
	case VIRTIO_NET_CTRL_VLAN:
		return cmd_vlan(d, c);
	case VIRTIO_NET_CTRL_ANNOUNCE:
		return cmd_announce(d, c);
	case VIRTIO_NET_CTRL_MQ:
		return cmd_mq(d, c);
	default:
		return -ENOTSUP;
	}
}

/* One chain: the command's bytes out of guest memory, run it, the ack byte back. */
static uint32_t ctrl_chain(struct vhnet *d, const struct vh_vq_elem *el, uint8_t *buf)
{
	struct ctrl_cmd c = { 0 };
	uint8_t ack = VIRTIO_NET_ERR;
	unsigned pairs;
	int err = -EINVAL;

	/* §5.1.6.5: class and command readable, the ack byte writable, in that order. */
	if (el->out_len < 2 || el->out_len > VHNET_CTRL_MAX || !el->in_len) {
		if (!d->st.ctrl_err)
			vhnet_log(d, VH_LOG_WARN,
				  "ctrl: chain %u: %llu readable, %llu writable bytes: %s", el->id,
				  (unsigned long long)el->out_len, (unsigned long long)el->in_len,
				  strerror(EINVAL));
	} else {
		vhnet_iov_copy_out(el->iov, el->out_num, 0, buf, (size_t)el->out_len);
		c = (struct ctrl_cmd){ buf[0], buf[1], buf + 2, (size_t)el->out_len - 2 };
		pthread_mutex_lock(&d->filter_lock);
		pairs = d->active_pairs;
		err = ctrl_run(d, &c);
		if (!err)
			filter_publish(d);
		pthread_mutex_unlock(&d->filter_lock);
		if (!err && pairs != d->active_pairs)
			err = vhnet_tap_set_queues(d, d->active_pairs);
		if (err && !d->st.ctrl_err)
			vhnet_log(d, VH_LOG_WARN, "ctrl: class %u command %u (%zu data bytes): %s",
				  c.cls, c.cmd, c.len, strerror(-err));
	}
	if (err) {
		d->st.ctrl_err++;
	} else {
		d->st.ctrl_ok++;
		ack = VIRTIO_NET_OK;
	}
	vhnet_log(d, VH_LOG_DEBUG, "ctrl: class %u command %u: %s", c.cls, c.cmd,
		  err ? "error" : "ok");
	if (!el->in_len)
		return 0;
	vhnet_iov_copy_in(el->iov + el->out_num, el->in_num, 0, &ack, 1);
	return 1;
}

int vhnet_ctrl_kick(struct vhnet *d, struct vh_queue *q)
{
	uint8_t buf[VHNET_CTRL_MAX];
	struct iovec iov[VHNET_CTRL_IOV];
	struct vh_vq_elem el;
	int r;

	for (;;) {
		el = (struct vh_vq_elem){ .iov = iov, .max_iov = VHNET_CTRL_IOV };
		r = vh_queue_pop(q, &el);
		if (r == 0 || r == -ESHUTDOWN)
			return 0;
		if (r == -ENOBUFS) {
			vhnet_log(d, VH_LOG_ERR, "ctrl: chain of more than %u buffers: %s",
				  VHNET_CTRL_IOV, strerror(EPROTO));
			return -EPROTO;
		}
		if (r < 0)
			return r;
		r = vh_queue_push(q, &el, ctrl_chain(d, &el, buf));
		if (r < 0)
			return r == -ESHUTDOWN ? 0 : r;
	}
}
