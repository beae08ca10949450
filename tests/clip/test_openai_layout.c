/* The loader against OpenAI's own checkpoint layout, written down here from
 * openai/CLIP clip/model.py (and open_clip's modified_resnet.py, which keys
 * the same), not from the engine's writer: every key and shape that
 * CLIP.state_dict() produces for ViT-B/32 and RN50, including BatchNorm's
 * integer num_batches_tracked. The data region is a sparse file of zeros (F16,
 * as OpenAI ships them), so a full-size layout costs no disk and ~0.1 s of
 * reading; the check is that en_clip_load accepts exactly this layout (it
 * rejects missing and unexpected keys) and infers the published
 * hyper-parameters from the shapes alone, as build_model does. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "en_clip.h"
#include "en_error.h"

/* ---- an independent list of OpenAI's keys ------------------------------ */

typedef struct {
    char name[96];
    int ndim;
    int64_t shape[4];
    int i64;  /* num_batches_tracked: int64 scalar */
} key;

typedef struct {
    key *k;
    int n, cap;
} layout;

static void add(layout *l, int i64, const char *name, int ndim, ...) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->k = realloc(l->k, (size_t)l->cap * sizeof *l->k);
        cr_assert(l->k);
    }
    key *k = &l->k[l->n++];
    memset(k, 0, sizeof *k);
    snprintf(k->name, sizeof k->name, "%s", name);
    k->ndim = ndim;
    k->i64 = i64;
    va_list ap;
    va_start(ap, ndim);
    for (int d = 0; d < ndim; d++) k->shape[d] = va_arg(ap, int64_t);
    va_end(ap);
}

#define P(l, name, ...) add(l, 0, name, __VA_ARGS__)

static void fmt(char *buf, size_t n, const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, n, f, ap);
    va_end(ap);
}

/* nn.LayerNorm(d): weight, bias */
static void layer_norm(layout *l, const char *pre, int64_t d) {
    char b[96];
    fmt(b, sizeof b, "%s.weight", pre); P(l, b, 1, d);
    fmt(b, sizeof b, "%s.bias", pre); P(l, b, 1, d);
}

/* nn.BatchNorm2d(c): weight, bias, running_mean, running_var, num_batches_tracked */
static void batch_norm(layout *l, const char *pre, int64_t c) {
    char b[96];
    static const char *f[] = { "weight", "bias", "running_mean", "running_var" };
    for (int i = 0; i < 4; i++) { fmt(b, sizeof b, "%s.%s", pre, f[i]); P(l, b, 1, c); }
    fmt(b, sizeof b, "%s.num_batches_tracked", pre);
    add(l, 1, b, 0);
}

/* Transformer(width, layers, heads): resblocks.i = ResidualAttentionBlock:
 * attn (nn.MultiheadAttention: in_proj_weight/bias, out_proj), ln_1,
 * mlp (c_fc d -> 4d, c_proj 4d -> d), ln_2. */
static void transformer(layout *l, const char *pre, int64_t w, int layers) {
    char b[128];
    for (int i = 0; i < layers; i++) {
        fmt(b, sizeof b, "%s.resblocks.%d.attn.in_proj_weight", pre, i); P(l, b, 2, 3 * w, w);
        fmt(b, sizeof b, "%s.resblocks.%d.attn.in_proj_bias", pre, i); P(l, b, 1, 3 * w);
        fmt(b, sizeof b, "%s.resblocks.%d.attn.out_proj.weight", pre, i); P(l, b, 2, w, w);
        fmt(b, sizeof b, "%s.resblocks.%d.attn.out_proj.bias", pre, i); P(l, b, 1, w);
        fmt(b, sizeof b, "%s.resblocks.%d.ln_1", pre, i); layer_norm(l, b, w);
        fmt(b, sizeof b, "%s.resblocks.%d.mlp.c_fc.weight", pre, i); P(l, b, 2, 4 * w, w);
        fmt(b, sizeof b, "%s.resblocks.%d.mlp.c_fc.bias", pre, i); P(l, b, 1, 4 * w);
        fmt(b, sizeof b, "%s.resblocks.%d.mlp.c_proj.weight", pre, i); P(l, b, 2, w, 4 * w);
        fmt(b, sizeof b, "%s.resblocks.%d.mlp.c_proj.bias", pre, i); P(l, b, 1, w);
        fmt(b, sizeof b, "%s.resblocks.%d.ln_2", pre, i); layer_norm(l, b, w);
    }
}

/* CLIP's text side: context 77, vocab 49408, width 512, 12 layers. */
static void text_tower(layout *l, int64_t embed) {
    P(l, "positional_embedding", 2, 77, 512);
    P(l, "text_projection", 2, 512, embed);
    P(l, "logit_scale", 0);
    transformer(l, "transformer", 512, 12);
    P(l, "token_embedding.weight", 2, 49408, 512);
    layer_norm(l, "ln_final", 512);
}

