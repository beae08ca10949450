/* Batch norm kernel: training and eval forward against plain double loops
 * and PyTorch (including the running-statistics update), backward against
 * central finite differences and PyTorch's gradients. */
#include <string.h>

#include "kn_norm.h"
#include "kt_util.h"
#include "torch_fixtures.h"

typedef struct {
    int N, C, HW, training;
    float *x, *gamma, *beta, *rm, *rv, *mean, *rstd;
} bn_ctx;

/* The finite-difference forward: running statistics are not updated
 * (NULL) in training mode, so repeated calls see the same function. */
static void fwd(void *p, float *y) {
    bn_ctx *k = p;
    kn_batchnorm2d_forward(y, k->mean, k->rstd, k->training ? NULL : k->rm,
                           k->training ? NULL : k->rv, k->x, k->gamma, k->beta, k->N, k->C,
                           k->HW, k->training, 0.1f, 1e-5f);
}

static void check(int N, int C, int HW, int training, int affine, en_rng *r) {
    size_t nx = (size_t)N * C * HW;
    bn_ctx k = {N, C, HW, training, kt_rand(r, nx), affine ? kt_rand(r, C) : NULL,
                affine ? kt_rand(r, C) : NULL, kt_rand(r, C), kt_fill(C, 0), kt_fill(C, NAN),
                kt_fill(C, NAN)};
    for (int c = 0; c < C; c++) k.rv[c] = 0.5f + 0.1f * c;
    for (size_t i = 0; i < nx; i++) k.x[i] = 3.0f * k.x[i] + 2.0f; /* a non-zero mean */
    float *y = kt_fill(nx, NAN), *g = kt_rand(r, nx), *dx = kt_fill(nx, NAN);
    float *dgamma = kt_fill(C, 0.25f), *dbeta = kt_fill(C, 0.25f);
    printf("batchnorm %s%s N%d C%d HW%d\n", training ? "train" : "eval",
           affine ? "" : " (no affine)", N, C, HW);

    /* reference in double; the running update uses the unbiased variance */
    double *ry = calloc(nx, sizeof(double)), rm[16], rv[16];
    for (int c = 0; c < C; c++) {
        double s = 0, s2 = 0, M = (double)N * HW;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) s += k.x[((size_t)n * C + c) * HW + i];
        double mu = s / M;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) {
                double d = k.x[((size_t)n * C + c) * HW + i] - mu;
                s2 += d * d;
            }
        double var = s2 / M;
        rm[c] = 0.9 * k.rm[c] + 0.1 * mu;
        rv[c] = 0.9 * k.rv[c] + 0.1 * s2 / (M - 1);
        double um = training ? mu : k.rm[c], uv = training ? var : k.rv[c];
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) {
                size_t j = ((size_t)n * C + c) * HW + i;
                ry[j] = (k.x[j] - um) / sqrt(uv + 1e-5) * (affine ? k.gamma[c] : 1.0) +
                        (affine ? k.beta[c] : 0.0);
            }
    }
    float rm1[16], rv1[16];
    memcpy(rm1, k.rm, sizeof(float) * C);
    memcpy(rv1, k.rv, sizeof(float) * C);
    kn_batchnorm2d_forward(y, k.mean, k.rstd, rm1, rv1, k.x, k.gamma, k.beta, N, C, HW,
                           training, 0.1f, 1e-5f);
    cr_expect(kt_worst_d("forward vs loops", y, ry, nx) < 1e-5);
    if (training) {
        cr_expect(kt_worst_d("running_mean update", rm1, rm, C) < 1e-6);
        cr_expect(kt_worst_d("running_var update (unbiased)", rv1, rv, C) < 1e-6);
    } else {
        cr_expect(memcmp(rm1, k.rm, sizeof(float) * C) == 0, "eval changed running_mean");
        cr_expect(memcmp(rv1, k.rv, sizeof(float) * C) == 0, "eval changed running_var");
    }

    kn_batchnorm2d_backward(dx, dgamma, dbeta, g, k.x, k.mean, k.rstd, k.gamma, N, C, HW,
                            training, 0);
    for (int c = 0; c < C; c++) { dgamma[c] -= 0.25f; dbeta[c] -= 0.25f; }
    cr_expect(kt_gradcheck("dinp", k.x, nx, dx, fwd, &k, y, g, nx, 1e-2f, 60, r) < 5e-3);
    if (affine) {
        cr_expect(kt_gradcheck("dgamma", k.gamma, C, dgamma, fwd, &k, y, g, nx, 1e-2f, -1, r) < 5e-3);
        cr_expect(kt_gradcheck("dbeta", k.beta, C, dbeta, fwd, &k, y, g, nx, 1e-2f, -1, r) < 5e-3);
    }
    float *dx2 = kt_fill(nx, 1.0f);
    fwd(&k, y);
    kn_batchnorm2d_backward(dx2, NULL, NULL, g, k.x, k.mean, k.rstd, k.gamma, N, C, HW,
                            training, 1);
    for (size_t i = 0; i < nx; i++) dx2[i] -= 1.0f;
    cr_expect(kt_worst("dinp accumulated", dx2, dx, nx) < 1e-5);
    free(k.x); free(k.gamma); free(k.beta); free(k.rm); free(k.rv); free(k.mean);
    free(k.rstd); free(y); free(g); free(dx); free(dx2); free(dgamma); free(dbeta); free(ry);
}

