#include "en_preprocess.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"

/* Pillow's fixed point: 32 bits less 8 for the pixel and 2 for headroom */
#define PREC_BITS 22

static double bicubic(double x) {
    const double a = -0.5;
    if (x < 0) x = -x;
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
    return 0;
}

/* Weights of each output position over the input span [xmin, xmin+cnt),
 * as Pillow's precompute_coeffs + normalize_coeffs_8bpc. Returns ksize. */
static int coeffs(int in_size, int out_size, int **bounds_out, int32_t **kk_out) {
    double scale = (double)in_size / out_size, fscale = scale < 1 ? 1 : scale;
    double support = 2.0 * fscale;
    int ksize = (int)ceil(support) * 2 + 1;
    int *bounds = malloc((size_t)out_size * 2 * sizeof *bounds);
    int32_t *kk = malloc((size_t)out_size * (size_t)ksize * sizeof *kk);
    double *k = malloc((size_t)ksize * sizeof *k);
    if (!bounds || !kk || !k) abort();
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale, ww = 0, ss = 1.0 / fscale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) { k[x] = bicubic((x + xmin - center + 0.5) * ss); ww += k[x]; }
        for (int x = 0; x < ksize; x++) {
            double v = x < xmax ? (ww != 0 ? k[x] / ww : k[x]) : 0;
            kk[xx * ksize + x] = (int32_t)(v < 0 ? -0.5 + v * (1 << PREC_BITS) : 0.5 + v * (1 << PREC_BITS));
        }
        bounds[2 * xx] = xmin;
        bounds[2 * xx + 1] = xmax;
    }
    free(k);
    *bounds_out = bounds;
    *kk_out = kk;
    return ksize;
}

static inline uint8_t clip8(int32_t v) {
    if (v >= (1 << PREC_BITS << 8)) return 255;
    if (v <= 0) return 0;
    return (uint8_t)(v >> PREC_BITS);
}

int en_resize_bicubic(uint8_t *out, int oh, int ow, const uint8_t *in, int h, int w, int c) {
    if (h <= 0 || w <= 0 || oh <= 0 || ow <= 0 || c <= 0 || c > 4)
        return en_error("resize: bad sizes %dx%dx%d -> %dx%d", h, w, c, oh, ow);
    int *bh, *bv;
    int32_t *kh, *kv;
    int ksh = coeffs(w, ow, &bh, &kh), ksv = coeffs(h, oh, &bv, &kv);
    /* horizontal pass over the rows the vertical pass will read */
    int y0 = bv[0], y1 = bv[2 * (oh - 1)] + bv[2 * (oh - 1) + 1];
    int need_h = ow != w, need_v = oh != h;
    const uint8_t *src = in;
    uint8_t *tmp = NULL;
    int rows = h;
    if (need_h) {
        rows = y1 - y0;
        tmp = malloc((size_t)rows * (size_t)ow * (size_t)c);
        if (!tmp) abort();
        #pragma omp parallel for schedule(static)
        for (int y = 0; y < rows; y++) {
            const uint8_t *row = in + (size_t)(y + y0) * (size_t)w * (size_t)c;
            for (int xx = 0; xx < ow; xx++) {
                const int32_t *k = kh + (size_t)xx * (size_t)ksh;
                int xmin = bh[2 * xx], cnt = bh[2 * xx + 1];
                for (int ch = 0; ch < c; ch++) {
                    int32_t ss = 1 << (PREC_BITS - 1);
                    for (int x = 0; x < cnt; x++) ss += row[(size_t)(x + xmin) * (size_t)c + (size_t)ch] * k[x];
                    tmp[((size_t)y * (size_t)ow + (size_t)xx) * (size_t)c + (size_t)ch] = clip8(ss);
                }
            }
        }
        src = tmp;
        for (int i = 0; i < oh; i++) bv[2 * i] -= y0;
    }
    if (need_v) {
        #pragma omp parallel for schedule(static)
        for (int yy = 0; yy < oh; yy++) {
            const int32_t *k = kv + (size_t)yy * (size_t)ksv;
            int ymin = bv[2 * yy], cnt = bv[2 * yy + 1];
            for (int xx = 0; xx < ow; xx++)
                for (int ch = 0; ch < c; ch++) {
                    int32_t ss = 1 << (PREC_BITS - 1);
                    for (int y = 0; y < cnt; y++)
                        ss += src[((size_t)(y + ymin) * (size_t)ow + (size_t)xx) * (size_t)c + (size_t)ch] * k[y];
                    out[((size_t)yy * (size_t)ow + (size_t)xx) * (size_t)c + (size_t)ch] = clip8(ss);
                }
        }
    } else {
        memcpy(out, src, (size_t)oh * (size_t)ow * (size_t)c);
    }
    free(tmp); free(bh); free(bv); free(kh); free(kv);
    return 0;
}

