/* Linear algebra on the back end's GEMM: matmul (2-D and batched), linear,
 * attention on packed q/k/v. Gradient rule: en_ops.h. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "en_bf16.h"
#include "en_error.h"
#include "en_opdef.h"

/* How the 2-D view t (last two dims) reaches GEMM: the logical matrix is
 * `stored` (trans = 0) or `stored^T` (trans = 1), stored row-major with
 * leading dim ld. 0 when the strides fit neither (then copy). */
static int mat_layout(const en_tensor *t, int *trans, int *ld) {
    int nd = t->ndim;
    int64_t R = t->shape[nd - 2], C = t->shape[nd - 1], s0 = t->stride[nd - 2], s1 = t->stride[nd - 1];
    if ((s1 == 1 || C <= 1) && (R <= 1 || s0 >= C)) {
        *trans = 0;
        *ld = (int)(R <= 1 ? (C > 1 ? C : 1) : s0);
        return 1;
    }
    if ((s0 == 1 || R <= 1) && (C <= 1 || s1 >= R)) {
        *trans = 1;
        *ld = (int)(C <= 1 ? (R > 1 ? R : 1) : s1);
        return 1;
    }
    return 0;
}

static en_tensor *as_matrix(en_tensor *t, int *trans, int *ld) {
    if (t->ndim == 2 && mat_layout(t, trans, ld)) return en_tensor_retain(t);
    en_tensor *c = en_contiguous(t);
    *trans = 0;
    *ld = (int)c->shape[c->ndim - 1];
    if (*ld < 1) *ld = 1;
    return c;
}

static int shape_err(const char *op, const en_tensor *a, const en_tensor *b) {
    char x[128], y[128];
    return en_error("%s: shapes %s and %s do not match", op, en_tensor_shape_str(a, x, sizeof x),
                    en_tensor_shape_str(b, y, sizeof y));
}

/* K == 0: the product is zero (on whichever device out is). */
static void zero_out(en_tensor *out) {
    if (en_tensor_device(out) == EN_CPU) en_tensor_fill_(out, 0);
    else en_backend_of(out)->memzero(en_dev_f32(out), (size_t)en_tensor_numel(out) * sizeof(float));
}

static en_tensor *matmul_on(en_tensor *a, en_tensor *b, en_device dev);

en_tensor *en_matmul(en_tensor *a, en_tensor *b) {
    if (a->ndim < 2 || b->ndim < 2) return shape_err("matmul", a, b), NULL;
    int64_t K = a->shape[a->ndim - 1];
    if (b->shape[b->ndim - 2] != K) return shape_err("matmul", a, b), NULL;
    en_tensor *ab[2] = {a, b};
    en_device dev = en_device_of(2, ab);
    if (dev == EN_CPU) return matmul_on(a, b, EN_CPU);
    if (en_device_lacks(dev, b->ndim == 2 ? KN_K_GEMM : KN_K_GEMM_BATCHED)) {
        en_device_grad_guard(EN_OP_MATMUL, 2, ab);
        en_tensor *ha = en_device_host(a), *hb = en_device_host(b), *r = en_matmul(ha, hb);
        en_tensor_release(ha);
        en_tensor_release(hb);
        return en_device_back(r, dev);
    }
    /* both on the device, strides kept: transposed views reach GEMM as transposes */
    en_tensor *da = en_device_operand(EN_OP_MATMUL, a, dev), *db = en_device_operand(EN_OP_MATMUL, b, dev);
    en_tensor *r = matmul_on(da, db, dev);
    en_tensor_release(da);
    en_tensor_release(db);
    return r;
}

