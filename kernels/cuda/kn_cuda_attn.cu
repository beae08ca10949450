/* kn_cuda_attention — multi-head attention on packed qkv (B,T,3C), the
 * contract of kernels/cpu/kn_cpu.c: out (B,T,C), att (B,H,T,T) the softmax
 * probabilities, scale 1/sqrt(C/H), an optional causal mask.
 *
 * Forward, T <= KN_ATT_FUSED_T and a head size of 32 or 64 (CLIP's T = 50
 * and 77, head size 64): attention_rows_kernel, a thread per query row (see
 * there). Other head sizes up to 32 KN_ATT_PER_LANE: one fused kernel, one block per
 * (head, batch item). The block loads the head's K and V into shared memory
 * once; each warp then takes query rows: its lanes score KN_ATT_PER_LANE keys
 * each (q read once per d for all of them), the softmax runs on warp
 * shuffles, and the lanes sum P·V over their KN_ATT_PER_LANE output
 * columns. Nothing but att and out is written. Longer sequences take the
 * plain path: S = QKᵀ by strided-batched cuBLAS calls, a masked softmax
 * kernel, O = PV. Backward is always the plain path: dP = dO Vᵀ,
 * dV (=|+=) Pᵀ dO, dS = P∘(dP - rowsum(dP∘P))·scale, dQ (=|+=) dS K,
 * dK (=|+=) dSᵀ Q. The plain paths make one batched call per head, over
 * the batch items (T·3C apart in qkv, H·T·T in att): H calls per product
 * instead of B.
 *
 * The first fused kernel (session 8) gave a block to each query row and
 * read K from global memory with T·3C strides between threads: 2.6 ms at
 * ViT-B/32's batch-256 shapes on an H200, a third of the encoder's time.
 */
#include <stdint.h>

#include "kn_cuda_internal.cuh"

#define KN_ATT_FUSED_T 128 /* longest sequence of the fused forward */
#define KN_ATT_PER_LANE 4  /* keys and output columns per lane: T, hs <= 128 */
#define KN_ATT_WARPS 4     /* warps (query rows at a time) per block */

static size_t fused_smem(int T, int hs) {
    /* K (T, hs+1: the +1 spreads a warp's keys over the banks), V (T, hs),
     * and per warp one q row and one row of probabilities */
    return sizeof(float) * ((size_t)T * (hs + 1) + (size_t)T * hs + (size_t)KN_ATT_WARPS * (hs + T));
}

