/* OpenAI's ModifiedResNet: a 3-convolution stem with an average pool, four
 * stages of anti-aliased bottlenecks (an average pool does the striding),
 * and an attention pool whose only query is the mean token. */
#include <math.h>
#include <stdlib.h>

#include "en_clip_internal.h"
#include "en_error.h"
#include "en_ops_conv.h"

#define STEP(x, expr) do { en_tensor *n_ = (expr); en_tensor_release(x); (x) = n_; } while (0)

static void convbn_build(en_clip *m, en_clip_convbn *cb, int64_t out, int64_t in, int64_t k,
                         const char *conv, const char *bn) {
    cb->w = en_clip_param(m, EN_DIMS(out, in, k, k), "%s.weight", conv);
    cb->bn_w = en_clip_param(m, EN_DIMS(out), "%s.weight", bn);
    cb->bn_b = en_clip_param(m, EN_DIMS(out), "%s.bias", bn);
    cb->mean = en_clip_buffer(m, EN_DIMS(out), 0.0f, "%s.running_mean", bn);
    cb->var = en_clip_buffer(m, EN_DIMS(out), 1.0f, "%s.running_var", bn);
}

void en_clip_resnet_build(en_clip *m) {
    const en_clip_config *c = &m->cfg;
    int64_t W = c->vision_width, E = c->embed_dim, C = W * 32;
    char a[128], b[128];
    convbn_build(m, &m->stem[0], W / 2, 3, 3, "visual.conv1", "visual.bn1");
    convbn_build(m, &m->stem[1], W / 2, W / 2, 3, "visual.conv2", "visual.bn2");
    convbn_build(m, &m->stem[2], W, W / 2, 3, "visual.conv3", "visual.bn3");
    m->nblocks = c->vision_layers[0] + c->vision_layers[1] + c->vision_layers[2] + c->vision_layers[3];
    m->blocks = calloc((size_t)m->nblocks, sizeof *m->blocks);
    EN_ASSERT(m->blocks != NULL);
    int inplanes = (int)W, k = 0;
    for (int s = 0; s < 4; s++)
        for (int i = 0; i < c->vision_layers[s]; i++, k++) {
            en_clip_bottleneck *bl = &m->blocks[k];
            bl->inplanes = inplanes;
            bl->planes = (int)W << s;
            bl->stride = (s > 0 && i == 0) ? 2 : 1;
            bl->has_down = bl->stride > 1 || inplanes != bl->planes * 4;
            for (int j = 1; j <= 3; j++) {
                snprintf(a, sizeof a, "visual.layer%d.%d.conv%d", s + 1, i, j);
                snprintf(b, sizeof b, "visual.layer%d.%d.bn%d", s + 1, i, j);
                en_clip_convbn *cb = j == 1 ? &bl->c1 : j == 2 ? &bl->c2 : &bl->c3;
                int64_t in = j == 1 ? inplanes : bl->planes, out = j == 3 ? 4 * (int64_t)bl->planes : bl->planes;
                convbn_build(m, cb, out, in, j == 2 ? 3 : 1, a, b);
            }
            if (bl->has_down) {
                /* OpenAI's Sequential is keyed "-1" (AvgPool2d, no parameters),
                 * "0" (the 1x1 conv), "1" (BatchNorm2d): clip/model.py,
                 * Bottleneck.__init__, and open_clip's modified_resnet.py. */
                snprintf(a, sizeof a, "visual.layer%d.%d.downsample.0", s + 1, i);
                snprintf(b, sizeof b, "visual.layer%d.%d.downsample.1", s + 1, i);
                convbn_build(m, &bl->down, 4 * (int64_t)bl->planes, inplanes, 1, a, b);
            }
            inplanes = bl->planes * 4;
        }
    int64_t sp = c->image_resolution / (c->resnet_stem_stride * c->resnet_stem_pool * 8);
    m->ap_pos = en_clip_param(m, EN_DIMS(sp * sp + 1, C), "visual.attnpool.positional_embedding");
    m->ap_k_w = en_clip_param(m, EN_DIMS(C, C), "visual.attnpool.k_proj.weight");
    m->ap_k_b = en_clip_param(m, EN_DIMS(C), "visual.attnpool.k_proj.bias");
    m->ap_q_w = en_clip_param(m, EN_DIMS(C, C), "visual.attnpool.q_proj.weight");
    m->ap_q_b = en_clip_param(m, EN_DIMS(C), "visual.attnpool.q_proj.bias");
    m->ap_v_w = en_clip_param(m, EN_DIMS(C, C), "visual.attnpool.v_proj.weight");
    m->ap_v_b = en_clip_param(m, EN_DIMS(C), "visual.attnpool.v_proj.bias");
    m->ap_c_w = en_clip_param(m, EN_DIMS(E, C), "visual.attnpool.c_proj.weight");
    m->ap_c_b = en_clip_param(m, EN_DIMS(E), "visual.attnpool.c_proj.bias");
}

