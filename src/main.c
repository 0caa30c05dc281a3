/* main.c — argv → command → exit code, nothing else (SPEC §7).
 *
 * Global options (--db, --config, --quiet) are accepted before the command name and after it:
 * they are taken out of the command's arguments here (up to a "--"), so every command sees only
 * its own. `settle help COMMAND` and `settle COMMAND --help` print the full usage (cli.c).
 */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "settle.h"
#include "signals.h"

static const struct command {
	const char *name;
	int (*run)(struct settle_ctx *ctx, int argc, char **argv);
} commands[] = {
	{ "init", cmd_init },
	{ "ingest", cmd_ingest },
	{ "reconcile", cmd_reconcile },
	{ "report", cmd_report },
	{ "nightly", cmd_nightly },
	{ "rerun", cmd_rerun },
	{ "verify", cmd_verify },
	{ "close", cmd_close },
	{ "retract", cmd_retract },
	{ "status", cmd_status },
	{ "check", cmd_check },
};
#define COMMANDS_N (sizeof commands / sizeof commands[0])

static void usage(FILE *to)
{
	fprintf(to, "usage: settle [--db CONNINFO] [--config FILE] [--quiet] COMMAND ...\n\ncommands:\n");
	for (size_t i = 0; i < COMMANDS_N; i++) {
		const char *s = cli_synopsis(commands[i].name);
		fprintf(to, "  settle %s\n", s ? s : commands[i].name);
	}
	fprintf(to, "  settle help COMMAND\n"
		    "\nThe database comes from --db, else SETTLE_DB, else the libpq environment (PGHOST, ...),\n"
		    "else a private cluster under $SETTLE_HOME/pg (default ./var) that settle starts itself.\n"
		    "--quiet prints only errors, warnings and the summary line (for cron).\n"
		    "Exit codes: 0 done, 1 failed, 2 usage, 3 locked by another run, 4 done with quarantined rows,\n"
		    "5 partly done (failed periods or files named), 130/143 interrupted by SIGINT/SIGTERM.\n");
}

static const struct command *command_find(const char *name)
{
	for (size_t i = 0; i < COMMANDS_N; i++)
		if (strcmp(name, commands[i].name) == 0)
			return &commands[i];
	return NULL;
}

/* Takes a global option at argv[*i] (with its value) into ctx; 1 when it was one, 0 when not,
 * -1 for a global option without its value. */
static int global_option(struct settle_ctx *ctx, int argc, char **argv, int *i)
{
	static const struct {
		const char *name;
		int what; /* 'd' --db, 'c' --config, 'q' --quiet */
	} g[] = { { "--db", 'd' }, { "--config", 'c' }, { "--quiet", 'q' } };
	const char *a = argv[*i];
	for (size_t k = 0; k < sizeof g / sizeof g[0]; k++) {
		size_t len = strlen(g[k].name);
		if (strncmp(a, g[k].name, len) != 0 || (a[len] != '\0' && a[len] != '='))
			continue;
		if (g[k].what == 'q') {
			if (a[len] == '=')
				return 0; /* "--quiet=x": not ours; the command reports it */
			ctx->quiet = 1;
			return 1;
		}
		const char *v = a[len] == '=' ? a + len + 1 : *i + 1 < argc ? argv[++*i] : NULL;
		if (!v || !*v)
			return -1;
		if (g[k].what == 'd')
			ctx->db_conninfo = v;
		else
			ctx->config_path = v;
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	/* Numbers and text in reports must not depend on the caller's locale (SPEC §6). */
	setlocale(LC_ALL, "C");
	signals_install(); /* SIGINT/SIGTERM: roll back, clean up, exit 130/143 (signals.h) */
	struct settle_ctx ctx = { 0 };
	config_init(&ctx.config);
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return EXIT_DONE;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("settle %s\n", SETTLE_VERSION);
			return EXIT_DONE;
		}
		int g = global_option(&ctx, argc, argv, &i);
		if (g <= 0) {
			fprintf(stderr, g < 0 ? "settle: error: option \"%s\" needs a value\n"
					      : "settle: error: unknown option \"%s\"\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *name = argv[i];
	if (strcmp(name, "help") == 0) {
		if (i + 1 >= argc) {
			usage(stdout);
			return EXIT_DONE;
		}
		/* "help" is no entry of the command table (it is handled here) but has its usage */
		if ((!command_find(argv[i + 1]) && strcmp(argv[i + 1], "help") != 0) || cli_help(argv[i + 1], stdout) < 0) {
			fprintf(stderr, "settle: help: error: unknown command \"%s\"\n", argv[i + 1]);
			return EXIT_USAGE;
		}
		return EXIT_DONE;
	}
	const struct command *cmd = command_find(name);
	if (!cmd) {
		fprintf(stderr, "settle: error: unknown command \"%s\"\n", name);
		usage(stderr);
		return EXIT_USAGE;
	}
	log_set_command(cmd->name);
	/* The command's own arguments, without the global options (argv[0] = the command name). */
	char **args = calloc((size_t)(argc - i) + 1, sizeof *args);
	if (!args) {
		log_error("out of memory");
		return EXIT_FAILED;
	}
	int n = 0, ended = 0;
	args[n++] = argv[i];
	for (int k = i + 1; k < argc; k++) {
		if (!ended && strcmp(argv[k], "--") == 0)
			ended = 1;
		int g = ended ? 0 : global_option(&ctx, argc, argv, &k);
		if (g < 0) {
			free(args);
			return cli_usage_error(cmd->name, "option \"%s\" needs a value", argv[k]);
		}
		if (g == 0)
			args[n++] = argv[k];
	}
	args[n] = NULL;
	log_set_quiet(ctx.quiet);
	if (ctx.config_path) {
		struct err e = { 0 };
		if (config_load(&ctx.config, ctx.config_path, &e) < 0) {
			log_error("%s", e.msg);
			free(args);
			return EXIT_USAGE;
		}
	}
	int rc = cmd->run(&ctx, n, args);
	db_close(ctx.db); /* also stops the embedded server this command started */
	free(args);
	return signals_exit_code(rc);
}
