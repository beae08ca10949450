/* CUDA back end against the CPU back end, kernel by kernel, forward and
 * backward, on fresh random inputs at CLIP's shapes (T = 50 and 77, widths
 * 768 and 512, RN50's convolutions) and at odd small ones. Each check prints
 * the worst relative difference; the tolerances and where they come from
 * are in cu_util.h. Without a device every test prints
 * "skip: no CUDA device" and is skipped (tests/gpu/check.sh runs them on a
 * GPU machine, once per precision: CLIPBOOK_PRECISION=fp32|tf32|bf16). */
#include <math.h>

#include "cu_util.h"
#include "en_rng.h"

static const kn_backend *cpu(void) { return kn_cpu_backend(); }

/* ---- GEMM --------------------------------------------------------------------- */
static void gemm_case(int ta, int tb, int M, int N, int K, int pad, float beta, en_rng *r) {
    const kn_backend *g = cu_backend();
    int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
    float *A = kt_rand(r, na), *B = kt_rand(r, nb), *C = kt_rand(r, nc), *Cr = cu_dup(C, nc);
    float *dA = cu_up(g, A, na), *dB = cu_up(g, B, nb), *dC = cu_up(g, C, nc);
    float *aA = cu_abs(A, na), *aB = cu_abs(B, nb), *S = cu_abs(C, nc);
    cpu()->gemm(ta, tb, M, N, K, 0.5f, A, lda, B, ldb, beta, Cr, ldc);
    cpu()->gemm(ta, tb, M, N, K, 0.5f, aA, lda, aB, ldb, fabsf(beta), S, ldc);
    g->gemm(ta, tb, M, N, K, 0.5f, dA, lda, dB, ldb, beta, dC, ldc);
    char what[96];
    snprintf(what, sizeof what, "gemm %c%c M%d N%d K%d ld+%d beta %g", ta ? 'T' : 'N',
             tb ? 'T' : 'N', M, N, K, pad, beta);
    cu_check_dot(g, what, dC, Cr, S, nc, cu_tol_dot(K));
    g->free(dA); g->free(dB); g->free(dC);
    free(A); free(B); free(C); free(Cr); free(aA); free(aB); free(S);
}

Test(cuda_gemm, shapes) {
    en_rng r = cu_rng(1);
    gemm_case(0, 0, 200, 768, 768, 0, 0.0f, &r);   /* ViT-B/32 width, 4 x 50 tokens */
    gemm_case(0, 1, 154, 2048, 512, 0, 0.0f, &r);  /* text MLP, 2 x 77 tokens */
    gemm_case(1, 0, 512, 300, 154, 0, 1.0f, &r);   /* a weight gradient (+=) */
    gemm_case(1, 1, 33, 17, 65, 3, 0.5f, &r);      /* odd sizes, padded rows */
    gemm_case(0, 0, 5, 7, 0, 1, 0.5f, &r);         /* K = 0: C = beta C (lda >= 1 for BLAS) */
}

static void batched_case(int ta, int tb, int M, int N, int K, int batch, int acc_one, en_rng *r) {
    const kn_backend *g = cu_backend();
    int lda = ta ? M : K, ldb = tb ? K : N, ldc = N;
    int64_t sa = (int64_t)M * K + 5, sb = (int64_t)K * N + 3, sc = acc_one ? 0 : (int64_t)M * N;
    size_t na = (size_t)sa * batch, nb = (size_t)sb * batch, nc = (size_t)(acc_one ? M * N : sc * batch);
    float *A = kt_rand(r, na), *B = kt_rand(r, nb), *C = kt_rand(r, nc), *Cr = cu_dup(C, nc);
    float *dA = cu_up(g, A, na), *dB = cu_up(g, B, nb), *dC = cu_up(g, C, nc);
    float *aA = cu_abs(A, na), *aB = cu_abs(B, nb), *S = cu_abs(C, nc);
    cpu()->gemm_batched(ta, tb, M, N, K, 1.0f, A, lda, sa, B, ldb, sb, 1.0f, Cr, ldc, sc, batch);
    cpu()->gemm_batched(ta, tb, M, N, K, 1.0f, aA, lda, sa, aB, ldb, sb, 1.0f, S, ldc, sc, batch);
    g->gemm_batched(ta, tb, M, N, K, 1.0f, dA, lda, sa, dB, ldb, sb, 1.0f, dC, ldc, sc, batch);
    char what[96];
    snprintf(what, sizeof what, "gemm_batched %c%c M%d N%d K%d x%d%s", ta ? 'T' : 'N', tb ? 'T' : 'N',
             M, N, K, batch, acc_one ? " into one C" : "");
    /* summed into one C, the reduction is all the batch's K */
    cu_check_dot(g, what, dC, Cr, S, nc, cu_tol_dot(acc_one ? (int64_t)K * batch : K));
    g->free(dA); g->free(dB); g->free(dC);
    free(A); free(B); free(C); free(Cr); free(aA); free(aB); free(S);
}

Test(cuda_gemm, batched) {
    en_rng r = cu_rng(2);
    batched_case(0, 1, 77, 77, 64, 8, 0, &r);  /* S = Q Kᵀ per head */
    batched_case(0, 0, 50, 64, 50, 12, 0, &r); /* O = P V */
    batched_case(1, 0, 64, 96, 49, 6, 1, &r);  /* a conv dw: products summed into one C */
}

