/* CLIP models from Lua (engine/en_clip.h, en_pretrain.h) — the one binding
 * of the model. Config tables use the en_clip_config field names, the names
 * checkpoint metadata uses:
 *   embed_dim, image_resolution, vision_vit (1|0 or a boolean),
 *   vision_layers (n for the ViT | {a,b,c,d} for the ResNet), vision_width,
 *   vision_patch_size, vision_heads, context_length, vocab_size,
 *   transformer_width, transformer_heads, transformer_layers,
 *   resnet_stem_stride, resnet_stem_pool
 * (defaults: a 2-layer ViT, width 64, patch 4 on 32 px; text width 64,
 * 2 layers, context 32, vocab 49408; heads and stem as en_clip_config_finish
 * derives them). An unknown key is an error, so an old name cannot be
 * silently ignored.
 *
 *   cb.clip_new(cfg [, seed]) -> model   OpenAI's initialisation, drawn from
 *                                        a generator seeded with seed, or
 *                                        from cb's own (cb.seed) without one
 *   cb.clip_load(path) -> model | nil, message     m:save(path) -> true | nil, message
 *   m:encode_image(images [, opts]) -> (N, E)       images f32 (N, 3, R, R)
 *   m:prepool(images [, opts]) -> ResNet (N, C, h, w) | ViT (N, T, W)
 *        inference: no tape, chunks of opts.chunk (256) images, CLIP's
 *        mean/std normalisation applied to images in [0,1] unless
 *        opts.normalized (en_clip_encode_images_batched); opts.precision
 *        "bf16" runs the linear layers in bfloat16 where the CPU has
 *        AVX512_BF16 (engine/en_bf16.h; "fp32", the default). opts.rows = n,
 *        opts.at = i (1-based) and opts.into = tensor write this batch into
 *        rows i.. of an n-row result (made on the first call when into is
 *        nil), so a split can be encoded batch by batch into one tensor.
 *   m:attnpool(feats)  ResNet: (N, C, h, w) -> (N, E), no tape
 *   m:encode_text(tokens i64 (N, L) [, opts]) -> (N, E), no tape; opts.precision
 *        "bf16" as above (the text transformer's linear layers)
 *   cb.bf16_unavailable() -> nil where "bf16" runs bfloat16 (AVX512_BF16),
 *        else why not (then "bf16" computes float32)
 *   m:logit_scale() -> the parameter t (0-dim tensor, a leaf)
 *   m:scale() -> exp(t), a number (what multiplies the cosines)
 *   m:train(on)   m:config() -> table (the keys above)   m:nparams()
 *   m:params() -> { name = tensor }   (the live parameters; leaves)   m:free()
 *   cb.contrastive_loss(img_feats, txt_feats, logit_scale) -> 0-dim
 *   cb.pretrain{ <config>, bpe = tok, steps=, batch=, lr=, lr_min=, warmup=,
 *                weight_decay=, grad_clip=, seed=, corpus=, state_path=,
 *                checkpoint_every=, stop_after=, caption_noise = { rates },
 *                on_step = function(log) end }
 *        (caption_noise: as cb.shapes.batch takes it; absent: exact captions)
 *        -> model, { loss = {...}, steps_done=, resumed_from=, wall_s=,
 *                    images_per_s=, interrupted= }   (vocab_size: the bpe's)
 * Models go into the memo store whole (their safetensors checkpoint bytes,
 * made and read in memory) and count as memo parameters by a hash of their
 * parameters. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "en_autograd.h"
#include "en_bf16.h"
#include "en_clip.h"
#include "en_device.h"
#include "en_error.h"
#include "en_file.h"
#include "en_pretrain.h"
#include "en_tensor.h"
#include "lx.h"
#include "lx_tensor.h"
#include "en_sha256.h"

#define CLIP_MT "clipbook.CLIP"

typedef struct { en_clip *m; } lx_clip;

en_rng *lx_rng_global(void);
void lx_bpe_check(lua_State *L, int i, en_bpe **out); /* lx_bpe.c */
int lx_caption_noise_read(lua_State *L, int t, const char *what, en_caption_noise *nz); /* lx_data.c */

