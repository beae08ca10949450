/* kn_cuda_attention — multi-head attention on packed qkv (B,T,3C), the
 * contract of kernels/cpu/kn_cpu.c: out (B,T,C), att (B,H,T,T) the softmax
 * probabilities, scale 1/sqrt(C/H), an optional causal mask.
 *
 * Forward, T <= KN_ATT_FUSED_T (CLIP's 50 and 77): one fused kernel, one
 * block per (b, h, query row): the row's scores go to shared memory, the
 * softmax and P·V follow in the same block, nothing but att and out is
 * written. Longer sequences take the plain path: per batch item one
 * strided-batched cuBLAS call over the heads for S = QKᵀ, a masked softmax
 * kernel, and one for O = PV. Backward is always the plain path: dP = dO Vᵀ,
 * dV (=|+=) Pᵀ dO, dS = P∘(dP - rowsum(dP∘P))·scale, dQ (=|+=) dS K,
 * dK (=|+=) dSᵀ Q.
 */
#include "kn_cuda_internal.cuh"

#define KN_ATT_FUSED_T 128 /* the fused forward keeps T scores in shared memory */

/* grid (T, H, B); block KN_CUDA_BLOCK */
__global__ void attention_fused_kernel(float *out, float *att, const float *qkv, int T, int C,
                                       int H, int causal, float scale) {
    __shared__ float p[KN_ATT_FUSED_T];
    __shared__ float sh[KN_CUDA_BLOCK / 32];
    int i = blockIdx.x, h = blockIdx.y, b = blockIdx.z, hs = C / H;
    const float *base = qkv + (size_t)b * T * 3 * C + h * hs;
    const float *q = base + (size_t)i * 3 * C;
    int jn = causal ? i + 1 : T; /* keys past the mask are exactly 0 */
    for (int j = threadIdx.x; j < T; j += blockDim.x) {
        float s = -INFINITY;
        if (j < jn) {
            const float *k = base + (size_t)j * 3 * C + C;
            float acc = 0;
            for (int d = 0; d < hs; d++) acc += q[d] * k[d];
            s = acc * scale;
        }
        p[j] = s;
    }
    __syncthreads();
    float m = -INFINITY;
    for (int j = threadIdx.x; j < T; j += blockDim.x) m = fmaxf(m, p[j]);
    m = kn_block_max(m, sh);
    if (m == -INFINITY) m = 0;
    float s = 0;
    for (int j = threadIdx.x; j < T; j += blockDim.x) s += expf(p[j] - m);
    s = kn_block_sum(s, sh);
    float inv = 1.0f / s;
    float *arow = att + (((size_t)b * H + h) * T + i) * T;
    __syncthreads(); /* every thread has read p for the sums */
    for (int j = threadIdx.x; j < T; j += blockDim.x) {
        float e = expf(p[j] - m) * inv;
        p[j] = e;
        arow[j] = e;
    }
    __syncthreads();
    float *o = out + ((size_t)b * T + i) * C + h * hs;
    for (int d = threadIdx.x; d < hs; d += blockDim.x) {
        float acc = 0;
        for (int j = 0; j < jn; j++) acc += p[j] * base[(size_t)j * 3 * C + 2 * C + d];
        o[d] = acc;
    }
}

/* rows of S (B*H*T of length T): masked softmax in place */
__global__ void attention_softmax_kernel(float *P, int T, int causal) {
    __shared__ float sh[KN_CUDA_BLOCK / 32];
    int64_t r = blockIdx.x;
    int i = (int)(r % T);
    float *row = P + r * T;
    float m = -INFINITY;
    for (int j = threadIdx.x; j < T; j += blockDim.x) {
        if (causal && j > i) row[j] = -INFINITY;
        m = fmaxf(m, row[j]);
    }
    m = kn_block_max(m, sh);
    if (m == -INFINITY) m = 0;
    float s = 0;
    for (int j = threadIdx.x; j < T; j += blockDim.x) s += expf(row[j] - m);
    s = kn_block_sum(s, sh);
    float inv = 1.0f / s;
    for (int j = threadIdx.x; j < T; j += blockDim.x) row[j] = expf(row[j] - m) * inv;
}

