# buckets.sh — builds the SDDS buckets the reference-query test runs on (bash; source it).
#
#   ref_bucket_sdds DIR      fixtures/sdds-bucket as delivered by its last night, with the
#                            agreement, offer, offer product and product feeds a real bucket
#                            carries beside the billing events (the fixture has none; the
#                            reference queries keep only the billing events whose agreement the
#                            agreement feed knows)
#   ref_bucket_cppo DIR      fixtures/reconcile/cppo-documented in the delivery layout: one folder per
#                            recipient, the months of the rows, settle's offer file and bank lines
#                            beside, and an agreement feed for its two agreements
#   ref_bucket_terms DIR     fixtures/offer-terms/make.py usage-tax (every feed in its real column
#                            set) in the delivery layout, with settle's offer file and metering log
#   ref_bucket_terms_night2 DIR  the next night of ref_bucket_terms: later revisions appended
#   ref_bucket_gen DIR N     bench/gen --events N in the delivery layout, with an agreement feed
#                            written from its offers (the generator writes none)
# Every bucket is a plain directory: `settle nightly --inbox DIR` reads it, and
# tests/reference/load.sh loads its data.csv files for the reference queries.

_ref_month_split() { # SRC.csv FEED DIR [PREFIX]: splits SRC by the month of its date column into
	# DIR/[PREFIX/]FEED/year=YYYY/month=MM/data.csv (invoice_date, else usage_date, else valid_from,
	# else insert_date; rows without one go to the first month). Billing events get the line item
	# key every real invoice line carries (SDDS.md): an INVOICED/FORGIVEN row without invoice_id
	# gets "inv-<transaction_reference_id>", a row with an invoice_id and no line_item_id
	# "li-<invoice_id>-<transaction_reference_id>", and a DISBURSED line without invoice_id or
	# line_item_id takes those of the event its parent_billing_event_id names. The fixtures leave
	# them out; the reference queries key line items by them and lump rows without one together.
	# A cost-of-goods row (charge_side BUYING) without charge_variant gets RESALE, and a payout line
	# without parent_billing_event_id the invoiced row it mirrors (bench/gen writes neither; the
	# marketplace's feeds do, SDDS.md). Likewise an empty balance_impacting becomes the marketplace's (0 for an invoiced
	# AWS_TAX_SHARE* row, else 1), and a balance-impacting row without disbursement_amount and
	# disbursement_currency gets its amount and currency there (paid in the pricing currency): the
	# collections report sums disbursement_amount and shows nothing without it.
	python3 - "$@" <<'PY'
import csv, os, sys
src, feed, out = sys.argv[1], sys.argv[2], sys.argv[3]
prefix = sys.argv[4] if len(sys.argv) > 4 else ""
with open(src, newline="") as f:
    r = csv.reader(f)
    head = next(r)
    rows = list(r)
if feed == "billingeventfeed_v1":
    for c in ("invoice_id", "line_item_id", "disbursement_amount", "disbursement_currency", "balance_impacting"):
        if c not in head:
            head.append(c)
            for row in rows:
                row.append("")
    ix = {c: i for i, c in enumerate(head)}
    byid = {}
    for row in rows:
        if row[ix["action"]] in ("INVOICED", "FORGIVEN") and not row[ix["invoice_id"]]:
            row[ix["invoice_id"]] = "inv-" + row[ix["transaction_reference_id"]]
        if row[ix["invoice_id"]] and not row[ix["line_item_id"]]:
            row[ix["line_item_id"]] = "li-%s-%s" % (row[ix["invoice_id"]], row[ix.get("transaction_reference_id", 0)] if "transaction_reference_id" in ix else "")
        byid[row[ix["billing_event_id"]]] = row
    for row in rows:
        tt, act = row[ix["transaction_type"]], row[ix["action"]]
        if not row[ix["balance_impacting"]]:
            # the marketplace's convention (SDDS.md): an invoiced AWS_TAX_SHARE* is not balance impacting
            row[ix["balance_impacting"]] = "0" if tt.startswith("AWS_TAX_SHARE") and act != "DISBURSED" else "1"
        if not row[ix["disbursement_amount"]] and not row[ix["disbursement_currency"]] and row[ix["balance_impacting"]] == "1":
            row[ix["disbursement_amount"]] = row[ix["amount"]]
            row[ix["disbursement_currency"]] = row[ix["currency"]]
    for c in ("parent_billing_event_id", "charge_variant", "charge_side"):
        if c not in ix:
            head.append(c)
            ix[c] = len(head) - 1
            for row in rows:
                row.append("")
    # a cost-of-goods row (charge_side BUYING) is a resale charge: charge_variant RESALE
    for row in rows:
        if row[ix["charge_side"]] == "BUYING" and not row[ix["charge_variant"]]:
            row[ix["charge_variant"]] = "RESALE"
    # a payout line without parent_billing_event_id: the invoiced row it mirrors (same recipient,
    # reference, type and side, opposite amount), each invoiced row taken once
    open_rows = {}
    for row in rows:
        if row[ix["action"]] in ("INVOICED", "FORGIVEN"):
            k = (row[ix["recipient_account_id"]], row[ix["transaction_reference_id"]], row[ix["transaction_type"]],
                 row[ix["charge_side"]], row[ix["amount"]].lstrip("-"), row[ix["amount"]].startswith("-"))
            open_rows.setdefault(k, []).append(row[ix["billing_event_id"]])
    for row in rows:
        if row[ix["action"]] == "DISBURSED" and not row[ix["parent_billing_event_id"]] and \
                row[ix["transaction_type"]] not in ("DISBURSEMENT", "DISBURSEMENT_FAILURE"):
            k = (row[ix["recipient_account_id"]], row[ix["transaction_reference_id"]], row[ix["transaction_type"]],
                 row[ix["charge_side"]], row[ix["amount"]].lstrip("-"), not row[ix["amount"]].startswith("-"))
            if open_rows.get(k):
                row[ix["parent_billing_event_id"]] = open_rows[k].pop(0)
    if "parent_billing_event_id" in ix:
        for row in rows:
            p = byid.get(row[ix["parent_billing_event_id"]])
            if p is not None and row[ix["action"]] == "DISBURSED":
                if not row[ix["invoice_id"]]:
                    row[ix["invoice_id"]] = p[ix["invoice_id"]]
                if not row[ix["line_item_id"]]:
                    row[ix["line_item_id"]] = p[ix["line_item_id"]]
def month(row):
    d = dict(zip(head, row))
    for c in ("invoice_date", "usage_date", "valid_from", "insert_date"):
        v = d.get(c, "")
        if len(v) >= 7 and v[:4].isdigit() and v[5:7].isdigit() and 1 <= int(v[5:7]) <= 12:
            return v[:4], v[5:7]
    return None
months = {}
first = None
for row in rows:
    m = month(row)
    months.setdefault(m, []).append(row)
    if m is not None and (first is None or m < first):
        first = m
if None in months:
    months.setdefault(first or ("2010", "01"), []).extend(months.pop(None))
for (y, m), rs in sorted(months.items()):
    d = os.path.join(out, prefix, feed, "year=" + y, "month=" + m)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "data.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(head)
        w.writerows(rs)
PY
}

