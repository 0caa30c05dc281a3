#!/usr/bin/env bash
# bench_peers.sh — settle against what a user would pick instead (issue 19, target 5), in one run,
# on the same two CSV files (bench/gen: billing_event.csv and offers.csv of a BENCH_EVENTS month):
#   settle   `settle nightly` from an empty embedded default (init not timed) of an inbox holding
#            just those two files: ingest, reconcile, insights, every CSV and the workbook;
#   pandas   bench/peers/pandas_alloc.py (Debian's python3-pandas and python3-openpyxl): the
#            period's allocations and payouts, exact, written as CSV and XLSX;
#   duckdb   bench/peers/duckdb_alloc.js (npm @duckdb/node-api, installed at bench time into
#            bench/.peers; skipped with a message when npm cannot install it): the same, as CSV;
#   floor    psql \copy of both files into text tables plus one SQL GROUP BY of the charge groups,
#            on a throwaway server from tests/lib/pg.sh (fsync off: a floor, not a peer).
# BENCH_RUNS rounds (default 3), each running the four in that order; medians and ratios. The
# peers' allocations.csv and payouts.csv of the first round are compared byte for byte with
# settle's (same format by construction; any difference is printed). Options: BENCH_EVENTS
# (default 1000000), BENCH_RUNS, BENCH_DUCKDB_VERSION (default 1.5.6-r.1).
# BENCH_SCALE=small runs it at a small size in a minute or two (a check of the script, not a measure).
set -u
. "$(dirname "$0")/lib.sh"
bench_init bench_peers
events=${BENCH_EVENTS:-$(sized 1000000 20000)}
runs=${BENCH_RUNS:-$(sized 3 2)}
duck_version=${BENCH_DUCKDB_VERSION:-1.5.6-r.1}
py=/usr/bin/python3
data=$(bench_data "$events" 1000) || exit 1
inbox=$work/inbox
mkdir -p "$inbox"
cp "$data/inbox/billing_event.csv" "$data/inbox/offers.csv" "$inbox/"
be=$inbox/billing_event.csv
echo "bench_peers: inputs $(($(wc -l <"$be") - 1)) billing events ($(du -m "$be" | cut -f1) MB), $(($(wc -l <"$inbox/offers.csv") - 1)) offers; $runs rounds; load $(load)"
have_pandas=1
if ! "$py" -c 'import pandas, openpyxl' 2>/dev/null; then
	have_pandas=0
	echo "bench_peers: pandas: skipped: $py cannot import pandas and openpyxl (apt-get install python3-pandas python3-openpyxl)"
fi
have_duck=1
peers=$top/bench/.peers
if [ ! -f "$peers/node_modules/@duckdb/node-api/package.json" ] ||
	! grep -q "\"version\": \"$duck_version\"" "$peers/node_modules/@duckdb/node-api/package.json"; then
	mkdir -p "$peers"
	if ! command -v npm >/dev/null || ! (cd "$peers" && timeout 600 npm install --no-audit --no-fund --no-save \
		--prefix . "@duckdb/node-api@$duck_version") >"$work/npm.log" 2>&1; then
		have_duck=0
		echo "bench_peers: duckdb: skipped: npm could not install @duckdb/node-api@$duck_version (registry unreachable or no npm):"
		tail -n 3 "$work/npm.log" 2>/dev/null | sed 's/^/bench_peers:   /'
	fi
fi

