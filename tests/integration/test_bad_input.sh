#!/usr/bin/env bash
# test_bad_input.sh — bad input on an SDDS-layout inbox, as cron meets it (SPEC §5, §7): a row
# with a field longer than 1 MiB in a well-formed record is one quarantined row (FIELD_TOO_LONG,
# file, line, column), the file's other rows load, in a whole file and in an append, and the next
# night is clean; a quoted field still open at the end of the file still rejects the file whole; a
# file name that is not valid UTF-8 is set aside by the walk, not a failure that holds back the
# files after it; a charge whose sum overflows fails its own period only; --out inside --inbox is
# refused; an SDDS file with a column settle does not know warns once, not on every append.
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
harness_init badinput badinput
settle init >/dev/null 2>&1 || ko "init"

H=billing_event_id,recipient_account_id,from_account_id,action,transaction_type,amount,currency,invoice_date,transaction_reference_id
row() { echo "$1,111122223333,900000000001,INVOICED,SELLER_REV_SHARE,$2,USD,2026-10-05,${3:-tr-$1}"; }
big() { head -c $((1024 * 1024 + 100)) /dev/zero | tr '\0' x; } # just over csv_in's 1 MiB buffer
inbox=$work/inbox
be=$inbox/billingeventfeed_v1/year=2026/month=10/data.csv
mkdir -p "$(dirname "$be")"
night() { # prints the exit code; stderr in $work/err
	settle --quiet nightly --inbox "$inbox" --out "$work/reports" 2>"$work/err"
	echo $?
}
stored() { sql "SELECT string_agg(billing_event_id, ' ' ORDER BY billing_event_id) FROM settle.billing_event"; }
rejected() { sql "SELECT string_agg(f.path || ':' || r.line || ':' || coalesce(r.column_name, '') || ':' || r.code, ' ' ORDER BY r.file_id, r.line) FROM settle.rejected_row r JOIN settle.ingest_file f USING (file_id)"; }

# Night 1: a 1 MiB unquoted reference on line 3, a 1 MiB quoted one spanning lines 5-6 with a
# comma and "" inside; the rows around them load.
{
	echo "$H"
	row e1 10.00
	row e2 20.00 "$(big)"
	row e3 30.00
	row e4 40.00 "\"$(big),
\"\"$(big)\""
	row e5 50.00
} >"$be"
rc=$(night)
check "1 MiB fields: exit 4 (rows quarantined), not a file rejected whole" test "$rc" = 4
check "... the other rows load" test "$(stored)" = "e1 e3 e5"
check "... one FIELD_TOO_LONG row each, with file, line and column" test "$(rejected)" = \
	"billingeventfeed_v1/year=2026/month=10/data.csv:3:transaction_reference_id:FIELD_TOO_LONG billingeventfeed_v1/year=2026/month=10/data.csv:5:transaction_reference_id:FIELD_TOO_LONG"
check "... said on one line each, by file and line" \
	grep -qF 'billingeventfeed_v1/year=2026/month=10/data.csv:5: transaction_reference_id: is longer than 4096 bytes' "$work/err"
check "... the summary counts 3 loaded, 2 rejected" grep -qF '3 rows loaded, 2 rejected' "$work/err"
check "... settle check says the same" sh -c "'$SETTLE_BIN' check '$be' 2>&1 | grep -qF '3 rows would load, 2 rejected'"

# Night 2: an append whose first new row has a 1 MiB field.
{
	row e6 60.00 "$(big)"
	row e7 70.00
} >>"$be"
rc=$(night)
check "an append with a 1 MiB field: exit 4" test "$rc" = 4
check "... the append's good row loads, nothing earlier again" test "$(stored)" = "e1 e3 e5 e7"
check "... the new row is quarantined at its true line" \
	sh -c "echo '$(rejected)' | grep -qF 'data.csv:8:transaction_reference_id:FIELD_TOO_LONG'"
check "... and it is an append (one more ledger row, a prefix)" \
	test "$(sql "SELECT count(*) FILTER (WHERE prefix_bytes > 0) FROM settle.ingest_file")" = 1

# Night 3: nothing new: a clean night, one line.
rc=$(night)
check "the next night: exit 0" test "$rc" = 0
check "... one line of mail" test "$(wc -l <"$work/err")" = 1

