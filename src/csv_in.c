/* csv_in.c — libcsv in strict mode, fed one physical line at a time (see csv_in.h).
 *
 * Why line by line: libcsv is a push parser that reports fields and record ends but no
 * positions. Records can only end at a line feed here (LF is the only terminator), so feeding
 * each physical line as one slice tells exactly which line a record starts on: the first slice
 * with content while no record is open. Slices cost one csv_parse call per line; the parser keeps
 * its state across slices, so quoted fields spanning lines work unchanged.
 */
#include "csv_in.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>

#include "digest.h"

/* libcsv grows its field buffer by this much at a time (its default, 128, reallocs often). */
#define CSV_IN_BLOCK ((size_t)16 * 1024)

struct csv_in_slot {
	size_t off; /* into arena */
	size_t len;
	int too_long;
};

struct csv_in {
	FILE *f;                 /* borrowed */
	struct csv_parser p;
	char *chunk;             /* CSV_IN_CHUNK bytes read from f */
	size_t chunk_len, chunk_pos;
	int bom_checked;         /* the BOM check happens once, on the first bytes */
	int input_eof;           /* fread has reached the end of f */
	int eof;                 /* csv_fini has run */
	int libcsv_only;         /* no quote-free fast path (tests) */
	struct digest *digest;   /* borrowed: fed every byte read, or NULL */
	int64_t lf_read;         /* LF bytes among the bytes read from f (csv_in_lf_read) */
	int finished;            /* after EOF, INVALID or FAILED */
	int cr_checked;          /* the first line has been checked for CR-only line ends */
	int cr_quoted, cr_pending; /* that check's state across slices: inside quotes; a CR seen */
	size_t chunk_max;        /* CSV_IN_CHUNK, or less (tests: the slicing of long lines) */

	int64_t line;            /* physical line of the bytes being fed (1-based) */
	int in_record;           /* a record has started and not yet ended */
	int record_done;         /* set by the row callback */
	int record_terminated;
	int64_t record_line;

	size_t fields_max;       /* slots stored per record */
	size_t nfields;          /* fields of the current record */
	struct csv_in_slot *slots;    /* fields_max */
	struct csv_in_field *fields;  /* fields_max, filled when a record is returned */
	char *arena;             /* field bytes of the current record, each NUL-terminated */
	size_t arena_len, arena_cap;
	int oom;

	/* The structure of the open record as csv_in sees it (csv_in_scan), kept beside libcsv's
	 * because libcsv reports neither where it stopped nor in which state: when its field buffer
	 * reaches the cap, this says where the record goes on, so that one overlong field costs one
	 * quarantined row rather than the file. */
	int scan_state;          /* enum csv_in_scan_state */
	size_t scan_fields;      /* fields completed in the open record */
	int skipping;            /* after the cap: reading to the record's end, storing nothing */
	size_t long_field;       /* with skipping: the index of the field that reached the cap */

	int64_t invalid_line;
	char invalid_detail[256];
};

enum csv_in_scan_state {
	CSV_IN_SCAN_FIELD_START, /* before a field's first byte (CRs there are libcsv's spaces) */
	CSV_IN_SCAN_UNQUOTED,
	CSV_IN_SCAN_QUOTED,
	CSV_IN_SCAN_QUOTE_SEEN,  /* a '"' inside a quoted field: its end, or half of a "" */
	CSV_IN_SCAN_RECORD_END,  /* the LF that ends the record has been read */
	CSV_IN_SCAN_BAD,         /* what CSV_STRICT refuses: a quote in an unquoted field, text after
				  * a closing quote */
};

/* libcsv's field buffer may not grow past the cap: a longer "field" is almost always an
 * unbalanced quote swallowing the rest of the file, and must not cost unbounded memory. */
static void *csv_in_realloc(void *ptr, size_t size)
{
	if (size > CSV_IN_BUFFER_MAX + 1)
		return NULL;
	return realloc(ptr, size);
}