static int clip_release(lua_State *L) {
    lx_clip *u = luaL_checkudata(L, 1, CLIP_MT);
    en_clip_free(u->m);
    u->m = NULL;
    return 0;
}

static en_clip *check_clip(lua_State *L, int i) {
    lx_clip *u = luaL_checkudata(L, i, CLIP_MT);
    if (!u->m) luaL_argerror(L, i, "model was freed");
    return u->m;
}

/* Saving and digests read the weights on the host: a model on a device is
 * an error naming the way back, not an abort in the engine. */
static en_clip *check_clip_cpu(lua_State *L, int i, const char *what) {
    en_clip *m = check_clip(L, i);
    en_device d = en_tensor_device(en_clip_logit_scale(m));
    if (d != EN_CPU)
        luaL_error(L, "m:%s: the model is on %s: move it back with m:to(\"cpu\") first", what, en_device_name(d));
    return m;
}

static lx_clip *new_handle(lua_State *L) {
    lx_clip *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->m = NULL;
    luaL_setmetatable(L, CLIP_MT);
    return u;
}

/* ---- config ------------------------------------------------------------ */

static const char *const config_keys[] = {
    "embed_dim", "image_resolution", "vision_vit", "vision_layers", "vision_width", "vision_patch_size",
    "vision_heads", "context_length", "vocab_size", "transformer_width", "transformer_heads",
    "transformer_layers", "resnet_stem_stride", "resnet_stem_pool", NULL,
};
static const char *const pretrain_keys[] = {
    "bpe", "steps", "batch", "lr", "lr_min", "warmup", "weight_decay", "grad_clip", "seed", "corpus",
    "state_path", "checkpoint_every", "stop_after", "caption_noise", "on_step", NULL,
};

static int in_list(const char *const *l, const char *k) {
    for (; *l; l++) if (!strcmp(*l, k)) return 1;
    return 0;
}

/* Every string key of table t must be a config key (or, with extra, one of
 * extra): an old or misspelt name is an error, not a silent default. */
static void check_keys(lua_State *L, int t, const char *const *extra) {
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) continue;
        const char *k = lua_tostring(L, -1);
        if (!in_list(config_keys, k) && !(extra && in_list(extra, k)))
            luaL_error(L, "clip: unknown config key '%s' (the keys are en_clip_config's field names)", k);
    }
}

static void read_config(lua_State *L, int t, en_clip_config *c) {
    memset(c, 0, sizeof *c);
    c->embed_dim = lx_opt_int(L, t, "embed_dim", 64, "clip");
    c->image_resolution = lx_opt_int(L, t, "image_resolution", 32, "clip");
    lua_getfield(L, t, "vision_vit");
    int boolean = lua_isboolean(L, -1), vit = lua_toboolean(L, -1);
    lua_pop(L, 1);
    c->vision_vit = boolean ? vit : lx_opt_int(L, t, "vision_vit", 1, "clip") != 0;
    lua_getfield(L, t, "vision_layers");
    if (lua_istable(L, -1)) {
        for (int i = 0; i < 4; i++) {
            lua_rawgeti(L, -1, i + 1);
            c->vision_layers[i] = (int)luaL_optinteger(L, -1, 0);
            lua_pop(L, 1);
        }
    } else {
        c->vision_layers[0] = lua_isnil(L, -1) ? 2 : (int)luaL_checkinteger(L, -1);
    }
    lua_pop(L, 1);
    c->vision_width = lx_opt_int(L, t, "vision_width", 64, "clip");
    c->vision_patch_size = lx_opt_int(L, t, "vision_patch_size", 4, "clip");
    c->vision_heads = lx_opt_int(L, t, "vision_heads", 0, "clip");
    c->context_length = lx_opt_int(L, t, "context_length", 32, "clip");
    c->vocab_size = lx_opt_int(L, t, "vocab_size", 49408, "clip");
    c->transformer_width = lx_opt_int(L, t, "transformer_width", 64, "clip");
    c->transformer_heads = lx_opt_int(L, t, "transformer_heads", 0, "clip");
    c->transformer_layers = lx_opt_int(L, t, "transformer_layers", 2, "clip");
    c->resnet_stem_stride = lx_opt_int(L, t, "resnet_stem_stride", 0, "clip");
    c->resnet_stem_pool = lx_opt_int(L, t, "resnet_stem_pool", 0, "clip");
    en_clip_config_finish(c);
}

