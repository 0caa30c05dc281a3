#!/usr/bin/env bash
# demo.sh — what `make demo` runs (after `make` built ./settle): a month's life on the bundled
# sample (fixtures/demo, see fixtures/demo/README.md) with the embedded default database under
# ./var, writing ./reports. Every as-of is pinned, so the figures read the same every day:
#   1. the nightly job on the sample month, replayed at 2026-11-05T00:00:00Z (nightly --as-of);
#   2. the accountants close October at that as-of: reports/2026-10, read-only, recorded;
#   3. a late October charge arrives (fixtures/demo/late); the next night, replayed at
#      2026-11-26T00:00:00Z, leaves reports/2026-10 untouched and writes reports/2026-10.restated.
# No month without data gets an empty set. A second `make demo` finds it all done and verifies
# it; start over with: chmod -R u+w reports && rm -rf var reports.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
settle=${SETTLE_BIN:-$top/settle}
if [ ! -x "$settle" ]; then
	echo "demo: $settle is missing; run make first" >&2
	exit 1
fi

# The embedded default (SPEC §7): no --db, no SETTLE_DB, no libpq environment.
unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGSERVICE PGSERVICEFILE PGPASSWORD SETTLE_DB
export SETTLE_HOME=${SETTLE_HOME:-./var}
night1=2026-11-05T00:00:00Z
night2=2026-11-26T00:00:00Z
inbox=$SETTLE_HOME/demo-inbox
run() { echo "demo: settle $*"; "$settle" "$@"; }
ok_or_quarantined() { # rc: 4 is expected, the sample has bad rows on purpose
	case $1 in
	0) ;;
	4) echo "demo: done; some sample rows were quarantined on purpose (see rejected.csv)" ;;
	*) echo "demo: settle failed with exit code $1" >&2; exit "$1" ;;
	esac
}

if [ -f "reports/2026-10.restated/MANIFEST" ] && [ -d "$SETTLE_HOME/pg/data" ]; then
	echo "demo: already run (database $SETTLE_HOME/pg); verifying what it wrote"
	echo "demo: to start over: chmod -R u+w reports && rm -rf $SETTLE_HOME reports"
else
	# The inbox is copied so that the demo never touches the fixtures.
	mkdir -p "$inbox"
	cp -p fixtures/demo/inbox/*.csv fixtures/demo/accounts/*.csv "$inbox"/ # accounts: the names in the workbook
	echo "demo: the as-of is pinned to the sample month's nights: $night1, then $night2"
	echo
	echo "demo: 1. the nightly job on the sample month, as of $night1"
	run nightly --as-of "$night1" --inbox "$inbox" --out reports
	ok_or_quarantined $?
	echo
	echo "demo: 2. the accountants close October as of $night1"
	run close --period 2026-10 --as-of "$night1" --out reports || exit 1
	echo
	echo "demo: 3. a late October charge arrives; the next night, as of $night2"
	cp -p fixtures/demo/late/*.csv "$inbox"/
	run nightly --as-of "$night2" --inbox "$inbox" --out reports
	ok_or_quarantined $?
fi

echo
echo "demo: report sets:"
for d in reports/*/; do
	[ -f "$d/MANIFEST" ] || continue
	(cd "$d" && sha256sum -c --quiet MANIFEST) || { echo "demo: $d does not match its MANIFEST" >&2; exit 1; }
	mode=$(stat -c %A "$d")
	echo "  $d  $mode  ($(ls "$d" | tr '\n' ' '))"
done
for d in reports/2026-10 reports/2026-10.restated; do
	"$settle" --quiet verify "$d" >/dev/null || { echo "demo: settle verify $d failed" >&2; exit 1; }
	echo "demo: settle verify $d: every file reproduced"
done
echo
echo "demo: what changed since the close (reports/2026-10.restated/restatement.csv, non-zero rows):"
awk -F, 'NR == 1 || $6 !~ /^0(\.0*)?$/' reports/2026-10.restated/restatement.csv | sed 's/^/  /'
echo
# the closed periods; the offer terms and usage prices that follow are in `settle status` itself
"$settle" status | sed -n '/^closed periods:/,/^offer terms/p' | sed '$d'
echo "demo: settle status lists the rest (files, runs, each offer's terms and where they came from)"
echo
echo "demo: the closed workbook is $top/reports/2026-10/settle-2026-10.xlsx (read-only);"
echo "demo: the restated one, with its Restatement sheet, is $top/reports/2026-10.restated/settle-2026-10.xlsx"
