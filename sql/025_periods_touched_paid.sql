-- 025_periods_touched_paid.sql — the months a payout, a payout line or a payout failure of the new
-- files changes, whatever month its file is (SPEC §4.5, §6, §6.1).
--
-- 004's periods_touched found the charge groups a payout changes only through lines carrying a
-- transaction_reference_id, and a failed payout only through the failure's
-- parent_billing_event_id. SPEC v2 allows both without: a DISBURSED line without a reference takes
-- its parent's (§3.1), and a failure without a parent undoes the payout with its bank trace id, else
-- the one whose amount it cancels (§4.5). A November failure of an October payout then re-reported
-- November only: October kept P1 SETTLED and no DISBURSEMENT_FAILED (and a closed October got no
-- restatement), and a payout of an earlier month's charge left that month's aging stale.
--
-- periods_touched_paid gives those months, for periods_touched to add (its other parts
-- unchanged; the payout part lives in its own function so that it and the other sources of
-- months change apart):
-- * the payouts a new failure may undo: the one its parent names, those with its bank trace id,
--   and those of the same recipient and currency dated on or before it whose amount it cancels
--   exactly (a superset of the one SPEC §4.5 picks: which one wins depends on every failure, and
--   a month re-reported for nothing costs a report, a month missed costs a wrong one) — their
--   months (DISBURSEMENT_FAILED with the payout as reference, the payout's row of
--   disbursements.csv);
-- * new payouts that an earlier-ingested failure may undo (same three links): the failure's
--   month, whose row says what it undoes, and the payout's lines;
-- * the charge groups of the new files' payout and reversal lines, and of the lines of every
--   payout above: by the line's reference, else its parent's (SPEC §3.1) — every month of that
--   reference, whose disbursement status and aging the line changes.
-- Speed: each part reads the events only when the new files hold such rows (each scan of the
-- whole table stands behind an EXISTS over the new rows, which PostgreSQL evaluates once, before
-- the scan); the groups are looked up only outside the months the caller already has
-- (skip_months), as 004 did. A night with payouts reads the table once for earlier failures (a
-- filter on transaction_type), as 004's group lookup read it once. Accounts are compared as
-- delivered, as 004 did: the rows of one payout come from one recipient's feed. A parent is looked
-- up by id in every stored version (a superset again).
CREATE FUNCTION settle.periods_touched_paid(after_file_id bigint, through_file_id bigint,
                                            skip_months timestamp[])
