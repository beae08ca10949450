#!/bin/sh
# conv2d kernel GFLOP/s against the raw cblas_sgemm rate (tests/bench/bench_conv.c)
# and against PyTorch's F.conv2d on the same layers (bench_conv_torch.py), at
# BENCH_THREADS (2) threads. clipbook runs as a user would run it; PyTorch at
# its best (the environment below, see the engine issue).
set -eu
B="${BENCH_DIR:-build/bench}"
T="${BENCH_THREADS:-2}"
mkdir -p "$B"
# built by `make bench` (one driver per tests/bench/*.c); standalone runs build it
[ -x "$B/bench_conv" ] || make -s "$B/bench_conv"
"$B/bench_conv" "$T" "$B/part-kn-conv.json"
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 OMP_WAIT_POLICY=PASSIVE \
  OMP_NUM_THREADS="$T" OPENBLAS_NUM_THREADS="$T" \
    /usr/bin/python3 tests/bench/bench_conv_torch.py "$T" "$B/part-kn-conv.json" \
    "$B/part-kn-conv-torch.json"
else
  echo "bench_conv: no PyTorch (python3-torch) for the peer; skipped"
fi
