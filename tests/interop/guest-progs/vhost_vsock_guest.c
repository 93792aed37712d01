/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost_vsock_guest: runs inside the interop guest (test_guest_vhost_vsock.sh). The kernel's
 * vhost-vsock is the host side of virtio-vsock; this program plays a VM behind it with libvhost:
 * vh_dev on /dev/vhost-vsock (guest CID 3, running), an RX and a TX ring from vh_vq_driver, and
 * hand-made virtio-vsock packets (struct virtio_vsock_hdr, virtio 1.2 §5.10.6).
 *
 * A thread listens on AF_VSOCK port 5000 in this (the host's) kernel. The "VM" sends OP_REQUEST
 * from 3:1234 to 2:5000 on TX, expects OP_RESPONSE on RX, sends OP_RW with a payload the
 * listener must read byte for byte, and expects the listener's answer as OP_RW on RX.
 */
#define _GNU_SOURCE /* memfd_create */
#include <linux/virtio_config.h>
#include <linux/virtio_vsock.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <vhost/frontend.h>
#include <vhost/kernel.h>
#include <vhost/vq.h>

#include "guest_common.h"

#define GUEST_CID  3u
#define GUEST_PORT 1234u
#define HOST_PORT  5000u
#define NUM	   64u
#define BUF	   4096u
#define RING_SZ	   (64u * 1024)
#define RX_OFF	   (2 * RING_SZ)
#define TX_OFF	   (RX_OFF + NUM * BUF)
#define MEM_SIZE   (TX_OFF + NUM * BUF)

static const char to_host[] = "hello from a libvhost virtio-vsock driver";
static const char to_guest[] = "hello back from the kernel's AF_VSOCK listener";

struct vm {
	struct vh_dev *dev;
	uint8_t *mem;
	int mem_fd;
	struct vh_vq_driver *vq[2]; /* 0 RX, 1 TX */
	int kick[2], call[2];
	unsigned tx_next;
	uint32_t fwd_cnt;
};

struct listener {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool ready;
	int result; /* 0 ok, else the failing step (printed by the thread) */
};

/* ---- the listener in the host kernel ---- */

static void *listen_thread(void *arg)
{
	struct listener *l = arg;
	struct sockaddr_vm a = { .svm_family = AF_VSOCK,
				 .svm_cid = VMADDR_CID_ANY,
				 .svm_port = HOST_PORT };
	char buf[256];
	struct pollfd p;
	ssize_t n;
	int s, c = -1;

	l->result = 1;
	s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 1) < 0) {
		gp_log("listener: socket/bind/listen: %s", strerror(errno));
		goto out;
	}
	pthread_mutex_lock(&l->lock);
	l->ready = true;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
	p = (struct pollfd){ .fd = s, .events = POLLIN };
	if (poll(&p, 1, 10000) != 1 || (c = accept(s, NULL, NULL)) < 0) {
		gp_log("listener: no connection: %s", strerror(errno));
		goto out;
	}
	p = (struct pollfd){ .fd = c, .events = POLLIN };
	if (poll(&p, 1, 10000) != 1 || (n = read(c, buf, sizeof(buf))) < 0) {
		gp_log("listener: no data: %s", strerror(errno));
		goto out;
	}
	if ((size_t)n != sizeof(to_host) || memcmp(buf, to_host, sizeof(to_host))) {
		gp_log("listener: got %zd bytes, not the message", n);
		goto out;
	}
	gp_log("listener: accepted the connection and read the %zu-byte message", sizeof(to_host));
	if (write(c, to_guest, sizeof(to_guest)) != (ssize_t)sizeof(to_guest)) {
		gp_log("listener: write: %s", strerror(errno));
		goto out;
	}
	l->result = 0;
	/* Keep the connection until the main thread has read the answer (it closes us then). */
	p = (struct pollfd){ .fd = c, .events = POLLIN };
	poll(&p, 1, 10000);
out:
	if (c >= 0)
		close(c);
	if (s >= 0)
		close(s);
	if (!l->ready) {
		pthread_mutex_lock(&l->lock);
		l->ready = true;
		pthread_cond_signal(&l->cond);
		pthread_mutex_unlock(&l->lock);
	}
	return NULL;
}

/* ---- the "VM": vh_dev + two driver rings ---- */

