/* Indexing ops (embedding, gather rows, concat, stack). Gradient rule:
 * en_ops.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"
#include "en_opdef.h"
#include "en_tensor_internal.h"

/* ---- gather rows / embedding ------------------------------------------------ */
static en_tensor *gather(en_op op, const char *name, en_tensor *x, const en_tensor *idx) {
    if (idx->dtype != EN_I64) return en_error("%s: indices must be int64", name), NULL;
    if (x->ndim < 1) return en_error("%s: a 0-dim source", name), NULL;
    if (op == EN_OP_EMBEDDING && x->ndim != 2) return en_error("embedding: weight must be (V, C)"), NULL;
    int64_t V = x->shape[0], row = V ? en_tensor_numel(x) / V : 0, M = en_tensor_numel(idx);
    en_device dev = en_tensor_device(x);
    if (dev != EN_CPU || en_tensor_device(idx) != EN_CPU) {
        if (dev == EN_CPU) dev = en_tensor_device(idx);
        /* the indices are checked on the host (a few numbers), then used where x is */
        en_tensor *hi = en_device_host((en_tensor *)idx);
        if (en_device_lacks(dev, KN_K_GATHER)) {
            en_device_grad_guard(op, 1, &x);
            en_tensor *hx = en_device_host(x), *r = gather(op, name, hx, hi);
            en_tensor_release(hx);
            en_tensor_release(hi);
            return en_device_back(r, dev);
        }
        const int64_t *hp = en_tensor_i64(hi);
        for (int64_t i = 0; i < M; i++)
            if (hp[i] < 0 || hp[i] >= V) {
                en_tensor_release(hi);
                return en_error("%s: index %lld out of range [0, %lld)", name, (long long)hp[i], (long long)V), NULL;
            }
        int64_t shape[EN_MAX_DIMS];
        int nd = 0;
        if (op == EN_OP_EMBEDDING) {
            if (idx->ndim + 1 > EN_MAX_DIMS) return en_tensor_release(hi), en_error("embedding: too many dims"), NULL;
            for (int i = 0; i < idx->ndim; i++) shape[nd++] = idx->shape[i];
            shape[nd++] = row;
        } else {
            shape[nd++] = M;
            for (int i = 1; i < x->ndim; i++) shape[nd++] = x->shape[i];
        }
        en_tensor *xc = en_device_dense(x, dev), *di = en_device_dense(hi, dev);
        en_tensor *out = en_device_empty(dev, EN_F32, nd, shape);
        en_backend_of(xc)->gather_rows(en_dev_f32(out), en_dev_f32(xc), en_dev_i64(di), M, row);
        en_node *n = en_tape_record(op, out, 1, &xc);
        if (n) { /* the backward's scatter reads the indices on the device */
            n->saved[0] = di;
            n->iarg[0] = row;
        } else {
            en_tensor_release(di);
        }
        en_tensor_release(xc);
        en_tensor_release(hi);
        return out;
    }
    en_tensor *ic = en_tensor_is_contiguous(idx) ? en_tensor_retain((en_tensor *)idx) : en_tensor_clone(idx);
    const int64_t *ip = en_tensor_i64(ic);
    for (int64_t i = 0; i < M; i++)
        if (ip[i] < 0 || ip[i] >= V) {
            en_tensor_release(ic);
            return en_error("%s: index %lld out of range [0, %lld)", name, (long long)ip[i], (long long)V), NULL;
        }
    int64_t shape[EN_MAX_DIMS];
    int nd = 0;
    if (op == EN_OP_EMBEDDING) {
        if (idx->ndim + 1 > EN_MAX_DIMS) return en_tensor_release(ic), en_error("embedding: too many dims"), NULL;
        for (int i = 0; i < idx->ndim; i++) shape[nd++] = idx->shape[i];
        shape[nd++] = row;
    } else {
        shape[nd++] = M;
        for (int i = 1; i < x->ndim; i++) shape[nd++] = x->shape[i];
    }
    en_tensor *xc = en_contiguous(x);
    en_tensor *out = en_tensor_empty(nd, shape);
    const float *src = en_tensor_f32(xc);
    float *o = en_tensor_f32(out);
#pragma omp parallel for if (M * row > 65536)
    for (int64_t i = 0; i < M; i++) memcpy(o + i * row, src + ip[i] * row, (size_t)row * sizeof(float));
    en_node *n = en_tape_record(op, out, 1, &xc);
    if (n) {
        n->saved[0] = ic;
        n->iarg[0] = row;
    } else {
        en_tensor_release(ic);
    }
    en_tensor_release(xc);
    return out;
}

