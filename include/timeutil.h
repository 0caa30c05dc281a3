/* timeutil.h — instants, days and periods in UTC, without the C library's time zone.
 *
 * An instant is int64_t microseconds since 1970-01-01T00:00:00Z (unit last: *_us). A day is
 * int32_t days since 1970-01-01. A period is a UTC calendar month, "YYYY-MM", held as
 * year*12 + (month-1). Everything here is pure arithmetic on the proleptic Gregorian calendar, so
 * nothing depends on TZ or locale (SPEC §6 determinism).
 */
#ifndef SETTLE_TIMEUTIL_H
#define SETTLE_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#define TIME_US_PER_SEC INT64_C(1000000)
#define TIME_US_PER_DAY INT64_C(86400000000)

/* ISO 8601 as SPEC §3 accepts it: "2026-10-03", "2026-10-03T12:00:00Z", "2026-10-03 12:00:00",
 * with optional fractional seconds (up to 6 significant digits; zeros past them are accepted)
 * and an optional offset Z, +hh:mm, -hh:mm,
 * +hhmm or +hh. Without an offset it is UTC. Calendar-checked (no 2026-02-30, no hour 24).
 * Years 0001..9999. Returns 0 and stores the instant, or -1 (and *out untouched). */
int time_parse(const char *text, size_t len, int64_t *out_us);
/* 1 when text has a fraction of a second with a non-zero digit past the sixth (a value time_parse
 * refuses for its precision alone, not its form), else 0: for the rejection's reason. */
int time_has_sub_micro(const char *text, size_t len);

/* Formats an instant as "2026-10-03T12:00:00Z", or with fractional seconds
 * "2026-10-03T12:00:00.123456Z" when they are not zero. buf needs 32 bytes. Returns the length. */
size_t time_format(int64_t us, char buf[32]);
/* time_format to the whole second, truncated, as `settle status` shows the ledger's instants
 * (to_char's HH24:MI:SS): "2026-10-03T12:00:00Z". For the lines a person reads; what must be
 * reproduced exactly (run.csv, a closed set's name) keeps time_format. */
size_t time_format_s(int64_t us, char buf[32]);
/* Formats for PostgreSQL input ("2026-10-03 12:00:00.123456+00"), buf 40 bytes. Returns length. */
size_t time_format_pg(int64_t us, char buf[40]);

/* Days since the epoch for an instant (floor), and back to the instant at 00:00 UTC. */
int32_t time_day_of(int64_t us);
int64_t time_day_start_us(int32_t day);
/* "2026-10-03" into buf (11 bytes). Returns 10. */
size_t time_format_day(int32_t day, char buf[11]);

/* Periods: "YYYY-MM" <-> year*12 + month-1. period_parse returns -1 on anything else. */
int period_parse(const char *text, size_t len, int32_t *out_period);
void period_format(int32_t period, char buf[8]);
int32_t period_of_us(int64_t us);
int64_t period_start_us(int32_t period); /* first instant of the month */
int64_t period_end_us(int32_t period);   /* first instant of the next month */
/* 1 when a period can be computed: its first instant and the first instant after it both fall in
 * the years 0001..9999 that every formatter here handles (0001-01 through 9999-11). Data can name
 * 9999-12 (an invoice dated 9999-12-31): callers check this and fail that period with an error. */
int period_computable(int32_t period);

#endif
