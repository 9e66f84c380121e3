#!/bin/sh
# bench/run.sh BUILD [RUNS [ARGS...]]: run every bench binary in BUILD/bench RUNS times
# (default 5), with ARGS (e.g. `m1 m2` to pick parts of bench/crossbar),
# and print, per case, one JSON line with the median of every numeric field. A case is
# identified by its non-measurement fields (bench, shape, tile, peripherals, bl, d_max,
# device, threads, ref, r_wire_ohm). Raw runs are kept in BUILD/bench/raw-NAME.jsonl.
set -eu
B=${1:?usage: bench/run.sh BUILD [RUNS [ARGS...]]}
RUNS=${2:-5}
shift; [ $# -gt 0 ] && shift
echo "# machine: $(env -u OMP_NUM_THREADS nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ), runs per case: $RUNS, OMP_NUM_THREADS=${OMP_NUM_THREADS:-unset}"
for exe in "$B"/bench/*; do
    [ -x "$exe" ] && [ -f "$exe" ] || continue
    name=$(basename "$exe")
    raw="$B/bench/raw-$name.jsonl"
    case "$name" in raw-*|*.o|*.d) continue ;; esac
    : > "$raw"
    i=0
    while [ "$i" -lt "$RUNS" ]; do "$exe" "$@" >> "$raw"; i=$((i + 1)); done
    awk -v ids="bench shape tile peripherals bl d_max device threads ref r_wire_ohm" '
    BEGIN { n = split(ids, L, " "); for (k = 1; k <= n; k++) isid[L[k]] = 1 }
    /^\{/ {
        line = $0; gsub(/[{}]/, "", line)
        m = split(line, F, ","); key = ""; nf = 0
        for (k = 1; k <= m; k++) {
            split(F[k], kv, ":"); f = kv[1]; gsub(/"/, "", f); v = substr(F[k], length(kv[1]) + 2)
            name[k] = f; val[k] = v
            if (isid[f] || v ~ /^"/) key = key F[k] ","
        }
        if (!(key in seen)) { seen[key] = ++ncase; order[ncase] = key; nfield[key] = m
            for (k = 1; k <= m; k++) fname[key, k] = name[k] }
        cnt[key]++
        for (k = 1; k <= m; k++) vals[key, k, cnt[key]] = val[k]
    }
    END {
        for (c = 1; c <= ncase; c++) {
            key = order[c]; out = ""
            for (k = 1; k <= nfield[key]; k++) {
                f = fname[key, k]; v = vals[key, k, 1]
                if (!(isid[f] || v ~ /^"/) && v != "null") {
                    r = cnt[key]; for (q = 1; q <= r; q++) a[q] = vals[key, k, q] + 0
                    for (p = 2; p <= r; p++) { t = a[p]; q = p - 1; while (q >= 1 && a[q] > t) { a[q + 1] = a[q]; q-- } a[q + 1] = t }
                    v = (r % 2) ? a[(r + 1) / 2] : (a[r / 2] + a[r / 2 + 1]) / 2
                    v = sprintf("%.4g", v)
                }
                out = out (k > 1 ? "," : "") "\"" f "\":" v
            }
            print "{" out ",\"runs\":" cnt[key] "}"
        }
    }' "$raw"
done
