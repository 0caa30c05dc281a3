#!/usr/bin/env bash
# SPEC §3.1 versions through settle.billing_event_asof at each ingest instant: newest valid_from,
# then newest update_date (NULL oldest), then latest ingested; soft deletes; an identical row sent
# again changes nothing (also within one file). SPEC §3.2/3.3: offers and prices, latest ingested
# wins. SPEC §3.4/3.5: metering and deposits, first write wins (DUPLICATE_KEY_CONFLICT).
set -u
. "$TOP/fixtures/ingest/lib.sh"
ingest_test_init ingest_versions
V=$FIX/versions

at() { q "SELECT ingested_at FROM settle.ingest_file WHERE file_id = $1"; }
current() { # as_of -> "key=amount" list
	q "SELECT string_agg(billing_event_id || '=' || amount_micros / 1000000, ' ' ORDER BY billing_event_id)
	   FROM settle.billing_event_asof('$1')"
}

# The first load into the empty table is copied frozen (src/ingest.c, ingest_freeze_if_empty):
# every page all-frozen in the visibility map; a later load is not (it cannot truncate).
q "CREATE EXTENSION IF NOT EXISTS pg_visibility" >/dev/null
frozen() { q "SELECT all_frozen || '/' || (pg_relation_size('settle.billing_event') / 8192)
              FROM pg_visibility_map_summary('settle.billing_event')"; }
st ingest "$V/a.csv"; fa=$(last_file_id); sleep 1.1
check "a first load is frozen" "1/1" "$(frozen)"
st ingest "$V/b.csv"; fb=$(last_file_id); sleep 1.1
check "a later load is not (its rows clear the page's bit)" "0/1" "$(frozen)"
st ingest "$V/c.csv"; fc=$(last_file_id)
ta=$(at "$fa"); tb=$(at "$fb"); tc=$(at "$fc")

check "before any ingest" "" "$(current "$(q "SELECT '$ta'::timestamptz - interval '1 second'")")"
check "as of file a" "k1=10 k2=20 k3=30 k4=40 k5=50" "$(current "$ta")"
# k1 newer valid_from; k2 update_date beats NULL; k3 tie -> latest ingested; k4 older valid_from
# loses although ingested later; k5 deleted.
check "as of file b" "k1=11 k2=21 k3=31 k4=40" "$(current "$tb")"
# k3=30 and k1=11 sent again change nothing; k6 arrives deleted; k7 70,71,70 in one file -> 71.
check "as of file c" "k1=11 k2=21 k3=31 k4=40 k7=71" "$(current "$tc")"
check "the first occurrence is returned" "$fb 2" \
	"$(q "SELECT file_id || ' ' || line FROM settle.billing_event_asof('$tc') WHERE billing_event_id = 'k1'")"
check "stored rows are never replaced" "16" "$(q "SELECT count(*) FROM settle.billing_event")"
check "deterministic" "$(current "$tc")" "$(current "$tc")"
# billing_event_current (sql/008, what reconcile reads) gives the same rows at every instant,
# whatever the list of keys with versions covers: no file (never refreshed), file a only (b and c
# uncovered: their keys are resolved anyway), every file (after the incremental refresh).
same_as_asof() { # label
	local t
	for t in "$ta" "$tb" "$tc"; do
		check "billing_event_current = billing_event_asof at $t, $1" "0 0" \
			"$(q "SET work_mem = '64MB'; SELECT (SELECT count(*) FROM (SELECT * FROM settle.billing_event_asof('$t') EXCEPT ALL SELECT * FROM settle.billing_event_current('$t')) x) || ' ' || (SELECT count(*) FROM (SELECT * FROM settle.billing_event_current('$t') EXCEPT ALL SELECT * FROM settle.billing_event_asof('$t')) y)")"
	done
}
same_as_asof "no file covered"
q "INSERT INTO settle.billing_event_multi SELECT billing_event_id FROM settle.billing_event WHERE file_id <= $fa
   GROUP BY 1 HAVING count(*) > 1; UPDATE settle.billing_event_multi_state SET through_file_id = $fa" >/dev/null
same_as_asof "file a covered"
q "SELECT settle.billing_event_multi_refresh()" >/dev/null
same_as_asof "every file covered"
check "the incremental refresh lists exactly the keys with more than one row" "k1 k2 k3 k4 k5 k7 $fc" \
	"$(q "SELECT string_agg(billing_event_id, ' ' ORDER BY billing_event_id) || ' ' || (SELECT through_file_id FROM settle.billing_event_multi_state)
	      FROM settle.billing_event_multi")"
check "... the same as counting them all" "0" \
	"$(q "SELECT count(*) FROM ((SELECT billing_event_id FROM settle.billing_event GROUP BY 1 HAVING count(*) > 1)
	      EXCEPT SELECT billing_event_id FROM settle.billing_event_multi) d")"

# Offers and prices: the latest ingested row per key (two rows of one file: the later line).
st ingest "$V/offers1.csv"; o1=$(last_file_id); sleep 1.1
st ingest "$V/offers2.csv"; o2=$(last_file_id)
st ingest "$V/dims1.csv"; d1=$(last_file_id); sleep 1.1
st ingest "$V/dims2.csv"; d2=$(last_file_id)
check "offer as of first file" "o1=80000 o2=" \
	"$(q "SELECT string_agg(offer_id || '=' || coalesce(markup_rate_micros::text, ''), ' ' ORDER BY offer_id) FROM settle.offer_asof('$(at "$o1")')")"
check "offer as of second file" "o1=120000 o2=" \
	"$(q "SELECT string_agg(offer_id || '=' || coalesce(markup_rate_micros::text, ''), ' ' ORDER BY offer_id) FROM settle.offer_asof('$(at "$o2")')")"
check "prices" "api=1000 gb=100000 | api=2000 gb=100000" \
	"$(q "SELECT string_agg(dimension || '=' || unit_price_micros, ' ' ORDER BY dimension) FROM settle.offer_dimension_asof('$(at "$d1")')") | $(q "SELECT string_agg(dimension || '=' || unit_price_micros, ' ' ORDER BY dimension) FROM settle.offer_dimension_asof('$(at "$d2")')")"

# Metering: same content again is skipped (unchanged), other content is rejected.
st ingest "$V/metering1.csv"; m1=$(last_file_id)
check "metering loads" "0 3" "$rc $(q "SELECT rows_loaded FROM settle.ingest_file WHERE file_id = $m1")"
check "status defaults to Success" "Success" "$(q "SELECT status FROM settle.metering WHERE metering_record_id = 'm2'")"
st ingest "$V/metering2.csv"; m2=$(last_file_id)
check "metering repeat: exit" "4" "$rc"
check "metering repeat: counts" "1 1 2" "$(q "SELECT rows_loaded || ' ' || rows_rejected || ' ' || rows_unchanged FROM settle.ingest_file WHERE file_id = $m2")"
check "metering repeat: conflict" "3:metering_record_id:DUPLICATE_KEY_CONFLICT" "$(rejections "$m2")"
check "metering conflict message" '"m2" was first recorded with other content at metering1.csv:3; the first write wins' \
	"$(q "SELECT detail FROM settle.rejected_row WHERE file_id = $m2")"
grep -q 'metering2.csv:3: metering_record_id: "m2" was first recorded' "$WORK/out" && pass "metering conflict logged" \
	|| fail "metering conflict logged" "$(cat "$WORK/out")"
check "first write wins" "m1=10/$m1 m2=11/$m1 m3=12/$m1 m4=13/$m2" \
	"$(q "SELECT string_agg(metering_record_id || '=' || quantity || '/' || file_id, ' ' ORDER BY metering_record_id) FROM settle.metering_asof(now())")"
grep -q 'metering2.csv: metering, file [0-9]*: 1 row loaded, 2 unchanged, 1 rejected' "$WORK/out" && pass "unchanged reported" \
	|| fail "unchanged reported" "$(cat "$WORK/out")"

# The bulk path: a file at least half the size of the table's heap goes straight into the table
# and the primary key is rebuilt (src/ingest.c); a repeated key sends it back through staging.
# Same results either way; the index's oid tells which path ran.
pkey_oid() { q "SELECT oid FROM pg_class WHERE relname = 'metering_pkey' AND relnamespace = 'settle'::regnamespace"; }
big_metering() { # file first_n count: new keys b<n>
	{ echo "metering_record_id,timestamp,customer_aws_account_id,product_code,dimension,quantity,status"
	  for ((i = $2; i < $2 + $3; i++)); do echo "b$i,2026-10-02T00:00:00Z,900000000002,pc2,api,$i,Success"; done
	} >"$1"
}
o0=$(pkey_oid)
big_metering "$WORK/bulk1.csv" 1000 300
st ingest "$WORK/bulk1.csv"; b1=$(last_file_id); o1=$(pkey_oid)
check "bulk: loads" "0 300 0 0" "$rc $(q "SELECT rows_loaded || ' ' || rows_rejected || ' ' || rows_unchanged FROM settle.ingest_file WHERE file_id = $b1")"
[ -n "$o1" ] && [ "$o0" != "$o1" ] && pass "bulk: primary key rebuilt" || fail "bulk: primary key rebuilt" "$o0 -> $o1"
# Repeats inside the file and against stored rows: the fallback gives the staging path's answer.
big_metering "$WORK/bulk2.csv" 2000 400
{ echo "m1,2026-10-01T00:00:00Z,900000000001,pc1,api,10,Success"      # stored, same content
  echo "m3,2026-10-01T02:00:00Z,900000000001,pc1,api,77,Success"      # stored, other content
  echo "b2005,2026-10-02T00:00:00Z,900000000002,pc2,api,2005,Success"  # in the file, same content
  echo "b2006,2026-10-02T00:00:00Z,900000000002,pc2,api,1,Success"     # in the file, other content
} >>"$WORK/bulk2.csv"
st ingest "$WORK/bulk2.csv"; b2=$(last_file_id)
check "bulk fallback: counts" "4 400 2 2" "$rc $(q "SELECT rows_loaded || ' ' || rows_rejected || ' ' || rows_unchanged FROM settle.ingest_file WHERE file_id = $b2")"
check "bulk fallback: conflicts" "403:metering_record_id:DUPLICATE_KEY_CONFLICT 405:metering_record_id:DUPLICATE_KEY_CONFLICT" \
	"$(rejections "$b2" | paste -sd' ')"
check "bulk fallback: first write wins" "b2005=2005 b2006=2006 m3=12" \
	"$(q "SELECT string_agg(metering_record_id || '=' || quantity, ' ' ORDER BY metering_record_id) FROM settle.metering WHERE metering_record_id IN ('m3', 'b2005', 'b2006')")"
check "bulk fallback: primary key in place" "1" \
	"$(q "SELECT count(*) FROM pg_constraint WHERE conname = 'metering_pkey' AND contype = 'p'")"
check "bulk fallback: every row once" "$((3 + 1 + 300 + 400))" "$(q "SELECT count(*) FROM settle.metering")"
# settle.metering_daily: the client's sums (bulk1: clean bulk path), SQL's (bulk2: fallback;
# metering1/2: staging) -- the same as summing the stored Success records, file by file.
daily_diff() {
	q "SELECT count(*) FROM (
	     (SELECT file_id, coalesce(agreement_id, ''), customer_aws_account_id, product_code, dimension,
	             (usage_hour AT TIME ZONE 'UTC')::date, sum(quantity)::bigint, count(*)
	      FROM settle.metering WHERE status = 'Success' GROUP BY 1, 2, 3, 4, 5, 6
	      EXCEPT ALL SELECT * FROM settle.metering_daily)
	     UNION ALL
	     (SELECT * FROM settle.metering_daily
	      EXCEPT ALL SELECT file_id, coalesce(agreement_id, ''), customer_aws_account_id, product_code, dimension,
	             (usage_hour AT TIME ZONE 'UTC')::date, sum(quantity)::bigint, count(*)
	      FROM settle.metering WHERE status = 'Success' GROUP BY 1, 2, 3, 4, 5, 6)) d"
}
check "daily sums = the stored records, every path" "0" "$(daily_diff)"
check "daily sums of the bulk file" "1 300" \
	"$(q "SELECT count(*) || ' ' || sum(records) FROM settle.metering_daily WHERE file_id = $b1")"

