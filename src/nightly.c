/* nightly.c — `settle nightly`: ingest the inbox, then reconcile and report what changed
 * (SPEC §6, §7).
 *
 * One as-of instant for the whole run: the database clock when the run starts. Every file is
 * ingested with that instant as its ingest time, so the run sees exactly the files it ingested and
 * those before. Then, in one transaction, every period touched by files not yet reported
 * (settle.periods_touched, sql/004_report_state.sql) plus the as-of's own month is reconciled and
 * its set staged; after the commit the sets are swapped into place and only then the watermark
 * settle.nightly_state moves. Killed anywhere, the next nightly reports whatever was missed.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "contain.h"
#include "ingest.h"
#include "insights.h"
#include "log.h"
#include "report_set.h"
#include "settle.h"
#include "signals.h"
#include "timeutil.h"

#define NIGHTLY_PATH_MAX 4096

struct nightly_stats {
	size_t files;          /* files in the inbox */
	size_t ingested;       /* newly ingested */
	size_t skipped;        /* already ingested: nothing done */
	size_t files_rejected; /* structurally broken, rejected whole */
	size_t files_failed;   /* could not be ingested (unreadable): the run stopped ingesting there */
	int64_t rows;
	int64_t rejected;
};

struct nightly_names {
	char **v;
	size_t n, cap;
};

static void nightly_names_free(struct nightly_names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
	memset(ns, 0, sizeof *ns);
}

static int nightly_names_add(struct nightly_names *ns, const char *name, struct err *e)
{
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 32;
		char **v = realloc(ns->v, cap * sizeof *v);
		if (!v)
			return err_set(e, EXIT_FAILED, "out of memory");
		ns->v = v;
		ns->cap = cap;
	}
	if (!(ns->v[ns->n] = strdup(name)))
		return err_set(e, EXIT_FAILED, "out of memory");
	ns->n++;
	return 0;
}

static int nightly_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* SPEC §6: the inbox's regular files in byte order of their names. Names starting with '.' are
 * skipped, so an uploader can write ".x.csv" and rename it when complete. */
static int nightly_list_inbox(const char *inbox, struct nightly_names *out, struct err *e)
{
	memset(out, 0, sizeof *out);
	DIR *d = opendir(inbox);
	if (!d)
		return err_set(e, errno == ENOENT || errno == ENOTDIR ? EXIT_USAGE : EXIT_FAILED,
			       "could not open inbox \"%s\": %s", inbox, strerror(errno));
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char path[NIGHTLY_PATH_MAX];
		struct stat st;
		if (snprintf(path, sizeof path, "%s/%s", inbox, de->d_name) >= (int)sizeof path)
			rc = err_set(e, EXIT_FAILED, "path \"%s/%s\" is too long", inbox, de->d_name);
		else if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			rc = nightly_names_add(out, de->d_name, e);
	}
	closedir(d);
	if (rc < 0) {
		nightly_names_free(out);
		return -1;
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof out->v[0], nightly_name_cmp);
	return 0;
}

