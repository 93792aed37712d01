// SPDX-License-Identifier: BSD-3-Clause
/*
 * vh_dev dirty logging for live migration (the seed's vhost_migration_log / vhost_dev_set_log /
 * vhost_log_sync). The log belongs to this device: two devices never share one by accident.
 *
 * Start: log buffer sized from the memory table and the used rings, SET_LOG_BASE, SET_FEATURES
 * with VHOST_F_LOG_ALL, then every running ring re-addressed with VHOST_VRING_F_LOG.
 * Stop: the reverse; the buffer stays until the next start or destroy so a final sync still
 * collects what the backend wrote last.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "frontend/dev_internal.h"

uint64_t vh_dev_log_bytes(const struct vh_dev *dev)
{
	struct vh_log_range rings[VH_DEV_MAX_QUEUES];
	unsigned n = 0;
	uint64_t bytes;

	for (unsigned i = 0; i < dev->nrings; i++)
		if (dev->rings[i].configured)
			rings[n++] = (struct vh_log_range){ dev->rings[i].vr.used_gpa,
							    vh_dev_used_size(&dev->rings[i].vr) };
	bytes = vh_log_bytes_for(dev->mem, rings, n);
	return bytes ? bytes : 8;
}

void vh_dev_log_free(struct vh_dev *dev)
{
	vh_log_buf_destroy(&dev->logbuf);
}

/* SET_LOG_BASE with the current buffer; once acknowledged, the previous buffer can go. */
static int vh_dev_log_base(struct vh_dev *dev)
{
	int err = dev->ops->set_log_base(dev, dev->logbuf);

	if (!err)
		vh_log_buf_drop_old(dev->logbuf);
	return err;
}

static int vh_dev_log_fit(struct vh_dev *dev, uint64_t bytes)
{
	int err = vh_log_buf_resize(dev->logbuf, bytes);

	if (err < 0)
		vh_dev_err(dev, "log resize", err, "%llu bytes", (unsigned long long)bytes);
	return err;
}

/* At start / reconnect: the table may have changed while stopped; size the log to it first. */
int vh_dev_log_send(struct vh_dev *dev)
{
	uint64_t bytes = vh_dev_log_bytes(dev);
	int err = 0;

	if (bytes != vh_log_buf_size(dev->logbuf))
		err = vh_dev_log_fit(dev, bytes);
	return err < 0 ? err : vh_dev_log_base(dev);
}

static int vh_dev_log_resize(struct vh_dev *dev, uint64_t bytes)
{
	int err;

	if (bytes == vh_log_buf_size(dev->logbuf))
		return 0;
	err = vh_dev_log_fit(dev, bytes);
	return err < 0 ? err : vh_dev_log_base(dev);
}

int vh_dev_log_prepare_mem(struct vh_dev *dev)
{
	uint64_t bytes = vh_dev_log_bytes(dev);

	/* Grow first: the backend must never see memory its log cannot cover. */
	if (bytes <= vh_log_buf_size(dev->logbuf))
		return 0;
	return vh_dev_log_resize(dev, bytes);
}

void vh_dev_log_finish_mem(struct vh_dev *dev)
{
	uint64_t bytes = vh_dev_log_bytes(dev);

	/* Shrink after: the backend no longer writes beyond the smaller table. Best effort. */
	if (bytes < vh_log_buf_size(dev->logbuf))
		vh_dev_log_resize(dev, bytes);
}

static int vh_dev_log_create(struct vh_dev *dev)
{
	struct vh_log_buf_config lc = {
		.name = dev->name,
		.flags = dev->ops->caps & VH_TP_CAP_LOG_FD ? 0 : VH_LOG_BUF_KERNEL,
		.log = dev->cfg.log,
	};
	int err;

	vh_dev_log_free(dev);
	err = vh_log_buf_create(&lc, vh_dev_log_bytes(dev), &dev->logbuf);
	if (err < 0)
		vh_dev_err(dev, "log start", err, "create log");
	return err;
}

/* SET_FEATURES with or without LOG_ALL, then each running ring with or without the LOG flag. */
static int vh_dev_log_switch(struct vh_dev *dev, bool on)
{
	int err = 0;

	if (dev->features_acked)
		err = dev->ops->set_features(dev, vh_dev_wire_features(dev->acked_features, on));
	for (unsigned i = 0; !err && i < dev->nrings; i++)
		if (dev->rings[i].running)
			err = vh_dev_vring_send_addr(dev, i, on);
	return err;
}

int vh_dev_log_start(struct vh_dev *dev)
{
	char why[128];
	int err;

	if (dev->log_enabled)
		return 0;
	err = vh_dev_migration_blocker(dev, why, sizeof(why));
	if (err != 0) {
		if (err > 0)
			vh_dev_err(dev, "log start", -EOPNOTSUPP, "%s", why);
		return err < 0 ? err : -EOPNOTSUPP;
	}
	err = vh_dev_log_create(dev);
	if (err < 0)
		return err;
	if (dev->started)
		err = vh_dev_log_send(dev);
	if (!err)
		err = vh_dev_log_switch(dev, true);
	if (err < 0) {
		/* Unwind: the backend must not keep logging into a buffer we drop. */
		if (!vh_dev_usable(dev))
			vh_dev_log_switch(dev, false);
		vh_dev_log_free(dev);
		return err;
	}
	dev->log_enabled = true;
	return 0;
}

int vh_dev_log_stop(struct vh_dev *dev)
{
	int err;

	if (!dev->log_enabled)
		return 0;
	dev->log_enabled = false;
	err = vh_dev_usable(dev);
	if (!err)
		err = vh_dev_log_switch(dev, false);
	return err;
}

int vh_dev_log_sync(struct vh_dev *dev, uint64_t *bitmap, uint64_t nbits)
{
	int64_t n;

	if (!bitmap || !dev->logbuf)
		return -EINVAL;
	n = vh_log_buf_sync(dev->logbuf, bitmap, (size_t)nbits);
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

int vh_dev_migration_blocker(const struct vh_dev *dev, char *why, size_t len)
{
	const char *reason = NULL;

	if (!why && len)
		return -EINVAL;
	if (!(dev->backend_features & (1ull << VHOST_F_LOG_ALL)))
		reason = "the backend does not offer VHOST_F_LOG_ALL";
	else if ((dev->ops->caps & VH_TP_CAP_LOG_FD) &&
		 !(dev->protocol_features & (1ull << VH_USER_PROTOCOL_F_LOG_SHMFD)))
		reason = "the backend does not support VHOST_USER_PROTOCOL_F_LOG_SHMFD";
	else if (dev->mem_nofd && (dev->ops->caps & VH_TP_CAP_MEM_FD))
		reason = "guest memory without an fd cannot be shared with the backend";
	else if (dev->broken)
		reason = "the backend connection is broken";
	if (!reason)
		return 0;
	if (len)
		snprintf(why, len, "%s", reason);
	return 1;
}
