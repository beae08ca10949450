/* kn_cuda_elem — the elementwise functions (kn_unary) and softmax /
 * log-softmax, forward and backward, mirroring kernels/cpu/kn_cpu.c: the
 * same formulas with CUDA's expf/tanhf/erff in place of the CPU's
 * vectorised approximations (both within a few ulp). */
#include "kn_cuda_internal.cuh"

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */

__device__ inline float sigm(float x) { return 1.0f / (1.0f + expf(-x)); }

__device__ inline float unary_f(kn_unary f, float v, float a, float b) {
    switch (f) {
    case KN_U_EXP: return expf(v);
    case KN_U_LOG: return logf(v);
    case KN_U_SQRT: return sqrtf(v);
    case KN_U_ABS: return fabsf(v);
    case KN_U_CLAMP: return v < a ? a : (v > b ? b : v);
    case KN_U_RELU: return v > 0 ? v : 0;
    case KN_U_GELU_TANH: return 0.5f * v * (1.0f + tanhf(GELU_K * (v + 0.044715f * v * v * v)));
    case KN_U_GELU_ERF: return 0.5f * v * (1.0f + erff(v * 0.7071067811865476f));
    case KN_U_QUICK_GELU: return v * sigm(1.702f * v);
    case KN_U_SIGMOID: return sigm(v);
    case KN_U_TANH: return tanhf(v);
    case KN_U_POW: return powf(v, a);
    case KN_U_ADD_SCALAR: return v + a;
    case KN_U_MUL_SCALAR: return v * a;
    default: return NAN;
    }
}

/* f'(x), given x = v and y = o = f(x). */
__device__ inline float unary_df(kn_unary f, float v, float o, float a, float b) {
    switch (f) {
    case KN_U_EXP: return o;
    case KN_U_LOG: return 1.0f / v;
    case KN_U_SQRT: return 0.5f / o;
    case KN_U_ABS: return v > 0 ? 1.0f : (v < 0 ? -1.0f : 0.0f);
    case KN_U_CLAMP: return v >= a && v <= b ? 1.0f : 0.0f;
    case KN_U_RELU: return v > 0 ? 1.0f : 0.0f;
    case KN_U_GELU_TANH: {
        float t = tanhf(GELU_K * (v + 0.044715f * v * v * v));
        return 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * GELU_K * (1.0f + 3.0f * 0.044715f * v * v);
    }
    case KN_U_GELU_ERF:
        return 0.5f * (1.0f + erff(v * 0.7071067811865476f)) + v * expf(-0.5f * v * v) * 0.3989422804014327f;
    case KN_U_QUICK_GELU: {
        float s = sigm(1.702f * v);
        return s + 1.702f * v * s * (1.0f - s);
    }
    case KN_U_SIGMOID: return o * (1.0f - o);
    case KN_U_TANH: return 1.0f - o * o;
    case KN_U_POW: return a * powf(v, a - 1.0f);
    case KN_U_ADD_SCALAR: return 1.0f;
    case KN_U_MUL_SCALAR: return a;
    default: return NAN;
    }
}

__global__ void unary_fwd_kernel(kn_unary f, float *y, const float *x, int64_t n, float a, float b) {
    KN_GRID_STRIDE(i, n) y[i] = unary_f(f, x[i], a, b);
}

__global__ void unary_bwd_kernel(kn_unary f, float *dx, const float *dy, const float *x,
                                 const float *y, int64_t n, float a, float b, int acc) {
    KN_GRID_STRIDE(i, n) kn_store(dx + i, dy[i] * unary_df(f, x[i], y[i], a, b), acc);
}

void kn_cuda_unary_fwd(kn_unary f, float *y, const float *x, int64_t n, float a, float b) {
    if (n <= 0) return;
    unary_fwd_kernel<<<kn_cuda_blocks(n), KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(f, y, x, n, a, b);
    KN_LAUNCH_CHECK("unary_fwd_kernel");
}

void kn_cuda_unary_bwd(kn_unary f, float *dx, const float *dy, const float *x, const float *y,
                       int64_t n, float a, float b, int acc) {
    if (n <= 0) return;
    unary_bwd_kernel<<<kn_cuda_blocks(n), KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(f, dx, dy, x, y,
                                                                               n, a, b, acc);
    KN_LAUNCH_CHECK("unary_bwd_kernel");
}

/* ---- softmax: one block per row ------------------------------------------- */
__global__ void softmax_fwd_kernel(float *y, const float *x, int64_t C, int logsm) {
    __shared__ float sh[KN_CUDA_BLOCK / 32];
    const float *xr = x + (int64_t)blockIdx.x * C;
    float *yr = y + (int64_t)blockIdx.x * C;
    float m = -INFINITY;
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) m = fmaxf(m, xr[j]);
    m = kn_block_max(m, sh);
    if (m == -INFINITY) m = 0; /* a fully masked row: uniform, not NaN */
    float s = 0;
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) s += expf(xr[j] - m);
    s = kn_block_sum(s, sh);
    if (logsm) {
        float l = m + logf(s);
        for (int64_t j = threadIdx.x; j < C; j += blockDim.x) yr[j] = xr[j] - l;
    } else {
        float inv = 1.0f / s;
        for (int64_t j = threadIdx.x; j < C; j += blockDim.x) yr[j] = expf(xr[j] - m) * inv;
    }
}

__global__ void softmax_bwd_kernel(float *dx, const float *dy, const float *y, int64_t C,
                                   int logsm, int acc) {
    __shared__ float sh[KN_CUDA_BLOCK / 32];
    int64_t o = (int64_t)blockIdx.x * C;
    const float *g = dy + o, *p = y + o;
    float *d = dx + o;
    float s = 0;
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) s += logsm ? g[j] : g[j] * p[j];
    s = kn_block_sum(s, sh);
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x)
        kn_store(d + j, logsm ? g[j] - expf(p[j]) * s : p[j] * (g[j] - s), acc);
}

/* rows go on grid.x (up to 2^31 - 1) */
void kn_cuda_softmax_fwd(float *y, const float *x, int64_t rows, int64_t C, int logsm) {
    if (rows <= 0 || C <= 0) return;
    softmax_fwd_kernel<<<(unsigned)rows, KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(y, x, C, logsm);
    KN_LAUNCH_CHECK("softmax_fwd_kernel");
}

void kn_cuda_softmax_bwd(float *dx, const float *dy, const float *y, int64_t rows, int64_t C,
                         int logsm, int acc) {
    if (rows <= 0 || C <= 0) return;
    softmax_bwd_kernel<<<(unsigned)rows, KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(dx, dy, y, C,
                                                                              logsm, acc);
    KN_LAUNCH_CHECK("softmax_bwd_kernel");
}
