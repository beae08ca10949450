#!/bin/sh
# Few-shot heads at paper scale (issue 14, item 7): the 60 heads of
# chapter 5 under the paper profile (5 k x 3 seeds x 4 kinds, 200 epochs,
# validation on 5,000 pictures every epoch, test on 10,000), timed by
# tests/bench/bench_fewshot.c. Target: under 2 minutes on two cores. No
# peer: the figure is the engine's alone. Writes $BENCH_DIR/part-fewshot.json.
set -eu
B="${BENCH_DIR:-build/bench}"
BIN="${BUILD:-build}/bench/bench_fewshot"
T="${BENCH_THREADS:-2}"; SEEDS="${FEWSHOT_SEEDS:-3}"; EPOCHS="${FEWSHOT_EPOCHS:-200}"
mkdir -p "$B"
out=$(OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS="$T" "$BIN" "$T" "$SEEDS" "$EPOCHS")
echo "$out" | head -1
/usr/bin/python3 - "$B/part-fewshot.json" "$out" <<'PY'
import json, sys
s = [l for l in sys.argv[2].splitlines() if l.startswith("fewshot_json ")][-1]
m = json.loads(s[len("fewshot_json "):])
recs = [{"name": f"few-shot heads, paper scale ({m['heads']} heads, {m['epochs']} epochs, 512-d, 100 classes): median per head",
         "value": m["median_s_per_head"], "unit": "s", "peer": None, "peer_value": None, "ratio": None},
        {"name": f"few-shot heads, paper scale: all {m['heads']} (target < 120 s on 2 cores)",
         "value": m["total_s"], "unit": "s", "peer": None, "peer_value": None, "ratio": None},
        {"name": f"few-shot heads, paper scale: CPU time of all {m['heads']} / {m['threads']} threads (the wall time of an idle machine, at best)",
         "value": round(m["cpu_s"] / m["threads"], 2), "unit": "s", "peer": None, "peer_value": None, "ratio": None}]
json.dump(recs, open(sys.argv[1], "w"), indent=1)
for r in recs:
    print(f"{r['name']:96s} {r['value']:8.2f} {r['unit']}")
PY
