/* hash.h — FNV-1a, the hash of settle's in-memory lookup tables (rio_map, the offer index, the
 * payout table, the daily metering sums). Not for anything an attacker chooses to collide: every
 * table compares the full key after the hash, so a collision costs time, never a wrong answer.
 * Parts of a composite key are hashed with hash_sep between them, so ("ab", "c") and ("a", "bc")
 * differ. */
#ifndef SETTLE_HASH_H
#define SETTLE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_INIT UINT64_C(14695981039346656037)
#define HASH_PRIME UINT64_C(1099511628211)

static inline uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * HASH_PRIME;
	return h;
}

static inline uint64_t hash_str(uint64_t h, const char *s)
{
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		h = (h ^ *c) * HASH_PRIME;
	return h;
}

/* A separator between the parts of a composite key (0x1f, the ASCII unit separator). */
static inline uint64_t hash_sep(uint64_t h)
{
	return (h ^ 0x1f) * HASH_PRIME;
}

#endif
