#!/usr/bin/python3
"""xlsx_check.py — reads a settle workbook back and checks it (tests/integration/test_xlsx.sh,
test_insights_report.sh).

    xlsx_check.py check BOOK.xlsx --dir REPORTDIR --as-of 2090-11-20T00:00:00Z [--name test_x.sh]
                  [--currencies JPY,KWD,USD] [--text '=HYPERLINK(...)'] [--parts Allocations=4]
                  [--rows-max N] [--empty] [--hist-payout 0,3,2,2,0,2,0,1] [--hist-collection ...]
                  [--median-payout 15.5] [--median-collection 24]
        --rows-max N  the workbook was written with SETTLE_XLSX_MAX_ROWS=N: check the continuation
                      worksheets of every listing
        --empty       a period without data: header-only sheets, no totals, no payout charts
    xlsx_check.py dump BOOK.xlsx            every sheet, cell, formula and number format

`check` prints the test protocol of tests/run.sh, one line per case ("PASS: <name>: xlsx <case>"
or "FAIL: <name>: xlsx <case>" followed by indented details) and exits 1 when a case failed. It
needs python3-openpyxl (Debian) and reads the zip parts itself for what openpyxl does not expose
(chart XML, core properties, zip entry times). REPORTDIR is the report set the workbook belongs
to: every sheet that has a CSV twin must show the same rows as the CSV (docs/workbook.md); the
insight charts and the Summary's insight figures are checked against insights.csv,
payment_timing.csv and exceptions.csv of that set.
"""
import argparse
import csv
import datetime
import math
import re
import sys
import zipfile
from decimal import Decimal

try:
    import openpyxl
except ImportError:  # the test prints one FAIL line naming the missing package
    openpyxl = None

# Listing sheets in workbook order (SPEC §8, then the insights of issue 6) and their CSV twins.
SHEETS = ["Payouts", "Allocations", "Exceptions", "Disbursements", "Aging", "Metering", "Tax", "Rejected",
          "Insights", "Payment timing", "Tax by jurisdiction", "Charge groups"]
# A listing sheet: row 1 the title line, row 2 a note, row 3 the header, data from row 4.
HEAD = 3
FIRST = 4
# Sheet headers are words; the CSV keeps the contract's names (report_xlsx.c xlsx_labels[]): a
# name without an entry reads as itself, underscores as spaces, first letter capital.
LABELS = {"party_role": "Role", "party_account_id": "Party account", "recipient_account_id": "Recipient account",
          "transaction_reference_id": "Reference", "agreement_id": "Agreement", "offer_id": "Offer",
          "match_rule": "Match rule", "payout_id": "Payout", "payout_date": "Payout date",
          "lines_total": "Sum of lines", "lines": "Lines", "bank_trace_id": "Bank trace id", "deposit_id": "Deposit",
          "deposit_match": "Deposit matched by", "disbursement_status": "Disbursement status",
          "remainder": "Outstanding", "bucket": "Age (days)", "days": "Days", "usage_month": "Usage month",
          "unit_price": "Unit price", "marketplace_tax": "Marketplace tax", "other_seller_tax": "Other seller tax",
          "infra": "Infrastructure fee", "cost_of_goods": "Cost of goods", "net_earned": "Net earned",
          "billed": "Billed (tax incl.)", "customer_aws_account_id": "Customer account",
          "product_code": "Product code", "history_mad": "History MAD", "max_score": "Max score",
          "p90_days": "P90 days"}
UNLABEL = {v: k for k, v in LABELS.items()}
# Long listings shown as subtotals (report_xlsx_sheet.c xlsx_collapses[], docs/workbook.md "Long
# detail sheets"): the columns grouped by, and the integer columns summed besides the amounts.
COLLAPSE = {"Allocations": (["period", "recipient_account_id", "offer_id", "currency", "party_role", "party_account_id"], []),
            "Charge groups": (["period", "recipient_account_id", "currency", "allocated"], []),
            "Tax": (["period", "recipient_account_id", "currency"], []),
            "Aging": (["period", "recipient_account_id", "currency", "bucket", "disbursement_status"], []),
            "Exceptions": (["period", "code", "recipient_account_id", "offer_id", "currency"], []),
            "Disbursements": (["period", "recipient_account_id", "currency", "kind", "status", "paid_currency",
                               "deposit_match", "deposit_id"], ["lines"]),
            "Rejected": (["file", "column", "code"], []),
            "Insights": (["period", "product_code", "dimension", "offer_id", "status", "source"], ["anomalies"])}
# Columns grouped by whether they are empty: the subtotal shows this word or nothing.
COLLAPSE_FLAGS = {"deposit_id": "(matched)"}
# Listed for the largest values only: (column, how many per group of the keys, ranked by the
# absolute sum of this column, what the rest of the group is called).
COLLAPSE_TOP = {"Charge groups": ("offer_id", 3, "billed", "other offers")}
# Sheets that list a tenth of workbook_detail_rows (their rows print long).
COLLAPSE_DIV = {"Exceptions": 10, "Disbursements": 10}
# Sheet-only name columns and the account column each stands beside (report_xlsx.c xlsx_name_col).
NAME_COLS = {"party_name": "party_account_id", "recipient_name": "recipient_account_id",
             "customer_name": "customer_aws_account_id", "account_name": None}


def label(name):
    if name in LABELS:
        return LABELS[name]
    t = name.replace("_", " ")
    return t[:1].upper() + t[1:]


def unlabel(text):
    if text is None:
        return None
    if text in UNLABEL:
        return UNLABEL[text]
    return text[:1].lower() + text[1:].replace(" ", "_")

CSV_OF = {"Payouts": "payouts.csv", "Allocations": "allocations.csv", "Exceptions": "exceptions.csv",
          "Disbursements": "disbursements.csv", "Aging": "aging.csv", "Metering": "metering.csv",
          "Rejected": "rejected.csv", "Insights": "insights.csv", "Payment timing": "payment_timing.csv",
          "Tax by jurisdiction": "tax.csv"}
# Sheets after the listings that are not listings.
CHARTS_SHEET = "Insight charts"
# The metering chart's sheet, beside Metering when an offer's metered and recorded usage differ.
METER_SHEET = "Metering by day"
# REPORT_DECIMAL columns: number cells with format "0.0".
DECIMALS = {"Insights": ["history_median", "history_mad", "max_score"],
            "Payment timing": ["mean_days", "median_days", "p90_days"]}
# The fixed bins of the payment timing histograms (docs/insights.md).
BINS = ["<0", "0-7", "8-14", "15-30", "31-45", "46-60", "61-90", ">90"]
DASH = "\u2014"
# Sheets whose money columns end in totals (report_listings[].sheet_totals).
TOTALS = ["Payouts", "Allocations", "Disbursements", "Aging", "Tax", "Charge groups"]
# Sheets whose totals have subtotals per status; the currency's total leaves FAILED out, and the
# rows of the failures themselves (status FAILURE, SPEC §8: one row per failure).
STATUS_TOTALS = {"Disbursements": "status"}
# SPEC §2 minor units; anything else shows up to 6 decimals.
MINOR = {"USD": 2, "EUR": 2, "GBP": 2, "AUD": 2, "INR": 2, "CAD": 2, "CHF": 2, "JPY": 0, "KWD": 3, "BHD": 3}
GUARD = ("=", "+", "-", "@", "\t", "\r")


def money_format(cur):
    if cur not in MINOR:
        return "#,##0.00####"
    m = MINOR[cur]
    return "#,##0" + ("." + "0" * m if m else "")


def price_format(cur):
    """Unit prices keep every digit: the currency's decimals, two at least, up to six."""
    lo = max(2, MINOR.get(cur, 2))
    return "#,##0." + "0" * lo + "#" * (6 - lo)


def shown(dec, cur):
    """The text a money format shows for an exact amount: grouping, the currency's decimals."""
    m = MINOR.get(cur, 2)
    q = dec.quantize(Decimal(1).scaleb(-m)) if m else dec.quantize(Decimal(1))
    return "{:,}".format(q)


def close(cell, dec):
    """A cell double against an exact decimal: the nearest double, give or take one ulp."""
    if not isinstance(cell, (int, float)) or isinstance(cell, bool):
        return False
    f = float(dec)
    return cell == f or abs(cell - f) <= math.ulp(f)


