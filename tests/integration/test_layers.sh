#!/usr/bin/env bash
# test_layers.sh — the layering of docs/design.md, checked on the built objects (issue 11).
#
#   1. No two files call each other: from `nm` of every object of the build, the file-level
#      graph (file A -> file B when A uses a symbol B defines: a function or a table) has no
#      cycle, of two files or more. A cycle found is printed, with the symbols of each step.
#      A cycle is fixed (the shared part moved to a file below both), not listed here as allowed.
#   2. Every file is in one layer of docs/design.md (`layers` below: a new file is placed there),
#      and calls only files of its own layer or of a layer below, never up.
#   3. Nothing below the commands prints to the user: no object but main, cli, cmd_*, and the
#      message sink's own log.c / msg.c uses stdout, stderr, printf, puts, putchar or log.h's
#      message functions (log_info, log_warning, ...); an engine's lines go through msg.h. The
#      exceptions, each for its reason, are in `prints_allowed` below.
#   4. The checker itself finds a cycle of two and of three files in a made-up graph, and none in
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

# --- 2. every file in its layer, calling down ------------------------------------------------
# docs/design.md "Layers", top to bottom: one line per layer, its files as awk patterns (whole
# names). A file of none fails; so does a call from a layer to one above it.
layers='
main           main
commands       cmd_.* cli
run            run
engines        ingest meter_daily inbox reconcile usage_prices reconcile_(groups|payouts|usage|tax|state) insights insights_(read|recorded|series|score) report_set report_csv report_xlsx report_xlsx_.* close contain
rules          asof feed csv_in match alloc disburse usage reconcile_text report_listing offer_terms_list stats
copy_and_db    pgcopy db pgembed reconcile_io schema_sql
base           err log msg config money currency timeutil digest escape signals xlsx_quiet
'
printf '%s\n' "$layers" >"$work/layers"
# Reads the layers, then "FILE SYMBOL TYPE" lines; prints each file in no layer and each call
# up (once per pair of files, with one symbol), and exits 1 when there is any.
layers_awk='
	FNR == NR { if (NF < 2) next; rank++; name[rank] = $1
		for (i = 2; i <= NF; i++) { pat[++patn] = $i; patrank[patn] = rank }
		next }
	function layer(f,   k) { for (k = 1; k <= patn; k++) if (f ~ ("^(" pat[k] ")$")) return patrank[k]; return 0 }
	{ files[$1] = 1; if ($3 == "U") used[++usedn] = $1 SUBSEP $2; else def[$2] = $1 }
	END {
		bad = 0
		for (f in files) if (!layer(f)) { print "  " f ": in no layer"; bad = 1 }
		for (i = 1; i <= usedn; i++) {
			split(used[i], p, SUBSEP); a = p[1]; b = def[p[2]]
			if (b == "" || b == a || !layer(a) || !layer(b) || layer(a) <= layer(b) || seen[a, b]++) continue
			print "  " a " (" name[layer(a)] ") -> " b " (" name[layer(b)] "): " p[2]; bad = 1
		}
		exit bad
	}'
if awk "$layers_awk" "$work/layers" "$work/syms" >"$work/up" 2>&1; then
	ok "every file in its layer, calling only its own layer or below"
else
	ko "every file in its layer, calling only its own layer or below"
	sort "$work/up"
fi

# --- 3. nothing below the commands prints ----------------------------------------------------
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

# --- 4. the checker on made-up graphs ----------------------------------------------------------
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
printf '%s\n' 'asof asof_current_events T' 'run run_create T' 'asof run_create U' 'newfile x T' >"$work/up.in"
awk "$layers_awk" "$work/layers" "$work/up.in" >"$work/up.out" 2>&1
check "a call up a layer is found" grep -qx '  asof (rules) -> run (run): run_create' "$work/up.out"
check "a file in no layer is found" grep -qx '  newfile: in no layer' "$work/up.out"