/* grid (H, B); block 32 * KN_ATT_WARPS; dynamic shared memory fused_smem */
__global__ void attention_fused_kernel(float *out, float *att, const float *qkv, int T, int C,
                                       int H, int causal, float scale) {
    extern __shared__ float sm[];
    int h = blockIdx.x, b = blockIdx.y, hs = C / H, ks = hs + 1;
    float *Ks = sm, *Vs = Ks + (size_t)T * ks, *Qs = Vs + (size_t)T * hs, *Ps = Qs + KN_ATT_WARPS * hs;
    const float *base = qkv + (size_t)b * T * 3 * C + (size_t)h * hs;
    for (int e = threadIdx.x; e < T * hs; e += blockDim.x) {
        int j = e / hs, d = e % hs;
        const float *row = base + (size_t)j * 3 * C;
        Ks[j * ks + d] = row[C + d];
        Vs[j * hs + d] = row[2 * C + d];
    }
    __syncthreads();
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    float *q = Qs + warp * hs, *p = Ps + warp * T;
    for (int i = warp; i < T; i += KN_ATT_WARPS) {
        const float *qg = base + (size_t)i * 3 * C;
        for (int d = lane; d < hs; d += 32) q[d] = qg[d];
        __syncwarp();
        int jn = causal ? i + 1 : T; /* keys past the mask get exactly 0 */
        float acc[KN_ATT_PER_LANE];
        const float *kr[KN_ATT_PER_LANE];
#pragma unroll
        for (int t = 0; t < KN_ATT_PER_LANE; t++) {
            int j = lane + 32 * t;
            acc[t] = 0;
            kr[t] = Ks + (size_t)(j < T ? j : T - 1) * ks; /* in bounds; unused past jn */
        }
        for (int d = 0; d < hs; d++) {
            float qd = q[d];
#pragma unroll
            for (int t = 0; t < KN_ATT_PER_LANE; t++) acc[t] += qd * kr[t][d];
        }
        float m = -INFINITY;
#pragma unroll
        for (int t = 0; t < KN_ATT_PER_LANE; t++) {
            acc[t] *= scale;
            if (lane + 32 * t < jn) m = fmaxf(m, acc[t]);
        }
        m = kn_warp_max(m);
        if (m == -INFINITY) m = 0;
        float sum = 0;
#pragma unroll
        for (int t = 0; t < KN_ATT_PER_LANE; t++) {
            acc[t] = lane + 32 * t < jn ? expf(acc[t] - m) : 0.0f;
            sum += acc[t];
        }
        float inv = 1.0f / kn_warp_sum(sum);
        float *arow = att + (((size_t)b * H + h) * T + i) * T;
#pragma unroll
        for (int t = 0; t < KN_ATT_PER_LANE; t++) {
            int j = lane + 32 * t;
            if (j < T) {
                float e = acc[t] * inv;
                p[j] = e;
                arow[j] = e;
            }
        }
        __syncwarp();
        float o[KN_ATT_PER_LANE];
#pragma unroll
        for (int t = 0; t < KN_ATT_PER_LANE; t++) o[t] = 0;
        for (int j = 0; j < jn; j++) {
            float pj = p[j];
            const float *vr = Vs + (size_t)j * hs;
#pragma unroll
            for (int t = 0; t < KN_ATT_PER_LANE; t++)
                if (lane + 32 * t < hs) o[t] += pj * vr[lane + 32 * t];
        }
        float *og = out + ((size_t)b * T + i) * C + (size_t)h * hs;
#pragma unroll
        for (int t = 0; t < KN_ATT_PER_LANE; t++)
            if (lane + 32 * t < hs) og[lane + 32 * t] = o[t];
        __syncwarp(); /* q and p are rewritten for the next row */
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

/* Head sizes of 32 and 64 (CLIP's are all 64): one thread per query row,
 * q and the output row in registers, the head's K and V in shared memory
 * read as float4 broadcasts (every thread of a warp reads the same key), so
 * one shared-memory load feeds 4 x 32 multiply-adds. Two passes over the
 * keys: the row's maximum and softmax sum (online), then p = exp(s - m) / l
 * written to att and summed into the output as the CPU does. grid (H, B,
 * ceil(T / blockDim)); dynamic shared memory 2 T HS floats. */
/* q . k over HS: four partial sums (one per float4 lane), so that the
 * chain of dependent multiply-adds is HS / 4 long, not HS (a single sum
 * left the kernel latency-bound: 230 us at ViT-B/32 batch 256) */
template <int HS> __device__ inline float dot_row(const float *q, const float4 *k) {
    float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
#pragma unroll
    for (int d4 = 0; d4 < HS / 4; d4++) {
        float4 kv = k[d4];
        a0 += q[4 * d4] * kv.x;
        a1 += q[4 * d4 + 1] * kv.y;
        a2 += q[4 * d4 + 2] * kv.z;
        a3 += q[4 * d4 + 3] * kv.w;
    }
    return (a0 + a1) + (a2 + a3);
}

template <int HS>
__global__ void __launch_bounds__(128) attention_rows_kernel(float *out, float *att, const float *qkv,
                                                             int T, int C, int H, int causal,
                                                             float scale) {
    extern __shared__ float4 sm4[];
    int h = blockIdx.x, b = blockIdx.y;
    float4 *Ks = sm4, *Vs = sm4 + (size_t)T * (HS / 4);
    const float *base = qkv + (size_t)b * T * 3 * C + (size_t)h * HS;
    for (int e = threadIdx.x; e < T * (HS / 4); e += blockDim.x) {
        int j = e / (HS / 4), d4 = e % (HS / 4);
        const float4 *row = (const float4 *)(base + (size_t)j * 3 * C);
        Ks[e] = row[C / 4 + d4];
        Vs[e] = row[C / 2 + d4];
    }
    __syncthreads();
    int i = blockIdx.z * blockDim.x + threadIdx.x;
    if (i >= T) return;
    float q[HS], o[HS];
    const float4 *qg = (const float4 *)(base + (size_t)i * 3 * C);
#pragma unroll
    for (int d4 = 0; d4 < HS / 4; d4++) {
        float4 v = qg[d4];
        q[4 * d4] = v.x; q[4 * d4 + 1] = v.y; q[4 * d4 + 2] = v.z; q[4 * d4 + 3] = v.w;
    }
    int jn = causal ? i + 1 : T; /* keys past the mask get exactly 0 */
    float m = -INFINITY, l = 0;
    for (int j = 0; j < jn; j++) {
        const float4 *k = Ks + (size_t)j * (HS / 4);
        float acc = dot_row<HS>(q, k);
        float sc = acc * scale;
        if (sc > m) {
            l *= expf(m - sc);
            m = sc;
        }
        l += expf(sc - m);
    }
    float inv = 1.0f / l;
#pragma unroll
    for (int d = 0; d < HS; d++) o[d] = 0;
    float *arow = att + (((size_t)b * H + h) * T + i) * T;
    for (int j = 0; j < jn; j++) {
        const float4 *k = Ks + (size_t)j * (HS / 4), *v = Vs + (size_t)j * (HS / 4);
        float acc = dot_row<HS>(q, k);
        float p = expf(acc * scale - m) * inv;
        arow[j] = p;
#pragma unroll
        for (int d4 = 0; d4 < HS / 4; d4++) {
            float4 vv = v[d4];
            o[4 * d4] += p * vv.x;
            o[4 * d4 + 1] += p * vv.y;
            o[4 * d4 + 2] += p * vv.z;
            o[4 * d4 + 3] += p * vv.w;
        }
    }
    for (int j = jn; j < T; j++) arow[j] = 0.0f;
    float4 *og = (float4 *)(out + ((size_t)b * T + i) * C + (size_t)h * HS);
#pragma unroll
    for (int d4 = 0; d4 < HS / 4; d4++) og[d4] = make_float4(o[4 * d4], o[4 * d4 + 1], o[4 * d4 + 2], o[4 * d4 + 3]);
}

template <int HS>
static void attention_rows(float *out, float *att, const float *qkv, int B, int T, int C, int H,
                           int causal, float scale) {
    int threads = 32 * ((T + 31) / 32);
    if (threads > 128) threads = 128;
    size_t smem = 2 * sizeof(float) * (size_t)T * HS;
    static int raised = 0;
    if (smem > 48 * 1024 && !raised) {
        int dev = 0, v = 0;
        KN_CUDA_CHECK(cudaGetDevice(&dev));
        KN_CUDA_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
        KN_CUDA_CHECK(cudaFuncSetAttribute(attention_rows_kernel<HS>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize, v));
        raised = 1;
    }
    dim3 grid((unsigned)H, (unsigned)B, (unsigned)((T + threads - 1) / threads));
    attention_rows_kernel<HS><<<grid, threads, smem, kn_cuda_stream()>>>(out, att, qkv, T, C, H,
                                                                        causal, scale);
    KN_LAUNCH_CHECK("attention_rows_kernel");
}

/* the largest dynamic shared memory a block may have (opt-in), once */
static size_t smem_limit(void) {
    static size_t lim = 0;
    if (!lim) {
        int dev = 0, v = 0;
        KN_CUDA_CHECK(cudaGetDevice(&dev));
        KN_CUDA_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
        KN_CUDA_CHECK(cudaFuncSetAttribute(attention_fused_kernel,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize, v));
        lim = (size_t)v;
    }
    return lim;
}

void kn_cuda_attention_fwd(float *out, float *att, const float *qkv, int B, int T, int C, int H,
                           int causal) {
    if (B <= 0 || T <= 0) return;
    int hs = C / H;
    float scale = 1.0f / sqrtf((float)hs);
    int aligned = ((uintptr_t)qkv % 16 == 0 && (uintptr_t)out % 16 == 0 && C % 4 == 0);
    if (T <= KN_ATT_FUSED_T && aligned && (hs == 64 || hs == 32)) {
        if (hs == 64) attention_rows<64>(out, att, qkv, B, T, C, H, causal, scale);
        else attention_rows<32>(out, att, qkv, B, T, C, H, causal, scale);
        return;
    }
    if (T <= KN_ATT_FUSED_T && hs <= 32 * KN_ATT_PER_LANE && fused_smem(T, hs) <= smem_limit()) {
        dim3 grid((unsigned)H, (unsigned)B);
        attention_fused_kernel<<<grid, 32 * KN_ATT_WARPS, fused_smem(T, hs), kn_cuda_stream()>>>(
            out, att, qkv, T, C, H, causal, scale);
        KN_LAUNCH_CHECK("attention_fused_kernel");
        return;
    }
    size_t tt = (size_t)T * T;
    int64_t sq = (int64_t)T * 3 * C, sp = (int64_t)H * tt; /* batch items apart */
    for (int h = 0; h < H; h++) /* S_h = scale Q_h K_hᵀ for every batch item at once */
        kn_cuda_gemm_batched(0, 1, T, T, hs, scale, qkv + h * hs, 3 * C, sq, qkv + C + h * hs,
                             3 * C, sq, 0.0f, att + h * tt, T, sp, B);
    attention_softmax_kernel<<<(unsigned)((size_t)B * H * T), KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(
        att, T, causal);
    KN_LAUNCH_CHECK("attention_softmax_kernel");
    for (int h = 0; h < H; h++) /* O_h = P_h V_h */
        kn_cuda_gemm_batched(0, 0, T, hs, T, 1.0f, att + h * tt, T, sp, qkv + 2 * C + h * hs, 3 * C,
                             sq, 0.0f, out + h * hs, C, (int64_t)T * C, B);
}

void kn_cuda_attention_bwd(float *dqkv, const float *dout, const float *qkv, const float *att,
                           int B, int T, int C, int H, int acc) {
    if (B <= 0 || T <= 0) return;
    int hs = C / H;
    float scale = 1.0f / sqrtf((float)hs), beta = acc ? 1.0f : 0.0f;
    size_t tt = (size_t)T * T;
    int64_t sq = (int64_t)T * 3 * C, so = (int64_t)T * C, sp = (int64_t)H * tt; /* batch items apart */
    float *dP = (float *)kn_cuda_scratch((size_t)B * H * tt * sizeof(float), "attention_bwd");
    for (int h = 0; h < H; h++) {
        size_t oh = (size_t)h * hs;
        const float *v = qkv + 2 * C + oh, *dO = dout + oh, *P = att + h * tt;
        kn_cuda_gemm_batched(0, 1, T, T, hs, 1.0f, dO, C, so, v, 3 * C, sq, 0.0f, dP + h * tt, T,
                             sp, B);                                                  /* dP = dO Vᵀ */
        kn_cuda_gemm_batched(1, 0, T, hs, T, 1.0f, P, T, sp, dO, C, so, beta, dqkv + 2 * C + oh,
                             3 * C, sq, B);                                           /* dV = Pᵀ dO */
    }
    attention_dsoftmax_kernel<<<(unsigned)((size_t)B * H * T), KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(
        dP, att, T, scale);
    KN_LAUNCH_CHECK("attention_dsoftmax_kernel");
    for (int h = 0; h < H; h++) {
        size_t oh = (size_t)h * hs;
        const float *q = qkv + oh, *k = qkv + C + oh, *dS = dP + h * tt;
        kn_cuda_gemm_batched(0, 0, T, hs, T, 1.0f, dS, T, sp, k, 3 * C, sq, beta, dqkv + oh, 3 * C,
                             sq, B);                                                  /* dQ = dS K */
        kn_cuda_gemm_batched(1, 0, T, hs, T, 1.0f, dS, T, sp, q, 3 * C, sq, beta, dqkv + C + oh,
                             3 * C, sq, B);                                           /* dK = dSᵀ Q */
    }
    kn_cuda_scratch_free(dP);
}
