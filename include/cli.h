/* cli.h — one way to read a command line and one way to fail (SPEC §7).
 *
 * Every command parses its options with cli_parse, so the same mistake reads the same in every
 * command and exits 2:
 *   settle: report: error: unknown option "--perod"
 *   settle: report: error: option "--period" needs a value
 *   settle: report: error: unexpected argument "x"
 *   usage: settle report --period YYYY-MM [--as-of TS] [--out DIR]
 * `settle COMMAND --help` and `settle help COMMAND` print the command's full usage (cli_help) on
 * stdout. Global options (--db, --config, --quiet) are taken out of the command's arguments by
 * main.c, so they are accepted before and after the command name.
 */
#ifndef SETTLE_CLI_H
#define SETTLE_CLI_H

#include <stdint.h>
#include <stdio.h>

/* One option of a command: "--name VALUE" (value != NULL) or a flag "--name" (flag != NULL). */
struct cli_opt {
	const char *name;
	const char **value;
	int *flag;
};

/* Parses argv (argv[0] is the command name). Positional arguments are left in argv[*first..argc).
 * Returns 0, 1 after printing the usage for --help/-h (the command returns 0), or -1 after
 * printing the error and the usage line (the command returns 2). Between min_args and max_args
 * positional arguments (max_args -1: any number); otherwise the error names what is wrong. */
int cli_parse(const char *command, int argc, char **argv, const struct cli_opt *opts, int min_args, int max_args,
	      int *first);

/* Prints "settle: COMMAND: error: <what>" and the usage line on stderr; returns 2 (EXIT_USAGE). */
int cli_usage_error(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The synopsis of a command ("report --period YYYY-MM [--as-of TS] [--out DIR]"), or NULL. */
const char *cli_synopsis(const char *command);
/* The full usage of a command to f; 0, or -1 when the command is unknown. */
int cli_help(const char *command, FILE *f);

/* --period (required, exactly YYYY-MM) and --as-of (optional, ISO 8601; *as_of_us untouched when
 * NULL), the same checks and words in every command. 0, or -1 after printing (exit 2). */
int cli_period_as_of(const char *command, const char *period_s, const char *as_of_s, int32_t *period,
		     int64_t *as_of_us);

/* A required option's value was not given: the same words everywhere. */
#define CLI_REQUIRED "%s is required"

#endif