/* a, b on dev (checked shapes but for the batch dims) */
static en_tensor *matmul_on(en_tensor *a, en_tensor *b, en_device dev) {
    int64_t M = a->shape[a->ndim - 2], K = a->shape[a->ndim - 1], N = b->shape[b->ndim - 1];
    const kn_backend *be = en_backend_of(a);
    int ta, tb, lda, ldb;
    int64_t oshape[EN_MAX_DIMS];
    int ond;
    en_tensor *aa, *bb, *out;
    if (b->ndim == 2) {
        bb = as_matrix(b, &tb, &ldb);
        aa = as_matrix(a, &ta, &lda);
        int64_t Mf = en_tensor_numel(aa) / (K ? K : 1);
        ond = a->ndim;
        memcpy(oshape, a->shape, sizeof(int64_t) * ond);
        oshape[ond - 1] = N;
        out = en_device_empty(dev, EN_F32, ond, oshape);
        if (K == 0) zero_out(out);
        else be->gemm(ta, tb, (int)Mf, (int)N, (int)K, 1.0f, en_dev_f32(aa), lda,
                      en_dev_f32(bb), ldb, 0.0f, en_dev_f32(out), (int)N);
    } else {
        if (a->ndim != 2 && a->ndim != b->ndim) return shape_err("matmul", a, b), NULL;
        for (int i = 0; a->ndim != 2 && i < a->ndim - 2; i++)
            if (a->shape[i] != b->shape[i]) return shape_err("matmul", a, b), NULL;
        aa = as_matrix(a, &ta, &lda);
        bb = en_contiguous(b);
        tb = 0;
        ldb = (int)(N ? N : 1);
        ond = b->ndim;
        memcpy(oshape, b->shape, sizeof(int64_t) * ond);
        oshape[ond - 2] = M;
        out = en_device_empty(dev, EN_F32, ond, oshape);
        int64_t batch = en_tensor_numel(bb) / ((K * N) != 0 ? K * N : 1);
        if (K == 0) zero_out(out);
        else be->gemm_batched(ta, 0, (int)M, (int)N, (int)K, 1.0f, en_dev_f32(aa), lda,
                              aa->ndim == 2 ? 0 : M * K, en_dev_f32(bb), ldb, K * N, 0.0f,
                              en_dev_f32(out), (int)N, M * N, (int)batch);
    }
    en_tensor *in[2] = {aa, bb};
    en_tape_record(EN_OP_MATMUL, out, 2, in);
    en_tensor_release(aa);
    en_tensor_release(bb);
    return out;
}

void en_matmul_backward(en_node *n, const float *g) {
    en_tensor *a = n->in[0], *b = n->in[1];
    const kn_backend *be = en_backend_of(n->out);
    int ta, tb, lda, ldb, acca, accb;
    int64_t K = a->shape[a->ndim - 1], N = b->shape[b->ndim - 1], M = a->shape[a->ndim - 2];
    if (a->ndim == 2) mat_layout(a, &ta, &lda);
    else ta = 0, lda = (int)K;
    if (b->ndim == 2) mat_layout(b, &tb, &ldb);
    else tb = 0, ldb = (int)N;
    float *ga = en_node_grad(n, 0, &acca), *gb = en_node_grad(n, 1, &accb);
    if (K == 0 || N == 0) return;
    if (b->ndim == 2) {
        int64_t Mf = en_tensor_numel(a) / K;
        if (ga) be->gemm(0, !tb, (int)Mf, (int)K, (int)N, 1.0f, g, (int)N, en_dev_f32(b), ldb,
                         (float)acca, ga, (int)K);
        if (gb) be->gemm(!ta, 0, (int)K, (int)N, (int)Mf, 1.0f, en_dev_f32(a), lda, g, (int)N,
                         (float)accb, gb, (int)N);
        return;
    }
    int64_t batch = en_tensor_numel(b) / (K * N), sa = a->ndim == 2 ? 0 : M * K;
    if (ga) be->gemm_batched(0, 1, (int)M, (int)K, (int)N, 1.0f, g, (int)N, M * N,
                             en_dev_f32(b), ldb, K * N, (float)acca, ga, (int)K, sa, (int)batch);
    if (gb) be->gemm_batched(!ta, 0, (int)K, (int)N, (int)M, 1.0f, en_dev_f32(a), lda, sa, g,
                             (int)N, M * N, (float)accb, gb, (int)N, K * N, (int)batch);
}

