/* kn_cuda_nd — the strided and indexing kernels (kn_backend.h): strided
 * copy, broadcast binary functions, sums and maxima along an axis, row
 * gathers and scatters, cross-entropy. One thread per output element for
 * the elementwise ones; shapes and strides travel by value (nd <=
 * KN_MAX_DIMS). Sums run over r in order in one thread, as the CPU's do,
 * so their bits match the CPU's; the scatter adds with atomicAdd (its sums
 * may change in the last bit between runs, as max-pool's backward). */
#include <string.h>

#include "kn_cuda_internal.cuh"

struct nd_geom {
    int nd;
    int small; /* every index and offset fits 32 bits: 32-bit division */
    int64_t shape[KN_MAX_DIMS];
    int64_t s[3][KN_MAX_DIMS]; /* strides of up to three operands */
};

/* The geometry with size-1 dimensions dropped and neighbours merged where
 * every operand steps through them as one (s[d-1] = s[d] shape[d]): a
 * contiguous elementwise op becomes one dimension, a bias added to rows
 * two, and each element costs fewer divisions (64-bit ones, in the first
 * version, made an add of ViT-B/32's activations at batch 256 take 100 us,
 * three times its memory traffic). */
static nd_geom geom(int nd, const int64_t *shape, const int64_t *a, const int64_t *b,
                    const int64_t *c) {
    nd_geom g;
    memset(&g, 0, sizeof g);
    if (nd > KN_MAX_DIMS) kn_cuda_fail("nd kernels", "geom", "too many dims", __FILE__, __LINE__);
    int k = 0;
    for (int i = 0; i < nd; i++) {
        if (shape[i] == 1) continue;
        int64_t st[3] = {a ? a[i] : 0, b ? b[i] : 0, c ? c[i] : 0};
        if (k > 0 && g.s[0][k - 1] == st[0] * shape[i] && g.s[1][k - 1] == st[1] * shape[i] &&
            g.s[2][k - 1] == st[2] * shape[i]) {
            g.shape[k - 1] *= shape[i];
            for (int o = 0; o < 3; o++) g.s[o][k - 1] = st[o];
            continue;
        }
        g.shape[k] = shape[i];
        for (int o = 0; o < 3; o++) g.s[o][k] = st[o];
        k++;
    }
    if (k == 0) g.shape[k++] = 1; /* a single element */
    g.nd = k;
    int64_t n = 1, span[3] = {0, 0, 0};
    for (int i = 0; i < k; i++) {
        n *= g.shape[i];
        for (int o = 0; o < 3; o++) span[o] += (g.shape[i] - 1) * (g.s[o][i] < 0 ? -g.s[o][i] : g.s[o][i]);
    }
    g.small = n < ((int64_t)1 << 31) && span[0] < ((int64_t)1 << 31) && span[1] < ((int64_t)1 << 31) &&
              span[2] < ((int64_t)1 << 31);
    return g;
}

static int64_t numel(int nd, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < nd; i++) n *= shape[i];
    return n;
}

/* offsets of the row-major element e in the three operands */
template <typename I>
__device__ inline void offsets_t(const nd_geom &g, I e, int64_t *o0, int64_t *o1, int64_t *o2) {
    I a = 0, b = 0, c = 0;
    for (int d = g.nd - 1; d > 0; d--) {
        I sh = (I)g.shape[d], i = e % sh;
        e /= sh;
        a += i * (I)g.s[0][d];
        b += i * (I)g.s[1][d];
        c += i * (I)g.s[2][d];
    }
    a += e * (I)g.s[0][0]; /* the outermost needs no division */
    b += e * (I)g.s[1][0];
    c += e * (I)g.s[2][0];
    *o0 = a;
    *o1 = b;
    *o2 = c;
}
__device__ inline void offsets(const nd_geom &g, int64_t e, int64_t *o0, int64_t *o1, int64_t *o2) {
    if (g.small) offsets_t<int>(g, (int)e, o0, o1, o2);
    else offsets_t<int64_t>(g, e, o0, o1, o2);
}

__global__ void copy_nd_kernel(float *dst, const float *src, nd_geom g, int64_t n, int acc) {
    KN_GRID_STRIDE(e, n) {
        int64_t od, os, unused;
        offsets(g, e, &od, &os, &unused);
        kn_store(dst + od, src[os], acc);
    }
}

/* rows of `cols` contiguous floats, dst rows ds apart, src rows ss apart
 * (0: one row broadcast, as a bias into a linear's output) */
