// SPDX-License-Identifier: BSD-3-Clause
/*
 * vhctl probe: what a vhost backend offers, by name: the device type (from the transport, or
 * guessed from the feature bits for vhost-user, see devtype.c; --type forces it), the feature bits
 * named for that type, the protocol features, queues, memory slots and the config space decoded
 * for blk and net.
 */
#include <endian.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>

#include <vhost/frontend.h>
#include <vhost/kernel.h>
#include <vhost/proto.h>

#include "vhctl.h"

struct probe {
	char path[512];
	bool json;
	bool verbose;
	bool trying; /* a config read that may be refused: its errors are debug lines */
	const char *type_arg;
	struct vh_dev *dev;
	uint64_t features;
	uint64_t protocol;
	uint32_t device_id; /* 0: unknown */
	const char *device_source;
	const char *device_why;
	bool ioctl;
	struct vh_dev_ioctl_info ii;
	union {
		struct virtio_blk_config blk;
		struct virtio_net_config net;
		uint8_t raw[VH_USER_MAX_CONFIG_SIZE];
	} cfg;
	uint32_t cfg_len;  /* 0: not read */
	uint32_t cfg_want; /* the length asked for (for the "refused" line) */
	struct vhctl_json jw;
	struct vhctl_json *j; /* NULL: text output */
};

static void log_fn(void *opaque, enum vh_log_level level, const char *msg)
{
	const struct probe *p = opaque;

	if (p->trying && level <= VH_LOG_WARN && !p->verbose)
		return;
	fprintf(stderr, "vhctl: %s%s\n", level == VH_LOG_ERR ? "" : "warning: ", msg);
}

static const char *feature_name(unsigned bit, const void *ctx)
{
	const struct probe *p = ctx;

	return vh_proto_device_feature_name(p->device_id, bit);
}

static const char *proto_name(unsigned bit, const void *ctx)
{
	const char *n = vh_proto_feature_name(bit);

	(void)ctx;
	return n && !strstr(n, "UNKNOWN") ? n : NULL;
}

static void print_bits(struct probe *p, const char *key, uint64_t v, bool protocol)
{
	char names[64];

	if (p->j)
		vhctl_json_hex(p->j, key, v);
	else
		printf("%s: 0x%016llx\n", key, (unsigned long long)v);
	snprintf(names, sizeof(names), "%s_names", key);
	vhctl_print_bits(p->j, names, v, protocol ? proto_name : feature_name, p, false);
}

static bool offered(const struct probe *p, unsigned bit)
{
	return p->features & (1ull << bit);
}

/* Try @lens in turn (longest first); refusals are expected and not reported. */
static void read_config_lens(struct probe *p, const uint32_t *lens, unsigned n)
{
	uint32_t max = p->ioctl && p->ii.config_size ? p->ii.config_size : VH_USER_MAX_CONFIG_SIZE;

	if (p->ioctl ? !p->ii.vdpa
		     : !(vh_dev_protocol_features(p->dev) & (1ull << VH_USER_PROTOCOL_F_CONFIG)))
		return;
	p->trying = true;
	for (unsigned i = 0; i < n; i++) {
		if (!lens[i] || lens[i] > max)
			continue;
		p->cfg_want = lens[i];
		memset(&p->cfg, 0, sizeof(p->cfg));
		if (vh_dev_get_config(p->dev, 0, &p->cfg, lens[i]) >= 0) {
			p->cfg_len = lens[i];
			break;
		}
	}
	p->trying = false;
}

static void read_config(struct probe *p)
{
	/*
	 * blk: libvhost-user answers a GET_CONFIG longer than its struct with an empty reply,
	 * which the frontend treats as a broken peer, and older backends have a shorter struct:
	 * try the longest prefix, then the fields every virtio 1.1+ device has.
	 */
	static const uint32_t blk_lens[] = {
		offsetof(struct virtio_blk_config, max_secure_erase_sectors),
		offsetof(struct virtio_blk_config, max_discard_sectors),
		offsetof(struct virtio_blk_config, blk_size) + 4,
	};
	uint32_t net_len = 0;

	if (p->device_id == VIRTIO_ID_BLOCK) {
		read_config_lens(p, blk_lens, sizeof(blk_lens) / sizeof(blk_lens[0]));
		return;
	}
	if (p->device_id != VIRTIO_ID_NET)
		return;
	/* virtio 1.2 §5.1.4: a field exists when its feature is offered; read up to the last. */
	if (offered(p, VIRTIO_NET_F_MAC))
		net_len = offsetof(struct virtio_net_config, status);
	if (offered(p, VIRTIO_NET_F_STATUS))
		net_len = offsetof(struct virtio_net_config, max_virtqueue_pairs);
	if (offered(p, VIRTIO_NET_F_MQ) || offered(p, VIRTIO_NET_F_RSS))
		net_len = offsetof(struct virtio_net_config, mtu);
	if (offered(p, VIRTIO_NET_F_MTU))
		net_len = offsetof(struct virtio_net_config, speed);
	if (offered(p, VIRTIO_NET_F_SPEED_DUPLEX))
		net_len = offsetof(struct virtio_net_config, rss_max_key_size);
	if (offered(p, VIRTIO_NET_F_RSS) || offered(p, VIRTIO_NET_F_HASH_REPORT))
		net_len = sizeof(struct virtio_net_config);
	read_config_lens(p, &net_len, 1);
}