/* Only a CR is "space" for libcsv: it then drops a CR before a line end or delimiter outside
 * quotes (CRLF endings) and keeps every other byte, spaces included (SPEC §2: " 12.50" is not an
 * amount, so it must reach validation untrimmed). */
static int csv_in_is_space(unsigned char c)
{
	return c == '\r';
}

/* LF alone ends a record, so records end exactly at the ends of the slices we feed. */
static int csv_in_is_term(unsigned char c)
{
	return c == '\n';
}

static int csv_in_arena_reserve(struct csv_in *r, size_t need)
{
	if (r->arena_cap - r->arena_len >= need)
		return 0;
	size_t cap = r->arena_cap ? r->arena_cap : 4096;
	while (cap - r->arena_len < need)
		cap *= 2;
	char *a = realloc(r->arena, cap);
	if (!a)
		return -1;
	r->arena = a;
	r->arena_cap = cap;
	return 0;
}

static void csv_in_on_field(void *buf, size_t len, void *data)
{
	struct csv_in *r = data;
	size_t i = r->nfields++;
	if (i >= r->fields_max || r->oom)
		return; /* counted, not stored: the record has more fields than anyone will read */
	struct csv_in_slot *s = &r->slots[i];
	/* Slots are reused record after record: the mark is set or cleared on every field, never
	 * left over from an earlier record's too-long field. */
	s->too_long = len > CSV_IN_FIELD_MAX;
	if (s->too_long) {
		len = 0;
		buf = NULL;
	}
	if (csv_in_arena_reserve(r, len + 1) < 0) {
		r->oom = 1;
		return;
	}
	s->off = r->arena_len;
	s->len = len;
	if (len)
		memcpy(r->arena + r->arena_len, buf, len);
	r->arena[r->arena_len + len] = '\0';
	r->arena_len += len + 1;
}

static void csv_in_on_row(int c, void *data)
{
	struct csv_in *r = data;
	r->record_done = 1;
	r->record_terminated = c == '\n';
	r->in_record = 0;
}