static void ring_setup(struct vm *vm, unsigned i)
{
	struct vh_vq_driver_config dc = {
		.num = NUM,
		.name = i ? "vsock tx" : "vsock rx",
		.log = gp_sink(),
		.host = vm->mem,
		.gpa = 0,
		.size = MEM_SIZE,
		.ring_gpa = (uint64_t)i * RING_SZ,
	};
	struct vh_vq_ring_addrs a;
	struct vh_dev_vring vr;

	gp_check(vh_vq_driver_create(&dc, &vm->vq[i]), "vh_vq_driver_create");
	vh_vq_driver_ring_addrs(vm->vq[i], &a);
	vr = (struct vh_dev_vring){ .index = i,
				    .num = NUM,
				    .desc_gpa = a.desc_gpa,
				    .avail_gpa = a.driver_gpa,
				    .used_gpa = a.device_gpa,
				    .kick_fd = -1,
				    .call_fd = -1 };
	gp_check(vh_dev_vring_setup(vm->dev, &vr), "vh_dev_vring_setup");
	vm->kick[i] = vh_dev_vring_kick_fd(vm->dev, i);
	vm->call[i] = vh_dev_vring_call_fd(vm->dev, i);
}

static void kick(struct vm *vm, unsigned i)
{
	uint64_t one = 1;

	if (vh_vq_driver_kick_needed(vm->vq[i]) && write(vm->kick[i], &one, 8) != 8)
		gp_die("kick: %s", strerror(errno));
}

static void rx_add(struct vm *vm, unsigned slot)
{
	struct vh_vq_buf b = { .gpa = RX_OFF + (uint64_t)slot * BUF, .len = BUF };
	struct vh_vq_driver_req r = { .bufs = &b,
				      .in_num = 1,
				      .token = (void *)(uintptr_t)(slot + 1) };

	gp_check(vh_vq_driver_add(vm->vq[0], &r), "rx add");
}

static void vm_open(struct vm *vm)
{
	struct vh_dev_config c = {
		.path = "/dev/vhost-vsock",
		.features = 1ull << VIRTIO_F_VERSION_1,
		.num_queues = 2,
		.name = "vhost-vsock",
		.log = gp_sink(),
	};
	struct vh_dev_ioctl_info ii;
	struct vh_dev_mem_region r;
	unsigned i;

	gp_check(vh_dev_create(&c, &vm->dev), "vh_dev_create /dev/vhost-vsock");
	gp_check(vh_kernel_vsock_set_guest_cid(vm->dev, GUEST_CID), "set guest cid");
	gp_check(vh_dev_ioctl_info(vm->dev, &ii), "vh_dev_ioctl_info");
	gp_log("vh_dev: offered 0x%016llx negotiated 0x%016llx backend offered 0x%llx acked 0x%llx",
	       (unsigned long long)vh_dev_backend_features(vm->dev),
	       (unsigned long long)vh_dev_features(vm->dev),
	       (unsigned long long)ii.backend_features,
	       (unsigned long long)ii.backend_features_acked);
	gp_check(vh_dev_ack_features(vm->dev, vh_dev_features(vm->dev)), "ack features");
	vm->mem_fd = memfd_create("vsock-vm", MFD_CLOEXEC);
	if (vm->mem_fd < 0 || ftruncate(vm->mem_fd, MEM_SIZE) < 0)
		gp_die("memfd: %s", strerror(errno));
	vm->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, vm->mem_fd, 0);
	if (vm->mem == MAP_FAILED)
		gp_die("mmap: %s", strerror(errno));
	r = (struct vh_dev_mem_region){
		.gpa = 0, .size = MEM_SIZE, .host = vm->mem, .fd = vm->mem_fd
	};
	gp_check(vh_dev_mem_begin(vm->dev), "mem begin");
	gp_check(vh_dev_mem_add(vm->dev, &r), "mem add");
	gp_check(vh_dev_mem_commit(vm->dev), "mem commit");
	for (i = 0; i < 2; i++)
		ring_setup(vm, i);
	for (i = 0; i < NUM; i++)
		rx_add(vm, i);
	vh_vq_driver_publish(vm->vq[0]);
	gp_check(vh_dev_start(vm->dev), "vh_dev_start");
	gp_check(vh_kernel_vsock_set_running(vm->dev, true), "set running");
	kick(vm, 0);
}

static void tx_packet(struct vm *vm, uint16_t op, const void *payload, uint32_t len)
{
	unsigned slot = vm->tx_next++ % NUM;
	uint8_t *p = vm->mem + TX_OFF + (uint64_t)slot * BUF;
	struct virtio_vsock_hdr h = {
		.src_cid = htole64(GUEST_CID),
		.dst_cid = htole64(VMADDR_CID_HOST),
		.src_port = htole32(GUEST_PORT),
		.dst_port = htole32(HOST_PORT),
		.len = htole32(len),
		.type = htole16(VIRTIO_VSOCK_TYPE_STREAM),
		.op = htole16(op),
		.buf_alloc = htole32(64 * 1024),
		.fwd_cnt = htole32(vm->fwd_cnt),
	};
	struct vh_vq_buf b = { .gpa = TX_OFF + (uint64_t)slot * BUF,
			       .len = (uint32_t)sizeof(h) + len };
	struct vh_vq_driver_req r = { .bufs = &b,
				      .out_num = 1,
				      .token = (void *)(uintptr_t)(slot + 1) };
	uint32_t used_len;
	void *tok;

	memcpy(p, &h, sizeof(h));
	memcpy(p + sizeof(h), payload, len);
	/* Reap finished transmissions first: the ring never fills in this test. */
	while (vh_vq_driver_get_used(vm->vq[1], &tok, &used_len) == 1)
		;
	gp_check(vh_vq_driver_add(vm->vq[1], &r), "tx add");
	kick(vm, 1);
}

