-- 004_report_state.sql — what `settle nightly` has reported (SPEC §6, §7).
--
-- nightly ingests files, then reconciles and reports every period their rows touch. Its reports
-- are published after its transaction commits, so a run killed in between has ingested files
-- whose periods were never reported. The watermark below moves only after the reports are in
-- place: every file with a larger file_id still has its periods (re)reported by the next nightly.

CREATE TABLE settle.nightly_state (
    singleton                boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    reported_through_file_id bigint  NOT NULL DEFAULT 0  -- files up to this id have their periods reported
);
INSERT INTO settle.nightly_state DEFAULT VALUES;

-- "The rows of the files after the watermark" without reading the whole history: rows are
-- appended in file_id order, so a BRIN index (a few pages, next to free to maintain while COPY
-- appends) lets periods_touched skip every block of older files.
CREATE INDEX billing_event_file_brin ON settle.billing_event USING brin (file_id) WITH (autosummarize = on);
CREATE INDEX metering_file_brin ON settle.metering USING brin (file_id) WITH (autosummarize = on);
CREATE INDEX bank_deposit_file_brin ON settle.bank_deposit USING brin (file_id) WITH (autosummarize = on);

-- The periods (YYYY-MM) whose reports the rows of files after_file_id < file_id <= through_file_id
-- can change:
-- * billing events: the month of invoice_date (SPEC §1), and for payout lines and payout failures
--   the months of the charge groups whose disbursement status they change (SPEC §4.5);
-- * metering records: the month of the usage hour (SPEC §4.6);
-- * bank deposits: the month of value_date, and the month before when the deposit's window
--   (value_date - deposit_window_days, SPEC §4.5) reaches a payout there;
-- * offers and usage prices carry no period: every month within the offer's validity that has
--   new data or was reconciled before (settle.run_period).
-- Speed (a month of 1M billing events and 5M metering records arrives in one night): the months
-- of a file's rows are read from their min and max when those are at most one month apart, which
-- is exact (both months have rows) and avoids a DISTINCT over millions of rows; only a wider span
-- falls back to DISTINCT. Payout lines are joined to their charge groups only for groups outside
-- the months already found, so the usual case (payouts of the same month) joins nothing.
CREATE FUNCTION settle.periods_touched(after_file_id bigint, through_file_id bigint,
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
    ), validity AS (
        SELECT o.valid_from, o.valid_until FROM settle.offer o
        WHERE o.file_id > after_file_id AND o.file_id <= through_file_id
        UNION
        SELECT o.valid_from, o.valid_until
        FROM settle.offer_dimension d JOIN settle.offer o ON o.offer_id = d.offer_id
        WHERE d.file_id > after_file_id AND d.file_id <= through_file_id AND o.file_id <= through_file_id
    ), known_months AS (
        SELECT m FROM be_months UNION SELECT m FROM me_months
        UNION SELECT DISTINCT (period || '-01')::timestamp FROM settle.run_period
    ), all_months AS (
        SELECT m FROM be_months
        UNION SELECT m FROM me_months
        UNION SELECT m FROM dep_months
        UNION SELECT m FROM dep_window_months
        UNION SELECT m FROM paid_months
        UNION SELECT k.m FROM known_months k JOIN validity v
          ON (v.valid_from IS NULL OR v.valid_from < k.m + interval '1 month')
         AND (v.valid_until IS NULL OR v.valid_until >= k.m)
    )
    SELECT to_char(m, 'YYYY-MM') FROM all_months
$$;