/* ---- linear --------------------------------------------------------------- */
/* out (M,N) = x (M,K) wᵀ + b on a device: the bias rows come from a GEMM
 * of a column of ones by b (K = 1), the product adds on top (beta = 1).
 * Without a device GEMM: the CPU's on host copies, counted. */
static en_tensor *linear_device(en_tensor *x, en_tensor *w, en_tensor *b, en_device dev, int64_t K,
                                int64_t N) {
    const kn_backend *be = kn_backend_get(dev);
    if (!be->supports(KN_K_GEMM)) {
        en_tensor *xwb[3] = {x, w, b};
        en_device_grad_guard(EN_OP_LINEAR, 3, xwb);
        kn_fallback_note(KN_K_GEMM);
        en_tensor *hx = en_device_host(x), *hw = en_device_host(w), *hb = b ? en_device_host(b) : NULL;
        en_tensor *r = en_linear(hx, hw, hb);
        en_tensor_release(hx);
        en_tensor_release(hw);
        en_tensor_release(hb);
        en_tensor *d = r ? en_tensor_to(r, dev) : NULL;
        en_tensor_release(r);
        return d;
    }
    en_tensor *xd = en_device_operand(EN_OP_LINEAR, x, dev), *wd = en_device_operand(EN_OP_LINEAR, w, dev),
              *bd = en_device_operand(EN_OP_LINEAR, b, dev);
    en_tensor *xc = en_contiguous(xd), *wc = en_contiguous(wd), *bc = bd ? en_contiguous(bd) : NULL;
    int64_t M = K ? en_tensor_numel(xc) / K : 0;
    int64_t oshape[EN_MAX_DIMS];
    memcpy(oshape, x->shape, sizeof(int64_t) * x->ndim);
    oshape[x->ndim - 1] = N;
    en_tensor *out = en_tensor_new_on(dev, EN_F32, x->ndim, oshape);
    EN_ASSERT(out != NULL); /* out of device memory: en_error_msg() says how much */
    float *o = en_tensor_data(out);
    if (bc && be->supports(KN_K_COPY_ND)) {
        /* start from the bias in every row (a broadcast copy), GEMM adds on top */
        int64_t shape[2] = {M, N}, ds[2] = {N, 1}, ss[2] = {0, 1};
        be->copy_nd(o, ds, en_tensor_data(bc), ss, 2, shape, 0);
    } else if (bc) {
        /* a rank-1 product of ones and the bias: a host vector sent each call
         * and a K = 1 GEMM that cuBLAS runs on its slow unaligned path */
        en_tensor *ones = en_tensor_ones(EN_DIMS(M)), *od = en_tensor_to(ones, dev);
        EN_ASSERT(od != NULL);
        be->gemm(0, 0, (int)M, (int)N, 1, 1.0f, en_tensor_data(od), 1, en_tensor_data(bc), (int)N, 0.0f, o,
                 (int)N);
        en_tensor_release(ones);
        en_tensor_release(od);
    }
    if (K > 0)
        be->gemm(0, 1, (int)M, (int)N, (int)K, 1.0f, en_tensor_data(xc), (int)K, en_tensor_data(wc), (int)K,
                 bc ? 1.0f : 0.0f, o, (int)N);
    else if (!bc)
        be->memzero(o, (size_t)M * N * sizeof(float));
    en_tensor *in[3] = {xc, wc, bc};
    en_tape_record(EN_OP_LINEAR, out, 3, in);
    en_tensor *rel[6] = {xd, wd, bd, xc, wc, bc};
    for (int i = 0; i < 6; i++) en_tensor_release(rel[i]);
    return out;
}

