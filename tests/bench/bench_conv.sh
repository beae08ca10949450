#!/bin/sh
# conv2d kernel GFLOP/s against the raw cblas_sgemm rate (tests/bench/bench_conv.c).
set -eu
B="${BENCH_DIR:-build/bench}"
mkdir -p "$B"
cc -std=gnu11 -O2 -march=native -fopenmp -Iengine -Ikernels -Ikernels/cpu \
   $(pkg-config --cflags openblas) -o "$B/bench_conv" tests/bench/bench_conv.c \
   kernels/cpu/kn_conv.c engine/en_error.c $(pkg-config --libs openblas) -lm
"$B/bench_conv" "${BENCH_THREADS:-2}" "$B/part-conv.json"
