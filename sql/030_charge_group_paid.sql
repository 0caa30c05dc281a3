-- 030_charge_group_paid.sql — what of a charge group's remainder was paid (docs/workbook.md
-- "Still owed at as-of").
--
-- remainder_micros (003) is its reference's SPEC §4.5 remainder at the run's as-of: every charge of
-- the reference, in any month, except the marketplace's tax, plus the DISBURSED lines that count.
-- The Summary explains what is still owed from the period's groups: what they charged, what was
-- paid against their references by the as-of (any payout date), and what the same references'
-- charges of other months carried in. paid_micros is the second: the counted lines (negative:
-- money paid out), the same for every group of one reference. The first is the group's own
-- components, the third the rest of the remainder. Runs stored before this migration read 0.

ALTER TABLE settle.charge_group ADD COLUMN paid_micros bigint NOT NULL DEFAULT 0;
