/* kn_cuda_conv — 2-D convolution and transposed convolution, NCHW, by
 * im2col + cuBLAS, with the contracts of kernels/cpu/kn_conv.h (dw, db +=;
 * dinp =|+= by acc; any of dinp, dw, db, b may be NULL; PyTorch's weight
 * layouts).
 *
 * Images go in groups of G, so that the column matrices of a group fit the
 * scratch (KN_CUDA_CONV_SCRATCH floats at most, one image at the least):
 * one im2col launch and one strided-batched GEMM per group. A 1x1,
 * stride-1, unpadded convolution reads its input as the column matrix.
 * col2im is a gather (each image pixel sums the columns that cover it): no
 * atomics, the same result every run. dw adds one GEMM per image (beta = 1)
 * in image order, the same order as a loop on the CPU.
 */
#include "kn_cuda_internal.cuh"

#define KN_CUDA_CONV_SCRATCH ((size_t)1 << 25) /* floats: 128 MiB of columns per group */

static int out_size(int in, int k, int stride, int pad) { return (in + 2 * pad - k) / stride + 1; }

static int group_of(int N, size_t per_image) {
    size_t g = per_image ? KN_CUDA_CONV_SCRATCH / per_image : (size_t)N;
    if (g < 1) g = 1;
    if (g > (size_t)N) g = (size_t)N;
    return (int)g;
}

/* cols[g][(c*KH+kh)*KW+kw][oh*OW+ow] for gn images of (C,H,W) */
__global__ void im2col_kernel(float *cols, const float *img, int gn, int C, int H, int W, int KH,
                              int KW, int stride, int pad, int OH, int OW) {
    int64_t P = (int64_t)OH * OW, R = (int64_t)C * KH * KW;
    KN_GRID_STRIDE(i, (int64_t)gn * R * P) {
        int64_t p = i % P, r = (i / P) % R, g = i / (P * R);
        int ow = (int)(p % OW), oh = (int)(p / OW);
        int kw = (int)(r % KW), kh = (int)((r / KW) % KH), c = (int)(r / (KW * KH));
        int ih = oh * stride - pad + kh, iw = ow * stride - pad + kw;
        cols[i] = (ih >= 0 && ih < H && iw >= 0 && iw < W)
                      ? img[((g * C + c) * H + ih) * (int64_t)W + iw]
                      : 0.0f;
    }
}

/* img (=|+=) the adjoint of im2col, gathered per pixel */
__global__ void col2im_kernel(float *img, const float *cols, int gn, int C, int H, int W, int KH,
                              int KW, int stride, int pad, int OH, int OW, int acc) {
    int64_t P = (int64_t)OH * OW, R = (int64_t)C * KH * KW;
    KN_GRID_STRIDE(i, (int64_t)gn * C * H * W) {
        int w = (int)(i % W), h = (int)((i / W) % H), c = (int)((i / ((int64_t)W * H)) % C);
        int64_t g = i / ((int64_t)W * H * C);
        const float *cg = cols + g * R * P;
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
                s += cg[((int64_t)(c * KH + kh) * KW + kw) * P + (int64_t)oh * OW + ow];
            }
        }
        kn_store(img + i, s, acc);
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
    int64_t n = (int64_t)gn * C * KH * KW * OH * OW;
    if (n <= 0) return;
    im2col_kernel<<<kn_cuda_blocks(n), KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(
        cols, img, gn, C, H, W, KH, KW, stride, pad, OH, OW);
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
size_t kn_cuda_conv2d_scratch(int N, int C, int H, int W, int OC, int KH, int KW, int stride,
                              int pad) {
    size_t per = (size_t)C * KH * KW * out_size(H, KH, stride, pad) * out_size(W, KW, stride, pad);
    return (size_t)group_of(N, per) * per;
}

static int pointwise(int KH, int KW, int stride, int pad) {
    return KH == 1 && KW == 1 && stride == 1 && pad == 0;
}

void kn_cuda_conv2d_fwd(float *out, float *scratch, const float *inp, const float *w,
                        const float *b, int N, int C, int H, int W, int OC, int KH, int KW,
                        int stride, int pad) {
    int OH = out_size(H, KH, stride, pad), OW = out_size(W, KW, stride, pad);
    int P = OH * OW, K = C * KH * KW;
    int G = group_of(N, (size_t)K * P), pw = pointwise(KH, KW, stride, pad);
    for (int m = 0; m < N; m += G) {
        int gn = N - m < G ? N - m : G;
        const float *x = inp + (size_t)m * C * H * W, *cols = x;
        if (!pw) {
            im2col(scratch, x, gn, C, H, W, KH, KW, stride, pad, OH, OW);
            cols = scratch;
        }
        /* out_g (OC,P) = w (OC,K) cols_g (K,P) */
        kn_cuda_gemm_batched(0, 0, OC, P, K, 1.0f, w, K, 0, cols, P, (int64_t)K * P, 0.0f,
                             out + (size_t)m * OC * P, P, (int64_t)OC * P, gn);
    }
    add_bias(out, b, N, OC, P);
}

