/* kn_wino — Winograd F(2x2, 3x3) for 3x3 stride-1 convolutions. See kn_conv.h.
 *
 * Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A on 2x2 output tiles (Lavin & Gray 2015):
 * 16 multiplies per tile and channel pair instead of 36, i.e. 2.25x fewer
 * FLOPs in the part that dominates. The element-wise stage, summed over input
 * channels, is 16 independent GEMMs  M[xi] (OC x T) = U[xi] (OC x C) V[xi]
 * (C x T)  run on kn_sgemm, T tiles at a time (a chunk of whole tile rows,
 * sized to stay near the L2 cache). Why F(2,3) and not F(4,3): its transforms
 * use only 0, ±1 and ±1/2, so its error is that of the direct sum (the CLIP
 * ResNet must match PyTorch to 2e-5 relative); F(4,3)'s lose ~1e-3.
 *
 * The transforms work on tile rows: the four input rows of a tile row are
 * gathered once, split into even and odd columns (so every later step is a
 * unit-stride loop over the tiles), transformed down the columns, then across. */
#include <string.h>

#include <omp.h>

#include "kn_assert.h"
#include "kn_conv.h"
#include "kn_gemm.h"

static int wino_tiles = 0; /* lab knob: target tiles per chunk (0: default) */
void kn_wino3_set_tiles(int t) { wino_tiles = t; }

typedef struct {
    int N, C, H, W, OC, pad, OH, OW, TH, TW;
    int rows;     /* tile rows per chunk */
    int T;        /* tiles per chunk = rows * TW */
    int nchunks;  /* over all N * TH tile rows */
    int threads;
    size_t per_thread; /* floats: V, M, row buffers */
} wino_geo;

static wino_geo wino_plan(int N, int C, int H, int W, int OC, int pad) {
    wino_geo q = {N, C, H, W, OC, pad, H + 2 * pad - 2, W + 2 * pad - 2, 0, 0, 0, 0, 0, 0, 0};
    q.TH = (q.OH + 1) / 2;
    q.TW = (q.OW + 1) / 2;
    q.threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    /* measured (engine/NOTES.md, conv 3x3): 192 tiles per chunk with up to 256
     * channels in and out together, 96 above (V and M stay nearer the cache) */
    int target = wino_tiles > 0 ? wino_tiles : C + OC <= 256 ? 192 : 96;
    int total = N * q.TH;
    /* every thread gets at least one chunk */
    int cap = (total + q.threads - 1) / q.threads, rmax = target / q.TW;
    if (rmax > cap) rmax = cap;
    if (rmax < 1) rmax = 1;
    /* the GEMM's columns come in micro-panels of KN_GEMM_NR: pick the chunk
     * (between half and all of the target) that wastes the least of its last one */
    q.rows = rmax;
    double best = 0;
    for (int r = rmax; r >= 1 && 2 * r >= rmax; r--) {
        int t = r * q.TW, panels = (t + KN_GEMM_NR - 1) / KN_GEMM_NR;
        double eff = (double)t / (panels * KN_GEMM_NR);
        if (eff > best + 0.01) { best = eff; q.rows = r; }
    }
    q.T = q.rows * q.TW;
    q.nchunks = (total + q.rows - 1) / q.rows;
    if (q.threads > q.nchunks) q.threads = q.nchunks > 0 ? q.nchunks : 1;
    q.per_thread = 16 * ((size_t)C + OC) * q.T + 8 * ((size_t)q.TW + 1) + 32;
    return q;
}

static size_t u_floats(int C, int OC) { return ((size_t)16 * C * OC + 15) / 16 * 16; }
/* one xi's U in the GEMM's packed layout */
static size_t up_floats(int C, int OC) { return (kn_sgemm_packed_a_floats(OC, C) + 15) / 16 * 16; }

