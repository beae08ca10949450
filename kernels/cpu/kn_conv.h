/* kn_conv — 2-D convolution and transposed convolution on the CPU, NCHW float32.
 *
 * Plain arrays in, plain arrays out; no allocation: the caller passes a scratch
 * buffer of at least kn_conv2d_scratch_floats(...) floats (the engine carves it
 * from its arena). Forward and backward sit side by side, arguments ordered
 * outputs, inputs, sizes.
 *
 * Gradient rule: parameter gradients (dw, db) accumulate (+=); the activation
 * gradient dinp is written (=) when acc = 0 and added (+=) when acc = 1 (the
 * engine's fan-out rule, see kn_backend.h). Any of dinp, dw, db, b may be NULL.
 *
 * Method: im2col + GEMM (kn_gemm.h; with AVX-512 the forward's and dw's
 * GEMMs pack their operand straight from the images, no im2col matrix).
 * Images are grouped so that each GEMM has at least ~KN_CONV_MIN_COLS
 * columns (a 7x7 feature map alone makes a skinny, slow GEMM). With at least
 * as many images as OpenMP threads, each thread takes a slice of the batch;
 * with fewer, the forward splits each image's pixels over the threads and
 * the backward threads its loops and GEMMs. Only OpenMP threads are used
 * (see engine/NOTES.md, conv). The scratch size depends on the OpenMP thread
 * count: ask for it after setting threads. A 1x1, stride-1, unpadded
 * convolution on one image skips im2col.
 *
 * Output size: OH = (H + 2*pad - KH) / stride + 1 (floor), as PyTorch.
 */
#ifndef KN_CONV_H
#define KN_CONV_H

#include <stddef.h>

#define KN_CONV_MIN_COLS 2048

static inline int kn_conv_out_size(int in, int k, int stride, int pad) {
    return (in + 2 * pad - k) / stride + 1;
}
/* Transposed convolution: OH = (H - 1)*stride - 2*pad + KH + output_padding. */
static inline int kn_convt_out_size(int in, int k, int stride, int pad, int outpad) {
    return (in - 1) * stride - 2 * pad + k + outpad;
}

/* Scratch (in floats) needed by forward and backward of both ops below:
 * conv2d: (N, C, H, W) input, (OC, C, KH, KW) weight.  */
size_t kn_conv2d_scratch_floats(int N, int C, int H, int W, int OC, int KH, int KW,
                                int stride, int pad);
/* conv_transpose2d: (N, C, H, W) input, (C, OC, KH, KW) weight. */
size_t kn_convt2d_scratch_floats(int N, int C, int H, int W, int OC, int KH, int KW,
                                 int stride, int pad, int outpad);

void kn_conv2d_forward(float *out, float *scratch, const float *inp, const float *w,
                       const float *b, int N, int C, int H, int W, int OC, int KH,
                       int KW, int stride, int pad);
// inp (N,C,H,W) w (OC,C,KH,KW) b (OC) out (N,OC,OH,OW)
void kn_conv2d_backward(float *dinp, float *dw, float *db, float *scratch,
                        const float *dout, const float *inp, const float *w, int N,
                        int C, int H, int W, int OC, int KH, int KW, int stride,
                        int pad, int acc);
// dout (N,OC,OH,OW) dinp like inp, dw like w, db (OC)

/* Transposed convolution with PyTorch's weight layout (in, out, KH, KW):
 * the adjoint of conv2d from (OC, OH, OW) to (C, H, W). */
void kn_convt2d_forward(float *out, float *scratch, const float *inp, const float *w,
                        const float *b, int N, int C, int H, int W, int OC, int KH,
                        int KW, int stride, int pad, int outpad);
// inp (N,C,H,W) w (C,OC,KH,KW) b (OC) out (N,OC,OH,OW)
void kn_convt2d_backward(float *dinp, float *dw, float *db, float *scratch,
                         const float *dout, const float *inp, const float *w, int N,
                         int C, int H, int W, int OC, int KH, int KW, int stride,
                         int pad, int outpad, int acc);

