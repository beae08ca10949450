/* en_ops_conv — the convolution family as ops: argument checks, the tape
 * record, and the calls into the back end's kernels (kn_backend.h).
 * Forward and backward side by side; see en_ops_conv.h for the contracts. */
#include "en_ops_conv.h"

#include <math.h>
#include <string.h>

#include "en_device.h"
#include "en_error.h"
#include "en_opdef.h"

/* ---- helpers ---------------------------------------------------------------- */

static int check_nchw(const char *op, const en_tensor *x) {
    char b[96];
    if (!x || x->dtype != EN_F32 || x->ndim != 4)
        return en_error("%s: input must be a 4-D (N, C, H, W) float tensor, got %s", op,
                        x ? en_tensor_shape_str(x, b, sizeof b) : "NULL");
    for (int i = 0; i < 4; i++)
        if (x->shape[i] <= 0 || x->shape[i] > (1 << 30))
            return en_error("%s: input shape %s has an empty or huge dim", op,
                            en_tensor_shape_str(x, b, sizeof b));
    return 0;
}

static int check_vec(const char *op, const char *what, const en_tensor *t, int64_t C) {
    if (!t) return 0;
    if (t->dtype != EN_F32 || en_tensor_numel(t) != C || t->ndim != 1)
        return en_error("%s: %s must be a 1-D float tensor of %lld, got numel %lld", op, what,
                        (long long)C, (long long)en_tensor_numel(t));
    return 0;
}

/* the back end's pointer (any device), NULL for NULL */
static float *f32_or_null(const en_tensor *t) { return en_dev_f32(t); }

/* On a device: 1 (and *r the result, on the device) when the op ran on
 * host copies because the device lacks kernel k (counted); 0 to go on.
 * Every op of this file checks its arguments before it asks. */
#define DEVICE_OR_HOST(k, call_on_hosts)                                          \
    do {                                                                          \
        if (dev != EN_CPU) {                                                      \
            if (en_device_lacks(dev, k)) {                                        \
                en_device_grad_guard(op_id, 3, ops);                              \
                en_tensor *h0 = en_device_host(ops[0]);                           \
                en_tensor *h1 = ops[1] ? en_device_host(ops[1]) : NULL;           \
                en_tensor *h2 = ops[2] ? en_device_host(ops[2]) : NULL;           \
                en_tensor *r_ = (call_on_hosts);                                  \
                en_tensor_release(h0);                                            \
                en_tensor_release(h1);                                            \
                en_tensor_release(h2);                                            \
                return en_device_back(r_, dev);                                   \
            }                                                                     \
        }                                                                         \
    } while (0)

/* A parameter gradient the kernels add into: zero it first when the
 * autograd hands it over as fresh memory (acc = 0). */
static float *param_grad(en_node *n, int i, size_t numel) {
    int acc = 1;
    float *g = n->in[i] ? en_node_grad(n, i, &acc) : NULL;
    if (g && !acc) en_dev_memzero(en_tensor_device(n->in[i]), g, numel * sizeof(float));
    return g;
}

static en_tensor *scratch_tensor(en_device dev, size_t floats) {
    return en_device_empty(dev, EN_F32, EN_DIMS((int64_t)(floats ? floats : 1)));
}

/* ---- conv2d and conv_transpose2d ------------------------------------------- */
/* iarg: N C H W OC K stride pad outpad */

