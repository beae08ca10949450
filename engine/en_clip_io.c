/* CLIP checkpoints: safetensors with OpenAI's key names. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "en_clip_internal.h"
#include "en_error.h"
#include "en_safetensors.h"

/* A metadata value, or NULL when the key is absent or says "no value":
 * writers that serialise a Python config put None as "null" or "None" (a
 * ResNet's vision_patch_size) or leave it empty; then the shapes decide, as
 * OpenAI's build_model lets them. */
static const char *meta_value(en_st_file *f, const char *key) {
    const char *v = en_st_meta_get(f, key);
    if (!v) return NULL;
    while (*v == ' ' || *v == '\t') v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
    if (n == 0 || (n == 4 && !strncmp(v, "null", 4)) || (n == 4 && !strncmp(v, "None", 4))) return NULL;
    return v;
}

static int meta_int(en_st_file *f, const char *key, int *out) {
    const char *v = meta_value(f, key);
    if (!v) return 0;
    char *end;
    long x = strtol(v, &end, 10);
    if (end == v || *end || x < 0 || x > 1 << 24) return -1;
    *out = (int)x;
    return 1;
}

static const en_st_entry *need(en_st_file *f, const char *path, const char *key, int ndim) {
    const en_st_entry *e = en_st_find(f, key);
    if (!e) return en_error("%s: no '%s': not a CLIP checkpoint with OpenAI's key names", path, key), NULL;
    if (e->ndim != ndim) return en_error("%s: '%s' has %d dimensions, expected %d", path, key, e->ndim, ndim), NULL;
    return e;
}

/* Distinct values of the dotted component `part` among keys with prefix. */
static int count_distinct(en_st_file *f, const char *prefix, int part) {
    char seen[256][32];
    int n = 0;
    size_t pl = strlen(prefix);
    for (int i = 0; i < en_st_count(f); i++) {
        const char *k = en_st_entry_at(f, i)->name;
        if (strncmp(k, prefix, pl)) continue;
        const char *s = k;
        for (int d = 0; d < part && s; d++) { s = strchr(s, '.'); if (s) s++; }
        if (!s) continue;
        char comp[32];
        size_t len = strcspn(s, ".");
        if (len >= sizeof comp) continue;
        memcpy(comp, s, len); comp[len] = 0;
        int dup = 0;
        for (int j = 0; j < n; j++) if (!strcmp(seen[j], comp)) { dup = 1; break; }
        if (!dup && n < 256) strcpy(seen[n++], comp);
    }
    return n;
}

