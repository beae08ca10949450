#!/bin/sh
# The engine's code hash (Makefile CODE_HASH, en_code_hash): it follows every
# edit, addition and move of a source of engine/, kernels/ and lua/; the
# binary carries it; and a binary built from other code misses every memo
# entry with "engine code changed (old -> new)".
set -eu
ROOT=$PWD
CB=${CLIPBOOK:-build/bin/clipbook}
case $CB in /*) ;; *) CB=$ROOT/$CB ;; esac
BUILD=${BUILD:-build}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# a make of our own, not a part of whichever make runs the suite
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -s "$@"; }

STEP="the binary carries the tree's hash"
[ "$("$CB" --code-hash)" = "$(mk code-hash)" ] || fail "$STEP: clipbook --code-hash differs from make code-hash (stale build?)"
"$CB" --version | grep -q "engine code $("$CB" --code-hash | cut -c1-12)" || fail "$STEP: --version lacks the code hash"

STEP="the hash follows the sources"
mkdir "$T/tree"; cp -r Makefile engine kernels lua "$T/tree/"
h() { mk -C "$T/tree" code-hash; }
h0=$(h)
[ "$h0" = "$(mk code-hash)" ] || fail "$STEP: a copy of the tree hashes differently"
# (the first layer-norm epsilon, wherever it is: a line number went stale
# when en_clip.c grew, and the edit silently did nothing)
sed -i '0,/1e-5f/s//1e-2f/' "$T/tree/engine/en_clip.c"
cmp -s engine/en_clip.c "$T/tree/engine/en_clip.c" && fail "$STEP: the test's own edit of en_clip.c changed nothing"
h1=$(h)
[ "$h1" != "$h0" ] || fail "$STEP: an edit of engine/en_clip.c left the hash unchanged"
echo '/* new */' > "$T/tree/kernels/cpu/kn_new.c"; h2=$(h)
[ "$h2" != "$h1" ] || fail "$STEP: a new kernels/ file left the hash unchanged"
mv "$T/tree/kernels/cpu/kn_new.c" "$T/tree/engine/en_new.c"; h3=$(h)
[ "$h3" != "$h2" ] || fail "$STEP: moving a file left the hash unchanged"
echo '-- x' >> "$T/tree/lua/notebook/notebook.lua"; h4=$(h)
[ "$h4" != "$h3" ] || fail "$STEP: an edit of lua/notebook/notebook.lua left the hash unchanged"
[ "$(h)" = "$h4" ] || fail "$STEP: the hash is not deterministic"
echo '/* x */' >> "$T/tree/lua/cli/cli_main.c"
[ "$(h)" = "$h4" ] || fail "$STEP: an edit of the command line (lua/cli) changed the hash: it computes no result"

STEP="a binary of other code misses the memo"
# the same objects and libraries, another code hash: links in a second or two
mk BUILD="$BUILD" SANITIZE="${SANITIZE:-0}" CODE_HASH_SALT=e2e-other-engine CODE_HASH_DIR="$T/gen" \
   CLIPBOOK="$T/bin/clipbook" "$T/bin/clipbook" >/dev/null || fail "$STEP: could not link the salted binary"
CB2=$T/bin/clipbook
old=$("$CB" --code-hash | cut -c1-12); new=$("$CB2" --code-hash | cut -c1-12)
[ "$old" != "$new" ] || fail "$STEP: the salt did not change the hash"
[ "$("$CB" --version)" != "$("$CB2" --version)" ] || fail "$STEP: --version (the .engine stamp) did not change"
cd "$T"; mkdir ch; cp "$ROOT"/tests/runner/chapters/profiles.lua "$ROOT"/tests/runner/chapters/03-memo.lua ch/
export CLIPBOOK_CACHE=$T/cache CLIPBOOK_LUA=$ROOT/lua/notebook
LOG=$T/cache/memo.log
run() { mkdir -p "$T/cache"; : > "$LOG"; "$1" run ch/03-memo.lua --quiet --profile smoke --out doc.json; }
run "$CB"; run "$CB"
grep -q '^hit exp_a ' "$LOG" || fail "$STEP: the same binary should hit"
run "$CB2"
grep -q "^miss exp_a .*why=engine code changed ($old -> $new)" "$LOG" || { cat "$LOG"; fail "$STEP: the miss should say engine code changed ($old -> $new)"; }
"$CB2" cache why exp_a | grep -q "why: engine code changed ($old -> $new)" || fail "$STEP: cache why should say engine code changed"
run "$CB2"; grep -q '^hit exp_a ' "$LOG" || fail "$STEP: the other binary should hit its own entry"
echo "memo_code_hash: all steps passed"
