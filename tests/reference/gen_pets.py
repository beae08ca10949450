#!/usr/bin/python3
"""A tiny Oxford-IIIT Pet set in the published on-disk layout, written by
Pillow and numpy from the data set's README (not from the engine's reader):

  DIR/images/NAME.jpg                  RGB JPEG pictures
  DIR/annotations/trimaps/NAME.png     8-bit trimaps: 1 pet, 2 background, 3 boundary
  DIR/annotations/{trainval,test}.txt  "NAME CLASS SPECIES BREED" per line
  DIR/annotations/list.txt             all of them, after the README's '#' header

CLASS is the breed's 1-based index in the alphabetical (case-insensitive)
list of the 37 breeds, SPECIES 1 = cat (capitalised names) / 2 = dog, BREED
the 1-based index within the species, as in the real list files. Each
picture is a coloured ellipse (the pet; its colour depends on the species,
so a segmenter or a probe can learn it) on a noisy background of another
hue; the trimap marks the ellipse 1, a ring of about 2 px round its edge 3
and the rest 2. Picture sizes vary (not square) so resizing is exercised.
Trimaps alternate between mode "L" (gray, as the real files) and mode "P"
(palette); one picture is a PNG under its .jpg name and one is a gray JPEG,
as a few of the real files are.

As a module: write_pets(dir, n_trainval, n_test, seed, expect_sizes) for
tests/paper/make_fixture.sh. Run from the repository root with no
arguments, it writes tests/pets/data/ (20 trainval + 8 test) and, for the
engine's test, the expected resized pictures and masks of the first ten
pictures by Pillow (BICUBIC / NEAREST to SIZE x SIZE) as
expect/NAME.sSIZE.{rgb,mask}.npy.
Deterministic: rerunning leaves git clean.
"""
import os
import sys

import numpy as np
from PIL import Image, ImageDraw

BREEDS = [
    "Abyssinian", "american_bulldog", "american_pit_bull_terrier", "basset_hound", "beagle", "Bengal",
    "Birman", "Bombay", "boxer", "British_Shorthair", "chihuahua", "Egyptian_Mau", "english_cocker_spaniel",
    "english_setter", "german_shorthaired", "great_pyrenees", "havanese", "japanese_chin", "keeshond",
    "leonberger", "Maine_Coon", "miniature_pinscher", "newfoundland", "Persian", "pomeranian", "pug",
    "Ragdoll", "Russian_Blue", "saint_bernard", "samoyed", "scottish_terrier", "shiba_inu", "Siamese",
    "Sphynx", "staffordshire_bull_terrier", "wheaten_terrier", "yorkshire_terrier",
]
assert len(BREEDS) == 37 and BREEDS == sorted(BREEDS, key=str.lower)


def species_of(breed):
    return 1 if breed[0].isupper() else 2


def breed_id(breed):
    same = [b for b in BREEDS if species_of(b) == species_of(breed)]
    return same.index(breed) + 1


def picture(rng, species):
    """(RGB uint8 HxW, trimap uint8 HxW) for one pet."""
    h, w = int(rng.integers(28, 64)), int(rng.integers(28, 64))
    bg = np.array([40, 120, 200] if species == 1 else [200, 180, 60], dtype=np.float64)
    fg = np.array([230, 90, 40] if species == 1 else [50, 60, 160], dtype=np.float64)
    img = bg + rng.normal(0, 18, (h, w, 3))
    cy, cx = h / 2 + rng.uniform(-h / 8, h / 8), w / 2 + rng.uniform(-w / 8, w / 8)
    ry, rx = rng.uniform(0.25, 0.4) * h, rng.uniform(0.25, 0.4) * w
    yy, xx = np.mgrid[0:h, 0:w]
    d = np.sqrt(((yy + 0.5 - cy) / ry) ** 2 + ((xx + 0.5 - cx) / rx) ** 2)
    inside = d < 1.0
    img[inside] = fg + rng.normal(0, 18, (int(inside.sum()), 3))
    tri = np.full((h, w), 2, np.uint8)
    tri[inside] = 1
    edge = np.abs(d - 1.0) * min(ry, rx) < 1.0  # about 2 px wide
    tri[edge] = 3
    return np.clip(img, 0, 255).astype(np.uint8), tri


