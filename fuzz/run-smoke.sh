#!/usr/bin/env bash
# Runs every fuzz harness for $FUZZ_SECONDS on its seed corpus (a smoke test, not a campaign).
set -euo pipefail
build=${1:-build-fuzz}
secs=${FUZZ_SECONDS:-20}
src=$(cd "$(dirname "$0")" && pwd)
fail=0 n=0
for h in "$build"/fuzz/fuzz_*; do
	[ -f "$h" ] && [ -x "$h" ] || continue
	name=$(basename "$h"); name=${name#fuzz_}
	seeds="$src/corpus/$name"
	work=$(mktemp -d)
	n=$((n + 1))
	dirs=("$work")
	[ -d "$seeds" ] && dirs+=("$seeds")
	if timeout $((secs + 60)) "$h" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
		-print_final_stats=0 -artifact_prefix="$work.art-" "${dirs[@]}" >"$work.log" 2>&1; then
		echo "fuzz $name: ok ($(grep -o 'Done [0-9]* runs' "$work.log" || echo ran))"
	else
		echo "fuzz $name: FAILED"; tail -40 "$work.log"; fail=$((fail + 1))
		mkdir -p "$build/fuzz-failures"
		cp "$work".art-* "$build/fuzz-failures/" 2>/dev/null && echo "fuzz $name: reproducer kept in $build/fuzz-failures/"
	fi
	rm -rf "$work" "$work.log" "$work".art-*
done
echo "fuzz: $((n - fail)) passed, $fail failed"
[ "$fail" -eq 0 ]
