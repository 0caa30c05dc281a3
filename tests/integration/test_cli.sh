#!/usr/bin/env bash
# test_cli.sh — one way to fail (SPEC §7, issue 15): the same mistake gives the same message and
# exit code in every command, "settle:" first whatever argv[0] is, the usage line after it; help
# COMMAND and COMMAND --help print the full usage; global options after the command; results on
# stdout, messages on stderr; read-only commands never create a database.
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
harness_init cli cli_errors
# every case: NAME EXIT FIRST-LINE-OF-STDERR (exact) COMMAND...
expect() {
	local name=$1 want_rc=$2 want_msg=$3 rc first
	shift 3
	"$@" >"$work/out" 2>"$work/err"
	rc=$?
	first=$(head -n 1 "$work/err")
	if [ "$rc" = "$want_rc" ] && [ "$first" = "$want_msg" ]; then
		ok "$name"
	else
		ko "$name"
		echo "  exit $rc (want $want_rc); stderr: $first"
		echo "  want:   $want_msg"
	fi
}
S=$SETTLE_BIN
mkdir -p "$work/inbox" "$work/sets"
cp "$TOP"/fixtures/demo/inbox/*.csv "$work/inbox"/
settle ingest "$work"/inbox/*.csv >/dev/null 2>&1
settle report --period 2026-10 --out "$work/sets" >/dev/null 2>&1
set=$work/sets/2026-10

for c in init ingest reconcile report nightly rerun verify close status check; do
	expect "$c: an unknown option" 2 "settle: $c: error: unknown option \"--bogus\"" "$S" --db "$DB" "$c" --bogus
	check "$c: the usage line follows" grep -q "^usage: settle $c" "$work/err"
	"$S" "$c" --help >"$work/help1" 2>/dev/null
	check "$c --help: exit 0, the full usage on stdout" sh -c "test $? = 0 && grep -q '^usage: settle .*$c' '$work/help1' && test \$(wc -l <'$work/help1') -gt 3"
	"$S" help "$c" >"$work/help2" 2>/dev/null
	check "help $c: the same text" cmp -s "$work/help1" "$work/help2"
	check "help $c: its exit codes, interrupted ones too" \
		sh -c "sed -n '/^Exit codes: 0 /,/^Global/p' '$work/help1' | grep -q '130/143 interrupted'"
done
# Each command lists its own exit codes (README "Exit codes"), not one generic 0-4.
exits() { "$S" help "$1" | sed -n '/^Exit codes: /,/^Global/p' | tr '\n' ' '; }
has() { printf '%s\n' "$1" | grep -q -e "$2"; } # TEXT REGEX
check "help nightly: 4 and 5 partly done" has "$(exits nightly)" ' 4 done with .* 5 partly done '
check "help verify: 1 a file differs or the rerun failed" has "$(exits verify)" ' 1 a file differs or the rerun failed'
check "help verify: no 4 (verify quarantines nothing)" sh -c '! printf "%s\n" "$1" | grep -q " 4 "' _ "$(exits verify)"
check "help help: its own usage, exit 0" sh -c '"$1" help help >"$2" && grep -q "^usage: settle .*help \[COMMAND\]" "$2"' _ "$S" "$work/helphelp"
for c in reconcile report close; do
	expect "$c: a bad period" 2 "settle: $c: error: period \"2026-13\" is not a month written YYYY-MM" \
		"$S" --db "$DB" "$c" --period 2026-13
	expect "$c: a period without its value" 2 "settle: $c: error: option \"--period\" needs a value" \
		"$S" --db "$DB" "$c" --period
	expect "$c: no period" 2 "settle: $c: error: --period is required" "$S" --db "$DB" "$c"
	expect "$c: a bad as-of" 2 "settle: $c: error: --as-of \"yesterday\" is not an ISO 8601 timestamp" \
		"$S" --db "$DB" "$c" --period 2026-10 --as-of yesterday
	expect "$c: a stray argument" 2 "settle: $c: error: unexpected argument \"extra\" ($c takes only options)" \
		"$S" --db "$DB" "$c" --period 2026-10 extra
done
expect "status: a stray argument" 2 'settle: status: error: unexpected argument "extra" (status takes only options)' \
	"$S" --db "$DB" status extra
expect "ingest: no file" 2 "settle: ingest: error: ingest needs at least one argument" "$S" --db "$DB" ingest
expect "verify: no directory" 2 "settle: verify: error: verify needs its argument" "$S" --db "$DB" verify
expect "rerun: no --run" 2 "settle: rerun: error: --run is required" "$S" --db "$DB" rerun --out "$work/x"
# a missing input file is a usage error everywhere
expect "ingest: a missing file" 2 "settle: ingest: error: could not open \"$work/nofile.csv\": No such file or directory" \
	"$S" --db "$DB" ingest "$work/nofile.csv"
expect "verify: a missing directory" 2 "settle: verify: error: \"$work/nodir\" is not a directory" \
	"$S" --db "$DB" verify "$work/nodir"
expect "rerun: a missing run.csv" 2 "settle: rerun: error: could not open \"$work/nodir/run.csv\": No such file or directory" \
	"$S" --db "$DB" rerun --run "$work/nodir/run.csv" --out "$work/x"
expect "nightly: a missing inbox" 2 "settle: nightly: error: could not open inbox \"$work/nodir\": No such file or directory" \
	"$S" --db "$DB" nightly --inbox "$work/nodir" --out "$work/x"
expect "an unknown command" 2 'settle: error: unknown command "frobnicate"' "$S" frobnicate
expect "an unknown global option" 2 'settle: error: unknown option "--bogus"' "$S" --bogus status
expect "help of an unknown command" 2 'settle: help: error: unknown command "frobnicate"' "$S" help frobnicate
(cd "$work" && ln -sf "$S" ./settle-link && ./settle-link --db "$DB" report --bogus >/dev/null 2>"$work/err2")
check "messages start with settle:, not argv[0]" grep -q '^settle: report: error: ' "$work/err2"

# global options after the command
"$S" status --db "$DB" >"$work/st.out" 2>"$work/st.err"
check "--db after the command" sh -c "test $? = 0 && grep -q '^files: 7' '$work/st.out'"
"$S" report --period 2026-10 --out "$work/sets" --db "$DB" --quiet >"$work/r.out" 2>"$work/r.err"
check "--quiet after the command: the summary line only" sh -c "test $? = 0 && test \$(wc -l <'$work/r.err') = 1"
check "report: nothing on stdout, its summary on stderr" sh -c "test ! -s '$work/r.out' && grep -q '^settle: report: wrote ' '$work/r.err'"
"$S" --db "$DB" reconcile --period 2026-10 >"$work/rc.out" 2>/dev/null
check "reconcile: its result line on stdout" grep -q '^reconcile 2026-10 as of .*: run [0-9]*: ' "$work/rc.out"
"$S" --db "$DB" report --period 2031-01 --out "$work/sets" 2>"$work/fut.err" >/dev/null
check "a future period: a warning, not silence" grep -q '^settle: report: warning: period 2031-01 begins after the as-of ' "$work/fut.err"
"$S" --db "$DB" report --period 2026-10 --as-of 2020-01-01 --out "$work/sets-early" 2>"$work/early.err" >/dev/null
check "an as-of before any ingest: a warning" grep -q '^settle: report: warning: no file was ingested at or before the as-of 2020-01-01T00:00:00Z' "$work/early.err"

# SPEC §7: read-only commands never create a database (the embedded default, in an empty directory)
mkdir "$work/empty"
ro() { (cd "$work/empty" && env -u PGHOST -u PGHOSTADDR -u PGPORT -u PGDATABASE -u PGUSER -u PGSERVICE -u SETTLE_DB -u SETTLE_HOME "$S" "$@"); }
ro status >"$work/e.out" 2>"$work/e.err"
check "status without a database exits 2" test $? = 2
check "and says so" grep -q '^settle: status: error: no database: the embedded default ./var/pg does not exist' "$work/e.err"
check "and creates nothing" test -z "$(ls -A "$work/empty")"
ro verify "$set" >/dev/null 2>"$work/e2.err"
check "verify without a database exits 2 and creates nothing" \
	sh -c "test $? = 2 && test -z \"\$(ls -A '$work/empty')\" && grep -q 'no database' '$work/e2.err'"
