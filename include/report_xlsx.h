/* report_xlsx.h — the accountants' workbook settle-YYYY-MM.xlsx (SPEC §8), rendered from the same
 * listings (report.h) as the CSV files, with libxlsxwriter in constant-memory mode.
 */
#ifndef SETTLE_REPORT_XLSX_H
#define SETTLE_REPORT_XLSX_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "err.h"

/* One fact of the run for the Summary sheet (the same key/value pairs as run.csv). */
struct report_fact {
	const char *key;
	const char *value;
};

struct report_xlsx_input {
	int64_t run_id;
	const char *period;              /* "2026-10" */
	int64_t as_of_us;                /* document properties carry this, never the wall clock */
	const struct report_fact *facts; /* run facts: version, as-of, config, input files + SHA-256 */
	size_t facts_n;
};

/* Writes the workbook to path (the caller renames it into place). Byte-identical for the same
 * database content, run inputs and settle version. */
int report_xlsx_write(struct db *db, const struct report_xlsx_input *in, const char *path, struct err *e);

#endif
