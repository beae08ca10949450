#!/bin/sh
# BF16 inference (issue 16): ViT-B/32 image features at batch 32, bf16
# against float32 on the same machine in the same run (tests/bench/
# bench_bf16.c): images/s of each, and the cosine of bf16 against float32
# features (target >= 0.999). The probe and zero-shot accuracy change on the
# mini towers is not measured here (it needs the trained mini towers).
# Writes $BENCH_DIR/part-bf16.json.
set -eu
B="${BENCH_DIR:-build/bench}"
BIN="${BUILD:-build}/bench/bench_bf16"
T="${BENCH_THREADS:-2}"; RUNS="${BENCH_RUNS:-3}"
mkdir -p "$B"
out=$(OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS="$T" "$BIN" "$T" "$RUNS")
/usr/bin/python3 - "$B/part-bf16.json" "$out" "$T" <<'PY'
import json, sys
v = {}
for l in sys.argv[2].splitlines():
    k, _, x = l.partition(" ")
    v[k] = x
recs = []
if "bf16_skipped" in v:
    print("bench_bf16: skipped:", v["bf16_skipped"])
else:
    f, b = float(v["bf16_fp32_img_s"]), float(v["bf16_bf16_img_s"])
    recs = [{"name": "ViT-B/32 image features, batch 32, 224 px: BF16 (AVX512_BF16) against float32",
             "value": round(b, 3), "unit": "images/s", "peer": f"clipbook float32, {sys.argv[3]} threads",
             "peer_value": round(f, 3), "ratio": round(b / f, 3)},
            {"name": "ViT-B/32 (random weights): cosine of BF16 against float32 features, worst of 32 (target >= 0.999)",
             "value": float(v["bf16_cos_min"]), "unit": "cosine", "peer": None, "peer_value": None, "ratio": None}]
    for r in recs:
        pv = "-" if r["peer_value"] is None else f"{r['peer_value']:.3f}"
        ra = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
        print(f"{r['name']:100s} {r['value']:10.4f} {pv:>10s} {ra:>6s}  {r['unit']}")
json.dump(recs, open(sys.argv[1], "w"), indent=1)
PY
