/* The view ops — detach, contiguous, reshape, flatten, permute, transpose,
 * slice, select, unsqueeze, squeeze, expand — and their backward passes,
 * plus en_reduce_to (a broadcast's backward). A view shares its input's
 * storage (en_tensor_view); recording on the tape is what ties them to
 * autodiff, so they live here, apart from en_tensor.c's storage and
 * arenas, which know nothing of the tape. Gradient rule: en_ops.h. */
#include <string.h>

#include "en_error.h"
#include "en_opdef.h"
#include "en_tensor_internal.h"

en_tensor *en_tensor_detach(en_tensor *t) {
    en_tensor *v = en_tensor_view(t);
    v->ndim = t->ndim;
    memcpy(v->shape, t->shape, sizeof v->shape);
    memcpy(v->stride, t->stride, sizeof v->stride);
    return v;
}

en_tensor *en_contiguous(en_tensor *t) {
    if (en_tensor_is_contiguous(t)) return en_tensor_retain(t);
    if (en_tensor_device(t) != EN_CPU) {
        /* a strided device view: the device's strided copy, else gathered on
         * the host (the whole storage there and back), counted */
        const kn_backend *be = en_backend_of(t);
        if (t->dtype != EN_F32 || !be->supports(KN_K_COPY_ND)) {
            if (t->dtype == EN_F32) en_device_grad_guard(EN_OP_CONTIGUOUS, 1, &t);
            return en_device_gather(t);
        }
        en_tensor *c = en_device_empty(en_tensor_device(t), EN_F32, t->ndim, t->shape);
        be->copy_nd(en_dev_f32(c), c->stride, en_dev_f32(t), t->stride, t->ndim, t->shape, 0);
        en_tape_record(EN_OP_CONTIGUOUS, c, 1, &t);
        return c;
    }
    en_tensor *c = en_tensor_empty_like(t);
    en_tensor_copy_(c, t);
    en_tape_record(EN_OP_CONTIGUOUS, c, 1, &t);
    return c;
}

/* Backward of a view on a device: the device's strided copy (the CPU's
 * loops below are copy_nd's arithmetic: = or += element by element). */
static int on_device(const en_node *n) { return en_tensor_device(n->out) != EN_CPU; }

void en_contiguous_backward(en_node *n, const float *g) {
    int acc;
    float *gx = en_node_grad(n, 0, &acc);
    if (!gx) return;
    int64_t k = en_tensor_numel(n->in[0]);
    if (on_device(n)) {
        int64_t one = 1;
        if (k) en_backend_of(n->out)->copy_nd(gx, &one, g, &one, 1, &k, acc);
        return;
    }
    for (int64_t i = 0; i < k; i++) gx[i] = acc ? gx[i] + g[i] : g[i];
}

static int shape_error(const char *op, const en_tensor *t, int nd, const int64_t *shape) {
    char a[128], b[160];
    size_t k = snprintf(b, sizeof b, "[");
    for (int i = 0; i < nd && k < sizeof b; i++)
        k += snprintf(b + k, sizeof b - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < sizeof b) snprintf(b + k, sizeof b - k, "]");
    return en_error("%s: cannot take shape %s to %s", op, en_tensor_shape_str(t, a, sizeof a), b);
}

en_tensor *en_reshape(en_tensor *t, int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > EN_MAX_DIMS) return en_error("reshape: %d dims", ndim), NULL;
    int64_t sh[EN_MAX_DIMS], known = 1;
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        sh[i] = shape[i];
        if (sh[i] == -1) {
            if (infer >= 0) return shape_error("reshape", t, ndim, shape), NULL;
            infer = i;
        } else if (sh[i] < 0) {
            return shape_error("reshape", t, ndim, shape), NULL;
        } else {
            known *= sh[i];
        }
    }
    int64_t n = en_tensor_numel(t);
    if (infer >= 0) {
        if (known == 0 || n % known) return shape_error("reshape", t, ndim, shape), NULL;
        sh[infer] = n / known;
        known *= sh[infer];
    }
    if (known != n) return shape_error("reshape", t, ndim, shape), NULL;
    en_tensor *c = en_contiguous(t);
    en_tensor *v = en_tensor_view(c);
    v->ndim = ndim;
    memcpy(v->shape, sh, sizeof(int64_t) * ndim);
    en_tensor_set_dense_strides(v);
    en_tape_record(EN_OP_RESHAPE, v, 1, &c);
    en_tensor_release(c);
    return v;
}

void en_reshape_backward(en_node *n, const float *g) { en_contiguous_backward(n, g); }

