/* reconcile_usage.c — SPEC §4.6: metering against billing for the usage month = the period.
 *
 * PostgreSQL sums the month's Success records per (agreement, customer, product code, dimension,
 * day) — quantities are integers, not money, and a day is the finest grain offer validity needs —
 * and streams those sums here. C assigns each to its USAGE offer (match.c), prices them per
 * dimension (round(Σ quantity × unit_price), SPEC §4.6), and compares with what the offers' charge
 * groups billed (summed by reconcile_groups.c into rc->billed).
 *
 * The unit price of a day's usage is the one of the agreement term revision valid on that day
 * (settle.agreement_usage_prices, sql/020), as the marketplace's reference queries join the
 * agreement revision valid on the usage date; a price the offer_dimension file states wins
 * (SPEC §3.3). Within a dimension the exact products quantity × price of every day are summed and
 * rounded once, so a price that changes mid-month is still round(Σ quantity × unit_price).
 * docs/reconcile.md "Prices by day".
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "reconcile_int.h"
#include "reconcile_text.h"
#include "timeutil.h"
#include "usage.h"

/* The month's Success metering, from the daily sums kept at ingest (sql/006_metering_daily.sql):
 * the rows of files ingested at or before as-of, as settle.metering_asof would give them. */
static const char meter_sql[] =
	"CREATE TEMP TABLE rc_meter ON COMMIT DROP AS"
	" SELECT d.agreement_id AS agreement, settle.account_ident(d.customer_aws_account_id, ma.account_key) AS customer,"
	"        d.product_code,"
	"        d.dimension, (d.usage_day - DATE '1970-01-01') AS day, sum(d.quantity)::bigint AS quantity,"
	"        sum(d.records)::bigint AS records"
	" FROM settle.metering_daily d"
	/* SPEC §1: the customer as its identity (the account map of the run, sql/016) */
	" LEFT JOIN settle.rc_account ma ON ma.id = settle.account_pad(d.customer_aws_account_id)"
	" WHERE d.file_id IN (SELECT v.file_id FROM settle.visible_files($1::timestamptz) v)"
	"   AND d.usage_day >= $2::date AND d.usage_day < $3::date"
	" GROUP BY 1, 2, 3, 4, 5";

static const char meter_copy_sql[] =
	"COPY (SELECT agreement, customer, product_code, dimension, day, quantity, records FROM pg_temp.rc_meter"
	" ORDER BY agreement COLLATE \"C\", customer COLLATE \"C\", product_code COLLATE \"C\","
	"          dimension COLLATE \"C\", day) TO STDOUT";

enum { M_AGREEMENT, M_CUSTOMER, M_CODE, M_DIMENSION, M_DAY, M_QUANTITY, M_RECORDS, M_N };

#define USAGE_MONTH_DAYS_MAX 31
#define USAGE_PRICE_SEGS 4
#define RECORD_DAYS_TEXT (8 * 12 + 32)

/* Metered quantity of one (offer, dimension), or of one (customer, product code, dimension) that
 * no single offer claims. */
struct usage_acc {
	size_t offer;           /* claimed: the offer index */
	char *customer, *code;  /* unclaimed */
	char *dimension;
	size_t offers_n;        /* unclaimed: 0 (none) or the most offers that could claim it */
	int64_t quantity;       /* metered: units; recorded: micros of a unit */
	int64_t records;
	int64_t day_qty[USAGE_MONTH_DAYS_MAX]; /* the same, per day of the month (claimed and recorded) */
	/* Prices by day (claimed and recorded): the usage priced at the agreement term revision valid
	 * on its day, summed unrounded in micros; `unpriced` the quantity of days without such a price
	 * (the offer's price applies, offer_dims), `bad` a day's price that is no exact number of
	 * micros. Segments: the distinct prices used, for metering_result.price_note. */
	int64_t value_micros, unpriced;
	const char *bad;        /* borrowed from rc->prices.days */
	int day_priced;         /* some usage has a day's price */
	struct price_seg {
		int64_t price_micros, quantity;
		int32_t first_day, last_day;
	} seg[USAGE_PRICE_SEGS];
	size_t segs;            /* may exceed USAGE_PRICE_SEGS: those are not itemised */
};

struct usage_set {
	struct rio_map map;
	struct usage_acc *acc;
	size_t n, cap;
	/* recorded only: the last day of the month the three-way check compares (read_recorded) */
	int32_t through_day;
};

static void usage_set_free(struct usage_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->acc[i].customer);
		free(s->acc[i].code);
		free(s->acc[i].dimension);
	}
	free(s->acc);
	rio_map_free(&s->map);
}

static struct usage_acc *usage_slot(struct usage_set *s, const char *key, struct err *e)
{
	size_t id;
	int added;
	if (rio_map_put(&s->map, key, &id, &added, e) < 0)
		return NULL;
	if (added) {
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 64;
			struct usage_acc *a = realloc(s->acc, cap * sizeof *a);
			if (!a) {
				err_set(e, EXIT_FAILED, "out of memory");
				return NULL;
			}
			s->acc = a;
			s->cap = cap;
		}
		ASSERT(id == s->n);
		memset(&s->acc[s->n++], 0, sizeof s->acc[0]);
	}
	return &s->acc[id];
}

/* After the array was sorted: the map again from each accumulator's key, so that acc_find finds
 * them at their new places. */
static int usage_set_reindex(struct usage_set *s, struct err *e)
{
	rio_map_free(&s->map);
	memset(&s->map, 0, sizeof s->map);
	for (size_t i = 0; i < s->n; i++) {
		char key[1024];
		size_t id;
		int added;
		int n = snprintf(key, sizeof key, "%zu\x1f%s", s->acc[i].offer, s->acc[i].dimension);
		if (n < 0 || (size_t)n >= sizeof key)
			return err_set(e, EXIT_FAILED, "a metering key is too long");
		if (rio_map_put(&s->map, key, &id, &added, e) < 0)
			return -1;
		ASSERT(added && id == i);
	}
	return 0;
}

static int acc_add(struct usage_acc *a, int64_t quantity, int64_t records, struct err *e)
{
	if (__builtin_add_overflow(a->quantity, quantity, &a->quantity) ||
	    __builtin_add_overflow(a->records, records, &a->records))
		return err_set(e, EXIT_FAILED, "metered quantities overflow");
	return 0;
}

static char *dup_or_fail(const char *s, int *failed)
{
	char *d = strdup(s ? s : "");
	if (!d)
		*failed = 1;
	return d;
}

/* ---------------------------------------------------------------------------------------------
 * Prices by day (SPEC §3.3, §4.6): rc->prices (usage_prices.h, the lookup the insights use too)
 * holds, per agreement, dimension and day of the month, the price of the agreement term revision
 * valid on that day (sql/020 settle.agreement_usage_prices), and the offers' prices.
 */

