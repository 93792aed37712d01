/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost_net_guest: runs inside the interop guest (test_guest_vhost_net.sh and, with "iommu",
 * test_guest_vhost_net_iommu.sh). libvhost's vh_net drives the kernel's /dev/vhost-net with a tap
 * as its backend; a packet socket on the tap is the other end of the wire:
 *   TX: frames vh_net_send() puts on the transmit ring come out of the tap into the stack, where
 *       the packet socket sees them; compared byte for byte.
 *   RX: frames the packet socket sends go out through the tap, vhost-net puts them in the
 *       receive ring; compared byte for byte (mergeable buffers when the buffer is small).
 *   Busyloop timeout set and read back through vh_dev; dirty log: every page the kernel wrote
 *   (receive buffers, used rings) is in the log after vh_dev_log_sync(), a page it only read is not.
 * Argument "iommu": VIRTIO_F_ACCESS_PLATFORM; the kernel's IOTLB misses are answered by vh_net's
 * translation (vh_dev_dispatch on the event fd, from vh_net_wait()).
 */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/virtio_config.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>

#include <vhost/frontend.h>
#include <vhost/kernel.h>
#include <vhost/net.h>

#include "guest_common.h"

#define TAP_NAME  "vhtap0"
#define ETH_P_VH  0x88b5 /* IEEE 802 local experimental ethertype: nothing else sends it */
#define MAX_FRAME 1514

static const size_t frame_sizes[] = { 60, 61, 64, 100, 511, 512, 513, 1000, 1400, MAX_FRAME };

struct wire {
	int tap;
	int ps; /* AF_PACKET socket on the tap */
	int ifindex;
};

static void tap_open(struct wire *w)
{
	struct ifreq ifr;
	int s, fd;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		gp_die("open /dev/net/tun: %s", strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), TAP_NAME);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		gp_die("TUNSETIFF: %s", strerror(errno));
	/* No IPv6 autoconfiguration chatter on the wire (best effort: the filter copes anyway). */
	s = open("/proc/sys/net/ipv6/conf/" TAP_NAME "/disable_ipv6", O_WRONLY);
	if (s >= 0) {
		if (write(s, "1", 1) < 0)
			gp_log("disable_ipv6: %s", strerror(errno));
		close(s);
	}
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		gp_die("SIOCGIFFLAGS: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		gp_die("SIOCSIFFLAGS up: %s", strerror(errno));
	close(s);
	w->tap = fd;
	w->ifindex = (int)if_nametoindex(TAP_NAME);
	if (!w->ifindex)
		gp_die("if_nametoindex: %s", strerror(errno));
}

static void packet_open(struct wire *w)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_VH),
		.sll_ifindex = w->ifindex,
	};

	/* Only our ethertype: the stack's own frames on the tap never reach this socket. */
	w->ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_VH));
	if (w->ps < 0 || bind(w->ps, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		gp_die("packet socket: %s", strerror(errno));
}

static size_t make_frame(uint8_t *f, size_t len, unsigned seq)
{
	static const uint8_t dst[6] = { 0x02, 0, 0, 0, 0, 0x02 }, src[6] = { 0x02, 0, 0, 0, 0, 1 };

	gp_fill(f, len, seq);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = ETH_P_VH >> 8;
	f[13] = ETH_P_VH & 0xff;
	f[14] = (uint8_t)seq;
	return len;
}

/* Next incoming frame of our ethertype on the packet socket (not our own outgoing ones). */
static ssize_t packet_recv(struct wire *w, uint8_t *buf, size_t len, int timeout_ms)
{
	struct sockaddr_ll from;
	socklen_t fl;
	ssize_t n;

	for (;;) {
		struct pollfd p = { .fd = w->ps, .events = POLLIN };

		if (poll(&p, 1, timeout_ms) <= 0)
			return -ETIMEDOUT;
		fl = sizeof(from);
		n = recvfrom(w->ps, buf, len, 0, (struct sockaddr *)&from, &fl);
		if (n < 0)
			gp_die("recvfrom: %s", strerror(errno));
		if (from.sll_pkttype != PACKET_OUTGOING)
			return n;
	}
}

static void packet_send(struct wire *w, const uint8_t *f, size_t len)
{
	struct sockaddr_ll to = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_VH),
		.sll_ifindex = w->ifindex,
		.sll_halen = 6,
	};

	memcpy(to.sll_addr, f, 6);
	if (sendto(w->ps, f, len, 0, (struct sockaddr *)&to, sizeof(to)) != (ssize_t)len)
		gp_die("sendto: %s", strerror(errno));
}

