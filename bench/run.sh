#!/bin/sh
# bench/run.sh BUILD_DIR: run every bench binary of BUILD_DIR/bench REPS times (default 3)
# and print, per JSON key set, the line whose numeric fields are the medians of the runs.
set -eu
B=${1:?usage: bench/run.sh build/rel}
REPS=${REPS:-3}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for bin in "$B"/bench/*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    for r in $(seq "$REPS"); do "$bin" >> "$T/$name.jsonl"; done
    # key = every non-number field; median of each number field over the runs
    awk -v reps="$REPS" '
    {
        line = $0; gsub(/[{}]/, "", line); n = split(line, kv, ",");
        key = ""; for (i = 1; i <= n; i++) { split(kv[i], a, ":"); if (a[1] ~ /ns_|gflops|ratio|_s"$|per_s/) continue; key = key kv[i] "," }
        if (!(key in first)) { order[++nk] = key; first[key] = 1 }
        for (i = 1; i <= n; i++) { split(kv[i], a, ":"); if (a[1] ~ /ns_|gflops|ratio|_s"$|per_s/) { vals[key, a[1], ++cnt[key, a[1]]] = a[2]; fields[key] = fields[key] (fields[key] ~ a[1] ? "" : a[1] " ") } }
    }
    END {
        for (k = 1; k <= nk; k++) {
            key = order[k]; out = "{" key; m = split(fields[key], f, " ");
            for (i = 1; i <= m; i++) {
                c = cnt[key, f[i]];
                for (x = 1; x <= c; x++) v[x] = vals[key, f[i], x] + 0;
                for (x = 2; x <= c; x++) { t = v[x]; y = x - 1; while (y >= 1 && v[y] > t) { v[y + 1] = v[y]; y-- } v[y + 1] = t }
                med = (c % 2) ? v[(c + 1) / 2] : 0.5 * (v[c / 2] + v[c / 2 + 1]);
                out = out f[i] ":" sprintf("%.3f", med) (i < m ? "," : "");
            }
            print out ",\"runs\":" reps "}";
        }
    }' "$T/$name.jsonl"
done
