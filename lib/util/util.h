/* SPDX-License-Identifier: BSD-3-Clause */
/* Private helpers shared by every layer: logging, branch hints, small math. */
#ifndef VH_UTIL_H
#define VH_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <vhost/common.h>

#define vh_likely(x)	 __builtin_expect(!!(x), 1)
#define vh_unlikely(x)	 __builtin_expect(!!(x), 0)

#define VH_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define VH_MIN(a, b)	 ((a) < (b) ? (a) : (b))
#define VH_MAX(a, b)	 ((a) > (b) ? (a) : (b))

/* Overflow-checked a + b <= limit style helpers. */
static inline bool vh_add_overflows(uint64_t a, uint64_t b, uint64_t *sum)
{
	return __builtin_add_overflow(a, b, sum);
}

/* A hint to the CPU inside a busy-wait loop. */
static inline void vh_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static inline bool vh_is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

/*
 * Clang thread-safety analysis (-Wthread-safety, on in every clang build and fatal with --werror).
 * The macros expand to nothing on compilers without the attributes (gcc).
 *
 * VH_GUARDED_BY / VH_PT_GUARDED_BY / VH_ACQUIRED_BEFORE / VH_ACQUIRED_AFTER name the lock of a
 * struct field. Clang cannot resolve a sibling member inside a field attribute in C (only in C++),
 * so in C they expand to nothing and only document; the analysis is enforced on functions instead:
 * every helper that touches guarded state says VH_REQUIRES(&obj->lock), and the lock is taken only
 * through the annotated wrappers below.
 */
#if defined(__clang__) && defined(__has_attribute)
#if __has_attribute(capability) && __has_attribute(requires_capability)
#define VH_TSA(x) __attribute__((x))
#endif
#endif
#ifndef VH_TSA
#define VH_TSA(x)
#endif

#define VH_CAPABILITY(name)	     VH_TSA(capability(name))
#define VH_REQUIRES(...)	     VH_TSA(requires_capability(__VA_ARGS__))
#define VH_REQUIRES_SHARED(...)	     VH_TSA(requires_shared_capability(__VA_ARGS__))
#define VH_ACQUIRE(...)		     VH_TSA(acquire_capability(__VA_ARGS__))
#define VH_ACQUIRE_SHARED(...)	     VH_TSA(acquire_shared_capability(__VA_ARGS__))
#define VH_RELEASE(...)		     VH_TSA(release_capability(__VA_ARGS__))
#define VH_RELEASE_SHARED(...)	     VH_TSA(release_shared_capability(__VA_ARGS__))
#define VH_RELEASE_GENERIC(...)	     VH_TSA(release_generic_capability(__VA_ARGS__))
#define VH_EXCLUDES(...)	     VH_TSA(locks_excluded(__VA_ARGS__))
#define VH_NO_THREAD_SAFETY_ANALYSIS VH_TSA(no_thread_safety_analysis)
#if defined(__cplusplus)
#define VH_GUARDED_BY(x)	VH_TSA(guarded_by(x))
#define VH_PT_GUARDED_BY(x)	VH_TSA(pt_guarded_by(x))
#define VH_ACQUIRED_BEFORE(...) VH_TSA(acquired_before(__VA_ARGS__))
#define VH_ACQUIRED_AFTER(...)	VH_TSA(acquired_after(__VA_ARGS__))
#else
#define VH_GUARDED_BY(x)
#define VH_PT_GUARDED_BY(x)
#define VH_ACQUIRED_BEFORE(...)
#define VH_ACQUIRED_AFTER(...)
#endif

/*
 * Annotated locks: thin wrappers over pthreads so the analysis knows what each call acquires or
 * releases. Initialisation of a default mutex/rwlock/condvar cannot fail on Linux, so init
 * returns nothing; the wrapped calls are not checked for the same reason (EDEADLK/EPERM are
 * programming errors the analysis is there to catch).
 */
struct VH_CAPABILITY("mutex") vh_mutex {
	pthread_mutex_t m;
};

