#!/usr/bin/env bash
# libvirt (Debian's libvirtd + QEMU TCG) runs a guest whose disk is a vhost-user disk on vh-blk:
# <disk type='vhostuser'> with memfd shared memory, the interop guest kernel and initramfs, and
# the guest side of tests/interop/blk_common.sh (O_DIRECT pattern from the guest, ext2 mkfs +
# fsck, the host image checked byte for byte after the domain is off).
#
# Not part of `make check`: it needs a running libvirtd (qemu:///system) whose qemu.conf lets
# QEMU run in this environment; see README.md "libvirt and vh-blk". Run as root:
#   LIBVHOST_BUILD=build tests/libvirt/run-libvirt-vhblk.sh
# Also prints the QEMU command line libvirt generates (virsh domxml-to-native qemu-argv).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../interop/lib.sh"
. "$VH_INTEROP/blk_common.sh"

BLK_BACKEND_NAME=vhblk-libvirt
BLK_BACKEND_PACKED=1
VIRSH=(timeout 60 virsh -q -c "${LIBVIRT_URI:-qemu:///system}")
DOM=vh-blk-libvirt-$$

blk_backend_cmd()
{
	BLK_BACKEND_CMD=("$LIBVHOST_BUILD/devices/vh-blk/vh-blk" --socket-path "$2" --blk-file "$1"
		--num-queues "$3")
}

# vh_guest_run replaced: the same guest, booted by libvirt instead of run-guest.sh.
vh_guest_run()
{
	local sock='' a nonce xml log state n=0 verdict
	for a in "$@"; do
		case $a in socket,id=blk0,path=*) sock=${a#socket,id=blk0,path=} ;; esac
	done
	[ -n "$sock" ] || vh_fail "no vhost-user socket in $*"
	nonce=$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
	log=$VH_TMP/console.txt
	xml=$VH_TMP/domain.xml
	: >"$log"
	cat >"$xml" <<XML
<domain type='qemu'>
  <name>$DOM</name>
  <memory unit='MiB'>512</memory>
  <vcpu>1</vcpu>
  <memoryBacking>
    <source type='memfd'/>
    <access mode='shared'/>
  </memoryBacking>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$VH_KERNEL_IMAGE</kernel>
    <initrd>$VH_TMP/initrd.cpio</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 vh.nonce=$nonce</cmdline>
  </os>
  <features>
    <acpi/>
  </features>
  <cpu mode='maximum' match='exact'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <disk type='vhostuser' device='disk'>
      <driver name='qemu' type='raw'/>
      <source type='unix' path='$sock'>
        <reconnect enabled='yes' timeout='1'/>
      </source>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='file'>
      <source path='$log'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
XML
	vh_log "QEMU command line libvirt generates:"
	"${VIRSH[@]}" domxml-to-native qemu-argv "$xml" | tee "$VH_TMP/qemu-argv.txt"
	"${VIRSH[@]}" create "$xml" >/dev/null || vh_fail "virsh create failed"
	while state=$("${VIRSH[@]}" domstate "$DOM" 2>/dev/null) && [ "$state" = running ]; do
		[ "$n" -lt 150 ] || { "${VIRSH[@]}" destroy "$DOM" || true; vh_fail "domain still running after 150 s"; }
		sleep 1
		n=$((n + 1))
	done
	verdict=$(tr -d '\r' <"$log" |
		sed -n "s/^VH-GUEST-RESULT: \(PASS\|FAIL\) \([0-9]*\) nonce=$nonce\$/\1 \2/p" | tail -n 1)
	tr -d '\r' <"$log" | tail -n 30
	vh_log "libvirt domain $DOM ended after ~$n s, guest verdict: ${verdict:-none}"
	[ "$verdict" = "PASS 0" ]
}

command -v virsh >/dev/null || vh_unavailable "virsh not found (libvirt-clients)"
"${VIRSH[@]}" version >/dev/null 2>&1 || vh_unavailable "no libvirtd at ${LIBVIRT_URI:-qemu:///system}"
blk_main split