en_tensor *en_linear(en_tensor *x, en_tensor *w, en_tensor *b) {
    if (x->ndim < 1 || w->ndim != 2 || x->shape[x->ndim - 1] != w->shape[1] ||
        (b && en_tensor_numel(b) != w->shape[0]))
        return shape_err("linear", x, w), NULL;
    int64_t K = w->shape[1], N = w->shape[0];
    en_tensor *xwb[3] = {x, w, b};
    en_device dev = en_device_of(3, xwb);
    if (dev != EN_CPU) return linear_device(x, w, b, dev, K, N);
    en_tensor *xc = en_contiguous(x);
    int64_t M = K ? en_tensor_numel(xc) / K : 0;
    int tw, ldw;
    en_tensor *wc = as_matrix(w, &tw, &ldw), *bc = b ? en_contiguous(b) : NULL;
    int64_t oshape[EN_MAX_DIMS];
    memcpy(oshape, x->shape, sizeof(int64_t) * x->ndim);
    oshape[x->ndim - 1] = N;
    en_tensor *out = en_tensor_empty(x->ndim, oshape);
    float *o = en_tensor_f32(out);
    if (bc) { /* start from the bias rows, GEMM adds on top (beta = 1) */
        const float *bp = en_tensor_f32(bc);
#pragma omp parallel for if (M * N > 65536)
        for (int64_t i = 0; i < M; i++) memcpy(o + i * N, bp, (size_t)N * sizeof(float));
    }
    /* inside a BF16 inference scope (en_bf16.h) a parameter weight runs bf16 */
    const uint16_t *wbf = K > 0 && !tw && !en_grad_enabled() && en_backend_of(xc) == kn_cpu_backend()
                              ? en_bf16_weight(en_tensor_f32(wc), ldw, (int)N, (int)K) : NULL;
    if (wbf)
        en_bf16_linear((int)M, (int)N, (int)K, en_tensor_f32(xc), wbf, bc ? 1.0f : 0.0f, o);
    else if (K > 0)
        en_backend_of(xc)->gemm(0, !tw, (int)M, (int)N, (int)K, 1.0f, en_tensor_f32(xc), (int)K,
                                en_tensor_f32(wc), ldw, bc ? 1.0f : 0.0f, o, (int)N);
    else if (!bc)
        en_tensor_fill_(out, 0);
    en_tensor *in[3] = {xc, wc, bc};
    en_tape_record(EN_OP_LINEAR, out, 3, in);
    en_tensor_release(xc);
    en_tensor_release(wc);
    en_tensor_release(bc);
    return out;
}

/* gb (N) = or += the column sums of g (M, N): the bias gradient. Rows are
 * summed in fixed blocks, then the block sums in block order, so the bits
 * do not depend on the thread count. (A GEMM with a row of ones did this
 * before at 2-7 GFLOP/s: M = 1 starves the micro-kernel; engine/NOTES.md.) */
static void col_sums(float *gb, const float *g, int64_t M, int64_t N, int acc) {
    enum { ROWS = 256 };
    int64_t nb = (M + ROWS - 1) / ROWS;
    if (!acc) memset(gb, 0, (size_t)N * sizeof(float));
    if (nb == 0 || N == 0) return;
    float *part = malloc((size_t)nb * (size_t)N * sizeof *part);
    EN_ASSERT(part != NULL);
#pragma omp parallel for schedule(static) if (M * N > 65536)
    for (int64_t b = 0; b < nb; b++) {
        float *p = part + b * N;
        int64_t r0 = b * ROWS, r1 = r0 + ROWS < M ? r0 + ROWS : M;
        memcpy(p, g + r0 * N, (size_t)N * sizeof(float));
        for (int64_t r = r0 + 1; r < r1; r++) {
            const float *gr = g + r * N;
#pragma omp simd
            for (int64_t j = 0; j < N; j++) p[j] += gr[j];
        }
    }
    for (int64_t b = 0; b < nb; b++)
        for (int64_t j = 0; j < N; j++) gb[j] += part[b * N + j];
    free(part);
}

/* col_sums on a device: the same blocks (each from its first row, in
 * order: reduce_sum from 0.0f gives those bits), then the block sums in
 * block order added into gb (reduce_sum's acc = 2) or from 0. */
