/* msg.h — how the modules below the commands (run.c, ingest.c, reconcile.c, report_set.c,
 * contain.c) tell the user something.
 *
 * They never print. Each line they have for the user goes to a sink, a callback and its context,
 * that the command owns (cmd_*.c) and passes down in the options or input struct it already hands
 * over (report_job.msg, ingest_options.msg, report_set_input.msg, contain_*'s and reconcile_period's
 * msg). The command decides where a line goes; every command today passes msg_log, which writes it with log.h exactly as before
 * ("settle: <command>: ..." on stderr, --quiet and muting applied), so output is unchanged. A test
 * or a future caller (a daemon, a JSON log) passes its own sink instead. A NULL sink is msg_log.
 *
 * The kinds are log.h's: an informational line (dropped by --quiet), a warning, a quarantined row
 * or file (addressed by file and line, SPEC §7), and the transient progress line of a terminal
 * (MSG_PROGRESS_END, msg_progress_end, ends it; its text is ""). Text is one line without its newline and is not yet
 * escaped: the sink escapes control bytes (log.h does). Benchmark timings (log_phase) are not
 * messages and stay in log.h.
 */
#ifndef SETTLE_MSG_H
#define SETTLE_MSG_H

enum msg_kind { MSG_INFO, MSG_WARNING, MSG_REJECT, MSG_PROGRESS, MSG_PROGRESS_END };

struct msg_sink {
	void (*line)(void *ctx, enum msg_kind kind, const char *text);
	void *ctx;
};

/* The commands' sink: log_info, log_warning, log_reject, log_progress, log_progress_done. */
extern const struct msg_sink msg_log;

/* Formats one line and hands it to sink (NULL: msg_log). */
void msg_say(const struct msg_sink *sink, enum msg_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Ends a progress line: MSG_PROGRESS_END with text "". */
void msg_progress_end(const struct msg_sink *sink);

#endif
