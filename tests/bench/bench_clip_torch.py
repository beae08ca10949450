#!/usr/bin/env python3
"""The PyTorch peer of bench_clip: the same encoders (tests/reference/
clip_ref.py, OpenAI's architecture) with random weights, eval mode, no grad.
    bench_clip_torch.py vit|rn50|text BATCH REPEATS THREADS"""
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "reference"))
from clip_ref import CLIP  # noqa: E402

which, batch, reps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
torch.manual_seed(0)
if which == "rn50":
    m = CLIP(1024, 224, [3, 4, 6, 3], 64, None, 64 * 32 // 64, 77, 49408, 512, 8, 12)
else:
    m = CLIP(512, 224, 12, 768, 32, 12, 77, 49408, 512, 8, 12)
m.eval()
if which == "text":
    tok = torch.zeros(batch, 77, dtype=torch.long)
    for i in range(batch):
        n = 6 + i % 4
        tok[i, 0] = 49406
        for k in range(1, n + 1):
            tok[i, k] = 320 + (i * 7 + k * 13) % 5000
        tok[i, n + 1] = 49407
    run = lambda: m.encode_text(tok)
else:
    x = torch.randn(batch, 3, 224, 224)
    run = lambda: m.visual(x)
# BENCH_CLOCK=cpu: process CPU time, as bench_clip.c
clock = time.process_time if os.environ.get("BENCH_CLOCK") == "cpu" else time.perf_counter
ts = []
with torch.no_grad():
    for i in range(reps + 1):
        t0 = clock()
        run()
        ts.append(clock() - t0)
med = statistics.median(ts[1:])
print(json.dumps({"median_s": med, "per_s": batch / med, "torch": torch.__version__}))
