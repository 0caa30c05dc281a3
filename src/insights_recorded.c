/* insights_recorded.c — the marketplace's recorded usage as a second series source of the usage
 * anomalies (insights_int.h; docs/insights.md, "The marketplace's recorded series").
 *
 * The daily usage feed (SDDS.md dailyusagefeed_v1, stored by ingest in settle.sdds_daily_usage)
 * is the marketplace's own count of the metered usage, per day. Each of its series — the same
 * (customer, product_code, dimension) as the metering log's — is scored on its own history like a
 * metering series (its days fed as hours at 00:00, so the scoring picks the day grain), and then
 * checked day by day against the seller's metering log of the same series: a run of days on which
 * the marketplace recorded less than was metered is an incident of its own (ANOMALY_LEAK, "the
 * marketplace's recorded usage is N % below the metered"), each day priced at its unit price. That
 * is the signal of lost records: metering steady, recorded usage dropping.
 *
 * An incident of the recorded series against its own history that the metering log shows as well
 * (the same totals over its days) is the metering series' incident — a real change of usage, not
 * of recording — and is dropped here; one within a run below the metered is absorbed by it.
 *
 * The server groups the feed per series and day and joins the metering log's daily sums
 * (settle.metering_daily, ingest's, sql/006) of the period: rows are days, not records, and
 * arrive in series order, so memory holds one series' days whatever the number of records.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insights_int.h"
#include "pgcopy.h"
#include "reconcile_io.h"
#include "timeutil.h"

#define US_PER_DAY INT64_C(86400000000)

enum { D_CUSTOMER, D_PRODUCT_CODE, D_DIMENSION, D_DAY, D_RECORDED, D_METERED, D_AGREEMENT, D_N };

/* The period's series of the feed, their recorded days over the window and metered days of the
 * period. The customer is the end user's identity (SPEC §1, the account feed), else the payer's;
 * the product code the product feed's for the row's product (through the legacy id mapping), else
 * the offer terms' (SPEC §3.2: derived from the feeds, completed by the offer file) of the row's
 * agreement, else of its offer, else the product id: a seller whose product codes are only in its
 * offer file still has its recorded series beside its metering series. The metering log's customer is read as its identity too. Only series the feed
 * knows in the window are scored: a series the marketplace never recorded at all is the three-way
 * check's (USAGE_RECORD_MISMATCH, SPEC §4.6), not a statistic. The stream carries the metered days
 * of such series too (a full join of the two sides' days), and recorded_series skips a series
 * without a recorded day: the server filtering them against the recorded keys planned as a nested
 * loop over two badly estimated CTEs (keys × metered days, 56M comparisons and 15 s at 1M metering
 * records), while the extra rows are days, at most a month of them per metered series. The COPY
 * takes no parameters: the instants are our own formatted values (time_format_pg). */
