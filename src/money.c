/* money.c — exact amounts in micros (SPEC §2). See money.h for the contracts.
 *
 * Everything here is integer arithmetic: int64_t micros, with unsigned __int128 / __int128 for
 * products and sums so that no intermediate can wrap. The single exception is
 * money_to_double_for_stats at the end of the file.
 */
#include "money.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

/* |amount| < 10^12 units: at most 12 significant integer digits (SPEC §2). */
#define MONEY_INT_DIGITS_MAX 12
#define MONEY_FRAC_DIGITS 6
/* Percentages keep 4 fractional digits, so a rate is an exact number of micros (SPEC §2). */
#define PCT_FRAC_DIGITS 4
/* 18 significant integer digits always fit a uint64_t (< 10^18); more is out of any pct range. */
#define PCT_INT_DIGITS_MAX 18

/* ---------------------------------------------------------------------------------------------
 * Parsing
 */

/* A decimal that has passed the grammar -?[0-9]+(\.[0-9]+)?, as pointers into the text. The
 * integer digits exclude leading zeros, so their count is the magnitude's order, whatever the
 * length of the input (no accumulation happens before the digits are counted). */
struct decimal {
	int negative;
	const char *int_digits; /* significant integer digits (may be empty: "0", "000") */
	size_t int_digits_len;
	const char *frac_digits; /* digits after '.', or empty */
	size_t frac_digits_len;
};

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static size_t digits_span(const char *text, size_t len)
{
	size_t i = 0;
	while (i < len && is_digit(text[i]))
		i++;
	return i;
}

/* Grammar only (SPEC §2): no '+', spaces, exponents, grouping or symbols; a digit on both sides
 * of the point (".5" and "5." are rejected). Returns 0 when text[0..len) matches. */
static int decimal_scan(const char *text, size_t len, struct decimal *d)
{
	size_t i = 0;

	memset(d, 0, sizeof *d);
	if (len == 0)
		return -1;
	ASSERT(text != NULL);
	if (text[0] == '-') {
		d->negative = 1;
		i = 1;
	}
	size_t int_len = digits_span(text + i, len - i);
	if (int_len == 0)
		return -1;
	const char *int_start = text + i;
	i += int_len;
	while (int_len > 0 && *int_start == '0') {
		int_start++;
		int_len--;
	}
	d->int_digits = int_start;
	d->int_digits_len = int_len;
	d->frac_digits = text + i;
	if (i == len)
		return 0;
	if (text[i] != '.')
		return -1;
	i++;
	size_t frac_len = digits_span(text + i, len - i);
	if (frac_len == 0 || i + frac_len != len)
		return -1;
	d->frac_digits = text + i;
	d->frac_digits_len = frac_len;
	return 0;
}

/* Accumulates at most 19 digits: callers bound the count first, so this cannot overflow. */
static uint64_t digits_value(const char *digits, size_t len)
{
	uint64_t v = 0;
	ASSERT(len <= 19);
	for (size_t i = 0; i < len; i++)
		v = v * 10 + (uint64_t)(digits[i] - '0');
	return v;
}

static uint64_t pow10_u64(int exp)
{
	uint64_t v = 1;
	ASSERT(exp >= 0 && exp <= 19);
	while (exp-- > 0)
		v *= 10;
	return v;
}

/* The fraction scaled to frac_max digits (".5" with 6 -> 500000). Digits past frac_max must be
 * zeros: SPEC §2 rejects extra precision instead of rounding it away. */
static enum money_status decimal_frac_scaled(const struct decimal *d, int frac_max, uint64_t *out)
{
	size_t kept = d->frac_digits_len < (size_t)frac_max ? d->frac_digits_len : (size_t)frac_max;

	for (size_t i = kept; i < d->frac_digits_len; i++)
		if (d->frac_digits[i] != '0')
			return MONEY_PRECISION;
	*out = digits_value(d->frac_digits, kept) * pow10_u64(frac_max - (int)kept);
	return MONEY_OK;
}

/* Precision is judged before range, so "1e12 with a 7th decimal" reads as a precision error:
 * either rejects the row, and precision is the more specific of the two. */
