#!/bin/sh
# bench/train.sh XBEMU: training workloads against the PyTorch references, same thread
# counts, back to back (BENCHMARKS.md). Prints one JSON line per (workload, threads)
# with the median seconds per epoch of ours and of the reference and their ratio.
#   REPEATS=3        runs per case (medians)
#   SAMPLES=0        samples per epoch (0 = the full 60,000; the reference's
#                    --max-samples N and our data.train_limit = N, same work)
#   THREADS="1 2"    thread counts
#   MODES="analog fp" W1 variants: analog (sgd_analog vs analog_sgd.py) and fp
#                    (sgd_digital vs analog_sgd.py --mode fp)
# The reference runs with /usr/bin/python3 (Debian python3-torch); without it only our
# numbers are printed.
set -u
X=${1:?usage: bench/train.sh path/to/xbemu}
REPEATS=${REPEATS:-3}; SAMPLES=${SAMPLES:-0}; THREADS=${THREADS:-"1 2"}; MODES=${MODES:-"analog fp"}
HERE=$(cd "$(dirname "$0")/.." && pwd)
REF=$HERE/../shared/ref/analog_sgd.py
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
. "$HERE/bench/lib.sh"
ref_detect bench-train "$REF"
for mode in $MODES; do
    if [ "$mode" = analog ]; then cfg=w1_analog_sgd; refmode=analog; else cfg=w1_digital; refmode=fp; fi
    for th in $THREADS; do
        : > "$T/ours"; : > "$T/ref"; : > "$T/acc"; : > "$T/racc"; : > "$T/ocpu"; : > "$T/rcpu"
        for r in $(seq 1 "$REPEATS"); do
            OMP_NUM_THREADS=$th "$X" run "$cfg" --set train.epochs=1 --set run.threads="$th" \
                --set run.progress=off --set data.train_limit="$SAMPLES" --set run.seed="$r" \
                --out "$T/run" >/dev/null 2>"$T/err" || { cat "$T/err" >&2; exit 1; }
            # train_s of the last row; accuracy
            awk -F, 'NR==1 {for (i=1;i<=NF;i++) c[$i]=i} NR>1 {t=$c["train_s"]; a=$c["accuracy"]; u=$c["train_cpu_s"]} END {print t > "'"$T/t1"'"; print a > "'"$T/a1"'"; print u > "'"$T/c1"'"}' "$T/run/results.csv"
            cat "$T/t1" >> "$T/ours"; cat "$T/a1" >> "$T/acc"; cat "$T/c1" >> "$T/ocpu"
            if [ $have_ref = 1 ]; then
                ms=""; [ "$SAMPLES" -gt 0 ] && ms="--max-samples $SAMPLES"
                OMP_NUM_THREADS=$th $PY "$REF" --mode $refmode --epochs 1 --threads "$th" \
                    --seed "$r" $ms > "$T/reflog" 2>&1 || { tail -3 "$T/reflog" >&2; exit 1; }
                $PY -c 'import json,sys
for l in open(sys.argv[1]):
    if l.startswith("{"):
        j = json.loads(l); print(j["epoch_seconds"][0]); print(j["test_acc"][0], file=sys.stderr)
        print(j["epoch_cpu_seconds"][0], file=open(sys.argv[2], "a"))' \
                    "$T/reflog" "$T/rcpu" >> "$T/ref" 2>> "$T/racc"
            fi
        done
        o=$(median < "$T/ours"); a=$(median < "$T/acc"); oc=$(median < "$T/ocpu")
        if [ $have_ref = 1 ]; then
            rf=$(median < "$T/ref"); ra=$(median < "$T/racc"); rc=$(median < "$T/rcpu")
            ratio=$(awk -v a="$rf" -v b="$o" 'BEGIN {printf "%.2f", a / b}')
        else rf=null; ra=null; rc=null; ratio=null; fi
        printf '{"bench":"W1_%s","threads":%s,"samples_per_epoch":%s,"repeats":%s,"ours_s_per_epoch":%s,"ours_cpu_s":%s,"ours_acc":%s,"ref_s_per_epoch":%s,"ref_cpu_s":%s,"ref_acc":%s,"speedup":%s,"ours_all":"%s","ref_all":"%s"}\n' \
            "$mode" "$th" "${SAMPLES:-0}" "$REPEATS" "$o" "$oc" "$a" "$rf" "$rc" "$ra" "$ratio" \
            "$(tr '\n' ' ' < "$T/ours")" "$(tr '\n' ' ' < "$T/ref")"
    done
done
# W3 equilibrium propagation: its own script (ours vs ../shared/ref/eqprop.py, 1 and 2 threads)
make -s -C "$HERE" "$(dirname "$X")/bench/eqprop" >/dev/null && "$HERE/bench/eqprop.sh" "$(dirname "$X")"

# W4 (MESU) and its OOD AUCs
sh "$HERE/bench/w4.sh" "$X"
# W2 metaplastic BNN (ours vs ../shared/ref/meta_bnn.py)
make -s -C "$HERE" "$(dirname "$X")/bench/meta_bnn" >/dev/null && "$HERE/bench/meta_bnn.sh" "$(dirname "$X")"
