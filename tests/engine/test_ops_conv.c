/* The convolution-family ops through the tensor API: gradients from the tape
 * against central finite differences (the input reached through an
 * activation so both the write and the fan-out add paths run), forwards
 * against PyTorch fixtures, batch norm's running buffers, user errors, and
 * an arena inference step that allocates nothing. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../kernels/torch_fixtures.h"
#include "en_autograd.h"
#include "en_error.h"
#include "en_ops.h"
#include "en_ops_conv.h"

typedef en_tensor *(*op_fn)(en_tensor *const *in, const void *ctx);

/* loss = sum(op(h, in[1..]) * R) [+ sum(h * R2) when fanout], h = 1.5 * in[0].
 * The op's input h is an activation: without fan-out the op writes its
 * gradient (acc = 0); with it, h's other use runs first and the op adds. */
static double loss_value(op_fn f, const void *ctx, en_tensor **leaf, int nleaf,
                         const float *R, const float *R2, int fanout) {
    EN_NO_GRAD_BEGIN;
    en_tensor *h = en_mul_scalar(leaf[0], 1.5f);
    en_tensor *args[4] = {h, nleaf > 1 ? leaf[1] : NULL, nleaf > 2 ? leaf[2] : NULL, NULL};
    en_tensor *y = f(args, ctx);
    cr_assert(y, "%s", en_error_msg());
    double s = 0;
    const float *yp = en_tensor_f32(y);
    for (int64_t i = 0; i < en_tensor_numel(y); i++) s += (double)yp[i] * R[i];
    if (fanout) {
        en_tensor *hc = en_contiguous(h);
        const float *hp = en_tensor_f32(hc);
        for (int64_t i = 0; i < en_tensor_numel(hc); i++) s += (double)hp[i] * R2[i];
        en_tensor_release(hc);
    }
    en_tensor_release(y);
    en_tensor_release(h);
    EN_NO_GRAD_END;
    return s;
}

/* Gradients of the leaves (contiguous, requiring grad) from one backward,
 * against central differences at up to `samples` coordinates each. */
static double gradcheck(const char *what, op_fn f, const void *ctx, en_tensor **leaf,
                        int nleaf, int fanout, float eps, en_rng *r) {
    for (int i = 0; i < nleaf; i++)
        if (leaf[i]) { en_requires_grad(leaf[i], 1); en_zero_grad(leaf[i]); }
    en_tensor *h = en_mul_scalar(leaf[0], 1.5f);
    en_tensor *args[4] = {h, nleaf > 1 ? leaf[1] : NULL, nleaf > 2 ? leaf[2] : NULL, NULL};
    en_tensor *y = f(args, ctx);
    cr_assert(y, "%s: %s", what, en_error_msg());
    en_tensor *R = en_tensor_randn(y->ndim, y->shape, r, 0, 1);
    en_tensor *R2 = en_tensor_randn(h->ndim, h->shape, r, 0, 1);
    en_tensor *yr = en_mul(y, R), *loss = en_sum_all(yr);
    en_tensor_release(yr);
    if (fanout) {
        en_tensor *hr = en_mul(h, R2), *l2 = en_sum_all(hr), *tot = en_add(loss, l2);
        en_tensor_release(hr);
        en_tensor_release(l2);
        en_tensor_release(loss);
        loss = tot;
    }
    cr_assert(en_backward(loss) == 0, "%s", en_error_msg());
    double worst = 0;
    for (int i = 0; i < nleaf; i++) {
        if (!leaf[i]) continue;
        const float *g = en_tensor_f32(en_tensor_grad(leaf[i]));
        float *p = en_tensor_f32(leaf[i]);
        int64_t n = en_tensor_numel(leaf[i]);
        for (int s = 0; s < 40 && s < n; s++) {
            int64_t j = n <= 40 ? s : (int64_t)en_rng_below(r, (uint64_t)n);
            float keep = p[j];
            p[j] = keep + eps;
            double lp = loss_value(f, ctx, leaf, nleaf, en_tensor_f32(R), en_tensor_f32(R2), fanout);
            p[j] = keep - eps;
            double lm = loss_value(f, ctx, leaf, nleaf, en_tensor_f32(R), en_tensor_f32(R2), fanout);
            p[j] = keep;
            double fd = (lp - lm) / ((double)(keep + eps) - (double)(keep - eps));
            double d = fabs(fd - g[j]) / (1.0 + fabs(g[j]));
            if (!(d <= worst)) worst = d;
        }
    }
    printf("  %-44s gradcheck worst %.3g\n", what, worst);
    en_tensor_release(loss);
    en_tensor_release(y);
    en_tensor_release(h);
    en_tensor_release(R);
    en_tensor_release(R2);
    return worst;
}

