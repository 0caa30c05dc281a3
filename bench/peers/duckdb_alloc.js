// duckdb_alloc.js MODULES_DIR BILLING_EVENT.csv OFFERS.csv PERIOD OUTDIR — the same period's
// allocations and payout statements (SPEC v2 §4.1-§4.4) as bench/peers/pandas_alloc.py, as one
// DuckDB (in-process, @duckdb/node-api) script over the same CSV files, written as allocations.csv
// and payouts.csv in settle's format (SPEC §8). Exact: every field is read as text, amounts are
// checked against SPEC §2's grammar and become HUGEINT micros via DECIMAL(38,6), sums and the
// allocation's products are HUGEINT (an overflow is an error), never DOUBLE.
// Covers and skips the same cases as pandas_alloc.py (see there).
'use strict';
const [modules, bePath, offersPath, period, out] = process.argv.slice(2);
const { DuckDBInstance } = require(modules + '/node_modules/@duckdb/node-api');

const q = (s) => "'" + String(s).replace(/'/g, "''") + "'";
// optional columns (SPEC §3.1) the file may lack: NULL
const fs = require('fs');
const fd = fs.openSync(bePath, 'r');
const head = Buffer.alloc(65536);
const header = head.subarray(0, fs.readSync(fd, head, 0, head.length, 0)).toString().split(/\r?\n/)[0].split(',');
fs.closeSync(fd);
const missing = ['valid_from', 'update_date', 'delete_date', 'from_account_id', 'product_id', 'agreement_id',
	'offer_id', 'charge_side'].filter((c) => !header.includes(c)).map((c) => `, NULL::VARCHAR AS ${c}`).join('');
const sql = `
CREATE TABLE be AS SELECT *${missing} FROM read_csv(${q(bePath)}, header = true, all_varchar = true, auto_detect = true);
CREATE TABLE offers AS SELECT * FROM read_csv(${q(offersPath)}, header = true, all_varchar = true, auto_detect = true);
-- minor units and the payable's rounding step in micros (SPEC §2)
CREATE TABLE minor AS SELECT currency, d, CAST(qq AS HUGEINT) AS qq FROM (VALUES ('USD', 2, 10000), ('EUR', 2, 10000),
  ('GBP', 2, 10000), ('AUD', 2, 10000), ('INR', 2, 10000), ('CAD', 2, 10000), ('CHF', 2, 10000), ('JPY', 0, 1000000),
  ('KWD', 3, 1000), ('BHD', 3, 1000)) t(currency, d, qq);
-- SPEC §2 amount grammar, <= 6 significant fractional digits, |amount| < 10^12: else stop
SELECT CASE WHEN count(*) > 0 THEN error('an amount outside SPEC §2: ' || min(amount)) END FROM be
 WHERE NOT regexp_full_match(amount, '-?[0-9]{1,12}(\\.[0-9]{0,6}0*)?');
-- §3.1 current versions: newest valid_from, then update_date (NULL oldest), then file order
CREATE TABLE cur AS SELECT * FROM (
  SELECT *, row_number() OVER (PARTITION BY billing_event_id
    ORDER BY valid_from DESC NULLS LAST, update_date DESC NULLS LAST, rid DESC) AS rn
  FROM (SELECT rowid AS rid, * FROM be)) WHERE rn = 1 AND delete_date IS NULL;
CREATE MACRO micros(a) AS CAST(CAST(a AS DECIMAL(38, 6)) * 1000000 AS HUGEINT);
CREATE TABLE grp AS
WITH r AS (
  SELECT recipient_account_id AS rcp, transaction_reference_id AS ref, currency AS cur, micros(amount) AS m,
    regexp_replace(transaction_type, '_(REFUND|CREDIT)$', '') AS base, charge_side = 'BUYING' AS buying,
    agreement_id, offer_id, product_id, from_account_id, substr(invoice_date, 1, 10) AS day
  FROM cur WHERE action IN ('INVOICED', 'FORGIVEN') AND substr(invoice_date, 1, 7) = ${q(period)})
SELECT rcp, ref, cur,
  coalesce(sum(m) FILTER (base = 'SELLER_REV_SHARE' AND buying IS NOT TRUE), 0) AS B,
  coalesce(sum(m) FILTER (base = 'SELLER_REV_SHARE' AND buying), 0) AS C,
  coalesce(sum(m) FILTER (base = 'AWS_REV_SHARE'), 0) AS F,
  coalesce(sum(m) FILTER (base = 'SELLER_TAX_SHARE'), 0) AS T,
  min(agreement_id) AS agr, min(offer_id) AS off, min(product_id) AS prod,
  min(from_account_id) FILTER (base = 'SELLER_REV_SHARE' AND buying IS NOT TRUE) AS buyer, min(day) AS day
FROM r GROUP BY rcp, ref, cur;
-- §4.2 M1, M2, M3 (several offers: AMBIGUOUS_OFFER, not allocated)
CREATE TABLE m AS
WITH m1 AS (SELECT agreement_id AS k, count(*) AS n, min(offer_id) AS o FROM offers WHERE agreement_id IS NOT NULL GROUP BY 1),
     m2 AS (SELECT offer_id AS k, count(*) AS n, min(offer_id) AS o FROM offers WHERE offer_id IS NOT NULL GROUP BY 1),
     g12 AS (SELECT g.*, m1.n AS n1, m1.o AS o1, m2.n AS n2, m2.o AS o2 FROM grp g
             LEFT JOIN m1 ON m1.k = g.agr LEFT JOIN m2 ON m2.k = g.off),
     m3 AS (SELECT g.rcp, g.ref, g.cur, count(*) AS n, min(o.offer_id) AS o FROM g12 g JOIN offers o
             ON o.product_id = g.prod AND o.buyer_account_id = g.buyer AND o.currency = g.cur
            AND (o.valid_from IS NULL OR substr(o.valid_from, 1, 10) <= g.day)
            AND (o.valid_until IS NULL OR g.day <= substr(o.valid_until, 1, 10))
           WHERE g.n1 IS NULL AND g.n2 IS NULL GROUP BY ALL)
SELECT g.*, CASE WHEN g.n1 IS NOT NULL THEN (CASE WHEN g.n1 = 1 THEN 'M1' END)
                 WHEN g.n2 IS NOT NULL THEN (CASE WHEN g.n2 = 1 THEN 'M2' END)
                 WHEN m3.n = 1 THEN 'M3' END AS rule,
  CASE WHEN g.n1 IS NOT NULL THEN g.o1 WHEN g.n2 IS NOT NULL THEN g.o2 ELSE m3.o END AS oid
FROM g12 g LEFT JOIN m3 USING (rcp, ref, cur);
-- alloc(T, [w0, w1])[0] of SPEC §2 (largest remainder, ties to the ISV), in HUGEINT
CREATE MACRO alloc0(t, w0, w1) AS sign(t) * (abs(t) * w0 // (w0 + w1) +
  CASE WHEN abs(t) - abs(t) * w0 // (w0 + w1) - abs(t) * w1 // (w0 + w1) = 1
        AND abs(t) * w0 % (w0 + w1) >= abs(t) * w1 % (w0 + w1) THEN 1 ELSE 0 END);
CREATE MACRO e4(p) AS CAST(CAST(p AS DECIMAL(18, 4)) * 10000 AS HUGEINT);
CREATE TABLE al AS
WITH a AS (
  SELECT m.*, o.isv_account_id AS isv, o.reseller_account_id AS res, coalesce(o.split_basis, 'DIRECT') AS basis,
    CAST(1000000 AS HUGEINT) AS one, e4(o.markup_pct) AS mk, e4(o.isv_share_pct) AS sh,
    m.rcp = coalesce(o.reseller_account_id, o.isv_account_id) AS sor
  FROM m JOIN offers o ON o.offer_id = m.oid
  WHERE m.rule IS NOT NULL AND o.currency = m.cur AND (B <> 0 OR F <> 0 OR T <> 0)
    AND (m.rcp = coalesce(o.reseller_account_id, o.isv_account_id)
         OR (o.reseller_account_id IS NOT NULL AND m.rcp = o.isv_account_id))),
w AS (SELECT *, CASE WHEN C <> 0 THEN -C ELSE alloc0(B, one, mk) END AS wh FROM a)
SELECT rcp, ref, cur, agr, oid, rule, 0 AS k, 'ISV' AS role, isv AS party,
  CASE WHEN NOT sor OR basis = 'DIRECT' THEN B WHEN basis = 'MARKUP' THEN wh ELSE alloc0(B, sh, one - sh) END AS rv,
  CASE WHEN NOT sor OR basis = 'DIRECT' THEN F WHEN basis = 'MARKUP' THEN 0 ELSE alloc0(F, sh, one - sh) END AS fe,
  CASE WHEN NOT sor OR basis = 'DIRECT' THEN T WHEN basis = 'MARKUP' THEN 0 ELSE alloc0(T, sh, one - sh) END AS tx
FROM w
UNION ALL
SELECT rcp, ref, cur, agr, oid, rule, 1, 'RESELLER', res,
  CASE WHEN basis = 'MARKUP' THEN B - wh ELSE B - alloc0(B, sh, one - sh) END,
  CASE WHEN basis = 'MARKUP' THEN F ELSE F - alloc0(F, sh, one - sh) END,
  CASE WHEN basis = 'MARKUP' THEN T ELSE T - alloc0(T, sh, one - sh) END
FROM w WHERE sor AND basis <> 'DIRECT';
SELECT CASE WHEN count(*) > 0 THEN error('MARKUP without markup and cost of goods (OFFER_INCOMPLETE): not covered') END
  FROM al WHERE rv IS NULL;
-- SPEC §2 formatting: shortest exact form with at least the currency's minor digits
CREATE MACRO fmt(v, d) AS (CASE WHEN v < 0 THEN '-' ELSE '' END) || CAST(abs(v) // 1000000 AS VARCHAR) ||
  (CASE WHEN length(rtrim(lpad(CAST(abs(v) % 1000000 AS VARCHAR), 6, '0'), '0')) >= d
        THEN (CASE WHEN abs(v) % 1000000 = 0 THEN '' ELSE '.' || rtrim(lpad(CAST(abs(v) % 1000000 AS VARCHAR), 6, '0'), '0') END)
        ELSE '.' || rpad(rtrim(lpad(CAST(abs(v) % 1000000 AS VARCHAR), 6, '0'), '0'), d, '0') END);
COPY (SELECT ${q(period)} AS period, rcp AS recipient_account_id, ref AS transaction_reference_id, agr AS agreement_id,
        oid AS offer_id, rule AS match_rule, al.cur AS currency, role AS party_role, party AS party_account_id,
        fmt(rv, d) AS revenue, fmt(fe, d) AS listing_fee, fmt(tx, d) AS seller_tax, fmt(rv + fe + tx, d) AS net
      FROM al JOIN minor ON minor.currency = al.cur ORDER BY rcp, ref, al.cur, k)
  TO ${q(out + '/allocations.csv')} (HEADER, DELIMITER ',', QUOTE '"');
-- §4.4 statements: a party with its own feed counts only the groups it received itself
COPY (WITH own AS (SELECT DISTINCT recipient_account_id AS party FROM cur),
      s AS (SELECT party, role, al.cur, sum(rv) AS rv, sum(fe) AS fe, sum(tx) AS tx, sum(rv + fe + tx) AS net
            FROM al WHERE rcp = party OR party NOT IN (SELECT party FROM own) GROUP BY ALL),
      p AS (SELECT s.*, d, qq FROM s JOIN minor ON minor.currency = s.cur),
      r AS (SELECT *, sign(net) * ((abs(net) + qq // 2) // qq * qq) AS pay FROM p)
      SELECT ${q(period)} AS period, role AS party_role, party AS party_account_id, cur AS currency,
        fmt(rv, d) AS revenue, fmt(fe, d) AS listing_fee, fmt(tx, d) AS seller_tax, fmt(net, d) AS net,
        fmt(pay, d) AS net_payable, fmt(pay - net, d) AS rounding
      FROM r ORDER BY party, role, cur)
  TO ${q(out + '/payouts.csv')} (HEADER, DELIMITER ',', QUOTE '"');
`;

(async () => {
	const db = await DuckDBInstance.create(':memory:');
	const con = await db.connect();
	for (const stmt of sql.split(/;\s*\n/).map((s) => s.trim()).filter(Boolean))
		await con.run(stmt);
	const counts = await con.runAndReadAll(
		"SELECT (SELECT count(*) FROM grp), (SELECT count(*) FROM al), (SELECT count(*) FROM m WHERE rule IS NULL)");
	const [g, a, n] = counts.getRows()[0];
	console.log(`duckdb_alloc: ${g} groups, ${a} allocation rows, ${n} groups unmatched or ambiguous`);
})().catch((err) => {
	console.error('duckdb_alloc: ' + err.message);
	process.exit(1);
});
