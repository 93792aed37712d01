// SPDX-License-Identifier: BSD-3-Clause
/*
 * struct vh_dev core: create, features, rings, start/stop and notifier masking, on top of a
 * transport table (transport.h). The semantics follow the seed (hw/virtio/vhost.c): features are
 * filtered by what the caller supports, rings are handed over at start (num, base, addresses,
 * call, kick, enable) and read back at stop, masking swaps in a private call eventfd.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include <vhost/vq.h>

#include "frontend/dev_internal.h"

int vh_dev_set_broken(struct vh_dev *dev, int err)
{
	if (!dev->broken)
		dev->broken = err == -ECONNRESET ? -ECONNRESET : -EPROTO;
	return err;
}

int vh_dev_usable(const struct vh_dev *dev)
{
	if (dev->broken)
		return dev->broken;
	return dev->fd >= 0 ? 0 : -ENOTCONN;
}

bool vh_dev_has_iommu(const struct vh_dev *dev)
{
	return dev->acked_features & (1ull << VIRTIO_F_ACCESS_PLATFORM);
}

static int vh_dev_pick_transport(struct vh_dev *dev, const char *path)
{
	if (strncmp(path, "unix:", 5) == 0) {
		dev->ops = &vh_transport_user;
		dev->path = strdup(path + 5);
		return dev->path ? 0 : -ENOMEM;
	}
	if (vh_ioctl_transport_for(path)) {
		dev->ops = vh_ioctl_transport_for(path);
		dev->path = strdup(path);
		return dev->path ? 0 : -ENOMEM;
	}
	vh_logf(&dev->cfg.log, VH_LOG_ERR, path, "create: transport not supported: %s",
		strerror(EOPNOTSUPP));
	return -EOPNOTSUPP;
}

static struct vh_dev *vh_dev_alloc(const struct vh_dev_config *cfg)
{
	struct vh_dev *dev = calloc(1, sizeof(*dev));

	if (!dev)
		return NULL;
	dev->cfg = *cfg;
	dev->name = strdup(cfg->name ? cfg->name : cfg->path);
	dev->fd = dev->listen_fd = dev->chan_fd = dev->inflight_fd = -1;
	dev->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : VH_DEV_DEFAULT_TIMEOUT_MS;
	for (unsigned i = 0; i < VH_DEV_MAX_QUEUES; i++) {
		dev->rings[i].kick_fd = dev->rings[i].call_fd = -1;
		dev->rings[i].err_fd = dev->rings[i].masked_fd = -1;
	}
	if (!dev->name) {
		free(dev);
		return NULL;
	}
	dev->cfg.name = dev->name;
	return dev;
}

static void vh_dev_free(struct vh_dev *dev)
{
	for (unsigned i = 0; i < VH_DEV_MAX_QUEUES; i++) {
		struct vh_dev_ring *r = &dev->rings[i];

		if (r->own_kick)
			close(r->kick_fd);
		if (r->own_call)
			close(r->call_fd);
		if (r->own_err)
			close(r->err_fd);
		if (r->masked_fd >= 0)
			close(r->masked_fd);
	}
	if (dev->listen_fd >= 0) {
		close(dev->listen_fd);
		unlink(dev->path);
	}
	vh_dev_log_free(dev);
	vh_dev_inflight_free(dev);
	vh_memtable_destroy(&dev->mem);
	vh_vdpa_iommu_free(dev);
	free(dev->batch);
	free(dev->path);
	free(dev->name);
	free(dev);
}

/* After open: SET_OWNER and the feature offer (the seed's vhost_dev_init). */
static int vh_dev_handshake(struct vh_dev *dev)
{
	int err = dev->ops->set_owner(dev);

	if (!err)
		err = dev->ops->get_features(dev, &dev->backend_features);
	if (!err)
		vh_memtable_set_max_regions(dev->mem, dev->max_mem_slots);
	return err;
}

int vh_dev_create(const struct vh_dev_config *cfg, struct vh_dev **out)
{
	return vh_dev_create_sys(cfg, NULL, out);
}

int vh_dev_create_sys(const struct vh_dev_config *cfg, const struct vh_ioctl_sys *sys,
		      struct vh_dev **out)
{
	struct vh_dev *dev;
	int err;

