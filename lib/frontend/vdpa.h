/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private: what transport_vdpa.c and vdpa_iommu.c (a vIOMMU in front of vhost-vdpa, virtqueue
 * groups in other address spaces) share.
 */
#ifndef VH_FRONTEND_VDPA_H
#define VH_FRONTEND_VDPA_H

#include <stdbool.h>
#include <stdint.h>

struct vh_dev;
struct vhost_iotlb_msg;

/*
 * 0 if [@iova, @iova + @size) is a non-empty range inside the device's IOVA range, else -ERANGE
 * (-EINVAL for an empty or wrapping one) with one log line naming @req.
 */
int vh_vdpa_check_range(struct vh_dev *dev, const char *req, uint64_t iova, uint64_t size);

/* BATCH_BEGIN / BATCH_END, or INVALIDATE of every IOVA, for address space @asid. */
int vh_vdpa_iotlb_op(struct vh_dev *dev, uint32_t asid, uint8_t type);

/* vIOMMU mode on: memory commits map nothing, the caller's maps are the device's address space 0. */
bool vh_vdpa_iommu_on(const struct vh_dev *dev);
/*
 * After a device reset: the group ASIDs, then every address space's maps again (@fresh: a newly
 * opened device fd, whose IOTLB is empty: no invalidation first).
 */
int vh_vdpa_iommu_replay(struct vh_dev *dev, bool fresh);
/* vh_dev_iotlb_invalidate() and the iotlb_translate prefill in vIOMMU mode (asid 0). */
int vh_vdpa_iommu_msg(struct vh_dev *dev, const struct vhost_iotlb_msg *m);

#endif
