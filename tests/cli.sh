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
check config-show-bits 0 "i_write" -- "$X" config show bits
printf '[train]\nalgorithm = meta_bnn\nweight_device = stmram\nber_mode = physical\n[bits]\ni_write = 1\n' > "$T/bits.ini"
check run-bits-range 2 "bits.ini:6: \[bits\] i_write = 1 A is outside \[0, 0.1\] A" -- "$X" run "$T/bits.ini"
check devices 0 "softbounds" -- "$X" devices
check devices-show 0 "dw_min_std" -- "$X" devices show softbounds
check devices-unknown 2 "unknown device model 'nosuch'" -- "$X" devices show nosuch
printf '[device]\ntype = softbounds\ndw_min = 0.5\n' > "$T/bad.ini"
check run-range 2 "bad.ini:3: \[device\] dw_min = 0.5 w is outside \[1e-09, 0.1\] w" -- "$X" run "$T/bad.ini"
printf '[devices]\ntype = softbounds\n' > "$T/sec.ini"
check run-section 2 "sec.ini:2: unknown section \[devices\] (did you mean \[device\]?)" -- "$X" run "$T/sec.ini"
check run-set-typo 2 "unknown key 'dw_mn' (did you mean 'dw_min'?)" -- "$X" run w1_quick --set device.dw_mn=1
check run-missing-file 1 "cannot open config file" -- "$X" run "$T/nonexistent.ini"
check run-bad-type 2 "type = 'nosuch' is not a device model" -- "$X" run w1_quick --set device.type=nosuch
check bimu-sampler-direct 2 "mode = direct: \[train\] sampler = stmram needs mode = physical" -- "$X" run w4_bimu_stmram --set device.mode=direct
check bimu-sampler-enum 2 "sampler = 'foo' is not one of digital|stmram" -- "$X" run w4_bimu --set train.sampler=foo
check data-help 0 "convert-mnist" -- "$X" data --help
check data-convert-missing 1 "cannot open" -- "$X" data convert-mnist "$T/nodigits" --out "$T/m"
# calibrate / predict (synthetic files; the shipped data sets are in docs/calibration.md)
awk 'BEGIN { print "pulse,G_mS"; for (r = 0; r < 4; r++) { g = 1.1; for (k = 0; k < 40; k++) {
    print k "," g; g += 0.03 * (1.5 - g) * (1 + 0.3 * sin(7 * k + r)) }
    for (k = 0; k < 40; k++) { print k "," g; g -= 0.03 * (g - 0.9) * (1 + 0.3 * sin(5 * k + r)) } } }' > "$T/ramps.csv"
