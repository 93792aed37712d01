# shellcheck shell=bash
# The vhost-user-blk interop test, shared by every backend (bash; sourced after lib.sh).
#
# A backend test script sets
#   BLK_BACKEND_NAME     short name for logs and scratch dirs
#   BLK_BACKEND_PACKED   1 if the backend offers VIRTIO_F_RING_PACKED (the packed variant then
#                        requires a packed ring in the guest), 0 if the device must fall back
#                        to a split ring
# defines
#   blk_backend_cmd IMG SOCK QUEUES   fill the array BLK_BACKEND_CMD with the command that
#                                     serves IMG read-write on the unix socket SOCK with
#                                     QUEUES queues
# and ends with `blk_main "$@"`. Arguments: the variants to run (default all of BLK_VARIANTS):
#   split   1 queue, split ring
#   mq2     2 queues, 2 vCPUs; the guest checks that both hardware queues carried requests
#   packed  packed=on on the device
#
# What is checked: in the guest (guest-blk.sh) the disk size, queue count, packed feature bit,
# an O_DIRECT pattern written from each vCPU and read back, ext2 mkfs/mount/write/fsck/re-read;
# on the host after the guest is off, the image holds exactly the pattern at its offset, zeros
# around it, a file system that e2fsck accepts and the file the guest wrote (read with debugfs).

BLK_VARIANTS="split mq2 packed"
BLK_DISK_MB=64
BLK_FS_KB=32768
BLK_PATTERN_OFF=$((40 << 20))
BLK_PATTERN_SECTORS=8192

# blk_check_image IMG PATTERN FSFILE: the host-side verdict on what the guest left in IMG.
blk_check_image()
{
	local img=$1 pattern=$2 fsfile=$3 plen fs_end
	plen=$(stat -c %s "$pattern")
	fs_end=$((BLK_FS_KB * 1024))
	vh_cmp_region "$img" "$BLK_PATTERN_OFF" "$plen" "$pattern"
	vh_cmp_region "$img" "$fs_end" $((BLK_PATTERN_OFF - fs_end)) /dev/zero
	vh_cmp_region "$img" $((BLK_PATTERN_OFF + plen)) \
		$((BLK_DISK_MB * 1048576 - BLK_PATTERN_OFF - plen)) /dev/zero
	e2fsck -fn "$img" >"$VH_TMP/host-fsck.log" 2>&1 || vh_fail "host e2fsck rejects the image"
	debugfs -R "cat /fsfile" "$img" 2>/dev/null >"$VH_TMP/fsfile.out"
	cmp "$fsfile" "$VH_TMP/fsfile.out" || vh_fail "/fsfile in the image is not what was written"
	[ "$(debugfs -R "cat /dir/hello.txt" "$img" 2>/dev/null)" = \
		"hello from the libvhost interop guest" ] || vh_fail "/dir/hello.txt is wrong"
	vh_log "image: pattern at $BLK_PATTERN_OFF, zeros around it, ext2 clean, files intact"
}

# blk_run_variant VARIANT
blk_run_variant()
{
	local v=$1 queues=1 smp=1 packed=0 dev sock img pattern fsfile st=0
	dev=vhost-user-blk-pci,chardev=blk0,num-queues=1
	case "$v" in
	split) ;;
	mq2) queues=2 smp=2 dev=vhost-user-blk-pci,chardev=blk0,num-queues=2 ;;
	packed) dev="$dev,packed=on" packed=$BLK_BACKEND_PACKED ;;
	mq2packed)
		queues=2 smp=2 packed=$BLK_BACKEND_PACKED
		dev=vhost-user-blk-pci,chardev=blk0,num-queues=2,packed=on
		;;
	*) vh_fail "unknown variant $v (one of: $BLK_VARIANTS)" ;;
	esac
	dev="$dev${BLK_DEV_EXTRA:-}" # a back-end's extra device properties
	vh_log "variant $v: $queues queue(s), $smp vCPU(s), device $dev"
	sock=$VH_TMP/$v.sock
	img=$VH_TMP/$v.img
	pattern=$VH_TMP/$v.pattern
	fsfile=$VH_TMP/$v.fsfile
	vh_make_image "$img" "$BLK_DISK_MB"
	vh_pattern "$pattern" "$BLK_PATTERN_SECTORS" "VH-$BLK_BACKEND_NAME-$v"
	# 2051 sectors: not a whole number of file system blocks.
	vh_pattern "$fsfile" 2051 "VH-FS-$v"

	BLK_BACKEND_CMD=()
	blk_backend_cmd "$img" "$sock" "$queues"
	vh_spawn "$BLK_BACKEND_NAME-$v" 240 "${BLK_BACKEND_CMD[@]}"
	local backend=$VH_SPAWNED_PID
	vh_wait_socket "$sock" 20 "$backend"

	vh_guest_build --script "$VH_INTEROP/guest-blk.sh" --load "virtio_pci virtio_blk ext4" \
		--wait /dev/vda --file "$pattern:/vh/pattern" --file "$fsfile:/vh/fsfile" \
		--bin e2fsck \
		--env VH_DISK_SECTORS=$((BLK_DISK_MB * 2048)) --env VH_EXPECT_QUEUES="$queues" \
		--env VH_EXPECT_PACKED="$packed" --env VH_PATTERN_OFF="$BLK_PATTERN_OFF" \
		--env VH_FS_KB="$BLK_FS_KB" --guest-timeout 100
	vh_guest_run --smp "$smp" --timeout 150 -- \
		-chardev "socket,id=blk0,path=$sock" -device "$dev" || st=$?
	[ "$st" -eq 0 ] || vh_fail "guest failed (variant $v, run-guest status $st)"
	kill -0 "$backend" 2>/dev/null || vh_fail "$BLK_BACKEND_NAME exited during the test"
	vh_kill "$backend"
	blk_check_image "$img" "$pattern" "$fsfile"
	rm -f "$img"
	vh_log "variant $v: PASS"
}

blk_main()
{
	local v variants=${*:-$BLK_VARIANTS}
	vh_init "$BLK_BACKEND_NAME-blk-${variants// /-}"
	vh_need e2fsck debugfs
	for v in $variants; do
		blk_run_variant "$v"
		[ -z "${BLK_AFTER_VARIANT:-}" ] || "$BLK_AFTER_VARIANT" "$v"
	done
}
