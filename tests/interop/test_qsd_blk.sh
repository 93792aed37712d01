#!/usr/bin/env bash
# libvhost's userspace virtio-blk driver (vh_blk, through vhctl) against qemu-storage-daemon's
# vhost-user-blk export on a raw file.
# VARIANTS: rw verify1 verify2 packed tamper dirtylog reconnect
#
#   rw        vhctl blk write a pattern, vhctl blk read it back, both compared byte for byte with
#             the image file on disk (cmp); an unaligned read; the rest of the image still zero;
#             write zeroes / discard / flush / get-id / info
#   verify1   vhctl blk bench --verify, 1 queue: split ring with call eventfd, buffers in the
#             caller's own memfd (a second memory region), polling
#   verify2   vhctl blk bench --verify, 2 queues, randrw
#   packed    qemu-storage-daemon (libvhost-user) has no packed rings: --packed must be refused
#             with a clear error, not fall back silently; then bench --packed --verify with 1
#             and 2 queues against libvhost's vh-blk daemon, which has them
#   tamper    a sector changed behind the driver's back is reported with its exact offset
#   dirtylog  with dirty logging on, the pages the backend wrote (read buffer, used ring) are
#             dirty and an untouched page / a page it only read are not
#   reconnect qemu-storage-daemon is killed and restarted mid-run; vh_blk_reconnect resumes and
#             every block reads back with the right data; again with a packed ring against
#             libvhost's vh-blk daemon
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VARIANT=${1:-rw}
VHCTL=$LIBVHOST_BUILD/tools/vhctl/vhctl
IMG_MB=64

vh_init "qsd-blk-$VARIANT"
vh_need qemu-storage-daemon cmp dd
[ -x "$VHCTL" ] || vh_fail "$VHCTL not built"

IMG=$VH_TMP/disk.img
SOCK=$VH_TMP/blk.sock
QSD_PID=

# start_qsd QUEUES: serve $IMG on $SOCK.
start_qsd()
{
	rm -f "$SOCK"
	vh_spawn "qsd$((${#VH_PIDS[@]}))" 240 qemu-storage-daemon \
		--blockdev "driver=file,node-name=file0,filename=$IMG,discard=unmap" \
		--blockdev driver=raw,node-name=raw0,file=file0,discard=unmap \
		--export "type=vhost-user-blk,id=exp0,node-name=raw0,addr.type=unix,addr.path=$SOCK,writable=on,num-queues=$1"
	QSD_PID=$VH_SPAWNED_PID
	vh_wait_socket "$SOCK" 20 "$QSD_PID"
}

# vhctl SECS ARGS...: run vhctl bounded by a timeout; its status is returned.
vhctl()
{
	local secs=$1
	shift
	timeout --kill-after=5 "$secs" "$VHCTL" "$@"
}

test_rw()
{
	local pat=$VH_TMP/pattern off=$((5 << 20)) plen
	vh_make_image "$IMG" "$IMG_MB"
	start_qsd 1
	vhctl 20 probe "$SOCK" >"$VH_TMP/probe.txt" || vh_fail "vhctl probe failed"
	grep -q "VIRTIO_BLK_F_FLUSH" "$VH_TMP/probe.txt" || vh_fail "probe does not name VIRTIO_BLK_F_FLUSH"
	grep -q "^device: blk " "$VH_TMP/probe.txt" || vh_fail "probe does not tell a blk device"
	grep -q "capacity_bytes *$((IMG_MB << 20))" "$VH_TMP/probe.txt" ||
		vh_fail "probe does not report the capacity"
	vhctl 20 probe --json "$SOCK" | grep -q '"VHOST_USER_PROTOCOL_F_CONFIG"' ||
		vh_fail "probe --json lacks the protocol feature names"
	# 3001 sectors plus 100 bytes: several chunks and a partial last sector.
	vh_pattern "$pat" 3001 "VH-QSD-RW"
	printf 'tail-of-pattern-100-bytes-%074d' 0 >>"$pat"
	plen=$(stat -c %s "$pat")
	vhctl 30 blk write "$SOCK" --offset "$off" <"$pat" || vh_fail "vhctl blk write failed"
	vhctl 30 blk read "$SOCK" --offset "$off" --length "$plen" >"$VH_TMP/back" ||
		vh_fail "vhctl blk read failed"
	cmp "$pat" "$VH_TMP/back" || vh_fail "read back differs from what was written"
	vh_cmp_region "$IMG" "$off" "$plen" "$pat"
	vh_cmp_region "$IMG" 0 "$off" /dev/zero
	vh_cmp_region "$IMG" $((off + plen)) $(((IMG_MB << 20) - off - plen)) /dev/zero
	# Unaligned start and length.
	vhctl 30 blk read "$SOCK" --offset $((off + 777)) --length 10000 >"$VH_TMP/part" ||
		vh_fail "unaligned read failed"
	cmp "$VH_TMP/part" <(dd if="$pat" bs=1 skip=777 count=10000 status=none) ||
		vh_fail "unaligned read returned the wrong bytes"
	# Write zeroes inside the pattern: exactly that range becomes zero on disk.
	vhctl 20 blk zeroes "$SOCK" --offset $((off + 4096)) --length 8192 || vh_fail "blk zeroes failed"
	vh_cmp_region "$IMG" $((off + 4096)) 8192 /dev/zero
	vh_cmp_region "$IMG" "$off" 4096 "$pat"
	cmp -n 4096 <(dd if="$IMG" bs=1 skip=$((off + 12288)) count=4096 status=none) \
		<(dd if="$pat" bs=1 skip=12288 count=4096 status=none) ||
		vh_fail "write zeroes touched the bytes after its range"
	# Discard (the file may or may not punch a hole: only the neighbours are checked), flush, id.
	vhctl 20 blk discard "$SOCK" --offset $((off + 65536)) --length 65536 ||
		vh_fail "blk discard failed"
	cmp -n 4096 <(dd if="$IMG" bs=1 skip=$((off + 131072)) count=4096 status=none) \
		<(dd if="$pat" bs=1 skip=131072 count=4096 status=none) ||
		vh_fail "discard touched the bytes after its range"
	vhctl 20 blk flush "$SOCK" || vh_fail "blk flush failed"
	vhctl 20 blk id "$SOCK" >"$VH_TMP/id.txt" || vh_fail "blk id failed"
	vh_log "GET_ID: $(cat "$VH_TMP/id.txt")"
	vhctl 20 blk info "$SOCK" | grep -q "^capacity: $((IMG_MB << 20)) bytes" ||
		vh_fail "blk info does not report the capacity"
	# Usage errors exit 2; reading past the end fails with 1.
	local st=0
	vhctl 10 blk read "$SOCK" --offset 0 >/dev/null 2>&1 || st=$?
	[ "$st" -eq 2 ] || vh_fail "missing --length: exit $st, want 2"
	st=0
	vhctl 10 blk read "$SOCK" --offset $((IMG_MB << 20)) --length 512 >/dev/null 2>&1 || st=$?
	[ "$st" -eq 1 ] || vh_fail "read past the end: exit $st, want 1"
	vh_log "write/read/cmp: ok ($plen bytes at $off)"
}

