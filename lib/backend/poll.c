/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * backend/poll.c: poll-mode datapath. Worker threads busy-poll the rings assigned to them (queue
 * i of every connection runs on worker i % N). The dispatch thread parks every worker before it
 * changes memory, rings or fds the workers use, and resumes them afterwards.
 *
 * Lock order: s->lock only (workers never take another lock while holding it; the device's
 * queue_kick runs without it: vh_queue_run() is VH_EXCLUDES(s->lock)). A worker's queue list is
 * changed only while it is parked.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend_internal.h"

/*
 * Empty polling rounds in a row before a worker yields the CPU once. A round that found work
 * starts the count again: a busy worker keeps its CPU as a DPDK lcore does (the scheduler still
 * preempts it at the end of its slice); an idle one lets others run now and then.
 */
#define VH_POLL_YIELD_ROUNDS 1024

/*
 * Workers poll pause and exit_workers without the lock (atomically: a missed update costs one
 * more polling round); every write happens under s->lock, which also orders the cond waits.
 */
static bool must_park(struct vh_worker *w)
{
	struct vh_server *s = w->s;

	return __atomic_load_n(&s->pause, __ATOMIC_ACQUIRE) ||
	       __atomic_load_n(&s->exit_workers, __ATOMIC_ACQUIRE) || !w->nq;
}

/* Returns false when the worker must exit. */
static bool worker_park(struct vh_server *s, struct vh_worker *w) VH_REQUIRES(&s->lock)
{
	while (must_park(w) && !s->exit_workers) {
		w->parked = true;
		vh_cond_broadcast(&s->cond_park);
		vh_cond_wait(&s->cond_resume, &s->lock);
	}
	w->parked = false;
	if (s->exit_workers) {
		w->parked = true;
		vh_cond_broadcast(&s->cond_park);
		return false;
	}
	return true;
}

static void *worker_main(void *arg)
{
	struct vh_worker *w = arg;
	struct vh_server *s = w->s;
	unsigned rounds = 0;
	bool run, busy;

	for (;;) {
		if (must_park(w)) {
			vh_mutex_lock(&s->lock);
			run = worker_park(s, w);
			vh_mutex_unlock(&s->lock);
			if (!run)
				return NULL;
		}
		busy = false;
		for (unsigned i = 0; i < w->nq; i++) {
			w->qs[i]->popped = 0; /* a stopped queue's run pops nothing */
			vh_queue_run(w->qs[i]);
			busy |= w->qs[i]->popped != 0;
		}
		if (busy)
			rounds = 0;
		else if (++rounds == VH_POLL_YIELD_ROUNDS) {
			rounds = 0;
			sched_yield();
		}
	}
}

int vh_poll_start(struct vh_server *s)
{
	unsigned group = VH_MAX(s->cfg.poll_group, 1u);
	unsigned n =
	    s->cfg.poll_threads ? s->cfg.poll_threads : (s->cfg.num_queues + group - 1) / group;
	int err;

	if (n > s->cfg.num_queues)
		n = s->cfg.num_queues;
	s->workers = calloc(n, sizeof(*s->workers));
	if (!s->workers)
		return -ENOMEM;
	s->nworkers = n;
	for (unsigned i = 0; i < n; i++) {
		struct vh_worker *w = &s->workers[i];

		w->s = s;
		w->cap = s->cfg.max_connections * s->cfg.num_queues;
		w->qs = calloc(w->cap, sizeof(*w->qs));
		if (!w->qs)
			return -ENOMEM;
		err = pthread_create(&w->thread, NULL, worker_main, w);
		if (err)
			return -err;
		w->running = true;
	}
	return 0;
}

void vh_poll_stop(struct vh_server *s)
{
	if (!s->workers)
		return;
	vh_mutex_lock(&s->lock);
	__atomic_store_n(&s->exit_workers, true, __ATOMIC_RELEASE);
	vh_cond_broadcast(&s->cond_resume);
	vh_mutex_unlock(&s->lock);
	for (unsigned i = 0; i < s->nworkers; i++) {
		if (s->workers[i].running)
			pthread_join(s->workers[i].thread, NULL);
		free(s->workers[i].qs);
	}
	free(s->workers);
	s->workers = NULL;
	s->nworkers = 0;
}

/* Returns with every worker outside queue_kick and waiting; nests. */
void vh_poll_park(struct vh_server *s)
{
	if (!s->workers)
		return;
	vh_mutex_lock(&s->lock);
	__atomic_add_fetch(&s->pause, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < s->nworkers; i++)
		while (s->workers[i].running && !s->workers[i].parked)
			vh_cond_wait(&s->cond_park, &s->lock);
	vh_mutex_unlock(&s->lock);
}

void vh_poll_resume(struct vh_server *s)
{
	if (!s->workers)
		return;
	vh_mutex_lock(&s->lock);
	__atomic_sub_fetch(&s->pause, 1, __ATOMIC_RELEASE);
	vh_cond_broadcast(&s->cond_resume);
	vh_mutex_unlock(&s->lock);
}

void vh_poll_attach(struct vh_queue *q)
{
	struct vh_server *s = q->conn->s;
	struct vh_worker *w;

	if (!s->workers)
		return;
	w = &s->workers[q->worker];
	vh_poll_park(s);
	if (w->nq < w->cap)
		w->qs[w->nq++] = q;
	vh_poll_resume(s);
}

void vh_poll_detach(struct vh_queue *q)
{
	struct vh_server *s = q->conn->s;
	struct vh_worker *w;

	if (!s->workers)
		return;
	w = &s->workers[q->worker];
	vh_poll_park(s);
	for (unsigned i = 0; i < w->nq; i++) {
		if (w->qs[i] == q) {
			w->qs[i] = w->qs[--w->nq];
			break;
		}
	}
	vh_poll_resume(s);
}
