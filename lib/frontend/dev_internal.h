/* SPDX-License-Identifier: BSD-3-Clause */
/* Private: struct vh_dev and the helpers its files share. */
#ifndef VH_FRONTEND_DEV_INTERNAL_H
#define VH_FRONTEND_DEV_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <vhost/frontend.h>
#include <vhost/log.h>
#include <vhost/mem.h>
#include <vhost/proto.h>

#include "frontend/transport.h"
#include "util/util.h"

#define VH_DEV_DEFAULT_TIMEOUT_MS 5000

/* Protocol features this library implements (the default of cfg->protocol_features). */
#define VH_DEV_PROTOCOL_SUPPORTED                                                                 \
	((1ull << VH_USER_PROTOCOL_F_MQ) | (1ull << VH_USER_PROTOCOL_F_LOG_SHMFD) |               \
	 (1ull << VH_USER_PROTOCOL_F_REPLY_ACK) | (1ull << VH_USER_PROTOCOL_F_BACKEND_REQ) |      \
	 (1ull << VH_USER_PROTOCOL_F_CONFIG) | (1ull << VH_USER_PROTOCOL_F_INFLIGHT_SHMFD) |      \
	 (1ull << VH_USER_PROTOCOL_F_RESET_DEVICE) |                                              \
	 (1ull << VH_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS) | (1ull << VH_USER_PROTOCOL_F_STATUS) | \
	 (1ull << VH_USER_PROTOCOL_F_INBAND_NOTIFICATIONS) |                                      \
	 (1ull << VH_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT) |                                   \
	 (1ull << VH_USER_PROTOCOL_F_DEVICE_STATE) | (1ull << VH_USER_PROTOCOL_F_GPA_ADDRESSES) | \
	 (1ull << VH_USER_PROTOCOL_F_BACKEND_SEND_FD) |                                           \
	 (1ull << VH_USER_PROTOCOL_F_HOST_NOTIFIER) | (1ull << VH_USER_PROTOCOL_F_SHMEM) |        \
	 (1ull << VH_USER_PROTOCOL_F_PAGEFAULT))

/*
 * Implemented but negotiated only when cfg->protocol_features asks: in-band notifications put
 * every kick and call on the sockets (vhost-user.rst advises against them unless needed);
 * GET_VRING_BASE_INFLIGHT changes what a stop means (requests in flight are suspended, not
 * completed, and finish only after the next start, possibly on another backend);
 * GPA_ADDRESSES because rust-vmm's vhost crate up to 0.16 offers its SHMEM on bit 21: acking
 * that by default would send guest addresses to a backend that maps them as virtual ones.
 * PAGEFAULT (postcopy) needs a VMM that serves the backend's page faults.
 */
#define VH_DEV_PROTOCOL_OPT_IN                                  \
	((1ull << VH_USER_PROTOCOL_F_INBAND_NOTIFICATIONS) |    \
	 (1ull << VH_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT) | \
	 (1ull << VH_USER_PROTOCOL_F_GPA_ADDRESSES) | (1ull << VH_USER_PROTOCOL_F_PAGEFAULT))

/* Header of the buffer vh_dev_inflight_save() fills. */
#define VH_DEV_INFLIGHT_MAGIC 0x6c666e4968760001ull
struct vh_dev_inflight_hdr {
	uint64_t magic;
	uint64_t mmap_size;
	uint16_t num_queues;
	uint16_t queue_size;
	uint32_t padding;
};

enum vh_dev_postcopy_state {
	VH_DEV_POSTCOPY_NONE = 0,
	VH_DEV_POSTCOPY_ADVISED,
	VH_DEV_POSTCOPY_LISTENING, /* tables are answered with the backend's addresses */
};

struct vh_dev_ring {
	bool configured; /* vh_dev_vring_setup() done */
	bool running;	 /* handed to the backend (between start and stop) */
	bool masked;
	struct vh_dev_vring vr; /* as the caller set it up; vr.base is the next start's base */
	int kick_fd, call_fd;	/* effective fds (the caller's or ours) */
	bool own_kick, own_call;
	int err_fd; /* SET_VRING_ERR eventfd (the caller's or ours), -1 until setup */
	bool own_err;
	int masked_fd; /* private call fd while masked, -1 until first masked */
};

struct vh_dev {
	char *path; /* transport address without the "unix:" prefix */
	char *name;
	struct vh_dev_config cfg; /* copied; cfg.path/name point at the copies above */
	int timeout_ms;
	const struct vh_transport_ops *ops;

	/* Transport connection (vhost-user: socket, listening socket, backend channel). */
	int fd;
	int listen_fd;
	int chan_fd;

	/*
	 * 0, or the sticky error: -EPROTO (peer broke the protocol) or -ECONNRESET (peer gone).
	 * Cleared only by a successful vh_dev_reconnect().
	 */
	int broken;

	uint64_t backend_features;
	uint64_t acked_features;
	bool features_acked;
	uint64_t protocol_features;
	uint64_t backend_protocol_features; /* the raw GET_PROTOCOL_FEATURES offer */
	unsigned max_queues;
	unsigned max_mem_slots;

	struct vh_memtable *mem;
	bool mem_open; /* between mem_begin and mem_commit */
	bool mem_sent; /* the backend knows the committed table */
	bool mem_nofd; /* a committed region has no fd */
	/* The open batch as the caller gave it (ring checks before the table is replaced). */
	struct vh_dev_mem_region *batch;
	unsigned nbatch, batch_cap;
	bool batch_nofd;

	struct vh_dev_ring rings[VH_DEV_MAX_QUEUES];
	unsigned nrings; /* highest configured index + 1 */
	bool started;

