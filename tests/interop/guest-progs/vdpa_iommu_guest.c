/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdpa_iommu_guest: runs inside the interop guest (test_guest_vhost_vdpa.sh iommu, 6.12 kernel).
 * Usage: vdpa_iommu_guest /dev/vhost-vdpa-N MAC
 *
 * libvhost's frontend as a VMM with a vIOMMU in front of a vhost-vdpa device (IOVA != GPA): the
 * device is vduse_net_dev (VDUSE, loops frames for its MAC back). Guest RAM is a memfd in
 * 256 KiB chunks at GPA 1 MiB; the "vIOMMU" maps the receive queue's chunk and the transmit
 * queue's chunk at IOVAs that are neither their GPAs nor one offset apart (vh_vdpa_map: one by
 * GPA, one by host address), the rings and buffers are given to the device by IOVA, and every
 * frame must come back byte for byte. Then the device is stopped, the IOVA window unmapped
 * (vh_vdpa_unmap) and two other chunks mapped at other IOVAs, and frames go round again; and once
 * more after the device fd was closed and opened again (vh_dev_reconnect keeps the maps). A map
 * outside the device's IOVA range is refused (-ERANGE) when the range is not the whole 64 bits.
 * Address spaces: with more than one (and the two queues in different groups) the transmit
 * queue's group is moved into asid 1 and its chunk mapped there; a device with one address space
 * (VDUSE in 6.12) is reported, and that path is the unit test's (test_vdpa_iommu).
 */
#define _GNU_SOURCE
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <vhost/frontend.h>
#include <vhost/kernel.h>
#include <vhost/vq.h>

#include "guest_common.h"

#define GPA_BASE 0x100000ull
#define CHUNK	 0x40000ull /* 256 KiB: one queue's ring and buffers */
#define NCHUNKS	 4u
#define QNUM	 64u
#define BUF	 2048u
#define HDR	 sizeof(struct virtio_net_hdr_mrg_rxbuf)
#define FRAMES	 8u

struct queue {
	unsigned chunk;
	uint64_t iova;
	struct vh_vq_driver *d;
	uint64_t buf_iova;
	uint8_t *buf;
};

struct vm {
	struct vh_dev *dev;
	uint8_t *ram;
	uint8_t mac[6];
	struct vh_dev_ioctl_info ii;
	uint32_t tx_asid;
	struct queue q[2]; /* 0 = receive, 1 = transmit (virtio 1.2 §5.1.2) */
};

static uint8_t *chunk_host(struct vm *vm, unsigned c)
{
	return vm->ram + (size_t)c * CHUNK;
}

/* Lay out queue @i's ring and buffers in its chunk, as the device sees it (at q->iova). */
static void queue_init(struct vm *vm, unsigned i)
{
	struct queue *q = &vm->q[i];
	struct vh_vq_layout l;
	struct vh_vq_ring_addrs a;
	struct vh_vq_driver_config c = {
		.num = QNUM,
		.name = i ? "tx" : "rx",
		.log = gp_sink(),
		.host = chunk_host(vm, q->chunk),
		.gpa = q->iova, /* the driver's "guest address" is the IOVA: that is what it uses */
		.size = CHUNK,
		.ring_gpa = q->iova,
	};
	struct vh_dev_vring vr = { .index = i, .num = QNUM, .kick_fd = -1, .call_fd = -1 };

	gp_check(vh_vq_layout(QNUM, false, &l), "vh_vq_layout");
	vh_vq_driver_destroy(&q->d);
	memset(c.host, 0, CHUNK);
	gp_check(vh_vq_driver_create(&c, &q->d), "vh_vq_driver_create");
	vh_vq_driver_ring_addrs(q->d, &a);
	q->buf_iova = q->iova + ((l.size + 4095) & ~4095ull);
	q->buf = chunk_host(vm, q->chunk) + (q->buf_iova - q->iova);
	if (q->buf_iova + (uint64_t)QNUM * BUF > q->iova + CHUNK)
		gp_die("chunk too small");
	vr.desc_gpa = a.desc_gpa;
	vr.avail_gpa = a.driver_gpa;
	vr.used_gpa = a.device_gpa;
	gp_check(vh_dev_vring_setup(vm->dev, &vr), "vh_dev_vring_setup");
	gp_log("ring %u (%s): chunk %u gpa 0x%llx -> iova 0x%llx, desc at iova 0x%llx", i, c.name,
	       q->chunk, (unsigned long long)(GPA_BASE + q->chunk * CHUNK),
	       (unsigned long long)q->iova, (unsigned long long)a.desc_gpa);
}

