#!/usr/bin/env bash
# Live migration of a QEMU 10.0 guest on vh-blk: a source QEMU on one vh-blk process and a
# destination QEMU (-incoming unix:...) on another, both serving the same image file, while the
# guest (guest-migrate.sh) writes and reads back two alternating patterns with O_DIRECT. QMP
# (qmp.py) runs `migrate` and polls query-migrate until completed; the host then writes a marker
# into the image that the guest, now on the destination, reads through the destination's vh-blk,
# and the guest does more passes there. Checked: every pass on both sides reads back what it wrote
# (verdict on the destination's console), passes ran on the destination after the switch, QEMU
# used the dirty log on the source vh-blk (SET_LOG_BASE with LOG_SHMFD, VHOST_F_LOG_ALL on and the
# rings' LOG flag), the destination vh-blk served the rest, and the host image holds exactly the
# last pattern, the marker and zeros elsewhere.
#   plain    as above
#   restart  the destination's vh-blk is SIGKILLed while the RAM copy runs and a new one started
#            on its socket; the destination QEMU reconnects (chardev reconnect-ms) and the
#            migration completes on the new back-end (copy capped at 32 MiB/s so the kill
#            lands in the middle of it)
#   restart-src  the same with the source's vh-blk: QEMU reconnects the running device, and must
#            hand the new back-end the dirty log (SET_LOG_BASE) before the copy completes
#   postcopy postcopy-ram on both QEMUs, migrate-start-postcopy once the RAM copy runs: the guest
#            runs on the destination before its RAM has arrived; the destination vh-blk gets
#            POSTCOPY_ADVISE / LISTEN / END and its accesses to missing pages are faults that
#            QEMU resolves through vh-blk's userfaultfd (PAGEFAULT)
# VARIANTS: plain restart restart-src postcopy
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$VH_GUEST_DIR/qemu.sh"

mode=${1:-plain}
case "$mode" in
plain | restart | restart-src | postcopy) ;;
*) echo "unknown variant $mode (plain, restart, restart-src, postcopy)" >&2 && exit 1 ;;
esac
vh_init "qemu10-migrate-$mode"
vh_need python3
vh_qemu_backports || vh_fail "no QEMU 10.0 from bookworm-backports"
vhblk=$LIBVHOST_BUILD/devices/vh-blk/vh-blk
[ -x "$vhblk" ] || vh_fail "$vhblk not built"

DISK_MB=64
PATTERN_OFF=$((8 << 20))
PATTERN_SECTORS=4096 # 2 MiB per pass, in 4 KiB requests from 2 writers
CTL_OFF=$((60 << 20))
img=$VH_TMP/disk.img
vh_make_image "$img" "$DISK_MB"
vh_pattern "$VH_TMP/pa" "$PATTERN_SECTORS" "VH-MIGRATE-A"
vh_pattern "$VH_TMP/pb" "$PATTERN_SECTORS" "VH-MIGRATE-B"

# start_vhblk NAME [LOG]: vh-blk on $VH_TMP/NAME.sock over the image, log in
# $VH_TMP/vhblk-LOG.log (default NAME); --verbose names every request.
start_vhblk()
{
	rm -f "$VH_TMP/$1.sock"
	vh_spawn "vhblk-${2:-$1}" 150 "$vhblk" --socket-path "$VH_TMP/$1.sock" --blk-file "$img" \
		--verbose
	vh_wait_socket "$VH_TMP/$1.sock" 20 "$VH_SPAWNED_PID"
}

# run_qemu NAME QEMU_ARGS...: the guest under QEMU 10.0 (run-guest.sh, same nonce on both sides),
# console in $VH_TMP/NAME.txt, QMP on $VH_TMP/NAME.qmp; sets QEMU_PID (run-guest.sh's PID).
run_qemu()
{
	local name=$1
	shift
	"$VH_GUEST_DIR/run-guest.sh" --initrd "$VH_TMP/initrd.cpio" --log "$VH_TMP/$name.txt" \
		--nonce "$nonce" --mem 256 --timeout 110 -- \
		-qmp "unix:$VH_TMP/$name.qmp,server=on,wait=off" \
		-chardev "socket,id=blk0,path=$VH_TMP/$name.sock$reconnect" \
		-device vhost-user-blk-pci,chardev=blk0,num-queues=1 "$@" \
		>"$VH_TMP/run-$name.log" 2>&1 &
	QEMU_PID=$!
	VH_PIDS+=("$QEMU_PID")
}

start_vhblk src
src_backend=$VH_SPAWNED_PID
start_vhblk dst
dst_backend=$VH_SPAWNED_PID
vh_guest_build --script "$VH_INTEROP/guest-migrate.sh" --load "virtio_pci virtio_blk" \
	--wait /dev/vda --file "$VH_TMP/pa:/vh/pa" --file "$VH_TMP/pb:/vh/pb" \
	--env VH_PATTERN_OFF="$PATTERN_OFF" --env VH_CTL_OFF="$CTL_OFF" --env VH_AFTER=3 \
	--env VH_MAX_PASSES=200 --guest-timeout 100
