/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vh-net tap backing: a tap with IFF_VNET_HDR and a 12-byte header (TUNSETVNETHDRSZ), so the
 * guest's struct virtio_net_hdr_mrg_rxbuf goes to the kernel unchanged on transmit and the
 * kernel's header lands in front of each received frame. Non-blocking: the dispatch loop
 * watches it (vh_server_watch()).
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include "vhnet.h"

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

/* The tap's MTU: frames the kernel hands us can be that long (plus Ethernet and VLAN). */
static int tap_mtu(struct vhnet *d, const char *name, unsigned *mtu)
{
	struct ifreq ifr;
	int s, err = 0;

	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1));
	if (ioctl(s, SIOCGIFMTU, &ifr) < 0)
		err = -errno;
	else
		*mtu = (unsigned)ifr.ifr_mtu;
	close(s);
	if (err)
		vhnet_log(d, VH_LOG_ERR, "tap %s: SIOCGIFMTU: %s", name, strerror(-err));
	return err;
}

static int tap_setup(struct vhnet *d, int fd, struct ifreq *ifr)
{
	int hdr = (int)VHNET_HDR_LEN, le = 1;

	ifr->ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	/* One tap queue per queue pair: the kernel spreads its flows over them. */
	if (d->opt.queue_pairs > 1)
		ifr->ifr_flags |= IFF_MULTI_QUEUE;
	memcpy(ifr->ifr_name, d->opt.tap, strnlen(d->opt.tap, IFNAMSIZ - 1));
	if (ioctl(fd, TUNSETIFF, ifr) < 0) {
		vhnet_log(d, VH_LOG_ERR, "tap %s: TUNSETIFF: %s", d->opt.tap, strerror(errno));
		return -errno;
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		vhnet_log(d, VH_LOG_ERR, "tap %s: TUNSETVNETHDRSZ %d: %s", ifr->ifr_name, hdr,
			  strerror(errno));
		return -errno;
	}
	/* virtio 1.2 §5.1.6: with VERSION_1 the header is little endian; the tap's default is
	 * the host's order, so this only matters on big-endian hosts (EINVAL: kernel without
	 * CONFIG_TUN_VNET_CROSS_LE, where the host order is the only one - fine here). */
	if (ioctl(fd, TUNSETVNETLE, &le) < 0 && errno != EINVAL)
		vhnet_log(d, VH_LOG_WARN, "tap %s: TUNSETVNETLE: %s", ifr->ifr_name,
			  strerror(errno));
	return 0;
}

/* Open tap queue @i of the tap into d->pairs[i]. */
static int tap_open_queue(struct vhnet *d, unsigned i, struct ifreq *ifr)
{
	int fd, err;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		vhnet_log(d, VH_LOG_ERR, "tap %s: open /dev/net/tun: %s", d->opt.tap,
			  strerror(-err));
		return err;
	}
	memset(ifr, 0, sizeof(*ifr));
	err = tap_setup(d, fd, ifr);
	if (err) {
		close(fd);
		return err;
	}
	d->pairs[i].tap_fd = fd;
	return 0;
}

/*
 * Which receive offloads the tap can hand us: the kernel refuses TUNSETOFFLOAD flags it does
 * not know (EINVAL), so try the largest set first. Left at 0 until SET_FEATURES.
 */
static void tap_probe_offloads(struct vhnet *d, int fd)
{
	static const uint32_t sets[] = {
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_UFO | TUN_F_USO4 |
		    TUN_F_USO6,
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_UFO,
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN,
		TUN_F_CSUM,
	};
	unsigned i;

	d->tap_offloads = 0;
	for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)sets[i]) == 0) {
			d->tap_offloads = sets[i];
			break;
		}
	}
	if (ioctl(fd, TUNSETOFFLOAD, 0ul) < 0)
		vhnet_log(d, VH_LOG_WARN, "tap: TUNSETOFFLOAD 0: %s", strerror(errno));
}

int vhnet_tap_set_offload(struct vhnet *d, uint32_t flags)
{
	/* The offloads belong to the interface: queue 0 (never detached) sets them for all. */
	if (!d->pairs || d->pairs[0].tap_fd < 0)
		return 0;
	if (ioctl(d->pairs[0].tap_fd, TUNSETOFFLOAD, (unsigned long)flags) < 0) {
		int err = -errno;

		vhnet_log(d, VH_LOG_ERR, "tap: TUNSETOFFLOAD 0x%x: %s", flags, strerror(-err));
		return err;
	}
	vhnet_log(d, VH_LOG_DEBUG, "tap: offloads 0x%x", flags);
	return 0;
}

/*
 * Only the first @active tap queues stay attached (VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET): the kernel
 * then spreads flows over the pairs the driver reads, nothing waits in a queue nobody serves.
 */
int vhnet_tap_set_queues(struct vhnet *d, unsigned active)
{
	struct ifreq ifr;
	unsigned i;
	int err = 0;

	for (i = 0; d->opt.queue_pairs > 1 && i < d->opt.queue_pairs; i++) {
		struct vhnet_pair *p = &d->pairs[i];
		bool detach = i >= active;

		if (p->tap_fd < 0 || p->tap_detached == detach)
			continue;
		memset(&ifr, 0, sizeof(ifr));
		ifr.ifr_flags = detach ? IFF_DETACH_QUEUE : IFF_ATTACH_QUEUE;
		if (ioctl(p->tap_fd, TUNSETQUEUE, &ifr) < 0) {
			err = -errno;
			vhnet_log(d, VH_LOG_ERR, "tap: queue %u: TUNSETQUEUE %s: %s", i,
				  detach ? "detach" : "attach", strerror(-err));
			continue;
		}
		p->tap_detached = detach;
		vhnet_rx_tap_changed(p);
	}
	return err;
}

int vhnet_tap_open(struct vhnet *d)
{
	struct ifreq ifr;
	unsigned mtu = 0, i;
	int err = 0;

	for (i = 0; i < d->opt.queue_pairs && !err; i++)
		err = tap_open_queue(d, i, &ifr);
	if (!err)
		err = tap_mtu(d, ifr.ifr_name, &mtu);
	if (!err && !d->opt.no_offloads)
		tap_probe_offloads(d, d->pairs[0].tap_fd);
	if (err) {
		vhnet_tap_close(d);
		return err;
	}
	if (mtu > d->opt.mtu)
		d->frame_max = VHNET_HDR_LEN + VHNET_ETH_OVERHEAD + mtu;
	d->rx_max = d->tx_max = d->frame_max;
	d->features |= vhnet_offload_features(d);
	vhnet_log(d, VH_LOG_INFO,
		  "tap %s: %u queue(s), mtu %u, vnet header %u bytes, receive offloads 0x%x",
		  ifr.ifr_name, d->opt.queue_pairs, mtu, VHNET_HDR_LEN, d->tap_offloads);
	return 0;
}

void vhnet_tap_close(struct vhnet *d)
{
	unsigned i;

	for (i = 0; d->pairs && i < d->opt.queue_pairs; i++) {
		if (d->pairs[i].tap_fd >= 0)
			close(d->pairs[i].tap_fd);
		d->pairs[i].tap_fd = -1;
	}
}