static en_tensor *conv_common(int transposed, en_tensor *x, en_tensor *w, en_tensor *b,
                              int stride, int pad, int outpad) {
    const char *op = transposed ? "conv_transpose2d" : "conv2d";
    char sb[96], sw[96];
    if (check_nchw(op, x)) return NULL;
    if (!w || w->dtype != EN_F32 || w->ndim != 4 || w->shape[2] != w->shape[3])
        return en_error("%s: weight must be 4-D with a square kernel, got %s", op,
                        w ? en_tensor_shape_str(w, sw, sizeof sw) : "NULL"), NULL;
    int N = (int)x->shape[0], C = (int)x->shape[1], H = (int)x->shape[2], W = (int)x->shape[3];
    int K = (int)w->shape[2];
    int OC = (int)(transposed ? w->shape[1] : w->shape[0]);
    if ((transposed ? w->shape[0] : w->shape[1]) != C)
        return en_error("%s: input %s has %d channels but the weight %s expects %lld", op,
                        en_tensor_shape_str(x, sb, sizeof sb), C,
                        en_tensor_shape_str(w, sw, sizeof sw),
                        (long long)(transposed ? w->shape[0] : w->shape[1])), NULL;
    if (stride < 1 || pad < 0 || outpad < 0 || (transposed && outpad >= stride))
        return en_error("%s: bad stride %d / padding %d / output padding %d", op, stride,
                        pad, outpad), NULL;
    if (check_vec(op, "bias", b, OC)) return NULL;
    int OH = transposed ? (H - 1) * stride - 2 * pad + K + outpad : (H + 2 * pad - K) / stride + 1;
    int OW = transposed ? (W - 1) * stride - 2 * pad + K + outpad : (W + 2 * pad - K) / stride + 1;
    if ((!transposed && (H + 2 * pad < K || W + 2 * pad < K)) || OH <= 0 || OW <= 0)
        return en_error("%s: kernel %d does not fit input %dx%d with padding %d", op, K, H, W,
                        pad), NULL;

    en_tensor *ops[3] = {x, w, b};
    en_device dev = en_device_of(3, ops);
    en_op op_id = transposed ? EN_OP_CONV_TRANSPOSE2D : EN_OP_CONV2D;
    DEVICE_OR_HOST(transposed ? KN_K_CONV_TRANSPOSE2D : KN_K_CONV2D,
                   conv_common(transposed, h0, h1, h2, stride, pad, outpad));
    en_tensor *xc = en_device_dense(x, dev), *wc = en_device_dense(w, dev), *bc = en_device_dense(b, dev);
    const kn_backend *be = en_backend_of(xc);
    en_tensor *y = en_device_empty(dev, EN_F32, EN_DIMS(N, OC, OH, OW));
    size_t ns = transposed ? be->convt2d_scratch(N, C, H, W, OC, K, K, stride, pad, outpad)
                           : be->conv2d_scratch(N, C, H, W, OC, K, K, stride, pad);
    en_tensor *scr = scratch_tensor(dev, ns);
    if (transposed)
        be->convt2d_fwd(en_dev_f32(y), en_dev_f32(scr), en_dev_f32(xc),
                        en_dev_f32(wc), f32_or_null(bc), N, C, H, W, OC, K, K, stride, pad,
                        outpad);
    else
        be->conv2d_fwd(en_dev_f32(y), en_dev_f32(scr), en_dev_f32(xc),
                       en_dev_f32(wc), f32_or_null(bc), N, C, H, W, OC, K, K, stride, pad);
    en_tensor_release(scr);
    en_tensor *in[3] = {xc, wc, bc};
    en_node *n = en_tape_record(transposed ? EN_OP_CONV_TRANSPOSE2D : EN_OP_CONV2D, y, 3, in);
    if (n) {
        int64_t a[] = {N, C, H, W, OC, K, stride, pad, outpad};
        memcpy(n->iarg, a, sizeof a);
    }
    en_tensor_release(xc);
    en_tensor_release(wc);
    en_tensor_release(bc);
    return y;
}

en_tensor *en_conv2d(en_tensor *x, en_tensor *w, en_tensor *b, int stride, int pad) {
    return conv_common(0, x, w, b, stride, pad, 0);
}

en_tensor *en_conv_transpose2d(en_tensor *x, en_tensor *w, en_tensor *b, int stride,
                               int pad, int output_padding) {
    return conv_common(1, x, w, b, stride, pad, output_padding);
}

