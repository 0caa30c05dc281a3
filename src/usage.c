/* usage.c — SPEC §4.6 status of a usage month (see usage.h). */
#include "usage.h"

#include "alloc.h"
#include "timeutil.h"

enum usage_status usage_status_of(int64_t expected_micros, int64_t billed_micros, int billed_any,
				  int64_t tol_micros, int64_t as_of_us, int64_t month_end_us, int lag_days)
{
	if (billed_any)
		return alloc_differs(expected_micros, billed_micros, tol_micros) ? USAGE_VARIANCE : USAGE_OK;
	if (expected_micros <= 0)
		return USAGE_OK;
	/* SPEC §4.6: unbilled only once as-of is more than lag days past the end of the month. */
	if ((__int128)as_of_us > (__int128)month_end_us + (__int128)lag_days * TIME_US_PER_DAY)
		return USAGE_UNBILLED;
	return USAGE_PENDING;
}

const char *usage_status_name(enum usage_status st)
{
	switch (st) {
	case USAGE_OK:
		return "OK";
	case USAGE_VARIANCE:
		return "VARIANCE";
	case USAGE_UNBILLED:
		return "UNBILLED";
	case USAGE_PENDING:
		return "PENDING";
	}
	return "UNKNOWN";
}

enum money_status usage_expected(int64_t quantity, int64_t unit_price_micros, int minor_units,
				 enum money_rounding mode, int64_t *out)
{
	int64_t product;
	enum money_status st = money_mul_qty(unit_price_micros, quantity, &product);
	if (st != MONEY_OK)
		return st;
	return money_round(product, minor_units, mode, out);
}
