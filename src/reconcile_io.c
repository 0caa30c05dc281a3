/* reconcile_io.c — bulk rows in and out of PostgreSQL (see reconcile_io.h). */
#include "reconcile_io.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

int rio_i64(const char *text, int64_t *out)
{
	if (!text || !*text)
		return -1;
	const char *p = text;
	if (*p == '-')
		p++;
	if (!*p)
		return -1;
	for (const char *q = p; *q; q++)
		if (*q < '0' || *q > '9')
			return -1;
	errno = 0;
	char *end;
	long long v = strtoll(text, &end, 10);
	if (errno || *end)
		return -1;
	*out = (int64_t)v;
	return 0;
}

int rio_i32(const char *text, int32_t *out)
{
	int64_t v;
	if (rio_i64(text, &v) < 0 || v < INT32_MIN || v > INT32_MAX)
		return -1;
	*out = (int32_t)v;
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * String map
 */

void rio_map_init(struct rio_map *m)
{
	memset(m, 0, sizeof *m);
}

void rio_map_free(struct rio_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->ids);
	memset(m, 0, sizeof *m);
}

static int map_grow(struct rio_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	char **keys = calloc(cap, sizeof *keys);
	size_t *ids = calloc(cap, sizeof *ids);
	if (!keys || !ids) {
		free(keys);
		free(ids);
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->keys[i])
			continue;
		size_t s = (size_t)hash_str(HASH_INIT, m->keys[i]) & (cap - 1);
		while (keys[s])
			s = (s + 1) & (cap - 1);
		keys[s] = m->keys[i];
		ids[s] = m->ids[i];
	}
	free(m->keys);
	free(m->ids);
	m->keys = keys;
	m->ids = ids;
	m->cap = cap;
	return 0;
}

int rio_map_get(const struct rio_map *m, const char *key, size_t *id)
{
	if (m->cap == 0)
		return -1;
	size_t s = (size_t)hash_str(HASH_INIT, key) & (m->cap - 1);
	while (m->keys[s]) {
		if (strcmp(m->keys[s], key) == 0) {
			*id = m->ids[s];
			return 0;
		}
		s = (s + 1) & (m->cap - 1);
	}
	return -1;
}

int rio_map_put(struct rio_map *m, const char *key, size_t *id, int *added, struct err *e)
{
	if (rio_map_get(m, key, id) == 0) {
		*added = 0;
		return 0;
	}
	if ((m->n + 1) * 2 > m->cap && map_grow(m) < 0)
		return err_set(e, EXIT_FAILED, "out of memory");
	char *copy = strdup(key);
	if (!copy)
		return err_set(e, EXIT_FAILED, "out of memory");
	size_t s = (size_t)hash_str(HASH_INIT, key) & (m->cap - 1);
	while (m->keys[s])
		s = (s + 1) & (m->cap - 1);
	m->keys[s] = copy;
	m->ids[s] = m->n;
	*id = m->n++;
	*added = 1;
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Growable strings
 */

int rio_str_set(struct rio_str *b, const char *s, struct err *e)
{
	size_t len = s ? strlen(s) : 0;
	if (len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 32;
		while (cap < len + 1)
			cap *= 2;
		char *p = realloc(b->s, cap);
		if (!p)
			return err_set(e, EXIT_FAILED, "out of memory");
		b->s = p;
		b->cap = cap;
	}
	if (len)
		memcpy(b->s, s, len);
	b->s[len] = '\0';
	b->len = len;
	return 0;
}

int rio_str_keep_smallest(struct rio_str *cur, const char *cand, struct err *e)
{
	if (!cand || !*cand)
		return 0;
	if (cur->len == 0 || strcmp(cand, cur->s) < 0)
		return rio_str_set(cur, cand, e);
	return 0;
}

void rio_str_free(struct rio_str *b)
{
	free(b->s);
	memset(b, 0, sizeof *b);
}
