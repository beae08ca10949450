#include "en_clip.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "en_clip_internal.h"
#include "en_error.h"
#include "en_tensor_internal.h"

/* ---- configuration ------------------------------------------------------- */

void en_clip_config_finish(en_clip_config *c) {
    if (c->vision_heads <= 0)
        c->vision_heads = c->vision_vit ? c->vision_width / 64 : c->vision_width * 32 / 64;
    if (c->vision_heads <= 0) c->vision_heads = 1;
    if (c->transformer_heads <= 0) c->transformer_heads = c->transformer_width / 64;
    if (c->transformer_heads <= 0) c->transformer_heads = 1;
    if (c->resnet_stem_stride <= 0) c->resnet_stem_stride = 2;
    if (c->resnet_stem_pool <= 0) c->resnet_stem_pool = 2;
}

static int config_check(const en_clip_config *c) {
    if (c->embed_dim <= 0 || c->image_resolution <= 0 || c->vision_width <= 0 ||
        c->context_length <= 0 || c->vocab_size <= 0 || c->transformer_width <= 0 ||
        c->transformer_layers <= 0 || c->transformer_layers > EN_CLIP_MAX_LAYERS)
        return en_error("clip: config has a non-positive or too large size");
    if (c->vision_vit) {
        if (c->vision_patch_size <= 0 || c->image_resolution % c->vision_patch_size)
            return en_error("clip: image resolution %d is not a multiple of the patch size %d",
                            c->image_resolution, c->vision_patch_size);
        if (c->vision_layers[0] <= 0 || c->vision_layers[0] > EN_CLIP_MAX_LAYERS)
            return en_error("clip: %d vision layers", c->vision_layers[0]);
        if (c->vision_width % c->vision_heads)
            return en_error("clip: vision width %d not divisible by %d heads", c->vision_width, c->vision_heads);
    } else {
        for (int i = 0; i < 4; i++)
            if (c->vision_layers[i] <= 0) return en_error("clip: ResNet stage %d has no blocks", i + 1);
        int down = c->resnet_stem_stride * c->resnet_stem_pool * 8;
        if (c->image_resolution % down)
            return en_error("clip: image resolution %d is not a multiple of the ResNet's downsampling %d",
                            c->image_resolution, down);
        if ((c->vision_width * 32) % c->vision_heads)
            return en_error("clip: ResNet embed width %d not divisible by %d heads", c->vision_width * 32, c->vision_heads);
    }
    if (c->transformer_width % c->transformer_heads)
        return en_error("clip: text width %d not divisible by %d heads", c->transformer_width, c->transformer_heads);
    return 0;
}

/* ---- parameters ------------------------------------------------------------ */

en_tensor *en_clip_param(en_clip *m, int ndim, const int64_t *shape, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    en_tensor *t = en_params_add(m->p, name, ndim, shape);
    EN_ASSERT(t != NULL);
    return t;
}

en_tensor *en_clip_buffer(en_clip *m, int ndim, const int64_t *shape, float fill, const char *fmt, ...) {
    EN_ASSERT(m->nbuf < EN_CLIP_MAX_BUFS);
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    en_tensor *t = en_tensor_full(ndim, shape, fill);
    m->buf_name[m->nbuf] = strdup(name);
    EN_ASSERT(m->buf_name[m->nbuf] != NULL);
    m->buf[m->nbuf++] = t;
    return t;
}

void en_clip_init_default(en_tensor *w, int64_t fan_in, en_rng *r) {
    float b = 1.0f / sqrtf((float)fan_in), *d = en_tensor_f32(w);
    en_rng_fill_uniform(r, d, (size_t)en_tensor_numel(w), -b, b);
}

void en_clip_init_normal(en_tensor *w, float std, en_rng *r) {
    en_rng_fill_normal(r, en_tensor_f32(w), (size_t)en_tensor_numel(w), 0, std);
}

void en_clip_fill(en_tensor *w, float v) { en_tensor_fill_(w, v); }

