# harness.sh — the preamble and small helpers the integration scripts share (bash; source it,
# right after `set -u`: `. "$(dirname "$0")/../lib/harness.sh"`).
#
# On sourcing: T (the script's file name, for result lines), TOP (the repository, unless set) and
# SETTLE_BIN (default $TOP/settle, unless set).
#
#   harness_init NAME [DBNAME]  a scratch directory $work (mktemp -d /tmp/settle-test-NAME.XXXXXX),
#                               removed on exit; the test PostgreSQL (tests/lib/pg.sh, started or
#                               shared); with DBNAME, a fresh database of that name, conninfo in $DB.
#                               Prints a FAIL line and exits 1 when the server or database fails.
#                               A script with more to clean up on exit (a background process)
#                               defines harness_cleanup_extra; the EXIT trap calls it first.
#   ok CASE / ko CASE           prints "PASS: $T: CASE" / "FAIL: $T: CASE"
#   check CASE COMMAND...       ok CASE when COMMAND succeeds, else ko CASE
#   settle ARGS...              $SETTLE_BIN --db "$DB" ARGS...
#   sql QUERY                   QUERY on $DB through psql: unaligned, tuples only, stops on error
#
# Scripts whose helpers differ (other output, other psql flags) keep their own: the ingest
# scripts share fixtures/ingest/lib.sh, and a script may define a function of the same name after
# sourcing this file.

T=$(basename "$0")
TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
SETTLE_BIN=${SETTLE_BIN:-$TOP/settle}

_harness_exit() {
	if declare -F harness_cleanup_extra >/dev/null; then harness_cleanup_extra; fi
	rm -rf "$work"
}

harness_init() { # NAME [DBNAME]
	work=$(mktemp -d "/tmp/settle-test-$1.XXXXXX") || exit 1
	# before pg_test_start, which chains its pg_test_stop in front of this trap
	trap _harness_exit EXIT
	# shellcheck source=pg.sh
	. "$TOP/tests/lib/pg.sh"
	pg_test_start || { echo "FAIL: $T: could not start the test PostgreSQL"; exit 1; }
	[ $# -lt 2 ] && return 0
	DB=$(pg_test_createdb "$2") || { echo "FAIL: $T: could not create a database"; exit 1; }
}

ok() { echo "PASS: $T: $1"; }
ko() { echo "FAIL: $T: $1"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else ko "$name"; fi; }
settle() { "$SETTLE_BIN" --db "$DB" "$@"; }
sql() { "$PG_TEST_BINDIR/psql" -X -q -A -t -v ON_ERROR_STOP=1 "$DB" -c "$1"; }
