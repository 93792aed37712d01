// SPDX-License-Identifier: BSD-3-Clause
/*
 * vhost-user transport of struct vh_dev (QEMU docs/interop/vhost-user.rst): every generic vhost
 * operation is one request on the unix socket; replies are awaited with the device timeout and
 * validated (request, flags, size, fds) before anything reads them. A reply that breaks the
 * protocol, or bytes the backend sends unasked on the main channel, make the device broken.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vhost/proto.h>
#include <vhost/sock.h>

#include "frontend/dev_internal.h"
#include "frontend/user.h"

static bool vu_has(const struct vh_dev *dev, unsigned pf)
{
	return dev->protocol_features & (1ull << pf);
}

/*
 * The main channel carries only replies to our requests (vhost-user.rst "Communication"): any
 * byte waiting before a request, or left after a reply, is a broken peer; an EOF is a hang-up.
 */
static int vu_check_quiet(struct vh_dev *dev, const char *req, const char *when)
{
	struct pollfd pfd = { .fd = dev->fd, .events = POLLIN };
	char c;
	ssize_t n;
	int err;

	if (poll(&pfd, 1, 0) <= 0)
		return 0;
	n = recv(dev->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n > 0) {
		vh_dev_err(dev, req, -EPROTO, "unexpected bytes from the backend %s", when);
		return vh_dev_set_broken(dev, -EPROTO);
	}
	err = n == 0 ? -ECONNRESET : -errno;
	vh_dev_err(dev, req, err, "backend hung up %s", when);
	return vh_dev_set_broken(dev, err);
}

int vh_user_recv_reply(struct vh_dev *dev, const struct vh_msg *m, struct vh_msg *r)
{
	const char *req = vh_proto_request_name(m->hdr.request);
	int err;

	err = vh_sock_recv(dev->fd, r, dev->timeout_ms);
	if (err == -EMSGSIZE)
		err = -EPROTO; /* a header announcing more than any reply carries */
	if (err < 0) {
		vh_dev_err(dev, req, err, "receive reply");
		return vh_dev_set_broken(dev, err);
	}
	err = vh_proto_validate_reply(&m->hdr, &r->hdr, &r->payload, r->hdr.size, r->nfds);
	if (err < 0) {
		vh_dev_err(dev, req, -EPROTO,
			   "invalid reply (request %" PRIu32 " flags 0x%" PRIx32 " size %" PRIu32
			   ", %u fds)",
			   r->hdr.request, r->hdr.flags, r->hdr.size, r->nfds);
		vh_msg_close_fds(r);
		return vh_dev_set_broken(dev, -EPROTO);
	}
	err = vu_check_quiet(dev, req, "after its reply");
	if (err < 0)
		vh_msg_close_fds(r);
	return err;
}

int vh_user_exchange(struct vh_dev *dev, struct vh_msg *m, struct vh_msg *reply)
{
	const char *req = vh_proto_request_name(m->hdr.request);
	struct vh_msg ack, *r = reply ? reply : &ack;
	int err = vh_dev_usable(dev);

	if (err < 0)
		return err;
	if (!vh_proto_reply_expected(false, &m->hdr) && vu_has(dev, VH_USER_PROTOCOL_F_REPLY_ACK))
		m->hdr.flags |= VH_USER_FLAG_NEED_REPLY;
	err = vu_check_quiet(dev, req, "before a request");
	if (err < 0)
		return err;
	err = vh_sock_send(dev->fd, m);
	if (err < 0) {
		vh_dev_err(dev, req, err, "send");
		return vh_dev_set_broken(dev, err);
	}
	if (!vh_proto_reply_expected(false, &m->hdr))
		return 0;
	err = vh_user_recv_reply(dev, m, r);
	if (err < 0 || reply)
		return err;
	/* REPLY_ACK: u64 0 is success; anything else is the backend refusing the request. */
	if (ack.payload.u64) {
		vh_dev_err(dev, req, -EIO, "backend failed the request (status 0x%" PRIx64 ")",
			   ack.payload.u64);
		return -EIO;
	}
	return 0;
}

