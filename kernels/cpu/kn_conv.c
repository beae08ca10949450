/* kn_conv — im2col + GEMM convolutions. See kn_conv.h for the contract. */
#include "kn_conv.h"

#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kn_assert.h"
#include "kn_gemm.h"

#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include <omp.h>

/* Images per GEMM: enough that the GEMM has ~KN_CONV_MIN_COLS columns. */
static int conv_group(int N, int P) {
    int g = (KN_CONV_MIN_COLS + P - 1) / P;
    if (g < 1) g = 1;
    if (g > N) g = N;
    return g;
}

static void im2col(float *cols, const float *img, int C, int H, int W, int KH, int KW,
                   int stride, int pad, int OH, int OW, int ld, int par) {
    int K = C * KH * KW;
#pragma omp parallel for schedule(static) if (par && K * OH * OW > 16384)
    for (int r = 0; r < K; r++) {
        int kw = r % KW, kh = (r / KW) % KH, c = r / (KW * KH);
        const float *src = img + (size_t)c * H * W;
        float *dst = cols + (size_t)r * ld;
        for (int oh = 0; oh < OH; oh++) {
            int ih = oh * stride - pad + kh;
            float *d = dst + (size_t)oh * OW;
            if (ih < 0 || ih >= H) {
                memset(d, 0, sizeof(float) * OW);
                continue;
            }
            const float *s = src + (size_t)ih * W;
            if (stride == 1) {
                /* contiguous run: the valid ow are those with 0 <= ow-pad+kw < W */
                int lo = pad - kw, hi = W + pad - kw; /* ow in [lo, hi) valid */
                if (lo < 0) lo = 0;
                if (hi > OW) hi = OW;
                if (hi < lo) hi = lo;
                for (int ow = 0; ow < lo; ow++) d[ow] = 0;
                if (hi > lo) memcpy(d + lo, s + lo - pad + kw, sizeof(float) * (hi - lo));
                for (int ow = hi; ow < OW; ow++) d[ow] = 0;
            } else {
                for (int ow = 0; ow < OW; ow++) {
                    int iw = ow * stride - pad + kw;
                    d[ow] = (iw >= 0 && iw < W) ? s[iw] : 0.0f;
                }
            }
        }
    }
}

static void col2im(float *img, const float *cols, int C, int H, int W, int KH, int KW,
                   int stride, int pad, int OH, int OW, int ld, int acc, int par) {
    /* one thread per channel: a channel's rows only touch that channel's plane */
#pragma omp parallel for schedule(static) if (par && C * KH * KW * OH * OW > 16384)
    for (int c = 0; c < C; c++) {
        float *dst = img + (size_t)c * H * W;
        if (!acc) memset(dst, 0, sizeof(float) * H * W);
        for (int kh = 0; kh < KH; kh++)
            for (int kw = 0; kw < KW; kw++) {
                const float *src = cols + (size_t)((c * KH + kh) * KW + kw) * ld;
                for (int oh = 0; oh < OH; oh++) {
                    int ih = oh * stride - pad + kh;
                    if (ih < 0 || ih >= H) continue;
                    float *d = dst + (size_t)ih * W;
                    const float *s = src + (size_t)oh * OW;
                    for (int ow = 0; ow < OW; ow++) {
                        int iw = ow * stride - pad + kw;
                        if (iw >= 0 && iw < W) d[iw] += s[ow];
                    }
                }
            }
    }
}

/* Copies gn images' (R, P) planes into one (R, gn*P) matrix, or back. */
static void gather_planes(float *dst, const float *src, int gn, int R, int P, int par) {
#pragma omp parallel for collapse(2) schedule(static) if (par && (size_t)gn * R * P > 65536)
    for (int i = 0; i < gn; i++)
        for (int r = 0; r < R; r++)
            memcpy(dst + (size_t)r * gn * P + (size_t)i * P,
                   src + ((size_t)i * R + r) * P, sizeof(float) * P);
}
static void scatter_planes(float *dst, const float *src, const float *bias, int gn,
                           int R, int P, int acc, int par) {
#pragma omp parallel for collapse(2) schedule(static) if (par && (size_t)gn * R * P > 65536)
    for (int i = 0; i < gn; i++)
        for (int r = 0; r < R; r++) {
            float *d = dst + ((size_t)i * R + r) * P;
            const float *s = src + (size_t)r * gn * P + (size_t)i * P;
            float bv = bias ? bias[r] : 0.0f;
            if (acc)
                for (int p = 0; p < P; p++) d[p] += s[p] + bv;
            else
                for (int p = 0; p < P; p++) d[p] = s[p] + bv;
        }
}

/* Called inside a parallel region (orphaned `omp for`) or outside one. */
static void bias_grad(float *db, const float *dout, int N, int OC, int P) {
#pragma omp for schedule(static)
    for (int oc = 0; oc < OC; oc++) {
        double s = 0;
        for (int n = 0; n < N; n++) {
            const float *d = dout + ((size_t)n * OC + oc) * P;
            float t = 0;
            for (int p = 0; p < P; p++) t += d[p];
            s += t;
        }
        db[oc] += (float)s;
    }
}

void kn_im2col(float *cols, const float *img, int C, int H, int W, int KH, int KW,
               int stride, int pad, int OH, int OW, int ld) {
    im2col(cols, img, C, H, W, KH, KW, stride, pad, OH, OW, ld, 1);
}
void kn_col2im(float *img, const float *cols, int C, int H, int W, int KH, int KW,
               int stride, int pad, int OH, int OW, int ld, int acc) {
    col2im(img, cols, C, H, W, KH, KW, stride, pad, OH, OW, ld, acc, 1);
}

