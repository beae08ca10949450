/* Reductions and normalisations: sum/mean, max/argmax, softmax,
 * log-softmax, layer norm, L2 normalisation. Gradient rule: en_ops.h. */
#include <math.h>
#include <string.h>

#include "en_error.h"
#include "en_opdef.h"
#include "en_tensor_internal.h"

static int reduce_axes(const char *op, const en_tensor *a, int naxes, const int *axes, int *mark) {
    for (int i = 0; i < a->ndim; i++) mark[i] = naxes == 0;
    for (int i = 0; i < naxes; i++) {
        int d = en_tensor_axis(a, axes[i]);
        if (d < 0) return en_error_prefix("%s", op);
        mark[d] = 1;
    }
    return 0;
}

/* The sum on a device: out (oshape) = scale * the sum of a over the marked
 * axes, as reduce_sum calls over runs of neighbouring marked axes (size-1
 * axes dropped), right to left; the last axis alone first when it is
 * marked. That is the CPU's order (en_reduce_to: each row summed, the row
 * sums then added in order) whenever at most one run is left after the
 * last axis, so the bits match it for one axis, for all axes and for any
 * run of neighbours; with two separate runs (axes 0 and 2 of four) the
 * partial sums associate differently, within the usual n·eps·sum|x| of a
 * float sum. */
static void sum_device(en_tensor *out, en_tensor *ac, const int *mark, float scale) {
    const kn_backend *be = en_backend_of(ac);
    en_device dev = en_tensor_device(ac);
    int64_t sz[EN_MAX_DIMS];
    int mk[EN_MAX_DIMS], n = 0;
    for (int i = 0; i < ac->ndim; i++)
        if (ac->shape[i] != 1) sz[n] = ac->shape[i], mk[n++] = mark[i];
    int64_t total = en_tensor_numel(ac);
    if (total == 0) { /* an empty sum is 0 */
        be->memzero(en_dev_f32(out), (size_t)en_tensor_numel(out) * sizeof(float));
        return;
    }
    en_tensor *cur = en_tensor_retain(ac);
    /* the CPU sums rows along the last axis first when that axis is summed */
    int alone = ac->ndim > 0 && ac->shape[ac->ndim - 1] != 1 && mark[ac->ndim - 1];
    int hi = n; /* dims [0, hi) of sz are still to be reduced */
    int any = 0;
    while (hi > 0) {
        if (!mk[hi - 1]) { hi--; continue; }
        int lo = hi - 1;
        if (!alone || any) /* the last axis alone first, then whole runs */
            while (lo > 0 && mk[lo - 1]) lo--;
        int64_t outer = 1, R = 1, inner = 1;
        for (int i = 0; i < lo; i++) outer *= sz[i];
        for (int i = lo; i < hi; i++) R *= sz[i];
        for (int i = hi; i < n; i++) inner *= mk[i] ? 1 : sz[i];
        int last = 1; /* is another marked dim left below lo? */
        for (int i = 0; i < lo; i++) if (mk[i]) last = 0;
        en_tensor *nx = last ? en_tensor_retain(out) : en_device_empty(dev, EN_F32, EN_DIMS(outer * inner));
        be->reduce_sum(en_dev_f32(nx), en_dev_f32(cur), outer, R, inner, last ? scale : 1.0f, 0);
        en_tensor_release(cur);
        cur = nx;
        for (int i = lo; i < hi; i++) sz[i] = 1;
        hi = lo;
        any = 1;
    }
    if (!any) /* nothing of size > 1 to sum: a copy, as the CPU's */
        be->copy(en_dev_f32(out), en_dev_f32(ac), (size_t)total * sizeof(float), KN_COPY_D2D);
    en_tensor_release(cur);
}

