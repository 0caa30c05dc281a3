/* pgcopy.h — PostgreSQL's COPY formats in both directions, the one place settle speaks them:
 * the binary writer (copy_out: ingest, quarantine spools), the text writer (rio_out: reconcile's
 * results, insights), the reader of COPY TO STDOUT (db_copy_reader) with its text (rio_in) and
 * binary (bin_in) row parsers, and PostgreSQL's epoch (COPY_PG_EPOCH_US). db.c starts and ends a
 * COPY FROM STDIN (db_copy_begin/put/end/abort); everything about the bytes is here.
 *
 * Why binary rather than text COPY: settle has already parsed every amount, instant and date, so
 * it sends them as 8-byte integers and the server does not parse them again; text travels as
 * length + bytes, with nothing to escape (no backslash, tab or newline rules to get wrong).
 *
 * A copy_out collects bytes in a buffer of fixed capacity and hands full buffers to its sink
 * (db_copy_put for a COPY, fwrite for a spool file). Writes never fail on their own: the first
 * sink failure is kept, later writes are dropped, and copy_out_flush reports it. Memory is the
 * buffer, whatever the number of rows.
 */
#ifndef SETTLE_PGCOPY_H
#define SETTLE_PGCOPY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "err.h"

#define COPY_OUT_CAP ((size_t)256 * 1024)

/* Consumes len bytes; returns 0, or -1 with e filled. */
typedef int (*copy_sink_fn)(void *arg, const char *buf, size_t len, struct err *e);

struct copy_out {
	char *buf;
	size_t len, cap;
	copy_sink_fn sink;
	void *arg;
	int failed;        /* a sink call failed: err holds why */
	struct err err;
	int64_t tuples;    /* tuples begun */
};

/* 0, or -1 when out of memory. cap is the buffer size (at least 64 KiB). */
int copy_out_init(struct copy_out *c, size_t cap, copy_sink_fn sink, void *arg);
void copy_out_release(struct copy_out *c);

/* The 19-byte signature + flags + extension header, and the -1 trailer. */
void copy_out_header(struct copy_out *c);
void copy_out_trailer(struct copy_out *c);

/* Hands the buffered bytes to the sink now (the inline writers call it when the buffer is full). */
void copy_out_drain(struct copy_out *c);

/* PostgreSQL's epoch for timestamps and dates is 2000-01-01 00:00 UTC. */
#define COPY_PG_EPOCH_DAYS INT64_C(10957)
#define COPY_PG_EPOCH_US (COPY_PG_EPOCH_DAYS * INT64_C(86400000000))

/* The writers below run once per field of every row: inline, one capacity check each. */
static inline char *copy_out_room(struct copy_out *c, size_t need)
{
	ASSERT(need <= c->cap);
	if (c->cap - c->len < need)
		copy_out_drain(c);
	char *p = c->buf + c->len;
	c->len += need;
	return p;
}

static inline void copy_out_be32(char *p, uint32_t v)
{
	v = __builtin_bswap32(v);
	memcpy(p, &v, 4);
}

static inline void copy_out_be64(char *p, uint64_t v)
{
	v = __builtin_bswap64(v);
	memcpy(p, &v, 8);
}

/* A tuple of nfields fields, then exactly nfields of the calls below. */
static inline void copy_out_tuple(struct copy_out *c, int nfields)
{
	ASSERT(nfields > 0 && nfields < 1600);
	char *p = copy_out_room(c, 2);
	p[0] = (char)(nfields >> 8);
	p[1] = (char)nfields;
	c->tuples++;
}

static inline void copy_out_null(struct copy_out *c)
{
	copy_out_be32(copy_out_room(c, 4), UINT32_MAX); /* int32 -1 */
}

/* len <= cap - 8 */
static inline void copy_out_text(struct copy_out *c, const char *s, size_t len)
{
	ASSERT(len <= c->cap - 8);
	char *p = copy_out_room(c, 4 + len);
	copy_out_be32(p, (uint32_t)len);
	if (len)
		memcpy(p + 4, s, len);
}

