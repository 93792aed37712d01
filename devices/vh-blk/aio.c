/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vh-blk I/O engines for file backings:
 *
 *   io_uring (default): one ring per virtqueue, owned by the queue's context. A queue_kick
 *     prepares one SQE per request and submits them with one io_uring_submit(). Event mode:
 *     the ring's registered eventfd is watched by the server (vh_server_watch()) and the
 *     completions are pushed from that callback; poll mode: queue_kick reaps the CQ (no syscall).
 *   threads: a pool of workers doing preadv2/pwritev2/fdatasync; a finished request goes on its
 *     queue's done list (under vhblk_queue.lock) and the queue is woken (vh_queue_wake()); the
 *     next queue_kick pushes it.
 *   sync: done inline by the caller (req.c), nothing here.
 *
 * Lock order: vhblk_pool.lock and vhblk_queue.lock are never held together.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vh_blk.h"

static bool uses_uring(const struct vhblk_queue *vq)
{
#ifdef VHBLK_HAVE_URING
	return vq->ring_ok;
#else
	return false;
#endif
}

static bool uses_threads(const struct vhblk_queue *vq)
{
	return vq->dev->kind == VHBLK_BACKING_FILE && vq->dev->opt.aio == VHBLK_AIO_THREADS;
}

/* ---- io_uring ---------------------------------------------------------------------------- */

#ifdef VHBLK_HAVE_URING
/* A short read or write is finished synchronously from where the kernel stopped. */
static void uring_finish(struct vhblk_req *r, int res)
{
	r->res = res;
	if (res >= 0 && r->type != VIRTIO_BLK_T_FLUSH && (uint64_t)res < r->len) {
		size_t skip = (size_t)res;
		unsigned i = 0;

		while (skip >= r->data[i].iov_len) {
			skip -= r->data[i].iov_len;
			i++;
		}
		r->data[i].iov_base = (uint8_t *)r->data[i].iov_base + skip;
		r->data[i].iov_len -= skip;
		memmove(r->data, r->data + i, (r->ndata - i) * sizeof(*r->data));
		r->ndata -= i;
		r->offset += (uint64_t)res;
		r->len -= (uint64_t)res;
		r->res = vhblk_rw_sync(r);
		r->len += (uint64_t)res; /* IN reports every byte of data written */
	}
	vhblk_complete_io(r);
}

static unsigned uring_reap(struct vhblk_queue *vq)
{
	struct io_uring_cqe *cqes[64];
	unsigned total = 0, n;

	if (!vq->ring_ok || !vq->inflight)
		return 0;
	while ((n = io_uring_peek_batch_cqe(&vq->ring, cqes, 64)) > 0) {
		for (unsigned i = 0; i < n; i++) {
			struct vhblk_req *r = io_uring_cqe_get_data(cqes[i]);
			int res = cqes[i]->res;

			vq->inflight--;
			if (r->async) {
				r->async = false;
				vq->async_inflight--;
			}
			uring_finish(r, res);
		}
		io_uring_cq_advance(&vq->ring, n);
		total += n;
	}
	return total;
}

/* The ring's eventfd is watched edge-triggered and never read (see uring_init()). */
static void uring_event(void *opaque, int fd, uint32_t events)
{
	struct vhblk_queue *vq = opaque;

	if (!uring_reap(vq))
		return;
	vh_queue_notify(vq->q);
	if (vq->stalled)
		vh_queue_wake(vq->q);
}

static int uring_init(struct vhblk_queue *vq)
{
	unsigned entries = VHBLK_MIN(vq->nreq, 4096u);
	int err;

	err = io_uring_queue_init(entries, &vq->ring, 0);
	if (err < 0) {
		vhblk_log(vq->dev, VH_LOG_ERR, "vq %u: io_uring_queue_init: %s",
			  vh_queue_index(vq->q), strerror(-err));
		return err;
	}
	vq->ring_ok = true;
	vq->ring_efd = -1;
	if (!vq->event)
		return 0;
	vq->ring_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vq->ring_efd < 0)
		return -errno;
	err = io_uring_register_eventfd(&vq->ring, vq->ring_efd);
	if (err < 0)
		return err;
	/*
	 * io_uring signals the eventfd for every completion, also for the page cache hits that
	 * queue_kick reaps right after io_uring_submit(). Edge-triggered, each signal still wakes
	 * the loop (no completion is missed), but nobody pays a read(2) per request to drain it;
	 * the counter just grows (2^64 - 2 signals before it would saturate).
	 */
	return vh_server_watch(vq->srv, vq->ring_efd, EPOLLIN | EPOLLET, uring_event, vq);
}

