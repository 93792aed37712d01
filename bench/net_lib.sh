# shellcheck shell=bash disable=SC2034 # VH_*, VU_*, FR_*, DPDK_EAL_ARGS are for the caller
# Helpers of the network benches (bench/net_bench, bench/net_dpdk_bench.sh). Source after
# tests/interop/lib.sh, tests/interop/progs/dpdk.sh, vh_init and dpdk_init; set SECS (samples per
# measurement) and SOCK (the vhost-user socket) first.
#
#   nb_measure LOG FIELD [MARKER]     "MEDIAN MAX" of testpmd's per-second FIELD samples
#   nb_mpps "PPS [PPS ...]"           each in millions, two decimals, "|"-separated
#   nb_vhost_side FWD SIZE            testpmd vhost PMD (server) on lcore 1: VH_PID, VH_LOG
#   nb_virtio_side FWD SIZE [ARGS]    testpmd virtio-user (client) on lcore 0: VU_PID, VU_LOG
#   nb_front CMD SIZE [ARGS]          tests/interop/progs/dpdk_net_front on CPU 0: FR_PID, FR_LOG
#   nb_front_rate KEY                 wait for dpdk_net_front, print its "KEY N" figure (not
#                                     in $(): waiting needs the parent shell)
#   nb_vhnet [ARGS]                   vh-net --loopback (server) on CPU 1: VH_PID, VH_LOG
#
# CPUs: the vhost side's forwarding lcore is CPU 1, the virtio side's (or vh_net) CPU 0.

NB_RUN=0

# nb_measure LOG FIELD [MARKER]: "MEDIAN MAX" of testpmd's per-second FIELD (Rx-pps / Tx-pps)
# samples printed after MARKER (default: the vhost PMD's "new device", the frontend connected),
# the first two dropped; SECS samples are used.
nb_measure()
{
	local log=$1 f=$2 m=${3:-new device} start n=0
	vh_wait_log "$log" "$m" 30
	start=$(grep -an "$m" "$log" | tail -n 1 | cut -d: -f1)
	until [ "$(tail -n +"$start" "$log" | grep -ac "$f:")" -ge $((SECS + 2)) ]; do
		[ "$n" -lt $(((SECS + 30) * 10)) ] || vh_fail "no statistics in $log"
		sleep 0.1
		n=$((n + 1))
	done
	tail -n +"$start" "$log" | grep -a "$f:" |
		awk -v f="$f:" '{ for (i = 1; i < NF; i++) if ($i == f) print $(i + 1) }' |
		sed -n "3,$((SECS + 2))p" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)], v[NR]; else print 0, 0 }'
}

nb_mpps()
{
	awk -v s="$1" 'BEGIN { n = split(s, v, " ")
		for (i = 1; i <= n; i++) printf "%s%.2f", (i > 1 ? "|" : ""), v[i] / 1e6 }'
}

nb_vhost_side()
{
	NB_RUN=$((NB_RUN + 1))
	rm -f "$SOCK"
	DPDK_EAL_ARGS=(-l "0,1" --main-lcore 0)
	dpdk_testpmd "vhost$NB_RUN" $((SECS + 60)) "net_vhost0,iface=$SOCK,queues=1" \
		--forward-mode="$1" --stats-period 1 --txpkts="$2"
	VH_PID=$VH_SPAWNED_PID
	VH_LOG=$VH_TMP/vhost$NB_RUN.log
	vh_wait_socket "$SOCK" 30 "$VH_PID"
}

nb_virtio_side()
{
	local fwd=$1 size=$2
	shift 2
	DPDK_EAL_ARGS=(-l "0,1" --main-lcore 1)
	dpdk_testpmd "virtio$NB_RUN" $((SECS + 60)) "net_virtio_user0,path=$SOCK,queues=1" \
		--forward-mode="$fwd" --stats-period 1 --txpkts="$size" "$@"
	VU_PID=$VH_SPAWNED_PID
	VU_LOG=$VH_TMP/virtio$NB_RUN.log
}

nb_front()
{
	local cmd=$1 size=$2
	shift 2
	vh_spawn "front$NB_RUN" $((SECS + 60)) taskset -c 0 "$DPDK_PROGS/dpdk_net_front" "$cmd" \
		"unix:$SOCK" --seconds $((SECS + 4)) --size "$size" --rx-buf 2048 "$@"
	FR_PID=$VH_SPAWNED_PID
	FR_LOG=$VH_TMP/front$NB_RUN.log
}

nb_front_rate()
{
	vh_wait_exit "$FR_PID" $((SECS + 30)) # not in $(): wait needs the parent
	[ "$VH_EXIT_STATUS" -eq 0 ] || vh_fail "dpdk_net_front exit $VH_EXIT_STATUS: $(cat "$FR_LOG")"
	# Its CPU time over the measured wall time (pingpong): below 1, it lost its CPU meanwhile.
	grep -a '^rx_frames .* cpu ' "$FR_LOG" | awk '$6 > 0 { printf "[vh_net] %s of %s s on its CPU\n", $6, $4 }' >&2 || true
	sed -n "s/^$1 //p" "$FR_LOG"
}

nb_vhnet()
{
	NB_RUN=$((NB_RUN + 1))
	rm -f "$SOCK"
	vh_spawn "vhnet$NB_RUN" $((SECS + 60)) taskset -c 1 "$LIBVHOST_BUILD/devices/vh-net/vh-net" \
		--socket-path "$SOCK" --loopback "$@"
	VH_PID=$VH_SPAWNED_PID
	VH_LOG=$VH_TMP/vhnet$NB_RUN.log
	vh_wait_socket "$SOCK" 30 "$VH_PID"
}
