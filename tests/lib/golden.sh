# golden.sh — comparing a report set with golden files, for the report tests.
# Sourced; needs nothing but diff. SETTLE_UPDATE_GOLDEN=1 rewrites the golden files instead.

# run.csv without the lines that change with every release or migration
run_csv_stable() { grep -Ev '^(settle_version|schema_version),' "$1"; }
# golden GOLDEN_DIR SET_DIR: every golden file equals the set's (run.csv through run_csv_stable)
golden() {
	local g=$1 d=$2 f b rc=0
	if [ "${SETTLE_UPDATE_GOLDEN:-}" = 1 ]; then
		mkdir -p "$g"
		for f in "$d"/*.csv; do
			b=$(basename "$f")
			if [ "$b" = run.csv ]; then run_csv_stable "$f" >"$g/$b"; else cp "$f" "$g/$b"; fi
		done
		return 0
	fi
	[ -d "$g" ] || { echo "  no golden directory $g"; return 1; }
	for f in "$g"/*; do
		b=$(basename "$f")
		if [ "$b" = run.csv ]; then
			run_csv_stable "$d/$b" | diff -u "$f" - || rc=1
		else
			diff -u "$f" "$d/$b" || rc=1
		fi
	done
	for f in "$d"/*.csv; do [ -f "$g/$(basename "$f")" ] || { echo "  no golden file for $(basename "$f")"; rc=1; }; done
	return $rc
}