/* ---- threading ---------------------------------------------------------------
 * Two plans. With a batch of at least T images (T = OpenMP threads) every
 * thread takes a slice of the batch and runs im2col and its GEMMs itself,
 * with OpenBLAS held to one thread: OpenMP's workers keep spinning for a
 * while after a parallel region, and when OpenBLAS's own pthreads start a
 * GEMM in that window the two sets fight over the cores (measured: half the
 * GEMM rate on 2 cores). With fewer images, the loops are OpenMP-threaded
 * and the GEMMs OpenBLAS-threaded, one after the other. */

typedef struct {
    int N, C, H, W, OC, KH, KW, stride, pad, OH, OW;
    int P, K;       /* output pixels per image; im2col rows */
    int T, g;       /* threads of the sliced plan (1: loop plan); images per GEMM */
    size_t chunk;   /* scratch floats per thread */
    int split;      /* forward threads splitting each image's pixels (0: none) */
    size_t split_per; /* their scratch floats each */
} conv_geo;

static int sliced_plan = 1;
void kn_conv_set_sliced(int on) { sliced_plan = on; }

static int conv_threads(int N) {
    int T = omp_in_parallel() || !sliced_plan ? 1 : omp_get_max_threads();
    return T > 1 && N >= T ? T : 1;
}

static conv_geo conv_plan(int N, int C, int H, int W, int OC, int KH, int KW, int stride,
                          int pad) {
    conv_geo q = {N, C, H, W, OC, KH, KW, stride, pad, kn_conv_out_size(H, KH, stride, pad),
                  kn_conv_out_size(W, KW, stride, pad), 0, 0, 0, 0, 0, 0, 0};
    q.P = q.OH * q.OW;
    q.K = C * KH * KW;
    q.T = conv_threads(N);
    q.g = conv_group((N + q.T - 1) / q.T, q.P);
    /* cols, dcols, gathered dout; plus a private dw for every thread but 0 */
    q.chunk = (2 * (size_t)q.K + OC) * q.g * q.P + (q.T > 1 ? (size_t)OC * q.K : 0);
    /* fewer images than threads (inference on one image): the forward splits
     * each image's output pixels over the threads instead */
    int TT = omp_in_parallel() || !sliced_plan ? 1 : omp_get_max_threads();
    if (q.T == 1 && TT > 1 && q.P >= 2 * TT) {
        q.split = TT;
        q.split_per = (size_t)q.K * ((q.P + TT - 1) / TT);
    }
    return q;
}

/* Runs body(t, n0, n1) on T threads with OpenBLAS held to one thread, or
 * once on the whole batch with threading left to the loops and OpenBLAS. */
#define CONV_RUN(q, body)                                                       \
    do {                                                                        \
        if ((q).T > 1) {                                                        \
            int prev_ = openblas_get_num_threads();                             \
            openblas_set_num_threads(1);                                        \
            _Pragma("omp parallel num_threads((q).T)") {                        \
                int t = omp_get_thread_num();                                   \
                int n0 = (int)((long)(q).N * t / (q).T);                        \
                int n1 = (int)((long)(q).N * (t + 1) / (q).T);                  \
                body;                                                           \
            }                                                                   \
            openblas_set_num_threads(prev_);                                    \
        } else {                                                                \
            int t = 0, n0 = 0, n1 = (q).N;                                      \
            (void)t;                                                            \
            body;                                                               \
        }                                                                       \
    } while (0)

/* ---- conv2d ---------------------------------------------------------------- */

static int dinp_by_flipped_conv(int KH, int KW, int stride, int pad);
static size_t flipped_w_floats(int C, int OC, int KH, int KW);
static int use_wino(int N, int C, int H, int W, int OC, int KH, int KW, int stride, int pad);

size_t kn_conv2d_scratch_floats(int N, int C, int H, int W, int OC, int KH, int KW,
                                int stride, int pad) {
    conv_geo q = conv_plan(N, C, H, W, OC, KH, KW, stride, pad);
    size_t need = q.chunk * q.T, split = q.split_per * q.split;
    if (split > need) need = split;
    if (use_wino(N, C, H, W, OC, KH, KW, stride, pad)) {
        size_t wn = kn_wino3_scratch_floats(N, C, H, W, OC, pad);
        if (wn > need) need = wn;
    }
    if (dinp_by_flipped_conv(KH, KW, stride, pad)) {
        conv_geo f = conv_plan(N, OC, q.OH, q.OW, C, KH, KW, 1, KH - 1 - pad);
        size_t fn = f.chunk * f.T > f.split_per * f.split ? f.chunk * f.T : f.split_per * f.split;
        if (use_wino(N, OC, q.OH, q.OW, C, KH, KW, 1, KH - 1 - pad)) {
            size_t wn = kn_wino3_scratch_floats(N, OC, q.OH, q.OW, C, KH - 1 - pad);
            if (wn > fn) fn = wn;
        }
        fn += flipped_w_floats(C, OC, KH, KW);
        if (fn > need) need = fn;
    }
    return need;
}

static int is_pointwise(const conv_geo *q) {
    return q->KH == 1 && q->KW == 1 && q->stride == 1 && q->pad == 0;
}

/* dw's column matrix stored (im2col) rather than packed straight from the
 * images: the implicit packer gathers each of a column's K values apart,
 * which costs more than it saves when K is small (measured on the mini
 * ResNet's layers, engine/NOTES.md "mini ResNet step": K = 27 and 36
 * (stem) 4-5x faster stored, K = 72 1.4x, K = 144 even, K >= 288 slower). */
enum { DW_STORED_MAX_K = 144 };

