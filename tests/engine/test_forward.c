/* Forward results against plain reference loops (in double). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "en_error.h"
#include "tutil.h"

static en_tensor *rnd(uint64_t seed, int nd, const int64_t *shape) {
    en_rng r;
    en_rng_seed(&r, seed);
    return en_tensor_randn(nd, shape, &r, 0, 1);
}

#define EXPECT_CLOSE(what, got, ref, n, tol)                                               \
    do {                                                                                   \
        double d_ = t_maxdiff(got, ref, n);                                                \
        printf("forward %-26s max |diff| %.3g (tolerance %.1g)\n", what, d_, (double)(tol)); \
        cr_expect(d_ <= (tol), "%s: max |diff| %.3g > %.3g", what, d_, (double)(tol));     \
    } while (0)

Test(forward, matmul_linear_vs_loops) {
    int M = 37, K = 53, N = 29;
    en_tensor *a = rnd(1, EN_DIMS(M, K)), *b = rnd(2, EN_DIMS(K, N)), *bias = rnd(3, EN_DIMS(N));
    en_tensor *wt = rnd(4, EN_DIMS(N, K));
    float *ref = malloc(sizeof(float) * M * N), *ref2 = malloc(sizeof(float) * M * N);
    const float *pa = en_tensor_f32(a), *pb = en_tensor_f32(b), *pw = en_tensor_f32(wt), *pbias = en_tensor_f32(bias);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0, s2 = pbias[j];
            for (int k = 0; k < K; k++) {
                s += (double)pa[i * K + k] * pb[k * N + j];
                s2 += (double)pa[i * K + k] * pw[j * K + k];
            }
            ref[i * N + j] = (float)s;
            ref2[i * N + j] = (float)s2;
        }
    en_tensor *c = en_matmul(a, b);
    EXPECT_CLOSE("matmul", en_tensor_f32(c), ref, M * N, 1e-4);
    en_tensor *l = en_linear(a, wt, bias);
    EXPECT_CLOSE("linear", en_tensor_f32(l), ref2, M * N, 1e-4);
    /* the same through a transposed, then copied, weight */
    en_tensor *w2 = en_transpose(wt, 0, 1), *c2 = en_matmul(a, w2);
    for (int i = 0; i < M * N; i++) ref2[i] -= pbias[i % N];
    EXPECT_CLOSE("matmul(a, w^T view)", en_tensor_f32(c2), ref2, M * N, 1e-4);
    en_tensor *list[] = {a, b, bias, wt, c, l, w2, c2};
    for (int i = 0; i < 8; i++) en_tensor_release(list[i]);
    free(ref);
    free(ref2);
}

Test(forward, broadcast_add_and_sum) {
    en_tensor *a = rnd(5, EN_DIMS(4, 1, 6)), *b = rnd(6, EN_DIMS(3, 1));
    en_tensor *c = en_add(a, b);
    cr_assert_eq(c->ndim, 3);
    cr_assert(c->shape[0] == 4 && c->shape[1] == 3 && c->shape[2] == 6);
    float ref[72];
    const float *pa = en_tensor_f32(a), *pb = en_tensor_f32(b);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 6; k++) ref[(i * 3 + j) * 6 + k] = pa[i * 6 + k] + pb[j];
    EXPECT_CLOSE("add broadcast", en_tensor_f32(c), ref, 72, 1e-6);
    int ax[2] = {0, -1};
    en_tensor *s = en_sum(c, 2, ax, 0);
    float rs[3] = {0};
    for (int i = 0; i < 72; i++) rs[(i / 6) % 3] += ref[i];
    EXPECT_CLOSE("sum(0,-1)", en_tensor_f32(s), rs, 3, 1e-4);
    en_tensor *m = en_argmax(c, 2, 0);
    int ok = 1;
    for (int r = 0; r < 12; r++) {
        int best = 0;
        for (int k = 1; k < 6; k++)
            if (ref[r * 6 + k] > ref[r * 6 + best]) best = k;
        ok &= en_tensor_i64(m)[r] == best;
    }
    cr_expect(ok, "argmax differs from the reference loop");
    en_tensor *list[] = {a, b, c, s, m};
    for (int i = 0; i < 5; i++) en_tensor_release(list[i]);
}

