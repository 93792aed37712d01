// SPDX-License-Identifier: BSD-3-Clause
/*
 * vh_net: a userspace virtio-net driver (virtio 1.2 §5.1) on a struct vh_dev: one receive and one
 * transmit queue over guest memory in a memfd, frames copied in and out with their
 * virtio_net_hdr_mrg_rxbuf, the receive ring always full, mergeable receive buffers.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include <vhost/frontend.h>
#include <vhost/kernel.h>

#include "driver/net_internal.h"
#include "util/util.h"

#define NET_PAGE	  4096u
#define NET_DEFAULT_QSIZE 256u
#define NET_DEFAULT_BUF	  2048u
#define NET_MAX_BUF	  (1u << 20)
/* VHOST_USER_F_PROTOCOL_FEATURES: a vhost-user frontend must see it accepted. */
#define NET_F_PROTOCOL_FEATURES 30
/* Device bits this driver can use (virtio 1.2 §5.1.3); MRG_RXBUF is chosen by the flags. */
#define NET_DEVICE_FEATURES \
	((1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_MTU) | (1ull << VIRTIO_NET_F_STATUS))

static const char *const net_feature_names[] = {
	[VIRTIO_NET_F_CSUM] = "VIRTIO_NET_F_CSUM",
	[VIRTIO_NET_F_GUEST_CSUM] = "VIRTIO_NET_F_GUEST_CSUM",
	[VIRTIO_NET_F_CTRL_GUEST_OFFLOADS] = "VIRTIO_NET_F_CTRL_GUEST_OFFLOADS",
	[VIRTIO_NET_F_MTU] = "VIRTIO_NET_F_MTU",
	[VIRTIO_NET_F_MAC] = "VIRTIO_NET_F_MAC",
	[VIRTIO_NET_F_GUEST_TSO4] = "VIRTIO_NET_F_GUEST_TSO4",
	[VIRTIO_NET_F_GUEST_TSO6] = "VIRTIO_NET_F_GUEST_TSO6",
	[VIRTIO_NET_F_GUEST_ECN] = "VIRTIO_NET_F_GUEST_ECN",
	[VIRTIO_NET_F_GUEST_UFO] = "VIRTIO_NET_F_GUEST_UFO",
	[VIRTIO_NET_F_HOST_TSO4] = "VIRTIO_NET_F_HOST_TSO4",
	[VIRTIO_NET_F_HOST_TSO6] = "VIRTIO_NET_F_HOST_TSO6",
	[VIRTIO_NET_F_HOST_ECN] = "VIRTIO_NET_F_HOST_ECN",
	[VIRTIO_NET_F_HOST_UFO] = "VIRTIO_NET_F_HOST_UFO",
	[VIRTIO_NET_F_MRG_RXBUF] = "VIRTIO_NET_F_MRG_RXBUF",
	[VIRTIO_NET_F_STATUS] = "VIRTIO_NET_F_STATUS",
	[VIRTIO_NET_F_CTRL_VQ] = "VIRTIO_NET_F_CTRL_VQ",
	[VIRTIO_NET_F_CTRL_RX] = "VIRTIO_NET_F_CTRL_RX",
	[VIRTIO_NET_F_CTRL_VLAN] = "VIRTIO_NET_F_CTRL_VLAN",
	[VIRTIO_NET_F_CTRL_RX_EXTRA] = "VIRTIO_NET_F_CTRL_RX_EXTRA",
	[VIRTIO_NET_F_GUEST_ANNOUNCE] = "VIRTIO_NET_F_GUEST_ANNOUNCE",
	[VIRTIO_NET_F_MQ] = "VIRTIO_NET_F_MQ",
	[VIRTIO_NET_F_CTRL_MAC_ADDR] = "VIRTIO_NET_F_CTRL_MAC_ADDR",
};

const char *vh_net_feature_name(unsigned bit)
{
	if (bit == VHOST_NET_F_VIRTIO_NET_HDR)
		return "VHOST_NET_F_VIRTIO_NET_HDR";
	return bit < VH_ARRAY_SIZE(net_feature_names) ? net_feature_names[bit] : NULL;
}

static bool has(uint64_t features, unsigned bit)
{
	return features & (1ull << bit);
}

