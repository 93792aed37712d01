#!/usr/bin/env bash
# `make demo`: the loopback demo on built-in defaults.
#   ./scripts/demo.sh BUILD_DIR
# 1. ring loopback: a driver-side ring and a device-side ring in two threads over a shared memfd,
#    kick and call eventfds, EVENT_IDX on; requests per second for ~3 seconds.
# 2. a short ring_bench table (split/packed, batch 1/32, one and two polling threads).
set -euo pipefail

build=${1:-build}
bench="$build/bench/ring_bench"

if [[ ! -x "$bench" ]]; then
	echo "demo: $bench not found (run: meson setup $build && ninja -C $build)" >&2
	exit 1
fi

echo "== ring loopback (event-driven) =="
timeout 30 "$bench" --demo 3

echo
echo "== ring_bench (polling, 0.3 s per row) =="
timeout 60 "$bench" -t 0.3

echo
echo "demo: ok"
