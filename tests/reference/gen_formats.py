#!/usr/bin/python3
"""Reference files for tests/formats, written by numpy, Pillow and a
hand-written safetensors writer that follows the published format
(8-byte little-endian header length, JSON header, data section).

Run from the repository root:  /usr/bin/python3 tests/reference/gen_formats.py
Writes tests/formats/data/. Deterministic (fixed seeds), so rerunning it
leaves git clean unless a library changes its output.
"""
import io, json, os, struct, zlib
import numpy as np
from PIL import Image

OUT = "tests/formats/data"
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(1234)


def bf16_bits(x):
    """float32 -> bfloat16 bits, round to nearest even (as torch does)."""
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype(np.uint16)


# ---- safetensors ---------------------------------------------------------
def st_tensors():
    t = {}
    t["a.f32"] = ("F32", (np.arange(6, dtype=np.float32) * 0.5 - 1.25).reshape(2, 3))
    h = rng.standard_normal((4, 5)).astype(np.float16)
    t["b.f16"] = ("F16", h)
    t["b.f16.as_f32"] = ("F32", h.astype(np.float32))
    x = rng.standard_normal((3, 2, 2)).astype(np.float32)
    bits = bf16_bits(x)
    t["c.bf16"] = ("BF16", bits)
    t["c.bf16.as_f32"] = ("F32", (bits.astype(np.uint32) << 16).view(np.float32))
    t["d.i32"] = ("I32", np.array([0, 1, -1, 2147483647, -2147483648, 7, 42], dtype=np.int32))
    t["e.i64"] = ("I64", np.array([[2**40 + 3, -5], [0, -(2**62)]], dtype=np.int64))
    t["f.u8"] = ("U8", np.array([0, 128, 255], dtype=np.uint8))
    t["g.f64"] = ("F64", np.array([1e-300, -2.5], dtype=np.float64))
    t["h.empty"] = ("F32", np.zeros((0, 4), dtype=np.float32))
    t["k.bool"] = ("BOOL", np.array([True, False, True]))
    t["s.scalar"] = ("F32", np.array(3.5, dtype=np.float32))
    return t


META = {"format": "pt", "embed_dim": "512", "note": "na\u00efve \u00fcn\u00efcode"}


def st_bytes(tensors, meta, key_order, pad_to=8, compact=False):
    data, header, at = b"", {}, 0
    for name, (dt, arr) in tensors.items():          # data in insertion order
        raw = np.ascontiguousarray(arr).tobytes()
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [at, at + len(raw)]}
        data += raw
        at += len(raw)
    ordered = {}
    if meta is not None:
        ordered["__metadata__"] = meta
    for k in key_order(list(header)):
        ordered[k] = header[k]
    sep = (",", ":") if compact else (", ", ": ")
    js = json.dumps(ordered, separators=sep, ensure_ascii=compact is False).encode()
    js += b" " * ((-(8 + len(js))) % pad_to)
    return struct.pack("<Q", len(js)) + js + data


t = st_tensors()
# Header keys in reverse of the data order: a reader must not assume they agree.
open(f"{OUT}/ref.safetensors", "wb").write(st_bytes(t, META, lambda ks: ks[::-1]))

# The same content laid out the way en_st_write lays it out (metadata first,
# keys in data order, fields dtype/shape/data_offsets, compact JSON, raw
# UTF-8, padded to 8): the writer's output must match it byte for byte.
def c_layout(tensors, meta):
    data, parts, at = b"", [], 0
    if meta:
        parts.append('"__metadata__":' + json.dumps(meta, separators=(",", ":"), ensure_ascii=False))
    for name, (dt, arr) in tensors.items():
        raw = np.ascontiguousarray(arr).tobytes()
        parts.append(json.dumps(name) + ":" + json.dumps(
            {"dtype": dt, "shape": list(arr.shape), "data_offsets": [at, at + len(raw)]}, separators=(",", ":")))
        data += raw
        at += len(raw)
    js = ("{" + ",".join(parts) + "}").encode()
    js += b" " * ((-(8 + len(js))) % 8)
    return struct.pack("<Q", len(js)) + js + data

open(f"{OUT}/c_layout.safetensors", "wb").write(c_layout(t, META))

