/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private: the ioctl implementation shared by the vhost-kernel and vhost-vdpa transports
 * (transport_ioctl.c), and the syscall table it goes through.
 *
 * Every open/close/ioctl/read/write of these transports goes through a struct vh_ioctl_sys, so
 * the unit tests can replace the kernel by a fake that records the exact requests and argument
 * bytes and returns errors (tests/unit/test_transport_ioctl.c). The default table makes the
 * real system calls.
 */
#ifndef VH_FRONTEND_IOCTL_H
#define VH_FRONTEND_IOCTL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/vhost.h>

struct vh_dev;
struct vh_memtable;

/* Each call returns >= 0 or -errno (never -1 with errno). */
struct vh_ioctl_sys {
	int (*open)(void *ctx, const char *path, int flags);
	int (*close)(void *ctx, int fd);
	int (*ioctl)(void *ctx, int fd, unsigned long request, void *arg);
	ssize_t (*read)(void *ctx, int fd, void *buf, size_t len);
	ssize_t (*write)(void *ctx, int fd, const void *buf, size_t len);
	void *ctx;
};

extern const struct vh_ioctl_sys vh_ioctl_sys_default;

/* Which kernel vhost device the path names (decides queue count and virtio device id). */
enum vh_ioctl_kind {
	VH_IOCTL_OTHER = 0,
	VH_IOCTL_NET,
	VH_IOCTL_VSOCK,
	VH_IOCTL_SCSI,
	VH_IOCTL_VDPA,
};

/* Per-device state of an ioctl transport (dev->ioctl, from open to close). */
struct vh_ioctl {
	enum vh_ioctl_kind kind;
	uint64_t backend_offered; /* VHOST_GET_BACKEND_FEATURES (0 if the device has none) */
	uint64_t backend_acked;	  /* what we set: offered & (IOTLB_MSG_V2 | IOTLB_BATCH) */
	uint32_t device_id;	  /* virtio device id (VIRTIO_ID_*), 0 if unknown */
	uint32_t config_size;	  /* vdpa: VHOST_VDPA_GET_CONFIG_SIZE, 0 if none/unknown */
	uint32_t vqs_count;	  /* vdpa: VHOST_VDPA_GET_VQS_COUNT, 0 if not offered */
	uint32_t group_num;	  /* vdpa: VHOST_VDPA_GET_GROUP_NUM, 0 if not offered */
	uint32_t as_num;	  /* vdpa: VHOST_VDPA_GET_AS_NUM, 0 if not offered */
	uint16_t vring_num_max;	  /* vdpa: VHOST_VDPA_GET_VRING_NUM, 0 if not offered */
	uint64_t iova_first;	  /* vdpa: VHOST_VDPA_GET_IOVA_RANGE (0, UINT64_MAX if none) */
	uint64_t iova_last;
	uint64_t wire_features; /* vdpa: last SET_FEATURES value (replayed after a reset) */
	bool mapped;		/* vdpa: the device IOTLB may hold our mappings */
	bool suspended;		/* vdpa: VHOST_VDPA_SUSPEND done since the last reset */
	int config_fd;		/* vdpa: eventfd of VHOST_VDPA_SET_CONFIG_CALL, -1 if none */
};

/* The backend features this library uses (SUSPEND: vdpa only, no kernel vhost device offers it). */
#define VH_IOCTL_BACKEND_WANTED                                                           \
	((1ull << VHOST_BACKEND_F_IOTLB_MSG_V2) | (1ull << VHOST_BACKEND_F_IOTLB_BATCH) | \
	 (1ull << VHOST_BACKEND_F_SUSPEND))
/* vhost-vdpa also: the asid field of struct vhost_msg_v2 selects the address space. */
#define VH_IOCTL_BACKEND_WANTED_VDPA \
	(VH_IOCTL_BACKEND_WANTED | (1ull << VHOST_BACKEND_F_IOTLB_ASID))

/*
 * One ioctl on the device fd through dev->sys. @name is the request's name for the log line.
 * vh_ioctl_call logs a failure; vh_ioctl_try does not (optional requests: the caller decides).
 */
int vh_ioctl_call(struct vh_dev *dev, unsigned long request, const char *name, void *arg);
int vh_ioctl_try(struct vh_dev *dev, unsigned long request, void *arg);
#define VH_IOCTL(dev, req, arg) vh_ioctl_call((dev), (req), #req, (arg))

/* Open dev->path (O_RDWR | O_CLOEXEC | O_NONBLOCK), allocate dev->ioctl. */
int vh_ioctl_open(struct vh_dev *dev, enum vh_ioctl_kind kind);
void vh_ioctl_close(struct vh_dev *dev);
/* SET_OWNER, then VHOST_GET/SET_BACKEND_FEATURES (ENOTTY: the device has none). */
int vh_ioctl_set_owner(struct vh_dev *dev);
/* Write one IOTLB message in the negotiated format (struct vhost_msg_v2 or struct vhost_msg). */
int vh_ioctl_send_iotlb_msg(struct vh_dev *dev, const struct vhost_iotlb_msg *m);
/*
 * The same for address space @asid (vhost-vdpa): only the v2 format carries it, and the kernel
 * reads it only with VHOST_BACKEND_F_IOTLB_ASID acked; the caller has checked both for @asid > 0.
 */
int vh_ioctl_send_iotlb_asid(struct vh_dev *dev, uint32_t asid, const struct vhost_iotlb_msg *m);
bool vh_ioctl_has_backend(const struct vh_dev *dev, unsigned bit);

/* Generic operations shared by both tables. */
int vh_ioctl_get_features(struct vh_dev *dev, uint64_t *features);
int vh_ioctl_set_features(struct vh_dev *dev, uint64_t features);
int vh_ioctl_set_vring_num(struct vh_dev *dev, const struct vhost_vring_state *s);
int vh_ioctl_set_vring_base(struct vh_dev *dev, const struct vhost_vring_state *s);
int vh_ioctl_get_vring_base(struct vh_dev *dev, struct vhost_vring_state *s);
int vh_ioctl_set_vring_addr(struct vh_dev *dev, const struct vhost_vring_addr *a);
int vh_ioctl_set_vring_kick(struct vh_dev *dev, const struct vhost_vring_file *f);
int vh_ioctl_set_vring_call(struct vh_dev *dev, const struct vhost_vring_file *f);
int vh_ioctl_set_vring_err(struct vh_dev *dev, const struct vhost_vring_file *f);
int vh_ioctl_set_busyloop_timeout(struct vh_dev *dev, const struct vhost_vring_state *s);
int vh_ioctl_get_busyloop_timeout(struct vh_dev *dev, struct vhost_vring_state *s);
int vh_ioctl_event_fd(const struct vh_dev *dev);
/*
 * Validate one IOTLB message as read from the device fd: exactly sizeof(struct vhost_msg_v2)
 * (@v2, VHOST_BACKEND_F_IOTLB_MSG_V2 acked) or sizeof(struct vhost_msg) bytes with the matching
 * type field. Return: 0 and *@out; -EPROTO otherwise. Pure: for the unit tests and fuzzers.
 */
int vh_ioctl_parse_msg(const void *buf, size_t len, bool v2, struct vhost_iotlb_msg *out);

/*
 * Read pending IOTLB messages from the device fd and answer each miss (never blocks).
 * Return: misses answered; the first translation error; -EPROTO (sticky) bad message.
 */
int vh_ioctl_dispatch(struct vh_dev *dev);

#endif
