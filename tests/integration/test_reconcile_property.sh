#!/usr/bin/env bash
# test_reconcile_property.sh — reconcile seeded random months (bench/gen) and check, from outside,
# with SQL written independently of settle, every balance property of the reconcile issue:
#   - every charge group of the period's events is stored once, its components equal to the events'
#   - Σ allocated parts = the group's B, F, T and B + F + T, component by component, per group
#   - Σ payout statements = Σ allocations per party, role and currency, except that a party with a
#     feed of its own counts only the groups it received itself (SPEC §4.4); net_payable is a whole
#     number of minor units and rounding = net_payable − net, at most half a minor unit
#   - every group is allocated, excepted (NO_OFFER/AMBIGUOUS_OFFER/CURRENCY_MISMATCH,
#     RECIPIENT_NOT_PARTY, OFFER_INCOMPLETE), or has nothing to allocate
#   - a party's statement is counted once whichever feeds are loaded: the same month without the
#     ISVs' own feeds gives every reseller the same statement, and every ISV its wholesale from the
#     resellers' feeds instead of its own
#   - exception seq numbers 1..n within (code, reference)
#   - a second run at the same as-of stores the same rows
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
export SETTLE_BIN
# shellcheck source=../../fixtures/reconcile/lib.sh
. "$TOP/fixtures/reconcile/lib.sh"
harness_init reconcile-prop # a database per case below
chmod 755 "$work"

if ! cc -std=c17 -O2 -o "$work/gen" "$TOP/bench/gen.c" 2>"$work/cc.err"; then
	ko "could not build bench/gen: $(head -c 300 "$work/cc.err")"
	exit 1
fi

# Each check is a query that returns the number of violations (this check replaces harness.sh's).
check() { # db name sql
	local n
	if ! n=$(psql -X -At -v ON_ERROR_STOP=1 -d "$1" -c "$3" 2>&1); then
		ko "$2: $n"
	elif [ "$n" = 0 ]; then
		ok "$2"
	else
		ko "$2: $n violations"
	fi
}