/* libcsv with settle's options (csv_in.h); 0, or -1 when out of memory. */
static int csv_in_parser_init(struct csv_in *r)
{
	if (csv_init(&r->p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
		return -1;
	csv_set_space_func(&r->p, csv_in_is_space);
	csv_set_term_func(&r->p, csv_in_is_term);
	csv_set_realloc_func(&r->p, csv_in_realloc);
	csv_set_blk_size(&r->p, CSV_IN_BLOCK);
	return 0;
}

struct csv_in *csv_in_new(FILE *f)
{
	struct csv_in *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->f = f;
	r->line = 1;
	r->fields_max = CSV_IN_FIELDS_MAX;
	r->chunk_max = CSV_IN_CHUNK;
	r->chunk = malloc(CSV_IN_CHUNK);
	r->slots = calloc(CSV_IN_FIELDS_MAX, sizeof *r->slots);
	r->fields = calloc(CSV_IN_FIELDS_MAX, sizeof *r->fields);
	if (!r->chunk || !r->slots || !r->fields || csv_in_parser_init(r) < 0) {
		csv_in_free(r);
		return NULL;
	}
	return r;
}

void csv_in_free(struct csv_in *r)
{
	if (!r)
		return;
	csv_free(&r->p);
	free(r->chunk);
	free(r->slots);
	free(r->fields);
	free(r->arena);
	free(r);
}

void csv_in_set_fields_max(struct csv_in *r, size_t n)
{
	ASSERT(n >= 1 && n <= CSV_IN_FIELDS_MAX);
	r->fields_max = n;
}

int64_t csv_in_invalid_line(const struct csv_in *r)
{
	return r->invalid_line;
}

const char *csv_in_invalid_detail(const struct csv_in *r)
{
	return r->invalid_detail;
}

int64_t csv_in_lf_read(const struct csv_in *r)
{
	return r->lf_read;
}

static enum csv_in_status csv_in_invalid(struct csv_in *r, int64_t line, const char *detail)
{
	r->finished = 1;
	r->invalid_line = line;
	snprintf(r->invalid_detail, sizeof r->invalid_detail, "%s", detail);
	return CSV_IN_INVALID;
}

/* Keeps the unread bytes and reads more behind them, so that every line shorter than the chunk
 * lies whole in the buffer. Sets input_eof when the file is exhausted. 0, or -1 on a read error. */
static int csv_in_fill(struct csv_in *r, struct err *e)
{
	size_t rest = r->chunk_len - r->chunk_pos;
	if (r->chunk_pos > 0 && rest > 0)
		memmove(r->chunk, r->chunk + r->chunk_pos, rest);
	r->chunk_len = rest;
	r->chunk_pos = 0;
	while (!r->input_eof && r->chunk_len < r->chunk_max) {
		size_t n = fread(r->chunk + r->chunk_len, 1, r->chunk_max - r->chunk_len, r->f);
		if (n == 0) {
			if (ferror(r->f))
				return err_set(e, EXIT_FAILED, "could not read the file: %s", strerror(errno));
			r->input_eof = 1;
		}
		if (r->digest && n > 0)
			digest_update(r->digest, r->chunk + r->chunk_len, n);
		for (const char *q = r->chunk + r->chunk_len, *end = q + n; (q = memchr(q, '\n', (size_t)(end - q))) != NULL; q++)
			r->lf_read++;
		r->chunk_len += n;
	}
	if (!r->bom_checked && (r->chunk_len >= 3 || r->input_eof)) {
		r->bom_checked = 1;
		/* SPEC §3: an optional UTF-8 BOM at byte 0. */
		if (r->chunk_len >= 3 && memcmp(r->chunk, "\xEF\xBB\xBF", 3) == 0)
			r->chunk_pos = 3;
	}
	return 0;
}

/* Checks the bytes s[0..n) of the first physical line (slice by slice, up to its LF) for line
 * ends made of a bare CR: a CR outside quotes followed by anything but another CR, a LF or a
 * delimiter. With CR as libcsv's "space" such a file (old Mac line ends) would read as one long
 * header whose rows vanish into unknown column names, so it is refused whole instead (SPEC §5).
 * A CR inside quotes is data. Returns 1 when found. */
static int csv_in_cr_only(struct csv_in *r, const char *s, size_t n)
{
	for (size_t i = 0; i < n && !r->cr_checked; i++) {
		if (r->cr_pending && s[i] != '\r' && s[i] != '\n' && s[i] != ',')
			return 1;
		r->cr_pending = 0;
		if (s[i] == '\n')
			r->cr_checked = 1;
		else if (s[i] == '"')
			r->cr_quoted = !r->cr_quoted; /* "" inside quotes toggles twice: still quoted */
		else if (s[i] == '\r' && !r->cr_quoted)
			r->cr_pending = 1;
	}
	return 0;
}

/* Fills rec from the slots of the record just completed. */
static void csv_in_emit(struct csv_in *r, struct csv_in_record *rec, int64_t line_end)
{
	size_t stored = r->nfields < r->fields_max ? r->nfields : r->fields_max;
	for (size_t i = 0; i < stored; i++) {
		r->fields[i].ptr = r->arena + r->slots[i].off;
		r->fields[i].len = r->slots[i].len;
		r->fields[i].too_long = r->slots[i].too_long;
	}
	rec->line = r->record_line;
	rec->line_end = line_end;
	rec->nfields = r->nfields;
	rec->nstored = stored;
	rec->fields = r->fields;
	rec->terminated = r->record_terminated;
	rec->plain_ascii = 0;
}

/* A slice (part of one physical line) starts a record when it holds anything but line-ending
 * bytes while no record is open: libcsv skips CR and LF before a row begins. */
static int csv_in_has_content(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != '\r' && s[i] != '\n')
			return 1;
	return 0;
}

#define CSV_IN_CR_ONLY_DETAIL                                                                          \
	"not valid CSV: line ends are CR only (old Mac style); settle reads LF or CRLF line ends "     \
	"(convert the file, e.g. with tr '\\r' '\\n')"

/* Whether the rest of the first physical line, after the n bytes at chunk_pos that were checked
 * already, has line ends of a bare CR (csv_in_cr_only). Only called on the way to refusing the
 * file, so it may move chunk_pos; a read error here is left to the caller's next read. */
static int csv_in_rest_cr_only(struct csv_in *r, size_t n)
{
	r->chunk_pos += n;
	while (!r->cr_checked) {
		const char *s = r->chunk + r->chunk_pos;
		size_t avail = r->chunk_len - r->chunk_pos;
		if (avail == 0) {
			struct err ignored;
			if (r->input_eof || csv_in_fill(r, &ignored) < 0)
				return 0;
			continue;
		}
		const char *nl = memchr(s, '\n', avail);
		size_t m = nl ? (size_t)(nl - s) + 1 : avail;
		if (csv_in_cr_only(r, s, m))
			return 1;
		r->chunk_pos += m;
	}
	return 0;
}

/* libcsv (or csv_in_scan) refused the slice of n bytes at chunk_pos. On the first line, a file of
 * CR-only line ends is said to be one even when the refusal came first: which of the two is met
 * first must not depend on where the reads fell (a first line longer than the chunk is checked
 * slice by slice), so the rest of that line is checked before the quote is blamed. */
static enum csv_in_status csv_in_parse_error(struct csv_in *r, size_t n)
{
	if (!r->cr_checked && csv_in_rest_cr_only(r, n))
		return csv_in_invalid(r, 1, CSV_IN_CR_ONLY_DETAIL);
	return csv_in_invalid(r, r->line,
			      "not valid CSV: a quote inside an unquoted field, or text after a closing quote");
}

/* Advances the open record's structure (scan_state, scan_fields) over s[0..n) exactly as libcsv
 * in strict mode, with CR as its only space and LF as its only terminator, reads those bytes.
 * Stops after the LF that ends the record (CSV_IN_SCAN_RECORD_END) or at a byte CSV_STRICT
 * refuses (CSV_IN_SCAN_BAD). Returns the bytes consumed. Stores nothing. */
static size_t csv_in_scan(struct csv_in *r, const char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		char c = s[i];
		switch (r->scan_state) {
		case CSV_IN_SCAN_FIELD_START:
			i++;
			if (c == '"') {
				r->scan_state = CSV_IN_SCAN_QUOTED;
			} else if (c == ',') {
				r->scan_fields++;
			} else if (c == '\n') {
				r->scan_fields++;
				r->scan_state = CSV_IN_SCAN_RECORD_END;
				return i;
			} else if (c != '\r') {
				r->scan_state = CSV_IN_SCAN_UNQUOTED;
			}
			break;
		case CSV_IN_SCAN_UNQUOTED:
			while (i < n && s[i] != ',' && s[i] != '\n' && s[i] != '"')
				i++;
			if (i == n)
				break;
			if (s[i] == '"') {
				r->scan_state = CSV_IN_SCAN_BAD;
				return i;
			}
			r->scan_fields++;
			r->scan_state = s[i] == ',' ? CSV_IN_SCAN_FIELD_START : CSV_IN_SCAN_RECORD_END;
			i++;
			if (r->scan_state == CSV_IN_SCAN_RECORD_END)
				return i;
			break;
		case CSV_IN_SCAN_QUOTED: {
			const char *q = memchr(s + i, '"', n - i);
			if (!q) {
				i = n;
				break;
			}
			i = (size_t)(q - s) + 1;
			r->scan_state = CSV_IN_SCAN_QUOTE_SEEN;
			break;
		}
		case CSV_IN_SCAN_QUOTE_SEEN:
			if (c == '"') {
				r->scan_state = CSV_IN_SCAN_QUOTED; /* "" inside quotes */
			} else if (c == ',' || c == '\n') {
				r->scan_fields++;
				r->scan_state = c == ',' ? CSV_IN_SCAN_FIELD_START : CSV_IN_SCAN_RECORD_END;
			} else if (c != '\r') {
				r->scan_state = CSV_IN_SCAN_BAD;
				return i;
			}
			i++;
			if (r->scan_state == CSV_IN_SCAN_RECORD_END)
				return i;
			break;
		default:
			return i;
		}
	}
	return i;
}

