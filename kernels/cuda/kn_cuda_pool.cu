/* kn_cuda_pool — max / average / adaptive average pooling and nearest /
 * bilinear upsampling, NCHW, with the contracts and index rules of
 * kernels/cpu/kn_pool.h and kn_resample.h (PyTorch's semantics). One thread
 * per output element forward. Backward gathers per input pixel where the
 * windows are known (average pools); the max pool (only the saved argmax is
 * passed) and the upsamplings scatter with atomicAdd after zeroing (acc = 0)
 * — their sums may differ in the last bit from run to run.
 * Index arithmetic uses __fmul_rn / __fadd_rn so that no multiply-add is
 * fused: the CPU (ISO C, no contraction) computes the same source pixels. */
#include "kn_cuda_internal.cuh"

static int pool_out(int in, int k, int stride, int pad) { return (in + 2 * pad - k) / stride + 1; }

__global__ void maxpool_fwd_kernel(float *out, int32_t *idx, const float *inp, int H, int W,
                                   int OH, int OW, int KH, int KW, int stride, int pad, int64_t n) {
    KN_GRID_STRIDE(i, n) {
        int ow = (int)(i % OW), oh = (int)((i / OW) % OH);
        int64_t nc = i / ((int64_t)OW * OH);
        const float *x = inp + nc * H * W;
        int h0 = oh * stride - pad, h1 = h0 + KH, w0 = ow * stride - pad, w1 = w0 + KW;
        h0 = h0 < 0 ? 0 : h0; h1 = h1 > H ? H : h1;
        w0 = w0 < 0 ? 0 : w0; w1 = w1 > W ? W : w1;
        float best = -INFINITY;
        int bi = h0 * W + w0;
        for (int h = h0; h < h1; h++)
            for (int w = w0; w < w1; w++) {
                float v = x[h * W + w];
                if (v > best || isnan(v)) { best = v; bi = h * W + w; } /* NaN propagates */
            }
        out[i] = best;
        idx[i] = bi;
    }
}

__global__ void maxpool_bwd_kernel(float *dinp, const float *dout, const int32_t *idx, int H,
                                   int W, int OH, int OW, int64_t n) {
    KN_GRID_STRIDE(i, n) {
        int64_t nc = i / ((int64_t)OW * OH);
        atomicAdd(dinp + nc * H * W + idx[i], dout[i]);
    }
}

__device__ inline int avg_divisor(int h0, int w0, int H, int W, int KH, int KW, int pad, int cip) {
    int h1 = h0 + KH, w1 = w0 + KW;
    if (h1 > H + pad) h1 = H + pad;
    if (w1 > W + pad) w1 = W + pad;
    if (cip) return (h1 - h0) * (w1 - w0);
    if (h0 < 0) h0 = 0;
    if (w0 < 0) w0 = 0;
    if (h1 > H) h1 = H;
    if (w1 > W) w1 = W;
    return (h1 - h0) * (w1 - w0);
}

__global__ void avgpool_fwd_kernel(float *out, const float *inp, int H, int W, int OH, int OW,
                                   int KH, int KW, int stride, int pad, int cip, int64_t n) {
    KN_GRID_STRIDE(i, n) {
        int ow = (int)(i % OW), oh = (int)((i / OW) % OH);
        const float *x = inp + (i / ((int64_t)OW * OH)) * H * W;
        int h0 = oh * stride - pad, w0 = ow * stride - pad;
        int div = avg_divisor(h0, w0, H, W, KH, KW, pad, cip);
        int ha = h0 < 0 ? 0 : h0, hb = h0 + KH > H ? H : h0 + KH;
        int wa = w0 < 0 ? 0 : w0, wb = w0 + KW > W ? W : w0 + KW;
        float s = 0;
        for (int h = ha; h < hb; h++)
            for (int w = wa; w < wb; w++) s += x[h * W + w];
        out[i] = s / (float)div;
    }
}

