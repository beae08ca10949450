/* lab_gemm_vit — the engine's GEMM against OpenBLAS on the mini towers'
 * transformer shapes (tokens x width products of a training step: forward
 * x W^T, backward g W, and the weight gradient's 1,024-row blocks g^T x),
 * least of REPS wall times each, at the process's thread count.
 *   lab_gemm_vit [REPS]
 * Prints one line per shape: ms engine, ms OpenBLAS, their ratio. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kn_gemm.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double best(kn_gemm_path p, int ta, int tb, int M, int N, int K, const float *A, const float *B, float *C,
                   int reps) {
    kn_gemm_set_path(p);
    double b = 1e9;
    int lda = ta ? M : K, ldb = tb ? K : N;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        kn_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, N);
        double t = now() - t0;
        if (t < b) b = t;
    }
    return b * 1e3;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 20;
    /* M = 256 captions x 27 tokens; widths of the mini text and image towers */
    static const struct { const char *what; int ta, tb, M, N, K; } s[] = {
        { "fwd qkv  x W^T", 0, 1, 6912, 192, 64 }, { "fwd out  x W^T", 0, 1, 6912, 64, 64 },
        { "fwd fc1  x W^T", 0, 1, 6912, 256, 64 }, { "fwd fc2  x W^T", 0, 1, 6912, 64, 256 },
        { "bwd qkv  g W", 0, 0, 6912, 64, 192 },   { "bwd fc1  g W", 0, 0, 6912, 64, 256 },
        { "bwd fc2  g W", 0, 0, 6912, 256, 64 },   { "dW qkv g^T x", 1, 0, 192, 64, 1024 },
        { "dW fc2 g^T x", 1, 0, 64, 256, 1024 },   { "dW out g^T x", 1, 0, 64, 64, 1024 },
    };
    size_t big = 6912 * 256;
    float *A = malloc(big * 4), *B = malloc(big * 4), *C = malloc(big * 4);
    for (size_t i = 0; i < big; i++) A[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f, B[i] = (float)((i * 104729) % 997) / 997.0f - 0.5f;
    for (size_t i = 0; i < sizeof s / sizeof *s; i++) {
        double e = best(KN_GEMM_ENGINE, s[i].ta, s[i].tb, s[i].M, s[i].N, s[i].K, A, B, C, reps);
        double o = best(KN_GEMM_BLAS, s[i].ta, s[i].tb, s[i].M, s[i].N, s[i].K, A, B, C, reps);
        printf("%-16s %5d %4d %5d  engine %7.3f ms  blas %7.3f ms  engine/blas %.2f  %.1f GFLOP/s\n", s[i].what,
               s[i].M, s[i].N, s[i].K, e, o, e / o, 2.0 * s[i].M * s[i].N * s[i].K / e * 1e-6);
    }
    free(A); free(B); free(C);
    return 0;
}