/* Returns the record whose field long_field reached libcsv's buffer cap, now read to its end:
 * the fields before it as libcsv gave them, it and every later one flagged too_long (their bytes
 * were never kept; the caller rejects the row for its first problem, FIELD_TOO_LONG at the latest),
 * and the field count of the whole record. libcsv, left in its error state, starts afresh. */
static enum csv_in_status csv_in_emit_skipped(struct csv_in *r, struct csv_in_record *rec,
					      int64_t line_end, int terminated, struct err *e)
{
	ASSERT(r->skipping && r->long_field <= r->scan_fields);
	size_t stored = r->scan_fields < r->fields_max ? r->scan_fields : r->fields_max;
	for (size_t i = 0; i < stored; i++) {
		if (i < r->long_field)
			r->fields[i] = (struct csv_in_field){ r->arena + r->slots[i].off, r->slots[i].len,
							      r->slots[i].too_long };
		else
			r->fields[i] = (struct csv_in_field){ "", 0, 1 };
	}
	rec->line = r->record_line;
	rec->line_end = line_end;
	rec->nfields = r->scan_fields;
	rec->nstored = stored;
	rec->fields = r->fields;
	rec->terminated = terminated;
	rec->plain_ascii = 0;
	r->skipping = 0;
	r->in_record = 0;
	csv_free(&r->p);
	if (csv_in_parser_init(r) < 0) {
		r->finished = 1;
		err_set(e, EXIT_FAILED, "out of memory");
		return CSV_IN_FAILED;
	}
	return CSV_IN_RECORD;
}