__global__ void copy_rows_kernel(float *__restrict__ dst, int64_t ds, const float *__restrict__ src,
                                 int64_t ss, int64_t rows, int cols, int acc) {
    KN_ROWS(row, rows) {
        const float *s = src + row * ss;
        float *d = dst + row * ds;
        for (int c0 = threadIdx.x; c0 < cols; c0 += KN_ROW_UNROLL * blockDim.x) {
            float v[KN_ROW_UNROLL];
#pragma unroll
            for (int u = 0; u < KN_ROW_UNROLL; u++) {
                int c = c0 + u * blockDim.x;
                v[u] = c < cols ? s[c] : 0.0f;
            }
#pragma unroll
            for (int u = 0; u < KN_ROW_UNROLL; u++)
                if (c0 + u * (int)blockDim.x < cols) kn_store(d + c0 + u * blockDim.x, v[u], acc);
        }
    }
}

void kn_cuda_copy_nd(float *dst, const int64_t *ds, const float *src, const int64_t *ss, int nd,
                     const int64_t *shape, int acc) {
    int64_t n = numel(nd, shape);
    if (n <= 0) return;
    nd_geom g = geom(nd, shape, ds, ss, NULL);
    /* many contiguous rows: a row kernel (no division per element) */
    if (g.nd == 2 && g.s[0][1] == 1 && g.s[1][1] == 1 && g.shape[0] >= 1024 && g.shape[1] < ((int64_t)1 << 31) &&
        g.s[0][0] >= g.shape[1]) { /* dst rows apart, src rows any (0: broadcast) */
        kn_rows_launch l = kn_rows(g.shape[0], g.shape[1]);
        copy_rows_kernel<<<l.grid, l.threads, 0, kn_cuda_stream()>>>(dst, g.s[0][0], src, g.s[1][0],
                                                                    g.shape[0], (int)g.shape[1], acc);
        KN_LAUNCH_CHECK("copy_rows_kernel");
        return;
    }
    copy_nd_kernel<<<kn_cuda_blocks(n), KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(dst, src, g, n, acc);
    KN_LAUNCH_CHECK("copy_nd_kernel");
}

__device__ inline float bapply(kn_binary f, float x, float y, float z) {
    switch (f) {
    case KN_B_ADD: return x + y;
    case KN_B_SUB: return x - y;
    case KN_B_MUL: return x * y;
    case KN_B_DIV: return x / y;
    case KN_B_NDIV_SQ: return -x * z / (y * y);
    default: return -x;
    }
}

__global__ void binary_nd_kernel(kn_binary f, float *out, const float *x, const float *y,
                                 const float *z, nd_geom g, int64_t n) {
    KN_GRID_STRIDE(e, n) {
        int64_t ox, oy, oz;
        offsets(g, e, &ox, &oy, &oz);
        out[e] = bapply(f, x[ox], y ? y[oy] : 0.0f, z ? z[oz] : 0.0f);
    }
}

void kn_cuda_binary_nd(kn_binary f, float *out, int nd, const int64_t *shape, const float *x,
                       const int64_t *sx, const float *y, const int64_t *sy, const float *z,
                       const int64_t *sz) {
    int64_t n = numel(nd, shape);
    if (n <= 0) return;
    binary_nd_kernel<<<kn_cuda_blocks(n), KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(
        f, out, x, y, z, geom(nd, shape, sx, sy, sz), n);
    KN_LAUNCH_CHECK("binary_nd_kernel");
}

/* one thread per output (o, i): the sum over r in order, from 0.0f (acc = 2:
 * from out) */
__global__ void reduce_sum_kernel(float *out, const float *x, int64_t outer, int64_t R,
                                  int64_t inner, float scale, int acc) {
    KN_GRID_STRIDE(e, outer * inner) {
        int64_t o = e / inner, i = e % inner;
        const float *p = x + o * R * inner + i;
        float s = acc == 2 ? out[e] : 0.0f;
        for (int64_t r = 0; r < R; r++) s += p[r * inner];
        if (scale != 1.0f) s *= scale;
        kn_store(out + e, s, acc == 1);
    }
}

void kn_cuda_reduce_sum(float *out, const float *x, int64_t outer, int64_t R, int64_t inner,
                        float scale, int acc) {
    int64_t n = outer * inner;
    if (n <= 0) return;
    reduce_sum_kernel<<<kn_cuda_blocks(n), KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(
        out, x, outer, R, inner, scale, acc);
    KN_LAUNCH_CHECK("reduce_sum_kernel");
}