static int vu_simple(struct vh_dev *dev, uint32_t request)
{
	struct vh_msg m;

	vh_msg_init(&m, request, 0, 0);
	return vh_user_exchange(dev, &m, NULL);
}

static int vu_get_u64(struct vh_dev *dev, uint32_t request, uint64_t *v)
{
	struct vh_msg m, r;
	int err;

	vh_msg_init(&m, request, 0, 0);
	err = vh_user_exchange(dev, &m, &r);
	if (err < 0)
		return err;
	*v = r.payload.u64;
	return 0;
}

static int vu_set_u64(struct vh_dev *dev, uint32_t request, uint64_t v)
{
	struct vh_msg m;

	vh_msg_init(&m, request, 0, sizeof(v));
	m.payload.u64 = v;
	return vh_user_exchange(dev, &m, NULL);
}

static int vu_set_state(struct vh_dev *dev, uint32_t request, const struct vhost_vring_state *s)
{
	struct vh_msg m;

	vh_msg_init(&m, request, 0, sizeof(*s));
	m.payload.state = *s;
	return vh_user_exchange(dev, &m, NULL);
}

static int vu_set_file(struct vh_dev *dev, uint32_t request, const struct vhost_vring_file *f)
{
	struct vh_msg m;

	vh_msg_init(&m, request, 0, sizeof(uint64_t));
	m.payload.u64 = f->index & VH_USER_VRING_IDX_MASK;
	if (f->fd < 0) {
		m.payload.u64 |= VH_USER_VRING_NOFD_MASK;
	} else {
		m.fds[0] = f->fd;
		m.nfds = 1;
	}
	return vh_user_exchange(dev, &m, NULL);
}

/* ---- connection and handshake ------------------------------------------------------------- */

static int vu_connect(struct vh_dev *dev)
{
	struct pollfd pfd;
	int err, n;

	if (!dev->cfg.server) {
		err = vh_sock_connect(dev->path, &dev->fd);
		if (err < 0)
			vh_dev_err(dev, "connect", err, "%s", dev->path);
		return err;
	}
	if (dev->listen_fd < 0) {
		err = vh_sock_listen(dev->path, &dev->listen_fd);
		if (err < 0) {
			vh_dev_err(dev, "listen", err, "%s", dev->path);
			return err;
		}
	}
	pfd = (struct pollfd){ .fd = dev->listen_fd, .events = POLLIN };
	do
		n = poll(&pfd, 1, dev->timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		err = n == 0 ? -ETIMEDOUT : -errno;
		vh_dev_err(dev, "accept", err, "no backend connected to %s", dev->path);
		return err;
	}
	err = vh_sock_accept(dev->listen_fd, &dev->fd);
	if (err < 0)
		vh_dev_err(dev, "accept", err, "%s", dev->path);
	return err;
}

