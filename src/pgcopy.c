/* pgcopy.c — PostgreSQL COPY formats (see pgcopy.h). */
#include "pgcopy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "signals.h"

int copy_out_init(struct copy_out *c, size_t cap, copy_sink_fn sink, void *arg)
{
	memset(c, 0, sizeof *c);
	ASSERT(cap >= 64 * 1024);
	c->buf = malloc(cap);
	if (!c->buf)
		return -1;
	c->cap = cap;
	c->sink = sink;
	c->arg = arg;
	return 0;
}

void copy_out_release(struct copy_out *c)
{
	free(c->buf);
	c->buf = NULL;
	c->len = c->cap = 0;
}

void copy_out_drain(struct copy_out *c)
{
	if (c->len && !c->failed && c->sink(c->arg, c->buf, c->len, &c->err) < 0)
		c->failed = 1;
	c->len = 0;
}

void copy_out_header(struct copy_out *c)
{
	static const char sig[11] = { 'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0' };
	char *p = copy_out_room(c, 19);
	memcpy(p, sig, 11);
	copy_out_be32(p + 11, 0); /* flags: no OIDs */
	copy_out_be32(p + 15, 0); /* header extension length */
}

void copy_out_trailer(struct copy_out *c)
{
	char *p = copy_out_room(c, 2);
	p[0] = p[1] = (char)0xFF; /* int16 -1 */
}

void copy_out_raw(struct copy_out *c, const char *s, size_t len)
{
	while (len > 0) {
		size_t n = len < c->cap ? len : c->cap;
		memcpy(copy_out_room(c, n), s, n);
		s += n;
		len -= n;
	}
}

