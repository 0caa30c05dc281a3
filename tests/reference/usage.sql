-- usage.sql — the marketplace's usage report, translated to PostgreSQL.
--
-- Source: aws-samples/aws-marketplace-api-samples, seller-data-feeds/queries/usage_report.sql.
-- Kept: usage_with_uni_temporal_data (per usage_feed_id AND valid_from, the latest update_date;
-- soft-deleted versions removed), agreements_with_uni_temporal_data and
-- agreements_revisions_with_history (as in billed_revenue.sql), usage_line_items (the revision
-- windows) and usage_line_items_with_agreement (offer_id from the agreement revision in force on
-- the usage date, else the usage row's own). Left out: the offer, product and account
-- enrichments and the accepted term types (LEFT JOINs for descriptive columns), and the final
-- `where usage_date >= current_date - 90` (a display window). usage_units stays the delivered text
-- in the original (estimated_usage_units); the test casts it to numeric to add it up.
-- Output: table ref.usage_line.

DROP TABLE IF EXISTS ref.usage_line;
CREATE TABLE ref.usage_line AS
with
agreements_with_uni_temporal_data as (
select agreement_id, offer_id, acceptor_account_id, valid_from::timestamptz as valid_from
from (
    select
        case when agreement_id = '' then null else agreement_id end as agreement_id,
        offer_id, acceptor_account_id, valid_from, delete_date,
        row_number() over (partition by agreement_id, valid_from order by update_date::timestamptz desc nulls last) as row_num
    from ref.agreementfeed_v1
    ) x
where row_num = 1 and (delete_date is null or delete_date = '')
),
agreements_revisions_with_history as (
with w as (
    select agreement_id, offer_id, acceptor_account_id, valid_from as agreement_valid_from,
        case when lag(valid_from) over (partition by agreement_id order by valid_from asc) is null
             then timestamptz '1970-01-01 00:00:00+00' else valid_from end as valid_from,
        coalesce(lead(valid_from) over (partition by agreement_id order by valid_from asc),
                 timestamptz '2999-01-01 00:00:00+00') as valid_to,
        rank() over (partition by agreement_id order by valid_from asc) as version
    from agreements_with_uni_temporal_data
    )
select agreement_valid_from, agreement_id, offer_id, acceptor_account_id, valid_from,
    case when version = 1 then valid_from - interval '60 minutes' else valid_from end as valid_from_adjusted,
    valid_to
from w
),
usage_with_uni_temporal_data as (
select
    valid_from::timestamp as valid_from,
    update_date::timestamptz as usage_reported_date,
    usage_feed_id,
    usage_date::timestamptz as usage_date,
    product_id,
    case when agreement_id = '' then null else agreement_id end as agreement_id,
    end_user_account_id,
    payer_account_id,
    dimension_key as resource_type,
    usage_quantity as usage_units,
    pricing_currency as currency,
    recipient_account_id,
    offer_id
from (
    select u.*,
        row_number() over (partition by usage_feed_id, valid_from order by update_date::timestamptz desc nulls last) as row_num
    from ref.dailyusagefeed_v1 u
    ) x
where row_num = 1 and (delete_date is null or delete_date = '')
),
usage_line_items as (
select
    usage_feed_id, recipient_account_id, valid_from,
    coalesce(lead(valid_from) over (partition by usage_feed_id order by valid_from asc),
             timestamp '2999-01-01 00:00:00') as valid_to,
    end_user_account_id, payer_account_id, usage_date, usage_reported_date, resource_type, currency,
    usage_units, agreement_id, product_id, offer_id as internal_offer_id
from usage_with_uni_temporal_data
),
usage_line_items_with_agreement as (
select
    usage_lines.usage_feed_id,
    usage_lines.recipient_account_id,
    usage_lines.valid_from,
    usage_lines.valid_to,
    usage_lines.usage_date,
    usage_lines.resource_type,
    usage_lines.currency,
    usage_lines.usage_units,
    usage_lines.agreement_id,
    coalesce(agreement.offer_id, usage_lines.internal_offer_id) as offer_id,
    usage_lines.product_id
from usage_line_items as usage_lines
left join agreements_revisions_with_history as agreement on
    usage_lines.agreement_id = agreement.agreement_id and
    usage_lines.usage_date >= agreement.valid_from_adjusted and
    usage_lines.usage_date < agreement.valid_to
)
-- usage_report.sql: usage_report (the columns the figures need)
select
    usage_feed_id as internal_usage_line_item_id,
    valid_from, valid_to, -- comparison aid: the revision window of the line
    usage_date,
    coalesce(product_id, 'Not provided') as product_id,
    case when offer_id is null then 'Not available' else offer_id end as offer_id,
    coalesce(agreement_id, 'Not available') as agreement_id,
    resource_type as dimension_key,
    usage_units as estimated_usage_units,
    currency,
    recipient_account_id
from usage_line_items_with_agreement;