void en_gather_rows_backward(en_node *n, const float *g) {
    int acc;
    float *gx = en_node_grad(n, 0, &acc);
    if (!gx) return;
    int64_t row = n->iarg[0], M = en_tensor_numel(n->saved[0]);
    en_device dev = en_tensor_device(n->in[0]);
    if (!acc) en_dev_memzero(dev, gx, (size_t)en_tensor_numel(n->in[0]) * sizeof(float));
    if (dev != EN_CPU) { /* the same serial adds (a GPU's scatter adds atomically) */
        if (M > 0 && row > 0) en_backend_of(n->out)->scatter_rows(gx, g, en_dev_i64(n->saved[0]), M, row);
        return;
    }
    const int64_t *ip = en_tensor_i64(n->saved[0]);
    for (int64_t i = 0; i < M; i++) /* serial: repeated indices add up */
        for (int64_t j = 0; j < row; j++) gx[ip[i] * row + j] += g[i * row + j];
}

void en_embedding_backward(en_node *n, const float *g) { en_gather_rows_backward(n, g); }

en_tensor *en_embedding(en_tensor *w, const en_tensor *idx) { return gather(EN_OP_EMBEDDING, "embedding", w, idx); }
en_tensor *en_gather_rows(en_tensor *x, const en_tensor *idx) { return gather(EN_OP_GATHER_ROWS, "gather_rows", x, idx); }

/* ---- concat / stack -------------------------------------------------------- */
en_tensor *en_concat(int n, en_tensor *const *ts, int axis) {
    if (n < 1) return en_error("concat: no tensors"), NULL;
    int d = en_tensor_axis(ts[0], axis);
    if (d < 0) return NULL;
    int64_t shape[EN_MAX_DIMS];
    memcpy(shape, ts[0]->shape, sizeof shape);
    shape[d] = 0;
    for (int k = 0; k < n; k++) {
        if (ts[k]->ndim != ts[0]->ndim) return en_error("concat: tensor %d has %d dims, not %d", k, ts[k]->ndim, ts[0]->ndim), NULL;
        for (int i = 0; i < ts[0]->ndim; i++)
            if (i != d && ts[k]->shape[i] != ts[0]->shape[i])
                return en_error("concat: tensor %d differs in dim %d", k, i), NULL;
        shape[d] += ts[k]->shape[d];
    }
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < d; i++) outer *= shape[i];
    for (int i = d + 1; i < ts[0]->ndim; i++) inner *= shape[i];
    en_device dev = en_device_of(n, ts);
    if (dev != EN_CPU) {
        en_tensor **hs = NULL;
        if (en_device_lacks(dev, KN_K_COPY_ND)) {
            en_device_grad_guard(EN_OP_CONCAT, n, ts);
            hs = malloc((size_t)n * sizeof *hs);
            EN_ASSERT(hs != NULL);
            for (int k = 0; k < n; k++) hs[k] = en_device_host(ts[k]);
            en_tensor *r = en_concat(n, hs, axis);
            for (int k = 0; k < n; k++) en_tensor_release(hs[k]);
            free(hs);
            return en_device_back(r, dev);
        }
        /* each part copied, strides and all (an expanded class token too),
         * into its slab of the output */
        en_tensor *out = en_device_empty(dev, EN_F32, ts[0]->ndim, shape);
        const kn_backend *be = en_backend_of(out);
        en_tensor **dk = malloc((size_t)n * sizeof *dk);
        EN_ASSERT(dk != NULL);
        int64_t off = 0;
        for (int k = 0; k < n; k++) {
            dk[k] = en_device_operand(EN_OP_CONCAT, ts[k], dev);
            if (en_tensor_numel(dk[k]))
                be->copy_nd(en_dev_f32(out) + off * out->stride[d], out->stride, en_dev_f32(dk[k]), dk[k]->stride,
                            dk[k]->ndim, dk[k]->shape, 0);
            off += ts[k]->shape[d];
        }
        en_node *nd = en_tape_record(EN_OP_CONCAT, out, n, dk);
        if (nd) {
            nd->iarg[0] = outer;
            nd->iarg[1] = inner;
            nd->iarg[2] = d;
        }
        for (int k = 0; k < n; k++) en_tensor_release(dk[k]);
        free(dk);
        return out;
    }
    en_tensor *out = en_tensor_empty(ts[0]->ndim, shape);
    en_tensor **cs = malloc((size_t)n * sizeof *cs);
    EN_ASSERT(cs != NULL);
    float *o = en_tensor_f32(out);
    int64_t orow = shape[d] * inner, off = 0;
    for (int k = 0; k < n; k++) {
        cs[k] = en_contiguous(ts[k]);
        int64_t krow = ts[k]->shape[d] * inner;
        const float *src = en_tensor_f32(cs[k]);
        for (int64_t o2 = 0; o2 < outer; o2++)
            memcpy(o + o2 * orow + off, src + o2 * krow, (size_t)krow * sizeof(float));
        off += krow;
    }
    en_node *nd = en_tape_record(EN_OP_CONCAT, out, n, cs);
    if (nd) {
        nd->iarg[0] = outer;
        nd->iarg[1] = inner;
        nd->iarg[2] = d;
    }
    for (int k = 0; k < n; k++) en_tensor_release(cs[k]);
    free(cs);
    return out;
}

