/* digest.h — SHA-256 through OpenSSL's libcrypto (never a hand-written hash).
 * Used for the ingest ledger (byte-identical files are no-ops) and report MANIFESTs. */
#ifndef SETTLE_DIGEST_H
#define SETTLE_DIGEST_H

#include <stddef.h>

#include "err.h"

#define DIGEST_HEX_LEN 64

struct digest;

/* Streaming: new, update any number of times, final writes 64 lower-case hex digits and a NUL
 * into hex, and frees d. digest_free releases an unfinished one (NULL is fine). */
struct digest *digest_new(void);
void digest_update(struct digest *d, const void *buf, size_t len);
void digest_final(struct digest *d, char hex[DIGEST_HEX_LEN + 1]);
void digest_free(struct digest *d);
/* A copy of d's state (d continues unchanged), or NULL when out of memory: the SHA-256 of a
 * prefix and of the whole file from one read. */
struct digest *digest_dup(const struct digest *d);

/* The SHA-256 of a whole file, read in blocks. */
int digest_file(const char *path, char hex[DIGEST_HEX_LEN + 1], struct err *e);

#endif