static void xformer_build(en_clip *m, en_clip_xformer *x, const char *prefix, int width, int layers, int heads) {
    x->width = width; x->layers = layers; x->heads = heads;
    int64_t W = width;
    for (int i = 0; i < layers; i++) {
        en_clip_block *b = &x->blk[i];
        const char *p = prefix;
        b->in_w = en_clip_param(m, EN_DIMS(3 * W, W), "%sresblocks.%d.attn.in_proj_weight", p, i);
        b->in_b = en_clip_param(m, EN_DIMS(3 * W), "%sresblocks.%d.attn.in_proj_bias", p, i);
        b->out_w = en_clip_param(m, EN_DIMS(W, W), "%sresblocks.%d.attn.out_proj.weight", p, i);
        b->out_b = en_clip_param(m, EN_DIMS(W), "%sresblocks.%d.attn.out_proj.bias", p, i);
        b->ln1_w = en_clip_param(m, EN_DIMS(W), "%sresblocks.%d.ln_1.weight", p, i);
        b->ln1_b = en_clip_param(m, EN_DIMS(W), "%sresblocks.%d.ln_1.bias", p, i);
        b->fc_w = en_clip_param(m, EN_DIMS(4 * W, W), "%sresblocks.%d.mlp.c_fc.weight", p, i);
        b->fc_b = en_clip_param(m, EN_DIMS(4 * W), "%sresblocks.%d.mlp.c_fc.bias", p, i);
        b->proj_w = en_clip_param(m, EN_DIMS(W, 4 * W), "%sresblocks.%d.mlp.c_proj.weight", p, i);
        b->proj_b = en_clip_param(m, EN_DIMS(W), "%sresblocks.%d.mlp.c_proj.bias", p, i);
        b->ln2_w = en_clip_param(m, EN_DIMS(W), "%sresblocks.%d.ln_2.weight", p, i);
        b->ln2_b = en_clip_param(m, EN_DIMS(W), "%sresblocks.%d.ln_2.bias", p, i);
    }
}

/* OpenAI's initialize_parameters for a transformer. */
static void xformer_init(en_clip_xformer *x, en_rng *r) {
    float W = (float)x->width;
    float proj_std = powf(W, -0.5f) * powf(2.0f * x->layers, -0.5f), attn_std = powf(W, -0.5f);
    float fc_std = powf(2.0f * W, -0.5f);
    for (int i = 0; i < x->layers; i++) {
        en_clip_block *b = &x->blk[i];
        en_clip_init_normal(b->in_w, attn_std, r);
        en_clip_init_normal(b->out_w, proj_std, r);
        en_clip_init_normal(b->fc_w, fc_std, r);
        en_clip_init_normal(b->proj_w, proj_std, r);
        en_clip_init_default(b->fc_b, x->width, r);
        en_clip_init_default(b->proj_b, 4 * x->width, r);
        en_clip_fill(b->ln1_w, 1); en_clip_fill(b->ln2_w, 1);
        /* in_proj_bias, out_proj.bias and the layer-norm biases stay 0 */
    }
}

en_clip *en_clip_new(const en_clip_config *cfg, en_rng *r) {
    en_clip_config c = *cfg;
    en_clip_config_finish(&c);
    if (config_check(&c) < 0) return NULL;
    en_clip *m = calloc(1, sizeof *m);
    EN_ASSERT(m != NULL);
    m->cfg = c;
    m->p = en_params_new();
    int64_t E = c.embed_dim, VW = c.vision_width, TW = c.transformer_width;
    /* the order follows OpenAI's state_dict */
    m->logit_scale = en_clip_param(m, 0, NULL, "logit_scale");
    if (c.vision_vit) {
        int64_t P = c.vision_patch_size, g = c.image_resolution / c.vision_patch_size;
        m->class_emb = en_clip_param(m, EN_DIMS(VW), "visual.class_embedding");
        m->vpos = en_clip_param(m, EN_DIMS(g * g + 1, VW), "visual.positional_embedding");
        m->vproj = en_clip_param(m, EN_DIMS(VW, E), "visual.proj");
        m->conv1_w = en_clip_param(m, EN_DIMS(VW, 3, P, P), "visual.conv1.weight");
        m->ln_pre_w = en_clip_param(m, EN_DIMS(VW), "visual.ln_pre.weight");
        m->ln_pre_b = en_clip_param(m, EN_DIMS(VW), "visual.ln_pre.bias");
        xformer_build(m, &m->vt, "visual.transformer.", c.vision_width, c.vision_layers[0], c.vision_heads);
        m->ln_post_w = en_clip_param(m, EN_DIMS(VW), "visual.ln_post.weight");
        m->ln_post_b = en_clip_param(m, EN_DIMS(VW), "visual.ln_post.bias");
    } else {
        en_clip_resnet_build(m);
    }
    m->tpos = en_clip_param(m, EN_DIMS(c.context_length, TW), "positional_embedding");
    m->text_proj = en_clip_param(m, EN_DIMS(TW, E), "text_projection");
    m->tok_emb = en_clip_param(m, EN_DIMS(c.vocab_size, TW), "token_embedding.weight");
    xformer_build(m, &m->tt, "transformer.", c.transformer_width, c.transformer_layers, c.transformer_heads);
    m->ln_final_w = en_clip_param(m, EN_DIMS(TW), "ln_final.weight");
    m->ln_final_b = en_clip_param(m, EN_DIMS(TW), "ln_final.bias");

    /* OpenAI's initialisation */
    en_tensor_f32(m->logit_scale)[0] = logf(1.0f / 0.07f);
    en_clip_init_normal(m->tok_emb, 0.02f, r);
    en_clip_init_normal(m->tpos, 0.01f, r);
    if (c.vision_vit) {
        float scale = powf((float)VW, -0.5f);
        en_clip_init_default(m->conv1_w, 3 * (int64_t)c.vision_patch_size * c.vision_patch_size, r);
        en_clip_init_normal(m->class_emb, scale, r);
        en_clip_init_normal(m->vpos, scale, r);
        en_clip_init_normal(m->vproj, scale, r);
        en_clip_fill(m->ln_pre_w, 1); en_clip_fill(m->ln_post_w, 1);
        xformer_init(&m->vt, r);
    } else {
        en_clip_resnet_init(m, r);
    }
    xformer_init(&m->tt, r);
    en_clip_fill(m->ln_final_w, 1);
    en_clip_init_normal(m->text_proj, powf((float)TW, -0.5f), r);
    return m;
}

