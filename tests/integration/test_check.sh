#!/usr/bin/env bash
# test_check.sh — `settle check FILE...` (SPEC §7): the validation of ingest, every rejection
# printed as `settle: check: FILE:LINE: COLUMN: sentence`, nothing loaded, no database opened or
# created; exit 0 clean, 4 rejected, 2 usage.
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
work=$(mktemp -d /tmp/settle-test-check.XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT
bucket=$TOP/fixtures/sdds-bucket
m10=billingeventfeed_v1/year=2026/month=10/data.csv
# No database anywhere: an empty SETTLE_HOME, no libpq environment.
home=$work/home
mkdir "$home"
run_check() { env -u PGHOST -u PGPORT -u PGDATABASE -u PGSERVICE -u SETTLE_DB SETTLE_HOME="$home" \
	"$SETTLE_BIN" check "$@"; }

cp -r "$bucket" "$work/b"
grep -v '"12,50"' "$work/b/$m10" >"$work/clean.csv"
run_check "$work/clean.csv" 2>"$work/c1.err"
check "a clean file: exit 0" test $? = 0
check "a clean file: its count of rows that would load" grep -q 'clean.csv: billing_event, 13 rows would load, 0 rejected' "$work/c1.err"
check "nothing was created in SETTLE_HOME" test -z "$(ls -A "$home")"

# Bad rows: every one printed (more than ingest's 20), exit 4.
{ head -n 1 "$work/clean.csv"; for i in $(seq 1 25); do sed -n 2p "$work/clean.csv" | sed "s/,250\.00,USD,/,1.2.$i,USD,/"; done; } >"$work/bad.csv"
run_check "$work/bad.csv" 2>"$work/c2.err"
check "bad rows: exit 4" test $? = 4
check "bad rows: every one printed as FILE:LINE: COLUMN: sentence" \
	test "$(grep -Ec "^settle: check: $work/bad.csv:[0-9]+: amount: \"1\\.2\\.[0-9]+\" is not a decimal number$" "$work/c2.err")" = 25
check "bad rows: the last one at line 26" grep -q "bad.csv:26: amount:" "$work/c2.err"

# The SDDS folder gives the kind; the bad row of the fixture at its line.
run_check "$work/b/$m10" 2>"$work/c3.err"
check "an SDDS file: exit 4 for its bad row" test $? = 4
check "an SDDS file: the row at its physical line" grep -q "$m10:4: amount: \"12,50\" is not a decimal number" "$work/c3.err"

# Whole-file rejections, and the address feed skipped.
printf 'a,b\n1,2\n' >"$work/nokind.csv"
run_check "$work/nokind.csv" 2>"$work/c4.err"
check "a file of no kind: exit 4, said at line 1" sh -c "test $? = 4 && grep -q 'nokind.csv:1: cannot tell the kind' '$work/c4.err'"
head -c -1 "$work/b/$m10" >"$work/b/cut.tmp" && mv "$work/b/cut.tmp" "$work/b/$m10"
run_check "$work/b/$m10" 2>"$work/c5.err"
check "an SDDS copy cut short: rejected whole, as ingest would" \
	sh -c "test $? = 4 && grep -q 'last line has no line end' '$work/c5.err'"
run_check "$work/b/addressfeed_v1/year=2026/month=10/data.csv" 2>"$work/c6.err"
check "the address feed: skipped, exit 0" sh -c "test $? = 0 && grep -q 'skipped: settle does not read the addressfeed_v1 feed' '$work/c6.err'"

# Usage.
run_check 2>/dev/null
check "no FILE: exit 2" test $? = 2
run_check --kind nope "$work/clean.csv" 2>/dev/null
check "an unknown kind: exit 2" test $? = 2
run_check --bogus "$work/clean.csv" 2>/dev/null
check "an unknown option: exit 2" test $? = 2
run_check "$work/missing.csv" 2>/dev/null
check "a missing file: exit 1" test $? = 1
mkfifo "$work/pipe.csv"
timeout 20 env SETTLE_HOME="$home" "$SETTLE_BIN" check "$work/pipe.csv" 2>/dev/null
check "a FIFO: exit 1 at once, not a hang" test $? = 1
run_check --kind billing_event "$work/clean.csv" 2>/dev/null
check "--kind: exit 0" test $? = 0
check "still nothing in SETTLE_HOME" test -z "$(ls -A "$home")"
exit 0
