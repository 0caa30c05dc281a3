-- 032_inbox_set_aside.sql — what the last nightly set aside in the inbox, for `settle status`
-- (SPEC §3 "never reports success quietly over files it did not read", §5 "nothing is lost").
--
-- A file settle could not open or read (EACCES, EIO, gone or rewritten while read), the later
-- files of its feed held back behind it (SPEC §6: "latest ingested" follows the inbox order), and
-- the entries the walk could not read (a FIFO, an unreadable folder, a dangling link) are never
-- recorded as ingested: each is read again on the next night. The ledger therefore has no row for
-- them, and the night's warning lines are gone with its cron mail; this table keeps them until
-- the next nightly, which replaces them all with its own in one transaction (an empty table: the
-- last nightly set nothing aside). Not input data: rows here are replaced, never versioned.
CREATE TABLE settle.inbox_set_aside (
    path     text        PRIMARY KEY,  -- relative to the inbox, as the ledger keys files
    night_at timestamptz NOT NULL,     -- the as-of of the nightly that set it aside
    held     boolean     NOT NULL,     -- readable, but waits behind an earlier entry it may depend on
    why      text        NOT NULL      -- the reason, as the night's warning said it
);
