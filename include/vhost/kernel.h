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
 * vhost-vdpa maps guest RAM itself (iova = GPA) at every memory commit, unless a vIOMMU sits in
 * front of the device: after vh_vdpa_set_iommu() the VMM maps IOVAs itself (vh_vdpa_map(),
 * vh_vdpa_unmap()) and ring addresses are IOVAs. Devices with several virtqueue groups and address
 * spaces (VHOST_VDPA_GET_GROUP_NUM / GET_AS_NUM) can have a group moved into another address
 * space (vh_vdpa_set_group_asid()), whose mappings are then made with that asid.
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
 * @backend_features_acked: what the library set (IOTLB_MSG_V2, IOTLB_BATCH, SUSPEND; vdpa also
 *             IOTLB_ASID; each when offered).
 * @device_id: virtio device id (VIRTIO_ID_*): vdpa asks the device, vhost-kernel knows it
 *             from the device name (net 1, scsi 8, vsock 19); 0 if unknown.
 * @config_size: vdpa config space bytes (VHOST_VDPA_GET_CONFIG_SIZE); 0 none/unknown.
 * @vring_num_max: vdpa largest ring size (VHOST_VDPA_GET_VRING_NUM); 0 unknown.
 * @vqs_count, @group_num, @as_num: vdpa virtqueues, virtqueue groups, address spaces; 0 when
 *             the kernel does not offer the query.
 * @max_mem_regions: memory regions the device takes (vhost-kernel: the vhost module's
 *             max_mem_regions parameter, else 64).
 * @iova_first, @iova_last: vdpa IOVA range the device maps (VHOST_VDPA_GET_IOVA_RANGE; guest
 *             RAM must lie inside, since iova = GPA, or the vIOMMU's maps with vh_vdpa_map());
 *             0 and UINT64_MAX when not reported.
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

/**
 * struct vh_vdpa_map - one IOVA mapping a vIOMMU gives a vhost-vdpa device.
 * @asid: address space: 0, or one a virtqueue group was moved into (vh_vdpa_set_group_asid());
 *        below the device's address space count (vh_dev_ioctl_info() @as_num).
 * @iova: first address the device uses; @size: bytes (> 0). [@iova, @iova + @size) must lie in
 *        the device's IOVA range (vh_dev_ioctl_info() @iova_first .. @iova_last).
 * @host: this process's address of the memory, or NULL: then @gpa is looked up in the committed
 *        memory table (the whole range in one region).
 * @gpa: guest-physical address of the memory when @host is NULL.
 * @perm: VH_DEV_ACCESS_RO (the device only reads), VH_DEV_ACCESS_WO or VH_DEV_ACCESS_RW.
 */
struct vh_vdpa_map {
	uint32_t asid;
	uint64_t iova;
	uint64_t size;
	void *host;
	uint64_t gpa;
	int perm;
};

/**
 * vh_vdpa_set_iommu() - a vIOMMU in front of a vhost-vdpa device (IOVA != GPA), or not.
 * On: the library's own GPA mappings of address space 0 are removed (VHOST_IOTLB_INVALIDATE),
 * memory commits no longer map anything (the table still serves vh_vdpa_map() lookups by GPA),
 * ring addresses given to vh_dev_vring_setup() are IOVAs, and the caller maps them and every
 * buffer the driver uses with vh_vdpa_map(). vh_dev_iotlb_invalidate() then unmaps like
 * vh_vdpa_unmap() on asid 0; leave cfg.iotlb_translate NULL (vhost-vdpa reports no misses; a
 * callback's start-time prefill would be mapped like vh_vdpa_map() on asid 0). Off: the caller's
 * asid 0 mappings are removed and the memory table is mapped again (iova = GPA).
 * @dev: a vhost-vdpa device, stopped, with VIRTIO_F_ACCESS_PLATFORM acked (a driver behind an
 *       IOMMU negotiates it; acking a feature set without it is refused while on).
 * @on: vIOMMU mode on or off.
 * Return: 0; -EOPNOTSUPP not vhost-vdpa; -EBUSY started; -EINVAL VIRTIO_F_ACCESS_PLATFORM not
 * acked; -errno from the kernel. Thread: owner.
 */
VH_API int vh_vdpa_set_iommu(struct vh_dev *dev, bool on);

/**
 * vh_vdpa_map() - add IOVA mappings (VHOST_IOTLB_UPDATE), framed by VHOST_IOTLB_BATCH_BEGIN/END
 * per address space when the device offers VHOST_BACKEND_F_IOTLB_BATCH (the parent then sees one
 * change). Every entry is checked before anything is sent; if the kernel refuses one, those of
 * this call it took already are removed again (one it will not remove either stays mapped, with
 * a log line, and counts as mapped). The library keeps the mappings and maps them again after
 * every device reset (vh_dev_stop(), vh_dev_reset()) and reopen (vh_dev_reconnect()).
 * @dev: a vhost-vdpa device. @maps: the mappings. @n: how many (1 or more).
 * Return: 0; -EOPNOTSUPP not vhost-vdpa, or @asid > 0 without VHOST_BACKEND_F_IOTLB_ASID;
 * -EINVAL bad size or permission, asid >= the device's address spaces, asid 0 without
 * vh_vdpa_set_iommu(); -ERANGE outside the device's IOVA range; -EFAULT @gpa not in the memory
 * table; -EEXIST overlaps a mapping (of this call or an earlier one); -ENOSPC too many mappings;
 * -errno from the kernel. Each error is logged once. Thread: owner.
 */
VH_API int vh_vdpa_map(struct vh_dev *dev, const struct vh_vdpa_map *maps, unsigned n);

/**
 * vh_vdpa_unmap() - remove every mapping of address space @asid inside [@iova, @iova + @size)
 * (one VHOST_IOTLB_INVALIDATE). The kernel removes whole mappings, so a range that cuts one is
 * refused.
 * @dev: a vhost-vdpa device. @asid: address space. @iova: start. @size: bytes (> 0).
 * Return: 0 (also when nothing was mapped there: nothing is sent); -EOPNOTSUPP not vhost-vdpa;
 * -EINVAL @size 0, the range wraps, or it cuts a mapping; -errno from the kernel.
 * Thread: owner.
 */
VH_API int vh_vdpa_unmap(struct vh_dev *dev, uint32_t asid, uint64_t iova, uint64_t size);

/**
 * vh_vdpa_set_group_asid() - VHOST_VDPA_SET_GROUP_ASID: virtqueue group @group (see
 * vh_dev_vring_group(); e.g. a network device's control queue) translates through address space
 * @asid from the next start on. Kept across device resets (sent again after each).
 * @dev: a vhost-vdpa device, stopped. @group: below vh_dev_ioctl_info() @group_num.
 * @asid: below @as_num.
 * Return: 0; -EOPNOTSUPP not vhost-vdpa, no VHOST_BACKEND_F_IOTLB_ASID, or the device cannot
 * move groups; -EBUSY started; -EINVAL @group or @asid out of range; -errno from the kernel.
 * Thread: owner.
 */
VH_API int vh_vdpa_set_group_asid(struct vh_dev *dev, uint32_t group, uint32_t asid);

#endif
