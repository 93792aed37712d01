// SPDX-License-Identifier: BSD-3-Clause
/* vhctl blk info | id | flush | discard | zeroes: one request each, through vh_blk. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vhctl.h"

struct cmd_opts {
	char path[512];
	uint64_t offset;
	uint64_t length;
	bool have_range;
	bool unmap;
	bool json;
};

static int parse(struct cmd_opts *o, const char *cmd, bool range, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "offset", required_argument, NULL, 'o' },
		{ "length", required_argument, NULL, 'l' },
		{ "unmap", no_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned seen = 0;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			printf("usage: vhctl blk %s SOCKET%s%s [--json]\n", cmd,
			       range ? " --offset N --length L" : "",
			       !strcmp(cmd, "zeroes") ? " [--unmap]" : "");
			return 0;
		} else if (c == 'j') {
			o->json = true;
		} else if (c == 'u' && !strcmp(cmd, "zeroes")) {
			o->unmap = true;
		} else if (range && (c == 'o' || c == 'l')) {
			if (vhctl_parse_size(c == 'o' ? "--offset" : "--length", optarg,
					     c == 'o' ? &o->offset : &o->length) < 0)
				return VHCTL_EXIT_USAGE;
			seen |= c == 'o' ? 1 : 2;
		} else {
			vhctl_err("blk %s: unknown option (see vhctl --help)", cmd);
			return VHCTL_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc || (range && seen != 3)) {
		vhctl_err("blk %s: usage: vhctl blk %s SOCKET%s [--json]", cmd, cmd,
			  range ? " --offset N --length L" : "");
		return VHCTL_EXIT_USAGE;
	}
	if (range && ((o->offset | o->length) % VH_BLK_SECTOR_SIZE || !o->length)) {
		vhctl_err("blk %s: --offset and --length must be multiples of 512, length > 0",
			  cmd);
		return VHCTL_EXIT_USAGE;
	}
	vhctl_backend_path(argv[optind], o->path, sizeof(o->path));
	return -1;
}

static void print_info(struct vh_blk *blk, struct vhctl_json *j)
{
	struct vh_blk_info in;

	vh_blk_get_info(blk, &in);
	if (j) {
		vhctl_json_u64(j, "capacity_bytes", in.size_bytes);
		vhctl_json_u64(j, "capacity_sectors", in.capacity);
		vhctl_json_u64(j, "blk_size", in.blk_size);
		vhctl_json_u64(j, "size_max", in.size_max);
		vhctl_json_u64(j, "seg_max", in.seg_max);
		vhctl_json_u64(j, "queues_offered", in.device_queues);
		vhctl_json_bool(j, "read_only", in.read_only);
		vhctl_json_bool(j, "flush", in.flush);
		vhctl_json_bool(j, "discard", in.discard);
		vhctl_json_u64(j, "max_discard_sectors", in.max_discard_sectors);
		vhctl_json_bool(j, "write_zeroes", in.write_zeroes);
		vhctl_json_u64(j, "max_write_zeroes_sectors", in.max_write_zeroes_sectors);
		vhctl_json_bool(j, "write_zeroes_may_unmap", in.write_zeroes_may_unmap);
		vhctl_json_hex(j, "negotiated_features", in.features);
		return;
	}
	printf("capacity: %" PRIu64 " bytes (%" PRIu64 " sectors)\n", in.size_bytes, in.capacity);
	printf("blk_size: %u\nsize_max: %u\nseg_max: %u\nqueues: %u offered\n", in.blk_size,
	       in.size_max, in.seg_max, in.device_queues);
	printf("read_only: %s\nflush: %s\ndiscard: %s (max %u sectors)\n",
	       in.read_only ? "yes" : "no", in.flush ? "yes" : "no", in.discard ? "yes" : "no",
	       in.max_discard_sectors);
	printf("write_zeroes: %s (max %u sectors, may unmap: %s)\n", in.write_zeroes ? "yes" : "no",
	       in.max_write_zeroes_sectors, in.write_zeroes_may_unmap ? "yes" : "no");
	printf("negotiated features: 0x%016" PRIx64 "\n", in.features);
}

static int run(struct vh_blk *blk, const char *cmd, const struct cmd_opts *o)
{
	char id[VIRTIO_BLK_ID_BYTES + 1];
	struct vhctl_json jw = { .f = stdout }, *j = o->json ? &jw : NULL;
	int err;

	if (!strcmp(cmd, "info")) {
		if (j)
			vhctl_json_begin(j, NULL);
		print_info(blk, j);
		if (j)
			vhctl_json_end(j);
		return 0;
	}
	if (!strcmp(cmd, "id")) {
		err = vh_blk_get_id(blk, id, sizeof(id));
		if (err >= 0 && !j)
			printf("%s\n", id);
	} else if (!strcmp(cmd, "flush")) {
		err = vh_blk_flush(blk);
	} else if (!strcmp(cmd, "discard")) {
		err = vh_blk_discard(blk, o->offset, o->length);
	} else {
		err = vh_blk_write_zeroes(blk, o->offset, o->length, o->unmap);
	}
	if (err < 0) {
		vhctl_err("blk %s: %s", cmd, strerror(-err));
		return VHCTL_EXIT_FAIL;
	}
	if (!j)
		return 0;
	vhctl_json_begin(j, NULL);
	vhctl_json_str(j, "op", cmd);
	vhctl_json_bool(j, "ok", true);
	if (!strcmp(cmd, "id"))
		vhctl_json_str(j, "id", id);
	if (o->length) {
		vhctl_json_u64(j, "offset", o->offset);
		vhctl_json_u64(j, "length", o->length);
	}
	if (!strcmp(cmd, "zeroes"))
		vhctl_json_bool(j, "unmap", o->unmap);
	vhctl_json_end(j);
	return 0;
}

int vhctl_blk_cmd(int argc, char **argv)
{
	const char *cmd = argv[0];
	bool range = !strcmp(cmd, "discard") || !strcmp(cmd, "zeroes");
	struct cmd_opts o = { 0 };
	struct vh_blk_config c = { .name = "vh_blk", .pool_size = 4096 };
	struct vh_blk *blk = NULL;
	int rc = parse(&o, cmd, range, argc, argv), err;

	if (rc >= 0)
		return rc;
	c.path = o.path;
	c.log = vhctl_log_sink(false);
	err = vh_blk_create(&c, &blk);
	if (err < 0) {
		vhctl_err("%s: cannot open the virtio-blk device: %s", o.path, strerror(-err));
		return VHCTL_EXIT_FAIL;
	}
	rc = run(blk, cmd, &o);
	vh_blk_destroy(&blk);
	return rc;
}
