/* config.c — the one table of settings (see config.h).
 *
 * Each entry names a setting, its default and its documentation; config_set, config_each and
 * docs/configuration.md all follow this table, so a setting cannot exist in one and not the other.
 * tolerance.<CUR> is the one family of settings, handled beside the table.
 */
#include "config.h"

#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "currency.h"

enum config_type { CONFIG_ROUNDING, CONFIG_DAYS, CONFIG_ROWS };

struct config_entry {
	const char *name;
	enum config_type type;
	size_t offset;
	const char *default_value;
	const char *doc;
	int quiet_default; /* left out of run.csv while it has its default (a setting added after
			    * report sets were written: their run.csv, and so their bytes, stay) */
};

static const struct config_entry config_table[] = {
	{ "rounding", CONFIG_ROUNDING, offsetof(struct config, rounding), "half_up",
	  "rounding mode of SPEC §2: half_up (ties away from zero) or half_even", 0 },
	{ "deposit_window_days", CONFIG_DAYS, offsetof(struct config, deposit_window_days), "10",
	  "a deposit matches a payout by amount when its value date is at most this many days after it", 0 },
	{ "deposit_missing_days", CONFIG_DAYS, offsetof(struct config, deposit_missing_days), "10",
	  "a payout older than this at as-of without a deposit is DEPOSIT_MISSING", 0 },
	{ "usage_billing_lag_days", CONFIG_DAYS, offsetof(struct config, usage_billing_lag_days), "5",
	  "usage not billed this many days after the end of its month is UNBILLED_USAGE (before: PENDING)", 0 },
	{ "workbook_detail_rows", CONFIG_ROWS, offsetof(struct config, workbook_detail_rows), "10000",
	  "a workbook detail sheet whose listing has more rows shows subtotals instead (per offer or party); "
	  "0: every row, always (docs/workbook.md)",
	  1 },
};
#define CONFIG_TABLE_N (sizeof config_table / sizeof config_table[0])

static int config_set_entry(struct config *c, const struct config_entry *ce, const char *value, struct err *e)
{
	char *field = (char *)c + ce->offset;
	if (ce->type == CONFIG_ROUNDING) {
		enum money_rounding mode;
		if (money_rounding_parse(value, &mode) < 0)
			return err_set(e, EXIT_USAGE, "%s: \"%s\" is not a rounding mode (half_up, half_even)",
				       ce->name, value);
		memcpy(field, &mode, sizeof mode);
		return 0;
	}
	char *end;
	errno = 0;
	long v = strtol(value, &end, 10);
	if (ce->type == CONFIG_ROWS) {
		/* rows of one worksheet at most (Excel's 1,048,576 with the header) */
		if (errno || end == value || *end || v < 0 || v > 1048575)
			return err_set(e, EXIT_USAGE, "%s: \"%s\" is not a number of rows (0..1048575)", ce->name,
				       value);
		int rows = (int)v;
		memcpy(field, &rows, sizeof rows);
		return 0;
	}
	if (errno || end == value || *end || v < 0 || v > 3650)
		return err_set(e, EXIT_USAGE, "%s: \"%s\" is not a number of days (0..3650)", ce->name, value);
	int days = (int)v;
	memcpy(field, &days, sizeof days);
	return 0;
}

void config_init(struct config *c)
{
	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < CONFIG_TABLE_N; i++) {
		int rc = config_set_entry(c, &config_table[i], config_table[i].default_value, NULL);
		ASSERT(rc == 0);
	}
}