static en_tensor *sum_scaled(en_tensor *a, int naxes, const int *axes, int keepdim, int mean) {
    int mark[EN_MAX_DIMS];
    if (reduce_axes(mean ? "mean" : "sum", a, naxes, axes, mark)) return NULL;
    int64_t kshape[EN_MAX_DIMS], oshape[EN_MAX_DIMS], count = 1;
    int ond = 0;
    for (int i = 0; i < a->ndim; i++) {
        kshape[i] = mark[i] ? 1 : a->shape[i];
        if (mark[i]) count *= a->shape[i];
        if (!mark[i] || keepdim) oshape[ond++] = kshape[i];
    }
    float scale = mean ? 1.0f / (float)(count ? count : 1) : 1.0f;
    en_device dev = en_tensor_device(a);
    if (dev != EN_CPU) {
        if (en_device_lacks(dev, KN_K_REDUCE)) {
            en_device_grad_guard(EN_OP_SUM, 1, &a);
            en_tensor *h = en_device_host(a), *r = sum_scaled(h, naxes, axes, keepdim, mean);
            en_tensor_release(h);
            return en_device_back(r, dev);
        }
        en_tensor *ac = en_contiguous(a);
        en_tensor *out = en_device_empty(dev, EN_F32, ond, oshape);
        sum_device(out, ac, mark, scale);
        en_node *n = en_tape_record(EN_OP_SUM, out, 1, &ac);
        if (n) {
            for (int i = 0; i < a->ndim; i++) n->iarg[i] = kshape[i];
            n->farg[0] = scale;
        }
        en_tensor_release(ac);
        return out;
    }
    en_tensor *ac = en_contiguous(a);
    en_tensor *out = en_tensor_empty(ond, oshape);
    float *o = en_tensor_f32(out);
    en_reduce_to(o, a->ndim, kshape, en_tensor_f32(ac), a->ndim, a->shape, 0);
    if (scale != 1.0f) {
        int64_t n = en_tensor_numel(out);
        for (int64_t i = 0; i < n; i++) o[i] *= scale;
    }
    en_node *n = en_tape_record(EN_OP_SUM, out, 1, &ac);
    if (n) {
        for (int i = 0; i < a->ndim; i++) n->iarg[i] = kshape[i];
        n->farg[0] = scale;
    }
    en_tensor_release(ac);
    return out;
}

void en_sum_backward(en_node *n, const float *g) {
    int acc;
    float *gx = en_node_grad(n, 0, &acc);
    if (!gx) return;
    const en_tensor *x = n->in[0];
    int nd = x->ndim;
    int64_t gs[EN_MAX_DIMS], s = 1;
    for (int i = nd - 1; i >= 0; i--) { /* strides of g in x's index space */
        gs[i] = n->iarg[i] == 1 ? 0 : s;
        s *= n->iarg[i];
    }
    float scale = n->farg[0];
    if (en_tensor_device(x) != EN_CPU) {
        /* dp = (acc ? dp : 0) + g * scale, broadcast: g's strided copy (a
         * scale of 1 multiplies nothing), else g * scale first */
        const kn_backend *be = en_backend_of(x);
        int64_t xs[EN_MAX_DIMS];
        en_dense_strides(nd, x->shape, xs);
        if (!en_tensor_numel(x)) return;
        if (scale == 1.0f) {
            be->copy_nd(gx, xs, g, gs, nd, x->shape, acc);
            return;
        }
        en_tensor *hs = en_tensor_scalar(scale), *ds = en_tensor_to(hs, en_tensor_device(x));
        en_tensor *tmp = en_device_empty(en_tensor_device(x), EN_F32, nd, x->shape);
        int64_t zero[EN_MAX_DIMS] = {0};
        be->binary_nd(KN_B_MUL, en_dev_f32(tmp), nd, x->shape, g, gs, en_dev_f32(ds), zero, NULL, NULL);
        be->copy_nd(gx, xs, en_dev_f32(tmp), xs, nd, x->shape, acc);
        en_tensor_release(hs);
        en_tensor_release(ds);
        en_tensor_release(tmp);
        return;
    }
    int64_t inner = nd ? x->shape[nd - 1] : 1, outer = 1;
    for (int i = 0; i + 1 < nd; i++) outer *= x->shape[i];
    int64_t gi = nd ? gs[nd - 1] : 0;
#pragma omp parallel for if (outer * inner > 65536)
    for (int64_t o = 0; o < outer; o++) {
        int64_t r = o, off = 0;
        for (int d = nd - 2; d >= 0; d--) {
            off += (r % x->shape[d]) * gs[d];
            r /= x->shape[d];
        }
        float *dp = gx + o * inner;
        const float *gp = g + off;
        for (int64_t i = 0; i < inner; i++) dp[i] = (acc ? dp[i] : 0.0f) + gp[i * gi] * scale;
    }
}