/* ---- elementwise ----------------------------------------------------------------- */
Test(cuda_elem, unary) {
    const kn_backend *g = cu_backend();
    en_rng r = cu_rng(3);
    size_t n = 50 * 768 + 3;
    static const char *names[KN_UNARY_COUNT] = {"exp", "log", "sqrt", "abs", "clamp", "relu",
                                                "gelu_tanh", "gelu_erf", "quick_gelu", "sigmoid",
                                                "tanh", "pow", "add_scalar", "mul_scalar"};
    for (int f = 0; f < KN_UNARY_COUNT; f++) {
        float *x = kt_rand(&r, n), *dy = kt_rand(&r, n), *dx0 = kt_rand(&r, n);
        if (f == KN_U_LOG || f == KN_U_SQRT || f == KN_U_POW) /* the real domain */
            for (size_t i = 0; i < n; i++) x[i] = fabsf(x[i]) + 0.1f;
        float a = f == KN_U_CLAMP ? -0.5f : (f == KN_U_POW ? 1.7f : 0.3f), b = 0.75f;
        float *y = malloc(n * sizeof(float));
        cpu()->unary_fwd((kn_unary)f, y, x, (int64_t)n, a, b);
        float *dX = cu_up(g, x, n), *dY = cu_up(g, y, n), *dDY = cu_up(g, dy, n);
        char what[64];
        snprintf(what, sizeof what, "unary %s forward", names[f]);
        g->unary_fwd((kn_unary)f, dY, dX, (int64_t)n, a, b);
        cu_check(g, what, dY, y, n, cu_tol_plain());
        for (int acc = 0; acc < 2; acc++) {
            float *dx = cu_dup(dx0, n), *dDX = cu_up(g, dx0, n);
            /* both sides take the same y (the CPU's) so only the derivative differs */
            float *dYc = cu_up(g, y, n);
            cpu()->unary_bwd((kn_unary)f, dx, dy, x, y, (int64_t)n, a, b, acc);
            g->unary_bwd((kn_unary)f, dDX, dDY, dX, dYc, (int64_t)n, a, b, acc);
            snprintf(what, sizeof what, "unary %s backward%s", names[f], acc ? " (+=)" : "");
            cu_check(g, what, dDX, dx, n, cu_tol_plain());
            g->free(dDX); g->free(dYc);
            free(dx);
        }
        g->free(dX); g->free(dY); g->free(dDY);
        free(x); free(dy); free(dx0); free(y);
    }
}

static void softmax_case(int64_t rows, int64_t C, int logsm, int masked_row, en_rng *r) {
    const kn_backend *g = cu_backend();
    size_t n = (size_t)rows * C;
    float *x = kt_rand(r, n), *dy = kt_rand(r, n), *dx = kt_rand(r, n), *y = malloc(n * sizeof(float));
    if (masked_row) /* the first row of a causal mask: one finite entry */
        for (int64_t j = 0; j < C; j++) x[j] = j == C / 2 ? 0.5f : -INFINITY;
    float *dX = cu_up(g, x, n), *dY = cu_up(g, x, n), *dDY = cu_up(g, dy, n), *dDX = cu_up(g, dx, n);
    cpu()->softmax_fwd(y, x, rows, C, logsm);
    g->softmax_fwd(dY, dX, rows, C, logsm);
    char what[96];
    snprintf(what, sizeof what, "%s rows%lld C%lld%s forward", logsm ? "log_softmax" : "softmax",
             (long long)rows, (long long)C, masked_row ? " (a masked row)" : "");
    if (!(logsm && masked_row)) /* log-softmax keeps the -inf entries, which kt_worst cannot compare */
        cu_check(g, what, dY, y, n, cu_tol_plain());
    if (!masked_row) {
        g->copy(dY, y, n * sizeof(float), KN_COPY_H2D);
        cpu()->softmax_bwd(dx, dy, y, rows, C, logsm, 1);
        g->softmax_bwd(dDX, dDY, dY, rows, C, logsm, 1);
        snprintf(what, sizeof what, "%s rows%lld C%lld backward (+=)", logsm ? "log_softmax" : "softmax",
                 (long long)rows, (long long)C);
        cu_check(g, what, dDX, dx, n, cu_tol_plain());
    }
    g->free(dX); g->free(dY); g->free(dDY); g->free(dDX);
    free(x); free(dy); free(dx); free(y);
}

Test(cuda_elem, softmax) {
    en_rng r = cu_rng(4);
    for (int l = 0; l < 2; l++) {
        softmax_case(12 * 50, 50, l, 0, &r);
        softmax_case(8 * 77, 77, l, 0, &r);
        softmax_case(16, 1000, l, 0, &r); /* logits over classes */
        softmax_case(4, 33, l, 1, &r); /* a row masked but for one entry */
    }
}

