/* The kernels that dominate a training step outside GEMM, at the sizes
 * where they thread and vectorise (the gradchecks in test_grad.c use tiny
 * shapes): layer norm, softmax, the bias and weight gradients of linear,
 * the residual add's backward, each against a double-precision reference;
 * and linear's parameter gradients give the same bits at 1 and 2 threads. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tutil.h"

#define TOL 2e-5 /* relative to the largest reference magnitude */

static double rel_worst(const float *a, const double *ref, int64_t n) {
    double worst = 0, scale = 1e-30;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(ref[i]));
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs(a[i] - ref[i]));
    return worst / scale;
}

static void expect_close(const char *what, const float *a, const double *ref, int64_t n) {
    double e = rel_worst(a, ref, n);
    cr_log_info("%s: worst relative difference %.3g (tolerance %.1g)", what, e, TOL);
    cr_expect(e <= TOL, "%s: worst relative difference %.3g > %.1g", what, e, TOL);
}

Test(train_ops, layer_norm_large) {
    enum { N = 700, C = 130 }; /* C not a multiple of the vector width */
    en_tensor *x = t_rand(1, EN_DIMS(N, C)), *w = t_rand(2, EN_DIMS(C)), *b = t_rand(3, EN_DIMS(C));
    en_tensor *R = t_rand(4, EN_DIMS(N, C));
    en_tensor *y = en_layer_norm(x, w, b, 1e-5f);
    cr_assert(y);
    cr_assert_eq(en_backward_with(y, R), 0);
    const float *xp = en_tensor_f32(x), *wp = en_tensor_f32(w), *bp = en_tensor_f32(b), *rp = en_tensor_f32(R);
    double *ry = calloc(N * C, sizeof *ry), *rdx = calloc(N * C, sizeof *rdx);
    double *rdw = calloc(C, sizeof *rdw), *rdb = calloc(C, sizeof *rdb);
    for (int i = 0; i < N; i++) {
        const float *xi = xp + i * C, *gi = rp + i * C;
        double m = 0, v = 0;
        for (int j = 0; j < C; j++) m += xi[j];
        m /= C;
        for (int j = 0; j < C; j++) v += (xi[j] - m) * (xi[j] - m);
        double s = 1 / sqrt(v / C + 1e-5), sg = 0, sgx = 0;
        for (int j = 0; j < C; j++) {
            double xh = (xi[j] - m) * s;
            ry[i * C + j] = xh * wp[j] + bp[j];
            rdw[j] += gi[j] * xh;
            rdb[j] += gi[j];
            sg += gi[j] * wp[j];
            sgx += gi[j] * wp[j] * xh;
        }
        for (int j = 0; j < C; j++)
            rdx[i * C + j] = s * (gi[j] * wp[j] - sg / C - (xi[j] - m) * s * sgx / C);
    }
    expect_close("layer_norm forward", en_tensor_f32(y), ry, N * C);
    expect_close("layer_norm d x", en_tensor_f32(en_tensor_grad(x)), rdx, N * C);
    expect_close("layer_norm d w", en_tensor_f32(en_tensor_grad(w)), rdw, C);
    expect_close("layer_norm d b", en_tensor_f32(en_tensor_grad(b)), rdb, C);
    free(ry); free(rdx); free(rdw); free(rdb);
    en_tensor_release(y); en_tensor_release(x); en_tensor_release(w); en_tensor_release(b); en_tensor_release(R);
}

Test(train_ops, softmax_large) {
    enum { N = 300, C = 77 };
    en_tensor *x = t_rand(5, EN_DIMS(N, C)), *R = t_rand(6, EN_DIMS(N, C));
    en_tensor *y = en_softmax(x, -1);
    cr_assert(y);
    cr_assert_eq(en_backward_with(y, R), 0);
    const float *xp = en_tensor_f32(x), *rp = en_tensor_f32(R);
    double *ry = calloc(N * C, sizeof *ry), *rdx = calloc(N * C, sizeof *rdx);
    for (int i = 0; i < N; i++) {
        double m = -INFINITY, s = 0, d = 0;
        for (int j = 0; j < C; j++) m = fmax(m, xp[i * C + j]);
        for (int j = 0; j < C; j++) s += exp(xp[i * C + j] - m);
        for (int j = 0; j < C; j++) ry[i * C + j] = exp(xp[i * C + j] - m) / s;
        for (int j = 0; j < C; j++) d += rp[i * C + j] * ry[i * C + j];
        for (int j = 0; j < C; j++) rdx[i * C + j] = ry[i * C + j] * (rp[i * C + j] - d);
    }
    expect_close("softmax forward", en_tensor_f32(y), ry, N * C);
    expect_close("softmax d x", en_tensor_f32(en_tensor_grad(x)), rdx, N * C);
    free(ry); free(rdx);
    en_tensor_release(y); en_tensor_release(x); en_tensor_release(R);
}

