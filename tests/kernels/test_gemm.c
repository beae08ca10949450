/* kn_sgemm against a plain double-precision loop: every transpose pair,
 * sizes around the micro-kernel's 8x48 tile and the 256/192/576 blocks, leading
 * dimensions wider than the matrices, alpha and beta (beta = 0 must not let
 * NaNs through), serial and self-threaded paths.
 *
 * The tolerance is the problem's own: a float sum of K products, in any
 * order and blocking, with or without FMA, is within gamma = (K + 2) eps32 of
 * the exact value relative to sum_k |alpha a_k b_k| + |beta c| (Higham,
 * Accuracy and Stability, 3.1; the +2 for alpha folded into A and the beta
 * update). check() returns the worst error in units of that bound, so 1 is
 * the limit on every CPU and kernel, not a margin tuned to one: sums of
 * hundreds of terms use a few percent of it, K = 1 (three or four roundings,
 * each near its worst) up to ~0.65; a wrong index or a lost tile gives
 * errors of order |c| itself, thousands of times the bound. */
#include <float.h>
#include <omp.h>
#include <string.h>

#include "kn_backend.h"
#include "kn_gemm.h"
#include "kt_util.h"

static double check(en_rng *r, int ta, int tb, int M, int N, int K, float alpha, float beta) {
    int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;
    size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
    float *A = kt_rand(r, na), *B = kt_rand(r, nb), *C = kt_rand(r, nc);
    double *ref = malloc(sizeof(double) * nc), *mag = malloc(sizeof(double) * nc);
    for (size_t i = 0; i < nc; i++) ref[i] = C[i];
    if (beta == 0.0f) /* beta = 0 overwrites: garbage (NaN) in C must vanish */
        for (int i = 0; i < M; i++) C[(size_t)i * ldc] = NAN;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0, sa = 0;
            for (int k = 0; k < K; k++) {
                double ab = (double)(ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) *
                            (tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
                s += ab;
                sa += fabs(ab);
            }
            size_t c = (size_t)i * ldc + j;
            mag[c] = (K + 2) * (double)FLT_EPSILON / 2 *
                     (fabs(alpha) * sa + (beta == 0.0f ? 0.0 : fabs(beta * ref[c])));
            ref[c] = alpha * s + (beta == 0.0f ? 0.0 : beta * ref[c]);
        }
    kn_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    double worst = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < ldc; j++) {
            size_t c = (size_t)i * ldc + j;
            /* past column N the padding must be untouched */
            double d = j >= N ? 0 : fabs(C[c] - ref[c]) / (mag[c] + DBL_MIN);
            if (j >= N) d = C[c] == (float)ref[c] ? 0 : INFINITY;
            if (!(d <= worst)) worst = d;
        }
    free(A); free(B); free(C); free(ref); free(mag);
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
                    if (w > 1) printf("  ta%d tb%d M%d N%d K%d beta %g: %.3g\n", ta, tb, M, N, K, beta, w);
                    worst = fmax(worst, w);
                    runs++;
                }
        /* large enough to take the threaded path, with edge tiles */
        worst = fmax(worst, check(&r, 0, 0, 300, 1000, 300, 1.0f, 0.0f));
        worst = fmax(worst, check(&r, 1, 1, 130, 770, 200, -1.0f, 1.0f));
        worst = fmax(worst, check(&r, 0, 1, 64, 2000, 576, 1.0f, 1.0f));
        runs += 3;
    }
    printf("kn_sgemm (%s) vs loops, %d shapes: worst error %.3g of the rounding bound\n",
           kn_gemm_active_name(), runs, worst);
    cr_expect(worst <= 1, "error %g times the float rounding bound", worst);
}

/* Each GEMM path forced in turn (CLIPBOOK_GEMM's two values) against the
 * same double loops: the engine's kernel (AVX-512 or AVX2) and cblas_sgemm with whatever
 * OPENBLAS_CORETYPE selects, serial and threaded. The paths must really
 * differ (a different summation order leaves some output bits different),
 * or the switch would be testing one path twice. */
static double run_path(kn_gemm_path p, float *out, size_t *n_out) {
    kn_gemm_set_path(p);
    en_rng r; en_rng_seed(&r, 52);
    double worst = 0;
    for (int th = 1; th <= 2; th++) {
        omp_set_num_threads(th);
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                worst = fmax(worst, check(&r, ta, tb, 13, 49, 193, 0.7f, 0.0f));
                worst = fmax(worst, check(&r, ta, tb, 260, 769, 385, -1.0f, 1.0f));
            }
    }
    /* one product kept, to compare the paths bit for bit */
    enum { M = 64, N = 100, K = 385 };
    float *A = kt_rand(&r, M * K), *B = kt_rand(&r, K * N);
    kn_sgemm(0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, out, N);
    *n_out = M * N;
    free(A); free(B);
    return worst;
}

