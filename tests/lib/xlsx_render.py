#!/usr/bin/python3
"""xlsx_render.py — the accountant's look at a settle workbook (tests/integration/test_xlsx_render.sh).

    xlsx_render.py BOOK.xlsx --dir REPORTDIR --period 2026-10 --as-of 2026-11-02T03:00:00Z
                   --work DIR [--png DIR] [--name test_x.sh]

Renders every sheet with LibreOffice headless (a private profile under DIR that recalculates
every formula on load) to PDF, then to PNG pages (pdftoppm, poppler-utils) kept in --png for a
person to look at, and checks what a reader would see:

- no "###" anywhere in the PDF text (pdftotext): every number fits its column, totals included;
- every sheet's title line names the sheet, the period and the as-of, and every printed page's
  header names the period and the as-of;
- LibreOffice's own recalculation: a copy of the workbook whose cached formula values are all
  zeroed is converted back to xlsx by LibreOffice, and every formula it recalculated equals the
  value settle cached (so no figure on the Summary depends on a cached constant);
- the bridge of every currency, as recalculated by LibreOffice, equals the exact sums of the
  report set's CSV files (allocations, payouts, disbursements by status, deposits, aging by
  bucket and by disbursement status) and of the Charge groups sheet (which has no CSV twin),
  the "still owed" block included: its reconciling lines add up, from the CSV sums alone, to
  what aging.csv lists, and its totals say OK.

Prints "PASS: <name>: render <case>" / "FAIL: ..." lines; exits 1 when a case failed.
"""
import argparse
import csv
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from decimal import Decimal

import openpyxl

XCU = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""

failed = 0


def case(name, what, problems):
    global failed
    if problems:
        failed += 1
        print("FAIL: %s: render %s" % (name, what))
        for p in problems[:20]:
            print("  " + str(p))
        if len(problems) > 20:
            print("  ... %d more" % (len(problems) - 20))
    else:
        print("PASS: %s: render %s" % (name, what))


def soffice(work, src, fmt, outdir):
    """LibreOffice headless with a private profile (root needs one of its own)."""
    prof = os.path.join(work, "lo-profile")
    if not os.path.exists(prof):
        os.makedirs(os.path.join(prof, "user"))
        with open(os.path.join(prof, "user", "registrymodifications.xcu"), "w") as f:
            f.write(XCU)
    cmd = ["soffice", "-env:UserInstallation=file://" + prof, "--headless", "--norestore",
           "--convert-to", fmt, "--outdir", outdir, src]
    # SETTLE_RENDER_TIMEOUT: seconds a conversion may take (bench/render_month.sh: large months)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=int(os.environ.get("SETTLE_RENDER_TIMEOUT", "600")))
    base = os.path.splitext(os.path.basename(src))[0] + "." + fmt.split(":")[0]
    out = os.path.join(outdir, base)
    if not os.path.exists(out):
        raise RuntimeError("soffice --convert-to %s failed: %s" % (fmt, r.stdout.decode(errors="replace")[-500:]))
    return out


def zero_cached(src, dst):
    """A copy of the workbook with every formula's cached value zeroed: what LibreOffice shows
    afterwards it computed itself."""
    zin = zipfile.ZipFile(src)
    zout = zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED)
    for info in zin.infolist():
        data = zin.read(info)
        if info.filename.startswith("xl/worksheets/sheet"):
            xml = data.decode("utf-8")
            xml = re.sub(r"(<f>[^<]*</f>)<v>[^<]*</v>", r"\1<v>0</v>", xml)
            data = xml.encode("utf-8")
        zout.writestr(info, data)
    zout.close()


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def dsum(rows, col, **eq):
    total = Decimal(0)
    for r in rows:
        if all((r.get(k) == v) if not callable(v) else v(r.get(k)) for k, v in eq.items()):
            total += Decimal(r[col] or "0")
    return total


def dcount(rows, **eq):
    return sum(1 for r in rows if all((r.get(k) == v) if not callable(v) else v(r.get(k)) for k, v in eq.items()))


def near(v, d):
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return False
    return abs(Decimal(repr(v)) - d) <= Decimal("0.0000005") + abs(d) * Decimal("1e-15")


