// SPDX-License-Identifier: BSD-3-Clause
/* vhctl probe: what a vhost backend offers, by name. */
#include <endian.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <linux/virtio_blk.h>

#include <vhost/frontend.h>
#include <vhost/proto.h>

#include "vhctl.h"

struct probe {
	char path[512];
	bool json;
	bool verbose;
	struct vh_dev *dev;
	uint64_t features;
	uint64_t protocol;
	struct virtio_blk_config cfg;
	uint32_t cfg_len; /* 0: no config space */
};

static const char *feature_name(unsigned bit, char *buf, size_t len)
{
	const char *n = bit < 24 ? vh_blk_feature_name(bit) : vh_proto_virtio_feature_name(bit);

	if (n)
		return n;
	snprintf(buf, len, "bit %u", bit);
	return buf;
}

static const char *proto_name(unsigned bit, char *buf, size_t len)
{
	const char *n = vh_proto_feature_name(bit);

	if (n && !strstr(n, "UNKNOWN"))
		return n;
	snprintf(buf, len, "bit %u", bit);
	return buf;
}

static void print_bits(const struct probe *p, const char *key, uint64_t v, bool protocol)
{
	char buf[32];
	unsigned bit;
	bool first = true;

	if (p->json)
		printf("  \"%s\": \"0x%016llx\",\n  \"%s_names\": [", key, (unsigned long long)v,
		       key);
	else
		printf("%s: 0x%016llx\n", key, (unsigned long long)v);
	for (bit = 0; bit < 64; bit++) {
		const char *n;

		if (!(v & (1ull << bit)))
			continue;
		n = protocol ? proto_name(bit, buf, sizeof(buf))
			     : feature_name(bit, buf, sizeof(buf));
		if (p->json)
			printf("%s\"%s\"", first ? "" : ", ", n);
		else
			printf("  %2u %s\n", bit, n);
		first = false;
	}
	if (p->json)
		printf("],\n");
}

/* Try the longest virtio-blk config prefix the backend accepts (older backends have less). */
static void read_config(struct probe *p)
{
	/*
	 * libvhost-user answers a GET_CONFIG longer than its struct with an empty reply, which the
	 * frontend treats as a broken peer: ask for the fields every virtio 1.1+ device has.
	 */
	static const uint32_t lens[] = {
		offsetof(struct virtio_blk_config, max_secure_erase_sectors),
		offsetof(struct virtio_blk_config, max_discard_sectors),
		offsetof(struct virtio_blk_config, blk_size) + 4,
	};
	unsigned i;

	if (!(p->protocol & (1ull << VH_USER_PROTOCOL_F_CONFIG)))
		return;
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		memset(&p->cfg, 0, sizeof(p->cfg));
		if (vh_dev_get_config(p->dev, 0, &p->cfg, lens[i]) >= 0) {
			p->cfg_len = lens[i];
			return;
		}
	}
}

struct cfg_field {
	const char *name;
	unsigned long long v;
	unsigned feature; /* shown only when offered; 64: always */
};

