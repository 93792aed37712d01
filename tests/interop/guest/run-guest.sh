#!/usr/bin/env bash
# Boot the interop guest under QEMU TCG and turn its verdict into an exit code.
#
#   run-guest.sh --initrd FILE --log FILE [--kernel IMAGE] [--timeout SECS] [--smp N] [--mem MB]
#                [--append "ARGS"] [--nonce HEX] [-- QEMU_ARGS...]
#
# Guest RAM is a shared memfd (memory-backend-memfd,share=on), which vhost-user backends need to map
# it. QEMU_ARGS add devices, e.g.
#   -chardev socket,id=c0,path=SOCK -device vhost-user-blk-pci,chardev=c0
# The serial console goes to --log (QEMU's own stderr to LOG.qemu). QEMU runs under
# `timeout --kill-after=5 SECS` and is killed by PID if this script exits early.
#
# --nonce: the verdict nonce (default random). A migration destination (QEMU_ARGS with -incoming)
# is given its source's: the guest prints the nonce it booted with.
#
# Exit: 0 the guest printed "VH-GUEST-RESULT: PASS", 1 it printed FAIL, 2 no verdict (QEMU failed,
# the guest crashed or the timeout hit). The console log is printed on stdout when the run fails or
# LIBVHOST_GUEST_VERBOSE=1 (which also drops `quiet` from the kernel command line).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=kernel.sh
. "$here/kernel.sh"

die()
{
	echo "run-guest: $*" >&2
	exit 2
}

kernel=${VH_KERNEL_IMAGE:-} initrd='' log='' timeout=90 smp=1 mem=512 append='' nonce=''
qemu_args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=$2 ;;
	--initrd) initrd=$2 ;;
	--log) log=$2 ;;
	--timeout) timeout=$2 ;;
	--smp) smp=$2 ;;
	--mem) mem=$2 ;;
	--append) append=$2 ;;
	--nonce) nonce=$2 ;;
	--) shift; qemu_args=("$@"); break ;;
	*) die "unknown option $1" ;;
	esac
	shift 2 || die "option $1 needs a value"
done
[ -n "$initrd" ] || die "--initrd FILE is required"
[ -r "$initrd" ] || die "cannot read $initrd"
[ -n "$log" ] || die "--log FILE is required"
if [ -z "$kernel" ]; then
	vh_kernel_find || exit 2
	kernel=$VH_KERNEL_IMAGE
fi
qemu=${LIBVHOST_QEMU:-qemu-system-x86_64}
command -v "$qemu" >/dev/null || die "$qemu not found (scripts/install-deps.sh)"

[ -n "$nonce" ] || nonce=$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
quiet=quiet
[ "${LIBVHOST_GUEST_VERBOSE:-0}" = 1 ] && quiet=
# qboot starts the kernel faster than SeaBIOS and is all a -kernel boot needs.
bios=()
[ -r /usr/share/qemu/qboot.rom ] && bios=(-bios /usr/share/qemu/qboot.rom)

qemu_pid=
cleanup()
{
	if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
		kill "$qemu_pid" 2>/dev/null || true
		wait "$qemu_pid" 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'exit 2' INT TERM

: >"$log"
start=$(date +%s.%N)
# --foreground keeps QEMU in the caller's process group: a runner killing the group kills QEMU.
# no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer check can miss its ticks
# and panic ("IO-APIC + timer doesn't work"); the emulated timer is fine, the check is not.
timeout --foreground --kill-after=5 "$timeout" "$qemu" -accel tcg -machine pc,memory-backend=mem \
	-cpu max -smp "$smp" -m "${mem}M" \
	-object "memory-backend-memfd,id=mem,size=${mem}M,share=on" \
	"${bios[@]}" -nodefaults -no-user-config -display none -no-reboot -monitor none \
	-serial "file:$log" \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 $quiet panic=-1 no_timer_check vh.nonce=$nonce $append" \
	"${qemu_args[@]}" </dev/null >"$log.qemu" 2>&1 &
qemu_pid=$!
status=0
wait "$qemu_pid" || status=$?
qemu_pid=
secs=$(echo "$(date +%s.%N) $start" | awk '{ printf "%.1f", $1 - $2 }')

verdict=$(tr -d '\r' <"$log" |
	sed -n "s/^VH-GUEST-RESULT: \(PASS\|FAIL\) \([0-9]*\) nonce=$nonce\$/\1 \2/p" | tail -n 1)
rc=2
case "$verdict" in
"PASS 0") rc=0 ;;
FAIL*) rc=1 ;;
esac
if [ "$rc" -ne 0 ] || [ "${LIBVHOST_GUEST_VERBOSE:-0}" = 1 ]; then
	echo "---- guest console ($log) ----"
	tr -d '\r' <"$log" | tail -n 200
	echo "---- qemu stderr ----"
	tail -n 50 "$log.qemu"
	echo "----"
fi
case "$rc" in
0) echo "run-guest: PASS in ${secs}s" ;;
1) echo "run-guest: guest reported ${verdict} after ${secs}s" >&2 ;;
*)
	if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
		echo "run-guest: no verdict: timed out after ${timeout}s" >&2
	else
		echo "run-guest: no verdict: qemu exited with $status after ${secs}s" >&2
	fi
	;;
esac
exit "$rc"