/* One slice s[0..n) of a record being skipped (a field of it reached the cap); the slice holds at
 * most one LF, at its end. Returns 1 when the record has ended, with *st its result (a record, or
 * a failure); 0 when it goes on in the next slice. */
static int csv_in_skip(struct csv_in *r, struct csv_in_record *rec, const char *s, size_t n,
		       int has_nl, enum csv_in_status *st, struct err *e)
{
	size_t used = csv_in_scan(r, s, n);
	if (r->scan_state == CSV_IN_SCAN_BAD) {
		*st = csv_in_parse_error(r, n);
		return 1;
	}
	ASSERT(used == n);
	r->chunk_pos += n;
	int64_t line = r->line;
	if (has_nl)
		r->line++;
	if (r->scan_state != CSV_IN_SCAN_RECORD_END)
		return 0;
	*st = csv_in_emit_skipped(r, rec, line, 1, e);
	return 1;
}

/* libcsv stopped at s[done] of the slice s[0..n): its field buffer is at the cap (its realloc
 * refused, csv_in_realloc), or it met what CSV_STRICT refuses. At the cap, the record is read
 * on to its end without libcsv (csv_in_skip): a well-formed record with one overlong field is one
 * row to quarantine (FIELD_TOO_LONG), not a file to refuse; a quoted field still open at the end
 * of the file is an unbalanced quote and refuses the file as before (csv_in_finish). Returns 1
 * with *st when the record's outcome is known, 0 when it goes on in the next slice. */
