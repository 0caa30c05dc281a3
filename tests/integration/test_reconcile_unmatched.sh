#!/usr/bin/env bash
# test_reconcile_unmatched.sh — a month of billing events whose offers are not loaded yet (every
# charge group unmatched, one NO_OFFER exception each) reconciles, and reconciles again: a nightly
# job must be safe to run twice. The balance assertions' query once nested loops over the run's
# freshly stored rows (the planner's statistics had none of them) and compared every group with
# every exception: minutes at 25k groups, on the first run and on the second. Each run must now
# end well inside a generous limit, with the same counts.
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
harness_init reconcile-unmatched reconcile_unmatched

if ! cc -std=c17 -O2 -o "$work/gen" "$TOP/bench/gen.c" 2>"$work/cc.err"; then
	ko "could not build bench/gen: $(head -c 300 "$work/cc.err")"
	exit 1
fi
"$work/gen" --seed 7 --events 100000 --metering 1000 --period 2026-10 --out "$work/m" >/dev/null 2>&1
check "generate a 100k-event month" test -s "$work/m/billing_event.csv"
settle ingest "$work/m/billing_event.csv" >"$work/ingest.log" 2>&1
check "ingest its billing events only (no offers)" test $? = 0

# 100k events make ~25k groups: a few seconds per run; the quadratic plan took minutes.
for run in 1 2; do
	timeout 150 "$SETTLE_BIN" --db "$DB" reconcile --period 2026-10 >"$work/run$run.out" 2>"$work/run$run.err"
	rc=$?
	check "reconcile run $run ends (exit $rc)" test $rc = 0
	[ $rc = 0 ] || tail -n 3 "$work/run$run.err"
done
counts() { sed -e 's/.*: run [0-9]*: //' "$1"; }
check "both runs find the same groups and exceptions" test "$(counts "$work/run1.out")" = "$(counts "$work/run2.out")"
check "every group is unmatched" grep -q ' 0 allocated' "$work/run2.out"
check "each run stored its NO_OFFER exceptions" \
	test "$(sql "SELECT count(DISTINCT run_id) FROM settle.exception WHERE code = 'NO_OFFER'")" = 2
