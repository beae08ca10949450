/* kn_pool — max, average and adaptive average pooling. See kn_pool.h. */
#include "kn_pool.h"

#include <math.h>
#include <string.h>

#include "kn_assert.h"

#define PAR_IF(n) if ((size_t)(n) > 32768)

void kn_maxpool2d_forward(float *out, int32_t *idx, const float *inp, int N, int C,
                          int H, int W, int KH, int KW, int stride, int pad) {
    int OH = kn_pool_out_size(H, KH, stride, pad), OW = kn_pool_out_size(W, KW, stride, pad);
    KN_ASSERT(OH > 0 && OW > 0 && 2 * pad <= KH && 2 * pad <= KW);
#pragma omp parallel for schedule(static) PAR_IF((size_t)N * C * OH * OW * KH * KW)
    for (long nc = 0; nc < (long)N * C; nc++) {
        const float *x = inp + (size_t)nc * H * W;
        float *o = out + (size_t)nc * OH * OW;
        int32_t *ix = idx + (size_t)nc * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            int h0 = oh * stride - pad, h1 = h0 + KH;
            if (h0 < 0) h0 = 0;
            if (h1 > H) h1 = H;
            for (int ow = 0; ow < OW; ow++) {
                int w0 = ow * stride - pad, w1 = w0 + KW;
                if (w0 < 0) w0 = 0;
                if (w1 > W) w1 = W;
                float best = -INFINITY;
                int bi = h0 * W + w0;
                for (int h = h0; h < h1; h++)
                    for (int w = w0; w < w1; w++) {
                        float v = x[h * W + w];
                        /* NaN propagates, as in PyTorch */
                        if (v > best || isnan(v)) { best = v; bi = h * W + w; }
                    }
                o[oh * OW + ow] = best;
                ix[oh * OW + ow] = bi;
            }
        }
    }
}

void kn_maxpool2d_backward(float *dinp, const float *dout, const int32_t *idx, int N,
                           int C, int H, int W, int OH, int OW, int acc) {
#pragma omp parallel for schedule(static) PAR_IF((size_t)N * C * H * W)
    for (long nc = 0; nc < (long)N * C; nc++) {
        float *d = dinp + (size_t)nc * H * W;
        const float *g = dout + (size_t)nc * OH * OW;
        const int32_t *ix = idx + (size_t)nc * OH * OW;
        if (!acc) memset(d, 0, sizeof(float) * H * W);
        for (int p = 0; p < OH * OW; p++) d[ix[p]] += g[p];
    }
}

/* The divisor PyTorch uses for an average-pool window starting at (h0, w0). */
static inline int avg_divisor(int h0, int w0, int H, int W, int KH, int KW, int pad,
                              int count_include_pad) {
    int h1 = h0 + KH, w1 = w0 + KW;
    if (h1 > H + pad) h1 = H + pad;
    if (w1 > W + pad) w1 = W + pad;
    if (count_include_pad) return (h1 - h0) * (w1 - w0);
    if (h0 < 0) h0 = 0;
    if (w0 < 0) w0 = 0;
    if (h1 > H) h1 = H;
    if (w1 > W) w1 = W;
    return (h1 - h0) * (w1 - w0);
}

/* ModifiedResNet's AvgPool2d(2) (2x2, stride 2, no padding): the general
 * loops below in the same order of additions, with the window's bounds and
 * divisor known, so the compiler vectorises them (the same bits; 5 % of a
 * mini ResNet training step went to the general loops). */
static int avg_2x2(int KH, int KW, int stride, int pad) {
    return KH == 2 && KW == 2 && stride == 2 && pad == 0;
}

void kn_avgpool2d_forward(float *out, const float *inp, int N, int C, int H, int W,
                          int KH, int KW, int stride, int pad, int count_include_pad) {
    int OH = kn_pool_out_size(H, KH, stride, pad), OW = kn_pool_out_size(W, KW, stride, pad);
    KN_ASSERT(OH > 0 && OW > 0 && 2 * pad <= KH && 2 * pad <= KW);
    if (avg_2x2(KH, KW, stride, pad)) {
#pragma omp parallel for schedule(static) PAR_IF((size_t)N * C * OH * OW * 4)
        for (long nc = 0; nc < (long)N * C; nc++)
            for (int oh = 0; oh < OH; oh++) {
                const float *r0 = inp + (size_t)nc * H * W + (size_t)(2 * oh) * W, *r1 = r0 + W;
                float *o = out + (size_t)nc * OH * OW + (size_t)oh * OW;
#pragma omp simd
                for (int ow = 0; ow < OW; ow++) {
                    float s = 0;
                    s += r0[2 * ow];
                    s += r0[2 * ow + 1];
                    s += r1[2 * ow];
                    s += r1[2 * ow + 1];
                    o[ow] = s / 4.0f;
                }
            }
        return;
    }
#pragma omp parallel for schedule(static) PAR_IF((size_t)N * C * OH * OW * KH * KW)
    for (long nc = 0; nc < (long)N * C; nc++) {
        const float *x = inp + (size_t)nc * H * W;
        float *o = out + (size_t)nc * OH * OW;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                int h0 = oh * stride - pad, w0 = ow * stride - pad;
                int div = avg_divisor(h0, w0, H, W, KH, KW, pad, count_include_pad);
                int ha = h0 < 0 ? 0 : h0, hb = h0 + KH > H ? H : h0 + KH;
                int wa = w0 < 0 ? 0 : w0, wb = w0 + KW > W ? W : w0 + KW;
                float s = 0;
                for (int h = ha; h < hb; h++)
                    for (int w = wa; w < wb; w++) s += x[h * W + w];
                o[oh * OW + ow] = s / (float)div;
            }
    }
}

