-- 016_offer_terms.sql — an offer's terms derived from the SDDS feeds and completed by settle's own
-- offer file (SPEC §3.2, §3.3): what reconcile matches charge groups against.
--
-- Derived, per agreement (an agreement is a buyer's acceptance of an offer, and carries the buyer,
-- the currency and the validity): offer_id (through the legacy id mapping), the product of the
-- offer revision current at acceptance (offer product feed), its product_code and manufacturer —
-- the ISV — (product feed), the buyer (the acceptor, else the one BuyerAccounts target), the seller
-- of record (the offer's seller_account_id, else the proposer), the resale authorization (the
-- offer's opportunity_id), the currency, the validity (start and end day, UTC) and USAGE when the
-- agreement has a usage-based pricing term. A seller of record other than the ISV makes a CPPO.
-- Every account id is its identity (settle.account_map, sql/009): the 12-digit number when the
-- account feed knows it.
--
-- Stated, by settle's offer file: a row per offer_id, or per resale_authorization_id (empty
-- offer_id), term by term the offer's row first, then its authorization's. A stated split or fee
-- rate is used; a stated identity (agreement, product, buyer, ISV, reseller, currency) that
-- contradicts the derived one is OFFER_TERMS_CONFLICT; a missing ISV, currency or split basis is
-- OFFER_INCOMPLETE (problem_code/problem_detail: reconcile reports them and allocates nothing
-- through such an offer). An offer only the file knows keeps the file's terms, as before.

-- ---------------------------------------------------------------------------------------------
-- The offer file may now leave to the feeds what they carry.

ALTER TABLE settle.offer
    ALTER COLUMN offer_id DROP NOT NULL,
    ALTER COLUMN isv_account_id DROP NOT NULL,
    ALTER COLUMN currency DROP NOT NULL,
    ALTER COLUMN pricing_model DROP NOT NULL,
    ALTER COLUMN split_basis DROP NOT NULL;
ALTER TABLE settle.offer ADD CONSTRAINT offer_key_check
    CHECK (offer_id IS NOT NULL OR resale_authorization_id IS NOT NULL);

-- SPEC §3.2: the latest ingested row per key — offer_id, or the resale authorization of a row
-- without one. (A row with both applies to its offer_id.)
CREATE OR REPLACE FUNCTION settle.offer_asof(as_of timestamptz)
RETURNS SETOF settle.offer
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT DISTINCT ON (o.offer_id IS NULL, coalesce(o.offer_id, o.resale_authorization_id)) o.*
    FROM settle.offer o JOIN settle.ingest_file f ON f.file_id = o.file_id
    WHERE f.ingested_at <= as_of
    ORDER BY o.offer_id IS NULL, coalesce(o.offer_id, o.resale_authorization_id), o.file_id DESC, o.line DESC
$$;

