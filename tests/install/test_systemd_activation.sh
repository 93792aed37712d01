#!/usr/bin/env bash
# systemd socket activation and readiness, the way vh-blk@.socket / vh-blk@.service run the
# daemons (ExecStart=vh-blk --fd 3 ..., Type=notify), without systemd as PID 1:
# systemd-socket-activate (package systemd) creates the listening socket, passes it as fd 3 with
# LISTEN_FDS / LISTEN_PID, and the test listens on NOTIFY_SOCKET like systemd's manager does.
# Checked: READY=1 arrives (after the socket serves), vhctl probe and a blk write/read round
# trip work on the activated socket, SIGTERM sends STOPPING=1 and exits 0. vh-blk gets `--fd 3`
# (the unit's form), vh-net nothing (LISTEN_FDS alone).
set -euo pipefail
. "$(dirname "$0")/../interop/lib.sh"
vh_init systemd-activation
vh_need systemd-socket-activate python3

VHCTL=$LIBVHOST_BUILD/tools/vhctl/vhctl

# notify_listen NAME: a datagram socket at $VH_TMP/NAME.notify; each message on a line of
# $VH_TMP/NAME-notify.log (what systemd's manager reads from NOTIFY_SOCKET).
notify_listen()
{
	vh_spawn "$1-notify" 60 python3 -u -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
	print(s.recv(4096).decode().replace("\n", " "))
' "$VH_TMP/$1.notify"
	vh_wait_socket "$VH_TMP/$1.notify" 10 "$VH_SPAWNED_PID"
}

# wait_notify NAME STATE SECS
wait_notify()
{
	local n=0
	until grep -qx "$2" "$VH_TMP/$1-notify.log" 2>/dev/null; do
		[ "$n" -lt $(($3 * 10)) ] || vh_fail "$1: no $2 on NOTIFY_SOCKET within $3 s"
		sleep 0.1
		n=$((n + 1))
	done
}

# activate NAME CMD...: the daemon under systemd-socket-activate on $VH_TMP/NAME.sock.
activate()
{
	local name=$1
	shift
	notify_listen "$name"
	vh_spawn "$name" 60 systemd-socket-activate -l "$VH_TMP/$name.sock" \
		-E NOTIFY_SOCKET="$VH_TMP/$name.notify" "$@"
	DAEMON=$VH_SPAWNED_PID
	vh_wait_socket "$VH_TMP/$name.sock" 10 "$DAEMON"
}

# stop NAME: SIGTERM is a clean exit (0) announced with STOPPING=1.
stop()
{
	local st=0
	kill -TERM "$DAEMON"
	wait "$DAEMON" || st=$?
	[ "$st" -eq 0 ] || vh_fail "$1 exited with $st after SIGTERM"
	wait_notify "$1" STOPPING=1 5
}

activate vhblk "$LIBVHOST_BUILD/devices/vh-blk/vh-blk" --fd 3 --blk-file memory:4M
timeout 20 "$VHCTL" probe "$VH_TMP/vhblk.sock" >"$VH_TMP/probe-blk.txt" ||
	vh_fail "vhctl probe on the activated vh-blk socket failed"
grep -qi 'blk\|block' "$VH_TMP/probe-blk.txt" || vh_fail "probe does not show a block device"
wait_notify vhblk READY=1 10
head -c 65536 /dev/urandom >"$VH_TMP/data"
timeout 20 "$VHCTL" blk write "$VH_TMP/vhblk.sock" --offset 8192 <"$VH_TMP/data" ||
	vh_fail "blk write through the activated socket"
timeout 20 "$VHCTL" blk read "$VH_TMP/vhblk.sock" --offset 8192 --length 65536 >"$VH_TMP/back" ||
	vh_fail "blk read through the activated socket"
cmp "$VH_TMP/data" "$VH_TMP/back" || vh_fail "read back differs from what was written"
grep -q 'LISTEN\|fd 3' "$VH_TMP/vhblk.log" || vh_fail "vh-blk did not log serving on fd 3"
stop vhblk
vh_log "vh-blk: READY=1, probe, 64 KiB round trip, STOPPING=1 on socket activation"

activate vhnet "$LIBVHOST_BUILD/devices/vh-net/vh-net" --loopback
timeout 20 "$VHCTL" probe "$VH_TMP/vhnet.sock" >"$VH_TMP/probe-net.txt" ||
	vh_fail "vhctl probe on the activated vh-net socket failed"
grep -qi 'net' "$VH_TMP/probe-net.txt" || vh_fail "probe does not show a net device"
wait_notify vhnet READY=1 10
stop vhnet
vh_log "vh-net: READY=1, probe, STOPPING=1 with LISTEN_FDS alone (no --fd)"
vh_log "PASS"
