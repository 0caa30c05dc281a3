/* log.h — what settle says, on stderr, in PostgreSQL's message style (docs/design.md "Messages").
 *
 * Every line starts with "settle: <command>: " so that cron mail reads like a log; errors and
 * warnings carry their severity as PostgreSQL's clients do ("psql: error: ..."):
 *   settle: report: error: period "2026-13" is not a month written YYYY-MM
 *   settle: rerun: warning: the database holds other input files as of ...
 *   settle: ingest: billing_event_2026-10.csv:42: amount: "12,50" is not a decimal number
 * The last form, a quarantined row or file (log_reject), is addressed by file and line instead
 * (SPEC §7's example). Results go to stdout, messages to stderr, in every command.
 * --quiet (log_set_quiet) keeps errors, warnings, rejections and summaries (log_summary: the
 * lines cron should mail) and drops the informational lines. Progress lines (log_progress)
 * appear only when stderr is a terminal and TERM is not "dumb", never in cron mail.
 */
#ifndef SETTLE_LOG_H
#define SETTLE_LOG_H

/* The command name used as the prefix ("ingest", "nightly", ...). Not copied: pass a literal. */
void log_set_command(const char *command);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A quarantined row or file: "settle: ingest: FILE:LINE: column: why", no severity tag. */
void log_reject(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A command's summary line: shown with --quiet too. */
void log_summary(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* --quiet: only errors, warnings, rejections and summaries. */
void log_set_quiet(int quiet);
/* Drops log_info lines while on (nested): nightly counts the files already ingested instead of
 * listing them. */
void log_mute_info(int on);

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