static void seg_add(struct usage_acc *a, int64_t price, int64_t quantity, int32_t day)
{
	for (size_t i = 0; i < a->segs && i < USAGE_PRICE_SEGS; i++) {
		struct price_seg *g = &a->seg[i];
		if (g->price_micros != price)
			continue;
		g->quantity += quantity; /* bounded by the accumulator's quantity, checked there */
		g->first_day = day < g->first_day ? day : g->first_day;
		g->last_day = day > g->last_day ? day : g->last_day;
		return;
	}
	if (a->segs < USAGE_PRICE_SEGS)
		a->seg[a->segs] = (struct price_seg){ price, quantity, day, day };
	a->segs++;
}

/* Prices one day's usage of agreement row `row` (quantity in units, or in micros of a unit when
 * `micros`) at the agreement's price of that day, into a; usage without a day's price (or whose
 * dimension the offer_dimension file prices) is left to the offer's price. */
static int acc_price_day(struct rc *rc, struct usage_acc *a, size_t row, const char *dimension, int32_t day,
			 int64_t quantity, int micros, struct err *e)
{
	const struct match_offer *o = &rc->offers[row];
	int k = usage_prices_day_row(&rc->prices, o->offer_id, o->agreement_id, dimension, day);
	if (k < 0) {
		if (__builtin_add_overflow(a->unpriced, quantity, &a->unpriced))
			return err_set(e, EXIT_FAILED, "offer %s: usage quantities overflow", o->offer_id);
		return 0;
	}
	a->day_priced = 1;
	const PGresult *days = rc->prices.days;
	if (PQgetisnull(days, k, USAGE_DAY_MICROS)) {
		a->bad = PQgetvalue(days, k, USAGE_DAY_PRICE);
		return 0;
	}
	int64_t price, v;
	if (rio_i64(PQgetvalue(days, k, USAGE_DAY_MICROS), &price) < 0)
		return err_set(e, EXIT_FAILED, "database: a unit price is not an integer");
	enum money_status st = micros ? money_mul_rate(price, quantity, rc->cfg->rounding, &v)
				      : money_mul_qty(price, quantity, &v);
	if (st != MONEY_OK || money_add(a->value_micros, v, &a->value_micros) != MONEY_OK)
		return err_set(e, EXIT_FAILED, "offer %s: the usage amount overflows", o->offer_id);
	seg_add(a, price, quantity, day);
	return 0;
}

/* The amount of a's usage (its exact products by day, and `unpriced` at the offer's price
 * `price`, has_price 0 when it has none), rounded once to minor units (SPEC §4.6). 0 when a
 * quantity has no usable price (*out untouched). */
static int acc_amount(const struct rc *rc, const struct usage_acc *a, int has_price, int64_t price, int micros,
		      int minor, int64_t *out, int *overflow)
{
	int64_t v = a->value_micros, w = 0;
	*overflow = 0;
	if (a->bad || (a->unpriced != 0 && !has_price))
		return 0;
	if (a->unpriced != 0) {
		enum money_status st = micros ? money_mul_rate(price, a->unpriced, rc->cfg->rounding, &w)
					      : money_mul_qty(price, a->unpriced, &w);
		if (st != MONEY_OK || money_add(v, w, &v) != MONEY_OK) {
			*overflow = 1;
			return 0;
		}
	}
	if (money_round(v, minor, rc->cfg->rounding, out) != MONEY_OK) {
		*overflow = 1;
		return 0;
	}
	return 1;
}

static int meter_row(struct rc *rc, struct usage_set *claimed, struct usage_set *unclaimed, const char *const *f,
		     struct err *e)
{
	int32_t day;
	int64_t quantity, records;
	if (!f[M_CUSTOMER] || !f[M_CODE] || !f[M_DIMENSION] || rio_i32(f[M_DAY], &day) < 0 ||
	    rio_i64(f[M_QUANTITY], &quantity) < 0 || rio_i64(f[M_RECORDS], &records) < 0)
		return err_set(e, EXIT_FAILED, "database: a metering sum lacks a key or quantity");
	size_t offer = 0;
	size_t found = match_usage_offer(rc->index, f[M_AGREEMENT], f[M_CUSTOMER], f[M_CODE], day, &offer);
	char key[1024];
	int n, failed = 0;
	struct usage_acc *a;
	size_t row = offer; /* the agreement's row: its prices by day */
	if (found == 1) {
		offer = rc->offer_head[offer]; /* an offer's agreements meter into one offer (SPEC §4.6) */
		n = snprintf(key, sizeof key, "%zu\x1f%s", offer, f[M_DIMENSION]);
		if (n < 0 || (size_t)n >= sizeof key)
			return err_set(e, EXIT_FAILED, "metering dimension \"%.64s...\" is too long", f[M_DIMENSION]);
		if (!(a = usage_slot(claimed, key, e)))
			return -1;
		if (!a->dimension) {
			a->offer = offer;
			a->dimension = dup_or_fail(f[M_DIMENSION], &failed);
		}
	} else {
		n = snprintf(key, sizeof key, "%s\x1f%s\x1f%s\x1f%d", f[M_CUSTOMER], f[M_CODE], f[M_DIMENSION], found > 1);
		if (n < 0 || (size_t)n >= sizeof key)
			return err_set(e, EXIT_FAILED, "a metering key is too long");
		if (!(a = usage_slot(unclaimed, key, e)))
			return -1;
		if (!a->dimension) {
			a->customer = dup_or_fail(f[M_CUSTOMER], &failed);
			a->code = dup_or_fail(f[M_CODE], &failed);
			a->dimension = dup_or_fail(f[M_DIMENSION], &failed);
		}
		if (found > a->offers_n)
			a->offers_n = found;
	}
	if (failed)
		return err_set(e, EXIT_FAILED, "out of memory");
	if (found == 1) {
		/* meter_sql keeps the month's days only */
		ASSERT(day >= rc->period_first_day && day < rc->period_end_day &&
		       day - rc->period_first_day < USAGE_MONTH_DAYS_MAX);
		if (__builtin_add_overflow(a->day_qty[day - rc->period_first_day], quantity,
					   &a->day_qty[day - rc->period_first_day]))
			return err_set(e, EXIT_FAILED, "metered quantities overflow");
		if (acc_price_day(rc, a, row, f[M_DIMENSION], day, quantity, 0, e) < 0)
			return -1;
	}
	return acc_add(a, quantity, records, e);
}

/* ---------------------------------------------------------------------------------------------
 * SPEC §4.6 three-way: what the marketplace recorded (the daily usage feed), per offer, dimension
 * and day of the month. A row names its offer by agreement_id, else offer_id (SPEC §4.6), found
 * through the match index as M1/M2 find a group's. Quantities are kept in micros of a unit: the
 * feed's usage_quantity is a decimal, the seller's log counts whole units; Σ is exact in SQL and
 * truncated to micros (a quantity with more than six decimals is not a unit anyone meters).
 *
 * A row without agreement_id whose offer has several agreements (several offer rows) is the
 * agreement's of that customer — its payer or end user as the buyer — on that offer, valid on the
 * usage date, when there is exactly one; the marketplace's reference query (usage_report.sql)
 * keeps such rows under the row's own offer_id and leaves the agreement "Not available". Rows no
 * single agreement claims, and rows no USAGE offer claims, are never dropped silently: they are
 * USAGE_WITHOUT_OFFER, named with their quantity, days and the agreements that could be theirs.
 */
