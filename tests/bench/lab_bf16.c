/* lab_bf16: the BF16 GEMM (kn_bf16.h) against the float32 kn_sgemm on
 * ViT-B/32's layer shapes (batch 32: 1600 tokens), medians of 7 runs, the
 * two alternating. Usage: lab_bf16 [threads] */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "en_machine.h"
#include "en_tensor.h"
#include "kn_bf16.h"
#include "kn_gemm.h"

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    en_set_num_threads(threads);
    en_machine_install();
    if (!kn_bf16_available()) { printf("lab_bf16: %s\n", kn_bf16_unavailable_reason()); return 0; }
    static const int shapes[][3] = {{1600, 2304, 768}, {1600, 3072, 768}, {1600, 768, 3072}, {1600, 768, 768}};
    for (size_t s = 0; s < 4; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = malloc(sizeof(float) * (size_t)M * K), *W = malloc(sizeof(float) * (size_t)N * K);
        float *C = malloc(sizeof(float) * (size_t)M * N);
        for (size_t i = 0; i < (size_t)M * K; i++) A[i] = (float)(i % 97) / 97.0f - 0.5f;
        for (size_t i = 0; i < (size_t)N * K; i++) W[i] = (float)(i % 89) / 89.0f - 0.5f;
        uint16_t *Wp = malloc(sizeof(uint16_t) * kn_bf16_packed_size(N, K));
        kn_bf16_pack_w(Wp, W, K, N, K);
        double tf[7], tb[7];
        for (int r = -1; r < 7; r++) {
            double t0 = omp_get_wtime();
            kn_sgemm(0, 1, M, N, K, 1.0f, A, K, W, K, 0.0f, C, N);
            double t1 = omp_get_wtime();
            kn_bf16_gemm(M, N, K, A, K, Wp, 0.0f, C, N);
            double t2 = omp_get_wtime();
            if (r >= 0) { tf[r] = t1 - t0; tb[r] = t2 - t1; }
        }
        qsort(tf, 7, sizeof(double), cmp);
        qsort(tb, 7, sizeof(double), cmp);
        double gf = 2.0 * M * N * K / 1e9;
        printf("M%d N%d K%d: fp32 %s %.0f GFLOP/s, bf16 %.0f GFLOP/s, ratio %.2fx\n", M, N, K,
               kn_gemm_path_for(M, N, K) == KN_GEMM_ENGINE ? "engine" : "blas", gf / tf[3], gf / tb[3], tf[3] / tb[3]);
        free(A); free(W); free(C); free(Wp);
    }
    return 0;
}
