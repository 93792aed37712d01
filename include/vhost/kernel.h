/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvhost: what a struct vh_dev opened on a kernel device (vhost-kernel: /dev/vhost-net,
 * /dev/vhost-vsock, /dev/vhost-scsi; vhost-vdpa: /dev/vhost-vdpa-N) offers beyond the generic
 * vhost operations of <vhost/frontend.h>: the per-device requests of <linux/vhost.h>
 * (VHOST_NET_SET_BACKEND, VHOST_VSOCK_SET_GUEST_CID / SET_RUNNING), legacy cross-endian rings,
 * and what the ioctl transports learnt about the device.
 *
 * vhost-net order (the kernel checks it):
 *   vh_dev_create("/dev/vhost-net") -> vh_dev_ack_features -> memory -> vh_dev_vring_setup
 *   (ring 0 = RX, ring 1 = TX) -> vh_dev_start -> vh_kernel_net_set_backend(dev, 0, tap) and
 *   (dev, 1, tap) -> ... -> vh_kernel_net_stop() (backend fd -1 on each ring, then vh_dev_stop
 *   reads the ring bases back).
 * vhost-vsock order:
 *   vh_dev_create("/dev/vhost-vsock") -> vh_kernel_vsock_set_guest_cid -> features -> memory ->
 *   rings -> vh_dev_start -> vh_kernel_vsock_set_running(dev, true) -> ... -> vh_kernel_vsock_stop.
 *
 * vh_dev_event_fd() / vh_dev_dispatch(): vhost-kernel: the device fd; dispatch answers the
 * kernel's IOTLB misses (VIRTIO_F_ACCESS_PLATFORM) through cfg.iotlb_translate. vhost-vdpa: an
 * eventfd registered with VHOST_VDPA_SET_CONFIG_CALL; dispatch calls cfg.config_changed.
 * vhost-vdpa maps guest RAM itself (iova = GPA) at every memory commit; vh_dev_iotlb_invalidate
 * would remove those mappings, so a vIOMMU with IOVA != GPA is not supported there.
 *
 * Threads: like struct vh_dev, one thread at a time.
 */
#ifndef VHOST_KERNEL_H
#define VHOST_KERNEL_H

#include <stdbool.h>
#include <stdint.h>

#include <vhost/common.h>

struct vh_dev;

/**
 * vh_kernel_net_set_backend() - VHOST_NET_SET_BACKEND: attach a tap (or packet) socket to a ring.
 * @dev: a device opened on /dev/vhost-net.
 * @index: 0 (RX) or 1 (TX).
 * @fd: the tap fd (not taken over: the caller keeps it open while attached), or -1 to detach,
 *      which stops the ring's processing (do it before vh_dev_stop()).
 * Return: 0; -EINVAL @dev is not vhost-kernel, or @fd >= 0 while the ring is not started;
 * -errno from the kernel (ENOTSOCK: not a tap/packet socket, ENOBUFS: bad index). Thread: owner.
 */
VH_API int vh_kernel_net_set_backend(struct vh_dev *dev, unsigned index, int fd);

/**
 * vh_kernel_net_stop() - detach the backend of every started ring, then vh_dev_stop().
 * @dev, @bases, @nbases: as vh_dev_stop().
 * Return: 0 or the first -errno (every ring is still stopped). Thread: owner.
 */
VH_API int vh_kernel_net_stop(struct vh_dev *dev, uint32_t *bases, unsigned nbases);

/**
 * vh_kernel_vsock_set_guest_cid() - VHOST_VSOCK_SET_GUEST_CID.
 * @dev: a device opened on /dev/vhost-vsock. @cid: the guest's context id (> 2).
 * Return: 0; -EINVAL not vhost-kernel, reserved cid; -EADDRINUSE another device has it;
 * -errno. Thread: owner.
 */
VH_API int vh_kernel_vsock_set_guest_cid(struct vh_dev *dev, uint64_t cid);

/**
 * vh_kernel_vsock_set_running() - VHOST_VSOCK_SET_RUNNING: start (after vh_dev_start()) or stop
 * (before vh_dev_stop()) the vsock device's rings.
 * @dev: a device opened on /dev/vhost-vsock. @running: start or stop.
 * Return: 0, -EINVAL not vhost-kernel, -errno. Thread: owner.
 */
