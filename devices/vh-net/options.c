/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vh-net command line: QEMU docs/interop/vhost-user.rst "Backend program conventions"
 * (--socket-path, --fd, --print-capabilities) plus the device options.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vhnet.h"
#include "../common/daemon.h"

#define VHNET_DEFAULT_QUEUE_SIZE 1024u

enum {
	OPT_SOCKET_PATH = 256,
	OPT_FD,
	OPT_PRINT_CAPS,
	OPT_TAP,
	OPT_LOOPBACK,
	OPT_MAC,
	OPT_MTU,
	OPT_QUEUE_PAIRS,
	OPT_QUEUE_SIZE,
	OPT_NO_MRG,
	OPT_NO_OFFLOADS,
	OPT_NO_CTRL,
	OPT_POLL,
	OPT_POLL_THREADS,
	OPT_POLL_US,
	OPT_VERBOSE,
	OPT_HELP,
};

static const struct option vhnet_long_opts[] = {
	{ "socket-path", required_argument, NULL, OPT_SOCKET_PATH },
	{ "fd", required_argument, NULL, OPT_FD },
	{ "print-capabilities", no_argument, NULL, OPT_PRINT_CAPS },
	{ "tap", required_argument, NULL, OPT_TAP },
	{ "loopback", no_argument, NULL, OPT_LOOPBACK },
	{ "mac", required_argument, NULL, OPT_MAC },
	{ "mtu", required_argument, NULL, OPT_MTU },
	{ "queue-pairs", required_argument, NULL, OPT_QUEUE_PAIRS },
	{ "queue-size", required_argument, NULL, OPT_QUEUE_SIZE },
	{ "no-mrg-rxbuf", no_argument, NULL, OPT_NO_MRG },
	{ "no-offloads", no_argument, NULL, OPT_NO_OFFLOADS },
	{ "no-ctrl-vq", no_argument, NULL, OPT_NO_CTRL },
	{ "poll", no_argument, NULL, OPT_POLL },
	{ "poll-threads", required_argument, NULL, OPT_POLL_THREADS },
	{ "poll-us", required_argument, NULL, OPT_POLL_US },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static void usage(const char *argv0)
{
	printf("Usage: %s (--socket-path PATH | --fd FD) (--tap NAME | --loopback) [options]\n"
	       "\n"
	       "vhost-user-net back-end (QEMU: -chardev socket,id=c,path=PATH\n"
	       "  -netdev vhost-user,id=n,chardev=c -device virtio-net-pci,netdev=n;\n"
	       "  guest RAM must be shared, e.g. memfd).\n"
	       "\n"
	       "  --socket-path PATH    listen on this unix socket (removed at exit)\n"
	       "  --fd FD               serve on an inherited listening socket\n"
	       "  --tap NAME            attach to (or create) tap interface NAME (needs\n"
	       "                        CAP_NET_ADMIN): guest frames go out there, its frames in\n"
	       "  --loopback            no tap: every transmitted frame comes back on the\n"
	       "                        receive queue with source and destination MAC swapped\n"
	       "  --mac MAC             VIRTIO_NET_F_MAC address (default 52:54:00:12:34:56)\n"
	       "  --mtu N               VIRTIO_NET_F_MTU value, 68..%u (default 1500)\n"
	       "  --queue-pairs N       receive/transmit queue pairs (default 1, max %u; the\n"
	       "                        tap gets IFF_MULTI_QUEUE and one queue per pair;\n"
	       "                        the front-end provides the control queue)\n"
	       "  --queue-size N        largest ring the front-end may set (power of two,\n"
	       "                        default %u)\n"
	       "  --no-mrg-rxbuf        do not offer VIRTIO_NET_F_MRG_RXBUF\n"
	       "  --no-offloads         do not offer checksum / segmentation offloads\n"
	       "  --no-ctrl-vq          do not offer VIRTIO_NET_F_CTRL_VQ (and its RX / MAC /\n"
	       "                        VLAN / announce features)\n"
	       "  --poll                poll-mode datapath: a busy thread per queue pair\n"
	       "                        reads its tap queue and rings without sleeping\n"
	       "  --poll-threads N      poll threads (default: one per queue pair)\n"
	       "  --poll-us N           event mode: keep polling a busy ring for N us of\n"
	       "                        no work before sleeping (default 0 = off)\n"
	       "  --print-capabilities  print the capabilities JSON and exit\n"
	       "  --verbose             debug log lines\n"
	       "  --help                this text\n"
	       "\n"
	       "SIGTERM / SIGINT: clean exit (status 0), the socket is removed.\n",
	       argv0, VHNET_MAX_MTU, VHNET_MAX_PAIRS, VHNET_DEFAULT_QUEUE_SIZE);
}

static void print_capabilities(void)
{
	/* vhost-user.rst "vhost-user-net": no optional features are defined for net back-ends. */
	printf("{\n  \"type\": \"net\",\n  \"features\": [\n  ]\n}\n");
}

static int parse_uint(const char *name, const char *s, unsigned min, unsigned max, unsigned *out)
{
	return vhd_parse_uint(VHNET_NAME, name, s, min, max, out);
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned m[6];
	char tail;
	int i;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5],
		   &tail) != 6 ||
	    (m[0] & 1)) {
		fprintf(stderr,
			VHNET_NAME ": --mac: '%s' is not a unicast MAC (xx:xx:xx:xx:xx:xx)\n", s);
		return -EINVAL;
	}
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)m[i];
	return 0;
}