static int vu_negotiate_protocol(struct vh_dev *dev)
{
	uint64_t offered, want = dev->cfg.protocol_features, v;
	int err;

	err = vu_get_u64(dev, VH_USER_GET_PROTOCOL_FEATURES, &offered);
	if (err < 0)
		return err;
	dev->backend_protocol_features = offered;
	if (!want)
		want = VH_DEV_PROTOCOL_SUPPORTED & ~VH_DEV_PROTOCOL_OPT_IN;
	want &= VH_DEV_PROTOCOL_SUPPORTED & offered;
	/* vhost-user.rst: in-band notifications need the back-end channel and REPLY_ACK. */
	if (~want &
	    ((1ull << VH_USER_PROTOCOL_F_BACKEND_REQ) | (1ull << VH_USER_PROTOCOL_F_REPLY_ACK)))
		want &= ~(1ull << VH_USER_PROTOCOL_F_INBAND_NOTIFICATIONS);
	/* Back-end areas come with an fd on the back-end channel. */
	if (~want & ((1ull << VH_USER_PROTOCOL_F_BACKEND_REQ) |
		     (1ull << VH_USER_PROTOCOL_F_BACKEND_SEND_FD)))
		want &= ~((1ull << VH_USER_PROTOCOL_F_HOST_NOTIFIER) |
			  (1ull << VH_USER_PROTOCOL_F_SHMEM));
	/* ... and a suspended ring's requests live in the inflight region. */
	if (!(want & (1ull << VH_USER_PROTOCOL_F_INFLIGHT_SHMFD)))
		want &= ~(1ull << VH_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT);
	err = vu_set_u64(dev, VH_USER_SET_PROTOCOL_FEATURES, want);
	if (err < 0)
		return err;
	dev->protocol_features = want;
	if (vu_has(dev, VH_USER_PROTOCOL_F_MQ)) {
		err = vu_get_u64(dev, VH_USER_GET_QUEUE_NUM, &v);
		if (err < 0)
			return err;
		if (v == 0) {
			vh_dev_err(dev, "VHOST_USER_GET_QUEUE_NUM", -EPROTO,
				   "backend reports no queue");
			return vh_dev_set_broken(dev, -EPROTO);
		}
		/* DPDK's vhost library reports 128: more than a device here can use. */
		dev->max_queues = (unsigned)VH_MIN(v, (uint64_t)VH_DEV_MAX_QUEUES);
	}
	if (vu_has(dev, VH_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS)) {
		err = vu_get_u64(dev, VH_USER_GET_MAX_MEM_SLOTS, &v);
		if (err < 0)
			return err;
		if (v == 0) {
			vh_dev_err(dev, "VHOST_USER_GET_MAX_MEM_SLOTS", -EPROTO,
				   "backend has no memory slot");
			return vh_dev_set_broken(dev, -EPROTO);
		}
		dev->max_mem_slots = (unsigned)VH_MIN(v, (uint64_t)VH_MEM_MAX_REGIONS);
	}
	if (vu_has(dev, VH_USER_PROTOCOL_F_BACKEND_REQ))
		return vh_user_chan_open(dev);
	return 0;
}

static void vu_close(struct vh_dev *dev)
{
	vh_user_areas_free(dev);
	vh_dev_postcopy_reset(dev);
	if (dev->fd >= 0)
		close(dev->fd);
	if (dev->chan_fd >= 0)
		close(dev->chan_fd);
	dev->fd = -1;
	dev->chan_fd = -1;
}

static int vu_open(struct vh_dev *dev)
{
	uint64_t features;
	int err;

	dev->protocol_features = 0;
	dev->backend_protocol_features = 0;
	dev->max_queues = dev->cfg.num_queues;
	dev->max_mem_slots = VH_USER_MEM_MAX_REGIONS;
	err = vu_connect(dev);
	if (err < 0)
		return err;
	err = vu_get_u64(dev, VH_USER_GET_FEATURES, &features);
	if (!err && (features & (1ull << VH_USER_F_PROTOCOL_FEATURES)))
		err = vu_negotiate_protocol(dev);
	if (!err)
		err = vh_user_shmem_fetch(dev);
	if (err < 0) {
		vu_close(dev);
		return err;
	}
	return 0;
}

/* ---- generic operations ------------------------------------------------------------------- */

static int vu_set_owner(struct vh_dev *dev)
{
	return vu_simple(dev, VH_USER_SET_OWNER);
}

static int vu_get_features(struct vh_dev *dev, uint64_t *features)
{
	return vu_get_u64(dev, VH_USER_GET_FEATURES, features);
}

static int vu_set_features(struct vh_dev *dev, uint64_t features)
{
	/* vhost-user.rst: the front-end acks PROTOCOL_FEATURES when the back-end offered it. */
	features |= dev->backend_features & (1ull << VH_USER_F_PROTOCOL_FEATURES);
	return vu_set_u64(dev, VH_USER_SET_FEATURES, features);
}

