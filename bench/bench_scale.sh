#!/usr/bin/env bash
# bench_scale.sh — how the month's cost grows with the events (issue 19, target 4: linear,
# 3M/1M <= 3.3x). For each of BENCH_SIZES billing events (default "100000 1000000 3000000";
# bench/gen with BENCH_METERING metering records, default 100000 for every size, so that the fixed
# metering work does not dilute the ratio), on a fresh embedded default (init not timed):
#   ingest   `settle ingest` of the month's five files (offers, dimensions, billing events,
#            metering, deposits), timed;
#   report   `settle report --period 2026-10` (reconcile, insights, every CSV and the workbook),
#            timed, with every step settle prints (SETTLE_RECONCILE_TIMING=1).
# One run per size. Prints per size the times, settle's peak RSS and the server's peak Σ PSS
# (bench/pgmem.py), then one table of the steps by size with the ratios of the last two sizes.
# BENCH_SCALE=small runs it at a small size in a minute or two (a check of the script, not a measure).
set -u
. "$(dirname "$0")/lib.sh"
bench_init bench_scale
sizes=${BENCH_SIZES:-$(sized "100000 1000000 3000000" "10000 30000")}
metering=${BENCH_METERING:-$(sized 100000 20000)}
echo "bench_scale: sizes $sizes events, $metering metering records each; one run per size; load $(load)"
steps=$work/steps.tsv
: >"$steps"
last2=$(echo "$sizes" | awk '{ if (NF >= 2) print $(NF - 1), $NF }')
for n in $sizes; do
	data=$(bench_data "$n" "$metering") || exit 1
	home=$work/var-$n
	bench_embedded "$home"
	"${emb[@]}" "$settle" init >/dev/null 2>&1 || { echo "bench_scale: settle init failed" >&2; exit 1; }
	pgmem_start "$home/pg/data"
	(cd "$data/inbox" && bench_timed "$work/ingest" "${emb[@]}" "$settle" ingest offers.csv offer_dimensions.csv \
		billing_event.csv metering.csv bank_deposits.csv && echo "$secs $rss_mib" >"$work/ingest.res") || exit 1
	read -r ing_s ing_rss <"$work/ingest.res"
	bench_timed "$work/report" "${emb[@]}" "$settle" report --period 2026-10 --out "$work/reports" || exit 1
	pgmem_stop
	rep_s=$secs
	total=$(awk -v a="$ing_s" -v b="$rep_s" 'BEGIN { printf "%.2f", a + b }')
	printf 'bench_scale: %8d events: ingest %7s s (%d MiB)  report %7s s (%d MiB)  total %7s s  server peak Σ PSS %d MiB; load %s\n' \
		"$n" "$ing_s" "$ing_rss" "$rep_s" "$rss_mib" "$total" "$pss_mib" "$(load)"
	printf '%s\t%s\t%s\n' "$n" "ingest (5 files)" "$ing_s" "$n" "report (total)" "$rep_s" "$n" "ingest + report" "$total" >>"$steps"
	sed -n 's/^settle: \(reconcile\|insights\|report\) 2026-10: \(.*[^ ]\)  *\([0-9.]*\) s$/\1: \2\t\3/p' "$work/report.err" |
		sed "s/^/$n\t/" >>"$steps"
	rm -rf "$home" "$work/reports"
done
# the table: one line per step, one column per size, the ratio of the last two sizes
awk -F'\t' -v sizes="$sizes" -v last2="$last2" '
	BEGIN { ns = split(sizes, S, " "); split(last2, L, " ") }
	{ if (!(($2) in seen)) { seen[$2] = 1; order[++k] = $2 } t[$2, $1] = $3 }
	END {
		printf "bench_scale: %-40s", "step (2026-10)"
		for (i = 1; i <= ns; i++) printf " %10s", S[i]
		if (L[2] != "") printf "   %s/%s", L[2], L[1]
		printf "\n"
		for (j = 1; j <= k; j++) {
			printf "bench_scale: %-40s", order[j]
			for (i = 1; i <= ns; i++) printf " %10s", ((order[j], S[i]) in t) ? t[order[j], S[i]] : "-"
			a = t[order[j], L[1]]; b = t[order[j], L[2]]
			if (L[2] != "" && a > 0) printf "   %6.2fx", b / a
			printf "\n"
		}
	}' "$steps"
[ -n "$last2" ] && echo "bench_scale: target: the last two sizes' total ratio <= 3.3x for 3x the events (linear)"
