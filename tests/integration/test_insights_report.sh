#!/usr/bin/env bash
# test_insights_report.sh — the insights of issue 6 through the commands (docs/insights.md,
# docs/reports.md): `settle report` computes them in its run and writes insights.csv,
# payment_timing.csv, the USAGE_ANOMALY rows of exceptions.csv and the workbook's Insights,
# Payment timing and Insight charts sheets; `settle nightly` prints one insights line per period.
#
# The feeds are fixtures/insights (the hand-computed numbers are in its README), loaded with
# `settle ingest`; the ingest instants are then set as test_insights.sh sets them, so that the
# as-of 2026-11-03 sees the history, the period and the payouts but not the late file. The
# expected rows are fixtures/insights/expected/insights-2026-10.csv, the same file
# test_insights.sh compares the tables with. Prints "PASS: test_insights_report.sh: <case>".
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
FIX=$TOP/fixtures/insights
EXPECTED=$FIX/expected/insights-2026-10.csv
py=/usr/bin/python3 # Debian's python3, where python3-openpyxl lives
[ -x "$py" ] || py=python3
harness_init insights-report insights_report
# block HEADER_PREFIX: the lines of the expected file from the header that starts with the prefix
# up to the next header (every block of the file starts with "period,").
block() { awk -v h="$1" 'index($0, h) == 1 { on = 1; print; next } /^period,/ { on = 0 } on' "$EXPECTED"; }
same() { # name, expected file, actual file
	if diff -u "$2" "$3" >"$work/diff" 2>&1; then ok "$1"; else ko "$1"; head -n 30 "$work/diff"; fi
}

# --- feeds ------------------------------------------------------------------------------------
"$FIX/gen-metering.sh" "$work"
settle ingest "$work/metering-history.csv" "$work/metering-2026-10.csv" "$work/metering-late.csv" \
	"$FIX/billing_event.csv" "$FIX/offer.csv" "$FIX/offer_dimension.csv" >"$work/ingest.log" 2>&1
rc=$?
check "ingest the insights fixtures" test $rc = 0
[ $rc = 0 ] || cat "$work/ingest.log"
sql "UPDATE settle.ingest_file SET ingested_at = CASE file_name
       WHEN 'metering-history.csv' THEN timestamptz '2026-10-01T06:00:00Z'
       WHEN 'metering-2026-10.csv' THEN '2026-11-01T06:00:00Z'
       WHEN 'metering-late.csv' THEN '2026-11-04T06:00:00Z'
       WHEN 'billing_event.csv' THEN '2026-11-02T06:00:00Z'
       ELSE '2026-01-01T00:00:00Z' END" >/dev/null || ko "set ingest instants"

# --- settle report ------------------------------------------------------------------------------
as_of=2026-11-03T00:00:00Z
set1=$work/r1/2026-10
settle report --period 2026-10 --as-of $as_of --out "$work/r1" 2>"$work/r1.log"
rc=$?
check "report exits 0" test $rc = 0
[ $rc = 0 ] || cat "$work/r1.log"
check "report says what insights found" \
	grep -q '^settle: report: wrote .*; 3 usage anomalies; median days to payout 15\.5$' "$work/r1.log"

block 'period,customer_aws_account_id,' >"$work/want-insights.csv"
block 'period,measure,recipient_account_id,' >"$work/want-timing.csv"
check "the expected blocks were found" test -s "$work/want-insights.csv" -a -s "$work/want-timing.csv"
same "insights.csv is insight_usage as computed by hand" "$work/want-insights.csv" "$set1/insights.csv"
same "payment_timing.csv is insight_timing as computed by hand" "$work/want-timing.csv" "$set1/payment_timing.csv"
# exceptions.csv has no seq column, and shows the micros as amounts (USD: two decimals); the rest of
# each USAGE_ANOMALY row is the table's.
block 'period,code,reference,seq,' | sed 1d | sed 's/^\([^,]*,[^,]*,[^,]*\),[^,]*,/\1,/' | awk '
function amount(m,    s) { if (m == "") return ""; s = m < 0 ? "-" : ""; m = m < 0 ? -m : m
	return s int(m / 1000000) "." sprintf("%02d", int((m % 1000000) / 10000)) }
{ rest = $0; out = ""
  for (i = 1; i <= 10; i++) { k = index(rest, ","); f[i] = substr(rest, 1, k - 1); rest = substr(rest, k + 1) }
  for (i = 8; i <= 10; i++) f[i] = amount(f[i])
  for (i = 1; i <= 10; i++) out = out f[i] ","
  print out rest }' >"$work/want-anomalies.csv"
