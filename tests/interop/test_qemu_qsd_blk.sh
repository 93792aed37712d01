#!/usr/bin/env bash
# QEMU's vhost-user-blk-pci frontend against qemu-storage-daemon's vhost-user-blk export, with a
# Linux guest doing the I/O. Proves the harness; blk_common.sh has the test itself.
# VARIANTS: split mq2 packed
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$VH_INTEROP/blk_common.sh"

BLK_BACKEND_NAME=qsd
# qemu-storage-daemon's export is built on libvhost-user, which has no packed rings: the device's
# packed=on must fall back to a split ring.
BLK_BACKEND_PACKED=0

blk_backend_cmd()
{
	local export="type=vhost-user-blk,id=exp0,node-name=raw0,addr.type=unix,addr.path=$2"
	vh_need qemu-storage-daemon
	# shellcheck disable=SC2054 # the commas are qemu option syntax
	BLK_BACKEND_CMD=(qemu-storage-daemon
		--blockdev "driver=file,node-name=file0,filename=$1"
		--blockdev driver=raw,node-name=raw0,file=file0
		--export "$export,writable=on,num-queues=$3")
}

blk_main "$@"
