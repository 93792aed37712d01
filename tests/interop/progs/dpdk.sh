# shellcheck shell=bash
# dpdk-testpmd helpers for tests/interop/test_dpdk_*.sh and bench/net_dpdk_bench.sh. Source after
# tests/interop/lib.sh and vh_init:
#
#   dpdk_init                                  # needs dpdk-testpmd and our programs; EAL dirs go at exit
#   dpdk_testpmd NAME SECS VDEV APP_ARGS...    # vh_spawn testpmd (--no-huge -m 256, own --file-prefix)
#   dpdk_testpmd_cmds NAME SECS CMDS VDEV...   # interactive testpmd fed by the function CMDS
#   dpdk_stop PID                              # SIGTERM: testpmd prints its forward statistics, exits
#   dpdk_fwd_stat LOG RX-packets|TX-packets    # from the final "Forward statistics for port 0"
#
# testpmd runs without -i: --auto-start, and --stats-period keeps it running (otherwise it waits
# for a key on stdin, which is /dev/null) until SIGTERM. DPDK_EAL_ARGS (array) adds EAL options,
# e.g. (-l 0,1 --main-lcore 0).

DPDK_PROGS=$LIBVHOST_BUILD/tests/interop/progs
DPDK_PREFIXES=()
DPDK_EAL_ARGS=()

# EAL runtime directory of a --file-prefix (rte_eal_get_runtime_dir(): /var/run/dpdk for root).
_dpdk_runtime_dir()
{
	if [ "$(id -u)" = 0 ]; then
		echo "/var/run/dpdk/$1"
	else
		echo "${XDG_RUNTIME_DIR:-/tmp}/dpdk/$1"
	fi
}

_dpdk_cleanup()
{
	local rc=$1 pid p
	# Stop testpmd first (it may still write its runtime files), then remove our prefixes only.
	for pid in "${VH_PIDS[@]}"; do
		vh_kill "$pid"
	done
	for p in "${DPDK_PREFIXES[@]}"; do
		rm -rf "$(_dpdk_runtime_dir "$p")"
	done
	_vh_cleanup "$rc"
}

dpdk_init()
{
	vh_need dpdk-testpmd stdbuf
	local p
	for p in dpdk_net_front dpdk_net_echo; do
		[ -x "$DPDK_PROGS/$p" ] || vh_fail "$DPDK_PROGS/$p not built (meson with -Dtests=true)"
	done
	trap '_dpdk_cleanup $?' EXIT
}

# dpdk_testpmd NAME SECS VDEV APP_ARGS...: testpmd with one --vdev, in the background (vh_spawn:
# bounded by SECS, killed at exit); VH_SPAWNED_PID is set, the log is $VH_TMP/NAME.log.
dpdk_testpmd()
{
	local name=$1 secs=$2 vdev=$3 prefix
	shift 3
	prefix=vh$$-$name
	DPDK_PREFIXES+=("$prefix")
	rm -rf "$(_dpdk_runtime_dir "$prefix")"
	# Line-buffered: the tests wait for lines of its log while it runs.
	vh_spawn "$name" "$secs" stdbuf -oL dpdk-testpmd --no-huge -m 256 --no-pci --file-prefix="$prefix" \
		"${DPDK_EAL_ARGS[@]}" --vdev "$vdev" -- --total-num-mbufs=8192 --auto-start "$@"
}

# dpdk_testpmd_cmds NAME SECS CMDS VDEV [APP_ARGS...]: testpmd -i in the background with its stdin
# fed by the shell function CMDS (which prints commands, sleeping between them, and should end
# with "quit"), e.g. to hot-plug a second port once the first one listens. VH_SPAWNED_PID is the
# testpmd side of the pipe (bounded by SECS); the log is $VH_TMP/NAME.log.
dpdk_testpmd_cmds()
{
	local name=$1 secs=$2 cmds=$3 vdev=$4 prefix
	shift 4
	prefix=vh$$-$name
	DPDK_PREFIXES+=("$prefix")
	rm -rf "$(_dpdk_runtime_dir "$prefix")"
	"$cmds" | timeout --kill-after=5 "$secs" stdbuf -oL dpdk-testpmd --no-huge -m 256 --no-pci \
		--file-prefix="$prefix" "${DPDK_EAL_ARGS[@]}" --vdev "$vdev" -- \
		--total-num-mbufs=8192 -i "$@" >"$VH_TMP/$name.log" 2>&1 &
	VH_SPAWNED_PID=$!
	VH_PIDS+=("$VH_SPAWNED_PID")
	vh_log "started $name (pid $VH_SPAWNED_PID): dpdk-testpmd -i --vdev $vdev $*"
}

# dpdk_stop PID: SIGTERM through the timeout wrapper; testpmd stops forwarding, prints the
# forward statistics and exits.
dpdk_stop()
{
	vh_kill "$1"
}

# dpdk_fwd_stat LOG FIELD: FIELD (RX-packets, TX-packets, RX-dropped, TX-dropped) of port 0 in
# the statistics testpmd printed when forwarding stopped.
dpdk_fwd_stat()
{
	local v
	v=$(awk -v f="$2:" '/Forward statistics for port 0/ { s = 1 }
		s { for (i = 1; i < NF; i++) if ($i == f) { print $(i + 1); exit } }' "$1")
	[ -n "$v" ] || vh_fail "no $2 in the forward statistics of $1"
	echo "$v"
}