static void check_both(const char *what, op_fn f, const void *ctx, en_tensor **leaf, int nleaf,
                       float eps, double tol, en_rng *r) {
    char name[96];
    snprintf(name, sizeof name, "%s (writes)", what);
    cr_expect(gradcheck(name, f, ctx, leaf, nleaf, 0, eps, r) < tol, "%s", name);
    snprintf(name, sizeof name, "%s (fan-out adds)", what);
    cr_expect(gradcheck(name, f, ctx, leaf, nleaf, 1, eps, r) < tol, "%s", name);
}

/* ---- the ops under test, as op_fn ---------------------------------------- */
typedef struct { int stride, pad, outpad, k, cip, oh, ow, ac, training; double sh, sw; } args;

static en_tensor *f_conv(en_tensor *const *in, const void *c) {
    const args *a = c;
    return en_conv2d(in[0], in[1], in[2], a->stride, a->pad);
}
static en_tensor *f_convt(en_tensor *const *in, const void *c) {
    const args *a = c;
    return en_conv_transpose2d(in[0], in[1], in[2], a->stride, a->pad, a->outpad);
}
static en_tensor *f_maxpool(en_tensor *const *in, const void *c) {
    const args *a = c;
    return en_max_pool2d(in[0], a->k, a->stride, a->pad);
}
static en_tensor *f_avgpool(en_tensor *const *in, const void *c) {
    const args *a = c;
    return en_avg_pool2d(in[0], a->k, a->stride, a->pad, a->cip);
}
static en_tensor *f_adaptive(en_tensor *const *in, const void *c) {
    const args *a = c;
    return en_adaptive_avg_pool2d(in[0], a->oh, a->ow);
}
static en_tensor *f_nearest(en_tensor *const *in, const void *c) {
    const args *a = c;
    return en_upsample_nearest(in[0], a->oh, a->ow, a->sh, a->sw);
}
static en_tensor *f_bilinear(en_tensor *const *in, const void *c) {
    const args *a = c;
    return en_upsample_bilinear(in[0], a->oh, a->ow, a->sh, a->sw, a->ac);
}
static en_tensor *bn_rm, *bn_rv; /* running buffers for f_bn */
static en_tensor *f_bn(en_tensor *const *in, const void *c) {
    const args *a = c;
    return en_batch_norm2d(in[0], in[1], in[2], bn_rm, bn_rv, a->training, 0.1f, 1e-5f);
}

/* A permuted (non-contiguous) view standing in for a (N,C,H,W) input: the
 * leaf is (N,H,W,C); gradients must come back through the permute. */
static en_tensor *f_conv_nhwc(en_tensor *const *in, const void *c) {
    const args *a = c;
    en_tensor *x = en_permute(in[0], (int[]){0, 3, 1, 2});
    cr_assert(!en_tensor_is_contiguous(x));
    en_tensor *y = en_conv2d(x, in[1], in[2], a->stride, a->pad);
    en_tensor_release(x);
    return y;
}