/* ---- layer norm ---------------------------------------------------------------------- */
static void layernorm_case(int64_t N, int64_t C, int affine, en_rng *r) {
    const kn_backend *g = cu_backend();
    size_t n = (size_t)N * C;
    float *x = kt_rand(r, n), *w = affine ? kt_rand(r, C) : NULL, *b = affine ? kt_rand(r, C) : NULL;
    for (size_t i = 0; i < n; i++) x[i] = 2.0f * x[i] + 1.0f;
    float *y = malloc(n * sizeof(float)), *mean = malloc(N * sizeof(float)), *rstd = malloc(N * sizeof(float));
    cpu()->layernorm_fwd(y, mean, rstd, x, w, b, N, C, 1e-5f);
    float *dX = cu_up(g, x, n), *dW = affine ? cu_up(g, w, C) : NULL, *dB = affine ? cu_up(g, b, C) : NULL;
    float *dY = cu_up(g, y, n), *dM = cu_up(g, mean, N), *dR = cu_up(g, rstd, N);
    g->layernorm_fwd(dY, dM, dR, dX, dW, dB, N, C, 1e-5f);
    char what[96];
    snprintf(what, sizeof what, "layernorm N%lld C%lld%s forward", (long long)N, (long long)C,
             affine ? "" : " (no affine)");
    cu_check(g, what, dY, y, n, cu_tol_plain());
    cu_check(g, "  mean", dM, mean, N, cu_tol_plain());
    cu_check(g, "  rstd", dR, rstd, N, cu_tol_plain());
    /* backward from the CPU's saved statistics on both sides */
    g->copy(dM, mean, N * sizeof(float), KN_COPY_H2D);
    g->copy(dR, rstd, N * sizeof(float), KN_COPY_H2D);
    float *dy = kt_rand(r, n), *dx = kt_rand(r, n), *dw = kt_rand(r, C), *db = kt_rand(r, C);
    float *dDY = cu_up(g, dy, n), *dDX = cu_up(g, dx, n), *dDW = cu_up(g, dw, C), *dDB = cu_up(g, db, C);
    cpu()->layernorm_bwd(dx, dw, db, dy, x, w, mean, rstd, N, C, 1);
    g->layernorm_bwd(dDX, dDW, dDB, dDY, dX, dW, dM, dR, N, C, 1);
    cu_check(g, "  backward dx (+=)", dDX, dx, n, cu_tol_plain());
    cu_check(g, "  backward dw (+=)", dDW, dw, C, cu_tol_plain());
    cu_check(g, "  backward db (+=)", dDB, db, C, cu_tol_plain());
    g->free(dX); g->free(dW); g->free(dB); g->free(dY); g->free(dM); g->free(dR);
    g->free(dDY); g->free(dDX); g->free(dDW); g->free(dDB);
    free(x); free(w); free(b); free(y); free(mean); free(rstd); free(dy); free(dx); free(dw); free(db);
}

Test(cuda_norm, layernorm) {
    en_rng r = cu_rng(5);
    layernorm_case(4 * 50, 768, 1, &r);
    layernorm_case(2 * 77, 512, 1, &r);
    layernorm_case(300, 37, 0, &r); /* more rows than one dw chunk, odd width */
}

/* ---- attention ----------------------------------------------------------------------- */
static void attention_case(int B, int T, int C, int H, int causal, en_rng *r) {
    const kn_backend *g = cu_backend();
    size_t nq = (size_t)B * T * 3 * C, no = (size_t)B * T * C, na = (size_t)B * H * T * T;
    float *qkv = kt_rand(r, nq), *out = malloc(no * sizeof(float)), *att = malloc(na * sizeof(float));
    cpu()->attention_fwd(out, att, qkv, B, T, C, H, causal);
    float *dQ = cu_up(g, qkv, nq), *dO = cu_up(g, out, no), *dA = cu_up(g, att, na);
    g->attention_fwd(dO, dA, dQ, B, T, C, H, causal);
    char what[96];
    snprintf(what, sizeof what, "attention B%d T%d C%d H%d%s forward out", B, T, C, H,
             causal ? " causal" : "");
    /* S = QKᵀ is a GEMM on the plain path (T > 128), so its precision applies */
    double tol = T > 128 ? cu_tol_gemm(C / H) : cu_tol_plain();
    cu_check(g, what, dO, out, no, tol);
    cu_check(g, "  forward att", dA, att, na, tol);
    g->copy(dA, att, na * sizeof(float), KN_COPY_H2D);
    float *dout = kt_rand(r, no), *dqkv = kt_rand(r, nq);
    float *dDO = cu_up(g, dout, no), *dDQ = cu_up(g, dqkv, nq);
    cpu()->attention_bwd(dqkv, dout, qkv, att, B, T, C, H, 1);
    g->attention_bwd(dDQ, dDO, dQ, dA, B, T, C, H, 1);
    cu_check(g, "  backward dqkv (+=)", dDQ, dqkv, nq, cu_tol_gemm(T > C / H ? T : C / H));
    g->free(dQ); g->free(dO); g->free(dA); g->free(dDO); g->free(dDQ);
    free(qkv); free(out); free(att); free(dout); free(dqkv);
}

Test(cuda_attn, clip_shapes) {
    en_rng r = cu_rng(6);
    attention_case(2, 50, 768, 12, 0, &r); /* ViT-B/32 image tower */
    attention_case(2, 77, 512, 8, 1, &r);  /* the text tower, causal */
    attention_case(1, 200, 128, 2, 1, &r); /* the plain (unfused) path */
    attention_case(3, 5, 12, 3, 0, &r);
}

/* ---- convolutions -------------------------------------------------------------------- */
static int osz(int in, int k, int s, int p) { return (in + 2 * p - k) / s + 1; }

