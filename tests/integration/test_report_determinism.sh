#!/usr/bin/env bash
# test_report_determinism.sh — SPEC §6: the same database, period, as-of, configuration and
# version give byte-identical report files whatever the time zone and locale, workbook included.
# de_DE.UTF-8 is compiled into a private LOCPATH when the system lacks it (localedef), so the
# German locale (decimal comma, other collation) is really in effect for the first run.
set -u
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
harness_init determinism report_determinism

# The German locale, from the system or compiled for this test.
de_env=()
if locale -a 2>/dev/null | grep -qi '^de_DE\.utf-\?8$'; then
	de_env=(LC_ALL=de_DE.UTF-8)
elif command -v localedef >/dev/null && mkdir -p "$work/locale" &&
	localedef -i de_DE -f UTF-8 "$work/locale/de_DE.UTF-8" >/dev/null 2>&1; then
	# glibc's newlocale() leaks a path list when LOCPATH is set (libp11-kit calls it before main):
	# not settle's leak, but LeakSanitizer (make asan) would fail the run on it.
	echo 'leak:__argz_add_sep' >"$work/lsan.supp"
	de_env=(LOCPATH="$work/locale" LC_ALL=de_DE.UTF-8
		LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$work/lsan.supp")
fi
if [ ${#de_env[@]} -gt 0 ] &&
	[ "$(env "${de_env[@]}" /usr/bin/printf '%.1f' 1.5 2>/dev/null)" = "1,5" ]; then
	ok "de_DE.UTF-8 is in effect (decimal comma)"
else
	ko "de_DE.UTF-8 is not available; the locale half of this test cannot run"
	de_env=(LC_ALL=de_DE.UTF-8)
fi

settle ingest "$TOP"/fixtures/demo/inbox/*.csv >"$work/ingest.log" 2>&1
rc=$?
check "ingest the demo month" test $rc = 0 -o $rc = 4
sql "UPDATE settle.ingest_file SET ingested_at = '2026-11-01T00:00:00Z'" || ko "set ingest instants"

as_of=2026-11-02T03:00:00Z
for p in 2026-09 2026-10; do
	env TZ=Pacific/Auckland "${de_env[@]}" "$SETTLE_BIN" --db "$DB" report --period $p --as-of $as_of \
		--out "$work/auckland" 2>/dev/null
	check "$p: report under TZ=Pacific/Auckland de_DE.UTF-8" test $? = 0
	env TZ=UTC LC_ALL=C "$SETTLE_BIN" --db "$DB" report --period $p --as-of $as_of --out "$work/utc" 2>/dev/null
	check "$p: report under TZ=UTC LC_ALL=C" test $? = 0
	env TZ=America/St_Johns LC_ALL=C.UTF-8 "$SETTLE_BIN" --db "$DB" report --period $p \
		--as-of 2026-11-02T00:30:00-02:30 --out "$work/stjohns" 2>/dev/null
	check "$p: report under TZ=America/St_Johns with an as-of in another offset" test $? = 0
	check "$p: identical bytes in Auckland/de_DE and UTC/C (workbook included)" \
		diff -r "$work/auckland/$p" "$work/utc/$p"
	check "$p: identical bytes with the same instant written in another offset" \
		diff -r "$work/utc/$p" "$work/stjohns/$p"
	check "$p: the workbook is in the set" test -s "$work/utc/$p/settle-$p.xlsx"
done
check "amounts keep the decimal point under de_DE" grep -q '^2026-10,.*[0-9]\.[0-9][0-9]' "$work/auckland/2026-10/payouts.csv"

# A rerun in yet another zone reproduces it too.
env TZ=Asia/Kolkata "${de_env[@]}" "$SETTLE_BIN" --db "$DB" rerun --run "$work/utc/2026-10/run.csv" \
	--out "$work/kolkata" 2>/dev/null
check "rerun under TZ=Asia/Kolkata reproduces the set" diff -r "$work/utc/2026-10" "$work/kolkata/2026-10"
