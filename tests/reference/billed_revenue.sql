-- billed_revenue.sql — the marketplace's billed revenue report, translated to PostgreSQL.
--
-- Source: aws-samples/aws-marketplace-api-samples, seller-data-feeds/queries/billed_revenue_report.sql
-- (Athena/Presto SQL over the raw SDDS feeds, 2026). This file keeps the CTEs that decide the figures,
-- under the same names, with the same joins, version resolution, flags, groupings and filters:
--   billing_events_with_uni_temporal_data, agreements_with_uni_temporal_data,
--   agreements_revisions_with_history, billing_event_feed_with_fks,
--   billing_event_with_business_flags, billing_event_with_categorized_transaction,
--   line_items_aggregated, line_items_with_window_functions, the net revenue / disbursed /
--   undisbursed / disbursement_flag steps, revenue_recognition_at_invoice_time_refactor.
-- Left out, because they only add descriptive columns through LEFT JOINs on non-overlapping
-- history windows (one row each, no row added or removed): accounts, addresses, offers, offer
-- targets, products, legacy ids, accepted term types, the invoice-id and bank-trace listaggs, and
-- every *_disbursement_currency bucket (settle reports the pricing currency, SPEC §4.5 checks the
-- paid currency separately). Also left out: the final `where invoice_date >= current_date - 90`,
-- a display window — the test selects by period instead.
--
-- Translation notes (Presto -> PostgreSQL):
-- - from_iso8601_timestamp(x) -> x::timestamptz; cast(x as decimal(38,6)) -> x::numeric(38,6).
-- - Presto orders NULLs last in both directions; PostgreSQL puts them first in DESC, so every
--   `order by ... desc` of the original is written `desc nulls last`.
-- - Athena reads an empty CSV field as ''; \copy reads it as NULL. The original turns '' into
--   NULL everywhere it matters, so both give the same values.
-- - `a || b` is NULL when either is NULL in both dialects (the surrogate key relies on it).
-- - round(x, 2) on numeric rounds half away from zero in both.
-- - PostgreSQL names are at most 63 bytes: the original's suffixes _this_disbursement_id_or_invoiced
--   and _this_disbursement_id_or_invoiced_or_collected are shortened to _this_disb_or_inv and
--   _this_disb_or_inv_or_coll.
-- Output: table ref.categorized_row (the chain up to billing_event_with_categorized_transaction,
-- one row per billing event kept), table ref.report_line_items (the chain up to the disbursement flag, every row of
-- line_items_aggregated; collections_and_disbursements.sql reads it, the chain of that query being
-- this one's to the letter), and table ref.billed_revenue_line, one row per line item of the report (its key,
-- internal_buyer_invoice_line_item_surrogate_id_with_currency, is silent_internal_report_transaction
-- in the original), with the report's rounded columns and the unrounded sums beside them (suffix
-- _exact), plus the comparison aid ref_period: the month (UTC) of the line's earliest raw
-- invoice_date — the report's own Invoice_Date is the purchase invoice's date, NULL for lines
-- without a PURCHASE/RESALE invoice variant.

