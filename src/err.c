/* err.c — filling struct err (see err.h). */
#include "err.h"

#include <stdarg.h>
#include <string.h>

int err_set(struct err *e, int exit_code, const char *fmt, ...)
{
	if (!e)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	e->exit_code = exit_code;
	/* One line per error (SPEC §7): a server message may end in a newline or span several. */
	for (char *p = e->msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = (p[1] ? ' ' : '\0');
	return -1;
}

int err_prefix(struct err *e, const char *fmt, ...)
{
	if (!e)
		return -1;
	char out[ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, sizeof out, fmt, ap);
	va_end(ap);
	/* "prefix: message", cut at ERR_MSG_MAX: a long message loses its tail, never its start. */
	size_t used = n < 0 ? 0 : (size_t)n < sizeof out ? (size_t)n : sizeof out - 1;
	size_t room = sizeof out - 1 - used;
	size_t sep = room < 2 ? room : 2;
	memcpy(out + used, ": ", sep);
	used += sep;
	room -= sep;
	size_t len = strlen(e->msg);
	if (len > room)
		len = room;
	memcpy(out + used, e->msg, len);
	out[used + len] = '\0';
	memcpy(e->msg, out, sizeof out);
	return -1;
}

void err_assert_fail(const char *file, int line, const char *cond)
{
	fprintf(stderr, "settle: internal error: %s:%d: assertion \"%s\" failed\n", file, line, cond);
	abort();
}
