/* Winograd F(2x2,3x3) (kn_wino.c) against plain double loops: odd map sizes
 * (partial last tiles), pads 0..2, channel counts off the 16-lane vectors,
 * bias or none, written or accumulated, at 1, 2 and 3 threads; then
 * conv2d forward and backward on shapes the dispatcher sends to it. */
#include <omp.h>

#include "kn_conv.h"
#include "kn_gemm.h"
#include "kt_util.h"

typedef struct { int N, C, H, W, OC, pad; } wcfg;

static const wcfg wcfgs[] = {
    {1, 3, 5, 7, 2, 1},   {2, 17, 9, 11, 19, 1}, {3, 16, 6, 5, 16, 0},
    {2, 20, 7, 7, 33, 2}, {1, 5, 1, 1, 3, 1},    {2, 18, 13, 40, 21, 1},
};

/* y (N,OC,OH,OW) = conv(x) + b, 3x3, stride 1, in double */
static void ref3(double *y, const wcfg *c, const float *x, const float *w, const float *b,
                 int OH, int OW) {
    for (int n = 0; n < c->N; n++)
        for (int oc = 0; oc < c->OC; oc++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    double s = b ? b[oc] : 0.0;
                    for (int ci = 0; ci < c->C; ci++)
                        for (int kh = 0; kh < 3; kh++)
                            for (int kw = 0; kw < 3; kw++) {
                                int ih = oh - c->pad + kh, iw = ow - c->pad + kw;
                                if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W) continue;
                                s += (double)x[(((size_t)n * c->C + ci) * c->H + ih) * c->W + iw] *
                                     w[(((size_t)oc * c->C + ci) * 3 + kh) * 3 + kw];
                            }
                    y[(((size_t)n * c->OC + oc) * OH + oh) * OW + ow] = s;
                }
}

/* max |a - b| / max |b|: the error against the output's scale */
static double scaled_err(const float *a, const double *b, size_t n) {
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(a[i] - b[i]);
        if (!(e <= d)) d = e;
        if (fabs(b[i]) > m) m = fabs(b[i]);
    }
    printf("  %-40s %.3g\n", "max |diff| / max |ref|", d / (m > 0 ? m : 1));
    return d / (m > 0 ? m : 1);
}

Test(wino3, matches_loops_odd_sizes_pads_threads) {
    en_rng r; en_rng_seed(&r, 31);
    for (int th = 1; th <= 3; th++) {
        omp_set_num_threads(th);
        printf("-- %d threads\n", th);
        for (size_t i = 0; i < sizeof wcfgs / sizeof *wcfgs; i++) {
            const wcfg *c = &wcfgs[i];
            int OH = c->H + 2 * c->pad - 2, OW = c->W + 2 * c->pad - 2;
            size_t nx = (size_t)c->N * c->C * c->H * c->W, nw = (size_t)c->OC * c->C * 9;
            size_t ny = (size_t)c->N * c->OC * OH * OW;
            cr_assert(kn_wino3_ok(3, 3, 1, c->pad));
            float *x = kt_rand(&r, nx), *w = kt_rand(&r, nw), *b = kt_rand(&r, c->OC);
            float *sc = kt_fill(kn_wino3_scratch_floats(c->N, c->C, c->H, c->W, c->OC, c->pad), NAN);
            float *y = kt_fill(ny, NAN);
            double *ry = malloc(ny * sizeof(double));
            printf("N%d C%d %dx%d OC%d pad %d\n", c->N, c->C, c->H, c->W, c->OC, c->pad);
            ref3(ry, c, x, w, b, OH, OW);
            kn_wino3_forward(y, sc, x, w, b, c->N, c->C, c->H, c->W, c->OC, c->pad, 0);
            /* F(2,3) sums in the transformed domain, where values are a few times
             * larger than the output and cancel: per element its error is ~5-10x
             * the direct sum's (measured ~7e-6 here with N(0,1) data, vs 1e-5 of
             * test_conv.c's bound), while against the output's scale it stays at
             * the direct sum's ~5e-7 (lab_conv3x3) */
            cr_expect(kt_worst_d("wino forward vs loops", y, ry, ny) < 3e-5);
            cr_expect(scaled_err(y, ry, ny) < 2e-6);
            /* acc = 1 without bias adds conv(x) onto what is there */
            for (size_t k = 0; k < ny; k++) y[k] = 2.0f;
            kn_wino3_forward(y, sc, x, w, NULL, c->N, c->C, c->H, c->W, c->OC, c->pad, 1);
            for (size_t k = 0; k < ny; k++)
                ry[k] += 2.0 - b[(k / ((size_t)OH * OW)) % c->OC];
            cr_expect(kt_worst_d("wino accumulated, no bias", y, ry, ny) < 3e-5);
            free(x); free(w); free(b); free(sc); free(y); free(ry);
        }
    }
}