static void convbn_init(en_clip_convbn *cb, en_rng *r, float bn_weight) {
    int64_t fan_in = cb->w->shape[1] * cb->w->shape[2] * cb->w->shape[3];
    en_clip_init_default(cb->w, fan_in, r);
    en_clip_fill(cb->bn_w, bn_weight);
}

void en_clip_resnet_init(en_clip *m, en_rng *r) {
    for (int i = 0; i < 3; i++) convbn_init(&m->stem[i], r, 1);
    for (int k = 0; k < m->nblocks; k++) {
        en_clip_bottleneck *bl = &m->blocks[k];
        convbn_init(&bl->c1, r, 1);
        convbn_init(&bl->c2, r, 1);
        convbn_init(&bl->c3, r, 0); /* OpenAI zeroes bn3's weight: each block starts as identity */
        if (bl->has_down) convbn_init(&bl->down, r, 1);
    }
    int64_t C = m->ap_q_w->shape[1];
    float std = powf((float)C, -0.5f);
    en_clip_init_normal(m->ap_pos, std, r);
    en_clip_init_normal(m->ap_q_w, std, r);
    en_clip_init_normal(m->ap_k_w, std, r);
    en_clip_init_normal(m->ap_v_w, std, r);
    en_clip_init_normal(m->ap_c_w, std, r);
    en_clip_init_default(m->ap_q_b, C, r);
    en_clip_init_default(m->ap_k_b, C, r);
    en_clip_init_default(m->ap_v_b, C, r);
    en_clip_init_default(m->ap_c_b, C, r);
}

static en_tensor *convbn_forward(const en_clip *m, const en_clip_convbn *cb, en_tensor *x, int stride, int relu) {
    int pad = (int)cb->w->shape[2] / 2;
    en_tensor *y = en_conv2d(x, cb->w, NULL, stride, pad);
    STEP(y, en_batch_norm2d(y, cb->bn_w, cb->bn_b, cb->mean, cb->var, m->train, 0.1f, 1e-5f));
    if (relu) STEP(y, en_relu(y));
    return y;
}

static en_tensor *bottleneck_forward(const en_clip *m, const en_clip_bottleneck *bl, en_tensor *x) {
    en_tensor *h = convbn_forward(m, &bl->c1, x, 1, 1);
    STEP(h, convbn_forward(m, &bl->c2, h, 1, 1));
    if (bl->stride > 1) STEP(h, en_avg_pool2d(h, bl->stride, bl->stride, 0, 1));
    STEP(h, convbn_forward(m, &bl->c3, h, 1, 0));
    en_tensor *id;
    if (bl->has_down) {
        id = bl->stride > 1 ? en_avg_pool2d(x, bl->stride, bl->stride, 0, 1) : en_tensor_retain(x);
        STEP(id, convbn_forward(m, &bl->down, id, 1, 0));
    } else {
        id = en_tensor_retain(x);
    }
    STEP(h, en_add(h, id));
    en_tensor_release(id);
    STEP(h, en_relu(h));
    return h;
}

