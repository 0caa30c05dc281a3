/* usage_prices.h — SPEC §3.3, §4.6: the unit price of a day's usage of an offer's dimension, the
 * one lookup that reconcile (src/reconcile_usage.c: expected amounts, USAGE_RECORD_MISMATCH) and
 * the insights (src/insights_*.c: what a USAGE_ANOMALY costs) both price usage with.
 *
 * The rule (docs/reconcile.md "Prices by day"): a price the offer_dimension file states for
 * (offer_id, dimension) applies to every day; else the price of the agreement's usage-based
 * pricing term revision valid on the usage day (settle.agreement_usage_prices, sql/020, as the
 * marketplace's reference queries join the agreement revision valid on the usage date); else the
 * offer's price of the dimension (settle.offer_dimension_terms_asof, sql/016: the file's, else the
 * latest started agreement's rate card). A price that is no exact number of micros prices nothing.
 *
 * Ownership: struct usage_prices owns its two results; usage_prices_clear frees them (and accepts
 * a half-loaded struct). The lookups borrow: returned strings live as long as the struct.
 */
#ifndef SETTLE_USAGE_PRICES_H
#define SETTLE_USAGE_PRICES_H

#include <stdint.h>

#include <libpq-fe.h>

#include "db.h"
#include "err.h"

struct usage_prices {
	/* offer_id, dimension (sorted in byte order, one row each), unit_price_micros (NULL: the price
	 * is no exact number of micros), price (the agreement term's text; NULL: the file's) */
	PGresult *dims;
	/* agreement_id, dimension, UTC day number (sorted in byte order, then day), price text,
	 * unit_price_micros (NULL: not an exact number of micros); the days of one month */
	PGresult *days;
};

enum { USAGE_DIM_OFFER, USAGE_DIM_DIMENSION, USAGE_DIM_MICROS, USAGE_DIM_PRICE };
enum { USAGE_DAY_AGREEMENT, USAGE_DAY_DIMENSION, USAGE_DAY_DAY, USAGE_DAY_PRICE, USAGE_DAY_MICROS };

/* The offers' prices as of as_of (time_format_pg text) into p->dims. */
int usage_prices_load_dims(struct db *db, const char *as_of, struct usage_prices *p, struct err *e);
/* The agreements' prices of each day in [first_day, end_day) (UTC day numbers) as of as_of into
 * p->days. */
int usage_prices_load_days(struct db *db, const char *as_of, int32_t first_day, int32_t end_day,
			   struct usage_prices *p, struct err *e);
void usage_prices_clear(struct usage_prices *p);

/* The row of (offer_id, dimension) in p->dims, or -1. */
int usage_prices_dim_row(const struct usage_prices *p, const char *offer_id, const char *dimension);
/* Whether the offer_dimension file states the price of (offer_id, dimension): then it wins on
 * every day (SPEC §3.3). */
int usage_prices_file_priced(const struct usage_prices *p, const char *offer_id, const char *dimension);
/* The row of p->days that prices a day's usage of (offer_id, agreement_id, dimension): the
 * agreement term revision valid on that day; -1 when the file prices the dimension (it wins), the
 * agreement is NULL or '', or no revision prices it that day (the offer's price applies then). */
int usage_prices_day_row(const struct usage_prices *p, const char *offer_id, const char *agreement_id,
			 const char *dimension, int32_t day);

/* The unit price of one day's usage by the rule above: 1 and *price_micros, or 0 when nothing
 * prices it (no price, or one that is no exact number of micros: *bad_text is then its text when
 * known, else NULL). */
int usage_prices_on(const struct usage_prices *p, const char *offer_id, const char *agreement_id,
		    const char *dimension, int32_t day, int64_t *price_micros, const char **bad_text);

#endif
