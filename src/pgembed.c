/* pgembed.c — the embedded default database (see pgembed.h for the layout and the locking).
 *
 * Notes on the statics: every child program runs through pgembed_run(), which drops privileges
 * (when root), moves to <home>/pg, sends stdout/stderr to the log and closes every other fd, so
 * the postmaster never inherits our flock descriptors. A postmaster's working directory is its
 * data directory: /proc/<pid>/cwd tells our live postmaster from a process that reused its pid.
 * Nothing here prints.
 */
#include "pgembed.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <grp.h>
#include <libpq-fe.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PGEMBED_PORT "5432"              /* only names the socket file; no TCP port is opened */
#define PGEMBED_SOCKET_NAME "/.s.PGSQL." PGEMBED_PORT
#define PGEMBED_DB "settle"              /* created once after initdb */
#define PGEMBED_SUPERUSER "settle"       /* initdb -U: the same role name whoever runs the server */
#define PGEMBED_LOG_MAX (16L * 1024 * 1024) /* server.log is rotated past this, at server start */
#define PGEMBED_START_TRIES 3            /* pg_ctl start attempts (orphaned backends of a killed
					  * postmaster may hold shared memory for a moment) */
#define PGEMBED_READY_WAIT_MS 120000     /* waiting for a server someone else started */
#define PGEMBED_TAIL_MAX 300             /* bytes of log quoted in an error message */
#define PGEMBED_GROUPS_MAX 256
#define PGEMBED_WATCHDOG_TRIES 50        /* x 100 ms: a dead command's pg.users lock going away */

/* Server settings given at every start (so clusters made by older versions get them too).
 * A month of metering is a few GB of WAL in one transaction: with the default max_wal_size (1GB)
 * the server checkpoints every ~30 s in the middle of the load, writing the same pages again and
 * again; 4GB lets a nightly load finish between timed checkpoints. Disk use is bounded by it.
 * shared_buffers: a month of billing events (~400 MB) is read by every reconcile; the default
 * 128MB holds a third of it (the kernel's cache serves the rest, at a cost per page). */
#define PGEMBED_SERVER_OPTIONS "-c max_wal_size=4GB -c shared_buffers=512MB"

/* Appended to postgresql.conf after initdb. The socket directory is relative to the data
 * directory (the postmaster's working directory), so the cluster survives a moved SETTLE_HOME
 * and no path needs quoting. */
static const char pgembed_conf[] =
	"\n# settle (src/pgembed.c): Unix socket only, in the parent of the data directory.\n"
	"listen_addresses = ''\n"
	"unix_socket_directories = '..'\n"
	"unix_socket_permissions = 0700\n"
	"port = " PGEMBED_PORT "\n";

struct pgembed {
	char home[PATH_MAX];     /* absolute, canonical */
	char pg_dir[PATH_MAX];   /* <home>/pg: socket directory */
	char data_dir[PATH_MAX]; /* <home>/pg/data */
	char log_path[PATH_MAX];
	char initdb[PATH_MAX];
	char pg_ctl[PATH_MAX];
	int lock_fd;             /* <home>/pg.lock, -1 when closed */
	int users_fd;            /* <home>/pg.users, holds LOCK_SH between acquire and release */
	int log_fd;              /* server.log, O_APPEND */
	int watch_fd;            /* write end of the watchdog's pipe, -1 when none */
	pid_t watch_pid;         /* the watchdog, 0 when none */
	bool drop;               /* running as root: children run as the user below */
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[PGEMBED_GROUPS_MAX];
	char user[64];           /* server OS user name, for messages */
};

enum pm_state {
	PM_NONE,    /* no lock file */
	PM_DEAD,    /* the lock file names a dead process: postgres removes it on start */
	PM_FOREIGN, /* garbage, or names a live process or a zombie that is provably not our postmaster */
	PM_UNKNOWN, /* unreadable, or a live process we cannot inspect: let postgres judge */
	PM_OURS,    /* a live process whose working directory is our data directory */
};

static int path_fmt2(char *out, size_t cap, const char *a, const char *b)
{
	int n = snprintf(out, cap, "%s%s", a, b);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* mkdir -p; as root, directories created here get 0755 whatever the umask, so that the server
 * user can traverse them. */
static int mkdir_p(const char *path, struct err *e)
{
	char buf[PATH_MAX];
	if (path_fmt2(buf, sizeof buf, path, "") < 0)
		return err_set(e, EXIT_USAGE, "path \"%s\" is too long", path);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(buf, 0755) == 0) {
			if (geteuid() == 0 && chmod(buf, 0755) != 0)
				return err_set(e, EXIT_FAILED, "could not change mode of directory \"%s\": %s", buf,
					       strerror(errno));
		} else if (errno != EEXIST) {
			return err_set(e, EXIT_FAILED, "could not create directory \"%s\": %s", buf,
				       strerror(errno));
		}
		*p = saved;
		if (saved == '\0')
			return 0;
	}
}