static void push_config(lua_State *L, const en_clip_config *c) {
    lua_createtable(L, 0, 14);
#define SETI(k, v) (lua_pushinteger(L, (v)), lua_setfield(L, -2, k))
    SETI("embed_dim", c->embed_dim);
    SETI("image_resolution", c->image_resolution);
    SETI("vision_vit", c->vision_vit);
    if (c->vision_vit) lua_pushinteger(L, c->vision_layers[0]);
    else { lua_createtable(L, 4, 0); for (int i = 0; i < 4; i++) { lua_pushinteger(L, c->vision_layers[i]); lua_rawseti(L, -2, i + 1); } }
    lua_setfield(L, -2, "vision_layers");
    SETI("vision_width", c->vision_width);
    SETI("vision_patch_size", c->vision_patch_size);
    SETI("vision_heads", c->vision_heads);
    SETI("context_length", c->context_length);
    SETI("vocab_size", c->vocab_size);
    SETI("transformer_width", c->transformer_width);
    SETI("transformer_heads", c->transformer_heads);
    SETI("transformer_layers", c->transformer_layers);
    SETI("resnet_stem_stride", c->resnet_stem_stride);
    SETI("resnet_stem_pool", c->resnet_stem_pool);
#undef SETI
}

/* ---- new, load, save ----------------------------------------------------- */

static int cb_clip_new(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    check_keys(L, 1, NULL);
    en_clip_config c;
    read_config(L, 1, &c);
    en_rng own, *r = lx_rng_global();
    if (!lua_isnoneornil(L, 2)) { en_rng_seed(&own, (uint64_t)luaL_checkinteger(L, 2)); r = &own; }
    lx_clip *u = new_handle(L);
    u->m = en_clip_new(&c, r);
    if (!u->m) return luaL_argerror(L, 1, en_error_msg());  /* sizes are the caller's */
    return 1;
}

static int cb_clip_load(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    lx_clip *u = new_handle(L);
    u->m = en_clip_load(path);
    if (!u->m) { lua_pushnil(L); lua_pushstring(L, en_error_msg()); return 2; }
    return 1;
}

