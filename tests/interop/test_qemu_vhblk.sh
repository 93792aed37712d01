#!/usr/bin/env bash
# QEMU's vhost-user-blk-pci frontend against libvhost's vh-blk daemon (devices/vh-blk), with a
# Linux guest doing the I/O; blk_common.sh has the test itself (O_DIRECT pattern, ext2, fsck, and
# the host image checked byte for byte).
#   split, mq2, packed   as for every blk back-end (blk_common.sh), vh-blk defaults (io_uring)
#   poll                 mq2 with --poll (a worker thread per queue busy-polls the rings)
#   threads4k            split with --aio threads and 4096-byte logical blocks
#   qemu10               QEMU 10.0 from bookworm-backports (guest/qemu.sh), 2 packed queues
#   notifier             HOST_NOTIFIER: vh-blk --host-notifier hands QEMU a notify page per queue
#                        (BACKEND_VRING_HOST_NOTIFIER_MSG), QEMU (page-per-vq=on) maps it into the
#                        guest's notify area; the guest's kicks must arrive as writes to that page
#                        (vh-blk counts them), and the I/O still checks out
# VARIANTS: split mq2 packed poll threads4k qemu10 notifier
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$VH_INTEROP/blk_common.sh"

BLK_BACKEND_NAME=vhblk
VHBLK_EXTRA_ARGS=()
case "${1:-}" in
poll)
	BLK_BACKEND_NAME=vhblk-poll VHBLK_EXTRA_ARGS=(--poll)
	set -- mq2
	;;
threads4k)
	BLK_BACKEND_NAME=vhblk-threads4k VHBLK_EXTRA_ARGS=(--aio threads --logical-block-size 4096)
	set -- split
	;;
notifier)
	BLK_BACKEND_NAME=vhblk-notifier VHBLK_EXTRA_ARGS=(--host-notifier)
	BLK_DEV_EXTRA=,page-per-vq=on
	BLK_AFTER_VARIANT=check_notifier_kicks
	set -- mq2
	;;
qemu10)
	. "$VH_GUEST_DIR/qemu.sh"
	vh_qemu_backports || vh_fail "no QEMU 10.0 from bookworm-backports"
	BLK_BACKEND_NAME=vhblk-qemu$VH_QEMU_VERSION
	set -- mq2packed
	;;
esac
# vh-blk offers VIRTIO_F_RING_PACKED (the library's rings): packed=on must negotiate it.
BLK_BACKEND_PACKED=1

blk_backend_cmd()
{
	local bin=$LIBVHOST_BUILD/devices/vh-blk/vh-blk
	[ -x "$bin" ] || vh_fail "$bin not built"
	BLK_BACKEND_CMD=("$bin" --socket-path "$2" --blk-file "$1" --num-queues "$3"
		"${VHBLK_EXTRA_ARGS[@]}")
}

# The kicks vh-blk found on its notifier pages (logged at exit): none means QEMU did not map them.
check_notifier_kicks()
{
	local log=$VH_TMP/$BLK_BACKEND_NAME-$1.log n
	n=$(sed -n 's/.*host notifier pages: \([0-9]*\) kicks.*/\1/p' "$log")
	[ -n "$n" ] || vh_fail "vh-blk did not report its notifier kicks ($log)"
	grep -q 'host notifier page not handed over' "$log" && vh_fail "a notifier page was refused"
	[ "$n" -gt 0 ] || vh_fail "no guest kick reached the host notifier pages"
	vh_log "host notifier: $n guest kicks written into vh-blk's pages"
}

blk_main "$@"
