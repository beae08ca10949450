#!/bin/sh
# Training step: one step of CLIP pre-training (both towers forward, the
# symmetric contrastive loss, backward, AdamW) on a small CLIP (ViT width
# 128, 4 layers, 32x32 inputs, patch 4; text transformer width 128, 3
# layers, context 32; batch 256), clipbook against the same model in
# PyTorch (tests/reference/clip_ref.py), both at THREADS threads (default
# 2). The peer runs at its best: glibc malloc keeps freed memory and OpenMP
# workers sleep (issue 2, "Speed"); clipbook runs with passive waiting as
# the clipbook command sets it. Runs alternate so load from other processes
# hits both; figures are medians of wall and CPU seconds per step (CPU time
# is the steadier figure on a loaded machine). Writes $BENCH_DIR/part-train.json.
set -eu
B="${BENCH_DIR:-build/bench}"
BUILD="${BUILD:-build}"
T="${THREADS:-2}"
R="${REPEATS:-3}"      # alternating rounds
S="${STEPS:-5}"        # timed steps per run (after one warm-up step)
N="${BATCH:-256}"
BIN="$BUILD/bench/bench_train"
[ -x "$BIN" ] || make -s "$BIN"
/usr/bin/python3 -c "import torch" 2>/dev/null || {
  if [ "$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-torch >/dev/null
  else echo "bench_train: needs python3-torch: sudo apt-get install python3-torch"; exit 1; fi; }
export OMP_NUM_THREADS="$T" OPENBLAS_NUM_THREADS="$T" MKL_NUM_THREADS="$T"
D="$B/train-data"; mkdir -p "$D"
i=0
while [ "$i" -lt "$R" ]; do
  OMP_WAIT_POLICY=PASSIVE "$BIN" "$N" "$S" >"$D/ours.$i.json"
  MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 OMP_WAIT_POLICY=PASSIVE \
    /usr/bin/python3 tests/bench/bench_train_torch.py "$N" "$S" "$T" >"$D/peer.$i.json"
  i=$((i + 1))
done
/usr/bin/python3 - "$D" "$R" "$T" "$N" "$B/part-train.json" <<'PY'
import json, os, statistics, sys
d, r, t, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
ours = [json.load(open(os.path.join(d, "ours.%d.json" % i))) for i in range(r)]
peer = [json.load(open(os.path.join(d, "peer.%d.json" % i))) for i in range(r)]
wo, wp = statistics.median(o["median_s"] for o in ours), statistics.median(p["median_s"] for p in peer)
co, cp = statistics.median(o["cpu_s"] for o in ours), statistics.median(p["cpu_s"] for p in peer)
pn = "PyTorch %s CPU, %s threads" % (peer[-1]["torch"], t)
label = "CLIP training step (ViT 128x4 32px + text 128x3, batch %d)" % n
recs = [
    {"name": label, "value": round(n / wo, 1), "unit": "images/s", "peer": pn,
     "peer_value": round(n / wp, 1), "ratio": round(wp / wo, 2)},
    {"name": "CLIP training step CPU time (all threads)", "value": round(co, 3), "unit": "s/step",
     "peer": pn, "peer_value": round(cp, 3), "ratio": round(cp / co, 2)},
]
json.dump(recs, open(out, "w"), indent=1)
print("%-62s %10s %10s %7s" % ("figure", "clipbook", "peer", "ratio"))
for x in recs:
    print("%-62s %10s %10s %7s  %s" % (x["name"], x["value"], x["peer_value"], x["ratio"], x["unit"]))
print("wall s/step, clipbook: %s; peer: %s" % ([o["median_s"] for o in ours], [round(p["median_s"], 4) for p in peer]))
print("CPU s/step, clipbook: %s; peer: %s" % ([o["cpu_s"] for o in ours], [round(p["cpu_s"], 4) for p in peer]))
PY
