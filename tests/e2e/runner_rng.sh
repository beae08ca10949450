#!/bin/sh
# A memo's random numbers come from its own seed, and the chapter's stream
# after it is the same whether the artifact was computed or read back.
set -eu
CB=${CLIPBOOK:-build/bin/clipbook}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
export CLIPBOOK_CACHE=$T/cache
fail() { echo "FAIL: $*"; exit 1; }
r() { grep -o "\"$1\":[^,}]*" "$2"; }
"$CB" run tests/runner/chapters/06-rng.lua --quiet --out "$T/1.json"           # both computed
RNG_V=2 "$CB" run tests/runner/chapters/06-rng.lua --quiet --out "$T/2.json"   # a cached, b computed
rm -rf "$T/cache"
RNG_V=2 "$CB" run tests/runner/chapters/06-rng.lua --quiet --out "$T/3.json"   # b computed from scratch
[ "$(r rng.after "$T/1.json")" = "$(r rng.after "$T/2.json")" ] || fail "the chapter's stream changed after a cache hit"
[ "$(r rng.b1 "$T/2.json")" = "$(r rng.b1 "$T/3.json")" ] || fail "an artifact's numbers depend on what was cached"
[ "$(r rng.a1 "$T/1.json")" != "$(r rng.after "$T/1.json")" ] || fail "draws should differ"
echo "runner_rng: ok"
