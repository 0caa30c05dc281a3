#!/usr/bin/env bash
# render_month.sh — the workbook of a generated month as an accountant sees it (issue 16: "the
# demo workbook and the 200k-event month"). Not part of `make test`: at 200k events it takes
# tens of minutes (LibreOffice lays out thousands of pages).
#
#   make all bench/gen
#   bash bench/render_month.sh          # 200,000 billing events
#   # options: EVENTS=200000 METERING=20000 SEED=42
#   #          OUT=DIR          keep everything there (default: a temporary directory, removed)
#   #          PNG=1            every page as a PNG in $OUT/png too
#   #          XLSX_CHECK=1     tests/lib/xlsx_check.py as well (openpyxl over every cell: slow)
#   #          SETTLE_RENDER_TIMEOUT=7200  seconds one LibreOffice conversion may take
#   #          SETTLE_BIN=path
#
# Generates the month with bench/gen, ingests it into a throwaway PostgreSQL (tests/lib/pg.sh),
# writes the report set of 2026-10 at a fixed as-of, then runs tests/lib/xlsx_render.py:
# LibreOffice headless to PDF (and PNG), no "###", every sheet's title and every page's header
# with the period and the as-of, LibreOffice's recalculation of every formula equal to settle's
# cached values, the bridge equal to the CSV sums. Prints the PASS/FAIL lines, the times and the
# printed pages of every sheet. docs/workbook.md "The 200k-event month" has the results.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SETTLE_BIN=${SETTLE_BIN:-$TOP/settle}
EVENTS=${EVENTS:-200000}
METERING=${METERING:-20000}
SEED=${SEED:-42}
export SETTLE_RENDER_TIMEOUT=${SETTLE_RENDER_TIMEOUT:-7200}
period=2026-10
as_of=2026-11-05T00:00:00Z
py=/usr/bin/python3
[ -x "$py" ] || py=python3
for t in "$SETTLE_BIN" "$TOP/bench/gen"; do
	[ -x "$t" ] || { echo "render_month.sh: $t is missing (make all bench/gen)" >&2; exit 2; }
done
for t in soffice pdftotext pdftoppm pdfinfo; do
	command -v "$t" >/dev/null || { echo "render_month.sh: $t is missing (libreoffice-calc-nogui, poppler-utils)" >&2; exit 2; }
done
if [ -n "${OUT:-}" ]; then
	work=$OUT
	mkdir -p "$work"
else
	work=$(mktemp -d /tmp/settle-render-month.XXXXXX) || exit 1
	trap 'rm -rf "$work"' EXIT
fi
# shellcheck source=../tests/lib/pg.sh
. "$TOP/tests/lib/pg.sh"
pg_test_start || exit 1
DB=$(pg_test_createdb render_month) || exit 1
settle() { "$SETTLE_BIN" --db "$DB" "$@"; }
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

t=$(now)
rm -rf "$work/in"
"$TOP/bench/gen" --seed "$SEED" --events "$EVENTS" --metering "$METERING" --period $period --out "$work/in" >/dev/null ||
	exit 1
echo "generate $EVENTS events, $METERING metering records: $(took "$t")"
t=$(now)
settle init >/dev/null && settle ingest "$work/in"/*.csv >"$work/ingest.log" 2>&1
rc=$?
[ $rc = 0 ] || [ $rc = 4 ] || { echo "ingest failed ($rc)"; tail "$work/ingest.log"; exit 1; }
"$PG_TEST_BINDIR/psql" -X -q -d "$DB" -c "UPDATE settle.ingest_file SET ingested_at = '2026-11-01T00:00:00Z'" || exit 1
echo "ingest: $(took "$t")"
t=$(now)
rm -rf "$work/reports"
settle report --period $period --as-of $as_of --out "$work/reports" >"$work/report.log" 2>&1 ||
	{ echo "report failed"; tail "$work/report.log"; exit 1; }
set_dir=$work/reports/$period
book=$set_dir/settle-$period.xlsx
echo "report: $(took "$t"), workbook $(du -h "$book" | cut -f1), $(wc -l <"$set_dir/allocations.csv") allocation lines"
if [ -n "${XLSX_CHECK:-}" ]; then # openpyxl over every cell: long (tens of minutes) at this size
	t=$(now)
	"$py" "$TOP/tests/lib/xlsx_check.py" check "$book" --dir "$set_dir" --as-of $as_of --name render_month
	echo "xlsx_check: $(took "$t")"
fi
t=$(now)
png=${PNG:+$work/png} # PNG=1: every page as a PNG too (slow for thousands of pages)
"$py" "$TOP/tests/lib/xlsx_render.py" "$book" --dir "$set_dir" --period $period --as-of $as_of \
	--work "$work/render" ${png:+--png "$png"} --name render_month
echo "xlsx_render: $(took "$t")"
pdf=$(ls "$work"/render/*.pdf 2>/dev/null | head -n 1)
if [ -n "$pdf" ]; then
	echo "pages: $(pdfinfo "$pdf" | awk '/^Pages:/ { print $2 }') in all; per sheet (page header):"
	pdftotext -layout "$pdf" - | awk '/Page [0-9]+ of [0-9]+ *$/ { sub(/ +settle period.*/, ""); sub(/^ +/, ""); n[$0]++ }
		END { for (s in n) printf "  %6d  %s\n", n[s], s }' | sort -k2
fi
