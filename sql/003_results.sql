-- 003_results.sql — what a reconcile run computed (SPEC §4), stored per run so that reports,
-- reruns and audits read the numbers back and a later run never changes an earlier run's results.
-- Money is bigint micros; a NULL money column means "not applicable", never zero.

CREATE TABLE settle.run (
    run_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    command        text        NOT NULL,  -- reconcile | report | nightly | rerun | verify
    as_of          timestamptz NOT NULL,  -- only rows ingested at or before it count
    started_at     timestamptz NOT NULL,  -- wall clock, for the log only; never in a report
    settle_version text        NOT NULL,
    schema_version integer     NOT NULL,
    config         text        NOT NULL   -- the effective configuration, "key=value" lines
);

CREATE TABLE settle.run_period (
    run_id bigint NOT NULL REFERENCES settle.run,
    period text   NOT NULL,  -- YYYY-MM
    PRIMARY KEY (run_id, period)
);

-- The large per-run tables (charge_group, allocation, aging: one row per charge group or party)
-- carry no foreign key and no primary key: per-row foreign-key triggers and a unique index over
-- five text columns cost more than computing the period. reconcile writes the run row and its
-- results in one transaction, and its balance assertions check on the stored rows that every
-- group appears once (docs/reconcile.md). Reports find a run's rows by (run_id, period).

-- SPEC §4.1/4.2: one row per charge group of the period; natural key
-- (run_id, period, recipient_account_id, transaction_reference_id, currency).
CREATE TABLE settle.charge_group (
    run_id                      bigint NOT NULL,
    period                      text   NOT NULL,
    recipient_account_id        text   NOT NULL,
    transaction_reference_id    text   NOT NULL,
    currency                    text   NOT NULL,
    agreement_id                text,
    offer_id                    text,    -- the group's own offer_id (smallest non-empty)
    product_id                  text,
    buyer_account_id            text,
    group_date                  date   NOT NULL,  -- earliest invoice_date
    revenue_micros              bigint NOT NULL,  -- B
    cogs_micros                 bigint NOT NULL,  -- C
    listing_fee_micros          bigint NOT NULL,  -- F
    seller_tax_micros           bigint NOT NULL,  -- T
    aws_tax_micros              bigint NOT NULL,  -- X
    other_seller_tax_micros     bigint NOT NULL,  -- OTHER_SELLER_TAX_SHARE family
    infra_micros                bigint NOT NULL,  -- AWS_INFRA_SHARE
    balance_adjustment_micros   bigint NOT NULL,  -- BALANCE_ADJUSTMENT
    rows_n                      bigint NOT NULL,  -- its INVOICED/FORGIVEN billing events
    match_status                text   NOT NULL,  -- MATCHED | NO_OFFER | AMBIGUOUS_OFFER | CURRENCY_MISMATCH
    match_rule                  text,             -- M1 | M2 | M3: the rule that decided (also for AMBIGUOUS/CURRENCY_MISMATCH)
    matched_offer_id            text,             -- the offer found (MATCHED, CURRENCY_MISMATCH)
    seller_of_record            boolean,          -- MATCHED: recipient is the offer's seller of record; else NULL
    allocated                   boolean NOT NULL,
    -- what became of the group; exactly one (balance assertion 5 of reconcile):
    --   ALLOCATED            matched, the recipient is the seller of record, B, F or T not zero
    --   UNMATCHED            NO_OFFER / AMBIGUOUS_OFFER / CURRENCY_MISMATCH, with that exception
    --   NOT_SELLER_OF_RECORD matched, another recipient's feed (e.g. the ISV's side of a CPPO sale)
    --   NOTHING_TO_ALLOCATE  B = F = T = 0 (tax-only, balance adjustment, a charge and its reversal)
    disposition                 text   NOT NULL,
    offer_expired               boolean NOT NULL, -- matched by M1/M2 outside the offer's validity
    disbursement_status         text   NOT NULL,  -- DISBURSED | PARTIAL | OVER | NOT_DISBURSED | FAILED
    remainder_micros            bigint NOT NULL   -- SPEC 4.5 remainder of its reference
);
CREATE INDEX charge_group_run ON settle.charge_group (run_id, period);

-- SPEC §4.3: one row per allocated group and party. party_index 0 is the ISV. Natural key
-- (run_id, period, recipient_account_id, transaction_reference_id, currency, party_index).
CREATE TABLE settle.allocation (
    run_id                   bigint NOT NULL,
    period                   text   NOT NULL,
    recipient_account_id     text   NOT NULL,
    transaction_reference_id text   NOT NULL,
    currency                 text   NOT NULL,
    party_index              integer NOT NULL,
    agreement_id             text,
    offer_id                 text   NOT NULL,  -- the matched offer
    match_rule               text   NOT NULL,
    party_role               text   NOT NULL,  -- ISV | RESELLER
    party_account_id         text   NOT NULL,
    revenue_micros           bigint NOT NULL,
    listing_fee_micros       bigint NOT NULL,
    seller_tax_micros        bigint NOT NULL,
    net_micros               bigint NOT NULL
);
CREATE INDEX allocation_run ON settle.allocation (run_id, period);

