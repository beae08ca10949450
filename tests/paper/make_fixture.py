#!/usr/bin/python3
"""The paper fixture: tiny stand-ins for everything `make data` puts in its
data folder, under the same names and in the publishers' formats, written
here by numpy / Pillow / PyTorch and never by the engine:

  cifar-100-binary/train.bin, test.bin     CIFAR-100 binary records: 1 byte
        coarse label, 1 byte fine label, 1024 R, 1024 G, 1024 B bytes (rows
        top to bottom), as the CIFAR page describes the release
  cifar-100-binary/{fine,coarse}_label_names.txt   the 100 / 20 names as the
        release spells them (torchvision's spelling), coarse labels from the
        published superclass membership
  oxford-iiit-pet/                          the Pet layout (tests/reference/gen_pets.py)
  bpe_simple_vocab_16e6.txt.gz              OpenAI's merges format (gzip text: a
        header line, one merge per line): $CLIPBOOK_FIXTURE_BPE copied when set
        (the real file), else the first 1,000 of OpenAI's merges that the
        repository holds in tests/clip/pair/merges.txt
  clip-vit-b-32.safetensors, clip-rn50.safetensors   random-weight CLIP models
        built by tests/reference/clip_ref.py (OpenAI's module layout, so
        CLIP.state_dict()'s key names), stored F16 with BatchNorm's
        num_batches_tracked as I64, no metadata: the loader must infer every
        size from the shapes as OpenAI's build_model does

Pictures are learnable: each fine class has its own colour pair and stripe
direction/frequency (classes in one superclass share a hue family), with
noise, so a probe on even random-tower features beats chance.

usage: make_fixture.py DIR [--train N] [--test N] [--pets-trainval N] [--pets-test N] [--full]
"""
import argparse
import colorsys
import gzip
import math
import os
import shutil
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "reference"))

FINE = [
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle", "bowl", "boy",
    "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle", "chair", "chimpanzee", "clock",
    "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish",
    "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom", "oak_tree", "orange",
    "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree", "plain", "plate", "poppy", "porcupine",
    "possum", "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk",
    "skyscraper", "snail", "snake", "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank",
    "telephone", "television", "tiger", "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale",
    "willow_tree", "wolf", "woman", "worm",
]
# The 20 superclasses in label order, each with its five classes (the
# CIFAR page's table).
COARSE = [
    ("aquatic_mammals", "beaver dolphin otter seal whale"),
    ("fish", "aquarium_fish flatfish ray shark trout"),
    ("flowers", "orchid poppy rose sunflower tulip"),
    ("food_containers", "bottle bowl can cup plate"),
    ("fruit_and_vegetables", "apple mushroom orange pear sweet_pepper"),
    ("household_electrical_devices", "clock keyboard lamp telephone television"),
    ("household_furniture", "bed chair couch table wardrobe"),
    ("insects", "bee beetle butterfly caterpillar cockroach"),
    ("large_carnivores", "bear leopard lion tiger wolf"),
    ("large_man-made_outdoor_things", "bridge castle house road skyscraper"),
    ("large_natural_outdoor_scenes", "cloud forest mountain plain sea"),
    ("large_omnivores_and_herbivores", "camel cattle chimpanzee elephant kangaroo"),
    ("medium_mammals", "fox porcupine possum raccoon skunk"),
    ("non-insect_invertebrates", "crab lobster snail spider worm"),
    ("people", "baby boy girl man woman"),
    ("reptiles", "crocodile dinosaur lizard snake turtle"),
    ("small_mammals", "hamster mouse rabbit shrew squirrel"),
    ("trees", "maple_tree oak_tree palm_tree pine_tree willow_tree"),
    ("vehicles_1", "bicycle bus motorcycle pickup_truck train"),
    ("vehicles_2", "lawn_mower rocket streetcar tank tractor"),
]
FINE_TO_COARSE = [None] * 100
for ci, (_, members) in enumerate(COARSE):
    for m in members.split():
        assert FINE_TO_COARSE[FINE.index(m)] is None, m
        FINE_TO_COARSE[FINE.index(m)] = ci
assert len(FINE) == 100 and None not in FINE_TO_COARSE and FINE == sorted(FINE)
# spot check against the mapping other tools publish (fine 0..9)
assert FINE_TO_COARSE[:10] == [4, 1, 14, 8, 0, 6, 7, 7, 18, 3]


def cifar_picture(rng, fine):
    """(3, 32, 32) uint8: superclass hue family, class-specific stripes."""
    coarse = FINE_TO_COARSE[fine]
    k = COARSE[coarse][1].split().index(FINE[fine])  # place in its superclass
    hue = (coarse / 20.0 + 0.03 * k) % 1.0
    c1 = np.array(colorsys.hsv_to_rgb(hue, 0.8, 0.9)) * 255
    c2 = np.array(colorsys.hsv_to_rgb((hue + 0.5) % 1.0, 0.6, 0.4 + 0.1 * k)) * 255
    angle = math.pi * (fine % 10) / 10
    freq = 1 + fine // 10 % 5
    yy, xx = np.mgrid[0:32, 0:32] / 32.0
    phase = rng.uniform(0, 2 * math.pi)
    t = 0.5 + 0.5 * np.sin(2 * math.pi * freq * (xx * math.cos(angle) + yy * math.sin(angle)) + phase)
    img = c1[:, None, None] * t + c2[:, None, None] * (1 - t) + rng.normal(0, 20, (3, 32, 32))
    return np.clip(img, 0, 255).astype(np.uint8)