property_month() { # seed events metering [sor: only the sellers of record's feeds]
	local seed=$1 events=$2 metering=$3 only=${4:-} tag="seed $1${4:+ ($4)}"
	local dir=$work/gen-$seed db bev=billing_event.csv
	mkdir -p "$dir"
	"$work/gen" --seed "$seed" --events "$events" --metering "$metering" --period 2026-10 --out "$dir" ||
		{ ko "$tag: generator"; return; }
	if [ "$only" = sor ]; then
		# without the ISVs' own feeds (bench/gen: ISV accounts start with 4, a row's recipient is
		# its second column): every CPPO sale is then only in its reseller's feed
		bev=billing_event_sor.csv
		awk -F, 'NR == 1 || $2 !~ /^4/' "$dir/billing_event.csv" >"$dir/$bev"
	fi
	db=$(pg_test_createdb "rcprop_$seed${only:+_$only}") || { ko "$tag: createdb"; return; }
	"$SETTLE_BIN" --db "$db" init 2>/dev/null
	local f
	for f in offers.csv offer_dimensions.csv $bev metering.csv bank_deposits.csv; do
		rc_ingest_at "$db" "" "$dir/$f" 2026-11-05T00:00:00Z || { ko "$tag: ingest $f"; return; }
	done
	local line run run2
	if ! line=$("$SETTLE_BIN" --db "$db" reconcile --period 2026-10 --as-of 2026-11-20T00:00:00Z 2>"$work/err"); then
		ko "$tag: reconcile (its own balance assertions): $(head -c 400 "$work/err")"
		return
	fi
	ok "$tag: reconcile passes its balance assertions ($line)"
	run=$(echo "$line" | sed -n 's/.*: run \([0-9]*\):.*/\1/p')
	local R="run_id = $run AND period = '2026-10'"
	# the period's INVOICED/FORGIVEN events, straight from the as-of function
	local EV="SELECT * FROM settle.billing_event_asof('2026-11-20T00:00:00Z')
	          WHERE action IN ('INVOICED','FORGIVEN') AND invoice_date >= '2026-10-01' AND invoice_date < '2026-11-01'"
	check "$db" "$tag: groups are exactly the period's events, component by component" "
	  WITH ev AS ($EV),
	  s AS (SELECT recipient_account_id r, coalesce(transaction_reference_id, '') t, currency c, count(*) n,
	          sum(amount_micros) FILTER (WHERE transaction_type LIKE 'SELLER\_REV\_SHARE%' AND charge_side IS DISTINCT FROM 'BUYING') b,
	          sum(amount_micros) FILTER (WHERE transaction_type LIKE 'SELLER\_REV\_SHARE%' AND charge_side = 'BUYING') cg,
	          sum(amount_micros) FILTER (WHERE transaction_type LIKE 'AWS\_REV\_SHARE%') f,
	          sum(amount_micros) FILTER (WHERE transaction_type LIKE 'SELLER\_TAX\_SHARE%') tx,
	          sum(amount_micros) FILTER (WHERE transaction_type LIKE 'AWS\_TAX\_SHARE%') x
	        FROM ev GROUP BY 1, 2, 3),
	  g AS (SELECT * FROM settle.charge_group WHERE $R)
	  SELECT count(*) FROM s FULL JOIN g ON g.recipient_account_id = s.r AND g.transaction_reference_id = s.t AND g.currency = s.c
	  WHERE s.r IS NULL OR g.recipient_account_id IS NULL OR g.rows_n <> s.n
	     OR g.revenue_micros <> coalesce(s.b, 0) OR g.cogs_micros <> coalesce(s.cg, 0)
	     OR g.listing_fee_micros <> coalesce(s.f, 0) OR g.seller_tax_micros <> coalesce(s.tx, 0)
	     OR g.aws_tax_micros <> coalesce(s.x, 0)"
	check "$db" "$tag: each group is stored once" "
	  SELECT count(*) FROM (SELECT 1 FROM settle.charge_group WHERE $R
	    GROUP BY recipient_account_id, transaction_reference_id, currency HAVING count(*) > 1) d"
	check "$db" "$tag: allocated parts add up to their group, component by component" "
	  WITH a AS (SELECT recipient_account_id, transaction_reference_id, currency, count(*) k,
	               sum(revenue_micros) r, sum(listing_fee_micros) f, sum(seller_tax_micros) t, sum(net_micros) n
	             FROM settle.allocation WHERE $R GROUP BY 1, 2, 3)
	  SELECT count(*) FROM settle.charge_group g FULL JOIN a USING (recipient_account_id, transaction_reference_id, currency)
	  WHERE (g.$R OR g.run_id IS NULL) AND (
	        (g.allocated AND (a.k IS NULL OR a.r <> g.revenue_micros OR a.f <> g.listing_fee_micros
	                          OR a.t <> g.seller_tax_micros
	                          OR a.n <> g.revenue_micros::numeric + g.listing_fee_micros + g.seller_tax_micros))
	     OR (NOT g.allocated AND a.k IS NOT NULL) OR g.run_id IS NULL)"
	check "$db" "$tag: a part's net is its revenue + fee + tax" "
	  SELECT count(*) FROM settle.allocation WHERE $R
	    AND net_micros::numeric <> revenue_micros::numeric + listing_fee_micros + seller_tax_micros"
	check "$db" "$tag: parts follow the split basis (ISV first; MARKUP/SHARE have a reseller)" "
	  SELECT count(*) FROM settle.allocation a
	  JOIN settle.offer_asof('2026-11-20T00:00:00Z') o ON o.offer_id = a.offer_id
	  WHERE a.$R AND NOT ((a.party_index = 0 AND a.party_role = 'ISV' AND a.party_account_id = o.isv_account_id)
	     OR (a.party_index = 1 AND o.split_basis <> 'DIRECT' AND a.party_role = 'RESELLER'
	         AND a.party_account_id = o.reseller_account_id))"
	# SPEC §4.4: a party whose own feed is loaded (billing events with it as recipient) counts only
	# the groups it received itself
	local FED="SELECT DISTINCT recipient_account_id FROM settle.billing_event_asof('2026-11-20T00:00:00Z')"
	check "$db" "$tag: payout statements equal the allocations per party, role and currency" "
	  WITH fed AS ($FED),
	  a AS (SELECT party_account_id, party_role, currency, sum(revenue_micros) r, sum(listing_fee_micros) f,
	               sum(seller_tax_micros) t, sum(net_micros) n FROM settle.allocation WHERE $R
	          AND (party_account_id = recipient_account_id OR party_account_id NOT IN (SELECT * FROM fed))
	        GROUP BY 1, 2, 3),
	       s AS (SELECT * FROM settle.payout_statement WHERE $R)
	  SELECT count(*) FROM a FULL JOIN s USING (party_account_id, party_role, currency)
	  WHERE a.r IS DISTINCT FROM s.revenue_micros OR a.f IS DISTINCT FROM s.listing_fee_micros
	     OR a.t IS DISTINCT FROM s.seller_tax_micros OR a.n IS DISTINCT FROM s.net_micros"
	check "$db" "$tag: net_payable is whole minor units, rounding = payable - net within half a unit" "
	  SELECT count(*) FROM settle.payout_statement WHERE $R AND (
	    rounding_micros <> net_payable_micros - net_micros
	    OR net_payable_micros % (CASE currency WHEN 'JPY' THEN 1000000 WHEN 'KWD' THEN 1000 WHEN 'BHD' THEN 1000 ELSE 10000 END) <> 0
	    OR abs(rounding_micros) * 2 > (CASE currency WHEN 'JPY' THEN 1000000 WHEN 'KWD' THEN 1000 WHEN 'BHD' THEN 1000 ELSE 10000 END))"
	check "$db" "$tag: a party with its own feed has no part of another recipient's group in its statement" "
	  WITH fed AS ($FED),
	  own AS (SELECT party_account_id, party_role, currency, sum(net_micros) n FROM settle.allocation
	          WHERE $R AND party_account_id = recipient_account_id GROUP BY 1, 2, 3)
	  SELECT count(*) FROM settle.payout_statement s LEFT JOIN own USING (party_account_id, party_role, currency)
	  WHERE s.$R AND s.party_account_id IN (SELECT * FROM fed) AND s.net_micros IS DISTINCT FROM own.n"
	check "$db" "$tag: allocated parts follow the recipient's view (SPEC §4.3)" "
	  SELECT count(*) FROM settle.allocation a
	  JOIN settle.charge_group g USING (run_id, period, recipient_account_id, transaction_reference_id, currency)
	  JOIN settle.offer_asof('2026-11-20T00:00:00Z') o ON o.offer_id = a.offer_id
	  WHERE a.$R AND NOT (
	       (g.seller_of_record AND o.split_basis = 'MARKUP' AND a.party_role = 'ISV'
	        AND a.revenue_micros = CASE WHEN g.cogs_micros <> 0 THEN -g.cogs_micros ELSE a.revenue_micros END
	        AND a.listing_fee_micros = 0 AND a.seller_tax_micros = 0)
	    OR (g.seller_of_record AND o.split_basis = 'MARKUP' AND a.party_role = 'RESELLER'
	        AND a.listing_fee_micros = g.listing_fee_micros AND a.seller_tax_micros = g.seller_tax_micros)
	    OR (g.seller_of_record AND o.split_basis <> 'MARKUP')
	    OR (NOT g.seller_of_record AND a.party_role = 'ISV' AND a.party_account_id = g.recipient_account_id
	        AND a.revenue_micros = g.revenue_micros AND a.listing_fee_micros = g.listing_fee_micros
	        AND a.seller_tax_micros = g.seller_tax_micros))"
	check "$db" "$tag: every group is allocated, excepted, or empty" "
	  SELECT count(*) FROM settle.charge_group g WHERE g.$R AND NOT (
	       (g.allocated AND g.match_status = 'MATCHED')
	    OR (g.match_status = 'MATCHED' AND NOT g.allocated AND g.disposition IN ('RECIPIENT_NOT_PARTY', 'OFFER_INCOMPLETE')
	        AND EXISTS (SELECT 1 FROM settle.exception x WHERE x.$R AND x.code = g.disposition
	          AND x.recipient_account_id = g.recipient_account_id AND x.currency = g.currency))
	    OR (g.match_status <> 'MATCHED' AND NOT g.allocated AND EXISTS (SELECT 1 FROM settle.exception x
	          WHERE x.$R AND x.code = g.match_status AND x.reference = g.transaction_reference_id
	            AND x.recipient_account_id = g.recipient_account_id AND x.currency = g.currency))
	    OR (NOT g.allocated AND g.revenue_micros = 0 AND g.listing_fee_micros = 0 AND g.seller_tax_micros = 0))"
	check "$db" "$tag: exception seq is 1..n within code and reference" "
	  SELECT count(*) FROM (SELECT code, reference, max(seq) m, count(*) n, min(seq) s
	    FROM settle.exception WHERE $R GROUP BY 1, 2) x WHERE m <> n OR s <> 1"
	check "$db" "$tag: every exception has a code of SPEC §4.7 and a sentence" "
	  SELECT count(*) FROM settle.exception WHERE $R AND (detail = '' OR code NOT IN ('NO_OFFER',
	    'AMBIGUOUS_OFFER', 'CURRENCY_MISMATCH', 'OFFER_EXPIRED', 'FEE_VARIANCE', 'SPLIT_VARIANCE',
	    'PAYOUT_MISMATCH', 'DISBURSEMENT_FAILED', 'DEPOSIT_MISSING', 'DEPOSIT_UNMATCHED',
	    'DEPOSIT_AMOUNT_MISMATCH', 'METERING_VARIANCE', 'UNBILLED_USAGE', 'USAGE_WITHOUT_OFFER',
	    'UNKNOWN_DIMENSION', 'BALANCE_ADJUSTMENT', 'RECIPIENT_NOT_PARTY', 'OFFER_INCOMPLETE')
	    OR (expected_micros IS NOT NULL AND actual_micros IS NOT NULL
	        AND difference_micros IS DISTINCT FROM actual_micros - expected_micros))"
	check "$db" "$tag: every payout of the period is reported once" "
	  SELECT abs((SELECT count(*) FROM settle.disbursement WHERE $R) -
	             (SELECT count(*) FROM settle.billing_event_asof('2026-11-20T00:00:00Z')
	              WHERE action = 'DISBURSED' AND transaction_type = 'DISBURSEMENT'
	                AND invoice_date >= '2026-10-01' AND invoice_date < '2026-11-01'))"
	local codes
	codes=$(psql -X -At -d "$db" -c "SELECT string_agg(DISTINCT code, ' ' ORDER BY code) FROM settle.exception WHERE $R")
	echo "  $tag exceptions seen: $codes"
	if ! line=$("$SETTLE_BIN" --db "$db" reconcile --period 2026-10 --as-of 2026-11-20T00:00:00Z 2>/dev/null); then
		ko "$tag: second run"
		return
	fi
	run2=$(echo "$line" | sed -n 's/.*: run \([0-9]*\):.*/\1/p')
	if rc_dump "$db" "$run" "$work/$seed-a" && rc_dump "$db" "$run2" "$work/$seed-b" &&
		diff -r "$work/$seed-a" "$work/$seed-b" >/dev/null; then
		ok "$tag: a second run at the same as-of stores the same rows"
	else
		ko "$tag: a second run at the same as-of differs"
	fi
	eval "RUN_${seed}_${only:-all}=$run DB_${seed}_${only:-all}=\$db"
}

