/* inbox.h — the delivery layout of SPEC §3: walking an inbox, and the kind a file's SDDS folder
 * gives it.
 *
 * An inbox is a plain folder of feed files, or a copy of the seller's SDDS bucket as the
 * marketplace delivers it: `<feed>_v1/year=YYYY/month=MM/data.csv`, possibly below one folder
 * per recipient account. inbox_walk lists every regular file below the inbox, recursively, in
 * byte order of the paths relative to it (SPEC §6), and every entry it could not read as a file
 * (a FIFO, a device, a dangling link, a link loop, a link to a folder, a link out of the inbox, an
 * unreadable folder): those are never silently skipped, the caller names them.
 *
 * Decisions (docs/ingest.md):
 * - Names starting with '.' (files and folders) are skipped: an uploader writes ".x.csv" and
 *   renames it when complete; sync tools keep their state in dot folders.
 * - A symbolic link is never followed out of the inbox. A link to a regular file inside the
 *   inbox is not read either -- its target is read under its own path -- and is listed in
 *   `aliases` (said in one line, not a problem). Every other link is a problem.
 * - Folders nest at most INBOX_DEPTH_MAX deep (a bound, not a layout rule: SDDS needs 5).
 * - A file or folder whose name is not valid UTF-8 is a problem, never opened (nor descended
 *   into): its path could not be recorded in the ledger.
 */
#ifndef SETTLE_INBOX_H
#define SETTLE_INBOX_H

#include <stddef.h>

#include "err.h"
#include "feed.h"

#define INBOX_DEPTH_MAX 32
#define INBOX_PATH_MAX 4096

struct inbox_entry {
	char *path;    /* relative to the inbox, '/'-separated, owned */
	char *why;     /* problems: a short phrase ("a FIFO"), owned; NULL otherwise */
	/* problems: 1 for an entry that may hold feed files settle could not read (a folder it could
	 * not open, an entry it could not examine): later files may depend on its order (SPEC §6). */
	int unreadable;
};

/* A list of entries in byte order of path (strcmp). */
struct inbox_list {
	struct inbox_entry *v;
	size_t n, cap;
};

struct inbox {
	struct inbox_list files;    /* regular files, byte order of path */
	struct inbox_list problems; /* entries that are not readable files, byte order of path */
	struct inbox_list aliases;  /* links to files inside the inbox, not read (see above) */
};

/* Walks root. Fails (-1) only when root itself cannot be opened (EXIT_USAGE when it does not
 * exist or is not a folder) or is too long, or out of memory; a subfolder that cannot be read,
 * or holds an entry whose path is longer than INBOX_PATH_MAX, is a problem, not a failure. */
int inbox_walk(const char *root, struct inbox *out, struct err *e);

/* 1 when path -- which need not exist yet -- is root or lies below it, with symbolic links
 * resolved as far as they exist; 0 otherwise (also when root does not exist, or path cannot be
 * resolved). For
 * nightly's --out: reports written into the inbox would be read back as feed files. */
int inbox_holds(const char *root, const char *path);
void inbox_free(struct inbox *in);
void inbox_list_free(struct inbox_list *l);

/* Adds a copy of path (and why, or NULL) to l; inbox_list_sort restores the byte order. */
int inbox_list_add(struct inbox_list *l, const char *path, const char *why, struct err *e);
void inbox_list_sort(struct inbox_list *l);

/* What the SDDS folder of a path says about its kind (SPEC §3 "Delivery layout"). */
enum inbox_feed {
	INBOX_FEED_NONE = 0,     /* no `<feed>_v1` folder: the header tells */
	INBOX_FEED_KIND,         /* *kind is the feed's kind */
	INBOX_FEED_SKIP,         /* a feed settle does not use (addressfeed_v1: personal data) */
	INBOX_FEED_UNSUPPORTED,  /* an SDDS feed settle has no kind for (yet) */
	INBOX_FEED_UNKNOWN,      /* a `*feed_v1` folder that is no SDDS feed settle knows */
};

/* The kind from the nearest folder of path named `<name>feed_v1` (any depth; the file name itself
 * does not count; a folder such as "backup_v1" is no feed folder). *feed points into path at the folder's name (its length in *feed_len), for
 * messages; both untouched for INBOX_FEED_NONE. */
enum inbox_feed inbox_feed_of_path(const char *path, const struct feed_kind **kind, const char **feed,
				   size_t *feed_len);

/* "accountfeed_v1, agreementfeed_v1, ...": the SDDS feed names, for messages. */
const char *inbox_feed_names(void);

#endif
