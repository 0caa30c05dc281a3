#!/usr/bin/env bash
# test_xlsx.sh — the workbook settle-YYYY-MM.xlsx (SPEC §8, docs/workbook.md), read back.
#
# Runs the real binary ($SETTLE_BIN) on feeds written below (USD, JPY and KWD, a reference that
# looks like a formula, a quarantined row, an unmatched group) against a throwaway database of the
# test PostgreSQL (tests/lib/pg.sh), then reads the workbook with tests/lib/xlsx_check.py
# (python3-openpyxl) and unzip: sheets, formats, totals, formulas recomputed from the cells, charts
# (the insight charts too: one payout of 17 days), properties, CSV twins; byte-identical reruns
# whatever TZ and locale; continuation sheets with the SETTLE_XLSX_MAX_ROWS test hook. Prints "PASS: test_xlsx.sh: <case>" / "FAIL: test_xlsx.sh: <case>".
#
# The period is 2090-10 and the as-of 2090-11-20: far enough ahead that the rows ingested now are
# always "at or before as-of", and the charge groups fall in two aging buckets.
set -u

name=test_xlsx.sh
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${SETTLE_BIN:-$TOP/settle}
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
check="$TOP/tests/lib/xlsx_check.py"
py=/usr/bin/python3 # Debian's python3, where python3-openpyxl lives
[ -x "$py" ] || py=python3

failures=0
pass() { echo "PASS: $name: $1"; }
fail() { # case, details...
	echo "FAIL: $name: $1"
	shift
	local line
	for line in "$@"; do [ -z "$line" ] || echo "  $line"; done
	failures=$((failures + 1))
}
finish() { [ "$failures" = 0 ]; exit $?; }

if [ ! -x "$bin" ]; then
	fail "binary" "no executable settle at $bin (set SETTLE_BIN)"
	finish
fi
if ! "$py" -c 'import openpyxl' 2>/dev/null; then
	fail "reader" "$py cannot import openpyxl (apt-get install python3-openpyxl)"
	finish
fi

# shellcheck source=../lib/pg.sh
. "$TOP/tests/lib/pg.sh"
pg_test_start || { fail "database" "could not start the test PostgreSQL"; finish; }
db=$(pg_test_createdb settle_xlsx) || { fail "database" "could not create settle_xlsx"; finish; }

work=$(mktemp -d /tmp/settle-xlsx.XXXXXX) || exit 1
# pg_test_start's EXIT trap stops a server this shell started: keep it, and add our clean-up.
# XLSX_KEEP=1 keeps the work directory (feeds, report sets) for a look after a failure.
cleanup() {
	[ -n "${XLSX_KEEP:-}" ] && echo "test_xlsx.sh: kept $work" >&2 || rm -rf "$work"
	pg_test_stop
}
trap cleanup EXIT
in="$work/in"
mkdir -p "$in"
period=2090-10
as_of=2090-11-20T00:00:00Z
book=settle-$period.xlsx
inject='=HYPERLINK("http://evil.example","x")'

