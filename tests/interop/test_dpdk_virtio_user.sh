#!/usr/bin/env bash
# DPDK's virtio-user frontend (dpdk-testpmd --vdev net_virtio_user0, client) against a net device
# built on libvhost's backend library (tests/interop/progs/dpdk_net_echo: every transmitted frame
# is checked, its MACs are swapped and it goes into the next receive buffer).
# VARIANTS: split packed split-nomrg poll
#
#   split, packed   ring layout (packed: virtio-user packed_vq=1; VIRTIO_F_RING_PACKED must be
#                   negotiated); VIRTIO_NET_F_MRG_RXBUF offered and negotiated
#   split-nomrg     the device does not offer MRG_RXBUF: it must not be negotiated
#   poll            split, the device's rings served by a busy-polling worker thread
#                   (VH_SERVER_DATAPATH_POLL) instead of the kick eventfds
#
# testpmd sends one burst of 32 txonly frames to peer 02:76:68:00:00:09 (--tx-first), then
# forwards with macswap: the 32 frames ping-pong between testpmd and the echo device for a few
# seconds. The echo device checks every frame it gets (testpmd's txonly IPv4/UDP frame to the peer
# MAC, valid IPv4 header checksum: a frame that came back through both rings intact) and has a
# receive buffer for each. Pass: thousands of round trips, none bad or dropped, the first frame
# from virtio-user's MAC, and testpmd's counters agree with the echo device's to within the 32
# frames in flight.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$VH_INTEROP/progs/dpdk.sh"

VARIANT=${1:-split}
PEER=02:76:68:00:00:09
MAC=02:76:68:00:00:0a
vh_init "dpdk-virtio-user-$VARIANT"
dpdk_init

VDEV_EXTRA=
ECHO_ARGS=()
case "$VARIANT" in
split) ;;
packed) VDEV_EXTRA=,packed_vq=1 ;;
split-nomrg) ECHO_ARGS+=(--no-mrg) ;;
poll) ECHO_ARGS+=(--poll) ;;
*) vh_fail "unknown variant $VARIANT" ;;
esac

SOCK=$VH_TMP/echo.sock
ECHOLOG=$VH_TMP/echo.log
TPLOG=$VH_TMP/testpmd.log
vh_spawn echo 120 "$DPDK_PROGS/dpdk_net_echo" "$SOCK" --txonly "$PEER" "${ECHO_ARGS[@]}"
ECHO=$VH_SPAWNED_PID
vh_wait_socket "$SOCK" 20 "$ECHO"

dpdk_testpmd testpmd 120 "net_virtio_user0,path=$SOCK,queues=1,mac=$MAC$VDEV_EXTRA" \
	--forward-mode=macswap --tx-first --eth-peer="0,$PEER" --stats-period 3600
TP=$VH_SPAWNED_PID
vh_wait_log "$ECHOLOG" "^negotiated " 30 "$ECHO"
vh_wait_log "$TPLOG" "forwards packets on 1 streams" 30 "$TP"
# The ping-pong runs for a fixed time: it is the measurement window, not a wait for readiness.
sleep 3
dpdk_stop "$TP"
vh_kill "$ECHO"
cat "$ECHOLOG"

neg=$(sed -n 's/^negotiated 0x\([0-9a-f]*\):.*/\1/p' "$ECHOLOG" | tail -n 1)
has_bit() { [ $(((0x$neg >> $1) & 1)) -eq 1 ]; }
has_bit 32 || vh_fail "VIRTIO_F_VERSION_1 not negotiated"
if [ "$VARIANT" = packed ]; then
	has_bit 34 || vh_fail "VIRTIO_F_RING_PACKED not negotiated"
else
	! has_bit 34 || vh_fail "VIRTIO_F_RING_PACKED negotiated without packed_vq=1"
fi
if [ "$VARIANT" = split-nomrg ]; then
	! has_bit 15 || vh_fail "VIRTIO_NET_F_MRG_RXBUF negotiated though not offered"
else
	has_bit 15 || vh_fail "VIRTIO_NET_F_MRG_RXBUF not negotiated"
fi

line=$(grep "^echo: " "$ECHOLOG") || vh_fail "no summary from the echo device"
read -r echoed dropped bad src < <(echo "$line" |
	sed -n 's/^echo: \([0-9]*\) echoed, \([0-9]*\) dropped, \([0-9]*\) bad, first src \(.*\)$/\1 \2 \3 \4/p')
[ "$bad" -eq 0 ] || vh_fail "$bad frames from virtio-user were not testpmd's txonly frames"
[ "$dropped" -eq 0 ] || vh_fail "$dropped frames found no receive buffer"
[ "$echoed" -ge 1000 ] || vh_fail "only $echoed frames echoed"
[ "$src" = "$MAC" ] || vh_fail "first frame from $src, want virtio-user's $MAC"
rx=$(dpdk_fwd_stat "$TPLOG" RX-packets)
tx=$(dpdk_fwd_stat "$TPLOG" TX-packets)
[ "$(dpdk_fwd_stat "$TPLOG" RX-dropped)" -eq 0 ] || vh_fail "testpmd dropped frames"
# Every frame testpmd received was echoed; every frame echoed was sent by testpmd; at most the 32
# frames in flight when testpmd stopped are counted on one side only.
[ "$rx" -le "$echoed" ] && [ "$echoed" -le "$tx" ] && [ $((tx - rx)) -le 32 ] ||
	vh_fail "counters disagree: testpmd tx $tx rx $rx, echo device $echoed"
vh_log "$VARIANT: PASS (negotiated 0x$neg; $echoed frames echoed, testpmd tx $tx rx $rx)"
