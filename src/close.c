/* close.c — the close ledger and restatements (see close.h, SPEC §6.1). */
#include "close.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "money.h"
#include "reconcile_text.h"
#include "report_csv.h"
#include "report_listing.h"
#include "timeutil.h"

int close_find(struct db *db, int32_t period, int64_t as_of_us, struct close_view *cv, struct err *e)
{
	memset(cv, 0, sizeof *cv);
	char p[8], a[40];
	period_format(period, p);
	if (as_of_us >= 0)
		time_format_pg(as_of_us, a);
	const char *params[] = { p, as_of_us >= 0 ? a : NULL };
	PGresult *r = db_query(db,
			       "SELECT close_id, run_id, (extract(epoch FROM as_of) * 1000000)::bigint,"
			       " manifest_sha256, closed_by FROM settle.period_close"
			       " WHERE period = $1 AND ($2::timestamptz IS NULL OR as_of = $2::timestamptz)"
			       " ORDER BY as_of DESC LIMIT 1",
			       2, params, PGRES_TUPLES_OK, e);
	if (!r)
		return -1;
	int rc = 0;
	if (PQntuples(r) == 1) {
		cv->closed = 1;
		cv->close_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		cv->close_run_id = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
		rc = report_parse_micros(PQgetvalue(r, 0, 2), &cv->close_as_of_us, e);
		snprintf(cv->manifest_sha256, sizeof cv->manifest_sha256, "%s", PQgetvalue(r, 0, 3));
		snprintf(cv->closed_by, sizeof cv->closed_by, "%s", PQgetvalue(r, 0, 4));
	}
	PQclear(r);
	return rc;
}

/* Both runs' measures side by side; a measure one side lacks is 0 there (no allocation in a
 * currency is revenue 0). The order is total: currency (bytes), then the measure's rank. */
static const char close_compare_sql[] =
	"WITH c AS (SELECT * FROM settle.period_measures($1::bigint, $3)),"
	" n AS (SELECT * FROM settle.period_measures($2::bigint, $3))"
	" SELECT coalesce(c.currency, n.currency) AS cur, coalesce(c.ord, n.ord) AS ord,"
	"        coalesce(c.measure, n.measure), coalesce(c.value, 0), coalesce(n.value, 0)"
	" FROM c FULL JOIN n ON c.currency = n.currency AND c.ord = n.ord"
	" ORDER BY coalesce(c.currency, n.currency) COLLATE \"C\", 2";

int close_compare(struct db *db, int64_t run_id, int32_t period, struct close_view *cv, struct err *e)
{
	ASSERT(cv->closed);
	char p[8], a[24], b[24];
	period_format(period, p);
	snprintf(a, sizeof a, "%lld", (long long)cv->close_run_id);
	snprintf(b, sizeof b, "%lld", (long long)run_id);
	const char *params[] = { a, b, p };
	PGresult *r = db_query(db, close_compare_sql, 3, params, PGRES_TUPLES_OK, e);
	if (!r)
		return -1;
	int n = PQntuples(r), rc = 0;
	cv->n = 0;
	cv->differs = 0;
	if ((size_t)n > CLOSE_MEASURES_MAX) {
		PQclear(r);
		return err_set(e, EXIT_FAILED, "%s: more than %d restatement figures (too many currencies)", p,
			       CLOSE_MEASURES_MAX);
	}
	for (int i = 0; i < n && rc == 0; i++) {
		struct close_measure *m = &cv->v[cv->n++];
		snprintf(m->currency, sizeof m->currency, "%s", PQgetvalue(r, i, 0));
		m->ord = atoi(PQgetvalue(r, i, 1));
		snprintf(m->measure, sizeof m->measure, "%s", PQgetvalue(r, i, 2));
		if (report_parse_micros(PQgetvalue(r, i, 3), &m->closed, e) < 0 ||
		    report_parse_micros(PQgetvalue(r, i, 4), &m->now, e) < 0)
			rc = -1;
		else if (m->closed != m->now)
			cv->differs = 1;
	}
	PQclear(r);
	return rc;
}

static int close_is_count(const struct close_measure *m)
{
	return strcmp(m->measure, "exceptions") == 0;
}

/* An amount or count as text for restatement.csv; money with the currency's minor units (SPEC §2). */
static void close_value(const struct close_measure *m, int64_t v, char buf[MONEY_FORMAT_MAX + 1])
{
	if (close_is_count(m))
		snprintf(buf, MONEY_FORMAT_MAX, "%lld", (long long)v);
	else
		money_format(v, report_minor_units(m->currency[0] ? m->currency : NULL), buf);
}

int close_write_csv(const struct close_view *cv, const char *period, const char *path, struct err *e)
{
	struct report_csv_file w;
	if (report_csv_create(path, &w, e) < 0)
		return -1;
	fputs("period,currency,measure,closed,now,difference\n", w.f);
	for (size_t i = 0; i < cv->n; i++) {
		const struct close_measure *m = &cv->v[i];
		int64_t d;
		if (money_sub(m->now, m->closed, &d) != MONEY_OK) {
			report_csv_abandon(&w);
			(void)unlink(path);
			return err_set(e, EXIT_FAILED, "%s: %s %s: the difference overflows", period, m->currency,
				       m->measure);
		}
		char c[MONEY_FORMAT_MAX + 1], n[MONEY_FORMAT_MAX + 1], dd[MONEY_FORMAT_MAX + 1];
		close_value(m, m->closed, c);
		close_value(m, m->now, n);
		close_value(m, d, dd);
		report_csv_put(w.f, period, 1);
		fputc(',', w.f);
		report_csv_put(w.f, m->currency, 1);
		fprintf(w.f, ",%s,%s,%s,%s\n", m->measure, c, n, dd);
	}
	if (report_csv_finish(&w, e) < 0) {
		(void)unlink(path);
		return -1;
	}
	return 0;
}

