/* en_preprocess — CLIP's image preprocessing, matching the reference
 * pipeline (torchvision Resize(n, BICUBIC) on a PIL image, CenterCrop(n),
 * ToTensor, Normalize) pixel for pixel:
 *   - resize: Pillow's Image.resize(..., BICUBIC): Keys kernel a = -0.5,
 *     support widened by the scale when shrinking (antialiasing), separable
 *     passes (horizontal then vertical) with 22-bit fixed-point weights and
 *     rounding to 8 bits between the passes;
 *   - the shorter side to n, the longer to int(n * long / short);
 *   - centre crop offsets int(round((size - n) / 2)) with Python's round;
 *   - mean/std normalisation into float CHW.
 * Images are uint8 HWC with c channels (1, 3 or 4), rows contiguous. */
#ifndef EN_PREPROCESS_H
#define EN_PREPROCESS_H

#include <stdint.h>

#define EN_CLIP_MEAN { 0.48145466f, 0.4578275f, 0.40821073f }
#define EN_CLIP_STD  { 0.26862954f, 0.26130258f, 0.27577711f }

/* Pillow BICUBIC resize of in (h,w,c) into out (oh,ow,c). 0, or -1 with
 * en_error() for impossible sizes. */
int en_resize_bicubic(uint8_t *out, int oh, int ow, const uint8_t *in, int h, int w, int c);

/* Pillow's NEAREST resize of a one-byte plane in (h,w) into out (oh,ow),
 * for label masks: Pillow steps through the source in double precision
 * (index k = int(scale / 2 + k * scale), the sum accumulated), which at some
 * size ratios differs from floor((k + 0.5) * scale); this follows Pillow. */
void en_resize_nearest_u8(uint8_t *out, int oh, int ow, const uint8_t *in, int h, int w);

/* Sizes after resizing the shorter side to n (torchvision's rule). */
void en_resize_shorter_dims(int h, int w, int n, int *oh, int *ow);

/* CLIP's mean/std normalisation, in place: x holds n images (3, px) with
 * values in [0,1]; x = (x - mean[c]) / std[c] (NULL: CLIP's). The one place
 * the formula lives: preprocessing, pre-training and the batched encoder
 * (en_clip_encode_images_batched) all call it. */
void en_clip_normalize(float *x, int64_t n, int64_t px, const float *mean, const float *std);

/* The whole CLIP pipeline for one RGB image (h,w,3) into out (3,n,n),
 * normalised with mean/std (NULL: CLIP's). 0 or -1 with en_error(). */
int en_clip_preprocess(float *out, const uint8_t *in, int h, int w, int n,
                       const float *mean, const float *std);

#endif
