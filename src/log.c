/* log.c — messages on stderr, "settle: <command>: ..." (see log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "escape.h"

static const char *log_command = NULL; /* a literal, set once by main */
static int log_tty = -1;               /* cached isatty(2), -1 = not asked yet */
static int log_progress_showing = 0;   /* a progress line without its newline is on screen */
static int log_quiet = 0;              /* --quiet: errors, warnings and summaries only */
static int log_muted = 0;              /* log_mute_info depth: informational lines dropped */

void log_set_quiet(int quiet)
{
	log_quiet = quiet;
}

void log_mute_info(int on)
{
	log_muted += on ? 1 : -1;
	ASSERT(log_muted >= 0);
}

void log_set_command(const char *command)
{
	log_command = command;
}

int log_is_tty(void)
{
	if (log_tty < 0) {
		/* SPEC §7: progress on a terminal only; TERM=dumb (an editor's shell, script(1) in
		 * cron) has no cursor movement either. */
		const char *term = getenv("TERM");
		log_tty = isatty(STDERR_FILENO) && !(term && strcmp(term, "dumb") == 0) ? 1 : 0;
	}
	return log_tty;
}

/* The message with its control bytes escaped (escape.h): a file name holding a newline or an
 * ESC must neither split the line nor reach the terminal. */
static void log_write_escaped(const char *fmt, va_list ap)
{
	char small[1024], *msg = small;
	va_list again;
	va_copy(again, ap);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	if (n >= (int)sizeof small && (msg = malloc((size_t)n + 1)) != NULL)
		vsnprintf(msg, (size_t)n + 1, fmt, again);
	va_end(again);
	if (!msg) { /* out of memory: the message cut short beats none */
		msg = small;
		n = (int)strlen(small);
	}
	if (n > 0)
		escape_fwrite(stderr, msg, (size_t)n);
	if (msg != small)
		free(msg);
}

static void log_line(const char *level, const char *fmt, va_list ap)
{
	if (log_progress_showing)
		log_progress_done();
	fputs("settle: ", stderr);
	if (log_command)
		fprintf(stderr, "%s: ", log_command);
	if (level)
		fprintf(stderr, "%s: ", level);
	log_write_escaped(fmt, ap);
	fputc('\n', stderr);
	fflush(stderr);
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_line("error", fmt, ap);
	va_end(ap);
}

void log_reject(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_line(NULL, fmt, ap);
	va_end(ap);
}

void log_summary(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_line(NULL, fmt, ap);
	va_end(ap);
}

void log_warning(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_line("warning", fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	if (log_quiet || log_muted)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_line(NULL, fmt, ap);
	va_end(ap);
}

void log_progress(const char *fmt, ...)
{
	if (log_quiet || !log_is_tty())
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("\r\033[K", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fflush(stderr);
	log_progress_showing = 1;
}

void log_progress_done(void)
{
	if (!log_progress_showing)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	log_progress_showing = 0;
}

double log_clock(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void log_phase(const char *area, const char *period, const char *phase, double since)
{
	const char *timing = getenv("SETTLE_RECONCILE_TIMING");
	if (timing && *timing && strcmp(timing, "0") != 0)
		fprintf(stderr, "settle: %s %s: %-22s %8.3f s\n", area, period, phase, log_clock() - since);
}
