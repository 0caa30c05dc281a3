/* test_timeutil.c — timeutil.h: ISO 8601 timestamps (SPEC §3), days and periods (SPEC §6).
 * Expected instants were computed independently (Python's datetime, UTC). */
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "timeutil.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define SENTINEL INT64_C(0x5e771e5e771e)

#define OCT3_US INT64_C(1790985600000000)     /* 2026-10-03T00:00:00Z */
#define OCT3_NOON_US INT64_C(1791028800000000) /* 2026-10-03T12:00:00Z */
#define HOUR_US INT64_C(3600000000)

/* ---------------------------------------------------------------------------------------------
 * time_parse
 */

static const struct parse_case {
	const char *text;
	int64_t us;
} good_cases[] = {
	{"1970-01-01", 0},
	{"2026-10-03", OCT3_US},
	{"2026-10-03T12:00:00Z", OCT3_NOON_US},
	{"2026-10-03 12:00:00", OCT3_NOON_US},
	{"2026-10-03T12:00:00", OCT3_NOON_US},
	{"2026-10-03 12:00:00Z", OCT3_NOON_US},
	{"2026-10-03T12:00:00.5Z", OCT3_NOON_US + 500000},
	{"2026-10-03T12:00:00.12Z", OCT3_NOON_US + 120000},
	{"2026-10-03T12:00:00.123456Z", OCT3_NOON_US + 123456},
	{"2026-10-03T12:00:00.000001", OCT3_NOON_US + 1},
	{"2026-10-03T12:00:00.000000Z", OCT3_NOON_US},
	{"2026-10-03T12:00:00.1234560Z", OCT3_NOON_US + 123456}, /* zeros past the sixth digit */
	{"2026-10-03T12:00:00.0000000Z", OCT3_NOON_US},
	/* offsets convert to UTC: local time minus the offset */
	{"2026-10-03T14:00:00+02:00", OCT3_NOON_US},
	{"2026-10-03T14:00:00+0200", OCT3_NOON_US},
	{"2026-10-03T14:00:00+02", OCT3_NOON_US},
	{"2026-10-03T07:30:00-04:30", OCT3_NOON_US},
	{"2026-10-03T07:30:00-0430", OCT3_NOON_US},
	{"2026-10-03T12:00:00+00:00", OCT3_NOON_US},
	{"2026-10-03T12:00:00-00:00", OCT3_NOON_US},
	{"2026-10-03T17:30:00.25+05:30", OCT3_NOON_US + 250000},
	{"2026-10-03T00:30:00+01:00", INT64_C(1790983800000000)},  /* 2026-10-02T23:30Z */
	{"2026-12-31T23:30:00-01:00", INT64_C(1798763400000000)},  /* 2027-01-01T00:30Z */
	{"2026-10-03T23:59:59+23:59", OCT3_US + 59000000},         /* widest offset */
	/* leap years: divisible by 4, except centuries, except every 400 years */
	{"2024-02-29", INT64_C(1709164800000000)},
	{"2000-02-29", INT64_C(951782400000000)},
	{"2024-03-01", INT64_C(1709251200000000)},
	{"1900-03-01", INT64_C(-2203891200000000)},
	/* before the epoch and the ends of the supported range */
	{"1969-12-31T23:59:59.999999Z", -1},
	{"1969-12-01", INT64_C(-2678400000000)},
	{"0001-01-01", INT64_C(-62135596800000000)},
	{"0001-01-01T01:00:00+01:00", INT64_C(-62135596800000000)},
	{"9999-12-31T23:59:59.999999Z", INT64_C(253402300799999999)},
	{"9999-12-31T23:59:59.999999+00:00", INT64_C(253402300799999999)},
};

