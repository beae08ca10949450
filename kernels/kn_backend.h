/* kn_backend — a compute back end: one small table of functions.
 *
 * The engine reaches the hardware only through this table: memory (alloc,
 * free, copy, sync), GEMM, and the hot op kernels. Pointers passed to a back
 * end's functions are in that back end's memory; arrays are dense row-major
 * float32 unless an ld/stride says otherwise. A kernel slot may be NULL on a
 * back end that lacks it: supports(k) answers, and the engine then runs the
 * CPU kernel on a host copy. Kernels write (acc = 0) or add (acc = 1) their
 * gradient outputs (the engine's gradient rule, see engine/en_ops.h).
 *
 * kernels/ knows nothing of tensors or the tape: plain arrays and sizes.
 */
#ifndef KN_BACKEND_H
#define KN_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    KN_K_GEMM, KN_K_GEMM_BATCHED, KN_K_UNARY, KN_K_SOFTMAX, KN_K_LAYERNORM,
    KN_K_ATTENTION,
    /* -- conv kernels here -- */
    KN_K_CONV2D, KN_K_CONV_TRANSPOSE2D, KN_K_POOL2D, KN_K_UPSAMPLE, KN_K_BATCHNORM2D,
    /* strided and indexing kernels (the engine's views, broadcasts and reductions on a device) */
    KN_K_COPY_ND, KN_K_BINARY, KN_K_REDUCE, KN_K_ARGMAX, KN_K_GATHER, KN_K_XENT,
    /* training on a device: L2 normalisation, the optimiser's step and norm */
    KN_K_L2NORM, KN_K_OPTIM, KN_K_PAIR_LOSS,
    KN_KERNEL_COUNT
} kn_kernel;

/* Elementwise functions: y = f(x; a, b). */
typedef enum {
    KN_U_EXP, KN_U_LOG, KN_U_SQRT, KN_U_ABS, KN_U_CLAMP /* a=lo b=hi */,
    KN_U_RELU, KN_U_GELU_TANH, KN_U_GELU_ERF, KN_U_QUICK_GELU, KN_U_SIGMOID,
    KN_U_TANH, KN_U_POW /* a=p */, KN_U_ADD_SCALAR /* a */, KN_U_MUL_SCALAR /* a */,
    KN_UNARY_COUNT
} kn_unary;

/* Binary functions over broadcast operands: out = f(x, y[, z]). */
typedef enum {
    KN_B_ADD, KN_B_SUB, KN_B_MUL, KN_B_DIV,
    KN_B_NEG,     /* -x (y, z unused) */
    KN_B_NDIV_SQ, /* -x z / (y y): the divisor's gradient, x = g, y = b, z = a */
    KN_BINARY_COUNT
} kn_binary;

/* f applied to one element: the CPU back end's binary_nd and the engine's
 * contiguous fast path share it, so both give the same bits. */
static inline float kn_binary_apply(kn_binary f, float x, float y, float z) {
    switch (f) {
    case KN_B_ADD: return x + y;
    case KN_B_SUB: return x - y;
    case KN_B_MUL: return x * y;
    case KN_B_DIV: return x / y;
    case KN_B_NDIV_SQ: return -x * z / (y * y);
    default: return -x;
    }
}

/* Most dims a strided kernel takes (the engine's EN_MAX_DIMS). */
#define KN_MAX_DIMS 8

enum { KN_COPY_H2D, KN_COPY_D2H, KN_COPY_D2D };