-- An id's identity through a map of settle.account_map rows (NULL stays NULL).
CREATE FUNCTION settle.account_ident(account text, mapped text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN account IS NULL OR account = '' THEN NULL ELSE coalesce(mapped, settle.account_pad(account)) END
$$;

-- ---------------------------------------------------------------------------------------------
-- Derived terms, one row per current agreement (and one per offer of the offer feed that no
-- agreement accepted yet, so that a charge naming it finds what is known).

CREATE FUNCTION settle.offer_derived_asof(as_of timestamptz)
RETURNS TABLE (offer_id text, agreement_id text, product_id text, product_code text, buyer_account_id text,
               isv_account_id text, seller_account_id text, resale_authorization_id text, currency text,
               usage boolean, valid_from date, valid_until date)
LANGUAGE sql STABLE AS $$
    WITH acct AS MATERIALIZED (SELECT m.id, m.account_key FROM settle.account_map(as_of) m),
    legacy AS MATERIALIZED (
        SELECT DISTINCT ON (l.legacy_id) l.legacy_id, l.new_id
        FROM settle.sdds_legacy_id_mapping_asof(as_of) l
        ORDER BY l.legacy_id, l.mapping_type
    ),
    revs AS MATERIALIZED (
        SELECT coalesce(lg.new_id, o.offer_id) AS offer_id, o.offer_revision, o.valid_from, o.seller_account_id,
               o.opportunity_id
        FROM settle.sdds_offer_asof(as_of) o LEFT JOIN legacy lg ON lg.legacy_id = o.offer_id
    ),
    ag AS MATERIALIZED (
        SELECT a.agreement_id, coalesce(lg.new_id, a.offer_id) AS offer_id, a.proposer_account_id,
               a.acceptor_account_id, a.currency_code, a.start_time, a.end_time,
               coalesce(a.acceptance_time, a.start_time) AS accepted
        FROM settle.sdds_agreement_asof(as_of) a LEFT JOIN legacy lg ON lg.legacy_id = a.offer_id
        WHERE a.offer_id IS NOT NULL
    ),
    base AS (
        SELECT ag.offer_id, ag.agreement_id, ag.proposer_account_id, ag.acceptor_account_id, ag.currency_code,
               ag.start_time, ag.end_time, ag.accepted
        FROM ag
        UNION ALL
        SELECT DISTINCT r.offer_id, NULL, NULL, NULL, NULL, NULL::timestamptz, NULL::timestamptz, NULL::timestamptz
        FROM revs r WHERE NOT EXISTS (SELECT 1 FROM ag WHERE ag.offer_id = r.offer_id)
    ),
    -- the revision in force when the agreement was accepted (as the marketplace's own agreement
    -- report joins them); an agreement accepted before the offer's first revision (backdated) has
    -- the first one, as that report extends the first revision back in time; an offer no agreement
    -- accepted yet, the latest
    rev AS (
        SELECT DISTINCT ON (b.offer_id, b.agreement_id) b.offer_id, b.agreement_id, r.offer_revision,
               r.seller_account_id, r.opportunity_id
        FROM base b JOIN revs r ON r.offer_id = b.offer_id
        ORDER BY b.offer_id, b.agreement_id,
                 (b.accepted IS NOT NULL AND r.valid_from IS NOT NULL AND r.valid_from <= b.accepted) DESC,
                 CASE WHEN b.accepted IS NULL OR r.valid_from <= b.accepted THEN r.valid_from END DESC NULLS LAST,
                 r.valid_from ASC NULLS LAST, r.offer_revision COLLATE "C" DESC
    ),
    prod AS (
        SELECT DISTINCT ON (p.offer_id, p.offer_revision) p.offer_id, p.offer_revision,
               coalesce(lg.new_id, p.product_id) AS product_id
        FROM settle.sdds_offer_product_asof(as_of) p LEFT JOIN legacy lg ON lg.legacy_id = p.product_id
        ORDER BY p.offer_id, p.offer_revision, coalesce(lg.new_id, p.product_id) COLLATE "C"
    ),
    buyer AS (
        SELECT t.offer_id, t.offer_revision, min(t.value) AS value
        FROM settle.sdds_offer_target_asof(as_of) t
        WHERE t.target_type = 'BuyerAccounts' AND coalesce(t.polarity, 'Positive') <> 'Negative'
        GROUP BY t.offer_id, t.offer_revision
        HAVING count(DISTINCT settle.account_pad(t.value)) = 1
    ),
    usage AS (
        SELECT DISTINCT t.agreement_id FROM settle.sdds_agreement_term_asof(as_of) t
        WHERE t.term_type = 'UsageBasedPricingTerm'
    )
    SELECT b.offer_id, b.agreement_id, pr.product_id, p.product_code,
           settle.account_ident(coalesce(b.acceptor_account_id, bu.value), ab.account_key),
           settle.account_ident(p.manufacturer_account_id, ai.account_key),
           settle.account_ident(coalesce(rv.seller_account_id, b.proposer_account_id), asr.account_key),
           rv.opportunity_id, b.currency_code,
           b.agreement_id IN (SELECT u.agreement_id FROM usage u),
           b.start_time::date, b.end_time::date
    FROM base b
    LEFT JOIN rev rv ON rv.offer_id = b.offer_id AND rv.agreement_id IS NOT DISTINCT FROM b.agreement_id
    LEFT JOIN prod pr ON pr.offer_id = b.offer_id AND pr.offer_revision = rv.offer_revision
    LEFT JOIN settle.sdds_product_asof(as_of) p ON p.product_id = pr.product_id
    LEFT JOIN buyer bu ON bu.offer_id = b.offer_id AND bu.offer_revision = rv.offer_revision
    LEFT JOIN acct ab ON ab.id = settle.account_pad(coalesce(b.acceptor_account_id, bu.value))
    LEFT JOIN acct ai ON ai.id = settle.account_pad(p.manufacturer_account_id)
    LEFT JOIN acct asr ON asr.id = settle.account_pad(coalesce(rv.seller_account_id, b.proposer_account_id))
$$;

-- ---------------------------------------------------------------------------------------------
-- The terms reconcile uses: derived completed by stated, and the offers only the file knows.

CREATE FUNCTION settle.offer_terms_asof(as_of timestamptz)
RETURNS TABLE (offer_id text, agreement_id text, product_id text, product_code text, buyer_account_id text,
               isv_account_id text, reseller_account_id text, resale_authorization_id text, currency text,
               pricing_model text, split_basis text, markup_rate_micros bigint, isv_share_rate_micros bigint,
               listing_fee_rate_micros bigint, valid_from date, valid_until date, problem_code text,
               problem_detail text, derived boolean)
LANGUAGE sql STABLE AS $$
    WITH acct AS MATERIALIZED (SELECT m.id, m.account_key FROM settle.account_map(as_of) m),
    stated AS MATERIALIZED (
        SELECT s.offer_id, s.agreement_id, s.product_id, s.product_code, s.resale_authorization_id, s.currency,
               s.pricing_model, s.split_basis, s.markup_rate_micros, s.isv_share_rate_micros,
               s.listing_fee_rate_micros, s.valid_from, s.valid_until,
               settle.account_ident(s.buyer_account_id, ab.account_key) AS buyer_account_id,
               settle.account_ident(s.isv_account_id, ai.account_key) AS isv_account_id,
               settle.account_ident(s.reseller_account_id, ar.account_key) AS reseller_account_id
        FROM settle.offer_asof(as_of) s
        LEFT JOIN acct ab ON ab.id = settle.account_pad(s.buyer_account_id)
        LEFT JOIN acct ai ON ai.id = settle.account_pad(s.isv_account_id)
        LEFT JOIN acct ar ON ar.id = settle.account_pad(s.reseller_account_id)
    ),
    d AS MATERIALIZED (SELECT * FROM settle.offer_derived_asof(as_of)),
    -- each derived offer with its offer row (so) and its authorization's row (sa)
    merged AS (
        SELECT d.*, d.seller_account_id <> d.isv_account_id AS cppo,
               so.agreement_id AS s_agreement, so.product_id AS s_product,
               coalesce(so.product_code, sa.product_code) AS s_product_code,
               coalesce(so.buyer_account_id, sa.buyer_account_id) AS s_buyer,
               coalesce(so.isv_account_id, sa.isv_account_id) AS s_isv,
               coalesce(so.reseller_account_id, sa.reseller_account_id) AS s_reseller,
               coalesce(so.currency, sa.currency) AS s_currency,
               coalesce(so.pricing_model, sa.pricing_model) AS s_pricing,
               coalesce(so.split_basis, sa.split_basis) AS s_basis,
               CASE WHEN so.split_basis IS NOT NULL THEN so.markup_rate_micros ELSE coalesce(so.markup_rate_micros, sa.markup_rate_micros) END AS s_markup,
               CASE WHEN so.split_basis IS NOT NULL THEN so.isv_share_rate_micros ELSE coalesce(so.isv_share_rate_micros, sa.isv_share_rate_micros) END AS s_share,
               coalesce(so.listing_fee_rate_micros, sa.listing_fee_rate_micros) AS s_fee,
               coalesce(so.valid_from, sa.valid_from) AS s_from,
               coalesce(so.valid_until, sa.valid_until) AS s_until
        FROM d
        LEFT JOIN stated so ON so.offer_id = d.offer_id
        LEFT JOIN stated sa ON sa.offer_id IS NULL AND sa.resale_authorization_id = d.resale_authorization_id
    ),
    checked AS (
        SELECT m.*,
               concat_ws(', ',
                   CASE WHEN m.s_agreement IS NOT NULL AND m.agreement_id IS NOT NULL AND m.s_agreement <> m.agreement_id
                        THEN format('agreement %s stated, %s in the agreement feed', m.s_agreement, m.agreement_id) END,
                   CASE WHEN m.s_product IS NOT NULL AND m.product_id IS NOT NULL AND m.s_product <> m.product_id
                        THEN format('product %s stated, %s in the offer product feed', m.s_product, m.product_id) END,
                   CASE WHEN m.s_buyer IS NOT NULL AND m.buyer_account_id IS NOT NULL AND m.s_buyer <> m.buyer_account_id
                        THEN format('buyer %s stated, %s in the agreement', m.s_buyer, m.buyer_account_id) END,
                   CASE WHEN m.s_isv IS NOT NULL AND m.isv_account_id IS NOT NULL AND m.s_isv <> m.isv_account_id
                        THEN format('ISV %s stated, %s is the product''s manufacturer', m.s_isv, m.isv_account_id) END,
                   CASE WHEN m.s_reseller IS NOT NULL AND m.seller_account_id IS NOT NULL AND m.s_reseller <> m.seller_account_id
                        THEN format('reseller %s stated, %s is the offer''s seller', m.s_reseller, m.seller_account_id) END,
                   CASE WHEN m.s_currency IS NOT NULL AND m.currency IS NOT NULL AND m.s_currency <> m.currency
                        THEN format('currency %s stated, %s in the agreement', m.s_currency, m.currency) END,
                   CASE WHEN m.s_basis = 'DIRECT' AND m.cppo
                        THEN format('split_basis DIRECT stated, but the offer''s seller %s is not the ISV %s',
                                    m.seller_account_id, m.isv_account_id) END,
                   CASE WHEN m.s_basis IN ('MARKUP', 'SHARE') AND m.cppo IS FALSE
                        THEN format('split_basis %s stated, but the offer is sold by its ISV %s', m.s_basis, m.isv_account_id) END
               ) AS conflict,
               coalesce(m.isv_account_id, m.s_isv) AS t_isv,
               coalesce(m.currency, m.s_currency) AS t_currency,
               CASE WHEN m.cppo THEN m.seller_account_id ELSE m.s_reseller END AS t_reseller,
               coalesce(m.s_basis, CASE WHEN m.cppo THEN 'MARKUP' WHEN m.cppo IS FALSE THEN 'DIRECT' END) AS t_basis
        FROM merged m
    )
    SELECT c.offer_id, coalesce(c.agreement_id, c.s_agreement), coalesce(c.product_id, c.s_product),
           coalesce(c.s_product_code, c.product_code), coalesce(c.buyer_account_id, c.s_buyer), c.t_isv,
           CASE WHEN c.t_basis = 'DIRECT' THEN NULL ELSE c.t_reseller END, c.resale_authorization_id, c.t_currency,
           coalesce(c.s_pricing, CASE WHEN c.usage THEN 'USAGE' END, 'CONTRACT'), c.t_basis,
           c.s_markup, c.s_share, c.s_fee, coalesce(c.s_from, c.valid_from), coalesce(c.s_until, c.valid_until),
           CASE WHEN c.conflict <> '' THEN 'OFFER_TERMS_CONFLICT'
                WHEN c.t_isv IS NULL OR c.t_currency IS NULL OR c.t_basis IS NULL
                     OR (c.t_basis <> 'DIRECT' AND c.t_reseller IS NULL) THEN 'OFFER_INCOMPLETE' END,
           CASE WHEN c.conflict <> '' THEN c.conflict
                ELSE nullif(concat_ws(', ',
                   CASE WHEN c.t_isv IS NULL THEN 'no ISV: the product feed does not name its manufacturer and the offer file no isv_account_id' END,
                   CASE WHEN c.t_currency IS NULL THEN 'no currency: no agreement gives one and the offer file none' END,
                   CASE WHEN c.t_basis IS NULL THEN 'no split basis: the feeds cannot tell and the offer file gives none' END,
                   CASE WHEN c.t_basis <> 'DIRECT' AND c.t_reseller IS NULL THEN 'split basis ' || c.t_basis || ' without a reseller' END), '') END,
           true
    FROM checked c
    UNION ALL
    -- offers only the file knows: its terms, as in version 1
    SELECT s.offer_id, s.agreement_id, s.product_id, s.product_code, s.buyer_account_id, s.isv_account_id,
           s.reseller_account_id, s.resale_authorization_id, s.currency, coalesce(s.pricing_model, 'CONTRACT'),
           s.split_basis, s.markup_rate_micros, s.isv_share_rate_micros, s.listing_fee_rate_micros, s.valid_from,
           s.valid_until,
           CASE WHEN s.isv_account_id IS NULL OR s.currency IS NULL OR s.split_basis IS NULL THEN 'OFFER_INCOMPLETE' END,
           nullif(concat_ws(', ',
               CASE WHEN s.isv_account_id IS NULL THEN 'no isv_account_id in the offer file and no feed knows the offer' END,
               CASE WHEN s.currency IS NULL THEN 'no currency in the offer file and no agreement feed row' END,
               CASE WHEN s.split_basis IS NULL THEN 'no split_basis in the offer file' END), ''),
           false
    FROM stated s
    WHERE s.offer_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM d WHERE d.offer_id = s.offer_id)
