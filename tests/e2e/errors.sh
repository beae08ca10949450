#!/bin/sh
# Every user-facing CLI failure prints one line that ends with its whole
# reason: not cut off, the file or text named once (issue 12.4: an over-long
# text gave "text 1 ('red circle...'): text 1 ('red circle...'): " and
# nothing after). One row per command and bad input: the exact line wanted.
set -eu
CB=${CLIPBOOK:-build/bin/clipbook}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
M=tests/clip/models/vit.safetensors
printf '#version: 0.2\n' > "$T/m.txt"
python3 - "$T" <<'PY'
import struct, sys
t = sys.argv[1]
# a deflate block of the reserved type 3 after a valid gzip header
open(t + "/v.gz", "wb").write(bytes([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0x07]) + bytes(9))
b = open("tests/clip/models/vit.safetensors", "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = b[8:8 + n].replace(b'"__metadata__": {', b'"__metadata__": {"transformer_layers": "1000000", ', 1)
open(t + "/st_metabomb.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + b[8 + n:])
open(t + "/bad.png", "wb").write(b"\x89PNG\r\n\x1a\nnot really")
open(t + "/frag.json", "w").write("{ not json")
PY
fails=0
row() {  # row WANT CMD ARGS...: CMD must fail with exactly WANT on stderr
  want=$1; shift
  if "$@" >"$T/out" 2>"$T/err"; then echo "FAIL (exit 0): $*"; fails=$((fails + 1)); return; fi
  got=$(cat "$T/err")
  if [ "$got" = "$want" ]; then echo "ok   $got"
  else printf 'FAIL %s\n  got:  %s\n  want: %s\n' "$1 $2" "$got" "$want"; fails=$((fails + 1)); fi
}
long="red circle red circle red circle red circle red circle"
row "clipbook embed-texts: text 2 ('red circle red circle red circle red cir...'): input is too long for context length 12: 47 tokens" \
  $CB embed-texts --model $M --vocab "$T/m.txt" --out "$T/o.npy" "a photo" "$long"
row "clipbook embed-texts: text 1 ('caf\\xc3 au lait'): invalid UTF-8 at byte 3 (0xc3)" \
  $CB embed-texts --model $M --vocab "$T/m.txt" --out "$T/o.npy" "$(printf 'caf\303 au lait')"
row "clipbook tokenize: text 2 ('\\xff\\xfe'): invalid UTF-8 at byte 0 (0xff)" \
  $CB tokenize --vocab "$T/m.txt" "fine" "$(printf '\377\376')"
row "clipbook tokenize: $T/v.gz: corrupt gzip data (zlib: invalid block type)" \
  $CB tokenize --vocab "$T/v.gz" "a photo"
row "clipbook embed-texts: $T/st_metabomb.safetensors: clip: config has a non-positive or too large size" \
  $CB embed-texts --model "$T/st_metabomb.safetensors" --vocab "$T/m.txt" --out "$T/o.npy" "a photo"
row "clipbook embed-images: $T/bad.png: PNG: unexpected end of file (truncated?)" \
  $CB embed-images --model $M --out "$T/o.npy" "$T/bad.png"
row "clipbook results: $T/none.json: cannot open: No such file or directory" \
  $CB results "$T/none.json" --out "$T/r.json"
row "clipbook results: $T/frag.json: not JSON" \
  $CB results "$T/frag.json" --out "$T/r.json"
[ "$fails" -eq 0 ] || { echo "$fails messages incomplete"; exit 1; }