void en_concat_backward(en_node *n, const float *g) {
    int64_t outer = n->iarg[0], inner = n->iarg[1];
    int d = (int)n->iarg[2];
    int64_t orow = n->out->shape[d] * inner, off = 0;
    if (en_tensor_device(n->out) != EN_CPU) { /* each part's slab of g, copied (=|+=) */
        const kn_backend *be = en_backend_of(n->out);
        const en_tensor *y = n->out;
        int64_t gs[EN_MAX_DIMS], xs[EN_MAX_DIMS];
        en_dense_strides(y->ndim, y->shape, gs);
        int64_t at = 0;
        for (int k = 0; k < n->nin; k++) {
            int acc;
            const en_tensor *x = n->in[k];
            float *gx = en_node_grad(n, k, &acc);
            en_dense_strides(x->ndim, x->shape, xs);
            if (gx && en_tensor_numel(x)) be->copy_nd(gx, xs, g + at * gs[d], gs, x->ndim, x->shape, acc);
            at += x->shape[d];
        }
        return;
    }
    for (int k = 0; k < n->nin; k++) {
        int acc;
        int64_t krow = n->in[k]->shape[d] * inner;
        float *gx = en_node_grad(n, k, &acc);
        if (gx)
            for (int64_t o = 0; o < outer; o++)
                for (int64_t j = 0; j < krow; j++) {
                    float v = g[o * orow + off + j];
                    gx[o * krow + j] = acc ? gx[o * krow + j] + v : v;
                }
        off += krow;
    }
}

en_tensor *en_stack(int n, en_tensor *const *ts, int axis) {
    if (n < 1) return en_error("stack: no tensors"), NULL;
    for (int k = 1; k < n; k++)
        if (!en_tensor_same_shape(ts[k], ts[0])) return en_error("stack: tensor %d's shape differs", k), NULL;
    if (axis < 0) axis += ts[0]->ndim + 1;
    en_tensor **us = malloc((size_t)n * sizeof *us);
    EN_ASSERT(us != NULL);
    int ok = 1;
    for (int k = 0; k < n; k++) {
        us[k] = ok ? en_unsqueeze(ts[k], axis) : NULL;
        if (!us[k]) ok = 0;
    }
    en_tensor *r = ok ? en_concat(n, us, axis) : NULL;
    for (int k = 0; k < n; k++) en_tensor_release(us[k]);
    free(us);
    return r;
}
