-- taxation.sql — the marketplace's taxation report, translated to PostgreSQL.
--
-- Source: aws-samples/aws-marketplace-api-samples, seller-data-feeds/queries/taxation_report.sql.
-- Kept: tax_items_with_uni_temporal_data (per tax_item_id AND valid_from, the latest update_date;
-- soft-deleted versions removed) and taxation, one row per resolved tax item. Left out: the LEFT
-- JOINs for the product title and the customer's 12-digit account number (descriptive, one row
-- each), and the final `where invoice_date >= current_date - 90` (a display window; the test
-- selects by period). The amount stays as delivered text in the original (tax_amount is not
-- cast); the test casts it to numeric(38,6) to add it up, as a spreadsheet of the report would.
-- Presto's NULLS LAST in DESC is written `desc nulls last`.
-- Output: table ref.taxation_line.

DROP TABLE IF EXISTS ref.taxation_line;
CREATE TABLE ref.taxation_line AS
with
tax_items_with_uni_temporal_data as (
  select
    valid_from::timestamptz as valid_from,
    update_date::timestamptz as update_date,
    delete_date,
    tax_item_id,
    invoice_id,
    line_item_id,
    customer_bill_id,
    tax_liable_party,
    transaction_type_code,
    product_id,
    invoice_date::timestamptz as invoice_date,
    tax_type_code,
    jurisdiction_level,
    taxed_jurisdiction,
    tax_jurisdiction_rate,
    tax_amount,
    tax_currency,
    transaction_reference_id
  from
    (
      select
        t.*,
        row_number() over (partition by tax_item_id, valid_from order by update_date::timestamptz desc nulls last) as row_num
      from
        ref.taxitemfeed_v1 t
    ) x
  where
    row_num = 1
    and (delete_date is null or delete_date = '')
),
taxation as (
  select
    tax_items.tax_item_id, -- comparison aid: the original does not show the key
    tax_items.valid_from,  -- comparison aid
    tax_items.invoice_id,
    tax_items.line_item_id,
    tax_items.customer_bill_id,
    tax_items.tax_liable_party,
    tax_items.transaction_type_code,
    tax_items.product_id,
    tax_items.invoice_date,
    tax_items.tax_type_code as tax_type,
    tax_items.jurisdiction_level,
    tax_items.taxed_jurisdiction,
    tax_items.tax_jurisdiction_rate,
    tax_items.tax_amount,
    tax_items.tax_currency,
    tax_items.transaction_reference_id
  from
    tax_items_with_uni_temporal_data as tax_items
)
select * from taxation;
