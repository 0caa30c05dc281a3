/* ingest.c — ingest_file(): feed files into PostgreSQL (SPEC §3, §5, §6); the command is cmd_ingest.c.
 *
 * One file, one pass, one transaction:
 *   the kind from --kind, the file's SDDS feed folder (ingest_place) or its header;
 *   a path loaded before (the ledger is keyed by path, SPEC §6) is compared with that load
 *   (ingest_growth): unchanged -> a no-op; grown with the same first bytes (length + SHA-256,
 *   read once) -> an append: only the records after them are parsed, line numbers continuing;
 *   otherwise it is read whole, said in a warning;
 *   a byte-identical file ingested before is a no-op: when the ledger holds a file of the same
 *   size, the SHA-256 is computed first and looked up; otherwise the file is new for sure and its
 *   SHA-256 is computed while it is read for loading (no second pass over a large file);
 *   BEGIN; a file_id from the ledger's sequence;
 *   csv_in -> feed_row_validate -> good rows as binary COPY into the table (or, for the
 *   first-write-wins kinds, into a temporary staging table), bad rows as binary COPY tuples into a
 *   spool file (tmpfile) -- two bounded buffers, nothing that grows with the file;
 *   the ledger row (settle.ingest_file, now that the SHA-256 is known);
 *   staging -> table with a set-based first-write-wins (metering, bank_deposit);
 *   spool -> settle.rejected_row; the ledger's counts; COMMIT.
 * A structurally broken file (SPEC §5) aborts that transaction and is recorded whole, in a
 * transaction of its own, as file_rejected with one rejected_row saying why. A kill -9 at any
 * moment leaves either the whole file or nothing.
 */
#include "ingest.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csv_in.h"
#include "digest.h"
#include "feed.h"
#include "inbox.h"
#include "pgcopy.h"
#include "meter_daily.h"
#include "msg.h"
#include "timeutil.h"

#define INGEST_PRINT_MAX 20          /* rejected rows printed per file; all are stored */
#define INGEST_PROGRESS_EVERY 65536  /* rows between progress lines (terminal only) */
#define INGEST_SQL_MAX 4096
#define INGEST_SPOOL_CAP ((size_t)64 * 1024)
#define INGEST_SOCKET_BUFFER (4 * 1024 * 1024) /* bytes of COPY data queued for the server */
#define INGEST_READ_CHUNK ((size_t)256 * 1024) /* the prefix of an append is read in these */
#define INGEST_HEAD_MAX CSV_IN_BUFFER_MAX      /* first bytes of an append kept for its header */

struct ingest_state {
	struct db *db;
	const char *path;
	const char *name;                /* recorded as file_name and printed: opt->name or the base name */
	const char *ledger_path;         /* the ledger's key: opt->name or the path as given */
	const struct ingest_options *opt;
	const struct feed_kind *place_kind; /* from --kind or the SDDS folder, or NULL (ingest_place) */
	int sdds;                        /* the file lies in an SDDS feed folder */
	int place;                       /* ingest_place's verdict: 0, 1 skip, 2 reject (st->bad) */
	int looked_up;                   /* the whole file's SHA-256 was looked up in the ledger */
	/* an append (SPEC §3): the previous ingest of this path covered [0, prefix_bytes) */
	int64_t prefix_bytes;
	int header_said;                 /* the header is an append's, warned about when first ingested */
	int64_t prefix_file_id;
	int64_t line_first;              /* physical line at prefix_bytes */
	int sequential;                  /* read an append's prefix before its records (no check thread) */
	struct prefix_check *check;      /* the append's prefix being hashed on a second thread, or NULL */
	char *head;                      /* the file's first bytes (its header), head_len of them */
	size_t head_len;
	struct ingest_result *res;
	char sha[DIGEST_HEX_LEN + 1];    /* "" until known */
	char prefix_sha[DIGEST_HEX_LEN + 1]; /* an append checked on a thread: the prefix's recorded SHA-256 */
	int64_t bytes;                   /* the file's size */
	struct digest *digest;           /* computing sha while csv_in reads, or NULL */
	char at[40];                     /* opt->ingested_at_us for PostgreSQL, "" = now() */
	FILE *f;
	struct csv_in *in;
	struct feed_header hdr;
	int64_t file_id;
	struct copy_out rows;            /* -> the COPY of good rows */
	struct copy_out rejects;         /* -> spool */
	FILE *spool;                     /* rejected rows as COPY tuples, NULL until the first */
	int64_t staged;                  /* good rows sent */
	int64_t rejected;                /* rows rejected (spooled + duplicate conflicts) */
	int64_t loaded, unchanged;
	int read_failed;                 /* the file's own open or read failed: result->unreadable */
	int bulk;                        /* keyed kind copied straight into its table (see below) */
	int bulk_clean;                  /* ... and no key repeated: every good row was stored */
	int freeze;                      /* the table was empty: truncated here, COPY ... FREEZE */
	struct meter_daily *daily;       /* metering on the bulk path: the daily sums, or NULL */
	int daily_col[7];                /* kind columns: agreement, customer, code, dimension,
					    usage_hour, quantity, status */
	/* a whole-file rejection */
	int64_t bad_line;
	struct feed_reject bad;
};

/* SQL text built from the constant feed tables (never from data): a cut statement is a bug. */
static void ingest_sql(char *sql, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void ingest_sql(char *sql, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(sql, cap, fmt, ap);
	va_end(ap);
	ASSERT(n > 0 && (size_t)n < cap);
}

const char *ingest_base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash && slash[1] ? slash + 1 : path;
}

static int64_t result_i64(const PGresult *res, int row, int col)
{
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}


/* ---------------------------------------------------------------------------------------------
 * The prefix check of an append, on a second thread (SPEC §3 "Appends")
 *
 * What is guaranteed: an append's rows are committed only if the file's first prefix_bytes bytes
 * hash, byte for byte as read now, to the SHA-256 the ledger recorded for them. Every byte of the
 * prefix is read and hashed every night; no shortcut (file times, sizes, sampled chunks, a stored
 * hash state resumed without reading) is taken, so a changed byte anywhere in the prefix is
 * always noticed, and the file is then ingested whole and said so. What changed is only when:
 * the prefix is hashed on this thread while the main thread parses and copies the new records
 * (their first line number comes from the ledger's file_lines, migration 018, and their header
 * from the first bytes), and the verdict is taken before the ledger row is written, inside the
 * load transaction: a mismatch rolls the load back and the file is read again whole. The thread
 * also hashes the new bytes twice: once continuing the prefix's state (the whole file's SHA-256,
 * which the ledger records for the next night) and once alone, to compare with the parser's own
 * hash of the bytes it read: the recorded SHA-256 is that of the bytes loaded, even if the file
 * was rewritten in place meanwhile (then the load is an error and the next run reads it again).
 */
struct prefix_check {
	pthread_t thread;
	int fd;                         /* the file's descriptor, read with pread only */
	int64_t prefix, end;            /* [0, prefix) is the prefix; [prefix, end) the new bytes */
	atomic_int cancel;              /* set by the main thread on an error path */
	int err;                        /* errno of a failed read, or 0 */
	int shrank;                     /* the file ended before end */
	char prefix_hex[DIGEST_HEX_LEN + 1], whole_hex[DIGEST_HEX_LEN + 1], tail_hex[DIGEST_HEX_LEN + 1];
};

static void *prefix_check_run(void *arg)
{
	struct prefix_check *c = arg;
	struct digest *whole = digest_new(), *tail = digest_new();
	char *buf = malloc(INGEST_READ_CHUNK);
	if (!whole || !tail || !buf) {
		c->err = ENOMEM;
		goto done;
	}
	for (int64_t pos = 0; pos < c->end && !atomic_load(&c->cancel);) {
		/* chunks end at the prefix's end, so that its state can be copied there */
		int64_t stop = pos < c->prefix ? c->prefix : c->end;
		size_t want = stop - pos < (int64_t)INGEST_READ_CHUNK ? (size_t)(stop - pos) : INGEST_READ_CHUNK;
		ssize_t n = pread(c->fd, buf, want, (off_t)pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			c->err = errno;
			goto done;
		}
		if (n == 0) {
			c->shrank = 1;
			goto done;
		}
		digest_update(whole, buf, (size_t)n);
		if (pos >= c->prefix)
			digest_update(tail, buf, (size_t)n);
		pos += n;
		if (pos == c->prefix) {
			struct digest *pre = digest_dup(whole);
			if (!pre) {
				c->err = ENOMEM;
				goto done;
			}
			digest_final(pre, c->prefix_hex);
		}
	}
	if (!atomic_load(&c->cancel)) {
		digest_final(whole, c->whole_hex);
		digest_final(tail, c->tail_hex);
		whole = tail = NULL;
	}
done:
	digest_free(whole);
	digest_free(tail);
	free(buf);
	return NULL;
}