# A quoted 1 MiB field still open at the end of the file is an unbalanced quote: rejected whole.
mkdir -p "$inbox/billingeventfeed_v1/year=2026/month=11"
{
	echo "$H"
	row n1 1.00
	echo "n2,111122223333,900000000001,INVOICED,SELLER_REV_SHARE,2.00,USD,2026-11-05,\"$(big)"
	row n3 3.00
} >"$inbox/billingeventfeed_v1/year=2026/month=11/data.csv"
rc=$(night)
check "an unbalanced quote past 1 MiB: exit 4" test "$rc" = 4
check "... the file is rejected whole, nothing of it loads" \
	test "$(sql "SELECT file_rejected::text || rows_loaded FROM settle.ingest_file WHERE path LIKE '%month=11%'")" = "true0"
check "... BAD_CSV at the record where the quote opens" \
	sh -c "echo '$(rejected)' | grep -qF 'month=11/data.csv:3::BAD_CSV'"

# A file name that is not valid UTF-8 (Latin-1 "café.csv"): the ledger records paths as text, so
# the walk sets it aside as a problem (exit 4, named once), and the files after it still load,
# tonight and every night after. `settle ingest` refuses the name as a usage error.
rm -rf "$inbox/billingeventfeed_v1/year=2026/month=11"
mkdir -p "$inbox/offers"
printf '%s\n' "$H" "$(row l1 1.00)" >"$inbox/offers/caf"$'\xe9'".csv"
printf '%s\n' "$H" "$(row l2 2.00)" >"$inbox/offers/later.csv"
rc=$(night)
check "a name that is not UTF-8: exit 4" test "$rc" = 4
check "... named as an entry that was not read" \
	grep -qF '"offers/caf\xe9.csv" (a name that is not valid UTF-8' "$work/err"
check "... the file after it loads" test "$(sql "SELECT count(*) FROM settle.billing_event WHERE billing_event_id = 'l2'")" = 1
check "... no database error" sh -c "! grep -q 'invalid byte sequence' '$work/err'"
rc=$(night)
check "... the next night: the same warning, exit 4, nothing held back" test "$rc" = 4
settle ingest "$inbox/offers/caf"$'\xe9'".csv" 2>"$work/err"
check "settle ingest of such a name: a usage error (exit 2)" test $? = 2
check "... that says why" grep -qF 'the name is not valid UTF-8' "$work/err"

# A charge whose rows sum past int64 (twelve rows of 999999999999.999999 USD, each valid by SPEC
# §2) fails its own period alone (exit 5); the reference's rows are read by every later month's
# remainder too, and must not fail those months.
mkdir -p "$inbox/billingeventfeed_v1/year=2026/month=09"
{
	echo "$H"
	for i in $(seq 12); do
		echo "ov$i,111122223333,900000000001,INVOICED,SELLER_REV_SHARE,999999999999.999999,USD,2026-09-05,tr-huge"
	done
	echo "ov-oct,111122223333,900000000001,INVOICED,SELLER_REV_SHARE,1.00,USD,2026-10-06,tr-oct"
} >"$inbox/billingeventfeed_v1/year=2026/month=09/data.csv"
rc=$(night)
check "an overflowing charge: exit 5 (partly done)" test "$rc" = 5
check "... its period fails, naming the reference" \
	grep -qF '2026-09: not reported: reconcile 2026-09: the amounts of reference tr-huge of 111122223333 overflow' "$work/err"
check "... the next month is still written" grep -qF 'periods written: 2026-10, periods failed: 2026-09' "$work/err"
check "... and does not fail" sh -c "! grep -q '2026-10: not reported' '$work/err'"
# The remedy: retract the file; the next night reports the month without it.
settle retract "billingeventfeed_v1/year=2026/month=09/data.csv" --why "absurd amounts" >/dev/null 2>&1
check "... retracted" test $? = 0
rm "$inbox/billingeventfeed_v1/year=2026/month=09/data.csv"
rc=$(night)
check "... then the month is reported again (exit 4: the name that is not UTF-8 is still there)" test "$rc" = 4