Test(batchnorm, matches_loops_and_finite_differences) {
    en_rng r; en_rng_seed(&r, 41);
    for (int training = 0; training < 2; training++) {
        check(2, 3, 5 * 4, training, 1, &r);
        check(3, 2, 7, training, 0, &r);
        check(1, 4, 9, training, 1, &r);
        check(5, 1, 1, training, 1, &r); /* one pixel per image: statistics over the batch */
        check(3, 2, 32 * 32, training, 1, &r); /* rows of whole 16-lane blocks (kn_norm.c's row sums) */
    }
}

Test(batchnorm, matches_torch) {
    enum { N = 2, C = 3, HW = 20 };
    float y[N * C * HW], dx[N * C * HW], mean[C], rstd[C], rm[C], rv[C];
    float dgamma[C] = {0}, dbeta[C] = {0};
    memcpy(rm, fx_bn_rm0, sizeof rm);
    memcpy(rv, fx_bn_rv0, sizeof rv);
    kn_batchnorm2d_forward(y, mean, rstd, rm, rv, fx_bn_x, fx_bn_gamma, fx_bn_beta, N, C, HW,
                           1, 0.1f, 1e-5f);
    cr_expect(kt_worst("train forward vs torch", y, fx_bn_y, N * C * HW) < 1e-5);
    cr_expect(kt_worst("running_mean vs torch", rm, fx_bn_rm1, C) < 1e-6);
    cr_expect(kt_worst("running_var vs torch", rv, fx_bn_rv1, C) < 1e-6);
    kn_batchnorm2d_backward(dx, dgamma, dbeta, fx_bn_g, fx_bn_x, mean, rstd, fx_bn_gamma, N,
                            C, HW, 1, 0);
    cr_expect(kt_worst("train dinp vs torch", dx, fx_bn_dx, N * C * HW) < 1e-5);
    cr_expect(kt_worst("train dgamma vs torch", dgamma, fx_bn_dgamma, C) < 1e-5);
    cr_expect(kt_worst("train dbeta vs torch", dbeta, fx_bn_dbeta, C) < 1e-5);
    kn_batchnorm2d_forward(y, mean, rstd, rm, rv, fx_bn_x, fx_bn_gamma, fx_bn_beta, N, C, HW,
                           0, 0.1f, 1e-5f);
    cr_expect(kt_worst("eval forward vs torch", y, fx_bn_eval_y, N * C * HW) < 1e-5);
}
