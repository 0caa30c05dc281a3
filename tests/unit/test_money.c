/* test_money.c — money.h: parse, format, checked arithmetic, rounding, allocation (SPEC §2). */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "money.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define SENTINEL INT64_C(0x5e771e5e771e)

/* ---------------------------------------------------------------------------------------------
 * money_parse
 */

static const struct parse_case {
	const char *text;
	enum money_status status;
	int64_t micros;
} parse_cases[] = {
	/* accepted */
	{"0", MONEY_OK, 0},
	{"-0", MONEY_OK, 0},
	{"-0.000", MONEY_OK, 0},
	{"0.0", MONEY_OK, 0},
	{"1", MONEY_OK, 1000000},
	{"-1", MONEY_OK, -1000000},
	{"1.5", MONEY_OK, 1500000},
	{"12.50", MONEY_OK, 12500000},
	{"44018.10", MONEY_OK, 44018100000},
	{"-40757.50", MONEY_OK, -40757500000},
	{"1426.5125", MONEY_OK, 1426512500},
	{"0.000001", MONEY_OK, 1},
	{"-0.000001", MONEY_OK, -1},
	{"1.50000000", MONEY_OK, 1500000},
	{"1.000000000000000000000000000000000000000000", MONEY_OK, 1000000},
	{"000000000000000000000000000000000000001.25", MONEY_OK, 1250000},
	{"-000000000000000000000000000000000000001.25", MONEY_OK, -1250000},
	{"00000000000000000000000000000000", MONEY_OK, 0},
	{"999999999999.999999", MONEY_OK, 999999999999999999},
	{"-999999999999.999999", MONEY_OK, -999999999999999999},
	{"999999999999", MONEY_OK, 999999999999000000},
	{"0000000000000999999999999.9999990000000000", MONEY_OK, 999999999999999999},
	/* grammar: SPEC §2 says nothing but -?[0-9]+(\.[0-9]+)? */
	{"", MONEY_BAD_AMOUNT, 0},
	{"+1", MONEY_BAD_AMOUNT, 0},
	{" 1", MONEY_BAD_AMOUNT, 0},
	{"1 ", MONEY_BAD_AMOUNT, 0},
	{"\t1", MONEY_BAD_AMOUNT, 0},
	{"1\n", MONEY_BAD_AMOUNT, 0},
	{"1e5", MONEY_BAD_AMOUNT, 0},
	{"1E5", MONEY_BAD_AMOUNT, 0},
	{"1.5e-3", MONEY_BAD_AMOUNT, 0},
	{"1,000", MONEY_BAD_AMOUNT, 0},
	{"12,50", MONEY_BAD_AMOUNT, 0},
	{"1_000", MONEY_BAD_AMOUNT, 0},
	{"1 000", MONEY_BAD_AMOUNT, 0},
	{"$1", MONEY_BAD_AMOUNT, 0},
	{"1$", MONEY_BAD_AMOUNT, 0},
	{"USD 1", MONEY_BAD_AMOUNT, 0},
	{".5", MONEY_BAD_AMOUNT, 0},
	{"-.5", MONEY_BAD_AMOUNT, 0},
	{"5.", MONEY_BAD_AMOUNT, 0},
	{"-5.", MONEY_BAD_AMOUNT, 0},
	{".", MONEY_BAD_AMOUNT, 0},
	{"-", MONEY_BAD_AMOUNT, 0},
	{"--1", MONEY_BAD_AMOUNT, 0},
	{"-+1", MONEY_BAD_AMOUNT, 0},
	{"- 1", MONEY_BAD_AMOUNT, 0},
	{"1-", MONEY_BAD_AMOUNT, 0},
	{"(1)", MONEY_BAD_AMOUNT, 0},
	{"1.2.3", MONEY_BAD_AMOUNT, 0},
	{"1..2", MONEY_BAD_AMOUNT, 0},
	{"1.-5", MONEY_BAD_AMOUNT, 0},
	{"0x10", MONEY_BAD_AMOUNT, 0},
	{"NaN", MONEY_BAD_AMOUNT, 0},
	{"inf", MONEY_BAD_AMOUNT, 0},
	{"\xd9\xa1", MONEY_BAD_AMOUNT, 0},             /* ARABIC-INDIC DIGIT ONE */
	{"\xef\xbc\x91", MONEY_BAD_AMOUNT, 0},         /* FULLWIDTH DIGIT ONE */
	{"1.0000001e12", MONEY_BAD_AMOUNT, 0},         /* grammar is judged first */
	{"99999999999999999999999x", MONEY_BAD_AMOUNT, 0},
	/* precision: extra digits must be zeros, never rounded */
	{"1.0000001", MONEY_PRECISION, 0},
	{"0.0000005", MONEY_PRECISION, 0},
	{"-0.0000001", MONEY_PRECISION, 0},
	{"1.00000000000000000000000000001", MONEY_PRECISION, 0},
	{"1.1234567", MONEY_PRECISION, 0},
	{"1000000000000.0000001", MONEY_PRECISION, 0}, /* precision is judged before range */
	/* range: |amount| < 10^12 units */
	{"1000000000000", MONEY_RANGE, 0},
	{"-1000000000000", MONEY_RANGE, 0},
	{"1000000000000.0", MONEY_RANGE, 0},
	{"1000000000000.000001", MONEY_RANGE, 0},
	{"9223372036854.775807", MONEY_RANGE, 0},
	{"18446744073709551616", MONEY_RANGE, 0},      /* 2^64 */
	{"99999999999999999999999999999999999999999", MONEY_RANGE, 0},
	{"-99999999999999999999999999999999999999999.5", MONEY_RANGE, 0},
};

