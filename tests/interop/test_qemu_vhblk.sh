#!/usr/bin/env bash
# QEMU's vhost-user-blk-pci frontend against libvhost's vh-blk daemon (devices/vh-blk), with a
# Linux guest doing the I/O; blk_common.sh has the test itself (O_DIRECT pattern, ext2, fsck, and
# the host image checked byte for byte).
# VARIANTS: split mq2 packed
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$VH_INTEROP/blk_common.sh"

BLK_BACKEND_NAME=vhblk
# vh-blk offers VIRTIO_F_RING_PACKED (the library's rings): packed=on must negotiate it.
BLK_BACKEND_PACKED=1

blk_backend_cmd()
{
	local bin=$LIBVHOST_BUILD/devices/vh-blk/vh-blk
	[ -x "$bin" ] || vh_fail "$bin not built"
	BLK_BACKEND_CMD=("$bin" --socket-path "$2" --blk-file "$1" --num-queues "$3"
		${VHBLK_EXTRA_ARGS:-})
}

blk_main "$@"
