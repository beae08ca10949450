/* kn_cuda_norm — layer norm and 2-D batch norm, forward and backward, with
 * the contracts of kernels/cpu/kn_cpu.c (layer norm) and kn_norm.h (batch
 * norm). Reductions are block-wide and in a fixed order, so results are the
 * same from run to run; the parameter gradients of layer norm go through a
 * per-chunk partial buffer (no atomics). Batch norm's statistics are in
 * double, as on the CPU: a channel holds N*H*W values. */
#include "kn_cuda_internal.cuh"

/* ---- layer norm: one block per row -------------------------------------------- */
__global__ void layernorm_fwd_kernel(float *y, float *mean, float *rstd, const float *x,
                                     const float *w, const float *b, int64_t C, float eps) {
    __shared__ float sh[KN_CUDA_BLOCK / 32];
    int64_t i = blockIdx.x;
    const float *xi = x + i * C;
    float *yi = y + i * C;
    float m = 0;
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) m += xi[j];
    m = kn_block_sum(m, sh) / (float)C;
    float v = 0;
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
        float d = xi[j] - m;
        v += d * d;
    }
    v = kn_block_sum(v, sh);
    float s = 1.0f / sqrtf(v / (float)C + eps);
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
        float o = (xi[j] - m) * s;
        if (w) o *= w[j];
        if (b) o += b[j];
        yi[j] = o;
    }
    if (threadIdx.x == 0) {
        if (mean) mean[i] = m;
        if (rstd) rstd[i] = s;
    }
}

__global__ void layernorm_dx_kernel(float *dx, const float *dy, const float *x, const float *w,
                                    const float *mean, const float *rstd, int64_t C, int accx) {
    __shared__ float sh[KN_CUDA_BLOCK / 32];
    int64_t i = blockIdx.x;
    const float *xi = x + i * C, *gi = dy + i * C;
    float m = mean[i], s = rstd[i];
    float sg = 0, sgx = 0;
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
        float dn = gi[j] * (w ? w[j] : 1.0f);
        sg += dn;
        sgx += dn * ((xi[j] - m) * s);
    }
    sg = kn_block_sum(sg, sh) / (float)C;
    sgx = kn_block_sum(sgx, sh) / (float)C;
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
        float xh = (xi[j] - m) * s;
        float dn = gi[j] * (w ? w[j] : 1.0f);
        kn_store(dx + i * C + j, s * (dn - sg - xh * sgx), accx);
    }
}

#define LN_ROWS 256 /* rows per partial sum of dw, db */

/* part[chunk][2][C]: the chunk's sums of dy*xhat and dy per column */
__global__ void layernorm_dwdb_part_kernel(float *part, const float *dy, const float *x,
                                           const float *mean, const float *rstd, int64_t N,
                                           int64_t C) {
    int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= C) return;
    int64_t r0 = (int64_t)blockIdx.y * LN_ROWS, r1 = r0 + LN_ROWS < N ? r0 + LN_ROWS : N;
    float pw = 0, pb = 0;
    for (int64_t i = r0; i < r1; i++) {
        float g = dy[i * C + j];
        pw += g * ((x[i * C + j] - mean[i]) * rstd[i]);
        pb += g;
    }
    part[(int64_t)blockIdx.y * 2 * C + j] = pw;
    part[(int64_t)blockIdx.y * 2 * C + C + j] = pb;
}

__global__ void layernorm_dwdb_sum_kernel(float *dw, float *db, const float *part, int chunks,
                                          int64_t C) {
    int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= C) return;
    float sw = 0, sb = 0;
    for (int k = 0; k < chunks; k++) {
        sw += part[(int64_t)k * 2 * C + j];
        sb += part[(int64_t)k * 2 * C + C + j];
    }
    if (dw) dw[j] += sw;
    if (db) db[j] += sb;
}