TEST(parse_table)
{
	for (size_t i = 0; i < N_OF(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		int64_t out = SENTINEL;
		enum money_status st = money_parse(c->text, strlen(c->text), &out);
		if (st != c->status || (st == MONEY_OK && out != c->micros) || (st != MONEY_OK && out != SENTINEL)) {
			printf("  case \"%s\": status %d (expected %d), out %" PRId64 "\n", c->text, (int)st,
			       (int)c->status, out);
			check_failed_++;
		}
	}
}

/* Thousands of digits must neither overflow nor be slow: only significant digits are counted. */
TEST(parse_huge_digit_strings)
{
	static char text[5000];
	int64_t out = SENTINEL;

	memset(text, '9', sizeof text);
	CHECK_I64(money_parse(text, sizeof text, &out), MONEY_RANGE);
	memset(text, '0', sizeof text);
	text[sizeof text - 1] = '7';
	CHECK_I64(money_parse(text, sizeof text, &out), MONEY_OK);
	CHECK_I64(out, 7000000);
	/* "1." followed by thousands of zeros is exact */
	text[0] = '1';
	text[1] = '.';
	memset(text + 2, '0', sizeof text - 2);
	CHECK_I64(money_parse(text, sizeof text, &out), MONEY_OK);
	CHECK_I64(out, 1000000);
	text[sizeof text - 1] = '1';
	out = SENTINEL;
	CHECK_I64(money_parse(text, sizeof text, &out), MONEY_PRECISION);
	CHECK_I64(out, SENTINEL);
}

/* The length is the contract, not a NUL: a field from a CSV buffer is not terminated. */
TEST(parse_respects_len)
{
	int64_t out = SENTINEL;

	CHECK_I64(money_parse("12345", 3, &out), MONEY_OK);
	CHECK_I64(out, 123000000);
	CHECK_I64(money_parse("1.5x", 3, &out), MONEY_OK);
	CHECK_I64(out, 1500000);
	CHECK_I64(money_parse("1\0" "5", 3, &out), MONEY_BAD_AMOUNT); /* embedded NUL */
	CHECK_I64(money_parse("1\0", 2, &out), MONEY_BAD_AMOUNT);
	CHECK_I64(money_parse("1.", 2, &out), MONEY_BAD_AMOUNT);
	CHECK_I64(money_parse("-", 0, &out), MONEY_BAD_AMOUNT);
	CHECK_I64(out, 1500000);
}

/* ---------------------------------------------------------------------------------------------
 * money_parse_pct
 */

#define PCT_100 INT64_C(1000000)

static const struct pct_case {
	const char *text;
	int64_t max_e4;
	enum money_status status;
	int64_t rate_micros;
} pct_cases[] = {
	{"3.5", PCT_100, MONEY_OK, 35000},
	{"8", PCT_100, MONEY_OK, 80000},
	{"0.5", PCT_100, MONEY_OK, 5000},
	{"0", PCT_100, MONEY_OK, 0},
	{"0003.5", PCT_100, MONEY_OK, 35000},
	{"0.0001", PCT_100, MONEY_OK, 1},
	{"12.3400", PCT_100, MONEY_OK, 123400},
	{"12.3400000000", PCT_100, MONEY_OK, 123400},
	{"100", PCT_100, MONEY_OK, 1000000},
	{"100.0000", PCT_100, MONEY_OK, 1000000},
	{"0", 0, MONEY_OK, 0},
	{"922337203685477.5807", INT64_MAX, MONEY_OK, INT64_MAX},
	/* range */
	{"100.0001", PCT_100, MONEY_RANGE, 0},
	{"101", PCT_100, MONEY_RANGE, 0},
	{"0.0001", 0, MONEY_RANGE, 0},
	{"922337203685477.5808", INT64_MAX, MONEY_RANGE, 0},
	{"99999999999999999999999999999", INT64_MAX, MONEY_RANGE, 0},
	/* precision: at most 4 decimals (SPEC §2) */
	{"0.12345", PCT_100, MONEY_PRECISION, 0},
	{"3.50001", PCT_100, MONEY_PRECISION, 0},
	{"3.500000001", PCT_100, MONEY_PRECISION, 0},
	/* grammar, and any minus sign */
	{"-1", PCT_100, MONEY_BAD_AMOUNT, 0},
	{"-0", PCT_100, MONEY_BAD_AMOUNT, 0},
	{"-0.5", PCT_100, MONEY_BAD_AMOUNT, 0},
	{"", PCT_100, MONEY_BAD_AMOUNT, 0},
	{"+3", PCT_100, MONEY_BAD_AMOUNT, 0},
	{"3%", PCT_100, MONEY_BAD_AMOUNT, 0},
	{"3 %", PCT_100, MONEY_BAD_AMOUNT, 0},
	{"8,5", PCT_100, MONEY_BAD_AMOUNT, 0},
	{".5", PCT_100, MONEY_BAD_AMOUNT, 0},
	{"5.", PCT_100, MONEY_BAD_AMOUNT, 0},
	{"5e1", PCT_100, MONEY_BAD_AMOUNT, 0},
	{" 5", PCT_100, MONEY_BAD_AMOUNT, 0},
};

TEST(parse_pct_table)
{
	for (size_t i = 0; i < N_OF(pct_cases); i++) {
		const struct pct_case *c = &pct_cases[i];
		int64_t out = SENTINEL;
		enum money_status st = money_parse_pct(c->text, strlen(c->text), c->max_e4, &out);
		if (st != c->status || (st == MONEY_OK && out != c->rate_micros) || (st != MONEY_OK && out != SENTINEL)) {
			printf("  case \"%s\" max %" PRId64 ": status %d (expected %d), out %" PRId64 "\n", c->text,
			       c->max_e4, (int)st, (int)c->status, out);
			check_failed_++;
		}
	}
}

/* ---------------------------------------------------------------------------------------------
 * money_format
 */

static const struct format_case {
	int64_t micros;
	int minor_units;
	const char *text;
} format_cases[] = {
	{44018100000, 2, "44018.10"},
	{1426512500, 2, "1426.5125"},
	{-1, 2, "-0.000001"},
	{1200000000, 0, "1200"},
	{0, 2, "0.00"},
	{0, 0, "0"},
	{0, 3, "0.000"},
	{0, 6, "0.000000"},
	{-10000, 2, "-0.01"},
	{-5000, 2, "-0.005"},
	{1, 0, "0.000001"},
	{1500000, 0, "1.5"},
	{1500000, 3, "1.500"},
	{1000, 3, "0.001"},
	{-40757500000, 2, "-40757.50"},
	{3244371852, 2, "3244.371852"},
	{-203787037, 2, "-203.787037"},
	{3244370000, 2, "3244.37"},
	{100000000, 6, "100.000000"},
	{999999999999999999, 2, "999999999999.999999"},
	{INT64_MAX, 2, "9223372036854.775807"},
	{INT64_MIN, 2, "-9223372036854.775808"},
	{INT64_MIN, 0, "-9223372036854.775808"},
	{INT64_MIN + 775808, 0, "-9223372036854"},
	{INT64_MIN + 775808, 2, "-9223372036854.00"},
};

TEST(format_table)
{
	for (size_t i = 0; i < N_OF(format_cases); i++) {
		char buf[MONEY_FORMAT_MAX];
		size_t n = money_format(format_cases[i].micros, format_cases[i].minor_units, buf);
		CHECK_STR(buf, format_cases[i].text);
		CHECK_I64(n, strlen(format_cases[i].text));
	}
}

/* ---------------------------------------------------------------------------------------------
 * Checked arithmetic
 */

enum arith_op { OP_ADD, OP_SUB, OP_NEG, OP_MUL_QTY };

static const struct arith_case {
	enum arith_op op;
	int64_t a, b;
	enum money_status status;
	int64_t result;
} arith_cases[] = {
	{OP_ADD, 1, 2, MONEY_OK, 3},
	{OP_ADD, -44018100000, 44018100000, MONEY_OK, 0},
	{OP_ADD, INT64_MAX, INT64_MIN, MONEY_OK, -1},
	{OP_ADD, INT64_MAX, 0, MONEY_OK, INT64_MAX},
	{OP_ADD, INT64_MAX, 1, MONEY_OVERFLOW, 0},
	{OP_ADD, INT64_MIN, -1, MONEY_OVERFLOW, 0},
	{OP_ADD, INT64_MAX, INT64_MAX, MONEY_OVERFLOW, 0},
	{OP_ADD, INT64_MIN, INT64_MIN, MONEY_OVERFLOW, 0},
	{OP_SUB, 5, 7, MONEY_OK, -2},
	{OP_SUB, INT64_MIN, 0, MONEY_OK, INT64_MIN},
	{OP_SUB, -1, INT64_MAX, MONEY_OK, INT64_MIN},
	{OP_SUB, INT64_MIN, 1, MONEY_OVERFLOW, 0},
	{OP_SUB, 0, INT64_MIN, MONEY_OVERFLOW, 0},
	{OP_SUB, INT64_MAX, -1, MONEY_OVERFLOW, 0},
	{OP_SUB, -2, INT64_MAX, MONEY_OVERFLOW, 0},
	{OP_NEG, 5, 0, MONEY_OK, -5},
	{OP_NEG, 0, 0, MONEY_OK, 0},
	{OP_NEG, INT64_MAX, 0, MONEY_OK, -INT64_MAX},
	{OP_NEG, -INT64_MAX, 0, MONEY_OK, INT64_MAX},
	{OP_NEG, INT64_MIN, 0, MONEY_OVERFLOW, 0},
	{OP_MUL_QTY, 1500000, 3, MONEY_OK, 4500000},
	{OP_MUL_QTY, 1500000, -3, MONEY_OK, -4500000},
	{OP_MUL_QTY, 1, 0, MONEY_OK, 0},
	{OP_MUL_QTY, INT64_MIN, 0, MONEY_OK, 0},
	{OP_MUL_QTY, INT64_MIN, 1, MONEY_OK, INT64_MIN},
	{OP_MUL_QTY, INT64_MAX, -1, MONEY_OK, -INT64_MAX},
	{OP_MUL_QTY, 4611686018427387904, -2, MONEY_OK, INT64_MIN},
	{OP_MUL_QTY, 4611686018427387904, 2, MONEY_OVERFLOW, 0},
	{OP_MUL_QTY, INT64_MAX, 2, MONEY_OVERFLOW, 0},
	{OP_MUL_QTY, INT64_MIN, -1, MONEY_OVERFLOW, 0},
	{OP_MUL_QTY, -1, INT64_MIN, MONEY_OVERFLOW, 0},
	{OP_MUL_QTY, 3037000500, 3037000500, MONEY_OVERFLOW, 0},
	{OP_MUL_QTY, 3037000499, 3037000499, MONEY_OK, 9223372030926249001},
};

TEST(arith_table)
{
	for (size_t i = 0; i < N_OF(arith_cases); i++) {
		const struct arith_case *c = &arith_cases[i];
		int64_t out = SENTINEL;
		enum money_status st = MONEY_OK;
		switch (c->op) {
		case OP_ADD: st = money_add(c->a, c->b, &out); break;
		case OP_SUB: st = money_sub(c->a, c->b, &out); break;
		case OP_NEG: st = money_neg(c->a, &out); break;
		case OP_MUL_QTY: st = money_mul_qty(c->a, c->b, &out); break;
		}
		int64_t expected = c->status == MONEY_OK ? c->result : SENTINEL;
		if (st != c->status || out != expected) {
			printf("  case %zu (op %d, %" PRId64 ", %" PRId64 "): status %d, out %" PRId64 "\n", i,
			       (int)c->op, c->a, c->b, (int)st, out);
			check_failed_++;
		}
	}
}

/* ---------------------------------------------------------------------------------------------
 * Rounding: money_mul_rate and money_round, both modes, ties of both signs
 */

static const struct mul_rate_case {
	int64_t amount, rate;
	int64_t half_up, half_even; /* expected results */
	enum money_status status;
} mul_rate_cases[] = {
	/* the SPEC §9 expected fee: 44018.10 × 0.5 % = 220.0905, exact in micros */
	{44018100000, 5000, 220090500, 220090500, MONEY_OK},
	{1000000, 35000, 35000, 35000, MONEY_OK},
	/* ties: x.5 micros */
	{5, 500000, 3, 2, MONEY_OK},     /* 2.5 */
	{-5, 500000, -3, -2, MONEY_OK},  /* -2.5 */
	{5, -500000, -3, -2, MONEY_OK},  /* negative rate */
	{-5, -500000, 3, 2, MONEY_OK},
	{7, 500000, 4, 4, MONEY_OK},     /* 3.5 */
	{-7, 500000, -4, -4, MONEY_OK},  /* -3.5 */
	{1, 500000, 1, 0, MONEY_OK},     /* 0.5 */
	{-1, 500000, -1, 0, MONEY_OK},   /* -0.5 */
	{3, 500000, 2, 2, MONEY_OK},     /* 1.5 */
	/* not ties */
	{3, 333333, 1, 1, MONEY_OK},     /* 0.999999 */
	{-3, 333333, -1, -1, MONEY_OK},
	{1, 499999, 0, 0, MONEY_OK},
	{1, 500001, 1, 1, MONEY_OK},
	{-1, 500001, -1, -1, MONEY_OK},
	{5, 499999, 2, 2, MONEY_OK},     /* 2.499995 */
	{5, 500001, 3, 3, MONEY_OK},     /* 2.500005 */
	{0, INT64_MAX, 0, 0, MONEY_OK},
	/* bounds */
	{INT64_MAX, 1000000, INT64_MAX, INT64_MAX, MONEY_OK},
	{INT64_MIN, 1000000, INT64_MIN, INT64_MIN, MONEY_OK},
	{INT64_MAX, -1000000, -INT64_MAX, -INT64_MAX, MONEY_OK},
	{INT64_MAX, 1000001, 0, 0, MONEY_OVERFLOW},
	{INT64_MIN, -1000000, 0, 0, MONEY_OVERFLOW},
	{INT64_MAX, INT64_MAX, 0, 0, MONEY_OVERFLOW},
	{INT64_MIN, INT64_MIN, 0, 0, MONEY_OVERFLOW},
	{INT64_MIN, INT64_MAX, 0, 0, MONEY_OVERFLOW},
	/* just inside the bound */
	{4611686018427387903, 2000000, 9223372036854775806, 9223372036854775806, MONEY_OK},
	{INT64_MAX, 999999, 9223362813482738952, 9223362813482738952, MONEY_OK}, /* ...952.224193 */
};

TEST(mul_rate_table)
{
	for (size_t i = 0; i < N_OF(mul_rate_cases); i++) {
		const struct mul_rate_case *c = &mul_rate_cases[i];
		for (int mode = MONEY_HALF_UP; mode <= MONEY_HALF_EVEN; mode++) {
			int64_t out = SENTINEL;
			enum money_status st = money_mul_rate(c->amount, c->rate, (enum money_rounding)mode, &out);
			int64_t expected = c->status != MONEY_OK ? SENTINEL
					   : mode == MONEY_HALF_UP ? c->half_up : c->half_even;
			if (st != c->status || out != expected) {
				printf("  case %zu (%" PRId64 " × %" PRId64 ", %s): status %d, out %" PRId64
				       ", expected %" PRId64 "\n",
				       i, c->amount, c->rate, money_rounding_name((enum money_rounding)mode), (int)st,
				       out, expected);
				check_failed_++;
			}
		}
	}
}

/* The tie of a rounded product shows up only when the product has an exact .5 micro: a half
 * micro of the largest amounts must round like a small one. */
TEST(mul_rate_tie_near_bound)
{
	int64_t out;
	/* 9223372036854775807 × 0.5 = 4611686018427387903.5 */
	CHECK_I64(money_mul_rate(INT64_MAX, 500000, MONEY_HALF_UP, &out), MONEY_OK);
	CHECK_I64(out, 4611686018427387904);
	CHECK_I64(money_mul_rate(INT64_MAX, 500000, MONEY_HALF_EVEN, &out), MONEY_OK);
	CHECK_I64(out, 4611686018427387904);
	/* -9223372036854775807 × 0.5 = -4611686018427387903.5 */
	CHECK_I64(money_mul_rate(-INT64_MAX, 500000, MONEY_HALF_UP, &out), MONEY_OK);
	CHECK_I64(out, -4611686018427387904);
	/* (INT64_MAX - 2) × 0.5 = 4611686018427387902.5: even neighbour is below */
	CHECK_I64(money_mul_rate(INT64_MAX - 2, 500000, MONEY_HALF_EVEN, &out), MONEY_OK);
	CHECK_I64(out, 4611686018427387902);
	CHECK_I64(money_mul_rate(INT64_MAX - 2, 500000, MONEY_HALF_UP, &out), MONEY_OK);
	CHECK_I64(out, 4611686018427387903);
}

static const struct round_case {
	int64_t micros;
	int minor_units;
	int64_t half_up, half_even;
	enum money_status status;
} round_cases[] = {
	{2500000, 0, 3000000, 2000000, MONEY_OK},   /* 2.5 */
	{-2500000, 0, -3000000, -2000000, MONEY_OK}, /* -2.5 */
	{3500000, 0, 4000000, 4000000, MONEY_OK},   /* 3.5 */
	{-3500000, 0, -4000000, -4000000, MONEY_OK},
	{500000, 0, 1000000, 0, MONEY_OK},          /* 0.5 */
	{-500000, 0, -1000000, 0, MONEY_OK},
	{2499999, 0, 2000000, 2000000, MONEY_OK},
	{2500001, 0, 3000000, 3000000, MONEY_OK},
	{-2500001, 0, -3000000, -3000000, MONEY_OK},
	{5000, 2, 10000, 0, MONEY_OK},              /* 0.005 USD */
	{-5000, 2, -10000, 0, MONEY_OK},
	{15000, 2, 20000, 20000, MONEY_OK},         /* 0.015 */
	{25000, 2, 30000, 20000, MONEY_OK},         /* 0.025 */
	{-25000, 2, -30000, -20000, MONEY_OK},
	{4999, 2, 0, 0, MONEY_OK},
	{-4999, 2, 0, 0, MONEY_OK},
	{3244371852, 2, 3244370000, 3244370000, MONEY_OK}, /* SPEC §9 net payable */
	{40554648148, 2, 40554650000, 40554650000, MONEY_OK},
	{1234500, 3, 1235000, 1234000, MONEY_OK},   /* KWD 1.2345 */
	{1235500, 3, 1236000, 1236000, MONEY_OK},
	{-1234500, 3, -1235000, -1234000, MONEY_OK},
	{1234567, 3, 1235000, 1235000, MONEY_OK},
	{1234567, 6, 1234567, 1234567, MONEY_OK},
	{1234567, 5, 1234570, 1234570, MONEY_OK},
	{1234565, 5, 1234570, 1234560, MONEY_OK},
	{1234567, 1, 1200000, 1200000, MONEY_OK},
	{0, 0, 0, 0, MONEY_OK},
	/* bounds */
	{INT64_MAX, 6, INT64_MAX, INT64_MAX, MONEY_OK},
	{INT64_MIN, 6, INT64_MIN, INT64_MIN, MONEY_OK},
	{9223372036854499999, 0, 9223372036854000000, 9223372036854000000, MONEY_OK},
	{-9223372036854499999, 0, -9223372036854000000, -9223372036854000000, MONEY_OK},
	{9223372036854775000, 3, 9223372036854775000, 9223372036854775000, MONEY_OK},
	{INT64_MAX, 0, 0, 0, MONEY_OVERFLOW},       /* ...854.775807 -> ...855 */
	{INT64_MAX, 1, 0, 0, MONEY_OVERFLOW},       /* -> ...854.8 */
	{INT64_MAX, 2, 0, 0, MONEY_OVERFLOW},       /* -> ...854.78 */
	{INT64_MAX, 5, 0, 0, MONEY_OVERFLOW},       /* -> ...854.77581 */
	{INT64_MIN, 0, 0, 0, MONEY_OVERFLOW},
	{INT64_MIN, 2, 0, 0, MONEY_OVERFLOW},
	{INT64_MIN, 5, 0, 0, MONEY_OVERFLOW},       /* ...854.775808 -> ...854.77581 */
};

TEST(round_table)
{
	for (size_t i = 0; i < N_OF(round_cases); i++) {
		const struct round_case *c = &round_cases[i];
		for (int mode = MONEY_HALF_UP; mode <= MONEY_HALF_EVEN; mode++) {
			int64_t out = SENTINEL;
			enum money_status st = money_round(c->micros, c->minor_units, (enum money_rounding)mode, &out);
			int64_t expected = c->status != MONEY_OK ? SENTINEL
					   : mode == MONEY_HALF_UP ? c->half_up : c->half_even;
			if (st != c->status || out != expected) {
				printf("  case %zu (%" PRId64 " to %d, %s): status %d, out %" PRId64 ", expected %" PRId64
				       "\n",
				       i, c->micros, c->minor_units, money_rounding_name((enum money_rounding)mode),
				       (int)st, out, expected);
				check_failed_++;
			}
		}
	}
}

/* ---------------------------------------------------------------------------------------------
 * money_alloc
 */

static const struct alloc_case {
	const char *what;
	int64_t total;
	size_t n;
	int64_t weights[8];
	int64_t parts[8];
} alloc_cases[] = {
	{"SPEC §9 listing fee", -220090000, 2, {1000000, 80000}, {-203787037, -16302963}},
	{"SPEC §9 seller tax", 1010000, 2, {1000000, 80000}, {935185, 74815}},
	{"SPEC §9 revenue", 44018100000, 2, {1000000, 80000}, {40757500000, 3260600000}},
	{"tie to the lower index", 1, 2, {1, 1}, {1, 0}},
	{"tie to the lower index, negative", -1, 2, {1, 1}, {-1, 0}},
	{"two ties", 2, 3, {1, 1, 1}, {1, 1, 0}},
	{"5 over 3", 5, 3, {1, 1, 1}, {2, 2, 1}},
	{"-5 over 3", -5, 3, {1, 1, 1}, {-2, -2, -1}},
	{"tie between later parties", 2, 3, {2, 1, 1}, {1, 1, 0}},
	{"largest remainder beats index", 1, 3, {1, 1, 2}, {0, 0, 1}},
	{"zero weights", 100, 3, {0, 1, 0}, {0, 100, 0}},
	{"zero weights exact", 7, 4, {0, 3, 0, 4}, {0, 3, 0, 4}},
	{"zero weight gets no micro", 1, 3, {0, 1, 1}, {0, 1, 0}},
	{"zero weight first", -3, 3, {0, 1, 1}, {0, -2, -1}},
	{"single party", 123456789, 1, {5}, {123456789}},
	{"single party negative", -123456789, 1, {1}, {-123456789}},
	{"total zero", 0, 3, {1, 2, 3}, {0, 0, 0}},
	{"one micro", 1, 2, {1, 2}, {0, 1}},
	{"minus one micro", -1, 2, {1, 2}, {0, -1}},
	{"INT64_MAX halves", INT64_MAX, 2, {1, 1}, {4611686018427387904, 4611686018427387903}},
	{"INT64_MIN halves", INT64_MIN, 2, {1, 1}, {-4611686018427387904, -4611686018427387904}},
	{"INT64_MIN whole", INT64_MIN, 1, {INT64_MAX}, {INT64_MIN}},
	{"INT64_MAX whole", INT64_MAX, 2, {0, INT64_MAX}, {0, INT64_MAX}},
	{"INT64_MIN, huge weights", INT64_MIN, 3, {INT64_MAX, INT64_MAX, INT64_MAX},
	 {-3074457345618258603, -3074457345618258603, -3074457345618258602}},
	{"INT64_MAX, huge weights", INT64_MAX, 3, {INT64_MAX, INT64_MAX, 1},
	 {4611686018427387903, 4611686018427387903, 1}},
	{"thirds", 100, 3, {1, 1, 1}, {34, 33, 33}},
	{"uneven", 1000, 3, {1, 2, 4}, {143, 286, 571}},
};

TEST(alloc_table)
{
	for (size_t i = 0; i < N_OF(alloc_cases); i++) {
		const struct alloc_case *c = &alloc_cases[i];
		int64_t out[8];
		money_alloc(c->total, c->weights, c->n, out);
		for (size_t k = 0; k < c->n; k++) {
			if (out[k] != c->parts[k]) {
				printf("  %s: part %zu = %" PRId64 ", expected %" PRId64 "\n", c->what, k, out[k],
				       c->parts[k]);
				check_failed_++;
			}
		}
	}
}

/* The largest number of parties, and the micros spread by index over equal remainders. */
TEST(alloc_max_parties)
{
	int64_t weights[MONEY_ALLOC_MAX], out[MONEY_ALLOC_MAX];
	for (size_t i = 0; i < MONEY_ALLOC_MAX; i++)
		weights[i] = 1;
	money_alloc(100, weights, MONEY_ALLOC_MAX, out);
	for (size_t i = 0; i < MONEY_ALLOC_MAX; i++)
		CHECK_I64(out[i], i < 36 ? 2 : 1);
	for (size_t i = 0; i < MONEY_ALLOC_MAX; i++)
		weights[i] = INT64_MAX;
	money_alloc(INT64_MIN, weights, MONEY_ALLOC_MAX, out); /* W = 64 × (2^63 - 1) */
	for (size_t i = 0; i < MONEY_ALLOC_MAX; i++)
		CHECK_I64(out[i], -(INT64_C(1) << 57));
}

/* splitmix64 (Steele, Lea, Flood 2014): small, seedable, the same sequence everywhere. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t rng_below(uint64_t n)
{
	return rng_next() % n; /* the bias is irrelevant for a test */
}