/* ---- implicit im2col ----------------------------------------------------------
 * With the native GEMM, the forward's and dw's GEMMs never store the column
 * matrix: their B packers read each block straight from the input images
 * (which stay in cache), saving a write and a read of K x pixels floats per
 * image. Measured on RN50 3x3 layers, one thread: forward 5-28 % faster,
 * dw 5-25 %. (dinp still goes through a stored dcols and col2im.) */

/* ---- the variant in force (CLIPBOOK_CONV, kn_conv.h) ----------------------- */
static const char *const variant_names[KN_CONV_VARIANT_COUNT] = {"auto", "winograd", "implicit", "im2col"};
_Static_assert(sizeof variant_names / sizeof *variant_names == KN_CONV_VARIANT_COUNT, "a name per variant");
static kn_conv_variant variant = KN_CONV_AUTO;
static pthread_once_t variant_once = PTHREAD_ONCE_INIT;

int kn_conv_variant_parse(const char *s, kn_conv_variant *out) {
    for (int v = 0; s && v < KN_CONV_VARIANT_COUNT; v++)
        if (!strcmp(s, variant_names[v])) { *out = (kn_conv_variant)v; return 1; }
    return 0;
}
const char *kn_conv_variant_name(kn_conv_variant v) {
    return v >= 0 && v < KN_CONV_VARIANT_COUNT ? variant_names[v] : "?";
}
static void variant_init(void) {
    const char *e = getenv("CLIPBOOK_CONV");
    if (e && *e && !kn_conv_variant_parse(e, &variant)) {
        fprintf(stderr, "clipbook: CLIPBOOK_CONV=%s is not auto, winograd, implicit or im2col; using auto\n", e);
        variant = KN_CONV_AUTO;
    }
}
kn_conv_variant kn_conv_variant_forced(void) {
    pthread_once(&variant_once, variant_init);
    return variant;
}
void kn_conv_set_variant(kn_conv_variant v) {
    pthread_once(&variant_once, variant_init);
    variant = v;
}

static int implicit_on = 1;
void kn_conv_set_implicit(int on) { implicit_on = on; }
static int use_implicit(void) {
    return implicit_on && kn_conv_variant_forced() != KN_CONV_IM2COL && kn_sgemm_is_native();
}

typedef struct {
    const conv_geo *q;
    const float *base; /* image 0 of the group */
    int col0;          /* virtual column of the GEMM's column 0 */
} cols_ctx;

/* dst[t*ds] = cols[r][j + t] for t < n, where column j = i*P + oh*OW + ow
 * of the group's virtual im2col matrix and row r = (c, kh, kw). */
static void im2col_segment(float *dst, int ds, const cols_ctx *x, int r, int j, int n) {
    const conv_geo *q = x->q;
    int kw = r % q->KW, kh = (r / q->KW) % q->KH, c = r / (q->KW * q->KH);
    size_t in_sz = (size_t)q->C * q->H * q->W;
    int i = j / q->P, p = j % q->P, oh = p / q->OW, ow = p % q->OW;
    const float *img = x->base + i * in_sz + (size_t)c * q->H * q->W;
    while (n > 0) {
        int run = q->OW - ow < n ? q->OW - ow : n;
        int ih = oh * q->stride - q->pad + kh;
        if (ih < 0 || ih >= q->H) {
            for (int t = 0; t < run; t++) dst[(size_t)t * ds] = 0.0f;
        } else if (q->stride == 1 && ds == 1) {
            /* a contiguous run of the input row, zero-padded at its ends */
            const float *s = img + (size_t)ih * q->W - q->pad + kw;
            int lo = q->pad - kw - ow, hi = q->W + q->pad - kw - ow; /* valid t in [lo, hi) */
            if (lo < 0) lo = 0;
            if (hi > run) hi = run;
            if (hi < lo) hi = lo;
            for (int t = 0; t < lo; t++) dst[t] = 0.0f;
            if (hi > lo) memcpy(dst + lo, s + ow + lo, sizeof(float) * (hi - lo));
            for (int t = hi; t < run; t++) dst[t] = 0.0f;
        } else {
            const float *s = img + (size_t)ih * q->W;
            for (int t = 0; t < run; t++) {
                int iw = (ow + t) * q->stride - q->pad + kw;
                dst[(size_t)t * ds] = (iw >= 0 && iw < q->W) ? s[iw] : 0.0f;
            }
        }
        dst += (size_t)run * ds;
        n -= run;
        ow += run;
        if (ow == q->OW) {
            ow = 0;
            if (++oh == q->OH) { oh = 0; img += in_sz; }
        }
    }
}

/* B = the column matrix (K x columns): the forward's operand. A panel's
 * columns fall into runs along output rows, listed once; each of the kc rows
 * (c, kh, kw) then copies its runs from the input (stride 1: one memcpy each). */
typedef struct { int off, len, oh, ow; const float *img; } col_run;