static int clip_save(lua_State *L) {
    en_clip *m = check_clip_cpu(L, 1, "save");
    if (en_clip_save(m, luaL_checkstring(L, 2)) < 0) { lua_pushnil(L); lua_pushstring(L, en_error_msg()); return 2; }
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- encoding (inference) ------------------------------------------------- */

static int ret(lua_State *L, en_tensor *t) {
    if (!t) return luaL_error(L, "%s", en_error_msg());
    lx_tensor_push(L, t);
    return 1;
}

/* opts.precision at index i: "fp32" (or absent) | "bf16" */
static en_precision opt_precision(lua_State *L, int i) {
    lua_getfield(L, i, "precision");
    const char *pr = lua_isnil(L, -1) ? "fp32" : lua_tostring(L, -1);
    if (!pr || (strcmp(pr, "fp32") && strcmp(pr, "bf16")))
        luaL_argerror(L, i, "precision must be \"fp32\" or \"bf16\"");
    en_precision prec = strcmp(pr, "bf16") == 0 ? EN_PREC_BF16 : EN_PREC_FP32;
    lua_pop(L, 1);
    return prec;
}

static int encode_batched(lua_State *L, int prepool) {
    en_clip *m = check_clip(L, 1);
    en_tensor *x = lx_tensor_check(L, 2);
    const en_clip_config *c = en_clip_get_config(m);
    if (x->dtype != EN_F32 || x->ndim != 4 || x->shape[1] != 3 || x->shape[2] != c->image_resolution ||
        x->shape[3] != c->image_resolution)
        return luaL_argerror(L, 2, lua_pushfstring(L, "images must be f32 (N, 3, %d, %d)", c->image_resolution,
                                                   c->image_resolution));
    int64_t n = x->shape[0];
    if (n <= 0) return luaL_argerror(L, 2, "no images");
    int opts = lua_istable(L, 3) ? 3 : 0;
    int normalized = 0;
    if (opts) { lua_getfield(L, 3, "normalized"); normalized = lua_toboolean(L, -1); lua_pop(L, 1); }
    int64_t chunk = opts ? lx_opt_int(L, 3, "chunk", 256, "encode") : 256;
    en_precision prec = opts ? opt_precision(L, 3) : EN_PREC_FP32;
    int64_t rows = opts ? lx_opt_int(L, 3, "rows", (int)n, "encode") : n, at = opts ? lx_opt_int(L, 3, "at", 1, "encode") : 1;
    if (at < 1 || at - 1 + n > rows) return luaL_argerror(L, 3, "rows at..at+N-1 must lie in 1..rows");
    int64_t dims[3], per = 1;
    int nd = en_clip_feature_dims(m, prepool, dims);
    for (int d = 0; d < nd; d++) per *= dims[d];
    en_tensor *out = NULL;
    if (opts) { lua_getfield(L, 3, "into"); out = lx_tensor_test(L, -1); }  /* anchored by opts */
    if (out) {
        if (out->dtype != EN_F32 || !en_tensor_is_contiguous(out) || out->shape[0] != rows ||
            en_tensor_numel(out) != rows * per)
            return luaL_argerror(L, 3, lua_pushfstring(L, "into must be a contiguous f32 tensor of %d rows of %d values",
                                                       (int)rows, (int)per));
        lua_pushvalue(L, -1);
    } else {
        int64_t shape[4] = {rows, dims[0], dims[1], dims[2]};
        out = en_tensor_empty(nd + 1, shape);
        lx_tensor_push(L, out);
    }
    en_tensor *xc = en_contiguous(x);
    lx_tensor_push(L, xc);
    int rc = en_clip_encode_images_precision(m, en_tensor_f32(xc), n, normalized, chunk, prepool, prec,
                                             en_tensor_f32(out) + (size_t)(at - 1) * (size_t)per);
    if (rc < 0) return luaL_error(L, "%s", en_error_msg());
    lua_pop(L, 1);
    return 1;
}

static int clip_encode_image(lua_State *L) { return encode_batched(L, 0); }
static int clip_prepool(lua_State *L) { return encode_batched(L, 1); }

static int clip_attnpool(lua_State *L) {
    en_clip *m = check_clip(L, 1);
    if (en_clip_get_config(m)->vision_vit) return luaL_argerror(L, 1, "a ViT has no attention pool");
    en_tensor *f = lx_tensor_check(L, 2);
    if (f->dtype != EN_F32 || f->ndim != 4) return luaL_argerror(L, 2, "features must be f32 (N, C, h, w)");
    int prev = en_grad_set_enabled(0);
    en_tensor *t = en_clip_attnpool(m, f);
    en_grad_set_enabled(prev);
    return ret(L, t);
}

static int clip_encode_text(lua_State *L) {
    en_clip *m = check_clip(L, 1);
    en_tensor *t = lx_tensor_check(L, 2);
    if (t->dtype != EN_I64 || t->ndim != 2) return luaL_argerror(L, 2, "tokens must be an i64 tensor (N, L)");
    const en_clip_config *c = en_clip_get_config(m);
    if (t->shape[1] > c->context_length)
        return luaL_argerror(L, 2, lua_pushfstring(L, "%d tokens per row; the model takes at most %d", (int)t->shape[1], c->context_length));
    en_tensor *tc = en_contiguous(t);
    lx_tensor_push(L, tc);
    for (int64_t k = 0; k < en_tensor_numel(tc); k++)
        if (en_tensor_i64(tc)[k] < 0 || en_tensor_i64(tc)[k] >= c->vocab_size)
            return luaL_argerror(L, 2, lua_pushfstring(L, "token %d outside the vocabulary (0..%d)", (int)en_tensor_i64(tc)[k], c->vocab_size - 1));
    en_precision prec = lua_istable(L, 3) ? opt_precision(L, 3) : EN_PREC_FP32;
    return ret(L, en_clip_encode_text_precision(m, tc, prec));
}

static int clip_logit_scale(lua_State *L) {
    en_clip *m = check_clip(L, 1);
    lx_tensor_push(L, en_tensor_retain(en_clip_logit_scale(m)));
    return 1;
}

static int clip_scale(lua_State *L) {
    en_tensor *s = en_tensor_cpu(en_clip_logit_scale(check_clip(L, 1))); /* one number, wherever it is */
    lua_pushnumber(L, exp(en_tensor_item(s)));
    en_tensor_release(s);
    return 1;
}

static int clip_train(lua_State *L) {
    en_clip_set_train(check_clip(L, 1), lua_isnoneornil(L, 2) ? 1 : lua_toboolean(L, 2));
    lua_settop(L, 1);
    return 1;
}

/* m:to("cpu"|"cuda"): the parameters (with their gradients) and the
 * batch-norm buffers move to the device in place; returns m. The forward
 * passes then run there (m:encode_image sends each chunk once and brings
 * the features back once). Training, saving and digests want the CPU. */
static int clip_to(lua_State *L) {
    en_clip *m = check_clip(L, 1);
    int d = en_device_parse(luaL_checkstring(L, 2));
    if (d < 0) return luaL_argerror(L, 2, en_error_msg());
    if (en_clip_to(m, (en_device)d) < 0) return luaL_error(L, "m:to: %s", en_error_msg());
    lua_settop(L, 1);
    return 1;
}

static int clip_device(lua_State *L) {
    lua_pushstring(L, en_device_name(en_tensor_device(en_clip_logit_scale(check_clip(L, 1)))));
    return 1;
}

static int clip_config(lua_State *L) { push_config(L, en_clip_get_config(check_clip(L, 1))); return 1; }

static int clip_nparams(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)en_params_numel(en_clip_params(check_clip(L, 1))));
    return 1;
}

