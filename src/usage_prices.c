/* usage_prices.c — the unit price of a day's usage (usage_prices.h): two queries, read once per
 * month, and binary searches over them in byte order (the queries sort with COLLATE "C", which is
 * strcmp's order on text without NUL).
 */
#include "usage_prices.h"

#include <string.h>

#include "reconcile_io.h"
#include "timeutil.h"

static const char dims_sql[] =
	"SELECT offer_id, dimension, unit_price_micros, price FROM settle.offer_dimension_terms_asof($1::timestamptz)"
	" ORDER BY offer_id COLLATE \"C\", dimension COLLATE \"C\"";

static const char days_sql[] =
	"SELECT agreement_id, dimension, usage_day - DATE '1970-01-01', price, unit_price_micros"
	" FROM settle.agreement_usage_prices($1::timestamptz, $2::date, $3::date)"
	" ORDER BY agreement_id COLLATE \"C\", dimension COLLATE \"C\", 3";

int usage_prices_load_dims(struct db *db, const char *as_of, struct usage_prices *p, struct err *e)
{
	ASSERT(p->dims == NULL);
	const char *params[] = { as_of };
	p->dims = db_query(db, dims_sql, 1, params, PGRES_TUPLES_OK, e);
	return p->dims ? 0 : -1;
}

int usage_prices_load_days(struct db *db, const char *as_of, int32_t first_day, int32_t end_day,
			   struct usage_prices *p, struct err *e)
{
	ASSERT(p->days == NULL && first_day <= end_day);
	char d0[11], d1[11];
	time_format_day(first_day, d0);
	time_format_day(end_day, d1);
	const char *params[] = { as_of, d0, d1 };
	p->days = db_query(db, days_sql, 3, params, PGRES_TUPLES_OK, e);
	return p->days ? 0 : -1;
}

void usage_prices_clear(struct usage_prices *p)
{
	PQclear(p->dims);
	PQclear(p->days);
	p->dims = NULL;
	p->days = NULL;
}

int usage_prices_dim_row(const struct usage_prices *p, const char *offer_id, const char *dimension)
{
	if (!p->dims || !offer_id || !dimension)
		return -1;
	int lo = 0, hi = PQntuples(p->dims);
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		int c = strcmp(PQgetvalue(p->dims, mid, USAGE_DIM_OFFER), offer_id);
		if (!c)
			c = strcmp(PQgetvalue(p->dims, mid, USAGE_DIM_DIMENSION), dimension);
		if (!c)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

int usage_prices_file_priced(const struct usage_prices *p, const char *offer_id, const char *dimension)
{
	int k = usage_prices_dim_row(p, offer_id, dimension);
	/* the file's rows carry no price text; only exact micros are stored from the file */
	return k >= 0 && PQgetisnull(p->dims, k, USAGE_DIM_PRICE) && !PQgetisnull(p->dims, k, USAGE_DIM_MICROS);
}

int usage_prices_day_row(const struct usage_prices *p, const char *offer_id, const char *agreement_id,
			 const char *dimension, int32_t day)
{
	if (!p->days || !agreement_id || !agreement_id[0] || !dimension)
		return -1;
	if (usage_prices_file_priced(p, offer_id, dimension))
		return -1; /* SPEC §3.3: the file's price wins on every day */
	int lo = 0, hi = PQntuples(p->days);
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		int c = strcmp(PQgetvalue(p->days, mid, USAGE_DAY_AGREEMENT), agreement_id);
		if (!c)
			c = strcmp(PQgetvalue(p->days, mid, USAGE_DAY_DIMENSION), dimension);
		if (!c) {
			int32_t d = 0;
			int ok = rio_i32(PQgetvalue(p->days, mid, USAGE_DAY_DAY), &d) == 0;
			ASSERT(ok); /* the server's integer */
			c = (d > day) - (d < day);
		}
		if (!c)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* The micros of cell (row, col) of res: 1 and *out, or 0 when NULL. */
static int cell_micros(const PGresult *res, int row, int col, int64_t *out)
{
	if (PQgetisnull(res, row, col))
		return 0;
	int ok = rio_i64(PQgetvalue(res, row, col), out) == 0;
	ASSERT(ok); /* the server's bigint */
	return 1;
}

int usage_prices_on(const struct usage_prices *p, const char *offer_id, const char *agreement_id,
		    const char *dimension, int32_t day, int64_t *price_micros, const char **bad_text)
{
	*bad_text = NULL;
	int k = usage_prices_day_row(p, offer_id, agreement_id, dimension, day);
	if (k >= 0) {
		if (cell_micros(p->days, k, USAGE_DAY_MICROS, price_micros))
			return 1;
		*bad_text = PQgetvalue(p->days, k, USAGE_DAY_PRICE);
		return 0;
	}
	k = usage_prices_dim_row(p, offer_id, dimension);
	if (k < 0)
		return 0;
	if (cell_micros(p->dims, k, USAGE_DIM_MICROS, price_micros))
		return 1;
	*bad_text = PQgetisnull(p->dims, k, USAGE_DIM_PRICE) ? NULL : PQgetvalue(p->dims, k, USAGE_DIM_PRICE);
	return 0;
}