# --out inside --inbox: the next night would read the reports as feed files (a metering.csv
# fits offer_dimension): refused before anything is read, a configuration error (exit 2).
n_before=$(sql "SELECT count(*) FROM settle.ingest_file")
settle --quiet nightly --inbox "$inbox" --out "$inbox/reports" 2>"$work/err"
check "--out inside the inbox: exit 2" test $? = 2
check "... says why" grep -qF 'is inside the inbox' "$work/err"
check "... nothing read, nothing written" \
	test "$(sql "SELECT count(*) FROM settle.ingest_file")" = "$n_before" -a ! -e "$inbox/reports"
(cd "$inbox" && "$SETTLE_BIN" --db "$DB" --quiet nightly --inbox . --out reports 2>"$work/err")
check "... also as \"--inbox . --out reports\"" test $? = 2
ln -s "$inbox" "$work/inbox-link"
settle --quiet nightly --inbox "$work/inbox-link" --out "$inbox/new/reports" 2>"$work/err"
check "... also through a link, into a folder that does not exist yet" test $? = 2

# A folder whose entries' paths are longer than 4096 bytes: one problem named by that folder
# (exit 4), not a walk that fails and stops the whole night (exit 1, every night).
long=$(head -c 250 /dev/zero | tr '\0' d)
(cd "$inbox" && mkdir deep && cd deep && for _ in $(seq 17); do mkdir "$long" && cd "$long" || exit 1; done)
printf '%s\n' "$H" "$(row lp1 1.00)" >"$inbox/offers/zz-after-deep.csv"
rc=$(night)
check "a path longer than 4096 bytes: exit 4, the night goes on" test "$rc" = 4
check "... named as a folder with entries settle cannot read" \
	grep -qF 'holds entries whose paths are longer than settle reads (4096 bytes)' "$work/err"
check "... the other files load" test "$(sql "SELECT count(*) FROM settle.billing_event WHERE billing_event_id = 'lp1'")" = 1
rm -rf "$inbox/deep"

# A column settle does not know (the marketplace adds columns): one warning for the file, not one
# more on every night that appends to it, or a good night is never one line of mail again.
mkdir -p "$inbox/billingeventfeed_v1/year=2026/month=12"
m12=$inbox/billingeventfeed_v1/year=2026/month=12/data.csv
printf '%s\n' "$H,new_col" "$(row u1 1.00),x" >"$m12"
night >/dev/null
check "an unknown column: warned the night the file is first ingested" \
	grep -qF 'month=12/data.csv: ignoring 1 unknown column of a billing_event file: "new_col"' "$work/err"
printf '%s\n' "$(row u2 2.00),x" >>"$m12"
night >/dev/null
check "... not again on the night it is appended to" sh -c "! grep -q 'unknown column' '$work/err'"
check "... the appended row loads" test "$(sql "SELECT count(*) FROM settle.billing_event WHERE billing_event_id = 'u2'")" = 1

# A file settle cannot open (EACCES: mode 000; root reads any file, so the night runs as nobody
# when the test runs as root): set aside for the night, named with the reason, not recorded as
# ingested, and the other files go on (exit 4, not 5). The later files of its feed wait behind it:
# v1 is revised in month=11 with the same valid_from, so only the ingest order tells which version
# is current (SPEC §3.1, §6); a file of another kind (metering) does not wait.
DB=$(pg_test_createdb badinput_unread) || { ko "create a database"; exit 1; }
as_user() {
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid=nobody --regid="$(id -g nobody)" --init-groups -- "$@"
	else
		"$@"
	fi
}
un=$work/unread
uout=$work/unread-out
bef=billingeventfeed_v1/year=2026
mkdir -p "$un/$bef/month=09" "$un/$bef/month=10" "$un/$bef/month=11" "$uout"
chmod 755 "$work"
[ "$(id -u)" = 0 ] && chown nobody "$uout"
HV=$H,valid_from
vrow() { echo "$(row "$1" "$2"),2026-10-01T00:00:00Z"; }
printf '%s\n' "$HV" "$(vrow s1 1.00)" >"$un/$bef/month=09/data.csv"
printf '%s\n' "$HV" "$(vrow v1 10.00)" >"$un/$bef/month=10/data.csv"
printf '%s\n' "$HV" "$(vrow v1 11.00)" >"$un/$bef/month=11/data.csv"
printf '%s\n' "$HV" "$(vrow p1 5.00)" >"$un/zz-billing.csv"
cp "$TOP"/fixtures/demo/inbox/20-metering-2026-10.csv "$un/zz-metering.csv"
chmod 000 "$un/$bef/month=10/data.csv"
unight() { # prints the exit code; stderr in $work/err
	as_user "$SETTLE_BIN" --db "$DB" --quiet nightly --inbox "$un" --out "$uout" 2>"$work/err"
	echo $?
}
in_ledger() { sql "SELECT count(*) FROM settle.ingest_file WHERE path = '$1'"; }
rc=$(unight)
check "an unreadable file: exit 4 (set aside), not 5" test "$rc" = 4
check "... named in one line with the reason" grep -qE \
	"$bef/month=10/data.csv: could not open .*: Permission denied; set aside, not recorded as ingested: read again on the next night; later files of billing_event wait behind it" "$work/err"
