// SPDX-License-Identifier: BSD-3-Clause
/*
 * frontend/: vh_dev argument checks and connection failures that need no backend (the
 * protocol itself is tested against a scripted fake in tests/loopback/test_frontend_*.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <vhost/frontend.h>

#include "unit_helpers.h"

static struct vh_dev_config base_cfg(struct vh_test_log *log, const char *path)
{
	struct vh_dev_config cfg = {
		.path = path,
		.num_queues = 1,
		.timeout_ms = 100,
		.name = "dev",
		.log = vh_test_sink(log),
	};

	return cfg;
}

static void test_create_bad_args(void **state)
{
	struct vh_test_log log = { 0 };
	struct vh_dev_config cfg = base_cfg(&log, "unix:/nonexistent/x.sock");
	struct vh_dev *dev = NULL;

	assert_int_equal(vh_dev_create(NULL, &dev), -EINVAL);
	assert_int_equal(vh_dev_create(&cfg, NULL), -EINVAL);
	cfg.num_queues = 0;
	assert_int_equal(vh_dev_create(&cfg, &dev), -EINVAL);
	cfg.num_queues = VH_DEV_MAX_QUEUES + 1;
	assert_int_equal(vh_dev_create(&cfg, &dev), -EINVAL);
	cfg.num_queues = 1;
	cfg.path = NULL;
	assert_int_equal(vh_dev_create(&cfg, &dev), -EINVAL);
	assert_null(dev);
	assert_int_equal(log.count, 0);
	/* Destroying nothing is fine. */
	vh_dev_destroy(NULL);
	vh_dev_destroy(&dev);
}

static void test_create_unknown_transport(void **state)
{
	struct vh_test_log log = { 0 };
	struct vh_dev_config cfg = base_cfg(&log, "tcp:127.0.0.1:1");
	struct vh_dev *dev = NULL;

	assert_int_equal(vh_dev_create(&cfg, &dev), -EOPNOTSUPP);
	assert_null(dev);
	assert_int_equal(log.count, 1);
}

static void test_connect_refused(void **state)
{
	struct vh_test_log log = { 0 };
	char path[128];
	struct vh_dev_config cfg;
	struct vh_dev *dev = NULL;
	int fds = vh_test_count_fds();

	snprintf(path, sizeof(path), "unix:/tmp/vhfe-unit-%d-none.sock", (int)getpid());
	cfg = base_cfg(&log, path);
	assert_int_equal(vh_dev_create(&cfg, &dev), -ENOENT);
	assert_null(dev);
	assert_int_equal(log.count, 1);
	assert_non_null(strstr(log.last, "dev: connect: "));
	assert_int_equal(vh_test_count_fds(), fds);
}

static void test_server_bad_path(void **state)
{
	struct vh_test_log log = { 0 };
	struct vh_dev_config cfg = base_cfg(&log, "unix:/nonexistent-dir/x.sock");
	struct vh_dev *dev = NULL;

	cfg.server = true;
	assert_int_equal(vh_dev_create(&cfg, &dev), -ENOENT);
	assert_null(dev);
	assert_non_null(strstr(log.last, "dev: listen: "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_bad_args),
		cmocka_unit_test(test_create_unknown_transport),
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_server_bad_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
