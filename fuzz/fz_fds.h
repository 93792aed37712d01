/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * For the harnesses that hand fds across a socket (fuzz_dispatch.c, fuzz_backend_reply.c):
 * each input must leave exactly the fds it found open. fz_fds_list() before the input,
 * fz_fds_check() after it; a leak is reported with its /proc/self/fd target before the abort.
 */
#ifndef VH_FUZZ_FDS_H
#define VH_FUZZ_FDS_H

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The fds open in this process, sorted (at most FZ_MAX_FDS; more is a harness failure). */
#define FZ_MAX_FDS 1024

struct fz_fds {
	int fd[FZ_MAX_FDS];
	unsigned n;
};

static inline int fz_cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static inline void fz_fds_list(struct fz_fds *l)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int self;

	if (!d)
		abort();
	self = dirfd(d);
	l->n = 0;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] == '.' || fd == self)
			continue;
		if (l->n == FZ_MAX_FDS)
			abort();
		l->fd[l->n++] = fd;
	}
	closedir(d);
	qsort(l->fd, l->n, sizeof(int), fz_cmp_int);
}

static inline bool fz_fds_has(const struct fz_fds *l, int fd)
{
	return bsearch(&fd, l->fd, l->n, sizeof(int), fz_cmp_int) != NULL;
}

static inline void fz_fd_target(int fd, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, buf, len - 1);
	buf[n < 0 ? 0 : n] = '\0';
}

/*
 * The sanitizer runtime opens pipes to llvm-symbolizer the first time it symbolizes (libFuzzer's
 * NEW_FUNC lines between inputs, a recoverable UBSan report) and keeps them: not ours. The
 * library never creates a pipe and no harness sends one.
 */
static inline bool fz_runtime_fd(const char *target)
{
	return strncmp(target, "pipe:", 5) == 0;
}

/*
 * Each input must leave exactly the fds it found: none left open (a leak), none closed that the
 * input did not create (a double close hitting someone else's fd). Compared per input, so what
 * libFuzzer and the sanitizers open between inputs does not count.
 */
static inline void fz_fds_check(const char *harness, const struct fz_fds *before)
{
	struct fz_fds *after = malloc(sizeof(*after));
	char target[256];
	unsigned bad = 0;

	if (!after)
		abort();
	fz_fds_list(after);
	for (unsigned i = 0; i < after->n; i++) {
		if (fz_fds_has(before, after->fd[i]))
			continue;
		fz_fd_target(after->fd[i], target, sizeof(target));
		if (fz_runtime_fd(target))
			continue;
		fprintf(stderr, "%s: fd %d leaked: %s\n", harness, after->fd[i], target);
		bad++;
	}
	for (unsigned i = 0; i < before->n; i++) {
		if (fz_fds_has(after, before->fd[i]))
			continue;
		fprintf(stderr, "%s: fd %d was open before the input and got closed\n", harness,
			before->fd[i]);
		bad++;
	}
	free(after);
	if (bad)
		abort();
}

#endif
