-- 009_sdds_feeds.sql — the SDDS feeds of SPEC §3.6 as tables with as-of functions, the new
-- billing-event columns of SPEC §3.1, and the account identity of SPEC §1.
--
-- Every feed is stored as delivered (SDDS.md column sets, history columns included), one row per
-- physical line, never updated. Its current version at an as-of follows the rule of SPEC §3.1 on
-- the feed's own key, computed by one generator (settle.version_resolution_sql) from the table's
-- own columns: the column list of the "identical row changes nothing" comparison is read from the
-- catalog, so it is written nowhere and cannot miss a column added later (issue 11, item 7).
-- Money is bigint micros (SPEC §2); rates and quantities are numeric, exactly as written; the
-- agreement term's configuration is jsonb (checked in C first: src/feed.c, feed_json_invalid_at).

-- ---------------------------------------------------------------------------------------------
-- The ledger knows the new kinds.

ALTER TABLE settle.ingest_file DROP CONSTRAINT ingest_file_kind_check;
ALTER TABLE settle.ingest_file ADD CONSTRAINT ingest_file_kind_check CHECK (kind IN (
    'billing_event', 'offer', 'offer_dimension', 'metering', 'bank_deposit',
    'accountfeed_v1', 'agreementfeed_v1', 'agreementtermfeed_v1', 'offerfeed_v1',
    'offerproductfeed_v1', 'offertargetfeed_v1', 'productfeed_v1', 'legacyidmappingfeed_v1',
    'taxitemfeed_v1', 'dailyusagefeed_v1', 'unknown'));

-- ---------------------------------------------------------------------------------------------
-- The version rule, generated.

-- The text of a query returning, for the SQL function it is pasted into (which has a parameter
-- as_of), every stored column of the current version of each key of tbl among the rows of files
-- ingested at or before as_of (and passing filter, a condition on b, or ''): the newest
-- valid_from, then the newest update_date (NULL oldest for both), then the latest ingested
-- (file_id, line); a row identical to an earlier one of its key in every column but file_id and
-- line is a no-op, so only its first occurrence takes part. The two steps and why are 002_asof's
-- (billing_event_asof). Deleted keys are not removed here: the callers do (delete_date).
-- tbl must have file_id, line, valid_from, update_date, delete_date and the key columns.
CREATE FUNCTION settle.version_resolution_sql(tbl regclass, keys text[], filter text)
RETURNS text
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    qualified text;
    k_b text;
    k_v text;
    content text;
