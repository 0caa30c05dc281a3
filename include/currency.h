/* currency.h — ISO 4217 codes settle knows, with their minor units (SPEC §2).
 * The table lives in currency.c and nowhere else; extend it there. */
#ifndef SETTLE_CURRENCY_H
#define SETTLE_CURRENCY_H

#include <stddef.h>
#include <stdint.h>

/* Minor units of code[0..len) (2 for USD, 0 for JPY, 3 for KWD), or -1 if settle does not know it.
 * Codes are exact upper case: "usd" is unknown. */
int currency_minor_units(const char *code, size_t len);

/* One minor unit in micros (10000 for USD, 1000000 for JPY): the default tolerance (SPEC §4).
 * -1 if the code is unknown. */
int64_t currency_minor_unit_micros(const char *code, size_t len);

/* The known codes, comma-separated, for messages ("AUD, BHD, CAD, ..."). Static storage. */
const char *currency_known_list(void);

#endif
