/* report_set.c — writing, publishing and describing one period's report set (see report_set.h).
 *
 * Durability order of a set: every file is written and fsync'ed in the temporary directory, the
 * directory itself is fsync'ed, then one rename (an exchange when a previous set exists) puts it
 * in place and the output directory is fsync'ed. A crash before the rename leaves the previous set
 * and a stale ".YYYY-MM.tmp-*" directory that the next run of that period removes; a crash after
 * it leaves the new set (and perhaps the old one under the temporary name, removed likewise).
 */
#include "report_set.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"
#include "log.h"
#include "msg.h"
#include "report_csv.h"
#include "report_listing.h"
#include "timeutil.h"
#include "version.h"

#define REPORT_FILES_MAX 32
#define REPORT_RUNFILE_MAX (16u << 20)

/* ---------------------------------------------------------------------------------------------
 * Facts (run.csv)
 */

static int report_facts_add(struct report_facts *f, const char *key, const char *value, struct err *e)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 64;
		struct report_fact *v = realloc(f->v, cap * sizeof *v);
		if (!v)
			return err_set(e, EXIT_FAILED, "out of memory");
		f->v = v;
		f->cap = cap;
	}
	char *k = strdup(key), *val = strdup(value);
	if (!k || !val) {
		free(k);
		free(val);
		return err_set(e, EXIT_FAILED, "out of memory");
	}
	f->v[f->n].key = k;
	f->v[f->n].value = val;
	f->n++;
	return 0;
}

void report_facts_release(struct report_facts *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free((char *)f->v[i].key);
		free((char *)f->v[i].value);
	}
	free(f->v);
	memset(f, 0, sizeof *f);
}

struct report_config_sink {
	struct report_facts *facts;
	struct err *e;
	int failed;
};

static void report_facts_config(const char *key, const char *value, void *arg)
{
	struct report_config_sink *s = arg;
	char k[128];
	snprintf(k, sizeof k, "config.%s", key);
	if (!s->failed && report_facts_add(s->facts, k, value, s->e) < 0)
		s->failed = 1;
}

/* The input files of a run: every file ingested at or before as-of, whether or not it has rows of
 * this period, because disbursement status, offers and prices reach across periods (SPEC §4.5). */
static const char report_inputs_sql[] =
	"SELECT f.file_name, f.kind, f.sha256, (extract(epoch FROM f.ingested_at) * 1000000)::bigint,"
	"       f.rows_loaded, f.rows_rejected,"
	"       (extract(epoch FROM r.retracted_at) * 1000000)::bigint, r.reason"
	" FROM settle.ingest_file f"
	" LEFT JOIN settle.retraction r ON r.file_id = f.file_id AND r.retracted_at <= $1::timestamptz"
	" WHERE f.ingested_at <= $1::timestamptz ORDER BY f.file_id";

