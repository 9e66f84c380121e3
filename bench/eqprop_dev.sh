#!/bin/sh
# bench/eqprop_dev.sh XBEMU [OUT]: EP on devices (issue 11, docs/eqprop.md "On devices").
#  1. devices: for softbounds, hfox, ftj, one epoch of MNIST-8000, seed SEED (default 1):
#     EP on crossbars (w3_eqprop_<dev>, both update encodings: two opposite updates and
#     the difference) and analog SGD (backprop with pulse updates: sgd_analog, lr 0.01,
#     batch 1, BL 10) on the same 784-500-10 hard-sigmoid net, [device] and [crossbar];
#  2. the non-ideality sweep sweep_eqprop_nonideal, one non-ideality at a time (7 runs,
#     baseline shared by run id; see the config's header).
# Prints one JSON line per run (test accuracy, training energy per sample, train CPU s)
# and the sweep's accuracies relative to the baseline. 1 thread per run, one at a time;
# finished runs are kept (rerun to resume). PARTS="devices sweep" selects parts;
# DEVICES="softbounds hfox ftj" selects devices.
set -eu
X=${1:-build/rel/xbemu}
OUT=${2:-results/eqprop_dev}
SEED=${SEED:-1}
PARTS=${PARTS:-devices sweep}
DEVICES=${DEVICES:-softbounds hfox ftj}
export OMP_NUM_THREADS=1
mkdir -p "$OUT"
echo "# load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)" >&2
summary() {    # label dir: one JSON line from the last row of results.csv
    /usr/bin/python3 - "$1" "$2/results.csv" <<'PYEOF'
import csv, json, sys
r = list(csv.DictReader(open(sys.argv[2])))[-1]
print(json.dumps({"run": sys.argv[1], "device": r["device"], "test_acc": float(r["accuracy"]),
    "J_per_sample": float(r["energy_per_sample_J"]), "train_cpu_s": float(r["train_cpu_s"]),
    "pulses": float(r["n_pulse"]), "e_pulse_J": float(r["e_pulse_J"]),
    "e_adc_J": float(r["e_adc_J"]),
    "e_fp32_J": float(r["e_fp32_add_J"]) + float(r["e_fp32_mult_J"])}))
PYEOF
}
run() {        # label config extra-args...
    label=$1; cfg=$2; shift 2
    d="$OUT/$label-s$SEED"
    grep -qs '"complete"' "$d/run.json" ||
        "$X" run "$cfg" --out "$d" --set run.seed="$SEED" --set run.progress=off "$@" >/dev/null
    summary "$label" "$d"
}
sgd_config() { # device -> an analog-SGD config on the same net, device and crossbar
    f="$OUT/sgd_$1.ini"
    {
        printf '[run]\nname = w3_sgd_analog_%s\n[data]\ndataset = mnist\n' "$1"
        printf '[net]\nlayers = 784-500-10\nactivation = hsigmoid\n'
        printf '[train]\nalgorithm = sgd_analog\nepochs = 1\nlr = 0.01\nbatch = 1\nbl = 10\nupdate = pulse\n'
        case $1 in
        softbounds) printf '[device]\ntype = softbounds\ndw_min = 0.001\ndw_min_std = 0.3\nw_max = 1\nw_min = -1\n'
                    printf '[crossbar]\nideal = true\ndw_min = 0.001\n' ;;
        *)          printf '[device]\ntype = %s\n[crossbar]\nideal = true\nmapping = differential\ndw_min = 0\n' "$1" ;;
        esac
    } > "$f"
    echo "$f"
}
case " $PARTS " in *" devices "*)
    for dev in $DEVICES; do
        run "ep_${dev}_two" "w3_eqprop_$dev" --set train.encode=two
        run "ep_${dev}_difference" "w3_eqprop_$dev" --set train.encode=difference
        run "sgd_${dev}" "$(sgd_config "$dev")"
    done ;;
esac
case " $PARTS " in *" sweep "*)
    S="$OUT/sweep_nonideal"
    sw() { "$X" sweep sweep_eqprop_nonideal -j 1 --threads 1 --out "$S" --set run.progress=off "$@" >/dev/null; }
    sw
    sw --set device.up_down=0 --set 'sweep.device.dw_min_std=0, 0.3'
    sw --set device.up_down=0 --set 'sweep.device.dw_min_dtod=0, 0.3' \
       --set 'sweep.device.w_max_dtod=0, 0.3' --set 'sweep.device.w_min_dtod=0, 0.3' \
       --set 'sweep.zip=device.dw_min_dtod, device.w_max_dtod, device.w_min_dtod'
    sw --set device.up_down=0 --set 'sweep.device.dw_min=0.001, 0.05'
    sw --set device.up_down=0 --set 'sweep.crossbar.out_noise=0, 0.06'
    sw --set device.up_down=0 --set 'sweep.crossbar.dac_bits=0, 5' \
       --set 'sweep.crossbar.adc_bits=0, 6' --set 'sweep.zip=crossbar.dac_bits, crossbar.adc_bits'
    /usr/bin/python3 - "$S" <<'PYEOF'
import configparser, csv, glob, json, os, sys
keys = [("device", "up_down", "asymmetry"), ("device", "dw_min_std", "C2C"),
        ("device", "dw_min_dtod", "D2D"), ("device", "dw_min", "states"),
        ("crossbar", "out_noise", "read noise"), ("crossbar", "dac_bits", "DAC/ADC")]
base = {"up_down": 0.0, "dw_min_std": 0.0, "dw_min_dtod": 0.0, "dw_min": 0.001,
        "out_noise": 0.0, "dac_bits": 0.0}
rows = []
for d in sorted(glob.glob(os.path.join(sys.argv[1], "runs", "*"))):
    if not os.path.exists(os.path.join(d, "results.csv")): continue
    r = list(csv.DictReader(open(os.path.join(d, "results.csv"))))[-1]
    c = configparser.ConfigParser(inline_comment_prefixes=(";", "#"))
    c.read(os.path.join(d, "config.ini"))
    diff = [(lab, k, c[s][k]) for s, k, lab in keys if float(c[s][k]) != base[k]]
    if any(lab == "DAC/ADC" for lab, _, _ in diff):
        diff = [("DAC/ADC", "dac_bits/adc_bits", c["crossbar"]["dac_bits"] + "/" + c["crossbar"]["adc_bits"])]
    label = "baseline" if not diff else ", ".join("%s %s=%s" % x for x in diff)
    rows.append((label, float(r["accuracy"]), float(r["energy_per_sample_J"]), os.path.basename(d)))
b = [r for r in rows if r[0] == "baseline"]
b0 = b[0][1] if b else float("nan")
for label, acc, e, rid in sorted(rows, key=lambda r: r[0] != "baseline"):
    print(json.dumps({"sweep": "eqprop_nonideal", "case": label, "test_acc": acc,
                      "delta_points": round(100 * (acc - b0), 2), "J_per_sample": e, "run_id": rid}))
PYEOF
    ;;
esac
