/* err.h — expected failures, carried as a value.
 *
 * A function that can fail for a reason the user must read (bad input, a lost connection, a full
 * disk, an overflow from input data) returns -1 and fills a struct err; it never prints. The
 * command at the top prints it once, in PostgreSQL's message style, and maps err.exit_code to the
 * process exit code (SPEC §7). Broken invariants are not errors: they hit ASSERT and abort, so the
 * open transaction commits nothing.
 */
#ifndef SETTLE_ERR_H
#define SETTLE_ERR_H

#include <stdio.h>
#include <stdlib.h>

/* Process exit codes, SPEC §7. */
enum settle_exit {
	EXIT_DONE = 0,        /* done */
	EXIT_FAILED = 1,      /* failed, nothing committed */
	EXIT_USAGE = 2,       /* usage or configuration error */
	EXIT_LOCKED = 3,      /* another run holds the lock */
	EXIT_QUARANTINED = 4, /* done, but input rows were quarantined */
	EXIT_PARTIAL = 5,     /* partly done: what succeeded is committed, the rest failed and was
			       * named (nightly: a period that could not be computed, a file that
			       * could not be read after earlier files were committed; ingest: a
			       * FILE that failed after earlier ones were committed) */
	/* Stopped by SIGINT or SIGTERM: 128 + the signal (130, 143), see signals.h. */
};

#define ERR_MSG_MAX 1024

struct err {
	int exit_code;         /* an enum settle_exit; EXIT_FAILED unless said otherwise */
	char msg[ERR_MSG_MAX]; /* one line, lower-case start, no trailing period */
};

/* Fills e (when not NULL) and returns -1, so that `return err_set(e, ...)` reads naturally. */
int err_set(struct err *e, int exit_code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prepends "what: " to an error already set, to add context on the way up. Returns -1. */
int err_prefix(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Always-on assertion: an invariant, not an input check. Aborts with file:line. */
#define ASSERT(cond)                                          \
	do {                                                  \
		if (!(cond))                                  \
			err_assert_fail(__FILE__, __LINE__, #cond); \
	} while (0)

/* ASSERT's failure: "settle: internal error: FILE:LINE: assertion "COND" failed" on stderr, then
 * abort(). Out of line, so that the only stderr of the modules is here and in log.c (an engine
 * that printed on its own would show in tests/integration/test_layers.sh). */
_Noreturn void err_assert_fail(const char *file, int line, const char *cond) __attribute__((cold));

#endif
