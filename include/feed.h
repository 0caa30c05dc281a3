/* feed.h — the feed kinds of SPEC §3: their columns, how a file's header binds to them, and the
 * validation of one row into typed values (or one rejection with its code, SPEC §5).
 *
 * Pure functions over bytes: no database, no I/O, so every rejection is unit-tested
 * (tests/unit/test_feed.c). ingest.c streams what passes into COPY and what fails into
 * settle.rejected_row.
 *
 * Decisions (docs/ingest.md has the full list):
 * - A row is rejected once, for its first problem: the whole-row checks (field count), then the
 *   fields from left to right as the file orders them, then the rules across fields.
 * - Header names match exactly (case and spaces count); unknown columns are ignored, not
 *   validated; a known column twice is an invalid header.
 * - recipient_account_id: a non-empty cell wins; an empty cell, or a file without the column,
 *   takes --recipient; with neither the row (or the file) is rejected.
 * - A kind is its row in feed_kinds[] (feed.c): a column table (header name, stored column, type,
 *   flags), the table it is copied into, optionally a first-write-wins key and a rule across
 *   fields. Nothing else in C knows a kind (docs/design.md, "Adding a feed kind").
 * - The kind of a file is never guessed (SPEC §3): it fits a kind when its header has every
 *   FEED_DETECT column of the kind and, if the kind has any, one of its FEED_DETECT_ANY columns; a
 *   header that fits none or several is rejected whole, naming the kinds it could be.
 */
#ifndef SETTLE_FEED_H
#define SETTLE_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "csv_in.h"
#include "pgcopy.h"

/* SPEC §5 rejection codes (plus CONFLICTING_FIELDS for offers, docs/ingest.md). */
#define FEED_BAD_CSV "BAD_CSV"
#define FEED_MISSING_COLUMN "MISSING_COLUMN"
#define FEED_FIELD_COUNT "FIELD_COUNT"
#define FEED_BAD_UTF8 "BAD_UTF8"
#define FEED_NUL_BYTE "NUL_BYTE"
#define FEED_FIELD_TOO_LONG "FIELD_TOO_LONG"
#define FEED_MISSING_REQUIRED "MISSING_REQUIRED"
#define FEED_BAD_AMOUNT "BAD_AMOUNT"
#define FEED_AMOUNT_PRECISION "AMOUNT_PRECISION"
#define FEED_AMOUNT_RANGE "AMOUNT_RANGE"
#define FEED_BAD_DATE "BAD_DATE"
#define FEED_BAD_ENUM "BAD_ENUM"
#define FEED_BAD_CURRENCY "BAD_CURRENCY"
#define FEED_BAD_PERCENT "BAD_PERCENT"
#define FEED_CONFLICTING_FIELDS "CONFLICTING_FIELDS"
#define FEED_DUPLICATE_KEY_CONFLICT "DUPLICATE_KEY_CONFLICT"
#define FEED_BAD_JSON "BAD_JSON"
#define FEED_AMBIGUOUS_KIND "AMBIGUOUS_KIND"

/* The remedy a whole-file rejection names, for `settle ingest` and `settle check`. nightly has
 * neither option: ingest_file() words it there as the command that takes them (ingest.c). */
#define FEED_HINT_KIND "name the kind with --kind"
#define FEED_HINT_RECIPIENT "or name the file's recipient with --recipient"

#define FEED_DETAIL_MAX 1024
#define FEED_COLUMNS_MAX 48   /* columns of the widest kind (billing_event) */
#define FEED_QUOTE_MAX 64     /* bytes of a bad value quoted in a message */

enum feed_kind_id {
	FEED_BILLING_EVENT = 0,
	FEED_OFFER,
	FEED_OFFER_DIMENSION,
	FEED_METERING,
	FEED_BANK_DEPOSIT,
	/* the SDDS feeds of SPEC §3.6, named by their feed names */
	FEED_ACCOUNT,
	FEED_AGREEMENT,
	FEED_AGREEMENT_TERM,
	FEED_SDDS_OFFER,
	FEED_OFFER_PRODUCT,
	FEED_OFFER_TARGET,
	FEED_PRODUCT,
	FEED_LEGACY_ID_MAPPING,
	FEED_TAX_ITEM,
	FEED_DAILY_USAGE,
	FEED_KINDS_N,
};

