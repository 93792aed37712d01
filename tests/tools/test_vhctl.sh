#!/bin/bash
# vhctl against vh-net --loopback and vh-blk, as a user runs it: names, config, JSON documents.
#   probe   vhctl probe tells net from blk, names the bits per type, decodes both configs, and
#           prints no error; says it cannot tell vh-rng's type; --type forces a type; --json
#           parses and holds the same
#   net     vhctl net probe / net bench against vh-net --loopback: the frames come back, pps and
#           latency percentiles for 64 B and 1518 B frames, text and JSON
#   blk     blk bench --json (results with p50/p99/p99.9, per-second samples) and --plot SVG;
#           the progress line on a terminal only; blk read/write/info/id/flush --json
# VARIANTS: probe net blk
set -euo pipefail
. "$(dirname "$0")/../interop/lib.sh"

VARIANT=${1:-probe}
VHCTL=$LIBVHOST_BUILD/tools/vhctl/vhctl
VHNET=$LIBVHOST_BUILD/devices/vh-net/vh-net
VHBLK=$LIBVHOST_BUILD/devices/vh-blk/vh-blk
vh_init "vhctl-$VARIANT"
vh_need python3

# run SECS ARGS...: vhctl bounded by a timeout, stdout to $VH_TMP/out, stderr to $VH_TMP/err.
run()
{
	local secs=$1
	shift
	timeout --kill-after=5 "$secs" "$VHCTL" "$@" >"$VH_TMP/out" 2>"$VH_TMP/err"
}

# has PATTERN: the last stdout holds PATTERN (extended regex).
has()
{
	grep -Eq -- "$1" "$VH_TMP/out" || { cat "$VH_TMP/out" >&2; vh_fail "output lacks '$1'"; }
}

# jcheck EXPR...: the last stdout is one JSON document d and each python EXPR holds.
jcheck()
{
	python3 - "$VH_TMP/out" "$@" <<'PY' || { cat "$VH_TMP/out" >&2; vh_fail "JSON check failed"; }
import json, sys
d = json.load(open(sys.argv[1]))
for e in sys.argv[2:]:
    if not eval(e):
        sys.exit("false: " + e)
PY
}

no_stderr()
{
	[ ! -s "$VH_TMP/err" ] || { cat "$VH_TMP/err" >&2; vh_fail "$1 wrote to stderr"; }
}

start_net()
{
	NSOCK=$VH_TMP/net.sock
	vh_spawn vhnet 100 "$VHNET" --socket-path "$NSOCK" --loopback "$@"
	vh_wait_socket "$NSOCK" 10 "$VH_SPAWNED_PID"
}

start_blk()
{
	BSOCK=$VH_TMP/blk.sock
	vh_spawn vhblk 100 "$VHBLK" --socket-path "$BSOCK" "$@"
	vh_wait_socket "$BSOCK" 10 "$VH_SPAWNED_PID"
}