/* The vIOMMU maps both chunks: the receive one by GPA, the transmit one by host address. */
static void map_queues(struct vm *vm)
{
	struct vh_vdpa_map m[2] = {
		{ .asid = 0,
		  .iova = vm->q[0].iova,
		  .size = CHUNK,
		  .gpa = GPA_BASE + vm->q[0].chunk * CHUNK,
		  .perm = VH_DEV_ACCESS_RW },
		{ .asid = vm->tx_asid,
		  .iova = vm->q[1].iova,
		  .size = CHUNK,
		  .host = chunk_host(vm, vm->q[1].chunk),
		  .perm = VH_DEV_ACCESS_RW },
	};

	gp_check(vh_vdpa_map(vm->dev, m, 2), "vh_vdpa_map");
}

static int reap(struct vm *vm, unsigned i, uint32_t *len, int ms)
{
	void *token;
	int r;

	for (int t = 0; t < ms; t++) {
		r = gp_check(vh_vq_driver_get_used(vm->q[i].d, &token, len), "get_used");
		if (r)
			return (int)(uintptr_t)token;
		usleep(1000);
	}
	gp_die("ring %u: no completion in %d ms", i, ms);
}

/* Send @FRAMES frames to the device's MAC; each must come back into a receive buffer. */
static void loop_frames(struct vm *vm, unsigned round)
{
	struct queue *rx = &vm->q[0], *tx = &vm->q[1];
	uint32_t len;

	for (unsigned k = 0; k < FRAMES; k++)
		gp_check(vh_vq_driver_add_one(rx->d, rx->buf_iova + k * BUF, BUF, true,
					      (void *)(uintptr_t)(k + 1)),
			 "add rx");
	vh_vq_driver_publish(rx->d);
	gp_check(vh_dev_vring_kick(vm->dev, 0), "kick rx");
	for (unsigned k = 0; k < FRAMES; k++) {
		size_t flen = 60 + k * 180 + round * 7;
		uint8_t *f = tx->buf + k * BUF;
		int slot;

		memset(f, 0, HDR);
		gp_fill(f + HDR, flen, round * 100 + k);
		memcpy(f + HDR, vm->mac, 6);
		gp_check(vh_vq_driver_add_one(tx->d, tx->buf_iova + k * BUF, (uint32_t)(HDR + flen),
					      false, (void *)(uintptr_t)(k + 1)),
			 "add tx");
		vh_vq_driver_publish(tx->d);
		gp_check(vh_dev_vring_kick(vm->dev, 1), "kick tx");
		if (reap(vm, 1, &len, 5000) != (int)k + 1)
			gp_die("tx: completions out of order");
		slot = reap(vm, 0, &len, 5000);
		gp_expect_bytes(rx->buf + (slot - 1) * BUF, len, f, HDR + flen,
				"frame back through the IOVA mappings");
	}
	gp_log("round %u: %u frames came back byte for byte through iova 0x%llx (rx) and 0x%llx "
	       "(tx, asid %u)",
	       round, FRAMES, (unsigned long long)rx->iova, (unsigned long long)tx->iova,
	       vm->tx_asid);
}