static const char recorded_loaded_sql[] =
	"SELECT EXISTS (SELECT 1 FROM settle.sdds_daily_usage d JOIN settle.ingest_file f ON f.file_id = d.file_id"
	"               WHERE f.file_id IN (SELECT v.file_id FROM settle.visible_files($1::timestamptz) v))";
/* The sums land in a temporary table and come back as one COPY stream in a fixed order, as
 * rc_meter's do: at millions of records they are ~200k rows, which a PGresult would hold in the
 * client all at once (read_recorded keeps only their per-offer sums). */
static const char recorded_sql[] =
	"CREATE TEMP TABLE rc_recorded ON COMMIT DROP AS"
	" SELECT coalesce(u.agreement_id, '') AS agreement, coalesce(u.offer_id, '') AS offer, u.dimension_key AS dim,"
	"       (u.usage_date::date - DATE '1970-01-01') AS day, trunc(sum(u.usage_quantity) * 1000000)::bigint AS quantity,"
	"       coalesce(settle.account_ident(u.payer_account_id, mp.account_key), '') AS payer,"
	"       coalesce(settle.account_ident(u.end_user_account_id, me.account_key), '') AS end_user"
	" FROM settle.sdds_daily_usage_asof($1::timestamptz) u"
	/* SPEC §1: the customer as its identity (the account map of the run, sql/016) */
	" LEFT JOIN settle.rc_account mp ON mp.id = settle.account_pad(u.payer_account_id)"
	" LEFT JOIN settle.rc_account me ON me.id = settle.account_pad(u.end_user_account_id)"
	" WHERE u.usage_date >= $2::date AND u.usage_date < $3::date AND u.dimension_key IS NOT NULL"
	"   AND u.usage_quantity IS NOT NULL"
	" GROUP BY 1, 2, 3, 4, 6, 7";
static const char recorded_copy_sql[] =
	"COPY (SELECT agreement, offer, dim, day, quantity, payer, end_user FROM pg_temp.rc_recorded"
	" ORDER BY agreement COLLATE \"C\", offer COLLATE \"C\", dim COLLATE \"C\", day,"
	"          payer COLLATE \"C\", end_user COLLATE \"C\") TO STDOUT";

enum { U_AGREEMENT, U_OFFER, U_DIM, U_DAY, U_QUANTITY, U_PAYER, U_END_USER, U_N };

/* Recorded usage that no single agreement of a USAGE offer claims, per (offer, agreement,
 * dimension, customer): its quantity and days, and why. */
struct unattributed {
	char *offer_id, *agreement_id, *dimension, *customer;
	int64_t quantity_micros;
	uint32_t days;          /* bit d: day d of the month */
	size_t candidates;      /* agreements of that customer on the offer valid then (0, or more than 1) */
	char agreements[160];   /* the first of them, comma separated */
	int no_offer;           /* no USAGE offer has that agreement_id or offer_id */
};

struct unattributed_set {
	struct rio_map map;
	struct unattributed *u;
	size_t n, cap;
};

static void unattributed_free(struct unattributed_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->u[i].offer_id);
		free(s->u[i].agreement_id);
		free(s->u[i].dimension);
		free(s->u[i].customer);
	}
	free(s->u);
	rio_map_free(&s->map);
}

/* The offer rows [lo, hi) of offer_id (rc->offers is sorted by offer_id in byte order). */
static void offer_rows(const struct rc *rc, const char *offer_id, size_t *lo, size_t *hi)
{
	size_t l = 0, h = rc->offers_n;
	while (l < h) {
		size_t mid = l + (h - l) / 2;
		if (strcmp(rc->offers[mid].offer_id, offer_id) < 0)
			l = mid + 1;
		else
			h = mid;
	}
	*lo = l;
	while (l < rc->offers_n && strcmp(rc->offers[l].offer_id, offer_id) == 0)
		l++;
	*hi = l;
}

/* The usage agreements of offer_id valid on day whose buyer is the payer or the end user: their
 * number, the first row in *row, their ids (comma separated, truncated) in names. */
static size_t customer_agreements(const struct rc *rc, const char *offer_id, const char *payer, const char *end_user,
				  int32_t day, size_t *row, char *names, size_t names_size)
{
	size_t lo, hi, n = 0, used = 0;
	names[0] = '\0';
	offer_rows(rc, offer_id, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		const struct match_offer *o = &rc->offers[i];
		const char *b = o->buyer_account_id ? o->buyer_account_id : "";
		if (!o->usage || !b[0] || !match_offer_valid_on(o, day) || (strcmp(b, payer) != 0 && strcmp(b, end_user) != 0))
			continue;
		if (n++ == 0)
			*row = i;
		int k = snprintf(names + used, names_size - used, "%s%s", used ? ", " : "", o->agreement_id);
		if (k > 0 && (size_t)k < names_size - used)
			used += (size_t)k;
	}
	return n;
}

/* Every usage agreement of offer_id (valid or not), named, for a row that names no customer. */
static size_t all_agreements(const struct rc *rc, const char *offer_id, char *names, size_t names_size)
{
	size_t lo, hi, n = 0, used = 0;
	names[0] = '\0';
	offer_rows(rc, offer_id, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		if (!rc->offers[i].usage)
			continue;
		n++;
		int k = snprintf(names + used, names_size - used, "%s%s", used ? ", " : "", rc->offers[i].agreement_id);
		if (k > 0 && (size_t)k < names_size - used)
			used += (size_t)k;
	}
	return n;
}

static int unattributed_add(struct rc *rc, struct unattributed_set *s, const char *const *f, int32_t day, int64_t q,
			    int no_offer, size_t candidates, const char *names, struct err *e)
{
	const char *customer = f[U_PAYER][0] ? f[U_PAYER] : f[U_END_USER];
	char key[1024];
	int n = snprintf(key, sizeof key, "%s\x1f%s\x1f%s\x1f%s", f[U_OFFER], f[U_AGREEMENT], f[U_DIM], customer);
	if (n < 0 || (size_t)n >= sizeof key)
		return err_set(e, EXIT_FAILED, "a daily usage key is too long");
	size_t id;
	int added;
	if (rio_map_put(&s->map, key, &id, &added, e) < 0)
		return -1;
	if (added) {
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 16;
			struct unattributed *u = realloc(s->u, cap * sizeof *u);
			if (!u)
				return err_set(e, EXIT_FAILED, "out of memory");
			s->u = u;
			s->cap = cap;
		}
		ASSERT(id == s->n);
		struct unattributed *u = &s->u[s->n++];
		memset(u, 0, sizeof *u);
		int failed = 0;
		u->offer_id = dup_or_fail(f[U_OFFER], &failed);
		u->agreement_id = dup_or_fail(f[U_AGREEMENT], &failed);
		u->dimension = dup_or_fail(f[U_DIM], &failed);
		u->customer = dup_or_fail(customer, &failed);
		if (failed)
			return err_set(e, EXIT_FAILED, "out of memory");
		u->no_offer = no_offer;
		u->candidates = candidates;
		snprintf(u->agreements, sizeof u->agreements, "%s", names);
	}
	struct unattributed *u = &s->u[id];
	if (candidates > u->candidates) {
		u->candidates = candidates;
		snprintf(u->agreements, sizeof u->agreements, "%s", names);
	}
	ASSERT(day >= rc->period_first_day && day - rc->period_first_day < USAGE_MONTH_DAYS_MAX);
	u->days |= UINT32_C(1) << (day - rc->period_first_day);
	if (__builtin_add_overflow(u->quantity_micros, q, &u->quantity_micros))
		return err_set(e, EXIT_FAILED, "recorded usage quantities overflow");
	return 0;
}