DROP TABLE IF EXISTS ref.billed_revenue_line;
DROP TABLE IF EXISTS ref.report_line_items;
DROP TABLE IF EXISTS ref.categorized_row;
-- The chain is cut in two statements after billing_event_with_categorized_transaction, whose rows
-- are kept as table ref.categorized_row (a comparison aid: one row per billing event the report
-- keeps, with its categorized amounts and its own invoice_date, so the test can also sum a line
-- item per month of its rows, see docs/reference-queries.md "Line items across months").
CREATE TABLE ref.categorized_row AS
with
-- billed_revenue_report.sql: agreements_with_uni_temporal_data
agreements_with_uni_temporal_data as (
select
    agreement_id,
    offer_id,
    proposer_account_id,
    acceptor_account_id,
    valid_from::timestamptz as valid_from,
    start_time, end_time,
    status,
    currency_code as estimated_charges_currency_code
from
    (
    select
        case when agreement_id = '' then null else agreement_id end as agreement_id,
        offer_id,
        proposer_account_id,
        acceptor_account_id,
        valid_from,
        start_time,
        end_time,
        delete_date,
        case when status = '' then null else status end as status,
        case when currency_code = '' then null else currency_code end as currency_code,
        row_number() over (partition by agreement_id, valid_from order by update_date::timestamptz desc nulls last) as row_num
    from
        ref.agreementfeed_v1
    ) x
where
    row_num = 1
    and (delete_date is null or delete_date = '')
),
-- billed_revenue_report.sql: agreements_revisions_with_history (the valid_from/valid_to windows;
-- the first revision reaches back to 1970, and then 60 more minutes)
agreements_revisions_with_history as (
with agreements_with_window_functions as (
    select
        agreement_id,
        offer_id,
        proposer_account_id,
        acceptor_account_id,
        valid_from as agreement_valid_from,
        case
            when lag(valid_from) over (partition by agreement_id order by valid_from asc) is null
            then timestamptz '1970-01-01 00:00:00+00'
            else valid_from
        end as valid_from,
        coalesce(
            lead(valid_from) over (partition by agreement_id order by valid_from asc),
            timestamptz '2999-01-01 00:00:00+00'
        ) as valid_to,
        rank() over (partition by agreement_id order by valid_from asc) as version
    from
        agreements_with_uni_temporal_data
    )
select
    agreement_valid_from,
    agreement_id,
    offer_id,
    proposer_account_id,
    acceptor_account_id,
    valid_from,
    case
        when version = 1 then valid_from - interval '60 minutes'
        else valid_from
    end as valid_from_adjusted,
    valid_to
from
    agreements_with_window_functions
),
-- billed_revenue_report.sql: billing_events_with_uni_temporal_data. A billing_event_id has one
-- valid_from; its versions differ by update_date: the latest update_date wins, then the
-- soft-deleted key is removed.
billing_events_with_uni_temporal_data as (
select *
from
    (
    select
        billing_event_id,
        parent_billing_event_id,
        valid_from::timestamptz as valid_from,
        update_date::timestamptz as update_date,
        delete_date,
        case when invoice_date is null or invoice_date = '' then null else invoice_date::timestamptz end as invoice_date,
        transaction_type,
        case when transaction_reference_id = '' then null else transaction_reference_id end as transaction_reference_id,
        bank_trace_id,
        case when broker_id = '' then null else broker_id end as broker_id,
        case when product_id = '' then null else product_id end as product_id,
        case when disbursement_billing_event_id = '' then null else disbursement_billing_event_id end as disbursement_billing_event_id,
        action,
        case when from_account_id = '' then null else from_account_id end as from_account_id,
        case when to_account_id = '' then null else to_account_id end as to_account_id,
        case when end_user_account_id = '' then null else end_user_account_id end as end_user_account_id,
        case when billing_address_id = '' then null else billing_address_id end as billing_address_id,
        amount::numeric(38,6) as amount,
        currency,
        case when balance_impacting::int = 1 then true else false end as balance_impacting,
        case when agreement_id = '' then null else agreement_id end as agreement_id,
        invoice_id,
        case when payment_due_date is null or payment_due_date = '' then null else payment_due_date::timestamptz end as payment_due_date,
        case when usage_period_start_date is null or usage_period_start_date = '' then null else usage_period_start_date::timestamptz end as usage_period_start_date,
        case when usage_period_end_date is null or usage_period_end_date = '' then null else usage_period_end_date::timestamptz end as usage_period_end_date,
        case when buyer_transaction_reference_id = '' then null else buyer_transaction_reference_id end as buyer_transaction_reference_id,
        disbursement_amount::numeric(38,6) as disbursement_amount,
        case when disbursement_currency = '' then null else disbursement_currency end as disbursement_currency,
        case when disbursement_reference_number = '' then null else disbursement_reference_number end as disbursement_reference_number,
        case when buyer_invoice_id = '' then null else buyer_invoice_id end as buyer_invoice_id,
        invoice_variant,
        case when action_date = '' then null else action_date::timestamptz end as action_date,
        offer_id,
        case when buyer_invoice_date = '' then null else buyer_invoice_date::timestamptz end as buyer_invoice_date,
        line_item_id,
        buyer_line_item_id,
        charge_variant,
        charge_side,
        recipient_account_id,
        row_number() over (partition by billing_event_id order by update_date::timestamptz desc nulls last) as row_num
    from
        ref.billingeventfeed_v1
    ) x
where
    row_num = 1
    and (delete_date is null or delete_date = '')
),
-- billed_revenue_report.sql: billing_event_feed_with_fks (the line item key)
billing_event_feed_with_fks as (
select
    feed.*,
    feed.buyer_invoice_id as purchase_invoice_id,
    feed.buyer_invoice_date as purchase_invoice_date,
    case
        when transaction_type = 'BALANCE_ADJUSTMENT' then 'BALANCE_ADJUSTMENT:' || recipient_account_id || ':' || cast(feed.invoice_date as varchar)
        when buyer_invoice_id is null then 'NO_BUYER_INVOICE_FOR:' || invoice_id || ':' || line_item_id || ':' || recipient_account_id
        else buyer_invoice_id || ':' || buyer_line_item_id || ':' || recipient_account_id
    end as internal_buyer_invoice_line_item_surrogate_id,
    feed.disbursement_reference_number as amazon_reference_id
from
    billing_events_with_uni_temporal_data as feed
),
-- billed_revenue_report.sql: billing_event_with_business_flags (the payout of each line by
-- self-join, the agreement revision of its invoice_date, the invoice and COGS flags)
billing_event_with_business_flags as (
select
    bl.recipient_account_id,
    bl.billing_event_id,
    bl.end_user_account_id,
    bl.agreement_id,
    agreement.proposer_account_id,
    coalesce(agreement.offer_id, bl.offer_id) as offer_id,
    agreement.acceptor_account_id,
    case
        when bl.transaction_type like 'AWS%' then null
        when bl.invoice_id is null then bl.to_account_id
        else bl.from_account_id end as payer_account_id,
    bl.product_id,
    bl.action,
    bl.transaction_type,
    bl.parent_billing_event_id,
    bl.disbursement_billing_event_id,
    bl.amount,
    bl.currency,
    bl.disbursement_amount,
    bl.balance_impacting,
    bl.invoice_date,
    bl.payment_due_date,
    bl.usage_period_start_date,
    bl.usage_period_end_date,
    bl.invoice_id,
    bl.line_item_id,
    bl.purchase_invoice_id,
    bl.buyer_line_item_id,
    bl.purchase_invoice_date,
    bl.invoice_variant,
    bl.charge_variant,
    bl.charge_side,
    bl.billing_address_id,
    bl.transaction_reference_id,
    bl.buyer_transaction_reference_id,
    case
        when disbursement.bank_trace_id in ('EMEA_MP_TEST_TRACE_ID', 'testTraceId') then null
        else disbursement.bank_trace_id
    end as bank_trace_id,
    disbursement.amazon_reference_id,
    case when bl.action = 'COLLECTED' then bl.action_date else null end as collection_date,
    disbursement.invoice_date as disbursement_date,
    bl.disbursement_billing_event_id as disbursement_id,
    disbursement.transaction_type as disbursement_status,
    case
        when disbursement.billing_event_id is not null then disbursement.billing_event_id
        when bl.action = 'COLLECTED' then '<collected>'
        else '<invoiced>'
    end as disbursement_id_or_invoiced_or_collected,
    bl.broker_id,
    bl.internal_buyer_invoice_line_item_surrogate_id,
    bl.internal_buyer_invoice_line_item_surrogate_id ||
        '_PricingCurrency:' ||
        coalesce(bl.currency, '') ||
        '_DisbursementCurrency:' ||
        coalesce(coalesce(bl.disbursement_currency, max(bl.disbursement_currency) over (partition by bl.internal_buyer_invoice_line_item_surrogate_id, bl.currency)), '') as internal_buyer_invoice_line_item_surrogate_id_with_currency,
    coalesce(bl.invoice_variant, '<null>') in ('RESALE') as is_resale_invoice,
    coalesce(bl.invoice_variant, '<null>') in ('TAX_VAT') as is_seller_issued_invoice,
    coalesce(bl.invoice_variant, '<null>') in ('LISTING_FEE') as is_listing_fee_invoice,
    coalesce(bl.invoice_variant, '<null>') in ('PURCHASE') as is_purchase_invoice,
    (
        coalesce(bl.invoice_variant, '<null>') in ('LISTING_FEE')
        or (coalesce(bl.invoice_variant, '<null>') in ('PURCHASE') and coalesce(bl.charge_variant, '<null>') = 'LISTING_FEE')
    ) as is_listing_fee_charge,
    case when bl.transaction_type = 'SELLER_REV_SHARE' and bl.charge_variant = 'RESALE' and bl.charge_side = 'BUYING' then true else false end as is_cog,
    case when bl.transaction_type in ('SELLER_REV_SHARE_CREDIT', 'SELLER_REV_SHARE_REFUND') and bl.charge_variant = 'RESALE' and bl.charge_side = 'BUYING' then true else false end as is_cog_refund,
    (
        (bl.transaction_type = 'SELLER_REV_SHARE' and bl.charge_variant = 'RESALE' and bl.charge_side = 'SELLING')
        or (bl.transaction_type in ('SELLER_REV_SHARE_CREDIT', 'SELLER_REV_SHARE_REFUND') and bl.charge_variant = 'RESALE' and bl.charge_side = 'SELLING')
    ) and coalesce(bl.invoice_variant, '<null>') in ('RESALE') as is_isv_wholesale_invoice,
    coalesce(bl.disbursement_currency, max(bl.disbursement_currency) over (partition by bl.internal_buyer_invoice_line_item_surrogate_id, bl.currency)) as disbursement_currency
from
    billing_event_feed_with_fks as bl
    left join billing_event_feed_with_fks as disbursement on
        disbursement.transaction_type like 'DISBURSEMENT%' and
        (
            disbursement.action = 'DISBURSED' and
            disbursement.transaction_type in ('DISBURSEMENT', 'DISBURSEMENT_FAILURE') and
            bl.disbursement_billing_event_id = disbursement.billing_event_id
        )
    left join agreements_revisions_with_history as agreement on
        bl.agreement_id = agreement.agreement_id and
        bl.invoice_date >= agreement.valid_from_adjusted and
        bl.invoice_date < agreement.valid_to
where
    coalesce(bl.transaction_type, '<null>') not like 'DISBURSEMENT%'
    and (bl.agreement_id is null or agreement.agreement_id is not null)
),
-- billed_revenue_report.sql: billing_event_with_categorized_transaction (pricing currency buckets)
billing_event_with_categorized_transaction as (
select
    bl.*,
    case when is_purchase_invoice then invoice_id when is_resale_invoice then purchase_invoice_id else null end as purchase_invoice_id_or_null,
    case when is_purchase_invoice or transaction_type = 'BALANCE_ADJUSTMENT' then invoice_date when is_resale_invoice then purchase_invoice_date else null end as purchase_invoice_date_or_null,
    case when transaction_type = 'SELLER_REV_SHARE' and not is_cog then amount else 0 end as gross_revenue,
    case when transaction_type in ('SELLER_REV_SHARE_REFUND', 'SELLER_REV_SHARE_CREDIT') and not is_cog_refund then amount else 0 end as gross_refund,
    case when transaction_type = 'SELLER_REV_SHARE' and is_cog then amount else 0 end as cogs,
    case when transaction_type in ('SELLER_REV_SHARE_REFUND', 'SELLER_REV_SHARE_CREDIT') and is_cog_refund then amount else 0 end as cogs_refund,
    case when transaction_type = 'AWS_REV_SHARE' then amount else 0 end as aws_rev_share,
    case when transaction_type in ('AWS_REV_SHARE_REFUND', 'AWS_REV_SHARE_CREDIT') then amount else 0 end as aws_refund_share,
    case when transaction_type = 'AWS_TAX_SHARE' and not is_listing_fee_charge and not is_resale_invoice then amount else 0 end as aws_tax_share,
    case when transaction_type = 'AWS_TAX_SHARE_REFUND' and not is_listing_fee_charge and not is_resale_invoice then amount else 0 end as aws_tax_share_refund,
    case when transaction_type = 'AWS_TAX_SHARE' and is_listing_fee_charge and not is_resale_invoice then amount else 0 end as aws_tax_share_listing_fee,
    case when transaction_type = 'AWS_TAX_SHARE_REFUND' and is_listing_fee_charge and not is_resale_invoice then amount else 0 end as aws_tax_share_refund_listing_fee,
    case when transaction_type = 'SELLER_TAX_SHARE' and not is_resale_invoice then amount else 0 end as seller_tax_share,
    case when transaction_type = 'SELLER_TAX_SHARE_REFUND' and not is_resale_invoice then amount else 0 end as seller_tax_share_refund,
    case when transaction_type = 'OTHER_SELLER_TAX_SHARE' and not is_resale_invoice then amount else 0 end as other_seller_tax_share,
    case when transaction_type = 'OTHER_SELLER_TAX_SHARE_REFUND' and not is_resale_invoice then amount else 0 end as other_seller_tax_share_refund,
    case when transaction_type = 'AWS_TAX_SHARE' and is_resale_invoice then amount else 0 end as wholesale_aws_tax_share,
    case when transaction_type = 'AWS_TAX_SHARE_REFUND' and is_resale_invoice then amount else 0 end as wholesale_aws_tax_share_refund,
    case when transaction_type = 'AWS_TAX_SHARE' and (balance_impacting or action = 'DISBURSED') then amount else 0 end as aws_tax_share_balance_impacting,
    case when transaction_type = 'AWS_TAX_SHARE_REFUND' and (balance_impacting or action = 'DISBURSED') then amount else 0 end as aws_tax_share_refund_balance_impacting,
    case when transaction_type = 'SELLER_TAX_SHARE' and is_resale_invoice then amount else 0 end as wholesale_seller_tax_share,
    case when transaction_type = 'SELLER_TAX_SHARE_REFUND' and is_resale_invoice then amount else 0 end as wholesale_seller_tax_share_refund,
    case when transaction_type = 'OTHER_SELLER_TAX_SHARE' and is_resale_invoice then amount else 0 end as wholesale_other_seller_tax_share,
    case when transaction_type = 'OTHER_SELLER_TAX_SHARE_REFUND' and is_resale_invoice then amount else 0 end as wholesale_other_seller_tax_share_refund,
    case when transaction_type in ('AWS_INFRA_SHARE', 'INFRA_FEE_PRETAX') then amount else 0 end as infrastructure_netting,
    case when transaction_type = 'BALANCE_ADJUSTMENT' then amount else 0 end as balance_adjustment,
    case when balance_impacting or action in ('DISBURSED', 'COLLECTED') then amount else 0 end as all_balance_impacting,
    -- The disbursement-currency buckets of the original (gross_revenue_disbursement_currency, ...,
    -- the same conditions on disbursement_amount) enter the collections report only through their
    -- sum, disbursement_seller_net_revenue_this_disbursement_id_or_invoiced. A row meets at most one
    -- of the 18 conditions of that sum (the transaction types and the resale split are disjoint),
    -- so the row's part of the sum is its disbursement_amount when it meets one, else 0:
    case when (transaction_type = 'SELLER_REV_SHARE')
           or transaction_type in ('SELLER_REV_SHARE_REFUND', 'SELLER_REV_SHARE_CREDIT')
           or transaction_type in ('AWS_REV_SHARE', 'AWS_REV_SHARE_REFUND', 'AWS_REV_SHARE_CREDIT')
           or transaction_type in ('SELLER_TAX_SHARE', 'SELLER_TAX_SHARE_REFUND', 'OTHER_SELLER_TAX_SHARE', 'OTHER_SELLER_TAX_SHARE_REFUND')
           or transaction_type in ('BALANCE_ADJUSTMENT', 'AWS_INFRA_SHARE', 'INFRA_FEE_PRETAX')
           or (transaction_type in ('AWS_TAX_SHARE', 'AWS_TAX_SHARE_REFUND') and (balance_impacting or action = 'DISBURSED'))
         then disbursement_amount else 0 end as seller_net_part_disbursement_currency
from
    billing_event_with_business_flags as bl
)
select * from billing_event_with_categorized_transaction;