check calib-softbounds 0 "dw_min" -- "$X" calibrate --model softbounds --data "$T/ramps.csv" --columns pulse=0,conductance=1 --units conductance=mS --out "$T/p.ini" --report "$T/r.json"
check calib-ini-type 0 "type = softbounds" -- cat "$T/p.ini"
check calib-json 0 '"ci95"' -- cat "$T/r.json"
check calib-run 0 "accuracy" -- "$X" run "$T/p.ini" --set train.algorithm=sgd_analog --set data.train_limit=300 --set data.test_limit=300 --set run.progress=off --out "$T/crun"
check calib-bootstrap 0 "bootstrap percentiles" -- "$X" calibrate --model softbounds --data "$T/ramps.csv" --units conductance=mS --bootstrap 40
check calib-bootstrap-bad 2 "--bootstrap needs a count" -- "$X" calibrate --model softbounds --data "$T/ramps.csv" --bootstrap 5
check calib-ci-profile 0 "from the profile likelihood" -- "$X" calibrate --model softbounds --data "$T/ramps.csv" --units conductance=mS --ci profile
check calib-ci-bad 2 "--ci needs one of wald, profile, auto (got 'bayes')" -- "$X" calibrate --model softbounds --data "$T/ramps.csv" --ci bayes
check calib-compare 0 "ranked by AIC" -- "$X" calibrate --compare linear,softbounds,expstep --data "$T/ramps.csv" --units conductance=mS
check predict 0 "uncalibrated defaults" -- "$X" predict --params "$T/p.ini" --data "$T/ramps.csv" --units conductance=mS
printf 'pulse,G\n0,1e-3\n1,abc\n' > "$T/text.csv"
check calib-text 2 "text.csv:3:2: column 'G': 'abc' is not a finite number" -- "$X" calibrate --model softbounds --data "$T/text.csv"
: > "$T/empty.csv"
check calib-empty 2 "empty" -- "$X" calibrate --model softbounds --data "$T/empty.csv"
check calib-missing 1 "cannot open" -- "$X" calibrate --model softbounds --data "$T/nonexistent.csv"
check calib-unknown-model 2 "unknown model 'softbound'" -- "$X" calibrate --model softbound --data "$T/ramps.csv"
check calib-bad-unit 2 "'uS/cm' is not a unit of conductance" -- "$X" calibrate --model softbounds --data "$T/ramps.csv" --units conductance=uS/cm
check calib-no-data 2 "--data FILE is required" -- "$X" calibrate --model softbounds
printf '0.5\t0.02\n\t\n0.6\t0.2\n\t\n0.7\t0.6\n\t\n0.8\t0.9\n\t\n0.9\t0.99\n' > "$T/mtj.txt"
check calib-mtj 0 "i_c0" -- "$X" calibrate --model stmram --format mtj --data "$T/mtj.txt"
awk 'BEGIN { print "dev,pulse,R"; for (d = 0; d < 5; d++) for (t = 0; t < 1500; t += 10) {
    ts = 300 + 100 * d; m1 = 5e-4 + 1e-4 * d; lr = log(7000) + m1 * (t < ts ? t : ts) + 2e-5 * (t > ts ? t - ts : 0)
    print d "," t "," exp(lr + 0.01 * sin(13 * t + d)) } }' > "$T/hfox.csv"