/* Every frame sent on the transmit ring comes out of the tap unchanged. */
static void check_tx(struct vh_net *net, struct wire *w, unsigned seq0)
{
	uint8_t f[MAX_FRAME], got[2048];
	unsigned i;

	for (i = 0; i < sizeof(frame_sizes) / sizeof(frame_sizes[0]); i++) {
		size_t len = make_frame(f, frame_sizes[i], seq0 + i);
		ssize_t n;

		gp_check(vh_net_send(net, f, len, NULL), "vh_net_send");
		/* Completion first: waiting also answers IOTLB misses (iommu). */
		if (gp_check(vh_net_wait(net, VH_NET_WAIT_TX, 5000), "vh_net_wait tx") != 1)
			gp_die("tx: frame %u (%zu bytes) not completed within 5 s", i, len);
		n = packet_recv(w, got, sizeof(got), 5000);
		if (n < 0)
			gp_die("tx: frame %u (%zu bytes) never came out of the tap", i, len);
		gp_expect_bytes(got, (size_t)n, f, len, "tx frame from the tap");
	}
	if (gp_check(vh_net_wait(net, VH_NET_WAIT_TX, 5000), "vh_net_wait tx") != 1)
		gp_die("tx: %u frames never completed", vh_net_tx_inflight(net));
	gp_log("tx: %zu frames came out of the tap byte for byte",
	       sizeof(frame_sizes) / sizeof(frame_sizes[0]));
}

/* Receive one frame of our ethertype from the ring (other frames are skipped). */
static size_t ring_recv(struct vh_net *net, uint8_t *buf, size_t len, struct vh_net_rx_info *in)
{
	int r;

	for (;;) {
		r = gp_check(vh_net_recv(net, buf, len, in), "vh_net_recv");
		if (r == 1 && in->len >= 14 && buf[12] == (ETH_P_VH >> 8) &&
		    buf[13] == (ETH_P_VH & 0xff))
			return in->len;
		if (r == 1) {
			gp_log("rx: skipped a %u-byte frame of type 0x%02x%02x", in->len, buf[12],
			       buf[13]);
			continue;
		}
		if (gp_check(vh_net_wait(net, VH_NET_WAIT_RX, 5000), "vh_net_wait rx") != 1)
			gp_die("rx: no frame in the receive ring within 5 s");
	}
}

/* Every frame written to the tap arrives in the receive ring unchanged. */
static void check_rx(struct vh_net *net, struct wire *w, unsigned seq0, unsigned *merged)
{
	uint8_t f[MAX_FRAME], got[2048];
	struct vh_net_rx_info in;
	unsigned i;

	*merged = 0;
	for (i = 0; i < sizeof(frame_sizes) / sizeof(frame_sizes[0]); i++) {
		size_t len = make_frame(f, frame_sizes[i], seq0 + i);

		packet_send(w, f, len);
		gp_expect_bytes(got, ring_recv(net, got, sizeof(got), &in), f, len,
				"rx frame from the ring");
		*merged += in.nbufs > 1;
	}
	gp_log("rx: %zu frames arrived in the receive ring byte for byte (%u merged)",
	       sizeof(frame_sizes) / sizeof(frame_sizes[0]), *merged);
}

static void check_busyloop(struct vh_dev *dev)
{
	unsigned q, got;

	for (q = 0; q < 2; q++) {
		gp_check(vh_dev_set_busyloop_timeout(dev, q, 50 + q), "set busyloop timeout");
		gp_check(vh_dev_get_busyloop_timeout(dev, q, &got), "get busyloop timeout");
		if (got != 50 + q)
			gp_die("busyloop timeout of ring %u reads back %u, set %u", q, got, 50 + q);
	}
	gp_log("busyloop: set 50/51 us on rings 0/1, read back 50/51");
}

static bool bit(const uint64_t *bm, uint64_t page)
{
	return bm[page / 64] >> (page % 64) & 1;
}

static void expect_dirty(const uint64_t *bm, uint64_t gpa, uint64_t len, const char *what)
{
	uint64_t p;

	for (p = gpa / 4096; p <= (gpa + len - 1) / 4096; p++)
		if (!bit(bm, p))
			gp_die("dirty log: page %llu (%s, gpa 0x%llx) not logged",
			       (unsigned long long)p, what, (unsigned long long)gpa);
}

