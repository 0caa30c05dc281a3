#!/usr/bin/env bash
# test_ingest_append_check.sh — the prefix check of an append (SPEC §3 "Appends", docs/ingest.md):
# the new records are loaded while a second thread hashes the prefix, and the verdict is taken
# before COMMIT. A grown file whose earlier bytes changed (same length, one byte) must never pass
# for an append: the load is rolled back and the file ingested whole, said so. The ledger keeps
# each load's line count (file_lines, migration 018), which numbers the next append's lines; a
# ledger row without it (an older database) takes the path that reads the prefix first.
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
harness_init ingest_append_check ingest_append_check
src=$TOP/fixtures/sdds-bucket/billingeventfeed_v1/year=2026/month=10/data.csv
rel=billingeventfeed_v1/year=2026/month=10/data.csv
mkdir -p "$work/in/$(dirname "$rel")"
f=$work/in/$rel
lines() { sed -n "$1" "$src"; } # sed address list of the fixture's lines (line 4 is a bad row)
night() { # N: ingests the file as it is; rc in $rc, stderr in $work/nN.err
	(cd "$work/in" && "$SETTLE_BIN" --db "$DB" ingest "$rel") >"$work/n$1.out" 2>"$work/n$1.err"
	rc=$?
}
last() { sql "SELECT $1 FROM settle.ingest_file ORDER BY file_id DESC LIMIT 1"; }

# night 1: the header and two records
lines '1,3p' >"$f"
night 1
check "night 1 loads 2 rows" test "$rc" = 0 -a "$(sql "SELECT count(*) FROM settle.billing_event")" = 2
check "night 1: the ledger keeps the file's line count" test "$(last file_lines)" = 3

# night 2: two more records, and one byte of the first record changed (same length): the
# prefix's SHA-256 differs, so the file is ingested whole as a new file, with a warning
{ lines '1p'; lines '2p' | sed 's/,250\.00,USD,/,250.50,USD,/'; lines '3p;5,6p'; } >"$f"
check "night 2's file: same length prefix, one byte changed" \
	test "$(head -c "$(sql "SELECT file_bytes FROM settle.ingest_file WHERE file_id = 1")" "$f" | cmp -l - <(lines '1,3p') | wc -l)" = 1
night 2
check "night 2 exits 0" test "$rc" = 0
[ "$rc" = 0 ] || cat "$work/n2.err"
check "night 2: the changed prefix is said, once" \
	test "$(grep -c "warning: data.csv: changed since it was ingested as file 1 .*its first [0-9]* bytes are not the bytes ingested then.*ingested whole as a new file" "$work/n2.err")" = 1
check "night 2: recorded as a whole file, not an append" test "$(last prefix_bytes)" = 0
check "night 2: its SHA-256 is the file's" test "$(last sha256)" = "$(sha256sum "$f" | cut -d' ' -f1)"
# (a whole file stores every row again, as any re-delivered file: 2 + 4 rows, 5 distinct contents)
check "night 2: the changed record is a new version, the new records are in" \
	test "$(sql "SELECT count(*) || ' ' || count(DISTINCT (billing_event_id, amount_micros)) FROM settle.billing_event")" = "6 5"
check "night 2: no row of the rolled-back attempt is left (lines 4 and 5 once each)" \
	test "$(sql "SELECT count(*) FROM settle.billing_event WHERE file_id = (SELECT max(file_id) FROM settle.ingest_file)")" = 4
check "night 2: the ledger keeps its line count" test "$(last file_lines)" = 5

# night 3: two more records: an append, numbered from line 6 without reading the prefix first
lines '7,8p' >>"$f"
night 3
check "night 3 exits 0, an append from line 6" sh -c "test $rc = 0 && grep -q 'appended from line 6' '$work/n3.err'"
check "night 3: the append's rows carry lines 6 and 7" \
	test "$(sql "SELECT string_agg(line::text, ' ' ORDER BY line) FROM settle.billing_event WHERE file_id = (SELECT max(file_id) FROM settle.ingest_file)")" = "6 7"
check "night 3: the ledger's SHA-256 is the grown file's, its prefix the night-2 file" \
	test "$(last "sha256 || ' ' || prefix_bytes || ' ' || file_lines")" = "$(sha256sum "$f" | cut -d' ' -f1) $(($(wc -c <"$f") - $(lines '7,8p' | wc -c))) 7"

# night 4: the last ledger row without a line count (as written before migration 018): the
# prefix is read first, the append numbered the same way, and the count recorded again
sql "UPDATE settle.ingest_file SET file_lines = NULL WHERE file_id = (SELECT max(file_id) FROM settle.ingest_file)" >/dev/null
lines '9p' >>"$f"
night 4
check "night 4 (no line count recorded): an append from line 8" sh -c "test $rc = 0 && grep -q 'appended from line 8' '$work/n4.err'"
check "night 4: its line count is recorded" test "$(last file_lines)" = 8

# night 5: the same file again: nothing to do
night 5
check "night 5: unchanged, a no-op" sh -c "test $rc = 0 && grep -q 'already ingested' '$work/n5.err'"
check "all nights: 9 stored rows" test "$(sql "SELECT count(*) FROM settle.billing_event")" = 9
