/* Elementwise ops: binary with broadcasting, scalar forms, unary functions.
 * Gradient rule: see en_ops.h (leaves +=, activations = then +=). */
#include <math.h>
#include <string.h>

#include "en_error.h"
#include "en_opdef.h"

/* ---- broadcasting ------------------------------------------------------ */
static int bcast_shape(const char *op, const en_tensor *a, const en_tensor *b, int *nd,
                       int64_t *shape) {
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < n; i++) {
        int ia = i - (n - a->ndim), ib = i - (n - b->ndim);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char x[128], y[128];
            return en_error("%s: shapes %s and %s do not broadcast", op,
                            en_tensor_shape_str(a, x, sizeof x), en_tensor_shape_str(b, y, sizeof y));
        }
        shape[i] = da == 1 ? db : da;
    }
    *nd = n;
    return 0;
}

/* t's strides in the index space of `shape` (0 along broadcast dims). */
static void bcast_strides(const en_tensor *t, int nd, const int64_t *shape, int64_t *st) {
    int lead = nd - t->ndim;
    for (int i = 0; i < nd; i++)
        st[i] = (i < lead || (t->shape[i - lead] == 1 && shape[i] != 1)) ? 0 : t->stride[i - lead];
}

/* out dense over shape = f(x, y, z), x, y, z strided (y, z NULL where f has
 * none): the CPU back end's loop (kn_nd.c). */
static void nd_apply(kn_binary f, float *out, int nd, const int64_t *shape, const float *x,
                     const int64_t *sx, const float *y, const int64_t *sy, const float *z,
                     const int64_t *sz) {
    kn_backend_get(EN_CPU)->binary_nd(f, out, nd, shape, x, sx, y, sy, z, sz);
}

static kn_binary binary_fn(en_op op) {
    return op == EN_OP_ADD ? KN_B_ADD : op == EN_OP_SUB ? KN_B_SUB : op == EN_OP_MUL ? KN_B_MUL : KN_B_DIV;
}

static en_tensor *binary(en_op op, const char *name, en_tensor *a, en_tensor *b) {
    en_tensor *ab[2] = {a, b};
    en_device dev = en_device_of(2, ab);
    int nd = 0;
    int64_t shape[EN_MAX_DIMS], sa[EN_MAX_DIMS], sb[EN_MAX_DIMS];
    if (dev != EN_CPU) {
        if (en_device_lacks(dev, KN_K_BINARY)) { /* the CPU's loop on host copies, counted */
            en_device_grad_guard(op, 2, ab);
            en_tensor *ha = en_device_host(a), *hb = en_device_host(b);
            en_tensor *r = binary(op, name, ha, hb);
            en_tensor_release(ha);
            en_tensor_release(hb);
            return en_device_back(r, dev);
        }
        if (bcast_shape(name, a, b, &nd, shape)) return NULL;
        /* operands keep their strides on the device (a host one is copied over) */
        en_tensor *da = en_device_operand(op, a, dev), *db = en_device_operand(op, b, dev);
        en_tensor *out = en_device_empty(dev, EN_F32, nd, shape);
        bcast_strides(da, nd, shape, sa);
        bcast_strides(db, nd, shape, sb);
        kn_backend_get(dev)->binary_nd(binary_fn(op), en_dev_f32(out), nd, shape, en_dev_f32(da), sa, en_dev_f32(db), sb,
                                       NULL, NULL);
        en_tensor *in[2] = {da, db};
        en_tape_record(op, out, 2, in);
        en_tensor_release(da);
        en_tensor_release(db);
        return out;
    }
    if (bcast_shape(name, a, b, &nd, shape)) return NULL;
    en_tensor *out = en_tensor_empty(nd, shape);
    float *o = en_tensor_f32(out);
    const float *pa = en_tensor_f32(a), *pb = en_tensor_f32(b);
    kn_binary f = binary_fn(op);
    if (en_tensor_same_shape(a, b) && en_tensor_is_contiguous(a) && en_tensor_is_contiguous(b)) {
        int64_t n = en_tensor_numel(out);
#pragma omp parallel for simd if (n > 65536)
        for (int64_t i = 0; i < n; i++) o[i] = kn_binary_apply(f, pa[i], pb[i], 0);
    } else {
        bcast_strides(a, nd, shape, sa);
        bcast_strides(b, nd, shape, sb);
        nd_apply(f, o, nd, shape, pa, sa, pb, sb, NULL, NULL);
    }
    en_tensor *in[2] = {a, b};
    en_tape_record(op, out, 2, in);
    return out;
}

en_tensor *en_add(en_tensor *a, en_tensor *b) { return binary(EN_OP_ADD, "add", a, b); }
en_tensor *en_sub(en_tensor *a, en_tensor *b) { return binary(EN_OP_SUB, "sub", a, b); }
en_tensor *en_mul(en_tensor *a, en_tensor *b) { return binary(EN_OP_MUL, "mul", a, b); }
en_tensor *en_div(en_tensor *a, en_tensor *b) { return binary(EN_OP_DIV, "div", a, b); }

