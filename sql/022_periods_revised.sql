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
--
-- The function of 004 (and of any later migration that replaces it, such as one adding the
-- periods of other feeds) keeps its body under the name periods_touched_rows; periods_touched is
-- that set plus the months of the earlier versions, so the two changes compose in migration
-- order. Its callers (nightly, retraction containment) are unchanged: a retracted revision makes
-- the earlier version current again, and its month is in the set too.
-- Speed: only versions in files up to after_file_id count (the new files' own rows are in the
-- set already), so the first night scans nothing of them; later nights hash the new files' keys
-- and scan the older billing events once (as billing_event_multi_refresh does), limited by the
-- BRIN index on file_id.

ALTER FUNCTION settle.periods_touched(bigint, bigint, integer) RENAME TO periods_touched_rows;

CREATE FUNCTION settle.periods_touched(after_file_id bigint, through_file_id bigint,
                                       deposit_window_days integer)
RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    SELECT p FROM settle.periods_touched_rows(after_file_id, through_file_id, deposit_window_days) p
    UNION
    SELECT to_char(date_trunc('month', o.invoice_date AT TIME ZONE 'UTC'), 'YYYY-MM')
    FROM settle.billing_event o
    WHERE o.file_id <= after_file_id AND o.invoice_date IS NOT NULL
      AND o.billing_event_id IN (SELECT n.billing_event_id FROM settle.billing_event n
                                 WHERE n.file_id > after_file_id AND n.file_id <= through_file_id)
$$;
