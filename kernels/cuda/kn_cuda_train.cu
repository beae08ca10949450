/* kn_cuda_train — the training kernels (kn_backend.h): L2 normalisation of
 * rows forward and backward, one AdamW step, the clipping norm's sum of
 * squares, max's backward, the mean squared error and binary
 * cross-entropy with logits (forward: blocks of 4096 in double, as the
 * CPU's, each reduced in a fixed tree order, then the blocks in order).
 *
 * The row sums of the L2 normalisation run in one thread per row, over the
 * row in order, as the CPU's do (CLIP's rows are the embedding width, a few
 * hundred values, and there are batch-many of them: the GPU's parallelism
 * is in the elementwise part). The sum of squares over every parameter
 * gradient (millions of values) is two deterministic passes instead: fixed
 * chunks reduced per block in double, then the chunk sums in order by one
 * block, which is not the CPU's association (its parts follow its thread
 * count) but is the same on every run. */
#include "kn_cuda_internal.cuh"

/* Blocks of the first pass of the sum of squares (one partial each). */
#define KN_SUMSQ_BLOCKS 1024

__global__ void l2norm_rows_kernel(float *nrm, const float *x, int64_t N, int64_t C) {
    KN_GRID_STRIDE(i, N) {
        const float *r = x + i * C;
        double s = 0;
        for (int64_t j = 0; j < C; j++) s += (double)r[j] * r[j];
        nrm[i] = (float)sqrt(s);
    }
}

__global__ void l2norm_scale_kernel(float *y, const float *nrm, const float *x, int64_t N,
                                    int64_t C, float eps) {
    KN_GRID_STRIDE(e, N * C) {
        float nv = nrm[e / C], d = nv > eps ? nv : eps;
        y[e] = x[e] / d;
    }
}

void kn_cuda_l2norm_fwd(float *y, float *nrm, const float *x, int64_t N, int64_t C, float eps) {
    if (N <= 0) return;
    l2norm_rows_kernel<<<kn_cuda_blocks(N), KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(nrm, x, N, C);
    KN_LAUNCH_CHECK("l2norm_rows_kernel");
    if (C <= 0) return;
    l2norm_scale_kernel<<<kn_cuda_blocks(N * C), KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(y, nrm, x,
                                                                                      N, C, eps);
    KN_LAUNCH_CHECK("l2norm_scale_kernel");
}

/* dot (N) = dy . y per row, in order (float, as the CPU) */
__global__ void l2norm_dot_kernel(float *dot, const float *dy, const float *y, int64_t N,
                                  int64_t C) {
    KN_GRID_STRIDE(i, N) {
        float s = 0;
        for (int64_t j = 0; j < C; j++) s += dy[i * C + j] * y[i * C + j];
        dot[i] = s;
    }
}

__global__ void l2norm_bwd_kernel(float *dx, const float *dy, const float *y, const float *nrm,
                                  const float *dot, int64_t N, int64_t C, float eps, int acc) {
    KN_GRID_STRIDE(e, N * C) {
        int64_t i = e / C;
        float v = nrm[i] > eps ? (dy[e] - y[e] * dot[i]) / nrm[i] : dy[e] / eps;
        kn_store(dx + e, v, acc);
    }
}

void kn_cuda_l2norm_bwd(float *dx, const float *dy, const float *y, const float *nrm, int64_t N,
                        int64_t C, float eps, int acc) {
    if (N <= 0 || C <= 0) return;
    float *dot = (float *)kn_cuda_scratch((size_t)N * sizeof(float), "l2norm_bwd");
    l2norm_dot_kernel<<<kn_cuda_blocks(N), KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(dot, dy, y, N, C);
    KN_LAUNCH_CHECK("l2norm_dot_kernel");
    l2norm_bwd_kernel<<<kn_cuda_blocks(N * C), KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(
        dx, dy, y, nrm, dot, N, C, eps, acc);
    KN_LAUNCH_CHECK("l2norm_bwd_kernel");
    kn_cuda_scratch_free(dot); /* stream order: the next user waits for these */
}

__global__ void adamw_kernel(float *p, const float *g, float *m, float *v, int64_t n,
                             float decay, float step, float bc2_sqrt, float b1, float b2,
                             float eps, float a1, float a2) {
    KN_GRID_STRIDE(i, n) {
        float gi = g[i];
        float pi = p[i] * decay;
        float mi = m[i] * b1 + a1 * gi;
        float vi = v[i] * b2 + a2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        p[i] = pi + (-step) * mi / denom;
    }
}

void kn_cuda_adamw(float *p, const float *g, float *m, float *v, int64_t n, float decay,
                   float step, float bc2_sqrt, float b1, float b2, float eps, float a1, float a2) {
    if (n <= 0) return;
    adamw_kernel<<<kn_cuda_blocks(n), KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(
        p, g, m, v, n, decay, step, bc2_sqrt, b1, b2, eps, a1, a2);
    KN_LAUNCH_CHECK("adamw_kernel");
}