struct cfg_field {
	const char *name;
	unsigned long long v;
	unsigned feature; /* shown only when offered; 64: always */
	uint32_t end;	  /* shown only when the bytes were read */
};

#define BLK_END(f) \
	(offsetof(struct virtio_blk_config, f) + sizeof(((struct virtio_blk_config *)0)->f))
#define NET_END(f) \
	(offsetof(struct virtio_net_config, f) + sizeof(((struct virtio_net_config *)0)->f))

static unsigned blk_fields(const struct probe *p, struct cfg_field *f)
{
	const struct virtio_blk_config *c = &p->cfg.blk;
	const struct cfg_field t[] = {
		{ "capacity_sectors", le64toh(c->capacity), 64, BLK_END(capacity) },
		{ "capacity_bytes", le64toh(c->capacity) * 512ull, 64, BLK_END(capacity) },
		{ "size_max", le32toh(c->size_max), VIRTIO_BLK_F_SIZE_MAX, BLK_END(size_max) },
		{ "seg_max", le32toh(c->seg_max), VIRTIO_BLK_F_SEG_MAX, BLK_END(seg_max) },
		{ "blk_size", le32toh(c->blk_size), VIRTIO_BLK_F_BLK_SIZE, BLK_END(blk_size) },
		{ "physical_block_exp", c->physical_block_exp, VIRTIO_BLK_F_TOPOLOGY,
		  BLK_END(physical_block_exp) },
		{ "alignment_offset", c->alignment_offset, VIRTIO_BLK_F_TOPOLOGY,
		  BLK_END(alignment_offset) },
		{ "min_io_size", le16toh(c->min_io_size), VIRTIO_BLK_F_TOPOLOGY,
		  BLK_END(min_io_size) },
		{ "opt_io_size", le32toh(c->opt_io_size), VIRTIO_BLK_F_TOPOLOGY,
		  BLK_END(opt_io_size) },
		{ "wce", c->wce, VIRTIO_BLK_F_CONFIG_WCE, BLK_END(wce) },
		{ "num_queues", le16toh(c->num_queues), VIRTIO_BLK_F_MQ, BLK_END(num_queues) },
		{ "max_discard_sectors", le32toh(c->max_discard_sectors), VIRTIO_BLK_F_DISCARD,
		  BLK_END(max_discard_sectors) },
		{ "max_discard_seg", le32toh(c->max_discard_seg), VIRTIO_BLK_F_DISCARD,
		  BLK_END(max_discard_seg) },
		{ "discard_sector_alignment", le32toh(c->discard_sector_alignment),
		  VIRTIO_BLK_F_DISCARD, BLK_END(discard_sector_alignment) },
		{ "max_write_zeroes_sectors", le32toh(c->max_write_zeroes_sectors),
		  VIRTIO_BLK_F_WRITE_ZEROES, BLK_END(max_write_zeroes_sectors) },
		{ "max_write_zeroes_seg", le32toh(c->max_write_zeroes_seg),
		  VIRTIO_BLK_F_WRITE_ZEROES, BLK_END(max_write_zeroes_seg) },
		{ "write_zeroes_may_unmap", c->write_zeroes_may_unmap, VIRTIO_BLK_F_WRITE_ZEROES,
		  BLK_END(write_zeroes_may_unmap) },
	};

	memcpy(f, t, sizeof(t));
	return sizeof(t) / sizeof(t[0]);
}

