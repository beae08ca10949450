#!/bin/sh
# Engine speed: GEMM-bound layers against raw cblas_sgemm on the same shapes,
# and a ViT-B/32 image-encoder forward (batch 32) against PyTorch on the CPU,
# both at the same thread count. The engine and torch runs alternate, so
# both see the same machine load; each figure is a median (of ITERS
# forwards per run, then of RUNS runs). Torch runs at its best: glibc told
# to keep freed memory, passive OpenMP waiting, every thread pool bounded;
# the engine runs under the same environment.
set -u
B="${BENCH_DIR:-build/bench}"
BIN="${BUILD:-build}/bench/bench_engine"
T="${BENCH_THREADS:-2}"; RUNS="${BENCH_RUNS:-3}"; ITERS="${BENCH_ITERS:-3}"
export MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 OMP_WAIT_POLICY=PASSIVE
export OMP_NUM_THREADS="$T" OPENBLAS_NUM_THREADS="$T" MKL_NUM_THREADS="$T"
mkdir -p "$B"
raw=$(mktemp); trap 'rm -f "$raw"' EXIT
"$BIN" "$T" "$ITERS" gemm >>"$raw" || exit 1
have_torch=1
/usr/bin/python3 -c 'import torch' 2>/dev/null || { have_torch=0; echo "bench_engine: no torch for /usr/bin/python3 (apt-get install python3-torch): peer skipped"; }
for r in $(seq "$RUNS"); do
  "$BIN" "$T" "$ITERS" vit >>"$raw" 2>/dev/null || exit 1
  [ "$have_torch" = 1 ] && /usr/bin/python3 tests/bench/vit_torch.py "$T" "$ITERS" >>"$raw"
done
/usr/bin/python3 - "$raw" "$B/part-engine.json" "$T" <<'PY'
import json, statistics, sys
vals = {}
for line in open(sys.argv[1]):
    k, _, v = line.strip().partition(" ")
    try:
        vals.setdefault(k, []).append(float(v))
    except ValueError:
        pass
med = {k: statistics.median(v) for k, v in vals.items()}
t = sys.argv[3]
recs = []
for k in sorted(med):
    if k.startswith("gemm_") and k.endswith("_engine"):
        shape = k[5:-7]
        eng, rawv = med[k], med.get(f"gemm_{shape}_raw")
        recs.append({"name": f"GEMM {shape.split('_')[0]} {shape.split('_')[1]} (en_linear)",
                     "value": round(eng, 2), "unit": "GFLOP/s",
                     "peer": f"raw cblas_sgemm, OpenBLAS, {t} threads",
                     "peer_value": round(rawv, 2) if rawv else None,
                     "ratio": round(eng / rawv, 3) if rawv else None})
peer = max([med[k] for k in ("vit_torch_lnd_img_s", "vit_torch_nld_img_s") if k in med], default=None)
if "vit_img_s" in med:
    recs.append({"name": "ViT-B/32 image encoder forward, batch 32, 224x224",
                 "value": round(med["vit_img_s"], 3), "unit": "images/s",
                 "peer": f"PyTorch 1.13 CPU, best of seq-first and batch-first attention, {t} threads",
                 "peer_value": round(peer, 3) if peer else None,
                 "ratio": round(med["vit_img_s"] / peer, 3) if peer else None})
cpu_peer = min([med[k] for k in ("vit_torch_lnd_cpu_ms_per_img", "vit_torch_nld_cpu_ms_per_img") if k in med], default=None)
if "vit_cpu_ms_per_img" in med:
    # CPU time per image: less disturbed by other jobs on a shared machine
    # than wall time; ratio = peer / clipbook (above 1: clipbook cheaper)
    recs.append({"name": "ViT-B/32 forward CPU time per image (process CPU time)",
                 "value": round(med["vit_cpu_ms_per_img"], 1), "unit": "ms/image",
                 "peer": f"PyTorch 1.13 CPU, best of the two layouts, {t} threads",
                 "peer_value": round(cpu_peer, 1) if cpu_peer else None,
                 "ratio": round(cpu_peer / med["vit_cpu_ms_per_img"], 3) if cpu_peer else None})
json.dump(recs, open(sys.argv[2], "w"), indent=1)
print(f"{'figure':58s} {'clipbook':>10s} {'peer':>10s} {'ratio':>7s}")
for r in recs:
    pv = "-" if r["peer_value"] is None else f"{r['peer_value']:.2f}"
    ra = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
    print(f"{r['name']:58s} {r['value']:10.2f} {pv:>10s} {ra:>7s}  {r['unit']}")
for k in ("vit_torch_lnd_img_s", "vit_torch_nld_img_s", "vit_img_s", "vit_torch_lnd_cpu_ms_per_img", "vit_torch_nld_cpu_ms_per_img", "vit_cpu_ms_per_img"):
    if k in vals:
        print(f"  {k}: runs {vals[k]}")
PY