enum money_status money_parse(const char *text, size_t len, int64_t *out)
{
	struct decimal d;
	uint64_t frac_micros;

	if (decimal_scan(text, len, &d) != 0)
		return MONEY_BAD_AMOUNT;
	enum money_status st = decimal_frac_scaled(&d, MONEY_FRAC_DIGITS, &frac_micros);
	if (st != MONEY_OK)
		return st;
	if (d.int_digits_len > MONEY_INT_DIGITS_MAX)
		return MONEY_RANGE;
	uint64_t magnitude = digits_value(d.int_digits, d.int_digits_len) * (uint64_t)MONEY_MICROS_PER_UNIT
			     + frac_micros;
	ASSERT(magnitude < (uint64_t)MONEY_INPUT_LIMIT_MICROS);
	/* "-0" and "-0.000" are plain zero: negation of 0 is 0. */
	*out = d.negative ? -(int64_t)magnitude : (int64_t)magnitude;
	return MONEY_OK;
}

/* Any minus sign is rejected, "-0" included: a negative percentage is never meaningful in the
 * input files (markup, fee), so it is a grammar error rather than a range error. */
enum money_status money_parse_pct(const char *text, size_t len, int64_t pct_max_e4, int64_t *out_rate_micros)
{
	struct decimal d;
	uint64_t frac_e4;