static int report_facts_inputs(struct db *db, int64_t as_of_us, struct report_facts *out, struct err *e)
{
	char as_of_pg[40];
	time_format_pg(as_of_us, as_of_pg);
	const char *params[] = { as_of_pg };
	PGresult *res = db_query(db, report_inputs_sql, 1, params, PGRES_TUPLES_OK, e);
	if (!res)
		return -1;
	int n = PQntuples(res), rc = 0;
	char buf[64], key[64];
	snprintf(buf, sizeof buf, "%d", n);
	rc = report_facts_add(out, "inputs", buf, e);
	static const char *const fields[] = { "name", "kind", "sha256", "ingested_at", "rows_loaded",
					      "rows_rejected" };
	for (int i = 0; i < n && rc == 0; i++) {
		for (int j = 0; j < 6 && rc == 0; j++) {
			const char *v = PQgetvalue(res, i, j);
			char t[32];
			if (j == 3) { /* ingested_at: formatted like as-of, in C, whatever the session */
				int64_t us;
				if (report_parse_micros(v, &us, e) < 0) {
					rc = -1;
					break;
				}
				time_format(us, t);
				v = t;
			}
			snprintf(key, sizeof key, "input.%d.%s", i + 1, fields[j]);
			rc = report_facts_add(out, key, v, e);
		}
		/* sql/013: a file retracted at or before as-of stays listed (its SHA-256 is part of what
		 * a rerun checks) and says since when and why its rows do not count. Only such a run
		 * has these keys, so the run.csv of an as-of before the retraction is unchanged. */
		if (rc == 0 && !PQgetisnull(res, i, 6)) {
			int64_t us;
			char t[32];
			if (report_parse_micros(PQgetvalue(res, i, 6), &us, e) < 0) {
				rc = -1;
				break;
			}
			time_format(us, t);
			snprintf(key, sizeof key, "input.%d.retracted_at", i + 1);
			rc = report_facts_add(out, key, t, e);
			snprintf(key, sizeof key, "input.%d.retracted_why", i + 1);
			if (rc == 0)
				rc = report_facts_add(out, key, PQgetvalue(res, i, 7), e);
		}
	}
	PQclear(res);
	return rc;
}

int report_facts_collect(struct db *db, int64_t run_id, int32_t period, int64_t as_of_us,
			 const struct config *cfg, struct report_facts *out, struct err *e)
{
	(void)run_id; /* run ids differ between a run and its rerun: never part of the output */
	memset(out, 0, sizeof *out);
	char p[8], t[32], v[16];
	period_format(period, p);
	time_format(as_of_us, t);
	int schema = db_schema_version(db, e);
	if (schema < 0)
		return -1;
	snprintf(v, sizeof v, "%d", schema);
	struct report_config_sink sink = { out, e, 0 };
	if (report_facts_add(out, "settle_version", SETTLE_VERSION, e) < 0 ||
	    report_facts_add(out, "period", p, e) < 0 || report_facts_add(out, "as_of", t, e) < 0 ||
	    report_facts_add(out, "schema_version", v, e) < 0)
		goto fail;
	config_each(cfg, report_facts_config, &sink);
	if (sink.failed || report_facts_inputs(db, as_of_us, out, e) < 0)
		goto fail;
	return 0;
fail:
	report_facts_release(out);
	return -1;
}

static int report_write_runcsv(const struct report_facts *f, const char *path, struct err *e)
{
	struct report_csv_file w;
	if (report_csv_create(path, &w, e) < 0)
		return -1;
	fputs("key,value\n", w.f);
	for (size_t i = 0; i < f->n; i++) {
		report_csv_put(w.f, f->v[i].key, 1);
		fputc(',', w.f);
		report_csv_put(w.f, f->v[i].value, 1);
		fputc('\n', w.f);
	}
	return report_csv_finish(&w, e);
}

/* ---------------------------------------------------------------------------------------------
 * Directories
 */

static int report_path(char buf[REPORT_PATH_MAX], struct err *e, const char *a, const char *b)
{
	int n = snprintf(buf, REPORT_PATH_MAX, "%s/%s", a, b);
	if (n < 0 || n >= REPORT_PATH_MAX)
		return err_set(e, EXIT_USAGE, "path \"%s/%s\" is too long", a, b);
	return 0;
}

/* mkdir -p with mode 0750 (less the umask). */
static int report_mkdirs(const char *path, struct err *e)
{
	char buf[REPORT_PATH_MAX];
	int n = snprintf(buf, sizeof buf, "%s", path);
	if (n < 0 || n >= (int)sizeof buf)
		return err_set(e, EXIT_USAGE, "path \"%s\" is too long", path);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;
			*p = '\0';
			if (mkdir(buf, 0750) != 0 && errno != EEXIST)
				return err_set(e, EXIT_FAILED, "could not create directory \"%s\": %s", buf,
					       strerror(errno));
			*p = saved;
			if (!saved)
				break;
		}
	}
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return err_set(e, EXIT_FAILED, "\"%s\" is not a directory", path);
	return 0;
}