void en_clip_free(en_clip *m) {
    if (!m) return;
    en_params_free(m->p);
    for (int i = 0; i < m->nbuf; i++) { free(m->buf_name[i]); en_tensor_release(m->buf[i]); }
    free(m->blocks);
    free(m);
}

const en_clip_config *en_clip_get_config(const en_clip *m) { return &m->cfg; }
en_params *en_clip_params(en_clip *m) { return m->p; }
en_tensor *en_clip_logit_scale(en_clip *m) { return m->logit_scale; }
void en_clip_set_train(en_clip *m, int train) { m->train = train; }

int en_clip_to(en_clip *m, en_device dev) {
    if (en_params_to(m->p, dev) < 0) return -1;
    for (int i = 0; i < m->nbuf; i++)
        if (en_tensor_move_(m->buf[i], dev) < 0) return en_error_prefix("clip: buffer %s", m->buf_name[i]);
    return 0;
}

/* ---- forward --------------------------------------------------------------- */

/* Swap *x for f(*x), releasing the old one: keeps the forward code linear. */
#define STEP(x, expr) do { en_tensor *n_ = (expr); en_tensor_release(x); (x) = n_; } while (0)

static en_tensor *block_forward(const en_clip_block *b, en_tensor *x, int heads, int causal) {
    en_tensor *h = en_layer_norm(x, b->ln1_w, b->ln1_b, 1e-5f);
    STEP(h, en_mha(h, b->in_w, b->in_b, b->out_w, b->out_b, heads, causal));
    en_tensor *x1 = en_add(x, h);
    en_tensor_release(h);
    h = en_layer_norm(x1, b->ln2_w, b->ln2_b, 1e-5f);
    STEP(h, en_linear(h, b->fc_w, b->fc_b));
    STEP(h, en_quick_gelu(h));
    STEP(h, en_linear(h, b->proj_w, b->proj_b));
    en_tensor *x2 = en_add(x1, h);
    en_tensor_release(h);
    en_tensor_release(x1);
    return x2;
}

/* x is consumed (released); returns the output. */
static en_tensor *xformer_forward(const en_clip_xformer *t, en_tensor *x, int causal) {
    for (int i = 0; i < t->layers; i++) STEP(x, block_forward(&t->blk[i], x, t->heads, causal));
    return x;
}

static int check_images(const en_clip *m, const en_tensor *img) {
    int R = m->cfg.image_resolution;
    if (img->dtype != EN_F32 || img->ndim != 4 || img->shape[1] != 3 || img->shape[2] != R || img->shape[3] != R) {
        char s[64];
        return en_error("clip: images must be float (N, 3, %d, %d), got %s", R, R, en_tensor_shape_str(img, s, sizeof s));
    }
    return 0;
}