Test(forward, activations_vs_formulas) {
    en_tensor *x = rnd(7, EN_DIMS(1000));
    const float *p = en_tensor_f32(x);
    float ref[1000];
    en_tensor *(*fs[4])(en_tensor *) = {en_gelu, en_gelu_erf, en_quick_gelu, en_sigmoid};
    const char *names[4] = {"gelu", "gelu_erf", "quick_gelu", "sigmoid"};
    for (int f = 0; f < 4; f++) {
        for (int i = 0; i < 1000; i++) {
            double v = p[i];
            ref[i] = (float)(f == 0   ? 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)))
                             : f == 1 ? 0.5 * v * (1 + erf(v / sqrt(2)))
                             : f == 2 ? v / (1 + exp(-1.702 * v))
                                      : 1 / (1 + exp(-v)));
        }
        en_tensor *y = fs[f](x);
        EXPECT_CLOSE(names[f], en_tensor_f32(y), ref, 1000, 2e-6);
        en_tensor_release(y);
    }
    en_tensor_release(x);
}

Test(forward, softmax_layernorm_l2) {
    int N = 7, C = 33;
    en_tensor *x = rnd(8, EN_DIMS(N, C)), *w = rnd(9, EN_DIMS(C)), *b = rnd(10, EN_DIMS(C));
    const float *p = en_tensor_f32(x), *pw = en_tensor_f32(w), *pb = en_tensor_f32(b);
    float sm[7 * 33], lsm[7 * 33], ln[7 * 33], l2[7 * 33];
    for (int i = 0; i < N; i++) {
        double mx = -1e30, s = 0, mean = 0, var = 0, sq = 0;
        for (int j = 0; j < C; j++) mx = fmax(mx, p[i * C + j]);
        for (int j = 0; j < C; j++) s += exp(p[i * C + j] - mx);
        for (int j = 0; j < C; j++) mean += p[i * C + j] / C;
        for (int j = 0; j < C; j++) var += (p[i * C + j] - mean) * (p[i * C + j] - mean) / C;
        for (int j = 0; j < C; j++) sq += (double)p[i * C + j] * p[i * C + j];
        for (int j = 0; j < C; j++) {
            sm[i * C + j] = (float)(exp(p[i * C + j] - mx) / s);
            lsm[i * C + j] = (float)(p[i * C + j] - mx - log(s));
            ln[i * C + j] = (float)((p[i * C + j] - mean) / sqrt(var + 1e-5) * pw[j] + pb[j]);
            l2[i * C + j] = (float)(p[i * C + j] / sqrt(sq));
        }
    }
    en_tensor *y1 = en_softmax(x, 1), *y2 = en_log_softmax(x, -1), *y3 = en_layer_norm(x, w, b, 1e-5f);
    en_tensor *y4 = en_l2_normalize(x, 1, 1e-12f);
    EXPECT_CLOSE("softmax", en_tensor_f32(y1), sm, N * C, 1e-6);
    EXPECT_CLOSE("log_softmax", en_tensor_f32(y2), lsm, N * C, 1e-5);
    EXPECT_CLOSE("layer_norm", en_tensor_f32(y3), ln, N * C, 1e-4);
    EXPECT_CLOSE("l2_normalize", en_tensor_f32(y4), l2, N * C, 1e-6);
    /* softmax along axis 0 equals softmax of the transpose along 1 */
    en_tensor *xt = en_transpose(x, 0, 1), *y5 = en_softmax(xt, 0);
    float sm0[7 * 33];
    for (int j = 0; j < C; j++)
        for (int i = 0; i < N; i++) sm0[j * N + i] = sm[i * C + j];
    EXPECT_CLOSE("softmax(axis 0 of a view)", en_tensor_f32(y5), sm0, N * C, 1e-6);
    en_tensor *list[] = {x, w, b, y1, y2, y3, y4, xt, y5};
    for (int i = 0; i < 9; i++) en_tensor_release(list[i]);
}

