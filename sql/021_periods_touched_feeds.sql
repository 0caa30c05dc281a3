-- 021_periods_touched_feeds.sql — the periods the SDDS feeds of SPEC §3.6 touch (SPEC §6, §7:
-- nightly reports "every period they touch").
--
-- 004's periods_touched knew billing events, metering, deposits and settle's offer files only: a
-- night whose only new rows were tax items, daily usage, or a revised agreement, offer, product
-- or account re-reported nothing, and 2026-10's tax.csv, metering.csv and offer terms stayed as
-- the night before. Replaced here, the 004 parts unchanged, with:
-- * tax items: the month of the item's invoice_date (tax.csv lists the items of that month, and
--   the tax check of SPEC §4.6 matches the month's tax events to them: an item carries its
--   invoice's date, as its events do);
-- * daily usage: the month of usage_date (the three-way of SPEC §4.6 checks usage month P);
-- * the first rows ever of either feed: every known month, since "the feed is loaded" alone
--   changes them (TAX_ITEM_MISSING can now be raised, the tax.csv totals and recorded_quantity
--   change from empty to figures);
-- * reference feeds (agreements, agreement terms, offers, offer products and targets, products,
--   accounts, legacy id mappings: offer terms, identities and names shown in reports, SPEC §3.2,
--   §3.6): every known month within the validity of the agreements they concern, as the offer
--   files do, plus the month after an agreement's end (its last usage is invoiced then). An
--   agreement concerns itself; a term, its agreement; an offer revision, product or target, the
--   agreements of its offer; a product, the agreements of the offers that sell it; an account, the
--   agreements it proposed or accepted. A row that concerns no stored agreement (an offer nobody
--   accepted yet is derived with open validity) and every legacy id mapping count for every
--   known month. Every stored version of an agreement counts, so a month an earlier version
--   covered is re-reported too.
-- Speed: the new rows of each feed are found through its BRIN index on file_id (009; switched to
-- autosummarize here, as 004's); the months of tax items and daily usage come from their min and
-- max when at most one month apart (exact, no DISTINCT over a month of rows), as for billing
-- events and metering. The reference feeds are small (one row per agreement, offer or account);
-- their joins read the agreement and offer product tables whole, never the billing events.

ALTER INDEX settle.sdds_account_file_brin SET (autosummarize = on);
ALTER INDEX settle.sdds_agreement_file_brin SET (autosummarize = on);
ALTER INDEX settle.sdds_agreement_term_file_brin SET (autosummarize = on);
ALTER INDEX settle.sdds_offer_file_brin SET (autosummarize = on);
ALTER INDEX settle.sdds_offer_product_file_brin SET (autosummarize = on);
ALTER INDEX settle.sdds_offer_target_file_brin SET (autosummarize = on);
ALTER INDEX settle.sdds_product_file_brin SET (autosummarize = on);
ALTER INDEX settle.sdds_legacy_id_mapping_file_brin SET (autosummarize = on);
ALTER INDEX settle.sdds_tax_item_file_brin SET (autosummarize = on);
ALTER INDEX settle.sdds_daily_usage_file_brin SET (autosummarize = on);

CREATE OR REPLACE FUNCTION settle.periods_touched(after_file_id bigint, through_file_id bigint,
                                                  deposit_window_days integer)
RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    WITH be_span AS (
        SELECT date_trunc('month', min(invoice_date) AT TIME ZONE 'UTC') AS lo,
               date_trunc('month', max(invoice_date) AT TIME ZONE 'UTC') AS hi
        FROM settle.billing_event WHERE file_id > after_file_id AND file_id <= through_file_id
    ), be_months AS (
        SELECT lo AS m FROM be_span WHERE lo IS NOT NULL
        UNION SELECT hi FROM be_span WHERE hi IS NOT NULL
        UNION SELECT date_trunc('month', b.invoice_date AT TIME ZONE 'UTC') FROM settle.billing_event b
        WHERE b.file_id > after_file_id AND b.file_id <= through_file_id
          AND (SELECT hi > lo + interval '1 month' FROM be_span)
    ), me_span AS (
        SELECT date_trunc('month', min(usage_hour) AT TIME ZONE 'UTC') AS lo,
               date_trunc('month', max(usage_hour) AT TIME ZONE 'UTC') AS hi
        FROM settle.metering WHERE file_id > after_file_id AND file_id <= through_file_id
    ), me_months AS (
        SELECT lo AS m FROM me_span WHERE lo IS NOT NULL
        UNION SELECT hi FROM me_span WHERE hi IS NOT NULL
        UNION SELECT date_trunc('month', u.usage_hour AT TIME ZONE 'UTC') FROM settle.metering u
        WHERE u.file_id > after_file_id AND u.file_id <= through_file_id
          AND (SELECT hi > lo + interval '1 month' FROM me_span)
    ), ti_span AS (
        SELECT date_trunc('month', min(invoice_date) AT TIME ZONE 'UTC') AS lo,
               date_trunc('month', max(invoice_date) AT TIME ZONE 'UTC') AS hi, count(*) AS n
        FROM settle.sdds_tax_item WHERE file_id > after_file_id AND file_id <= through_file_id
    ), ti_months AS (
        SELECT lo AS m FROM ti_span WHERE lo IS NOT NULL
        UNION SELECT hi FROM ti_span WHERE hi IS NOT NULL
        UNION SELECT date_trunc('month', t.invoice_date AT TIME ZONE 'UTC') FROM settle.sdds_tax_item t
        WHERE t.file_id > after_file_id AND t.file_id <= through_file_id AND t.invoice_date IS NOT NULL
          AND (SELECT hi > lo + interval '1 month' FROM ti_span)
    ), du_span AS (
        SELECT date_trunc('month', min(usage_date) AT TIME ZONE 'UTC') AS lo,
               date_trunc('month', max(usage_date) AT TIME ZONE 'UTC') AS hi, count(*) AS n
        FROM settle.sdds_daily_usage WHERE file_id > after_file_id AND file_id <= through_file_id
    ), du_months AS (
        SELECT lo AS m FROM du_span WHERE lo IS NOT NULL
        UNION SELECT hi FROM du_span WHERE hi IS NOT NULL
        UNION SELECT date_trunc('month', u.usage_date AT TIME ZONE 'UTC') FROM settle.sdds_daily_usage u
        WHERE u.file_id > after_file_id AND u.file_id <= through_file_id AND u.usage_date IS NOT NULL
          AND (SELECT hi > lo + interval '1 month' FROM du_span)
    ), dep_months AS (
        SELECT DISTINCT date_trunc('month', d.value_date)::timestamp AS m FROM settle.bank_deposit d
        WHERE d.file_id > after_file_id AND d.file_id <= through_file_id
    ), dep_window AS (  -- deposits whose matching window reaches back into the month before
        SELECT date_trunc('month', d.value_date - deposit_window_days)::timestamp AS m,
               min(d.value_date - deposit_window_days)::timestamp AS from_day
        FROM settle.bank_deposit d
        WHERE d.file_id > after_file_id AND d.file_id <= through_file_id
          AND date_trunc('month', d.value_date - deposit_window_days) <> date_trunc('month', d.value_date)
        GROUP BY 1
    ), dep_window_months AS (  -- ... and that month has a payout the deposit could settle
        SELECT w.m FROM dep_window w
        WHERE EXISTS (SELECT 1 FROM settle.billing_event b
                      WHERE b.transaction_type = 'DISBURSEMENT' AND b.file_id <= through_file_id
                        AND b.invoice_date >= w.from_day AT TIME ZONE 'UTC'
                        AND b.invoice_date < (w.m + interval '1 month') AT TIME ZONE 'UTC')
    ), paid AS (  -- payout lines of the new files, and the lines of payouts that newly failed
        SELECT l.recipient_account_id, l.transaction_reference_id, l.currency
        FROM settle.billing_event l
        WHERE l.file_id > after_file_id AND l.file_id <= through_file_id
          AND l.action = 'DISBURSED' AND l.transaction_reference_id IS NOT NULL
        UNION ALL
        SELECT l.recipient_account_id, l.transaction_reference_id, l.currency
        FROM settle.billing_event f JOIN settle.billing_event l
          ON l.recipient_account_id = f.recipient_account_id
         AND l.disbursement_billing_event_id = f.parent_billing_event_id
        WHERE f.file_id > after_file_id AND f.file_id <= through_file_id
          AND f.transaction_type = 'DISBURSEMENT_FAILURE'
          AND l.file_id <= through_file_id AND l.transaction_reference_id IS NOT NULL
    ), paid_months AS (
        SELECT DISTINCT date_trunc('month', g.invoice_date AT TIME ZONE 'UTC') AS m
        FROM settle.billing_event g
        WHERE g.action IN ('INVOICED', 'FORGIVEN') AND g.file_id <= through_file_id
          AND date_trunc('month', g.invoice_date AT TIME ZONE 'UTC') NOT IN (SELECT m FROM be_months)
          AND (g.recipient_account_id, g.transaction_reference_id, g.currency)
              IN (SELECT recipient_account_id, transaction_reference_id, currency FROM paid)
    ),
    -- the reference feeds' new rows, and the agreements (every stored version) they concern
    ag_all AS MATERIALIZED (
        SELECT a.agreement_id, a.offer_id, a.proposer_account_id, a.acceptor_account_id,
               (a.start_time AT TIME ZONE 'UTC')::date AS valid_from,
               ((a.end_time AT TIME ZONE 'UTC') + interval '1 month')::date AS valid_until
        FROM settle.sdds_agreement a WHERE a.file_id <= through_file_id
    ), new_agreement AS (
        SELECT a.agreement_id FROM settle.sdds_agreement a
        WHERE a.file_id > after_file_id AND a.file_id <= through_file_id
    ), new_term AS (
        SELECT t.agreement_id FROM settle.sdds_agreement_term t
        WHERE t.file_id > after_file_id AND t.file_id <= through_file_id
    ), new_offer AS (
        SELECT o.offer_id FROM settle.sdds_offer o
        WHERE o.file_id > after_file_id AND o.file_id <= through_file_id
        UNION SELECT p.offer_id FROM settle.sdds_offer_product p
        WHERE p.file_id > after_file_id AND p.file_id <= through_file_id
        UNION SELECT t.offer_id FROM settle.sdds_offer_target t
        WHERE t.file_id > after_file_id AND t.file_id <= through_file_id
        UNION SELECT p.offer_id FROM settle.sdds_offer_product p
        WHERE p.file_id <= through_file_id
          AND p.product_id IN (SELECT n.product_id FROM settle.sdds_product n
                               WHERE n.file_id > after_file_id AND n.file_id <= through_file_id)
    ), new_account AS (
        SELECT c.account_id FROM settle.sdds_account c
        WHERE c.file_id > after_file_id AND c.file_id <= through_file_id
    ), feed_validity AS (
        SELECT a.valid_from, a.valid_until FROM ag_all a
        WHERE a.agreement_id IN (SELECT agreement_id FROM new_agreement UNION SELECT agreement_id FROM new_term)
           OR a.offer_id IN (SELECT offer_id FROM new_offer)
           OR a.proposer_account_id IN (SELECT account_id FROM new_account)
           OR a.acceptor_account_id IN (SELECT account_id FROM new_account)
        UNION ALL  -- rows that concern no stored agreement, and legacy id mappings: open validity
        SELECT NULL::date, NULL::date
        WHERE EXISTS (SELECT 1 FROM new_term t WHERE t.agreement_id IS NULL
                                                   OR t.agreement_id NOT IN (SELECT agreement_id FROM ag_all))
           OR EXISTS (SELECT 1 FROM new_offer o WHERE o.offer_id IS NULL
                                                   OR o.offer_id NOT IN (SELECT a.offer_id FROM ag_all a
                                                                         WHERE a.offer_id IS NOT NULL))
           OR EXISTS (SELECT 1 FROM new_account c WHERE NOT EXISTS (
                          SELECT 1 FROM ag_all a WHERE a.proposer_account_id = c.account_id
                                                    OR a.acceptor_account_id = c.account_id))
           OR EXISTS (SELECT 1 FROM settle.sdds_product n
                      WHERE n.file_id > after_file_id AND n.file_id <= through_file_id
                        AND NOT EXISTS (SELECT 1 FROM settle.sdds_offer_product p JOIN ag_all a ON a.offer_id = p.offer_id
                                        WHERE p.product_id = n.product_id AND p.file_id <= through_file_id))
           OR EXISTS (SELECT 1 FROM settle.sdds_legacy_id_mapping l
                      WHERE l.file_id > after_file_id AND l.file_id <= through_file_id)
    ), validity AS (
        SELECT o.valid_from, o.valid_until FROM settle.offer o
        WHERE o.file_id > after_file_id AND o.file_id <= through_file_id
        UNION
        SELECT o.valid_from, o.valid_until
        FROM settle.offer_dimension d JOIN settle.offer o ON o.offer_id = d.offer_id
        WHERE d.file_id > after_file_id AND d.file_id <= through_file_id AND o.file_id <= through_file_id
        UNION
        SELECT v.valid_from, v.valid_until FROM feed_validity v
    ), known_months AS (
        SELECT m FROM be_months UNION SELECT m FROM me_months
        UNION SELECT m FROM ti_months UNION SELECT m FROM du_months
        UNION SELECT DISTINCT (period || '-01')::timestamp FROM settle.run_period
    ), first_load_months AS (  -- the first rows of the tax item or daily usage feed: every month
        SELECT k.m FROM known_months k
        WHERE ((SELECT n FROM ti_span) > 0
               AND NOT EXISTS (SELECT 1 FROM settle.sdds_tax_item t WHERE t.file_id <= after_file_id))
           OR ((SELECT n FROM du_span) > 0
               AND NOT EXISTS (SELECT 1 FROM settle.sdds_daily_usage u WHERE u.file_id <= after_file_id))
    ), all_months AS (
        SELECT m FROM be_months
        UNION SELECT m FROM me_months
        UNION SELECT m FROM ti_months
        UNION SELECT m FROM du_months
        UNION SELECT m FROM dep_months
        UNION SELECT m FROM dep_window_months
        UNION SELECT m FROM paid_months
        UNION SELECT m FROM first_load_months
        UNION SELECT k.m FROM known_months k JOIN validity v
          ON (v.valid_from IS NULL OR v.valid_from < k.m + interval '1 month')
         AND (v.valid_until IS NULL OR v.valid_until >= k.m)
    )
    SELECT to_char(m, 'YYYY-MM') FROM all_months
$$;
