-- collections_and_disbursements.sql — the marketplace's collections and disbursements report,
-- translated to PostgreSQL.
--
-- Source: aws-samples/aws-marketplace-api-samples,
-- seller-data-feeds/queries/collections_and_disbursements_report.sql. Its CTE chain up to
-- line_items_with_window_functions_enrich_offer_product_address_name is the billed revenue
-- report's to the letter, apart from descriptive joins (an account history filter, offer targets
-- by revision), so this file reads ref.report_line_items, which billed_revenue.sql writes, and
-- translates what follows: disbursed_amount_by_product_refactor (one row per line item and
-- disbursement: `disbursement_id_or_invoiced <> '<invoiced>' and last_disbursement_id is not null`)
-- and collections_and_disbursements_report. The report is in the disbursement currency (its
-- `Currency` is disbursement_currency, its amounts come from disbursement_amount). Left out: the
-- descriptive columns and the final `where payment_due_date >= current_date - 90`, a display
-- window.
-- Output: table ref.collections_line.

DROP TABLE IF EXISTS ref.collections_line;
CREATE TABLE ref.collections_line AS
select
    internal_buyer_invoice_line_item_surrogate_id_with_currency as silent_internal_report_transaction,
    recipient_account_id,
    report_transaction_reference_id as transaction_reference_id,
    disbursement_id_or_invoiced as disbursement_id,
    disbursement_date,
    bank_trace_id as disburse_bank_trace_id,
    disbursement_currency as currency,
    round(-1 * disbursement_seller_net_revenue_this_disb_or_inv, 2) as seller_net_revenue,
    -1 * disbursement_seller_net_revenue_this_disb_or_inv as seller_net_revenue_exact,
    case
        when disbursement_flag = 'Failed' then 'Failed'
        when disbursement_flag = 'No' then 'Not disbursed'
        when disbursement_flag = 'Reversed' then 'Disbursement reversed'
        when disbursement_flag = 'Yes' then 'Disbursed'
        when disbursement_flag = 'Partial' then 'Partially disbursed'
        when disbursement_flag = 'Over' then 'Disbursed'
        else 'Invalid status'
    end as disbursement_status,
    ref_billing_event_ids
from ref.report_line_items
where coalesce(disbursement_id_or_invoiced, '<null>') <> '<invoiced>'
  and last_disbursement_id is not null;