Test(ops_conv, conv2d_gradients) {
    en_rng r; en_rng_seed(&r, 101);
    en_tensor *x = en_tensor_randn(EN_DIMS(2, 3, 7, 6), &r, 0, 1);
    en_tensor *w = en_tensor_randn(EN_DIMS(4, 3, 3, 3), &r, 0, 1);
    en_tensor *b = en_tensor_randn(EN_DIMS(4), &r, 0, 1);
    args a = {.stride = 2, .pad = 1};
    check_both("conv2d s2 p1", f_conv, &a, (en_tensor *[]){x, w, b}, 3, 1e-2f, 2e-3, &r);
    args a1 = {.stride = 1, .pad = 0};
    check_both("conv2d s1 p0 no bias", f_conv, &a1, (en_tensor *[]){x, w, NULL}, 3, 1e-2f, 2e-3, &r);
    en_tensor *xn = en_tensor_randn(EN_DIMS(2, 7, 6, 3), &r, 0, 1);
    check_both("conv2d on a permuted view", f_conv_nhwc, &a, (en_tensor *[]){xn, w, b}, 3, 1e-2f,
               2e-3, &r);
    en_tensor *w1 = en_tensor_randn(EN_DIMS(5, 3, 1, 1), &r, 0, 1);
    check_both("conv2d 1x1", f_conv, &a1, (en_tensor *[]){x, w1, NULL}, 3, 1e-2f, 2e-3, &r);
    en_tensor *xt = en_tensor_randn(EN_DIMS(2, 3, 4, 5), &r, 0, 1);
    en_tensor *wt = en_tensor_randn(EN_DIMS(3, 2, 3, 3), &r, 0, 1);
    en_tensor *bt = en_tensor_randn(EN_DIMS(2), &r, 0, 1);
    args at = {.stride = 2, .pad = 1, .outpad = 1};
    check_both("conv_transpose2d s2 p1 op1", f_convt, &at, (en_tensor *[]){xt, wt, bt}, 3, 1e-2f,
               2e-3, &r);
    en_tensor *ts[] = {x, w, b, xn, w1, xt, wt, bt};
    for (int i = 0; i < 8; i++) en_tensor_release(ts[i]);
}

Test(ops_conv, parameter_gradients_accumulate) {
    en_rng r; en_rng_seed(&r, 102);
    en_tensor *x = en_tensor_randn(EN_DIMS(2, 2, 5, 5), &r, 0, 1);
    en_tensor *w = en_tensor_randn(EN_DIMS(3, 2, 3, 3), &r, 0, 1);
    en_requires_grad(w, 1);
    float first[54];
    for (int pass = 0; pass < 2; pass++) {
        en_tensor *y = en_conv2d(x, w, NULL, 1, 1), *l = en_sum_all(y);
        cr_assert(en_backward(l) == 0);
        en_tensor_release(y);
        en_tensor_release(l);
        if (pass == 0) memcpy(first, en_tensor_f32(en_tensor_grad(w)), sizeof first);
    }
    const float *g = en_tensor_f32(en_tensor_grad(w));
    double worst = 0;
    for (int i = 0; i < 54; i++) worst = fmax(worst, fabs(g[i] - 2 * first[i]) / (1 + fabs(first[i])));
    printf("  conv2d dw after two backward passes = 2x one: worst %.3g\n", worst);
    cr_expect(worst < 1e-6);
    en_tensor_release(x);
    en_tensor_release(w);
}