void kn_cuda_layernorm_fwd(float *y, float *mean, float *rstd, const float *x, const float *w,
                           const float *b, int64_t N, int64_t C, float eps) {
    if (N <= 0 || C <= 0) return;
    layernorm_fwd_kernel<<<(unsigned)N, KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(y, mean, rstd, x, w,
                                                                             b, C, eps);
    KN_LAUNCH_CHECK("layernorm_fwd_kernel");
}

void kn_cuda_layernorm_bwd(float *dx, float *dw, float *db, const float *dy, const float *x,
                           const float *w, const float *mean, const float *rstd, int64_t N,
                           int64_t C, int accx) {
    if (N <= 0 || C <= 0) return;
    cudaStream_t st = kn_cuda_stream();
    if (dw || db) {
        int chunks = (int)((N + LN_ROWS - 1) / LN_ROWS);
        float *part = (float *)kn_cuda_scratch((size_t)chunks * 2 * C * sizeof(float),
                                               "layernorm_bwd");
        dim3 grid((unsigned)((C + KN_CUDA_BLOCK - 1) / KN_CUDA_BLOCK), (unsigned)chunks);
        layernorm_dwdb_part_kernel<<<grid, KN_CUDA_BLOCK, 0, st>>>(part, dy, x, mean, rstd, N, C);
        KN_LAUNCH_CHECK("layernorm_dwdb_part_kernel");
        layernorm_dwdb_sum_kernel<<<grid.x, KN_CUDA_BLOCK, 0, st>>>(dw, db, part, chunks, C);
        KN_LAUNCH_CHECK("layernorm_dwdb_sum_kernel");
        kn_cuda_scratch_free(part); /* stream order: the next user waits for these */
    }
    if (dx) {
        layernorm_dx_kernel<<<(unsigned)N, KN_CUDA_BLOCK, 0, st>>>(dx, dy, x, w, mean, rstd, C, accx);
        KN_LAUNCH_CHECK("layernorm_dx_kernel");
    }
}

/* ---- batch norm: one block per channel for the statistics -------------------- */
__global__ void batchnorm_stats_kernel(float *mean, float *rstd, float *running_mean,
                                       float *running_var, const float *inp, int N, int C,
                                       int HW, int training, float momentum, float eps) {
    __shared__ double sh[KN_CUDA_BLOCK / 32];
    int c = blockIdx.x;
    size_t M = (size_t)N * HW;
    double mu, var;
    if (training) {
        double s = 0;
        for (size_t k = threadIdx.x; k < M; k += blockDim.x) {
            size_t n = k / HW, i = k % HW;
            s += inp[(n * C + c) * HW + i];
        }
        mu = kn_block_sum(s, sh) / (double)M;
        double s2 = 0; /* two passes: one-pass sums of squares cancel for large means */
        for (size_t k = threadIdx.x; k < M; k += blockDim.x) {
            size_t n = k / HW, i = k % HW;
            double d = inp[(n * C + c) * HW + i] - mu;
            s2 += d * d;
        }
        s2 = kn_block_sum(s2, sh);
        var = s2 / (double)M;
        if (threadIdx.x == 0) {
            if (running_mean)
                running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mu);
            if (running_var) {
                double unbiased = M > 1 ? s2 / (double)(M - 1) : var;
                running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * unbiased);
            }
        }
    } else {
        mu = running_mean[c];
        var = running_var[c];
    }
    if (threadIdx.x == 0) {
        mean[c] = (float)mu;
        rstd[c] = (float)(1.0 / sqrt(var + (double)eps));
    }
}

/* a (n, c) plane of HW values per block step (kn_rows): its scale and
 * shift computed once */