# the floor's server
. "$top/tests/lib/pg.sh"
pg_test_start >/dev/null
bench_cleanup_extra=pg_test_stop
be_cols=$(head -n 1 "$be" | tr -d '\r' | sed 's/,/ text, /g; s/$/ text/')
of_cols=$(head -n 1 "$inbox/offers.csv" | tr -d '\r' | sed 's/,/ text, /g; s/$/ text/')
floor_sql=$work/floor.sql
cat >"$floor_sql" <<SQL
CREATE TABLE be ($be_cols);
CREATE TABLE offers ($of_cols);
\\copy be FROM '$be' CSV HEADER
\\copy offers FROM '$inbox/offers.csv' CSV HEADER
SELECT count(*) FROM (
  SELECT recipient_account_id, transaction_reference_id, currency, left(invoice_date, 7),
    sum(amount::numeric) FILTER (WHERE transaction_type LIKE 'SELLER_REV_SHARE%' AND charge_side IS DISTINCT FROM 'BUYING'),
    sum(amount::numeric) FILTER (WHERE transaction_type LIKE 'SELLER_REV_SHARE%' AND charge_side = 'BUYING'),
    sum(amount::numeric) FILTER (WHERE transaction_type LIKE 'AWS_REV_SHARE%'),
    sum(amount::numeric) FILTER (WHERE transaction_type LIKE 'SELLER_TAX_SHARE%')
  FROM be WHERE action IN ('INVOICED', 'FORGIVEN') GROUP BY 1, 2, 3, 4) g;
SQL

declare -A t
for i in $(seq "$runs"); do
	home=$work/var-$i
	bench_embedded "$home"
	"${emb[@]}" "$settle" init >/dev/null 2>&1 || { echo "bench_peers: settle init failed" >&2; exit 1; }
	bench_timed "$work/settle" "${emb[@]}" "$settle" nightly --inbox "$inbox" --out "$work/settle-out" || exit 1
	t[settle]+="$secs "
	line="round $i: settle ${secs} s (${rss_mib} MiB)"
	rm -rf "$home"
	if [ "$have_pandas" = 1 ]; then
		mkdir -p "$work/pandas-out"
		bench_timed "$work/pandas" "$py" "$top/bench/peers/pandas_alloc.py" "$be" "$inbox/offers.csv" 2026-10 "$work/pandas-out" || exit 1
		t[pandas]+="$secs "
		line+=", pandas ${secs} s (${rss_mib} MiB)"
	fi
	if [ "$have_duck" = 1 ]; then
		mkdir -p "$work/duckdb-out"
		bench_timed "$work/duckdb" node "$top/bench/peers/duckdb_alloc.js" "$peers" "$be" "$inbox/offers.csv" 2026-10 "$work/duckdb-out" || exit 1
		t[duckdb]+="$secs "
		line+=", duckdb ${secs} s (${rss_mib} MiB)"
	fi
	db=$(pg_test_createdb "bench_floor_$i")
	psql -X -q -d "$db" -c CHECKPOINT
	bench_timed "$work/floor" psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$db" -f "$floor_sql" || exit 1
	t[floor]+="$secs "
	line+=", floor ${secs} s"
	echo "bench_peers: $line; load $(load)"
done

med() { echo "${t[$1]}" | tr ' ' '\n' | grep . | median; }
s=$(med settle)
echo "bench_peers: medians: settle nightly $s s$([ "$have_pandas" = 1 ] && echo ", pandas+openpyxl $(med pandas) s")$([ "$have_duck" = 1 ] && echo ", duckdb $(med duckdb) s"), floor (psql \\copy x2 + GROUP BY) $(med floor) s"
for p in pandas duckdb floor; do
	[ -n "${t[$p]:-}" ] && echo "bench_peers: ratio settle / $p: $(ratio "$s" "$(med "$p")")x"
done
echo "bench_peers: the floor's GROUP BY: $(sed -n 1p "$work/floor.out") charge groups (every period; the peers count 2026-10's):"
grep -h 'groups' "$work/pandas.out" "$work/duckdb.out" 2>/dev/null | sed 's/^/bench_peers:   /'

# apples to apples: the peers' files against settle's (period 2026-10)
for p in pandas duckdb; do
	[ -d "$work/$p-out" ] || continue
	for f in allocations.csv payouts.csv; do
		if cmp -s "$work/settle-out/2026-10/$f" "$work/$p-out/$f"; then
			echo "bench_peers: $p $f: byte-identical to settle's ($(($(wc -l <"$work/$p-out/$f") - 1)) rows)"
		else
			echo "bench_peers: $p $f: DIFFERS from settle's; first differences (< settle, > $p):"
			diff "$work/settle-out/2026-10/$f" "$work/$p-out/$f" | head -n 10 | sed 's/^/bench_peers:   /'
		fi
	done
done