static const char *const bad_cases[] = {
	"",
	"2026",
	"2026-10",
	"2026-1-03",
	"2026-10-3",
	"26-10-03",
	"+2026-10-03",
	"02026-10-03",
	"2026/10/03",
	"20261003",
	"2026-10-03 ",
	" 2026-10-03",
	"2026-10-03\n",
	"2026-10-03T",
	"2026-10-03T12",
	"2026-10-03T12:00",
	"2026-10-03T12:00Z",
	"2026-10-03T1:00:00",
	"2026-10-03T12:0:00",
	"2026-10-03T12:00:0",
	"2026-10-03t12:00:00Z",
	"2026-10-03T12:00:00z",
	"2026-10-03_12:00:00",
	"2026-10-03  12:00:00",
	"2026-10-03Z",
	"2026-10-03+02:00",
	/* calendar */
	"2026-02-29",
	"1900-02-29",
	"2100-02-29",
	"2026-02-30",
	"2024-02-30",
	"2026-04-31",
	"2026-06-31",
	"2026-09-31",
	"2026-11-31",
	"2026-13-01",
	"2026-00-10",
	"2026-10-00",
	"2026-10-32",
	"0000-01-01",
	"10000-01-01",
	"2026-10-03T24:00:00Z",
	"2026-10-03T12:60:00Z",
	"2026-10-03T12:00:60Z", /* no leap seconds */
	"2026-10-03T99:00:00Z",
	/* fractions */
	"2026-10-03T12:00:00.Z",
	"2026-10-03T12:00:00.",
	"2026-10-03T12:00:00.1234567Z",
	"2026-10-03T12:00:00,5Z",
	"2026-10-03T12:00:00.5.5Z",
	"2026-10-03T12:00:00.-5Z",
	/* offsets */
	"2026-10-03T12:00:00+2",
	"2026-10-03T12:00:00+2:00",
	"2026-10-03T12:00:00+02:0",
	"2026-10-03T12:00:00+02:",
	"2026-10-03T12:00:00+020",
	"2026-10-03T12:00:00+02:000",
	"2026-10-03T12:00:00+02::00",
	"2026-10-03T12:00:00+24:00",
	"2026-10-03T12:00:00+02:60",
	"2026-10-03T12:00:00+",
	"2026-10-03T12:00:00-",
	"2026-10-03T12:00:00 Z",
	"2026-10-03T12:00:00 +02:00",
	"2026-10-03T12:00:00Z ",
	"2026-10-03T12:00:00ZZ",
	"2026-10-03T12:00:00+02:00Z",
	"2026-10-03T12:00:00Z+02:00",
	"2026-10-03T12:00:00UTC",
	"2026-10-03T12:00:00 UTC",
	"2026-10-03T12:00:00GMT",
	/* garbage */
	"now",
	"today",
	"yesterday",
	"1790985600",
	"\xef\xbc\x92\xef\xbc\x90\xef\xbc\x92\xef\xbc\x96-10-03", /* fullwidth digits */
	/* the UTC instant leaves years 0001..9999 */
	"0001-01-01T00:00:00+01:00",
	"0001-01-01T00:59:59.999999+01:00",
	"9999-12-31T23:30:00-01:00",
};

TEST(parse_good)
{
	for (size_t i = 0; i < N_OF(good_cases); i++) {
		int64_t out = SENTINEL;
		int rc = time_parse(good_cases[i].text, strlen(good_cases[i].text), &out);
		if (rc != 0 || out != good_cases[i].us) {
			printf("  \"%s\": rc %d, %" PRId64 ", expected %" PRId64 "\n", good_cases[i].text, rc, out,
			       good_cases[i].us);
			check_failed_++;
		}
	}
}

TEST(parse_bad)
{
	for (size_t i = 0; i < N_OF(bad_cases); i++) {
		int64_t out = SENTINEL;
		int rc = time_parse(bad_cases[i], strlen(bad_cases[i]), &out);
		if (rc != -1 || out != SENTINEL) {
			printf("  \"%s\" accepted: %" PRId64 "\n", bad_cases[i], out);
			check_failed_++;
		}
	}
}

/* A fraction refused for its precision alone is told apart from a malformed one. */
TEST(sub_micro)
{
	CHECK(time_has_sub_micro("2026-10-03T12:00:00.1234567Z", 28) == 1);
	CHECK(time_has_sub_micro("2026-10-03T12:00:00.0000001", 27) == 1);
	CHECK(time_has_sub_micro("2026-10-03T12:00:00.1234560Z", 28) == 0);
	CHECK(time_has_sub_micro("2026-10-03T12:00:00.123456Z", 27) == 0);
	CHECK(time_has_sub_micro("2026-10-03", 10) == 0);
}