void en_binary_backward(en_node *n, const float *g) {
    en_tensor *a = n->in[0], *b = n->in[1], *y = n->out;
    int nd = y->ndim;
    int64_t dense[EN_MAX_DIMS], sa[EN_MAX_DIMS], sb[EN_MAX_DIMS];
    int64_t s = 1;
    for (int i = nd - 1; i >= 0; i--) {
        dense[i] = s;
        s *= y->shape[i];
    }
    bcast_strides(a, nd, y->shape, sa);
    bcast_strides(b, nd, y->shape, sb);
    int64_t ny = en_tensor_numel(y);
    en_device dev = en_tensor_device(y);
    if (dev != EN_CPU) { /* the same steps on the device's kernels */
        const kn_backend *be = en_backend_of(y);
        for (int k = 0; k < 2; k++) {
            int acc;
            float *gx = en_node_grad(n, k, &acc);
            if (!gx) continue;
            en_tensor *x = n->in[k];
            if (n->op == EN_OP_ADD || (n->op == EN_OP_SUB && k == 0)) {
                en_reduce_to_dev(dev, gx, x->ndim, x->shape, g, nd, y->shape, acc);
                continue;
            }
            en_tensor *tmp = en_device_empty(dev, EN_F32, nd, y->shape);
            float *t = en_dev_f32(tmp);
            const float *pa = en_dev_f32(a), *pb = en_dev_f32(b);
            if (n->op == EN_OP_SUB) be->binary_nd(KN_B_NEG, t, nd, y->shape, g, dense, NULL, NULL, NULL, NULL);
            else if (n->op == EN_OP_MUL && k == 0) be->binary_nd(KN_B_MUL, t, nd, y->shape, g, dense, pb, sb, NULL, NULL);
            else if (n->op == EN_OP_MUL) be->binary_nd(KN_B_MUL, t, nd, y->shape, g, dense, pa, sa, NULL, NULL);
            else if (k == 0) be->binary_nd(KN_B_DIV, t, nd, y->shape, g, dense, pb, sb, NULL, NULL);
            else be->binary_nd(KN_B_NDIV_SQ, t, nd, y->shape, g, dense, pb, sb, pa, sa);
            en_reduce_to_dev(dev, gx, x->ndim, x->shape, t, nd, y->shape, acc);
            en_tensor_release(tmp);
        }
        return;
    }
    for (int k = 0; k < 2; k++) {
        int acc;
        float *gx = en_node_grad(n, k, &acc);
        if (!gx) continue;
        en_tensor *x = n->in[k];
        if (n->op == EN_OP_ADD || (n->op == EN_OP_SUB && k == 0)) {
            en_reduce_to(gx, x->ndim, x->shape, g, nd, y->shape, acc);
            continue;
        }
        float *tmp = malloc((size_t)(ny ? ny : 1) * sizeof(float));
        EN_ASSERT(tmp != NULL);
        const float *pa = en_tensor_f32(a), *pb = en_tensor_f32(b);
        /* -g; g b; g a; g / b; -g a / b^2 */
        if (n->op == EN_OP_SUB) nd_apply(KN_B_NEG, tmp, nd, y->shape, g, dense, NULL, NULL, NULL, NULL);
        else if (n->op == EN_OP_MUL && k == 0) nd_apply(KN_B_MUL, tmp, nd, y->shape, g, dense, pb, sb, NULL, NULL);
        else if (n->op == EN_OP_MUL) nd_apply(KN_B_MUL, tmp, nd, y->shape, g, dense, pa, sa, NULL, NULL);
        else if (k == 0) nd_apply(KN_B_DIV, tmp, nd, y->shape, g, dense, pb, sb, NULL, NULL);
        else nd_apply(KN_B_NDIV_SQ, tmp, nd, y->shape, g, dense, pb, sb, pa, sa);
        en_reduce_to(gx, x->ndim, x->shape, tmp, nd, y->shape, acc);
        free(tmp);
    }
}

/* ---- unary and scalar ops ------------------------------------------------- */
/* On a device: the device's kernel, or the CPU's on host copies (counted). */
static void unary_device(en_op op, kn_unary f, en_tensor *y, en_tensor *xc, float a, float b) {
    const kn_backend *be = en_backend_of(xc);
    if (be->supports(KN_K_UNARY)) {
        be->unary_fwd(f, en_tensor_data(y), en_tensor_data(xc), en_tensor_numel(xc), a, b);
        return;
    }
    en_device_grad_guard(op, 1, &xc);
    kn_fallback_note(KN_K_UNARY);
    en_tensor *hx = en_device_host(xc), *hy = en_tensor_empty(hx->ndim, hx->shape);
    kn_cpu_backend()->unary_fwd(f, en_tensor_f32(hy), en_tensor_f32(hx), en_tensor_numel(hx), a, b);
    en_device_upload_(y, hy);
    en_tensor_release(hx);
    en_tensor_release(hy);
}

