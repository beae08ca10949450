/* kn_conv_table — the convolution family's entries of the CPU back-end table
 * (kn_backend.h), as one initializer list that kn_cpu.c splices into its
 * table, so the family's kernels are listed next to their own code. */
#ifndef KN_CONV_TABLE_H
#define KN_CONV_TABLE_H

#include "kn_conv.h"
#include "kn_norm.h"
#include "kn_pool.h"
#include "kn_resample.h"

#define KN_CPU_CONV_KERNELS                                                    \
    .conv2d_scratch = kn_conv2d_scratch_floats,                                \
    .conv2d_fwd = kn_conv2d_forward,                                           \
    .conv2d_bwd = kn_conv2d_backward,                                          \
    .convt2d_scratch = kn_convt2d_scratch_floats,                              \
    .convt2d_fwd = kn_convt2d_forward,                                         \
    .convt2d_bwd = kn_convt2d_backward,                                        \
    .maxpool2d_fwd = kn_maxpool2d_forward,                                     \
    .maxpool2d_bwd = kn_maxpool2d_backward,                                    \
    .avgpool2d_fwd = kn_avgpool2d_forward,                                     \
    .avgpool2d_bwd = kn_avgpool2d_backward,                                    \
    .adaptive_avgpool2d_fwd = kn_adaptive_avgpool2d_forward,                   \
    .adaptive_avgpool2d_bwd = kn_adaptive_avgpool2d_backward,                  \
    .upsample_nearest_fwd = kn_upsample_nearest_forward,                       \
    .upsample_nearest_bwd = kn_upsample_nearest_backward,                      \
    .upsample_bilinear_fwd = kn_upsample_bilinear_forward,                     \
    .upsample_bilinear_bwd = kn_upsample_bilinear_backward,                    \
    .batchnorm2d_fwd = kn_batchnorm2d_forward,                                 \
    .batchnorm2d_bwd = kn_batchnorm2d_backward

#endif