/* d bias and d weight of linear over M rows (several row blocks, the last
 * one partial), twice (leaf gradients accumulate). Returns both gradients,
 * bias first (caller frees). */
static float *bias_grad(int threads, int64_t M, int64_t K, int64_t N) {
    en_set_num_threads(threads);
    en_tensor *x = t_rand(7, EN_DIMS(M, K)), *w = t_rand(8, EN_DIMS(N, K)), *b = t_rand(9, EN_DIMS(N));
    en_tensor *R = t_rand(10, EN_DIMS(M, N));
    for (int rep = 0; rep < 2; rep++) {
        en_tensor *y = en_linear(x, w, b);
        cr_assert(y);
        cr_assert_eq(en_backward_with(y, R), 0);
        en_tensor_release(y);
    }
    double *ref = calloc((size_t)N, sizeof *ref);
    const float *rp = en_tensor_f32(R);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) ref[j] += 2.0 * rp[i * N + j];
    float *g = malloc((size_t)(N + N * K) * sizeof *g);
    memcpy(g, en_tensor_f32(en_tensor_grad(b)), (size_t)N * sizeof *g);
    memcpy(g + N, en_tensor_f32(en_tensor_grad(w)), (size_t)(N * K) * sizeof *g);
    expect_close("linear d bias (accumulated twice)", g, ref, N);
    double *rw = calloc((size_t)(N * K), sizeof *rw);
    const float *xp = en_tensor_f32(x);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++)
            for (int64_t k = 0; k < K; k++) rw[j * K + k] += 2.0 * rp[i * N + j] * xp[i * K + k];
    expect_close("linear d weight (accumulated twice)", g + N, rw, N * K);
    free(ref); free(rw);
    en_tensor_release(x); en_tensor_release(w); en_tensor_release(b); en_tensor_release(R);
    return g;
}

Test(train_ops, linear_param_grads) {
    /* bias: 10 blocks of 256 rows, the last of 196; weight: 3 blocks of
     * 1024, the last of 452 */
    int64_t M = 2500, K = 33, N = 70;
    float *g1 = bias_grad(1, M, K, N), *g2 = bias_grad(2, M, K, N);
    cr_expect(memcmp(g1, g2, (size_t)N * sizeof *g1) == 0, "bias gradient differs between 1 and 2 threads");
    cr_expect(memcmp(g1 + N, g2 + N, (size_t)(N * K) * sizeof *g1) == 0,
              "weight gradient differs between 1 and 2 threads");
    free(g1); free(g2);
    en_set_num_threads(0);
}

Test(train_ops, residual_add_backward) {
    /* y = a + a + b: a's gradient is written by one consumer and accumulated
     * by the other, b's written; large enough to thread */
    enum { N = 300, C = 400 };
    en_tensor *a = t_rand(11, EN_DIMS(N, C)), *b = t_rand(12, EN_DIMS(N, C)), *R = t_rand(13, EN_DIMS(N, C));
    en_tensor *s = en_add(a, a), *y = en_add(s, b);
    cr_assert_eq(en_backward_with(y, R), 0);
    double *r1 = malloc(N * C * sizeof *r1), *r2 = malloc(N * C * sizeof *r2);
    for (int i = 0; i < N * C; i++) { r1[i] = en_tensor_f32(R)[i]; r2[i] = 2.0 * r1[i]; }
    expect_close("add backward d b", en_tensor_f32(en_tensor_grad(b)), r1, N * C);
    expect_close("add backward d a (fan-out)", en_tensor_f32(en_tensor_grad(a)), r2, N * C);
    free(r1); free(r2);
    en_tensor_release(s); en_tensor_release(y);
    en_tensor_release(a); en_tensor_release(b); en_tensor_release(R);
}