class Book:
    def __init__(self, path):
        self.path = path
        self.wb = openpyxl.load_workbook(path)                 # formulas as text
        self.cached = openpyxl.load_workbook(path, data_only=True)  # cached formula values
        self.zip = zipfile.ZipFile(path)

    def parts(self, base):
        """The worksheets of one listing: "Base", "Base (2)", ..."""
        names = [n for n in self.wb.sheetnames if n == base or re.fullmatch(re.escape(base) + r" \(\d+\)", n)]
        return sorted(names, key=lambda n: 1 if n == base else int(n.rsplit("(", 1)[1][:-1]))

    @staticmethod
    def labels(ws):
        return [c.value for c in ws[HEAD] if c.value is not None]

    @staticmethod
    def header(ws):
        """The contract's column names of a listing sheet (its words translated back)."""
        return [unlabel(v) for v in Book.labels(ws)]

    @staticmethod
    def data_rows(ws):
        """Row numbers of the data: from FIRST to the row before the first empty one."""
        r = FIRST
        while r <= ws.max_row and any(c.value is not None for c in ws[r]):
            r += 1
        return list(range(FIRST, r))

    @staticmethod
    def collapsed(ws):
        """A sheet of subtotals: its header ends in "Rows" (Exceptions: then "Status")."""
        labels = Book.labels(ws)
        return "Rows" in labels[-2:]

    def totals_rows(self, ws):
        rows = self.data_rows(ws)
        r = (rows[-1] if rows else HEAD) + 2
        out = []
        while r <= ws.max_row and any(c.value is not None for c in ws[r]):
            out.append(r)
            r += 1
        return out


class Checker:
    def __init__(self, name):
        self.name = name
        self.failed = 0

    def case(self, what, problems):
        if problems:
            self.failed += 1
            print("FAIL: %s: xlsx %s" % (self.name, what))
            for p in problems[:20]:
                print("  " + p)
            if len(problems) > 20:
                print("  ... %d more" % (len(problems) - 20))
        else:
            print("PASS: %s: xlsx %s" % (self.name, what))


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def check_sheets(book, args):
    p = []
    names = book.wb.sheetnames
    if not names or names[0] != "Summary":
        p.append("first sheet is %r, not Summary" % (names[:1],))
    order = ["Summary"]
    for s in SHEETS:
        order += book.parts(s)
    order.append(CHARTS_SHEET)
    if METER_SHEET in names:
        order.insert(order.index(book.parts("Metering")[-1]) + 1, METER_SHEET)
    if names != order:
        p.append("sheets %r, expected %r" % (names, order))
    for spec in args.parts or []:
        base, n = spec.split("=")
        got = book.parts(base)
        if len(got) != int(n):
            p.append("%s has %d worksheets %r, expected %s" % (base, len(got), got, n))
    if args.rows_max:
        p += check_parts(book, args.rows_max)
    if args.empty:
        for base in [s for s in SHEETS if s != "Rejected"]:  # rejected offer rows count for every period (SPEC §8)
            for n in book.parts(base):
                if book.data_rows(book.wb[n]) or book.totals_rows(book.wb[n]):
                    p.append("%s: rows in an empty period" % n)
    return p