/* VisionTransformer(224, patch 32, width 768, layers 12, heads 12, output 512) */
static void vit_b_32(layout *l) {
    int64_t w = 768, grid = 224 / 32;
    P(l, "visual.class_embedding", 1, w);
    P(l, "visual.positional_embedding", 2, grid * grid + 1, w);
    P(l, "visual.proj", 2, w, 512);
    P(l, "visual.conv1.weight", 4, w, 3, 32, 32);
    layer_norm(l, "visual.ln_pre", w);
    transformer(l, "visual.transformer", w, 12);
    layer_norm(l, "visual.ln_post", w);
    text_tower(l, 512);
}

/* ModifiedResNet(layers (3, 4, 6, 3), output 1024, heads 32, 224, width 64) */
static void rn50(layout *l) {
    const int64_t width = 64;
    const int blocks[4] = { 3, 4, 6, 3 };
    char b[128];
    P(l, "visual.conv1.weight", 4, width / 2, 3, 3, 3);
    batch_norm(l, "visual.bn1", width / 2);
    P(l, "visual.conv2.weight", 4, width / 2, width / 2, 3, 3);
    batch_norm(l, "visual.bn2", width / 2);
    P(l, "visual.conv3.weight", 4, width, width / 2, 3, 3);
    batch_norm(l, "visual.bn3", width);
    int64_t inplanes = width;
    for (int s = 0; s < 4; s++) {
        int64_t planes = width << s;
        int stride = s > 0 ? 2 : 1;
        for (int i = 0; i < blocks[s]; i++) {
            int st = i == 0 ? stride : 1;
            fmt(b, sizeof b, "visual.layer%d.%d.conv1.weight", s + 1, i); P(l, b, 4, planes, inplanes, 1, 1);
            fmt(b, sizeof b, "visual.layer%d.%d.bn1", s + 1, i); batch_norm(l, b, planes);
            fmt(b, sizeof b, "visual.layer%d.%d.conv2.weight", s + 1, i); P(l, b, 4, planes, planes, 3, 3);
            fmt(b, sizeof b, "visual.layer%d.%d.bn2", s + 1, i); batch_norm(l, b, planes);
            fmt(b, sizeof b, "visual.layer%d.%d.conv3.weight", s + 1, i); P(l, b, 4, planes * 4, planes, 1, 1);
            fmt(b, sizeof b, "visual.layer%d.%d.bn3", s + 1, i); batch_norm(l, b, planes * 4);
            if (st > 1 || inplanes != planes * 4) {
                /* Sequential(OrderedDict([("-1", AvgPool2d), ("0", Conv2d), ("1", BatchNorm2d)])) */
                fmt(b, sizeof b, "visual.layer%d.%d.downsample.0.weight", s + 1, i);
                P(l, b, 4, planes * 4, inplanes, 1, 1);
                fmt(b, sizeof b, "visual.layer%d.%d.downsample.1", s + 1, i); batch_norm(l, b, planes * 4);
            }
            inplanes = planes * 4;
        }
    }
    int64_t C = width * 32, sp = 224 / 32;
    P(l, "visual.attnpool.positional_embedding", 2, sp * sp + 1, C);
    static const char *proj[] = { "k_proj", "q_proj", "v_proj" };
    for (int i = 0; i < 3; i++) {
        fmt(b, sizeof b, "visual.attnpool.%s.weight", proj[i]); P(l, b, 2, C, C);
        fmt(b, sizeof b, "visual.attnpool.%s.bias", proj[i]); P(l, b, 1, C);
    }
    P(l, "visual.attnpool.c_proj.weight", 2, 1024, C);
    P(l, "visual.attnpool.c_proj.bias", 1, 1024);
    text_tower(l, 1024);
}

/* ---- a safetensors file of that layout --------------------------------- */

static int64_t numel(const key *k) {
    int64_t n = 1;
    for (int d = 0; d < k->ndim; d++) n *= k->shape[d];
    return n;
}

/* Header as the safetensors spec has it (u64 length, JSON, data); the data
 * are zeros in a sparse file. skip: a key left out; rename: {from, to}. */
