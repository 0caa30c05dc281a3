#!/usr/bin/env bash
# test_nightly_kill.sh — SPEC §6 atomicity: `settle nightly` killed with SIGKILL at any point leaves
# every report set whole (old or new, each passing sha256sum -c), and the next clean nightly writes
# the same CSV bytes as a run that was never disturbed. The deterministic points are the
# SETTLE_FAILPOINT hooks (report_set.h): after the first file's ingest, with the sets staged but
# not committed, after the commit before any swap, after the first swap; then kill -9 at random
# moments.
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
harness_init kill # no database here: each run below creates its own

# The data files of a set; run.csv differs between runs by its as-of, the workbook with it.
DATA="allocations.csv payouts.csv exceptions.csv disbursements.csv aging.csv metering.csv rejected.csv"
whole() { # DIR: every set in DIR passes sha256sum -c (temporary directories may remain)
	local d
	for d in "$1"/*/; do
		[ -d "$d" ] || continue
		(cd "$d" && sha256sum --quiet -c MANIFEST >/dev/null 2>&1) || { echo "  $d is not whole"; return 1; }
	done
}
same_as_reference() { # DIR: same periods as the reference, same data bytes
	local d p f
	[ "$(cd "$1" && ls)" = "$(cd "$work/ref" && ls)" ] || { echo "  periods: $(cd "$1" && ls | tr '\n' ' ')"; return 1; }
	[ -z "$(ls -A "$1" | grep '^\.')" ] || { echo "  temporary entries left: $(ls -A "$1")"; return 1; }
	for p in $(cd "$work/ref" && ls); do
		for f in $DATA; do cmp -s "$work/ref/$p/$f" "$1/$p/$f" || { echo "  $p/$f differs"; return 1; }; done
	done
}

inbox=$work/inbox
mkdir -p "$inbox"
cp "$TOP"/fixtures/demo/inbox/*.csv "$inbox"/

# The reference: an undisturbed run.
REF_DB=$(pg_test_createdb kill_ref) || { echo "FAIL: $T: could not create a database"; exit 1; }
"$SETTLE_BIN" --db "$REF_DB" nightly --inbox "$inbox" --out "$work/ref" 2>/dev/null
rc=$?
check "undisturbed nightly" test $rc = 0 -o $rc = 4

n=0
for fp in ingested-one stage-written committed published-one; do
	n=$((n + 1))
	db=$(pg_test_createdb "kill_fp$n") || { ko "$fp: create a database"; continue; }
	out=$work/fp-$fp
	# in a subshell with stderr closed: bash's "Killed" notice is expected noise
	rc=$( (SETTLE_FAILPOINT=$fp "$SETTLE_BIN" --db "$db" nightly --inbox "$inbox" --out "$out"; echo $?) 2>/dev/null)
	check "$fp: the run was killed (exit 137)" test $rc = 137
	check "$fp: what the killed run left is whole" whole "$out"
	"$SETTLE_BIN" --db "$db" nightly --inbox "$inbox" --out "$out" 2>"$work/fp-$fp.err"
	rc=$?
	[ $rc = 0 ] || [ $rc = 4 ] || cat "$work/fp-$fp.err"
	check "$fp: the next nightly completes" test $rc = 0 -o $rc = 4
	check "$fp: ... and writes what an undisturbed run wrote" same_as_reference "$out"
done

# kill -9 at random moments, several times over one database, then a clean run.
db=$(pg_test_createdb kill_random) || { echo "FAIL: $T: could not create a database"; exit 1; }
out=$work/random
broken=0
for delay in 0.05 0.15 0.3 0.45 0.6 0.8 1.0; do
	"$SETTLE_BIN" --db "$db" nightly --inbox "$inbox" --out "$out" 2>/dev/null &
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	whole "$out" >/dev/null || broken=$((broken + 1))
done
check "kill -9 at 7 random moments never left a broken set" test $broken = 0
# A backend whose client was killed mid-query holds the run lock until its query ends (the
# server notices a dead client only when it next talks to it): exit 3 meanwhile, as SPEC §6 says.
for _ in $(seq 60); do
	"$SETTLE_BIN" --db "$db" nightly --inbox "$inbox" --out "$out" 2>"$work/random.err"
	rc=$?
	[ $rc = 3 ] || break
	sleep 0.5
done
check "the nightly after the kills completes" test $rc = 0 -o $rc = 4
[ $rc = 0 ] || [ $rc = 4 ] || cat "$work/random.err"
check "... and writes what an undisturbed run wrote" same_as_reference "$out"
