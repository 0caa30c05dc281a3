#!/usr/bin/env bash
# test_fault.sh — fault injection (tests/fault/fault.c, LD_PRELOAD): a small nightly is run with
# its Nth malloc, write, fsync or libpq call failing, N sampled over the calls a clean run makes.
# Every outcome must be a clean exit (0, 1 or 4; no signal, no assertion), a database in one of
# the states a clean run passes through at its commits (before; each file ingested; after), and
# a report directory holding nothing but whole sets equal to an undisturbed run's; the next
# clean nightly then writes exactly what the undisturbed run wrote.
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
harness_init fault # databases are made below

if ! out=$(make -s -C "$TOP" build/fault.so 2>&1); then
	ko "build the shim"
	printf '%s\n' "$out" | sed 's/^/  /'
	exit 1
fi
shim=$TOP/build/fault.so
bin=$SETTLE_BIN
if ldd "$bin" 2>/dev/null | grep -q libasan; then
	# An ASan binary keeps its own malloc; the plain build is what the shim can fail.
	bin=$TOP/settle
	[ -x "$bin" ] || { echo "SKIP: $T: no plain ./settle beside the sanitizer build"; exit 0; }
fi

inbox=$work/inbox
mkdir -p "$inbox"
cp "$TOP"/fixtures/spec-example/billing_event.csv "$TOP"/fixtures/spec-example/offers.csv "$inbox"/
DATA="allocations.csv payouts.csv exceptions.csv disbursements.csv aging.csv metering.csv rejected.csv"

