#!/bin/sh
# clipbook embed-images on a tiny checkpoint: shapes of the outputs, and one
# clear line for an unreadable image.
set -eu
CB=${CLIPBOOK:-build/bin/clipbook}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
python3 - "$T" <<'PY'
import struct, sys, zlib
def png(path, w, h, seed):
    rows = b"".join(b"\0" + bytes((x * 7 + y * 13 + seed * 29 + c * 50) % 256 for x in range(w) for c in range(3)) for y in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) \
        + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    open(path, "wb").write(data)
png(sys.argv[1] + "/a.png", 40, 30, 1)
png(sys.argv[1] + "/b.png", 25, 61, 2)
PY
shape() { python3 -c "import sys,ast; h=open(sys.argv[1],'rb').read(256); d=ast.literal_eval(h[10:h.index(b'}')+1].decode()); print(d['shape'])" "$1"; }
$CB embed-images --model tests/clip/models/vit.safetensors --out "$T/f.npy" "$T/a.png" "$T/b.png"
[ "$(shape "$T/f.npy")" = "(2, 16)" ] || { echo "image features: $(shape "$T/f.npy")"; exit 1; }
$CB embed-images --model tests/clip/models/vit.safetensors --pre-pool --batch 1 --out "$T/p.npy" "$T/a.png" "$T/b.png"
[ "$(shape "$T/p.npy")" = "(2, 17, 32)" ] || { echo "vit pre-pool: $(shape "$T/p.npy")"; exit 1; }
$CB embed-images --model tests/clip/models/rn_stem1.safetensors --pre-pool --out "$T/r.npy" "$T/a.png"
[ "$(shape "$T/r.npy")" = "(1, 64, 4, 4)" ] || { echo "resnet pre-pool: $(shape "$T/r.npy")"; exit 1; }
echo "not an image" > "$T/bad.png"
if $CB embed-images --model tests/clip/models/vit.safetensors --out "$T/x.npy" "$T/a.png" "$T/bad.png" 2>"$T/err"; then
  echo "a bad image was accepted"; exit 1
fi
[ "$(wc -l < "$T/err")" -eq 1 ] && grep -q "bad.png" "$T/err" || { cat "$T/err"; exit 1; }
if $CB embed-images --model "$T/nope.safetensors" --out "$T/x.npy" "$T/a.png" 2>"$T/err"; then exit 1; fi
grep -q "nope.safetensors" "$T/err"
# --precision bf16: the same shape, features within BF16's rounding of
# float32's (cosine >= 0.999, the bound tests/clip/test_bf16_features.c
# argues); different bits where the CPU has AVX512_BF16, else float32's own
$CB embed-images --model tests/clip/models/vit.safetensors --precision bf16 --out "$T/h.npy" "$T/a.png" "$T/b.png"
[ "$(shape "$T/h.npy")" = "(2, 16)" ] || { echo "bf16 image features: $(shape "$T/h.npy")"; exit 1; }
python3 - "$T/f.npy" "$T/h.npy" "$(grep -qw avx512_bf16 /proc/cpuinfo && echo 1 || echo 0)" <<'PY'
import math, struct, sys
def rows(p):
    b = open(p, "rb").read(); n = struct.unpack("<H", b[8:10])[0]; v = struct.unpack("<32f", b[10 + n:10 + n + 128])
    return [v[:16], v[16:]]
a, b, has = rows(sys.argv[1]), rows(sys.argv[2]), sys.argv[3] == "1"
cos = [sum(x * y for x, y in zip(p, q)) / math.sqrt(sum(x * x for x in p) * sum(y * y for y in q)) for p, q in zip(a, b)]
print(f"embed-images --precision bf16: worst cosine against float32 {min(cos):.6f}")
assert min(cos) >= 0.999, cos
assert (a != b) == has, "bf16 bits %s float32's on a CPU %s AVX512_BF16" % ("equal" if a == b else "differ from", "with" if has else "without")
PY
if $CB embed-images --model tests/clip/models/vit.safetensors --precision fp16 --out "$T/x.npy" "$T/a.png" 2>"$T/err"; then
  echo "--precision fp16 was accepted"; exit 1
fi
grep -q -- "--precision must be fp32 or bf16, got 'fp16'" "$T/err" || { cat "$T/err"; exit 1; }
