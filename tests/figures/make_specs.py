#!/usr/bin/python3
"""Writes the figure specs under tests/figures/ref/ (run by hand; the specs
are committed). Deterministic: a fixed seed, no files from outside."""
import base64, json, math, os, struct, zlib
import numpy as np

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ref")
rng = np.random.default_rng(7)

def b64(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype=np.uint8).tobytes()).decode()

def shapes_image(n=32, kind=0, seed=0):
    r = np.random.default_rng(seed)
    img = np.zeros((n, n, 3), np.float32) + r.uniform(0.1, 0.3, 3)
    mask = np.zeros((n, n), np.uint8)
    yy, xx = np.mgrid[0:n, 0:n]
    for k in range(2):
        cx, cy, s = r.integers(6, n - 6), r.integers(6, n - 6), r.integers(4, 8)
        col = r.uniform(0.4, 1.0, 3)
        if (kind + k) % 2 == 0:
            m = (xx - cx) ** 2 + (yy - cy) ** 2 <= s * s; cls = 1
        else:
            m = (abs(xx - cx) <= s) & (abs(yy - cy) <= s); cls = 2
        img[m] = col; mask[m] = cls
    return (img * 255).astype(np.uint8), mask

def write_png(path, rgb):
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))
    def chunk(t, d):
        c = struct.pack(">I", len(d)) + t + d
        return c + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))

def dump(name, spec):
    with open(os.path.join(HERE, name + ".json"), "w") as f:
        json.dump(spec, f, separators=(",", ":"))
        f.write("\n")

# line: the few-shot figure
shots = [1, 2, 4, 8, 16]
dump("line", {"kind": "line", "x_label": "shots per class", "x_scale": "log2",
    "y_label": "top-1 accuracy (%)",
    "series": [
        {"name": "zero-shot init", "x": shots, "y": [62.1, 63.0, 64.8, 67.2, 70.1],
         "lo": [61.5, 62.4, 64.1, 66.6, 69.6], "hi": [62.7, 63.6, 65.5, 67.8, 70.6]},
        {"name": "random init", "x": shots, "y": [30.2, 41.0, 52.3, 60.8, 66.9],
         "lo": [28.0, 39.1, 50.9, 59.7, 66.1], "hi": [32.4, 42.9, 53.7, 61.9, 67.7]}],
    "hlines": [{"y": 61.7, "label": "zero-shot"}]})

# curve: training loss with noise, smoothed, log y
steps = list(range(1, 401))
tr = [2.3 * math.exp(-s / 90) + 0.25 + 0.08 * float(rng.normal()) * math.exp(-s / 300) for s in steps]
va = [None if s % 20 else 2.3 * math.exp(-s / 110) + 0.35 + 0.0006 * max(0, s - 250) for s in steps]
vx = [s for s in steps if s % 20 == 0]
dump("curve", {"kind": "curve", "x_label": "step", "y_label": "loss", "y_scale": "log10", "smooth": 0.9,
    "series": [{"name": "train", "x": steps, "y": [round(v, 4) for v in tr]},
               {"name": "validation", "x": vx, "y": [round(v, 4) for v in va if v is not None],
                "marker": "circle", "style": "dashed"}],
    "annotations": [{"x": 250, "y": 0.42, "text": "overfitting starts"}]})

# bar: grouped with error bars
dump("bar", {"kind": "bar", "categories": ["count", "position", "colour", "shape"],
    "y_label": "probe accuracy (%)",
    "series": [{"name": "pooled", "y": [41.2, 35.5, 88.1, 92.3], "err": [1.5, 2.1, 0.8, 0.6]},
               {"name": "pre-pool", "y": [78.4, 81.0, 90.2, 93.5], "err": [1.2, 1.4, 0.7, 0.5]}],
    "hlines": [{"y": 25, "label": "chance"}]})

# heatmap: a confusion matrix
cls = ["disc", "square", "triangle", "star", "ring", "cross"]
cm = rng.integers(0, 6, (6, 6)) + np.diag(rng.integers(30, 50, 6))
dump("heatmap", {"kind": "heatmap", "values": cm.tolist(), "row_labels": cls, "col_labels": cls,
    "x_label": "predicted", "y_label": "true", "colormap": "blues", "colorbar_label": "count"})

# image grid: inline pixels plus one PNG file
imgs = [shapes_image(16, k, seed=k) for k in range(7)]
write_png(os.path.join(HERE, "img", "sample.png"), shapes_image(16, 1, seed=99)[0])
row = lambda ks: [{"width": 16, "height": 16, "channels": 3, "pixels": b64(imgs[k][0])} for k in ks]
dump("image_grid", {"kind": "image_grid", "images": [row([0, 1, 2, 3]), row([4, 5, 6]) + [{"png": "img/sample.png"}]],
    "row_titles": ["input", "reconstruction"], "col_titles": ["a", "b", "c", "d"]})

# mask overlay
rows = []
for k in range(2):
    im, m = shapes_image(32, k, seed=10 + k)
    pred = m.copy(); pred[:, :4] = 0; pred[rng.random(pred.shape) < 0.03] = 1
    rows.append({"image": {"width": 32, "height": 32, "channels": 3, "pixels": b64(im)},
                 "masks": [{"width": 32, "height": 32, "pixels": b64(m)},
                           {"width": 32, "height": 32, "pixels": b64(pred)}]})
dump("mask_overlay", {"kind": "mask_overlay", "classes": ["background", "disc", "square"], "rows": rows,
    "row_titles": ["val 1", "val 2"]})

# panels: a line and a heatmap side by side
ep = list(range(1, 31))
acc = [round(20 + 45 * (1 - math.exp(-e / 4)) - 0.4 * max(0, e - 8), 2) for e in ep]
dump("panels", {"kind": "panels", "cols": 2, "panels": [
    {"kind": "curve", "x_label": "epoch", "y_label": "val. accuracy (%)",
     "series": [{"name": "1-shot", "x": ep, "y": acc}], "hlines": [{"y": 61.7, "label": "zero-shot"}]},
    {"kind": "heatmap", "values": [[1.0, 0.31, 0.12], [0.31, 1.0, 0.45], [0.12, 0.45, 1.0]],
     "row_labels": ["a", "b", "c"], "col_labels": ["a", "b", "c"], "colormap": "viridis"}]})

# categorical x with shots 0..16, and bad data
dump("category", {"kind": "line", "x_scale": "category", "x_label": "shots per class", "y_label": "accuracy (%)",
    "series": [{"name": "linear head", "x": [0, 1, 2, 4, 8, 16], "y": [61.7, 55.0, 58.2, 63.9, 68.0, 71.4]}]})