static void pack_cols(float *Bp, const void *ctx, int p0, int kc, int j0, int nc) {
    const cols_ctx *x = ctx;
    const conv_geo *q = x->q;
    size_t in_sz = (size_t)q->C * q->H * q->W, plane = (size_t)q->H * q->W;
    for (int jp = 0; jp < nc; jp += KN_GEMM_NR) {
        int nr = nc - jp < KN_GEMM_NR ? nc - jp : KN_GEMM_NR;
        float *dst = Bp + (size_t)jp * kc;
        col_run runs[KN_GEMM_NR];
        int nrun = 0, j = x->col0 + j0 + jp;
        int i = j / q->P, p = j % q->P, oh = p / q->OW, ow = p % q->OW;
        for (int off = 0; off < nr;) {
            int len = q->OW - ow < nr - off ? q->OW - ow : nr - off;
            runs[nrun++] = (col_run){off, len, oh, ow, x->base + i * in_sz};
            off += len;
            ow += len;
            if (ow == q->OW) {
                ow = 0;
                if (++oh == q->OH) { oh = 0; i++; }
            }
        }
        int r = p0, kw = r % q->KW, kh = (r / q->KW) % q->KH, c = r / (q->KW * q->KH);
        for (int k = 0; k < kc; k++) {
            float *d = dst + (size_t)k * KN_GEMM_NR;
            for (int u = 0; u < nrun; u++) {
                col_run ru = runs[u];
                float *o = d + ru.off;
                int ih = ru.oh * q->stride - q->pad + kh;
                if (ih < 0 || ih >= q->H) {
                    memset(o, 0, sizeof(float) * ru.len);
                    continue;
                }
                const float *s = ru.img + c * plane + (size_t)ih * q->W;
                if (q->stride == 1) {
                    int lo = q->pad - kw - ru.ow, hi = q->W + q->pad - kw - ru.ow;
                    if (lo < 0) lo = 0;
                    if (hi > ru.len) hi = ru.len;
                    if (hi < lo) hi = lo;
                    for (int t = 0; t < lo; t++) o[t] = 0.0f;
                    if (hi > lo) memcpy(o + lo, s + ru.ow - q->pad + kw + lo, sizeof(float) * (hi - lo));
                    for (int t = hi; t < ru.len; t++) o[t] = 0.0f;
                } else {
                    for (int t = 0; t < ru.len; t++) {
                        int iw = (ru.ow + t) * q->stride - q->pad + kw;
                        o[t] = (iw >= 0 && iw < q->W) ? s[iw] : 0.0f;
                    }
                }
            }
            for (int t = nr; t < KN_GEMM_NR; t++) d[t] = 0.0f;
            if (++kw == q->KW) {
                kw = 0;
                if (++kh == q->KH) { kh = 0; c++; }
            }
        }
    }
}

/* B = the column matrix transposed (columns x K): dw's operand. */
static void pack_cols_t(float *Bp, const void *ctx, int p0, int kc, int j0, int nc) {
    const cols_ctx *x = ctx;
    for (int jp = 0; jp < nc; jp += KN_GEMM_NR) {
        int nr = nc - jp < KN_GEMM_NR ? nc - jp : KN_GEMM_NR;
        float *dst = Bp + (size_t)jp * kc;
        for (int t = 0; t < nr; t++)
            im2col_segment(dst + t, KN_GEMM_NR, x, j0 + jp + t, x->col0 + p0, kc);
        for (int t = nr; t < KN_GEMM_NR; t++)
            for (int k = 0; k < kc; k++) dst[(size_t)k * KN_GEMM_NR + t] = 0.0f;
    }
}

/* Forward of images [n0, n1); par: thread the loops (loop plan). */
/* out (=|+= by acc) conv(inp) + b, images [n0, n1). */
static void conv2d_fwd_range(const conv_geo *q, float *out, float *scratch, const float *inp,
                             const float *w, const float *b, int n0, int n1, int par, int acc) {
    int P = q->P, K = q->K, OC = q->OC, g = q->g;
    size_t in_sz = (size_t)q->C * q->H * q->W, out_sz = (size_t)OC * P;
    float *cols = scratch, *stage = scratch + (size_t)K * g * P;
    for (int m = n0; m < n1; m += g) {
        int gn = n1 - m < g ? n1 - m : g, cn = gn * P;
        const float *B = cols;
        int implicit = use_implicit() && !is_pointwise(q);
        cols_ctx cx = {q, inp + m * in_sz, 0};
        if (gn == 1 && is_pointwise(q))
            B = inp + m * in_sz;
        else if (!implicit)
            for (int i = 0; i < gn; i++)
                im2col(cols + (size_t)i * P, inp + (m + i) * in_sz, q->C, q->H, q->W, q->KH,
                       q->KW, q->stride, q->pad, q->OH, q->OW, cn, par);
        float *o = gn == 1 ? out + m * out_sz : stage;
        if (gn == 1 && (!acc || b))
            for (int oc = 0; oc < OC; oc++) {
                float bv = b ? b[oc] : 0.0f;
                float *r = o + (size_t)oc * P;
                if (acc)
                    for (int p = 0; p < P; p++) r[p] += bv;
                else
                    for (int p = 0; p < P; p++) r[p] = bv;
            }
        if (implicit)
            kn_sgemm_packed_b(0, OC, cn, K, 1.0f, w, K, pack_cols, &cx, gn == 1 ? 1.0f : 0.0f,
                              o, cn);
        else
            kn_sgemm(0, 0, OC, cn, K, 1.0f, w, K, B, cn, gn == 1 ? 1.0f : 0.0f, o, cn);
        if (gn > 1) scatter_planes(out + m * out_sz, stage, b, gn, OC, P, acc, par);
    }
}

/* im2col of output pixels [p0, p1) only, rows of p1 - p0. */
static void im2col_pixels(float *cols, const float *img, const conv_geo *q, int p0, int p1) {
    int n = p1 - p0;
    for (int r = 0; r < q->K; r++) {
        int kw = r % q->KW, kh = (r / q->KW) % q->KH, c = r / (q->KW * q->KH);
        const float *src = img + (size_t)c * q->H * q->W;
        float *dst = cols + (size_t)r * n;
        int oh = p0 / q->OW, ow = p0 % q->OW;
        for (int i = 0; i < n; i++) {
            int ih = oh * q->stride - q->pad + kh, iw = ow * q->stride - q->pad + kw;
            dst[i] = (ih >= 0 && ih < q->H && iw >= 0 && iw < q->W) ? src[ih * q->W + iw] : 0.0f;
            if (++ow == q->OW) { ow = 0; oh++; }
        }
    }
}