static int report_fsync_dir(const char *path, struct err *e)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, EXIT_FAILED, "could not open directory \"%s\": %s", path, strerror(errno));
	int rc = 0;
	if (fsync(fd) != 0)
		rc = err_set(e, EXIT_FAILED, "could not fsync directory \"%s\": %s", path, strerror(errno));
	close(fd);
	return rc;
}

/* Removes root/name: a set directory (its files, then itself) or a single file. A set has no
 * subdirectories; anything unexpected is left in place with a warning. */
static void report_remove_entry(const struct msg_sink *msg, const char *root, const char *name)
{
	int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return;
	int fd = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (unlinkat(rootfd, name, 0) != 0 && errno != ENOENT)
			msg_say(msg, MSG_WARNING, "could not remove \"%s/%s\": %s", root, name, strerror(errno));
		close(rootfd);
		return;
	}
	struct stat sb; /* a sealed set staged by a failed close is read-only: allow the unlinks */
	if (fstat(fd, &sb) == 0 && (sb.st_mode & 0200) == 0)
		(void)fchmod(fd, sb.st_mode | 0700);
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		close(rootfd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) != 0)
			msg_say(msg, MSG_WARNING, "could not remove \"%s/%s/%s\": %s", root, name, de->d_name,
				strerror(errno));
	}
	closedir(d);
	if (unlinkat(rootfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
		msg_say(msg, MSG_WARNING, "could not remove directory \"%s/%s\": %s", root, name, strerror(errno));
	close(rootfd);
}

/* Leftovers of killed runs of this period: ".YYYY-MM.tmp-*". The run lock makes this database's
 * runs the only writers; an output directory shared between databases must not be. */
static void report_remove_stale(const struct msg_sink *msg, const char *root, const char *period)
{
	char prefix[32];
	snprintf(prefix, sizeof prefix, ".%s.tmp-", period);
	DIR *d = opendir(root);
	if (!d)
		return;
	struct dirent *de;
	char names[16][64];
	size_t n = 0;
	while ((de = readdir(d)) != NULL && n < 16) {
		size_t len = strlen(de->d_name);
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0 && len < sizeof names[0])
			memcpy(names[n++], de->d_name, len + 1);
	}
	closedir(d);
	for (size_t i = 0; i < n; i++) {
		msg_say(msg, MSG_WARNING, "removing \"%s/%s\", left by an interrupted run", root, names[i]);
		report_remove_entry(msg, root, names[i]);
	}
}

void report_stage_path(const struct report_stage *st, char buf[REPORT_PATH_MAX])
{
	/* report_stage_write keeps root 64 bytes short of the limit: the name always fits. */
	int n = snprintf(buf, REPORT_PATH_MAX, "%s/%s", st->root, st->tmp);
	ASSERT(n > 0 && n < REPORT_PATH_MAX);
}

void report_stage_discard(struct report_stage *st)
{
	if (!st->tmp[0])
		return;
	report_remove_entry(st->msg, st->root, st->tmp);
	st->tmp[0] = '\0';
}

/* ---------------------------------------------------------------------------------------------
 * Writing a set
 */

static int report_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* MANIFEST: "sha256  name" for every other file of the directory, in byte order of names, the
 * format `sha256sum -c MANIFEST` checks. */