check calib-hfox 0 "t_star_scale" -- "$X" calibrate --model hfox --data "$T/hfox.csv" --columns ramp=0,pulse=1,resistance=2 --out "$T/hfox.ini"
check calib-hfox-ini 0 "type = hfox" -- cat "$T/hfox.ini"
"$X" devices pulse ftj --n-devices 8 --sequence 30:+ --set v_a_dtod=0 --out "$T/ftj.csv" >/dev/null 2>&1
check calib-ftj 0 "w_l" -- "$X" calibrate --model ftj --data "$T/ftj.csv" --out "$T/ftj.ini"
check calib-ftj-ini 0 "type = ftj" -- cat "$T/ftj.ini"
check calib-ftj-refuse 2 "v_a_dtod cannot be told from w_L" -- "$X" calibrate --model ftj --data "$T/ftj.csv" --fix v_a_dtod=0.1
check calib-plot 0 "ftj overlay" -- "$X" calibrate --model ftj --data "$T/ftj.csv" --plot "$T/ftj.png"
check calib-plot-png 0 "PNG" -- sh -c "head -c 8 \"$T/ftj.png\" | od -c | head -1 | tr -d ' '"
check calib-plot-hfox 2 "no overlay for model 'hfox'" -- "$X" calibrate --model hfox --data "$T/hfox.csv" --columns ramp=0,pulse=1,resistance=2 --plot "$T/h.png"
check calib-dw-stdin 0 "p_depin" -- sh -c "\"$X\" devices pulse dw --n-devices 4 --sequence 10:+,10:-,10:+ --set p_depin=0.6 --set p_miss=0.1 | \"$X\" calibrate --model dw --data -"
check calib-dw-refuse 2 "g_dtod is not identifiable\|not identifiable from the reads" -- "$X" calibrate --model dw --data "$T/ftj.csv" --fix g_dtod=0.1
# [eval] and device noise for MESU (issue 10)
Q="--set data.train_limit=300 --set data.test_limit=200 --set run.progress=off"
check eval-ood 0 "auc_permuted_epistemic,auc_permuted_entropy,auc_fmnist_epistemic" -- sh -c "\"$X\" run w4_mesu_ood $Q --set train.epochs=1 --out \"$T/ood\" >/dev/null && head -1 \"$T/ood/results.csv\""
check eval-wakeup 0 "tau_quantile,tau,f_wake,accuracy,energy_J" -- sh -c "\"$X\" run w4_wakeup $Q --set eval.wakeup_back_epochs=1 --out \"$T/wk\" >/dev/null && cat \"$T/wk/wakeup.csv\""
check eval-no-mc 2 "\[eval\] needs Monte-Carlo predictions, which trainer sgd_digital" -- "$X" run pmnist_sgd $Q --set eval.ood=permuted
check eval-bad-ood 2 "\[eval\] ood: 'fmnis' is not one of permuted, fmnist, mnist" -- "$X" run w4_mesu_ood $Q --set eval.ood=fmnis
check eval-self-ood 2 "cannot be its own out-of-distribution set" -- "$X" run w4_mesu_ood $Q --set eval.ood=mnist
check noise-device-mismatch 2 "\[device\] type = pcm but \[train\] noise_device = stmram" -- "$X" run w4_mesu_pcm $Q --set train.noise_device=stmram
check noise-silent 2 "no device shows read noise" -- "$X" run w4_mesu_pcm $Q --set device.g_init=0 --set train.noise_settle=0
check noise-stats 0 '"eps_ks"' -- sh -c "\"$X\" run w4_mesu_stmram $Q --set data.ntasks=1 --out \"$T/ns\" >/dev/null && cat \"$T/ns/run.json\""
# xbemu run: the training path (issue 6)
check run-help 0 "results.csv" -- "$X" run --help
check run-unknown-trainer 2 "\[train\] algorithm = 'sgd_magic' is not a trainer (one of sgd_digital" -- "$X" run w1_quick --set train.algorithm=sgd_magic
check run-layers-mismatch 2 "\[net\] layers = 100-10 does not fit the data: fmnist has 784 inputs and 10 classes" -- "$X" run w1_quick --set net.layers=100-10 --set data.train_limit=10 --set data.test_limit=10 --out "$T/r0"
check run-bad-layers 2 "\[net\] layers = '784--10' is not a list of sizes" -- "$X" run w1_quick --set net.layers=784--10
mkdir -p "$T/nodata"
check run-missing-data 1 "$T/nodata" -- "$X" run w1_quick --set data.dataset=mnist --set "data.dir=$T/nodata" --out "$T/r1"
check run-crossbar-bl 2 "\[crossbar\] bl: sgd_analog takes it from \[train\] bl" -- "$X" run w1_quick --set crossbar.bl=5 --set data.train_limit=10 --set data.test_limit=10 --out "$T/r2"
check run-other-trainer-key 2 "unknown key .bl.*with \\[train\\] algorithm = sgd_digital" -- "$X" run w1_quick --set train.algorithm=sgd_digital
check run-digital-small 0 "accuracy 0\.[0-9]* (mean over 1 task)" -- "$X" run w1_digital --set data.dataset=mnist --set data.train_limit=100 --set data.test_limit=100 --set run.progress=off --out "$T/r3"
check run-results-header 0 "^run,algorithm,device,dataset,.*,task,eval_task,epoch,samples_seen,accuracy,.*,energy_total_J,energy_per_sample_J,train_s,train_cpu_s,wall_s$" -- head -1 "$T/r3/results.csv"
check run-json 0 '"status": "complete"' -- cat "$T/r3/run.json"
check crossbar-mvm 0 "relative_rms_error" -- "$X" crossbar mvm --rows 40 --cols 24 --batch 2
check crossbar-bad-key 2 "\[crossbar\] adc_bits = 99 bit is outside" -- "$X" crossbar mvm --set crossbar.adc_bits=99
check crossbar-bad-device 2 "type = 'nosuch' is not a device model" -- "$X" crossbar mvm --device nosuch
printf '1e-3,0\n1e-3,0\n' > "$T/G.csv"; printf '0.3\n0.17\n' > "$T/V.csv"
check crossbar-irdrop 0 "^0$" -- "$X" crossbar irdrop --g "$T/G.csv" --v "$T/V.csv" --r-row 2 --r-col 3.5
check crossbar-irdrop-args 2 "irdrop needs --g, --v, --r-row and --r-col" -- "$X" crossbar irdrop --g "$T/G.csv"
# devices pulse: tidy CSV, every model, params files, errors
ok() { "$@" && echo "exit-ok"; }    # for commands that print nothing on success
check pulse-help 0 "devices pulse" -- "$X" devices --help
for m in $("$X" devices | cut -d' ' -f1); do
    check "pulse-$m" 0 "exit-ok" -- ok "$X" devices pulse "$m" --n-devices 3 --sequence "2:+,1:0" --out "$T/$m.csv"
    if [ "$(head -1 "$T/$m.csv")" = "device,pulse,polarity,conductance_S,energy_J" ] &&
       [ "$(wc -l < "$T/$m.csv")" -eq 13 ] && grep -q '^2,3,0,' "$T/$m.csv" &&
       awk -F, 'NR > 1 && !($4 >= 0) { bad = 1 } END { exit bad }' "$T/$m.csv"; then pass=$((pass+1))
    else fail=$((fail+1)); echo "FAIL cli: pulse-$m CSV shape"; head -3 "$T/$m.csv"; fi