# SPEC §9's CPPO sale (USD), a direct JPY sale whose reference looks like a formula, a KWD share
# split, twelve small direct USD sales (rows for the continuation sheets), a group no offer
# claims, and a row with a bad amount (quarantined). The JPY seller is not the CPPO's ISV: an ISV
# with a feed of its own counts only what it received itself (SPEC v2 §4.4), and the Summary's
# control totals (Σ allocations = Σ statements) do not yet allow for that.
cat >"$in/offers.csv" <<'EOF'
offer_id,agreement_id,product_id,buyer_account_id,isv_account_id,reseller_account_id,currency,split_basis,markup_pct,isv_share_pct,listing_fee_pct,valid_from,valid_until
offer-usd,agmt-usd,prod-a,900000000001,444455556666,111122223333,USD,MARKUP,8,,0.5,2090-01-01,2090-12-31
offer-jpy,agmt-jpy,prod-j,900000000002,444455550000,,JPY,DIRECT,,,,2090-01-01,2090-12-31
offer-kwd,agmt-kwd,prod-k,900000000003,777788889999,111122223333,KWD,SHARE,,25,,2090-01-01,2090-12-31
offer-many,agmt-many,prod-m,900000000004,555566667777,,USD,DIRECT,,,,2090-01-01,2090-12-31
EOF
{
	echo 'billing_event_id,recipient_account_id,from_account_id,agreement_id,product_id,action,transaction_type,charge_side,amount,currency,invoice_date,transaction_reference_id,disbursement_billing_event_id,bank_trace_id'
	cat <<'EOF'
e1,111122223333,900000000001,agmt-usd,prod-a,INVOICED,SELLER_REV_SHARE,,44018.10,USD,2090-10-05,tr-1,,
e2,111122223333,900000000001,agmt-usd,prod-a,INVOICED,AWS_TAX_SHARE,,3191.31,USD,2090-10-05,tr-1,,
e3,111122223333,111122223333,agmt-usd,prod-a,INVOICED,SELLER_REV_SHARE,BUYING,-40757.50,USD,2090-10-05,tr-1,,
e4,111122223333,111122223333,agmt-usd,prod-a,INVOICED,AWS_REV_SHARE,,-220.09,USD,2090-10-05,tr-1,,
e5,111122223333,900000000001,agmt-usd,prod-a,INVOICED,SELLER_TAX_SHARE,,1.01,USD,2090-10-05,tr-1,,
e6,111122223333,,,,DISBURSED,SELLER_REV_SHARE,,-44018.10,USD,2090-10-22,tr-1,p1,
e7,111122223333,,,,DISBURSED,SELLER_REV_SHARE,BUYING,40757.50,USD,2090-10-22,tr-1,p1,
e8,111122223333,,,,DISBURSED,AWS_REV_SHARE,,220.09,USD,2090-10-22,tr-1,p1,
e9,111122223333,,,,DISBURSED,SELLER_TAX_SHARE,,-1.01,USD,2090-10-22,tr-1,p1,
p1,111122223333,AWS,,,DISBURSED,DISBURSEMENT,,3041.52,USD,2090-10-22,,,TRC-778
j1,444455550000,900000000002,agmt-jpy,prod-j,INVOICED,SELLER_REV_SHARE,,1234567,JPY,2090-10-12,"=HYPERLINK(""http://evil.example"",""x"")",,
j2,444455550000,444455550000,agmt-jpy,prod-j,INVOICED,AWS_REV_SHARE,,-37037,JPY,2090-10-12,"=HYPERLINK(""http://evil.example"",""x"")",,
k1,111122223333,900000000003,agmt-kwd,prod-k,INVOICED,SELLER_REV_SHARE,,1000.125,KWD,2090-10-28,tr-kwd,,
k2,111122223333,111122223333,agmt-kwd,prod-k,INVOICED,AWS_REV_SHARE,,-30.004,KWD,2090-10-28,tr-kwd,,
n1,111122223333,900000000009,agmt-none,prod-z,INVOICED,SELLER_REV_SHARE,,10.00,USD,2090-10-15,tr-none,,
bad1,111122223333,900000000001,agmt-usd,prod-a,INVOICED,SELLER_REV_SHARE,,"12,50",USD,2090-10-05,tr-bad,,
EOF
	for i in 01 02 03 04 05 06 07 08 09 10 11 12; do
		echo "m$i,555566667777,900000000004,agmt-many,prod-m,INVOICED,SELLER_REV_SHARE,,1$i.3$i,USD,2090-10-$i,tr-m$i,,"
		echo "f$i,555566667777,555566667777,agmt-many,prod-m,INVOICED,AWS_REV_SHARE,,-3.$i,USD,2090-10-$i,tr-m$i,,"
	done
} >"$in/billing_event.csv"

settle() { "$bin" --db "$db" "$@"; }

# Writes the report set of $period into $1 with the environment given after it; 0 or 4 is done.
report_into() { # dir, env assignments...
	local dir=$1
	shift
	env "$@" "$bin" --db "$db" report --period "$period" --as-of "$as_of" --out "$dir" >"$work/out" 2>&1
	local rc=$?
	[ "$rc" = 0 ] || [ "$rc" = 4 ]
}

if ! settle init >"$work/out" 2>&1; then
	fail "init" "$(tail -n 5 "$work/out")"
	finish
fi
settle ingest "$in/offers.csv" "$in/billing_event.csv" >"$work/out" 2>&1
rc=$?
if [ "$rc" != 0 ] && [ "$rc" != 4 ]; then
	fail "ingest" "exit $rc" "$(tail -n 5 "$work/out")"
	finish
fi

# --- one report set, read back --------------------------------------------------------------
r1="$work/r1/$period"
if report_into "$work/r1" && [ -s "$r1/$book" ]; then
	pass "report writes $book"
else
	fail "report writes $book" "$(tail -n 5 "$work/out")"
	finish
fi

# Insights: p1 pays tr-1 17 days after its invoice (2090-10-05 -> 2090-10-22); nothing is collected.
"$py" "$check" check "$r1/$book" --dir "$r1" --as-of "$as_of" --name "$name" \
	--currencies JPY,KWD,USD --text "$inject" --hist-payout 0,0,0,1,0,0,0,0 \
	--hist-collection 0,0,0,0,0,0,0,0 --median-payout 17 || true # its cases print their own PASS/FAIL lines

