-- 024_rc_be_cache.sql — the current billing events of the last reconcile, kept for the next one
-- (issue 19 target 1: a night of appends recomputes only the billing_event_ids the new rows touch).
--
-- reconcile reads the current versions of every billing event at its as-of into pg_temp.rc_be
-- (src/reconcile.c). Which version of a billing_event_id is current depends only on that id's
-- visible rows; the derived columns on the account map (SPEC §1) and, for DISBURSED lines without a
-- reference, on their parent's current reference (SPEC §3.1). So when the files visible to the new
-- run are those of the cached run plus new ones and the account map is the same, the new rc_be is
-- the cached rows minus the ids of the new files' rows and of the lines whose parent's reference
-- changed, plus those ids' current rows computed as always. Anything else (a retraction, an earlier as-of,
-- another settle binary or rc_be query, a changed account map) is a full recompute, which then
-- refreshes the cache. docs/reconcile.md "Incremental current versions".
--
-- Derived, not results: nothing reads these tables but reconcile, in its own transaction and under
-- the run lock, so a killed run leaves them as before. Unlogged, like settle.rc_winner: a server
-- crash empties all of them together (the state row with them), and an empty state is a full
-- recompute.

-- The rows of pg_temp.rc_be (reconcile.c rc_be_sql), in its column order, without its order.
CREATE UNLOGGED TABLE settle.rc_be_cache (
    gh            bigint,
    recipient     text,
    beid          text,
    tref          text,
    currency      text,
    action        text,
    ttype         text,
    side          text,
    amount        bigint,
    day           integer,
    usage_day     integer,
    agreement     text,
    offer         text,
    product       text,
    from_acct     text,
    disb_id       text,
    parent_id     text,
    trace         text,
    action_day    integer,
    line_item     text,
    invoice       text,
    paid_amount   bigint,
    paid_currency text
);

-- What the cached rows are: the as-of and the query that computed them (a digest of reconcile's SQL
-- text, the settle version and every function of the schema, so neither a changed binary nor a
-- later migration reuses another's rows). At most one row.
CREATE UNLOGGED TABLE settle.rc_be_cache_state (
    as_of        timestamptz NOT NULL,
    query_digest text        NOT NULL
);

-- The files visible at the cached as-of (settle.visible_files): every one must still be visible.
CREATE UNLOGGED TABLE settle.rc_be_cache_file (
    file_id bigint PRIMARY KEY
);

-- The account map the cached rows were computed with (settle.rc_account of that run).
CREATE UNLOGGED TABLE settle.rc_be_cache_account (
    id          text PRIMARY KEY,
    account_key text NOT NULL
);

-- The parents' references the cached rows borrowed (settle.rc_parent_ref of that run, SPEC §3.1):
-- a line whose parent's entry differs now is read again.
CREATE UNLOGGED TABLE settle.rc_be_cache_parent (
    billing_event_id         text PRIMARY KEY,
    transaction_reference_id text NOT NULL
);

-- The billing_event_ids of the new files' rows, for the one run filling it (a regular table, not
-- a temporary one, so that parallel workers can read it, as settle.rc_winner).
CREATE UNLOGGED TABLE settle.rc_new_key (
    billing_event_id text PRIMARY KEY
);