# The statements of one run: party, role, currency, sums (text, for comparing two databases).
statements() { # db run [role]
	psql -X -At -d "$1" -c "SELECT party_account_id, party_role, currency, revenue_micros, listing_fee_micros,
	  seller_tax_micros, net_micros FROM settle.payout_statement WHERE run_id = $2 AND period = '2026-10'
	  ${3:+AND party_role = '$3'} ORDER BY party_account_id COLLATE \"C\", party_role, currency"
}

# SPEC §4.4 across feeds: the same month with and without the ISVs' own feeds.
property_feeds() { # seed
	local seed=$1 tag="seed $1 feeds" a b
	eval "local db1=\${DB_${seed}_all:-} run1=\${RUN_${seed}_all:-} db2=\${DB_${seed}_sor:-} run2=\${RUN_${seed}_sor:-}"
	if [ -z "$run1" ] || [ -z "$run2" ]; then
		ko "$tag: both runs needed"
		return
	fi
	a=$(statements "$db1" "$run1" RESELLER)
	b=$(statements "$db2" "$run2" RESELLER)
	if [ -n "$a" ] && [ "$a" = "$b" ]; then
		ok "$tag: every reseller's statement is the same with or without the ISVs' own feeds"
	else
		ko "$tag: a reseller's statement depends on the ISVs' own feeds"
	fi
	# without their own feeds the ISVs are paid, in the statements, exactly their parts of the
	# resellers' groups: each CPPO sale counted once either way
	check "$db2" "$tag: without their own feeds, ISVs get their parts of the resellers' groups" "
	  WITH a AS (SELECT party_account_id, currency, sum(net_micros) n FROM settle.allocation
	             WHERE run_id = $run2 AND period = '2026-10' AND party_role = 'ISV'
	               AND party_account_id <> recipient_account_id GROUP BY 1, 2),
	       s AS (SELECT party_account_id, currency, net_micros FROM settle.payout_statement
	             WHERE run_id = $run2 AND period = '2026-10' AND party_role = 'ISV')
	  SELECT count(*) FROM a FULL JOIN s USING (party_account_id, currency) WHERE a.n IS DISTINCT FROM s.net_micros"
}

property_month 42 20000 30000
property_month 7 12000 20000
property_month 7 12000 20000 sor
property_feeds 7
exit 0
