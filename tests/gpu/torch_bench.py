#!/usr/bin/env python3
"""The PyTorch CUDA peers for tests/gpu/check.sh: OpenAI CLIP's ViT-B/32 and
RN50 image towers (tests/reference/clip_ref.py, random weights) encoding a
batch of 256 in eager mode at fp32, tf32 and bf16 (autocast), the ceilings
of the same run (an 8192^3 GEMM per precision, a 1 GiB device-to-device
copy), and one training step of the mini towers (forward of both towers,
the symmetric contrastive loss, backward, AdamW).

    torch_bench.py [--tiny] [--device cuda|cpu]

Prints `key value` lines. --tiny (batch 2, 64 px, small GEMMs) is the dry
run for a machine without a GPU."""
import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "reference"))
from clip_ref import CLIP, ResNet, ViT  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--tiny", action="store_true")
ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
a = ap.parse_args()
dev = torch.device(a.device)
cuda = dev.type == "cuda"
batch, res, gemm_n, reps = (2, 64, 256, 2) if a.tiny else (256, 224, 8192, 10)
print("torch_version", torch.__version__)
print("torch_device", torch.cuda.get_device_name(0).replace(" ", "_") if cuda else "cpu")


def sync():
    if cuda:
        torch.cuda.synchronize()


def timed(fn, n):
    fn()
    sync()
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def precision(p):
    """(autocast dtype or None); sets the TF32 switches"""
    tf32 = p == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    return torch.bfloat16 if p == "bf16" else None


torch.manual_seed(0)
with torch.no_grad():
    for p in ("fp32", "tf32", "bf16"):
        dt = precision(p)
        A = torch.randn(gemm_n, gemm_n, device=dev)
        B = torch.randn(gemm_n, gemm_n, device=dev)
        if dt:
            A, B = A.to(dt), B.to(dt)
        t = timed(lambda: A @ B, reps)
        print(f"torch_gemm{gemm_n}_{p}_tflops {2 * gemm_n ** 3 / t / 1e12:.1f}")
    x = torch.empty(1 << (28 if not a.tiny else 18), device=dev)
    y = torch.empty_like(x)
    t = timed(lambda: y.copy_(x), reps)
    print(f"torch_d2d_copy_gbs {2 * x.numel() * 4 / t / 1e9:.0f}")
    del x, y, A, B

    towers = {"vit_b32": lambda: ViT(res, 32, 768, 12, 12, 512),
              "rn50": lambda: ResNet((3, 4, 6, 3), 1024, 32, res, 64)}
    img = torch.randn(batch, 3, res, res, device=dev)
    for name, make in towers.items():
        m = make().to(dev).eval()
        for p in ("fp32", "tf32", "bf16"):
            dt = precision(p)

            def run():
                if dt:
                    with torch.autocast(dev.type, dtype=dt):
                        return m(img)
                return m(img)
            t = timed(run, reps)
            print(f"torch_{name}_b{batch}_{p}_img_s {batch / t:.0f}", flush=True)
        del m
        if cuda:
            torch.cuda.empty_cache()

# one training step of the mini towers (tests/bench/bench_train_torch.py's model)
precision("fp32")
torch.set_grad_enabled(True)
CTX, VOCAB = 32, 1024
m = CLIP(128, 32, 4, 128, 4, 2, CTX, VOCAB, 128, 2, 3).to(dev)
m.train()
opt = torch.optim.AdamW(m.parameters(), lr=5e-4, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.2)
tb = 256 if not a.tiny else 4
xs = torch.randn(tb, 3, 32, 32, device=dev)
tok = torch.randint(0, VOCAB - 2, (tb, CTX), device=dev)
tok[:, 20] = VOCAB - 1
labels = torch.arange(tb, device=dev)


def step():
    fi, ft = F.normalize(m.visual(xs), dim=-1), F.normalize(m.encode_text(tok), dim=-1)
    logits = m.logit_scale.exp() * fi @ ft.t()
    loss = 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


t = timed(step, reps)
print(f"torch_train_mini_b{tb}_step_ms {1e3 * t:.2f}")
