/* money.h — exact amounts (SPEC §2).
 *
 * An amount is an int64_t count of micros (10^-6 of a currency unit); names carry the unit last
 * (amount_micros). Products go through __int128; every operation that could leave the int64
 * range reports MONEY_OVERFLOW instead of wrapping. Rounding happens only in money_round and
 * money_mul_rate, in the mode the caller names. No floating point here, except the one-way,
 * deliberately named money_to_double_for_stats.
 */
#ifndef SETTLE_MONEY_H
#define SETTLE_MONEY_H

#include <stddef.h>
#include <stdint.h>

#define MONEY_MICROS_PER_UNIT INT64_C(1000000)
/* |amount| must be below 10^12 units (SPEC §2): the largest accepted input is 10^18 - 1 micros. */
#define MONEY_INPUT_LIMIT_MICROS INT64_C(1000000000000000000)
/* Longest text money_format can produce, with the NUL: "-9223372036854.775808". */
#define MONEY_FORMAT_MAX 32

enum money_rounding {
	MONEY_HALF_UP = 0, /* ties away from zero, symmetric for negatives (the default) */
	MONEY_HALF_EVEN,   /* ties to the even neighbour (banker's rounding) */
};

enum money_status {
	MONEY_OK = 0,
	MONEY_BAD_AMOUNT,  /* not -?[0-9]+(\.[0-9]+)? */
	MONEY_PRECISION,   /* more than the allowed fractional digits, and not all zeros */
	MONEY_RANGE,       /* |amount| >= 10^12 units (or a percentage out of its range) */
	MONEY_OVERFLOW,    /* an intermediate or result outside int64 */
};

/* Parses text[0..len) with the strict grammar -?[0-9]+(\.[0-9]+)? (no '+', spaces, exponent,
 * grouping or symbols). Digits past the 6th fractional one must be zeros. "-0" is 0.
 * On MONEY_OK stores the micros in *out; otherwise *out is untouched. */
enum money_status money_parse(const char *text, size_t len, int64_t *out);

/* Parses a percentage ("3.5" = 3.5 %) with at most 4 fractional digits (extra zeros allowed),
 * non-negative, at most pct_max_e4 (percent × 10^4, e.g. 100 % = 1000000). Stores the rate as
 * micros of a fraction: 3.5 % -> 35000 (= percent × 10^4). Errors: MONEY_BAD_AMOUNT (grammar or a
 * minus sign), MONEY_PRECISION, MONEY_RANGE. */
enum money_status money_parse_pct(const char *text, size_t len, int64_t pct_max_e4, int64_t *out_rate_micros);

/* Formats SPEC §2: plain decimal, '.', no grouping, the shortest exact form that shows at least
 * minor_units fractional digits (0..6): 44018.10, 1426.5125, -0.000001, JPY 1200. Never "-0.00".
 * Writes at most MONEY_FORMAT_MAX bytes with the NUL into buf; returns the length. */
size_t money_format(int64_t micros, int minor_units, char buf[MONEY_FORMAT_MAX]);

/* Checked arithmetic: MONEY_OK, or MONEY_OVERFLOW with *out untouched. */
enum money_status money_add(int64_t a, int64_t b, int64_t *out);
enum money_status money_sub(int64_t a, int64_t b, int64_t *out);
/* Negation: only INT64_MIN overflows. */
enum money_status money_neg(int64_t a, int64_t *out);

/* amount × rate, where rate_micros is a fraction in micros (35000 = 3.5 %), rounded to micros. */
enum money_status money_mul_rate(int64_t amount_micros, int64_t rate_micros, enum money_rounding mode,
				 int64_t *out);

/* unit price × integer quantity, exact (no rounding: a micro price times an integer is micros). */
enum money_status money_mul_qty(int64_t unit_price_micros, int64_t quantity, int64_t *out);

/* Rounds to the currency's minor units (0..6): money_round(3244371852, 2, HALF_UP) = 3244370000. */
enum money_status money_round(int64_t micros, int minor_units, enum money_rounding mode, int64_t *out);

/* SPEC §2 allocation: splits total over n parties with non-negative weights (Σ > 0) by largest
 * remainder, ties to the lower index, sign of total on every part. out has n slots, owned by the
 * caller. Asserts Σ out == total and the weight preconditions; cannot fail otherwise (128-bit
 * intermediates). n ≤ MONEY_ALLOC_MAX. */
#define MONEY_ALLOC_MAX 64
void money_alloc(int64_t total_micros, const int64_t *weights, size_t n, int64_t *out);

/* The one door from exact money to floating point, for statistics only (GSL). Never feed the
 * result back into an amount. */
double money_to_double_for_stats(int64_t micros);

/* A human sentence for a status, for rejection messages ("is not a decimal number"). */
const char *money_status_text(enum money_status st);

/* Rounding mode names for configuration: "half_up", "half_even". Returns -1 if unknown. */
int money_rounding_parse(const char *name, enum money_rounding *out);
const char *money_rounding_name(enum money_rounding mode);

#endif