__global__ void batchnorm_apply_kernel(float *__restrict__ out, const float *__restrict__ inp,
                                       const float *mean, const float *rstd, const float *gamma,
                                       const float *beta, int C, int HW, int64_t planes) {
    KN_ROWS(row, planes) {
        int c = (int)(row % C);
        float r = rstd[c], g = gamma ? gamma[c] : 1.0f, b = beta ? beta[c] : 0.0f;
        float scale = g * r, shift = b - mean[c] * scale;
        const float *x = inp + row * HW;
        float *y = out + row * HW;
        for (int p0 = threadIdx.x; p0 < HW; p0 += KN_ROW_UNROLL * blockDim.x) {
            float v[KN_ROW_UNROLL];
#pragma unroll
            for (int u = 0; u < KN_ROW_UNROLL; u++) {
                int p = p0 + u * blockDim.x;
                v[u] = p < HW ? x[p] : 0.0f;
            }
#pragma unroll
            for (int u = 0; u < KN_ROW_UNROLL; u++)
                if (p0 + u * (int)blockDim.x < HW) y[p0 + u * blockDim.x] = v[u] * scale + shift;
        }
    }
}

/* One block per channel: the sums, dgamma/dbeta, then dinp. */
__global__ void batchnorm_bwd_kernel(float *dinp, float *dgamma, float *dbeta, const float *dout,
                                     const float *inp, const float *mean, const float *rstd,
                                     const float *gamma, int N, int C, int HW, int training,
                                     int acc) {
    __shared__ double sh[KN_CUDA_BLOCK / 32];
    int c = blockIdx.x;
    size_t M = (size_t)N * HW;
    float mu = mean[c], r = rstd[c], g = gamma ? gamma[c] : 1.0f;
    double sd = 0, sdx = 0;
    for (size_t k = threadIdx.x; k < M; k += blockDim.x) {
        size_t o = ((k / HW) * C + c) * HW + k % HW;
        sd += dout[o];
        sdx += (double)dout[o] * ((inp[o] - mu) * r);
    }
    sd = kn_block_sum(sd, sh);
    sdx = kn_block_sum(sdx, sh);
    if (threadIdx.x == 0) {
        if (dgamma) dgamma[c] += (float)sdx;
        if (dbeta) dbeta[c] += (float)sd;
    }
    if (!dinp) return;
    float kk = g * r;
    float md = training ? (float)(sd / (double)M) : 0.0f;
    float mdx = training ? (float)(sdx / (double)M) : 0.0f;
    for (size_t k = threadIdx.x; k < M; k += blockDim.x) {
        size_t o = ((k / HW) * C + c) * HW + k % HW;
        kn_store(dinp + o, kk * (dout[o] - md - (inp[o] - mu) * r * mdx), acc);
    }
}

void kn_cuda_batchnorm2d_fwd(float *out, float *mean, float *rstd, float *running_mean,
                             float *running_var, const float *inp, const float *gamma,
                             const float *beta, int N, int C, int HW, int training,
                             float momentum, float eps) {
    if (C <= 0) return;
    cudaStream_t st = kn_cuda_stream();
    batchnorm_stats_kernel<<<C, KN_CUDA_BLOCK, 0, st>>>(mean, rstd, running_mean, running_var,
                                                        inp, N, C, HW, training, momentum, eps);
    KN_LAUNCH_CHECK("batchnorm_stats_kernel");
    int64_t planes = (int64_t)N * C;
    if (planes <= 0 || HW <= 0) return;
    kn_rows_launch l = kn_rows(planes, HW);
    batchnorm_apply_kernel<<<l.grid, l.threads, 0, st>>>(out, inp, mean, rstd, gamma, beta, C, HW,
                                                         planes);
    KN_LAUNCH_CHECK("batchnorm_apply_kernel");
}

void kn_cuda_batchnorm2d_bwd(float *dinp, float *dgamma, float *dbeta, const float *dout,
                             const float *inp, const float *mean, const float *rstd,
                             const float *gamma, int N, int C, int HW, int training, int acc) {
    if (C <= 0) return;
    batchnorm_bwd_kernel<<<C, KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(
        dinp, dgamma, dbeta, dout, inp, mean, rstd, gamma, N, C, HW, training, acc);
    KN_LAUNCH_CHECK("batchnorm_bwd_kernel");
}