static int csv_in_stopped(struct csv_in *r, struct csv_in_record *rec, const char *s, size_t done,
			  size_t n, int has_nl, enum csv_in_status *st, struct err *e)
{
	int status = csv_error(&r->p);
	if (status != CSV_ENOMEM && status != CSV_ETOOBIG) {
		*st = csv_in_parse_error(r, n);
		return 1;
	}
	/* libcsv says ENOMEM for its buffer at the cap (csv_in_realloc refuses to grow it past
	 * CSV_IN_BUFFER_MAX + 1) and for a realloc that really failed below it; only the first is
	 * an overlong field. The fields before it must have been kept too. */
	if (r->oom || r->p.entry_size < CSV_IN_BUFFER_MAX) {
		r->finished = 1;
		err_set(e, EXIT_FAILED, "out of memory");
		*st = CSV_IN_FAILED;
		return 1;
	}
	size_t used = csv_in_scan(r, s, done);
	/* libcsv and the scan read the same bytes the same way: both are inside one field, and
	 * libcsv has handed over the fields before it. */
	ASSERT(used == done);
	ASSERT(r->scan_state == CSV_IN_SCAN_UNQUOTED || r->scan_state == CSV_IN_SCAN_QUOTED
	       || r->scan_state == CSV_IN_SCAN_QUOTE_SEEN);
	ASSERT(r->scan_fields == r->nfields);
	r->skipping = 1;
	r->long_field = r->scan_fields;
	r->chunk_pos += done;
	return csv_in_skip(r, rec, s + done, n - done, has_nl, st, e);
}

/* End of file: a quoted field still open is an unbalanced quote (CSV_STRICT_FINI); otherwise the
 * last record may lack its line feed. */
static enum csv_in_status csv_in_finish(struct csv_in *r, struct csv_in_record *rec, struct err *e)
{
	r->eof = 1;
	/* A record being skipped is libcsv's no more: csv_in_scan alone knows where it stands. */
	int unbalanced = r->skipping ? r->scan_state == CSV_IN_SCAN_QUOTED
				     : csv_fini(&r->p, csv_in_on_field, csv_in_on_row, r) != 0;
	if (unbalanced) {
		char msg[160];
		snprintf(msg, sizeof msg,
			 "not valid CSV: the file ends inside a quoted field (unbalanced quote in the record "
			 "starting at line %lld)",
			 (long long)r->record_line);
		return csv_in_invalid(r, r->record_line, msg);
	}
	if (r->skipping) {
		r->scan_fields++; /* the last field ends with the file */
		return csv_in_emit_skipped(r, rec, r->line, 0, e);
	}
	if (r->oom) {
		r->finished = 1;
		err_set(e, EXIT_FAILED, "out of memory");
		return CSV_IN_FAILED;
	}
	if (r->record_done) {
		csv_in_emit(r, rec, r->line);
		return CSV_IN_RECORD;
	}
	r->finished = 1;
	return CSV_IN_EOF;
}

void csv_in_set_libcsv_only(struct csv_in *r, int on)
{
	r->libcsv_only = on;
}

void csv_in_set_chunk_max(struct csv_in *r, size_t n)
{
	ASSERT(r->chunk_len == 0 && !r->input_eof); /* before the first byte */
	ASSERT(n >= 4 && n <= CSV_IN_CHUNK);        /* room for the BOM check */
	r->chunk_max = n;
}

void csv_in_set_digest(struct csv_in *r, struct digest *d)
{
	ASSERT(r->chunk_len == 0 && !r->input_eof); /* before the first byte */
	r->digest = d;
}

void csv_in_set_start(struct csv_in *r, int64_t line_first)
{
	ASSERT(r->chunk_len == 0 && !r->input_eof && line_first >= 1); /* before the first byte */
	r->line = line_first;
	r->bom_checked = 1; /* SPEC §3: a BOM only at byte 0 */
}

int csv_in_read_all(const struct csv_in *r)
{
	return r->input_eof;
}

/* 1 when s[0..n) has only bytes 0x01..0x7F, 8 bytes at a time. */
static int csv_in_plain_ascii(const char *s, size_t n)
{
	uint64_t high = 0, zero = 0;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t v;
		memcpy(&v, s + i, 8);
		high |= v;
		zero |= (v - UINT64_C(0x0101010101010101)) & ~v;
	}
	for (; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		high |= c;
		zero |= c == 0 ? 0x80 : 0;
	}
	return ((high | zero) & UINT64_C(0x8080808080808080)) == 0;
}

/* The fast path: a whole line (without its LF) that starts a record and holds no quote. Without
 * quotes libcsv (with CR as its only "space") would split at each ',' and drop the CRs at both
 * ends of every field; so does this, pointing into the buffer instead of copying. */