Test(ops_conv, pooling_and_upsampling_gradients) {
    en_rng r; en_rng_seed(&r, 103);
    /* distinct values 0.01 apart so max pool's choice is stable under the step */
    int64_t perm[2 * 3 * 7 * 6];
    en_rng_permutation(&r, perm, 252);
    float v[252];
    for (int i = 0; i < 252; i++) v[i] = 0.01f * (float)perm[i] - 1.2f;
    en_tensor *x = en_tensor_from_f32(EN_DIMS(2, 3, 7, 6), v);
    args mp = {.k = 3, .stride = 2, .pad = 1};
    check_both("max_pool2d k3 s2 p1", f_maxpool, &mp, &x, 1, 1e-3f, 2e-3, &r);
    args ap = {.k = 3, .stride = 2, .pad = 1, .cip = 1};
    check_both("avg_pool2d k3 s2 p1", f_avgpool, &ap, &x, 1, 1e-2f, 2e-3, &r);
    args ap0 = {.k = 3, .stride = 1, .pad = 1, .cip = 0};
    check_both("avg_pool2d k3 s1 p1 count_include_pad=0", f_avgpool, &ap0, &x, 1, 1e-2f, 2e-3, &r);
    args ap2 = {.k = 2, .stride = 0};
    check_both("avg_pool2d(2) (CLIP's anti-aliasing)", f_avgpool, &ap2, &x, 1, 1e-2f, 2e-3, &r);
    args ad = {.oh = 3, .ow = 4};
    check_both("adaptive_avg_pool2d (3,4)", f_adaptive, &ad, &x, 1, 1e-2f, 2e-3, &r);
    args un = {.oh = 9, .ow = 13};
    check_both("upsample_nearest size", f_nearest, &un, &x, 1, 1e-2f, 2e-3, &r);
    args us = {.sh = 2, .sw = 2};
    check_both("upsample_nearest x2", f_nearest, &us, &x, 1, 1e-2f, 2e-3, &r);
    args ub = {.oh = 9, .ow = 13};
    check_both("upsample_bilinear size", f_bilinear, &ub, &x, 1, 1e-2f, 2e-3, &r);
    args ubs = {.sh = 2.5, .sw = 2.5};
    check_both("upsample_bilinear x2.5", f_bilinear, &ubs, &x, 1, 1e-2f, 2e-3, &r);
    args uba = {.oh = 9, .ow = 13, .ac = 1};
    check_both("upsample_bilinear align_corners", f_bilinear, &uba, &x, 1, 1e-2f, 2e-3, &r);
    en_tensor_release(x);
}

Test(ops_conv, batch_norm_gradients_and_buffers) {
    en_rng r; en_rng_seed(&r, 104);
    en_tensor *x = en_tensor_randn(EN_DIMS(3, 2, 4, 3), &r, 1, 2);
    en_tensor *g = en_tensor_randn(EN_DIMS(2), &r, 1, 0.5f);
    en_tensor *b = en_tensor_randn(EN_DIMS(2), &r, 0, 1);
    bn_rm = en_tensor_zeros(EN_DIMS(2));
    bn_rv = en_tensor_ones(EN_DIMS(2));
    args tr = {.training = 1}, ev = {.training = 0};
    check_both("batch_norm2d train", f_bn, &tr, (en_tensor *[]){x, g, b}, 3, 1e-2f, 5e-3, &r);
    check_both("batch_norm2d train, no affine", f_bn, &tr, (en_tensor *[]){x, NULL, NULL}, 3, 1e-2f,
               5e-3, &r);
    check_both("batch_norm2d eval", f_bn, &ev, (en_tensor *[]){x, g, b}, 3, 1e-2f, 5e-3, &r);

    /* one training forward moves the buffers by momentum 0.1 toward the batch
     * statistics (unbiased variance); eval leaves them alone */
    en_tensor_fill_(bn_rm, 0.0f);
    en_tensor_fill_(bn_rv, 1.0f);
    en_tensor *y = en_batch_norm2d(x, g, b, bn_rm, bn_rv, 1, 0.1f, 1e-5f);
    const float *xp = en_tensor_f32(x);
    double worst = 0;
    for (int c = 0; c < 2; c++) {
        double s = 0, s2 = 0;
        for (int n = 0; n < 3; n++)
            for (int i = 0; i < 12; i++) s += xp[(n * 2 + c) * 12 + i];
        double mu = s / 36;
        for (int n = 0; n < 3; n++)
            for (int i = 0; i < 12; i++) s2 += pow(xp[(n * 2 + c) * 12 + i] - mu, 2);
        worst = fmax(worst, fabs(en_tensor_f32(bn_rm)[c] - 0.1 * mu));
        worst = fmax(worst, fabs(en_tensor_f32(bn_rv)[c] - (0.9 + 0.1 * s2 / 35)));
    }
    printf("  batch_norm2d running buffers after one step: worst %.3g\n", worst);
    cr_expect(worst < 1e-5);
    float keep[2] = {en_tensor_f32(bn_rm)[0], en_tensor_f32(bn_rv)[1]};
    en_tensor *ye = en_batch_norm2d(x, g, b, bn_rm, bn_rv, 0, 0.1f, 1e-5f);
    cr_expect(en_tensor_f32(bn_rm)[0] == keep[0] && en_tensor_f32(bn_rv)[1] == keep[1]);
    en_tensor *ts[] = {x, g, b, bn_rm, bn_rv, y, ye};
    for (int i = 0; i < 7; i++) en_tensor_release(ts[i]);
}

