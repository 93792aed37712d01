#!/bin/sh
# Guest side of test_guest_vhost_vdpa.sh (6.12 kernel; modules vdpa, vhost_vdpa and the device's
# loaded). Argument: the device.
#   blk: qemu-storage-daemon exports a file as a VDUSE block device, `vdpa dev add` puts it on the
#        vdpa bus where vhost_vdpa binds it, and vdpa_blk_guest (libvhost's vh_blk over
#        vhost-vdpa) checks reads and writes against the file.
#   net: vduse_net_dev (our minimal VDUSE network device: it loops frames for its MAC back) is
#        added the same way, and vdpa_net_guest (libvhost's vh_net over vhost-vdpa) checks the
#        config space and the frames that come back.
#   iommu: the same device, driven by vdpa_iommu_guest (libvhost's frontend as a VMM with a
#        vIOMMU: rings and buffers at IOVAs that are not their GPAs, maps sent as IOTLB messages).
. /vh/lib.sh

# vdpa_add NAME MGMTDEV [ARGS...]: add the device, wait for its vhost-vdpa node, check the driver.
vdpa_add()
{
	_name=$1
	shift
	vh_run vdpa mgmtdev show
	vh_run vdpa dev add name "$_name" mgmtdev "$@"
	vdpa dev show "$_name"
	vh_wait_path /dev/vhost-vdpa-0
	_drv=$(basename "$(readlink "/sys/bus/vdpa/devices/$_name/driver")")
	vh_log "driver of $_name: $_drv"
	[ "$_drv" = vhost_vdpa ] || vh_die "$_name is bound to $_drv, not vhost_vdpa"
}

variant_blk()
{
	img=/tmp/disk.img
	# 8 MiB of random data: every 512-byte sector differs.
	vh_run dd if=/dev/urandom of=$img bs=1M count=8 2>/dev/null
	vh_run qemu-storage-daemon --version
	qemu-storage-daemon \
		--blockdev file,node-name=file0,filename=$img \
		--blockdev raw,node-name=disk0,file=file0 \
		--export type=vduse-blk,id=exp0,node-name=disk0,name=vduse0,num-queues=1,writable=on \
		>/tmp/qsd.log 2>&1 &
	qsd=$!
	n=0
	while [ ! -e /dev/vduse/vduse0 ] && [ "$n" -lt 100 ]; do
		kill -0 $qsd 2>/dev/null || { cat /tmp/qsd.log; vh_die "qemu-storage-daemon exited"; }
		sleep 0.1
		n=$((n + 1))
	done
	[ -e /dev/vduse/vduse0 ] || { cat /tmp/qsd.log; vh_die "/dev/vduse/vduse0 did not appear"; }
	vh_log "vduse device created by qemu-storage-daemon"
	vdpa_add vduse0 vduse
	vdpa_blk_guest /dev/vhost-vdpa-0 $img
	rc=$?
	vh_run vdpa dev del vduse0
	kill $qsd
	wait $qsd
	[ "$rc" -eq 0 ] || { cat /tmp/qsd.log; vh_die "vdpa_blk_guest failed ($rc)"; }
}

# vduse_net_dev on the vdpa bus, bound to vhost_vdpa, then PROG /dev/vhost-vdpa-0 MAC.
variant_net()
{
	prog=${1:-vdpa_net_guest}
	mac=02:00:00:00:00:aa
	vduse_net_dev vduse-net0 $mac >/tmp/dev.log 2>&1 &
	dev=$!
	vh_wait_path /dev/vduse/vduse-net0
	vdpa_add vduse-net0 vduse
	vdpa dev config show vduse-net0
	$prog /dev/vhost-vdpa-0 $mac
	rc=$?
	vh_run vdpa dev del vduse-net0
	kill $dev
	wait $dev
	cat /tmp/dev.log
	[ "$rc" -eq 0 ] || vh_die "$prog failed ($rc)"
}

case "$1" in
blk) variant_blk ;;
net) variant_net ;;
iommu) variant_net vdpa_iommu_guest ;;
*) vh_die "unknown variant '$1'" ;;
esac
vh_log "vdpa $1: PASS"
