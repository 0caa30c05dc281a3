/* log.h — what settle says, on stderr, in PostgreSQL's message style.
 *
 * Every line starts with "settle: <command>: " so that cron mail reads like a log:
 *   settle: ingest: billing_event_2026-10.csv:42: amount: "12,50" is not a decimal number
 * Progress lines (log_progress) appear only when stderr is a terminal, never in cron mail.
 */
#ifndef SETTLE_LOG_H
#define SETTLE_LOG_H

/* The command name used as the prefix ("ingest", "nightly", ...). Not copied: pass a literal. */
void log_set_command(const char *command);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A transient status line, overwritten by the next one; silent unless stderr is a terminal. */
void log_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Ends a progress line (prints the newline) if one is showing. */
void log_progress_done(void);

/* 1 when stderr is a terminal (progress display on). */
int log_is_tty(void);

/* Phase timings for benchmarks and tuning, printed only when SETTLE_RECONCILE_TIMING is set (and
 * not "0"): "settle: <area> <period>: <phase>   1.234 s". log_clock() is a monotonic clock in
 * seconds; `since` is an earlier log_clock(). */
double log_clock(void);
void log_phase(const char *area, const char *period, const char *phase, double since);

#endif
