#!/usr/bin/env bash
# libvhost's frontend on vhost-vdpa, inside a guest running Debian's 6.12 kernel from
# bookworm-backports (guest/kernel.sh downloads it into the cache the first time; 6.1 has no
# vDPA). Devices are added with iproute2's `vdpa` tool and bound to vhost_vdpa:
#   blk: a VDUSE block device served by qemu-storage-daemon (vduse-blk export of a file); vh_blk
#        reads and writes it through /dev/vhost-vdpa-0 and the data matches the backing file.
#   net: a VDUSE network device of ours (guest-progs/vduse_net_dev.c, on libvhost's device-side
#        ring; Debian builds no vdpa_sim_net) loops frames for its MAC back; vh_net reads the MAC
#        and link status from config space and gets its frames back byte for byte.
#   iommu: the same VDUSE network device behind a vIOMMU: vdpa_iommu_guest maps its rings and
#        buffers at IOVAs != GPAs (vh_vdpa_map, IOTLB messages), frames come back byte for byte,
#        remapped elsewhere after a stop, kept over a reopen of the device fd; ASIDs are used
#        when the device has more than one.
# (guest-progs/vdpa_guest.sh, vdpa_blk_guest.c, vdpa_net_guest.c, vdpa_iommu_guest.c,
# vduse_net_dev.c)
# VARIANTS: blk net iommu
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# shellcheck source=guest-progs/build.sh
. "$VH_INTEROP/guest-progs/build.sh"

variant=${1:-blk}
vh_init "guest-vhost-vdpa-$variant"
case "${LIBVHOST_KERNEL:-system}" in
system) gp_kernel_variant backports ;;
*) gp_kernel_fetch ;; # another kernel with vDPA (apt:<suite>, dir:<root>)
esac
PATH=$PATH:/usr/sbin:/sbin # iproute2's vdpa
vh_need vdpa
case "$variant" in
blk)
	vh_need qemu-storage-daemon
	prog=vdpa_blk_guest mods="vdpa vduse vhost_vdpa" wait=/dev/vduse/control
	extra=(--bin qemu-storage-daemon)
	;;
net | iommu)
	prog=vdpa_net_guest mods="vdpa vduse vhost_vdpa" wait=/dev/vduse/control
	[ "$variant" = iommu ] && prog=vdpa_iommu_guest
	gp_build vduse_net_dev
	extra=(--bin "$VH_TMP/vduse_net_dev")
	;;
*) vh_fail "unknown variant '$variant' (blk, net, iommu)" ;;
esac
gp_build "$prog"
vh_guest_build --script "$GP_DIR/vdpa_guest.sh" --args "$variant" --load "$mods" \
	--bin "$VH_TMP/$prog" --bin vdpa "${extra[@]}" --wait "$wait" --guest-timeout 90
vh_guest_run --timeout 150 || vh_fail "guest failed (run-guest status $?)"
gp_report "$prog"
case "$variant" in
blk) lines=('read: ' 'write: 4 writes' 'PASS') ;;
net) lines=('loopback: ' 'PASS') ;;
iommu) lines=('round 0: ' 'round 1: ' 'round 2: ' 'asid: ' 'PASS') ;;
esac
for line in "${lines[@]}"; do
	grep -q "^$prog: $line" "$VH_TMP/console.txt" || vh_fail "no '$line' on the guest console"
done
vh_log PASS
