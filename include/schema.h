/* schema.h — the migrations compiled in from sql/NNN_*.sql (generated file build/schema_sql.c).
 * db_migrate applies them in order; `version` is NNN. */
#ifndef SETTLE_SCHEMA_H
#define SETTLE_SCHEMA_H

#include <stddef.h>

struct schema_migration {
	int version;
	const char *name; /* "001_ingest" */
	const char *sql;
};

extern const struct schema_migration schema_migrations[];
extern const size_t schema_migrations_n;

#endif
