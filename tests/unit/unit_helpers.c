/* SPDX-License-Identifier: BSD-3-Clause */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "unit_helpers.h"

void vh_test_log_fn(void *opaque, enum vh_log_level level, const char *msg)
{
	struct vh_test_log *log = opaque;

	(void)level;
	snprintf(log->last, sizeof(log->last), "%s", msg);
	log->count++;
}

struct vh_log_sink vh_test_sink(struct vh_test_log *log)
{
	struct vh_log_sink s = { .fn = vh_test_log_fn, .opaque = log, .max_level = VH_LOG_DEBUG };

	return s;
}

int vh_test_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the DIR's own fd */
}
