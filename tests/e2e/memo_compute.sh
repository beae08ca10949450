#!/bin/sh
# The GEMM paths in force (engine/en_machine.h) are part of every memo key:
# a result computed on one path is never reused on another (the paths sum in
# another order), and `clipbook --version`, the report's .engine stamp, says
# which paths run. The machine file is kept in CLIPBOOK_MACHINE_DIR.
set -eu
ROOT=$PWD
CB=${CLIPBOOK:-build/bin/clipbook}
case $CB in /*) ;; *) CB=$ROOT/$CB ;; esac
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
export CLIPBOOK_MACHINE_DIR=$T/machine

STEP="--version names the paths"
v=$(env -u CLIPBOOK_GEMM "$CB" --version)
echo "$v" | grep -q "; gemm small=[a-z]* skinny=[a-z]* large=[a-z]* conv=[a-z]*; openblas " || fail "$STEP: $v"
ls "$T/machine"/machine-*.txt >/dev/null 2>&1 || fail "$STEP: the first run wrote no machine file in $T/machine"
[ "$(CLIPBOOK_GEMM=blas "$CB" --version)" != "$(CLIPBOOK_GEMM=engine "$CB" --version)" ] ||
  ! grep -q avx512f /proc/cpuinfo || fail "$STEP: forcing another path left --version (the stamp) unchanged"

STEP="another path misses the memo"
cd "$T"; mkdir ch; cp "$ROOT"/tests/runner/chapters/profiles.lua "$ROOT"/tests/runner/chapters/03-memo.lua ch/
export CLIPBOOK_CACHE=$T/cache CLIPBOOK_LUA=$ROOT/lua/notebook
LOG=$T/cache/memo.log
run() { mkdir -p "$T/cache"; : > "$LOG"; CLIPBOOK_GEMM=$1 "$CB" run ch/03-memo.lua --quiet --profile smoke --out doc.json; }
run blas; run blas
grep -q '^hit exp_a ' "$LOG" || fail "$STEP: the same path should hit"
grep -q '"compute": *"gemm small=blas skinny=blas large=blas conv=blas; openblas' doc.json ||
  fail "$STEP: the fragment's provenance does not say which path ran"
if grep -q avx512f /proc/cpuinfo; then
  run engine
  grep -q "^miss exp_a .*why=compute paths gemm small=blas skinny=blas large=blas conv=blas; openblas [A-Za-z0-9]* -> gemm small=engine" "$LOG" ||
    { cat "$LOG"; fail "$STEP: the miss should say the compute paths changed"; }
  run engine; grep -q '^hit exp_a ' "$LOG" || fail "$STEP: the engine path should hit its own entry"
else
  echo "memo_compute: no AVX-512 here, one path only: the miss step is skipped"
fi
echo "memo_compute: all steps passed"
