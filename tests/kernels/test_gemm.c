/* kn_sgemm against a plain double-precision loop: every transpose pair,
 * sizes around the micro-kernel's 8x48 tile and the 256/192/576 blocks, leading
 * dimensions wider than the matrices, alpha and beta (beta = 0 must not let
 * NaNs through), serial and self-threaded paths. */
#include <omp.h>
#include <string.h>

#include "kn_gemm.h"
#include "kt_util.h"

static double check(en_rng *r, int ta, int tb, int M, int N, int K, float alpha, float beta) {
    int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;
    size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
    float *A = kt_rand(r, na), *B = kt_rand(r, nb), *C = kt_rand(r, nc);
    double *ref = malloc(sizeof(double) * nc);
    for (size_t i = 0; i < nc; i++) ref[i] = C[i];
    if (beta == 0.0f) /* beta = 0 overwrites: garbage (NaN) in C must vanish */
        for (int i = 0; i < M; i++) C[(size_t)i * ldc] = NAN;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++)
                s += (double)(ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) *
                     (tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
            size_t c = (size_t)i * ldc + j;
            ref[c] = alpha * s + (beta == 0.0f ? 0.0 : beta * ref[c]);
        }
    kn_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    double worst = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < ldc; j++) {
            size_t c = (size_t)i * ldc + j;
            /* past column N the padding must be untouched */
            double d = fabs(C[c] - ref[c]) / (1.0 + fabs(ref[c]));
            if (j >= N) d = C[c] == (float)ref[c] ? 0 : 1;
            if (!(d <= worst)) worst = d;
        }
    free(A); free(B); free(C); free(ref);
    return worst;
}

Test(gemm, matches_loops) {
    en_rng r; en_rng_seed(&r, 51);
    static const int Ms[] = {1, 7, 8, 9, 13, 64, 260};
    static const int Ns[] = {1, 15, 16, 17, 47, 48, 49, 100, 769};
    static const int Ks[] = {1, 5, 192, 193, 385};
    static const float betas[] = {0.0f, 1.0f, -0.5f};
    double worst = 0;
    int runs = 0;
    for (int th = 1; th <= 2; th++) {
        omp_set_num_threads(th);
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int rep = 0; rep < 12; rep++) {
                    int M = Ms[en_rng_below(&r, 7)], N = Ns[en_rng_below(&r, 9)];
                    int K = Ks[en_rng_below(&r, 5)];
                    float beta = betas[en_rng_below(&r, 3)];
                    double w = check(&r, ta, tb, M, N, K, 0.7f, beta);
                    if (w > 1e-4) printf("  ta%d tb%d M%d N%d K%d beta %g: %.3g\n", ta, tb, M, N, K, beta, w);
                    worst = fmax(worst, w);
                    runs++;
                }
        /* large enough to take the threaded path, with edge tiles */
        worst = fmax(worst, check(&r, 0, 0, 300, 1000, 300, 1.0f, 0.0f));
        worst = fmax(worst, check(&r, 1, 1, 130, 770, 200, -1.0f, 1.0f));
        worst = fmax(worst, check(&r, 0, 1, 64, 2000, 576, 1.0f, 1.0f));
        runs += 3;
    }
    printf("kn_sgemm (%s) vs loops, %d shapes: worst rel diff %.3g\n",
           kn_sgemm_is_native() ? "AVX-512" : "OpenBLAS", runs, worst);
    /* float sums of up to 385 products: rounding reaches ~2e-5; a slip is O(1) */
    cr_expect(worst < 1e-4);
}
