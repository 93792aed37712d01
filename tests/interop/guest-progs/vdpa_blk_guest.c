/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdpa_blk_guest: runs inside the interop guest (test_guest_vhost_vdpa.sh, 6.12 kernel).
 * Usage: vdpa_blk_guest /dev/vhost-vdpa-N BACKING_FILE
 *
 * The device behind /dev/vhost-vdpa-N is a VDUSE block device (qemu-storage-daemon's vduse-blk
 * export of BACKING_FILE, added with `vdpa dev add`). libvhost's vh_blk drives it through vh_dev's
 * vhost-vdpa transport: what it reads must equal the file, what it writes must land in the file.
 */
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <vhost/blk.h>
#include <vhost/frontend.h>
#include <vhost/kernel.h>

#include "guest_common.h"

#define CHUNK (256u * 1024)

static void file_read(int fd, uint64_t off, void *buf, size_t len)
{
	if (pread(fd, buf, len, (off_t)off) != (ssize_t)len)
		gp_die("pread backing file at %llu: %s", (unsigned long long)off, strerror(errno));
}

static void print_info(struct vh_blk *blk)
{
	struct vh_dev_ioctl_info ii;
	struct vh_blk_info bi;

	vh_blk_get_info(blk, &bi);
	gp_check(vh_dev_ioctl_info(vh_blk_dev(blk), &ii), "vh_dev_ioctl_info");
	gp_log("vdpa: device_id %u config_size %u vring_num_max %u vqs %u groups %u as %u "
	       "backend offered 0x%llx acked 0x%llx",
	       ii.device_id, ii.config_size, ii.vring_num_max, ii.vqs_count, ii.group_num,
	       ii.as_num, (unsigned long long)ii.backend_features,
	       (unsigned long long)ii.backend_features_acked);
	gp_log("vh_dev: offered 0x%016llx negotiated 0x%016llx capacity %llu sectors queues %u/%u "
	       "packed %d indirect %d event_idx %d",
	       (unsigned long long)vh_dev_backend_features(vh_blk_dev(blk)),
	       (unsigned long long)bi.features, (unsigned long long)bi.capacity, bi.num_queues,
	       bi.device_queues, bi.packed, bi.indirect, bi.event_idx);
}

/* Everything the driver reads equals the backing file. */
static void check_read(struct vh_blk *blk, int fd, uint64_t size, uint8_t *a, uint8_t *b)
{
	uint64_t off;

	for (off = 0; off < size; off += CHUNK) {
		size_t len = (size_t)(size - off < CHUNK ? size - off : CHUNK);

		gp_check(vh_blk_read(blk, off, a, len), "vh_blk_read");
		file_read(fd, off, b, len);
		gp_expect_bytes(a, len, b, len, "read through vhost-vdpa vs backing file");
	}
	gp_log("read: %llu bytes through /dev/vhost-vdpa equal the backing file",
	       (unsigned long long)size);
}

/* What the driver writes (a few places, odd sizes) is in the backing file after a flush. */
static void check_write(struct vh_blk *blk, int fd, uint64_t size, uint8_t *a, uint8_t *b)
{
	static const uint64_t offs[] = { 0, 4096, 512 * 1001, 3 * 1024 * 1024 + 512 };
	static const size_t lens[] = { 512, 65536, 4096 * 3 + 512, CHUNK };
	unsigned i;

	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		if (offs[i] + lens[i] > size)
			gp_die("backing file too small (%llu bytes)", (unsigned long long)size);
		gp_fill(a, lens[i], 77 + i);
		gp_check(vh_blk_write(blk, offs[i], a, lens[i]), "vh_blk_write");
	}
	gp_check(vh_blk_flush(blk), "vh_blk_flush");
	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		gp_fill(a, lens[i], 77 + i);
		file_read(fd, offs[i], b, lens[i]);
		gp_expect_bytes(b, lens[i], a, lens[i], "backing file after a vhost-vdpa write");
		gp_check(vh_blk_read(blk, offs[i], b, lens[i]), "vh_blk_read back");
		gp_expect_bytes(b, lens[i], a, lens[i], "read back through vhost-vdpa");
	}
	gp_log("write: 4 writes through /dev/vhost-vdpa are in the backing file, byte for byte");
}

int main(int argc, char **argv)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	struct vh_blk_config c = { .name = "vh_blk", .log = gp_sink() };
	uint8_t *a = malloc(CHUNK), *b = malloc(CHUNK);
	struct vh_blk_info bi;
	struct vh_blk *blk;
	struct stat st;
	int fd;

	gp_prog = "vdpa_blk_guest";
	if (argc != 3 || !a || !b)
		gp_die("usage: vdpa_blk_guest /dev/vhost-vdpa-N BACKING_FILE");
	/* vhost-vdpa pins guest memory against RLIMIT_MEMLOCK. */
	if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0)
		gp_log("setrlimit MEMLOCK: %s (continuing)", strerror(errno));
	gp_probe(argv[1]);
	fd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		gp_die("open %s: %s", argv[2], strerror(errno));
	c.path = argv[1];
	gp_check(vh_blk_create(&c, &blk), "vh_blk_create");
	print_info(blk);
	vh_blk_get_info(blk, &bi);
	if (bi.size_bytes != (uint64_t)st.st_size)
		gp_die("capacity %llu bytes, backing file %lld", (unsigned long long)bi.size_bytes,
		       (long long)st.st_size);
	check_read(blk, fd, bi.size_bytes, a, b);
	if (bi.read_only)
		gp_die("the device is read-only");
	check_write(blk, fd, bi.size_bytes, a, b);
	vh_blk_destroy(&blk);
	close(fd);
	free(a);
	free(b);
	gp_log("PASS");
	return 0;
}