static void conv_case(int N, int C, int H, int W, int OC, int K, int S, int P, en_rng *r) {
    const kn_backend *g = cu_backend();
    int OH = osz(H, K, S, P), OW = osz(W, K, S, P);
    size_t nx = (size_t)N * C * H * W, nw = (size_t)OC * C * K * K, ny = (size_t)N * OC * OH * OW;
    float *x = kt_rand(r, nx), *w = kt_rand(r, nw), *b = kt_rand(r, OC), *y = malloc(ny * sizeof(float));
    size_t ns = cpu()->conv2d_scratch(N, C, H, W, OC, K, K, S, P);
    float *scr = malloc((ns ? ns : 1) * sizeof(float));
    cpu()->conv2d_fwd(y, scr, x, w, b, N, C, H, W, OC, K, K, S, P);
    /* the scales: the same convolutions over absolute values (cu_util.h) */
    float *ax = cu_abs(x, nx), *aw = cu_abs(w, nw), *ab = cu_abs(b, OC), *sy = malloc(ny * sizeof(float));
    cpu()->conv2d_fwd(sy, scr, ax, aw, ab, N, C, H, W, OC, K, K, S, P);
    size_t gs = g->conv2d_scratch(N, C, H, W, OC, K, K, S, P);
    float *dX = cu_up(g, x, nx), *dWt = cu_up(g, w, nw), *dB = cu_up(g, b, OC), *dY = g->alloc(ny * 4);
    float *dS = g->alloc((gs ? gs : 1) * sizeof(float));
    g->conv2d_fwd(dY, dS, dX, dWt, dB, N, C, H, W, OC, K, K, S, P);
    char what[112];
    snprintf(what, sizeof what, "conv2d N%d C%d %dx%d OC%d k%d s%d p%d forward", N, C, H, W, OC, K, S, P);
    cu_check_dot(g, what, dY, y, sy, ny, cu_tol_dot((int64_t)C * K * K));
    float *dy = kt_rand(r, ny), *dx = kt_rand(r, nx), *dw = kt_rand(r, nw), *db = kt_rand(r, OC);
    float *dDY = cu_up(g, dy, ny), *dDX = cu_up(g, dx, nx), *dDW = cu_up(g, dw, nw), *dDB = cu_up(g, db, OC);
    float *ady = cu_abs(dy, ny), *sx = cu_abs(dx, nx), *sw = cu_abs(dw, nw), *sb = cu_abs(db, OC);
    cpu()->conv2d_bwd(dx, dw, db, scr, dy, x, w, N, C, H, W, OC, K, K, S, P, 1);
    cpu()->conv2d_bwd(sx, sw, sb, scr, ady, ax, aw, N, C, H, W, OC, K, K, S, P, 1);
    g->conv2d_bwd(dDX, dDW, dDB, dS, dDY, dX, dWt, N, C, H, W, OC, K, K, S, P, 1);
    cu_check_dot(g, "  backward dinp (+=)", dDX, dx, sx, nx, cu_tol_dot((int64_t)OC * K * K));
    cu_check_dot(g, "  backward dw (+=)", dDW, dw, sw, nw, cu_tol_dot((int64_t)N * OH * OW));
    cu_check_dot(g, "  backward db (+=)", dDB, db, sb, OC, cu_tol_dot((int64_t)N * OH * OW));
    free(ax); free(aw); free(ab); free(sy); free(ady); free(sx); free(sw); free(sb);
    g->free(dX); g->free(dWt); g->free(dB); g->free(dY); g->free(dS);
    g->free(dDY); g->free(dDX); g->free(dDW); g->free(dDB);
    free(x); free(w); free(b); free(y); free(scr); free(dy); free(dx); free(dw); free(db);
}

Test(cuda_conv, rn50_shapes) {
    en_rng r = cu_rng(7);
    conv_case(1, 3, 224, 224, 32, 3, 2, 1, &r); /* RN50 stem conv1 */
    conv_case(2, 64, 56, 56, 64, 3, 1, 1, &r);  /* layer1 3x3 */
    conv_case(2, 256, 14, 14, 1024, 1, 1, 0, &r); /* a 1x1 expansion (no im2col) */
    conv_case(2, 512, 7, 7, 512, 3, 1, 1, &r);  /* layer4 3x3 */
    conv_case(3, 5, 9, 7, 6, 3, 2, 1, &r);      /* odd sizes, stride 2 */
    /* the other output path: a batched GEMM writing NCHW in place */
    kn_cuda_conv_out_mode("direct");
    printf("  -- output path: direct\n");
    conv_case(2, 64, 56, 56, 64, 3, 1, 1, &r);
    conv_case(2, 256, 14, 14, 1024, 1, 1, 0, &r);
    conv_case(3, 5, 9, 7, 6, 3, 2, 1, &r);
    kn_cuda_conv_out_mode("swap");
}