Test(gemm, each_path_matches_loops) {
    static float c_engine[64 * 100], c_blas[64 * 100];
    size_t n = 0;
    double we = 0;
    int native = KN_GEMM_NATIVE;
    if (native) {
        we = run_path(KN_GEMM_ENGINE, c_engine, &n);
        cr_assert_eq(kn_gemm_active(), KN_GEMM_ENGINE, "engine forced but %s runs", kn_gemm_active_name());
        cr_expect(kn_sgemm_is_native());
    }
    double wb = run_path(KN_GEMM_BLAS, c_blas, &n);
    cr_assert_eq(kn_gemm_active(), KN_GEMM_BLAS, "blas forced but %s runs", kn_gemm_active_name());
    cr_expect(!kn_sgemm_is_native(), "the convolutions would still take the packed kernel");
    printf("forced paths vs loops, worst error in units of the rounding bound: engine%s %.3g, blas %.3g\n",
           native ? "" : " (not built)", we, wb);
    cr_expect(we <= 1 && wb <= 1, "engine %g, blas %g", we, wb);
    if (native) {
        size_t differ = 0;
        for (size_t i = 0; i < n; i++) differ += c_engine[i] != c_blas[i];
        cr_expect(differ > 0, "engine and blas gave the same bits: is the switch switching?");
    }
}

/* CLIPBOOK_GEMM is read at the first GEMM of a process (each Criterion
 * test is a fresh process); a bad value falls back to auto. */
Test(gemm, env_selects_path) {
    setenv("CLIPBOOK_GEMM", "blas", 1);
    cr_assert_eq(kn_gemm_active(), KN_GEMM_BLAS);
    kn_gemm_path p = KN_GEMM_AUTO;
    cr_assert(kn_gemm_path_parse("engine", &p) && p == KN_GEMM_ENGINE);
    cr_assert(kn_gemm_path_parse("auto", &p) && p == KN_GEMM_AUTO);
    cr_assert(!kn_gemm_path_parse("BLAS ", &p));
}

/* Either path gives the same bits at any thread count (the engine's
 * determinism contract): OpenBLAS alone does not (a 70x33 weight gradient
 * over 1024 rows differs between 1 and 2 of its threads), so the blas path
 * runs it on one thread over fixed tiles. Shapes: that gradient, and one
 * large enough to be tiled and threaded. */
Test(gemm, same_bits_any_thread_count) {
    static const int shapes[][5] = {{1, 0, 70, 33, 1024}, {0, 0, 300, 1000, 300}, {0, 1, 520, 700, 64}};
    for (int p = 0; p < 2; p++) {
        kn_gemm_set_path(p == 0 ? KN_GEMM_ENGINE : KN_GEMM_BLAS);
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
            int ta = shapes[s][0], tb = shapes[s][1], M = shapes[s][2], N = shapes[s][3], K = shapes[s][4];
            en_rng r; en_rng_seed(&r, 53);
            float *A = kt_rand(&r, (size_t)M * K), *B = kt_rand(&r, (size_t)K * N);
            float *C[2];
            for (int t = 0; t < 2; t++) {
                kn_set_num_threads(t + 1); /* OpenMP's and OpenBLAS's, as en_set_num_threads */
                C[t] = kt_fill((size_t)M * N, 0.0f);
                kn_sgemm(ta, tb, M, N, K, 1.0f, A, ta ? M : K, B, tb ? K : N, 0.0f, C[t], N);
            }
            size_t differ = 0;
            for (size_t i = 0; i < (size_t)M * N; i++) differ += C[0][i] != C[1][i];
            printf("%s M%d N%d K%d: %zu values differ between 1 and 2 threads\n", kn_gemm_active_name(), M, N, K, differ);
            cr_expect_eq(differ, 0, "%s: %zu values differ between 1 and 2 threads", kn_gemm_active_name(), differ);
            free(A); free(B); free(C[0]); free(C[1]);
        }
    }
}

/* With alpha = 1 the engine's kernel reads A where it lies (no packing) and
 * narrow column tails run a 16- or 32-column micro-kernel; a pre-packed A
 * (kn_sgemm_pack_a) runs the packed kernels. Both must give the same bits
 * (same FMAs, same k order): widths around the 16-column vectors, row tails
 * past the 8-row panels, K across the 192 block, A transposed or not. */