size_t kn_wino3_scratch_floats(int N, int C, int H, int W, int OC, int pad) {
    wino_geo q = wino_plan(N, C, H, W, OC, pad);
    int T = omp_in_parallel() ? 1 : omp_get_max_threads();
    return u_floats(C, OC) + 16 * up_floats(C, OC) + q.per_thread * (size_t)(T > q.threads ? T : q.threads);
}

#ifdef __AVX512F__
#include <immintrin.h>

/* lanes j < 16 with 0 <= a + j < lim */
static inline __mmask16 range_mask(int a, int lim) {
    int lo = a < 0 ? -a : 0, hi = lim - a < 16 ? lim - a : 16;
    if (hi <= lo) return 0;
    return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}
static inline __mmask16 tail_mask(int n) { return n >= 16 ? 0xffff : (__mmask16)((1u << n) - 1); }
#endif

/* U[xi][oc][c] = (G g Gᵀ)[xi], G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1].
 * Vectorised over 16 input channels: one gather per kernel tap, then 16
 * unit-stride stores (the scalar version's strided stores cost a third of
 * a 512-channel 7x7 layer). */
#define WINO_GT(T, g0, g1, g2, half, add, sub, mul)                                        \
    T[0] = g0;                                                                             \
    T[1] = mul(half, add(add(g0, g1), g2));                                                \
    T[2] = mul(half, add(sub(g0, g1), g2));                                                \
    T[3] = g2
#define S_ADD(a, b) ((a) + (b))
#define S_SUB(a, b) ((a) - (b))
#define S_MUL(a, b) ((a) * (b))

static void weight_transform(float *U, const float *w, int OC, int C) {
    size_t plane = (size_t)OC * C;
#pragma omp for schedule(static)
    for (int oc = 0; oc < OC; oc++) {
        int c = 0;
        float *u = U + (size_t)oc * C;
#ifdef __AVX512F__
        const __m512i idx = _mm512_mullo_epi32(
            _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), _mm512_set1_epi32(9));
        const __m512 half = _mm512_set1_ps(0.5f);
        for (; c + 16 <= C; c += 16) {
            const float *g = w + ((size_t)oc * C + c) * 9;
            __m512 t[4][3];
            for (int j = 0; j < 3; j++) {
                __m512 g0 = _mm512_i32gather_ps(idx, g + j, 4);
                __m512 g1 = _mm512_i32gather_ps(idx, g + 3 + j, 4);
                __m512 g2 = _mm512_i32gather_ps(idx, g + 6 + j, 4);
                __m512 col[4];
                WINO_GT(col, g0, g1, g2, half, _mm512_add_ps, _mm512_sub_ps, _mm512_mul_ps);
                for (int i = 0; i < 4; i++) t[i][j] = col[i];
            }
            for (int i = 0; i < 4; i++) {
                __m512 row[4];
                WINO_GT(row, t[i][0], t[i][1], t[i][2], half, _mm512_add_ps, _mm512_sub_ps,
                        _mm512_mul_ps);
                for (int j = 0; j < 4; j++) _mm512_storeu_ps(u + (i * 4 + j) * plane + c, row[j]);
            }
        }
#endif
        for (; c < C; c++) {
            const float *g = w + ((size_t)oc * C + c) * 9;
            float t[4][3];
            for (int j = 0; j < 3; j++) {
                float col[4];
                WINO_GT(col, g[j], g[3 + j], g[6 + j], 0.5f, S_ADD, S_SUB, S_MUL);
                for (int i = 0; i < 4; i++) t[i][j] = col[i];
            }
            for (int i = 0; i < 4; i++) {
                float row[4];
                WINO_GT(row, t[i][0], t[i][1], t[i][2], 0.5f, S_ADD, S_SUB, S_MUL);
                for (int j = 0; j < 4; j++) u[(i * 4 + j) * plane + c] = row[j];
            }
        }
    }
}


