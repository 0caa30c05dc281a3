/* report_csv.h — the CSV files of a report set (SPEC §8).
 *
 * UTF-8 without BOM, LF line ends, a header row, comma separators, and quotes only where RFC 4180
 * needs them (a field holding a comma, a quote, CR or LF). A text cell that begins with '=', '+',
 * '-', '@', TAB or CR gets a leading apostrophe so a spreadsheet never runs it as a formula;
 * amounts, counts and dates are never altered. Files are created new (O_EXCL) with mode 0640 (or
 * stricter, by umask), and closed with fflush + fsync + fclose, every result checked.
 */
#ifndef SETTLE_REPORT_CSV_H
#define SETTLE_REPORT_CSV_H

#include <stdint.h>
#include <stdio.h>

#include "db.h"
#include "err.h"
#include "report_listing.h"

/* Writes one field to f: with guard != 0 the formula-injection apostrophe is added where SPEC §8
 * asks; quoting as needed. s may be NULL (an empty field). Errors surface in ferror(f). */
void report_csv_put(FILE *f, const char *s, int guard);

/* An output file being written. */
struct report_csv_sink;
struct report_csv_file {
	FILE *f;
	struct report_csv_sink *sink; /* f's descriptor and the errno of its first failed write */
	char path[4096];
};

/* Creates path (must not exist) for writing. */
int report_csv_create(const char *path, struct report_csv_file *out, struct err *e);
/* Flushes, fsyncs and closes; any failure (a full disk) is an error. Closes in every case. */
int report_csv_finish(struct report_csv_file *w, struct err *e);
/* Closes without checking, for error paths (the caller removes the file). NULL f is fine. */
void report_csv_abandon(struct report_csv_file *w);

/* Streams listing l of run_id/period into a new CSV file at path. *rows_out (may be NULL) gets
 * the number of data rows. */
int report_csv_write_listing(struct db *db, const struct report_listing *l, int64_t run_id,
			     const char *period, const char *path, int64_t *rows_out, struct err *e);

#endif
