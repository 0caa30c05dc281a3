/* pgembed.h — the embedded default database (SPEC §7).
 *
 * A private PostgreSQL cluster under <home>/pg, initialised on first use, started on a Unix socket
 * in <home>/pg (listen_addresses = '', no TCP port) for the duration of a command and stopped when
 * the last concurrent settle command using it ends. When settle runs as root the server runs as an
 * unprivileged user (SETTLE_PG_USER, else "postgres" if it exists, else "nobody") and the
 * directory is chowned to it. initdb/pg_ctl come from PATH, else /usr/lib/postgresql/<newest>/bin.
 * A stale postmaster.pid from a killed run is handled; concurrent commands coordinate with flock()
 * on files in <home>, so nothing is double-started or stopped under another command's feet.
 */
#ifndef SETTLE_PGEMBED_H
#define SETTLE_PGEMBED_H

#include <stddef.h>

#include "err.h"

struct pgembed;

/* Makes sure the cluster exists and runs; on success *out is owned by the caller (release with
 * pgembed_release) and conninfo (cap bytes) holds a libpq conninfo string for it. home is
 * $SETTLE_HOME (caller resolves the default "./var"). */
int pgembed_acquire(const char *home, struct pgembed **out, char *conninfo, size_t cap, struct err *e);

/* Stops the server if no other settle command is using it, then frees pe. NULL is fine. */
void pgembed_release(struct pgembed *pe);

#endif