/* part[b] = the sum of squares of chunk b of KN_SUMSQ_BLOCKS */
__global__ void sumsq_part_kernel(double *part, const float *x, int64_t n) {
    __shared__ double sh[KN_CUDA_BLOCK / 32];
    int64_t i0 = n * blockIdx.x / gridDim.x, i1 = n * (blockIdx.x + 1) / gridDim.x;
    double s = 0;
    for (int64_t i = i0 + threadIdx.x; i < i1; i += blockDim.x) s += (double)x[i] * x[i];
    s = kn_block_sum(s, sh);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}

__global__ void sumsq_total_kernel(double *out, const double *part, int nparts) {
    if (blockIdx.x || threadIdx.x) return;
    double s = 0;
    for (int b = 0; b < nparts; b++) s += part[b];
    out[0] = s;
}

void kn_cuda_sum_squares(double *out, const float *x, int64_t n, int parts) {
    (void)parts; /* the CPU's partition follows its threads; this one is fixed */
    double *part = (double *)kn_cuda_scratch(KN_SUMSQ_BLOCKS * sizeof(double), "sum_squares");
    sumsq_part_kernel<<<KN_SUMSQ_BLOCKS, KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(part, x, n);
    KN_LAUNCH_CHECK("sumsq_part_kernel");
    sumsq_total_kernel<<<1, 1, 0, kn_cuda_stream()>>>(out, part, KN_SUMSQ_BLOCKS);
    KN_LAUNCH_CHECK("sumsq_total_kernel");
    kn_cuda_scratch_free(part);
}

__global__ void max_axis_bwd_kernel(float *dx, const float *g, const int64_t *idx, int64_t outer,
                                    int64_t K, int64_t inner) {
    KN_GRID_STRIDE(e, outer * inner) {
        int64_t o = e / inner, i = e % inner;
        dx[(o * K + idx[e]) * inner + i] += g[e]; /* one (o, i) per place: no race */
    }
}

void kn_cuda_max_axis_bwd(float *dx, const float *g, const int64_t *idx, int64_t outer, int64_t K,
                          int64_t inner) {
    if (outer * inner <= 0) return;
    max_axis_bwd_kernel<<<kn_cuda_blocks(outer * inner), KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(
        dx, g, idx, outer, K, inner);
    KN_LAUNCH_CHECK("max_axis_bwd_kernel");
}

/* Elements per block of the pair losses' sums (the CPU's BLK). */
#define KN_PAIR_BLK 4096

__global__ void pair_part_kernel(double *part, const float *x, const float *t, int64_t n, int bce) {
    __shared__ double sh[KN_CUDA_BLOCK / 32];
    int64_t i0 = (int64_t)blockIdx.x * KN_PAIR_BLK, i1 = i0 + KN_PAIR_BLK < n ? i0 + KN_PAIR_BLK : n;
    double s = 0;
    for (int64_t i = i0 + threadIdx.x; i < i1; i += blockDim.x) {
        if (!bce) s += (double)(x[i] - t[i]) * (x[i] - t[i]);
        else s += fmax((double)x[i], 0.0) - (double)x[i] * t[i] + log1p(exp(-fabs((double)x[i])));
    }
    s = kn_block_sum(s, sh);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}

__global__ void pair_mean_kernel(float *loss, const double *part, int64_t nb, int64_t n) {
    if (blockIdx.x || threadIdx.x) return;
    double s = 0;
    for (int64_t b = 0; b < nb; b++) s += part[b];
    loss[0] = n ? (float)(s / n) : 0.0f;
}

void kn_cuda_pair_loss_fwd(float *loss, const float *x, const float *t, int64_t n, int bce) {
    int64_t nb = (n + KN_PAIR_BLK - 1) / KN_PAIR_BLK;
    double *part = (double *)kn_cuda_scratch((size_t)(nb ? nb : 1) * sizeof(double), "pair_loss_fwd");
    if (nb > 0) {
        pair_part_kernel<<<(unsigned)nb, KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(part, x, t, n, bce);
        KN_LAUNCH_CHECK("pair_part_kernel");
    }
    pair_mean_kernel<<<1, 1, 0, kn_cuda_stream()>>>(loss, part, nb, n);
    KN_LAUNCH_CHECK("pair_mean_kernel");
    kn_cuda_scratch_free(part);
}

__global__ void pair_bwd_kernel(float *d, const float *g, const float *x, const float *t, int64_t n,
                                int bce, int wrt_t, int acc) {
    float s = g[0] / (float)(n ? n : 1);
    KN_GRID_STRIDE(i, n) {
        float v;
        if (!bce) v = 2.0f * (x[i] - t[i]) * s * (wrt_t ? -1.0f : 1.0f);
        else v = wrt_t ? -x[i] * s : (1.0f / (1.0f + expf(-x[i])) - t[i]) * s;
        kn_store(d + i, v, acc);
    }
}

void kn_cuda_pair_loss_bwd(float *d, const float *g, const float *x, const float *t, int64_t n,
                           int bce, int wrt_t, int acc) {
    if (n <= 0) return;
    pair_bwd_kernel<<<kn_cuda_blocks(n), KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(d, g, x, t, n, bce,
                                                                              wrt_t, acc);
    KN_LAUNCH_CHECK("pair_bwd_kernel");
}