static char *recorded_copy_sql(const struct usage_window *w)
{
	char *sql = NULL;
	int n = asprintf(
		&sql,
		"COPY (WITH acct AS MATERIALIZED (SELECT m.id, m.account_key FROM settle.account_map('%1$s'::timestamptz) m),"
		" legacy AS MATERIALIZED ("
		"   SELECT DISTINCT ON (l.legacy_id) l.legacy_id, l.new_id"
		"   FROM settle.sdds_legacy_id_mapping_asof('%1$s'::timestamptz) l ORDER BY l.legacy_id, l.mapping_type),"
		" terms AS MATERIALIZED ("
		"   SELECT t.offer_id, t.agreement_id, t.product_code"
		"   FROM settle.offer_terms_asof('%1$s'::timestamptz) t WHERE t.product_code IS NOT NULL),"
		" offer_code AS MATERIALIZED ("
		"   SELECT DISTINCT ON (t.offer_id) t.offer_id, t.product_code FROM terms t"
		"   ORDER BY t.offer_id, t.product_code COLLATE \"C\"),"
		" agreement_code AS MATERIALIZED ("
		"   SELECT DISTINCT ON (t.agreement_id) t.agreement_id, t.product_code FROM terms t"
		"   WHERE t.agreement_id IS NOT NULL ORDER BY t.agreement_id, t.product_code COLLATE \"C\"),"
		" rec AS ("
		"   SELECT settle.account_ident(coalesce(nullif(u.end_user_account_id, ''), u.payer_account_id), a.account_key)"
		"            AS customer,"
		"          coalesce(p.product_code, ac.product_code, oc.product_code, lg.new_id, u.product_id) AS product_code,"
		"          u.dimension_key AS dimension,"
		"          (u.usage_date AT TIME ZONE 'UTC')::date AS day, sum(u.usage_quantity) AS quantity,"
		"          min(nullif(u.agreement_id, '') COLLATE \"C\") FILTER (WHERE u.usage_date >= '%3$s'::timestamptz)"
		"            AS agreement"
		"   FROM settle.sdds_daily_usage_asof('%1$s'::timestamptz) u"
		"   LEFT JOIN acct a ON a.id = settle.account_pad(coalesce(nullif(u.end_user_account_id, ''), u.payer_account_id))"
		"   LEFT JOIN legacy lg ON lg.legacy_id = u.product_id"
		"   LEFT JOIN settle.sdds_product_asof('%1$s'::timestamptz) p ON p.product_id = coalesce(lg.new_id, u.product_id)"
		"   LEFT JOIN agreement_code ac ON ac.agreement_id = nullif(u.agreement_id, '')"
		"   LEFT JOIN offer_code oc ON oc.offer_id = u.offer_id"
		"   WHERE u.usage_date >= '%2$s'::timestamptz AND u.usage_date < '%4$s'::timestamptz"
		"     AND u.dimension_key IS NOT NULL AND u.usage_quantity IS NOT NULL"
		"   GROUP BY 1, 2, 3, 4),"
		" met AS ("
		"   SELECT settle.account_ident(d.customer_aws_account_id, a.account_key) AS customer, d.product_code,"
		"          d.dimension, d.usage_day AS day, sum(d.quantity)::bigint AS quantity"
		"   FROM settle.metering_daily d LEFT JOIN acct a ON a.id = settle.account_pad(d.customer_aws_account_id)"
		"   WHERE d.file_id IN (SELECT v.file_id FROM settle.visible_files('%1$s'::timestamptz) v)"
		"     AND d.usage_day >= ('%3$s'::timestamptz AT TIME ZONE 'UTC')::date"
		"     AND d.usage_day < ('%4$s'::timestamptz AT TIME ZONE 'UTC')::date"
		"   GROUP BY 1, 2, 3, 4)"
		" SELECT x.customer, x.product_code, x.dimension, x.day - DATE '1970-01-01', x.rq, x.mq, x.agreement"
		" FROM (SELECT coalesce(r.customer, m.customer) AS customer, coalesce(r.product_code, m.product_code) AS product_code,"
		"              coalesce(r.dimension, m.dimension) AS dimension, coalesce(r.day, m.day) AS day,"
		"              r.quantity AS rq, m.quantity AS mq, r.agreement"
		"       FROM (SELECT * FROM rec WHERE customer IS NOT NULL AND product_code IS NOT NULL) r"
		"       FULL JOIN (SELECT * FROM met WHERE customer IS NOT NULL AND product_code IS NOT NULL"
		"                  AND dimension IS NOT NULL) m"
		"         ON m.customer = r.customer AND m.product_code = r.product_code AND m.dimension = r.dimension"
		"        AND m.day = r.day) x"
		" ORDER BY x.customer COLLATE \"C\", x.product_code COLLATE \"C\", x.dimension COLLATE \"C\", x.day)"
		" TO STDOUT",
		w->as_of, w->history_start, w->period_start, w->period_end);
	return n < 0 ? NULL : sql;
}

