#!/bin/sh
# bench/sweep.sh BUILD_DIR: BENCHMARKS.md M4, sweep scaling. The same sweep of RUNS short
# W1 runs (analog SGD, 784-256-128-10, soft-bounds devices, one epoch on SAMPLES
# Fashion-MNIST samples, TEST test samples, seeds 1..RUNS) three ways, alternated REPEAT
# times so that the machine's load hits all alike: one worker with one thread
# (-j 1 --threads 1, M4's baseline), one worker with every core (-j 1, the default rule),
# two workers with one thread each (-j 2). Prints one JSON line: medians of the wall
# seconds, the speed-ups of -j 2 over both, the load average before and after. Also checks
# that all three give the same results.csv apart from the timing columns.
#   M4 as specified:  RUNS=100 SAMPLES=1000 bench/sweep.sh build/rel   (default: 20 x 200)
set -eu
. "$(dirname "$0")/lib.sh"
B=${1:?usage: bench/sweep.sh BUILD_DIR}
X=$(cd "$B" && pwd)/xbemu
RUNS=${RUNS:-20} SAMPLES=${SAMPLES:-200} TEST=${TEST:-500} REPEAT=${REPEAT:-3}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cat > "$T/m4.ini" <<EOF
[run]
name = m4
[data]
dataset = fmnist
train_limit = $SAMPLES
test_limit = $TEST
[net]
layers = 784-256-128-10
activation = sigmoid
[train]
algorithm = sgd_analog
epochs = 1
lr = 0.01
bl = 10
[device]
type = softbounds
dw_min = 0.001
dw_min_std = 0.3
[sweep]
run.seed = 1..$RUNS
EOF
now() { date +%s.%N; }
load0=$(cut -d' ' -f1 /proc/loadavg)
: > "$T/j1t1"; : > "$T/j1"; : > "$T/j2"
r=0
while [ "$r" -lt "$REPEAT" ]; do
    for m in j1t1 j1 j2; do
        case $m in j1t1) opt="-j 1 --threads 1" ;; j1) opt="-j 1" ;; j2) opt="-j 2" ;; esac
        rm -rf "$T/out$m"
        t0=$(now)
        "$X" sweep "$T/m4.ini" $opt --out "$T/out$m" -q || { echo "bench sweep: $opt failed" >&2; exit 1; }
        t1=$(now)
        echo "$t1 - $t0" | bc -l >> "$T/$m"
        echo "# sweep $opt: $(tail -1 "$T/$m") s" >&2
    done
    r=$((r + 1))
done
# same seeds, same numbers: compare everything but the timing columns
strip() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i ~ /_s$/) skip[i] = 1 }
                   { for (i = 1; i <= NF; i++) if (!skip[i]) printf "%s,", $i; print "" }' "$1"; }
strip "$T/outj1t1/results.csv" > "$T/a"; strip "$T/outj1/results.csv" > "$T/b"; strip "$T/outj2/results.csv" > "$T/c"
same=$(cmp -s "$T/a" "$T/b" && cmp -s "$T/a" "$T/c" && echo true || echo false)
m0=$(median < "$T/j1t1"); m1=$(median < "$T/j1"); m2=$(median < "$T/j2")
printf '{"bench": "sweep_m4", "runs": %s, "samples": %s, "test": %s, "repeat": %s, "cores": %s, "j1_threads1_s": %.2f, "j1_s": %.2f, "j2_s": %.2f, "speedup_vs_1worker_1thread": %.3f, "speedup_vs_j1": %.3f, "same_results": %s, "load_before": %s, "load_after": %s}\n' \
    "$RUNS" "$SAMPLES" "$TEST" "$REPEAT" "$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)" "$m0" "$m1" "$m2" "$(echo "$m0 / $m2" | bc -l)" \
    "$(echo "$m1 / $m2" | bc -l)" "$same" "$load0" "$(cut -d' ' -f1 /proc/loadavg)"