static int nightly_ingest(struct db *db, const char *inbox, const struct nightly_names *names,
			  int64_t as_of_us, struct nightly_stats *s, struct err *e)
{
	for (size_t i = 0; i < names->n; i++) {
		char path[NIGHTLY_PATH_MAX];
		snprintf(path, sizeof path, "%s/%s", inbox, names->v[i]);
		log_progress("[%zu/%zu] ingesting %s", i + 1, names->n, names->v[i]);
		struct ingest_options opt = { NULL, NULL, as_of_us };
		struct ingest_result r;
		memset(&r, 0, sizeof r);
		if (ingest_file(db, path, &opt, &r, e) < 0) {
			size_t nl = strlen(names->v[i]);
			if (strncmp(e->msg, names->v[i], nl) != 0 || e->msg[nl] != ':')
				err_prefix(e, "%s", names->v[i]);
			/* SPEC §7 exit codes: the files before this one are committed. While the database
			 * is there, the run stops ingesting (later files keep their order for the next
			 * night: "latest ingested" follows it, SPEC §6), reports what it has and ends
			 * "partly done" (EXIT_PARTIAL) naming this file. */
			if (e->exit_code == EXIT_LOCKED || PQstatus(db_conn(db)) != CONNECTION_OK ||
			    PQtransactionStatus(db_conn(db)) != PQTRANS_IDLE)
				return s->ingested > 0 ? err_prefix(e, "%zu files of this run are committed, their"
							 " periods not reported yet", s->ingested), -1 : -1;
			log_progress_done();
			log_error("%s; %zu later files not read, left for the next nightly", e->msg, names->n - i - 1);
			s->files_failed++;
			break;
		}
		if (r.already_ingested) { /* ingest_file has said so */
			s->skipped++;
			continue;
		}
		s->ingested++;
		s->rows += r.rows_loaded;
		s->rejected += r.rows_rejected;
		if (r.file_rejected) {
			s->files_rejected++;
			log_info("%s: rejected whole (%s)", names->v[i], r.kind);
		} else {
			log_info("%s: %s, %lld rows loaded, %lld rejected", names->v[i], r.kind,
				 (long long)r.rows_loaded, (long long)r.rows_rejected);
		}
		report_failpoint("ingested-one");
	}
	log_progress_done();
	return 0;
}

/* The watermark, the newest file of this run, and the periods to report (sorted, distinct). */
static int nightly_periods(struct db *db, const struct config *cfg, int64_t as_of_us, int64_t *through,
			   int64_t *retraction_through, int32_t **periods, size_t *n, struct err *e)
{
	char as_of_pg[40], window[16];
	time_format_pg(as_of_us, as_of_pg);
	snprintf(window, sizeof window, "%d", cfg->deposit_window_days);
	const char *params[] = { as_of_pg, window };
	PGresult *res = db_query(db,
		"WITH w AS (SELECT reported_through_file_id AS after FROM settle.nightly_state),"
		" t AS (SELECT coalesce(max(file_id), 0) AS through FROM settle.ingest_file"
		"       WHERE ingested_at <= $1::timestamptz)"
		" SELECT t.through, p.p FROM w CROSS JOIN t"
		" LEFT JOIN LATERAL settle.periods_touched(w.after, t.through, $2::integer) p(p) ON true",
		2, params, PGRES_TUPLES_OK, e);
	if (!res)
		return -1;
	int rows = PQntuples(res);
	int32_t *v = malloc(((size_t)rows + 1) * sizeof *v);
	if (!v) {
		PQclear(res);
		return err_set(e, EXIT_FAILED, "out of memory");
	}
	size_t k = 0;
	*through = rows > 0 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	for (int i = 0; i < rows; i++) {
		const char *p = PQgetvalue(res, i, 1);
		if (PQgetisnull(res, i, 1))
			continue;
		/* Years outside 0001..9999 cannot be a period; the row would have been rejected. */
		if (period_parse(p, strlen(p), &v[k]) == 0)
			k++;
	}
	PQclear(res);
	v[k++] = period_of_us(as_of_us); /* SPEC §7: the current period is always reported */
	/* Containment and retractions (contain.h): failing periods are retried every night. */
	if (contain_periods(db, cfg, &v, &k, retraction_through, e) < 0 ||
	    contain_drop_uncomputable(db, as_of_us, v, &k, e) < 0) {
		free(v);
		return -1;
	}
	for (size_t i = 1; i < k; i++) /* insertion sort: a handful of months */
		for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
			int32_t t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	size_t u = 0;
	for (size_t i = 0; i < k; i++)
		if (u == 0 || v[u - 1] != v[i])
			v[u++] = v[i];
	*periods = v;
	*n = u;
	return 0;
}

/* Runs one report job over periods[0..n) of cp, contained per period, and publishes what it
 * staged. cp[idx[i]] receives each period's outcome, ins[idx[i]] its insights. */