psql_on() { "$PG_TEST_BINDIR/psql" -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }
newdb() { # NAME: a copy of the initialised base; prints its conninfo
	psql_on -d postgres -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1 TEMPLATE fault_base" \
		</dev/null >/dev/null || return 1
	echo "host=$PGHOST port=$PGPORT dbname=$1 user=$PGUSER"
}
# The database's state: the row count of every settle table (ids and instants differ by run).
state() {
	psql_on -d "$1" -c "SELECT string_agg(c.relname || '=' || (xpath('/row/n/text()',
	    query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text,
	    ' ' ORDER BY c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	    WHERE n.nspname = 'settle' AND c.relkind IN ('r', 'p')"
}
whole_and_same() { # DIR: every entry a whole set whose data files are the reference's
	local d p f
	[ -d "$1" ] || return 0
	for d in "$1"/* "$1"/.[!.]*; do
		[ -e "$d" ] || continue
		p=$(basename "$d")
		[ -d "$work/ref/$p" ] || { echo "  unexpected entry $p"; return 1; }
		(cd "$d" && sha256sum --quiet -c MANIFEST >/dev/null 2>&1) || { echo "  $p is not whole"; return 1; }
		for f in $DATA; do cmp -s "$work/ref/$p/$f" "$d/$f" || { echo "  $p/$f differs"; return 1; }; done
	done
}
same_as_reference() { # DIR: whole, and every period of the reference
	whole_and_same "$1" || return 1
	[ "$(cd "$1" && ls)" = "$(cd "$work/ref" && ls)" ] || { echo "  periods: $(cd "$1" && ls | tr '\n' ' ')"; return 1; }
}

BASE=$(pg_test_createdb fault_base) || { ko "create the base database"; exit 1; }
"$bin" --db "$BASE" init >/dev/null 2>&1 || { ko "init the base database"; exit 1; }
psql_on -d postgres -c "ALTER DATABASE fault_base WITH ALLOW_CONNECTIONS false" >/dev/null

# The states of a clean run: before, after each file's ingest (its own transaction), after.
db=$(newdb fault_ref) || { ko "create a database"; exit 1; }
allowed=" $(state "$db" | tr ' ' ,) "
for f in "$inbox"/*.csv; do
	"$bin" --db "$db" ingest "$f" >/dev/null 2>&1
	allowed="$allowed$(state "$db" | tr ' ' ,) "
done
db=$(newdb fault_ref) || { ko "create a database"; exit 1; }
rm -f "$work/counts"
FAULT_COUNT_FILE=$work/counts LD_PRELOAD=$shim "$bin" --db "$db" nightly --inbox "$inbox" --out "$work/ref" \
	>/dev/null 2>&1
rc=$?
check "undisturbed nightly under the shim" test $rc = 0 -o $rc = 4
allowed="$allowed$(state "$db" | tr ' ' ,) "
REF=$db
# A state without the tables of a run's own bookkeeping (for the "partly done" outcome, exit 5).
core() { echo "$1" | tr , '\n' | grep -Ev '^(run|run_period|period_failure|period_attempt|nightly_state)=' | tr '\n' ,; }
allowed_core=" "
for a in $allowed; do allowed_core="$allowed_core$(core "$a") "; done
read -r counts <"$work/counts" || counts=""
echo "  calls of a clean nightly: $counts"

# N values: the first call, and spread over the run up to its last call (FAULT_SAMPLES=all: all).
samples() { # COUNT
	local c=$1
	[ "${FAULT_SAMPLES:-}" = all ] && { seq 1 "$c"; return; }
	printf '%s\n' 1 $((c / 5)) $((c / 2)) $((c * 4 / 5)) "$c" |
		awk -v c="$c" '$1 >= 1 && $1 <= c' | sort -n -u
}

for kind in malloc write fsync pq; do
	total=$(echo "$counts" | tr ' ' '\n' | sed -n "s/^$kind=//p")
	[ -n "$total" ] && [ "$total" -gt 0 ] || { ko "$kind: a clean run makes no such call ($counts)"; continue; }
	bad=0 runs=0 failed_exits=0
	KIND=$(echo "$kind" | tr a-z A-Z)
	for n in $(samples "$total"); do
		runs=$((runs + 1))
		db=$(newdb fault_run) || { bad=$((bad + 1)); continue; }
		out=$work/out-$kind-$n
		env "FAULT_${KIND}_N=$n" FAULT_MALLOC_EXEMPT=libxlsxwriter:libminizip LD_PRELOAD="$shim" "$bin" --db "$db" nightly --inbox "$inbox" --out "$out" \
			>"$work/run.out" 2>&1
		rc=$?
		why=""
		case $rc in 0 | 4) ;; 1 | 5) failed_exits=$((failed_exits + 1)) ;; *) why="exit $rc" ;; esac
		st=$(state "$db" | tr ' ' ,)
		if [ "$rc" = 5 ]; then
			# Contained (issue 17): the inputs committed, the failing period rolled back alone and
			# recorded (run, period_failure) for the next night. The inputs must be in a state a
			# clean run passes through; the run's own bookkeeping is what containment adds.
			case $allowed_core in *" $(core "$st") "*) ;; *) why="$why; inputs in between: $st" ;; esac
		else
			case $allowed in *" $st "*) ;; *) why="$why; database in between: $st" ;; esac
		fi
		w=$(whole_and_same "$out") || why="$why; reports:$w"
		if [ "$rc" = 0 ] || [ "$rc" = 4 ]; then
			w=$(same_as_reference "$out") || why="$why; exit $rc but reports incomplete:$w"
		fi
		rc2=$rc
		[ $rc = 0 ] || [ $rc = 4 ] || { "$bin" --db "$db" nightly --inbox "$inbox" --out "$out" >"$work/next.out" 2>&1; rc2=$?; }
		{ [ $rc2 = 0 ] || [ $rc2 = 4 ]; } || why="$why; the next nightly exits $rc2: $(head -c 300 "$work/next.out")"
		w=$(same_as_reference "$out") || why="$why; the next nightly's reports:$w"
		if [ -n "$why" ]; then
			bad=$((bad + 1))
			echo "  $kind N=$n (exit $rc): ${why#; }"
			head -c 400 "$work/run.out" | sed 's/^/    /'
		fi
	done
	check "$kind: $runs faults (N of $total calls), $failed_exits clean failures, every outcome before or after" \
		test $bad = 0
done

# A full disk: every file write fails with ENOSPC. settle names the file and the system's reason
# (not "Input/output error"), prints no libxlsxwriter line of its own, and leaves nothing behind.
for n in 1 20; do
	FAULT_WRITE_N=$n FAULT_STICKY=1 LD_PRELOAD=$shim "$bin" --db "$REF" report --period 2026-10 \
		--as-of 2030-01-01T00:00:00Z --out "$work/full" >"$work/full.out" 2>&1
	rc=$?
	check "disk full from write $n: exit 1" test $rc = 1
	check "disk full from write $n: could not write FILE: No space left on device" \
		grep -qE '^settle: report: (error: )?2026-10: could not write "[^"]+": No space left on device$' "$work/full.out"
	check "disk full from write $n: one line, no library message" test "$(wc -l <"$work/full.out")" = 1
	check "disk full from write $n: nothing left behind" test -z "$(ls -A "$work/full" 2>/dev/null)"
done