/* GPA_ADDRESSES: the "user address" of a region is its guest address (no process layout leaks). */
static void vu_region(const struct vh_dev *dev, struct vh_user_mem_region *w,
		      const struct vh_memtable_region *r)
{
	w->guest_phys_addr = r->gpa;
	w->memory_size = r->size;
	w->userspace_addr = vh_dev_gpa_addresses(dev) ? r->gpa : r->host;
	w->mmap_offset = r->fd_offset;
}

static int vu_mem_reg(struct vh_dev *dev, uint32_t request, const struct vh_memtable_region *r)
{
	struct vh_msg m;

	vh_msg_init(&m, request, 0, sizeof(struct vh_user_mem_reg));
	vu_region(dev, &m.payload.mem_reg.region, r);
	if (request == VH_USER_ADD_MEM_REG) {
		m.fds[0] = r->fd;
		m.nfds = 1;
	}
	if (dev->postcopy == VH_DEV_POSTCOPY_LISTENING)
		return vh_user_postcopy_exchange(dev, &m);
	return vh_user_exchange(dev, &m, NULL);
}

/* Region @i of what vu_mem_incremental() adds: the whole table (fresh) or the difference. */
static const struct vh_memtable_region *vu_mem_added(const struct vh_memtable *t, bool fresh,
						     unsigned i)
{
	return fresh ? vh_memtable_region(t, i) : vh_memtable_added(t, i);
}

/*
 * The backend applied @nrem removals and @nadd additions of a sequence, then refused the next
 * one: take them back, newest first, so its table is the one it had before the commit (which
 * the caller reverts to). If that fails too, nobody knows what the backend holds: the device is
 * broken, and vh_dev_reconnect() sends the whole table to a fresh connection.
 */
static void vu_mem_undo(struct vh_dev *dev, const struct vh_memtable *t, bool fresh, unsigned nrem,
			unsigned nadd)
{
	int err = 0;

	while (!err && nadd)
		err = vu_mem_reg(dev, VH_USER_REM_MEM_REG, vu_mem_added(t, fresh, --nadd));
	while (!err && nrem)
		err = vu_mem_reg(dev, VH_USER_ADD_MEM_REG, vh_memtable_removed(t, --nrem));
	if (err < 0) {
		vh_dev_err(dev, "VHOST_USER_ADD_MEM_REG", -EPROTO,
			   "cannot restore the backend's memory table");
		vh_dev_set_broken(dev, -EPROTO);
	}
}

/* CONFIGURE_MEM_SLOTS: remove what went away first, so the slots are free for what comes. */
static int vu_mem_incremental(struct vh_dev *dev, const struct vh_memtable *t, bool fresh)
{
	const struct vh_memtable_region *r;
	unsigned nrem = 0, nadd = 0;
	int err = 0;

	while (!fresh && !err && (r = vh_memtable_removed(t, nrem))) {
		err = vu_mem_reg(dev, VH_USER_REM_MEM_REG, r);
		nrem += err == 0;
	}
	while (!err && (r = vu_mem_added(t, fresh, nadd))) {
		err = vu_mem_reg(dev, VH_USER_ADD_MEM_REG, r);
		nadd += err == 0;
	}
	if (err < 0 && !dev->broken)
		vu_mem_undo(dev, t, fresh, nrem, nadd);
	return err;
}

