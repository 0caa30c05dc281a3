-- 020_usage_recorded.sql — the marketplace's recorded usage in the insights, the agreement
-- revision valid on the usage date, and the per-day three-way of the offers whose metered and
-- recorded quantities part (SPEC §4.6, §4.9; docs/insights.md "The marketplace's recorded
-- series", docs/reconcile.md "Three-way usage").

-- ---------------------------------------------------------------------------------------------
-- Insights: a series is scored from the seller's metering log (source 'metering') and, when the
-- daily usage feed is loaded, from the marketplace's recorded usage too (source 'recorded'): the
-- same (customer, product_code, dimension) may have a row of each.

ALTER TABLE settle.insight_usage
    ADD COLUMN source text NOT NULL DEFAULT 'metering' CHECK (source IN ('metering', 'recorded'));
ALTER TABLE settle.insight_usage DROP CONSTRAINT insight_usage_pkey;
ALTER TABLE settle.insight_usage
    ADD PRIMARY KEY (run_id, period, customer_aws_account_id, product_code, dimension, source);
COMMENT ON COLUMN settle.insight_usage.source IS
    'metering: the seller''s metering log (Success records, hourly); recorded: the marketplace''s daily usage feed';
ALTER TABLE settle.insight_usage_point
    ADD COLUMN source text NOT NULL DEFAULT 'metering' CHECK (source IN ('metering', 'recorded'));

-- ---------------------------------------------------------------------------------------------
-- SPEC §3.3, §4.6: the usage price of an agreement's dimension on each day of a month, from the
-- agreement term revision valid on that day — as the marketplace's reference queries join the
-- agreement revision valid on the usage date (usage_report.sql: usage_date >= valid_from and <
-- the next revision's valid_from, the first revision extended back in time). A term's revisions
-- are its versions by valid_from (each the newest update_date of that valid_from; a deleted one
-- is left out, the revision before it stays in force); a revision is in force from its
-- valid_from to the next one's, the first from the beginning. A day is judged at its first
-- instant (00:00 UTC), as the reference compares usage_date. Of several usage-based pricing
-- terms or rate cards of one agreement pricing one dimension, the same total order as
-- offer_term_prices_asof (term_id, rate card, entry). unit_price_micros NULL: the price is not an
-- exact number of micros (price gives its text).
CREATE FUNCTION settle.agreement_usage_prices(as_of timestamptz, first_day date, end_day date)
RETURNS TABLE (agreement_id text, dimension text, usage_day date, price text, unit_price_micros bigint)
LANGUAGE sql STABLE AS $$
    WITH v AS (
        SELECT DISTINCT ON (t.agreement_id, t.term_id, t.valid_from) t.agreement_id, t.term_id, t.valid_from,
               t.term_type, t.term_configuration, t.delete_date
        FROM settle.sdds_agreement_term t
        WHERE t.file_id IN (SELECT f.file_id FROM settle.visible_files(as_of) f)
        ORDER BY t.agreement_id, t.term_id, t.valid_from, t.update_date DESC NULLS LAST, t.file_id DESC, t.line DESC
    ),
    r AS (
        SELECT v.agreement_id, v.term_id, v.term_configuration,
               CASE WHEN lag(v.valid_from) OVER w IS NULL THEN NULL ELSE v.valid_from END AS valid_from,
               lead(v.valid_from) OVER w AS valid_to
        FROM v
        WHERE v.delete_date IS NULL AND v.term_type = 'UsageBasedPricingTerm'
        WINDOW w AS (PARTITION BY v.agreement_id, v.term_id ORDER BY v.valid_from NULLS FIRST)
    ),
    days AS (
        SELECT d::date AS usage_day FROM generate_series(first_day::timestamp, end_day::timestamp - interval '1 day',
                                                         interval '1 day') d
    )
    SELECT DISTINCT ON (r.agreement_id, card.elem->>'dimensionKey', days.usage_day)
           r.agreement_id, card.elem->>'dimensionKey', days.usage_day, card.elem->>'price',
           CASE WHEN (card.elem->>'price') ~ '^[0-9]+(\.[0-9]+)?$'
                 AND (card.elem->>'price')::numeric * 1000000 = trunc((card.elem->>'price')::numeric * 1000000)
                 AND (card.elem->>'price')::numeric < 1000000000000
                THEN ((card.elem->>'price')::numeric * 1000000)::bigint END
    FROM r
    JOIN days ON (r.valid_from IS NULL OR r.valid_from <= days.usage_day::timestamp AT TIME ZONE 'UTC')
             AND (r.valid_to IS NULL OR days.usage_day::timestamp AT TIME ZONE 'UTC' < r.valid_to)
    CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(r.term_configuration->'rateCards') = 'array'
                                                 THEN r.term_configuration->'rateCards' ELSE '[]' END)
                       WITH ORDINALITY rc (elem, n)
    CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(rc.elem->'rateCard') = 'array'
                                                 THEN rc.elem->'rateCard' ELSE '[]' END)
                       WITH ORDINALITY card (elem, n)
    WHERE card.elem->>'dimensionKey' IS NOT NULL
    ORDER BY r.agreement_id, card.elem->>'dimensionKey', days.usage_day, r.term_id COLLATE "C", rc.n, card.n
$$;

-- metering_result: when the price of a dimension changed within the month, which prices applied
-- to how much usage (unit_price_micros is then the last one); NULL when one price applied.
ALTER TABLE settle.metering_result ADD COLUMN price_note text;

-- ---------------------------------------------------------------------------------------------
-- SPEC §4.6 three-way, day by day: for every offer and dimension whose month has a
-- USAGE_RECORD_MISMATCH, each day of the month with its metered quantity (Success records) and
-- the marketplace's recorded quantity (daily usage feed), as reconcile attributed them to the
-- offer. Written by reconcile (src/reconcile_usage.c) beside metering_result; the workbook's
-- metering chart reads it (billed is per month: metering_result.billed_micros).
CREATE TABLE settle.metering_day_result (
    run_id            bigint  NOT NULL REFERENCES settle.run,
    period            text    NOT NULL,
    offer_id          text    NOT NULL,
    dimension         text    NOT NULL,
    usage_day         date    NOT NULL,
    metered_quantity  bigint  NOT NULL,
    recorded_quantity numeric NOT NULL,
    PRIMARY KEY (run_id, period, offer_id, dimension, usage_day)
);