static bool is_exec_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* Fills pe->initdb and pe->pg_ctl from the first directory that has both. */
static bool bindir_try(struct pgembed *pe, const char *dir)
{
	char abs[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
	if (!realpath(dir, abs))
		return false;
	if (path_fmt2(a, sizeof a, abs, "/initdb") < 0 || path_fmt2(b, sizeof b, abs, "/pg_ctl") < 0)
		return false;
	if (!is_exec_file(a) || !is_exec_file(b))
		return false;
	memcpy(pe->initdb, a, sizeof a);
	memcpy(pe->pg_ctl, b, sizeof b);
	return true;
}

/* "15" → 15000, "9.6" → 9006: numeric, so 10 sorts after 9.6. */
static long pg_version_rank(const char *bin_dir)
{
	const char *v = bin_dir + strlen("/usr/lib/postgresql/");
	char *end;
	long major = strtol(v, &end, 10);
	long minor = *end == '.' ? strtol(end + 1, &end, 10) : 0;
	return *end == '/' ? major * 1000 + minor : -1;
}

/* initdb/pg_ctl: PATH first, else the newest /usr/lib/postgresql/<v>/bin (SPEC §7). */
static int pgembed_find_bin(struct pgembed *pe, struct err *e)
{
	const char *path = getenv("PATH");
	if (path && *path) {
		char *copy = strdup(path);
		if (!copy)
			return err_set(e, EXIT_FAILED, "out of memory");
		bool found = false;
		char *save = NULL;
		for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save))
			found = bindir_try(pe, d);
		free(copy);
		if (found)
			return 0;
	}
	glob_t g;
	long best_rank = -1;
	size_t best = 0;
	if (glob("/usr/lib/postgresql/*/bin", GLOB_ONLYDIR, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++) {
			long rank = pg_version_rank(g.gl_pathv[i]);
			if (rank > best_rank) {
				best_rank = rank;
				best = i;
			}
		}
		bool found = best_rank >= 0 && bindir_try(pe, g.gl_pathv[best]);
		globfree(&g);
		if (found)
			return 0;
	}
	return err_set(e, EXIT_USAGE,
		       "could not find initdb and pg_ctl on PATH or in /usr/lib/postgresql/*/bin; "
		       "install the PostgreSQL server, or give a database with --db or SETTLE_DB");
}

/* Root runs the server as SETTLE_PG_USER, else "postgres", else "nobody" (SPEC §7). */
static int pgembed_pick_user(struct pgembed *pe, struct err *e)
{
	if (geteuid() != 0) {
		pe->drop = false;
		return 0;
	}
	const char *want = getenv("SETTLE_PG_USER");
	struct passwd *pw = NULL;
	if (want && *want) {
		pw = getpwnam(want);
		if (!pw)
			return err_set(e, EXIT_USAGE, "user \"%s\" named by SETTLE_PG_USER does not exist", want);
	} else {
		pw = getpwnam("postgres");
		if (!pw)
			pw = getpwnam("nobody");
		if (!pw)
			return err_set(e, EXIT_USAGE,
				       "running as root, and neither user \"postgres\" nor \"nobody\" exists "
				       "to run the embedded PostgreSQL server; set SETTLE_PG_USER");
	}
	if (pw->pw_uid == 0)
		return err_set(e, EXIT_USAGE, "cannot run the embedded PostgreSQL server as \"%s\": it has uid 0",
			       pw->pw_name);
	if (strlen(pw->pw_name) >= sizeof pe->user)
		return err_set(e, EXIT_USAGE, "user name \"%s\" is too long", pw->pw_name);
	strcpy(pe->user, pw->pw_name);
	pe->drop = true;
	pe->uid = pw->pw_uid;
	pe->gid = pw->pw_gid;
	pe->ngroups = PGEMBED_GROUPS_MAX;
	if (getgrouplist(pe->user, pe->gid, pe->groups, &pe->ngroups) < 0)
		return err_set(e, EXIT_USAGE, "user \"%s\" is in more than %d groups", pe->user,
			       PGEMBED_GROUPS_MAX);
	return 0;
}

/* In a child only: become the server user. Only syscalls, no allocation. */
static int drop_privileges(const struct pgembed *pe)
{
	if (!pe->drop)
		return 0;
	if (setgroups((size_t)pe->ngroups, pe->groups) != 0 || setgid(pe->gid) != 0 ||
	    setuid(pe->uid) != 0)
		return -1;
	return setuid(0) == 0 ? -1 : 0; /* must be irreversible */
}

static void child_reset(void)
{
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
}

