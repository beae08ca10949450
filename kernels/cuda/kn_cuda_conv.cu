/* kn_cuda_conv — 2-D convolution and transposed convolution, NCHW, by
 * im2col + cuBLAS, with the contracts of kernels/cpu/kn_conv.h (dw, db +=;
 * dinp =|+= by acc; any of dinp, dw, db, b may be NULL; PyTorch's weight
 * layouts).
 *
 * Images go in groups of G, so that a group's matrices fit the scratch
 * (KN_CUDA_CONV_SCRATCH floats at most, one image at the least). A group's
 * column matrix is laid out (K, G·P): row r of every image side by side, so
 * that each product is one GEMM with G·P columns (K = C·KH·KW, P the output
 * pixels of one image) instead of G GEMMs of P columns, which at RN50's
 * shapes (64 output channels, or 49 pixels in the last stage) left cuBLAS's
 * tiles mostly empty: 9.5 TFLOP/s in FP32 at layer1's 3x3 on an H200,
 * against 51 for a large GEMM. The (C, G·P) and (OC, G·P) matrices this
 * needs on the other side are transposes of the first two axes of NCHW
 * (swap01, with the bias folded in). A 1x1, stride-1, unpadded convolution
 * takes its column matrix from swap01 alone. col2im is a gather (each image
 * pixel sums the columns that cover it): no atomics, the same result every
 * run. dw and db add the group's sum (one GEMM, beta = 1) in group order.
 */
#include <stdlib.h>
#include <string.h>

#include "kn_cuda_internal.cuh"

#define KN_CUDA_CONV_SCRATCH ((size_t)1 << 28) /* floats: 1 GiB per group */

static int out_size(int in, int k, int stride, int pad) { return (in + 2 * pad - k) / stride + 1; }

static int group_of(int N, size_t per_image) {
    size_t g = per_image ? KN_CUDA_CONV_SCRATCH / per_image : (size_t)N;
    if (g < 1) g = 1;
    /* a multiple of 4 images keeps every group's G·P columns a multiple of
     * 4 floats (layer4's P = 49): cuBLAS runs its tensor-core kernels only
     * on 16-byte aligned rows, and falls back to a SIMT one otherwise */
    if (g >= 8) g &= ~(size_t)3;
    if (g > (size_t)N) g = (size_t)N;
    return (int)g;
}

/* cols[(c*KH+kh)*KW+kw][g][oh*OW+ow] for gn images of (C,H,W): a row of the
 * column matrix per block step (kn_rows), its (c, kh, kw) decoded once;
 * 32-bit pixel indices (a group is at most KN_CUDA_CONV_SCRATCH floats;
 * 64-bit division per element made the first version slower than its
 * GEMM). */
__global__ void im2col_kernel(float *__restrict__ cols, const float *__restrict__ img, int gn,
                              int C, int H, int W, int KH, int KW, int stride, int pad, int OH,
                              int OW) {
    unsigned P = (unsigned)(OH * OW);
    int64_t rows = (int64_t)gn * C * KH * KW;
    KN_ROWS(row, rows) {
        unsigned r = (unsigned)(row / gn), g = (unsigned)(row % gn);
        int kw = (int)(r % KW), kh = (int)((r / KW) % KH), c = (int)(r / (KW * KH));
        const float *src = img + ((size_t)g * C + c) * H * W;
        float *dst = cols + (size_t)row * P;
        for (unsigned p0 = threadIdx.x; p0 < P; p0 += KN_ROW_UNROLL * blockDim.x) {
            float v[KN_ROW_UNROLL];
#pragma unroll
            for (int u = 0; u < KN_ROW_UNROLL; u++) {
                unsigned p = p0 + u * blockDim.x;
                int oh = (int)(p / OW), ow = (int)(p % OW);
                int ih = oh * stride - pad + kh, iw = ow * stride - pad + kw;
                v[u] = (p < P && ih >= 0 && ih < H && iw >= 0 && iw < W) ? src[ih * W + iw] : 0.0f;
            }
#pragma unroll
            for (int u = 0; u < KN_ROW_UNROLL; u++)
                if (p0 + u * blockDim.x < P) dst[p0 + u * blockDim.x] = v[u];
        }
    }
}

