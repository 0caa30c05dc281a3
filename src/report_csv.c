/* report_csv.c — CSV files of a report set (see report_csv.h). */
#include "report_csv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REPORT_CSV_BUFFER (1 << 20)

/* SPEC §8: the characters a spreadsheet reads as the start of a formula (or that hide one). */
static int report_csv_needs_guard(const char *s)
{
	return s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r';
}

void report_csv_put(FILE *f, const char *s, int guard)
{
	if (!s || !*s)
		return;
	int quote = strpbrk(s, ",\"\r\n") != NULL;
	if (quote)
		fputc('"', f);
	if (guard && report_csv_needs_guard(s))
		fputc('\'', f);
	if (!quote) {
		fputs(s, f);
		return;
	}
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			fputc('"', f);
		fputc(*p, f);
	}
	fputc('"', f);
}

/* The stream writes through this sink so that the errno of the first failed write is kept: stdio
 * only sets its error flag, and by fclose errno says something else (a full disk used to read
 * "Input/output error"). */
struct report_csv_sink {
	int fd;
	int write_errno; /* 0 until a write fails */
};

static ssize_t report_csv_sink_write(void *cookie, const char *buf, size_t n)
{
	struct report_csv_sink *s = cookie;
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(s->fd, buf + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (!s->write_errno)
				s->write_errno = w < 0 ? errno : EIO;
			return done > 0 ? (ssize_t)done : -1;
		}
		done += (size_t)w;
	}
	return (ssize_t)done;
}

static int report_csv_sink_close(void *cookie)
{
	struct report_csv_sink *s = cookie;
	int rc = close(s->fd);
	free(s);
	return rc;
}

int report_csv_create(const char *path, struct report_csv_file *out, struct err *e)
{
	memset(out, 0, sizeof *out);
	snprintf(out->path, sizeof out->path, "%s", path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return err_set(e, EXIT_FAILED, "could not create \"%s\": %s", path, strerror(errno));
	static const cookie_io_functions_t io = { .write = report_csv_sink_write, .close = report_csv_sink_close };
	out->sink = malloc(sizeof *out->sink);
	if (out->sink) {
		*out->sink = (struct report_csv_sink){ fd, 0 };
		out->f = fopencookie(out->sink, "w", io);
	}
	if (!out->f) {
		int saved = out->sink ? errno : ENOMEM;
		free(out->sink);
		out->sink = NULL;
		close(fd);
		return err_set(e, EXIT_FAILED, "could not open \"%s\": %s", path, strerror(saved));
	}
	/* Large writes: a million allocation rows are ~150 MB. A failed setvbuf only costs speed. */
	(void)setvbuf(out->f, NULL, _IOFBF, REPORT_CSV_BUFFER);
	return 0;
}

int report_csv_finish(struct report_csv_file *w, struct err *e)
{
	FILE *f = w->f;
	w->f = NULL;
	if (!f)
		return err_set(e, EXIT_FAILED, "\"%s\" is not open", w->path);
	struct report_csv_sink *sink = w->sink;
	w->sink = NULL;
	int failed = fflush(f) != 0 || ferror(f);
	int saved = failed ? (sink->write_errno ? sink->write_errno : EIO) : 0;
	if (!failed && fsync(sink->fd) != 0) {
		saved = errno;
		failed = 1;
	}
	if (fclose(f) != 0 && !failed) { /* frees sink */
		saved = errno;
		failed = 1;
	}
	if (failed)
		return err_set(e, EXIT_FAILED, "could not write \"%s\": %s", w->path, strerror(saved));
	return 0;
}

void report_csv_abandon(struct report_csv_file *w)
{
	if (w->f)
		fclose(w->f); /* frees the sink */
	w->f = NULL;
	w->sink = NULL;
}

static void report_csv_header(FILE *f, const struct report_listing *l)
{
	for (size_t i = 0; i < l->ncols; i++) {
		if (i)
			fputc(',', f);
		report_csv_put(f, l->cols[i].name, 0);
	}
	fputc('\n', f);
}

/* One data row. Money is formatted with the currency of its row (SPEC §2), never guarded. */
static int report_csv_row(FILE *f, const struct report_listing *l, const char *const *v, struct err *e)
{
	for (size_t i = 0; i < l->ncols; i++) {
		const struct report_column *col = &l->cols[i];
		if (i)
			fputc(',', f);
		if (!v[i])
			continue;
		if (col->type == REPORT_MONEY) {
			char buf[MONEY_FORMAT_MAX];
			ASSERT(col->currency_col >= 0 && (size_t)col->currency_col < l->ncols);
			if (report_format_money(v[i], v[col->currency_col], buf, e) < 0)
				return err_prefix(e, "%s: %s", l->csv_name, col->name);
			fputs(buf, f);
		} else {
			/* Counts, dates and statistics (REPORT_DECIMAL) as the server prints them: numbers,
			 * never guarded, so a mean of -2.5 days stays -2.5. */
			report_csv_put(f, v[i], col->type == REPORT_TEXT);
		}
	}
	fputc('\n', f);
	return 0;
}

int report_csv_write_listing(struct db *db, const struct report_listing *l, int64_t run_id,
			     const char *period, const char *path, int64_t *rows_out, struct err *e)
{
	ASSERT(l->csv_name);
	struct report_csv_file w;
	struct report_cursor *c = NULL;
	int64_t rows = 0;
	if (report_csv_create(path, &w, e) < 0)
		return -1;
	if (report_cursor_open(db, l, run_id, period, &c, e) < 0)
		goto fail;
	report_csv_header(w.f, l);
	const char *const *v;
	int got;
	while ((got = report_cursor_next(c, &v, e)) > 0) {
		if (report_csv_row(w.f, l, v, e) < 0)
			goto fail;
		rows++;
	}
	if (got < 0)
		goto fail;
	report_cursor_close(c);
	c = NULL;
	if (report_csv_finish(&w, e) < 0)
		return -1;
	if (rows_out)
		*rows_out = rows;
	return 0;
fail:
	report_cursor_close(c);
	report_csv_abandon(&w);
	return -1;
}