en_tensor *en_flatten(en_tensor *t, int start, int end) {
    int nd = t->ndim ? t->ndim : 1;
    if (start < 0) start += nd;
    if (end < 0) end += nd;
    if (t->ndim == 0) return en_reshape(t, EN_DIMS(1));
    if (start < 0 || end >= t->ndim || start > end)
        return en_error("flatten: dims %d..%d of a %d-dim tensor", start, end, t->ndim), NULL;
    int64_t sh[EN_MAX_DIMS];
    int k = 0;
    for (int i = 0; i < start; i++) sh[k++] = t->shape[i];
    int64_t m = 1;
    for (int i = start; i <= end; i++) m *= t->shape[i];
    sh[k++] = m;
    for (int i = end + 1; i < t->ndim; i++) sh[k++] = t->shape[i];
    return en_reshape(t, k, sh);
}

en_tensor *en_permute(en_tensor *t, const int *perm) {
    int seen[EN_MAX_DIMS] = {0};
    for (int i = 0; i < t->ndim; i++) {
        if (perm[i] < 0 || perm[i] >= t->ndim || seen[perm[i]])
            return en_error("permute: not a permutation of %d dims", t->ndim), NULL;
        seen[perm[i]] = 1;
    }
    en_tensor *v = en_tensor_view(t);
    v->ndim = t->ndim;
    for (int i = 0; i < t->ndim; i++) {
        v->shape[i] = t->shape[perm[i]];
        v->stride[i] = t->stride[perm[i]];
    }
    en_node *n = en_tape_record(EN_OP_PERMUTE, v, 1, &t);
    if (n)
        for (int i = 0; i < t->ndim; i++) n->iarg[i] = perm[i];
    return v;
}

void en_permute_backward(en_node *n, const float *g) {
    int acc;
    float *gx = en_node_grad(n, 0, &acc);
    if (!gx) return;
    const en_tensor *x = n->in[0], *y = n->out;
    int64_t xs[EN_MAX_DIMS], ds[EN_MAX_DIMS], gs[EN_MAX_DIMS];
    en_dense_strides(x->ndim, x->shape, xs);
    en_dense_strides(y->ndim, y->shape, gs);
    for (int i = 0; i < y->ndim; i++) ds[i] = xs[n->iarg[i]];
    if (on_device(n)) en_backend_of(n->out)->copy_nd(gx, ds, g, gs, y->ndim, y->shape, acc);
    else en_nd_copy_f32(gx, ds, g, gs, y->ndim, y->shape, acc);
}

en_tensor *en_transpose(en_tensor *t, int d0, int d1) {
    int a = en_tensor_axis(t, d0), b = en_tensor_axis(t, d1);
    if (a < 0 || b < 0) return NULL;
    int perm[EN_MAX_DIMS];
    for (int i = 0; i < t->ndim; i++) perm[i] = i;
    perm[a] = b;
    perm[b] = a;
    return en_permute(t, perm);
}

en_tensor *en_slice(en_tensor *t, int dim, int64_t start, int64_t end, int64_t step) {
    int d = en_tensor_axis(t, dim);
    if (d < 0) return NULL;
    int64_t n = t->shape[d];
    if (start < 0) start += n;
    if (end < 0) end += n;
    if (end > n) end = n;
    if (start < 0 || start > n || step < 1)
        return en_error("slice: start %lld step %lld out of range for size %lld", (long long)start,
                        (long long)step, (long long)n), NULL;
    if (end < start) end = start;
    en_tensor *v = en_tensor_view(t);
    v->ndim = t->ndim;
    memcpy(v->shape, t->shape, sizeof v->shape);
    memcpy(v->stride, t->stride, sizeof v->stride);
    v->shape[d] = (end - start + step - 1) / step;
    v->stride[d] = t->stride[d] * step;
    v->offset = t->offset + start * t->stride[d];
    en_node *nd = en_tape_record(EN_OP_SLICE, v, 1, &t);
    if (nd) {
        nd->iarg[0] = d;
        nd->iarg[1] = start;
        nd->iarg[2] = step;
    }
    return v;
}

void en_slice_backward(en_node *n, const float *g) {
    int acc;
    float *gx = en_node_grad(n, 0, &acc);
    if (!gx) return;
    const en_tensor *x = n->in[0], *y = n->out;
    if (!acc) en_dev_memzero(en_tensor_device(x), gx, (size_t)en_tensor_numel(x) * sizeof(float));
    int64_t xs[EN_MAX_DIMS], gs[EN_MAX_DIMS];
    en_dense_strides(x->ndim, x->shape, xs);
    en_dense_strides(y->ndim, y->shape, gs);
    int d = (int)n->iarg[0];
    float *base = gx + n->iarg[1] * xs[d];
    xs[d] *= n->iarg[2];
    if (!en_tensor_numel(y)) return;
    if (on_device(n)) en_backend_of(n->out)->copy_nd(base, xs, g, gs, y->ndim, y->shape, 1);
    else en_nd_copy_f32(base, xs, g, gs, y->ndim, y->shape, 1);
}

