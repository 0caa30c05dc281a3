#!/usr/bin/env bash
# test_incremental_nights.sh — issue 19 target 1: a nightly after appends reads the current
# versions of only the billing_event_ids the new rows touch and keeps the rest from the last run
# (sql/024_rc_be_cache.sql, docs/reconcile.md "Incremental current versions"). Its report sets
# must be byte-identical to a full recompute of the same database content: two databases get the
# same files at the same as-of night after night, one reconciled incrementally, the other with
# SETTLE_RECONCILE_FULL=1, and every night's output directories are compared byte for byte
# (CSV files, workbook, run.csv, MANIFEST). The month (bench/gen: versions, refunds, FORGIVEN,
# failed payouts, deposits) arrives as appends of one growing billing file, with late rows: new
# versions of earlier nights' events (an amount changed, a row moved to another reference), a
# previous month's event, and a retraction, after which the cache may not serve (full again).
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
harness_init incremental_nights
DB_INC=$(pg_test_createdb incr_inc) || { ko "database"; exit 1; }
DB_FULL=$(pg_test_createdb incr_full) || { ko "database"; exit 1; }

gen=$work/gen
# bench/gen is built here, not by `make test` (a clean checkout has no bench/gen binary)
cc -std=c17 -O2 -o "$work/gen.bin" "$TOP/bench/gen.c" 2>"$work/cc.err" ||
	{ ko "could not build bench/gen: $(head -c 300 "$work/cc.err")"; exit 1; }
"$work/gen.bin" --seed 19 --events 6000 --metering 300 --period 2026-10 --out "$gen" >/dev/null 2>&1 ||
	{ ko "bench/gen ran"; exit 1; }
src=$gen/billing_event.csv
rows=$(($(wc -l <"$src") - 1))
nights=4
per=$(((rows + nights - 1) / nights))
rel=billingeventfeed_v1/year=2026/month=10/data.csv

# Two inboxes fed the same bytes; each database reports into its own directory.
for side in inc full; do
	mkdir -p "$work/$side/inbox/$(dirname "$rel")"
	cp "$gen/offers.csv" "$gen/offer_dimensions.csv" "$gen/bank_deposits.csv" "$gen/metering.csv" "$work/$side/inbox/"
done
put() { # FILE NAME: into both inboxes
	local side
	for side in inc full; do
		mkdir -p "$(dirname "$work/$side/inbox/$2")"
		cp "$1" "$work/$side/inbox/$2.tmp" && mv "$work/$side/inbox/$2.tmp" "$work/$side/inbox/$2"
	done
}

# Late rows (night 3): new versions of events of night 1 (later valid_from and update_date): an
# amount doubled, a row moved to another reference; and a new event of the month before.
late=$work/late.csv
head -n 1 "$src" >"$late"
sed -n "2,$((per + 1))p" "$src" | awk -F, -v OFS=, '
	$12 == "INVOICED" && $13 == "SELLER_REV_SHARE" && n < 40 {
		n++; $3 = "2026-11-15T00:00:00Z"; $5 = "2026-11-15T00:00:00Z"
		if (n % 2) $17 = sprintf("%.2f", $17 * 2); else $25 = $25 "-moved"
		print
		if (n == 1) { $1 = $1 "-sep"; $19 = "2026-09-29T12:00:00Z"; print }
	}' >>"$late"
# SPEC §3.1: a DISBURSED line without a reference takes its parent's (night 3), and that parent
# gets a new version under another reference (night 4): the line's row must follow it, though
# its own id has no new row.
parent=$(sed -n "2,$((per + 1))p" "$src" | awk -F, '$12 == "INVOICED" && $13 == "AWS_REV_SHARE" { print $1; exit }')
sed -n "2,$((per + 1))p" "$src" | awk -F, -v OFS=, -v p="$parent" '
	$12 == "DISBURSED" && $13 == "AWS_REV_SHARE" { $1 = "be-pline"; $14 = p; $25 = ""; print; exit }' >>"$late"
late2=$work/late2.csv
head -n 1 "$src" >"$late2"
sed -n "2,$((per + 1))p" "$src" | awk -F, -v OFS=, -v p="$parent" '
	$1 == p { $3 = "2026-11-16T00:00:00Z"; $5 = "2026-11-16T00:00:00Z"; $25 = $25 "-pmoved"; print; exit }' >>"$late2"
check "the late file holds new versions and a line without a reference" \
	sh -c "[ $(wc -l <"$late") -gt 20 ] && grep -q '^be-pline,' '$late' && [ $(wc -l <"$late2") = 2 ]"

night() { # K AS_OF: night K on both sides; sets rc_inc, rc_full
	local k=$1 asof=$2
	SETTLE_RECONCILE_TIMING=1 "$SETTLE_BIN" --db "$DB_INC" nightly --inbox "$work/inc/inbox" \
		--out "$work/inc/out" --as-of "$asof" >"$work/inc-$k.out" 2>"$work/inc-$k.err"
	rc_inc=$?
	SETTLE_RECONCILE_FULL=1 SETTLE_RECONCILE_TIMING=1 "$SETTLE_BIN" --db "$DB_FULL" nightly \
		--inbox "$work/full/inbox" --out "$work/full/out" --as-of "$asof" >"$work/full-$k.out" 2>"$work/full-$k.err"
	rc_full=$?
}
same_sets() { # K: the two output trees byte for byte
	if diff -r "$work/inc/out" "$work/full/out" >"$work/diff-$1" 2>&1; then
		return 0
	fi
	head -n 20 "$work/diff-$1"
	return 1
}
kept() { grep -q 'current versions: kept' "$1"; }

