/* cmd_check.c — `settle check [--kind K] [--recipient ID] FILE...`: validate feed files exactly
 * as ingest would, print every rejection, load nothing, open no database (SPEC §7; bean-check is
 * the model).
 *
 * The same steps as ingest_file() without the database: the kind from --kind, the file's SDDS
 * folder (ingest_place) or its header; feed_header_bind; then every record through
 * feed_row_validate and the truncated-last-record rule (ingest_last_record_rejects). Every
 * rejection is printed, not only the first 20, as `settle: check: FILE:LINE: COLUMN: sentence`.
 * What needs stored rows cannot be checked here and is said in docs/ingest.md: a metering record
 * or deposit whose key is already stored (or repeated in the file) with other content
 * (DUPLICATE_KEY_CONFLICT), and whether a file is byte-identical to, or an append to, one ingested.
 * Exit: 0 every file is clean, 4 something was rejected, 2 usage, 1 a file could not be read.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "csv_in.h"
#include "feed.h"
#include "ingest.h"
#include "log.h"
#include "settle.h"

struct check_counts {
	int64_t rows, rejected;
	int file_rejected, skipped;
};

static void check_say(const char *name, int64_t line, const struct feed_reject *rej)
{
	log_reject("%s:%" PRId64 ": %s%s%s", name, line, rej->column ? rej->column : "", rej->column ? ": " : "",
		  rej->detail);
}

/* A whole-file rejection (SPEC §5): said with its line, and that nothing would load. */
static int check_reject_file(const char *name, int64_t line, const struct feed_reject *rej, struct check_counts *c)
{
	check_say(name, line, rej);
	log_reject("%s: file would be rejected (%s), nothing would load", name, rej->code);
	c->file_rejected = 1;
	return 0;
}

static void check_bad_csv(struct feed_reject *rej, const struct csv_in *in)
{
	rej->code = FEED_BAD_CSV;
	rej->column = NULL;
	snprintf(rej->detail, sizeof rej->detail, "%s", csv_in_invalid_detail(in));
}

/* The header and the rows of an open file. 0 (counts filled), -1 (e: an I/O error). */
static int check_stream(const char *name, FILE *f, const char *kind_opt, const char *recipient,
			struct check_counts *c, struct err *e)
{
	struct feed_reject rej;
	const struct feed_kind *kind;
	int sdds;
	int place = ingest_place(name, kind_opt, &kind, &sdds, &rej);
	if (place == 1) {
		log_info("%s: %s", name, rej.detail);
		c->skipped = 1;
		return 0;
	}
	struct csv_in *in = csv_in_new(f);
	if (!in)
		return err_set(e, EXIT_FAILED, "out of memory");
	static struct feed_header hdr; /* large; one file at a time */
	struct feed_value vals[FEED_COLUMNS_MAX];
	struct csv_in_record rec;
	int rc = 0;
	memset(&hdr, 0, sizeof hdr);
	enum csv_in_status s = csv_in_next(in, &rec, e);
	if (s == CSV_IN_FAILED) {
		rc = err_prefix(e, "%s", name);
		goto done;
	}
	if (s == CSV_IN_EOF) {
		rej = (struct feed_reject){ FEED_BAD_CSV, NULL, "the file is empty: no header" };
		rc = check_reject_file(name, 1, &rej, c);
		goto done;
	}
	if (s == CSV_IN_INVALID) {
		check_bad_csv(&rej, in);
		rc = check_reject_file(name, csv_in_invalid_line(in), &rej, c);
		goto done;
	}
	if (place == 2) {
		rc = check_reject_file(name, 1, &rej, c);
		goto done;
	}
	if (feed_header_bind(&hdr, kind, &rec, recipient, &rej) < 0) {
		rc = check_reject_file(name, rec.line, &rej, c);
		goto done;
	}
	if (hdr.unknown_n)
		log_warning("%s: ignoring %zu unknown column%s of a %s file: %s", name, hdr.unknown_n,
			    hdr.unknown_n == 1 ? "" : "s", hdr.kind->name, hdr.unknown_list);
	csv_in_set_fields_max(in, hdr.nfields + 1);
	/* Rows are said as they come; a whole-file problem later makes them moot but they stay true. */
	int64_t rejected = 0, rows = 0;
	for (;;) {
		s = csv_in_next(in, &rec, e);
		if (s == CSV_IN_EOF)
			break;
		if (s == CSV_IN_FAILED) {
			rc = err_prefix(e, "%s", name);
			goto done;
		}
		if (s == CSV_IN_INVALID) {
			check_bad_csv(&rej, in);
			rc = check_reject_file(name, csv_in_invalid_line(in), &rej, c);
			goto done;
		}
		if (!rec.terminated && ingest_last_record_rejects(&rec, hdr.nfields, sdds, &rej)) {
			rc = check_reject_file(name, rec.line, &rej, c);
			goto done;
		}
		if (feed_row_validate(&hdr, &rec, vals, &rej) == 0) {
			rows++;
		} else {
			check_say(name, rec.line, &rej);
			rejected++;
		}
	}
	c->rows = rows;
	c->rejected = rejected;
	log_info("%s: %s, %" PRId64 " rows would load, %" PRId64 " rejected", name, hdr.kind->name, rows, rejected);
done:
	csv_in_free(in);
	return rc;
}

/* SPEC §7: settle check FILE... */
int cmd_check(struct settle_ctx *ctx, int argc, char **argv)
{
	const char *kind = NULL, *recipient = NULL;
	const struct cli_opt opts[] = { { "kind", &kind, NULL }, { "recipient", &recipient, NULL }, { NULL, NULL, NULL } };
	(void)ctx; /* no database, no configuration needed */
	int first, pr = cli_parse("check", argc, argv, opts, 1, -1, &first); /* first: the first FILE */
	if (pr != 0)
		return pr > 0 ? EXIT_DONE : EXIT_USAGE;
	if (kind && !feed_kind_by_name(kind))
		return cli_usage_error("check", "unknown kind \"%s\" (known: %s)", kind, feed_kind_names());
	int quarantined = 0, failed = 0;
	for (int i = first; i < argc; i++) {
		const char *name = argv[i];
		struct stat sb;
		FILE *f = NULL;
		/* stat first: opening a FIFO would wait for a writer */
		if (stat(name, &sb) == 0 && !S_ISREG(sb.st_mode)) {
			log_error("\"%s\" is not a regular file", name);
			failed = 1;
			continue;
		}
		if (!(f = fopen(name, "rb"))) {
			log_error("could not open \"%s\": %s", name, strerror(errno));
			failed = 1;
			continue;
		}
		struct check_counts counts = { 0 };
		struct err e = { 0 };
		if (check_stream(name, f, kind, recipient, &counts, &e) < 0) {
			log_error("%s", e.msg);
			failed = 1;
		}
		fclose(f);
		if (counts.rejected > 0 || counts.file_rejected)
			quarantined = 1;
	}
	if (failed)
		return EXIT_FAILED;
	return quarantined ? EXIT_QUARANTINED : EXIT_DONE;
}
