#!/bin/sh
# BF16 inference on the trained towers (issue 16's accuracy targets): runs
# tests/bench/bf16_towers.lua through `clipbook run` on the mini profile
# (BF16_TOWERS_PROFILE), with the towers the memo store (build/cache, or
# $CLIPBOOK_CACHE) holds, trained there first when it holds none (~10 min
# on 2 cores). For each tower: cosine of BF16 against float32 cls_test
# image features (mean, worst; target >= 0.999), zero-shot and linear-probe
# top-1 in each precision and their difference (target within 0.2 points),
# images/s in each. Writes $BENCH_DIR/part-bf16-towers.json (records, merged
# into engine.json) and $BENCH_DIR/bf16_towers.json (every figure, which
# towers, the targets met).
set -eu
B="${BENCH_DIR:-build/bench}"
CB=${CLIPBOOK:-build/bin/clipbook}
T="${BENCH_THREADS:-2}"
P="${BF16_TOWERS_PROFILE:-mini}"
mkdir -p "$B"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
STUDY=$PWD/chapters/study.lua "$CB" run tests/bench/bf16_towers.lua --profiles chapters/profiles.lua --profile "$P" \
  --threads "$T" --quiet --out "$tmp/bf16_towers.json" > "$tmp/out" 2> "$tmp/err" || { cat "$tmp/out" "$tmp/err"; exit 1; }
/usr/bin/python3 - "$B" "$tmp/out" "$T" "$P" <<'PY'
import json, os, sys
d, outp, threads, prof = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
v = {}
for l in open(outp):
    if l.startswith("BF16 "):
        _, k, x = l.rstrip("\n").split(" ", 2)
        v[k] = x
recs, detail = [], {"profile": prof, "threads": int(threads), "towers": {}}
if "skipped" in v:
    print("bench_bf16_towers: skipped:", v["skipped"])
    detail["skipped"] = v["skipped"]
else:
    label = {"vit": "ViT", "rn": "ResNet"}
    for tw in sorted({k.split(".")[0] for k in v}, key=lambda t: (t != "vit", t)):
        g = lambda k: float(v[f"{tw}.{k}"])
        name = f"{prof} {label.get(tw, tw)} (trained)"
        src = v[f"{tw}.source"]
        which = f"towers {src}" + (f" {v[tw + '.cache_key']} of {v[tw + '.trained_at']}" if src == "cache" else "")
        if v[f"{tw}.profile_params"] != "1":
            which += ", trained on other profile parameters"
        f32, b16 = g("fp32_img_s"), g("bf16_img_s")
        recs.append({"name": f"{name}: cls_test image features, BF16 (AVX512_BF16) against float32",
                     "value": round(b16, 1), "unit": "images/s", "peer": f"clipbook float32, {threads} threads",
                     "peer_value": round(f32, 1), "ratio": round(b16 / f32, 3)})
        for k, what in (("cos_mean", "mean"), ("cos_min", "worst")):
            recs.append({"name": f"{name}: cosine of BF16 against float32 cls_test image features, {what} (target >= 0.999)",
                         "value": g(k), "unit": "cosine", "peer": None, "peer_value": None, "ratio": None})
        recs.append({"name": f"{name}: cosine of BF16 against float32 text features of the prompts, worst",
                     "value": g("text_cos_min"), "unit": "cosine", "peer": None, "peer_value": None, "ratio": None})
        for k, what in (("zeroshot", "zero-shot top-1 (BF16 image and text features)"),
                        ("probe", "linear-probe top-1 (BF16 features for fit and test)")):
            recs.append({"name": f"{name}: {what}", "value": round(g(k + "_bf16"), 3), "unit": "%",
                         "peer": "float32 features", "peer_value": round(g(k + "_fp32"), 3), "ratio": None})
            recs.append({"name": f"{name}: {what.split(' (')[0]}, BF16 minus float32 (target within 0.2)",
                         "value": round(g(k + "_diff"), 3), "unit": "points", "peer": None, "peer_value": None, "ratio": None})
        t = {k.split(".", 1)[1]: (x if k.endswith((".source", ".cache_key", ".trained_at")) else float(x))
             for k, x in v.items() if k.startswith(tw + ".")}
        t["targets_met"] = {"cosine_min_0.999": t["cos_min"] >= 0.999,
                            "zeroshot_within_0.2": abs(t["zeroshot_diff"]) <= 0.2,
                            "probe_within_0.2": abs(t["probe_diff"]) <= 0.2}
        t["which"] = which
        t["points_per_picture"] = 100 / t["images"]   # the accuracies' resolution on cls_test
        detail["towers"][tw] = t
        print(f"bench_bf16_towers: {name}: {which}")
    for r in recs:
        pv = "-" if r["peer_value"] is None else f"{r['peer_value']:.3f}"
        ra = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
        val = f"{r['value']:.6f}" if r["unit"] == "cosine" else f"{r['value']:.3f}"
        print(f"{r['name']:110s} {val:>10s} {pv:>10s} {ra:>6s}  {r['unit']}")
json.dump(recs, open(os.path.join(d, "part-bf16-towers.json"), "w"), indent=1)
json.dump(detail, open(os.path.join(d, "bf16_towers.json"), "w"), indent=1)
PY