-- SPEC §4.4: per period, party, role and currency.
CREATE TABLE settle.payout_statement (
    run_id             bigint NOT NULL REFERENCES settle.run,
    period             text   NOT NULL,
    party_account_id   text   NOT NULL,
    party_role         text   NOT NULL,
    currency           text   NOT NULL,
    revenue_micros     bigint NOT NULL,
    listing_fee_micros bigint NOT NULL,
    seller_tax_micros  bigint NOT NULL,
    net_micros         bigint NOT NULL,
    net_payable_micros bigint NOT NULL,
    rounding_micros    bigint NOT NULL,
    PRIMARY KEY (run_id, period, party_account_id, party_role, currency)
);

-- SPEC §4.7: exceptions. seq gives a total order within (code, reference) for reports.
CREATE TABLE settle.exception (
    run_id               bigint NOT NULL REFERENCES settle.run,
    period               text   NOT NULL,
    code                 text   NOT NULL,
    reference            text   NOT NULL,
    seq                  integer NOT NULL,
    recipient_account_id text,
    agreement_id         text,
    offer_id             text,
    currency             text,
    expected_micros      bigint,
    actual_micros        bigint,
    difference_micros    bigint,
    detail               text   NOT NULL,
    PRIMARY KEY (run_id, period, code, reference, seq)
);

-- SPEC §4.5: one row per payout (DISBURSEMENT event) of the period.
CREATE TABLE settle.disbursement (
    run_id               bigint NOT NULL REFERENCES settle.run,
    period               text   NOT NULL,
    recipient_account_id text   NOT NULL,
    payout_id            text   NOT NULL,  -- the DISBURSEMENT billing_event_id
    payout_date          date   NOT NULL,
    currency             text   NOT NULL,
    amount_micros        bigint NOT NULL,
    lines_micros         bigint NOT NULL,  -- Σ line amounts (negative of what the payout should be)
    lines_n              bigint NOT NULL,
    status               text   NOT NULL,  -- SETTLED | MISMATCH | FAILED
    failure_id           text,             -- the DISBURSEMENT_FAILURE billing_event_id when FAILED
    bank_trace_id        text,
    deposit_id           text,             -- the matched deposit, or NULL
    deposit_match        text,             -- TRACE_ID | AMOUNT_DATE | NULL
    deposit_status       text   NOT NULL,  -- MATCHED | AMOUNT_MISMATCH | MISSING | PENDING | NOT_EXPECTED (failed)
    deposit_amount_micros bigint,          -- the matched deposit's amount
    deposit_value_date   date,             -- the matched deposit's value date
    PRIMARY KEY (run_id, period, recipient_account_id, payout_id)
);

-- SPEC §4.8: charge groups not fully disbursed at as-of. Natural key as charge_group's.
CREATE TABLE settle.aging (
    run_id                   bigint NOT NULL,
    period                   text   NOT NULL,
    recipient_account_id     text   NOT NULL,
    transaction_reference_id text   NOT NULL,
    currency                 text   NOT NULL,
    invoice_date             date   NOT NULL,
    days                     integer NOT NULL,
    bucket                   text   NOT NULL,  -- 0-30 | 31-60 | 61-90 | 91-120 | over 120
    disbursement_status      text   NOT NULL,
    remainder_micros         bigint NOT NULL
);
CREATE INDEX aging_run ON settle.aging (run_id, period);

-- SPEC §4.6: per USAGE offer, usage month and dimension.
CREATE TABLE settle.metering_result (
    run_id            bigint NOT NULL REFERENCES settle.run,
    period            text   NOT NULL,
    offer_id          text   NOT NULL,
    usage_month       text   NOT NULL,
    dimension         text   NOT NULL,
    currency          text   NOT NULL,
    quantity          bigint NOT NULL,  -- Σ quantity of the month's Success records
    records           bigint NOT NULL,  -- how many records
    unit_price_micros bigint,           -- NULL: UNKNOWN_DIMENSION
    expected_micros   bigint,           -- round(Σ quantity × unit_price) to minor units
    billed_micros     bigint,           -- per offer and month (repeated on each dimension row)
    status            text   NOT NULL,  -- OK | VARIANCE | UNBILLED | PENDING | UNKNOWN_DIMENSION
    PRIMARY KEY (run_id, period, offer_id, usage_month, dimension)
);
