#!/usr/bin/env bash
# test_fuzz.sh — the short fuzzing run of `make test`: builds the libFuzzer harnesses (`make
# fuzz`, clang) and runs each for FUZZ_SECONDS (default 4) on the fixture seeds. Any crash,
# sanitizer report or disagreement between the CSV reader's paths is a FAIL. The long run is in
# docs/testing.md.
set -u
top=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
if ! out=$(make -s -C "$top" fuzz 2>&1); then
	echo "FAIL: test_fuzz.sh: make fuzz"
	printf '%s\n' "$out" | tail -20 | sed 's/^/  /'
	exit 1
fi
FUZZ_SECONDS=${FUZZ_SECONDS:-4} bash "$top/tests/fuzz/run.sh"