grep '^2026-10,USAGE_ANOMALY,' "$set1/exceptions.csv" >"$work/anomalies.csv"
same "exceptions.csv lists the USAGE_ANOMALY rows, priced where the offer has a unit price" \
	"$work/want-anomalies.csv" "$work/anomalies.csv"
check "exceptions.csv stays sorted by code, reference" \
	sh -c "sed 1d '$set1/exceptions.csv' | cut -d, -f2,3 | LC_ALL=C sort -c"
check "MANIFEST lists the two files and checks" \
	sh -c "grep -q '  insights.csv\$' '$set1/MANIFEST' && grep -q '  payment_timing.csv\$' '$set1/MANIFEST' &&
	       cd '$set1' && sha256sum --quiet -c MANIFEST"
check "the run's insights are stored under its run" \
	test "$(sql "SELECT count(*) FROM settle.insight_summary s JOIN settle.run r USING (run_id)
	             WHERE r.command = 'report' AND s.period = '2026-10' AND s.usage_anomalies = 3")" = 1

# The workbook: Insights and Payment timing are the CSV twins (decimals as numbers in 0.0), the
# histograms and the usage of the most anomalous series are charted from the Insight charts sheet,
# the Summary counts anomalies with live formulas and labels the no-currency row "—".
if "$py" -c 'import openpyxl' 2>/dev/null; then
	"$py" "$TOP/tests/lib/xlsx_check.py" check "$set1/settle-2026-10.xlsx" --dir "$set1" --as-of $as_of \
		--name "$T" --hist-payout 0,3,2,2,0,2,0,1 --hist-collection 0,0,1,1,1,0,0,0 \
		--median-payout 15.5 --median-collection 24 || true # its cases print their own PASS/FAIL lines
else
	ko "xlsx reader: $py cannot import openpyxl (apt-get install python3-openpyxl)"
fi
xml() { unzip -p "$set1/settle-2026-10.xlsx" "$@"; }
charts_have() { xml 'xl/charts/chart*.xml' | grep -qF "$1"; }
check "the usage chart names its series" \
	charts_have '<a:t>Usage of 111111111111:prod-x:api_calls with its expected band</a:t>'
check "the usage chart draws the 744 hours from the Insight charts sheet" \
	charts_have "<c:f>'Insight charts'!\$B\$23:\$B\$766</c:f>"
