/* inbox.c — the inbox walk and the SDDS feed folders (see inbox.h; SPEC §3 "Delivery layout").
 *
 * The walk uses lstat, so it sees every symbolic link as a link and decides about it itself:
 * readdir/stat would follow links silently, out of the inbox or into a loop. Paths are sorted
 * once at the end, as whole relative paths: byte order of "a-b/x" and "a/x" is not the order a
 * depth-first walk meets them in ('-' < '/').
 */
#include "inbox.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------------------------------------
 * SDDS feed folders
 */

/* The marketplace's feeds (SDDS.md). `kind` maps a feed to a kind of another name while
 * feed.c does not know the feed's own name; NULL = the feed's name is its kind's name. */
static const struct {
	const char *feed;
	const char *kind;
} inbox_sdds_feeds[] = {
	{ "billingeventfeed_v1", "billing_event" },
	{ "accountfeed_v1", NULL },
	{ "agreementfeed_v1", NULL },
	{ "agreementtermfeed_v1", NULL },
	{ "offerfeed_v1", NULL },
	{ "offerproductfeed_v1", NULL },
	{ "offertargetfeed_v1", NULL },
	{ "productfeed_v1", NULL },
	{ "legacyidmappingfeed_v1", NULL },
	{ "taxitemfeed_v1", NULL },
	{ "dailyusagefeed_v1", NULL },
	{ "addressfeed_v1", NULL },
};
#define INBOX_SDDS_N (sizeof inbox_sdds_feeds / sizeof inbox_sdds_feeds[0])
#define INBOX_FEED_NAME_MAX 64

/* SPEC §3: settle has no use for the address feed (personal data). */
static const char inbox_skipped_feed[] = "addressfeed_v1";

const char *inbox_feed_names(void)
{
	return "billingeventfeed_v1, accountfeed_v1, agreementfeed_v1, agreementtermfeed_v1, offerfeed_v1, "
	       "offerproductfeed_v1, offertargetfeed_v1, productfeed_v1, legacyidmappingfeed_v1, taxitemfeed_v1, "
	       "dailyusagefeed_v1, addressfeed_v1";
}

/* One folder name -> what it says. */
static enum inbox_feed inbox_feed_of_name(const char *name, const struct feed_kind **kind)
{
	if (strcmp(name, inbox_skipped_feed) == 0)
		return INBOX_FEED_SKIP;
	if ((*kind = feed_kind_by_name(name)) != NULL)
		return INBOX_FEED_KIND;
	for (size_t i = 0; i < INBOX_SDDS_N; i++) {
		if (strcmp(inbox_sdds_feeds[i].feed, name) != 0)
			continue;
		if (inbox_sdds_feeds[i].kind && (*kind = feed_kind_by_name(inbox_sdds_feeds[i].kind)) != NULL)
			return INBOX_FEED_KIND;
		return INBOX_FEED_UNSUPPORTED;
	}
	return INBOX_FEED_UNKNOWN;
}

enum inbox_feed inbox_feed_of_path(const char *path, const struct feed_kind **kind, const char **feed,
				   size_t *feed_len)
{
	/* The folders are the components before the last '/'; the nearest `*_v1` one wins. */
	const char *end = strrchr(path, '/');
	while (end && end > path) {
		const char *start = end;
		while (start > path && start[-1] != '/')
			start--;
		size_t len = (size_t)(end - start);
		/* Every SDDS feed is named "<name>feed_v1"; other "*_v1" folders (a user's backup_v1)
		 * are no feed folders. */
		if (len > 7 && memcmp(end - 7, "feed_v1", 7) == 0) {
			char name[INBOX_FEED_NAME_MAX];
			*feed = start;
			*feed_len = len;
			if (len >= sizeof name)
				return INBOX_FEED_UNKNOWN;
			memcpy(name, start, len);
			name[len] = '\0';
			const struct feed_kind *k = NULL;
			enum inbox_feed r = inbox_feed_of_name(name, &k);
			if (r == INBOX_FEED_KIND)
				*kind = k;
			return r;
		}
		end = start > path ? start - 1 : NULL;
	}
	return INBOX_FEED_NONE;
}

/* ---------------------------------------------------------------------------------------------
 * The walk
 */

struct inbox_walk {
	struct inbox *out;
	char root[INBOX_PATH_MAX];      /* as given, without trailing '/' */
	char root_real[INBOX_PATH_MAX]; /* realpath of root: what "inside" means */
};

void inbox_list_free(struct inbox_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].path);
		free(l->v[i].why);
	}
	free(l->v);
	memset(l, 0, sizeof *l);
}

