#!/usr/bin/env bash
# test_schema.sh — sql/schema.sql is the schema a fresh `settle init` creates (regenerate it with
# `make schema` after adding a migration), and sql/README.md names every migration file.
set -u
. "$(dirname "$0")/../lib/harness.sh"
harness_init schema schema_check

if bash "$TOP/tests/lib/schema-dump.sh" "$DB" >"$work/schema.sql" 2>"$work/err"; then
	ok "schema dump runs"
else
	ko "schema dump runs"; sed 's/^/  /' "$work/err"
fi
if diff -u "$TOP/sql/schema.sql" "$work/schema.sql" >"$work/diff"; then
	ok "sql/schema.sql is current"
else
	ko "sql/schema.sql is current (run make schema)"; head -n 40 "$work/diff"
fi
missing=0
for f in "$TOP"/sql/[0-9][0-9][0-9]_*.sql; do
	grep -q "$(basename "$f")" "$TOP/sql/README.md" || { echo "  sql/README.md lacks $(basename "$f")"; missing=1; }
done
check "sql/README.md names every migration" test "$missing" = 0
sed -n '/<!-- objects:begin/,/<!-- objects:end/p' "$TOP/sql/README.md" | sed '1d;$d' >"$work/objects.md"
if bash "$TOP/tests/lib/sql-objects.sh" | diff -u "$work/objects.md" - >"$work/odiff"; then
	ok "sql/README.md object table is current"
else
	ko "sql/README.md object table is current (run make schema)"; head -n 20 "$work/odiff"
fi