check "sheets: the SPEC §8 ones, then Insights, Payment timing, Tax by jurisdiction, Charge groups, Insight charts" \
	test "$(xml xl/workbook.xml | grep -o '<sheet name="[^"]*"' | sed 's/<sheet name="//; s/"$//' | tr '\n' ,)" = \
	"Summary,Payouts,Allocations,Exceptions,Disbursements,Aging,Metering,Tax,Rejected,Insights,Payment timing,Tax by jurisdiction,Charge groups,Insight charts,"

# --- determinism (SPEC §6) ------------------------------------------------------------------------
env TZ=Pacific/Chatham LC_ALL=C.UTF-8 "$SETTLE_BIN" --db "$DB" report --period 2026-10 --as-of $as_of \
	--out "$work/r2" 2>"$work/r2.log"
check "another report, TZ and locale: byte-identical set" diff -r "$set1" "$work/r2/2026-10"
settle rerun --run "$set1/run.csv" --out "$work/r3" 2>"$work/r3.log"
check "rerun: byte-identical set" diff -r "$set1" "$work/r3/2026-10"
check "verify passes" sh -c "'$SETTLE_BIN' --db '$DB' verify '$set1' >/dev/null 2>&1"

# --- as-of --------------------------------------------------------------------------------------
settle report --period 2026-10 --as-of 2026-11-05T00:00:00Z --out "$work/r4" 2>"$work/r4.log"
check "a later as-of sees the late file's anomaly" \
	grep -q '; 4 usage anomalies; median days to payout 15\.5$' "$work/r4.log"
check "... in insights.csv too" \
	grep -q '^2026-10,111111111111,prod-x,storage_gb,agmt-usage-1,offer-u1,ANOMALY,' "$work/r4/2026-10/insights.csv"

# --- text from the data: guarded in CSV, a plain string on the sheet ---------------------------
printf '%s\n' 'metering_record_id,timestamp,customer_aws_account_id,product_code,dimension,quantity,status' \
	'odd-1,2026-12-01T03:00:00Z,=1+2,-prod,@dim,7,Success' 'odd-2,2026-12-01T04:00:00Z,=1+2,-prod,@dim,9,Success' \
	>"$work/metering-odd.csv"
settle ingest "$work/metering-odd.csv" >/dev/null 2>&1
sql "UPDATE settle.ingest_file SET ingested_at = '2026-12-10T00:00:00Z' WHERE file_name = 'metering-odd.csv'" >/dev/null
settle report --period 2026-12 --as-of 2026-12-11T00:00:00Z --out "$work/r5" 2>"$work/r5.log"
check "a period without history or payouts reports" \
	grep -q '; 0 usage anomalies; no payouts to time$' "$work/r5.log"
check "insights.csv guards text that looks like a formula" \
	grep -q "^2026-12,'=1+2,'-prod,'@dim,,,NOT_ENOUGH_HISTORY,0,0,,,,,2,7,9,0,,not scored" \
	"$work/r5/2026-12/insights.csv"
check "payment_timing.csv: the header only" \
	test "$(cat "$work/r5/2026-12/payment_timing.csv")" = \
	"period,measure,recipient_account_id,currency,samples,mean_days,median_days,p90_days,min_days,max_days"
if "$py" -c 'import openpyxl' 2>/dev/null; then
	"$py" "$TOP/tests/lib/xlsx_check.py" check "$work/r5/2026-12/settle-2026-12.xlsx" --dir "$work/r5/2026-12" \
		--as-of 2026-12-11T00:00:00Z --name "$T" --text '=1+2' --hist-payout 0,0,0,0,0,0,0,0 |
		sed 's/: xlsx /: xlsx (2026-12) /' || true
fi

# --- nightly: one insights line per period, the summary line still last ---------------------------
DB=$(pg_test_createdb insights_nightly) || { ko "create the nightly database"; exit 1; }
mkdir -p "$work/inbox"
cp "$work/metering-history.csv" "$work/metering-2026-10.csv" "$FIX/billing_event.csv" "$FIX/offer.csv" "$FIX/offer_dimension.csv" "$work/inbox/"
settle nightly --inbox "$work/inbox" --out "$work/nightly" 2>"$work/nightly.log"
rc=$?
check "nightly exits 0" test $rc = 0
[ $rc = 0 ] || cat "$work/nightly.log"
check "nightly prints the insights of 2026-10" \
	grep -qx 'settle: nightly: 2026-10: 3 usage anomalies; median days to payout 15\.5' "$work/nightly.log"
periods=$(grep -c '^settle: nightly: [0-9]\{4\}-[0-9][0-9]: [0-9]* usage anomal' "$work/nightly.log")
written=$(tail -n 1 "$work/nightly.log" | sed -n 's/.*periods written: //p' | wc -w)
check "one insights line per period written ($periods of $written)" test "$periods" = "$written" -a "$written" -gt 0
check "the summary is still the last line" \
	sh -c "tail -n 1 '$work/nightly.log' | grep -q '^settle: nightly: 5 files (5 ingested.*exceptions, periods written: '"
check "nightly writes the insight files" \
	test -s "$work/nightly/2026-10/insights.csv" -a -s "$work/nightly/2026-10/payment_timing.csv"
exit 0
