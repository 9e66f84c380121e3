#!/bin/sh
# bench/bimu_active.sh XBEMU: BiMU active querying, labels used vs accuracy
# (ALGORITHMS.md 5, [Cot26]; config sweep_bimu_active: query_threshold 0, 0.2, 0.4, 0.6).
# Runs the sweep one run at a time, single-threaded, evaluated every EVERY samples.
# Labels used = queried steps = n_sram1m / 79,400 (each update reads and writes every
# lambda of 784-100-10 once, training/trainer_bayes.c), known at every evaluation.
# The threshold-0 run (every label) is the reference curve. Prints one JSON line per
# threshold: final accuracy, labels used, the labels the reference needed to first reach
# that accuracy (linear interpolation between its evaluations, on its running maximum,
# from chance 0.1 at 0 labels)
# and the ratio = labels saved at equal accuracy (null if the reference never got there).
#   EPOCHS=2  EVERY=1000  SEED=1  LIMIT=0 (data.train_limit; 0 = all 8,000)  OUT=dir (kept)
# On a shared machine: nice -n 10, OMP_NUM_THREADS=1.
set -eu
X=${1:?usage: bench/bimu_active.sh path/to/xbemu}
EPOCHS=${EPOCHS:-2}; EVERY=${EVERY:-1000}; SEED=${SEED:-1}; LIMIT=${LIMIT:-0}; OUT=${OUT:-}
T=${OUT:-$(mktemp -d)}; [ -n "$OUT" ] || trap 'rm -rf "$T"' EXIT
mkdir -p "$T"
"$X" sweep sweep_bimu_active -j 1 --threads 1 --out "$T/sweep" --set run.progress=off \
    --set run.seed="$SEED" --set train.epochs="$EPOCHS" --set run.eval_every="$EVERY" \
    --set data.train_limit="$LIMIT" >"$T/sweep.log" 2>&1 || { tail -5 "$T/sweep.log" >&2; exit 1; }
# "threshold labels accuracy samples" per evaluation row, every run
for f in "$T"/sweep/runs/*/results.csv; do
    awk -F, 'NR==1 {for (i=1;i<=NF;i++) c[$i]=i; next}
             {print $c["query_threshold"], $c["n_sram1m"]/79400, $c["accuracy"], $c["samples_seen"]}' "$f"
done | sort -k1,1g -k4,4n > "$T/curves.txt"
awk '$1 == 0 {print $2, $3}' "$T/curves.txt" > "$T/ref.txt"
[ -s "$T/ref.txt" ] || { echo "bimu_active: no threshold-0 run" >&2; exit 1; }
for th in $(cut -d' ' -f1 "$T/curves.txt" | sort -gu); do
    last=$(awk -v t="$th" '$1 == t' "$T/curves.txt" | tail -1)
    lab=$(echo "$last" | cut -d' ' -f2); acc=$(echo "$last" | cut -d' ' -f3); n=$(echo "$last" | cut -d' ' -f4)
    need=$(awk -v a="$acc" 'BEGIN {pl = 0; pa = 0.1; r = (a <= 0.1) ? 0 : "null"}
             r == "null" && $2 > pa { if ($2 >= a) r = pl + ($1 - pl) * (a - pa) / ($2 - pa); pl = $1; pa = $2 }
             END {print r}' "$T/ref.txt")
    ratio=$(awk -v n="$need" -v l="$lab" 'BEGIN {if (n == "null" || l == 0) print "null"; else printf "%.2f", n / l}')
    echo "{\"threshold\":$th,\"labels\":$lab,\"accuracy\":$acc,\"samples\":$n,\"ref_labels_same_acc\":$need,\"labels_saved\":$ratio}"
done