/* Starts the check of [0, prefix) of st->f, whose size is st->bytes. 0, or -1 (nothing started). */
static int prefix_check_start(struct ingest_state *st, int64_t prefix, struct err *e)
{
	struct prefix_check *c = calloc(1, sizeof *c);
	if (!c)
		return err_set(e, EXIT_FAILED, "out of memory");
	c->fd = fileno(st->f);
	c->prefix = prefix;
	c->end = st->bytes;
	atomic_init(&c->cancel, 0);
	int rc = pthread_create(&c->thread, NULL, prefix_check_run, c);
	if (rc != 0) {
		free(c);
		return err_set(e, EXIT_FAILED, "could not start a thread: %s", strerror(rc));
	}
	st->check = c;
	return 0;
}

/* Waits for the check (cancelled first when cancel is set) and frees it. */
static void prefix_check_join(struct ingest_state *st, int cancel, struct prefix_check *out)
{
	struct prefix_check *c = st->check;
	if (!c)
		return;
	if (cancel)
		atomic_store(&c->cancel, 1);
	int rc = pthread_join(c->thread, NULL);
	ASSERT(rc == 0);
	if (out)
		*out = *c;
	free(c);
	st->check = NULL;
}

/* The verdict, once the parser's own hash of the new bytes it read is tail_hex: 0 (st->sha set to
 * the whole file's), INGEST_PREFIX_CHANGED, or -1. */
#define INGEST_PREFIX_CHANGED 7 /* apart from 0, 1, 2 and -1, the load's other outcomes */
static int prefix_check_verdict(struct ingest_state *st, const char *want, const char *tail_hex, struct err *e)
{
	struct prefix_check c;
	prefix_check_join(st, 0, &c);
	if (!c.err && !c.shrank && strcmp(c.prefix_hex, want) != 0)
		return INGEST_PREFIX_CHANGED;
	/* the errors below are the file's own (result->unreadable), but for memory */
	st->read_failed = c.err != ENOMEM;
	if (c.err)
		return err_set(e, EXIT_FAILED, "could not read \"%s\": %s", st->path, strerror(c.err));
	if (c.shrank)
		return err_set(e, EXIT_FAILED, "\"%s\" shrank while settle read it", st->path);
	if (strcmp(c.tail_hex, tail_hex) != 0)
		return err_set(e, EXIT_FAILED,
			       "\"%s\" changed while settle read it (its new bytes differ between two reads): nothing "
			       "loaded from it, the next run reads it again",
			       st->path);
	st->read_failed = 0;
	snprintf(st->sha, sizeof st->sha, "%s", c.whole_hex);
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * The ledger
 */

/* SPEC §5: a byte-identical file ingested before is a no-op that says so. "Before" is a load,
 * or -- when this command line names neither --kind nor --recipient, the two things that could
 * change the outcome -- a whole-file rejection (so that nightly does not record a broken file
 * again every night, while `settle ingest --kind ...` can still retry it). loaded_only: loads
 * only (an append that loaded: a byte-identical file loaded elsewhere holds its rows). Returns 1
 * (found, result filled), 0, or -1. */
static int ingest_find_previous(struct ingest_state *st, int loaded_only, struct err *e)
{
	st->looked_up = 1;
	const char *params[] = { st->sha, loaded_only || st->opt->kind || st->opt->recipient ? "f" : "t" };
	PGresult *r = db_query(st->db,
			       "SELECT file_id, kind, file_name,"
			       " to_char(ingested_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), file_rejected"
			       " FROM settle.ingest_file WHERE sha256 = $1 AND (NOT file_rejected OR $2::boolean)"
			       " ORDER BY file_rejected, file_id DESC LIMIT 1",
			       2, params, PGRES_TUPLES_OK, e);
	if (!r)
		return -1;
	int found = PQntuples(r) > 0;
	if (found) {
		st->res->already_ingested = 1;
		st->res->file_id = result_i64(r, 0, 0);
		snprintf(st->res->kind, sizeof st->res->kind, "%s", PQgetvalue(r, 0, 1));
		st->res->still_rejected = strcmp(PQgetvalue(r, 0, 4), "t") == 0;
		if (st->res->still_rejected) /* nightly has no --kind: ingest_hint_nightly */
			msg_say(st->opt->msg, MSG_WARNING,
				"%s: already rejected whole on %s as file %s (\"%s\"); nothing to do (fix the file, "
				"or retry with %s)",
				st->name, PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 2),
				st->opt->name ? "settle ingest --kind K (or --recipient ID) FILE" : "--kind or --recipient");
		else if (!st->opt->quiet)
			msg_say(st->opt->msg, MSG_INFO, "%s: already ingested on %s as file %s (\"%s\", %s); nothing to do",
				st->name, PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 1));
	}
	PQclear(r);
	return found;
}

/* The ledger row. file_id > 0: that id (taken from the sequence before the rows were sent),
 * else a new one into st->file_id. */
static int ingest_ledger_insert(struct ingest_state *st, const char *kind, int file_rejected, struct err *e)
{
	const struct feed_kind *k = feed_kind_by_name(kind);
	const char *recipient = st->opt->recipient && k && feed_kind_has_recipient(k) ? st->opt->recipient : NULL;
	char id[24], bytes[24], prefix[24], prefix_id[24], lines[24];
	snprintf(id, sizeof id, "%" PRId64, st->file_id);
	snprintf(bytes, sizeof bytes, "%" PRId64, st->bytes);
	snprintf(prefix, sizeof prefix, "%" PRId64, st->prefix_bytes);
	snprintf(prefix_id, sizeof prefix_id, "%" PRId64, st->prefix_file_id);
	/* migration 018: the file's LF count, known when the reader saw every byte of it */
	int lines_known = !file_rejected && st->in && csv_in_read_all(st->in);
	if (lines_known)
		snprintf(lines, sizeof lines, "%" PRId64,
			 (st->prefix_bytes ? st->line_first - 1 : 0) + csv_in_lf_read(st->in));
	const char *params[] = { st->name, st->sha, kind, recipient, file_rejected ? "t" : "f",
				 st->at[0] ? st->at : NULL, bytes, st->file_id > 0 ? id : NULL, st->ledger_path,
				 prefix, st->prefix_bytes ? prefix_id : NULL, lines_known ? lines : NULL };
	ASSERT(strlen(st->sha) == DIGEST_HEX_LEN);
	PGresult *r = db_query(st->db,
			       "INSERT INTO settle.ingest_file (file_id, file_name, sha256, kind, recipient_account_id,"
			       " rows_loaded, rows_rejected, rows_unchanged, file_rejected, ingested_at, file_bytes,"
			       " path, prefix_bytes, prefix_file_id, file_lines)"
			       " OVERRIDING SYSTEM VALUE"
			       " VALUES (coalesce($8::bigint, nextval(pg_get_serial_sequence('settle.ingest_file', 'file_id'))),"
			       " $1, $2, $3, $4, 0, 0, 0, $5::boolean, coalesce($6::timestamptz, now()), $7::bigint,"
			       " $9, $10::bigint, $11::bigint, $12::bigint)"
			       " RETURNING file_id",
			       12, params, PGRES_TUPLES_OK, e);
	if (!r)
		return -1;
	st->file_id = result_i64(r, 0, 0);
	PQclear(r);
	return 0;
}

/* A file_id for the rows about to be sent; the ledger row follows once the SHA-256 is known. */
static int ingest_next_file_id(struct ingest_state *st, struct err *e)
{
	PGresult *r = db_query(st->db, "SELECT nextval(pg_get_serial_sequence('settle.ingest_file', 'file_id'))", 0,
			       NULL, PGRES_TUPLES_OK, e);
	if (!r)
		return -1;
	st->file_id = result_i64(r, 0, 0);
	PQclear(r);
	return 0;
}

/* The SHA-256 of the whole file by reading it again; a failure is the file's (result->unreadable). */
static int ingest_digest_file(struct ingest_state *st, struct err *e)
{
	if (digest_file(st->path, st->sha, e) < 0) {
		st->read_failed = 1;
		return -1;
	}
	return 0;
}

/* Feeds the rest of st->f (what csv_in has not read yet) to d: every byte before was fed by
 * whoever read it, so d then holds the whole file. */
static int ingest_drain(struct ingest_state *st, struct digest *d, struct err *e)
{
	char *buf = malloc(INGEST_READ_CHUNK);
	if (!buf)
		return err_set(e, EXIT_FAILED, "out of memory");
	size_t n;
	while ((n = fread(buf, 1, INGEST_READ_CHUNK, st->f)) > 0)
		digest_update(d, buf, n);
	int failed = ferror(st->f);
	free(buf);
	if (failed) {
		st->read_failed = 1;
		return err_set(e, EXIT_FAILED, "could not read \"%s\": %s", st->path, strerror(errno));
	}
	return 0;
}

/* The SHA-256: from the single read when a digest saw the bytes read so far (the rest of a file
 * rejected before its end is read on), else by reading the file. An append whose prefix is checked
 * on a thread: the digest saw the new bytes only, and the thread's verdict decides (0, -1, or
 * INGEST_PREFIX_CHANGED: the caller rolls back and reads the file whole). */
