#!/bin/sh
# cb.pets from a chapter (tests/runner/chapters/13-pets.lua asserts counts,
# batch shapes, Pillow-equal pixels, the boundary policy and the errors).
# Under SANITIZE=1, leak checking at exit covers the set's handle.
set -eu
CB=${CLIPBOOK:-build/bin/clipbook}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
export CLIPBOOK_CACHE=$T/cache
"$CB" run tests/runner/chapters/13-pets.lua --quiet --out "$T/p.json" 2> "$T/err" || { echo "FAIL: pets chapter"; cat "$T/err"; exit 1; }
grep -o "pets: [0-9][^\"\\]*" "$T/p.json"
