#!/usr/bin/env bash
# test_xlsx_render.sh — the workbook as an accountant sees it (issue 16, SPEC §8): the demo month
# (fixtures/demo/inbox) reported at a fixed as-of, rendered with LibreOffice headless to PDF and
# PNG (tests/lib/xlsx_render.py): no "###", every sheet's title and every page's header with the
# period and the as-of, every formula recalculated by LibreOffice equal to settle's cached value,
# and the Summary's bridge equal to the CSV sums. The PNG pages stay in build/workbook-png/ for a
# person to look at. Needs libreoffice-calc-nogui and poppler-utils (.ci/deps.sh).
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
py=/usr/bin/python3
[ -x "$py" ] || py=python3
if ! command -v soffice >/dev/null || ! command -v pdftotext >/dev/null || ! command -v pdftoppm >/dev/null; then
	ko "LibreOffice and poppler-utils are installed (apt-get install libreoffice-calc-nogui poppler-utils)"
	exit 1
fi
harness_init xlsx_render xlsx_render
period=2026-10
as_of=2026-11-02T03:00:00Z

# the demo month and its account feed (fixtures/demo/accounts: the legal names the sheets show
# beside the account ids)
settle ingest "$TOP"/fixtures/demo/inbox/*.csv "$TOP"/fixtures/demo/accounts/*.csv >"$work/ingest.log" 2>&1
rc=$?
check "ingest the demo month" test $rc = 0 -o $rc = 4
sql "UPDATE settle.ingest_file SET ingested_at = '2026-11-01T00:00:00Z'" || ko "set ingest instants"
settle report --period $period --as-of $as_of --out "$work/reports" >"$work/report.log" 2>&1
rc=$?
check "$period: report exits 0" test $rc = 0
[ $rc = 0 ] || cat "$work/report.log"
set_dir="$work/reports/$period"
"$py" "$TOP/tests/lib/xlsx_check.py" check "$set_dir/settle-$period.xlsx" --dir "$set_dir" --as-of $as_of \
	--names "$TOP/fixtures/demo/accounts/accountfeed-2026-10.csv" --name "$T" || true
png=${SETTLE_WORKBOOK_PNG:-$TOP/build/workbook-png}
"$py" "$TOP/tests/lib/xlsx_render.py" "$set_dir/settle-$period.xlsx" --dir "$set_dir" --period $period \
	--as-of $as_of --work "$work/render" --png "$png" --name "$T" || true

# The same month with its long sheets as subtotals (workbook_detail_rows = 5, docs/workbook.md
# "Long detail sheets"): LibreOffice's recalculation of the Summary over the subtotal rows equals
# the exact CSV sums, bridge counts included, and every page still names the period and as-of.
printf 'workbook_detail_rows = 5\n' >"$work/detail.conf"
settle --config "$work/detail.conf" report --period $period --as-of $as_of --out "$work/long" \
	>"$work/long.log" 2>&1
rc=$?
check "$period: report with workbook_detail_rows = 5 exits 0" test $rc = 0
long_dir="$work/long/$period"
"$py" "$TOP/tests/lib/xlsx_check.py" check "$long_dir/settle-$period.xlsx" --dir "$long_dir" --as-of $as_of \
	--names "$TOP/fixtures/demo/accounts/accountfeed-2026-10.csv" --name "$T (subtotals)" || true
"$py" "$TOP/tests/lib/xlsx_render.py" "$long_dir/settle-$period.xlsx" --dir "$long_dir" --period $period \
	--as-of $as_of --work "$work/render-long" --name "$T (subtotals)" || true

