#!/bin/sh
# Frozen features resume (chapters/study.lua: one memo entry per chunk of
# profile.features.chunk pictures). On the paper fixture (RN50 stand-in,
# cls_train = 450 pictures in chunks of 128: 4 chunks):
#   1. a run is killed (SIGKILL, from inside the encoder's third call, so
#      mid-extraction) after two chunks are stored;
#   2. the rerun finds those two as hits and computes only the other two;
#   3. the assembled features are bit-identical (cmp of the .npy) to those
#      of an uninterrupted run in a fresh memo store.
set -eu
CB=${CLIPBOOK:-build/bin/clipbook}
case $CB in /*) ;; *) CB=$PWD/$CB ;; esac
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; tail -n 30 "$T/out" 2>/dev/null; exit 1; }
sh tests/paper/make_fixture.sh "$T/data" > "$T/out" 2>&1 || fail "make_fixture.sh"
export DATA_DIR=$T/data STUDY=$PWD/chapters/study.lua OUT_NPY
RUN="$CB run --profiles chapters/profiles.lua --profile paper-fixture --quiet"

# the same feature set in both chapters; the first dies in the third chunk
cat > "$T/killed.lua" <<'EOF'
-- %% extract
local S = assert(loadfile(os.getenv("STUDY")))().new { memo = memo, profile = profile, cb = cb }
local m = S.model("rn")
local methods = getmetatable(m).__index
local encode, calls = methods.encode_image, 0
methods.encode_image = function(...)
  calls = calls + 1
  if calls == 3 then os.execute("kill -KILL $PPID") end  -- the shell's parent: this run
  return encode(...)
end
S.features("rn", "cls_train", "pooled")
EOF
cat > "$T/plain.lua" <<'EOF'
-- %% extract
local S = assert(loadfile(os.getenv("STUDY")))().new { memo = memo, profile = profile, cb = cb }
assert(S.features("rn", "cls_train", "pooled"):save_npy(os.getenv("OUT_NPY")))
EOF

export CLIPBOOK_CACHE=$T/cache
rc=0; $RUN "$T/killed.lua" --out "$T/killed.json" > "$T/out" 2>&1 || rc=$?
[ "$rc" = 137 ] || fail "the interrupted run exited $rc, not 137 (killed)"
stored=$(ls -d "$CLIPBOOK_CACHE"/features.rn.cls_train.pooled.* 2>/dev/null | while read -r d; do ls "$d"/*.val 2>/dev/null; done | wc -l)
[ "$stored" = 2 ] || fail "the killed run left $stored chunks stored, expected 2"
n0=$(wc -l < "$CLIPBOOK_CACHE/memo.log")
OUT_NPY=$T/resumed.npy $RUN "$T/plain.lua" --out "$T/plain.json" > "$T/out" 2>&1 || fail "the rerun failed"
tail -n +"$((n0 + 1))" "$CLIPBOOK_CACHE/memo.log" | grep " features\.rn\.cls_train\." > "$T/log" || true
hits=$(grep -c "^hit " "$T/log" || true); misses=$(grep -c "^miss " "$T/log" || true)
grep -q "^hit features.rn.cls_train.pooled.1 " "$T/log" && grep -q "^hit features.rn.cls_train.pooled.2 " "$T/log" \
  && [ "$hits" = 2 ] && [ "$misses" = 2 ] || { cat "$T/log"; fail "the rerun: $hits hits, $misses misses (expected chunks 1-2 hits, 3-4 misses)"; }

export CLIPBOOK_CACHE=$T/cache2
OUT_NPY=$T/whole.npy $RUN "$T/plain.lua" --out "$T/whole.json" > "$T/out" 2>&1 || fail "the uninterrupted run failed"
cmp -s "$T/resumed.npy" "$T/whole.npy" || fail "resumed features differ from an uninterrupted run's"
echo "features_resume: ok (killed after 2 of 4 chunks; rerun: 2 hits, 2 misses; bit-identical, $(stat -c %s "$T/whole.npy") bytes)"
