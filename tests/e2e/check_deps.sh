#!/bin/sh
# The direction of the rooms, proved by the build: a one-line file in each
# room including a header it may not use must fail to compile with that
# room's flags (make check-deps; the rules are the Makefile's DEP_RULES).
set -eu
out=$(make --no-print-directory -s check-deps 2>&1) || { echo "$out"; exit 1; }
echo "$out"
n=$(echo "$out" | sed -n 's/^check-deps: \([0-9]*\) wrong-way includes refused$/\1/p')
[ -n "$n" ] && [ "$n" -gt 0 ] || { echo "check_deps: no wrong-way include was tried"; exit 1; }
