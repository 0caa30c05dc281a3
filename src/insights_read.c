/* insights_read.c — reading a period's metered usage for the insights (insights_int.h).
 *
 * The window's Success records arrive in one binary COPY; C groups them by series and hour within
 * a bounded budget of memory and feeds the series, in key order, to the scoring code of
 * insights.c. docs/insights.md ("How usage is read") has the why and the measurements.
 */
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
	int64_t max_hour;   /* the newest hour of any record read (-1: none), for the horizon */
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
	p->max_hour = -1;
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
	return series_append(s, (struct urec){ pgcopy_be64(in->field[R_QUANTITY]), (uint16_t)(hour - p->first_hour) }, e);
}

/* Streams copy_sql (columns R_*, binary) into p. Stops at p->budget with p->overflow set, after
 * draining the rest of the COPY so that the connection is usable again. */
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
		key += 4 + pgcopy_be32(key);
	*len = pgcopy_be32(key);
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

/* Scores the pass's series with usage in the period, in key order, onto u->rows. */
static int pass_score(struct pass *p, struct usage *u, const struct offers *offers, struct err *e)
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
		*out = insights_cell_i64(res, 0, 0);
	PQclear(res);
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

/* Reads and scores every series in one pass. *overflow = 1 (nothing scored) when the window has
 * more than budget records: the estimate was low, and the caller reads it in ranges instead. */
static int usage_read_once(struct db *db, struct usage *u, const struct usage_window *w, struct pass *p,
			   const struct offers *offers, size_t budget, int *overflow, struct err *e)
{
	char *sql = usage_copy_sql_of(w, 0); /* owned here */
	if (!sql)
		return err_set(e, EXIT_FAILED, "insights: out of memory");
	p->budget = budget;
	int rc = pass_read(db, sql, p, u->period_start_us, e);
	free(sql);
	*overflow = rc == 0 && p->overflow;
	if (rc == 0 && !p->overflow) {
		usage_set_horizon(u, p->max_hour);
		rc = pass_score(p, u, offers, e);
	}
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
			     const struct offers *offers, size_t budget, size_t *passes, struct err *e)
{
	const char *params[3] = { w->as_of, w->history_start, w->period_end };
	PGresult *res = db_query(db,
				 "SELECT customer_aws_account_id, product_code, dimension, count(*),"
				 " floor(extract(epoch FROM max(usage_hour) - $2::timestamptz) / 3600)::bigint"
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
	int64_t max_hour = -1;
	for (size_t i = 0; i < n; i++) {
		sc[i] = (struct series_count){ PQgetvalue(res, (int)i, 0), PQgetvalue(res, (int)i, 1),
					       PQgetvalue(res, (int)i, 2), insights_cell_i64(res, (int)i, 3) };
		int64_t h = insights_cell_i64(res, (int)i, 4);
		max_hour = h > max_hour ? h : max_hour;
	}
	usage_set_horizon(u, max_hour);
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
	const struct offers *offers; /* u's */
	int rc = -1, overflow = 1;
	if (pass_init(&p, w->history_start_us, w->period_end_us, e) < 0 || usage_offers_get(db, u, w, &offers, e) < 0)
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
int usage_read(struct db *db, struct usage *u, const struct usage_window *w, size_t *passes, struct err *e)
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