	ASSERT(pct_max_e4 >= 0);
	if (decimal_scan(text, len, &d) != 0 || d.negative)
		return MONEY_BAD_AMOUNT;
	enum money_status st = decimal_frac_scaled(&d, PCT_FRAC_DIGITS, &frac_e4);
	if (st != MONEY_OK)
		return st;
	if (d.int_digits_len > PCT_INT_DIGITS_MAX)
		return MONEY_RANGE;
	/* percent × 10^4 is the rate in micros of a fraction: 3.5 % = 0.035 = 35000 micros. */
	unsigned __int128 pct_e4 = (unsigned __int128)digits_value(d.int_digits, d.int_digits_len) * 10000u
				   + frac_e4;
	if (pct_e4 > (unsigned __int128)pct_max_e4)
		return MONEY_RANGE;
	*out_rate_micros = (int64_t)pct_e4;
	return MONEY_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Formatting
 */

/* Magnitude without the sign, exact for INT64_MIN (whose negation does not fit an int64_t). */
static uint64_t magnitude_u64(int64_t v)
{
	return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

/* SPEC §2: the shortest exact form with at least minor_units fractional digits. A zero value has
 * no sign, and a non-zero value always shows a non-zero digit, so "-0.00" cannot be produced. */
size_t money_format(int64_t micros, int minor_units, char buf[MONEY_FORMAT_MAX])
{
	ASSERT(minor_units >= 0 && minor_units <= MONEY_FRAC_DIGITS);
	uint64_t magnitude = magnitude_u64(micros);
	uint64_t units = magnitude / (uint64_t)MONEY_MICROS_PER_UNIT;
	uint64_t frac = magnitude % (uint64_t)MONEY_MICROS_PER_UNIT;
	int frac_digits = MONEY_FRAC_DIGITS;

	while (frac_digits > minor_units && frac % 10 == 0) {
		frac /= 10;
		frac_digits--;
	}
	int n;
	if (frac_digits == 0)
		n = snprintf(buf, MONEY_FORMAT_MAX, "%s%" PRIu64, micros < 0 ? "-" : "", units);
	else
		n = snprintf(buf, MONEY_FORMAT_MAX, "%s%" PRIu64 ".%0*" PRIu64, micros < 0 ? "-" : "", units,
			     frac_digits, frac);
	ASSERT(n > 0 && n < MONEY_FORMAT_MAX);
	return (size_t)n;
}

/* ---------------------------------------------------------------------------------------------
 * Checked arithmetic
 */

enum money_status money_add(int64_t a, int64_t b, int64_t *out)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return MONEY_OVERFLOW;
	*out = r;
	return MONEY_OK;
}

enum money_status money_sub(int64_t a, int64_t b, int64_t *out)
{
	int64_t r;
	if (__builtin_sub_overflow(a, b, &r))
		return MONEY_OVERFLOW;
	*out = r;
	return MONEY_OK;
}

enum money_status money_neg(int64_t a, int64_t *out)
{
	int64_t r;
	if (__builtin_sub_overflow((int64_t)0, a, &r))
		return MONEY_OVERFLOW;
	*out = r;
	return MONEY_OK;
}

/* n / d rounded to an integer in the given mode (SPEC §2), d > 0. C division truncates toward
 * zero and the remainder takes n's sign, so rounding is done on magnitudes: this keeps half_up
 * symmetric (-2.5 -> -3, like 2.5 -> 3) and half_even sign-independent (±2.5 -> ±2). */
static __int128 div_round(__int128 n, int64_t d, enum money_rounding mode)
{
	ASSERT(d > 0);
	ASSERT(mode == MONEY_HALF_UP || mode == MONEY_HALF_EVEN);
	__int128 q = n / d;
	__int128 r = n % d;
	__int128 r_twice = (r < 0 ? -r : r) * 2;
	int away = r_twice > d || (r_twice == d && (mode == MONEY_HALF_UP || q % 2 != 0));

	if (away)
		q += n < 0 ? -1 : 1;
	return q;
}

static enum money_status from_i128(__int128 v, int64_t *out)
{
	if (v < INT64_MIN || v > INT64_MAX)
		return MONEY_OVERFLOW;
	*out = (int64_t)v;
	return MONEY_OK;
}

/* The product of two int64 is below 2^126 in magnitude: exact in __int128; only the rounded
 * result can leave int64. */
enum money_status money_mul_rate(int64_t amount_micros, int64_t rate_micros, enum money_rounding mode,
				 int64_t *out)
{
	__int128 product = (__int128)amount_micros * rate_micros;
	return from_i128(div_round(product, MONEY_MICROS_PER_UNIT, mode), out);
}

enum money_status money_mul_qty(int64_t unit_price_micros, int64_t quantity, int64_t *out)
{
	int64_t r;
	if (__builtin_mul_overflow(unit_price_micros, quantity, &r))
		return MONEY_OVERFLOW;
	*out = r;
	return MONEY_OK;
}

/* Rounding to minor units may round away from zero past INT64_MAX/MIN (9223372036854775807 to
 * cents is ...780000): reported as MONEY_OVERFLOW, never wrapped. */
enum money_status money_round(int64_t micros, int minor_units, enum money_rounding mode, int64_t *out)
{
	ASSERT(minor_units >= 0 && minor_units <= MONEY_FRAC_DIGITS);
	int64_t step_micros = (int64_t)pow10_u64(MONEY_FRAC_DIGITS - minor_units);
	__int128 steps = div_round(micros, step_micros, mode);
	return from_i128(steps * step_micros, out);
}

/* ---------------------------------------------------------------------------------------------
 * Allocation, SPEC §2
 */

/* SPEC §2 step 2: the extra_n parties with the largest remainders, ties to the lower index, into
 * picked[0..extra_n). An insertion sort bounded to extra_n slots: a party enters only if it beats
 * the weakest pick, and a tie never does, because every earlier party has a lower index. */
static void pick_largest_remainders(const unsigned __int128 *rem, size_t n, size_t extra_n,
				    unsigned char *picked)
{
	size_t picked_n = 0;

	for (size_t i = 0; i < n && extra_n > 0; i++) {
		if (picked_n == extra_n && rem[picked[picked_n - 1]] >= rem[i])
			continue;
		size_t j = picked_n < extra_n ? picked_n++ : picked_n - 1; /* full: drop the weakest */
		while (j > 0 && rem[picked[j - 1]] < rem[i]) {
			picked[j] = picked[j - 1];
			j--;
		}
		picked[j] = (unsigned char)i;
	}
	ASSERT(picked_n == extra_n);
}

static unsigned __int128 weights_sum(const int64_t *weights, size_t n)
{
	unsigned __int128 sum = 0;
	for (size_t i = 0; i < n; i++) {
		ASSERT(weights[i] >= 0);
		sum += (unsigned __int128)weights[i];
	}
	return sum;
}

/* Magnitudes: A ≤ 2^63 (INT64_MIN included), w_i < 2^63, so A·w_i < 2^126 and W < 2^69; all
 * exact in unsigned __int128. The sign of T is applied to every part at the end (step 3). */
void money_alloc(int64_t total_micros, const int64_t *weights, size_t n, int64_t *out)
{
	unsigned __int128 quot[MONEY_ALLOC_MAX], rem[MONEY_ALLOC_MAX];
	unsigned char picked[MONEY_ALLOC_MAX];

	ASSERT(weights != NULL && out != NULL);
	ASSERT(n >= 1 && n <= MONEY_ALLOC_MAX);
	unsigned __int128 w_sum = weights_sum(weights, n);
	ASSERT(w_sum > 0);
	unsigned __int128 a = magnitude_u64(total_micros);
	unsigned __int128 q_sum = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned __int128 share = a * (unsigned __int128)weights[i];
		quot[i] = share / w_sum;
		rem[i] = share - quot[i] * w_sum; /* share mod W, without a second 128-bit division */
		q_sum += quot[i];
	}
	unsigned __int128 extra = a - q_sum;
	ASSERT(q_sum <= a && extra < n);
	pick_largest_remainders(rem, n, (size_t)extra, picked);
	for (size_t k = 0; k < (size_t)extra; k++)
		quot[picked[k]]++;

