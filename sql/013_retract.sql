-- 013_retract.sql — withdrawing an ingested file (SPEC §7 `settle retract`) and the per-period
-- failure record of nightly (SPEC §6, containment). docs/ingest.md "Retracting a file",
-- docs/reconcile.md "Containment".

-- A retraction withdraws one ledger row's rows from every run at an as-of at or after its instant.
-- Nothing is deleted: a rerun at an earlier as-of sees the file as it did. One retraction per
-- file (retracting again is a no-op that says so); retracted_at is the database clock, the same
-- clock as ingested_at and as-of; retracted_by is $USER of the command.
CREATE TABLE settle.retraction (
    retraction_id bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    file_id       bigint      NOT NULL UNIQUE REFERENCES settle.ingest_file,
    retracted_at  timestamptz NOT NULL,
    reason        text        NOT NULL CHECK (reason <> ''),
    retracted_by  text        NOT NULL
);

-- The one definition of "the files a run at as_of sees": ingested at or before as_of and not
-- retracted at or before it. Every as-of reader uses it as `file_id IN (SELECT v.file_id FROM
-- settle.visible_files(as_of) v)`, which PostgreSQL inlines (a plain SQL set-returning function)
-- into a hashed semi-join against the small ledger, as the bare ledger predicate was; a scalar
-- per-row test (file_visible(file_id, as_of)) would be a subplan per billing event. New feed
-- kinds' *_asof functions should use it the same way.
CREATE FUNCTION settle.visible_files(as_of timestamptz)
RETURNS TABLE (file_id bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT f.file_id FROM settle.ingest_file f
    WHERE f.ingested_at <= as_of
      AND NOT EXISTS (SELECT 1 FROM settle.retraction r
                      WHERE r.file_id = f.file_id AND r.retracted_at <= as_of)
$$;

-- The retractions the next nightly has not re-reported yet: it re-reports the periods of
-- every retraction after this id (the periods the retracted file touches, periods_touched of
-- 004 over that one file), then moves it with reported_through_file_id.
ALTER TABLE settle.nightly_state ADD COLUMN reported_through_retraction_id bigint NOT NULL DEFAULT 0;

-- Containment (docs/reconcile.md): a period whose computation failed in a nightly, kept until a
-- later nightly computes it; every nightly retries it and says "still failing since".
-- crashed: the process died while computing the period alone (an abort, a kill), as told by an
-- attempt left behind below.
CREATE TABLE settle.period_failure (
    period         text        PRIMARY KEY CHECK (period ~ '^[0-9]{4}-[0-9]{2}$'),
    first_failed   timestamptz NOT NULL,   -- as-of of the first failing nightly of this streak
    last_failed    timestamptz NOT NULL,   -- as-of of the latest
    failures       integer     NOT NULL,   -- nightlies in the streak
    crashed        boolean     NOT NULL,
    reason         text        NOT NULL
);

-- The periods a nightly is computing right now, committed before it starts them, removed with
-- its outcome. A row found by the next nightly means the process died in between: alone = true
-- names the one period that was being computed (it crashed, or the run was killed then); alone =
-- false a group of which one may have crashed, so the next nightly computes each of them alone,
-- after the others are committed and published.
CREATE TABLE settle.period_attempt (
    period     text        PRIMARY KEY,
    started    timestamptz NOT NULL,
    alone      boolean     NOT NULL
);

-- The as-of readers of 002, 007 and 008 again, with the ledger predicate replaced by
-- visible_files (the bodies are otherwise unchanged; their comments are in those files).

CREATE OR REPLACE FUNCTION settle.billing_event_asof(as_of timestamptz)
RETURNS SETOF settle.billing_event
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT c.*
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
            WHERE b.file_id IN (SELECT v.file_id FROM settle.visible_files(as_of) v)
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
    WHERE c.delete_date IS NULL
$$;

CREATE OR REPLACE FUNCTION settle.offer_asof(as_of timestamptz)
RETURNS SETOF settle.offer
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT DISTINCT ON (o.offer_id) o.*
    FROM settle.offer o
    WHERE o.file_id IN (SELECT v.file_id FROM settle.visible_files(as_of) v)
    ORDER BY o.offer_id, o.file_id DESC, o.line DESC
$$;

CREATE OR REPLACE FUNCTION settle.offer_dimension_asof(as_of timestamptz)
RETURNS SETOF settle.offer_dimension
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT DISTINCT ON (d.offer_id, d.dimension) d.*
    FROM settle.offer_dimension d
    WHERE d.file_id IN (SELECT v.file_id FROM settle.visible_files(as_of) v)
    ORDER BY d.offer_id, d.dimension, d.file_id DESC, d.line DESC
$$;

CREATE OR REPLACE FUNCTION settle.metering_asof(as_of timestamptz)
RETURNS SETOF settle.metering
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT m.* FROM settle.metering m
    WHERE m.file_id IN (SELECT v.file_id FROM settle.visible_files(as_of) v)
$$;

CREATE OR REPLACE FUNCTION settle.bank_deposit_asof(as_of timestamptz)
RETURNS SETOF settle.bank_deposit
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT d.* FROM settle.bank_deposit d
    WHERE d.file_id IN (SELECT v.file_id FROM settle.visible_files(as_of) v)
$$;

CREATE OR REPLACE FUNCTION settle.billing_event_winners(as_of timestamptz)
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
            WHERE b.file_id IN (SELECT v.file_id FROM settle.visible_files(as_of) v)
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

CREATE OR REPLACE FUNCTION settle.billing_event_current(as_of timestamptz)
RETURNS SETOF settle.billing_event
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT s.* FROM settle.billing_event s
    WHERE s.file_id IN (SELECT v.file_id FROM settle.visible_files(as_of) v)
      AND s.delete_date IS NULL
      AND ((s.billing_event_id NOT IN (SELECT k.billing_event_id FROM settle.billing_event_multi k)
            AND s.billing_event_id NOT IN (
                SELECT n.billing_event_id FROM settle.billing_event n
                WHERE n.file_id > (SELECT st.through_file_id FROM settle.billing_event_multi_state st)))
           OR (s.file_id, s.line) IN (SELECT w.file_id, w.line FROM settle.billing_event_winners(as_of) w
                                      WHERE NOT w.deleted))
$$;
