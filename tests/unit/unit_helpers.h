/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared by the unit tests: a log sink that records the last line. */
#ifndef VH_UNIT_HELPERS_H
#define VH_UNIT_HELPERS_H

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

#endif