static double worst_vs(const en_tensor *t, const float *ref, int64_t n) {
    cr_assert_eq(en_tensor_numel(t), n);
    double w = 0;
    for (int64_t i = 0; i < n; i++)
        w = fmax(w, fabs(en_tensor_f32(t)[i] - ref[i]) / (1 + fabs(ref[i])));
    return w;
}

Test(ops_conv, forwards_match_torch) {
    EN_NO_GRAD_BEGIN;
    en_tensor *x = en_tensor_from_f32(EN_DIMS(2, 3, 7, 6), fx_conv_x);
    en_tensor *w = en_tensor_from_f32(EN_DIMS(4, 3, 3, 3), fx_conv_w);
    en_tensor *b = en_tensor_from_f32(EN_DIMS(4), fx_conv_b);
    en_tensor *y = en_conv2d(x, w, b, 2, 1);
    double d = worst_vs(y, fx_conv_y, 2 * 4 * 4 * 3);
    printf("  en_conv2d vs torch: worst %.3g\n", d);
    cr_expect(d < 1e-5);
    en_tensor *xt = en_tensor_from_f32(EN_DIMS(2, 3, 4, 5), fx_convt_x);
    en_tensor *wt = en_tensor_from_f32(EN_DIMS(3, 2, 3, 3), fx_convt_w);
    en_tensor *bt = en_tensor_from_f32(EN_DIMS(2), fx_convt_b);
    en_tensor *yt = en_conv_transpose2d(xt, wt, bt, 2, 1, 1);
    d = worst_vs(yt, fx_convt_y, 2 * 2 * 8 * 10);
    printf("  en_conv_transpose2d vs torch: worst %.3g\n", d);
    cr_expect(d < 1e-5);
    en_tensor *xp = en_tensor_from_f32(EN_DIMS(2, 3, 7, 6), fx_pool_x);
    en_tensor *a2 = en_avg_pool2d(xp, 2, 0, 0, 1);
    d = worst_vs(a2, fx_avgpool2_y, 2 * 3 * 3 * 3);
    printf("  en_avg_pool2d(2) vs torch: worst %.3g\n", d);
    cr_expect(d < 1e-6);
    en_tensor *xu = en_tensor_from_f32(EN_DIMS(2, 3, 3, 4), fx_up_x);
    en_tensor *ub = en_upsample_bilinear(xu, 0, 0, 2.5, 2.5, 0);
    d = worst_vs(ub, fx_bilinear_scale_y, 2 * 3 * 7 * 10);
    printf("  en_upsample_bilinear x2.5 vs torch: worst %.3g\n", d);
    cr_expect(d < 1e-6);
    en_tensor *ts[] = {x, w, b, y, xt, wt, bt, yt, xp, a2, xu, ub};
    for (int i = 0; i < 12; i++) en_tensor_release(ts[i]);
    EN_NO_GRAD_END;
}