typedef struct kn_backend {
    const char *name;
    int device;                        /* en_device value */
    void *(*alloc)(size_t nbytes);     /* NULL when out of memory */
    void  (*free)(void *p);
    void  (*copy)(void *dst, const void *src, size_t nbytes, int kind);
    void  (*memzero)(void *p, size_t nbytes);
    void  (*sync)(void);
    int   (*supports)(kn_kernel k);

    /* C (M,N) = alpha op(A) op(B) + beta C; op(A) (M,K), op(B) (K,N);
     * ta/tb: 1 = transposed. Row-major with leading dims. */
    void (*gemm)(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc);
    /* batch independent GEMMs at element strides sa, sb, sc. */
    void (*gemm_batched)(int ta, int tb, int M, int N, int K, float alpha, const float *A,
                         int lda, int64_t sa, const float *B, int ldb, int64_t sb, float beta,
                         float *C, int ldc, int64_t sc, int batch);

    void (*unary_fwd)(kn_unary f, float *y, const float *x, int64_t n, float a, float b);
    /* dx (=|+=) dy * f'(x); y = f(x) is given too (some derivatives use it). */
    void (*unary_bwd)(kn_unary f, float *dx, const float *dy, const float *x, const float *y,
                      int64_t n, float a, float b, int acc);
    /* Along rows of length C; logsm = 1: log-softmax. */
    void (*softmax_fwd)(float *y, const float *x, int64_t rows, int64_t C, int logsm);
    void (*softmax_bwd)(float *dx, const float *dy, const float *y, int64_t rows, int64_t C,
                        int logsm, int acc);
    /* x (N,C); w, b (C) or NULL; mean, rstd (N) saved for backward. */
    void (*layernorm_fwd)(float *y, float *mean, float *rstd, const float *x, const float *w,
                          const float *b, int64_t N, int64_t C, float eps);
    /* dx (N,C) (=|+= by accx); dw, db (C) always +=, either may be NULL. */
    void (*layernorm_bwd)(float *dx, float *dw, float *db, const float *dy, const float *x,
                          const float *w, const float *mean, const float *rstd, int64_t N,
                          int64_t C, int accx);
    /* qkv (B,T,3C) -> out (B,T,C); att (B,H,T,T) softmax probabilities. */
    void (*attention_fwd)(float *out, float *att, const float *qkv, int B, int T, int C, int H,
                          int causal);
    void (*attention_bwd)(float *dqkv, const float *dout, const float *qkv, const float *att,
                          int B, int T, int C, int H, int acc);
    /* -- conv kernels here --
     * NCHW; the contracts are in kernels/cpu/kn_conv.h, kn_pool.h,
     * kn_resample.h and kn_norm.h (dw, db, dgamma, dbeta always +=; dinp
     * =|+= by acc). Convolutions take a scratch buffer of conv*_scratch floats. */
    size_t (*conv2d_scratch)(int N, int C, int H, int W, int OC, int KH, int KW, int stride,
                             int pad);
    void (*conv2d_fwd)(float *out, float *scratch, const float *inp, const float *w,
                       const float *b, int N, int C, int H, int W, int OC, int KH, int KW,
                       int stride, int pad);
    void (*conv2d_bwd)(float *dinp, float *dw, float *db, float *scratch, const float *dout,
                       const float *inp, const float *w, int N, int C, int H, int W, int OC,
                       int KH, int KW, int stride, int pad, int acc);
    size_t (*convt2d_scratch)(int N, int C, int H, int W, int OC, int KH, int KW, int stride,
                              int pad, int outpad);
    void (*convt2d_fwd)(float *out, float *scratch, const float *inp, const float *w,
                        const float *b, int N, int C, int H, int W, int OC, int KH, int KW,
                        int stride, int pad, int outpad);
    void (*convt2d_bwd)(float *dinp, float *dw, float *db, float *scratch, const float *dout,
                        const float *inp, const float *w, int N, int C, int H, int W, int OC,
                        int KH, int KW, int stride, int pad, int outpad, int acc);
    void (*maxpool2d_fwd)(float *out, int32_t *idx, const float *inp, int N, int C, int H,
                          int W, int KH, int KW, int stride, int pad);
    void (*maxpool2d_bwd)(float *dinp, const float *dout, const int32_t *idx, int N, int C,
                          int H, int W, int OH, int OW, int acc);
    void (*avgpool2d_fwd)(float *out, const float *inp, int N, int C, int H, int W, int KH,
                          int KW, int stride, int pad, int count_include_pad);
    void (*avgpool2d_bwd)(float *dinp, const float *dout, int N, int C, int H, int W, int KH,
                          int KW, int stride, int pad, int count_include_pad, int acc);
    void (*adaptive_avgpool2d_fwd)(float *out, const float *inp, int N, int C, int H, int W,
                                   int OH, int OW);
    void (*adaptive_avgpool2d_bwd)(float *dinp, const float *dout, int N, int C, int H, int W,
                                   int OH, int OW, int acc);
    void (*upsample_nearest_fwd)(float *out, const float *inp, int N, int C, int H, int W,
                                 int OH, int OW, double scale_h, double scale_w);
    void (*upsample_nearest_bwd)(float *dinp, const float *dout, int N, int C, int H, int W,
                                 int OH, int OW, double scale_h, double scale_w, int acc);
    void (*upsample_bilinear_fwd)(float *out, const float *inp, int N, int C, int H, int W,
                                  int OH, int OW, int align_corners, double scale_h,
                                  double scale_w);
    void (*upsample_bilinear_bwd)(float *dinp, const float *dout, int N, int C, int H, int W,
                                  int OH, int OW, int align_corners, double scale_h,
                                  double scale_w, int acc);
    void (*batchnorm2d_fwd)(float *out, float *mean, float *rstd, float *running_mean,
                            float *running_var, const float *inp, const float *gamma,
                            const float *beta, int N, int C, int HW, int training,
                            float momentum, float eps);
    void (*batchnorm2d_bwd)(float *dinp, float *dgamma, float *dbeta, const float *dout,
                            const float *inp, const float *mean, const float *rstd,
                            const float *gamma, int N, int C, int HW, int training, int acc);

    /* -- strided and indexing kernels --
     * Shapes and strides (in elements, may be 0) are host arrays of nd <=
     * KN_MAX_DIMS entries; the data pointers are the back end's memory.
     * dst (=|+= by acc) src over shape, each side with its own strides. */
    void (*copy_nd)(float *dst, const int64_t *ds, const float *src, const int64_t *ss, int nd,
                    const int64_t *shape, int acc);
    /* out (dense over shape) = f(x, y, z); y, z (and their strides) NULL where f has none. */
    void (*binary_nd)(kn_binary f, float *out, int nd, const int64_t *shape, const float *x,
                      const int64_t *sx, const float *y, const int64_t *sy, const float *z,
                      const int64_t *sz);
    /* out (outer, inner) (=|+= by acc) scale * sum over r of x (outer, R, inner), r in
     * order from 0 = 0.0f (the CPU engine's order, so the bits match it). acc = 2
     * (scale 1 only): the sum starts from out instead of 0.0f, out + x0 + x1 + ... in
     * that order, as the engine's CPU adds contributions into a gradient. */
    void (*reduce_sum)(float *out, const float *x, int64_t outer, int64_t R, int64_t inner,
                       float scale, int acc);
    /* Over x (outer, K, inner): idx (outer, inner) the first maximum's k; val its value (or NULL). */
    void (*max_axis)(float *val, int64_t *idx, const float *x, int64_t outer, int64_t K,
                     int64_t inner);
    /* max's backward: dx (outer, K, inner) at k = idx (outer, inner) += g (outer, inner)
     * (one element per (outer, inner): no two add into the same place). */
    void (*max_axis_bwd)(float *dx, const float *g, const int64_t *idx, int64_t outer, int64_t K,
                         int64_t inner);
    /* out (M, row) = x rows idx (M); idx values in range (the engine checked them). */
    void (*gather_rows)(float *out, const float *x, const int64_t *idx, int64_t M, int64_t row);
    /* dx rows idx[i] += g row i (repeated indices add up). */
    void (*scatter_rows)(float *dx, const float *g, const int64_t *idx, int64_t M, int64_t row);
    /* Cross-entropy of logits x (N, K) at targets t (N): lse (N) the rows' log-sum-exp
     * (double inside), loss (1) the mean of lse - x[t] summed in row order. */
    void (*xent_fwd)(float *loss, float *lse, const float *x, const int64_t *t, int64_t N,
                     int64_t K);
    /* dx (N, K) (=|+= by acc) (softmax(x) - onehot(t)) * g[0] / N; g (1) in back-end memory. */
    void (*xent_bwd)(float *dx, const float *g, const float *x, const float *lse,
                     const int64_t *t, int64_t N, int64_t K, int acc);

    /* -- training kernels --
     * Rows of x (N, C): nrm (N) = sqrt of the row's sum of squares (double inside),
     * y = x / max(nrm, eps). */
    void (*l2norm_fwd)(float *y, float *nrm, const float *x, int64_t N, int64_t C, float eps);
    /* dx (=|+= by acc) (dy - y (dy . y)) / nrm per row, dy / eps where nrm <= eps. */
    void (*l2norm_bwd)(float *dx, const float *dy, const float *y, const float *nrm, int64_t N,
                       int64_t C, float eps, int acc);
    /* One AdamW step over n elements, the scalars rounded as en_optim.c does:
     * p = p decay + (-step) m' / (sqrt(v') / bc2_sqrt + eps), m' = m b1 + a1 g,
     * v' = v b2 + a2 g g (m, v updated in place). */
    void (*adamw)(float *p, const float *g, float *m, float *v, int64_t n, float decay,
                  float step, float bc2_sqrt, float b1, float b2, float eps, float a1, float a2);
    /* out (1 double, back-end memory) = the sum of x[i]^2 in double: parts
     * contiguous spans [n t / parts, n (t+1) / parts), each summed in order,
     * then the parts in order (the CPU's; a GPU may sum inside a part in a
     * fixed tree order). */
    void (*sum_squares)(double *out, const float *x, int64_t n, int parts);
    /* Mean losses of x against targets t (n): bce = 0 mean squared error, 1 binary
     * cross-entropy with logits; loss (1) in back-end memory, the sum in double over
     * blocks of 4096 (each in order, then the blocks in order, as the CPU). */
    void (*pair_loss_fwd)(float *loss, const float *x, const float *t, int64_t n, int bce);
    /* d (=|+= by acc) the loss's gradient times g[0] (back-end memory) with respect to
     * x (wrt_t = 0) or t (1). */
    void (*pair_loss_bwd)(float *d, const float *g, const float *x, const float *t, int64_t n,
                          int bce, int wrt_t, int acc);
} kn_backend;

