/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private: the transport table under struct vh_dev. One const table per transport
 * (vhost-user here; vhost-kernel and vhost-vdpa share one ioctl implementation).
 *
 * The table holds the generic vhost operations only: what <linux/vhost.h> offers as ioctls and
 * vhost-user as messages of the same meaning. Everything else (protocol features, inflight
 * region, memory slots, the backend channel) is an optional op, NULL when the transport has no
 * such thing; the core tests the pointer, never the transport's name.
 *
 * Every op returns 0 or -errno and has logged its own failure once. A transport that finds the
 * peer broken marks the device with vh_dev_set_broken().
 */
#ifndef VH_FRONTEND_TRANSPORT_H
#define VH_FRONTEND_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/vhost.h>

struct vh_dev;
struct vh_memtable;
struct vh_log_buf;

/* Ring addresses the transport wants in SET_VRING_ADDR. */
#define VH_TP_CAP_RING_UVA (1u << 0) /* this process's virtual addresses (user, kernel) */
#define VH_TP_CAP_LOG_FD   (1u << 1) /* the dirty log is a shared memfd (user) */
#define VH_TP_CAP_MEM_FD   (1u << 2) /* every memory region needs an fd (user) */

struct vh_transport_ops {
	const char *name;
	unsigned caps; /* VH_TP_CAP_* */

	/* Reach the backend (connect / accept / open) and do the transport's own handshake. */
	int (*open)(struct vh_dev *dev);
	/* Drop the connection; the device state stays for a later open (reconnect). */
	void (*close)(struct vh_dev *dev);

	int (*set_owner)(struct vh_dev *dev);
	int (*get_features)(struct vh_dev *dev, uint64_t *features);
	int (*set_features)(struct vh_dev *dev, uint64_t features);
	/*
	 * Send the committed table of @t. @fresh: the backend knows no table yet (first time,
	 * reconnect); otherwise the transport may send only vh_memtable_added()/removed().
	 */
	int (*set_mem_table)(struct vh_dev *dev, const struct vh_memtable *t, bool fresh);
	int (*set_vring_num)(struct vh_dev *dev, const struct vhost_vring_state *s);
	int (*set_vring_base)(struct vh_dev *dev, const struct vhost_vring_state *s);
	int (*get_vring_base)(struct vh_dev *dev, struct vhost_vring_state *s);
	int (*set_vring_addr)(struct vh_dev *dev, const struct vhost_vring_addr *a);
	int (*set_vring_kick)(struct vh_dev *dev, const struct vhost_vring_file *f);
	int (*set_vring_call)(struct vh_dev *dev, const struct vhost_vring_file *f);
	int (*set_vring_err)(struct vh_dev *dev, const struct vhost_vring_file *f);
	int (*set_log_base)(struct vh_dev *dev, struct vh_log_buf *log);
	int (*send_iotlb_msg)(struct vh_dev *dev, const struct vhost_iotlb_msg *m);

	/* Optional: NULL when the transport has no such operation (-EOPNOTSUPP to the caller). */
	int (*set_vring_enable)(struct vh_dev *dev, unsigned index, bool enable);
	int (*set_status)(struct vh_dev *dev, uint8_t status);
	int (*reset_device)(struct vh_dev *dev);
	int (*get_config)(struct vh_dev *dev, uint32_t offset, void *buf, uint32_t len);
	int (*set_config)(struct vh_dev *dev, uint32_t offset, const void *buf, uint32_t len);
	int (*set_busyloop_timeout)(struct vh_dev *dev, const struct vhost_vring_state *s);
	int (*get_busyloop_timeout)(struct vh_dev *dev, struct vhost_vring_state *s);
	/* After every ring stopped and its base was read back (vhost-vdpa: device reset). */
	int (*stop_device)(struct vh_dev *dev);
	/* Inflight region (vhost-user INFLIGHT_SHMFD): fetch one from the backend / hand it back. */
	int (*get_inflight)(struct vh_dev *dev);
	int (*set_inflight)(struct vh_dev *dev);
	/* In-band kick (vhost-user VRING_KICK); -EOPNOTSUPP: kick through the eventfd. */
	int (*vring_kick)(struct vh_dev *dev, unsigned index);
	/*
	 * DEVICE_STATE (vhost-user SET_DEVICE_STATE_FD): hand @fd (our pipe end, not consumed)
	 * to the backend for a transfer in @direction; *@backend_fd gets the backend's own
	 * channel fd when it sent one (the caller then uses it instead), else -1.
	 */
	int (*set_device_state_fd)(struct vh_dev *dev, uint32_t direction, int fd, int *backend_fd);
	/* CHECK_DEVICE_STATE: 0 when the backend processed the transfer, -EIO when it failed. */
	int (*check_device_state)(struct vh_dev *dev);
	/* Postcopy (vhost-user PAGEFAULT): ADVISE hands over the backend's userfaultfd. */
	int (*postcopy_advise)(struct vh_dev *dev, int *uffd);
	int (*postcopy_listen)(struct vh_dev *dev);
	int (*postcopy_end)(struct vh_dev *dev);
	/* Backend-initiated messages: the fd to watch, and non-blocking handling. */
	int (*event_fd)(const struct vh_dev *dev);
	int (*dispatch)(struct vh_dev *dev);
};

extern const struct vh_transport_ops vh_transport_user;
/* transport_kernel.c, transport_vdpa.c: one ioctl implementation (transport_ioctl.c). */
extern const struct vh_transport_ops vh_transport_kernel;
extern const struct vh_transport_ops vh_transport_vdpa;
/*
 * The ioctl transport for a path: "/dev/vhost-vdpa-N" (or a character device named so) is
 * vhost-vdpa, any other "/dev/..." path or character device is vhost-kernel; NULL otherwise.
 */
const struct vh_transport_ops *vh_ioctl_transport_for(const char *path);

#endif
