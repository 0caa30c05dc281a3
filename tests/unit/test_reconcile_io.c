/* test_reconcile_io.c — reconcile's small tools over rows (reconcile_io.h): the "smallest
 * non-empty value" of SPEC §4.2 that a charge group keeps of its rows, and the strict integers. */
#include <stdlib.h>

#include "check.h"
#include "reconcile_io.h"

/* The value a group ends with after seeing cands[0..n) in that order. */
static const char *smallest_of(struct rio_str *s, const char *const *cands, size_t n)
{
	struct err e;
	if (rio_str_set(s, "", &e) < 0)
		abort();
	for (size_t i = 0; i < n; i++)
		if (rio_str_keep_smallest(s, cands[i], &e) < 0)
			abort();
	return s->s;
}

TEST(smallest_non_empty)
{
	struct rio_str s = { 0 };
	CHECK_STR(smallest_of(&s, (const char *[]){ NULL, NULL }, 2), "");
	CHECK_STR(smallest_of(&s, (const char *[]){ "", "" }, 2), "");
	CHECK_STR(smallest_of(&s, (const char *[]){ NULL, "b" }, 2), "b");
	CHECK_STR(smallest_of(&s, (const char *[]){ "b", "" }, 2), "b");
	CHECK_STR(smallest_of(&s, (const char *[]){ "b", "a" }, 2), "a");
	CHECK_STR(smallest_of(&s, (const char *[]){ "a", "b" }, 2), "a");
	/* byte order, not locale order: upper case sorts before lower case, "B" < "a" */
	CHECK_STR(smallest_of(&s, (const char *[]){ "a", "B" }, 2), "B");
	CHECK_STR(smallest_of(&s, (const char *[]){ "agmt-10", "agmt-9" }, 2), "agmt-10");
	/* a longer value first, then a shorter smaller one: the buffer is reused, not stale */
	CHECK_STR(smallest_of(&s, (const char *[]){ "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "", "a" }, 3), "a");
	CHECK_I64(s.len, 1);
	rio_str_free(&s);
}

TEST(strict_integers)
{
	int64_t v;
	int32_t d;
	CHECK(rio_i64("-42", &v) == 0 && v == -42);
	CHECK(rio_i64("9223372036854775807", &v) == 0 && v == INT64_MAX);
	CHECK(rio_i64("9223372036854775808", &v) != 0);
	CHECK(rio_i64("", &v) != 0);
	CHECK(rio_i64("1 ", &v) != 0);
	CHECK(rio_i32("20000", &d) == 0 && d == 20000);
	CHECK(rio_i32("2147483648", &d) != 0);
}

int main(void)
{
	RUN(smallest_non_empty);
	RUN(strict_integers);
	return CHECK_EXIT;
}
