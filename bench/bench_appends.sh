#!/usr/bin/env bash
# bench_appends.sh — a month delivered as nightly appends (SPEC §3 "Appends", issue 12): the same
# data.csv grows every night and each `settle ingest` of it must load only the new records, so
# the cost of a night follows that night's rows, not the month so far.
#
#   BENCH_EVENTS billing events (default 1000000, bench/gen seed 42, period 2026-10) split into
#   BENCH_NIGHTS nights (default 30, ~35k events a night at the default size); night k rewrites
#   DIR/billingeventfeed_v1/year=2026/month=10/data.csv with the header and the first k parts (as
#   `aws s3 sync` does) and times `settle ingest` of it. Prints nights 1, 10, 20 and the last, the
#   ratio last/first (target: flat, ~1), the sum of all nights against one ingest of the final
#   file on a fresh database (target <= 1.2x) and into one already holding rows, and checks that the month's rows are stored once.
# Runnable alone (`bash bench/bench_appends.sh`) and from `make bench`. BENCH_DATA=DIR keeps the
# generated file; the server is a throwaway one from tests/lib/pg.sh.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
SETTLE=${SETTLE_BIN:-$top/settle}
GEN=$top/bench/gen
events=${BENCH_EVENTS:-1000000}
nights=${BENCH_NIGHTS:-30}
for x in "$SETTLE" "$GEN"; do
	[ -x "$x" ] || { echo "bench_appends: $x is missing (make all bench/gen)" >&2; exit 1; }
done
keep=1
data=${BENCH_DATA:-}
if [ -z "$data" ]; then
	data=$(mktemp -d /tmp/settle-bench-appends.XXXXXX)
	keep=0
fi
# shellcheck source=../tests/lib/pg.sh
. "$top/tests/lib/pg.sh"
pg_test_start
cleanup() { pg_test_stop; [ "$keep" = 1 ] || rm -rf "$data"; }
trap cleanup EXIT

src=$data/gen-$events/billing_event.csv
[ -s "$src" ] || "$GEN" --seed 42 --events "$events" --metering 1000 --period 2026-10 --out "$data/gen-$events" >/dev/null 2>&1
rows=$(($(wc -l <"$src") - 1))
per=$(((rows + nights - 1) / nights))
rel=billingeventfeed_v1/year=2026/month=10/data.csv
bucket=$data/bucket
mkdir -p "$bucket/$(dirname "$rel")"
now() { date +%s.%N; }

db=$(pg_test_createdb bench_appends)
"$SETTLE" --db "$db" init >/dev/null 2>&1
psql -X -q -d "$db" -c CHECKPOINT
echo "inputs: $rows billing events ($(du -m "$src" | cut -f1) MB) in $nights nights of $per"
# The machine's load is part of every figure (a shared 2-CPU machine varies by 2x): say it.
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
times=()
for k in $(seq "$nights"); do
	n=$((1 + k * per))
	head -n "$n" "$src" >"$bucket/$rel.tmp" && mv "$bucket/$rel.tmp" "$bucket/$rel"
	t0=$(now)
	(cd "$bucket" && "$SETTLE" --db "$db" ingest "$rel") >"$data/night.log" 2>&1 || { cat "$data/night.log" >&2; exit 1; }
	t1=$(now)
	times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')")
	[ "$k" = 1 ] || grep -q 'appended' "$data/night.log" || { echo "night $k was not an append:" >&2; cat "$data/night.log" >&2; exit 1; }
done
stored=$(psql -X -A -t -d "$db" -c "SELECT count(*) FROM settle.billing_event")
ledger=$(psql -X -A -t -d "$db" -c "SELECT count(*) || ' ledger rows, ' || count(*) FILTER (WHERE prefix_bytes > 0) || ' appends' FROM settle.ingest_file")

db2=$(pg_test_createdb bench_appends_whole)
"$SETTLE" --db "$db2" init >/dev/null 2>&1
psql -X -q -d "$db2" -c CHECKPOINT
t0=$(now)
(cd "$bucket" && "$SETTLE" --db "$db2" ingest "$rel") >"$data/whole.log" 2>&1 || { cat "$data/whole.log" >&2; exit 1; }
t1=$(now)
whole=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
stored2=$(psql -X -A -t -d "$db2" -c "SELECT count(*) FROM settle.billing_event")
# The one ingest above loads into an empty table: truncated and copied frozen, which (wal_level
# minimal or not) the nights after the first cannot be. A second baseline loads the final file
# into a database that already holds a row, as every night after the first does.
db3=$(pg_test_createdb bench_appends_plain)
"$SETTLE" --db "$db3" init >/dev/null 2>&1
"$SETTLE" --db "$db3" ingest "$top/fixtures/sdds-bucket/billingeventfeed_v1/year=2026/month=09/data.csv" >/dev/null 2>&1
psql -X -q -d "$db3" -c CHECKPOINT
t0=$(now)
(cd "$bucket" && "$SETTLE" --db "$db3" ingest "$rel") >"$data/plain.log" 2>&1 || { cat "$data/plain.log" >&2; exit 1; }
t1=$(now)
plain=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')

last=${times[$((nights - 1))]}
pick() { echo "${times[$(($1 - 1))]}"; }
printf 'per-night ingest (s): night 1 %s' "$(pick 1)"
for k in 10 20; do [ "$k" -lt "$nights" ] && printf ', night %d %s' "$k" "$(pick "$k")"; done
printf ', night %d %s\n' "$nights" "$last"
echo "all nights: ${times[*]}"
sum=$(printf '%s\n' "${times[@]}" | awk '{ s += $1 } END { printf "%.3f", s }')
awk -v a="$(pick 1)" -v b="$last" 'BEGIN { printf "ratio last/first: %.2fx (target: flat)\n", b / a }'
awk -v s="$sum" -v w="$whole" 'BEGIN { printf "sum of the nights %.3f s, one ingest of the final file %.3f s: %.2fx (target <= 1.2x)\n", s, w, s / w }'
awk -v s="$sum" -v w="$plain" 'BEGIN { printf "one ingest of the final file into a database already holding rows (no COPY FREEZE) %.3f s: %.2fx\n", w, s / w }'
echo "rows stored by the nights: $stored ($ledger); by the one ingest: $stored2"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$stored" = "$stored2" ] || { echo "bench_appends: the nights stored $stored rows, the whole file $stored2" >&2; exit 1; }
