#!/usr/bin/env bash
# test_report_spec.sh — the SPEC §9 worked example end to end: ingest, report, and the set's files
# byte for byte (allocations.csv and payouts.csv equal fixtures/spec-example/expected/, every file
# equals fixtures/golden/spec-example/), the CSV format, MANIFEST, modes, atomic output, reruns of
# the same command, report's usage errors, and SPEC §9's variant with the ISV's own feed
# (fixtures/spec-example/expected-isv-feed).
# SETTLE_UPDATE_GOLDEN=1 rewrites the golden files from this run instead of comparing.
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
harness_init report report_spec
# shellcheck source=../lib/golden.sh
. "$TOP/tests/lib/golden.sh"

fx=$TOP/fixtures/spec-example
out=$work/reports
set_dir=$out/2026-10

settle ingest "$fx/offers.csv" "$fx/billing_event.csv" >"$work/ingest.log" 2>&1
check "ingest the SPEC §9 files" test $? = 0
# Deterministic ingest instants, so run.csv is a golden file too (tests may; settle never updates).
sql "UPDATE settle.ingest_file SET ingested_at = '2026-11-01T00:00:00Z'" || ko "set ingest instants"

settle report --period 2026-10 --as-of 2026-11-02T00:00:00Z --out "$out" 2>"$work/report.log"
rc=$?
check "report exits 0" test $rc = 0
[ $rc = 0 ] || cat "$work/report.log"

check "allocations.csv is SPEC §9's" diff -u "$fx/expected/allocations.csv" "$set_dir/allocations.csv"
check "payouts.csv is SPEC §9's" diff -u "$fx/expected/payouts.csv" "$set_dir/payouts.csv"
check "every CSV equals its golden file" golden "$TOP/fixtures/golden/spec-example" "$set_dir"

expected_files="MANIFEST aging.csv allocations.csv disbursements.csv exceptions.csv insights.csv metering.csv payment_timing.csv payouts.csv rejected.csv run.csv settle-2026-10.xlsx tax.csv"
check "the set has exactly the SPEC §8 files and the insight files" test "$(cd "$set_dir" && ls -A | tr '\n' ' ')" = "$expected_files "
check "no temporary directory is left" test "$(ls -A "$out")" = 2026-10
check "sha256sum -c MANIFEST passes" sh -c "cd '$set_dir' && sha256sum --quiet -c MANIFEST"
check "MANIFEST lists every other file, sorted" \
	test "$(cut -c67- "$set_dir/MANIFEST" | tr '\n' ' ')" = "$(cd "$set_dir" && ls | grep -vx MANIFEST | LC_ALL=C sort | tr '\n' ' ')"

