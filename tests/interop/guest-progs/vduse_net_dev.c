/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vduse_net_dev: a minimal VDUSE virtio-net device for the interop guest (6.12 kernel), built on
 * libvhost's device side of the ring (struct vh_vq over a struct vh_memmap of the VDUSE IOTLB).
 * Usage: vduse_net_dev NAME MAC   (serves until SIGTERM)
 *
 * Debian's kernels have no vdpa_sim_net, so this is the network device behind vhost-vdpa in
 * test_guest_vhost_vdpa.sh net: every frame on its transmit queue whose destination is its MAC,
 * broadcast or multicast goes back, header included, into its receive queue (the receive filter
 * of the kernel's vDPA network simulator); other unicast frames are dropped. Features:
 * VIRTIO_F_VERSION_1, VIRTIO_F_ACCESS_PLATFORM (VDUSE requires it), MAC, STATUS, MTU.
 */
#define _GNU_SOURCE
#include <linux/vduse.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include <vhost/mem.h>
#include <vhost/vq.h>

#include "guest_common.h"

#define NUM_VQS	 2u
#define VQ_MAX	 256u
#define MAX_MAPS 64u
#define FEATURES                                                             \
	((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_ACCESS_PLATFORM) | \
	 (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS) | (1ull << VIRTIO_NET_F_MTU))

struct map {
	void *host;
	uint64_t size;
};

struct dev {
	int fd;
	int kick[NUM_VQS];
	uint8_t mac[6];
	struct vh_memmap *mm;
	struct map maps[MAX_MAPS];
	unsigned nmaps;
	struct vh_vq *vq[NUM_VQS]; /* NULL until DRIVER_OK */
	uint8_t frame[65536];
	uint64_t looped, dropped;
};

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void create_dev(const char *name, const uint8_t *mac)
{
	/* struct vduse_dev_config ends in the config space (a flexible array). */
	static uint64_t
	    buf[(sizeof(struct vduse_dev_config) + sizeof(struct virtio_net_config)) / 8 + 1];
	struct vduse_dev_config *c = (struct vduse_dev_config *)buf;
	struct virtio_net_config net = {
		.status = htole16(VIRTIO_NET_S_LINK_UP),
		.max_virtqueue_pairs = htole16(1),
		.mtu = htole16(1500),
	};
	uint64_t api = VDUSE_API_VERSION;
	int ctl = open("/dev/vduse/control", O_RDWR | O_CLOEXEC);

	if (ctl < 0 || ioctl(ctl, VDUSE_SET_API_VERSION, &api) < 0)
		gp_die("/dev/vduse/control: %s", strerror(errno));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->device_id = VIRTIO_ID_NET;
	c->features = FEATURES;
	c->vq_num = NUM_VQS;
	c->vq_align = 4096;
	c->config_size = sizeof(net);
	memcpy(net.mac, mac, 6);
	memcpy(c->config, &net, sizeof(net));
	if (ioctl(ctl, VDUSE_CREATE_DEV, c) < 0)
		gp_die("VDUSE_CREATE_DEV: %s", strerror(errno));
	close(ctl);
}

static void open_dev(struct dev *d, const char *name)
{
	char path[300];
	unsigned i, n;

	snprintf(path, sizeof(path), "/dev/vduse/%s", name);
	for (n = 0; (d->fd = open(path, O_RDWR | O_CLOEXEC)) < 0 && n < 100; n++)
		usleep(100000); /* devtmpfs creates the node asynchronously */
	if (d->fd < 0)
		gp_die("open %s: %s", path, strerror(errno));
	for (i = 0; i < NUM_VQS; i++) {
		struct vduse_vq_config vc = { .index = i, .max_size = VQ_MAX };
		struct vduse_vq_eventfd ef = { .index = i };

		d->kick[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ef.fd = d->kick[i];
		if (ioctl(d->fd, VDUSE_VQ_SETUP, &vc) < 0 || d->kick[i] < 0 ||
		    ioctl(d->fd, VDUSE_VQ_SETUP_KICKFD, &ef) < 0)
			gp_die("VDUSE_VQ_SETUP ring %u: %s", i, strerror(errno));
	}
}

static void unmap_all(struct dev *d)
{
	unsigned i;

	for (i = 0; i < NUM_VQS; i++)
		vh_vq_destroy(&d->vq[i]);
	vh_memmap_destroy(&d->mm);
	for (i = 0; i < d->nmaps; i++)
		munmap(d->maps[i].host, d->maps[i].size);
	d->nmaps = 0;
}

/* Map every IOTLB entry of the device (VDUSE_IOTLB_GET_FD walks them by address). */
static void map_all(struct dev *d)
{
	struct vduse_iotlb_entry e = { .start = 0, .last = UINT64_MAX };
	int fd;

	gp_check(vh_memmap_create(NULL, &d->mm), "vh_memmap_create");
	while (d->nmaps < MAX_MAPS && (fd = ioctl(d->fd, VDUSE_IOTLB_GET_FD, &e)) >= 0) {
		uint64_t size = e.last - e.start + 1;
		int prot = (e.perm & VDUSE_ACCESS_RO ? PROT_READ : 0) |
			   (e.perm & VDUSE_ACCESS_WO ? PROT_WRITE : 0);
		void *p = mmap(NULL, size, prot, MAP_SHARED, fd, (off_t)e.offset);
		struct vh_mem_region r;

		close(fd);
		if (p == MAP_FAILED)
			gp_die("mmap iotlb [0x%llx, 0x%llx]: %s", (unsigned long long)e.start,
			       (unsigned long long)e.last, strerror(errno));
		d->maps[d->nmaps++] = (struct map){ .host = p, .size = size };
		r = (struct vh_mem_region){
			.gpa = e.start, .size = size, .uva = (uintptr_t)p, .fd = -1, .host = p
		};
		gp_check(vh_memmap_add(d->mm, &r), "vh_memmap_add");
		if (e.last == UINT64_MAX)
			break;
		e = (struct vduse_iotlb_entry){ .start = e.last + 1, .last = UINT64_MAX };
	}
}

/* DRIVER_OK: map memory, then put each ready ring on the device side of libvhost's ring. */
static void start(struct dev *d)
{
	unsigned i;

	unmap_all(d);
	map_all(d);
	for (i = 0; i < NUM_VQS; i++) {
		struct vduse_vq_info vi = { .index = i };
		struct vh_vq_config vc = { .name = i ? "vduse tx" : "vduse rx" };
		struct vh_vq_layout l;
		struct vh_vq_addrs a;

		if (ioctl(d->fd, VDUSE_VQ_GET_INFO, &vi) < 0)
			gp_die("VDUSE_VQ_GET_INFO: %s", strerror(errno));
		if (!vi.ready)
			continue;
		vc.num = vi.num;
		gp_check(vh_vq_layout(vi.num, false, &l), "vh_vq_layout");
		a.desc = vh_memmap_gpa_to_host(d->mm, vi.desc_addr, l.desc_size);
		a.driver = vh_memmap_gpa_to_host(d->mm, vi.driver_addr, l.driver_size);
		a.device = vh_memmap_gpa_to_host(d->mm, vi.device_addr, l.device_size);
		gp_check(vh_vq_create(&vc, &d->vq[i]), "vh_vq_create");
		gp_check(vh_vq_set_addrs(d->vq[i], &a), "ring addresses outside the IOTLB");
		gp_check(vh_vq_set_base(d->vq[i], vi.split.avail_index), "vh_vq_set_base");
		vh_vq_set_memmap(d->vq[i], d->mm);
	}
	gp_log("DRIVER_OK: %u iotlb maps, rings %s %s", d->nmaps, d->vq[0] ? "rx" : "-",
	       d->vq[1] ? "tx" : "-");
}

static void reply(struct dev *d, const struct vduse_dev_request *rq)
{
	struct vduse_dev_response rs = { .request_id = rq->request_id,
					 .result = VDUSE_REQ_RESULT_OK };

	if (rq->type == VDUSE_GET_VQ_STATE) {
		unsigned i = rq->vq_state.index;

		rs.vq_state.index = i;
		rs.vq_state.split.avail_index =
		    i < NUM_VQS && d->vq[i] ? (uint16_t)vh_vq_get_base(d->vq[i]) : 0;
	} else if (rq->type == VDUSE_SET_STATUS) {
		if (rq->s.status & VIRTIO_CONFIG_S_DRIVER_OK)
			start(d);
		else if (rq->s.status == 0)
			unmap_all(d); /* reset */
	} else if (rq->type == VDUSE_UPDATE_IOTLB) {
		/* Mappings changed: drop ours; they are taken again at DRIVER_OK. */
		if (!d->vq[0] && !d->vq[1])
			unmap_all(d);
		else
			start(d);
	}
	if (write(d->fd, &rs, sizeof(rs)) != sizeof(rs))
		gp_die("write vduse response: %s", strerror(errno));
}

static size_t copy_in(uint8_t *dst, size_t room, const struct iovec *iov, unsigned n)
{
	size_t done = 0, c;
	unsigned i;

	for (i = 0; i < n && done < room; i++) {
		c = iov[i].iov_len < room - done ? iov[i].iov_len : room - done;
		memcpy(dst + done, iov[i].iov_base, c);
		done += c;
	}
	return done;
}

static size_t copy_out(const struct iovec *iov, unsigned n, const uint8_t *src, size_t len)
{
	size_t done = 0, c;
	unsigned i;

	for (i = 0; i < n && done < len; i++) {
		c = iov[i].iov_len < len - done ? iov[i].iov_len : len - done;
		memcpy(iov[i].iov_base, src + done, c);
		done += c;
	}
	return done;
}

static void irq(struct dev *d, unsigned i)
{
	uint32_t idx = i;

	vh_vq_flush(d->vq[i]);
	if (vh_vq_needs_notify(d->vq[i]) && ioctl(d->fd, VDUSE_VQ_INJECT_IRQ, &idx) < 0)
		gp_die("VDUSE_VQ_INJECT_IRQ: %s", strerror(errno));
}

/* The receive filter of vdpa_sim_net: our MAC, broadcast or multicast. */
static bool accept_frame(const struct dev *d, const uint8_t *f, size_t len)
{
	const uint8_t *dst = f + sizeof(struct virtio_net_hdr_mrg_rxbuf);

	if (len < sizeof(struct virtio_net_hdr_mrg_rxbuf) + 6)
		return false;
	return (dst[0] & 1) || memcmp(dst, d->mac, 6) == 0;
}

/* Move every transmitted frame that has a receive buffer waiting. */
static void serve(struct dev *d)
{
	struct iovec tiov[64], riov[64];
	struct vh_vq_elem t = { .iov = tiov, .max_iov = 64 }, r = { .iov = riov, .max_iov = 64 };
	size_t len;
	int rc;

	if (!d->vq[0] || !d->vq[1])
		return;
	while ((rc = vh_vq_pop(d->vq[1], &t)) == 1) {
		len = copy_in(d->frame, sizeof(d->frame), tiov, t.out_num);
		if (accept_frame(d, d->frame, len)) {
			if (gp_check(vh_vq_pop(d->vq[0], &r), "pop rx") != 1) {
				d->dropped++; /* no receive buffer: the frame is lost, as on a wire */
			} else {
				size_t w = copy_out(riov + r.out_num, r.in_num, d->frame, len);

				gp_check(vh_vq_push(d->vq[0], &r, (uint32_t)w), "push rx");
				irq(d, 0);
				d->looped++;
			}
		} else {
			d->dropped++;
		}
		gp_check(vh_vq_push(d->vq[1], &t, 0), "push tx");
		irq(d, 1);
	}
	gp_check(rc, "pop tx");
}

int main(int argc, char **argv)
{
	struct dev *d = calloc(1, sizeof(*d));
	struct pollfd p[1 + NUM_VQS];
	struct vduse_dev_request rq;
	uint64_t v;
	unsigned i;

	gp_prog = "vduse_net_dev";
	if (argc != 3 || !d ||
	    sscanf(argv[2], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &d->mac[0], &d->mac[1], &d->mac[2],
		   &d->mac[3], &d->mac[4], &d->mac[5]) != 6)
		gp_die("usage: vduse_net_dev NAME MAC");
	signal(SIGTERM, on_term);
	create_dev(argv[1], d->mac);
	open_dev(d, argv[1]);
	gp_log("serving %s", argv[1]);
	while (!stop) {
		p[0] = (struct pollfd){ .fd = d->fd, .events = POLLIN };
		for (i = 0; i < NUM_VQS; i++)
			p[1 + i] = (struct pollfd){ .fd = d->kick[i], .events = POLLIN };
		if (poll(p, 1 + NUM_VQS, 1000) < 0) {
			if (errno == EINTR)
				continue;
			gp_die("poll: %s", strerror(errno));
		}
		if (p[0].revents & POLLIN) {
			if (read(d->fd, &rq, sizeof(rq)) == sizeof(rq))
				reply(d, &rq);
		}
		for (i = 0; i < NUM_VQS; i++)
			if (p[1 + i].revents & POLLIN && read(d->kick[i], &v, 8) < 0)
				gp_die("read kick: %s", strerror(errno));
		serve(d);
	}
	gp_log("stopping: %llu frames looped back, %llu dropped", (unsigned long long)d->looped,
	       (unsigned long long)d->dropped);
	unmap_all(d);
	close(d->fd);
	free(d);
	return 0;
}
