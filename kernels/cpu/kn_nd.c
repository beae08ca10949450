/* The CPU's strided and indexing kernels (kn_nd.h). The engine's CPU paths
 * call copy_nd, binary_nd, max_axis, xent_fwd and l2norm_fwd/bwd through
 * kn_backend_get(EN_CPU); reduce_sum, the row gather/scatter and xent_bwd
 * repeat the engine's loops (en_views.c en_reduce_to, en_ops_reduce.c,
 * en_ops_index.c, en_ops_loss.c) with the same arithmetic in the same order. */
#include "kn_nd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kn_assert.h"

void kn_copy_nd(float *dst, const int64_t *ds, const float *src, const int64_t *ss, int nd,
                const int64_t *shape, int acc) {
    if (nd == 0) {
        dst[0] = acc ? dst[0] + src[0] : src[0];
        return;
    }
    int64_t inner = shape[nd - 1], outer = 1;
    for (int i = 0; i < nd - 1; i++) outer *= shape[i];
    int64_t dsi = ds[nd - 1], ssi = ss[nd - 1];
#pragma omp parallel for if (outer * inner > 65536)
    for (int64_t o = 0; o < outer; o++) {
        int64_t r = o, doff = 0, soff = 0;
        for (int d = nd - 2; d >= 0; d--) {
            int64_t i = r % shape[d];
            r /= shape[d];
            doff += i * ds[d];
            soff += i * ss[d];
        }
        float *dp = dst + doff;
        const float *sp = src + soff;
        if (acc)
            for (int64_t i = 0; i < inner; i++) dp[i * dsi] += sp[i * ssi];
        else if (dsi == 1 && ssi == 1)
            memcpy(dp, sp, (size_t)inner * sizeof(float));
        else
            for (int64_t i = 0; i < inner; i++) dp[i * dsi] = sp[i * ssi];
    }
}

void kn_binary_nd(kn_binary f, float *out, int nd, const int64_t *shape, const float *x,
                  const int64_t *sx, const float *y, const int64_t *sy, const float *z,
                  const int64_t *sz) {
    KN_ASSERT(f >= 0 && f < KN_BINARY_COUNT);
    int64_t inner = nd ? shape[nd - 1] : 1, outer = 1;
    for (int i = 0; i + 1 < nd; i++) outer *= shape[i];
    int64_t ix = nd ? sx[nd - 1] : 0, iy = (nd && sy) ? sy[nd - 1] : 0, iz = (nd && sz) ? sz[nd - 1] : 0;
#pragma omp parallel for if (outer * inner > 65536)
    for (int64_t o = 0; o < outer; o++) {
        int64_t r = o, ox = 0, oy = 0, oz = 0;
        for (int d = nd - 2; d >= 0; d--) {
            int64_t i = r % shape[d];
            r /= shape[d];
            ox += i * sx[d];
            if (sy) oy += i * sy[d];
            if (sz) oz += i * sz[d];
        }
        float *op = out + o * inner;
        const float *xp = x + ox, *yp = y ? y + oy : NULL, *zp = z ? z + oz : NULL;
        for (int64_t i = 0; i < inner; i++)
            op[i] = kn_binary_apply(f, xp[i * ix], yp ? yp[i * iy] : 0.0f, zp ? zp[i * iz] : 0.0f);
    }
}

void kn_reduce_sum(float *out, const float *x, int64_t outer, int64_t R, int64_t inner,
                   float scale, int acc) {
    KN_ASSERT(acc != 2 || scale == 1.0f);
#pragma omp parallel for if (outer * R * inner > 65536)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *p = x + o * R * inner + i;
            float *d = out + o * inner + i;
            float s = acc == 2 ? *d : 0.0f;
            for (int64_t r = 0; r < R; r++) s += p[r * inner];
            if (scale != 1.0f) s *= scale;
            *d = acc == 1 ? *d + s : s;
        }
}

void kn_max_axis(float *val, int64_t *idx, const float *x, int64_t outer, int64_t K,
                 int64_t inner) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *p = x + o * K * inner + i;
            int64_t best = 0;
            for (int64_t k = 1; k < K; k++)
                if (p[k * inner] > p[best * inner]) best = k;
            idx[o * inner + i] = best;
            if (val) val[o * inner + i] = p[best * inner];
        }
}

void kn_max_axis_bwd(float *dx, const float *g, const int64_t *idx, int64_t outer, int64_t K,
                     int64_t inner) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) dx[o * K * inner + idx[o * inner + i] * inner + i] += g[o * inner + i];
}

void kn_gather_rows(float *out, const float *x, const int64_t *idx, int64_t M, int64_t row) {
#pragma omp parallel for if (M * row > 65536)
    for (int64_t i = 0; i < M; i++) memcpy(out + i * row, x + idx[i] * row, (size_t)row * sizeof(float));
}

void kn_scatter_rows(float *dx, const float *g, const int64_t *idx, int64_t M, int64_t row) {
    for (int64_t i = 0; i < M; i++) /* serial: repeated indices add up */
        for (int64_t j = 0; j < row; j++) dx[idx[i] * row + j] += g[i * row + j];
}