enum feed_type {
	FEED_TEXT,       /* any UTF-8 text */
	FEED_ENUM,       /* one of values[] exactly */
	FEED_CURRENCY,   /* a code of currency.h */
	FEED_MONEY,      /* money_parse: micros */
	FEED_PRICE,      /* money_parse, not negative: micros */
	FEED_PCT,        /* money_parse_pct up to pct_max_e4: rate micros */
	FEED_TIMESTAMP,  /* time_parse: µs since the epoch */
	FEED_DATE,       /* time_parse, then its UTC day: days since the epoch */
	FEED_QUANTITY,   /* integer 0..2147483647 */
	FEED_DECIMAL,    /* exact decimal -?[0-9]+(.[0-9]+)?, at most FEED_DECIMAL_DIGITS_MAX digits: numeric */
	FEED_JSON,       /* a JSON text (RFC 8259, checked strictly, as PostgreSQL's jsonb reads it) */
};

#define FEED_DECIMAL_DIGITS_MAX 38 /* the width of the marketplace's own decimal(38, s) */
#define FEED_JSON_DEPTH_MAX 64     /* nesting of arrays and objects in a FEED_JSON value */

/* Storage type of a column in its table, for COPY. */
enum feed_sql {
	FEED_SQL_TEXT,
	FEED_SQL_INT8,
	FEED_SQL_TIMESTAMPTZ,
	FEED_SQL_DATE,
	FEED_SQL_NUMERIC,
	FEED_SQL_JSONB,
};

#define FEED_REQUIRED 1u    /* the header must have it and every row must fill it */
#define FEED_RECIPIENT 2u   /* required unless --recipient names the file's recipient */
#define FEED_IN_HEADER 4u   /* the header must have it; the kind's rule says when a row may leave it empty */
#define FEED_DERIVED 8u     /* not a header column: the kind's rule fills it from the columns named in
			       values[]; sent when the header has one of those */
#define FEED_DETECT 16u     /* recognition: a header of this kind has this column */
#define FEED_DETECT_ANY 32u /* recognition: a header of this kind has at least one of these columns */

struct feed_column {
	const char *name;               /* header name */
	const char *db_name;            /* column of the table */
	enum feed_type type;
	unsigned flags;
	const char *const *values;      /* FEED_ENUM: allowed values; FEED_DERIVED: its sources (NULL-terminated) */
	const char *default_value;      /* FEED_ENUM: used when the cell or the column is empty */
	int64_t pct_max_e4;             /* FEED_PCT: upper bound, percent × 10^4 */
};

struct feed_value {
	int present;      /* 0: SQL NULL */
	const char *ptr;  /* text types: the bytes (borrowed from the record or static) */
	size_t len;
	int64_t i64;      /* numbers, instants (µs), days */
};

struct feed_reject;

/* A rule across the fields of one row, after every field passed: 0, or -1 with rej filled. It may
 * fill the kind's FEED_DERIVED columns. vals is indexed like the kind's cols. */
typedef int feed_rule_fn(struct feed_value *vals, struct feed_reject *rej);

struct feed_kind {
	enum feed_kind_id id;
	const char *name;         /* "billing_event", "accountfeed_v1": ingest_file.kind */
	const char *alias;        /* another name feed_kind_by_name accepts ("billingeventfeed_v1"), or NULL */
	const char *table;        /* "settle.billing_event" */
	const struct feed_column *cols;
	size_t ncols;
	const char *key;          /* first write wins on this column (a unique key), or NULL: versioned */
	feed_rule_fn *rule;       /* rules across fields, or NULL */
};

struct feed_reject {
	const char *code;             /* FEED_* */
	const char *column;           /* header name, or NULL for a whole-row / whole-file problem */
	char detail[FEED_DETAIL_MAX]; /* the sentence after "column: " */
};

#define FEED_CACHE_BYTES 40 /* values up to this long are remembered per column */

/* The last value of a column that passed validation, so that the next row with the same bytes
 * (dates, currencies, enums repeat row after row) skips the parse. */
struct feed_cache {
	size_t len;                      /* 0: empty */
	char bytes[FEED_CACHE_BYTES];
	struct feed_value value;
};

