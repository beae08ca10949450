/* en_ops_conv — convolution, pooling, upsampling and batch norm on NCHW
 * tensors, differentiable, with PyTorch's semantics (torch.nn.functional):
 * the kernels' contracts are in kernels/cpu/kn_conv.h, kn_pool.h,
 * kn_resample.h and kn_norm.h.
 *
 * Same rules as en_ops.h: borrowed arguments, a new tensor returned (one
 * reference), NULL after en_error() for anything a caller can get wrong (a
 * wrong rank or channel count, a window larger than the padded input).
 * Inputs may be any view; outputs are contiguous f32. Square kernels,
 * strides and paddings (the only kind CLIP, the VQ-VAE and the UNet use).
 * Gradient rule as everywhere: leaves accumulate, activations are written.
 */
#ifndef EN_OPS_CONV_H
#define EN_OPS_CONV_H

#include "en_tensor.h"

/* x (N,C,H,W), w (OC,C,K,K), b (OC) or NULL -> (N,OC,OH,OW),
 * OH = (H + 2*pad - K)/stride + 1. */
en_tensor *en_conv2d(en_tensor *x, en_tensor *w, en_tensor *b, int stride, int pad);
/* x (N,C,H,W), w (C,OC,K,K) (PyTorch's ConvTranspose2d layout), b (OC) or NULL
 * -> (N,OC,OH,OW), OH = (H-1)*stride - 2*pad + K + output_padding,
 * output_padding < stride. */
en_tensor *en_conv_transpose2d(en_tensor *x, en_tensor *w, en_tensor *b, int stride,
                               int pad, int output_padding);

/* Windows of k x k; stride <= 0 means stride = k (PyTorch's default);
 * pad <= k/2. Max pool pads with -inf; the gradient goes to the first
 * maximum of each window. */
en_tensor *en_max_pool2d(en_tensor *x, int k, int stride, int pad);
/* count_include_pad = 1 is PyTorch's default (divide by k*k). */
en_tensor *en_avg_pool2d(en_tensor *x, int k, int stride, int pad, int count_include_pad);
/* Output (N,C,OH,OW); window i covers [floor(i*H/OH), ceil((i+1)*H/OH)). */
en_tensor *en_adaptive_avg_pool2d(en_tensor *x, int OH, int OW);

/* F.interpolate(x, size=(OH,OW)) when OH, OW > 0 and scales are 0, or
 * F.interpolate(x, scale_factor=(sh,sw)) when OH = OW = 0 (output
 * floor(H*sh) x floor(W*sw), source index scale 1/sh as PyTorch). */
en_tensor *en_upsample_nearest(en_tensor *x, int OH, int OW, double sh, double sw);
/* Same sizes; align_corners = 0 is PyTorch's default. */
en_tensor *en_upsample_bilinear(en_tensor *x, int OH, int OW, double sh, double sw,
                                int align_corners);

/* nn.BatchNorm2d. x (N,C,H,W); gamma, beta (C) or NULL (affine = False);
 * running_mean, running_var (C) contiguous f32 buffers (not parameters).
 * training = 1: batch statistics (biased variance), and the buffers, when
 * given, are updated in place with `momentum` (unbiased variance), as
 * PyTorch does; training = 0: the buffers are used and must be given. */
en_tensor *en_batch_norm2d(en_tensor *x, en_tensor *gamma, en_tensor *beta,
                           en_tensor *running_mean, en_tensor *running_var, int training,
                           float momentum, float eps);

#endif