static inline void copy_out_int8(struct copy_out *c, int64_t v)
{
	char *p = copy_out_room(c, 12);
	copy_out_be32(p, 8);
	copy_out_be64(p + 4, (uint64_t)v);
}

/* µs since 1970 as timestamptz (µs since 2000-01-01 UTC on the wire). time_parse keeps instants
 * in years 1..9999, so the shift cannot overflow. */
static inline void copy_out_timestamptz(struct copy_out *c, int64_t unix_us)
{
	copy_out_int8(c, unix_us - COPY_PG_EPOCH_US);
}

/* Days since 1970-01-01 as date (days since 2000-01-01 on the wire). */
static inline void copy_out_date(struct copy_out *c, int64_t unix_days)
{
	char *p = copy_out_room(c, 8);
	copy_out_be32(p, 4);
	copy_out_be32(p + 4, (uint32_t)(int32_t)(unix_days - COPY_PG_EPOCH_DAYS));
}

/* Raw bytes (already in COPY binary form), e.g. tuples spooled earlier. */
void copy_out_raw(struct copy_out *c, const char *s, size_t len);

/* Hands the buffer to the sink. 0, or -1 with e filled from the first failure. */
int copy_out_flush(struct copy_out *c, struct err *e);

/* ---------------------------------------------------------------------------------------------
 * Reading: COPY ... TO STDOUT
 */

/* A COPY ... TO STDOUT being read one CopyData message (one row) at a time: the part the text
 * reader (reconcile_io.h) and the binary one (insights_read.c) share. */
struct db_copy_reader {
	struct db *db;
	char *msg;  /* libpq's buffer of the current message (freed by the next call or end) */
	int active; /* the COPY has not ended yet */
};
/* Sends copy_sql; *binary, when not NULL, says whether it is FORMAT binary. */
int db_copy_reader_begin(struct db_copy_reader *r, struct db *db, const char *copy_sql, int *binary,
			 struct err *e);
/* 1 with the next message in *msg (its length in *len, valid until the next call), 0 at the end
 * (the query's own result checked), -1 on error (the rest read and dropped). */
int db_copy_reader_next(struct db_copy_reader *r, char **msg, int *len, struct err *e);
/* Frees the message and reads and drops whatever is left (after an error, or when the caller
 * stops early), so that the connection is usable again. Idempotent. */
void db_copy_reader_end(struct db_copy_reader *r);

/* The binary format, one row at a time: fields point into libpq's buffer (valid until the next
 * call), with their lengths; at[i] is where field i's length word starts (at[nfields]: the row's
 * end), so a run of fields can be hashed or compared as sent. */
#define PGCOPY_BIN_FIELDS_MAX 16
struct bin_in {
	struct db_copy_reader copy;      /* the current row is its message */
	int nfields;                     /* every row has this many fields */
	const unsigned char *field[PGCOPY_BIN_FIELDS_MAX]; /* NULL for SQL NULL */
	int32_t len[PGCOPY_BIN_FIELDS_MAX];
	const unsigned char *at[PGCOPY_BIN_FIELDS_MAX + 1];
	int header_done;
};
/* Starts `COPY (...) TO STDOUT (FORMAT binary)` (constant SQL) of rows of nfields fields. */
int bin_in_begin(struct bin_in *in, struct db *db, const char *copy_sql, int nfields, struct err *e);
/* 1 with the next row in in->field, 0 at the end (the COPY's status checked), -1 on error (a
 * malformed row too). */
int bin_in_next(struct bin_in *in, struct err *e);
/* Reads and discards whatever is left (after an error, or when the caller stops early). */
void bin_in_end(struct bin_in *in);

/* Big-endian integers of the binary format. */
static inline uint32_t pgcopy_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline int64_t pgcopy_be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)pgcopy_be32(p) << 32 | pgcopy_be32(p + 4));
}

/* The text format, one row at a time (rio_in: fields split and unescaped in place, so no result
 * set is held in memory). */
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

/* ---------------------------------------------------------------------------------------------
 * Writing the text format: rows for one `COPY table FROM STDIN` collected in a temporary file (a
 * libpq connection cannot send a COPY while it is still receiving another query's rows), then
 * sent in one COPY at the end.
 */

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

#endif
