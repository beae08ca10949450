#!/bin/sh
# The paper fixture (tests/paper/make_fixture.sh) looks like `make data`'s
# output and the engine reads all of it: `clipbook fetch --list` finds every
# artifact of the built-in manifest present, every data/ path of the paper
# profile (chapters/profiles.lua) exists in it, and
# tests/runner/chapters/14-paper-fixture.lua loads both checkpoints, the
# vocabulary, 500 + 200 CIFAR records, the Pet splits, and fits a probe
# that beats chance.
set -eu
CB=${CLIPBOOK:-build/bin/clipbook}
T=$(mktemp -d)
[ -n "$T" ] && [ -d "$T" ] || { echo "FAIL: no temp dir"; exit 1; }
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; [ -f "$T/out" ] && sed 's/^/  | /' "$T/out"; exit 1; }
D="$T/data"
sh tests/paper/make_fixture.sh "$D" >"$T/out" 2>&1 || fail "make_fixture.sh"

"$CB" fetch --list --dir "$D" >"$T/out" 2>&1 || fail "fetch --list"
total=$(grep -c '^[a-z0-9][a-z0-9-]* ' "$T/out")
present=$(grep -c 'status   present' "$T/out")
[ "$total" -ge 6 ] && [ "$present" = "$total" ] || fail "fetch --list: $present of $total artifacts present"

# every file or folder the paper profiles name under data/ (chapters/profiles.lua
# builds both from one function, paper(sizes))
sed -n '/^local function paper(/,/^end/p' chapters/profiles.lua | grep -o '"data/[^"]*"' | tr -d '"' | sort -u >"$T/paths"
[ -s "$T/paths" ] || fail "no data/ paths in the paper profile"
while read -r p; do
  [ -e "$D/${p#data/}" ] || fail "the paper profile names $p, which the fixture lacks"
done <"$T/paths"

# stored as OpenAI ships them: F16 floats, I64 BatchNorm counters, OpenAI's names
/usr/bin/python3 - "$D" <<'PY' || fail "checkpoint layout"
import json, struct, sys
for f, must in (("clip-vit-b-32.safetensors", ["visual.conv1.weight", "visual.class_embedding", "visual.proj",
                                               "visual.transformer.resblocks.1.attn.in_proj_weight"]),
                ("clip-rn50.safetensors", ["visual.layer1.0.downsample.0.weight", "visual.layer1.0.downsample.1.running_var",
                                           "visual.layer4.0.bn3.num_batches_tracked", "visual.attnpool.c_proj.weight"])):
    b = open(sys.argv[1] + "/" + f, "rb").read()
    h = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])
    assert "__metadata__" not in h, f + ": no metadata, shapes decide"
    for k in must + ["token_embedding.weight", "text_projection", "logit_scale", "ln_final.weight"]:
        assert k in h, f + ": no " + k
    kinds = {v["dtype"] for v in h.values()}
    assert kinds <= {"F16", "I64"} and "F16" in kinds, (f, kinds)
PY
export CLIPBOOK_CACHE="$T/cache"
FIXTURE_DIR="$D" "$CB" run tests/runner/chapters/14-paper-fixture.lua --quiet --out "$T/f.json" 2>"$T/out" \
  || fail "the fixture chapter"
grep -o 'fixture: linear probe[^"\\]*%) *' "$T/f.json" | tail -n 1
echo "paper_fixture: ok ($(wc -l <"$T/paths") profile paths, $present artifacts)"
