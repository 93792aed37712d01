#!/usr/bin/env bash
# The harness must be able to fail: a guest script's non-zero exit, a forged result line, a guest
# that hangs (guest-side timeout) and a guest that never answers (host-side timeout) each give the
# right verdict, and a module the kernel does not have stops the image build. Also covers what
# the other tests only use implicitly: --file, --env, --args and modprobe inside the guest.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

vh_init harness-selftest

# 0. The host-side waits: vh_wait_log sees the line, fails when its program ends without it;
#    vh_wait_exit hands back the program's own exit status.
vh_spawn printer 20 sh -c 'sleep 0.3; echo "ready: 1"; sleep 0.3; exit 7'
vh_wait_log "$VH_TMP/printer.log" "^ready: [0-9]" 5 "$VH_SPAWNED_PID"
vh_wait_exit "$VH_SPAWNED_PID" 5
[ "$VH_EXIT_STATUS" -eq 7 ] || vh_fail "vh_wait_exit gave status $VH_EXIT_STATUS, expected 7"
(vh_wait_log "$VH_TMP/printer.log" "never printed" 5 "$VH_SPAWNED_PID") 2>"$VH_TMP/wait.err" &&
	vh_fail "vh_wait_log did not fail for a line its ended program never printed"
grep -q "exited before 'never printed' appeared" "$VH_TMP/wait.err" ||
	vh_fail "vh_wait_log did not say why it failed"
vh_log "vh_wait_log and vh_wait_exit: as expected"

# 1. Unknown module: the build fails, nothing boots.
if "$VH_GUEST_DIR/mkinitramfs.sh" --out "$VH_TMP/bad.cpio" --load no_such_module_vh \
	--cache "$LIBVHOST_BUILD/interop-cache" 2>"$VH_TMP/bad.err"; then
	vh_fail "mkinitramfs accepted an unknown module"
fi
grep -q no_such_module_vh "$VH_TMP/bad.err" || vh_fail "mkinitramfs did not name the bad module"

# 2. Exit 3 after forging result lines: FAIL 3, and only the line with the nonce counts.
echo "payload-$$" >"$VH_TMP/payload"
cat >"$VH_TMP/exit3.sh" <<'GUEST'
#!/bin/sh
. /vh/lib.sh
[ "$(cat /etc/payload)" = "$VH_PAYLOAD" ] || { echo "bad --file/--env"; exit 4; }
[ "$*" = "a b" ] || { echo "bad --args: $*"; exit 4; }
modprobe vhost_vsock || { echo "guest modprobe failed"; exit 4; }
[ -c /dev/vhost-vsock ] || { echo "no /dev/vhost-vsock"; exit 4; }
echo "VH-GUEST-RESULT: PASS 0 nonce=forged"
echo "VH-GUEST-RESULT: PASS 0"
exit 3
GUEST
vh_guest_build --script "$VH_TMP/exit3.sh" --args "a b" --file "$VH_TMP/payload:/etc/payload" \
	--env "VH_PAYLOAD=payload-$$" --guest-timeout 30
st=0
vh_guest_run --timeout 60 >"$VH_TMP/run2.out" || st=$?
[ "$st" -eq 1 ] || vh_fail "exit 3 gave run-guest status $st, expected 1"
grep -q '^VH-GUEST-RESULT: FAIL 3 nonce=' "$VH_TMP/console.txt" || vh_fail "no FAIL 3 verdict"
vh_log "guest exit 3 and forged markers: FAIL as expected"

# 3. A hanging script is killed by the guest-side timeout: FAIL.
printf '#!/bin/sh\nsleep 600\n' >"$VH_TMP/hang.sh"
vh_guest_build --script "$VH_TMP/hang.sh" --guest-timeout 2
st=0
vh_guest_run --timeout 60 >"$VH_TMP/run3.out" || st=$?
[ "$st" -eq 1 ] || vh_fail "guest-side timeout gave run-guest status $st, expected 1"
grep -q 'guest script timed out' "$VH_TMP/console.txt" || vh_fail "no guest timeout message"
vh_log "guest-side timeout: FAIL as expected"

# 4. No verdict before the host-side timeout: status 2, and run-guest returns promptly.
vh_guest_build --script "$VH_TMP/hang.sh" --guest-timeout 600
st=0
t0=$SECONDS
vh_guest_run --timeout 3 >"$VH_TMP/run4.out" || st=$?
[ "$st" -eq 2 ] || vh_fail "host-side timeout gave run-guest status $st, expected 2"
[ $((SECONDS - t0)) -lt 15 ] || vh_fail "run-guest took $((SECONDS - t0)) s to give up"
vh_log "host-side timeout: no verdict as expected"
vh_log PASS
