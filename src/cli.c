/* cli.c — command-line parsing and usage shared by every command (see cli.h). */
#include "cli.h"

#include <stdarg.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "timeutil.h"

#define CLI_EXIT_INTERRUPTED "130/143 interrupted, rolled back.\n"

static const struct cli_text {
	const char *name;
	const char *synopsis;
	const char *text; /* the rest of the full usage: what it does, options */
	/* The exit codes this command can end with (README "Exit codes", settle.1 EXIT STATUS), after
	 * "Exit codes: ". I = interrupted, shared by every command that does work. */
	const char *exits;
} cli_texts[] = {
	{ "init", "init", "Create or migrate the database schema (idempotent).\n",
	  "0 done, 1 failed, 2 usage or configuration, " CLI_EXIT_INTERRUPTED },
	{ "ingest", "ingest [--kind K] [--recipient ID] FILE...",
	  "Validate and load feed files. Bad rows are quarantined with file, line, column and reason.\n"
	  "  --kind K         the feed kind, when the header does not say it\n"
	  "  --recipient ID   the recipient account of a billing-event file without that column\n"
	  "Each FILE is its own transaction: when one fails, the later ones are not read.\n",
	  "0 done, 1 failed (nothing committed), 2 usage or configuration (a missing FILE too),\n"
	  "3 locked by another run, 4 done with rows or files quarantined, 5 a FILE failed after\n"
	  "earlier ones were committed, " CLI_EXIT_INTERRUPTED },
	{ "reconcile", "reconcile --period YYYY-MM [--as-of TS]",
	  "Match, allocate and check one period; prints its counts on stdout.\n"
	  "  --period YYYY-MM the month\n"
	  "  --as-of TS       only rows ingested at or before TS count (default: now)\n",
	  "0 done, 1 failed, 2 usage or configuration, 3 locked by another run,\n" CLI_EXIT_INTERRUPTED },
	{ "report", "report --period YYYY-MM [--as-of TS] [--out DIR]",
	  "Write the period's report set to DIR/YYYY-MM (default DIR: reports). A closed period is\n"
	  "never rewritten: when its figures changed since the close, the set goes to\n"
	  "DIR/YYYY-MM.restated with restatement.csv; when not, nothing is written.\n"
	  "  --period YYYY-MM the month\n"
	  "  --as-of TS       only rows ingested at or before TS count (default: now)\n"
	  "  --out DIR        the output directory (default: reports)\n",
	  "0 done, 1 failed, 2 usage or configuration, 3 locked by another run,\n" CLI_EXIT_INTERRUPTED },
	{ "nightly", "nightly [--inbox DIR] [--out DIR] [--as-of TS]",
	  "Ingest the inbox's new files, then reconcile and report every period they touch and the\n"
	  "current month once it has data; closed periods whose figures changed go to\n"
	  "DIR/YYYY-MM.restated. A period that fails is rolled back alone, named, retried every night,\n"
	  "and the run ends 5 (partly done); the other periods are written. A file it cannot open or\n"
	  "read is set aside for the night, named, and read again the next; the later files of its\n"
	  "feed wait with it, so the ledger keeps the inbox's order (exit 4).\n"
	  "The last line on stderr is the one summary line (with --quiet, the only line of a clean night).\n"
	  "  --inbox DIR      the inbox (default: inbox)\n"
	  "  --out DIR        the output directory (default: reports)\n"
	  "  --as-of TS       replay a night at TS (files are recorded as ingested then); TS must not\n"
	  "                   be before a file already ingested, nor in the future (default: now)\n",
	  "0 done, 1 failed (nothing committed), 2 usage or configuration, 3 locked by another\n"
	  "run, 4 done with rows or files quarantined, or inbox entries or files it could not read\n"
	  "(set aside, the later files of their feed with them; read again the next night), 5 partly\n"
	  "done (a period failed, or the database on a file; named; 5 wins over 4), " CLI_EXIT_INTERRUPTED },
	{ "rerun", "rerun --run DIR/run.csv --out DIR2",
	  "Reproduce a past report set exactly, at its as-of and configuration, into DIR2.\n",
	  "0 done, 1 failed, 2 usage or configuration, 3 locked by another run,\n" CLI_EXIT_INTERRUPTED },
	{ "verify", "verify DIR",
	  "Rerun DIR's period at its as-of and compare every file with DIR/MANIFEST (closed and\n"
	  "restated sets alike). Prints one line per file on stdout.\n",
	  "0 every file matches, 1 a file differs or the rerun failed, 2 usage (DIR is no\n"
	  "report set), 3 locked by another run, 130/143 interrupted.\n" },
	{ "close", "close --period YYYY-MM [--as-of TS] [--out DIR]",
	  "Seal a period for the accountants: its report set at the as-of (default: now) becomes the\n"
	  "closed set DIR/YYYY-MM, read-only, recorded in the database (period, as-of, $USER, the\n"
	  "MANIFEST's SHA-256). A later close at a later as-of supersedes it: the earlier closed set\n"
	  "moves to DIR/YYYY-MM.closed-<as-of> and stays; the ledger keeps both.\n"
	  "  --period YYYY-MM the month\n"
	  "  --as-of TS       the as-of of the closed set (default: now)\n"
	  "  --out DIR        the output directory (default: reports)\n",
	  "0 done (or closed already at that as-of), 1 failed, 2 usage or configuration (an\n"
	  "as-of before the recorded close too), 3 locked by another run, " CLI_EXIT_INTERRUPTED },
	{ "check", "check [--kind K] [--recipient ID] FILE...",
	  "Validate feed files exactly as ingest would and print every rejection; load nothing, need no\n"
	  "database.\n"
	  "  --kind K         the feed kind, when the header does not say it\n"
	  "  --recipient ID   the recipient account of a billing-event file without that column\n",
	  "0 clean, 1 a file could not be read, 2 usage, 4 rows or files would be rejected,\n"
	  "130/143 interrupted.\n" },
	{ "retract", "retract FILE|--file-id N --why TEXT",
	  "Withdraw an ingested file: a retraction with its instant, $USER and reason is recorded; runs\n"
	  "at a later as-of leave the file's rows out, reruns at an earlier as-of still see them, and\n"
	  "the next nightly re-reports the periods it touched. FILE is the name ingest recorded (or its\n"
	  "base name); every ledger row of that name is retracted. Retracting again is a no-op.\n"
	  "  --file-id N      the ledger's file number instead of FILE (settle status lists them)\n"
	  "  --why TEXT       the reason, one line (required)\n",
	  "0 done (or retracted already), 1 failed, 2 usage or configuration (no such file),\n"
	  "3 locked by another run, " CLI_EXIT_INTERRUPTED },
	{ "status", "status",
	  "Files, rejected rows, runs, periods with their open exceptions, closed and restated periods.\n"
	  "Reads only: on an embedded default that does not exist it says so and exits 2.\n",
	  "0 done, 1 failed, 2 usage or configuration, 130/143 interrupted.\n" },
	{ "help", "help [COMMAND]", "The list of commands, or one command's full usage.\n",
	  "0 done, 2 an unknown command.\n" },
};
#define CLI_TEXTS_N (sizeof cli_texts / sizeof cli_texts[0])

