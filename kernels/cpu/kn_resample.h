/* kn_resample — nearest and bilinear upsampling (any output size), NCHW float32,
 * with PyTorch 1.13's CPU index rules so outputs match F.interpolate exactly:
 *   scale = 1/scale_factor when one is given (> 0), else in/out;
 *   nearest:  src = min(floor(dst*scale), in-1);
 *   bilinear: src = align_corners ? dst*(in-1)/(out-1)
 *                                 : max(0, (dst+0.5)*scale - 0.5),
 *             blended with src's floor and the next pixel (clamped to the edge).
 * Pass scale_h = scale_w = 0 to give the output size only.
 *
 * Gradient rule: dinp is written (=) when acc = 0, added to (+=) when acc = 1.
 */
#ifndef KN_RESAMPLE_H
#define KN_RESAMPLE_H

void kn_upsample_nearest_forward(float *out, const float *inp, int N, int C, int H, int W,
                                 int OH, int OW, double scale_h, double scale_w);
// inp (N,C,H,W) out (N,C,OH,OW)
void kn_upsample_nearest_backward(float *dinp, const float *dout, int N, int C, int H,
                                  int W, int OH, int OW, double scale_h, double scale_w,
                                  int acc);

void kn_upsample_bilinear_forward(float *out, const float *inp, int N, int C, int H,
                                  int W, int OH, int OW, int align_corners,
                                  double scale_h, double scale_w);
// inp (N,C,H,W) out (N,C,OH,OW)
void kn_upsample_bilinear_backward(float *dinp, const float *dout, int N, int C, int H,
                                   int W, int OH, int OW, int align_corners,
                                   double scale_h, double scale_w, int acc);

#endif
