#!/usr/bin/env bash
# bench_nights.sh — a month delivered as nightly appends, each night a whole `settle nightly`
# (ingest of the grown file, reconcile, insights, the report set of the month), incremental
# against forced full (issue 19 target 1; docs/reconcile.md "Incremental current versions").
#
#   BENCH_EVENTS billing events (default 300000; bench/gen seed 42, period 2026-10, 1000 metering
#   records) split into BENCH_NIGHTS nights (default 10): night k rewrites
#   inbox/billingeventfeed_v1/year=2026/month=10/data.csv with the header and the first k parts
#   (offers, dimensions and deposits are in the inbox from night 1) and times `settle nightly`
#   at as-of 2026-11-01T06:00:00Z + k days (night 30: 2026-12-01; an as-of may not be in the future).
#   BENCH_RUNS rounds (default 3), each on two fresh databases of one throwaway server
#   (tests/lib/pg.sh, fsync off), alternating which goes first: "incremental" (the default) and
#   "full" (SETTLE_RECONCILE_FULL=1, the computation before the cache). Prints per round every
#   night's seconds and the reconcile step "current versions" (SETTLE_RECONCILE_TIMING=1), then
#   the medians over the rounds of nights 1, the middle one and the last, and the ratios full /
#   incremental. Checks that the last night's report sets of both sides are byte-identical.
# Runnable alone (`bash bench/bench_nights.sh`) and from bench/run.sh.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
SETTLE=${SETTLE_BIN:-$top/settle}
GEN=$top/bench/gen
events=${BENCH_EVENTS:-300000}
nights=${BENCH_NIGHTS:-10}
runs=${BENCH_RUNS:-3}
[ "${BENCH_SCALE:-}" = small ] && { events=20000; nights=4; runs=2; }
for x in "$SETTLE" "$GEN"; do
	[ -x "$x" ] || { echo "bench_nights: $x is missing (make all bench/gen)" >&2; exit 1; }
done
work=$(mktemp -d /tmp/settle-bench-nights.XXXXXX)
# shellcheck source=../tests/lib/pg.sh
. "$top/tests/lib/pg.sh"
pg_test_start
cleanup() { pg_test_stop; rm -rf "$work"; }
trap cleanup EXIT

data=${BENCH_DATA:-$work/gen}
[ -s "$data/billing_event.csv" ] ||
	"$GEN" --seed 42 --events "$events" --metering 1000 --period 2026-10 --out "$data" >/dev/null 2>&1
src=$data/billing_event.csv
rows=$(($(wc -l <"$src") - 1))
per=$(((rows + nights - 1) / nights))
rel=billingeventfeed_v1/year=2026/month=10/data.csv
mid=$(((nights + 1) / 2))
echo "inputs: $rows billing events in $nights nights of $per, $runs rounds"
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"

side() { # ROUND NAME ENV...: one month of nights on a fresh database; writes $work/t-NAME-ROUND
	local r=$1 name=$2 db k t0 t1 cv
	shift 2
	db=$(pg_test_createdb "nights_${name}_$r")
	"$SETTLE" --db "$db" init >/dev/null 2>&1
	rm -rf "$work/$name"
	mkdir -p "$work/$name/inbox/$(dirname "$rel")"
	cp "$data/offers.csv" "$data/offer_dimensions.csv" "$data/bank_deposits.csv" "$work/$name/inbox/"
	: >"$work/t-$name-$r"
	for k in $(seq "$nights"); do
		head -n $((1 + k * per)) "$src" >"$work/$name/inbox/$rel.tmp"
		mv "$work/$name/inbox/$rel.tmp" "$work/$name/inbox/$rel"
		t0=$(date +%s.%N)
		env "$@" SETTLE_RECONCILE_TIMING=1 "$SETTLE" --db "$db" nightly --inbox "$work/$name/inbox" \
			--out "$work/$name/out" --as-of "$(date -u -d "2026-11-01 06:00:00 UTC + $k days" +%Y-%m-%dT%H:%M:%SZ)" >/dev/null 2>"$work/$name.err" ||
			[ $? = 4 ] || { tail -n 5 "$work/$name.err" >&2; exit 1; }
		t1=$(date +%s.%N)
		cv=$(grep -E 'reconcile [0-9-]+: current versions  ' "$work/$name.err" | awk '{ s += $(NF - 1) } END { printf "%.2f", s }')
		echo "$k $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') $cv $(cut -d' ' -f1 /proc/loadavg)" \
			>>"$work/t-$name-$r"
	done
}
for r in $(seq "$runs"); do
	if [ $((r % 2)) = 1 ]; then
		side "$r" inc SETTLE_RECONCILE_FULL=0
		side "$r" full SETTLE_RECONCILE_FULL=1
	else
		side "$r" full SETTLE_RECONCILE_FULL=1
		side "$r" inc SETTLE_RECONCILE_FULL=0
	fi
	same=yes
	diff -r "$work/inc/out" "$work/full/out" >/dev/null 2>&1 || same=NO
	echo "round $r (night: seconds / current versions s / load), report sets of the last night identical: $same"
	for name in inc full; do
		printf '  %-4s' "$name"
		awk '{ printf " %s:%s/%s/%s", $1, $2, $3, $4 }' "$work/t-$name-$r"
		echo
	done
	[ "$same" = yes ] || { echo "bench_nights: the incremental and full report sets differ" >&2; exit 1; }
done
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
col() { # NAME NIGHT FIELD: the median over the rounds
	for r in $(seq "$runs"); do awk -v k="$2" -v f="$3" '$1 == k { print $f }' "$work/t-$1-$r"; done | median
}
echo "medians over $runs rounds (seconds)      night 1   night $mid   night $nights"
for name in inc full; do
	printf '  %-4s nightly                  %7s  %8s  %8s\n' "$name" "$(col $name 1 2)" "$(col $name "$mid" 2)" "$(col $name "$nights" 2)"
	printf '  %-4s   current versions       %7s  %8s  %8s\n' "$name" "$(col $name 1 3)" "$(col $name "$mid" 3)" "$(col $name "$nights" 3)"
done
awk -v a="$(col full "$nights" 2)" -v b="$(col inc "$nights" 2)" -v c="$(col full "$nights" 3)" -v d="$(col inc "$nights" 3)" \
	'BEGIN { printf "night %d, full / incremental: nightly %.2fx, current versions %.2fx\n", '"$nights"', a / b, c / d }'
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