static const struct cli_text *cli_text(const char *command)
{
	for (size_t i = 0; i < CLI_TEXTS_N; i++)
		if (strcmp(cli_texts[i].name, command) == 0)
			return &cli_texts[i];
	return NULL;
}

const char *cli_synopsis(const char *command)
{
	const struct cli_text *t = cli_text(command);
	return t ? t->synopsis : NULL;
}

int cli_help(const char *command, FILE *f)
{
	const struct cli_text *t = cli_text(command);
	if (!t)
		return -1;
	fprintf(f, "usage: settle [--db CONNINFO] [--config FILE] [--quiet] %s\n\n%s", t->synopsis, t->text);
	fprintf(f, "\nExit codes: %sGlobal options may also follow the command.\n", t->exits);
	return 0;
}

static void cli_usage_line(const char *command)
{
	const char *s = cli_synopsis(command);
	fprintf(stderr, "usage: settle %s\n", s ? s : command);
	fflush(stderr);
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_error("%s", msg);
	cli_usage_line(command);
	return EXIT_USAGE;
}

static const struct cli_opt *cli_find(const struct cli_opt *opts, const char *name, size_t len)
{
	for (const struct cli_opt *o = opts; o && o->name; o++)
		if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
			return o;
	return NULL;
}

int cli_parse(const char *command, int argc, char **argv, const struct cli_opt *opts, int min_args, int max_args,
	      int *first)
{
	/* Options first, then positional arguments; "--" ends the options. Written out rather than
	 * getopt_long: no abbreviations (a script's "--out" must not become another option one
	 * day), no permutation, and every message the same in every command. */
	int i = 1, n_pos = 0;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			cli_help(command, stdout);
			fflush(stdout);
			return 1;
		}
		if (a[0] != '-' || a[1] == '\0')
			break;
		if (a[1] != '-') {
			cli_usage_error(command, "unknown option \"%s\"", a);
			return -1;
		}
		const char *eq = strchr(a, '=');
		size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		const struct cli_opt *o = cli_find(opts, a + 2, len);
		if (!o) {
			cli_usage_error(command, "unknown option \"%.*s\"", (int)(len + 2), a);
			return -1;
		}
		if (o->flag) {
			if (eq) {
				cli_usage_error(command, "option \"--%s\" takes no value", o->name);
				return -1;
			}
			*o->flag = 1;
			continue;
		}
		if (eq) {
			*o->value = eq + 1;
		} else if (i + 1 < argc) {
			*o->value = argv[++i];
		} else {
			cli_usage_error(command, "option \"--%s\" needs a value", o->name);
			return -1;
		}
		if (!**o->value) {
			cli_usage_error(command, "option \"--%s\" must not be empty", o->name);
			return -1;
		}
	}
	*first = i;
	n_pos = argc - i;
	if (max_args >= 0 && n_pos > max_args) {
		if (max_args == 0)
			cli_usage_error(command, "unexpected argument \"%s\" (%s takes only options)", argv[i + max_args],
					command);
		else
			cli_usage_error(command, "unexpected argument \"%s\"", argv[i + max_args]);
		return -1;
	}
	if (n_pos < min_args) {
		cli_usage_error(command, "%s needs %s", command,
				min_args == max_args ? "its argument" : "at least one argument");
		return -1;
	}
	return 0;
}

int cli_period_as_of(const char *command, const char *period_s, const char *as_of_s, int32_t *period,
		     int64_t *as_of_us)
{
	if (!period_s)
	{
		cli_usage_error(command, CLI_REQUIRED, "--period");
		return -1;
	}
	char canon[8];
	if (period_parse(period_s, strlen(period_s), period) < 0 ||
	    (period_format(*period, canon), strcmp(canon, period_s) != 0)) {
		cli_usage_error(command, "period \"%s\" is not a month written YYYY-MM", period_s);
		return -1;
	}
	if (as_of_s && time_parse(as_of_s, strlen(as_of_s), as_of_us) < 0) {
		cli_usage_error(command, "--as-of \"%s\" is not an ISO 8601 timestamp", as_of_s);
		return -1;
	}
	return 0;
}
