#!/bin/sh
# Turns sql/NNN_name.sql files into a C table of (version, name, text), so the binary carries its
# schema (SPEC §7). Each SQL line becomes one C string literal; backslashes and quotes escaped.
set -eu
echo '/* generated from sql/NNN_*.sql by tests/lib/embed-sql.sh; do not edit */'
echo '#include "schema.h"'
echo 'const struct schema_migration schema_migrations[] = {'
for f in "$@"; do
	base=$(basename "$f" .sql)
	num=$(echo "$base" | sed 's/_.*//' | sed 's/^0*//')
	printf '\t{ %s, "%s",\n' "$num" "$base"
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t  "/' -e 's/$/\\n"/' "$f"
	printf '\t},\n'
done
echo '};'
printf 'const size_t schema_migrations_n = sizeof schema_migrations / sizeof schema_migrations[0];\n'
