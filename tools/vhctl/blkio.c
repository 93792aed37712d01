// SPDX-License-Identifier: BSD-3-Clause
/* vhctl blk read / write (like qemu-io) and the hidden dirty-log check. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vhost/frontend.h>

#include "vhctl.h"

#define CHUNK (1u << 20)

struct rw_opts {
	char path[512];
	uint64_t offset;
	uint64_t length;
	bool have_offset;
	bool have_length;
	bool verbose;
	bool json;
	/* read --json: base64 of the bytes so far; up to 2 bytes wait for the next chunk */
	uint8_t carry[3];
	unsigned ncarry;
	uint64_t done;
};

static int rw_parse(struct rw_opts *o, int argc, char **argv, bool write)
{
	static const struct option opts[] = {
		{ "offset", required_argument, NULL, 'o' },
		{ "length", required_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "o:l:vjh", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (vhctl_parse_size("--offset", optarg, &o->offset) < 0)
				return VHCTL_EXIT_USAGE;
			o->have_offset = true;
			break;
		case 'l':
			if (vhctl_parse_size("--length", optarg, &o->length) < 0)
				return VHCTL_EXIT_USAGE;
			o->have_length = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			printf(
			    write
				? "usage: vhctl blk write SOCKET --offset N [--json] < FILE\n"
				  "  N must be a multiple of 512; a partial last sector is merged\n"
				  "  with what the disk holds. --json: {offset, bytes, flushed}\n"
				: "usage: vhctl blk read SOCKET --offset N --length L [--json] > "
				  "FILE\n"
				  "  --json: {offset, length, data_base64} instead of the bytes\n");
			return 0;
		default:
			return VHCTL_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		vhctl_err("blk %s: expected exactly one SOCKET", write ? "write" : "read");
		return VHCTL_EXIT_USAGE;
	}
	if (!o->have_offset || (!write && !o->have_length)) {
		vhctl_err("blk %s: %s required", write ? "write" : "read",
			  write ? "--offset is" : "--offset and --length are");
		return VHCTL_EXIT_USAGE;
	}
	if (write && o->offset % VH_BLK_SECTOR_SIZE) {
		vhctl_err("blk write: --offset %llu is not a multiple of 512",
			  (unsigned long long)o->offset);
		return VHCTL_EXIT_USAGE;
	}
	vhctl_backend_path(argv[optind], o->path, sizeof(o->path));
	return -1;
}

static int open_blk(const char *path, bool verbose, struct vh_blk **blk)
{
	struct vh_blk_config c = {
		.path = path,
		.pool_size = 2 * CHUNK,
		.log = vhctl_log_sink(verbose),
		.name = "vh_blk",
	};
	int err = vh_blk_create(&c, blk);

	if (err < 0)
		vhctl_err("%s: cannot open the virtio-blk device: %s", path, strerror(-err));
	return err;
}

/* Fill @buf from stdin; returns bytes read (short only at EOF) or -1. */
static ssize_t read_full(uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = read(STDIN_FILENO, buf + done, len - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

static int do_write(struct vh_blk *blk, const struct rw_opts *o, uint8_t *buf)
{
	struct vh_blk_info info;
	uint64_t off = o->offset;
	ssize_t n;
	int err;

	vh_blk_get_info(blk, &info);
	while ((n = read_full(buf, CHUNK)) > 0) {
		size_t len = (size_t)n, whole = len & ~(size_t)(VH_BLK_SECTOR_SIZE - 1);

		if (off + len > info.size_bytes) {
			vhctl_err("blk write: data runs past the end of the disk (%llu bytes)",
				  (unsigned long long)info.size_bytes);
			return VHCTL_EXIT_FAIL;
		}
		if (whole < len) {
			/* Partial last sector: read it, overlay the tail, write it whole. */
			uint8_t sect[VH_BLK_SECTOR_SIZE];

			err = vh_blk_read(blk, off + whole, sect, sizeof(sect));
			if (err >= 0) {
				memcpy(sect, buf + whole, len - whole);
				memcpy(buf + whole, sect, sizeof(sect));
				len = whole + sizeof(sect);
			}
		} else {
			err = 0;
		}
		if (err >= 0)
			err = vh_blk_write(blk, off, buf, len);
		if (err < 0) {
			vhctl_err("blk write: at offset %llu: %s", (unsigned long long)off,
				  strerror(-err));
			return VHCTL_EXIT_FAIL;
		}
		off += (uint64_t)n;
		if ((size_t)n < CHUNK)
			break;
	}
	if (n < 0) {
		vhctl_err("blk write: reading stdin: %s", strerror(errno));
		return VHCTL_EXIT_FAIL;
	}
	err = info.flush ? vh_blk_flush(blk) : 0;
	if (err < 0) {
		vhctl_err("blk write: flush: %s", strerror(-err));
		return VHCTL_EXIT_FAIL;
	}
	if (o->json) {
		struct vhctl_json j = { .f = stdout };

		vhctl_json_begin(&j, NULL);
		vhctl_json_u64(&j, "offset", o->offset);
		vhctl_json_u64(&j, "bytes", off - o->offset);
		vhctl_json_bool(&j, "flushed", info.flush);
		vhctl_json_end(&j);
	}
	return 0;
}

/* RFC 4648 §4 base64 of @len bytes after the ones carried over; @last: pad the tail. */
static void base64_out(struct rw_opts *o, const uint8_t *p, size_t len, bool last)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	while (len || (last && o->ncarry)) {
		uint8_t *c = o->carry;

		while (len && o->ncarry < 3) {
			c[o->ncarry++] = *p++;
			len--;
		}
		if (o->ncarry < 3 && !last)
			return;
		fputc(al[c[0] >> 2], stdout);
		fputc(al[(c[0] & 3) << 4 | (o->ncarry > 1 ? c[1] >> 4 : 0)], stdout);
		fputc(o->ncarry > 1 ? al[(c[1] & 15) << 2 | (o->ncarry > 2 ? c[2] >> 6 : 0)] : '=',
		      stdout);
		fputc(o->ncarry > 2 ? al[c[2] & 63] : '=', stdout);
		memset(c, 0, 3);
		o->ncarry = 0;
	}
}

static int write_out(struct rw_opts *o, const uint8_t *p, size_t len)
{
	if (o->json) {
		base64_out(o, p, len, false);
		return 0;
	}
	while (len) {
		ssize_t w = write(STDOUT_FILENO, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			vhctl_err("blk read: writing stdout: %s", strerror(errno));
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Reads any byte range: whole sectors are fetched and the requested bytes written out. */
static int do_read(struct vh_blk *blk, struct rw_opts *o, uint8_t *buf)
{
	uint64_t pos = o->offset, end = o->offset + o->length;
	struct vh_blk_info info;
	int err;

	vh_blk_get_info(blk, &info);
	if (end < pos || end > info.size_bytes) {
		vhctl_err("blk read: range runs past the end of the disk (%llu bytes)",
			  (unsigned long long)info.size_bytes);
		return VHCTL_EXIT_FAIL;
	}
	if (o->json)
		printf("{\n  \"offset\": %llu,\n  \"length\": %llu,\n  \"data_base64\": \"",
		       (unsigned long long)o->offset, (unsigned long long)o->length);
	while (pos < end) {
		uint64_t start = pos & ~(uint64_t)(VH_BLK_SECTOR_SIZE - 1);
		uint64_t stop = end - start > CHUNK ? start + CHUNK : end;
		uint64_t astop =
		    (stop + VH_BLK_SECTOR_SIZE - 1) & ~(uint64_t)(VH_BLK_SECTOR_SIZE - 1);

		err = vh_blk_read(blk, start, buf, astop - start);
		if (err < 0) {
			vhctl_err("blk read: at offset %llu: %s", (unsigned long long)start,
				  strerror(-err));
			return VHCTL_EXIT_FAIL;
		}
		if (write_out(o, buf + (pos - start), stop - pos) < 0)
			return VHCTL_EXIT_FAIL;
		pos = stop;
	}
	if (o->json) {
		base64_out(o, NULL, 0, true);
		printf("\"\n}\n");
	}
	return 0;
}

int vhctl_blk_rw(int argc, char **argv, bool write)
{
	struct rw_opts o = { 0 };
	struct vh_blk *blk = NULL;
	uint8_t *buf;
	int rc = rw_parse(&o, argc, argv, write);

	if (rc >= 0)
		return rc;
	if (open_blk(o.path, o.verbose, &blk) < 0)
		return VHCTL_EXIT_FAIL;
	/* Pool buffer: no bounce copy inside the library. */
	buf = vh_blk_buf_alloc(blk, CHUNK + VH_BLK_SECTOR_SIZE);
	if (!buf) {
		vhctl_err("blk: buffer pool exhausted");
		rc = VHCTL_EXIT_FAIL;
	} else {
		rc = write ? do_write(blk, &o, buf) : do_read(blk, &o, buf);
	}
	vh_blk_buf_free(blk, buf);
	vh_blk_destroy(&blk);
	return rc;
}

/* ---- hidden: blk logtest ------------------------------------------------------------------ */

static bool page_dirty(const uint64_t *bm, uint64_t gpa)
{
	uint64_t page = gpa / 4096;

	return bm[page / 64] & (1ull << (page % 64));
}

static int logtest_check(struct vh_blk *blk, uint64_t *bm, uint8_t *rd, uint8_t *wr, uint8_t *idle)
{
	uint64_t desc, drv, dev;
	int bad = 0;

	vh_blk_queue_gpa(blk, 0, &desc, &drv, &dev);
	if (!page_dirty(bm, vh_blk_gpa(blk, rd)) || !page_dirty(bm, vh_blk_gpa(blk, rd) + 4096)) {
		vhctl_err("logtest: the read buffer (gpa 0x%llx) is not reported dirty",
			  (unsigned long long)vh_blk_gpa(blk, rd));
		bad = 1;
	}
	if (!page_dirty(bm, dev)) {
		vhctl_err("logtest: the used ring (gpa 0x%llx) is not reported dirty",
			  (unsigned long long)dev);
		bad = 1;
	}
	if (page_dirty(bm, vh_blk_gpa(blk, idle))) {
		vhctl_err("logtest: an untouched page (gpa 0x%llx) is reported dirty",
			  (unsigned long long)vh_blk_gpa(blk, idle));
		bad = 1;
	}
	/* The device only read the write buffer: reading is not dirtying. */
	if (page_dirty(bm, vh_blk_gpa(blk, wr))) {
		vhctl_err("logtest: the write source (gpa 0x%llx) is reported dirty",
			  (unsigned long long)vh_blk_gpa(blk, wr));
		bad = 1;
	}
	return bad;
}

static int logtest_run(struct vh_blk *blk, uint8_t *rd, uint8_t *wr, uint8_t *idle)
{
	struct vh_dev *dev = vh_blk_dev(blk);
	struct vh_blk_info info;
	uint64_t nbits, *bm;
	int err, bad;

	vh_blk_get_info(blk, &info);
	nbits = info.mem_size / 4096;
	bm = calloc((nbits + 63) / 64, 8);
	if (!bm)
		return VHCTL_EXIT_FAIL;
	memset(wr, 0x5a, 8192);
	memset(idle, 0x11, 4096);
	err = vh_dev_log_start(dev);
	/* Everything before the first sync (the rings being set up) is not the question. */
	if (err >= 0)
		err = vh_dev_log_sync(dev, bm, nbits);
	memset(bm, 0, (nbits + 63) / 64 * 8);
	if (err >= 0)
		err = vh_blk_write(blk, 0, wr, 8192);
	if (err >= 0)
		err = vh_blk_read(blk, 0, rd, 8192);
	if (err >= 0)
		err = vh_dev_log_sync(dev, bm, nbits);
	if (err < 0) {
		vhctl_err("logtest: %s", strerror(-err));
		free(bm);
		return VHCTL_EXIT_FAIL;
	}
	bad = logtest_check(blk, bm, rd, wr, idle);
	if (!bad && memcmp(rd, wr, 8192)) {
		vhctl_err("logtest: read back differs from what was written");
		bad = 1;
	}
	err = vh_dev_log_stop(dev);
	free(bm);
	if (err < 0) {
		vhctl_err("logtest: log stop: %s", strerror(-err));
		return VHCTL_EXIT_FAIL;
	}
	if (!bad)
		printf("logtest: read buffer and used ring dirty, untouched and device-read pages "
		       "clean: ok\n");
	return bad ? VHCTL_EXIT_FAIL : 0;
}

int vhctl_blk_logtest(int argc, char **argv)
{
	char path[512];
	struct vh_blk *blk = NULL;
	uint8_t *rd, *wr, *idle;
	int rc;

	if (argc != 2) {
		vhctl_err("blk logtest: expected SOCKET");
		return VHCTL_EXIT_USAGE;
	}
	vhctl_backend_path(argv[1], path, sizeof(path));
	if (open_blk(path, false, &blk) < 0)
		return VHCTL_EXIT_FAIL;
	rd = vh_blk_buf_alloc(blk, 8192);
	idle = vh_blk_buf_alloc(blk, 4096);
	wr = vh_blk_buf_alloc(blk, 8192);
	rc = rd && wr && idle ? logtest_run(blk, rd, wr, idle) : VHCTL_EXIT_FAIL;
	vh_blk_destroy(&blk);
	return rc;
}