/* ViT tokens after ln_post: (N, g*g+1, width). */
static en_tensor *vit_tokens(en_clip *m, en_tensor *img) {
    int64_t N = img->shape[0], P = m->cfg.vision_patch_size, g = m->cfg.image_resolution / P, W = m->cfg.vision_width;
    /* the patch convolution (stride = kernel, no bias) as one matmul over patches */
    en_tensor *x = en_reshape(img, EN_DIMS(N, 3, g, P, g, P));
    STEP(x, en_permute(x, (const int[]){0, 2, 4, 1, 3, 5}));
    STEP(x, en_reshape(x, EN_DIMS(N, g * g, 3 * P * P)));
    en_tensor *w = en_reshape(m->conv1_w, EN_DIMS(W, 3 * P * P));
    STEP(x, en_linear(x, w, NULL));
    en_tensor_release(w);
    en_tensor *cls = en_reshape(m->class_emb, EN_DIMS(1, 1, W));
    STEP(cls, en_expand(cls, EN_DIMS(N, 1, W)));
    en_tensor *parts[2] = { cls, x };
    en_tensor *seq = en_concat(2, parts, 1);
    en_tensor_release(cls); en_tensor_release(x);
    STEP(seq, en_add(seq, m->vpos));
    STEP(seq, en_layer_norm(seq, m->ln_pre_w, m->ln_pre_b, 1e-5f));
    seq = xformer_forward(&m->vt, seq, 0);
    STEP(seq, en_layer_norm(seq, m->ln_post_w, m->ln_post_b, 1e-5f));
    return seq;
}

en_tensor *en_clip_image_prepool(en_clip *m, en_tensor *images) {
    if (check_images(m, images) < 0) return NULL;
    return m->cfg.vision_vit ? vit_tokens(m, images) : en_clip_resnet_prepool(m, images);
}

en_tensor *en_clip_encode_image(en_clip *m, en_tensor *images) {
    if (check_images(m, images) < 0) return NULL;
    if (!m->cfg.vision_vit) {
        en_tensor *f = en_clip_resnet_prepool(m, images);
        if (!f) return NULL;
        STEP(f, en_clip_attnpool(m, f));
        return f;
    }
    en_tensor *seq = vit_tokens(m, images);
    en_tensor *x = en_select(seq, 1, 0);
    en_tensor_release(seq);
    STEP(x, en_matmul(x, m->vproj));
    return x;
}

/* Prompts grouped by length for en_clip_encode_text: order lists the rows
 * by end position (stable), group g is order[start[g] .. start[g+1]) and
 * runs to its longest row. The split minimises the tokens computed, rows
 * times each group's length, plus a twentieth of the padded batch's
 * tokens for each group after the first (a group is one more pass of
 * smaller products); returns the number of groups (1: the batch whole, in
 * its own order). */
enum { TEXT_GROUPS_MAX = 4 };
static int text_groups(const int64_t *eot, int64_t N, int64_t T, int64_t *order, int64_t *start) {
    /* rows of each length, and the stable order by length */
    int64_t *cnt = calloc((size_t)T + 1, sizeof *cnt);
    EN_ASSERT(cnt != NULL);
    for (int64_t i = 0; i < N; i++) cnt[eot[i] + 1]++;
    /* best[g][t]: least cost of the rows of length <= t in g + 1 groups, the
     * last ending at length t; cut[g][t] the previous group's end length */
    double best[TEXT_GROUPS_MAX][T + 1];
    int64_t cut[TEXT_GROUPS_MAX][T + 1], below[T + 1];
    below[0] = 0;
    for (int64_t t = 1; t <= T; t++) below[t] = below[t - 1] + cnt[t];
    const double penalty = 0.05 * (double)N * (double)T;
    for (int g = 0; g < TEXT_GROUPS_MAX; g++)
        for (int64_t t = 0; t <= T; t++) {
            best[g][t] = g == 0 ? (double)below[t] * t : INFINITY;
            cut[g][t] = 0;
            if (g == 0) continue;
            for (int64_t u = 1; u < t; u++) {
                if (cnt[u] == 0 || below[u] == below[t]) continue; /* groups end at a length in use, none empty */
                double c = best[g - 1][u] + (double)(below[t] - below[u]) * t + penalty;
                if (c < best[g][t]) { best[g][t] = c; cut[g][t] = u; }
            }
        }
    int G = 0;
    for (int g = 1; g < TEXT_GROUPS_MAX; g++)
        if (best[g][T] < best[G][T]) G = g;
    if (G == 0) {
        free(cnt);
        for (int64_t i = 0; i < N; i++) order[i] = i;
        start[0] = 0; start[1] = N;
        return 1;
    }
    int64_t ends[TEXT_GROUPS_MAX], t = T;
    for (int g = G; g >= 0; g--) { ends[g] = t; t = cut[g][t]; }
    int64_t *pos = calloc((size_t)T + 2, sizeof *pos);
    EN_ASSERT(pos != NULL);
    for (int64_t u = 1; u <= T; u++) pos[u + 1] = pos[u] + cnt[u];
    for (int64_t i = 0; i < N; i++) order[pos[eot[i] + 1]++] = i;
    start[0] = 0;
    for (int g = 0; g <= G; g++) start[g + 1] = below[ends[g]];
    free(cnt); free(pos);
    return G + 1;
}

