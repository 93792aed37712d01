#!/usr/bin/env bash
# vhost-user-blk back-ends side by side, one client (`vhctl blk bench`, one queue, call eventfd):
#   qemu-storage-daemon's vhost-user-blk export      (mode "event": its main loop)
#   vh-blk, event-driven datapath (adaptive poll window, --poll-us ceiling)
#   vh-blk --poll (a busy worker thread)
# for each backing
#   null  qemu-storage-daemon null-co / vh-blk null:SIZE (no I/O: the datapath alone)
#   shm   a file in /dev/shm (tmpfs), buffered I/O, io_uring in both daemons
#   file  a file in a temp dir on a disk file system (${TMPDIR:-/var/tmp}), buffered, io_uring
# and each workload
#   rand4k-qd32   4k random read, iodepth 32 (IOPS)
#   rand4k-qd1    4k random read, iodepth 1  (latency: p50 / p99)
#   seq128k-qd32  128k sequential read, iodepth 32 (bandwidth)
# One table, every row from the same run: medians of --repeat runs (interleaved, so a noisy
# neighbour hurts every row alike) with the IOPS spread ((max - min) / median), and the CPU time
# the daemon used per million requests (utime + stime of every thread, /proc/PID/stat, between
# the connect and the end of the client).
# Targets (event mode, each backing): vh-blk >= 2.5x qemu-storage-daemon IOPS at iodepth 32,
# not slower at iodepth 1, and less CPU per request than qemu-storage-daemon in both.
#
#   bench/blk_backend_bench.sh [--runtime SECS] [--repeat N] [--build DIR]
#                              [--backings "null shm file"] [--workloads "rand4k-qd32 ..."]
#                              [--file-size MIB] [--vhblk-args "ARGS"] [--no-poll] [--check]
#
# --vhblk-args: extra vh-blk options for both vh-blk rows (e.g. "--poll-us 50").
# --check: exit 1 when a target is missed (default: only report). Every process runs under
# `timeout` and is killed by PID; sockets and files live in private scratch directories.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${LIBVHOST_BUILD:-$here/../build}
runtime=3 repeat=3 check=0 file_mib=256 vhblk_args='' poll_rows=1
backings="null shm file"
workloads="rand4k-qd32 rand4k-qd1 seq128k-qd32"
while [ $# -gt 0 ]; do
	case "$1" in
	--runtime) runtime=$2; shift ;;
	--repeat) repeat=$2; shift ;;
	--build) build=$2; shift ;;
	--backings) backings=$2; shift ;;
	--workloads) workloads=$2; shift ;;
	--file-size) file_mib=$2; shift ;;
	--vhblk-args) vhblk_args=$2; shift ;;
	--no-poll) poll_rows=0 ;;
	--check) check=1 ;;
	-h | --help) sed -n '2,28p' "$0"; exit 0 ;;
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
hz=$(getconf CLK_TCK)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vh-blkbench.XXXXXX")
shm='' disk=''
pid=
cleanup()
{
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp" ${shm:+"$shm"} ${disk:+"$disk"}
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Backing files: written once (allocated, not sparse), read through the page cache by both.
for b in $backings; do
	case "$b" in
	null) ;;
	shm) shm=$(mktemp -d /dev/shm/vh-blkbench.XXXXXX)
		dd if=/dev/zero of="$shm/disk" bs=1M count="$file_mib" status=none ;;
	file) disk=$(mktemp -d "${TMPDIR:-/var/tmp}/vh-blkbench.XXXXXX")
		dd if=/dev/zero of="$disk/disk" bs=1M count="$file_mib" conv=fsync status=none ;;
	*) echo "blk_backend_bench: unknown backing $b (null, shm, file)" >&2; exit 2 ;;
	esac
done

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

# cpu_ticks PID: utime + stime (fields 14 and 15 of /proc/PID/stat; the command name in field 2
# may hold spaces, so count from the closing parenthesis).
cpu_ticks()
{
	local s
	s=$(cat "/proc/$1/stat")
	s=${s##*) }
	awk '{ print $12 + $13 }' <<<"$s"
}

# daemon_cmd BACKEND BACKING SOCK: the command line, in the array CMD.
daemon_cmd()
{
	local be=$1 bk=$2 sock=$3 file=
	case "$bk" in
	shm) file=$shm/disk ;;
	file) file=$disk/disk ;;
	esac
	case "$be" in
	qsd)
		local node=driver=null-co,node-name=d0,size=$((file_mib << 20))
		[ -z "$file" ] || node=driver=file,node-name=d0,filename=$file,aio=io_uring,cache.direct=off
		CMD=(qemu-storage-daemon --blockdev "$node"
			--export "type=vhost-user-blk,id=e0,node-name=d0,addr.type=unix,addr.path=$sock,writable=on") ;;
	event | poll)
		# shellcheck disable=SC2206 # --vhblk-args is split on purpose
		CMD=("$vhblk" --socket-path "$sock" --blk-file "${file:-null:${file_mib}M}" $vhblk_args)
		[ "$be" = event ] || CMD+=(--poll) ;;
	esac
}

# workload_args NAME: vhctl options, in the array WL.
workload_args()
{
	case "$1" in
	rand4k-qd32) WL=(--rw randread --bs 4k --iodepth 32) ;;
	rand4k-qd1) WL=(--rw randread --bs 4k --iodepth 1) ;;
	seq128k-qd32) WL=(--rw read --bs 128k --iodepth 32) ;;
	*) echo "blk_backend_bench: unknown workload $1" >&2; exit 2 ;;
	esac
}

