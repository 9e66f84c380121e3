#!/bin/sh
# bench/w4.sh XBEMU: workload W4 (MESU, 5 permuted MNIST tasks, batch 1) against
# ../shared/ref/mesu.py, same threads, back to back; seconds per 1000 training samples
# (training loop only, as the reference times it), medians of REPEATS runs, and the
# ratio. Then the OOD AUCs (bench/train/w4_ood) once.
#   REPEATS=3  THREADS="1 2"  SAMPLES=0 (per task; 0 = all 8,000)  OOD=1  REF_RUN=1 (0: skip the reference)
set -u
X=${1:?usage: bench/w4.sh path/to/xbemu}
REPEATS=${REPEATS:-3}; THREADS=${THREADS:-"1 2"}; SAMPLES=${SAMPLES:-0}; OOD=${OOD:-1}
HERE=$(cd "$(dirname "$0")/.." && pwd)
REF=$HERE/../shared/ref/mesu.py
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
. "$HERE/bench/lib.sh"
if [ "${REF_RUN:-1}" = 0 ]; then have_ref=0; PY=${PY:-/usr/bin/python3}
else ref_detect "bench w4" "$REF"; fi
for th in $THREADS; do
    : > "$T/ours"; : > "$T/cpu"; : > "$T/ref"; : > "$T/acc"; : > "$T/racc"
    for r in $(seq 1 "$REPEATS"); do
        OMP_NUM_THREADS=$th "$X" run w4_mesu --set run.threads="$th" --set run.progress=off \
            --set data.train_limit="$SAMPLES" --set run.seed="$r" --out "$T/run" >/dev/null 2>"$T/err" \
            || { cat "$T/err" >&2; exit 1; }
        awk -F, 'NR==1 {for (i=1;i<=NF;i++) c[$i]=i} NR>1 {t=$c["train_s"]; u=$c["train_cpu_s"]; n=$c["samples_seen"]; a[$c["eval_task"]]=$c["accuracy"]; k=$c["task"]}
                 END {s=0; for (j=1;j<=k;j++) s+=a[j]; print 1000*t/n > "'"$T/t1"'"; print 1000*u/n > "'"$T/c1"'"; print s/k > "'"$T/a1"'"}' "$T/run/results.csv"
        cat "$T/t1" >> "$T/ours"; cat "$T/c1" >> "$T/cpu"; cat "$T/a1" >> "$T/acc"
        if [ $have_ref = 1 ]; then
            ms=""; [ "$SAMPLES" -gt 0 ] && ms="--max-samples $SAMPLES"
            OMP_NUM_THREADS=$th $PY "$REF" --batch 1 --threads "$th" --seed "$r" $ms > "$T/reflog" 2>&1 \
                || { tail -3 "$T/reflog" >&2; exit 1; }
            $PY -c 'import json,sys
for l in open(sys.argv[1]):
    if l.startswith("{"):
        j = json.loads(l); print(j["sec_per_1000_samples"]); print(j["avg_acc_after_task"][-1], file=sys.stderr)' \
                "$T/reflog" >> "$T/ref" 2>> "$T/racc"
        fi
    done
    o=$(median < "$T/ours"); oc=$(median < "$T/cpu"); a=$(median < "$T/acc")
    if [ $have_ref = 1 ]; then
        rf=$(median < "$T/ref"); ra=$(median < "$T/racc")
        ratio=$(awk -v a="$rf" -v b="$o" 'BEGIN {printf "%.2f", a / b}')
    else rf=null; ra=null; ratio=null; fi
    printf '{"bench":"W4_mesu","threads":%s,"repeats":%s,"ours_s_per_1000":%s,"ours_cpu_s_per_1000":%s,"ours_avg_acc":%s,"ref_s_per_1000":%s,"ref_avg_acc":%s,"speedup":%s,"ours_all":"%s","ref_all":"%s"}\n' \
        "$th" "$REPEATS" "$o" "$oc" "$a" "$rf" "$ra" "$ratio" "$(tr '\n' ' ' < "$T/ours")" "$(tr '\n' ' ' < "$T/ref")"
done
B=$(dirname "$X")
[ "$OOD" = 1 ] && [ -x "$B/bench/train/w4_ood" ] && "$B/bench/train/w4_ood" 3 1
exit 0
