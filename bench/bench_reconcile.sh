#!/usr/bin/env bash
# bench_reconcile.sh — time and peak memory of `settle reconcile` alone (bench/run.sh runs every
# bench_*.sh). For a generated month of 100k and of 1M billing events (bench/gen, seed 42, with its
# offers, payouts, deposits and 5M metering records either way), the feeds are ingested into a
# fresh database (not timed), then `settle reconcile --period 2026-10` (as of now) is timed twice under
# /usr/bin/time -v. Targets for the 1M month: < 15 s and < 256 MiB peak RSS of settle; time should
# grow linearly with the events. Each run also prints reconcile's phases (SETTLE_RECONCILE_TIMING).
#
# The database is the embedded default (fsync on, as users get it) under a temporary SETTLE_HOME
# per size; BENCH_DB=conninfo (without dbname) uses that server instead, creating the databases
# settle_bench_rc_100000 and settle_bench_rc_1000000 in it. BENCH_SIZES overrides the event counts
# ("100000 1000000"), BENCH_METERING the metering records (5000000). Generated files are cached
# in /tmp/settle-bench-data-<events>-<metering> (shared with bench_report.sh).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
settle=${SETTLE_BIN:-$top/settle}
gen=$top/bench/gen
sizes=${BENCH_SIZES:-100000 1000000}
metering=${BENCH_METERING:-5000000}
[ -x "$settle" ] || { echo "bench_reconcile: $settle is missing (make)" >&2; exit 1; }
[ -x "$gen" ] || make -C "$top" --no-print-directory bench/gen >/dev/null || exit 1
[ -x /usr/bin/time ] || { echo "bench_reconcile: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }

work=$(mktemp -d /tmp/settle-bench-reconcile.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT

secs_of() { # the "Elapsed (wall clock)" of a /usr/bin/time -v log, in seconds
	sed -n 's/.*Elapsed (wall clock) time.*: //p' "$1" |
		awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.1f", s }'
}

declare -A first_secs
for events in $sizes; do
	data=${BENCH_DATA_PREFIX:-/tmp/settle-bench-data}-$events-$metering
	if [ ! -f "$data/.complete" ]; then
		rm -rf "$data"
		mkdir -p "$data/inbox"
		echo "bench_reconcile: generating $events events, $metering metering records into $data"
		"$gen" --seed 42 --events "$events" --metering "$metering" --period 2026-10 --out "$data/inbox" ||
			exit 1
		touch "$data/.complete"
	fi
	if [ -n "${BENCH_DB:-}" ]; then
		dbname=settle_bench_rc_$events
		psql -X -q -d "$BENCH_DB dbname=postgres" -c "DROP DATABASE IF EXISTS $dbname" \
			-c "CREATE DATABASE $dbname" || exit 1
		db=(--db "$BENCH_DB dbname=$dbname")
	else
		unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGSERVICE PGSERVICEFILE SETTLE_DB
		export SETTLE_HOME=$work/var-$events
		db=()
	fi
	start=$(date +%s)
	if ! (cd "$data/inbox" && "$settle" "${db[@]}" ingest offers.csv offer_dimensions.csv billing_event.csv \
		metering.csv bank_deposits.csv) >"$work/ingest.log" 2>&1; then
		echo "bench_reconcile: ingest failed:" >&2
		tail -n 5 "$work/ingest.log" >&2
		exit 1
	fi
	echo "bench_reconcile: $events events: ingested in $(($(date +%s) - start)) s (not part of the measure)"
	for attempt in 1 2; do
		log=$work/time.log
		if ! SETTLE_RECONCILE_TIMING=1 /usr/bin/time -v -o "$log" "$settle" "${db[@]}" reconcile \
			--period 2026-10 >"$work/out" 2>"$work/err"; then
			echo "bench_reconcile: reconcile failed:" >&2
			tail -n 5 "$work/err" >&2
			exit 1
		fi
		secs=$(secs_of "$log")
		rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log")
		printf 'bench_reconcile: %8d events, run %d: %6s s  peak RSS %4d MiB  (1M target < 15 s, < 256 MiB)\n' \
			"$events" "$attempt" "$secs" $((rss_kb / 1024))
		sed -n 's/^settle: reconcile 2026-10: /bench_reconcile:     /p' "$work/err"
		[ "$attempt" = 1 ] && first_secs[$events]=$secs
	done
	sed 's/^/bench_reconcile:   /' "$work/out"
	if [ -n "${BENCH_DB:-}" ]; then
		psql -X -q -d "$BENCH_DB dbname=postgres" -c "DROP DATABASE IF EXISTS settle_bench_rc_$events"
	fi
	rm -rf "$work/var-$events"
done
if [ -n "${first_secs[100000]:-}" ] && [ -n "${first_secs[1000000]:-}" ]; then
	awk -v a="${first_secs[100000]}" -v b="${first_secs[1000000]}" \
		'BEGIN { if (a > 0) printf "bench_reconcile: 1M / 100k time ratio %.1f (10 would be linear in the events; metering is 5M records in both)\n", b / a }'
fi
