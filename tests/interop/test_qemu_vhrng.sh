#!/usr/bin/env bash
# QEMU's vhost-user-rng-pci against the example device examples/vh-rng (built on
# include/vhost/program.h): a Linux guest uses it as its hardware RNG and reads /dev/hwrng.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
vh_init qemu-vhrng

bin=$LIBVHOST_BUILD/examples/vh-rng/vh-rng
[ -x "$bin" ] || vh_fail "$bin not built"
sock=$VH_TMP/rng.sock
vh_spawn vh-rng 200 "$bin" --socket-path "$sock"
rng=$VH_SPAWNED_PID
vh_wait_socket "$sock" 20 "$rng"
vh_guest_build --script "$VH_INTEROP/guest-rng.sh" --load "virtio_pci virtio_rng" \
	--wait /dev/hwrng --guest-timeout 60
st=0
vh_guest_run --timeout 120 -- -chardev "socket,id=rng0,path=$sock" \
	-device vhost-user-rng-pci,chardev=rng0 || st=$?
[ "$st" -eq 0 ] || vh_fail "guest failed (run-guest status $st)"
kill -0 "$rng" 2>/dev/null || vh_fail "vh-rng exited during the test"
vh_kill "$rng"
grep -q 'requests, .* bytes' "$VH_TMP/vh-rng.log" || vh_fail "vh-rng did not log its counters"
vh_log "$(grep 'requests' "$VH_TMP/vh-rng.log")"
vh_log "PASS"