RETURNS SETOF timestamp
LANGUAGE sql STABLE AS $$
    WITH new_failure AS (
        SELECT f.recipient_account_id, f.currency, f.parent_billing_event_id AS parent,
               settle.bank_trace_id(f.bank_trace_id) AS trace, f.amount_micros, f.invoice_date
        FROM settle.billing_event f
        WHERE f.file_id > after_file_id AND f.file_id <= through_file_id
          AND f.transaction_type = 'DISBURSEMENT_FAILURE'
    ), new_payout AS (
        SELECT d.recipient_account_id, d.currency, d.billing_event_id,
               settle.bank_trace_id(d.bank_trace_id) AS trace, d.amount_micros, d.invoice_date
        FROM settle.billing_event d
        WHERE d.file_id > after_file_id AND d.file_id <= through_file_id
          AND d.transaction_type = 'DISBURSEMENT'
    ), failed AS MATERIALIZED (  -- payouts a new failure may undo
        SELECT d.recipient_account_id, d.billing_event_id, d.invoice_date
        FROM settle.billing_event d JOIN new_failure f
          ON d.recipient_account_id = f.recipient_account_id AND d.currency = f.currency
        WHERE EXISTS (SELECT 1 FROM new_failure)
          AND d.transaction_type = 'DISBURSEMENT' AND d.file_id <= through_file_id
          AND (d.billing_event_id = f.parent
               OR settle.bank_trace_id(d.bank_trace_id) = f.trace
               OR (d.amount_micros = -f.amount_micros AND d.invoice_date <= f.invoice_date))
    ), undone_by_old AS MATERIALIZED (  -- new payouts and the earlier failures that may undo them
        SELECT d.recipient_account_id, d.billing_event_id, f.invoice_date AS failure_date
        FROM settle.billing_event f JOIN new_payout d
          ON f.recipient_account_id = d.recipient_account_id AND f.currency = d.currency
        WHERE EXISTS (SELECT 1 FROM new_payout)
          AND f.transaction_type = 'DISBURSEMENT_FAILURE' AND f.file_id <= after_file_id
          AND (f.parent_billing_event_id = d.billing_event_id
               OR settle.bank_trace_id(f.bank_trace_id) = d.trace
               OR (f.amount_micros = -d.amount_micros AND d.invoice_date <= f.invoice_date))
    ), line AS MATERIALIZED (  -- the new files' payout and reversal lines, and the lines of those payouts
        SELECT l.recipient_account_id, l.transaction_reference_id, l.parent_billing_event_id, l.currency
        FROM settle.billing_event l
        WHERE l.file_id > after_file_id AND l.file_id <= through_file_id
          AND l.action = 'DISBURSED' AND l.transaction_type NOT IN ('DISBURSEMENT', 'DISBURSEMENT_FAILURE')
        UNION
        SELECT l.recipient_account_id, l.transaction_reference_id, l.parent_billing_event_id, l.currency
        FROM settle.billing_event l
        JOIN (SELECT recipient_account_id, billing_event_id FROM failed
              UNION SELECT recipient_account_id, billing_event_id FROM undone_by_old) d
          ON l.recipient_account_id = d.recipient_account_id AND l.disbursement_billing_event_id = d.billing_event_id
        WHERE (EXISTS (SELECT 1 FROM failed) OR EXISTS (SELECT 1 FROM undone_by_old))
          AND l.file_id <= through_file_id AND l.action = 'DISBURSED'
          AND l.transaction_type NOT IN ('DISBURSEMENT', 'DISBURSEMENT_FAILURE')
    ), paid AS (  -- their references, a line without one taking its parent's (SPEC §3.1)
        SELECT l.recipient_account_id, l.transaction_reference_id, l.currency
        FROM line l WHERE l.transaction_reference_id IS NOT NULL
        UNION
        SELECT l.recipient_account_id, p.transaction_reference_id, l.currency
        FROM line l JOIN settle.billing_event p ON p.billing_event_id = l.parent_billing_event_id
        WHERE EXISTS (SELECT 1 FROM line n WHERE n.transaction_reference_id IS NULL)
          AND l.transaction_reference_id IS NULL AND p.file_id <= through_file_id
          AND p.transaction_reference_id IS NOT NULL
    )
    SELECT date_trunc('month', d.invoice_date AT TIME ZONE 'UTC') FROM failed d
    UNION
    SELECT date_trunc('month', u.failure_date AT TIME ZONE 'UTC') FROM undone_by_old u
    UNION
    SELECT date_trunc('month', g.invoice_date AT TIME ZONE 'UTC')
    FROM settle.billing_event g
    WHERE EXISTS (SELECT 1 FROM paid)
      AND g.action IN ('INVOICED', 'FORGIVEN') AND g.file_id <= through_file_id
      AND date_trunc('month', g.invoice_date AT TIME ZONE 'UTC') <> ALL (skip_months)
      AND (g.recipient_account_id, g.transaction_reference_id, g.currency)
          IN (SELECT recipient_account_id, transaction_reference_id, currency FROM paid)
$$;

-- periods_touched (021's body, wrapped by 022) keeps its body under the name periods_touched_revised;
-- periods_touched adds periods_touched_paid's months to it, as 022 added its own: each migration
-- wraps the one before, so the sources of months change apart. The payout part of the earlier body
-- (the charge groups of new payout lines with a reference, the payout a failure names as parent)
-- stays: a subset of what periods_touched_paid finds, so a month it gives is found twice, never
-- missed. The months already found are passed as skip_months, so the group lookup reads only the
-- charge groups of other months.
ALTER FUNCTION settle.periods_touched(bigint, bigint, integer) RENAME TO periods_touched_revised;

CREATE FUNCTION settle.periods_touched(after_file_id bigint, through_file_id bigint,
                                       deposit_window_days integer)
RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    WITH found AS MATERIALIZED (
        SELECT p FROM settle.periods_touched_revised(after_file_id, through_file_id, deposit_window_days) p
    )
    SELECT p FROM found
    UNION
    SELECT to_char(m, 'YYYY-MM')
    FROM settle.periods_touched_paid(after_file_id, through_file_id,
                                     ARRAY(SELECT to_date(f.p || '-01', 'YYYY-MM-DD')::timestamp
                                           FROM found f)) m
$$;
