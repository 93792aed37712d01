// SPDX-License-Identifier: BSD-3-Clause
/*
 * vh_net: a userspace virtio-net driver (virtio 1.2 §5.1) on a struct vh_dev: receive and
 * transmit queue pairs over guest memory in a memfd, feature negotiation (offloads, MQ), config
 * space, the receive rings always full. The datapath is net_io.c.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>

#include <vhost/frontend.h>
#include <vhost/proto.h>
#include <vhost/kernel.h>

#include "driver/net_internal.h"
#include "util/util.h"

#define NET_PAGE	  4096u
#define NET_DEFAULT_QSIZE 256u
#define NET_DEFAULT_BUF	  2048u
#define NET_MAX_BUF	  (1u << 20)
/* VHOST_USER_F_PROTOCOL_FEATURES: a vhost-user frontend must see it accepted. */
#define NET_F_PROTOCOL_FEATURES 30
/* Device bits negotiated unless the caller names its own (virtio 1.2 §5.1.3). */
#define NET_DEFAULT_FEATURES \
	((1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_MTU) | (1ull << VIRTIO_NET_F_STATUS))
/* Offloads: what the device does for frames we send, and what it may hand us. */
#define NET_HOST_OFFLOADS                                                      \
	((1ull << VIRTIO_NET_F_HOST_TSO4) | (1ull << VIRTIO_NET_F_HOST_TSO6) | \
	 (1ull << VIRTIO_NET_F_HOST_ECN) | (1ull << VIRTIO_NET_F_HOST_UFO))
#define NET_GUEST_OFFLOADS                                                       \
	((1ull << VIRTIO_NET_F_GUEST_TSO4) | (1ull << VIRTIO_NET_F_GUEST_TSO6) | \
	 (1ull << VIRTIO_NET_F_GUEST_ECN) | (1ull << VIRTIO_NET_F_GUEST_UFO))
/* Device bits the caller may ask for; MRG_RXBUF follows the flags, MQ the queue pairs. */
#define NET_DEVICE_FEATURES                                                                       \
	(NET_DEFAULT_FEATURES | (1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM) | \
	 NET_HOST_OFFLOADS | NET_GUEST_OFFLOADS)

const char *vh_net_feature_name(unsigned bit)
{
	const char *n = bit < 64 ? vh_proto_device_feature_name(VIRTIO_ID_NET, bit) : NULL;

	/* The table lives in lib/proto/names.c; generic bits are not "device feature bits". */
	return n == vh_proto_virtio_feature_name(bit) ? NULL : n;
}

static bool has(uint64_t features, unsigned bit)
{
	return features & (1ull << bit);
}

int net_fail(struct vh_net *n, const char *req, const char *what)
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
	c->features = c->features ? c->features & NET_DEVICE_FEATURES : NET_DEFAULT_FEATURES;
	c->queue_pairs = c->queue_pairs ? c->queue_pairs : 1;
	if (!vh_is_pow2(c->queue_size) || c->queue_size > VH_VQ_MAX_NUM ||
	    c->queue_pairs > VH_NET_MAX_PAIRS)
		return -EINVAL;
	/* A buffer must hold the header and at least one byte; 8-byte alignment keeps headers
	 * naturally aligned. */
	if (c->rx_buf_size <= VH_NET_HDR_LEN || c->rx_buf_size > NET_MAX_BUF ||
	    c->tx_buf_size <= VH_NET_HDR_LEN || c->tx_buf_size > NET_MAX_BUF ||
	    (c->rx_buf_size | c->tx_buf_size) & 7)
		return -EINVAL;
	return 0;
}