/* Dirty log: what the kernel wrote is logged, and not much else. */
static void check_log(struct vh_net *net, struct wire *w)
{
	struct vh_dev *dev = vh_net_dev(net);
	uint64_t desc, drv, used_rx, used_tx, pages, *bm, p, n = 0;
	uint8_t f[MAX_FRAME], got[2048];
	struct vh_net_rx_info in[4];
	struct vh_net_info ni;
	unsigned i, k;

	vh_net_get_info(net, &ni);
	pages = ni.mem_size / 4096;
	bm = calloc((pages + 63) / 64, 8);
	if (!bm)
		gp_die("calloc");
	gp_check(vh_dev_log_start(dev), "vh_dev_log_start");
	gp_check(vh_dev_log_sync(dev, bm, pages), "vh_dev_log_sync (clear)");
	memset(bm, 0, (pages + 63) / 64 * 8);
	for (i = 0; i < 4; i++) {
		packet_send(w, f, make_frame(f, 100 + 400 * i, 200 + i));
		ring_recv(net, got, sizeof(got), &in[i]);
	}
	make_frame(f, 300, 250);
	gp_check(vh_net_send(net, f, 300, NULL), "vh_net_send (log)");
	if (vh_net_wait(net, VH_NET_WAIT_TX, 5000) != 1 ||
	    packet_recv(w, got, sizeof(got), 5000) < 0)
		gp_die("dirty log: the transmitted frame did not complete");
	gp_check(vh_dev_log_sync(dev, bm, pages), "vh_dev_log_sync");
	for (i = 0; i < 4; i++)
		for (k = 0; k < in[i].nbufs && k < VH_NET_RX_INFO_BUFS; k++)
			expect_dirty(bm, in[i].buf_gpa[k], in[i].buf_len[k], "receive buffer");
	gp_check(vh_net_queue_gpa(net, VH_NET_RX, &desc, &drv, &used_rx), "queue gpa");
	gp_check(vh_net_queue_gpa(net, VH_NET_TX, &desc, &drv, &used_tx), "queue gpa");
	expect_dirty(bm, used_rx, 4, "rx used ring idx");
	expect_dirty(bm, used_tx, 4, "tx used ring idx");
	/* Most of guest memory (transmit buffers, idle receive buffers) was not written. */
	for (p = 0; p < pages; p++)
		n += bit(bm, p);
	if (n >= pages / 2)
		gp_die("dirty log: %llu of %llu pages logged: not just what the kernel wrote",
		       (unsigned long long)n, (unsigned long long)pages);
	gp_log("dirty log: %llu of %llu pages logged; rx buffers and both used rings among them",
	       (unsigned long long)n, (unsigned long long)pages);
	gp_check(vh_dev_log_stop(dev), "vh_dev_log_stop");
	free(bm);
}

static void print_info(struct vh_net *net)
{
	struct vh_dev_ioctl_info ii;
	struct vh_net_info ni;

	vh_net_get_info(net, &ni);
	gp_check(vh_dev_ioctl_info(vh_net_dev(net), &ii), "vh_dev_ioctl_info");
	gp_log("vh_net: offered 0x%016llx negotiated 0x%016llx backend offered 0x%llx acked 0x%llx "
	       "mrg_rxbuf %d event_idx %d iommu %d rx_buf %u",
	       (unsigned long long)ni.device_features, (unsigned long long)ni.features,
	       (unsigned long long)ii.backend_features,
	       (unsigned long long)ii.backend_features_acked, ni.mrg_rxbuf, ni.event_idx, ni.iommu,
	       ni.rx_buf_size);
}

static struct vh_net *net_open(struct wire *w, unsigned flags, uint32_t rx_buf)
{
	struct vh_net_config c = {
		.path = "/dev/vhost-net",
		.tap_fd = w->tap,
		.rx_buf_size = rx_buf,
		.flags = flags,
		.name = "vh_net",
		.log = gp_sink(),
	};
	struct vh_net *net;

	gp_check(vh_net_create(&c, &net), "vh_net_create");
	print_info(net);
	return net;
}

int main(int argc, char **argv)
{
	bool iommu = argc > 1 && strcmp(argv[1], "iommu") == 0;
	unsigned flags = iommu ? VH_NET_IOMMU : 0, merged;
	struct vh_net_stats st;
	struct vh_net *net;
	struct wire w;

	gp_prog = "vhost_net_guest";
	gp_probe("/dev/vhost-net");
	tap_open(&w);
	packet_open(&w);

	/* Mergeable receive buffers of 512 bytes: the large frames take several. */
	net = net_open(&w, flags, 512);
	check_tx(net, &w, 0);
	check_rx(net, &w, 100, &merged);
	if (!merged)
		gp_die("rx: no frame took more than one 512-byte buffer (MRG_RXBUF not used)");
	if (!iommu) {
		check_busyloop(vh_net_dev(net));
		check_log(net, &w);
	}
	vh_net_get_stats(net, &st);
	gp_log("stats: tx %llu rx %llu merged %llu kicks %llu iotlb_misses %llu",
	       (unsigned long long)st.tx_frames, (unsigned long long)st.rx_frames,
	       (unsigned long long)st.rx_merged, (unsigned long long)st.kicks,
	       (unsigned long long)st.iotlb_misses);
	if (iommu && st.iotlb_misses == 0)
		gp_die("iommu: the kernel asked for no translation");
	vh_net_destroy(&net);

	/* Without MRG_RXBUF: one 2 KiB buffer per frame. */
	net = net_open(&w, flags | VH_NET_NO_MRG_RXBUF, 2048);
	check_tx(net, &w, 300);
	check_rx(net, &w, 400, &merged);
	if (merged)
		gp_die("rx: a frame took several buffers without MRG_RXBUF");
	vh_net_destroy(&net);
	close(w.ps);
	close(w.tap);
	gp_log("PASS");
	return 0;
}
