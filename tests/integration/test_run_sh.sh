#!/usr/bin/env bash
# test_run_sh.sh — tests/run.sh itself: its summary is never a false green. Runs it on a directory
# of stand-in unit tests (TEST_FILTER keeps it to those): all passing gives "2 passed, 0 failed"
# and exit 0; a test that removes the run's log directory while it runs makes every test whose log
# is lost count as failed, and the run exit non-zero.
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
harness_init run_sh

fake=$work/unit
mkdir -p "$fake"
printf '#!/bin/sh\necho "PASS: a: one"\n' >"$fake/test_a"
printf '#!/bin/sh\necho "PASS: b: one"\n' >"$fake/test_b"
chmod +x "$fake"/test_*
UNIT_DIR=$fake TEST_FILTER='^unit/' bash "$TOP/tests/run.sh" >"$work/green.log" 2>&1
rc=$?
check "two passing tests: exit 0" test "$rc" = 0
check "two passing tests: 2 passed, 0 failed" test "$(tail -n 1 "$work/green.log")" = "2 passed, 0 failed"

# test_a removes the directory its own log is written to (run.sh's, named by its stdout), and
# only that one
cat >"$fake/test_a" <<'SH'
#!/bin/sh
echo "PASS: a: one"
out=$(readlink "/proc/$$/fd/1")
case $out in /tmp/settle-tests.*/test_a.out) rm -rf "${out%/test_a.out}" ;; esac
SH
UNIT_DIR=$fake TEST_FILTER='^unit/' bash "$TOP/tests/run.sh" >"$work/gone.log" 2>&1
rc=$?
check "log directory removed mid-run: exit non-zero" test "$rc" != 0
check "log directory removed mid-run: both tests count as failed" \
	test "$(grep -E '^[0-9]+ passed' "$work/gone.log")" = "0 passed, 2 failed"
check "log directory removed mid-run: the lost log is named" grep -q 'unit/test_a: no output could be recorded' "$work/gone.log"
