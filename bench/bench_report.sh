#!/usr/bin/env bash
# bench_report.sh — time and peak memory of the report side (bench/run.sh runs every bench_*.sh):
#   1. `settle nightly` end to end from an empty database: ingest the generated month (bench/gen:
#      1M billing events, 5M metering records by default), reconcile and report every period.
#   2. `settle report` of that month again: reconcile + every CSV + the workbook.
# Targets: nightly < 60 s, report < 30 s, peak RSS of settle < 256 MiB. Each measurement also
# prints the steps of every period it computed (SETTLE_RECONCILE_TIMING=1).
#
# The database is the embedded default (fsync on, as users get it) under a temporary SETTLE_HOME,
# initialised before the clock starts; BENCH_DB=conninfo uses an existing server instead.
# BENCH_EVENTS / BENCH_METERING size the month; generated files are cached in BENCH_DATA
# (default /tmp/settle-bench-data-<events>-<metering>). Prints one line per measurement.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
settle=${SETTLE_BIN:-$top/settle}
gen=$top/bench/gen
events=${BENCH_EVENTS:-1000000}
metering=${BENCH_METERING:-5000000}
data=${BENCH_DATA:-/tmp/settle-bench-data-$events-$metering}
[ -x "$settle" ] || { echo "bench_report: $settle is missing (make)" >&2; exit 1; }
[ -x "$gen" ] || make -C "$top" --no-print-directory bench/gen >/dev/null || exit 1
[ -x /usr/bin/time ] || { echo "bench_report: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }

if [ ! -f "$data/.complete" ]; then
	rm -rf "$data"
	mkdir -p "$data/inbox"
	echo "bench_report: generating $events events, $metering metering records into $data"
	"$gen" --seed 42 --events "$events" --metering "$metering" --period 2026-10 --out "$data/inbox" ||
		exit 1
	touch "$data/.complete"
fi

work=$(mktemp -d /tmp/settle-bench-report.XXXXXX)
chmod 755 "$work"
cleanup() {
	# the embedded server stops with the last settle command; its files go with the directory
	rm -rf "$work"
}
trap cleanup EXIT
if [ -n "${BENCH_DB:-}" ]; then
	db=(--db "$BENCH_DB")
else
	unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGSERVICE PGSERVICEFILE SETTLE_DB
	export SETTLE_HOME=$work/var
	db=()
fi
"$settle" "${db[@]}" init >/dev/null 2>&1 || { echo "bench_report: settle init failed" >&2; exit 1; }

measure() { # LABEL TARGET_S COMMAND...: runs it under /usr/bin/time -v, prints seconds and peak RSS
	local label=$1 target=$2 log=$work/time.log rc
	shift 2
	SETTLE_RECONCILE_TIMING=1 /usr/bin/time -v -o "$log" "$@" >/dev/null 2>"$work/stderr.log"
	rc=$?
	if [ $rc != 0 ] && [ $rc != 4 ]; then
		echo "bench_report: $label failed with exit code $rc:" >&2
		tail -n 5 "$work/stderr.log" >&2
		return 1
	fi
	local wall rss_kb secs
	wall=$(sed -n 's/.*Elapsed (wall clock) time.*: //p' "$log")
	rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log")
	secs=$(echo "$wall" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.1f", s }')
	printf 'bench_report: %-58s %7s s  peak RSS %4d MiB  (target < %s s, < 256 MiB)\n' \
		"$label" "$secs" $((rss_kb / 1024)) "$target"
	# the steps of every period (SETTLE_RECONCILE_TIMING): reconcile, insights, the files
	sed -n 's/^settle: \(reconcile\|insights\|report\) \([0-9-]*\): /bench_report:     \2 \1: /p' "$work/stderr.log"
}

measure "nightly, empty database, $events events + $metering metering" 60 \
	"$settle" "${db[@]}" nightly --inbox "$data/inbox" --out "$work/reports" || exit 1
measure "report --period 2026-10 (reconcile, CSVs, workbook)" 30 \
	"$settle" "${db[@]}" report --period 2026-10 --out "$work/reports" || exit 1
ls -l "$work/reports/2026-10" | awk 'NR > 1 { printf "bench_report:   %10d  %s\n", $5, $9 }'
