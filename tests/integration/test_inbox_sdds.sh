#!/usr/bin/env bash
# test_inbox_sdds.sh — a seller's SDDS bucket, synced night after night (SPEC §3 "Delivery layout"
# and "Appends", §6): the recursive walk in byte order of relative paths, kinds from the
# `<feed>_v1` folders, the ledger keyed by relative path, appends to the month's data.csv loading
# only the new records, a bad row of night 1 reported once, a changed prefix ingested whole and
# said so, the address feed skipped, an unknown file rejected whole, FIFOs and links reported and
# never followed out of the inbox, an empty inbox said, exit codes night by night.
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
harness_init inbox_sdds inbox_sdds
bucket=$TOP/fixtures/sdds-bucket
inbox=$work/inbox
out=$work/reports
m10=billingeventfeed_v1/year=2026/month=10/data.csv
m09=billingeventfeed_v1/year=2026/month=09/data.csv

deliver() { # NIGHT: the bucket as synced that night (aws s3 sync rewrites every changed file whole)
	(cd "$bucket" && find . -type f) | while read -r f; do
		mkdir -p "$inbox/$(dirname "$f")"
		cp "$bucket/$f" "$inbox/$f"
	done
	sed -n '/<!-- nights:begin -->/,/<!-- nights:end -->/{/<!--/!p}' "$bucket.NIGHTS.md" | while read -r p n1 n2 n3; do
		local n; case $1 in 1) n=$n1 ;; 2) n=$n2 ;; *) n=$n3 ;; esac
		head -n "$n" "$bucket/$p" >"$inbox/$p"
	done
}
nightly() { # NIGHT: runs it, rc in $rc, stderr in $work/nNIGHT.err
	settle nightly --inbox "$inbox" --out "$out" 2>"$work/n$1.err"
	rc=$?
}
rows() { sql "SELECT count(*) FROM settle.billing_event"; }
bad_line_msgs() { cat "$work"/n*.err | grep -c "$m10:4: amount: \"12,50\" is not a decimal number"; }

check "the fixture bucket holds feed files only (used as an inbox, nothing in it is rejected whole)" \
	test -z "$(cd "$bucket" && find . -type f ! -path './*_v1/year=*/month=*/data.csv')"

# ---- night 1: month 09 complete, month 10 with its first 6 records (one bad), the address feed,
# an account feed, and a file of no kind.
mkdir -p "$inbox"
deliver 1
printf 'some,notes\nnot,a feed\n' >"$inbox/notes.csv"
nightly 1
check "night 1 exits 4 (a bad row, a file of no kind)" test "$rc" = 4
[ "$rc" = 4 ] || cat "$work/n1.err"
check "night 1: 6 + 5 billing events stored" test "$(rows)" = 11
check "night 1: the bad row is reported with its file's relative path and true line" test "$(bad_line_msgs)" = 1
check "night 1: the bad row is quarantined once" \
	test "$(sql "SELECT count(*) FROM settle.rejected_row r JOIN settle.ingest_file f USING (file_id)
	             WHERE f.path = '$m10' AND r.line = 4 AND r.code = 'BAD_AMOUNT'")" = 1
check "the ledger keys files by their path relative to the inbox, in byte order" \
	test "$(sql "SELECT string_agg(path, ' ' ORDER BY file_id) FROM settle.ingest_file")" = \
	"accountfeed_v1/year=2026/month=10/data.csv $m09 $m10 notes.csv"
check "the address feed is skipped with one line" \
	test "$(grep -c 'addressfeed_v1 skipped: settle does not read that feed (personal data)' "$work/n1.err")" = 1
check "no address row is recorded anywhere" \
	test "$(sql "SELECT count(*) FROM settle.ingest_file WHERE path LIKE 'addressfeed_v1/%'")" = 0
check "a file of no kind is rejected whole" \
	test "$(sql "SELECT kind || ' ' || file_rejected FROM settle.ingest_file WHERE path = 'notes.csv'")" = "unknown true"
check "the unknown file's message says the kind cannot be told" grep -q 'notes.csv:1: cannot tell the kind' "$work/n1.err"
check "... and names what works under nightly, settle ingest --kind (nightly has no --kind)" \
	grep -q 'notes.csv:1: cannot tell the kind .*; name the kind with settle ingest --kind K FILE$' "$work/n1.err"
check "... and the file's rejection is said in one line" \
	test "$(grep -c 'notes.csv: \(file \)\?rejected' "$work/n1.err")" = 1
# accountfeed_v1: loaded once settle has that kind, else rejected whole as not supported
acct=$(sql "SELECT file_rejected FROM settle.ingest_file WHERE path = 'accountfeed_v1/year=2026/month=10/data.csv'")
if [ "$acct" = t ]; then
	check "an SDDS feed settle cannot read yet is rejected whole: kind not supported" \
		grep -q 'accountfeed_v1/year=2026/month=10/data.csv:1: the folder "accountfeed_v1" holds an SDDS feed .*kind not supported' "$work/n1.err"