test_verify1()
{
	vh_make_image "$IMG" "$IMG_MB"
	start_qsd 1
	vhctl 90 blk bench "$SOCK" --rw randrw --bs 4k --iodepth 32 --runtime 3 --verify \
		--quiet | tee "$VH_TMP/bench1.txt" || vh_fail "bench --verify (split, eventfd) failed"
	grep -q "^verify: ok" "$VH_TMP/bench1.txt" || vh_fail "no verify verdict"
	# I/O buffers in vhctl's own memfd: a second memory region the backend must map.
	vhctl 90 blk bench "$SOCK" --rw randrw --bs 16k --iodepth 8 --runtime 2 --verify \
		--user-mem --seed 11 --quiet | tee "$VH_TMP/bench3.txt" ||
		vh_fail "bench --verify --user-mem failed"
	grep -q "^verify: ok" "$VH_TMP/bench3.txt" || vh_fail "no verify verdict"
	vhctl 90 blk bench "$SOCK" --rw randwrite --bs 8k --iodepth 16 --runtime 2 --verify \
		--poll --seed 7 --quiet | tee "$VH_TMP/bench2.txt" ||
		vh_fail "bench --verify (split, polling) failed"
	grep -q "^verify: ok" "$VH_TMP/bench2.txt" || vh_fail "no verify verdict"
	# The image itself holds the stamp: sector 100 names itself and seed 7.
	[ "$(od -An -tu8 -j $((100 * 512)) -N 16 "$IMG" | tr -s ' ')" = " 100 7" ] ||
		vh_fail "sector 100 of the image does not carry the pattern"
}

test_verify2()
{
	vh_make_image "$IMG" "$IMG_MB"
	start_qsd 2
	vhctl 90 blk bench "$SOCK" --rw randrw --bs 4k --iodepth 32 --queues 2 --runtime 3 \
		--verify --quiet | tee "$VH_TMP/bench.txt" || vh_fail "bench --verify, 2 queues, failed"
	grep -q "^verify: ok" "$VH_TMP/bench.txt" || vh_fail "no verify verdict"
	local st=0
	vhctl 30 blk bench "$SOCK" --queues 3 --runtime 1 >"$VH_TMP/q3.txt" 2>&1 || st=$?
	[ "$st" -eq 1 ] || vh_fail "3 queues on a 2-queue export: exit $st, want 1"
	grep -q "device offers 2" "$VH_TMP/q3.txt" || vh_fail "no clear error for too many queues"
}