# ---- npy -----------------------------------------------------------------
npy = {
    "f4": np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
    "f8": np.array([[1.5, -2.25, 1e100]], dtype=np.float64),
    "i4": np.array([-3, 0, 2147483647], dtype=np.int32),
    "i8": np.array([[2**40, -1], [5, 6], [7, -(2**63)]], dtype=np.int64),
    "u1": np.arange(24, dtype=np.uint8).reshape(2, 3, 4) * 10,
    "f2": np.array([0.5, -1.0, 65504.0], dtype=np.float16),
    "b1": np.array([True, False]),
    "scalar": np.array(2.5, dtype=np.float32),
    "empty": np.zeros((0, 3), dtype=np.float32),
}
for k, a in npy.items():
    np.save(f"{OUT}/{k}.npy", a)
with open(f"{OUT}/v2.npy", "wb") as f:
    np.lib.format.write_array(f, npy["f4"], version=(2, 0))
np.save(f"{OUT}/fortran.npy", np.asfortranarray(npy["f4"]))
np.save(f"{OUT}/bigendian.npy", npy["f4"].astype(">f4"))

# ---- images --------------------------------------------------------------
def save(name, img, **kw):
    img.save(f"{OUT}/{name}", **kw)


def expect(name, arr):
    np.save(f"{OUT}/{name}.npy", np.ascontiguousarray(arr, dtype=np.uint8))


W, H = 13, 9   # odd sizes: row strides that are not multiples of 4
rgba = rng.integers(0, 256, (H, W, 4), dtype=np.uint8)
rgb = rgba[..., :3].copy()
gray = rgba[..., 0].copy()

save("rgb.png", Image.fromarray(rgb, "RGB"))
save("rgba.png", Image.fromarray(rgba, "RGBA"))
save("gray.png", Image.fromarray(gray, "L"))
save("graya.png", Image.fromarray(rgba[..., :2].copy(), "LA"))
save("bw.png", Image.fromarray(gray > 127).convert("1"))
pal = Image.fromarray(rgb, "RGB").quantize(colors=16)
save("palette.png", pal)
palt = pal.copy()
palt.info["transparency"] = 3
save("palette_trns.png", palt, transparency=3)
for n in ["rgb", "rgba", "gray", "graya", "bw", "palette", "palette_trns"]:
    im = Image.open(f"{OUT}/{n}.png")
    expect(f"{n}.png.rgb", np.asarray(im.convert("RGB")))
    expect(f"{n}.png.rgba", np.asarray(im.convert("RGBA")))


def png_raw(arr, color_type, bit_depth):
    """A minimal PNG writer for what Pillow cannot write (48/64-bit colour)."""
    h, w = arr.shape[:2]
    rows = arr.reshape(h, -1)
    raw = b"".join(b"\x00" + r.astype(">u2").tobytes() for r in rows)
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


rgb16 = rng.integers(0, 65536, (H, W, 3), dtype=np.uint16)
open(f"{OUT}/rgb16.png", "wb").write(png_raw(rgb16, 2, 16))
expect("rgb16.png.rgb", rgb16 >> 8)   # libpng strip_16 and Pillow's RGB;16B both keep the high byte
g16 = rng.integers(0, 65536, (H, W), dtype=np.uint16)
open(f"{OUT}/gray16.png", "wb").write(png_raw(g16, 0, 16))
expect("gray16.png.rgb", np.repeat((g16 >> 8)[..., None], 3, axis=2))
assert np.array_equal(np.asarray(Image.open(f"{OUT}/rgb16.png").convert("RGB")), rgb16 >> 8)

# JPEG: smooth content (a gradient plus noise) at odd size, 4:2:0 and gray.
yy, xx = np.mgrid[0:19, 0:23]
smooth = np.stack([xx * 10, yy * 12, (xx + yy) * 5], axis=2) + rng.integers(0, 20, (19, 23, 3))
smooth = np.clip(smooth, 0, 255).astype(np.uint8)
save("photo.jpg", Image.fromarray(smooth, "RGB"), quality=90)
save("gray.jpg", Image.fromarray(smooth[..., 1].copy(), "L"), quality=90)
save("progressive.jpg", Image.fromarray(smooth, "RGB"), quality=80, progressive=True, subsampling=0)
save("cmyk.jpg", Image.fromarray(smooth, "RGB").convert("CMYK"), quality=90)
for n in ["photo", "gray", "progressive"]:
    expect(f"{n}.jpg.rgb", np.asarray(Image.open(f"{OUT}/{n}.jpg").convert("RGB")))
print("wrote", len(os.listdir(OUT)), "files to", OUT)