/* One series being read: its days over the window (recorded, in whole units) and the period's
 * metered days. */
struct rseries {
	char *customer, *product_code, *dimension, *agreement; /* owned; agreement NULL: none */
	size_t days;          /* the window's days */
	size_t pd0;           /* the period's first day (index) */
	int64_t *rq;          /* recorded per day of the window */
	unsigned char *rseen; /* it has a recorded row that day */
	int64_t *mq;          /* metered per day of the period (pd0 + i) */
	int in_period;        /* recorded or metered usage in the period */
	int recorded;         /* a recorded row in the window: a series of the feed */
	int metered;          /* metered usage in the period */
	char fraction[64];    /* the first day whose recorded total is not whole: "2026-11-03: 12.5" */
	size_t horizon_day;   /* the end of the checked days (window index): the feed's newest day + 1 */
};

struct rctx {
	struct rseries *s;
	size_t first_anomaly;
};

static void rseries_reset(struct rseries *s)
{
	free(s->customer);
	free(s->product_code);
	free(s->dimension);
	free(s->agreement);
	s->customer = s->product_code = s->dimension = s->agreement = NULL;
	if (s->rq && s->rseen && s->mq) {
		memset(s->rq, 0, s->days * sizeof *s->rq);
		memset(s->rseen, 0, s->days);
		memset(s->mq, 0, (s->days - s->pd0) * sizeof *s->mq);
	}
	s->in_period = s->metered = s->recorded = 0;
	s->fraction[0] = '\0';
}

/* A numeric the server printed ("12", "-3", "12.500"): its whole part, and whether a non-zero
 * fraction follows. -1 when it is not such a number or out of range. */
static int parse_quantity(const char *t, int64_t *out, int *fraction)
{
	const char *dot = strchr(t, '.');
	char whole[32];
	size_t n = dot ? (size_t)(dot - t) : strlen(t);
	if (n == 0 || n >= sizeof whole)
		return -1;
	memcpy(whole, t, n);
	whole[n] = '\0';
	if (rio_i64(whole, out) < 0)
		return -1;
	*fraction = 0;
	if (dot)
		for (const char *p = dot + 1; *p; p++) {
			if (*p < '0' || *p > '9')
				return -1;
			*fraction |= *p != '0';
		}
	return 0;
}

/* Whether the metering log explains a history incident of the recorded series: the metering
 * series has usage in the period and its total over the incident's days equals the recorded one
 * within INSIGHTS_RECORD_TOL_E2 % (and one unit), or within a tenth of the incident's departure
 * from its expectation (the metering log shows nine tenths of the change). Then the change is in
 * the usage, and the metering series' own row reports it. */
static int explained_by_metering(const struct usage *u, const struct rseries *s, const struct anomaly *a)
{
	if (!s->metered)
		return 0;
	int64_t d0 = (a->from_us - u->window_start_us) / US_PER_DAY;
	int64_t d1 = (a->to_us - u->window_start_us) / US_PER_DAY + (a->grain == GRAIN_WEEK ? 7 : 1);
	__int128 m = 0, r = 0;
	for (int64_t d = d0; d < d1; d++) {
		if (d < (int64_t)s->pd0 || d >= (int64_t)s->days)
			continue;
		m += s->mq[d - (int64_t)s->pd0];
		r += s->rq[d];
	}
	__int128 diff = m > r ? m - r : r - m;
	__int128 dev = a->actual > a->expected ? a->actual - a->expected : a->expected - a->actual;
	return diff <= 1 || diff * 100 <= m * INSIGHTS_RECORD_TOL_E2 || diff * 10 <= dev;
}

/* A day of the period on which the marketplace recorded less than was metered: short by more
 * than INSIGHTS_RECORD_TOL_E2 % of the metered and by at least one unit. */
