-- 006_metering_daily.sql — the metering log summed per file and UTC day (SPEC §4.6 reads nothing
-- finer). Metering is first-write-wins (SPEC §3.4): a stored record never changes, so a file's
-- daily sums never change either. Ingest adds one file's sums in the file's own transaction
-- (src/ingest.c), and reconcile reads this table instead of the records: a month of 5M hourly
-- records is about 200k rows here, and a nightly run sums only the new file. The as-of rule is
-- the metering's own (settle.metering_asof): the rows of files ingested at or before as-of.
CREATE TABLE settle.metering_daily (
    file_id                 bigint NOT NULL,
    agreement_id            text   NOT NULL,  -- '' for records without one
    customer_aws_account_id text   NOT NULL,
    product_code            text   NOT NULL,
    dimension               text   NOT NULL,
    usage_day               date   NOT NULL,  -- UTC day of the record's usage hour
    quantity                bigint NOT NULL,  -- sum of the day's Success quantities (overflow: error)
    records                 bigint NOT NULL   -- Success records summed
);
CREATE INDEX metering_daily_day ON settle.metering_daily (usage_day);

-- Only Success records are billable (SPEC §3.4); the others are not summed.
INSERT INTO settle.metering_daily
SELECT file_id, coalesce(agreement_id, ''), customer_aws_account_id, product_code, dimension,
       (usage_hour AT TIME ZONE 'UTC')::date, sum(quantity)::bigint, count(*)
FROM settle.metering
WHERE status = 'Success'
GROUP BY 1, 2, 3, 4, 5, 6;