# run BACKING WORKLOAD BACKEND: one run; appends "iops mibs p50 p99 cpu_s_per_1M" to its file.
run()
{
	local bk=$1 wl=$2 be=$3 key=$1.$2.$3 sock=$tmp/$3.sock line c0 c1 dpid
	daemon_cmd "$be" "$bk" "$sock"
	workload_args "$wl"
	rm -f "$sock"
	timeout --kill-after=5 $((runtime + 60)) "${CMD[@]}" >"$tmp/daemon.log" 2>&1 </dev/null &
	pid=$!
	wait_socket "$sock"
	# $pid is timeout(1); the daemon is its only child.
	dpid=$(cat "/proc/$pid/task/$pid/children")
	dpid=${dpid%% *}
	c0=$(cpu_ticks "$dpid")
	timeout --kill-after=5 $((runtime + 30)) "$vhctl" blk bench "$sock" "${WL[@]}" \
		--runtime "$runtime" --quiet >"$tmp/$key.out" 2>&1 ||
		{ echo "blk_backend_bench: vhctl failed on $key:" >&2; cat "$tmp/$key.out" "$tmp/daemon.log" >&2; exit 1; }
	c1=$(cpu_ticks "$dpid")
	stop_daemon
	# Columns: op requests IOPS MiB/s avg p50 p99 p99.9 max; the last read/write/total row.
	line=$(awk '$1 == "read" || $1 == "write" || $1 == "total" { l = $0 } END { print l }' "$tmp/$key.out")
	[ -n "$line" ] || { echo "blk_backend_bench: no result from vhctl ($key):" >&2; cat "$tmp/$key.out" >&2; exit 1; }
	local reqs iops mibs p50 p99 cpu
	read -r _ reqs iops mibs _ p50 p99 _ <<<"$line"
	cpu=$(awk -v t=$((c1 - c0)) -v hz="$hz" -v n="$reqs" 'BEGIN { printf "%.2f", (n > 0) ? t / hz / n * 1e6 : 0 }')
	echo "$iops $mibs $p50 $p99 $cpu" >>"$tmp/$key.res"
	printf '  run %s: %-5s %-13s %-6s %9s IOPS  %s CPU s/1M req\n' "$r" "$bk" "$wl" "$be" "$iops" "$cpu"
}

# median KEY COLUMN / spread KEY: of the repeats.
median()
{
	awk -v c="$2" '{ print $c }' "$tmp/$1.res" | sort -g | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
spread()
{
	awk '{ print $1 }' "$tmp/$1.res" | sort -g | awk -v m="$(median "$1" 1)" '{ v[NR] = $1 }
		END { printf "%.0f%%", (m > 0) ? (v[NR] - v[1]) * 100 / m : 0 }'
}

backends="qsd event"
[ "$poll_rows" = 0 ] || backends="qsd event poll"
echo "client: vhctl blk bench, 1 queue, --runtime $runtime; median of $repeat runs" \
	"(vh-blk ${vhblk_args:-defaults}; files $file_mib MiB)"
for r in $(seq "$repeat"); do
	for bk in $backings; do
		for wl in $workloads; do
			for be in $backends; do
				run "$bk" "$wl" "$be"
			done
		done
	done
done

name() { case "$1" in qsd) echo "qemu-storage-daemon event" ;; event) echo "vh-blk event" ;; poll) echo "vh-blk poll" ;; esac; }
printf '\n%-5s %-13s %-26s %9s %7s %9s %9s %9s %12s\n' backing workload backend IOPS spread MiB/s \
	'p50(us)' 'p99(us)' 'CPU s/1M req'
for bk in $backings; do
	for wl in $workloads; do
		for be in $backends; do
			k=$bk.$wl.$be
			printf '%-5s %-13s %-26s %9s %7s %9s %9s %9s %12s\n' "$bk" "$wl" "$(name "$be")" \
				"$(median "$k" 1)" "$(spread "$k")" "$(median "$k" 2)" "$(median "$k" 3)" \
				"$(median "$k" 4)" "$(median "$k" 5)"
		done
	done
done

# target NAME OK: print one verdict.
ok=1
target()
{
	if [ "$2" = 1 ]; then echo "target $1: met"; else echo "target $1: MISSED"; ok=0; fi
}
echo
for bk in $backings; do
	for wl in rand4k-qd32 rand4k-qd1; do
		case " $workloads " in *" $wl "*) ;; *) continue ;; esac
		q=$(median "$bk.$wl.qsd" 1) e=$(median "$bk.$wl.event" 1)
		qc=$(median "$bk.$wl.qsd" 5) ec=$(median "$bk.$wl.event" 5)
		want=2.5
		[ "$wl" = rand4k-qd32 ] || want=1
		ratio=$(awk -v a="$e" -v b="$q" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')
		target "$bk $wl: vh-blk event >= ${want}x qemu-storage-daemon IOPS (${ratio}x)" \
			"$(awk -v r="$ratio" -v w="$want" 'BEGIN { print (r >= w) ? 1 : 0 }')"
		target "$bk $wl: vh-blk event CPU per request < qemu-storage-daemon ($ec vs $qc s/1M)" \
			"$(awk -v a="$ec" -v b="$qc" 'BEGIN { print (a < b) ? 1 : 0 }')"
	done
done
[ "$check" = 0 ] || [ "$ok" = 1 ]