done
"$X" devices pulse linear --n-devices 2 --sequence "3:+" --set dw_min_std=0 --set dw_min_dtod=0 \
    --set up_down_dtod=0 --set w_max_dtod=0 --set w_min_dtod=0 --out "$T/lin.csv"
# 3 noiseless steps of 0.001 w at 4e-6 S per w: G = 1e-5 + 3 * 4e-9 S; energy 1e-11 J per pulse
if awk -F, '$2 == 3 && ($4 < 1.00119e-05 || $4 > 1.00121e-05 || $5 != 1e-11) { bad = 1 } END { exit bad }' "$T/lin.csv"
then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL cli: pulse-linear values"; cat "$T/lin.csv"; fi
printf '[device]\ntype = dw\nstates = 3\nsigma = 0\n' > "$T/dw.ini"
check pulse-params 0 "exit-ok" -- ok "$X" devices pulse --params "$T/dw.ini" --n-devices 2 --sequence "1:+" --out "$T/dw.csv"
if awk -F, '$2 == 1 && ($4 < 7.4999e-6 || $4 > 7.5001e-6 || $5 != 5e-15) { bad = 1 } END { exit bad }' "$T/dw.csv"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL cli: pulse-params level"; cat "$T/dw.csv"; fi
printf '[device]\ntype = dw\nstates = 99\n' > "$T/dwbad.ini"
check pulse-params-range 2 "dwbad.ini:3: \[device\] states = 99 is outside integer in \[2, 64\]" -- "$X" devices pulse --params "$T/dwbad.ini" --out "$T/x.csv"
check pulse-set-typo 2 "unknown key 'sigm' (did you mean 'sigma'?)" -- "$X" devices pulse dw --set sigm=0 --out "$T/x.csv"
check pulse-set-noeq 2 "not of the form section.key=value" -- "$X" devices pulse dw --set sigma --out "$T/x.csv"
check pulse-oneway 2 "hfox is a one-way device" -- "$X" devices pulse hfox --sequence "2:-" --out "$T/x.csv"
check pulse-bad-seq 2 "expected COUNT:SIGN" -- "$X" devices pulse dw --sequence "2:x" --out "$T/x.csv"
check pulse-no-model 2 "needs a model NAME" -- "$X" devices pulse --out "$T/x.csv"
check pulse-bad-n 2 "n-devices = '0' is outside" -- "$X" devices pulse dw --n-devices 0
check pulse-unwritable 1 "cannot open" -- "$X" devices pulse dw --out "$T/nodir/x.csv"
"$X" devices pulse stmram --n-devices 1000 --sequence "1:0" --set stuck_on=0.5 --set init_ap=1 --out "$T/st.csv"
n_on=$(awk -F, 'NR > 1 && $4 > 1.9e-4' "$T/st.csv" | wc -l)
if [ "$n_on" -gt 400 ] && [ "$n_on" -lt 1600 ]; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL cli: stuck_on ($n_on)"; fi
D=$(dirname "$0")/../experiments/configs/devices
for f in "$D"/*.ini; do
    check "preset-$(basename "$f" .ini)" 0 "exit-ok" -- ok "$X" devices pulse --params "$f" --n-devices 5 --sequence "5:+,5:-" --out "$T/preset.csv"
done
P=$(dirname "$0")/data/plots
check plot-energy-accuracy 0 "Pareto front (max accuracy, min energy_per_sample_J)" -- "$X" plot energy-accuracy "$P/results_w1.csv" -o "$T/ea.png"
check plot-png-chunks 0 "^tEXtConfig-Hash$" -- grep -a -o "tEXtConfig-Hash" "$T/ea.png"
check plot-pdf 0 "wrote $T/ea.pdf" -- "$X" plot energy-accuracy "$P/results_w1.csv" -o "$T/ea.pdf"
check plot-bad-extension 2 "must end in .png, .pdf or .svg" -- "$X" plot energy-accuracy "$P/results_w1.csv" -o "$T/ea.jpg"
check plot-scaling 0 "wrote $T/sc.png" -- "$X" plot scaling "$P/bench_m1m2.jsonl" -o "$T/sc.png"
: > "$T/empty.csv"
check plot-empty 2 "empty.csv: empty table" -- "$X" plot energy-accuracy "$T/empty.csv" -o "$T/x.png"
printf 'device,acc,energy_per_sample_J\nhfox,0.8,1e-9\n' > "$T/nocol.csv"
check plot-missing-column 2 "nocol.csv: no column 'accuracy'" -- "$X" plot energy-accuracy "$T/nocol.csv" -o "$T/x.png"
printf 'device,accuracy,energy_per_sample_J\nhfox,0.8,1e-9\nftj,0.7,0\n' > "$T/zero.csv"
check plot-log-nonpositive 2 "zero.csv:3: energy_per_sample_J = 0 is not positive" -- "$X" plot energy-accuracy "$T/zero.csv" -o "$T/x.png"
check plot-unknown-kind 2 "unknown plot kind 'pie'" -- "$X" plot pie "$T/zero.csv" -o "$T/x.png"
check plot-no-output 2 "no output file" -- "$X" plot sweep "$T/zero.csv"
mkdir -p "$T/nodata"
sh tests/sweep.sh "$X" || fail=$((fail+1))
# per-task epochs (W2's 40 -> 5 schedule): task 1 twice, task 2 once; then a bad list
check run-task-epochs 0 "^2,2,1,150$" -- sh -c "\"$X\" run w1_digital --set data.dataset=mnist --set data.tasks=permuted --set data.ntasks=2 --set data.train_limit=50 --set data.test_limit=50 --set 'train.task_epochs=2, 1' --set run.progress=off --out \"$T/te\" >/dev/null && awk -F, 'NR==1{for(i=1;i<=NF;i++)c[\$i]=i} NR>1{print \$c[\"task\"] \",\" \$c[\"eval_task\"] \",\" \$c[\"epoch\"] \",\" \$c[\"samples_seen\"]}' \"$T/te/results.csv\""
check run-task-epochs-bad 2 "task_epochs = 'x' is not a comma-separated list of epoch counts" -- "$X" run w1_quick --set train.task_epochs=x
echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