static void uring_fini(struct vhblk_queue *vq)
{
	if (vq->ring_efd >= 0) {
		vh_server_unwatch(vq->srv, vq->ring_efd);
		close(vq->ring_efd);
		vq->ring_efd = -1;
	}
	if (vq->ring_ok)
		io_uring_queue_exit(&vq->ring);
	vq->ring_ok = false;
}

static int uring_submit(struct vhblk_queue *vq, struct vhblk_req *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&vq->ring);

	if (!sqe) {
		vhblk_aio_flush_submits(vq);
		sqe = io_uring_get_sqe(&vq->ring);
		if (!sqe)
			return -EBUSY;
	}
	if (r->type == VIRTIO_BLK_T_IN) {
		io_uring_prep_readv(sqe, vq->dev->fd, r->data, r->ndata, r->offset);
		/*
		 * A buffered read the kernel cannot finish without blocking (tmpfs, a page cache
		 * miss) goes to an io-wq worker, and io-wq runs such punted reads one after the
		 * other on a single worker: a 128k read is a 128k memcpy there, so one core copies
		 * while the others wait. IOSQE_ASYNC marks the work concurrent: io-wq starts workers
		 * in parallel. Only for big reads, where the copy outweighs the hand-off to a worker
		 * (a 4k page cache hit completes inside io_uring_submit(), no thread involved).
		 */
		if (r->len >= VHBLK_ASYNC_READ_MIN && !vq->dev->opt.direct) {
			sqe->flags |= IOSQE_ASYNC;
			r->async = true;
			vq->async_inflight++;
		}
	} else if (r->type == VIRTIO_BLK_T_OUT) {
		io_uring_prep_writev(sqe, vq->dev->fd, r->data, r->ndata, r->offset);
		/* Without VIRTIO_BLK_F_FLUSH the driver expects write-through (§5.2.5). */
		if (!vq->writeback)
			sqe->rw_flags = RWF_DSYNC;
	} else {
		io_uring_prep_fsync(sqe, vq->dev->fd, IORING_FSYNC_DATASYNC);
	}
	io_uring_sqe_set_data(sqe, r);
	vq->queued++;
	vq->inflight++;
	return 0;
}
#endif

/* ---- thread pool ------------------------------------------------------------------------- */

static void *pool_worker(void *arg)
{
	struct vhblk *d = arg;
	struct vhblk_pool *p = &d->pool;

	for (;;) {
		struct vhblk_req *r;
		struct vhblk_queue *vq;

		pthread_mutex_lock(&p->lock);
		while (!p->head && !p->exit)
			pthread_cond_wait(&p->cond, &p->lock);
		if (!p->head) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		r = p->head;
		p->head = r->next;
		if (!p->head)
			p->tail = NULL;
		pthread_mutex_unlock(&p->lock);

		r->res = r->type == VIRTIO_BLK_T_FLUSH ? vhblk_flush_sync(d) : vhblk_rw_sync(r);
		vq = r->vq;
		pthread_mutex_lock(&vq->lock);
		r->next = vq->done;
		vq->done = r;
		vq->ndone++;
		/* Under the lock: vhblk_aio_drain() cannot let the queue go before this returns.
		 * Poll mode needs no wake: the next loop iteration reaps. */
		if (vq->event)
			vh_queue_wake(vq->q);
		pthread_cond_signal(&vq->cond);
		pthread_mutex_unlock(&vq->lock);
	}
}

int vhblk_pool_start(struct vhblk *d)
{
	struct vhblk_pool *p = &d->pool;
	int err;

	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	if (d->kind != VHBLK_BACKING_FILE || d->opt.aio != VHBLK_AIO_THREADS)
		return 0;
	p->threads = calloc(d->opt.aio_threads, sizeof(*p->threads));
	if (!p->threads)
		return -ENOMEM;
	for (unsigned i = 0; i < d->opt.aio_threads; i++) {
		err = pthread_create(&p->threads[i], NULL, pool_worker, d);
		if (err)
			return -err;
		p->nthreads++;
	}
	return 0;
}

void vhblk_pool_stop(struct vhblk *d)
{
	struct vhblk_pool *p = &d->pool;

	pthread_mutex_lock(&p->lock);
	p->exit = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	p->threads = NULL;
	p->nthreads = 0;
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
}

