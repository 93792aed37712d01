/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vh-blk --host-notifier: a notify page per queue for the front-end (vhost-user HOST_NOTIFIER,
 * BACKEND_VRING_HOST_NOTIFIER_MSG). QEMU maps the page into the guest's notify area
 * (vhost-user-blk-pci with page-per-vq=on), so a guest kick is a write of the queue index into
 * our memfd, with no VM exit and no eventfd. A thread polls the pages and wakes a queue whose
 * page was written (vh_queue_wake()); the kick eventfd keeps working for front-ends that did
 * not map the page. At exit the number of kicks found on the pages is logged.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vh_blk.h"

#define VHBLK_BELL_IDLE 0xffffu /* what we put in a page; the driver writes the queue index */

struct vhblk_bell {
	int fd;
	uint8_t *pages;
	size_t page;
	pthread_t th;
	pthread_mutex_t lock;			  /* guards q[] against queue_stop */
	struct vh_queue *q[VH_SERVER_MAX_QUEUES]; /* started queues */
	unsigned long long kicks;
	volatile bool stop;
};

static volatile uint16_t *bell_slot(struct vhblk_bell *b, unsigned i)
{
	return (volatile uint16_t *)(b->pages + (size_t)i * b->page);
}

static void *bell_thread(void *arg)
{
	struct vhblk_bell *b = arg;

	while (!b->stop) {
		pthread_mutex_lock(&b->lock);
		for (unsigned i = 0; i < VH_SERVER_MAX_QUEUES; i++) {
			volatile uint16_t *s = bell_slot(b, i);

			if (!b->q[i] || __atomic_load_n(s, __ATOMIC_ACQUIRE) == VHBLK_BELL_IDLE)
				continue;
			*s = VHBLK_BELL_IDLE;
			b->kicks++;
			vh_queue_wake(b->q[i]);
		}
		pthread_mutex_unlock(&b->lock);
		usleep(50);
	}
	return NULL;
}

int vhblk_bell_start(struct vhblk *d)
{
	struct vhblk_bell *b;
	size_t len;
	int err;

	if (!d->opt.host_notifier)
		return 0;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->page = (size_t)sysconf(_SC_PAGESIZE);
	len = b->page * VH_SERVER_MAX_QUEUES;
	b->fd = memfd_create("vh-blk-notify", MFD_CLOEXEC);
	if (b->fd < 0 || ftruncate(b->fd, (off_t)len) < 0)
		goto fail;
	b->pages = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd, 0);
	if (b->pages == MAP_FAILED)
		goto fail;
	for (unsigned i = 0; i < VH_SERVER_MAX_QUEUES; i++)
		*bell_slot(b, i) = VHBLK_BELL_IDLE;
	pthread_mutex_init(&b->lock, NULL);
	err = pthread_create(&b->th, NULL, bell_thread, b);
	if (err) {
		errno = err;
		munmap(b->pages, len);
		goto fail;
	}
	d->bell = b;
	return 0;
fail:
	err = -errno;
	if (b->fd >= 0)
		close(b->fd);
	free(b);
	vhblk_log(d, VH_LOG_ERR, "--host-notifier: %s", strerror(-err));
	return err;
}

void vhblk_bell_stop(struct vhblk *d)
{
	struct vhblk_bell *b = d->bell;

	if (!b)
		return;
	b->stop = true;
	pthread_join(b->th, NULL);
	vhblk_log(d, VH_LOG_INFO, "host notifier pages: %llu kicks", b->kicks);
	munmap(b->pages, b->page * VH_SERVER_MAX_QUEUES);
	close(b->fd);
	pthread_mutex_destroy(&b->lock);
	free(b);
	d->bell = NULL;
}

/* queue_start: hand the queue's page over (a front-end without HOST_NOTIFIER just kicks). */
void vhblk_bell_queue_start(struct vhblk *d, struct vh_queue *q)
{
	struct vhblk_bell *b = d->bell;
	unsigned i = vh_queue_index(q);
	int err;

	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	*bell_slot(b, i) = VHBLK_BELL_IDLE;
	b->q[i] = q;
	pthread_mutex_unlock(&b->lock);
	err = vh_queue_set_host_notifier(q, b->fd, (uint64_t)i * b->page, b->page);
	if (err < 0)
		vhblk_log(d, err == -EOPNOTSUPP ? VH_LOG_DEBUG : VH_LOG_WARN,
			  "vq %u: host notifier page not handed over: %s", i, strerror(-err));
}

void vhblk_bell_queue_stop(struct vhblk *d, struct vh_queue *q)
{
	struct vhblk_bell *b = d->bell;

	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	b->q[vh_queue_index(q)] = NULL;
	pthread_mutex_unlock(&b->lock);
}
