/* Internal layout of en_clip, shared by en_clip.c (transformers, ViT,
 * text), en_clip_resnet.c and en_clip_io.c. */
#ifndef EN_CLIP_INTERNAL_H
#define EN_CLIP_INTERNAL_H

#include "en_clip.h"

typedef struct {
    en_tensor *ln1_w, *ln1_b, *in_w, *in_b, *out_w, *out_b;
    en_tensor *ln2_w, *ln2_b, *fc_w, *fc_b, *proj_w, *proj_b;
} en_clip_block;

typedef struct {
    int layers, width, heads;
    en_clip_block blk[EN_CLIP_MAX_LAYERS];
} en_clip_xformer;

typedef struct {
    en_tensor *w;                          /* conv weight (out, in, k, k), no bias */
    en_tensor *bn_w, *bn_b, *mean, *var;   /* batch norm affine + running stats */
} en_clip_convbn;

typedef struct {
    int inplanes, planes, stride, has_down;
    en_clip_convbn c1, c2, c3, down;
} en_clip_bottleneck;

#define EN_CLIP_MAX_BUFS 512

struct en_clip {
    en_clip_config cfg;
    en_params *p;
    int train;
    /* ViT */
    en_tensor *conv1_w, *class_emb, *vpos, *ln_pre_w, *ln_pre_b, *ln_post_w, *ln_post_b, *vproj;
    en_clip_xformer vt;
    /* ModifiedResNet */
    en_clip_convbn stem[3];
    en_clip_bottleneck *blocks;
    int nblocks;
    en_tensor *ap_pos, *ap_q_w, *ap_q_b, *ap_k_w, *ap_k_b, *ap_v_w, *ap_v_b, *ap_c_w, *ap_c_b;
    /* text */
    en_tensor *tok_emb, *tpos, *ln_final_w, *ln_final_b, *text_proj, *logit_scale;
    en_clip_xformer tt;
    /* non-parameter buffers (batch-norm running statistics), by name */
    int nbuf;
    char *buf_name[EN_CLIP_MAX_BUFS];
    en_tensor *buf[EN_CLIP_MAX_BUFS];
};

/* Registers a parameter named by printf-style fmt (aborts on duplicates:
 * names are generated, so a clash is a bug). */
en_tensor *en_clip_param(en_clip *m, int ndim, const int64_t *shape, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
en_tensor *en_clip_buffer(en_clip *m, int ndim, const int64_t *shape, float fill, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* ResNet parts (en_clip_resnet.c). */
void       en_clip_resnet_build(en_clip *m);
void       en_clip_resnet_init(en_clip *m, en_rng *r);
en_tensor *en_clip_resnet_prepool(en_clip *m, en_tensor *images);

/* PyTorch's default init for conv/linear weights: U(-1/sqrt(fan_in), +). */
void en_clip_init_default(en_tensor *w, int64_t fan_in, en_rng *r);
void en_clip_init_normal(en_tensor *w, float std, en_rng *r);
void en_clip_fill(en_tensor *w, float v);

#endif