/* The CPU back end (always built): kn_sgemm GEMM (AVX-512 micro-kernel, or
 * OpenBLAS without AVX-512), OpenMP loops. */
const kn_backend *kn_cpu_backend(void);
/* The back end for a device, or NULL when not built. */
const kn_backend *kn_backend_get(int device);

/* Bounds both OpenMP and OpenBLAS threads (n <= 0: every core). */
void kn_set_num_threads(int n);
int  kn_get_num_threads(void);

/* ---- devices (kernels/cpu/kn_registry.c; kernels/cuda when built) --------
 * kn_backend_get(1) is the CUDA back end when it is built and a device is
 * visible, else NULL. kn_backend_register replaces the back end of a device
 * (tests install a fake "device" that way; NULL restores the built one). */
void kn_backend_register(int device, const kn_backend *be);
/* Names of the kernels, for the fallback report. */
const char *kn_kernel_name(kn_kernel k);
/* A kernel the device lacks ran on the CPU through a host copy: counted per
 * kernel so a slow path shows (clipbook --version, the appendix). */
void     kn_fallback_note(kn_kernel k);
uint64_t kn_fallback_count(kn_kernel k);
void     kn_fallback_reset(void);

/* CUDA (stubs answering "none" when not built). */
typedef enum { KN_PREC_FP32, KN_PREC_TF32, KN_PREC_BF16 } kn_precision;
int  kn_cuda_built(void);                  /* 1 when compiled in */
int  kn_cuda_device_count(void);           /* 0: not built, no driver or no GPU */
/* Opens cuBLAS and resolves the entry points the back end calls, as a device
 * start does (cuBLAS is loaded with dlopen, never linked): 0, or -1 with the
 * reason in why (the stub: "not built"). Needs no GPU. */
int  kn_cuda_blas_probe(char *why, size_t n);
const kn_backend *kn_cuda_backend(void);   /* NULL when no device */
/* GEMM math: fp32 (default), tf32 or bf16 tensor cores (FP32 in and out);
 * CLIPBOOK_PRECISION sets it at start-up. Returns -1 for another name. */
int  kn_cuda_set_precision(const char *name);
kn_precision kn_cuda_precision(void);
/* The last user-facing CUDA error (out of memory), "" when none. */
const char *kn_cuda_last_error(void);
void kn_cuda_memory_stats(size_t *live_bytes, size_t *cached_bytes);
/* How the CUDA convolution's forward reaches NCHW: "swap" (default),
 * "direct" or "auto" (kernels/cuda/kn_cuda_conv.cu); CLIPBOOK_CUDA_CONV_OUT
 * sets it at first use. For the parity tests and the GPU benchmark. */
void kn_cuda_conv_out_mode(const char *mode);

#ifdef __cplusplus
}
#endif

#endif
