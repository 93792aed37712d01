#!/usr/bin/env bash
# vh-blk dies (SIGKILL) while a Linux guest writes to its disk through QEMU's vhost-user-blk-pci;
# a new vh-blk takes over the socket, QEMU reconnects (-chardev ...,reconnect=1), re-sends memory,
# rings and the inflight region (INFLIGHT_SHMFD), the restarted back-end resubmits what was in
# flight, and the guest's O_DIRECT writes all complete. Checked: the guest reads back exactly the
# pattern it wrote, and so does the host in the image, with zeros around it.
#
# Kill storm: KILLS (default 10, `make soak` runs 100) SIGKILL + restart cycles, one per pass of
# the guest's writers, so every kill lands while O_DIRECT writes are in flight.
#   split    the system QEMU (7.2), 1 queue, split ring
#   qemu10   QEMU 10.0 from bookworm-backports (guest/qemu.sh), packed=on, num-queues=2, 2 vCPUs:
#            the guest checks the packed bit, 2 queues, and completions on both
# VARIANTS: split qemu10
set -euo pipefail
. "$(dirname "$0")/lib.sh"

mode=${1:-split}
queues=1 smp=1 packed=0 reconnect=reconnect=1
case "$mode" in
split) ;;
qemu10)
	. "$VH_GUEST_DIR/qemu.sh"
	vh_qemu_backports || vh_fail "no QEMU 10.0 from bookworm-backports"
	# QEMU 9.2 deprecated reconnect= (seconds) for reconnect-ms=.
	queues=2 smp=2 packed=1 reconnect=reconnect-ms=1000
	;;
*) echo "unknown variant $mode (split, qemu10)" >&2 && exit 1 ;;
esac
dev=vhost-user-blk-pci,chardev=blk0,num-queues=$queues
[ "$packed" = 1 ] && dev=$dev,packed=on
vh_init "vhblk-reconnect-$mode"
KILLS=${KILLS:-10}
[ "$KILLS" -ge 1 ] || vh_fail "KILLS must be at least 1"
PASSES=$((KILLS + 2))
GUEST_TIMEOUT=$((150 + KILLS * 10))
vhblk=$LIBVHOST_BUILD/devices/vh-blk/vh-blk
[ -x "$vhblk" ] || vh_fail "$vhblk not built"

DISK_MB=64
PATTERN_OFF=$((8 << 20))
PATTERN_SECTORS=16384 # 8 MiB, written VH_PASSES times in 4 KiB requests
sock=$VH_TMP/blk.sock
img=$VH_TMP/disk.img
pattern=$VH_TMP/pattern
vh_make_image "$img" "$DISK_MB"
vh_pattern "$pattern" "$PATTERN_SECTORS" "VH-RECONNECT"

cat >"$VH_TMP/guest.sh" <<'EOF'
#!/bin/sh
. /vh/lib.sh
queues=$(ls /sys/block/vda/mq | wc -l)
[ "$queues" = "$VH_EXPECT_QUEUES" ] || vh_die "vda has $queues queues, expected $VH_EXPECT_QUEUES"
packed=$(vh_feature_bit vda 34)
[ "$packed" = "$VH_EXPECT_PACKED" ] ||
	vh_die "VIRTIO_F_RING_PACKED is $packed, expected $VH_EXPECT_PACKED"
bs=65536
blocks=$(($(stat -c %s /vh/pattern) / bs))
seek0=$((VH_PATTERN_OFF / bs))
vh_log "VH-WRITING $blocks blocks, $VH_PASSES passes"
# Requests in flight when the back-end dies are resubmitted by its successor: dd sees no error.
# Several passes of small requests from 4 writers at once (each its own quarter) keep the guest
# writing for a few seconds with requests in flight.
q=$((blocks * 4))
pass=0
while [ $pass -lt "$VH_PASSES" ]; do
	pids=
	for i in 0 1 2 3; do
		dd if=/vh/pattern of=/dev/vda bs=4096 skip=$((i * q)) seek=$((seek0 * 16 + i * q)) \
			count=$q oflag=direct conv=notrunc,fsync status=none &
		pids="$pids $!"
	done
	for p in $pids; do
		wait "$p" || vh_die "writer $p failed in pass $((pass + 1))"
	done
	pass=$((pass + 1))
	vh_log "pass $pass written at $(cut -d' ' -f1 /proc/uptime)"