static int parse_one(int c, const char *arg, struct vhnet_options *o)
{
	unsigned v;
	int err = 0;

	switch (c) {
	case OPT_SOCKET_PATH:
		o->socket_path = arg;
		break;
	case OPT_FD:
		err = parse_uint("fd", arg, 0, INT_MAX, &v);
		o->listen_fd = (int)v;
		break;
	case OPT_TAP:
		o->tap = arg;
		break;
	case OPT_LOOPBACK:
		o->loopback = true;
		break;
	case OPT_MAC:
		err = parse_mac(arg, o->mac);
		break;
	case OPT_MTU:
		err = parse_uint("mtu", arg, 68, VHNET_MAX_MTU, &o->mtu);
		break;
	case OPT_QUEUE_PAIRS:
		err = parse_uint("queue-pairs", arg, 1, VHNET_MAX_PAIRS, &o->queue_pairs);
		break;
	case OPT_QUEUE_SIZE:
		err = parse_uint("queue-size", arg, 2, 32768, &o->queue_size);
		if (!err && (o->queue_size & (o->queue_size - 1))) {
			fprintf(stderr, VHNET_NAME ": --queue-size: %u is not a power of two\n",
				o->queue_size);
			err = -EINVAL;
		}
		break;
	case OPT_NO_MRG:
		o->no_mrg = true;
		break;
	case OPT_NO_OFFLOADS:
		o->no_offloads = true;
		break;
	case OPT_NO_CTRL:
		o->no_ctrl = true;
		break;
	case OPT_POLL:
		o->poll = true;
		break;
	case OPT_POLL_THREADS:
		err = parse_uint("poll-threads", arg, 1, VH_SERVER_MAX_QUEUES, &o->poll_threads);
		break;
	case OPT_POLL_US:
		err = parse_uint("poll-us", arg, 0, 1000000, &o->poll_us);
		break;
	case OPT_VERBOSE:
		o->verbose = true;
		break;
	default:
		err = -EINVAL;
	}
	return err;
}

static int check_options(const struct vhnet_options *o)
{
	if (!o->socket_path == (o->listen_fd < 0)) {
		fprintf(stderr, VHNET_NAME ": exactly one of --socket-path and --fd is required\n");
		return -EINVAL;
	}
	if (!o->tap == !o->loopback) {
		fprintf(stderr, VHNET_NAME ": exactly one of --tap and --loopback is required\n");
		return -EINVAL;
	}
	if (o->tap && (!*o->tap || strlen(o->tap) >= 16)) {
		fprintf(stderr, VHNET_NAME ": --tap: interface names have 1..15 characters\n");
		return -EINVAL;
	}
	return 0;
}

/*
 * Return: 0 run the daemon; 1 done (--help, --print-capabilities printed); -EINVAL bad usage
 * (already reported on stderr).
 */
int vhnet_parse_options(int argc, char **argv, struct vhnet_options *o)
{
	static const uint8_t default_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	int c;

	memset(o, 0, sizeof(*o));
	o->listen_fd = -1;
	o->mtu = 1500;
	o->queue_pairs = 1;
	o->queue_size = VHNET_DEFAULT_QUEUE_SIZE;
	memcpy(o->mac, default_mac, sizeof(o->mac));
	while ((c = getopt_long(argc, argv, "", vhnet_long_opts, NULL)) != -1) {
		if (c == OPT_HELP) {
			usage(argv[0]);
			return 1;
		}
		if (c == OPT_PRINT_CAPS) {
			print_capabilities();
			return 1;
		}
		if (c == '?' || parse_one(c, optarg, o))
			return -EINVAL;
	}
	if (optind < argc) {
		fprintf(stderr, VHNET_NAME ": unexpected argument '%s' (see --help)\n",
			argv[optind]);
		return -EINVAL;
	}
	return check_options(o);
}
