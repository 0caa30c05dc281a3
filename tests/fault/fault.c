/* fault.c — an LD_PRELOAD shim that fails the Nth malloc, write, fsync or libpq call of a
 * process, for the fault sweep (tests/integration/test_fault.sh; docs/testing.md).
 *
 * Environment (each N counts from 1; unset or 0 = never):
 *   FAULT_MALLOC_N   malloc/calloc/realloc number N returns NULL (errno ENOMEM)
 *   FAULT_WRITE_N    write/fwrite number N fails with FAULT_ERRNO (default ENOSPC; the FILE's
 *                    error flag is set, as a real failed flush would)
 *   FAULT_FSYNC_N    fsync/fdatasync number N fails with EIO
 *   FAULT_PQ_N       libpq call number N fails: PQexec/PQexecParams/PQprepare/PQexecPrepared
 *                    return NULL (as on out of memory), PQputCopyData/PQputCopyEnd return -1;
 *                    nothing is sent, so the connection stays usable for the rollback
 *   FAULT_MALLOC_EXEMPT=NAME  an allocation made directly by a loaded object whose path holds
 *                    NAME is not failed: the fault moves to the next allocation (the sweep exempts
 *                    libxlsxwriter 1.1.4, which uses some malloc results unchecked; docs/testing.md)
 *   FAULT_STICKY=1   every call from N on fails, not only the Nth
 *   FAULT_COUNT_FILE at exit, appends "malloc=A write=B fsync=C pq=D" (calls made) to that file,
 *                    so a sweep can pick N values that exist
 * Only this process is affected: the shim clears LD_PRELOAD from its environment at start.
 * Counting is atomic (settle zips the workbook in a thread of its own).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

enum { F_MALLOC, F_WRITE, F_FSYNC, F_PQ, F_KINDS };
static const char *const fault_env[F_KINDS] = { "FAULT_MALLOC_N", "FAULT_WRITE_N", "FAULT_FSYNC_N", "FAULT_PQ_N" };
static long fault_at[F_KINDS];
static long fault_calls[F_KINDS];
static int fault_sticky, fault_ready;
static char fault_count_file[512];

void *__libc_malloc(size_t);
void *__libc_calloc(size_t, size_t);
void *__libc_realloc(void *, size_t);

/* Reads the environment without allocating (getenv does not; atol does not). */
__attribute__((constructor)) static void fault_init(void)
{
	for (int k = 0; k < F_KINDS; k++) {
		const char *v = getenv(fault_env[k]);
		fault_at[k] = v ? atol(v) : 0;
	}
	const char *s = getenv("FAULT_STICKY");
	fault_sticky = s && *s == '1';
	const char *c = getenv("FAULT_COUNT_FILE");
	if (c)
		snprintf(fault_count_file, sizeof fault_count_file, "%s", c);
	unsetenv("LD_PRELOAD"); /* children (initdb, pg_ctl, postgres) run unharmed */
	fault_ready = 1;
}

__attribute__((destructor)) static void fault_report(void)
{
	if (!fault_count_file[0])
		return;
	fault_ready = 0; /* nothing of ours fails from here on */
	FILE *f = fopen(fault_count_file, "a");
	if (!f)
		return;
	fprintf(f, "malloc=%ld write=%ld fsync=%ld pq=%ld\n", fault_calls[F_MALLOC], fault_calls[F_WRITE],
		fault_calls[F_FSYNC], fault_calls[F_PQ]);
	fclose(f);
}

/* Counts one call of kind k; 1 when it must fail. */
static int fault_hit(int k)
{
	if (!fault_ready)
		return 0;
	long n = __atomic_add_fetch(&fault_calls[k], 1, __ATOMIC_RELAXED);
	return fault_at[k] > 0 && (n == fault_at[k] || (fault_sticky && n > fault_at[k]));
}

