/* reconcile_io.h — moving rows between PostgreSQL and reconcile's C code in bulk.
 *
 * rio_in streams a `COPY (SELECT ...) TO STDOUT` one row at a time (text format, fields split and
 * unescaped in place), so no result set is held in memory. rio_out collects rows for one
 * `COPY table FROM STDIN` in a temporary file (a libpq connection cannot send a COPY while it is
 * still receiving another query's rows), then sends them in one COPY at the end. rio_map is a
 * string-keyed hash index for the few aggregations done in C.
 */
#ifndef SETTLE_RECONCILE_IO_H
#define SETTLE_RECONCILE_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "db.h"
#include "err.h"

#define RIO_FIELDS_MAX 32

struct rio_in {
	struct db_copy_reader copy;         /* the current row is its message, unescaped in place */
	const char *fields[RIO_FIELDS_MAX]; /* NULL for SQL NULL */
	int nfields;
	int64_t rows;
};

/* Starts `COPY (...) TO STDOUT` (constant SQL). */
int rio_in_begin(struct rio_in *in, struct db *db, const char *copy_sql, struct err *e);
/* 1 with the next row in in->fields, 0 at the end (the COPY's status checked), -1 on error. A row
 * whose number of fields is not nfields_expected is an error. */
int rio_in_next(struct rio_in *in, int nfields_expected, struct err *e);
/* Reads and discards whatever is left (after an error) so the connection is usable again. */
void rio_in_end(struct rio_in *in);

/* Strict integer fields: the whole text is an optional '-' and digits, within range. */
int rio_i64(const char *text, int64_t *out);
int rio_i32(const char *text, int32_t *out);

struct rio_out {
	FILE *f;       /* anonymous temporary file */
	int col;       /* fields written in the current row */
	int64_t rows;
	int failed;    /* a write failed (reported by rio_out_send) */
	int write_errno; /* the errno of that first failure (a full disk: ENOSPC) */
};

int rio_out_open(struct rio_out *o, struct err *e);
void rio_out_close(struct rio_out *o);
/* Field writers in COPY text format: NULL text is \N; tabs, newlines and backslashes escaped. */
void rio_text(struct rio_out *o, const char *s);
void rio_int(struct rio_out *o, int64_t v);
void rio_null(struct rio_out *o);
void rio_bool(struct rio_out *o, int b);
void rio_end_row(struct rio_out *o);
/* Sends every row with the COPY statement copy_sql ("COPY t (cols) FROM STDIN"); the temporary
 * file is rewound and emptied afterwards. */
int rio_out_send(struct rio_out *o, struct db *db, const char *copy_sql, struct err *e);

/* An open-addressing map from strings to indices 0, 1, 2, ... in insertion order. */
struct rio_map {
	char **keys;     /* by slot; owned */
	size_t *ids;     /* by slot */
	size_t cap, n;
};

void rio_map_init(struct rio_map *m);
void rio_map_free(struct rio_map *m);
/* The id of key (inserting it with id m->n when new: *added = 1). -1 on out of memory. */
int rio_map_put(struct rio_map *m, const char *key, size_t *id, int *added, struct err *e);
/* The id of key, or -1 when absent. */
int rio_map_get(const struct rio_map *m, const char *key, size_t *id);

/* A growable string, reused across rows to keep the per-row work free of malloc. */
struct rio_str {
	char *s;
	size_t len, cap;
};

int rio_str_set(struct rio_str *b, const char *s, struct err *e);  /* NULL stores "" */
void rio_str_free(struct rio_str *b);

#endif
