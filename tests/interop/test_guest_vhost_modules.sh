#!/usr/bin/env bash
# The guest kernel's vhost side is usable: vhost_net, vhost_vsock and tun load (dependencies from
# the image's modules.dep), /dev/vhost-net, /dev/vhost-vsock and /dev/net/tun appear, and a static
# program built here (guest/vhost_probe.c) takes ownership of the vhost devices, reads their
# features and creates a vnet-header tap. This is the pattern for the kernel-transport tests: build
# a static binary on the host and run it as the guest script.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

vh_init guest-vhost-modules
vh_static_cc "$VH_TMP/vhost_probe" "$VH_GUEST_DIR/vhost_probe.c"
vh_guest_build --script "$VH_TMP/vhost_probe" --load "vhost_net vhost_vsock tun" \
	--wait /dev/vhost-net --wait /dev/vhost-vsock --wait /dev/net/tun --guest-timeout 30
vh_guest_run --timeout 90 || vh_fail "guest failed (run-guest status $?)"
for dev in /dev/vhost-net /dev/vhost-vsock; do
	grep -q "^vhost_probe: $dev: features 0x" "$VH_TMP/console.txt" ||
		vh_fail "no feature line for $dev on the guest console"
done
grep -q '^vhost_probe: /dev/net/tun: created vhtap0' "$VH_TMP/console.txt" ||
	vh_fail "no tap created on the guest console"
vh_log PASS
