#!/usr/bin/python3
"""pandas_alloc.py BILLING_EVENT.csv OFFERS.csv PERIOD OUTDIR — what a seller's analyst would write
instead of settle: the period's allocations and payout statements (SPEC v2 §4.1-§4.4) from the same
CSV files with pandas, written as allocations.csv and payouts.csv in settle's format (SPEC §8) and
as an XLSX workbook with openpyxl. Money is exact: amounts are parsed from their text into integer
micros, sums are int64 (checked against overflow), allocations use Python integers; nothing is
ever a float (the workbook's cells are written from Decimal, so their XML text is exact too).

Covered: current versions (§3.1: newest valid_from, then update_date, NULL oldest, then file
order; delete_date deletes), charge groups (§4.1), M1/M2/M3 matching with AMBIGUOUS_OFFER and
CURRENCY_MISMATCH (§4.2), DIRECT/MARKUP/SHARE and the ISV's own feed of a CPPO sale,
RECIPIENT_NOT_PARTY (§4.3), the own-feed rule and payable rounding half_up (§4.4).
Not covered (the generated files have none, and the script says so when it finds one): offer rows
keyed by resale_authorization_id, offer terms derived from SDDS feeds, OFFER_INCOMPLETE and
OFFER_TERMS_CONFLICT, account ids in two forms, timestamps not in the feed's one
`YYYY-MM-DDTHH:MM:SSZ` form (compared as text), configured tolerances or half_even. Exceptions
and the checks (FEE_VARIANCE, ...) are not computed: only allocations and payouts.
"""
import sys
from decimal import Decimal

import numpy as np
import pandas as pd
from openpyxl import Workbook

be_path, offers_path, period, out = sys.argv[1:5]
MINOR = {'USD': 2, 'EUR': 2, 'GBP': 2, 'AUD': 2, 'INR': 2, 'CAD': 2, 'CHF': 2, 'JPY': 0, 'KWD': 3, 'BHD': 3}
ONE = 1_000_000
HIGH = '\uffff'  # sorts after every id: "smallest non-empty" = min with '' mapped to HIGH


def skip(what):
    sys.exit('pandas_alloc: not covered by this script: %s' % what)


def micros(s):
    """Exact decimal text (SPEC §2 grammar) -> int64 micros, vectorised."""
    if not s.str.fullmatch(r'-?[0-9]+(\.[0-9]+)?').all():
        skip('an amount outside the grammar -?[0-9]+(.[0-9]+)?')
    neg = s.str.startswith('-')
    ip, _, fp = (s.str.lstrip('-').str.partition('.')[k] for k in (0, 1, 2))
    if (fp.str[6:].str.strip('0') != '').any():
        skip('an amount with more than 6 significant fractional digits (AMOUNT_PRECISION)')
    if (ip.str.len() > 12).any():
        skip('an amount of 10^12 units or more')
    m = ip.astype('int64') * ONE + fp.str[:6].str.ljust(6, '0').astype('int64')
    return np.where(neg, -m, m)


def rate_e4(pct):
    """'8' or '2.5' (percent, at most 4 fractional digits) -> weight: percent x 10^4 (SPEC §3.2)."""
    ip, _, fp = pct.partition('.')
    return int(ip) * 10000 + int(fp.ljust(4, '0')[:4] or 0)


