#!/bin/sh
# Memo keys by content (chapters/study.lua, lua/notebook/nb_filehash.h), on
# the paper fixture, through `make` of one fragment (chapter 3: both towers'
# features and probes):
#   1. a file the fetch lock lists enters the key by the lock's SHA-256 (the
#      ViT's entry there is a made-up hash: what the keys record proves the
#      lock was read, not the file);
#   2. a rerun with nothing changed: no chapter run, no miss;
#   3. the RN50 checkpoint rewritten in place, same size, its mtime set back
#      (touch -r): make reruns the chapter (the data stamp sees the ctime),
#      every ResNet entry misses with the new file's true SHA-256 (the
#      remembered stat no longer matches, so the lock is not trusted), no
#      ViT entry misses, and `clipbook cache why` names the file;
#   4. the data folder moved (DATA_DIR elsewhere): no miss at all.
set -eu
CB=${CLIPBOOK:-build/bin/clipbook}
case $CB in /*) ;; *) CB=$PWD/$CB ;; esac
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
export CLIPBOOK_CACHE=$T/cache
fail() { echo "FAIL: $*"; tail -n 30 "$T/out" 2>/dev/null; exit 1; }
D=$T/data
sh tests/paper/make_fixture.sh "$D" > "$T/out" 2>&1 || fail "make_fixture.sh"
RN=$D/clip-rn50.safetensors
VIT=$D/clip-vit-b-32.safetensors
FAKE=abababababababababababababababababababababababababababababababab
{ echo "clip-rn50.safetensors $(stat -c %s "$RN") $(stat -c %Y "$RN") $(sha256sum "$RN" | cut -c1-64)"
  echo "clip-vit-b-32.safetensors $(stat -c %s "$VIT") $(stat -c %Y "$VIT") $FAKE"; } > "$D/MANIFEST.lock"

FRAG=$T/doc/03-linear-probe.json
# mk DATA: make the fragment; "ran" or "up to date" in $T/ran
mk() {
  before=0; [ ! -e "$CLIPBOOK_CACHE/memo.log" ] || before=$(wc -l < "$CLIPBOOK_CACHE/memo.log")
  make --no-print-directory SANITIZE=${SANITIZE:-0} PROFILE=paper-fixture DATA_DIR="$1" DOC_DIR="$T/doc" "$FRAG" > "$T/out" 2>&1 \
    || fail "make $FRAG exited non-zero"
  if grep -q "03-linear-probe  done" "$T/out"; then echo ran > "$T/ran"; else echo "up to date" > "$T/ran"; fi
  tail -n +"$((before + 1))" "$CLIPBOOK_CACHE/memo.log" > "$T/log"
}
misses() { grep -c "^miss $1" "$T/log" || true; }

mk "$D"
[ "$(misses features.vit)" -ge 2 ] || fail "first run: no ViT feature chunk computed"
grep -rqs "clip-vit-b-32.safetensors sha256:$FAKE" "$CLIPBOOK_CACHE"/features.vit.cls_train.pooled.1/*.json \
  || fail "the ViT's key does not carry the fetch lock's SHA-256"
grep -rqs "clip-rn50.safetensors sha256:$(sha256sum "$RN" | cut -c1-64)" "$CLIPBOOK_CACHE"/features.rn.cls_train.pooled.1/*.json \
  || fail "the RN50's key does not carry its SHA-256"
echo "1. keys from the fetch lock: ok ($(misses '') misses)"

mk "$D"
[ "$(cat "$T/ran")" = "up to date" ] || fail "nothing changed, but make reran the chapter"
mk "$D"   # (also when asked twice)
[ "$(misses '')" = 0 ] || fail "nothing changed, but $(misses '') misses"
echo "2. unchanged: up to date, no miss"

cp -p "$RN" "$T/rn.orig"
/usr/bin/python3 - "$RN" <<'EOF'
# new weights for the attention pool's output projection, in place (same
# tensor, same bytes count: the file keeps its size)
import json, struct, sys
import numpy as np
path = sys.argv[1]
with open(path, "r+b") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    hdr = json.loads(f.read(n))
    t = hdr["visual.attnpool.c_proj.weight"]
    a, b = t["data_offsets"]
    assert t["dtype"] == "F16"
    w = np.random.default_rng(7).uniform(-0.5, 0.5, (b - a) // 2).astype("<f2")
    f.seek(8 + n + a)
    f.write(w.tobytes())
EOF
touch -r "$T/rn.orig" "$RN"
[ "$(stat -c '%s %y' "$RN")" = "$(stat -c '%s %y' "$T/rn.orig")" ] || fail "the test could not restore size and mtime"
cmp -s "$RN" "$T/rn.orig" && fail "the test did not change the checkpoint"
mk "$D"
[ "$(cat "$T/ran")" = ran ] || fail "the RN50 checkpoint changed (same size and mtime), but make did not rerun the chapter"
[ "$(misses features.rn.cls_train)" -ge 2 ] || fail "the RN50 checkpoint changed, but its features were cache hits"
[ "$(misses probe.rn)" -ge 1 ] || fail "the RN50 checkpoint changed, but its probes were cache hits"
[ "$(misses features.vit)$(misses probe.vit)" = 00 ] || fail "the ViT was recomputed though only the RN50 changed"
"$CB" cache why features.rn.cls_train.pooled.1 > "$T/why" 2>&1 || fail "cache why failed"
grep -q "clip-rn50.safetensors" "$T/why" || { cat "$T/why"; fail "cache why does not name the checkpoint"; }
grep -rqs "clip-rn50.safetensors sha256:$(sha256sum "$RN" | cut -c1-64)" "$CLIPBOOK_CACHE"/features.rn.cls_train.pooled.1/*.json \
  || fail "the new RN50 entry does not carry the rewritten file's SHA-256 (the stale lock entry was trusted)"
echo "3. RN50 rewritten (same size, mtime set back): rerun, $(misses features.rn) RN50 chunk misses, 0 ViT; why: $(grep -o 'tower.checkpoint[^;]*' "$T/why" | head -n 1 | cut -c1-70)"

mv "$D" "$T/moved"; rm -f "$FRAG"   # (the stamp lists paths relative to DATA_DIR: unchanged)
mk "$T/moved"
[ "$(misses '')" = 0 ] || fail "the data folder moved, content unchanged, but $(misses '') misses"
echo "4. data folder moved: no miss"
echo "memo_content: ok"
