#!/bin/sh
# bench/run.sh BUILD_DIR: run every micro-benchmark binary under BUILD_DIR/bench/ REPEAT
# times (default 5) and print, per benchmark key, the median of each numeric field as one
# JSON line (bench/median.awk). Raw lines go to BUILD_DIR/bench/raw.jsonl.
set -eu
B=${1:?usage: bench/run.sh BUILD_DIR}
REPEAT=${REPEAT:-5}
raw="$B/bench/raw.jsonl"
: > "$raw"
echo "# machine: $(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%dT%H:%MZ)" >&2
found=0
for exe in "$B"/bench/*; do
    [ -x "$exe" ] && [ -f "$exe" ] || continue
    case "$exe" in *.o|*.d|*.jsonl) continue ;; esac
    found=1
    i=0
    while [ "$i" -lt "$REPEAT" ]; do
        "$exe" >> "$raw"
        i=$((i + 1))
    done
done
# M4 sweep scaling (bench/sweep.sh; BENCH_SWEEP=0 skips it, RUNS=100 SAMPLES=1000 is M4 in full)
[ "${BENCH_SWEEP:-1}" = 0 ] || bench/sweep.sh "$B"
[ "$found" -eq 1 ] || { echo "bench: no benchmark programs in $B/bench" >&2; exit 0; }
awk -f bench/median.awk "$raw"