/* img (=|+=) the adjoint of im2col, gathered per pixel */
__global__ void col2im_kernel(float *img, const float *cols, int gn, int C, int H, int W, int KH,
                              int KW, int stride, int pad, int OH, int OW, int acc) {
    int64_t P = (int64_t)OH * OW;
    unsigned n = (unsigned)gn * C * H * W; /* a group: < 2^31 */
    for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        unsigned hw = i % (unsigned)(H * W), q = i / (unsigned)(H * W);
        int w = (int)(hw % W), h = (int)(hw / W), c = (int)(q % C);
        unsigned g = q / C;
        const float *cg = cols + g * P; /* row r of image g at cg + r * gn * P */
        int64_t rs = (int64_t)gn * P;
        float s = 0;
        for (int kh = 0; kh < KH; kh++) {
            int on = h + pad - kh;
            if (on < 0 || on % stride) continue;
            int oh = on / stride;
            if (oh >= OH) continue;
            for (int kw = 0; kw < KW; kw++) {
                int wn = w + pad - kw;
                if (wn < 0 || wn % stride) continue;
                int ow = wn / stride;
                if (ow >= OW) continue;
                s += cg[((int64_t)(c * KH + kh) * KW + kw) * rs + (int64_t)oh * OW + ow];
            }
        }
        kn_store(img + i, s, acc);
    }
}

/* dst (B, A, P) (=|+=) src (A, B, P) with its first two axes swapped, plus
 * bias[a] when bias is not NULL: a destination row (b, a) per block step */
__global__ void swap01_kernel(float *__restrict__ dst, const float *__restrict__ src, int A, int Bn,
                              int P, const float *__restrict__ bias, int acc) {
    int64_t rows = (int64_t)A * Bn;
    KN_ROWS(row, rows) {
        unsigned a = (unsigned)(row % A), b = (unsigned)(row / A);
        const float *s = src + ((size_t)a * Bn + b) * P;
        float *d = dst + (size_t)row * P, add = bias ? bias[a] : 0.0f;
        for (unsigned p0 = threadIdx.x; p0 < (unsigned)P; p0 += KN_ROW_UNROLL * blockDim.x) {
            float v[KN_ROW_UNROLL];
#pragma unroll
            for (int u = 0; u < KN_ROW_UNROLL; u++) {
                unsigned p = p0 + u * blockDim.x;
                v[u] = p < (unsigned)P ? s[p] + add : 0.0f;
            }
#pragma unroll
            for (int u = 0; u < KN_ROW_UNROLL; u++)
                if (p0 + u * blockDim.x < (unsigned)P) kn_store(d + p0 + u * blockDim.x, v[u], acc);
        }
    }
}

/* out[n][c][p] += b[c] */
__global__ void add_bias_kernel(float *out, const float *b, int C, int64_t P, int64_t n) {
    KN_GRID_STRIDE(i, n) out[i] += b[(i / P) % C];
}

/* db[c] += sum over n, p of dout[n][c][p]; one block per channel */
__global__ void bias_grad_kernel(float *db, const float *dout, int N, int C, int64_t P) {
    __shared__ float sh[KN_CUDA_BLOCK / 32];
    int c = blockIdx.x;
    float s = 0;
    for (int64_t k = threadIdx.x; k < (int64_t)N * P; k += blockDim.x)
        s += dout[((k / P) * C + c) * P + k % P];
    s = kn_block_sum(s, sh);
    if (threadIdx.x == 0) db[c] += s;
}

