#!/bin/sh
# Guest side of the virtio-blk interop tests (blk_common.sh): exercises /dev/vda through the
# vhost-user-blk backend under test. Environment (from /vh/env):
#   VH_DISK_SECTORS   expected size of vda in 512-byte sectors
#   VH_EXPECT_QUEUES  number of blk-mq hardware queues the driver must have set up
#   VH_EXPECT_PACKED  1 if VIRTIO_F_RING_PACKED (bit 34) must be negotiated, 0 if it must not
#   VH_PATTERN_OFF    byte offset (multiple of 64 KiB) where /vh/pattern is written with O_DIRECT
#   VH_FS_KB          size of the ext2 file system made at offset 0
. /vh/lib.sh

dev=vda
size=$(cat /sys/block/$dev/size)
[ "$size" = "$VH_DISK_SECTORS" ] || vh_die "$dev has $size sectors, expected $VH_DISK_SECTORS"

queues=$(ls /sys/block/$dev/mq | wc -l)
[ "$queues" = "$VH_EXPECT_QUEUES" ] || vh_die "$dev has $queues queues, expected $VH_EXPECT_QUEUES"
packed=$(vh_feature_bit $dev 34)
[ "$packed" = "$VH_EXPECT_PACKED" ] ||
	vh_die "VIRTIO_F_RING_PACKED is $packed, expected $VH_EXPECT_PACKED"
vh_log "$dev: $size sectors, $queues queue(s), packed=$packed"
vh_log "$dev: features $(cat /sys/block/$dev/device/features)"

# O_DIRECT write in 4 chunks, chunk i from CPU i % ncpus, so with 2 CPUs both queues carry requests.
ncpu=$(nproc)
bs=65536
blocks=$(($(stat -c %s /vh/pattern) / bs))
chunk=$((blocks / 4))
seek0=$((VH_PATTERN_OFF / bs))
i=0
while [ $i -lt 4 ]; do
	vh_run taskset -c $((i % ncpu)) dd if=/vh/pattern of=/dev/$dev bs=$bs skip=$((i * chunk)) \
		seek=$((seek0 + i * chunk)) count=$chunk oflag=direct conv=notrunc,fsync status=none
	i=$((i + 1))
done
echo 3 >/proc/sys/vm/drop_caches
vh_run dd if=/dev/$dev of=/tmp/readback bs=$bs skip="$seek0" count="$blocks" iflag=direct \
	status=none
cmp /vh/pattern /tmp/readback || vh_die "O_DIRECT read-back differs from what was written"
rm -f /tmp/readback
vh_log "O_DIRECT pattern: $blocks x $bs bytes at $VH_PATTERN_OFF written and read back"

# Each request queue has its own MSI-X vector ("virtioN-req.Q"): completions on every queue prove
# the backend served all of them.
q=0
while [ $q -lt "$VH_EXPECT_QUEUES" ]; do
	irqs=$(awk -v name="-req.$q" -v n="$ncpu" '
		$NF ~ name "$" { for (i = 2; i <= n + 1; i++) s += $i }
		END { print s + 0 }' /proc/interrupts)
	vh_log "queue $q: $irqs completion interrupts"
	[ "$irqs" -gt 0 ] || vh_die "queue $q carried no requests"
	q=$((q + 1))
done

# A file system on the first VH_FS_KB: mkfs, mount, write, unmount, fsck, mount again, read.
vh_run mke2fs -q -b 4096 -L vhtest /dev/$dev "$VH_FS_KB"
mkdir -p /mnt/t
vh_run mount -t ext2 /dev/$dev /mnt/t
vh_run cp /vh/fsfile /mnt/t/fsfile
vh_run mkdir /mnt/t/dir
echo "hello from the libvhost interop guest" >/mnt/t/dir/hello.txt || vh_die "write hello.txt"
vh_run umount /mnt/t
vh_run e2fsck -fn /dev/$dev
vh_run mount -t ext2 -o ro /dev/$dev /mnt/t
cmp /vh/fsfile /mnt/t/fsfile || vh_die "fsfile differs after remount"
vh_run umount /mnt/t
vh_log "ext2: mkfs, write, fsck, re-read ok"
exit 0
