#!/usr/bin/env python3
"""A PyTorch reference of OpenAI's CLIP (our own code, written from the
architecture of openai/CLIP's clip/model.py) used to make the fixtures of
tests/clip/models/: tiny random-weight checkpoints with OpenAI's key names,
and the embeddings this reference computes for inputs that the C test
regenerates itself (images from a formula, tokens listed below).

    /usr/bin/python3 tests/reference/clip_ref.py tests/clip/models
"""
import json
import math
import os
import struct
import sys
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_grad_enabled(False)


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class Block(nn.Module):
    def __init__(self, d, heads, causal):
        super().__init__()
        self.attn = nn.MultiheadAttention(d, heads)
        self.ln_1 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(OrderedDict([("c_fc", nn.Linear(d, 4 * d)), ("gelu", QuickGELU()),
                                              ("c_proj", nn.Linear(4 * d, d))]))
        self.ln_2 = nn.LayerNorm(d)
        self.causal = causal

    def forward(self, x):  # (T, N, D)
        mask = None
        if self.causal:
            T = x.shape[0]
            mask = torch.full((T, T), float("-inf"), device=x.device).triu_(1)
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=mask)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width, layers, heads, causal):
        super().__init__()
        self.resblocks = nn.Sequential(*[Block(width, heads, causal) for _ in range(layers)])

    def forward(self, x):
        return self.resblocks(x)


