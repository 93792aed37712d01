// SPDX-License-Identifier: BSD-3-Clause
/*
 * Postcopy live migration on the VMM side (vhost-user.rst "Migration", PAGEFAULT): the state
 * ADVISE -> LISTEN -> END, and the backend's address of each guest memory region, learnt from
 * its answers to the memory table, so that the VMM can turn a fault address read from the
 * backend's userfaultfd into a guest physical address and back. The messages themselves are
 * the transport's (user_postcopy.c).
 */
#include <errno.h>
#include <stdlib.h>

#include "frontend/dev_internal.h"

static int postcopy_op(struct vh_dev *dev, const char *req, bool present)
{
	if (!present || !(dev->protocol_features & (1ull << VH_USER_PROTOCOL_F_PAGEFAULT))) {
		vh_dev_err(dev, req, -EOPNOTSUPP, "PAGEFAULT not negotiated");
		return -EOPNOTSUPP;
	}
	return vh_dev_usable(dev);
}

int vh_dev_postcopy_advise(struct vh_dev *dev, int *uffd)
{
	const char *req = "VHOST_USER_POSTCOPY_ADVISE";
	int err = postcopy_op(dev, req, dev->ops->postcopy_advise != NULL);

	if (err < 0)
		return err;
	if (dev->postcopy != VH_DEV_POSTCOPY_NONE) {
		vh_dev_err(dev, req, -EBUSY, "postcopy already advised");
		return -EBUSY;
	}
	err = dev->ops->postcopy_advise(dev, uffd);
	if (err < 0)
		return err;
	dev->postcopy = VH_DEV_POSTCOPY_ADVISED;
	return 0;
}

int vh_dev_postcopy_listen(struct vh_dev *dev)
{
	const char *req = "VHOST_USER_POSTCOPY_LISTEN";
	int err = postcopy_op(dev, req, dev->ops->postcopy_listen != NULL);

	if (err < 0)
		return err;
	if (dev->postcopy != VH_DEV_POSTCOPY_ADVISED) {
		err = dev->postcopy == VH_DEV_POSTCOPY_NONE ? -EINVAL : -EBUSY;
		vh_dev_err(dev, req, err, "not in the advised state");
		return err;
	}
	err = dev->ops->postcopy_listen(dev);
	if (err < 0)
		return err;
	vh_dev_postcopy_clear(dev);
	dev->postcopy = VH_DEV_POSTCOPY_LISTENING;
	return 0;
}

int vh_dev_postcopy_end(struct vh_dev *dev)
{
	const char *req = "VHOST_USER_POSTCOPY_END";
	int err = postcopy_op(dev, req, dev->ops->postcopy_end != NULL);

	if (err < 0)
		return err;
	if (dev->postcopy != VH_DEV_POSTCOPY_LISTENING) {
		vh_dev_err(dev, req, -EINVAL, "not listening");
		return -EINVAL;
	}
	err = dev->ops->postcopy_end(dev);
	/* The backend was told; whatever it answered, postcopy is over on our side. */
	if (err == 0 || err == -EIO) {
		vh_dev_postcopy_clear(dev);
		dev->postcopy = VH_DEV_POSTCOPY_NONE;
	}
	return err;
}

void vh_dev_postcopy_clear(struct vh_dev *dev)
{
	dev->pc_nregions = 0;
}

void vh_dev_postcopy_reset(struct vh_dev *dev)
{
	free(dev->pc_regions);
	dev->pc_regions = NULL;
	dev->pc_nregions = dev->pc_cap = 0;
	dev->postcopy = VH_DEV_POSTCOPY_NONE;
}

void vh_dev_postcopy_forget(struct vh_dev *dev, uint64_t gpa)
{
	for (unsigned i = 0; i < dev->pc_nregions; i++) {
		if (dev->pc_regions[i].gpa != gpa)
			continue;
		dev->pc_regions[i] = dev->pc_regions[--dev->pc_nregions];
		return;
	}
}

int vh_dev_postcopy_note(struct vh_dev *dev, const struct vh_dev_postcopy_region *r)
{
	struct vh_dev_postcopy_region *n;

	vh_dev_postcopy_forget(dev, r->gpa);
	if (dev->pc_nregions == dev->pc_cap) {
		unsigned cap = dev->pc_cap ? 2 * dev->pc_cap : 8;

		n = realloc(dev->pc_regions, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		dev->pc_regions = n;
		dev->pc_cap = cap;
	}
	dev->pc_regions[dev->pc_nregions++] = *r;
	return 0;
}

int vh_dev_postcopy_region(const struct vh_dev *dev, unsigned i, struct vh_dev_postcopy_region *r)
{
	if (i >= dev->pc_nregions)
		return -ENOENT;
	*r = dev->pc_regions[i];
	return 0;
}

int vh_dev_postcopy_fault_gpa(const struct vh_dev *dev, uint64_t addr, uint64_t *gpa)
{
	for (unsigned i = 0; i < dev->pc_nregions; i++) {
		const struct vh_dev_postcopy_region *r = &dev->pc_regions[i];

		if (addr - r->backend_addr < r->size) {
			*gpa = r->gpa + (addr - r->backend_addr);
			return 0;
		}
	}
	return -EFAULT;
}

int vh_dev_postcopy_backend_addr(const struct vh_dev *dev, uint64_t gpa, uint64_t *addr)
{
	for (unsigned i = 0; i < dev->pc_nregions; i++) {
		const struct vh_dev_postcopy_region *r = &dev->pc_regions[i];

		if (gpa - r->gpa < r->size) {
			*addr = r->backend_addr + (gpa - r->gpa);
			return 0;
		}
	}
	return -EFAULT;
}
