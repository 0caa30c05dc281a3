#!/usr/bin/env bash
# test_nightly.sh — `settle nightly` (SPEC §6, §7): ingest the inbox in name order, report every
# period the new files touch plus the current month once it has data, exit codes 0/2/3/4, plain log lines and one
# summary line when not on a terminal, sets in place with no temporary files, idempotent reruns.
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
lockpid= # the psql holding the run lock in the lock cases, killed on exit if still there
harness_cleanup_extra() { [ -z "$lockpid" ] || kill "$lockpid" 2>/dev/null; return 0; }
harness_init nightly report_nightly
sets_ok() { # DIR: every set verifies with sha256sum, no temporary entries, modes <= 0640
	local d f m
	[ -z "$(ls -A "$1" | grep '^\.')" ] || { echo "  temporary entries in $1: $(ls -A "$1")"; return 1; }
	for d in "$1"/*/; do
		(cd "$d" && sha256sum --quiet -c MANIFEST) || return 1
		for f in "$d"*; do
			m=$(stat -c %a "$f")
			[ $((8#$m & ~8#640)) = 0 ] || { echo "  $f has mode $m"; return 1; }
		done
	done
}

inbox=$work/inbox
out=$work/reports
mkdir -p "$inbox"
cp "$TOP"/fixtures/demo/inbox/*.csv "$inbox"/
mkdir "$inbox/archive" && cp "$inbox/01-offers.csv" "$inbox/archive/"   # walked (SPEC v2 §3): a byte-identical no-op
printf 'not,a,feed\n' >"$inbox/.uploading.csv"                           # dotfile: skipped
now_month=$(date -u +%Y-%m)

settle nightly --inbox "$inbox" --out "$out" 2>"$work/n1.err"
rc=$?
rejected=$(sql "SELECT count(*) FROM settle.rejected_row")
want=0; [ "$rejected" -gt 0 ] && want=4
check "first nightly exits $want ($rejected quarantined rows)" test $rc = $want
[ $rc = $want ] || cat "$work/n1.err"
check "every inbox file was ingested, in name order" \
	test "$(sql "SELECT string_agg(file_name, ' ' ORDER BY file_id) FROM settle.ingest_file")" = \
	"$(cd "$inbox" && ls -p | grep -v / | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')"
check "all files share the run's one ingest instant" \
	test "$(sql "SELECT count(DISTINCT ingested_at) FROM settle.ingest_file")" = 1
check "one log line per file" \
	test "$(grep -Ec '^settle: nightly: [0-9][0-9]-[^:]*: [a-z_]+, [0-9]+ rows loaded, [0-9]+ rejected$' "$work/n1.err")" = 7
check "the last line is the summary" \
	sh -c "tail -n 1 '$work/n1.err' | grep -q '^settle: nightly: 8 files (7 ingested, 1 already ingested.*rows loaded.*rejected.*exceptions, periods written: '"
check "the summary names every period written" \
	sh -c "tail -n 1 '$work/n1.err' | grep -q 'periods written: 2026-09 2026-10\$'"
check "no terminal control characters without a terminal" sh -c "! grep -q $'\e' '$work/n1.err'"
check "sets for 2026-09 and 2026-10, no empty set for the current month" \
	sh -c "test -f '$out/2026-09/MANIFEST' && test -f '$out/2026-10/MANIFEST' && test ! -e '$out/$now_month'"
check "every set is complete, sealed and private" sets_ok "$out"
check "the sets' as-of is the files' ingest instant" \
	test "$(grep '^as_of,' "$out/2026-10/run.csv" | cut -d, -f2)" = \
	"$(grep '^input.1.ingested_at,' "$out/2026-10/run.csv" | cut -d, -f2)"
check "a nightly set verifies" sh -c "'$SETTLE_BIN' --db '$DB' verify '$out/2026-10' >/dev/null 2>&1"

# Nothing new: exit 0; the current month has no data yet, so nothing is written.
cp -a "$out/2026-10" "$work/oct-before"
settle nightly --inbox "$inbox" --out "$out" 2>"$work/n2.err"
check "second nightly (nothing new) exits 0" test $? = 0
check "it counts the files already ingested, in one line" \
	sh -c "test \$(wc -l <'$work/n2.err') = 1 && grep -q ' 8 already ingested, ' '$work/n2.err'"
open_now=$(settle status 2>/dev/null | sed -n '/^periods:/,/^$/p' | awk 'NR > 2 && NF == 3 { n += $3 } END { print n + 0 }')
check "it writes nothing, and says how many exceptions are open (as status counts them), not 0 and 0" \
	sh -c "test '$open_now' -gt 0 && tail -n 1 '$work/n2.err' | grep -q ': no period written; $open_now exceptions open (settle status)\$'"
check "earlier months stay as they were" diff -r "$work/oct-before" "$out/2026-10"

# A later payout line for a September charge: September is reported again, with October.
cat >"$inbox/40-billing_event-444455556666-payout.csv" <<'CSV'
billing_event_id,recipient_account_id,action,transaction_type,amount,currency,invoice_date,transaction_reference_id,disbursement_billing_event_id
be-late-p1,444455556666,DISBURSED,SELLER_REV_SHARE,-8000.00,USD,2026-10-28,tr-i-090,dsb-late-1
be-late-p2,444455556666,DISBURSED,AWS_REV_SHARE,240.00,USD,2026-10-28,tr-i-090,dsb-late-1
dsb-late-1,444455556666,DISBURSED,DISBURSEMENT,7760.00,USD,2026-10-28,,
CSV
settle nightly --inbox "$inbox" --out "$out" 2>"$work/n3.err"
check "a new payout file: exit 0" test $? = 0
check "its payout month and the months of the charges it pays are reported" \
	sh -c "tail -n 1 '$work/n3.err' | grep -q 'periods written: 2026-09 2026-10'"
check "sets still complete" sets_ok "$out"

# Quarantined rows: exit 4.
cat >"$inbox/50-billing_event-bad.csv" <<'CSV'
billing_event_id,recipient_account_id,action,transaction_type,amount,currency,invoice_date,transaction_reference_id
be-bad-1,444455556666,INVOICED,SELLER_REV_SHARE,12.5.0,USD,2026-10-29,tr-bad-1
be-bad-2,444455556666,INVOICED,SELLER_REV_SHARE,10.00,USD,2026-10-29,tr-bad-2
CSV
settle nightly --inbox "$inbox" --out "$out" 2>"$work/n4.err"
check "quarantined rows: exit 4" test $? = 4
check "rejected.csv of the month lists the row" grep -q '^50-billing_event-bad.csv,2,amount,' "$out/2026-10/rejected.csv"
check "the summary counts it" sh -c "tail -n 1 '$work/n4.err' | grep -q ' 1 rejected,'"

# A few charges of the current month, one of them on an October reference, and one October charge:
# the run reports October, then the current month, which holds few of the events. Reconcile then
# streams only the current month's references (reconcile_groups.c, its choice printed under
# SETTLE_RECONCILE_TIMING); verify recomputes the month alone, through the plain stream, and must
# find the same bytes.
cat >"$inbox/60-billing_event-444455556666-now.csv" <<CSV
billing_event_id,recipient_account_id,from_account_id,to_account_id,product_id,agreement_id,offer_id,action,transaction_type,amount,currency,invoice_date,transaction_reference_id
be-now-1,444455556666,111122223333,444455556666,prod-analytics,agmt-m1,offer-m1,INVOICED,SELLER_REV_SHARE,500.00,USD,$now_month-01,tr-now-1
be-now-2,444455556666,111122223333,444455556666,prod-analytics,agmt-m1,offer-m1,INVOICED,SELLER_REV_SHARE,250.00,USD,$now_month-01,tr-r-103
be-oct-late,444455556666,111122223333,444455556666,prod-analytics,agmt-m1,offer-m1,INVOICED,SELLER_REV_SHARE,100.00,USD,2026-10-30,tr-oct-late
CSV
SETTLE_RECONCILE_TIMING=1 settle nightly --inbox "$inbox" --out "$out" 2>"$work/n6.err"
check "charges of the current month: exit 0" test $? = 0
check "October and the current month are reported" \
	sh -c "tail -n 1 '$work/n6.err' | grep -q 'periods written: 2026-10 $now_month\$'"
check "the current month streams only its own references" \
	grep -q "^settle: reconcile $now_month: count: own references " "$work/n6.err"
check "the current month ages both references, October's with its payout history" \
	sh -c "grep -q ',tr-now-1,USD,$now_month-01,.*,NOT_DISBURSED,500.00\$' '$out/$now_month/aging.csv' &&
	       grep -q ',tr-r-103,USD,$now_month-01,.*,PARTIAL,250.00\$' '$out/$now_month/aging.csv'"
check "the current month's set verifies (alone, through the plain stream)" \
	sh -c "'$SETTLE_BIN' --db '$DB' verify '$out/$now_month' >/dev/null 2>&1"
check "October's set verifies" sh -c "'$SETTLE_BIN' --db '$DB' verify '$out/2026-10' >/dev/null 2>&1"

# The lock: a second run exits 3 and changes nothing.
mkfifo "$work/lock.fifo"
"$PG_TEST_BINDIR/psql" -X -q "$DB" <"$work/lock.fifo" >/dev/null 2>&1 &
lockpid=$!
exec 7>"$work/lock.fifo"
echo "SELECT pg_advisory_lock(7271652401);" >&7   # db.c DB_LOCK_RUN
for _ in $(seq 100); do
	[ "$(sql "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
	          AND ((classid::bigint << 32) | objid::bigint) = 7271652401")" = 1 ] && break
	sleep 0.1
done
cp -a "$out" "$work/before-lock"
settle nightly --inbox "$inbox" --out "$out" 2>/dev/null
check "nightly while another run holds the lock exits 3" test $? = 3
settle report --period 2026-10 --out "$out" 2>/dev/null
check "report while locked exits 3" test $? = 3
settle verify "$out/2026-10" >/dev/null 2>&1
check "verify while locked exits 3" test $? = 3
check "locked runs change nothing" diff -r "$work/before-lock" "$out"
exec 7>&-
wait "$lockpid" 2>/dev/null
lockpid=

# Usage errors: exit 2.
settle nightly --inbox "$work/no-such-inbox" --out "$out" 2>/dev/null
check "a missing inbox exits 2" test $? = 2
settle nightly --bogus 2>/dev/null
check "an unknown option exits 2" test $? = 2
settle nightly extra 2>/dev/null
check "an argument exits 2" test $? = 2

# An empty inbox still writes the current month (it has data since the charges above).
mkdir "$work/empty"
settle nightly --inbox "$work/empty" --out "$work/empty-out" 2>"$work/n5.err"
check "an empty inbox: exit 0" test $? = 0
check "an empty inbox: the current month is written" test -f "$work/empty-out/$now_month/MANIFEST"

# One file of one row: the counts read in the singular ("1 file (", "1 row loaded").
mkdir "$work/one"
head -n 1 "$TOP"/fixtures/demo/inbox/10-*.csv >"$work/one/one.csv"
echo 'be-one-1,111122223333,900000000011,111122223333,prod-analytics,agmt-m1,offer-m1,INVOICED,SELLER_REV_SHARE,,,,1.00,USD,2026-10-05,tr-one-1,' >>"$work/one/one.csv"
settle nightly --inbox "$work/one" --out "$work/one-out" 2>"$work/n6.err"
check "one file of one row: 1 row loaded, in its line and the summary" \
	sh -c "grep -q '^settle: nightly: one.csv: billing_event, 1 row loaded, 0 rejected$' '$work/n6.err' && tail -n 1 '$work/n6.err' | grep -q '^settle: nightly: 1 file (1 ingested, .*), 1 row loaded, 0 rejected, '"