# The same facts straight from the XML, without openpyxl.
styles=$(unzip -p "$r1/$book" xl/styles.xml)
probs=()
for f in '#,##0' '#,##0.00' '#,##0.000'; do
	grep -q "formatCode=\"$f\"" <<<"$styles" || probs+=("no number format $f in xl/styles.xml")
done
sheets=$(unzip -p "$r1/$book" xl/workbook.xml | grep -o '<sheet name="[^"]*"' | sed 's/<sheet name="//; s/"$//' | tr '\n' ',')
[ "$sheets" = "Summary,Payouts,Allocations,Exceptions,Disbursements,Aging,Metering,Tax,Rejected,Insights,Payment timing,Tax by jurisdiction,Charge groups,Insight charts," ] ||
	probs+=("sheets in xl/workbook.xml: $sheets")
if unzip -p "$r1/$book" 'xl/worksheets/sheet*.xml' | grep -o '<f>[^<]*</f>' | grep -qi hyperlink; then
	probs+=("a <f> formula holds HYPERLINK")
fi
unzip -p "$r1/$book" 'xl/worksheets/sheet*.xml' | grep -q '<t>=HYPERLINK(&quot;http://evil.example&quot;,&quot;x&quot;)</t>' ||
	unzip -p "$r1/$book" 'xl/worksheets/sheet*.xml' | grep -q '<t>=HYPERLINK("http://evil.example","x")</t>' ||
	probs+=("the formula-looking reference is not an inline string")
grep -q "'=HYPERLINK" "$r1/allocations.csv" || probs+=("allocations.csv does not guard the reference with '")
[ "$(unzip -l "$r1/$book" | grep -c 'xl/charts/chart[0-9]*\.xml')" -ge 4 ] ||
	probs+=("fewer than 4 charts (aging, payouts by party, days to payout and to collection)")
for t in 'Days from invoice to payout' 'Days from invoice to collection'; do
	unzip -p "$r1/$book" 'xl/charts/chart*.xml' | grep -q "<a:t>$t</a:t>" || probs+=("no chart titled \"$t\"")
done
grep -q "<dcterms:created xsi:type=\"dcterms:W3CDTF\">$as_of</dcterms:created>" <(unzip -p "$r1/$book" docProps/core.xml) ||
	probs+=("docProps/core.xml created is not $as_of")