Test(forward, attention_vs_loops) {
    int B = 2, T = 6, C = 8, H = 2, hs = C / H;
    for (int causal = 0; causal < 2; causal++) {
        en_tensor *qkv = rnd(11 + causal, EN_DIMS(B, T, 3 * C));
        const float *q = en_tensor_f32(qkv);
        float ref[2 * 6 * 8];
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++)
                for (int i = 0; i < T; i++) {
                    double sc[6], mx = -1e30, s = 0;
                    for (int j = 0; j < T; j++) {
                        double d = 0;
                        for (int k = 0; k < hs; k++)
                            d += (double)q[(b * T + i) * 3 * C + h * hs + k] * q[(b * T + j) * 3 * C + C + h * hs + k];
                        sc[j] = (causal && j > i) ? -1e30 : d / sqrt(hs);
                        mx = fmax(mx, sc[j]);
                    }
                    for (int j = 0; j < T; j++) s += (sc[j] = exp(sc[j] - mx));
                    for (int k = 0; k < hs; k++) {
                        double o = 0;
                        for (int j = 0; j < T; j++) o += sc[j] / s * q[(b * T + j) * 3 * C + 2 * C + h * hs + k];
                        ref[(b * T + i) * C + h * hs + k] = (float)o;
                    }
                }
        en_tensor *y = en_attention(qkv, H, causal);
        EXPECT_CLOSE(causal ? "attention causal" : "attention", en_tensor_f32(y), ref, B * T * C, 1e-5);
        en_tensor_release(y);
        en_tensor_release(qkv);
    }
}

Test(forward, losses_vs_loops) {
    en_tensor *x = rnd(13, EN_DIMS(5, 4)), *t = rnd(14, EN_DIMS(5, 4));
    int64_t tg[5] = {3, 0, 1, 3, 2};
    en_tensor *ti = t_idx(5, tg);
    const float *p = en_tensor_f32(x), *pt = en_tensor_f32(t);
    double ce = 0, mse = 0, bce = 0;
    for (int i = 0; i < 5; i++) {
        double s = 0;
        for (int j = 0; j < 4; j++) s += exp(p[i * 4 + j]);
        ce += (log(s) - p[i * 4 + tg[i]]) / 5;
    }
    for (int i = 0; i < 20; i++) {
        double z = p[i], y = 1 / (1 + exp(-pt[i]));
        mse += (p[i] - pt[i]) * (p[i] - pt[i]) / 20;
        bce += -(y * log(1 / (1 + exp(-z))) + (1 - y) * log(1 - 1 / (1 + exp(-z)))) / 20;
    }
    en_tensor *ts = en_sigmoid(t);
    en_tensor *l1 = en_cross_entropy(x, ti), *l2 = en_mse(x, t), *l3 = en_bce_with_logits(x, ts);
    float got[3] = {en_tensor_item(l1), en_tensor_item(l2), en_tensor_item(l3)};
    float ref[3] = {(float)ce, (float)mse, (float)bce};
    EXPECT_CLOSE("ce, mse, bce", got, ref, 3, 1e-5);
    en_tensor *list[] = {x, t, ti, ts, l1, l2, l3};
    for (int i = 0; i < 7; i++) en_tensor_release(list[i]);
}