static void convt_case(int N, int C, int H, int W, int OC, int K, int S, int P, int OP, en_rng *r) {
    const kn_backend *g = cu_backend();
    int OH = (H - 1) * S - 2 * P + K + OP, OW = (W - 1) * S - 2 * P + K + OP;
    size_t nx = (size_t)N * C * H * W, nw = (size_t)C * OC * K * K, ny = (size_t)N * OC * OH * OW;
    float *x = kt_rand(r, nx), *w = kt_rand(r, nw), *b = kt_rand(r, OC), *y = malloc(ny * sizeof(float));
    size_t ns = cpu()->convt2d_scratch(N, C, H, W, OC, K, K, S, P, OP);
    float *scr = malloc((ns ? ns : 1) * sizeof(float));
    cpu()->convt2d_fwd(y, scr, x, w, b, N, C, H, W, OC, K, K, S, P, OP);
    float *ax = cu_abs(x, nx), *aw = cu_abs(w, nw), *ab = cu_abs(b, OC), *sy = malloc(ny * sizeof(float));
    cpu()->convt2d_fwd(sy, scr, ax, aw, ab, N, C, H, W, OC, K, K, S, P, OP);
    size_t gs = g->convt2d_scratch(N, C, H, W, OC, K, K, S, P, OP);
    float *dX = cu_up(g, x, nx), *dWt = cu_up(g, w, nw), *dB = cu_up(g, b, OC), *dY = g->alloc(ny * 4);
    float *dS = g->alloc((gs ? gs : 1) * sizeof(float));
    g->convt2d_fwd(dY, dS, dX, dWt, dB, N, C, H, W, OC, K, K, S, P, OP);
    char what[112];
    snprintf(what, sizeof what, "conv_transpose2d N%d C%d %dx%d OC%d k%d s%d p%d op%d forward", N, C,
             H, W, OC, K, S, P, OP);
    cu_check_dot(g, what, dY, y, sy, ny, cu_tol_dot((int64_t)C * K * K));
    float *dy = kt_rand(r, ny), *dx = kt_rand(r, nx), *dw = kt_rand(r, nw), *db = kt_rand(r, OC);
    float *dDY = cu_up(g, dy, ny), *dDX = cu_up(g, dx, nx), *dDW = cu_up(g, dw, nw), *dDB = cu_up(g, db, OC);
    float *ady = cu_abs(dy, ny), *sx = cu_abs(dx, nx), *sw = cu_abs(dw, nw), *sb = cu_abs(db, OC);
    cpu()->convt2d_bwd(dx, dw, db, scr, dy, x, w, N, C, H, W, OC, K, K, S, P, OP, 1);
    cpu()->convt2d_bwd(sx, sw, sb, scr, ady, ax, aw, N, C, H, W, OC, K, K, S, P, OP, 1);
    g->convt2d_bwd(dDX, dDW, dDB, dS, dDY, dX, dWt, N, C, H, W, OC, K, K, S, P, OP, 1);
    cu_check_dot(g, "  backward dinp (+=)", dDX, dx, sx, nx, cu_tol_dot((int64_t)OC * K * K));
    cu_check_dot(g, "  backward dw (+=)", dDW, dw, sw, nw, cu_tol_dot((int64_t)N * H * W));
    cu_check_dot(g, "  backward db (+=)", dDB, db, sb, OC,
                 cu_tol_dot((int64_t)N * ((H - 1) * S - 2 * P + K + OP) * ((W - 1) * S - 2 * P + K + OP)));
    free(ax); free(aw); free(ab); free(sy); free(ady); free(sx); free(sw); free(sb);
    g->free(dX); g->free(dWt); g->free(dB); g->free(dY); g->free(dS);
    g->free(dDY); g->free(dDX); g->free(dDW); g->free(dDB);
    free(x); free(w); free(b); free(y); free(scr); free(dy); free(dx); free(dw); free(db);
}

Test(cuda_conv, transpose) {
    en_rng r = cu_rng(8);
    convt_case(2, 64, 7, 7, 32, 4, 2, 1, 0, &r); /* a decoder's upsampling step */
    convt_case(3, 3, 5, 6, 2, 3, 2, 1, 1, &r);   /* output padding */
}

/* ---- pools, resampling, batch norm ---------------------------------------------------- */
static void maxpool_case(int N, int C, int H, int W, int K, int S, int P, en_rng *r) {
    const kn_backend *g = cu_backend();
    int OH = osz(H, K, S, P), OW = osz(W, K, S, P);
    size_t nx = (size_t)N * C * H * W, ny = (size_t)N * C * OH * OW;
    float *x = kt_rand(r, nx), *y = malloc(ny * 4), *dy = kt_rand(r, ny), *dx = kt_rand(r, nx);
    int32_t *idx = malloc(ny * 4);
    cpu()->maxpool2d_fwd(y, idx, x, N, C, H, W, K, K, S, P);
    float *dX = cu_up(g, x, nx), *dY = g->alloc(ny * 4), *dDY = cu_up(g, dy, ny), *dDX = cu_up(g, dx, nx);
    int32_t *dI = g->alloc(ny * 4);
    g->maxpool2d_fwd(dY, dI, dX, N, C, H, W, K, K, S, P);
    char what[96];
    snprintf(what, sizeof what, "maxpool N%d C%d %dx%d k%d s%d p%d forward", N, C, H, W, K, S, P);
    cu_check(g, what, dY, y, ny, 0.0);
    int32_t *gi = malloc(ny * 4);
    g->copy(gi, dI, ny * 4, KN_COPY_D2H);
    size_t bad = 0;
    for (size_t i = 0; i < ny; i++) bad += gi[i] != idx[i];
    printf("  argmax indices differing: %zu of %zu\n", bad, ny);
    cr_expect(bad == 0);
    for (int acc = 0; acc < 2; acc++) {
        float *hx = cu_dup(dx, nx);
        g->copy(dDX, dx, nx * 4, KN_COPY_H2D);
        cpu()->maxpool2d_bwd(hx, dy, idx, N, C, H, W, OH, OW, acc);
        g->maxpool2d_bwd(dDX, dDY, dI, N, C, H, W, OH, OW, acc);
        cu_check(g, acc ? "  backward (+=)" : "  backward", dDX, hx, nx, cu_tol_plain());
        free(hx);
    }
    g->free(dX); g->free(dY); g->free(dDY); g->free(dDX); g->free(dI);
    free(x); free(y); free(dy); free(dx); free(idx); free(gi);
}

