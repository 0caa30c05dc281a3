/* reconcile_io.h — the small tools of reconcile's C code over rows: strict integer fields, a
 * string-keyed hash index for the few aggregations done in C, growable strings. The COPY reader
 * and writer it uses (rio_in, rio_out) are pgcopy.h's.
 */
#ifndef SETTLE_RECONCILE_IO_H
#define SETTLE_RECONCILE_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "db.h"
#include "err.h"

/* Strict integer fields: the whole text is an optional '-' and digits, within range. */
int rio_i64(const char *text, int64_t *out);
int rio_i32(const char *text, int32_t *out);

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
/* SPEC §4.2: "the smallest non-empty value (byte order)": cur becomes cand when cand is non-empty
 * and cur is empty or greater by strcmp; NULL and "" are absent. -1 on out of memory. */
int rio_str_keep_smallest(struct rio_str *cur, const char *cand, struct err *e);
void rio_str_free(struct rio_str *b);

#endif