/* A total drawn across magnitudes: zero, ±1 micro, the int64 bounds, small amounts and any bit
 * length up to 63, both signs. */
static int64_t random_total(void)
{
	switch (rng_below(10)) {
	case 0: return 0;
	case 1: return rng_below(2) ? 1 : -1;
	case 2: {
		static const int64_t edges[] = {INT64_MIN, INT64_MIN + 1, INT64_MAX, INT64_MAX - 1,
						 999999999999999999, -999999999999999999};
		return edges[rng_below(N_OF(edges))];
	}
	case 3: return (int64_t)rng_below(2000001) - 1000000;
	default: {
		int bits = 1 + (int)rng_below(63);
		int64_t magnitude = (int64_t)(rng_next() >> (64 - bits));
		return rng_below(2) ? -magnitude : magnitude;
	}
	}
}

/* 1..50 parties; half of the draws have the 1..4 parties real charge groups have, which also
 * keeps 10^6 runs fast under ASan. Weights with W < 2^62, so that part·W and T·w_i stay exact in
 * __int128 for the check: about a fifth zeros, then small, medium or large values. */
static size_t random_weights(int64_t *w)
{
	size_t n = 1 + (size_t)rng_below(rng_below(2) ? 4 : 50);
	const uint64_t large_max = (UINT64_C(1) << 62) / 50;
	int64_t sum = 0;

	for (size_t i = 0; i < n; i++) {
		switch (rng_below(5)) {
		case 0: w[i] = 0; break;
		case 1: w[i] = (int64_t)rng_below(11); break;
		case 2: w[i] = (int64_t)rng_below(1000001); break;
		case 3: w[i] = (int64_t)rng_below(large_max); break;
		default: w[i] = 1 + (int64_t)rng_below(100); break;
		}
		sum += w[i];
	}
	if (sum == 0)
		w[rng_below(n)] = 1 + (int64_t)rng_below(1000);
	return n;
}

