#!/bin/sh
# make bench: runs every benchmark script tests/bench/*.sh (each writes its
# records to build/bench/<name>.json) and prints their tables.
set -u
mkdir -p "${BUILD:-build}/bench"
rc=0
for b in tests/bench/bench_*.sh; do
  [ -e "$b" ] || continue
  echo "== $b"; sh "$b" || rc=1
done
exit $rc