$$;

-- SPEC §3.3: usage prices: the offer_dimension file's, else the agreement's usage-based pricing
-- term (rate card dimensionKey and price; of an offer's several agreements, the latest started).
-- A price is taken only when it is an exact number of micros; one with more digits, or not a
-- number, has no unit_price_micros: offer_dimension_terms_asof passes it on with its text so that
-- reconcile names it rather than calling the dimension unpriced.
CREATE FUNCTION settle.offer_term_prices_asof(as_of timestamptz)
RETURNS TABLE (offer_id text, dimension text, price text, unit_price_micros bigint)
LANGUAGE sql STABLE AS $$
    SELECT DISTINCT ON (a.offer_id, card.elem->>'dimensionKey')
           a.offer_id, card.elem->>'dimensionKey', card.elem->>'price',
           CASE WHEN (card.elem->>'price') ~ '^[0-9]+(\.[0-9]+)?$'
                 AND (card.elem->>'price')::numeric * 1000000 = trunc((card.elem->>'price')::numeric * 1000000)
                 AND (card.elem->>'price')::numeric < 1000000000000
                THEN ((card.elem->>'price')::numeric * 1000000)::bigint END
    FROM settle.sdds_agreement_term_asof(as_of) t
    JOIN settle.sdds_agreement_asof(as_of) a ON a.agreement_id = t.agreement_id
    CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(t.term_configuration->'rateCards') = 'array'
                                                 THEN t.term_configuration->'rateCards' ELSE '[]' END)
                       WITH ORDINALITY rc (elem, n)
    CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(rc.elem->'rateCard') = 'array'
                                                 THEN rc.elem->'rateCard' ELSE '[]' END)
                       WITH ORDINALITY card (elem, n)
    WHERE t.term_type = 'UsageBasedPricingTerm' AND a.offer_id IS NOT NULL
      AND card.elem->>'dimensionKey' IS NOT NULL
    -- a total order: one agreement may carry a dimension in several terms or rate cards
    ORDER BY a.offer_id, card.elem->>'dimensionKey', a.start_time DESC NULLS LAST, a.agreement_id COLLATE "C" DESC,
             t.term_id COLLATE "C", rc.n, card.n
