#!/usr/bin/env bash
# test_insights.sh — insights (docs/insights.md) against a real PostgreSQL: planted usage anomalies
# are found, clean series are not, short histories say why instead of raising exceptions, payment
# timing matches the hand-computed numbers of fixtures/insights/README.md, and two computations
# (another run, another time zone and locale, a repeat into the same run) give identical rows.
#
# The computation runs alone, through the driver $UNIT_DIR/test_insights_db
# (tests/unit/test_insights_db.c), so the tables are tested apart from reconcile; the commands
# that call insights_compute (report, nightly) are test_insights_report.sh's. The schema comes from
# `settle init`; feeds are loaded with psql COPY into the input tables (with their
# settle.ingest_file rows and the daily sums ingest keeps), so this test does not depend on
# `settle ingest`.
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
: "${SETTLE_BIN:=$TOP/settle}"
: "${UNIT_DIR:=$TOP/build/tests}"
me=test_insights.sh
DRIVER=$UNIT_DIR/test_insights_db
FIX=$TOP/fixtures/insights

pass() { echo "PASS: $me: $1"; }
fail() { echo "FAIL: $me: $1"; shift; for l in "$@"; do echo "  $l"; done; }
check() { # name, expected, actual
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected: $2" "actual:   $3"; fi
}

work=$(mktemp -d /tmp/settle-insights.XXXXXX)
trap 'rm -rf "$work"' EXIT # before pg_test_start, which chains its pg_test_stop in front of it
# shellcheck source=../lib/pg.sh
. "$TOP/tests/lib/pg.sh"
pg_test_start || { fail "start PostgreSQL"; exit 1; }
conninfo=$(pg_test_createdb insights_test) || { fail "create database"; exit 1; }
PSQL=${PG_TEST_BINDIR:+$PG_TEST_BINDIR/}psql
q() { "$PSQL" -X -q -v ON_ERROR_STOP=1 -At -d "$conninfo" "$@"; }

if [ ! -x "$DRIVER" ]; then
	fail "driver" "$DRIVER is not built (make builds it with the unit tests)"
	exit 1
fi

# --- schema ---------------------------------------------------------------------------------
if "$SETTLE_BIN" --db "$conninfo" init >"$work/init.out" 2>&1; then
	pass "settle init"
else
	fail "settle init" "$(cat "$work/init.out")"
	exit 1
fi
check "migration 005 creates the insight tables" 5 \
	"$(q -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'settle' AND tablename LIKE 'insight%'")"

# --- feeds ----------------------------------------------------------------------------------
"$FIX/gen-metering.sh" "$work"
q -c "CREATE TABLE public.st_metering (metering_record_id text, ts text, customer text, product_code text,
        dimension text, quantity bigint, status text, agreement_id text)
      ; CREATE TABLE public.st_billing (billing_event_id text, recipient_account_id text, action text,
        transaction_type text, amount text, currency text, invoice_date text, transaction_reference_id text,
        disbursement_billing_event_id text, parent_billing_event_id text, action_date text)
      ; CREATE TABLE public.st_offer (offer_id text, agreement_id text, product_id text, product_code text,
        buyer_account_id text, isv_account_id text, currency text, pricing_model text, split_basis text,
        valid_from date, valid_until date)" || exit 1

ingest_file() { # name, kind, ingested_at, rows: inserts the ledger row, prints its file_id
	local sha
	sha=$(printf '%s' "$1" | sha256sum | cut -c1-64)
	q -c "INSERT INTO settle.ingest_file (file_name, sha256, kind, rows_loaded, rows_rejected, ingested_at)
	      VALUES ('$1', '$sha', '$2', $4, 0, '$3') RETURNING file_id" | head -n 1
}

daily_sums() { # file_id: settle.metering_daily of a file loaded here, as ingest keeps it (sql/006)
	q -c "INSERT INTO settle.metering_daily
	      SELECT file_id, coalesce(agreement_id, ''), customer_aws_account_id, product_code, dimension,
	             (usage_hour AT TIME ZONE 'UTC')::date, sum(quantity)::bigint, count(*)
	      FROM settle.metering WHERE file_id = $1 AND status = 'Success' GROUP BY 1, 2, 3, 4, 5, 6"
}

