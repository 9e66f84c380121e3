#!/bin/sh
# bench/eqprop_acc.sh XBEMU [OUT]: the accuracy table of docs/eqprop.md. Runs every
# shipped W3 config for EPOCHS (default 5) epochs with SEEDS (default 1 2 3), 1 thread,
# and prints per config and epoch the median test accuracy over seeds and the range.
# Finished runs (run.json complete) are kept, so an interrupted table resumes.
set -eu
X=${1:-build/rel/xbemu}
OUT=${2:-results/eqprop_acc}
EPOCHS=${EPOCHS:-5}
SEEDS=${SEEDS:-1 2 3}
mkdir -p "$OUT"
run() {     # name config extra-args...
    name=$1; cfg=$2; shift 2
    for s in $SEEDS; do
        grep -qs '"complete"' "$OUT/$name-s$s/run.json" && continue    # resume
        OMP_NUM_THREADS=1 "$X" run "$cfg" --out "$OUT/$name-s$s" --set run.seed=$s \
            --set run.progress=off "$@" >/dev/null
    done
}
run brief w3_eqprop --set train.epochs=$EPOCHS
run symmetric w3_eqprop_symmetric --set train.epochs=$EPOCHS
run random_sign w3_eqprop --set train.variant=random_sign --set train.epochs=$EPOCHS
run binary w3_eqprop_binary --set train.epochs=$EPOCHS
run p1h w3_eqprop_p1h --set train.epochs=$EPOCHS
run backprop w3_backprop --set train.epochs=$EPOCHS
run backprop_lr05 w3_backprop --set train.lr=0.5 --set train.epochs=$EPOCHS
run fmnist_brief w3_eqprop --set data.dataset=fmnist --set train.epochs=${FM_EPOCHS:-3}
run fmnist_symmetric w3_eqprop_symmetric --set data.dataset=fmnist --set train.epochs=${FM_EPOCHS:-3}
run fmnist_backprop w3_backprop --set data.dataset=fmnist --set train.epochs=${FM_EPOCHS:-3}
/usr/bin/python3 - "$OUT" <<'PYEOF'
import csv, glob, os, statistics, sys
out = sys.argv[1]
acc = {}
for f in sorted(glob.glob(os.path.join(out, "*-s*", "results.csv"))):
    name = os.path.basename(os.path.dirname(f)).rsplit("-s", 1)[0]
    for r in csv.DictReader(open(f)):
        acc.setdefault(name, {}).setdefault(int(r["epoch"]), []).append(
            (float(r["accuracy"]), float(r["energy_per_sample_J"]), float(r["train_s"])))
print("| run | epoch | test acc median (min-max) | seeds | energy/sample (J) | train s (cum.) |")
print("|---|---|---|---|---|---|")
for name, eps in acc.items():
    for ep in sorted(eps):
        v = [a for a, _, _ in eps[ep]]
        print("| %s | %d | %.4f (%.4f-%.4f) | %d | %.3g | %.2f |" % (
            name, ep, statistics.median(v), min(v), max(v), len(v),
            statistics.median([e for _, e, _ in eps[ep]]),
            statistics.median([t for _, _, t in eps[ep]])))
PYEOF