/* Attention on packed qkv (B, T, 3C) at the training step's shapes (T = 65
 * image tokens, causal T = 25 text tokens; heads of 64, kn_attn's small GEMM)
 * and at a head of 24 and T = 90 (past kn_attn's 80 keys: the general
 * GEMM), forward and backward against a double reference. */
static void attention_case(int B, int T, int C, int H, int causal) {
    int hs = C / H;
    en_tensor *qkv = t_rand_range(20 + T, EN_DIMS(B, T, 3 * C), -2, 2), *R = t_rand(30 + T, EN_DIMS(B, T, C));
    en_tensor *y = en_attention(qkv, H, causal);
    cr_assert(y);
    cr_assert_eq(en_backward_with(y, R), 0);
    const float *x = en_tensor_f32(qkv), *r = en_tensor_f32(R);
    double *ro = calloc((size_t)B * T * C, sizeof *ro), *rd = calloc((size_t)B * T * 3 * C, sizeof *rd);
    double *P = malloc((size_t)T * T * sizeof *P), *dP = malloc((size_t)T * T * sizeof *dP);
    double scale = 1 / sqrt((double)hs);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const float *q = x + (size_t)b * T * 3 * C + h * hs, *k = q + C, *v = q + 2 * C;
            double *dq = rd + (size_t)b * T * 3 * C + h * hs, *dk = dq + C, *dv = dq + 2 * C;
            for (int i = 0; i < T; i++) {
                double m = -INFINITY, s = 0;
                for (int j = 0; j < T; j++) {
                    double d = 0;
                    for (int c = 0; c < hs; c++) d += (double)q[i * 3 * C + c] * k[j * 3 * C + c];
                    P[i * T + j] = causal && j > i ? -INFINITY : d * scale;
                    m = fmax(m, P[i * T + j]);
                }
                for (int j = 0; j < T; j++) s += (P[i * T + j] = exp(P[i * T + j] - m));
                for (int j = 0; j < T; j++) P[i * T + j] /= s;
                for (int c = 0; c < hs; c++) {
                    double o = 0;
                    for (int j = 0; j < T; j++) o += P[i * T + j] * v[j * 3 * C + c];
                    ro[((size_t)b * T + i) * C + h * hs + c] = o;
                }
            }
            const float *dO = r + (size_t)b * T * C + h * hs;
            for (int i = 0; i < T; i++) {
                double dot = 0;
                for (int j = 0; j < T; j++) {
                    double d = 0;
                    for (int c = 0; c < hs; c++) d += (double)dO[i * C + c] * v[j * 3 * C + c];
                    dP[i * T + j] = d;
                    dot += d * P[i * T + j];
                }
                for (int j = 0; j < T; j++) dP[i * T + j] = P[i * T + j] * (dP[i * T + j] - dot) * scale;
            }
            for (int i = 0; i < T; i++)
                for (int j = 0; j < T; j++)
                    for (int c = 0; c < hs; c++) {
                        dv[j * 3 * C + c] += P[i * T + j] * dO[i * C + c];
                        dq[i * 3 * C + c] += dP[i * T + j] * k[j * 3 * C + c];
                        dk[j * 3 * C + c] += dP[i * T + j] * q[i * 3 * C + c];
                    }
        }
    char what[96];
    snprintf(what, sizeof what, "attention B%d T%d C%d H%d%s forward", B, T, C, H, causal ? " causal" : "");
    expect_close(what, en_tensor_f32(y), ro, (int64_t)B * T * C);
    snprintf(what, sizeof what, "attention B%d T%d C%d H%d%s d qkv", B, T, C, H, causal ? " causal" : "");
    expect_close(what, en_tensor_f32(en_tensor_grad(qkv)), rd, (int64_t)B * T * 3 * C);
    free(ro); free(rd); free(P); free(dP);
    en_tensor_release(y); en_tensor_release(qkv); en_tensor_release(R);
}

Test(train_ops, attention_heads) {
    attention_case(3, 65, 128, 2, 0);
    attention_case(3, 25, 128, 2, 1);
    attention_case(2, 17, 48, 2, 1);  /* heads of 24: a masked last vector */
    attention_case(2, 90, 64, 1, 0);  /* T past kn_attn's 80 keys */
}