test_probe()
{
	start_net --queue-pairs 2 --mtu 9000 --mac 52:54:00:aa:bb:cc --inband-notifications
	start_blk --blk-file memory:64M --read-only
	run 20 probe "$NSOCK" || vh_fail "probe on vh-net failed"
	no_stderr "probe on vh-net"
	has '^device: net \(virtio id 1, guessed'
	has '^   3 VIRTIO_NET_F_MTU$'
	has '^   5 VIRTIO_NET_F_MAC$'
	has '^  15 VIRTIO_NET_F_MRG_RXBUF$'
	has '^  22 VIRTIO_NET_F_MQ$'
	has '^  32 VIRTIO_F_VERSION_1$'
	has '^config \(virtio-net, 12 bytes\):$'
	has '^  mac +52:54:00:aa:bb:cc$'
	has '^  max_virtqueue_pairs +2$'
	has '^  mtu +9000$'
	has '^  link_up +1$'
	# Protocol features as offered, by name: the library's defaults and the opt-in switch.
	has '^  21 VHOST_USER_PROTOCOL_F_GPA_ADDRESSES$'
	has '^  14 VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS$'
	has '^  15 VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS$'
	# Postcopy: offered where userfaultfd works on shared memory (root, as in CI).
	has '^   8 VHOST_USER_PROTOCOL_F_PAGEFAULT$'
	has '^protocol features negotiated by libvhost: 0x'
	! grep -Eq 'BLK|bit [0-9]|capacity' "$VH_TMP/out" || vh_fail "net probe shows blk names"
	! grep -q 'DEVICE_STATE' "$VH_TMP/out" || vh_fail "vh-net has no state hooks but offers DEVICE_STATE"
	grep -qi 'error' "$VH_TMP/vhnet.log" && vh_fail "vh-net logged an error for the probe"

	# GET_QUEUE_NUM: 2 pairs and the control queue (VIRTIO_NET_F_CTRL_VQ, ring 4).
	run 20 probe --json "$NSOCK" || vh_fail "probe --json on vh-net failed"
	no_stderr "probe --json on vh-net"
	jcheck 'd["device"] == "net"' 'd["device_id"] == 1' 'd["device_source"] == "features"' \
		'"VIRTIO_NET_F_MTU" in d["features_names"]' '"VIRTIO_NET_F_MAC" in d["features_names"]' \
		'not any("BLK" in n for n in d["features_names"])' \
		'"VHOST_USER_PROTOCOL_F_CONFIG" in d["protocol_features_names"]' \
		'"VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS" in d["protocol_features_names"]' \
		'not int(d["protocol_features_negotiated"], 16) & (1 << 14)' \
		'd["queues"] == 5' 'd["config_bytes"] == 12' \
		'd["config"] == {"mac": "52:54:00:aa:bb:cc", "status": 1, "link_up": 1, "max_virtqueue_pairs": 2, "mtu": 9000}'

	run 20 probe "$BSOCK" || vh_fail "probe on vh-blk failed"
	no_stderr "probe on vh-blk"
	has '^device: blk \(virtio id 2, guessed'
	has '^   5 VIRTIO_BLK_F_RO$'
	has '^   9 VIRTIO_BLK_F_FLUSH$'
	# vh-blk has the state_save/state_load hooks: DEVICE_STATE (migration) is offered.
	has '^  19 VHOST_USER_PROTOCOL_F_DEVICE_STATE$'
	has '^  capacity_bytes +67108864$'
	has '^  21 VHOST_USER_PROTOCOL_F_GPA_ADDRESSES$'
	! grep -q 'INBAND_NOTIFICATIONS' "$VH_TMP/out" || vh_fail "blk offers in-band notifications unasked"
	! grep -q 'NET' "$VH_TMP/out" || vh_fail "blk probe shows net names"
	run 20 probe --json "$BSOCK" || vh_fail "probe --json on vh-blk failed"
	jcheck 'd["device"] == "blk"' '"VIRTIO_BLK_F_RO" in d["features_names"]' \
		'd["config"]["capacity_bytes"] == 64 << 20' 'd["config"]["blk_size"] == 512' \
		'd["config_bytes"] == 60' \
		'"VHOST_USER_PROTOCOL_F_DEVICE_STATE" in d["protocol_features_names"]'

	# --type forces a type: fs has no names for net's bits and no decoder for its config.
	run 20 probe --type fs "$NSOCK" || vh_fail "probe --type fs failed"
	no_stderr "probe --type fs"
	has '^device: fs \(virtio id 26, from --type\)$'
	has '^   5 bit 5$'
	has '^config: not decoded for virtio-fs$'
	run 20 probe --type net --json "$NSOCK" || vh_fail "probe --type net --json failed"
	jcheck 'd["device_source"] == "option"' 'd["config"]["mtu"] == 9000'
	# vh-rng offers no device bits: the type cannot be told, and probe says so without errors.
	local rsock=$VH_TMP/rng.sock
	vh_spawn vhrng 100 "$LIBVHOST_BUILD/examples/vh-rng/vh-rng" --socket-path "$rsock"
	vh_wait_socket "$rsock" 10 "$VH_SPAWNED_PID"
	run 20 probe "$rsock" || vh_fail "probe on vh-rng failed"
	no_stderr "probe on vh-rng"
	has '^device: unknown: no device-specific feature bits are offered; --type TYPE names it$'
	has '^config: not read \(device type unknown; --type TYPE decodes it\)$'
	run 20 probe --json --type rng "$rsock" || vh_fail "probe --type rng failed"
	jcheck 'd["device"] == "rng" and d["device_id"] == 4' 'd["config_bytes"] == 0'
	run 20 probe --json "$rsock" || vh_fail "probe --json on vh-rng failed"
	jcheck 'd["device"] is None and d["device_id"] == 0 and d["device_source"] is None' \
		'd["device_reason"] == "no device-specific feature bits are offered"'
	local st=0
	run 20 probe --type bogus "$NSOCK" || st=$?
	[ "$st" = 2 ] || vh_fail "probe --type bogus exited $st, expected 2"
	grep -q "unknown device type 'bogus'" "$VH_TMP/err" || vh_fail "no message for --type bogus"
}

