#!/usr/bin/env python3
"""How far the report's results move between compute configurations.

    python3 tests/spread.py --out chapters/spread.json \\
        "2 threads, GEMM auto (engine), OpenBLAS Haswell=/work/baseline/mini-results.json" \\
        "1 thread, GEMM engine, OpenBLAS Haswell=build/spread/t1-engine-haswell/results.json" ...

Each argument is DESCRIPTION=results.json of one `make report` of the same
profile from an empty cache (see README, "How far results move between
machines"). For every numeric label present in all of them the script writes
min, max, spread (max - min) and the value per configuration into --out, with
the profile, the machine and the configurations named; it prints the key
accuracies as a table. Speed labels (wall times, throughput, passes over the
corpus) are left out: they measure the machine, not the result. The chapters
read the file to keep every verdict's margin above the spread
(chapters/spread.lua).
"""
import argparse
import json
import re
import sys

SPEED = re.compile(r"(wall_s|images_per_s|passes|^bench\.|^appendix\.)")
KEY = [
    "zeroshot.vit.top1", "zeroshot.rn.top1", "linear_probe.vit.top1", "linear_probe.rn.top1",
    "fewshot.vit.zeroshot", "fewshot.vit.random_init.k1.mean", "fewshot.vit.zs_init.k1.mean",
    "fewshot.vit.zs_init.k16.mean", "seg.unet.test_iou", "seg.clip.test_iou",
    "probe.count.pooled.top1", "probe.count.prepool.top1", "probe.position.pooled.top1",
    "probe.position.prepool.top1", "vqvae.loss_ratio", "pretrain.vit.final_loss",
    "pretrain.rn.final_loss",
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--markdown", action="store_true", help="also print the key labels as a Markdown table")
    ap.add_argument("runs", nargs="+", help="DESCRIPTION=results.json")
    a = ap.parse_args()
    configs, results = [], []
    for r in a.runs:
        desc, sep, path = r.rpartition("=")
        if not sep or not desc:
            sys.exit(f"spread: '{r}' is not DESCRIPTION=results.json")
        with open(path) as f:
            results.append(json.load(f))
        configs.append({"name": desc, "results": path})
    if len(results) < 2:
        sys.exit("spread: need at least two configurations")
    machines = sorted({str(r.get("appendix.machine", "?")) for r in results})
    profiles = sorted({str(r.get("intro.profile", "?")) for r in results})
    if len(profiles) != 1:
        sys.exit(f"spread: the runs are of different profiles: {profiles}")
    labels = {}
    for k in sorted(results[0]):
        vals = [r.get(k) for r in results]
        if SPEED.search(k) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            continue
        labels[k] = {"min": min(vals), "max": max(vals), "spread": max(vals) - min(vals),
                     "values": vals}
    out = {
        "about": "results of one profile under several compute configurations on one machine; "
                 "written by tests/spread.py, read by chapters/spread.lua",
        "profile": profiles[0],
        "machine": machines[0] if len(machines) == 1 else machines,
        "configs": [c["name"] for c in configs],
        "labels": labels,
    }
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    w = max(len(k) for k in KEY)
    print(f"profile {profiles[0]}, machine {out['machine']}")
    for i, c in enumerate(configs):
        print(f"  [{i}] {c['name']}")
    print(f"{'label':<{w}}  " + "  ".join(f"{'[' + str(i) + ']':>8}" for i in range(len(configs))) + "    spread")
    for k in KEY:
        if k in labels:
            e = labels[k]
            print(f"{k:<{w}}  " + "  ".join(f"{v:8.3f}" for v in e["values"]) + f"  {e['spread']:8.3f}")
    if a.markdown:
        print()
        print("| result | " + " | ".join(f"[{i}]" for i in range(len(configs))) + " | spread |")
        print("| --- |" + " ---: |" * (len(configs) + 1))
        for k in KEY:
            if k in labels:
                e = labels[k]
                print(f"| `{k}` | " + " | ".join(f"{v:.2f}" for v in e["values"]) + f" | {e['spread']:.2f} |")
    moved = sum(1 for e in labels.values() if e["spread"] != 0)
    print(f"{len(labels)} numeric labels, {moved} moved between configurations -> {a.out}")


if __name__ == "__main__":
    main()
