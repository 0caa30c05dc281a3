/* currency.c — the one table of ISO 4217 codes settle knows (SPEC §2).
 *
 * To add a currency, add one row below; keep the rows in alphabetical order of code, which is
 * the order currency_known_list() prints them in.
 */
#include "currency.h"

#include <string.h>

#include "err.h"
#include "money.h"

#define CURRENCY_CODE_LEN 3

static const struct {
	char code[CURRENCY_CODE_LEN + 1];
	int minor_units; /* digits after the point of the smallest coin, ISO 4217 */
} currencies[] = {
	{"AUD", 2},
	{"BHD", 3},
	{"CAD", 2},
	{"CHF", 2},
	{"EUR", 2},
	{"GBP", 2},
	{"INR", 2},
	{"JPY", 0},
	{"KWD", 3},
	{"USD", 2},
};

#define CURRENCIES_N (sizeof currencies / sizeof currencies[0])

/* Exact, case-sensitive match on all len bytes: "usd", "USD " and "US" are unknown. */
int currency_minor_units(const char *code, size_t len)
{
	if (code == NULL || len != CURRENCY_CODE_LEN)
		return -1;
	for (size_t i = 0; i < CURRENCIES_N; i++)
		if (memcmp(code, currencies[i].code, CURRENCY_CODE_LEN) == 0)
			return currencies[i].minor_units;
	return -1;
}

/* One minor unit is the default matching tolerance (SPEC §4): 10^(6 - minor units) micros. */
int64_t currency_minor_unit_micros(const char *code, size_t len)
{
	int units = currency_minor_units(code, len);
	if (units < 0)
		return -1;
	ASSERT(units <= 6);
	int64_t micros = MONEY_MICROS_PER_UNIT;
	for (int i = 0; i < units; i++)
		micros /= 10;
	return micros;
}

/* Built from the table on first use, so the message can never disagree with the table. settle is
 * single-threaded; the buffer holds "XXX, " per code. */
const char *currency_known_list(void)
{
	static char list[CURRENCIES_N * (CURRENCY_CODE_LEN + 2) + 1];

	if (list[0] != '\0')
		return list;
	size_t used = 0;
	for (size_t i = 0; i < CURRENCIES_N; i++) {
		if (i > 0) {
			memcpy(list + used, ", ", 2);
			used += 2;
		}
		memcpy(list + used, currencies[i].code, CURRENCY_CODE_LEN);
		used += CURRENCY_CODE_LEN;
	}
	ASSERT(used < sizeof list);
	list[used] = '\0';
	return list;
}