int copy_out_flush(struct copy_out *c, struct err *e)
{
	copy_out_drain(c);
	if (c->failed) {
		if (e)
			*e = c->err;
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Reading a COPY ... TO STDOUT, one CopyData message at a time
 */

int bin_in_begin(struct bin_in *in, struct db *db, const char *copy_sql, int nfields, struct err *e)
{
	ASSERT(nfields > 0 && nfields <= PGCOPY_BIN_FIELDS_MAX);
	memset(in, 0, sizeof *in);
	in->nfields = nfields;
	int binary;
	if (db_copy_reader_begin(&in->copy, db, copy_sql, &binary, e) < 0)
		return -1;
	ASSERT(binary); /* the statement says FORMAT binary */
	return 0;
}

void bin_in_end(struct bin_in *in)
{
	db_copy_reader_end(&in->copy);
}

static int bin_in_bad(struct bin_in *in, struct err *e)
{
	err_set(e, EXIT_FAILED, "database: a binary COPY row is malformed");
	bin_in_end(in);
	return -1;
}

/* Each CopyData message of COPY TO is one row; the file header comes with the first one, the
 * trailer (field count -1) last. */
int bin_in_next(struct bin_in *in, struct err *e)
{
	static const char signature[11] = "PGCOPY\n\377\r\n"; /* with its NUL: 11 bytes */
	for (;;) {
		char *buf;
		int n, got = db_copy_reader_next(&in->copy, &buf, &n, e);
		if (got <= 0)
			return got;
		const unsigned char *p = (const unsigned char *)buf, *end = p + n;
		if (!in->header_done) { /* signature, flags, extension length, extension */
			if (end - p < 19 || memcmp(p, signature, sizeof signature) != 0 ||
			    end - p - 19 < (int64_t)pgcopy_be32(p + 15))
				return bin_in_bad(in, e);
			p += 19 + pgcopy_be32(p + 15);
			in->header_done = 1;
		}
		if (end - p < 2)
			return bin_in_bad(in, e);
		int16_t fields = (int16_t)(p[0] << 8 | p[1]);
		p += 2;
		if (fields == -1 && p == end)
			continue; /* the trailer: the next call ends the COPY */
		if (fields != in->nfields)
			return bin_in_bad(in, e);
		for (int i = 0; i < in->nfields; i++) {
			if (end - p < 4)
				return bin_in_bad(in, e);
			in->at[i] = p;
			int32_t len = (int32_t)pgcopy_be32(p);
			p += 4;
			if (len < -1 || end - p < len)
				return bin_in_bad(in, e);
			in->field[i] = len < 0 ? NULL : p;
			in->len[i] = len;
			p += len < 0 ? 0 : len;
		}
		in->at[in->nfields] = p;
		if (p != end)
			return bin_in_bad(in, e);
		return 1;
	}
}

int db_copy_reader_begin(struct db_copy_reader *r, struct db *db, const char *copy_sql, int *binary,
			 struct err *e)
{
	memset(r, 0, sizeof *r);
	r->db = db;
	if (signals_check(e) < 0)
		return -1;
	PGresult *res = PQexec(db_conn(db), copy_sql);
	if (PQresultStatus(res) != PGRES_COPY_OUT) {
		err_set(e, EXIT_FAILED, "database: %s", PQresultErrorMessage(res));
		PQclear(res);
		return -1;
	}
	if (binary)
		*binary = PQbinaryTuples(res);
	PQclear(res);
	r->active = 1;
	return 0;
}

/* The end of the COPY: its own result says whether the query succeeded (e may be NULL). */
static int db_copy_reader_finish(struct db_copy_reader *r, struct err *e)
{
	int rc = 0;
	PGresult *res;
	r->active = 0;
	while ((res = PQgetResult(db_conn(r->db))) != NULL) {
		if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = err_set(e, EXIT_FAILED, "database: %s", PQresultErrorMessage(res));
		PQclear(res);
	}
	return rc;
}

static void db_copy_reader_free_msg(struct db_copy_reader *r)
{
	if (r->msg) {
		PQfreemem(r->msg);
		r->msg = NULL;
	}
}

int db_copy_reader_next(struct db_copy_reader *r, char **msg, int *len, struct err *e)
{
	db_copy_reader_free_msg(r);
	if (!r->active)
		return 0;
	char *buf = NULL;
	int n = PQgetCopyData(db_conn(r->db), &buf, 0);
	if (n == -1)
		return db_copy_reader_finish(r, e) < 0 ? -1 : 0;
	if (n < 0) {
		err_set(e, EXIT_FAILED, "database: could not read COPY data: %s", PQerrorMessage(db_conn(r->db)));
		db_copy_reader_end(r);
		return -1;
	}
	r->msg = *msg = buf;
	*len = n;
	return 1;
}

void db_copy_reader_end(struct db_copy_reader *r)
{
	db_copy_reader_free_msg(r);
	if (!r->active)
		return;
	char *buf;
	int n;
	while ((n = PQgetCopyData(db_conn(r->db), &buf, 0)) >= 0)
		if (n > 0)
			PQfreemem(buf);
	(void)db_copy_reader_finish(r, NULL);
}

/* ---------------------------------------------------------------------------------------------
 * COPY ... TO STDOUT
 */

int rio_in_begin(struct rio_in *in, struct db *db, const char *copy_sql, struct err *e)
{
	memset(in, 0, sizeof *in);
	return db_copy_reader_begin(&in->copy, db, copy_sql, NULL, e);
}

/* COPY text format: a backslash escapes the next character; \N alone is NULL (SQL) and the
 * usual C escapes stand for control characters. Unescapes field in place. */
static const char *unescape(char *field)
{
	if (field[0] == '\\' && field[1] == 'N' && field[2] == '\0')
		return NULL;
	char *w = field;
	for (char *r = field; *r; r++) {
		if (*r != '\\' || r[1] == '\0') {
			*w++ = *r;
			continue;
		}
		r++;
		switch (*r) {
		case 't': *w++ = '\t'; break;
		case 'n': *w++ = '\n'; break;
		case 'r': *w++ = '\r'; break;
		case 'b': *w++ = '\b'; break;
		case 'f': *w++ = '\f'; break;
		case 'v': *w++ = '\v'; break;
		default: *w++ = *r; break;
		}
	}
	*w = '\0';
	return field;
}

int rio_in_next(struct rio_in *in, int nfields_expected, struct err *e)
{
	ASSERT(nfields_expected > 0 && nfields_expected <= RIO_FIELDS_MAX);
	char *buf;
	int n, got = db_copy_reader_next(&in->copy, &buf, &n, e);
	if (got <= 0)
		return got;
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	int nf = 0;
	char *p = buf;
	for (;;) {
		char *tab = strchr(p, '\t');
		if (nf == RIO_FIELDS_MAX)
			break;
		if (tab)
			*tab = '\0';
		in->fields[nf++] = unescape(p);
		if (!tab)
			break;
		p = tab + 1;
	}
	in->nfields = nf;
	in->rows++;
	if (nf != nfields_expected) {
		err_set(e, EXIT_FAILED, "database: a COPY row has %d fields, expected %d", nf, nfields_expected);
		rio_in_end(in);
		return -1;
	}
	return 1;
}

void rio_in_end(struct rio_in *in)
{
	db_copy_reader_end(&in->copy);
}

/* ---------------------------------------------------------------------------------------------
 * COPY ... FROM STDIN, through a temporary file
 */

int rio_out_open(struct rio_out *o, struct err *e)
{
	memset(o, 0, sizeof *o);
	o->f = tmpfile();
	if (!o->f)
		return err_set(e, EXIT_FAILED, "could not create a temporary file: %s", strerror(errno));
	return 0;
}

void rio_out_close(struct rio_out *o)
{
	if (o->f)
		fclose(o->f);
	o->f = NULL;
}

/* The writers below run a few million times per month of events: they use the unlocked stdio
 * calls (the stream is this thread's alone) and format integers by hand; fprintf and a locked
 * putc per character were a sixth of reconcile's CPU. Errors are sticky in the stream and
 * checked once more by ferror() in rio_out_send. */
static void put_raw(struct rio_out *o, const char *s, size_t n)
{
	if (n > 0 && fwrite_unlocked(s, 1, n, o->f) != n && !o->failed) {
		o->failed = 1;
		o->write_errno = errno;
	}
}

static void sep(struct rio_out *o)
{
	if (o->col++ > 0)
		put_raw(o, "\t", 1);
}

void rio_text(struct rio_out *o, const char *s)
{
	if (!s) {
		rio_null(o);
		return;
	}
	sep(o);
	for (;;) {
		size_t run = strcspn(s, "\\\t\n\r"); /* COPY text: these four need an escape */
		put_raw(o, s, run);
		s += run;
		if (!*s)
			break;
		switch (*s) {
		case '\\': put_raw(o, "\\\\", 2); break;
		case '\t': put_raw(o, "\\t", 2); break;
		case '\n': put_raw(o, "\\n", 2); break;
		default: put_raw(o, "\\r", 2); break;
		}
		s++;
	}
}

void rio_int(struct rio_out *o, int64_t v)
{
	char buf[24], *p = buf + sizeof buf;
	/* negate in unsigned arithmetic: INT64_MIN has no positive int64_t */
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	sep(o);
	put_raw(o, p, (size_t)(buf + sizeof buf - p));
}

void rio_null(struct rio_out *o)
{
	sep(o);
	put_raw(o, "\\N", 2);
}

void rio_bool(struct rio_out *o, int b)
{
	sep(o);
	put_raw(o, b ? "t" : "f", 1);
}

void rio_end_row(struct rio_out *o)
{
	put_raw(o, "\n", 1);
	o->col = 0;
	o->rows++;
}

int rio_out_send(struct rio_out *o, struct db *db, const char *copy_sql, struct err *e)
{
	ASSERT(o->col == 0);
	if (o->failed || fflush(o->f) != 0 || ferror(o->f)) {
		int saved = o->write_errno ? o->write_errno : errno ? errno : EIO;
		return err_set(e, EXIT_FAILED, "could not write a temporary file: %s", strerror(saved));
	}
	if (o->rows == 0)
		return 0;
	rewind(o->f);
	if (db_copy_begin(db, copy_sql, e) < 0)
		return -1;
	char buf[1 << 16];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, o->f)) > 0) {
		if (db_copy_put(db, buf, n, e) < 0) {
			db_copy_abort(db, "settle: could not send rows");
			return -1;
		}
	}
	if (ferror(o->f)) {
		db_copy_abort(db, "settle: could not read a temporary file");
		return err_set(e, EXIT_FAILED, "could not read a temporary file: %s", strerror(errno));
	}
	if (db_copy_end(db, e) < 0)
		return -1;
	/* Empty it, so a second send of the same writer cannot repeat rows. */
	if (ftruncate(fileno(o->f), 0) != 0)
		return err_set(e, EXIT_FAILED, "could not truncate a temporary file: %s", strerror(errno));
	rewind(o->f);
	o->rows = 0;
	return 0;
}