Test(gemm, in_place_a_same_bits_as_packed) {
    kn_gemm_set_path(KN_GEMM_ENGINE);
    if (!kn_sgemm_is_native()) { printf("skip: the engine kernel is not built for this CPU\n"); return; }
    static const int Ms[] = {8, 13, 64, 300}, Ns[] = {1, 16, 17, 32, 33, 48, 64, 100, 192}, Ks[] = {1, 64, 200};
    size_t differ = 0, n = 0;
    for (int ta = 0; ta < 2; ta++)
        for (size_t a = 0; a < sizeof Ms / sizeof *Ms; a++)
            for (size_t b = 0; b < sizeof Ns / sizeof *Ns; b++)
                for (size_t c = 0; c < sizeof Ks / sizeof *Ks; c++) {
                    int M = Ms[a], N = Ns[b], K = Ks[c], lda = (ta ? M : K) + 3;
                    en_rng r; en_rng_seed(&r, 59);
                    float *A = kt_rand(&r, (size_t)(ta ? K : M) * lda), *B = kt_rand(&r, (size_t)K * N);
                    float *C0 = kt_fill((size_t)M * N, 0.5f), *C1 = kt_fill((size_t)M * N, 0.5f);
                    float *Ap = malloc(kn_sgemm_packed_a_floats(M, K) * sizeof *Ap);
                    kn_sgemm(ta, 0, M, N, K, 1.0f, A, lda, B, N, 1.0f, C0, N);
                    kn_sgemm_pack_a(Ap, ta, M, K, 1.0f, A, lda);
                    kn_sgemm_prepacked_a(M, N, K, Ap, B, N, 1.0f, C1, N);
                    for (size_t i = 0; i < (size_t)M * N; i++) differ += memcmp(&C0[i], &C1[i], sizeof *C0) != 0;
                    n += (size_t)M * N;
                    free(A); free(B); free(C0); free(C1); free(Ap);
                }
    printf("in-place A against packed A: %zu of %zu values differ\n", differ, n);
    cr_expect_eq(differ, 0, "%zu of %zu values differ between A read in place and packed", differ, n);
}

/* ---- shape classes and the measured choice (kn_gemm.h) ------------------ */

