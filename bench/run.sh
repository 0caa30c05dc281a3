#!/usr/bin/env bash
# run.sh — runs every bench/bench_*.sh in name order and says which failed (`make bench` builds
# ./settle and bench/gen first). BENCH_FILTER=regex runs only matching scripts. Each script prints
# its own numbers; bench/README.md records them with the commands.
set -u
here=$(cd "$(dirname "$0")" && pwd)
filter=${BENCH_FILTER:-.}
failed=()
echo "# settle benchmarks on $(uname -srm), $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo); load average $(cut -d' ' -f1-3 /proc/loadavg)"
for b in "$here"/bench_*.sh; do
	[ -f "$b" ] || continue
	echo "$b" | grep -Eq "$filter" || continue
	echo
	echo "## $(basename "$b")"
	if ! bash "$b"; then
		failed+=("$(basename "$b")")
	fi
done
echo
if [ ${#failed[@]} -gt 0 ]; then
	echo "failed: ${failed[*]}"
	exit 1
fi
echo "all benchmarks finished"
