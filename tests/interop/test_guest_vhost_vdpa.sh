#!/usr/bin/env bash
# libvhost's frontend on vhost-vdpa: inside a guest running Debian's 6.12 kernel from
# bookworm-backports (guest/kernel.sh downloads it into the cache the first time), a VDUSE block
# device served by qemu-storage-daemon (vduse-blk export of a file) is added with iproute2's `vdpa`
# tool and bound to vhost_vdpa; libvhost's vh_blk reads and writes it through /dev/vhost-vdpa-0
# and the data matches the backing file (guest-progs/vdpa_guest.sh, vdpa_blk_guest.c).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$VH_INTEROP/guest-progs/build.sh"

vh_init guest-vhost-vdpa
# The 6.1 kernel of bookworm has no vDPA; this test runs the backports kernel unless the caller
# named another one (apt:<suite>, dir:<root>) that has it.
case "${LIBVHOST_KERNEL:-system}" in
system) gp_kernel_variant backports ;;
*) gp_kernel_fetch ;;
esac
PATH=$PATH:/usr/sbin:/sbin # iproute2's vdpa
vh_need qemu-storage-daemon vdpa
gp_build vdpa_blk_guest
vh_guest_build --script "$GP_DIR/vdpa_guest.sh" --load "vdpa vduse vhost_vdpa" \
	--bin "$VH_TMP/vdpa_blk_guest" --bin qemu-storage-daemon --bin vdpa \
	--wait /dev/vduse/control --guest-timeout 90
vh_guest_run --timeout 150 || vh_fail "guest failed (run-guest status $?)"
gp_report vdpa_blk_guest
for line in 'read: ' 'write: 4 writes' 'PASS'; do
	grep -q "^vdpa_blk_guest: $line" "$VH_TMP/console.txt" ||
		vh_fail "no '$line' on the guest console"
done
vh_log PASS