# A small file after a large table: the usual staging path, the index is left alone.
o2=$(pkey_oid)
big_metering "$WORK/small.csv" 5000 2
st ingest "$WORK/small.csv"
check "small file: staging path" "0 $o2" "$rc $(pkey_oid)"

# Dead rows of a rolled-back load (a killed ingest) fill the heap until VACUUM; the choice of path
# discounts them, so the next large file still takes the bulk path.
q "BEGIN; INSERT INTO settle.metering (metering_record_id, file_id, line, usage_hour, customer_aws_account_id,
     product_code, dimension, quantity, status)
   SELECT 'dead' || g, $b1, g, '2026-10-02T00:00:00Z', '900000000002', 'pc2', 'api', 1, 'Success'
   FROM generate_series(1, 20000) g; ROLLBACK" >/dev/null
# A backend reports its counts as it exits, which may trail psql's return: wait until they show.
for _ in $(seq 100); do
	[ "$(q "SELECT n_dead_tup >= 20000 FROM pg_stat_user_tables WHERE relid = 'settle.metering'::regclass")" = t ] && break
	sleep 0.1
done
big_metering "$WORK/after-dead.csv" 6000 1500
st ingest "$WORK/after-dead.csv"; o3=$(pkey_oid)
[ "$rc" = 0 ] && [ -n "$o3" ] && [ "$o2" != "$o3" ] && pass "dead rows do not count: bulk path" \
	|| fail "dead rows do not count: bulk path" "rc=$rc $o2 -> $o3"
check "after the dead rows: every row once" "$((3 + 1 + 300 + 400 + 2 + 1500))" "$(q "SELECT count(*) FROM settle.metering")"

# Deposits follow the same rule by deposit_id.
st ingest "$V/deposits1.csv"
st ingest "$V/deposits2.csv"; p2=$(last_file_id)
check "deposit repeat" "4 1 1 1 3:deposit_id:DUPLICATE_KEY_CONFLICT" \
	"$rc $(q "SELECT rows_loaded || ' ' || rows_rejected || ' ' || rows_unchanged FROM settle.ingest_file WHERE file_id = $p2") $(rejections "$p2")"
check "deposits" "d1=3041520000 d2=5000000 d3=7000000" \
	"$(q "SELECT string_agg(deposit_id || '=' || amount_micros, ' ' ORDER BY deposit_id) FROM settle.bank_deposit_asof(now())")"