struct VH_CAPABILITY("rwlock") vh_rwlock {
	pthread_rwlock_t rw;
};

struct vh_cond {
	pthread_cond_t c;
};

static inline void vh_mutex_init(struct vh_mutex *mu)
{
	pthread_mutex_init(&mu->m, NULL);
}

static inline void vh_mutex_destroy(struct vh_mutex *mu)
{
	pthread_mutex_destroy(&mu->m);
}

static inline void vh_mutex_lock(struct vh_mutex *mu) VH_ACQUIRE(mu);
static inline void vh_mutex_lock(struct vh_mutex *mu) VH_NO_THREAD_SAFETY_ANALYSIS
{
	pthread_mutex_lock(&mu->m);
}

static inline void vh_mutex_unlock(struct vh_mutex *mu) VH_RELEASE(mu);
static inline void vh_mutex_unlock(struct vh_mutex *mu) VH_NO_THREAD_SAFETY_ANALYSIS
{
	pthread_mutex_unlock(&mu->m);
}

static inline void vh_rwlock_init(struct vh_rwlock *rw)
{
	pthread_rwlock_init(&rw->rw, NULL);
}

static inline void vh_rwlock_destroy(struct vh_rwlock *rw)
{
	pthread_rwlock_destroy(&rw->rw);
}

static inline void vh_rwlock_rdlock(struct vh_rwlock *rw) VH_ACQUIRE_SHARED(rw);
static inline void vh_rwlock_rdlock(struct vh_rwlock *rw) VH_NO_THREAD_SAFETY_ANALYSIS
{
	pthread_rwlock_rdlock(&rw->rw);
}

static inline void vh_rwlock_wrlock(struct vh_rwlock *rw) VH_ACQUIRE(rw);
static inline void vh_rwlock_wrlock(struct vh_rwlock *rw) VH_NO_THREAD_SAFETY_ANALYSIS
{
	pthread_rwlock_wrlock(&rw->rw);
}

static inline void vh_rwlock_rdunlock(struct vh_rwlock *rw) VH_RELEASE_SHARED(rw);
static inline void vh_rwlock_rdunlock(struct vh_rwlock *rw) VH_NO_THREAD_SAFETY_ANALYSIS
{
	pthread_rwlock_unlock(&rw->rw);
}

static inline void vh_rwlock_wrunlock(struct vh_rwlock *rw) VH_RELEASE(rw);
static inline void vh_rwlock_wrunlock(struct vh_rwlock *rw) VH_NO_THREAD_SAFETY_ANALYSIS
{
	pthread_rwlock_unlock(&rw->rw);
}

static inline void vh_cond_init(struct vh_cond *cv)
{
	pthread_cond_init(&cv->c, NULL);
}

static inline void vh_cond_destroy(struct vh_cond *cv)
{
	pthread_cond_destroy(&cv->c);
}

/* Releases @mu while waiting and holds it again on return, as pthread_cond_wait(). */
static inline void vh_cond_wait(struct vh_cond *cv, struct vh_mutex *mu) VH_REQUIRES(mu);
static inline void vh_cond_wait(struct vh_cond *cv,
				struct vh_mutex *mu) VH_NO_THREAD_SAFETY_ANALYSIS
{
	pthread_cond_wait(&cv->c, &mu->m);
}

static inline void vh_cond_broadcast(struct vh_cond *cv)
{
	pthread_cond_broadcast(&cv->c);
}

/*
 * vh_logf - format one log line and hand it to @sink (or stderr).
 * @name: the object ("vhost-user /tmp/sock", "vq 0"); may be NULL.
 */
void vh_logf(const struct vh_log_sink *sink, enum vh_log_level level, const char *name,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * vh_write_nosigpipe - write(2) that reports a reader-less pipe as -1/EPIPE only: the SIGPIPE
 * it raises is blocked and taken back, so a peer closing its end cannot kill the process.
 */
ssize_t vh_write_nosigpipe(int fd, const void *buf, size_t len);

#endif
