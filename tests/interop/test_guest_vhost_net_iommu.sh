#!/usr/bin/env bash
# vh_net against the kernel's vhost-net with VIRTIO_F_ACCESS_PLATFORM: ring and buffer addresses
# are I/O virtual addresses, the kernel asks for each translation it lacks (an IOTLB miss read from
# the vhost fd), libvhost answers through its translate callback (vh_dev_dispatch on
# vh_dev_event_fd, driven by vh_net_wait) and frames flow both ways byte for byte.
# VARIANTS: system backports
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# shellcheck source=guest-progs/build.sh
. "$VH_INTEROP/guest-progs/build.sh"

vh_init "guest-vhost-net-iommu-${1:-system}"
gp_kernel_variant "$@"
gp_build vhost_net_guest
vh_guest_build --script "$VH_TMP/vhost_net_guest" --args iommu --load "vhost_net tun" \
	--wait /dev/vhost-net --wait /dev/net/tun --guest-timeout 60
vh_guest_run --timeout 120 || vh_fail "guest failed (run-guest status $?)"
gp_report vhost_net_guest
grep -q '^vhost_net_guest: vh_net: .* iommu 1 ' "$VH_TMP/console.txt" ||
	vh_fail "VIRTIO_F_ACCESS_PLATFORM was not negotiated"
grep -Eq '^vhost_net_guest: stats: .* iotlb_misses [1-9]' "$VH_TMP/console.txt" ||
	vh_fail "no IOTLB miss was answered"
grep -q '^vhost_net_guest: PASS' "$VH_TMP/console.txt" || vh_fail "no PASS line"
vh_log PASS
