/* signals.h — SIGINT and SIGTERM: stop cleanly (SPEC §6, §7; README "Exit codes").
 *
 * signals_install (main, first thing) catches both. The handler only records the signal and, when
 * a query is running, asks the server to cancel it (PQcancel is async-signal-safe). From then on
 * every query helper of db.c refuses to start (signals_check), so the command fails the ordinary
 * way: its transaction rolls back, staged report directories are removed, the connection closes
 * and an embedded server this command started is stopped. main then exits 128 + the signal
 * (130 for SIGINT, 143 for SIGTERM) instead of the command's code. A second signal while that
 * runs kills the process at once (the default action); the database is safe either way, and the
 * embedded server's watchdog (pgembed.c) stops a server its command left behind.
 */
#ifndef SETTLE_SIGNALS_H
#define SETTLE_SIGNALS_H

#include <libpq-fe.h>

#include "err.h"

void signals_install(void);
/* The connection whose running query a signal cancels; NULL when it closes. */
void signals_watch(PGconn *conn);
/* The signal received (SIGINT, SIGTERM), or 0. */
int signals_received(void);
/* 0, or -1 with e filled ("interrupted by SIGTERM") once a signal was received. */
int signals_check(struct err *e);
/* What main returns: code, or 128 + the signal when one was received. */
int signals_exit_code(int code);

#endif
