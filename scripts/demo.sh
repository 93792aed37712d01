#!/usr/bin/env bash
# `make demo`: the main job on built-in defaults.
#   ./scripts/demo.sh BUILD_DIR
# 1. vh-blk serves a 256 MiB scratch image (io_uring, 2 queues); `vhctl probe` shows what it
#    offers and `vhctl blk bench --verify` runs a 2-queue 4 KiB randrw benchmark in which every
#    sector is stamped and read back; the image is then checked by hand with vhctl blk read.
# 2. the ring loopback: a driver-side and a device-side ring in two threads over shared memory and
#    eventfds, and the ring microbenchmark table.
# Every process is bounded by a timeout and stopped by its PID; the scratch dir is removed.
set -euo pipefail

BUILD=${1:-build}
SRC=$(cd "$(dirname "$0")/.." && pwd)
case "$BUILD" in /*) ;; *) BUILD=$SRC/$BUILD ;; esac
VHBLK=$BUILD/devices/vh-blk/vh-blk
VHCTL=$BUILD/tools/vhctl/vhctl
RING=$BUILD/bench/ring_bench
RUNTIME=${DEMO_RUNTIME:-5}

for p in "$VHBLK" "$VHCTL" "$RING"; do
	[ -x "$p" ] || { echo "demo: $p not built (ninja -C $BUILD)" >&2; exit 1; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/vh-demo.XXXXXX")
DAEMON=
cleanup()
{
	if [ -n "$DAEMON" ] && kill -0 "$DAEMON" 2>/dev/null; then
		kill -TERM "$DAEMON" 2>/dev/null || true
		wait "$DAEMON" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

SOCK=$TMP/vh-blk.sock
truncate -s 256M "$TMP/disk.img"
echo "== vh-blk: 256 MiB raw image, io_uring, 2 queues"
timeout --kill-after=5 600 "$VHBLK" --socket-path "$SOCK" --blk-file "$TMP/disk.img" \
	--num-queues 2 >"$TMP/vh-blk.log" 2>&1 &
DAEMON=$!
for _ in $(seq 100); do
	[ -S "$SOCK" ] && break
	kill -0 "$DAEMON" 2>/dev/null || { cat "$TMP/vh-blk.log" >&2; exit 1; }
	sleep 0.1
done
[ -S "$SOCK" ] || { echo "demo: vh-blk did not create $SOCK" >&2; exit 1; }

timeout 20 "$VHCTL" probe "$SOCK"
echo
timeout $((RUNTIME + 120)) "$VHCTL" blk bench "$SOCK" --rw randrw --bs 4k --iodepth 32 \
	--queues 2 --runtime "$RUNTIME" --verify

echo
echo "== by hand: write a file at offset 1 MiB through vh-blk, read it back, compare with the image"
head -c 65536 /dev/urandom >"$TMP/in.bin"
timeout 20 "$VHCTL" blk write "$SOCK" --offset 1048576 <"$TMP/in.bin"
timeout 20 "$VHCTL" blk read "$SOCK" --offset 1048576 --length 65536 >"$TMP/out.bin"
cmp "$TMP/in.bin" "$TMP/out.bin"
cmp "$TMP/in.bin" <(dd if="$TMP/disk.img" bs=64k skip=16 count=1 status=none)
echo "read back and on-disk bytes match"

kill -TERM "$DAEMON"
wait "$DAEMON" || { echo "demo: vh-blk exited with $?" >&2; exit 1; }
DAEMON=

echo
echo "== ring loopback (event-driven, two threads, shared memfd, kick/call eventfds)"
timeout 30 "$RING" --demo 3
echo
echo "== ring_bench (polling, 0.3 s per row)"
timeout 60 "$RING" -t 0.3
echo
echo "demo: ok"