load_metering() { # file, ingested_at
	local name id
	name=$(basename "$1")
	q -c "TRUNCATE public.st_metering" &&
		q -c "COPY public.st_metering FROM STDIN (FORMAT csv, HEADER)" <"$1" || return 1
	id=$(ingest_file "$name" metering "$2" "$(q -c "SELECT count(*) FROM public.st_metering")") || return 1
	q -c "INSERT INTO settle.metering (metering_record_id, file_id, line, usage_hour, customer_aws_account_id,
	        product_code, dimension, quantity, status, agreement_id)
	      SELECT metering_record_id, $id, row_number() OVER (ORDER BY metering_record_id) + 1, ts::timestamptz,
	             customer, product_code, dimension, quantity, status, nullif(agreement_id, '')
	      FROM public.st_metering" && daily_sums "$id"
}

load_billing() { # file, ingested_at
	local id
	q -c "COPY public.st_billing FROM STDIN (FORMAT csv, HEADER)" <"$1" || return 1
	id=$(ingest_file "$(basename "$1")" billing_event "$2" "$(q -c "SELECT count(*) FROM public.st_billing")") || return 1
	q -c "INSERT INTO settle.billing_event (recipient_account_id, billing_event_id, file_id, line, action,
	        transaction_type, amount_micros, currency, invoice_date, transaction_reference_id,
	        disbursement_billing_event_id, parent_billing_event_id, action_date)
	      SELECT recipient_account_id, billing_event_id, $id, row_number() OVER (ORDER BY billing_event_id) + 1,
	             action, transaction_type, (amount::numeric * 1000000)::bigint, currency, invoice_date::timestamptz,
	             nullif(transaction_reference_id, ''), nullif(disbursement_billing_event_id, ''),
	             nullif(parent_billing_event_id, ''), nullif(action_date, '')::timestamptz
	      FROM public.st_billing"
}

load_offer() { # file, ingested_at
	local id
	q -c "COPY public.st_offer FROM STDIN (FORMAT csv, HEADER)" <"$1" || return 1
	id=$(ingest_file "$(basename "$1")" offer "$2" "$(q -c "SELECT count(*) FROM public.st_offer")") || return 1
	q -c "INSERT INTO settle.offer (offer_id, file_id, line, agreement_id, product_id, product_code,
	        buyer_account_id, isv_account_id, currency, pricing_model, split_basis, valid_from, valid_until)
	      SELECT offer_id, $id, 2, agreement_id, product_id, product_code, buyer_account_id, isv_account_id,
	             currency, pricing_model, split_basis, valid_from, valid_until
	      FROM public.st_offer"
}

load_prices() { # file, ingested_at: offer_id,dimension,unit_price (decimal)
	local id
	id=$(ingest_file "$(basename "$1")" offer_dimension "$2" 2) || return 1
	tail -n +2 "$1" | while IFS=, read -r offer dim price; do
		q -c "INSERT INTO settle.offer_dimension (offer_id, dimension, file_id, line, unit_price_micros)
		      VALUES ('$offer', '$dim', $id, 2, ($price::numeric * 1000000)::bigint)" || return 1
	done
}

as_of=2026-11-03T00:00:00Z
if load_metering "$work/metering-history.csv" 2026-10-01T06:00:00Z &&
	load_metering "$work/metering-2026-10.csv" 2026-11-01T06:00:00Z &&
	load_metering "$work/metering-late.csv" 2026-11-04T06:00:00Z &&
	load_billing "$FIX/billing_event.csv" 2026-11-02T06:00:00Z &&
	load_offer "$FIX/offer.csv" 2026-01-01T00:00:00Z &&
	load_prices "$FIX/offer_dimension.csv" 2026-01-01T00:00:00Z; then
	pass "fixtures load"
else
	fail "fixtures load"
	exit 1
fi