en_tensor *en_select(en_tensor *t, int dim, int64_t i) {
    int d = en_tensor_axis(t, dim);
    if (d < 0) return NULL;
    if (i < 0) i += t->shape[d];
    if (i < 0 || i >= t->shape[d])
        return en_error("select: index %lld out of range for size %lld", (long long)i,
                        (long long)t->shape[d]), NULL;
    en_tensor *s = en_slice(t, d, i, i + 1, 1);
    en_tensor *r = en_squeeze(s, d);
    en_tensor_release(s);
    return r;
}

en_tensor *en_unsqueeze(en_tensor *t, int dim) {
    if (dim < 0) dim += t->ndim + 1;
    if (dim < 0 || dim > t->ndim || t->ndim == EN_MAX_DIMS)
        return en_error("unsqueeze: dim %d of a %d-dim tensor", dim, t->ndim), NULL;
    int64_t sh[EN_MAX_DIMS];
    int k = 0;
    for (int i = 0; i < t->ndim; i++) {
        if (i == dim) sh[k++] = 1;
        sh[k++] = t->shape[i];
    }
    if (dim == t->ndim) sh[k++] = 1;
    return en_reshape(t, k, sh);
}

en_tensor *en_squeeze(en_tensor *t, int dim) {
    int d = en_tensor_axis(t, dim);
    if (d < 0) return NULL;
    if (t->shape[d] != 1) return en_error("squeeze: dim %d has size %lld", dim, (long long)t->shape[d]), NULL;
    int64_t sh[EN_MAX_DIMS];
    int k = 0;
    for (int i = 0; i < t->ndim; i++)
        if (i != d) sh[k++] = t->shape[i];
    return en_reshape(t, k, sh);
}

en_tensor *en_expand(en_tensor *t, int ndim, const int64_t *shape) {
    if (ndim < t->ndim || ndim > EN_MAX_DIMS) return shape_error("expand", t, ndim, shape), NULL;
    en_tensor *v = en_tensor_view(t);
    v->ndim = ndim;
    int lead = ndim - t->ndim;
    for (int i = 0; i < ndim; i++) {
        int64_t want = shape[i];
        if (i < lead) {
            if (want < 0) goto bad;
            v->shape[i] = want;
            v->stride[i] = 0;
            continue;
        }
        int64_t have = t->shape[i - lead];
        if (want == -1) want = have;
        if (have == want) {
            v->shape[i] = have;
            v->stride[i] = t->stride[i - lead];
        } else if (have == 1) {
            v->shape[i] = want;
            v->stride[i] = 0;
        } else {
            goto bad;
        }
    }
    en_tape_record(EN_OP_EXPAND, v, 1, &t);
    return v;
bad:
    en_tensor_release(v);
    return shape_error("expand", t, ndim, shape), NULL;
}

void en_expand_backward(en_node *n, const float *g) {
    int acc;
    float *gx = en_node_grad(n, 0, &acc);
    if (!gx) return;
    if (on_device(n))
        en_reduce_to_dev(en_tensor_device(n->out), gx, n->in[0]->ndim, n->in[0]->shape, g,
                         n->out->ndim, n->out->shape, acc);
    else
        en_reduce_to(gx, n->in[0]->ndim, n->in[0]->shape, g, n->out->ndim, n->out->shape, acc);
}

void en_reduce_to(float *dst, int dnd, const int64_t *dshape, const float *src, int snd,
                  const int64_t *sshape, int acc) {
    EN_ASSERT(dnd <= snd);
    int64_t dn = 1, sn = 1;
    for (int i = 0; i < dnd; i++) dn *= dshape[i];
    for (int i = 0; i < snd; i++) sn *= sshape[i];
    if (dn == sn) { /* no broadcast dim: a plain copy (every residual add's backward) */
        if (acc) {
#pragma omp parallel for simd if (sn > 65536)
            for (int64_t i = 0; i < sn; i++) dst[i] += src[i];
        } else {
#pragma omp parallel for simd if (sn > 65536)
            for (int64_t i = 0; i < sn; i++) dst[i] = src[i];
        }
        return;
    }
    if (!acc) memset(dst, 0, (size_t)dn * sizeof(float));
    int64_t ds[EN_MAX_DIMS], bs[EN_MAX_DIMS], ss[EN_MAX_DIMS];
    en_dense_strides(dnd, dshape, ds);
    en_dense_strides(snd, sshape, ss);
    int lead = snd - dnd;
    for (int i = 0; i < snd; i++) {
        if (i < lead) bs[i] = 0;
        else {
            EN_ASSERT(dshape[i - lead] == sshape[i] || dshape[i - lead] == 1);
            bs[i] = dshape[i - lead] == sshape[i] ? ds[i - lead] : 0;
        }
    }
    /* serial: several source elements land on one destination */
    int64_t inner = snd ? sshape[snd - 1] : 1, outer = sn / (inner ? inner : 1);
    int64_t bsi = snd ? bs[snd - 1] : 0;
    for (int64_t o = 0; o < outer; o++) {
        int64_t r = o, doff = 0;
        for (int d = snd - 2; d >= 0; d--) {
            doff += (r % sshape[d]) * bs[d];
            r /= sshape[d];
        }
        const float *sp = src + o * inner;
        float *dp = dst + doff;
        if (bsi == 0) {
            float s = 0;
            for (int64_t i = 0; i < inner; i++) s += sp[i];
            dp[0] += s;
        } else {
            for (int64_t i = 0; i < inner; i++) dp[i] += sp[i];
        }
    }
}


