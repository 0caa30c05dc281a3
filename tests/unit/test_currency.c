/* test_currency.c — currency.h: the ISO 4217 table of SPEC §2. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "currency.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const struct currency_case {
	const char *code;
	size_t len;
	int minor_units;
	int64_t minor_unit_micros;
} currency_cases[] = {
	{"USD", 3, 2, 10000},
	{"EUR", 3, 2, 10000},
	{"GBP", 3, 2, 10000},
	{"AUD", 3, 2, 10000},
	{"INR", 3, 2, 10000},
	{"CAD", 3, 2, 10000},
	{"CHF", 3, 2, 10000},
	{"JPY", 3, 0, 1000000},
	{"KWD", 3, 3, 1000},
	{"BHD", 3, 3, 1000},
	{"USDX", 3, 2, 10000}, /* the length is the contract, not a NUL */
	/* unknown: exact upper case, exactly three letters */
	{"usd", 3, -1, -1},
	{"Usd", 3, -1, -1},
	{"US", 2, -1, -1},
	{"USD", 2, -1, -1},
	{"USDD", 4, -1, -1},
	{"USD ", 4, -1, -1},
	{" USD", 4, -1, -1},
	{"", 0, -1, -1},
	{"XXX", 3, -1, -1},
	{"XAU", 3, -1, -1},
	{"US\0", 3, -1, -1},
	{"$", 1, -1, -1},
};

TEST(minor_units_table)
{
	for (size_t i = 0; i < N_OF(currency_cases); i++) {
		const struct currency_case *c = &currency_cases[i];
		int units = currency_minor_units(c->code, c->len);
		int64_t micros = currency_minor_unit_micros(c->code, c->len);
		if (units != c->minor_units || micros != c->minor_unit_micros) {
			printf("  case \"%.*s\" (len %zu): %d, %" PRId64 "\n", (int)c->len, c->code, c->len, units, micros);
			check_failed_++;
		}
	}
}

TEST(null_code_is_unknown)
{
	CHECK_I64(currency_minor_units(NULL, 0), -1);
	CHECK_I64(currency_minor_unit_micros(NULL, 3), -1);
}

/* The list for messages names every known code, alphabetically, and only known codes. */
TEST(known_list)
{
	const char *list = currency_known_list();

	CHECK_STR(list, "AUD, BHD, CAD, CHF, EUR, GBP, INR, JPY, KWD, USD");
	CHECK(currency_known_list() == list); /* static storage, built once */
	REQUIRE(strlen(list) % 5 == 3);        /* "XXX" then ", XXX" ... */
	for (const char *p = list; *p != '\0';) {
		CHECK(currency_minor_units(p, 3) >= 0);
		p += 3;
		if (*p != '\0') {
			CHECK(strncmp(p, ", ", 2) == 0);
			p += 2;
		}
	}
}

int main(void)
{
	RUN(minor_units_table);
	RUN(null_code_is_unknown);
	RUN(known_list);
	return CHECK_EXIT;
}