def save_trimap(tri, path, palette):
    if palette:
        im = Image.fromarray(tri, "L").convert("P")  # identity palette: index = value
        im.putpalette([v for i in range(256) for v in (i * 60 % 256, i * 30 % 256, i * 90 % 256)])
        assert (np.array(im) == tri).all()
        im.save(path)
    else:
        Image.fromarray(tri, "L").save(path)


def write_pets(out, n_trainval, n_test, seed=0, expect_sizes=()):
    """Writes the set into out/ and returns (trainval lines, test lines)."""
    rng = np.random.default_rng(seed)
    os.makedirs(f"{out}/images", exist_ok=True)
    os.makedirs(f"{out}/annotations/trimaps", exist_ok=True)
    n = n_trainval + n_test
    # Breeds cycle so that both species and many breeds appear; numbers
    # per breed count up from 1 as in the real names (Abyssinian_1, ...).
    entries, seen = [], {}
    for k in range(n):
        b = BREEDS[(k * 5) % 37]
        seen[b] = seen.get(b, 0) + 1
        entries.append((f"{b}_{seen[b]}", b))
    order = np.random.default_rng(seed + 1).permutation(n)
    test_set = set(order[:n_test].tolist())
    lines = {"trainval": [], "test": []}
    for k, (name, b) in enumerate(entries):
        img, tri = picture(rng, species_of(b))
        if k == 3:  # a PNG under a .jpg name, as a few real files are
            Image.fromarray(img).save(f"{out}/images/{name}.jpg", format="PNG")
        elif k == 5:  # a gray JPEG
            Image.fromarray(img).convert("L").save(f"{out}/images/{name}.jpg", quality=90)
        else:
            Image.fromarray(img).save(f"{out}/images/{name}.jpg", quality=92)
        save_trimap(tri, f"{out}/annotations/trimaps/{name}.png", palette=k % 2 == 1)
        line = f"{name} {BREEDS.index(b) + 1} {species_of(b)} {breed_id(b)}"
        lines["test" if k in test_set else "trainval"].append((name, line))
        for s in expect_sizes if k < 10 else ():
            os.makedirs(f"{out}/expect", exist_ok=True)
            rgb = Image.open(f"{out}/images/{name}.jpg").convert("RGB").resize((s, s), Image.BICUBIC)
            msk = Image.open(f"{out}/annotations/trimaps/{name}.png").resize((s, s), Image.NEAREST)
            np.save(f"{out}/expect/{name}.s{s}.rgb.npy", np.asarray(rgb, dtype=np.uint8))
            np.save(f"{out}/expect/{name}.s{s}.mask.npy", np.asarray(msk, dtype=np.uint8))
    # The real lists are sorted by name within their files.
    for split in lines:
        lines[split].sort(key=lambda t: t[0].lower())
        with open(f"{out}/annotations/{split}.txt", "w") as f:
            f.writelines(l + "\n" for _, l in lines[split])
    with open(f"{out}/annotations/list.txt", "w") as f:
        f.write("#Image CLASS-ID SPECIES BREED ID\n#ID: 1:37 Class ids\n#SPECIES: 1:Cat 2:Dog\n"
                "#BREED ID: 1-25:Cat 1:12:Dog\n#All images with 1st letter as captial are cat images\n"
                "#images with small first letter are dog images\n")
        f.writelines(l + "\n" for _, l in sorted(lines["trainval"] + lines["test"], key=lambda t: t[0].lower()))
    return [l for _, l in lines["trainval"]], [l for _, l in lines["test"]]


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/pets/data"
    write_pets(out, 20, 8, seed=14, expect_sizes=(24, 40))
