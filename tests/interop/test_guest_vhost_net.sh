#!/usr/bin/env bash
# libvhost's userspace virtio-net driver (vh_net) against the Linux kernel's vhost-net, inside the
# guest: a tap is vhost-net's backend, a packet socket on the tap is the other end of the wire.
# Frames go both ways byte for byte (mergeable and single receive buffers), the busyloop timeout
# reads back, and the dirty log holds every page the kernel wrote (guest-progs/vhost_net_guest.c).
# VARIANTS: system backports
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# shellcheck source=guest-progs/build.sh
. "$VH_INTEROP/guest-progs/build.sh"

vh_init "guest-vhost-net-${1:-system}"
gp_kernel_variant "$@"
gp_build vhost_net_guest
vh_guest_build --script "$VH_TMP/vhost_net_guest" --load "vhost_net tun" \
	--wait /dev/vhost-net --wait /dev/net/tun --guest-timeout 60
vh_guest_run --timeout 120 || vh_fail "guest failed (run-guest status $?)"
gp_report vhost_net_guest
for line in 'tx: 10 frames came out of the tap byte for byte' \
	'rx: 10 frames arrived in the receive ring byte for byte' 'busyloop: set' \
	'dirty log: ' 'PASS'; do
	grep -q "^vhost_net_guest: $line" "$VH_TMP/console.txt" ||
		vh_fail "no '$line' on the guest console"
done
vh_log PASS
