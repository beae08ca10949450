/* The CPU back end: kn_sgemm (AVX-512, or OpenBLAS) for GEMM, OpenMP for the loops. */
#include "kn_backend.h"
#include "kn_gemm.h"
#include "kn_attn.h"
#include "kn_conv_table.h"
#include "kn_nd.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* OpenBLAS (Debian's pthread build) keeps its own pool; bound it as well. */
void openblas_set_num_threads(int num_threads);

static int kn_threads = 0;  /* 0: not set yet */

void kn_set_num_threads(int n) {
    if (n <= 0) n = omp_get_num_procs();
    kn_threads = n;
    omp_set_num_threads(n);
    /* for code that calls cblas directly; on the blas path kn_sgemm threads
     * OpenBLAS's calls itself and needs it on one thread (kn_gemm.c) */
    openblas_set_num_threads(kn_gemm_uses_blas() ? 1 : n);
}

int kn_get_num_threads(void) { return kn_threads > 0 ? kn_threads : omp_get_max_threads(); }

static void *cpu_alloc(size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? n : 64) != 0) return NULL;
    return p;
}
static void cpu_free(void *p) { free(p); }
static void cpu_copy(void *dst, const void *src, size_t n, int kind) {
    (void)kind;
    if (n) memcpy(dst, src, n);
}
static void cpu_memzero(void *p, size_t n) {
    if (n) memset(p, 0, n);
}
static void cpu_sync(void) {}
static int cpu_supports(kn_kernel k) { return k >= 0 && k < KN_KERNEL_COUNT; }

/* kn_sgemm (kernels/cpu/kn_gemm.c, AVX-512 packed GEMM; cblas_sgemm on
 * machines without AVX-512) threads itself over OpenMP tiles outside a
 * parallel region and runs on the calling thread inside one, so the
 * per-head GEMMs below run one per thread; OpenBLAS's own pool is never
 * woken to fight OpenMP's (engine/NOTES.md). */
