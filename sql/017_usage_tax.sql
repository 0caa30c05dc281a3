-- 017_usage_tax.sql — SPEC §4.6 three-way metering and tax items (issue: three-way usage).
--
-- metering_result gains the marketplace's recorded quantity of the month (the daily usage feed's
-- Σ usage_quantity, matched to the offer by agreement_id, else offer_id): NULL when that feed is
-- not loaded at the run's as-of, so "nothing recorded" (0) and "not known" stay apart.
ALTER TABLE settle.metering_result ADD COLUMN recorded_quantity numeric;
