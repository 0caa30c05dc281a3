#!/usr/bin/env bash
# Runs every test tier and prints one summary line, "N passed, N failed".
#
# Protocol: every test executable (a unit binary in $UNIT_DIR, or a script
# tests/integration/test_*.sh) prints "PASS: <file>: <case>" or "FAIL: <file>: <case>" lines.
# A test that exits non-zero without printing a FAIL line counts as one failure, so a crash is
# never silent. Integration scripts share one throwaway PostgreSQL started here (tests/lib/pg.sh)
# and each creates its own database in it. TEST_FILTER=regex runs only matching test files.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
: "${SETTLE_BIN:=$top/settle}"
: "${UNIT_DIR:=$top/build/tests}"
export SETTLE_BIN TOP="$top"

passed=0
failed=0
failures=()
log_dir=$(mktemp -d /tmp/settle-tests.XXXXXX)
chmod 755 "$log_dir"

run_one() { # name, command...
	local name=$1; shift
	local out="$log_dir/$(basename "$name").out"
	"$@" >"$out" 2>&1
	local rc=$?
	local p=0 f=0
	if [ ! -f "$out" ]; then
		# The log could not be written (its directory vanished or the disk is full): the test's
		# outcome is unknown, and unknown is a failure, never a pass.
		echo "--- $name: no output could be recorded in $out"
		failed=$((failed + 1))
		failures+=("$name")
		return
	fi
	# grep -c exits 1 on no match and 2 when it cannot read: a log that vanished since the test
	# above (its directory removed meanwhile) must not read as "0 passed, 0 failed", ok.
	local gp gf
	p=$(grep -c '^PASS: ' "$out")
	gp=$?
	f=$(grep -c '^FAIL: ' "$out")
	gf=$?
	if [ "$gp" -gt 1 ] || [ "$gf" -gt 1 ]; then
		echo "--- $name: its output $out could not be read"
		failed=$((failed + 1))
		failures+=("$name")
		return
	fi
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "FAIL: $name: exited with status $rc" >>"$out" || true
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" != 0 ]; then
		failures+=("$name")
		echo "--- $name: $f failed (output follows)"
		grep -v '^PASS: ' "$out" | tail -n 40
	else
		echo "ok   $name ($p)"
	fi
}

filter=${TEST_FILTER:-.}

for t in "$UNIT_DIR"/test_*; do
	[ -x "$t" ] || continue
	echo "unit/$(basename "$t")" | grep -Eq "$filter" || continue
	run_one "unit/$(basename "$t")" "$t"
done

ints=()
for t in "$here"/integration/test_*.sh; do
	[ -f "$t" ] || continue
	echo "integration/$(basename "$t")" | grep -Eq "$filter" || continue
	ints+=("$t")
done
if [ ${#ints[@]} -gt 0 ]; then
	# shellcheck source=lib/pg.sh
	. "$here/lib/pg.sh"
	if pg_test_start; then
		for t in "${ints[@]}"; do
			run_one "integration/$(basename "$t")" bash "$t"
		done
		pg_test_stop
	else
		echo "FAIL: could not start the test PostgreSQL"
		failed=$((failed + ${#ints[@]}))
	fi
fi

if [ ${#failures[@]} -gt 0 ]; then
	echo "failed: ${failures[*]} (logs in $log_dir)"
else
	rm -rf "$log_dir"
fi
echo "$passed passed, $failed failed"
# A run that executed nothing is a failure, not a success: CI must never go green on no tests.
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