static void col_sums_dev(en_device dev, float *gb, const float *g, int64_t M, int64_t N, int acc) {
    enum { ROWS = 256 };
    const kn_backend *be = kn_backend_get(dev);
    int64_t nb = (M + ROWS - 1) / ROWS, full = M / ROWS;
    if (N == 0) return;
    if (nb == 0) {
        if (!acc) en_dev_memzero(dev, gb, (size_t)N * sizeof(float));
        return;
    }
    en_tensor *part = en_device_empty(dev, EN_F32, EN_DIMS(nb * N));
    float *p = en_dev_f32(part);
    if (full) be->reduce_sum(p, g, full, ROWS, N, 1.0f, 0);
    if (full < nb) be->reduce_sum(p + full * N, g + full * ROWS * N, 1, M - full * ROWS, N, 1.0f, 0);
    be->reduce_sum(gb, p, 1, nb, N, 1.0f, acc ? 2 : 0);
    en_tensor_release(part);
}

/* gw (N,K) = or += g^T x, g (M,N), x (M,K): the weight gradient. In a
 * training step M is batch x tokens (16640) and the output small (128 x
 * 512): tiled over the output alone, the GEMM has 3 tiles for 2 threads and
 * every tile packs all of g. So on the CPU the rows are cut into fixed
 * blocks, one serial GEMM per block into its own partial (threads take
 * blocks), and the partials are added in block order: the same bits at any
 * thread count (engine/NOTES.md, "training step"). */
static void weight_grad(const kn_backend *be, float *gw, const float *g, const float *x, int64_t M,
                        int64_t N, int64_t K, int acc) {
    enum { ROWS = 1024, MAX_OUT = 512 * 512 };
    int64_t nb = (M + ROWS - 1) / ROWS, NK = N * K;
    /* A large output (ViT-B/32's 768 x 3072) already gives kn_sgemm many
     * tiles, and nb partials of it would be tens of MB: not worth it there. */
    if (nb < 2 || NK > MAX_OUT || (be->device == EN_CPU && omp_in_parallel())) {
        be->gemm(1, 0, (int)N, (int)K, (int)M, 1.0f, g, (int)N, x, (int)K, (float)acc, gw, (int)K);
        return;
    }
    if (be->device != EN_CPU) {
        /* a device keeps the CPU's blocks, so that a device running the CPU's
         * kernels gives its bits: a GEMM per block into its partial, then the
         * partials in block order (reduce_sum: from gw when adding, acc = 2) */
        en_tensor *pt = en_device_empty(be->device, EN_F32, EN_DIMS(nb * NK));
        float *part = en_dev_f32(pt);
        for (int64_t b = 0; b < nb; b++) {
            int64_t r0 = b * ROWS, rn = r0 + ROWS < M ? ROWS : M - r0;
            be->gemm(1, 0, (int)N, (int)K, (int)rn, 1.0f, g + r0 * N, (int)N, x + r0 * K, (int)K, 0.0f,
                     part + b * NK, (int)K);
        }
        be->reduce_sum(gw, part, 1, nb, NK, 1.0f, acc ? 2 : 0);
        en_tensor_release(pt);
        return;
    }
    float *part = malloc((size_t)nb * (size_t)NK * sizeof *part);
    EN_ASSERT(part != NULL);
#pragma omp parallel
    {
#pragma omp for schedule(dynamic, 1)
        for (int64_t b = 0; b < nb; b++) {
            int64_t r0 = b * ROWS, rn = r0 + ROWS < M ? ROWS : M - r0;
            be->gemm(1, 0, (int)N, (int)K, (int)rn, 1.0f, g + r0 * N, (int)N, x + r0 * K, (int)K, 0.0f,
                     part + b * NK, (int)K);
        }
        /* gw (+)= part_0 + part_1 + ..., in spans of 1024 that stay in L1 */
#pragma omp for schedule(static)
        for (int64_t c = 0; c < NK; c += 1024) {
            int64_t n = NK - c < 1024 ? NK - c : 1024, b = 0;
            float *d = gw + c;
            if (!acc) memcpy(d, part + c, (size_t)n * sizeof *d), b = 1;
            for (; b < nb; b++) {
                const float *p = part + b * NK + c;
#pragma omp simd
                for (int64_t i = 0; i < n; i++) d[i] += p[i];
            }
        }
    }
    free(part);
}