void net_kick(struct vh_net *n, struct net_ring *r)
{
	uint64_t one = 1;

	if (r->kick_fd < 0)
		return;
	/* An eventfd write only fails when the counter would overflow: the device is kicked. */
	if (write(r->kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		vh_logf(&n->cfg.log, VH_LOG_WARN, n->name, "kick: %s", strerror(errno));
	n->st.kicks++;
}

static int ring_init(struct vh_net *n, unsigned p, unsigned q, uint64_t features)
{
	uint64_t base = (uint64_t)p * n->layout.size;
	struct net_ring *r = &n->pairs[p].q[q];
	char name[32];
	struct vh_vq_driver_config dc = {
		.num = n->cfg.queue_size,
		.packed = has(features, VIRTIO_F_RING_PACKED),
		.event_idx = has(features, VIRTIO_RING_F_EVENT_IDX),
		.name = name,
		.log = n->cfg.log,
		.host = n->mem,
		.gpa = n->mem_gpa,
		.size = n->info.mem_size,
		.ring_gpa = n->mem_gpa + base + n->layout.ring_off[q],
	};

	snprintf(name, sizeof(name), "vh_net %s%u", q == VH_NET_RX ? "rx" : "tx", p);
	r->buf = n->mem + base + n->layout.buf_off[q];
	r->buf_gpa = n->mem_gpa + base + n->layout.buf_off[q];
	r->buf_size = q == VH_NET_RX ? n->cfg.rx_buf_size : n->cfg.tx_buf_size;
	r->kick_fd = -1;
	r->call_fd = -1;
	return vh_vq_driver_create(&dc, &r->vq);
}

/* What a transmitted header may ask for (virtio 1.2 §5.1.6.2.1). */
static uint16_t tx_offloads(uint64_t f)
{
	uint16_t ok = 0;

	if (has(f, VIRTIO_NET_F_CSUM))
		ok |= NET_TXO_CSUM;
	if (has(f, VIRTIO_NET_F_HOST_TSO4))
		ok |= NET_TXO_TSO4;
	if (has(f, VIRTIO_NET_F_HOST_TSO6))
		ok |= NET_TXO_TSO6;
	if (has(f, VIRTIO_NET_F_HOST_UFO))
		ok |= NET_TXO_UFO;
	if (has(f, VIRTIO_NET_F_HOST_ECN))
		ok |= NET_TXO_ECN;
	return ok;
}

static int pair_init(struct vh_net *n, unsigned p, uint64_t features)
{
	struct net_pair *pr = &n->pairs[p];
	unsigned num = n->cfg.queue_size, i, q;
	int err;

	pr->tx_free = calloc(num, sizeof(*pr->tx_free));
	pr->rx_pend = calloc(num, sizeof(*pr->rx_pend));
	pr->rx_pend_len = calloc(num, sizeof(*pr->rx_pend_len));
	pr->rx_state = calloc(num, sizeof(*pr->rx_state));
	if (!pr->tx_free || !pr->rx_pend || !pr->rx_pend_len || !pr->rx_state)
		return -ENOMEM;
	for (q = 0; q < 2; q++) {
		err = ring_init(n, p, q, features);
		if (err < 0)
			return err;
	}
	/* Lowest buffer numbers on top: a light load touches few cache lines. */
	for (i = 0; i < num; i++)
		pr->tx_free[i] = (uint16_t)(num - 1 - i);
	pr->tx_nfree = num;
	for (i = 0; i < num; i++) {
		err = net_rx_add(&pr->q[VH_NET_RX], i);
		if (err < 0)
			return err;
	}
	vh_vq_driver_publish(pr->q[VH_NET_RX].vq);
	return 0;
}

/* Rings, transmit free lists, and full receive rings, for every pair. */
static int rings_init(struct vh_net *n, uint64_t features)
{
	unsigned p;
	int err;

	n->info.features = features;
	n->info.mrg_rxbuf = has(features, VIRTIO_NET_F_MRG_RXBUF);
	n->info.event_idx = has(features, VIRTIO_RING_F_EVENT_IDX);
	n->info.packed = has(features, VIRTIO_F_RING_PACKED);
	n->info.iommu = has(features, VIRTIO_F_ACCESS_PLATFORM);
	n->info.queue_size = n->cfg.queue_size;
	n->info.rx_buf_size = n->cfg.rx_buf_size;
	n->info.tx_buf_size = n->cfg.tx_buf_size;
	n->info.queue_pairs = n->cfg.queue_pairs;
	n->tx_hdr_ok = tx_offloads(features);
	n->pairs = calloc(n->cfg.queue_pairs, sizeof(*n->pairs));
	if (!n->pairs)
		return -ENOMEM;
	for (p = 0; p < n->cfg.queue_pairs; p++) {
		err = pair_init(n, p, features);
		if (err < 0)
			return err;
	}
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
	if (err >= 0 && (mem->size / n->cfg.queue_pairs < n->layout.size ||
			 ((uintptr_t)mem->host & 63) || (mem->gpa & 63)))
		err = -EINVAL;
	if (err < 0) {
		free(n);
		return err;
	}
	n->mem = mem->host;
	n->mem_gpa = mem->gpa;
	n->info.mem_size = n->layout.size * n->cfg.queue_pairs;
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
			(1ull << VHOST_F_LOG_ALL) | (1ull << VIRTIO_F_ACCESS_PLATFORM) |
			(n->cfg.queue_pairs > 1 ? 1ull << VIRTIO_NET_F_MQ : 0);
	struct vh_dev_config dc = {
		.path = n->cfg.path,
		.features = want,
		.num_queues = 2 * n->cfg.queue_pairs,
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
	if (err >= 0 && vh_dev_max_queues(n->dev) < 2 * n->cfg.queue_pairs) {
		vh_logf(&n->cfg.log, VH_LOG_ERR, n->name,
			"GET_QUEUE_NUM: %u queue pairs wanted, the device has %u rings: %s",
			n->cfg.queue_pairs, vh_dev_max_queues(n->dev), strerror(ENOTSUP));
		err = -ENOTSUP;
	}
	if (err < 0)
		return err;
	/* virtio 1.2 §5.1.3.1: HOST_* offloads need CSUM, GUEST_* ones GUEST_CSUM. */
	if (!has(f, VIRTIO_NET_F_CSUM))
		f &= ~NET_HOST_OFFLOADS;
	if (!has(f, VIRTIO_NET_F_GUEST_CSUM))
		f &= ~NET_GUEST_OFFLOADS;
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
	if (ftruncate(n->mem_fd, (off_t)(n->layout.size * n->cfg.queue_pairs)) < 0)
		return -errno;
	n->mem = mmap(NULL, n->layout.size * n->cfg.queue_pairs, PROT_READ | PROT_WRITE, MAP_SHARED,
		      n->mem_fd, 0);
	if (n->mem == MAP_FAILED) {
		n->mem = NULL;
		return -errno;
	}
	n->own_mem = true;
	n->info.mem_size = n->layout.size * n->cfg.queue_pairs;
	r = (struct vh_dev_mem_region){
		.gpa = 0,
		.size = n->info.mem_size,
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
	struct net_ring *r = &n->pairs[q / 2].q[q % 2];
	struct vh_vq_ring_addrs a;
	struct vh_dev_vring vr;
	int err;

	vh_vq_driver_ring_addrs(r->vq, &a);
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
	r->kick_fd = vh_dev_vring_kick_fd(n->dev, q);
	r->call_fd = vh_dev_vring_call_fd(n->dev, q);
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
	net_kick(n, &n->pairs[0].q[VH_NET_RX]);
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
	for (q = 0; err >= 0 && q < 2 * n->cfg.queue_pairs; q++)
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
	unsigned p, q;

	if (!n)
		return;
	/* Detach the tap first so the kernel stops touching the rings (QEMU does the same). */
	if (n->backend_set)
		vh_kernel_net_stop(n->dev, NULL, 0);
	else if (n->dev)
		vh_dev_stop(n->dev, NULL, 0);
	vh_dev_destroy(&n->dev);
	for (p = 0; n->pairs && p < n->cfg.queue_pairs; p++) {
		for (q = 0; q < 2; q++)
			vh_vq_driver_destroy(&n->pairs[p].q[q].vq);
		free(n->pairs[p].tx_free);
		free(n->pairs[p].rx_pend);
		free(n->pairs[p].rx_pend_len);
		free(n->pairs[p].rx_state);
	}
	free(n->pairs);
	if (n->own_mem && n->mem)
		munmap(n->mem, n->info.mem_size);
	if (n->mem_fd >= 0)
		close(n->mem_fd);
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
	return queue < 2 * n->cfg.queue_pairs ? n->pairs[queue / 2].q[queue % 2].call_fd : -1;
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

	if (queue >= 2 * n->cfg.queue_pairs || !n->pairs[queue / 2].q[queue % 2].vq)
		return -EINVAL;
	vh_vq_driver_ring_addrs(n->pairs[queue / 2].q[queue % 2].vq, &a);
	*desc = a.desc_gpa;
	*driver = a.driver_gpa;
	*device = a.device_gpa;
	return 0;
}