/* OpenAI's build_model, with __metadata__ taking precedence. */
static int infer_config(en_st_file *f, const char *path, en_clip_config *c) {
    memset(c, 0, sizeof *c);
    const en_st_entry *e;
    c->vision_vit = en_st_find(f, "visual.proj") != NULL;
    if (c->vision_vit) {
        if (!(e = need(f, path, "visual.conv1.weight", 4))) return -1;
        c->vision_width = (int)e->shape[0];
        c->vision_patch_size = (int)e->shape[3];
        int layers = 0;
        for (int i = 0; i < en_st_count(f); i++) {
            const char *k = en_st_entry_at(f, i)->name;
            size_t kl = strlen(k), sl = strlen(".attn.in_proj_weight");
            if (!strncmp(k, "visual.", 7) && kl > sl && !strcmp(k + kl - sl, ".attn.in_proj_weight")) layers++;
        }
        c->vision_layers[0] = layers;
        if (!(e = need(f, path, "visual.positional_embedding", 2))) return -1;
        int grid = (int)lround(sqrt((double)(e->shape[0] - 1)));
        c->image_resolution = c->vision_patch_size * grid;
    } else {
        for (int b = 0; b < 4; b++) {
            char pre[32];
            snprintf(pre, sizeof pre, "visual.layer%d", b + 1);
            c->vision_layers[b] = count_distinct(f, pre, 2);
        }
        if (!(e = need(f, path, "visual.layer1.0.conv1.weight", 4))) return -1;
        c->vision_width = (int)e->shape[0];
        if (!(e = need(f, path, "visual.attnpool.positional_embedding", 2))) return -1;
        int out_w = (int)lround(sqrt((double)(e->shape[0] - 1)));
        c->image_resolution = out_w * 32;
    }
    if (!(e = need(f, path, "text_projection", 2))) return -1;
    c->embed_dim = (int)e->shape[1];
    if (!(e = need(f, path, "positional_embedding", 2))) return -1;
    c->context_length = (int)e->shape[0];
    if (!(e = need(f, path, "token_embedding.weight", 2))) return -1;
    c->vocab_size = (int)e->shape[0];
    if (!(e = need(f, path, "ln_final.weight", 1))) return -1;
    c->transformer_width = (int)e->shape[0];
    c->transformer_heads = c->transformer_width / 64;
    c->transformer_layers = count_distinct(f, "transformer.resblocks", 2);

    static const struct { const char *key; size_t off; } meta[] = {
        { "embed_dim", offsetof(en_clip_config, embed_dim) },
        { "image_resolution", offsetof(en_clip_config, image_resolution) },
        { "vision_width", offsetof(en_clip_config, vision_width) },
        { "vision_patch_size", offsetof(en_clip_config, vision_patch_size) },
        { "vision_heads", offsetof(en_clip_config, vision_heads) },
        { "context_length", offsetof(en_clip_config, context_length) },
        { "vocab_size", offsetof(en_clip_config, vocab_size) },
        { "transformer_width", offsetof(en_clip_config, transformer_width) },
        { "transformer_heads", offsetof(en_clip_config, transformer_heads) },
        { "transformer_layers", offsetof(en_clip_config, transformer_layers) },
        { "resnet_stem_stride", offsetof(en_clip_config, resnet_stem_stride) },
        { "resnet_stem_pool", offsetof(en_clip_config, resnet_stem_pool) },
    };
    for (size_t i = 0; i < sizeof meta / sizeof meta[0]; i++)
        if (meta_int(f, meta[i].key, (int *)((char *)c + meta[i].off)) < 0)
            return en_error("%s: metadata '%s' is not a number", path, meta[i].key);
    const char *vl = meta_value(f, "vision_layers");
    if (vl) {
        int v[4] = {0}, n = sscanf(vl, " [ %d , %d , %d , %d", &v[0], &v[1], &v[2], &v[3]);
        if (n < 1) n = sscanf(vl, "%d", &v[0]);
        if (n != 1 && n != 4) return en_error("%s: metadata 'vision_layers' = '%s' is not N or [a, b, c, d]", path, vl);
        memcpy(c->vision_layers, v, sizeof v);
    }
    if (c->vision_vit) c->vision_heads = c->vision_heads ? c->vision_heads : c->vision_width / 64;
    else if (!c->vision_heads) c->vision_heads = c->vision_width * 32 / 64;
    en_clip_config_finish(c);
    return 0;
}

static int load_into(en_st_file *f, const char *path, const char *name, en_tensor *t) {
    const en_st_entry *e = en_st_find(f, name);
    char want[64];
    en_tensor_shape_str(t, want, sizeof want);
    if (!e) return en_error("%s: missing key '%s' (expected shape %s)", path, name, want);
    int same = e->ndim == t->ndim;
    for (int d = 0; same && d < t->ndim; d++) same = e->shape[d] == t->shape[d];
    if (!same) {
        char got[64] = "[";
        for (int d = 0; d < e->ndim; d++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? ", " : "", (long long)e->shape[d]);
        strncat(got, "]", sizeof got - strlen(got) - 1);
        return en_error("%s: key '%s' has shape %s, expected %s", path, name, got, want);
    }
    if (en_st_read_f32(f, e, en_tensor_f32(t), (size_t)en_tensor_numel(t)) < 0) return -1;
    return 0;
}