en_tensor *en_sum(en_tensor *a, int naxes, const int *axes, int keepdim) {
    return sum_scaled(a, naxes, axes, keepdim, 0);
}
en_tensor *en_mean(en_tensor *a, int naxes, const int *axes, int keepdim) {
    return sum_scaled(a, naxes, axes, keepdim, 1);
}
en_tensor *en_sum_all(en_tensor *a) { return sum_scaled(a, 0, NULL, 0, 0); }
en_tensor *en_mean_all(en_tensor *a) { return sum_scaled(a, 0, NULL, 0, 1); }

/* ---- max / argmax ------------------------------------------------------------ */
static void split_axis(const en_tensor *a, int d, int64_t *outer, int64_t *K, int64_t *inner) {
    *outer = 1;
    *inner = 1;
    for (int i = 0; i < d; i++) *outer *= a->shape[i];
    for (int i = d + 1; i < a->ndim; i++) *inner *= a->shape[i];
    *K = a->shape[d];
}

static void reduced_shape(const en_tensor *a, int d, int keepdim, int *nd, int64_t *shape) {
    int k = 0;
    for (int i = 0; i < a->ndim; i++) {
        if (i != d) shape[k++] = a->shape[i];
        else if (keepdim) shape[k++] = 1;
    }
    *nd = k;
}

static en_tensor *max_impl(en_tensor *a, int axis, int keepdim, int want_index) {
    int d = en_tensor_axis(a, axis);
    if (d < 0) return NULL;
    if (a->shape[d] == 0) return en_error("max: empty axis %d", axis), NULL;
    int64_t outer, K, inner, shape[EN_MAX_DIMS];
    int nd;
    split_axis(a, d, &outer, &K, &inner);
    reduced_shape(a, d, keepdim, &nd, shape);
    en_device dev = en_tensor_device(a);
    if (dev != EN_CPU) {
        if (en_device_lacks(dev, KN_K_ARGMAX)) {
            if (!want_index) en_device_grad_guard(EN_OP_MAX, 1, &a);
            en_tensor *h = en_device_host(a);
            en_tensor *r = max_impl(h, axis, keepdim, want_index);
            en_tensor_release(h);
            return en_device_back(r, dev);
        }
        en_tensor *ac = en_contiguous(a);
        en_tensor *idx = en_device_empty(dev, EN_I64, nd, shape);
        en_tensor *val = want_index ? NULL : en_device_empty(dev, EN_F32, nd, shape);
        en_backend_of(ac)->max_axis(en_dev_f32(val), en_dev_i64(idx), en_dev_f32(ac), outer, K, inner);
        if (want_index) {
            en_tensor_release(ac);
            return idx;
        }
        en_node *n = en_tape_record(EN_OP_MAX, val, 1, &ac);
        if (n) { /* the backward's scatter reads the indices on the device */
            n->saved[0] = idx;
            n->iarg[0] = outer;
            n->iarg[1] = K;
            n->iarg[2] = inner;
        } else {
            en_tensor_release(idx);
        }
        en_tensor_release(ac);
        return val;
    }
    en_tensor *ac = en_contiguous(a);
    en_tensor *idx = en_tensor_new(EN_I64, nd, shape);
    en_tensor *val = want_index ? NULL : en_tensor_empty(nd, shape);
    const float *x = en_tensor_f32(ac);
    int64_t *ip = en_tensor_i64(idx);
    float *vp = val ? en_tensor_f32(val) : NULL;
    kn_backend_get(EN_CPU)->max_axis(vp, ip, x, outer, K, inner);
    if (want_index) {
        en_tensor_release(ac);
        return idx;
    }
    en_node *n = en_tape_record(EN_OP_MAX, val, 1, &ac);
    if (n) {
        n->saved[0] = idx;
        n->iarg[0] = outer;
        n->iarg[1] = K;
        n->iarg[2] = inner;
    } else {
        en_tensor_release(idx);
    }
    en_tensor_release(ac);
    return val;
}

