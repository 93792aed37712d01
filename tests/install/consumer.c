/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A program outside the tree, built against the installed libvhost with pkg-config (as a
 * distribution user would): a vh_server back-end on one thread, a vh_dev front-end connecting to
 * it on another, both through the installed headers and the shared library only.
 * Prints "features 0x..." and exits 0 when the front-end saw the back-end's features.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vhost/backend.h>
#include <vhost/frontend.h>
#include <vhost/program.h>

static int kick(void *inst, struct vh_queue *q)
{
	(void)inst;
	(void)q;
	return 0;
}

static const struct vh_device_ops ops = { .queue_kick = kick };

static void *serve(void *srv)
{
	return (void *)(long)vh_server_run(srv);
}

int main(int argc, char **argv)
{
	struct vh_server_config sc;
	struct vh_server *srv;
	struct vh_dev *dev;
	struct vh_dev_config dc;
	char url[300];
	pthread_t t;
	void *ret;
	int err;

	if (argc != 2)
		return 2;
	vh_server_config_init(&sc);
	sc.name = "consumer";
	sc.socket_path = argv[1];
	sc.ops = &ops;
	sc.num_queues = 1;
	sc.features = 1ull << 5;
	if (vh_server_create(&sc, &srv))
		return 1;
	pthread_create(&t, NULL, serve, srv);
	memset(&dc, 0, sizeof(dc));
	snprintf(url, sizeof(url), "unix:%s", argv[1]);
	dc.path = url;
	dc.features = ~0ull;
	dc.num_queues = 1;
	dc.timeout_ms = 3000;
	err = vh_dev_create(&dc, &dev);
	if (!err) {
		printf("features 0x%llx\n", (unsigned long long)vh_dev_features(dev));
		err = (vh_dev_features(dev) & (1ull << 5)) ? 0 : 1;
		vh_dev_destroy(&dev);
	}
	vh_server_stop(srv);
	pthread_join(t, &ret);
	vh_server_destroy(&srv);
	printf("program exit status for -EINVAL: %d\n", vh_program_exit_status(-22));
	return err ? 1 : (int)(long)ret;
}
