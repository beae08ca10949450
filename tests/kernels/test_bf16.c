/* kn_bf16_gemm against a double-precision reference, two ways:
 *
 * 1. against the float32 product of the unrounded inputs, the accuracy a
 *    user gets: each product a·b is off by at most (2u + u^2)|a b| from the
 *    inputs' rounding to bfloat16 (u = 2^-8: 8 significant bits), and the
 *    float32 sum of K terms by (K + 2) eps32 of sum |a b| (as test_gemm), so
 *    the bound is (2u + u^2 + (K + 2) eps32) sum_k |a_k b_k|; the test prints
 *    the worst error in units of it (1 is the limit on any CPU);
 * 2. against the exact product of the rounded inputs, which isolates the
 *    kernel (indexing, panels, masks): within (K + 2) eps32 sum |a b|.
 *
 * Sizes straddle the 8-row and 32-column tiles, the 64-row blocks and odd
 * K (a pair half zero). A CPU without AVX512_BF16 skips, saying so. */
#include <float.h>
#include <omp.h>
#include <stdint.h>

#include "kn_bf16.h"
#include "kt_util.h"

static void worst_of(en_rng *r, int M, int N, int K, float beta, int threads, double *w_user, double *w_kernel) {
    int lda = K + 3, ldw = K + 1, ldc = N + 5;
    float *A = kt_rand(r, (size_t)M * lda), *W = kt_rand(r, (size_t)N * ldw), *C = kt_rand(r, (size_t)M * ldc);
    float *C0 = malloc(sizeof(float) * (size_t)M * ldc);
    memcpy(C0, C, sizeof(float) * (size_t)M * ldc);
    uint16_t *Wp = malloc(sizeof(uint16_t) * kn_bf16_packed_size(N, K));
    kn_bf16_pack_w(Wp, W, ldw, N, K);
    omp_set_num_threads(threads);
    kn_bf16_gemm(M, N, K, A, lda, Wp, beta, C, ldc);
    const double u = 1.0 / 256, e32 = FLT_EPSILON / 2;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < ldc; j++) {
            size_t c = (size_t)i * ldc + j;
            if (j >= N) { /* padding untouched */
                if (C[c] != C0[c]) *w_kernel = INFINITY;
                continue;
            }
            double exact = 0, rounded = 0, mag = 0, rmag = 0;
            for (int k = 0; k < K; k++) {
                double a = A[(size_t)i * lda + k], b = W[(size_t)j * ldw + k];
                double ra = kn_bf16_to_f32(kn_bf16_from_f32((float)a)), rb = kn_bf16_to_f32(kn_bf16_from_f32((float)b));
                exact += a * b; mag += fabs(a * b);
                rounded += ra * rb; rmag += fabs(ra * rb);
            }
            double base = beta != 0.0f ? C0[c] : 0.0;
            double bu = (2 * u + u * u + (K + 2) * e32) * mag + 2 * e32 * fabs(base) + DBL_MIN;
            double bk = (K + 2) * e32 * rmag + 2 * e32 * fabs(base) + DBL_MIN;
            double du = fabs(C[c] - (exact + base)) / bu, dk = fabs(C[c] - (rounded + base)) / bk;
            if (!(du <= *w_user)) *w_user = du;
            if (!(dk <= *w_kernel)) *w_kernel = dk;
        }
    free(A); free(W); free(C); free(C0); free(Wp);
}

Test(bf16, matches_fp32_within_bf16_rounding) {
    if (!kn_bf16_available()) cr_skip_test("%s", kn_bf16_unavailable_reason());
    static const int shapes[][3] = {{1, 1, 1}, {7, 31, 33}, {8, 32, 64}, {9, 33, 65}, {65, 100, 512},
                                    {130, 77, 768}, {64, 512, 3}, {200, 257, 300}};
    en_rng r; en_rng_seed(&r, 61);
    double wu = 0, wk = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int beta = 0; beta < 2; beta++)
            for (int t = 1; t <= 2; t++)
                worst_of(&r, shapes[s][0], shapes[s][1], shapes[s][2], (float)beta, t, &wu, &wk);
    printf("bf16 GEMM, worst error: %.3g of the bf16 + float32 bound (vs float32 inputs), "
           "%.3g of the float32 bound (vs the rounded inputs)\n", wu, wk);
    cr_expect(wu <= 1, "error %g times the bf16 bound", wu);
    cr_expect(wk <= 1, "error %g times the float32 bound on the rounded inputs: a kernel fault", wk);
}

/* every value is one fixed-order sum: the same bits at 1 and 2 threads */
Test(bf16, same_bits_any_thread_count) {
    if (!kn_bf16_available()) cr_skip_test("%s", kn_bf16_unavailable_reason());
    enum { M = 300, N = 200, K = 384 };
    en_rng r; en_rng_seed(&r, 62);
    float *A = kt_rand(&r, (size_t)M * K), *W = kt_rand(&r, (size_t)N * K);
    uint16_t *Wp = malloc(sizeof(uint16_t) * kn_bf16_packed_size(N, K));
    kn_bf16_pack_w(Wp, W, K, N, K);
    float *C[2];
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        C[t] = kt_fill((size_t)M * N, 0.0f);
        kn_bf16_gemm(M, N, K, A, K, Wp, 0.0f, C[t], N);
    }
    size_t differ = 0;
    for (size_t i = 0; i < (size_t)M * N; i++) differ += C[0][i] != C[1][i];
    printf("bf16 GEMM: %zu values differ between 1 and 2 threads\n", differ);
    cr_expect_eq(differ, 0);
    free(A); free(W); free(Wp); free(C[0]); free(C[1]);
}

Test(bf16, rounding) {
    cr_expect_eq(kn_bf16_from_f32(1.0f), 0x3f80);
    cr_expect_eq(kn_bf16_from_f32(1.0f + 1.0f / 256), 0x3f80, "a tie rounds to even (down)");
    cr_expect_eq(kn_bf16_from_f32(1.0f + 3.0f / 256), 0x3f82, "a tie rounds to even (up)");
    cr_expect_eq(kn_bf16_from_f32(-2.5f), 0xc020);
    cr_expect(isnan(kn_bf16_to_f32(kn_bf16_from_f32(NAN))));
    cr_expect(isinf(kn_bf16_to_f32(kn_bf16_from_f32(INFINITY))));
}