def alloc(t, w):
    """SPEC §2 alloc(T, w): largest remainders, ties to the lower index, sign of T."""
    a, tot = abs(t), sum(w)
    q = [a * x // tot for x in w]
    r = [a * x % tot for x in w]
    for i in sorted(range(len(w)), key=lambda i: (-r[i], i))[:a - sum(q)]:
        q[i] += 1
    return [-x if t < 0 else x for x in q]


def fmt(m, cur):
    """SPEC §2: shortest exact form with at least the currency's minor digits; never -0."""
    d = MINOR[cur]
    a = abs(m)
    frac = ('%06d' % (a % ONE)).rstrip('0')
    if len(frac) < d:
        frac = frac.ljust(d, '0')
    return ('-' if m < 0 else '') + str(a // ONE) + ('.' + frac if frac else '')


cols = ['billing_event_id', 'recipient_account_id', 'valid_from', 'update_date', 'delete_date', 'from_account_id',
        'product_id', 'agreement_id', 'offer_id', 'action', 'transaction_type', 'amount', 'currency', 'invoice_date',
        'charge_side', 'transaction_reference_id']
be = pd.read_csv(be_path, dtype=str, keep_default_na=False, usecols=lambda c: c in cols)
for c in cols:
    if c not in be:
        be[c] = ''
be['ord'] = np.arange(len(be))
# §3.1 current versions: the last of each key by (valid_from, update_date with NULL oldest, file order)
be = be.sort_values(['billing_event_id', 'valid_from', 'update_date', 'ord'], kind='stable')
cur = be.drop_duplicates('billing_event_id', keep='last')
cur = cur[cur['delete_date'] == '']
own_feed = set(cur['recipient_account_id'])  # §4.4: parties whose own feed is loaded

g = cur[cur['action'].isin(['INVOICED', 'FORGIVEN']) & (cur['invoice_date'].str[:7] == period)].copy()
if (g['invoice_date'].str.len() > 10).any() and not g['invoice_date'].str.fullmatch(r'\d{4}-\d\d-\d\d([T ]\d\d:\d\d:\d\dZ?)?').all():
    skip('an invoice_date with a UTC offset')
if not g['currency'].isin(list(MINOR)).all():
    skip('a currency outside the table')
g['m'] = micros(g['amount'])
base = g['transaction_type'].str.replace(r'_(REFUND|CREDIT)$', '', regex=True)
rev = base == 'SELLER_REV_SHARE'
buying = g['charge_side'] == 'BUYING'
for name, mask in (('B', rev & ~buying), ('C', rev & buying), ('F', base == 'AWS_REV_SHARE'),
                   ('T', base == 'SELLER_TAX_SHARE')):
    g[name] = np.where(mask, g['m'], 0)
key = ['recipient_account_id', 'transaction_reference_id', 'currency']
rows_max = int(g.groupby(key).size().max()) if len(g) else 0
if len(g) and int(np.abs(g['m']).max()) * rows_max >= 2 ** 63:
    skip('group sums that could overflow int64')
for c in ('agreement_id', 'offer_id', 'product_id'):
    g[c] = g[c].replace('', HIGH)
g['buyer'] = np.where(rev & ~buying & (g['from_account_id'] != ''), g['from_account_id'], HIGH)
g['day'] = g['invoice_date'].str[:10]
grp = g.groupby(key, sort=False).agg(B=('B', 'sum'), C=('C', 'sum'), F=('F', 'sum'), T=('T', 'sum'),
                                     agreement=('agreement_id', 'min'), offer=('offer_id', 'min'),
                                     product=('product_id', 'min'), buyer=('buyer', 'min'), day=('day', 'min'))
grp = grp.reset_index()
for c in ('agreement', 'offer', 'product', 'buyer'):
    grp[c] = grp[c].replace(HIGH, '')

offers = pd.read_csv(offers_path, dtype=str, keep_default_na=False)
if (offers['offer_id'] == '').any():
    skip('offer rows keyed by resale_authorization_id')
if offers['offer_id'].duplicated().any():
    skip('several rows for one offer_id (terms versioned by ingest time)')
offers = offers.set_index('offer_id', drop=False)
by_agreement = offers[offers['agreement_id'] != ''].groupby('agreement_id')['offer_id'].agg(list).to_dict()
by_offer = {o: [o] for o in offers.index}
by_pbc = offers.groupby(['product_id', 'buyer_account_id', 'currency'])['offer_id'].agg(list).to_dict()


def match(agreement, offer, product, buyer, currency, day):
    """§4.2: (rule, offer_id) or (None, why)."""
    for rule, k, idx in (('M1', agreement, by_agreement), ('M2', offer, by_offer)):
        found = idx.get(k, []) if k else []
        if len(found) > 1:
            return None, 'AMBIGUOUS_OFFER'
        if found:
            return rule, found[0]
    found = []
    if product and buyer:
        for o in by_pbc.get((product, buyer, currency), []):
            f, u = offers.at[o, 'valid_from'][:10], offers.at[o, 'valid_until'][:10]
            if (not f or f <= day) and (not u or day <= u):
                found.append(o)
    if len(found) > 1:
        return None, 'AMBIGUOUS_OFFER'
    return ('M3', found[0]) if found else (None, 'NO_OFFER')


terms = {o: r for o, r in zip(offers.index, offers.to_dict('records'))}
alloc_rows = []   # (recipient, reference, currency, party order, row)
stmt = {}         # (account, role, currency) -> [own sums x4, via sums x4]
skipped = {}
for t in grp.itertuples(index=False):
    rule, oid = match(t.agreement, t.offer, t.product, t.buyer, t.currency, t.day)
    if rule is None:
        skipped[oid] = skipped.get(oid, 0) + 1
        continue
    o = terms[oid]
    if o['currency'] != t.currency:
        skipped['CURRENCY_MISMATCH'] = skipped.get('CURRENCY_MISMATCH', 0) + 1
        continue
    B, C, F, T = int(t.B), int(t.C), int(t.F), int(t.T)
    if B == 0 and F == 0 and T == 0:
        continue
    isv, res, basis = o['isv_account_id'], o['reseller_account_id'], o['split_basis'] or 'DIRECT'
    if not isv:
        skip('an offer without isv_account_id (OFFER_INCOMPLETE)')
    sor = res or isv
    if t.recipient_account_id != sor and not (res and t.recipient_account_id == isv):
        skipped['RECIPIENT_NOT_PARTY'] = skipped.get('RECIPIENT_NOT_PARTY', 0) + 1
        continue
    if t.recipient_account_id != sor or basis == 'DIRECT':   # DIRECT, or the ISV's own feed
        parts = [('ISV', isv, B, F, T)]
    elif basis == 'MARKUP':
        if C != 0:
            w = -C
        elif o['markup_pct']:
            w = alloc(B, [ONE, rate_e4(o['markup_pct'])])[0]
        else:
            skip('a MARKUP offer without markup and a group without cost of goods (OFFER_INCOMPLETE)')
        parts = [('ISV', isv, w, 0, 0), ('RESELLER', res, B - w, F, T)]
    elif basis == 'SHARE':
        s = rate_e4(o['isv_share_pct'])
        wt = [s, ONE - s]
        rv, fe, tx = alloc(B, wt), alloc(F, wt), alloc(T, wt)
        parts = [('ISV', isv, rv[0], fe[0], tx[0]), ('RESELLER', res, rv[1], fe[1], tx[1])]
    else:
        skip('split basis %r' % basis)
    for k, (role, acc, r, f, x) in enumerate(parts):
        n = r + f + x
        alloc_rows.append((t.recipient_account_id, t.transaction_reference_id, t.currency, k,
                           [period, t.recipient_account_id, t.transaction_reference_id, t.agreement, oid, rule,
                            t.currency, role, acc, r, f, x, n]))
        s = stmt.setdefault((acc, role, t.currency), [0] * 10)
        off = 0 if acc == t.recipient_account_id else 4   # own feed or via another recipient's
        for i, v in enumerate((r, f, x, n)):
            s[off + i] += v
        s[8 + off // 4] += 1
alloc_rows.sort(key=lambda a: a[:4])

pay_rows = []
for (acc, role, c), s in sorted(stmt.items()):
    via = acc not in own_feed   # §4.4: a party with its own feed counts only what it received itself
    tot = [s[i] + (s[4 + i] if via else 0) for i in range(4)]
    if s[8] + (s[9] if via else 0) == 0:
        continue
    net = tot[3]
    q = 10 ** (6 - MINOR[c])
    payable = (abs(net) + q // 2) // q * q * (-1 if net < 0 else 1)
    pay_rows.append([period, role, acc, c, *tot, payable, payable - net])

with open(out + '/allocations.csv', 'w', newline='\n') as f:
    f.write('period,recipient_account_id,transaction_reference_id,agreement_id,offer_id,match_rule,currency,'
            'party_role,party_account_id,revenue,listing_fee,seller_tax,net\n')
    for a in alloc_rows:
        r = a[4]
        f.write(','.join(r[:9] + [fmt(v, r[6]) for v in r[9:]]) + '\n')
with open(out + '/payouts.csv', 'w', newline='\n') as f:
    f.write('period,party_role,party_account_id,currency,revenue,listing_fee,seller_tax,net,net_payable,rounding\n')
    for r in pay_rows:
        f.write(','.join(r[:4] + [fmt(v, r[3]) for v in r[4:]]) + '\n')

wb = Workbook(write_only=True)
for title, header, rows, money_from, cur_col in (
        ('Allocations', ['Period', 'Recipient', 'Reference', 'Agreement', 'Offer', 'Rule', 'Currency', 'Role', 'Party',
                         'Revenue', 'Listing fee', 'Seller tax', 'Net'], [a[4] for a in alloc_rows], 9, 6),
        ('Payouts', ['Period', 'Role', 'Party', 'Currency', 'Revenue', 'Listing fee', 'Seller tax', 'Net',
                     'Net payable', 'Rounding'], pay_rows, 4, 3)):
    ws = wb.create_sheet(title)
    ws.append(header)
    for r in rows:
        ws.append(r[:money_from] + [Decimal(v).scaleb(-6) for v in r[money_from:]])
wb.save(out + '/allocations.xlsx')
print('pandas_alloc: %d groups, %d allocation rows, %d payout rows; not allocated: %s' % (
    len(grp), len(alloc_rows), len(pay_rows),
    ', '.join('%s %d' % kv for kv in sorted(skipped.items())) or 'none'))
