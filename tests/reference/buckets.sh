# buckets.sh — builds the SDDS buckets the reference-query test runs on (bash; source it).
#
#   ref_bucket_sdds DIR      fixtures/sdds-bucket as delivered by its last night, with the
#                            agreement, offer, offer product and product feeds a real bucket
#                            carries beside the billing events (the fixture has none; the
#                            reference queries keep only the billing events whose agreement the
#                            agreement feed knows)
#   ref_bucket_cppo DIR      fixtures/reconcile/cppo-documented in the delivery layout: one folder per
#                            recipient, the months of the rows, settle's offer file and bank lines
#                            beside, and an agreement feed for its two agreements; the feeds' accounts
#                            in their opaque form with an account feed per recipient folder
#   ref_bucket_terms DIR     fixtures/offer-terms/make.py usage-tax (every feed in its real column
#                            set) in the delivery layout, with settle's offer file and metering log
#   ref_bucket_terms_night2 DIR  the next night of ref_bucket_terms: later revisions appended
#   ref_bucket_gen DIR N     bench/gen --events N in the delivery layout, with an agreement feed
#                            written from its offers (the generator writes none)
#   ref_bucket_real DIR N    night N (1..4) of tests/reference/realbucket.py appended to DIR: a
#                            reseller's and an ISV's bucket written independently of the fixtures
#                            (file month = delivery month); REF_REAL_ASOF[N] is that night's as-of
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
	_ref_opaque_accounts "$dir"
}