static int vu_set_mem_table(struct vh_dev *dev, const struct vh_memtable *t, bool fresh)
{
	unsigned n = vh_memtable_count(t);
	struct vh_msg m, r;
	int err;

	if (vu_has(dev, VH_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS))
		return vu_mem_incremental(dev, t, fresh);
	if (n > VH_USER_MEM_MAX_REGIONS) {
		vh_dev_err(dev, "VHOST_USER_SET_MEM_TABLE", -E2BIG, "%u regions", n);
		return -E2BIG;
	}
	vh_msg_init(&m, VH_USER_SET_MEM_TABLE, 0,
		    VH_USER_MEM_TABLE_HDR_SIZE + n * sizeof(struct vh_user_mem_region));
	m.payload.mem.nregions = n;
	for (unsigned i = 0; i < n; i++) {
		vu_region(dev, &m.payload.mem.regions[i], vh_memtable_region(t, i));
		m.fds[i] = vh_memtable_region(t, i)->fd;
	}
	m.nfds = n;
	if (dev->postcopy == VH_DEV_POSTCOPY_LISTENING)
		return vh_user_postcopy_exchange(dev, &m);
	if (!vu_has(dev, VH_USER_PROTOCOL_F_REPLY_ACK))
		return vh_user_exchange(dev, &m, NULL);
	/* The reply may be the REPLY_ACK u64 or (postcopy) a table: only the u64 is ours. */
	m.hdr.flags |= VH_USER_FLAG_NEED_REPLY;
	err = vh_user_exchange(dev, &m, &r);
	if (err < 0)
		return err;
	if (r.hdr.size != sizeof(uint64_t) || r.payload.u64) {
		vh_dev_err(dev, "VHOST_USER_SET_MEM_TABLE", -EIO, "backend refused the table");
		return -EIO;
	}
	return 0;
}

static int vu_set_vring_num(struct vh_dev *dev, const struct vhost_vring_state *s)
{
	return vu_set_state(dev, VH_USER_SET_VRING_NUM, s);
}

static int vu_set_vring_base(struct vh_dev *dev, const struct vhost_vring_state *s)
{
	return vu_set_state(dev, VH_USER_SET_VRING_BASE, s);
}

static int vu_get_vring_base(struct vh_dev *dev, struct vhost_vring_state *s)
{
	struct vh_msg m, r;
	int err;

	vh_msg_init(&m, VH_USER_GET_VRING_BASE, 0, sizeof(*s));
	m.payload.state = *s;
	err = vh_user_exchange(dev, &m, &r);
	if (err < 0)
		return err;
	if (r.payload.state.index != s->index) {
		vh_dev_err(dev, "VHOST_USER_GET_VRING_BASE", -EPROTO,
			   "reply for ring %u, asked for ring %u", r.payload.state.index, s->index);
		return vh_dev_set_broken(dev, -EPROTO);
	}
	s->num = r.payload.state.num;
	return 0;
}

static int vu_set_vring_addr(struct vh_dev *dev, const struct vhost_vring_addr *a)
{
	struct vh_msg m;

	vh_msg_init(&m, VH_USER_SET_VRING_ADDR, 0, sizeof(*a));
	m.payload.addr = *a;
	return vh_user_exchange(dev, &m, NULL);
}

/* In band, kicks and calls travel as messages: the back-end gets no eventfd (NOFD). */
static int vu_set_notify_file(struct vh_dev *dev, uint32_t req, const struct vhost_vring_file *f)
{
	struct vhost_vring_file nofd = { .index = f->index, .fd = -1 };

	return vu_set_file(dev, req,
			   vu_has(dev, VH_USER_PROTOCOL_F_INBAND_NOTIFICATIONS) ? &nofd : f);
}

static int vu_set_vring_kick(struct vh_dev *dev, const struct vhost_vring_file *f)
{
	return vu_set_notify_file(dev, VH_USER_SET_VRING_KICK, f);
}

static int vu_set_vring_call(struct vh_dev *dev, const struct vhost_vring_file *f)
{
	return vu_set_notify_file(dev, VH_USER_SET_VRING_CALL, f);
}

static int vu_vring_kick(struct vh_dev *dev, unsigned index)
{
	struct vhost_vring_state s = { .index = index, .num = 0 };

	/* HOST_NOTIFIER: the back-end watches the page it handed over, not the eventfd. */
	if (vh_user_notifier_kick(dev, index))
		return 0;
	if (!vu_has(dev, VH_USER_PROTOCOL_F_INBAND_NOTIFICATIONS))
		return -EOPNOTSUPP;
	return vu_set_state(dev, VH_USER_VRING_KICK, &s);
}

