/* insights_read.c — reading a period's metered usage for the insights (insights_int.h).
 *
 * The window's Success records arrive in one binary COPY; C groups them by series and hour, holding
 * at most a budget of them in memory (the rest wait in temporary files), and feeds the series, in
 * key order, to the scoring code of insights.c. docs/insights.md ("How usage is read") has the why
 * and the measurements.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "currency.h"
#include "insights_int.h"
#include "pgcopy.h"
#include "reconcile_io.h"
#include "timeutil.h"

/* ---------------------------------------------------------------------------------------------
 * Usage: reading the records
 *
 * The Success records of the window (the history's first month to the period's end) arrive in one
 * `COPY (SELECT ...) TO STDOUT (FORMAT binary)`, in whatever order the server reads them: no GROUP
 * BY, no ORDER BY (at 5M records the server's grouping and sorting spilled to disk and took a
 * minute; its sort alone, to disk within work_mem, doubles the read). Binary, because at millions
 * of rows printing and parsing text costs more than the scan: text fields arrive unescaped, the
 * usage hour as the server's integer microseconds.
 *
 * Before it, the plan: the series of the window in byte order of their key (the C collation) with
 * their number of records, from the daily sums ingest keeps (settle.metering_daily, a few rows a
 * series and day instead of one a record), cut in that order into ranges of at most a budget of
 * points (INSIGHTS_POINTS_PER_PASS: records, and a few per series). The plan's series are interned
 * in a hash table first, so that a series' index is its rank in key order.
 *
 * During the stream, each record (10 bytes: quantity and hour) is appended to its series' array
 * when the series is in the first range, else to its range's temporary file. After the stream
 * (which also gave the horizon: the newest hour of any series), the ranges are taken in order:
 * each is loaded (the first already is), its series with usage in the period are scored in index
 * order, each summing its records per hour in an array indexed by the hour of the window (so the
 * records need no sorting) and feeding the hours in order to insights_series.c, history first;
 * then the range's records are freed. So memory holds one range of records, whatever their
 * number; the files hold the rest (14 bytes a record) until their range's turn.
 */

#define US_PER_HOUR INT64_C(3600000000)

enum { R_CUSTOMER, R_PRODUCT_CODE, R_DIMENSION, R_AGREEMENT, R_HOUR, R_QUANTITY, R_N };

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
	struct urec *recs;  /* owned: its records, in arrival order, while its range is in memory */
	size_t recs_n, recs_cap;
	uint32_t range;     /* the plan's range of the series */
	int in_period;      /* it has a record in the period: it gets a row */
};

/* A record of a range waiting its turn: its series' index and the record (14 bytes). */
struct spill_rec {
	uint32_t series;
	struct urec rec;
} __attribute__((packed));

#define SPILL_BUF_RECS 1024

/* The records of one range after the first, in a temporary file until the range is scored. */
struct spill {
	FILE *f;                /* owned; NULL until the buffer is first written out */
	struct spill_rec *buf;  /* owned: SPILL_BUF_RECS records not yet in f */
	size_t n;
};

/* The records of one pass, by series. */
struct pass {
	struct pseries *series;
	size_t series_n, series_cap;
	struct pslot *slots; /* open addressing, linear probing; a power of two, at most half full */
	size_t slots_cap;
	unsigned char *keys; /* the series' keys, one after the other (compared on every record) */
	size_t keys_len, keys_cap;
	int64_t max_hour;   /* the newest hour of any record read (-1: none), for the horizon */
	/* The plan: range r holds the series [range_start[r], range_start[r + 1]); spill[r] its
	 * records while the first range is in memory (spill[0] unused). */
	size_t *range_start; /* owned: ranges + 1 entries */
	size_t ranges, range_cap;
	struct spill *spill; /* owned: ranges entries */
	char *text;         /* the key of the series being scored, as three C strings */
	size_t text_cap;
	/* Scoring one series: its records summed per hour of the window, in hour order. */
	int64_t first_hour; /* the window's first hour */
	size_t hours;       /* the window's hours */
	int64_t *hour_sum;  /* by hour - first_hour */
	unsigned char *hour_seen;
};