void en_max_backward(en_node *n, const float *g) {
    int acc;
    float *gx = en_node_grad(n, 0, &acc);
    if (!gx) return;
    int64_t outer = n->iarg[0], K = n->iarg[1], inner = n->iarg[2];
    if (en_tensor_device(n->out) != EN_CPU) { /* the same adds, on the device */
        en_dev_memzero(en_tensor_device(n->out), gx, acc ? 0 : (size_t)(outer * K * inner) * sizeof(float));
        en_backend_of(n->out)->max_axis_bwd(gx, g, en_dev_i64(n->saved[0]), outer, K, inner);
        return;
    }
    if (!acc) memset(gx, 0, (size_t)(outer * K * inner) * sizeof(float));
    const int64_t *ip = en_tensor_i64(n->saved[0]);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++)
            gx[o * K * inner + ip[o * inner + i] * inner + i] += g[o * inner + i];
}

en_tensor *en_max(en_tensor *a, int axis, int keepdim) { return max_impl(a, axis, keepdim, 0); }
en_tensor *en_argmax(en_tensor *a, int axis, int keepdim) { return max_impl(a, axis, keepdim, 1); }

/* ---- along-an-axis ops: work on the last axis, permute for others ---------- */
typedef en_tensor *(*last_axis_fn)(en_tensor *x, float arg);

static en_tensor *along_axis(en_tensor *x, int axis, last_axis_fn f, float arg) {
    int d = en_tensor_axis(x, axis);
    if (d < 0) return NULL;
    if (d == x->ndim - 1) return f(x, arg);
    en_tensor *t = en_transpose(x, d, x->ndim - 1);
    en_tensor *y = f(t, arg);
    en_tensor *yt = en_transpose(y, d, x->ndim - 1);
    en_tensor *r = en_contiguous(yt);
    en_tensor_release(t);
    en_tensor_release(y);
    en_tensor_release(yt);
    return r;
}

static en_tensor *softmax_last(en_tensor *x, float logsm) {
    en_device dev = en_tensor_device(x);
    if (dev != EN_CPU) { /* the device's kernel, else the CPU's on a host copy (counted) */
        en_tensor *xc = en_contiguous(x);
        const kn_backend *be = en_backend_of(xc);
        if (!be->supports(KN_K_SOFTMAX)) {
            en_device_grad_guard(logsm != 0 ? EN_OP_LOG_SOFTMAX : EN_OP_SOFTMAX, 1, &xc);
            kn_fallback_note(KN_K_SOFTMAX);
            en_tensor *h = en_device_host(xc), *r = softmax_last(h, logsm);
            en_tensor_release(h);
            en_tensor_release(xc);
            en_tensor *d = en_tensor_to(r, dev);
            en_tensor_release(r);
            return d;
        }
        en_tensor *y = en_tensor_new_on(dev, EN_F32, xc->ndim, xc->shape);
        EN_ASSERT(y != NULL); /* out of device memory: en_error_msg() says how much */
        int64_t C = xc->ndim ? xc->shape[xc->ndim - 1] : 1;
        be->softmax_fwd(en_tensor_data(y), en_tensor_data(xc), C ? en_tensor_numel(xc) / C : 0, C,
                        logsm != 0);
        en_tape_record(logsm != 0 ? EN_OP_LOG_SOFTMAX : EN_OP_SOFTMAX, y, 1, &xc);
        en_tensor_release(xc);
        return y;
    }
    en_tensor *xc = en_contiguous(x);
    en_tensor *y = en_tensor_empty(xc->ndim, xc->shape);
    int64_t C = xc->ndim ? xc->shape[xc->ndim - 1] : 1;
    int64_t rows = C ? en_tensor_numel(xc) / C : 0;
    en_backend_of(xc)->softmax_fwd(en_tensor_f32(y), en_tensor_f32(xc), rows, C, logsm != 0);
    en_tape_record(logsm != 0 ? EN_OP_LOG_SOFTMAX : EN_OP_SOFTMAX, y, 1, &xc);
    en_tensor_release(xc);
    return y;
}

void en_softmax_backward(en_node *n, const float *g) {
    int acc;
    float *gx = en_node_grad(n, 0, &acc);
    if (!gx) return;
    const en_tensor *y = n->out;
    int64_t C = y->ndim ? y->shape[y->ndim - 1] : 1;
    int64_t rows = C ? en_tensor_numel(y) / C : 0;
    en_backend_of(y)->softmax_bwd(gx, g, en_dev_f32(y), rows, C, n->op == EN_OP_LOG_SOFTMAX, acc);
}

