/* en_clip_batch — CLIP image features of a whole split: chunks without the
 * tape, CLIP's normalisation on a copy of each chunk, rows written in order.
 * The one chunked encoder behind the Lua bindings (m:encode_image,
 * m:prepool), the `clipbook embed-images` command and the study's frozen
 * features. Precision "bf16" runs the linear layers (all of a ViT's GEMMs
 * but the patch embedding; a ResNet's attention pool) through en_bf16's
 * scope; the convolutions stay float32. Also the text features at a
 * precision (embed-texts, m:encode_text), under the same scope. */
#include <stdlib.h>
#include <string.h>

#include "en_autograd.h"
#include "en_bf16.h"
#include "en_clip.h"
#include "en_error.h"
#include "en_preprocess.h"

int en_clip_feature_dims(const en_clip *m, int prepool, int64_t dims[3]) {
    const en_clip_config *c = en_clip_get_config(m);
    if (!prepool) { dims[0] = c->embed_dim; return 1; }
    if (c->vision_vit) {
        int64_t g = c->image_resolution / c->vision_patch_size;
        dims[0] = g * g + 1;
        dims[1] = c->vision_width;
        return 2;
    }
    int64_t side = c->image_resolution / (c->resnet_stem_stride * c->resnet_stem_pool * 8);
    dims[0] = (int64_t)c->vision_width * 32;
    dims[1] = dims[2] = side;
    return 3;
}

int en_clip_encode_images_batched(en_clip *m, const float *images, int64_t n, int normalized,
                                  int64_t chunk, int prepool, float *out) {
    return en_clip_encode_images_precision(m, images, n, normalized, chunk, prepool, EN_PREC_FP32, out);
}

int en_clip_encode_images_precision(en_clip *m, const float *images, int64_t n, int normalized, int64_t chunk,
                                    int prepool, en_precision prec, float *out) {
    if (n <= 0) return en_error("clip: no images to encode");
    if (chunk <= 0) chunk = 256;
    int64_t R = en_clip_get_config(m)->image_resolution, px = R * R, dims[3];
    int nd = en_clip_feature_dims(m, prepool, dims);
    int64_t per = 1;
    for (int d = 0; d < nd; d++) per *= dims[d];
    int prev = en_grad_set_enabled(0);
    /* bf16: the linear layers' weights converted once for the whole split
     * (en_bf16.h); where the CPU cannot, float32 (en_bf16_unavailable says why) */
    en_params *P = en_clip_params(m);
    /* a model moved to a device (en_clip_to) gets each chunk there once and
     * gives its features back once; bf16 is the CPU's scope */
    en_device dev = en_tensor_device(en_clip_logit_scale(m));
    int bf16 = prec == EN_PREC_BF16 && dev == EN_CPU && en_bf16_begin(en_params_data(P), en_params_numel(P));
    int rc = 0;
    for (int64_t a = 0; a < n && !rc; a += chunk) {
        int64_t b = a + chunk < n ? a + chunk : n;
        en_tensor *x = en_tensor_from_f32(EN_DIMS(b - a, 3, R, R), images + (size_t)a * 3 * (size_t)px);
        if (!normalized) en_clip_normalize(en_tensor_f32(x), b - a, px, NULL, NULL);
        if (dev != EN_CPU) {
            en_tensor *xd = en_tensor_to(x, dev);
            en_tensor_release(x);
            if (!xd) { rc = -1; break; }
            x = xd;
        }
        en_tensor *f = prepool ? en_clip_image_prepool(m, x) : en_clip_encode_image(m, x);
        en_tensor_release(x);
        if (!f) { rc = -1; break; }
        en_tensor *fh = en_tensor_cpu(f), *fc = en_contiguous(fh);
        en_tensor_release(f);
        en_tensor_release(fh);
        if (en_tensor_numel(fc) != (b - a) * per) {
            en_tensor_release(fc);
            rc = en_error("clip: the encoder gave %lld values per image, expected %lld",
                          (long long)(en_tensor_numel(fc) / (b - a)), (long long)per);
            break;
        }
        memcpy(out + (size_t)a * (size_t)per, en_tensor_f32(fc), sizeof(float) * (size_t)((b - a) * per));
        en_tensor_release(fc);
    }
    if (bf16) en_bf16_end();
    en_grad_set_enabled(prev);
    return rc;
}

en_tensor *en_clip_encode_text_precision(en_clip *m, const en_tensor *tokens, en_precision prec) {
    int prev = en_grad_set_enabled(0);
    /* the whole parameter buffer: the text tower's weights lie in it too */
    en_params *P = en_clip_params(m);
    int bf16 = prec == EN_PREC_BF16 && en_bf16_begin(en_params_data(P), en_params_numel(P));
    en_tensor *f = en_clip_encode_text(m, tokens);
    if (bf16) en_bf16_end();
    en_grad_set_enabled(prev);
    return f;
}
