# shellcheck shell=bash
# Common helpers for tests/interop/test_*.sh (bash). Source it first:
#
#   . "$(dirname "$0")/lib.sh"
#   vh_init qsd-blk              # scratch dir $VH_TMP, cleanup trap (kills every spawned PID)
#   vh_need qemu-storage-daemon  # missing: FAIL (a skip only with LIBVHOST_ALLOW_SKIP=1)
#   vh_spawn qsd 120 qemu-storage-daemon ...   # background, bounded, PID remembered, log in $VH_TMP
#   vh_wait_socket "$VH_TMP/sock" 10 "$VH_SPAWNED_PID"
#   vh_wait_log "$VH_TMP/qsd.log" "listening" 10 "$VH_SPAWNED_PID"
#   vh_guest_build --script guest.sh --load "virtio_pci virtio_blk" --wait /dev/vda
#   vh_guest_run -- -chardev socket,id=c0,path=... -device vhost-user-blk-pci,chardev=c0
#
# Exit codes follow meson: 0 pass, 77 skip (printed with its reason), anything else fails.
# Environment: LIBVHOST_SRC, LIBVHOST_BUILD (set by meson), LIBVHOST_ALLOW_SKIP=1 (a missing peer
# skips instead of failing), LIBVHOST_KEEP_TMP=1 (keep $VH_TMP), LIBVHOST_GUEST_VERBOSE=1 (full
# guest console), LIBVHOST_KERNEL (see guest/kernel.sh).

VH_INTEROP=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VH_GUEST_DIR=$VH_INTEROP/guest
LIBVHOST_SRC=${LIBVHOST_SRC:-$(cd "$VH_INTEROP/../.." && pwd)}
LIBVHOST_BUILD=${LIBVHOST_BUILD:-$LIBVHOST_SRC/build}
# shellcheck source=guest/kernel.sh
. "$VH_GUEST_DIR/kernel.sh"

VH_PIDS=()
VH_NAME=interop
VH_TMP=
VH_SPAWNED_PID=
VH_EXIT_STATUS=

vh_log()
{
	echo "[$VH_NAME] $*"
}

# vh_fail MSG...: the test failed.
vh_fail()
{
	echo "[$VH_NAME] FAIL: $*" >&2
	exit 1
}

# vh_unavailable REASON: a peer this test needs cannot run here. Fails, unless the environment says
# skipping is acceptable (LIBVHOST_ALLOW_SKIP=1): in CI every interop test must really run.
vh_unavailable()
{
	if [ "${LIBVHOST_ALLOW_SKIP:-0}" = 1 ]; then
		echo "[$VH_NAME] SKIP: $*"
		exit 77
	fi
	vh_fail "$* (set LIBVHOST_ALLOW_SKIP=1 to skip instead)"
}

# vh_need PROG...: every PROG must be on PATH (or be an executable path).
vh_need()
{
	local p
	for p in "$@"; do
		command -v "$p" >/dev/null 2>&1 ||
			vh_unavailable "$p not found (scripts/install-deps.sh)"
	done
}