for k in $(seq $nights); do
	head -n $((1 + k * per)) "$src" >"$work/part"
	put "$work/part" "$rel"
	[ "$k" = 3 ] && put "$late" "late/billing_event_late.csv"
	[ "$k" = 4 ] && put "$late2" "late/billing_event_late2.csv"
	night "$k" "2026-11-2${k}T06:00:00Z"
	check "night $k: both sides ran (exit $rc_inc / $rc_full)" \
		sh -c "[ $rc_inc = $rc_full ] && { [ $rc_inc = 0 ] || [ $rc_inc = 4 ]; }"
	[ "$rc_inc" = 0 ] || [ "$rc_inc" = 4 ] || tail -n 5 "$work/inc-$k.err"
	check "night $k: report sets byte-identical to a full recompute" same_sets "$k"
	if [ "$k" = 1 ]; then
		check "night 1 (empty cache) is a full computation" sh -c "! grep -q 'current versions: kept' '$work/inc-1.err'"
	else
		check "night $k kept the unchanged current versions" kept "$work/inc-$k.err"
	fi
	check "night $k: the forced side never used the cache" sh -c "! grep -q 'current versions: kept' '$work/full-$k.err'"
done
check "the incremental side read only the new ids after night 1" \
	test "$(grep -c 'current versions: new' "$work/inc-4.err")" = 1
check "the line without a reference followed its parent's new reference" \
	test "$("$PG_TEST_BINDIR/psql" -X -A -t "$DB_INC" -c "SELECT tref FROM settle.rc_be_cache WHERE beid = 'be-pline'")" = \
	"$("$PG_TEST_BINDIR/psql" -X -A -t "$DB_INC" -c "SELECT transaction_reference_id FROM settle.billing_event WHERE billing_event_id = '$parent' ORDER BY file_id DESC LIMIT 1")"
check "the month's periods were written" test -f "$work/inc/out/2026-10/MANIFEST" -a -f "$work/inc/out/2026-09/MANIFEST"

# A retraction: the cached files are no longer all visible, so the next night is full, and still
# the same as the forced side; the night after is incremental again.
for db in "$DB_INC" "$DB_FULL"; do
	"$SETTLE_BIN" --db "$db" retract "late/billing_event_late.csv" --why "sent by mistake" >/dev/null 2>&1 ||
		"$SETTLE_BIN" --db "$db" retract billing_event_late.csv --why "sent by mistake" >/dev/null 2>&1
done
check "the late file was retracted on both sides" \
	test "$("$PG_TEST_BINDIR/psql" -X -A -t "$DB_INC" -c 'SELECT count(*) FROM settle.retraction')" = 1
# The retraction's instant is the wall clock; the nights replay November, so it is dated back
# to between night 4 and night 5 on both sides (as if retracted then), else night 5's as-of
# would not see it.
for db in "$DB_INC" "$DB_FULL"; do
	"$PG_TEST_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$db" \
		-c "UPDATE settle.retraction SET retracted_at = '2026-11-25T12:00:00Z'" >/dev/null
done
printf '%s\n' "$(head -n 1 "$src")" >"$work/extra.csv"
sed -n "$((per + 2)),$((per + 6))p" "$src" | sed 's/^be-/be-x/' >>"$work/extra.csv"
put "$work/extra.csv" "extra/billing_event_extra.csv"
night 5 "2026-11-26T06:00:00Z"
check "night 5 (after the retraction) ran" sh -c "[ $rc_inc = $rc_full ]"
check "night 5: byte-identical to a full recompute" same_sets 5
check "night 5 did not use the cache (a cached file is retracted)" \
	sh -c "! grep -q 'current versions: kept' '$work/inc-5.err'"
sed -n "$((per + 7)),$((per + 9))p" "$src" | sed 's/^be-/be-y/' | cat <(head -n 1 "$src") - >"$work/extra2.csv"
put "$work/extra2.csv" "extra/billing_event_extra2.csv"
night 6 "2026-11-27T06:00:00Z"
check "night 6: byte-identical to a full recompute" same_sets 6
check "night 6 is incremental again" kept "$work/inc-6.err"

# The as-of going back (a report of an earlier instant) recomputes in full and matches too.
"$SETTLE_BIN" --db "$DB_INC" report --period 2026-10 --as-of 2026-11-23T07:00:00Z --out "$work/inc-past" \
	>/dev/null 2>"$work/inc-past.err"
SETTLE_RECONCILE_FULL=1 "$SETTLE_BIN" --db "$DB_FULL" report --period 2026-10 --as-of 2026-11-23T07:00:00Z \
	--out "$work/full-past" >/dev/null 2>&1
check "a report at an earlier as-of matches the forced side" diff -r "$work/inc-past" "$work/full-past"