ref_bucket_sdds() { # DIR
	local dir=$1 src=$TOP/fixtures/sdds-bucket f
	mkdir -p "$dir"
	(cd "$src" && find . -name data.csv) | while read -r f; do
		mkdir -p "$dir/$(dirname "$f")"
		cp "$src/$f" "$dir/$f"
	done
	local isv=xk0CSmiAm6PQ4QqEog9iiaochIzuPlkMfba7a1oDlZ
	mkdir -p "$dir/agreementfeed_v1/year=2026/month=09" "$dir/productfeed_v1/year=2026/month=09" \
		"$dir/offerproductfeed_v1/year=2026/month=09" "$dir/offerfeed_v1/year=2026/month=09"
	{
		echo "offer_id,offer_revision,name,expiration_date,opportunity_name,opportunity_description,seller_account_id,opportunity_id,recipient_account_id,catalog,valid_from,insert_date,update_date,delete_date"
		echo "offer-abcdef123456,1,Private offer,2027-08-31T00:00:00Z,,,$isv,,$isv,AWSMarketplace,2026-09-01T00:00:00Z,2026-09-01T00:00:00Z,,"
	} >"$dir/offerfeed_v1/year=2026/month=09/data.csv"
	{
		echo "agreement_id,offer_id,proposer_account_id,acceptor_account_id,start_time,end_time,acceptance_time,intent,preceding_agreement_id,status,status_reason_code,currency_code,estimated_agreement_value,offer_set_id,catalog,valid_from,insert_date,update_date,delete_date"
		echo "agmt-1a2b3c4d5e6f,offer-abcdef123456,$isv,b7QwErTy0Uiop1AsdfGh2JklZx3CvBn4M5qWeRtY6u,2026-09-01T00:00:00Z,2027-08-31T23:59:59Z,2026-09-01T00:00:00Z,NEW,,ACTIVE,,USD,,,AWSMarketplace,2026-09-01T00:00:00Z,2026-09-01T00:00:00Z,,"
	} >"$dir/agreementfeed_v1/year=2026/month=09/data.csv"
	{
		echo "product_id,manufacturer_account_id,product_code,title,catalog,valid_from,insert_date,update_date,delete_date"
		echo "prod-settle1abcde,$isv,pc-settle1,Settle test product,AWSMarketplace,2026-09-01T00:00:00Z,2026-09-01T00:00:00Z,,"
	} >"$dir/productfeed_v1/year=2026/month=09/data.csv"
	{
		echo "offer_id,offer_revision,product_id,valid_from,insert_date,update_date,delete_date"
		echo "offer-abcdef123456,1,prod-settle1abcde,2026-09-01T00:00:00Z,2026-09-01T00:00:00Z,,"
	} >"$dir/offerproductfeed_v1/year=2026/month=09/data.csv"
}

