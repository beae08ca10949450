/* Each engine op with a device path, on the fake device (fake_device.h)
 * against the CPU: the same bits (the fake runs the CPU's kernels and the
 * device paths keep the CPU's order of operations; the one exception, a
 * sum over two separate runs of axes, is checked against its bound), and
 * no kernel fallback, host op or host gather. The ops the encoders do not
 * reach are here: the transposed convolution, max and adaptive pooling,
 * upsampling, max/argmax, sums over several axes, gathers, cross-entropy,
 * l2_normalize, mse and bce_with_logits. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "en_autograd.h"
#include "en_device.h"
#include "en_error.h"
#include "en_ops.h"
#include "en_ops_conv.h"
#include "en_tensor.h"
#include "fake_device.h"
#include "kn_backend.h"

TestSuite(device_ops, .init = fake_install, .fini = fake_remove);

static uint64_t host_runs(void) {
    uint64_t s = fake_fallbacks_total() + en_device_gather_count();
    for (int i = 0; i < EN_OP_COUNT; i++) s += en_device_host_op_count(i);
    return s;
}

static en_tensor *rnd(en_rng *r, int nd, const int64_t *shape) { return en_tensor_randn(nd, shape, r, 0, 1); }

/* worst |a - b| (b on any device); both dtypes compared as numbers */
static double worst(en_tensor *a, en_tensor *b) {
    en_tensor *ha = en_tensor_cpu(a), *hb = en_tensor_cpu(b);
    cr_assert(en_tensor_same_shape(ha, hb) && ha->dtype == hb->dtype);
    double w = 0;
    for (int64_t i = 0; i < en_tensor_numel(ha); i++) {
        double x = ha->dtype == EN_F32 ? en_tensor_f32(ha)[i] : (double)en_tensor_i64(ha)[i];
        double y = hb->dtype == EN_F32 ? en_tensor_f32(hb)[i] : (double)en_tensor_i64(hb)[i];
        double d = fabs(x - y);
        if (!(d <= w)) w = d;
    }
    en_tensor_release(ha);
    en_tensor_release(hb);
    return w;
}

typedef en_tensor *(*op_fn)(en_tensor *const *in);
/* op on host inputs and on device copies of them: prints and checks */
static void check(const char *name, op_fn f, int n, en_tensor *const *in, double bound, int host_ok) {
    en_tensor *d[4] = {0};
    for (int i = 0; i < n; i++) d[i] = in[i]->dtype == EN_F32 ? en_tensor_to(in[i], EN_CUDA) : en_tensor_retain(in[i]);
    en_tensor *yc = f(in);
    uint64_t h0 = host_runs();
    en_tensor *yd = f(d);
    uint64_t h = host_runs() - h0;
    cr_assert(yc && yd, "%s: %s", name, en_error_msg());
    cr_expect_eq(en_tensor_device(yd), EN_CUDA, "%s: the result stays on the device", name);
    double w = worst(yc, yd);
    printf("  %-28s worst |device - cpu| %.3g (bound %.3g), host runs %llu\n", name, w, bound,
           (unsigned long long)h);
    cr_expect(w <= bound, "%s: worst %g above %g", name, w, bound);
    if (host_ok) cr_expect_eq(h, 1, "%s: one counted run on host copies", name);
    else cr_expect_eq(h, 0, "%s: nothing on the host", name);
    for (int i = 0; i < n; i++) en_tensor_release(d[i]);
    en_tensor_release(yc);
    en_tensor_release(yd);
}