/* The length is the contract, not a NUL. */
TEST(parse_respects_len)
{
	int64_t out = SENTINEL;

	CHECK_I64(time_parse("2026-10-03T12:00:00Z", 10, &out), 0);
	CHECK_I64(out, OCT3_US);
	CHECK_I64(time_parse("2026-10-03T12:00:00Zjunk", 20, &out), 0);
	CHECK_I64(out, OCT3_NOON_US);
	out = SENTINEL;
	CHECK_I64(time_parse("2026-10-03\0", 11, &out), -1);
	CHECK_I64(time_parse("2026-10-03T12:00:00Z", 9, &out), -1);
	CHECK_I64(time_parse("2026-10-03T12:00:00Z", 19, &out), 0); /* no offset: UTC */
	CHECK_I64(out, OCT3_NOON_US);
	CHECK_I64(time_parse("2026-10-03T12:00:00+02:00", 23, &out), -1); /* "+02:" */
	CHECK_I64(time_parse(NULL, 0, &out), -1);
}

/* ---------------------------------------------------------------------------------------------
 * Formatting
 */

static const struct format_case {
	int64_t us;
	const char *text;
	const char *pg_text; /* NULL: outside PostgreSQL's years without BC, not tested */
} format_cases[] = {
	{0, "1970-01-01T00:00:00Z", "1970-01-01 00:00:00+00"},
	{OCT3_NOON_US, "2026-10-03T12:00:00Z", "2026-10-03 12:00:00+00"},
	{OCT3_NOON_US + 123456, "2026-10-03T12:00:00.123456Z", "2026-10-03 12:00:00.123456+00"},
	{OCT3_NOON_US + 500000, "2026-10-03T12:00:00.500000Z", "2026-10-03 12:00:00.500000+00"},
	{OCT3_NOON_US + 1, "2026-10-03T12:00:00.000001Z", "2026-10-03 12:00:00.000001+00"},
	{-1, "1969-12-31T23:59:59.999999Z", "1969-12-31 23:59:59.999999+00"},
	{INT64_C(1709164800000000), "2024-02-29T00:00:00Z", "2024-02-29 00:00:00+00"},
	{INT64_C(-62135596800000000), "0001-01-01T00:00:00Z", "0001-01-01 00:00:00+00"},
	{INT64_C(253402300799999999), "9999-12-31T23:59:59.999999Z", "9999-12-31 23:59:59.999999+00"},
	/* the whole int64 range formats, far outside what time_parse accepts */
	{INT64_MAX, "294247-01-10T04:00:54.775807Z", NULL},
	{INT64_MIN, "-290308-12-21T19:59:05.224192Z", NULL},
};

TEST(format_table)
{
	for (size_t i = 0; i < N_OF(format_cases); i++) {
		const struct format_case *c = &format_cases[i];
		char buf[32], pg[40];
		CHECK_I64(time_format(c->us, buf), strlen(c->text));
		CHECK_STR(buf, c->text);
		if (c->pg_text != NULL) {
			CHECK_I64(time_format_pg(c->us, pg), strlen(c->pg_text));
			CHECK_STR(pg, c->pg_text);
		}
	}
}

/* time_format_s: to the second, truncated (floor, before 1970 too), as status's to_char shows it. */
TEST(format_whole_seconds)
{
	char buf[32];
	time_format_s(OCT3_NOON_US + 999999, buf);
	CHECK_STR(buf, "2026-10-03T12:00:00Z");
	time_format_s(OCT3_NOON_US, buf);
	CHECK_STR(buf, "2026-10-03T12:00:00Z");
	time_format_s(-1, buf);
	CHECK_STR(buf, "1969-12-31T23:59:59Z");
}

/* splitmix64: a fixed seed gives the same instants on every machine. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

#define YEAR1_US INT64_C(-62135596800000000)
#define YEAR10000_US INT64_C(253402300800000000)

/* Random instants in years 0001..9999: whole seconds half of the time, so both forms of the
 * output (with and without a fraction) are exercised. */
