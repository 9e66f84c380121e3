#!/bin/sh
# bench/eqprop.sh BUILD_DIR: W3 speed, ours vs the PyTorch reference, back to back in
# one run, at 1 and 2 threads, REPEAT (default 3) times each; prints one JSON line per
# run and a summary with medians and ratios (wall and CPU seconds per epoch, test
# accuracy after 1 epoch). Reference: ../shared/ref/eqprop.py --preset brief.
set -eu
# Idle OpenMP threads sleep instead of spinning (both sides): on a shared,
# oversubscribed machine a spinning team waits for descheduled members at every
# barrier (measured at load 13: 11.2 s/epoch active vs 0.33 s passive, 2 threads).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
B=${1:-build/rel}
REPEAT=${REPEAT:-3}
REF=${REF:-../shared/ref/eqprop.py}
. "$(dirname "$0")/lib.sh"
ref_detect "bench eqprop" "$REF"
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
echo "# OMP_WAIT_POLICY=$OMP_WAIT_POLICY; machine: $(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)" >&2
for n in 1 2; do
    i=0
    while [ "$i" -lt "$REPEAT" ]; do
        OMP_NUM_THREADS=$n "$B/bench/eqprop" --threads "$n" | sed "s/^{/{\"who\":\"xbemu\",/" | tee -a "$raw"
        if [ "$have_ref" = 1 ]; then
            "$PY" "$REF" --preset brief --epochs 1 --threads "$n" 2>/dev/null | grep '^{' |
                sed "s/^{/{\"who\":\"ref\",/" | tee -a "$raw"
        fi
        i=$((i + 1))
    done
done
"$PY" - "$raw" <<'PYEOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def med(v): return statistics.median(v) if v else float("nan")
for n in (1, 2):
    o = [r for r in rows if r["who"] == "xbemu" and r["threads"] == n]
    f = [r for r in rows if r["who"] == "ref" and r["threads"] == n]
    ow, oc = med([r["epoch_s"] for r in o]), med([r["epoch_cpu_s"] for r in o])
    fw = med([r["epoch_seconds"][0] for r in f])
    fc = med([r["epoch_cpu_seconds"][0] for r in f])
    print(json.dumps({"bench": "W3_eqprop_summary", "threads": n, "runs": len(o),
        "ours_epoch_s": round(ow, 4), "ref_epoch_s": round(fw, 4),
        "ratio_wall": round(fw / ow, 2) if o and f else None,
        "ours_cpu_s": round(oc, 4), "ref_cpu_s": round(fc, 4),
        "ratio_cpu": round(fc / oc, 2) if o and f else None,
        "ours_test_acc": [r["test_acc"] for r in o],
        "ref_test_acc": [r["test_acc"][0] for r in f],
        "ours_profile_cpu_s": {k[5:]: round(med([r[k] for r in o]), 4)
                               for k in ("prof_drive_cpu_s", "prof_relax_cpu_s", "prof_update_cpu_s")}}))
PYEOF