	if (!cfg || !out || !cfg->path || !cfg->num_queues || cfg->num_queues > VH_DEV_MAX_QUEUES)
		return -EINVAL;
	dev = vh_dev_alloc(cfg);
	if (!dev)
		return -ENOMEM;
	dev->sys = sys;
	err = vh_dev_pick_transport(dev, cfg->path);
	if (err < 0)
		goto fail_free;
	dev->cfg.path = dev->path;
	err = vh_dev_mem_init(dev);
	if (err < 0)
		goto fail_free;
	err = dev->ops->open(dev);
	if (err < 0)
		goto fail_free;
	err = vh_dev_handshake(dev);
	if (err < 0)
		goto fail_close;
	*out = dev;
	return 0;

fail_close:
	dev->ops->close(dev);
fail_free:
	vh_dev_free(dev);
	return err;
}

void vh_dev_destroy(struct vh_dev **pdev)
{
	struct vh_dev *dev = pdev ? *pdev : NULL;

	if (!dev)
		return;
	dev->ops->close(dev);
	vh_dev_free(dev);
	*pdev = NULL;
}

/* ---- features ----------------------------------------------------------------------------- */

/* Bits the library negotiates itself: never offered to, nor acked by, the caller. */
#define VH_DEV_INTERNAL_FEATURES ((1ull << VHOST_F_LOG_ALL) | (1ull << VH_USER_F_PROTOCOL_FEATURES))

uint64_t vh_dev_features(const struct vh_dev *dev)
{
	return dev->backend_features & dev->cfg.features & ~VH_DEV_INTERNAL_FEATURES;
}

uint64_t vh_dev_backend_features(const struct vh_dev *dev)
{
	return dev->backend_features;
}

uint64_t vh_dev_protocol_features(const struct vh_dev *dev)
{
	return dev->protocol_features;
}

uint64_t vh_dev_backend_protocol_features(const struct vh_dev *dev)
{
	return dev->backend_protocol_features;
}

unsigned vh_dev_max_queues(const struct vh_dev *dev)
{
	return dev->max_queues;
}

unsigned vh_dev_max_mem_slots(const struct vh_dev *dev)
{
	return dev->max_mem_slots;
}

int vh_dev_ack_features(struct vh_dev *dev, uint64_t features)
{
	uint64_t extra = features & ~vh_dev_features(dev);
	int err;

	if (dev->started)
		return -EBUSY;
	if (extra) {
		vh_dev_err(dev, "ack features", -EINVAL, "bits 0x%" PRIx64 " not offered", extra);
		return -EINVAL;
	}
	err = dev->ops->set_features(dev, vh_dev_wire_features(features, dev->log_enabled));
	/* A refusal leaves the backend with what it had, and so our view: a refused PACKED must not
	 * pass ring checks, nor LOG_ALL toggles and reconnects resend refused bits. Lost
	 * connection: the ack stands and vh_dev_reconnect() replays it. */
	if (err && !dev->broken)
		return err;
	dev->acked_features = features;
	dev->features_acked = true;
	return err;
}

/* ---- rings -------------------------------------------------------------------------------- */

/* virtio 1.2 §2.7: split ring area sizes; §2.8.10: packed event suppression areas are 4 bytes. */
static uint64_t vh_avail_size(const struct vh_dev_vring *vr)
{
	return vr->packed ? 4 : 6 + 2ull * vr->num;
}

uint64_t vh_dev_used_size(const struct vh_dev_vring *vr)
{
	return vr->packed ? 4 : 6 + 8ull * vr->num;
}

static int vh_ring_fd(int given, int *fd, bool *own)
{
	if (given >= 0 && given == *fd)
		return 0; /* our own fd handed back (from vh_dev_vring_kick_fd()): keep it */
	if (given >= 0) {
		if (*own)
			close(*fd);
		*fd = given;
		*own = false;
		return 0;
	}
	if (*own)
		return 0; /* keep the eventfd we created before */
	*fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (*fd < 0)
		return -errno;
	*own = true;
	return 0;
}