test_packed()
{
	local st=0
	vh_make_image "$IMG" "$IMG_MB"
	start_qsd 1
	vhctl 30 blk bench "$SOCK" --packed --runtime 1 >"$VH_TMP/packed.txt" 2>&1 || st=$?
	cat "$VH_TMP/packed.txt"
	[ "$st" -eq 1 ] || vh_fail "--packed against a split-only backend: exit $st, want 1"
	grep -q "VIRTIO_F_RING_PACKED" "$VH_TMP/packed.txt" ||
		vh_fail "the refusal does not say VIRTIO_F_RING_PACKED is missing"
	vh_log "packed: refused clearly (qemu-storage-daemon 7.x offers no packed rings)"
	# The packed ring end to end needs a backend that has one: libvhost's own vh-blk daemon.
	local vhblk=$LIBVHOST_BUILD/devices/vh-blk/vh-blk q
	[ -x "$vhblk" ] || vh_fail "$vhblk not built: no backend with packed rings to test against"
	for q in 1 2; do
		rm -f "$SOCK"
		vh_spawn "vh-blk-$q" 120 "$vhblk" --socket-path "$SOCK" --blk-file "$IMG" --num-queues 2
		vh_wait_socket "$SOCK" 20 "$VH_SPAWNED_PID"
		vhctl 90 blk bench "$SOCK" --packed --verify --queues "$q" --rw randrw --runtime 2 \
			--quiet | tee "$VH_TMP/packed-$q.txt" || vh_fail "packed --verify, $q queue(s), failed"
		grep -q "ring packed" "$VH_TMP/packed-$q.txt" || vh_fail "the ring was not packed"
		grep -q "^verify: ok" "$VH_TMP/packed-$q.txt" || vh_fail "no verify verdict"
		vh_kill "$VH_SPAWNED_PID"
	done
	vh_log "packed: --verify passes against vh-blk with 1 and 2 queues"
}

test_tamper()
{
	local st=0 off=$((12345 * 512 + 64))
	vh_make_image "$IMG" "$IMG_MB"
	start_qsd 1
	vhctl 90 blk bench "$SOCK" --rw write --bs 64k --iodepth 8 --runtime 0 --verify --seed 3 \
		--size 16M --quiet >/dev/null || vh_fail "pattern fill failed"
	vhctl 90 blk bench "$SOCK" --rw read --bs 64k --iodepth 8 --runtime 0 --verify --no-fill \
		--seed 3 --size 16M --quiet >/dev/null || vh_fail "clean re-check failed"
	# 8 bytes changed in the image behind the device's back (qemu-storage-daemon reads through
	# the page cache, so it sees the change).
	printf 'TAMPERED' | dd of="$IMG" bs=1 seek="$off" conv=notrunc status=none
	vhctl 90 blk bench "$SOCK" --rw read --bs 64k --iodepth 8 --runtime 0 --verify --no-fill \
		--seed 3 --size 16M --quiet >"$VH_TMP/tamper.txt" 2>&1 || st=$?
	cat "$VH_TMP/tamper.txt"
	[ "$st" -eq 1 ] || vh_fail "tampered image: exit $st, want 1"
	grep -q "MISMATCH at byte offset $off " "$VH_TMP/tamper.txt" ||
		vh_fail "the mismatch is not reported at byte offset $off"
}

test_dirtylog()
{
	vh_make_image "$IMG" "$IMG_MB"
	start_qsd 1
	vhctl 30 blk logtest "$SOCK" || vh_fail "dirty log check failed"
}

start_vhblk()
{
	rm -f "$SOCK"
	vh_spawn "vh-blk$((${#VH_PIDS[@]}))" 120 "$LIBVHOST_BUILD/devices/vh-blk/vh-blk" \
		--socket-path "$SOCK" --blk-file "$IMG"
	QSD_PID=$VH_SPAWNED_PID
	vh_wait_socket "$SOCK" 20 "$QSD_PID"
}

# reconnect_run START_FN [vhctl options]: kill the backend (the child of its `timeout` wrapper,
# i.e. the daemon itself: a crash) 2 s into an 8 s reconnect-test run and start a new one.
reconnect_run()
{
	local start=$1 pid st=0 out=$VH_TMP/reconnect-$1.txt
	shift
	vh_make_image "$IMG" "$IMG_MB"
	"$start" 1
	timeout --kill-after=5 120 "$VHCTL" blk reconnect-test "$SOCK" --runtime 8 --size 8M "$@" \
		>"$out" 2>&1 &
	pid=$!
	VH_PIDS+=("$pid")
	sleep 2
	vh_log "killing the backend (child of pid $QSD_PID) mid-run"
	pkill -KILL -P "$QSD_PID" || vh_fail "no backend process under pid $QSD_PID"
	wait "$QSD_PID" 2>/dev/null || true
	sleep 1
	"$start" 1
	wait "$pid" || st=$?
	grep -v "Connection refused" "$out"
	[ "$st" -eq 0 ] || vh_fail "reconnect-test exit $st"
	grep -q "reconnects: [1-9]" "$out" || vh_fail "no reconnect happened"
	vh_kill "$QSD_PID"
}

test_reconnect()
{
	reconnect_run start_qsd
	# Packed ring with in-flight state: libvhost's vh-blk daemon.
	[ -x "$LIBVHOST_BUILD/devices/vh-blk/vh-blk" ] || vh_fail "vh-blk not built"
	reconnect_run start_vhblk --packed
}

case "$VARIANT" in
rw | verify1 | verify2 | packed | tamper | dirtylog | reconnect) "test_$VARIANT" ;;
*) vh_fail "unknown variant $VARIANT" ;;
esac
vh_log "$VARIANT: PASS"
