/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdpa_net_guest: runs inside the interop guest (test_guest_vhost_vdpa.sh net, 6.12 kernel).
 * Usage: vdpa_net_guest /dev/vhost-vdpa-N MAC
 *
 * The device is the kernel's vDPA network simulator (vdpa_sim_net, added with
 * `vdpa dev add ... mgmtdev vdpasim_net mac MAC`): it loops every frame of its transmit queue back
 * into its receive queue when the destination is its MAC, broadcast or multicast, and drops other
 * unicast frames. libvhost's vh_net drives it through vh_dev's vhost-vdpa transport: config space
 * (MAC, status), and frames back byte for byte with their virtio-net header.
 */
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <sys/resource.h>

#include <vhost/frontend.h>
#include <vhost/kernel.h>
#include <vhost/net.h>

#include "guest_common.h"

static const size_t sizes[] = { 60, 64, 100, 512, 1000, 1514, 2000 };

static size_t make_frame(uint8_t *f, const uint8_t *dst, size_t len, unsigned seq)
{
	static const uint8_t src[6] = { 0x02, 0, 0, 0, 0, 0x01 };

	gp_fill(f, len, seq);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	return len;
}

/* Send one frame; 1 when it comes back within @ms (compared), 0 when nothing comes back. */
static int loop_one(struct vh_net *net, const uint8_t *f, size_t len,
		    const struct virtio_net_hdr *h, int ms)
{
	struct vh_net_rx_info in;
	uint8_t got[4096];
	int r;

	gp_check(vh_net_send(net, f, len, h), "vh_net_send");
	if (gp_check(vh_net_wait(net, VH_NET_WAIT_TX, 5000), "vh_net_wait tx") != 1)
		gp_die("tx: frame of %zu bytes not completed", len);
	r = gp_check(vh_net_wait(net, VH_NET_WAIT_RX, ms), "vh_net_wait rx");
	if (r == 0)
		return 0;
	if (gp_check(vh_net_recv(net, got, sizeof(got), &in), "vh_net_recv") != 1)
		gp_die("rx: ready but nothing received");
	gp_expect_bytes(got, in.len, f, len, "looped-back frame");
	if (h && memcmp(&in.hdr.hdr, h, sizeof(*h)))
		gp_die("rx: the header did not come back unchanged");
	return 1;
}

int main(int argc, char **argv)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct vh_net_config c = { .tap_fd = -1, .name = "vh_net", .log = gp_sink() };
	struct virtio_net_hdr h = { .flags = VIRTIO_NET_HDR_F_DATA_VALID };
	uint8_t mac[6], other[6], f[4096];
	struct vh_net_info ni;
	struct vh_net_stats st;
	struct vh_net *net;
	unsigned i;

	gp_prog = "vdpa_net_guest";
	if (argc != 3 || sscanf(argv[2], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2],
				&mac[3], &mac[4], &mac[5]) != 6)
		gp_die("usage: vdpa_net_guest /dev/vhost-vdpa-N MAC");
	if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0)
		gp_log("setrlimit MEMLOCK: %s (continuing)", strerror(errno));
	gp_probe(argv[1]);
	c.path = argv[1];
	c.rx_buf_size = 4096;
	c.tx_buf_size = 4096;
	/* The header round trip sends DATA_VALID, which a driver must not (virtio 1.2 §5.1.6.2.1):
	 * the simulated device echoes whatever it gets. */
	c.flags = VH_NET_TX_UNCHECKED;
	gp_check(vh_net_create(&c, &net), "vh_net_create");
	vh_net_get_info(net, &ni);
	gp_log("vh_net: offered 0x%016llx negotiated 0x%016llx mac %02x:%02x:%02x:%02x:%02x:%02x "
	       "status 0x%x mtu %u mrg_rxbuf %d",
	       (unsigned long long)ni.device_features, (unsigned long long)ni.features, ni.mac[0],
	       ni.mac[1], ni.mac[2], ni.mac[3], ni.mac[4], ni.mac[5], ni.status, ni.mtu,
	       ni.mrg_rxbuf);
	if (memcmp(ni.mac, mac, 6))
		gp_die("config space MAC differs from the one given to `vdpa dev add`");
	if (!(ni.features & (1ull << VIRTIO_NET_F_STATUS)) || !(ni.status & VIRTIO_NET_S_LINK_UP))
		gp_die("link is not up (status 0x%x)", ni.status);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (loop_one(net, f, make_frame(f, mac, sizes[i], i), i % 2 ? &h : NULL, 5000) != 1)
			gp_die("frame %u (%zu bytes) to our MAC did not come back", i, sizes[i]);
	if (loop_one(net, f, make_frame(f, bcast, 300, 50), NULL, 5000) != 1)
		gp_die("broadcast frame did not come back");
	/* Another unicast MAC: the simulator's receive filter drops it. */
	memcpy(other, mac, 6);
	other[5] ^= 0x55;
	if (loop_one(net, f, make_frame(f, other, 300, 60), NULL, 300) != 0)
		gp_die("a frame to a foreign MAC came back: no receive filter?");
	gp_log("loopback: %zu frames to our MAC and a broadcast came back byte for byte, a frame "
	       "to another MAC did not",
	       sizeof(sizes) / sizeof(sizes[0]));
	vh_net_get_stats(net, &st);
	gp_log("stats: tx %llu rx %llu kicks %llu", (unsigned long long)st.tx_frames,
	       (unsigned long long)st.rx_frames, (unsigned long long)st.kicks);
	vh_net_destroy(&net);
	gp_log("PASS");
	return 0;
}
