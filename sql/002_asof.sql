-- 002_asof.sql — "the current version of every row as known at instant T" (SPEC §3, §6).
-- Only rows of files ingested at or before as_of count. These are plain SQL functions so the
-- planner inlines them into the caller's query.

-- SPEC §3.1: per (recipient_account_id, billing_event_id) the current version is the newest
-- valid_from, then the newest update_date (NULL oldest), then the latest ingested; a version with
-- delete_date set deletes the key. A row identical to an earlier one (same content, other file)
-- "changes nothing": it keeps the ingest position of its first occurrence.
CREATE FUNCTION settle.billing_event_asof(as_of timestamptz)
RETURNS SETOF settle.billing_event
LANGUAGE sql STABLE AS $$
    SELECT (v.be).*
    FROM (
        SELECT DISTINCT ON (x.recipient_account_id, x.billing_event_id) x.be, x.delete_date
        FROM (
            SELECT b AS be, b.recipient_account_id, b.billing_event_id, b.valid_from, b.update_date,
                   b.delete_date,
                   min(b.file_id * 4294967296 + b.line) OVER (
                       PARTITION BY b.recipient_account_id, b.billing_event_id,
                                    md5(row(b.action, b.transaction_type, b.amount_micros, b.currency,
                                            b.invoice_date, b.transaction_reference_id, b.valid_from,
                                            b.insert_date, b.update_date, b.delete_date,
                                            b.from_account_id, b.to_account_id, b.end_user_account_id,
                                            b.product_id, b.agreement_id, b.offer_id,
                                            b.parent_billing_event_id, b.disbursement_billing_event_id,
                                            b.balance_impacting, b.payment_due_date,
                                            b.usage_period_start_date, b.usage_period_end_date,
                                            b.invoice_id, b.line_item_id, b.invoice_variant,
                                            b.buyer_invoice_id, b.charge_variant, b.charge_side,
                                            b.billing_address_id, b.bank_trace_id,
                                            b.disbursement_reference_number, b.broker_id,
                                            b.action_date)::text)) AS first_seen
            FROM settle.billing_event b
            JOIN settle.ingest_file f ON f.file_id = b.file_id
            WHERE f.ingested_at <= as_of
        ) x
        ORDER BY x.recipient_account_id, x.billing_event_id,
                 x.valid_from DESC NULLS LAST, x.update_date DESC NULLS LAST, x.first_seen DESC
    ) v
    WHERE v.delete_date IS NULL
$$;

-- SPEC §3.2: the latest ingested row per offer_id.
CREATE FUNCTION settle.offer_asof(as_of timestamptz)
RETURNS SETOF settle.offer
LANGUAGE sql STABLE AS $$
    SELECT DISTINCT ON (o.offer_id) o.*
    FROM settle.offer o JOIN settle.ingest_file f ON f.file_id = o.file_id
    WHERE f.ingested_at <= as_of
    ORDER BY o.offer_id, o.file_id DESC, o.line DESC
$$;

-- SPEC §3.3: the latest ingested price per (offer_id, dimension).
CREATE FUNCTION settle.offer_dimension_asof(as_of timestamptz)
RETURNS SETOF settle.offer_dimension
LANGUAGE sql STABLE AS $$
    SELECT DISTINCT ON (d.offer_id, d.dimension) d.*
    FROM settle.offer_dimension d JOIN settle.ingest_file f ON f.file_id = d.file_id
    WHERE f.ingested_at <= as_of
    ORDER BY d.offer_id, d.dimension, d.file_id DESC, d.line DESC
$$;

-- SPEC §3.4: metering is first-write-wins, so every stored row is current once ingested.
CREATE FUNCTION settle.metering_asof(as_of timestamptz)
RETURNS SETOF settle.metering
LANGUAGE sql STABLE AS $$
    SELECT m.* FROM settle.metering m JOIN settle.ingest_file f ON f.file_id = m.file_id
    WHERE f.ingested_at <= as_of
$$;

CREATE FUNCTION settle.bank_deposit_asof(as_of timestamptz)
RETURNS SETOF settle.bank_deposit
LANGUAGE sql STABLE AS $$
    SELECT d.* FROM settle.bank_deposit d JOIN settle.ingest_file f ON f.file_id = d.file_id
    WHERE f.ingested_at <= as_of
$$;