static unsigned __int128 abs_i128(__int128 v)
{
	return v < 0 ? (unsigned __int128)-v : (unsigned __int128)v;
}

/* Party i precedes party j in SPEC §2's order for the extra micros: larger remainder first, ties
 * to the lower index. */
static int remainder_precedes(unsigned __int128 r_i, size_t i, unsigned __int128 r_j, size_t j)
{
	return r_i > r_j || (r_i == r_j && i < j);
}

/* Checks one allocation against SPEC §2 from the outside; returns the number of violations. */
static int alloc_violations(int64_t total, const int64_t *w, size_t n, const int64_t *parts)
{
	__int128 w_sum = 0, part_sum = 0;
	int bad = 0;
	/* the weakest party that got an extra micro, the strongest that did not */
	size_t weakest = n, strongest = n;
	unsigned __int128 weakest_r = 0, strongest_r = 0;

	for (size_t i = 0; i < n; i++)
		w_sum += w[i];
	unsigned __int128 a = abs_i128(total);
	for (size_t i = 0; i < n; i++) {
		part_sum += parts[i];
		/* within one micro of the exact share: |part·W − T·w_i| < W */
		if (abs_i128((__int128)parts[i] * w_sum - (__int128)total * w[i]) >= (unsigned __int128)w_sum)
			bad++;
		/* sign of T, and nothing for a zero weight */
		if ((total >= 0 && parts[i] < 0) || (total < 0 && parts[i] > 0) || (w[i] == 0 && parts[i] != 0))
			bad++;
		unsigned __int128 share = a * (unsigned __int128)w[i];
		unsigned __int128 q = share / (unsigned __int128)w_sum;
		unsigned __int128 r = share - q * (unsigned __int128)w_sum;
		if (abs_i128(parts[i]) > q) {
			if (weakest == n || remainder_precedes(weakest_r, weakest, r, i))
				weakest = i, weakest_r = r;
		} else if (strongest == n || remainder_precedes(r, i, strongest_r, strongest)) {
			strongest = i, strongest_r = r;
		}
	}
	if (part_sum != total)
		bad++;
	/* largest remainders got the extra micros: every receiver precedes every non-receiver */
	if (weakest != n && strongest != n && !remainder_precedes(weakest_r, weakest, strongest_r, strongest))
		bad++;
	return bad;
}