static void conv2d_fwd_split(const conv_geo *q, float *out, float *scratch, const float *inp,
                             const float *w, const float *b, int acc) {
    int P = q->P, K = q->K, OC = q->OC, TT = q->split;
    size_t in_sz = (size_t)q->C * q->H * q->W, out_sz = (size_t)OC * P;
    int prev = openblas_get_num_threads();
    openblas_set_num_threads(1);
#pragma omp parallel num_threads(TT)
    {
        int t = omp_get_thread_num();
        int p0 = (int)((long)P * t / TT), p1 = (int)((long)P * (t + 1) / TT), n = p1 - p0;
        float *cols = scratch + q->split_per * t;
        for (int m = 0; m < q->N && n > 0; m++) {
            const float *B = cols;
            int ldb = n, implicit = use_implicit() && !is_pointwise(q);
            cols_ctx cx = {q, inp + m * in_sz, p0};
            if (is_pointwise(q)) {
                B = inp + m * in_sz + p0;
                ldb = P;
            } else if (!implicit) {
                im2col_pixels(cols, inp + m * in_sz, q, p0, p1);
            }
            float *o = out + m * out_sz + p0;
            for (int oc = 0; oc < OC && (!acc || b); oc++) {
                float bv = b ? b[oc] : 0.0f;
                float *r = o + (size_t)oc * P;
                if (acc)
                    for (int i = 0; i < n; i++) r[i] += bv;
                else
                    for (int i = 0; i < n; i++) r[i] = bv;
            }
            if (implicit)
                kn_sgemm_packed_b(0, OC, n, K, 1.0f, w, K, pack_cols, &cx, 1.0f, o, P);
            else
                kn_sgemm(0, 0, OC, n, K, 1.0f, w, K, B, ldb, 1.0f, o, P);
        }
    }
    openblas_set_num_threads(prev);
}

/* Winograd F(2x2,3x3) (kn_wino.c) where it beats the GEMM path: 3x3,
 * stride 1, native GEMM, and enough channels for its 16 GEMMs (see
 * engine/NOTES.md, conv 3x3, for the measurements behind the bounds). */
static int wino_on = 1;
void kn_conv_set_wino(int on) { wino_on = on; }
static int use_wino(int N, int C, int H, int W, int OC, int KH, int KW, int stride, int pad) {
    kn_conv_variant v = kn_conv_variant_forced();
    if (!wino_on || v == KN_CONV_IMPLICIT || v == KN_CONV_IM2COL || !kn_sgemm_is_native() ||
        !kn_wino3_ok(KH, KW, stride, pad))
        return 0;
    int OH = H + 2 * pad - 2, OW = W + 2 * pad - 2;
    if (OH <= 0 || OW <= 0) return 0;
    if (v == KN_CONV_WINOGRAD) return 1;
    if (C < 16 || OC < 16) return 0;
    /* Each call transforms and packs the weights (3 passes over 16 OC x C
     * floats): with few tiles that dominates (512-512 at 7x7, batch 8: 128
     * tiles, 0.6x the GEMM path; batch 32: 1.2x). Odd maps also pay for whole
     * 2x2 tiles (7x7: 64 outputs for 49); worse than that is not tried. */
    double tiles = (double)N * ((OH + 1) / 2) * ((OW + 1) / 2);
    double waste = 4.0 * ((OH + 1) / 2) * ((OW + 1) / 2) / ((double)OH * OW);
    int T = omp_in_parallel() ? 1 : omp_get_max_threads();
    return waste <= 1.35 && tiles >= 256 && tiles / T >= 64;
}

static void conv2d_forward_acc(float *out, float *scratch, const float *inp, const float *w,
                               const float *b, int N, int C, int H, int W, int OC, int KH,
                               int KW, int stride, int pad, int acc) {
    if (use_wino(N, C, H, W, OC, KH, KW, stride, pad)) {
        kn_wino3_forward(out, scratch, inp, w, b, N, C, H, W, OC, pad, acc);
        return;
    }
    conv_geo q = conv_plan(N, C, H, W, OC, KH, KW, stride, pad);
    KN_ASSERT(q.OH > 0 && q.OW > 0);
    if (q.split) {
        conv2d_fwd_split(&q, out, scratch, inp, w, b, acc);
        return;
    }
    CONV_RUN(q, conv2d_fwd_range(&q, out, scratch + q.chunk * t, inp, w, b, n0, n1, q.T == 1,
                                 acc));
}

void kn_conv2d_forward(float *out, float *scratch, const float *inp, const float *w,
                       const float *b, int N, int C, int H, int W, int OC, int KH,
                       int KW, int stride, int pad) {
    conv2d_forward_acc(out, scratch, inp, w, b, N, C, H, W, OC, KH, KW, stride, pad, 0);
}

/* A stride-1 convolution's input gradient is itself a stride-1 convolution:
 * of dout with the kernel flipped in space and transposed in channels,
 * padded by K-1-pad. With the native GEMM that runs the fast forward path
 * (implicit im2col) instead of a GEMM into dcols and col2im. */
static int dinp_by_flipped_conv(int KH, int KW, int stride, int pad) {
    return use_implicit() && stride == 1 && KH == KW && pad <= KH - 1 && !(KH == 1 && pad == 0);
}