static void open_dev(struct vm *vm, const char *path)
{
	struct vh_dev_config c = {
		.path = path,
		.num_queues = 2,
		.features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_ACCESS_PLATFORM),
		.name = "vdpa-iommu",
		.log = gp_sink(),
	};
	struct vh_dev_mem_region r = { .gpa = GPA_BASE, .size = NCHUNKS * CHUNK };
	uint64_t want = c.features;

	r.fd = memfd_create("guest-ram", MFD_CLOEXEC);
	if (r.fd < 0 || ftruncate(r.fd, (off_t)r.size) < 0)
		gp_die("memfd: %s", strerror(errno));
	/* Shared and file-backed: VDUSE hands the device the file behind each IOVA. */
	vm->ram = mmap(NULL, r.size, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd, 0);
	if (vm->ram == MAP_FAILED)
		gp_die("mmap: %s", strerror(errno));
	r.host = vm->ram;
	gp_check(vh_dev_create(&c, &vm->dev), "vh_dev_create");
	gp_check(vh_dev_ioctl_info(vm->dev, &vm->ii), "vh_dev_ioctl_info");
	gp_log("vdpa: backend features 0x%llx acked 0x%llx, %u groups, %u address spaces, iova "
	       "0x%llx-0x%llx",
	       (unsigned long long)vm->ii.backend_features,
	       (unsigned long long)vm->ii.backend_features_acked, vm->ii.group_num, vm->ii.as_num,
	       (unsigned long long)vm->ii.iova_first, (unsigned long long)vm->ii.iova_last);
	if ((vh_dev_features(vm->dev) & want) != want)
		gp_die("device lacks VERSION_1 | ACCESS_PLATFORM");
	gp_check(vh_dev_ack_features(vm->dev, want), "vh_dev_ack_features");
	gp_check(vh_vdpa_set_iommu(vm->dev, true), "vh_vdpa_set_iommu");
	gp_check(vh_dev_mem_begin(vm->dev), "mem_begin");
	gp_check(vh_dev_mem_add(vm->dev, &r), "mem_add");
	gp_check(vh_dev_mem_commit(vm->dev), "mem_commit");
}

/* IOVAs inside the device's range, never equal to the GPAs: @slot picks one of two windows. */
static uint64_t iova_window(const struct vm *vm, unsigned slot)
{
	uint64_t span = vm->ii.iova_last - vm->ii.iova_first;
	uint64_t step = span >= 0x80000000ull ? 0x40000000ull : 0x400000ull;

	if (span < 3 * step)
		gp_die("iova range 0x%llx-0x%llx too small", (unsigned long long)vm->ii.iova_first,
		       (unsigned long long)vm->ii.iova_last);
	return ((vm->ii.iova_first + step) & ~(step - 1)) + slot * step;
}

/* Address spaces: move the transmit queue's group to asid 1 when the device allows it. */
static void pick_asid(struct vm *vm)
{
	uint32_t g_rx = 0, g_tx = 0;
	int r0 = vh_dev_vring_group(vm->dev, 0, &g_rx), r1 = vh_dev_vring_group(vm->dev, 1, &g_tx);
	int rc;

	gp_log("vdpa groups: rx ring in group %d, tx ring in group %d", r0 < 0 ? r0 : (int)g_rx,
	       r1 < 0 ? r1 : (int)g_tx);
	if (vm->ii.as_num > 1 && r0 == 0 && r1 == 0 && g_rx != g_tx) {
		gp_check(vh_vdpa_set_group_asid(vm->dev, g_tx, 1), "vh_vdpa_set_group_asid");
		vm->tx_asid = 1;
		gp_log("asid: tx group %u moved into address space 1", g_tx);
		return;
	}
	/* The kernel's answer for group 0 -> asid 0 (the only pair this device has). */
	rc = vh_vdpa_set_group_asid(vm->dev, 0, 0);
	if (rc < 0 && rc != -EOPNOTSUPP)
		gp_die("vh_vdpa_set_group_asid(0, 0): %s", strerror(-rc));
	gp_log("asid: the device offers %u address space(s) and %u group(s): ASID selection cannot "
	       "be exercised here (VHOST_VDPA_SET_GROUP_ASID group 0 asid 0: %s); test_vdpa_iommu "
	       "covers it",
	       vm->ii.as_num, vm->ii.group_num, rc < 0 ? strerror(-rc) : "ok");
}