$$;

-- unit_price_micros NULL: the feed's price (price, its text) is not an exact number of micros and
-- the offer_dimension file states none; reconcile reports the dimension with that price.
CREATE FUNCTION settle.offer_dimension_terms_asof(as_of timestamptz)
RETURNS TABLE (offer_id text, dimension text, unit_price_micros bigint, price text)
LANGUAGE sql STABLE AS $$
    SELECT s.offer_id, s.dimension, s.unit_price_micros, NULL::text FROM settle.offer_dimension_asof(as_of) s
    UNION ALL
    SELECT p.offer_id, p.dimension, p.unit_price_micros, p.price FROM settle.offer_term_prices_asof(as_of) p
    WHERE NOT EXISTS (SELECT 1 FROM settle.offer_dimension_asof(as_of) s
                      WHERE s.offer_id = p.offer_id AND s.dimension = p.dimension)
$$;

-- SPEC §1: reconcile reads every account of the billing events as its identity. The account map
-- as of the run, filled per run by reconcile (src/reconcile.c, beside settle.rc_winner, in its
-- transaction under the run lock); an unlogged table rather than a temporary one so that the
-- parallel workers that build the current events can read it.
CREATE UNLOGGED TABLE settle.rc_account (
    id          text PRIMARY KEY,
    account_key text NOT NULL
);