static int vh_dev_check_vring(struct vh_dev *dev, const struct vh_dev_vring *vr)
{
	if (vr->index >= dev->cfg.num_queues)
		return -EINVAL;
	if (vr->packed ? (!vr->num || vr->num > 32768) : !vh_is_pow2(vr->num))
		return -EINVAL; /* virtio 1.2 §2.7: split size is a power of 2; packed <= 32768 */
	if (vr->packed && !(dev->acked_features & (1ull << VIRTIO_F_RING_PACKED)))
		return -EINVAL;
	if (!vr->packed && vr->base > UINT16_MAX)
		return -EINVAL;
	return 0;
}

int vh_dev_vring_setup(struct vh_dev *dev, const struct vh_dev_vring *vr)
{
	struct vh_dev_ring *r;
	int err;

	if (!vr)
		return -EINVAL;
	err = vh_dev_check_vring(dev, vr);
	if (err < 0) {
		vh_dev_err(dev, "vring setup", err, "ring %u: bad geometry", vr->index);
		return err;
	}
	r = &dev->rings[vr->index];
	/* Rings change only while stopped: a ring added now would silently never start. */
	if (r->running || dev->started)
		return -EBUSY;
	err = vh_ring_fd(vr->kick_fd, &r->kick_fd, &r->own_kick);
	if (!err)
		err = vh_ring_fd(vr->call_fd, &r->call_fd, &r->own_call);
	if (!err && r->err_fd < 0)
		err = vh_ring_fd(-1, &r->err_fd, &r->own_err);
	if (err < 0) {
		vh_dev_err(dev, "vring setup", err, "ring %u: eventfd", vr->index);
		return err;
	}
	r->vr = *vr;
	r->configured = true;
	dev->nrings = VH_MAX(dev->nrings, vr->index + 1);
	return 0;
}

int vh_dev_vring_kick_fd(const struct vh_dev *dev, unsigned index)
{
	if (index >= VH_DEV_MAX_QUEUES || !dev->rings[index].configured)
		return -EINVAL;
	return dev->rings[index].kick_fd;
}

int vh_dev_vring_call_fd(const struct vh_dev *dev, unsigned index)
{
	if (index >= VH_DEV_MAX_QUEUES || !dev->rings[index].configured)
		return -EINVAL;
	return dev->rings[index].call_fd;
}

/*
 * Ring address translated for the transport: this process's address, the IOVA (IOMMU), or the
 * GPA itself (GPA_ADDRESSES: the ring must still lie in the table the backend maps).
 */
static int vh_ring_addr(struct vh_dev *dev, uint64_t gpa, uint64_t len, uint64_t *out)
{
	if (vh_dev_has_iommu(dev) || !(dev->ops->caps & VH_TP_CAP_RING_UVA)) {
		*out = gpa;
		return 0;
	}
	*out = vh_dev_gpa_to_uva(dev, gpa, len);
	if (*out && vh_dev_gpa_addresses(dev))
		*out = gpa;
	return *out ? 0 : -EFAULT;
}

int vh_dev_vring_send_addr(struct vh_dev *dev, unsigned index, bool log)
{
	const struct vh_dev_vring *vr = &dev->rings[index].vr;
	struct vhost_vring_addr a = { .index = index };
	uint64_t d, av, u;
	int err;

	err = vh_ring_addr(dev, vr->desc_gpa, 16ull * vr->num, &d);
	if (!err)
		err = vh_ring_addr(dev, vr->avail_gpa, vh_avail_size(vr), &av);
	if (!err)
		err = vh_ring_addr(dev, vr->used_gpa, vh_dev_used_size(vr), &u);
	if (err < 0) {
		vh_dev_err(dev, "VHOST_USER_SET_VRING_ADDR", err, "ring %u not in the memory table",
			   index);
		return err;
	}
	a.desc_user_addr = d;
	a.avail_user_addr = av;
	a.used_user_addr = u;
	/* The backend logs used-ring writes at their guest-physical address. */
	a.log_guest_addr = vr->used_gpa;
	a.flags = log ? 1u << VHOST_VRING_F_LOG : 0;
	return dev->ops->set_vring_addr(dev, &a);
}