/* 1 when the allocation at return address ra is exempt: the fault then moves to the next one. */
static int fault_exempt(void *ra)
{
	const char *name = getenv("FAULT_MALLOC_EXEMPT");
	Dl_info info;
	if (!name || !*name || !dladdr(ra, &info) || !info.dli_fname)
		return 0;
	int hit = 0; /* NAME is a ':'-separated list of substrings */
	for (const char *p = name; *p && !hit;) {
		size_t n = strcspn(p, ":");
		char one[128];
		snprintf(one, sizeof one, "%.*s", (int)(n < sizeof one ? n : sizeof one - 1), p);
		hit = n > 0 && strstr(info.dli_fname, one) != NULL;
		p += n + (p[n] == ':');
	}
	if (!hit)
		return 0;
	__atomic_add_fetch(&fault_at[F_MALLOC], 1, __ATOMIC_RELAXED);
	return 1;
}

static int fault_malloc_fails(void *ra)
{
	return fault_hit(F_MALLOC) && !fault_exempt(ra);
}

static int fault_errno(void)
{
	const char *v = getenv("FAULT_ERRNO");
	return v && atoi(v) > 0 ? atoi(v) : ENOSPC;
}

void *malloc(size_t n)
{
	if (fault_malloc_fails(__builtin_return_address(0))) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	if (fault_malloc_fails(__builtin_return_address(0))) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	if (fault_malloc_fails(__builtin_return_address(0))) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_realloc(p, n);
}

#define REAL(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

ssize_t write(int fd, const void *buf, size_t n)
{
	/* stderr stays writable: the sweep must be able to read what settle says */
	if (fd != STDERR_FILENO && fault_hit(F_WRITE)) {
		errno = fault_errno();
		return -1;
	}
	return REAL(write)(fd, buf, n);
}

size_t fwrite(const void *buf, size_t size, size_t n, FILE *f)
{
	if (f != stderr && fault_hit(F_WRITE)) {
		f->_flags |= _IO_ERR_SEEN; /* what a failed flush leaves: ferror(f) is true */
		errno = fault_errno();
		return 0;
	}
	return REAL(fwrite)(buf, size, n, f);
}

int fsync(int fd)
{
	if (fault_hit(F_FSYNC)) {
		errno = EIO;
		return -1;
	}
	return REAL(fsync)(fd);
}

int fdatasync(int fd)
{
	if (fault_hit(F_FSYNC)) {
		errno = EIO;
		return -1;
	}
	return REAL(fdatasync)(fd);
}

PGresult *PQexec(PGconn *conn, const char *query)
{
	return fault_hit(F_PQ) ? NULL : REAL(PQexec)(conn, query);
}

PGresult *PQexecParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
		       const char *const *paramValues, const int *paramLengths, const int *paramFormats,
		       int resultFormat)
{
	if (fault_hit(F_PQ))
		return NULL;
	return REAL(PQexecParams)(conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats,
				  resultFormat);
}

PGresult *PQprepare(PGconn *conn, const char *stmtName, const char *query, int nParams, const Oid *paramTypes)
{
	return fault_hit(F_PQ) ? NULL : REAL(PQprepare)(conn, stmtName, query, nParams, paramTypes);
}

PGresult *PQexecPrepared(PGconn *conn, const char *stmtName, int nParams, const char *const *paramValues,
			 const int *paramLengths, const int *paramFormats, int resultFormat)
{
	if (fault_hit(F_PQ))
		return NULL;
	return REAL(PQexecPrepared)(conn, stmtName, nParams, paramValues, paramLengths, paramFormats, resultFormat);
}

int PQputCopyData(PGconn *conn, const char *buffer, int nbytes)
{
	return fault_hit(F_PQ) ? -1 : REAL(PQputCopyData)(conn, buffer, nbytes);
}

int PQputCopyEnd(PGconn *conn, const char *errormsg)
{
	return fault_hit(F_PQ) ? -1 : REAL(PQputCopyEnd)(conn, errormsg);
}