static void write_layout(const char *path, const layout *l, const char *skip, const char *rename[2],
                         const char *meta_json) {
    size_t cap = 1 << 20, len = 0;
    char *h = malloc(cap);
    cr_assert(h);
    len += (size_t)snprintf(h + len, cap - len, "{");
    if (meta_json) len += (size_t)snprintf(h + len, cap - len, "\"__metadata__\":%s,", meta_json);
    int64_t off = 0;
    int first = 1;
    for (int i = 0; i < l->n; i++) {
        const key *k = &l->k[i];
        if (skip && !strcmp(k->name, skip)) continue;
        const char *name = rename && !strcmp(k->name, rename[0]) ? rename[1] : k->name;
        int64_t bytes = numel(k) * (k->i64 ? 8 : 2);
        len += (size_t)snprintf(h + len, cap - len, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", first ? "" : ",",
                                name, k->i64 ? "I64" : "F16");
        for (int d = 0; d < k->ndim; d++)
            len += (size_t)snprintf(h + len, cap - len, "%s%lld", d ? "," : "", (long long)k->shape[d]);
        len += (size_t)snprintf(h + len, cap - len, "],\"data_offsets\":[%lld,%lld]}", (long long)off,
                                (long long)(off + bytes));
        cr_assert(len < cap - 256, "header buffer");
        off += bytes;
        first = 0;
    }
    len += (size_t)snprintf(h + len, cap - len, "}");
    while (len % 8) h[len++] = ' ';
    FILE *f = fopen(path, "wb");
    cr_assert(f, "%s", path);
    uint64_t n = len;
    cr_assert_eq(fwrite(&n, 8, 1, f), 1);
    cr_assert_eq(fwrite(h, 1, len, f), len);
    cr_assert_eq(fflush(f), 0);
    cr_assert_eq(ftruncate(fileno(f), (off_t)(8 + len + (size_t)off)), 0);
    fclose(f);
    free(h);
}

static void tmp_path(char *path) {
    strcpy(path, "/tmp/cb_openai_layout_XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
}

Test(openai_layout, vit_b_32_loads_with_published_hyperparameters, .timeout = 120) {
    layout l = {0};
    vit_b_32(&l);
    /* visual: 4 tensors, ln_pre, ln_post, 12 blocks of 12; text: 4, ln_final, 12 x 12 */
    cr_assert_eq(l.n, (4 + 2 + 2 + 12 * 12) + (4 + 2 + 12 * 12), "key count of ViT-B/32 (%d)", l.n);
    char path[64];
    tmp_path(path);
    write_layout(path, &l, NULL, NULL, NULL);
    en_clip *m = en_clip_load(path);
    cr_assert(m, "OpenAI's ViT-B/32 layout: %s", en_error_msg());
    const en_clip_config *c = en_clip_get_config(m);
    cr_expect(c->vision_vit);
    cr_expect_eq(c->vision_layers[0], 12);
    cr_expect_eq(c->vision_width, 768);
    cr_expect_eq(c->vision_patch_size, 32);
    cr_expect_eq(c->vision_heads, 12);
    cr_expect_eq(c->image_resolution, 224);
    cr_expect_eq(c->embed_dim, 512);
    cr_expect_eq(c->context_length, 77);
    cr_expect_eq(c->vocab_size, 49408);
    cr_expect_eq(c->transformer_width, 512);
    cr_expect_eq(c->transformer_heads, 8);
    cr_expect_eq(c->transformer_layers, 12);
    en_clip_free(m);
    unlink(path);
    free(l.k);
}

Test(openai_layout, rn50_loads_with_published_hyperparameters, .timeout = 120) {
    layout l = {0};
    rn50(&l);
    char path[64];
    tmp_path(path);
    /* open_clip's metadata-free files and, where a writer serialised the
     * config, a ResNet's vision_patch_size as null: both count as absent. */
    write_layout(path, &l, NULL, NULL, "{\"vision_patch_size\":\"null\",\"vision_heads\":\"\"}");
    en_clip *m = en_clip_load(path);
    cr_assert(m, "OpenAI's RN50 layout: %s", en_error_msg());
    const en_clip_config *c = en_clip_get_config(m);
    cr_expect(!c->vision_vit);
    int want[4] = { 3, 4, 6, 3 };
    for (int s = 0; s < 4; s++) cr_expect_eq(c->vision_layers[s], want[s], "stage %d", s + 1);
    cr_expect_eq(c->vision_width, 64);
    cr_expect_eq(c->vision_heads, 32);
    cr_expect_eq(c->image_resolution, 224);
    cr_expect_eq(c->embed_dim, 1024);
    cr_expect_eq(c->transformer_layers, 12);
    en_clip_free(m);
    unlink(path);
    free(l.k);
}

/* Exactly that layout: one key short, or the pre-fix engine's downsample
 * numbering (conv at .1, norm at .2), is refused with the key named. */
Test(openai_layout, rn50_other_layouts_are_refused, .timeout = 120) {
    layout l = {0};
    rn50(&l);
    char path[64];
    tmp_path(path);
    write_layout(path, &l, "visual.layer2.0.downsample.0.weight", NULL, NULL);
    cr_assert_null(en_clip_load(path));
    cr_expect(strstr(en_error_msg(), "visual.layer2.0.downsample.0.weight"), "message: %s", en_error_msg());
    const char *ren[2] = { "visual.layer3.0.downsample.0.weight", "visual.layer3.0.downsample.2.weight" };
    write_layout(path, &l, NULL, ren, NULL);
    cr_assert_null(en_clip_load(path));
    cr_expect(strstr(en_error_msg(), "downsample"), "message: %s", en_error_msg());
    unlink(path);
    free(l.k);
}