Test(forward, concat_embedding_finite) {
    en_tensor *a = rnd(15, EN_DIMS(2, 3)), *b = rnd(16, EN_DIMS(2, 2));
    en_tensor *c = en_concat(2, (en_tensor *[]){a, b}, 1);
    float ref[10];
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 3; j++) ref[i * 5 + j] = en_tensor_f32(a)[i * 3 + j];
        for (int j = 0; j < 2; j++) ref[i * 5 + 3 + j] = en_tensor_f32(b)[i * 2 + j];
    }
    EXPECT_CLOSE("concat", en_tensor_f32(c), ref, 10, 0);
    en_tensor *idx = t_idx(3, (int64_t[]){1, 0, 1});
    en_tensor *e = en_embedding(a, idx);
    float re[9];
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < 3; j++) re[k * 3 + j] = en_tensor_f32(a)[(k == 1 ? 0 : 1) * 3 + j];
    EXPECT_CLOSE("embedding", en_tensor_f32(e), re, 9, 0);
    cr_expect(en_all_finite(c));
    en_tensor_f32(c)[7] = NAN;
    cr_expect(!en_all_finite(c), "a NaN went unnoticed");
    en_tensor_f32(c)[7] = INFINITY;
    cr_expect(!en_all_finite(c), "an infinity went unnoticed");
    en_tensor *list[] = {a, b, c, idx, e};
    for (int i = 0; i < 5; i++) en_tensor_release(list[i]);
}

Test(forward, user_errors_are_messages) {
    en_tensor *a = rnd(17, EN_DIMS(2, 3)), *b = rnd(18, EN_DIMS(4, 5));
    cr_expect_null(en_matmul(a, b));
    cr_expect(strstr(en_error_msg(), "matmul") != NULL, "message: %s", en_error_msg());
    cr_expect_null(en_add(a, b));
    cr_expect(strstr(en_error_msg(), "broadcast") != NULL, "message: %s", en_error_msg());
    cr_expect_null(en_reshape(a, EN_DIMS(4, 2)));
    cr_expect_null(en_softmax(a, 5));
    en_tensor *bad = t_idx(2, (int64_t[]){0, 9});
    cr_expect_null(en_cross_entropy(a, bad));
    cr_expect(strstr(en_error_msg(), "out of range") != NULL, "message: %s", en_error_msg());
    cr_expect_null(en_embedding(a, bad));
    en_tensor_release(bad);
    en_tensor_release(a);
    en_tensor_release(b);
}

/* en_mha against PyTorch's nn.MultiheadAttention (batch_first) on the same
 * weights: forward and input gradient, with and without a causal mask. */
#include "fix_mha.h"

Test(forward, mha_matches_pytorch) {
    for (int causal = 0; causal < 2; causal++) {
        en_tensor *x = en_tensor_from_f32(EN_DIMS(FIX_B, FIX_T, FIX_C), fix_x);
        en_tensor *iw = en_tensor_from_f32(EN_DIMS(3 * FIX_C, FIX_C), fix_in_w);
        en_tensor *ib = en_tensor_from_f32(EN_DIMS(3 * FIX_C), fix_in_b);
        en_tensor *ow = en_tensor_from_f32(EN_DIMS(FIX_C, FIX_C), fix_out_w);
        en_tensor *ob = en_tensor_from_f32(EN_DIMS(FIX_C), fix_out_b);
        en_requires_grad(x, 1);
        en_tensor *y = en_mha(x, iw, ib, ow, ob, FIX_H, causal);
        cr_assert_not_null(y, "%s", en_error_msg());
        float r[FIX_B * FIX_T * FIX_C];
        for (int i = 0; i < FIX_B * FIX_T * FIX_C; i++) r[i] = (float)(0.5 + 0.37 * sin(1.7 * i + 0.3));
        en_tensor *R = en_tensor_from_f32(EN_DIMS(FIX_B, FIX_T, FIX_C), r);
        en_tensor *p = en_mul(y, R), *l = en_sum_all(p);
        cr_assert_eq(en_backward(l), 0);
        EXPECT_CLOSE(causal ? "mha causal vs torch" : "mha vs torch", en_tensor_f32(y),
                     causal ? fix_y1 : fix_y0, FIX_B * FIX_T * FIX_C, 1e-5);
        EXPECT_CLOSE(causal ? "mha causal dx vs torch" : "mha dx vs torch",
                     en_tensor_f32(en_tensor_grad(x)), causal ? fix_dx1 : fix_dx0,
                     FIX_B * FIX_T * FIX_C, 1e-5);
        en_tensor *list[] = {x, iw, ib, ow, ob, y, R, p, l};
        for (int i = 0; i < 9; i++) en_tensor_release(list[i]);
    }
}