/* E[k] = s[2k - p], O[k] = s[2k + 1 - p] for k < n1, zero outside [0, W). */
static void split_row(float *restrict E, float *restrict O, const float *s, int W, int p, int n1) {
    int k = 0;
#ifdef __AVX512F__
    const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i od = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    for (; k < n1; k += 16) {
        int a = 2 * k - p; /* input column of lane 0 */
        /* masked lanes are never read (AVX-512 suppresses their faults) */
        __m512 x0 = _mm512_maskz_loadu_ps(range_mask(a, W), s + a);
        __m512 x1 = _mm512_maskz_loadu_ps(range_mask(a + 16, W), s + a + 16);
        __mmask16 m = tail_mask(n1 - k);
        _mm512_mask_storeu_ps(E + k, m, _mm512_permutex2var_ps(x0, ev, x1));
        _mm512_mask_storeu_ps(O + k, m, _mm512_permutex2var_ps(x0, od, x1));
    }
#endif
    for (; k < n1; k++) {
        int a = 2 * k - p, b = a + 1;
        E[k] = a >= 0 && a < W ? s[a] : 0.0f;
        O[k] = b >= 0 && b < W ? s[b] : 0.0f;
    }
}

/* V[xi][c][t] = (Bᵀ d B)[xi] for the chunk's tiles, Bᵀ = [1 0 -1 0; 0 1 1 0;
 * 0 -1 1 0; 0 1 0 -1]. buf: 8 (TW+1) + 16 floats. */
static void input_transform(float *restrict V, float *restrict buf, const wino_geo *q,
                            const float *inp, int r0, int r1) {
    int TW = q->TW, W = q->W, H = q->H, p = q->pad, T = q->T, C = q->C;
    size_t plane = (size_t)C * T;
    int n1 = TW + 1;
    for (int c = 0; c < C; c++)
        for (int rr = r0; rr < r1; rr++) {
            int n = rr / q->TH, ty = rr % q->TH;
            const float *img = inp + ((size_t)n * C + c) * H * W;
            float *E[4], *O[4];
            for (int r = 0; r < 4; r++) {
                E[r] = buf + (2 * r) * n1;
                O[r] = buf + (2 * r + 1) * n1;
                int ih = 2 * ty - p + r;
                if (ih < 0 || ih >= H) {
                    memset(E[r], 0, sizeof(float) * n1);
                    memset(O[r], 0, sizeof(float) * n1);
                } else {
                    split_row(E[r], O[r], img + (size_t)ih * W, W, p, n1);
                }
            }
            /* columns 2tx..2tx+3 of row r are E[r][tx], O[r][tx], E[r][tx+1], O[r][tx+1];
             * down the columns a_i = (Bᵀ d)_i, then across */
            float *v = V + (size_t)c * T + (size_t)(rr - r0) * TW;
            int tx = 0;
#ifdef __AVX512F__
            for (; tx < TW; tx += 16) {
                __mmask16 m = tail_mask(TW - tx);
                __m512 e[4], o[4], e1[4], o1[4];
                for (int r = 0; r < 4; r++) {
                    e[r] = _mm512_maskz_loadu_ps(m, E[r] + tx);
                    o[r] = _mm512_maskz_loadu_ps(m, O[r] + tx);
                    e1[r] = _mm512_maskz_loadu_ps(m, E[r] + tx + 1);
                    o1[r] = _mm512_maskz_loadu_ps(m, O[r] + tx + 1);
                }
#define WINO_BT(x, y)                                                                    \
    __m512 y[4] = {_mm512_sub_ps(x[0], x[2]), _mm512_add_ps(x[1], x[2]),                 \
                   _mm512_sub_ps(x[2], x[1]), _mm512_sub_ps(x[1], x[3])}
                WINO_BT(e, ae);
                WINO_BT(o, ao);
                WINO_BT(e1, ae1);
                WINO_BT(o1, ao1);
#undef WINO_BT
                for (int i = 0; i < 4; i++) {
                    float *vi = v + (size_t)(4 * i) * plane + tx;
                    _mm512_mask_storeu_ps(vi, m, _mm512_sub_ps(ae[i], ae1[i]));
                    _mm512_mask_storeu_ps(vi + plane, m, _mm512_add_ps(ao[i], ae1[i]));
                    _mm512_mask_storeu_ps(vi + 2 * plane, m, _mm512_sub_ps(ae1[i], ao[i]));
                    _mm512_mask_storeu_ps(vi + 3 * plane, m, _mm512_sub_ps(ao[i], ao1[i]));
                }
            }
#endif
            for (; tx < TW; tx++) {
                float a[4][4];
                for (int r = 0; r < 4; r++) {
                    a[r][0] = E[r][tx]; a[r][1] = O[r][tx];
                    a[r][2] = E[r][tx + 1]; a[r][3] = O[r][tx + 1];
                }
                for (int i = 0; i < 4; i++) {
                    float d[4];
                    for (int j = 0; j < 4; j++) {
                        float b0 = a[0][j], b1 = a[1][j], b2 = a[2][j], b3 = a[3][j];
                        d[j] = i == 0 ? b0 - b2 : i == 1 ? b1 + b2 : i == 2 ? b2 - b1 : b1 - b3;
                    }
                    float *vi = v + (size_t)(4 * i) * plane + tx;
                    vi[0] = d[0] - d[2];
                    vi[plane] = d[1] + d[2];
                    vi[2 * plane] = d[2] - d[1];
                    vi[3 * plane] = d[1] - d[3];
                }
            }
        }
}