static int clip_params(lua_State *L) {
    en_clip *m = check_clip(L, 1);
    en_params *p = en_clip_params(m);
    int n = en_params_count(p);
    lua_createtable(L, 0, n);
    for (int i = 0; i < n; i++) {
        lx_tensor_push(L, en_tensor_retain(en_params_get(p, i)));
        lua_setfield(L, -2, en_params_name(p, i));
    }
    return 1;
}

static int cb_contrastive_loss(lua_State *L) {
    en_tensor *a = lx_tensor_check(L, 1), *b = lx_tensor_check(L, 2), *s = lx_tensor_check(L, 3);
    if (a->dtype != EN_F32 || b->dtype != EN_F32 || s->dtype != EN_F32)
        return luaL_error(L, "contrastive_loss: expects f32 tensors");
    return ret(L, en_clip_contrastive_loss(a, b, s));
}

/* ---- memo: models as their checkpoint bytes, in memory --------------------- */

static int clip_digest(lua_State *L) {
    en_clip *m = check_clip_cpu(L, 1, "digest (memo)");
    en_params *p = en_clip_params(m);
    en_sha256 s;
    en_sha256_init(&s);
    const en_clip_config *c = en_clip_get_config(m);
    en_sha256_update(&s, c, sizeof *c);
    en_sha256_update(&s, en_params_data(p), sizeof(float) * (size_t)en_params_numel(p));
    uint8_t d[32];
    char hex[65];
    en_sha256_final(&s, d);
    en_sha256_tohex(hex, d);
    lua_pushfstring(L, "clip:%s", hex);
    return 1;
}

