#!/usr/bin/env bash
# sql-objects.sh — prints the markdown table of sql/README.md: every object the migrations create,
# with the migration that last (re)defined it. `make schema` rewrites the table between the
# "objects:begin" and "objects:end" markers; tests/integration/test_schema.sh checks it is current.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
echo "| object | kind | last defined in |"
echo "|---|---|---|"
for f in "$top"/sql/[0-9][0-9][0-9]_*.sql; do
	grep -oiE '^[[:space:]]*(CREATE( OR REPLACE)?( UNIQUE)?( UNLOGGED)? (TABLE|FUNCTION|VIEW|INDEX|TYPE)( IF NOT EXISTS)?|DROP (TABLE|FUNCTION|VIEW|INDEX|TYPE)( IF EXISTS)?|ALTER TABLE( IF EXISTS)?( ONLY)?) [a-z0-9_.]+' "$f" |
		awk -v file="$(basename "$f")" '{ kind = $(NF-1); if (kind == "EXISTS") kind = $(NF-3) == "IF" ? $(NF-4) : $(NF-3);
			op = toupper($1) == "DROP" ? "drop" : toupper($1) == "ALTER" ? "alter" : "create"; if (op == "alter") kind = "table"; print op "\t" $NF "\t" tolower(kind) "\t" file }'
done | grep -v -E '\tpg_temp\.' |
	awk -F'\t' '$1 == "drop" { delete last[$2]; next } $1 == "alter" { if ($2 in last) last[$2] = $4 " (altered)"; next } { last[$2] = $4; kind[$2] = $3 } END { for (o in last) print o "\t" kind[o] "\t" "`" last[o] "`" }' |
	LC_ALL=C sort | awk -F'\t' '{ printf "| `%s` | %s | %s |\n", $1, $2, $3 }'
