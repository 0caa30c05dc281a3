-- 001_ingest.sql — the ledger of ingested files and the append-only input tables (SPEC §3, §5, §6).
--
-- Rows are never updated or deleted: a correction is a new row, and "the current version as of T"
-- is computed by the *_asof functions of 002_asof.sql. Money is bigint micros (SPEC §2); percent
-- rates are bigint micros of a fraction (8 % = 80000). Every fact table leads with
-- recipient_account_id (or the seller's account_id), the natural distribution column should this
-- schema move to a distributed PostgreSQL (Citus); offers are small reference tables.
-- (file_id, line) identifies the physical source line of every stored row and orders ingestion.

CREATE SCHEMA IF NOT EXISTS settle;

CREATE TABLE settle.ingest_file (
    file_id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    file_name            text        NOT NULL,  -- base name as given on the command line
    sha256               text        NOT NULL,  -- lower-case hex; byte-identical re-ingest is a no-op
    file_bytes           bigint,                -- size (NULL: unknown); a file of a size never seen is new
    -- 'unknown': a file rejected whole before its kind could be told (empty, unreadable header)
    kind                 text        NOT NULL CHECK (kind IN ('billing_event','offer','offer_dimension','metering','bank_deposit','unknown')),
    recipient_account_id text,                  -- --recipient, for billing-event files without the column
    rows_loaded          bigint      NOT NULL,  -- rows stored
    rows_rejected        bigint      NOT NULL,  -- = its rows in settle.rejected_row
    rows_unchanged       bigint      NOT NULL DEFAULT 0, -- metering/deposit repeats with the same content
    file_rejected        boolean     NOT NULL DEFAULT false, -- structurally broken: nothing loaded
    ingested_at          timestamptz NOT NULL   -- the ingest instant compared with a run's as-of
);
-- A byte-identical file loads once. A file rejected whole may be tried again (say with --kind or
-- --recipient): every attempt is recorded, only one load per content can exist.
CREATE UNIQUE INDEX ingest_file_sha256_loaded ON settle.ingest_file (sha256) WHERE NOT file_rejected;

-- SPEC §5: quarantined rows. line is the physical line (1 = header); column_name NULL for
-- whole-row or whole-file problems.
CREATE TABLE settle.rejected_row (
    file_id     bigint NOT NULL REFERENCES settle.ingest_file,
    line        bigint NOT NULL,
    column_name text,
    code        text   NOT NULL,
    detail      text   NOT NULL
);
CREATE INDEX rejected_row_file ON settle.rejected_row (file_id, line);

-- SPEC §3.1: SDDS billing events. Timestamps are timestamptz (UTC); amount in micros.
CREATE TABLE settle.billing_event (
    recipient_account_id          text        NOT NULL,
    billing_event_id              text        NOT NULL,
    file_id                       bigint      NOT NULL,
    line                          bigint      NOT NULL,
    action                        text        NOT NULL,
    transaction_type              text        NOT NULL,
    amount_micros                 bigint      NOT NULL,
    currency                      text        NOT NULL,
    invoice_date                  timestamptz NOT NULL,
    transaction_reference_id      text,
    valid_from                    timestamptz,
    insert_date                   timestamptz,
    update_date                   timestamptz,
    delete_date                   timestamptz,
    from_account_id               text,
    to_account_id                 text,
    end_user_account_id           text,
    product_id                    text,
    agreement_id                  text,
    offer_id                      text,
    parent_billing_event_id       text,
    disbursement_billing_event_id text,
    balance_impacting             text,
    payment_due_date              timestamptz,
    usage_period_start_date       timestamptz,
    usage_period_end_date         timestamptz,
    invoice_id                    text,
    line_item_id                  text,
    invoice_variant               text,
    buyer_invoice_id              text,
    charge_variant                text,
    charge_side                   text,
    billing_address_id            text,
    bank_trace_id                 text,
    disbursement_reference_number text,
    broker_id                     text,
    action_date                   timestamptz
);

-- SPEC §3.2: offers, versioned by ingestion (latest ingested row per offer_id wins).
CREATE TABLE settle.offer (
    offer_id                text   NOT NULL,
    file_id                 bigint NOT NULL,
    line                    bigint NOT NULL,
    agreement_id            text,
    product_id              text,
    product_code            text,
    buyer_account_id        text,
    isv_account_id          text   NOT NULL,
    reseller_account_id     text,
    resale_authorization_id text,
    currency                text   NOT NULL,
    pricing_model           text   NOT NULL CHECK (pricing_model IN ('CONTRACT','USAGE')),
    split_basis             text   NOT NULL CHECK (split_basis IN ('DIRECT','MARKUP','SHARE')),
    markup_rate_micros      bigint,   -- markup_pct × 10^4
    isv_share_rate_micros   bigint,   -- isv_share_pct × 10^4
    listing_fee_rate_micros bigint,   -- listing_fee_pct × 10^4
    valid_from              date,
    valid_until             date
);

-- SPEC §3.3: usage prices, versioned by ingestion per (offer_id, dimension).
CREATE TABLE settle.offer_dimension (
    offer_id          text   NOT NULL,
    dimension         text   NOT NULL,
    file_id           bigint NOT NULL,
    line              bigint NOT NULL,
    unit_price_micros bigint NOT NULL
);

-- SPEC §3.4: the seller's metering log. First write wins: metering_record_id is unique, a
-- repeat with the same content is skipped, one with other content is quarantined.
CREATE TABLE settle.metering (
    metering_record_id      text        NOT NULL PRIMARY KEY,
    file_id                 bigint      NOT NULL,
    line                    bigint      NOT NULL,
    usage_hour              timestamptz NOT NULL,  -- the record's `timestamp`
    customer_aws_account_id text        NOT NULL,
    product_code            text        NOT NULL,
    dimension               text        NOT NULL,
    quantity                bigint      NOT NULL,
    status                  text        NOT NULL,
    license_arn             text,
    agreement_id            text,
    submitted_at            timestamptz
);

-- SPEC §3.5: bank statement lines. First write wins, as for metering.
CREATE TABLE settle.bank_deposit (
    account_id    text        NOT NULL,
    deposit_id    text        NOT NULL,
    file_id       bigint      NOT NULL,
    line          bigint      NOT NULL,
    value_date    date        NOT NULL,
    amount_micros bigint      NOT NULL,
    currency      text        NOT NULL,
    bank_trace_id text,
    reference     text,
    PRIMARY KEY (deposit_id)
);
