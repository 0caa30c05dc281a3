/* reconcile_io.c — bulk rows in and out of PostgreSQL (see reconcile_io.h). */
#include "reconcile_io.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"

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

int rio_i64(const char *text, int64_t *out)
{
	if (!text || !*text)
		return -1;
	const char *p = text;
	if (*p == '-')
		p++;
	if (!*p)
		return -1;
	for (const char *q = p; *q; q++)
		if (*q < '0' || *q > '9')
			return -1;
	errno = 0;
	char *end;
	long long v = strtoll(text, &end, 10);
	if (errno || *end)
		return -1;
	*out = (int64_t)v;
	return 0;
}

int rio_i32(const char *text, int32_t *out)
{
	int64_t v;
	if (rio_i64(text, &v) < 0 || v < INT32_MIN || v > INT32_MAX)
		return -1;
	*out = (int32_t)v;
	return 0;
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

/* ---------------------------------------------------------------------------------------------
 * String map
 */

void rio_map_init(struct rio_map *m)
{
	memset(m, 0, sizeof *m);
}

void rio_map_free(struct rio_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->ids);
	memset(m, 0, sizeof *m);
}

static int map_grow(struct rio_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	char **keys = calloc(cap, sizeof *keys);
	size_t *ids = calloc(cap, sizeof *ids);
	if (!keys || !ids) {
		free(keys);
		free(ids);
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->keys[i])
			continue;
		size_t s = (size_t)hash_str(HASH_INIT, m->keys[i]) & (cap - 1);
		while (keys[s])
			s = (s + 1) & (cap - 1);
		keys[s] = m->keys[i];
		ids[s] = m->ids[i];
	}
	free(m->keys);
	free(m->ids);
	m->keys = keys;
	m->ids = ids;
	m->cap = cap;
	return 0;
}

int rio_map_get(const struct rio_map *m, const char *key, size_t *id)
{
	if (m->cap == 0)
		return -1;
	size_t s = (size_t)hash_str(HASH_INIT, key) & (m->cap - 1);
	while (m->keys[s]) {
		if (strcmp(m->keys[s], key) == 0) {
			*id = m->ids[s];
			return 0;
		}
		s = (s + 1) & (m->cap - 1);
	}
	return -1;
}

int rio_map_put(struct rio_map *m, const char *key, size_t *id, int *added, struct err *e)
{
	if (rio_map_get(m, key, id) == 0) {
		*added = 0;
		return 0;
	}
	if ((m->n + 1) * 2 > m->cap && map_grow(m) < 0)
		return err_set(e, EXIT_FAILED, "out of memory");
	char *copy = strdup(key);
	if (!copy)
		return err_set(e, EXIT_FAILED, "out of memory");
	size_t s = (size_t)hash_str(HASH_INIT, key) & (m->cap - 1);
	while (m->keys[s])
		s = (s + 1) & (m->cap - 1);
	m->keys[s] = copy;
	m->ids[s] = m->n;
	*id = m->n++;
	*added = 1;
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Growable strings
 */

int rio_str_set(struct rio_str *b, const char *s, struct err *e)
{
	size_t len = s ? strlen(s) : 0;
	if (len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 32;
		while (cap < len + 1)
			cap *= 2;
		char *p = realloc(b->s, cap);
		if (!p)
			return err_set(e, EXIT_FAILED, "out of memory");
		b->s = p;
		b->cap = cap;
	}
	if (len)
		memcpy(b->s, s, len);
	b->s[len] = '\0';
	b->len = len;
	return 0;
}

void rio_str_free(struct rio_str *b)
{
	free(b->s);
	memset(b, 0, sizeof *b);
}