/* "listing_fee" -> "listing fee" for the summary line. */
static void close_words(const char *measure, char out[16])
{
	snprintf(out, 16, "%s", measure);
	for (char *p = out; *p; p++)
		if (*p == '_')
			*p = ' ';
}

void close_note(const struct close_view *cv, char *buf, size_t cap)
{
	ASSERT(cap >= 64);
	char day[11];
	time_format_day(time_day_of(cv->close_as_of_us), day);
	size_t used = (size_t)snprintf(buf, cap, "(closed %s): %s", day, cv->differs ? "restated:" : "as closed");
	if (!cv->differs)
		return;
	int64_t exceptions = 0;
	int items = 0;
	char item[96];
	for (size_t i = 0; i <= cv->n; i++) {
		item[0] = '\0';
		if (i == cv->n) { /* the exceptions of every currency, as one item at the end */
			if (exceptions)
				snprintf(item, sizeof item, "%lld %s exception%s",
					 (long long)(exceptions > 0 ? exceptions : -exceptions),
					 exceptions > 0 ? "more" : "fewer", exceptions == 1 || exceptions == -1 ? "" : "s");
		} else {
			const struct close_measure *m = &cv->v[i];
			int64_t d;
			if (m->closed == m->now || money_sub(m->now, m->closed, &d) != MONEY_OK)
				continue;
			if (close_is_count(m)) {
				exceptions += d;
				continue;
			}
			/* a line for a person: thousands grouped as in the exception sentences
			 * ("billed +1,000.00 USD"); restatement.csv keeps the plain digits of SPEC §2 */
			char w[16], v[RTEXT_AMOUNT_MAX];
			close_words(m->measure, w);
			rtext_amount(d, report_minor_units(m->currency[0] ? m->currency : NULL), v);
			snprintf(item, sizeof item, "%s %s%s %s", w, d > 0 ? "+" : "", v, m->currency);
		}
		if (!item[0])
			continue;
		size_t len = strlen(item);
		if (used + len + 6 >= cap) {
			if (used + 5 < cap)
				used += (size_t)snprintf(buf + used, cap - used, ", ...");
			return;
		}
		used += (size_t)snprintf(buf + used, cap - used, "%s %s", items ? "," : "", item);
		items++;
	}
}

int close_record(struct db *db, int32_t period, int64_t as_of_us, const char *manifest_sha256,
		 int64_t run_id, const char *out_dir, struct err *e)
{
	char p[8], a[40], run[24], who[64];
	period_format(period, p);
	time_format_pg(as_of_us, a);
	snprintf(run, sizeof run, "%lld", (long long)run_id);
	const char *user = getenv("USER");
	if (!user || !*user) {
		struct passwd *pw = getpwuid(geteuid());
		user = pw && pw->pw_name ? pw->pw_name : "unknown";
	}
	snprintf(who, sizeof who, "%s", user);
	const char *params[] = { p, a, who, manifest_sha256, run, out_dir };
	PGresult *r = db_query(db,
			       "INSERT INTO settle.period_close (period, as_of, closed_by, manifest_sha256, run_id, out_dir)"
			       " VALUES ($1, $2::timestamptz, $3, $4, $5::bigint, $6)",
			       6, params, PGRES_COMMAND_OK, e);
	PQclear(r);
	return r ? 0 : -1;
}

int close_seal_dir(const char *dir, struct err *e)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return err_set(e, EXIT_FAILED, "could not open directory \"%s\": %s", dir, strerror(errno));
	DIR *d = fdopendir(dup(dfd));
	int rc = 0;
	struct dirent *de;
	while (d && rc == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		int fd = openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) != 0 || fchmod(fd, st.st_mode & 07555) != 0 || fsync(fd) != 0)
			rc = err_set(e, EXIT_FAILED, "could not make \"%s/%s\" read-only: %s", dir, de->d_name,
				     strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	if (d)
		closedir(d);
	else
		rc = err_set(e, EXIT_FAILED, "could not read directory \"%s\": %s", dir, strerror(errno));
	struct stat st;
	if (rc == 0 && (fstat(dfd, &st) != 0 || fchmod(dfd, st.st_mode & 07555) != 0 || fsync(dfd) != 0))
		rc = err_set(e, EXIT_FAILED, "could not make \"%s\" read-only: %s", dir, strerror(errno));
	close(dfd);
	return rc;
}

void close_compact_time(int64_t us, char buf[32])
{
	char t[32];
	time_format(us, t);
	size_t k = 0;
	for (const char *p = t; *p; p++)
		if (*p != '-' && *p != ':' && *p != '.')
			buf[k++] = *p;
	buf[k] = '\0';
}
