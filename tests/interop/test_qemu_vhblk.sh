#!/usr/bin/env bash
# QEMU's vhost-user-blk-pci frontend against libvhost's vh-blk daemon (devices/vh-blk), with a
# Linux guest doing the I/O; blk_common.sh has the test itself (O_DIRECT pattern, ext2, fsck, and
# the host image checked byte for byte).
#   split, mq2, packed   as for every blk back-end (blk_common.sh), vh-blk defaults (io_uring)
#   poll                 mq2 with --poll (a worker thread per queue busy-polls the rings)
#   threads4k            split with --aio threads and 4096-byte logical blocks
#   qemu10               QEMU 10.0 from bookworm-backports (guest/qemu.sh), 2 packed queues
# VARIANTS: split mq2 packed poll threads4k qemu10
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

blk_main "$@"