static int vh_dev_ring_call_fd(const struct vh_dev_ring *r)
{
	return r->masked ? r->masked_fd : r->call_fd;
}

/*
 * SET_VRING_ERR (vhost-user.rst; VHOST_SET_VRING_ERR): the backend signals the eventfd when the
 * ring fails (a guest that broke it). A backend that refuses it (REPLY_ACK non-zero) still runs
 * the ring; only its error reports are lost, and the refusal was logged.
 */
static int vh_dev_ring_send_err(struct vh_dev *dev, unsigned i)
{
	struct vhost_vring_file f = { .index = i, .fd = dev->rings[i].err_fd };
	int err = dev->ops->set_vring_err(dev, &f);

	return err == -EIO || err == -EOPNOTSUPP ? 0 : err;
}

/* The seed's vhost_virtqueue_start: num, base, addresses, call, then the kick that starts it. */
static int vh_dev_ring_start(struct vh_dev *dev, unsigned i)
{
	struct vh_dev_ring *r = &dev->rings[i];
	struct vhost_vring_state s = { .index = i, .num = r->vr.num };
	struct vhost_vring_file f = { .index = i };
	int err;

	err = dev->ops->set_vring_num(dev, &s);
	s.num = r->vr.base;
	if (!err)
		err = dev->ops->set_vring_base(dev, &s);
	if (!err)
		err = vh_dev_vring_send_addr(dev, i, dev->log_enabled);
	f.fd = vh_dev_ring_call_fd(r);
	if (!err)
		err = dev->ops->set_vring_call(dev, &f);
	if (!err)
		err = vh_dev_ring_send_err(dev, i);
	f.fd = r->kick_fd;
	if (!err)
		err = dev->ops->set_vring_kick(dev, &f);
	if (err < 0)
		return err;
	r->running = true;
	return 0;
}

static int vh_dev_optional(int err)
{
	return err == -EOPNOTSUPP ? 0 : err;
}

/*
 * Packed ring of a dead backend: used descriptors overwrite the ring, so guest memory does not
 * say where it got to, and the base read at the last stop is stale. The inflight region does:
 * its last completed used slot plus every chain still in flight (vh_vq_inflight_packed_base()).
 */
static void vh_dev_rebase_packed(struct vh_dev *dev, unsigned index)
{
	struct vh_dev_ring *r = &dev->rings[index];
	size_t per = vh_vq_inflight_size(dev->inflight_qs, true);
	uint32_t base;
	int err;

	if (!dev->inflight_addr || !per || index >= dev->inflight_nq ||
	    (uint64_t)per * (index + 1) > dev->inflight_size)
		return; /* no region: keep the last known base */
	err = vh_vq_inflight_packed_base((const char *)dev->inflight_addr + per * index, per,
					 r->vr.num, &base);
	if (err == -EPROTO)
		vh_dev_err(dev, "reconnect", err, "ring %u: inflight region inconsistent", index);
	if (!err)
		r->vr.base = base;
}

/* Where a dead backend had got to: split rings from the used index in guest memory. */
void vh_dev_rebase_from_used(struct vh_dev *dev, unsigned index)
{
	struct vh_dev_ring *r = &dev->rings[index];
	uint64_t uva;

	if (r->vr.packed) {
		vh_dev_rebase_packed(dev, index);
		return;
	}
	if (vh_dev_has_iommu(dev))
		return;
	uva = vh_dev_gpa_to_uva(dev, r->vr.used_gpa + 2, 2);
	if (uva)
		r->vr.base = __atomic_load_n((const uint16_t *)(uintptr_t)uva, __ATOMIC_ACQUIRE);
}

/* The seed's vhost_virtqueue_stop: disable, then GET_VRING_BASE stops the ring. */
static int vh_dev_ring_stop(struct vh_dev *dev, unsigned i)
{
	struct vh_dev_ring *r = &dev->rings[i];
	struct vhost_vring_state s = { .index = i };
	int err = 0;

	if (!r->running)
		return 0;
	r->running = false;
	if (dev->ops->set_vring_enable)
		err = vh_dev_optional(dev->ops->set_vring_enable(dev, i, false));
	if (!err)
		err = dev->ops->get_vring_base(dev, &s);
	if (!err)
		r->vr.base = s.num;
	else
		vh_dev_rebase_from_used(dev, i);
	return err;
}

