-- 018_ingest_lines.sql — the physical line count of each loaded file, for the next append.
--
-- An append's records are numbered from the line after its prefix (SPEC §3 "Appends"). Until
-- now that number came from reading the prefix before its first record; with the count kept
-- here, the records can be parsed and loaded while the prefix is read and hashed on a second
-- thread, and the prefix's SHA-256 is compared before COMMIT (src/ingest.c, docs/ingest.md).
-- file_lines: the number of LF bytes in the file's first file_bytes bytes, counted as they
-- were read for that load; NULL for rows written before this migration, by hand, or of files
-- that were not read to their end (an append at such a path reads its prefix first, as before).
ALTER TABLE settle.ingest_file ADD COLUMN file_lines bigint CHECK (file_lines >= 0);