static int day_short(const struct rseries *s, size_t d)
{
	int64_t m = s->mq[d - s->pd0], r = s->rq[d];
	return m > 0 && m - r >= 1 && (__int128)(m - r) * 100 > (__int128)m * INSIGHTS_RECORD_TOL_E2;
}

/* A day that does not end a run of short days: recorded less than metered, or nothing either way. */
static int day_leans(const struct rseries *s, size_t d)
{
	int64_t m = s->mq[d - s->pd0], r = s->rq[d];
	return r < m || (m == 0 && r == 0);
}

static int add_leak(struct usage *u, const struct rseries *s, size_t from, size_t to, size_t end, struct err *e)
{
	struct anomaly *a = insights_grow(u->anomalies, &u->anomalies_cap, u->anomalies_n + 1, sizeof *a, e);
	if (!a)
		return -1;
	u->anomalies = a;
	a = &u->anomalies[u->anomalies_n++];
	memset(a, 0, sizeof *a);
	a->kind = ANOMALY_LEAK;
	a->row = u->rows_n - 1;
	a->grain = GRAIN_DAY;
	a->from_us = u->window_start_us + (int64_t)from * US_PER_DAY;
	a->to_us = u->window_start_us + (int64_t)to * US_PER_DAY;
	a->points = (int64_t)(to - from + 1);
	a->direction = -1;
	a->ongoing = to + 1 == end;
	a->seq = 1;
	int32_t day[32];
	size_t n = 0;
	ASSERT(to >= from && to - from < sizeof day / sizeof day[0]); /* days of the period */
	for (size_t d = from; d <= to; d++) {
		if (__builtin_add_overflow(a->expected, s->mq[d - s->pd0], &a->expected) ||
		    __builtin_add_overflow(a->actual, s->rq[d], &a->actual))
			return err_set(e, EXIT_FAILED, "insights: recorded usage totals overflow");
		day[n++] = (int32_t)(u->window_start_us / US_PER_DAY + (int64_t)d);
	}
	/* SPEC §4.6: each day's metered and recorded units at that day's price */
	const struct usage_row *row = &u->rows[a->row];
	a->priced = usage_price_days(u, row, day, &s->mq[from - s->pd0], n, &a->expected_value_micros) &&
		    usage_price_days(u, row, day, &s->rq[from], n, &a->actual_value_micros);
	return 0;
}

/* After the recorded series is scored (usage.after_score): the runs of days below the metered,
 * then the history incidents that the metering log explains or a run absorbs are dropped. */
static int recorded_after_score(struct usage *u, void *ctx, struct err *e)
{
	struct rctx *c = ctx;
	const struct rseries *s = c->s;
	struct usage_row *row = &u->rows[u->rows_n - 1];
	size_t hist_end = u->anomalies_n;
	size_t end = s->horizon_day < s->days ? s->horizon_day : s->days;
	if (!s->fraction[0] && s->metered) {
		for (size_t d = s->pd0; d < end;) {
			if (!day_short(s, d)) {
				d++;
				continue;
			}
			size_t last = d, j = d + 1, gap = 0;
			while (j < end) {
				if (day_short(s, j)) {
					last = j;
					gap = 0;
				} else if (gap < INSIGHTS_RECORD_GAP_DAYS && day_leans(s, j)) {
					gap++;
				} else {
					break;
				}
				j++;
			}
			if (add_leak(u, s, d, last, end, e) < 0)
				return -1;
			d = last + 1;
		}
	}
	for (size_t i = c->first_anomaly; i < hist_end; i++) {
		struct anomaly *a = &u->anomalies[i];
		if (explained_by_metering(u, s, a)) {
			a->dropped = 1;
			continue;
		}
		for (size_t k = hist_end; k < u->anomalies_n; k++) {
			const struct anomaly *l = &u->anomalies[k];
			int64_t a_end = a->to_us + (a->grain == GRAIN_WEEK ? 7 : 1) * US_PER_DAY;
			if (a->direction < 0 && a->from_us < l->to_us + US_PER_DAY && l->from_us < a_end)
				a->dropped = 1;
		}
	}
	size_t w = c->first_anomaly;
	for (size_t i = c->first_anomaly; i < u->anomalies_n; i++)
		if (!u->anomalies[i].dropped)
			u->anomalies[w++] = u->anomalies[i];
	row->leaks = (int64_t)(u->anomalies_n - hist_end);
	u->anomalies_n = w;
	row->anomalies = (int64_t)(w - c->first_anomaly);
	if (row->scored)
		row->status = row->anomalies > 0 ? "ANOMALY" : "OK";
	else if (row->leaks > 0)
		row->status = "ANOMALY"; /* not scored on its history, but below the metering log */
	return 0;
}