CREATE TABLE ref.report_line_items AS
with
billing_event_with_categorized_transaction as (select * from ref.categorized_row),
-- billed_revenue_report.sql: line_items_aggregated (the only GROUP BY of the chain)
line_items_aggregated as (
select
    internal_buyer_invoice_line_item_surrogate_id_with_currency,
    internal_buyer_invoice_line_item_surrogate_id,
    disbursement_id,
    disbursement_id_or_invoiced_or_collected,
    recipient_account_id,
    product_id,
    broker_id,
    currency,
    disbursement_currency,
    agreement_id,
    proposer_account_id,
    acceptor_account_id,
    max(payer_account_id) as payer_account_id,
    offer_id,
    end_user_account_id,
    usage_period_start_date,
    usage_period_end_date,
    max(payment_due_date) as payment_due_date,
    buyer_transaction_reference_id,
    coalesce(buyer_transaction_reference_id, transaction_reference_id) as report_transaction_reference_id,
    bank_trace_id,
    amazon_reference_id,
    disbursement_date,
    disbursement_status,
    max(purchase_invoice_id_or_null) as purchase_invoice_id,
    max(purchase_invoice_date_or_null) as purchase_invoice_date,
    min(invoice_date) as ref_invoice_date, -- comparison aid (not in the original)
    string_agg(billing_event_id, ' ' order by billing_event_id) as ref_billing_event_ids, -- comparison aid
    sum(gross_revenue) as gross_revenue_this_disb_or_inv,
    sum(gross_refund) as gross_refund_this_disb_or_inv,
    sum(cogs) as cogs_this_disb_or_inv,
    sum(cogs_refund) as cogs_refund_this_disb_or_inv,
    sum(aws_rev_share) as aws_rev_share_this_disb_or_inv,
    sum(aws_refund_share) as aws_refund_share_this_disb_or_inv,
    sum(aws_tax_share) as aws_tax_share_this_disb_or_inv,
    sum(aws_tax_share_listing_fee) as aws_tax_share_listing_fee_this_disb_or_inv,
    sum(aws_tax_share_refund) as aws_tax_share_refund_this_disb_or_inv,
    sum(aws_tax_share_refund_listing_fee) as aws_tax_share_refund_listing_fee_this_disb_or_inv,
    sum(seller_tax_share) as seller_tax_share_this_disb_or_inv,
    sum(seller_tax_share_refund) as seller_tax_share_refund_this_disb_or_inv,
    sum(infrastructure_netting) as infrastructure_netting_this_disb_or_inv,
    sum(balance_adjustment) as balance_adjustment_this_disb_or_inv,
    sum(other_seller_tax_share) as other_seller_tax_share_this_disb_or_inv,
    sum(other_seller_tax_share_refund) as other_seller_tax_share_refund_this_disb_or_inv,
    sum(aws_tax_share_balance_impacting) as aws_tax_share_balance_impacting_this_disb_or_inv,
    sum(aws_tax_share_refund_balance_impacting) as aws_tax_share_refund_balance_impacting_this_disb_or_inv,
    sum(wholesale_aws_tax_share) as wholesale_aws_tax_share_this_disb_or_inv,
    sum(wholesale_aws_tax_share_refund) as wholesale_aws_tax_share_refund_this_disb_or_inv,
    sum(wholesale_seller_tax_share) as wholesale_seller_tax_share_this_disb_or_inv,
    sum(wholesale_seller_tax_share_refund) as wholesale_seller_tax_share_refund_this_disb_or_inv,
    sum(wholesale_other_seller_tax_share) as wholesale_other_seller_tax_share_this_disb_or_inv,
    sum(wholesale_other_seller_tax_share_refund) as wholesale_other_seller_tax_share_refund_this_disb_or_inv,
    sum(all_balance_impacting) as all_balance_impacting_this_disb_or_inv_or_coll,
    sum(seller_net_part_disbursement_currency) as disbursement_seller_net_revenue_this_disb_or_inv
from
    billing_event_with_categorized_transaction
group by
    internal_buyer_invoice_line_item_surrogate_id_with_currency,
    internal_buyer_invoice_line_item_surrogate_id,
    disbursement_id,
    disbursement_id_or_invoiced_or_collected,
    recipient_account_id,
    broker_id,
    product_id,
    currency,
    disbursement_currency,
    agreement_id,
    proposer_account_id,
    acceptor_account_id,
    offer_id,
    end_user_account_id,
    usage_period_start_date,
    usage_period_end_date,
    buyer_transaction_reference_id,
    coalesce(buyer_transaction_reference_id, transaction_reference_id),
    bank_trace_id,
    amazon_reference_id,
    disbursement_date,
    disbursement_status
),
-- billed_revenue_report.sql: line_items_with_window_functions (invoiced and disbursed totals of the
-- line item over all its disbursements; its last disbursement)
line_items_with_window_functions as (
select
    li.*,
    li.disbursement_id_or_invoiced_or_collected as disbursement_id_or_invoiced,
    max(purchase_invoice_date) over (partition by internal_buyer_invoice_line_item_surrogate_id) as purchase_invoice_date_w,
    sum(case when disbursement_id_or_invoiced_or_collected = '<invoiced>' then gross_revenue_this_disb_or_inv else 0 end) over w as gross_revenue_invoiced,
    sum(case when disbursement_id_or_invoiced_or_collected = '<invoiced>' then gross_refund_this_disb_or_inv else 0 end) over w as gross_refund_invoiced,
    sum(case when disbursement_id_or_invoiced_or_collected = '<invoiced>' then cogs_this_disb_or_inv else 0 end) over w as cogs_invoiced,
    sum(case when disbursement_id_or_invoiced_or_collected = '<invoiced>' then cogs_refund_this_disb_or_inv else 0 end) over w as cogs_refund_invoiced,
    sum(case when disbursement_id_or_invoiced_or_collected = '<invoiced>' then aws_rev_share_this_disb_or_inv else 0 end) over w as aws_rev_share_invoiced,
    sum(case when disbursement_id_or_invoiced_or_collected = '<invoiced>' then aws_refund_share_this_disb_or_inv else 0 end) over w as aws_refund_share_invoiced,
    sum(case when disbursement_id_or_invoiced_or_collected = '<invoiced>' then aws_tax_share_this_disb_or_inv else 0 end) over w as aws_tax_share_invoiced,
    sum(case when disbursement_id_or_invoiced_or_collected = '<invoiced>' then aws_tax_share_refund_this_disb_or_inv else 0 end) over w as aws_tax_share_refund_invoiced,
    sum(case when disbursement_id_or_invoiced_or_collected = '<invoiced>' then aws_tax_share_listing_fee_this_disb_or_inv else 0 end) over w as aws_tax_share_listing_fee_invoiced,
    sum(case when disbursement_id_or_invoiced_or_collected = '<invoiced>' then seller_tax_share_this_disb_or_inv else 0 end) over w as seller_tax_share_invoiced,
    sum(case when disbursement_id_or_invoiced_or_collected = '<invoiced>' then seller_tax_share_refund_this_disb_or_inv else 0 end) over w as seller_tax_share_refund_invoiced,
    sum(case when disbursement_id_or_invoiced_or_collected = '<invoiced>' then infrastructure_netting_this_disb_or_inv else 0 end) over w as infrastructure_netting_invoiced,
    sum(case when disbursement_id_or_invoiced_or_collected = '<invoiced>' then balance_adjustment_this_disb_or_inv else 0 end) over w as balance_adjustment_invoiced,
    sum(case when disbursement_id_or_invoiced_or_collected = '<invoiced>' then other_seller_tax_share_this_disb_or_inv else 0 end) over w as other_seller_tax_share_invoiced,
    sum(case when disbursement_id_or_invoiced_or_collected = '<invoiced>' then other_seller_tax_share_refund_this_disb_or_inv else 0 end) over w as other_seller_tax_share_refund_invoiced,
    sum(case when disbursement_id_or_invoiced_or_collected = '<invoiced>' then wholesale_aws_tax_share_this_disb_or_inv else 0 end) over w as wholesale_aws_tax_share_invoiced,
    sum(case when disbursement_id_or_invoiced_or_collected = '<invoiced>' then wholesale_seller_tax_share_this_disb_or_inv else 0 end) over w as wholesale_seller_tax_share_invoiced,
    sum(case when disbursement_id_or_invoiced_or_collected = '<invoiced>' then wholesale_seller_tax_share_refund_this_disb_or_inv else 0 end) over w as wholesale_seller_tax_share_refund_invoiced,
    sum(case when disbursement_id_or_invoiced_or_collected = '<invoiced>' then wholesale_other_seller_tax_share_this_disb_or_inv else 0 end) over w as wholesale_other_seller_tax_share_invoiced,
    sum(case when disbursement_id_or_invoiced_or_collected = '<invoiced>' then wholesale_other_seller_tax_share_refund_this_disb_or_inv else 0 end) over w as wholesale_other_seller_tax_share_refund_invoiced,
    sum(case when disbursement_id_or_invoiced_or_collected = '<invoiced>' then aws_tax_share_balance_impacting_this_disb_or_inv else 0 end) over w as aws_tax_share_balance_impacting_invoiced,
    sum(case when disbursement_id_or_invoiced_or_collected = '<invoiced>' then aws_tax_share_refund_balance_impacting_this_disb_or_inv else 0 end) over w as aws_tax_share_refund_balance_impacting_invoiced,
    sum(case when disbursement_id_or_invoiced_or_collected = '<invoiced>' then all_balance_impacting_this_disb_or_inv_or_coll else 0 end) over w as all_balance_impacting_invoiced,
    sum(case when disbursement_id_or_invoiced_or_collected not in ('<invoiced>', '<collected>') then gross_revenue_this_disb_or_inv else 0 end) over w as gross_revenue_disbursed,
    sum(case when disbursement_id_or_invoiced_or_collected not in ('<invoiced>', '<collected>') then gross_refund_this_disb_or_inv else 0 end) over w as gross_refund_disbursed,
    sum(case when disbursement_id_or_invoiced_or_collected not in ('<invoiced>', '<collected>') then cogs_this_disb_or_inv else 0 end) over w as cogs_disbursed,
    sum(case when disbursement_id_or_invoiced_or_collected not in ('<invoiced>', '<collected>') then cogs_refund_this_disb_or_inv else 0 end) over w as cogs_refund_disbursed,
    sum(case when disbursement_id_or_invoiced_or_collected not in ('<invoiced>', '<collected>') then aws_rev_share_this_disb_or_inv else 0 end) over w as aws_rev_share_disbursed,
    sum(case when disbursement_id_or_invoiced_or_collected not in ('<invoiced>', '<collected>') then aws_refund_share_this_disb_or_inv else 0 end) over w as aws_refund_share_disbursed,
    sum(case when disbursement_id_or_invoiced_or_collected not in ('<invoiced>', '<collected>') then seller_tax_share_this_disb_or_inv else 0 end) over w as seller_tax_share_disbursed,
    sum(case when disbursement_id_or_invoiced_or_collected not in ('<invoiced>', '<collected>') then seller_tax_share_refund_this_disb_or_inv else 0 end) over w as seller_tax_share_refund_disbursed,
    sum(case when disbursement_id_or_invoiced_or_collected not in ('<invoiced>', '<collected>') then balance_adjustment_this_disb_or_inv else 0 end) over w as balance_adjustment_disbursed,
    sum(case when disbursement_id_or_invoiced_or_collected not in ('<invoiced>', '<collected>') then infrastructure_netting_this_disb_or_inv else 0 end) over w as infrastructure_netting_disbursed,
    sum(case when disbursement_id_or_invoiced_or_collected not in ('<invoiced>', '<collected>') then aws_tax_share_balance_impacting_this_disb_or_inv else 0 end) over w as aws_tax_share_balance_impacting_disbursed,
    sum(case when disbursement_id_or_invoiced_or_collected not in ('<invoiced>', '<collected>') then aws_tax_share_refund_balance_impacting_this_disb_or_inv else 0 end) over w as aws_tax_share_refund_balance_impacting_disbursed,
    sum(case when disbursement_id_or_invoiced_or_collected not in ('<invoiced>', '<collected>') then other_seller_tax_share_this_disb_or_inv else 0 end) over w as other_seller_tax_share_disbursed,
    sum(case when disbursement_id_or_invoiced_or_collected not in ('<invoiced>', '<collected>') then other_seller_tax_share_refund_this_disb_or_inv else 0 end) over w as other_seller_tax_share_refund_disbursed,
    sum(case when disbursement_id_or_invoiced_or_collected not in ('<invoiced>', '<collected>') then wholesale_seller_tax_share_this_disb_or_inv else 0 end) over w as wholesale_seller_tax_share_disbursed,
    sum(case when disbursement_id_or_invoiced_or_collected not in ('<invoiced>', '<collected>') then wholesale_seller_tax_share_refund_this_disb_or_inv else 0 end) over w as wholesale_seller_tax_share_refund_disbursed,
    sum(case when disbursement_id_or_invoiced_or_collected not in ('<invoiced>', '<collected>') then wholesale_other_seller_tax_share_this_disb_or_inv else 0 end) over w as wholesale_other_seller_tax_share_disbursed,
    sum(case when disbursement_id_or_invoiced_or_collected not in ('<invoiced>', '<collected>') then wholesale_other_seller_tax_share_refund_this_disb_or_inv else 0 end) over w as wholesale_other_seller_tax_share_refund_disbursed,
    max(disbursement_date) over w as last_disbursement_date,
    first_value(disbursement_id) over (
        partition by internal_buyer_invoice_line_item_surrogate_id_with_currency
        order by
            case
                when disbursement_id_or_invoiced_or_collected in ('<invoiced>', '<collected>') then timestamptz '1800-01-01 00:00:00+00'
                else coalesce(disbursement_date, timestamptz '1900-01-01 00:00:00+00')
            end desc nulls last
        rows between unbounded preceding and unbounded following) as last_disbursement_id
from line_items_aggregated as li
window w as (partition by internal_buyer_invoice_line_item_surrogate_id_with_currency)
),
-- billed_revenue_report.sql: line_items_with_window_functions_enrich_offer_product_address_name_disbursed
-- (net revenue invoiced and disbursed; descriptive joins left out, see the header)
line_items_disbursed as (
select
    line.*,
    (
        gross_revenue_invoiced + gross_refund_invoiced + aws_rev_share_invoiced + aws_refund_share_invoiced
        + seller_tax_share_invoiced + seller_tax_share_refund_invoiced + balance_adjustment_invoiced
        + coalesce(infrastructure_netting_invoiced, 0.0) + cogs_invoiced + cogs_refund_invoiced
        + aws_tax_share_balance_impacting_invoiced + aws_tax_share_refund_balance_impacting_invoiced
        + other_seller_tax_share_invoiced + other_seller_tax_share_refund_invoiced
        + wholesale_seller_tax_share_invoiced + wholesale_seller_tax_share_refund_invoiced
        + wholesale_other_seller_tax_share_invoiced + wholesale_other_seller_tax_share_refund_invoiced
    ) as seller_net_revenue,
    (
        gross_revenue_disbursed + gross_refund_disbursed + aws_rev_share_disbursed + aws_refund_share_disbursed
        + seller_tax_share_disbursed + seller_tax_share_refund_disbursed + balance_adjustment_disbursed
        + coalesce(infrastructure_netting_disbursed, 0.0) + cogs_disbursed + cogs_refund_disbursed
        + aws_tax_share_balance_impacting_disbursed + aws_tax_share_refund_balance_impacting_disbursed
        + other_seller_tax_share_disbursed + other_seller_tax_share_refund_disbursed
        + wholesale_seller_tax_share_disbursed + wholesale_seller_tax_share_refund_disbursed
        + wholesale_other_seller_tax_share_disbursed + wholesale_other_seller_tax_share_refund_disbursed
    ) as disbursed_net_revenue
from line_items_with_window_functions as line
where disbursement_id_or_invoiced_or_collected <> '<collected>'
),
-- billed_revenue_report.sql: ..._undisbursed, ..._disbursement_flag, ..._name (status words)
line_items_flagged as (
select
    line.*,
    seller_net_revenue + disbursed_net_revenue as undisbursed_net_revenue,
    case
        when disbursement_status = 'DISBURSEMENT_FAILURE' then 'Failed'
        when last_disbursement_id is not null and seller_net_revenue + disbursed_net_revenue = 0 then 'Yes'
        when last_disbursement_id is not null and seller_net_revenue + disbursed_net_revenue <> 0 and disbursed_net_revenue = 0 then 'Reversed'
        when last_disbursement_id is not null and seller_net_revenue + disbursed_net_revenue <> 0 and disbursed_net_revenue <> 0 then
            case when seller_net_revenue + disbursed_net_revenue < 0 then 'Over' else 'Partial' end
        when last_disbursement_id is null and seller_net_revenue + disbursed_net_revenue = 0 then 'No'
        when last_disbursement_id is null and seller_net_revenue + disbursed_net_revenue <> 0 then 'No'
        else 'Unknown'
    end as disbursement_flag
from line_items_disbursed as line
)
select * from line_items_flagged;

