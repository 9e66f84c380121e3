#!/bin/sh
# crossbar/irdrop_ngspice.sh [XBEMU]: compare `xbemu crossbar irdrop` with ngspice on a
# few random arrays (the topology of crossbar/xb_irdrop.h). Prints the largest relative
# difference per array and fails if any exceeds 1e-6.
#   row i: source V_i at the left end, r_row to the first cross-point, r_row between
#          cross-points; device (i,j) from row node (i,j) to column node (i,j);
#   column j: r_col between cross-points, r_col from the last row into a 0 V sense source
#          whose current is the output.
set -eu
X=${1:-build/rel/xbemu}
command -v ngspice >/dev/null || { echo "ngspice not installed (Debian package ngspice)"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
worst=0
for spec in "2 2 1 1 1" "8 8 2.5 2.5 2" "16 16 1 3 3" "32 12 5 0.5 4" "12 40 0.7 2 5"; do
    set -- $spec
    R=$1 C=$2 RR=$3 RC=$4 SEED=$5
    # random conductances in [1e-6, 1e-4] S and voltages in [0, 0.3] V
    awk -v R="$R" -v C="$C" -v s="$SEED" 'BEGIN { srand(s);
        for (i = 0; i < R; i++) { line = "";
            for (j = 0; j < C; j++) line = line (j ? "," : "") sprintf("%.9g", 1e-6 + 99e-6 * rand());
            print line > "'"$T"'/G.csv" }
        for (i = 0; i < R; i++) printf "%.9g\n", 0.3 * rand() > "'"$T"'/V.csv" }'
    "$X" crossbar irdrop --g "$T/G.csv" --v "$T/V.csv" --r-row "$RR" --r-col "$RC" > "$T/ours.txt"
    # the same circuit as a SPICE netlist
    awk -F, -v R="$R" -v C="$C" -v rr="$RR" -v rc="$RC" -v vfile="$T/V.csv" '
        BEGIN { print "xbemu irdrop check"; i = 0
                while ((getline v < vfile) > 0) { printf "VIN%d d%d 0 DC %s\n", i, i, v; i++ } }
        { i = NR - 1
          for (j = 0; j < C; j++) {
              if (j == 0) printf "RR%d_0 d%d u%d_0 %s\n", i, i, i, rr
              else printf "RR%d_%d u%d_%d u%d_%d %s\n", i, j, i, j - 1, i, j, rr
              printf "RG%d_%d u%d_%d v%d_%d %.17g\n", i, j, i, j, i, j, 1 / $(j + 1)
              if (i + 1 < R) printf "RC%d_%d v%d_%d v%d_%d %s\n", i, j, i, j, i + 1, j, rc
              else printf "RC%d_%d v%d_%d s%d %s\nVS%d s%d 0 DC 0\n", i, j, i, j, j, rc, j, j } }
        END { print ".options reltol=1e-12 abstol=1e-20 vntol=1e-15"
              print ".control"; print "set numdgt=16"; print "op"
              for (j = 0; j < C; j++) printf "print i(vs%d)\n", j
              print ".endc"; print ".end" }' "$T/G.csv" > "$T/x.cir"
    ngspice -b "$T/x.cir" 2>/dev/null | awk '/^i\(vs[0-9]+\) = / { print $3 }' > "$T/spice.txt" || true
    n=$(wc -l < "$T/spice.txt")
    [ "$n" -eq "$C" ] || { echo "ngspice gave $n of $C currents"; exit 1; }
    d=$(paste "$T/ours.txt" "$T/spice.txt" | awk '{ r = ($1 - $2) / $2; if (r < 0) r = -r; if (r > m) m = r }
                                              END { printf "%.3g", m }')
    echo "${R}x${C} r_row=$RR r_col=$RC: max relative difference $d"
    worst=$(awk -v a="$worst" -v b="$d" 'BEGIN { print (b > a ? b : a) }')
done
awk -v w="$worst" 'BEGIN { exit !(w < 1e-6) }' && echo "ok: all within 1e-6" || { echo "FAIL: $worst"; exit 1; }