/* Scores the series read into s (when it has usage in the period) onto u->rows. */
static int recorded_series(struct usage *u, struct rseries *s, const struct offers *offers, struct err *e)
{
	if (!s->customer || !s->in_period || !s->recorded)
		return 0;
	int orow = usage_offer_row(offers->offers, s->agreement);
	struct usage_price price;
	int has_price = orow >= 0 && usage_offer_currency(offers, orow, &price);
	if (usage_start_series(u, s->customer, s->product_code, s->dimension, s->agreement,
			       orow >= 0 ? PQgetvalue(offers->offers, orow, 1) : NULL, has_price ? &price : NULL, e) < 0)
		return -1;
	struct usage_row *row = &u->rows[u->rows_n - 1];
	row->recorded = 1;
	if (s->fraction[0]) {
		row->status = "IRREGULAR";
		snprintf(row->reason, sizeof row->reason,
			 "not scored: recorded quantities are not whole units (%s); neither scored nor checked against the"
			 " metering log",
			 s->fraction);
	}
	for (size_t d = 0; d < s->days; d++)
		if (s->rseen[d])
			usage_take_hour(u, u->window_start_us + (int64_t)d * US_PER_DAY, s->rq[d]);
	struct rctx c = { s, u->anomalies_n };
	size_t horizon = u->horizon;
	/* the recorded days are scored up to the feed's newest day (its own horizon) */
	u->horizon = s->horizon_day * 24 < u->ps ? u->ps : s->horizon_day * 24 > u->pe ? u->pe : s->horizon_day * 24;
	u->after_score = recorded_after_score;
	u->after_ctx = &c;
	int rc = usage_finish_series(u, e);
	u->after_score = NULL;
	u->after_ctx = NULL;
	u->horizon = horizon;
	return rc;
}

static int take_text(char **dst, const char *src, struct err *e)
{
	*dst = strdup(src);
	return *dst ? 0 : err_set(e, EXIT_FAILED, "insights: out of memory");
}