void kn_xent_fwd(float *loss, float *lse, const float *x, const int64_t *t, int64_t N, int64_t K) {
#pragma omp parallel for if (N * K > 65536)
    for (int64_t i = 0; i < N; i++) {
        const float *r = x + i * K;
        float m = -INFINITY;
        for (int64_t j = 0; j < K; j++) m = r[j] > m ? r[j] : m;
        double s = 0;
        for (int64_t j = 0; j < K; j++) s += exp((double)r[j] - m);
        lse[i] = (float)(m + log(s));
    }
    double total = 0; /* summed in row order: the same bits at any thread count */
    for (int64_t i = 0; i < N; i++) total += (double)lse[i] - x[i * K + t[i]];
    loss[0] = N ? (float)(total / N) : 0.0f;
}

void kn_xent_bwd(float *dx, const float *g, const float *x, const float *lse, const int64_t *t,
                 int64_t N, int64_t K, int acc) {
    float s = g[0] / (float)(N ? N : 1);
#pragma omp parallel for if (N * K > 65536)
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < K; j++) {
            float v = (expf(x[i * K + j] - lse[i]) - (j == t[i] ? 1.0f : 0.0f)) * s;
            dx[i * K + j] = acc ? dx[i * K + j] + v : v;
        }
}

/* ---- training kernels: en_ops_reduce.c's L2 normalisation and en_optim.c's
 * AdamW and clipping norm, the same arithmetic in the same order ---------- */
void kn_l2norm_fwd(float *y, float *nrm, const float *x, int64_t N, int64_t C, float eps) {
#pragma omp parallel for if (N * C > 65536)
    for (int64_t i = 0; i < N; i++) {
        double s = 0;
        for (int64_t j = 0; j < C; j++) s += (double)x[i * C + j] * x[i * C + j];
        float nv = (float)sqrt(s), d = nv > eps ? nv : eps;
        nrm[i] = nv;
        for (int64_t j = 0; j < C; j++) y[i * C + j] = x[i * C + j] / d;
    }
}

void kn_l2norm_bwd(float *dx, const float *dy, const float *y, const float *nrm, int64_t N,
                   int64_t C, float eps, int acc) {
#pragma omp parallel for if (N * C > 65536)
    for (int64_t i = 0; i < N; i++) {
        const float *gi = dy + i * C, *yi = y + i * C;
        float *di = dx + i * C;
        float v;
        if (nrm[i] > eps) {
            float s = 0;
            for (int64_t j = 0; j < C; j++) s += gi[j] * yi[j];
            for (int64_t j = 0; j < C; j++) {
                v = (gi[j] - yi[j] * s) / nrm[i];
                di[j] = acc ? di[j] + v : v;
            }
        } else {
            for (int64_t j = 0; j < C; j++) {
                v = gi[j] / eps;
                di[j] = acc ? di[j] + v : v;
            }
        }
    }
}

void kn_adamw(float *p, const float *g, float *m, float *v, int64_t n, float decay, float step,
              float bc2_sqrt, float b1, float b2, float eps, float a1, float a2) {
#pragma omp parallel for schedule(static) if (n >= 32768)
    for (int64_t i = 0; i < n; i++) {
        float pi = p[i] * decay;
        float mi = m[i] * b1 + a1 * g[i];
        float vi = v[i] * b2 + a2 * g[i] * g[i];
        m[i] = mi; v[i] = vi;
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        p[i] = pi + (-step) * mi / denom;
    }
}

void kn_sum_squares(double *out, const float *x, int64_t n, int parts) {
    KN_ASSERT(parts >= 1);
    double s = 0;
    for (int t = 0; t < parts; t++) {
        int64_t i0 = n * t / parts, i1 = n * (t + 1) / parts;
        double ps = 0;
        for (int64_t i = i0; i < i1; i++) ps += (double)x[i] * x[i];
        s += ps;
    }
    out[0] = s;
}

/* en_ops_loss.c's mse and bce_with_logits */
void kn_pair_loss_fwd(float *loss, const float *x, const float *t, int64_t n, int bce) {
    enum { BLK = 4096 };
    int64_t nb = (n + BLK - 1) / BLK;
    double *part = malloc((size_t)(nb ? nb : 1) * sizeof(double));
    KN_ASSERT(part != NULL);
#pragma omp parallel for if (n > 65536)
    for (int64_t b = 0; b < nb; b++) {
        double s = 0;
        for (int64_t i = b * BLK; i < n && i < (b + 1) * BLK; i++) {
            if (!bce) s += (double)(x[i] - t[i]) * (x[i] - t[i]);
            else s += fmax(x[i], 0.0) - (double)x[i] * t[i] + log1p(exp(-fabs((double)x[i])));
        }
        part[b] = s;
    }
    double s = 0;
    for (int64_t b = 0; b < nb; b++) s += part[b];
    free(part);
    loss[0] = n ? (float)(s / n) : 0.0f;
}

void kn_pair_loss_bwd(float *d, const float *g, const float *x, const float *t, int64_t n, int bce,
                      int wrt_t, int acc) {
    float s = g[0] / (float)(n ? n : 1);
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; i++) {
        float v;
        if (!bce) v = 2.0f * (x[i] - t[i]) * s * (wrt_t ? -1.0f : 1.0f);
        else v = wrt_t ? -x[i] * s : (1.0f / (1.0f + expf(-x[i])) - t[i]) * s;
        d[i] = acc ? d[i] + v : v;
    }
}
