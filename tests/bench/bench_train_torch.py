#!/usr/bin/env python3
"""The PyTorch peer of bench_train: the same small CLIP (tests/reference/
clip_ref.py, OpenAI's architecture), one training step: forward of both
towers, the symmetric contrastive loss, backward, AdamW.
    bench_train_torch.py BATCH REPEATS THREADS"""
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "reference"))
from clip_ref import CLIP  # noqa: E402

batch, reps, threads = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
torch.set_grad_enabled(True)  # clip_ref turns it off for making fixtures
torch.manual_seed(0)
CTX, VOCAB = 32, 1024
m = CLIP(128, 32, 4, 128, 4, 2, CTX, VOCAB, 128, 2, 3)
m.train()
opt = torch.optim.AdamW(m.parameters(), lr=5e-4, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.2)
x = torch.randn(batch, 3, 32, 32)
tok = torch.zeros(batch, CTX, dtype=torch.long)
for i in range(batch):
    n = 8 + i % 16
    tok[i, 0] = VOCAB - 2
    for k in range(1, n + 1):
        tok[i, k] = (i * 7 + k * 13) % (VOCAB - 2)
    tok[i, n + 1] = VOCAB - 1
labels = torch.arange(batch)


def step():
    fi, ft = m.visual(x), m.encode_text(tok)
    fi, ft = F.normalize(fi, dim=-1), F.normalize(ft, dim=-1)
    logits = m.logit_scale.exp() * fi @ ft.t()
    loss = 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


ts, cpu = [], []
for i in range(reps + 1):
    t0, c0 = time.perf_counter(), time.process_time()
    step()
    ts.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
med = statistics.median(ts[1:])
print(json.dumps({"median_s": med, "per_s": batch / med, "cpu_s": statistics.median(cpu[1:]),
                  "torch": torch.__version__}))
