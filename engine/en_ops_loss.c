/* Losses: cross-entropy over class logits, MSE, BCE with logits; each a
 * forward that records its node and a backward beside it. Reductions are
 * means, as in PyTorch's defaults. Gradient rule: en_ops.h. */
#include <math.h>
#include <string.h>

#include "en_error.h"
#include "en_opdef.h"

en_tensor *en_cross_entropy(en_tensor *logits, const en_tensor *targets) {
    if (logits->ndim != 2 || targets->dtype != EN_I64 || en_tensor_numel(targets) != logits->shape[0]) {
        char a[128], b[128];
        return en_error("cross_entropy: logits %s (want (N, K)) and int64 targets %s (want (N))",
                        en_tensor_shape_str(logits, a, sizeof a), en_tensor_shape_str(targets, b, sizeof b)), NULL;
    }
    int64_t N = logits->shape[0], K = logits->shape[1];
    en_device dev = en_tensor_device(logits);
    if (dev != EN_CPU) {
        en_tensor *ht = en_device_host((en_tensor *)targets); /* checked on the host */
        if (en_device_lacks(dev, KN_K_XENT)) {
            en_device_grad_guard(EN_OP_CROSS_ENTROPY, 1, &logits);
            en_tensor *hx = en_device_host(logits), *r = en_cross_entropy(hx, ht);
            en_tensor_release(hx);
            en_tensor_release(ht);
            return en_device_back(r, dev);
        }
        const int64_t *hp = en_tensor_i64(ht);
        for (int64_t i = 0; i < N; i++)
            if (hp[i] < 0 || hp[i] >= K) {
                en_tensor_release(ht);
                return en_error("cross_entropy: target %lld out of range [0, %lld)", (long long)hp[i], (long long)K), NULL;
            }
        en_tensor *xc = en_contiguous(logits), *dt = en_device_dense(ht, dev);
        en_tensor *lse = en_device_empty(dev, EN_F32, EN_DIMS(N));
        en_tensor *out = en_device_empty(dev, EN_F32, 0, NULL);
        en_backend_of(xc)->xent_fwd(en_dev_f32(out), en_dev_f32(lse), en_dev_f32(xc), en_dev_i64(dt), N, K);
        en_node *n = en_tape_record(EN_OP_CROSS_ENTROPY, out, 1, &xc);
        if (n) { /* the backward's kernel reads both on the device */
            n->saved[0] = en_tensor_retain(lse);
            n->saved[1] = en_tensor_retain(dt);
        }
        en_tensor *rel[4] = {xc, dt, lse, ht};
        for (int i = 0; i < 4; i++) en_tensor_release(rel[i]);
        return out;
    }
    en_tensor *tc = en_tensor_is_contiguous(targets) ? en_tensor_retain((en_tensor *)targets) : en_tensor_clone(targets);
    const int64_t *tp = en_tensor_i64(tc);
    for (int64_t i = 0; i < N; i++)
        if (tp[i] < 0 || tp[i] >= K) {
            en_tensor_release(tc);
            return en_error("cross_entropy: target %lld out of range [0, %lld)", (long long)tp[i], (long long)K), NULL;
        }
    en_tensor *xc = en_contiguous(logits);
    en_tensor *lse = en_tensor_empty(EN_DIMS(N));
    en_tensor *out = en_tensor_scalar(0.0f);
    kn_backend_get(EN_CPU)->xent_fwd(en_tensor_f32(out), en_tensor_f32(lse), en_tensor_f32(xc), tp, N, K);
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
    if (en_tensor_device(xt) != EN_CPU) { /* the CPU's arithmetic in the device's kernel */
        en_backend_of(xt)->xent_bwd(gx, g, en_dev_f32(xt), en_dev_f32(n->saved[0]),
                                    en_dev_i64(n->saved[1]), N, K, acc);
        return;
    }
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
    en_tensor *ab[2] = {a, b};
    en_device dev = en_device_of(2, ab);
    if (dev != EN_CPU) { /* the device's kernel, else the CPU's loop on host copies (counted) */
        if (en_device_lacks(dev, KN_K_PAIR_LOSS)) {
            en_device_grad_guard(op, 2, ab);
            en_tensor *ha = en_device_host(a), *hb = en_device_host(b), *r = pair_loss(op, name, ha, hb);
            en_tensor_release(ha);
            en_tensor_release(hb);
            return en_device_back(r, dev);
        }
        en_tensor *da = en_device_operand(op, a, dev), *db = en_device_operand(op, b, dev);
        en_tensor *ac = en_contiguous(da), *bc = en_contiguous(db);
        en_tensor *out = en_device_empty(dev, EN_F32, 0, NULL);
        en_backend_of(ac)->pair_loss_fwd(en_dev_f32(out), en_dev_f32(ac), en_dev_f32(bc), en_tensor_numel(ac),
                                         op == EN_OP_BCE_LOGITS);
        en_tensor *in[2] = {ac, bc};
        en_tape_record(op, out, 2, in);
        en_tensor *rel[4] = {da, db, ac, bc};
        for (int i = 0; i < 4; i++) en_tensor_release(rel[i]);
        return out;
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
    if (en_tensor_device(n->out) != EN_CPU) { /* the CPU's arithmetic in the device's kernel */
        int64_t N = en_tensor_numel(n->in[0]);
        for (int k = 0; k < 2; k++) {
            int acc;
            float *gx = en_node_grad(n, k, &acc);
            if (gx)
                en_backend_of(n->out)->pair_loss_bwd(gx, g, en_dev_f32(n->in[0]), en_dev_f32(n->in[1]), N,
                                                     n->op == EN_OP_BCE_LOGITS, k, acc);
        }
        return;
    }
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