static void im2col(float *cols, const float *img, int gn, int C, int H, int W, int KH, int KW,
                   int stride, int pad, int OH, int OW) {
    int64_t rows = (int64_t)gn * C * KH * KW, P = (int64_t)OH * OW;
    if (rows <= 0 || P <= 0) return;
    kn_rows_launch l = kn_rows(rows, P);
    im2col_kernel<<<l.grid, l.threads, 0, kn_cuda_stream()>>>(cols, img, gn, C, H, W, KH, KW, stride,
                                                              pad, OH, OW);
    KN_LAUNCH_CHECK("im2col_kernel");
}

static void col2im(float *img, const float *cols, int gn, int C, int H, int W, int KH, int KW,
                   int stride, int pad, int OH, int OW, int acc) {
    int64_t n = (int64_t)gn * C * H * W;
    if (n <= 0) return;
    col2im_kernel<<<kn_cuda_blocks(n), KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(
        img, cols, gn, C, H, W, KH, KW, stride, pad, OH, OW, acc);
    KN_LAUNCH_CHECK("col2im_kernel");
}

static void swap01(float *dst, const float *src, int A, int Bn, int64_t P, const float *bias,
                   int acc) {
    if ((int64_t)A * Bn <= 0 || P <= 0) return;
    kn_rows_launch l = kn_rows((int64_t)A * Bn, P);
    swap01_kernel<<<l.grid, l.threads, 0, kn_cuda_stream()>>>(dst, src, A, Bn, (int)P, bias, acc);
    KN_LAUNCH_CHECK("swap01_kernel");
}

static void add_bias(float *out, const float *b, int N, int C, int64_t P) {
    int64_t n = (int64_t)N * C * P;
    if (!b || n <= 0) return;
    add_bias_kernel<<<kn_cuda_blocks(n), KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(out, b, C, P, n);
    KN_LAUNCH_CHECK("add_bias_kernel");
}

static void bias_grad(float *db, const float *dout, int N, int C, int64_t P) {
    if (!db || C <= 0) return;
    bias_grad_kernel<<<C, KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(db, dout, N, C, P);
    KN_LAUNCH_CHECK("bias_grad_kernel");
}

/* ---- conv2d -------------------------------------------------------------------- */
/* per image: columns (K·P), the (OC, P) output or gradient, dcols (K·P) */
static size_t conv_per_image(int C, int KH, int KW, int OC, int P) {
    return (2 * (size_t)C * KH * KW + (size_t)OC) * (size_t)P;
}

size_t kn_cuda_conv2d_scratch(int N, int C, int H, int W, int OC, int KH, int KW, int stride,
                              int pad) {
    size_t per = conv_per_image(C, KH, KW, OC, out_size(H, KH, stride, pad) * out_size(W, KW, stride, pad));
    return (size_t)group_of(N, per) * per;
}

static int pointwise(int KH, int KW, int stride, int pad) {
    return KH == 1 && KW == 1 && stride == 1 && pad == 0;
}

/* the (K, gn·P) column matrix of gn images at x */
static void columns(float *cols, const float *x, int gn, int C, int H, int W, int KH, int KW,
                    int stride, int pad, int OH, int OW) {
    if (pointwise(KH, KW, stride, pad)) swap01(cols, x, gn, C, (int64_t)H * W, NULL, 0);
    else im2col(cols, x, gn, C, H, W, KH, KW, stride, pad, OH, OW);
}

/* How the forward's output reaches NCHW: one GEMM over the group's G·P
 * columns and an axis swap, or a batched GEMM over the images writing
 * (OC, P) in place (no swap; cuBLAS tiles P, so it wastes most of a tile
 * when P is small, as layer4's 49). CLIPBOOK_CUDA_CONV_OUT=swap|direct|auto
 * (default swap; auto: direct when P >= 1024) -- gpu_check bench times both
 * at RN50's shapes so the default can follow the measurement. */