/* Shapes that tile evenly with enough tiles per thread: kn_conv2d_forward
 * takes Winograd, and so does the input gradient (a flipped conv, pad 1 and
 * 2). Checked against the GEMM path with Winograd turned off, which
 * test_conv.c checks against loops and finite differences. */
Test(wino3, conv2d_dispatch_matches_gemm_path) {
    static const wcfg cfgs[] = {{4, 16, 24, 22, 18, 1}, {3, 16, 26, 20, 17, 0}};
    /* Winograd rides on the engine's packed GEMM: under CLIPBOOK_GEMM=blas
     * (or without AVX-512) the dispatcher rightly never takes it */
    kn_gemm_set_path(KN_GEMM_ENGINE);
    if (kn_gemm_active() != KN_GEMM_ENGINE) cr_skip_test("no native GEMM in this build (neither AVX-512 nor AVX2 + FMA)");
    en_rng r; en_rng_seed(&r, 32);
    for (int th = 1; th <= 3; th++) {
        omp_set_num_threads(th);
        for (size_t i = 0; i < sizeof cfgs / sizeof *cfgs; i++) {
            const wcfg *c = &cfgs[i];
            int OH = c->H + 2 * c->pad - 2, OW = c->W + 2 * c->pad - 2;
            size_t nx = (size_t)c->N * c->C * c->H * c->W, nw = (size_t)c->OC * c->C * 9;
            size_t ny = (size_t)c->N * c->OC * OH * OW;
            float *x = kt_rand(&r, nx), *w = kt_rand(&r, nw), *b = kt_rand(&r, c->OC);
            float *g = kt_rand(&r, ny);
            float *y[2], *dx[2], *dw[2], *db[2];
            printf("-- %d threads: N%d C%d %dx%d OC%d pad %d\n", th, c->N, c->C, c->H, c->W,
                   c->OC, c->pad);
            for (int on = 0; on < 2; on++) {
                kn_conv_set_wino(on);
                size_t ns = kn_conv2d_scratch_floats(c->N, c->C, c->H, c->W, c->OC, 3, 3, 1, c->pad);
                float *sc = kt_fill(ns, NAN);
                y[on] = kt_fill(ny, NAN);
                dx[on] = kt_fill(nx, NAN);
                dw[on] = kt_fill(nw, 0.0f);
                db[on] = kt_fill(c->OC, 0.0f);
                kn_conv2d_forward(y[on], sc, x, w, b, c->N, c->C, c->H, c->W, c->OC, 3, 3, 1,
                                  c->pad);
                kn_conv2d_backward(dx[on], dw[on], db[on], sc, g, x, w, c->N, c->C, c->H, c->W,
                                   c->OC, 3, 3, 1, c->pad, 0);
                free(sc);
            }
            kn_conv_set_wino(1);
            /* the two paths round differently: identical bits would mean the
             * dispatcher never took Winograd */
            size_t dfy = 0, dfx = 0;
            for (size_t k = 0; k < ny; k++) dfy += y[1][k] != y[0][k];
            for (size_t k = 0; k < nx; k++) dfx += dx[1][k] != dx[0][k];
            cr_expect(dfy > 0 && dfx > 0, "Winograd not dispatched (%zu, %zu values differ)", dfy, dfx);
            cr_expect(kt_worst("forward, Winograd vs GEMM", y[1], y[0], ny) < 3e-5);
            cr_expect(kt_worst("dinp, Winograd vs GEMM", dx[1], dx[0], nx) < 3e-5);
            cr_expect(kt_worst("dw (same path)", dw[1], dw[0], nw) < 1e-5);
            for (int on = 0; on < 2; on++) { free(y[on]); free(dx[on]); free(dw[on]); free(db[on]); }
            free(x); free(w); free(b); free(g);
        }
    }
}