static void cpu_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                     const float *B, int ldb, float beta, float *C, int ldc) {
    kn_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

static void cpu_gemm_batched(int ta, int tb, int M, int N, int K, float alpha, const float *A,
                             int lda, int64_t sa, const float *B, int ldb, int64_t sb,
                             float beta, float *C, int ldc, int64_t sc, int batch) {
    double flops = 2.0 * M * N * K;
    if (batch == 1 || flops > 4e6 || sc == 0) {
        /* Large GEMMs: cpu_gemm threads each one. sc == 0 accumulates into
         * one C, so it must stay serial. */
        for (int i = 0; i < batch; i++)
            cpu_gemm(ta, tb, M, N, K, alpha, A + i * sa, lda, B + i * sb, ldb,
                     (sc == 0 && i > 0) ? 1.0f : beta, C + i * sc, ldc);
        return;
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < batch; i++)
        cpu_gemm(ta, tb, M, N, K, alpha, A + i * sa, lda, B + i * sb, ldb, beta, C + i * sc, ldc);
}

/* ---- elementwise -------------------------------------------------------- */
#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */

/* expf that the compiler vectorises (libm's expf is a scalar call): range
 * reduction by Cody-Waite, Cephes' degree-6 polynomial, ~1 ulp in float.
 * Below -87.3 it returns 0 (no denormals); above 88.7, e^88.7. */
static inline float kn_expf(float x0) {
    float x = x0 < -87.3f ? -87.3f : (x0 > 88.7f ? 88.7f : x0);
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round(x / ln 2) */
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union { uint32_t i; float f; } sc = {.i = (uint32_t)((int32_t)n + 127) << 23};
    return x0 < -87.3f ? 0.0f : p * sc.f; /* underflow (and -inf) -> 0 */
}

static inline float sigm(float x) { return 1.0f / (1.0f + kn_expf(-x)); }
/* tanh through exp: 1 - 2 / (e^2u + 1); absolute error ~1e-7 */
static inline float kn_tanhf(float u) { return 1.0f - 2.0f / (kn_expf(2.0f * u) + 1.0f); }

static void cpu_unary_fwd(kn_unary f, float *y, const float *x, int64_t n, float a, float b) {
#define LOOP(expr)                                                                   \
    _Pragma("omp parallel for simd if (n > 32768)") for (int64_t i = 0; i < n; i++) { \
        float v = x[i];                                                              \
        y[i] = (expr);                                                               \
    }                                                                                \
    break;
    switch (f) {
    case KN_U_EXP: LOOP(v > 88.7f ? INFINITY : kn_expf(v))
    case KN_U_LOG: LOOP(logf(v))
    case KN_U_SQRT: LOOP(sqrtf(v))
    case KN_U_ABS: LOOP(fabsf(v))
    case KN_U_CLAMP: LOOP(v < a ? a : (v > b ? b : v))
    case KN_U_RELU: LOOP(v > 0 ? v : 0)
    case KN_U_GELU_TANH: LOOP(0.5f * v * (1.0f + kn_tanhf(GELU_K * (v + 0.044715f * v * v * v))))
    case KN_U_GELU_ERF: LOOP(0.5f * v * (1.0f + erff(v * 0.7071067811865476f)))
    case KN_U_QUICK_GELU: LOOP(v * sigm(1.702f * v))
    case KN_U_SIGMOID: LOOP(sigm(v))
    case KN_U_TANH: LOOP(kn_tanhf(v))
    case KN_U_POW: LOOP(powf(v, a))
    case KN_U_ADD_SCALAR: LOOP(v + a)
    case KN_U_MUL_SCALAR: LOOP(v * a)
    default: abort();
    }
#undef LOOP
}

static void cpu_unary_bwd(kn_unary f, float *dx, const float *dy, const float *x, const float *y,
                          int64_t n, float a, float b, int acc) {
#define LOOP(expr)                                                                   \
    _Pragma("omp parallel for simd if (n > 32768)") for (int64_t i = 0; i < n; i++) { \
        float v = x[i], o = y[i], d = (expr);                                        \
        (void)v; (void)o;                                                            \
        dx[i] = acc ? dx[i] + dy[i] * d : dy[i] * d;                                 \
    }                                                                                \
    break;
    switch (f) {
    case KN_U_EXP: LOOP(o)
    case KN_U_LOG: LOOP(1.0f / v)
    case KN_U_SQRT: LOOP(0.5f / o)
    case KN_U_ABS: LOOP(v > 0 ? 1.0f : (v < 0 ? -1.0f : 0.0f))
    case KN_U_CLAMP: LOOP(v >= a && v <= b ? 1.0f : 0.0f)
    case KN_U_RELU: LOOP(v > 0 ? 1.0f : 0.0f)
    case KN_U_GELU_TANH: {
        LOOP(({
            float t = kn_tanhf(GELU_K * (v + 0.044715f * v * v * v));
            0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * GELU_K * (1.0f + 3.0f * 0.044715f * v * v);
        }))
    }
    case KN_U_GELU_ERF:
        LOOP(0.5f * (1.0f + erff(v * 0.7071067811865476f)) +
             v * expf(-0.5f * v * v) * 0.3989422804014327f)
    case KN_U_QUICK_GELU: LOOP(({
            float s = sigm(1.702f * v);
            s + 1.702f * v * s * (1.0f - s);
        }))
    case KN_U_SIGMOID: LOOP(o * (1.0f - o))
    case KN_U_TANH: LOOP(1.0f - o * o)
    case KN_U_POW: LOOP(a * powf(v, a - 1.0f))
    case KN_U_ADD_SCALAR: LOOP(1.0f)
    case KN_U_MUL_SCALAR: LOOP(a)
    default: abort();
    }
#undef LOOP
}

/* ---- softmax ------------------------------------------------------------ */
static void softmax_row(float *y, const float *x, int64_t C, int logsm) {
    float m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < C; j++) m = x[j] > m ? x[j] : m;
    if (m == -INFINITY) m = 0; /* a fully masked row: uniform, not NaN */
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < C; j++) {
        float e = kn_expf(x[j] - m);
        y[j] = e;
        s += e;
    }
    if (logsm) {
        float l = m + logf(s);
        for (int64_t j = 0; j < C; j++) y[j] = x[j] - l;
    } else {
        float inv = 1.0f / s;
#pragma omp simd
        for (int64_t j = 0; j < C; j++) y[j] *= inv;
    }
}

static void cpu_softmax_fwd(float *y, const float *x, int64_t rows, int64_t C, int logsm) {
#pragma omp parallel for if (rows * C > 16384)
    for (int64_t r = 0; r < rows; r++) softmax_row(y + r * C, x + r * C, C, logsm);
}

static void cpu_softmax_bwd(float *dx, const float *dy, const float *y, int64_t rows, int64_t C,
                            int logsm, int acc) {
#pragma omp parallel for if (rows * C > 16384)
    for (int64_t r = 0; r < rows; r++) {
        const float *g = dy + r * C, *p = y + r * C;
        float *d = dx + r * C;
        float s = 0;
        if (logsm) {
            for (int64_t j = 0; j < C; j++) s += g[j];
            for (int64_t j = 0; j < C; j++) {
                float v = g[j] - kn_expf(p[j]) * s;
                d[j] = acc ? d[j] + v : v;
            }
        } else {
#pragma omp simd reduction(+ : s)
            for (int64_t j = 0; j < C; j++) s += g[j] * p[j];
#pragma omp simd
            for (int64_t j = 0; j < C; j++) {
                float v = p[j] * (g[j] - s);
                d[j] = acc ? d[j] + v : v;
            }
        }
    }
}

