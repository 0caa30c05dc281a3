/* timeutil.c — UTC instants, days and periods by pure arithmetic (SPEC §3, §6).
 *
 * No mktime, timegm, localtime or TZ: the proleptic Gregorian calendar is computed with Howard
 * Hinnant's days_from_civil / civil_from_days, so the same input gives the same instant on every
 * machine, whatever its time zone (SPEC §6 determinism).
 */
#include "timeutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

#define TIME_SEC_PER_DAY INT64_C(86400)
#define TIME_FRAC_DIGITS_MAX 6
#define TIME_YEAR_MIN 1
#define TIME_YEAR_MAX 9999

struct civil {
	int64_t year;
	int month; /* 1..12 */
	int day;   /* 1..31 */
};

/* ---------------------------------------------------------------------------------------------
 * Calendar arithmetic
 */

static int is_leap_year(int64_t year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int days_in_month(int64_t year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	ASSERT(month >= 1 && month <= 12);
	return month == 2 && is_leap_year(year) ? 29 : days[month - 1];
}

/* Floor division and modulo: C truncates toward zero, the calendar needs floor for instants
 * before the epoch. */
static int64_t floor_div(int64_t n, int64_t d)
{
	int64_t q = n / d;
	return (n % d != 0 && (n < 0) != (d < 0)) ? q - 1 : q;
}

static int64_t floor_mod(int64_t n, int64_t d)
{
	int64_t r = n % d;
	return (r != 0 && (r < 0) != (d < 0)) ? r + d : r;
}

/* Days since 1970-01-01. Years are counted from March so that the leap day is the last day of
 * the shifted year; an era is 400 years = 146097 days. */
static int64_t days_from_civil(struct civil c)
{
	int64_t y = c.month <= 2 ? c.year - 1 : c.year;
	int64_t era = floor_div(y, 400);
	int64_t yoe = y - era * 400;                                  /* [0, 399] */
	int64_t mp = c.month > 2 ? c.month - 3 : c.month + 9;         /* March = 0 */
	int64_t doy = (153 * mp + 2) / 5 + c.day - 1;                 /* [0, 365] */
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;          /* [0, 146096] */
	return era * 146097 + doe - 719468;                           /* 719468: 0000-03-01 to epoch */
}

static struct civil civil_from_days(int64_t days)
{
	int64_t z = days + 719468;
	int64_t era = floor_div(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	struct civil c;

	c.day = (int)(doy - (153 * mp + 2) / 5 + 1);
	c.month = (int)(mp < 10 ? mp + 3 : mp - 9);
	c.year = yoe + era * 400 + (c.month <= 2);
	return c;
}

/* Multiplies days by the day length, asserting it fits: callers pass days derived from instants
 * or from parsed dates, so an overflow here is a bug, not bad input. */
static int64_t days_to_us(int64_t days)
{
	int64_t us;
	ASSERT(!__builtin_mul_overflow(days, TIME_US_PER_DAY, &us));
	return us;
}

/* ---------------------------------------------------------------------------------------------
 * Parsing
 */

/* A cursor over text[0..len): every reader checks the bytes it needs are there. */
struct cursor {
	const char *text;
	size_t len;
	size_t pos;
};

static int at_end(const struct cursor *c)
{
	return c->pos == c->len;
}

static int peek_is(const struct cursor *c, char ch)
{
	return c->pos < c->len && c->text[c->pos] == ch;
}

static int accept_char(struct cursor *c, char ch)
{
	if (!peek_is(c, ch))
		return 0;
	c->pos++;
	return 1;
}

/* Exactly n digits into *out, or -1. */
static int read_digits(struct cursor *c, int n, int *out)
{
	int v = 0;
	if (c->len - c->pos < (size_t)n)
		return -1;
	for (int i = 0; i < n; i++) {
		char ch = c->text[c->pos + (size_t)i];
		if (ch < '0' || ch > '9')
			return -1;
		v = v * 10 + (ch - '0');
	}
	c->pos += (size_t)n;
	*out = v;
	return 0;
}

/* Reads n digits and checks them against [lo, hi]. */
static int read_field(struct cursor *c, int n, int lo, int hi, int *out)
{
	if (read_digits(c, n, out) != 0)
		return -1;
	return *out >= lo && *out <= hi ? 0 : -1;
}

/* "YYYY-MM-DD", calendar-checked: 2024-02-29 and 2000-02-29 exist, 2026-02-29 and 1900-02-29 do
 * not. */
static int parse_date(struct cursor *c, struct civil *out)
{
	int year, month, day;

	if (read_field(c, 4, TIME_YEAR_MIN, TIME_YEAR_MAX, &year) != 0 || !accept_char(c, '-')
	    || read_field(c, 2, 1, 12, &month) != 0 || !accept_char(c, '-')
	    || read_field(c, 2, 1, days_in_month(year, month), &day) != 0)
		return -1;
	out->year = year;
	out->month = month;
	out->day = day;
	return 0;
}

/* "hh:mm:ss" with an optional fraction, as microseconds since midnight. Digits past the sixth are
 * accepted only when they are zeros (".1234560", the 7 digits some writers always print), as
 * amounts accept them (SPEC §2): an instant is kept exactly or refused, never rounded. Hour 24
 * and leap second 60 are rejected. */
static int parse_clock(struct cursor *c, int64_t *out_us)
{
	int hour, minute, second;

	if (read_field(c, 2, 0, 23, &hour) != 0 || !accept_char(c, ':') || read_field(c, 2, 0, 59, &minute) != 0
	    || !accept_char(c, ':') || read_field(c, 2, 0, 59, &second) != 0)
		return -1;
	int64_t frac_us = 0;
	if (accept_char(c, '.')) {
		int digits = 0, digit;
		while (digits < TIME_FRAC_DIGITS_MAX && read_digits(c, 1, &digit) == 0) {
			frac_us = frac_us * 10 + digit;
			digits++;
		}
		if (digits == 0)
			return -1; /* "12:00:00." */
		while (read_digits(c, 1, &digit) == 0)
			if (digit != 0)
				return -1; /* a 7th significant digit: below a microsecond */
		for (; digits < TIME_FRAC_DIGITS_MAX; digits++)
			frac_us *= 10;
	}
	*out_us = ((int64_t)hour * 3600 + minute * 60 + second) * TIME_US_PER_SEC + frac_us;
	return 0;
}

/* Optional offset: "Z", "+hh:mm", "+hhmm", "+hh" (or '-'), as seconds east of UTC; none means
 * UTC (SPEC §3). */
static int parse_offset(struct cursor *c, int64_t *out_sec)
{
	int hours, minutes = 0, sign;

	*out_sec = 0;
	if (at_end(c) || accept_char(c, 'Z'))
		return 0;
	if (accept_char(c, '+'))
		sign = 1;
	else if (accept_char(c, '-'))
		sign = -1;
	else
		return -1;
	if (read_field(c, 2, 0, 23, &hours) != 0)
		return -1;
	if (!at_end(c)) {
		(void)accept_char(c, ':'); /* "+hh:mm" and "+hhmm" are both ISO 8601 */
		if (read_field(c, 2, 0, 59, &minutes) != 0)
			return -1;
	}
	*out_sec = sign * ((int64_t)hours * 3600 + minutes * 60);
	return 0;
}

/* The parsed instant must itself lie in years 0001..9999 UTC, so that every instant settle holds
 * formats back in four-digit years (and as PostgreSQL input without BC). */
static int in_supported_years(int64_t us)
{
	int64_t first_us = days_to_us(days_from_civil((struct civil){TIME_YEAR_MIN, 1, 1}));
	int64_t end_us = days_to_us(days_from_civil((struct civil){TIME_YEAR_MAX + 1, 1, 1}));
	return us >= first_us && us < end_us;
}

int time_has_sub_micro(const char *text, size_t len)
{
	const char *dot = text ? memchr(text, '.', len) : NULL;
	if (!dot)
		return 0;
	size_t digits = 0;
	for (const char *p = dot + 1; p < text + len && *p >= '0' && *p <= '9'; p++, digits++)
		if (digits >= TIME_FRAC_DIGITS_MAX && *p != '0')
			return 1;
	return 0;
}

int time_parse(const char *text, size_t len, int64_t *out_us)
{
	struct cursor c = {text, len, 0};
	struct civil date;
	int64_t clock_us = 0, offset_sec = 0;

	if (text == NULL || parse_date(&c, &date) != 0)
		return -1;
	if (!at_end(&c)) {
		if (!accept_char(&c, 'T') && !accept_char(&c, ' '))
			return -1;
		if (parse_clock(&c, &clock_us) != 0 || parse_offset(&c, &offset_sec) != 0 || !at_end(&c))
			return -1;
	}
	/* Local time minus its offset is UTC: 12:00+02:00 is 10:00Z. */
	int64_t us = days_to_us(days_from_civil(date)) + clock_us - offset_sec * TIME_US_PER_SEC;
	if (!in_supported_years(us))
		return -1;
	*out_us = us;
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Formatting
 */

/* Splits an instant into its UTC date and microseconds since midnight, without multiplying the
 * day back (which could overflow near INT64_MIN). */
static struct civil split_instant(int64_t us, int64_t *out_clock_us)
{
	*out_clock_us = floor_mod(us, TIME_US_PER_DAY);
	return civil_from_days(floor_div(us, TIME_US_PER_DAY));
}

/* "YYYY-MM-DD<sep>hh:mm:ss[.ffffff]" (fraction only when non-zero) into buf, then suffix. */
static size_t format_instant(int64_t us, char sep, const char *suffix, char *buf, size_t size)
{
	int64_t clock_us;
	struct civil c = split_instant(us, &clock_us);
	int64_t sec = clock_us / TIME_US_PER_SEC;
	int64_t frac_us = clock_us % TIME_US_PER_SEC;
	char frac[16] = "";

	if (frac_us != 0)
		snprintf(frac, sizeof frac, ".%06d", (int)frac_us);
	int n = snprintf(buf, size, "%04" PRId64 "-%02d-%02d%c%02d:%02d:%02d%s%s", c.year, c.month, c.day, sep,
			 (int)(sec / 3600), (int)(sec / 60 % 60), (int)(sec % 60), frac, suffix);
	ASSERT(n > 0 && (size_t)n < size);
	return (size_t)n;
}

size_t time_format(int64_t us, char buf[32])
{
	return format_instant(us, 'T', "Z", buf, 32);
}

size_t time_format_s(int64_t us, char buf[32])
{
	return time_format(floor_div(us, TIME_US_PER_SEC) * TIME_US_PER_SEC, buf);
}

/* PostgreSQL reads year 0 and below only with a BC suffix; time_parse never produces them. */
size_t time_format_pg(int64_t us, char buf[40])
{
	int64_t clock_us;
	struct civil c = split_instant(us, &clock_us);
	ASSERT(c.year >= TIME_YEAR_MIN && c.year <= TIME_YEAR_MAX);
	return format_instant(us, ' ', "+00", buf, 40);
}

/* ---------------------------------------------------------------------------------------------
 * Days
 */

int32_t time_day_of(int64_t us)
{
	/* |INT64 us| / day is about 1.07e8 days: always fits an int32_t. */
	return (int32_t)floor_div(us, TIME_US_PER_DAY);
}

int64_t time_day_start_us(int32_t day)
{
	return days_to_us(day);
}

/* Four-digit years only: the 11-byte buffer has no room for more. */
size_t time_format_day(int32_t day, char buf[11])
{
	struct civil c = civil_from_days(day);
	ASSERT(c.year >= 0 && c.year <= TIME_YEAR_MAX);
	int n = snprintf(buf, 11, "%04d-%02d-%02d", (int)c.year, c.month, c.day);
	ASSERT(n == 10);
	return (size_t)n;
}

/* ---------------------------------------------------------------------------------------------
 * Periods: a UTC calendar month, year*12 + (month-1) (SPEC §1, §6)
 */

int period_parse(const char *text, size_t len, int32_t *out_period)
{
	struct cursor c = {text, len, 0};
	int year, month;

	if (text == NULL || read_field(&c, 4, TIME_YEAR_MIN, TIME_YEAR_MAX, &year) != 0 || !accept_char(&c, '-')
	    || read_field(&c, 2, 1, 12, &month) != 0 || !at_end(&c))
		return -1;
	*out_period = year * 12 + (month - 1);
	return 0;
}

/* Four-digit years only (the buffer holds "YYYY-MM"). */
void period_format(int32_t period, char buf[8])
{
	ASSERT(period >= 0 && period < (TIME_YEAR_MAX + 1) * 12);
	int n = snprintf(buf, 8, "%04d-%02d", (int)(period / 12), (int)(period % 12 + 1));
	ASSERT(n == 7);
}

int32_t period_of_us(int64_t us)
{
	int64_t clock_us;
	struct civil c = split_instant(us, &clock_us);
	return (int32_t)(c.year * 12 + (c.month - 1));
}

int64_t period_start_us(int32_t period)
{
	struct civil first = {floor_div(period, 12), (int)floor_mod(period, 12) + 1, 1};
	return days_to_us(days_from_civil(first));
}

/* December's next month is January of the next year: period + 1 carries into the year. */
int64_t period_end_us(int32_t period)
{
	ASSERT(period < INT32_MAX);
	return period_start_us(period + 1);
}

int period_computable(int32_t period)
{
	return period >= TIME_YEAR_MIN * 12 && period < TIME_YEAR_MAX * 12 + 11;
}
