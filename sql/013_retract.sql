-- 013_retract.sql — withdrawing an ingested file (SPEC §7 `settle retract`) and the per-period
-- failure record of nightly (SPEC §6, containment). docs/ingest.md "Retracting a file",
-- docs/reconcile.md "Containment".

-- A retraction withdraws one ledger row's rows from every run at an as-of at or after its instant.
-- Nothing is deleted: a rerun at an earlier as-of sees the file as it did. One retraction per
-- file (retracting again is a no-op that says so); retracted_at is the database clock, the same
-- clock as ingested_at and as-of; retracted_by is $USER of the command.
CREATE TABLE settle.retraction (
    retraction_id bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    file_id       bigint      NOT NULL UNIQUE REFERENCES settle.ingest_file,
    retracted_at  timestamptz NOT NULL,
    reason        text        NOT NULL CHECK (reason <> ''),
    retracted_by  text        NOT NULL
);

-- The one definition of "the files a run at as_of sees": ingested at or before as_of and not
-- retracted at or before it. Every as-of reader uses it as `file_id IN (SELECT v.file_id FROM
-- settle.visible_files(as_of) v)`, which PostgreSQL inlines (a plain SQL set-returning function)
-- into a hashed semi-join against the small ledger, as the bare ledger predicate was; a scalar
-- per-row test (file_visible(file_id, as_of)) would be a subplan per billing event. New feed
-- kinds' *_asof functions should use it the same way.
CREATE FUNCTION settle.visible_files(as_of timestamptz)
RETURNS TABLE (file_id bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT l.file_id FROM settle.ingest_file l
    WHERE l.ingested_at <= as_of
      AND NOT EXISTS (SELECT 1 FROM settle.retraction r
                      WHERE r.file_id = l.file_id AND r.retracted_at <= as_of)
$$;

-- The retractions the next nightly has not re-reported yet: it re-reports the periods of
-- every retraction after this id (the periods the retracted file touches, periods_touched of
-- 004 over that one file), then moves it with reported_through_file_id.
ALTER TABLE settle.nightly_state ADD COLUMN reported_through_retraction_id bigint NOT NULL DEFAULT 0;

-- Containment (docs/reconcile.md): a period whose computation failed in a nightly, kept until a
-- later nightly computes it; every nightly retries it and says "still failing since".
-- crashed: the process died while computing the period alone (an abort, a kill), as told by an
-- attempt left behind below.
CREATE TABLE settle.period_failure (
    period         text        PRIMARY KEY CHECK (period ~ '^[0-9]{4}-[0-9]{2}$'),
    first_failed   timestamptz NOT NULL,   -- as-of of the first failing nightly of this streak
    last_failed    timestamptz NOT NULL,   -- as-of of the latest
    failures       integer     NOT NULL,   -- nightlies in the streak
    crashed        boolean     NOT NULL,
    reason         text        NOT NULL
);

-- The periods a nightly is computing right now, committed before it starts them, removed with
-- its outcome. A row found by the next nightly means the process died in between: alone = true
-- names the one period that was being computed (it crashed, or the run was killed then); alone =
-- false a group of which one may have crashed, so the next nightly computes each of them alone,
-- after the others are committed and published.
CREATE TABLE settle.period_attempt (
    period     text        PRIMARY KEY,
    started    timestamptz NOT NULL,
    alone      boolean     NOT NULL
);

-- The as-of functions that exist before this one (002, 007, 008, the SDDS feeds of 009 and their
-- generator settle.version_resolution_sql) and those of later migrations all test the ledger as
-- `f.ingested_at <= as_of` on settle.ingest_file f (a subquery or a join). Rather than a copy of
-- each body here (which a later change of the body would silently undo), visibility_rewrite adds
-- the retraction test right after that predicate in every function of the schema that has it and
-- not yet the marker, from the function's own definition (pg_get_functiondef): the bodies stay
-- what their migrations wrote, with one condition more on the small ledger side, which the
-- planner turns into a hashed anti-join there, never a test per event row. It runs here and again
-- after every later migration (db_migrate, src/db.c), so a function a later migration creates the
-- same way is covered too; it is idempotent. tests/integration/test_retract.sh checks every as-of
-- function for a retracted file.
CREATE FUNCTION settle.visibility_rewrite()
RETURNS integer
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    fn record;
    n integer := 0;
BEGIN
    FOR fn IN
        SELECT p.oid FROM pg_proc p JOIN pg_namespace s ON s.oid = p.pronamespace
        WHERE s.nspname = 'settle' AND p.prosrc LIKE '%f.ingested_at <= as_of%'
          AND p.prosrc NOT LIKE '%/* not retracted */%'
        ORDER BY p.oid
    LOOP
        EXECUTE replace(pg_get_functiondef(fn.oid), 'f.ingested_at <= as_of',
                        'f.ingested_at <= as_of /* not retracted */ AND NOT EXISTS (SELECT 1 FROM'
                        ' settle.retraction r WHERE r.file_id = f.file_id AND r.retracted_at <= as_of)');
        n := n + 1;
    END LOOP;
    RETURN n;
END
$fn$;
SELECT settle.visibility_rewrite();
