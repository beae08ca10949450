#!/usr/bin/python3
"""PyTorch peer for bench_conv: F.conv2d forward and backward (input and weight
gradients) on the same RN50-shaped layers, batch 8, best of 7, at the same
thread count, run at its best (see bench_conv.sh for the environment).
Reads clipbook's figures from argv[2] (bench_conv's JSON) and writes records
comparing the two to argv[3]."""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

threads = int(sys.argv[1])
torch.set_num_threads(threads)
SHAPES = [  # name, N, C, H, W, OC, K, stride, pad (as bench_conv.c)
    ("64-64 3x3 56x56", 8, 64, 56, 56, 64, 3, 1, 1),
    ("256-64 1x1 56x56", 8, 256, 56, 56, 64, 1, 1, 0),
    ("64-256 1x1 56x56", 8, 64, 56, 56, 256, 1, 1, 0),
    ("128-128 3x3 28x28", 8, 128, 28, 28, 128, 3, 1, 1),
    ("256-256 3x3 14x14", 8, 256, 14, 14, 256, 3, 1, 1),
    ("512-512 3x3 7x7", 8, 512, 7, 7, 512, 3, 1, 1),
    ("512-2048 1x1 7x7", 8, 512, 7, 7, 2048, 1, 1, 0),
    ("stem 3-32 3x3 s2 224", 8, 3, 224, 224, 32, 3, 2, 1),
]


CLOCK = time.process_time if os.environ.get("BENCH_CLOCK") == "cpu" else time.perf_counter


def best(fn, reps=7):
    fn()
    t = 1e30
    for _ in range(reps):
        t0 = CLOCK()
        fn()
        t = min(t, CLOCK() - t0)
    return t


ours = {r["name"]: r["value"] for r in json.load(open(sys.argv[2]))}
recs = []
print("%-24s %9s %9s %7s %9s %9s %7s" % ("layer (batch 8)", "fwd GF/s", "torch", "ratio",
                                          "bwd GF/s", "torch", "ratio"))
for name, N, C, H, W, OC, K, s, p in SHAPES:
    x = torch.randn(N, C, H, W, requires_grad=True)
    w = torch.randn(OC, C, K, K, requires_grad=True)
    b = torch.randn(OC, requires_grad=True)
    y = F.conv2d(x, w, b, s, p)
    OH, OW = y.shape[2], y.shape[3]
    flop = 2.0 * OC * N * OH * OW * C * K * K
    g = torch.randn_like(y)
    with torch.no_grad():
        tf = best(lambda: F.conv2d(x, w, b, s, p))

    def bwd():
        x.grad = None
        w.grad = None
        b.grad = None
        F.conv2d(x, w, b, s, p).backward(g)
    tb = best(bwd) - tf  # backward alone: the step minus a forward
    tgf, tgb = flop / tf * 1e-9, 2 * flop / tb * 1e-9
    of, ob = ours["conv2d forward %s b8" % name], ours["conv2d backward %s b8" % name]
    print("%-24s %9.1f %9.1f %7.2f %9.1f %9.1f %7.2f" % (name, of, tgf, of / tgf, ob, tgb, ob / tgb))
    for kind, v, pv in (("forward", of, tgf), ("backward", ob, tgb)):
        recs.append({"name": "conv2d %s %s b8 vs PyTorch" % (kind, name), "value": round(v, 2),
                     "unit": "GFLOP/s", "peer": "PyTorch %s F.conv2d, %d threads, %s time" % (
                         torch.__version__, threads, os.environ.get("BENCH_CLOCK", "wall")),
                     "peer_value": round(pv, 2), "ratio": round(v / pv, 3)})
json.dump(recs, open(sys.argv[3], "w"), indent=1)
