// SPDX-License-Identifier: BSD-3-Clause
/*
 * backend/postcopy.c: postcopy live migration (vhost-user.rst "Migration", protocol feature
 * PAGEFAULT, POSTCOPY_ADVISE / LISTEN / END and the SET_MEM_TABLE / ADD_MEM_REG replies).
 *
 * On the destination the rings run before all of guest memory has arrived. ADVISE: we open a
 * userfaultfd and hand it to the front-end. LISTEN: from now on every region we map is
 * registered for missing-page faults, and a memory table is answered with our own addresses
 * of each region so that the front-end can tell which guest page a fault address is. The
 * front-end acks that answer (an empty SET_MEM_TABLE: a u64 0); only then may we touch guest
 * memory, so rings paused by the table restart at the ack. A fault blocks the thread that
 * touched the page until the front-end has placed it (UFFDIO_COPY) or woken us (UFFDIO_WAKE).
 * END: the regions are unregistered and the fd closed.
 *
 * Dispatch thread only.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend_internal.h"
#include "mem/userfault.h"

#define PAGEFAULT_BIT (1ull << VH_USER_PROTOCOL_F_PAGEFAULT)

uint64_t vh_postcopy_offer(struct vh_server *s)
{
	uint64_t features;

	/* One probe per server: the kernel does not change under us. */
	if (s->postcopy_probe == 0) {
		int err = vh_uffd_probe(&features);

		s->postcopy_probe = err < 0 ? err : 1;
		if (err < 0)
			vh_logf(&s->cfg.log, VH_LOG_INFO, s->name,
				"userfaultfd on shared memory unavailable, PAGEFAULT (postcopy) "
				"not offered: %s",
				strerror(-err));
	}
	return s->postcopy_probe > 0 ? PAGEFAULT_BIT : 0;
}

int vh_postcopy_advise(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply)
{
	uint32_t req = m->hdr.request;
	int fd, err;

	/* vhost-user.rst: the reply carries the fd. Without one the front-end sees the failure. */
	vh_msg_init(reply, req, VH_USER_FLAG_REPLY, 0);
	if (!(c->proto_features & PAGEFAULT_BIT))
		return vh_conn_fail(c, req, "PAGEFAULT not negotiated", -EINVAL);
	if (c->pc.state != VH_POSTCOPY_NONE)
		return vh_conn_fail(c, req, "postcopy already advised", -EBUSY);
	err = vh_uffd_open(&fd);
	if (err < 0)
		return vh_conn_fail(c, req, "userfaultfd", err);
	c->pc.uffd = fd;
	c->pc.state = VH_POSTCOPY_ADVISED;
	c->pc.ack_pending = false;
	reply->fds[0] = fd; /* still ours: the reply sends (or queues) a duplicate */
	reply->nfds = 1;
	return 0;
}

int vh_postcopy_listen(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply)
{
	int err;

	(void)reply;
	if (c->pc.state == VH_POSTCOPY_NONE)
		return vh_conn_fail(c, m->hdr.request, "no POSTCOPY_ADVISE before", -EINVAL);
	if (c->pc.state == VH_POSTCOPY_LISTENING)
		return vh_conn_fail(c, m->hdr.request, "already listening", -EBUSY);
	/* vhost-user.rst: from now on shared memory must be registered, the current table too. */
	err = vh_memmap_uffd_register(c->mem, c->pc.uffd, UINT64_MAX);
	if (err < 0) {
		vh_memmap_uffd_unregister(c->mem, c->pc.uffd);
		return vh_conn_fail(c, m->hdr.request, "cannot register guest memory", err);
	}
	c->pc.state = VH_POSTCOPY_LISTENING;
	return 0;
}

int vh_postcopy_end(struct vh_conn *c, struct vh_msg *m, struct vh_msg *reply)
{
	bool resume;
	int err;

	/* The reply is a status: 0 success. */
	vh_msg_init(reply, m->hdr.request, VH_USER_FLAG_REPLY, sizeof(uint64_t));
	reply->payload.u64 = 1;
	if (c->pc.state != VH_POSTCOPY_LISTENING)
		return vh_conn_fail(c, m->hdr.request, "no POSTCOPY_LISTEN before", -EINVAL);
	err = vh_memmap_uffd_unregister(c->mem, c->pc.uffd);
	if (err < 0)
		vh_conn_fail(c, m->hdr.request, "unregister guest memory", err);
	resume = c->pc.resume_pending;
	vh_postcopy_drop(c);
	if (resume)
		vh_conn_resume(c);
	reply->payload.u64 = err < 0 ? 1 : 0;
	return err;
}