BEGIN
    SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) INTO qualified
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl;
    SELECT string_agg('b.' || quote_ident(k), ', ' ORDER BY o), string_agg('v.' || quote_ident(k), ', ' ORDER BY o)
    INTO k_b, k_v FROM unnest(keys) WITH ORDINALITY u (k, o);
    SELECT string_agg('b.' || quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO content
    FROM pg_attribute a
    WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
      AND a.attname::text <> ALL (keys || ARRAY['file_id', 'line', 'valid_from', 'update_date']);
    RETURN format($q$
        SELECT DISTINCT ON (%1$s) v.*
        FROM (
            SELECT DISTINCT ON (%2$s, b.valid_from, b.update_date, %3$s) b.*
            FROM %4$s b
            WHERE b.file_id IN (SELECT f.file_id FROM settle.ingest_file f WHERE f.ingested_at <= as_of)%5$s
            ORDER BY %2$s, b.valid_from DESC NULLS LAST, b.update_date DESC NULLS LAST,
                     %3$s, b.file_id, b.line
        ) v
        ORDER BY %1$s, v.valid_from DESC NULLS LAST, v.update_date DESC NULLS LAST, v.file_id DESC, v.line DESC
    $q$, k_v, k_b, content, qualified, CASE WHEN filter = '' THEN '' ELSE ' AND ' || filter END);
END
$fn$;

-- The body of tbl's as-of function: the current versions that do not delete their key.
CREATE FUNCTION settle.version_asof_sql(tbl regclass, keys text[])
RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT 'SELECT c.* FROM (' || settle.version_resolution_sql(tbl, keys, '') || ') c WHERE c.delete_date IS NULL'
$$;

-- ---------------------------------------------------------------------------------------------
-- Billing events (SPEC §3.1): the columns real files carry, and the date of a DISBURSED row
-- without invoice_date.

ALTER TABLE settle.billing_event
    ADD COLUMN buyer_transaction_reference_id text,
    ADD COLUMN buyer_invoice_date             timestamptz,
    ADD COLUMN buyer_line_item_id             text,
    ADD COLUMN disbursement_amount_micros     bigint,  -- in disbursement_currency, the currency paid
    ADD COLUMN disbursement_currency          text,
    ADD COLUMN catalog                        text,
    ADD COLUMN data_catalog                   text,
    -- NULL: invoice_date is the file's. 'valid_from' / 'insert_date': the row is DISBURSED, its
    -- invoice_date was empty, and invoice_date holds that column's instant (SPEC §3.1).
    ADD COLUMN invoice_date_source            text CHECK (invoice_date_source IN ('valid_from', 'insert_date'));

-- 002's and 008's resolutions compared the columns of 001 only: a version differing in a new
-- column alone would have counted as identical. Both again, from the generator.
DO $$ BEGIN EXECUTE format($f$
CREATE OR REPLACE FUNCTION settle.billing_event_asof(as_of timestamptz) RETURNS SETOF settle.billing_event
LANGUAGE sql STABLE PARALLEL SAFE AS %L$f$,
    settle.version_asof_sql('settle.billing_event', ARRAY['billing_event_id']));
END $$;

DO $$ BEGIN EXECUTE format($f$
CREATE OR REPLACE FUNCTION settle.billing_event_winners(as_of timestamptz)
RETURNS TABLE (file_id bigint, line bigint, deleted boolean)
LANGUAGE sql STABLE PARALLEL SAFE AS %L$f$,
    'WITH keys AS MATERIALIZED ('
    || ' SELECT k.billing_event_id FROM settle.billing_event_multi k'
    || ' UNION'
    || ' SELECT n.billing_event_id FROM settle.billing_event n'
    || ' WHERE n.file_id > (SELECT st.through_file_id FROM settle.billing_event_multi_state st))'
    || ' SELECT c.file_id, c.line, c.delete_date IS NOT NULL FROM ('
    || settle.version_resolution_sql('settle.billing_event', ARRAY['billing_event_id'],
                                     'b.billing_event_id IN (SELECT keys.billing_event_id FROM keys)')
    || ') c');
END $$;

-- SPEC §3.1: placeholder bank trace ids count as none. The stored value stays as delivered; the
-- readers that match on trace ids (reconcile's events, src/reconcile.c) read it through this.
CREATE FUNCTION settle.bank_trace_id(trace text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN trace IN ('EMEA_MP_TEST_TRACE_ID', 'testTraceId') THEN NULL ELSE trace END
$$;

-- SPEC §3.1: a DISBURSED line row without transaction_reference_id takes the reference of the
-- event its parent_billing_event_id names. Reconcile fills this per run (src/reconcile.c, right
-- after settle.rc_winner, in its transaction, under the run lock): the parents' current references
-- as of the run. Unlogged scratch, like rc_winner, so that parallel workers can read it.
-- The lines that need it, found without reading every event: a partial index holds only DISBURSED
-- rows without a reference that name a parent (none in most files, so it costs ingest a predicate
-- per row and nothing more), and when it is empty reconcile reads no event for this at all.
CREATE INDEX billing_event_reference_from_parent ON settle.billing_event (parent_billing_event_id, file_id)
    WHERE action = 'DISBURSED' AND transaction_reference_id IS NULL AND parent_billing_event_id IS NOT NULL;
CREATE UNLOGGED TABLE settle.rc_parent_ref (
    billing_event_id         text PRIMARY KEY,
    transaction_reference_id text NOT NULL
);

-- ---------------------------------------------------------------------------------------------
-- The other SDDS feeds (SPEC §3.6, SDDS.md). Key columns first, then file_id and line, the feed's
-- columns in SDDS.md's order, the history columns last.

CREATE TABLE settle.sdds_account (
    account_id              text   NOT NULL,
    file_id                 bigint NOT NULL,
    line                    bigint NOT NULL,
    aws_account_id          text,  -- as delivered; settle.account_pad gives the 12 digits
    encrypted_account_id    text,
    mailing_address_id      text,
    tax_address_id          text,
    tax_registration_number text,
    tax_legal_name          text,
    catalog                 text,
    valid_from              timestamptz,
    insert_date             timestamptz,
    update_date             timestamptz,
    delete_date             timestamptz
);

CREATE TABLE settle.sdds_agreement (
    agreement_id                     text   NOT NULL,
    file_id                          bigint NOT NULL,
    line                             bigint NOT NULL,
    offer_id                         text,
    proposer_account_id              text,
    acceptor_account_id              text,
    start_time                       timestamptz,
    end_time                         timestamptz,
    acceptance_time                  timestamptz,
    intent                           text,
    preceding_agreement_id           text,
    status                           text,
    status_reason_code               text,
    currency_code                    text,
    estimated_agreement_value_micros bigint,
    offer_set_id                     text,
    catalog                          text,
    valid_from                       timestamptz,
    insert_date                      timestamptz,
    update_date                      timestamptz,
    delete_date                      timestamptz
);

CREATE TABLE settle.sdds_agreement_term (
    agreement_id       text   NOT NULL,
    term_id            text   NOT NULL,
    file_id            bigint NOT NULL,
    line               bigint NOT NULL,
    term_type          text,
    term_configuration jsonb,
    valid_from         timestamptz,
    insert_date        timestamptz,
    update_date        timestamptz,
    delete_date        timestamptz
);

CREATE TABLE settle.sdds_offer (
    offer_id                text   NOT NULL,
    offer_revision          text   NOT NULL,
    file_id                 bigint NOT NULL,
    line                    bigint NOT NULL,
    name                    text,
    expiration_date         timestamptz,
    opportunity_name        text,
    opportunity_description text,
    seller_account_id       text,
    opportunity_id          text,  -- the resale authorization of a CPPO
    recipient_account_id    text,
    catalog                 text,
    valid_from              timestamptz,
    insert_date             timestamptz,
    update_date             timestamptz,
    delete_date             timestamptz
);

CREATE TABLE settle.sdds_offer_product (
    offer_id       text   NOT NULL,
    offer_revision text   NOT NULL,
    product_id     text   NOT NULL,
    file_id        bigint NOT NULL,
    line           bigint NOT NULL,
    valid_from     timestamptz,
    insert_date    timestamptz,
    update_date    timestamptz,
    delete_date    timestamptz
);

CREATE TABLE settle.sdds_offer_target (
    offer_target_id text   NOT NULL,
    file_id         bigint NOT NULL,
    line            bigint NOT NULL,
    offer_id        text,
    offer_revision  text,
    target_type     text,
    polarity        text,
    value           text,
    catalog         text,
    valid_from      timestamptz,
    insert_date     timestamptz,
    update_date     timestamptz,
    delete_date     timestamptz
);

CREATE TABLE settle.sdds_product (
    product_id              text   NOT NULL,
    file_id                 bigint NOT NULL,
    line                    bigint NOT NULL,
    manufacturer_account_id text,  -- the ISV
    product_code            text,
    title                   text,
    catalog                 text,
    valid_from              timestamptz,
    insert_date             timestamptz,
    update_date             timestamptz,
    delete_date             timestamptz
);

CREATE TABLE settle.sdds_legacy_id_mapping (
    mapping_type text   NOT NULL,
    legacy_id    text   NOT NULL,
    file_id      bigint NOT NULL,
    line         bigint NOT NULL,
    new_id       text   NOT NULL,
    valid_from   timestamptz,
    insert_date  timestamptz,
    update_date  timestamptz,
    delete_date  timestamptz
);

CREATE TABLE settle.sdds_tax_item (
    tax_item_id                              text   NOT NULL,
    file_id                                  bigint NOT NULL,
    line                                     bigint NOT NULL,
    invoice_id                               text,
    line_item_id                             text,
    customer_bill_id                         text,
    product_id                               text,
    invoice_date                             timestamptz,
    transaction_reference_id                 text,
    transaction_type_code                    text,
    tax_liable_party                         text,
    tax_type_code                            text,
    taxed_jurisdiction                       text,
    tax_jurisdiction_rate                    numeric,  -- exactly as delivered (a fraction: 0.0725)
    tax_amount_micros                        bigint,
    tax_currency                             text,
    taxed_customer_account_id                text,
    taxed_customer_country                   text,
    taxed_customer_state_or_region           text,
    taxed_customer_city                      text,
    taxed_customer_postal_code               text,
    product_tax_code                         text,
    display_price_taxability_type            text,
    date_used_for_tax_calculation            timestamptz,
    jurisdiction_level                       text,
    tax_location_code_taxed_jurisdiction     text,
    tax_calculation_reason_code              text,
    customer_exemption_certificate_id        text,
    customer_exemption_certificate_id_domain text,
    customer_exemption_certificate_level     text,
    customer_exemption_code                  text,
    customer_exemption_domain                text,
    valid_from                               timestamptz,
    insert_date                              timestamptz,
    update_date                              timestamptz,
    delete_date                              timestamptz
);

CREATE TABLE settle.sdds_daily_usage (
    usage_feed_id                                  text   NOT NULL,
    file_id                                        bigint NOT NULL,
    line                                           bigint NOT NULL,
    usage_date                                     timestamptz,
    recipient_account_id                           text,
    payer_account_id                               text,
    end_user_account_id                            text,
    product_id                                     text,
    offer_id                                       text,
    agreement_id                                   text,
    dimension_key                                  text,
    usage_unit                                     text,
    usage_quantity                                 numeric,  -- exact: quantities may be fractional
    region                                         text,
    charge_item_description                        text,
    pricing_currency                               text,
    usage_rate_per_unit_in_pricing_currency_micros bigint,
    estimated_revenue_in_pricing_currency_micros   bigint,
    catalog                                        text,
    valid_from                                     timestamptz,
    insert_date                                    timestamptz,
    update_date                                    timestamptz,
    delete_date                                    timestamptz
);

-- Rows are appended in file order: a BRIN index on file_id finds a file's rows (as 004 does for
-- the other input tables).
CREATE INDEX sdds_account_file_brin ON settle.sdds_account USING brin (file_id);
CREATE INDEX sdds_agreement_file_brin ON settle.sdds_agreement USING brin (file_id);
CREATE INDEX sdds_agreement_term_file_brin ON settle.sdds_agreement_term USING brin (file_id);
CREATE INDEX sdds_offer_file_brin ON settle.sdds_offer USING brin (file_id);
CREATE INDEX sdds_offer_product_file_brin ON settle.sdds_offer_product USING brin (file_id);
CREATE INDEX sdds_offer_target_file_brin ON settle.sdds_offer_target USING brin (file_id);
CREATE INDEX sdds_product_file_brin ON settle.sdds_product USING brin (file_id);
CREATE INDEX sdds_legacy_id_mapping_file_brin ON settle.sdds_legacy_id_mapping USING brin (file_id);
CREATE INDEX sdds_tax_item_file_brin ON settle.sdds_tax_item USING brin (file_id);
CREATE INDEX sdds_daily_usage_file_brin ON settle.sdds_daily_usage USING brin (file_id);

-- The current versions as of an instant, one function per feed, on the feed's key (SDDS.md).
DO $$ BEGIN EXECUTE format($f$
CREATE FUNCTION settle.sdds_account_asof(as_of timestamptz) RETURNS SETOF settle.sdds_account
LANGUAGE sql STABLE PARALLEL SAFE AS %L$f$, settle.version_asof_sql('settle.sdds_account', ARRAY['account_id']));
END $$;
DO $$ BEGIN EXECUTE format($f$
CREATE FUNCTION settle.sdds_agreement_asof(as_of timestamptz) RETURNS SETOF settle.sdds_agreement
LANGUAGE sql STABLE PARALLEL SAFE AS %L$f$, settle.version_asof_sql('settle.sdds_agreement', ARRAY['agreement_id']));
END $$;
DO $$ BEGIN EXECUTE format($f$
CREATE FUNCTION settle.sdds_agreement_term_asof(as_of timestamptz) RETURNS SETOF settle.sdds_agreement_term
LANGUAGE sql STABLE PARALLEL SAFE AS %L$f$,
    settle.version_asof_sql('settle.sdds_agreement_term', ARRAY['agreement_id', 'term_id']));
END $$;
DO $$ BEGIN EXECUTE format($f$
CREATE FUNCTION settle.sdds_offer_asof(as_of timestamptz) RETURNS SETOF settle.sdds_offer
LANGUAGE sql STABLE PARALLEL SAFE AS %L$f$, settle.version_asof_sql('settle.sdds_offer', ARRAY['offer_id', 'offer_revision']));
END $$;
DO $$ BEGIN EXECUTE format($f$
CREATE FUNCTION settle.sdds_offer_product_asof(as_of timestamptz) RETURNS SETOF settle.sdds_offer_product
LANGUAGE sql STABLE PARALLEL SAFE AS %L$f$,
    settle.version_asof_sql('settle.sdds_offer_product', ARRAY['offer_id', 'offer_revision', 'product_id']));
END $$;
DO $$ BEGIN EXECUTE format($f$
CREATE FUNCTION settle.sdds_offer_target_asof(as_of timestamptz) RETURNS SETOF settle.sdds_offer_target
LANGUAGE sql STABLE PARALLEL SAFE AS %L$f$, settle.version_asof_sql('settle.sdds_offer_target', ARRAY['offer_target_id']));
END $$;
DO $$ BEGIN EXECUTE format($f$
CREATE FUNCTION settle.sdds_product_asof(as_of timestamptz) RETURNS SETOF settle.sdds_product
LANGUAGE sql STABLE PARALLEL SAFE AS %L$f$, settle.version_asof_sql('settle.sdds_product', ARRAY['product_id']));
END $$;
DO $$ BEGIN EXECUTE format($f$
CREATE FUNCTION settle.sdds_legacy_id_mapping_asof(as_of timestamptz) RETURNS SETOF settle.sdds_legacy_id_mapping
LANGUAGE sql STABLE PARALLEL SAFE AS %L$f$,
    settle.version_asof_sql('settle.sdds_legacy_id_mapping', ARRAY['mapping_type', 'legacy_id']));
END $$;
DO $$ BEGIN EXECUTE format($f$
CREATE FUNCTION settle.sdds_tax_item_asof(as_of timestamptz) RETURNS SETOF settle.sdds_tax_item
LANGUAGE sql STABLE PARALLEL SAFE AS %L$f$, settle.version_asof_sql('settle.sdds_tax_item', ARRAY['tax_item_id']));
END $$;
DO $$ BEGIN EXECUTE format($f$
CREATE FUNCTION settle.sdds_daily_usage_asof(as_of timestamptz) RETURNS SETOF settle.sdds_daily_usage
LANGUAGE sql STABLE PARALLEL SAFE AS %L$f$, settle.version_asof_sql('settle.sdds_daily_usage', ARRAY['usage_feed_id']));
END $$;

-- ---------------------------------------------------------------------------------------------
-- Account ids in two forms (SPEC §1): one identity for the 12-digit AWS account number and the
-- feeds' opaque account_id.

-- An id as the 12-digit number when it is one with its leading zeros lost (all digits, 1 to 11 of
-- them: a tool read it as a number, SDDS.md), else the id unchanged. Inlined into joins over
-- millions of rows: the length test comes first, so a 42-character id or a 12-digit number costs
-- no pattern match.
CREATE FUNCTION settle.account_pad(account text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN length(account) < 12 AND account ~ '^[0-9]+$' THEN lpad(account, 12, '0') ELSE account END
$$;

-- Every id the account feed knows as of as_of, in both forms, with the account's identity
-- (account_key: the padded 12-digit number when the feed knows it, else its account_id) and its
-- tax_legal_name. One row per id; should two current accounts claim one number, the one with the
-- smallest account_id names it. For joins: an inlinable SQL function computed once per query,
-- so `LEFT JOIN settle.account_map($1) m ON m.id = settle.account_pad(x)` is one hash join
-- however many rows x has; coalesce(m.account_key, settle.account_pad(x)) is x's identity.
CREATE FUNCTION settle.account_map(as_of timestamptz)
RETURNS TABLE (id text, account_key text, tax_legal_name text)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT DISTINCT ON (v.id) v.id, v.account_key, v.tax_legal_name
    FROM (
        SELECT a.account_id, a.tax_legal_name,
               coalesce(settle.account_pad(a.aws_account_id), a.account_id) AS account_key,
               settle.account_pad(a.aws_account_id) AS number
        FROM settle.sdds_account_asof(as_of) a
    ) acc
    CROSS JOIN LATERAL (VALUES (acc.account_id, acc.account_key, acc.tax_legal_name, 0),
                               (acc.number, acc.account_key, acc.tax_legal_name, 1)) v (id, account_key, tax_legal_name, form)
    WHERE v.id IS NOT NULL
    ORDER BY v.id, v.form, acc.account_id
$$;

-- One id's identity as of as_of (either form in, the 12-digit number out when known): the same
-- as account_map's. A number is its own identity (padded); an account_id is looked up by its key,
-- which PostgreSQL pushes below the version resolution (only that account's rows are read). For
-- one value at a time: over many rows, join settle.account_map instead.
CREATE FUNCTION settle.account_key(account text, as_of timestamptz)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN account ~ '^[0-9]{1,12}$' THEN settle.account_pad(account)
                ELSE coalesce((SELECT settle.account_pad(a.aws_account_id) FROM settle.sdds_account_asof(as_of) a
                               WHERE a.account_id = account AND a.aws_account_id IS NOT NULL), account) END
$$;

-- The account's tax_legal_name (account feed, as of as_of) for an id in either form, or NULL.
CREATE FUNCTION settle.account_name(account text, as_of timestamptz)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT m.tax_legal_name FROM settle.account_map(as_of) m WHERE m.id = settle.account_pad(account)
$$;