static int report_write_manifest(const char *dir, struct err *e)
{
	char *names[REPORT_FILES_MAX];
	size_t n = 0;
	int rc = -1;
	DIR *d = opendir(dir);
	if (!d)
		return err_set(e, EXIT_FAILED, "could not open directory \"%s\": %s", dir, strerror(errno));
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, REPORT_MANIFEST) == 0)
			continue;
		/* Only fixed names are written; no name sha256sum would have to escape. */
		ASSERT(!strpbrk(de->d_name, "\\\n") && n < REPORT_FILES_MAX);
		if (!(names[n] = strdup(de->d_name))) {
			err_set(e, EXIT_FAILED, "out of memory");
			goto done;
		}
		n++;
	}
	qsort(names, n, sizeof names[0], report_name_cmp);
	char path[REPORT_PATH_MAX];
	struct report_csv_file w;
	if (report_path(path, e, dir, REPORT_MANIFEST) < 0 || report_csv_create(path, &w, e) < 0)
		goto done;
	for (size_t i = 0; i < n; i++) {
		char file[REPORT_PATH_MAX], hex[DIGEST_HEX_LEN + 1];
		if (report_path(file, e, dir, names[i]) < 0 || digest_file(file, hex, e) < 0) {
			report_csv_abandon(&w);
			goto done;
		}
		fprintf(w.f, "%s  %s\n", hex, names[i]);
	}
	rc = report_csv_finish(&w, e);
done:
	closedir(d);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	return rc;
}

/* libxlsxwriter creates the workbook with the process umask: bring it to 0640 or stricter and
 * make it durable like the CSV files. */
static int report_seal_file(const char *path, struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return err_set(e, EXIT_FAILED, "could not open \"%s\": %s", path, strerror(errno));
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) != 0 || fchmod(fd, st.st_mode & 0640) != 0 || fsync(fd) != 0)
		rc = err_set(e, EXIT_FAILED, "could not sync \"%s\": %s", path, strerror(errno));
	close(fd);
	return rc;
}

/* The workbook's sheets first; while a thread zips it (report_xlsx_start), the CSV files. */
static int report_write_files(struct db *db, const struct report_set_input *in, const char *dir,
			      struct err *e)
{
	char period[8], path[REPORT_PATH_MAX], xlsx_path[REPORT_PATH_MAX];
	period_format(in->period, period);
	struct report_facts facts;
	if (report_facts_collect(db, in->run_id, in->period, in->as_of_us, in->cfg, &facts, e) < 0)
		return -1;
	int rc = -1;
	struct report_xlsx_pending *pending = NULL;
	char xlsx[32];
	snprintf(xlsx, sizeof xlsx, "settle-%s.xlsx", period);
	struct report_xlsx_input xin = { in->run_id, period, in->as_of_us, facts.v, facts.n, in->restated,
					 in->cfg ? in->cfg->workbook_detail_rows : 0 };
	msg_say(in->msg, MSG_PROGRESS, "%s: writing %s", period, xlsx);
	if (report_path(xlsx_path, e, dir, xlsx) < 0)
		goto done;
	double t0 = log_clock();
	if (report_xlsx_start(db, &xin, xlsx_path, &pending, e) < 0) {
		err_prefix(e, "%s", xlsx);
		goto done;
	}
	log_phase("report", period, "workbook sheets", t0);
	t0 = log_clock();
	for (size_t i = 0; i < report_listings_n; i++) {
		const struct report_listing *l = &report_listings[i];
		if (!l->csv_name)
			continue;
		msg_say(in->msg, MSG_PROGRESS, "%s: writing %s", period, l->csv_name);
		if (report_path(path, e, dir, l->csv_name) < 0 ||
		    report_csv_write_listing(db, l, in->run_id, period, path, NULL, e) < 0)
			goto done;
	}
	if (in->restated) { /* SPEC §6.1: the restatement of a closed period */
		char t[32];
		time_format(in->restated->close_as_of_us, t);
		if (report_facts_add(&facts, CLOSE_FACT_KEY, t, e) < 0 ||
		    report_path(path, e, dir, CLOSE_RESTATEMENT_CSV) < 0 ||
		    close_write_csv(in->restated, period, path, e) < 0)
			goto done;
	}
	if (report_path(path, e, dir, REPORT_RUN_CSV) < 0 || report_write_runcsv(&facts, path, e) < 0)
		goto done;
	log_phase("report", period, "CSV files", t0);
	t0 = log_clock();
	struct report_xlsx_pending *p = pending;
	pending = NULL;
	if (report_xlsx_finish(p, e) < 0) {
		err_prefix(e, "%s", xlsx);
		goto done;
	}
	log_phase("report", period, "workbook zip (wait)", t0);
	if (report_seal_file(xlsx_path, e) < 0 || report_write_manifest(dir, e) < 0 || report_fsync_dir(dir, e) < 0)
		goto done;
	rc = 0;
done:
	if (pending) { /* a CSV failed: wait for the zip, then drop the workbook with the rest */
		struct err ignored = { 0 };
		(void)report_xlsx_finish(pending, &ignored);
	}
	report_facts_release(&facts);
	return rc;
}

