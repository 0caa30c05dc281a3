#!/usr/bin/env bash
# test_harden.sh — poison inputs and hostile arguments (issue #17): a CR-only file is rejected
# whole; a FIFO is refused at once; file names with control bytes stay one escaped line; "--"
# and names starting with "-"; a dated 9999-12-31 row is quarantined and reconcile still runs;
# literal "_xHHHH_" text reaches the workbook as the text itself.
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
harness_init harden harden
py=/usr/bin/python3 # Debian's python3, where python3-openpyxl lives
[ -x "$py" ] || py=python3
settle init >/dev/null 2>&1 || ko "init"

H=billing_event_id,recipient_account_id,from_account_id,action,transaction_type,amount,currency,invoice_date,transaction_reference_id

# CR-only line ends: rejected whole, with the reason, exit 4; nothing loads.
printf '%s\re1,444455556666,900000000001,INVOICED,SELLER_REV_SHARE,1.00,USD,2026-10-05,tr-1\r' "$H" >"$work/mac.csv"
settle ingest "$work/mac.csv" >"$work/out" 2>&1
rc=$?
check "CR-only file: exit 4" test $rc = 4
check "CR-only file: says why" grep -q 'mac.csv:1: not valid CSV: line ends are CR only' "$work/out"
check "CR-only file: rejected whole" test "$(sql "SELECT file_rejected::text || rows_loaded FROM settle.ingest_file WHERE file_name = 'mac.csv'")" = "true0"

# A FIFO: refused at once (no writer ever comes), exit 1, nothing recorded.
mkfifo "$work/pipe.csv"
timeout 10 "$SETTLE_BIN" --db "$DB" ingest "$work/pipe.csv" >"$work/out" 2>&1
rc=$?
check "FIFO: refused, not blocked (exit 2, a bad FILE argument)" test $rc = 2
check "FIFO: says it is not a regular file" grep -q '"[^"]*pipe.csv" is not a regular file (a FIFO)' "$work/out"

# A file name with a newline and an ESC: one line, escaped.
bad=$work/$'new\nline\e[31m.csv'
settle ingest "$bad" >"$work/out" 2>&1
check "control bytes in a name: exit 2" test $? = 2
check "control bytes in a name: one line" test "$(grep -c 'could not open' "$work/out")" = 1
# (an error carried in struct err has its newlines made spaces already: err_set keeps server
# messages on one line; every other control byte is escaped by log.c)
check "control bytes in a name: escaped" grep -qF 'line\e[31m.csv' "$work/out"
settle ingest --kind "$bad" x >"$work/out" 2>&1
check "control bytes in a logged name: \\n" grep -qF 'new\nline\e[31m.csv' "$work/out"
check "control bytes in a name: no ESC on stderr" test "$(tr -dc '\033' <"$work/out" | wc -c)" = 0

# Names starting with "-": a clear complaint without "--", loaded after it.
{
	echo "$H"
	echo 'e1,444455556666,900000000001,INVOICED,SELLER_REV_SHARE,100.00,USD,2026-10-05,_x003D_1+1'
	echo 'e2,444455556666,900000000001,INVOICED,SELLER_REV_SHARE,1.00,USD,9999-12-31,tr-2'
	echo 'e3,444455556666,900000000001,INVOICED,SELLER_REV_SHARE,2.00,USD,2026-10-06,_x005F_ and _xZZZZ_'
} >"$work/-03-x.csv"
(cd "$work" && "$SETTLE_BIN" --db "$DB" ingest -03-x.csv) >"$work/out" 2>&1
check "-03-x.csv without --: usage error" test $? = 2
check "-03-x.csv without --: names it" grep -qF 'unknown option "-03-x.csv"' "$work/out"
(cd "$work" && "$SETTLE_BIN" --db "$DB" ingest -- -03-x.csv) >"$work/out" 2>&1
check "-- -03-x.csv: loads, one row quarantined (exit 4)" test $? = 4
check "9999-12-31 is BAD_DATE, outside the plausible range" \
	grep -qF -- '-03-x.csv:3: invoice_date: "9999-12-31" is outside the plausible range of dates (2000-01-01 to 2100-12-31)' "$work/out"
sql "UPDATE settle.ingest_file SET ingested_at = '2026-11-01T00:00:00Z'" || ko "set ingest instants"

# Reconcile and report still run; the workbook shows the literal text.
settle report --period 2026-10 --as-of 2026-11-02T00:00:00Z --out "$work/reports" >"$work/out" 2>&1
check "report runs" test $? = 0
x=$work/reports/2026-10/settle-2026-10.xlsx
cat >"$work/x.py" <<'PY'
import sys, openpyxl
from openpyxl.utils.escape import unescape   # what Excel shows: ECMA-376 _xHHHH_ decoded
wb = openpyxl.load_workbook(sys.argv[1], read_only=True)
shown = set()
for ws in wb.worksheets:
    for row in ws.iter_rows(values_only=True):
        for v in row:
            if isinstance(v, str):
                shown.add(unescape(v))
want = ["_x003D_1+1", "_x005F_ and _xZZZZ_"]
missing = [w for w in want if w not in shown]
bad = [s for s in shown if s.startswith("=1+1")]
print("missing:", missing, "shown as formula text:", bad)
sys.exit(1 if missing or bad else 0)
PY
check "workbook cells equal the literal _xHHHH_ text" "$py" "$work/x.py" "$x"
check "the CSV holds the same text" grep -qF '_x003D_1+1' "$work/reports/2026-10/exceptions.csv"
