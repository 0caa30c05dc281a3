/* config.h — settle's settings: one table (config.c) gives each its name, type, default and
 * documentation; the same table parses --config files, prints the effective configuration for
 * run.csv, and documents docs/configuration.md.
 *
 * File format: lines "name = value"; '#' starts a comment; blank lines ignored. Unknown names are
 * an error (EXIT_USAGE), so a typo never silently falls back to a default.
 */
#ifndef SETTLE_CONFIG_H
#define SETTLE_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "money.h"

#define CONFIG_TOLERANCES_MAX 32

struct config_tolerance {
	char currency[4];
	int64_t tolerance_micros;
};

struct config {
	enum money_rounding rounding;   /* rounding = half_up | half_even */
	int deposit_window_days;        /* deposit_window_days = 10 (SPEC 4.5) */
	int deposit_missing_days;       /* deposit_missing_days = 10 (SPEC 4.5) */
	int usage_billing_lag_days;     /* usage_billing_lag_days = 5 (SPEC 4.6) */
	int workbook_detail_rows;       /* workbook_detail_rows = 10000: longer sheets show subtotals */
	size_t tolerances_n;            /* tolerance.USD = 0.01 ... overrides of one minor unit */
	struct config_tolerance tolerances[CONFIG_TOLERANCES_MAX];
	char source[256];               /* the file it came from, or "" for built-in defaults */
};

void config_init(struct config *c);
/* Reads path over the defaults already in c. */
int config_load(struct config *c, const char *path, struct err *e);
/* The tolerance for a currency: the configured one, else one minor unit. -1 if unknown code. */
int64_t config_tolerance_micros(const struct config *c, const char *currency);

/* Calls fn(key, value, arg) for every effective setting in a fixed order (run.csv rows
 * "config.rounding,half_up"). Keys are the setting names. */
void config_each(const struct config *c, void (*fn)(const char *key, const char *value, void *arg), void *arg);
/* Parses one "name = value" assignment (used by config_load and by run.csv replays). */
int config_set(struct config *c, const char *name, const char *value, struct err *e);

#endif