TEST(format_parse_round_trip)
{
	rng_state = 20261003;
	for (int run = 0; run < 200000; run++) {
		int64_t us = YEAR1_US + (int64_t)(rng_next() % (uint64_t)(YEAR10000_US - YEAR1_US));
		if (run % 2)
			us -= us % 1000000 + (us % 1000000 < 0 ? 1000000 : 0);
		char buf[32], pg[40];
		int64_t back = SENTINEL, back_pg = SENTINEL;
		size_t len = time_format(us, buf);
		size_t len_pg = time_format_pg(us, pg);
		if (time_parse(buf, len, &back) != 0 || back != us || time_parse(pg, len_pg, &back_pg) != 0
		    || back_pg != us) {
			printf("  %" PRId64 " -> \"%s\" / \"%s\" -> %" PRId64 " / %" PRId64 "\n", us, buf, pg, back,
			       back_pg);
			check_failed_++;
			break;
		}
	}
}

/* ---------------------------------------------------------------------------------------------
 * Days
 */

TEST(days)
{
	char buf[11];

	CHECK_I64(time_day_of(0), 0);
	CHECK_I64(time_day_of(-1), -1);
	CHECK_I64(time_day_of(TIME_US_PER_DAY - 1), 0);
	CHECK_I64(time_day_of(TIME_US_PER_DAY), 1);
	CHECK_I64(time_day_of(-TIME_US_PER_DAY), -1);
	CHECK_I64(time_day_of(-TIME_US_PER_DAY - 1), -2);
	CHECK_I64(time_day_of(OCT3_NOON_US), 20729);
	CHECK_I64(time_day_of(INT64_MAX), 106751991);
	CHECK_I64(time_day_of(INT64_MIN), -106751992);
	CHECK_I64(time_day_start_us(20729), OCT3_US);
	CHECK_I64(time_day_start_us(-1), -TIME_US_PER_DAY);
	CHECK_I64(time_format_day(20729, buf), 10);
	CHECK_STR(buf, "2026-10-03");
	CHECK_I64(time_format_day(0, buf), 10);
	CHECK_STR(buf, "1970-01-01");
	time_format_day(-1, buf);
	CHECK_STR(buf, "1969-12-31");
	time_format_day(time_day_of(INT64_C(1709164800000000)), buf);
	CHECK_STR(buf, "2024-02-29");
}

