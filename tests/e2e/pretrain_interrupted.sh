#!/bin/sh
# A pre-training stopped early (SIGINT/SIGTERM, or stop_after) returns with
# log.interrupted set and its state kept for resuming: chapters/study.lua
# must fail the run rather than memoise that partial tower as the trained
# one. (It did: a SIGTERM'd run left a ViT trained for 693 of its 2,500
# steps in build/cache, which every later run took as the trained tower.)
# stop_after = 3 on the smoke profile's ViT stands in for the signal.
set -eu
CB=${CLIPBOOK:-build/bin/clipbook}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
python3 - "$T/profiles.lua" <<'PY'
import sys
s = open("chapters/profiles.lua").read()
old = "vit = tower { vision_vit = 1, image_resolution = 16,"
assert s.count(old) == 1, "the smoke ViT's line moved: update this test"
open(sys.argv[1], "w").write(s.replace(old, "vit = tower { stop_after = 3, vision_vit = 1, image_resolution = 16,"))
PY
cat > "$T/ch.lua" <<'EOF2'
-- %% pretrain
local S = assert(loadfile(os.getenv("STUDY")))().new { memo = memo, profile = profile, cb = cb }
S.model("vit")
EOF2
export CLIPBOOK_CACHE=$T/cache STUDY=$PWD/chapters/study.lua
if $CB run "$T/ch.lua" --profiles "$T/profiles.lua" --profile smoke --quiet --out "$T/o.json" > "$T/out" 2>&1; then
  echo "FAIL: the run succeeded although its pre-training stopped early"; exit 1
fi
grep -q "pre-training of the vit tower stopped at step 3 of 40" "$T/out" "$T/o.json" ||
  { echo "FAIL: no error naming the step"; cat "$T/out"; exit 1; }
if ls "$T/cache/pretrain.vit/"*.val >/dev/null 2>&1; then echo "FAIL: the partial tower was memoised"; exit 1; fi
[ -s "$T/cache/files/pretrain-smoke-vit.state" ] || { echo "FAIL: no state kept to resume from"; exit 1; }
echo "ok: a stopped pre-training fails the run, is not memoised, and keeps its state"
