#!/bin/sh
# tests/sweep_standin.sh run CONFIG.ini --out DIR: a stand-in for `xbemu run` in the sweep
# tests (XBEMU_SWEEP_RUNNER). It writes DIR/results.csv (epoch, accuracy, energy_J) as a
# pure function of the config's [device] values, like a seeded run, atomically.
# Environment, each a "section.key=value" that triggers when the config has it:
#   STANDIN_FAIL_IF  exit 1 with a message      STANDIN_NAN_IF  write a NaN accuracy
#   STANDIN_HANG_IF  sleep for 1000 s
# STANDIN_SLEEP=S sleeps S seconds first; STANDIN_LOG=FILE appends one line per call
# ("omp=$OMP_NUM_THREADS section.key=value ...").
set -eu
[ "$1" = run ] && [ "$3" = --out ] || { echo "standin: usage: run CONFIG --out DIR" >&2; exit 2; }
ini=$2 out=$4
kv=$(awk '/^[;#]/ { next }
          /^\[/ { s = substr($0, 2, index($0, "]") - 2); next }
          /=/ { k = $0; sub(/[ \t]*=.*/, "", k); v = $0; sub(/^[^=]*=[ \t]*/, "", v);
                print s "." k "=" v }' "$ini")
has() { [ -n "${1:-}" ] && printf '%s\n' "$kv" | grep -qxF "$1"; }
[ -n "${STANDIN_LOG:-}" ] && printf 'omp=%s %s\n' "${OMP_NUM_THREADS:-unset}" "$(printf '%s' "$kv" | tr '\n' ' ')" >> "$STANDIN_LOG"
sleep "${STANDIN_SLEEP:-0}"
if has "${STANDIN_FAIL_IF:-}"; then echo "standin: cannot train with ${STANDIN_FAIL_IF}" >&2; exit 1; fi
if has "${STANDIN_HANG_IF:-}"; then sleep 1000; fi
get() { printf '%s\n' "$kv" | sed -n "s/^$1=//p" | head -1; }
dw=$(get device.dw_min); sd=$(get device.dw_min_std)
nan=0; if has "${STANDIN_NAN_IF:-}"; then nan=1; fi
awk -v dw="${dw:-0.001}" -v sd="${sd:-0.3}" -v nan="$nan" 'BEGIN {
    print "epoch,accuracy,energy_J"
    for (e = 1; e <= 3; e++)
        if (nan && e == 3) print e ",nan," e * dw
        else printf "%d,%.6f,%.6g\n", e, 0.9 - dw * 10 - sd / 10 + e / 100, e * dw * 1e-9
}' > "$out/results.csv.tmp"
mv "$out/results.csv.tmp" "$out/results.csv"
echo '{"standin": true}' > "$out/run.json"
