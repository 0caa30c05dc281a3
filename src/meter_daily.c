/* meter_daily.c — see meter_daily.h. An open-addressing hash table of groups; each group owns
 * one allocation holding its key bytes (length-prefixed parts, so no separator byte can make two
 * keys collide). */
#include "meter_daily.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "pgcopy.h"

#define METER_DAILY_COPY_CAP ((size_t)256 * 1024)

struct meter_group {
	uint64_t hash;
	char *key;          /* owned: 4 parts, each a uint32_t length then the bytes */
	size_t key_len;
	int32_t day;
	int64_t quantity;
	int64_t records;
};

struct meter_daily {
	struct meter_group *slots; /* owned; key == NULL: empty */
	size_t cap;                /* power of two */
	size_t n;
	int failed;
};

struct meter_daily *meter_daily_new(void)
{
	struct meter_daily *m = calloc(1, sizeof *m); /* owned by the caller */
	if (!m)
		return NULL;
	m->cap = 1024;
	m->slots = calloc(m->cap, sizeof *m->slots);
	if (!m->slots) {
		free(m);
		return NULL;
	}
	return m;
}

void meter_daily_free(struct meter_daily *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	free(m);
}

int meter_daily_usable(const struct meter_daily *m)
{
	return m && !m->failed;
}

static int grow(struct meter_daily *m)
{
	size_t cap = m->cap * 2;
	struct meter_group *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return -1;
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->slots[i].key)
			continue;
		size_t h = (size_t)m->slots[i].hash & (cap - 1);
		while (slots[h].key)
			h = (h + 1) & (cap - 1);
		slots[h] = m->slots[i];
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

/* Appends a length-prefixed part to buf at *at. */
static void put_part(char *buf, size_t *at, const char *s, size_t len)
{
	uint32_t n = (uint32_t)len;
	memcpy(buf + *at, &n, sizeof n);
	*at += sizeof n;
	if (len)
		memcpy(buf + *at, s, len);
	*at += len;
}

int meter_daily_add(struct meter_daily *m, const char *agreement, size_t agreement_len, const char *customer,
		    size_t customer_len, const char *product_code, size_t product_code_len, const char *dimension,
		    size_t dimension_len, int32_t day, int64_t quantity)
{
	if (m->failed)
		return -1;
	char stack[512];
	size_t key_len = 4 * sizeof(uint32_t) + agreement_len + customer_len + product_code_len + dimension_len;
	char *key = key_len <= sizeof stack ? stack : malloc(key_len); /* freed below unless kept */
	if (!key) {
		m->failed = 1;
		return -1;
	}
	size_t at = 0;
	put_part(key, &at, agreement, agreement_len);
	put_part(key, &at, customer, customer_len);
	put_part(key, &at, product_code, product_code_len);
	put_part(key, &at, dimension, dimension_len);
	uint64_t hash = hash_bytes(hash_bytes(HASH_INIT, key, key_len), &day, sizeof day);
	size_t h = (size_t)hash & (m->cap - 1);
	struct meter_group *g;
	for (g = &m->slots[h]; g->key; h = (h + 1) & (m->cap - 1), g = &m->slots[h])
		if (g->hash == hash && g->day == day && g->key_len == key_len && memcmp(g->key, key, key_len) == 0)
			break;
	if (g->key) { /* a known group: the key built above is not needed */
		if (key != stack)
			free(key);
		g->records++;
		if (__builtin_add_overflow(g->quantity, quantity, &g->quantity))
			goto fail;
		return 0;
	}
	if (m->n >= METER_DAILY_GROUPS_MAX) {
		if (key != stack)
			free(key);
		goto fail;
	}
	if (key == stack) {
		key = malloc(key_len);
		if (!key)
			goto fail;
		memcpy(key, stack, key_len);
	}
	*g = (struct meter_group){ hash, key, key_len, day, quantity, 1 }; /* the group owns key */
	m->n++;
	if (2 * m->n > m->cap && grow(m) < 0)
		goto fail;
	return 0;
fail:
	m->failed = 1;
	return -1;
}

/* Reads part i (0-3) of a stored key. */
static const char *get_part(const char *key, int i, size_t *len)
{
	size_t at = 0;
	uint32_t n;
	for (;;) {
		memcpy(&n, key + at, sizeof n);
		at += sizeof n;
		if (i-- == 0)
			break;
		at += n;
	}
	*len = n;
	return key + at;
}

static int sink_db(void *arg, const char *buf, size_t len, struct err *e)
{
	return db_copy_put(arg, buf, len, e);
}

int meter_daily_send(const struct meter_daily *m, struct db *db, int64_t file_id, struct err *e)
{
	if (!meter_daily_usable(m))
		return err_set(e, EXIT_FAILED, "the daily metering sums were not kept");
	if (m->n == 0)
		return 0;
	if (db_copy_begin(db,
			  "COPY settle.metering_daily (file_id, agreement_id, customer_aws_account_id, product_code,"
			  " dimension, usage_day, quantity, records) FROM STDIN (FORMAT binary)",
			  e) < 0)
		return -1;
	struct copy_out out;
	if (copy_out_init(&out, METER_DAILY_COPY_CAP, sink_db, db) < 0) {
		db_copy_abort(db, "out of memory");
		return err_set(e, EXIT_FAILED, "out of memory");
	}
	copy_out_header(&out);
	for (size_t i = 0; i < m->cap && !out.failed; i++) {
		const struct meter_group *g = &m->slots[i];
		if (!g->key)
			continue;
		copy_out_tuple(&out, 8);
		copy_out_int8(&out, file_id);
		for (int p = 0; p < 4; p++) {
			size_t len;
			const char *s = get_part(g->key, p, &len);
			copy_out_text(&out, s, len);
		}
		copy_out_date(&out, g->day);
		copy_out_int8(&out, g->quantity);
		copy_out_int8(&out, g->records);
	}
	if (!out.failed)
		copy_out_trailer(&out);
	int rc = copy_out_flush(&out, e); /* -1 with the sink's error once anything failed */
	copy_out_release(&out);
	if (rc < 0) {
		db_copy_abort(db, "settle could not send the daily metering sums");
		return -1;
	}
	return db_copy_end(db, e);
}
