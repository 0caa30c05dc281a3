/* fuzz_money.c — libFuzzer harness: money_parse against a reference written from SPEC §2, and
 * money_format back.
 *
 * The reference reads the grammar -?[0-9]+(\.[0-9]+)? with plain loops and 128-bit arithmetic
 * (no shared code): more than 6 decimals unless the extra ones are zeros is AMOUNT_PRECISION
 * (judged before range, as money.c documents), |amount| >= 10^12 units is AMOUNT_RANGE. Status
 * and value must agree; an accepted amount formats (at every minor-unit count) to text that
 * parses back to the same micros. money_parse_pct is run for the sanitizers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "money.h"

static enum money_status ref_parse(const char *s, size_t n, int64_t *out)
{
	size_t i = 0;
	int neg = 0;
	if (n > 0 && s[0] == '-')
		neg = 1, i = 1;
	size_t int_start = i;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	size_t int_end = i, frac_start = i, frac_end = i;
	if (int_end == int_start)
		return MONEY_BAD_AMOUNT;
	if (i < n) {
		if (s[i] != '.')
			return MONEY_BAD_AMOUNT;
		frac_start = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		frac_end = i;
		if (frac_end == frac_start || i != n)
			return MONEY_BAD_AMOUNT;
	}
	for (size_t k = frac_start + 6; k < frac_end; k++)
		if (s[k] != '0')
			return MONEY_PRECISION;
	unsigned __int128 units = 0;
	for (size_t k = int_start; k < int_end; k++) {
		units = units * 10 + (unsigned)(s[k] - '0');
		if (units >= 1000000000000u)
			return MONEY_RANGE;
	}
	unsigned __int128 micros = units * 1000000u;
	unsigned __int128 scale = 100000;
	for (size_t k = frac_start; k < frac_end && k < frac_start + 6; k++, scale /= 10)
		micros += (unsigned)(s[k] - '0') * scale;
	*out = neg ? -(int64_t)micros : (int64_t)micros;
	return MONEY_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	int64_t got = 12345, want = 12345;
	enum money_status st = money_parse(s, size, &got), ref = ref_parse(s, size, &want);
	if (st != ref || (st == MONEY_OK && got != want))
		abort();
	if (st != MONEY_OK && got != 12345)
		abort(); /* *out untouched on error */
	if (st == MONEY_OK) {
		for (int minor = 0; minor <= 6; minor++) {
			char buf[MONEY_FORMAT_MAX];
			size_t len = money_format(got, minor, buf);
			int64_t back;
			if (len != strlen(buf) || money_parse(buf, len, &back) != MONEY_OK || back != got)
				abort();
			if (strcmp(buf, "-0") == 0 || (strncmp(buf, "-0.", 3) == 0 && strspn(buf + 3, "0") == strlen(buf + 3)))
				abort(); /* never a negative zero */
		}
	}
	int64_t rate;
	(void)money_parse_pct(s, size, INT64_C(10000000), &rate);
	return 0;
}