modes_ok() {
	local f m
	for f in "$set_dir"/*; do
		m=$(stat -c %a "$f")
		# 0640 or stricter: no bit outside rw-r-----
		[ $((8#$m & ~8#640)) = 0 ] || { echo "  $f has mode $m"; return 1; }
	done
}
check "report files have mode 0640 or stricter" modes_ok

csv_format_ok() {
	local f
	for f in "$set_dir"/*.csv; do
		[ "$(head -c 3 "$f" | od -An -tx1 | tr -d ' ')" != efbbbf ] || { echo "  $f has a BOM"; return 1; }
		! grep -q $'\r' "$f" || { echo "  $f has CR"; return 1; }
		[ "$(tail -c 1 "$f" | od -An -tx1 | tr -d ' ')" = 0a ] || { echo "  $f does not end in LF"; return 1; }
		iconv -f UTF-8 -t UTF-8 "$f" >/dev/null 2>&1 || { echo "  $f is not UTF-8"; return 1; }
	done
}
check "CSV files: UTF-8, no BOM, LF only" csv_format_ok
check "run.csv records period, as-of and the inputs" \
	grep -qx 'as_of,2026-11-02T00:00:00Z' "$set_dir/run.csv"
check "run.csv lists both input files with SHA-256" \
	test "$(grep -c '^input\.[0-9]*\.sha256,[0-9a-f]\{64\}$' "$set_dir/run.csv")" = 2
check "run.csv records every setting" grep -q '^config\.rounding,half_up$' "$set_dir/run.csv"
check "the workbook is a zip archive" sh -c "unzip -tq '$set_dir/settle-2026-10.xlsx' >/dev/null"

# The same command again gives the same bytes, and replaces the set in place.
cp -a "$set_dir" "$work/first"
ino_before=$(stat -c %i "$set_dir")
settle report --period 2026-10 --as-of 2026-11-02T00:00:00Z --out "$out" 2>/dev/null
check "a second report exits 0" test $? = 0
check "a second report gives byte-identical files" diff -r "$work/first" "$set_dir"
check "the second set replaced the first (a new directory)" test "$(stat -c %i "$set_dir")" != "$ino_before"
check "no temporary directory is left after a replace" test "$(ls -A "$out")" = 2026-10

# A stale temporary directory of a killed run is cleaned up by the next run of that period.
mkdir "$out/.2026-10.tmp-AAAAAA" && touch "$out/.2026-10.tmp-AAAAAA/allocations.csv"
settle report --period 2026-10 --as-of 2026-11-02T00:00:00Z --out "$out" 2>/dev/null
check "a stale temporary directory is removed" test "$(ls -A "$out")" = 2026-10

# Without --as-of the database clock is the as-of, with microseconds.
settle report --period 2026-10 --out "$work/now" 2>/dev/null
check "report without --as-of records the current instant" \
	grep -Eq '^as_of,20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}(\.[0-9]{6})?Z$' "$work/now/2026-10/run.csv"

# Usage errors: exit 2, nothing written.
exit_is() { local want=$1; shift; settle "$@" >/dev/null 2>&1; [ $? = "$want" ]; }
check "report without --period exits 2" exit_is 2 report --out "$work/x"
check "report --period 2026-13 exits 2" exit_is 2 report --period 2026-13 --out "$work/x"
check "report --period ../x exits 2" exit_is 2 report --period ../2026-10 --out "$work/x"
check "report --as-of yesterday exits 2" exit_is 2 report --period 2026-10 --as-of yesterday --out "$work/x"
check "report with an unknown option exits 2" exit_is 2 report --period 2026-10 --bogus
check "report with an extra argument exits 2" exit_is 2 report --period 2026-10 extra
check "usage errors write nothing" test ! -e "$work/x"
check "the failed reports changed nothing" diff -r "$work/first" "$set_dir"

# SPEC §9's variant: the database also holds the ISV's own feed of the sale. Its group goes to the
# ISV alone and the ISV's statement counts it only (fixtures/spec-example/expected-isv-feed).
DB=$(pg_test_createdb report_spec_isv) || ko "create the variant's database"
settle init >/dev/null 2>&1
settle ingest "$fx/offers.csv" "$fx/billing_event.csv" "$fx/billing_event_isv.csv" >"$work/ingest-isv.log" 2>&1
check "ingest the SPEC §9 files and the ISV's own feed" test $? = 0
sql "UPDATE settle.ingest_file SET ingested_at = '2026-11-01T00:00:00Z'" || ko "set ingest instants"
settle report --period 2026-10 --as-of 2026-11-02T00:00:00Z --out "$work/isv" 2>"$work/report-isv.log"
check "report with the ISV's own feed exits 0" test $? = 0
check "allocations.csv with the ISV's own feed is SPEC §9's variant" \
	diff -u "$fx/expected-isv-feed/allocations.csv" "$work/isv/2026-10/allocations.csv"
check "payouts.csv with the ISV's own feed is SPEC §9's variant" \
	diff -u "$fx/expected-isv-feed/payouts.csv" "$work/isv/2026-10/payouts.csv"