void kn_avgpool2d_backward(float *dinp, const float *dout, int N, int C, int H, int W,
                           int KH, int KW, int stride, int pad, int count_include_pad,
                           int acc) {
    int OH = kn_pool_out_size(H, KH, stride, pad), OW = kn_pool_out_size(W, KW, stride, pad);
    if (avg_2x2(KH, KW, stride, pad)) {
#pragma omp parallel for schedule(static) PAR_IF((size_t)N * C * OH * OW * 4)
        for (long nc = 0; nc < (long)N * C; nc++) {
            float *d = dinp + (size_t)nc * H * W;
            const float *g = dout + (size_t)nc * OH * OW;
            /* rows and a column past the last window (odd H, W) get no gradient */
            if (!acc) memset(d, 0, sizeof(float) * H * W);
            for (int oh = 0; oh < OH; oh++) {
                float *r0 = d + (size_t)(2 * oh) * W, *r1 = r0 + W;
                const float *gr = g + (size_t)oh * OW;
#pragma omp simd
                for (int ow = 0; ow < OW; ow++) {
                    float v = gr[ow] / 4.0f;
                    r0[2 * ow] += v;
                    r0[2 * ow + 1] += v;
                    r1[2 * ow] += v;
                    r1[2 * ow + 1] += v;
                }
            }
        }
        return;
    }
#pragma omp parallel for schedule(static) PAR_IF((size_t)N * C * OH * OW * KH * KW)
    for (long nc = 0; nc < (long)N * C; nc++) {
        float *d = dinp + (size_t)nc * H * W;
        const float *g = dout + (size_t)nc * OH * OW;
        if (!acc) memset(d, 0, sizeof(float) * H * W);
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                int h0 = oh * stride - pad, w0 = ow * stride - pad;
                int div = avg_divisor(h0, w0, H, W, KH, KW, pad, count_include_pad);
                int ha = h0 < 0 ? 0 : h0, hb = h0 + KH > H ? H : h0 + KH;
                int wa = w0 < 0 ? 0 : w0, wb = w0 + KW > W ? W : w0 + KW;
                float v = g[oh * OW + ow] / (float)div;
                for (int h = ha; h < hb; h++)
                    for (int w = wa; w < wb; w++) d[h * W + w] += v;
            }
    }
}

static inline int ad_start(int i, int in, int out) { return (int)((long)i * in / out); }
static inline int ad_end(int i, int in, int out) {
    return (int)(((long)(i + 1) * in + out - 1) / out);
}

void kn_adaptive_avgpool2d_forward(float *out, const float *inp, int N, int C, int H,
                                   int W, int OH, int OW) {
    KN_ASSERT(OH > 0 && OW > 0);
#pragma omp parallel for schedule(static) PAR_IF((size_t)N * C * H * W)
    for (long nc = 0; nc < (long)N * C; nc++) {
        const float *x = inp + (size_t)nc * H * W;
        float *o = out + (size_t)nc * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            int ha = ad_start(oh, H, OH), hb = ad_end(oh, H, OH);
            for (int ow = 0; ow < OW; ow++) {
                int wa = ad_start(ow, W, OW), wb = ad_end(ow, W, OW);
                float s = 0;
                for (int h = ha; h < hb; h++)
                    for (int w = wa; w < wb; w++) s += x[h * W + w];
                o[oh * OW + ow] = s / (float)((hb - ha) * (wb - wa));
            }
        }
    }
}

void kn_adaptive_avgpool2d_backward(float *dinp, const float *dout, int N, int C, int H,
                                    int W, int OH, int OW, int acc) {
#pragma omp parallel for schedule(static) PAR_IF((size_t)N * C * H * W)
    for (long nc = 0; nc < (long)N * C; nc++) {
        float *d = dinp + (size_t)nc * H * W;
        const float *g = dout + (size_t)nc * OH * OW;
        if (!acc) memset(d, 0, sizeof(float) * H * W);
        for (int oh = 0; oh < OH; oh++) {
            int ha = ad_start(oh, H, OH), hb = ad_end(oh, H, OH);
            for (int ow = 0; ow < OW; ow++) {
                int wa = ad_start(ow, W, OW), wb = ad_end(ow, W, OW);
                float v = g[oh * OW + ow] / (float)((hb - ha) * (wb - wa));
                for (int h = ha; h < hb; h++)
                    for (int w = wa; w < wb; w++) d[h * W + w] += v;
            }
        }
    }
}
