#!/usr/bin/env bash
# Instructions per request of the vhost-user-blk datapath, counted by callgrind: reproducible on
# a noisy machine where IOPS are not. Two runs per workload:
#   vh-blk under callgrind, served by a native `vhctl blk bench`  -> daemon instructions / request
#   `vhctl blk bench` (the vh_blk driver) under callgrind vs a native vh-blk -> driver instr / req
# vh-blk runs with --blk-file null:1G and --poll-us 0 (no poll window: its spinning would count
# as instructions). Each figure is marginal: two runs, --runtime SECS and 3x that, and
# (instructions of the long run - of the short one) / (requests of the long - of the short), so
# connection setup and teardown cancel out however few requests a loaded machine completes.
#
#   bench/blk_callgrind.sh [--build DIR] [--runtime SECS] [--keep DIR] [--aio-file]
#
# --keep DIR: leave the callgrind.out files there (callgrind_annotate them for the hot spots).
# --aio-file: back vh-blk with a file in /dev/shm (io_uring path) instead of null.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${LIBVHOST_BUILD:-$here/../build}
runtime=2 keep='' aio_file=0
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift ;;
	--runtime) runtime=$2; shift ;;
	--keep) keep=$2; shift ;;
	--aio-file) aio_file=1 ;;
	-h | --help) sed -n '2,13p' "$0"; exit 0 ;;
	*) echo "blk_callgrind: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
vhctl=$build/tools/vhctl/vhctl
vhblk=$build/devices/vh-blk/vh-blk
command -v valgrind >/dev/null || { echo "blk_callgrind: valgrind not found" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vh-blkcg.XXXXXX")
shm=''
pid=''
cleanup()
{
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp" ${shm:+"$shm"}
}
trap cleanup EXIT
trap 'exit 130' INT TERM
backing=null:1G
if [ "$aio_file" = 1 ]; then
	shm=$(mktemp -d /dev/shm/vh-blkcg.XXXXXX)
	dd if=/dev/zero of="$shm/disk" bs=1M count=64 status=none
	backing=$shm/disk
fi
[ -z "$keep" ] || mkdir -p "$keep"
cg=(valgrind --tool=callgrind --quiet)

# total_ir FILE: the "summary:" / "totals:" line of a callgrind.out file.
total_ir()
{
	awk '$1 == "summary:" || $1 == "totals:" { print $2; exit }' "$1"
}

# measure SIDE RUNTIME VHCTL_ARGS...: one run; sets REQS and IR.
measure()
{
	local side=$1 rt=$2 sock=$tmp/s.sock out=$tmp/cg.out
	shift 2
	rm -f "$sock" "$out"
	if [ "$side" = daemon ]; then
		timeout --kill-after=5 $((rt * 4 + 120)) "${cg[@]}" --callgrind-out-file="$out" \
			"$vhblk" --socket-path "$sock" --blk-file "$backing" --poll-us 0 \
			>"$tmp/d.log" 2>&1 </dev/null &
	else
		timeout --kill-after=5 $((rt * 4 + 120)) "$vhblk" --socket-path "$sock" \
			--blk-file "$backing" --poll-us 0 >"$tmp/d.log" 2>&1 </dev/null &
	fi
	pid=$!
	for _ in $(seq 300); do [ -S "$sock" ] && break; sleep 0.1; done
	[ -S "$sock" ] || { echo "blk_callgrind: no socket" >&2; cat "$tmp/d.log" >&2; exit 1; }
	if [ "$side" = daemon ]; then
		"$vhctl" blk bench "$sock" "$@" --runtime "$rt" --quiet >"$tmp/c.log"
	else
		"${cg[@]}" --callgrind-out-file="$out" "$vhctl" blk bench "$sock" "$@" \
			--runtime "$rt" --quiet >"$tmp/c.log"
	fi
	kill -TERM "$pid"
	wait "$pid" || true
	pid=''
	REQS=$(awk '$1 == "read" || $1 == "write" { n = $2 } END { print n }' "$tmp/c.log")
	IR=$(total_ir "$out")
}

# one SIDE WORKLOAD VHCTL_ARGS...: prints "side workload requests instr/request".
one()
{
	local side=$1 wl=$2 n1 i1
	shift 2
	measure "$side" "$runtime" "$@"
	n1=$REQS i1=$IR
	measure "$side" $((runtime * 3)) "$@"
	[ -z "$keep" ] || cp "$tmp/cg.out" "$keep/callgrind.$side.$wl.out"
	printf '%-7s %-12s %10s %12s\n' "$side" "$wl" "$((REQS - n1))" \
		"$(awk -v a="$i1" -v b="$IR" -v m="$n1" -v n="$REQS" 'BEGIN { printf "%.0f", (n > m) ? (b - a) / (n - m) : 0 }')"
}

printf '%-7s %-12s %10s %12s\n' side workload 'requests+' 'instr/req'
for side in daemon driver; do
	one "$side" rand4k-qd32 --rw randread --bs 4k --iodepth 32
	one "$side" rand4k-qd1 --rw randread --bs 4k --iodepth 1
done