static void avgpool_case(int N, int C, int H, int W, int K, int S, int P, int cip, int adaptive_o,
                         en_rng *r) {
    const kn_backend *g = cu_backend();
    int OH = adaptive_o ? adaptive_o : osz(H, K, S, P), OW = adaptive_o ? adaptive_o : osz(W, K, S, P);
    size_t nx = (size_t)N * C * H * W, ny = (size_t)N * C * OH * OW;
    float *x = kt_rand(r, nx), *y = malloc(ny * 4), *dy = kt_rand(r, ny), *dx = kt_rand(r, nx);
    float *dX = cu_up(g, x, nx), *dY = g->alloc(ny * 4), *dDY = cu_up(g, dy, ny), *dDX = cu_up(g, dx, nx);
    char what[96];
    if (adaptive_o) {
        cpu()->adaptive_avgpool2d_fwd(y, x, N, C, H, W, OH, OW);
        g->adaptive_avgpool2d_fwd(dY, dX, N, C, H, W, OH, OW);
        snprintf(what, sizeof what, "adaptive avgpool N%d C%d %dx%d -> %d forward", N, C, H, W, OH);
    } else {
        cpu()->avgpool2d_fwd(y, x, N, C, H, W, K, K, S, P, cip);
        g->avgpool2d_fwd(dY, dX, N, C, H, W, K, K, S, P, cip);
        snprintf(what, sizeof what, "avgpool N%d C%d %dx%d k%d s%d p%d cip%d forward", N, C, H, W, K, S,
                 P, cip);
    }
    cu_check(g, what, dY, y, ny, cu_tol_plain());
    for (int acc = 0; acc < 2; acc++) {
        float *hx = cu_dup(dx, nx);
        g->copy(dDX, dx, nx * 4, KN_COPY_H2D);
        if (adaptive_o) {
            cpu()->adaptive_avgpool2d_bwd(hx, dy, N, C, H, W, OH, OW, acc);
            g->adaptive_avgpool2d_bwd(dDX, dDY, N, C, H, W, OH, OW, acc);
        } else {
            cpu()->avgpool2d_bwd(hx, dy, N, C, H, W, K, K, S, P, cip, acc);
            g->avgpool2d_bwd(dDX, dDY, N, C, H, W, K, K, S, P, cip, acc);
        }
        cu_check(g, acc ? "  backward (+=)" : "  backward", dDX, hx, nx, cu_tol_plain());
        free(hx);
    }
    g->free(dX); g->free(dY); g->free(dDY); g->free(dDX);
    free(x); free(y); free(dy); free(dx);
}

Test(cuda_pool, pools) {
    en_rng r = cu_rng(9);
    maxpool_case(2, 64, 112, 112, 3, 2, 1, &r); /* a ResNet stem's max pool */
    maxpool_case(3, 2, 9, 7, 2, 2, 0, &r);
    avgpool_case(2, 256, 56, 56, 2, 2, 0, 1, 0, &r); /* RN50's anti-aliasing avg pool */
    avgpool_case(3, 2, 9, 7, 3, 2, 1, 0, 0, &r);
    avgpool_case(3, 2, 9, 7, 3, 2, 1, 1, 0, &r);
    avgpool_case(2, 2048, 7, 7, 0, 0, 0, 0, 1, &r); /* global pool */
    avgpool_case(2, 3, 9, 10, 0, 0, 0, 0, 4, &r);   /* uneven adaptive windows */
}

static void upsample_case(int N, int C, int H, int W, int OH, int OW, int bilinear, int align,
                          double sh, double sw, en_rng *r) {
    const kn_backend *g = cu_backend();
    size_t nx = (size_t)N * C * H * W, ny = (size_t)N * C * OH * OW;
    float *x = kt_rand(r, nx), *y = malloc(ny * 4), *dy = kt_rand(r, ny), *dx = kt_rand(r, nx);
    float *dX = cu_up(g, x, nx), *dY = g->alloc(ny * 4), *dDY = cu_up(g, dy, ny), *dDX = cu_up(g, dx, nx);
    char what[96];
    snprintf(what, sizeof what, "upsample %s%s %dx%d -> %dx%d forward", bilinear ? "bilinear" : "nearest",
             align ? " align" : "", H, W, OH, OW);
    if (bilinear) {
        cpu()->upsample_bilinear_fwd(y, x, N, C, H, W, OH, OW, align, sh, sw);
        g->upsample_bilinear_fwd(dY, dX, N, C, H, W, OH, OW, align, sh, sw);
    } else {
        cpu()->upsample_nearest_fwd(y, x, N, C, H, W, OH, OW, sh, sw);
        g->upsample_nearest_fwd(dY, dX, N, C, H, W, OH, OW, sh, sw);
    }
    cu_check(g, what, dY, y, ny, cu_tol_plain());
    for (int acc = 0; acc < 2; acc++) {
        float *hx = cu_dup(dx, nx);
        g->copy(dDX, dx, nx * 4, KN_COPY_H2D);
        if (bilinear) {
            cpu()->upsample_bilinear_bwd(hx, dy, N, C, H, W, OH, OW, align, sh, sw, acc);
            g->upsample_bilinear_bwd(dDX, dDY, N, C, H, W, OH, OW, align, sh, sw, acc);
        } else {
            cpu()->upsample_nearest_bwd(hx, dy, N, C, H, W, OH, OW, sh, sw, acc);
            g->upsample_nearest_bwd(dDX, dDY, N, C, H, W, OH, OW, sh, sw, acc);
        }
        cu_check(g, acc ? "  backward (+=)" : "  backward", dDX, hx, nx, cu_tol_plain());
        free(hx);
    }
    g->free(dX); g->free(dY); g->free(dDY); g->free(dDX);
    free(x); free(y); free(dy); free(dx);
}