def write_cifar(out, n_train, n_test, seed):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name, n in (("train.bin", n_train), ("test.bin", n_test)):
        fine = np.arange(n) % 100
        rng.shuffle(fine)
        recs = bytearray()
        for f in fine:
            recs += bytes([FINE_TO_COARSE[f], f]) + cifar_picture(rng, int(f)).tobytes()  # planes R, G, B
        with open(os.path.join(out, name), "wb") as fh:
            fh.write(recs)
    with open(os.path.join(out, "fine_label_names.txt"), "w") as fh:
        fh.write("\n".join(FINE) + "\n")
    with open(os.path.join(out, "coarse_label_names.txt"), "w") as fh:
        fh.write("\n".join(c for c, _ in COARSE) + "\n")


def write_bpe(path):
    """Returns the vocabulary size the merges give (OpenAI's layout)."""
    real = os.environ.get("CLIPBOOK_FIXTURE_BPE")
    if real:
        shutil.copyfile(real, path)
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            n = len(fh.read().split("\n")[1:49152 - 256 - 2 + 1])
        return 512 + n + 2
    merges = open(os.path.join(REPO, "tests", "clip", "pair", "merges.txt"), encoding="utf-8").read().split("\n")
    body = [m for m in merges[1:] if m]
    with gzip.GzipFile(path, "wb", mtime=0) as fh:
        fh.write(("#version: 0.2 (clipbook paper fixture: the first %d of OpenAI's merges)\n" % len(body)
                  + "\n".join(body) + "\n").encode("utf-8"))
    return 512 + len(body) + 2


def write_checkpoints(out, vocab, full=False):
    import torch
    import clip_ref
    torch.manual_seed(0)
    if full:
        # full size, as OpenAI's build_model reads ViT-B/32 and RN50 off their
        # shapes (for timings: tests/bench/paper_steps.sh); the text tower is
        # OpenAI's 12 layers x 512 over this fixture's vocabulary
        vit = clip_ref.CLIP(512, 224, 12, 768, 32, 12, 77, vocab, 512, 8, 12)
        clip_ref.randomise(vit, 11)
        clip_ref.save_safetensors(os.path.join(out, "clip-vit-b-32.safetensors"), vit.state_dict(), None, "F16")
        rn = clip_ref.CLIP(1024, 224, [3, 4, 6, 3], 64, None, 64 * 32 // 64, 77, vocab, 512, 8, 12)
        clip_ref.randomise(rn, 12)
        clip_ref.save_safetensors(os.path.join(out, "clip-rn50.safetensors"), rn.state_dict(), None, "F16")
        return
    # ViT: width 64 (1 head, as width // 64), 2 layers, patch 8 at 32 px; text
    # width 64, 2 layers, OpenAI's context of 77; embed 64.
    vit = clip_ref.CLIP(64, 32, 2, 64, 8, 1, 77, vocab, 64, 1, 2)
    clip_ref.randomise(vit, 11)
    clip_ref.save_safetensors(os.path.join(out, "clip-vit-b-32.safetensors"), vit.state_dict(), None, "F16")
    # ModifiedResNet: width 8, one bottleneck per stage, 64 px so the map
    # before the attention pool is 256 x 2 x 2 (RN50: 2048 x 7 x 7 at 224);
    # heads = width * 32 // 64 as OpenAI's build_model sets them.
    rn = clip_ref.CLIP(64, 64, [1, 1, 1, 1], 8, None, 8 * 32 // 64, 77, vocab, 64, 1, 2)
    clip_ref.randomise(rn, 12)
    clip_ref.save_safetensors(os.path.join(out, "clip-rn50.safetensors"), rn.state_dict(), None, "F16")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--train", type=int, default=500)
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--pets-trainval", type=int, default=40)
    ap.add_argument("--pets-test", type=int, default=20)
    ap.add_argument("--full", action="store_true", help="full-size ViT-B/32 and RN50 (about 0.5 GB)")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    write_cifar(os.path.join(a.dir, "cifar-100-binary"), a.train, a.test, seed=100)
    import gen_pets
    gen_pets.write_pets(os.path.join(a.dir, "oxford-iiit-pet"), a.pets_trainval, a.pets_test, seed=37)
    vocab = write_bpe(os.path.join(a.dir, "bpe_simple_vocab_16e6.txt.gz"))
    write_checkpoints(a.dir, vocab, a.full)
    print("paper fixture in %s: CIFAR-100 %d + %d, Pet %d + %d, vocabulary %d tokens" %
          (a.dir, a.train, a.test, a.pets_trainval, a.pets_test, vocab))


if __name__ == "__main__":
    main()