# --- the period 2026-10 -----------------------------------------------------------------------
# Prints the period's insight rows of a run (without run_id), each table sorted by its key; dump
# adds the chart's points.
dump_results() { # run_id, period
	q -c "COPY (SELECT period, customer_aws_account_id, product_code, dimension, agreement_id, offer_id, status,
	        history_points, history_days, history_median, history_mad, band_low, band_high, period_points,
	        observed_min, observed_max, anomalies, max_score, note, source
	      FROM settle.insight_usage WHERE run_id = $1 AND period = '$2'
	      ORDER BY customer_aws_account_id COLLATE \"C\", product_code COLLATE \"C\", dimension COLLATE \"C\",
	               source COLLATE \"C\")
	      TO STDOUT (FORMAT csv, HEADER)"
	q -c "COPY (SELECT period, code, reference, seq, recipient_account_id, agreement_id, offer_id, currency,
	        expected_micros, actual_micros, difference_micros, detail
	      FROM settle.exception WHERE run_id = $1 AND period = '$2' AND code = 'USAGE_ANOMALY'
	      ORDER BY reference COLLATE \"C\", seq) TO STDOUT (FORMAT csv, HEADER)"
	q -c "COPY (SELECT period, measure, recipient_account_id, currency, samples, mean_days, median_days,
	        p90_days, min_days, max_days
	      FROM settle.insight_timing WHERE run_id = $1 AND period = '$2'
	      ORDER BY measure COLLATE \"C\", recipient_account_id COLLATE \"C\", currency COLLATE \"C\")
	      TO STDOUT (FORMAT csv, HEADER)"
	q -c "COPY (SELECT period, measure, bin_order, bin_label, days_min, days_max, samples
	      FROM settle.insight_histogram WHERE run_id = $1 AND period = '$2' ORDER BY measure, bin_order)
	      TO STDOUT (FORMAT csv, HEADER)"
	q -c "COPY (SELECT period, usage_series, usage_scored, usage_not_enough_history, usage_anomalous_series,
	        usage_anomalies, payout_samples, payout_median_days, collection_samples, collection_median_days
	      FROM settle.insight_summary WHERE run_id = $1 AND period = '$2') TO STDOUT (FORMAT csv, HEADER)"
}
dump() { # run_id, period
	dump_results "$1" "$2"
	q -c "COPY (SELECT period, customer_aws_account_id, product_code, dimension, usage_hour, quantity, band_low,
	        band_high, score, anomaly
	      FROM settle.insight_usage_point WHERE run_id = $1 AND period = '$2' ORDER BY usage_hour)
	      TO STDOUT (FORMAT csv, HEADER)"
}

drive() { # output file, driver arguments...
	local out=$1
	shift
	"$DRIVER" "$conninfo" "$@" >"$out" 2>&1
}

if drive "$work/oct.out" 2026-10 "$as_of"; then
	pass "compute 2026-10"
else
	fail "compute 2026-10" "$(cat "$work/oct.out")"
	exit 1
fi
run1=$(sed -n 's/^run_id //p' "$work/oct.out")
check "summary line" "summary: 3 usage anomalies; median days to payout 15.5" "$(grep '^summary: ' "$work/oct.out")"

