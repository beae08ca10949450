/* Pooling kernels: forward against plain loops and PyTorch fixtures,
 * backward against central finite differences (and the acc = 1 rule). */
#include <string.h>

#include "kn_pool.h"
#include "kt_util.h"
#include "torch_fixtures.h"

typedef enum { P_MAX, P_AVG, P_AVG_NOPAD, P_ADAPTIVE } pool_kind;
typedef struct { int N, C, H, W, KH, KW, stride, pad; } pool_cfg; /* adaptive: KH,KW = OH,OW */

typedef struct {
    pool_kind kind;
    pool_cfg c;
    float *x;
    int32_t *idx;
} pool_ctx;

static void out_dims(const pool_ctx *k, int *OH, int *OW) {
    if (k->kind == P_ADAPTIVE) { *OH = k->c.KH; *OW = k->c.KW; return; }
    *OH = kn_pool_out_size(k->c.H, k->c.KH, k->c.stride, k->c.pad);
    *OW = kn_pool_out_size(k->c.W, k->c.KW, k->c.stride, k->c.pad);
}

static void fwd(void *p, float *y) {
    pool_ctx *k = p;
    pool_cfg c = k->c;
    switch (k->kind) {
    case P_MAX: kn_maxpool2d_forward(y, k->idx, k->x, c.N, c.C, c.H, c.W, c.KH, c.KW, c.stride, c.pad); break;
    case P_AVG: kn_avgpool2d_forward(y, k->x, c.N, c.C, c.H, c.W, c.KH, c.KW, c.stride, c.pad, 1); break;
    case P_AVG_NOPAD: kn_avgpool2d_forward(y, k->x, c.N, c.C, c.H, c.W, c.KH, c.KW, c.stride, c.pad, 0); break;
    case P_ADAPTIVE: kn_adaptive_avgpool2d_forward(y, k->x, c.N, c.C, c.H, c.W, c.KH, c.KW); break;
    }
}

static void bwd(pool_ctx *k, float *dx, const float *g, int acc) {
    pool_cfg c = k->c;
    int OH, OW;
    out_dims(k, &OH, &OW);
    switch (k->kind) {
    case P_MAX: kn_maxpool2d_backward(dx, g, k->idx, c.N, c.C, c.H, c.W, OH, OW, acc); break;
    case P_AVG: kn_avgpool2d_backward(dx, g, c.N, c.C, c.H, c.W, c.KH, c.KW, c.stride, c.pad, 1, acc); break;
    case P_AVG_NOPAD: kn_avgpool2d_backward(dx, g, c.N, c.C, c.H, c.W, c.KH, c.KW, c.stride, c.pad, 0, acc); break;
    case P_ADAPTIVE: kn_adaptive_avgpool2d_backward(dx, g, c.N, c.C, c.H, c.W, OH, OW, acc); break;
    }
}

/* Plain loops: windows listed pixel by pixel in padded coordinates. */
static void naive(const pool_ctx *k, double *y) {
    pool_cfg c = k->c;
    int OH, OW;
    out_dims(k, &OH, &OW);
    for (int nc = 0; nc < c.N * c.C; nc++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                int h0, h1, w0, w1;
                if (k->kind == P_ADAPTIVE) {
                    h0 = (int)floor((double)oh * c.H / OH); h1 = (int)ceil((double)(oh + 1) * c.H / OH);
                    w0 = (int)floor((double)ow * c.W / OW); w1 = (int)ceil((double)(ow + 1) * c.W / OW);
                } else {
                    h0 = oh * c.stride - c.pad; h1 = h0 + c.KH;
                    w0 = ow * c.stride - c.pad; w1 = w0 + c.KW;
                }
                double best = -INFINITY, sum = 0;
                int real = 0, all = 0;
                for (int h = h0; h < h1; h++)
                    for (int w = w0; w < w1; w++) {
                        all++;
                        if (h < 0 || h >= c.H || w < 0 || w >= c.W) continue;
                        double v = k->x[((size_t)nc * c.H + h) * c.W + w];
                        real++;
                        sum += v;
                        if (v > best) best = v;
                    }
                double r = k->kind == P_MAX ? best : sum / (k->kind == P_AVG ? all : real);
                y[((size_t)nc * OH + oh) * OW + ow] = r;
            }
}

