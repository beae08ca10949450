/* Indexing ops (embedding, gather rows, concat, stack) and losses
 * (cross-entropy, MSE, BCE with logits). Gradient rule: en_ops.h. */
#include <math.h>
#include <string.h>

#include "en_error.h"
#include "en_opdef.h"

/* ---- gather rows / embedding ------------------------------------------------ */
static en_tensor *gather(en_op op, const char *name, en_tensor *x, const en_tensor *idx) {
    if (idx->dtype != EN_I64) return en_error("%s: indices must be int64", name), NULL;
    if (x->ndim < 1) return en_error("%s: a 0-dim source", name), NULL;
    if (op == EN_OP_EMBEDDING && x->ndim != 2) return en_error("embedding: weight must be (V, C)"), NULL;
    int64_t V = x->shape[0], row = V ? en_tensor_numel(x) / V : 0, M = en_tensor_numel(idx);
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
    if (!acc) memset(gx, 0, (size_t)en_tensor_numel(n->in[0]) * sizeof(float));
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

/* ---- losses ---------------------------------------------------------------- */
en_tensor *en_cross_entropy(en_tensor *logits, const en_tensor *targets) {
    if (logits->ndim != 2 || targets->dtype != EN_I64 || en_tensor_numel(targets) != logits->shape[0]) {
        char a[128], b[128];
        return en_error("cross_entropy: logits %s (want (N, K)) and int64 targets %s (want (N))",
                        en_tensor_shape_str(logits, a, sizeof a), en_tensor_shape_str(targets, b, sizeof b)), NULL;
    }
    int64_t N = logits->shape[0], K = logits->shape[1];
    en_tensor *tc = en_tensor_is_contiguous(targets) ? en_tensor_retain((en_tensor *)targets) : en_tensor_clone(targets);
    const int64_t *tp = en_tensor_i64(tc);
    for (int64_t i = 0; i < N; i++)
        if (tp[i] < 0 || tp[i] >= K) {
            en_tensor_release(tc);
            return en_error("cross_entropy: target %lld out of range [0, %lld)", (long long)tp[i], (long long)K), NULL;
        }
    en_tensor *xc = en_contiguous(logits);
    en_tensor *lse = en_tensor_empty(EN_DIMS(N));
    const float *x = en_tensor_f32(xc);
    float *lp = en_tensor_f32(lse);
#pragma omp parallel for if (N * K > 65536)
    for (int64_t i = 0; i < N; i++) {
        const float *r = x + i * K;
        float m = -INFINITY;
        for (int64_t j = 0; j < K; j++) m = r[j] > m ? r[j] : m;
        double s = 0;
        for (int64_t j = 0; j < K; j++) s += exp((double)r[j] - m);
        lp[i] = (float)(m + log(s));
    }
    double total = 0; /* summed in row order: the same bits at any thread count */
    for (int64_t i = 0; i < N; i++) total += (double)lp[i] - x[i * K + tp[i]];
    en_tensor *out = en_tensor_scalar(N ? (float)(total / N) : 0.0f);
    en_node *n = en_tape_record(EN_OP_CROSS_ENTROPY, out, 1, &xc);
    if (n) {
        n->saved[0] = lse;
        n->saved[1] = tc;
    } else {
        en_tensor_release(lse);
        en_tensor_release(tc);
    }
    en_tensor_release(xc);
    return out;
}

void en_cross_entropy_backward(en_node *n, const float *g) {
    int acc;
    float *gx = en_node_grad(n, 0, &acc);
    if (!gx) return;
    const en_tensor *xt = n->in[0];
    int64_t N = xt->shape[0], K = xt->shape[1];
    const float *x = en_tensor_f32(xt), *lp = en_tensor_f32(n->saved[0]);
    const int64_t *tp = en_tensor_i64(n->saved[1]);
    float s = g[0] / (float)(N ? N : 1);
#pragma omp parallel for if (N * K > 65536)
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < K; j++) {
            float v = (expf(x[i * K + j] - lp[i]) - (j == tp[i] ? 1.0f : 0.0f)) * s;
            gx[i * K + j] = acc ? gx[i * K + j] + v : v;
        }
}

static en_tensor *pair_loss(en_op op, const char *name, en_tensor *a, en_tensor *b) {
    if (!en_tensor_same_shape(a, b)) {
        char x[128], y[128];
        return en_error("%s: shapes %s and %s differ", name, en_tensor_shape_str(a, x, sizeof x),
                        en_tensor_shape_str(b, y, sizeof y)), NULL;
    }
    en_tensor *ac = en_contiguous(a), *bc = en_contiguous(b);
    int64_t n = en_tensor_numel(ac);
    const float *x = en_tensor_f32(ac), *t = en_tensor_f32(bc);
    /* fixed blocks summed in order: the same bits at any thread count
     * (an OpenMP reduction combines partial sums in arrival order) */
    enum { BLK = 4096 };
    int64_t nb = (n + BLK - 1) / BLK;
    double *part = malloc((size_t)(nb ? nb : 1) * sizeof(double));
    EN_ASSERT(part != NULL);
#pragma omp parallel for if (n > 65536)
    for (int64_t b = 0; b < nb; b++) {
        double s = 0;
        for (int64_t i = b * BLK; i < n && i < (b + 1) * BLK; i++) {
            if (op == EN_OP_MSE) s += (double)(x[i] - t[i]) * (x[i] - t[i]);
            else s += fmax(x[i], 0.0) - (double)x[i] * t[i] + log1p(exp(-fabs((double)x[i])));
        }
        part[b] = s;
    }
    double s = 0;
    for (int64_t b = 0; b < nb; b++) s += part[b];
    free(part);
    en_tensor *out = en_tensor_scalar(n ? (float)(s / n) : 0.0f);
    en_tensor *in[2] = {ac, bc};
    en_tape_record(op, out, 2, in);
    en_tensor_release(ac);
    en_tensor_release(bc);
    return out;
}

static void pair_backward(en_node *n, const float *g) {
    const float *x = en_tensor_f32(n->in[0]), *t = en_tensor_f32(n->in[1]);
    int64_t N = en_tensor_numel(n->in[0]);
    float s = g[0] / (float)(N ? N : 1);
    for (int k = 0; k < 2; k++) {
        int acc;
        float *gx = en_node_grad(n, k, &acc);
        if (!gx) continue;
#pragma omp parallel for if (N > 65536)
        for (int64_t i = 0; i < N; i++) {
            float v;
            if (n->op == EN_OP_MSE) v = 2.0f * (x[i] - t[i]) * s * (k ? -1.0f : 1.0f);
            else v = k ? -x[i] * s : (1.0f / (1.0f + expf(-x[i])) - t[i]) * s;
            gx[i] = acc ? gx[i] + v : v;
        }
    }
}

void en_mse_backward(en_node *n, const float *g) { pair_backward(n, g); }
void en_bce_logits_backward(en_node *n, const float *g) { pair_backward(n, g); }

en_tensor *en_mse(en_tensor *pred, en_tensor *target) { return pair_loss(EN_OP_MSE, "mse", pred, target); }
en_tensor *en_bce_with_logits(en_tensor *logits, en_tensor *targets) {
    return pair_loss(EN_OP_BCE_LOGITS, "bce_with_logits", logits, targets);
}