static void check_range(struct vm *vm)
{
	struct vh_vdpa_map m = { .size = 0x2000, .host = vm->ram, .perm = VH_DEV_ACCESS_RW };
	int rc;

	if (vm->ii.iova_last == UINT64_MAX) {
		gp_log("range: the device maps every 64-bit IOVA; the range check is the unit "
		       "test's");
		return;
	}
	m.iova = vm->ii.iova_last - 0xfff;
	rc = vh_vdpa_map(vm->dev, &m, 1);
	if (rc != -ERANGE)
		gp_die("a map across the end of the IOVA range gave %d, not -ERANGE", rc);
	gp_log("range: a map across iova 0x%llx was refused (-ERANGE)",
	       (unsigned long long)vm->ii.iova_last);
}

int main(int argc, char **argv)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	static struct vm vm;
	uint64_t w;

	gp_prog = "vdpa_iommu_guest";
	if (argc != 3 || sscanf(argv[2], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &vm.mac[0], &vm.mac[1],
				&vm.mac[2], &vm.mac[3], &vm.mac[4], &vm.mac[5]) != 6)
		gp_die("usage: vdpa_iommu_guest /dev/vhost-vdpa-N MAC");
	if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0)
		gp_log("setrlimit MEMLOCK: %s (continuing)", strerror(errno));
	gp_probe(argv[1]);
	open_dev(&vm, argv[1]);
	check_range(&vm);
	pick_asid(&vm);

	/* Round 0: rx chunk 0 high in the window, tx chunk 1 at its start (not one offset). */
	w = iova_window(&vm, 0);
	vm.q[0] = (struct queue){ .chunk = 0, .iova = w + 3 * CHUNK };
	vm.q[1] = (struct queue){ .chunk = 1, .iova = w };
	map_queues(&vm);
	queue_init(&vm, 0);
	queue_init(&vm, 1);
	gp_check(vh_dev_start(vm.dev), "vh_dev_start");
	loop_frames(&vm, 0);
	gp_check(vh_dev_stop(vm.dev, NULL, 0), "vh_dev_stop");

	/* Round 1: the vIOMMU drops the window and maps chunks 2 and 3 elsewhere. */
	gp_check(vh_vdpa_unmap(vm.dev, 0, w, 4 * CHUNK), "vh_vdpa_unmap asid 0");
	if (vm.tx_asid)
		gp_check(vh_vdpa_unmap(vm.dev, vm.tx_asid, w, 4 * CHUNK), "vh_vdpa_unmap asid 1");
	w = iova_window(&vm, 1);
	vm.q[0].chunk = 2;
	vm.q[0].iova = w + CHUNK;
	vm.q[1].chunk = 3;
	vm.q[1].iova = w + 6 * CHUNK;
	map_queues(&vm);
	queue_init(&vm, 0);
	queue_init(&vm, 1);
	gp_check(vh_dev_start(vm.dev), "vh_dev_start again");
	loop_frames(&vm, 1);
	gp_check(vh_dev_stop(vm.dev, NULL, 0), "vh_dev_stop");

	/* Round 2: a reopened device fd (vh_dev_reconnect) gets the same maps from the library. */
	gp_check(vh_dev_reconnect(vm.dev), "vh_dev_reconnect");
	queue_init(&vm, 0);
	queue_init(&vm, 1);
	gp_check(vh_dev_start(vm.dev), "vh_dev_start after reopen");
	loop_frames(&vm, 2);
	gp_check(vh_dev_stop(vm.dev, NULL, 0), "vh_dev_stop");
	vh_vq_driver_destroy(&vm.q[0].d);
	vh_vq_driver_destroy(&vm.q[1].d);
	vh_dev_destroy(&vm.dev);
	gp_log("PASS");
	return 0;
}