/* One streamed row (a series' day) into s; a new series first scores the one before. */
static int recorded_row(struct usage *u, struct rseries *s, const struct offers *offers, const char *const *f,
			struct err *e)
{
	if (!f[D_CUSTOMER] || !f[D_PRODUCT_CODE] || !f[D_DIMENSION] || !f[D_DAY])
		return err_set(e, EXIT_FAILED, "database: a recorded usage day lacks its key");
	if (!s->customer || strcmp(s->customer, f[D_CUSTOMER]) != 0 || strcmp(s->product_code, f[D_PRODUCT_CODE]) != 0 ||
	    strcmp(s->dimension, f[D_DIMENSION]) != 0) {
		if (recorded_series(u, s, offers, e) < 0)
			return -1;
		rseries_reset(s);
		if (take_text(&s->customer, f[D_CUSTOMER], e) < 0 || take_text(&s->product_code, f[D_PRODUCT_CODE], e) < 0 ||
		    take_text(&s->dimension, f[D_DIMENSION], e) < 0)
			return -1;
	}
	int32_t day;
	int64_t window_day0 = u->window_start_us / US_PER_DAY;
	if (rio_i32(f[D_DAY], &day) < 0 || day < window_day0 || day - window_day0 >= (int64_t)s->days)
		return err_set(e, EXIT_FAILED, "database: a recorded usage day is outside the window");
	size_t d = (size_t)(day - window_day0);
	if (f[D_RECORDED]) {
		int64_t q;
		int fraction;
		if (parse_quantity(f[D_RECORDED], &q, &fraction) < 0)
			return err_set(e, EXIT_FAILED, "insights: recorded quantity \"%.40s\" is out of range", f[D_RECORDED]);
		if (fraction && !s->fraction[0]) {
			char dt[11];
			time_format_day(day, dt);
			snprintf(s->fraction, sizeof s->fraction, "%s: %.40s", dt, f[D_RECORDED]);
		}
		s->rq[d] = q;
		s->rseen[d] = 1;
		s->recorded = 1;
		if (d >= s->pd0)
			s->in_period = 1;
	}
	if (f[D_METERED]) {
		int64_t q;
		if (rio_i64(f[D_METERED], &q) < 0 || d < s->pd0)
			return err_set(e, EXIT_FAILED, "database: a metered day of the recorded series is out of range");
		s->mq[d - s->pd0] = q;
		s->in_period = 1;
		s->metered |= q != 0;
	}
	if (f[D_AGREEMENT] && f[D_AGREEMENT][0] && (!s->agreement || strcmp(f[D_AGREEMENT], s->agreement) < 0)) {
		free(s->agreement);
		if (take_text(&s->agreement, f[D_AGREEMENT], e) < 0)
			return -1;
	}
	return 0;
}

int usage_read_recorded(struct db *db, struct usage *u, const struct usage_window *w, struct err *e)
{
	/* The feed's newest day in the window, as of the run: none, nothing to read. Days after it
	 * are not checked (a feed a day behind the metering log has lost nothing yet). */
	const char *params[] = { w->as_of, w->history_start, w->period_end };
	PGresult *res = db_query(db,
				 "SELECT (max(u.usage_date) AT TIME ZONE 'UTC')::date - DATE '1970-01-01'"
				 " FROM settle.sdds_daily_usage_asof($1::timestamptz) u"
				 " WHERE u.usage_date >= $2::timestamptz AND u.usage_date < $3::timestamptz",
				 3, params, PGRES_TUPLES_OK, e);
	if (!res)
		return -1;
	int none = PQgetisnull(res, 0, 0);
	int64_t newest = none ? 0 : insights_cell_i64(res, 0, 0);
	PQclear(res);
	if (none)
		return 0;
	struct rseries s;
	memset(&s, 0, sizeof s);
	s.days = u->hours / 24;
	s.pd0 = u->ps / 24;
	s.horizon_day = (size_t)(newest - u->window_start_us / US_PER_DAY + 1);
	s.rq = calloc(s.days, sizeof *s.rq);
	s.rseen = calloc(s.days, 1);
	s.mq = calloc(s.days - s.pd0, sizeof *s.mq);
	const struct offers *offers; /* u's */
	char *sql = recorded_copy_sql(w);      /* owned here */
	int rc = -1;
	if (!s.rq || !s.rseen || !s.mq || !sql) {
		err_set(e, EXIT_FAILED, "insights: out of memory");
		goto release;
	}
	if (usage_offers_get(db, u, w, &offers, e) < 0)
		goto release;
	struct rio_in in;
	if (rio_in_begin(&in, db, sql, e) < 0)
		goto release;
	int st;
	while ((st = rio_in_next(&in, D_N, e)) == 1) {
		if (recorded_row(u, &s, offers, in.fields, e) < 0) {
			rio_in_end(&in);
			goto release;
		}
	}
	rio_in_end(&in);
	if (st < 0 || recorded_series(u, &s, offers, e) < 0)
		goto release;
	rc = 0;
release:
	rseries_reset(&s);
	free(s.rq);
	free(s.rseen);
	free(s.mq);
	free(sql);
	return rc;
}