def sheet_rows(ws):
    """Data rows of a listing sheet (title, note, header, then data until a blank row), as dicts
    by header label."""
    head = [c.value for c in ws[3]]
    out = []
    r = 4
    while r <= ws.max_row and any(c.value is not None for c in ws[r]):
        out.append({head[i]: ws.cell(r, i + 1).value for i in range(len(head)) if head[i] is not None})
        r += 1
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("book")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--period", required=True)
    ap.add_argument("--as-of", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--png")
    ap.add_argument("--name", default="xlsx_render.py")
    args = ap.parse_args()
    name = args.name
    os.makedirs(args.work, exist_ok=True)
    book = openpyxl.load_workbook(args.book)
    cached = openpyxl.load_workbook(args.book, data_only=True)

    # --- PDF and PNG ---------------------------------------------------------------------
    t0 = time.time()
    try:
        pdf = soffice(args.work, args.book, "pdf", args.work)
    except Exception as ex:
        case(name, "PDF (LibreOffice headless)", [str(ex)])
        return 1
    case(name, "PDF (LibreOffice headless, %.0f s)" % (time.time() - t0), [])
    txt = subprocess.run(["pdftotext", "-layout", pdf, "-"], stdout=subprocess.PIPE).stdout.decode("utf-8", "replace")
    pages = txt.split("\f")
    p = []
    for i, pg in enumerate(pages):
        if "###" in pg:
            line = [l for l in pg.splitlines() if "###" in l][0]
            p.append("page %d: %s" % (i + 1, line.strip()[:150]))
    case(name, "no ### in the PDF (%d pages)" % len([x for x in pages if x.strip()]), p)

    p = []
    heads = "settle period %s, as of %s" % (args.period, args.as_of)
    flat = re.sub(r"\s+", " ", txt)
    for ws in book.worksheets:
        title = "%s \u00b7 period %s \u00b7 as of %s" % (ws.title, args.period, args.as_of)
        if ws["A1"].value is None or not str(ws["A1"].value).startswith(title):
            p.append("%s: title line %r does not start with %r" % (ws.title, ws["A1"].value, title))
        if title not in flat:
            p.append("%s: the title line %r is not on any printed page" % (ws.title, title))
    for i, pg in enumerate(pages):
        if pg.strip() and heads not in re.sub(r"\s+", " ", pg):
            p.append("page %d: no page header %r" % (i + 1, heads))
    case(name, "every sheet's title names the period and as-of, every page too", p)

    # printed pages that carry the row's identity: every Allocations page names the reference
    # (print titles), a rejected row's reason is on the page of its code, the Summary's first
    # bridge is the currency with the most charge groups
    p = []
    # a sheet of subtotals has no reference: its rows are named by the offer
    alloc_id = "Offer" if "Rows" in [c.value for c in book["Allocations"][3]] else "Reference"
    for i, pg in enumerate(pages):
        head = pg.strip().splitlines()[0] if pg.strip() else ""
        if head.startswith("Allocations") and alloc_id not in pg:
            p.append("page %d (Allocations): no %s column on the page" % (i + 1, alloc_id))
        if head.startswith("Rejected") and "BAD_ENUM" in pg and "is not one of" not in pg:
            p.append("page %d (Rejected): a BAD_ENUM row without its reason on the page" % (i + 1))
    rj = [i for i, pg in enumerate(pages) if pg.strip().startswith("Rejected")]
    if "BAD_ENUM" in txt and len(rj) > 1:
        p.append("Rejected prints on %d pages, expected one" % len(rj))
    groups_ws = book["Charge groups"] if "Charge groups" in book.sheetnames else None
    if groups_ws is not None:
        counts = {}
        for g in sheet_rows(groups_ws):
            counts[g["Currency"]] = counts.get(g["Currency"], 0) + (g.get("Rows") or 1)
        first = sorted(counts, key=lambda c: (-counts[c], c.encode()))[:1]
        m = re.search(r"([A-Z]{3}): from billed to banked", txt)
        if first and (not m or m.group(1) != first[0]):
            p.append("the first bridge printed is %r, expected %r (most charge groups)" % (m and m.group(1), first[0]))
    case(name, "printed pages name their rows (ids beside the money, reasons beside the code)", p)

    if args.png:
        shutil.rmtree(args.png, ignore_errors=True)
        os.makedirs(args.png)
        subprocess.run(["pdftoppm", "-r", "70", "-png", pdf, os.path.join(args.png, "page")], check=True)
        n = len([f for f in os.listdir(args.png) if f.endswith(".png")])
        case(name, "PNG pages in %s (%d)" % (args.png, n), [] if n else ["no PNG written"])

    # --- LibreOffice's recalculation -------------------------------------------------------
    zero = os.path.join(args.work, "zeroed.xlsx")
    zero_cached(args.book, zero)
    recalc_dir = os.path.join(args.work, "recalc")
    os.makedirs(recalc_dir, exist_ok=True)
    try:
        lo = openpyxl.load_workbook(soffice(args.work, zero, "xlsx:Calc MS Excel 2007 XML", recalc_dir), data_only=True)
    except Exception as ex:
        case(name, "LibreOffice recalculates every formula", [str(ex)])
        return 1
    p = []
    n = 0
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.data_type != "f":
                    continue
                n += 1
                want = cached[ws.title][c.coordinate].value
                got = lo[ws.title][c.coordinate].value
                if isinstance(want, str) or isinstance(got, str):
                    ok = want == got
                else:
                    ok = isinstance(got, (int, float)) and abs((got or 0) - (want or 0)) <= 1e-9 * max(1, abs(want or 0))
                if not ok:
                    p.append("%s!%s %s: LibreOffice %r, settle cached %r" % (ws.title, c.coordinate, c.value[:80], got, want))
    if n == 0:
        p.append("no formulas")
    case(name, "LibreOffice recalculates all %d formulas to settle's values" % n, p)

    # --- the bridge against the CSV files -------------------------------------------------
    d = args.dir
    alloc = read_csv(os.path.join(d, "allocations.csv"))
    pay = read_csv(os.path.join(d, "payouts.csv"))
    disb = read_csv(os.path.join(d, "disbursements.csv"))
    aging = read_csv(os.path.join(d, "aging.csv"))
    groups = sheet_rows(book["Charge groups"]) if "Charge groups" in book.sheetnames else []
    ws = lo["Summary"]
    p = []
    bridges = 0
    for r in range(1, ws.max_row + 1):
        t = ws.cell(r, 1).value
        m = re.fullmatch(r"([A-Z]{3}): from billed to banked", t or "")
        if not m:
            continue
        bridges += 1
        cur = m.group(1)
        steps = {}
        q = r + 2
        while q <= ws.max_row and ws.cell(q, 1).value is not None:
            steps[ws.cell(q, 1).value] = (ws.cell(q, 2).value, ws.cell(q, 3).value, ws.cell(q, 4).value)
            q += 1

        def gsum(col, **eq):
            return sum((Decimal(repr(g[col])) for g in groups if g["Currency"] == cur and g.get(col) is not None
                        and all(g.get(k) == v for k, v in eq.items())), Decimal(0))

        notfailed = lambda s: s != "FAILED"
        want = {
            "Billed to buyers, tax included": gsum("Billed (tax incl.)"),
            "\u2212 Marketplace tax (not the seller's)": -gsum("Marketplace tax"),
            "\u2212 Cost of goods passed to ISVs": gsum("Cost of goods"),
            "\u2212 Listing fees": gsum("Listing fee"),
            "\u2212 Seller tax (to the seller, who remits it)": -gsum("Seller tax"),
            "= Net earned": gsum("Net earned"),
            "Allocated to the parties": dsum(alloc, "net", currency=cur),
            "Payout statements (net payable)": dsum(pay, "net_payable", currency=cur),
            "Payouts settled (amount = lines)": dsum(disb, "amount", currency=cur, status="SETTLED"),
            "Payouts mismatched (amount \u2260 lines)": dsum(disb, "amount", currency=cur, status="MISMATCH"),
            "Payouts failed (not paid, not disbursed)": dsum(disb, "amount", currency=cur, status="FAILED"),
            "= Disbursed (settled + mismatched)": dsum(disb, "amount", currency=cur, status=lambda s: s in ("SETTLED", "MISMATCH")),
            "Matched to a bank deposit": dsum(disb, "amount", currency=cur, status=notfailed, deposit_id=lambda x: x != ""),
            "= Outstanding at as-of": dsum(aging, "remainder", currency=cur),
        }
        for b in ("0-30", "31-60", "61-90", "91-120", "over 120"):
            want[b] = dsum(aging, "remainder", currency=cur, bucket=b)
        # still owed at as-of, and why: from the statements and the period's payouts to Aging
        # (every line recalculated by LibreOffice against the CSV files and Charge groups)
        owed = dsum(aging, "remainder", currency=cur)
        want.update({
            "Net payable (statements) \u2212 disbursed (above)":
                want["Payout statements (net payable)"] - want["= Disbursed (settled + mismatched)"],
            "+ Owed on groups allocated to no party (see Exceptions)":
                gsum("Owed", Allocated="no"),
            "+ Owed on allocated groups \u2212 net payable (per feed)":
                gsum("Owed", Allocated="yes") - want["Payout statements (net payable)"],
            "+ Payouts for other months' charges, less later ones":
                want["= Disbursed (settled + mismatched)"] + gsum("Paid by as-of"),
            "+ Carried in: other months' charges, same references": gsum("Other months"),
            "\u2212 Settled within tolerance or overpaid (not owed)": gsum("Outstanding") - gsum("Ref. remainder"),
            "= Still owed at as-of": owed,
            "Not paid at all yet (no payout line)": dsum(aging, "remainder", currency=cur, disbursement_status="NOT_DISBURSED"),
            "Partly paid (payout lines short of the charges)": dsum(aging, "remainder", currency=cur, disbursement_status="PARTIAL"),
            "Payout failed, awaiting re-payment": dsum(aging, "remainder", currency=cur, disbursement_status="FAILED"),
            "= Still owed at as-of, by cause": owed,
            "of which on groups no party was allocated (see Exceptions)": gsum("Outstanding", Allocated="no"),
        })
        # the lines add up: Σ of the reconciling lines is what Aging lists (the identity, from
        # the CSV sums and Charge groups alone, not from the Summary's own formulas)
        lines = [k for k in want if k.startswith(("Net payable (statements)", "+ ", "\u2212 Settled"))]
        if sum(want[k] for k in lines) != owed:
            p.append("%s: the still-owed lines add up to %s, aging.csv to %s" % (cur, sum(want[k] for k in lines), owed))
        counts = {"Payouts failed (not paid, not disbursed)": dcount(disb, currency=cur, status="FAILED"),
                  "= Outstanding at as-of": dcount(aging, currency=cur),
                  "= Still owed at as-of, by cause": dcount(aging, currency=cur)}
        for st, k in (("NOT_DISBURSED", "Not paid at all yet (no payout line)"),
                      ("PARTIAL", "Partly paid (payout lines short of the charges)"),
                      ("FAILED", "Payout failed, awaiting re-payment")):
            counts[k] = dcount(aging, currency=cur, disbursement_status=st)
        for k, v in want.items():
            if k not in steps:
                p.append("%s: no step %r" % (cur, k))
                continue
            if not near(steps[k][0], v):
                p.append("%s: %s is %r after LibreOffice's recalculation, the CSV sums to %s" % (cur, k, steps[k][0], v))
        for k, v in counts.items():
            if k in steps and steps[k][1] != v:
                p.append("%s: %s counts %r, the CSV %d" % (cur, k, steps[k][1], v))
        for k, (_, _, chk) in steps.items():
            # net payable beside the allocations says "OWN FEED" where they differ (SPEC §4.4)
            own = k == "Payout statements (net payable)" and chk == "OWN FEED"
            if chk is not None and chk != "OK" and not own and not isinstance(chk, (int, float)):
                p.append("%s: check of %r is %r, neither OK nor a difference" % (cur, k, chk))
        # the tie-outs must be OK; deposits and mismatches may show a difference
        for k in ("= Net earned", "Allocated to the parties", "= Disbursed (settled + mismatched)", "= Outstanding at as-of",
                  "= Still owed at as-of", "= Still owed at as-of, by cause"):
            if k in steps and steps[k][2] not in ("OK", None):
                p.append("%s: %s does not tie out: %r" % (cur, k, steps[k][2]))
    if bridges == 0:
        p.append("no bridge on the Summary")
    case(name, "the bridge of %d currencies, recalculated by LibreOffice, equals the CSV sums" % bridges, p)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
