#!/bin/sh
# tests/sweep.sh XBEMU: end-to-end checks of `xbemu sweep` and `xbemu merge` with the
# stand-in run (tests/sweep_standin.sh): shards cover every run once, a failing run is
# recorded, kill -9 + resume equals an uninterrupted sweep row for row, merge of shards.
# MPI: mpirun -n 2 gives the -j 2 results (XBEMU_MPI=path/to/mpi-build/xbemu, or built here).
set -u
X=${1:?usage: tests/sweep.sh path/to/xbemu}
case $X in /*) ;; *) X=$PWD/$X ;; esac
pass=0; fail=0
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
XBEMU_SWEEP_RUNNER=$PWD/tests/sweep_standin.sh; export XBEMU_SWEEP_RUNNER
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL sweep: $*"; }
check() {   # check NAME EXPECTED_RC PATTERN -- command...
    name=$1 want=$2 pat=$3; shift 4
    "$@" >"$T/out" 2>&1; rc=$?
    if [ "$rc" -eq "$want" ] && grep -q -e "$pat" "$T/out"; then ok
    else bad "$name (rc=$rc, wanted $want and /$pat/):"; sed 's/^/    /' "$T/out" | head -5; fi
}
cat > "$T/s.ini" <<'EOF'
[device]
type = softbounds
dw_min = 0.001

[sweep]
device.dw_min = 0.001, 0.002, 0.003, 0.004
device.dw_min_std = 0..0.3 lin 4
EOF

# expansion and shards
check dry-run 0 "^16 runs$" -- "$X" sweep "$T/s.ini" --dry-run
check dry-run-set 0 "^8 runs$" -- "$X" sweep "$T/s.ini" --dry-run --set sweep.device.dw_min=0.1,0.2
"$X" sweep "$T/s.ini" --dry-run | awk 'length($2) == 16 { print $2 }' | sort > "$T/all"
: > "$T/shards"
for i in 0 1 2; do
    "$X" sweep "$T/s.ini" --dry-run --shard $i/3 | awk 'length($2) == 16 { print $2 }' >> "$T/shards"
done
if [ "$(wc -l < "$T/all")" -eq 16 ] && sort "$T/shards" | cmp -s - "$T/all"; then ok
else bad "shards 0/3 1/3 2/3 do not cover the 16 runs exactly once"; fi
"$X" sweep "$T/s.ini" --dry-run --shard 1/3 > "$T/dry1"
SLURM_ARRAY_TASK_ID=6 SLURM_ARRAY_TASK_MIN=5 SLURM_ARRAY_TASK_COUNT=3 "$X" sweep "$T/s.ini" --dry-run > "$T/slurm1"
if cmp -s "$T/dry1" "$T/slurm1" && grep -q "^5 runs in shard 1/3 of 16 runs" "$T/dry1"; then ok
else bad "SLURM_ARRAY_TASK_ID/COUNT does not select shard 1/3"; fi

# bad specs: one line with file:line
printf '[sweep]\ndevice.dw_min = 0.1, 0.2\ndevice.dw_mn = 1, 2\n' > "$T/b1.ini"
check bad-key 2 "b1.ini:3: \[sweep\] device.dw_mn: unknown key 'dw_mn' in \[device\] (did you mean 'dw_min'?)" -- "$X" sweep "$T/b1.ini" --dry-run
printf '[sweep]\ndevise.dw_min = 1, 2\n' > "$T/b2.ini"
check bad-section 2 "b2.ini:2: \[sweep\] devise.dw_min: unknown section \[devise\] (did you mean \[device\]?)" -- "$X" sweep "$T/b2.ini" --dry-run
printf '[sweep]\ndevice.dw_min =\n' > "$T/b3.ini"
check empty-list 2 "b3.ini:2: \[sweep\] device.dw_min = '' is an empty list" -- "$X" sweep "$T/b3.ini" --dry-run
printf '[sweep]\ndata.ntasks = 10..1\n' > "$T/b4.ini"
check bad-range 2 "b4.ini:2: \[sweep\] data.ntasks = '10..1' is an empty range" -- "$X" sweep "$T/b4.ini" --dry-run
printf '[sweep]\ndevice.dw_min = 0.1, 0.2\ndata.ntasks = 1..3\nzip = device.dw_min, data.ntasks\n' > "$T/b5.ini"
check zip-unequal 2 "b5.ini:4: \[sweep\] zip = 'device.dw_min, data.ntasks' zips keys of unequal length" -- "$X" sweep "$T/b5.ini" --dry-run
check bad-shard 2 "expected i/N" -- "$X" sweep "$T/s.ini" --dry-run --shard 3/3

# a failing run is recorded and the sweep goes on: exit 1
STANDIN_FAIL_IF=device.dw_min=0.002 "$X" sweep "$T/s.ini" -j 2 --out "$T/f" > "$T/out" 2>&1; rc=$?
nfail=$(grep -c ',failed,standin: cannot train with device.dw_min=0.002,' "$T/f/results.csv")
nok=$(grep -c ',ok,,' "$T/f/results.csv")
if [ "$rc" -eq 1 ] && [ "$nfail" -eq 4 ] && [ "$nok" -eq 36 ] &&
   grep -q '"failed": 4' "$T/f/sweep.json"; then ok
else bad "failing runs: rc=$rc, $nfail failed rows (want 4), $nok ok rows (want 36)"; sed 's/^/    /' "$T/out" | tail -3; fi

# the reference: one uninterrupted sweep
"$X" sweep "$T/s.ini" -j 2 --out "$T/ref" > "$T/out" 2>&1 || { bad "reference sweep failed"; cat "$T/out"; }
[ "$(wc -l < "$T/ref/results.csv")" -eq 49 ] && ok || bad "reference results.csv: want 1 + 16 x 3 lines"

# kill -9 mid-way, resume, compare row for row
STANDIN_SLEEP=0.3 STANDIN_LOG=$T/calls "$X" sweep "$T/s.ini" -j 2 --out "$T/k" > "$T/kout" 2>&1 &
pid=$!
n=0; tries=0
while [ "$n" -lt 4 ] && [ "$tries" -lt 200 ]; do
    sleep 0.05; tries=$((tries+1))
    n=$(ls "$T"/k/runs/*/done 2>/dev/null | wc -l)