static int vu_set_vring_err(struct vh_dev *dev, const struct vhost_vring_file *f)
{
	return vu_set_notify_file(dev, VH_USER_SET_VRING_ERR, f);
}

static int vu_set_log_base(struct vh_dev *dev, struct vh_log_buf *log)
{
	struct vh_msg m, r;
	int err;

	if (!vu_has(dev, VH_USER_PROTOCOL_F_LOG_SHMFD)) {
		vh_dev_err(dev, "VHOST_USER_SET_LOG_BASE", -EOPNOTSUPP, "LOG_SHMFD not negotiated");
		return -EOPNOTSUPP;
	}
	vh_msg_init(&m, VH_USER_SET_LOG_BASE, 0, sizeof(struct vh_user_log));
	m.payload.log.mmap_size = vh_log_buf_size(log);
	m.payload.log.mmap_offset = 0;
	m.fds[0] = vh_log_buf_fd(log);
	m.nfds = 1;
	/* With LOG_SHMFD the back-end answers once it uses the new log (empty or a u64). */
	err = vh_user_exchange(dev, &m, &r);
	if (err < 0)
		return err;
	/*
	 * The reply is an acknowledgement only: its u64 carries no status. libvhost-user (QEMU's
	 * qemu-storage-daemon) echoes the request payload, so the u64 is the log's mmap_size; QEMU
	 * ignores it too (driver helper: found by tests/interop/test_qsd_blk.sh dirtylog).
	 */
	(void)r;
	return 0;
}

/* Event loop: the back-end channel, or the main socket (readable = hang-up or garbage). */
static int vu_event_fd(const struct vh_dev *dev)
{
	return dev->chan_fd >= 0 ? dev->chan_fd : dev->fd;
}

static int vu_dispatch(struct vh_dev *dev)
{
	/* The back-end died: its main socket reads EOF even when no channel was negotiated. */
	int err = vu_check_quiet(dev, "dispatch", "between requests");

	return err < 0 ? err : vh_user_dispatch(dev);
}

static int vu_send_iotlb_msg(struct vh_dev *dev, const struct vhost_iotlb_msg *im)
{
	struct vh_msg m;

	/* Field by field: the struct's padding stays zero on the wire (no stack bytes leak). */
	vh_msg_init(&m, VH_USER_IOTLB_MSG, 0, sizeof(*im));
	m.payload.iotlb.iova = im->iova;
	m.payload.iotlb.size = im->size;
	m.payload.iotlb.uaddr = im->uaddr;
	/* GPA_ADDRESSES: the update's user address is in the regions' (guest) address space. */
	if (vh_dev_gpa_addresses(dev) && im->type == VHOST_IOTLB_UPDATE) {
		uint64_t gpa;

		if (vh_dev_uva_to_gpa(dev, im->uaddr, im->size, &gpa) < 0) {
			vh_dev_err(dev, "VHOST_USER_IOTLB_MSG", -EFAULT,
				   "uaddr 0x%" PRIx64 " + %" PRIu64 " is not inside one region",
				   (uint64_t)im->uaddr, (uint64_t)im->size);
			return -EFAULT;
		}
		m.payload.iotlb.uaddr = gpa;
	}
	m.payload.iotlb.perm = im->perm;
	m.payload.iotlb.type = im->type;
	return vh_user_exchange(dev, &m, NULL);
}

static int vu_set_vring_enable(struct vh_dev *dev, unsigned index, bool enable)
{
	struct vhost_vring_state s = { .index = index, .num = enable };

	/* Without PROTOCOL_FEATURES a ring is enabled by its kick (vhost-user.rst "Rings"). */
	if (!(dev->backend_features & (1ull << VH_USER_F_PROTOCOL_FEATURES)))
		return -EOPNOTSUPP;
	return vu_set_state(dev, VH_USER_SET_VRING_ENABLE, &s);
}

