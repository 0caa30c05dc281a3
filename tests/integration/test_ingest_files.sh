#!/usr/bin/env bash
# `settle ingest A B C` (SPEC §7, README "Exit codes"): each FILE is its own transaction. When one
# fails after files before it were committed, the command ends 5 (partly done), names the file,
# and leaves the later ones unread (the ledger keeps the order given); when the first fails, or
# every file before it was in the ledger already, this command committed nothing and it ends 1. Ingesting again skips what is in.
set -u
. "$TOP/fixtures/ingest/lib.sh"
ingest_test_init ingest_files

mkdir -p "$WORK/in"
big_billing "$WORK/in/a.csv" 3 a
big_billing "$WORK/in/b.csv" 3 b
big_billing "$WORK/in/c.csv" 3 c
files() { q "SELECT coalesce(string_agg(file_name, ' ' ORDER BY file_id), '') FROM settle.ingest_file"; }

# The read of the first file fails (the eio: failpoint, as an I/O error would): nothing in.
SETTLE_FAILPOINT=eio:a.csv st ingest "$WORK/in/a.csv" "$WORK/in/b.csv"
check "first file fails: exit 1" "1" "$rc"
check "... nothing committed" "" "$(files)"
check "... it is named" "1" "$(grep -c 'error: could not read ".*a.csv": Input/output error' "$WORK/out")"

# The second of three fails: the first is committed, the command is partly done.
SETTLE_FAILPOINT=eio:b.csv st ingest "$WORK/in/a.csv" "$WORK/in/b.csv" "$WORK/in/c.csv"
check "second file fails: exit 5 (partly done), not 1" "5" "$rc"
check "... the file before it is committed, the later one not read" "a.csv" "$(files)"
check "... the failing file is named" "1" "$(grep -c 'error: could not read ".*b.csv": Input/output error' "$WORK/out")"
check "... and what is committed" "1" "$(grep -c 'error: the files before ".*b.csv" are ingested; ingesting again skips them' "$WORK/out")"
check "... and what is not read" "1" "$(grep -c 'error: 1 later file not read' "$WORK/out")"

# a.csv is in already: skipped, then b.csv fails. This command committed nothing: 1, not 5.
SETTLE_FAILPOINT=eio:b.csv st ingest "$WORK/in/a.csv" "$WORK/in/b.csv" "$WORK/in/c.csv"
check "skipped first file, second fails: exit 1 (nothing committed by this command), not 5" "1" "$rc"
check "... nothing more in the ledger" "a.csv" "$(files)"
check "... the failing file is named" "1" "$(grep -c 'error: could not read ".*b.csv": Input/output error' "$WORK/out")"
check "... and what is not read" "1" "$(grep -c 'error: 1 later file not read' "$WORK/out")"

# Again, without the failure: a.csv is skipped, b.csv and c.csv load in the order given.
st ingest "$WORK/in/a.csv" "$WORK/in/b.csv" "$WORK/in/c.csv"
check "again: exit 0" "0" "$rc"
check "... every file once, in the order given" "a.csv b.csv c.csv" "$(files)"