static void check(pool_kind kind, pool_cfg c, en_rng *r) {
    static const char *names[] = {"maxpool", "avgpool", "avgpool(no pad count)", "adaptive"};
    pool_ctx k = {kind, c, NULL, NULL};
    int OH, OW;
    out_dims(&k, &OH, &OW);
    size_t nx = (size_t)c.N * c.C * c.H * c.W, ny = (size_t)c.N * c.C * OH * OW;
    /* distinct values 0.01 apart: max pool's choice cannot flip under a 1e-3 step */
    k.x = malloc(sizeof(float) * nx);
    int64_t *perm = malloc(sizeof(int64_t) * nx);
    en_rng_permutation(r, perm, (int64_t)nx);
    for (size_t i = 0; i < nx; i++) k.x[i] = 0.01f * (float)perm[i] - 0.005f * (float)nx;
    k.idx = malloc(sizeof(int32_t) * ny);
    float *y = kt_fill(ny, NAN), *g = kt_rand(r, ny), *dx = kt_fill(nx, NAN);
    double *ry = calloc(ny, sizeof(double));
    printf("%s N%d C%d %dx%d k%dx%d s%d p%d\n", names[kind], c.N, c.C, c.H, c.W, c.KH, c.KW,
           c.stride, c.pad);
    fwd(&k, y);
    naive(&k, ry);
    cr_expect(kt_worst_d("forward vs loops", y, ry, ny) < 1e-6);
    bwd(&k, dx, g, 0);
    cr_expect(kt_gradcheck("dinp", k.x, nx, dx, fwd, &k, y, g, ny, 1e-3f, 60, r) < 2e-3);
    float *dx2 = kt_fill(nx, 1.0f);
    fwd(&k, y);
    bwd(&k, dx2, g, 1);
    for (size_t i = 0; i < nx; i++) dx2[i] -= 1.0f;
    cr_expect(kt_worst("dinp accumulated", dx2, dx, nx) < 1e-6);
    free(k.x); free(perm); free(k.idx); free(y); free(g); free(dx); free(dx2); free(ry);
}

static const pool_cfg cfgs[] = {
    {2, 3, 7, 6, 3, 3, 2, 1}, {1, 2, 9, 8, 2, 2, 2, 0}, {2, 2, 5, 7, 3, 2, 1, 1},
    {1, 3, 8, 8, 3, 3, 1, 1}, {2, 1, 11, 10, 5, 4, 3, 2},
    /* ModifiedResNet's AvgPool2d(2): kn_pool.c's 2x2 path, even and odd maps */
    {2, 3, 8, 10, 2, 2, 2, 0}, {1, 2, 7, 5, 2, 2, 2, 0},
};

Test(pool, max_matches_loops_and_finite_differences) {
    en_rng r; en_rng_seed(&r, 21);
    for (size_t i = 0; i < sizeof cfgs / sizeof *cfgs; i++) check(P_MAX, cfgs[i], &r);
}

Test(pool, avg_matches_loops_and_finite_differences) {
    en_rng r; en_rng_seed(&r, 22);
    for (size_t i = 0; i < sizeof cfgs / sizeof *cfgs; i++) {
        check(P_AVG, cfgs[i], &r);
        check(P_AVG_NOPAD, cfgs[i], &r);
    }
}

Test(pool, adaptive_matches_loops_and_finite_differences) {
    en_rng r; en_rng_seed(&r, 23);
    /* shrinking, identity, growing and mixed output sizes */
    static const pool_cfg a[] = {{2, 3, 7, 6, 3, 4, 0, 0}, {1, 2, 5, 5, 5, 5, 0, 0},
                                 {1, 2, 4, 9, 7, 2, 0, 0}, {2, 1, 7, 7, 1, 1, 0, 0}};
    for (size_t i = 0; i < sizeof a / sizeof *a; i++) check(P_ADAPTIVE, a[i], &r);
}

Test(pool, matches_torch) {
    float y[2 * 3 * 4 * 3];
    int32_t idx[2 * 3 * 4 * 3];
    kn_maxpool2d_forward(y, idx, fx_pool_x, 2, 3, 7, 6, 3, 3, 2, 1);
    cr_expect(kt_worst("max_pool2d(3,2,1) vs torch", y, fx_maxpool_y, 72) < 1e-7);
    kn_avgpool2d_forward(y, fx_pool_x, 2, 3, 7, 6, 3, 3, 2, 1, 1);
    cr_expect(kt_worst("avg_pool2d(3,2,1) vs torch", y, fx_avgpool_y, 72) < 1e-6);
    kn_avgpool2d_forward(y, fx_pool_x, 2, 3, 7, 6, 3, 3, 2, 1, 0);
    cr_expect(kt_worst("avg_pool2d(no pad count) vs torch", y, fx_avgpool_nopad_y, 72) < 1e-6);
    float y2[2 * 3 * 3 * 3];
    kn_avgpool2d_forward(y2, fx_pool_x, 2, 3, 7, 6, 2, 2, 2, 0, 1);
    cr_expect(kt_worst("avg_pool2d(2) vs torch", y2, fx_avgpool2_y, 54) < 1e-6);
    kn_adaptive_avgpool2d_forward(y, fx_pool_x, 2, 3, 7, 6, 3, 4);
    cr_expect(kt_worst("adaptive_avg_pool2d(3,4) vs torch", y, fx_adaptive_y, 72) < 1e-6);
}