ref_bucket_cppo() { # DIR
	local dir=$1 src=$TOP/fixtures/reconcile/cppo-documented
	mkdir -p "$dir"
	_ref_month_split "$src/billing_event_reseller.csv" billingeventfeed_v1 "$dir" 777788889999
	_ref_month_split "$src/billing_event_manufacturer.csv" billingeventfeed_v1 "$dir" 111122223333
	mkdir -p "$dir/777788889999/agreementfeed_v1/year=2018/month=12"
	{
		echo "agreement_id,offer_id,proposer_account_id,acceptor_account_id,start_time,end_time,acceptance_time,intent,preceding_agreement_id,status,status_reason_code,currency_code,estimated_agreement_value,offer_set_id,catalog,valid_from,insert_date,update_date,delete_date"
		echo "agmt-doc,o-doc,777788889999,737399998888,2018-01-01T00:00:00Z,2019-12-31T00:00:00Z,2018-01-01T00:00:00Z,NEW,,ACTIVE,,USD,,,AWSMarketplace,2018-01-01T00:00:00Z,2018-01-01T00:00:00Z,,"
		echo "agmt-issue,o-issue,777788889999,737399998888,2018-01-01T00:00:00Z,2019-12-31T00:00:00Z,2018-01-01T00:00:00Z,NEW,,ACTIVE,,USD,,,AWSMarketplace,2018-01-01T00:00:00Z,2018-01-01T00:00:00Z,,"
	} >"$dir/777788889999/agreementfeed_v1/year=2018/month=12/data.csv"
	cp "$src/offers.csv" "$dir/offers.csv"
	cp "$src/bank_deposits.csv" "$dir/bank_deposits.csv"
}

