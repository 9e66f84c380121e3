# bench/lib.sh: shell helpers shared by the bench scripts (train.sh, w4.sh, eqprop.sh,
# meta_bnn.sh, sweep.sh). POSIX sh; source it: . "$(dirname "$0")/lib.sh"

# median: the median of the numbers on stdin, one per line; "null" when there are none
# (JSON-ready). An even count gives the mean of the two middle values.
median() {
    sort -g | awk '{ a[NR] = $1 }
        END { if (NR == 0) print "null"; else if (NR % 2) print a[(NR + 1) / 2];
              else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# ref_detect TAG REF: is the PyTorch reference script REF runnable? Sets have_ref=1 when
# REF exists and $PY (default /usr/bin/python3, Debian python3-torch) imports torch;
# else have_ref=0 and one line "TAG: python3-torch or REF missing: reference skipped"
# on stderr. Sets PY when unset.
ref_detect() {
    PY=${PY:-/usr/bin/python3}
    if [ -f "$2" ] && "$PY" -c 'import torch' >/dev/null 2>&1; then
        have_ref=1
    else
        have_ref=0
        echo "$1: python3-torch or $2 missing: reference skipped" >&2
    fi
}