static int nightly_job(struct db *db, const struct config *cfg, int64_t as_of_us, const char *out,
		       struct contain_period *cp, const size_t *idx, size_t n, struct report_job_result *total,
		       struct insights_summary *ins, struct err *e)
{
	if (n == 0)
		return 0;
	int32_t *periods = calloc(n, sizeof *periods);
	struct report_stage *stages = calloc(n, sizeof *stages);
	struct err *errs = calloc(n, sizeof *errs);
	int rc = -1;
	if (!periods || !stages || !errs) {
		err_set(e, EXIT_FAILED, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < n; i++)
		periods[i] = cp[idx[i]].period;
	struct report_job job = { "nightly", cfg, as_of_us, periods, n, out, errs };
	struct report_job_result res;
	if (report_job_run(db, &job, stages, &res, e) < 0)
		goto done;
	report_failpoint("committed");
	rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (!stages[i].tmp[0])
			continue; /* failed: nothing staged */
		rc = report_stage_publish(&stages[i], e);
		if (i == 0)
			report_failpoint("published-one");
	}
	for (size_t i = 0; i < n; i++) {
		struct contain_period *c = &cp[idx[i]];
		c->failed = errs[i].msg[0] != '\0';
		c->err = errs[i];
		ins[idx[i]] = stages[i].insights;
		report_stage_discard(&stages[i]);
	}
	total->run_id = res.run_id;
	total->total.groups += res.total.groups;
	total->total.allocated += res.total.allocated;
	total->total.exceptions += res.total.exceptions;
	total->total.payouts += res.total.payouts;
done:
	free(periods);
	free(stages);
	free(errs);
	return rc;
}

/* Reconciles and reports the periods, publishes them, then moves the watermarks (contain.h):
 * first every period not suspected of killing the process, in one transaction with a savepoint
 * each; then each suspect alone, in its own. ins[n] receives each period's insights, cp[n] each
 * period's outcome. */
static int nightly_report(struct db *db, const struct config *cfg, int64_t as_of_us, const char *out,
			  const int32_t *periods, size_t n, int64_t through, int64_t retraction_through,
			  struct report_job_result *res, struct insights_summary *ins, struct contain_period *cp,
			  struct err *e)
{
	memset(res, 0, sizeof *res);
	size_t *idx = calloc(n + 1, sizeof *idx), group_n = 0;
	if (!idx)
		return err_set(e, EXIT_FAILED, "out of memory");
	for (size_t i = 0; i < n; i++)
		cp[i].period = periods[i];
	int rc = contain_prepare(db, cp, n, e);
	for (size_t i = 0; i < n && rc == 0; i++)
		if (!cp[i].alone)
			idx[group_n++] = i;
	int32_t *group = calloc(group_n + 1, sizeof *group);
	if (rc == 0 && !group)
		rc = err_set(e, EXIT_FAILED, "out of memory");
	for (size_t i = 0; i < group_n && rc == 0; i++)
		group[i] = periods[idx[i]];
	if (rc == 0 && group_n > 0)
		rc = contain_attempt(db, group, group_n, 0, e);
	if (rc == 0)
		rc = nightly_job(db, cfg, as_of_us, out, cp, idx, group_n, res, ins, e);
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (!cp[i].alone)
			continue;
		rc = contain_attempt(db, &periods[i], 1, 1, e);
		if (rc == 0)
			rc = nightly_job(db, cfg, as_of_us, out, cp, &i, 1, res, ins, e);
	}
	free(group);
	free(idx);
	if (rc == 0)
		rc = contain_finish(db, as_of_us, cp, n, through, retraction_through, e);
	if (rc < 0 && signals_received())
		contain_abandon(db); /* an interruption is no crash */
	return rc;
}

/* One line per period written with its insights ("2026-10: 3 usage anomalies; median days to
 * payout 34"), then the one summary line, which stays the last line (cron mail, tail -n 1). */
