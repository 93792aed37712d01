#!/usr/bin/env bash
# vhost-user-blk back-ends side by side, one client: `vhctl blk bench` (randread 4k, iodepth 32,
# one queue, call eventfd) against
#   (a) qemu-storage-daemon's vhost-user-blk export of a null-co block node,
#   (b) vh-blk --blk-file null:1G, event-driven datapath,
#   (c) vh-blk --blk-file null:1G --poll (a busy worker thread).
# Targets: (b) >= 2x (a) IOPS, (c) >= 1,000,000 IOPS.
#
#   bench/blk_backend_bench.sh [--runtime SECS] [--build DIR] [--rw MODE] [--bs SIZE]
#                              [--iodepth N] [--repeat N] [--check]
#
# --repeat N: run the three N times, interleaved, and keep each one's best run (the machine is
# shared: other busy processes steal the CPU from whichever run they overlap).
# --check: exit 1 when a target is missed (default: only report). Every process runs under
# `timeout` and is killed by PID; sockets live in a private scratch directory.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${LIBVHOST_BUILD:-$here/../build}
runtime=5 rw=randread bs=4k iodepth=32 check=0 repeat=1
while [ $# -gt 0 ]; do
	case "$1" in
	--runtime) runtime=$2; shift ;;
	--build) build=$2; shift ;;
	--rw) rw=$2; shift ;;
	--bs) bs=$2; shift ;;
	--iodepth) iodepth=$2; shift ;;
	--repeat) repeat=$2; shift ;;
	--check) check=1 ;;
	-h | --help) sed -n '2,16p' "$0"; exit 0 ;;
	*) echo "blk_backend_bench: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

vhctl=$build/tools/vhctl/vhctl
vhblk=$build/devices/vh-blk/vh-blk
for p in "$vhctl" "$vhblk"; do
	[ -x "$p" ] || { echo "blk_backend_bench: $p not built (ninja -C $build)" >&2; exit 2; }
done
command -v qemu-storage-daemon >/dev/null || { echo "blk_backend_bench: qemu-storage-daemon not found" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vh-blkbench.XXXXXX")
pid=
cleanup()
{
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_socket PATH: up to 10 s, failing early if the daemon died.
wait_socket()
{
	local n=0
	while [ ! -S "$1" ]; do
		kill -0 "$pid" 2>/dev/null || { echo "blk_backend_bench: daemon exited:" >&2; cat "$tmp/daemon.log" >&2; exit 1; }
		[ $n -lt 100 ] || { echo "blk_backend_bench: $1 did not appear" >&2; exit 1; }
		sleep 0.1
		n=$((n + 1))
	done
}

stop_daemon()
{
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=
}

declare -A IOPS MIBS P50 P99
# run KEY SOCK DAEMON_CMD...: start the daemon, run the client, record its totals row.
run()
{
	local key=$1 sock=$2 line
	shift 2
	rm -f "$sock"
	timeout --kill-after=5 $((runtime + 60)) "$@" >"$tmp/daemon.log" 2>&1 </dev/null &
	pid=$!
	wait_socket "$sock"
	timeout --kill-after=5 $((runtime + 30)) "$vhctl" blk bench "$sock" --rw "$rw" --bs "$bs" \
		--iodepth "$iodepth" --runtime "$runtime" --quiet >"$tmp/$key.out" 2>&1 ||
		{ echo "blk_backend_bench: vhctl failed on $key:" >&2; cat "$tmp/$key.out" "$tmp/daemon.log" >&2; exit 1; }
	stop_daemon
	# Columns: op requests IOPS MiB/s avg p50 p99 p99.9 max; take the "read" / "write" / "total"
	# row that comes last (randrw prints one per op and a total).
	line=$(awk '$1 == "read" || $1 == "write" || $1 == "total" { l = $0 } END { print l }' "$tmp/$key.out")
	[ -n "$line" ] || { echo "blk_backend_bench: no result from vhctl ($key):" >&2; cat "$tmp/$key.out" >&2; exit 1; }
	local iops mibs p50 p99
	read -r _ _ iops mibs _ p50 p99 _ <<<"$line"
	echo "  run $r: $key $iops IOPS"
	if [ -z "${IOPS[$key]:-}" ] || [ "$iops" -gt "${IOPS[$key]}" ]; then
		IOPS[$key]=$iops MIBS[$key]=$mibs P50[$key]=$p50 P99[$key]=$p99
	fi
}

echo "client: vhctl blk bench --rw $rw --bs $bs --iodepth $iodepth --runtime $runtime (1 queue)," \
	"best of $repeat"
for r in $(seq "$repeat"); do
	run qsd "$tmp/qsd.sock" qemu-storage-daemon \
		--blockdev driver=null-co,node-name=null0,size=1073741824 \
		--export "type=vhost-user-blk,id=e0,node-name=null0,addr.type=unix,addr.path=$tmp/qsd.sock,writable=on"
	run event "$tmp/event.sock" "$vhblk" --socket-path "$tmp/event.sock" --blk-file null:1G
	run poll "$tmp/poll.sock" "$vhblk" --socket-path "$tmp/poll.sock" --blk-file null:1G --poll
done

printf '\n%-22s %-8s %12s %10s %10s %10s\n' backend mode IOPS MiB/s 'p50(us)' 'p99(us)'
printf '%-22s %-8s %12s %10s %10s %10s\n' qemu-storage-daemon event "${IOPS[qsd]}" "${MIBS[qsd]}" "${P50[qsd]}" "${P99[qsd]}"
printf '%-22s %-8s %12s %10s %10s %10s\n' vh-blk event "${IOPS[event]}" "${MIBS[event]}" "${P50[event]}" "${P99[event]}"
printf '%-22s %-8s %12s %10s %10s %10s\n' vh-blk poll "${IOPS[poll]}" "${MIBS[poll]}" "${P50[poll]}" "${P99[poll]}"

ratio=$(awk -v a="${IOPS[event]}" -v b="${IOPS[qsd]}" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')
ok=1
echo
if awk -v r="$ratio" 'BEGIN { exit !(r >= 2) }'; then
	echo "target (b) >= 2x (a): met (${ratio}x)"
else
	echo "target (b) >= 2x (a): MISSED (${ratio}x)"
	ok=0
fi
if [ "${IOPS[poll]}" -ge 1000000 ]; then
	echo "target (c) >= 1M IOPS: met (${IOPS[poll]})"
else
	echo "target (c) >= 1M IOPS: MISSED (${IOPS[poll]})"
	ok=0
fi
[ "$check" = 0 ] || [ "$ok" = 1 ]
