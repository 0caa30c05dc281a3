-- 014_insights_incidents.sql — usage anomalies as incidents (SPEC §4.9, docs/insights.md).
-- A series is now scored against its hour-of-week (weekday, week) expectation, and a series that
-- is not scored says why in one of three statuses: NOT_ENOUGH_HISTORY (calendar history shorter
-- than four weeks), ONBOARDING (a young series ramping up) and IRREGULAR (usage too sparse or
-- erratic for an expectation). USAGE_ANOMALY rows are incidents and carry money now: expected and
-- actual quantities at the offer's unit price (NULL when the series has no unit price).
ALTER TABLE settle.insight_usage DROP CONSTRAINT insight_usage_status_check;
ALTER TABLE settle.insight_usage ADD CONSTRAINT insight_usage_status_check
    CHECK (status IN ('OK', 'ANOMALY', 'NOT_ENOUGH_HISTORY', 'ONBOARDING', 'IRREGULAR'));
COMMENT ON COLUMN settle.insight_usage.history_points IS
    'points of the baseline (hours, days or weeks of the weeks before the period) at the series'' grain';
COMMENT ON COLUMN settle.insight_usage.history_days IS
    'calendar days from the first usage in the 12 months before the period to the period';
COMMENT ON COLUMN settle.insight_usage.anomalies IS 'incidents = USAGE_ANOMALY rows of the series';
