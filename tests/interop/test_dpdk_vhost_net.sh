#!/usr/bin/env bash
# libvhost's userspace virtio-net driver (vh_net on a vhost-user vh_dev, client mode) against
# DPDK's vhost PMD (dpdk-testpmd --vdev net_vhost0, server mode).
# VARIANTS: split split-nomrg packed packed-nomrg io
#
#   split, packed   ring layout (VIRTIO_F_RING_PACKED must be negotiated for packed) with
#                   VIRTIO_NET_F_MRG_RXBUF and 512-byte receive buffers: frames up to 1514 bytes
#                   must come back spread over several buffers (num_buffers checked)
#   *-nomrg         MRG_RXBUF not negotiated, 2048-byte receive buffers, num_buffers 1
#   io              split ring, testpmd --forward-mode=io: frames come back unchanged
#
# testpmd forwards with macswap (io for "io"); dpdk_net_front sends 2000 frames of 60..1514 bytes,
# each carrying its sequence number and bytes derived from it, and checks that every frame comes
# back exactly once, byte for byte, with destination and source MAC exchanged. It connects twice
# to the same testpmd (DPDK must accept a new frontend after the first one left); testpmd's own
# forward statistics must count exactly 2 x 2000 frames each way, and the features DPDK logs as
# negotiated must be the ones vh_net acked.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$VH_INTEROP/progs/dpdk.sh"

VARIANT=${1:-split}
FRAMES=2000
vh_init "dpdk-vhost-net-$VARIANT"
dpdk_init

FWD=macswap
FRONT_ARGS=()
case "$VARIANT" in
split) ;;
split-nomrg) FRONT_ARGS+=(--no-mrg) ;;
packed) FRONT_ARGS+=(--packed) ;;
packed-nomrg) FRONT_ARGS+=(--packed --no-mrg) ;;
io) FWD=io ;;
*) vh_fail "unknown variant $VARIANT" ;;
esac

SOCK=$VH_TMP/vhost.sock
dpdk_testpmd testpmd 120 "net_vhost0,iface=$SOCK,queues=1" --forward-mode="$FWD" \
	--stats-period 3600
TP=$VH_SPAWNED_PID
TPLOG=$VH_TMP/testpmd.log
vh_wait_socket "$SOCK" 30 "$TP"

for run in 1 2; do
	out=$VH_TMP/front-$run.txt
	timeout --kill-after=5 60 "$DPDK_PROGS/dpdk_net_front" check "unix:$SOCK" --frames "$FRAMES" \
		--fwd "$FWD" "${FRONT_ARGS[@]}" >"$out" 2>&1 || {
		cat "$out"
		vh_fail "run $run: dpdk_net_front check failed"
	}
	cat "$out"
	grep -q "^check: $FRAMES frames sent, $FRAMES received back byte for byte" "$out" ||
		vh_fail "run $run: not every frame came back"
done

# What DPDK says it negotiated = what vh_net acked (plus VHOST_USER_F_PROTOCOL_FEATURES, bit 30,
# which DPDK keeps in its value and vh_net reports separately).
ours=$(sed -n 's/^negotiated 0x\([0-9a-f]*\):.*/\1/p' "$VH_TMP/front-1.txt")
theirs=$(sed -n 's/.*negotiated Virtio features: 0x\([0-9a-f]*\).*/\1/p' "$TPLOG" | tail -n 1)
[ -n "$ours" ] && [ -n "$theirs" ] || vh_fail "negotiated features not found (ours '$ours', DPDK '$theirs')"
[ $((0x$ours | (1 << 30))) -eq $((0x$theirs | (1 << 30))) ] ||
	vh_fail "features differ: vh_net acked 0x$ours, DPDK logged 0x$theirs"
case "$VARIANT" in
packed*) grep -q "^ring packed" "$VH_TMP/front-1.txt" || vh_fail "packed ring not used" ;;
*) grep -q "^ring split" "$VH_TMP/front-1.txt" || vh_fail "split ring not used" ;;
esac
grep -q "^offered .*VIRTIO_F_RING_PACKED" "$VH_TMP/front-1.txt" ||
	vh_fail "DPDK 22.11's vhost PMD should offer VIRTIO_F_RING_PACKED"
vh_log "DPDK negotiated 0x$theirs; vh_net acked 0x$ours"

dpdk_stop "$TP"
for f in RX-packets TX-packets; do
	n=$(dpdk_fwd_stat "$TPLOG" "$f")
	[ "$n" -eq $((2 * FRAMES)) ] || vh_fail "testpmd $f: $n, want $((2 * FRAMES))"
done
[ "$(dpdk_fwd_stat "$TPLOG" RX-dropped)" -eq 0 ] || vh_fail "testpmd dropped frames"
vh_log "$VARIANT: PASS (2 x $FRAMES frames through testpmd $FWD)"