static size_t flipped_w_floats(int C, int OC, int KH, int KW) {
    return ((size_t)C * OC * KH * KW + 15) / 16 * 16;
}

/* ---- dw of a 3x3, stride 1, pad 1 layer, without a column matrix ---------
 * dw[oc][c][kh][kw] += sum over (oh, ow) of dout[oc][oh][ow] x[c][oh+kh-1][ow+kw-1].
 * The column matrix of such a layer is 9 copies of its input, so dw from it
 * (stored or packed from the images) moves ~9x more data than it computes
 * with when the channels are few. Here each image's input is copied once
 * into planes with a zero border, and for a pair of output channels and one
 * input channel the nine taps are 2 x 9 accumulators of 16 columns, fed by
 * shifted loads of three padded rows: 18 FMAs for 11 loads, everything in
 * L1. Rows of whole 16-column vectors only (OW = W, a multiple of 16); one
 * thread. The order of the sum is fixed (per image: 16-lane partial sums
 * over the rows, then their sum, added to dw image after image). */
#ifdef __AVX512F__
static int dw3x3_direct_ok(const conv_geo *q, int par) {
    return !par && q->KH == 3 && q->KW == 3 && q->stride == 1 && q->pad == 1 && q->OW % 16 == 0 &&
           kn_conv_variant_forced() != KN_CONV_IM2COL;
}

static void dw3x3_direct(float *dwt, const float *dout, const float *inp, int gn, const conv_geo *q,
                         float *xp) {
    int C = q->C, H = q->H, W = q->W, OC = q->OC, OH = q->OH, OW = q->OW, Wp = W + 2;
    size_t plane = (size_t)(H + 2) * Wp;
    for (int i = 0; i < gn; i++) {
        const float *x = inp + (size_t)i * C * H * W, *d = dout + (size_t)i * OC * OH * OW;
        /* the zero-bordered copy: row 0 and H+1, column 0 and W+1 are the padding */
        for (int c = 0; c < C; c++) {
            float *pc = xp + c * plane;
            memset(pc, 0, sizeof(float) * Wp);
            memset(pc + (size_t)(H + 1) * Wp, 0, sizeof(float) * Wp);
            for (int h = 0; h < H; h++) {
                float *r = pc + (size_t)(h + 1) * Wp;
                r[0] = r[W + 1] = 0.0f;
                memcpy(r + 1, x + ((size_t)c * H + h) * W, sizeof(float) * W);
            }
        }
        for (int oc = 0; oc < OC; oc += 2) {
            int two = oc + 1 < OC;
            const float *d0 = d + (size_t)oc * OH * OW, *d1 = two ? d0 + (size_t)OH * OW : d0;
            for (int c = 0; c < C; c++) {
                const float *pc = xp + c * plane;
                /* (written out: with arrays and loops GCC -O2 keeps the
                 * accumulators in memory) */
                __m512 z = _mm512_setzero_ps();
                __m512 a00 = z, a01 = z, a02 = z, a03 = z, a04 = z, a05 = z, a06 = z, a07 = z, a08 = z;
                __m512 a10 = z, a11 = z, a12 = z, a13 = z, a14 = z, a15 = z, a16 = z, a17 = z, a18 = z;
                for (int oh = 0; oh < OH; oh++)
                    for (int v = 0; v < OW; v += 16) {
                        __m512 g0 = _mm512_loadu_ps(d0 + (size_t)oh * OW + v);
                        __m512 g1 = _mm512_loadu_ps(d1 + (size_t)oh * OW + v);
                        const float *r0 = pc + (size_t)oh * Wp + v, *r1 = r0 + Wp, *r2 = r1 + Wp;
                        __m512 x;
#define DW_TAP(R, KW, A0, A1)                                                                      \
    x = _mm512_loadu_ps((R) + (KW));                                                               \
    A0 = _mm512_fmadd_ps(g0, x, A0);                                                               \
    A1 = _mm512_fmadd_ps(g1, x, A1)
                        DW_TAP(r0, 0, a00, a10); DW_TAP(r0, 1, a01, a11); DW_TAP(r0, 2, a02, a12);
                        DW_TAP(r1, 0, a03, a13); DW_TAP(r1, 1, a04, a14); DW_TAP(r1, 2, a05, a15);
                        DW_TAP(r2, 0, a06, a16); DW_TAP(r2, 1, a07, a17); DW_TAP(r2, 2, a08, a18);
#undef DW_TAP
                    }
                __m512 acc0[9] = {a00, a01, a02, a03, a04, a05, a06, a07, a08};
                __m512 acc1[9] = {a10, a11, a12, a13, a14, a15, a16, a17, a18};
                float *w0 = dwt + ((size_t)oc * C + c) * 9;
                for (int t = 0; t < 9; t++) w0[t] += _mm512_reduce_add_ps(acc0[t]);
                if (two) {
                    float *w1 = dwt + ((size_t)(oc + 1) * C + c) * 9;
                    for (int t = 0; t < 9; t++) w1[t] += _mm512_reduce_add_ps(acc1[t]);
                }
            }
        }
    }
}
#endif

