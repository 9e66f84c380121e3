#!/bin/sh
# bench/train.sh XBEMU: training workloads against the PyTorch references (make
# bench-train). Each workload has its own script; they print JSON lines.
set -eu
X=${1:-build/rel/xbemu}
B=$(dirname "$X")
make -s "$B/bench/eqprop" >/dev/null
bench/eqprop.sh "$B"
