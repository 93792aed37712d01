#!/usr/bin/env bash
# vhctl against DPDK's vhost PMD (dpdk-testpmd --vdev net_vhost0, --forward-mode=macswap):
# `vhctl probe` must tell a net device from DPDK's feature bits (which break a virtio-net
# dependency rule: HOST_ECN without HOST_TSO4/6) and name them as net bits, without errors;
# `vhctl net probe` sees the echo; `vhctl net bench --json` gets every frame back (64 B and
# 1518 B, ping and flood) and its frame counts match testpmd's own forward statistics.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$VH_INTEROP/progs/dpdk.sh"

vh_init dpdk-vhctl
dpdk_init
vh_need python3
VHCTL=$LIBVHOST_BUILD/tools/vhctl/vhctl
SOCK=$VH_TMP/vhost.sock
dpdk_testpmd testpmd 120 "net_vhost0,iface=$SOCK,queues=1" --forward-mode=macswap \
	--stats-period 3600
TP=$VH_SPAWNED_PID
vh_wait_socket "$SOCK" 30 "$TP"

timeout --kill-after=5 20 "$VHCTL" probe --json "$SOCK" >"$VH_TMP/probe.json" 2>"$VH_TMP/probe.err" ||
	vh_fail "vhctl probe failed: $(cat "$VH_TMP/probe.err")"
[ ! -s "$VH_TMP/probe.err" ] || vh_fail "vhctl probe wrote to stderr: $(cat "$VH_TMP/probe.err")"
python3 - "$VH_TMP/probe.json" <<'PY' || vh_fail "probe JSON: $(cat "$VH_TMP/probe.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["device"] == "net" and d["device_source"] == "features", d["device"]
for n in ("VIRTIO_NET_F_CSUM", "VIRTIO_NET_F_MRG_RXBUF", "VIRTIO_NET_F_MQ", "VIRTIO_F_VERSION_1"):
    assert n in d["features_names"], n
assert not any(n.startswith("bit ") or "BLK" in n for n in d["features_names"]), d["features_names"]
PY

timeout --kill-after=5 20 "$VHCTL" net probe "$SOCK" >"$VH_TMP/netprobe.txt" 2>&1 ||
	vh_fail "vhctl net probe failed: $(cat "$VH_TMP/netprobe.txt")"
grep -q '^echo: a 64-byte frame came back' "$VH_TMP/netprobe.txt" ||
	vh_fail "no echo: $(cat "$VH_TMP/netprobe.txt")"
grep -qi 'warning\|error' "$VH_TMP/netprobe.txt" && vh_fail "net probe: $(cat "$VH_TMP/netprobe.txt")"

timeout --kill-after=5 60 "$VHCTL" net bench "$SOCK" --runtime 1 --json >"$VH_TMP/bench.json" \
	2>"$VH_TMP/bench.err" || vh_fail "vhctl net bench failed: $(cat "$VH_TMP/bench.err")"
total=$(python3 - "$VH_TMP/bench.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
r = d["results"]
assert [(x["mode"], x["frame_bytes"]) for x in r] == [("ping", 64), ("flood", 64), ("ping", 1518), ("flood", 1518)], r
assert all(x["received"] == x["sent"] > 0 and x["latency_us"]["p99"] > 0 for x in r), r
print(sum(x["sent"] for x in r))
PY
) || vh_fail "bench JSON: $(cat "$VH_TMP/bench.json")"
dpdk_stop "$TP"
# testpmd counts the one net probe frame too.
rx=$(dpdk_fwd_stat "$VH_TMP/testpmd.log" RX-packets)
[ "$rx" -eq $((total + 1)) ] || vh_fail "testpmd received $rx frames, vhctl sent $total + 1"
vh_log "PASS: testpmd forwarded $rx frames; $(python3 -c 'import json,sys
for x in json.load(open(sys.argv[1]))["results"]: print(x["mode"], x["frame_bytes"], "B:", round(x["pps"]), "pps;", end=" ")' "$VH_TMP/bench.json")"
