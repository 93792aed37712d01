/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vh-net checksum and segmentation offloads (virtio 1.2 §5.1.3, §5.1.6.2, §5.1.6.4): which
 * feature bits are offered, what the tap is told (TUNSETOFFLOAD) once they are negotiated, and
 * the struct virtio_net_hdr rules per direction.
 *
 * Transmit: the driver's header goes to the tap unchanged (IFF_VNET_HDR); vh-net only refuses
 * what was not negotiated, so the kernel never sees an offload the driver had no right to ask
 * for. Receive: the tap's header is passed on, limited to what the driver accepted. Loopback:
 * the transmitted header comes back as it was sent when the driver accepts that offload on
 * receive; a partial checksum it does not accept is completed in software; a GSO frame it does
 * not accept is dropped (loopback does not segment).
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include <linux/if_tun.h>

#include "vhnet.h"

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

#define BIT(f) (1ull << (f))

/* The device takes these on transmit (the tap parses the header). */
#define HOST_BITS                                                                             \
	(BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6) | \
	 BIT(VIRTIO_NET_F_HOST_ECN) | BIT(VIRTIO_NET_F_HOST_UFO))
#define GUEST_BITS                                                     \
	(BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_TSO4) | \
	 BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_GUEST_ECN) |  \
	 BIT(VIRTIO_NET_F_GUEST_UFO) | BIT(VIRTIO_NET_F_GUEST_USO4) |  \
	 BIT(VIRTIO_NET_F_GUEST_USO6))

/* Receive offload bit -> what the tap may then hand us (TUNSETOFFLOAD). */
static const struct {
	unsigned bit;
	uint32_t tun;
} guest_map[] = {
	{ VIRTIO_NET_F_GUEST_CSUM, TUN_F_CSUM }, { VIRTIO_NET_F_GUEST_TSO4, TUN_F_TSO4 },
	{ VIRTIO_NET_F_GUEST_TSO6, TUN_F_TSO6 }, { VIRTIO_NET_F_GUEST_ECN, TUN_F_TSO_ECN },
	{ VIRTIO_NET_F_GUEST_UFO, TUN_F_UFO },	 { VIRTIO_NET_F_GUEST_USO4, TUN_F_USO4 },
	{ VIRTIO_NET_F_GUEST_USO6, TUN_F_USO6 },
};

uint64_t vhnet_offload_features(const struct vhnet *d)
{
	uint64_t f = HOST_BITS;
	unsigned i;

	if (d->opt.no_offloads)
		return 0;
	if (!d->opt.tap)
		return HOST_BITS | BIT(VIRTIO_NET_F_HOST_USO) | GUEST_BITS;
	/* The tap accepts USO frames from kernels that also offer TUN_F_USO* (Linux 6.2). */
	if (d->tap_offloads & TUN_F_USO4)
		f |= BIT(VIRTIO_NET_F_HOST_USO);
	for (i = 0; i < sizeof(guest_map) / sizeof(guest_map[0]); i++)
		if (d->tap_offloads & guest_map[i].tun)
			f |= BIT(guest_map[i].bit);
	return f;
}

/* virtio 1.2 §5.1.3.1: an offload that needs another one the driver did not accept. */
int vhnet_offload_check(const struct vhnet *d, uint64_t f)
{
	static const struct {
		unsigned bit;
		uint64_t needs; /* any of */
	} deps[] = {
		{ VIRTIO_NET_F_GUEST_TSO4, BIT(VIRTIO_NET_F_GUEST_CSUM) },
		{ VIRTIO_NET_F_GUEST_TSO6, BIT(VIRTIO_NET_F_GUEST_CSUM) },
		{ VIRTIO_NET_F_GUEST_UFO, BIT(VIRTIO_NET_F_GUEST_CSUM) },
		{ VIRTIO_NET_F_GUEST_USO4, BIT(VIRTIO_NET_F_GUEST_CSUM) },
		{ VIRTIO_NET_F_GUEST_USO6, BIT(VIRTIO_NET_F_GUEST_CSUM) },
		{ VIRTIO_NET_F_GUEST_ECN,
		  BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6) },
		{ VIRTIO_NET_F_HOST_TSO4, BIT(VIRTIO_NET_F_CSUM) },
		{ VIRTIO_NET_F_HOST_TSO6, BIT(VIRTIO_NET_F_CSUM) },
		{ VIRTIO_NET_F_HOST_UFO, BIT(VIRTIO_NET_F_CSUM) },
		{ VIRTIO_NET_F_HOST_USO, BIT(VIRTIO_NET_F_CSUM) },
		{ VIRTIO_NET_F_HOST_ECN,
		  BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6) },
	};
	unsigned i;

	for (i = 0; i < sizeof(deps) / sizeof(deps[0]); i++) {
		if ((f & BIT(deps[i].bit)) && !(f & deps[i].needs)) {
			vhnet_log(d, VH_LOG_ERR,
				  "SET_FEATURES: 0x%llx: feature bit %u without the one it needs "
				  "(virtio 1.2 5.1.3.1): %s",
				  (unsigned long long)f, deps[i].bit, strerror(EINVAL));
			return -EINVAL;
		}
	}
	return 0;
}

