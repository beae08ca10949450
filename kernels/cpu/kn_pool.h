/* kn_pool — pooling on the CPU, NCHW float32, with PyTorch's semantics
 * (ceil_mode = False). Planes (n, c) are independent and threaded with OpenMP.
 *
 * Gradient rule: the activation gradient dinp is written (=) when acc = 0 and
 * added to (+=) when acc = 1 (the engine's fan-out rule, see kn_backend.h).
 *
 * max pool: padding counts as -inf; `idx` keeps, per output, the flat index
 *   (ih*W + iw) of the maximum within its input plane (the first one on ties,
 *   as PyTorch) for the backward. pad <= K/2 so every window has a real pixel.
 * avg pool: count_include_pad (PyTorch's default) divides by the window
 *   clipped to the padded image; otherwise by the real pixels in it.
 * adaptive avg pool: window of output i is [floor(i*H/OH), ceil((i+1)*H/OH)).
 */
#ifndef KN_POOL_H
#define KN_POOL_H

#include <stdint.h>

static inline int kn_pool_out_size(int in, int k, int stride, int pad) {
    return (in + 2 * pad - k) / stride + 1;
}

void kn_maxpool2d_forward(float *out, int32_t *idx, const float *inp, int N, int C,
                          int H, int W, int KH, int KW, int stride, int pad);
// inp (N,C,H,W) out, idx (N,C,OH,OW)
void kn_maxpool2d_backward(float *dinp, const float *dout, const int32_t *idx, int N,
                           int C, int H, int W, int OH, int OW, int acc);

void kn_avgpool2d_forward(float *out, const float *inp, int N, int C, int H, int W,
                          int KH, int KW, int stride, int pad, int count_include_pad);
// inp (N,C,H,W) out (N,C,OH,OW)
void kn_avgpool2d_backward(float *dinp, const float *dout, int N, int C, int H, int W,
                           int KH, int KW, int stride, int pad, int count_include_pad,
                           int acc);

void kn_adaptive_avgpool2d_forward(float *out, const float *inp, int N, int C, int H,
                                   int W, int OH, int OW);
// inp (N,C,H,W) out (N,C,OH,OW)
void kn_adaptive_avgpool2d_backward(float *dinp, const float *dout, int N, int C, int H,
                                    int W, int OH, int OW, int acc);

#endif