-- billed_revenue_report.sql: revenue_recognition_at_invoice_time_refactor and billed_revenue_report
CREATE TABLE ref.billed_revenue_line AS
select
    internal_buyer_invoice_line_item_surrogate_id_with_currency as silent_internal_report_transaction,
    recipient_account_id,
    report_transaction_reference_id as transaction_reference_id,
    currency,
    coalesce(agreement_id, 'Not available') as agreement_id,
    case when offer_id is null then 'Not available' else offer_id end as offer_id,
    coalesce(product_id, 'Not provided') as product_id,
    purchase_invoice_date_w as invoice_date,
    payment_due_date,
    usage_period_start_date,
    round(gross_revenue_invoiced, 2) as gross_revenue,
    round(gross_refund_invoiced, 2) as gross_refund,
    round(aws_rev_share_invoiced, 2) as listing_fee,
    round(aws_refund_share_invoiced, 2) as listing_fee_refund,
    round(seller_tax_share_invoiced, 2) as seller_tax_share,
    round(seller_tax_share_refund_invoiced, 2) as seller_tax_share_refund,
    round(aws_tax_share_invoiced, 2) as aws_tax_share,
    round(aws_tax_share_refund_invoiced, 2) as aws_tax_share_refund,
    round(aws_tax_share_listing_fee_invoiced, 2) as aws_tax_share_listing_fee,
    round(cogs_invoiced, 2) as wholesale_cost,
    round(cogs_refund_invoiced, 2) as wholesale_cost_refund,
    round(other_seller_tax_share_invoiced, 2) as other_seller_tax_share,
    round(balance_adjustment_invoiced, 2) as balance_adjustment,
    round(seller_net_revenue, 2) as seller_net_revenue,
    -1 * round(disbursed_net_revenue, 2) as disbursed_net_revenue,
    round(undisbursed_net_revenue, 2) as undisbursed_net_revenue,
    case
        when disbursement_flag = 'Failed' then 'Failed'
        when disbursement_flag = 'No' then 'Not disbursed'
        when disbursement_flag = 'Reversed' then 'Disbursement reversed'
        when disbursement_flag = 'Yes' then 'Disbursed'
        when disbursement_flag = 'Partial' then 'Partially disbursed'
        when disbursement_flag = 'Over' then 'Disbursed'
        else 'Invalid status'
    end as disbursement_status,
    last_disbursement_id,
    -- unrounded, for the comparison with settle's exact micros
    gross_revenue_invoiced + gross_refund_invoiced as revenue_exact,
    cogs_invoiced + cogs_refund_invoiced as cogs_exact,
    aws_rev_share_invoiced + aws_refund_share_invoiced as listing_fee_exact,
    seller_tax_share_invoiced + seller_tax_share_refund_invoiced
        + wholesale_seller_tax_share_invoiced + wholesale_seller_tax_share_refund_invoiced as seller_tax_exact,
    aws_tax_share_invoiced + aws_tax_share_refund_invoiced + aws_tax_share_listing_fee_invoiced
        + wholesale_aws_tax_share_invoiced as aws_tax_exact,
    seller_net_revenue as seller_net_revenue_exact,
    aws_tax_share_balance_impacting_invoiced + aws_tax_share_refund_balance_impacting_invoiced as aws_tax_balance_impacting_exact,
    other_seller_tax_share_invoiced + other_seller_tax_share_refund_invoiced
        + wholesale_other_seller_tax_share_invoiced + wholesale_other_seller_tax_share_refund_invoiced as other_seller_tax_exact,
    balance_adjustment_invoiced + coalesce(infrastructure_netting_invoiced, 0.0) as adjustment_exact,
    undisbursed_net_revenue as undisbursed_net_revenue_exact,
    to_char(ref_invoice_date at time zone 'UTC', 'YYYY-MM') as ref_period,
    ref_billing_event_ids
from ref.report_line_items
where disbursement_id_or_invoiced = '<invoiced>';