static void vh_dev_stop_rings(struct vh_dev *dev)
{
	for (unsigned i = 0; i < dev->nrings; i++)
		vh_dev_ring_stop(dev, i);
}

/*
 * Requests may already wait in the rings (a restart after stop, a reconnect after the backend
 * died): a backend looks at a ring only when kicked, so kick each one once (a spurious kick is
 * harmless; QEMU's vhost-user-blk does the same after start).
 */
static void vh_dev_kick_all(struct vh_dev *dev)
{
	int err;

	for (unsigned i = 0; i < dev->nrings; i++) {
		if (!dev->rings[i].running)
			continue;
		err = vh_dev_vring_kick(dev, i);
		if (err < 0)
			vh_dev_err(dev, "start", err, "kick ring %u", i);
	}
}

/*
 * IOMMU: map each used ring up front (the seed does it after start: vhost-kernel needs it, and
 * a vhost-user backend is spared a miss). Best effort: a failed translation only means the
 * backend asks later; a broken connection is reported.
 */
static int vh_dev_iotlb_prefill(struct vh_dev *dev)
{
	if (!vh_dev_has_iommu(dev) || !dev->cfg.iotlb_translate)
		return 0;
	for (unsigned i = 0; i < dev->nrings; i++)
		if (dev->rings[i].running)
			vh_dev_iotlb_update(dev, "start", dev->rings[i].vr.used_gpa,
					    VHOST_ACCESS_RW);
	return vh_dev_usable(dev);
}

int vh_dev_start_rings(struct vh_dev *dev)
{
	int err = 0;

	if (dev->log_enabled)
		err = vh_dev_log_send(dev);
	if (!err)
		err = vh_dev_optional(vh_dev_inflight_apply(dev));
	for (unsigned i = 0; !err && i < dev->nrings; i++)
		if (dev->rings[i].configured)
			err = vh_dev_ring_start(dev, i);
	for (unsigned i = 0; !err && dev->ops->set_vring_enable && i < dev->nrings; i++)
		if (dev->rings[i].configured)
			err = vh_dev_optional(dev->ops->set_vring_enable(dev, i, true));
	if (!err && dev->ops->set_status)
		err = vh_dev_optional(dev->ops->set_status(
		    dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			     VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK));
	if (!err)
		err = vh_dev_iotlb_prefill(dev);
	if (err < 0) {
		vh_dev_stop_rings(dev);
		return err;
	}
	vh_dev_kick_all(dev);
	return 0;
}

int vh_dev_start(struct vh_dev *dev)
{
	int err;

	if (dev->started)
		return -EBUSY;
	if (!dev->features_acked || !dev->nrings || dev->mem_open ||
	    (!vh_memtable_count(dev->mem) && !vh_dev_has_iommu(dev)))
		return -EINVAL;
	err = vh_dev_usable(dev);
	if (!err && !dev->mem_sent && vh_memtable_count(dev->mem))
		err = vh_dev_mem_send(dev, true);
	if (!err)
		err = vh_dev_start_rings(dev);
	if (err < 0)
		return err;
	dev->started = true;
	return 0;
}

int vh_dev_stop(struct vh_dev *dev, uint32_t *bases, unsigned nbases)
{
	int err = 0, e;

	if (!dev->started)
		return -EINVAL;
	for (unsigned i = 0; i < dev->nrings; i++) {
		e = vh_dev_ring_stop(dev, i);
		if (!err)
			err = e;
	}
	if (dev->ops->stop_device) {
		e = dev->ops->stop_device(dev);
		if (!err)
			err = e;
	}
	for (unsigned i = 0; bases && i < nbases && i < dev->nrings; i++)
		bases[i] = dev->rings[i].vr.base;
	dev->started = false;
	return err;
}

/* ---- notifier masking --------------------------------------------------------------------- */

/* Move what the private fd collected into the caller's call fd, so no interrupt is lost. */
static int vh_dev_take_masked(struct vh_dev_ring *r)
{
	uint64_t v;

	if (r->masked_fd < 0)
		return 0;
	if (read(r->masked_fd, &v, sizeof(v)) != sizeof(v))
		return errno == EAGAIN ? 0 : -errno;
	return v ? 1 : 0;
}

