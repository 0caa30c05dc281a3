-- 010_ingest_path.sql — the ledger keyed by path, and appends (SPEC §3 "Delivery layout", §6).
--
-- path: the file's path relative to the inbox (nightly) or the name as given (ingest FILE); two
-- data.csv at different paths are different files. Rows written before this migration take their
-- file_name. NULL only for rows written by hand (never an append's predecessor).
-- An append (the file at a path grew, its first prefix_bytes bytes unchanged since the ingest
-- prefix_file_id) is one more ledger row of the same path: its sha256 and file_bytes describe the
-- whole file as it is now, its rows are only those after the prefix. prefix_bytes = 0: the file was
-- read whole. The unique index on sha256 (loaded files) stays: an append's SHA-256 is that of the
-- grown file, which ingest looks up before recording (a byte-identical file loaded elsewhere makes
-- the append a no-op), so the index cannot block one.
ALTER TABLE settle.ingest_file ADD COLUMN path text;
UPDATE settle.ingest_file SET path = file_name WHERE path IS NULL;
ALTER TABLE settle.ingest_file ADD COLUMN prefix_bytes bigint NOT NULL DEFAULT 0
    CHECK (prefix_bytes >= 0);
ALTER TABLE settle.ingest_file ADD COLUMN prefix_file_id bigint REFERENCES settle.ingest_file;
-- The previous ingest of a path: the newest loaded row.
CREATE INDEX ingest_file_path ON settle.ingest_file (path, file_id);
