/* Every op's backward against central finite differences, on random shapes,
 * with broadcasting and non-contiguous views. */
#include <criterion/criterion.h>
#include <math.h>

#include "en_error.h"
#include "tutil.h"

#define EPS 1e-2
#define ATOL 2e-3
#define RTOL 2e-2

#define CHECK(name, f, nin, in, ctx)                                                  \
    do {                                                                              \
        double e_ = t_gradcheck(name, f, nin, in, ctx, EPS, ATOL, RTOL);              \
        cr_expect(e_ <= 1.0, "%s: gradient error %.3g (tolerance: 1)", name, e_);     \
    } while (0)

static void release_all(int n, en_tensor **t) {
    for (int i = 0; i < n; i++) en_tensor_release(t[i]);
    en_tape_clear();
}

/* ---- binary with broadcasting ------------------------------------------ */
static en_tensor *f_binop(en_tensor **in, void *ctx) {
    int op = *(int *)ctx;
    en_tensor *(*fs[4])(en_tensor *, en_tensor *) = {en_add, en_sub, en_mul, en_div};
    return fs[op](in[0], in[1]);
}

Test(grad, binary_broadcast) {
    const char *names[4] = {"add", "sub", "mul", "div"};
    for (int op = 0; op < 4; op++) {
        en_tensor *in[2] = {t_rand(1, EN_DIMS(3, 1, 4)), t_rand_range(2, EN_DIMS(2, 4), 0.5f, 2.0f)};
        CHECK(names[op], f_binop, 2, in, &op);
        release_all(2, in);
        en_tensor *in2[2] = {t_rand(3, EN_DIMS(5)), t_rand_range(4, EN_DIMS(2, 3, 5), 0.5f, 2.0f)};
        CHECK(names[op], f_binop, 2, in2, &op);
        release_all(2, in2);
    }
}

/* a transposed (non-contiguous) operand, and a scalar one */
static en_tensor *f_mul_t(en_tensor **in, void *ctx) {
    en_tensor *t = en_transpose(in[0], 0, 1);
    en_tensor *y = en_mul(t, in[1]);
    en_tensor *z = en_div(y, in[2]);
    en_tensor_release(t);
    en_tensor_release(y);
    return z;
}

Test(grad, binary_noncontiguous_and_scalar_tensor) {
    en_tensor *in[3] = {t_rand(5, EN_DIMS(4, 3)), t_rand(6, EN_DIMS(3, 4)),
                        t_rand_range(7, 0, NULL, 1.0f, 2.0f)};
    CHECK("mul(transpose)/scalar", f_mul_t, 3, in, NULL);
    release_all(3, in);
}

/* the same tensor used twice: fan-out accumulation */
static en_tensor *f_fanout(en_tensor **in, void *ctx) {
    en_tensor *a = en_mul(in[0], in[0]);
    en_tensor *b = en_exp(in[0]);
    en_tensor *c = en_add(a, b);
    en_tensor *d = en_mul(c, a);
    en_tensor_release(a);
    en_tensor_release(b);
    en_tensor_release(c);
    return d;
}

Test(grad, fan_out) {
    en_tensor *in[1] = {t_rand(8, EN_DIMS(3, 5))};
    CHECK("fan-out", f_fanout, 1, in, NULL);
    release_all(1, in);
}

/* ---- unary and scalar ---------------------------------------------------- */
static en_tensor *f_unary(en_tensor **in, void *ctx) {
    switch (*(int *)ctx) {
    case 0: return en_exp(in[0]);
    case 1: return en_log(in[0]);
    case 2: return en_sqrt(in[0]);
    case 3: return en_abs(in[0]);
    case 4: return en_clamp(in[0], 0.9f, 1.6f);
    case 5: return en_relu(in[0]);
    case 6: return en_gelu(in[0]);
    case 7: return en_gelu_erf(in[0]);
    case 8: return en_quick_gelu(in[0]);
    case 9: return en_sigmoid(in[0]);
    case 10: return en_tanh(in[0]);
    case 11: return en_pow(in[0], 2.5f);
    case 12: return en_add_scalar(in[0], 3.0f);
    case 13: return en_mul_scalar(in[0], -1.5f);
    case 14: return en_rsub_scalar(in[0], 2.0f);
    default: return NULL;
    }
}