static int net_fail(struct vh_net *n, const char *req, const char *what)
{
	if (!n->broken)
		vh_logf(&n->cfg.log, VH_LOG_ERR, n->name, "%s: %s: %s", req, what,
			strerror(EPROTO));
	n->broken = true;
	return -EPROTO;
}

int net_layout(unsigned num, bool packed, uint32_t rx_buf, uint32_t tx_buf, struct net_layout *l)
{
	struct vh_vq_layout vl;
	uint64_t off;

	if (vh_vq_layout(num, packed, &vl) < 0)
		return -EINVAL;
	l->ring_off[VH_NET_RX] = 0;
	l->ring_off[VH_NET_TX] = vl.size; /* a multiple of 64 */
	off = (2 * vl.size + NET_PAGE - 1) & ~(uint64_t)(NET_PAGE - 1);
	l->buf_off[VH_NET_TX] = off;
	off += (uint64_t)num * tx_buf;
	off = (off + NET_PAGE - 1) & ~(uint64_t)(NET_PAGE - 1);
	l->buf_off[VH_NET_RX] = off;
	off += (uint64_t)num * rx_buf;
	l->size = (off + NET_PAGE - 1) & ~(uint64_t)(NET_PAGE - 1);
	return 0;
}

static int check_config(const struct vh_net_config *cfg, struct vh_net_config *c)
{
	*c = *cfg;
	c->queue_size = c->queue_size ? c->queue_size : NET_DEFAULT_QSIZE;
	c->rx_buf_size = c->rx_buf_size ? c->rx_buf_size : NET_DEFAULT_BUF;
	c->tx_buf_size = c->tx_buf_size ? c->tx_buf_size : NET_DEFAULT_BUF;
	c->features = c->features ? c->features & NET_DEVICE_FEATURES : NET_DEVICE_FEATURES;
	if (!vh_is_pow2(c->queue_size) || c->queue_size > VH_VQ_MAX_NUM)
		return -EINVAL;
	/* A buffer must hold the header and at least one byte; 8-byte alignment keeps headers
	 * naturally aligned. */
	if (c->rx_buf_size <= VH_NET_HDR_LEN || c->rx_buf_size > NET_MAX_BUF ||
	    c->tx_buf_size <= VH_NET_HDR_LEN || c->tx_buf_size > NET_MAX_BUF ||
	    (c->rx_buf_size | c->tx_buf_size) & 7)
		return -EINVAL;
	return 0;
}

static void *buf_host(struct vh_net *n, unsigned q, unsigned i)
{
	return n->mem + n->q[q].buf_off + (uint64_t)i * n->q[q].buf_size;
}

