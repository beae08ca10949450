/* conv2d and conv_transpose2d kernels: forward and backward against plain
 * double-precision loops, backward against central finite differences, and
 * both against PyTorch fixtures. */
#include <omp.h>
#include <string.h>

#include "kn_conv.h"
#include "kt_util.h"
#include "torch_fixtures.h"

typedef struct { int N, C, H, W, OC, KH, KW, stride, pad, outpad; } conv_cfg;

/* Exercises odd sizes, strides, paddings, non-square kernels, the 1x1 path
 * and image groups that do not divide the batch (P = 1024 → 2 per GEMM). */
static const conv_cfg conv_cfgs[] = {
    {2, 3, 7, 6, 4, 3, 3, 2, 1, 0},  {3, 2, 5, 5, 3, 1, 1, 1, 0, 0},
    {1, 4, 9, 8, 5, 3, 2, 1, 0, 0},  {3, 2, 32, 32, 3, 3, 3, 1, 1, 0},
    {2, 3, 11, 9, 2, 5, 5, 3, 2, 0}, {2, 2, 46, 46, 3, 1, 1, 1, 0, 0},
    {2, 3, 8, 8, 2, 1, 1, 2, 0, 0},  {1, 3, 6, 5, 4, 1, 1, 1, 0, 0},
    /* stride 1, square: dinp by the flipped-kernel convolution */
    {1, 3, 9, 7, 4, 3, 3, 1, 1, 0},  {2, 2, 8, 9, 3, 5, 5, 1, 2, 0},
    {2, 2, 6, 7, 3, 3, 3, 1, 0, 0},
};
static const conv_cfg convt_cfgs[] = {
    {2, 3, 4, 5, 2, 3, 3, 2, 1, 1}, {3, 2, 5, 4, 3, 4, 4, 2, 1, 0},
    {1, 3, 3, 3, 2, 2, 3, 1, 0, 0}, {3, 2, 32, 33, 2, 3, 3, 1, 1, 0},
    {2, 2, 5, 3, 3, 3, 3, 3, 0, 2},
};

typedef struct {
    conv_cfg c;
    int transposed;
    float *x, *w, *b, *scratch;
} conv_ctx;

static void fwd(void *p, float *out) {
    conv_ctx *k = p;
    conv_cfg c = k->c;
    if (k->transposed)
        kn_convt2d_forward(out, k->scratch, k->x, k->w, k->b, c.N, c.C, c.H, c.W, c.OC,
                           c.KH, c.KW, c.stride, c.pad, c.outpad);
    else
        kn_conv2d_forward(out, k->scratch, k->x, k->w, k->b, c.N, c.C, c.H, c.W, c.OC,
                          c.KH, c.KW, c.stride, c.pad);
}

/* Plain loops in double: y = conv(x), and the three gradients for dy = g.
 * A transposed conv is the same sum with the roles of x and y swapped. */
static void naive(const conv_cfg *c, int transposed, const float *x, const float *w,
                  const float *b, const float *g, double *y, double *dx, double *dw,
                  double *db, int OH, int OW) {
    int N = c->N, C = c->C, H = c->H, W = c->W, OC = c->OC, KH = c->KH, KW = c->KW;
    for (int n = 0; n < N; n++)
        for (int oc = 0; oc < OC; oc++)
            for (int i = 0; i < OH * OW; i++) {
                y[(n * OC + oc) * OH * OW + i] = b[oc];
                db[oc] += g[(n * OC + oc) * OH * OW + i];
            }
    /* conv: small grid = output (OH,OW), big = input (H,W); transposed: reversed */
    int SH = transposed ? H : OH, SW = transposed ? W : OW;
    int BH = transposed ? OH : H, BW = transposed ? OW : W;
    for (int n = 0; n < N; n++)
        for (int oc = 0; oc < OC; oc++)
            for (int c_ = 0; c_ < C; c_++)
                for (int kh = 0; kh < KH; kh++)
                    for (int kw = 0; kw < KW; kw++)
                        for (int sh = 0; sh < SH; sh++)
                            for (int sw = 0; sw < SW; sw++) {
                                int bh = sh * c->stride - c->pad + kh;
                                int bw = sw * c->stride - c->pad + kw;
                                if (bh < 0 || bh >= BH || bw < 0 || bw >= BW) continue;
                                size_t xi, yi, wi;
                                if (!transposed) {
                                    xi = ((size_t)(n * C + c_) * H + bh) * W + bw;
                                    yi = ((size_t)(n * OC + oc) * OH + sh) * OW + sw;
                                    wi = ((size_t)(oc * C + c_) * KH + kh) * KW + kw;
                                } else {
                                    xi = ((size_t)(n * C + c_) * H + sh) * W + sw;
                                    yi = ((size_t)(n * OC + oc) * OH + bh) * OW + bw;
                                    wi = ((size_t)(c_ * OC + oc) * KH + kh) * KW + kw;
                                }
                                y[yi] += (double)x[xi] * w[wi];
                                dx[xi] += (double)g[yi] * w[wi];
                                dw[wi] += (double)g[yi] * x[xi];
                            }
}

