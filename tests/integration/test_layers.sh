#!/usr/bin/env bash
# test_layers.sh — the layering of docs/design.md, checked on the built objects (issue 11).
#
#   1. No two files call each other: from `nm` of every object of the build, the file-level
#      graph (file A -> file B when A uses a symbol B defines: a function or a table) has no
#      cycle, of two files or more. A cycle found is printed, with the symbols of each step.
#      A cycle is fixed (the shared part moved to a file below both), not listed here as allowed.
#   2. Nothing below the commands prints to the user: no object but main, cli, cmd_*, and the
#      message sink's own log.c / msg.c uses stdout, stderr, printf, puts, putchar or log.h's
#      message functions (log_info, log_warning, ...); an engine's lines go through msg.h. The
#      exceptions, each for its reason, are in `prints_allowed` below.
#   3. The checker itself finds a cycle of two and of three files in a made-up graph, and none in
#      a graph without one (so that 1 cannot pass by finding nothing).
#
# The objects are those of the binary under test: $UNIT_DIR/.. (make test-run and make asan set
# it), else build/. No database.
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

objdir=${UNIT_DIR:+$UNIT_DIR/..}
objdir=${objdir:-$TOP/build}
work=$(mktemp -d /tmp/settle-test-layers.XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT

# Reads "FILE SYMBOL TYPE" lines (TYPE U: used, else defined), prints one line per cycle found:
# "a -> b -> a", then per step "  a -> b: symbols". A depth-first search from every file, in
# name order; every back edge closes a cycle, so a graph with any cycle prints at least one.
cycles_awk='
function visit(v,   i, w) {
	color[v] = 1
	stack[++depth] = v
	for (i = 1; i <= outn[v]; i++) {
		w = out[v, i]
		if (color[w] == 1)
			report(w)
		else if (color[w] == 0)
			visit(w)
	}
	depth--
	color[v] = 2
}
function report(w,   k, from, line) {
	for (from = depth; from > 0 && stack[from] != w; from--)
		;
	line = w
	for (k = from + 1; k <= depth; k++)
		line = line " -> " stack[k]
	print line " -> " w
	for (k = from; k <= depth; k++)
		print "  " stack[k] " -> " (k < depth ? stack[k + 1] : w) ": " syms[stack[k], (k < depth ? stack[k + 1] : w)]
}
{
	file = $1; sym = $2; type = $3
	files[file] = 1
	if (type == "U") { used[++usedn] = file SUBSEP sym } else { def[sym] = file }
}
END {
	for (i = 1; i <= usedn; i++) {
		split(used[i], p, SUBSEP)
		a = p[1]; b = def[p[2]]
		if (b == "" || b == a)
			continue
		if (!((a, b) in edge)) {
			edge[a, b] = 1
			out[a, ++outn[a]] = b
			syms[a, b] = p[2]
		} else if (length(syms[a, b]) < 120)
			syms[a, b] = syms[a, b] " " p[2]
	}
	n = 0
	for (f in files)
		names[++n] = f
	# insertion sort: the same report whatever order for-in gives
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && names[j - 1] > names[j]; j--) {
			t = names[j]; names[j] = names[j - 1]; names[j - 1] = t
		}
	for (i = 1; i <= n; i++)
		if (color[names[i]] == 0)
			visit(names[i])
}'

# "FILE SYMBOL TYPE" for every global symbol of the objects (FILE without directory and .o).
symbols() {
	nm -A -P "$objdir"/*.o | awk '{ f = $1; sub(/:$/, "", f); sub(/.*\//, "", f); sub(/\.o$/, "", f)
		if ($3 ~ /^[TDBRCVWU]$/) print f, $2, $3 }'
}

objects=$(ls "$objdir"/*.o 2>/dev/null | wc -l)
check "the build's objects are there ($objdir)" test "$objects" -gt 40
symbols >"$work/syms" 2>"$work/nm.err"
check "nm reads them" test -s "$work/syms"

# --- 1. no cycles ---------------------------------------------------------------------------
if ! awk "$cycles_awk" "$work/syms" >"$work/cycles" 2>"$work/awk.err"; then
	ko "no two files call each other (the checker failed)"
	sed 's/^/  /' "$work/awk.err"
elif [ -s "$work/cycles" ]; then
	ko "no two files call each other (cycles below)"
	sed 's/^/  /' "$work/cycles"
else
	ok "no two files call each other"
fi
# The graph is not empty: the engines call down into db.c (a broken nm would find no cycle).
check "the graph has its edges (reconcile -> asof -> db)" \
	sh -c "grep -q '^reconcile asof_current_events U' '$work/syms' && grep -q '^asof db_exec U' '$work/syms'"

# --- 2. nothing below the commands prints ----------------------------------------------------
# Allowed, each for its reason:
#   log.c, msg.c   the message sink itself (log.h writes the lines, msg.c hands them to it)
#   err.c          ASSERT's "internal error" line before abort() (err_assert_fail)
#   run.c          run_failpoint's "pausing" line: a test hook (tests/integration/test_signals.sh)
#   xlsx_quiet.c   compares the FILE it is given with stderr, to keep libxlsxwriter's lines out
prints_allowed=' log msg err run xlsx_quiet '
awk -v allowed="$prints_allowed" '
	$3 == "U" && $2 ~ /^(stdout|stderr|printf|puts|putchar|log_(info|warning|error|reject|summary|progress|progress_done))$/ {
		if ($1 == "main" || $1 == "cli" || $1 ~ /^cmd_/ || index(allowed, " " $1 " "))
			next
		print "  " $1 ": " $2
	}' "$work/syms" >"$work/prints"
if [ -s "$work/prints" ]; then
	ko "nothing below the commands prints to the user (through msg.h instead)"
	cat "$work/prints"
else
	ok "nothing below the commands prints to the user"
fi

# --- 3. the checker on made-up graphs ----------------------------------------------------------
printf '%s\n' 'a fa T' 'a fb U' 'b fb T' 'b fa U' 'c fc T' 'c fa U' >"$work/two"
awk "$cycles_awk" "$work/two" >"$work/two.out" 2>&1
check "a cycle of two files is found" grep -qx 'a -> b -> a' "$work/two.out"
check "... with the symbols of each step" grep -qx '  a -> b: fb' "$work/two.out"
printf '%s\n' 'a fa T' 'a fb U' 'b fb T' 'b fc U' 'c fc T' 'c fa U' 'd fd T' 'd fa U' >"$work/three"
awk "$cycles_awk" "$work/three" >"$work/three.out" 2>&1
check "a cycle of three files is found" grep -qx 'a -> b -> c -> a' "$work/three.out"
printf '%s\n' 'a fa T' 'a fb U' 'a fc U' 'b fb T' 'b fc U' 'c fc T' 'c printf U' >"$work/dag"
awk "$cycles_awk" "$work/dag" >"$work/dag.out" 2>&1
check "a graph without a cycle has none" test ! -s "$work/dag.out"