static void print_config(const struct probe *p)
{
	const struct virtio_blk_config *c = &p->cfg;
	const struct cfg_field f[] = {
		{ "capacity_sectors", le64toh(c->capacity), 64 },
		{ "capacity_bytes", le64toh(c->capacity) * 512ull, 64 },
		{ "size_max", le32toh(c->size_max), VIRTIO_BLK_F_SIZE_MAX },
		{ "seg_max", le32toh(c->seg_max), VIRTIO_BLK_F_SEG_MAX },
		{ "blk_size", le32toh(c->blk_size), VIRTIO_BLK_F_BLK_SIZE },
		{ "physical_block_exp", c->physical_block_exp, VIRTIO_BLK_F_TOPOLOGY },
		{ "alignment_offset", c->alignment_offset, VIRTIO_BLK_F_TOPOLOGY },
		{ "min_io_size", le16toh(c->min_io_size), VIRTIO_BLK_F_TOPOLOGY },
		{ "opt_io_size", le32toh(c->opt_io_size), VIRTIO_BLK_F_TOPOLOGY },
		{ "wce", c->wce, VIRTIO_BLK_F_CONFIG_WCE },
		{ "num_queues", le16toh(c->num_queues), VIRTIO_BLK_F_MQ },
		{ "max_discard_sectors", le32toh(c->max_discard_sectors), VIRTIO_BLK_F_DISCARD },
		{ "max_discard_seg", le32toh(c->max_discard_seg), VIRTIO_BLK_F_DISCARD },
		{ "discard_sector_alignment", le32toh(c->discard_sector_alignment),
		  VIRTIO_BLK_F_DISCARD },
		{ "max_write_zeroes_sectors", le32toh(c->max_write_zeroes_sectors),
		  VIRTIO_BLK_F_WRITE_ZEROES },
		{ "max_write_zeroes_seg", le32toh(c->max_write_zeroes_seg),
		  VIRTIO_BLK_F_WRITE_ZEROES },
		{ "write_zeroes_may_unmap", c->write_zeroes_may_unmap, VIRTIO_BLK_F_WRITE_ZEROES },
	};
	unsigned i;
	bool first = true;

	if (p->json)
		printf("  \"config_bytes\": %u,\n  \"config\": {", p->cfg_len);
	else if (p->cfg_len)
		printf("config (virtio-blk, %u bytes):\n", p->cfg_len);
	else
		printf("config: not readable (no VHOST_USER_PROTOCOL_F_CONFIG)\n");
	for (i = 0; p->cfg_len && i < sizeof(f) / sizeof(f[0]); i++) {
		if (f[i].feature < 64 && !(p->features & (1ull << f[i].feature)))
			continue;
		if (p->json)
			printf("%s\n    \"%s\": %llu", first ? "" : ",", f[i].name, f[i].v);
		else
			printf("  %-26s %llu\n", f[i].name, f[i].v);
		first = false;
	}
	if (p->json)
		printf("%s}\n", first ? "" : "\n  ");
}

static int parse(struct probe *p, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "jvh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			p->json = true;
			break;
		case 'v':
			p->verbose = true;
			break;
		case 'h':
			printf("usage: vhctl probe SOCKET [--json] [--verbose]\n");
			return 0;
		default:
			return VHCTL_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		vhctl_err("probe: expected exactly one SOCKET (see vhctl --help)");
		return VHCTL_EXIT_USAGE;
	}
	vhctl_backend_path(argv[optind], p->path, sizeof(p->path));
	return -1;
}

int vhctl_probe(int argc, char **argv)
{
	struct probe p = { 0 };
	struct vh_dev_config dc = { .features = UINT64_MAX, .num_queues = 1, .name = "probe" };
	int rc = parse(&p, argc, argv), err;

	if (rc >= 0)
		return rc;
	dc.path = p.path;
	dc.log = vhctl_log_sink(p.verbose);
	err = vh_dev_create(&dc, &p.dev);
	if (err < 0) {
		vhctl_err("probe: %s: cannot open the backend: %s", p.path, strerror(-err));
		return VHCTL_EXIT_FAIL;
	}
	p.features = vh_dev_backend_features(p.dev);
	p.protocol = vh_dev_protocol_features(p.dev);
	read_config(&p);
	if (p.json)
		printf("{\n  \"backend\": \"%s\",\n", p.path);
	else
		printf("backend: %s\n", p.path);
	print_bits(&p, "features", p.features, false);
	print_bits(&p, "protocol_features", p.protocol, true);
	if (p.json)
		printf("  \"queues\": %u,\n  \"max_mem_slots\": %u,\n", vh_dev_max_queues(p.dev),
		       vh_dev_max_mem_slots(p.dev));
	else
		printf("queues: %u\nmax mem slots: %u\n", vh_dev_max_queues(p.dev),
		       vh_dev_max_mem_slots(p.dev));
	/* /dev/vhost-* devices: transport, backend features, vdpa queries (probe_ioctl.c). */
	if (!vhctl_probe_ioctl(p.dev, p.json, &p.cfg, &p.cfg_len) || p.json || p.cfg_len)
		print_config(&p);
	if (p.json)
		printf("}\n");
	vh_dev_destroy(&p.dev);
	return 0;
}