void kn_cuda_conv2d_bwd(float *dinp, float *dw, float *db, float *scratch, const float *dout,
                        const float *inp, const float *w, int N, int C, int H, int W, int OC,
                        int KH, int KW, int stride, int pad, int acc) {
    int OH = out_size(H, KH, stride, pad), OW = out_size(W, KW, stride, pad);
    int P = OH * OW, K = C * KH * KW;
    int G = group_of(N, (size_t)K * P), pw = pointwise(KH, KW, stride, pad);
    bias_grad(db, dout, N, OC, P);
    for (int m = 0; m < N; m += G) {
        int gn = N - m < G ? N - m : G;
        const float *x = inp + (size_t)m * C * H * W, *g = dout + (size_t)m * OC * P;
        if (dw) {
            const float *cols = x;
            if (!pw) {
                im2col(scratch, x, gn, C, H, W, KH, KW, stride, pad, OH, OW);
                cols = scratch;
            }
            /* dw (OC,K) += sum_g dout_g (OC,P) cols_gᵀ (P,K), in image order */
            kn_cuda_gemm_batched(0, 1, OC, K, P, 1.0f, g, P, (int64_t)OC * P, cols, P,
                                 (int64_t)K * P, 1.0f, dw, K, 0, gn);
        }
        if (dinp) {
            float *dx = dinp + (size_t)m * C * H * W;
            /* dcols_g (K,P) = wᵀ (K,OC) dout_g (OC,P) */
            if (pw) {
                kn_cuda_gemm_batched(1, 0, K, P, OC, 1.0f, w, K, 0, g, P, (int64_t)OC * P,
                                     acc ? 1.0f : 0.0f, dx, P, (int64_t)C * P, gn);
            } else {
                kn_cuda_gemm_batched(1, 0, K, P, OC, 1.0f, w, K, 0, g, P, (int64_t)OC * P, 0.0f,
                                     scratch, P, (int64_t)K * P, gn);
                col2im(dx, scratch, gn, C, H, W, KH, KW, stride, pad, OH, OW, acc);
            }
        }
    }
}

/* ---- conv_transpose2d: the adjoint of conv2d from (OC,OH,OW) to (C,H,W) --------- */
size_t kn_cuda_convt2d_scratch(int N, int C, int H, int W, int OC, int KH, int KW, int stride,
                               int pad, int outpad) {
    size_t per = (size_t)OC * KH * KW * H * W;
    return (size_t)group_of(N, per) * per;
}

void kn_cuda_convt2d_fwd(float *out, float *scratch, const float *inp, const float *w,
                         const float *b, int N, int C, int H, int W, int OC, int KH, int KW,
                         int stride, int pad, int outpad) {
    int OH = (H - 1) * stride - 2 * pad + KH + outpad, OW = (W - 1) * stride - 2 * pad + KW + outpad;
    int P = H * W, K = OC * KH * KW;
    int G = group_of(N, (size_t)K * P);
    for (int m = 0; m < N; m += G) {
        int gn = N - m < G ? N - m : G;
        /* cols_g (K,P) = wᵀ (K,C) inp_g (C,P), then scattered (gathered) into out */
        kn_cuda_gemm_batched(1, 0, K, P, C, 1.0f, w, K, 0, inp + (size_t)m * C * P, P,
                             (int64_t)C * P, 0.0f, scratch, P, (int64_t)K * P, gn);
        col2im(out + (size_t)m * OC * OH * OW, scratch, gn, OC, OH, OW, KH, KW, stride, pad, H, W, 0);
    }
    add_bias(out, b, N, OC, (int64_t)OH * OW);
}

void kn_cuda_convt2d_bwd(float *dinp, float *dw, float *db, float *scratch, const float *dout,
                         const float *inp, const float *w, int N, int C, int H, int W, int OC,
                         int KH, int KW, int stride, int pad, int outpad, int acc) {
    int OH = (H - 1) * stride - 2 * pad + KH + outpad, OW = (W - 1) * stride - 2 * pad + KW + outpad;
    int P = H * W, K = OC * KH * KW;
    int G = group_of(N, (size_t)K * P);
    bias_grad(db, dout, N, OC, (int64_t)OH * OW);
    if (!dinp && !dw) return;
    for (int m = 0; m < N; m += G) {
        int gn = N - m < G ? N - m : G;
        im2col(scratch, dout + (size_t)m * OC * OH * OW, gn, OC, OH, OW, KH, KW, stride, pad, H, W);
        if (dinp) /* dinp_g (C,P) = w (C,K) cols_g (K,P) */
            kn_cuda_gemm_batched(0, 0, C, P, K, 1.0f, w, K, 0, scratch, P, (int64_t)K * P,
                                 acc ? 1.0f : 0.0f, dinp + (size_t)m * C * P, P, (int64_t)C * P, gn);
        if (dw) /* dw (C,K) += sum_g inp_g (C,P) cols_gᵀ (P,K) */
            kn_cuda_gemm_batched(0, 1, C, K, P, 1.0f, inp + (size_t)m * C * P, P, (int64_t)C * P,
                                 scratch, P, (int64_t)K * P, 1.0f, dw, K, 0, gn);
    }
}
