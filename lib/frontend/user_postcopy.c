// SPDX-License-Identifier: BSD-3-Clause
/*
 * vhost-user postcopy messages (vhost-user.rst "Migration", PAGEFAULT): POSTCOPY_ADVISE (the
 * reply carries the backend's userfaultfd), POSTCOPY_LISTEN, POSTCOPY_END (a u64 status), and
 * the memory table while listening: SET_MEM_TABLE / ADD_MEM_REG go out without NEED_REPLY,
 * the backend answers with the same table (region) carrying its own address of each region in
 * userspace_addr, and we ack with a u64 0, after which the backend may touch guest memory.
 */
#include <errno.h>
#include <inttypes.h>

#include <vhost/proto.h>
#include <vhost/sock.h>

#include "frontend/dev_internal.h"
#include "frontend/user.h"

int vh_user_postcopy_advise(struct vh_dev *dev, int *uffd)
{
	struct vh_msg m, r;
	int err;

	vh_msg_init(&m, VH_USER_POSTCOPY_ADVISE, 0, 0);
	err = vh_user_exchange(dev, &m, &r);
	if (err < 0)
		return err;
	if (r.nfds != 1) {
		vh_dev_err(dev, "VHOST_USER_POSTCOPY_ADVISE", -EIO, "backend sent no userfaultfd");
		return -EIO;
	}
	*uffd = r.fds[0];
	return 0;
}

int vh_user_postcopy_listen(struct vh_dev *dev)
{
	struct vh_msg m;

	vh_msg_init(&m, VH_USER_POSTCOPY_LISTEN, 0, 0);
	return vh_user_exchange(dev, &m, NULL);
}

int vh_user_postcopy_end(struct vh_dev *dev)
{
	struct vh_msg m, r;
	int err;

	vh_msg_init(&m, VH_USER_POSTCOPY_END, 0, 0);
	err = vh_user_exchange(dev, &m, &r);
	if (err < 0)
		return err;
	if (r.payload.u64) {
		vh_dev_err(dev, "VHOST_USER_POSTCOPY_END", -EIO,
			   "backend failed (status 0x%" PRIx64 ")", r.payload.u64);
		return -EIO;
	}
	return 0;
}

/* One region of the answer: the one we sent, except for the backend's address. */
static int note_region(struct vh_dev *dev, const char *req, const struct vh_user_mem_region *sent,
		       const struct vh_user_mem_region *got)
{
	struct vh_dev_postcopy_region r = { .gpa = got->guest_phys_addr,
					    .size = got->memory_size,
					    .backend_addr = got->userspace_addr };
	uint64_t end;

	if (got->guest_phys_addr != sent->guest_phys_addr ||
	    got->memory_size != sent->memory_size || !got->userspace_addr ||
	    vh_add_overflows(got->userspace_addr, got->memory_size - 1, &end)) {
		vh_dev_err(dev, req, -EPROTO,
			   "answer for gpa 0x%" PRIx64 " size 0x%" PRIx64 " at 0x%" PRIx64
			   " does not match the region sent",
			   got->guest_phys_addr, got->memory_size, got->userspace_addr);
		return vh_dev_set_broken(dev, -EPROTO);
	}
	return vh_dev_postcopy_note(dev, &r);
}

static int parse_answer(struct vh_dev *dev, const struct vh_msg *m, const struct vh_msg *r)
{
	const char *req = vh_proto_request_name(m->hdr.request);
	int err = 0;

	if (r->hdr.size != m->hdr.size) {
		vh_dev_err(dev, req, -EPROTO, "postcopy answer of %" PRIu32 " bytes, sent %" PRIu32,
			   r->hdr.size, m->hdr.size);
		return vh_dev_set_broken(dev, -EPROTO);
	}
	if (m->hdr.request == VH_USER_ADD_MEM_REG)
		return note_region(dev, req, &m->payload.mem_reg.region,
				   &r->payload.mem_reg.region);
	vh_dev_postcopy_clear(dev);
	for (unsigned i = 0; i < m->payload.mem.nregions && !err; i++)
		err = note_region(dev, req, &m->payload.mem.regions[i], &r->payload.mem.regions[i]);
	return err;
}

int vh_user_postcopy_exchange(struct vh_dev *dev, struct vh_msg *m)
{
	const char *req = vh_proto_request_name(m->hdr.request);
	struct vh_msg r, ack;
	int err;

	if (m->hdr.request == VH_USER_REM_MEM_REG) {
		err = vh_user_exchange(dev, m, NULL);
		if (err == 0)
			vh_dev_postcopy_forget(dev, m->payload.mem_reg.region.guest_phys_addr);
		return err;
	}
	err = vh_dev_usable(dev);
	if (err < 0)
		return err;
	/* vhost-user.rst SET_MEM_TABLE: no NEED_REPLY; the answer is the table itself. */
	err = vh_sock_send(dev->fd, m);
	if (err < 0) {
		vh_dev_err(dev, req, err, "send");
		return vh_dev_set_broken(dev, err);
	}
	err = vh_user_recv_reply(dev, m, &r);
	if (err < 0)
		return err;
	vh_msg_close_fds(&r);
	err = parse_answer(dev, m, &r);
	if (err < 0)
		return err;
	/*
	 * The ack: a u64 0 under the same request (QEMU acks its ADD_MEM_REGs once, at the end,
	 * libvhost-user waits for one after each; one per answer satisfies both).
	 */
	vh_msg_init(&ack, m->hdr.request, 0, sizeof(uint64_t));
	err = vh_sock_send(dev->fd, &ack);
	if (err < 0) {
		vh_dev_err(dev, req, err, "send the postcopy ack");
		return vh_dev_set_broken(dev, err);
	}
	return 0;
}