static void conv_backward_common(int transposed, en_node *n, const float *g) {
    int N = (int)n->iarg[0], C = (int)n->iarg[1], H = (int)n->iarg[2], W = (int)n->iarg[3];
    int OC = (int)n->iarg[4], K = (int)n->iarg[5], stride = (int)n->iarg[6];
    int pad = (int)n->iarg[7], outpad = (int)n->iarg[8];
    int ax = 0;
    float *gx = en_node_grad(n, 0, &ax);
    float *gw = param_grad(n, 1, (size_t)OC * C * K * K);
    float *gb = param_grad(n, 2, (size_t)OC);
    if (!gx && !gw && !gb) return;
    const kn_backend *be = en_backend_of(n->out);
    const float *xp = en_dev_f32(n->in[0]), *wp = en_dev_f32(n->in[1]);
    size_t ns = transposed ? be->convt2d_scratch(N, C, H, W, OC, K, K, stride, pad, outpad)
                           : be->conv2d_scratch(N, C, H, W, OC, K, K, stride, pad);
    en_tensor *scr = scratch_tensor(en_tensor_device(n->out), ns);
    if (transposed)
        be->convt2d_bwd(gx, gw, gb, en_dev_f32(scr), g, xp, wp, N, C, H, W, OC, K, K,
                        stride, pad, outpad, ax);
    else
        be->conv2d_bwd(gx, gw, gb, en_dev_f32(scr), g, xp, wp, N, C, H, W, OC, K, K, stride,
                       pad, ax);
    en_tensor_release(scr);
}

void en_conv2d_backward(en_node *n, const float *g) { conv_backward_common(0, n, g); }
void en_conv_transpose2d_backward(en_node *n, const float *g) { conv_backward_common(1, n, g); }

/* ---- pooling --------------------------------------------------------------- */
/* iarg: N C H W OH OW k stride pad count_include_pad */

static int pool_check(const char *op, en_tensor *x, int k, int *stride, int pad, int *OH,
                      int *OW) {
    if (check_nchw(op, x)) return -1;
    if (*stride <= 0) *stride = k;
    if (k < 1 || pad < 0 || 2 * pad > k)
        return en_error("%s: kernel %d with padding %d (padding must be at most half the "
                        "kernel)", op, k, pad);
    int H = (int)x->shape[2], W = (int)x->shape[3];
    if (H + 2 * pad < k || W + 2 * pad < k)
        return en_error("%s: kernel %d does not fit input %dx%d with padding %d", op, k, H, W,
                        pad);
    *OH = (H + 2 * pad - k) / *stride + 1;
    *OW = (W + 2 * pad - k) / *stride + 1;
    return 0;
}

static en_node *record_pool(en_op op, en_tensor *y, en_tensor *xc, int OH, int OW, int k,
                            int stride, int pad, int cip) {
    en_node *n = en_tape_record(op, y, 1, &xc);
    if (n) {
        int64_t a[] = {xc->shape[0], xc->shape[1], xc->shape[2], xc->shape[3], OH, OW, k,
                       stride, pad, cip};
        memcpy(n->iarg, a, sizeof a);
    }
    return n;
}

en_tensor *en_max_pool2d(en_tensor *x, int k, int stride, int pad) {
    int OH, OW;
    if (pool_check("max_pool2d", x, k, &stride, pad, &OH, &OW)) return NULL;
    int N = (int)x->shape[0], C = (int)x->shape[1], H = (int)x->shape[2], W = (int)x->shape[3];
    en_tensor *ops[3] = {x, NULL, NULL};
    en_device dev = en_tensor_device(x);
    en_op op_id = EN_OP_MAX_POOL2D;
    DEVICE_OR_HOST(KN_K_POOL2D, en_max_pool2d(h0, k, stride, pad));
    en_tensor *xc = en_contiguous(x);
    en_tensor *y = en_device_empty(dev, EN_F32, EN_DIMS(N, C, OH, OW));
    /* the argmax indices (int32) live in a float tensor of the same size */
    en_tensor *idx = en_device_empty(dev, EN_F32, EN_DIMS(N, C, OH, OW));
    en_backend_of(xc)->maxpool2d_fwd(en_dev_f32(y), (int32_t *)en_dev_f32(idx),
                                     en_dev_f32(xc), N, C, H, W, k, k, stride, pad);
    en_node *n = record_pool(EN_OP_MAX_POOL2D, y, xc, OH, OW, k, stride, pad, 0);
    if (n)
        n->saved[0] = idx;
    else
        en_tensor_release(idx);
    en_tensor_release(xc);
    return y;
}