/* Next packet on RX of the kind @op (credit updates and others are skipped). */
static uint32_t rx_packet(struct vm *vm, uint16_t op, struct virtio_vsock_hdr *h, uint8_t *payload)
{
	struct pollfd pf;
	uint32_t len;
	uint64_t v;
	void *tok;
	int r;

	for (;;) {
		r = gp_check(vh_vq_driver_get_used(vm->vq[0], &tok, &len), "rx get_used");
		if (r == 1) {
			unsigned slot = (unsigned)((uintptr_t)tok - 1);
			const uint8_t *p = vm->mem + RX_OFF + (uint64_t)slot * BUF;
			uint32_t plen;

			if (len < sizeof(*h))
				gp_die("rx: %u-byte packet, shorter than the header", len);
			memcpy(h, p, sizeof(*h));
			plen = le32toh(h->len);
			if (plen > len - sizeof(*h))
				gp_die("rx: header says %u payload bytes, buffer holds %zu", plen,
				       len - sizeof(*h));
			memcpy(payload, p + sizeof(*h), plen);
			rx_add(vm, slot);
			kick(vm, 0);
			gp_log("rx: op %u from %llu:%u to %llu:%u len %u", le16toh(h->op),
			       (unsigned long long)le64toh(h->src_cid), le32toh(h->src_port),
			       (unsigned long long)le64toh(h->dst_cid), le32toh(h->dst_port), plen);
			if (le16toh(h->op) == op)
				return plen;
			if (le16toh(h->op) == VIRTIO_VSOCK_OP_RST)
				gp_die("rx: connection reset while waiting for op %u", op);
			continue;
		}
		if (vh_vq_driver_set_notification(vm->vq[0], true) == 1)
			continue;
		pf = (struct pollfd){ .fd = vm->call[0], .events = POLLIN };
		if (poll(&pf, 1, 10000) != 1)
			gp_die("rx: no packet of op %u within 10 s", op);
		if (read(vm->call[0], &v, 8) < 0)
			gp_die("read call fd: %s", strerror(errno));
	}
}

int main(void)
{
	struct listener l = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct virtio_vsock_hdr h;
	uint8_t payload[BUF];
	struct vm vm = { 0 };
	pthread_t t;
	uint32_t n;

	gp_prog = "vhost_vsock_guest";
	gp_probe("/dev/vhost-vsock");
	if (pthread_create(&t, NULL, listen_thread, &l))
		gp_die("pthread_create");
	pthread_mutex_lock(&l.lock);
	while (!l.ready)
		pthread_cond_wait(&l.cond, &l.lock);
	pthread_mutex_unlock(&l.lock);

	vm_open(&vm);
	tx_packet(&vm, VIRTIO_VSOCK_OP_REQUEST, NULL, 0);
	rx_packet(&vm, VIRTIO_VSOCK_OP_RESPONSE, &h, payload);
	if (le64toh(h.src_cid) != VMADDR_CID_HOST || le64toh(h.dst_cid) != GUEST_CID ||
	    le32toh(h.src_port) != HOST_PORT || le32toh(h.dst_port) != GUEST_PORT)
		gp_die("rx: OP_RESPONSE with the wrong addresses");
	gp_log("vsock: OP_REQUEST 3:1234 -> 2:5000 answered by OP_RESPONSE");
	tx_packet(&vm, VIRTIO_VSOCK_OP_RW, to_host, sizeof(to_host));
	n = rx_packet(&vm, VIRTIO_VSOCK_OP_RW, &h, payload);
	gp_expect_bytes(payload, n, to_guest, sizeof(to_guest), "listener's answer");
	vm.fwd_cnt += n;
	gp_log("vsock: OP_RW both ways, %zu and %u bytes, byte for byte", sizeof(to_host), n);
	tx_packet(&vm, VIRTIO_VSOCK_OP_RST, NULL, 0);
	pthread_join(t, NULL);
	if (l.result)
		gp_die("the listener failed");
	gp_check(vh_kernel_vsock_stop(vm.dev, NULL, 0), "vh_kernel_vsock_stop");
	vh_vq_driver_destroy(&vm.vq[0]);
	vh_vq_driver_destroy(&vm.vq[1]);
	vh_dev_destroy(&vm.dev);
	munmap(vm.mem, MEM_SIZE);
	close(vm.mem_fd);
	gp_log("PASS");
	return 0;
}