	struct vh_log_buf *logbuf;
	bool log_enabled;

	/* Inflight region: mapped from the backend's fd or loaded from a saved buffer. */
	int inflight_fd;
	void *inflight_addr;
	uint64_t inflight_size;
	uint64_t inflight_offset;
	uint16_t inflight_nq, inflight_qs;

	/* vhost-user SHMEM regions and mappings, host notifier pages (user_areas.c); NULL: none. */
	struct vh_user_areas *areas;

	/* Postcopy (dev_postcopy.c): where the backend mapped each region of the last table. */
	enum vh_dev_postcopy_state postcopy;
	struct vh_dev_postcopy_region *pc_regions;
	unsigned pc_nregions, pc_cap;

	/* Ioctl transports (transport_ioctl.c): syscall table (NULL: the real calls) and state. */
	const struct vh_ioctl_sys *sys;
	struct vh_ioctl *ioctl;
	/* vhost-vdpa: the caller's IOVA maps and group ASIDs (vdpa_iommu.c); outlive a reopen. */
	struct vh_vdpa_iommu *vdpa_iommu;
};

/* What SET_FEATURES carries: an ack, plus LOG_ALL while logging (the seed's vhost_dev_set_log). */
static inline uint64_t vh_dev_wire_features(uint64_t acked, bool log)
{
	return acked | (log ? 1ull << VHOST_F_LOG_ALL : 0);
}

/* GPA_ADDRESSES negotiated: every "user address" sent is the guest physical address. */
static inline bool vh_dev_gpa_addresses(const struct vh_dev *dev)
{
	return dev->protocol_features & (1ull << VH_USER_PROTOCOL_F_GPA_ADDRESSES);
}

/* Log one error line "<dev>: <request>: <what>: <strerror>". */
#define vh_dev_err(dev, req, err, what, ...)                                         \
	vh_logf(&(dev)->cfg.log, VH_LOG_ERR, (dev)->name, "%s: " what ": %s", (req), \
		##__VA_ARGS__, strerror(-(err)))

struct vh_ioctl_sys;
struct vh_ioctl;
struct vh_vdpa_iommu;

/* vh_dev_create() with the ioctl transports' system calls replaced by @sys (unit tests). */
int vh_dev_create_sys(const struct vh_dev_config *cfg, const struct vh_ioctl_sys *sys,
		      struct vh_dev **out);

/* Mark the device broken (first error wins) and return @err. */
int vh_dev_set_broken(struct vh_dev *dev, int err);
/* 0 if the device may talk to the backend, else the sticky error. */
int vh_dev_usable(const struct vh_dev *dev);

/* dev_mem.c */
int vh_dev_mem_init(struct vh_dev *dev);
int vh_dev_mem_send(struct vh_dev *dev, bool fresh);
/* Host virtual address of [gpa, gpa + len) in the committed table, 0 if not inside one region. */
uint64_t vh_dev_gpa_to_uva(const struct vh_dev *dev, uint64_t gpa, uint64_t len);

/*
 * dev.c: the backend signalled ring @index in band (BACKEND_VRING_CALL, or _ERR when @err):
 * write the eventfd the caller watches (the private one while masked). 0, -EINVAL bad ring.
 */
int vh_dev_ring_signal(struct vh_dev *dev, unsigned index, bool err);

/* user_areas.c: the guest address of [uva, uva + len) when inside one committed region. */
int vh_dev_uva_to_gpa(const struct vh_dev *dev, uint64_t uva, uint64_t len, uint64_t *gpa);

/* dev.c: ring geometry and (re)programming, used by log and reconnect. */
int vh_dev_vring_send_addr(struct vh_dev *dev, unsigned index, bool log);
int vh_dev_start_rings(struct vh_dev *dev);
uint64_t vh_dev_used_size(const struct vh_dev_vring *vr);
bool vh_dev_has_iommu(const struct vh_dev *dev);
/* The backend died: take the base from where it got to (split: used idx; packed: inflight). */
void vh_dev_rebase_from_used(struct vh_dev *dev, unsigned index);

/* dev_log.c */
uint64_t vh_dev_log_bytes(const struct vh_dev *dev);
int vh_dev_log_send(struct vh_dev *dev);
int vh_dev_log_prepare_mem(struct vh_dev *dev);
void vh_dev_log_finish_mem(struct vh_dev *dev);
void vh_dev_log_free(struct vh_dev *dev);

/*
 * dev_extra.c: translate @iova through cfg.iotlb_translate and send the mapping as an IOTLB
 * update (@req names the request for the log line).
 */
int vh_dev_iotlb_update(struct vh_dev *dev, const char *req, uint64_t iova, int perm);

/*
 * vdpa_iommu.c, from vh_dev_destroy(): the vIOMMU state lives in struct vh_dev, not in the
 * transport's, so that a reopen (vh_dev_reconnect) keeps it.
 */
void vh_vdpa_iommu_free(struct vh_dev *dev);

/*
 * dev_postcopy.c: forget every region (@clear) or remember where the backend mapped one
 * (replacing what was known for its gpa). 0, -ENOMEM.
 */
void vh_dev_postcopy_clear(struct vh_dev *dev);
int vh_dev_postcopy_note(struct vh_dev *dev, const struct vh_dev_postcopy_region *r);
void vh_dev_postcopy_forget(struct vh_dev *dev, uint64_t gpa);
/* The connection is gone: postcopy state with it. */
void vh_dev_postcopy_reset(struct vh_dev *dev);

/* dev_extra.c: inflight region */
int vh_dev_inflight_apply(struct vh_dev *dev);
void vh_dev_inflight_free(struct vh_dev *dev);

#endif