/* en_reduce_to's order on a device. The CPU walks the source's rows in
 * order: a row whose last axis is summed adds its sum (from 0.0f, in
 * order), else its elements one by one, each into the destination as it
 * stands. So here: the last axis's row sums first when it is summed, then
 * one reduce_sum over the summed axes in row-major order, starting from
 * the destination (acc = 2) or 0. Summed axes that are not neighbours are
 * brought together first by a strided copy (kept dims first, summed dims
 * after, each group in order), which keeps that row-major order exactly. */
void en_reduce_to_dev(en_device dev, float *dst, int dnd, const int64_t *dshape, const float *src,
                      int snd, const int64_t *sshape, int acc) {
    EN_ASSERT(dnd <= snd);
    const kn_backend *be = kn_backend_get(dev);
    int64_t dn = 1, sn = 1;
    for (int i = 0; i < dnd; i++) dn *= dshape[i];
    for (int i = 0; i < snd; i++) sn *= sshape[i];
    if (dn == 0) return;
    if (dn == sn) { /* no broadcast dim: a plain copy (every residual add's backward) */
        int64_t one = 1;
        be->copy_nd(dst, &one, src, &one, 1, &sn, acc);
        return;
    }
    if (sn == 0) { /* an empty sum adds nothing */
        if (!acc) en_dev_memzero(dev, dst, (size_t)dn * sizeof(float));
        return;
    }
    /* the source's dims of size > 1 and whether each is summed */
    int64_t sz[EN_MAX_DIMS];
    int mk[EN_MAX_DIMS], n = 0, lead = snd - dnd;
    for (int i = 0; i < snd; i++) {
        if (sshape[i] == 1) continue;
        int64_t d = i < lead ? 1 : dshape[i - lead];
        EN_ASSERT(d == sshape[i] || d == 1);
        sz[n] = sshape[i];
        mk[n++] = d == 1;
    }
    en_tensor *rows = NULL, *packed = NULL;
    const float *cur = src;
    if (n > 0 && mk[n - 1] && snd > 0 && sshape[snd - 1] != 1) { /* the rows' own sums first */
        int64_t R = sz[n - 1], outer = sn / R;
        rows = en_device_empty(dev, EN_F32, EN_DIMS(outer));
        be->reduce_sum(en_dev_f32(rows), cur, outer, R, 1, 1.0f, 0);
        cur = en_dev_f32(rows);
        n--;
    }
    /* one run of summed dims [lo, hi) left, or gather them */
    int lo = -1, hi = -1, runs = 0;
    for (int i = 0; i < n; i++)
        if (mk[i] && (i == 0 || !mk[i - 1])) runs++, lo = i;
    for (int i = n - 1; i >= 0 && hi < 0; i--)
        if (mk[i]) hi = i + 1;
    int64_t outer = 1, R = 1, inner = 1;
    if (runs <= 1) {
        if (runs == 0) lo = hi = n;
        for (int i = 0; i < lo; i++) outer *= sz[i];
        for (int i = lo; i < hi; i++) R *= sz[i];
        for (int i = hi; i < n; i++) inner *= sz[i];
    } else {
        int64_t st[EN_MAX_DIMS], ps[EN_MAX_DIMS], pst[EN_MAX_DIMS], ds[EN_MAX_DIMS];
        en_dense_strides(n, sz, st);
        int k = 0;
        for (int pass = 0; pass < 2; pass++)
            for (int i = 0; i < n; i++)
                if (mk[i] == pass) {
                    ps[k] = sz[i];
                    pst[k++] = st[i];
                    if (pass == 0) outer *= sz[i];
                    else R *= sz[i];
                }
        en_dense_strides(n, ps, ds);
        packed = en_device_empty(dev, EN_F32, EN_DIMS(outer * R));
        be->copy_nd(en_dev_f32(packed), ds, cur, pst, n, ps, 0);
        cur = en_dev_f32(packed);
    }
    be->reduce_sum(dst, cur, outer, R, inner, 1.0f, acc ? 2 : 0);
    en_tensor_release(rows);
    en_tensor_release(packed);
}