void en_linear_backward(en_node *n, const float *g) {
    en_tensor *x = n->in[0], *w = n->in[1];
    const kn_backend *be = en_backend_of(n->out);
    int64_t K = w->shape[1], N = w->shape[0], M = K ? en_tensor_numel(x) / K : 0;
    int tw, ldw, ax, aw, ab;
    mat_layout(w, &tw, &ldw);
    float *gx = en_node_grad(n, 0, &ax);
    float *gw = en_node_grad(n, 1, &aw);
    float *gb = n->in[2] ? en_node_grad(n, 2, &ab) : NULL;
    if (gx && K > 0) be->gemm(0, tw, (int)M, (int)K, (int)N, 1.0f, g, (int)N, en_dev_f32(w), ldw,
                              (float)ax, gx, (int)K);
    if (gw && K > 0) weight_grad(be, gw, g, en_dev_f32(x), M, N, K, aw);
    if (gb && be->device != EN_CPU) col_sums_dev((en_device)be->device, gb, g, M, N, ab);
    else if (gb) col_sums(gb, g, M, N, ab);
}

/* ---- attention ------------------------------------------------------------ */
en_tensor *en_attention(en_tensor *qkv, int nhead, int causal) {
    if (qkv->ndim != 3 || qkv->shape[2] % 3 || nhead < 1 || (qkv->shape[2] / 3) % nhead) {
        char s[128];
        return en_error("attention: qkv of shape %s with %d heads (want (B, T, 3C), C divisible by heads)",
                        en_tensor_shape_str(qkv, s, sizeof s), nhead), NULL;
    }
    int64_t B = qkv->shape[0], T = qkv->shape[1], C = qkv->shape[2] / 3;
    en_device dev = en_tensor_device(qkv);
    if (dev != EN_CPU) {
        if (en_device_lacks(dev, KN_K_ATTENTION)) {
            en_device_grad_guard(EN_OP_ATTENTION, 1, &qkv);
            en_tensor *h = en_device_host(qkv), *r = en_attention(h, nhead, causal);
            en_tensor_release(h);
            return en_device_back(r, dev);
        }
    }
    en_tensor *qc = en_contiguous(qkv);
    en_tensor *out = en_device_empty(dev, EN_F32, EN_DIMS(B, T, C));
    en_tensor *att = en_device_empty(dev, EN_F32, EN_DIMS(B, nhead, T, T));
    en_backend_of(qc)->attention_fwd(en_dev_f32(out), en_dev_f32(att), en_dev_f32(qc),
                                     (int)B, (int)T, (int)C, nhead, causal);
    en_node *n = en_tape_record(EN_OP_ATTENTION, out, 1, &qc);
    if (n) {
        n->saved[0] = att;
        n->iarg[0] = nhead;
        n->iarg[1] = causal;
    } else {
        en_tensor_release(att);
    }
    en_tensor_release(qc);
    return out;
}

void en_attention_backward(en_node *n, const float *g) {
    int acc;
    float *gq = en_node_grad(n, 0, &acc);
    if (!gq) return;
    const en_tensor *q = n->in[0];
    en_backend_of(q)->attention_bwd(gq, g, en_dev_f32(q), en_dev_f32(n->saved[0]),
                                    (int)q->shape[0], (int)q->shape[1], (int)(q->shape[2] / 3),
                                    (int)n->iarg[0], acc);
}

en_tensor *en_mha(en_tensor *x, en_tensor *in_w, en_tensor *in_b, en_tensor *out_w,
                  en_tensor *out_b, int nhead, int causal) {
    if (x->ndim != 3) return en_error("mha: x must be (B, T, C)"), NULL;
    en_tensor *qkv = en_linear(x, in_w, in_b);
    if (!qkv) return NULL;
    en_tensor *h = en_attention(qkv, nhead, causal);
    en_tensor_release(qkv);
    if (!h) return NULL;
    en_tensor *y = en_linear(h, out_w, out_b);
    en_tensor_release(h);
    return y;
}