if [ ${#probs[@]} = 0 ]; then pass "xml parts (unzip)"; else fail "xml parts (unzip)" "${probs[@]}"; fi

# The set holds the workbook under its MANIFEST and no leftovers of libxlsxwriter's temp files.
extra=$(cd "$r1" && ls -A | grep -v -x -e MANIFEST -e run.csv -e '[a-z_]*\.csv' -e "$book")
if [ -z "$extra" ] && (cd "$r1" && sha256sum -c --quiet MANIFEST >/dev/null 2>&1) && grep -q "  $book\$" "$r1/MANIFEST"; then
	pass "workbook listed in MANIFEST, no stray files"
else
	fail "workbook listed in MANIFEST, no stray files" "extra: $extra" "$(cat "$r1/MANIFEST" 2>/dev/null)"
fi

# --- determinism (SPEC §6) --------------------------------------------------------------------
if report_into "$work/r2" && cmp -s "$r1/$book" "$work/r2/$period/$book"; then
	pass "second report: byte-identical workbook"
else
	fail "second report: byte-identical workbook" "$(cmp "$r1/$book" "$work/r2/$period/$book" 2>&1)" "$(tail -n 3 "$work/out")"
fi
if report_into "$work/r3" TZ=Pacific/Chatham LC_ALL=C.UTF-8 LANG=de_DE.UTF-8 LC_NUMERIC=de_DE.UTF-8 &&
	cmp -s "$r1/$book" "$work/r3/$period/$book"; then
	pass "other TZ and locale: byte-identical workbook"
else
	fail "other TZ and locale: byte-identical workbook" "$(cmp "$r1/$book" "$work/r3/$period/$book" 2>&1)" "$(tail -n 3 "$work/out")"
fi
settle rerun --run "$r1/run.csv" --out "$work/r4" >"$work/out" 2>&1
rc=$?
if { [ "$rc" = 0 ] || [ "$rc" = 4 ]; } && cmp -s "$r1/$book" "$work/r4/$period/$book"; then
	pass "rerun: byte-identical workbook"
else
	fail "rerun: byte-identical workbook" "exit $rc" "$(tail -n 3 "$work/out")"
fi

# --- continuation sheets (SETTLE_XLSX_MAX_ROWS test hook) -------------------------------------
r5="$work/r5/$period"
if report_into "$work/r5" SETTLE_XLSX_MAX_ROWS=8; then
	pass "report with 8 rows per sheet"
	"$py" "$check" check "$r5/$book" --dir "$r5" --as-of "$as_of" --name "$name" --rows-max 8 \
		--currencies JPY,KWD,USD --text "$inject" | sed 's/: xlsx /: xlsx (8 rows per sheet) /' || true
else
	fail "report with 8 rows per sheet" "$(tail -n 5 "$work/out")"
fi
if ! report_into "$work/r6" SETTLE_XLSX_MAX_ROWS=2 && grep -q SETTLE_XLSX_MAX_ROWS "$work/out" &&
	[ ! -e "$work/r6/$period" ]; then
	pass "SETTLE_XLSX_MAX_ROWS out of range is refused, nothing published"
else
	fail "SETTLE_XLSX_MAX_ROWS out of range is refused, nothing published" "$(tail -n 3 "$work/out")"
fi

# --- long detail sheets: subtotals instead of rows (workbook_detail_rows) ---------------------
# The test month's listings have up to 15 rows; with workbook_detail_rows = 4 the longer ones (Exceptions
# past a tenth of it: 1 row; this month has one disbursement, test_xlsx_render.sh collapses them)
# show their subtotals per offer or party (docs/workbook.md "Long detail sheets"), the CSV files
# keep every row, the Summary ties out over the subtotals, and the bytes are reproducible, also
# through settle rerun (run.csv carries the setting). The default is not in run.csv.
printf 'workbook_detail_rows = 4\n' >"$work/detail.conf"
r8="$work/r8/$period"
report_long() { "$bin" --db "$db" --config "$work/detail.conf" report --period "$period" --as-of "$as_of" --out "$1" >"$work/out" 2>&1; }
if report_long "$work/r8" && grep -q '^config.workbook_detail_rows,4$' "$r8/run.csv" &&
	! grep -q workbook_detail_rows "$r1/run.csv"; then
	pass "workbook_detail_rows = 4: report written, the setting in run.csv (the default is not)"
	# (no --text: the formula-looking reference is a row's, which no subtotal shows)
	"$py" "$check" check "$r8/$book" --dir "$r8" --as-of "$as_of" --name "$name" \
		--currencies JPY,KWD,USD --hist-payout 0,0,0,1,0,0,0,0 \
		--hist-collection 0,0,0,0,0,0,0,0 --median-payout 17 | sed 's/: xlsx /: xlsx (subtotals) /' || true
	probs=()
	for s in Allocations Aging "Charge groups" Exceptions; do
		"$py" - "$r8/$book" "$s" <<'PY' || probs+=("$s is not a sheet of subtotals")
import sys, openpyxl
ws = openpyxl.load_workbook(sys.argv[1])[sys.argv[2]]
sys.exit(0 if ws["A2"].value and " rows: " in ws["A2"].value and "Rows" in [c.value for c in ws[3]] else 1)
PY
	done
	for f in allocations.csv aging.csv exceptions.csv; do
		cmp -s "$r1/$f" "$r8/$f" || probs+=("$f differs from the report without subtotals")
	done
	if [ ${#probs[@]} = 0 ]; then pass "long sheets are subtotals, the CSV files complete"; else fail "long sheets are subtotals, the CSV files complete" "${probs[@]}"; fi
	if report_long "$work/r9" && cmp -s "$r8/$book" "$work/r9/$period/$book"; then
		pass "subtotals: byte-identical workbook"
	else
		fail "subtotals: byte-identical workbook" "$(cmp "$r8/$book" "$work/r9/$period/$book" 2>&1)"
	fi
	settle rerun --run "$r8/run.csv" --out "$work/r10" >"$work/out" 2>&1
	rc=$?
	if { [ "$rc" = 0 ] || [ "$rc" = 4 ]; } && cmp -s "$r8/$book" "$work/r10/$period/$book"; then
		pass "subtotals: rerun gives the same workbook"
	else
		fail "subtotals: rerun gives the same workbook" "exit $rc" "$(tail -n 3 "$work/out")"
	fi
else
	fail "workbook_detail_rows = 4: report written, the setting in run.csv (the default is not)" "$(tail -n 5 "$work/out")"
fi

# --- a period without any data: every sheet, headers only ------------------------------------
period=2090-07
book=settle-$period.xlsx
if report_into "$work/r7" && [ -s "$work/r7/$period/$book" ]; then
	pass "empty period: workbook written"
	"$py" "$check" check "$work/r7/$period/$book" --dir "$work/r7/$period" --as-of "$as_of" --name "$name" \
		--empty | sed 's/: xlsx /: xlsx (empty period) /' || true
else
	fail "empty period: workbook written" "$(tail -n 5 "$work/out")"
fi

finish