check "planted anomalies are found, nothing else" \
	"111111111111:prod-x:api_calls@2026-10-05T13|111111111111:prod-x:api_calls@2026-10-19T02|222222222222:prod-x:api_calls@2026-10-12T10" \
	"$(q -c "SELECT string_agg(reference, '|' ORDER BY reference COLLATE \"C\") FROM settle.exception
	         WHERE run_id = $run1 AND code = 'USAGE_ANOMALY'")"
# SPEC §4.9: expected and actual at the offer's unit price (0.001 USD per api_call), rounded to cents
# like SPEC §4.6's expected amounts; a series without an offer has no price and no money.
check "incidents are priced at the offer's unit price, unpriced ones carry no money" \
	"111111111111:prod-x:api_calls@2026-10-05T13 USD 100000 5400000 5300000|111111111111:prod-x:api_calls@2026-10-19T02 USD 110000 0 -110000|222222222222:prod-x:api_calls@2026-10-12T10 - - - -" \
	"$(q -c "SELECT string_agg(reference || ' ' || coalesce(currency, '-') || ' ' || coalesce(expected_micros::text, '-') || ' '
	                || coalesce(actual_micros::text, '-') || ' ' || coalesce(difference_micros::text, '-'), '|' ORDER BY reference COLLATE \"C\")
	         FROM settle.exception WHERE run_id = $run1 AND code = 'USAGE_ANOMALY'")"
check "an incident says when, how much (units, %, money) and the basis" \
	"in hour 2026-10-05T13:00Z recorded usage is 5467 % (≈ 5303 units ≈ 5.30 USD) above expected: 5400 units against 97 expected; expected from the same hour of the week (±1 hour for daylight saving) in the 8 weeks before 2026-10, trend +0.0 %/week; highest robust score 1038.8 > 5" \
	"$(q -c "SELECT detail FROM settle.exception WHERE run_id = $run1
	         AND reference = '111111111111:prod-x:api_calls@2026-10-05T13'")"
check "series statuses" \
	"111111111111:prod-x:api_calls ANOMALY 2|111111111111:prod-x:storage_gb OK 0|222222222222:prod-x:api_calls ANOMALY 1|333333333333:prod-y:api_calls NOT_ENOUGH_HISTORY 0|444444444444:prod-y:seats NOT_ENOUGH_HISTORY 0" \
	"$(q -c "SELECT string_agg(customer_aws_account_id || ':' || product_code || ':' || dimension || ' ' || status || ' ' || anomalies, '|'
	         ORDER BY customer_aws_account_id COLLATE \"C\", product_code COLLATE \"C\", dimension COLLATE \"C\")
	         FROM settle.insight_usage WHERE run_id = $run1")"
check "a constant history does not flag a small wobble (sigma floor)" \
	"500|0|375|625|490|510" \
	"$(q -c "SELECT history_median, history_mad, band_low, band_high, observed_min, observed_max
	         FROM settle.insight_usage WHERE run_id = $run1 AND dimension = 'storage_gb'")"
check "short history: a note, no exception" \
	"0 7 not scored: first usage on 2026-09-24, 7 days before 2026-10-01; 4 weeks of usage are needed" \
	"$(q -c "SELECT history_points || ' ' || history_days || ' ' || note FROM settle.insight_usage
	         WHERE run_id = $run1 AND dimension = 'seats'")"
check "records of one hour are summed; other statuses and files after as-of are ignored" \
	"120|92|510" \
	"$(q -c "SELECT (SELECT quantity FROM settle.insight_usage_point WHERE run_id = $run1 AND usage_hour = '2026-10-10T10:00Z'),
	                (SELECT quantity FROM settle.insight_usage_point WHERE run_id = $run1 AND usage_hour = '2026-10-07T08:00Z'),
	                (SELECT observed_max FROM settle.insight_usage WHERE run_id = $run1 AND dimension = 'storage_gb')")"
check "the chart holds the most anomalous series, every hour of the period" \
	"111111111111:prod-x:api_calls|744|2|68|137" \
	"$(q -c "SELECT min(customer_aws_account_id || ':' || product_code || ':' || dimension), count(*),
	                count(*) FILTER (WHERE anomaly), min(band_low), max(band_high)
	         FROM settle.insight_usage_point WHERE run_id = $run1")"

dump "$run1" 2026-10 >"$work/oct-run1.csv"
# INSIGHTS_REGEN=1 rewrites the expected rows (check the diff by hand before committing it).
[ -n "${INSIGHTS_REGEN:-}" ] && dump_results "$run1" 2026-10 >"$FIX/expected/insights-2026-10.csv"
if dump_results "$run1" 2026-10 | diff -u "$FIX/expected/insights-2026-10.csv" - >"$work/diff" 2>&1; then
	pass "rows equal fixtures/insights/expected/insights-2026-10.csv"
else
	fail "rows equal fixtures/insights/expected/insights-2026-10.csv" "$(head -n 40 "$work/diff")"
fi

# --- determinism ------------------------------------------------------------------------------
if TZ=Pacific/Chatham LC_ALL=C.UTF-8 drive "$work/oct2.out" 2026-10 "$as_of"; then
	run2=$(sed -n 's/^run_id //p' "$work/oct2.out")
	dump "$run2" 2026-10 >"$work/oct-run2.csv"
	if [ "$run2" != "$run1" ] && cmp -s "$work/oct-run1.csv" "$work/oct-run2.csv"; then
		pass "a second run (other TZ and locale) gives identical rows"
	else
		fail "a second run (other TZ and locale) gives identical rows" "$(diff "$work/oct-run1.csv" "$work/oct-run2.csv" | head -n 20)"
	fi
else
	fail "a second run (other TZ and locale) gives identical rows" "$(cat "$work/oct2.out")"
fi
if drive "$work/oct3.out" 2026-10 "$as_of" "$run1"; then
	dump "$run1" 2026-10 >"$work/oct-run1-again.csv"
	if cmp -s "$work/oct-run1.csv" "$work/oct-run1-again.csv"; then
		pass "a repeat into the same run replaces its rows"
	else
		fail "a repeat into the same run replaces its rows" "$(diff "$work/oct-run1.csv" "$work/oct-run1-again.csv" | head -n 20)"
	fi
else
	fail "a repeat into the same run replaces its rows" "$(cat "$work/oct3.out")"
fi

# --- as-of --------------------------------------------------------------------------------------
if drive "$work/late.out" 2026-10 2026-11-05T00:00:00Z; then
	check "a later as-of sees the late file's anomaly" \
		"summary: 4 usage anomalies; median days to payout 15.5" "$(grep '^summary: ' "$work/late.out")"
else
	fail "a later as-of sees the late file's anomaly" "$(cat "$work/late.out")"
fi

# --- a period without history --------------------------------------------------------------------
if drive "$work/jul.out" 2026-07 "$as_of"; then
	runj=$(sed -n 's/^run_id //p' "$work/jul.out")
	check "no history: no anomaly, no payout" "summary: 0 usage anomalies; no payouts to time" \
		"$(grep '^summary: ' "$work/jul.out")"
	check "no history: every series says why" \
		"3|3|0|not scored: no usage in the 12 months before 2026-07-01; 4 weeks of usage are needed" \
		"$(q -c "SELECT count(*), count(*) FILTER (WHERE status = 'NOT_ENOUGH_HISTORY'),
		                (SELECT count(*) FROM settle.exception WHERE run_id = $runj), min(note)
		         FROM settle.insight_usage WHERE run_id = $runj")"
	check "no history: histograms still list every bin, empty" "16|0" \
		"$(q -c "SELECT count(*), sum(samples) FROM settle.insight_histogram WHERE run_id = $runj")"
else
	fail "compute 2026-07" "$(cat "$work/jul.out")"
fi

# --- text from the data travels through COPY unchanged ------------------------------------------
fid=$(ingest_file odd.csv metering 2026-12-10T00:00:00Z 1)
q -c "INSERT INTO settle.metering (metering_record_id, file_id, line, usage_hour, customer_aws_account_id,
        product_code, dimension, quantity, status, agreement_id)
      VALUES ('odd-1', $fid, 2, '2026-12-01T03:00Z', E'c\\\\1', 'p\"x', E'odd\\\\dim\\tx\\ny', 7, 'Success', E'a\\rb')"
# Two series whose references read the same ("a:b" + "c" and "a" + "b:c"), both spiking at one hour
# (the data run on to 08:00, so that the hour is before the horizon: docs/insights.md).
q -c "INSERT INTO settle.metering (metering_record_id, file_id, line, usage_hour, customer_aws_account_id,
        product_code, dimension, quantity, status)
      SELECT 'clash-' || k || '-' || g, $fid, 3, '2026-11-01T00:00Z'::timestamptz + g * interval '1 hour',
             CASE k WHEN 1 THEN 'a:b' ELSE 'a' END, CASE k WHEN 1 THEN 'c' ELSE 'b:c' END, 'd',
             CASE WHEN g = 720 + 3 THEN 1000 ELSE 1 END, 'Success'
      FROM generate_series(1, 2) k, generate_series(0, 720 + 8) g"
daily_sums "$fid"
if drive "$work/dec.out" 2026-12 2026-12-11T00:00:00Z; then
	rund=$(sed -n 's/^run_id //p' "$work/dec.out")
	check "backslash, tab, newline and CR survive COPY" "t" \
		"$(q -c "SELECT customer_aws_account_id = E'c\\\\1' AND product_code = 'p\"x'
		                AND dimension = E'odd\\\\dim\\tx\\ny' AND agreement_id = E'a\\rb'
		         FROM settle.insight_usage WHERE run_id = $rund AND dimension <> 'd'")"
	check "series whose references read the same are numbered, not lost" \
		"a:b:c:d@2026-12-01T03 1 a:b:c:d@2026-12-01T03 2" \
		"$(q -c "SELECT string_agg(reference || ' ' || seq, ' ' ORDER BY seq) FROM settle.exception
		         WHERE run_id = $rund AND code = 'USAGE_ANOMALY'")"
else
	fail "compute 2026-12" "$(cat "$work/dec.out")"
fi

# --- SPEC §3.3, §4.6, §4.9: an incident costs each day's usage at that day's price -----------------
# The price an incident is worth is the one reconcile prices usage with (include/usage_prices.h):
# the agreement term revision valid on the usage day, as the marketplace's reference queries join
# the agreement revision valid on the usage date. A flat 24x7 series (100 units an hour since
# 2026-12-01) of agreement agmt-rev stops for two whole days, 2027-02-09 and 2027-02-10; its usage
# term is revised from 2027-02-10 (0.01 -> 0.02 a unit). The incident (one row of two days) is
# 2400 units at 0.01 and 2400 at 0.02 = 72.00 USD, not 4800 at either price (48.00 or 96.00).
# The offer file names the offer and its currency but no price (no offer_dimension row).
fid=$(ingest_file rev-metering.csv metering 2027-03-01T06:00:00Z 2000)
q -c "INSERT INTO settle.metering (metering_record_id, file_id, line, usage_hour, customer_aws_account_id,
        product_code, dimension, quantity, status, agreement_id)
      SELECT 'rev-' || g, $fid, g + 2, '2026-12-01T00:00Z'::timestamptz + g * interval '1 hour', '555555555555',
             'prod-r', 'units', 100, 'Success', 'agmt-rev'
      FROM generate_series(0, (31 + 31 + 28) * 24 - 1) g
      WHERE '2026-12-01T00:00Z'::timestamptz + g * interval '1 hour' NOT BETWEEN '2027-02-09T00:00Z' AND '2027-02-10T23:00Z'"
