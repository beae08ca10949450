#!/usr/bin/python3
"""Side-by-side check against matplotlib's defaults (run by hand, not by
make test): draws the line, bar and heatmap reference specs with plain
matplotlib at the same size (390 pt wide, 144 dpi) and pastes each beside
clipbook's reference PNG into /tmp/fg_vs_mpl_<kind>.png."""
import json, os, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from PIL import Image

REF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ref")
W = 390 / 72

def line(s, ax):
    for se in s["series"]:
        ax.plot(se["x"], se["y"], marker="o", label=se.get("name"))
        if "lo" in se: ax.fill_between(se["x"], se["lo"], se["hi"], alpha=0.2)
    for h in s.get("hlines", []): ax.axhline(h["y"], ls="--", color="gray")
    if s.get("x_scale") == "log2": ax.set_xscale("log", base=2)
    ax.set_xlabel(s.get("x_label", "")); ax.set_ylabel(s.get("y_label", "")); ax.legend()

def bar(s, ax):
    n = len(s["series"]); import numpy as np
    x = np.arange(len(s["categories"]))
    for i, se in enumerate(s["series"]):
        ax.bar(x - 0.4 + (i + 0.5) * 0.8 / n, se["y"], 0.8 / n, yerr=se.get("err"), label=se["name"])
    ax.set_xticks(x, s["categories"]); ax.set_ylabel(s.get("y_label", "")); ax.legend()

def heatmap(s, ax):
    im = ax.imshow(s["values"], cmap="Blues"); plt.colorbar(im, ax=ax)
    ax.set_xticks(range(len(s["col_labels"])), s["col_labels"]); ax.set_yticks(range(len(s["row_labels"])), s["row_labels"])
    ax.set_xlabel(s.get("x_label", "")); ax.set_ylabel(s.get("y_label", ""))

for kind, fn in (("line", line), ("bar", bar), ("heatmap", heatmap)):
    s = json.load(open(os.path.join(REF, kind + ".json")))
    ours = Image.open(os.path.join(REF, kind + ".png"))
    fig, ax = plt.subplots(figsize=(W, W * ours.height / ours.width), dpi=144)
    fn(s, ax); fig.tight_layout()
    fig.savefig("/tmp/_mpl.png"); plt.close(fig)
    theirs = Image.open("/tmp/_mpl.png").convert("RGB").resize(ours.size)
    both = Image.new("RGB", (ours.width * 2 + 10, ours.height), "white")
    both.paste(ours.convert("RGB"), (0, 0)); both.paste(theirs, (ours.width + 10, 0))
    both.save("/tmp/fg_vs_mpl_%s.png" % kind)
    print("/tmp/fg_vs_mpl_%s.png" % kind)
