#!/bin/sh
# Runs every test binary given on the command line, then every end-to-end
# script in tests/e2e/, and prints one closing line "N passed, N failed".
# Exits non-zero when anything failed or crashed.
set -u
# OpenMP threads that spin while waiting steal the core the other thread
# (or OpenBLAS) needs; on a loaded machine that is 10-50x slower. See
# engine/NOTES.md ("OpenMP wait policy").
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
export OPENBLAS_THREAD_TIMEOUT="${OPENBLAS_THREAD_TIMEOUT:-4}"
# fontconfig/pango/cairo keep process-lifetime caches that LeakSanitizer
# reports at exit; tests/lsan.supp names those libraries.
LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export LSAN_OPTIONS
passed=0; failed=0; skipped=0
log=$(mktemp); trap 'rm -f "$log"' EXIT
for bin in "$@"; do
  echo "== $bin"
  "$bin" --jobs "${TEST_JOBS:-2}" >"$log" 2>&1; rc=$?
  cat "$log"
  line=$(grep 'Synthesis:' "$log" | tail -n 1)
  t=$(echo "$line" | sed -n 's/.*Tested: *\([0-9]*\).*/\1/p')
  p=$(echo "$line" | sed -n 's/.*Passing: *\([0-9]*\).*/\1/p')
  if [ -z "$t" ]; then failed=$((failed + 1)); echo "!! $bin printed no summary (rc=$rc)"; continue; fi
  passed=$((passed + p)); failed=$((failed + t - p))
  # tests that cannot run here (no GPU) print one "skip: <why>" line each
  skipped=$((skipped + $(grep -c '^skip: ' "$log")))
  if [ "$rc" -ne 0 ] && [ "$t" = "$p" ]; then failed=$((failed + 1)); echo "!! $bin exited $rc"; fi
  # Criterion's workers do not turn a sanitizer report into a failure
  if grep -q 'ERROR: [A-Za-z]*Sanitizer\|runtime error:' "$log"; then failed=$((failed + 1)); echo "!! $bin: sanitizer report"; fi
done
for sh in tests/e2e/*.sh; do
  [ -e "$sh" ] || continue
  echo "== $sh"
  if sh "$sh"; then passed=$((passed + 1)); echo "ok   $sh"; else failed=$((failed + 1)); echo "FAIL $sh"; fi
done
# a few seconds of each fuzz target (tests/fuzz/run.sh; `make fuzz` runs longer)
if [ "${FUZZ_OK:-}" = 1 ]; then
  for t in ${FUZZ_TARGETS:-}; do
    echo "== fuzz $t"
    if sh tests/fuzz/run.sh "${FUZZ_SECONDS:-3}" "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  done
elif [ -n "${FUZZ_TARGETS:-}" ]; then
  echo "skip: fuzz (no libFuzzer: apt-get install clang libclang-rt-14-dev)"
fi
echo
echo "tests: $passed passed, $failed failed${skipped:+, $skipped skipped}"
[ "$failed" -eq 0 ]