int report_stage_write(struct db *db, const struct report_set_input *in, const char *out_root,
		       struct report_stage *st, struct err *e)
{
	memset(st, 0, sizeof *st);
	st->msg = in->msg;
	period_format(in->period, st->period);
	snprintf(st->target, sizeof st->target, "%s%s", st->period, in->restated ? CLOSE_RESTATED_SUFFIX : "");
	int n = snprintf(st->root, sizeof st->root, "%s", out_root);
	if (n <= 0 || n >= (int)sizeof st->root - 64)
		return err_set(e, EXIT_USAGE, "output directory \"%s\" is too long", out_root);
	while (n > 1 && st->root[n - 1] == '/')
		st->root[--n] = '\0';
	if (report_mkdirs(st->root, e) < 0)
		return -1;
	report_remove_stale(st->msg, st->root, st->target);
	char dir[REPORT_PATH_MAX];
	snprintf(st->tmp, sizeof st->tmp, ".%s.tmp-XXXXXX", st->target);
	report_stage_path(st, dir);
	if (!mkdtemp(dir)) {
		int saved = errno;
		st->tmp[0] = '\0';
		return err_set(e, EXIT_FAILED, "could not create a directory in \"%s\": %s", st->root,
			       strerror(saved));
	}
	memcpy(st->tmp, dir + strlen(st->root) + 1, strlen(dir + strlen(st->root) + 1) + 1);
	/* mkdtemp makes it 0700; a set is readable by the group, like its files (less the umask). */
	mode_t mask = umask(0);
	umask(mask);
	if (chmod(dir, 0750 & ~mask) != 0) {
		err_set(e, EXIT_FAILED, "could not set the mode of \"%s\": %s", dir, strerror(errno));
		report_stage_discard(st);
		return -1;
	}
	if (report_write_files(db, in, dir, e) < 0) {
		report_stage_discard(st);
		return -1;
	}
	msg_progress_end(st->msg);
	return 0;
}

