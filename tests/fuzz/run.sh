#!/usr/bin/env bash
# run.sh — runs every libFuzzer harness of build/fuzz/ (built by `make fuzz`) for FUZZ_SECONDS
# each (default 4) and prints "PASS: fuzz/<harness>" or "FAIL: fuzz/<harness>" lines, the
# protocol of tests/run.sh.
#
# Seeds come from the fixtures (every fixtures/**/*.csv, prefixed with the harness's control
# byte: for fuzz_feed 0 = kind from the header and 1..N = each kind; for fuzz_csv_in a few
# chunk/read sizes: 0, 67, 130) and tests/fuzz/money.seeds (one amount a line) for fuzz_money.
#
# FUZZ_CORPUS=DIR keeps each harness's corpus in DIR/<harness>/ between runs (a long run grows
# it; see docs/testing.md); without it the corpus lives in a temporary directory. A crash input
# is kept as DIR-or-temp/crash-<harness>-* and named in the FAIL line's details.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${FUZZ_SECONDS:-4}
bin=$top/build/fuzz
tmp=$(mktemp -d /tmp/settle-fuzz.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
keep=${FUZZ_CORPUS:-$tmp}

seed() { # harness dir
	local n=0 f b
	mkdir -p "$2"
	case $1 in
	fuzz_money)
		while IFS= read -r line; do
			n=$((n + 1))
			printf '%s' "$line" >"$2/seed-$n"
		done <"$top/tests/fuzz/money.seeds"
		;;
	*)
		prefixes="0 67 130"
		[ "$1" = fuzz_feed ] && prefixes="0 1 2 3 4 5"
		for f in "$top"/fixtures/*/*.csv "$top"/fixtures/*/*/*.csv; do
			[ -f "$f" ] || continue
			[ "$(stat -c %s "$f")" -le 65536 ] || continue
			for b in $prefixes; do
				n=$((n + 1))
				{ printf "\\$(printf %o "$b")"; cat "$f"; } >"$2/seed-$n"
			done
		done
		;;
	esac
}

for h in "$bin"/fuzz_*; do
	[ -x "$h" ] || continue
	name=$(basename "$h")
	corpus=$keep/$name
	[ -d "$corpus" ] || seed "$name" "$corpus"
	log=$tmp/$name.log
	# -timeout: one input may take at most 10 s; -rss_limit_mb bounds memory; -max_len keeps
	# inputs small enough to mutate fast (CSV_IN_FIELD_MAX + a little, so too-long fields occur).
	timeout $((secs + 120)) "$h" -max_total_time="$secs" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$keep/crash-$name-" -print_final_stats=1 "$corpus" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	if [ "$rc" = 0 ]; then
		echo "PASS: fuzz/$name (${runs:-?} runs in ${secs} s)"
	else
		echo "FAIL: fuzz/$name: exit $rc after ${runs:-?} runs"
		grep -E 'ERROR|differs|SUMMARY|Test unit written|==[0-9]+==' "$log" | head -20 | sed 's/^/  /'
	fi
done