# vh_kill PID: SIGTERM, wait up to 5 s, then SIGKILL. Only ever a PID this test started.
vh_kill()
{
	local pid=$1 n=0
	# Every command may fail harmlessly here (the process is gone): keep `set -e` callers alive.
	if kill -TERM "$pid" 2>/dev/null; then
		while kill -0 "$pid" 2>/dev/null && [ "$n" -lt 50 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

# vh_kill_hard PID: SIGKILL the program a vh_spawn PID runs (a crash, for reconnect tests), then
# reap the timeout wrapper. `kill -KILL $VH_SPAWNED_PID` would kill only the wrapper and leave
# the program running, unbounded.
vh_kill_hard()
{
	local pid=$1 child
	for child in $(cat "/proc/$pid/task/$pid/children" 2>/dev/null); do
		kill -KILL "$child" 2>/dev/null || true
	done
	vh_kill "$pid"
}

_vh_cleanup()
{
	local rc=$1 pid f
	# Signal everything first, then reap: meson gives a timed-out test 0.5 s after SIGTERM.
	for pid in "${VH_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${VH_PIDS[@]}"; do
		vh_kill "$pid"
	done
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -n "$VH_TMP" ]; then
		for f in "$VH_TMP"/*.log; do
			[ -s "$f" ] || continue
			echo "---- $f ----"
			tail -n 50 "$f"
		done
	fi
	if [ -n "$VH_TMP" ] && [ "${LIBVHOST_KEEP_TMP:-0}" != 1 ]; then
		rm -rf "$VH_TMP"
	elif [ -n "$VH_TMP" ]; then
		echo "[$VH_NAME] kept $VH_TMP"
	fi
	exit "$rc"
}

# vh_init NAME: name the test, make the scratch dir $VH_TMP (short path: it holds unix sockets),
# install the cleanup trap.
vh_init()
{
	VH_NAME=$1
	VH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/vh-$VH_NAME.XXXXXX") || vh_fail "mktemp"
	trap '_vh_cleanup $?' EXIT
	# Under `set -e` say which command ended the test instead of exiting silently.
	set -E
	trap 'echo "[$VH_NAME] FAIL: ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND ($?)" >&2' ERR
	trap 'exit 143' TERM
	trap 'exit 130' INT
	vh_need timeout
}

# vh_spawn NAME SECS CMD...: run CMD in the background under `timeout --kill-after=5 SECS`, output
# to $VH_TMP/NAME.log. Sets VH_SPAWNED_PID (the timeout wrapper's PID: vh_kill stops the program
# through it, vh_kill_hard crashes it); the cleanup trap kills it. --foreground keeps CMD in
# the test's process group, so even a SIGKILLed test (meson's timeout) takes it along.
vh_spawn()
{
	local name=$1 secs=$2
	shift 2
	timeout --foreground --kill-after=5 "$secs" "$@" >"$VH_TMP/$name.log" 2>&1 </dev/null &
	VH_SPAWNED_PID=$!
	VH_PIDS+=("$VH_SPAWNED_PID")
	vh_log "started $name (pid $VH_SPAWNED_PID): $*"
}

# vh_wait_socket PATH SECS [PID]: wait until PATH is a unix socket; fail after SECS or as soon as
# PID (the daemon that should create it) has exited.
vh_wait_socket()
{
	local path=$1 tenths=$(($2 * 10)) pid=${3:-} n=0 st=0
	while [ ! -S "$path" ]; do
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" 2>/dev/null || st=$?
			vh_fail "process $pid exited ($st) before creating $path"
		fi
		[ "$n" -lt "$tenths" ] || vh_fail "$path did not appear within $2 s"
		sleep 0.1
		n=$((n + 1))
	done
}

# vh_wait_log LOG REGEX SECS [PID]: wait until LOG has a line matching the extended REGEX; fail
# after SECS, or as soon as PID (the program that should print it) has exited.
vh_wait_log()
{
	local log=$1 re=$2 steps=$(($3 * 20)) pid=${4:-} n=0
	until grep -qE -- "$re" "$log" 2>/dev/null; do
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			grep -qE -- "$re" "$log" 2>/dev/null && return 0
			vh_fail "process $pid exited before '$re' appeared in ${log##*/}"
		fi
		[ "$n" -lt "$steps" ] || vh_fail "'$re' did not appear in ${log##*/} within $3 s"
		sleep 0.05
		n=$((n + 1))
	done
}

