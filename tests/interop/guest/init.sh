#!/bin/sh
# /init of the libvhost interop guest (busybox). Built into the initramfs by mkinitramfs.sh.
#
# Mounts proc/sys/dev, loads the modules listed in /vh/modules.load (insmod order worked out on the
# host by kmod, softdeps included), runs /vh/script under a guest-side timeout, prints exactly one
# result line on the serial console and powers off:
#   VH-GUEST-RESULT: PASS 0 nonce=<n>      or      VH-GUEST-RESULT: FAIL <rc> nonce=<n>
# The nonce comes from the kernel command line (vh.nonce=), so output of the script under test can
# never be mistaken for the verdict.

PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

# The archive holds no device nodes (it is built without root): fds 0-2 are closed until devtmpfs
# is up, so mount it first and only then open the console.
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm /tmp /run
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
ip link set lo up 2>/dev/null

nonce=none
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	vh.nonce=*) nonce=${arg#vh.nonce=} ;;
	esac
done

VH_GUEST_TIMEOUT=120
[ -r /vh/env ] && . /vh/env

vh_finish()
{
	if [ "$1" -eq 0 ]; then
		echo "VH-GUEST-RESULT: PASS 0 nonce=$nonce"
	else
		echo "VH-GUEST-RESULT: FAIL $1 nonce=$nonce"
	fi
	sync
	poweroff -f
	# poweroff -f does not return; if it ever does, panic=-1 + -no-reboot end QEMU.
	exit "$1"
}

rc=0
if [ -r /vh/modules.load ]; then
	while read -r mod args; do
		[ -n "$mod" ] || continue
		# shellcheck disable=SC2086 # module parameters are separate words
		if ! insmod "$mod" $args; then
			echo "vh-init: insmod $mod failed" >&2
			rc=1
		fi
	done </vh/modules.load
fi
# Devices probe asynchronously after their driver loads; wait for the ones the caller named.
if [ "$rc" -eq 0 ] && [ -n "$VH_WAIT_PATHS" ]; then
	for p in $VH_WAIT_PATHS; do
		n=0
		while [ ! -e "$p" ] && [ "$n" -lt 100 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		if [ ! -e "$p" ]; then
			echo "vh-init: $p did not appear within 10 s" >&2
			rc=1
		fi
	done
fi

if [ "$rc" -eq 0 ]; then
	if [ -x /vh/script ]; then
		cd /tmp || vh_finish 1
		# shellcheck disable=SC2086 # the arguments are separate words
		timeout "$VH_GUEST_TIMEOUT" /vh/script $VH_SCRIPT_ARGS
		rc=$?
		[ "$rc" -eq 143 ] &&
			echo "vh-init: guest script timed out after $VH_GUEST_TIMEOUT s" >&2
	else
		echo "vh-init: no /vh/script" >&2
		rc=1
	fi
fi
vh_finish "$rc"