/* per input pixel: the windows that hold it */
__global__ void avgpool_bwd_kernel(float *dinp, const float *dout, int H, int W, int OH, int OW,
                                   int KH, int KW, int stride, int pad, int cip, int acc, int64_t n) {
    KN_GRID_STRIDE(i, n) {
        int w = (int)(i % W), h = (int)((i / W) % H);
        const float *g = dout + (i / ((int64_t)W * H)) * OH * OW;
        float s = 0;
        for (int oh = 0; oh < OH; oh++) {
            int h0 = oh * stride - pad;
            if (h < h0 || h >= h0 + KH) continue;
            for (int ow = 0; ow < OW; ow++) {
                int w0 = ow * stride - pad;
                if (w < w0 || w >= w0 + KW) continue;
                s += g[oh * OW + ow] / (float)avg_divisor(h0, w0, H, W, KH, KW, pad, cip);
            }
        }
        kn_store(dinp + i, s, acc);
    }
}

__device__ inline int ad_start(int i, int in, int out) { return (int)((long long)i * in / out); }
__device__ inline int ad_end(int i, int in, int out) {
    return (int)(((long long)(i + 1) * in + out - 1) / out);
}

__global__ void adaptive_fwd_kernel(float *out, const float *inp, int H, int W, int OH, int OW,
                                    int64_t n) {
    KN_GRID_STRIDE(i, n) {
        int ow = (int)(i % OW), oh = (int)((i / OW) % OH);
        const float *x = inp + (i / ((int64_t)OW * OH)) * H * W;
        int ha = ad_start(oh, H, OH), hb = ad_end(oh, H, OH);
        int wa = ad_start(ow, W, OW), wb = ad_end(ow, W, OW);
        float s = 0;
        for (int h = ha; h < hb; h++)
            for (int w = wa; w < wb; w++) s += x[h * W + w];
        out[i] = s / (float)((hb - ha) * (wb - wa));
    }
}

__global__ void adaptive_bwd_kernel(float *dinp, const float *dout, int H, int W, int OH, int OW,
                                    int acc, int64_t n) {
    KN_GRID_STRIDE(i, n) {
        int w = (int)(i % W), h = (int)((i / W) % H);
        const float *g = dout + (i / ((int64_t)W * H)) * OH * OW;
        float s = 0;
        for (int oh = 0; oh < OH; oh++) {
            int ha = ad_start(oh, H, OH), hb = ad_end(oh, H, OH);
            if (h < ha || h >= hb) continue;
            for (int ow = 0; ow < OW; ow++) {
                int wa = ad_start(ow, W, OW), wb = ad_end(ow, W, OW);
                if (w < wa || w >= wb) continue;
                s += g[oh * OW + ow] / (float)((hb - ha) * (wb - wa));
            }
        }
        kn_store(dinp + i, s, acc);
    }
}

/* ---- upsampling ------------------------------------------------------------------ */
/* PyTorch computes the scales in float for float tensors; so does the CPU back end */
static float src_scale(int in, int out, double scale) {
    return scale > 0 ? (float)(1.0 / scale) : (float)in / (float)out;
}

__device__ inline int nearest_src(int dst, int in, int out, float scale) {
    if (out == in) return dst;
    if (out == 2 * in) return dst >> 1;
    int s = (int)floorf(__fmul_rn((float)dst, scale));
    return s < in - 1 ? s : in - 1;
}

/* the two source pixels of output coordinate d and the second one's weight */
__device__ inline void linear_tap(int d, int in, int align, float sc, int *i0, int *i1, float *l1) {
    float src = align ? __fmul_rn(sc, (float)d) : __fadd_rn(__fmul_rn(sc, (float)d + 0.5f), -0.5f);
    if (src < 0) src = 0;
    int a = (int)src;
    if (a > in - 1) a = in - 1;
    float l = src - (float)a;
    l = l < 0 ? 0 : (l > 1 ? 1 : l);
    *i0 = a;
    *i1 = a + (a < in - 1 ? 1 : 0);
    *l1 = l;
}

static float linear_scale(int in, int out, int align, double scale) {
    if (align) return out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
    return src_scale(in, out, scale);
}