daily_sums "$fid"
oid=$(ingest_file rev-offer.csv offer 2027-03-01T06:00:00Z 1)
q -c "INSERT INTO settle.offer (offer_id, file_id, line, agreement_id, product_id, product_code, isv_account_id,
        currency, pricing_model, split_basis)
      VALUES ('offer-rev', $oid, 2, 'agmt-rev', 'prod-r-id', 'prod-r', '444455556666', 'USD', 'USAGE', 'DIRECT')"
tid=$(ingest_file rev-terms.csv agreementtermfeed_v1 2027-03-01T06:00:00Z 2)
q -c "INSERT INTO settle.sdds_agreement_term (agreement_id, term_id, file_id, line, term_type, term_configuration,
        valid_from, update_date)
      VALUES ('agmt-rev', 'term-rev', $tid, 2, 'UsageBasedPricingTerm',
              '{\"currencyCode\": \"USD\", \"rateCards\": [{\"rateCard\": [{\"dimensionKey\": \"units\", \"price\": \"0.01\"}]}]}',
              '2026-11-01T00:00Z', '2026-11-01T00:00Z'),
             ('agmt-rev', 'term-rev', $tid, 3, 'UsageBasedPricingTerm',
              '{\"currencyCode\": \"USD\", \"rateCards\": [{\"rateCard\": [{\"dimensionKey\": \"units\", \"price\": \"0.02\"}]}]}',
              '2027-02-10T00:00Z', '2027-02-10T00:00Z')"
