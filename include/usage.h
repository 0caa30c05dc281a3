/* usage.h — SPEC §4.6: the status of a USAGE offer's month, metering against billing. Pure. */
#ifndef SETTLE_USAGE_H
#define SETTLE_USAGE_H

#include <stdint.h>

#include "money.h"

enum usage_status {
	USAGE_OK = 0,     /* billed within tol of the metered amount, or nothing metered and nothing billed */
	USAGE_VARIANCE,   /* something billed and |expected − billed| > tol: METERING_VARIANCE */
	USAGE_UNBILLED,   /* nothing billed, expected > 0, as-of more than lag days past the month: UNBILLED_USAGE */
	USAGE_PENDING,    /* nothing billed yet, expected > 0, still within the billing lag */
};

/* month_end_us is the first instant after the usage month; "more than lag days past the end"
 * means as_of_us > month_end_us + lag_days days. */
enum usage_status usage_status_of(int64_t expected_micros, int64_t billed_micros, int billed_any,
				  int64_t tol_micros, int64_t as_of_us, int64_t month_end_us, int lag_days);
const char *usage_status_name(enum usage_status st);

/* One dimension's expected amount: round(quantity × unit_price) to the currency's minor units.
 * MONEY_OVERFLOW when the product leaves int64. */
enum money_status usage_expected(int64_t quantity, int64_t unit_price_micros, int minor_units,
				 enum money_rounding mode, int64_t *out);

#endif