static int config_set_tolerance(struct config *c, const char *cur, const char *value, struct err *e)
{
	if (currency_minor_units(cur, strlen(cur)) < 0)
		return err_set(e, EXIT_USAGE, "tolerance.%s: unknown currency (known: %s)", cur,
			       currency_known_list());
	int64_t micros;
	if (money_parse(value, strlen(value), &micros) != MONEY_OK || micros < 0)
		return err_set(e, EXIT_USAGE, "tolerance.%s: \"%s\" is not a non-negative amount", cur, value);
	size_t i;
	for (i = 0; i < c->tolerances_n; i++)
		if (strcmp(c->tolerances[i].currency, cur) == 0)
			break;
	if (i == c->tolerances_n) {
		if (c->tolerances_n == CONFIG_TOLERANCES_MAX)
			return err_set(e, EXIT_USAGE, "too many tolerance settings (at most %d)",
				       CONFIG_TOLERANCES_MAX);
		c->tolerances_n++;
	}
	snprintf(c->tolerances[i].currency, sizeof c->tolerances[i].currency, "%.3s", cur);
	c->tolerances[i].tolerance_micros = micros;
	return 0;
}

int config_set(struct config *c, const char *name, const char *value, struct err *e)
{
	if (strncmp(name, "tolerance.", 10) == 0)
		return config_set_tolerance(c, name + 10, value, e);
	for (size_t i = 0; i < CONFIG_TABLE_N; i++)
		if (strcmp(config_table[i].name, name) == 0)
			return config_set_entry(c, &config_table[i], value, e);
	return err_set(e, EXIT_USAGE, "unknown setting \"%s\"", name);
}

static char *config_trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

int config_load(struct config *c, const char *path, struct err *e)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return err_set(e, EXIT_USAGE, "could not open configuration file \"%s\": %s", path,
			       strerror(errno));
	char line[1024];
	int lineno = 0, rc = 0;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *s = config_trim(line);
		if (!*s)
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			rc = err_set(e, EXIT_USAGE, "%s:%d: expected \"name = value\"", path, lineno);
			break;
		}
		*eq = '\0';
		if (config_set(c, config_trim(s), config_trim(eq + 1), e) < 0) {
			rc = err_prefix(e, "%s:%d", path, lineno);
			break;
		}
	}
	if (rc == 0 && ferror(f))
		rc = err_set(e, EXIT_USAGE, "could not read \"%s\"", path);
	fclose(f);
	if (rc == 0)
		snprintf(c->source, sizeof c->source, "%s", path);
	return rc;
}

int64_t config_tolerance_micros(const struct config *c, const char *currency)
{
	for (size_t i = 0; i < c->tolerances_n; i++)
		if (strcmp(c->tolerances[i].currency, currency) == 0)
			return c->tolerances[i].tolerance_micros;
	return currency_minor_unit_micros(currency, strlen(currency));
}

static int config_tolerance_cmp(const void *a, const void *b)
{
	return strcmp(((const struct config_tolerance *)a)->currency,
		      ((const struct config_tolerance *)b)->currency);
}

void config_each(const struct config *c, void (*fn)(const char *key, const char *value, void *arg), void *arg)
{
	char buf[64];
	for (size_t i = 0; i < CONFIG_TABLE_N; i++) {
		const struct config_entry *ce = &config_table[i];
		const char *field = (const char *)c + ce->offset;
		if (ce->type == CONFIG_ROUNDING) {
			enum money_rounding mode;
			memcpy(&mode, field, sizeof mode);
			fn(ce->name, money_rounding_name(mode), arg);
		} else {
			int days;
			memcpy(&days, field, sizeof days);
			snprintf(buf, sizeof buf, "%d", days);
			if (!ce->quiet_default || strcmp(buf, ce->default_value) != 0)
				fn(ce->name, buf, arg);
		}
	}
	/* Tolerances in code order, so run.csv does not depend on the order of the config file. */
	struct config_tolerance sorted[CONFIG_TOLERANCES_MAX];
	memcpy(sorted, c->tolerances, c->tolerances_n * sizeof sorted[0]);
	qsort(sorted, c->tolerances_n, sizeof sorted[0], config_tolerance_cmp);
	for (size_t i = 0; i < c->tolerances_n; i++) {
		char key[32];
		snprintf(key, sizeof key, "tolerance.%.3s", sorted[i].currency);
		money_format(sorted[i].tolerance_micros, 2, buf);
		fn(key, buf, arg);
	}
}