/* dS = P (dP - rowsum(dP P)) scale, in place over dP */
__global__ void attention_dsoftmax_kernel(float *dP, const float *P, int T, float scale) {
    __shared__ float sh[KN_CUDA_BLOCK / 32];
    int64_t r = blockIdx.x;
    float *d = dP + r * T;
    const float *p = P + r * T;
    float s = 0;
    for (int j = threadIdx.x; j < T; j += blockDim.x) s += d[j] * p[j];
    s = kn_block_sum(s, sh);
    for (int j = threadIdx.x; j < T; j += blockDim.x) d[j] = p[j] * (d[j] - s) * scale;
}

void kn_cuda_attention_fwd(float *out, float *att, const float *qkv, int B, int T, int C, int H,
                           int causal) {
    if (B <= 0 || T <= 0) return;
    int hs = C / H;
    float scale = 1.0f / sqrtf((float)hs);
    if (T <= KN_ATT_FUSED_T) {
        dim3 grid((unsigned)T, (unsigned)H, (unsigned)B);
        attention_fused_kernel<<<grid, KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(out, att, qkv, T, C,
                                                                            H, causal, scale);
        KN_LAUNCH_CHECK("attention_fused_kernel");
        return;
    }
    size_t tt = (size_t)T * T;
    for (int b = 0; b < B; b++) {
        const float *q = qkv + (size_t)b * T * 3 * C, *k = q + C;
        float *P = att + (size_t)b * H * tt;
        /* S_h = scale Q_h K_hᵀ for every head h at once (heads hs apart) */
        kn_cuda_gemm_batched(0, 1, T, T, hs, scale, q, 3 * C, hs, k, 3 * C, hs, 0.0f, P, T,
                             (int64_t)tt, H);
    }
    attention_softmax_kernel<<<(unsigned)((size_t)B * H * T), KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(
        att, T, causal);
    KN_LAUNCH_CHECK("attention_softmax_kernel");
    for (int b = 0; b < B; b++) {
        const float *v = qkv + (size_t)b * T * 3 * C + 2 * C;
        kn_cuda_gemm_batched(0, 0, T, hs, T, 1.0f, att + (size_t)b * H * tt, T, (int64_t)tt, v,
                             3 * C, hs, 0.0f, out + (size_t)b * T * C, C, hs, H);
    }
}

void kn_cuda_attention_bwd(float *dqkv, const float *dout, const float *qkv, const float *att,
                           int B, int T, int C, int H, int acc) {
    if (B <= 0 || T <= 0) return;
    int hs = C / H;
    float scale = 1.0f / sqrtf((float)hs), beta = acc ? 1.0f : 0.0f;
    size_t tt = (size_t)T * T;
    float *dP = (float *)kn_cuda_scratch((size_t)B * H * tt * sizeof(float), "attention_bwd");
    for (int b = 0; b < B; b++) {
        size_t o3 = (size_t)b * T * 3 * C;
        const float *v = qkv + o3 + 2 * C, *dO = dout + (size_t)b * T * C;
        const float *P = att + (size_t)b * H * tt;
        float *dv = dqkv + o3 + 2 * C;
        kn_cuda_gemm_batched(0, 1, T, T, hs, 1.0f, dO, C, hs, v, 3 * C, hs, 0.0f,
                             dP + (size_t)b * H * tt, T, (int64_t)tt, H);            /* dP = dO Vᵀ */
        kn_cuda_gemm_batched(1, 0, T, hs, T, 1.0f, P, T, (int64_t)tt, dO, C, hs, beta, dv,
                             3 * C, hs, H);                                           /* dV = Pᵀ dO */
    }
    attention_dsoftmax_kernel<<<(unsigned)((size_t)B * H * T), KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(
        dP, att, T, scale);
    KN_LAUNCH_CHECK("attention_dsoftmax_kernel");
    for (int b = 0; b < B; b++) {
        size_t o3 = (size_t)b * T * 3 * C;
        const float *q = qkv + o3, *k = q + C;
        float *dq = dqkv + o3, *dk = dq + C;
        const float *dS = dP + (size_t)b * H * tt;
        kn_cuda_gemm_batched(0, 0, T, hs, T, 1.0f, dS, T, (int64_t)tt, k, 3 * C, hs, beta, dq,
                             3 * C, hs, H);                                           /* dQ = dS K */
        kn_cuda_gemm_batched(1, 0, T, hs, T, 1.0f, dS, T, (int64_t)tt, q, 3 * C, hs, beta, dk,
                             3 * C, hs, H);                                           /* dK = dSᵀ Q */
    }
    kn_cuda_scratch_free(dP);
}