void en_resize_shorter_dims(int h, int w, int n, int *oh, int *ow) {
    if (w <= h) { *ow = n; *oh = (int)((double)n * h / w); }
    else { *oh = n; *ow = (int)((double)n * w / h); }
}

/* Python's round(): halves to even */
static int py_round(double x) {
    double r = nearbyint(x); /* default rounding mode is to-nearest-even */
    return (int)r;
}

void en_clip_normalize(float *x, int64_t n, int64_t px, const float *mean, const float *std) {
    static const float dmean[3] = EN_CLIP_MEAN, dstd[3] = EN_CLIP_STD;
    if (!mean) mean = dmean;
    if (!std) std = dstd;
    for (int64_t i = 0; i < n; i++)
        for (int ch = 0; ch < 3; ch++) {
            float *p = x + ((size_t)i * 3 + (size_t)ch) * (size_t)px;
            for (int64_t k = 0; k < px; k++) p[k] = (p[k] - mean[ch]) / std[ch];
        }
}

int en_clip_preprocess(float *out, const uint8_t *in, int h, int w, int n,
                       const float *mean, const float *std) {
    int rh, rw;
    en_resize_shorter_dims(h, w, n, &rh, &rw);
    uint8_t *r = malloc((size_t)rh * (size_t)rw * 3);
    if (!r) abort();
    if (en_resize_bicubic(r, rh, rw, in, h, w, 3) < 0) { free(r); return -1; }
    int top = py_round((rh - n) / 2.0), left = py_round((rw - n) / 2.0);
    for (int ch = 0; ch < 3; ch++)
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++) {
                out[((size_t)ch * (size_t)n + (size_t)y) * (size_t)n + (size_t)x] =
                    r[((size_t)(y + top) * (size_t)rw + (size_t)(x + left)) * 3 + (size_t)ch] / 255.0f;
            }
    free(r);
    en_clip_normalize(out, 1, (int64_t)n * n, mean, std);
    return 0;
}

/* Pillow's ImagingScaleAffine: xo = a + scale / 2, then xo += scale per
 * output column, truncated (source indices are never negative here). */
static void nearest_index(int *idx, int n_in, int n_out) {
    double scale = (double)n_in / n_out, o = scale * 0.5;
    for (int k = 0; k < n_out; k++, o += scale) {
        int v = (int)o;
        idx[k] = v < n_in ? v : n_in - 1;
    }
}

void en_resize_nearest_u8(uint8_t *out, int oh, int ow, const uint8_t *in, int h, int w) {
    EN_ASSERT(oh > 0 && ow > 0 && h > 0 && w > 0);
    int *ys = malloc(sizeof(int) * (size_t)oh), *xs = malloc(sizeof(int) * (size_t)ow);
    EN_ASSERT(ys && xs);
    nearest_index(ys, h, oh);
    nearest_index(xs, w, ow);
    for (int y = 0; y < oh; y++) {
        const uint8_t *row = in + (size_t)ys[y] * w;
        for (int x = 0; x < ow; x++) out[(size_t)y * ow + x] = row[xs[x]];
    }
    free(ys);
    free(xs);
}