static void close_from(int lowfd)
{
	if (close_range((unsigned)lowfd, ~0U, 0) == 0)
		return;
	long max = sysconf(_SC_OPEN_MAX);
	for (int fd = lowfd; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
		close(fd);
}

static int wait_child(pid_t pid, int *status)
{
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

/* The last error-looking line appended to the log since offset from (a line or two of
 * context for an error message). out is "" when there is nothing. */
static void log_tail(const struct pgembed *pe, off_t from, char *out, size_t cap)
{
	out[0] = '\0';
	char buf[8192];
	int fd = open(pe->log_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	off_t end = lseek(fd, 0, SEEK_END);
	if (end > from + (off_t)sizeof buf - 1)
		from = end - (off_t)sizeof buf + 1;
	ssize_t n = end > from ? pread(fd, buf, (size_t)(end - from), from) : 0;
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	static const char *const marks[] = { "FATAL:", "PANIC:", "ERROR:", "error:", NULL };
	const char *pick = NULL, *last = NULL;
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strspn(line, " \t\r") == strlen(line))
			continue;
		last = line;
		for (size_t i = 0; marks[i]; i++) {
			const char *m = strstr(line, marks[i]);
			if (m)
				pick = marks[i][0] == 'e' ? line : m; /* initdb: keep "initdb: error: ..." */
		}
	}
	if (!pick)
		pick = last;
	if (pick)
		snprintf(out, cap, ": %.*s", PGEMBED_TAIL_MAX, pick);
}

/* Runs argv (argv[0] an absolute path) as the server user in <home>/pg, output to the log, PGDATA
 * set to pgdata when not NULL. Returns 0 when it exits 0, else fills e with what, the exit status,
 * the log file and its last error line. */
static int pgembed_run(struct pgembed *pe, const char *what, const char *const *argv, const char *pgdata,
		       struct err *e)
{
	off_t from = lseek(pe->log_fd, 0, SEEK_END);
	/* A marker for whoever reads the log (tests/integration/test_embedded.sh counts them). */
	dprintf(pe->log_fd, "settle: running %s\n", what);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return err_set(e, EXIT_FAILED, "could not fork to run %s: %s", what, strerror(errno));
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(pe->log_fd, 1) < 0 || dup2(pe->log_fd, 2) < 0)
			_exit(126);
		child_reset();
		if (drop_privileges(pe) != 0) {
			dprintf(2, "settle: could not switch to user \"%s\": %s\n", pe->user, strerror(errno));
			_exit(126);
		}
		/* If settle dies (kill -9), so does initdb or pg_ctl: no orphan keeps writing into
		 * data.init after the lock is gone. The postmaster, pg_ctl's own child, lives on. Set
		 * after setuid(), which clears it. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
			_exit(126);
		if (chdir(pe->pg_dir) != 0) {
			dprintf(2, "settle: could not change directory to \"%s\": %s\n", pe->pg_dir,
				strerror(errno));
			_exit(126);
		}
		if (pgdata)
			setenv("PGDATA", pgdata, 1);
		close_from(3);
		execv(argv[0], (char *const *)argv);
		dprintf(2, "settle: could not execute \"%s\": %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	int status;
	if (wait_child(pid, &status) < 0)
		return err_set(e, EXIT_FAILED, "could not wait for %s: %s", what, strerror(errno));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	char tail[PGEMBED_TAIL_MAX + 8];
	log_tail(pe, from, tail, sizeof tail);
	if (WIFEXITED(status))
		return err_set(e, EXIT_FAILED, "%s failed with exit code %d; see \"%s\"%s", what,
			       WEXITSTATUS(status), pe->log_path, tail);
	return err_set(e, EXIT_FAILED, "%s was terminated by signal %d; see \"%s\"%s", what,
		       WIFSIGNALED(status) ? WTERMSIG(status) : 0, pe->log_path, tail);
}

static int chown_one(const char *path, const struct stat *st, int flag, struct FTW *ftw);
static uid_t chown_uid;
static gid_t chown_gid;

static int chown_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag != FTW_NS && st->st_uid == chown_uid && st->st_gid == chown_gid)
		return 0;
	return lchown(path, chown_uid, chown_gid) == 0 ? 0 : -1;
}

/* In a child with the server user's credentials, so ACLs and group membership count as they
 * will for postgres: the first ancestor of <home>/pg it cannot search, or <home>/pg itself when
 * it cannot use it. Returns 0 when all is well. */
static int pgembed_check_reach(const struct pgembed *pe, struct err *e)
{
	pid_t pid = fork();
	if (pid < 0)
		return err_set(e, EXIT_FAILED, "could not fork: %s", strerror(errno));
	if (pid == 0) {
		if (drop_privileges(pe) != 0)
			_exit(255);
		char buf[PATH_MAX];
		memcpy(buf, pe->pg_dir, sizeof buf);
		int depth = 1; /* exit status: how many components of pg_dir make the bad prefix */
		for (char *p = buf + 1;; p++) {
			if (*p != '/' && *p != '\0')
				continue;
			char saved = *p;
			*p = '\0';
			if (access(buf, saved ? X_OK : R_OK | W_OK | X_OK) != 0)
				_exit(depth < 250 ? depth : 250);
			*p = saved;
			if (!saved)
				_exit(0);
			depth++;
		}
	}
	int status;
	if (wait_child(pid, &status) < 0 || !WIFEXITED(status))
		return err_set(e, EXIT_FAILED, "could not check access to \"%s\"", pe->pg_dir);
	int depth = WEXITSTATUS(status);
	if (depth == 0)
		return 0;
	if (depth == 255)
		return err_set(e, EXIT_FAILED, "could not switch to user \"%s\"", pe->user);
	char bad[PATH_MAX];
	memcpy(bad, pe->pg_dir, sizeof bad);
	char *p = bad;
	for (int i = 0; i < depth && p; i++)
		p = strchr(p + 1, '/');
	if (p)
		*p = '\0';
	return err_set(e, EXIT_USAGE,
		       "user \"%s\", which runs the embedded PostgreSQL server, cannot access directory \"%s\"; "
		       "make it searchable (chmod o+x), choose another SETTLE_HOME, or set SETTLE_PG_USER",
		       pe->user, bad);
}

/* <home>/pg is 0700 and belongs to the server user (root: chown -R it to them), and they can
 * reach it. Trust authentication relies on the 0700. */
static int pgembed_own_dir(struct pgembed *pe, struct err *e)
{
	struct stat st;
	if (lstat(pe->pg_dir, &st) != 0)
		return err_set(e, EXIT_FAILED, "could not stat \"%s\": %s", pe->pg_dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return err_set(e, EXIT_USAGE, "\"%s\" is not a directory", pe->pg_dir);
	if ((st.st_mode & 077) != 0 && chmod(pe->pg_dir, 0700) != 0)
		return err_set(e, EXIT_FAILED, "could not change mode of \"%s\": %s", pe->pg_dir,
			       strerror(errno));
	if (!pe->drop) {
		if (st.st_uid != geteuid()) {
			struct passwd *owner = getpwuid(st.st_uid);
			return err_set(e, EXIT_USAGE,
				       "directory \"%s\" belongs to user \"%s\"; the embedded server must run as its "
				       "owner: run settle as that user (or as root), or use another SETTLE_HOME",
				       pe->pg_dir, owner ? owner->pw_name : "?");
		}
		return 0;
	}
	/* Only a tree that is not the server user's yet: what it owns, it made itself (we fchown the
	 * log), and walking a tree someone else controls as root invites symlink games. */
	chown_uid = pe->uid;
	chown_gid = pe->gid;
	if ((st.st_uid != pe->uid || st.st_gid != pe->gid) && nftw(pe->pg_dir, chown_one, 32, FTW_PHYS) != 0)
		return err_set(e, EXIT_FAILED, "could not give \"%s\" to user \"%s\": %s", pe->pg_dir, pe->user,
			       strerror(errno));
	return pgembed_check_reach(pe, e);
}

/* Opens server.log for appending, owned by the server user; rotates it past PGEMBED_LOG_MAX when
 * rotate (only while no server writes to it). */
static int pgembed_open_log(struct pgembed *pe, bool rotate, struct err *e)
{
	struct stat st;
	if (rotate && stat(pe->log_path, &st) == 0 && st.st_size > PGEMBED_LOG_MAX) {
		char old[PATH_MAX];
		if (path_fmt2(old, sizeof old, pe->log_path, ".1") == 0)
			(void)rename(pe->log_path, old);
	}
	int fd = open(pe->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return err_set(e, EXIT_FAILED, "could not open log file \"%s\": %s", pe->log_path,
			       strerror(errno));
	if (pe->drop && fchown(fd, pe->uid, pe->gid) != 0) {
		close(fd);
		return err_set(e, EXIT_FAILED, "could not change owner of \"%s\": %s", pe->log_path,
			       strerror(errno));
	}
	if (pe->log_fd >= 0)
		close(pe->log_fd);
	pe->log_fd = fd;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw);
static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

static int fsync_path(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

static int sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	return nanosleep(&ts, NULL);
}

/* initdb once: into data.init, then configured and renamed to data, so a killed initdb leaves
 * nothing that looks like a cluster. Caller holds the EX lock. */
static int pgembed_init(struct pgembed *pe, struct err *e)
{
	char version[PATH_MAX], tmp[PATH_MAX], conf[PATH_MAX];
	if (path_fmt2(version, sizeof version, pe->data_dir, "/PG_VERSION") < 0 ||
	    path_fmt2(tmp, sizeof tmp, pe->data_dir, ".init") < 0 ||
	    path_fmt2(conf, sizeof conf, tmp, "/postgresql.conf") < 0)
		return err_set(e, EXIT_USAGE, "path \"%s\" is too long", pe->data_dir);
	struct stat st;
	if (stat(version, &st) == 0)
		return 0;
	if (stat(pe->data_dir, &st) == 0)
		return err_set(e, EXIT_FAILED, "directory \"%s\" exists but is not a PostgreSQL data directory",
			       pe->data_dir);
	/* A half-built data.init from a killed run; its initdb may take a moment to die. */
	for (int tries = 1; nftw(tmp, rm_one, 32, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT; tries++) {
		if (tries == 3)
			return err_set(e, EXIT_FAILED, "could not remove \"%s\": %s", tmp, strerror(errno));
		sleep_ms(200);
	}
	const char *argv[] = { pe->initdb, "-D", tmp, "-U", PGEMBED_SUPERUSER, "--auth-local=trust",
			       "--auth-host=reject", "-E", "UTF8", "--locale=C", NULL };
	if (pgembed_run(pe, "initdb", argv, NULL, e) < 0)
		return -1;
	int fd = open(conf, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return err_set(e, EXIT_FAILED, "could not open \"%s\": %s", conf, strerror(errno));
	size_t len = sizeof pgembed_conf - 1;
	bool ok = write(fd, pgembed_conf, len) == (ssize_t)len && fsync(fd) == 0;
	int saved = errno;
	if (close(fd) != 0 && ok) {
		ok = false;
		saved = errno;
	}
	if (!ok)
		return err_set(e, EXIT_FAILED, "could not write \"%s\": %s", conf, strerror(saved));
	if (rename(tmp, pe->data_dir) != 0)
		return err_set(e, EXIT_FAILED, "could not rename \"%s\" to \"%s\": %s", tmp, pe->data_dir,
			       strerror(errno));
	if (fsync_path(pe->pg_dir, O_RDONLY | O_DIRECTORY) != 0)
		return err_set(e, EXIT_FAILED, "could not fsync \"%s\": %s", pe->pg_dir, strerror(errno));
	return 0;
}

static bool proc_is_zombie(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	const char *paren = strrchr(buf, ')'); /* "pid (comm) S ...": comm may hold spaces */
	return paren && paren[1] == ' ' && paren[2] == 'Z';
}

/* What a postmaster lock file (postmaster.pid, or the socket's .s.PGSQL.5432.lock: both start
 * with the postmaster's pid) says. A postmaster's working directory is its data directory, which
 * tells our postmaster from a process that reused its pid. */
static enum pm_state pgembed_lock_state(const struct pgembed *pe, const char *path, pid_t *pid_out)
{
	char line[64];
	*pid_out = 0;
	FILE *f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? PM_NONE : PM_UNKNOWN;
	bool got = fgets(line, sizeof line, f) != NULL;
	fclose(f);
	char *end;
	long pid = got ? strtol(line, &end, 10) : 0;
	/* Empty or garbage: a postmaster crashed while writing it. Under our EX lock no server of
	 * ours is starting, and postgres would refuse to start over it. */
	if (!got || pid <= 0 || pid > INT32_MAX || (*end != '\n' && *end != '\0'))
		return PM_FOREIGN;
	*pid_out = (pid_t)pid;
	if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
		return PM_DEAD;
	/* A zombie passes kill(pid, 0), so postgres would refuse to start; it is no postmaster any
	 * more (an init that does not reap, as in some containers, leaves them around). */
	if (proc_is_zombie((pid_t)pid))
		return PM_FOREIGN;
	char proc[64], cwd[PATH_MAX];
	snprintf(proc, sizeof proc, "/proc/%ld/cwd", pid);
	ssize_t n = readlink(proc, cwd, sizeof cwd - 1);
	if (n < 0)
		return kill((pid_t)pid, 0) != 0 && errno == ESRCH ? PM_DEAD : PM_UNKNOWN;
	cwd[n] = '\0';
	return strcmp(cwd, pe->data_dir) == 0 ? PM_OURS : PM_FOREIGN;
}

static enum pm_state pgembed_pm_state(const struct pgembed *pe, pid_t *pid_out)
{
	char path[PATH_MAX];
	if (path_fmt2(path, sizeof path, pe->data_dir, "/postmaster.pid") < 0)
		return PM_UNKNOWN;
	return pgembed_lock_state(pe, path, pid_out);
}

/* Removes the lock file dir/name when it is provably stale (PM_FOREIGN). Caller holds the EX lock
 * and has seen that our postmaster does not run. */
static int pgembed_clear_stale(const struct pgembed *pe, const char *dir, const char *name, struct err *e)
{
	char path[PATH_MAX];
	pid_t pid;
	if (path_fmt2(path, sizeof path, dir, name) < 0)
		return err_set(e, EXIT_USAGE, "path \"%s%s\" is too long", dir, name);
	if (pgembed_lock_state(pe, path, &pid) != PM_FOREIGN)
		return 0;
	if (unlink(path) != 0 && errno != ENOENT)
		return err_set(e, EXIT_FAILED, "could not remove stale lock file \"%s\": %s", path, strerror(errno));
	return 0;
}

static PGPing pgembed_ping(const struct pgembed *pe)
{
	const char *const keys[] = { "host", "port", "dbname", "user", "connect_timeout", NULL };
	const char *const vals[] = { pe->pg_dir, PGEMBED_PORT, "postgres", PGEMBED_SUPERUSER, "5", NULL };
	return PQpingParams(keys, vals, 0);
}

/* Waits for a running postmaster of ours to accept connections. Returns 1 when ready, 0 when it
 * went away (it was shutting down), -1 on timeout. */
static int pgembed_wait_ready(const struct pgembed *pe)
{
	for (long waited = 0; waited < PGEMBED_READY_WAIT_MS; waited += 100) {
		if (pgembed_ping(pe) == PQPING_OK)
			return 1;
		pid_t pid;
		if (pgembed_pm_state(pe, &pid) != PM_OURS)
			return 0;
		sleep_ms(100);
	}
	return -1;
}

/* Makes sure our postmaster runs and accepts connections. Caller holds the EX lock. */
static int pgembed_start(struct pgembed *pe, struct err *e)
{
	bool after_crash = false;
	for (int attempt = 1;; attempt++) {
		if (attempt > 2 * PGEMBED_START_TRIES)
			return err_set(e, EXIT_FAILED, "could not start the embedded PostgreSQL server in \"%s\"; "
				       "see \"%s\"", pe->data_dir, pe->log_path);
		pid_t pid;
		enum pm_state st = pgembed_pm_state(pe, &pid);
		after_crash = after_crash || st != PM_NONE;
		if (st == PM_OURS) {
			int ready = pgembed_wait_ready(pe);
			if (ready > 0)
				return 0;
			if (ready < 0)
				return err_set(e, EXIT_FAILED,
					       "the embedded PostgreSQL server (pid %ld) in \"%s\" does not accept "
					       "connections; see \"%s\"",
					       (long)pid, pe->data_dir, pe->log_path);
			continue; /* it was stopping and is gone now */
		}
		/* Left by a killed postmaster whose pid is now a zombie or another process of the same
		 * user: postgres would refuse to start over either lock file. */
		if (pgembed_clear_stale(pe, pe->data_dir, "/postmaster.pid", e) < 0 ||
		    pgembed_clear_stale(pe, pe->pg_dir, PGEMBED_SOCKET_NAME ".lock", e) < 0)
			return -1;
		if (pgembed_open_log(pe, true, e) < 0)
			return -1;
		/* pg_ctl pastes -D into a /bin/sh command line inside double quotes: pass it only when
		 * that is safe (it names the cluster in ps); PGDATA in the environment does the job. */
		bool d_ok = strpbrk(pe->data_dir, "\"$`\\") == NULL;
		const char *argv[] = { pe->pg_ctl, "start", "-w", "-t", "120", "-s", "-l", "server.log",
				       "-o", PGEMBED_SERVER_OPTIONS, d_ok ? "-D" : NULL, pe->data_dir, NULL };
		if (pgembed_run(pe, "pg_ctl start", argv, pe->data_dir, e) == 0)
			return 0;
		if (!after_crash || attempt >= PGEMBED_START_TRIES)
			return -1; /* retry only after a crash, whose leftovers may take a moment to go */
		sleep_ms(1000L * attempt);
	}
}

/* CREATE DATABASE settle, once. Caller holds the EX lock, so nobody races us. */
static int pgembed_ensure_db(const struct pgembed *pe, struct err *e)
{
	const char *const keys[] = { "host", "port", "dbname", "user", "connect_timeout", NULL };
	const char *const vals[] = { pe->pg_dir, PGEMBED_PORT, "postgres", PGEMBED_SUPERUSER, "30", NULL };
	int rc = -1;
	PGresult *res = NULL;
	PGconn *conn = PQconnectdbParams(keys, vals, 0);
	if (PQstatus(conn) != CONNECTION_OK) {
		err_set(e, EXIT_FAILED, "could not connect to the embedded server in \"%s\": %s", pe->pg_dir,
			PQerrorMessage(conn));
		goto out_conn;
	}
	const char *const params[] = { PGEMBED_DB };
	res = PQexecParams(conn, "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", 1, NULL, params,
			   NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		err_set(e, EXIT_FAILED, "could not list databases: %s", PQerrorMessage(conn));
		goto out_res;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		res = PQexec(conn, "CREATE DATABASE " PGEMBED_DB);
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (PQresultStatus(res) != PGRES_COMMAND_OK && !(state && strcmp(state, "42P04") == 0)) {
			err_set(e, EXIT_FAILED, "could not create database \"%s\": %s", PGEMBED_DB,
				PQerrorMessage(conn));
			goto out_res;
		}
	}
	rc = 0;
out_res:
	PQclear(res);
out_conn:
	PQfinish(conn);
	return rc;
}

/* Stops the server when no command holds LOCK_SH on pg.users; false when one does. Caller holds
 * the EX lock and no LOCK_SH of its own. */
static bool pgembed_stop_if_unused(struct pgembed *pe)
{
	if (flock(pe->users_fd, LOCK_EX | LOCK_NB) != 0)
		return false; /* another command still uses the server */
	pid_t pid;
	if (pe->log_fd >= 0 && pgembed_pm_state(pe, &pid) == PM_OURS) {
		const char *argv[] = { pe->pg_ctl, "stop", "-m", "fast", "-w", "-t", "120", "-s", NULL };
		struct err ignored;
		(void)pgembed_run(pe, "pg_ctl stop", argv, pe->data_dir, &ignored);
	}
	flock(pe->users_fd, LOCK_UN);
	return true;
}

static int open_lock(const char *home, const char *name, int *fd, struct err *e)
{
	char path[PATH_MAX];
	if (path_fmt2(path, sizeof path, home, name) < 0)
		return err_set(e, EXIT_USAGE, "path \"%s%s\" is too long", home, name);
	*fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (*fd < 0)
		return err_set(e, EXIT_FAILED, "could not open lock file \"%s\": %s", path, strerror(errno));
	return 0;
}

static int flock_wait(int fd, int op)
{
	while (flock(fd, op) != 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

/* Paths, user and binaries: everything decided before taking a lock. */
static int pgembed_setup(struct pgembed *pe, const char *home, struct err *e)
{
	if (mkdir_p(home, e) < 0)
		return -1;
	if (!realpath(home, pe->home))
		return err_set(e, EXIT_FAILED, "could not resolve SETTLE_HOME \"%s\": %s", home, strerror(errno));
	if (path_fmt2(pe->pg_dir, sizeof pe->pg_dir, pe->home, "/pg") < 0 ||
	    path_fmt2(pe->data_dir, sizeof pe->data_dir, pe->pg_dir, "/data") < 0 ||
	    path_fmt2(pe->log_path, sizeof pe->log_path, pe->pg_dir, "/server.log") < 0)
		return err_set(e, EXIT_USAGE, "SETTLE_HOME \"%s\" is too long", pe->home);
	/* sun_path holds 108 bytes with the NUL; we fail rather than put the socket elsewhere. */
	size_t socket_len = strlen(pe->pg_dir) + strlen(PGEMBED_SOCKET_NAME);
	if (socket_len >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return err_set(e, EXIT_USAGE,
			       "the embedded server's socket path \"%s" PGEMBED_SOCKET_NAME "\" is too long "
			       "(%zu bytes, at most %zu); use a shorter SETTLE_HOME",
			       pe->pg_dir, socket_len, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	if (pgembed_pick_user(pe, e) < 0 || pgembed_find_bin(pe, e) < 0)
		return -1;
	return 0;
}

/* Writes "host='<pg_dir>' port=5432 dbname=settle user=settle" with conninfo quoting. */
static int pgembed_conninfo(const struct pgembed *pe, char *out, size_t cap, struct err *e)
{
	char host[2 * PATH_MAX];
	size_t j = 0;
	for (const char *s = pe->pg_dir; *s && j + 2 < sizeof host; s++) {
		if (*s == '\'' || *s == '\\')
			host[j++] = '\\';
		host[j++] = *s;
	}
	host[j] = '\0';
	int n = snprintf(out, cap, "host='%s' port=%s dbname=%s user=%s", host, PGEMBED_PORT, PGEMBED_DB,
			 PGEMBED_SUPERUSER);
	if (n < 0 || (size_t)n >= cap)
		return err_set(e, EXIT_FAILED, "conninfo for \"%s\" does not fit in %zu bytes", pe->pg_dir, cap);
	return 0;
}

/* The watchdog (issue 17): a child that outlives a killed settle just long enough to stop the
 * server it was using. It holds the read end of a pipe whose only write end is settle's; when
 * settle exits — released the server normally, or died of kill -9 — the read sees end of file,
 * and the watchdog does what pgembed_release does: under pg.lock, stop the server unless another
 * command holds pg.users. So a server nobody uses never lives on for more than the time of a
 * fast shutdown. It ignores SIGINT/SIGTERM/SIGHUP (a ^C reaches the whole process group: it must
 * live to do its job), keeps no descriptor but the log and the pipe (an inherited flock
 * descriptor would hold settle's lock; an inherited stdout would keep a shell's $(...) waiting),
 * and never touches settle's own locks: it opens its own. Best effort: without it (fork or pipe
 * failed), the next settle command adopts the server, as before. */
static void pgembed_watchdog_main(struct pgembed *pe, int rfd)
{
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	/* out of the way first, so that moving one to 3 or 4 cannot close the other */
	int lf = fcntl(pe->log_fd, F_DUPFD, 10), rf = fcntl(rfd, F_DUPFD, 10);
	int devnull = open("/dev/null", O_RDWR);
	if (lf < 0 || rf < 0 || devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 ||
	    dup2(devnull, 2) < 0 || dup2(lf, 3) < 0 || dup2(rf, 4) < 0)
		_exit(1);
	close_from(5);
	pe->log_fd = 3;
	pe->lock_fd = pe->users_fd = pe->watch_fd = -1; /* closed: they were settle's */
	char c;
	ssize_t n;
	while ((n = read(4, &c, 1)) < 0 && errno == EINTR)
		;
	dprintf(pe->log_fd, "settle: watchdog %ld: its command has ended (%s)\n", (long)getpid(),
		n == 0 ? "end of file" : strerror(errno));
	struct err ignored;
	if (open_lock(pe->home, "/pg.lock", &pe->lock_fd, &ignored) < 0 ||
	    open_lock(pe->home, "/pg.users", &pe->users_fd, &ignored) < 0)
		_exit(1);
	/* A killed process's descriptors are released one by one: the end of file of the pipe may
	 * come before its LOCK_SH on pg.users goes. So a busy pg.users is tried again for a few
	 * seconds (the lock released in between, not to hold up other commands); one that stays
	 * busy belongs to a live command, whose own release (or watchdog) stops the server. */
	for (int tries = 0; tries < PGEMBED_WATCHDOG_TRIES; tries++) {
		if (flock_wait(pe->lock_fd, LOCK_EX) < 0)
			break;
		bool done = pgembed_stop_if_unused(pe);
		flock(pe->lock_fd, LOCK_UN);
		if (done)
			break;
		sleep_ms(100);
	}
	_exit(0);
}

static void pgembed_watchdog_start(struct pgembed *pe)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0)
		return;
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return;
	}
	if (pid == 0) {
		close(fds[1]);
		pgembed_watchdog_main(pe, fds[0]);
	}
	close(fds[0]);
	pe->watch_fd = fds[1];
	pe->watch_pid = pid;
}

/* Normal end: the server is stopped (or in use by another command); the watchdog wakes, finds
 * nothing to do and exits. */
static void pgembed_watchdog_stop(struct pgembed *pe)
{
	if (pe->watch_fd >= 0)
		close(pe->watch_fd);
	pe->watch_fd = -1;
	if (pe->watch_pid > 0) {
		int status;
		(void)wait_child(pe->watch_pid, &status);
	}
	pe->watch_pid = 0;
}

static void pgembed_free(struct pgembed *pe)
{
	if (!pe)
		return;
	if (pe->log_fd >= 0)
		close(pe->log_fd);
	if (pe->users_fd >= 0)
		close(pe->users_fd);
	if (pe->lock_fd >= 0)
		close(pe->lock_fd);
	free(pe);
}

int pgembed_acquire(const char *home, struct pgembed **out, char *conninfo, size_t cap, struct err *e)
{
	ASSERT(home && out && conninfo && cap > 0);
	*out = NULL;
	struct pgembed *pe = calloc(1, sizeof *pe);
	if (!pe)
		return err_set(e, EXIT_FAILED, "out of memory");
	pe->lock_fd = pe->users_fd = pe->log_fd = pe->watch_fd = -1;
	if (pgembed_setup(pe, home, e) < 0 || open_lock(pe->home, "/pg.lock", &pe->lock_fd, e) < 0 ||
	    open_lock(pe->home, "/pg.users", &pe->users_fd, e) < 0)
		goto fail;
	if (flock_wait(pe->lock_fd, LOCK_EX) < 0) {
		err_set(e, EXIT_FAILED, "could not lock \"%s/pg.lock\": %s", pe->home, strerror(errno));
		goto fail;
	}
	if (mkdir(pe->pg_dir, 0700) != 0 && errno != EEXIST) {
		err_set(e, EXIT_FAILED, "could not create directory \"%s\": %s", pe->pg_dir, strerror(errno));
		goto fail_unlock;
	}
	if (pgembed_own_dir(pe, e) < 0 || pgembed_open_log(pe, false, e) < 0 || pgembed_init(pe, e) < 0 ||
	    pgembed_start(pe, e) < 0)
		goto fail_stop;
	if (pgembed_ensure_db(pe, e) < 0 || pgembed_conninfo(pe, conninfo, cap, e) < 0)
		goto fail_stop;
	/* Under the EX lock no one holds pg.users exclusively, so this cannot block. */
	if (flock(pe->users_fd, LOCK_SH | LOCK_NB) != 0) {
		err_set(e, EXIT_FAILED, "could not lock \"%s/pg.users\": %s", pe->home, strerror(errno));
		goto fail_stop;
	}
	pgembed_watchdog_start(pe);
	flock(pe->lock_fd, LOCK_UN);
	*out = pe;
	return 0;
fail_stop:
	/* Leave no server behind that nobody uses (a half-started one included). */
	pgembed_stop_if_unused(pe);
fail_unlock:
	flock(pe->lock_fd, LOCK_UN);
fail:
	pgembed_free(pe);
	return -1;
}

void pgembed_release(struct pgembed *pe)
{
	if (!pe)
		return;
	if (flock_wait(pe->lock_fd, LOCK_EX) == 0) {
		flock(pe->users_fd, LOCK_UN);
		pgembed_stop_if_unused(pe);
		flock(pe->lock_fd, LOCK_UN);
	}
	pgembed_watchdog_stop(pe);
	pgembed_free(pe);
}