Test(gemm, shape_classes) {
    cr_expect_eq(kn_gemm_class_of(64, 128, 256), KN_GC_SMALL);     /* M*N*K = 2.1e6 */
    cr_expect_eq(kn_gemm_class_of(160, 160, 156), KN_GC_SMALL);    /* 3.99e6, at the bound */
    cr_expect_eq(kn_gemm_class_of(160, 160, 160), KN_GC_LARGE);
    cr_expect_eq(kn_gemm_class_of(1024, 100, 512), KN_GC_SKINNY);  /* few-shot logits */
    cr_expect_eq(kn_gemm_class_of(100, 512, 1024), KN_GC_SKINNY);  /* their weight gradient */
    cr_expect_eq(kn_gemm_class_of(128, 784, 1152), KN_GC_LARGE);   /* RN50 3x3, 128@28x28 */
    cr_expect_eq(kn_gemm_class_of(1600, 3072, 768), KN_GC_LARGE);  /* ViT-B/32 fc1, batch 32 */
    kn_gemm_choice c, d;
    cr_assert(kn_gemm_choice_parse("small=engine skinny=blas large=engine\n", &c));
    cr_expect(c.path[KN_GC_SMALL] == KN_GEMM_ENGINE && c.path[KN_GC_SKINNY] == KN_GEMM_BLAS &&
              c.path[KN_GC_LARGE] == KN_GEMM_ENGINE);
    char buf[128];
    kn_gemm_choice_format(&c, buf, sizeof buf);
    cr_expect_str_eq(buf, "small=engine skinny=blas large=engine");
    cr_assert(kn_gemm_choice_parse(buf, &d) && memcmp(c.path, d.path, sizeof c.path) == 0);
    const char *bad[] = {"", "small=engine skinny=blas", "small=engine skinny=blas large=engine x",
                         "skinny=blas small=engine large=engine", "small=auto skinny=blas large=engine",
                         "small=enginex skinny=blas large=engine"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect(!kn_gemm_choice_parse(bad[i], &d), "'%s' parsed", bad[i]);
}

/* One product of each class under a mixed choice gives the bits of the path
 * its class names, forced alone: the choice is per class and nothing else
 * (no per-call timing, no thread count) decides a path. */
Test(gemm, mixed_choice_per_class) {
#if !KN_GEMM_NATIVE
    cr_skip_test("no native GEMM in this build (neither AVX-512 nor AVX2 + FMA): every class is blas");
#endif
    static const int shapes[KN_GC_COUNT][5] = {{0, 0, 64, 96, 200}, {0, 1, 700, 100, 384}, {0, 0, 300, 500, 385}};
    kn_gemm_choice mixes[2] = {{{KN_GEMM_BLAS, KN_GEMM_ENGINE, KN_GEMM_BLAS}, {0}, {0}, {0}},
                               {{KN_GEMM_ENGINE, KN_GEMM_BLAS, KN_GEMM_ENGINE}, {0}, {0}, {0}}};
    kn_gemm_path forced = kn_gemm_forced();
    if (forced != KN_GEMM_AUTO) {
        /* CLIPBOOK_GEMM (make test-matrix) forces every class: an installed
         * mixed choice must not move any of them */
        for (int m = 0; m < 2; m++) {
            kn_gemm_set_path(KN_GEMM_AUTO);
            kn_gemm_set_choice(&mixes[m]);
            for (int c = 0; c < KN_GC_COUNT; c++)
                cr_expect_eq(kn_gemm_path_for(shapes[c][2], shapes[c][3], shapes[c][4]), forced,
                             "CLIPBOOK_GEMM forces %s, yet class %s took the mixed choice's path",
                             forced == KN_GEMM_ENGINE ? "engine" : "blas", kn_gemm_class_name((kn_gemm_class)c));
        }
        printf("mixed choice under CLIPBOOK_GEMM=%s: every class keeps the forced path\n",
               forced == KN_GEMM_ENGINE ? "engine" : "blas");
        return;
    }
    for (int m = 0; m < 2; m++) {
        size_t differ_other = 0;
        for (int c = 0; c < KN_GC_COUNT; c++) {
            int ta = shapes[c][0], tb = shapes[c][1], M = shapes[c][2], N = shapes[c][3], K = shapes[c][4];
            cr_assert_eq(kn_gemm_class_of(M, N, K), (kn_gemm_class)c);
            en_rng r; en_rng_seed(&r, 54);
            float *A = kt_rand(&r, (size_t)M * K), *B = kt_rand(&r, (size_t)K * N), *C[3];
            kn_gemm_path order[3] = {KN_GEMM_AUTO, KN_GEMM_ENGINE, KN_GEMM_BLAS};
            for (int i = 0; i < 3; i++) {
                kn_gemm_set_path(order[i]);
                if (i == 0) kn_gemm_set_choice(&mixes[m]);
                C[i] = kt_fill((size_t)M * N, 0.0f);
                kn_sgemm(ta, tb, M, N, K, 1.0f, A, ta ? M : K, B, tb ? K : N, 0.0f, C[i], N);
            }
            kn_gemm_set_path(KN_GEMM_AUTO);
            cr_expect_eq(kn_gemm_path_for(M, N, K), mixes[m].path[c]);
            const float *want = mixes[m].path[c] == KN_GEMM_ENGINE ? C[1] : C[2];
            const float *other = mixes[m].path[c] == KN_GEMM_ENGINE ? C[2] : C[1];
            size_t differ = 0;
            for (size_t i = 0; i < (size_t)M * N; i++) {
                differ += C[0][i] != want[i];
                differ_other += C[0][i] != other[i];
            }
            printf("mix %d, class %s: %zu values differ from the forced %s path\n", m,
                   kn_gemm_class_name((kn_gemm_class)c), differ, mixes[m].path[c] == KN_GEMM_ENGINE ? "engine" : "blas");
            cr_expect_eq(differ, 0, "class %s did not take its path", kn_gemm_class_name((kn_gemm_class)c));
            free(A); free(B); free(C[0]); free(C[1]); free(C[2]);
        }
        cr_expect(differ_other > 0, "the two paths gave the same bits everywhere: the test cannot tell them apart");
        kn_gemm_set_choice(&mixes[m]);
        cr_expect_eq(kn_gemm_active(), KN_GEMM_AUTO, "a mixed choice reads as mixed");
        cr_expect(kn_sgemm_is_native(), "a measured choice must leave the convolutions on the packed kernel");
        cr_expect_eq(kn_gemm_uses_blas(), 1);
    }
}

/* The calibration times both paths of every class and picks by the stated
 * rule; CLIPBOOK_GEMM still overrides what is installed. */
Test(gemm, calibrate_and_force) {
    kn_gemm_choice c;
    kn_gemm_calibrate(&c);
    for (int k = 0; k < KN_GC_COUNT; k++) {
        printf("calibration %s: engine %.3f ms, blas %.3f ms -> %s\n", kn_gemm_class_name((kn_gemm_class)k),
               c.engine_ms[k], c.blas_ms[k], c.path[k] == KN_GEMM_ENGINE ? "engine" : "blas");
#if KN_GEMM_NATIVE
        cr_expect(c.engine_ms[k] > 0 && c.blas_ms[k] > 0, "class %d not timed", k);
        cr_expect(c.path[k] == KN_GEMM_ENGINE || c.path[k] == KN_GEMM_BLAS);
#else
        cr_expect_eq(c.path[k], KN_GEMM_BLAS);
#endif
    }
    int mc, kc, nc;
    kn_gemm_blocking(&mc, &kc, &nc);
    printf("blocking MC %d KC %d NC %d\n", mc, kc, nc);
#if KN_GEMM_NATIVE
    cr_expect(kc == 192 && mc % 8 == 0 && nc % KN_GEMM_NR == 0 && mc >= 64 && nc >= 2 * KN_GEMM_NR);
#endif
    setenv("CLIPBOOK_GEMM", "blas", 1);
    cr_expect_eq(kn_gemm_forced(), KN_GEMM_BLAS);
    kn_gemm_choice all_engine = {{KN_GEMM_ENGINE, KN_GEMM_ENGINE, KN_GEMM_ENGINE}, {0}, {0}, {0}};
    kn_gemm_set_choice(&all_engine);
    cr_expect_eq(kn_gemm_active(), KN_GEMM_BLAS, "CLIPBOOK_GEMM=blas must win over an installed choice");
}

/* Whatever the calibration picks, a row of a product has the same bits in a
 * call of fewer rows (the engine encodes batches in chunks and promises the
 * rows of one call): on shapes of each class, the first m rows of A B alone
 * against the whole product. OpenBLAS's small-matrix kernels (its SkylakeX
 * and Cooperlake builds) break this, and the calibration must then keep the
 * engine's kernel for that class. */
Test(gemm, calibrated_choice_keeps_rows_bits) {
    kn_gemm_choice c;
    kn_gemm_calibrate(&c);
    kn_gemm_set_choice(&c);
    for (int k = 0; k < KN_GC_COUNT; k++)
        printf("calibration %s -> %s%s\n", kn_gemm_class_name((kn_gemm_class)k),
               c.path[k] == KN_GEMM_ENGINE ? "engine" : "blas",
               c.blas_rows_differ[k] ? " (blas rows change with the batch)" : "");
    static const int shapes[][5] = { /* ta, tb, M, N, K: one per class, as the towers call them */
        {0, 1, 64, 128, 256}, {0, 1, 96, 64, 64}, {0, 1, 1024, 100, 512}, {0, 1, 256, 768, 768}};
    en_rng r;
    en_rng_seed(&r, 77);
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int ta = shapes[s][0], tb = shapes[s][1], M = shapes[s][2], N = shapes[s][3], K = shapes[s][4];
        float *A = kt_rand(&r, (size_t)M * K), *B = kt_rand(&r, (size_t)K * N);
        float *W = kt_fill((size_t)M * N, 0), *P = kt_fill((size_t)M * N, 0);
        kn_sgemm(ta, tb, M, N, K, 1.0f, A, ta ? M : K, B, tb ? K : N, 0.0f, W, N);
        int bad = 0;
        for (int m = 1; m < M; m = m < 4 ? m + 1 : 2 * m + 1) {
            kn_sgemm(ta, tb, m, N, K, 1.0f, A, ta ? M : K, B, tb ? K : N, 0.0f, P, N);
            if (memcmp(P, W, sizeof(float) * (size_t)m * N)) bad = m;
        }
        printf("  %dx%dx%d (%s): rows of calls of fewer rows %s\n", M, N, K,
               kn_gemm_class_name(kn_gemm_class_of(M, N, K)), bad ? "DIFFER" : "identical");
        cr_expect(!bad, "%dx%dx%d: the first %d rows alone differ from the whole product's", M, N, K, bad);
        free(A); free(B); free(W); free(P);
    }
    kn_gemm_choice all_engine = {{KN_GEMM_ENGINE, KN_GEMM_ENGINE, KN_GEMM_ENGINE}, {0}, {0}, {0}};
    kn_gemm_set_choice(&all_engine);
}