static en_tensor *f_convt(en_tensor *const *x) { return en_conv_transpose2d(x[0], x[1], x[2], 2, 1, 1); }
static en_tensor *f_conv(en_tensor *const *x) { return en_conv2d(x[0], x[1], x[2], 2, 1); }
static en_tensor *f_maxpool(en_tensor *const *x) { return en_max_pool2d(x[0], 3, 2, 1); }
static en_tensor *f_adapt(en_tensor *const *x) { return en_adaptive_avg_pool2d(x[0], 3, 2); }
static en_tensor *f_near(en_tensor *const *x) { return en_upsample_nearest(x[0], 0, 0, 2.0, 1.5); }
static en_tensor *f_bilin(en_tensor *const *x) { return en_upsample_bilinear(x[0], 11, 9, 0, 0, 1); }
static en_tensor *f_max(en_tensor *const *x) { return en_max(x[0], 1, 0); }
static en_tensor *f_argmax(en_tensor *const *x) { return en_argmax(x[0], -1, 1); }
static en_tensor *f_sum_all(en_tensor *const *x) { return en_sum_all(x[0]); }
static en_tensor *f_mean_12(en_tensor *const *x) { return en_mean(x[0], 2, (const int[]){1, 2}, 1); }
static en_tensor *f_sum_last2(en_tensor *const *x) { return en_sum(x[0], 2, (const int[]){-1, -2}, 0); }
static en_tensor *f_sum_02(en_tensor *const *x) { return en_sum(x[0], 2, (const int[]){0, 2}, 0); }
static en_tensor *f_bdiv(en_tensor *const *x) { return en_div(x[0], x[1]); }
static en_tensor *f_bsub_t(en_tensor *const *x) {
    en_tensor *t = en_transpose(x[0], 0, 1), *r = en_sub(t, x[1]);
    en_tensor_release(t);
    return r;
}
static en_tensor *f_gather(en_tensor *const *x) { return en_gather_rows(x[0], x[1]); }
static en_tensor *f_embed(en_tensor *const *x) { return en_embedding(x[0], x[1]); }
static en_tensor *f_xent(en_tensor *const *x) { return en_cross_entropy(x[0], x[1]); }
static en_tensor *f_logsm0(en_tensor *const *x) { return en_log_softmax(x[0], 0); }
static en_tensor *f_stack(en_tensor *const *x) { return en_stack(2, x, 1); }
static en_tensor *f_matmul_t(en_tensor *const *x) {
    en_tensor *t = en_transpose(x[1], -1, -2), *r = en_matmul(x[0], t);
    en_tensor_release(t);
    return r;
}
static en_tensor *f_l2n(en_tensor *const *x) { return en_l2_normalize(x[0], -1, 1e-12f); }
static en_tensor *f_mse(en_tensor *const *x) { return en_mse(x[0], x[1]); }
static en_tensor *f_bce(en_tensor *const *x) { return en_bce_with_logits(x[0], x[1]); }

