/* signals.c — SIGINT and SIGTERM (see signals.h). */
#include "signals.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t signals_got;
/* Written only with the signals blocked (signals_watch), read by the handler. */
static PGcancel *volatile signals_cancel;

static void signals_handler(int sig)
{
	if (signals_got) { /* the second: stop now */
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	signals_got = sig;
	PGcancel *c = signals_cancel;
	if (c) {
		char buf[256];
		(void)PQcancel(c, buf, sizeof buf);
	}
}

void signals_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = signals_handler;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGTERM);
	sa.sa_flags = SA_RESTART; /* blocking calls go on; the next query sees the flag */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

void signals_watch(PGconn *conn)
{
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	PGcancel *prev = signals_cancel;
	signals_cancel = conn ? PQgetCancel(conn) : NULL;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (prev)
		PQfreeCancel(prev);
}

int signals_received(void)
{
	return signals_got;
}

int signals_check(struct err *e)
{
	int sig = signals_got;
	if (!sig)
		return 0;
	return err_set(e, EXIT_FAILED, "interrupted by %s: rolled back", sig == SIGINT ? "SIGINT" : "SIGTERM");
}

int signals_exit_code(int code)
{
	int sig = signals_got;
	return sig ? 128 + sig : code;
}
