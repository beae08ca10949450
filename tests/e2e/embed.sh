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