static void csv_in_split(struct csv_in *r, struct csv_in_record *rec, const char *s, size_t len)
{
	const char *p = s, *end = s + len;
	size_t nf = 0;
	for (;;) {
		const char *fs = p;
		while (p < end && *p != ',')
			p++;
		const char *fe = p;
		while (fs < fe && *fs == '\r')
			fs++;
		while (fe > fs && fe[-1] == '\r')
			fe--;
		if (nf < r->fields_max) {
			struct csv_in_field *f = &r->fields[nf];
			size_t n = (size_t)(fe - fs);
			if (n > CSV_IN_FIELD_MAX)
				*f = (struct csv_in_field){ "", 0, 1 };
			else
				*f = (struct csv_in_field){ fs, n, 0 };
		}
		nf++;
		if (p == end)
			break;
		p++; /* the comma */
	}
	rec->line = r->line;
	rec->line_end = r->line;
	rec->nfields = nf;
	rec->nstored = nf < r->fields_max ? nf : r->fields_max;
	rec->fields = r->fields;
	rec->terminated = 1;
	rec->plain_ascii = csv_in_plain_ascii(s, len);
}

enum csv_in_status csv_in_next(struct csv_in *r, struct csv_in_record *rec, struct err *e)
{
	if (r->finished || r->eof) {
		r->finished = 1;
		return CSV_IN_EOF;
	}
	r->nfields = 0;
	r->arena_len = 0;
	r->record_done = 0;
	for (;;) {
		const char *s = r->chunk + r->chunk_pos;
		size_t avail = r->chunk_len - r->chunk_pos;
		const char *nl = avail ? memchr(s, '\n', avail) : NULL;
		/* An incomplete line with room to complete it: read on. */
		if (!nl && !r->input_eof && (r->chunk_pos > 0 || r->chunk_len < r->chunk_max)) {
			if (csv_in_fill(r, e) < 0) {
				r->finished = 1;
				return CSV_IN_FAILED;
			}
			continue;
		}
		if (avail == 0)
			return csv_in_finish(r, rec, e);
		/* A whole line, or the part of a line longer than the chunk, or a last line without LF. */
		size_t n = nl ? (size_t)(nl - s) + 1 : avail;
		if (!r->cr_checked && csv_in_cr_only(r, s, n))
			return csv_in_invalid(r, 1, CSV_IN_CR_ONLY_DETAIL);
		if (!r->in_record) {
			if (!csv_in_has_content(s, n)) { /* a blank line: libcsv would skip it too */
				r->chunk_pos += n;
				if (nl)
					r->line++;
				continue;
			}
			if (nl && !r->libcsv_only && !memchr(s, '"', n)) {
				csv_in_split(r, rec, s, n - 1);
				r->chunk_pos += n;
				r->line++;
				return CSV_IN_RECORD;
			}
			r->in_record = 1;
			r->record_line = r->line;
			r->scan_state = CSV_IN_SCAN_FIELD_START;
			r->scan_fields = 0;
		}
		enum csv_in_status st;
		if (r->skipping) {
			if (csv_in_skip(r, rec, s, n, nl != NULL, &st, e))
				return st;
			continue;
		}
		size_t done = csv_parse(&r->p, s, n, csv_in_on_field, csv_in_on_row, r);
		if (done < n) {
			if (csv_in_stopped(r, rec, s, done, n, nl != NULL, &st, e))
				return st;
			continue;
		}
		if (r->oom) {
			r->finished = 1;
			err_set(e, EXIT_FAILED, "out of memory");
			return CSV_IN_FAILED;
		}
		r->chunk_pos += n;
		int64_t line = r->line;
		if (nl)
			r->line++;
		if (r->record_done) {
			csv_in_emit(r, rec, line);
			return CSV_IN_RECORD;
		}
		/* The record goes on in the next slice: keep its structure (csv_in_scan) in case a
		 * field of it reaches the cap there. A record within one slice, the usual, is never
		 * scanned. */
		csv_in_scan(r, s, n);
	}
}
