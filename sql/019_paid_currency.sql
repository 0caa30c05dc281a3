-- 019_paid_currency.sql — SPEC §4.5 payouts in a paid currency, and the failures of a period as
-- rows of disbursements.csv (SPEC §8: "one row per payout and per failure").
--
-- A payout whose billing event carries disbursement_currency/disbursement_amount was paid in that
-- currency: disbursement keeps the paid amount beside the pricing one, and the Σ of its lines'
-- disbursement_amount in that currency (paid_lines_n of its lines_n carry one). All NULL for a
-- payout paid in its pricing currency.
ALTER TABLE settle.disbursement
    ADD COLUMN paid_currency      text,
    ADD COLUMN paid_amount_micros bigint,
    ADD COLUMN paid_lines_micros  bigint,
    ADD COLUMN paid_lines_n       bigint;

-- One row per DISBURSEMENT_FAILURE of the period (by its date): the payout it undoes and how it was
-- linked (docs/reconcile.md §4.5), its reversal lines. Kept apart from disbursement so that every
-- sum of payouts (the Summary, period_measures) stays a sum of payouts.
CREATE TABLE settle.disbursement_failure (
    run_id               bigint NOT NULL REFERENCES settle.run,
    period               text   NOT NULL,
    recipient_account_id text   NOT NULL,
    failure_id           text   NOT NULL,  -- the DISBURSEMENT_FAILURE billing_event_id
    failure_date         date   NOT NULL,
    currency             text   NOT NULL,
    amount_micros        bigint NOT NULL,  -- F.amount (−D.amount when it cancels D)
    lines_micros         bigint NOT NULL,  -- Σ its reversal lines
    lines_n              bigint NOT NULL,
    payout_id            text,             -- the payout it undoes; NULL: undoes none
    link                 text,             -- PARENT | TRACE_ID | AMOUNT | NULL
    bank_trace_id        text,
    paid_currency        text,
    paid_amount_micros   bigint,
    PRIMARY KEY (run_id, period, recipient_account_id, failure_id)
);
