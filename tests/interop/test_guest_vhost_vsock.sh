#!/usr/bin/env bash
# libvhost's frontend on the kernel's /dev/vhost-vsock, inside the guest: vh_dev sets guest CID 3
# and running, and a static program plays the VM behind it (virtio-vsock packets on vh_vq_driver
# rings). An AF_VSOCK listener in the same kernel (the "host" side, CID 2) accepts its
# OP_REQUEST, reads its OP_RW payload and answers; all bytes compared
# (guest-progs/vhost_vsock_guest.c).
# VARIANTS: system backports
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# shellcheck source=guest-progs/build.sh
. "$VH_INTEROP/guest-progs/build.sh"

vh_init "guest-vhost-vsock-${1:-system}"
gp_kernel_variant "$@"
gp_build vhost_vsock_guest
vh_guest_build --script "$VH_TMP/vhost_vsock_guest" --load "vhost_vsock" \
	--wait /dev/vhost-vsock --guest-timeout 60
vh_guest_run --timeout 120 || vh_fail "guest failed (run-guest status $?)"
gp_report vhost_vsock_guest
for line in 'vsock: OP_REQUEST 3:1234 -> 2:5000 answered by OP_RESPONSE' \
	'listener: accepted the connection and read the' 'vsock: OP_RW both ways' 'PASS'; do
	grep -q "^vhost_vsock_guest: $line" "$VH_TMP/console.txt" ||
		vh_fail "no '$line' on the guest console"
done
vh_log PASS