static int conv_mode = -1; /* 0 swap, 1 direct, 2 auto */
static int parse_mode(const char *e) {
    return e && !strcmp(e, "direct") ? 1 : e && !strcmp(e, "auto") ? 2 : 0;
}
static int conv_out_direct(int P) {
    if (conv_mode < 0) conv_mode = parse_mode(getenv("CLIPBOOK_CUDA_CONV_OUT"));
    return conv_mode == 1 || (conv_mode == 2 && P >= 1024);
}
void kn_cuda_conv_out_mode(const char *m) { conv_mode = parse_mode(m); }

void kn_cuda_conv2d_fwd(float *out, float *scratch, const float *inp, const float *w,
                        const float *b, int N, int C, int H, int W, int OC, int KH, int KW,
                        int stride, int pad) {
    int OH = out_size(H, KH, stride, pad), OW = out_size(W, KW, stride, pad);
    int P = OH * OW, K = C * KH * KW;
    int G = group_of(N, conv_per_image(C, KH, KW, OC, P));
    float *cols = scratch, *o2 = scratch + (size_t)G * K * P;
    int direct = conv_out_direct(P);
    for (int m = 0; m < N; m += G) {
        int gn = N - m < G ? N - m : G, n = gn * P;
        float *og = out + (size_t)m * OC * P;
        columns(cols, inp + (size_t)m * C * H * W, gn, C, H, W, KH, KW, stride, pad, OH, OW);
        if (direct) {
            /* out_g (OC, P) = w (OC,K) cols[:, g·P ..] (K, P), a batch over
             * the group's images written in place */
            kn_cuda_gemm_batched(0, 0, OC, P, K, 1.0f, w, K, 0, cols, n, P, 0.0f, og, P, (int64_t)OC * P, gn);
            if (b) add_bias(og, b, gn, OC, P);
        } else {
            /* o2 (OC, gn·P) = w (OC,K) cols (K, gn·P); then (gn, OC, P) + b */
            kn_cuda_gemm(0, 0, OC, n, K, 1.0f, w, K, cols, n, 0.0f, o2, n);
            swap01(og, o2, OC, gn, P, b, 0);
        }
    }
}

void kn_cuda_conv2d_bwd(float *dinp, float *dw, float *db, float *scratch, const float *dout,
                        const float *inp, const float *w, int N, int C, int H, int W, int OC,
                        int KH, int KW, int stride, int pad, int acc) {
    int OH = out_size(H, KH, stride, pad), OW = out_size(W, KW, stride, pad);
    int P = OH * OW, K = C * KH * KW;
    int G = group_of(N, conv_per_image(C, KH, KW, OC, P)), pw = pointwise(KH, KW, stride, pad);
    float *cols = scratch, *g2 = cols + (size_t)G * K * P, *dc = g2 + (size_t)G * OC * P;
    bias_grad(db, dout, N, OC, P);
    if (!dw && !dinp) return;
    for (int m = 0; m < N; m += G) {
        int gn = N - m < G ? N - m : G, n = gn * P;
        /* g2 (OC, gn·P): the group's output gradient */
        swap01(g2, dout + (size_t)m * OC * P, gn, OC, P, NULL, 0);
        if (dw) { /* dw (OC,K) += g2 (OC, gn·P) colsᵀ (gn·P, K) */
            columns(cols, inp + (size_t)m * C * H * W, gn, C, H, W, KH, KW, stride, pad, OH, OW);
            kn_cuda_gemm(0, 1, OC, K, n, 1.0f, g2, n, cols, n, 1.0f, dw, K);
        }
        if (dinp) { /* dc (K, gn·P) = wᵀ (K,OC) g2 (OC, gn·P), back to images */
            float *dx = dinp + (size_t)m * C * H * W;
            kn_cuda_gemm(1, 0, K, n, OC, 1.0f, w, K, g2, n, 0.0f, dc, n);
            if (pw) swap01(dx, dc, C, gn, P, NULL, acc);
            else col2im(dx, dc, gn, C, H, W, KH, KW, stride, pad, OH, OW, acc);
        }
    }
}