static int vu_set_status(struct vh_dev *dev, uint8_t status)
{
	if (!vu_has(dev, VH_USER_PROTOCOL_F_STATUS))
		return -EOPNOTSUPP;
	return vu_set_u64(dev, VH_USER_SET_STATUS, status);
}

static int vu_reset_device(struct vh_dev *dev)
{
	if (!vu_has(dev, VH_USER_PROTOCOL_F_RESET_DEVICE))
		return -EOPNOTSUPP;
	return vu_simple(dev, VH_USER_RESET_DEVICE);
}

static int vu_get_config(struct vh_dev *dev, uint32_t offset, void *buf, uint32_t len)
{
	struct vh_msg m, r;
	int err;

	if (!vu_has(dev, VH_USER_PROTOCOL_F_CONFIG))
		return -EOPNOTSUPP;
	vh_msg_init(&m, VH_USER_GET_CONFIG, 0, VH_USER_CONFIG_HDR_SIZE + len);
	m.payload.config.offset = offset;
	m.payload.config.size = len;
	err = vh_user_exchange(dev, &m, &r);
	if (err < 0)
		return err;
	if (r.hdr.size == 0) {
		/* The back-end refused this read (e.g. past its config struct); the link is fine. */
		vh_dev_err(dev, "VHOST_USER_GET_CONFIG", -EIO,
			   "back-end refused %" PRIu32 " bytes at %" PRIu32, len, offset);
		return -EIO;
	}
	if (r.payload.config.size != len || r.payload.config.offset != offset) {
		vh_dev_err(dev, "VHOST_USER_GET_CONFIG", -EPROTO,
			   "reply has %" PRIu32 " bytes at %" PRIu32 ", asked %" PRIu32
			   " at %" PRIu32,
			   r.payload.config.size, r.payload.config.offset, len, offset);
		return vh_dev_set_broken(dev, -EPROTO);
	}
	memcpy(buf, r.payload.config.region, len);
	return 0;
}

static int vu_set_config(struct vh_dev *dev, uint32_t offset, const void *buf, uint32_t len)
{
	struct vh_msg m;

	if (!vu_has(dev, VH_USER_PROTOCOL_F_CONFIG))
		return -EOPNOTSUPP;
	vh_msg_init(&m, VH_USER_SET_CONFIG, 0, VH_USER_CONFIG_HDR_SIZE + len);
	m.payload.config.offset = offset;
	m.payload.config.size = len;
	m.payload.config.flags = VH_USER_CONFIG_FLAG_WRITABLE;
	memcpy(m.payload.config.region, buf, len);
	return vh_user_exchange(dev, &m, NULL);
}

/* ---- inflight region ---------------------------------------------------------------------- */

static int vu_map_inflight(struct vh_dev *dev, struct vh_msg *r)
{
	const struct vh_user_inflight *in = &r->payload.inflight;
	struct stat st;
	void *addr;
	int err;

	if (!in->mmap_size)
		return 0; /* nothing to track: the back-end keeps no inflight state */
	if (r->nfds != 1) {
		vh_dev_err(dev, "VHOST_USER_GET_INFLIGHT_FD", -EPROTO,
			   "no fd with %" PRIu64 " bytes", (uint64_t)in->mmap_size);
		return vh_dev_set_broken(dev, -EPROTO);
	}
	/* A mapping past the end of the fd would SIGBUS us at the first access (save). */
	if (fstat(r->fds[0], &st) < 0 || in->mmap_offset > (uint64_t)st.st_size ||
	    in->mmap_size > (uint64_t)st.st_size - in->mmap_offset) {
		vh_dev_err(dev, "VHOST_USER_GET_INFLIGHT_FD", -EPROTO,
			   "%" PRIu64 " bytes at %" PRIu64 " do not fit the fd",
			   (uint64_t)in->mmap_size, (uint64_t)in->mmap_offset);
		return vh_dev_set_broken(dev, -EPROTO);
	}
	addr = mmap(NULL, in->mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fds[0],
		    (off_t)in->mmap_offset);
	if (addr == MAP_FAILED) {
		err = -errno;
		vh_dev_err(dev, "VHOST_USER_GET_INFLIGHT_FD", err, "mmap %" PRIu64 " bytes",
			   (uint64_t)in->mmap_size);
		return err;
	}
	dev->inflight_addr = addr;
	dev->inflight_fd = r->fds[0];
	r->fds[0] = -1;
	dev->inflight_size = in->mmap_size;
	dev->inflight_offset = in->mmap_offset;
	dev->inflight_nq = in->num_queues;
	dev->inflight_qs = in->queue_size;
	return 0;
}