class ViT(nn.Module):
    def __init__(self, res, patch, width, layers, heads, out):
        super().__init__()
        s = width ** -0.5
        self.conv1 = nn.Conv2d(3, width, patch, patch, bias=False)
        self.class_embedding = nn.Parameter(s * torch.randn(width))
        self.positional_embedding = nn.Parameter(s * torch.randn((res // patch) ** 2 + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, layers, heads, False)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(s * torch.randn(width, out))

    def tokens(self, x):
        x = self.conv1(x).flatten(2).permute(0, 2, 1)
        cls = self.class_embedding + torch.zeros(x.shape[0], 1, x.shape[-1], device=x.device, dtype=x.dtype)
        x = torch.cat([cls, x], 1) + self.positional_embedding
        x = self.ln_pre(x).permute(1, 0, 2)
        x = self.transformer(x).permute(1, 0, 2)
        return self.ln_post(x)

    def forward(self, x):
        return self.tokens(x)[:, 0, :] @ self.proj


class Bottleneck(nn.Module):
    def __init__(self, inplanes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.avgpool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.downsample = None
        if stride > 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(OrderedDict([
                ("-1", nn.AvgPool2d(stride)), ("0", nn.Conv2d(inplanes, planes * 4, 1, bias=False)),
                ("1", nn.BatchNorm2d(planes * 4))]))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(self.avgpool(out)))
        idt = self.downsample(x) if self.downsample is not None else x
        return F.relu(out + idt)


class AttnPool(nn.Module):
    def __init__(self, spacial, C, heads, out):
        super().__init__()
        self.positional_embedding = nn.Parameter(torch.randn(spacial ** 2 + 1, C) / C ** 0.5)
        self.k_proj, self.q_proj, self.v_proj = nn.Linear(C, C), nn.Linear(C, C), nn.Linear(C, C)
        self.c_proj = nn.Linear(C, out)
        self.heads = heads

    def forward(self, x):
        x = x.flatten(2).permute(2, 0, 1)
        x = torch.cat([x.mean(0, keepdim=True), x]) + self.positional_embedding[:, None, :]
        y, _ = F.multi_head_attention_forward(
            query=x[:1], key=x, value=x, embed_dim_to_check=x.shape[-1], num_heads=self.heads,
            q_proj_weight=self.q_proj.weight, k_proj_weight=self.k_proj.weight,
            v_proj_weight=self.v_proj.weight, in_proj_weight=None,
            in_proj_bias=torch.cat([self.q_proj.bias, self.k_proj.bias, self.v_proj.bias]),
            bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0.0,
            out_proj_weight=self.c_proj.weight, out_proj_bias=self.c_proj.bias,
            use_separate_proj_weight=True, training=False, need_weights=False)
        return y.squeeze(0)


class ResNet(nn.Module):
    def __init__(self, layers, out, heads, res, width, stem_stride=2, stem_pool=2):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width // 2, 3, stride=stem_stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width // 2)
        self.conv2 = nn.Conv2d(width // 2, width // 2, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width // 2)
        self.conv3 = nn.Conv2d(width // 2, width, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.avgpool = nn.AvgPool2d(stem_pool) if stem_pool > 1 else nn.Identity()
        self.inplanes = width
        self.layer1 = self._make(width, layers[0])
        self.layer2 = self._make(width * 2, layers[1], 2)
        self.layer3 = self._make(width * 4, layers[2], 2)
        self.layer4 = self._make(width * 8, layers[3], 2)
        self.attnpool = AttnPool(res // (stem_stride * stem_pool * 8), width * 32, heads, out)

    def _make(self, planes, blocks, stride=1):
        ls = [Bottleneck(self.inplanes, planes, stride)]
        self.inplanes = planes * 4
        ls += [Bottleneck(self.inplanes, planes, 1) for _ in range(1, blocks)]
        return nn.Sequential(*ls)

    def prepool(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.relu(self.bn3(self.conv3(x)))
        x = self.avgpool(x)
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x):
        return self.attnpool(self.prepool(x))


class CLIP(nn.Module):
    def __init__(self, embed, res, vision_layers, vision_width, patch, vision_heads, ctx, vocab,
                 tw, th, tl, stem=(2, 2)):
        super().__init__()
        if isinstance(vision_layers, int):
            self.visual = ViT(res, patch, vision_width, vision_layers, vision_heads, embed)
        else:
            self.visual = ResNet(vision_layers, embed, vision_heads, res, vision_width, *stem)
        self.transformer = Transformer(tw, tl, th, True)
        self.token_embedding = nn.Embedding(vocab, tw)
        self.positional_embedding = nn.Parameter(0.01 * torch.randn(ctx, tw))
        self.ln_final = nn.LayerNorm(tw)
        self.text_projection = nn.Parameter(tw ** -0.5 * torch.randn(tw, embed))
        self.logit_scale = nn.Parameter(torch.ones([]) * math.log(1 / 0.07))

    def encode_text(self, t):
        x = self.token_embedding(t) + self.positional_embedding[: t.shape[1]]
        x = self.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)
        x = self.ln_final(x)
        return x[torch.arange(x.shape[0], device=x.device), t.argmax(-1)] @ self.text_projection


def randomise(model, seed):
    """Every parameter and running statistic random, so nothing is left at a
    trivial value (bn3 at zero would hide bugs)."""
    g = torch.Generator().manual_seed(seed)
    for name, p in model.state_dict().items():
        if p.dtype != torch.float32 or p.dim() == 0:
            continue
        if name.endswith("running_var"):
            p.copy_(0.5 + torch.rand(p.shape, generator=g))
        elif name.endswith(("ln_1.weight", "ln_2.weight", "ln_pre.weight", "ln_post.weight", "ln_final.weight")) \
                or (".bn" in name or name.startswith("visual.bn") or "downsample.1" in name) and name.endswith("weight"):
            p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
        else:
            fan = p.shape[-1] if p.dim() > 1 else p.shape[0]
            p.copy_(torch.randn(p.shape, generator=g) / max(fan, 4) ** 0.5)


def save_safetensors(path, tensors, meta, dtype):
    header, blobs, off = {}, [], 0
    if meta:
        header["__metadata__"] = meta
    for name, t in tensors.items():
        a = t.detach().numpy()
        if a.dtype == np.float32:
            a = a.astype(np.float16 if dtype == "F16" else np.float32)
            dt = dtype
        else:
            a = a.astype(np.int64)
            dt = "I64"
        b = a.tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def images(n, res):
    i = np.arange(n * 3 * res * res, dtype=np.float64)
    return torch.from_numpy((np.sin(0.37 * i + 0.11) * 1.5).astype(np.float32).reshape(n, 3, res, res))


TOKENS = [[9, 17, 3, 250, 0, 0, 0, 0, 0, 0, 0, 0],
          [9, 41, 42, 43, 44, 45, 46, 47, 48, 49, 299, 0],
          [9, 299, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]


def write_case(out, name, model, res, meta, dtype, seed):
    randomise(model, seed)
    sd = model.state_dict()
    # Written under the module's own state_dict names, which are OpenAI's
    # (the downsample Sequential keyed "-1" pool, "0" conv, "1" bn): the
    # engine must read OpenAI's files as they are.
    save_safetensors(os.path.join(out, name + ".safetensors"), sd, meta, dtype)
    if dtype == "F16":  # compute with the weights as stored
        for v in sd.values():
            if v.dtype == torch.float32:
                v.copy_(v.half().float())
    model.eval()
    x = images(2, res)
    v = model.visual
    pre = v.tokens(x) if isinstance(v, ViT) else v.prepool(x)
    outs = {"image": v(x), "prepool": pre, "text": model.encode_text(torch.tensor(TOKENS))}
    for k, t in outs.items():
        np.save(os.path.join(out, f"{name}.{k}.npy"), t.numpy().astype(np.float32))


if __name__ == "__main__":
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    vit = CLIP(16, 32, 2, 32, 8, 2, 12, 300, 16, 4, 2)
    write_case(out, "vit", vit, 32, {"vision_heads": "2", "transformer_heads": "4"}, "F32", 1)
    rn = CLIP(16, 64, [1, 2, 1, 1], 4, None, 4 * 32 // 64, 12, 300, 16, 4, 2)
    write_case(out, "rn", rn, 64, {"transformer_heads": "4"}, "F16", 2)
    rn8 = CLIP(16, 32, [1, 1, 1, 1], 2, None, 2, 12, 300, 16, 4, 2, stem=(1, 1))
    write_case(out, "rn_stem1", rn8, 32, {"vision_heads": "2", "transformer_heads": "4",
                                          "resnet_stem_stride": "1", "resnet_stem_pool": "1",
                                          "image_resolution": "32", "vision_layers": "[1, 1, 1, 1]"}, "F32", 3)