static void kick(struct vh_net *n, unsigned q)
{
	uint64_t one = 1;

	if (n->q[q].kick_fd < 0)
		return;
	/* An eventfd write only fails when the counter would overflow: the device is kicked. */
	if (write(n->q[q].kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		vh_logf(&n->cfg.log, VH_LOG_WARN, n->name, "kick: ring %u: %s", q, strerror(errno));
	n->st.kicks++;
}

/* Give receive buffer @i back to the device (visible at the next publish). */
static int rx_add(struct vh_net *n, unsigned i)
{
	struct vh_vq_buf b = {
		.gpa =
		    n->mem_gpa + n->q[VH_NET_RX].buf_off + (uint64_t)i * n->q[VH_NET_RX].buf_size,
		.len = n->q[VH_NET_RX].buf_size,
	};
	struct vh_vq_driver_req r = {
		.bufs = &b,
		.in_num = 1,
		.token = (void *)(uintptr_t)(i + 1),
	};

	return vh_vq_driver_add(n->q[VH_NET_RX].vq, &r);
}

static void publish(struct vh_net *n, unsigned q)
{
	if (vh_vq_driver_kick_needed(n->q[q].vq))
		kick(n, q);
}

static int ring_init(struct vh_net *n, unsigned q, uint64_t features)
{
	struct vh_vq_driver_config dc = {
		.num = n->cfg.queue_size,
		.packed = has(features, VIRTIO_F_RING_PACKED),
		.event_idx = has(features, VIRTIO_RING_F_EVENT_IDX),
		.name = q == VH_NET_RX ? "vh_net rx" : "vh_net tx",
		.log = n->cfg.log,
		.host = n->mem,
		.gpa = n->mem_gpa,
		.size = n->layout.size,
		.ring_gpa = n->mem_gpa + n->layout.ring_off[q],
	};

	n->q[q].buf_off = n->layout.buf_off[q];
	n->q[q].buf_size = q == VH_NET_RX ? n->cfg.rx_buf_size : n->cfg.tx_buf_size;
	n->q[q].kick_fd = -1;
	n->q[q].call_fd = -1;
	return vh_vq_driver_create(&dc, &n->q[q].vq);
}

/* Rings, transmit free list, and a full receive ring. */
static int rings_init(struct vh_net *n, uint64_t features)
{
	unsigned num = n->cfg.queue_size, i;
	int err;

	n->info.features = features;
	n->info.mrg_rxbuf = has(features, VIRTIO_NET_F_MRG_RXBUF);
	n->info.event_idx = has(features, VIRTIO_RING_F_EVENT_IDX);
	n->info.packed = has(features, VIRTIO_F_RING_PACKED);
	n->info.iommu = has(features, VIRTIO_F_ACCESS_PLATFORM);
	n->info.queue_size = num;
	n->info.rx_buf_size = n->cfg.rx_buf_size;
	n->info.tx_buf_size = n->cfg.tx_buf_size;
	n->tx_free = calloc(num, sizeof(*n->tx_free));
	n->rx_pend = calloc(num, sizeof(*n->rx_pend));
	n->rx_pend_len = calloc(num, sizeof(*n->rx_pend_len));
	if (!n->tx_free || !n->rx_pend || !n->rx_pend_len)
		return -ENOMEM;
	for (i = 0; i < 2; i++) {
		err = ring_init(n, i, features);
		if (err < 0)
			return err;
	}
	for (i = 0; i < num; i++)
		n->tx_free[i] = (uint16_t)(num - 1 - i);
	n->tx_nfree = num;
	for (i = 0; i < num; i++) {
		err = rx_add(n, i);
		if (err < 0)
			return err;
	}
	vh_vq_driver_publish(n->q[VH_NET_RX].vq);
	return 0;
}

static struct vh_net *net_alloc(const struct vh_net_config *cfg, int *err)
{
	struct vh_net *n = calloc(1, sizeof(*n));

	if (!n) {
		*err = -ENOMEM;
		return NULL;
	}
	n->mem_fd = -1;
	*err = check_config(cfg, &n->cfg);
	if (*err < 0) {
		free(n);
		return NULL;
	}
	snprintf(n->name, sizeof(n->name), "%s", cfg->name ? cfg->name : "vh_net");
	n->cfg.name = n->name;
	return n;
}

int net_local_create(const struct vh_net_config *cfg, uint64_t features,
		     const struct net_local_mem *mem, struct vh_net **out)
{
	struct vh_net *n;
	int err;

	*out = NULL;
	n = net_alloc(cfg, &err);
	if (!n)
		return err;
	n->cfg.path = NULL;
	err = net_layout(n->cfg.queue_size, has(features, VIRTIO_F_RING_PACKED), n->cfg.rx_buf_size,
			 n->cfg.tx_buf_size, &n->layout);
	if (err >= 0 &&
	    (mem->size < n->layout.size || ((uintptr_t)mem->host & 63) || (mem->gpa & 63)))
		err = -EINVAL;
	if (err < 0) {
		free(n);
		return err;
	}
	n->mem = mem->host;
	n->mem_gpa = mem->gpa;
	n->info.mem_size = n->layout.size;
	err = rings_init(n, features);
	if (err < 0) {
		vh_net_destroy(&n);
		return err;
	}
	*out = n;
	return 0;
}

/* VH_NET_IOMMU: the identity map IOVA = guest address over the whole of guest memory. */
static int net_iotlb_translate(void *opaque, uint64_t iova, int perm, uint64_t *uva, uint64_t *size)
{
	struct vh_net *n = opaque;

	(void)perm;
	n->st.iotlb_misses++;
	if (iova < n->mem_gpa || iova - n->mem_gpa >= n->info.mem_size)
		return -EFAULT;
	*uva = (uint64_t)(uintptr_t)n->mem + (iova - n->mem_gpa);
	*size = n->info.mem_size - (iova - n->mem_gpa);
	/* All of guest memory is read/write for the device: one entry serves every access. */
	return VH_DEV_ACCESS_RW;
}

static int open_dev(struct vh_net *n)
{
	uint64_t want = n->cfg.features | (1ull << VIRTIO_F_VERSION_1) |
			(1ull << VIRTIO_RING_F_EVENT_IDX) | (1ull << VIRTIO_F_RING_PACKED) |
			(1ull << VIRTIO_NET_F_MRG_RXBUF) | (1ull << NET_F_PROTOCOL_FEATURES) |
			(1ull << VHOST_F_LOG_ALL) | (1ull << VIRTIO_F_ACCESS_PLATFORM);
	struct vh_dev_config dc = {
		.path = n->cfg.path,
		.features = want,
		.num_queues = 2,
		.timeout_ms = n->cfg.timeout_ms,
		.name = n->name,
		.log = n->cfg.log,
		.opaque = n,
	};

	if (n->cfg.flags & VH_NET_IOMMU)
		dc.iotlb_translate = net_iotlb_translate;
	return vh_dev_create(&dc, &n->dev);
}

static int need_feature(struct vh_net *n, uint64_t f, unsigned bit, const char *name)
{
	if (has(f, bit))
		return 0;
	vh_logf(&n->cfg.log, VH_LOG_ERR, n->name, "SET_FEATURES: device does not offer %s: %s",
		name, strerror(ENOTSUP));
	return -ENOTSUP;
}

static int negotiate(struct vh_net *n, uint64_t *acked)
{
	uint64_t f = vh_dev_features(n->dev);
	unsigned fl = n->cfg.flags;
	int err;

	n->info.device_features = vh_dev_backend_features(n->dev);
	err = need_feature(n, f, VIRTIO_F_VERSION_1, "VIRTIO_F_VERSION_1");
	if (err >= 0 && (fl & VH_NET_PACKED))
		err = need_feature(n, f, VIRTIO_F_RING_PACKED, "VIRTIO_F_RING_PACKED");
	if (err >= 0 && (fl & VH_NET_IOMMU))
		err = need_feature(n, f, VIRTIO_F_ACCESS_PLATFORM, "VIRTIO_F_ACCESS_PLATFORM");
	if (err < 0)
		return err;
	if (!(fl & VH_NET_PACKED))
		f &= ~(1ull << VIRTIO_F_RING_PACKED);
	if (!(fl & VH_NET_IOMMU))
		f &= ~(1ull << VIRTIO_F_ACCESS_PLATFORM);
	if (fl & VH_NET_NO_MRG_RXBUF)
		f &= ~(1ull << VIRTIO_NET_F_MRG_RXBUF);
	if (fl & VH_NET_NO_EVENT_IDX)
		f &= ~(1ull << VIRTIO_RING_F_EVENT_IDX);
	/* Logging is switched on by vh_dev_log_start(), not negotiated up front. */
	f &= ~(1ull << VHOST_F_LOG_ALL);
	*acked = f;
	n->info.features = f; /* read_config() looks at it before the rings exist */
	return vh_dev_ack_features(n->dev, f);
}

/* Config space (virtio 1.2 §5.1.4), only when a bit that gives it meaning was negotiated. */
static void read_config(struct vh_net *n)
{
	struct virtio_net_config c;
	uint64_t f = n->info.features;
	int err;

	if (!has(f, VIRTIO_NET_F_MAC) && !has(f, VIRTIO_NET_F_MTU) && !has(f, VIRTIO_NET_F_STATUS))
		return;
	memset(&c, 0, sizeof(c));
	err = vh_dev_get_config(n->dev, 0, &c, offsetof(struct virtio_net_config, mtu) + 2);
	if (err < 0) {
		vh_logf(&n->cfg.log, VH_LOG_WARN, n->name,
			"GET_CONFIG: cannot read config space: %s", strerror(-err));
		return;
	}
	if (has(f, VIRTIO_NET_F_MAC))
		memcpy(n->info.mac, c.mac, sizeof(n->info.mac));
	if (has(f, VIRTIO_NET_F_MTU))
		n->info.mtu = le16toh(c.mtu);
	if (has(f, VIRTIO_NET_F_STATUS))
		n->info.status = le16toh(c.status);
}

static int map_memory(struct vh_net *n)
{
	struct vh_dev_mem_region r;
	int err;

	n->mem_fd = memfd_create("vh_net", MFD_CLOEXEC);
	if (n->mem_fd < 0)
		return -errno;
	if (ftruncate(n->mem_fd, (off_t)n->layout.size) < 0)
		return -errno;
	n->mem = mmap(NULL, n->layout.size, PROT_READ | PROT_WRITE, MAP_SHARED, n->mem_fd, 0);
	if (n->mem == MAP_FAILED) {
		n->mem = NULL;
		return -errno;
	}
	n->own_mem = true;
	n->info.mem_size = n->layout.size;
	r = (struct vh_dev_mem_region){
		.gpa = 0,
		.size = n->layout.size,
		.host = n->mem,
		.fd = n->mem_fd,
		.page_size = NET_PAGE,
	};
	err = vh_dev_mem_begin(n->dev);
	if (err >= 0)
		err = vh_dev_mem_add(n->dev, &r);
	if (err >= 0)
		err = vh_dev_mem_commit(n->dev);
	return err;
}

static int setup_vring(struct vh_net *n, unsigned q)
{
	struct vh_vq_ring_addrs a;
	struct vh_dev_vring vr;
	int err;

	vh_vq_driver_ring_addrs(n->q[q].vq, &a);
	vr = (struct vh_dev_vring){
		.index = q,
		.num = (uint16_t)n->cfg.queue_size,
		.packed = n->info.packed,
		.desc_gpa = a.desc_gpa,
		.avail_gpa = a.driver_gpa,
		.used_gpa = a.device_gpa,
		.base = n->info.packed ? 1u << 15 : 0, /* packed: wrap counters start at 1 */
		.kick_fd = -1,
		.call_fd = -1,
	};
	err = vh_dev_vring_setup(n->dev, &vr);
	if (err < 0)
		return err;
	n->q[q].kick_fd = vh_dev_vring_kick_fd(n->dev, q);
	n->q[q].call_fd = vh_dev_vring_call_fd(n->dev, q);
	return 0;
}

/*
 * VHOST_NET_SET_BACKEND makes the kernel write the used ring flags at once. With
 * VIRTIO_F_ACCESS_PLATFORM its IOTLB is empty then: it queues a miss on the vhost fd and fails
 * with EFAULT. Answer the miss (vh_dev_dispatch) and try again, a few times at most.
 */
static int set_backend(struct vh_net *n, unsigned q)
{
	int err = -EFAULT, tries;

	for (tries = 0; tries < 4 && err == -EFAULT; tries++) {
		err = vh_kernel_net_set_backend(n->dev, q, n->cfg.tap_fd);
		if (err != -EFAULT || !n->info.iommu)
			break;
		if (vh_dev_dispatch(n->dev) < 0)
			break;
	}
	return err;
}

/*
 * /dev/vhost-net: the kernel copies the whole virtio-net header to and from the tap
 * (VHOST_NET_F_VIRTIO_NET_HDR is not negotiated), so the tap's header must be ours (12 bytes).
 */
static int attach_tap(struct vh_net *n)
{
	int sz = (int)VH_NET_HDR_LEN, err;
	unsigned q;

	if (ioctl(n->cfg.tap_fd, TUNSETVNETHDRSZ, &sz) < 0) {
		err = -errno;
		vh_logf(&n->cfg.log, VH_LOG_ERR, n->name, "TUNSETVNETHDRSZ: tap fd %d: %s",
			n->cfg.tap_fd, strerror(-err));
		return err;
	}
	for (q = 0; q < 2; q++) {
		err = set_backend(n, q);
		if (err < 0)
			return err;
		n->backend_set = true;
	}
	/* Buffers were published before the tap was attached: tell the kernel to look. */
	kick(n, VH_NET_RX);
	return 0;
}

/* The kernel's vhost-net (named like the frontend's vhost-kernel transport names it). */
static bool is_vhost_net(const struct vh_net *n)
{
	const char *base;

	if (!n->cfg.path || strncmp(n->cfg.path, "unix:", 5) == 0)
		return false;
	base = strrchr(n->cfg.path, '/');
	return strcmp(base ? base + 1 : n->cfg.path, "vhost-net") == 0;
}

static int setup(struct vh_net *n)
{
	uint64_t f;
	unsigned q;
	int err;

	if (is_vhost_net(n) != (n->cfg.tap_fd >= 0)) {
		vh_logf(&n->cfg.log, VH_LOG_ERR, n->name, "SET_BACKEND: %s: %s",
			n->cfg.tap_fd >= 0 ? "a tap fd is only for /dev/vhost-net"
					   : "/dev/vhost-net needs a tap fd",
			strerror(EINVAL));
		return -EINVAL;
	}
	err = open_dev(n);
	if (err >= 0)
		err = negotiate(n, &f);
	if (err < 0)
		return err;
	read_config(n);
	err = net_layout(n->cfg.queue_size, has(f, VIRTIO_F_RING_PACKED), n->cfg.rx_buf_size,
			 n->cfg.tx_buf_size, &n->layout);
	if (err >= 0)
		err = map_memory(n);
	if (err >= 0)
		err = rings_init(n, f);
	for (q = 0; err >= 0 && q < 2; q++)
		err = setup_vring(n, q);
	if (err >= 0)
		err = vh_dev_start(n->dev);
	if (err >= 0 && is_vhost_net(n))
		err = attach_tap(n);
	return err;
}

int vh_net_create(const struct vh_net_config *cfg, struct vh_net **out)
{
	struct vh_net *n;
	int err;

	*out = NULL;
	if (!cfg->path)
		return -EINVAL;
	n = net_alloc(cfg, &err);
	if (!n)
		return err;
	err = setup(n);
	n->cfg.path = NULL; /* only needed to open; the caller's string may go away */
	if (err < 0) {
		vh_net_destroy(&n);
		return err;
	}
	*out = n;
	return 0;
}

void vh_net_destroy(struct vh_net **np)
{
	struct vh_net *n = np ? *np : NULL;
	unsigned q;

	if (!n)
		return;
	/* Detach the tap first so the kernel stops touching the rings (QEMU does the same). */
	if (n->backend_set)
		vh_kernel_net_stop(n->dev, NULL, 0);
	else if (n->dev)
		vh_dev_stop(n->dev, NULL, 0);
	vh_dev_destroy(&n->dev);
	for (q = 0; q < 2; q++)
		vh_vq_driver_destroy(&n->q[q].vq);
	if (n->own_mem && n->mem)
		munmap(n->mem, n->layout.size);
	if (n->mem_fd >= 0)
		close(n->mem_fd);
	free(n->tx_free);
	free(n->rx_pend);
	free(n->rx_pend_len);
	free(n);
	*np = NULL;
}

void vh_net_get_info(const struct vh_net *n, struct vh_net_info *info)
{
	*info = n->info;
}

void vh_net_get_stats(const struct vh_net *n, struct vh_net_stats *st)
{
	*st = n->st;
}

struct vh_dev *vh_net_dev(struct vh_net *n)
{
	return n->dev;
}

int vh_net_call_fd(const struct vh_net *n, unsigned queue)
{
	return queue < 2 ? n->q[queue].call_fd : -1;
}

uint64_t vh_net_gpa(const struct vh_net *n, const void *host)
{
	uintptr_t h = (uintptr_t)host, base = (uintptr_t)n->mem;

	if (!n->mem || h < base || h - base >= n->info.mem_size)
		return UINT64_MAX;
	return n->mem_gpa + (h - base);
}

int vh_net_queue_gpa(const struct vh_net *n, unsigned queue, uint64_t *desc, uint64_t *driver,
		     uint64_t *device)
{
	struct vh_vq_ring_addrs a;

	if (queue >= 2 || !n->q[queue].vq)
		return -EINVAL;
	vh_vq_driver_ring_addrs(n->q[queue].vq, &a);
	*desc = a.desc_gpa;
	*driver = a.driver_gpa;
	*device = a.device_gpa;
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Transmit                                                                                    */
/* ------------------------------------------------------------------------------------------ */

int vh_net_tx_reap(struct vh_net *n)
{
	unsigned num = n->cfg.queue_size;
	int reaped = 0, r;
	uint32_t len;
	void *tok;

	if (n->broken)
		return -EPROTO;
	for (;;) {
		r = vh_vq_driver_get_used(n->q[VH_NET_TX].vq, &tok, &len);
		if (r < 0)
			return net_fail(n, "tx", "transmit ring broken");
		if (r == 0)
			break;
		/* The ring only hands back tokens we added; the free stack cannot overflow. */
		if (n->tx_nfree >= num)
			return net_fail(n, "tx", "more completions than transmissions");
		n->tx_free[n->tx_nfree++] = (uint16_t)((uintptr_t)tok - 1);
		reaped++;
	}
	n->st.tx_completed += (uint64_t)reaped;
	return reaped;
}

unsigned vh_net_tx_inflight(const struct vh_net *n)
{
	return n->cfg.queue_size - n->tx_nfree;
}

int vh_net_send(struct vh_net *n, const void *frame, size_t len, const struct virtio_net_hdr *hdr)
{
	struct virtio_net_hdr_mrg_rxbuf *h;
	struct vh_vq_driver_req req;
	struct vh_vq_buf b;
	unsigned slot;
	int err;

	if (n->broken)
		return -EPROTO;
	if (len == 0 || len > n->cfg.tx_buf_size - VH_NET_HDR_LEN)
		return -EMSGSIZE;
	if (n->tx_nfree == 0) {
		err = vh_net_tx_reap(n);
		if (err < 0)
			return err;
		if (n->tx_nfree == 0)
			return -EAGAIN;
	}
	slot = n->tx_free[--n->tx_nfree];
	h = buf_host(n, VH_NET_TX, slot);
	memset(h, 0, sizeof(*h));
	if (hdr)
		h->hdr = *hdr;
	/* virtio 1.2 §5.1.6.2: the driver MUST set num_buffers to zero on transmit. */
	h->num_buffers = 0;
	memcpy((uint8_t *)h + VH_NET_HDR_LEN, frame, len);
	/* One descriptor: header and frame together (VERSION_1 implies ANY_LAYOUT, §5.1.6.6). */
	b = (struct vh_vq_buf){ .gpa = vh_net_gpa(n, h), .len = (uint32_t)(VH_NET_HDR_LEN + len) };
	req = (struct vh_vq_driver_req){ .bufs = &b,
					 .out_num = 1,
					 .token = (void *)(uintptr_t)(slot + 1) };
	err = vh_vq_driver_add(n->q[VH_NET_TX].vq, &req);
	if (err < 0) {
		n->tx_free[n->tx_nfree++] = (uint16_t)slot;
		return err;
	}
	publish(n, VH_NET_TX);
	n->st.tx_frames++;
	n->st.tx_bytes += len;
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Receive                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* Take one used receive buffer into the pending frame; 1 taken, 0 none, -EPROTO. */
static int rx_take(struct vh_net *n)
{
	uint32_t len;
	void *tok;
	unsigned i;
	int r = vh_vq_driver_get_used(n->q[VH_NET_RX].vq, &tok, &len);

	if (r < 0)
		return net_fail(n, "rx", "receive ring broken");
	if (r == 0)
		return 0;
	i = (unsigned)((uintptr_t)tok - 1);
	if (len > n->q[VH_NET_RX].buf_size)
		return net_fail(n, "rx", "used length larger than the buffer");
	n->rx_pend[n->rx_pend_n] = (uint16_t)i;
	n->rx_pend_len[n->rx_pend_n] = len;
	n->rx_pend_n++;
	return 1;
}

/* After the first buffer of a frame: how many buffers it spans (virtio 1.2 §5.1.6.4). */
static int rx_count(struct vh_net *n)
{
	const struct virtio_net_hdr_mrg_rxbuf *h = buf_host(n, VH_NET_RX, n->rx_pend[0]);
	unsigned want = 1;

	if (n->rx_pend_len[0] < VH_NET_HDR_LEN)
		return net_fail(n, "rx", "used length shorter than the virtio-net header");
	/*
	 * Without MRG_RXBUF the frame is one buffer whatever num_buffers says: Linux's vhost-net
	 * leaves the field unwritten then (the tap fills only a 10-byte virtio_net_hdr).
	 */
	if (n->info.mrg_rxbuf)
		want = le16toh(h->num_buffers);
	if (want == 0 || want > n->cfg.queue_size)
		return net_fail(n, "rx", "bad num_buffers in the virtio-net header");
	n->rx_pend_want = want;
	return 0;
}

/* Copy the complete pending frame out and describe it. */
static void rx_copy(struct vh_net *n, uint8_t *buf, size_t len, struct vh_net_rx_info *info)
{
	const uint8_t *src;
	size_t done = 0, total = 0;
	uint32_t blen, skip;
	unsigned k;

	if (info) {
		memset(info, 0, sizeof(*info));
		memcpy(&info->hdr, buf_host(n, VH_NET_RX, n->rx_pend[0]), sizeof(info->hdr));
		if (!n->info.mrg_rxbuf)
			info->hdr.num_buffers = htole16(1);
		info->nbufs = n->rx_pend_n;
	}
	for (k = 0; k < n->rx_pend_n; k++) {
		src = buf_host(n, VH_NET_RX, n->rx_pend[k]);
		skip = k == 0 ? VH_NET_HDR_LEN : 0;
		blen = n->rx_pend_len[k] - skip;
		if (done < len) {
			size_t c = VH_MIN((size_t)blen, len - done);

			memcpy(buf + done, src + skip, c);
			done += c;
		}
		total += blen;
		if (info && k < VH_NET_RX_INFO_BUFS) {
			info->buf_gpa[k] = vh_net_gpa(n, src);
			info->buf_len[k] = n->rx_pend_len[k];
		}
	}
	if (info)
		info->len = (uint32_t)total;
	n->st.rx_frames++;
	n->st.rx_bytes += total;
	n->st.rx_merged += n->rx_pend_n > 1;
	n->st.rx_truncated += total > len;
}

static int rx_refill(struct vh_net *n)
{
	unsigned k;
	int err;

	for (k = 0; k < n->rx_pend_n; k++) {
		err = rx_add(n, n->rx_pend[k]);
		if (err < 0)
			return net_fail(n, "rx", "cannot give a receive buffer back");
	}
	n->rx_pend_n = 0;
	n->rx_pend_want = 0;
	publish(n, VH_NET_RX);
	return 0;
}

int vh_net_recv(struct vh_net *n, void *buf, size_t len, struct vh_net_rx_info *info)
{
	int r;

	if (n->broken)
		return -EPROTO;
	if (n->rx_pend_n == 0) {
		r = rx_take(n);
		if (r <= 0)
			return r;
		r = rx_count(n);
		if (r < 0)
			return r;
	}
	/* The device publishes all buffers of a frame together; tolerate seeing them in pieces. */
	while (n->rx_pend_n < n->rx_pend_want) {
		r = rx_take(n);
		if (r <= 0)
			return r;
	}
	rx_copy(n, buf, len, info);
	r = rx_refill(n);
	return r < 0 ? r : 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Waiting                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static int ready(struct vh_net *n, unsigned what)
{
	int r;

	if (n->broken)
		return -EPROTO;
	if (what & VH_NET_WAIT_TX) {
		r = vh_net_tx_reap(n);
		if (r < 0)
			return r;
		if (vh_net_tx_inflight(n) == 0)
			return 1;
		/* Ask for a call on the next completion; 1: some arrived meanwhile, look again. */
		if (vh_vq_driver_set_notification(n->q[VH_NET_TX].vq, true) == 1) {
			r = vh_net_tx_reap(n);
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
		if (vh_vq_driver_set_notification(n->q[VH_NET_RX].vq, true) == 1)
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
	struct pollfd p[3];
	unsigned np = 0, k;
	uint64_t v;
	int ev = n->dev ? vh_dev_event_fd(n->dev) : -1, r;

	if ((what & VH_NET_WAIT_RX) && n->q[VH_NET_RX].call_fd >= 0)
		p[np++] = (struct pollfd){ .fd = n->q[VH_NET_RX].call_fd, .events = POLLIN };
	if ((what & VH_NET_WAIT_TX) && n->q[VH_NET_TX].call_fd >= 0)
		p[np++] = (struct pollfd){ .fd = n->q[VH_NET_TX].call_fd, .events = POLLIN };
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
		if (n->q[VH_NET_RX].call_fd < 0 && n->q[VH_NET_TX].call_fd < 0 && !n->dev)
			return 0; /* nothing to sleep on (in-process device) */
		r = wait_once(n, what, left);
		if (r < 0)
			return r;
	}
}
