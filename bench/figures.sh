#!/bin/sh
# bench/figures.sh XBEMU: regenerate docs/figures/*.png, one figure of each `xbemu plot`
# kind. The inputs are still the synthetic fixtures of tests/data/plots (the titles say
# so); swap in real results.csv files as experiments/ and calibration/ produce them.
set -eu
X=${1:?usage: bench/figures.sh path/to/xbemu}
D=tests/data/plots
O=docs/figures
mkdir -p "$O"
"$X" plot energy-accuracy "$D/results_w1.csv" --label-front -o "$O/energy-accuracy.png" \
    --title "W1, Fashion-MNIST: devices × ADC bits (fixture data)"
"$X" plot energy-breakdown "$D/results_w1.csv" -o "$O/energy-breakdown.png" \
    --title "Where the energy goes: W1 per device and ADC resolution (fixture data)"
"$X" plot pulse-response "$D/pulse_softbounds.csv" --measured "$D/pulse_measured.csv" \
    -o "$O/pulse-response.png" --title "Soft-bounds device, 12 devices (fixture data)"
"$X" plot learning "$D/results_cl.csv" -o "$O/learning.png" \
    --title "MNIST then Fashion-MNIST, metaplastic m = 0 vs 10 (fixture data)"
"$X" plot heatmap "$D/g_map.csv" -o "$O/heatmap-conductance.png" \
    --zlabel "conductance (µS)" --title "Conductance map of a 24 × 40 array (fixture data)"
"$X" plot heatmap "$D/results_w1.csv" --x adc_bits --y device --z accuracy \
    -o "$O/heatmap-sweep.png" --title "Accuracy at the last epoch, mean of 3 seeds (fixture data)"
"$X" plot heatmap "$D/results_cl.csv" --x eval_task --y task --z accuracy --where meta_m=10 \
    -o "$O/heatmap-accuracy-matrix.png" --title "Accuracy matrix of continual learning, m = 10 (fixture data)"
"$X" plot sweep "$D/results_ber.csv" --x ber --y accuracy --color bl --logx \
    -o "$O/sweep.png" --title "ST-MRAM: accuracy vs bit error rate (fixture data)"
"$X" plot scaling "$D/bench_m1m2.jsonl" --y time_us,ref_time_us -o "$O/scaling.png" \
    --ylabel "time per call (µs)" --title "M1/M2 vs BLAS reference, time vs array size (fixture data)"
ls -l "$O"/*.png