__global__ void nearest_fwd_kernel(float *out, const float *inp, int H, int W, int OH, int OW,
                                   float sh, float sw, int64_t n) {
    KN_GRID_STRIDE(i, n) {
        int ow = (int)(i % OW), oh = (int)((i / OW) % OH);
        const float *x = inp + (i / ((int64_t)OW * OH)) * H * W;
        out[i] = x[(int64_t)nearest_src(oh, H, OH, sh) * W + nearest_src(ow, W, OW, sw)];
    }
}

__global__ void nearest_bwd_kernel(float *dinp, const float *dout, int H, int W, int OH, int OW,
                                   float sh, float sw, int64_t n) {
    KN_GRID_STRIDE(i, n) {
        int ow = (int)(i % OW), oh = (int)((i / OW) % OH);
        float *d = dinp + (i / ((int64_t)OW * OH)) * H * W;
        atomicAdd(d + (int64_t)nearest_src(oh, H, OH, sh) * W + nearest_src(ow, W, OW, sw), dout[i]);
    }
}

__global__ void bilinear_fwd_kernel(float *out, const float *inp, int H, int W, int OH, int OW,
                                    int align, float sh, float sw, int64_t n) {
    KN_GRID_STRIDE(i, n) {
        int ow = (int)(i % OW), oh = (int)((i / OW) % OH);
        const float *x = inp + (i / ((int64_t)OW * OH)) * H * W;
        int h0, h1, w0, w1;
        float lh, lw;
        linear_tap(oh, H, align, sh, &h0, &h1, &lh);
        linear_tap(ow, W, align, sw, &w0, &w1, &lw);
        const float *r0 = x + (int64_t)h0 * W, *r1 = x + (int64_t)h1 * W;
        float a0 = 1.0f - lh, b0 = 1.0f - lw;
        out[i] = a0 * (b0 * r0[w0] + lw * r0[w1]) + lh * (b0 * r1[w0] + lw * r1[w1]);
    }
}

__global__ void bilinear_bwd_kernel(float *dinp, const float *dout, int H, int W, int OH, int OW,
                                    int align, float sh, float sw, int64_t n) {
    KN_GRID_STRIDE(i, n) {
        int ow = (int)(i % OW), oh = (int)((i / OW) % OH);
        float *d = dinp + (i / ((int64_t)OW * OH)) * H * W;
        int h0, h1, w0, w1;
        float lh, lw;
        linear_tap(oh, H, align, sh, &h0, &h1, &lh);
        linear_tap(ow, W, align, sw, &w0, &w1, &lw);
        float v = dout[i], a0 = 1.0f - lh, b0 = 1.0f - lw;
        atomicAdd(d + (int64_t)h0 * W + w0, a0 * b0 * v);
        atomicAdd(d + (int64_t)h0 * W + w1, a0 * lw * v);
        atomicAdd(d + (int64_t)h1 * W + w0, lh * b0 * v);
        atomicAdd(d + (int64_t)h1 * W + w1, lh * lw * v);
    }
}

