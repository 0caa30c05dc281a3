#!/usr/bin/env bash
# test_report_demo.sh — the demo month (fixtures/demo/inbox: a realistic small month of every feed
# kind, with deliberate anomalies) reported at a fixed as-of: every CSV of 2026-09 and 2026-10
# equals fixtures/golden/demo/<period>/, byte for byte. The goldens were checked by hand against
# SPEC §4 (splits, fees, payouts, deposits, usage); SETTLE_UPDATE_GOLDEN=1 rewrites them from this
# run, for a reviewed change of the rules or of the fixtures.
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
harness_init demo report_demo
# shellcheck source=../lib/golden.sh
. "$TOP/tests/lib/golden.sh"

settle ingest "$TOP"/fixtures/demo/inbox/*.csv >"$work/ingest.log" 2>&1
rc=$?
check "ingest the demo month" test $rc = 0 -o $rc = 4
sql "UPDATE settle.ingest_file SET ingested_at = '2026-11-01T00:00:00Z'" || ko "set ingest instants"

for p in 2026-09 2026-10; do
	settle report --period $p --as-of 2026-11-02T03:00:00Z --out "$work/reports" 2>"$work/report-$p.log"
	rc=$?
	check "$p: report exits 0" test $rc = 0
	[ $rc = 0 ] || cat "$work/report-$p.log"
	check "$p: every CSV equals its golden file" golden "$TOP/fixtures/golden/demo/$p" "$work/reports/$p"
	check "$p: sha256sum -c MANIFEST passes" sh -c "cd '$work/reports/$p' && sha256sum --quiet -c MANIFEST"
done
check "the September charges show in September only" \
	sh -c "grep -q 'tr-i-09' '$work/reports/2026-09/allocations.csv' && ! grep -q 'tr-i-09' '$work/reports/2026-10/allocations.csv'"
