/* report_set.h — one period's report directory (SPEC §6, §8); the runs that produce it are run.h's.
 *
 * A report set is the directory OUT/YYYY-MM holding the CSV files of report_listing.h's listings, the
 * workbook settle-YYYY-MM.xlsx, run.csv and MANIFEST. It is written whole into a temporary
 * directory next to its target (OUT/.YYYY-MM.tmp-XXXXXX), every file fsync'ed and of mode 0640 or
 * stricter, and then swapped into place with one atomic rename (renameat2 RENAME_EXCHANGE when a
 * previous set exists), so a reader or a killed run only ever sees the old set or the new one.
 * Nothing in a set depends on the wall clock, the time zone or the locale: the same database
 * content, period, as-of, configuration and settle version give the same bytes (SPEC §6).
 *
 * Only fixed file names are written, inside OUT/<period> where the period is a validated
 * "YYYY-MM": nothing from the data can name a path.
 */
#ifndef SETTLE_REPORT_SET_H
#define SETTLE_REPORT_SET_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "close.h"
#include "config.h"
#include "db.h"
#include "err.h"
#include "insights.h"
#include "reconcile.h"
#include "report_xlsx.h"

struct msg_sink;

#define REPORT_RUN_CSV "run.csv"
#define REPORT_MANIFEST "MANIFEST"
#define REPORT_PATH_MAX 4096

/* The key/value facts of a run (run.csv rows, the workbook's Summary facts), in output order:
 * settle_version, period, as_of, schema_version, config.<name>..., inputs, then per input file
 * (all files ingested at or before as-of, in ingest order) input.<n>.name/.kind/.sha256/
 * .ingested_at/.rows_loaded/.rows_rejected. Keys and values are owned by the struct. */
struct report_facts {
	struct report_fact *v;
	size_t n, cap;
};
int report_facts_collect(struct db *db, int64_t run_id, int32_t period, int64_t as_of_us,
			 const struct config *cfg, struct report_facts *out, struct err *e);
void report_facts_release(struct report_facts *f);

/* A set written into its temporary directory, not yet in place. */
struct report_stage {
	char root[REPORT_PATH_MAX]; /* the output directory (OUT) */
	char period[8];             /* "2026-10": the set's final name in root */
	char tmp[64];               /* ".2026-10.tmp-XXXXXX" in root; "" when nothing is staged */
	struct insights_summary insights; /* the period's insights (report_job_run fills it), for
					   * the commands' summary lines (insights_summary_line) */
	/* Closed periods (SPEC §6.1, close.h). target is the set's final name in root: the period,
	 * or "2026-10.restated". A closed period whose figures are as closed stages nothing (tmp
	 * "") and has drop_restated set: publishing it removes a stale root/P.restated when
	 * remove_stale is set too (nightly; report may run at an earlier as-of). note is the
	 * summary's words for a closed period ("(closed 2026-11-05): restated: ..."), else "". */
	char target[24];
	int drop_restated;
	int remove_stale; /* with drop_restated: publish removes a stale P.restated (nightly only) */
	char note[192];
	const struct msg_sink *msg; /* where its lines go (msg.h): report_set_input.msg */
};

struct report_set_input {
	int64_t run_id;
	int32_t period;
	int64_t as_of_us;
	const struct config *cfg;
	const struct close_view *restated; /* non-NULL: write root/P.restated with restatement.csv,
					    * the Restatement sheet and the closed_as_of fact */
	const struct msg_sink *msg;        /* where its lines go (msg.h); NULL: msg_log */
};

/* Writes the whole set of in->period into a new temporary directory in out_root (created with its
 * parents when missing). Stale temporary directories of the same period left by a killed run are
 * removed first. On failure nothing is left behind. */
int report_stage_write(struct db *db, const struct report_set_input *in, const char *out_root,
		       struct report_stage *st, struct err *e);
/* The staged directory's path into buf. */
void report_stage_path(const struct report_stage *st, char buf[REPORT_PATH_MAX]);
/* Swaps the staged set into root/target atomically, removes the previous set, fsyncs root.
 * Never replaces a read-only directory (a closed set, SPEC §6.1): that is an error. A stage
 * with nothing staged only removes a stale restated set when drop_restated says so. */
int report_stage_publish(struct report_stage *st, struct err *e);
/* Removes a staged set (error paths, verify). Fine on an empty stage. */
void report_stage_discard(struct report_stage *st);

/* Parses a --period argument: exactly "YYYY-MM" (EXIT_USAGE otherwise). */
int report_parse_period(const char *text, int32_t *out, struct err *e);

/* What a run.csv says (settle rerun / verify). */
struct report_runfile {
	int32_t period;
	int64_t as_of_us;
	char settle_version[64];
	int schema_version;          /* -1 when absent */
	int restated;                /* a P.restated set: closed_as_of names the close it restates */
	int64_t closed_as_of_us;
	struct config cfg;           /* built-in defaults + the file's config.<name> rows */
	size_t inputs_n;
	char (*inputs_sha256)[65];   /* input.<n>.sha256 values, in file order; owned */
};
/* Reads and checks run.csv; a malformed file is EXIT_USAGE. */
int report_runfile_read(const char *path, struct report_runfile *rf, struct err *e);
void report_runfile_release(struct report_runfile *rf);

/* Reads a whole small file (run.csv, MANIFEST) of at most max bytes into a NUL-terminated buffer
 * the caller frees. */
int report_read_file(const char *path, size_t max, char **out, size_t *len, struct err *e);

#endif