en_tensor *en_softmax(en_tensor *a, int axis) { return along_axis(a, axis, softmax_last, 0); }
en_tensor *en_log_softmax(en_tensor *a, int axis) { return along_axis(a, axis, softmax_last, 1); }

/* ---- layer norm --------------------------------------------------------------- */
/* layer_norm saves its row statistics only when its node is recorded (the
 * backward reads them); the node takes them, or they are dropped. */
static int layer_norm_recorded(const en_tensor *x, const en_tensor *w, const en_tensor *b) {
    return en_grad_enabled() && ((x->flags | (w ? w->flags : 0) | (b ? b->flags : 0)) & EN_T_REQUIRES_GRAD);
}

static void layer_norm_record(en_tensor *y, en_tensor *in[3], en_tensor *mean, en_tensor *rstd, int64_t N,
                              int64_t C) {
    en_node *n = en_tape_record(EN_OP_LAYER_NORM, y, 3, in);
    if (n) {
        n->saved[0] = mean;
        n->saved[1] = rstd;
        n->iarg[0] = N;
        n->iarg[1] = C;
    } else {
        en_tensor_release(mean);
        en_tensor_release(rstd);
    }
}

en_tensor *en_layer_norm(en_tensor *x, en_tensor *w, en_tensor *b, float eps) {
    if (x->ndim < 1) return en_error("layer_norm: a 0-dim input"), NULL;
    int64_t C = x->shape[x->ndim - 1], N = C ? en_tensor_numel(x) / C : 0;
    if ((w && en_tensor_numel(w) != C) || (b && en_tensor_numel(b) != C))
        return en_error("layer_norm: weight/bias size differs from the last dim %lld", (long long)C), NULL;
    en_tensor *xwb[3] = {x, w, b};
    en_device dev = en_device_of(3, xwb);
    if (dev != EN_CPU) {
        const kn_backend *be = kn_backend_get(dev);
        if (!be->supports(KN_K_LAYERNORM)) { /* the CPU's kernel on host copies, counted */
            en_device_grad_guard(EN_OP_LAYER_NORM, 3, xwb);
            kn_fallback_note(KN_K_LAYERNORM);
            en_tensor *hx = en_device_host(x), *hw = w ? en_device_host(w) : NULL,
                      *hb = b ? en_device_host(b) : NULL;
            en_tensor *r = en_layer_norm(hx, hw, hb, eps);
            en_tensor_release(hx);
            en_tensor_release(hw);
            en_tensor_release(hb);
            en_tensor *d = r ? en_tensor_to(r, dev) : NULL;
            en_tensor_release(r);
            return d;
        }
        /* every operand on the device (a host weight is copied over) */
        en_tensor *xd = en_device_operand(EN_OP_LAYER_NORM, x, dev), *wd = en_device_operand(EN_OP_LAYER_NORM, w, dev),
                  *bd = en_device_operand(EN_OP_LAYER_NORM, b, dev);
        en_tensor *xc = en_contiguous(xd), *wc = wd ? en_contiguous(wd) : NULL, *bc = bd ? en_contiguous(bd) : NULL;
        en_tensor *y = en_tensor_new_on(dev, EN_F32, xc->ndim, xc->shape);
        EN_ASSERT(y != NULL);
        int rec = layer_norm_recorded(xc, wc, bc);
        en_tensor *mean = rec ? en_device_empty(dev, EN_F32, EN_DIMS(N)) : NULL;
        en_tensor *rstd = rec ? en_device_empty(dev, EN_F32, EN_DIMS(N)) : NULL;
        be->layernorm_fwd(en_tensor_data(y), en_dev_f32(mean), en_dev_f32(rstd), en_tensor_data(xc),
                          wc ? en_tensor_data(wc) : NULL, bc ? en_tensor_data(bc) : NULL, N, C, eps);
        en_tensor *in[3] = {xc, wc, bc};
        layer_norm_record(y, in, mean, rstd, N, C);
        en_tensor *rel[6] = {xd, wd, bd, xc, wc, bc};
        for (int i = 0; i < 6; i++) en_tensor_release(rel[i]);
        return y;
    }
    en_tensor *xc = en_contiguous(x), *wc = w ? en_contiguous(w) : NULL, *bc = b ? en_contiguous(b) : NULL;
    en_tensor *y = en_tensor_empty(xc->ndim, xc->shape);
    en_tensor *in[3] = {xc, wc, bc};
    int rec = layer_norm_recorded(xc, wc, bc);
    en_tensor *mean = rec ? en_tensor_empty(EN_DIMS(N)) : NULL;
    en_tensor *rstd = rec ? en_tensor_empty(EN_DIMS(N)) : NULL;
    en_backend_of(xc)->layernorm_fwd(en_tensor_f32(y), mean ? en_tensor_f32(mean) : NULL,
                                     rstd ? en_tensor_f32(rstd) : NULL, en_tensor_f32(xc),
                                     wc ? en_tensor_f32(wc) : NULL, bc ? en_tensor_f32(bc) : NULL,
                                     N, C, eps);
    layer_norm_record(y, in, mean, rstd, N, C);
    en_tensor_release(xc);
    en_tensor_release(wc);
    en_tensor_release(bc);
    return y;
}