/* The building blocks, exposed for tests and for other kernels.
 * im2col: cols[(c*KH+kh)*KW+kw][ld*… + oh*OW+ow], row stride ld (>= OH*OW).
 * col2im: the adjoint; img is written (acc = 0) or added to (acc = 1). */
void kn_im2col(float *cols, const float *img, int C, int H, int W, int KH, int KW,
               int stride, int pad, int OH, int OW, int ld);
void kn_col2im(float *img, const float *cols, int C, int H, int W, int KH, int KW,
               int stride, int pad, int OH, int OW, int ld, int acc);

/* Winograd F(2x2,3x3) (kn_wino.c): a 3x3, stride-1 convolution with pad 0..2
 * (kn_wino3_ok), out (= or += by acc) conv(inp) + b. kn_conv2d_forward and
 * the stride-1 input gradient dispatch to it where it wins (kn_conv.c). */
int kn_wino3_ok(int KH, int KW, int stride, int pad);
size_t kn_wino3_scratch_floats(int N, int C, int H, int W, int OC, int pad);
void kn_wino3_forward(float *out, float *scratch, const float *inp, const float *w,
                      const float *b, int N, int C, int H, int W, int OC, int pad, int acc);
/* Kernel lab: tiles per chunk (0: default); 0 turns the Winograd dispatch off. */
void kn_wino3_set_tiles(int t);
void kn_conv_set_wino(int on);

/* ---- which variant runs --------------------------------------------------
 * CLIPBOOK_CONV, read once at the first convolution, forces one variant for
 * every conv2d (forward, and the stride-1 input gradient, which is a
 * forward of the flipped kernel):
 *   auto      (the default) Winograd F(2x2,3x3) where the measured rule in
 *             kn_conv.c says it beats the GEMM path, else the implicit GEMM;
 *   winograd  every convolution Winograd can run (3x3, stride 1, pad <= 2),
 *             the others as implicit;
 *   implicit  the GEMM path, the column matrix packed straight from the
 *             images (no Winograd);
 *   im2col    the stored column matrix and a GEMM (no Winograd, no implicit
 *             packing): the plain path, as without AVX-512.
 * Without the native GEMM (or under CLIPBOOK_GEMM=blas) every variant runs
 * im2col + cblas_sgemm. The variants sum in different orders, so a forced
 * one enters the compute signature (engine/en_machine.h) and every memo
 * key; auto leaves it as it was. The per-layer choice by measurement (as
 * kn_gemm_calibrate does for GEMMs) is not done yet: auto's rule was
 * measured on one AMD Zen 5 (engine/NOTES.md, conv 3x3). */
typedef enum { KN_CONV_AUTO, KN_CONV_WINOGRAD, KN_CONV_IMPLICIT, KN_CONV_IM2COL, KN_CONV_VARIANT_COUNT } kn_conv_variant;
/* "auto" | "winograd" | "implicit" | "im2col" -> *out; 0 if s is none of them. */
int kn_conv_variant_parse(const char *s, kn_conv_variant *out);
const char *kn_conv_variant_name(kn_conv_variant v);
/* Overrides CLIPBOOK_CONV for the rest of the process (tests); not while
 * another thread runs a convolution. */
void kn_conv_set_variant(kn_conv_variant v);
/* The variant in force (CLIPBOOK_CONV or kn_conv_set_variant). */
kn_conv_variant kn_conv_variant_forced(void);

/* Kernel lab only: 0 turns the batch-sliced threading plan off (see kn_conv.c). */
void kn_conv_set_sliced(int on);
/* Kernel lab and tests: 0 materialises the im2col matrix even with the
 * native GEMM (the path taken without AVX-512). */
void kn_conv_set_implicit(int on);

#endif
