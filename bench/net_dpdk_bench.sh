#!/usr/bin/env bash
# 64-byte packets through vhost-user between two processes, side by side:
#   (a) DPDK only: dpdk-testpmd with virtio-user <-> dpdk-testpmd with the vhost PMD
#   (b) libvhost's vh_net driver (tests/interop/progs/dpdk_net_front) <-> dpdk-testpmd vhost PMD
#   (c) libvhost's ring in one process: bench/ring_bench, two threads, batch 32 (split, packed)
#   (d) round trips: testpmd virtio-user (macswap, 32 frames sent first) ping-pongs with testpmd's
#       vhost PMD (macswap), then with tests/interop/progs/dpdk_net_echo (libvhost's vh_server)
# Each of (a) and (b) is measured in both directions (virtio TX -> vhost RX and vhost TX -> virtio
# RX), with mergeable receive buffers (both drivers' default) and split rings. The rate is the
# receiving side's (testpmd's per-second Rx-pps/Tx-pps samples, the first two dropped, median;
# vh_net's own count where it is the receiver).
#
# Usage: bench/net_dpdk_bench.sh [-t SECONDS] [BUILD_DIR]   (default 10 s per setup, build/)
# CPUs: the vhost side's forwarding lcore is CPU 1, the virtio side's (or vh_net) CPU 0. The
# machine's other load is not controlled (the header prints the load average): run it on a quiet
# machine, or e.g. `nice -n -10 bench/net_dpdk_bench.sh` (every process inherits the priority).
set -euo pipefail

SECS=10
RING_SECS=2
if [ "${1:-}" = -t ]; then
	SECS=$2
	shift 2
fi
SRC=$(cd "$(dirname "$0")/.." && pwd)
LIBVHOST_BUILD=$(cd "${1:-$SRC/build}" && pwd)
export LIBVHOST_BUILD LIBVHOST_SRC=$SRC
. "$SRC/tests/interop/lib.sh"
. "$SRC/tests/interop/progs/dpdk.sh"
vh_init net-dpdk-bench
dpdk_init
vh_need taskset
RING_BENCH=$LIBVHOST_BUILD/bench/ring_bench
[ -x "$RING_BENCH" ] || vh_fail "$RING_BENCH not built"

SOCK=$VH_TMP/vhost.sock
ROWS=()

# measure, mpps, vhost_side FWD, virtio_side FWD [ARGS], front CMD: bench/net_lib.sh with 64 B.
. "$SRC/bench/net_lib.sh"
measure() { nb_measure "$@"; }
mpps() { nb_mpps "$@"; }
vhost_side() { nb_vhost_side "$1" 64; }
virtio_side()
{
	local fwd=$1
	shift
	nb_virtio_side "$fwd" 64 "$@"
}
front() { nb_front "$1" 64; }

bench_dpdk()
{
	local rate
	vhost_side rxonly
	virtio_side txonly
	rate=$(measure "$VH_LOG" Rx-pps)
	ROWS+=("(a) testpmd virtio-user txonly -> testpmd vhost rxonly|$(mpps "$rate")|")
	dpdk_stop "$VU_PID"
	dpdk_stop "$VH_PID"

	vhost_side txonly
	virtio_side rxonly
	rate=$(measure "$VH_LOG" Tx-pps)
	ROWS+=("(a) testpmd vhost txonly -> testpmd virtio-user rxonly|$(mpps "$rate")|")
	dpdk_stop "$VU_PID"
	dpdk_stop "$VH_PID"
}

bench_vh_net()
{
	local rate own
	vhost_side rxonly
	front flood
	rate=$(measure "$VH_LOG" Rx-pps)
	nb_front_rate tx_pps >"$VH_TMP/own" # not in $(): wait needs the parent
	own=$(cat "$VH_TMP/own")
	ROWS+=("(b) libvhost vh_net TX -> testpmd vhost rxonly|$(mpps "$rate")|vh_net's own average: $(mpps "$own")")
	dpdk_stop "$VH_PID"

	vhost_side txonly
	front sink
	rate=$(measure "$VH_LOG" Tx-pps)
	nb_front_rate rx_pps >"$VH_TMP/own" # not in $(): wait needs the parent
	own=$(cat "$VH_TMP/own")
	ROWS+=("(b) testpmd vhost txonly -> libvhost vh_net RX|$(mpps "$rate")|vh_net's own average: $(mpps "$own")")
	dpdk_stop "$VH_PID"
}

# 32 frames ping-pong (--tx-first, macswap at both ends): round trips through both rings.
bench_pingpong()
{
	local rate
	vhost_side macswap
	virtio_side macswap --tx-first
	rate=$(measure "$VU_LOG" Rx-pps "forwards packets on")
	ROWS+=("(d) testpmd virtio-user <-> testpmd vhost, 32 frames ping-pong|$(mpps "$rate")|macswap both ends")
	dpdk_stop "$VU_PID"
	dpdk_stop "$VH_PID"

	echo_pingpong event
	echo_pingpong poll
}

# echo_pingpong event|poll: the ping-pong against libvhost's echo device (CPU 1).
echo_pingpong()
{
	local rate args=()
	[ "$1" = poll ] && args=(--poll)
	NB_RUN=$((NB_RUN + 1))
	rm -f "$SOCK"
	vh_spawn "echo$NB_RUN" $((SECS + 60)) taskset -c 1 "$DPDK_PROGS/dpdk_net_echo" "$SOCK" \
		--seconds $((SECS + 40)) "${args[@]}"
	VH_PID=$VH_SPAWNED_PID
	vh_wait_socket "$SOCK" 30 "$VH_PID"
	virtio_side macswap --tx-first
	rate=$(measure "$VU_LOG" Rx-pps "forwards packets on")
	ROWS+=("(d) testpmd virtio-user <-> libvhost vh_server echo ($1), ping-pong|$(mpps "$rate")|$1 datapath")
	dpdk_stop "$VU_PID"
	vh_kill "$VH_PID"
}

bench_ring()
{
	local out=$VH_TMP/ring.txt l
	timeout --kill-after=5 $((RING_SECS * 10 + 60)) "$RING_BENCH" -t "$RING_SECS" >"$out" 2>&1 ||
		vh_fail "ring_bench failed"
	for l in split packed; do
		ROWS+=("(c) libvhost ring, in-process, 2 threads, batch 32, $l|$(awk -v l="$l" \
			'$1 == l && $2 == 32 && $3 == 2 { print $4 }' "$out")|-|M req/s (round trips), ring_bench -t $RING_SECS")
	done
}

bench_dpdk
bench_vh_net
bench_ring
bench_pingpong

echo
echo "64-byte packets, $SECS s per setup, $(nproc) CPUs, DPDK $(dpkg-query -W -f '${Version}' dpdk-dev 2>/dev/null || echo '?'), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
printf '%-70s %7s %7s  %s\n' setup Mpps "best 1s" note
for r in "${ROWS[@]}"; do
	IFS='|' read -r s m b n <<<"$r"
	printf '%-70s %7s %7s  %s\n' "$s" "$m" "$b" "$n"
done