def check_parts(book, rows_max):
    """With rows_max rows per worksheet (header included): full worksheets of rows_max - 1 data
    rows, then the rest, then the totals where they fit (else on one more worksheet)."""
    p = []
    per = rows_max - (FIRST - 1)
    continued = 0
    for base in SHEETS:
        parts = book.parts(base)
        if base in CSV_OF:
            n = len(read_csv("%s/%s" % (args_dir, CSV_OF[base]))[1])
        else:
            n = sum(len(book.data_rows(book.wb[x])) for x in parts)
        want = max(1, -(-n // per))
        if base in TOTALS and n > 0:
            keys = len({k[0] for k in exact_sums(book, base)})
            if base in STATUS_TOTALS:
                keys += len({k[:2] for k in status_sums(base)})
            if n - (want - 1) * per + FIRST + keys > rows_max:  # title, note, header, blank
                want += 1
        if len(parts) != want:
            p.append("%s: %d rows on %d worksheets %r, expected %d worksheets" % (base, n, len(parts), parts, want))
        counts = [len(book.data_rows(book.wb[x])) for x in parts]
        last_data = max([i for i, c in enumerate(counts) if c] or [0])
        for i, x in enumerate(parts):
            if (i < last_data and counts[i] != per) or (i > last_data and counts[i] != 0):
                p.append("%s: %d data rows" % (x, counts[i]))
            if i < len(parts) - 1 and book.totals_rows(book.wb[x]):
                p.append("%s: totals on a worksheet that is not the last" % x)
        continued += len(parts) > 1
    if continued == 0:
        p.append("no listing was continued on a second worksheet")
    return p


def check_layout(book, args):
    """Frozen header, autofilter over header + data, a width on every column."""
    p = []
    for base in SHEETS:
        for name in book.parts(base):
            ws = book.wb[name]
            head = book.header(ws)
            rows = book.data_rows(ws)
            if ws.freeze_panes != "A%d" % FIRST:
                p.append("%s: frozen panes %r, expected A%d" % (name, ws.freeze_panes, FIRST))
            last = openpyxl.utils.get_column_letter(len(head))
            want = "A%d:%s%d" % (HEAD, last, rows[-1] if rows else HEAD)
            if ws.auto_filter.ref != want:
                p.append("%s: autofilter %r, expected %r" % (name, ws.auto_filter.ref, want))
            for i, h in enumerate(head):
                letter = openpyxl.utils.get_column_letter(i + 1)
                dim = ws.column_dimensions.get(letter)
                width = dim.width if dim is not None else None
                if not width or width < len(label(h)):
                    p.append("%s: column %s (%s) width %r narrower than its header" % (name, letter, h, width))
                widest = max((len(str(ws.cell(r, i + 1).value)) for r in rows
                              if isinstance(ws.cell(r, i + 1).value, str)), default=0)
                if width and widest and width < min(widest, 60):
                    p.append("%s: column %s width %.1f < %d characters of text" % (name, letter, width, widest))
    return p


def check_money_formats(book, args):
    """Every amount has its row's currency format; the listed currencies occur."""
    p = []
    seen = set()
    for base in SHEETS:
        for name in book.parts(base):
            ws = book.wb[name]
            head = book.header(ws)
            if "currency" not in head:
                continue
            ci = head.index("currency") + 1
            # Disbursements: the paid amounts are in the paid currency (SPEC §4.5)
            pi = head.index("paid_currency") + 1 if "paid_currency" in head else None
            for r in book.data_rows(ws):
                for c in range(1, len(head) + 1):
                    cell = ws.cell(r, c)
                    if cell.data_type != "n" or cell.value is None or not cell.number_format.startswith("#,##0"):
                        continue
                    if head[c - 1] in ("quantity", "recorded_quantity", "lines", "days", "charge_groups", "rows"):
                        continue
                    cur = ws.cell(r, pi if pi and head[c - 1].startswith("paid_") else ci).value
                    seen.add(cur)
                    want = price_format(cur) if head[c - 1] == "unit_price" else money_format(cur)
                    if cell.number_format != want:
                        p.append("%s!%s: %s amount with format %r, expected %r"
                                 % (name, cell.coordinate, cur, cell.number_format, want))
    for cur in (args.currencies or "").split(","):
        if cur and cur not in seen:
            p.append("no %s amount found in any sheet" % cur)
    return p


def unguard(text):
    if len(text) >= 2 and text[0] == "'" and text[1] in GUARD:
        return text[1:]
    return text


# Sentences (detail, note) longer than this are cut on the sheet and end in "…"; the CSV keeps them.
SENTENCE_CHARS = 300
SENTENCES = ("detail", "note")


def cut(text, n=SENTENCE_CHARS):
    return text if len(text) <= n else text[:n - 1] + "\u2026"


def cell_equals(cell, text, sentence=False):
    """A sheet cell against its CSV field: same text (a sentence cut as the sheet cuts it), same
    number, same date."""
    v = cell.value
    if text == "":
        return v is None or v == ""
    if isinstance(v, str):
        want = cut(unguard(text)) if sentence else unguard(text)
        return cell.data_type == "s" and v == want
    if isinstance(v, datetime.datetime):
        return v.date().isoformat() == text
    if isinstance(v, (int, float)):
        try:
            return close(v, Decimal(text))
        except ArithmeticError:
            return False
    return False


def csv_columns(head):
    """The sheet columns (1-based) of a listing's CSV columns: the sheet-only name columns beside
    the account ids (report_xlsx.c xlsx_view_init) are skipped."""
    return [i + 1 for i, h in enumerate(head) if h not in NAME_COLS]


def check_csv_twins(book, args):
    """The sheet shows the CSV's rows, in order: text as text (no formula guard), amounts as the
    nearest double, dates as dates; continuation worksheets continue the rows."""
    p = []
    for base in COLLAPSE:
        parts = book.parts(base)
        if parts and book.collapsed(book.wb[parts[0]]):
            p += check_collapsed(book, base, args)
    for base, csv_name in CSV_OF.items():
        if book.parts(base) and book.collapsed(book.wb[book.parts(base)[0]]):
            continue
        head, rows = read_csv("%s/%s" % (args.dir, csv_name))
        got = []
        cols = None
        for name in book.parts(base):
            ws = book.wb[name]
            extra = ["Status"] if base == "Exceptions" else []  # sheet-only, after the CSV's columns
            labels = book.labels(ws)
            cols = csv_columns(book.header(ws))
            if [labels[i - 1] for i in cols] != [label(h) for h in head] + extra:
                p.append("%s: header %r, expected the words %r for %s %r" % (name, book.labels(ws),
                                                                            [label(h) for h in head], csv_name, head))
                break
            for i, h in enumerate(book.header(ws)):
                if h in NAME_COLS and not (i > 0 and book.header(ws)[i - 1].endswith("_account_id")):
                    p.append("%s: name column %r is not beside its account id" % (name, labels[i]))
            got += [(name, r) for r in book.data_rows(ws)]
        if len(got) != len(rows):
            p.append("%s: %d rows on the sheet, %d in %s" % (base, len(got), len(rows), csv_name))
            continue
        for (name, r), row in zip(got, rows):
            ws = book.wb[name]
            for c, text in enumerate(row):
                cell = ws.cell(r, cols[c])
                if not cell_equals(cell, text, head[c] in SENTENCES):
                    p.append("%s!%s: %r (%s) but %s has %r" % (name, cell.coordinate, cell.value,
                                                              cell.data_type, csv_name, text))
            if base == "Exceptions":
                code = row[head.index("code")]
                want = "info" if code in ("OFFER_EXPIRED", "BALANCE_ADJUSTMENT") else "open"
                st = ws.cell(r, len(book.header(ws))).value
                if st != want:
                    p.append("%s row %d: status %r for %s, expected %r" % (name, r, st, code, want))
    return p


def check_collapsed(book, base, args):
    """A sheet of subtotals: one row per value of the grouped columns, in their byte order, with
    the exact sums of the CSV's rows of that group, its rows in "Rows", every other column empty;
    the rows add up to the CSV's; the note and every page's footer say where the rows are."""
    p = []
    keys, int_sums = COLLAPSE[base]
    csv_name = CSV_OF.get(base)
    got = []
    for name in book.parts(base):
        ws = book.wb[name]
        head = book.header(ws)
        note = ws.cell(2, 1).value or ""
        m = re.match(r"([\d,]+) rows: ", note)
        if not m:
            p.append("%s: note %r does not say how many rows the subtotals stand for" % (name, note))
        elif csv_name and "see %s, which is complete" % csv_name not in note:
            p.append("%s: note %r does not name %s" % (name, note, csv_name))
        footer = ws.oddFooter.left.text or ""
        if not footer.startswith("Subtotals of "):
            p.append("%s: page footer %r does not say the rows are subtotals" % (name, footer))
        for r in book.data_rows(ws):
            got.append({h: ws.cell(r, i + 1).value for i, h in enumerate(head)})
    if not got:
        return p
    listed = int(m.group(1).replace(",", "")) if m else None
    if sum(g["rows"] for g in got) != listed:
        p.append("%s: the Rows add up to %d, the note says %r" % (base, sum(g["rows"] for g in got), listed))
    order = [tuple((g[k] is None, (g[k] or "").encode()) for k in keys) for g in got]
    if base in COLLAPSE_TOP:
        # per group of the keys: the top_n largest values by |rank_by|, then one row for the rest
        top, top_n, rank_by, others = COLLAPSE_TOP[base]
        if order != sorted(order):
            p.append("%s: subtotals not in byte order of %r" % (base, keys))
        groups = {}
        for o, g in zip(order, got):
            groups.setdefault(o, []).append(g)
        for o, gs in groups.items():
            named = [g for g in gs if not re.fullmatch(r"\d+ " + others, str(g[top]))]
            rest = [g for g in gs if g not in named]
            if len(rest) > 1 or (rest and gs[-1] is not rest[0]) or len(named) > top_n + (not rest):
                p.append("%s: group %r: %d listed, %d for the rest" % (base, o, len(named), len(rest)))
            ranks = [(-abs(Decimal(str(g.get(rank_by) or 0))), g[top] is None, (g[top] or "").encode()) for g in named]
            if ranks != sorted(ranks):
                p.append("%s: group %r not by |%s| descending" % (base, o, rank_by))
            if rest and int(str(rest[0][top]).split()[0]) < 2:
                p.append("%s: group %r: %r" % (base, o, rest[0][top]))
    elif order != sorted(order) or len(set(order)) != len(order):
        p.append("%s: subtotals not one per group in byte order of %r" % (base, keys))
    if csv_name is None:
        return p
    chead, crows = read_csv("%s/%s" % (args.dir, csv_name))
    if listed != len(crows):
        p.append("%s: %r rows in the note, %d in %s" % (base, listed, len(crows), csv_name))
    money = [h for h in chead if h not in keys and any(re.fullmatch(r"-?\d+(\.\d+)?", r[chead.index(h)] or "") for r in crows)
             and (h in int_sums or h not in ("line", "lines", "days", "quantity", "history_points", "history_days",
                                             "band_low", "band_high", "period_points", "observed_min", "observed_max",
                                             "anomalies"))]
    want = {}
    def key_of(r, h):
        v = unguard(r[chead.index(h)])
        return (COLLAPSE_FLAGS[h] if v else "") if h in COLLAPSE_FLAGS else v
    for r in crows:
        k = tuple(key_of(r, h) for h in keys)
        e = want.setdefault(k, {"rows": 0})
        e["rows"] += 1
        for h in money + [h for h in int_sums if h not in money]:
            if h in chead and r[chead.index(h)] != "":
                e[h] = e.get(h, Decimal(0)) + Decimal(r[chead.index(h)])
    seen = set()
    for g in got:
        k = tuple(g[h] if g[h] is not None else "" for h in keys)
        seen.add(k)
        if k not in want:
            p.append("%s: subtotal %r, no such rows in %s" % (base, k, csv_name))
            continue
        if g["rows"] != want[k]["rows"]:
            p.append("%s: subtotal %r stands for %r rows, %s has %d" % (base, k, g["rows"], csv_name, want[k]["rows"]))
        for h in chead:
            if h in keys:
                continue
            if h in want[k]:
                if not close(g.get(h), want[k][h]) and not (h in int_sums and g.get(h) == want[k][h]):
                    p.append("%s: subtotal %r %s %r, exact sum %s" % (base, k, h, g.get(h), want[k][h]))
            elif g.get(h) not in (None, 0):
                p.append("%s: subtotal %r has %s %r, which is no key and no sum" % (base, k, h, g.get(h)))
        if base == "Exceptions":
            code = g["code"]
            if g.get("status") != ("info" if code in ("OFFER_EXPIRED", "BALANCE_ADJUSTMENT") else "open"):
                p.append("%s: subtotal %r status %r" % (base, k, g.get("status")))
    if seen != set(want):
        p.append("%s: groups of %s without a subtotal: %r" % (base, csv_name, sorted(set(want) - seen)[:5]))
    return p


def read_names(path):
    """id (12-digit number and account_id) -> tax_legal_name of an account feed file (the latest
    valid_from of each account wins; deleted rows are left out)."""
    head, rows = read_csv(path)
    h = {n: i for i, n in enumerate(head)}
    best = {}
    for row in rows:
        key = row[h["account_id"]]
        if row[h["delete_date"]]:
            best.pop(key, None)
            continue
        if key not in best or row[h["valid_from"]] >= best[key][0]:
            best[key] = (row[h["valid_from"]], row)
    out = {}
    for key, (_, row) in best.items():
        name = row[h["tax_legal_name"]]
        if not name:
            continue
        out[key] = name
        if row[h["aws_account_id"]]:
            out[row[h["aws_account_id"]].zfill(12)] = name
    return out


def check_names(book, args):
    """With --names FEED: every name column holds the feed's legal name of the account id beside
    it (empty where the feed does not know the account), names show on the sheets that name
    parties, and the Summary's party lines read "Name (id)". Without it: no name column."""
    p = []
    names = read_names(args.names) if args.names else {}
    shown = set()
    for base in SHEETS:
        for n in book.parts(base):
            ws = book.wb[n]
            head = book.header(ws)
            for i, h in enumerate(head):
                if h not in NAME_COLS:
                    continue
                if not names:
                    p.append("%s: a name column %r without an account feed" % (n, h))
                    break
                for r in book.data_rows(ws):
                    ident = ws.cell(r, i).value
                    want = names.get(ident)
                    got = ws.cell(r, i + 1).value
                    if got != want:
                        p.append("%s!%s: name %r for %r, the feed says %r" % (n, ws.cell(r, i + 1).coordinate, got,
                                                                             ident, want))
                    if got:
                        shown.add(base)
    if names:
        for base in ("Payouts", "Allocations", "Charge groups"):
            if any(book.data_rows(book.wb[x]) for x in book.parts(base)) and base not in shown:
                p.append("%s: no account name shown" % base)
        ws = book.wb["Summary"]
        labels = [c.value for row in ws.iter_rows() for c in row
                  if isinstance(c.value, str) and re.fullmatch(r".+ \(\d{12}\)", c.value)]
        if not labels:
            p.append("Summary: no party line reads \"Name (id)\"")
        for v in labels:
            name, ident = v[:-15], v[-13:-1]
            if names.get(ident) != name:
                p.append("Summary: party %r, the feed names %s %r" % (v, ident, names.get(ident)))
    return p


def exact_sums(book, base):
    """Σ per currency and money column of a listing, exactly, from the cells' CSV twin."""
    sums = {}
    csv_name = CSV_OF.get(base)
    if csv_name is None:
        # Tax has no CSV: the cells themselves (the nearest doubles) are summed as decimals.
        for name in book.parts(base):
            ws = book.wb[name]
            head = book.header(ws)
            ci = head.index("currency")
            for r in book.data_rows(ws):
                cur = ws.cell(r, ci + 1).value
                for c, h in enumerate(head):
                    v = ws.cell(r, c + 1).value
                    if isinstance(v, (int, float)) and ws.cell(r, c + 1).number_format.startswith("#,##0"):
                        sums[(cur, h)] = sums.get((cur, h), Decimal(0)) + Decimal(repr(v))
        return sums
    head, rows = read_csv("%s/%s" % (args_dir, csv_name))
    ci = head.index("currency") if "currency" in head else None
    for row in rows:
        cur = row[ci] if ci is not None and row[ci] != "" else None
        for c, h in enumerate(head):
            if re.fullmatch(r"-?\d+(\.\d+)?", row[c] or "") and h not in ("line", "lines", "days", "quantity"):
                sums[(cur, h)] = sums.get((cur, h), Decimal(0)) + Decimal(row[c])
    return sums


def currency_order(book):
    """The order the workbook lists currencies in (docs/workbook.md "Currencies"): by the number
    of the period's charge groups, most first (a sheet of subtotals: the sum of its Rows), then
    by code in byte order; a currency without charge groups after them, by code."""
    counts = {}
    for name in book.parts("Charge groups"):
        ws = book.wb[name]
        head = book.header(ws)
        ci = head.index("currency") + 1
        ri = head.index("rows") + 1 if "rows" in head else None
        for r in book.data_rows(ws):
            cur = ws.cell(r, ci).value
            counts[cur] = counts.get(cur, 0) + (ws.cell(r, ri).value if ri else 1)
    return lambda cur: (0, -counts[cur], cur.encode()) if cur in counts else (1, 0, (cur or "").encode())


def check_quantities_and_sentences(book, args):
    """Quantities (Metering) are grouped and show exactly the decimals metering.csv has; a long
    sentence (detail, note) wraps in its column, within the widest column, cut with "…"."""
    p = []
    for name in book.parts("Metering"):
        ws = book.wb[name]
        head = book.header(ws)
        hc, rows = read_csv("%s/metering.csv" % args.dir)
        for r, row in zip(book.data_rows(ws), rows):
            for h in ("quantity", "recorded_quantity"):
                if h not in head or row[hc.index(h)] == "":
                    continue
                text = row[hc.index(h)]
                k = len(text.split(".")[1]) if "." in text else 0
                want = "#,##0" + ("." + "0" * k if k else "")
                cell = ws.cell(r, head.index(h) + 1)
                if cell.number_format != want or not close(cell.value, Decimal(text)):
                    p.append("%s!%s: %s %r in %r, expected %s in %r" % (name, cell.coordinate, h, cell.value,
                                                                     cell.number_format, text, want))
    for base in ("Exceptions", "Rejected", "Insights"):
        for name in book.parts(base):
            ws = book.wb[name]
            head = book.header(ws)
            for h in SENTENCES:
                if h not in head:
                    continue
                c = head.index(h) + 1
                letter = openpyxl.utils.get_column_letter(c)
                width = ws.column_dimensions[letter].width
                if width is not None and width > 63:
                    p.append("%s: column %s (%s) is %s wide" % (name, letter, h, width))
                for r in book.data_rows(ws):
                    cell = ws.cell(r, c)
                    if cell.value is None:
                        continue
                    if not cell.alignment.wrap_text:
                        p.append("%s!%s: a %s that does not wrap" % (name, cell.coordinate, h))
                    if len(cell.value) > SENTENCE_CHARS:
                        p.append("%s!%s: a %s of %d characters" % (name, cell.coordinate, h, len(cell.value)))
    return p


def check_currency_order(book, args):
    """Every place that lists currencies lists them in one order: the Summary's bridges (and so
    their charts), its totals by currency and control totals, every sheet's totals rows."""
    p = []
    key = currency_order(book)
    ws = book.wb["Summary"]
    bridges = [m.group(1) for r in range(1, ws.max_row + 1)
               for m in [re.fullmatch(r"(\S+): from billed to banked", str(ws.cell(r, 1).value or ""))] if m]
    if bridges != sorted(bridges, key=key):
        p.append("Summary: bridges in the order %r, expected %r" % (bridges, sorted(bridges, key=key)))
    _, _, rows = summary_block(ws, "Currency")
    listed = [ws.cell(r, 1).value for r in rows if ws.cell(r, 1).value != DASH]
    if listed != sorted(listed, key=key):
        p.append("Summary: totals by currency in the order %r, expected %r" % (listed, sorted(listed, key=key)))
    for base in TOTALS:
        parts = book.parts(base)
        if not parts:
            continue
        tws = book.wb[parts[-1]]
        head = book.header(tws)
        if "currency" not in head:
            continue
        ci = head.index("currency") + 1
        curs = []
        for r in book.totals_rows(tws):
            c = tws.cell(r, ci).value
            if c is not None and (not curs or curs[-1] != c):
                curs.append(c)
        if curs != sorted(curs, key=key):
            p.append("%s: totals in the order %r, expected %r" % (parts[-1], curs, sorted(curs, key=key)))
    return p


def check_totals(book, args):
    """Totals rows: live SUM/SUMIFS over this listing's worksheets, cached value = the exact sum."""
    p = []
    for base in TOTALS:
        parts = book.parts(base)
        if not parts:
            continue
        last = parts[-1]
        ws = book.wb[last]
        wc = book.cached[last]
        head = book.header(ws)
        if not any(book.data_rows(book.wb[n]) for n in parts):
            continue
        rows = book.totals_rows(ws)
        if not rows:
            p.append("%s: no totals rows" % last)
            continue
        sums = exact_sums(book, base)
        subs = status_sums(base) if base in STATUS_TOTALS else {}
        si = head.index(STATUS_TOTALS[base]) + 1 if base in STATUS_TOTALS else None
        ci = head.index("currency") + 1
        currencies = sorted({k[0] for k in sums if k[0] is not None}, key=currency_order(book))
        total_rows = [r for r in rows if not str(ws.cell(r, 1).value).startswith("Subtotal")]
        sub_rows = [r for r in rows if str(ws.cell(r, 1).value).startswith("Subtotal")]
        if [ws.cell(r, ci).value for r in total_rows] != currencies + ([None] if any(k[0] is None for k in sums) else []):
            p.append("%s: totals for %r, expected %r" % (last, [ws.cell(r, ci).value for r in total_rows], currencies))
        want_subs = sorted({(k[0], k[1]) for k in subs})
        if sorted((ws.cell(r, ci).value, ws.cell(r, si).value) for r in sub_rows) != want_subs:
            p.append("%s: subtotals for %r, expected %r" % (last, [(ws.cell(r, ci).value, ws.cell(r, si).value)
                                                                 for r in sub_rows], want_subs))
        for r in rows:
            cur = ws.cell(r, ci).value
            sub = ws.cell(r, si).value if r in sub_rows else None
            label_ = [c.value for c in ws[r] if isinstance(c.value, str) and c.value.startswith(("Total", "Subtotal"))]
            if not label_:
                p.append("%s row %d: no \"Total\" label" % (last, r))
            for c, h in enumerate(head):
                cell = ws.cell(r, c + 1)
                if not (isinstance(cell.value, str) and cell.value.startswith("=")):
                    continue
                f = cell.value
                if not re.match(r"=(SUM|SUMIFS)\(", f):
                    p.append("%s!%s: total %r is not SUM/SUMIFS" % (last, cell.coordinate, f))
                for part in parts:
                    if book.data_rows(book.wb[part]) and ("'%s'!" % part) not in f:
                        p.append("%s!%s: total %r does not cover worksheet %s" % (last, cell.coordinate, f, part))
                if h == "rows":  # a sheet of subtotals: the rows they stand for
                    want = Decimal(sum(wc.cell(q, c + 1).value for n in parts for q in book.data_rows(book.wb[n])
                                       if book.wb[n].cell(q, ci).value == cur and
                                       (sub is None or book.wb[n].cell(q, si).value == sub)))
                    if CSV_OF.get(base):
                        chead, crows = read_csv("%s/%s" % (args.dir, CSV_OF[base]))
                        want2 = sum(1 for x in crows if (x[chead.index("currency")] or None) == cur and
                                    (sub is None or x[chead.index(STATUS_TOTALS[base])] == sub))
                        if want != want2:
                            p.append("%s!%s: the Rows of %s add up to %s, %s has %d" % (last, cell.coordinate, cur, want,
                                                                                 CSV_OF[base], want2))
                    if wc.cell(r, c + 1).value != want or cell.number_format != "#,##0":
                        p.append("%s!%s: rows total %r (%s), expected %s" % (last, cell.coordinate, wc.cell(r, c + 1).value,
                                                                              cell.number_format, want))
                    continue
                if sub is not None:
                    want = subs.get((cur, sub, h), Decimal(0))
                else:
                    # a failed payout was not paid: the currency's total leaves it out (SPEC §4.5)
                    want = sums.get((cur, h), Decimal(0)) - (subs.get((cur, "FAILED", h), Decimal(0))
                                                             + subs.get((cur, "FAILURE", h), Decimal(0)) if subs else 0)
                got = wc.cell(r, c + 1).value
                if not close(got, want):
                    p.append("%s!%s: cached total %r, exact sum %s" % (last, cell.coordinate, got, want))
                if cell.number_format != money_format(cur):
                    p.append("%s!%s: total format %r" % (last, cell.coordinate, cell.number_format))
                # the bold total fits its column (no ###): its digits, grouping, sign, decimals
                dim = ws.column_dimensions.get(openpyxl.utils.get_column_letter(c + 1))
                width = dim.width if dim is not None else 8.43
                if width < len(shown(want, cur)) + 1:
                    p.append("%s!%s: total %s does not fit width %.1f" % (last, cell.coordinate, shown(want, cur), width))
    return p


def status_sums(base):
    """Σ per (currency, status, money column) of a listing with subtotals by status, from its CSV."""
    head, rows = read_csv("%s/%s" % (args_dir, CSV_OF[base]))
    ci, si = head.index("currency"), head.index(STATUS_TOTALS[base])
    out = {}
    for row in rows:
        for c, h in enumerate(head):
            if re.fullmatch(r"-?\d+(\.\d+)?", row[c] or "") and h not in ("line", "lines", "days", "quantity"):
                k = (row[ci] or None, row[si], h)
                out[k] = out.get(k, Decimal(0)) + Decimal(row[c])
    return out


def check_no_text_formulas(book, args):
    """No cell of a listing's data rows is a formula; the injected text is a plain string cell."""
    p = []
    found = False
    for name in book.wb.sheetnames:
        ws = book.wb[name]
        data = set(book.data_rows(ws)) if name != "Summary" else set()
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    if cell.row in data:
                        p.append("%s!%s: a data cell is a formula: %r" % (name, cell.coordinate, cell.value))
                    if "HYPERLINK" in str(cell.value).upper():
                        p.append("%s!%s: formula %r" % (name, cell.coordinate, cell.value))
                elif args.text and cell.value == args.text and cell.data_type == "s":
                    found = True
    if args.text and not found:
        p.append("no string cell holds %r" % args.text)
    for info in book.zip.infolist():
        if info.filename.startswith("xl/worksheets/sheet"):
            xml = book.zip.read(info).decode("utf-8")
            for f in re.findall(r"<f>(.*?)</f>", xml):
                if "HYPERLINK" in f.upper():
                    p.append("%s: <f>%s</f>" % (info.filename, f))
    return p


def summary_block(ws, first_header):
    """(header row number, [header...], [row numbers]) of the Summary table whose first header
    cell is first_header."""
    for r in range(1, ws.max_row + 1):
        if ws.cell(r, 1).value == first_header:
            head = []
            c = 1
            while ws.cell(r, c).value is not None:
                head.append(ws.cell(r, c).value)
                c += 1
            rows = []
            q = r + 1
            while q <= ws.max_row and any(ws.cell(q, k).value is not None for k in range(1, len(head) + 1)):
                if any(ws.cell(q, k).value is not None for k in range(2, len(head) + 1)):
                    rows.append(q)  # not a note such as "nothing in this period"
                q += 1
            return r, head, rows
    return None, [], []


def check_summary(book, args):
    """Every check cell is OK; the totals by currency equal the exact sums of the sheets' CSVs."""
    p = []
    ws = book.wb["Summary"]
    wc = book.cached["Summary"]
    checks = 0
    for row in ws.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and cell.value.startswith("=IF(") and '"OK"' in cell.value:
                checks += 1
                v = wc[cell.coordinate].value
                # a tie-out says OK; a bridge check says OK or shows the difference (a number)
                # "OWN FEED": allocations beside statements differ by SPEC §4.4's own-feed rule
                if v != "OK" and v != "OWN FEED" and ('"CHECK"' in cell.value or not isinstance(v, (int, float))):
                    p.append("Summary!%s: %r is %r" % (cell.coordinate, cell.value, v))
    if checks == 0 and not args.empty:
        p.append("no check cells on the Summary")
    links = {"allocations_net": ("Allocations", "net"), "payouts_net": ("Payouts", "net"),
             "net_payable": ("Payouts", "net_payable"), "rounding": ("Payouts", "rounding"),
             "payout_amount": ("Disbursements", "amount")}
    _, head, rows = summary_block(ws, "Currency")
    head = [unlabel(h) for h in head]
    if not rows and not args.empty:
        p.append("no \"Totals by currency\" table")
    sums = {base: exact_sums(book, base) for base in set(v[0] for v in links.values())}
    # Exceptions without a currency (USAGE_ANOMALY, ...) are counted on a last row labelled "—".
    eh, erows = read_csv("%s/exceptions.csv" % args.dir)
    no_cur = sum(1 for r in erows if r[eh.index("currency")] == "")
    dash = [r for r in rows if ws.cell(r, 1).value == DASH]
    if no_cur and "exceptions" in head:
        c = head.index("exceptions") + 1
        if len(dash) != 1 or dash[0] != rows[-1] or wc.cell(dash[0], c).value != no_cur:
            p.append("Summary: %d exceptions without currency, rows %r labelled %r" % (no_cur, dash, DASH))
    elif dash:
        p.append("Summary: a row labelled %r without exceptions lacking a currency" % DASH)
    for r in rows:
        cur = ws.cell(r, 1).value
        for k, (base, col) in links.items():
            if k not in head:
                p.append("Summary: no column %s" % k)
                continue
            c = head.index(k) + 1
            f = ws.cell(r, c).value
            if not (isinstance(f, str) and f.startswith("=") and ("'%s'!" % base) in f or f == "=0"):
                p.append("Summary!%s: %s %r is not a formula over %s" % (ws.cell(r, c).coordinate, k, f, base))
            want = sums[base].get((cur, col), Decimal(0))
            if k == "payout_amount":  # failed payouts were not paid (SPEC §4.5)
                want -= status_sums("Disbursements").get((cur, "FAILED", col), Decimal(0))
                want -= status_sums("Disbursements").get((cur, "FAILURE", col), Decimal(0))
            if not close(wc.cell(r, c).value, want):
                p.append("Summary!%s: %s %s cached %r, exact %s" % (ws.cell(r, c).coordinate, k, cur,
                                                                   wc.cell(r, c).value, want))
    return p


def chart_parts(book):
    """{chart part name: (bar direction or "line" or None, title text, [series refs])}"""
    out = {}
    for n in sorted(x for x in book.zip.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", x)):
        xml = book.zip.read(n).decode("utf-8")
        m = re.search(r'<c:barDir val="(\w+)"/>', xml)
        kind = m.group(1) if m else ("line" if "<c:lineChart>" in xml else None)
        t = re.search(r"<c:title>.*?<a:t>(.*?)</a:t>", xml, re.S)
        title = t.group(1) if t else None
        if title:
            title = title.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
        out[n] = (kind, title, re.findall(r"<c:f>(.*?)</c:f>", xml))
    return out


def check_charts(book, args):
    """A bar chart (payouts by party, when there are payouts) and a column chart (aging), drawn
    from the Summary; the insight charts from their own sheet."""
    p = []
    charts = chart_parts(book)
    summary_dirs = []
    insight_ref = "'%s'!" % CHARTS_SHEET
    for n, (kind, title, refs) in charts.items():
        on_summary = all(r.startswith("Summary!") for r in refs)
        on_insights = all(r.startswith(insight_ref) for r in refs)
        if on_summary:
            summary_dirs.append(kind)
        elif not on_insights and not all(r.startswith("'%s'!" % METER_SHEET) for r in refs):
            p.append("%s (%s): series from %r, neither the Summary nor %s" % (n, title, refs, CHARTS_SHEET))
    payouts = any(book.data_rows(book.wb[x]) for x in book.parts("Payouts"))
    if payouts and "bar" not in summary_dirs:
        p.append("no bar chart (payouts by party) among %r" % sorted(charts))
    if not payouts and "bar" in summary_dirs:
        p.append("a payout chart without payouts")
    aging = any(book.data_rows(book.wb[x]) for x in book.parts("Aging"))
    if aging and "col" not in summary_dirs:
        p.append("no column chart (aging buckets) among %r" % sorted(charts))
    if (payouts or aging) and not book.wb["Summary"]._charts:
        p.append("the Summary has no charts")
    # one payout chart per currency of the payouts, titled with it (issue 16: not only the first four)
    titles = [t for (k, t, refs) in charts.values() if t]
    pcur = set()
    for name in book.parts("Payouts"):
        ws = book.wb[name]
        ci = book.header(ws).index("currency") + 1
        pcur |= {ws.cell(r, ci).value for r in book.data_rows(ws)}
    for cur in sorted(x for x in pcur if x):
        if not any(t.startswith("Net payable by party, %s " % cur) for t in titles):
            p.append("no payout chart for %s among %r" % (cur, titles))
    return p


def mismatched_offers(args):
    """Offers of metering.csv with a dimension whose recorded quantity differs from the metered."""
    head, rows = read_csv("%s/metering.csv" % args.dir)
    h = {n: i for i, n in enumerate(head)}
    return sorted({r[h["offer_id"]] for r in rows
                   if r[h["recorded_quantity"]] != "" and Decimal(r[h["recorded_quantity"]]) != Decimal(r[h["quantity"]])})


def check_meter_days(book, args):
    """Metering by day (issue 14): beside Metering exactly when an offer's metered and recorded
    usage differ; per such offer a block of every day of the period (Day, Metered, Recorded,
    Billed, in the currency's format) whose line chart draws its three columns; the metered and
    recorded days add up to the offer's metering.csv rows at their unit prices."""
    p = []
    offers = mismatched_offers(args)
    names = book.wb.sheetnames
    if not offers:
        if METER_SHEET in names:
            p.append("%s without a mismatched offer" % METER_SHEET)
        return p
    if METER_SHEET not in names:
        return ["no %s sheet for %r" % (METER_SHEET, offers)]
    if names[names.index(METER_SHEET) - 1] != book.parts("Metering")[-1]:
        p.append("%s is not beside Metering: %r" % (METER_SHEET, names))
    ws = book.wb[METER_SHEET]
    head, rows = read_csv("%s/metering.csv" % args.dir)
    h = {n: i for i, n in enumerate(head)}
    charts = {t: refs for (k, t, refs) in chart_parts(book).values() if t and t.startswith("Offer ")}
    period = args.period if hasattr(args, "period") and args.period else None
    for offer in offers:
        r0 = next((r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value and
                   re.fullmatch(r"Offer %s( \(\w+\))?" % re.escape(offer), str(ws.cell(r, 1).value))), None)
        if r0 is None:
            p.append("%s: no block for offer %s" % (METER_SHEET, offer))
            continue
        hr = r0 + 2
        if [ws.cell(hr, c).value for c in range(1, 5)] != ["Day", "Metered", "Recorded", "Billed"]:
            p.append("%s row %d: header %r" % (METER_SHEET, hr, [ws.cell(hr, c).value for c in range(1, 5)]))
            continue
        days = []
        q = hr + 1
        while q <= ws.max_row and ws.cell(q, 1).value is not None:
            days.append(q)
            q += 1
        mine = [r for r in rows if r[h["offer_id"]] == offer]
        cur = mine[0][h["currency"]]
        month = mine[0][h["usage_month"]]
        y, m = int(month[:4]), int(month[5:])
        n_days = (datetime.date(y + m // 12, m % 12 + 1, 1) - datetime.date(y, m, 1)).days
        if [ws.cell(r, 1).value for r in days] != [(datetime.date(y, m, 1) + datetime.timedelta(d)).isoformat()
                                                   for d in range(n_days)]:
            p.append("%s: offer %s lists days %r" % (METER_SHEET, offer, [ws.cell(r, 1).value for r in days][:3]))
        for r in days:
            for c in (2, 3, 4):
                if ws.cell(r, c).number_format != money_format(cur):
                    p.append("%s!%s: format %r" % (METER_SHEET, ws.cell(r, c).coordinate, ws.cell(r, c).number_format))
        priced = [r for r in mine if r[h["unit_price"]] != ""]
        want_m = sum(Decimal(r[h["quantity"]]) * Decimal(r[h["unit_price"]]) for r in priced)
        want_r = sum(Decimal(r[h["recorded_quantity"]] or 0) * Decimal(r[h["unit_price"]]) for r in priced)
        got_m = sum(Decimal(repr(ws.cell(r, 2).value)) for r in days)
        got_r = sum(Decimal(repr(ws.cell(r, 3).value)) for r in days)
        got_b = sum(Decimal(repr(ws.cell(r, 4).value)) for r in days)
        if abs(got_m - want_m) > Decimal("0.000001") * len(days) or abs(got_r - want_r) > Decimal("0.000001") * len(days):
            p.append("%s: offer %s days add up to metered %s, recorded %s; metering.csv at its prices %s, %s"
                     % (METER_SHEET, offer, got_m, got_r, want_m, want_r))
        if abs(got_b - Decimal(mine[0][h["billed"]])) > Decimal("0.000001") * len(days):
            p.append("%s: offer %s billed days add up to %s, metering.csv %s" % (METER_SHEET, offer, got_b,
                                                                              mine[0][h["billed"]]))
        title = next((t for t in charts if t.startswith("Offer %s:" % offer)), None)
        if title is None:
            p.append("%s: no chart for offer %s among %r" % (METER_SHEET, offer, sorted(charts)))
            continue
        want_refs = ["'%s'!$%s$%d:$%s$%d" % (METER_SHEET, col, days[0], col, days[-1]) for col in "ABCD"]
        for ref in want_refs[1:]:
            if ref not in charts[title]:
                p.append("%s: chart %r does not draw %s (it draws %r)" % (METER_SHEET, title, ref, charts[title]))
        if want_refs[0] not in charts[title]:
            p.append("%s: chart %r has not the days %s as categories" % (METER_SHEET, title, want_refs[0]))
    return p


def block_at(ws, first_header, col=1):
    """(row of the header cell first_header in column col, its data rows until a blank cell)."""
    for r in range(1, ws.max_row + 1):
        if ws.cell(r, col).value == first_header:
            rows = []
            q = r + 1
            while q <= ws.max_row and ws.cell(q, col).value is not None:
                rows.append(q)
                q += 1
            return r, rows
    return None, []


def check_insights(book, args):
    """Issue 6: decimals on the insight sheets, the Insight charts sheet (histograms and the usage
    of the most anomalous series, with their charts) and the Summary's insight figures, all
    against the set's insights.csv, payment_timing.csv and exceptions.csv."""
    p = []
    for base, cols in DECIMALS.items():
        for name in book.parts(base):
            ws = book.wb[name]
            head = book.header(ws)
            for h in cols:
                c = head.index(h) + 1
                for r in book.data_rows(ws):
                    cell = ws.cell(r, c)
                    if cell.value is not None and (cell.data_type != "n" or cell.number_format != "0.0"):
                        p.append("%s!%s: %s %r (%s) with format %r, expected a number in 0.0"
                                 % (name, cell.coordinate, h, cell.value, cell.data_type, cell.number_format))
    ih, irows = read_csv("%s/insights.csv" % args.dir)
    th, trows = read_csv("%s/payment_timing.csv" % args.dir)
    eh, erows = read_csv("%s/exceptions.csv" % args.dir)
    ins = [dict(zip(ih, r)) for r in irows]
    tim = [dict(zip(th, r)) for r in trows]
    samples = {m: sum(int(t["samples"]) for t in tim if t["measure"] == m)
               for m in ("invoice_to_payout", "invoice_to_collection")}
    usage_anomalies = sum(1 for r in erows if r[eh.index("code")] == "USAGE_ANOMALY")

    if CHARTS_SHEET not in book.wb.sheetnames:
        return p + ["no sheet %s" % CHARTS_SHEET]
    ws = book.wb[CHARTS_SHEET]
    charts = chart_parts(book)
    r0, rows = block_at(ws, "Days")
    if r0 is None:
        p.append("%s: no histogram block (header Days)" % CHARTS_SHEET)
    else:
        if [ws.cell(r0, c).value for c in (1, 2, 3)] != ["Days", "Payouts", "Collections"]:
            p.append("%s: histogram header %r" % (CHARTS_SHEET, [ws.cell(r0, c).value for c in (1, 2, 3)]))
        if [ws.cell(r, 1).value for r in rows] != BINS:
            p.append("%s: bins %r, expected %r" % (CHARTS_SHEET, [ws.cell(r, 1).value for r in rows], BINS))
        for k, (col, measure, word) in enumerate(((2, "invoice_to_payout", "payout"),
                                                   (3, "invoice_to_collection", "collection"))):
            vals = [ws.cell(r, col).value for r in rows]
            want = getattr(args, "hist_" + word)
            if want is not None and vals != [int(x) for x in want.split(",")]:
                p.append("%s: %s histogram %r, expected %s" % (CHARTS_SHEET, word, vals, want))
            if sum(v or 0 for v in vals) != samples[measure]:
                p.append("%s: %s histogram adds up to %r, payment_timing.csv has %d samples"
                         % (CHARTS_SHEET, word, sum(v or 0 for v in vals), samples[measure]))
            title = "Days from invoice to %s" % word
            letter = "ABC"[col - 1]
            want_ref = "'%s'!$%s$%d:$%s$%d" % (CHARTS_SHEET, letter, rows[0], letter, rows[-1]) if rows else None
            hit = [n for n, (kind, t, refs) in charts.items() if t == title]
            if len(hit) != 1:
                p.append("%d charts titled %r" % (len(hit), title))
            elif charts[hit[0]][0] != "col" or want_ref not in charts[hit[0]][2]:
                p.append("chart %r: %r, expected a column chart of %s" % (title, charts[hit[0]], want_ref))
    # The usage chart: the ANOMALY series with the highest max_score (the first on a tie).
    top = None
    # Only the metering log's series have hourly points; the marketplace's recorded series
    # (source "recorded") is scored on daily totals and has no usage chart.
    for s in ins:
        if s.get("source", "metering") == "recorded":
            continue
        if s["status"] == "ANOMALY" and (top is None or Decimal(s["max_score"]) > Decimal(top["max_score"])):
            top = s
    line = [(n, t, refs) for n, (kind, t, refs) in charts.items()
            if kind == "line" and all(r.startswith("'%s'!" % CHARTS_SHEET) for r in refs)]
    r0, rows = block_at(ws, "Hour (UTC)")
    if top is None:
        if line or r0 is not None:
            p.append("a usage chart without an anomalous series: %r" % line)
    else:
        label = "%s:%s:%s" % (top["customer_aws_account_id"], top["product_code"], top["dimension"])
        title = "Usage of %s with its expected band" % label
        if r0 is None or ws.cell(r0 - 1, 1).value != "Series" or ws.cell(r0 - 1, 2).value != label:
            p.append("%s: no usage block for series %r" % (CHARTS_SHEET, label))
        else:
            if [ws.cell(r0, c).value for c in range(1, 7)] != ["Hour (UTC)", "Quantity", "Band low", "Band high",
                                                                "Anomaly", "Score"]:
                p.append("%s: usage header %r" % (CHARTS_SHEET, [ws.cell(r0, c).value for c in range(1, 7)]))
            if len(rows) != int(top["period_points"]):
                p.append("%s: %d hours, insights.csv has %s points" % (CHARTS_SHEET, len(rows), top["period_points"]))
            marks = [ws.cell(r, 5).value for r in rows if ws.cell(r, 5).value is not None]
            if len(marks) < int(top["anomalies"]):  # an incident has one or more anomalous points
                p.append("%s: %d anomalous hours, insights.csv has %s incidents" % (CHARTS_SHEET, len(marks), top["anomalies"]))
            qs = [ws.cell(r, 2).value for r in rows]
            if rows and (min(qs) != int(top["observed_min"]) or max(qs) != int(top["observed_max"])):
                p.append("%s: quantities %r..%r, insights.csv %s..%s" % (CHARTS_SHEET, min(qs), max(qs),
                                                                           top["observed_min"], top["observed_max"]))
            bands = [(ws.cell(r, 3).value, ws.cell(r, 4).value) for r in rows]  # by hour of the week (SPEC §4.9)
            if rows and (min(b[0] for b in bands), max(b[1] for b in bands)) != (int(top["band_low"]), int(top["band_high"])):
                p.append("%s: bands %r, insights.csv %s..%s" % (CHARTS_SHEET, bands, top["band_low"], top["band_high"]))
            hours = [ws.cell(r, 1).value for r in rows]
            if hours != sorted(hours) or not all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:00Z", h or "") for h in hours):
                p.append("%s: hours not in order or not UTC hours: %r" % (CHARTS_SHEET, hours[:3]))
        if len(line) != 1 or line[0][1] != title:
            p.append("line charts %r, expected one titled %r" % ([(n, t) for n, t, _ in line], title))
        elif rows:
            for letter in "BCDE":
                ref = "'%s'!$%s$%d:$%s$%d" % (CHARTS_SHEET, letter, rows[0], letter, rows[-1])
                if ref not in line[0][2]:
                    p.append("usage chart: no series %s" % ref)
    # The Summary's insight figures.
    ws, wc = book.wb["Summary"], book.cached["Summary"]
    r0, rows = block_at(ws, "Insight")
    got = {ws.cell(r, 1).value: (ws.cell(r, 2), wc.cell(r, 2).value) for r in rows}
    # "scored" is scored on the series' own history: a recorded series without that history can
    # still be ANOMALY by its comparison with the metering log (docs/insights.md), and says
    # "not scored" in its note.
    def unscored(s):
        return s["status"] == "NOT_ENOUGH_HISTORY" or (s.get("source") == "recorded" and "not scored" in s["note"])
    want = {"usage series": len(ins), "scored": sum(1 for s in ins if not unscored(s)),
            "not enough history": sum(1 for s in ins if unscored(s)),
            "anomalous series": sum(1 for s in ins if s["status"] == "ANOMALY"),
            "usage anomalies": usage_anomalies, "payouts timed": samples["invoice_to_payout"],
            "collections timed": samples["invoice_to_collection"]}
    for k, v in want.items():
        if k not in got or got[k][1] != v:
            p.append("Summary: insight %r is %r, expected %r" % (k, got.get(k, (None, None))[1], v))
    for k, sheet in (("anomalous series", "Insights"), ("usage anomalies", "Exceptions")):
        f = got.get(k, (None, None))[0]
        if f is not None and not (f.data_type == "f" and (("'%s'!" % sheet) in f.value or f.value == "=0")):
            p.append("Summary: insight %r is %r, not a COUNTIFS over %s" % (k, f.value, sheet))
    for k, n, arg in (("median days to payout", samples["invoice_to_payout"], args.median_payout),
                      ("median days to collection", samples["invoice_to_collection"], args.median_collection)):
        cell, v = got.get(k, (None, None))
        if cell is None:
            p.append("Summary: no insight %r" % k)
        elif n == 0 and v != DASH:
            p.append("Summary: %s is %r without samples, expected %r" % (k, v, DASH))
        elif n > 0 and (cell.data_type != "n" or cell.number_format != "0.0"):
            p.append("Summary: %s %r (%s, %r) is not a number in 0.0" % (k, v, cell.data_type, cell.number_format))
        elif arg is not None and not close(v, Decimal(arg)):
            p.append("Summary: %s is %r, expected %s" % (k, v, arg))
    return p


def check_properties(book, args):
    """created = modified = the as-of, and every zip entry stamped 1980-01-01 (no wall clock)."""
    p = []
    core = book.zip.read("docProps/core.xml").decode("utf-8")
    for tag in ("created", "modified"):
        m = re.search(r"<dcterms:%s[^>]*>(.*?)</dcterms:%s>" % (tag, tag), core)
        if not m or m.group(1) != args.as_of:
            p.append("%s is %r, expected %r" % (tag, m.group(1) if m else None, args.as_of))
    for info in book.zip.infolist():
        if info.date_time != (1980, 1, 1, 0, 0, 0):
            p.append("%s stamped %r" % (info.filename, info.date_time))
    return p


class Formula:
    """A small evaluator for the formulas settle writes (SUM, SUMIFS, COUNTIFS, ROUND, ABS, IF,
    + - and =, cell and range references), so that tests recompute every formula from the cells
    as a spreadsheet would, without one. Criteria are "=text" with ~ escaping * ? ~; "=" alone
    matches blank cells."""
    TOKEN = re.compile(r"\s*(?:(?P<range>(?:'(?:[^']|'')+'!)?\$?[A-Z]{1,3}\$?\d+(?::\$?[A-Z]{1,3}\$?\d+)?)"
                       r"|(?P<num>\d+(?:\.\d+)?(?:E[-+]?\d+)?)|(?P<str>\"(?:[^\"]|\"\")*\")"
                       r"|(?P<fn>[A-Z]+)\(|(?P<op>[-+=(),]))")

    def __init__(self, book):
        self.book = book
        self.memo = {}

    def value(self, sheet, coord):
        key = (sheet, coord)
        if key in self.memo:
            return self.memo[key]
        v = self.book.wb[sheet][coord].value
        if isinstance(v, str) and v.startswith("=") and self.book.wb[sheet][coord].data_type == "f":
            self.memo[key] = None  # a cycle reads as blank
            v = self.eval(sheet, v[1:])
        self.memo[key] = v
        return v

    def eval(self, sheet, text):
        self.toks = []
        pos = 0
        while pos < len(text):
            m = self.TOKEN.match(text, pos)
            if not m:
                raise ValueError("cannot parse %r at %d" % (text, pos))
            kind = m.lastgroup
            self.toks.append((kind, m.group(kind)))
            pos = m.end()
        self.i = 0
        self.sheet = sheet
        v = self.cmp()
        if self.i != len(self.toks):
            raise ValueError("trailing tokens in %r" % text)
        return v

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self, want=None):
        t = self.toks[self.i]
        if want and t[1] != want:
            raise ValueError("expected %r, got %r" % (want, t))
        self.i += 1
        return t

    def cmp(self):
        a = self.add()
        if self.peek() == ("op", "="):
            self.take()
            return a == self.add()
        return a

    def add(self):
        v = self.term()
        while self.peek() in (("op", "+"), ("op", "-")):
            op = self.take()[1]
            w = self.term()
            v = (v or 0) + (w or 0) if op == "+" else (v or 0) - (w or 0)
        return v

    def cells(self, ref):
        sheet, rng = (ref.rsplit("!", 1) if "!" in ref else (self.sheet, ref))
        if sheet.startswith("'"):
            sheet = sheet[1:-1].replace("''", "'")
        rng = rng.replace("$", "")
        a, b = (rng.split(":") + [rng])[:2]
        (c1, r1), (c2, r2) = (openpyxl.utils.cell.coordinate_from_string(x) for x in (a, b))
        out = []
        for r in range(r1, r2 + 1):
            for c in range(openpyxl.utils.column_index_from_string(c1), openpyxl.utils.column_index_from_string(c2) + 1):
                out.append(self.value(sheet, "%s%d" % (openpyxl.utils.get_column_letter(c), r)))
        return out

    @staticmethod
    def match(v, crit):
        if crit.startswith("<>"):
            want = re.sub(r"~([*?~])", r"\1", crit[2:])
            if want == "":
                return v is not None and v != ""
            return v is None or str(v) != want
        if not crit.startswith("="):
            raise ValueError("criterion %r without = or <>" % crit)
        want = re.sub(r"~([*?~])", r"\1", crit[1:])
        if want == "":
            return v is None or v == ""
        return v is not None and str(v) == want

    def term(self):
        kind, tok = self.take()
        if kind == "num":
            return float(tok)
        if kind == "str":
            return tok[1:-1].replace('""', '"')
        if kind == "range":
            vals = self.cells(tok)
            return vals if ":" in tok else vals[0]
        if kind == "op" and tok == "-":
            return -(self.term() or 0)
        if kind == "op" and tok == "(":
            v = self.cmp()
            self.take(")")
            return v
        if kind == "fn":
            args = []
            if self.peek() != ("op", ")"):
                args.append(self.cmp())
                while self.peek() == ("op", ","):
                    self.take()
                    args.append(self.cmp())
            self.take(")")
            return self.call(tok, args)
        raise ValueError("unexpected %r" % tok)

    def call(self, fn, a):
        num = lambda x: x if isinstance(x, (int, float)) and not isinstance(x, bool) else 0
        flat = lambda xs: [y for x in xs for y in (x if isinstance(x, list) else [x])]
        if fn == "SUM":
            return sum(num(x) for x in flat(a))
        if fn in ("SUMIFS", "COUNTIFS"):
            vals, pairs = (a[0], a[1:]) if fn == "SUMIFS" else (None, a)
            n = len(pairs[0])
            hit = [all(self.match(pairs[k][i], pairs[k + 1]) for k in range(0, len(pairs), 2)) for i in range(n)]
            return sum(num(vals[i]) for i in range(n) if hit[i]) if vals is not None else sum(hit)
        if fn == "ROUND":
            return round(num(a[0]), int(a[1]))
        if fn == "ABS":
            return abs(num(a[0]))
        if fn == "IF":
            return a[1] if a[0] else a[2]
        raise ValueError("function %s" % fn)


def check_recompute(book, args):
    """Every formula, recomputed from the cells, gives its cached value."""
    p = []
    ev = Formula(book)
    n = 0
    for name in book.wb.sheetnames:
        for row in book.wb[name].iter_rows():
            for cell in row:
                if cell.data_type != "f":
                    continue
                n += 1
                got = ev.value(name, cell.coordinate)
                cached = book.cached[name][cell.coordinate].value
                if isinstance(got, str) or isinstance(cached, str):
                    ok = got == cached
                else:
                    ok = isinstance(cached, (int, float)) and abs((got or 0) - cached) <= 1e-9 * max(1, abs(cached))
                if not ok:
                    p.append("%s!%s: %s recomputes to %r, cached %r" % (name, cell.coordinate, cell.value, got, cached))
    if n == 0 and not args.empty:
        p.append("no formulas at all")
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["check", "dump"])
    ap.add_argument("book")
    ap.add_argument("--dir")
    ap.add_argument("--as-of")
    ap.add_argument("--name", default="xlsx_check.py")
    ap.add_argument("--currencies")
    ap.add_argument("--text")
    ap.add_argument("--parts", action="append")
    ap.add_argument("--rows-max", type=int)
    ap.add_argument("--empty", action="store_true")
    ap.add_argument("--names", help="the account feed file whose legal names the sheets show")
    ap.add_argument("--hist-payout", help="expected payout histogram, 8 comma-separated counts")
    ap.add_argument("--hist-collection", help="expected collection histogram")
    ap.add_argument("--median-payout", help="expected median days to payout on the Summary")
    ap.add_argument("--median-collection", help="expected median days to collection on the Summary")
    args = ap.parse_args()
    if openpyxl is None:
        print("FAIL: %s: xlsx reader: python3-openpyxl is not installed (apt-get install python3-openpyxl)" % args.name)
        return 1
    book = Book(args.book)
    if args.cmd == "dump":
        for ws in book.wb.worksheets:
            print("== %s freeze=%s filter=%s" % (ws.title, ws.freeze_panes, ws.auto_filter.ref))
            for row in ws.iter_rows():
                for c in row:
                    if c.value is not None:
                        print("%s!%s %s %r %s" % (ws.title, c.coordinate, c.data_type, c.value, c.number_format))
        return 0
    global args_dir
    args_dir = args.dir
    ck = Checker(args.name)
    for what, fn in (("sheets", check_sheets), ("layout", check_layout), ("money formats", check_money_formats),
                     ("csv twins", check_csv_twins), ("totals", check_totals),
                     ("currencies in one order", check_currency_order),
                     ("quantities and sentences", check_quantities_and_sentences),
                     ("text stays text", check_no_text_formulas), ("summary ties out", check_summary),
                     ("formulas recompute", check_recompute),
                     ("charts", check_charts), ("insights", check_insights), ("properties", check_properties),
                     ("account names", check_names), ("metering by day", check_meter_days)):
        try:
            problems = fn(book, args)
        except Exception as ex:  # a reader crash is a failed case, with its reason
            problems = ["%s: %s" % (type(ex).__name__, ex)]
        ck.case(what, problems)
    return 1 if ck.failed else 0


args_dir = None
if __name__ == "__main__":
    sys.exit(main())