/* out (= or += by acc) Aᵀ m A + b, Aᵀ = [1 1 1 0; 0 1 -1 -1]. */
static void output_transform(float *out, const wino_geo *q, const float *restrict M,
                             const float *b, int r0, int r1, int acc) {
    int TW = q->TW, T = q->T, OC = q->OC, OH = q->OH, OW = q->OW;
    size_t plane = (size_t)OC * T;
    for (int oc = 0; oc < OC; oc++) {
        float bv = b ? b[oc] : 0.0f;
        for (int rr = r0; rr < r1; rr++) {
            int n = rr / q->TH, ty = rr % q->TH;
            const float *m = M + (size_t)oc * T + (size_t)(rr - r0) * TW;
            float *o = out + ((size_t)n * OC + oc) * OH * OW + (size_t)(2 * ty) * OW;
            int two = 2 * ty + 1 < OH; /* the tile row's second output row exists */
            int tx = 0;
#ifdef __AVX512F__
            const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
            const __m512i hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
            __m512 vb = _mm512_set1_ps(bv);
            for (; tx < TW; tx += 16) {
                __mmask16 mt = tail_mask(TW - tx);
                __m512 s0[4], s1[4];
                for (int j = 0; j < 4; j++) {
                    __m512 m0 = _mm512_maskz_loadu_ps(mt, m + (size_t)j * plane + tx);
                    __m512 m1 = _mm512_maskz_loadu_ps(mt, m + (size_t)(4 + j) * plane + tx);
                    __m512 m2 = _mm512_maskz_loadu_ps(mt, m + (size_t)(8 + j) * plane + tx);
                    __m512 m3 = _mm512_maskz_loadu_ps(mt, m + (size_t)(12 + j) * plane + tx);
                    s0[j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
                    s1[j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
                }
                int nout = OW - 2 * tx; /* valid outputs from column 2tx on */
                __mmask16 ma = range_mask(0, nout), mb = range_mask(16, nout);
                for (int i = 0; i < 1 + two; i++) {
                    __m512 *s = i ? s1 : s0;
                    __m512 ya = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s[0], s[1]), s[2]), vb);
                    __m512 yb = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s[1], s[2]), s[3]), vb);
                    __m512 ylo = _mm512_permutex2var_ps(ya, lo, yb);
                    __m512 yhi = _mm512_permutex2var_ps(ya, hi, yb);
                    float *d = o + (size_t)i * OW + 2 * tx;
                    if (acc) {
                        ylo = _mm512_add_ps(ylo, _mm512_maskz_loadu_ps(ma, d));
                        yhi = _mm512_add_ps(yhi, _mm512_maskz_loadu_ps(mb, d + 16));
                    }
                    _mm512_mask_storeu_ps(d, ma, ylo);
                    _mm512_mask_storeu_ps(d + 16, mb, yhi);
                }
            }