check "... not recorded as ingested" test "$(in_ledger "$bef/month=10/data.csv")" = 0
check "... the file before it loads" test "$(in_ledger "$bef/month=09/data.csv")" = 1
check "... a file of another kind after it loads" test "$(in_ledger zz-metering.csv)" = 1
check "... the later files of its feed wait, in a feed folder or by their header" \
	test "$(in_ledger "$bef/month=11/data.csv")$(in_ledger zz-billing.csv)" = 00
check "... and are named" grep -qF \
	"2 later files wait for the next night behind earlier ones settle could not read (the inbox's order is kept): \"$bef/month=11/data.csv\" (billing_event, behind \"$bef/month=10/data.csv\"), \"zz-billing.csv\" (billing_event, behind" "$work/err"
check "... the summary counts them" grep -qF '5 files (2 ingested, 0 already ingested, 0 rejected whole, 1 not readable, 2 held back)' "$work/err"
settle status >"$work/status" 2>&1
check "... settle status lists them" grep -qF 'set aside by the last nightly' "$work/status"
check "... the unreadable one with its reason" grep -qE "^  $bef/month=10/data.csv: could not open .*Permission denied" "$work/status"
check "... the held one" grep -qF "  zz-billing.csv: waits: billing_event, behind \"$bef/month=10/data.csv\"" "$work/status"
rc=$(unight)
check "the next night, still unreadable: exit 4 again, nothing lost" test "$rc" = 4
chmod 644 "$un/$bef/month=10/data.csv"
rc=$(unight)
check "once readable: exit 0" test "$rc" = 0
check "... read in the inbox's order: the later version is current" \
	test "$(sql "SELECT amount_micros FROM settle.billing_event_asof(now()) WHERE billing_event_id = 'v1'")" = 11000000
check "... every file in the ledger" test "$(sql "SELECT count(*) FROM settle.ingest_file")" = 5
settle status >"$work/status" 2>&1
check "... settle status no longer lists anything set aside" sh -c "! grep -q 'set aside' '$work/status'"

# A folder settle cannot open holds back the later files of its feed the same way.
mkdir -p "$un/$bef/month=12" "$un/billingeventfeed_v1/year=2027/month=01"
printf '%s\n' "$HV" "$(vrow f1 1.00)" >"$un/$bef/month=12/data.csv"
printf '%s\n' "$HV" "$(vrow f2 2.00)" >"$un/billingeventfeed_v1/year=2027/month=01/data.csv"
chmod 000 "$un/$bef/month=12"
rc=$(unight)
check "an unreadable folder: exit 4" test "$rc" = 4
check "... the later file of its feed waits" test "$(in_ledger billingeventfeed_v1/year=2027/month=01/data.csv)" = 0
check "... and is named" grep -qF '"billingeventfeed_v1/year=2027/month=01/data.csv" (billing_event, behind "'"$bef/month=12"'")' "$work/err"
chmod 755 "$un/$bef/month=12"
rc=$(unight)
check "... once readable, both load in order: exit 0" test "$rc" = 0
check "... in order" test "$(sql "SELECT string_agg(path, ' ' ORDER BY file_id) FROM settle.ingest_file WHERE path LIKE '%month=12%' OR path LIKE '%2027%'")" = \
	"$bef/month=12/data.csv billingeventfeed_v1/year=2027/month=01/data.csv"