done
kill -9 "$pid"; wait "$pid" 2>/dev/null
before=$(ls "$T"/k/runs/*/done 2>/dev/null | wc -l)
if [ "$before" -ge 4 ] && [ "$before" -lt 16 ]; then ok; else bad "kill: $before runs done before the kill (want 4..15)"; fi
STANDIN_LOG=$T/calls "$X" sweep "$T/s.ini" -j 2 --out "$T/k" > "$T/out" 2>&1 || { bad "resume failed"; cat "$T/out"; }
if cmp -s "$T/ref/results.csv" "$T/k/results.csv"; then ok
else bad "resumed results.csv differs from the uninterrupted one"; diff "$T/ref/results.csv" "$T/k/results.csv" | head -5; fi
calls=$(wc -l < "$T/calls")
skipped=$(sed -n 's/.*"skipped_finished": \([0-9]*\).*/\1/p' "$T/k/sweep.json")
if [ "$skipped" -ge "$before" ] && [ "$calls" -le $((16 + 2)) ]; then ok
else bad "resume reran finished runs: $calls calls for 16 runs, $skipped skipped, $before done before"; fi

# two sweeps started at once on one directory: each run runs once (run locks)
STANDIN_SLEEP=0.2 STANDIN_LOG=$T/calls2 "$X" sweep "$T/s.ini" -j 2 --out "$T/two" -q > /dev/null 2>&1 &
p1=$!
STANDIN_SLEEP=0.2 STANDIN_LOG=$T/calls2 "$X" sweep "$T/s.ini" -j 2 --out "$T/two" -q > /dev/null 2>&1 &
p2=$!
wait "$p1"; wait "$p2"
calls=$(wc -l < "$T/calls2")
if [ "$calls" -eq 16 ] && cmp -s "$T/ref/results.csv" "$T/two/results.csv"; then ok
else bad "two sweeps on one directory: $calls calls for 16 runs"; fi

# shards in separate directories + xbemu merge; shards sharing one directory
for i in 0 1 2; do "$X" sweep "$T/s.ini" -j 2 --shard $i/3 --out "$T/sh$i" -q > /dev/null 2>&1; done
check merge 0 "16 runs: 16 ok, 0 failed, 0 unfinished; 48 rows" -- "$X" merge "$T/sh0" "$T/sh1" "$T/sh2" -o "$T/merged.csv"
cmp -s "$T/ref/results.csv" "$T/merged.csv" && ok || bad "merged shards differ from the one-piece sweep"
for i in 2 0 1; do "$X" sweep "$T/s.ini" -j 1 --shard $i/3 --out "$T/shared" -q > /dev/null 2>&1; done
cmp -s "$T/ref/results.csv" "$T/shared/results.csv" && ok || bad "shards sharing a directory differ from the one-piece sweep"
check merge-partial 0 "16 runs: 5 ok, 0 failed, 11 unfinished" -- "$X" merge "$T/sh1" -o "$T/m1.csv"
printf '[sweep]\ndevice.dw_min_std = 0.1, 0.2\n' > "$T/o.ini"
"$X" sweep "$T/o.ini" --out "$T/other" -q > /dev/null 2>&1
check merge-mismatch 2 "not shards of one sweep" -- "$X" merge "$T/sh0" "$T/other"

# threads per run: max(1, cores / workers); -j 1 gives the run every core (cores: nproc
# without the OMP_* variables, which GNU nproc would follow)
STANDIN_LOG=$T/omp1 "$X" sweep "$T/s.ini" -j 1 --out "$T/t1" --set sweep.device.dw_min=0.1 --set sweep.device.dw_min_std=0.5 -q > /dev/null 2>&1
STANDIN_LOG=$T/omp2 "$X" sweep "$T/s.ini" -j 2 --out "$T/t2" --set sweep.device.dw_min=0.1,0.2 --set sweep.device.dw_min_std=0.5 -q > /dev/null 2>&1
c=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc); h=$((c / 2 > 1 ? c / 2 : 1))
if [ "$(grep -c "^omp=$c " "$T/omp1")" -eq 1 ] && [ "$(grep -c "^omp=$h " "$T/omp2")" -eq 2 ]; then ok
else bad "threads per run: want omp=$c with -j 1, omp=$h with -j 2:"; cat "$T/omp1" "$T/omp2" | cut -c1-60; fi