void inbox_free(struct inbox *in)
{
	inbox_list_free(&in->files);
	inbox_list_free(&in->problems);
	inbox_list_free(&in->aliases);
}

int inbox_list_add(struct inbox_list *l, const char *path, const char *why, struct err *e)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct inbox_entry *v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return err_set(e, EXIT_FAILED, "out of memory");
		l->v = v;
		l->cap = cap;
	}
	struct inbox_entry *en = &l->v[l->n];
	en->path = strdup(path);
	en->why = why ? strdup(why) : NULL;
	en->unreadable = 0;
	if (!en->path || (why && !en->why)) {
		free(en->path);
		free(en->why);
		return err_set(e, EXIT_FAILED, "out of memory");
	}
	l->n++;
	return 0;
}

static int inbox_entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct inbox_entry *)a)->path, ((const struct inbox_entry *)b)->path);
}

void inbox_list_sort(struct inbox_list *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof l->v[0], inbox_entry_cmp);
}

/* Adds a problem that may hide feed files (inbox_entry.unreadable). */
static int inbox_unreadable(struct inbox_list *l, const char *path, const char *why, struct err *e)
{
	if (inbox_list_add(l, path, why, e) < 0)
		return -1;
	l->v[l->n - 1].unreadable = 1;
	return 0;
}

/* 1 when real (a resolved path) is root_real or below it. */
static int inbox_inside(const struct inbox_walk *w, const char *real)
{
	size_t n = strlen(w->root_real);
	if (n == 1 && w->root_real[0] == '/')
		return 1;
	return strncmp(real, w->root_real, n) == 0 && (real[n] == '\0' || real[n] == '/');
}

static const char *inbox_type_phrase(mode_t m)
{
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	return "not a regular file";
}

/* A symbolic link at full (rel): never followed; a link to a file inside is an alias. */
static int inbox_link(struct inbox_walk *w, const char *full, const char *rel, struct err *e)
{
	struct stat st;
	char why[128], real[PATH_MAX];
	if (stat(full, &st) != 0) {
		int saved = errno;
		if (saved == ENOENT)
			return inbox_list_add(&w->out->problems, rel, "a dangling symbolic link", e);
		if (saved == ELOOP)
			return inbox_list_add(&w->out->problems, rel, "a symbolic link loop", e);
		snprintf(why, sizeof why, "a symbolic link settle could not follow (%s)", strerror(saved));
		return inbox_list_add(&w->out->problems, rel, why, e);
	}
	if (!realpath(full, real) || !inbox_inside(w, real))
		return inbox_list_add(&w->out->problems, rel, "a symbolic link out of the inbox (not followed)", e);
	if (S_ISDIR(st.st_mode))
		return inbox_list_add(&w->out->problems, rel, "a symbolic link to a folder (not followed)", e);
	if (S_ISREG(st.st_mode))
		return inbox_list_add(&w->out->aliases, rel, NULL, e);
	snprintf(why, sizeof why, "a symbolic link to %s", inbox_type_phrase(st.st_mode));
	return inbox_list_add(&w->out->problems, rel, why, e);
}