#define ALLOC_PROPERTY_RUNS 1000000
#define ALLOC_PROPERTY_SEED UINT64_C(20261003)

TEST(alloc_property)
{
	int64_t w[MONEY_ALLOC_MAX], parts[MONEY_ALLOC_MAX], neg_parts[MONEY_ALLOC_MAX];
	long failures = 0;

	rng_state = ALLOC_PROPERTY_SEED;
	printf("  alloc property: %d runs, seed %" PRIu64 "\n", ALLOC_PROPERTY_RUNS, ALLOC_PROPERTY_SEED);
	for (long run = 0; run < ALLOC_PROPERTY_RUNS && failures < 10; run++) {
		int64_t total = random_total();
		size_t n = random_weights(w);
		money_alloc(total, w, n, parts);
		int bad = alloc_violations(total, w, n, parts);
		/* alloc(−T) = −alloc(T), SPEC §2 step 3 (−INT64_MIN does not exist) */
		if (total != INT64_MIN) {
			money_alloc(-total, w, n, neg_parts);
			for (size_t i = 0; i < n; i++)
				bad += neg_parts[i] != -parts[i];
		}
		if (bad) {
			printf("  run %ld: total %" PRId64 ", n %zu: %d violations\n", run, total, n, bad);
			failures++;
		}
	}
	CHECK(failures == 0);
}