static void pass_release(struct pass *p)
{
	for (size_t i = 0; i < p->series_n; i++) {
		free(p->series[i].agreement_long);
		free(p->series[i].recs);
	}
	for (size_t r = 0; p->spill && r < p->ranges; r++) {
		if (p->spill[r].f)
			fclose(p->spill[r].f); /* read only, or abandoned after an error */
		free(p->spill[r].buf);
	}
	free(p->spill);
	free(p->range_start);
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
	p->max_hour = -1;
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
	struct pseries *series = insights_grow(p->series, &p->series_cap, p->series_n + 1, sizeof *series, e);
	if (!series)
		return -1;
	p->series = series;
	size_t key_len = (size_t)(in->at[R_AGREEMENT] - in->at[R_CUSTOMER]);
	ASSERT(p->keys_len + key_len < UINT32_MAX); /* 4 GiB of keys is not a month's series */
	unsigned char *keys = insights_grow(p->keys, &p->keys_cap, p->keys_len + key_len, 1, e);
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

/* Field i (R_CUSTOMER, R_PRODUCT_CODE, R_DIMENSION) of a series key. */
static const unsigned char *key_field(const unsigned char *key, int i, size_t *len)
{
	for (; i > 0; i--)
		key += 4 + pgcopy_be32(key);
	*len = pgcopy_be32(key);
	return key + 4;
}

/* Series keys in byte order of (customer, product_code, dimension), field by field: bytes, then
 * the shorter first, which is strcmp's order on text (no NUL) and the C collation's. */
static int key_cmp(const unsigned char *x, const unsigned char *y)
{
	for (int i = R_CUSTOMER; i <= R_DIMENSION; i++) {
		size_t xn, yn;
		const unsigned char *xf = key_field(x, i, &xn), *yf = key_field(y, i, &yn);
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
	char *text = insights_grow(p->text, &p->text_cap, s->slot.key_len, 1, e); /* 3 NULs fit in 12 length bytes */
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

/* ---------------------------------------------------------------------------------------------
 * The plan: the window's series in key order, cut into ranges of at most a budget of points
 */

enum { P_CUSTOMER, P_PRODUCT_CODE, P_DIMENSION, P_RECORDS, P_N };

/* The daily sums' series of the window with their Success records, in byte order of their key
 * (the order the ranges are scored in). The day bounds are the window's: whole UTC days, like
 * usage_day. Returns malloc'd SQL or NULL. */
static char *usage_plan_sql_of(const struct usage_window *w)
{
	char *sql = NULL;
	int n = asprintf(&sql,
			 "COPY (SELECT d.customer_aws_account_id, d.product_code, d.dimension, sum(d.records)::bigint"
			 " FROM settle.metering_daily d"
			 " WHERE d.file_id IN (SELECT v.file_id FROM settle.visible_files('%s'::timestamptz) v)"
			 "   AND d.usage_day >= ('%s'::timestamptz AT TIME ZONE 'UTC')::date"
			 "   AND d.usage_day < ('%s'::timestamptz AT TIME ZONE 'UTC')::date"
			 " GROUP BY 1, 2, 3"
			 " ORDER BY d.customer_aws_account_id COLLATE \"C\", d.product_code COLLATE \"C\","
			 "          d.dimension COLLATE \"C\") TO STDOUT (FORMAT binary)",
			 w->as_of, w->history_start, w->period_end);
	return n < 0 ? NULL : sql;
}

/* One series of the plan: interned as series p->series_n (its rank in key order), in the last
 * range, or in a new one when it would take the last beyond the budget. A series costs as much as
 * INSIGHTS_SERIES_COST_POINTS records (its key, slot and arrays), so that many small series are
 * bounded too; a range has at least one series, however many records it has. */
static int plan_take(struct pass *p, const struct bin_in *in, size_t budget, size_t *points, struct err *e)
{
	if (!in->field[P_CUSTOMER] || !in->field[P_PRODUCT_CODE] || !in->field[P_DIMENSION] ||
	    !in->field[P_RECORDS] || in->len[P_RECORDS] != 8)
		return err_set(e, EXIT_FAILED, "insights: a series of the daily usage sums has unexpected fields");
	uint32_t si = 0;
	int added = 0;
	if (pass_series(p, in, &si, &added, e) < 0)
		return -1;
	ASSERT(added); /* GROUP BY: each series once */
	ASSERT(si == 0 || key_cmp(p->keys + p->series[si - 1].slot.key_at, p->keys + p->series[si].slot.key_at) < 0);
	int64_t records = pgcopy_be64(in->field[P_RECORDS]);
	ASSERT(records > 0); /* a row of the daily sums has a record */
	size_t cost = (uint64_t)records > SIZE_MAX - INSIGHTS_SERIES_COST_POINTS
			      ? SIZE_MAX
			      : (size_t)records + INSIGHTS_SERIES_COST_POINTS;
	if (p->ranges == 0 || *points > budget - (cost < budget ? cost : budget)) {
		size_t *starts = insights_grow(p->range_start, &p->range_cap, p->ranges + 2, sizeof *starts, e);
		if (!starts)
			return -1;
		p->range_start = starts;
		p->range_start[p->ranges++] = si;
		*points = 0;
	}
	*points = cost > SIZE_MAX - *points ? SIZE_MAX : *points + cost;
	p->series[si].range = (uint32_t)(p->ranges - 1);
	return 0;
}

/* Reads the plan into p: its series interned in key order, their ranges, and the ranges' spills
 * (used by the ranges after the first). */
static int pass_plan(struct db *db, const struct usage_window *w, struct pass *p, size_t budget, struct err *e)
{
	ASSERT(p->series_n == 0 && p->ranges == 0 && budget > 0);
	char *sql = usage_plan_sql_of(w); /* owned here */
	if (!sql)
		return err_set(e, EXIT_FAILED, "insights: out of memory");
	struct bin_in in;
	int rc = bin_in_begin(&in, db, sql, P_N, e), st = 0;
	free(sql);
	if (rc < 0)
		return -1;
	size_t points = 0;
	while ((st = bin_in_next(&in, e)) == 1)
		if (plan_take(p, &in, budget, &points, e) < 0)
			break;
	bin_in_end(&in);
	if (st != 0)
		return -1;
	ASSERT(p->ranges < UINT32_MAX);
	if (p->ranges == 0)
		return 0;
	p->range_start[p->ranges] = p->series_n;
	p->spill = calloc(p->ranges, sizeof *p->spill); /* owned by p; buffers on their first record */
	if (!p->spill)
		return err_set(e, EXIT_FAILED, "insights: out of memory");
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * The spill files: the records of the ranges after the first, 14 bytes each
 */

/* Writes the buffer out to the range's file (created on the first call). */
static int spill_flush(struct spill *sp, struct err *e)
{
	if (!sp->f && !(sp->f = tmpfile())) /* deleted on close, and by the kernel if settle dies */
		return err_set(e, EXIT_FAILED, "insights: could not create a temporary file: %s", strerror(errno));
	if (fwrite(sp->buf, sizeof *sp->buf, sp->n, sp->f) != sp->n)
		return err_set(e, EXIT_FAILED, "insights: could not write a temporary file: %s", strerror(errno));
	sp->n = 0;
	return 0;
}

static int spill_put(struct spill *sp, uint32_t series, struct urec r, struct err *e)
{
	if (!sp->buf && !(sp->buf = malloc(SPILL_BUF_RECS * sizeof *sp->buf))) /* owned by sp */
		return err_set(e, EXIT_FAILED, "insights: out of memory");
	if (sp->n == SPILL_BUF_RECS && spill_flush(sp, e) < 0)
		return -1;
	sp->buf[sp->n++] = (struct spill_rec){ series, r };
	return 0;
}

/* Appends one waiting record to its series (of range r). */
static int spill_append(struct pass *p, size_t r, const struct spill_rec *sr, struct err *e)
{
	ASSERT(sr->series >= p->range_start[r] && sr->series < p->range_start[r + 1]);
	return series_append(&p->series[sr->series], sr->rec, e);
}

/* Appends range r's file to its series, then closes (and so deletes) it. */
static int spill_load_file(struct pass *p, size_t r, struct err *e)
{
	struct spill *sp = &p->spill[r];
	if (fflush(sp->f) != 0 || fseek(sp->f, 0, SEEK_SET) != 0)
		return err_set(e, EXIT_FAILED, "insights: could not read back a temporary file: %s", strerror(errno));
	size_t k;
	while ((k = fread(sp->buf, sizeof *sp->buf, SPILL_BUF_RECS, sp->f)) > 0)
		for (size_t i = 0; i < k; i++)
			if (spill_append(p, r, &sp->buf[i], e) < 0)
				return -1;
	int failed = ferror(sp->f);
	fclose(sp->f);
	sp->f = NULL;
	if (failed)
		return err_set(e, EXIT_FAILED, "insights: could not read back a temporary file");
	return 0;
}

/* Loads range r's records into their series: the buffer's, then the file's (the order of a
 * series' records does not matter: they are summed per hour); the file is closed, and deleted. */
static int spill_load(struct pass *p, size_t r, struct err *e)
{
	ASSERT(r > 0 && r < p->ranges);
	struct spill *sp = &p->spill[r];
	for (size_t i = 0; i < sp->n; i++)
		if (spill_append(p, r, &sp->buf[i], e) < 0)
			return -1;
	sp->n = 0;
	if (sp->f && spill_load_file(p, r, e) < 0)
		return -1;
	free(sp->buf); /* the range is in memory now */
	sp->buf = NULL;
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * The stream
 */

/* One streamed record: to its series' array (the first range) or its range's file. */
static int pass_take(struct pass *p, int64_t period_start_us, const struct bin_in *in, struct err *e)
{
	if (!in->field[R_CUSTOMER] || !in->field[R_PRODUCT_CODE] || !in->field[R_DIMENSION] || !in->field[R_HOUR] ||
	    in->len[R_HOUR] != 8 || !in->field[R_QUANTITY] || in->len[R_QUANTITY] != 8)
		return err_set(e, EXIT_FAILED, "insights: a usage record has unexpected fields");
	uint32_t si = 0;
	int added = 0;
	if (pass_series(p, in, &si, &added, e) < 0)
		return -1;
	struct pseries *s = &p->series[si];
	if (added) { /* ingest writes a file's records and their daily sums in one transaction */
		const char *key[3];
		if (pass_key_text(p, s, key, e) < 0)
			return -1;
		return err_set(e, EXIT_FAILED,
			       "insights: usage of \"%s\" \"%s\" \"%s\" has Success records but no daily sums in"
			       " settle.metering_daily",
			       key[R_CUSTOMER], key[R_PRODUCT_CODE], key[R_DIMENSION]);
	}
	/* date_trunc('hour') in UTC: the floor, also before 1970. The window's bounds keep the
	 * instant within years 1..9999 (no infinity). */
	int64_t us = pgcopy_be64(in->field[R_HOUR]) + COPY_PG_EPOCH_US;
	int64_t hour = us / US_PER_HOUR - (us % US_PER_HOUR < 0);
	ASSERT(hour >= p->first_hour && hour < p->first_hour + (int64_t)p->hours); /* the WHERE's window */
	if (hour - p->first_hour > p->max_hour)
		p->max_hour = hour - p->first_hour;
	if (hour * US_PER_HOUR >= period_start_us) {
		s->in_period = 1;
		if (series_take_agreement(s, in->field[R_AGREEMENT], in->len[R_AGREEMENT], e) < 0)
			return -1;
	}
	struct urec r = { pgcopy_be64(in->field[R_QUANTITY]), (uint16_t)(hour - p->first_hour) };
	if (s->range == 0)
		return series_append(s, r, e);
	return spill_put(&p->spill[s->range], si, r, e);
}

/* Streams copy_sql (columns R_*, binary) into p; on an error, drains the rest of the COPY so
 * that the connection is usable again. */
static int pass_read(struct db *db, const char *copy_sql, struct pass *p, int64_t period_start_us, struct err *e)
{
	struct bin_in in;
	if (bin_in_begin(&in, db, copy_sql, R_N, e) < 0)
		return -1;
	int st;
	while ((st = bin_in_next(&in, e)) == 1) {
		if (pass_take(p, period_start_us, &in, e) < 0) {
			bin_in_end(&in);
			return -1;
		}
	}
	bin_in_end(&in);
	return st < 0 ? -1 : 0;
}

/* The row of the offers by agreement: the one offer with that agreement, current at as-of; -1. */
int usage_offer_row(const PGresult *offers, const char *agreement_id)
{
	if (!agreement_id)
		return -1;
	int lo = 0, hi = PQntuples(offers);
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		int c = strcmp(PQgetvalue(offers, mid, 0), agreement_id);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

int usage_offer_currency(const struct offers *o, int row, struct usage_price *out)
{
	const char *currency = PQgetvalue(o->offers, row, 2);
	int minor = currency_minor_units(currency, strlen(currency));
	if (minor < 0 || strlen(currency) != 3)
		return 0; /* an unknown currency: no amount can be formatted */
	memcpy(out->currency, currency, 4);
	out->minor_units = minor;
	return 1;
}

/* Scores one series from its grouped records: the records of one hour summed, hours in order. */
static int pass_score_series(struct pass *p, struct usage *u, const struct pseries *s, const struct offers *offers,
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
	int orow = usage_offer_row(offers->offers, series_agreement(s));
	struct usage_price price;
	int has_price = rc == 0 && orow >= 0 && usage_offer_currency(offers, orow, &price);
	if (rc == 0)
		rc = usage_start_series(u, key[R_CUSTOMER], key[R_PRODUCT_CODE], key[R_DIMENSION],
					series_agreement(s), orow >= 0 ? PQgetvalue(offers->offers, orow, 1) : NULL,
					has_price ? &price : NULL, e);
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

/* Scores range r's series with usage in the period, in key order (their index), onto u->rows,
 * and frees the range's records. */
static int pass_score_range(struct pass *p, struct usage *u, const struct offers *offers, size_t r, struct err *e)
{
	int rc = 0;
	for (size_t i = p->range_start[r]; i < p->range_start[r + 1]; i++) {
		struct pseries *s = &p->series[i];
		if (rc == 0 && s->in_period)
			rc = pass_score_series(p, u, s, offers, e);
		free(s->recs);
		s->recs = NULL;
		s->recs_n = s->recs_cap = 0;
	}
	return rc;
}

/* The COPY of the window's Success records. COPY takes no parameters: the instants are our own
 * formatted values. Returns malloc'd SQL or NULL. */
static char *usage_copy_sql_of(const struct usage_window *w)
{
	char *sql = NULL;
	int n = asprintf(&sql,
			 "COPY (SELECT m.customer_aws_account_id, m.product_code, m.dimension, m.agreement_id,"
			 " m.usage_hour, m.quantity"
			 " FROM settle.metering_asof('%s'::timestamptz) m"
			 " WHERE m.status = 'Success' AND m.usage_hour >= '%s'::timestamptz"
			 " AND m.usage_hour < '%s'::timestamptz) TO STDOUT (FORMAT binary)",
			 w->as_of, w->history_start, w->period_end);
	return n < 0 ? NULL : sql;
}

/* The budget of points per range: INSIGHTS_POINTS_PER_PASS, or SETTLE_INSIGHTS_POINTS_PER_PASS
 * when set (tests cut small fixtures into ranges of one series or a few). */
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

/* The horizon: the end of the hours scored (docs/insights.md, "Horizon"). Usage is complete up to
 * the newest hour of any series' records in the window (max_hour, window-relative; -1: none):
 * when that is the period's last hour, the whole period is scored; otherwise (a month still
 * running) the newest INSIGHTS_HORIZON_LAG_HOURS hours are left out too, as records of the other
 * series may still be on their way, and their absence must not read as an outage. */
static void usage_set_horizon(struct usage *u, int64_t max_hour)
{
	int64_t end = max_hour + 1;
	if (end < (int64_t)u->pe)
		end -= INSIGHTS_HORIZON_LAG_HOURS;
	if (end < (int64_t)u->ps)
		end = (int64_t)u->ps;
	ASSERT(end <= (int64_t)u->pe);
	u->horizon = (size_t)end;
}

/* The offer of an agreement: the one offer of settle.offer_terms_asof (the terms reconcile matches
 * usage against, SPEC §3.2: the feeds' agreements completed by the offer file) with that
 * agreement_id, when there is exactly one (column 0 agreement_id, sorted in byte order, 1
 * offer_id, 2 its currency); and the usage prices reconcile prices the period with
 * (usage_prices.h): the offers' prices and the agreements' of each day of the period. */
int usage_offers_get(struct db *db, struct usage *u, const struct usage_window *w, const struct offers **out,
		     struct err *e)
{
	if (u->offers) {
		*out = u->offers;
		return 0;
	}
	struct offers *o = calloc(1, sizeof *o); /* owned by u: usage_offers_release */
	if (!o)
		return err_set(e, EXIT_FAILED, "insights: out of memory");
	const char *params[1] = { w->as_of };
	o->offers = db_query(db,
			     "SELECT agreement_id, min(offer_id COLLATE \"C\"), min(currency COLLATE \"C\")"
			     " FROM settle.offer_terms_asof($1::timestamptz) WHERE agreement_id <> ''"
			     " GROUP BY agreement_id HAVING count(*) = 1 ORDER BY agreement_id COLLATE \"C\"",
			     1, params, PGRES_TUPLES_OK, e);
	if (!o->offers || usage_prices_load_dims(db, w->as_of, &o->prices, e) < 0 ||
	    usage_prices_load_days(db, w->as_of, time_day_of(u->period_start_us), time_day_of(w->period_end_us),
				   &o->prices, e) < 0) {
		PQclear(o->offers);
		usage_prices_clear(&o->prices);
		free(o);
		return -1;
	}
	u->offers = o;
	*out = o;
	return 0;
}

void usage_offers_release(struct usage *u)
{
	struct offers *o = u->offers;
	if (!o)
		return;
	PQclear(o->offers);
	usage_prices_clear(&o->prices);
	free(o);
	u->offers = NULL;
}

/* Every series with Success usage in the period, scored in key order onto u->rows: the plan, one
 * stream of the records, then the ranges one after the other; *ranges is their number. */
static int usage_read_all(struct db *db, struct usage *u, const struct usage_window *w, size_t *ranges,
			  struct err *e)
{
	size_t budget;
	if (usage_budget(&budget, e) < 0)
		return -1;
	struct pass p;
	const struct offers *offers; /* u's */
	char *sql = NULL;            /* owned here */
	int rc = -1;
	if (pass_init(&p, w->history_start_us, w->period_end_us, e) < 0 || usage_offers_get(db, u, w, &offers, e) < 0 ||
	    pass_plan(db, w, &p, budget, e) < 0)
		goto release;
	if (!(sql = usage_copy_sql_of(w))) {
		err_set(e, EXIT_FAILED, "insights: out of memory");
		goto release;
	}
	if (pass_read(db, sql, &p, u->period_start_us, e) < 0)
		goto release;
	usage_set_horizon(u, p.max_hour);
	for (size_t r = 0; r < p.ranges; r++)
		if ((r > 0 && spill_load(&p, r, e) < 0) || pass_score_range(&p, u, offers, r, e) < 0)
			goto release;
	*ranges = p.ranges;
	rc = 0;
release:
	free(sql);
	pass_release(&p);
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
			     " WHERE d.file_id IN (SELECT v.file_id FROM settle.visible_files($1::timestamptz) v)"
			     "   AND d.records > 0"
			     "   AND d.usage_day >= ($2::timestamptz AT TIME ZONE 'UTC')::date"
			     "   AND d.usage_day < ($3::timestamptz AT TIME ZONE 'UTC')::date)",
			     3, params, empty, e);
}

/* usage_read_all without parallel workers: the COPY's leader sends every row, which is what bounds
 * it, and gathering the rows from workers costs the leader more than the scan they take off it
 * (5M records on two cores: 4.4-5.8 s without workers, 5.8-6.3 s with). The setting of the
 * caller's transaction (reconcile makes parallel plans cheap for its own queries) comes back after. */
int usage_read(struct db *db, struct usage *u, const struct usage_window *w, size_t *ranges, struct err *e)
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
	int rc = usage_read_all(db, u, w, ranges, e);
	const char *params[1] = { workers };
	res = db_query(db, "SELECT set_config('max_parallel_workers_per_gather', $1, true)", 1, params,
		       PGRES_TUPLES_OK, rc < 0 ? NULL : e);
	if (!res)
		return -1;
	PQclear(res);
	return rc;
}
