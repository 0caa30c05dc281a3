#!/usr/bin/env bash
# bench_month.sh — a month from empty, and memory as the user sees it (issue 19, targets 2 and 6).
# `settle nightly` of the generated month (bench/gen: BENCH_EVENTS billing events, default 1M, and
# BENCH_METERING metering records, default 5M, with offers, dimensions and deposits) from an empty
# embedded default: a fresh SETTLE_HOME per run, `settle init` before the clock starts (initdb is
# not part of the measure), then ingest, reconcile, insights and the report set of every period.
# BENCH_RUNS runs (default 3); median time (target <= 30 s) and, beside settle's own peak RSS
# (target <= 128 MiB), the PostgreSQL server's memory during the run, sampled every 0.2 s by
# bench/pgmem.py from /proc: the peak of Σ PSS over the postmaster and all its children (shared
# pages -- shared_buffers -- counted once, divided among the processes that touch them: what the
# server costs the machine), the peak of Σ RSS (shared pages counted once per process: what adding
# up `top` would say) and the largest single process's peak RSS (VmHWM). The server's settings are
# settle's choice (src/pgembed.c, src/db.c); they are printed with the numbers.
# BENCH_SCALE=small runs it at a small size in a minute or two (a check of the script, not a measure).
set -u
. "$(dirname "$0")/lib.sh"
bench_init bench_month
events=${BENCH_EVENTS:-$(sized 1000000 20000)}
metering=${BENCH_METERING:-$(sized 5000000 100000)}
runs=${BENCH_RUNS:-$(sized 3 2)}
data=$(bench_data "$events" "$metering") || exit 1
opts=$(sed -n 's/^#define PGEMBED_SERVER_OPTIONS "\(.*\)"/\1/p' "$top/src/pgembed.c")
echo "bench_month: $events events + $metering metering records, $runs runs; embedded default: ${opts:-?} (src/pgembed.c)," \
	"temp_buffers=$(sed -n "s/.*SET temp_buffers = '\([^']*\)'.*/\1/p" "$top/src/db.c") per session (src/db.c)," \
	"work_mem=256MB SET LOCAL in ingest and reconcile; load $(load)"
times=() rss=() pss=()
for i in $(seq "$runs"); do
	home=$work/var-$i
	bench_embedded "$home"
	"${emb[@]}" "$settle" init >/dev/null 2>&1 || { echo "bench_month: settle init failed" >&2; exit 1; }
	pgmem_start "$home/pg/data"
	bench_timed "$work/nightly" "${emb[@]}" "$settle" nightly --inbox "$data/inbox" --out "$work/reports" || exit 1
	pgmem_stop
	times+=("$secs") rss+=("$rss_mib") pss+=("$pss_mib")
	printf 'bench_month: run %d: nightly %7s s  settle peak RSS %4d MiB  server: peak Σ PSS %4d MiB, peak Σ RSS %4d MiB, largest process %4d MiB (%d processes); load %s\n' \
		"$i" "$secs" "$rss_mib" "$pss_mib" "$rsssum_mib" "$hwm_mib" "$procs" "$(load)"
	[ "$i" = "$runs" ] && bench_steps "$work/nightly" "bench_month:     "
	rm -rf "$home" "$work/reports"
done
m=$(printf '%s\n' "${times[@]}" | median)
echo "bench_month: median nightly from empty ${m} s (target <= 30 s);" \
	"settle peak RSS median $(printf '%s\n' "${rss[@]}" | median) MiB (target <= 128 MiB);" \
	"PostgreSQL server peak Σ PSS median $(printf '%s\n' "${pss[@]}" | median) MiB"