/* The folder rel ("" = the inbox) and everything below it. */
static int inbox_dir(struct inbox_walk *w, const char *rel, int depth, struct err *e)
{
	char full[INBOX_PATH_MAX], why[160];
	if (snprintf(full, sizeof full, "%s%s%s", w->root, *rel ? "/" : "", rel) >= (int)sizeof full)
		return err_set(e, EXIT_FAILED, "path \"%s/%s\" is too long", w->root, rel);
	DIR *d = opendir(full);
	if (!d) {
		if (!*rel)
			return err_set(e, errno == ENOENT || errno == ENOTDIR ? EXIT_USAGE : EXIT_FAILED,
				       "could not open inbox \"%s\": %s", w->root, strerror(errno));
		snprintf(why, sizeof why, "a folder settle could not open (%s)", strerror(errno));
		return inbox_unreadable(&w->out->problems, rel, why, e);
	}
	struct dirent *de;
	int rc = 0, too_long_said = 0;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.') /* ".", "..", and files still being written (inbox.h) */
			continue;
		char child[INBOX_PATH_MAX], child_full[INBOX_PATH_MAX];
		struct stat st;
		if (snprintf(child, sizeof child, "%s%s%s", rel, *rel ? "/" : "", de->d_name) >= (int)sizeof child ||
		    snprintf(child_full, sizeof child_full, "%s/%s", full, de->d_name) >= (int)sizeof child_full) {
			/* An entry whose path does not fit is set aside like any entry the walk cannot
			 * read, named by the folder it is in: failing the walk would stop every night
			 * over one folder. */
			if (!too_long_said++)
				rc = inbox_list_add(&w->out->problems, *rel ? rel : ".",
						    "holds entries whose paths are longer than settle reads (4096 bytes)", e);
			continue;
		}
		if (feed_utf8_invalid_at(de->d_name, strlen(de->d_name)) >= 0) {
			/* The ledger, rejected.csv and run.csv record the relative path as text, and the
			 * database refuses a name that is not UTF-8: read, such a file would fail its
			 * ingest every night and hold back every file after it (SPEC §6 order). */
			rc = inbox_list_add(&w->out->problems, child,
					    "a name that is not valid UTF-8 (settle records paths as text; rename it)", e);
		} else if (lstat(child_full, &st) != 0) {
			snprintf(why, sizeof why, "could not be examined (%s)", strerror(errno));
			rc = inbox_unreadable(&w->out->problems, child, why, e);
		} else if (S_ISREG(st.st_mode)) {
			rc = inbox_list_add(&w->out->files, child, NULL, e);
		} else if (S_ISDIR(st.st_mode)) {
			if (depth + 1 >= INBOX_DEPTH_MAX)
				rc = inbox_list_add(&w->out->problems, child, "a folder nested too deep", e);
			else
				rc = inbox_dir(w, child, depth + 1, e);
		} else if (S_ISLNK(st.st_mode)) {
			rc = inbox_link(w, child_full, child, e);
		} else {
			rc = inbox_list_add(&w->out->problems, child, inbox_type_phrase(st.st_mode), e);
		}
	}
	closedir(d);
	return rc;
}

/* The absolute path path names, with symbolic links resolved as far as it exists: its longest
 * existing ancestor resolved, the rest appended as written. 0, or -1 when even "/" or "." cannot
 * be resolved or the result does not fit. */
static int inbox_resolve(const char *path, char *out, size_t cap)
{
	char head[PATH_MAX];
	if (snprintf(head, sizeof head, "%s", path) >= (int)sizeof head)
		return -1;
	const char *tail = "";
	char tail_buf[PATH_MAX] = "";
	for (;;) {
		char real[PATH_MAX];
		if (realpath(*head ? head : ".", real)) {
			int n = snprintf(out, cap, "%s%s%s", real, *tail && strcmp(real, "/") != 0 ? "/" : "", tail);
			return n >= 0 && (size_t)n < cap ? 0 : -1;
		}
		char *slash = strrchr(head, '/');
		char rest[PATH_MAX];
		const char *last = slash ? slash + 1 : head;
		if (snprintf(rest, sizeof rest, "%s%s%s", last, *tail ? "/" : "", tail) >= (int)sizeof rest)
			return -1;
		memcpy(tail_buf, rest, strlen(rest) + 1);
		tail = tail_buf;
		if (!slash)
			head[0] = '\0';        /* a relative name: below "." */
		else if (slash == head)
			head[1] = '\0';        /* below "/" */
		else
			*slash = '\0';
		if (!*head && !*tail)
			return -1;
	}
}

int inbox_holds(const char *root, const char *path)
{
	char r[PATH_MAX], p[PATH_MAX];
	/* An inbox that does not exist holds nothing: the walk says it is missing. */
	if (!realpath(root, r) || inbox_resolve(path, p, sizeof p) < 0)
		return 0;
	size_t n = strlen(r);
	if (n == 1 && r[0] == '/')
		return 1;
	return strncmp(p, r, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

int inbox_walk(const char *root, struct inbox *out, struct err *e)
{
	struct inbox_walk w = { .out = out };
	memset(out, 0, sizeof *out);
	size_t n = strlen(root);
	while (n > 1 && root[n - 1] == '/')
		n--;
	if (n == 0 || n >= sizeof w.root)
		return err_set(e, EXIT_USAGE, "the inbox path is empty or too long");
	memcpy(w.root, root, n);
	w.root[n] = '\0';
	char real[PATH_MAX];
	if (!realpath(w.root, real))
		return err_set(e, errno == ENOENT || errno == ENOTDIR ? EXIT_USAGE : EXIT_FAILED,
			       "could not open inbox \"%s\": %s", w.root, strerror(errno));
	snprintf(w.root_real, sizeof w.root_real, "%s", real);
	if (inbox_dir(&w, "", 0, e) < 0) {
		inbox_free(out);
		return -1;
	}
	inbox_list_sort(&out->files);
	inbox_list_sort(&out->problems);
	inbox_list_sort(&out->aliases);
	return 0;
}