en_tensor *en_avg_pool2d(en_tensor *x, int k, int stride, int pad, int count_include_pad) {
    int OH, OW;
    if (pool_check("avg_pool2d", x, k, &stride, pad, &OH, &OW)) return NULL;
    int N = (int)x->shape[0], C = (int)x->shape[1], H = (int)x->shape[2], W = (int)x->shape[3];
    en_tensor *ops[3] = {x, NULL, NULL};
    en_device dev = en_tensor_device(x);
    en_op op_id = EN_OP_AVG_POOL2D;
    DEVICE_OR_HOST(KN_K_POOL2D, en_avg_pool2d(h0, k, stride, pad, count_include_pad));
    en_tensor *xc = en_contiguous(x);
    en_tensor *y = en_device_empty(dev, EN_F32, EN_DIMS(N, C, OH, OW));
    en_backend_of(xc)->avgpool2d_fwd(en_dev_f32(y), en_dev_f32(xc), N, C, H, W, k, k,
                                     stride, pad, count_include_pad != 0);
    record_pool(EN_OP_AVG_POOL2D, y, xc, OH, OW, k, stride, pad, count_include_pad != 0);
    en_tensor_release(xc);
    return y;
}

en_tensor *en_adaptive_avg_pool2d(en_tensor *x, int OH, int OW) {
    if (check_nchw("adaptive_avg_pool2d", x)) return NULL;
    if (OH < 1 || OW < 1)
        return en_error("adaptive_avg_pool2d: output size %dx%d", OH, OW), NULL;
    int N = (int)x->shape[0], C = (int)x->shape[1], H = (int)x->shape[2], W = (int)x->shape[3];
    en_tensor *ops[3] = {x, NULL, NULL};
    en_device dev = en_tensor_device(x);
    en_op op_id = EN_OP_ADAPTIVE_AVG_POOL2D;
    DEVICE_OR_HOST(KN_K_POOL2D, en_adaptive_avg_pool2d(h0, OH, OW));
    en_tensor *xc = en_contiguous(x);
    en_tensor *y = en_device_empty(dev, EN_F32, EN_DIMS(N, C, OH, OW));
    en_backend_of(xc)->adaptive_avgpool2d_fwd(en_dev_f32(y), en_dev_f32(xc), N, C, H, W,
                                              OH, OW);
    record_pool(EN_OP_ADAPTIVE_AVG_POOL2D, y, xc, OH, OW, 0, 0, 0, 0);
    en_tensor_release(xc);
    return y;
}

static void pool_backward(en_node *n, const float *g) {
    int acc;
    float *gx = en_node_grad(n, 0, &acc);
    if (!gx) return;
    int64_t *a = n->iarg;
    int N = (int)a[0], C = (int)a[1], H = (int)a[2], W = (int)a[3], OH = (int)a[4];
    int OW = (int)a[5], k = (int)a[6], stride = (int)a[7], pad = (int)a[8], cip = (int)a[9];
    const kn_backend *be = en_backend_of(n->out);
    switch (n->op) {
    case EN_OP_MAX_POOL2D:
        be->maxpool2d_bwd(gx, g, (const int32_t *)en_dev_f32(n->saved[0]), N, C, H, W, OH,
                          OW, acc);
        break;
    case EN_OP_AVG_POOL2D:
        be->avgpool2d_bwd(gx, g, N, C, H, W, k, k, stride, pad, cip, acc);
        break;
    default:
        be->adaptive_avgpool2d_bwd(gx, g, N, C, H, W, OH, OW, acc);
        break;
    }
}

void en_max_pool2d_backward(en_node *n, const float *g) { pool_backward(n, g); }
void en_avg_pool2d_backward(en_node *n, const float *g) { pool_backward(n, g); }
void en_adaptive_avg_pool2d_backward(en_node *n, const float *g) { pool_backward(n, g); }

/* ---- upsampling ------------------------------------------------------------ */
/* iarg: N C H W OH OW align_corners; farg: scale_h scale_w (0: from sizes) */

