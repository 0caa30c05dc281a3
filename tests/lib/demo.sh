#!/usr/bin/env bash
# demo.sh — what `make demo` runs (after `make` built ./settle): the nightly job on the bundled
# sample month (fixtures/demo/inbox, see fixtures/demo/README.md) with the embedded default
# database under ./var, writing ./reports/YYYY-MM/. Repeatable: a second run finds every file
# already ingested and still (re)writes the current month's reports.
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

# The inbox is copied so that the demo never touches the fixtures; copying the same bytes again
# keeps every file "already ingested" on the next run.
inbox=$SETTLE_HOME/demo-inbox
mkdir -p "$inbox"
cp -p fixtures/demo/inbox/*.csv "$inbox"/

echo "demo: settle nightly --inbox $inbox --out reports  (database: $SETTLE_HOME/pg)"
"$settle" nightly --inbox "$inbox" --out reports
rc=$?
case $rc in
0) ;;
4) echo "demo: done; some sample rows were quarantined on purpose (see rejected.csv)" ;;
*) echo "demo: settle nightly failed with exit code $rc" >&2; exit "$rc" ;;
esac

# nightly reports what is new; a set removed since an earlier demo is written again here.
for m in 2026-09 2026-10; do
	if [ ! -f "reports/$m/MANIFEST" ]; then
		echo "demo: reports/$m is missing; settle report --period $m --out reports"
		"$settle" report --period "$m" --out reports || exit 1
	fi
done

echo
echo "demo: report sets written:"
for d in reports/*/; do
	[ -f "$d/MANIFEST" ] || continue
	(cd "$d" && sha256sum -c --quiet MANIFEST) || { echo "demo: $d does not match its MANIFEST" >&2; exit 1; }
	echo "  $d  ($(ls "$d" | tr '\n' ' '))"
done
month=2026-10
if [ -f "reports/$month/settle-$month.xlsx" ]; then
	echo
	echo "demo: the workbook of the sample month is $top/reports/$month/settle-$month.xlsx"
	echo "demo: verify it again with: ./settle verify reports/$month   (SETTLE_HOME=$SETTLE_HOME)"
else
	echo "demo: reports/$month/settle-$month.xlsx is missing" >&2
	exit 1
fi