/* ---- layer norm --------------------------------------------------------- */
static void cpu_layernorm_fwd(float *y, float *mean, float *rstd, const float *x, const float *w,
                              const float *b, int64_t N, int64_t C, float eps) {
    /* The row sums are `omp simd` reductions: without them GCC keeps the
     * source order and runs a scalar chain of C dependent adds per pass
     * (engine/NOTES.md, "training step"). The vector order is fixed at
     * compile time, so results stay the same from run to run. */
#pragma omp parallel for if (N * C > 16384)
    for (int64_t i = 0; i < N; i++) {
        const float *xi = x + i * C;
        float *yi = y + i * C;
        float m = 0;
#pragma omp simd reduction(+ : m)
        for (int64_t j = 0; j < C; j++) m += xi[j];
        m /= (float)C;
        float v = 0;
#pragma omp simd reduction(+ : v)
        for (int64_t j = 0; j < C; j++) {
            float d = xi[j] - m;
            v += d * d;
        }
        float s = 1.0f / sqrtf(v / (float)C + eps);
        if (w && b)
            for (int64_t j = 0; j < C; j++) yi[j] = (xi[j] - m) * s * w[j] + b[j];
        else
            for (int64_t j = 0; j < C; j++) {
                float o = (xi[j] - m) * s;
                if (w) o *= w[j];
                if (b) o += b[j];
                yi[j] = o;
            }
        if (mean) mean[i] = m;
        if (rstd) rstd[i] = s;
    }
}

static void cpu_layernorm_bwd(float *dx, float *dw, float *db, const float *dy, const float *x,
                              const float *w, const float *mean, const float *rstd, int64_t N,
                              int64_t C, int accx) {
    int nt = omp_get_max_threads();
    /* per-thread partial sums of dw, db, added at the end */
    float *part = (dw || db) ? calloc((size_t)nt * 2 * C, sizeof(float)) : NULL;
#pragma omp parallel if (N * C > 16384)
    {
        int t = omp_get_thread_num();
        float *pw = part ? part + (size_t)t * 2 * C : NULL, *pb = pw ? pw + C : NULL;
#pragma omp for
        for (int64_t i = 0; i < N; i++) {
            const float *xi = x + i * C, *gi = dy + i * C;
            float m = mean[i], s = rstd[i];
            float sg = 0, sgx = 0; /* sums of dnorm and dnorm * xhat */
#pragma omp simd reduction(+ : sg, sgx)
            for (int64_t j = 0; j < C; j++) {
                float xh = (xi[j] - m) * s;
                float dn = gi[j] * (w ? w[j] : 1.0f);
                sg += dn;
                sgx += dn * xh;
            }
            /* omp simd: the compiler cannot prove pw, pb, dx apart from the
             * inputs and would leave these loops scalar */
            if (pw) /* pb = pw + C: both partial rows exist whenever one does */
#pragma omp simd
                for (int64_t j = 0; j < C; j++) {
                    pw[j] += gi[j] * ((xi[j] - m) * s);
                    pb[j] += gi[j];
                }
            sg /= (float)C;
            sgx /= (float)C;
            if (dx) {
                float *di = dx + i * C;
#pragma omp simd
                for (int64_t j = 0; j < C; j++) {
                    float xh = (xi[j] - m) * s;
                    float dn = gi[j] * (w ? w[j] : 1.0f);
                    float v = s * (dn - sg - xh * sgx);
                    di[j] = accx ? di[j] + v : v;
                }
            }
        }
    }
    if (part) {
        for (int t = 0; t < nt; t++)
            for (int64_t j = 0; j < C; j++) {
                if (dw) dw[j] += part[(size_t)t * 2 * C + j];
                if (db) db[j] += part[(size_t)t * 2 * C + C + j];
            }
        free(part);
    }
}

/* ---- attention on packed qkv ---------------------------------------------
 * One head's products go to kn_attn's small GEMM when it covers the width
 * (no packing, N padded to 16 not 48), else to cpu_gemm. */