nonce=$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')

reconnect=
[ "$mode" = restart-src ] && reconnect=,reconnect-ms=500
# postcopy: a second monitor, as the migrate poller (qmp.py) holds the first one.
src_extra=()
[ "$mode" = postcopy ] && src_extra=(-qmp "unix:$VH_TMP/src2.qmp,server=on,wait=off")
run_qemu src "${src_extra[@]}"
src=$QEMU_PID
vh_wait_log "$VH_TMP/src.txt" "VH-PASS 2 " 60 "$src"
vh_log "guest on QEMU $VH_QEMU_VERSION is writing: $(grep -c VH-PASS "$VH_TMP/src.txt") passes so far"
reconnect=
[ "$mode" = restart ] && reconnect=,reconnect-ms=500
run_qemu dst -incoming "unix:$VH_TMP/mig.sock"
dst=$QEMU_PID
vh_wait_socket "$VH_TMP/dst.qmp" 20 "$dst"
vh_wait_socket "$VH_TMP/src.qmp" 5 "$src"
# The destination listens once its devices are up (it has connected to vh-blk dst by then).
vh_wait_socket "$VH_TMP/mig.sock" 20 "$dst"
# A loaded 2-core host runs the TCG guest slowly: no bandwidth cap (default 128 MiB/s) and 1 s of
# downtime allowed, so the copy converges however busy the machine is.
bw=4294967296
[ "$mode" = plain ] || bw=$((32 << 20))
# postcopy: most of a fresh guest's RAM is zero pages that cost nothing; at 1 MiB/s (and so a
# 1 MiB switch-over threshold) the precopy phase cannot finish before migrate-start-postcopy.
# The postcopy phase has no cap (max-postcopy-bandwidth 0).
[ "$mode" = postcopy ] && bw=$((1 << 20))
timeout 10 python3 "$VH_INTEROP/qmp.py" "$VH_TMP/src.qmp" migrate-set-parameters \
	"{\"max-bandwidth\": $bw, \"downtime-limit\": 1000}" >/dev/null ||
	vh_fail "migrate-set-parameters failed"
if [ "$mode" = postcopy ]; then
	for side in src dst; do
		timeout 10 python3 "$VH_INTEROP/qmp.py" "$VH_TMP/$side.qmp" migrate-set-capabilities \
			'{"capabilities": [{"capability": "postcopy-ram", "state": true}]}' >/dev/null ||
			vh_fail "postcopy-ram refused by the $side QEMU"
	done
fi
timeout 70 python3 "$VH_INTEROP/qmp.py" "$VH_TMP/src.qmp" migrate "unix:$VH_TMP/mig.sock" 60 \
	>"$VH_TMP/migrate.out" 2>&1 &
mig=$!
VH_PIDS+=("$mig")
# postcopy: switch while the RAM copy runs (copy capped, so most of RAM is still to come).
start_postcopy()
{
	vh_wait_log "$VH_TMP/migrate.out" "active" 20 "$mig"
	grep -q "completed" "$VH_TMP/migrate.out" && vh_fail "migration completed before postcopy"
	local st=0
	timeout 30 python3 "$VH_INTEROP/qmp.py" "$VH_TMP/src2.qmp" migrate-start-postcopy \
		>"$VH_TMP/postcopy.out" 2>&1 || st=$?
	if [ "$st" -ne 0 ]; then
		cat "$VH_TMP/postcopy.out" "$VH_TMP/migrate.out" "$VH_TMP"/run-*.log >&2
		vh_fail "migrate-start-postcopy failed (status $st)"
	fi
	vh_wait_log "$VH_TMP/migrate.out" "postcopy-active" 20 "$mig" || cat "$VH_TMP/migrate.out"
	vh_log "switched to postcopy during the RAM copy"
}
# restart_backend SIDE WRAPPER QEMU_PID: SIGKILL that side's vh-blk during the RAM copy, start
# its successor (log vhblk-SIDE2.log), wait until QEMU has reconnected to it.
restart_backend()
{
	vh_wait_log "$VH_TMP/migrate.out" "active" 20 "$mig"
	grep -q "completed" "$VH_TMP/migrate.out" && vh_fail "migration completed before the kill"
	vh_kill_hard "$2" 2>/dev/null
	vh_log "killed the $1 vh-blk (SIGKILL) during the RAM copy"
	start_vhblk "$1" "${1}2"
	vh_wait_log "$VH_TMP/vhblk-${1}2.log" "front-end connected" 20 "$3"
	grep -q "completed" "$VH_TMP/migrate.out" &&
		vh_fail "migration completed before QEMU reconnected to the $1 vh-blk"
	vh_log "the $1 QEMU reconnected to the new vh-blk"
}
case "$mode" in
restart) restart_backend dst "$dst_backend" "$dst" ;;
restart-src) restart_backend src "$src_backend" "$src" ;;
postcopy) start_postcopy ;;
esac
wait "$mig" || true
cat "$VH_TMP/migrate.out"
grep -q "completed" "$VH_TMP/migrate.out" || vh_fail "migration did not complete"
src_passes=$(grep -c "VH-PASS" "$VH_TMP/src.txt" || true)
vh_log "migrated after $src_passes passes on the source"
printf 'VH-MIGRATED\n' | dd of="$img" bs=512 seek=$((CTL_OFF / 512)) conv=notrunc,sync status=none
timeout 10 python3 "$VH_INTEROP/qmp.py" "$VH_TMP/src.qmp" quit >/dev/null ||
	vh_log "source QEMU did not take quit"