Test(cuda_pool, upsample) {
    en_rng r = cu_rng(10);
    for (int bl = 0; bl < 2; bl++) {
        upsample_case(2, 16, 7, 7, 14, 14, bl, 0, 0, 0, &r);  /* a UNet decoder step */
        upsample_case(2, 3, 5, 6, 13, 11, bl, 0, 0, 0, &r);   /* arbitrary sizes */
        upsample_case(1, 2, 4, 4, 10, 10, bl, 0, 2.5, 2.5, &r); /* a given scale factor */
    }
    upsample_case(2, 3, 5, 6, 13, 11, 1, 1, 0, 0, &r);        /* align_corners */
}

static void batchnorm_case(int N, int C, int HW, int training, int affine, en_rng *r) {
    const kn_backend *g = cu_backend();
    size_t nx = (size_t)N * C * HW;
    float *x = kt_rand(r, nx), *gm = affine ? kt_rand(r, C) : NULL, *bt = affine ? kt_rand(r, C) : NULL;
    for (size_t i = 0; i < nx; i++) x[i] = 3.0f * x[i] + 2.0f;
    float *rm = kt_rand(r, C), *rv = kt_fill(C, 0.7f), *y = malloc(nx * 4), *mean = malloc(C * 4),
          *rstd = malloc(C * 4);
    float *dX = cu_up(g, x, nx), *dG = affine ? cu_up(g, gm, C) : NULL, *dBt = affine ? cu_up(g, bt, C) : NULL;
    float *dRM = cu_up(g, rm, C), *dRV = cu_up(g, rv, C), *dY = g->alloc(nx * 4), *dM = g->alloc(C * 4),
          *dR = g->alloc(C * 4);
    cpu()->batchnorm2d_fwd(y, mean, rstd, rm, rv, x, gm, bt, N, C, HW, training, 0.1f, 1e-5f);
    g->batchnorm2d_fwd(dY, dM, dR, dRM, dRV, dX, dG, dBt, N, C, HW, training, 0.1f, 1e-5f);
    char what[96];
    snprintf(what, sizeof what, "batchnorm N%d C%d HW%d %s%s forward", N, C, HW,
             training ? "train" : "eval", affine ? "" : " (no affine)");
    cu_check(g, what, dY, y, nx, cu_tol_plain());
    cu_check(g, "  running mean", dRM, rm, C, cu_tol_plain());
    cu_check(g, "  running var", dRV, rv, C, cu_tol_plain());
    cu_check(g, "  rstd", dR, rstd, C, cu_tol_plain());
    g->copy(dM, mean, C * 4, KN_COPY_H2D);
    g->copy(dR, rstd, C * 4, KN_COPY_H2D);
    float *dy = kt_rand(r, nx), *dx = kt_rand(r, nx), *dg = kt_rand(r, C), *db = kt_rand(r, C);
    float *dDY = cu_up(g, dy, nx), *dDX = cu_up(g, dx, nx), *dDG = cu_up(g, dg, C), *dDB = cu_up(g, db, C);
    cpu()->batchnorm2d_bwd(dx, dg, db, dy, x, mean, rstd, gm, N, C, HW, training, 1);
    g->batchnorm2d_bwd(dDX, dDG, dDB, dDY, dX, dM, dR, dG, N, C, HW, training, 1);
    cu_check(g, "  backward dinp (+=)", dDX, dx, nx, cu_tol_plain());
    /* dgamma and dbeta are sums over N*HW of dy xhat and of dy: scaled by
     * the sums of the terms' sizes (cu_util.h) */
    float *sg = cu_abs(dg, C), *sbt = cu_abs(db, C);
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int p = 0; p < HW; p++) {
                size_t i = ((size_t)n * C + c) * HW + p;
                sg[c] += fabsf(dy[i] * (x[i] - mean[c]) * rstd[c]);
                sbt[c] += fabsf(dy[i]);
            }
    cu_check_dot(g, "  backward dgamma (+=)", dDG, dg, sg, C, cu_tol_dot((int64_t)N * HW));
    cu_check_dot(g, "  backward dbeta (+=)", dDB, db, sbt, C, cu_tol_dot((int64_t)N * HW));
    free(sg); free(sbt);
    g->free(dX); g->free(dG); g->free(dBt); g->free(dRM); g->free(dRV); g->free(dY); g->free(dM);
    g->free(dR); g->free(dDY); g->free(dDX); g->free(dDG); g->free(dDB);
    free(x); free(gm); free(bt); free(rm); free(rv); free(y); free(mean); free(rstd);
    free(dy); free(dx); free(dg); free(db);
}

Test(cuda_norm, batchnorm) {
    en_rng r = cu_rng(11);
    batchnorm_case(4, 64, 56 * 56, 1, 1, &r);
    batchnorm_case(4, 64, 56 * 56, 0, 1, &r);
    batchnorm_case(3, 5, 7, 1, 0, &r);
}