static void check_cfg(const conv_cfg *c, int transposed, en_rng *r) {
    int OH = transposed ? kn_convt_out_size(c->H, c->KH, c->stride, c->pad, c->outpad)
                        : kn_conv_out_size(c->H, c->KH, c->stride, c->pad);
    int OW = transposed ? kn_convt_out_size(c->W, c->KW, c->stride, c->pad, c->outpad)
                        : kn_conv_out_size(c->W, c->KW, c->stride, c->pad);
    size_t nx = (size_t)c->N * c->C * c->H * c->W, nw = (size_t)c->OC * c->C * c->KH * c->KW;
    size_t ny = (size_t)c->N * c->OC * OH * OW;
    size_t ns = transposed ? kn_convt2d_scratch_floats(c->N, c->C, c->H, c->W, c->OC, c->KH,
                                                       c->KW, c->stride, c->pad, c->outpad)
                           : kn_conv2d_scratch_floats(c->N, c->C, c->H, c->W, c->OC, c->KH,
                                                      c->KW, c->stride, c->pad);
    conv_ctx k = {*c, transposed, kt_rand(r, nx), kt_rand(r, nw), kt_rand(r, c->OC),
                  kt_fill(ns, NAN)};
    float *y = kt_fill(ny, NAN), *g = kt_rand(r, ny);
    double *ry = calloc(ny, sizeof(double)), *rdx = calloc(nx, sizeof(double));
    double *rdw = calloc(nw, sizeof(double)), *rdb = calloc(c->OC, sizeof(double));
    naive(c, transposed, k.x, k.w, k.b, g, ry, rdx, rdw, rdb, OH, OW);
    printf("%s N%d C%d %dx%d OC%d k%dx%d s%d p%d op%d\n", transposed ? "convt" : "conv",
           c->N, c->C, c->H, c->W, c->OC, c->KH, c->KW, c->stride, c->pad, c->outpad);
    fwd(&k, y);
    cr_expect(kt_worst_d("forward vs loops", y, ry, ny) < 1e-5);

    /* dinp is written over garbage; dw, db accumulate onto 0.5 */
    float *dx = kt_fill(nx, NAN), *dw = kt_fill(nw, 0.5f), *db = kt_fill(c->OC, 0.5f);
    if (transposed)
        kn_convt2d_backward(dx, dw, db, k.scratch, g, k.x, k.w, c->N, c->C, c->H, c->W,
                            c->OC, c->KH, c->KW, c->stride, c->pad, c->outpad, 0);
    else
        kn_conv2d_backward(dx, dw, db, k.scratch, g, k.x, k.w, c->N, c->C, c->H, c->W,
                           c->OC, c->KH, c->KW, c->stride, c->pad, 0);
    for (size_t i = 0; i < nw; i++) dw[i] -= 0.5f;
    for (int i = 0; i < c->OC; i++) db[i] -= 0.5f;
    /* float sums over up to ~3,000 terms: 1e-4 still catches any indexing slip */
    cr_expect(kt_worst_d("dinp vs loops", dx, rdx, nx) < 1e-4);
    cr_expect(kt_worst_d("dw vs loops", dw, rdw, nw) < 1e-4);
    cr_expect(kt_worst_d("db vs loops", db, rdb, c->OC) < 1e-4);

    /* conv is bilinear, so central differences are exact up to rounding */
    cr_expect(kt_gradcheck("dinp", k.x, nx, dx, fwd, &k, y, g, ny, 1e-2f, 24, r) < 2e-3);
    cr_expect(kt_gradcheck("dw", k.w, nw, dw, fwd, &k, y, g, ny, 1e-2f, 24, r) < 2e-3);
    cr_expect(kt_gradcheck("db", k.b, c->OC, db, fwd, &k, y, g, ny, 1e-2f, -1, r) < 2e-3);

    /* NULL gradients are skipped; acc = 1 adds dinp onto what is there */
    float *dx2 = kt_fill(nx, 1.0f);
    if (transposed)
        kn_convt2d_backward(dx2, NULL, NULL, k.scratch, g, k.x, k.w, c->N, c->C, c->H,
                            c->W, c->OC, c->KH, c->KW, c->stride, c->pad, c->outpad, 1);
    else
        kn_conv2d_backward(dx2, NULL, NULL, k.scratch, g, k.x, k.w, c->N, c->C, c->H, c->W,
                           c->OC, c->KH, c->KW, c->stride, c->pad, 1);
    for (size_t i = 0; i < nx; i++) dx2[i] -= 1.0f;
    /* added inside the GEMM's k blocks: rounding differs slightly from writing */
    cr_expect(kt_worst("dinp alone, accumulated", dx2, dx, nx) < 1e-5);
    /* a NULL bias means zero: the result is the biased one minus b */
    float *bias = k.b;
    k.b = NULL;
    fwd(&k, y);
    for (size_t i = 0; i < ny; i++) ry[i] -= bias[(i / ((size_t)OH * OW)) % c->OC];
    cr_expect(kt_worst_d("forward without bias", y, ry, ny) < 1e-5);
    free(bias);
    free(dx2);
    free(k.x); free(k.w); free(k.scratch); free(y); free(g);
    free(ry); free(rdx); free(rdw); free(rdb); free(dx); free(dw); free(db);
}