_ref_opaque_accounts() { # DIR: the accounts of a bucket's feeds in their opaque form (SDDS.md: the
	# feeds write account_id, people and settle's own files the 12-digit number): every 12-digit
	# id in the billing event and agreement feeds becomes a 42-character account_id, and each
	# recipient folder gets the account feed that maps them back. settle's offer file and bank
	# lines keep the numbers (SPEC §1: both forms are one account).
	python3 - "$1" <<'PY'
import csv, os, re, sys
d = sys.argv[1]
cols = {"billingeventfeed_v1": ("recipient_account_id", "from_account_id", "to_account_id", "end_user_account_id"),
        "agreementfeed_v1": ("proposer_account_id", "acceptor_account_id")}
seen = {}
def opaque(n):
    return seen.setdefault(n, "Op" + n + "zQ" * 14)
roots = set()
for root, _, files in os.walk(d):
    parts = root.split(os.sep)
    feed = next((p for p in parts if p in cols), None)
    if feed is None or "data.csv" not in files:
        continue
    roots.add(os.sep.join(parts[:parts.index(feed)]))
    path = os.path.join(root, "data.csv")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    ix = [rows[0].index(c) for c in cols[feed] if c in rows[0]]
    for r in rows[1:]:
        for i in ix:
            if re.fullmatch(r"[0-9]{12}", r[i]):
                r[i] = opaque(r[i])
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
for root in sorted(roots):
    out = os.path.join(root, "accountfeed_v1", "year=2010", "month=01")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "data.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow("account_id,aws_account_id,encrypted_account_id,mailing_address_id,tax_address_id,tax_registration_number,tax_legal_name,catalog,valid_from,insert_date,update_date,delete_date".split(","))
        for n, o in sorted(seen.items()):
            w.writerow([o, n, "", "", "", "", "", "AWSMarketplace", "2010-01-01T00:00:00Z", "2010-01-01T00:00:00Z", "", ""])
PY
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

REF_REAL_ASOF=(unused 2026-10-15T03:00:00Z 2026-10-29T03:00:00Z 2026-11-03T03:00:00Z 2026-11-10T03:00:00Z)
ref_bucket_real() { # DIR NIGHT
	python3 "$TOP/tests/reference/realbucket.py" "$1" "$2"
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

# ref_bucket_months DIR / ref_bucket_months_night2 DIR: one ISV's bucket written row by row in the
# real column set (every id the marketplace fills in: invoice and line item ids, parents,
# balance_impacting, disbursement_amount), with accounts in the feeds' opaque form and an account
# feed mapping them to the 12-digit numbers settle's own files use (SPEC §1). Night 1 (delivered by
# 2026-11-01, the October file): a charge forgiven within October; charges whose forgiveness or
# refund comes in November; a payout that fails in the current format (no parent link, reversal
# lines, SPEC §4.5) and one in the older format (parent link, no reversal lines), one that settles against a deposit, and a EUR charge paid in USD
# (disbursement_amount, disbursement_currency). Night 2 (the November file, appended as
# delivered): the November forgiveness (same invoice line) and refund (its own invoice), and a
# charge invoiced on 2026-10-30 that arrives only in November, into the already reported October.
# Night 3 (appended to November's file): new versions of a charge of 2026-10-31 23:30 that move
# its invoice_date to 2026-11-01 00:30: it leaves October for November (SPEC §3.1 versions, §1).
# Night 4: November's payout of the late October charge, its lines without a reference (and its
# deposit, appended to bank_deposits.csv): October's group shows it disbursed (SPEC §4.5).
_REF_MONTHS_SELLER=sElLeR0000000000000000000000000000000000A1
_REF_MONTHS_BUYER=bUyEr00000000000000000000000000000000000B1
_ref_months_rows() { # DIR FILE NIGHT: writes night NIGHT's rows (1 or 2) to DIR/FILE, appending
	python3 - "$@" "$_REF_MONTHS_SELLER" "$_REF_MONTHS_BUYER" <<'PY'
import csv, os, sys
d, path, night, S, B = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
head = ("billing_event_id,from_account_id,to_account_id,end_user_account_id,product_id,action,transaction_type,"
        "parent_billing_event_id,disbursement_billing_event_id,amount,currency,balance_impacting,invoice_date,"
        "payment_due_date,usage_period_start_date,usage_period_end_date,invoice_id,billing_address_id,"
        "transaction_reference_id,bank_trace_id,broker_id,agreement_id,buyer_transaction_reference_id,"
        "disbursement_amount,disbursement_currency,disbursement_reference_number,catalog,buyer_invoice_id,"
        "invoice_variant,action_date,offer_id,buyer_invoice_date,line_item_id,buyer_line_item_id,charge_variant,"
        "charge_side,recipient_account_id,valid_from,insert_date,update_date,delete_date").split(",")
rows = []
def ev(i, action, tt, amount, when, tref="", inv="", parent="", disb="", trace="", delivered=None, dated=False,
       updated="", cur="USD", agmt="m1", paid=None, noref=False):
    fee = tt.startswith("AWS_REV_SHARE")
    r = dict.fromkeys(head, "")
    r.update(billing_event_id=i, action=action, transaction_type=tt, amount=amount, currency=cur,
             recipient_account_id=S, catalog="AWSMarketplace", broker_id="AWS_INC",
             transaction_reference_id=tref, parent_billing_event_id=parent,
             disbursement_billing_event_id=disb, bank_trace_id=trace,
             valid_from=delivered or when, insert_date=delivered or when, update_date=updated)
    if action != "DISBURSED":
        r.update(invoice_date=when, invoice_id=inv, line_item_id=inv.replace("inv-", "li-"),
                 agreement_id="agmt-" + agmt, offer_id="offer-" + agmt, product_id="prod-m1",
                 from_account_id=S if fee else B, to_account_id="AWS" if fee else S,
                 end_user_account_id="" if fee else B, invoice_variant="PURCHASE",
                 charge_variant="LISTING_FEE" if fee else "", charge_side="SELLING")
    else:
        # payout rows in both forms: dated (invoice_date = the payout date, the line's agreement,
        # offer and product) or as in the marketplace's examples (no invoice_date, no agreement:
        # the report's agreement join needs an invoice_date, SDDS.md)
        r.update(action_date=when, invoice_date=when if dated else "")
        if tt not in ("DISBURSEMENT", "DISBURSEMENT_FAILURE"):
            p = next(x for x in rows if x["billing_event_id"] == parent)
            for c in ("invoice_id", "line_item_id") + (() if noref else ("transaction_reference_id",)) + \
                    (("agreement_id", "offer_id", "product_id") if dated else ()):
                r[c] = p[c]
    bi = "0" if tt.startswith("AWS_TAX_SHARE") and action != "DISBURSED" else "1"
    r["balance_impacting"] = bi
    if paid is not None: # paid in another currency: the amount there (empty on the invoiced rows)
        r.update(disbursement_amount=paid[0], disbursement_currency=paid[1])
    elif bi == "1":
        r.update(disbursement_amount=amount, disbursement_currency=cur)
    rows.append(r)
oct_ = lambda day, h="10:00:00": "2026-10-%02dT%sZ" % (day, h)
nov = lambda day, h="10:00:00": "2026-11-%02dT%sZ" % (day, h)
# night 1: October
ev("m-r1", "INVOICED", "SELLER_REV_SHARE", "100.00", oct_(5), "tr-refund", "inv-m1")
ev("m-r2", "INVOICED", "AWS_REV_SHARE", "-1.50", oct_(5), "tr-refund", "inv-m1")
ev("m-r3", "INVOICED", "SELLER_TAX_SHARE", "0.33", oct_(5), "tr-refund", "inv-m1")
ev("m-f1", "INVOICED", "SELLER_REV_SHARE", "250.00", oct_(6), "tr-forgiven", "inv-m2")
ev("m-f2", "INVOICED", "AWS_REV_SHARE", "-3.75", oct_(6), "tr-forgiven", "inv-m2")
ev("m-f3", "INVOICED", "AWS_TAX_SHARE", "20.00", oct_(6), "tr-forgiven", "inv-m2")
ev("m-s1", "INVOICED", "SELLER_REV_SHARE", "77.77", oct_(7), "tr-same", "inv-m3")
ev("m-s2", "INVOICED", "AWS_REV_SHARE", "-1.17", oct_(7), "tr-same", "inv-m3")
ev("m-s3", "FORGIVEN", "SELLER_REV_SHARE", "-77.77", oct_(20), "tr-same", "inv-m3", parent="m-s1")
ev("m-s4", "FORGIVEN", "AWS_REV_SHARE", "1.17", oct_(20), "tr-same", "inv-m3", parent="m-s2")
ev("m-p1", "INVOICED", "SELLER_REV_SHARE", "500.00", oct_(8), "tr-failed", "inv-m4")
ev("m-p2", "INVOICED", "AWS_REV_SHARE", "-7.50", oct_(8), "tr-failed", "inv-m4")
ev("m-q1", "INVOICED", "SELLER_REV_SHARE", "300.00", oct_(9), "tr-paid", "inv-m5")
ev("m-q2", "INVOICED", "AWS_REV_SHARE", "-4.50", oct_(9), "tr-paid", "inv-m5")
ev("m-v1", "INVOICED", "SELLER_REV_SHARE", "60.00", oct_(31, "23:30:00"), "tr-move", "inv-m8")
ev("m-v2", "INVOICED", "AWS_REV_SHARE", "-0.90", oct_(31, "23:30:00"), "tr-move", "inv-m8")
# payout D1 of tr-failed, failed on the 20th in the current format: no parent, reversal lines
ev("m-d1", "DISBURSED", "DISBURSEMENT", "492.50", oct_(15), trace="TRACE-M1")
ev("m-d1a", "DISBURSED", "SELLER_REV_SHARE", "-500.00", oct_(15), parent="m-p1", disb="m-d1")
ev("m-d1b", "DISBURSED", "AWS_REV_SHARE", "7.50", oct_(15), parent="m-p2", disb="m-d1")
ev("m-x1", "DISBURSED", "DISBURSEMENT_FAILURE", "-492.50", oct_(20), trace="TRACE-M1")
ev("m-x1a", "DISBURSED", "SELLER_REV_SHARE", "500.00", oct_(20), parent="m-p1", disb="m-x1")
ev("m-x1b", "DISBURSED", "AWS_REV_SHARE", "-7.50", oct_(20), parent="m-p2", disb="m-x1")
# payout D2 of tr-paid, settled (the deposit is in bank_deposits.csv)
ev("m-d2", "DISBURSED", "DISBURSEMENT", "295.50", oct_(21), trace="TRACE-M2", dated=True)
ev("m-d2a", "DISBURSED", "SELLER_REV_SHARE", "-300.00", oct_(21), parent="m-q1", disb="m-d2", dated=True)
ev("m-d2b", "DISBURSED", "AWS_REV_SHARE", "4.50", oct_(21), parent="m-q2", disb="m-d2", dated=True)
# tr-oldfail: its payout fails in the older format (the failure names the payout as its parent,
# no reversal lines)
ev("m-o1", "INVOICED", "SELLER_REV_SHARE", "80.00", oct_(11), "tr-oldfail", "inv-m10")
ev("m-o2", "INVOICED", "AWS_REV_SHARE", "-1.20", oct_(11), "tr-oldfail", "inv-m10")
ev("m-d5", "DISBURSED", "DISBURSEMENT", "78.80", oct_(16), trace="TRACE-M5", dated=True)
ev("m-d5a", "DISBURSED", "SELLER_REV_SHARE", "-80.00", oct_(16), parent="m-o1", disb="m-d5", dated=True)
ev("m-d5b", "DISBURSED", "AWS_REV_SHARE", "1.20", oct_(16), parent="m-o2", disb="m-d5", dated=True)
ev("m-x5", "DISBURSED", "DISBURSEMENT_FAILURE", "-78.80", oct_(19), parent="m-d5", dated=True)
# tr-eur: priced in EUR (agreement agmt-m2), paid in USD (disbursement_amount, SPEC §4.5)
ev("m-e1", "INVOICED", "SELLER_REV_SHARE", "200.00", oct_(10), "tr-eur", "inv-m9", cur="EUR", agmt="m2", paid=("", ""))
ev("m-e2", "INVOICED", "AWS_REV_SHARE", "-3.00", oct_(10), "tr-eur", "inv-m9", cur="EUR", agmt="m2", paid=("", ""))
ev("m-d3", "DISBURSED", "DISBURSEMENT", "197.00", oct_(22), trace="TRACE-M3", dated=True, cur="EUR", paid=("216.70", "USD"))
ev("m-d3a", "DISBURSED", "SELLER_REV_SHARE", "-200.00", oct_(22), parent="m-e1", disb="m-d3", dated=True, cur="EUR",
   paid=("-220.00", "USD"))
ev("m-d3b", "DISBURSED", "AWS_REV_SHARE", "3.00", oct_(22), parent="m-e2", disb="m-d3", dated=True, cur="EUR",
   paid=("3.30", "USD"))
n1 = len(rows)
# night 2: November, as delivered into November's file
ev("m-f1f", "FORGIVEN", "SELLER_REV_SHARE", "-250.00", nov(4), "tr-forgiven", "inv-m2", parent="m-f1")
ev("m-f2f", "FORGIVEN", "AWS_REV_SHARE", "3.75", nov(4), "tr-forgiven", "inv-m2", parent="m-f2")
ev("m-f3f", "FORGIVEN", "AWS_TAX_SHARE", "-20.00", nov(4), "tr-forgiven", "inv-m2", parent="m-f3")
ev("m-r1r", "INVOICED", "SELLER_REV_SHARE_REFUND", "-100.00", nov(3), "tr-refund", "inv-m7", parent="m-r1")
ev("m-r2r", "INVOICED", "AWS_REV_SHARE_REFUND", "1.50", nov(3), "tr-refund", "inv-m7", parent="m-r2")
ev("m-r3r", "INVOICED", "SELLER_TAX_SHARE_REFUND", "-0.33", nov(3), "tr-refund", "inv-m7", parent="m-r3")
ev("m-l1", "INVOICED", "SELLER_REV_SHARE", "40.00", oct_(30, "20:00:00"), "tr-late", "inv-m6", delivered=nov(2))
ev("m-l2", "INVOICED", "AWS_REV_SHARE", "-0.60", oct_(30, "20:00:00"), "tr-late", "inv-m6", delivered=nov(2))
n2 = len(rows)
# night 3: new versions of tr-move's rows (newer valid_from and update_date): the invoice was
# dated 2026-11-01, not 2026-10-31, so the charge leaves the reported October for November
ev("m-v1", "INVOICED", "SELLER_REV_SHARE", "60.00", nov(1, "00:30:00"), "tr-move", "inv-m8",
   delivered=nov(5), updated=nov(5))
ev("m-v2", "INVOICED", "AWS_REV_SHARE", "-0.90", nov(1, "00:30:00"), "tr-move", "inv-m8",
   delivered=nov(5), updated=nov(5))
n3 = len(rows)
# night 4: November's payout of tr-late (invoiced 2026-10-30), its lines without invoice_date and
# without transaction_reference_id, as in the marketplace's examples (SPEC §3.1: the reference is
# the parent's): October's group of tr-late is disbursed now
ev("m-d4", "DISBURSED", "DISBURSEMENT", "39.40", nov(6), trace="TRACE-M4")
ev("m-d4a", "DISBURSED", "SELLER_REV_SHARE", "-40.00", nov(6), parent="m-l1", disb="m-d4", noref=True)
ev("m-d4b", "DISBURSED", "AWS_REV_SHARE", "0.60", nov(6), parent="m-l2", disb="m-d4", noref=True)
out = rows[:n1] if night == 1 else rows[n1:n2] if night == 2 else rows[n2:n3] if night == 3 else rows[n3:]
new = not os.path.exists(os.path.join(d, path))
os.makedirs(os.path.dirname(os.path.join(d, path)), exist_ok=True)
with open(os.path.join(d, path), "a", newline="") as f:
    w = csv.DictWriter(f, head, lineterminator="\n")
    if new:
        w.writeheader()
    w.writerows(out)
PY
}

ref_bucket_months() { # DIR
	local dir=$1 S=$_REF_MONTHS_SELLER B=$_REF_MONTHS_BUYER m=year=2026/month=10 h="valid_from,insert_date,update_date,delete_date"
	mkdir -p "$dir"/{accountfeed_v1,agreementfeed_v1,offerfeed_v1,offerproductfeed_v1,productfeed_v1}/$m
	_ref_months_rows "$dir" "billingeventfeed_v1/$m/data.csv" 1 || return 1
	printf 'account_id,aws_account_id,encrypted_account_id,mailing_address_id,tax_address_id,tax_registration_number,tax_legal_name,catalog,%s\n%s,400000000061,,,,,Months ISV Ltd,AWSMarketplace,2026-10-01T00:00:00Z,2026-10-01T00:00:00Z,,\n%s,900000000061,,,,,,AWSMarketplace,2026-10-01T00:00:00Z,2026-10-01T00:00:00Z,,\n' \
		"$h" "$S" "$B" >"$dir/accountfeed_v1/$m/data.csv"
	{
		echo "agreement_id,offer_id,proposer_account_id,acceptor_account_id,start_time,end_time,acceptance_time,intent,preceding_agreement_id,status,status_reason_code,currency_code,estimated_agreement_value,offer_set_id,catalog,$h"
		echo "agmt-m1,offer-m1,$S,$B,2026-10-01T00:00:00Z,2027-09-30T23:59:59Z,2026-10-01T00:00:00Z,NEW,,ACTIVE,,USD,,,AWSMarketplace,2026-10-01T00:00:00Z,2026-10-01T00:00:00Z,,"
		echo "agmt-m2,offer-m2,$S,$B,2026-10-01T00:00:00Z,2027-09-30T23:59:59Z,2026-10-01T00:00:00Z,NEW,,ACTIVE,,EUR,,,AWSMarketplace,2026-10-01T00:00:00Z,2026-10-01T00:00:00Z,,"
	} >"$dir/agreementfeed_v1/$m/data.csv"
	{
		echo "offer_id,offer_revision,name,expiration_date,opportunity_name,opportunity_description,seller_account_id,opportunity_id,recipient_account_id,catalog,$h"
		echo "offer-m1,1,Months offer,2027-09-30T00:00:00Z,,,$S,,$S,AWSMarketplace,2026-10-01T00:00:00Z,2026-10-01T00:00:00Z,,"
		echo "offer-m2,1,Months offer (EUR),2027-09-30T00:00:00Z,,,$S,,$S,AWSMarketplace,2026-10-01T00:00:00Z,2026-10-01T00:00:00Z,,"
	} >"$dir/offerfeed_v1/$m/data.csv"
	printf 'offer_id,offer_revision,product_id,%s\noffer-m1,1,prod-m1,2026-10-01T00:00:00Z,2026-10-01T00:00:00Z,,\noffer-m2,1,prod-m1,2026-10-01T00:00:00Z,2026-10-01T00:00:00Z,,\n' \
		"$h" >"$dir/offerproductfeed_v1/$m/data.csv"
	printf 'product_id,manufacturer_account_id,product_code,title,catalog,%s\nprod-m1,%s,pc-months,Months product,AWSMarketplace,2026-10-01T00:00:00Z,2026-10-01T00:00:00Z,,\n' \
		"$h" "$S" >"$dir/productfeed_v1/$m/data.csv"
	printf 'offer_id,split_basis,listing_fee_pct\noffer-m1,DIRECT,1.5\noffer-m2,DIRECT,1.5\n' >"$dir/offers.csv"
	printf 'deposit_id,account_id,value_date,amount,currency,bank_trace_id,reference\n%s\n%s\n' \
		"dep-m2,400000000061,2026-10-23,295.50,USD,TRACE-M2,AWS Marketplace" \
		"dep-m3,400000000061,2026-10-24,216.70,USD,TRACE-M3,AWS Marketplace" >"$dir/bank_deposits.csv"
}

ref_bucket_months_night2() { # DIR
	_ref_months_rows "$1" "billingeventfeed_v1/year=2026/month=11/data.csv" 2
}

ref_bucket_months_night3() { # DIR
	_ref_months_rows "$1" "billingeventfeed_v1/year=2026/month=11/data.csv" 3
}

ref_bucket_months_night4() { # DIR
	_ref_months_rows "$1" "billingeventfeed_v1/year=2026/month=11/data.csv" 4 &&
		echo "dep-m4,400000000061,2026-11-09,39.40,USD,TRACE-M4,AWS Marketplace" >>"$1/bank_deposits.csv"
}
