/* kn_resample — nearest and bilinear upsampling. See kn_resample.h. */
#include "kn_resample.h"

#include <math.h>
#include <string.h>

#include "kn_assert.h"

#define PAR_IF(n) if ((size_t)(n) > 32768)

/* PyTorch computes these in float for float tensors; so do we. */
static float src_scale(int in, int out, double scale) {
    return scale > 0 ? (float)(1.0 / scale) : (float)in / (float)out;
}

static int nearest_src(int dst, int in, int out, float scale) {
    if (out == in) return dst;
    if (out == 2 * in) return dst >> 1;
    int s = (int)floorf((float)dst * scale);
    return s < in - 1 ? s : in - 1;
}

/* Per output coordinate: the two source pixels and their weights. */
typedef struct { int i0, i1; float l0, l1; } lin_tap;

static void linear_taps(lin_tap *t, int in, int out, int align_corners, double scale) {
    float sc;
    if (align_corners) sc = out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
    else sc = src_scale(in, out, scale);
    for (int d = 0; d < out; d++) {
        float src = align_corners ? sc * (float)d : sc * ((float)d + 0.5f) - 0.5f;
        if (src < 0) src = 0;
        int i0 = (int)src;
        if (i0 > in - 1) i0 = in - 1;
        float l = src - (float)i0;
        if (l < 0) l = 0;
        if (l > 1) l = 1;
        t[d].i0 = i0;
        t[d].i1 = i0 + (i0 < in - 1 ? 1 : 0);
        t[d].l1 = l;
        t[d].l0 = 1.0f - l;
    }
}

void kn_upsample_nearest_forward(float *out, const float *inp, int N, int C, int H, int W,
                                 int OH, int OW, double scale_h, double scale_w) {
    float sh = src_scale(H, OH, scale_h), sw = src_scale(W, OW, scale_w);
#pragma omp parallel for schedule(static) PAR_IF((size_t)N * C * OH * OW)
    for (long nc = 0; nc < (long)N * C; nc++) {
        const float *x = inp + (size_t)nc * H * W;
        float *o = out + (size_t)nc * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            const float *xr = x + (size_t)nearest_src(oh, H, OH, sh) * W;
            for (int ow = 0; ow < OW; ow++) o[oh * OW + ow] = xr[nearest_src(ow, W, OW, sw)];
        }
    }
}

void kn_upsample_nearest_backward(float *dinp, const float *dout, int N, int C, int H,
                                  int W, int OH, int OW, double scale_h, double scale_w,
                                  int acc) {
    float sh = src_scale(H, OH, scale_h), sw = src_scale(W, OW, scale_w);
#pragma omp parallel for schedule(static) PAR_IF((size_t)N * C * OH * OW)
    for (long nc = 0; nc < (long)N * C; nc++) {
        float *d = dinp + (size_t)nc * H * W;
        const float *g = dout + (size_t)nc * OH * OW;
        if (!acc) memset(d, 0, sizeof(float) * H * W);
        for (int oh = 0; oh < OH; oh++) {
            float *dr = d + (size_t)nearest_src(oh, H, OH, sh) * W;
            for (int ow = 0; ow < OW; ow++) dr[nearest_src(ow, W, OW, sw)] += g[oh * OW + ow];
        }
    }
}

void kn_upsample_bilinear_forward(float *out, const float *inp, int N, int C, int H,
                                  int W, int OH, int OW, int align_corners,
                                  double scale_h, double scale_w) {
    /* on the stack: inference allocates nothing per op */
    lin_tap th[OH], tw[OW];
    linear_taps(th, H, OH, align_corners, scale_h);
    linear_taps(tw, W, OW, align_corners, scale_w);
#pragma omp parallel for schedule(static) PAR_IF((size_t)N * C * OH * OW)
    for (long nc = 0; nc < (long)N * C; nc++) {
        const float *x = inp + (size_t)nc * H * W;
        float *o = out + (size_t)nc * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            lin_tap a = th[oh];
            const float *r0 = x + (size_t)a.i0 * W, *r1 = x + (size_t)a.i1 * W;
            for (int ow = 0; ow < OW; ow++) {
                lin_tap b = tw[ow];
                o[oh * OW + ow] = a.l0 * (b.l0 * r0[b.i0] + b.l1 * r0[b.i1]) +
                                  a.l1 * (b.l0 * r1[b.i0] + b.l1 * r1[b.i1]);
            }
        }
    }
}

void kn_upsample_bilinear_backward(float *dinp, const float *dout, int N, int C, int H,
                                   int W, int OH, int OW, int align_corners,
                                   double scale_h, double scale_w, int acc) {
    /* on the stack: inference allocates nothing per op */
    lin_tap th[OH], tw[OW];
    linear_taps(th, H, OH, align_corners, scale_h);
    linear_taps(tw, W, OW, align_corners, scale_w);
#pragma omp parallel for schedule(static) PAR_IF((size_t)N * C * OH * OW)
    for (long nc = 0; nc < (long)N * C; nc++) {
        float *d = dinp + (size_t)nc * H * W;
        const float *g = dout + (size_t)nc * OH * OW;
        if (!acc) memset(d, 0, sizeof(float) * H * W);
        for (int oh = 0; oh < OH; oh++) {
            lin_tap a = th[oh];
            float *r0 = d + (size_t)a.i0 * W, *r1 = d + (size_t)a.i1 * W;
            for (int ow = 0; ow < OW; ow++) {
                lin_tap b = tw[ow];
                float v = g[oh * OW + ow];
                r0[b.i0] += a.l0 * b.l0 * v;
                r0[b.i1] += a.l0 * b.l1 * v;
                r1[b.i0] += a.l1 * b.l0 * v;
                r1[b.i1] += a.l1 * b.l1 * v;
            }
        }
    }
}
