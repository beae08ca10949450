/* en_clip — OpenAI's CLIP in the engine: the Vision Transformer and the
 * ModifiedResNet image towers, the causal text transformer, logit_scale.
 * Follows openai/CLIP's clip/model.py number for number; parameters carry
 * OpenAI's key names ("visual.transformer.resblocks.0.attn.in_proj_weight",
 * "token_embedding.weight", ...) so checkpoints load by name.
 *
 * A model owns its parameters in one en_params registry (flat buffers an
 * optimiser steps over) and, for the ResNet, batch-norm running statistics
 * as separate buffers. Forward passes record on the autodiff tape when grad
 * mode is on (pre-training) and not otherwise (inference).
 */
#ifndef EN_CLIP_H
#define EN_CLIP_H

#include "en_autograd.h"
#include "en_ops.h"
#include "en_rng.h"
#include "en_tensor.h"

#define EN_CLIP_MAX_LAYERS 64

typedef struct {
    int embed_dim;
    int image_resolution;
    int vision_vit;            /* 1: ViT, 0: ModifiedResNet */
    int vision_layers[4];      /* ViT: [0] = layers; ResNet: blocks per stage */
    int vision_width;
    int vision_patch_size;     /* ViT only */
    int vision_heads;          /* ViT: width/64; ResNet: width*32/64 (OpenAI's rule) */
    int context_length;
    int vocab_size;
    int transformer_width;
    int transformer_heads;
    int transformer_layers;
    /* clipbook's variant for small inputs (metadata "resnet_stem_stride",
     * "resnet_stem_pool"): OpenAI's ResNet is 2 and 2 (downsampling by 32);
     * 1 and 1 keep a 4x larger pre-pool map. */
    int resnet_stem_stride;
    int resnet_stem_pool;
} en_clip_config;

typedef struct en_clip en_clip;

/* Sensible defaults derived from the sizes given (heads, stem): call after
 * filling the sizes, before en_clip_new. */
void     en_clip_config_finish(en_clip_config *c);
/* A model with OpenAI's initialisation, drawn from r. NULL + en_error on an
 * inconsistent config. */
en_clip *en_clip_new(const en_clip_config *c, en_rng *r);
void     en_clip_free(en_clip *m);
const en_clip_config *en_clip_get_config(const en_clip *m);
en_params *en_clip_params(en_clip *m);

/* images (N, 3, R, R) normalised -> (N, embed_dim), not normalised. */
en_tensor *en_clip_encode_image(en_clip *m, en_tensor *images);
/* tokens EN_I64 (N, L), L <= context_length, eot = largest id per row ->
 * (N, embed_dim). */
en_tensor *en_clip_encode_text(en_clip *m, const en_tensor *tokens);
/* What the attention pool / class token sees: ResNet (N, C, h, w) before
 * the attention pool; ViT (N, T, width) after ln_post. */
en_tensor *en_clip_image_prepool(en_clip *m, en_tensor *images);
/* The attention pool alone (ResNet): (N, C, h, w) -> (N, embed_dim). */
en_tensor *en_clip_attnpool(en_clip *m, en_tensor *feats);
/* The logit scale parameter (0-dim; exp() of it multiplies the cosines). */
en_tensor *en_clip_logit_scale(en_clip *m);
/* The shape of one image's features (en_clip_batch.c): pooled (embed_dim),
 * prepool ResNet (C, h, w) or ViT (T, width). Returns the number of dims. */
int        en_clip_feature_dims(const en_clip *m, int prepool, int64_t dims[3]);
/* Features of n images (n, 3, R, R), contiguous f32, without the tape,
 * `chunk` images at a time (<= 0: 256), written row after row into out
 * (n x the product of en_clip_feature_dims). Images are in [0,1] and get
 * CLIP's mean/std normalisation (en_clip_normalize) on a copy, unless
 * normalized. 0, or -1 with en_error (out then partly written). */
int        en_clip_encode_images_batched(en_clip *m, const float *images, int64_t n, int normalized,
                                         int64_t chunk, int prepool, float *out);
/* The same at a precision: EN_PREC_FP32 (what the above runs) or
 * EN_PREC_BF16, the linear layers in bfloat16 on a CPU with AVX512_BF16
 * (en_bf16.h; float32 elsewhere: en_bf16_unavailable says why). */
typedef enum { EN_PREC_FP32, EN_PREC_BF16 } en_precision;
int        en_clip_encode_images_precision(en_clip *m, const float *images, int64_t n, int normalized,
                                           int64_t chunk, int prepool, en_precision prec, float *out);
/* Text features (en_clip_encode_text) without the tape, at a precision:
 * EN_PREC_BF16 runs the text transformer's linear layers (attention in/out
 * projections, MLP) through en_bf16's scope; the embeddings, layer norms,
 * attention products and the final projection stay float32. */
en_tensor *en_clip_encode_text_precision(en_clip *m, const en_tensor *tokens, en_precision prec);
/* BatchNorm mode for the ResNet: 1 = training statistics (and updates of the
 * running ones), 0 = running statistics (inference, the default). */
void       en_clip_set_train(en_clip *m, int train);
/* Moves the parameters (with their gradients) and buffers to dev; the
 * forward passes then run there with inputs on any device. 0, or -1 with
 * en_error. Checkpoint saving and the CPU-only paths (batched encoding,
 * pre-training) want the model on the CPU. */
int        en_clip_to(en_clip *m, en_device dev);

/* Checkpoints: safetensors with OpenAI's key names. Hyper-parameters come
 * from __metadata__ when present (keys named after the CLIP constructor's
 * arguments), otherwise they are inferred from tensor shapes as OpenAI's
 * build_model does. A missing key, an extra key or a wrong shape is an
 * error naming the key and both shapes. F32/F16/BF16 accepted; integer
 * entries (num_batches_tracked) skipped. */
en_clip *en_clip_load(const char *path);
int      en_clip_save(en_clip *m, const char *path);
/* The same checkpoint bytes in memory, no file (models in the memo store):
 * save into a malloc'd *out of *len bytes; load from data (name for
 * messages, NULL: "<memory>"). */
int      en_clip_save_mem(en_clip *m, void **out, size_t *len);
en_clip *en_clip_load_mem(const void *data, size_t len, const char *name);

#endif