done
vh_log "VH-WRITTEN"
echo 3 >/proc/sys/vm/drop_caches
vh_run dd if=/dev/vda of=/tmp/readback bs=$bs skip=$seek0 count=$blocks iflag=direct status=none
cmp /vh/pattern /tmp/readback || vh_die "O_DIRECT read-back differs from what was written"
vh_log "read back $blocks x $bs bytes"
# Completions on every request queue (one MSI-X vector each, "virtioN-req.Q").
q=0
while [ $q -lt "$VH_EXPECT_QUEUES" ]; do
	irqs=$(awk -v name="-req.$q" -v n="$(nproc)" '
		$NF ~ name "$" { for (i = 2; i <= n + 1; i++) s += $i }
		END { print s + 0 }' /proc/interrupts)
	vh_log "queue $q: $irqs completion interrupts"
	[ "$irqs" -gt 0 ] || vh_die "queue $q carried no requests"
	q=$((q + 1))
done
exit 0
EOF
chmod +x "$VH_TMP/guest.sh"

# start_vhblk N: a back-end on $sock; sets BACKEND (the vh-blk PID itself, not its timeout wrapper).
start_vhblk()
{
	local n=0
	vh_spawn "vhblk$1" 200 "$vhblk" --socket-path "$sock" --blk-file "$img" --num-queues "$queues"
	while ! BACKEND=$(pgrep -P "$VH_SPAWNED_PID" -x vh-blk); do
		[ "$n" -lt 50 ] || vh_fail "vh-blk $1 did not start"
		sleep 0.1
		n=$((n + 1))
	done
	VH_PIDS+=("$BACKEND")
}

rm -f "$sock"
start_vhblk 1
vh_wait_socket "$sock" 20 "$BACKEND"
vh_guest_build --script "$VH_TMP/guest.sh" --load "virtio_pci virtio_blk" --wait /dev/vda \
	--file "$pattern:/vh/pattern" --env VH_PATTERN_OFF="$PATTERN_OFF" --env VH_PASSES="$PASSES" --env VH_EXPECT_QUEUES="$queues" \
	--env VH_EXPECT_PACKED="$packed" --guest-timeout "$GUEST_TIMEOUT"
vh_guest_run --smp "$smp" --timeout $((GUEST_TIMEOUT + 30)) -- \
	-chardev "socket,id=blk0,path=$sock,$reconnect" -device "$dev" &
guest=$!
VH_PIDS+=("$guest")

vh_wait_log "$VH_TMP/console.txt" VH-WRITING 60 "$guest"
# KILLS kills (during passes 2 to KILLS + 1): each restart resumes from a ring that was itself
# restored, and each kill has a fair chance of catching requests in flight.
gen=1
t0=$(date +%s)
for pass in $(seq 1 "$KILLS"); do
	vh_wait_log "$VH_TMP/console.txt" "pass $pass written" 60 "$guest"
	sleep 0.1 # the writers of the next pass are running
	grep -q VH-WRITTEN "$VH_TMP/console.txt" && vh_fail "the guest finished writing before kill $gen"
	kill -KILL "$BACKEND"
	vh_log "killed vh-blk $BACKEND (SIGKILL) during pass $((pass + 1))"
	# Until it is gone its listening socket still accepts: the successor would see it in use.
	n=0
	while kill -0 "$BACKEND" 2>/dev/null; do
		[ "$n" -lt 100 ] || vh_fail "vh-blk $BACKEND survived SIGKILL for 10 s"
		sleep 0.05
		n=$((n + 1))
	done
	gen=$((gen + 1))
	start_vhblk "$gen"
	vh_wait_socket "$sock" 20 "$BACKEND"
	# QEMU retries once a second (reconnect=1): the next kill only once it is back, so every
	# kill hits a back-end that the guest's writes are going through.
	vh_wait_log "$VH_TMP/vhblk$gen.log" "front-end connected" 30 "$BACKEND"
done
vh_log "$KILLS kills in $(($(date +%s) - t0)) s"
st=0
wait "$guest" || st=$?
[ "$st" -eq 0 ] || vh_fail "guest failed after the reconnect (run-guest status $st)"
for g in $(seq 2 $((KILLS + 1))); do
	grep -q "front-end connected" "$VH_TMP/vhblk$g.log" || vh_fail "QEMU never reconnected to vh-blk $g"
done
# Usually a kill catches requests in flight, which the successor takes from the inflight region.
resub=$(cat "$VH_TMP"/vhblk*.log | grep -c "resubmitting" || true)
vh_log "$resub of $KILLS restarts resubmitted requests that were in flight"
# Backend program conventions: SIGTERM is a clean exit (status 0) that removes the socket.
wrapper=$VH_SPAWNED_PID
kill -TERM "$BACKEND"
n=0
while kill -0 "$BACKEND" 2>/dev/null; do
	[ "$n" -lt 100 ] || vh_fail "vh-blk did not exit within 10 s of SIGTERM"
	sleep 0.1
	n=$((n + 1))
done
st=0
wait "$wrapper" 2>/dev/null || st=$?
[ "$st" -eq 0 ] || vh_fail "vh-blk exited with status $st on SIGTERM"
[ ! -e "$sock" ] || vh_fail "vh-blk left $sock behind"
if grep -E "Sanitizer|runtime error" "$VH_TMP"/vhblk*.log; then
	vh_fail "sanitizer report in the vh-blk log"
fi

vh_cmp_region "$img" "$PATTERN_OFF" $((PATTERN_SECTORS * 512)) "$pattern"
vh_cmp_region "$img" 0 "$PATTERN_OFF" /dev/zero
end=$((PATTERN_OFF + PATTERN_SECTORS * 512))
vh_cmp_region "$img" "$end" $((DISK_MB * 1048576 - end)) /dev/zero
vh_log "kill storm: $KILLS kills, image holds the pattern exactly (0 bytes wrong): PASS"