static void pool_submit(struct vhblk_queue *vq, struct vhblk_req *r)
{
	struct vhblk_pool *p = &vq->dev->pool;

	vq->inflight++;
	r->next = NULL;
	pthread_mutex_lock(&p->lock);
	if (p->tail)
		p->tail->next = r;
	else
		p->head = r;
	p->tail = r;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static unsigned pool_reap(struct vhblk_queue *vq)
{
	struct vhblk_req *r, *next;
	unsigned n;

	if (!vq->inflight)
		return 0;
	pthread_mutex_lock(&vq->lock);
	r = vq->done;
	n = vq->ndone;
	vq->done = NULL;
	vq->ndone = 0;
	pthread_mutex_unlock(&vq->lock);
	for (; r; r = next) {
		next = r->next;
		vq->inflight--;
		vhblk_complete_io(r);
	}
	return n;
}

/* ---- per queue --------------------------------------------------------------------------- */

int vhblk_aio_queue_init(struct vhblk_queue *vq)
{
	pthread_mutex_init(&vq->lock, NULL);
	pthread_cond_init(&vq->cond, NULL);
#ifdef VHBLK_HAVE_URING
	vq->ring_efd = -1;
	if (vq->dev->kind == VHBLK_BACKING_FILE && vq->dev->opt.aio == VHBLK_AIO_IO_URING &&
	    uring_init(vq) < 0) {
		/* e.g. io_uring disabled by sysctl or seccomp: the queue still works, inline. */
		uring_fini(vq);
		vhblk_log(vq->dev, VH_LOG_WARN, "vq %u: no io_uring: synchronous I/O",
			  vh_queue_index(vq->q));
	}
#endif
	return 0;
}

void vhblk_aio_queue_fini(struct vhblk_queue *vq)
{
#ifdef VHBLK_HAVE_URING
	uring_fini(vq);
#endif
	pthread_cond_destroy(&vq->cond);
	pthread_mutex_destroy(&vq->lock);
}

int vhblk_aio_submit(struct vhblk_queue *vq, struct vhblk_req *r)
{
#ifdef VHBLK_HAVE_URING
	if (uses_uring(vq))
		return uring_submit(vq, r);
#endif
	if (uses_threads(vq)) {
		pool_submit(vq, r);
		return 0;
	}
	return -ENOTSUP;
}

void vhblk_aio_flush_submits(struct vhblk_queue *vq)
{
#ifdef VHBLK_HAVE_URING
	if (vq->queued) {
		int err = io_uring_submit(&vq->ring);

		if (err < 0)
			vhblk_log(vq->dev, VH_LOG_ERR, "vq %u: io_uring_submit: %s",
				  vh_queue_index(vq->q), strerror(-err));
		else
			vq->queued = 0;
	}
#endif
}

unsigned vhblk_aio_reap(struct vhblk_queue *vq)
{
#ifdef VHBLK_HAVE_URING
	if (uses_uring(vq))
		return uring_reap(vq);
#endif
	if (uses_threads(vq))
		return pool_reap(vq);
	return 0;
}

/*
 * The poll loop spinning next to io-wq workers that copy 128k reads takes a core from them (on
 * two cores: the poll thread, the copies and the driver share two). What a kick could find
 * meanwhile is the driver's next request, and a driver at full iodepth has none to give until
 * these complete; one that has gets noticed at the next completion or after the bound.
 */
bool vhblk_aio_idle(struct vhblk_queue *vq)
{
#ifdef VHBLK_HAVE_URING
	struct __kernel_timespec ts = { .tv_nsec = VHBLK_POLL_ASYNC_WAIT_US * 1000 };
	struct io_uring_cqe *cqe;

	if (!uses_uring(vq) || !vq->async_inflight)
		return false;
	/* Completions are reaped by the next kick; this only waits for one to exist. */
	(void)io_uring_wait_cqe_timeout(&vq->ring, &cqe, &ts);
	return true;
#else
	(void)vq;
	return false;
#endif
}

void vhblk_aio_drain(struct vhblk_queue *vq)
{
#ifdef VHBLK_HAVE_URING
	if (uses_uring(vq)) {
		vhblk_aio_flush_submits(vq);
		while (vq->inflight) {
			struct io_uring_cqe *cqe;
			int err = io_uring_wait_cqe(&vq->ring, &cqe);

			if (err < 0 && err != -EINTR) {
				vhblk_log(vq->dev, VH_LOG_ERR, "vq %u: io_uring_wait_cqe: %s",
					  vh_queue_index(vq->q), strerror(-err));
				break;
			}
			uring_reap(vq);
		}
		return;
	}
#endif
	if (uses_threads(vq)) {
		pthread_mutex_lock(&vq->lock);
		while (vq->ndone != vq->inflight)
			pthread_cond_wait(&vq->cond, &vq->lock);
		pthread_mutex_unlock(&vq->lock);
		pool_reap(vq);
	}
}