static int vu_get_inflight(struct vh_dev *dev)
{
	struct vh_msg m, r;
	uint16_t qs = 0;
	int err;

	if (!vu_has(dev, VH_USER_PROTOCOL_F_INFLIGHT_SHMFD))
		return -EOPNOTSUPP;
	for (unsigned i = 0; i < dev->nrings; i++)
		if (dev->rings[i].configured)
			qs = VH_MAX(qs, dev->rings[i].vr.num);
	vh_msg_init(&m, VH_USER_GET_INFLIGHT_FD, 0, sizeof(struct vh_user_inflight));
	m.payload.inflight.num_queues = (uint16_t)dev->cfg.num_queues;
	m.payload.inflight.queue_size = qs;
	err = vh_user_exchange(dev, &m, &r);
	if (err < 0)
		return err;
	err = vu_map_inflight(dev, &r);
	vh_msg_close_fds(&r);
	return err;
}

static int vu_set_inflight(struct vh_dev *dev)
{
	struct vh_msg m;

	if (!vu_has(dev, VH_USER_PROTOCOL_F_INFLIGHT_SHMFD))
		return -EOPNOTSUPP;
	vh_msg_init(&m, VH_USER_SET_INFLIGHT_FD, 0, sizeof(struct vh_user_inflight));
	m.payload.inflight.mmap_size = dev->inflight_size;
	m.payload.inflight.mmap_offset = dev->inflight_offset;
	m.payload.inflight.num_queues = dev->inflight_nq;
	m.payload.inflight.queue_size = dev->inflight_qs;
	m.fds[0] = dev->inflight_fd;
	m.nfds = 1;
	return vh_user_exchange(dev, &m, NULL);
}

const struct vh_transport_ops vh_transport_user = {
	.name = "vhost-user",
	.caps = VH_TP_CAP_RING_UVA | VH_TP_CAP_LOG_FD | VH_TP_CAP_MEM_FD,
	.open = vu_open,
	.close = vu_close,
	.set_owner = vu_set_owner,
	.get_features = vu_get_features,
	.set_features = vu_set_features,
	.set_mem_table = vu_set_mem_table,
	.set_vring_num = vu_set_vring_num,
	.set_vring_base = vu_set_vring_base,
	.get_vring_base = vu_get_vring_base,
	.set_vring_addr = vu_set_vring_addr,
	.set_vring_kick = vu_set_vring_kick,
	.set_vring_call = vu_set_vring_call,
	.set_vring_err = vu_set_vring_err,
	.set_log_base = vu_set_log_base,
	.send_iotlb_msg = vu_send_iotlb_msg,
	.set_vring_enable = vu_set_vring_enable,
	.set_status = vu_set_status,
	.reset_device = vu_reset_device,
	.get_config = vu_get_config,
	.set_config = vu_set_config,
	.get_inflight = vu_get_inflight,
	.set_inflight = vu_set_inflight,
	.vring_kick = vu_vring_kick,
	.set_device_state_fd = vh_user_set_device_state_fd,
	.check_device_state = vh_user_check_device_state,
	.postcopy_advise = vh_user_postcopy_advise,
	.postcopy_listen = vh_user_postcopy_listen,
	.postcopy_end = vh_user_postcopy_end,
	.event_fd = vu_event_fd,
	.dispatch = vu_dispatch,
};
