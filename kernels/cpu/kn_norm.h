/* kn_norm — 2-D batch normalisation on the CPU, NCHW float32, as PyTorch's
 * nn.BatchNorm2d.
 *
 * training = 1: normalise with the batch statistics over (N, H, W) (biased
 *   variance), and, when running_mean/running_var are given, update them with
 *   r = (1 - momentum)*r + momentum*stat using the UNBIASED variance.
 * training = 0: normalise with the running statistics (left unchanged).
 * Either way the forward stores the mean and 1/sqrt(var + eps) it used in
 * mean/rstd (C), which is all the backward needs; in eval mode the backward is
 * the plain affine map, statistics being constants.
 * gamma/beta may be NULL (affine = False); dgamma/dbeta may be NULL (not wanted).
 *
 * Gradient rule: dgamma, dbeta accumulate (+=); dinp is written (=) when
 * acc = 0 and added to (+=) when acc = 1.
 * Statistics are accumulated in double: a channel holds N*H*W values.
 */
#ifndef KN_NORM_H
#define KN_NORM_H

void kn_batchnorm2d_forward(float *out, float *mean, float *rstd, float *running_mean,
                            float *running_var, const float *inp, const float *gamma,
                            const float *beta, int N, int C, int HW, int training,
                            float momentum, float eps);
// inp, out (N,C,HW) mean, rstd, running_*, gamma, beta (C)
void kn_batchnorm2d_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                             const float *inp, const float *mean, const float *rstd,
                             const float *gamma, int N, int C, int HW, int training,
                             int acc);

#endif