static int is_leap(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* Every day of 1582..2500 walked with a naive calendar, against days_from_civil (through
 * time_parse) and civil_from_days (through time_format_day). */
TEST(days_against_naive_calendar)
{
	static const int month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int32_t day = -141714; /* 1582-01-01 */
	int bad = 0;

	for (int year = 1582; year <= 2500 && bad < 5; year++) {
		for (int month = 1; month <= 12; month++) {
			int n = month_days[month - 1] + (month == 2 && is_leap(year));
			for (int d = 1; d <= n; d++, day++) {
				char expected[40], buf[11];
				int64_t us = SENTINEL;
				snprintf(expected, sizeof expected, "%04d-%02d-%02d", year, month, d);
				time_format_day(day, buf);
				if (strcmp(buf, expected) != 0 || time_parse(expected, 10, &us) != 0
				    || us != time_day_start_us(day)) {
					printf("  day %" PRId32 ": \"%s\", expected \"%s\"\n", day, buf, expected);
					bad++;
				}
			}
		}
	}
	CHECK(bad == 0);
}

/* ---------------------------------------------------------------------------------------------
 * Periods
 */

#define P(year, month) ((int32_t)((year) * 12 + (month) - 1))

TEST(period_parse_table)
{
	static const struct {
		const char *text;
		int rc;
		int32_t period;
	} cases[] = {
		{"2026-10", 0, P(2026, 10)},
		{"2026-01", 0, P(2026, 1)},
		{"2026-12", 0, P(2026, 12)},
		{"0001-01", 0, P(1, 1)},
		{"9999-12", 0, P(9999, 12)},
		{"2026-13", -1, 0},
		{"2026-00", -1, 0},
		{"2026-1", -1, 0},
		{"26-10", -1, 0},
		{"0000-01", -1, 0},
		{"10000-01", -1, 0},
		{"2026-10-01", -1, 0},
		{"2026-10 ", -1, 0},
		{" 2026-10", -1, 0},
		{"2026/10", -1, 0},
		{"202610", -1, 0},
		{"2026-1O", -1, 0},
		{"", -1, 0},
	};
	for (size_t i = 0; i < N_OF(cases); i++) {
		int32_t out = -7;
		int rc = period_parse(cases[i].text, strlen(cases[i].text), &out);
		if (rc != cases[i].rc || out != (rc == 0 ? cases[i].period : -7)) {
			printf("  \"%s\": rc %d, %" PRId32 "\n", cases[i].text, rc, out);
			check_failed_++;
		}
	}
}

TEST(period_format_and_bounds)
{
	char buf[8];

	period_format(P(2026, 10), buf);
	CHECK_STR(buf, "2026-10");
	period_format(P(2026, 1), buf);
	CHECK_STR(buf, "2026-01");
	period_format(P(1, 1), buf);
	CHECK_STR(buf, "0001-01");
	period_format(P(9999, 12), buf);
	CHECK_STR(buf, "9999-12");

	/* December's end is January 1st of the next year */
	CHECK_I64(period_start_us(P(2026, 12)), INT64_C(1796083200000000));
	CHECK_I64(period_end_us(P(2026, 12)), INT64_C(1798761600000000));
	CHECK_I64(period_end_us(P(2026, 12)), period_start_us(P(2027, 1)));
	CHECK_I64(period_end_us(P(2024, 2)), INT64_C(1709251200000000)); /* leap February */
	CHECK_I64(period_start_us(P(1970, 1)), 0);
	CHECK_I64(period_start_us(P(1969, 12)), INT64_C(-2678400000000));
	CHECK_I64(period_end_us(P(1969, 12)), 0);

	CHECK_I64(period_of_us(INT64_C(1798761600000000) - 1), P(2026, 12)); /* Dec 31 23:59:59.999999 */
	CHECK_I64(period_of_us(INT64_C(1798761600000000)), P(2027, 1));
	CHECK_I64(period_of_us(OCT3_NOON_US), P(2026, 10));
	CHECK_I64(period_of_us(-1), P(1969, 12));
	CHECK_I64(period_of_us(0), P(1970, 1));
}

/* For random instants: start ≤ t < end, the end is the next period's start, and the period
 * formats back to what it parses from. */
TEST(period_property)
{
	rng_state = 42;
	for (int run = 0; run < 200000; run++) {
		int64_t us = YEAR1_US + (int64_t)(rng_next() % (uint64_t)(YEAR10000_US - YEAR1_US));
		int32_t p = period_of_us(us), back = -1;
		char buf[8];
		period_format(p, buf);
		if (!(period_start_us(p) <= us && us < period_end_us(p)) || period_end_us(p) != period_start_us(p + 1)
		    || period_parse(buf, 7, &back) != 0 || back != p) {
			printf("  %" PRId64 ": period %" PRId32 " \"%s\"\n", us, p, buf);
			check_failed_++;
			break;
		}
	}
}

/* Issue 17: the periods whose bounds every formatter handles; data can name 9999-12. */
TEST(period_computable_bounds)
{
	int32_t p;
	CHECK(period_parse("0001-01", 7, &p) == 0 && period_computable(p));
	CHECK(period_parse("9999-11", 7, &p) == 0 && period_computable(p));
	CHECK(period_parse("9999-12", 7, &p) == 0 && !period_computable(p));
	CHECK(!period_computable(11) && !period_computable(-1));
	/* every computable period's bounds format without tripping an assertion */
	char buf[11];
	CHECK(period_parse("9999-11", 7, &p) == 0);
	CHECK(time_format_day(time_day_of(period_end_us(p)), buf) == 10 && strcmp(buf, "9999-12-01") == 0);
}

int main(void)
{
	RUN(parse_good);
	RUN(parse_bad);
	RUN(sub_micro);
	RUN(parse_respects_len);
	RUN(format_table);
	RUN(format_whole_seconds);
	RUN(format_parse_round_trip);
	RUN(days);
	RUN(days_against_naive_calendar);
	RUN(period_parse_table);
	RUN(period_format_and_bounds);
	RUN(period_property);
	RUN(period_computable_bounds);
	return CHECK_EXIT;
}