/* Backward of images [n0, n1): dinp for them, dw (+=) into dwt. */
static void conv2d_bwd_range(const conv_geo *q, float *dinp, float *dwt, float *scratch,
                             const float *dout, const float *inp, const float *w, int n0,
                             int n1, int acc, int par) {
    int P = q->P, K = q->K, OC = q->OC, g = q->g;
    size_t in_sz = (size_t)q->C * q->H * q->W, out_sz = (size_t)OC * P;
    float *cols = scratch, *dcols = scratch + (size_t)K * g * P;
    float *D = dcols + (size_t)K * g * P;
    int pw = is_pointwise(q), stored = q->K <= DW_STORED_MAX_K, direct = 0;
#ifdef __AVX512F__
    direct = dwt && dw3x3_direct_ok(q, par);
#endif
    for (int m = n0; m < n1; m += g) {
        int gn = n1 - m < g ? n1 - m : g, cn = gn * P;
        const float *Dp = D;
        if (gn == 1)
            Dp = dout + m * out_sz;
        else if (dinp || !direct) /* the GEMMs' operand: dout's planes side by side */
            gather_planes(D, dout + m * out_sz, gn, OC, P, par);
#ifdef __AVX512F__
        if (direct) {
            dw3x3_direct(dwt, dout + m * out_sz, inp + m * in_sz, gn, q, cols);
        } else
#endif
        if (dwt) {
            const float *B = cols;
            cols_ctx cx = {q, inp + m * in_sz, 0};
            if (gn == 1 && pw)
                B = inp + m * in_sz;
            else if (use_implicit() && !pw && !stored) /* a 1x1 gather packs faster dense */
                B = NULL;
            else
                for (int i = 0; i < gn; i++)
                    im2col(cols + (size_t)i * P, inp + (m + i) * in_sz, q->C, q->H, q->W,
                           q->KH, q->KW, q->stride, q->pad, q->OH, q->OW, cn, par);
            if (B)
                kn_sgemm(0, 1, OC, K, cn, 1.0f, Dp, cn, B, cn, 1.0f, dwt, K);
            else
                kn_sgemm_packed_b(0, OC, K, cn, 1.0f, Dp, cn, pack_cols_t, &cx, 1.0f, dwt, K);
        }
        if (dinp) {
            if (gn == 1 && pw) {
                kn_sgemm(1, 0, K, cn, OC, 1.0f, w, K,
                            Dp, cn, acc ? 1.0f : 0.0f, dinp + m * in_sz, cn);
                continue;
            }
            kn_sgemm(1, 0, K, cn, OC, 1.0f, w, K, Dp,
                        cn, 0.0f, dcols, cn);
            for (int i = 0; i < gn; i++)
                col2im(dinp + (m + i) * in_sz, dcols + (size_t)i * P, q->C, q->H, q->W,
                       q->KH, q->KW, q->stride, q->pad, q->OH, q->OW, cn, acc, par);
        }
    }
}

/* dw += the private dw partials of threads 1..T-1 (each at the end of its chunk). */
static void reduce_partials(float *dw, const float *scratch, const conv_geo *q, size_t n) {
#pragma omp for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float s = 0;
        for (int t = 1; t < q->T; t++) s += scratch[q->chunk * (t + 1) - n + i];
        dw[i] += s;
    }
}

void kn_conv2d_backward(float *dinp, float *dw, float *db, float *scratch,
                        const float *dout, const float *inp, const float *w, int N,
                        int C, int H, int W, int OC, int KH, int KW, int stride,
                        int pad, int acc) {
    conv_geo q = conv_plan(N, C, H, W, OC, KH, KW, stride, pad);
    size_t nw = (size_t)OC * q.K;
    if (dinp && dinp_by_flipped_conv(KH, KW, stride, pad)) {
        float *wf = scratch; /* wf[c][oc][kh][kw] = w[oc][c][KH-1-kh][KW-1-kw] */
        for (int oc = 0; oc < OC; oc++)
            for (int c = 0; c < C; c++)
                for (int kh = 0; kh < KH; kh++)
                    for (int kw = 0; kw < KW; kw++)
                        wf[((size_t)(c * OC + oc) * KH + kh) * KW + kw] =
                            w[((size_t)(oc * C + c) * KH + KH - 1 - kh) * KW + KW - 1 - kw];
        conv2d_forward_acc(dinp, scratch + flipped_w_floats(C, OC, KH, KW), dout, wf, NULL, N,
                           OC, q.OH, q.OW, C, KH, KW, 1, KH - 1 - pad, acc);
        dinp = NULL;
        if (!dw && !db) return;
    }
    CONV_RUN(q, {
        float *mine = scratch + q.chunk * t;
        float *dwt = dw;
        if (dw && t > 0) { /* a private partial, zeroed, summed below */
            dwt = mine + q.chunk - nw;
            memset(dwt, 0, sizeof(float) * nw);
        }
        conv2d_bwd_range(&q, dinp, dwt, mine, dout, inp, w, n0, n1, acc, q.T == 1);
        if (q.T > 1) {
            if (db) bias_grad(db, dout, N, OC, q.P);
            if (dw) {
                _Pragma("omp barrier");
                reduce_partials(dw, scratch, &q, nw);
            }
        } else if (db) {
            _Pragma("omp parallel if ((size_t)N * OC * q.P > 65536)")
            bias_grad(db, dout, N, OC, q.P);
        }
    });
}

/* ---- conv_transpose2d ---------------------------------------------------------
 * The forward is conv2d's input gradient: cols = wᵀ·x, then col2im onto the
 * (OC, OH, OW) output seen as the "image" of a conv whose grid is (H, W). */

/* conv_geo reused with the roles: P = H*W input pixels, K = OC*KH*KW rows
 * of the column matrix. */
