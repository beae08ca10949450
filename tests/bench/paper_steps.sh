#!/bin/sh
# tests/bench/paper_steps.sh [N]: the paper profile's steps timed on this
# machine (not part of `make bench` or `make test`: it writes 0.5 GB of
# full-size random-weight checkpoints and takes a few minutes). Writes the
# paper fixture with --full (OpenAI-layout ViT-B/32 and RN50 at full size,
# 512 CIFAR-100-layout pictures) into a temp dir, runs tests/bench/paper_steps.lua
# in the paper profile on N pictures (default 256) with 2 threads, and
# prints its "STEP name value unit" lines. README ("Paper profile: measured
# steps") has the figures and what they extrapolate to.
set -eu
N=${1:-256}
CB=${CLIPBOOK:-build/bin/clipbook}
case $CB in /*) ;; *) CB=$PWD/$CB ;; esac
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
sh tests/paper/make_fixture.sh "$T/data" --train 512 --test 16 --full > "$T/out" 2>&1 || { cat "$T/out"; exit 1; }
CLIPBOOK_CACHE=$T/cache DATA_DIR=$T/data STUDY=$PWD/chapters/study.lua PAPER_STEPS_N=$N \
  /usr/bin/time -v "$CB" run tests/bench/paper_steps.lua --profiles chapters/profiles.lua --profile paper \
    --threads 2 --quiet --out "$T/steps.json" > "$T/run.out" 2> "$T/time.out" || { cat "$T/run.out" "$T/time.out"; exit 1; }
grep "^STEP" "$T/run.out"
sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): /STEP peak_rss /p' "$T/time.out" | sed 's/$/ kB/'
