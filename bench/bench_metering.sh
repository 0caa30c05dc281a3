#!/usr/bin/env bash
# bench_metering.sh — settle's memory must stay flat in the number of metering records (issues 14
# and 18: "benchmark with 5M metering records and the matching daily usage rows"). For each of
# BENCH_METERING_SIZES metering records (default "100000 1000000 5000000"), a month of
# BENCH_EVENTS billing events (default 100000) from bench/gen --daily-usage 1 (the marketplace's
# daily usage feed, one row per metering stream and day, matching the Success records exactly),
# on a fresh embedded default (init not timed), each step under /usr/bin/time -v:
#   ingest       offers, dimensions, billing events, deposits (not part of the comparison)
#   metering     `settle ingest metering.csv`
#   daily usage  `settle ingest dailyusagefeed.csv`
#   reconcile    `settle reconcile --period 2026-10` (three-way metering, SPEC §4.6)
#   report       `settle report --period 2026-10` (reconcile again, insights over the usage
#                history, every CSV and the workbook)
# Prints seconds and settle's peak RSS per step and size, the server's peak Σ PSS over the whole
# size (bench/pgmem.py), and per step the ratio of the largest to the smallest peak RSS (flat: ~1).
# BENCH_SCALE=small runs it at a small size in a minute or two (a check of the script, not a measure).
set -u
. "$(dirname "$0")/lib.sh"
bench_init bench_metering
sizes=${BENCH_METERING_SIZES:-$(sized "100000 1000000 5000000" "20000 100000")}
events=${BENCH_EVENTS:-$(sized 100000 20000)}
echo "bench_metering: $events events; metering sizes $sizes with the daily usage feed; one run per size; load $(load)"
res=$work/res.tsv
: >"$res"
for n in $sizes; do
	data=$(bench_data "$events" "$n" 1) || exit 1
	home=$work/var-$n
	bench_embedded "$home"
	"${emb[@]}" "$settle" init >/dev/null 2>&1 || { echo "bench_metering: settle init failed" >&2; exit 1; }
	pgmem_start "$home/pg/data"
	line=
	step() { # LABEL CMD...
		local label=$1
		shift
		(cd "$data/inbox" && bench_timed "$work/step" "${emb[@]}" "$@" && echo "$secs $rss_mib" >"$work/step.res") || exit 1
		read -r secs rss_mib <"$work/step.res"
		printf '%s\t%s\t%s\t%s\n' "$n" "$label" "$secs" "$rss_mib" >>"$res"
		line+=" $label ${secs} s ${rss_mib} MiB;"
	}
	step ingest "$settle" ingest offers.csv offer_dimensions.csv billing_event.csv bank_deposits.csv
	step metering "$settle" ingest metering.csv
	step "daily usage" "$settle" ingest dailyusagefeed.csv
	rows=$(($(wc -l <"$data/inbox/dailyusagefeed.csv") - 1))
	step reconcile "$settle" reconcile --period 2026-10
	step report "$settle" report --period 2026-10 --out "$work/reports"
	sed -n 's/^settle: insights 2026-10: /bench_metering:     insights: /p' "$work/step.err"
	pgmem_stop
	mism=$(grep -c '^2026-10,USAGE_RECORD_MISMATCH,' "$work/reports/2026-10/exceptions.csv")
	echo "bench_metering: $n metering records, $rows daily usage rows:$line server peak Σ PSS ${pss_mib} MiB;" \
		"USAGE_RECORD_MISMATCH $mism (the feed matches the log: 0 expected); load $(load)"
	rm -rf "$home" "$work/reports"
done
awk -F'\t' '{ if (!($2 in lo) || $4 < lo[$2]) lo[$2] = $4; if ($4 > hi[$2]) hi[$2] = $4
	      if (!($2 in seen)) { seen[$2] = 1; o[++k] = $2 } r[$2] = r[$2] sprintf(" %s: %s MiB", $1, $4) }
	END { for (j = 1; j <= k; j++) printf "bench_metering: peak RSS %-12s%s; largest / smallest %.2fx\n", o[j], r[o[j]], (lo[o[j]] > 0 ? hi[o[j]] / lo[o[j]] : 0) }' "$res"
