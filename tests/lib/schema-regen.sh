#!/usr/bin/env bash
# schema-regen.sh — `make schema`: writes sql/schema.sql from a throwaway, freshly migrated database.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=pg.sh
. "$top/tests/lib/pg.sh"
pg_test_start
db=$(pg_test_createdb schema_regen)
bash "$top/tests/lib/schema-dump.sh" "$db" >"$top/sql/schema.sql.tmp"
mv "$top/sql/schema.sql.tmp" "$top/sql/schema.sql"
echo "wrote sql/schema.sql"
# the generated table of sql/README.md, between its markers
readme=$top/sql/README.md
{
	sed -n '1,/<!-- objects:begin/p' "$readme"
	bash "$top/tests/lib/sql-objects.sh"
	sed -n '/<!-- objects:end/,$p' "$readme"
} >"$readme.tmp"
mv "$readme.tmp" "$readme"
echo "wrote sql/README.md"
