#!/usr/bin/env python3
"""Writes tests/clip/resize.bin: images of odd sizes resized by Pillow's
BICUBIC (up and down, 1 and 3 channels), for en_resize_bicubic's test.
Format: int32 count, then per case int32 h, w, c, oh, ow, input bytes,
expected bytes. Needs Debian's python3-pil: /usr/bin/python3."""
import struct
import sys

import numpy as np
from PIL import Image

rng = np.random.default_rng(0)
cases = [((37, 23, 3), (17, 11)), ((23, 37, 3), (60, 90)), ((45, 61, 3), (45, 20)),
         ((31, 29, 1), (8, 7)), ((19, 33, 3), (19, 33)), ((20, 20, 3), (60, 60)),
         ((70, 90, 3), (16, 21))]
out = [struct.pack("<i", len(cases))]
for (h, w, c), (oh, ow) in cases:
    x = rng.integers(0, 256, size=(h, w, c), dtype=np.uint8)
    x[: h // 2, : w // 3] = 255  # hard edges to exercise clipping
    img = Image.fromarray(x[:, :, 0] if c == 1 else x)
    y = np.asarray(img.resize((ow, oh), Image.BICUBIC)).reshape(oh, ow, c)
    out += [struct.pack("<5i", h, w, c, oh, ow), x.tobytes(), y.tobytes()]
# the whole CLIP pipeline: shorter side to n, centre crop, normalise
mean = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
std = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)
pipes = [(41, 30, 24), (30, 41, 24), (25, 64, 16), (16, 16, 16)]
out.append(struct.pack("<i", len(pipes)))
for h, w, n in pipes:
    x = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    img = Image.fromarray(x)
    if w <= h:
        ow, oh = n, int(n * h / w)
    else:
        oh, ow = n, int(n * w / h)
    r = np.asarray(img.resize((ow, oh), Image.BICUBIC))
    top, left = int(round((oh - n) / 2.0)), int(round((ow - n) / 2.0))
    c = r[top:top + n, left:left + n].astype(np.float32) / 255.0
    y = ((c - mean) / std).transpose(2, 0, 1).astype(np.float32)
    out += [struct.pack("<3i", h, w, n), x.tobytes(), y.tobytes()]
sys.stdout.buffer.write(b"".join(out))
