/* csv_in.h — feed files as CSV records with their physical line numbers (SPEC §3, §5).
 *
 * A thin layer over libcsv in strict mode (CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL). libcsv
 * reports no positions, so csv_in feeds it one physical line at a time and counts lines itself:
 * a record's `line` is the physical line where it starts (1 = the first line of the file), so a
 * quoted field that spans lines shifts every later record's line number correctly.
 *
 * What csv_in accepts, and decides:
 * - RFC 4180 with ',' and '"'; a line ends at LF; a CR directly before a line end or a delimiter
 *   (outside quotes) belongs to the line ending (CRLF files), inside quotes it is data.
 * - A UTF-8 byte order mark at byte 0 is skipped; anywhere else it is data.
 * - Spaces are data: nothing is trimmed (" 12.50" stays " 12.50" and fails validation later).
 * - Blank lines are skipped (they still count as physical lines).
 * - A first line that ends lines with a bare CR (a CR outside quotes followed by anything but CR,
 *   LF or ','; old Mac files) makes the file invalid at line 1: it would otherwise read as one
 *   header holding every row.
 * - A field longer than CSV_IN_FIELD_MAX bytes is flagged too_long and not stored; the record
 *   still parses, so the caller can quarantine that one row.
 * - A field longer than CSV_IN_BUFFER_MAX bytes (libcsv's buffer cap) in a well-formed record is
 *   still one record: csv_in reads on to the record's end itself, storing nothing, and returns
 *   the fields before it, it and every later field flagged too_long, and the record's field count.
 * - A quote inside an unquoted field, text after a closing quote, or a quoted field still open at
 *   the end of the file (an unbalanced quote, however long) make the file invalid
 *   (CSV_IN_INVALID): no record after that point can be trusted.
 * Memory is bounded by the chunk (CSV_IN_CHUNK), the field cap and the fields cap, never by the
 * size of the file.
 *
 * Speed: a line that starts a record and holds no '"' cannot contain anything libcsv would treat
 * specially except ',' and CR, so csv_in splits it itself (fields then point into the read
 * buffer, no copy); every other line goes through libcsv. Both paths give the same fields for the
 * same bytes (tests/unit/test_csv_in.c compares them on generated input).
 */
#ifndef SETTLE_CSV_IN_H
#define SETTLE_CSV_IN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

#define CSV_IN_CHUNK ((size_t)256 * 1024)       /* bytes read per fread */
#define CSV_IN_FIELD_MAX ((size_t)4096)         /* longer fields are flagged too_long */
#define CSV_IN_BUFFER_MAX ((size_t)1024 * 1024) /* libcsv's field buffer cap: longer = skipped */
#define CSV_IN_FIELDS_MAX ((size_t)1024)        /* fields stored per record (the header's cap) */

struct csv_in_field {
	const char *ptr; /* the field's bytes, NOT NUL-terminated (and they may contain NUL bytes) */
	size_t len;
	int too_long;    /* longer than CSV_IN_FIELD_MAX: ptr is "" and len 0 */
};

struct csv_in_record {
	int64_t line;      /* physical line where the record starts */
	int64_t line_end;  /* physical line where it ends (> line when a quoted field spans lines) */
	size_t nfields;    /* fields in the record, counted even past the stored ones */
	size_t nstored;    /* fields stored in fields[]: min(nfields, fields_max) */
	const struct csv_in_field *fields;
	int terminated;    /* 1 when a line feed ended it; 0 for a last record without one */
	int plain_ascii;   /* 1 when every byte of the record is in 0x01..0x7F: no field can hold a
			    * NUL or bad UTF-8, so validation may skip those checks (0 = unknown) */
};

enum csv_in_status {
	CSV_IN_FAILED = -1,  /* I/O or memory: e is filled */
	CSV_IN_EOF = 0,
	CSV_IN_RECORD = 1,   /* *rec is valid until the next call */
	CSV_IN_INVALID = 2,  /* not valid CSV: csv_in_invalid() says where and why */
};

struct csv_in;

/* Reads from f (owned by the caller, read from its current position). Returns NULL when out of
 * memory. */
struct csv_in *csv_in_new(FILE *f);
void csv_in_free(struct csv_in *r);

/* Fields stored per record from now on (1..CSV_IN_FIELDS_MAX); the rest are only counted. The
 * caller sets it to the header's width + 1 after reading the header, bounding memory per record. */
void csv_in_set_fields_max(struct csv_in *r, size_t n);

/* The next record. After CSV_IN_INVALID or CSV_IN_FAILED the reader is finished. */
enum csv_in_status csv_in_next(struct csv_in *r, struct csv_in_record *rec, struct err *e);

/* After CSV_IN_INVALID: the physical line where the problem is, and a sentence for the user. */
int64_t csv_in_invalid_line(const struct csv_in *r);
const char *csv_in_invalid_detail(const struct csv_in *r);

/* Turns the quote-free fast path off (1, default) or on: for tests comparing both paths. */
void csv_in_set_libcsv_only(struct csv_in *r, int on);
/* Reads at most n bytes (4..CSV_IN_CHUNK) per chunk instead of CSV_IN_CHUNK, so that short
 * inputs exercise the slicing of lines longer than the chunk (tests and fuzzing; same records
 * for any n). Call before the first csv_in_next. */
void csv_in_set_chunk_max(struct csv_in *r, size_t n);

struct digest;
/* Feeds every byte read from f to d (raw, BOM included), so that the file's SHA-256 comes with
 * the single read. Call before the first csv_in_next. d stays the caller's. */
void csv_in_set_digest(struct csv_in *r, struct digest *d);
/* 1 once the whole file has been read (then the digest has seen every byte). */
int csv_in_read_all(const struct csv_in *r);

/* The stream starts inside a file, at a record boundary after its first line_first - 1 physical
 * lines (an append, SPEC §3): line numbers continue from there, and no BOM is looked for. Call
 * before the first csv_in_next. */
void csv_in_set_start(struct csv_in *r, int64_t line_first);

/* LF bytes among the raw bytes read from f so far (quoted or not): once csv_in_read_all, the
 * physical line count of the stream, which the ledger keeps for the next append (SPEC §3). */
int64_t csv_in_lf_read(const struct csv_in *r);

#endif
