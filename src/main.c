/* main.c — argv → command → exit code, nothing else (SPEC §7). */
#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "settle.h"
#include "signals.h"

static const struct command {
	const char *name;
	int (*run)(struct settle_ctx *ctx, int argc, char **argv);
	const char *usage;
} commands[] = {
	{ "init", cmd_init, "init" },
	{ "ingest", cmd_ingest, "ingest [--kind K] [--recipient ID] FILE..." },
	{ "reconcile", cmd_reconcile, "reconcile --period YYYY-MM [--as-of TS]" },
	{ "report", cmd_report, "report --period YYYY-MM [--as-of TS] [--out DIR]" },
	{ "nightly", cmd_nightly, "nightly [--inbox DIR] [--out DIR]" },
	{ "rerun", cmd_rerun, "rerun --run DIR/run.csv --out DIR2" },
	{ "verify", cmd_verify, "verify DIR" },
	{ "retract", cmd_retract, "retract FILE|--file-id N --why TEXT" },
	{ "status", cmd_status, "status" },
};
#define COMMANDS_N (sizeof commands / sizeof commands[0])

static void usage(FILE *to)
{
	fprintf(to, "usage: settle [--db CONNINFO] [--config FILE] COMMAND ...\n\ncommands:\n");
	for (size_t i = 0; i < COMMANDS_N; i++)
		fprintf(to, "  settle %s\n", commands[i].usage);
	fprintf(to, "\nThe database comes from --db, else SETTLE_DB, else the libpq environment (PGHOST, ...),\n"
		    "else a private cluster under $SETTLE_HOME/pg (default ./var) that settle starts itself.\n"
		    "Exit codes: 0 done, 1 failed, 2 usage, 3 locked by another run, 4 done with quarantined rows,\n"
		    "5 partly done (failed periods or files named), 130/143 interrupted by SIGINT/SIGTERM.\n");
}

int main(int argc, char **argv)
{
	/* Numbers and text in reports must not depend on the caller's locale (SPEC §6). */
	setlocale(LC_ALL, "C");
	signals_install(); /* SIGINT/SIGTERM: roll back, clean up, exit 130/143 (signals.h) */
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct settle_ctx ctx = { 0 };
	config_init(&ctx.config);
	int c;
	/* '+': stop at the command name; the command parses its own options. */
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			ctx.db_conninfo = optarg;
			break;
		case 'c':
			ctx.config_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_DONE;
		case 'V':
			printf("settle %s\n", SETTLE_VERSION);
			return EXIT_DONE;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const struct command *cmd = NULL;
	for (size_t i = 0; i < COMMANDS_N; i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			cmd = &commands[i];
	if (!cmd) {
		fprintf(stderr, "settle: unknown command \"%s\"\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	log_set_command(cmd->name);
	if (ctx.config_path) {
		struct err e = { 0 };
		if (config_load(&ctx.config, ctx.config_path, &e) < 0) {
			log_error("%s", e.msg);
			return EXIT_USAGE;
		}
	}
	/* Commands parse with getopt again, on their own argv (argv[0] = the command name). */
	int first = optind;
	optind = 1;
	int rc = cmd->run(&ctx, argc - first, argv + first);
	db_close(ctx.db); /* also stops the embedded server this command started */
	return signals_exit_code(rc);
}