Test(ops_conv, user_errors_are_messages) {
    en_tensor *x = en_tensor_zeros(EN_DIMS(1, 3, 5, 5)), *x3 = en_tensor_zeros(EN_DIMS(3, 5, 5));
    en_tensor *w = en_tensor_zeros(EN_DIMS(4, 2, 3, 3)), *w7 = en_tensor_zeros(EN_DIMS(4, 3, 7, 7));
    en_tensor *b5 = en_tensor_zeros(EN_DIMS(5)), *wt = en_tensor_zeros(EN_DIMS(3, 4, 3, 3));
#define EXPECT_ERR(call, want)                                                       \
    do {                                                                             \
        en_tensor *t_ = (call);                                                      \
        cr_expect(t_ == NULL, #call " returned a tensor");                           \
        cr_expect(strstr(en_error_msg(), want) != NULL, "%s: message '%s' lacks '%s'", \
                  #call, en_error_msg(), want);                                      \
        en_tensor_release(t_);                                                       \
    } while (0)
    EXPECT_ERR(en_conv2d(x, w, NULL, 1, 0), "channels");
    EXPECT_ERR(en_conv2d(x3, w, NULL, 1, 0), "4-D");
    EXPECT_ERR(en_conv2d(x, w7, NULL, 1, 0), "does not fit");
    EXPECT_ERR(en_conv2d(x, w7, b5, 1, 3), "bias");
    EXPECT_ERR(en_conv_transpose2d(x, wt, NULL, 2, 0, 2), "output padding");
    EXPECT_ERR(en_max_pool2d(x, 3, 2, 2), "padding");
    EXPECT_ERR(en_avg_pool2d(x, 7, 1, 0, 1), "does not fit");
    EXPECT_ERR(en_adaptive_avg_pool2d(x, 0, 2), "output size");
    EXPECT_ERR(en_upsample_nearest(x, 0, 0, 0, 0), "scale");
    EXPECT_ERR(en_batch_norm2d(x, NULL, NULL, NULL, NULL, 0, 0.1f, 1e-5f), "running");
    EXPECT_ERR(en_batch_norm2d(x, b5, NULL, NULL, NULL, 1, 0.1f, 1e-5f), "weight");
    printf("  last message: %s\n", en_error_msg());
    en_tensor *ts[] = {x, x3, w, w7, b5, wt};
    for (int i = 0; i < 6; i++) en_tensor_release(ts[i]);
}

/* A ResNet-stem-like step (conv, batch norm eval, relu, avg pool, upsample)
 * in an arena with grad off: the second step makes no heap allocation. */
Test(ops_conv, arena_inference_allocates_nothing) {
    en_rng r; en_rng_seed(&r, 105);
    en_tensor *x = en_tensor_randn(EN_DIMS(2, 3, 16, 16), &r, 0, 1);
    en_tensor *w = en_tensor_randn(EN_DIMS(8, 3, 3, 3), &r, 0, 0.3f);
    en_tensor *rm = en_tensor_zeros(EN_DIMS(8)), *rv = en_tensor_ones(EN_DIMS(8));
    en_arena *a = en_arena_new(1 << 20);
    EN_NO_GRAD_BEGIN;
    uint64_t before = 0;
    for (int step = 0; step < 3; step++) {
        if (step == 2) before = en_tensor_alloc_count();
        en_arena_begin(a);
        en_tensor *h = en_conv2d(x, w, NULL, 2, 1);
        en_tensor *hb = en_batch_norm2d(h, NULL, NULL, rm, rv, 0, 0.1f, 1e-5f);
        en_tensor *hr = en_relu(hb);
        en_tensor *hp = en_avg_pool2d(hr, 2, 0, 0, 1);
        en_tensor *hm = en_max_pool2d(hp, 3, 1, 1);
        en_tensor *hu = en_upsample_bilinear(hm, 8, 8, 0, 0, 0);
        cr_assert(hu && hu->shape[1] == 8 && hu->shape[2] == 8);
        en_arena_end(a);
        en_arena_reset(a);
    }
    uint64_t after = en_tensor_alloc_count();
    printf("  heap allocations in the third arena step: %llu\n", (unsigned long long)(after - before));
    cr_expect(after == before);
    EN_NO_GRAD_END;
    en_arena_free(a);
    en_tensor *ts[] = {x, w, rm, rv};
    for (int i = 0; i < 4; i++) en_tensor_release(ts[i]);
}