static en_clip *load_from(en_st_file *f, const char *path) {
    if (!f) return NULL;
    en_clip_config c;
    en_clip *m = NULL;
    if (infer_config(f, path, &c) < 0) goto fail;
    en_rng r;
    en_rng_seed(&r, 0);
    m = en_clip_new(&c, &r);
    if (!m) { en_error_prefix("%s", path); goto fail; }
    for (int i = 0; i < en_params_count(m->p); i++)
        if (load_into(f, path, en_params_name(m->p, i), en_params_get(m->p, i)) < 0) goto fail;
    for (int i = 0; i < m->nbuf; i++)
        if (load_into(f, path, m->buf_name[i], m->buf[i]) < 0) goto fail;
    /* every entry must be used, except integer bookkeeping */
    for (int i = 0; i < en_st_count(f); i++) {
        const en_st_entry *e = en_st_entry_at(f, i);
        if (e->dtype == EN_I64 || e->dtype == EN_I32) continue;
        int known = en_params_find(m->p, e->name) != NULL;
        for (int k = 0; !known && k < m->nbuf; k++) known = !strcmp(m->buf_name[k], e->name);
        if (!known) { en_error("%s: unexpected key '%s' for this architecture", path, e->name); goto fail; }
    }
    en_st_close(f);
    return m;
fail:
    en_clip_free(m);
    en_st_close(f);
    return NULL;
}

en_clip *en_clip_load(const char *path) { return load_from(en_st_open(path), path); }

en_clip *en_clip_load_mem(const void *data, size_t len, const char *name) {
    if (!name) name = "<memory>";
    return load_from(en_st_open_mem(data, len, name), name);
}

/* path: write the file; else the bytes into *out, *len. */
static int save_to(en_clip *m, const char *path, void **out, size_t *len) {
    int np = en_params_count(m->p), n = np + m->nbuf;
    const char **names = malloc((size_t)n * sizeof *names);
    en_ndbuf *bufs = calloc((size_t)n, sizeof *bufs);
    EN_ASSERT(names && bufs);
    for (int i = 0; i < n; i++) {
        en_tensor *t = i < np ? en_params_get(m->p, i) : m->buf[i - np];
        names[i] = i < np ? en_params_name(m->p, i) : m->buf_name[i - np];
        bufs[i].dtype = EN_F32;
        bufs[i].ndim = t->ndim;
        for (int d = 0; d < t->ndim; d++) bufs[i].shape[d] = t->shape[d];
        bufs[i].data = en_tensor_f32(t);
        bufs[i].nbytes = (size_t)en_tensor_numel(t) * sizeof(float);
    }
    const en_clip_config *c = &m->cfg;
    char vals[13][48];
    const char *keys[13] = { "embed_dim", "image_resolution", "vision_layers", "vision_width",
                             "vision_patch_size", "vision_heads", "context_length", "vocab_size",
                             "transformer_width", "transformer_heads", "transformer_layers",
                             "resnet_stem_stride", "resnet_stem_pool" };
    int nm = c->vision_vit ? 11 : 13;
    snprintf(vals[0], 48, "%d", c->embed_dim);
    snprintf(vals[1], 48, "%d", c->image_resolution);
    if (c->vision_vit) snprintf(vals[2], 48, "%d", c->vision_layers[0]);
    else snprintf(vals[2], 48, "[%d, %d, %d, %d]", c->vision_layers[0], c->vision_layers[1], c->vision_layers[2], c->vision_layers[3]);
    snprintf(vals[3], 48, "%d", c->vision_width);
    snprintf(vals[4], 48, "%d", c->vision_vit ? c->vision_patch_size : 0);
    snprintf(vals[5], 48, "%d", c->vision_heads);
    snprintf(vals[6], 48, "%d", c->context_length);
    snprintf(vals[7], 48, "%d", c->vocab_size);
    snprintf(vals[8], 48, "%d", c->transformer_width);
    snprintf(vals[9], 48, "%d", c->transformer_heads);
    snprintf(vals[10], 48, "%d", c->transformer_layers);
    snprintf(vals[11], 48, "%d", c->resnet_stem_stride);
    snprintf(vals[12], 48, "%d", c->resnet_stem_pool);
    const char *vp[13];
    for (int i = 0; i < 13; i++) vp[i] = vals[i];
    int rc = path ? en_st_write(path, n, names, bufs, nm, keys, vp)
                  : en_st_write_mem(out, len, n, names, bufs, nm, keys, vp);
    free(names); free(bufs);
    return rc;
}

int en_clip_save(en_clip *m, const char *path) { return save_to(m, path, NULL, NULL); }
int en_clip_save_mem(en_clip *m, void **out, size_t *len) { return save_to(m, NULL, out, len); }