#define LAUNCH(name, n, ...)                                                              \
    do {                                                                                  \
        if ((n) > 0) {                                                                    \
            name<<<kn_cuda_blocks(n), KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(__VA_ARGS__); \
            KN_LAUNCH_CHECK(#name);                                                       \
        }                                                                                 \
    } while (0)

static void zero_unless(int acc, float *p, int64_t n) {
    if (!acc && n > 0) KN_CUDA_CHECK(cudaMemsetAsync(p, 0, (size_t)n * sizeof(float), kn_cuda_stream()));
}

void kn_cuda_maxpool2d_fwd(float *out, int32_t *idx, const float *inp, int N, int C, int H,
                           int W, int KH, int KW, int stride, int pad) {
    int OH = pool_out(H, KH, stride, pad), OW = pool_out(W, KW, stride, pad);
    int64_t n = (int64_t)N * C * OH * OW;
    LAUNCH(maxpool_fwd_kernel, n, out, idx, inp, H, W, OH, OW, KH, KW, stride, pad, n);
}

void kn_cuda_maxpool2d_bwd(float *dinp, const float *dout, const int32_t *idx, int N, int C,
                           int H, int W, int OH, int OW, int acc) {
    zero_unless(acc, dinp, (int64_t)N * C * H * W);
    int64_t n = (int64_t)N * C * OH * OW;
    LAUNCH(maxpool_bwd_kernel, n, dinp, dout, idx, H, W, OH, OW, n);
}

void kn_cuda_avgpool2d_fwd(float *out, const float *inp, int N, int C, int H, int W, int KH,
                           int KW, int stride, int pad, int count_include_pad) {
    int OH = pool_out(H, KH, stride, pad), OW = pool_out(W, KW, stride, pad);
    int64_t n = (int64_t)N * C * OH * OW;
    LAUNCH(avgpool_fwd_kernel, n, out, inp, H, W, OH, OW, KH, KW, stride, pad, count_include_pad, n);
}

void kn_cuda_avgpool2d_bwd(float *dinp, const float *dout, int N, int C, int H, int W, int KH,
                           int KW, int stride, int pad, int count_include_pad, int acc) {
    int OH = pool_out(H, KH, stride, pad), OW = pool_out(W, KW, stride, pad);
    int64_t n = (int64_t)N * C * H * W;
    LAUNCH(avgpool_bwd_kernel, n, dinp, dout, H, W, OH, OW, KH, KW, stride, pad,
           count_include_pad, acc, n);
}

void kn_cuda_adaptive_avgpool2d_fwd(float *out, const float *inp, int N, int C, int H, int W,
                                    int OH, int OW) {
    int64_t n = (int64_t)N * C * OH * OW;
    LAUNCH(adaptive_fwd_kernel, n, out, inp, H, W, OH, OW, n);
}

void kn_cuda_adaptive_avgpool2d_bwd(float *dinp, const float *dout, int N, int C, int H, int W,
                                    int OH, int OW, int acc) {
    int64_t n = (int64_t)N * C * H * W;
    LAUNCH(adaptive_bwd_kernel, n, dinp, dout, H, W, OH, OW, acc, n);
}

void kn_cuda_upsample_nearest_fwd(float *out, const float *inp, int N, int C, int H, int W,
                                  int OH, int OW, double scale_h, double scale_w) {
    int64_t n = (int64_t)N * C * OH * OW;
    LAUNCH(nearest_fwd_kernel, n, out, inp, H, W, OH, OW, src_scale(H, OH, scale_h),
           src_scale(W, OW, scale_w), n);
}

void kn_cuda_upsample_nearest_bwd(float *dinp, const float *dout, int N, int C, int H, int W,
                                  int OH, int OW, double scale_h, double scale_w, int acc) {
    zero_unless(acc, dinp, (int64_t)N * C * H * W);
    int64_t n = (int64_t)N * C * OH * OW;
    LAUNCH(nearest_bwd_kernel, n, dinp, dout, H, W, OH, OW, src_scale(H, OH, scale_h),
           src_scale(W, OW, scale_w), n);
}

void kn_cuda_upsample_bilinear_fwd(float *out, const float *inp, int N, int C, int H, int W,
                                   int OH, int OW, int align_corners, double scale_h,
                                   double scale_w) {
    int64_t n = (int64_t)N * C * OH * OW;
    LAUNCH(bilinear_fwd_kernel, n, out, inp, H, W, OH, OW, align_corners,
           linear_scale(H, OH, align_corners, scale_h), linear_scale(W, OW, align_corners, scale_w), n);
}

void kn_cuda_upsample_bilinear_bwd(float *dinp, const float *dout, int N, int C, int H, int W,
                                   int OH, int OW, int align_corners, double scale_h,
                                   double scale_w, int acc) {
    zero_unless(acc, dinp, (int64_t)N * C * H * W);
    int64_t n = (int64_t)N * C * OH * OW;
    LAUNCH(bilinear_bwd_kernel, n, dinp, dout, H, W, OH, OW, align_corners,
           linear_scale(H, OH, align_corners, scale_h), linear_scale(W, OW, align_corners, scale_w), n);
}
