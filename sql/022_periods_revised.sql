-- 022_periods_revised.sql — a revised billing event touches the month it leaves (SPEC §3.1
-- versions, §1 periods; SPEC §6/§7: nightly reports every period its files touch).
--
-- periods_touched took the month of each new row's own invoice_date. A new version of a billing
-- event whose invoice_date moved to another month (an invoice of 2026-10-31 23:30 corrected to
-- 2026-11-01 00:30, delivered in November's file) touched only the new month: the charge left
-- October's charge groups, but nightly did not report October again, and its allocations.csv
-- still showed it (tests/integration/test_reference_queries.sh, bucket `months`, night 3).
-- Here the months of the earlier stored versions of every key the new files revise are added:
-- the month the current version leaves is reported again, whichever version wins.
-- Also added: the charge groups' months of payout lines that carry no transaction_reference_id
-- (the marketplace's examples leave it empty; SPEC §3.1 gives such a line its parent's). 004
-- joined only lines with a reference to their charge groups, so a November payout of an October
-- charge with such lines left October's status NOT_DISBURSED (bucket `months`, night 4).
--
-- The function of 004 (and of any later migration that replaces it, such as one adding the
-- periods of other feeds) keeps its body under the name periods_touched_rows; periods_touched is
-- that set plus the months of the earlier versions, so the two changes compose in migration
-- order. Its callers (nightly, retraction containment) are unchanged: a retracted revision makes
-- the earlier version current again, and its month is in the set too.
-- Speed: only versions in files up to after_file_id count (the new files' own rows are in the
-- set already), so the first night scans nothing of them; later nights hash the new files' keys
-- and scan the older billing events once (as billing_event_multi_refresh does), limited by the
-- BRIN index on file_id. The lines without reference cost nothing on a night that has none (a
-- one-time filter); else a scan for their parents and one for the parents' charge groups.

ALTER FUNCTION settle.periods_touched(bigint, bigint, integer) RENAME TO periods_touched_rows;

CREATE FUNCTION settle.periods_touched(after_file_id bigint, through_file_id bigint,
                                       deposit_window_days integer)
RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    SELECT p FROM settle.periods_touched_rows(after_file_id, through_file_id, deposit_window_days) p
    UNION
    -- the months of the earlier versions of the keys the new files revise
    SELECT to_char(date_trunc('month', o.invoice_date AT TIME ZONE 'UTC'), 'YYYY-MM')
    FROM settle.billing_event o
    WHERE o.file_id <= after_file_id AND o.invoice_date IS NOT NULL
      AND o.billing_event_id IN (SELECT n.billing_event_id FROM settle.billing_event n
                                 WHERE n.file_id > after_file_id AND n.file_id <= through_file_id)
    UNION
    -- payout lines without transaction_reference_id (SPEC §3.1: they take their parent's), new or
    -- of a payout that newly failed: the months of their parents' charge groups (SPEC §4.5),
    -- which periods_touched_rows finds for lines with a reference only
    (WITH refless AS MATERIALIZED (
        SELECT l.parent_billing_event_id FROM settle.billing_event l
        WHERE l.file_id > after_file_id AND l.file_id <= through_file_id
          AND l.action = 'DISBURSED' AND l.transaction_reference_id IS NULL
          AND l.parent_billing_event_id IS NOT NULL
          AND l.transaction_type NOT IN ('DISBURSEMENT', 'DISBURSEMENT_FAILURE')
        UNION
        SELECT l.parent_billing_event_id
        FROM settle.billing_event f JOIN settle.billing_event l
          ON l.recipient_account_id = f.recipient_account_id
         AND l.disbursement_billing_event_id = f.parent_billing_event_id
        WHERE f.file_id > after_file_id AND f.file_id <= through_file_id
          AND f.transaction_type = 'DISBURSEMENT_FAILURE'
          AND l.file_id <= through_file_id AND l.transaction_reference_id IS NULL
          AND l.parent_billing_event_id IS NOT NULL
     )
     SELECT to_char(date_trunc('month', g.invoice_date AT TIME ZONE 'UTC'), 'YYYY-MM')
     FROM settle.billing_event g
     WHERE EXISTS (SELECT 1 FROM refless)  -- a one-time filter: no scan on nights without them
       AND g.action IN ('INVOICED', 'FORGIVEN') AND g.file_id <= through_file_id
       AND (g.recipient_account_id, g.transaction_reference_id, g.currency) IN (
           SELECT p.recipient_account_id, p.transaction_reference_id, p.currency
           FROM settle.billing_event p
           WHERE p.file_id <= through_file_id AND p.transaction_reference_id IS NOT NULL
             AND p.billing_event_id IN (SELECT r.parent_billing_event_id FROM refless r)))
$$;