VH_API int vh_kernel_vsock_set_running(struct vh_dev *dev, bool running);

/**
 * vh_kernel_vsock_stop() - vh_kernel_vsock_set_running(false), then vh_dev_stop().
 * @dev: a vsock device. @bases, @nbases: as for vh_dev_stop().
 * Return: 0 or the first -errno. Thread: owner.
 */
VH_API int vh_kernel_vsock_stop(struct vh_dev *dev, uint32_t *bases, unsigned nbases);

/**
 * vh_dev_set_vring_endian() - VHOST_SET_VRING_ENDIAN for a legacy (pre-VIRTIO_F_VERSION_1)
 * guest whose byte order differs from the host's; set it before the ring runs.
 * @dev: a vhost-kernel or vhost-vdpa device. @index: ring. @big_endian: the guest's order.
 * Return: 0 (also when the kernel lacks cross-endian support and little-endian was asked for:
 * that is the native order it uses anyway); -EOPNOTSUPP big-endian asked and the kernel has no
 * VHOST_SET_VRING_ENDIAN (ENOTTY), or @dev is vhost-user; -EBUSY ring running; -errno.
 * Thread: owner.
 */
VH_API int vh_dev_set_vring_endian(struct vh_dev *dev, unsigned index, bool big_endian);

/**
 * struct vh_dev_ioctl_info - what an ioctl transport learnt about the device at create.
 * @backend_features: VHOST_GET_BACKEND_FEATURES offer (bit n = VHOST_BACKEND_F_* n); 0 if none.
 * @backend_features_acked: what the library set (IOTLB_MSG_V2, IOTLB_BATCH when offered).
 * @device_id: virtio device id (VIRTIO_ID_*): vdpa asks the device, vhost-kernel knows it
 *             from the device name (net 1, scsi 8, vsock 19); 0 if unknown.
 * @config_size: vdpa config space bytes (VHOST_VDPA_GET_CONFIG_SIZE); 0 none/unknown.
 * @vring_num_max: vdpa largest ring size (VHOST_VDPA_GET_VRING_NUM); 0 unknown.
 * @vqs_count, @group_num, @as_num: vdpa virtqueues, virtqueue groups, address spaces; 0 when
 *             the kernel does not offer the query.
 * @max_mem_regions: memory regions the device takes (vhost-kernel: the vhost module's
 *             max_mem_regions parameter, else 64).
 * @iova_first, @iova_last: vdpa IOVA range the device maps (VHOST_VDPA_GET_IOVA_RANGE; guest
 *             RAM must lie inside, since iova = GPA); 0 and UINT64_MAX when not reported.
 * @vdpa: the transport is vhost-vdpa.
 */
struct vh_dev_ioctl_info {
	uint64_t backend_features;
	uint64_t backend_features_acked;
	uint32_t device_id;
	uint32_t config_size;
	uint32_t vring_num_max;
	uint32_t vqs_count;
	uint32_t group_num;
	uint32_t as_num;
	uint32_t max_mem_regions;
	uint64_t iova_first;
	uint64_t iova_last;
	bool vdpa;
};

/**
 * vh_dev_ioctl_info() - fill @info for a vhost-kernel or vhost-vdpa device.
 * Return: 0; -EOPNOTSUPP @dev is vhost-user; -EINVAL NULL argument; -ENOTCONN closed.
 * Thread: owner.
 */
VH_API int vh_dev_ioctl_info(const struct vh_dev *dev, struct vh_dev_ioctl_info *info);

/**
 * vh_dev_vring_group() - VHOST_VDPA_GET_VRING_GROUP: the virtqueue group of ring @index.
 * @dev: a vhost-vdpa device. @index: ring. @group: receives the group.
 * Return: 0 and *@group; -EOPNOTSUPP not vdpa or the kernel lacks the query; -errno.
 * Thread: owner.
 */
VH_API int vh_dev_vring_group(struct vh_dev *dev, unsigned index, uint32_t *group);

#endif
