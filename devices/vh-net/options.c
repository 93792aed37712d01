/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vh-net command line: the device options. The program conventions (--socket-path, --fd,
 * --print-capabilities, --verbose, --help) are the library's (include/vhost/program.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vhnet.h"

#define VHNET_DEFAULT_QUEUE_SIZE 1024u

#define STR_(x)			 #x
#define STR(x)			 STR_(x)

enum {
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
};

static const struct vh_program_option vhnet_opts[] = {
	{ "tap", "NAME",
	  "attach to (or create) tap interface NAME (needs\n"
	  "CAP_NET_ADMIN): guest frames go out there, its frames in",
	  OPT_TAP },
	{ "loopback", NULL,
	  "no tap: every transmitted frame comes back on the\n"
	  "receive queue with source and destination MAC swapped",
	  OPT_LOOPBACK },
	{ "mac", "MAC", "VIRTIO_NET_F_MAC address (default 52:54:00:12:34:56)", OPT_MAC },
	{ "mtu", "N", "VIRTIO_NET_F_MTU value, 68..65535 (default 1500)", OPT_MTU },
	{ "queue-pairs", "N",
	  "receive/transmit queue pairs (default 1, max " STR(
	      VHNET_MAX_PAIRS_NUM) "; the\n"
				   "tap gets IFF_MULTI_QUEUE and one queue per pair)",
	  OPT_QUEUE_PAIRS },
	{ "queue-size", "N", "largest ring the front-end may set (power of two,\ndefault 1024)",
	  OPT_QUEUE_SIZE },
	{ "no-mrg-rxbuf", NULL, "do not offer VIRTIO_NET_F_MRG_RXBUF", OPT_NO_MRG },
	{ "no-offloads", NULL, "do not offer checksum / segmentation offloads", OPT_NO_OFFLOADS },
	{ "no-ctrl-vq", NULL,
	  "do not offer VIRTIO_NET_F_CTRL_VQ (and its RX / MAC /\n"
	  "VLAN / announce features)",
	  OPT_NO_CTRL },
	{ "poll", NULL,
	  "poll-mode datapath: a busy thread per queue pair\n"
	  "reads its tap queue and rings without sleeping",
	  OPT_POLL },
	{ "poll-threads", "N", "poll threads (default: one per queue pair)", OPT_POLL_THREADS },
	{ "poll-us", "N",
	  "event mode: keep polling a busy ring for N us of\n"
	  "no work before sleeping (default 0 = off)",
	  OPT_POLL_US },
	{ NULL, NULL, NULL, 0 },
};

static int parse_mac(struct vh_program *p, const char *s, uint8_t mac[6])
{
	unsigned m[6];
	char tail;
	int i;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5],
		   &tail) != 6 ||
	    (m[0] & 1))
		return vh_program_option_error(p, "'%s' is not a unicast MAC (xx:xx:xx:xx:xx:xx)",
					       s);
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)m[i];
	return 0;
}

static int parse_one(void *opaque, struct vh_program *p, int id, const char *arg)
{
	struct vhnet_options *o = opaque;

	switch (id) {
	case OPT_TAP:
		o->tap = arg;
		return 0;
	case OPT_LOOPBACK:
		o->loopback = true;
		return 0;
	case OPT_MAC:
		return parse_mac(p, arg, o->mac);
	case OPT_MTU:
		return vh_program_parse_uint(p, arg, 68, VHNET_MAX_MTU, &o->mtu);
	case OPT_QUEUE_PAIRS:
		return vh_program_parse_uint(p, arg, 1, VHNET_MAX_PAIRS, &o->queue_pairs);
	case OPT_QUEUE_SIZE:
		return vh_program_parse_pow2(p, arg, 2, 32768, &o->queue_size);
	case OPT_NO_MRG:
		o->no_mrg = true;
		return 0;
	case OPT_NO_OFFLOADS:
		o->no_offloads = true;
		return 0;
	case OPT_NO_CTRL:
		o->no_ctrl = true;
		return 0;
	case OPT_POLL:
		o->poll = true;
		return 0;
	case OPT_POLL_THREADS:
		return vh_program_parse_uint(p, arg, 1, VH_SERVER_MAX_QUEUES, &o->poll_threads);
	case OPT_POLL_US:
		return vh_program_parse_uint(p, arg, 0, 1000000, &o->poll_us);
	default:
		return -EINVAL;
	}
}

static int check_options(void *opaque, struct vh_program *p)
{
	const struct vhnet_options *o = opaque;

	if (!o->tap == !o->loopback)
		return vh_program_option_error(p,
					       "exactly one of --tap and --loopback is required");
	if (o->tap && (!*o->tap || strlen(o->tap) >= 16))
		return vh_program_option_error(p, "--tap: interface names have 1..15 characters");
	return 0;
}

void vhnet_options_init(struct vhnet_options *o, struct vh_program_config *pc)
{
	static const uint8_t default_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

	memset(o, 0, sizeof(*o));
	o->mtu = 1500;
	o->queue_pairs = 1;
	o->queue_size = VHNET_DEFAULT_QUEUE_SIZE;
	memcpy(o->mac, default_mac, sizeof(o->mac));

	*pc = (struct vh_program_config){
		.name = VHNET_NAME,
		.synopsis = "(--tap NAME | --loopback) [options]",
		.description =
		    "vhost-user-net back-end (QEMU: -chardev socket,id=c,path=PATH\n"
		    "  -netdev vhost-user,id=n,chardev=c -device virtio-net-pci,netdev=n;\n"
		    "  guest RAM must be shared, e.g. memfd).",
		/* vhost-user.rst "vhost-user-net": no optional features are defined for net. */
		.type = "net",
		.options = vhnet_opts,
		.parse_option = parse_one,
		.check_options = check_options,
		.opaque = o,
	};
}
