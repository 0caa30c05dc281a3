/* check.h — the unit-test protocol of settle, small on purpose.
 *
 * A test binary is a list of TEST(name) functions registered in main() with RUN(name). Each
 * test prints one line "PASS: <file>: <name>" or "FAIL: <file>: <name>", preceded by the failed
 * checks' messages. tests/run.sh adds these lines up over every binary and script and prints the
 * final "N passed, N failed". CHECK records a failure and goes on; REQUIRE returns from the test.
 */
#ifndef SETTLE_CHECK_H
#define SETTLE_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_failed_;   /* failures in the current test */
static int check_tests_failed_;

#define TEST(name) static void test_##name(void)

#define CHECK(cond)                                                                     \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stdout, "  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			check_failed_++;                                                \
		}                                                                       \
	} while (0)

#define CHECK_I64(a, b)                                                                  \
	do {                                                                             \
		int64_t a_ = (int64_t)(a), b_ = (int64_t)(b);                            \
		if (a_ != b_) {                                                          \
			fprintf(stdout, "  %s:%d: %s == %" PRId64 ", expected %" PRId64 "\n", \
				__FILE__, __LINE__, #a, a_, b_);                         \
			check_failed_++;                                                 \
		}                                                                        \
	} while (0)

#define CHECK_STR(a, b)                                                                        \
	do {                                                                                   \
		const char *a_ = (a), *b_ = (b);                                               \
		if (strcmp(a_, b_) != 0) {                                                     \
			fprintf(stdout, "  %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, \
				#a, a_, b_);                                                   \
			check_failed_++;                                                       \
		}                                                                              \
	} while (0)

#define REQUIRE(cond)                     \
	do {                              \
		int before_ = check_failed_; \
		CHECK(cond);              \
		if (check_failed_ != before_) \
			return;           \
	} while (0)

#define RUN(name)                                                                   \
	do {                                                                        \
		check_failed_ = 0;                                                  \
		test_##name();                                                      \
		printf("%s: %s: %s\n", check_failed_ ? "FAIL" : "PASS", __FILE__, #name); \
		if (check_failed_)                                                  \
			check_tests_failed_++;                                      \
		fflush(stdout);                                                     \
	} while (0)

/* main() ends with `return CHECK_EXIT;` */
#define CHECK_EXIT (check_tests_failed_ ? 1 : 0)

#endif