static void head_gemm(int ta, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc) {
    if (kn_att_gemm(ta, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) < 0)
        cpu_gemm(ta, 0, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* C = alpha A Bᵀ, B (N, K) rows ldb apart; bt: N*K floats of scratch. */
static void head_gemm_nt(int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                         int ldb, float *bt, float *C, int ldc) {
    if (kn_att_covers(N)) {
        kn_att_transpose(bt, B, N, K, ldb);
        kn_att_gemm(0, M, N, K, alpha, A, lda, bt, N, 0.0f, C, ldc);
    } else {
        cpu_gemm(0, 1, M, N, K, alpha, A, lda, B, ldb, 0.0f, C, ldc);
    }
}

/*
 * Per (batch, head): S = Q K^T / sqrt(hs) (masked), P = softmax(S), O = P V,
 * with Q, K, V read in place from qkv (row stride 3C) and O written in place
 * into out (row stride C): no head split/merge copies. */
static void cpu_attention_fwd(float *out, float *att, const float *qkv, int B, int T, int C,
                              int H, int causal) {
    int hs = C / H;
    float scale = 1.0f / sqrtf((float)hs);
    float *scratch = malloc((size_t)omp_get_max_threads() * T * hs * sizeof(float));
#pragma omp parallel for schedule(dynamic, 1)
    for (int bh = 0; bh < B * H; bh++) {
        int b = bh / H, h = bh % H;
        const float *q = qkv + (size_t)b * T * 3 * C + h * hs, *k = q + C, *v = q + 2 * C;
        float *P = att + (size_t)bh * T * T;
        float *bt = scratch + (size_t)omp_get_thread_num() * T * hs;
        head_gemm_nt(T, T, hs, scale, q, 3 * C, k, 3 * C, bt, P, T);
        for (int i = 0; i < T; i++) {
            if (causal)
                for (int j = i + 1; j < T; j++) P[i * T + j] = -INFINITY;
            softmax_row(P + (size_t)i * T, P + (size_t)i * T, T, 0);
        }
        head_gemm(0, T, hs, T, 1.0f, P, T, v, 3 * C, 0.0f, out + (size_t)b * T * C + h * hs, C);
    }
    free(scratch);
}

static void cpu_attention_bwd(float *dqkv, const float *dout, const float *qkv, const float *att,
                              int B, int T, int C, int H, int acc) {
    int hs = C / H;
    float scale = 1.0f / sqrtf((float)hs), beta = acc ? 1.0f : 0.0f;
    int nt = omp_get_max_threads();
    float *scratch = malloc((size_t)nt * (T * T + T * hs) * sizeof(float));
#pragma omp parallel for schedule(dynamic, 1)
    for (int bh = 0; bh < B * H; bh++) {
        int b = bh / H, h = bh % H;
        size_t base = (size_t)b * T * 3 * C + h * hs;
        const float *q = qkv + base, *k = q + C, *v = q + 2 * C;
        float *dq = dqkv + base, *dk = dq + C, *dv = dq + 2 * C;
        const float *P = att + (size_t)bh * T * T, *dO = dout + (size_t)b * T * C + h * hs;
        float *dP = scratch + (size_t)omp_get_thread_num() * (T * T + T * hs), *bt = dP + T * T;
        head_gemm_nt(T, T, hs, 1.0f, dO, C, v, 3 * C, bt, dP, T);         /* dP = dO V^T */
        head_gemm(1, T, hs, T, 1.0f, P, T, dO, C, beta, dv, 3 * C);       /* dV = P^T dO */
        for (int i = 0; i < T; i++) {                                      /* dS */
            float *r = dP + (size_t)i * T;
            const float *p = P + (size_t)i * T;
            float s = 0;
#pragma omp simd reduction(+ : s)
            for (int j = 0; j < T; j++) s += r[j] * p[j];
#pragma omp simd
            for (int j = 0; j < T; j++) r[j] = p[j] * (r[j] - s) * scale;
        }
        head_gemm(0, T, hs, T, 1.0f, dP, T, k, 3 * C, beta, dq, 3 * C);   /* dQ = dS K */
        head_gemm(1, T, hs, T, 1.0f, dP, T, q, 3 * C, beta, dk, 3 * C);   /* dK = dS^T Q */
    }
    free(scratch);
}

static const kn_backend kn_cpu = {
    .name = "cpu",
    .device = 0,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .copy = cpu_copy,
    .memzero = cpu_memzero,
    .sync = cpu_sync,
    .supports = cpu_supports,
    .gemm = cpu_gemm,
    .gemm_batched = cpu_gemm_batched,
    .unary_fwd = cpu_unary_fwd,
    .unary_bwd = cpu_unary_bwd,
    .softmax_fwd = cpu_softmax_fwd,
    .softmax_bwd = cpu_softmax_bwd,
    .layernorm_fwd = cpu_layernorm_fwd,
    .layernorm_bwd = cpu_layernorm_bwd,
    .attention_fwd = cpu_attention_fwd,
    .attention_bwd = cpu_attention_bwd,
    KN_CPU_CONV_KERNELS,
    KN_CPU_ND_KERNELS,
};

const kn_backend *kn_cpu_backend(void) { return &kn_cpu; }
