#!/bin/sh
# CLIP encoders: clipbook's en_clip against the same architecture in
# PyTorch (Debian's python3-torch) at THREADS threads (default 2), random
# weights: ViT-B/32 and RN50 images/s (batch 32, 224 x 224) and text
# prompts/s (100 prompts). The peer runs at its best (glibc malloc keeps
# freed memory, OpenMP workers sleep: issue 2, "Speed"). Runs alternate so
# load from other processes hits both; figures are medians. Writes
# $BENCH_DIR/part-clip-encoders.json (merged into clip.json).
set -eu
B="${BENCH_DIR:-build/bench}"
BUILD="${BUILD:-build}"
T="${THREADS:-2}"
R="${REPEATS:-3}"
BIN="$BUILD/bench/bench_clip"
[ -x "$BIN" ] || make -s "$BIN"
/usr/bin/python3 -c "import torch" 2>/dev/null || {
  if [ "$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-torch >/dev/null
  else echo "bench_clip: needs python3-torch: sudo apt-get install python3-torch"; exit 1; fi; }
export OMP_NUM_THREADS="$T" OPENBLAS_NUM_THREADS="$T"
D="$B/clip-data"; mkdir -p "$D"
for w in vit:32 rn50:32 text:100; do
  name=${w%%:*}; n=${w##*:}
  # the clipbook binary re-executes itself with OMP_WAIT_POLICY=PASSIVE unless
  # the user set one (engine/NOTES.md): measure the driver the same way
  OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}" "$BIN" "$name" "$n" "$R" >"$D/ours.$name.json"
  MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 OMP_WAIT_POLICY=PASSIVE \
    /usr/bin/python3 tests/bench/bench_clip_torch.py "$name" "$n" "$R" "$T" >"$D/peer.$name.json"
done
/usr/bin/python3 - "$D" "$T" "$B/part-clip-encoders.json" <<'PY'
import json, os, sys
d, t, out = sys.argv[1:4]
names = {"vit": ("ViT-B/32 image encoder, batch 32, 224x224", "images/s"),
         "rn50": ("RN50 image encoder, batch 32, 224x224", "images/s"),
         "text": ("text encoder, 100 prompts", "prompts/s")}
recs = []
for k, (label, unit) in names.items():
    o, p = json.load(open(os.path.join(d, "ours.%s.json" % k))), json.load(open(os.path.join(d, "peer.%s.json" % k)))
    recs.append({"name": label, "value": round(o["per_s"], 2), "unit": unit,
                 "peer": "PyTorch %s CPU, %s threads" % (p["torch"], t),
                 "peer_value": round(p["per_s"], 2), "ratio": round(o["per_s"] / p["per_s"], 2)})
json.dump(recs, open(out, "w"), indent=1)
print("%-46s %10s %10s %7s" % ("figure", "clipbook", "peer", "ratio"))
for x in recs:
    print("%-46s %10s %10s %7s  %s" % (x["name"], x["value"], x["peer_value"], x["ratio"], x["unit"]))
PY