static unsigned net_fields(const struct probe *p, struct cfg_field *f)
{
	const struct virtio_net_config *c = &p->cfg.net;
	const struct cfg_field t[] = {
		{ "status", le16toh(c->status), VIRTIO_NET_F_STATUS, NET_END(status) },
		{ "link_up", !!(le16toh(c->status) & VIRTIO_NET_S_LINK_UP), VIRTIO_NET_F_STATUS,
		  NET_END(status) },
		{ "max_virtqueue_pairs", le16toh(c->max_virtqueue_pairs), VIRTIO_NET_F_MQ,
		  NET_END(max_virtqueue_pairs) },
		{ "mtu", le16toh(c->mtu), VIRTIO_NET_F_MTU, NET_END(mtu) },
		{ "speed_mbps", le32toh(c->speed), VIRTIO_NET_F_SPEED_DUPLEX, NET_END(speed) },
		{ "duplex", c->duplex, VIRTIO_NET_F_SPEED_DUPLEX, NET_END(duplex) },
		{ "rss_max_key_size", c->rss_max_key_size, VIRTIO_NET_F_RSS,
		  NET_END(rss_max_key_size) },
		{ "rss_max_indirection_table_length", le16toh(c->rss_max_indirection_table_length),
		  VIRTIO_NET_F_RSS, NET_END(rss_max_indirection_table_length) },
		{ "supported_hash_types", le32toh(c->supported_hash_types),
		  VIRTIO_NET_F_HASH_REPORT, NET_END(supported_hash_types) },
	};

	memcpy(f, t, sizeof(t));
	return sizeof(t) / sizeof(t[0]);
}

static void print_fields(struct probe *p, const struct cfg_field *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if ((f[i].feature < 64 && !offered(p, f[i].feature)) || f[i].end > p->cfg_len)
			continue;
		if (p->j)
			vhctl_json_u64(p->j, f[i].name, f[i].v);
		else
			printf("  %-32s %llu\n", f[i].name, f[i].v);
	}
}

static void print_config(struct probe *p)
{
	struct cfg_field f[24];
	const char *type = vh_proto_device_name(p->device_id);
	unsigned n;

	if (p->j) {
		vhctl_json_u64(p->j, "config_bytes", p->cfg_len);
		vhctl_json_begin(p->j, "config");
	} else if (p->cfg_len) {
		printf("config (virtio-%s, %u bytes):\n", type, p->cfg_len);
	} else if (!p->device_id) {
		printf("config: not read (device type unknown; --type TYPE decodes it)\n");
	} else if (!p->ioctl &&
		   !(vh_dev_protocol_features(p->dev) & (1ull << VH_USER_PROTOCOL_F_CONFIG))) {
		printf("config: not readable (no VHOST_USER_PROTOCOL_F_CONFIG)\n");
	} else if (p->cfg_want) {
		printf("config: the backend refused to read %u bytes\n", p->cfg_want);
	} else if (p->device_id == VIRTIO_ID_NET) {
		printf("config: none (the offered features use no config field)\n");
	} else {
		printf("config: not decoded for virtio-%s\n", type ? type : "?");
	}
	if (p->cfg_len && p->device_id == VIRTIO_ID_NET && offered(p, VIRTIO_NET_F_MAC) &&
	    p->cfg_len >= NET_END(mac)) {
		char mac[18];
		const uint8_t *m = p->cfg.net.mac;

		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
			 m[4], m[5]);
		if (p->j)
			vhctl_json_str(p->j, "mac", mac);
		else
			printf("  %-32s %s\n", "mac", mac);
	}
	if (p->cfg_len) {
		n = p->device_id == VIRTIO_ID_BLOCK ? blk_fields(p, f) : net_fields(p, f);
		print_fields(p, f, n);
	}
	if (p->j)
		vhctl_json_end(p->j);
}

static const char probe_help[] =
    "usage: vhctl probe SOCKET [--type TYPE] [--json] [--verbose]\n"
    "  SOCKET          a vhost-user socket, /dev/vhost-net|-vsock|-scsi or /dev/vhost-vdpa-N\n"
    "  --type TYPE     the device type (blk, net, scsi, vsock, fs, input, ...): names the\n"
    "                  feature bits and decodes the config for it. Without it the type comes\n"
    "                  from the transport (vhost-kernel, vdpa) or, over vhost-user, is guessed\n"
    "                  from the offered feature bits; a line says when it cannot be told\n"
    "  --json          one JSON document on stdout\n"
    "  --verbose       debug log lines\n";

static int parse(struct probe *p, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "type", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "jt:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			p->json = true;
			break;
		case 't':
			p->type_arg = optarg;
			p->device_id = vh_proto_device_id(optarg);
			if (!p->device_id) {
				vhctl_err(
				    "probe: --type: unknown device type '%s' (blk, net, scsi, "
				    "vsock, fs, console, gpu, input, ...)",
				    optarg);
				return VHCTL_EXIT_USAGE;
			}
			break;
		case 'v':
			p->verbose = true;
			break;
		case 'h':
			fputs(probe_help, stdout);
			return 0;
		default:
			return VHCTL_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		vhctl_err("probe: expected exactly one SOCKET (see vhctl probe --help)");
		return VHCTL_EXIT_USAGE;
	}
	vhctl_backend_path(argv[optind], p->path, sizeof(p->path));
	return -1;
}