static int read_recorded(struct rc *rc, struct usage_set *rec, struct unattributed_set *un, int *loaded,
			 struct err *e)
{
	char as_of[40], p0[11], p1[11];
	time_format_pg(rc->as_of_us, as_of);
	time_format_day(rc->period_first_day, p0);
	time_format_day(rc->period_end_day, p1);
	const char *params[] = { as_of, p0, p1 };
	if (db_query_bool(rc->db, recorded_loaded_sql, 1, params, loaded, e) < 0)
		return -1;
	if (!*loaded)
		return 0;
	if (db_exec(rc->db, "DROP TABLE IF EXISTS pg_temp.rc_recorded", e) < 0)
		return -1;
	PGresult *res = db_query(rc->db, recorded_sql, 3, params, PGRES_COMMAND_OK, e);
	if (!res)
		return -1;
	PQclear(res);
	struct rio_in in;
	if (rio_in_begin(&in, rc->db, recorded_copy_sql, e) < 0)
		return -1;
	int rc_code = -1, st;
	int32_t newest = rc->period_first_day - 1; /* the newest day the feed holds of the month */
	while ((st = rio_in_next(&in, U_N, e)) == 1) {
		int32_t day;
		int64_t q;
		const char *const *f = in.fields;
		if (!f[U_AGREEMENT] || !f[U_OFFER] || !f[U_DIM] || !f[U_DAY] || !f[U_QUANTITY] || !f[U_PAYER] ||
		    !f[U_END_USER] || rio_i32(f[U_DAY], &day) < 0 || rio_i64(f[U_QUANTITY], &q) < 0 ||
		    day < rc->period_first_day || day >= rc->period_end_day) {
			err_set(e, EXIT_FAILED, "database: a daily usage sum is out of range");
			goto done;
		}
		if (day > newest)
			newest = day;
		struct match_group g = { f[U_AGREEMENT], f[U_OFFER], "", "", "", day };
		struct match_result m;
		match_group(rc->index, &g, &m);
		if (m.status == MATCH_AMBIGUOUS_OFFER && m.rule == MATCH_RULE_M2) {
			/* the offer has several agreements and the row names none (or an unknown one) */
			char names[160];
			size_t row = 0, n = customer_agreements(rc, f[U_OFFER], f[U_PAYER], f[U_END_USER], day, &row, names,
								sizeof names);
			if (n == 1) {
				m.status = MATCH_MATCHED;
				m.offer = row;
			} else {
				if (n == 0 && !f[U_PAYER][0] && !f[U_END_USER][0])
					n = all_agreements(rc, f[U_OFFER], names, sizeof names);
				if (unattributed_add(rc, un, f, day, q, 0, n, names, e) < 0)
					goto done;
				continue;
			}
		}
		if ((m.status != MATCH_MATCHED && m.status != MATCH_CURRENCY_MISMATCH) || !rc->offers[m.offer].usage) {
			if (unattributed_add(rc, un, f, day, q, 1, 0, "", e) < 0)
				goto done;
			continue;
		}
		size_t row = m.offer;
		m.offer = rc->offer_head[m.offer];
		char key[1024];
		int n = snprintf(key, sizeof key, "%zu\x1f%s", m.offer, f[U_DIM]);
		if (n < 0 || (size_t)n >= sizeof key) {
			err_set(e, EXIT_FAILED, "a daily usage dimension is too long");
			goto done;
		}
		struct usage_acc *a = usage_slot(rec, key, e);
		if (!a)
			goto done;
		int failed = 0;
		if (!a->dimension) {
			a->offer = m.offer;
			a->dimension = dup_or_fail(f[U_DIM], &failed);
		}
		if (failed) {
			err_set(e, EXIT_FAILED, "out of memory");
			goto done;
		}
		if (__builtin_add_overflow(a->day_qty[day - rc->period_first_day], q, &a->day_qty[day - rc->period_first_day]) ||
		    acc_add(a, q, 1, e) < 0) {
			err_set(e, EXIT_FAILED, "recorded usage quantities overflow");
			goto done;
		}
		if (acc_price_day(rc, a, row, f[U_DIM], day, q, 1, e) < 0)
			goto done;
	}
	if (st < 0)
		goto done;
	/* The marketplace delivers a day's usage a day or more after the seller metered it, so while
	 * the month is young the feed ends before the log: the check compares the days the feed has
	 * delivered (to its newest usage day in the month, over every offer: a day it delivered for
	 * others and not for an offer is a day lost for that offer). Once the billing lag after the
	 * month's end has passed (usage_billing_lag_days, as UNBILLED_USAGE waits), every day counts:
	 * records the marketplace never delivered at all are then a mismatch too. */
	rec->through_day = rc->period_end_day - 1;
	if (rc->as_of_us <= period_end_us(rc->period) + (int64_t)rc->cfg->usage_billing_lag_days * TIME_US_PER_DAY &&
	    newest < rec->through_day)
		rec->through_day = newest;
	rc_code = 0;
done:
	rio_in_end(&in);
	return rc_code;
}

/* USAGE_WITHOUT_OFFER for the recorded usage no single agreement claims (read_recorded), in
 * byte order of their key; reference offer_id:YYYY-MM:dimension (SPEC §4.7). */
static int unattributed_cmp(const void *a, const void *b)
{
	const struct unattributed *x = a, *y = b;
	int c = strcmp(x->offer_id, y->offer_id);
	if (!c)
		c = strcmp(x->agreement_id, y->agreement_id);
	if (!c)
		c = strcmp(x->dimension, y->dimension);
	return c ? c : strcmp(x->customer, y->customer);
}