/* ---- strided copies and broadcast binary functions -------------------------------- */
/* One geometry: shape (nd dims) with the strides of dst/out and of each
 * operand, over buffers of `span` floats. Copies and single operations are
 * exact, so the GPU must give the CPU's bits. */
static void nd_case(const char *what, int nd, const int64_t *shape, const int64_t *so,
                    const int64_t *sx, const int64_t *sy, size_t span, en_rng *r) {
    const kn_backend *g = cu_backend();
    float *x = kt_rand(r, span), *y = kt_rand(r, span), *z = kt_rand(r, span), *o = kt_rand(r, span);
    for (size_t i = 0; i < span; i++) y[i] += 2.0f; /* no division by zero */
    float *dx = cu_up(g, x, span), *dy = cu_up(g, y, span), *dz = cu_up(g, z, span), *dO = cu_up(g, o, span);
    for (int acc = 0; acc < 2; acc++) {
        float *ho = cu_dup(o, span);
        g->copy(dO, o, span * 4, KN_COPY_H2D);
        cpu()->copy_nd(ho, so, x, sx, nd, shape, acc);
        g->copy_nd(dO, so, dx, sx, nd, shape, acc);
        char w[96];
        snprintf(w, sizeof w, "copy_nd %s%s", what, acc ? " (+=)" : "");
        cu_check(g, w, dO, ho, span, 0.0);
        free(ho);
    }
    int64_t n = 1;
    for (int d = 0; d < nd; d++) n *= shape[d];
    kn_binary fs[2] = {KN_B_ADD, KN_B_NDIV_SQ};
    for (int k = 0; k < 2; k++) {
        float *ho = malloc(n * 4), *dn = g->alloc(n * 4);
        cpu()->binary_nd(fs[k], ho, nd, shape, x, sx, y, sy, z, sx);
        g->binary_nd(fs[k], dn, nd, shape, dx, sx, dy, sy, dz, sx);
        char w[96];
        snprintf(w, sizeof w, "binary_nd %s %s", k ? "-x z / y^2" : "x + y", what);
        cu_check(g, w, dn, ho, (size_t)n, 0.0);
        free(ho);
        g->free(dn);
    }
    g->free(dx); g->free(dy); g->free(dz); g->free(dO);
    free(x); free(y); free(z); free(o);
}

Test(cuda_nd, copy_and_binary) {
    en_rng r = cu_rng(12);
    { /* contiguous: merges into one dimension */
        int64_t sh[3] = {4, 50, 77}, s[3] = {50 * 77, 77, 1};
        nd_case("contiguous (4,50,77)", 3, sh, s, s, s, 4 * 50 * 77, &r);
    }
    { /* a bias broadcast over rows, and size-1 dimensions between */
        int64_t sh[4] = {300, 1, 1, 96}, so[4] = {96, 96, 96, 1}, sb[4] = {0, 0, 0, 1};
        nd_case("rows + bias (300,1,1,96)", 4, sh, so, sb, sb, 300 * 96, &r);
    }
    { /* heads out of (B,T,H,hs) into (B,H,T,hs) */
        int64_t sh[4] = {3, 4, 50, 16}, so[4] = {4 * 50 * 16, 50 * 16, 16, 1},
                sx[4] = {50 * 4 * 16, 16, 4 * 16, 1}, sy[4] = {0, 16, 0, 1};
        nd_case("permuted (3,4,50,16)", 4, sh, so, sx, sy, 3 * 4 * 50 * 16, &r);
    }
    { /* many rows (copy_nd's row kernel): a bias into 2048 rows, padded rows */
        int64_t sh[2] = {2048, 40}, so[2] = {43, 1}, sb[2] = {0, 1};
        nd_case("rows + bias (2048,40), rows 43 apart", 2, sh, so, sb, sb, 2048 * 43, &r);
    }
    { /* a slice of every row */
        int64_t sh[2] = {1500, 50}, so[2] = {50, 1}, sx[2] = {64, 1};
        nd_case("slice (1500,50) of (1500,64)", 2, sh, so, sx, sx, 1500 * 64, &r);
    }
    { /* a column broadcast, odd sizes */
        int64_t sh[2] = {37, 53}, so[2] = {53, 1}, sx[2] = {1, 37}, sy[2] = {1, 0};
        nd_case("transposed (37,53)", 2, sh, so, sx, sy, 37 * 53, &r);
    }
}

/* ---- memory ---------------------------------------------------------------------------- */
Test(cuda_memory, caching_and_out_of_memory) {
    const kn_backend *g = cu_backend();
    size_t live0, cached0;
    kn_cuda_memory_stats(&live0, &cached0);
    void *a = g->alloc(3 << 20);
    cr_assert(a);
    g->free(a);
    void *b = g->alloc(3 << 20); /* the same size class: the cached block again */
    cr_expect(b == a, "a freed block of the same class is reused");
    g->free(b);
    /* far more than any card holds: NULL and a message naming the size and what to lower */
    void *huge = g->alloc((size_t)1 << 50);
    cr_expect(huge == NULL);
    const char *msg = kn_cuda_last_error();
    printf("  out of memory message: %s\n", msg);
    cr_expect(strstr(msg, "asked for") && strstr(msg, "free") && strstr(msg, "batch"), "%s", msg);
    size_t live1;
    kn_cuda_memory_stats(&live1, NULL);
    cr_expect(live1 == live0, "live bytes back to %zu, not %zu", live0, live1);
}