# vh_wait_exit PID SECS: wait for a spawned process to exit by itself; its exit status goes to
# VH_EXIT_STATUS. Not through $( ): only the shell that spawned PID can wait for it (a subshell's
# `wait` says 127), and a vh_fail in a subshell would not stop the test.
# shellcheck disable=SC2034 # VH_EXIT_STATUS is for the caller
vh_wait_exit()
{
	local pid=$1 tenths=$(($2 * 10)) n=0
	while kill -0 "$pid" 2>/dev/null; do
		[ "$n" -lt "$tenths" ] || vh_fail "process $pid still running after $2 s"
		sleep 0.1
		n=$((n + 1))
	done
	VH_EXIT_STATUS=0
	wait "$pid" 2>/dev/null || VH_EXIT_STATUS=$?
}

# vh_make_image PATH MIB: a sparse raw image of MIB MiB, all zeros.
vh_make_image()
{
	rm -f "$1"
	truncate -s "$2M" "$1" || vh_fail "cannot create image $1"
}

# vh_pattern FILE SECTORS TAG: deterministic data, 512-byte sectors each naming its index and TAG,
# so a sector that lands at the wrong offset or comes from another writer is visible in a diff.
vh_pattern()
{
	awk -v n="$2" -v tag="$3" 'BEGIN {
		fill = "";
		for (i = 0; i < 16; i++)
			fill = fill "0123456789abcdefghijklmnopqrstuvwxyz" \
				"ABCDEFGHIJKLMNOPQRSTUVWXYZ-_";
		for (s = 0; s < n; s++) {
			h = sprintf("%s sector %08d ", tag, s);
			printf "%s%s\n", h, substr(fill, (s % 61) + 1, 511 - length(h));
		}
	}' >"$1" || vh_fail "cannot write pattern $1"
	[ "$(stat -c %s "$1")" -eq $(($2 * 512)) ] || vh_fail "pattern $1 has the wrong size"
}

# vh_cmp_region IMG OFFSET LEN FILE: bytes [OFFSET, OFFSET+LEN) of IMG equal FILE (FILE of
# /dev/zero: they are all zero).
vh_cmp_region()
{
	local img=$1 off=$2 len=$3 ref=$4
	if ! cmp -n "$len" <(dd if="$img" bs=1M iflag=skip_bytes,count_bytes skip="$off" \
		count="$len" status=none) "$ref"; then
		vh_fail "$img bytes [$off, +$len) differ from $ref"
	fi
}

# vh_static_cc OUT SRC... [CFLAGS...]: compile a static program to run in the guest (no libraries
# there unless copied with --bin).
vh_static_cc()
{
	local out=$1
	shift
	vh_need "${CC:-cc}"
	"${CC:-cc}" -static -O2 -std=gnu11 -Wall -Wextra -Werror -o "$out" "$@" ||
		vh_fail "cannot build $out (static libc: libc6-dev)"
}

# vh_guest_build [mkinitramfs.sh options]: build $VH_TMP/initrd.cpio (see guest/mkinitramfs.sh).
# The shared base image is cached in $LIBVHOST_BUILD/interop-cache.
vh_guest_build()
{
	vh_need cpio depmod modprobe busybox
	if [ -z "${VH_KERNEL_IMAGE:-}" ]; then
		vh_kernel_find || vh_unavailable "no guest kernel"
		export VH_KERNEL_IMAGE VH_KERNEL_VERSION VH_KERNEL_ROOT
	fi
	"$VH_GUEST_DIR/mkinitramfs.sh" --out "$VH_TMP/initrd.cpio" \
		--cache "$LIBVHOST_BUILD/interop-cache" "$@" || vh_fail "mkinitramfs failed"
}

# vh_guest_run [run-guest.sh options] [-- QEMU_ARGS...]: boot $VH_TMP/initrd.cpio; returns the
# guest's verdict (0 PASS, 1 FAIL, 2 no verdict). Console log: $VH_TMP/console.txt.
vh_guest_run()
{
	vh_need "${LIBVHOST_QEMU:-qemu-system-x86_64}"
	"$VH_GUEST_DIR/run-guest.sh" --initrd "$VH_TMP/initrd.cpio" --log "$VH_TMP/console.txt" "$@"
}