/* ---------------------------------------------------------------------------------------------
 * Round trip, conversions, names
 */

/* Every amount in the input range formats to a text that parses back to itself, for every
 * minor-unit count. */
TEST(format_parse_round_trip)
{
	rng_state = ALLOC_PROPERTY_SEED ^ 1;
	for (int run = 0; run < 200000; run++) {
		int64_t v = (int64_t)rng_below((uint64_t)MONEY_INPUT_LIMIT_MICROS);
		if (run % 3 == 0)
			v = (int64_t)rng_below(20000000);
		if (rng_below(2))
			v = -v;
		int minor_units = (int)rng_below(7);
		char buf[MONEY_FORMAT_MAX];
		int64_t back = SENTINEL;
		size_t len = money_format(v, minor_units, buf);
		if (money_parse(buf, len, &back) != MONEY_OK || back != v || strncmp(buf, "-0.00", 6) == 0) {
			printf("  %" PRId64 " (%d) -> \"%s\" -> %" PRId64 "\n", v, minor_units, buf, back);
			check_failed_++;
			break;
		}
	}
}

TEST(to_double_for_stats)
{
	CHECK(money_to_double_for_stats(0) == 0.0);
	CHECK(money_to_double_for_stats(1500000) == 1.5);
	CHECK(money_to_double_for_stats(-1500000) == -1.5);
	CHECK(money_to_double_for_stats(1) == 1e-6);
	CHECK(money_to_double_for_stats(-1) == -1e-6);
	CHECK(money_to_double_for_stats(44018100000) == 44018.1);
	CHECK(money_to_double_for_stats(-220090500) == -220.0905);
	CHECK(money_to_double_for_stats(999999999999999999) == 999999999999.999999);
	CHECK(money_to_double_for_stats(INT64_MAX) == 9223372036854.775807);
	CHECK(money_to_double_for_stats(INT64_MIN) == -9223372036854.775808);
}

