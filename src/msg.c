/* msg.c — the engine modules' message sink and its log.h implementation (see msg.h). */
#include "msg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "log.h"

static void msg_log_line(void *ctx, enum msg_kind kind, const char *text)
{
	(void)ctx;
	switch (kind) {
	case MSG_INFO: log_info("%s", text); return;
	case MSG_WARNING: log_warning("%s", text); return;
	case MSG_REJECT: log_reject("%s", text); return;
	case MSG_PROGRESS: log_progress("%s", text); return;
	case MSG_PROGRESS_END: log_progress_done(); return;
	}
	ASSERT(0);
}

const struct msg_sink msg_log = { msg_log_line, NULL };

void msg_say(const struct msg_sink *sink, enum msg_kind kind, const char *fmt, ...)
{
	if (!sink)
		sink = &msg_log;
	char small[1024], *text = small;
	va_list ap, again;
	va_start(ap, fmt);
	va_copy(again, ap);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	if (n >= (int)sizeof small && (text = malloc((size_t)n + 1)) != NULL)
		vsnprintf(text, (size_t)n + 1, fmt, again);
	va_end(again);
	va_end(ap);
	if (!text) /* out of memory: the line cut short beats none */
		text = small;
	sink->line(sink->ctx, kind, n < 0 ? "" : text);
	if (text != small)
		free(text);
}

void msg_progress_end(const struct msg_sink *sink)
{
	if (!sink)
		sink = &msg_log;
	sink->line(sink->ctx, MSG_PROGRESS_END, "");
}
