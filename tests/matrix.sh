#!/bin/sh
# The whole suite (tests/run.sh: every test binary, then tests/e2e/) once per
# compute configuration, then one table: which configurations pass, and the
# tests that fail in each. Not part of `make test`; run by `make test-matrix`.
#
#   CLIPBOOK_GEMM      engine | blas   the GEMM path (kernels/cpu/kn_gemm.h)
#   OMP_NUM_THREADS    1 | 2           the engine's threads (and OpenBLAS's:
#                                      kn_set_num_threads follows OpenMP)
#   OPENBLAS_CORETYPE  Haswell | SkylakeX | Prescott   OpenBLAS's kernels:
#                      Haswell is what it picks on the AMD machine, SkylakeX
#                      on Intel AVX-512 servers, Prescott has no AVX at all
#
# Narrow it with MATRIX_GEMM, MATRIX_THREADS, MATRIX_CORES (space-separated
# lists). Usage: sh tests/matrix.sh BUILD/tests/*  (the Makefile passes them).
# Each configuration's log is kept in $BUILD/matrix/<config>.log.
set -u
BUILD="${BUILD:-build}"
gemms="${MATRIX_GEMM:-engine blas}"
threads="${MATRIX_THREADS:-1 2}"
cores="${MATRIX_CORES:-Haswell SkylakeX Prescott}"
dir="$BUILD/matrix"
mkdir -p "$dir"
table="$dir/table.txt"
: >"$table"
bad=0
for g in $gemms; do
  for t in $threads; do
    for c in $cores; do
      name="gemm=$g threads=$t core=$c"
      log="$dir/$g-$t-$c.log"
      start=$(date +%s)
      env CLIPBOOK_GEMM="$g" OMP_NUM_THREADS="$t" OPENBLAS_CORETYPE="$c" \
        sh tests/run.sh "$@" >"$log" 2>&1
      rc=$?
      secs=$(( $(date +%s) - start ))
      line=$(grep '^tests: ' "$log" | tail -n 1)
      # Criterion names a failing test "[FAIL] suite::name"; run.sh names the rest
      fails=$(grep -o '^\[FAIL\] [^:]*::[^:]*\|^FAIL tests/e2e/[^ ]*\|^!! [^ ]*' "$log" |
              sed 's/^\[FAIL\] //; s/^FAIL //; s/^!! //' | sort -u | tr '\n' ' ')
      [ "$rc" -eq 0 ] || bad=$((bad + 1))
      printf '%-38s %-30s %4ss  %s\n' "$name" "${line:-no summary}" "$secs" "${fails:-}" | tee -a "$table"
    done
  done
done
echo
echo "matrix: $bad configuration(s) failed (logs in $dir/)"
[ "$bad" -eq 0 ]
