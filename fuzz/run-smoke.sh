#!/usr/bin/env bash
# Runs every fuzz harness on its seed corpus (a smoke test, not a campaign: see run-campaign.sh).
# Each runs $FUZZ_SECONDS, or by default an equal share of $FUZZ_BUDGET seconds (180) capped at
# 20 s, so that more harnesses do not make CI slower.
set -euo pipefail
build=${1:-build-fuzz}
src=$(cd "$(dirname "$0")" && pwd)
nh=$(find "$build/fuzz" -maxdepth 1 -name 'fuzz_*' -type f -executable | wc -l)
secs=${FUZZ_SECONDS:-$(( ${FUZZ_BUDGET:-180} / (nh > 0 ? nh : 1) ))}
[ -n "${FUZZ_SECONDS:-}" ] || [ "$secs" -le 20 ] || secs=20
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
