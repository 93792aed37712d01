#!/usr/bin/env bash
# Demo: libvhost's userspace virtio-blk driver (vhctl blk bench) against qemu-storage-daemon.
#   scripts/demo-qsd.sh [BUILD_DIR]        (default: build)
# 1. a 256 MiB scratch raw image served read-write with 2 queues: probe, then a 2-queue randrw
#    benchmark with --verify (every sector stamped and checked);
# 2. a 1 GiB null-co device: 4 KiB randread at iodepth 32, call eventfd and polling.
# Every process is bounded by a timeout and killed by PID; the scratch dir is removed.
set -euo pipefail

BUILD=${1:-build}
SRC=$(cd "$(dirname "$0")/.." && pwd)
case "$BUILD" in /*) ;; *) BUILD=$SRC/$BUILD ;; esac
VHCTL=$BUILD/tools/vhctl/vhctl
RUNTIME=${DEMO_RUNTIME:-5}

[ -x "$VHCTL" ] || { echo "demo-qsd: $VHCTL not built (ninja -C $BUILD)" >&2; exit 1; }
command -v qemu-storage-daemon >/dev/null ||
	{ echo "demo-qsd: qemu-storage-daemon not found (Debian: qemu-system-common)" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/vh-demo-qsd.XXXXXX")
QSD=
cleanup()
{
	if [ -n "$QSD" ] && kill -0 "$QSD" 2>/dev/null; then
		kill -TERM "$QSD" 2>/dev/null || true
		wait "$QSD" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

# qsd NAME EXPORT-ARGS...: start qemu-storage-daemon, wait for its socket.
qsd()
{
	local sock=$TMP/$1.sock n=0
	shift
	timeout --kill-after=5 300 qemu-storage-daemon "$@" \
		--export "type=vhost-user-blk,id=exp0,node-name=node0,addr.type=unix,addr.path=$sock,writable=on,num-queues=2" \
		>"$TMP/qsd.log" 2>&1 &
	QSD=$!
	while [ ! -S "$sock" ]; do
		kill -0 "$QSD" 2>/dev/null || { cat "$TMP/qsd.log" >&2; exit 1; }
		[ $n -lt 100 ] || { echo "demo-qsd: no socket after 10 s" >&2; exit 1; }
		sleep 0.1
		n=$((n + 1))
	done
}

stop_qsd()
{
	kill -TERM "$QSD" 2>/dev/null || true
	wait "$QSD" 2>/dev/null || true
	QSD=
}

echo "== qemu-storage-daemon $(qemu-storage-daemon --version | head -n 1 | awk '{print $3}'): 256 MiB raw file, 2 queues"
truncate -s 256M "$TMP/disk.img"
qsd file --blockdev "driver=file,node-name=file0,filename=$TMP/disk.img" \
	--blockdev driver=raw,node-name=node0,file=file0
timeout 20 "$VHCTL" probe "$TMP/file.sock" | sed -n '1p;/^queues/,$p'
echo
timeout $((RUNTIME + 120)) "$VHCTL" blk bench "$TMP/file.sock" --rw randrw --bs 4k --iodepth 32 \
	--queues 2 --runtime "$RUNTIME" --verify
stop_qsd

echo
echo "== qemu-storage-daemon: null-co 1 GiB, 4 KiB randread, iodepth 32, 1 queue"
qsd null --blockdev driver=null-co,node-name=node0,size=1073741824
timeout $((RUNTIME + 30)) "$VHCTL" blk bench "$TMP/null.sock" --rw randread --bs 4k --iodepth 32 \
	--runtime "$RUNTIME" --quiet
echo
timeout $((RUNTIME + 30)) "$VHCTL" blk bench "$TMP/null.sock" --rw randread --bs 4k --iodepth 32 \
	--runtime "$RUNTIME" --poll --quiet
stop_qsd
