#!/usr/bin/env python3
"""Writes the plot fixtures in this folder (synthetic, fixed seed): results files shaped as
experiments/ will write them, `xbemu devices pulse` output, a conductance map and benchmark
JSON lines. The numbers are plausible, not measured: magnitudes follow DEVICES.md section 9
(read V^2*G*t, ADC FoM 10 fJ/step, pulse energies) and ref/RESULTS.md (W1, W2 accuracies).
Run from the repository root: python3 tests/data/plots/make_fixtures.py"""
import json, math, random, os

D = os.path.dirname(os.path.abspath(__file__))
rnd = random.Random(20261126)

def w(name, header, rows):
    with open(os.path.join(D, name), "w") as f:
        f.write(",".join(header) + "\n")
        for r in rows:
            f.write(",".join(r) + "\n")

# W1 on three devices x three ADC resolutions, 3 seeds, 3 epochs (energy-accuracy, heatmap)
dev = {  # name: (final accuracy at 8 bits, pulse energy J, pulses per sample)
    "softbounds": (0.815, 1e-11, 9000), "hfox": (0.78, 1e-11, 14000),
    "ftj": (0.80, 1e-14, 11000), "stmram": (0.74, 5e-13, 6000)}
rows = []
for d, (acc8, ep, npul) in dev.items():
    for bits in (4, 6, 8):
        for seed in (1, 2, 3):
            for epoch in (1, 2, 3):
                loss_bits = {4: 0.09, 6: 0.02, 8: 0.0}[bits]
                acc = acc8 - loss_bits - 0.07 / epoch + 0.07 / 3 + rnd.gauss(0, 0.006)
                e_read = 235e3 * 3 * 0.04 * 5e-6 * 1e-8
                e_adc = 2 * (256 + 128 + 10) * 10e-15 * 2 ** bits
                e_dac = 2 * (784 + 256 + 128) * 50e-15
                e_pulse = npul * ep * (1 + rnd.gauss(0, 0.03))
                tot = e_read + e_adc + e_dac + e_pulse
                rows.append([d, str(bits), str(seed), "fmnist", "fmnist", str(epoch),
                             str(epoch * 60000), f"{acc:.4f}", f"{tot:.4e}", f"{e_read:.4e}",
                             f"{e_adc:.4e}", f"{e_pulse:.4e}", f"{rnd.uniform(40, 48):.1f}"])
w("results_w1.csv", ["device", "adc_bits", "seed", "task", "eval_task", "epoch", "samples",
                     "accuracy", "energy_per_sample_J", "energy_read_J", "energy_adc_J",
                     "energy_pulse_J", "wall_s"], rows)

# Continual learning (W2 shape): MNIST 10 epochs then Fashion-MNIST 5, metaplasticity m = 0, 10
rows = []
for m in (0, 10):
    for seed in (1, 2, 3):
        for epoch in range(1, 16):
            task = "mnist" if epoch <= 10 else "fmnist"
            for ev in ("mnist", "fmnist"):
                if ev == "mnist":
                    a = 0.94 - 0.25 * math.exp(-(epoch - 1) / 2.0)
                    if epoch > 10:
                        k = epoch - 10
                        a = (0.94 - 0.01 * k) if m == 10 else (0.17 + 0.6 * math.exp(-1.5 * k))
                else:
                    a = 0.10 + 0.02 * rnd.random() if epoch <= 10 else \
                        (0.84 - 0.2 * math.exp(-(epoch - 11) / 1.5)) - (0.06 if m == 10 else 0)
                a += rnd.gauss(0, 0.008)
                rows.append([str(m), str(seed), task, ev, str(epoch), f"{min(a, 0.99):.4f}",
                             f"{2.1e-7 * (1 + rnd.gauss(0, 0.02)):.4e}"])
w("results_cl.csv", ["meta_m", "seed", "task", "eval_task", "epoch", "accuracy",
                     "energy_per_sample_J"], rows)

# ST-MRAM bit-error-rate sweep, bit-stream length 10 and 31 (sweep, log x)
rows = []
for bl in (10, 31):
    for ber in (1e-5, 1e-4, 1e-3, 1e-2, 3e-2, 1e-1):
        for seed in (1, 2, 3):
            a = 0.80 - (0.02 if bl == 10 else 0) - 0.55 / (1 + (0.04 / ber) ** 1.3) + rnd.gauss(0, 0.007)
            rows.append(["stmram", str(bl), f"{ber:g}", str(seed), "3", f"{a:.4f}",
                         f"{(3.0e-9 * bl / 10) * (1 + rnd.gauss(0, 0.02)):.4e}"])