int vh_dev_vring_mask(struct vh_dev *dev, unsigned index, bool masked)
{
	struct vh_dev_ring *r;
	struct vhost_vring_file f = { .index = index };
	uint64_t one = 1;
	int err;

	if (index >= VH_DEV_MAX_QUEUES || !dev->rings[index].configured)
		return -EINVAL;
	r = &dev->rings[index];
	if (r->masked == masked)
		return 0;
	if (masked && r->masked_fd < 0) {
		r->masked_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (r->masked_fd < 0)
			return -errno;
	}
	f.fd = masked ? r->masked_fd : r->call_fd;
	if (r->running) {
		err = dev->ops->set_vring_call(dev, &f);
		if (err < 0)
			return err;
	}
	r->masked = masked;
	if (!masked && vh_dev_take_masked(r) > 0 && write(r->call_fd, &one, sizeof(one)) < 0)
		return -errno;
	return 0;
}

static int vh_dev_ring_index(const struct vh_dev *dev, unsigned index)
{
	return index < VH_DEV_MAX_QUEUES && dev->rings[index].configured ? 0 : -EINVAL;
}

int vh_dev_vring_kick(struct vh_dev *dev, unsigned index)
{
	uint64_t one = 1;
	int err = vh_dev_ring_index(dev, index);

	if (err < 0)
		return err;
	if (dev->ops->vring_kick) {
		err = dev->ops->vring_kick(dev, index);
		if (err != -EOPNOTSUPP)
			return err;
	}
	if (write(dev->rings[index].kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

int vh_dev_ring_signal(struct vh_dev *dev, unsigned index, bool err)
{
	const struct vh_dev_ring *r;
	uint64_t one = 1;
	int fd;

	if (vh_dev_ring_index(dev, index) < 0)
		return -EINVAL;
	r = &dev->rings[index];
	fd = err ? r->err_fd : vh_dev_ring_call_fd(r);
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

int vh_dev_vring_err_fd(const struct vh_dev *dev, unsigned index)
{
	int err = vh_dev_ring_index(dev, index);

	return err < 0 ? err : dev->rings[index].err_fd;
}

int vh_dev_vring_set_err_fd(struct vh_dev *dev, unsigned index, int fd)
{
	struct vh_dev_ring *r;
	int old_fd, err = vh_dev_ring_index(dev, index);
	bool old_own;

	if (err < 0)
		return err;
	r = &dev->rings[index];
	old_fd = r->err_fd;
	old_own = r->own_err;
	if (fd >= 0 && fd == old_fd)
		return 0;
	if (fd >= 0) {
		r->err_fd = fd;
		r->own_err = false;
	} else if (!old_own) {
		r->err_fd = -1;
		err = vh_ring_fd(-1, &r->err_fd, &r->own_err);
	}
	if (!err && r->running)
		err = vh_dev_ring_send_err(dev, index);
	if (err < 0) {
		if (r->own_err && r->err_fd != old_fd)
			close(r->err_fd);
		r->err_fd = old_fd;
		r->own_err = old_own;
		return err;
	}
	if (old_own && r->err_fd != old_fd)
		close(old_fd);
	return 0;
}

int vh_dev_vring_error(struct vh_dev *dev, unsigned index)
{
	struct pollfd p = { .events = POLLIN };
	uint64_t v;
	int err = vh_dev_ring_index(dev, index);

	if (err < 0)
		return err;
	/* The caller's fd may be blocking: look before reading. */
	p.fd = dev->rings[index].err_fd;
	if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN))
		return 0;
	if (read(p.fd, &v, sizeof(v)) == sizeof(v))
		return v ? 1 : 0;
	return errno == EAGAIN ? 0 : -errno;
}

int vh_dev_vring_pending(struct vh_dev *dev, unsigned index)
{
	if (index >= VH_DEV_MAX_QUEUES || !dev->rings[index].configured)
		return -EINVAL;
	return vh_dev_take_masked(&dev->rings[index]);
}
