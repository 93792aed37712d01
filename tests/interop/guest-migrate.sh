#!/bin/sh
# Guest side of test_qemu10_migrate.sh: passes of O_DIRECT writes and reads, alternating two
# patterns (a lost or stale write shows as the other one), each pass read back and compared, until
# the host has written VH-MIGRATED into the control sector (it does once the guest runs on the
# destination), then VH_AFTER more passes. Environment (from /vh/env):
#   VH_PATTERN_OFF  byte offset (multiple of 64 KiB) of the pattern area
#   VH_CTL_OFF      byte offset of the control sector
#   VH_AFTER        passes after the marker
#   VH_MAX_PASSES   give up after this many passes without the marker
. /vh/lib.sh

size=$(stat -c %s /vh/pa)
blocks4k=$((size / 4096))
half=$((blocks4k / 2))
seek4k=$((VH_PATTERN_OFF / 4096))
pass=0
after=-1
while :; do
	pass=$((pass + 1))
	p=/vh/pa
	[ $((pass % 2)) = 0 ] && p=/vh/pb
	# Two writers of 4 KiB requests at once: requests are in flight whenever the switch comes.
	dd if=$p of=/dev/vda bs=4096 seek=$seek4k count=$half oflag=direct conv=notrunc,fsync \
		status=none &
	w1=$!
	dd if=$p of=/dev/vda bs=4096 skip=$half seek=$((seek4k + half)) count=$half oflag=direct \
		conv=notrunc,fsync status=none &
	w2=$!
	wait $w1 || vh_die "pass $pass: first writer failed"
	wait $w2 || vh_die "pass $pass: second writer failed"
	vh_run dd if=/dev/vda of=/tmp/rb bs=16384 skip=$((seek4k / 4)) count=$((blocks4k / 4)) \
		iflag=direct status=none
	cmp $p /tmp/rb || vh_die "pass $pass: O_DIRECT read-back differs from ${p#/vh/}"
	vh_log "VH-PASS $pass ${p#/vh/} ok at $(cut -d' ' -f1 /proc/uptime)"
	if [ $after -ge 0 ]; then
		after=$((after + 1))
		[ $after -lt "$VH_AFTER" ] || break
	elif dd if=/dev/vda bs=512 skip=$((VH_CTL_OFF / 512)) count=1 iflag=direct status=none |
		grep -q VH-MIGRATED; then
		vh_log "VH-MARKER seen after pass $pass"
		after=0
	fi
	[ $pass -lt "$VH_MAX_PASSES" ] || vh_die "no VH-MIGRATED marker after $pass passes"
done
vh_log "VH-DONE $pass ${p#/vh/}"
exit 0
