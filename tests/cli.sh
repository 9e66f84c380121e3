#!/bin/sh
# tests/cli.sh XBEMU: end-to-end checks of the command line (exit codes, messages).
set -u
X=${1:?usage: tests/cli.sh path/to/xbemu}
pass=0; fail=0
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
check() {   # check NAME EXPECTED_RC PATTERN -- command...
    name=$1 want=$2 pat=$3; shift 4
    "$@" >"$T/out" 2>&1; rc=$?
    if [ "$rc" -eq "$want" ] && grep -q -e "$pat" "$T/out"; then pass=$((pass+1))
    else fail=$((fail+1)); echo "FAIL cli: $name (rc=$rc, wanted $want and /$pat/):"; sed 's/^/    /' "$T/out" | head -5; fi
}
check help 0 "usage: xbemu COMMAND" -- "$X" --help
check no-args 2 "usage: xbemu" -- "$X"
check unknown-command 2 "unknown command 'frobnicate'" -- "$X" frobnicate
check version 0 "xbemu [0-9]" -- "$X" version
check config-show 0 "dw_min" -- "$X" config show
check config-bad-section 2 "unknown section" -- "$X" config show nosuch
check devices 0 "softbounds" -- "$X" devices
check devices-show 0 "dw_min_std" -- "$X" devices show softbounds
check devices-unknown 2 "unknown device model 'nosuch'" -- "$X" devices show nosuch
printf '[device]\ntype = softbounds\ndw_min = 0.5\n' > "$T/bad.ini"
check run-range 2 "bad.ini:3: \[device\] dw_min = 0.5 w is outside \[1e-09, 0.1\] w" -- "$X" run "$T/bad.ini"
printf '[devices]\ntype = softbounds\n' > "$T/sec.ini"
check run-section 2 "sec.ini:2: unknown section \[devices\] (did you mean \[device\]?)" -- "$X" run "$T/sec.ini"
check run-set-typo 2 "unknown key 'dw_mn' (did you mean 'dw_min'?)" -- "$X" run --set device.dw_mn=1
check run-missing-file 1 "cannot open config file" -- "$X" run "$T/nonexistent.ini"
check run-bad-type 2 "type = 'nosuch' is not a device model" -- "$X" run --set device.type=nosuch
check data-help 0 "convert-mnist" -- "$X" data --help
check data-convert-missing 1 "cannot open" -- "$X" data convert-mnist "$T/nodigits" --out "$T/m"
# xbemu run: the training path (issue 6)
check run-help 0 "results.csv" -- "$X" run --help
check run-unknown-trainer 2 "\[train\] algorithm = 'sgd_magic' is not a trainer (one of sgd_digital" -- "$X" run --set train.algorithm=sgd_magic
check run-layers-mismatch 2 "\[net\] layers = 100-10 does not fit the data: fmnist has 784 inputs and 10 classes" -- "$X" run --set net.layers=100-10 --set data.train_limit=10 --set data.test_limit=10 --out "$T/r0"
check run-bad-layers 2 "\[net\] layers = '784--10' is not a list of sizes" -- "$X" run --set net.layers=784--10
mkdir -p "$T/nodata"
check run-missing-data 1 "$T/nodata" -- "$X" run --set data.dataset=mnist --set "data.dir=$T/nodata" --out "$T/r1"
check run-crossbar-bl 2 "\[crossbar\] bl: sgd_analog takes it from \[train\] bl" -- "$X" run --set crossbar.bl=5 --set data.train_limit=10 --set data.test_limit=10 --out "$T/r2"
check run-other-trainer-key 2 "unknown key .bl.*with \\[train\\] algorithm = sgd_digital" -- "$X" run --set train.algorithm=sgd_digital
check run-digital-small 0 "accuracy 0\.[0-9]* (mean over 1 task)" -- "$X" run w1_digital --set data.dataset=mnist --set data.train_limit=100 --set data.test_limit=100 --set run.progress=off --out "$T/r3"
check run-results-header 0 "^run,algorithm,device,dataset,.*,task,eval_task,epoch,samples_seen,accuracy,.*,energy_total_J,energy_per_sample_J,train_s,train_cpu_s,wall_s$" -- head -1 "$T/r3/results.csv"
check run-json 0 '"status": "complete"' -- cat "$T/r3/run.json"
echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
