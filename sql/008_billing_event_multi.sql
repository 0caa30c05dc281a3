-- 008_billing_event_multi.sql — the billing-event keys that need version resolution, kept between
-- runs, so that reading the current versions is one scan a parallel plan can split.
--
-- 007 found the keys with more than one stored row anew in every run (a hash aggregate over every
-- key, 0.7 s on 1M events) inside the query that reads the events; because that aggregate runs in
-- parallel itself, the scan around it cannot, and neither can the sort of a million rows that
-- follows (src/reconcile.c, rc_be). Here the keys live in a table, refreshed from the new billing
-- files only, and the winners of the few keys that have versions are computed apart, so the
-- reading of the events is a plain scan with two small hashed lookups: PostgreSQL scans and sorts it
-- on every core and merges (measured on 1M events: 3.5-4.4 s -> about 2.5 s).

-- Every billing_event_id with more than one stored row among the files up to through_file_id. A
-- superset of "more than one row as of T" for every T: a key listed here that has one row as of T
-- goes through the resolution and comes out as that row, so extra keys cost time, never results.
-- Derived data: settle.billing_event_multi_refresh() keeps it, nothing else writes it.
CREATE TABLE settle.billing_event_multi (
    billing_event_id text PRIMARY KEY
);
CREATE TABLE settle.billing_event_multi_state (
    through_file_id bigint NOT NULL  -- the billing files with file_id <= this are covered
);
INSERT INTO settle.billing_event_multi_state VALUES (0);

-- Adds the keys of the billing files not covered yet. First time (nothing covered): one hash
-- aggregate over every key. After that: the new files' distinct keys go into a temporary table,
-- analysed, and only those keys are counted over the whole table (a hash join against the small
-- side), which is what can have become multi-version; keys of older files alone were covered
-- before. Not a correlated EXISTS: the new files' row count is not in the statistics yet, and with
-- an estimate of one row the planner would scan the table once per new row. PL/pgSQL because a
-- SQL function cannot use a table it creates. Runs in the caller's transaction (reconcile, under
-- the run lock every settle command takes, so no ingest runs meanwhile).
CREATE FUNCTION settle.billing_event_multi_refresh()
RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    covered bigint;
    latest  bigint;
BEGIN
    SELECT st.through_file_id INTO covered FROM settle.billing_event_multi_state st;
    SELECT coalesce(max(f.file_id), 0) INTO latest FROM settle.ingest_file f WHERE f.kind = 'billing_event';
    IF latest <= covered THEN
        RETURN;
    END IF;
    IF covered = 0 THEN
        INSERT INTO settle.billing_event_multi
        SELECT b.billing_event_id FROM settle.billing_event b
        GROUP BY b.billing_event_id HAVING count(*) > 1
        ON CONFLICT DO NOTHING;
    ELSE
        CREATE TEMP TABLE billing_event_multi_new ON COMMIT DROP AS
        SELECT DISTINCT n.billing_event_id FROM settle.billing_event n WHERE n.file_id > covered;
        ANALYZE pg_temp.billing_event_multi_new;
        INSERT INTO settle.billing_event_multi
        SELECT o.billing_event_id
        FROM settle.billing_event o JOIN pg_temp.billing_event_multi_new k USING (billing_event_id)
        GROUP BY o.billing_event_id HAVING count(*) > 1
        ON CONFLICT DO NOTHING;
        DROP TABLE pg_temp.billing_event_multi_new;
    END IF;
    UPDATE settle.billing_event_multi_state SET through_file_id = latest;
END
$$;

