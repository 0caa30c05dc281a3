-- 026_period_measures_billed.sql — a restatement compares what the buyers were billed too (SPEC
-- §6.1, docs/reports.md "Restatements").
--
-- 012's period_measures began with the allocations' revenue. A late charge that allocates nothing
-- (no offer claims it: NO_OFFER) changes no allocation, payout statement or payout, so the
-- restatement of its closed period said only "1 more exception", while the Summary of the
-- restated set bills the buyers the charge more. The Summary's first line, "Billed to buyers, tax
-- included", is now the first measure: per currency, Σ revenue + seller tax + marketplace tax
-- (B + T + X, SPEC §4.1) of the period's charge groups, allocated or not — the same rows and the
-- same sum as the Charge groups sheet's billed column that the Summary adds up
-- (src/report_listing.c, sql_charge_groups). It is read from each run's stored charge groups, so
-- the close's run and the run now are measured alike, also for closes recorded before this
-- migration.
--
-- The other measures keep their order, one rank later: revenue, listing fee, seller tax and net
-- of the allocations, the payout statements' net payable, the payouts disbursed (not failed), the
-- count of exceptions (currency '' for exceptions without one). A sum that leaves bigint is an
-- error (the cast), never a wrap.

CREATE OR REPLACE FUNCTION settle.period_measures(p_run bigint, p_period text)
RETURNS TABLE (currency text, ord integer, measure text, value bigint)
LANGUAGE sql STABLE AS $$
    SELECT currency, 1, 'billed',
           sum(revenue_micros::numeric + seller_tax_micros + aws_tax_micros)::bigint
    FROM settle.charge_group WHERE run_id = p_run AND period = p_period GROUP BY currency
    UNION ALL
    SELECT a.currency, m.ord, m.measure, m.value
    FROM (SELECT currency, sum(revenue_micros) AS rev, sum(listing_fee_micros) AS fee,
                 sum(seller_tax_micros) AS tax, sum(net_micros) AS net
          FROM settle.allocation WHERE run_id = p_run AND period = p_period GROUP BY currency) a
    CROSS JOIN LATERAL (VALUES (2, 'revenue', a.rev::bigint), (3, 'listing_fee', a.fee::bigint),
                               (4, 'seller_tax', a.tax::bigint), (5, 'net', a.net::bigint)) m(ord, measure, value)
    UNION ALL
    SELECT currency, 6, 'net_payable', sum(net_payable_micros)::bigint
    FROM settle.payout_statement WHERE run_id = p_run AND period = p_period GROUP BY currency
    UNION ALL
    SELECT currency, 7, 'disbursed', coalesce(sum(amount_micros) FILTER (WHERE status <> 'FAILED'), 0)::bigint
    FROM settle.disbursement WHERE run_id = p_run AND period = p_period GROUP BY currency
    UNION ALL
    SELECT coalesce(currency, ''), 8, 'exceptions', count(*)
    FROM settle.exception WHERE run_id = p_run AND period = p_period GROUP BY 1
$$;