test_net()
{
	start_net --queue-pairs 2 --mac 52:54:00:aa:bb:cc
	run 20 net probe "$NSOCK" || vh_fail "net probe failed"
	no_stderr "net probe"
	has '^negotiated: .*VIRTIO_NET_F_MAC .*VIRTIO_F_VERSION_1'
	has '^mac: 52:54:00:aa:bb:cc$'
	has '^queue pairs: 2 offered, 1 used$'
	has '^echo: a 64-byte frame came back in [0-9.]+ us$'
	run 20 net probe --json --packed "$NSOCK" || vh_fail "net probe --json --packed failed"
	jcheck 'd["echo"] is True' 'd["ring"] == "packed"' 'd["mtu"] == 1500' \
		'"VIRTIO_NET_F_MRG_RXBUF" in d["negotiated"]' 'd["queue_pairs_offered"] == 2'

	# Text: one row per test, every frame back, the columns blk bench has.
	run 60 net bench "$NSOCK" --runtime 1 || vh_fail "net bench failed"
	no_stderr "net bench in a pipe (no progress line expected)"
	has '^test +bytes +sent +received +lost +frames/s +Mbit/s +avg\(us\) +p50\(us\) +p99\(us\) +p99.9 +max\(us\)$'
	local mode size
	for size in 64 1518; do
		for mode in ping flood; do
			awk -v m=$mode -v s=$size '$1 == m && $2 == s && $3 > 0 && $3 == $4 && $5 == 0 &&
				$6 > 0 { ok = 1 } END { exit !ok }' "$VH_TMP/out" ||
				{ cat "$VH_TMP/out" >&2; vh_fail "no clean $mode row for $size B"; }
		done
	done
	run 60 net bench "$NSOCK" --runtime 1 --sizes 64,1518 --mode flood --json ||
		vh_fail "net bench --json failed"
	no_stderr "net bench --json"
	jcheck 'len(d["results"]) == 2' \
		'[r["frame_bytes"] for r in d["results"]] == [64, 1518]' \
		'all(r["mode"] == "flood" and r["received"] == r["sent"] > 0 and r["lost"] == 0 for r in d["results"])' \
		'all(0 < r["latency_us"]["p50"] <= r["latency_us"]["p99"] <= r["latency_us"]["p99_9"] <= r["latency_us"]["max"] for r in d["results"])' \
		'all(r["pps"] > 0 for r in d["results"])'
	# Two queue pairs: every frame back over both, with bursts.
	run 60 net bench "$NSOCK" --runtime 1 --sizes 64 --mode flood --queue-pairs all --json ||
		vh_fail "net bench --queue-pairs all failed"
	jcheck 'd["queue_pairs_used"] == 2' 'd["results"][0]["received"] == d["results"][0]["sent"] > 0'
	# A backend that does not echo: a clear error, exit 1.
	start_blk --blk-file memory:16M
	local st=0
	run 20 net bench "$BSOCK" --runtime 1 || st=$?
	[ "$st" = 1 ] || vh_fail "net bench on a blk backend exited $st"
}

