/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared by the unit tests: a log sink that records the last line. */
#ifndef VH_UNIT_HELPERS_H
#define VH_UNIT_HELPERS_H

#include <stddef.h>
#include <sys/types.h>

#include <vhost/common.h>

struct vh_test_log {
	char last[512];
	int count;
};

void vh_test_log_fn(void *opaque, enum vh_log_level level, const char *msg);
/* A sink that records into @log and stays quiet on stderr. */
struct vh_log_sink vh_test_sink(struct vh_test_log *log);
/* Number of open file descriptors of this process (for leak checks). */
int vh_test_count_fds(void);

/* vh_test_sendmsg(): shared with the fuzz harnesses (no cmocka there). */
#include "../common/vh_sendmsg.h"

/*
 * Daemons under test (vh-blk, vh-net, examples): the one copy of "spawn and wait for its socket".
 * vh_test_build_path() writes "$LIBVHOST_BUILD/@rel" into @buf (fails the test without it).
 * vh_test_spawn_daemon() runs @argv (NULL-terminated; argv[0] is the path) with
 * PR_SET_PDEATHSIG, waits up to 5 s for @sock to be a unix socket and returns the pid; the test
 * fails when the daemon exits first. vh_test_stop_daemon() checks the backend program
 * conventions on the way out: SIGTERM is a clean exit (status 0) that removes @sock.
 */
void vh_test_build_path(char *buf, size_t size, const char *rel);
pid_t vh_test_spawn_daemon(const char *const *argv, const char *sock);
void vh_test_stop_daemon(pid_t pid, const char *sock);

/* @size bytes of "guest RAM": a memfd (*@fd) mapped shared, as a VMM hands it to a back-end. */
void *vh_test_guest_ram(size_t size, int *fd);

struct vh_dev;
struct vh_vq_driver;
struct vh_vq_driver_req;
struct vh_vq_driver_config;
struct vh_dev_vring;

/* @size bytes of guest RAM at GPA 0 (@host, backed by @fd) as @dev's one memory region. */
void vh_test_dev_mem(struct vh_dev *dev, void *host, int fd, uint64_t size);
/*
 * A ring this process drives: its driver side laid out by vh_vq_driver_create(@qc) (*@drv), and
 * @dev told where: vh_dev_vring_setup() of a copy of @vr (index, num, base, packed, fds as the
 * caller set them) with the driver's ring addresses.
 */
void vh_test_dev_ring(struct vh_dev *dev, const struct vh_vq_driver_config *qc,
		      const struct vh_dev_vring *vr, struct vh_vq_driver **drv);
#define VH_TEST_NO_REPLY (-1000)
/*
 * Add @req to @drv (ring @index of @dev), kick, and wait up to @ms for a used entry (draining the
 * call eventfd). Return: the used length, or VH_TEST_NO_REPLY. The entry's token must be
 * @req->token.
 */
long long vh_test_vq_xfer(struct vh_dev *dev, unsigned index, struct vh_vq_driver *drv,
			  const struct vh_vq_driver_req *req, int ms);

#endif