static int unattributed_exceptions(struct rc *rc, struct unattributed_set *s, struct err *e)
{
	if (s->n > 0)
		qsort(s->u, s->n, sizeof *s->u, unattributed_cmp);
	for (size_t i = 0; i < s->n; i++) {
		const struct unattributed *u = &s->u[i];
		char q[MONEY_FORMAT_MAX], days[RECORD_DAYS_TEXT], who[200], why[400], ref[1024], buf[RTEXT_MAX * 2];
		money_format(u->quantity_micros, 0, q);
		size_t used = 0, shown = 0, more = 0;
		days[0] = '\0';
		for (int d = 0; d < USAGE_MONTH_DAYS_MAX; d++) {
			if (!(u->days & (UINT32_C(1) << d)))
				continue;
			if (shown++ >= 8) {
				more++;
				continue;
			}
			char day[11];
			time_format_day(rc->period_first_day + d, day);
			int k = snprintf(days + used, sizeof days - used, "%s%s", used ? ", " : "", day);
			if (k > 0 && (size_t)k < sizeof days - used)
				used += (size_t)k;
		}
		if (more)
			snprintf(days + used, sizeof days - used, " and %zu more", more);
		if (u->customer[0])
			snprintf(who, sizeof who, "customer %s", u->customer);
		else
			snprintf(who, sizeof who, "no customer (payer and end user empty)");
		if (u->no_offer)
			snprintf(why, sizeof why, "no usage offer has %s%s%s%s%s", u->agreement_id[0] ? "agreement " : "",
				 u->agreement_id, u->agreement_id[0] && u->offer_id[0] ? " or " : "",
				 u->offer_id[0] ? "offer " : "", u->offer_id[0] ? u->offer_id : (u->agreement_id[0] ? "" : "an id"));
		else if (u->candidates == 0)
			snprintf(why, sizeof why, "the row names no agreement and offer %s has none of that customer valid then",
				 u->offer_id);
		else
			snprintf(why, sizeof why,
				 "the row names no agreement and offer %s has %zu usage agreements that could be its (%s), so none"
				 " is chosen", u->offer_id, u->candidates, u->agreements);
		snprintf(ref, sizeof ref, "%s:%s:%s", u->offer_id[0] ? u->offer_id : u->agreement_id, rc->period_text,
			 u->dimension);
		snprintf(buf, sizeof buf,
			 "the daily usage feed recorded %s units of dimension %s in %s (%s) for %s: %s; counted in no offer's"
			 " recorded quantity",
			 q, u->dimension, rc->period_text, days, who, why);
		struct rc_exception x = {
			.code = "USAGE_WITHOUT_OFFER",
			.reference = ref,
			.agreement_id = u->agreement_id[0] ? u->agreement_id : NULL,
			.offer_id = u->offer_id[0] ? u->offer_id : NULL,
			.detail = buf,
		};
		if (rc_exception_add(rc, &x, e) < 0)
			return -1;
	}
	return 0;
}