wait "$src" 2>/dev/null || true

st=0
wait "$dst" || st=$?
cat "$VH_TMP/run-dst.log"
[ "$st" -eq 0 ] || vh_fail "guest failed on the destination (run-guest status $st)"
grep "guest: VH-" "$VH_TMP/dst.txt" | tr -d '\r'
dst_passes=$(grep -c "VH-PASS" "$VH_TMP/dst.txt" || true)
[ "$dst_passes" -ge 4 ] || vh_fail "only $dst_passes passes ran on the destination"
grep -q "VH-MARKER" "$VH_TMP/dst.txt" || vh_fail "the destination never read the marker"

# The dirty log: QEMU gave the source vh-blk a log (SET_LOG_BASE needs LOG_SHMFD) and turned
# VHOST_F_LOG_ALL on; the destination got none and served the guest after the switch.
# After a restart of the source's vh-blk its successor must have been given the log.
logged="vhblk-src"
[ "$mode" = restart-src ] && logged="vhblk-src2"
grep -q "SET_LOG_BASE" "$VH_TMP/$logged.log" || vh_fail "$logged never got SET_LOG_BASE"
n=$(cat "$VH_TMP"/vhblk-src*.log | grep -c "SET_FEATURES" || true)
[ "$n" -ge 2 ] || vh_fail "source vh-blk got SET_FEATURES $n times (LOG_ALL never toggled)"
served="vhblk-dst"
[ "$mode" = restart ] && served="vhblk-dst2"
if grep -q "SET_LOG_BASE" "$VH_TMP"/vhblk-dst*.log; then
	vh_fail "destination vh-blk got a dirty log"
fi
grep -q "SET_VRING_KICK" "$VH_TMP/$served.log" || vh_fail "QEMU never started the rings on $served"
if [ "$mode" = postcopy ]; then
	for r in POSTCOPY_ADVISE POSTCOPY_LISTEN POSTCOPY_END; do
		grep -q "VHOST_USER_$r" "$VH_TMP/vhblk-dst.log" || vh_fail "the destination vh-blk never got $r"
	done
	grep -q "postcopy table acked" "$VH_TMP/vhblk-dst.log" ||
		vh_fail "QEMU never acked the destination vh-blk's postcopy table"
	vh_log "destination vh-blk: POSTCOPY_ADVISE, LISTEN, table answered and acked, END"
fi
vh_log "$logged: $(grep -c SET_LOG_BASE "$VH_TMP/$logged.log") SET_LOG_BASE; source side: $n SET_FEATURES"

last=$(tr -d '\r' <"$VH_TMP/dst.txt" | sed -n 's/^guest: VH-DONE [0-9]* \(p[ab]\)$/\1/p')
[ -n "$last" ] || vh_fail "no VH-DONE line on the destination console"
vh_cmp_region "$img" "$PATTERN_OFF" $((PATTERN_SECTORS * 512)) "$VH_TMP/$last"
vh_cmp_region "$img" 0 "$PATTERN_OFF" /dev/zero
end=$((PATTERN_OFF + PATTERN_SECTORS * 512))
vh_cmp_region "$img" "$end" $((CTL_OFF - end)) /dev/zero
[ "$(dd if="$img" bs=512 skip=$((CTL_OFF / 512)) count=1 status=none | head -c 11)" = \
	VH-MIGRATED ] || vh_fail "the control sector lost its marker"
vh_cmp_region "$img" $((CTL_OFF + 512)) $((DISK_MB * 1048576 - CTL_OFF - 512)) /dev/zero
for b in src src2 dst dst2; do
	[ -e "$VH_TMP/vhblk-$b.log" ] || continue
	if grep -E "Sanitizer|runtime error" "$VH_TMP/vhblk-$b.log"; then
		vh_fail "sanitizer report in the vh-blk $b log"
	fi
done
vh_log "image holds pattern $last, the marker and zeros: PASS"
