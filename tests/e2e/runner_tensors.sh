#!/bin/sh
# Tensors from Lua (tests/runner/chapters/05-tensors.lua asserts their
# semantics, 07-shapes.lua the shapes world's, 08-train.lua the ops', 10-bpe.lua the tokenizer's, 11-npy.lua files, 12-clip.lua models), stored in and read back
# from the memo store. Under
# SANITIZE=1 the binary is ASan's: leak checking at exit proves that
# collected, freed and closed tensors and views released everything.
set -eu
CB=${CLIPBOOK:-build/bin/clipbook}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
export CLIPBOOK_CACHE=$T/cache
fail() { echo "FAIL: $*"; cat "$T/err" 2>/dev/null; exit 1; }
"$CB" run tests/runner/chapters/05-tensors.lua --quiet --out "$T/a.json" 2> "$T/err" || fail "first run"
"$CB" run tests/runner/chapters/05-tensors.lua --quiet --out "$T/b.json" 2> "$T/err" || fail "second run (from the cache)"
[ "$(grep -c '^miss tensor_' "$T/cache/memo.log")" = 2 ] || fail "first run should compute both artifacts"
[ "$(grep -c '^hit tensor_' "$T/cache/memo.log")" = 2 ] || fail "second run should read both from the cache"
a=$(grep -o '"tensor.probe":[^,}]*' "$T/a.json"); b=$(grep -o '"tensor.probe":[^,}]*' "$T/b.json")
[ -n "$a" ] && [ "$a" = "$b" ] || fail "cached tensors differ: $a vs $b"
grep -q '"series":\[{"y":\[[-0-9.e]*,[-0-9.e]*,[-0-9.e]*,[-0-9.e]*,[-0-9.e]*,[-0-9.e]*\]}\]' "$T/a.json" \
  || fail "a tensor in a figure spec should become a JSON array"
grep -q '"label":"fig-snap","spec":{"kind":"line","series":\[{"y":\[1,2,3\]}\]}' "$T/a.json" \
  || fail "a figure must keep the data it had when figure() was called"
"$CB" run tests/runner/chapters/07-shapes.lua --quiet --out "$T/s.json" 2> "$T/err" || fail "shapes world chapter"
grep -q '"kind":"image_grid"' "$T/s.json" || fail "shapes figure missing"
"$CB" run tests/runner/chapters/08-train.lua --quiet --out "$T/t.json" 2> "$T/err" || fail "training chapter"
"$CB" run tests/runner/chapters/10-bpe.lua --quiet --out "$T/b.json" 2> "$T/err" || fail "tokenizer chapter"
"$CB" run tests/runner/chapters/11-npy.lua --quiet --out "$T/n.json" 2> "$T/err" || fail ".npy chapter"
"$CB" run tests/runner/chapters/12-clip.lua --quiet --out "$T/c.json" 2> "$T/err" || fail "CLIP chapter"
"$CB" run tests/runner/chapters/12-clip.lua --quiet --out "$T/c.json" 2> "$T/err" || fail "CLIP chapter from the cache"
[ "$(grep -c '^hit clip_' "$T/cache/memo.log")" = 2 ] || fail "a model and its features should come back from the cache"
echo "runner_tensors: ok ($a)"
