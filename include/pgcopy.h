/* pgcopy.h — PostgreSQL's COPY formats, both directions: the binary writer (below).
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
#include <string.h>

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

#endif