w("results_ber.csv", ["device", "bl", "ber", "seed", "epoch", "accuracy",
                      "energy_per_sample_J"], rows)

# Pulse response: 12 soft-bounds devices, 100 up then 100 down pulses (DEVICES.md section 1:
# step dw*(1 - w/w_max) up, dw*(1 - w/w_min) down, C2C 0.3, D2D 0.1 on the step)
gmin, gmax = 2e-6, 22e-6
rows = []
for d in range(12):
    up = 0.02 * (1 + rnd.gauss(0, 0.1)); dn = 0.02 * (1 + rnd.gauss(0, 0.1))
    wv, wmax, wmin = rnd.uniform(-0.1, 0.1), 0.6 * (1 + rnd.gauss(0, 0.05)), -0.6 * (1 + rnd.gauss(0, 0.05))
    for p in range(200):
        pol = 1 if p < 100 else -1
        g_before = gmin + (gmax - gmin) * (wv + 0.6) / 1.2
        step = up * (1 - wv / wmax) if pol > 0 else -dn * (1 - wv / wmin)
        wv = min(max(wv + step * (1 + 0.3 * rnd.gauss(0, 1)), wmin), wmax)
        g = gmin + (gmax - gmin) * (wv + 0.6) / 1.2
        rows.append([str(d), str(p), str(pol), f"{g:.5e}", f"{1.5 * 50e-6 * 133e-9 * g / g_before:.4e}"])
w("pulse_softbounds.csv", ["device", "pulse", "polarity", "conductance_S", "energy_J"], rows)
rows = []
wv = 0.0
for p in range(0, 200, 4):   # a "measured" device, sampled every 5th pulse
    wv = 0.6 * (1 - math.exp(-p / 30)) if p < 100 else \
        0.6 * (1 - math.exp(-100 / 30)) - 1.1 * (1 - math.exp(-(p - 100) / 35))
    g = gmin + (gmax - gmin) * (wv + 0.6) / 1.2 * (1 + rnd.gauss(0, 0.03))
    rows.append([str(p), f"{g:.5e}"])
w("pulse_measured.csv", ["pulse", "conductance_S"], rows)

# A 24 x 40 conductance map in uS (no header): trained weights, a few stuck devices
with open(os.path.join(D, "g_map.csv"), "w") as f:
    for r in range(24):
        vals = []
        for c in range(40):
            g = 12 + 6 * math.sin(r / 4.0) * math.cos(c / 6.0) + rnd.gauss(0, 1.2)
            if rnd.random() < 0.02: g = 2.0
            if rnd.random() < 0.01: g = 22.0
            vals.append(f"{min(max(g, 2.0), 22.0):.3f}")
        f.write(",".join(vals) + "\n")

# M1/M2 benchmark JSON lines: square arrays 64..2048, 3 repeats
with open(os.path.join(D, "bench_m1m2.jsonl"), "w") as f:
    f.write("# xbemu bench (synthetic fixture)\n")
    for n in (64, 128, 256, 512, 1024, 2048):
        for rep in range(3):
            t1 = (2 * n * n / 30e9 + 0.4e-6) * (1 + abs(rnd.gauss(0, 0.05)))
            t2 = (n * n * 10 / 1.2e9 + 2e-6) * (1 + abs(rnd.gauss(0, 0.05)))
            r1 = (2 * n * n / 36e9 + 0.3e-6) * (1 + abs(rnd.gauss(0, 0.05)))   # cblas_sgemv
            r2 = (2 * n * n / 20e9 + 0.3e-6) * (1 + abs(rnd.gauss(0, 0.05)))   # cblas_sger
            f.write(json.dumps({"bench": "M1_mvm", "shape": f"{n}x{n}x1", "threads": 1,
                                "repeat": rep, "time_us": round(t1 * 1e6, 3),
                                "ref_time_us": round(r1 * 1e6, 3),
                                "gflops": round(2 * n * n / t1 / 1e9, 2)}) + "\n")
            f.write(json.dumps({"bench": "M2_update_bl10", "shape": f"{n}x{n}", "threads": 1,
                                "repeat": rep, "time_us": round(t2 * 1e6, 3),
                                "ref_time_us": round(r2 * 1e6, 3),
                                "pulses_per_s": round(n * n * 10 / t2, 0)}) + "\n")