static en_tensor *upsample(en_op op, en_tensor *x, int OH, int OW, double sh, double sw,
                           int align_corners) {
    const char *name = op == EN_OP_UPSAMPLE_NEAREST ? "upsample_nearest" : "upsample_bilinear";
    if (check_nchw(name, x)) return NULL;
    int N = (int)x->shape[0], C = (int)x->shape[1], H = (int)x->shape[2], W = (int)x->shape[3];
    if (OH <= 0 && OW <= 0) {
        if (!(sh > 0) || !(sw > 0) || sh * H > (1 << 24) || sw * W > (1 << 24))
            return en_error("%s: give an output size or positive scale factors", name), NULL;
        OH = (int)floor(H * sh);
        OW = (int)floor(W * sw);
    } else {
        sh = sw = 0; /* sizes given: the source scale is in/out */
    }
    if (OH < 1 || OW < 1)
        return en_error("%s: output size %dx%d is empty", name, OH, OW), NULL;
    en_tensor *ops[3] = {x, NULL, NULL};
    en_device dev = en_tensor_device(x);
    en_op op_id = op;
    /* sizes (sh = sw = 0 now) or the scales given: the host run sees the same */
    DEVICE_OR_HOST(KN_K_UPSAMPLE, upsample(op, h0, OH, OW, sh, sw, align_corners));
    en_tensor *xc = en_contiguous(x);
    en_tensor *y = en_device_empty(dev, EN_F32, EN_DIMS(N, C, OH, OW));
    const kn_backend *be = en_backend_of(xc);
    if (op == EN_OP_UPSAMPLE_NEAREST)
        be->upsample_nearest_fwd(en_dev_f32(y), en_dev_f32(xc), N, C, H, W, OH, OW, sh,
                                 sw);
    else
        be->upsample_bilinear_fwd(en_dev_f32(y), en_dev_f32(xc), N, C, H, W, OH, OW,
                                  align_corners != 0, sh, sw);
    en_node *n = en_tape_record(op, y, 1, &xc);
    if (n) {
        int64_t a[] = {N, C, H, W, OH, OW, align_corners != 0};
        memcpy(n->iarg, a, sizeof a);
        /* scale factors are kept exactly: the source index depends on 1/scale */
        memcpy(&n->farg[0], &sh, sizeof sh);
        memcpy(&n->farg[2], &sw, sizeof sw);
    }
    en_tensor_release(xc);
    return y;
}

en_tensor *en_upsample_nearest(en_tensor *x, int OH, int OW, double sh, double sw) {
    return upsample(EN_OP_UPSAMPLE_NEAREST, x, OH, OW, sh, sw, 0);
}

en_tensor *en_upsample_bilinear(en_tensor *x, int OH, int OW, double sh, double sw,
                                int align_corners) {
    return upsample(EN_OP_UPSAMPLE_BILINEAR, x, OH, OW, sh, sw, align_corners);
}

void en_upsample_backward(en_node *n, const float *g) {
    int acc;
    float *gx = en_node_grad(n, 0, &acc);
    if (!gx) return;
    int64_t *a = n->iarg;
    double sh, sw;
    memcpy(&sh, &n->farg[0], sizeof sh);
    memcpy(&sw, &n->farg[2], sizeof sw);
    const kn_backend *be = en_backend_of(n->out);
    if (n->op == EN_OP_UPSAMPLE_NEAREST)
        be->upsample_nearest_bwd(gx, g, (int)a[0], (int)a[1], (int)a[2], (int)a[3], (int)a[4],
                                 (int)a[5], sh, sw, acc);
    else
        be->upsample_bilinear_bwd(gx, g, (int)a[0], (int)a[1], (int)a[2], (int)a[3], (int)a[4],
                                  (int)a[5], (int)a[6], sh, sw, acc);
}

/* ---- batch norm ------------------------------------------------------------ */
/* iarg: N C HW training; saved: mean, rstd (C) */

static int check_buffer(const char *what, const en_tensor *t, int64_t C) {
    if (!t) return 0;
    if (t->dtype != EN_F32 || en_tensor_numel(t) != C || !en_tensor_is_contiguous(t))
        return en_error("batch_norm2d: %s must be a contiguous float tensor of %lld", what,
                        (long long)C);
    return 0;
}

