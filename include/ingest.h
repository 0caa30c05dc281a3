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
#include <stdio.h>

#include "csv_in.h"
#include "db.h"
#include "err.h"
#include "feed.h"

struct msg_sink;

struct ingest_options {
	const char *kind;         /* "billing_event", ... or NULL: recognise from the header */
	const char *recipient;    /* --recipient for billing-event files without the column, or NULL */
	int64_t ingested_at_us;   /* the ingest instant to record; 0 = the transaction's now() */
	/* The path the ledger keys the file by, printed in messages (nightly: relative to the
	 * inbox); NULL: the path as given, printed by its base name (settle ingest). */
	const char *name;
	int quiet;                /* nightly: no line for an unchanged file or a skipped feed */
	const struct msg_sink *msg; /* where its lines go (msg.h); NULL: msg_log */
	/* nightly: 1 when a file of kind k is to wait for the next night, because an earlier file that
	 * could be of its kind could not be read (SPEC §6: "latest ingested" follows the inbox order);
	 * asked once the kind is known (folder or header), before anything is loaded. NULL: never. */
	int (*hold)(const struct feed_kind *k, void *arg);
	void *hold_arg;
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
	int still_rejected;       /* with already_ingested: the earlier ingest rejected it whole */
	int skipped;              /* a feed settle does not use (addressfeed_v1): not read */
	int64_t prefix_bytes;     /* > 0: an append, only the records after this many bytes read */
	int64_t line_first;       /* an append: the physical line it started at */
	int prefix_changed;       /* ingested before at this path, earlier bytes changed: read whole */
	/* With -1: the file itself could not be opened or read (EACCES, EIO, vanished, shrank or
	 * changed while read; e names it and why), as opposed to the database or the machine failing.
	 * Nothing of it was loaded or recorded: a later run reads it again. */
	int unreadable;
	int held;                 /* opt->hold said its kind waits: nothing loaded, nothing recorded */
};

/* Ingests one file in its own transaction. Quarantined rows are not an error (they show in
 * result->rows_rejected and are logged as warnings); an I/O or database failure is (-1, e). */
int ingest_file(struct db *db, const char *path, const struct ingest_options *opt,
		struct ingest_result *result, struct err *e);

/* SPEC §3: where a file's kind comes from, for ingest and check alike. kind_opt (--kind, known)
 * wins; else the file's `<feed>_v1` folder in name; else *kind = NULL and the header tells.
 * *sdds = 1 when name lies in an SDDS feed folder. Returns 0, 1 to skip the file (a feed settle
 * does not use: rej->detail says so), or 2 when the file is to be rejected whole (rej filled). */
int ingest_place(const char *name, const char *kind_opt, const struct feed_kind **kind, int *sdds,
		 struct feed_reject *rej);

/* SPEC §5 "truncated last record": 1 (rej filled) when rec, the file's last record without a
 * line end, rejects the file: its field count is not the header's, or the file is an SDDS file
 * (whose every line ends with one: the copy is still being written). */
int ingest_last_record_rejects(const struct csv_in_record *rec, size_t nfields, int sdds, struct feed_reject *rej);

/* Opens path for reading only when it is a regular file, without blocking on a FIFO; sb is its
 * fstat. NULL with e set (the path and the reason) otherwise. */
struct stat;
FILE *ingest_open_regular(const char *path, struct stat *sb, struct err *e);

/* The last component of path, as messages name a file given by its path. */
const char *ingest_base_name(const char *path);

#endif