/* 1, 2 and 3 threads: the loop plan, batch slices (N >= threads) and the
 * pixel split (N < threads) all run, whatever the machine; each with the
 * implicit im2col (native GEMM) and with the stored column matrix. */
Test(conv2d, matches_loops_and_finite_differences) {
    en_rng r; en_rng_seed(&r, 11);
    for (int implicit = 0; implicit < 2; implicit++)
        for (int th = 1; th <= 3; th++) {
            omp_set_num_threads(th);
            kn_conv_set_implicit(implicit);
            printf("-- %d threads, implicit im2col %d\n", th, implicit);
            for (size_t i = 0; i < sizeof conv_cfgs / sizeof *conv_cfgs; i++)
                check_cfg(&conv_cfgs[i], 0, &r);
        }
}

Test(conv_transpose2d, matches_loops_and_finite_differences) {
    en_rng r; en_rng_seed(&r, 12);
    for (int th = 1; th <= 3; th++) {
        omp_set_num_threads(th);
        printf("-- %d threads\n", th);
        for (size_t i = 0; i < sizeof convt_cfgs / sizeof *convt_cfgs; i++) check_cfg(&convt_cfgs[i], 1, &r);
    }
}

Test(conv2d, matches_torch) {
    float y[sizeof fx_conv_y / sizeof(float)], dx[sizeof fx_conv_x / sizeof(float)];
    float dw[sizeof fx_conv_w / sizeof(float)] = {0}, db[4] = {0};
    float scratch[4096];
    cr_assert(kn_conv2d_scratch_floats(2, 3, 7, 6, 4, 3, 3, 2, 1) <= 4096);
    kn_conv2d_forward(y, scratch, fx_conv_x, fx_conv_w, fx_conv_b, 2, 3, 7, 6, 4, 3, 3, 2, 1);
    cr_expect(kt_worst("conv2d forward vs torch", y, fx_conv_y, sizeof y / sizeof *y) < 1e-5);
    kn_conv2d_backward(dx, dw, db, scratch, fx_conv_g, fx_conv_x, fx_conv_w, 2, 3, 7, 6, 4,
                       3, 3, 2, 1, 0);
    cr_expect(kt_worst("conv2d dinp vs torch", dx, fx_conv_dx, sizeof dx / sizeof *dx) < 1e-5);
    cr_expect(kt_worst("conv2d dw vs torch", dw, fx_conv_dw, sizeof dw / sizeof *dw) < 1e-5);
    cr_expect(kt_worst("conv2d db vs torch", db, fx_conv_db, 4) < 1e-5);
}

Test(conv_transpose2d, matches_torch) {
    float y[sizeof fx_convt_y / sizeof(float)], dx[sizeof fx_convt_x / sizeof(float)];
    float dw[sizeof fx_convt_w / sizeof(float)] = {0}, db[2] = {0};
    float scratch[4096];
    cr_assert(kn_convt2d_scratch_floats(2, 3, 4, 5, 2, 3, 3, 2, 1, 1) <= 4096);
    kn_convt2d_forward(y, scratch, fx_convt_x, fx_convt_w, fx_convt_b, 2, 3, 4, 5, 2, 3, 3,
                       2, 1, 1);
    cr_expect(kt_worst("convt forward vs torch", y, fx_convt_y, sizeof y / sizeof *y) < 1e-5);
    kn_convt2d_backward(dx, dw, db, scratch, fx_convt_g, fx_convt_x, fx_convt_w, 2, 3, 4, 5,
                        2, 3, 3, 2, 1, 1, 0);
    cr_expect(kt_worst("convt dinp vs torch", dx, fx_convt_dx, sizeof dx / sizeof *dx) < 1e-5);
    cr_expect(kt_worst("convt dw vs torch", dw, fx_convt_dw, sizeof dw / sizeof *dw) < 1e-5);
    cr_expect(kt_worst("convt db vs torch", db, fx_convt_db, 2) < 1e-5);
}