else
	ok "the account feed is a kind settle reads"
fi
whole=1; [ "$acct" = t ] && whole=2
check "night 1 summary: the files add up: $((4 - whole)) ingested, $whole rejected whole, the address feed not used" \
	sh -c "tail -n 1 '$work/n1.err' | grep -q ': 5 files ($((4 - whole)) ingested, 0 already ingested, $whole rejected whole, 1 not used)'"

# ---- night 2: month 10 grew by 4 records; everything else unchanged.
deliver 2
nightly 2
check "night 2 exits 0 (the bad row of night 1 is not reported again)" test "$rc" = 0
[ "$rc" = 0 ] || cat "$work/n2.err"
check "night 2: only the 4 new records are stored (15, no duplicates)" test "$(rows)" = 15
check "night 2: the append is one more ledger row of the same path" \
	test "$(sql "SELECT count(*) || ' ' || max(rows_loaded) FILTER (WHERE prefix_bytes > 0) || ' ' || sum(rows_rejected)
	             FROM settle.ingest_file WHERE path = '$m10'")" = "2 4 1"
check "night 2: the append starts where night 1 stopped" \
	test "$(sql "SELECT prefix_bytes = (SELECT file_bytes FROM settle.ingest_file WHERE path = '$m10' ORDER BY file_id LIMIT 1)
	             AND prefix_file_id = (SELECT min(file_id) FROM settle.ingest_file WHERE path = '$m10')
	             FROM settle.ingest_file WHERE path = '$m10' ORDER BY file_id DESC LIMIT 1")" = t
check "night 2: the append's ledger row has the grown file's size and SHA-256" \
	test "$(sql "SELECT file_bytes || ' ' || sha256 FROM settle.ingest_file WHERE path = '$m10' ORDER BY file_id DESC LIMIT 1")" = \
	"$(stat -c %s "$inbox/$m10") $(sha256sum <"$inbox/$m10" | cut -d' ' -f1)"
check "night 2: the append's rows carry their true physical lines (8..11)" \
	test "$(sql "SELECT min(line) || '-' || max(line) FROM settle.billing_event WHERE file_id = (SELECT max(file_id) FROM settle.ingest_file)")" = 8-11
check "night 2: one line for the append" grep -q "$m10: billing_event, 4 rows loaded, 0 rejected (appended from line 8)" "$work/n2.err"
check "night 2: unchanged files are counted, not listed" \
	sh -c "! grep -q 'already ingested on' '$work/n2.err' && tail -n 1 '$work/n2.err' | grep -q ': 5 files (1 ingested, 2 already ingested, 1 rejected whole on an earlier night, 0 rejected whole, 1 not used)'"
check "night 2: the bad row is not reported again" test "$(bad_line_msgs)" = 1
check "night 2: the file rejected whole on night 1 names settle ingest to retry it" \
	grep -q 'notes.csv: already rejected whole on .*(fix the file, or retry with settle ingest --kind K (or --recipient ID) FILE)$' "$work/n2.err"

# ---- night 3: month 10 grew by 4 more; month 09 was restated by the marketplace (an earlier
# byte changed): ingested whole as a new file, and said so.
deliver 3
sed -i 's/^be-0900-s,\(.*\),100\.00,USD,/be-0900-s,\1,100.50,USD,/' "$inbox/$m09"
nightly 3
check "night 3 exits 0" test "$rc" = 0
[ "$rc" = 0 ] || cat "$work/n3.err"
check "night 3: 4 appended + 6 of the changed file = 25 stored rows" test "$(rows)" = 25
check "night 3: the changed file is ingested whole with one warning" \
	test "$(grep -c "warning: $m09: changed since it was ingested as file .*: ingested whole as a new file" "$work/n3.err")" = 1
check "night 3: the current version of the restated event is the new one" \
	test "$(sql "SELECT amount_micros FROM settle.billing_event_asof(now()) WHERE billing_event_id = 'be-0900-s'")" = 100500000
check "night 3: 19 distinct events (the bad row never stored), none doubled" \
	test "$(sql "SELECT count(*) FROM settle.billing_event_asof(now())")" = 19
check "night 3: the bad row is still reported once in all" test "$(bad_line_msgs)" = 1
check "night 3: the report set lists the bad row once" \
	test "$(grep -c "$m10" "$out/2026-10/rejected.csv")" = 1