# SPEC §4.5: payment timing leaves out a payout a failure undoes, linked as reconcile links them
# (disburse.c: by parent, else bank trace id, else the exact amount; within recipient and
# currency). Recipient 777777777777 in 2027-02: pt-ok is paid (26 days from its invoice); pt-trace
# fails by its bank trace id (the failure names no parent and is for another amount), pt-amount by
# the exact amount it cancels; pt-eur is named as parent by a failure in USD, which undoes no EUR
# payout, so it was paid (13 days). Only pt-ok and pt-eur are timed.
bid=$(ingest_file rev-billing.csv billing_event 2027-03-01T06:00:00Z 12)
q -c "INSERT INTO settle.billing_event (recipient_account_id, billing_event_id, file_id, line, action,
        transaction_type, amount_micros, currency, invoice_date, transaction_reference_id,
        disbursement_billing_event_id, parent_billing_event_id, bank_trace_id)
      SELECT '777777777777', id, $bid, row_number() OVER (ORDER BY id) + 1, act, typ,
             (amt::numeric * 1000000)::bigint, cur, day::timestamptz, tref, disb, parent, trace
      FROM (VALUES
        ('t1-inv', 'INVOICED', 'SELLER_REV_SHARE', '100.00', 'USD', '2027-01-10', 'tr-t1', NULL, NULL, NULL),
        ('t1-line', 'DISBURSED', 'SELLER_REV_SHARE', '-100.00', 'USD', '2027-02-05', 'tr-t1', 'pt-ok', NULL, NULL),
        ('pt-ok', 'DISBURSED', 'DISBURSEMENT', '100.00', 'USD', '2027-02-05', NULL, NULL, NULL, 'TRC-1'),
        ('t2-inv', 'INVOICED', 'SELLER_REV_SHARE', '200.00', 'USD', '2027-01-20', 'tr-t2', NULL, NULL, NULL),
        ('t2-line', 'DISBURSED', 'SELLER_REV_SHARE', '-200.00', 'USD', '2027-02-06', 'tr-t2', 'pt-trace', NULL, NULL),
        ('pt-trace', 'DISBURSED', 'DISBURSEMENT', '200.00', 'USD', '2027-02-06', NULL, NULL, NULL, 'TRC-9'),
        ('ft-trace', 'DISBURSED', 'DISBURSEMENT_FAILURE', '-199.99', 'USD', '2027-02-08', NULL, NULL, NULL, 'TRC-9'),
        ('t3-inv', 'INVOICED', 'SELLER_REV_SHARE', '300.00', 'USD', '2027-01-25', 'tr-t3', NULL, NULL, NULL),
        ('t3-line', 'DISBURSED', 'SELLER_REV_SHARE', '-300.00', 'USD', '2027-02-07', 'tr-t3', 'pt-amount', NULL, NULL),
        ('pt-amount', 'DISBURSED', 'DISBURSEMENT', '300.00', 'USD', '2027-02-07', NULL, NULL, NULL, NULL),
        ('ft-amount', 'DISBURSED', 'DISBURSEMENT_FAILURE', '-300.00', 'USD', '2027-02-09', NULL, NULL, NULL, NULL),
        ('t4-inv', 'INVOICED', 'SELLER_REV_SHARE', '50.00', 'EUR', '2027-01-25', 'tr-t4', NULL, NULL, NULL),
        ('t4-line', 'DISBURSED', 'SELLER_REV_SHARE', '-50.00', 'EUR', '2027-02-07', 'tr-t4', 'pt-eur', NULL, NULL),
        ('pt-eur', 'DISBURSED', 'DISBURSEMENT', '50.00', 'EUR', '2027-02-07', NULL, NULL, NULL, NULL),
        ('ft-cur', 'DISBURSED', 'DISBURSEMENT_FAILURE', '-50.00', 'USD', '2027-02-10', NULL, NULL, 'pt-eur', NULL)
      ) v (id, act, typ, amt, cur, day, tref, disb, parent, trace)"