Test(grad, unary) {
    const char *names[] = {"exp", "log", "sqrt", "abs", "clamp", "relu", "gelu", "gelu_erf",
                           "quick_gelu", "sigmoid", "tanh", "pow", "add_scalar", "mul_scalar",
                           "rsub_scalar"};
    for (int k = 0; k < 15; k++) {
        /* inputs in [0.5, 2] for log/sqrt/pow; away from kinks otherwise */
        int positive = k == 1 || k == 2 || k == 11;
        en_tensor *x = positive ? t_rand_range(10 + k, EN_DIMS(4, 6), 0.5f, 2.0f)
                                : t_rand_range(10 + k, EN_DIMS(4, 6), -2.0f, 2.0f);
        if (k == 3 || k == 4 || k == 5) { /* keep |x| and x-0.9, x-1.6 >= 0.05 */
            float *p = en_tensor_f32(x);
            for (int i = 0; i < 24; i++) {
                if (fabsf(p[i]) < 0.05f) p[i] += 0.1f;
                if (fabsf(p[i] - 0.9f) < 0.05f || fabsf(p[i] - 1.6f) < 0.05f) p[i] += 0.1f;
            }
        }
        /* also through a non-contiguous view */
        en_tensor *in[1] = {x};
        CHECK(names[k], f_unary, 1, in, &k);
        release_all(1, in);
    }
}

/* ---- views ---------------------------------------------------------------- */
static en_tensor *f_views(en_tensor **in, void *ctx) {
    int perm[3] = {2, 0, 1};
    en_tensor *p = en_permute(in[0], perm);             /* (4, 2, 3) */
    en_tensor *s = en_slice(p, 0, 1, 4, 2);             /* (2, 2, 3) */
    en_tensor *r = en_reshape(s, EN_DIMS(4, -1));        /* copy: (4, 3) */
    en_tensor *e = en_expand(in[1], EN_DIMS(4, 3));      /* (1, 3) -> (4, 3) */
    en_tensor *sel = en_select(in[0], 2, 1);            /* (2, 3) */
    en_tensor *u = en_unsqueeze(sel, 0);                /* (1, 2, 3) */
    en_tensor *fl = en_flatten(u, 0, 1);                /* (2, 3) */
    en_tensor *m = en_mul(r, e);
    en_tensor *c = en_contiguous(m);
    en_tensor_release(m);
    en_tensor *top = en_slice(c, 0, 0, 2, 1);           /* (2, 3) */
    en_tensor *out = en_add(top, fl);
    en_tensor *list[] = {p, s, r, e, sel, u, fl, c, top};
    for (int i = 0; i < 9; i++) en_tensor_release(list[i]);
    return out;
}

Test(grad, views) {
    en_tensor *in[2] = {t_rand(30, EN_DIMS(2, 3, 4)), t_rand(31, EN_DIMS(1, 3))};
    CHECK("views", f_views, 2, in, NULL);
    release_all(2, in);
}

/* ---- reductions ------------------------------------------------------------ */
static en_tensor *f_reduce(en_tensor **in, void *ctx) {
    int k = *(int *)ctx, ax[2] = {0, 2};
    switch (k) {
    case 0: return en_sum(in[0], 2, ax, 0);
    case 1: return en_mean(in[0], 1, ax + 1, 1);
    case 2: return en_sum_all(in[0]);
    case 3: return en_mean_all(in[0]);
    case 4: return en_max(in[0], 1, 0);
    case 5: return en_max(in[0], -1, 1);
    case 6: return en_softmax(in[0], -1);
    case 7: return en_softmax(in[0], 1);
    case 8: return en_log_softmax(in[0], 0);
    case 9: return en_log_softmax(in[0], 2);
    case 10: return en_l2_normalize(in[0], -1, 1e-12f);
    case 11: return en_l2_normalize(in[0], 1, 1e-12f);
    default: return NULL;
    }
}

Test(grad, reductions) {
    const char *names[] = {"sum(0,2)", "mean(2,keep)", "sum_all", "mean_all", "max(1)", "max(-1,keep)",
                           "softmax(-1)", "softmax(1)", "log_softmax(0)", "log_softmax(2)",
                           "l2_normalize(-1)", "l2_normalize(1)"};
    for (int k = 0; k < 12; k++) {
        en_tensor *in[1] = {t_rand(40 + k, EN_DIMS(3, 4, 5))};
        CHECK(names[k], f_reduce, 1, in, &k);
        release_all(1, in);
    }
}