static int clip_pack(lua_State *L) {
    en_clip *m = check_clip_cpu(L, 1, "pack (memo)");
    void **slot = lx_box_new(L);   /* owns the bytes whatever happens next */
    size_t n;
    if (en_clip_save_mem(m, slot, &n) < 0) return luaL_error(L, "memo: %s", en_error_msg());
    lua_pushlstring(L, *slot, n);
    return 1;
}

static int clip_unpack(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    lx_clip *u = new_handle(L);
    u->m = en_clip_load_mem(s, n, "memo");
    if (!u->m) return luaL_error(L, "memo: %s", en_error_msg());
    return 1;
}

/* ---- pre-training -------------------------------------------------------- */

typedef struct { lua_State *L; int fn; int failed; } step_ctx;

/* Called from inside the engine: a Lua error must not unwind through it,
 * so the callback runs protected and its first error is raised after. */
static void on_step(void *vctx, const en_pretrain_log *g) {
    step_ctx *c = vctx;
    if (c->failed || !c->fn) return;
    lua_State *L = c->L;
    lua_pushvalue(L, c->fn);
    lua_createtable(L, 0, 8);
    lua_pushinteger(L, g->step); lua_setfield(L, -2, "step");
    lua_pushinteger(L, g->steps); lua_setfield(L, -2, "steps");
    lua_pushnumber(L, g->loss); lua_setfield(L, -2, "loss");
    lua_pushnumber(L, g->lr); lua_setfield(L, -2, "lr");
    lua_pushnumber(L, g->logit_scale); lua_setfield(L, -2, "logit_scale");
    lua_pushnumber(L, g->images_per_s); lua_setfield(L, -2, "images_per_s");
    lua_pushnumber(L, g->eta_s); lua_setfield(L, -2, "eta_s");
    lua_pushnumber(L, g->elapsed_s); lua_setfield(L, -2, "elapsed_s");
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        c->failed = 1;
        lua_setfield(L, LUA_REGISTRYINDEX, "clipbook.pretrain_error");
    }
}

static int result_gc(lua_State *L) { en_pretrain_result_free(lua_touserdata(L, 1)); return 0; }