# the real `xbemu run` as the child: one good run, one bad combination (exit 2, recorded)
cat > "$T/real.ini" <<'EOF2'
[run]
name = real
[data]
dataset = fmnist
train_limit = 20
test_limit = 20
[net]
layers = 784-8-10
[train]
algorithm = sgd_analog
[device]
type = softbounds
[sweep]
device.dw_min = 0.001, 0.5
EOF2
env -u XBEMU_SWEEP_RUNNER "$X" sweep "$T/real.ini" -j 2 --out "$T/real" > "$T/out" 2>&1; rc=$?
if [ "$rc" -eq 1 ] && head -1 "$T/real/results.csv" | grep -q '^run_id,device.dw_min,status,error,run,.*,accuracy,' &&
   grep -q '^[0-9a-f]*,0.001,ok,,real,' "$T/real/results.csv" &&
   grep -q '^[0-9a-f]*,0.5,failed,.*config.ini:[0-9]*: \[device\] dw_min = 0.5 w is outside' "$T/real/results.csv"; then ok
else bad "sweep with the real xbemu run (rc=$rc)"; head -3 "$T/real/results.csv" | cut -c1-200; tail -3 "$T/out"; fi

# every shipped sweep (experiments/configs/sweep_*.ini): it expands (--dry-run), and its
# first run succeeds with the real `xbemu run` at a tiny size (--shard 0/N of N runs is
# run 0 alone; 20 samples, one epoch, a 784-16-10 net)
for f in experiments/configs/sweep_*.ini; do
    name=$(basename "$f" .ini)
    n=$("$X" sweep "$name" --dry-run 2>"$T/err" | sed -n 's/^\([0-9]*\) runs$/\1/p')
    if [ -z "$n" ] || [ "$n" -lt 1 ]; then bad "$name --dry-run: no run count"; sed 's/^/    /' "$T/err" | head -3; continue; fi
    ok
    tiny="--set data.train_limit=20 --set data.test_limit=20 --set train.epochs=1 --set train.task_epochs=1 --set net.layers=784-16-10"
    env -u XBEMU_SWEEP_RUNNER "$X" sweep "$name" --shard "0/$n" $tiny --threads 1 -q \
        --out "$T/shipped-$name" > "$T/out" 2>&1; rc=$?
    first=$("$X" sweep "$name" --dry-run $tiny | awk 'length($2) == 16 { print $2; exit }')
    if [ "$rc" -eq 0 ] && [ "$(grep -c ",ok,," "$T/shipped-$name/results.csv")" -ge 1 ] &&
       grep -q "^$first,.*,ok,," "$T/shipped-$name/results.csv"; then ok
    else bad "$name: first run at a tiny size (rc=$rc)"; tail -3 "$T/out" | sed 's/^/    /'
         tail -2 "$T"/shipped-"$name"/runs/*/stderr.log 2>/dev/null | sed 's/^/    /'; fi
done

# MPI mode (a build with make MPI=1): rank 0 hands out runs, rank 1 runs them. Without
# XBEMU_MPI the MPI build is made here (build/mpi, once) when mpicc and mpirun exist.
if [ -z "${XBEMU_MPI:-}" ] && command -v mpicc > /dev/null && command -v mpirun > /dev/null; then
    if env -u SANITIZE -u BUILD MAKEFLAGS= make -s MPI=1 build/mpi/xbemu > "$T/mpibuild" 2>&1; then XBEMU_MPI=$PWD/build/mpi/xbemu
    else bad "make MPI=1 failed"; tail -5 "$T/mpibuild"; fi
fi
[ -n "${XBEMU_MPI:-}" ] || echo "sweep: MPI mode not tested (no mpicc/mpirun)"
if [ -n "${XBEMU_MPI:-}" ]; then
    mpirun --oversubscribe --allow-run-as-root -n 2 "$XBEMU_MPI" sweep "$T/s.ini" --out "$T/mpi" > "$T/out" 2>&1
    if cmp -s "$T/ref/results.csv" "$T/mpi/results.csv"; then ok
    else bad "mpirun -n 2 results differ from -j 2"; tail -5 "$T/out"; fi
fi
echo "sweep: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