uint32_t vhnet_tap_offload_flags(uint64_t f)
{
	uint32_t t = 0;
	unsigned i;

	for (i = 0; i < sizeof(guest_map) / sizeof(guest_map[0]); i++)
		if (f & BIT(guest_map[i].bit))
			t |= guest_map[i].tun;
	/* The tap refuses ECN without TSO and one USO family without the other (it then sends
	 * fewer offloads than accepted, which virtio allows). */
	if (!(t & (TUN_F_TSO4 | TUN_F_TSO6)))
		t &= ~(uint32_t)TUN_F_TSO_ECN;
	if ((t & (TUN_F_USO4 | TUN_F_USO6)) != (TUN_F_USO4 | TUN_F_USO6))
		t &= ~(uint32_t)(TUN_F_USO4 | TUN_F_USO6);
	if (!(t & TUN_F_CSUM))
		t = 0;
	return t;
}

/* The feature a GSO type needs: @host for transmit (HOST_*), else receive (GUEST_*). */
static uint64_t gso_feature(uint8_t type, bool host)
{
	switch (type) {
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return BIT(host ? VIRTIO_NET_F_HOST_TSO4 : VIRTIO_NET_F_GUEST_TSO4);
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return BIT(host ? VIRTIO_NET_F_HOST_TSO6 : VIRTIO_NET_F_GUEST_TSO6);
	case VIRTIO_NET_HDR_GSO_UDP:
		return BIT(host ? VIRTIO_NET_F_HOST_UFO : VIRTIO_NET_F_GUEST_UFO);
	case VIRTIO_NET_HDR_GSO_UDP_L4:
		return host ? BIT(VIRTIO_NET_F_HOST_USO)
			    : BIT(VIRTIO_NET_F_GUEST_USO4) | BIT(VIRTIO_NET_F_GUEST_USO6);
	default:
		return 0;
	}
}

/*
 * virtio 1.2 §5.1.6.2.1: what the driver may put in a transmit header. @len: frame bytes after
 * the header. Return: NULL when the frame may go out, else why not.
 */
const char *vhnet_tx_hdr_check(const struct vhnet *d, const struct virtio_net_hdr *h, uint64_t len)
{
	uint8_t type = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	uint64_t need;

	if (h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return "header flags other than NEEDS_CSUM";
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!(d->acked & BIT(VIRTIO_NET_F_CSUM)))
			return "NEEDS_CSUM without VIRTIO_NET_F_CSUM";
		if ((uint64_t)le16toh(h->csum_start) + le16toh(h->csum_offset) + 2 > len)
			return "checksum field beyond the frame";
	}
	if (type == VIRTIO_NET_HDR_GSO_NONE) {
		if (h->gso_type & VIRTIO_NET_HDR_GSO_ECN)
			return "ECN bit without a GSO type";
		return len + VHNET_HDR_LEN > d->frame_max ? "frame longer than the MTU" : NULL;
	}
	need = gso_feature(type, true);
	if (!need)
		return "unknown gso_type";
	if (!(d->acked & need))
		return "GSO type not negotiated";
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !(d->acked & BIT(VIRTIO_NET_F_HOST_ECN)))
		return "ECN without VIRTIO_NET_F_HOST_ECN";
	if (!h->gso_size)
		return "GSO frame with gso_size 0";
	return NULL;
}

/* virtio 1.2 §5.1.6.4.1: the tap's header, limited to what the driver accepted. */
void vhnet_rx_hdr(const struct vhnet *d, const struct virtio_net_hdr *in,
		  struct virtio_net_hdr *out)
{
	/* Without GUEST_CSUM flags and gso_type are 0; the tap then has no offloads and hands us
	 * complete frames (TUNSETOFFLOAD 0). */
	if (!(d->acked & BIT(VIRTIO_NET_F_GUEST_CSUM))) {
		*out = (struct virtio_net_hdr){ .gso_type = VIRTIO_NET_HDR_GSO_NONE };
		return;
	}
	*out = *in;
	out->flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID;
}

/* RFC 1071 over @len bytes, folded, not inverted. */
static uint16_t csum_fold(const uint8_t *p, uint64_t len)
{
	uint64_t sum = 0, i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/*
 * Loopback: turn the transmitted header @h of @frame (@len bytes, writable copy) into the one
 * the driver receives. Return: 0, or -ENOTSUP when the frame cannot be delivered (a GSO type the
 * driver does not accept on receive).
 */
int vhnet_loop_hdr(const struct vhnet *d, struct virtio_net_hdr *h, uint8_t *frame, uint64_t len)
{
	uint8_t type = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	uint16_t start, off, sum;

	if (type != VIRTIO_NET_HDR_GSO_NONE) {
		if (!(d->acked & gso_feature(type, false)) ||
		    ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) &&
		     !(d->acked & BIT(VIRTIO_NET_F_GUEST_ECN))))
			return -ENOTSUP;
	}
	if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || (d->acked & BIT(VIRTIO_NET_F_GUEST_CSUM)))
		return 0;
	/*
	 * virtio 1.2 §5.1.6.2: the checksum over csum_start..end (the field holds the driver's
	 * pseudo-header sum) goes to csum_start + csum_offset. tx checked both are in the frame.
	 */
	start = le16toh(h->csum_start);
	off = le16toh(h->csum_offset);
	sum = (uint16_t)~csum_fold(frame + start, len - start);
	frame[start + off] = (uint8_t)(sum >> 8);
	frame[start + off + 1] = (uint8_t)sum;
	*h = (struct virtio_net_hdr){ .gso_type = VIRTIO_NET_HDR_GSO_NONE };
	return 0;
}