static int cb_pretrain(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    check_keys(L, 1, pretrain_keys);
    en_pretrain_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    lua_getfield(L, 1, "bpe");
    en_bpe *bpe = NULL;
    lx_bpe_check(L, lua_gettop(L), &bpe);
    read_config(L, 1, &cfg.model);
    lua_getfield(L, 1, "vocab_size");
    if (lua_isnil(L, -1)) cfg.model.vocab_size = en_bpe_vocab_size(bpe);
    lua_pop(L, 1);
    cfg.steps = lx_opt_int(L, 1, "steps", 100, "pretrain");
    cfg.batch = lx_opt_int(L, 1, "batch", 32, "pretrain");
    cfg.warmup = lx_opt_int(L, 1, "warmup", 0, "pretrain");
    cfg.lr = lx_opt_num(L, 1, "lr", 0, "pretrain");
    cfg.lr_min = lx_opt_num(L, 1, "lr_min", 0, "pretrain");
    cfg.weight_decay = lx_opt_num(L, 1, "weight_decay", 0, "pretrain");
    cfg.grad_clip = lx_opt_num(L, 1, "grad_clip", 0, "pretrain");
    cfg.seed = (uint64_t)lx_opt_int(L, 1, "seed", 0, "pretrain");
    cfg.corpus = lx_opt_int(L, 1, "corpus", 0, "pretrain");
    cfg.checkpoint_every = lx_opt_int(L, 1, "checkpoint_every", 0, "pretrain");
    cfg.stop_after = lx_opt_int(L, 1, "stop_after", 0, "pretrain");
    if (cfg.batch < 2 || cfg.batch > 1024) return luaL_argerror(L, 1, "batch must be in 2..1024");
    en_caption_noise noise;
    lua_getfield(L, 1, "caption_noise");
    if (lx_caption_noise_read(L, -1, "pretrain", &noise)) cfg.caption_noise = &noise;
    lua_pop(L, 1);
    lua_getfield(L, 1, "state_path");
    cfg.state_path = lua_tostring(L, -1);   /* anchored: stays on the stack */
    lua_getfield(L, 1, "on_step");
    step_ctx sc = {L, lua_isfunction(L, -1) ? lua_gettop(L) : 0, 0};
    cfg.on_step = on_step;
    cfg.ctx = &sc;
    en_pretrain_defaults(&cfg);
    en_pretrain_result *r = lua_newuserdatauv(L, sizeof *r, 0);  /* freed by __gc */
    memset(r, 0, sizeof *r);
    lua_newtable(L);
    lua_pushcfunction(L, result_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lx_clip *u = new_handle(L);
    int rc = en_pretrain_run(&cfg, bpe, r);
    u->m = r->model;     /* the handle owns the model from here */
    r->model = NULL;
    if (sc.failed) {
        lua_getfield(L, LUA_REGISTRYINDEX, "clipbook.pretrain_error");
        return lua_error(L);
    }
    if (rc < 0) return luaL_error(L, "pretrain: %s", en_error_msg());
    lua_createtable(L, 0, 6);
    lua_createtable(L, r->steps_done, 0);
    for (int i = 0; i < r->steps_done; i++) { lua_pushnumber(L, r->loss[i]); lua_rawseti(L, -2, i + 1); }
    lua_setfield(L, -2, "loss");
    lua_pushinteger(L, r->steps_done); lua_setfield(L, -2, "steps_done");
    lua_pushinteger(L, r->resumed_from); lua_setfield(L, -2, "resumed_from");
    lua_pushnumber(L, r->wall_s); lua_setfield(L, -2, "wall_s");
    lua_pushnumber(L, r->images_per_s); lua_setfield(L, -2, "images_per_s");
    lua_pushboolean(L, r->interrupted); lua_setfield(L, -2, "interrupted");
    return 2;
}

static int cb_bf16_unavailable(lua_State *L) {
    const char *why = en_bf16_unavailable(); /* "" where the CPU runs bf16 */
    if (!*why) lua_pushnil(L);
    else lua_pushstring(L, why);
    return 1;
}

const luaL_Reg lx_model_functions[] = {
    {"clip_new", cb_clip_new}, {"clip_load", cb_clip_load}, {"contrastive_loss", cb_contrastive_loss},
    {"pretrain", cb_pretrain}, {"bf16_unavailable", cb_bf16_unavailable}, {NULL, NULL},
};

void lx_model_open(lua_State *L) {
    static const luaL_Reg methods[] = {
        {"encode_image", clip_encode_image}, {"encode_text", clip_encode_text},
        {"prepool", clip_prepool}, {"attnpool", clip_attnpool}, {"logit_scale", clip_logit_scale},
        {"scale", clip_scale}, {"train", clip_train}, {"config", clip_config}, {"nparams", clip_nparams},
        {"params", clip_params}, {"save", clip_save}, {"free", clip_release}, {"to", clip_to},
        {"device", clip_device}, {NULL, NULL},
    };
    if (lx_class_new(L, CLIP_MT, methods, clip_release)) {
        lua_pushcfunction(L, clip_digest); lua_setfield(L, -2, "__memo_digest");
        lua_pushcfunction(L, clip_pack); lua_setfield(L, -2, "__memo_pack");
        lua_pushliteral(L, "clip"); lua_setfield(L, -2, "__memo_type");
    }
    lua_pop(L, 1);
    lx_memo_register_unpack(L, "clip", clip_unpack);
}