TEST(status_text)
{
	CHECK_STR(money_status_text(MONEY_BAD_AMOUNT), "is not a decimal number");
	CHECK_STR(money_status_text(MONEY_PRECISION), "has more than 6 decimal places");
	CHECK_STR(money_status_text(MONEY_RANGE), "is out of range (|amount| must be below 10^12)");
	CHECK_STR(money_status_text(MONEY_OVERFLOW), "overflows");
	CHECK(strlen(money_status_text(MONEY_OK)) > 0);
	CHECK(strlen(money_status_text((enum money_status)99)) > 0);
}

TEST(rounding_names)
{
	enum money_rounding mode = MONEY_HALF_EVEN;

	CHECK_I64(money_rounding_parse("half_up", &mode), 0);
	CHECK_I64(mode, MONEY_HALF_UP);
	CHECK_I64(money_rounding_parse("half_even", &mode), 0);
	CHECK_I64(mode, MONEY_HALF_EVEN);
	CHECK_I64(money_rounding_parse("HALF_UP", &mode), -1);
	CHECK_I64(money_rounding_parse("half_up ", &mode), -1);
	CHECK_I64(money_rounding_parse("", &mode), -1);
	CHECK_I64(money_rounding_parse("half_down", &mode), -1);
	CHECK_I64(mode, MONEY_HALF_EVEN);
	CHECK_STR(money_rounding_name(MONEY_HALF_UP), "half_up");
	CHECK_STR(money_rounding_name(MONEY_HALF_EVEN), "half_even");
}

int main(void)
{
	RUN(parse_table);
	RUN(parse_huge_digit_strings);
	RUN(parse_respects_len);
	RUN(parse_pct_table);
	RUN(format_table);
	RUN(arith_table);
	RUN(mul_rate_table);
	RUN(mul_rate_tie_near_bound);
	RUN(round_table);
	RUN(alloc_table);
	RUN(alloc_max_parties);
	RUN(alloc_property);
	RUN(format_parse_round_trip);
	RUN(to_double_for_stats);
	RUN(status_text);
	RUN(rounding_names);
	return CHECK_EXIT;
}
