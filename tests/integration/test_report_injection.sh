#!/usr/bin/env bash
# test_report_injection.sh — SPEC §8 formula-injection guard: text from the data that a spreadsheet
# would run (leading = + - @ TAB CR) gets a leading ' in every CSV file, file names included;
# amounts are never altered; quoting keeps commas, quotes and newlines inside one cell.
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
harness_init injection report_injection

# Charges without an offer (NO_OFFER exceptions carry the reference) and a matched one whose
# identifiers look like formulas; one more file with a bad row and a hostile name.
cat >"$work/offers.csv" <<'CSV'
offer_id,agreement_id,buyer_account_id,isv_account_id,currency,split_basis,listing_fee_pct
=offer(1),@agmt,900000000001,+444455556666,USD,DIRECT,3
CSV
printf '%s\n' \
	'billing_event_id,recipient_account_id,from_account_id,agreement_id,action,transaction_type,amount,currency,invoice_date,transaction_reference_id' \
	'e1,+444455556666,900000000001,@agmt,INVOICED,SELLER_REV_SHARE,100.00,USD,2026-10-05,"=HYPERLINK(""http://x.example/?a=1"";""click"")"' \
	'e2,+444455556666,+444455556666,@agmt,INVOICED,AWS_REV_SHARE,-3.00,USD,2026-10-05,"=HYPERLINK(""http://x.example/?a=1"";""click"")"' \
	'e3,+444455556666,900000000002,,INVOICED,SELLER_REV_SHARE,50.00,USD,2026-10-06,-2+3' \
	'e4,+444455556666,900000000002,,INVOICED,SELLER_REV_SHARE,-0.01,USD,2026-10-06,@SUM(A1:A9)' \
	"e5,+444455556666,900000000002,,INVOICED,SELLER_REV_SHARE,7.00,USD,2026-10-06,\"	tabbed,ref\"" \
	'e6,+444455556666,900000000002,,INVOICED,SELLER_REV_SHARE,8.00,USD,2026-10-07,"multi' \
	'line ""ref"""' >"$work/billing_event.csv"
cp "$work/billing_event.csv" "$work/=cmd|'calc'!A0.csv"
sed -i '2s/,100.00,/,1O0.00,/; 3,$d' "$work/=cmd|'calc'!A0.csv"   # one bad amount, nothing else
settle ingest "$work/offers.csv" "$work/billing_event.csv" >/dev/null 2>&1
check "ingest the hostile files" test $? = 0
settle ingest --kind billing_event "$work/=cmd|'calc'!A0.csv" >/dev/null 2>&1
check "a file with a hostile name and a bad row: exit 4" test $? = 4
sql "UPDATE settle.ingest_file SET ingested_at = '2026-11-01T00:00:00Z'" || ko "set ingest instants"

settle report --period 2026-10 --as-of 2026-11-02T00:00:00Z --out "$work/reports" 2>"$work/report.err"
check "report exits 0" test $? = 0
set=$work/reports/2026-10

check "a formula reference is guarded in exceptions.csv" \
	grep -q "'-2+3" "$set/exceptions.csv"
check "@ is guarded" grep -q "'@SUM(A1:A9)" "$set/exceptions.csv"
check "a reference with quotes is guarded and quoted" \
	grep -qF "\"'=HYPERLINK(\"\"http://x.example/?a=1\"\";\"\"click\"\")\"" "$set/allocations.csv"
check "a leading TAB is guarded and the comma quoted" grep -qF "\"'	tabbed,ref\"" "$set/exceptions.csv"
check "account and offer ids are guarded" grep -qF ",'+444455556666," "$set/payouts.csv"
hostile="'=cmd|'calc'!A0.csv"
check "the hostile file name is guarded in rejected.csv" grep -qF "$hostile,2,amount," "$set/rejected.csv"
check "the hostile file name is guarded in run.csv" grep -qxF "input.3.name,$hostile" "$set/run.csv"

# Every cell of every CSV: text never starts with a trigger; amounts are plain decimals.
cat >"$work/cells.py" <<'PY'
import csv, re, sys
money = {"revenue", "listing_fee", "seller_tax", "net", "net_payable", "rounding", "expected", "actual",
         "difference", "amount", "lines_total", "remainder", "unit_price", "billed"}
ints = {"line", "lines", "days", "quantity"}
bad = 0
for path in sys.argv[1:]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    head = rows[0]
    for r in rows[1:]:
        for name, cell in zip(head, r):
            if not cell:
                continue
            if name in money:
                ok = re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", cell) is not None
            elif name in ints:
                ok = re.fullmatch(r"-?[0-9]+", cell) is not None
            else:
                ok = cell[0] not in "=+-@\t\r"
            if not ok:
                print(f"  {path}: {name}: {cell!r}")
                bad += 1
sys.exit(1 if bad else 0)
PY
check "no text cell of any CSV starts a formula; amounts are plain" python3 "$work/cells.py" "$set"/*.csv
check "negative amounts are not guarded" grep -q ',-0.01,\|,-3.00,\|,-0.010000' "$set"/*.csv
check "a multi-line reference stays one quoted cell" \
	python3 -c "import csv,sys; r=[x for x in csv.reader(open(sys.argv[1],newline='')) if any('multi' in c for c in x)]; sys.exit(0 if len(r)==1 and 'multi\nline \"ref\"' in r[0] else 1)" "$set/exceptions.csv"
check "the set verifies" sh -c "'$SETTLE_BIN' --db '$DB' verify '$set' >/dev/null 2>&1"