en_tensor *en_clip_resnet_prepool(en_clip *m, en_tensor *images) {
    const en_clip_config *c = &m->cfg;
    en_tensor *x = convbn_forward(m, &m->stem[0], images, c->resnet_stem_stride, 1);
    STEP(x, convbn_forward(m, &m->stem[1], x, 1, 1));
    STEP(x, convbn_forward(m, &m->stem[2], x, 1, 1));
    if (c->resnet_stem_pool > 1) STEP(x, en_avg_pool2d(x, c->resnet_stem_pool, c->resnet_stem_pool, 0, 1));
    for (int k = 0; k < m->nblocks; k++) STEP(x, bottleneck_forward(m, &m->blocks[k], x));
    return x;
}

en_tensor *en_clip_attnpool(en_clip *m, en_tensor *feats) {
    if (m->cfg.vision_vit) return en_error("clip: the ViT has no attention pool"), NULL;
    int64_t N = feats->shape[0], C = feats->shape[1], HW = feats->shape[2] * feats->shape[3];
    int64_t h = m->cfg.vision_heads, dh = C / h;
    if (feats->ndim != 4 || C != m->ap_q_w->shape[1] || HW + 1 != m->ap_pos->shape[0]) {
        char s[64];
        return en_error("clip: attention pool expects (N, %lld, h, w) with h*w = %lld, got %s",
                        (long long)m->ap_q_w->shape[1], (long long)m->ap_pos->shape[0] - 1,
                        en_tensor_shape_str(feats, s, sizeof s)), NULL;
    }
    en_tensor *x = en_reshape(feats, EN_DIMS(N, C, HW));
    STEP(x, en_transpose(x, 1, 2));                       /* (N, HW, C) */
    en_tensor *mean = en_mean(x, 1, (const int[]){1}, 1); /* (N, 1, C) */
    en_tensor *parts[2] = { mean, x };
    en_tensor *seq = en_concat(2, parts, 1);              /* (N, HW+1, C) */
    en_tensor_release(mean); en_tensor_release(x);
    STEP(seq, en_add(seq, m->ap_pos));
    int64_t T = HW + 1;
    en_tensor *q0 = en_slice(seq, 1, 0, 1, 1);
    en_tensor *q = en_linear(q0, m->ap_q_w, m->ap_q_b);
    en_tensor_release(q0);
    en_tensor *k = en_linear(seq, m->ap_k_w, m->ap_k_b);
    en_tensor *v = en_linear(seq, m->ap_v_w, m->ap_v_b);
    en_tensor_release(seq);
    STEP(q, en_reshape(q, EN_DIMS(N, 1, h, dh)));
    STEP(q, en_transpose(q, 1, 2));                       /* (N, h, 1, dh) */
    STEP(q, en_mul_scalar(q, 1.0f / sqrtf((float)dh)));
    STEP(k, en_reshape(k, EN_DIMS(N, T, h, dh)));
    STEP(k, en_permute(k, (const int[]){0, 2, 3, 1}));    /* (N, h, dh, T) */
    STEP(v, en_reshape(v, EN_DIMS(N, T, h, dh)));
    STEP(v, en_transpose(v, 1, 2));                       /* (N, h, T, dh) */
    en_tensor *att = en_matmul(q, k);                     /* (N, h, 1, T) */
    en_tensor_release(q); en_tensor_release(k);
    STEP(att, en_softmax(att, -1));
    en_tensor *o = en_matmul(att, v);                     /* (N, h, 1, dh) */
    en_tensor_release(att); en_tensor_release(v);
    STEP(o, en_reshape(o, EN_DIMS(N, C)));
    STEP(o, en_linear(o, m->ap_c_w, m->ap_c_b));
    return o;
}