/* ---- conv_transpose2d: the adjoint of conv2d from (OC,OH,OW) to (C,H,W) --------- */
/* per image: columns (K·P, K = OC·KH·KW over the input's P = H·W pixels),
 * the input as (C, P), its gradient as (C, P) */
static size_t convt_per_image(int C, int KH, int KW, int OC, int P) {
    return ((size_t)OC * KH * KW + 2 * (size_t)C) * (size_t)P;
}

size_t kn_cuda_convt2d_scratch(int N, int C, int H, int W, int OC, int KH, int KW, int stride,
                               int pad, int outpad) {
    size_t per = convt_per_image(C, KH, KW, OC, H * W);
    return (size_t)group_of(N, per) * per;
}

void kn_cuda_convt2d_fwd(float *out, float *scratch, const float *inp, const float *w,
                         const float *b, int N, int C, int H, int W, int OC, int KH, int KW,
                         int stride, int pad, int outpad) {
    int OH = (H - 1) * stride - 2 * pad + KH + outpad, OW = (W - 1) * stride - 2 * pad + KW + outpad;
    int P = H * W, K = OC * KH * KW;
    int G = group_of(N, convt_per_image(C, KH, KW, OC, P));
    float *cols = scratch, *x2 = cols + (size_t)G * K * P;
    for (int m = 0; m < N; m += G) {
        int gn = N - m < G ? N - m : G, n = gn * P;
        /* cols (K, gn·P) = wᵀ (K,C) x2 (C, gn·P), then gathered into out */
        swap01(x2, inp + (size_t)m * C * P, gn, C, P, NULL, 0);
        kn_cuda_gemm(1, 0, K, n, C, 1.0f, w, K, x2, n, 0.0f, cols, n);
        col2im(out + (size_t)m * OC * OH * OW, cols, gn, OC, OH, OW, KH, KW, stride, pad, H, W, 0);
    }
    add_bias(out, b, N, OC, (int64_t)OH * OW);
}

void kn_cuda_convt2d_bwd(float *dinp, float *dw, float *db, float *scratch, const float *dout,
                         const float *inp, const float *w, int N, int C, int H, int W, int OC,
                         int KH, int KW, int stride, int pad, int outpad, int acc) {
    int OH = (H - 1) * stride - 2 * pad + KH + outpad, OW = (W - 1) * stride - 2 * pad + KW + outpad;
    int P = H * W, K = OC * KH * KW;
    int G = group_of(N, convt_per_image(C, KH, KW, OC, P));
    float *cols = scratch, *x2 = cols + (size_t)G * K * P, *d2 = x2 + (size_t)G * C * P;
    bias_grad(db, dout, N, OC, (int64_t)OH * OW);
    if (!dinp && !dw) return;
    for (int m = 0; m < N; m += G) {
        int gn = N - m < G ? N - m : G, n = gn * P;
        im2col(cols, dout + (size_t)m * OC * OH * OW, gn, OC, OH, OW, KH, KW, stride, pad, H, W);
        if (dinp) { /* d2 (C, gn·P) = w (C,K) cols (K, gn·P), back to images */
            kn_cuda_gemm(0, 0, C, n, K, 1.0f, w, K, cols, n, 0.0f, d2, n);
            swap01(dinp + (size_t)m * C * P, d2, C, gn, P, NULL, acc);
        }
        if (dw) { /* dw (C,K) += x2 (C, gn·P) colsᵀ (gn·P, K) */
            swap01(x2, inp + (size_t)m * C * P, gn, C, P, NULL, 0);
            kn_cuda_gemm(0, 1, C, K, n, 1.0f, x2, n, cols, n, 1.0f, dw, K);
        }
    }
}