static void nightly_summary(const struct nightly_stats *s, const struct report_job_result *r,
			    const int32_t *periods, const struct insights_summary *ins,
			    const struct contain_period *cp, size_t n)
{
	char list[512] = "", failed[512] = "";
	size_t used = 0, fused = 0;
	for (size_t i = 0; i < n; i++) {
		char p[8], line[256];
		period_format(periods[i], p);
		if (cp[i].failed) { /* contain_log has said why */
			if (fused + 9 < sizeof failed)
				fused += (size_t)snprintf(failed + fused, sizeof failed - fused, " %s", p);
			continue;
		}
		insights_summary_line(&ins[i], line, sizeof line);
		log_info("%s: %s", p, line);
		if (used + 9 < sizeof list)
			used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? " " : "", p);
	}
	log_info("%zu files (%zu ingested, %zu already ingested, %zu rejected whole), %lld rows loaded,"
		 " %lld rejected, %lld exceptions, periods written: %s%s%s",
		 s->files, s->ingested, s->skipped, s->files_rejected, (long long)s->rows, (long long)s->rejected,
		 (long long)r->total.exceptions, used ? list : "none", fused ? ", periods failed:" : "", failed);
}

/* SPEC §7: settle nightly [--inbox DIR] [--out DIR] */
int cmd_nightly(struct settle_ctx *ctx, int argc, char **argv)
{
	static const char usage[] = "nightly [--inbox DIR] [--out DIR]";
	static const struct option opts[] = {
		{ "inbox", required_argument, NULL, 'i' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *inbox = "inbox", *out = "reports";
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': inbox = optarg; break;
		case 'o': out = optarg; break;
		case 'h': printf("usage: settle %s\n", usage); return EXIT_DONE;
		default:
			log_error("unknown or incomplete option \"%s\"", argv[optind - 1]);
			fprintf(stderr, "usage: settle %s\n", usage);
			return EXIT_USAGE;
		}
	}
	if (optind < argc || !*inbox || !*out) {
		log_error("%s", optind < argc ? "nightly takes no arguments" : "--inbox and --out must not be empty");
		fprintf(stderr, "usage: settle %s\n", usage);
		return EXIT_USAGE;
	}
	struct err e = { 0 };
	struct nightly_stats s = { 0 };
	struct nightly_names names = { 0 };
	struct report_job_result res = { 0 };
	struct insights_summary *ins = NULL;
	int32_t *periods = NULL;
	size_t periods_n = 0;
	struct contain_period *cp = NULL;
	size_t failed = 0;
	int64_t as_of_us = 0, through = 0, retraction_through = 0;
	struct db *db;
	int rc = -1;
	if (nightly_list_inbox(inbox, &names, &e) < 0)
		goto done;
	s.files = names.n;
	if (settle_db(ctx, &db, &e) < 0 || db_lock_run(db, &e) < 0 || report_db_now_us(db, &as_of_us, &e) < 0)
		goto done;
	char t[32];
	time_format(as_of_us, t);
	log_progress("as of %s: %zu files in %s", t, names.n, inbox);
	if (nightly_ingest(db, inbox, &names, as_of_us, &s, &e) < 0 ||
	    nightly_periods(db, &ctx->config, as_of_us, &through, &retraction_through, &periods, &periods_n, &e) < 0)
		goto done;
	if (!(ins = calloc(periods_n, sizeof *ins)) || !(cp = calloc(periods_n, sizeof *cp))) {
		err_set(&e, EXIT_FAILED, "out of memory");
		goto done;
	}
	if (nightly_report(db, &ctx->config, as_of_us, out, periods, periods_n, through, retraction_through, &res,
			   ins, cp, &e) < 0)
		goto done;
	failed = contain_log(cp, periods_n);
	nightly_summary(&s, &res, periods, ins, cp, periods_n);
	rc = 0;
done:
	nightly_names_free(&names);
	free(periods);
	free(ins);
	free(cp);
	if (rc < 0) {
		log_progress_done();
		log_error("%s", e.msg);
		/* SPEC §7: 1 means nothing committed; files ingested by this run are. */
		if (s.ingested > 0 && (e.exit_code == 0 || e.exit_code == EXIT_FAILED))
			return EXIT_PARTIAL;
		return e.exit_code ? e.exit_code : EXIT_FAILED;
	}
	/* Containment (contain.h): partly done, the failed periods named above. */
	if (failed > 0 || s.files_failed > 0)
		return EXIT_PARTIAL;
	/* SPEC §7: done, but input rows of this run were quarantined. */
	return s.rejected > 0 || s.files_rejected > 0 ? EXIT_QUARANTINED : EXIT_DONE;
}