int vh_postcopy_mem_table(struct vh_conn *c, struct vh_memmap *map, const struct vh_msg *m,
			  struct vh_msg *reply)
{
	const struct vh_user_mem_table *t = &m->payload.mem;
	struct vh_user_mem_table *r = &reply->payload.mem;
	int err;

	if (c->pc.state != VH_POSTCOPY_LISTENING)
		return 0;
	err = vh_memmap_uffd_register(map, c->pc.uffd, UINT64_MAX);
	if (err < 0)
		return vh_conn_fail(c, m->hdr.request, "cannot register guest memory", err);
	/* The same table back, in the same order, each region at the address we mapped it. */
	vh_msg_init(reply, m->hdr.request, VH_USER_FLAG_REPLY, m->hdr.size);
	memcpy(r, t, m->hdr.size);
	for (unsigned i = 0; i < t->nregions; i++)
		r->regions[i].userspace_addr = (uintptr_t)vh_memmap_gpa_to_host(
		    map, t->regions[i].guest_phys_addr, t->regions[i].memory_size);
	c->pc.ack_pending = true;
	return VH_HANDLER_REPLY;
}

int vh_postcopy_add_region(struct vh_conn *c, const struct vh_msg *m, struct vh_msg *reply)
{
	const struct vh_user_mem_region *u = &m->payload.mem_reg.region;
	int err;

	if (c->pc.state != VH_POSTCOPY_LISTENING)
		return 0;
	err = vh_memmap_uffd_register(c->mem, c->pc.uffd, u->guest_phys_addr);
	if (err < 0)
		return vh_conn_fail(c, m->hdr.request, "cannot register guest memory", err);
	vh_msg_init(reply, m->hdr.request, VH_USER_FLAG_REPLY, m->hdr.size);
	reply->payload.mem_reg = m->payload.mem_reg;
	reply->payload.mem_reg.region.userspace_addr =
	    (uintptr_t)vh_memmap_gpa_to_host(c->mem, u->guest_phys_addr, u->memory_size);
	c->pc.ack_pending = true;
	return VH_HANDLER_REPLY;
}

bool vh_postcopy_take_ack(struct vh_conn *c, struct vh_msg *m)
{
	uint32_t req = m->hdr.request;

	/*
	 * vhost-user.rst names the ack an empty SET_MEM_TABLE carrying u64 0. QEMU sends it with
	 * the request of its last table message (ADD_MEM_REG / REM_MEM_REG, or request 0 when
	 * nothing changed and no reply of ours is pending), so any of those with a bare u64
	 * counts.
	 */
	if (m->hdr.size != sizeof(uint64_t) || m->nfds)
		return false;
	if (!(c->pc.ack_pending && (req == VH_USER_SET_MEM_TABLE || req == VH_USER_ADD_MEM_REG ||
				    req == VH_USER_REM_MEM_REG)) &&
	    !(c->pc.state == VH_POSTCOPY_LISTENING && req == VH_USER_NONE))
		return false;
	c->pc.ack_pending = false;
	if (m->payload.u64)
		vh_logf(&c->s->cfg.log, VH_LOG_WARN, c->name,
			"%s: front-end did not take the postcopy table (0x%" PRIx64 ")",
			vh_proto_request_name(req), m->payload.u64);
	vh_logf(&c->s->cfg.log, VH_LOG_DEBUG, c->name, "postcopy table acked");
	if (c->pc.resume_pending) {
		c->pc.resume_pending = false;
		vh_conn_resume(c);
	}
	for (unsigned i = 0; i < c->num_queues; i++)
		vh_queue_try_start(&c->q[i]);
	return true;
}

void vh_postcopy_drop(struct vh_conn *c)
{
	if (c->pc.state != VH_POSTCOPY_NONE)
		close(c->pc.uffd);
	c->pc.state = VH_POSTCOPY_NONE;
	c->pc.ack_pending = false;
	c->pc.resume_pending = false;
}