void en_layer_norm_backward(en_node *n, const float *g) {
    int ax = 0, aw = 1, ab = 1;
    int64_t N = n->iarg[0], C = n->iarg[1];
    float *gx = en_node_grad(n, 0, &ax);
    float *gw = n->in[1] ? en_node_grad(n, 1, &aw) : NULL;
    float *gb = n->in[2] ? en_node_grad(n, 2, &ab) : NULL;
    en_device dev = en_tensor_device(n->out);
    if (gw && !aw) en_dev_memzero(dev, gw, (size_t)C * sizeof(float));
    if (gb && !ab) en_dev_memzero(dev, gb, (size_t)C * sizeof(float));
    en_backend_of(n->out)->layernorm_bwd(gx, gw, gb, g, en_dev_f32(n->in[0]), en_dev_f32(n->in[1]),
                                         en_dev_f32(n->saved[0]), en_dev_f32(n->saved[1]),
                                         N, C, ax);
}

/* ---- L2 normalisation ----------------------------------------------------- */
static en_tensor *l2n_last(en_tensor *x, float eps) {
    en_device dev = en_tensor_device(x);
    if (dev != EN_CPU && en_device_lacks(dev, KN_K_L2NORM)) { /* the CPU's loop on a host copy (counted) */
        en_device_grad_guard(EN_OP_L2_NORMALIZE, 1, &x);
        en_tensor *h = en_device_host(x), *r = l2n_last(h, eps);
        en_tensor_release(h);
        return en_device_back(r, dev);
    }
    /* the tensor's back end: on the CPU kn_l2norm_fwd, the engine's loop */
    en_tensor *xc = en_contiguous(x);
    int64_t C = xc->ndim ? xc->shape[xc->ndim - 1] : 1, N = C ? en_tensor_numel(xc) / C : 0;
    en_tensor *y = en_device_empty(dev, EN_F32, xc->ndim, xc->shape);
    en_tensor *nrm = en_device_empty(dev, EN_F32, EN_DIMS(N));
    en_backend_of(xc)->l2norm_fwd(en_dev_f32(y), en_dev_f32(nrm), en_dev_f32(xc), N, C, eps);
    en_node *n = en_tape_record(EN_OP_L2_NORMALIZE, y, 1, &xc);
    if (n) {
        n->saved[0] = nrm;
        n->farg[0] = eps;
    } else {
        en_tensor_release(nrm);
    }
    en_tensor_release(xc);
    return y;
}

void en_l2_normalize_backward(en_node *n, const float *g) {
    int acc;
    float *gx = en_node_grad(n, 0, &acc);
    if (!gx) return;
    const en_tensor *y = n->out;
    int64_t C = y->ndim ? y->shape[y->ndim - 1] : 1, N = C ? en_tensor_numel(y) / C : 0;
    /* the device its forward ran on (kn_l2norm_bwd on the CPU) */
    en_backend_of(y)->l2norm_bwd(gx, g, en_dev_f32(y), en_dev_f32(n->saved[0]), N, C, n->farg[0], acc);
}

en_tensor *en_l2_normalize(en_tensor *x, int axis, float eps) { return along_axis(x, axis, l2n_last, eps); }