test_blk()
{
	start_blk --blk-file memory:32M
	run 60 blk bench "$BSOCK" --runtime 2 --rw randrw --json --plot "$VH_TMP/plot.svg" ||
		vh_fail "blk bench --json --plot failed"
	no_stderr "blk bench --json in a pipe"
	jcheck 'd["rw"] == "randrw" and d["bs"] == 4096 and d["device"]["capacity_bytes"] == 32 << 20' \
		'[r["op"] for r in d["results"]] == ["read", "write", "total"]' \
		'all(0 < r["latency_us"]["p50"] <= r["latency_us"]["p99"] <= r["latency_us"]["p99_9"] <= r["latency_us"]["max"] for r in d["results"])' \
		'd["results"][2]["requests"] == d["results"][0]["requests"] + d["results"][1]["requests"]' \
		'len(d["samples"]) == 2 and all(s["iops"] > 0 and s["lat_avg_us"] > 0 for s in d["samples"])' \
		'[round(s["t"]) for s in d["samples"]] == [1, 2]'
	python3 - "$VH_TMP/plot.svg" <<'PY' || vh_fail "the --plot SVG is not what was expected"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg", root.tag
lines = root.findall(ns + "polyline")
assert len(lines) == 2, len(lines)
for l in lines:
    pts = [tuple(map(float, p.split(","))) for p in l.get("points").split()]
    assert len(pts) == 2 and pts[0][0] < pts[1][0], pts
texts = " ".join(t.text or "" for t in root.iter(ns + "text"))
assert "IOPS" in texts and "latency" in texts and "randrw" in texts, texts
PY
	# Text output: the table blk_backend_bench.sh parses, and no progress line in a pipe.
	run 60 blk bench "$BSOCK" --runtime 1 || vh_fail "blk bench failed"
	no_stderr "blk bench in a pipe"
	has '^op +requests +IOPS +MiB/s +avg\(us\) +p50\(us\) +p99\(us\) +p99.9 +max\(us\)$'
	has '^read +[0-9]+ +[0-9]+ '
	# On a terminal the progress line is there.
	if command -v script >/dev/null; then
		timeout 60 script -qec "$VHCTL blk bench $BSOCK --runtime 2 >/dev/null" /dev/null \
			>"$VH_TMP/tty" 2>&1 || vh_fail "blk bench under script failed"
		grep -q '\[   2s/2s\] .* IOPS' "$VH_TMP/tty" ||
			{ cat -v "$VH_TMP/tty" >&2; vh_fail "no progress line on a terminal"; }
	fi

	head -c 1001 /dev/urandom >"$VH_TMP/pat"
	run 20 blk write "$BSOCK" --offset 8192 --json <"$VH_TMP/pat" || vh_fail "blk write --json"
	jcheck 'd == {"offset": 8192, "bytes": 1001, "flushed": True}'
	run 20 blk read "$BSOCK" --offset 8192 --length 1001 --json || vh_fail "blk read --json"
	python3 -c 'import base64, json, sys
d = json.load(open(sys.argv[1]))
assert d["offset"] == 8192 and d["length"] == 1001
assert base64.b64decode(d["data_base64"]) == open(sys.argv[2], "rb").read()' \
		"$VH_TMP/out" "$VH_TMP/pat" || vh_fail "blk read --json does not return the bytes written"
	run 20 blk info "$BSOCK" --json || vh_fail "blk info --json"
	jcheck 'd["capacity_bytes"] == 32 << 20' 'd["flush"] is True' 'd["read_only"] is False'
	run 20 blk id "$BSOCK" --json || vh_fail "blk id --json"
	jcheck 'd == {"op": "id", "ok": True, "id": "vh-blk"}'
	run 20 blk flush "$BSOCK" --json || vh_fail "blk flush --json"
	jcheck 'd == {"op": "flush", "ok": True}'
	run 20 blk zeroes "$BSOCK" --offset 0 --length 4096 --unmap --json || vh_fail "zeroes --json"
	jcheck 'd["op"] == "zeroes" and d["unmap"] is True and d["length"] == 4096'
}

"test_$VARIANT"
vh_log "PASS"
