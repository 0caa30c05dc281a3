/* insights.c — statistics on metered usage and payment timing (see insights.h, docs/insights.md).
 *
 * Control flow lives in insights_compute: clear the run's previous insights for the period, score
 * the usage series, time the payouts and collections, store the totals. C decides, through
 * stats.h, and writes the results with COPY.
 *
 * The usage records are many (every Success record of the period and of up to
 * INSIGHTS_HISTORY_MONTHS of history: millions), so the server only selects them, in one binary
 * COPY, and C groups them by series and hour and orders the series (C collation) within a bounded
 * budget of memory (see "Usage: reading the records"). Results are buffered and written after the
 * stream ends, because the connection carries one statement at a time. The timing query groups
 * and sorts in SQL and returns one row per payout or collection and reference, small enough to
 * read whole.
 */
#include "insights.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reconcile.h"
#include "reconcile_io.h"
#include "timeutil.h"

#define INSIGHTS_COPY_FLUSH_BYTES 65536
#define INSIGHTS_TEXT_MAX 512 /* a note or an exception sentence */

/* ---------------------------------------------------------------------------------------------
 * The usage method: band and score (pure)
 */

static int64_t floor_div128(__int128 n, int64_t d)
{
	ASSERT(d > 0);
	__int128 q = n / d;
	if (n % d != 0 && n < 0)
		q--;
	ASSERT(q >= INT64_MIN && q <= INT64_MAX);
	return (int64_t)q;
}

void insights_band_of(const struct stats_robust *r, struct insights_band *out)
{
	ASSERT(r->mad_x4 >= 0);
	int64_t median_abs_x4 = r->median_x4 < 0 ? -r->median_x4 : r->median_x4;
	/* sigma = max(1.4826·MAD, 10 % of |median|, 1 unit), all × 40000: exact integers. */
	__int128 s = (__int128)INSIGHTS_MAD_SCALE_E4 * r->mad_x4;
	__int128 s_median = (__int128)INSIGHTS_SIGMA_FLOOR_MEDIAN_E4 * median_abs_x4;
	__int128 s_units = (__int128)INSIGHTS_SIGMA_FLOOR_UNITS * 40000;
	if (s < s_median)
		s = s_median;
	if (s < s_units)
		s = s_units;
	ASSERT(s > 0 && s <= INT64_MAX);
	out->sigma_x40000 = (int64_t)s;
	/* An integer x is no anomaly iff |4x − m4|·10^4 <= T·S, i.e.
	 * ceil((m4·10^4 − T·S) / 40000) <= x <= floor((m4·10^4 + T·S) / 40000). */
	__int128 center = (__int128)r->median_x4 * 10000;
	__int128 reach = (__int128)INSIGHTS_SCORE_THRESHOLD * s;
	out->high = floor_div128(center + reach, 40000);
	out->low = -floor_div128(-(center - reach), 40000);
	if (out->low < 0)
		out->low = 0;
}

int64_t insights_score_tenths(const struct stats_robust *r, const struct insights_band *b, int64_t quantity)
{
	__int128 dev_x4 = (__int128)quantity * 4 - r->median_x4;
	if (dev_x4 < 0)
		dev_x4 = -dev_x4;
	return stats_div_round(dev_x4 * 10000 * 10, b->sigma_x40000);
}

int insights_is_anomaly(const struct insights_band *b, int64_t quantity)
{
	return quantity < b->low || quantity > b->high;
}

/* ---------------------------------------------------------------------------------------------
 * The summary sentence
 */

/* Tenths without a useless ".0": 34, 34.5. */
static void format_days(int64_t tenths, char buf[STATS_FORMAT_MAX])
{
	size_t n = stats_format_tenths(tenths, buf);
	if (n >= 2 && strcmp(buf + n - 2, ".0") == 0)
		buf[n - 2] = '\0';
}

size_t insights_summary_line(const struct insights_summary *s, char *buf, size_t size)
{
	char median[STATS_FORMAT_MAX];
	int n;
	if (s->payout_samples > 0) {
		format_days(s->payout_median_days_tenths, median);
		n = snprintf(buf, size, "%" PRId64 " usage %s; median days to payout %s", s->usage_anomalies,
			     s->usage_anomalies == 1 ? "anomaly" : "anomalies", median);
	} else {
		n = snprintf(buf, size, "%" PRId64 " usage %s; no payouts to time", s->usage_anomalies,
			     s->usage_anomalies == 1 ? "anomaly" : "anomalies");
	}
	ASSERT(n >= 0);
	return (size_t)n;
}

/* ---------------------------------------------------------------------------------------------
 * Small helpers: growable arrays, strings, integers from the server
 */

/* Makes room for `need` elements of `elem` bytes in array p of capacity *cap: returns p or its
 * reallocation (the caller stores it), or NULL with e filled (p is then still valid). */
static void *grow(void *p, size_t *cap, size_t need, size_t elem, struct err *e)
{
	if (need <= *cap)
		return p;
	size_t n = *cap ? *cap : 16;
	while (n < need)
		n *= 2;
	void *q = realloc(p, n * elem);
	if (!q) {
		err_set(e, EXIT_FAILED, "insights: out of memory");
		return NULL;
	}
	*cap = n;
	return q;
}

/* A copy of s, or NULL for NULL (SQL NULL). -1 when out of memory. */
static int dup_opt(const char *s, char **out, struct err *e)
{
	*out = NULL;
	if (!s)
		return 0;
	*out = strdup(s);
	return *out ? 0 : err_set(e, EXIT_FAILED, "insights: out of memory");
}

/* A bigint the server printed: well-formed by construction. */
static int64_t cell_i64(const PGresult *res, int row, int col)
{
	ASSERT(!PQgetisnull(res, row, col));
	const char *s = PQgetvalue(res, row, col);
	char *end;
	long long v = strtoll(s, &end, 10);
	ASSERT(end != s && *end == '\0');
	return (int64_t)v;
}

/* SETTLE_RECONCILE_TIMING=1 (as for reconcile's phases) prints each insights phase's wall time
 * on stderr, for benchmarks and tuning. */
static double phase_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void phase_print(const char *period, const char *phase, double since)
{
	const char *timing = getenv("SETTLE_RECONCILE_TIMING");
	if (timing && *timing && strcmp(timing, "0") != 0)
		fprintf(stderr, "settle: insights %s: %-22s %8.3f s\n", period, phase, phase_now() - since);
}

/* ---------------------------------------------------------------------------------------------
 * COPY ... FROM STDIN in text format, row by row
 */

struct copy_out {
	struct db *db;
	char *buf;
	size_t len, cap;
	int fields; /* fields of the current row so far */
	int oom;
};

static void co_raw(struct copy_out *c, const char *s, size_t n)
{
	if (c->oom)
		return;
	if (c->len + n + 1 > c->cap) {
		size_t cap = c->cap ? c->cap : INSIGHTS_COPY_FLUSH_BYTES * 2;
		while (c->len + n + 1 > cap)
			cap *= 2;
		char *q = realloc(c->buf, cap);
		if (!q) {
			c->oom = 1;
			return;
		}
		c->buf = q;
		c->cap = cap;
	}
	memcpy(c->buf + c->len, s, n);
	c->len += n;
}

static void co_sep(struct copy_out *c)
{
	if (c->fields++ > 0)
		co_raw(c, "\t", 1);
}

/* A text field: NULL is \N; backslash, tab, newline and CR are escaped (COPY text format). */
static void co_text(struct copy_out *c, const char *s)
{
	co_sep(c);
	if (!s) {
		co_raw(c, "\\N", 2);
		return;
	}
	for (; *s; s++) {
		switch (*s) {
		case '\\': co_raw(c, "\\\\", 2); break;
		case '\t': co_raw(c, "\\t", 2); break;
		case '\n': co_raw(c, "\\n", 2); break;
		case '\r': co_raw(c, "\\r", 2); break;
		default: co_raw(c, s, 1); break;
		}
	}
}

static void co_i64(struct copy_out *c, int64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
	co_sep(c);
	co_raw(c, tmp, (size_t)n);
}

static void co_null(struct copy_out *c)
{
	co_text(c, NULL);
}

static void co_tenths(struct copy_out *c, int64_t tenths)
{
	char tmp[STATS_FORMAT_MAX];
	stats_format_tenths(tenths, tmp);
	co_text(c, tmp);
}

static void co_quarters(struct copy_out *c, int64_t x4)
{
	char tmp[STATS_FORMAT_MAX];
	stats_format_quarters(x4, tmp);
	co_text(c, tmp);
}

static void co_instant(struct copy_out *c, int64_t us)
{
	char tmp[40];
	time_format_pg(us, tmp);
	co_text(c, tmp);
}

static int co_begin(struct copy_out *c, struct db *db, const char *copy_sql, struct err *e)
{
	memset(c, 0, sizeof *c);
	c->db = db;
	return db_copy_begin(db, copy_sql, e);
}

static int co_flush(struct copy_out *c, struct err *e)
{
	if (c->oom)
		return err_set(e, EXIT_FAILED, "insights: out of memory");
	if (c->len > 0 && db_copy_put(c->db, c->buf, c->len, e) < 0)
		return -1;
	c->len = 0;
	return 0;
}

static int co_end_row(struct copy_out *c, struct err *e)
{
	co_raw(c, "\n", 1);
	c->fields = 0;
	return c->len >= INSIGHTS_COPY_FLUSH_BYTES || c->oom ? co_flush(c, e) : 0;
}