int report_stage_publish(struct report_stage *st, struct err *e)
{
	if (!st->tmp[0]) { /* a closed period as closed: nothing to write (SPEC §6.1) */
		ASSERT(st->drop_restated && st->root[0]);
		if (!st->remove_stale)
			return 0;
		char name[32];
		snprintf(name, sizeof name, "%s%s", st->period, CLOSE_RESTATED_SUFFIX);
		struct stat sb;
		char path[REPORT_PATH_MAX];
		if (report_path(path, e, st->root, name) == 0 && lstat(path, &sb) == 0) {
			msg_say(st->msg, MSG_INFO, "%s: the figures are as closed again: removing the stale \"%s\"",
				st->period, path);
			report_remove_entry(st->msg, st->root, name);
		}
		return 0;
	}
	int rootfd = open(st->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return err_set(e, EXIT_FAILED, "could not open directory \"%s\": %s", st->root, strerror(errno));
	/* SPEC §6.1: nothing ever writes into a closed set, whatever the database says. */
	struct stat sb;
	if (fstatat(rootfd, st->target, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode) &&
	    (sb.st_mode & 0222) == 0) {
		close(rootfd);
		return err_set(e, EXIT_FAILED, "\"%s/%s\" is read-only, a closed set: settle never writes into it",
			       st->root, st->target);
	}
	int rc = 0, exchanged = 0;
	if (renameat2(rootfd, st->tmp, rootfd, st->target, RENAME_EXCHANGE) == 0) {
		exchanged = 1; /* st->tmp now names the previous set */
	} else if (errno == ENOENT) {
		if (renameat(rootfd, st->tmp, rootfd, st->target) != 0)
			rc = err_set(e, EXIT_FAILED, "could not rename \"%s/%s\": %s", st->root, st->tmp,
				     strerror(errno));
	} else if (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP) {
		/* A file system without exchange: move the old set aside, then the new one in. A
		 * crash between the two renames leaves the old set under the temporary name. */
		char old[64];
		snprintf(old, sizeof old, ".%s.tmp-old", st->target);
		msg_say(st->msg, MSG_WARNING, "\"%s\" cannot exchange directories atomically; replacing in two steps",
			st->root);
		report_remove_entry(st->msg, st->root, old);
		if (renameat(rootfd, st->target, rootfd, old) != 0 ||
		    renameat(rootfd, st->tmp, rootfd, st->target) != 0)
			rc = err_set(e, EXIT_FAILED, "could not replace \"%s/%s\": %s", st->root, st->target,
				     strerror(errno));
		else {
			snprintf(st->tmp, sizeof st->tmp, "%s", old);
			exchanged = 1;
		}
	} else {
		rc = err_set(e, EXIT_FAILED, "could not replace \"%s/%s\": %s", st->root, st->target,
			     strerror(errno));
	}
	if (rc == 0 && fsync(rootfd) != 0)
		rc = err_set(e, EXIT_FAILED, "could not fsync directory \"%s\": %s", st->root, strerror(errno));
	close(rootfd);
	if (rc < 0)
		return -1; /* the caller discards the stage */
	if (exchanged)
		report_remove_entry(st->msg, st->root, st->tmp);
	st->tmp[0] = '\0';
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Periods
 */

int report_parse_period(const char *text, int32_t *out, struct err *e)
{
	char canon[8];
	if (period_parse(text, strlen(text), out) < 0)
		return err_set(e, EXIT_USAGE, "period \"%s\" is not a month written YYYY-MM", text);
	period_format(*out, canon);
	ASSERT(strcmp(canon, text) == 0);
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Reading run.csv
 */

int report_read_file(const char *path, size_t max, char **out, size_t *len, struct err *e)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return err_set(e, EXIT_USAGE, "could not open \"%s\": %s", path, strerror(errno));
	char *buf = malloc(max + 1);
	if (!buf) {
		fclose(f);
		return err_set(e, EXIT_FAILED, "out of memory");
	}
	size_t n = fread(buf, 1, max + 1, f);
	int bad = ferror(f);
	fclose(f);
	if (bad || n > max) {
		free(buf);
		return err_set(e, EXIT_USAGE, bad ? "could not read \"%s\"" : "\"%s\" is too large", path);
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* One RFC 4180 field starting at *p (the buffer is NUL-terminated); unquotes in place into *out.
 * Returns the delimiter that ended it (',', '\n' or '\0'), or -1 for a malformed field. */
static int report_csv_field(char **p, char **out)
{
	char *s = *p, *w = s;
	*out = s;
	if (*s == '"') {
		char *r = s + 1;
		for (;;) {
			if (*r == '\0')
				return -1;
			if (*r == '"') {
				if (r[1] == '"') {
					*w++ = '"';
					r += 2;
					continue;
				}
				r++;
				break;
			}
			*w++ = *r++;
		}
		if (*r != ',' && *r != '\n' && *r != '\0')
			return -1;
		int delim = *r;
		*w = '\0';
		*p = *r ? r + 1 : r;
		return delim;
	}
	while (*s && *s != ',' && *s != '\n') {
		if (*s == '"' || *s == '\r')
			return -1;
		s++;
	}
	int delim = *s;
	*s = '\0';
	*p = delim ? s + 1 : s;
	return delim;
}

static int report_runfile_row(struct report_runfile *rf, const char *key, const char *value,
			      unsigned *seen, struct err *e)
{
	if (strcmp(key, "period") == 0) {
		*seen |= 1;
		return report_parse_period(value, &rf->period, e);
	}
	if (strcmp(key, "as_of") == 0) {
		*seen |= 2;
		if (time_parse(value, strlen(value), &rf->as_of_us) < 0)
			return err_set(e, EXIT_USAGE, "as_of \"%s\" is not a timestamp", value);
		return 0;
	}
	if (strcmp(key, "settle_version") == 0) {
		*seen |= 4;
		snprintf(rf->settle_version, sizeof rf->settle_version, "%s", value);
		return 0;
	}
	if (strcmp(key, CLOSE_FACT_KEY) == 0) { /* a restated set (SPEC §6.1) */
		rf->restated = 1;
		if (time_parse(value, strlen(value), &rf->closed_as_of_us) < 0)
			return err_set(e, EXIT_USAGE, "%s \"%s\" is not a timestamp", CLOSE_FACT_KEY, value);
		return 0;
	}
	if (strcmp(key, "schema_version") == 0) {
		rf->schema_version = atoi(value);
		return 0;
	}
	if (strncmp(key, "config.", 7) == 0)
		return config_set(&rf->cfg, key + 7, value, e);
	size_t kl = strlen(key);
	if (strncmp(key, "input.", 6) == 0 && kl > 7 && strcmp(key + kl - 7, ".sha256") == 0) {
		if (strlen(value) != DIGEST_HEX_LEN || strspn(value, "0123456789abcdef") != DIGEST_HEX_LEN)
			return err_set(e, EXIT_USAGE, "%s: \"%s\" is not a SHA-256", key, value);
		char(*v)[65] = realloc(rf->inputs_sha256, (rf->inputs_n + 1) * sizeof *v);
		if (!v)
			return err_set(e, EXIT_FAILED, "out of memory");
		rf->inputs_sha256 = v;
		memcpy(v[rf->inputs_n++], value, DIGEST_HEX_LEN + 1);
		return 0;
	}
	return 0; /* other facts (inputs' names, counts) are informative */
}

int report_runfile_read(const char *path, struct report_runfile *rf, struct err *e)
{
	memset(rf, 0, sizeof *rf);
	rf->schema_version = -1;
	config_init(&rf->cfg);
	char *buf;
	size_t len;
	if (report_read_file(path, REPORT_RUNFILE_MAX, &buf, &len, e) < 0)
		return -1;
	char *p = buf;
	unsigned seen = 0;
	int line = 0, rc = 0;
	if (strncmp(p, "key,value\n", 10) != 0) {
		rc = err_set(e, EXIT_USAGE, "%s: not a settle run.csv (no \"key,value\" header)", path);
		goto done;
	}
	p += 10;
	line = 1;
	while (*p) {
		char *key, *value;
		line++;
		int d1 = report_csv_field(&p, &key), d2 = d1 == ',' ? report_csv_field(&p, &value) : -1;
		if (d2 != '\n' && d2 != '\0') {
			rc = err_set(e, EXIT_USAGE, "%s:%d: expected \"key,value\"", path, line);
			goto done;
		}
		if (report_runfile_row(rf, key, value, &seen, e) < 0) {
			rc = err_prefix(e, "%s:%d", path, line);
			goto done;
		}
	}
	if ((seen & 7) != 7)
		rc = err_set(e, EXIT_USAGE, "%s: settle_version, period or as_of is missing", path);
done:
	free(buf);
	if (rc < 0)
		report_runfile_release(rf);
	return rc;
}

void report_runfile_release(struct report_runfile *rf)
{
	free(rf->inputs_sha256);
	rf->inputs_sha256 = NULL;
	rf->inputs_n = 0;
}