en_tensor *en_clip_encode_text(en_clip *m, const en_tensor *tokens) {
    if (tokens->dtype != EN_I64 || tokens->ndim != 2 || tokens->shape[1] > m->cfg.context_length ||
        tokens->shape[1] < 1) {
        char s[64];
        return en_error("clip: tokens must be int64 (N, L <= %d), got %s", m->cfg.context_length,
                        en_tensor_shape_str(tokens, s, sizeof s)), NULL;
    }
    int64_t N = tokens->shape[0], L = tokens->shape[1], W = m->cfg.transformer_width;
    en_tensor *tc = en_tensor_to_i64(tokens); /* contiguous copy we can read */
    const int64_t *ids = en_tensor_i64(tc);
    int64_t *eot = malloc((size_t)(N + 1) * sizeof *eot), last = 0;
    EN_ASSERT(eot != NULL);
    for (int64_t i = 0; i < N; i++) {
        int64_t best = 0;
        for (int64_t j = 0; j < L; j++) {
            int64_t id = ids[i * L + j];
            if (id < 0 || id >= m->cfg.vocab_size) {
                en_tensor_release(tc); free(eot);
                return en_error("clip: token id %lld out of the vocabulary (%d)", (long long)id, m->cfg.vocab_size), NULL;
            }
            if (id > ids[i * L + best]) best = j;
        }
        eot[i] = best;
        if (best > last) last = best;
    }
    /* Causal attention: the feature at the end token depends on the tokens
     * up to it only, so a prompt need not be computed past its end token.
     * The rows are cut into groups of similar length (text_groups), each run
     * to its own longest prompt: a batch of captions whose lengths run from
     * 8 to 28 tokens costs about 60 % of one padded to 28. */
    int64_t *order = malloc((size_t)(N + 1) * sizeof *order), start[TEXT_GROUPS_MAX + 1];
    EN_ASSERT(order != NULL);
    int groups = text_groups(eot, N, last + 1, order, start);
    en_tensor *parts[TEXT_GROUPS_MAX];
    for (int g = 0; g < groups; g++) {
        int64_t n = start[g + 1] - start[g], T = n ? eot[order[start[g + 1] - 1]] + 1 : last + 1;
        int64_t *tk = malloc((size_t)(n * T + 1) * sizeof *tk), *at = malloc((size_t)(n + 1) * sizeof *at);
        EN_ASSERT(tk && at);
        for (int64_t r = 0; r < n; r++) {
            int64_t i = order[start[g] + r];
            memcpy(tk + r * T, ids + i * L, (size_t)T * sizeof *tk);
            at[r] = r * T + eot[i];
        }
        en_tensor *tt = en_tensor_from_i64(2, (const int64_t[]){n, T}, tk);
        free(tk);
        en_tensor *x = en_embedding(m->tok_emb, tt);
        en_tensor_release(tt);
        en_tensor *pos = en_slice(m->tpos, 0, 0, T, 1);
        STEP(x, en_add(x, pos));
        en_tensor_release(pos);
        x = xformer_forward(&m->tt, x, 1);
        STEP(x, en_layer_norm(x, m->ln_final_w, m->ln_final_b, 1e-5f));
        STEP(x, en_reshape(x, EN_DIMS(n * T, W)));
        en_tensor *idx = en_tensor_from_i64(EN_DIMS(n), at);
        free(at);
        STEP(x, en_gather_rows(x, idx));
        en_tensor_release(idx);
        parts[g] = x;
    }
    en_tensor *x = parts[0];
    if (groups > 1) {
        /* the groups' rows in length order, then back in the batch's order */
        x = en_concat(groups, parts, 0);
        for (int g = 0; g < groups; g++) en_tensor_release(parts[g]);
        int64_t *inv = malloc((size_t)(N + 1) * sizeof *inv);
        EN_ASSERT(inv != NULL);
        for (int64_t k = 0; k < N; k++) inv[order[k]] = k;
        en_tensor *idx = en_tensor_from_i64(EN_DIMS(N), inv);
        free(inv);
        STEP(x, en_gather_rows(x, idx));
        en_tensor_release(idx);
    }
    free(order);
    free(eot);
    en_tensor_release(tc);
    STEP(x, en_matmul(x, m->text_proj));
    return x;
}
