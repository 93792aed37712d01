#!/usr/bin/env bash
# make fuzz: a fuzzing campaign. Runs each harness of $build/fuzz for $FUZZ_S seconds (default
# 3600), one after the other; a crash, leak, timeout or OOM is kept as a reproducer and the
# harness restarts on its corpus for the rest of its time. New corpus entries are merged back,
# minimized (-merge=1: only inputs that add coverage), into the in-tree fuzz/corpus/<name>/.
# Writes a markdown table (harness, time, runs, cov, ft, corpus, findings) to stdout and to
# $build/fuzz-report.md; reproducers go to $build/fuzz-findings/<name>/.
#
#   FUZZ_S=600 ./fuzz/run-campaign.sh build-fuzz          # 10 min each
#   FUZZ_HARNESSES="blk net" FUZZ_S=60 ./fuzz/run-campaign.sh build-fuzz
#   FUZZ_NICE=19: run at that nice level (a shared machine); FUZZ_NO_MERGE=1: keep the tree as is.
#   FUZZ_JOBS=N: run N harnesses at once (default 1); each still gets FUZZ_S seconds of wall time,
#   so with N above the core count each harness gets a share of a core (the report says how much).
# Exit status: 0 when no harness found anything, 1 otherwise.
set -uo pipefail
build=${1:-build-fuzz}
secs=${FUZZ_S:-3600}
nice_lvl=${FUZZ_NICE:-0}
src=$(cd "$(dirname "$0")" && pwd)
report="$build/fuzz-report.md"
findings_dir="$build/fuzz-findings"
logs="$build/fuzz-logs"
mkdir -p "$findings_dir" "$logs"

harnesses=()
if [ -n "${FUZZ_HARNESSES:-}" ]; then
	for n in $FUZZ_HARNESSES; do harnesses+=("$build/fuzz/fuzz_$n"); done
else
	for h in "$build"/fuzz/fuzz_*; do
		[ -f "$h" ] && [ -x "$h" ] && harnesses+=("$h")
	done
fi

# Reproducers only: libFuzzer's slow-unit-* files are information (a busy machine makes them).
count_findings() {
	find "$1" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
		-o -name 'oom-*' \) | wc -l
}

jobs=${FUZZ_JOBS:-1}
rowdir=$(mktemp -d)
trap 'rm -rf "$rowdir"' EXIT

# One harness: FUZZ_S seconds, then the merge; writes its table row and finding count to $rowdir.
run_one() {
	local h=$1 name seeds work log start runs cov ft execs nfind left before rc r after dur last corp
	name=$(basename "$h"); name=${name#fuzz_}
	seeds="$src/corpus/$name"
	mkdir -p "$seeds" "$findings_dir/$name"
	work=$(mktemp -d)
	log="$logs/$name.log"
	: >"$log"
	start=$(date +%s)
	runs=0 cov=- ft=- execs=- nfind=0
	# A finding stops libFuzzer: keep the reproducer, go on with the same corpus.
	while :; do
		left=$((secs - ($(date +%s) - start)))
		[ "$left" -ge 5 ] || break
		before=$(count_findings "$findings_dir/$name")
		timeout -k 10 $((left + 120)) nice -n "$nice_lvl" "$h" -max_total_time="$left" \
			-rss_limit_mb=2048 -timeout=25 -print_final_stats=1 \
			-artifact_prefix="$findings_dir/$name/" "$work" "$seeds" >>"$log" 2>&1
		rc=$?
		r=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | awk '{print $2}')
		runs=$((runs + ${r:-0}))
		# Count each run's units once: the stats line of this run is now consumed.
		sed -i 's/^stat::number_of_executed_units:/stat::counted_units:/' "$log"
		after=$(count_findings "$findings_dir/$name")
		nfind=$((nfind + after - before))
		[ "$rc" -eq 0 ] && break
		[ "$after" -gt "$before" ] || { echo "fuzz $name: exit $rc without a reproducer (see $log)"; nfind=$((nfind + 1)); break; }
		echo "fuzz $name: finding kept in $findings_dir/$name/, continuing"
	done
	dur=$(($(date +%s) - start))
	last=$(grep -E '^#[0-9]+[[:space:]]+(DONE|NEW|REDUCE|pulse|INITED)' "$log" | tail -1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	execs=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | tail -1 | awk '{print $2}')
	if [ -z "${FUZZ_NO_MERGE:-}" ]; then
		nice -n "$nice_lvl" "$h" -merge=1 -rss_limit_mb=2048 -timeout=25 "$seeds" "$work" \
			>>"$log" 2>&1 || echo "fuzz $name: merge failed (see $log)"
	fi
	corp=$(find "$seeds" -type f | wc -l)
	rm -rf "$work"
	echo "$nfind" >"$rowdir/$name.findings"
	echo "| $name | ${dur}s | $runs | ${execs:--} | ${cov:--} | ${ft:--} | $corp | $nfind |" >"$rowdir/$name.row"
	echo "fuzz $name: ${dur}s, $runs runs, cov ${cov:--}, ft ${ft:--}, corpus $corp, findings $nfind"
}

t0=$(date +%s)
cpu0=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
for h in "${harnesses[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
	run_one "$h" &
done
wait
wall=$(($(date +%s) - t0))
# Children's CPU time (utime + stime of the waited-for harnesses), in clock ticks.
cpu_s=$(( ($(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat) - cpu0) / $(getconf CLK_TCK) ))
rows=()
total_findings=0
for h in "${harnesses[@]}"; do
	name=$(basename "$h"); name=${name#fuzz_}
	[ -f "$rowdir/$name.row" ] || continue
	rows+=("$(cat "$rowdir/$name.row")")
	total_findings=$((total_findings + $(cat "$rowdir/$name.findings")))
done

{
	echo "## Fuzz campaign ($(date -u +%Y-%m-%dT%H:%MZ), FUZZ_S=$secs per harness, FUZZ_JOBS=$jobs, $(nproc) CPUs)"
	echo
	echo "| harness | time | runs | exec/s | cov | ft | corpus | findings |"
	echo "|---|---|---|---|---|---|---|---|"
	printf '%s\n' "${rows[@]}"
	echo
	echo "cov / ft: libFuzzer's edge coverage and features at the end of the run; corpus: files"
	echo "in fuzz/corpus/<harness>/ after the merge; findings: reproducers in $findings_dir/."
	echo "Wall time ${wall}s; CPU time of all harnesses ${cpu_s}s ($((cpu_s / ${#harnesses[@]}))s per harness on average)."
} >"$report"
echo
cat "$report"
[ "$total_findings" -eq 0 ]