static void tell_device(struct probe *p)
{
	if (p->type_arg) {
		p->device_source = "option";
		p->device_why = "--type";
		return;
	}
	if (p->ioctl && p->ii.device_id) {
		p->device_id = p->ii.device_id;
		p->device_source = "transport";
		p->device_why = p->ii.vdpa ? "VHOST_VDPA_GET_DEVICE_ID" : "the vhost device node";
		return;
	}
	p->device_id = vhctl_guess_device(p->features, p->protocol, &p->device_why);
	p->device_source = p->device_id ? "features" : NULL;
}

static void print_device(struct probe *p)
{
	const char *name = vh_proto_device_name(p->device_id);

	if (p->j) {
		vhctl_json_str(p->j, "device", name);
		vhctl_json_u64(p->j, "device_id", p->device_id);
		vhctl_json_str(p->j, "device_source", p->device_source);
		vhctl_json_str(p->j, "device_reason", p->device_why);
		return;
	}
	if (!p->device_id)
		printf("device: unknown: %s; %s\n", p->device_why,
		       p->features & 0xffffffull ? "device-specific bits are shown by number "
						   "(--type TYPE names them)"
						 : "--type TYPE names it");
	else if (p->type_arg)
		printf("device: %s (virtio id %u, from --type)\n", name, p->device_id);
	else if (!p->ioctl)
		printf("device: %s (virtio id %u, guessed: %s; --type overrides)\n", name,
		       p->device_id, p->device_why);
	else
		printf("device: %s (virtio id %u, from %s)\n", name, p->device_id, p->device_why);
}

int vhctl_probe(int argc, char **argv)
{
	struct probe p = { 0 };
	struct vh_dev_config dc = { .features = UINT64_MAX, .num_queues = 1, .name = "probe" };
	int rc = parse(&p, argc, argv), err;

	if (rc >= 0)
		return rc;
	dc.path = p.path;
	dc.log = (struct vh_log_sink){ .fn = log_fn, .opaque = &p, .max_level = VH_LOG_DEBUG };
	if (!p.verbose)
		dc.log.max_level = VH_LOG_WARN;
	err = vh_dev_create(&dc, &p.dev);
	if (err < 0) {
		vhctl_err("probe: %s: cannot open the backend: %s", p.path, strerror(-err));
		return VHCTL_EXIT_FAIL;
	}
	p.features = vh_dev_backend_features(p.dev);
	/* What the backend offers, as for the features (the library acks only what it does). */
	p.protocol = vh_dev_backend_protocol_features(p.dev);
	p.ioctl = vh_dev_ioctl_info(p.dev, &p.ii) >= 0;
	tell_device(&p);
	read_config(&p);
	if (p.json) {
		p.jw = (struct vhctl_json){ .f = stdout };
		p.j = &p.jw;
		vhctl_json_begin(p.j, NULL);
		vhctl_json_str(p.j, "backend", p.path);
	} else {
		printf("backend: %s\n", p.path);
	}
	print_device(&p);
	print_bits(&p, "features", p.features, false);
	print_bits(&p, "protocol_features", p.protocol, true);
	if (p.j)
		vhctl_json_hex(p.j, "protocol_features_negotiated",
			       vh_dev_protocol_features(p.dev));
	else if (!p.ioctl)
		printf("protocol features negotiated by libvhost: 0x%016llx\n",
		       (unsigned long long)vh_dev_protocol_features(p.dev));
	if (p.j) {
		vhctl_json_u64(p.j, "queues", vh_dev_max_queues(p.dev));
		vhctl_json_u64(p.j, "max_mem_slots", vh_dev_max_mem_slots(p.dev));
	} else {
		printf("queues: %u\nmax mem slots: %u\n", vh_dev_max_queues(p.dev),
		       vh_dev_max_mem_slots(p.dev));
	}
	/* /dev/vhost-* devices: transport, backend features, vdpa queries (probe_ioctl.c). */
	if (p.ioctl)
		vhctl_probe_ioctl(&p.ii, p.j);
	if (p.ioctl &&
	    (!p.ii.vdpa || (p.device_id != VIRTIO_ID_NET && p.device_id != VIRTIO_ID_BLOCK)))
		vhctl_probe_raw_config(p.dev, &p.ii, p.j);
	else
		print_config(&p);
	if (p.j)
		vhctl_json_end(p.j);
	vh_dev_destroy(&p.dev);
	return 0;
}
