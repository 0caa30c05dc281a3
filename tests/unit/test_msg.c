/* test_msg.c — the engines' message sink (msg.h): a command's own sink receives each line whole,
 * formatted, with its kind; nothing is cut at any length. */
#include <stdlib.h>

#include "check.h"
#include "msg.h"

struct seen {
	int n;
	enum msg_kind kind;
	char text[4096];
};

static void remember(void *ctx, enum msg_kind kind, const char *text)
{
	struct seen *s = ctx;
	s->n++;
	s->kind = kind;
	snprintf(s->text, sizeof s->text, "%s", text);
}

TEST(lines_reach_the_sink)
{
	struct seen s = { 0 };
	const struct msg_sink sink = { remember, &s };
	msg_say(&sink, MSG_WARNING, "%s: ignoring %zu unknown column%s", "a.csv", (size_t)2, "s");
	CHECK_I64(s.n, 1);
	CHECK_I64(s.kind, MSG_WARNING);
	CHECK_STR(s.text, "a.csv: ignoring 2 unknown columns");
	msg_say(&sink, MSG_REJECT, "%s:%d: %s", "b.csv", 42, "amount: \"12,50\" is not a decimal number");
	CHECK_I64(s.kind, MSG_REJECT);
	CHECK_STR(s.text, "b.csv:42: amount: \"12,50\" is not a decimal number");
	msg_progress_end(&sink);
	CHECK_I64(s.n, 3);
	CHECK_I64(s.kind, MSG_PROGRESS_END);
	CHECK_STR(s.text, "");
}

TEST(long_lines_whole)
{
	struct seen s = { 0 };
	const struct msg_sink sink = { remember, &s };
	char name[3000];
	memset(name, 'x', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	msg_say(&sink, MSG_INFO, "%s: done", name);
	CHECK_I64(strlen(s.text), sizeof name - 1 + strlen(": done"));
	CHECK(strcmp(s.text + sizeof name - 1, ": done") == 0);
}

int main(void)
{
	RUN(lines_reach_the_sink);
	RUN(long_lines_whole);
	return CHECK_EXIT;
}
