#!/usr/bin/env bash
# bench_copy.sh — `settle ingest` against `psql \copy` of the same file on the same server,
# alternately in one run (issue 19, target 3: ingest <= 1.0x psql \copy, ratio of medians).
# The file: bench/gen's billing_event.csv of a BENCH_EVENTS month (default 1000000). The server: a
# throwaway one from tests/lib/pg.sh (fsync off, the same for both sides). BENCH_RUNS rounds
# (default 5) of A B: A = psql -c "\copy t FROM FILE CSV HEADER" into a fresh database's plain
# logged table of the header's columns as text (no validation, no index), B = `settle ingest FILE`
# into a fresh database after `settle init` (validation, typed columns, the BRIN index, the ledger,
# one transaction); a CHECKPOINT before each. The order flips every round (A B, B A, ...), so
# neither side always runs on a warmer page cache.
# BENCH_SCALE=small runs it at a small size in a minute or two (a check of the script, not a measure).
set -u
. "$(dirname "$0")/lib.sh"
bench_init bench_copy
events=${BENCH_EVENTS:-$(sized 1000000 20000)}
runs=${BENCH_RUNS:-$(sized 5 2)}
data=$(bench_data "$events" 1000) || exit 1
be=$data/inbox/billing_event.csv
. "$top/tests/lib/pg.sh"
pg_test_start >/dev/null
bench_cleanup_extra=pg_test_stop
cols=$(head -n 1 "$be" | tr -d '\r' | sed 's/,/ text, /g; s/$/ text/')
echo "bench_copy: $(($(wc -l <"$be") - 1)) billing events ($(du -m "$be" | cut -f1) MB), $runs rounds alternating; load $(load)"
run_psql() {
	local db
	db=$(pg_test_createdb "bench_copy_p$1"); set -- "$1" "bench_copy_p$1"
	psql -X -q -d "$db" -c "CREATE TABLE t ($cols)" -c CHECKPOINT
	bench_timed "$work/psql" psql -X -q -d "$db" -c "\\copy t FROM '$be' CSV HEADER" || exit 1
	p+=("$secs")
	psql -X -q -d postgres -c "DROP DATABASE \"$2\""
}
run_settle() {
	local db
	db=$(pg_test_createdb "bench_copy_s$1"); set -- "$1" "bench_copy_s$1"
	"$settle" --db "$db" init >/dev/null 2>&1 || { echo "bench_copy: settle init failed" >&2; exit 1; }
	psql -X -q -d "$db" -c CHECKPOINT
	bench_timed "$work/settle" "$settle" --db "$db" ingest "$be" || exit 1
	s+=("$secs") s_rss=$rss_mib
	psql -X -q -d postgres -c "DROP DATABASE \"$2\""
}
p=() s=()
for i in $(seq "$runs"); do
	if [ $((i % 2)) = 1 ]; then run_psql "$i"; run_settle "$i"; else run_settle "$i"; run_psql "$i"; fi
	echo "bench_copy: round $i ($([ $((i % 2)) = 1 ] && echo "psql first" || echo "settle first")): psql \\copy ${p[-1]} s, settle ingest ${s[-1]} s (${s_rss} MiB), ratio $(ratio "${s[-1]}" "${p[-1]}")x; load $(load)"
done
pm=$(printf '%s\n' "${p[@]}" | median)
sm=$(printf '%s\n' "${s[@]}" | median)
echo "bench_copy: medians: settle ingest ${sm} s, psql \\copy ${pm} s: ratio $(ratio "$sm" "$pm")x (target <= 1.0x)"