__global__ void max_axis_kernel(float *val, int64_t *idx, const float *x, int64_t outer,
                                int64_t K, int64_t inner) {
    KN_GRID_STRIDE(e, outer * inner) {
        int64_t o = e / inner, i = e % inner;
        const float *p = x + o * K * inner + i;
        int64_t best = 0;
        for (int64_t k = 1; k < K; k++)
            if (p[k * inner] > p[best * inner]) best = k;
        idx[e] = best;
        if (val) val[e] = p[best * inner];
    }
}

void kn_cuda_max_axis(float *val, int64_t *idx, const float *x, int64_t outer, int64_t K,
                      int64_t inner) {
    int64_t n = outer * inner;
    if (n <= 0) return;
    max_axis_kernel<<<kn_cuda_blocks(n), KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(val, idx, x,
                                                                              outer, K, inner);
    KN_LAUNCH_CHECK("max_axis_kernel");
}

__global__ void gather_rows_kernel(float *out, const float *x, const int64_t *idx, int64_t M,
                                   int64_t row) {
    KN_GRID_STRIDE(e, M * row) out[e] = x[idx[e / row] * row + e % row];
}

void kn_cuda_gather_rows(float *out, const float *x, const int64_t *idx, int64_t M, int64_t row) {
    if (M * row <= 0) return;
    gather_rows_kernel<<<kn_cuda_blocks(M * row), KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(out, x,
                                                                                       idx, M, row);
    KN_LAUNCH_CHECK("gather_rows_kernel");
}

__global__ void scatter_rows_kernel(float *dx, const float *g, const int64_t *idx, int64_t M,
                                    int64_t row) {
    KN_GRID_STRIDE(e, M * row) atomicAdd(dx + idx[e / row] * row + e % row, g[e]);
}

void kn_cuda_scatter_rows(float *dx, const float *g, const int64_t *idx, int64_t M, int64_t row) {
    if (M * row <= 0) return;
    scatter_rows_kernel<<<kn_cuda_blocks(M * row), KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(
        dx, g, idx, M, row);
    KN_LAUNCH_CHECK("scatter_rows_kernel");
}

/* ---- cross-entropy: a block per row for log-sum-exp (double, as the CPU),
 * then one thread sums the rows in order (the CPU's order) ---------------- */
__global__ void xent_lse_kernel(float *lse, const float *x, int64_t K) {
    __shared__ float shf[KN_CUDA_BLOCK / 32];
    __shared__ double shd[KN_CUDA_BLOCK / 32];
    const float *r = x + (int64_t)blockIdx.x * K;
    float m = -INFINITY;
    for (int64_t j = threadIdx.x; j < K; j += blockDim.x) m = fmaxf(m, r[j]);
    m = kn_block_max(m, shf);
    double s = 0;
    for (int64_t j = threadIdx.x; j < K; j += blockDim.x) s += exp((double)r[j] - m);
    s = kn_block_sum(s, shd);
    if (threadIdx.x == 0) lse[blockIdx.x] = (float)(m + log(s));
}

__global__ void xent_mean_kernel(float *loss, const float *lse, const float *x, const int64_t *t,
                                 int64_t N, int64_t K) {
    if (blockIdx.x || threadIdx.x) return;
    double total = 0;
    for (int64_t i = 0; i < N; i++) total += (double)lse[i] - x[i * K + t[i]];
    loss[0] = N ? (float)(total / N) : 0.0f;
}

void kn_cuda_xent_fwd(float *loss, float *lse, const float *x, const int64_t *t, int64_t N,
                      int64_t K) {
    if (N > 0 && K > 0) {
        xent_lse_kernel<<<(unsigned)N, KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(lse, x, K);
        KN_LAUNCH_CHECK("xent_lse_kernel");
    }
    xent_mean_kernel<<<1, 1, 0, kn_cuda_stream()>>>(loss, lse, x, t, N, K);
    KN_LAUNCH_CHECK("xent_mean_kernel");
}

__global__ void xent_bwd_kernel(float *dx, const float *g, const float *x, const float *lse,
                                const int64_t *t, int64_t N, int64_t K, int acc) {
    float s = g[0] / (float)(N ? N : 1);
    KN_GRID_STRIDE(e, N * K) {
        int64_t i = e / K, j = e % K;
        kn_store(dx + e, (expf(x[e] - lse[i]) - (j == t[i] ? 1.0f : 0.0f)) * s, acc);
    }
}

void kn_cuda_xent_bwd(float *dx, const float *g, const float *x, const float *lse,
                      const int64_t *t, int64_t N, int64_t K, int acc) {
    if (N * K <= 0) return;
    xent_bwd_kernel<<<kn_cuda_blocks(N * K), KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(dx, g, x, lse,
                                                                                  t, N, K, acc);
    KN_LAUNCH_CHECK("xent_bwd_kernel");
}
