-- 012_close.sql — closing a period (SPEC §6.1).
--
-- `settle close` seals a period's report set for the accountants. The ledger below keeps every
-- close: a later close of the same period at a later as-of supersedes the earlier one (the
-- current close of a period is its row with the largest as_of), the earlier row stays. The
-- close's run keeps its results (every result table is keyed by run), so the closed figures are
-- read back from the database, never parsed out of the set on disk.

CREATE TABLE settle.period_close (
    close_id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    period          text        NOT NULL CHECK (period ~ '^[0-9]{4}-[0-9]{2}$'),
    as_of           timestamptz NOT NULL,  -- the as-of of the closed set
    closed_by       text        NOT NULL,  -- $USER of the command (or the OS user name)
    manifest_sha256 text        NOT NULL CHECK (manifest_sha256 ~ '^[0-9a-f]{64}$'),
    closed_at       timestamptz NOT NULL DEFAULT clock_timestamp(), -- when, for the ledger only
    run_id          bigint      NOT NULL REFERENCES settle.run,    -- the run that wrote the set
    out_dir         text        NOT NULL,  -- the --out directory the set was written into
    UNIQUE (period, as_of)
);

-- The figures of a period's run that a restatement compares (SPEC §6.1, docs/reports.md
-- "Restatements"): per currency, in this order, the allocations' revenue, listing fee, seller tax
-- and net, the payout statements' net payable, the payouts disbursed (not failed) and the count
-- of exceptions (currency '' for exceptions without one). A sum that leaves bigint is an error.
CREATE FUNCTION settle.period_measures(p_run bigint, p_period text)
RETURNS TABLE (currency text, ord integer, measure text, value bigint)
LANGUAGE sql STABLE AS $$
    SELECT a.currency, m.ord, m.measure, m.value
    FROM (SELECT currency, sum(revenue_micros) AS rev, sum(listing_fee_micros) AS fee,
                 sum(seller_tax_micros) AS tax, sum(net_micros) AS net
          FROM settle.allocation WHERE run_id = p_run AND period = p_period GROUP BY currency) a
    CROSS JOIN LATERAL (VALUES (1, 'revenue', a.rev::bigint), (2, 'listing_fee', a.fee::bigint),
                               (3, 'seller_tax', a.tax::bigint), (4, 'net', a.net::bigint)) m(ord, measure, value)
    UNION ALL
    SELECT currency, 5, 'net_payable', sum(net_payable_micros)::bigint
    FROM settle.payout_statement WHERE run_id = p_run AND period = p_period GROUP BY currency
    UNION ALL
    SELECT currency, 6, 'disbursed', coalesce(sum(amount_micros) FILTER (WHERE status <> 'FAILED'), 0)::bigint
    FROM settle.disbursement WHERE run_id = p_run AND period = p_period GROUP BY currency
    UNION ALL
    SELECT coalesce(currency, ''), 7, 'exceptions', count(*)
    FROM settle.exception WHERE run_id = p_run AND period = p_period GROUP BY 1
$$;