static conv_geo convt_plan(int N, int C, int H, int W, int OC, int KH, int KW, int stride,
                           int pad, int outpad) {
    conv_geo q = {N, C, H, W, OC, KH, KW, stride, pad,
                  kn_convt_out_size(H, KH, stride, pad, outpad),
                  kn_convt_out_size(W, KW, stride, pad, outpad), 0, 0, 0, 0, 0, 0, 0};
    q.P = H * W;
    q.K = OC * KH * KW;
    q.T = conv_threads(N);
    q.g = conv_group((N + q.T - 1) / q.T, q.P);
    /* gathered x, cols, dinp staging; plus a private dw for threads 1.. */
    q.chunk = (2 * (size_t)C + q.K) * q.g * q.P + (q.T > 1 ? (size_t)C * q.K : 0);
    return q;
}

size_t kn_convt2d_scratch_floats(int N, int C, int H, int W, int OC, int KH, int KW,
                                 int stride, int pad, int outpad) {
    conv_geo q = convt_plan(N, C, H, W, OC, KH, KW, stride, pad, outpad);
    return q.chunk * q.T;
}

static void convt_fwd_range(const conv_geo *q, float *out, float *scratch, const float *inp,
                            const float *w, const float *b, int n0, int n1, int par) {
    int P = q->P, Kt = q->K, C = q->C, OC = q->OC, g = q->g, OP = q->OH * q->OW;
    size_t in_sz = (size_t)C * P, out_sz = (size_t)OC * OP;
    float *X = scratch, *cols = scratch + (size_t)C * g * P;
    for (int m = n0; m < n1; m += g) {
        int gn = n1 - m < g ? n1 - m : g, cn = gn * P;
        const float *Xp = X;
        if (gn == 1)
            Xp = inp + m * in_sz;
        else
            gather_planes(X, inp + m * in_sz, gn, C, P, par);
        kn_sgemm(1, 0, Kt, cn, C, 1.0f, w, Kt, Xp, cn,
                    0.0f, cols, cn);
        for (int i = 0; i < gn; i++) {
            float *o = out + (m + i) * out_sz;
            col2im(o, cols + (size_t)i * P, OC, q->OH, q->OW, q->KH, q->KW, q->stride, q->pad,
                   q->H, q->W, cn, 0, par);
            if (b)
                for (int oc = 0; oc < OC; oc++)
                    for (int p = 0; p < OP; p++) o[(size_t)oc * OP + p] += b[oc];
        }
    }
}

void kn_convt2d_forward(float *out, float *scratch, const float *inp, const float *w,
                        const float *b, int N, int C, int H, int W, int OC, int KH,
                        int KW, int stride, int pad, int outpad) {
    conv_geo q = convt_plan(N, C, H, W, OC, KH, KW, stride, pad, outpad);
    KN_ASSERT(q.OH > 0 && q.OW > 0 && outpad >= 0 && outpad < stride);
    CONV_RUN(q, convt_fwd_range(&q, out, scratch + q.chunk * t, inp, w, b, n0, n1, q.T == 1));
}

static void convt_bwd_range(const conv_geo *q, float *dinp, float *dwt, float *scratch,
                            const float *dout, const float *inp, const float *w, int n0,
                            int n1, int acc, int par) {
    int P = q->P, Kt = q->K, C = q->C, OC = q->OC, g = q->g;
    size_t in_sz = (size_t)C * P, out_sz = (size_t)OC * q->OH * q->OW;
    float *X = scratch, *D = scratch + (size_t)C * g * P, *Y = D + (size_t)Kt * g * P;
    for (int m = n0; m < n1; m += g) {
        int gn = n1 - m < g ? n1 - m : g, cn = gn * P;
        for (int i = 0; i < gn; i++)
            im2col(D + (size_t)i * P, dout + (m + i) * out_sz, OC, q->OH, q->OW, q->KH, q->KW,
                   q->stride, q->pad, q->H, q->W, cn, par);
        if (dwt) {
            const float *Xp = X;
            if (gn == 1)
                Xp = inp + m * in_sz;
            else
                gather_planes(X, inp + m * in_sz, gn, C, P, par);
            kn_sgemm(0, 1, C, Kt, cn, 1.0f, Xp, cn, D,
                        cn, 1.0f, dwt, Kt);
        }
        if (dinp) {
            if (gn == 1) {
                kn_sgemm(0, 0, C, cn, Kt, 1.0f, w, Kt,
                            D, cn, acc ? 1.0f : 0.0f, dinp + m * in_sz, cn);
            } else {
                kn_sgemm(0, 0, C, cn, Kt, 1.0f, w, Kt,
                            D, cn, 0.0f, Y, cn);
                scatter_planes(dinp + m * in_sz, Y, NULL, gn, C, P, acc, par);
            }
        }
    }
}

void kn_convt2d_backward(float *dinp, float *dw, float *db, float *scratch,
                         const float *dout, const float *inp, const float *w, int N,
                         int C, int H, int W, int OC, int KH, int KW, int stride,
                         int pad, int outpad, int acc) {
    conv_geo q = convt_plan(N, C, H, W, OC, KH, KW, stride, pad, outpad);
    size_t nw = (size_t)C * q.K;
    int OP = q.OH * q.OW;
    CONV_RUN(q, {
        float *mine = scratch + q.chunk * t;
        float *dwt = dw;
        if (dw && t > 0) {
            dwt = mine + q.chunk - nw;
            memset(dwt, 0, sizeof(float) * nw);
        }
        if (dw || dinp) convt_bwd_range(&q, dinp, dwt, mine, dout, inp, w, n0, n1, acc, q.T == 1);
        if (q.T > 1) {
            if (db) bias_grad(db, dout, N, OC, OP);
            if (dw) {
                _Pragma("omp barrier");
                reduce_partials(dw, scratch, &q, nw);
            }
        } else if (db) {
            _Pragma("omp parallel if ((size_t)N * OC * OP > 65536)")
            bias_grad(db, dout, N, OC, OP);
        }
    });
}