en_tensor *en_batch_norm2d(en_tensor *x, en_tensor *gamma, en_tensor *beta,
                           en_tensor *running_mean, en_tensor *running_var, int training,
                           float momentum, float eps) {
    if (check_nchw("batch_norm2d", x)) return NULL;
    int N = (int)x->shape[0], C = (int)x->shape[1], HW = (int)(x->shape[2] * x->shape[3]);
    if (check_vec("batch_norm2d", "weight", gamma, C) || check_vec("batch_norm2d", "bias", beta, C) ||
        check_buffer("running_mean", running_mean, C) || check_buffer("running_var", running_var, C))
        return NULL;
    if (!training && (!running_mean || !running_var))
        return en_error("batch_norm2d: eval mode needs running_mean and running_var"), NULL;
    if (!!running_mean != !!running_var)
        return en_error("batch_norm2d: give both running statistics or neither"), NULL;
    if (training && (size_t)N * HW < 2)
        return en_error("batch_norm2d: training needs more than one value per channel, got "
                        "input (%d, %d, %lld, %lld)", N, C, (long long)x->shape[2],
                        (long long)x->shape[3]), NULL;
    en_tensor *ops[3] = {x, gamma, beta};
    en_tensor *all[5] = {x, gamma, beta, running_mean, running_var};
    en_device dev = en_device_of(5, all);
    en_op op_id = EN_OP_BATCH_NORM2D;
    if (dev != EN_CPU && training && running_mean &&
        (en_tensor_device(running_mean) != dev || en_tensor_device(running_var) != dev))
        /* the update would land in a temporary copy */
        return en_error("batch_norm2d: training on %s with the running statistics on %s: move "
                        "the model's buffers with it", en_device_name(dev),
                        en_device_name(en_tensor_device(running_mean))), NULL;
    if (dev != EN_CPU) {
        if (en_device_lacks(dev, KN_K_BATCHNORM2D)) {
            en_device_grad_guard(op_id, 3, ops);
            en_tensor *h[5];
            for (int i = 0; i < 5; i++) h[i] = all[i] ? en_device_host(all[i]) : NULL;
            en_tensor *r = en_batch_norm2d(h[0], h[1], h[2], h[3], h[4], training, momentum, eps);
            /* training updated the host copies of the statistics: write them back */
            if (r && training && running_mean) {
                en_device_upload_(running_mean, h[3]);
                en_device_upload_(running_var, h[4]);
            }
            for (int i = 0; i < 5; i++) en_tensor_release(h[i]);
            return en_device_back(r, dev);
        }
    }
    en_tensor *xc = en_device_dense(x, dev), *gc = en_device_dense(gamma, dev), *bc = en_device_dense(beta, dev);
    /* eval reads the statistics only: a host copy moved over serves */
    en_tensor *rm = en_device_dense(running_mean, dev), *rv = en_device_dense(running_var, dev);
    en_tensor *y = en_device_empty(dev, EN_F32, xc->ndim, xc->shape);
    en_tensor *mean = en_device_empty(dev, EN_F32, EN_DIMS(C)), *rstd = en_device_empty(dev, EN_F32, EN_DIMS(C));
    en_backend_of(xc)->batchnorm2d_fwd(en_dev_f32(y), en_dev_f32(mean),
                                       en_dev_f32(rstd), f32_or_null(rm),
                                       f32_or_null(rv), en_dev_f32(xc),
                                       f32_or_null(gc), f32_or_null(bc), N, C, HW,
                                       training != 0, momentum, eps);
    en_tensor_release(rm);
    en_tensor_release(rv);
    en_tensor *in[3] = {xc, gc, bc};
    en_node *n = en_tape_record(EN_OP_BATCH_NORM2D, y, 3, in);
    if (n) {
        n->iarg[0] = N;
        n->iarg[1] = C;
        n->iarg[2] = HW;
        n->iarg[3] = training != 0;
        n->saved[0] = mean;
        n->saved[1] = rstd;
    } else {
        en_tensor_release(mean);
        en_tensor_release(rstd);
    }
    en_tensor_release(xc);
    en_tensor_release(gc);
    en_tensor_release(bc);
    return y;
}

void en_batch_norm2d_backward(en_node *n, const float *g) {
    int N = (int)n->iarg[0], C = (int)n->iarg[1], HW = (int)n->iarg[2];
    int training = (int)n->iarg[3], ax = 0;
    float *gx = en_node_grad(n, 0, &ax);
    float *gg = param_grad(n, 1, (size_t)C), *gb = param_grad(n, 2, (size_t)C);
    if (!gx && !gg && !gb) return;
    en_backend_of(n->out)->batchnorm2d_bwd(gx, gg, gb, g, en_dev_f32(n->in[0]),
                                           en_dev_f32(n->saved[0]),
                                           en_dev_f32(n->saved[1]), f32_or_null(n->in[1]),
                                           N, C, HW, training, ax);
}