static int ingest_sha(struct ingest_state *st, struct err *e)
{
	if (st->sha[0])
		return 0;
	if (st->digest) {
		if (!csv_in_read_all(st->in) && ingest_drain(st, st->digest, e) < 0)
			return -1;
		char hex[DIGEST_HEX_LEN + 1];
		digest_final(st->digest, hex);
		st->digest = NULL;
		if (st->check)
			return prefix_check_verdict(st, st->prefix_sha, hex, e);
		snprintf(st->sha, sizeof st->sha, "%s", hex);
		return 0;
	}
	ASSERT(!st->check);
	return ingest_digest_file(st, e);
}

/* Whether the ledger holds a file of this size (or of an unknown size, a row not written by
 * ingest): only then can this one be byte-identical to it. */
static int ingest_size_seen(struct ingest_state *st, struct err *e)
{
	char bytes[24];
	snprintf(bytes, sizeof bytes, "%" PRId64, st->bytes);
	const char *params[] = { bytes };
	int seen;
	if (db_query_bool(st->db,
			  "SELECT EXISTS (SELECT 1 FROM settle.ingest_file WHERE file_bytes = $1::bigint OR file_bytes IS NULL)",
			  1, params, &seen, e) < 0)
		return -1;
	return seen;
}

static int ingest_ledger_counts(struct ingest_state *st, struct err *e)
{
	char id[24], loaded[24], rejected[24], unchanged[24];
	snprintf(id, sizeof id, "%" PRId64, st->file_id);
	snprintf(loaded, sizeof loaded, "%" PRId64, st->loaded);
	snprintf(rejected, sizeof rejected, "%" PRId64, st->rejected);
	snprintf(unchanged, sizeof unchanged, "%" PRId64, st->unchanged);
	const char *params[] = { id, loaded, rejected, unchanged };
	PGresult *r = db_query(st->db,
			       "UPDATE settle.ingest_file SET rows_loaded = $2, rows_rejected = $3,"
			       " rows_unchanged = $4 WHERE file_id = $1",
			       4, params, PGRES_COMMAND_OK, e);
	if (!r)
		return -1;
	PQclear(r);
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Whole-file rejection
 */

static int ingest_bad(struct ingest_state *st, int64_t line, const char *code, const char *column,
		      const char *detail)
{
	st->bad_line = line;
	st->bad.code = code;
	st->bad.column = column;
	snprintf(st->bad.detail, sizeof st->bad.detail, "%s", detail);
	return 1;
}

static int ingest_bad_csv(struct ingest_state *st)
{
	return ingest_bad(st, csv_in_invalid_line(st->in), FEED_BAD_CSV, NULL, csv_in_invalid_detail(st->in));
}

/* nightly (opt->name set: a file of its inbox) takes neither --kind nor --recipient: the remedy a
 * rejection names (FEED_HINT_*) is worded there as the command that takes them, so that the hint
 * names something that works, in the message and in the rejected_row it records. */
static void ingest_hint_nightly(struct feed_reject *rej)
{
	static const struct {
		const char *from, *to;
	} hints[] = {
		{ FEED_HINT_KIND, "name the kind with settle ingest --kind K FILE" },
		{ FEED_HINT_RECIPIENT, "or name the file's recipient with settle ingest --recipient ID FILE" },
	};
	for (size_t i = 0; i < sizeof hints / sizeof hints[0]; i++) {
		char *at = strstr(rej->detail, hints[i].from);
		if (!at)
			continue;
		char tail[FEED_DETAIL_MAX];
		snprintf(tail, sizeof tail, "%s", at + strlen(hints[i].from));
		size_t head = (size_t)(at - rej->detail);
		snprintf(at, sizeof rej->detail - head, "%s%s", hints[i].to, tail);
	}
}

/* SPEC §5: recorded (file_rejected, one rejected_row saying why), nothing else loads. Runs in a
 * transaction of its own: the load's transaction, if any, has been rolled back. */
static int ingest_reject_file(struct ingest_state *st, struct err *e)
{
	const char *kind = st->hdr.kind ? st->hdr.kind->name : st->place_kind ? st->place_kind->name : "unknown";
	char id[24], line[24];
	int v = ingest_sha(st, e);
	if (v != 0) /* -1, or an append whose prefix changed: read whole, it may load */
		return v;
	if (!st->looked_up) { /* an append that failed: the same bytes may have been rejected before */
		int found = ingest_find_previous(st, 0, e);
		if (found != 0)
			return found < 0 ? -1 : 0;
	}
	if (st->opt->name)
		ingest_hint_nightly(&st->bad);
	if (db_begin(st->db, e) < 0)
		return -1;
	st->file_id = 0;
	if (ingest_ledger_insert(st, kind, 1, e) < 0)
		goto rollback;
	snprintf(id, sizeof id, "%" PRId64, st->file_id);
	snprintf(line, sizeof line, "%" PRId64, st->bad_line);
	const char *params[] = { id, line, st->bad.column, st->bad.code, st->bad.detail };
	PGresult *r = db_query(st->db,
			       "INSERT INTO settle.rejected_row (file_id, line, column_name, code, detail)"
			       " VALUES ($1, $2, $3, $4, $5)",
			       5, params, PGRES_COMMAND_OK, e);
	if (!r)
		goto rollback;
	PQclear(r);
	r = db_query(st->db, "UPDATE settle.ingest_file SET rows_rejected = 1 WHERE file_id = $1", 1, params,
		     PGRES_COMMAND_OK, e);
	if (!r)
		goto rollback;
	PQclear(r);
	if (db_commit(st->db, e) < 0)
		return -1;
	msg_say(st->opt->msg, MSG_REJECT, "%s:%" PRId64 ": %s%s%s", st->name, st->bad_line,
		st->bad.column ? st->bad.column : "", st->bad.column ? ": " : "", st->bad.detail);
	msg_say(st->opt->msg, MSG_REJECT, "%s: file rejected (%s), nothing loaded; recorded as file %" PRId64, st->name,
		st->bad.code, st->file_id);
	snprintf(st->res->kind, sizeof st->res->kind, "%s", kind);
	st->res->file_id = st->file_id;
	st->res->file_rejected = 1;
	st->res->rows_rejected = 1;
	return 0;
rollback:
	db_rollback(st->db);
	return -1;
}

/* ---------------------------------------------------------------------------------------------
 * Header
 */

/* Reads and binds the header. 0 bound, 1 the file is rejected whole (st->bad), -1 error. */
static int ingest_header(struct ingest_state *st, struct err *e)
{
	struct csv_in_record rec;
	switch (csv_in_next(st->in, &rec, e)) {
	case CSV_IN_FAILED:
		return err_prefix(e, "%s", st->name);
	case CSV_IN_EOF:
		return ingest_bad(st, 1, FEED_BAD_CSV, NULL, "the file is empty: no header");
	case CSV_IN_INVALID:
		return ingest_bad_csv(st);
	case CSV_IN_RECORD:
		break;
	}
	if (st->place == 2) { /* the SDDS folder names a feed settle cannot read: st->bad says so */
		st->bad_line = 1;
		return 1;
	}
	const struct feed_kind *kind = st->place_kind;
	if (feed_header_bind(&st->hdr, kind, &rec, st->opt->recipient, &st->bad) < 0) {
		st->bad_line = rec.line;
		return 1;
	}
	kind = st->hdr.kind;
	snprintf(st->res->kind, sizeof st->res->kind, "%s", kind->name);
	/* SPEC §3: one warning per file. An append's header is the one of the bytes its prefix
	 * repeats exactly, said when they were ingested: said again, a growing month's file would
	 * add the line to every night's mail. */
	if (st->hdr.unknown_n && !st->header_said)
		msg_say(st->opt->msg, MSG_WARNING, "%s: ignoring %zu unknown column%s of a %s file: %s", st->name,
			st->hdr.unknown_n, st->hdr.unknown_n == 1 ? "" : "s", kind->name, st->hdr.unknown_list);
	if (st->opt->recipient && !feed_kind_has_recipient(kind))
		msg_say(st->opt->msg, MSG_WARNING,
			"%s: --recipient applies to billing_event files only; ignored for this %s file", st->name,
			kind->name);
	csv_in_set_fields_max(st->in, st->hdr.nfields + 1);
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Rows
 */

static int ingest_sink_db(void *arg, const char *buf, size_t len, struct err *e)
{
	return db_copy_put(arg, buf, len, e);
}

static int ingest_sink_file(void *arg, const char *buf, size_t len, struct err *e)
{
	if (fwrite(buf, 1, len, arg) != len)
		return err_set(e, EXIT_FAILED, "could not write the rejected-rows spool file: %s", strerror(errno));
	return 0;
}

/* "COPY <table> (file_id, line, <columns the file can fill>) FROM STDIN (FORMAT binary[, FREEZE])". */
static void ingest_copy_sql(const struct feed_header *h, const char *table, int freeze, char *sql, size_t cap)
{
	char cols[INGEST_SQL_MAX / 2];
	feed_copy_columns(h, cols, sizeof cols);
	ingest_sql(sql, cap, "COPY %s (%s) FROM STDIN (FORMAT binary%s)", table, cols, freeze ? ", FREEZE" : "");
}

/* A load into an empty table (the first month, a backfill) is copied frozen. Rows written by a
 * plain COPY are "inserted by some transaction": the first reader after the commit sets a hint bit
 * on every page, and autovacuum's insert-triggered VACUUM later reads and rewrites every page to
 * mark it all-visible -- for 5M metering rows 725 MB written and 25 s of background I/O (measured),
 * which lands on whatever runs next (the nightly's reports). COPY FREEZE writes the pages frozen and
 * all-visible at once, but only into a table truncated (or created) in the same transaction, so an
 * empty table is truncated first: under an exclusive lock, checked empty again, all rolled back
 * with the load if it fails. The price is PostgreSQL's documented caveat: a REPEATABLE READ
 * snapshot taken before the commit would see the rows after it (settle's commands do not overlap:
 * the run lock). */
static int ingest_freeze_if_empty(struct ingest_state *st, const char *table, struct err *e)
{
	char check[INGEST_SQL_MAX], sql[INGEST_SQL_MAX];
	int empty;
	st->freeze = 0;
	ingest_sql(check, sizeof check, "SELECT NOT EXISTS (SELECT 1 FROM %s)", table);
	if (db_query_bool(st->db, check, 0, NULL, &empty, e) < 0)
		return -1;
	if (!empty)
		return 0; /* the usual case: no lock taken */
	ingest_sql(sql, sizeof sql, "LOCK TABLE %s IN ACCESS EXCLUSIVE MODE", table);
	if (db_exec(st->db, sql, e) < 0 || db_query_bool(st->db, check, 0, NULL, &empty, e) < 0)
		return -1;
	if (!empty)
		return 0;
	ingest_sql(sql, sizeof sql, "TRUNCATE %s", table);
	if (db_exec(st->db, sql, e) < 0)
		return -1;
	st->freeze = 1;
	return 0;
}

static int ingest_spool_reject(struct ingest_state *st, int64_t line, const struct feed_reject *rej,
			       struct err *e)
{
	if (!st->spool) {
		st->spool = tmpfile();
		if (!st->spool)
			return err_set(e, EXIT_FAILED, "could not create a spool file for rejected rows: %s",
				       strerror(errno));
		if (copy_out_init(&st->rejects, INGEST_SPOOL_CAP, ingest_sink_file, st->spool) < 0)
			return err_set(e, EXIT_FAILED, "out of memory");
	}
	struct copy_out *c = &st->rejects;
	copy_out_tuple(c, 5);
	copy_out_int8(c, st->file_id);
	copy_out_int8(c, line);
	if (rej->column)
		copy_out_text(c, rej->column, strlen(rej->column));
	else
		copy_out_null(c);
	copy_out_text(c, rej->code, strlen(rej->code));
	copy_out_text(c, rej->detail, strlen(rej->detail));
	st->rejected++;
	if (c->failed)
		return copy_out_flush(c, e);
	return 0;
}

/* Metering on the bulk path: the daily sums of the Success records (meter_daily.h). A NULL
 * aggregator (out of memory) only means SQL sums the rows after the load instead. */
static void ingest_daily_start(struct ingest_state *st)
{
	static const char *const cols[7] = { "agreement_id", "customer_aws_account_id", "product_code", "dimension",
					     "usage_hour", "quantity", "status" };
	const struct feed_kind *k = st->hdr.kind;
	if (k->id != FEED_METERING || !st->bulk)
		return;
	for (int i = 0; i < 7; i++) {
		st->daily_col[i] = -1;
		for (size_t c = 0; c < k->ncols; c++)
			if (strcmp(k->cols[c].db_name, cols[i]) == 0)
				st->daily_col[i] = (int)c;
		ASSERT(st->daily_col[i] >= 0);
	}
	st->daily = meter_daily_new(); /* owned by st, freed in ingest_file */
}

static void ingest_daily_add(struct ingest_state *st, const struct feed_value *vals)
{
	const struct feed_value *status = &vals[st->daily_col[6]];
	if (!status->present || status->len != 7 || memcmp(status->ptr, "Success", 7) != 0)
		return; /* SPEC §3.4: only Success records are billable */
	const struct feed_value *a = &vals[st->daily_col[0]], *c = &vals[st->daily_col[1]],
				*p = &vals[st->daily_col[2]], *d = &vals[st->daily_col[3]];
	(void)meter_daily_add(st->daily, a->present ? a->ptr : "", a->present ? a->len : 0, c->ptr, c->len, p->ptr,
			      p->len, d->ptr, d->len, time_day_of(vals[st->daily_col[4]].i64),
			      vals[st->daily_col[5]].i64);
}

/* The file's records after the header. 0 at the end, 1 the file is rejected whole, -1 error. */
static int ingest_rows(struct ingest_state *st, struct err *e)
{
	struct csv_in_record rec;
	struct feed_value vals[FEED_COLUMNS_MAX];
	struct feed_reject rej;
	int64_t seen = 0;
	for (;;) {
		enum csv_in_status s = csv_in_next(st->in, &rec, e);
		if (s == CSV_IN_EOF)
			return 0;
		if (s == CSV_IN_FAILED)
			return err_prefix(e, "%s", st->name);
		if (s == CSV_IN_INVALID)
			return ingest_bad_csv(st);
		if (!rec.terminated && ingest_last_record_rejects(&rec, st->hdr.nfields, st->sdds, &rej))
			return ingest_bad(st, rec.line, rej.code, NULL, rej.detail);
		if (feed_row_validate(&st->hdr, &rec, vals, &rej) == 0) {
			feed_row_encode(&st->hdr, st->file_id, rec.line, vals, &st->rows);
			st->staged++;
			if (st->daily)
				ingest_daily_add(st, vals);
			if (st->rows.failed)
				return copy_out_flush(&st->rows, e);
		} else if (ingest_spool_reject(st, rec.line, &rej, e) < 0) {
			return -1;
		}
		if (++seen % INGEST_PROGRESS_EVERY == 0)
			msg_say(st->opt->msg, MSG_PROGRESS, "%s: %" PRId64 " rows", st->name, seen);
	}
}

/* ---------------------------------------------------------------------------------------------
 * After the COPY: first write wins, rejected rows
 */

/* SPEC §3.4 (and, by the same rule, §3.5): a key seen again with the same content changes
 * nothing; with other content the new row is rejected. Set-based, two statements:
 *  1. the winners: per key the first staged row by line (DISTINCT ON), for keys not stored yet
 *     (anti-join), inserted in key order -- sorted inserts keep the unique index's pages local,
 *     4x faster on 5M random keys than inserting in file order or ON CONFLICT DO NOTHING;
 *  2. only when some staged rows did not win: each of them against the row that did (stored
 *     earlier, or staged on an earlier line), same content = unchanged, else rejected.
 * The run lock keeps other ingests out, so no key can appear between the two. */
static int ingest_first_write_wins(struct ingest_state *st, struct err *e)
{
	const struct feed_kind *k = st->hdr.kind;
	char sql[INGEST_SQL_MAX], id[24];
	snprintf(id, sizeof id, "%" PRId64, st->file_id);
	const char *params[] = { id };
	ingest_sql(sql, sizeof sql,
		   "INSERT INTO %s SELECT DISTINCT ON (s.%s) s.* FROM pg_temp.ingest_stage s"
		   " WHERE NOT EXISTS (SELECT 1 FROM %s m WHERE m.%s = s.%s)"
		   " ORDER BY s.%s, s.line",
		   k->table, k->key, k->table, k->key, k->key, k->key);
	PGresult *r = db_query(st->db, sql, 0, NULL, PGRES_COMMAND_OK, e);
	if (!r)
		return -1;
	st->loaded = strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	if (st->loaded == st->staged)
		return 0;
	char s_cols[INGEST_SQL_MAX / 2] = "", m_cols[INGEST_SQL_MAX / 2] = "";
	size_t sn = 0, mn = 0;
	for (size_t c = 0; c < k->ncols; c++) {
		if (strcmp(k->cols[c].db_name, k->key) == 0)
			continue;
		ingest_sql(s_cols + sn, sizeof s_cols - sn, "%ss.%s", sn ? ", " : "", k->cols[c].db_name);
		sn += strlen(s_cols + sn);
		ingest_sql(m_cols + mn, sizeof m_cols - mn, "%sm.%s", mn ? ", " : "", k->cols[c].db_name);
		mn += strlen(m_cols + mn);
	}
	ingest_sql(sql, sizeof sql,
		 "INSERT INTO settle.rejected_row (file_id, line, column_name, code, detail)"
		 " SELECT $1::bigint, s.line, '%s', '%s',"
		 "  format('\"%%s\" was first recorded with other content at %%s:%%s; the first write wins',"
		 "         s.%s, f.file_name, m.line)"
		 " FROM pg_temp.ingest_stage s JOIN %s m USING (%s)"
		 " JOIN settle.ingest_file f ON f.file_id = m.file_id"
		 " WHERE NOT (m.file_id = $1::bigint AND m.line = s.line)"
		 "   AND ROW(%s) IS DISTINCT FROM ROW(%s)",
		 k->key, FEED_DUPLICATE_KEY_CONFLICT, k->key, k->table, k->key, s_cols, m_cols);
	r = db_query(st->db, sql, 1, params, PGRES_COMMAND_OK, e);
	if (!r)
		return -1;
	int64_t conflicts = strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	st->rejected += conflicts;
	st->unchanged = st->staged - st->loaded - conflicts;
	ASSERT(st->unchanged >= 0);
	return 0;
}

/* The bulk path of the first-write-wins kinds. A unique index takes random keys one at a time
 * (metering_record_id is random hex: every insert lands on another page, and the index of a
 * month outgrows shared_buffers); building it once from the whole table sorts instead. Measured
 * on 5M metering records: staging + first-write-wins 36 s, bulk 12 s (bench/README.md). So when
 * the file is at least half the size of the table's heap (an initial load, a backfill, the
 * first month), the rows are copied straight into the table without its primary key, and the
 * key is added again afterwards. A file whose keys repeat (within itself or against stored rows)
 * makes that fail; then its rows move to the staging table and the usual path takes over, with
 * the same result. The ALTER TABLEs hold an exclusive lock on the table until COMMIT; the run
 * lock already keeps settle's other commands out. */
static int ingest_bulk_wanted(struct ingest_state *st, int *bulk, struct err *e)
{
	char bytes[24];
	snprintf(bytes, sizeof bytes, "%" PRId64, st->bytes);
	const char *params[] = { st->hdr.kind->table, bytes };
	/* The heap also holds the dead rows of rolled-back loads until VACUUM (a killed first load
	 * would otherwise send every later attempt down the slow path): scale it by the live share
	 * of the table's rows in the cumulative statistics, which count aborted inserts as dead (no
	 * counts yet: the whole heap). The live count is at least pg_class.reltuples, so that
	 * statistics lost in a crash or reset (zero live rows, a few dead ones) cannot make a full
	 * table look empty. Only a choice of path: both give the same rows. */
	return db_query_bool(st->db,
			     "SELECT CASE WHEN x.live + x.dead = 0"
			     "  THEN pg_relation_size(x.oid) <= 2 * $2::bigint"
			     "  ELSE pg_relation_size(x.oid)::numeric * x.live <= 2 * $2::numeric * (x.live + x.dead) END"
			     " FROM (SELECT c.oid, greatest(coalesce(s.n_live_tup, 0), c.reltuples::bigint, 0) AS live,"
			     "              coalesce(s.n_dead_tup, 0) AS dead"
			     "       FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid"
			     "       WHERE c.oid = $1::regclass) x",
			     2, params, bulk, e);
}

/* "settle.metering" -> "metering_pkey", PostgreSQL's name for the table's primary key. */
static void ingest_pkey_name(const struct feed_kind *k, char *out, size_t cap)
{
	const char *dot = strchr(k->table, '.');
	ingest_sql(out, cap, "%s_pkey", dot ? dot + 1 : k->table);
}

static int ingest_bulk_begin(struct ingest_state *st, struct err *e)
{
	const struct feed_kind *k = st->hdr.kind;
	char sql[INGEST_SQL_MAX], pkey[128];
	ingest_pkey_name(k, pkey, sizeof pkey);
	ingest_sql(sql, sizeof sql, "ALTER TABLE %s DROP CONSTRAINT %s", k->table, pkey);
	return db_exec(st->db, sql, e);
}

/* The staging table of the first-write-wins path: the kind's table's columns, gone at COMMIT. */
static int ingest_create_stage(struct ingest_state *st, struct err *e)
{
	char sql[INGEST_SQL_MAX];
	ingest_sql(sql, sizeof sql, "CREATE TEMP TABLE ingest_stage (LIKE %s) ON COMMIT DROP", st->hdr.kind->table);
	return db_exec(st->db, sql, e);
}

/* After the bulk COPY: the primary key again. 0 done (every row loaded), 1 a key repeats: the
 * file's rows are back in pg_temp.ingest_stage, the key is in place, first write wins next. */
static int ingest_bulk_finish(struct ingest_state *st, struct err *e)
{
	const struct feed_kind *k = st->hdr.kind;
	char add_pkey[INGEST_SQL_MAX], sql[INGEST_SQL_MAX], pkey[128];
	ingest_pkey_name(k, pkey, sizeof pkey);
	ingest_sql(add_pkey, sizeof add_pkey, "ALTER TABLE %s ADD CONSTRAINT %s PRIMARY KEY (%s)", k->table, pkey,
		   k->key);
	if (db_exec(st->db, "SAVEPOINT ingest_bulk", e) < 0)
		return -1;
	char state[6];
	struct err tried = { 0 };
	if (db_exec_state(st->db, add_pkey, state, &tried) == 0)
		return db_exec(st->db, "RELEASE SAVEPOINT ingest_bulk", e);
	if (strcmp(state, "23505") != 0) /* not unique_violation: a real failure */
		return err_set(e, tried.exit_code, "%s", tried.msg);
	char id[24];
	snprintf(id, sizeof id, "%" PRId64, st->file_id);
	const char *params[] = { id };
	if (db_exec(st->db, "ROLLBACK TO SAVEPOINT ingest_bulk", e) < 0 || ingest_create_stage(st, e) < 0)
		return -1;
	ingest_sql(sql, sizeof sql,
		   "WITH moved AS (DELETE FROM %s WHERE file_id = $1::bigint RETURNING *)"
		   " INSERT INTO pg_temp.ingest_stage SELECT * FROM moved",
		   k->table);
	PGresult *r = db_query(st->db, sql, 1, params, PGRES_COMMAND_OK, e);
	if (!r)
		return -1;
	PQclear(r);
	/* The stored rows are unique again: the same statement now succeeds. */
	return db_exec(st->db, add_pkey, e) < 0 ? -1 : 1;
}

/* Tables derived from a kind's rows, extended with this file's rows in the same transaction
 * ($1 = file_id). The BRIN index on file_id finds the file's rows at the end of the heap. */
static const char *const ingest_derived_sql[FEED_KINDS_N] = {
	[FEED_METERING] =
		"INSERT INTO settle.metering_daily"
		" SELECT file_id, coalesce(agreement_id, ''), customer_aws_account_id, product_code, dimension,"
		"        (usage_hour AT TIME ZONE 'UTC')::date, sum(quantity)::bigint, count(*)"
		" FROM settle.metering WHERE file_id = $1::bigint AND status = 'Success'"
		" GROUP BY 1, 2, 3, 4, 5, 6",
};

static int ingest_derive(struct ingest_state *st, struct err *e)
{
	const char *sql = ingest_derived_sql[st->hdr.kind->id];
	if (!sql || st->loaded == 0)
		return 0;
	if (st->bulk_clean && meter_daily_usable(st->daily)) /* every row stored: the client's sums */
		return meter_daily_send(st->daily, st->db, st->file_id, e);
	/* A month of metering is 5M rows summed into ~200k: a hash aggregate, in parallel, when the
	 * planner knows the sizes. After a bulk load the table has no statistics yet (it would sort
	 * 5M rows: 16 s instead of ~4 s), so it is analysed first (a sample: about a second; the
	 * next reconcile then has nothing to analyse). Settings end with the transaction. */
	char analyze[INGEST_SQL_MAX];
	ingest_sql(analyze, sizeof analyze, "ANALYZE %s", st->hdr.kind->table);
	if ((st->bulk && db_exec(st->db, analyze, e) < 0) ||
	    db_exec(st->db,
		    "SET LOCAL jit = off; SET LOCAL work_mem = '256MB';"
		    "SET LOCAL parallel_setup_cost = 100; SET LOCAL parallel_tuple_cost = 0.001",
		    e) < 0)
		return -1;
	char id[24];
	snprintf(id, sizeof id, "%" PRId64, st->file_id);
	const char *params[] = { id };
	PGresult *r = db_query(st->db, sql, 1, params, PGRES_COMMAND_OK, e);
	if (!r)
		return -1;
	PQclear(r);
	return 0;
}

/* The spool (COPY tuples already) -> settle.rejected_row, streamed in chunks. */
static int ingest_copy_rejects(struct ingest_state *st, struct err *e)
{
	if (!st->spool)
		return 0;
	if (copy_out_flush(&st->rejects, e) < 0)
		return -1;
	if (fflush(st->spool) != 0)
		return err_set(e, EXIT_FAILED, "could not write the rejected-rows spool file: %s", strerror(errno));
	if (fseek(st->spool, 0, SEEK_SET) != 0)
		return err_set(e, EXIT_FAILED, "could not read back the rejected-rows spool file: %s", strerror(errno));
	if (db_copy_begin(st->db,
			  "COPY settle.rejected_row (file_id, line, column_name, code, detail) FROM STDIN (FORMAT binary)",
			  e) < 0)
		return -1;
	struct copy_out out;
	if (copy_out_init(&out, COPY_OUT_CAP, ingest_sink_db, st->db) < 0) {
		db_copy_abort(st->db, "out of memory");
		return err_set(e, EXIT_FAILED, "out of memory");
	}
	copy_out_header(&out);
	char chunk[64 * 1024];
	size_t n;
	while (!out.failed && (n = fread(chunk, 1, sizeof chunk, st->spool)) > 0)
		copy_out_raw(&out, chunk, n);
	int rc = 0;
	if (!out.failed && ferror(st->spool))
		rc = err_set(e, EXIT_FAILED, "could not read back the rejected-rows spool file: %s", strerror(errno));
	if (rc == 0) {
		copy_out_trailer(&out);
		rc = copy_out_flush(&out, e);
	}
	copy_out_release(&out);
	if (rc < 0) {
		db_copy_abort(st->db, "settle could not send the rejected rows");
		return -1;
	}
	return db_copy_end(st->db, e);
}

/* The first INGEST_PRINT_MAX rejections of the file in line order, for the log. */
static PGresult *ingest_fetch_rejections(struct ingest_state *st, struct err *e)
{
	char id[24], lim[16];
	snprintf(id, sizeof id, "%" PRId64, st->file_id);
	snprintf(lim, sizeof lim, "%d", INGEST_PRINT_MAX);
	const char *params[] = { id, lim };
	return db_query(st->db,
			"SELECT line, column_name, detail FROM settle.rejected_row WHERE file_id = $1"
			" ORDER BY line, column_name LIMIT $2",
			2, params, PGRES_TUPLES_OK, e);
}

static void ingest_print_rejections(struct ingest_state *st, const PGresult *r)
{
	int n = PQntuples(r);
	for (int i = 0; i < n; i++) {
		int has_col = !PQgetisnull(r, i, 1);
		msg_say(st->opt->msg, MSG_REJECT, "%s:%s: %s%s%s", st->name, PQgetvalue(r, i, 0),
			has_col ? PQgetvalue(r, i, 1) : "", has_col ? ": " : "", PQgetvalue(r, i, 2));
	}
	if (st->rejected > n)
		msg_say(st->opt->msg, MSG_REJECT,
			"%s: and %" PRId64 " more rejected rows (all are in settle.rejected_row; see settle status)",
			st->name, st->rejected - n);
}

/* ---------------------------------------------------------------------------------------------
 * One file
 */

/* Inside the load transaction, after the rows' COPY: first write wins, the quarantined rows, the
 * ledger's counts, and the first rejections to print once committed (*shown, NULL if none).
 * Returns 0, -1, or 2: an append whose grown file is byte-identical to a file loaded before
 * (at another path): those rows are in, nothing to record (the caller rolls back); or
 * INGEST_PREFIX_CHANGED (the caller rolls back and reads the file whole). */
static int ingest_after_copy(struct ingest_state *st, PGresult **shown, struct err *e)
{
	int v = ingest_sha(st, e);
	if (v != 0)
		return v;
	if (!st->looked_up) {
		int found = ingest_find_previous(st, 1, e);
		if (found != 0)
			return found < 0 ? -1 : 2;
	}
	if (ingest_ledger_insert(st, st->hdr.kind->name, 0, e) < 0)
		return -1;
	st->loaded = st->staged;
	int staged = st->hdr.kind->key != NULL;
	if (st->bulk && (staged = ingest_bulk_finish(st, e)) < 0)
		return -1;
	st->bulk_clean = st->bulk && !staged;
	if (staged && ingest_first_write_wins(st, e) < 0)
		return -1;
	if (ingest_derive(st, e) < 0)
		return -1;
	if (ingest_copy_rejects(st, e) < 0 || ingest_ledger_counts(st, e) < 0)
		return -1;
	if (st->rejected && !(*shown = ingest_fetch_rejections(st, e)))
		return -1;
	return 0;
}

/* The server turns the COPY stream into rows while settle parses the next chunk. On a Unix socket
 * the kernel queues about 200 KiB by default, 2-3 ms of the server's work: when settle is not
 * scheduled at once on a busy machine the server runs dry. A deeper queue (capped by
 * net.core.wmem_max) keeps it busy; measured 15-30 % off a 1M-row ingest under load
 * (bench/README.md). TCP tunes its own buffers, so only AF_UNIX is touched. Best effort. */
static void ingest_deepen_socket(struct db *db)
{
	int fd = PQsocket(db_conn(db));
	struct sockaddr_storage addr;
	socklen_t len = sizeof addr;
	if (fd < 0 || getsockname(fd, (struct sockaddr *)&addr, &len) != 0 || addr.ss_family != AF_UNIX)
		return;
	int bytes = INGEST_SOCKET_BUFFER;
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
}

/* The load transaction. 0 committed, 1 the file is rejected whole (rolled back), -1 error
 * (rolled back), INGEST_PREFIX_CHANGED (rolled back). */
static int ingest_load(struct ingest_state *st, struct err *e)
{
	const struct feed_kind *k = st->hdr.kind;
	char sql[INGEST_SQL_MAX];
	PGresult *shown = NULL;
	int rc;
	if (db_begin(st->db, e) < 0)
		return -1;
	if (ingest_next_file_id(st, e) < 0)
		goto rollback;
	if (k->key && ingest_bulk_wanted(st, &st->bulk, e) < 0)
		goto rollback;
	if (st->bulk && ingest_bulk_begin(st, e) < 0)
		goto rollback;
	ingest_daily_start(st);
	if (k->key && !st->bulk && ingest_create_stage(st, e) < 0)
		goto rollback;
	const char *target = k->key && !st->bulk ? "pg_temp.ingest_stage" : k->table;
	if (target == k->table && ingest_freeze_if_empty(st, k->table, e) < 0)
		goto rollback;
	ingest_copy_sql(&st->hdr, target, st->freeze, sql, sizeof sql);
	if (db_copy_begin(st->db, sql, e) < 0)
		goto rollback;
	ingest_deepen_socket(st->db);
	if (copy_out_init(&st->rows, COPY_OUT_CAP, ingest_sink_db, st->db) < 0) {
		err_set(e, EXIT_FAILED, "out of memory");
		goto abort_copy;
	}
	copy_out_header(&st->rows);
	rc = ingest_rows(st, e);
	msg_progress_end(st->opt->msg);
	if (rc != 0) {
		db_copy_abort(st->db, rc > 0 ? "settle rejected the file" : "settle failed");
		db_rollback(st->db);
		return rc;
	}
	copy_out_trailer(&st->rows);
	if (copy_out_flush(&st->rows, e) < 0)
		goto abort_copy;
	if (db_copy_end(st->db, e) < 0 || (rc = ingest_after_copy(st, &shown, e)) < 0)
		goto rollback;
	if (rc == 2) {
		db_rollback(st->db);
		return 0;
	}
	if (rc == INGEST_PREFIX_CHANGED) {
		db_rollback(st->db);
		return rc;
	}
	if (db_commit(st->db, e) < 0) {
		PQclear(shown);
		return -1;
	}
	if (shown)
		ingest_print_rejections(st, shown);
	PQclear(shown);
	st->res->file_id = st->file_id;
	st->res->rows_loaded = st->loaded;
	st->res->rows_rejected = st->rejected;
	st->res->rows_unchanged = st->unchanged;
	st->res->prefix_bytes = st->prefix_bytes;
	st->res->line_first = st->prefix_bytes ? st->line_first : 0;
	return 0;
abort_copy:
	db_copy_abort(st->db, "settle failed");
rollback:
	db_rollback(st->db);
	return -1;
}

/* ---------------------------------------------------------------------------------------------
 * Placement and appends (SPEC §3 "Delivery layout")
 */

int ingest_place(const char *name, const char *kind_opt, const struct feed_kind **kind, int *sdds,
		 struct feed_reject *rej)
{
	const struct feed_kind *k = NULL;
	const char *feed = NULL;
	size_t feed_len = 0;
	enum inbox_feed f = inbox_feed_of_path(name, &k, &feed, &feed_len);
	*sdds = f != INBOX_FEED_NONE;
	*kind = NULL;
	memset(rej, 0, sizeof *rej);
	if (kind_opt) { /* --kind overrides the folder */
		*kind = feed_kind_by_name(kind_opt);
		ASSERT(*kind);
		return 0;
	}
	switch (f) {
	case INBOX_FEED_NONE:
		return 0;
	case INBOX_FEED_KIND:
		*kind = k;
		return 0;
	case INBOX_FEED_SKIP:
		snprintf(rej->detail, sizeof rej->detail,
			 "skipped: settle does not read the %.*s feed (personal data, no use for it)", (int)feed_len, feed);
		return 1;
	case INBOX_FEED_UNSUPPORTED:
		rej->code = FEED_MISSING_COLUMN;
		snprintf(rej->detail, sizeof rej->detail,
			 "the folder \"%.*s\" holds an SDDS feed this version of settle does not read (kind not "
			 "supported); nothing loaded",
			 (int)feed_len, feed);
		return 2;
	case INBOX_FEED_UNKNOWN:
		break;
	}
	rej->code = FEED_MISSING_COLUMN;
	snprintf(rej->detail, sizeof rej->detail,
		 "cannot tell the kind of the file: its folder \"%.*s\" is no SDDS feed settle knows (%s); " FEED_HINT_KIND
		 " (%s)",
		 (int)feed_len, feed, inbox_feed_names(), feed_kind_names());
	return 2;
}

int ingest_last_record_rejects(const struct csv_in_record *rec, size_t nfields, int sdds, struct feed_reject *rej)
{
	if (rec->terminated)
		return 0;
	if (sdds) { /* SDDS.md: LF ends every line; a copy stopping short is still being written */
		rej->code = FEED_BAD_CSV;
		rej->column = NULL;
		snprintf(rej->detail, sizeof rej->detail,
			 "the file's last line has no line end: SDDS files end every line with one, so this copy "
			 "is incomplete (still being synced?); nothing loaded from it, the next run reads it again");
		return 1;
	}
	if (rec->nfields == nfields)
		return 0; /* a hand-made file without a final line end: accepted (docs/ingest.md) */
	rej->code = FEED_BAD_CSV;
	rej->column = NULL;
	snprintf(rej->detail, sizeof rej->detail,
		 "the file ends in the middle of a record: its last line has %zu of %zu fields and no line end "
		 "(truncated file?)",
		 rec->nfields, nfields);
	return 1;
}

struct ingest_prev {
	int64_t file_id, bytes;
	int64_t lines;                  /* its file_lines, or -1 when not recorded */
	char sha[DIGEST_HEX_LEN + 1];
	char at[32];
};

/* The newest load recorded at this path (SPEC §6: the ledger is keyed by path). 1, 0, -1. */
static int ingest_find_by_path(struct ingest_state *st, struct ingest_prev *p, struct err *e)
{
	const char *params[] = { st->ledger_path };
	PGresult *r = db_query(st->db,
			       "SELECT file_id, file_bytes, sha256,"
			       " to_char(ingested_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), file_lines"
			       " FROM settle.ingest_file WHERE path = $1 AND NOT file_rejected AND file_bytes IS NOT NULL"
			       " ORDER BY file_id DESC LIMIT 1",
			       1, params, PGRES_TUPLES_OK, e);
	if (!r)
		return -1;
	int found = PQntuples(r) > 0;
	if (found) {
		p->file_id = result_i64(r, 0, 0);
		p->bytes = result_i64(r, 0, 1);
		snprintf(p->sha, sizeof p->sha, "%s", PQgetvalue(r, 0, 2));
		snprintf(p->at, sizeof p->at, "%s", PQgetvalue(r, 0, 3));
		p->lines = PQgetisnull(r, 0, 4) ? -1 : result_i64(r, 0, 4);
	}
	PQclear(r);
	return found;
}

enum ingest_growth { INGEST_UNCHANGED, INGEST_APPEND, INGEST_CHANGED, INGEST_READ_PREFIX };

/* A grown file whose previous load recorded its line count: the append is assumed and loaded
 * while a thread checks the prefix (see "The prefix check" above). Reads only the prefix's last
 * byte (it must end a line, else the sequential path says why it is no append) and its first
 * bytes (the header). INGEST_APPEND with st->f at p->bytes and st->digest fed the new bytes,
 * INGEST_READ_PREFIX to take the sequential path, -1. */
static int ingest_growth_async(struct ingest_state *st, const struct ingest_prev *p, struct err *e)
{
	int fd = fileno(st->f);
	unsigned char last;
	ssize_t n = pread(fd, &last, 1, (off_t)(p->bytes - 1));
	if (n != 1 || last != '\n')
		return INGEST_READ_PREFIX;
	size_t head_cap = p->bytes < (int64_t)INGEST_HEAD_MAX ? (size_t)p->bytes : INGEST_HEAD_MAX;
	st->head = malloc(head_cap);
	if (!st->head)
		return err_set(e, EXIT_FAILED, "out of memory");
	while (st->head_len < head_cap) {
		n = pread(fd, st->head + st->head_len, head_cap - st->head_len, (off_t)st->head_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			st->read_failed = 1;
			return err_set(e, EXIT_FAILED, "could not read \"%s\": %s", st->path,
				       n < 0 ? strerror(errno) : "it shrank while settle read it");
		}
		st->head_len += (size_t)n;
	}
	if (fseeko(st->f, (off_t)p->bytes, SEEK_SET) != 0) {
		st->read_failed = 1;
		return err_set(e, EXIT_FAILED, "could not read \"%s\": %s", st->path, strerror(errno));
	}
	if (!(st->digest = digest_new()))
		return err_set(e, EXIT_FAILED, "out of memory");
	if (prefix_check_start(st, p->bytes, e) < 0)
		return -1;
	snprintf(st->prefix_sha, sizeof st->prefix_sha, "%s", p->sha);
	st->prefix_bytes = p->bytes;
	st->prefix_file_id = p->file_id;
	st->line_first = p->lines + 1;
	return INGEST_APPEND;
}

/* SPEC §3 "Appends". The previous load of this path covered the first p->bytes bytes. They are
 * read once, from the start: their SHA-256 (its state copied at p->bytes continues into the
 * whole file's, so a growing file is read exactly once), their physical lines (the append's line
 * numbers continue from them), whether they end at a line end, and the first bytes (the header).
 * INGEST_APPEND leaves st->f at p->bytes and st->digest running; INGEST_CHANGED has read the
 * whole file (st->sha set, *why says what changed); INGEST_UNCHANGED sets st->sha. -1 error. */
static int ingest_growth(struct ingest_state *st, const struct ingest_prev *p, char *why, size_t why_cap,
			 struct err *e)
{
	if (p->bytes <= 0) { /* nothing to extend (a row written by hand): read whole */
		snprintf(why, why_cap, "no bytes of it were recorded then");
		return ingest_digest_file(st, e) < 0 ? -1 : INGEST_CHANGED;
	}
	if (p->bytes > st->bytes) {
		snprintf(why, why_cap, "it is shorter than the %" PRId64 " bytes ingested then", p->bytes);
		return ingest_digest_file(st, e) < 0 ? -1 : INGEST_CHANGED;
	}
	if (!st->sequential && p->lines >= 0 && p->bytes < st->bytes) {
		int rc = ingest_growth_async(st, p, e);
		if (rc != INGEST_READ_PREFIX)
			return rc;
	}
	struct digest *pre = digest_new();
	char *buf = malloc(INGEST_READ_CHUNK);
	size_t head_cap = p->bytes < (int64_t)INGEST_HEAD_MAX ? (size_t)p->bytes : INGEST_HEAD_MAX;
	st->head = malloc(head_cap ? head_cap : 1);
	int rc = -1;
	if (!pre || !buf || !st->head) {
		err_set(e, EXIT_FAILED, "out of memory");
		goto done;
	}
	int64_t left = p->bytes, lines = 0;
	int last = '\n';
	while (left > 0) {
		size_t want = left < (int64_t)INGEST_READ_CHUNK ? (size_t)left : INGEST_READ_CHUNK;
		size_t n = fread(buf, 1, want, st->f);
		if (n == 0) {
			st->read_failed = 1;
			if (ferror(st->f))
				err_set(e, EXIT_FAILED, "could not read \"%s\": %s", st->path, strerror(errno));
			else
				err_set(e, EXIT_FAILED, "\"%s\" shrank while settle read it", st->path);
			goto done;
		}
		digest_update(pre, buf, n);
		if (st->head_len < head_cap) {
			size_t k = head_cap - st->head_len < n ? head_cap - st->head_len : n;
			memcpy(st->head + st->head_len, buf, k);
			st->head_len += k;
		}
		for (const char *q = buf, *end = buf + n; (q = memchr(q, '\n', (size_t)(end - q))) != NULL; q++)
			lines++;
		last = (unsigned char)buf[n - 1];
		left -= (int64_t)n;
	}
	if (!(st->digest = digest_dup(pre))) { /* the whole file's, from here on */
		err_set(e, EXIT_FAILED, "out of memory");
		goto done;
	}
	char prefix_sha[DIGEST_HEX_LEN + 1];
	digest_final(pre, prefix_sha);
	pre = NULL;
	int same = strcmp(prefix_sha, p->sha) == 0;
	if (same && st->bytes == p->bytes) {
		snprintf(st->sha, sizeof st->sha, "%s", p->sha);
		rc = INGEST_UNCHANGED;
	} else if (same && last == '\n') {
		st->prefix_bytes = p->bytes;
		st->prefix_file_id = p->file_id;
		st->line_first = lines + 1;
		rc = INGEST_APPEND;
	} else {
		if (same)
			snprintf(why, why_cap, "it grew, but its last line then had no line end");
		else
			snprintf(why, why_cap, "its first %" PRId64 " bytes are not the bytes ingested then", p->bytes);
		if (ingest_drain(st, st->digest, e) < 0)
			goto done;
		digest_final(st->digest, st->sha);
		st->digest = NULL;
		rc = INGEST_CHANGED;
	}
done:
	digest_free(pre);
	free(buf);
	return rc;
}

/* An append: the header from the file's first bytes, then a reader at the prefix's end whose
 * line numbers continue the prefix's. 0, 1 rejected whole, -1. */
static int ingest_append_header(struct ingest_state *st, struct err *e)
{
	FILE *hf = fmemopen(st->head, st->head_len, "rb");
	if (!hf)
		return err_set(e, EXIT_FAILED, "out of memory");
	st->in = csv_in_new(hf);
	st->header_said = 1;
	int rc = st->in ? ingest_header(st, e) : err_set(e, EXIT_FAILED, "out of memory");
	st->header_said = 0;
	csv_in_free(st->in);
	fclose(hf);
	st->in = csv_in_new(st->f);
	if (!st->in)
		return err_set(e, EXIT_FAILED, "out of memory");
	csv_in_set_start(st->in, st->line_first);
	csv_in_set_digest(st->in, st->digest);
	if (rc == 0)
		csv_in_set_fields_max(st->in, st->hdr.nfields + 1);
	return rc;
}

/* A file with no load at its path: new, or byte-identical to a file loaded elsewhere. Prepares
 * st->in for the whole file. 0 read it, 1 a no-op (said so), -1. */
static int ingest_whole(struct ingest_state *st, struct err *e)
{
	int rc = 0;
	if (!st->sha[0] && (rc = ingest_size_seen(st, e)) > 0) /* maybe seen before: hash first */
		rc = ingest_digest_file(st, e);
	if (rc < 0)
		return -1;
	if (st->sha[0]) {
		if ((rc = ingest_find_previous(st, 0, e)) != 0)
			return rc;
		if (fseek(st->f, 0, SEEK_SET) != 0) {
			st->read_failed = 1;
			return err_set(e, EXIT_FAILED, "could not read \"%s\": %s", st->path, strerror(errno));
		}
	}
	st->looked_up = 1; /* a file of a size never seen cannot be byte-identical to one */
	if (!(st->in = csv_in_new(st->f)))
		return err_set(e, EXIT_FAILED, "out of memory");
	if (!st->sha[0]) { /* new for sure: hash while loading */
		if (!(st->digest = digest_new()))
			return err_set(e, EXIT_FAILED, "out of memory");
		csv_in_set_digest(st->in, st->digest);
	}
	return 0;
}

/* Opens path for reading only if it is a regular file. The open itself must not block: opening a
 * FIFO for reading waits for a writer (forever, in cron), so it opens non-blocking, checks with
 * fstat on the descriptor (no race with a renamed path), then reads blocking as usual. */
FILE *ingest_open_regular(const char *path, struct stat *sb, struct err *e)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		err_set(e, EXIT_FAILED, "could not open \"%s\": %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, sb) != 0) {
		err_set(e, EXIT_FAILED, "could not open \"%s\": %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(sb->st_mode)) {
		err_set(e, EXIT_FAILED, "\"%s\" is not a regular file (%s); only regular files are read", path,
			S_ISFIFO(sb->st_mode)  ? "a FIFO"
			: S_ISDIR(sb->st_mode) ? "a directory"
			: S_ISSOCK(sb->st_mode) ? "a socket"
			: S_ISCHR(sb->st_mode) || S_ISBLK(sb->st_mode) ? "a device"
						: "not a file");
		goto fail;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		err_set(e, EXIT_FAILED, "could not open \"%s\": %s", path, strerror(errno));
		goto fail;
	}
	FILE *f = fdopen(fd, "rb");
	if (!f) {
		err_set(e, EXIT_FAILED, "could not open \"%s\": %s", path, strerror(errno));
		goto fail;
	}
	return f;
fail:
	close(fd);
	return NULL;
}

/* One attempt; sequential: an append's prefix is read before its records (no check thread). */
static int ingest_file_once(struct db *db, const char *path, const struct ingest_options *opt,
			    struct ingest_result *result, int sequential, struct err *e)
{
	struct ingest_state st = { .db = db, .path = path, .opt = opt, .res = result, .sequential = sequential };
	struct stat sb;
	struct ingest_prev prev;
	char why[160] = "";
	int rc;
	memset(result, 0, sizeof *result);
	st.name = opt->name ? opt->name : ingest_base_name(path);
	st.ledger_path = opt->name ? opt->name : path;
	if (opt->kind && !feed_kind_by_name(opt->kind))
		return err_set(e, EXIT_USAGE, "unknown kind \"%s\" (known: %s)", opt->kind, feed_kind_names());
	st.place = ingest_place(st.ledger_path, opt->kind, &st.place_kind, &st.sdds, &st.bad);
	if (st.place == 1) {
		result->skipped = 1;
		if (!opt->quiet)
			msg_say(opt->msg, MSG_INFO, "%s: %s", st.name, st.bad.detail);
		return 0;
	}
	if (opt->ingested_at_us)
		time_format_pg(opt->ingested_at_us, st.at);
	st.f = ingest_open_regular(path, &sb, e);
	if (!st.f) {
		st.read_failed = 1;
		rc = -1;
		goto done;
	}
	/* Test hook (test_contain.sh): the read of the file named fails as an I/O error would, which
	 * a test running as root cannot cause otherwise inside an inbox the walk accepts. */
	const char *fp = getenv("SETTLE_FAILPOINT");
	if (fp && strncmp(fp, "eio:", 4) == 0 && strcmp(fp + 4, st.name) == 0) {
		st.read_failed = 1;
		rc = err_set(e, EXIT_FAILED, "could not read \"%s\": %s", path, strerror(EIO));
		goto done;
	}
	st.bytes = (int64_t)sb.st_size;
	rc = ingest_find_by_path(&st, &prev, e);
	if (rc > 0)
		rc = ingest_growth(&st, &prev, why, sizeof why, e);
	else if (rc == 0)
		rc = INGEST_CHANGED; /* nothing at this path: a whole file */
	if (rc < 0)
		goto done;
	if (rc == INGEST_UNCHANGED) {
		result->already_ingested = 1;
		result->file_id = prev.file_id;
		if (!opt->quiet)
			msg_say(opt->msg, MSG_INFO, "%s: already ingested on %s as file %" PRId64 "; nothing to do", st.name,
				prev.at, prev.file_id);
		rc = 0;
		goto done;
	}
	if (rc == INGEST_APPEND) {
		rc = ingest_append_header(&st, e);
	} else {
		if (why[0]) {
			result->prefix_changed = 1;
			msg_say(opt->msg, MSG_WARNING,
				"%s: changed since it was ingested as file %" PRId64 " on %s (%s): ingested whole as a new file",
				st.name, prev.file_id, prev.at, why);
		}
		rc = ingest_whole(&st, e);
		if (rc == 1) {
			rc = 0;
			goto done;
		}
		if (rc == 0)
			rc = ingest_header(&st, e);
	}
	/* SPEC §6 order: a file of a kind held back waits, nothing of it loaded or recorded. Asked
	 * once the kind is known: the folder's, else the header's (an earlier file that could not be
	 * read may be of any kind the header could name). */
	if (rc == 0 && opt->hold && opt->hold(st.hdr.kind, opt->hold_arg)) {
		result->held = 1;
		goto done;
	}
	if (rc == 0)
		rc = ingest_load(&st, e);
	if (rc == 1)
		rc = ingest_reject_file(&st, e);
done:
	/* The file's own read failed, not the database: the caller may set it aside (nightly). A
	 * read error inside libcsv or ingest_drain leaves the stream's error flag. */
	if (rc < 0 && (st.read_failed || (st.f && ferror(st.f))))
		result->unreadable = 1;
	prefix_check_join(&st, 1, NULL); /* an error path: the verdict was not needed */
	digest_free(st.digest);
	meter_daily_free(st.daily);
	copy_out_release(&st.rows);
	copy_out_release(&st.rejects);
	if (st.spool)
		fclose(st.spool);
	csv_in_free(st.in);
	free(st.head);
	if (st.f)
		fclose(st.f);
	return rc;
}

int ingest_file(struct db *db, const char *path, const struct ingest_options *opt, struct ingest_result *result,
		struct err *e)
{
	int rc = ingest_file_once(db, path, opt, result, 0, e);
	/* An append whose prefix, checked while its records loaded, turned out changed: rolled back;
	 * read again with the prefix first, which finds the change, says so, and ingests it whole. */
	if (rc == INGEST_PREFIX_CHANGED)
		rc = ingest_file_once(db, path, opt, result, 1, e);
	ASSERT(rc != INGEST_PREFIX_CHANGED);
	return rc;
}
