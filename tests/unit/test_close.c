/* test_close.c — close.h: the nightly summary's words for a closed period (SPEC §6.1) and the
 * compact as-of of a superseded set's name. */
#include <string.h>

#include "check.h"
#include "close.h"

#define NOV5_US INT64_C(1793836800000000) /* 2026-11-05T00:00:00Z */

static void add(struct close_view *cv, const char *cur, int ord, const char *measure, int64_t closed, int64_t now)
{
	struct close_measure *m = &cv->v[cv->n++];
	snprintf(m->currency, sizeof m->currency, "%s", cur);
	m->ord = ord;
	snprintf(m->measure, sizeof m->measure, "%s", measure);
	m->closed = closed;
	m->now = now;
	if (closed != now)
		cv->differs = 1;
}

static struct close_view cv; /* large: not on the stack */

TEST(note_as_closed)
{
	memset(&cv, 0, sizeof cv);
	cv.closed = 1;
	cv.close_as_of_us = NOV5_US;
	add(&cv, "USD", 1, "revenue", 100, 100);
	char buf[192];
	close_note(&cv, buf, sizeof buf);
	CHECK_STR(buf, "(closed 2026-11-05): as closed");
}

TEST(note_restated)
{
	memset(&cv, 0, sizeof cv);
	cv.closed = 1;
	cv.close_as_of_us = NOV5_US;
	add(&cv, "", 7, "exceptions", 1, 1);
	add(&cv, "JPY", 2, "listing_fee", -37500000000, -37530000000);
	add(&cv, "USD", 1, "revenue", 83190590000, 83290590000);
	add(&cv, "USD", 7, "exceptions", 10, 12);
	char buf[192];
	close_note(&cv, buf, sizeof buf);
	CHECK_STR(buf, "(closed 2026-11-05): restated: listing fee -30 JPY, revenue +100.00 USD, 2 more exceptions");
	cv.v[3].now = 9;
	close_note(&cv, buf, sizeof buf);
	CHECK_STR(buf, "(closed 2026-11-05): restated: listing fee -30 JPY, revenue +100.00 USD, 1 fewer exception");
}

/* SPEC §6.1: a late charge no offer claims (NO_OFFER) allocates nothing, so only what the buyers
 * were billed and the exceptions differ; amounts read as in the exception sentences. */
TEST(note_billed_grouped)
{
	memset(&cv, 0, sizeof cv);
	cv.closed = 1;
	cv.close_as_of_us = NOV5_US;
	add(&cv, "EUR", 1, "billed", 5000000000, 3765500000);
	add(&cv, "USD", 1, "billed", 140000000000, 141000000000);
	add(&cv, "USD", 2, "revenue", 132447940000, 132447940000);
	add(&cv, "USD", 8, "exceptions", 10, 11);
	char buf[192];
	close_note(&cv, buf, sizeof buf);
	CHECK_STR(buf, "(closed 2026-11-05): restated: billed -1,234.50 EUR, billed +1,000.00 USD, 1 more exception");
	cv.v[1].now = cv.v[1].closed + 1000000000000; /* a million more */
	cv.v[0].now = cv.v[0].closed;
	close_note(&cv, buf, sizeof buf);
	CHECK_STR(buf, "(closed 2026-11-05): restated: billed +1,000,000.00 USD, 1 more exception");
}

TEST(note_truncated)
{
	memset(&cv, 0, sizeof cv);
	cv.closed = 1;
	cv.close_as_of_us = NOV5_US;
	for (int i = 0; i < 20; i++)
		add(&cv, "USD", 1, "revenue", 0, 1000000 * (i + 1));
	char buf[96];
	close_note(&cv, buf, sizeof buf);
	CHECK(strlen(buf) < sizeof buf);
	CHECK(strcmp(buf + strlen(buf) - 5, ", ...") == 0);
}

TEST(compact_time)
{
	char t[32];
	close_compact_time(NOV5_US, t);
	CHECK_STR(t, "20261105T000000Z");
	close_compact_time(NOV5_US + 123456, t);
	CHECK_STR(t, "20261105T000000123456Z");
}

int main(void)
{
	RUN(note_as_closed);
	RUN(note_restated);
	RUN(note_billed_grouped);
	RUN(note_truncated);
	RUN(compact_time);
	return CHECK_EXIT;
}