# ---- night 4: nothing new.
nightly 4
check "night 4 (nothing new) exits 0 and loads nothing" sh -c "test $rc = 0 && test $(rows) = 25"
check "night 4: every file counted as already ingested" \
	sh -c "tail -n 1 '$work/n4.err' | grep -q ': 5 files (0 ingested, 3 already ingested, 1 rejected whole on an earlier night, 0 rejected whole, 1 not used)'"

# ---- a copy still being written (no final line end) loads nothing and is read the next night
printf 'be-0008-s,partial' >>"$inbox/$m10"
nightly 5
check "a data.csv cut mid-line is not loaded (exit 4, said so)" \
	sh -c "test $rc = 4 && test $(rows) = 25 && grep -q 'last line has no line end' '$work/n5.err'"
head -n 15 "$bucket/$m10" >"$inbox/$m10"
sed -n 6,7p "$bucket/$m10" | sed 's/be-0003/be-0008/; s/ref-0003/ref-0008/' >>"$inbox/$m10"
nightly 6
check "the completed copy is appended from where the last load stopped" \
	sh -c "test $rc = 0 && test $(rows) = 27 && grep -q 'appended from line 16' '$work/n6.err'"

# ---- links, FIFOs and the like: reported, never followed out of the inbox
echo 'outside' >"$work/outside.csv"
cp "$bucket/$m09" "$work/outside-feed.csv"
ln -s "$work/outside-feed.csv" "$inbox/escape.csv"
ln -s "$inbox/missing.csv" "$inbox/dangling.csv"
ln -s loop-b "$inbox/loop-a"; ln -s loop-a "$inbox/loop-b"
ln -s billingeventfeed_v1 "$inbox/dirlink"
ln -s "$m09" "$inbox/alias.csv"
mkfifo "$inbox/pipe.csv"
touch "$inbox/billingeventfeed_v1/year=2026/month=10/data.csv.Ab12Cd34"
before=$(sql "SELECT count(*) FROM settle.ingest_file")
timeout 60 "$SETTLE_BIN" --db "$DB" nightly --inbox "$inbox" --out "$out" 2>"$work/n7.err"
rc=$?
check "links and FIFOs: exit 4, nothing hangs" test "$rc" = 4
[ "$rc" = 4 ] || cat "$work/n7.err"
check "nothing is read through them" test "$(sql "SELECT count(*) FROM settle.ingest_file")" = "$before"
warn=$(grep 'entries of the inbox are not readable feed files' "$work/n7.err")
check "one warning names every one of them" sh -c "echo '$warn' | grep -q '^settle: nightly: warning: 7 entries'"
for x in '"dangling.csv" (a dangling symbolic link)' '"dirlink" (a symbolic link to a folder (not followed))' \
	'"escape.csv" (a symbolic link out of the inbox (not followed))' '"loop-a" (a symbolic link loop)' \
	'"pipe.csv" (a FIFO)' 'data.csv.Ab12Cd34" (not a .csv file in an SDDS feed folder'; do
	check "the warning names $x" sh -c "echo '$warn' | grep -qF '$x'"
done
check "a link to a file inside is said, not read twice" grep -q '1 symbolic link to a file inside the inbox not read (its target is read under its own path).*"alias.csv"' "$work/n7.err"
check "the summary counts what could not be read" sh -c "tail -n 1 '$work/n7.err' | grep -q '7 not readable'"

# ---- an empty inbox is said
mkdir "$work/empty"
settle nightly --inbox "$work/empty" --out "$out" 2>"$work/n8.err"
rc=$?
check "an empty inbox: a warning line" grep -q 'warning: the inbox ".*empty" holds no file' "$work/n8.err"
check "an empty inbox: exit 0" test "$rc" = 0

# ---- settle ingest of a growing file: the ledger keys it by the name as given, appends too
DB=$(pg_test_createdb inbox_sdds_ingest)
mkdir -p "$work/g/billingeventfeed_v1/year=2026/month=10"
g=$work/g/$m10
head -n 7 "$bucket/$m10" >"$g"
settle ingest "$g" 2>"$work/i1.err"
check "ingest of an SDDS path: kind from its folder, exit 4 for the bad row" test $? = 4
head -n 11 "$bucket/$m10" >"$g"
settle ingest "$g" 2>"$work/i2.err"
check "ingest again after an append: exit 0, 4 rows, the name as given recorded" \
	sh -c "test $? = 0 && test \"\$(echo \"SELECT count(*) || ' ' || string_agg(DISTINCT path, ' ') FROM settle.ingest_file\" | '$PG_TEST_BINDIR/psql' -X -q -A -t '$DB')\" = '2 $g' && grep -q '4 rows loaded' '$work/i2.err'"
check "ingest of the same grown file again: already ingested" \
	sh -c "'$SETTLE_BIN' --db '$DB' ingest '$g' 2>&1 | grep -q 'already ingested'"
exit 0