#endif
            for (; tx < TW; tx++) {
                float s0[4], s1[4];
                for (int j = 0; j < 4; j++) {
                    float m0 = m[(size_t)j * plane + tx], m1 = m[(size_t)(4 + j) * plane + tx];
                    float m2 = m[(size_t)(8 + j) * plane + tx], m3 = m[(size_t)(12 + j) * plane + tx];
                    s0[j] = m0 + m1 + m2;
                    s1[j] = m1 - m2 - m3;
                }
                for (int i = 0; i < 1 + two; i++) {
                    float *s = i ? s1 : s0, *d = o + (size_t)i * OW + 2 * tx;
                    float ya = s[0] + s[1] + s[2] + bv, yb = s[1] - s[2] - s[3] + bv;
                    d[0] = acc ? d[0] + ya : ya;
                    if (2 * tx + 1 < OW) d[1] = acc ? d[1] + yb : yb;
                }
            }
        }
    }
}

static void wino_chunk(const wino_geo *q, float *out, float *mine, const float *Up,
                       const float *inp, const float *b, int k, int acc) {
    int total = q->N * q->TH;
    int r0 = k * q->rows, r1 = r0 + q->rows < total ? r0 + q->rows : total;
    int T = q->T, C = q->C, OC = q->OC;
    float *V = mine, *M = V + (size_t)16 * C * T, *buf = M + (size_t)16 * OC * T;
    if (r1 - r0 < q->rows) /* a short last chunk: zero the unused tile columns */
        for (int xi = 0; xi < 16; xi++)
            for (int c = 0; c < C; c++)
                memset(V + ((size_t)xi * C + c) * T + (size_t)(r1 - r0) * q->TW, 0,
                       sizeof(float) * (T - (r1 - r0) * q->TW));
    input_transform(V, buf, q, inp, r0, r1);
    for (int xi = 0; xi < 16; xi++)
        kn_sgemm_prepacked_a(OC, T, C, Up + xi * up_floats(C, OC), V + (size_t)xi * C * T, T,
                             0.0f, M + (size_t)xi * OC * T, T);
    output_transform(out, q, M, b, r0, r1, acc);
}

int kn_wino3_ok(int KH, int KW, int stride, int pad) {
    return KH == 3 && KW == 3 && stride == 1 && pad >= 0 && pad <= 2;
}

void kn_wino3_forward(float *out, float *scratch, const float *inp, const float *w,
                      const float *b, int N, int C, int H, int W, int OC, int pad, int acc) {
    wino_geo q = wino_plan(N, C, H, W, OC, pad);
    KN_ASSERT(q.OH > 0 && q.OW > 0 && pad >= 0 && pad <= 2);
    float *U = scratch, *Up = U + u_floats(C, OC), *rest = Up + 16 * up_floats(C, OC);
    /* U is packed for the GEMM once here, not once per chunk */
#define WINO_PACK_U                                                                     \
    _Pragma("omp for schedule(static)") for (int xi = 0; xi < 16; xi++)                 \
        kn_sgemm_pack_a(Up + xi * up_floats(C, OC), 0, OC, C, 1.0f, U + (size_t)xi * OC * C, C)
    if (q.threads > 1) {
#pragma omp parallel num_threads(q.threads)
        {
            weight_transform(U, w, OC, C); /* each `omp for` ends in a barrier */
            WINO_PACK_U;
            float *mine = rest + q.per_thread * omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
            for (int k = 0; k < q.nchunks; k++) wino_chunk(&q, out, mine, Up, inp, b, k, acc);
        }
    } else {
        weight_transform(U, w, OC, C);
        WINO_PACK_U;
        for (int k = 0; k < q.nchunks; k++) wino_chunk(&q, out, rest, Up, inp, b, k, acc);
    }
#undef WINO_PACK_U
}