/* The header of one file bound to a kind. */
struct feed_header {
	const struct feed_kind *kind;
	size_t nfields;                      /* columns in the header */
	int map[CSV_IN_FIELDS_MAX];          /* header index -> kind column, -1 = unknown */
	int present[FEED_COLUMNS_MAX];       /* kind column -> header index, -1 = absent */
	/* Kind columns that can hold a value in this file (in the header, or a default, or
	 * --recipient): only these go into the COPY, the table's NULL default fills the rest. */
	int sent[FEED_COLUMNS_MAX];
	size_t sent_n;
	struct feed_cache cache[FEED_COLUMNS_MAX];
	const char *recipient;               /* --recipient, or NULL */
	size_t unknown_n;                    /* unknown columns, for the one warning per file */
	char unknown_list[512];              /* "\"foo\", \"bar\"" (cut short with "...") */
};

extern const struct feed_kind feed_kinds[FEED_KINDS_N];

/* The kind named name ("billing_event", "accountfeed_v1", or an alias: "billingeventfeed_v1"),
 * or NULL. NULL also for "addressfeed_v1": settle stores nothing of the address feed (SPEC §3.6);
 * the inbox walk skips its folder, and a flat file with its header fits no kind. */
const struct feed_kind *feed_kind_by_name(const char *name);
/* "billing_event (billingeventfeed_v1), offer, ...", every kind, for messages. */
const char *feed_kind_names(void);
/* The storage type of a column. */
enum feed_sql feed_column_sql(const struct feed_column *c);
/* Whether the kind has a FEED_RECIPIENT column (--recipient applies to its files). */
int feed_kind_has_recipient(const struct feed_kind *k);

/* The kinds the header fits (SPEC §3; see the file comment), at most cap of them into fits in
 * table order. Returns how many kinds fit (may exceed cap). */
size_t feed_kind_fits(const struct csv_in_record *header, const struct feed_kind **fits, size_t cap);
/* The one kind the header fits, or NULL (none or several). */
const struct feed_kind *feed_kind_detect(const struct csv_in_record *header);

/* Binds a header to kind (NULL: recognise it with feed_kind_detect; h->kind says which). Fails
 * (-1, rej filled with a whole-file rejection) on a header that is not valid UTF-8, holds a NUL
 * or an overlong name, names a known column twice, lacks a required column (MISSING_COLUMN,
 * naming every missing one), or whose kind cannot be told: it fits none (MISSING_COLUMN, column
 * NULL, naming the kinds it comes closest to) or several (AMBIGUOUS_KIND, naming them).
 * recipient is --recipient or NULL. */
int feed_header_bind(struct feed_header *h, const struct feed_kind *kind, const struct csv_in_record *header,
		     const char *recipient, struct feed_reject *rej);

/* Validates one record: 0 and vals[kind->ncols] filled (borrowing the record's bytes), or -1 and
 * rej filled with the row's first problem. Updates h's per-column cache only. */
int feed_row_validate(struct feed_header *h, const struct csv_in_record *rec, struct feed_value *vals,
		      struct feed_reject *rej);

/* The COPY column list of a bound header: "file_id, line, <db_name of every sent column>". */
void feed_copy_columns(const struct feed_header *h, char *buf, size_t cap);

/* Appends the row as one binary COPY tuple for feed_copy_columns' list. */
void feed_row_encode(const struct feed_header *h, int64_t file_id, int64_t line, const struct feed_value *vals,
		     struct copy_out *out);

/* JSON syntax (RFC 8259) as strict as PostgreSQL's jsonb input: no \u0000, surrogates only in
 * pairs, nesting at most FEED_JSON_DEPTH_MAX, numbers within numeric's range. s is valid UTF-8.
 * Returns -1 when valid, else the offset of the first bad byte (len: it ends too early); *why
 * says what is wrong there. */
long feed_json_invalid_at(const char *s, size_t len, const char **why);

/* UTF-8 validity (no overlongs, no surrogates, at most U+10FFFF). Returns -1 when valid, else
 * the offset of the first bad byte. */
long feed_utf8_invalid_at(const char *s, size_t len);

/* Writes value as a quoted, printable excerpt for messages: "12,50", control bytes as \xNN,
 * cut at FEED_QUOTE_MAX bytes with "...". value must be valid UTF-8. Returns out. */
char *feed_quote(const char *value, size_t len, char *out, size_t cap);

#endif