static int read_metering(struct rc *rc, struct usage_set *claimed, struct usage_set *unclaimed, struct err *e)
{
	char as_of[40], p0[11], p1[11];
	time_format_pg(rc->as_of_us, as_of);
	time_format_day(rc->period_first_day, p0);
	time_format_day(rc->period_end_day, p1);
	const char *params[] = { as_of, p0, p1 };
	if (db_exec(rc->db, "DROP TABLE IF EXISTS pg_temp.rc_meter", e) < 0)
		return -1;
	PGresult *res = db_query(rc->db, meter_sql, 3, params, PGRES_COMMAND_OK, e);
	if (!res)
		return -1;
	PQclear(res);
	struct rio_in in;
	if (rio_in_begin(&in, rc->db, meter_copy_sql, e) < 0)
		return -1;
	int st;
	while ((st = rio_in_next(&in, M_N, e)) == 1) {
		if (meter_row(rc, claimed, unclaimed, in.fields, e) < 0) {
			rio_in_end(&in);
			return -1;
		}
	}
	rio_in_end(&in);
	return st < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------------------------------------
 * Per offer
 */

static int acc_cmp(const void *a, const void *b)
{
	const struct usage_acc *x = a, *y = b;
	if (x->offer != y->offer)
		return x->offer < y->offer ? -1 : 1;
	return strcmp(x->dimension, y->dimension);
}

static int unclaimed_cmp(const void *a, const void *b)
{
	const struct usage_acc *x = a, *y = b;
	int c = strcmp(x->customer, y->customer);
	if (!c)
		c = strcmp(x->code, y->code);
	if (!c)
		c = strcmp(x->dimension, y->dimension);
	return c ? c : (x->offers_n > y->offers_n) - (x->offers_n < y->offers_n);
}

/* The offer's validity overlaps the month, or the month has its metering or billing. */
static int offer_in_month(const struct rc *rc, const struct match_offer *o)
{
	if (o->has_valid_from && o->valid_from_day >= rc->period_end_day)
		return 0;
	if (o->has_valid_until && o->valid_until_day < rc->period_first_day)
		return 0;
	return 1;
}

struct offer_ctx {
	const struct match_offer *o;
	size_t index;
	const struct usage_set *claimed;  /* the month's metering per (offer, dimension), with days */
	const struct usage_set *recorded; /* the daily usage feed's, or NULL when it is not loaded */
	struct rc_billed billed;          /* Σ over the offer's rows (its agreements) */
	int minor;
	int64_t tol;
	char reference[512];
	struct rio_out *days_out;         /* metering_day_result rows (sql/020), or NULL */
};

static int offer_exception(struct rc *rc, const struct offer_ctx *c, const char *code, const char *reference,
			   int has_expected, int64_t expected, int has_actual, int64_t actual, const char *detail,
			   struct err *e)
{
	struct rc_exception x = {
		.code = code,
		.reference = reference,
		.recipient_account_id = match_seller_of_record(c->o),
		.agreement_id = c->o->agreement_id,
		.offer_id = c->o->offer_id,
		.currency = c->o->currency,
		.has_expected = has_expected,
		.expected_micros = expected,
		.has_actual = has_actual,
		.actual_micros = actual,
		.detail = detail,
	};
	return rc_exception_add(rc, &x, e);
}

/* One metering_result row; status NULL means the offer's status (filled in later). */
struct dim_row {
	const char *dimension;
	int64_t quantity, records;
	int64_t recorded_micros;       /* SPEC §4.6 three-way: micros of a unit; 0 when none recorded */
	int priced;
	int64_t unit_price_micros, expected_micros;
	const char *bad_price;         /* the feed's price that is no exact amount of micros, or NULL */
	const struct usage_acc *acc;   /* its metering, or NULL */
	int has_offer_price;           /* the offer's price of the dimension (prices.dims), for usage without a day's price */
	int64_t offer_price_micros;
	char price_note[256];          /* prices by day, when more than one applied */
};

static void meter_result(struct rc *rc, const struct offer_ctx *c, const struct dim_row *d, int64_t billed,
			 const char *status)
{
	struct rio_out *o = &rc->out_meter;
	rio_int(o, rc->run_id);
	rio_text(o, rc->period_text);
	rio_text(o, c->o->offer_id);
	rio_text(o, rc->period_text);
	rio_text(o, d->dimension);
	rio_text(o, c->o->currency);
	rio_int(o, d->quantity);
	rio_int(o, d->records);
	if (c->recorded) {
		char q[MONEY_FORMAT_MAX];
		money_format(d->recorded_micros, 0, q);
		rio_text(o, q);
	} else {
		rio_null(o);
	}
	if (d->priced) {
		rio_int(o, d->unit_price_micros);
		rio_int(o, d->expected_micros);
	} else {
		rio_null(o);
		rio_null(o);
	}
	rio_int(o, billed);
	rio_text(o, d->priced ? status : "UNKNOWN_DIMENSION");
	if (d->priced && d->price_note[0])
		rio_text(o, d->price_note);
	else
		rio_null(o);
	rio_end_row(o);
}

/* "0.0025 for 150 units (2026-10-01 to 2026-10-15), 0.003 for 150 units (2026-10-16 to
 * 2026-10-31)": the prices by day of a's usage, when more than one applied; *last the price of the
 * latest day. Usage without a day's price is at the offer's price (its days not itemised). */
static void price_note_of(const struct usage_acc *a, const struct dim_row *r, char *buf, size_t size, int64_t *last)
{
	buf[0] = '\0';
	size_t n = a->segs < USAGE_PRICE_SEGS ? a->segs : USAGE_PRICE_SEGS;
	int32_t latest = INT32_MIN;
	for (size_t i = 0; i < n; i++)
		if (a->seg[i].last_day > latest) {
			latest = a->seg[i].last_day;
			*last = a->seg[i].price_micros;
		}
	size_t distinct = a->segs + (a->unpriced != 0 && r->has_offer_price);
	if (distinct < 2)
		return;
	size_t used = 0;
	for (size_t i = 0; i < n; i++) {
		char p[MONEY_FORMAT_MAX], d0[11], d1[11];
		money_format(a->seg[i].price_micros, 6, p);
		time_format_day(a->seg[i].first_day, d0);
		time_format_day(a->seg[i].last_day, d1);
		int k = snprintf(buf + used, size - used, "%s%s for %" PRId64 " units (%s to %s)", used ? ", " : "", p,
				 a->seg[i].quantity, d0, d1);
		if (k > 0 && (size_t)k < size - used)
			used += (size_t)k;
	}
	if (a->segs > n) {
		int k = snprintf(buf + used, size - used, " and %zu more prices", a->segs - n);
		if (k > 0 && (size_t)k < size - used)
			used += (size_t)k;
	}
	if (a->unpriced != 0 && r->has_offer_price) {
		char p[MONEY_FORMAT_MAX];
		money_format(r->offer_price_micros, 6, p);
		snprintf(buf + used, size - used, "%s%s for %" PRId64 " units (days without a term price)", used ? ", " : "",
			 p, a->unpriced);
	}
}

/* Walks the offer's priced dimensions (prices.dims rows [dlo, dhi)) and metered dimensions
 * (acc[alo, ahi)), both in byte order of dimension, into rows[]; returns the expected total. */
static int offer_dims(struct rc *rc, struct offer_ctx *c, int dlo, int dhi, const struct usage_acc *acc, size_t alo,
		      size_t ahi, struct dim_row *rows, size_t *nrows, int64_t *expected, struct err *e)
{
	int di = dlo;
	size_t ai = alo, n = 0;
	*expected = 0;
	while (di < dhi || ai < ahi) {
		const char *pd = di < dhi ? PQgetvalue(rc->prices.dims, di, USAGE_DIM_DIMENSION) : NULL;
		const char *md = ai < ahi ? acc[ai].dimension : NULL;
		int c0 = !pd ? 1 : !md ? -1 : strcmp(pd, md);
		struct dim_row *r = &rows[n++];
		memset(r, 0, sizeof *r);
		r->dimension = c0 <= 0 ? pd : md;
		if (c0 >= 0) {
			r->acc = &acc[ai];
			r->quantity = acc[ai].quantity;
			r->records = acc[ai].records;
			ai++;
		}
		const char *bad = NULL;
		if (c0 <= 0) {
			if (PQgetisnull(rc->prices.dims, di, USAGE_DIM_MICROS)) {
				/* SPEC §3.3: a feed price with more than 6 fractional digits (or no number) prices
				 * nothing — exact micros or nothing */
				bad = PQgetvalue(rc->prices.dims, di, USAGE_DIM_PRICE);
			} else {
				r->has_offer_price = 1;
				if (rio_i64(PQgetvalue(rc->prices.dims, di, USAGE_DIM_MICROS), &r->offer_price_micros) < 0)
					return err_set(e, EXIT_FAILED, "database: a unit price is not an integer");
			}
			di++;
		}
		if (r->acc && r->acc->day_priced) {
			/* prices by day: the agreement term revision valid on each day, the offer's price for
			 * the days without one */
			int overflow;
			r->bad_price = r->acc->bad ? r->acc->bad : r->acc->unpriced != 0 && !r->has_offer_price ? bad : NULL;
			r->priced = acc_amount(rc, r->acc, r->has_offer_price, r->offer_price_micros, 0, c->minor,
					       &r->expected_micros, &overflow);
			if (overflow)
				return err_set(e, EXIT_FAILED, "offer %s: the metered amount overflows", c->o->offer_id);
			if (r->priced) {
				r->unit_price_micros = r->offer_price_micros;
				price_note_of(r->acc, r, r->price_note, sizeof r->price_note, &r->unit_price_micros);
			}
		} else if (r->has_offer_price) {
			r->priced = 1;
			r->unit_price_micros = r->offer_price_micros;
			if (usage_expected(r->quantity, r->unit_price_micros, c->minor, rc->cfg->rounding, &r->expected_micros) != MONEY_OK)
				return err_set(e, EXIT_FAILED, "offer %s: the metered amount overflows", c->o->offer_id);
		} else {
			r->bad_price = bad;
			if (c0 < 0) { /* an unusable price of a dimension not metered: no row */
				n--;
				continue;
			}
		}
		if (r->priced && money_add(*expected, r->expected_micros, expected) != MONEY_OK)
			return err_set(e, EXIT_FAILED, "offer %s: the metered amount overflows", c->o->offer_id);
	}
	*nrows = n;
	return 0;
}

/* The accumulator of (offer, dimension) in set, or NULL. */
static const struct usage_acc *acc_find(const struct usage_set *set, size_t offer, const char *dimension)
{
	char key[1024];
	size_t id;
	int n = snprintf(key, sizeof key, "%zu\x1f%s", offer, dimension);
	if (n < 0 || (size_t)n >= sizeof key || rio_map_get(&set->map, key, &id) < 0)
		return NULL;
	ASSERT(id < set->n);
	return &set->acc[id];
}

/* settle.metering_day_result (sql/020): every day of the month of a dimension whose metered and
 * recorded quantities differ, with both, for the workbook's metering chart. */
static int record_days(struct rc *rc, const struct offer_ctx *c, const char *dimension, const struct usage_acc *m,
		       const struct usage_acc *u)
{
	struct rio_out *o = c->days_out;
	for (int d = 0; d < USAGE_MONTH_DAYS_MAX && rc->period_first_day + d < rc->period_end_day; d++) {
		char day[11], q[MONEY_FORMAT_MAX];
		time_format_day(rc->period_first_day + d, day);
		money_format(u ? u->day_qty[d] : 0, 0, q);
		rio_int(o, rc->run_id);
		rio_text(o, rc->period_text);
		rio_text(o, c->o->offer_id);
		rio_text(o, dimension);
		rio_text(o, day);
		rio_int(o, m ? m->day_qty[d] : 0);
		rio_text(o, q);
		rio_end_row(o);
	}
	return 0;
}

/* SPEC §4.6 three-way: USAGE_RECORD_MISMATCH when the seller's Success quantity of a dimension
 * and the marketplace's recorded quantity differ, naming the days on which they part (at most
 * RECORD_DAYS_SHOWN of them); expected and actual are the two quantities at the unit price. */
#define RECORD_DAYS_SHOWN 8
static int record_check(struct rc *rc, const struct offer_ctx *c, struct dim_row *r, struct err *e)
{
	const struct usage_acc *m = acc_find(c->claimed, c->index, r->dimension);
	const struct usage_acc *u = acc_find(c->recorded, c->index, r->dimension);
	r->recorded_micros = u ? u->quantity : 0;
	int64_t metered_micros;
	if (__builtin_mul_overflow(r->quantity, (int64_t)1000000, &metered_micros))
		return err_set(e, EXIT_FAILED, "offer %s: the metered quantity overflows", c->o->offer_id);
	if (metered_micros == r->recorded_micros)
		return 0;
	char days[RECORD_DAYS_SHOWN * 12 + 32] = "";
	size_t used = 0, parted = 0, pending = 0;
	for (int d = 0; d < USAGE_MONTH_DAYS_MAX && rc->period_first_day + d < rc->period_end_day; d++) {
		int64_t mq = m ? m->day_qty[d] : 0, uq = u ? u->day_qty[d] : 0, mq_micros;
		if (__builtin_mul_overflow(mq, (int64_t)1000000, &mq_micros) || mq_micros == uq)
			continue;
		if (rc->period_first_day + d > c->recorded->through_day) {
			pending++; /* a day the feed has not delivered yet (read_recorded) */
			continue;
		}
		if (parted++ < RECORD_DAYS_SHOWN) {
			char day[11];
			time_format_day(rc->period_first_day + d, day);
			int k = snprintf(days + used, sizeof days - used, "%s%s", used ? ", " : "", day);
			if (k > 0 && (size_t)k < sizeof days - used)
				used += (size_t)k;
		}
	}
	/* The counts part only on days the feed has not delivered yet: nothing to say, yet. A
	 * difference that sits in no single day (the per-day sums agree, the totals do not) is
	 * still said. */
	if (parted == 0 && pending > 0)
		return 0;
	if (parted > RECORD_DAYS_SHOWN)
		snprintf(days + used, sizeof days - used, " and %zu more", parted - RECORD_DAYS_SHOWN);
	int64_t exp_v = 0, act_v = 0;
	int priced = r->priced;
	if (priced && ((m && m->day_priced) || (u && u->day_priced))) {
		/* prices by day: the metered side is the dimension's expected amount, the recorded side
		 * its own days at their prices */
		int overflow = 0;
		exp_v = r->expected_micros;
		if (u)
			priced = acc_amount(rc, u, r->has_offer_price, r->offer_price_micros, 1, c->minor, &act_v, &overflow);
		if (overflow)
			return err_set(e, EXIT_FAILED, "offer %s: the recorded usage amount overflows", c->o->offer_id);
	} else if (priced &&
		   (money_mul_rate(r->unit_price_micros, metered_micros, rc->cfg->rounding, &exp_v) != MONEY_OK ||
		    money_round(exp_v, c->minor, rc->cfg->rounding, &exp_v) != MONEY_OK ||
		    money_mul_rate(r->unit_price_micros, r->recorded_micros, rc->cfg->rounding, &act_v) != MONEY_OK ||
		    money_round(act_v, c->minor, rc->cfg->rounding, &act_v) != MONEY_OK)) {
		return err_set(e, EXIT_FAILED, "offer %s: the recorded usage amount overflows", c->o->offer_id);
	}
	if (c->days_out && record_days(rc, c, r->dimension, m, u) < 0)
		return -1;
	char mq[MONEY_FORMAT_MAX], uq[MONEY_FORMAT_MAX], ref[600], buf[RTEXT_MAX], later[96] = "";
	money_format(metered_micros, 0, mq);
	money_format(r->recorded_micros, 0, uq);
	snprintf(ref, sizeof ref, "%s:%s:%s", c->o->offer_id, rc->period_text, r->dimension);
	if (pending) {
		char newest[11];
		time_format_day(c->recorded->through_day, newest);
		snprintf(later, sizeof later, " (and on %zu day%s after %s, the feed's newest day so far)", pending,
			 pending == 1 ? "" : "s", newest);
	}
	snprintf(buf, sizeof buf,
		 "offer %s, %s, dimension %s: the metering log has %s units with status Success, the marketplace "
		 "recorded %s (daily usage feed)%s; they differ on %s%s",
		 c->o->offer_id, rc->period_text, r->dimension, mq, uq,
		 metered_micros > r->recorded_micros ? ": usage the marketplace never recorded is not billed"
						     : ": the marketplace recorded usage the log lacks",
		 parted ? days : "no single day", later);
	return offer_exception(rc, c, "USAGE_RECORD_MISMATCH", ref, priced, exp_v, priced, act_v, buf, e);
}

static int offer_month(struct rc *rc, struct offer_ctx *c, int dlo, int dhi, const struct usage_acc *acc, size_t alo,
		       size_t ahi, struct err *e)
{
	const struct rc_billed *b = &c->billed;
	size_t cap = (size_t)(dhi - dlo) + (ahi - alo);
	if (cap == 0 && b->rows == 0 && !offer_in_month(rc, c->o))
		return 0;
	struct dim_row *rows = calloc(cap ? cap : 1, sizeof *rows);
	if (!rows)
		return err_set(e, EXIT_FAILED, "out of memory");
	size_t n = 0;
	int64_t expected = 0;
	int rc_code = -1;
	char buf[RTEXT_MAX], ref[600];
	if (offer_dims(rc, c, dlo, dhi, acc, alo, ahi, rows, &n, &expected, e) < 0)
		goto done;
	enum usage_status st = usage_status_of(expected, b->billed_micros, b->rows > 0, c->tol, rc->as_of_us,
					       period_end_us(rc->period), rc->cfg->usage_billing_lag_days);
	snprintf(ref, sizeof ref, "%s:%s", c->o->offer_id, rc->period_text);
	if (st == USAGE_VARIANCE &&
	    offer_exception(rc, c, "METERING_VARIANCE", ref, 1, expected, 1, b->billed_micros,
			    rtext_metering_variance(buf, sizeof buf, c->o->offer_id, rc->period_text, c->o->currency,
						    c->minor, expected, b->billed_micros),
			    e) < 0)
		goto done;
	if (st == USAGE_UNBILLED &&
	    offer_exception(rc, c, "UNBILLED_USAGE", ref, 1, expected, 1, 0,
			    rtext_unbilled_usage(buf, sizeof buf, c->o->offer_id, rc->period_text, c->o->currency, c->minor,
						 expected, rc->cfg->usage_billing_lag_days),
			    e) < 0)
		goto done;
	for (size_t i = 0; i < n; i++) {
		if (c->recorded && record_check(rc, c, &rows[i], e) < 0)
			goto done;
		meter_result(rc, c, &rows[i], b->billed_micros, usage_status_name(st));
		if (rows[i].priced)
			continue;
		snprintf(ref, sizeof ref, "%s:%s:%s", c->o->offer_id, rc->period_text, rows[i].dimension);
		rtext_unknown_dimension(buf, sizeof buf, c->o->offer_id, rows[i].dimension, rc->period_text,
					rows[i].quantity, rows[i].records);
		if (rows[i].bad_price) {
			size_t len = strlen(buf);
			snprintf(buf + len, sizeof buf - len,
				 ": the agreement term's price %s is not an exact amount with at most 6 fractional digits; "
				 "state the price in the offer_dimension file", rows[i].bad_price);
		}
		if (offer_exception(rc, c, "UNKNOWN_DIMENSION", ref, 0, 0, 0, 0, buf, e) < 0)
			goto done;
	}
	rc_code = 0;
done:
	free(rows);
	return rc_code;
}

static int unclaimed_exceptions(struct rc *rc, struct usage_set *u, struct err *e)
{
	char buf[RTEXT_MAX], ref[1024];
	if (u->n > 0)
		qsort(u->acc, u->n, sizeof *u->acc, unclaimed_cmp);
	for (size_t i = 0; i < u->n; i++) {
		const struct usage_acc *a = &u->acc[i];
		snprintf(ref, sizeof ref, "%s:%s:%s:%s", a->customer, a->code, rc->period_text, a->dimension);
		struct rc_exception x = {
			.code = "USAGE_WITHOUT_OFFER",
			.reference = ref,
			.detail = rtext_usage_without_offer(buf, sizeof buf, a->customer, a->code, a->dimension,
							    rc->period_text, a->quantity, a->records, a->offers_n),
		};
		if (rc_exception_add(rc, &x, e) < 0)
			return -1;
	}
	return 0;
}

int rc_usage_run(struct rc *rc, struct err *e)
{
	struct usage_set claimed, unclaimed, recorded;
	struct unattributed_set unattributed;
	struct rio_out days_out;
	memset(&claimed, 0, sizeof claimed);
	memset(&unclaimed, 0, sizeof unclaimed);
	memset(&recorded, 0, sizeof recorded);
	memset(&unattributed, 0, sizeof unattributed);
	memset(&days_out, 0, sizeof days_out);
	int rc_code = -1;
	/* SPEC §4.6 is per offer: an offer with several agreements is several rows of one offer_id
	 * (sorted together); metering, recorded usage and billing of all of them count for its first
	 * row, the one the walk below reports (metering_result has one row per offer and dimension) */
	rc->offer_head = malloc((rc->offers_n ? rc->offers_n : 1) * sizeof *rc->offer_head);
	if (!rc->offer_head)
		return err_set(e, EXIT_FAILED, "out of memory");
	for (size_t i = 0; i < rc->offers_n; i++)
		rc->offer_head[i] = i > 0 && strcmp(rc->offers[i - 1].offer_id, rc->offers[i].offer_id) == 0
					    ? rc->offer_head[i - 1] : i;
	{
		char as_of[40];
		time_format_pg(rc->as_of_us, as_of);
		if (usage_prices_load_days(rc->db, as_of, rc->period_first_day, rc->period_end_day, &rc->prices, e) < 0)
			goto done;
	}
	if (rio_out_open(&days_out, e) < 0)
		goto done;
	if (read_metering(rc, &claimed, &unclaimed, e) < 0)
		goto done;
	int recorded_loaded = 0;
	if (read_recorded(rc, &recorded, &unattributed, &recorded_loaded, e) < 0)
		goto done;
	/* the claimed map's ids are its insertion order: look-ups (record_check) go through the map
	 * before the array is sorted, so sort a copy of the order instead of the array itself */
	if (claimed.n > 0)
		qsort(claimed.acc, claimed.n, sizeof *claimed.acc, acc_cmp);
	if (usage_set_reindex(&claimed, e) < 0)
		goto done;
	int ndims = PQntuples(rc->prices.dims), di = 0, dlo = 0;
	size_t ai = 0;
	for (size_t i = 0; i < rc->offers_n; i++) {
		const struct match_offer *o = &rc->offers[i];
		/* prices.dims and offers are both in byte order of offer_id: walk them together. An offer
		 * with several agreements is several rows of one offer_id: each gets the same prices. */
		if (i == 0 || strcmp(rc->offers[i - 1].offer_id, o->offer_id) != 0) {
			while (di < ndims && strcmp(PQgetvalue(rc->prices.dims, di, USAGE_DIM_OFFER), o->offer_id) < 0)
				di++;
			dlo = di;
			while (di < ndims && strcmp(PQgetvalue(rc->prices.dims, di, USAGE_DIM_OFFER), o->offer_id) == 0)
				di++;
		}
		size_t alo = ai;
		while (ai < claimed.n && claimed.acc[ai].offer == i)
			ai++;
		if (rc->offer_head[i] != i)
			continue; /* reported with its offer's first row */
		struct offer_ctx c = { .o = NULL, .index = i, .claimed = &claimed,
				       .recorded = recorded_loaded ? &recorded : NULL, .days_out = &days_out };
		for (size_t j = i; j < rc->offers_n && rc->offer_head[j] == i; j++) {
			if (rc->offers[j].usage && !c.o)
				c.o = &rc->offers[j];
			if (__builtin_add_overflow(c.billed.billed_micros, rc->billed[j].billed_micros, &c.billed.billed_micros) ||
			    __builtin_add_overflow(c.billed.rows, rc->billed[j].rows, &c.billed.rows)) {
				err_set(e, EXIT_FAILED, "offer %s: the billed usage overflows", o->offer_id);
				goto done;
			}
		}
		if (!c.o)
			continue;
		o = c.o;
		if (rc_minor_units(o->currency, &c.minor, e) < 0 || rc_tolerance(rc, o->currency, &c.tol, e) < 0 ||
		    offer_month(rc, &c, dlo, di, claimed.acc, alo, ai, e) < 0)
			goto done;
	}
	ASSERT(ai == claimed.n);
	if (unclaimed_exceptions(rc, &unclaimed, e) < 0 || unattributed_exceptions(rc, &unattributed, e) < 0)
		goto done;
	if (days_out.rows > 0 &&
	    rio_out_send(&days_out, rc->db,
			 "COPY settle.metering_day_result (run_id, period, offer_id, dimension, usage_day, metered_quantity,"
			 " recorded_quantity) FROM STDIN",
			 e) < 0)
		goto done;
	rc_code = 0;
done:
	rio_out_close(&days_out);
	PQclear(rc->prices.days);
	rc->prices.days = NULL;
	unattributed_free(&unattributed);
	free(rc->offer_head);
	rc->offer_head = NULL;
	usage_set_free(&claimed);
	usage_set_free(&recorded);
	usage_set_free(&unclaimed);
	return rc_code;
}
