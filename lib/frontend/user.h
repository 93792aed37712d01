/* SPDX-License-Identifier: BSD-3-Clause */
/* Private: the vhost-user transport's pieces shared between its files. */
#ifndef VH_FRONTEND_USER_H
#define VH_FRONTEND_USER_H

#include <vhost/sock.h>

struct vh_dev;

/*
 * Send @m and, when a reply is due (the request has one, or REPLY_ACK made us ask), wait for it
 * (bounded by the device timeout) and validate it. @reply: receives a request's own reply (the
 * caller closes its fds); NULL for requests answered only by a REPLY_ACK u64, which is checked
 * here (non-zero: -EIO).
 */
int vh_user_exchange(struct vh_dev *dev, struct vh_msg *m, struct vh_msg *reply);

/* DEVICE_STATE requests (user_state.c). */
int vh_user_set_device_state_fd(struct vh_dev *dev, uint32_t direction, int fd, int *backend_fd);
int vh_user_check_device_state(struct vh_dev *dev);

/* Receive and validate the reply to @m (bounded by the device timeout); the caller closes fds. */
int vh_user_recv_reply(struct vh_dev *dev, const struct vh_msg *m, struct vh_msg *r);

/* Postcopy (user_postcopy.c). */
int vh_user_postcopy_advise(struct vh_dev *dev, int *uffd);
int vh_user_postcopy_listen(struct vh_dev *dev);
int vh_user_postcopy_end(struct vh_dev *dev);
/*
 * While listening: send a SET_MEM_TABLE or ADD_MEM_REG (@m, without NEED_REPLY), take the
 * backend's answer with its address of each region, remember them, ack. REM_MEM_REG goes out
 * as usual and forgets its region.
 */
int vh_user_postcopy_exchange(struct vh_dev *dev, struct vh_msg *m);

/* Backend channel (user_chan.c). */
int vh_user_chan_open(struct vh_dev *dev);
int vh_user_dispatch(struct vh_dev *dev);

/*
 * Areas the back-end hands over (user_areas.c): GET_SHMEM_CONFIG after the protocol features
 * (nothing without SHMEM); BACKEND_SHMEM_MAP / _UNMAP and BACKEND_VRING_HOST_NOTIFIER_MSG
 * checked and applied (0 or -errno for the reply; a kept fd is taken out of @m); the ring's
 * notifier page written instead of a kick (1 written, 0 no page); everything dropped when the
 * connection closes.
 */
int vh_user_shmem_fetch(struct vh_dev *dev);
int vh_user_chan_shmem(struct vh_dev *dev, const struct vh_msg *m);
int vh_user_chan_host_notifier(struct vh_dev *dev, struct vh_msg *m);
int vh_user_notifier_kick(struct vh_dev *dev, unsigned index);
void vh_user_areas_free(struct vh_dev *dev);

#endif