static en_tensor *f_layernorm(en_tensor **in, void *ctx) {
    return en_layer_norm(in[0], in[1], in[2], 1e-5f);
}

Test(grad, layer_norm) {
    en_tensor *in[3] = {t_rand(60, EN_DIMS(2, 3, 8)), t_rand(61, EN_DIMS(8)), t_rand(62, EN_DIMS(8))};
    CHECK("layer_norm", f_layernorm, 3, in, NULL);
    release_all(3, in);
    en_tensor *in2[3] = {t_rand(63, EN_DIMS(5, 6)), NULL, NULL};
    CHECK("layer_norm(no affine)", f_layernorm, 3, in2, NULL);
    release_all(1, in2);
}

/* ---- linear algebra ---------------------------------------------------------- */
static en_tensor *f_matmul(en_tensor **in, void *ctx) {
    int k = *(int *)ctx;
    if (k == 1 || k == 2) { /* transposed views of a and/or b */
        en_tensor *a = k == 1 ? en_transpose(in[0], 0, 1) : en_tensor_retain(in[0]);
        en_tensor *b = en_transpose(in[1], 0, 1);
        en_tensor *y = en_matmul(a, b);
        en_tensor_release(a);
        en_tensor_release(b);
        return y;
    }
    return en_matmul(in[0], in[1]);
}

Test(grad, matmul) {
    int k;
    en_tensor *a[2] = {t_rand(70, EN_DIMS(3, 4)), t_rand(71, EN_DIMS(4, 5))};
    k = 0; CHECK("matmul", f_matmul, 2, a, &k);
    release_all(2, a);
    en_tensor *b[2] = {t_rand(72, EN_DIMS(4, 3)), t_rand(73, EN_DIMS(5, 4))};
    k = 1; CHECK("matmul(a^T, b^T)", f_matmul, 2, b, &k);
    release_all(2, b);
    en_tensor *c[2] = {t_rand(74, EN_DIMS(3, 4)), t_rand(75, EN_DIMS(5, 4))};
    k = 2; CHECK("matmul(a, b^T)", f_matmul, 2, c, &k);
    release_all(2, c);
    en_tensor *d[2] = {t_rand(76, EN_DIMS(2, 3, 4)), t_rand(77, EN_DIMS(2, 4, 5))};
    k = 0; CHECK("matmul batched", f_matmul, 2, d, &k);
    release_all(2, d);
    en_tensor *e[2] = {t_rand(78, EN_DIMS(2, 3, 4)), t_rand(79, EN_DIMS(4, 5))};
    k = 0; CHECK("matmul batch x 2-D", f_matmul, 2, e, &k);
    release_all(2, e);
    en_tensor *f[2] = {t_rand(80, EN_DIMS(3, 4)), t_rand(81, EN_DIMS(2, 4, 5))};
    k = 0; CHECK("matmul 2-D x batch", f_matmul, 2, f, &k);
    release_all(2, f);
}

static en_tensor *f_linear(en_tensor **in, void *ctx) {
    if (ctx) { /* weight through a transposed view */
        en_tensor *w = en_transpose(in[1], 0, 1);
        en_tensor *y = en_linear(in[0], w, in[2]);
        en_tensor_release(w);
        return y;
    }
    return en_linear(in[0], in[1], in[2]);
}

Test(grad, linear) {
    en_tensor *a[3] = {t_rand(90, EN_DIMS(2, 3, 4)), t_rand(91, EN_DIMS(5, 4)), t_rand(92, EN_DIMS(5))};
    CHECK("linear", f_linear, 3, a, NULL);
    release_all(3, a);
    en_tensor *b[3] = {t_rand(93, EN_DIMS(3, 4)), t_rand(94, EN_DIMS(4, 5)), NULL};
    int one = 1;
    CHECK("linear(w^T, no bias)", f_linear, 3, b, &one);
    release_all(2, b);
}

