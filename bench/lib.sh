# lib.sh — helpers shared by the bench_*.sh scripts of issue 19 (sourced, not run).
#
#   bench_init NAME        checks ./settle, bench/gen, /usr/bin/time; makes $work (removed at exit)
#   bench_data EVENTS METERING [DAILY]   generated month (bench/gen --seed 42, period 2026-10),
#                          cached in /tmp/settle-bench-data-EVENTS-METERING[-du]; prints the dir
#   bench_timed LOG CMD... runs CMD under /usr/bin/time -v (stdout to LOG.out, stderr to LOG.err);
#                          sets secs (wall) and rss_mib (settle's peak RSS); exit 4 counts as done
#   pgmem_start PGDATA / pgmem_stop   the server's memory while a command runs (bench/pgmem.py):
#                          pgmem_stop sets pss_mib (peak Σ PSS), rsssum_mib, hwm_mib, procs
#   sized FULL SMALL       FULL, or SMALL when BENCH_SCALE=small (a quick check of a script)
#   median / ratio A B / load   small helpers
# The embedded default: bench_embedded DIR sets emb=(env -u PGHOST ... SETTLE_HOME=DIR), the prefix
# that runs a command on it (the libpq environment cleared, so a throwaway server of tests/lib/pg.sh
# in the same script stays reachable for psql).
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
settle=${SETTLE_BIN:-$top/settle}
gen=$top/bench/gen

bench_init() {
	bench_name=$1
	[ -x "$settle" ] || { echo "$bench_name: $settle is missing (make)" >&2; exit 1; }
	[ -x "$gen" ] || make -C "$top" --no-print-directory bench/gen >/dev/null || exit 1
	[ -x /usr/bin/time ] || { echo "$bench_name: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
	work=$(mktemp -d "/tmp/settle-bench-$bench_name.XXXXXX")
	chmod 755 "$work"
	bench_cleanup_extra=:
	trap 'pgmem_stop >/dev/null 2>&1; eval "$bench_cleanup_extra"; rm -rf "$work"' EXIT
}

bench_data() { # EVENTS METERING [DAILY]: prints the directory of the generated files
	local events=$1 metering=$2 daily=${3:-0} dir
	dir=${BENCH_DATA_PREFIX:-/tmp/settle-bench-data}-$events-$metering
	[ "$daily" = 1 ] && dir=$dir-du
	if [ ! -f "$dir/.complete" ]; then
		rm -rf "$dir"
		mkdir -p "$dir/inbox"
		echo "$bench_name: generating $events events, $metering metering records$([ "$daily" = 1 ] && echo " and the daily usage feed") into $dir" >&2
		local extra=()
		[ "$daily" = 1 ] && extra=(--daily-usage 1)
		"$gen" --seed 42 --events "$events" --metering "$metering" --period 2026-10 --out "$dir/inbox" \
			"${extra[@]}" 2>"$dir/gen.log" || { cat "$dir/gen.log" >&2; exit 1; }
		touch "$dir/.complete"
	fi
	echo "$dir"
}

bench_embedded() { # DIR: the embedded default under DIR (fsync on, as users get it)
	emb=(env -u PGHOST -u PGHOSTADDR -u PGPORT -u PGDATABASE -u PGUSER -u PGSERVICE -u PGSERVICEFILE -u SETTLE_DB
		"SETTLE_HOME=$1")
}

bench_timed() { # LOG CMD...
	local log=$1 rc
	shift
	SETTLE_RECONCILE_TIMING=1 /usr/bin/time -v -o "$log.time" "$@" >"$log.out" 2>"$log.err"
	rc=$?
	if [ $rc != 0 ] && [ $rc != 4 ]; then
		echo "$bench_name: $* failed with exit code $rc:" >&2
		tail -n 5 "$log.err" >&2
		return 1
	fi
	secs=$(sed -n 's/.*Elapsed (wall clock) time.*: //p' "$log.time" |
		awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }')
	rss_mib=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log.time" | awk '{ printf "%.0f", $1 / 1024 }')
}

bench_steps() { # LOG PREFIX: the steps settle printed (SETTLE_RECONCILE_TIMING=1)
	sed -n 's/^settle: \(reconcile\|insights\|report\) \([0-9-]*\): /\2 \1: /p' "$1.err" | sed "s/^/$2/"
}

pgmem_pid=
pgmem_start() { # PGDATA
	pgmem_out=$work/pgmem.$$.$RANDOM
	python3 "$top/bench/pgmem.py" "$1" "$pgmem_out" &
	pgmem_pid=$!
}

pgmem_stop() {
	[ -n "$pgmem_pid" ] || return 0
	kill -TERM "$pgmem_pid" 2>/dev/null
	wait "$pgmem_pid" 2>/dev/null
	pgmem_pid=
	local pss rss hwm
	read -r pss rss hwm procs _ <"$pgmem_out" || return 1
	pss_mib=$((pss / 1024)) rsssum_mib=$((rss / 1024)) hwm_mib=$((hwm / 1024))
}

sized() { if [ "${BENCH_SCALE:-full}" = small ]; then echo "$2"; else echo "$1"; fi; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
