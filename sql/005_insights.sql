-- 005_insights.sql — statistics on metered usage and payment timing, per run and period (issue 6;
-- the method is docs/insights.md). Keyed like 003_results.sql: run_id + period first. Nothing here
-- is money: quantities and days are integers; statistics are exact decimals (numeric) computed in C
-- (src/insights.c, src/stats.c over GNU GSL) and stored from decimal text, never from a
-- floating-point value, so reports print the same digits on every machine. Usage anomalies themselves are rows of
-- settle.exception with code USAGE_ANOMALY (one per anomalous hour; money columns NULL).

-- One row per run and period: the totals behind the nightly summary line.
CREATE TABLE settle.insight_summary (
    run_id                   bigint NOT NULL REFERENCES settle.run,
    period                   text   NOT NULL,
    usage_series             bigint NOT NULL,  -- series with Success usage in the period
    usage_scored             bigint NOT NULL,  -- of which had enough history
    usage_not_enough_history bigint NOT NULL,
    usage_anomalous_series   bigint NOT NULL,
    usage_anomalies          bigint NOT NULL,  -- anomalous hours = USAGE_ANOMALY exceptions
    payout_samples           bigint NOT NULL,
    payout_median_days       numeric(12,1),    -- NULL when there is no sample
    collection_samples       bigint NOT NULL,
    collection_median_days   numeric(12,1),
    PRIMARY KEY (run_id, period)
);

-- One row per usage series of the period: (customer, product_code, dimension) with Success usage.
CREATE TABLE settle.insight_usage (
    run_id                  bigint NOT NULL REFERENCES settle.run,
    period                  text   NOT NULL,
    customer_aws_account_id text   NOT NULL,
    product_code            text   NOT NULL,
    dimension               text   NOT NULL,
    agreement_id            text,             -- smallest non-empty agreement_id of the period's records
    offer_id                text,             -- the one current offer with that agreement_id (informative)
    status                  text   NOT NULL CHECK (status IN ('OK', 'ANOMALY', 'NOT_ENOUGH_HISTORY')),
    history_points          bigint NOT NULL,  -- hours with usage in the 12 months before the period
    history_days            bigint NOT NULL,  -- distinct UTC days among them
    history_median          numeric,          -- exact (a half-integer); NULL when not scored
    history_mad             numeric,          -- median absolute deviation, unscaled, exact (a half-integer)
    band_low                bigint,           -- quantities band_low..band_high are not anomalies
    band_high               bigint,
    period_points           bigint NOT NULL,  -- hours with usage in the period
    observed_min            bigint NOT NULL,
    observed_max            bigint NOT NULL,
    anomalies               bigint NOT NULL,  -- hours outside the band
    max_score               numeric(12,1),    -- highest |x − median| / sigma of the period's hours
    note                    text   NOT NULL,  -- a sentence: why not scored, or what was found
    PRIMARY KEY (run_id, period, customer_aws_account_id, product_code, dimension)
);

-- The chart "usage of the most anomalous series with its expected band": the period's hours of
-- the ANOMALY series with the highest max_score (first in byte order on ties). Empty when no
-- series is anomalous.
CREATE TABLE settle.insight_usage_point (
    run_id                  bigint      NOT NULL REFERENCES settle.run,
    period                  text        NOT NULL,
    customer_aws_account_id text        NOT NULL,
    product_code            text        NOT NULL,
    dimension               text        NOT NULL,
    usage_hour              timestamptz NOT NULL,
    quantity                bigint      NOT NULL,
    band_low                bigint      NOT NULL,
    band_high               bigint      NOT NULL,
    score                   numeric(12,1) NOT NULL,
    anomaly                 boolean     NOT NULL,
    PRIMARY KEY (run_id, period, usage_hour)
);

-- Days from invoice to collection / payout, per recipient and currency, of the period's events.
CREATE TABLE settle.insight_timing (
    run_id               bigint NOT NULL REFERENCES settle.run,
    period               text   NOT NULL,
    measure              text   NOT NULL CHECK (measure IN ('invoice_to_collection', 'invoice_to_payout')),
    recipient_account_id text   NOT NULL,
    currency             text   NOT NULL,
    samples              bigint NOT NULL,
    mean_days            numeric(12,1) NOT NULL,  -- sum/n rounded half away from zero to 0.1
    median_days          numeric(12,1) NOT NULL,  -- exact
    p90_days             numeric(12,1) NOT NULL,  -- linear interpolation (GSL, type 7), exact
    min_days             integer NOT NULL,
    max_days             integer NOT NULL,
    PRIMARY KEY (run_id, period, measure, recipient_account_id, currency)
);

-- The same samples over every recipient and currency, in fixed bins (all bins always present).
CREATE TABLE settle.insight_histogram (
    run_id    bigint  NOT NULL REFERENCES settle.run,
    period    text    NOT NULL,
    measure   text    NOT NULL CHECK (measure IN ('invoice_to_collection', 'invoice_to_payout')),
    bin_order integer NOT NULL,  -- 1.. in the order of the days
    bin_label text    NOT NULL,  -- <0 | 0-7 | 8-14 | 15-30 | 31-45 | 46-60 | 61-90 | >90
    days_min  integer,           -- inclusive; NULL: open below
    days_max  integer,           -- inclusive; NULL: open above
    samples   bigint  NOT NULL,
    PRIMARY KEY (run_id, period, measure, bin_order)
);
