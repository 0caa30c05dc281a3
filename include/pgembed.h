/* pgembed.h — the embedded default database (SPEC §7).
 *
 * A private PostgreSQL cluster under <home>/pg, initialised on first use, started on a Unix socket
 * in <home>/pg (listen_addresses = '', no TCP port) for the duration of a command and stopped when
 * the last concurrent settle command using it ends. When settle runs as root the server runs as an
 * unprivileged user (SETTLE_PG_USER, else "postgres" if it exists, else "nobody") and the
 * directory is chowned to it. initdb/pg_ctl come from PATH, else /usr/lib/postgresql/<newest>/bin.
 * A stale postmaster.pid from a killed run is handled; concurrent commands coordinate with flock()
 * on files in <home>, so nothing is double-started or stopped under another command's feet.
 *
 * Layout (<home> made absolute and canonical; created 0755 if missing):
 *   <home>/pg.lock        flock(LOCK_EX) around initdb+start and around stop
 *   <home>/pg.users       flock(LOCK_SH) held by each command between acquire and release; the
 *                         releaser stops the server only if it then gets LOCK_EX|LOCK_NB on it
 *   <home>/pg/            0700, owned by the server user; the socket .s.PGSQL.5432 lives here
 *   <home>/pg/server.log  output of initdb, pg_ctl and the server (rotated to server.log.1 past
 *                         16 MiB when the server starts); errors quote its last error line
 *   <home>/pg/data/       the cluster: initdb -U settle --auth-local=trust --auth-host=reject
 *                         -E UTF8 --locale=C (fsync on), built in data.init/ and renamed when done;
 *                         postgresql.conf gets listen_addresses = '', unix_socket_directories =
 *                         '..' (relative to data/, so a moved <home> keeps working), port 5432
 *
 * Trust authentication is safe because only the server user and root can enter <home>/pg.
 * The socket path <home>/pg/.s.PGSQL.5432 must fit in sun_path (at most 107 bytes): a longer
 * <home> is a configuration error (EXIT_USAGE), there is no fallback location.
 * Not root: everything runs as the calling user, who must own <home>/pg; SETTLE_PG_USER is ignored.
 * A server left running by a killed command is stopped by that command's watchdog (a child that
 * waits for settle to exit, however it exits, then stops the server unless another command uses
 * it: pgembed.c), else reused by the next command (and stopped by the last).
 * Children get stdout/stderr on server.log and no other descriptor: nothing here prints.
 */
#ifndef SETTLE_PGEMBED_H
#define SETTLE_PGEMBED_H

#include <stddef.h>

#include "err.h"

struct pgembed;

/* Makes sure the cluster exists and runs (may block while another settle command initialises,
 * starts or stops it); on success *out is owned by the caller (release with pgembed_release) and
 * conninfo (cap bytes) holds "host='<abs home>/pg' port=5432 dbname=settle user=settle" — the
 * database "settle" and the superuser role "settle" whoever the OS user of the server is.
 * home is $SETTLE_HOME (caller resolves the default "./var"); it may be relative and is created
 * if missing. Errors: EXIT_USAGE for configuration problems (socket path too long, no PostgreSQL
 * binaries, unusable SETTLE_PG_USER, a directory the server user cannot reach or does not own),
 * EXIT_FAILED otherwise (initdb or pg_ctl failed: the message names the log and quotes it). */
int pgembed_acquire(const char *home, struct pgembed **out, char *conninfo, size_t cap, struct err *e);

/* Stops the server (pg_ctl stop -m fast) if no other settle command is using it, then frees pe.
 * NULL is fine. Close connections to the server first. */
void pgembed_release(struct pgembed *pe);

#endif
