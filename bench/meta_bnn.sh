#!/bin/sh
# bench/meta_bnn.sh BUILD_DIR: W2 speed (BENCHMARKS.md) against ../shared/ref/meta_bnn.py,
# back to back, same thread count, same schedule: MNIST-8000 x EP1 epochs then
# Fashion-MNIST x EP2, 784-1024-1024-10, batch 100, m = META, decay 1e-7.
# One JSON line per (threads, repeat) pair and a summary line per thread count with the
# median s/epoch of each task for ours and the reference and their ratio (ref/ours), in
# wall time and in process CPU time (the latter is what a busy shared machine distorts least).
#   REPEATS=3  THREADS="1 2"  EP1=2  EP2=1  META=10
# Call it from bench/train.sh (make bench-train): bench/meta_bnn.sh build/rel
set -u
B=${1:?usage: bench/meta_bnn.sh BUILD_DIR}
REPEATS=${REPEATS:-3}; THREADS=${THREADS:-"1 2"}; EP1=${EP1:-2}; EP2=${EP2:-1}; META=${META:-10}
HERE=$(cd "$(dirname "$0")/.." && pwd)
REF=$HERE/../shared/ref/meta_bnn.py
. "$HERE/bench/lib.sh"
ref_detect "bench meta_bnn" "$REF"
[ "$have_ref" = 1 ] || exit 0            # the pairs compare with the reference: nothing to do
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
echo "# machine: $(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)" >&2
for th in $THREADS; do
    : > "$T/pairs"
    for r in $(seq 1 "$REPEATS"); do
        OMP_NUM_THREADS=$th "$B/bench/meta_bnn" --w2 --epochs1 "$EP1" --epochs2 "$EP2" --meta "$META" \
            --decay 1e-7 --threads "$th" --eval-every 1 > "$T/ours" 2>&1
        OMP_NUM_THREADS=$th $PY "$REF" --epochs-mnist "$EP1" --epochs-fmnist "$EP2" --meta "$META" \
            --decay 1e-7 --threads "$th" > "$T/ref" 2>&1
        $PY - "$T/ours" "$T/ref" "$th" >> "$T/pairs" <<'PYEOF'
import json, statistics, sys
ours = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{"w2":"eval"')]
ref = [json.loads(l) for l in open(sys.argv[2]) if l.startswith('{"workload"')][-1]
c1 = statistics.median([e["epoch_cpu_s"] for e in ours if e["task"] == 1])
c2 = statistics.median([e["epoch_cpu_s"] for e in ours if e["task"] == 2])
rc1 = statistics.median(ref["mnist_epoch_cpu_seconds"]); rc2 = statistics.median(ref["fmnist_epoch_cpu_seconds"])
o1 = statistics.median([e["epoch_s"] for e in ours if e["task"] == 1])
o2 = statistics.median([e["epoch_s"] for e in ours if e["task"] == 2])
r1 = statistics.median(ref["mnist_epoch_seconds"]); r2 = statistics.median(ref["fmnist_epoch_seconds"])
print(json.dumps({"bench": "W2_meta_bnn_pair", "threads": int(sys.argv[3]),
                  "ours_mnist_s": o1, "ref_mnist_s": r1, "ours_fmnist_s": o2, "ref_fmnist_s": r2,
                  "ratio_mnist": round(r1 / o1, 3), "ratio_fmnist": round(r2 / o2, 3),
                  "ours_mnist_cpu_s": c1, "ref_mnist_cpu_s": rc1, "ours_fmnist_cpu_s": c2,
                  "ref_fmnist_cpu_s": rc2, "cpu_ratio_mnist": round(rc1 / c1, 3),
                  "cpu_ratio_fmnist": round(rc2 / c2, 3),
                  "ours_mnist_acc": [e["acc_mnist"] for e in ours if e["task"] == 1][-1],
                  "ref_mnist_acc": ref["mnist_acc_after_mnist"]}))
PYEOF
        tail -n 1 "$T/pairs"
    done
    $PY - "$T/pairs" "$th" <<'PYEOF'
import json, statistics, sys
p = [json.loads(l) for l in open(sys.argv[1])]
m = lambda k: statistics.median([x[k] for x in p])
print(json.dumps({"bench": "W2_meta_bnn", "threads": int(sys.argv[2]), "runs": len(p),
                  "ours_mnist_s": m("ours_mnist_s"), "ref_mnist_s": m("ref_mnist_s"),
                  "ours_fmnist_s": m("ours_fmnist_s"), "ref_fmnist_s": m("ref_fmnist_s"),
                  "ratio_mnist_median": m("ratio_mnist"), "ratio_fmnist_median": m("ratio_fmnist"),
                  "ours_fmnist_cpu_s": m("ours_fmnist_cpu_s"), "ref_fmnist_cpu_s": m("ref_fmnist_cpu_s"),
                  "cpu_ratio_mnist_median": m("cpu_ratio_mnist"),
                  "cpu_ratio_fmnist_median": m("cpu_ratio_fmnist")}))
PYEOF
done
