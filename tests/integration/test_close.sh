#!/usr/bin/env bash
# test_close.sh — `settle close` and restatements (SPEC §6.1): a closed set is read-only, recorded
# and never written again; late data goes to P.restated with restatement.csv, a Restatement sheet
# and one summary line, replaced atomically; a later close supersedes and the ledger keeps both;
# verify works on closed and restated sets; a clean --quiet night is one line; a late charge no
# offer claims restates by what the buyers were billed (the Summary's first line).
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
harness_init close close_period
py=/usr/bin/python3 # Debian's python3, where python3-openpyxl lives
[ -x "$py" ] || py=python3
inbox=$work/inbox
out=$work/reports
mkdir -p "$inbox"
cp "$TOP"/fixtures/demo/inbox/*.csv "$inbox"/
hdr='billing_event_id,recipient_account_id,from_account_id,to_account_id,product_id,agreement_id,offer_id,action,transaction_type,parent_billing_event_id,disbursement_billing_event_id,charge_side,amount,currency,invoice_date,transaction_reference_id,bank_trace_id'
late() { # FILE ID AMOUNT: one late direct charge dated 2026-10-30 (offer-d1, never paid)
	printf '%s\n%s,444455556666,900000000021,444455556666,prod-analytics,agmt-d1,offer-d1,INVOICED,SELLER_REV_SHARE,,,,%s,USD,2026-10-30,tr-%s,\n' \
		"$hdr" "$2" "$3" "$2" >"$inbox/$1"
}
hashes() { (cd "$1" && sha256sum -- * | LC_ALL=C sort); }
readonly_set() { # DIR: the directory and every file without any write bit
	local f
	[ $((8#$(stat -c %a "$1") & 8#222)) = 0 ] || { echo "  $1 is writable"; return 1; }
	for f in "$1"/*; do
		[ $((8#$(stat -c %a "$f") & 8#222)) = 0 ] || { echo "  $f is writable"; return 1; }
	done
}
csv_row() { grep "^2026-10,$1,$2," "$out/2026-10.restated/restatement.csv"; }

settle nightly --inbox "$inbox" --out "$out" 2>/dev/null
check "the first nightly writes October" test -f "$out/2026-10/MANIFEST"

# --- close -----------------------------------------------------------------------------------
settle close --period 2026-10 --out "$out" 2>"$work/c1.err"
check "close exits 0" test $? = 0
check "close says what it closed, in one line (after the one saying what it leaves open)" \
	sh -c "test \$(wc -l <'$work/c1.err') = 2 && tail -n 1 '$work/c1.err' | grep -q '^settle: close: closed 2026-10 as of .*read-only, MANIFEST sha256 [0-9a-f]\{64\}'"
check "close prints its as-of to the second, as status does" \
	grep -q '^settle: close: closed 2026-10 as of [0-9-]*T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z: ' "$work/c1.err"
open_exc=$(sql "SELECT count(*) FROM settle.exception x JOIN settle.period_close c ON c.run_id = x.run_id AND x.period = c.period")
check "close says, in one line, the open exceptions and quarantined rows it closes with (status's and rejected.csv's counts)" \
	sh -c "test '$open_exc' -gt 0 && head -n 1 '$work/c1.err' | grep -qx 'settle: close: warning: 2026-10 is closed with $open_exc open exceptions and $(($(wc -l <"$out/2026-10/rejected.csv") - 1)) quarantined rows (exceptions.csv, rejected.csv)'"
check "the closed set is read-only" readonly_set "$out/2026-10"
check "the closed set verifies with sha256sum" sh -c "cd '$out/2026-10' && sha256sum --quiet -c MANIFEST"
check "the ledger records period, as-of, who and the MANIFEST's SHA-256" \
	test "$(sql "SELECT period || ' ' || closed_by || ' ' || manifest_sha256 FROM settle.period_close")" = \
	"2026-10 ${USER:-$(id -un)} $(sha256sum <"$out/2026-10/MANIFEST" | cut -d' ' -f1)"
check "the ledger's as-of is the set's" \
	test "$(sql "SELECT to_char(as_of AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM settle.period_close" | sed 's/\.000000Z$/Z/')" = \
	"$(grep '^as_of,' "$out/2026-10/run.csv" | cut -d, -f2)"
check "status lists the closed period" sh -c "'$SETTLE_BIN' --db '$DB' status 2>/dev/null | grep -q '^  2026-10  .*  closed ('"
check "status: the runs heading has no trailing space" sh -c "'$SETTLE_BIN' --db '$DB' status 2>/dev/null | grep -qx 'runs:'"
hashes "$out/2026-10" >"$work/closed.sha"
closed_day=$(grep '^as_of,' "$out/2026-10/run.csv" | cut -d, -f2 | cut -c1-10)

settle close --period 2026-10 --out "$out" --as-of 2026-11-01T00:00:00Z 2>"$work/c-early.err"
check "a close at an earlier as-of is a usage error" test $? = 2
check "it says why" grep -q '^settle: close: error: period 2026-10 is closed as of .*; a new close needs a later as-of' "$work/c-early.err"
settle close --period 2026-10 --out "$out" --as-of "$(grep '^as_of,' "$out/2026-10/run.csv" | cut -d, -f2)" 2>"$work/c-same.err"
check "a close again at the same as-of is idempotent" \
	sh -c "test $? = 0 && grep -q 'already closed' '$work/c-same.err'"
settle close --period 2030-01 --out "$out" 2>"$work/c-future.err"
check "closing a future period is a usage error" test $? = 2

# --- a late row: the restatement -------------------------------------------------------------
settle nightly --inbox "$inbox" --out "$out" 2>/dev/null # nothing new: October stays as it is
check "a night without news writes no restatement" test ! -e "$out/2026-10.restated"
late 40-late-1.csv late-1 100.00
settle nightly --inbox "$inbox" --out "$out" 2>"$work/n1.err"
check "the nightly after a late row exits 0" test $? = 0
check "the closed set's bytes are unchanged (MANIFEST and every file)" diff "$work/closed.sha" <(hashes "$out/2026-10")
check "the closed set is still read-only" readonly_set "$out/2026-10"
check "October is restated beside it" test -f "$out/2026-10.restated/MANIFEST"
check "the restated set is complete" sh -c "cd '$out/2026-10.restated' && sha256sum --quiet -c MANIFEST"
check "restatement.csv has its header" \
	test "$(head -n 1 "$out/2026-10.restated/restatement.csv")" = "period,currency,measure,closed,now,difference"
check "revenue: closed, now, +100.00" test "$(csv_row USD revenue)" = "2026-10,USD,revenue,132447.94,132547.94,100.00"
check "net: +100.00" sh -c "grep -q '^2026-10,USD,net,.*,100.00\$' '$out/2026-10.restated/restatement.csv'"
check "the listing fee did not change" sh -c "grep -q '^2026-10,USD,listing_fee,\(.*\),\1,0.00\$' '$out/2026-10.restated/restatement.csv'"
check "one more exception" sh -c "grep -q '^2026-10,USD,exceptions,10,11,1\$' '$out/2026-10.restated/restatement.csv'"
check "the summary names the restatement in one line" \
	grep -qx "settle: nightly: 2026-10 (closed $closed_day): restated: billed +100.00 USD, revenue +100.00 USD, net +100.00 USD, net payable +100.00 USD, 1 more exception" "$work/n1.err"
check "the last line is the summary, naming the restated set" \
	sh -c "tail -n 1 '$work/n1.err' | grep -q '^settle: nightly: .*into $out: 1 new and [0-9]* carried-over exceptions, periods written: 2026-10.restated'"
check "run.csv of the restated set names the close" \
	grep -q "^closed_as_of,$closed_day" "$out/2026-10.restated/run.csv"
if "$py" -c 'import openpyxl' 2>/dev/null; then
	check "the restated workbook has a Restatement sheet with the figures" "$py" - "$out/2026-10.restated/settle-2026-10.xlsx" <<'PY'
import sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
assert wb.sheetnames[-1] == "Restatement", wb.sheetnames
ws = wb["Restatement"]
assert ws["A3"].value == "Currency" and ws["E3"].value == "Difference"
rows = {(r[0].value, r[1].value): r for r in ws.iter_rows(min_row=4)}
r = rows[("USD", "revenue")]
assert abs(r[2].value - 132447.94) < 1e-6 and abs(r[3].value - 132547.94) < 1e-6, (r[2].value, r[3].value)
assert r[4].value.startswith("=D") and "-C" in r[4].value, r[4].value
PY
fi
check "verify works on the restated set" sh -c "'$SETTLE_BIN' --db '$DB' verify '$out/2026-10.restated' >/dev/null 2>&1"
check "verify works on the closed set" sh -c "'$SETTLE_BIN' --db '$DB' verify '$out/2026-10' >/dev/null 2>&1"
check "status shows the restatement" sh -c "'$SETTLE_BIN' --db '$DB' status 2>/dev/null | grep -q '^  2026-10  .*  closed, restated ('"

# report of a closed period: never into the closed set
settle report --period 2026-10 --out "$out" 2>"$work/r1.err"
check "report of a closed period exits 0" test $? = 0
check "report writes the restated set" grep -q "wrote $out/2026-10.restated as of" "$work/r1.err"
check "and not the closed one" diff "$work/closed.sha" <(hashes "$out/2026-10")
settle report --period 2026-10 --out "$out" --as-of "$(grep '^as_of,' "$out/2026-10/run.csv" | cut -d, -f2)" 2>"$work/r2.err"
check "report at the close's as-of: as closed, nothing written" grep -q '^settle: report: 2026-10 (closed .*): as closed: nothing written$' "$work/r2.err"
check "and the restated set stays" test -f "$out/2026-10.restated/MANIFEST"
settle rerun --run "$out/2026-10/run.csv" --out "$out" 2>"$work/rr.err"
check "a rerun into the closed set is refused" \
	sh -c "test $? = 1 && grep -q 'read-only, a closed set' '$work/rr.err'"
check "and changed nothing" diff "$work/closed.sha" <(hashes "$out/2026-10")

# --- a second late row: P.restated replaced atomically ---------------------------------------
hashes "$out/2026-10.restated" >"$work/restated1.sha"
late 41-late-2.csv late-2 50.00
SETTLE_FAILPOINT=stage-written settle nightly --inbox "$inbox" --out "$out" 2>/dev/null
check "killed while the new restated set was written (exit by SIGKILL)" test $? = 137
check "the restated set is the previous one, whole" diff "$work/restated1.sha" <(hashes "$out/2026-10.restated")
SETTLE_FAILPOINT=committed settle nightly --inbox "$inbox" --out "$out" 2>/dev/null
check "killed after the commit, before the swap" test $? = 137
check "the restated set is still the previous one, whole" \
	sh -c "cd '$out/2026-10.restated' && sha256sum --quiet -c MANIFEST && grep -q '^2026-10,USD,revenue,132447.94,132547.94,100.00\$' restatement.csv"
settle nightly --inbox "$inbox" --out "$out" 2>"$work/n2.err"
check "the next nightly completes" test $? = 0
check "the restated set now shows both late rows" test "$(csv_row USD revenue)" = "2026-10,USD,revenue,132447.94,132597.94,150.00"
check "it is whole" sh -c "cd '$out/2026-10.restated' && sha256sum --quiet -c MANIFEST"
check "no temporary directories are left" sh -c "! ls -A '$out' | grep -q '^\.'"
check "the closed set is still the same bytes" diff "$work/closed.sha" <(hashes "$out/2026-10")

# --- a later close supersedes; the ledger keeps both ------------------------------------------
first_asof=$(grep '^as_of,' "$out/2026-10/run.csv" | cut -d, -f2)
settle close --period 2026-10 --out "$out" 2>"$work/c2.err"
check "a later close exits 0" test $? = 0
aside=$(ls "$out" | grep '^2026-10\.closed-')
check "the earlier closed set is kept beside it" test -n "$aside"
check "with its bytes unchanged" diff "$work/closed.sha" <(hashes "$out/$aside")
check "still read-only" readonly_set "$out/$aside"
check "the new closed set is read-only and includes the late rows" \
	sh -c "grep -q ',tr-late-2,' '$out/2026-10/allocations.csv'" && readonly_set "$out/2026-10"
check "the superseded restatement is removed" test ! -e "$out/2026-10.restated"
check "the ledger keeps both closes" test "$(sql "SELECT count(*) FROM settle.period_close WHERE period = '2026-10'")" = 2
check "status marks the earlier one superseded" \
	sh -c "'$SETTLE_BIN' --db '$DB' status 2>/dev/null | grep -q '^  2026-10  ${first_asof%%.*}.*superseded'"

# --- a close killed between its commit and the rename is completed by the same close again ---
hashes "$out/2026-10" >"$work/second.sha"
second_asof=$(grep '^as_of,' "$out/2026-10/run.csv" | cut -d, -f2)
sleep 1.2
t3=$(date -u +%Y-%m-%dT%H:%M:%SZ)
SETTLE_FAILPOINT=committed settle close --period 2026-10 --as-of "$t3" --out "$out" 2>/dev/null
check "a close killed after its commit (SIGKILL)" test $? = 137
check "the ledger has it" test "$(sql "SELECT count(*) FROM settle.period_close WHERE period = '2026-10'")" = 3
check "the closed set on disk is untouched" diff "$work/second.sha" <(hashes "$out/2026-10")
settle close --period 2026-10 --as-of "$t3" --out "$out" 2>"$work/c3.err"
check "the same close again completes it" test $? = 0
check "the set in place is the recorded one" \
	test "$(sha256sum <"$out/2026-10/MANIFEST" | cut -d' ' -f1)" = \
	"$(sql "SELECT manifest_sha256 FROM settle.period_close WHERE period = '2026-10' ORDER BY as_of DESC LIMIT 1")"
check "the set it replaced is kept under its own as-of" \
	diff "$work/second.sha" <(hashes "$out/2026-10.closed-$(echo "$second_asof" | tr -d ':.-')")
check "no new ledger row" test "$(sql "SELECT count(*) FROM settle.period_close WHERE period = '2026-10'")" = 3
check "no temporary directories are left after the closes" sh -c "! ls -A '$out' | grep -q '^\.'"

# --- cron: a clean night with --quiet is one line --------------------------------------------
settle nightly --inbox "$inbox" --out "$out" --quiet </dev/null >"$work/q.out" 2>"$work/q.err"
check "a clean --quiet night exits 0" test $? = 0
check "a clean --quiet night is one line" test "$(wc -l <"$work/q.err")" = 1
check "nothing on stdout" test ! -s "$work/q.out"
check "that line is the summary, with the output directory and the files counted" \
	grep -q "^settle: nightly: [0-9]* files (0 ingested, [0-9]* already ingested, 0 rejected whole), .*into $out: " "$work/q.err"
check "no terminal control characters" sh -c "! grep -q $'\e' '$work/q.err'"
late 42-late-3.csv late-3 25.00
TERM=dumb settle --quiet nightly --inbox "$inbox" --out "$out" >/dev/null 2>"$work/q2.err"
check "a --quiet night with a restatement: the restatement line and the summary" \
	sh -c "test \$(wc -l <'$work/q2.err') = 2 && head -n 1 '$work/q2.err' | grep -q '^settle: nightly: 2026-10 (closed .*): restated: billed +25.00 USD, revenue +25.00 USD'"

# --- a late charge no offer claims (NO_OFFER): restated by what the buyers were billed ----------
# It allocates nothing, so revenue, net and the payouts stay as closed; the Summary's "Billed to
# buyers, tax included" grows by it, and so must the restatement (settle.period_measures' billed).
settle close --period 2026-10 --out "$out" 2>/dev/null
check "a fourth close (after the --quiet nights) exits 0" test $? = 0
check "its restated set is removed" test ! -e "$out/2026-10.restated"
closed4_day=$(grep '^as_of,' "$out/2026-10/run.csv" | cut -d, -f2 | cut -c1-10)
printf '%s\n%s\n' "$hdr" \
	'late-nooffer,444455556666,900000000099,444455556666,prod-none,agmt-none,offer-none,INVOICED,SELLER_REV_SHARE,,,,1000.00,USD,2026-10-30,tr-late-nooffer,' \
	>"$inbox/43-late-nooffer.csv"
settle nightly --inbox "$inbox" --out "$out" 2>"$work/n4.err"
check "the nightly after a late charge with no offer exits 0" test $? = 0
check "it is a NO_OFFER exception of the restated set" \
	grep -q '^2026-10,NO_OFFER,tr-late-nooffer,' "$out/2026-10.restated/exceptions.csv"
check "restatement.csv: billed +1000.00, first of USD" \
	sh -c "grep '^2026-10,USD,' '$out/2026-10.restated/restatement.csv' | head -n 1 | grep -q '^2026-10,USD,billed,\(.*\),.*,1000.00\$'"
check "restatement.csv: revenue, net, net payable and disbursed as closed" \
	test "$(grep -Ec '^2026-10,USD,(revenue|listing_fee|seller_tax|net|net_payable|disbursed),(.*),\2,0.00$' "$out/2026-10.restated/restatement.csv")" = 6
check "restatement.csv: one more exception" grep -q '^2026-10,USD,exceptions,\([0-9]*\),[0-9]*,1$' "$out/2026-10.restated/restatement.csv"
check "the summary names the billed difference in one line" \
	grep -qx "settle: nightly: 2026-10 (closed $closed4_day): restated: billed +1,000.00 USD, 1 more exception" "$work/n4.err"
if "$py" -c 'import openpyxl' 2>/dev/null; then
	check "the Restatement sheet shows billed +1000; closed and now are the Summaries' billed to buyers" \
		"$py" - "$out/2026-10.restated/settle-2026-10.xlsx" "$out/2026-10/settle-2026-10.xlsx" \
		"$(grep '^2026-10,USD,billed,' "$out/2026-10.restated/restatement.csv")" <<'PY'
import sys, openpyxl
def billed_to_buyers(wb, currency):
    # the Summary's bridge of each currency begins with a title "USD: from billed to banked"
    cur, found = None, []
    for row in wb["Summary"].iter_rows():
        a = row[0].value
        if isinstance(a, str) and a.endswith(": from billed to banked"):
            cur = a.split(":")[0]
        elif cur == currency and a == "Billed to buyers, tax included":
            found.append(row[1].value)
    assert len(found) == 1, found
    return found[0]
restated = openpyxl.load_workbook(sys.argv[1], data_only=True)  # the formulas' cached values
closed = openpyxl.load_workbook(sys.argv[2], data_only=True)
_, _, _, c, n, d = sys.argv[3].split(",")
c, n = float(c), float(n)
r = {(r[0].value, r[1].value): r for r in restated["Restatement"].iter_rows(min_row=4)}[("USD", "billed")]
assert abs(r[2].value - c) < 1e-6 and abs(r[3].value - n) < 1e-6 and abs(r[4].value - 1000) < 1e-6, \
    (r[2].value, r[3].value, r[4].value)
assert abs(billed_to_buyers(restated, "USD") - n) < 1e-6, (billed_to_buyers(restated, "USD"), n)
assert abs(billed_to_buyers(closed, "USD") - c) < 1e-6, (billed_to_buyers(closed, "USD"), c)
PY
fi