static en_tensor *unary(en_op op, kn_unary f, en_tensor *x, float a, float b) {
    en_device dev = en_tensor_device(x);
    en_tensor *xc = en_contiguous(x);
    en_tensor *y = dev == EN_CPU ? en_tensor_empty(xc->ndim, xc->shape)
                                 : en_tensor_new_on(dev, EN_F32, xc->ndim, xc->shape);
    EN_ASSERT(y != NULL); /* out of device memory: en_error_msg() says how much */
    if (dev != EN_CPU) unary_device(op, f, y, xc, a, b);
    else en_backend_of(xc)->unary_fwd(f, en_tensor_f32(y), en_tensor_f32(xc), en_tensor_numel(xc), a, b);
    en_node *n = en_tape_record(op, y, 1, &xc);
    if (n) {
        n->iarg[0] = f;
        n->farg[0] = a;
        n->farg[1] = b;
    }
    en_tensor_release(xc);
    return y;
}

void en_unary_backward(en_node *n, const float *g) {
    int acc;
    float *gx = en_node_grad(n, 0, &acc);
    if (!gx) return;
    en_backend_of(n->out)->unary_bwd((kn_unary)n->iarg[0], gx, g, en_dev_f32(n->in[0]),
                                     en_dev_f32(n->out), en_tensor_numel(n->out), n->farg[0],
                                     n->farg[1], acc);
}

void en_scalar_backward(en_node *n, const float *g) { en_unary_backward(n, g); }

en_tensor *en_add_scalar(en_tensor *a, float s) { return unary(EN_OP_ADD_SCALAR, KN_U_ADD_SCALAR, a, s, 0); }
en_tensor *en_mul_scalar(en_tensor *a, float s) { return unary(EN_OP_MUL_SCALAR, KN_U_MUL_SCALAR, a, s, 0); }
en_tensor *en_neg(en_tensor *a) { return en_mul_scalar(a, -1.0f); }
en_tensor *en_rsub_scalar(en_tensor *a, float s) {
    en_tensor *m = en_neg(a), *r = en_add_scalar(m, s);
    en_tensor_release(m);
    return r;
}
en_tensor *en_pow(en_tensor *a, float p) { return unary(EN_OP_POW_SCALAR, KN_U_POW, a, p, 0); }
en_tensor *en_exp(en_tensor *a) { return unary(EN_OP_EXP, KN_U_EXP, a, 0, 0); }
en_tensor *en_log(en_tensor *a) { return unary(EN_OP_LOG, KN_U_LOG, a, 0, 0); }
en_tensor *en_sqrt(en_tensor *a) { return unary(EN_OP_SQRT, KN_U_SQRT, a, 0, 0); }
en_tensor *en_abs(en_tensor *a) { return unary(EN_OP_ABS, KN_U_ABS, a, 0, 0); }
en_tensor *en_clamp(en_tensor *a, float lo, float hi) { return unary(EN_OP_CLAMP, KN_U_CLAMP, a, lo, hi); }
en_tensor *en_relu(en_tensor *a) { return unary(EN_OP_RELU, KN_U_RELU, a, 0, 0); }
en_tensor *en_gelu(en_tensor *a) { return unary(EN_OP_GELU_TANH, KN_U_GELU_TANH, a, 0, 0); }
en_tensor *en_gelu_erf(en_tensor *a) { return unary(EN_OP_GELU_ERF, KN_U_GELU_ERF, a, 0, 0); }
en_tensor *en_quick_gelu(en_tensor *a) { return unary(EN_OP_QUICK_GELU, KN_U_QUICK_GELU, a, 0, 0); }
en_tensor *en_sigmoid(en_tensor *a) { return unary(EN_OP_SIGMOID, KN_U_SIGMOID, a, 0, 0); }
en_tensor *en_tanh(en_tensor *a) { return unary(EN_OP_TANH, KN_U_TANH, a, 0, 0); }

int en_all_finite(const en_tensor *x) {
    if (en_tensor_device(x) != EN_CPU) { /* a yes/no for the host: read it there */
        en_tensor *h = en_device_host((en_tensor *)x);
        int ok = en_all_finite(h);
        en_tensor_release(h);
        return ok;
    }
    int64_t n = en_tensor_numel(x);
    const float *p = en_tensor_f32(x);
    int ok = 1;
    if (en_tensor_is_contiguous(x)) {
#pragma omp parallel for reduction(&& : ok) if (n > 65536)
        for (int64_t i = 0; i < n; i++) ok = ok && isfinite(p[i]);
        return ok;
    }
    en_tensor *c = en_tensor_clone(x);
    ok = en_all_finite(c);
    en_tensor_release(c);
    return ok;
}
