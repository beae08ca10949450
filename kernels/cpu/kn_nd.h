/* kn_nd — the CPU's strided and indexing kernels: strided copy, broadcast
 * binary functions, sums and maxima along an axis, row gathers and
 * scatters, cross-entropy, and the training kernels (L2 normalisation,
 * AdamW, the clipping norm's sum of squares, max's backward, MSE and BCE
 * with logits); contracts in kn_backend.h.
 * Each is the loop the engine's CPU path runs, in the same order, so a
 * device that runs these (the fake device of tests/cuda) gives the CPU's
 * bits. */
#ifndef KN_ND_H
#define KN_ND_H

#include "kn_backend.h"

void kn_copy_nd(float *dst, const int64_t *ds, const float *src, const int64_t *ss, int nd,
                const int64_t *shape, int acc);
void kn_binary_nd(kn_binary f, float *out, int nd, const int64_t *shape, const float *x,
                  const int64_t *sx, const float *y, const int64_t *sy, const float *z,
                  const int64_t *sz);
void kn_reduce_sum(float *out, const float *x, int64_t outer, int64_t R, int64_t inner,
                   float scale, int acc);
void kn_max_axis(float *val, int64_t *idx, const float *x, int64_t outer, int64_t K,
                 int64_t inner);
void kn_max_axis_bwd(float *dx, const float *g, const int64_t *idx, int64_t outer, int64_t K,
                     int64_t inner);
void kn_gather_rows(float *out, const float *x, const int64_t *idx, int64_t M, int64_t row);
void kn_scatter_rows(float *dx, const float *g, const int64_t *idx, int64_t M, int64_t row);
void kn_xent_fwd(float *loss, float *lse, const float *x, const int64_t *t, int64_t N, int64_t K);
void kn_xent_bwd(float *dx, const float *g, const float *x, const float *lse, const int64_t *t,
                 int64_t N, int64_t K, int acc);

void kn_l2norm_fwd(float *y, float *nrm, const float *x, int64_t N, int64_t C, float eps);
void kn_l2norm_bwd(float *dx, const float *dy, const float *y, const float *nrm, int64_t N,
                   int64_t C, float eps, int acc);
void kn_adamw(float *p, const float *g, float *m, float *v, int64_t n, float decay, float step,
              float bc2_sqrt, float b1, float b2, float eps, float a1, float a2);
void kn_sum_squares(double *out, const float *x, int64_t n, int parts);
void kn_pair_loss_fwd(float *loss, const float *x, const float *t, int64_t n, int bce);
void kn_pair_loss_bwd(float *d, const float *g, const float *x, const float *t, int64_t n, int bce,
                      int wrt_t, int acc);

#define KN_CPU_ND_KERNELS                                                      \
    .copy_nd = kn_copy_nd, .binary_nd = kn_binary_nd, .reduce_sum = kn_reduce_sum, \
    .max_axis = kn_max_axis, .gather_rows = kn_gather_rows,                    \
    .scatter_rows = kn_scatter_rows, .xent_fwd = kn_xent_fwd, .xent_bwd = kn_xent_bwd, \
    .l2norm_fwd = kn_l2norm_fwd, .l2norm_bwd = kn_l2norm_bwd, .adamw = kn_adamw,    \
    .sum_squares = kn_sum_squares, .max_axis_bwd = kn_max_axis_bwd,                 \
    .pair_loss_fwd = kn_pair_loss_fwd, .pair_loss_bwd = kn_pair_loss_bwd

#endif
