/* ingest.h — validating feed files into PostgreSQL (SPEC §3, §5, §6).
 *
 * One file is one transaction: its ledger row (settle.ingest_file), every row that passed
 * validation, and every quarantined row (settle.rejected_row) commit together or not at all.
 * The caller holds the run lock (db_lock_run). Parsing, validation and COPY stream in one pass
 * with bounded buffers.
 */
#ifndef SETTLE_INGEST_H
#define SETTLE_INGEST_H

#include <stdint.h>

#include "db.h"
#include "err.h"

struct ingest_options {
	const char *kind;         /* "billing_event", ... or NULL: recognise from the header */
	const char *recipient;    /* --recipient for billing-event files without the column, or NULL */
	int64_t ingested_at_us;   /* the ingest instant to record; 0 = the transaction's now() */
};

struct ingest_result {
	int64_t file_id;          /* the ledger row (of the earlier ingest when already_ingested) */
	char kind[24];
	int64_t rows_loaded;
	int64_t rows_rejected;
	int64_t rows_unchanged;   /* metering/deposit repeats with the same content: skipped */
	int already_ingested;     /* byte-identical file loaded (or, without --kind/--recipient,
				   * rejected whole) before: nothing done */
	int file_rejected;        /* structurally broken: recorded, nothing loaded */
};

/* Ingests one file in its own transaction. Quarantined rows are not an error (they show in
 * result->rows_rejected and are logged as warnings); an I/O or database failure is (-1, e). */
int ingest_file(struct db *db, const char *path, const struct ingest_options *opt,
		struct ingest_result *result, struct err *e);

#endif