	__int128 check_sum = 0;
	for (size_t i = 0; i < n; i++) {
		__int128 part = total_micros < 0 ? -(__int128)quot[i] : (__int128)quot[i];
		ASSERT(part >= INT64_MIN && part <= INT64_MAX);
		out[i] = (int64_t)part;
		check_sum += part;
	}
	ASSERT(check_sum == total_micros);
}

/* ---------------------------------------------------------------------------------------------
 * Floating point, the one door (statistics only)
 */

/* Below 2^53 micros both operands are exact doubles, so one IEEE division gives the correctly
 * rounded value. Above it (about 9e9 units) the micros themselves are not exact in a double:
 * units and fraction are converted separately, which keeps the units exact up to 2^53 units. */
double money_to_double_for_stats(int64_t micros)
{
	const int64_t exact_max = INT64_C(1) << 53;
	if (micros > -exact_max && micros < exact_max)
		return (double)micros / (double)MONEY_MICROS_PER_UNIT;
	int64_t units = micros / MONEY_MICROS_PER_UNIT;
	int64_t frac_micros = micros % MONEY_MICROS_PER_UNIT;
	return (double)units + (double)frac_micros / (double)MONEY_MICROS_PER_UNIT;
}

/* ---------------------------------------------------------------------------------------------
 * Names and messages
 */

/* Phrases complete a sentence that starts with the field and the quoted value, SPEC §5:
 * amount: "12,50" is not a decimal number. */
const char *money_status_text(enum money_status st)
{
	switch (st) {
	case MONEY_OK:
		return "is a valid amount";
	case MONEY_BAD_AMOUNT:
		return "is not a decimal number";
	case MONEY_PRECISION:
		return "has more than 6 decimal places";
	case MONEY_RANGE:
		return "is out of range (|amount| must be below 10^12)";
	case MONEY_OVERFLOW:
		return "overflows";
	}
	return "has an unknown money status";
}

static const struct {
	const char *name;
	enum money_rounding mode;
} rounding_names[] = {
	{"half_up", MONEY_HALF_UP},
	{"half_even", MONEY_HALF_EVEN},
};

int money_rounding_parse(const char *name, enum money_rounding *out)
{
	for (size_t i = 0; i < sizeof rounding_names / sizeof rounding_names[0]; i++) {
		if (strcmp(name, rounding_names[i].name) == 0) {
			*out = rounding_names[i].mode;
			return 0;
		}
	}
	return -1;
}

const char *money_rounding_name(enum money_rounding mode)
{
	for (size_t i = 0; i < sizeof rounding_names / sizeof rounding_names[0]; i++)
		if (rounding_names[i].mode == mode)
			return rounding_names[i].name;
	return "unknown";
}