-- The current version, as of as_of, of every key listed above or with a row in a file not covered
-- yet: 002's resolution, on those keys only. Returns the winning rows' positions and whether the
-- winner deletes its key (then the key has no current row).
CREATE FUNCTION settle.billing_event_winners(as_of timestamptz)
RETURNS TABLE (file_id bigint, line bigint, deleted boolean)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH keys AS MATERIALIZED (
        SELECT k.billing_event_id FROM settle.billing_event_multi k
        UNION
        SELECT n.billing_event_id FROM settle.billing_event n
        WHERE n.file_id > (SELECT st.through_file_id FROM settle.billing_event_multi_state st)
    )
    SELECT c.file_id, c.line, c.delete_date IS NOT NULL
    FROM (
        SELECT DISTINCT ON (v.billing_event_id) v.*
        FROM (
            SELECT DISTINCT ON (b.billing_event_id, b.valid_from, b.update_date,
                                b.recipient_account_id, b.action, b.transaction_type,
                                b.amount_micros, b.currency, b.invoice_date,
                                b.transaction_reference_id, b.insert_date, b.delete_date,
                                b.from_account_id, b.to_account_id, b.end_user_account_id,
                                b.product_id, b.agreement_id, b.offer_id,
                                b.parent_billing_event_id, b.disbursement_billing_event_id,
                                b.balance_impacting, b.payment_due_date, b.usage_period_start_date,
                                b.usage_period_end_date, b.invoice_id, b.line_item_id,
                                b.invoice_variant, b.buyer_invoice_id, b.charge_variant,
                                b.charge_side, b.billing_address_id, b.bank_trace_id,
                                b.disbursement_reference_number, b.broker_id, b.action_date) b.*
            FROM settle.billing_event b
            WHERE b.file_id IN (SELECT f.file_id FROM settle.ingest_file f WHERE f.ingested_at <= as_of)
              AND b.billing_event_id IN (SELECT keys.billing_event_id FROM keys)
            ORDER BY b.billing_event_id, b.valid_from DESC NULLS LAST, b.update_date DESC NULLS LAST,
                     b.recipient_account_id, b.action, b.transaction_type, b.amount_micros,
                     b.currency, b.invoice_date, b.transaction_reference_id, b.insert_date,
                     b.delete_date, b.from_account_id, b.to_account_id, b.end_user_account_id,
                     b.product_id, b.agreement_id, b.offer_id, b.parent_billing_event_id,
                     b.disbursement_billing_event_id, b.balance_impacting, b.payment_due_date,
                     b.usage_period_start_date, b.usage_period_end_date, b.invoice_id,
                     b.line_item_id, b.invoice_variant, b.buyer_invoice_id, b.charge_variant,
                     b.charge_side, b.billing_address_id, b.bank_trace_id,
                     b.disbursement_reference_number, b.broker_id, b.action_date,
                     b.file_id, b.line
        ) v
        ORDER BY v.billing_event_id, v.valid_from DESC NULLS LAST, v.update_date DESC NULLS LAST,
                 v.file_id DESC, v.line DESC
    ) c
$$;

-- The rows of billing_event_asof (002), from the two pieces above: every row of a key that needs
-- no resolution (not listed, not in an uncovered file), and the winners that do not delete their
-- key. Correct whether or not the list was refreshed (an uncovered file's keys are resolved);
-- fastest right after a refresh. tests/integration/test_ingest_versions.sh compares it with
-- billing_event_asof at every instant, before and after a refresh. Reconcile reads the same
-- predicate with the winners in a scratch table (src/reconcile.c).
CREATE OR REPLACE FUNCTION settle.billing_event_current(as_of timestamptz)
RETURNS SETOF settle.billing_event
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT s.* FROM settle.billing_event s
    WHERE s.file_id IN (SELECT f.file_id FROM settle.ingest_file f WHERE f.ingested_at <= as_of)
      AND s.delete_date IS NULL
      AND ((s.billing_event_id NOT IN (SELECT k.billing_event_id FROM settle.billing_event_multi k)
            AND s.billing_event_id NOT IN (
                SELECT n.billing_event_id FROM settle.billing_event n
                WHERE n.file_id > (SELECT st.through_file_id FROM settle.billing_event_multi_state st)))
           OR (s.file_id, s.line) IN (SELECT w.file_id, w.line FROM settle.billing_event_winners(as_of) w
                                      WHERE NOT w.deleted))
$$;

-- The winners of one run's as-of, for reconcile's reading of the events (src/reconcile.c fills it
-- in its transaction right after a refresh; every settle command holds the run lock). A regular
-- table, not a temporary one, because parallel workers cannot read the leader's temporary tables;
-- unlogged, because it is scratch: emptied by a crash, which is what it holds between runs.
CREATE UNLOGGED TABLE settle.rc_winner (
    file_id bigint NOT NULL,
    line    bigint NOT NULL,
    PRIMARY KEY (file_id, line)
);
