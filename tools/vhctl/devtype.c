// SPDX-License-Identifier: BSD-3-Clause
/*
 * vhctl: tell the virtio device type of a vhost-user backend. vhost-user has no request that
 * returns the device id (vhost-vdpa has VHOST_VDPA_GET_DEVICE_ID, vhost-kernel knows it from the
 * device node), so the type is inferred from what the backend offers:
 *  - the net-only protocol features (VHOST_USER_PROTOCOL_F_RARP, _NET_MTU);
 *  - the device-specific feature bits (0-23): a type fits when every offered bit has a name for
 *    it and, for net, the offload bits come with the bits they require (virtio 1.2 §5.1.3.1:
 *    the device MUST NOT offer a feature which requires another feature it does not offer).
 *    Not checked, because real backends break them: the control-queue dependencies (vhost-user-net
 *    backends offer MQ without CTRL_VQ: the front-end provides the control queue) and HOST_ECN's
 *    (DPDK 22.11's vhost library offers HOST_ECN without HOST_TSO4/6);
 *  - when several types fit, the one with the most hallmark bits wins, if it wins alone.
 * Anything else is "cannot tell" (0): the caller says so and offers --type.
 */
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>

#include <vhost/proto.h>

#include "vhctl.h"

#define BIT(n)	    (1ull << (n))
#define DEV_BITS    0xffffffull /* virtio 1.2 §6: bits 0-23 are device-type specific */
#define TYPE_CHECKS 7

/* Offload bits of virtio-net and the bits one of which each requires (§5.1.3.1). */
static const struct {
	unsigned bit;
	uint64_t needs;
} net_deps[] = {
	{ VIRTIO_NET_F_GUEST_TSO4, BIT(VIRTIO_NET_F_GUEST_CSUM) },
	{ VIRTIO_NET_F_GUEST_TSO6, BIT(VIRTIO_NET_F_GUEST_CSUM) },
	{ VIRTIO_NET_F_GUEST_ECN, BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6) },
	{ VIRTIO_NET_F_GUEST_UFO, BIT(VIRTIO_NET_F_GUEST_CSUM) },
	{ VIRTIO_NET_F_HOST_TSO4, BIT(VIRTIO_NET_F_CSUM) },
	{ VIRTIO_NET_F_HOST_TSO6, BIT(VIRTIO_NET_F_CSUM) },
	{ VIRTIO_NET_F_HOST_UFO, BIT(VIRTIO_NET_F_CSUM) },
	{ VIRTIO_NET_F_CTRL_RX_EXTRA, BIT(VIRTIO_NET_F_CTRL_RX) },
};

/* Bits a device of the type nearly always offers, and another type rarely does. */
static const uint64_t net_hallmarks = BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) |
				      BIT(VIRTIO_NET_F_MTU) | BIT(VIRTIO_NET_F_MAC) |
				      BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_NET_F_STATUS) |
				      BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_MQ);
static const uint64_t blk_hallmarks =
    BIT(VIRTIO_BLK_F_SIZE_MAX) | BIT(VIRTIO_BLK_F_SEG_MAX) | BIT(VIRTIO_BLK_F_BLK_SIZE) |
    BIT(VIRTIO_BLK_F_FLUSH) | BIT(VIRTIO_BLK_F_TOPOLOGY) | BIT(VIRTIO_BLK_F_CONFIG_WCE) |
    BIT(VIRTIO_BLK_F_MQ) | BIT(VIRTIO_BLK_F_DISCARD) | BIT(VIRTIO_BLK_F_WRITE_ZEROES);

static bool fits(uint32_t id, uint64_t dev)
{
	for (unsigned bit = 0; bit < 24; bit++)
		if ((dev & BIT(bit)) && !vh_proto_device_feature_name(id, bit))
			return false;
	if (id != VIRTIO_ID_NET)
		return true;
	for (unsigned i = 0; i < sizeof(net_deps) / sizeof(net_deps[0]); i++)
		if ((dev & BIT(net_deps[i].bit)) && !(dev & net_deps[i].needs))
			return false;
	return true;
}

static unsigned hallmarks(uint32_t id, uint64_t dev)
{
	uint64_t h = id == VIRTIO_ID_NET     ? net_hallmarks
		     : id == VIRTIO_ID_BLOCK ? blk_hallmarks
					     : 0;

	return (unsigned)__builtin_popcountll(dev & h);
}

uint32_t vhctl_guess_device(uint64_t features, uint64_t protocol_features, const char **why)
{
	static const uint32_t types[TYPE_CHECKS] = { VIRTIO_ID_NET,  VIRTIO_ID_BLOCK,
						     VIRTIO_ID_SCSI, VIRTIO_ID_VSOCK,
						     VIRTIO_ID_FS,   VIRTIO_ID_CONSOLE,
						     VIRTIO_ID_GPU };
	uint64_t dev = features & DEV_BITS;
	uint32_t best = 0;
	unsigned nfit = 0, best_score = 0, i;
	bool tie = false;

	if (protocol_features & (BIT(VH_USER_PROTOCOL_F_RARP) | BIT(VH_USER_PROTOCOL_F_NET_MTU))) {
		*why = "the vhost-user-net protocol features RARP / NET_MTU";
		return VIRTIO_ID_NET;
	}
	if (!dev) {
		*why = "no device-specific feature bits are offered";
		return 0;
	}
	for (i = 0; i < TYPE_CHECKS; i++) {
		unsigned score;

		if (!fits(types[i], dev))
			continue;
		nfit++;
		score = hallmarks(types[i], dev);
		if (nfit == 1 || score > best_score) {
			best = types[i];
			best_score = score;
			tie = false;
		} else if (score == best_score) {
			tie = true;
		}
	}
	if (nfit == 1) {
		*why = "the device-specific feature bits fit only this type";
		return best;
	}
	if (!nfit) {
		*why = "the device-specific feature bits fit no known type";
		return 0;
	}
	if (tie || !best_score) {
		*why = "the device-specific feature bits fit several types";
		return 0;
	}
	*why = "the device-specific feature bits fit several types; this one has the most "
	       "typical bits";
	return best;
}