ref_bucket_terms() { # DIR
	local dir=$1 fx f feed
	fx=$(mktemp -d "${TMPDIR:-/tmp}/settle-refterms.XXXXXX") || return 1
	python3 "$TOP/fixtures/offer-terms/make.py" "$fx" usage-tax || { rm -rf "$fx"; return 1; }
	mkdir -p "$dir"
	for f in "$fx"/*_v1.csv; do
		feed=$(basename "$f" .csv)
		_ref_month_split "$f" "$feed" "$dir"
	done
	cp "$fx/metering.csv" "$dir/metering.csv"
	printf 'offer_id,resale_authorization_id,markup_pct\n,ra-1,8\n' >"$dir/offers.csv"
	rm -rf "$fx"
}

ref_bucket_gen() { # DIR EVENTS
	local dir=$1 n=$2 g
	g=$(mktemp -d "${TMPDIR:-/tmp}/settle-refgen.XXXXXX") || return 1
	cc -std=c17 -O2 -o "$g/gen" "$TOP/bench/gen.c" || { rm -rf "$g"; return 1; }
	"$g/gen" --seed 7 --events "$n" --metering 2000 --period 2026-10 --out "$g/out" >/dev/null || { rm -rf "$g"; return 1; }
	mkdir -p "$dir/agreementfeed_v1/year=2026/month=10"
	_ref_month_split "$g/out/billing_event.csv" billingeventfeed_v1 "$dir"
	cp "$g/out/offers.csv" "$dir/offers.csv"
	cp "$g/out/offer_dimensions.csv" "$dir/offer_dimension.csv"
	cp "$g/out/metering.csv" "$dir/metering.csv"
	cp "$g/out/bank_deposits.csv" "$dir/bank_deposits.csv"
	# the agreement feed of the generated offers: proposer = seller of record, acceptor = buyer
	python3 - "$g/out/offers.csv" >"$dir/agreementfeed_v1/year=2026/month=10/data.csv" <<'PY'
import csv, sys
w = csv.writer(sys.stdout, lineterminator="\n")
w.writerow("agreement_id,offer_id,proposer_account_id,acceptor_account_id,start_time,end_time,acceptance_time,intent,preceding_agreement_id,status,status_reason_code,currency_code,estimated_agreement_value,offer_set_id,catalog,valid_from,insert_date,update_date,delete_date".split(","))
for o in csv.DictReader(open(sys.argv[1], newline="")):
    if not o["agreement_id"]:
        continue
    w.writerow([o["agreement_id"], o["offer_id"], o["reseller_account_id"] or o["isv_account_id"], o["buyer_account_id"],
                o["valid_from"] + "T00:00:00Z", (o["valid_until"] + "T23:59:59Z") if o["valid_until"] else "",
                o["valid_from"] + "T00:00:00Z", "NEW", "", "ACTIVE", "", o["currency"], "", "", "AWSMarketplace",
                o["valid_from"] + "T00:00:00Z", o["valid_from"] + "T00:00:00Z", "", ""])
PY
	rm -rf "$g"
}

ref_bucket_terms_night2() { # DIR: the next night's appends to ref_bucket_terms's bucket: the
	# marketplace revises tax item t3 (49.00 -> 50.00, matching its tax event) and the usage of
	# 2026-10-02 (60 -> 100 users), each as a new version with a later valid_from, appended to the
	# month's data.csv as the marketplace delivers them (SDDS.md)
	python3 - "$1" <<'PY'
import csv, os, sys
def revise(path, key, keyval, changes):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    head = rows[0]
    old = [r for r in rows[1:] if r[head.index(key)] == keyval][-1]
    new = list(old)
    for c, v in changes.items():
        new[head.index(c)] = v
    with open(path, "a", newline="") as f:
        csv.writer(f, lineterminator="\n").writerow(new)
d = sys.argv[1]
revise(os.path.join(d, "taxitemfeed_v1/year=2026/month=10/data.csv"), "tax_item_id", "t3",
       {"tax_amount": "50.00", "valid_from": "2026-10-06T00:00:00Z", "insert_date": "2026-10-06T00:00:00Z",
        "update_date": "2026-10-06T00:00:00Z"})
revise(os.path.join(d, "dailyusagefeed_v1/year=2026/month=10/data.csv"), "usage_feed_id", "u2",
       {"usage_quantity": "100", "valid_from": "2026-10-06T00:00:00Z", "insert_date": "2026-10-06T00:00:00Z",
        "update_date": "2026-10-06T00:00:00Z"})
PY
}