Test(device_ops, every_device_path_gives_the_cpu_bits) {
    int prev = en_grad_set_enabled(0);
    en_rng r;
    en_rng_seed(&r, 21);
    en_tensor *img = rnd(&r, EN_DIMS(2, 3, 7, 6)), *wt = rnd(&r, EN_DIMS(3, 4, 3, 3)), *bt = rnd(&r, EN_DIMS(4));
    en_tensor *wc = rnd(&r, EN_DIMS(5, 3, 3, 3)), *bc = rnd(&r, EN_DIMS(5));
    en_tensor *a3 = rnd(&r, EN_DIMS(4, 5, 6)), *a4 = rnd(&r, EN_DIMS(3, 4, 5, 6));
    en_tensor *bb = rnd(&r, EN_DIMS(5, 1)), *b41 = rnd(&r, EN_DIMS(4, 1)), *m1 = rnd(&r, EN_DIMS(3, 4, 5)), *m2 = rnd(&r, EN_DIMS(3, 6, 5));
    en_tensor *pos = en_tensor_uniform(EN_DIMS(4, 5, 6), &r, 0.5f, 2.0f);
    en_tensor *tbl = rnd(&r, EN_DIMS(9, 3, 2)), *logits = rnd(&r, EN_DIMS(6, 7));
    int64_t ids[] = {3, 0, 8, 3, 5, 1}, tg[] = {6, 0, 2, 2, 5, 1};
    en_tensor *idx = en_tensor_from_i64(EN_DIMS(6), ids), *tgt = en_tensor_from_i64(EN_DIMS(6), tg);
    en_tensor *idx2 = en_tensor_from_i64(EN_DIMS(2, 3), ids);
    en_tensor *emb = rnd(&r, EN_DIMS(9, 4));

    check("conv2d stride 2 pad 1", f_conv, 3, (en_tensor *[]){img, wc, bc}, 0, 0);
    check("conv_transpose2d", f_convt, 3, (en_tensor *[]){img, wt, bt}, 0, 0);
    check("max_pool2d 3/2/1", f_maxpool, 1, &img, 0, 0);
    check("adaptive_avg_pool2d 3x2", f_adapt, 1, &img, 0, 0);
    check("upsample_nearest x2, x1.5", f_near, 1, &img, 0, 0);
    check("upsample_bilinear 11x9 ac", f_bilin, 1, &img, 0, 0);
    check("max along 1", f_max, 1, &a3, 0, 0);
    check("argmax along -1 keepdim", f_argmax, 1, &a3, 0, 0);
    check("sum_all", f_sum_all, 1, &a4, 0, 0);
    check("mean over 1, 2 keepdim", f_mean_12, 1, &a4, 0, 0);
    check("sum over -1, -2", f_sum_last2, 1, &a4, 0, 0);
    /* two separate runs of axes: partial sums associate otherwise than the
     * CPU's chain; |error| <= (n - 1) eps sum|x| with n = 3 * 5 terms of
     * |x| ~ N(0, 1) (sum|x| < 15 * 4): 14 * 2^-24 * 60 = 5.1e-5 */
    check("sum over 0, 2 (two runs)", f_sum_02, 1, &a4, 5.1e-5, 0);
    check("div, broadcast (5,1)", f_bdiv, 2, (en_tensor *[]){pos, bb}, 0, 0);
    check("sub of a transposed view", f_bsub_t, 2, (en_tensor *[]){a3, b41}, 0, 0);
    check("gather_rows (9,3,2)", f_gather, 2, (en_tensor *[]){tbl, idx}, 0, 0);
    check("embedding (2,3) ids", f_embed, 2, (en_tensor *[]){emb, idx2}, 0, 0);
    check("cross_entropy", f_xent, 2, (en_tensor *[]){logits, tgt}, 0, 0);
    check("log_softmax along 0", f_logsm0, 1, &logits, 0, 0);
    check("stack along 1", f_stack, 2, (en_tensor *[]){m1, m1}, 0, 0);
    check("batched matmul, b transposed", f_matmul_t, 2, (en_tensor *[]){m1, m2}, 0, 0);
    check("l2_normalize", f_l2n, 1, &a3, 0, 0);
    check("mse", f_mse, 2, (en_tensor *[]){a3, pos}, 0, 0);
    check("bce_with_logits", f_bce, 2, (en_tensor *[]){a3, pos}, 0, 0);
    en_tensor *rel[] = {img, wt, bt, wc, bc, a3, a4, bb, b41, m1, m2, pos, tbl, logits, idx, tgt, idx2, emb};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) en_tensor_release(rel[i]);
    cr_expect_eq(fake_live_count(), 0, "every device buffer went back");
    en_grad_set_enabled(prev);
}

Test(device_ops, a_bad_index_on_the_device_path_is_an_error) {
    en_rng r;
    en_rng_seed(&r, 2);
    en_tensor *x = rnd(&r, EN_DIMS(4, 3)), *dx = en_tensor_to(x, EN_CUDA);
    int64_t bad[] = {1, 4};
    en_tensor *idx = en_tensor_from_i64(EN_DIMS(2), bad);
    cr_expect(en_gather_rows(dx, idx) == NULL);
    cr_expect(strstr(en_error_msg(), "index 4 out of range") != NULL, "%s", en_error_msg());
    cr_expect(en_cross_entropy(dx, idx) == NULL, "two targets for four rows");
    en_tensor_release(idx);
    en_tensor_release(dx);
    en_tensor_release(x);
}