if drive "$work/feb.out" 2027-02 2027-03-02T00:00:00Z; then
	runf=$(sed -n 's/^run_id //p' "$work/feb.out")
	check "a price revised mid-incident: each day at the revision valid that day (2400 × 0.01 + 2400 × 0.02)" \
		"555555555555:prod-r:units@2027-02-09/2027-02-10 agmt-rev offer-rev USD 72000000 0 -72000000" \
		"$(q -c "SELECT string_agg(reference || ' ' || agreement_id || ' ' || offer_id || ' ' || currency || ' '
		                || expected_micros || ' ' || actual_micros || ' ' || difference_micros, '|')
		         FROM settle.exception WHERE run_id = $runf AND code = 'USAGE_ANOMALY'")"
	check "the sentence gives the incident's money at the prices of its days" \
		"from 2027-02-09 to 2027-02-10 (2 days) recorded usage is 100 % (≈ 4800 units ≈ 72.00 USD) below expected: 0 units against 4800 expected" \
		"$(q -c "SELECT split_part(detail, ';', 1) FROM settle.exception WHERE run_id = $runf AND code = 'USAGE_ANOMALY'")"
	check "the month's totals are priced by day too" \
		"2027-02-01 to 2027-02-28: 62400 units against 67200 expected (-4800 units ≈ 72.00 USD, -7 %)" \
		"$(q -c "SELECT split_part(note, '; ', 2) FROM settle.insight_usage WHERE run_id = $runf")"
	check "payment timing drops payouts failed by trace id and by amount, and checks the currency" \
		"invoice_to_payout 777777777777 EUR 1 13.0|invoice_to_payout 777777777777 USD 1 26.0" \
		"$(q -c "SELECT string_agg(measure || ' ' || recipient_account_id || ' ' || currency || ' ' || samples || ' '
		                || median_days, '|' ORDER BY currency)
		         FROM settle.insight_timing WHERE run_id = $runf AND measure = 'invoice_to_payout'")"
else
	fail "compute 2027-02" "$(cat "$work/feb.out")"
fi
exit 0