/* Ends the COPY (rc == 0) or aborts it (rc < 0, e already filled); frees the buffer. */
static int co_finish(struct copy_out *c, int rc, struct err *e)
{
	if (rc == 0 && co_flush(c, e) == 0)
		rc = db_copy_end(c->db, e);
	else
		db_copy_abort(c->db, "insights: aborted");
	free(c->buf);
	c->buf = NULL;
	return rc < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------------------------------------
 * Usage: reading the series
 */

struct point {
	int64_t hour_us;
	int64_t quantity;
};

/* One series' result: a row of settle.insight_usage. Strings owned (NULL = SQL NULL). */
struct usage_row {
	char *customer, *product_code, *dimension, *agreement_id, *offer_id;
	const char *status;       /* OK | ANOMALY | NOT_ENOUGH_HISTORY */
	int64_t history_points, history_days;
	int scored;
	struct stats_robust robust;
	struct insights_band band;
	int64_t period_points, observed_min, observed_max;
	int64_t anomalies, max_score_tenths;
};

struct anomaly {
	size_t row;               /* index into usage.rows */
	int64_t hour_us, quantity, score_tenths;
	int64_t seq;              /* 1, or more when another series' reference reads the same */
};

/* Everything the usage pass computes, buffered until the stream has ended. */
struct usage {
	int32_t period;
	int64_t period_start_us;
	struct usage_row *rows;
	size_t rows_n, rows_cap;
	struct anomaly *anomalies;
	size_t anomalies_n, anomalies_cap;
	/* the series being read */
	int64_t *history;         /* INSIGHTS_SERIES_POINTS_MAX slots */
	size_t history_n;
	int64_t history_days;
	int32_t history_last_day;
	struct point *points;     /* the period's hours, INSIGHTS_SERIES_POINTS_MAX slots */
	size_t points_n;
	/* the chart: the ANOMALY series with the highest score (first in key order on ties) */
	size_t best_row;          /* SIZE_MAX: none */
	struct point *best_points;
	size_t best_points_n;
};

static void usage_release(struct usage *u)
{
	for (size_t i = 0; i < u->rows_n; i++) {
		free(u->rows[i].customer);
		free(u->rows[i].product_code);
		free(u->rows[i].dimension);
		free(u->rows[i].agreement_id);
		free(u->rows[i].offer_id);
	}
	free(u->rows);
	free(u->anomalies);
	free(u->history);
	free(u->points);
	free(u->best_points);
	memset(u, 0, sizeof *u);
}

/* Scores the period's points of the current series against its history (insights.h). */
static int usage_score(struct usage *u, struct usage_row *row, struct err *e)
{
	size_t row_index = (size_t)(row - u->rows);
	if (stats_robust(u->history, u->history_n, &row->robust, e) < 0)
		return err_prefix(e, "usage of \"%s\" \"%s\" \"%s\"", row->customer, row->product_code,
				  row->dimension);
	insights_band_of(&row->robust, &row->band);
	row->scored = 1;
	for (size_t i = 0; i < u->points_n; i++) {
		const struct point *p = &u->points[i];
		int64_t score = insights_score_tenths(&row->robust, &row->band, p->quantity);
		if (score > row->max_score_tenths)
			row->max_score_tenths = score;
		if (!insights_is_anomaly(&row->band, p->quantity))
			continue;
		struct anomaly *a = grow(u->anomalies, &u->anomalies_cap, u->anomalies_n + 1, sizeof *a, e);
		if (!a)
			return -1;
		u->anomalies = a;
		u->anomalies[u->anomalies_n++] = (struct anomaly){ row_index, p->hour_us, p->quantity, score, 1 };
		row->anomalies++;
	}
	row->status = row->anomalies > 0 ? "ANOMALY" : "OK";
	return 0;
}

/* Ends the current series: its row gets the statistics; the chart keeps the most anomalous. */
static int usage_finish_series(struct usage *u, struct err *e)
{
	struct usage_row *row = &u->rows[u->rows_n - 1];
	ASSERT(u->points_n > 0); /* a series exists because it has usage in the period */
	row->history_points = (int64_t)u->history_n;
	row->history_days = u->history_days;
	row->period_points = (int64_t)u->points_n;
	row->observed_min = row->observed_max = u->points[0].quantity;
	for (size_t i = 1; i < u->points_n; i++) {
		if (u->points[i].quantity < row->observed_min)
			row->observed_min = u->points[i].quantity;
		if (u->points[i].quantity > row->observed_max)
			row->observed_max = u->points[i].quantity;
	}
	if (u->history_n < INSIGHTS_HISTORY_POINTS_MIN || u->history_days < INSIGHTS_HISTORY_DAYS_MIN) {
		row->status = "NOT_ENOUGH_HISTORY"; /* a note, never an exception */
	} else if (usage_score(u, row, e) < 0) {
		return -1;
	}
	if (row->anomalies > 0 &&
	    (u->best_row == SIZE_MAX || row->max_score_tenths > u->rows[u->best_row].max_score_tenths)) {
		u->best_row = u->rows_n - 1;
		memcpy(u->best_points, u->points, u->points_n * sizeof *u->points);
		u->best_points_n = u->points_n;
	}
	return 0;
}

/* Starts a series. The strings are copied; agreement_id and offer_id may be NULL (none). */
static int usage_start_series(struct usage *u, const char *customer, const char *product_code, const char *dimension,
			      const char *agreement_id, const char *offer_id, struct err *e)
{
	struct usage_row *rows = grow(u->rows, &u->rows_cap, u->rows_n + 1, sizeof *rows, e);
	if (!rows)
		return -1;
	u->rows = rows;
	struct usage_row *row = &u->rows[u->rows_n++];
	memset(row, 0, sizeof *row);
	if (dup_opt(customer, &row->customer, e) < 0 || dup_opt(product_code, &row->product_code, e) < 0 ||
	    dup_opt(dimension, &row->dimension, e) < 0 || dup_opt(agreement_id, &row->agreement_id, e) < 0 ||
	    dup_opt(offer_id, &row->offer_id, e) < 0)
		return -1;
	ASSERT(row->customer && row->product_code && row->dimension);
	u->history_n = 0;
	u->history_days = 0;
	u->points_n = 0;
	return 0;
}

/* One hour of the current series (its records summed), in hour order: history first. */
static void usage_take_hour(struct usage *u, int64_t hour_us, int64_t quantity)
{
	ASSERT(u->rows_n > 0);
	ASSERT(u->history_n + u->points_n < INSIGHTS_SERIES_POINTS_MAX); /* distinct hours of 13 months */
	if (hour_us < u->period_start_us) {
		ASSERT(u->points_n == 0); /* sorted by hour: history first */
		int32_t day = time_day_of(hour_us);
		if (u->history_n == 0 || day != u->history_last_day)
			u->history_days++;
		u->history_last_day = day;
		u->history[u->history_n++] = quantity;
	} else {
		u->points[u->points_n++] = (struct point){ hour_us, quantity };
	}
}

/* ---------------------------------------------------------------------------------------------
 * Usage: reading the records
 *
 * The Success records of the window (the history's first month to the period's end) arrive in one
 * `COPY (SELECT ...) TO STDOUT (FORMAT binary)`, in whatever order the server reads them: no GROUP
 * BY, no ORDER BY (at 5M records the server's grouping and sorting spilled to disk and took a
 * minute). Binary, because at millions of rows printing and parsing text costs more than the scan:
 * text fields arrive unescaped, the usage hour as the server's integer microseconds.
 *
 * C interns each series in a hash table and appends each record (10 bytes: quantity and hour) to
 * its series' array. After the stream it sorts the series in byte order of their key (the C
 * collation), sums each scored series' records per hour in an array indexed by the hour of the
 * window (so the records need no sorting), and feeds the hours in order to the per-series code
 * above: history first, then the period.
 *
 * A pass holds at most a budget of points (INSIGHTS_POINTS_PER_PASS; records, and a few per
 * series). When the table's row estimate exceeds it, or the one pass overflows it anyway (the
 * estimate was stale), the records are counted per series and read in several passes, each over
 * a contiguous range of series keys, in key order, so that the rows come out as from one pass.
 */

#define US_PER_HOUR INT64_C(3600000000)
#define PG_EPOCH_US INT64_C(946684800000000) /* 2000-01-01, PostgreSQL's epoch, in Unix microseconds */

enum { R_CUSTOMER, R_PRODUCT_CODE, R_DIMENSION, R_AGREEMENT, R_HOUR, R_QUANTITY, R_N };

/* One row of a binary COPY: fields point into libpq's buffer, with their lengths; at[i] is where
 * field i's length word starts (at[R_N]: the row's end), so at[0]..at[3] is the series key as
 * sent: three length-prefixed strings, which no other key can spell. */
struct bin_in {
	struct db *db;
	char *msg;                      /* libpq's buffer for the current row (freed on next/end) */
	const unsigned char *field[R_N]; /* NULL for SQL NULL */
	int32_t len[R_N];
	const unsigned char *at[R_N + 1];
	int header_done;
	int active;                     /* the COPY has not ended yet */
};

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static int bin_in_begin(struct bin_in *in, struct db *db, const char *copy_sql, struct err *e)
{
	memset(in, 0, sizeof *in);
	in->db = db;
	int binary;
	if (db_copy_out_begin(db, copy_sql, &binary, e) < 0)
		return -1;
	in->active = 1;
	ASSERT(binary); /* the statement says FORMAT binary */
	return 0;
}

/* The end of the COPY: its own result says whether the query succeeded. */
static int bin_in_finish(struct bin_in *in, struct err *e)
{
	in->active = 0;
	return db_copy_out_finish(in->db, e);
}

/* Reads and discards whatever is left (after an error, or a pass that is full). */
static void bin_in_end(struct bin_in *in)
{
	if (in->msg) {
		PQfreemem(in->msg);
		in->msg = NULL;
	}
	if (!in->active)
		return;
	db_copy_out_discard(in->db);
	bin_in_finish(in, NULL);
}

static int bin_in_bad(struct bin_in *in, struct err *e)
{
	err_set(e, EXIT_FAILED, "database: a binary COPY row of the usage records is malformed");
	bin_in_end(in);
	return -1;
}

/* 1 with the next row in in->field, 0 at the end (the COPY's status checked), -1 on error. Each
 * CopyData message of COPY TO is one row; the file header comes with the first one, the trailer
 * (field count -1) last. */
static int bin_in_next(struct bin_in *in, struct err *e)
{
	static const char signature[11] = "PGCOPY\n\377\r\n"; /* with its NUL: 11 bytes */
	for (;;) {
		if (in->msg) {
			PQfreemem(in->msg);
			in->msg = NULL;
		}
		if (!in->active)
			return 0;
		char *buf = NULL;
		int n = PQgetCopyData(db_conn(in->db), &buf, 0);
		if (n == -1)
			return bin_in_finish(in, e) < 0 ? -1 : 0;
		if (n < 0) {
			err_set(e, EXIT_FAILED, "database: could not read COPY data: %s",
				PQerrorMessage(db_conn(in->db)));
			bin_in_end(in);
			return -1;
		}
		in->msg = buf;
		const unsigned char *p = (const unsigned char *)buf, *end = p + n;
		if (!in->header_done) { /* signature, flags, extension length, extension */
			if (end - p < 19 || memcmp(p, signature, sizeof signature) != 0 ||
			    end - p - 19 < (int64_t)be32(p + 15))
				return bin_in_bad(in, e);
			p += 19 + be32(p + 15);
			in->header_done = 1;
		}
		if (end - p < 2)
			return bin_in_bad(in, e);
		int16_t fields = (int16_t)(p[0] << 8 | p[1]);
		p += 2;
		if (fields == -1 && p == end)
			continue; /* the trailer: the next call ends the COPY */
		if (fields != R_N)
			return bin_in_bad(in, e);
		for (int i = 0; i < R_N; i++) {
			if (end - p < 4)
				return bin_in_bad(in, e);
			in->at[i] = p;
			int32_t len = (int32_t)be32(p);
			p += 4;
			if (len < -1 || end - p < len)
				return bin_in_bad(in, e);
			in->field[i] = len < 0 ? NULL : p;
			in->len[i] = len;
			p += len < 0 ? 0 : len;
		}
		in->at[R_N] = p;
		if (p != end)
			return bin_in_bad(in, e);
		return 1;
	}
}

/* One record, kept with its series: 10 bytes (packed: a pass holds millions). */
struct urec {
	int64_t quantity;
	uint16_t hour;    /* the hour's index in the window (pass.first_hour + hour) */
} __attribute__((packed));

/* A hash slot, with what a lookup compares, so that it touches no series (the table is read for
 * every record, and at millions of records its cache misses are what the lookups cost). */
struct pslot {
	uint32_t series;    /* index + 1, 0 = empty */
	uint32_t tag;       /* the hash's high half */
	uint32_t key_at;    /* the key in pass.keys */
	uint32_t key_len;
};

#define SERIES_AGREEMENT_SHORT 32

/* A series met in a pass. Its customer, product_code and dimension are in its key. */
struct pseries {
	struct pslot slot;  /* its slot's content: index, tag and key (in pass.keys) */
	uint64_t hash;
	/* The smallest non-empty agreement_id of its period records (byte order), compared with most
	 * of them: kept here when short (no cache miss per record), else in agreement_long (owned). */
	size_t agreement_len; /* 0: none */
	char *agreement_long;
	char agreement_short[SERIES_AGREEMENT_SHORT];
	struct urec *recs;  /* owned: its records in the pass, in arrival order */
	size_t recs_n, recs_cap;
	int in_period;      /* it has a record in the period: it gets a row */
};

/* The records of one pass, by series. */
struct pass {
	struct pseries *series;
	size_t series_n, series_cap;
	struct pslot *slots; /* open addressing, linear probing; a power of two, at most half full */
	size_t slots_cap;
	unsigned char *keys; /* the series' keys, one after the other (compared on every record) */
	size_t keys_len, keys_cap;
	size_t used;        /* points: records, and INSIGHTS_SERIES_COST_POINTS per series */
	size_t budget;      /* points this pass may hold: beyond, it overflows */
	int overflow;       /* stopped reading at the budget */
	char *text;         /* the key of the series being scored, as three C strings */
	size_t text_cap;
	/* Scoring one series: its records summed per hour of the window, in hour order. */
	int64_t first_hour; /* the window's first hour */
	size_t hours;       /* the window's hours */
	int64_t *hour_sum;  /* by hour - first_hour */
	unsigned char *hour_seen;
};

static void pass_clear(struct pass *p)
{
	for (size_t i = 0; i < p->series_n; i++) {
		free(p->series[i].agreement_long);
		free(p->series[i].recs);
	}
	p->series_n = 0;
	p->keys_len = 0;
	if (p->slots)
		memset(p->slots, 0, p->slots_cap * sizeof *p->slots);
	p->used = 0;
	p->overflow = 0;
}

static void pass_release(struct pass *p)
{
	pass_clear(p);
	free(p->series);
	free(p->slots);
	free(p->keys);
	free(p->text);
	free(p->hour_sum);
	free(p->hour_seen);
	memset(p, 0, sizeof *p);
}

/* The window's hours, from its first instant to its end (13 months at most). */
static int pass_init(struct pass *p, int64_t window_start_us, int64_t window_end_us, struct err *e)
{
	memset(p, 0, sizeof *p);
	ASSERT(window_start_us % US_PER_HOUR == 0 && window_end_us % US_PER_HOUR == 0);
	p->first_hour = window_start_us / US_PER_HOUR;
	p->hours = (size_t)((window_end_us - window_start_us) / US_PER_HOUR);
	ASSERT(p->hours > 0 && p->hours <= INSIGHTS_SERIES_POINTS_MAX && p->hours <= UINT16_MAX);
	p->hour_sum = malloc(p->hours * sizeof *p->hour_sum); /* owned by p */
	p->hour_seen = calloc(p->hours, 1);                    /* owned by p; all 0 between series */
	if (!p->hour_sum || !p->hour_seen)
		return err_set(e, EXIT_FAILED, "insights: out of memory");
	return 0;
}

/* Appends a record to the series' array, which grows by half (at most a third of it unused). */
static int series_append(struct pseries *s, struct urec r, struct err *e)
{
	if (s->recs_n == s->recs_cap) {
		size_t cap = s->recs_cap < 4 ? 4 : s->recs_cap + s->recs_cap / 2;
		struct urec *recs = realloc(s->recs, cap * sizeof *recs); /* owned by s */
		if (!recs)
			return err_set(e, EXIT_FAILED, "insights: out of memory (%zu usage records)", cap);
		s->recs = recs;
		s->recs_cap = cap;
	}
	s->recs[s->recs_n++] = r;
	return 0;
}

/* A 64-bit hash of the key bytes, eight at a time, finished with MurmurHash3's fmix64 so that
 * the low bits (the slot) and the high half (the tag) both depend on every byte. */
static uint64_t key_hash(const unsigned char *key, size_t len)
{
	uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ len;
	uint64_t w;
	for (; len >= 8; key += 8, len -= 8) {
		memcpy(&w, key, 8);
		h = (h ^ w) * UINT64_C(0x9e3779b97f4a7c15);
		h ^= h >> 29;
	}
	w = 0;
	memcpy(&w, key, len);
	h ^= w;
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	return h ^ (h >> 33);
}

/* Doubles the slot table (at least 64 slots) and re-inserts every series. */
static int pass_rehash(struct pass *p, struct err *e)
{
	size_t cap = p->slots_cap ? p->slots_cap * 2 : 64;
	struct pslot *slots = calloc(cap, sizeof *slots); /* owned by p */
	if (!slots)
		return err_set(e, EXIT_FAILED, "insights: out of memory");
	for (size_t i = 0; i < p->series_n; i++) {
		size_t k = (size_t)p->series[i].hash & (cap - 1);
		while (slots[k].series != 0)
			k = (k + 1) & (cap - 1);
		slots[k] = p->series[i].slot;
	}
	free(p->slots);
	p->slots = slots;
	p->slots_cap = cap;
	return 0;
}

/* A NUL-terminated copy of a text field (text holds no NUL). */
static char *field_dup(const unsigned char *f, int32_t len)
{
	char *s = malloc((size_t)len + 1);
	if (s) {
		memcpy(s, f, (size_t)len);
		s[len] = '\0';
	}
	return s;
}

/* Adds the series of row `in` to p as series p->series_n: its key is the row's first three
 * fields as sent (length-prefixed, so that no other key spells the same bytes). */
static int pass_add_series(struct pass *p, const struct bin_in *in, uint64_t hash, struct err *e)
{
	ASSERT(p->series_n < UINT32_MAX - 1);
	struct pseries *series = grow(p->series, &p->series_cap, p->series_n + 1, sizeof *series, e);
	if (!series)
		return -1;
	p->series = series;
	size_t key_len = (size_t)(in->at[R_AGREEMENT] - in->at[R_CUSTOMER]);
	ASSERT(p->keys_len + key_len < UINT32_MAX); /* 4 GiB of keys is not a month's series */
	unsigned char *keys = grow(p->keys, &p->keys_cap, p->keys_len + key_len, 1, e);
	if (!keys)
		return -1;
	p->keys = keys;
	struct pseries *s = &p->series[p->series_n++];
	memset(s, 0, sizeof *s);
	s->hash = hash;
	s->slot = (struct pslot){ (uint32_t)p->series_n, (uint32_t)(hash >> 32), (uint32_t)p->keys_len,
				  (uint32_t)key_len };
	memcpy(p->keys + p->keys_len, in->at[R_CUSTOMER], key_len);
	p->keys_len += key_len;
	return 0;
}

/* The index of the series of row `in`; *added = 1 when it is new. -1 out of memory. */
static int pass_series(struct pass *p, const struct bin_in *in, uint32_t *out, int *added, struct err *e)
{
	const unsigned char *key = in->at[R_CUSTOMER];
	size_t key_len = (size_t)(in->at[R_AGREEMENT] - key);
	uint64_t hash = key_hash(key, key_len);
	if ((p->series_n + 1) * 2 > p->slots_cap && pass_rehash(p, e) < 0)
		return -1;
	uint32_t tag = (uint32_t)(hash >> 32);
	size_t k = (size_t)hash & (p->slots_cap - 1);
	for (const struct pslot *slot; (slot = &p->slots[k])->series != 0; k = (k + 1) & (p->slots_cap - 1)) {
		if (slot->tag == tag && slot->key_len == key_len &&
		    memcmp(p->keys + slot->key_at, key, key_len) == 0) {
			*out = slot->series - 1;
			*added = 0;
			return 0;
		}
	}
	if (pass_add_series(p, in, hash, e) < 0)
		return -1;
	p->slots[k] = p->series[p->series_n - 1].slot;
	*out = (uint32_t)(p->series_n - 1);
	*added = 1;
	return 0;
}

/* The series' agreement, or NULL. */
static const char *series_agreement(const struct pseries *s)
{
	if (s->agreement_len == 0)
		return NULL;
	return s->agreement_long ? s->agreement_long : s->agreement_short;
}

/* The series' agreement: the smallest non-empty agreement_id of its period records (NULL and ''
 * name none), in byte order, as min(agreement_id COLLATE "C") picks it. */
static int series_take_agreement(struct pseries *s, const unsigned char *a, int32_t len, struct err *e)
{
	if (!a || len == 0)
		return 0;
	size_t n = (size_t)len;
	if (s->agreement_len > 0) {
		int c = memcmp(a, series_agreement(s), n < s->agreement_len ? n : s->agreement_len);
		if (c > 0 || (c == 0 && n >= s->agreement_len))
			return 0;
	}
	char *copy = NULL;
	if (n >= SERIES_AGREEMENT_SHORT && !(copy = field_dup(a, len)))
		return err_set(e, EXIT_FAILED, "insights: out of memory");
	free(s->agreement_long);
	s->agreement_long = copy;
	if (!copy) {
		memcpy(s->agreement_short, a, n);
		s->agreement_short[n] = '\0';
	}
	s->agreement_len = n;
	return 0;
}

/* One streamed record. Sets p->overflow instead of taking it when the pass is full. A series
 * costs as much as INSIGHTS_SERIES_COST_POINTS records (its key, slot and arrays), so that many
 * small series are bounded too. */
static int pass_take(struct pass *p, int64_t period_start_us, const struct bin_in *in, struct err *e)
{
	if (!in->field[R_CUSTOMER] || !in->field[R_PRODUCT_CODE] || !in->field[R_DIMENSION] || !in->field[R_HOUR] ||
	    in->len[R_HOUR] != 8 || !in->field[R_QUANTITY] || in->len[R_QUANTITY] != 8)
		return err_set(e, EXIT_FAILED, "insights: a usage record has unexpected fields");
	uint32_t si = 0;
	int added = 0;
	if (pass_series(p, in, &si, &added, e) < 0)
		return -1;
	p->used += 1 + (added ? INSIGHTS_SERIES_COST_POINTS : 0);
	if (p->used > p->budget) {
		p->overflow = 1; /* the caller clears the pass, the new series with it */
		return 0;
	}
	struct pseries *s = &p->series[si];
	/* date_trunc('hour') in UTC: the floor, also before 1970. The window's bounds keep the
	 * instant within years 1..9999 (no infinity). */
	int64_t us = be64(in->field[R_HOUR]) + PG_EPOCH_US;
	int64_t hour = us / US_PER_HOUR - (us % US_PER_HOUR < 0);
	ASSERT(hour >= p->first_hour && hour < p->first_hour + (int64_t)p->hours); /* the WHERE's window */
	if (hour * US_PER_HOUR >= period_start_us) {
		s->in_period = 1;
		if (series_take_agreement(s, in->field[R_AGREEMENT], in->len[R_AGREEMENT], e) < 0)
			return -1;
	}
	return series_append(s, (struct urec){ be64(in->field[R_QUANTITY]), (uint16_t)(hour - p->first_hour) }, e);
}

/* Streams copy_sql (columns R_*, binary) into p. Stops at p->budget with p->overflow set, after
 * draining the rest of the COPY so that the connection is usable again. */
static int pass_read(struct db *db, const char *copy_sql, struct pass *p, int64_t period_start_us, struct err *e)
{
	struct bin_in in;
	if (bin_in_begin(&in, db, copy_sql, e) < 0)
		return -1;
	int st;
	while ((st = bin_in_next(&in, e)) == 1) {
		if (pass_take(p, period_start_us, &in, e) < 0) {
			bin_in_end(&in);
			return -1;
		}
		if (p->overflow) {
			bin_in_end(&in);
			return 0;
		}
	}
	bin_in_end(&in);
	return st < 0 ? -1 : 0;
}

/* Field i (R_CUSTOMER, R_PRODUCT_CODE, R_DIMENSION) of a series key. */
static const unsigned char *key_field(const unsigned char *key, int i, size_t *len)
{
	for (; i > 0; i--)
		key += 4 + be32(key);
	*len = be32(key);
	return key + 4;
}

/* A series and its key, to sort. */
struct keyed {
	const unsigned char *key; /* in pass.keys */
	struct pseries *series;
};

/* Series in byte order of (customer, product_code, dimension), field by field: bytes, then the
 * shorter first, which is strcmp's order on text (no NUL) and the C collation's. */
static int cmp_keyed(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	for (int i = R_CUSTOMER; i <= R_DIMENSION; i++) {
		size_t xn, yn;
		const unsigned char *xf = key_field(x->key, i, &xn), *yf = key_field(y->key, i, &yn);
		int c = memcmp(xf, yf, xn < yn ? xn : yn);
		if (c != 0)
			return c;
		if (xn != yn)
			return xn < yn ? -1 : 1;
	}
	return 0;
}

/* The series' customer, product_code and dimension as C strings, in p->text (valid until the
 * next call). */
static int pass_key_text(struct pass *p, const struct pseries *s, const char *out[3], struct err *e)
{
	char *text = grow(p->text, &p->text_cap, s->slot.key_len, 1, e); /* 3 NULs fit in 12 length bytes */
	if (!text)
		return -1;
	p->text = text;
	for (int i = R_CUSTOMER; i <= R_DIMENSION; i++) {
		size_t n;
		const unsigned char *f = key_field(p->keys + s->slot.key_at, i, &n);
		memcpy(text, f, n);
		text[n] = '\0';
		out[i] = text;
		text += n + 1;
	}
	return 0;
}

/* The offers by agreement (column 0, sorted in byte order): the one offer with that agreement,
 * current at as-of, or NULL. */
static const char *offer_of(const PGresult *offers, const char *agreement_id)
{
	if (!agreement_id)
		return NULL;
	int lo = 0, hi = PQntuples(offers);
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		int c = strcmp(PQgetvalue(offers, mid, 0), agreement_id);
		if (c == 0)
			return PQgetvalue(offers, mid, 1);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Scores one series from its grouped records: the records of one hour summed, hours in order. */
static int pass_score_series(struct pass *p, struct usage *u, const struct pseries *s, const PGresult *offers,
			     struct err *e)
{
	const struct urec *recs = s->recs;
	size_t lo = p->hours, hi = 0;
	int overflow = 0;
	for (size_t i = 0; i < s->recs_n; i++) {
		size_t h = recs[i].hour;
		int64_t q = recs[i].quantity;
		if (!p->hour_seen[h]) {
			p->hour_seen[h] = 1;
			p->hour_sum[h] = q;
		} else {
			overflow |= __builtin_add_overflow(p->hour_sum[h], q, &p->hour_sum[h]);
		}
		lo = h < lo ? h : lo;
		hi = h > hi ? h : hi;
	}
	const char *key[3];
	int rc = pass_key_text(p, s, key, e);
	if (rc == 0)
		rc = usage_start_series(u, key[R_CUSTOMER], key[R_PRODUCT_CODE], key[R_DIMENSION],
					series_agreement(s), offer_of(offers, series_agreement(s)), e);
	for (size_t h = lo; h <= hi && h < p->hours; h++) { /* also on errors: hour_seen is 0 again */
		if (!p->hour_seen[h])
			continue;
		p->hour_seen[h] = 0;
		if (rc == 0 && !overflow)
			usage_take_hour(u, (p->first_hour + (int64_t)h) * US_PER_HOUR, p->hour_sum[h]);
	}
	if (rc < 0)
		return -1;
	if (overflow)
		return err_set(e, EXIT_FAILED,
			       "insights: usage of \"%s\" \"%s\" \"%s\": an hour's quantities overflow bigint",
			       key[R_CUSTOMER], key[R_PRODUCT_CODE], key[R_DIMENSION]);
	return usage_finish_series(u, e);
}

/* Scores the pass's series with usage in the period, in key order, onto u->rows. */
static int pass_score(struct pass *p, struct usage *u, const PGresult *offers, struct err *e)
{
	if (p->series_n == 0)
		return 0;
	struct keyed *order = malloc(p->series_n * sizeof *order); /* owned here */
	if (!order)
		return err_set(e, EXIT_FAILED, "insights: out of memory");
	for (size_t i = 0; i < p->series_n; i++)
		order[i] = (struct keyed){ p->keys + p->series[i].slot.key_at, &p->series[i] };
	qsort(order, p->series_n, sizeof *order, cmp_keyed);
	int rc = 0;
	for (size_t i = 0; i < p->series_n && rc == 0; i++)
		if (order[i].series->in_period)
			rc = pass_score_series(p, u, order[i].series, offers, e);
	free(order);
	return rc;
}

/* The window: the history's first instant to the period's end; formatted for SQL by
 * time_format_pg (digits, '-', ':', ' ', '.', '+'). */
struct usage_window {
	int64_t history_start_us, period_end_us;
	char as_of[40], history_start[40], period_start[40], period_end[40];
};

/* The COPY of the window's Success records; with `ranged`, only the series from the lower to the
 * upper bound in pg_temp.insights_range (NULL: open). COPY takes no parameters: the instants are
 * our own formatted values, the bounds (data) travel in the table. Returns malloc'd SQL or NULL. */
static char *usage_copy_sql_of(const struct usage_window *w, int ranged)
{
	static const char key[] =
		"(m.customer_aws_account_id COLLATE \"C\", m.product_code COLLATE \"C\", m.dimension COLLATE \"C\")";
	char *sql = NULL;
	int n = asprintf(&sql,
			 "COPY (SELECT m.customer_aws_account_id, m.product_code, m.dimension, m.agreement_id,"
			 " m.usage_hour, m.quantity"
			 " FROM settle.metering_asof('%s'::timestamptz) m%s"
			 " WHERE m.status = 'Success' AND m.usage_hour >= '%s'::timestamptz"
			 " AND m.usage_hour < '%s'::timestamptz%s%s%s%s%s) TO STDOUT (FORMAT binary)",
			 w->as_of, ranged ? " CROSS JOIN pg_temp.insights_range r" : "", w->history_start,
			 w->period_end,
			 ranged ? " AND (r.lo_customer IS NULL OR " : "", ranged ? key : "",
			 ranged ? " >= (r.lo_customer, r.lo_product_code, r.lo_dimension))"
				  " AND (r.hi_customer IS NULL OR "
				: "",
			 ranged ? key : "", ranged ? " < (r.hi_customer, r.hi_product_code, r.hi_dimension))" : "");
	return n < 0 ? NULL : sql;
}

/* The budget of records per pass: INSIGHTS_POINTS_PER_PASS, or SETTLE_INSIGHTS_POINTS_PER_PASS
 * when set (tests run several passes over small fixtures). */
static int usage_budget(size_t *out, struct err *e)
{
	*out = INSIGHTS_POINTS_PER_PASS;
	const char *text = getenv("SETTLE_INSIGHTS_POINTS_PER_PASS");
	if (!text || !*text)
		return 0;
	int64_t v;
	if (rio_i64(text, &v) < 0 || v < 1)
		return err_set(e, EXIT_USAGE,
			       "SETTLE_INSIGHTS_POINTS_PER_PASS must be a positive integer, not \"%s\"", text);
	*out = (size_t)v;
	return 0;
}

/* The planner's estimate of settle.metering's rows (its statistics scaled to the table's current
 * size), which bounds the window from above; -1 when the table has no statistics yet. */
static int usage_estimate(struct db *db, int64_t *out, struct err *e)
{
	PGresult *res = db_query(db,
				 "SELECT CASE WHEN c.reltuples >= 0 AND c.relpages > 0"
				 " THEN ceil(c.reltuples / c.relpages * (pg_relation_size(c.oid)"
				 "           / current_setting('block_size')::float8))::bigint END"
				 " FROM pg_class c WHERE c.oid = 'settle.metering'::regclass",
				 0, NULL, PGRES_TUPLES_OK, e);
	if (!res)
		return -1;
	*out = -1;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		*out = cell_i64(res, 0, 0);
	PQclear(res);
	return 0;
}

/* Reads and scores every series in one pass. *overflow = 1 (nothing scored) when the window has
 * more than budget records: the estimate was low, and the caller reads it in ranges instead. */
static int usage_read_once(struct db *db, struct usage *u, const struct usage_window *w, struct pass *p,
			   const PGresult *offers, size_t budget, int *overflow, struct err *e)
{
	char *sql = usage_copy_sql_of(w, 0); /* owned here */
	if (!sql)
		return err_set(e, EXIT_FAILED, "insights: out of memory");
	p->budget = budget;
	int rc = pass_read(db, sql, p, u->period_start_us, e);
	free(sql);
	*overflow = rc == 0 && p->overflow;
	if (rc == 0 && !p->overflow)
		rc = pass_score(p, u, offers, e);
	pass_clear(p);
	return rc;
}

/* One series' key and number of records in the window (a range pass's plan). Strings borrowed. */
struct series_count {
	const char *customer, *product_code, *dimension;
	int64_t records;
};

static int cmp_series_count(const void *a, const void *b)
{
	const struct series_count *x = a, *y = b;
	int c = strcmp(x->customer, y->customer);
	if (c == 0)
		c = strcmp(x->product_code, y->product_code);
	if (c == 0)
		c = strcmp(x->dimension, y->dimension);
	return c;
}

/* Sets pg_temp.insights_range to [lo, hi) (either NULL: open). */
static int usage_set_range(struct db *db, const struct series_count *lo, const struct series_count *hi,
			   struct err *e)
{
	if (db_exec(db, "DELETE FROM pg_temp.insights_range", e) < 0)
		return -1;
	const char *params[6] = {
		lo ? lo->customer : NULL, lo ? lo->product_code : NULL, lo ? lo->dimension : NULL,
		hi ? hi->customer : NULL, hi ? hi->product_code : NULL, hi ? hi->dimension : NULL,
	};
	PGresult *res = db_query(db, "INSERT INTO pg_temp.insights_range VALUES ($1, $2, $3, $4, $5, $6)", 6, params,
				 PGRES_COMMAND_OK, e);
	if (!res)
		return -1;
	PQclear(res);
	return 0;
}

/* Reads and scores the series in passes of at most budget records (one series more when a
 * single series has more): counts the records per series, cuts the series in key order into
 * ranges, and reads each range with its own COPY. */
static int usage_read_ranges(struct db *db, struct usage *u, const struct usage_window *w, struct pass *p,
			     const PGresult *offers, size_t budget, size_t *passes, struct err *e)
{
	const char *params[3] = { w->as_of, w->history_start, w->period_end };
	PGresult *res = db_query(db,
				 "SELECT customer_aws_account_id, product_code, dimension, count(*)"
				 " FROM settle.metering_asof($1::timestamptz)"
				 " WHERE status = 'Success'"
				 "   AND usage_hour >= $2::timestamptz AND usage_hour < $3::timestamptz"
				 " GROUP BY 1, 2, 3",
				 3, params, PGRES_TUPLES_OK, e);
	if (!res)
		return -1;
	int rc = -1;
	size_t n = (size_t)PQntuples(res);
	char *sql = NULL;
	struct series_count *sc = malloc((n + 1) * sizeof *sc); /* owned here; strings borrowed from res */
	if (!sc) {
		err_set(e, EXIT_FAILED, "insights: out of memory");
		goto clear;
	}
	for (size_t i = 0; i < n; i++)
		sc[i] = (struct series_count){ PQgetvalue(res, (int)i, 0), PQgetvalue(res, (int)i, 1),
					       PQgetvalue(res, (int)i, 2), cell_i64(res, (int)i, 3) };
	qsort(sc, n, sizeof *sc, cmp_series_count);
	sql = usage_copy_sql_of(w, 1);
	if (!sql) {
		err_set(e, EXIT_FAILED, "insights: out of memory");
		goto clear;
	}
	if (db_exec(db,
		    "DROP TABLE IF EXISTS pg_temp.insights_range;"
		    "CREATE TEMP TABLE insights_range (lo_customer text, lo_product_code text, lo_dimension text,"
		    " hi_customer text, hi_product_code text, hi_dimension text) ON COMMIT DROP",
		    e) < 0)
		goto clear;
	for (size_t from = 0, to; from < n; from = to) {
		size_t points = (size_t)sc[from].records + INSIGHTS_SERIES_COST_POINTS;
		for (to = from + 1; to < n; to++) {
			size_t more = (size_t)sc[to].records + INSIGHTS_SERIES_COST_POINTS;
			if (points + more > budget)
				break;
			points += more;
		}
		/* The ranges tile the key space (the first is open below, the last above): each record
		 * is read once, whatever the counts. */
		if (usage_set_range(db, from > 0 ? &sc[from] : NULL, to < n ? &sc[to] : NULL, e) < 0)
			goto clear;
		p->budget = SIZE_MAX; /* bounded by the counts */
		(*passes)++;
		if (pass_read(db, sql, p, u->period_start_us, e) < 0 || pass_score(p, u, offers, e) < 0)
			goto clear;
		pass_clear(p);
	}
	rc = db_exec(db, "DROP TABLE pg_temp.insights_range", e);
clear:
	pass_clear(p);
	free(sql);
	free(sc);
	PQclear(res);
	return rc;
}

/* The informative offer of an agreement: the one offer current at as-of with that agreement_id,
 * when there is exactly one. Column 0 agreement_id (sorted in byte order), 1 offer_id. */
static PGresult *usage_offers(struct db *db, const struct usage_window *w, struct err *e)
{
	const char *params[1] = { w->as_of };
	return db_query(db,
			"SELECT agreement_id, min(offer_id COLLATE \"C\")"
			" FROM settle.offer_asof($1::timestamptz) WHERE agreement_id <> ''"
			" GROUP BY agreement_id HAVING count(*) = 1 ORDER BY agreement_id COLLATE \"C\"",
			1, params, PGRES_TUPLES_OK, e);
}

/* Every series with Success usage in the period, scored in key order onto u->rows. One pass when
 * the table's estimate fits the budget (and the window does), else passes over key ranges. */
static int usage_read_all(struct db *db, struct usage *u, const struct usage_window *w, size_t *passes,
			  struct err *e)
{
	size_t budget;
	int64_t estimate;
	if (usage_budget(&budget, e) < 0 || usage_estimate(db, &estimate, e) < 0)
		return -1;
	struct pass p;
	PGresult *offers = NULL; /* owned here */
	int rc = -1, overflow = 1;
	if (pass_init(&p, w->history_start_us, w->period_end_us, e) < 0 || !(offers = usage_offers(db, w, e)))
		goto release;
	if (estimate < 0 || (uint64_t)estimate <= budget) {
		(*passes)++;
		if (usage_read_once(db, u, w, &p, offers, budget, &overflow, e) < 0)
			goto release;
	}
	if (overflow && usage_read_ranges(db, u, w, &p, offers, budget, passes, e) < 0)
		goto release;
	rc = 0;
release:
	pass_release(&p);
	PQclear(offers);
	return rc;
}

/* Whether the period has no Success record as of the run: then no series is listed (only series
 * with usage in the period are, docs/insights.md) and the window need not be read at all. The
 * current month of a nightly run is often such a period, and its window holds the whole previous
 * month as history (5M records: 3 s for nothing). settle.metering_daily counts the Success records
 * of every stored file per UTC day (sql/006), and the period's bounds are whole UTC days. */
static int usage_period_empty(struct db *db, const struct usage_window *w, int *empty, struct err *e)
{
	const char *params[] = { w->as_of, w->period_start, w->period_end };
	return db_query_bool(db,
			     "SELECT NOT EXISTS (SELECT 1 FROM settle.metering_daily d"
			     " JOIN settle.ingest_file f ON f.file_id = d.file_id"
			     " WHERE f.ingested_at <= $1::timestamptz AND d.records > 0"
			     "   AND d.usage_day >= ($2::timestamptz AT TIME ZONE 'UTC')::date"
			     "   AND d.usage_day < ($3::timestamptz AT TIME ZONE 'UTC')::date)",
			     3, params, empty, e);
}

/* usage_read_all without parallel workers: the COPY's leader sends every row, which is what bounds
 * it, and gathering the rows from workers costs the leader more than the scan they take off it
 * (5M records on two cores: 4.4-5.8 s without workers, 5.8-6.3 s with). The setting of the
 * caller's transaction (reconcile makes parallel plans cheap for its own queries) comes back after. */
static int usage_read(struct db *db, struct usage *u, const struct usage_window *w, size_t *passes, struct err *e)
{
	int empty;
	if (usage_period_empty(db, w, &empty, e) < 0)
		return -1;
	if (empty)
		return 0;
	PGresult *res = db_query(db, "SELECT current_setting('max_parallel_workers_per_gather')", 0, NULL,
				 PGRES_TUPLES_OK, e);
	if (!res)
		return -1;
	char workers[32];
	snprintf(workers, sizeof workers, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (db_exec(db, "SET LOCAL max_parallel_workers_per_gather = 0", e) < 0)
		return -1;
	int rc = usage_read_all(db, u, w, passes, e);
	const char *params[1] = { workers };
	res = db_query(db, "SELECT set_config('max_parallel_workers_per_gather', $1, true)", 1, params,
		       PGRES_TUPLES_OK, rc < 0 ? NULL : e);
	if (!res)
		return -1;
	PQclear(res);
	return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Usage: writing the results
 */

static void usage_note(const struct usage *u, const struct usage_row *row, char *buf, size_t size)
{
	char period[8], median[STATS_FORMAT_MAX], mad[STATS_FORMAT_MAX];
	period_format(u->period, period);
	if (!row->scored) {
		snprintf(buf, size,
			 "not enough history to score: %" PRId64 " hourly points over %" PRId64
			 " days in the %d months before %s; at least %d over %d days are needed",
			 row->history_points, row->history_days, INSIGHTS_HISTORY_MONTHS, period,
			 INSIGHTS_HISTORY_POINTS_MIN, INSIGHTS_HISTORY_DAYS_MIN);
		return;
	}
	stats_format_quarters(row->robust.median_x4, median);
	stats_format_quarters(row->robust.mad_x4, mad);
	char head[64];
	if (row->anomalies > 0)
		snprintf(head, sizeof head, "%" PRId64 " of %" PRId64 " hours outside", row->anomalies,
			 row->period_points);
	else
		snprintf(head, sizeof head, "all %" PRId64 " hours within", row->period_points);
	snprintf(buf, size,
		 "%s the expected %" PRId64 " to %" PRId64 " (history median %s, MAD %s, %" PRId64
		 " hourly points over %" PRId64 " days before %s)",
		 head, row->band.low, row->band.high, median, mad, row->history_points, row->history_days, period);
}

static const char usage_copy_sql[] =
	"COPY settle.insight_usage (run_id, period, customer_aws_account_id, product_code, dimension,"
	" agreement_id, offer_id, status, history_points, history_days, history_median, history_mad,"
	" band_low, band_high, period_points, observed_min, observed_max, anomalies, max_score, note)"
	" FROM STDIN";

static int usage_write_rows(struct db *db, const struct usage *u, int64_t run_id, const char *period,
			    struct err *e)
{
	struct copy_out c;
	if (co_begin(&c, db, usage_copy_sql, e) < 0)
		return -1;
	int rc = 0;
	char note[INSIGHTS_TEXT_MAX];
	for (size_t i = 0; i < u->rows_n && rc == 0; i++) {
		const struct usage_row *row = &u->rows[i];
		co_i64(&c, run_id);
		co_text(&c, period);
		co_text(&c, row->customer);
		co_text(&c, row->product_code);
		co_text(&c, row->dimension);
		co_text(&c, row->agreement_id);
		co_text(&c, row->offer_id);
		co_text(&c, row->status);
		co_i64(&c, row->history_points);
		co_i64(&c, row->history_days);
		if (row->scored) {
			co_quarters(&c, row->robust.median_x4);
			co_quarters(&c, row->robust.mad_x4);
			co_i64(&c, row->band.low);
			co_i64(&c, row->band.high);
		} else {
			for (int k = 0; k < 4; k++)
				co_null(&c); /* median, MAD, band: not scored */
		}
		co_i64(&c, row->period_points);
		co_i64(&c, row->observed_min);
		co_i64(&c, row->observed_max);
		co_i64(&c, row->anomalies);
		if (row->scored)
			co_tenths(&c, row->max_score_tenths);
		else
			co_null(&c);
		usage_note(u, row, note, sizeof note);
		co_text(&c, note);
		rc = co_end_row(&c, e);
	}
	return co_finish(&c, rc, e);
}

static const char exception_copy_sql[] =
	"COPY settle.exception (run_id, period, code, reference, seq, recipient_account_id, agreement_id,"
	" offer_id, currency, expected_micros, actual_micros, difference_micros, detail) FROM STDIN";

/* The exception's reference: customer:product_code:dimension@YYYY-MM-DDTHH (UTC hour). */
static void anomaly_reference(const struct usage *u, const struct anomaly *a, char *ref, size_t ref_size)
{
	const struct usage_row *row = &u->rows[a->row];
	char hour[32];
	time_format(a->hour_us, hour); /* 2026-10-05T13:00:00Z */
	snprintf(ref, ref_size, "%s:%s:%s@%.13s", row->customer, row->product_code, row->dimension, hour);
}

/* SPEC §4.7 addition: one USAGE_ANOMALY per anomalous hour. The money columns stay NULL (a
 * quantity is not an amount); the observed quantity and the expected range are in the sentence. */
static void anomaly_detail(const struct usage *u, const struct anomaly *a, char *detail, size_t detail_size)
{
	const struct usage_row *row = &u->rows[a->row];
	char hour[32], period[8], median[STATS_FORMAT_MAX], mad[STATS_FORMAT_MAX], score[STATS_FORMAT_MAX];
	time_format(a->hour_us, hour);
	period_format(u->period, period);
	stats_format_quarters(row->robust.median_x4, median);
	stats_format_quarters(row->robust.mad_x4, mad);
	stats_format_tenths(a->score_tenths, score);
	snprintf(detail, detail_size,
		 "metered quantity %" PRId64 " in hour %.16sZ is %s the expected %" PRId64 " to %" PRId64
		 " (history median %s, MAD %s, %" PRId64 " hourly points before %s); robust score %s > %d",
		 a->quantity, hour, a->quantity > row->band.high ? "above" : "below", row->band.low, row->band.high,
		 median, mad, row->history_points, period, score, INSIGHTS_SCORE_THRESHOLD);
}

struct numbered_ref {
	char *ref;
	size_t anomaly;
};

static int cmp_numbered_ref(const void *a, const void *b)
{
	const struct numbered_ref *x = a, *y = b;
	int c = strcmp(x->ref, y->ref);
	return c ? c : (x->anomaly > y->anomaly) - (x->anomaly < y->anomaly);
}

/* The key of settle.exception includes (reference, seq). Distinct series may print the same
 * reference when their ids contain ':' or '@' ("a:b" + "c" and "a" + "b:c"): number those 1, 2, ...
 * in series order, so that such input cannot fail a run. */
static int anomalies_number(struct usage *u, struct err *e)
{
	size_t n = u->anomalies_n;
	struct numbered_ref *refs = calloc(n ? n : 1, sizeof *refs);
	int rc = -1;
	if (!refs)
		return err_set(e, EXIT_FAILED, "insights: out of memory");
	for (size_t i = 0; i < n; i++) {
		refs[i].anomaly = i;
		refs[i].ref = malloc(INSIGHTS_TEXT_MAX);
		if (!refs[i].ref) {
			err_set(e, EXIT_FAILED, "insights: out of memory");
			goto free_refs;
		}
		anomaly_reference(u, &u->anomalies[i], refs[i].ref, INSIGHTS_TEXT_MAX);
	}
	qsort(refs, n, sizeof *refs, cmp_numbered_ref);
	for (size_t k = 1; k < n; k++)
		if (strcmp(refs[k].ref, refs[k - 1].ref) == 0)
			u->anomalies[refs[k].anomaly].seq = u->anomalies[refs[k - 1].anomaly].seq + 1;
	rc = 0;
free_refs:
	for (size_t i = 0; i < n; i++)
		free(refs[i].ref);
	free(refs);
	return rc;
}

static int usage_write_exceptions(struct db *db, const struct usage *u, int64_t run_id, const char *period,
				  struct err *e)
{
	if (u->anomalies_n == 0)
		return 0;
	struct copy_out c;
	if (co_begin(&c, db, exception_copy_sql, e) < 0)
		return -1;
	int rc = 0;
	char ref[INSIGHTS_TEXT_MAX], detail[INSIGHTS_TEXT_MAX];
	for (size_t i = 0; i < u->anomalies_n && rc == 0; i++) {
		const struct anomaly *a = &u->anomalies[i];
		const struct usage_row *row = &u->rows[a->row];
		anomaly_reference(u, a, ref, sizeof ref);
		anomaly_detail(u, a, detail, sizeof detail);
		co_i64(&c, run_id);
		co_text(&c, period);
		co_text(&c, "USAGE_ANOMALY");
		co_text(&c, ref);
		co_i64(&c, a->seq);
		co_null(&c); /* recipient: a customer is not a feed recipient */
		co_text(&c, row->agreement_id);
		co_text(&c, row->offer_id);
		co_null(&c); /* currency, expected, actual, difference: not money */
		co_null(&c);
		co_null(&c);
		co_null(&c);
		co_text(&c, detail);
		rc = co_end_row(&c, e);
	}
	return co_finish(&c, rc, e);
}

static const char point_copy_sql[] =
	"COPY settle.insight_usage_point (run_id, period, customer_aws_account_id, product_code, dimension,"
	" usage_hour, quantity, band_low, band_high, score, anomaly) FROM STDIN";

static int usage_write_chart(struct db *db, const struct usage *u, int64_t run_id, const char *period,
			     struct err *e)
{
	if (u->best_row == SIZE_MAX)
		return 0;
	const struct usage_row *row = &u->rows[u->best_row];
	struct copy_out c;
	if (co_begin(&c, db, point_copy_sql, e) < 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < u->best_points_n && rc == 0; i++) {
		const struct point *p = &u->best_points[i];
		co_i64(&c, run_id);
		co_text(&c, period);
		co_text(&c, row->customer);
		co_text(&c, row->product_code);
		co_text(&c, row->dimension);
		co_instant(&c, p->hour_us);
		co_i64(&c, p->quantity);
		co_i64(&c, row->band.low);
		co_i64(&c, row->band.high);
		co_tenths(&c, insights_score_tenths(&row->robust, &row->band, p->quantity));
		co_text(&c, insights_is_anomaly(&row->band, p->quantity) ? "t" : "f");
		rc = co_end_row(&c, e);
	}
	return co_finish(&c, rc, e);
}

static int usage_compute(struct db *db, int64_t run_id, int32_t period, int64_t as_of_us,
			 struct insights_summary *out, struct err *e)
{
	struct usage u = { .period = period, .period_start_us = period_start_us(period), .best_row = SIZE_MAX };
	struct usage_window w;
	char period_text[8];
	int32_t hist_period = period - INSIGHTS_HISTORY_MONTHS;
	if (hist_period < 12) /* time_format_pg prints years from 1 */
		hist_period = 12;
	period_format(period, period_text);
	time_format_pg(as_of_us, w.as_of);
	w.history_start_us = period_start_us(hist_period);
	w.period_end_us = period_end_us(period);
	time_format_pg(w.history_start_us, w.history_start);
	time_format_pg(u.period_start_us, w.period_start);
	time_format_pg(w.period_end_us, w.period_end);
	int rc = -1;
	u.history = malloc(INSIGHTS_SERIES_POINTS_MAX * sizeof *u.history);
	u.points = malloc(INSIGHTS_SERIES_POINTS_MAX * sizeof *u.points);
	u.best_points = malloc(INSIGHTS_SERIES_POINTS_MAX * sizeof *u.best_points);
	if (!u.history || !u.points || !u.best_points) {
		err_set(e, EXIT_FAILED, "insights: out of memory");
		goto release;
	}
	double t0 = phase_now();
	size_t passes = 0;
	char phase[64];
	if (usage_read(db, &u, &w, &passes, e) < 0)
		goto release;
	snprintf(phase, sizeof phase, "usage read (%zu %s)", passes, passes == 1 ? "pass" : "passes");
	phase_print(period_text, phase, t0);
	t0 = phase_now();
	if (anomalies_number(&u, e) < 0 || usage_write_rows(db, &u, run_id, period_text, e) < 0 ||
	    usage_write_exceptions(db, &u, run_id, period_text, e) < 0 ||
	    usage_write_chart(db, &u, run_id, period_text, e) < 0)
		goto release;
	phase_print(period_text, "usage stored", t0);
	out->usage_series = (int64_t)u.rows_n;
	for (size_t i = 0; i < u.rows_n; i++) {
		out->usage_scored += u.rows[i].scored;
		out->usage_not_enough_history += !u.rows[i].scored;
		out->usage_anomalous_series += u.rows[i].anomalies > 0;
	}
	out->usage_anomalies = (int64_t)u.anomalies_n;
	rc = 0;
release:
	usage_release(&u);
	return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Payment timing
 */

/* Histogram bins of days, fixed forever (docs/insights.md): bin i holds lo[i] <= days < lo[i+1]. */
static const struct timing_bin {
	const char *label;
	int64_t lo; /* inclusive */
} timing_bins[] = {
	{ "<0", -STATS_VALUE_ABS_MAX }, { "0-7", 0 }, { "8-14", 8 }, { "15-30", 15 }, { "31-45", 31 },
	{ "46-60", 46 }, { "61-90", 61 }, { ">90", 91 },
};
#define TIMING_BINS_N (sizeof timing_bins / sizeof timing_bins[0])

static const char *const timing_measures[] = { "invoice_to_collection", "invoice_to_payout" };
#define TIMING_MEASURES_N 2

/* One sample per (measure, recipient, reference, currency, event), with its days from the
 * reference's first invoice (earliest invoice_date of its INVOICED/FORGIVEN rows, as-of) to the
 * event, in UTC calendar days:
 *   invoice_to_payout: a payout (DISBURSED DISBURSEMENT) dated in the period and not failed, for
 *     each reference among its DISBURSED lines;
 *   invoice_to_collection: a day in the period on which COLLECTED rows of the reference are dated
 *     (action_date, else invoice_date).
 * The events are reconcile's pg_temp.rc_be (reconcile_current_events): the current versions at
 * as-of, resolved once per run and shared with reconcile (resolving them again here cost 3-4 s of
 * the 6-7 s this query took per period on a million events), dates as UTC day numbers.
 * $1 period start, $2 period end (day numbers). Sorted so that each (measure, recipient,
 * currency) is one run of rows. */
static const char timing_sql[] =
	"WITH inv AS ("
	"  SELECT recipient, tref, currency, min(day) AS day"
	"  FROM pg_temp.rc_be WHERE action IN ('INVOICED', 'FORGIVEN') AND tref <> ''"
	"  GROUP BY recipient, tref, currency"
	"), payout AS ("
	"  SELECT d.recipient, d.beid, d.day"
	"  FROM pg_temp.rc_be d"
	"  WHERE d.action = 'DISBURSED' AND d.ttype = 'DISBURSEMENT' AND d.day >= $1::int AND d.day < $2::int"
	"    AND NOT EXISTS (SELECT 1 FROM pg_temp.rc_be f WHERE f.ttype = 'DISBURSEMENT_FAILURE'"
	"                    AND f.recipient = d.recipient AND f.parent_id = d.beid)"
	"), sample AS ("
	"  SELECT DISTINCT 'invoice_to_payout' AS measure, l.recipient, l.tref, l.currency, p.beid AS event_id,"
	"         p.day AS event_day"
	"  FROM payout p JOIN pg_temp.rc_be l ON l.recipient = p.recipient AND l.disb_id = p.beid"
	"  WHERE l.action = 'DISBURSED' AND l.ttype NOT IN ('DISBURSEMENT', 'DISBURSEMENT_FAILURE')"
	"  UNION"
	"  SELECT 'invoice_to_collection', c.recipient, c.tref, c.currency, '', coalesce(c.action_day, c.day)"
	"  FROM pg_temp.rc_be c"
	"  WHERE c.action = 'COLLECTED' AND coalesce(c.action_day, c.day) >= $1::int"
	"    AND coalesce(c.action_day, c.day) < $2::int"
	")"
	"SELECT s.measure, s.recipient, s.currency, s.event_day - i.day AS days"
	"  FROM sample s JOIN inv i USING (recipient, tref, currency)"
	" ORDER BY s.measure COLLATE \"C\", s.recipient COLLATE \"C\", s.currency COLLATE \"C\", days";

static const char timing_copy_sql[] =
	"COPY settle.insight_timing (run_id, period, measure, recipient_account_id, currency, samples,"
	" mean_days, median_days, p90_days, min_days, max_days) FROM STDIN";

/* Rows [from, to) of res are one (measure, recipient, currency): one settle.insight_timing row. */
static int timing_write_group(struct copy_out *c, const PGresult *res, int from, int to, const int64_t *days,
			      int64_t run_id, const char *period, struct err *e)
{
	struct stats_summary s;
	if (stats_summarize(days + from, (size_t)(to - from), &s, e) < 0)
		return -1;
	co_i64(c, run_id);
	co_text(c, period);
	co_text(c, PQgetvalue(res, from, 0));
	co_text(c, PQgetvalue(res, from, 1));
	co_text(c, PQgetvalue(res, from, 2));
	co_i64(c, (int64_t)s.n);
	co_tenths(c, s.mean_tenths);
	co_tenths(c, s.median_tenths);
	co_tenths(c, s.p90_tenths);
	co_i64(c, s.min);
	co_i64(c, s.max);
	return co_end_row(c, e);
}

static int same_group(const PGresult *res, int a, int b)
{
	for (int col = 0; col < 3; col++)
		if (strcmp(PQgetvalue(res, a, col), PQgetvalue(res, b, col)) != 0)
			return 0;
	return 1;
}

static int timing_write_stats(struct db *db, const PGresult *res, const int64_t *days, int64_t run_id,
			      const char *period, struct err *e)
{
	int n = PQntuples(res);
	if (n == 0)
		return 0;
	struct copy_out c;
	if (co_begin(&c, db, timing_copy_sql, e) < 0)
		return -1;
	int rc = 0;
	for (int from = 0, to; from < n && rc == 0; from = to) {
		for (to = from + 1; to < n && same_group(res, from, to); to++)
			;
		rc = timing_write_group(&c, res, from, to, days, run_id, period, e);
	}
	return co_finish(&c, rc, e);
}

/* Per measure, over every recipient and currency: the histogram rows and the summary's median. */
static int timing_write_histograms(struct db *db, const PGresult *res, const int64_t *days, int64_t run_id,
				   const char *period, struct insights_summary *out, struct err *e)
{
	int n = PQntuples(res);
	int64_t edges[TIMING_BINS_N + 1], counts[TIMING_BINS_N];
	for (size_t b = 0; b < TIMING_BINS_N; b++)
		edges[b] = timing_bins[b].lo;
	edges[TIMING_BINS_N] = STATS_VALUE_ABS_MAX + 1;
	struct copy_out c;
	if (co_begin(&c, db,
		     "COPY settle.insight_histogram (run_id, period, measure, bin_order, bin_label, days_min,"
		     " days_max, samples) FROM STDIN",
		     e) < 0)
		return -1;
	int rc = 0;
	int from = 0; /* rows are sorted by measure: each measure is one run */
	for (size_t m = 0; m < TIMING_MEASURES_N && rc == 0; m++) {
		int to = from;
		while (to < n && strcmp(PQgetvalue(res, to, 0), timing_measures[m]) == 0)
			to++;
		size_t k = (size_t)(to - from);
		int64_t median = 0;
		rc = stats_histogram(days + from, k, edges, TIMING_BINS_N, counts, e);
		if (rc == 0 && k > 0)
			rc = stats_quantile_tenths(days + from, k, 5, &median, e);
		for (size_t b = 0; b < TIMING_BINS_N && rc == 0; b++) {
			co_i64(&c, run_id);
			co_text(&c, period);
			co_text(&c, timing_measures[m]);
			co_i64(&c, (int64_t)b + 1);
			co_text(&c, timing_bins[b].label);
			if (b == 0)
				co_null(&c);
			else
				co_i64(&c, timing_bins[b].lo);
			if (b + 1 == TIMING_BINS_N)
				co_null(&c);
			else
				co_i64(&c, timing_bins[b + 1].lo - 1);
			co_i64(&c, counts[b]);
			rc = co_end_row(&c, e);
		}
		if (m == 0) {
			out->collection_samples = (int64_t)k;
			out->collection_median_days_tenths = median;
		} else {
			out->payout_samples = (int64_t)k;
			out->payout_median_days_tenths = median;
		}
		from = to;
	}
	ASSERT(rc < 0 || from == n); /* no other measure came back */
	return co_finish(&c, rc, e);
}

static int timing_compute(struct db *db, int64_t run_id, int32_t period, int64_t as_of_us,
			  struct insights_summary *out, struct err *e)
{
	char period_text[8], start[16], end[16];
	period_format(period, period_text);
	snprintf(start, sizeof start, "%" PRId32, time_day_of(period_start_us(period)));
	snprintf(end, sizeof end, "%" PRId32, time_day_of(period_end_us(period)));
	const char *params[2] = { start, end };
	if (reconcile_current_events(db, as_of_us, e) < 0)
		return -1;
	/* Hash joins are right at every size here; a misestimate that nests loops over a million
	 * rows takes minutes, so nested loops are off for this one query, inside the caller's
	 * transaction. */
	if (db_exec(db, "SET LOCAL enable_nestloop = off", e) < 0)
		return -1;
	PGresult *res = db_query(db, timing_sql, 2, params, PGRES_TUPLES_OK, e);
	if (db_exec(db, "SET LOCAL enable_nestloop = on", res ? e : NULL) < 0) {
		PQclear(res);
		return -1;
	}
	if (!res)
		return -1;
	int rc = -1;
	int n = PQntuples(res);
	int64_t *days = malloc(((size_t)n + 1) * sizeof *days);
	if (!days) {
		err_set(e, EXIT_FAILED, "insights: out of memory");
		goto clear;
	}
	for (int i = 0; i < n; i++)
		days[i] = cell_i64(res, i, 3);
	if (timing_write_stats(db, res, days, run_id, period_text, e) < 0 ||
	    timing_write_histograms(db, res, days, run_id, period_text, out, e) < 0)
		goto clear;
	rc = 0;
clear:
	free(days);
	PQclear(res);
	return rc;
}

/* ---------------------------------------------------------------------------------------------
 * The entry point
 */

/* A repeat within the same run replaces what the first call wrote. */
static const char *const clear_sql[] = {
	"DELETE FROM settle.insight_usage WHERE run_id = $1::bigint AND period = $2",
	"DELETE FROM settle.insight_usage_point WHERE run_id = $1::bigint AND period = $2",
	"DELETE FROM settle.insight_timing WHERE run_id = $1::bigint AND period = $2",
	"DELETE FROM settle.insight_histogram WHERE run_id = $1::bigint AND period = $2",
	"DELETE FROM settle.insight_summary WHERE run_id = $1::bigint AND period = $2",
	"DELETE FROM settle.exception WHERE run_id = $1::bigint AND period = $2 AND code = 'USAGE_ANOMALY'",
};

static int run_params(struct db *db, const char *sql, int nparams, const char *const *params, struct err *e)
{
	PGresult *res = db_query(db, sql, nparams, params, PGRES_COMMAND_OK, e);
	if (!res)
		return -1;
	PQclear(res);
	return 0;
}

static int summary_store(struct db *db, const char *run, const char *period, const struct insights_summary *s,
			 struct err *e)
{
	char v[7][24], pm[STATS_FORMAT_MAX], cm[STATS_FORMAT_MAX];
	snprintf(v[0], sizeof v[0], "%" PRId64, s->usage_series);
	snprintf(v[1], sizeof v[1], "%" PRId64, s->usage_scored);
	snprintf(v[2], sizeof v[2], "%" PRId64, s->usage_not_enough_history);
	snprintf(v[3], sizeof v[3], "%" PRId64, s->usage_anomalous_series);
	snprintf(v[4], sizeof v[4], "%" PRId64, s->usage_anomalies);
	snprintf(v[5], sizeof v[5], "%" PRId64, s->payout_samples);
	snprintf(v[6], sizeof v[6], "%" PRId64, s->collection_samples);
	stats_format_tenths(s->payout_median_days_tenths, pm);
	stats_format_tenths(s->collection_median_days_tenths, cm);
	const char *params[] = { run, period, v[0], v[1], v[2], v[3], v[4], v[5],
				 s->payout_samples > 0 ? pm : NULL, v[6], s->collection_samples > 0 ? cm : NULL };
	return run_params(db,
			  "INSERT INTO settle.insight_summary (run_id, period, usage_series, usage_scored,"
			  " usage_not_enough_history, usage_anomalous_series, usage_anomalies, payout_samples,"
			  " payout_median_days, collection_samples, collection_median_days)"
			  " VALUES ($1::bigint, $2, $3::bigint, $4::bigint, $5::bigint, $6::bigint, $7::bigint,"
			  " $8::bigint, $9::numeric, $10::bigint, $11::numeric)",
			  11, params, e);
}

int insights_compute(struct db *db, const struct config *cfg, int64_t run_id, int32_t period, int64_t as_of_us,
		     struct insights_summary *out, struct err *e)
{
	ASSERT(db != NULL && cfg != NULL && out != NULL);
	/* The caller's transaction makes a run's insights appear whole or not at all. */
	ASSERT(PQtransactionStatus(db_conn(db)) == PQTRANS_INTRANS);
	char run[24], period_text[8];
	snprintf(run, sizeof run, "%" PRId64, run_id);
	period_format(period, period_text);
	const char *params[] = { run, period_text };
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < sizeof clear_sql / sizeof clear_sql[0]; i++)
		if (run_params(db, clear_sql[i], 2, params, e) < 0)
			return err_prefix(e, "insights %s", period_text);
	if (usage_compute(db, run_id, period, as_of_us, out, e) < 0)
		return err_prefix(e, "insights %s", period_text);
	double t0 = phase_now();
	if (timing_compute(db, run_id, period, as_of_us, out, e) < 0 ||
	    summary_store(db, run, period_text, out, e) < 0)
		return err_prefix(e, "insights %s", period_text);
	phase_print(period_text, "payment timing", t0);
	ASSERT(out->usage_series == out->usage_scored + out->usage_not_enough_history);
	ASSERT(out->usage_anomalous_series <= out->usage_scored);
	return 0;
}
