#!/usr/bin/env bash
# bench_ingest.sh — how fast `settle ingest` loads, against PostgreSQL's own CSV loader.
#
#   1M billing events: settle ingest vs psql "\copy t FROM file CSV HEADER" into a plain logged
#      table with the same columns as text; BENCH_RUNS runs each (default 3), medians, ratio
#      (target <= 1.5x); each run on a fresh database (settle) / a fresh table (psql), after a
#      CHECKPOINT.
#   rows/s and peak RSS (/usr/bin/time: maximum resident set size) for 100k and 1M billing
#      events and 5M metering records: memory must not grow with the file (target < 100 MiB).
#   re-ingest of the 1M file: a no-op (target well under 1 s).
#   settle.billing_event_asof(now()) over the 1M events (the version resolution reconcile reads).
# Inputs come from bench/gen (seed 42, period 2026-10) in BENCH_DATA (default: a temporary
# directory, removed afterwards); the server is a throwaway one from tests/lib/pg.sh.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
SETTLE=${SETTLE_BIN:-$top/settle}
GEN=$top/bench/gen
runs=${BENCH_RUNS:-3}
for x in "$SETTLE" "$GEN" /usr/bin/time; do
	[ -x "$x" ] || { echo "bench_ingest: $x is missing (make all bench/gen; apt-get install time)" >&2; exit 1; }
done

keep=1
data=${BENCH_DATA:-}
if [ -z "$data" ]; then
	data=$(mktemp -d /tmp/settle-bench-ingest.XXXXXX)
	keep=0
fi
# shellcheck source=../tests/lib/pg.sh
. "$top/tests/lib/pg.sh"
pg_test_start
cleanup() { pg_test_stop; [ "$keep" = 1 ] || rm -rf "$data"; }
trap cleanup EXIT

gen() { # dir events metering
	[ -s "$1/billing_event.csv" ] && return 0
	"$GEN" --seed 42 --events "$2" --metering "$3" --period 2026-10 --out "$1" >/dev/null 2>&1
}
gen "$data/1m" 1000000 5000000
gen "$data/100k" 100000 1000
be1m=$data/1m/billing_event.csv
be100k=$data/100k/billing_event.csv
met=$data/1m/metering.csv

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
rows_of() { echo $(($(wc -l <"$1") - 1)); }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# timed CMD...: runs CMD; sets secs (elapsed) and kib (max RSS) -- in this shell, not a subshell
timed() {
	/usr/bin/time -f "%e %M" -o "$data/run.time" "$@" >"$data/run.log" 2>&1 || { cat "$data/run.log" >&2; return 1; }
	read -r secs kib <"$data/run.time"
}

fresh_settle_db() {
	db=$(pg_test_createdb bench_ingest)
	"$SETTLE" --db "$db" init >/dev/null 2>&1
	psql -X -q -d "$db" -c CHECKPOINT
}

settle_ingest() { # file -> "secs kib"
	fresh_settle_db
	timed "$SETTLE" --db "$db" ingest "$1"
}

psql_copy() { # file -> "secs kib"
	local cols
	cols=$(head -n 1 "$1" | tr -d '\r' | sed 's/,/ text, /g; s/$/ text/')
	db=$(pg_test_createdb bench_ingest_psql)
	psql -X -q -d "$db" -c "CREATE TABLE t ($cols)" -c CHECKPOINT
	timed psql -X -q -d "$db" -c "\\copy t FROM '$1' CSV HEADER"
}

echo "inputs: $(rows_of "$be1m") billing events ($(du -m "$be1m" | cut -f1) MB), $(rows_of "$met") metering records ($(du -m "$met" | cut -f1) MB); $runs runs each"
s_times=() p_times=()
for i in $(seq "$runs"); do
	psql_copy "$be1m"
	p_times+=("$secs")
	settle_ingest "$be1m"
	s_times+=("$secs")
	s_rss=$kib
	echo "  run $i: psql \\copy ${p_times[-1]} s, settle ingest ${s_times[-1]} s ($(mib "$kib") MiB)"
done
p_med=$(printf '%s\n' "${p_times[@]}" | median)
s_med=$(printf '%s\n' "${s_times[@]}" | median)
ratio=$(awk -v s="$s_med" -v p="$p_med" 'BEGIN { printf "%.2f", s / p }')
n=$(rows_of "$be1m")
echo "1M billing events: settle ingest ${s_med} s (median), psql \\copy ${p_med} s (median): ratio ${ratio}x (target <= 1.5x)"
echo "  settle: $(awk -v n="$n" -v s="$s_med" 'BEGIN { printf "%.0f", n / s }') rows/s, peak RSS $(mib "$s_rss") MiB"

# The no-op re-ingest, in the database of the last run.
r_times=()
for i in $(seq "$runs"); do
	timed "$SETTLE" --db "$db" ingest "$be1m"
	r_times+=("$secs")
done
grep -q 'already ingested' "$data/run.log" || { echo "bench_ingest: re-ingest was not a no-op" >&2; exit 1; }
echo "re-ingest of the same 1M file (no-op): $(printf '%s\n' "${r_times[@]}" | median) s (median; target well under 1 s)"

# SPEC §3.1 version resolution over the 1M events just loaded (sql/002_asof.sql).
a_times=()
for i in $(seq "$runs"); do
	timed psql -X -q -d "$db" -c "SET jit = off" -c "SELECT count(*) FROM settle.billing_event_asof(now())"
	a_times+=("$secs")
done
echo "billing_event_asof over the 1M events: $(printf '%s\n' "${a_times[@]}" | median) s (median, jit off)"

settle_ingest "$be100k"
n=$(rows_of "$be100k")
echo "100k billing events: ${secs} s, $(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.0f", n / s }') rows/s, peak RSS $(mib "$kib") MiB (1M: $(mib "$s_rss") MiB)"

settle_ingest "$met"
n=$(rows_of "$met")
echo "5M metering records: ${secs} s, $(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.0f", n / s }') rows/s, peak RSS $(mib "$kib") MiB"
