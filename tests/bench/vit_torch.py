"""PyTorch peer of bench_engine's ViT-B/32 forward: OpenAI CLIP's
VisionTransformer (random weights), batch 32, 224x224, on the CPU.

    vit_torch.py THREADS ITERS

Prints `key value` lines: vit_torch_lnd_img_s (the model exactly as OpenAI
writes it: sequence-first nn.MultiheadAttention) and vit_torch_nld_img_s
(batch-first, which lets torch 1.13 take its fused inference path); the
bench takes the better of the two as the peer. Run it with
MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 OMP_WAIT_POLICY=PASSIVE
and OMP/OpenBLAS thread counts set (tests/bench/bench_engine.sh does)."""
import statistics
import sys
import time

import torch
from torch import nn


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class Block(nn.Module):
    def __init__(self, d, h, batch_first):
        super().__init__()
        self.attn = nn.MultiheadAttention(d, h, batch_first=batch_first)
        self.ln_1 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), QuickGELU(), nn.Linear(4 * d, d))
        self.ln_2 = nn.LayerNorm(d)

    def forward(self, x):
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class ViT(nn.Module):
    def __init__(self, res=224, patch=32, width=768, layers=12, heads=12, out=512, batch_first=False):
        super().__init__()
        self.batch_first = batch_first
        self.conv1 = nn.Conv2d(3, width, patch, patch, bias=False)
        s = width ** -0.5
        self.class_embedding = nn.Parameter(s * torch.randn(width))
        self.positional_embedding = nn.Parameter(s * torch.randn((res // patch) ** 2 + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.blocks = nn.Sequential(*[Block(width, heads, batch_first) for _ in range(layers)])
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(s * torch.randn(width, out))

    def forward(self, x):
        x = self.conv1(x)
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
        cls = self.class_embedding.to(x.dtype) + torch.zeros(x.shape[0], 1, x.shape[-1], dtype=x.dtype)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding
        x = self.ln_pre(x)
        if not self.batch_first:
            x = x.permute(1, 0, 2)
        x = self.blocks(x)
        if not self.batch_first:
            x = x.permute(1, 0, 2)
        return self.ln_post(x[:, 0, :]) @ self.proj


def measure(model, img, iters):
    rates, cpu = [], []
    with torch.inference_mode():
        model(img)  # warm-up
        for _ in range(iters):
            t0, c0 = time.perf_counter(), time.process_time()
            model(img)
            rates.append(img.shape[0] / (time.perf_counter() - t0))
            cpu.append((time.process_time() - c0) / img.shape[0])
    return statistics.median(rates), statistics.median(cpu)


def main():
    threads, iters = int(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    img = torch.randn(32, 3, 224, 224)
    print("torch_threads", torch.get_num_threads())
    for name, bf in (("lnd", False), ("nld", True)):
        model = ViT(batch_first=bf).eval()
        rate, cpu = measure(model, img, iters)
        print(f"vit_torch_{name}_img_s {rate:.3f}", flush=True)
        print(f"vit_torch_{name}_cpu_ms_per_img {1e3 * cpu:.1f}", flush=True)


if __name__ == "__main__":
    main()