static en_tensor *f_attention(en_tensor **in, void *ctx) { return en_attention(in[0], 2, *(int *)ctx); }
static en_tensor *f_mha(en_tensor **in, void *ctx) {
    return en_mha(in[0], in[1], in[2], in[3], in[4], 2, *(int *)ctx);
}

Test(grad, attention) {
    for (int causal = 0; causal < 2; causal++) {
        en_tensor *a[1] = {t_rand(100 + causal, EN_DIMS(2, 5, 12))};
        CHECK(causal ? "attention causal" : "attention", f_attention, 1, a, &causal);
        release_all(1, a);
        en_tensor *m[5] = {t_rand(110, EN_DIMS(2, 4, 6)), t_rand(111, EN_DIMS(18, 6)),
                           t_rand(112, EN_DIMS(18)), t_rand(113, EN_DIMS(6, 6)), t_rand(114, EN_DIMS(6))};
        for (int i = 1; i < 5; i++) { /* keep logits moderate */
            float *p = en_tensor_f32(m[i]);
            for (int64_t j = 0; j < en_tensor_numel(m[i]); j++) p[j] *= 0.4f;
        }
        CHECK(causal ? "mha causal" : "mha", f_mha, 5, m, &causal);
        release_all(5, m);
    }
}

/* ---- indexing ----------------------------------------------------------------- */
static en_tensor *f_embedding(en_tensor **in, void *ctx) {
    en_tensor *idx = en_tensor_from_i64(EN_DIMS(2, 3), (int64_t[]){1, 4, 1, 0, 4, 4});
    en_tensor *y = en_embedding(in[0], idx);
    en_tensor_release(idx);
    return y;
}
static en_tensor *f_gather(en_tensor **in, void *ctx) {
    en_tensor *idx = t_idx(4, (int64_t[]){2, 0, 2, 1});
    en_tensor *y = en_gather_rows(in[0], idx);
    en_tensor_release(idx);
    return y;
}
static en_tensor *f_concat(en_tensor **in, void *ctx) {
    int axis = *(int *)ctx;
    return axis == 9 ? en_stack(2, (en_tensor *[]){in[0], in[0]}, 1) : en_concat(3, in, axis);
}

Test(grad, indexing) {
    en_tensor *e[1] = {t_rand(120, EN_DIMS(5, 3))};
    CHECK("embedding", f_embedding, 1, e, NULL);
    release_all(1, e);
    en_tensor *g[1] = {t_rand(121, EN_DIMS(3, 2, 2))};
    CHECK("gather_rows", f_gather, 1, g, NULL);
    release_all(1, g);
    int ax = 1;
    en_tensor *c[3] = {t_rand(122, EN_DIMS(2, 1, 3)), t_rand(123, EN_DIMS(2, 4, 3)), t_rand(124, EN_DIMS(2, 2, 3))};
    CHECK("concat(1)", f_concat, 3, c, &ax);
    release_all(3, c);
    ax = 9;
    en_tensor *s[1] = {t_rand(125, EN_DIMS(2, 3))};
    CHECK("stack(1)", f_concat, 1, s, &ax);
    release_all(1, s);
}

/* ---- losses -------------------------------------------------------------------- */
static en_tensor *f_ce(en_tensor **in, void *ctx) {
    en_tensor *t = t_idx(4, (int64_t[]){2, 0, 4, 2});
    en_tensor *y = en_cross_entropy(in[0], t);
    en_tensor_release(t);
    return y;
}
static en_tensor *f_mse(en_tensor **in, void *ctx) { return en_mse(in[0], in[1]); }
static en_tensor *f_bce(en_tensor **in, void *ctx) { return en_bce_with_logits(in[0], in[1]); }

Test(grad, losses) {
    en_tensor *c[1] = {t_rand(130, EN_DIMS(4, 5))};
    CHECK("cross_entropy", f_ce, 1, c, NULL);
    release_all(1, c);
    en_tensor *m[2] = {t_rand(131, EN_DIMS(3, 4)), t_rand(132, EN_DIMS(3, 4))};
    CHECK("mse", f_mse, 2, m, NULL);
    release_all(2, m);
    en_tensor *b[2] = {t_rand(133, EN_DIMS(3, 4)), t_rand_range(134, EN_DIMS(3, 4), 0, 1)};
    CHECK("bce_with_logits", f_bce, 2, b, NULL);
    release_all(2, b);
}
